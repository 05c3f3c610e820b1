//! The mock server's request handler: route, check the body against the server's model, record,
//! answer as scripted; and the read side's JSON.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{
    HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE,
};
use hyper::{HeaderMap, Request, Response, StatusCode};
use serde::Serialize;

use super::auth::{Required, Unauthorized};
use super::model::{parse_body, Refusal, Rejection, Report};
use super::reply::Reply;
use super::routes::{route, Route};
use super::state::{Backend, MockAnswer};

/// The largest heartbeat body the mock server reads (a real report is well under 4 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub(super) type ResponseBody = Full<Bytes>;

/// What the connection needs to answer requests.
#[derive(Debug, Clone)]
pub(super) struct Context {
    pub(super) backend: Arc<Backend>,
    pub(super) prefix: Arc<str>,
    /// What every request must carry, when the server stands behind an auth gateway.
    pub(super) credentials: Option<Arc<Required>>,
}

/// Answers one request.
pub(super) async fn handle(
    cx: Context,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    if let Some(required) = &cx.credentials {
        let authorization = request.headers().get(AUTHORIZATION);
        if let Err(denied) = required.check(authorization.map(HeaderValue::as_bytes)) {
            let body = read_body(request).await.unwrap_or_default();
            return Ok(unauthorized(&cx.backend, &method, &path, denied, &body));
        }
    }
    let found = match route(&method, &path, &cx.prefix) {
        Ok(found) => found,
        Err((status, reason)) => {
            let body = read_body(request).await.unwrap_or_default();
            return Ok(refuse(
                &cx.backend,
                &method,
                &path,
                Refusal { status, reason },
                &body,
            ));
        }
    };
    Ok(match found {
        Route::Heartbeat { app, profile } => heartbeat(&cx.backend, app, profile, request).await,
        Route::DriftReport { app, profile } => json(200, &cx.backend.drift_report(&app, &profile)),
        Route::Summary => json(200, &cx.backend.drift_summary()),
        Route::Instances { app, profile } => json(200, &cx.backend.instances(&app, &profile)),
    })
}

/// Checks, records and answers a heartbeat.
async fn heartbeat(
    backend: &Backend,
    app: String,
    profile: String,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    let path = request.uri().path().to_owned();
    let headers = owned_headers(request.headers());
    let json_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    let Ok(body) = read_body(request).await else {
        let refusal = Refusal {
            status: 413,
            reason: format!("the body is larger than {MAX_BODY_BYTES} bytes, or was cut"),
        };
        return refuse(backend, "POST", &path, refusal, &[]);
    };
    if !json_type {
        let reason = "the Content-Type is not application/json".to_owned();
        return refuse(
            backend,
            "POST",
            &path,
            Refusal {
                status: 415,
                reason,
            },
            &body,
        );
    }
    let parsed = match parse_body(&body) {
        Ok(parsed) => parsed,
        Err(refusal) => return refuse(backend, "POST", &path, refusal, &body),
    };
    let received_at = tokio::time::Instant::now();
    let report = Report {
        app,
        profile,
        instance_id: parsed.instance_id,
        config_version: parsed.config_version,
        health: parsed.health,
        metadata: parsed.metadata,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        received_at,
        received_at_utc: backend.clock().utc(received_at),
    };
    let (reply, answer) = backend.heartbeat(report);
    render(reply, &answer).await
}

/// Reads a body of at most [`MAX_BODY_BYTES`].
async fn read_body(request: Request<Incoming>) -> Result<Bytes, ()> {
    Limited::new(request.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|_| ())
}

fn owned_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect()
}

/// Records a refused request and answers it with its status and `{"error": reason}`.
fn refuse(
    backend: &Backend,
    method: &str,
    path: &str,
    refusal: Refusal,
    body: &[u8],
) -> Response<ResponseBody> {
    let answer = serde_json::json!({ "error": refusal.reason });
    backend.reject(Rejection {
        method: method.to_owned(),
        path: path.to_owned(),
        status: refusal.status,
        reason: refusal.reason,
        body: String::from_utf8_lossy(body).into_owned(),
    });
    json(refusal.status, &answer)
}

/// Records a request the gateway turned away and answers it 401 with its challenge.
fn unauthorized(
    backend: &Backend,
    method: &str,
    path: &str,
    denied: Unauthorized,
    body: &[u8],
) -> Response<ResponseBody> {
    let refusal = Refusal {
        status: 401,
        reason: denied.reason,
    };
    let response = refuse(backend, method, path, refusal, body);
    with_header(response, WWW_AUTHENTICATE, &denied.challenge)
}

/// Answers as the reply says.
async fn render(reply: Reply, answer: &MockAnswer) -> Response<ResponseBody> {
    match reply {
        Reply::Accept => json_bytes(200, answer.to_json()),
        Reply::Delay(delay) => {
            tokio::time::sleep(delay).await;
            json_bytes(200, answer.to_json())
        }
        Reply::Status(code) => respond(code, Bytes::new()),
        Reply::RetryAfter(code, value) => {
            with_header(respond(code, Bytes::new()), RETRY_AFTER, &value)
        }
        Reply::Raw(code, body) => respond(code, body.into()),
        Reply::Redirect(code, location) => {
            with_header(respond(code, Bytes::new()), LOCATION, &location)
        }
        Reply::Hang => std::future::pending().await,
    }
}

fn json(status: u16, value: &impl Serialize) -> Response<ResponseBody> {
    match serde_json::to_vec(value) {
        Ok(body) => json_bytes(status, body),
        Err(_) => respond(500, Bytes::new()),
    }
}

fn json_bytes(status: u16, body: Vec<u8>) -> Response<ResponseBody> {
    with_header(
        respond(status, body.into()),
        CONTENT_TYPE,
        "application/json",
    )
}

/// A response with this status (500 if it is not a valid status code) and body.
fn respond(status: u16, body: Bytes) -> Response<ResponseBody> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
}

/// Adds a header; a value that is not a valid header value is left out.
fn with_header(
    mut response: Response<ResponseBody>,
    name: HeaderName,
    value: &str,
) -> Response<ResponseBody> {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
    response
}
