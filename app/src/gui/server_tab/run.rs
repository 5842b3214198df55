//! Work the Server tab runs outside its update: starting a server, closing a preview, and
//! the running server's events in words.

use std::sync::Arc;

use engine::audio::sources::SourceSpec;
use engine::icecast::IcecastUrl;
use engine::preview::Preview;
use engine::server::{ServerConfig, ServerEvent};
use engine::station::{ServeSettings, Station, TlsSettings};
use iced::Task;

use super::Message;
use crate::gui::form::{Problem, Spot};

/// Closes a preview on a blocking thread (its source stage joins its thread, and a device may
/// take a moment to close).
pub(super) fn close_preview(preview: Option<Arc<Preview>>) -> Task<Message> {
    match preview {
        Some(p) => Task::perform(
            async move {
                let _ = tokio::task::spawn_blocking(move || drop(p)).await;
            },
            |()| Message::PreviewClosed,
        ),
        None => Task::none(),
    }
}

/// What Start serving asks for.
#[derive(Debug, Clone)]
pub struct StartRequest {
    /// Address to listen on.
    pub host: String,
    /// Plaintext port (with `private`: unused, the plaintext port is off).
    pub port: u16,
    /// Checkcode.
    pub checkcode: i32,
    /// Source spec, as `serve --source` takes it.
    pub spec: String,
    /// Repeat a file or folder source (`serve --loop`); without it the source's end ends the
    /// stream and the server stops ("Finished").
    pub looping: bool,
    /// The web player's port (`None`: no web player).
    pub http_port: Option<u16>,
    /// Publish to this Icecast mount.
    pub icecast: Option<IcecastUrl>,
    /// The stream's format (legacy receivers get 16 kHz mono whatever it is).
    pub format: engine::quality::AudioFormat,
    /// Private: TLS and an access key, plaintext port off (`serve --tls --access-key KEY
    /// --no-plain`).
    pub private: Option<Private>,
}

/// A private server's TLS port, key and where its certificate is kept.
#[derive(Debug, Clone)]
pub struct Private {
    /// TLS port ([`engine::secure::DEFAULT_TLS_PORT`] from the window; 0 picks one).
    pub port: u16,
    /// The access key.
    pub key: String,
    /// The folder of the self-signed certificate (the config folder).
    pub identity_dir: std::path::PathBuf,
}

/// Starts a server as `req` says; errors are in words, placed at the field they concern (a
/// busy port at the port, a bad address at the host, a source that cannot be opened at the
/// source picker, a certificate problem at the private switch).
///
/// # Errors
/// A bad source, a busy port (said plainly), any other start failure.
pub async fn start(req: StartRequest) -> Result<Station, Problem> {
    let StartRequest {
        host,
        port,
        checkcode,
        spec,
        looping,
        http_port,
        icecast,
        format,
        private,
    } = req;
    let tls = private.map(|p| TlsSettings {
        port: p.port,
        pem: None,
        identity_dir: p.identity_dir,
        key: Some(p.key),
        plain: false,
    });
    let spec: SourceSpec = spec
        .parse()
        .map_err(|e: engine::Error| Problem::at(Spot::Source, e.to_string()))?;
    ServeSettings {
        looping,
        server: ServerConfig {
            checkcode,
            ..ServerConfig::default()
        },
        pipeline: engine::pipeline::PipelineConfig {
            rate: format.rate,
            channels: format.channels,
            ..engine::pipeline::PipelineConfig::default()
        },
        http_port,
        icecast: icecast.into_iter().collect(),
        tls,
        // Announced over mDNS, like `audiomi serve` (AUDIOMI_MDNS_INTERFACE limits it; the
        // window's own tests stay on the loopback interface).
        announce: Some(if cfg!(test) {
            Some("lo".to_string())
        } else {
            std::env::var("AUDIOMI_MDNS_INTERFACE").ok()
        }),
        ..ServeSettings::new(host, port, spec)
    }
    .start()
    .await
    .map_err(|e| match &e {
        engine::Error::Bind { addr, source }
            if source.kind() == std::io::ErrorKind::AddrInUse
                && http_port.is_some_and(|h| addr.ends_with(&format!(":{h}"))) =>
        {
            Problem::at(Spot::Action, format!("Port {} (the web player) is already in use by another program (another audioMi?). Stop it, or set another HTTP_PORT in .env.", http_port.unwrap_or_default()))
        }
        engine::Error::Bind { source, .. } if source.kind() == std::io::ErrorKind::AddrInUse => {
            Problem::at(Spot::Port, format!("Port {port} is already in use by another program (another audioMi?). Choose another port or stop the other program."))
        }
        engine::Error::Bind { addr, .. } if addr.ends_with(&format!(":{}", engine::secure::DEFAULT_TLS_PORT)) => {
            Problem::at(Spot::Private, format!("The private (TLS) port: {e}"))
        }
        engine::Error::Bind { .. } => Problem::at(Spot::Host, e.to_string()),
        engine::Error::Identity { .. } => Problem::at(Spot::Private, e.to_string()),
        engine::Error::Source { .. } | engine::Error::WavRead { .. } | engine::Error::Config { .. } => {
            Problem::at(Spot::Source, e.to_string())
        }
        _ => Problem::at(Spot::Action, e.to_string()),
    })
}

