//! Where the SDK reads its environment from: variables, the host name and a few small files,
//! always through an [`Environment`], so that a test injects one instead of changing the
//! process's.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::limits::MAX_FILE_BYTES;

/// Where the SDK reads environment variables, the host name and files from: the process
/// ([`process`](Self::process), the default), or variables a test gives
/// ([`from_vars`](Self::from_vars), [`empty`](Self::empty)), so that the developer's own
/// `VORTEX_*`, `OTEL_*` and proxy variables stay out of the test.
///
/// An injected environment reads no files. Its host name is its `HOSTNAME` variable (as a
/// container runtime sets it), else the operating system's.
///
/// ```
/// use vortex_client::{Environment, HeartbeatConfig};
///
/// let laptop = Environment::from_vars([
///     ("VORTEX_URL", "http://localhost:8888"),
///     ("VORTEX_APP", "billing"),
///     ("VORTEX_PROFILE", "test"),
///     ("HOSTNAME", "dev-laptop"),
/// ]);
/// let config = HeartbeatConfig::builder().environment(laptop).build()?;
/// assert!(config.instance_id.starts_with("dev-laptop-")); // the host name and a random suffix
/// # Ok::<(), vortex_client::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Environment {
    /// The injected variables; `None`: the process's.
    vars: Option<Arc<BTreeMap<String, String>>>,
    /// Where absolute paths are read below; `None`: no files.
    root: Option<PathBuf>,
    /// Stands in for the host name (unit tests: an empty or non-UTF-8 one).
    host: Option<Arc<OsString>>,
}

impl Environment {
    /// The real process environment and the real file system.
    #[must_use]
    pub fn process() -> Self {
        Self {
            vars: None,
            root: Some(PathBuf::from("/")),
            host: None,
        }
    }

