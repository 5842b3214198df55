//! The SDP description (RFC 8866) of an RTP output, which VLC, ffplay/ffprobe, GStreamer and
//! PipeWire open to receive it.

use std::net::{IpAddr, SocketAddr};

use super::packet::PAYLOAD_TYPE;

/// What the description says.
#[derive(Debug, Clone)]
pub struct SdpInfo {
    /// Where the packets go (unicast or multicast).
    pub destination: SocketAddr,
    /// Multicast TTL (written as `/TTL` after an IPv4 multicast address, RFC 8866 §5.7).
    pub ttl: u32,
    /// Sample rate in Hz (the RTP clock rate of L16).
    pub rate: u32,
    /// Channels.
    pub channels: u16,
    /// Packet duration in ms (`a=ptime`).
    pub packet_ms: u32,
    /// Session name (`s=`), e.g. the server's name.
    pub name: String,
    /// Session id (`o=`), unique per run.
    pub session_id: u64,
    /// The sender's address (`o=`).
    pub origin: IpAddr,
}

/// The SDP text, lines ending in CRLF as RFC 8866 §5 requires.
pub fn describe(info: &SdpInfo) -> String {
    let family = |ip: &IpAddr| if ip.is_ipv4() { "IP4" } else { "IP6" };
    let dest = info.destination.ip();
    let connection = if dest.is_multicast() && dest.is_ipv4() {
        format!("{dest}/{}", info.ttl)
    } else {
        dest.to_string()
    };
    let name = info.name.replace(['\r', '\n'], " ");
    let name = if name.trim().is_empty() {
        "audioMi".to_string()
    } else {
        name
    };
    [
        "v=0".to_string(),
        format!(
            "o=- {id} {id} IN {} {}",
            family(&info.origin),
            info.origin,
            id = info.session_id
        ),
        format!("s={name}"),
        format!("c=IN {} {connection}", family(&dest)),
        "t=0 0".to_string(),
        format!("m=audio {} RTP/AVP {PAYLOAD_TYPE}", info.destination.port()),
        format!(
            "a=rtpmap:{PAYLOAD_TYPE} L16/{}/{}",
            info.rate, info.channels
        ),
        format!("a=ptime:{}", info.packet_ms),
        "a=sendonly".to_string(),
    ]
    .iter()
    .map(|l| format!("{l}\r\n"))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multicast_description() {
        let sdp = describe(&SdpInfo {
            destination: "239.255.12.42:5004".parse().expect("addr"),
            ttl: 1,
            rate: 16_000,
            channels: 1,
            packet_ms: 20,
            name: "studio".into(),
            session_id: 42,
            origin: "192.168.1.5".parse().expect("ip"),
        });
        assert_eq!(
            sdp,
            "v=0\r\no=- 42 42 IN IP4 192.168.1.5\r\ns=studio\r\nc=IN IP4 239.255.12.42/1\r\n\
             t=0 0\r\nm=audio 5004 RTP/AVP 96\r\na=rtpmap:96 L16/16000/1\r\na=ptime:20\r\n\
             a=sendonly\r\n"
        );
    }

    #[test]
    fn a_unicast_ipv6_description_has_no_ttl() {
        let sdp = describe(&SdpInfo {
            destination: "[::1]:6000".parse().expect("addr"),
            ttl: 1,
            rate: 48_000,
            channels: 2,
            packet_ms: 7,
            name: String::new(),
            session_id: 1,
            origin: "::1".parse().expect("ip"),
        });
        assert!(sdp.contains("c=IN IP6 ::1\r\n"), "{sdp}");
        assert!(sdp.contains("s=audioMi\r\n"), "{sdp}");
        assert!(sdp.contains("a=rtpmap:96 L16/48000/2\r\n"), "{sdp}");
    }
}
