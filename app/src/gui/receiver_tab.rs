//! The Receiver tab: connect, record to a WAV file of the user's choosing, optionally listen.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use engine::audio::devices::DeviceInfo;
use engine::audio::playback::PlaybackConfig;
use engine::receiver::{RecordConfig, RecordEvent, RecordingHandle, Summary};
use iced::widget::{button, canvas, checkbox, column, pick_list, row, text};
use iced::{Element, Length, Subscription, Task};

use super::settings::{ReceiverSettings, default_recordings_folder};
use super::widgets::{History, Meter};
use super::{
    Field, NO_FILE_DIALOG, Problem, Spot, field, field_error, field_warning, file_dialog_available,
    form_row, human_bytes, human_duration, input, problem_at, validate_checkcode, validate_host,
    validate_port,
};

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
    /// Refresh counters (~30 times a second while recording).
    Tick,
    /// Open the folder of the last recording.
    OpenFolder,
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
    /// Samples written.
    pub samples: u64,
    /// Stream rate in Hz.
    pub rate: u32,
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
            rate: 0,
            bytes: 0,
            gap_seconds: 0.0,
            meter: Meter::default(),
            history: History::default(),
            last_file: None,
            status: "Enter the server's address and press Connect & Record.".into(),
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
        super::list_devices(engine::audio::devices::list_outputs).map(Message::Outputs)
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

    /// Handles a message.
    pub fn update(&mut self, message: Message) -> Task<Message> {
        match message {
            Message::Host(v) => {
                super::clear_problem(&mut self.problem, Spot::Host);
                self.host = v;
            }
            Message::Port(v) => {
                super::clear_problem(&mut self.problem, Spot::Host);
                super::clear_problem(&mut self.problem, Spot::Port);
                self.port = v;
            }
            Message::Checkcode(v) => {
                super::clear_problem(&mut self.problem, Spot::Checkcode);
                self.checkcode = v;
            }
            Message::Duration(v) => self.duration = v,
            Message::Out(v) => {
                super::clear_problem(&mut self.problem, Spot::File);
                self.out = v;
            }
            Message::Listen(v) => {
                super::clear_problem(&mut self.problem, Spot::Output);
                self.listen = v;
            }
            Message::Reconnect(v) => self.reconnect = v,
            Message::Outputs(Ok(list)) => {
                self.outputs = std::iter::once(OutputChoice::Default)
                    .chain(list.iter().map(OutputChoice::from_device))
                    .collect();
                if !self.outputs.contains(&self.output) {
                    self.output = OutputChoice::Default;
                }
            }
            Message::Outputs(Err(e)) => {
                tracing::warn!(error = %e, "cannot list output devices");
            }
            Message::OutputSelected(choice) => {
                super::clear_problem(&mut self.problem, Spot::Output);
                self.output = choice;
            }
            Message::Browse if !file_dialog_available() => {
                self.problem = Some(Problem::at(Spot::File, NO_FILE_DIALOG));
            }
            Message::Browse => {
                let out = PathBuf::from(&self.out);
                let dir = out.parent().map(PathBuf::from);
                let name = out
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                return Task::perform(
                    async move {
                        let opened = Instant::now();
                        let mut dialog = rfd::AsyncFileDialog::new()
                            .add_filter("WAV audio", &["wav"])
                            .set_title("Record to…")
                            .set_file_name(name);
                        if let Some(d) = dir {
                            dialog = dialog.set_directory(d);
                        }
                        let chosen = dialog.save_file().await.map(|f| f.path().to_path_buf());
                        (chosen, opened.elapsed())
                    },
                    |(chosen, took)| Message::Browsed(chosen, took),
                );
            }
            Message::Browsed(Some(mut path), _) => {
                if path.extension().is_none() {
                    path.set_extension("wav");
                }
                super::clear_problem(&mut self.problem, Spot::File);
                self.folder = path.parent().map(PathBuf::from);
                self.out = path.display().to_string();
            }
            // No person cancels a dialog within a quarter of a second: none was shown (rfd
            // found neither the desktop portal nor zenity).
            Message::Browsed(None, took) if took < Duration::from_millis(250) => {
                self.problem = Some(Problem::at(Spot::File, NO_FILE_DIALOG));
            }
            Message::Browsed(None, _) => {}
            Message::Start => {
                if !self.can_start() {
                    return Task::none();
                }
                let (h, p, c, d) = self.fields();
                let (Some(host), Some(port), Some(checkcode), Some(duration), Ok(out)) =
                    (h.value, p.value, c.value, d.value, validate_out(&self.out))
                else {
                    return Task::none();
                };
                let mut out = out;
                // The save dialog asked about replacing; a stale default name gets a fresh one.
                if out.exists()
                    && out
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("audiomi-"))
                {
                    out = self.fresh_file_name();
                    self.out = out.display().to_string();
                }
                let mut config = RecordConfig::new(engine::config::socket_addr(&host, port), out);
                config.checkcode = checkcode;
                config.overwrite = true;
                config.duration = duration.map(Duration::from_secs_f64);
                config.reconnect = self.reconnect;
                config.name = engine::config::default_receiver_name();
                let id = self.next_id;
                self.next_id += 1;
                self.status = format!("Connecting to {host}:{port}…");
                self.problem = None;
                self.reset_counters();
                let playback = self.listen.then(|| PlaybackConfig {
                    device: self.output.device(),
                    ..PlaybackConfig::default()
                });
                return Task::perform(begin(id, config, playback), Message::Started);
            }
            Message::Started(Ok(session)) => {
                self.started_at = Some(Instant::now());
                if let Some((device, _)) = session.handle.player() {
                    self.status = format!("Connecting… (listening on {device})");
                }
                self.session = Some(session.clone());
                return Task::perform(run(session), |(summary, error)| {
                    Message::Finished(summary, error)
                });
            }
            Message::Started(Err(problem)) => {
                self.status = problem.text.clone();
                self.problem = Some(problem);
            }
            Message::Stop => {
                if let Some(s) = &self.session {
                    s.handle.stop();
                    self.status = "Stopping…".into();
                }
            }
            Message::Finished(summary, problem) => {
                self.session = None;
                self.meter = Meter::default();
                self.connected = false;
                self.started_at = None;
                let saved = summary
                    .path
                    .as_ref()
                    .map(|p| format!("Saved {} ({:.1} s).", p.display(), summary.seconds()));
                self.status = match (&problem, saved) {
                    (Some(e), Some(s)) => format!("{} {s}", e.text),
                    (Some(e), None) => e.text.clone(),
                    (None, Some(s)) => s,
                    (None, None) => "Stopped.".into(),
                };
                self.problem = problem;
                // Only a file that holds audio becomes the last recording (the engine leaves no
                // file when nothing arrived).
                if let Some(p) = summary.path.filter(|_| summary.samples > 0) {
                    self.last_file = Some(p);
                    self.out = self.fresh_file_name().display().to_string();
                }
            }
            Message::Event(e) => self.on_event(e),
            Message::Tick => {
                if let Some(s) = &self.session {
                    self.samples = s.handle.stats().samples.load(Ordering::Relaxed);
                    self.rate = s.handle.stats().sample_rate.load(Ordering::Relaxed);
                    self.channels =
                        u16::try_from(s.handle.stats().channels.load(Ordering::Relaxed).max(1))
                            .unwrap_or(1);
                    self.bytes = s.handle.stats().bytes_received.load(Ordering::Relaxed);
                    let level = if self.connected {
                        s.handle.stats().level()
                    } else {
                        engine::audio::level::Level::SILENCE
                    };
                    self.meter.update(level);
                    self.history.push(self.meter.rms);
                }
            }
            Message::OpenFolder => {
                if let Some(dir) = self.last_file.as_ref().and_then(|p| p.parent()) {
                    open_folder(dir);
                }
            }
        }
        Task::none()
    }

    fn reset_counters(&mut self) {
        self.rtt = None;
        self.connected = false;
        self.samples = 0;
        self.bytes = 0;
        self.gap_seconds = 0.0;
        self.file_created = false;
        self.meter = Meter::default();
        self.history = History::default();
    }

    fn on_event(&mut self, e: RecordEvent) {
        match e {
            RecordEvent::Connecting { attempt } if attempt > 1 => {
                self.status = format!("Reconnecting (attempt {attempt})…");
            }
            RecordEvent::Connecting { .. } => {}
            RecordEvent::Connected { addr } => {
                self.connected = true;
                self.status = format!("Connected to {addr}; waiting for the server's answer…");
            }
            RecordEvent::Acked { rtt } => {
                self.rtt = Some(rtt);
                self.status = format!("Recording to {}.", self.out);
            }
            RecordEvent::Format(f) => {
                self.rate = f.sample_rate;
            }
            RecordEvent::FileCreated { path } => {
                self.file_created = true;
                self.status = format!("Recording to {}.", path.display());
            }
            RecordEvent::Gap {
                seconds, reason, ..
            } => {
                self.gap_seconds += seconds;
                self.status = format!("Filled {seconds:.2} s of silence ({reason}).");
            }
            RecordEvent::Lost { reason } => {
                self.connected = false;
                self.status = format!(
                    "{} {}",
                    friendly(&reason),
                    if self.reconnect {
                        "Reconnecting…"
                    } else {
                        ""
                    }
                )
                .trim_end()
                .to_string();
            }
        }
    }

    /// Events of the recording, and a ~30 Hz tick.
    pub fn subscription(&self) -> Subscription<Message> {
        match &self.session {
            Some(s) => Subscription::batch([
                Subscription::run_with(EventsRef(s.clone()), events).map(Message::Event),
                iced::time::every(Duration::from_millis(33)).map(|_| Message::Tick),
            ]),
            None => Subscription::none(),
        }
    }

    /// The tab's content.
    pub fn view(&self) -> Element<'_, Message> {
        let (h, p, c, d) = self.fields();
        let problem = self.problem.as_ref();
        let editable = self.session.is_none();
        let out_error = validate_out(&self.out)
            .err()
            .or_else(|| problem_at(problem, Spot::File));
        let form = column![
            form_row(
                [
                    (
                        "Server",
                        "localhost",
                        &self.host,
                        "receiver-host",
                        Message::Host,
                        h.error.or_else(|| problem_at(problem, Spot::Host))
                    ),
                    (
                        "Port",
                        "26070",
                        &self.port,
                        "receiver-port",
                        Message::Port,
                        p.error.or_else(|| problem_at(problem, Spot::Port))
                    ),
                    (
                        "Checkcode",
                        "20250918",
                        &self.checkcode,
                        "receiver-checkcode",
                        Message::Checkcode,
                        c.error.or_else(|| problem_at(problem, Spot::Checkcode))
                    ),
                ],
                [3, 1, 2],
                editable,
                Message::Start,
            ),
            text("Record to"),
            row![
                input(
                    "a .wav file",
                    &self.out,
                    "receiver-file",
                    Message::Out,
                    editable,
                    Message::Start
                )
                .width(Length::Fill),
                button("Browse…").on_press_maybe(editable.then_some(Message::Browse)),
            ]
            .spacing(8),
            field_error(out_error),
            row![
                text("Stop after"),
                input(
                    "no limit",
                    &self.duration,
                    "receiver-duration",
                    Message::Duration,
                    editable,
                    Message::Start
                )
                .width(Length::Fixed(90.0)),
                text("seconds"),
                field_error(d.error),
            ]
            .spacing(8)
            .align_y(iced::Alignment::Center),
            row![
                checkbox(self.listen)
                    .label("Listen on")
                    .on_toggle_maybe(editable.then_some(Message::Listen)),
                pick_list(
                    self.outputs.clone(),
                    Some(self.output.clone()),
                    Message::OutputSelected
                )
                .width(Length::Fixed(260.0)),
                checkbox(self.reconnect)
                    .label("Auto-reconnect")
                    .on_toggle_maybe(editable.then_some(Message::Reconnect)),
            ]
            .spacing(16)
            .align_y(iced::Alignment::Center),
            field_error(problem_at(problem, Spot::Output)),
            field_warning(self.feedback_warning()),
        ]
        .spacing(6);
        let action = if self.session.is_some() {
            button("Stop").on_press(Message::Stop)
        } else {
            button("Connect & Record").on_press_maybe(self.can_start().then_some(Message::Start))
        };
        let action = row![action, field_error(problem_at(problem, Spot::Action))]
            .spacing(12)
            .align_y(iced::Alignment::Center);
        let ping = match (self.connected, self.rtt) {
            (true, Some(rtt)) => format!("ACK in {:.1} ms", rtt.as_secs_f64() * 1000.0),
            (true, None) => "PING sent".into(),
            (false, _) if self.session.is_some() => "not connected".into(),
            _ => "—".into(),
        };
        let elapsed = self
            .started_at
            .map_or_else(|| "—".to_string(), |t| human_duration(t.elapsed()));
        let seconds = if self.rate > 0 {
            self.samples as f64 / f64::from(self.rate)
        } else {
            0.0
        };
        // The file exists only once audio arrived: its size is the 44-byte header plus PCM16.
        let file = if self.file_created {
            human_bytes(44 + self.samples * 2 * u64::from(self.channels))
        } else {
            "—".into()
        };
        let counters = column![
            row![
                text(format!("Ping: {ping}")),
                text(format!("Elapsed: {elapsed}")),
                text(format!("Recorded: {seconds:.1} s"))
            ]
            .spacing(24),
            row![
                text(format!("Samples: {}", self.samples)),
                text(format!("File: {file}")),
                text(format!("Received: {}", human_bytes(self.bytes))),
                text(format!("Gaps filled: {:.2} s", self.gap_seconds)),
            ]
            .spacing(24),
        ]
        .spacing(6);
        let last: Element<'_, Message> = match (&self.last_file, self.session.is_none()) {
            (Some(p), true) => row![
                text(format!("Last recording: {}", p.display())).width(Length::Fill),
                button("Open folder").on_press(Message::OpenFolder)
            ]
            .spacing(8)
            .into(),
            _ => text("").into(),
        };
        column![
            form,
            action,
            self.meter.view("Level"),
            canvas(&self.history)
                .width(Length::Fill)
                .height(Length::Fixed(48.0)),
            counters,
            last,
        ]
        .spacing(12)
        .into()
    }
}

