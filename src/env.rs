//! Where the SDK reads its environment from.
//!
//! Metadata detection and configuration from the environment never call
//! [`std::env::var`] or read `/var/run/...` directly: they go through an [`Environment`], which is
//! the real process environment and file system by default and an in-memory map plus a temporary
//! directory in tests. Tests therefore never mutate the process environment.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The largest file the SDK reads during detection (a Kubernetes namespace file is a few bytes).
pub(crate) const MAX_FILE_BYTES: u64 = 4096;

/// A source of environment variables and files, injectable for tests.
///
/// [`Environment::process()`] (the default) reads the real process environment and file system.
/// [`Environment::from_vars`] builds an isolated one, optionally rooted in a directory with
/// [`Environment::with_root`], so that a test can simulate a Kubernetes pod, a VM or a laptop
/// without touching the process.
///
/// ```
/// use vortex_client::Environment;
///
/// let env = Environment::from_vars([("POD_NAME", "api-7d4f9b8c-abc12"), ("POD_NAMESPACE", "payments")]);
/// assert_eq!(env.var("POD_NAME").as_deref(), Some("api-7d4f9b8c-abc12"));
/// assert_eq!(env.var("HOME"), None);
/// ```
#[derive(Clone)]
pub struct Environment {
    vars: Vars,
    root: PathBuf,
}

#[derive(Clone)]
enum Vars {
    Process,
    Map(Arc<BTreeMap<String, String>>),
}

impl Environment {
    /// The real process environment and the real file system (root `/`).
    #[must_use]
    pub fn process() -> Self {
        Self {
            vars: Vars::Process,
            root: PathBuf::from("/"),
        }
    }

    /// An isolated environment holding exactly these variables, with the real file system root.
    /// Combine with [`Environment::with_root`] to isolate files too.
    #[must_use]
    pub fn from_vars<K, V, I>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: Vars::Map(Arc::new(
                vars.into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            )),
            root: PathBuf::from("/"),
        }
    }

    /// An environment with no variables and a file system root that holds nothing the SDK reads.
    #[must_use]
    pub fn empty() -> Self {
        Self::from_vars(std::iter::empty::<(String, String)>())
            .with_root("/nonexistent-vortex-client-root")
    }

    /// The same variables, with absolute paths such as
    /// `/var/run/secrets/kubernetes.io/serviceaccount/namespace` read below `root` instead of `/`.
    #[must_use]
    pub fn with_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = root.into();
        self
    }

    /// The value of a variable, if it is set, is valid UTF-8 and is not blank.
    #[must_use]
    pub fn var(&self, name: &str) -> Option<String> {
        // No variable has such a name, and the standard library may panic on one.
        if name.is_empty() || name.contains(['=', '\0']) {
            return None;
        }
        let value = match &self.vars {
            Vars::Process => std::env::var(name).ok()?,
            Vars::Map(map) => map.get(name)?.clone(),
        };
        if value.trim().is_empty() {
            None
        } else {
            Some(value)
        }
    }

    /// Reads a small text file at an absolute `path`, resolved below this environment's root.
    /// Returns `None` when it is missing, unreadable, not UTF-8, blank, or larger than 4 KiB.
    #[must_use]
    pub fn read_small_file(&self, path: &str) -> Option<String> {
        let full = self.resolve(path);
        let file = std::fs::File::open(full).ok()?;
        let mut text = String::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .ok()?;
        if text.len() as u64 > MAX_FILE_BYTES {
            return None;
        }
        let trimmed = text.trim();
        if trimmed.is_empty() {
            None
        } else {
            Some(trimmed.to_owned())
        }
    }

    fn resolve(&self, path: &str) -> PathBuf {
        let relative = Path::new(path.trim_start_matches('/'));
        self.root.join(relative)
    }
}

impl Default for Environment {
    fn default() -> Self {
        Self::process()
    }
}

impl fmt::Debug for Environment {
    // Variable values may hold secrets: show only where they come from.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let vars = match &self.vars {
            Vars::Process => "process".to_owned(),
            Vars::Map(map) => format!("{} injected variables", map.len()),
        };
        f.debug_struct("Environment")
            .field("vars", &vars)
            .field("root", &self.root)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_values_count_as_unset() {
        let env = Environment::from_vars([("A", "  "), ("B", "x")]);
        assert_eq!(env.var("A"), None);
        assert_eq!(env.var("B").as_deref(), Some("x"));
    }

    #[test]
    fn files_resolve_below_the_root_and_are_bounded() {
        let dir = std::env::temp_dir().join(format!("vortex-env-test-{}", std::process::id()));
        let ns = dir.join("var/run");
        std::fs::create_dir_all(&ns).unwrap();
        std::fs::write(ns.join("ns"), "payments\n").unwrap();
        std::fs::write(ns.join("big"), vec![b'a'; 5000]).unwrap();
        let env = Environment::empty().with_root(&dir);
        assert_eq!(
            env.read_small_file("/var/run/ns").as_deref(),
            Some("payments")
        );
        assert_eq!(env.read_small_file("/var/run/big"), None);
        assert_eq!(env.read_small_file("/var/run/missing"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn debug_hides_values() {
        let env = Environment::from_vars([("VORTEX_TOKEN", "s3cret")]);
        assert!(!format!("{env:?}").contains("s3cret"));
    }
}
