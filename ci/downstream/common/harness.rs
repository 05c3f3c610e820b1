//! Shared by the downstream applications: a loopback receiver and one SDK report.
//!
//! The receiver answers every request with the drift endpoint's 200 and closes the connection;
//! it is plain tokio, so it adds nothing to the application's dependency tree.

use std::error::Error;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use vortex_client::{Environment, HeartbeatBuilder, HeartbeatClient};

pub type BoxError = Box<dyn Error + Send + Sync>;

const ANSWER: &str = r#"{"registered":true,"expected_version":null,"drift_detected":false}"#;

/// Starts the receiver on 127.0.0.1; returns its base URL (`http://127.0.0.1:PORT`).
pub async fn start_receiver() -> Result<String, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer(stream));
        }
    });
    Ok(url)
}

/// Reads one request (head and Content-Length body), answers 200 with the contract's JSON.
async fn answer(mut stream: TcpStream) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
        if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if request.len() >= end + 4 + length {
                break;
            }
        }
    }
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{ANSWER}",
        ANSWER.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// The SDK's builder for the receiver, with no process environment read.
pub fn sdk_builder(url: &str) -> HeartbeatBuilder<HeartbeatClient> {
    HeartbeatClient::builder()
        .environment(Environment::empty())
        .server_url(url)
        .app("downstream")
        .profile("ci")
        .config_version("v1")
        .disable_auto_detect()
}

/// Sends one report with the SDK client and checks the receiver's answer.
pub async fn report_once(client: &HeartbeatClient) -> Result<(), BoxError> {
    let answer = client.report_now().await?;
    if !answer.registered {
        return Err("the receiver's answer was not read as registered".into());
    }
    Ok(())
}
