//! Instance metadata detection, observed in the report bodies the mock server gets on loopback.
//!
//! Every environment is injected (`Environment::from_vars`, its `HOSTNAME` standing in for the
//! host name): no test reads or changes the process environment. Servers live on loopback only.
//! What only files or an unusable host name tell is covered by the unit tests of `src/env.rs`.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use crate::support::in_ci;
use serde_json::{json, Value};
use vortex_client::testing::MockServer;
use vortex_client::{Environment, HeartbeatBuilder, HeartbeatClient, InstanceMetadata};

/// The longest detected metadata value (docs/metadata.md).
const MAX_LABEL_VALUE_LEN: usize = 1024;

/// An environment holding `vars`, on a machine called `hostname`.
fn env(vars: &[(&str, &str)], hostname: &str) -> Environment {
    Environment::from_vars(vars.iter().copied().chain([("HOSTNAME", hostname)]))
}

/// Not `support::client`: no instance id, since detection derives it from `env`.
fn builder(rx: &MockServer, env: Environment) -> HeartbeatBuilder<HeartbeatClient> {
    HeartbeatClient::builder()
        .server_url(rx.url())
        .app("payment-service")
        .profile("production")
        .config_version("v1")
        .environment(env)
}

/// Builds the client, makes one report and returns the body the receiver got.
async fn report(rx: &MockServer, builder: HeartbeatBuilder<HeartbeatClient>) -> Value {
    let client = builder.build().expect("valid configuration");
    report_with(rx, &client).await
}

async fn report_with(rx: &MockServer, client: &HeartbeatClient) -> Value {
    let before = rx.report_count();
    client.report_now().await.expect("report accepted");
    let reports = rx
        .wait_for_reports(before + 1, Duration::from_secs(5))
        .await
        .unwrap();
    reports[before].json()
}

/// A mock server on this loopback address.
async fn start_on(addr: &str) -> MockServer {
    let addr: SocketAddr = addr.parse().unwrap();
    MockServer::builder().bind(addr).start().await.unwrap()
}

/// The kernel's source address for the route to `target` (what `ip route get` shows).
fn route_source(target: IpAddr) -> IpAddr {
    let any: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0".parse().unwrap()
    } else {
        "[::]:0".parse().unwrap()
    };
    let socket = UdpSocket::bind(any).unwrap();
    socket.connect(SocketAddr::new(target, 9)).unwrap();
    socket.local_addr().unwrap().ip()
}

/// The loopback route source for 127.0.0.1, as the body shows it.
fn loopback_source() -> String {
    route_source("127.0.0.1".parse().unwrap()).to_string()
}

