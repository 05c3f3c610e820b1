//! A loopback port with nothing listening on it.

use std::net::SocketAddr;
use tokio::net::TcpListener;

/// A loopback port with nothing listening on it (connections are refused).
pub async fn dead_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    addr
}
