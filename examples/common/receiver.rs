//! A minimal in-process Vortex Config drift endpoint for the examples: it implements
//! `POST /api/drift/heartbeat/{app}/{profile}` as the server's contract describes, with an
//! expected version that the example can change. Not a server to deploy: a stand-in so that
//! the examples run anywhere without one.
#![allow(dead_code)]

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use parking_lot::Mutex;
use serde_json::{json, Value};

#[derive(Default)]
struct Shared {
    expected: Mutex<Option<String>>,
    last: Mutex<Option<Value>>,
    count: Mutex<u64>,
}

/// A running demo endpoint on 127.0.0.1.
pub struct DemoServer {
    /// Base URL to give the client.
    pub url: String,
    shared: Arc<Shared>,
}

impl DemoServer {
    /// Starts the endpoint on a free loopback port, expecting `expected`.
    pub async fn start(expected: Option<&str>) -> std::io::Result<DemoServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared::default());
        *shared.expected.lock() = expected.map(str::to_owned);
        let app = Router::new()
            .route("/api/drift/heartbeat/{app}/{profile}", post(heartbeat))
            .with_state(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(DemoServer { url, shared })
    }

    /// Changes the version the server expects (as an operator rolling out a config would).
    pub fn expect(&self, version: &str) {
        *self.shared.expected.lock() = Some(version.to_owned());
    }

    /// The last report received, as JSON.
    pub fn last_report(&self) -> Option<Value> {
        self.shared.last.lock().clone()
    }

    /// Reports received so far.
    pub fn reports(&self) -> u64 {
        *self.shared.count.lock()
    }
}

async fn heartbeat(
    State(shared): State<Arc<Shared>>,
    Path((_app, _profile)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Json<Value> {
    let expected = shared.expected.lock().clone();
    let reported = body["config_version"].as_str().map(str::to_owned);
    let drift = expected.is_some() && expected != reported;
    *shared.last.lock() = Some(body);
    *shared.count.lock() += 1;
    Json(json!({
        "registered": true,
        "expected_version": expected,
        "drift_detected": drift,
    }))
}