/// True when a listener can bind `addr` (an IP and port 0), i.e. the address is local. When it
/// cannot, the test fails if `required` or in CI (`CI` set), and is otherwise skipped with a
/// message saying why: false.
fn local_address_or_skip(addr: &str, required: bool, test: &str) -> bool {
    let Err(error) = std::net::TcpListener::bind(addr) else {
        return true;
    };
    let why = format!("{test} needs {addr} to be a local address: {error}");
    assert!(!required, "{why}");
    assert!(!in_ci(), "{why} (required in CI: CI is set)");
    eprintln!("SKIPPED {why}");
    false
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

#[tokio::test]
async fn pod_with_downward_api_reports_pod_namespace_and_pod_ip() {
    let rx = MockServer::start().await.unwrap();
    let pod = env(
        &[
            ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
            ("POD_NAME", "payment-service-7d4f9b8c-abc12"),
            ("POD_NAMESPACE", "payments"),
            ("POD_IP", "10.42.3.17"),
        ],
        "payment-service-7d4f9b8c-abc12",
    );
    let body = report(&rx, builder(&rx, pod)).await;
    assert_eq!(body["instance_id"], "payment-service-7d4f9b8c-abc12");
    assert_eq!(
        body["metadata"],
        json!({
            "hostname": "payment-service-7d4f9b8c-abc12",
            "ip_address": "10.42.3.17",
            "kubernetes_pod": "payment-service-7d4f9b8c-abc12",
            "kubernetes_namespace": "payments",
        })
    );
}

#[tokio::test]
async fn pod_without_downward_api_uses_the_hostname_as_the_pod() {
    let rx = MockServer::start().await.unwrap();
    let pod = env(
        &[("KUBERNETES_SERVICE_HOST", "10.96.0.1")],
        "payment-service-7d4f9b8c-abc12",
    );
    let body = report(&rx, builder(&rx, pod)).await;
    assert_eq!(body["instance_id"], "payment-service-7d4f9b8c-abc12");
    assert_eq!(
        body["metadata"],
        json!({
            "hostname": "payment-service-7d4f9b8c-abc12",
            "ip_address": loopback_source(),
            "kubernetes_pod": "payment-service-7d4f9b8c-abc12",
        })
    );
}

#[tokio::test]
async fn pod_and_namespace_variables_are_tried_in_order() {
    let rx = MockServer::start().await.unwrap();
    let pods = ["POD_NAME", "MY_POD_NAME", "KUBERNETES_POD_NAME"];
    let namespaces = ["POD_NAMESPACE", "MY_POD_NAMESPACE", "KUBERNETES_NAMESPACE"];
    for first in 0..pods.len() {
        let mut vars = vec![("KUBERNETES_SERVICE_HOST", "10.96.0.1")];
        vars.extend(pods[first..].iter().map(|v| (*v, *v)));
        vars.extend(namespaces[first..].iter().map(|v| (*v, *v)));
        let body = report(&rx, builder(&rx, env(&vars, "the-hostname"))).await;
        assert_eq!(body["metadata"]["kubernetes_pod"], pods[first]);
        assert_eq!(body["metadata"]["kubernetes_namespace"], namespaces[first]);
        assert_eq!(body["instance_id"], pods[first]);
    }
}

#[tokio::test]
async fn host_network_pod_keeps_the_node_as_hostname_and_the_pod_from_the_downward_api() {
    let rx = MockServer::start().await.unwrap();
    // hostNetwork: true: the container's host name is the node's, and so is POD_IP.
    let host_network = env(
        &[
            ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
            ("POD_NAME", "ingress-controller-x9k2p"),
            ("POD_IP", "10.0.12.5"),
            ("NODE_NAME", "node-eu-1a-7"),
        ],
        "node-eu-1a-7",
    );
    let body = report(&rx, builder(&rx, host_network)).await;
    assert_eq!(body["instance_id"], "ingress-controller-x9k2p");
    assert_eq!(
        body["metadata"],
        json!({
            "hostname": "node-eu-1a-7",
            "ip_address": "10.0.12.5",
            "kubernetes_pod": "ingress-controller-x9k2p",
        })
    );
}

#[tokio::test]
async fn host_network_pod_without_pod_name_does_not_report_the_node_as_the_pod() {
    let rx = MockServer::start().await.unwrap();
    let host_network = || {
        env(
            &[
                ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
                ("NODE_NAME", "node-eu-1a-7"),
            ],
            "node-eu-1a-7",
        )
    };
    let first = report(&rx, builder(&rx, host_network())).await;
    let second = report(&rx, builder(&rx, host_network())).await;
    assert_eq!(first["metadata"]["hostname"], "node-eu-1a-7");
    assert!(first["metadata"].get("kubernetes_pod").is_none(), "{first}");
    // Two such pods on one node must not share an instance id.
    let (a, b) = (
        first["instance_id"].as_str().unwrap(),
        second["instance_id"].as_str().unwrap(),
    );
    assert!(a.starts_with("node-eu-1a-7-"), "{a}");
    assert_ne!(a, b);
}

#[tokio::test]
async fn the_hostname_is_a_pod_only_inside_kubernetes() {
    let rx = MockServer::start().await.unwrap();
    let vm = env(&[], "vm-billing-03");
    let body = report(&rx, builder(&rx, vm)).await;
    let meta = &body["metadata"];
    assert!(meta.get("kubernetes_pod").is_none(), "{meta}");
    assert!(meta.get("kubernetes_namespace").is_none(), "{meta}");
    assert_eq!(meta["hostname"], "vm-billing-03");
}

// ---------------------------------------------------------------------------------------------
// Laptops, VMs, clouds

#[tokio::test]
async fn laptop_reports_hostname_and_the_route_to_the_server() {
    let rx = MockServer::start().await.unwrap();
    let laptop = env(&[("HOME", "/home/dev")], "dev-laptop");
    let body = report(&rx, builder(&rx, laptop)).await;
    assert_eq!(
        body["metadata"],
        json!({ "hostname": "dev-laptop", "ip_address": loopback_source() })
    );
    let id = body["instance_id"].as_str().unwrap();
    let suffix = id.strip_prefix("dev-laptop-").expect(id);
    assert_eq!(suffix.len(), 8, "{id}");
}

#[tokio::test]
async fn instance_id_is_stable_for_the_client() {
    let rx = MockServer::start().await.unwrap();
    let client = builder(&rx, env(&[], "dev-laptop")).build().unwrap();
    let first = report_with(&rx, &client).await;
    client.set_config_version("v2");
    let second = report_with(&rx, &client).await;
    assert_eq!(first["instance_id"], second["instance_id"]);
    assert_eq!(second["config_version"], "v2");
}

#[tokio::test]
async fn region_variables_are_tried_in_order() {
    let rx = MockServer::start().await.unwrap();
    let regions = [
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "FLY_REGION",
        "REGION_NAME",
        "CLOUD_REGION",
        "REGION",
    ];
    for first in 0..regions.len() {
        let vars: Vec<_> = regions[first..].iter().map(|v| (*v, *v)).collect();
        let body = report(&rx, builder(&rx, env(&vars, "vm-1"))).await;
        assert_eq!(body["metadata"]["region"], regions[first]);
    }
}

#[tokio::test]
async fn app_version_comes_from_the_environment_unless_set() {
    let rx = MockServer::start().await.unwrap();
    let vm = || env(&[("APP_VERSION", "1.8.0")], "vm-1");
    let detected = report(&rx, builder(&rx, vm())).await;
    assert_eq!(detected["metadata"]["app_version"], "1.8.0");
    let explicit = report(&rx, builder(&rx, vm()).app_version("2.0.0")).await;
    assert_eq!(explicit["metadata"]["app_version"], "2.0.0");
}

// ---------------------------------------------------------------------------------------------
// OpenTelemetry resource attributes and precedence

#[tokio::test]
async fn otel_resource_attributes_beat_the_other_sources() {
    let rx = MockServer::start().await.unwrap();
    let vars = [
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=ignored, host.name=otel-host ,host.ip=10.1.1.1,cloud.region=otel-region,\
             k8s.pod.name=otel-pod,k8s.namespace.name=otel-ns,service.version=3.1.4",
        ),
        ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
        ("POD_NAME", "env-pod"),
        ("POD_NAMESPACE", "env-ns"),
        ("POD_IP", "10.2.2.2"),
        ("AWS_REGION", "env-region"),
        ("APP_VERSION", "0.0.1"),
    ];
    let body = report(&rx, builder(&rx, env(&vars, "os-host"))).await;
    assert_eq!(
        body["metadata"],
        json!({
            "hostname": "otel-host",
            "ip_address": "10.1.1.1",
            "region": "otel-region",
            "kubernetes_pod": "otel-pod",
            "kubernetes_namespace": "otel-ns",
            "app_version": "3.1.4",
        })
    );
    assert_eq!(body["instance_id"], "otel-pod");
}

