//! https against a local TLS receiver whose certificate comes from a CA generated at test
//! time: trusted with `add_root_certificate(pem)`, a clear permanent error without it.
#![cfg(any(feature = "rustls", feature = "rustls-ring"))]

// Every test installs a log capturer, also those that assert nothing about logs (see main.rs).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::support::{self, capture_logs};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use vortex_client::testing::MockServer;
use vortex_client::{Disposition, HeartbeatBuilder, HeartbeatClient, ReporterError};

const WITHIN: Duration = Duration::from_secs(5);

/// A private CA and a server certificate it signed.
struct Pki {
    ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
}

fn private_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn pki(names: &[&str]) -> Pki {
    let ca = private_ca("vortex-client test CA");
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = params.signed_by(&key, &ca).unwrap();
    Pki {
        ca_pem: ca.pem(),
        chain: vec![leaf.der().clone()],
        key: PrivatePkcs8KeyDer::from(key.serialize_der()),
    }
}

/// A TLS heartbeat receiver on 127.0.0.1 (one thread, one connection at a time): answers every
/// complete request with the contract's 200; counts connections and answered requests.
struct TlsReceiver {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    answered: Arc<AtomicUsize>,
}

impl TlsReceiver {
    fn start(pki: &Pki) -> TlsReceiver {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(pki.chain.clone(), PrivateKeyDer::Pkcs8(pki.key.clone_key()))
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let answered = Arc::new(AtomicUsize::new(0));
        let (c, a) = (connections.clone(), answered.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                c.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_read_timeout(Some(WITHIN));
                let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                    continue;
                };
                let mut tls = rustls::StreamOwned::new(conn, stream);
                if read_request(&mut tls).is_some() {
                    let body =
                        br#"{"registered":true,"expected_version":"v-tls","drift_detected":false}"#;
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = tls.write_all(head.as_bytes());
                    let _ = tls.write_all(body);
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                    a.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        TlsReceiver {
            addr,
            connections,
            answered,
        }
    }

    fn url(&self) -> String {
        format!("https://{}", self.addr)
    }
}

/// Reads one request (head and Content-Length body); `None` when the handshake or the read
/// failed.
fn read_request(stream: &mut impl Read) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while data.len() < end + 4 + length {
                let n = stream.read(&mut buf).ok()?;
                if n == 0 {
                    return None;
                }
                data.extend_from_slice(&buf[..n]);
            }
            return Some(data);
        }
    }
}

/// No detection: only what a test sets reaches the report and the log.
fn builder(url: &str) -> HeartbeatBuilder<HeartbeatClient> {
    support::client(url).disable_auto_detect()
}

#[tokio::test]
async fn a_private_ca_is_trusted_once_added() {
    let _logs = capture_logs();
    let pki = pki(&["localhost", "127.0.0.1"]);
    let rx = TlsReceiver::start(&pki);
    let client = builder(&rx.url())
        .add_root_certificate(pki.ca_pem.clone())
        .build()
        .unwrap();
    let response = client.report_now().await.unwrap();
    assert_eq!(response.expected_version.as_deref(), Some("v-tls"));
    // By name too.
    let by_name = builder(&format!("https://localhost:{}", rx.addr.port()))
        .add_root_certificate(pki.ca_pem.clone())
        .build()
        .unwrap();
    by_name.report_now().await.unwrap();
    // A bundle holding another CA as well works; so does adding the CA twice.
    let bundle = format!("{}{}", private_ca("another CA").pem(), pki.ca_pem);
    let client = builder(&rx.url())
        .add_root_certificate(bundle)
        .add_root_certificate(pki.ca_pem.as_bytes())
        .build()
        .unwrap();
    client.report_now().await.unwrap();
    assert_eq!(rx.answered.load(Ordering::SeqCst), 3);
}

async fn assert_permanent_tls_error(client: &HeartbeatClient, rx: &TlsReceiver) -> ReporterError {
    let before = rx.connections.load(Ordering::SeqCst);
    let err = client.report_now().await.unwrap_err();
    assert!(matches!(err, ReporterError::Tls { .. }), "{err:?}");
    assert_eq!(err.disposition(), Disposition::Permanent, "{err}");
    assert!(err.to_string().contains("add_root_certificate"), "{err}");
    // Permanent: one attempt, no retries (max_retries is 3).
    assert_eq!(rx.connections.load(Ordering::SeqCst), before + 1);
    assert_eq!(rx.answered.load(Ordering::SeqCst), 0);
    err
}

