//! Work the Server tab runs outside its update: starting a server, closing a preview, and
//! the running server's events in words.

use std::sync::Arc;

use engine::audio::sources::SourceSpec;
use engine::icecast::IcecastUrl;
use engine::preview::Preview;
use engine::server::{ServeSettings, ServerConfig, ServerEvent, ServerHandle};
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

/// Starts a server for `spec` on `host:port`, with the web player on `http_port` if given and
/// publishing to `icecast` if given; errors are in words, placed at the field they
/// concern (a busy port at the port, a bad address at the host, a source that cannot be opened
/// at the source picker).
///
/// # Errors
/// A bad source, a busy port (said plainly), any other start failure.
pub async fn start(
    host: String,
    port: u16,
    checkcode: i32,
    spec: String,
    http_port: Option<u16>,
    icecast: Option<IcecastUrl>,
) -> Result<ServerHandle, Problem> {
    let spec: SourceSpec = spec
        .parse()
        .map_err(|e: engine::Error| Problem::at(Spot::Source, e.to_string()))?;
    ServeSettings {
        server: ServerConfig {
            checkcode,
            ..ServerConfig::default()
        },
        http_port,
        icecast: icecast.into_iter().collect(),
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
        engine::Error::Bind { .. } => Problem::at(Spot::Host, e.to_string()),
        engine::Error::Source { .. } | engine::Error::WavRead { .. } | engine::Error::Config { .. } => {
            Problem::at(Spot::Source, e.to_string())
        }
        _ => Problem::at(Spot::Action, e.to_string()),
    })
}

/// The running server, hashed by its address and identity (a new server restarts the
/// subscription).
pub(super) struct Running(pub(super) ServerHandle);

impl std::hash::Hash for Running {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.local_addr().hash(state);
        (Arc::as_ptr(self.0.hub()) as usize).hash(state);
    }
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
        ServerEvent::Source(Notice::SourceEnded(what)) => {
            format!("{what} ended; streaming silence.")
        }
        ServerEvent::Source(Notice::SourceFailed(why)) => format!("The source failed: {why}"),
        ServerEvent::Source(Notice::SourceRestored(what)) => {
            format!("The source is back ({what}).")
        }
        ServerEvent::Source(Notice::SilenceInserted(_)) => {
            "The source is silent (nothing playing?): streaming silence.".into()
        }
        ServerEvent::Source(Notice::SourceActive) => "The source is delivering audio.".into(),
        ServerEvent::Stopped => "Stopped.".into(),
    }
}
