//! The Receiver tab: connect, record to a WAV file of the user's choosing, optionally listen.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use engine::audio::devices::DeviceInfo;
use engine::audio::playback::PlaybackConfig;
use engine::receiver::{RecordConfig, RecordEvent, RecordingHandle, Summary};
use iced::{Subscription, Task};

use super::chat::ChatPanel;
use super::desktop::{NO_FILE_DIALOG, file_dialog_available, list_devices};
use super::form::{
    Field, Problem, Spot, clear_problem, field, validate_checkcode, validate_host, validate_port,
};
use super::settings::{ReceiverSettings, default_recordings_folder};
use super::widgets::{History, Meter};

mod found;
mod run;
mod update;
mod view;

pub use found::Finder;
#[cfg(test)]
pub use found::sightings;

use run::{EventsRef, events, ticks};
pub use run::{begin, friendly, open_folder, run, validate_duration, validate_out};

/// What the Receiver tab tells the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A recording starts with the fields as they are: the window saves them as settings.
    Starting,
}

/// Where *Listen* plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputChoice {
    /// The system's default output.
    Default,
    /// A device by id (as `--output-device` takes it).
    Device {
        /// cpal's device id.
        id: String,
        /// What the picker shows.
        label: String,
    },
}

impl std::fmt::Display for OutputChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Default => f.write_str("Default output"),
            Self::Device { label, .. } => f.write_str(label),
        }
    }
}

impl OutputChoice {
    fn from_device(d: &DeviceInfo) -> Self {
        Self::Device {
            id: d.id.clone(),
            label: if d.is_default {
                format!("{} (default)", d.name)
            } else {
                d.name.clone()
            },
        }
    }

    /// The device id to play on (`None`: the default output).
    pub fn device(&self) -> Option<String> {
        match self {
            Self::Default => None,
            Self::Device { id, .. } => Some(id.clone()),
        }
    }
}

/// The warning shown when *Listen* would play this machine's default output while receiving
/// from this machine (the same one the CLI logs).
pub const FEEDBACK_WARNING: &str = "Listening on this computer's default output while receiving from this computer: if the server captures that output's loopback, this makes a feedback loop. Pick another output.";

/// The Receiver tab's messages.
#[derive(Debug, Clone)]
pub enum Message {
    /// Host field edited.
    Host(String),
    /// Port field edited.
    Port(String),
    /// Checkcode field edited.
    Checkcode(String),
    /// Duration field edited (seconds; empty for no limit).
    Duration(String),
    /// *Record to* field edited.
    Out(String),
    /// Open the save dialog.
    Browse,
    /// The save dialog closed (None: cancelled, or no dialog could be shown), after this long.
    Browsed(Option<PathBuf>, Duration),
    /// Output devices were listed (for *Listen*).
    Outputs(Result<Vec<DeviceInfo>, String>),
    /// An output for *Listen* was picked.
    OutputSelected(OutputChoice),
    /// Listen toggled.
    Listen(bool),
    /// Auto-reconnect toggled.
    Reconnect(bool),
    /// Connect and record.
    Start,
    /// Recording started (with its event stream), or could not.
    Started(Result<Session, Problem>),
    /// Stop recording.
    Stop,
    /// The recording ended: what is in the file, and the error that ended it, if any.
    Finished(Summary, Option<Problem>),
    /// Something happened while recording.
    Event(RecordEvent),
    /// Refresh counters (when they would show something new, sampled 15 times a second while
    /// recording: [`crate::gui::ticks`]).
    Tick,
    /// Open the folder of the last recording.
    OpenFolder,
    /// The file manager was asked to open it, or could not be (why, in words).
    FolderOpened(Result<(), String>),
    /// A server appeared on, or left, the network (mDNS).
    Sighting(engine::discovery::ServerSighting),
    /// A found server was clicked (its DNS-SD full name).
    Pick(String),
    /// TLS toggled.
    Tls(bool),
    /// Access-key field edited.
    AccessKey(String),
    /// Chat input edited.
    ChatInput(String),
    /// Send the typed chat line to the server.
    ChatSend,
}

/// A recording in progress, shareable through messages.
#[derive(Debug, Clone)]
pub struct Session {
    id: u64,
    handle: RecordingHandle,
}

impl Session {
    /// The recording's events (those so far, then each new one).
    pub fn events(&self) -> impl futures::Stream<Item = RecordEvent> + use<> {
        self.handle.events()
    }
}

