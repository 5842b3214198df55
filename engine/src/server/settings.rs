//! What a front end chooses to serve, and the one function that turns it into a running server:
//! the command line (`audiomi serve`) and the window's Server tab both call
//! [`ServeSettings::start`].

use super::{ServeOptions, ServerConfig, ServerHandle};
use crate::audio::sources::SourceSpec;
use crate::config::socket_addr;
use crate::pipeline::PipelineConfig;
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
}

impl ServeSettings {
    /// `source` on `host:port` with every other setting at its default.
    pub fn new(host: impl Into<String>, port: u16, source: SourceSpec) -> Self {
        Self {
            host: host.into(),
            port,
            source,
            looping: true,
            pipeline: PipelineConfig::default(),
            server: ServerConfig::default(),
        }
    }

    /// Opens the source (on a blocking thread) and starts serving it.
    ///
    /// # Errors
    /// [`Error::Config`] for a tone the rate cannot carry, [`Error::Source`] /
    /// [`Error::WavRead`] for a source that cannot be opened, [`Error::Bind`] for an address that
    /// cannot be listened on.
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
        })
        .await
    }
}
