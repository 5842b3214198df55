//! The Server tab: pick a source, start serving, watch level and clients.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use engine::audio::devices::DeviceInfo;
use engine::audio::sources::SourceSpec;
use engine::pipeline::{Notice, PipelineConfig};
use engine::preview::Preview;
use engine::server::{ClientInfo, ServerEvent};
use engine::station::Station;
use iced::{Subscription, Task};

use super::chat::ChatPanel;
use super::desktop::{NO_FILE_DIALOG, file_dialog_available, list_devices};
use super::form::{
    Field, Problem, Spot, clear_problem, field, validate_checkcode, validate_host, validate_port,
};
use super::settings::ServerSettings;
use super::widgets::Meter;

pub mod icecast;
mod quality;
mod run;
mod source;
mod update;
pub(super) mod view;
pub mod web;

pub use quality::Quality;
use run::{Previewing, Running, close_preview, events, preview_ticks, ticks};
pub use run::{Private, StartRequest, describe, start};
pub use source::SourceChoice;

/// What the Server tab tells the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Serving starts with the fields as they are: the window saves them as settings.
    Starting,
}

/// The Server tab's messages.
#[derive(Debug, Clone)]
pub enum Message {
    /// Re-list devices.
    Refresh,
    /// Devices were listed.
    Listed(Result<Vec<DeviceInfo>, String>),
    /// A source was picked.
    SourceSelected(SourceChoice),
    /// The path of an audio file or folder source was typed.
    SourcePath(String),
    /// *Loop* toggled (a file or folder source).
    Loop(bool),
    /// A quality (stream format) was picked.
    QualitySelected(Quality),
    /// The WAV file dialog closed (None: cancelled).
    FilePicked(Option<PathBuf>),
    /// The folder dialog closed (None: cancelled).
    FolderPicked(Option<PathBuf>),
    /// Host field edited.
    Host(String),
    /// Port field edited.
    Port(String),
    /// Checkcode field edited.
    Checkcode(String),
    /// Web-player port field edited (empty: no web player).
    HttpPort(String),
    /// An Icecast field edited.
    Icecast(icecast::Message),
    /// The *Private (TLS + key)* switch.
    Private(bool),
    /// Chat input edited.
    ChatInput(String),
    /// Send the typed chat line to every receiver that takes chat.
    ChatSend,
    /// Access-key field edited.
    AccessKey(String),
    /// Start serving.
    Start,
    /// The server started, or could not.
    Started(Result<Station, Problem>),
    /// Stop serving.
    Stop,
    /// The server stopped.
    Stopped(Result<(), String>),
    /// Something happened in the server.
    Event(ServerEvent),
    /// Refresh level, clients and counters (when they would show something new, sampled 15
    /// times a second while serving or previewing: [`crate::gui::ticks`]).
    Tick,
    /// A level preview of the selected source started (its generation), or could not.
    PreviewStarted(u64, Result<Arc<Preview>, String>),
    /// A replaced preview was closed (on a blocking thread).
    PreviewClosed,
}

/// The Server tab's state.
#[derive(Debug)]
pub struct ServerTab {
    /// Picker entries.
    pub sources: Vec<SourceChoice>,
    /// The picked entry.
    pub selected: Option<SourceChoice>,
    /// Host field.
    pub host: String,
    /// Port field.
    pub port: String,
    /// Checkcode field.
    pub checkcode: String,
    /// The running server.
    pub running: Option<Station>,
    /// When it started.
    pub started_at: Option<Instant>,
    /// A start or stop is under way.
    pub busy: bool,
    /// The source played to its end: the server stops because of it.
    pub finished: bool,
    /// Level meter.
    pub meter: Meter,
    /// Connected clients (refreshed on each tick).
    pub clients: Vec<ClientInfo>,
    /// Bytes sent so far.
    pub bytes: u64,
    /// The latest event or error, in words.
    pub status: String,
    /// The last error, shown next to the field or button it concerns.
    pub problem: Option<Problem>,
    /// The level preview of the selected source while not serving.
    pub preview: Option<Arc<Preview>>,
    /// Counts previews started; a preview that opens after a newer one was asked for is closed.
    pub preview_generation: u64,
    /// The file or folder source's path as typed (or as the dialog chose it).
    pub source_path: String,
    /// Repeat a file or folder source (on by default); off, its end stops the server.
    pub looping: bool,
    /// The web player's port field and, while serving, its URL and listeners.
    pub web: web::WebPlayer,
    /// The Icecast output's fields and publishers.
    pub icecast: icecast::Icecast,
    /// Serve privately: TLS and an access key, no plaintext port (the web player is HTTPS and
    /// asks for the key).
    pub private: bool,
    /// The access key (shown as dots, never saved).
    pub access_key: String,
    /// While serving privately: the TLS port and the certificate's fingerprint.
    pub tls: Option<(u16, String)>,
    /// The chat with the receivers.
    pub chat: ChatPanel,
    /// The stream's format (the *Quality* pick).
    pub quality: Quality,
    wanted_source: Option<String>,
    label_generation: u32,
}