/// Parses the *Record to* field: a file path, not a folder. (A folder that does not exist or
/// cannot be written is found when recording starts, before connecting, and shown at the field.)
///
/// # Errors
/// A message for an empty path or a folder.
pub fn validate_out(v: &str) -> Result<PathBuf, String> {
    let v = v.trim();
    if v.is_empty() {
        return Err("type the path of a .wav file, or Browse…".into());
    }
    let path = PathBuf::from(v);
    if path.is_dir() || v.ends_with(std::path::MAIN_SEPARATOR) {
        return Err("this is a folder: add a file name, e.g. recording.wav".into());
    }
    Ok(path)
}

/// Parses the duration field: empty is no limit.
///
/// # Errors
/// A message for anything but a positive number of seconds.
pub fn validate_duration(v: &str) -> Result<Option<f64>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    match v.parse::<f64>() {
        Ok(d) if d.is_finite() && d > 0.0 => Ok(Some(d)),
        _ => Err("a positive number of seconds, or empty".into()),
    }
}

/// Turns engine error texts into advice a user can act on.
pub fn friendly(e: &str) -> String {
    if e.contains("Connection refused") {
        format!(
            "Nobody is serving at that address and port (connection refused). Is the server started? ({e})"
        )
    } else if e.contains("wrong checkcode") {
        format!(
            "The server rejected us: the checkcode differs from the server's (or it is not an audioMi server). ({e})"
        )
    } else if e.contains("did not answer PING") {
        format!("Something answers at that address, but not as an audioMi server. ({e})")
    } else if e.contains("nothing was received") {
        format!("Nothing was recorded, so no file was written. ({e})")
    } else if e.contains("timed out") {
        format!("The server did not answer in time: check the address and any firewall. ({e})")
    } else if e.contains("Permission denied")
        || e.contains("No such file or directory") && e.contains("cannot write")
    {
        format!("The file cannot be written there: choose another folder. ({e})")
    } else {
        e.to_string()
    }
}