    /// An environment holding exactly these variables, and no files.
    #[must_use]
    pub fn from_vars<K, V, I>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars = vars.into_iter().map(|(k, v)| (k.into(), v.into()));
        Self {
            vars: Some(Arc::new(vars.collect())),
            root: None,
            host: None,
        }
    }

    /// An environment with no variables and no files.
    #[must_use]
    pub fn empty() -> Self {
        Self::from_vars(std::iter::empty::<(String, String)>())
    }

    /// Reads absolute paths below `root`.
    #[cfg(test)]
    pub(crate) fn with_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = Some(root.into());
        self
    }

    /// `hostname` stands in for the host name; an empty one is a host name that cannot be read.
    #[cfg(test)]
    pub(crate) fn with_hostname(mut self, hostname: impl Into<OsString>) -> Self {
        self.host = Some(Arc::new(hostname.into()));
        self
    }

    /// The host name, trimmed; `None` when it cannot be read, is not UTF-8, or is blank.
    pub(crate) fn hostname(&self) -> Option<String> {
        let injected = self.vars.as_ref().and_then(|_| self.var("HOSTNAME"));
        let raw = match (&self.host, injected) {
            (Some(name), _) => OsString::clone(name),
            (None, Some(name)) => name.into(),
            (None, None) => hostname::get().ok()?,
        };
        let Ok(name) = raw.into_string() else {
            tracing::debug!("the host name is not valid UTF-8; not using it");
            return None;
        };
        trimmed_non_blank(&name)
    }

    /// The value of a variable, if it is set, is valid UTF-8 and is not blank.
    pub(crate) fn var(&self, name: &str) -> Option<String> {
        // No variable has such a name, and the standard library may panic on one.
        if name.is_empty() || name.contains(['=', '\0']) {
            return None;
        }
        let value = match &self.vars {
            None => std::env::var(name).ok()?,
            Some(map) => map.get(name)?.clone(),
        };
        (!value.trim().is_empty()).then_some(value)
    }

    /// A small text file at an absolute `path` below the root, trimmed; `None` when it is
    /// missing, unreadable, not UTF-8, blank, over [`MAX_FILE_BYTES`], or the path holds `..`
    /// (which could leave the root).
    pub(crate) fn read_small_file(&self, path: &str) -> Option<String> {
        let path = Path::new(path.trim_start_matches('/'));
        if path.components().any(|c| c == Component::ParentDir) {
            return None;
        }
        let file = std::fs::File::open(self.root.as_ref()?.join(path)).ok()?;
        let mut text = String::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .ok()?;
        trimmed_non_blank(&text).filter(|_| text.len() as u64 <= MAX_FILE_BYTES)
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
        match &self.vars {
            None => f.write_str("Environment(process)"),
            Some(vars) => write!(f, "Environment({} injected variables)", vars.len()),
        }
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
        let root = Root::new();
        let ns = root.0.join("var/run");
        std::fs::create_dir_all(&ns).unwrap();
        std::fs::write(ns.join("ns"), "payments\n").unwrap();
        std::fs::write(ns.join("big"), vec![b'a'; 5000]).unwrap();
        let env = Environment::empty().with_root(&root.0);
        assert_eq!(
            env.read_small_file("/var/run/ns").as_deref(),
            Some("payments")
        );
        assert_eq!(env.read_small_file("/var/run/big"), None);
        assert_eq!(env.read_small_file("/var/run/missing"), None);
        // No way out of the root.
        assert_eq!(env.read_small_file("/var/../var/run/ns"), None);
        // An injected environment reads no files.
        assert_eq!(Environment::empty().read_small_file("/etc/hostname"), None);
        // Endless, binary or odd files are refused, not slurped.
        let process = Environment::process();
        for path in ["/dev/zero", "/dev/urandom", "/", "/nonexistent/\0/x"] {
            assert_eq!(process.read_small_file(path), None, "{path}");
        }
    }

    /// Hostile variable names, paths and roots: `None`, never a panic.
    #[test]
    fn hostile_names_and_paths_do_not_panic() {
        let long = "y".repeat(1 << 20);
        let lossy = String::from_utf8_lossy(&[0xff, 0xfe, 0x80, b'a', 0xc0]).into_owned();
        let strings = [
            "", " ", "\0", "a\0b", "=", "a=b", "\n", "..", "../..", "a/b", "é", "🦀",
        ];
        let strings = strings.into_iter().chain([lossy.as_str(), long.as_str()]);
        let injected = Environment::from_vars(strings.clone().map(|s| (s, s)));
        for s in strings {
            let _ = (Environment::process().var(s), injected.var(s));
            let _ = Environment::process().read_small_file(s);
            let rooted = Environment::empty().with_root(s);
            let _ = (
                rooted.read_small_file("/etc/hostname"),
                format!("{rooted:?}"),
            );
        }
    }

    #[test]
    fn debug_hides_values() {
        let env = Environment::from_vars([("VORTEX_TOKEN", "s3cret"), ("HOSTNAME", "secret-host")]);
        let shown = format!("{env:?}");
        assert!(!shown.contains("s3cret"));
        assert!(!shown.contains("secret-host"));
        assert!(shown.contains("injected"));
    }

    #[test]
    fn an_injected_hostname_replaces_the_os_one() {
        let env = Environment::from_vars([("HOSTNAME", "  node-1\n")]);
        assert_eq!(env.hostname().as_deref(), Some("node-1"));
        let env = env.with_hostname("node-2");
        assert_eq!(env.hostname().as_deref(), Some("node-2"));
        assert_eq!(Environment::empty().with_hostname(" ").hostname(), None);
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_hostname_is_ignored_without_panic() {
        use std::os::unix::ffi::OsStringExt;
        let env = Environment::empty().with_hostname(OsString::from_vec(vec![b'h', 0xff, b'x']));
        assert_eq!(env.hostname(), None);
    }

    /// A directory standing in for `/`, removed when dropped.
    struct Root(PathBuf);

    impl Root {
        fn new() -> Root {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("vortex-env-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Root(dir)
        }

        /// A root holding the service-account namespace file Kubernetes mounts in every pod.
        fn with_namespace(namespace: &str) -> Root {
            let root = Root::new();
            root.write_namespace(namespace);
            root
        }

        fn write_namespace(&self, namespace: &str) {
            let file = self.0.join(NAMESPACE_FILE);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, format!("{namespace}\n")).unwrap();
        }
    }

    impl Drop for Root {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Detection of what only the host tells (the namespace file, the host name), seen
    /// through a client, as a report carries it. Moved here from `tests/it/metadata.rs`, where
    /// an environment can no longer have files or an unusable host name.
    mod detection {
        use super::*;
        use crate::{HeartbeatClient, InstanceMetadata};

        const K8S: (&str, &str) = ("KUBERNETES_SERVICE_HOST", "10.96.0.1");

        fn machine(vars: &[(&str, &str)], root: &Root, host: &str) -> Environment {
            Environment::from_vars(vars.iter().copied())
                .with_root(&root.0)
                .with_hostname(host)
        }

        fn client(env: Environment) -> HeartbeatClient {
            HeartbeatClient::builder()
                .environment(env)
                .server_url("http://127.0.0.1:9")
                .app("a")
                .profile("p")
                .build()
                .unwrap()
        }

        /// The instance id and the metadata a client on `env` reports.
        async fn detect(env: Environment) -> (String, InstanceMetadata) {
            let client = client(env);
            let metadata = InstanceMetadata::clone(&*client.metadata().await);
            (client.config().instance_id.clone(), metadata)
        }

        #[tokio::test]
        async fn a_pod_without_the_downward_api_uses_the_hostname_and_the_namespace_file() {
            let root = Root::with_namespace("payments");
            let (id, meta) = detect(machine(&[K8S], &root, "api-7d4f9b8c-abc12")).await;
            assert_eq!(id, "api-7d4f9b8c-abc12");
            assert_eq!(meta.hostname.as_deref(), Some("api-7d4f9b8c-abc12"));
            assert_eq!(meta.kubernetes_pod.as_deref(), Some("api-7d4f9b8c-abc12"));
            assert_eq!(meta.kubernetes_namespace.as_deref(), Some("payments"));
        }

        #[tokio::test]
        async fn variables_and_otel_beat_the_namespace_file() {
            let root = Root::with_namespace("from-file");
            for (var, value) in [
                ("POD_NAMESPACE", "payments"),
                ("KUBERNETES_NAMESPACE", "payments"),
                ("OTEL_RESOURCE_ATTRIBUTES", "k8s.namespace.name=payments"),
            ] {
                let (_, meta) = detect(machine(&[K8S, (var, value)], &root, "api-0")).await;
                assert_eq!(
                    meta.kubernetes_namespace.as_deref(),
                    Some("payments"),
                    "{var}"
                );
            }
        }

        #[tokio::test]
        async fn a_host_network_pod_keeps_the_node_as_hostname_but_not_as_the_pod() {
            let root = Root::with_namespace("ingress");
            let node = [K8S, ("NODE_NAME", "node-eu-1a-7")];
            let (first, meta) = detect(machine(&node, &root, "node-eu-1a-7")).await;
            let (second, _) = detect(machine(&node, &root, "node-eu-1a-7")).await;
            assert_eq!(meta.hostname.as_deref(), Some("node-eu-1a-7"));
            assert_eq!(meta.kubernetes_namespace.as_deref(), Some("ingress"));
            assert_eq!(meta.kubernetes_pod, None);
            // Two such pods on one node must not share an instance id.
            assert!(first.starts_with("node-eu-1a-7-"), "{first}");
            assert_ne!(first, second);
            // With the downward API, the pod is known.
            let pod = [node[0], node[1], ("POD_NAME", "ingress-x9k2p")];
            let (id, meta) = detect(machine(&pod, &root, "node-eu-1a-7")).await;
            assert_eq!(id, "ingress-x9k2p");
            assert_eq!(meta.hostname.as_deref(), Some("node-eu-1a-7"));
            assert_eq!(meta.kubernetes_namespace.as_deref(), Some("ingress"));
        }

        #[tokio::test]
        async fn the_file_and_the_hostname_count_only_inside_kubernetes() {
            // A VM that happens to have the file (e.g. a copied image) but is no pod.
            let root = Root::with_namespace("stale");
            let (id, meta) = detect(machine(&[], &root, "vm-billing-03")).await;
            assert_eq!(meta.kubernetes_pod, None);
            assert_eq!(meta.kubernetes_namespace, None);
            assert_eq!(meta.hostname.as_deref(), Some("vm-billing-03"));
            assert!(id.starts_with("vm-billing-03-"), "{id}");
        }

        #[tokio::test]
        async fn an_oversized_or_hostile_namespace_file_is_ignored() {
            for namespace in ["n".repeat(64 * 1024), "bad\u{1b}[31mnamespace".into()] {
                let root = Root::with_namespace(&namespace);
                let (_, meta) = detect(machine(&[K8S], &root, "api-0")).await;
                assert_eq!(meta.kubernetes_namespace, None);
                assert_eq!(meta.kubernetes_pod.as_deref(), Some("api-0"));
            }
        }

        #[tokio::test]
        async fn detection_is_cached_for_the_life_of_the_client() {
            let root = Root::with_namespace("payments");
            let pod = || machine(&[K8S], &root, "api-0");
            let client = client(pod());
            let first = client.metadata().await;
            assert_eq!(first.kubernetes_namespace.as_deref(), Some("payments"));
            // The file changes: this client does not read it again...
            root.write_namespace("moved");
            assert_eq!(client.metadata().await, first);
            // ...while a new client detects afresh (so the file really is what detection reads).
            let (_, fresh) = detect(pod()).await;
            assert_eq!(fresh.kubernetes_namespace.as_deref(), Some("moved"));
        }

        #[cfg(unix)]
        #[tokio::test]
        async fn a_non_utf8_hostname_is_left_out_without_failing() {
            use std::os::unix::ffi::OsStringExt;
            let root = Root::new();
            let odd = OsString::from_vec(vec![b'h', 0xff, b'x']);
            let env = Environment::from_vars([("AWS_REGION", "eu-west-1")])
                .with_root(&root.0)
                .with_hostname(odd);
            let (id, meta) = detect(env).await;
            assert_eq!(meta.hostname, None);
            assert_eq!(meta.region.as_deref(), Some("eu-west-1"));
            assert!(id.starts_with("instance-"), "{id}");
        }
    }

    /// Where Kubernetes mounts the pod's namespace, below a root.
    const NAMESPACE_FILE: &str = "var/run/secrets/kubernetes.io/serviceaccount/namespace";
}
