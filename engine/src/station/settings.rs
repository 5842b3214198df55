//! What a front end chooses to serve, and the one function that turns it into a running server:
//! the command line (`audiomi serve`) and the window's Server tab both call
//! [`ServeSettings::start`].

use super::{ServeOptions, Station, WebOptions};
use crate::audio::sources::SourceSpec;
use crate::config::socket_addr;
use crate::discovery::AnnounceSpec;
use crate::icecast::{IcecastTarget, IcecastUrl};
use crate::pipeline::PipelineConfig;
use crate::rtp::RtpOptions;
use crate::secure::{AccessKey, TlsIdentity, TlsServeOptions};
use crate::server::ServerConfig;
use crate::web::WebConfig;
use crate::{Error, Result};
use std::path::PathBuf;

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
    /// Play a `folder:` source in random order.
    pub shuffle: bool,
    /// The stream's rate, chunk duration and converter.
    pub pipeline: PipelineConfig,
    /// Checkcode, limits and write budget.
    pub server: ServerConfig,
    /// The web player's port on the same host (`None`: no web player; 0 picks a free port).
    pub http_port: Option<u16>,
    /// The web player's limits.
    pub web: WebConfig,
    /// The server's name: announced over mDNS, `Ice-Name` on Icecast, the SDP session name, the
    /// web page's heading (default: `default_server_name`, host name and port).
    pub name: String,
    /// Icecast mounts to publish to.
    pub icecast: Vec<IcecastUrl>,
    /// The RTP output, if any (its `name` is replaced by [`ServeSettings::name`]).
    pub rtp: Option<RtpOptions>,
    /// The TLS port, if any.
    pub tls: Option<TlsSettings>,
    /// Announce over mDNS as [`ServeSettings::name`], on this interface (`Some(None)`: every
    /// interface; `None`: no announcement, the default here; the CLI and the window turn it on).
    pub announce: Option<Option<String>>,
}

/// What `--tls` asks for.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// TLS port on the same host (default [`crate::secure::DEFAULT_TLS_PORT`]; 0 picks one).
    pub port: u16,
    /// Certificate and key PEM files (`--cert`, `--key`); `None`: the self-signed identity kept
    /// in `identity_dir`, made on first use.
    pub pem: Option<(PathBuf, PathBuf)>,
    /// Where the self-signed identity is kept (the config folder).
    pub identity_dir: PathBuf,
    /// The access key clients must present (`--access-key`); empty or `None`: no key.
    pub key: Option<String>,
    /// Keep the plaintext port open (false with `--no-plain`, which needs a key).
    pub plain: bool,
}

impl TlsSettings {
    /// Loads or makes the identity and builds the listener options for `host`.
    ///
    /// # Errors
    /// [`Error::Identity`] (unusable PEM files, config folder not writable); [`Error::Config`]
    /// for `--no-plain` without a key.
    pub fn options(&self, host: &str, name: &str) -> Result<TlsServeOptions> {
        let key = self.key.as_deref().and_then(AccessKey::new);
        if !self.plain && key.is_none() {
            return Err(Error::Config {
                name: "--no-plain".into(),
                value: "true".into(),
                reason: "turning the plaintext port off needs an access key (--access-key KEY or AUDIOMI_ACCESS_KEY)".into(),
            });
        }
        let identity = match &self.pem {
            Some((cert, key)) => TlsIdentity::from_pem_files(cert, key)?,
            None => {
                let (identity, made) =
                    TlsIdentity::load_or_create(&self.identity_dir, &[name.to_string()])?;
                if made {
                    tracing::info!(dir = %self.identity_dir.display(), fingerprint = %identity.fingerprint, "made a self-signed TLS certificate");
                }
                identity
            }
        };
        Ok(TlsServeOptions {
            listen: socket_addr(host, self.port),
            identity,
            key,
            plain: self.plain,
        })
    }
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
            shuffle: false,
            pipeline: PipelineConfig::default(),
            server: ServerConfig::default(),
            http_port: None,
            web: WebConfig::default(),
            name: default_server_name(port),
            icecast: Vec::new(),
            rtp: None,
            tls: None,
            announce: None,
        }
    }

    /// Opens the source (on a blocking thread) and starts serving it.
    ///
    /// # Errors
    /// [`Error::Config`] for a tone the rate cannot carry, [`Error::Source`] /
    /// [`Error::WavRead`] for a source that cannot be opened, [`Error::Bind`] for an address that
    /// cannot be listened on (the TCP port or the web player's).
    pub async fn start(self) -> Result<Station> {
        let (source, looping, shuffle, pipeline) = (
            self.source.clone(),
            self.looping,
            self.shuffle,
            self.pipeline,
        );
        let input = tokio::task::spawn_blocking(move || {
            source.open_with(looping, shuffle, pipeline.rate, pipeline.chunk)
        })
        .await
        .map_err(|e| Error::Thread {
            name: "audiomi-open".into(),
            source: std::io::Error::other(e.to_string()),
        })??;
        let tls = match &self.tls {
            Some(t) => Some(t.options(&self.host, &self.name)?),
            None => None,
        };
        let name = &self.name;
        let options = ServeOptions::new(socket_addr(&self.host, self.port), input)
            .pipeline(self.pipeline)
            .server(self.server)
            .web(self.http_port.map(|port| WebOptions {
                listen: socket_addr(&self.host, port),
                config: WebConfig {
                    name: name.clone(),
                    ..self.web.clone()
                },
            }))
            .icecast(self.icecast.iter().map(|url| IcecastTarget {
                url: url.clone(),
                name: name.clone(),
                description: format!("audioMi on {name}"),
            }))
            .rtp(self.rtp.clone().map(|rtp| RtpOptions {
                name: name.clone(),
                ..rtp
            }))
            .tls(tls)
            .announce(self.announce.clone().map(|interface| AnnounceSpec {
                name: name.clone(),
                interface,
            }));
        Station::start(options).await
    }
}

/// A server's default name: this computer's host name and the port, e.g. `studio:26070`, so
/// that several servers on one machine (or machines of one name) announce distinct names.
pub fn default_server_name(port: u16) -> String {
    let host = crate::config::default_receiver_name().unwrap_or_else(|| "audioMi".into());
    format!("{host}:{port}")
}
