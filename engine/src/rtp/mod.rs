//! The RTP output: the stream as RFC 3551 L16 over UDP, unicast or multicast, which GStreamer,
//! ffmpeg/ffplay, VLC, PipeWire and PulseAudio receive.
//!
//! A sibling of the TCP, web and Icecast outputs: one thread ([`RTP_THREAD`]) subscribes to the
//! chunk stream, cuts each chunk **once** into packets ([`packet::Packetizer`]) and sends every
//! packet to each destination. Sequence numbers and timestamps run on across source stalls (the
//! source stage sends silence then, and a gap from this output falling behind is filled with
//! silence too). A packet leaves as soon as its last sample arrives, so packets follow the source
//! stage's real-time pace. `--rtp-sdp` writes an SDP description ([`sdp`]).

pub mod packet;
pub mod sdp;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::output::{Output, OutputStatus, StationContext, Stopping};
use crate::pipeline::Output as Item;
use crate::{Error, Result};
use packet::Packetizer;

/// Name of the RTP output's thread.
pub const RTP_THREAD: &str = "audiomi-rtp";

/// Default multicast TTL: 1 (the local network only).
pub const DEFAULT_TTL: u32 = 1;

/// Where and how to send.
#[derive(Debug, Clone)]
pub struct RtpOptions {
    /// Destinations (unicast or multicast), each gets every packet.
    pub destinations: Vec<SocketAddr>,
    /// TTL (IPv4) / hop limit (IPv6) of multicast packets.
    pub ttl: u32,
    /// Write the SDP description of the first destination here.
    pub sdp: Option<PathBuf>,
    /// Session name in the SDP description.
    pub name: String,
}

/// Live counters of the RTP output.
#[derive(Debug, Default)]
pub struct RtpStats {
    /// Packets sent (counted once per destination).
    pub packets: AtomicU64,
    /// Bytes sent, RTP headers included (once per destination).
    pub bytes: AtomicU64,
    /// Sends that failed (no route, buffer full); the packet is lost for that destination.
    pub send_errors: AtomicU64,
}

/// A running RTP output. It ends when the chunk stream closes (the server stops).
#[derive(Debug)]
pub struct RtpOutput {
    stats: Arc<RtpStats>,
    /// The packet duration in ms.
    packet_ms: u32,
    /// The first destination.
    first: SocketAddr,
}

impl Output for RtpOutput {
    fn name(&self) -> &'static str {
        "rtp"
    }

    fn status(&self) -> OutputStatus {
        let packets = self.stats.packets.load(Ordering::Relaxed);
        OutputStatus {
            name: self.name(),
            addr: Some(self.first),
            audience: None,
            summary: format!("{packets} packets sent"),
        }
    }

    /// Nothing to wait for: the sending thread ends when the chunk stream closes.
    fn stop(&self) -> Stopping<'_> {
        Box::pin(std::future::ready(()))
    }
}

