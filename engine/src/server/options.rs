//! What [`super::ServerHandle::start`] is asked to run.

use std::net::SocketAddr;

use super::outputs::OutputInfo;
use super::{Hub, ServerConfig};
use crate::discovery::{AnnounceSpec, TxtRecord};
use crate::icecast::IcecastTarget;
use crate::pipeline::{Input, PipelineConfig};
use crate::rtp::RtpOptions;
use crate::secure::TlsServeOptions;
use crate::secure::listener::BoundTls;
use crate::web::WebConfig;
use crate::{Error, Result};
use tokio::net::TcpListener;

/// Everything needed to start serving. Start from [`ServeOptions::new`] (a source on an
/// address, every output off) and add what is wanted.
pub struct ServeOptions {
    /// Address to listen on, e.g. `0.0.0.0:26070`.
    pub listen: String,
    /// Where the audio comes from.
    pub input: Input,
    /// How the source stage runs.
    pub pipeline: PipelineConfig,
    /// How the server runs (its `chunk` and `format` rate and channels are taken from `pipeline`).
    pub server: ServerConfig,
    /// The web output (the browser player), if any.
    pub web: Option<WebOptions>,
    /// Icecast servers to publish to (none: no Icecast output).
    pub icecast: Vec<IcecastTarget>,
    /// The RTP output, if any.
    pub rtp: Option<RtpOptions>,
    /// The TLS port, if any (it may also turn the plaintext port off).
    pub tls: Option<TlsServeOptions>,
    /// Announce the server over mDNS (`None`: `--no-announce`).
    pub announce: Option<AnnounceSpec>,
}

impl ServeOptions {
    /// Serves `input` on `listen` (e.g. `0.0.0.0:26070`, `127.0.0.1:0` for a free port) with the
    /// default source stage ([`PipelineConfig::default`]: 16 kHz mono, 20 ms chunks) and server
    /// settings ([`ServerConfig::default`]), and no other output: add them with the methods
    /// below.
    pub fn new(listen: impl Into<String>, input: Input) -> Self {
        Self {
            listen: listen.into(),
            input,
            pipeline: PipelineConfig::default(),
            server: ServerConfig::default(),
            web: None,
            icecast: Vec::new(),
            rtp: None,
            tls: None,
            announce: None,
        }
    }

    /// With this source stage (rate, channels, chunk duration, converter).
    #[must_use]
    pub fn pipeline(self, pipeline: PipelineConfig) -> Self {
        Self { pipeline, ..self }
    }

    /// With these server settings (checkcode, limits, write budget).
    #[must_use]
    pub fn server(self, server: ServerConfig) -> Self {
        Self { server, ..self }
    }

    /// With the web player (`None`: none).
    #[must_use]
    pub fn web(self, web: Option<WebOptions>) -> Self {
        Self { web, ..self }
    }

    /// Publishing to these Icecast servers (one publisher each).
    #[must_use]
    pub fn icecast(self, icecast: impl IntoIterator<Item = IcecastTarget>) -> Self {
        let icecast = icecast.into_iter().collect();
        Self { icecast, ..self }
    }

    /// With the RTP output (`None`: none).
    #[must_use]
    pub fn rtp(self, rtp: Option<RtpOptions>) -> Self {
        Self { rtp, ..self }
    }

    /// With the TLS port (`None`: plaintext only).
    #[must_use]
    pub fn tls(self, tls: Option<TlsServeOptions>) -> Self {
        Self { tls, ..self }
    }

    /// Announced over mDNS (`None`: not announced).
    #[must_use]
    pub fn announce(self, announce: Option<AnnounceSpec>) -> Self {
        Self { announce, ..self }
    }
}

/// Binds the plaintext port (unless TLS turns it off) and the TLS port (if any); returns them
/// and the address [`super::ServerHandle::local_addr`] reports (the plaintext port's, else the
/// TLS port's).
///
/// # Errors
/// [`Error::Bind`], [`Error::Identity`]; [`Error::Config`] if neither port would be open.
pub(super) async fn bind_ports(
    listen: &str,
    tls: Option<TlsServeOptions>,
) -> Result<(
    Option<(TcpListener, SocketAddr)>,
    Option<BoundTls>,
    SocketAddr,
)> {
    let plain = match &tls {
        Some(t) if !t.plain => None,
        _ => Some(crate::listen::bind(listen).await?),
    };
    let tls = match tls {
        Some(t) => Some(BoundTls::bind(t).await?),
        None => None,
    };
    let local_addr = plain.as_ref().map(|p| p.1).or(tls.as_ref().map(|t| t.addr));
    let local_addr = local_addr.ok_or_else(|| Error::Config {
        name: "--no-plain".into(),
        value: "true".into(),
        reason: "with the plaintext port off, TLS must be on".into(),
    })?;
    Ok((plain, tls, local_addr))
}

/// The web output's limits with the TLS port's security: with TLS on, the web player is served
/// over HTTPS with the same certificate and asks for the same access key (if any).
pub(super) fn secure_web(config: WebConfig, tls: Option<&BoundTls>) -> WebConfig {
    match tls {
        Some(t) => WebConfig {
            tls: Some(t.server_config.clone()),
            access: t.key.clone(),
            ..config
        },
        None => config,
    }
}

/// Runs `f` if there is one.
pub(super) async fn maybe(f: Option<impl std::future::Future<Output = ()>>) {
    if let Some(f) = f {
        f.await;
    }
}

/// The TXT record announcing a server with these ports (see [`crate::discovery::TxtRecord`]).
pub(super) fn txt_record(
    hub: &Hub,
    plain: Option<SocketAddr>,
    tls: Option<&BoundTls>,
    outputs: &OutputInfo,
    name: &str,
) -> TxtRecord {
    let format = hub.config().format;
    TxtRecord {
        name: name.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        format: (format.sample_rate, format.channels),
        plain_port: plain.map(|a| a.port()),
        tls_port: tls.map(|t| t.addr.port()),
        fingerprint: tls.map(|t| t.fingerprint.to_string()),
        http_port: outputs.web.as_ref().map(|(a, _)| a.port()),
        key_required: tls.is_some_and(BoundTls::key_required),
    }
}

/// Where and how the web output listens.
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// Address, e.g. `0.0.0.0:26080`.
    pub listen: String,
    /// Its limits.
    pub config: WebConfig,
}

/// A stream id that differs between server runs (time and process id mixed; not cryptographic).
pub fn new_stream_id() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mixed = (nanos as u64) ^ (u64::from(std::process::id()) << 32);
    (mixed ^ (mixed >> 29))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(17) as u32
}

/// The hub's settings: `server` with the chunk duration and the stream's format (rate,
/// channels) taken from `pipeline`.
pub(super) fn hub_config(
    mut server: super::ServerConfig,
    pipeline: &crate::pipeline::PipelineConfig,
) -> super::ServerConfig {
    server.chunk = pipeline.chunk;
    server.format.sample_rate = pipeline.rate;
    server.format.channels = pipeline.channels;
    server
}
