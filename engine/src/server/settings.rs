//! What a front end chooses to serve, and the one function that turns it into a running server:
//! the command line (`audiomi serve`) and the window's Server tab both call
//! [`ServeSettings::start`].

use super::{ServeOptions, ServerConfig, ServerHandle, WebOptions};
use crate::audio::sources::SourceSpec;
use crate::config::socket_addr;
use crate::pipeline::PipelineConfig;
use crate::web::WebConfig;
use crate::{Error, Result};

/// Validated serve settings (see [`crate::config`] for the checks of each value).
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// Address to listen on (a host name or IP; `0.0.0.0` for every interface).
    pub host: String,
    /// TCP port (0 picks a free one).
    pub port: u16,
    /// What to serve.
    pub source: SourceSpec,
    /// Repeat a `file:` source forever.
    pub looping: bool,
    /// The stream's rate, chunk duration and converter.
    pub pipeline: PipelineConfig,
    /// Checkcode, limits and write budget.
    pub server: ServerConfig,
    /// The web player's port on the same host (`None`: no web player; 0 picks a free port).
    pub http_port: Option<u16>,
    /// The web player's limits.
    pub web: WebConfig,
}

impl ServeSettings {
    /// `source` on `host:port` with every other setting at its default (no web player: the
    /// CLI and the window turn it on at [`crate::web::DEFAULT_HTTP_PORT`] unless told not to).
    pub fn new(host: impl Into<String>, port: u16, source: SourceSpec) -> Self {
        Self {
            host: host.into(),
            port,
            source,
            looping: true,
            pipeline: PipelineConfig::default(),
            server: ServerConfig::default(),
            http_port: None,
            web: WebConfig::default(),
        }
    }

    /// Opens the source (on a blocking thread) and starts serving it.
    ///
    /// # Errors
    /// [`Error::Config`] for a tone the rate cannot carry, [`Error::Source`] /
    /// [`Error::WavRead`] for a source that cannot be opened, [`Error::Bind`] for an address that
    /// cannot be listened on (the TCP port or the web player's).
    pub async fn start(self) -> Result<ServerHandle> {
        let (source, looping, pipeline) = (self.source.clone(), self.looping, self.pipeline);
        let input = tokio::task::spawn_blocking(move || {
            source.open(looping, pipeline.rate, pipeline.chunk)
        })
        .await
        .map_err(|e| Error::Thread {
            name: "audiomi-open".into(),
            source: std::io::Error::other(e.to_string()),
        })??;
        ServerHandle::start(ServeOptions {
            listen: socket_addr(&self.host, self.port),
            input,
            pipeline: self.pipeline,
            server: self.server,
            web: self.http_port.map(|port| WebOptions {
                listen: socket_addr(&self.host, port),
                config: self.web.clone(),
            }),
        })
        .await
    }
}