impl RtpOutput {
    /// Opens one UDP socket per address family, writes the SDP file if asked, and starts the
    /// sending thread on the chunk stream of `ctx` (its format's rate and channels); the
    /// thread ends when the stream closes.
    ///
    /// # Errors
    /// [`Error::Config`] for no destination; [`Error::Setup`] if a socket cannot be opened or
    /// set up or the SDP file cannot be written (its path is named); [`Error::Thread`] if the
    /// thread cannot start.
    pub fn start(options: &RtpOptions, ctx: &StationContext) -> Result<Self> {
        let (rate, channels) = (ctx.format().sample_rate, ctx.format().channels);
        let Some(first) = options.destinations.first().copied() else {
            return Err(Error::config("--rtp", "", "no destination"));
        };
        let sockets = options
            .destinations
            .iter()
            .map(|d| open_socket(*d, options.ttl).map(|s| (s, *d)))
            .collect::<Result<Vec<_>>>()?;
        let packet_ms = packet::packet_ms(rate, channels);
        if let Some(path) = &options.sdp {
            let text = sdp::describe(&sdp::SdpInfo {
                destination: first,
                ttl: options.ttl,
                rate,
                channels,
                packet_ms,
                name: options.name.clone(),
                session_id: u64::from(fastrand::u32(..)),
                origin: origin_for(first),
            });
            std::fs::write(path, text)
                .map_err(|e| net_error("write the SDP file", path.display(), e))?;
        }
        let stats = Arc::new(RtpStats::default());
        let mut packetizer = Packetizer::new(
            rate,
            channels,
            fastrand::u32(..),
            fastrand::u16(..),
            fastrand::u32(..),
        );
        let mut chunks = ctx.subscribe("rtp");
        let thread_stats = stats.clone();
        ctx.spawn_reader(RTP_THREAD, move || {
            let mut errors = ErrorLog::default();
            while let Some(item) = chunks.recv_blocking() {
                let Item::Chunk(chunk) = item else { continue };
                packetizer.push(chunk.position, &chunk.pcm, &mut |packet: &[u8]| {
                    for (socket, dest) in &sockets {
                        match socket.send_to(packet, dest) {
                            Ok(n) => {
                                thread_stats.packets.fetch_add(1, Ordering::Relaxed);
                                thread_stats.bytes.fetch_add(n as u64, Ordering::Relaxed);
                            }
                            Err(e) => {
                                thread_stats.send_errors.fetch_add(1, Ordering::Relaxed);
                                errors.note(*dest, &e);
                            }
                        }
                    }
                });
            }
        })?;
        info!(destinations = ?options.destinations, packet_ms, "RTP output sending");
        Ok(Self {
            stats,
            packet_ms,
            first,
        })
    }

    /// Live counters.
    pub fn stats(&self) -> &Arc<RtpStats> {
        &self.stats
    }

    /// The packet duration in ms.
    pub fn packet_ms(&self) -> u32 {
        self.packet_ms
    }
}

/// Send errors logged at most once per [`ERROR_LOG_INTERVAL`].
#[derive(Default)]
struct ErrorLog {
    last: Option<Instant>,
    unlogged: u64,
}

/// Shortest time between two "RTP send failed" log lines: 5 s.
const ERROR_LOG_INTERVAL: Duration = Duration::from_secs(5);

impl ErrorLog {
    fn note(&mut self, dest: SocketAddr, e: &std::io::Error) {
        self.unlogged += 1;
        if self.last.is_none_or(|t| t.elapsed() >= ERROR_LOG_INTERVAL) {
            warn!(%dest, error = %e, failed = self.unlogged, "RTP: sending failed; packets lost");
            self.last = Some(Instant::now());
            self.unlogged = 0;
        }
    }
}

/// A UDP socket for sending to `dest`: bound to the unspecified address of its family, with the
/// multicast TTL / hop limit set for a multicast destination.
fn open_socket(dest: SocketAddr, ttl: u32) -> Result<UdpSocket> {
    let bind: SocketAddr = match dest.ip() {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let what = format!("open a UDP socket for {dest}");
    let socket = UdpSocket::bind(bind).map_err(|e| net_error(&what, dest, e))?;
    if dest.ip().is_multicast() {
        let set = match dest.ip() {
            IpAddr::V4(_) => socket.set_multicast_ttl_v4(ttl),
            IpAddr::V6(_) => socket2::SockRef::from(&socket).set_multicast_hops_v6(ttl),
        };
        set.map_err(|e| net_error("set the multicast TTL", dest, e))?;
    }
    Ok(socket)
}

/// The local address that routes to `dest`, for the SDP origin; the loopback address when there
/// is no route.
fn origin_for(dest: SocketAddr) -> IpAddr {
    crate::route::local_ip_towards(dest).unwrap_or(if dest.is_ipv4() {
        Ipv4Addr::LOCALHOST.into()
    } else {
        Ipv6Addr::LOCALHOST.into()
    })
}

fn net_error(what: &str, target: impl std::fmt::Display, source: std::io::Error) -> Error {
    Error::Setup {
        context: format!("RTP: cannot {what} ({target})"),
        source,
    }
}
