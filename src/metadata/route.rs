//! The local address of the route to the server: asked of the kernel, never guessed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use crate::endpoint::is_reserved_invalid;

/// How long resolving the server's host name for the route lookup may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);
/// Resolved addresses tried for the route lookup.
const MAX_CANDIDATES: usize = 8;

/// Resolves the server's host (without blocking a runtime thread; an IP literal is not looked
/// up) and asks the kernel which local address the route to it leaves from. A UDP socket is
/// "connected" for that: no packet is sent. The answer is the address this instance really uses
/// to reach the server, whatever the number of interfaces, and works without any route to the
/// internet.
pub(super) async fn route_source(server: &reqwest::Url) -> Option<String> {
    let host = server.host_str()?;
    if is_reserved_invalid(host) {
        return None;
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = server.port_or_known_default().unwrap_or(80);
    let lookup = tokio::net::lookup_host((host, port));
    let targets = tokio::time::timeout(RESOLVE_TIMEOUT, lookup)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
        .inspect_err(|error| {
            tracing::debug!(%error, "cannot resolve the server's host to find the local address; ip_address is left out");
        })
        .ok()?;
    targets.take(MAX_CANDIDATES).find_map(local_address_to)
}

/// The local address of the route to `target`, from a connected (never used) UDP socket.
fn local_address_to(target: SocketAddr) -> Option<String> {
    let any = match target {
        SocketAddr::V4(_) => IpAddr::from(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::from(Ipv6Addr::UNSPECIFIED),
    };
    let socket = UdpSocket::bind((any, 0)).ok()?;
    socket.connect(target).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then(|| ip.to_string())
}
