//! What [`super::Station::start`] is asked to run.

use crate::discovery::AnnounceSpec;
use crate::icecast::IcecastTarget;
use crate::pipeline::{Input, PipelineConfig};
use crate::rtp::RtpOptions;
use crate::secure::TlsServeOptions;
use crate::server::ServerConfig;
use crate::web::WebConfig;

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

/// Where and how the web output listens.
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// Address, e.g. `0.0.0.0:26080`.
    pub listen: String,
    /// Its limits.
    pub config: WebConfig,
}

/// The hub's settings: `server` with the chunk duration and the stream's format (rate,
/// channels) taken from `pipeline`.
pub(super) fn hub_config(mut server: ServerConfig, pipeline: &PipelineConfig) -> ServerConfig {
    server.chunk = pipeline.chunk;
    server.format.sample_rate = pipeline.rate;
    server.format.channels = pipeline.channels;
    server
}