#[tokio::test]
async fn without_the_ca_the_error_is_permanent_and_says_what_to_do() {
    let _logs = capture_logs();
    let pki = pki(&["localhost", "127.0.0.1"]);
    let rx = TlsReceiver::start(&pki);
    let client = builder(&rx.url()).build().unwrap();
    assert_permanent_tls_error(&client, &rx).await;
    // Another CA does not help.
    let client = builder(&rx.url())
        .add_root_certificate(private_ca("another CA").pem())
        .build()
        .unwrap();
    assert_permanent_tls_error(&client, &rx).await;
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let _logs = capture_logs();
    let pki = pki(&["vortex.example"]);
    let rx = TlsReceiver::start(&pki);
    let client = builder(&rx.url())
        .add_root_certificate(pki.ca_pem.clone())
        .build()
        .unwrap();
    let err = assert_permanent_tls_error(&client, &rx).await;
    let text = err.to_string().to_lowercase();
    assert!(
        text.contains("name") || text.contains("certificate"),
        "{text}"
    );
}

#[tokio::test]
async fn https_to_a_plain_http_server_is_a_tls_error() {
    let _logs = capture_logs();
    let rx = MockServer::start().await.unwrap();
    let client = builder(&format!("https://{}", rx.addr())).build().unwrap();
    let err = client.report_now().await.unwrap_err();
    assert!(matches!(err, ReporterError::Tls { .. }), "{err:?}");
    assert_eq!(err.disposition(), Disposition::Permanent);
    assert!(err.to_string().contains("http://"), "{err}");
}

/// The background worker logs the permanent TLS error once, with the hint, and keeps its
/// normal interval instead of retrying.
#[tokio::test(flavor = "current_thread")]
async fn the_worker_logs_the_tls_error_once() {
    let (logs, _guard) = capture_logs();
    let pki = pki(&["127.0.0.1"]);
    let rx = TlsReceiver::start(&pki);
    let client = builder(&rx.url())
        .interval(Duration::from_millis(50))
        .build()
        .unwrap();
    client.start().await;
    let mut status = client.subscribe();
    tokio::time::timeout(WITHIN, status.wait_for(|s| s.reports_failed >= 3))
        .await
        .unwrap()
        .unwrap();
    client.stop().await;
    let errors = logs.lines("ERROR", "add_root_certificate");
    assert_eq!(errors.len(), 1, "{}", logs.text());
    assert!(logs.lines("WARN", "retrying").is_empty(), "{}", logs.text());
}

/// The child half of `works_without_system_ca_certificates`, which runs this binary again
/// with `--ignored --exact tls::child_without_system_roots` in an environment whose
/// certificate variables point at nothing, so that the platform verifier finds no system roots
/// (as in a minimal container). Run on its own (`--ignored`) it fails rather than pass: with the
/// machine's roots it would check nothing that matters.
#[cfg(target_os = "linux")]
#[tokio::test]
#[ignore = "the child half of tls::works_without_system_ca_certificates, which runs it without system CA certificates: cargo test --all-features --test logs tls::works_without_system_ca_certificates"]
async fn child_without_system_roots() {
    let _logs = capture_logs();
    assert!(
        std::env::var_os("VORTEX_TEST_NO_SYSTEM_ROOTS").is_some(),
        "run by works_without_system_ca_certificates only: cargo test --all-features --test logs tls::works_without_system_ca_certificates"
    );
    // http needs no CA certificates at all.
    let rx = MockServer::start().await.unwrap();
    builder(&rx.url())
        .build()
        .unwrap()
        .report_now()
        .await
        .unwrap();
    // https with a private CA needs only that CA.
    let pki = pki(&["127.0.0.1"]);
    let tls = TlsReceiver::start(&pki);
    builder(&tls.url())
        .add_root_certificate(pki.ca_pem.clone())
        .build()
        .unwrap()
        .report_now()
        .await
        .unwrap();
    // https with nothing to trust: a ConfigError that says what is missing.
    let err = builder(&tls.url()).build().unwrap_err();
    assert!(
        matches!(err, vortex_client::ConfigError::Http(_)),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("ca-certificates") && text.contains("add_root_certificate"),
        "{text}"
    );
    println!("CHILD CHECKS PASSED");
}

#[cfg(target_os = "linux")]
#[test]
fn works_without_system_ca_certificates() {
    let _logs = capture_logs();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "tls::child_without_system_roots",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("VORTEX_TEST_NO_SYSTEM_ROOTS", "1")
        .env("SSL_CERT_FILE", "/nonexistent/vortex-client/ca.pem")
        .env("SSL_CERT_DIR", "/nonexistent/vortex-client/certs")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("CHILD CHECKS PASSED"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