#[tokio::test]
async fn explicit_values_beat_otel_which_beats_the_environment() {
    let rx = MockServer::start().await.unwrap();
    let vars = [
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "host.name=otel-host,cloud.region=otel-region,service.version=3.1.4",
        ),
        ("AWS_REGION", "env-region"),
        ("APP_VERSION", "0.0.1"),
        ("POD_IP", "10.2.2.2"),
    ];
    let explicit = InstanceMetadata {
        hostname: Some("explicit-host".into()),
        ..InstanceMetadata::default()
    };
    let body = report(
        &rx,
        builder(&rx, env(&vars, "os-host"))
            .instance_metadata(explicit)
            .app_version("9.9.9")
            .metadata("team", "platform"),
    )
    .await;
    assert_eq!(
        body["metadata"],
        json!({
            "hostname": "explicit-host",          // explicit > OTEL > OS
            "ip_address": "10.2.2.2",             // env (nothing above it)
            "region": "otel-region",              // OTEL > env
            "app_version": "9.9.9",               // explicit > OTEL > env
            "custom": { "team": "platform" },
        })
    );
    assert!(body["instance_id"]
        .as_str()
        .unwrap()
        .starts_with("explicit-host-"));
}

#[tokio::test]
async fn otel_values_are_percent_decoded() {
    let rx = MockServer::start().await.unwrap();
    let vars = [(
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.version=1.0%2Bbuild%2C7,host.name=caf%C3%A9%20host,cloud.region=eu+west",
    )];
    let body = report(&rx, builder(&rx, env(&vars, "os-host"))).await;
    assert_eq!(body["metadata"]["app_version"], "1.0+build,7");
    assert_eq!(body["metadata"]["hostname"], "café host");
    // Percent-decoding, not form-decoding: `+` stays.
    assert_eq!(body["metadata"]["region"], "eu+west");
}