impl ServerTab {
    /// A tab with `settings` in its fields; the device list comes with [`Message::Listed`].
    pub fn new(settings: &ServerSettings) -> Self {
        Self {
            sources: vec![
                SourceChoice::WavFile(None),
                SourceChoice::Folder(None),
                SourceChoice::Tone,
            ],
            selected: None,
            host: settings.host.clone(),
            port: settings.port.clone(),
            checkcode: settings.checkcode.clone(),
            running: None,
            started_at: None,
            busy: false,
            finished: false,
            meter: Meter::default(),
            clients: Vec::new(),
            bytes: 0,
            status: "Pick a source and press Start serving.".into(),
            problem: None,
            preview: None,
            preview_generation: 0,
            source_path: String::new(),
            looping: true,
            web: web::WebPlayer::new(&settings.http_port),
            icecast: icecast::Icecast::new(&settings.icecast_url),
            private: false,
            access_key: String::new(),
            tls: None,
            chat: ChatPanel::default(),
            quality: Quality::from_saved(&settings.format),
            wanted_source: settings.source.clone(),
            label_generation: 0,
        }
    }

    /// The fields as settings.
    pub fn settings(&self) -> ServerSettings {
        ServerSettings {
            host: self.host.clone(),
            port: self.port.clone(),
            checkcode: self.checkcode.clone(),
            source: self.selected.as_ref().and_then(SourceChoice::spec),
            http_port: self.web.port.clone(),
            icecast_url: self.icecast.url.clone(),
            format: self.quality.0.to_string(),
        }
    }

    /// Lists devices in the background.
    pub fn refresh() -> Task<Message> {
        list_devices(engine::audio::devices::list_sources).map(Message::Listed)
    }

    /// Why the access key cannot be used (private mode needs one), if so.
    /// The web player's port from its field (`None`: no web player).
    ///
    /// # Errors
    /// What is wrong with the field, in words.
    pub fn web_port(&self) -> Result<Option<u16>, String> {
        self.web.parsed(&self.port)
    }

    fn key_error(&self) -> Option<String> {
        (self.private && self.access_key.trim().is_empty())
            .then(|| "A private server needs an access key: receivers must type it.".into())
    }

    fn fields(&self) -> (Field<String>, Field<u16>, Field<i32>) {
        (
            field(&self.host, validate_host),
            field(&self.port, validate_port),
            field(&self.checkcode, validate_checkcode),
        )
    }

    /// Whether Start can be pressed.
    pub fn can_start(&self) -> bool {
        let (h, p, c) = self.fields();
        self.running.is_none()
            && !self.busy
            && h.ok()
            && p.ok()
            && c.ok()
            && self.icecast.parsed().ok()
            && self.web_port().is_ok()
            && self.key_error().is_none()
            && self
                .selected
                .as_ref()
                .and_then(SourceChoice::spec)
                .is_some()
    }

    /// A one-line summary for the window title.
    pub fn title(&self) -> Option<String> {
        self.running.as_ref().map(|h| {
            format!(
                "serving on port {} ({} clients)",
                h.local_addr().port(),
                self.clients.len()
            )
        })
    }

    /// Handles a message. Returns the work to run and, when serving starts, [`Event::Starting`]
    /// (the parent saves the settings the tab started with).
    pub fn update(&mut self, message: Message) -> (Task<Message>, Option<Event>) {
        let before = self.selected.clone();
        let starting = matches!(message, Message::Start) && self.can_start();
        let task = self.handle(message);
        let event = starting.then_some(Event::Starting);
        if self.selected != before {
            self.label_generation = self.label_generation.wrapping_add(1);
            if self
                .problem
                .as_ref()
                .is_some_and(|p| p.spot == Spot::Source)
            {
                self.problem = None;
            }
            return (Task::batch([task, self.restart_preview()]), event);
        }
        (task, event)
    }

    /// Starts a level preview of the selected source (closing the previous one), unless serving.
    pub fn restart_preview(&mut self) -> Task<Message> {
        self.preview_generation += 1;
        let closed = close_preview(self.preview.take());
        let spec = self.selected.as_ref().and_then(SourceChoice::spec);
        let Some(spec) = spec.filter(|_| self.running.is_none() && !self.busy) else {
            return closed;
        };
        let generation = self.preview_generation;
        let open = Task::perform(
            async move {
                let spec: SourceSpec = spec.parse().map_err(|e: engine::Error| e.to_string())?;
                tokio::task::spawn_blocking(move || {
                    Preview::start(&spec, PipelineConfig::default()).map(Arc::new)
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())
            },
            move |r| Message::PreviewStarted(generation, r),
        );
        Task::batch([closed, open])
    }

    /// Events of the running server, and refresh ticks for the meter and counters (serving or
    /// previewing) when they change.
    pub fn subscription(&self) -> Subscription<Message> {
        match (&self.running, &self.preview) {
            (Some(h), _) => Subscription::batch([
                Subscription::run_with(Running(h.clone()), events).map(Message::Event),
                Subscription::run_with(Running(h.clone()), ticks),
            ]),
            (None, Some(p)) => Subscription::run_with(Previewing(p.clone()), preview_ticks),
            (None, None) => Subscription::none(),
        }
    }
}