/// Where an engine error is shown: next to the field it concerns, in words a user can act on.
pub fn place(e: &engine::Error) -> Problem {
    use engine::Error as E;
    let text = friendly(&e.to_string());
    let spot = match e {
        E::Connect { .. } | E::ConnectTimeout { .. } | E::NoAnswer { .. } => Spot::Host,
        E::NotAudiomi { .. } => Spot::Checkcode,
        E::Protocol {
            source: wire::Error::WrongCheckcode { .. },
            ..
        } => Spot::Checkcode,
        E::WavWrite { .. } | E::FileExists { .. } | E::OutputIsDirectory { .. } => Spot::File,
        _ => Spot::Action,
    };
    Problem::at(spot, text)
}

/// Starts recording `config` (opening the player with `playback`, if any): the session to hand
/// to [`Message::Started`].
///
/// # Errors
/// The file cannot be written (shown at *Record to*) or the output device cannot be opened
/// (shown at the output picker).
pub async fn begin(
    id: u64,
    config: RecordConfig,
    playback: Option<PlaybackConfig>,
) -> Result<Session, Problem> {
    let listening = playback.is_some();
    RecordingHandle::start(config, playback)
        .await
        .map(|handle| Session { id, handle })
        .map_err(|e| match place(&e) {
            Problem {
                spot: Spot::Action, ..
            } if listening => Problem::at(Spot::Output, format!("Cannot play: {e}")),
            p => p,
        })
}

/// Waits for the recording of `session` to end: what is in the file, and the error that ended
/// it (placed at the field it concerns).
pub async fn run(session: Session) -> (Summary, Option<Problem>) {
    let finished = session.handle.finished().await;
    (finished.summary, finished.error.map(|e| place(&e)))
}

struct EventsRef(Session);

impl std::hash::Hash for EventsRef {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.id.hash(state);
    }
}

fn events(session: &EventsRef) -> impl futures::Stream<Item = RecordEvent> + use<> {
    session.0.events()
}

fn open_folder(dir: &std::path::Path) {
    let program = if cfg!(target_os = "windows") {
        "explorer"
    } else if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    if let Err(e) = std::process::Command::new(program).arg(dir).spawn() {
        tracing::warn!(error = %e, dir = %dir.display(), "cannot open the folder");
    }
}