#[tokio::test]
async fn malformed_otel_attributes_are_ignored_whole_with_a_warning() {
    let (logs, _guard) = crate::support::capture_logs();
    let rx = MockServer::start().await.unwrap();
    for malformed in [
        "host.name=otel-host,cloud.region",        // an entry without '='
        "host.name=otel-host,cloud.region=%E2%82", // truncated UTF-8
        "host.name=otel-host,cloud.region=eu west 1", // raw spaces must be encoded
        "host.name=otel-host,=eu-west-1",          // empty key
        "host.name=otel-host,cloud.region=%zz",    // broken escape
    ] {
        let vars = [
            ("OTEL_RESOURCE_ATTRIBUTES", malformed),
            ("AWS_REGION", "env-region"),
        ];
        let body = report(&rx, builder(&rx, env(&vars, "os-host"))).await;
        // The well-formed first entry is discarded too: the whole value is ignored.
        assert_eq!(body["metadata"]["hostname"], "os-host", "{malformed}");
        assert_eq!(body["metadata"]["region"], "env-region", "{malformed}");
    }
    let warnings = logs.lines("WARN", "OTEL_RESOURCE_ATTRIBUTES");
    assert_eq!(warnings.len(), 5, "{}", logs.text());
    assert!(warnings[0].contains("entry 2"), "{}", warnings[0]);
    assert!(
        !logs.text().contains("otel-host"),
        "values are not logged: {}",
        logs.text()
    );
}

#[tokio::test]
async fn disable_auto_detect_sends_only_explicit_values() {
    let rx = MockServer::start().await.unwrap();
    let everything = || {
        env(
            &[
                (
                    "OTEL_RESOURCE_ATTRIBUTES",
                    "host.name=otel-host,service.version=3",
                ),
                ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
                ("POD_NAMESPACE", "payments"),
                ("POD_IP", "10.2.2.2"),
                ("AWS_REGION", "eu-west-1"),
                ("APP_VERSION", "1.0"),
            ],
            "api-0",
        )
    };
    let body = report(
        &rx,
        builder(&rx, everything())
            .disable_auto_detect()
            .instance_id("api-0")
            .app_version("2.0")
            .metadata("team", "platform"),
    )
    .await;
    assert_eq!(
        body["metadata"],
        json!({ "app_version": "2.0", "custom": { "team": "platform" } })
    );
    let bare = report(
        &rx,
        builder(&rx, everything())
            .disable_auto_detect()
            .instance_id("api-0"),
    )
    .await;
    assert!(bare.get("metadata").is_none(), "{bare}");
}

