//! Connections that follow the server: 20 clients behind a per-connection round-robin TCP
//! balancer on loopback (what a Kubernetes Service or a DNS name with two addresses does) in
//! front of two mock servers. With a short connection max age, a second upstream that joins
//! gets a fair share, and an upstream that leaves the rotation (drained: no new connections,
//! its open ones still answering) loses its clients, within a few max ages; with the SDK's own
//! client and with the application's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::support;
use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use vortex_client::testing::MockServer;

const MS: fn(u64) -> Duration = Duration::from_millis;
const CLIENTS: usize = 20;
const INTERVAL: Duration = Duration::from_millis(100);
const MAX_AGE: Duration = Duration::from_millis(300);

/// Upstreams and which of them take new connections.
#[derive(Default)]
struct Rotation {
    upstreams: Vec<(SocketAddr, bool)>,
    next: usize,
}

impl Rotation {
    /// The next upstream in rotation, round robin per connection.
    fn pick(&mut self) -> Option<SocketAddr> {
        for _ in 0..self.upstreams.len() {
            let i = self.next % self.upstreams.len();
            self.next = self.next.wrapping_add(1);
            if let Some(&(addr, true)) = self.upstreams.get(i) {
                return Some(addr);
            }
        }
        None
    }
}

/// A per-connection round-robin TCP balancer: each accepted connection is piped, both ways, to
/// the next upstream in rotation.
struct Balancer {
    addr: SocketAddr,
    rotation: Arc<Mutex<Rotation>>,
    accept: JoinHandle<()>,
}

impl Balancer {
    async fn start() -> Balancer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let rotation = Arc::new(Mutex::new(Rotation::default()));
        let picks = rotation.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let Some(upstream) = picks.lock().pick() else {
                    continue; // nothing in rotation: the connection is dropped
                };
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Balancer {
            addr,
            rotation,
            accept,
        }
    }

    /// Puts `upstream` in rotation (or back in it).
    fn join(&self, upstream: SocketAddr) {
        let mut rotation = self.rotation.lock();
        match rotation.upstreams.iter_mut().find(|(a, _)| *a == upstream) {
            Some(entry) => entry.1 = true,
            None => rotation.upstreams.push((upstream, true)),
        }
    }

    /// No new connections to `upstream`; the open ones keep working.
    fn drain(&self, upstream: SocketAddr) {
        for entry in self.rotation.lock().upstreams.iter_mut() {
            if entry.0 == upstream {
                entry.1 = false;
            }
        }
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Reports each upstream received during `window`.
async fn share(a: &MockServer, b: &MockServer, window: Duration) -> (usize, usize) {
    let before = (a.report_count(), b.report_count());
    tokio::time::sleep(window).await;
    (a.report_count() - before.0, b.report_count() - before.1)
}

async fn follows_the_balancer(own_client: bool) {
    let (a, b) = (
        MockServer::start().await.unwrap(),
        MockServer::start().await.unwrap(),
    );
    let balancer = Balancer::start().await;
    balancer.join(a.addr());
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let mut builder = support::client(&format!("http://{}", balancer.addr))
            .instance_id(format!("i-{i}"))
            .interval(INTERVAL)
            .connection_max_age(MAX_AGE)
            .disable_auto_detect();
        if !own_client {
            builder = builder.http_client(reqwest::Client::builder().no_proxy().build().unwrap());
        }
        let client = builder.build().unwrap();
        client.start().await;
        clients.push(client);
    }
    // Only `a` in rotation: every report reaches it.
    let (on_a, on_b) = share(&a, &b, MS(500)).await;
    assert!(
        on_a > 0 && on_b == 0,
        "before the scale-out: {on_a} / {on_b}"
    );

    // A scale-out: `b` joins, and gets about half within a few max ages.
    balancer.join(b.addr());
    tokio::time::sleep(MAX_AGE * 4).await;
    let (on_a, on_b) = share(&a, &b, MS(1000)).await;
    let total = (on_a + on_b).max(1);
    assert!(
        on_b * 100 / total >= 30,
        "after the scale-out, {on_b} of {total} reports reached the new upstream"
    );

    // `a` is drained: the clients leave it within a few max ages.
    balancer.drain(a.addr());
    tokio::time::sleep(MAX_AGE * 4).await;
    let (on_a, on_b) = share(&a, &b, MS(1000)).await;
    assert!(
        on_a * 100 <= (on_a + on_b) * 2 && on_b > 0,
        "after the drain, {on_a} reports still reached the drained upstream ({on_b} the other)"
    );
    for client in clients {
        client.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdks_client_follows_a_scale_out_and_a_drain() {
    follows_the_balancer(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_applications_client_follows_a_scale_out_and_a_drain() {
    follows_the_balancer(false).await;
}
