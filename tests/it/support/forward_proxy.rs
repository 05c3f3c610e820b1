//! A forward proxy on loopback that records each request and answers it itself: 200 `{}`, or
//! an error status with a page that echoes the request (credentials first), as some proxies'
//! 407 and 502 pages do; a 407 is an HTML page asking for Basic credentials, as squid's is,
//! also for a `CONNECT`. Shared by the proxy tests and the secrets test.

use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The request line, e.g. `POST http://vortex.invalid:8888/api/... HTTP/1.1`.
    pub line: String,
    /// Header lines, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The request body.
    #[allow(dead_code)] // read by the `it` binary, not by `logs`
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A forward proxy that answers every request itself: 200 `{}`, or `status` with a page that
/// echoes the request's headers (as some proxies' 407 and 502 pages do), credentials first.
pub struct ForwardProxy {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl ForwardProxy {
    pub async fn start(status: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, status, Arc::clone(&record)));
            }
        });
        ForwardProxy { addr, seen }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().clone()
    }
}

async fn serve(mut stream: TcpStream, status: u16, record: Arc<Mutex<Vec<Seen>>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let line = lines.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    let _ = stream.read_exact(&mut body).await;
    let seen = Seen {
        line,
        headers,
        body,
    };
    let (reason, extra, page) = match status {
        200 => ("OK", "content-type: application/json", "{}".to_owned()),
        407 => (
            "Proxy Authentication Required",
            "content-type: text/html\r\nproxy-authenticate: Basic realm=\"proxy\"",
            format!(
                "<!DOCTYPE html><html><body><h1>Cache Access Denied</h1><pre>{}</pre></body></html>",
                echo_page(&seen)
            ),
        ),
        _ => ("Proxy Error", "content-type: text/plain", echo_page(&seen)),
    };
    record.lock().push(seen);
    let answer = format!(
        "HTTP/1.1 {status} {reason}\r\n{extra}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
        page.len()
    );
    let _ = stream.write_all(answer.as_bytes()).await;
}

/// The page a careless proxy shows: the request's credentials, then everything else.
fn echo_page(seen: &Seen) -> String {
    let mut page = String::from("denied. you sent: ");
    let mut headers = seen.headers.clone();
    headers.sort_by_key(|(n, _)| n != "proxy-authorization");
    for (name, value) in headers {
        page.push_str(&format!("{name}: {value}\n"));
    }
    page
}