/// The pairs of an OpenTelemetry `Resource` built in code rank below explicit values and above
/// the environment's `OTEL_RESOURCE_ATTRIBUTES` and every other source.
#[tokio::test]
async fn resource_attributes_given_in_code_rank_between_explicit_values_and_the_environment() {
    let rx = MockServer::start().await.unwrap();
    let vars = [
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "host.name=otel-host,cloud.region=otel-region,k8s.namespace.name=otel-ns",
        ),
        ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
        ("POD_NAME", "env-pod"),
        ("POD_IP", "10.2.2.2"),
        ("APP_VERSION", "0.0.1"),
    ];
    let code = [
        ("host.name", "code-host"),
        ("cloud.region", "code-region"),
        ("k8s.pod.name", "code-pod"),
        ("service.version", "1.8.0"),
        ("host.ip", "not\nan address"), // unusable: left out, the next source is used
        ("telemetry.sdk.language", "rust"), // not a metadata field
    ];
    let client = builder(&rx, env(&vars, "os-host"))
        .resource_attributes(code)
        .app_version("9.9.9")
        .build()
        .unwrap();
    // The configuration shows them as explicit values: what will be sent.
    assert_eq!(
        client.config().metadata.hostname.as_deref(),
        Some("code-host")
    );
    let body = report_with(&rx, &client).await;
    assert_eq!(
        body["metadata"],
        json!({
            "hostname": "code-host",          // code > OTEL > OS
            "ip_address": "10.2.2.2",         // unusable code value: POD_IP
            "region": "code-region",          // code > OTEL
            "kubernetes_pod": "code-pod",     // code > POD_NAME
            "kubernetes_namespace": "otel-ns", // not in code: OTEL
            "app_version": "9.9.9",           // explicit > code
        })
    );
    // The pod name given in code is the generated instance id.
    assert_eq!(body["instance_id"], "code-pod");
    // Values given in code are the application's own: sent without detection too.
    let bare = report(
        &rx,
        builder(&rx, env(&vars, "os-host"))
            .resource_attributes([("host.name", "code-host")])
            .disable_auto_detect(),
    )
    .await;
    assert_eq!(bare["metadata"], json!({ "hostname": "code-host" }));
}

// ---------------------------------------------------------------------------------------------
// A hostile environment cannot make the body invalid

#[tokio::test]
async fn unusable_values_are_dropped_and_the_next_source_is_used() {
    let rx = MockServer::start().await.unwrap();
    let too_long = "r".repeat(MAX_LABEL_VALUE_LEN + 1);
    let vars = [
        ("OTEL_RESOURCE_ATTRIBUTES", "host.name=evil%0Ahost"),
        ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
        ("POD_NAME", "pod\u{7}"),
        ("MY_POD_NAME", "api-0"),
        ("AWS_REGION", too_long.as_str()),
        ("AWS_DEFAULT_REGION", "eu-west-1"),
        ("APP_VERSION", "1.0\r\nX-Injected: yes"),
    ];
    let body = report(&rx, builder(&rx, env(&vars, "api-0"))).await;
    assert_eq!(body["instance_id"], "api-0");
    assert_eq!(
        body["metadata"],
        json!({
            "hostname": "api-0",
            "ip_address": loopback_source(),
            "region": "eu-west-1",
            "kubernetes_pod": "api-0",
        })
    );
}

