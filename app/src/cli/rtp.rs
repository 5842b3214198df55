//! The RTP output's part of `audiomi serve`: its flags, the options they make and what is
//! logged when it runs. Everything the CLI knows of RTP is here; `ServeArgs` only flattens it.

use clap::Args;
use tracing::info;

/// `--rtp`, `--rtp-ttl`, `--rtp-sdp`.
#[derive(Debug, Args)]
pub struct RtpArgs {
    /// Also send RTP (L16, payload type 96) to ADDR:PORT, unicast or multicast, e.g.
    /// 239.255.12.42:5004. Repeat for several destinations.
    #[arg(long = "rtp", value_name = "ADDR:PORT")]
    rtp: Vec<std::net::SocketAddr>,
    /// TTL of multicast RTP packets (1: this network only).
    #[arg(long, default_value_t = engine::rtp::DEFAULT_TTL, requires = "rtp")]
    rtp_ttl: u32,
    /// Write an SDP description of the (first) RTP destination to FILE, for VLC, ffplay or
    /// PipeWire to open.
    #[arg(long, value_name = "FILE", requires = "rtp")]
    rtp_sdp: Option<std::path::PathBuf>,
}

impl RtpArgs {
    /// The RTP output these flags ask for (`None` without `--rtp`); its stream name is filled in
    /// by the server's settings.
    pub fn options(&self) -> Option<engine::rtp::RtpOptions> {
        (!self.rtp.is_empty()).then(|| engine::rtp::RtpOptions {
            destinations: self.rtp.clone(),
            ttl: self.rtp_ttl,
            sdp: self.rtp_sdp.clone(),
            name: String::new(),
        })
    }

    /// Logs where RTP goes and where its SDP file is, if one was asked for.
    pub fn report(&self) {
        if let Some(sdp) = &self.rtp_sdp {
            info!(destinations = ?self.rtp, sdp = %sdp.display(), "sending RTP");
        }
    }
}