/// The running server, hashed by its address and identity (a new server restarts the
/// subscription).
pub(super) struct Running(pub(super) Station);

impl std::hash::Hash for Running {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.local_addr().hash(state);
        (Arc::as_ptr(self.0.hub()) as usize).hash(state);
    }
}

/// Refresh ticks of the running server: when the meter, the receivers, the uptime (whole
/// seconds, which also brings the byte counts up to date), the web listeners or an Icecast
/// publisher's state would show something new ([`crate::gui::ticks`]).
pub(super) fn ticks(running: &Running) -> impl futures::Stream<Item = super::Message> + use<> {
    use futures::StreamExt;
    let h = running.0.clone();
    let started = std::time::Instant::now();
    let mut meter = crate::gui::meter::MeterWatch::default();
    crate::gui::ticks::when_changed(move || {
        let meter = meter.update(h.level());
        let clients: Vec<_> = h
            .hub()
            .clients()
            .into_iter()
            .map(|c| (c.id, c.name, c.lag.as_millis() / 100))
            .collect();
        let web = super::web::WebPlayer::watch(&h);
        let icecast = super::icecast::Icecast::watch(&h);
        let uptime = started.elapsed().as_secs();
        (meter, clients, web, icecast, uptime)
    })
    .map(|()| super::Message::Tick)
}

/// A level preview, hashed by its identity.
pub(super) struct Previewing(pub(super) Arc<engine::preview::Preview>);

impl std::hash::Hash for Previewing {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.0) as usize).hash(state);
    }
}

/// Refresh ticks of the level preview: when its meter would show something new.
pub(super) fn preview_ticks(
    preview: &Previewing,
) -> impl futures::Stream<Item = super::Message> + use<> {
    use futures::StreamExt;
    let p = preview.0.clone();
    let mut meter = crate::gui::meter::MeterWatch::default();
    crate::gui::ticks::when_changed(move || meter.update(p.level())).map(|()| super::Message::Tick)
}

/// The running server's events.
pub(super) fn events(running: &Running) -> impl futures::Stream<Item = ServerEvent> + use<> {
    running.0.events()
}

/// A server event in words for the status bar.
pub fn describe(event: &ServerEvent) -> String {
    use engine::pipeline::Notice;
    match event {
        ServerEvent::Listening { addr } => format!("Listening on {addr}."),
        ServerEvent::ClientConnected { addr, clients, .. } => {
            format!("{addr} connected ({clients} connected).")
        }
        ServerEvent::ClientDisconnected {
            addr,
            clients,
            reason,
            ..
        } => format!("{addr} left: {reason} ({clients} connected)."),
        ServerEvent::ClientRefused { addr } => format!("Refused {addr}: too many receivers."),
        ServerEvent::Source(Notice::SourceEnded { what, .. }) => {
            format!("{what} ended: the stream ends with it.")
        }
        ServerEvent::Source(Notice::Finished) => "Finished: the source played to its end.".into(),
        ServerEvent::Source(Notice::SourceFailed(why)) => format!("The source failed: {why}"),
        ServerEvent::Source(Notice::SourceRestored(what)) => {
            format!("The source is back ({what}).")
        }
        ServerEvent::Source(Notice::NowPlaying { track, .. }) if track.artist.is_empty() => {
            format!("Now playing: {}.", track.title)
        }
        ServerEvent::Source(Notice::NowPlaying { track, .. }) => {
            format!("Now playing: {} — {}.", track.title, track.artist)
        }
        ServerEvent::Source(Notice::SilenceInserted(_)) => {
            "The source is silent (nothing playing?): streaming silence.".into()
        }
        ServerEvent::Source(Notice::SourceActive) => "The source is delivering audio.".into(),
        ServerEvent::Stopped => "Stopped.".into(),
        ServerEvent::Text { from, text } => format!("{from}: {text}"),
    }
}
