//! Where the SDK reads its environment from.
//!
//! Metadata detection and configuration from the environment never call
//! [`std::env::var`] or read `/var/run/...` directly: they go through an [`Environment`], which is
//! the real process environment and file system by default and an in-memory map plus a temporary
//! directory in tests. Tests therefore never mutate the process environment.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::limits::MAX_FILE_BYTES;

/// A source of environment variables and files, injectable for tests.
///
/// [`Environment::process()`] (the default) reads the real process environment and file system.
/// [`Environment::from_vars`] builds an isolated one, optionally rooted in a directory with
/// [`Environment::with_root`], so that a test can simulate a Kubernetes pod, a VM or a laptop
/// without touching the process. The host name is the operating system's unless one is injected
/// with [`Environment::with_hostname`].
///
/// ```
/// use vortex_client::Environment;
///
/// let env = Environment::from_vars([("POD_NAME", "api-7d4f9b8c-abc12"), ("POD_NAMESPACE", "payments")])
///     .with_hostname("api-7d4f9b8c-abc12");
/// assert_eq!(env.var("POD_NAME").as_deref(), Some("api-7d4f9b8c-abc12"));
/// assert_eq!(env.var("HOME"), None);
/// assert_eq!(env.hostname().as_deref(), Some("api-7d4f9b8c-abc12"));
/// ```
#[derive(Clone)]
pub struct Environment {
    vars: Vars,
    root: PathBuf,
    host: Host,
}

#[derive(Clone)]
enum Host {
    /// Ask the operating system.
    Os,
    /// An injected name (tests, simulations).
    Fixed(Arc<OsString>),
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
            host: Host::Os,
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
            host: Host::Os,
        }
    }

    /// An environment with no variables and a file system root that holds nothing the SDK reads.
    /// The host name is still the operating system's; inject one with
    /// [`Environment::with_hostname`].
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

    /// The same variables and files, with `hostname` standing in for the operating system's host
    /// name, so that a test can simulate a pod (the host name is the pod's name), a pod with
    /// `hostNetwork: true` (the host name is the node's), a laptop or a VM.
    ///
    /// An empty name simulates a machine whose host name cannot be read; a name that is not
    /// valid UTF-8 (possible on Unix) is ignored like the operating system's would be.
    ///
    /// ```
    /// use vortex_client::Environment;
    ///
    /// let laptop = Environment::empty().with_hostname("dev-laptop");
    /// assert_eq!(laptop.hostname().as_deref(), Some("dev-laptop"));
    /// assert_eq!(Environment::empty().with_hostname("").hostname(), None);
    /// ```
    #[must_use]
    pub fn with_hostname(mut self, hostname: impl Into<OsString>) -> Self {
        self.host = Host::Fixed(Arc::new(hostname.into()));
        self
    }

    /// The host name: the injected one, else the operating system's. `None` when it cannot be
    /// read, is not valid UTF-8, or is blank. Never panics.
    #[must_use]
    pub fn hostname(&self) -> Option<String> {
        let raw = match &self.host {
            Host::Os => hostname::get().ok()?,
            Host::Fixed(name) => OsString::clone(name),
        };
        let Ok(name) = raw.into_string() else {
            tracing::debug!("the host name is not valid UTF-8; not using it");
            return None;
        };
        trimmed_non_blank(&name)
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
    /// Returns `None` when it is missing, unreadable, not UTF-8, blank, larger than 4 KiB, or
    /// when the path holds a `..` component.
    #[must_use]
    pub fn read_small_file(&self, path: &str) -> Option<String> {
        // `..` could leave the root an injected environment is confined to.
        if Path::new(path)
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return None;
        }
        let full = self.resolve(path);
        let file = std::fs::File::open(full).ok()?;
        let mut text = String::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .ok()?;
        if text.len() as u64 > MAX_FILE_BYTES {
            return None;
        }
        trimmed_non_blank(&text)
    }

    fn resolve(&self, path: &str) -> PathBuf {
        let relative = Path::new(path.trim_start_matches('/'));
        self.root.join(relative)
    }
}

/// `text` without surrounding whitespace; `None` when nothing is left.
fn trimmed_non_blank(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
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
        let host = match &self.host {
            Host::Os => "os",
            Host::Fixed(_) => "injected",
        };
        f.debug_struct("Environment")
            .field("vars", &vars)
            .field("root", &self.root)
            .field("hostname", &host)
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
        // No way out of the root.
        assert_eq!(env.read_small_file("/var/../var/run/ns"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn debug_hides_values() {
        let env = Environment::from_vars([("VORTEX_TOKEN", "s3cret")]).with_hostname("secret-host");
        let shown = format!("{env:?}");
        assert!(!shown.contains("s3cret"));
        assert!(!shown.contains("secret-host"));
        assert!(shown.contains("injected"));
    }

    #[test]
    fn injected_hostname_replaces_the_os_one() {
        let env = Environment::empty().with_hostname("  node-1\n");
        assert_eq!(env.hostname().as_deref(), Some("node-1"));
        assert_eq!(Environment::empty().with_hostname(" ").hostname(), None);
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_hostname_is_ignored_without_panic() {
        use std::os::unix::ffi::OsStringExt;
        let env = Environment::empty().with_hostname(OsString::from_vec(vec![b'h', 0xff, b'x']));
        assert_eq!(env.hostname(), None);
    }
}
