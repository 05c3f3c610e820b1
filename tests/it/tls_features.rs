//! HTTPS end to end, with whichever TLS feature the crate is built with (`rustls` on aws-lc-rs,
//! `rustls-ring`): a loopback receiver whose certificate comes from a throwaway CA in
//! `tests/certs/` (valid for 127.0.0.1 and localhost for a century; loopback only).
#![cfg(any(feature = "rustls", feature = "rustls-ring"))]

use std::net::SocketAddr;
use std::sync::Arc;

use crate::support::client;
use axum::routing::post;
use axum::Router;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use vortex_client::{Disposition, ReporterError};

const CA_PEM: &str = include_str!("../certs/ca.pem");
const SERVER_PEM: &str = include_str!("../certs/server.pem");
const SERVER_KEY: &str = include_str!("../certs/server.key");

struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            if let Ok((tcp, addr)) = self.tcp.accept().await {
                // A client that rejects the certificate fails the handshake: keep accepting.
                if let Ok(tls) = self.acceptor.accept(tcp).await {
                    return (tls, addr);
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// Starts an https receiver that answers every heartbeat; returns its base URL.
async fn https_receiver() -> String {
    #[cfg(feature = "rustls")]
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(not(feature = "rustls"))]
    let provider = rustls::crypto::ring::default_provider();
    let certs = CertificateDer::pem_slice_iter(SERVER_PEM.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY.as_bytes()).unwrap();
    let config = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let listener = TlsListener {
        tcp: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        acceptor: TlsAcceptor::from(Arc::new(config)),
    };
    let url = format!("https://{}", listener.tcp.local_addr().unwrap());
    let app = Router::new().route(
        "/api/drift/heartbeat/{app}/{profile}",
        post(|| async {
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                r#"{"registered":true,"expected_version":"v2","drift_detected":true}"#,
            )
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

async fn reports_over_https_with_a_private_ca() {
    let url = https_receiver().await;
    let client = client(&url)
        .disable_auto_detect()
        .add_root_certificate(CA_PEM)
        .build()
        .unwrap();
    let answer = client.report_now().await.unwrap();
    assert!(answer.registered);
    assert_eq!(answer.expected_version.as_deref(), Some("v2"));
    assert!(answer.drift_detected);
}

both_runtimes!(reports_over_https_with_a_private_ca);

#[tokio::test]
async fn an_untrusted_certificate_is_a_permanent_tls_error() {
    let url = https_receiver().await;
    let client = client(&url)
        .disable_auto_detect()
        .max_retries(1)
        .build()
        .unwrap();
    let error = client.report_now().await.unwrap_err();
    assert!(
        matches!(error, ReporterError::Tls { .. }),
        "expected a TLS error, got {error:?}"
    );
    assert_eq!(error.disposition(), Disposition::Permanent);
    assert!(
        error.to_string().contains("add_root_certificate"),
        "{error}"
    );
}

#[tokio::test]
async fn a_malformed_root_certificate_is_a_config_error() {
    let error = client("https://127.0.0.1:9")
        .add_root_certificate("not a certificate")
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("root_certificates"), "{error}");
}
