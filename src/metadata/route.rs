//! The local address of the route to the server: asked of the kernel, never guessed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use crate::endpoint::is_reserved_invalid;

/// How long resolving the server's host name for the route lookup may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);
/// Resolved addresses tried for the route lookup.
const MAX_ROUTE_CANDIDATES: usize = 8;
/// What a failed lookup means for the report.
const LEFT_OUT: &str = "ip_address is left out";

/// Resolves the server's host (without blocking a runtime thread) and asks the kernel which
/// local address the route to it leaves from. A UDP socket is "connected" for that: no packet is
/// sent. The answer is the address this instance really uses to reach the server, whatever the
/// number of interfaces, and works without any route to the internet.
pub(super) async fn route_source(server: &reqwest::Url) -> Option<IpAddr> {
    let host = server.host_str()?;
    if is_reserved_invalid(host) {
        return None;
    }
    let port = server.port_or_known_default().unwrap_or(80);
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let targets: Vec<SocketAddr> = if let Ok(ip) = literal.parse::<IpAddr>() {
        vec![SocketAddr::new(ip, port)]
    } else {
        match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port))).await {
            Ok(Ok(addresses)) => addresses.take(MAX_ROUTE_CANDIDATES).collect(),
            Ok(Err(error)) => {
                tracing::debug!(%error, "cannot resolve the server's host to find the local address; {LEFT_OUT}");
                return None;
            }
            Err(_) => {
                tracing::debug!(
                    timeout = ?RESOLVE_TIMEOUT,
                    "resolving the server's host timed out; {LEFT_OUT}"
                );
                return None;
            }
        }
    };
    targets.into_iter().find_map(local_address_towards)
}

/// The local address of the route to `target`, from a connected (never used) UDP socket.
fn local_address_towards(target: SocketAddr) -> Option<IpAddr> {
    let any: SocketAddr = match target {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(any).ok()?;
    socket.connect(target).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}