/// The Receiver tab's state.
#[derive(Debug)]
pub struct ReceiverTab {
    /// Host field.
    pub host: String,
    /// Port field.
    pub port: String,
    /// Checkcode field.
    pub checkcode: String,
    /// Duration field (seconds, may be empty).
    pub duration: String,
    /// The *Record to* field: the WAV file to write next, typed or browsed.
    pub out: String,
    /// Play while recording.
    pub listen: bool,
    /// The outputs *Listen* can play on (the default first).
    pub outputs: Vec<OutputChoice>,
    /// Where *Listen* plays.
    pub output: OutputChoice,
    /// The last error, shown next to the field or button it concerns.
    pub problem: Option<Problem>,
    /// Whether the file of the current recording was created (audio arrived).
    pub file_created: bool,
    /// Channels of the stream (for the file size).
    pub channels: u16,
    /// Reconnect when the server goes away.
    pub reconnect: bool,
    /// The recording in progress.
    pub session: Option<Session>,
    /// When it started.
    pub started_at: Option<Instant>,
    /// Round-trip time of the last PING/ACK.
    pub rtt: Option<Duration>,
    /// Whether the connection is up.
    pub connected: bool,
    /// Frames written (samples per channel; a stereo frame is two samples).
    pub samples: u64,
    /// The saved file's size in bytes, read from the disk once the recording ended (`None`
    /// while recording: the view then shows what the header and the frames come to).
    pub file_size: Option<u64>,
    /// Stream rate in Hz.
    pub rate: u32,
    /// The track playing ("title — artist"), from a playlist server's NOW_PLAYING.
    pub now_playing: Option<String>,
    /// Bytes received.
    pub bytes: u64,
    /// Seconds of silence written for gaps.
    pub gap_seconds: f64,
    /// Level meter.
    pub meter: Meter,
    /// Level history (waveform).
    pub history: History,
    /// The last finished recording.
    pub last_file: Option<PathBuf>,
    /// The latest event or error, in words.
    pub status: String,
    /// Servers found on the network; TLS, key and pin.
    pub finder: Finder,
    /// The chat of the server being recorded.
    pub chat: ChatPanel,
    folder: Option<PathBuf>,
    next_id: u64,
}

impl ReceiverTab {
    /// A tab with `settings` in its fields.
    pub fn new(settings: &ReceiverSettings) -> Self {
        let mut tab = Self {
            host: settings.host.clone(),
            port: settings.port.clone(),
            checkcode: settings.checkcode.clone(),
            duration: String::new(),
            out: String::new(),
            listen: settings.listen,
            outputs: vec![OutputChoice::Default],
            output: OutputChoice::Default,
            problem: None,
            file_created: false,
            channels: 1,
            reconnect: settings.reconnect,
            session: None,
            started_at: None,
            rtt: None,
            connected: false,
            samples: 0,
            file_size: None,
            rate: 0,
            now_playing: None,
            bytes: 0,
            gap_seconds: 0.0,
            meter: Meter::default(),
            history: History::default(),
            last_file: None,
            status: "Pick a server found on the network, or enter its address, and press Connect & Record.".into(),
            finder: Finder::default(),
            chat: ChatPanel::default(),
            folder: settings.folder.clone(),
            next_id: 1,
        };
        tab.out = tab.fresh_file_name().display().to_string();
        tab
    }

    fn fresh_file_name(&self) -> PathBuf {
        let folder = self
            .folder
            .clone()
            .unwrap_or_else(default_recordings_folder);
        folder.join(format!("audiomi-{}.wav", crate::fmt::timestamp()))
    }

    /// Lists output devices in the background (for *Listen*).
    pub fn list_outputs() -> Task<Message> {
        list_devices(engine::audio::devices::list_outputs).map(Message::Outputs)
    }

    /// The feedback warning, when it applies: listening on the default output to a server on
    /// this machine.
    pub fn feedback_warning(&self) -> Option<String> {
        (self.listen && engine::config::feedback_risk(&self.host, self.output.device().as_deref()))
            .then(|| FEEDBACK_WARNING.to_string())
    }

    /// The fields as settings.
    pub fn settings(&self) -> ReceiverSettings {
        ReceiverSettings {
            host: self.host.clone(),
            port: self.port.clone(),
            checkcode: self.checkcode.clone(),
            folder: self.folder.clone(),
            listen: self.listen,
            reconnect: self.reconnect,
        }
    }

    fn fields(&self) -> (Field<String>, Field<u16>, Field<i32>, Field<Option<f64>>) {
        (
            field(&self.host, validate_host),
            field(&self.port, validate_port),
            field(&self.checkcode, validate_checkcode),
            field(&self.duration, validate_duration),
        )
    }

    /// Whether Connect & Record can be pressed.
    pub fn can_start(&self) -> bool {
        let (h, p, c, d) = self.fields();
        self.session.is_none()
            && h.ok()
            && p.ok()
            && c.ok()
            && d.ok()
            && validate_out(&self.out).is_ok()
            && self.finder.key_error().is_none()
    }

    /// A one-line summary for the window title.
    pub fn title(&self) -> Option<String> {
        self.session.as_ref().map(|_| {
            format!(
                "recording {}",
                PathBuf::from(&self.out)
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().to_string())
            )
        })
    }

    /// Handles a message. Returns the work to run and, when a recording starts,
    /// [`Event::Starting`] (the parent saves the settings the tab started with).
    pub fn update(&mut self, message: Message) -> (Task<Message>, Option<Event>) {
        let starting = matches!(message, Message::Start) && self.can_start();
        (self.handle(message), starting.then_some(Event::Starting))
    }

    /// Servers on the network (always), and while recording its events and refresh ticks.
    pub fn subscription(&self) -> Subscription<Message> {
        let found = Subscription::run(found::sightings).map(Message::Sighting);
        match &self.session {
            Some(s) => Subscription::batch([
                found,
                Subscription::run_with(EventsRef(s.clone()), events).map(Message::Event),
                Subscription::run_with(EventsRef(s.clone()), ticks),
            ]),
            None => found,
        }
    }
}
