//! Which local address this machine uses to reach another.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

/// The local IP address the routing table picks for packets to `dest`: found by `connect`ing a
/// UDP socket of `dest`'s family, which only selects a route and sends nothing. `None` when
/// there is no route (or only the unspecified address comes back).
pub fn local_ip_towards(dest: SocketAddr) -> Option<IpAddr> {
    let any: IpAddr = if dest.is_ipv4() {
        Ipv4Addr::UNSPECIFIED.into()
    } else {
        Ipv6Addr::UNSPECIFIED.into()
    };
    UdpSocket::bind((any, 0))
        .and_then(|s| s.connect(dest).map(|()| s))
        .and_then(|s| s.local_addr())
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_reached_from_loopback() {
        let ip = local_ip_towards("127.0.0.1:9".parse().expect("addr"));
        assert_eq!(ip, Some(IpAddr::from(Ipv4Addr::LOCALHOST)));
    }
}
