//! An HTTP/1.1 server on loopback that keeps connections alive, answers every request on a
//! connection with the status currently set (a 503 keeps the connection too), and records when
//! each connection was accepted and when each of its requests came: what shows how long the
//! client keeps a connection.

use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// One connection as the server saw it.
#[derive(Debug, Clone)]
pub struct Connection {
    pub accepted: Instant,
    pub requests: Vec<Instant>,
}

#[derive(Default)]
struct State {
    status: u16,
    connections: Vec<Connection>,
}

pub struct KeepAliveServer {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for KeepAliveServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl KeepAliveServer {
    /// Starts a server that answers 200 until told otherwise.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(State {
            status: 200,
            ..State::default()
        }));
        let accepting = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let index = {
                    let mut state = accepting.lock();
                    state.connections.push(Connection {
                        accepted: Instant::now(),
                        requests: Vec::new(),
                    });
                    state.connections.len() - 1
                };
                tokio::spawn(serve(stream, index, accepting.clone()));
            }
        });
        KeepAliveServer { addr, state, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The status every request gets from now on.
    pub fn set_status(&self, status: u16) {
        self.state.lock().status = status;
    }

    pub fn connections(&self) -> Vec<Connection> {
        self.state.lock().connections.clone()
    }
}

/// Serves requests on one connection until the client closes it or asks to.
async fn serve(stream: TcpStream, index: usize, state: Arc<Mutex<State>>) {
    let mut stream = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut close = false;
        let mut line = String::new();
        loop {
            line.clear();
            match stream.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let lower = line.trim().to_ascii_lowercase();
            if lower.is_empty() {
                break;
            }
            if let Some(value) = lower.strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
            close |= lower == "connection: close";
        }
        let mut body = vec![0u8; length];
        if stream.read_exact(&mut body).await.is_err() {
            return;
        }
        let status = {
            let mut state = state.lock();
            state.connections[index].requests.push(Instant::now());
            state.status
        };
        let answer = br#"{"registered":true,"expected_version":null,"drift_detected":false}"#;
        let connection = if close { "close" } else { "keep-alive" };
        let head = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: {connection}\r\n\r\n",
            answer.len()
        );
        let written = async {
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(answer).await?;
            stream.flush().await
        };
        if written.await.is_err() || close {
            return;
        }
    }
}