#[tokio::test]
async fn maximal_detected_values_still_fit_the_request() {
    let rx = MockServer::start().await.unwrap();
    // Quotes and backslashes double in JSON: six such values would not fit the reserve.
    let quotes = "\"".repeat(MAX_LABEL_VALUE_LEN);
    let backslashes = "\\".repeat(MAX_LABEL_VALUE_LEN);
    let vars = [
        ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
        ("POD_NAME", quotes.as_str()),
        ("POD_NAMESPACE", backslashes.as_str()),
        ("POD_IP", quotes.as_str()),
        ("AWS_REGION", quotes.as_str()),
        ("APP_VERSION", quotes.as_str()),
    ];
    // Custom labels take the request close to what the client accepts at build time, which
    // leaves a fixed reserve for detected metadata.
    let mut near_the_limit = builder(&rx, env(&vars, &backslashes)).instance_id("api-0");
    for i in 0..23 {
        near_the_limit = near_the_limit.metadata(format!("k{i:02}"), "x".repeat(1000));
    }
    let client = near_the_limit.build().expect("explicit metadata fits");
    let body = report_with(&rx, &client).await;
    let sent = serde_json::to_vec(&body).unwrap().len();
    assert!(sent <= 32 * 1024, "{sent}"); // the request cap, docs/security.md
    let meta = body["metadata"].as_object().unwrap();
    assert_eq!(meta["custom"].as_object().unwrap().len(), 23);
    // Some detected values had to go, and the ones that fit were kept.
    let detected = meta.len() - 1;
    assert!(
        (1..6).contains(&detected),
        "{detected} detected values sent"
    );
}

// ---------------------------------------------------------------------------------------------
// ip_address: the route to the configured server decides

#[tokio::test]
async fn ip_address_is_the_source_of_the_route_to_the_server() {
    // Linux routes all of 127.0.0.0/8 to `lo`, so 127.0.0.2 is always there; other systems
    // (macOS) may have 127.0.0.1 only.
    let required = cfg!(target_os = "linux");
    if !local_address_or_skip(
        "127.0.0.2:0",
        required,
        "ip_address_is_the_source_of_the_route_to_the_server",
    ) {
        return;
    }
    let rx = start_on("127.0.0.2:0").await;
    let body = report(&rx, builder(&rx, env(&[], "multi-homed"))).await;
    let ip: IpAddr = body["metadata"]["ip_address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(ip, route_source("127.0.0.2".parse().unwrap()));
    // The route to a loopback server leaves from loopback, never from the machine's other
    // interfaces (which is what asking the route to a fixed public address would give).
    assert!(ip.is_loopback(), "{ip}");
}

#[tokio::test]
async fn ip_address_follows_the_server_over_ipv6() {
    // A machine (or container) with IPv6 turned off has no ::1.
    if !local_address_or_skip("[::1]:0", false, "ip_address_follows_the_server_over_ipv6") {
        return;
    }
    let rx = start_on("[::1]:0").await;
    let body = report(&rx, builder(&rx, env(&[], "dual-stack"))).await;
    assert_eq!(body["metadata"]["ip_address"], "::1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_address_resolves_a_server_host_name() {
    let rx = MockServer::start().await.unwrap();
    let by_name = builder(&rx, env(&[], "dev-laptop"))
        .server_url(format!("http://localhost:{}", rx.addr().port()));
    let body = report(&rx, by_name).await;
    let ip: IpAddr = body["metadata"]["ip_address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ip.is_loopback(), "{ip}");
}

#[tokio::test]
async fn explicit_and_pod_ip_beat_the_route() {
    let rx = MockServer::start().await.unwrap();
    let pod_ip = env(&[("POD_IP", "10.42.3.17")], "api-0");
    let body = report(&rx, builder(&rx, pod_ip.clone())).await;
    assert_eq!(body["metadata"]["ip_address"], "10.42.3.17");
    let explicit = InstanceMetadata {
        ip_address: Some("192.0.2.10".into()),
        ..InstanceMetadata::default()
    };
    let body = report(&rx, builder(&rx, pod_ip).instance_metadata(explicit)).await;
    assert_eq!(body["metadata"]["ip_address"], "192.0.2.10");
}

// ---------------------------------------------------------------------------------------------
// Detection happens once per client
