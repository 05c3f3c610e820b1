//! An axum service that embeds the heartbeat client: the shape to copy into your own service.
//!
//! - the client comes from the environment (`VORTEX_URL`, `VORTEX_APP`, `VORTEX_PROFILE`, ...)
//!   and lives in the application state, so it keeps reporting for as long as the service runs;
//! - `POST /reload` takes the new configuration version as a plain-text body and reports it;
//! - `GET /drift` answers the client's status as JSON; `GET /healthz` answers `ok`;
//! - Ctrl-C or SIGTERM stops the HTTP server, then the heartbeat client, then exits 0.
//!
//! ```text
//! VORTEX_URL=http://vortex-config:8888 VORTEX_APP=payment-service VORTEX_PROFILE=production \
//!     cargo run --example service            # SERVICE_ADDR=127.0.0.1:8080 by default
//! curl --data v2.3.5 http://127.0.0.1:8080/reload
//! curl http://127.0.0.1:8080/drift
//! ```

use std::future::Future;
use std::io;
use std::process::ExitCode;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use vortex_client::{HeartbeatClient, HeartbeatStatus};

/// Where the service listens unless `SERVICE_ADDR` (or the first argument) says otherwise.
const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// What the handlers share. The client is a cheap handle (`Clone`); holding one here keeps
/// the heartbeat running: dropping the last handle stops reporting.
#[derive(Clone)]
struct AppState {
    heartbeat: HeartbeatClient,
}

#[tokio::main]
async fn main() -> ExitCode {
    // The SDK reports a wrong URL, a rejected token or an outage only through `tracing`:
    // without a subscriber those errors are invisible.
    tracing_subscriber::fmt::init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}"); // e.g. invalid environment variable VORTEX_URL=...
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // First, so that a stop request that comes while the service starts is honoured.
    let shutdown = shutdown_signal()?;

    // The version of the configuration the service loaded at startup; the rest (server URL,
    // app, profile, interval, ...) comes from VORTEX_* variables.
    let heartbeat = HeartbeatClient::builder().config_version("v1").build()?;

    let listener = tokio::net::TcpListener::bind(listen_addr()).await?;
    // Once the service can serve: returns at once, the first report goes out in the background.
    heartbeat.start().await;
    // On stdout, so that a script (or a test) can find the port when SERVICE_ADDR ends in :0.
    println!("listening on http://{}", listener.local_addr()?);

    let app = router(AppState {
        heartbeat: heartbeat.clone(),
    });
    // Stops accepting on the signal and lets requests in flight finish.
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;

    // Last, once no handler can change the version any more, and even if serving failed: lets
    // a report in flight finish (within `stop_grace`, 1 s by default), then sends nothing.
    heartbeat.stop().await;
    Ok(served?)
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/reload", post(reload))
        .route("/drift", get(drift))
        .route("/healthz", get(healthz))
        .with_state(state)
}

/// `SERVICE_ADDR`, else the first argument, else 127.0.0.1:8080.
fn listen_addr() -> String {
    std::env::var("SERVICE_ADDR")
        .ok()
        .or_else(|| std::env::args().nth(1))
        .unwrap_or_else(|| DEFAULT_ADDR.to_string())
}

/// `POST /reload` with the new version as the body (`curl --data v2.3.5 .../reload`).
///
/// Stands in for a real reload: load the configuration, then report the version that is now
/// in use. The report goes out within moments, in the background.
async fn reload(State(state): State<AppState>, body: String) -> (StatusCode, String) {
    let version = body.trim(); // `echo v2 | curl --data-binary @-` sends a trailing newline
    match state.heartbeat.try_set_config_version(version) {
        Ok(()) => (StatusCode::OK, format!("reporting {version}\n")),
        // An empty, over-long or control-character version: say what is wrong.
        Err(e) => (StatusCode::BAD_REQUEST, format!("{e}\n")),
    }
}

/// `GET /drift`: the whole status rather than only the drift facts, so that an operator who
/// sees `"drift_detected": null` (unknown) also sees why, in `last_error`.
async fn drift(State(state): State<AppState>) -> Json<HeartbeatStatus> {
    Json(state.heartbeat.status())
}

/// `GET /healthz`: liveness only. It deliberately ignores the heartbeat: an outage of the
/// Vortex server must not make an orchestrator restart every instance of the service.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Resolves on Ctrl-C, or on SIGTERM (what Kubernetes, systemd and `docker stop` send).
///
/// The handlers are installed now, not when the future is first polled: from here on these
/// signals no longer kill the process outright but start a graceful shutdown.
#[cfg(unix)]
fn shutdown_signal() -> io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// Resolves on Ctrl-C (Windows has no SIGTERM).
#[cfg(not(unix))]
fn shutdown_signal() -> io::Result<impl Future<Output = ()>> {
    let mut ctrl_c = tokio::signal::windows::ctrl_c()?;
    Ok(async move {
        ctrl_c.recv().await;
    })
}
