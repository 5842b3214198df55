//! The Receiver tab: connect, record to a WAV file of the user's choosing, optionally listen.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use engine::playback::{PlaybackConfig, Player};
use engine::receiver::{self, RecordConfig, RecordEvent, RecordStats, Summary};
use iced::widget::{button, canvas, checkbox, column, row, text};
use iced::{Element, Length, Subscription, Task};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

use super::settings::{ReceiverSettings, default_recordings_folder};
use super::widgets::{History, Meter};
use super::{
    Field, field, field_error, form_row, human_bytes, human_duration, input, validate_checkcode,
    validate_host, validate_port,
};

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
    /// Open the save dialog.
    Browse,
    /// The save dialog closed (None: cancelled).
    Browsed(Option<PathBuf>),
    /// Listen toggled.
    Listen(bool),
    /// Auto-reconnect toggled.
    Reconnect(bool),
    /// Connect and record.
    Start,
    /// Recording started (with its event stream), or could not.
    Started(Result<Session, String>),
    /// Stop recording.
    Stop,
    /// The recording ended: what is in the file, and the error that ended it, if any.
    Finished(Summary, Option<String>),
    /// Something happened while recording.
    Event(RecordEvent),
    /// Refresh counters (~30 times a second while recording).
    Tick,
    /// Open the folder of the last recording.
    OpenFolder,
}

/// A recording in progress, shareable through messages.
#[derive(Clone)]
pub struct Session {
    id: u64,
    token: CancellationToken,
    stats: Arc<RecordStats>,
    events: Arc<std::sync::Mutex<Option<UnboundedReceiver<RecordEvent>>>>,
    /// What [`run`] needs, taken out once (the engine's parts are not `Clone`, messages must be).
    pending: Arc<std::sync::Mutex<Option<PendingRun>>>,
    player: Option<String>,
}

impl Session {
    /// Takes the receiver of the recording's events (once; the subscription does this).
    pub fn take_events(&self) -> Option<UnboundedReceiver<RecordEvent>> {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

type PendingRun = (
    RecordConfig,
    tokio::sync::mpsc::UnboundedSender<RecordEvent>,
    Option<Arc<Player>>,
);

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session({})", self.id)
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
    /// The WAV file to write next.
    pub out: PathBuf,
    /// Play while recording.
    pub listen: bool,
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
            out: PathBuf::new(),
            listen: settings.listen,
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
        tab.out = tab.fresh_file_name();
        tab
    }

    fn fresh_file_name(&self) -> PathBuf {
        let folder = self
            .folder
            .clone()
            .unwrap_or_else(default_recordings_folder);
        folder.join(format!("audiomi-{}.wav", crate::cli::timestamp()))
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
            && !self.out.as_os_str().is_empty()
    }

    /// A one-line summary for the window title.
    pub fn title(&self) -> Option<String> {
        self.session.as_ref().map(|_| {
            format!(
                "recording {}",
                self.out
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().to_string())
            )
        })
    }

    /// Handles a message.
    pub fn update(&mut self, message: Message) -> Task<Message> {
        match message {
            Message::Host(v) => self.host = v,
            Message::Port(v) => self.port = v,
            Message::Checkcode(v) => self.checkcode = v,
            Message::Duration(v) => self.duration = v,
            Message::Listen(v) => self.listen = v,
            Message::Reconnect(v) => self.reconnect = v,
            Message::Browse => {
                let dir = self.out.parent().map(PathBuf::from);
                let name = self
                    .out
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                return Task::perform(
                    async move {
                        let mut dialog = rfd::AsyncFileDialog::new()
                            .add_filter("WAV audio", &["wav"])
                            .set_title("Record to…")
                            .set_file_name(name);
                        if let Some(d) = dir {
                            dialog = dialog.set_directory(d);
                        }
                        dialog.save_file().await.map(|f| f.path().to_path_buf())
                    },
                    Message::Browsed,
                );
            }
            Message::Browsed(Some(mut path)) => {
                if path.extension().is_none() {
                    path.set_extension("wav");
                }
                self.folder = path.parent().map(PathBuf::from);
                self.out = path;
            }
            Message::Browsed(None) => {}
            Message::Start => {
                if !self.can_start() {
                    return Task::none();
                }
                let (h, p, c, d) = self.fields();
                let (Some(host), Some(port), Some(checkcode), Some(duration)) =
                    (h.value, p.value, c.value, d.value)
                else {
                    return Task::none();
                };
                if self.out.exists() {
                    // The save dialog asked about replacing; a stale default name gets a fresh one.
                    if self
                        .out
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("audiomi-"))
                    {
                        self.out = self.fresh_file_name();
                    }
                }
                let mut config =
                    RecordConfig::new(engine::config::socket_addr(&host, port), self.out.clone());
                config.checkcode = checkcode;
                config.overwrite = true;
                config.duration = duration.map(Duration::from_secs_f64);
                config.reconnect = self.reconnect;
                let id = self.next_id;
                self.next_id += 1;
                self.status = format!("Connecting to {host}:{port}…");
                self.reset_counters();
                let listen = self.listen;
                return Task::perform(begin(id, config, listen), Message::Started);
            }
            Message::Started(Ok(session)) => {
                self.started_at = Some(Instant::now());
                if let Some(device) = &session.player {
                    self.status = format!("Connecting… (listening on {device})");
                }
                let token = session.token.clone();
                self.session = Some(session.clone());
                return Task::perform(run(session), move |(summary, error)| {
                    token.cancel();
                    Message::Finished(summary, error)
                });
            }
            Message::Started(Err(e)) => self.status = e,
            Message::Stop => {
                if let Some(s) = &self.session {
                    s.token.cancel();
                    self.status = "Stopping…".into();
                }
            }
            Message::Finished(summary, error) => {
                self.session = None;
                self.meter = Meter::default();
                self.connected = false;
                self.started_at = None;
                let saved = summary
                    .path
                    .as_ref()
                    .map(|p| format!("Saved {} ({:.1} s).", p.display(), summary.seconds()));
                self.status = match (error, saved) {
                    (Some(e), Some(s)) => format!("{} {s}", friendly(&e)),
                    (Some(e), None) => friendly(&e),
                    (None, Some(s)) => s,
                    (None, None) => "Stopped.".into(),
                };
                if let Some(p) = summary.path {
                    self.last_file = Some(p);
                    self.out = self.fresh_file_name();
                }
            }
            Message::Event(e) => self.on_event(e),
            Message::Tick => {
                if let Some(s) = &self.session {
                    self.samples = s.stats.samples.load(Ordering::Relaxed);
                    self.rate = s.stats.sample_rate.load(Ordering::Relaxed);
                    self.bytes = s.stats.bytes_received.load(Ordering::Relaxed);
                    let level = if self.connected {
                        s.stats.rms_dbfs()
                    } else {
                        engine::dsp::SILENCE_FLOOR_DBFS
                    };
                    self.meter.update(level);
                    self.history.push(self.meter.dbfs);
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
                self.status = format!("Recording to {}.", self.out.display());
            }
            RecordEvent::Format(f) => {
                self.rate = f.sample_rate;
            }
            RecordEvent::FileCreated { path } => {
                self.status = format!("Recording to {}.", path.display())
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
                );
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
        let editable = self.session.is_none();
        let form = column![
            form_row(
                [
                    (
                        "Server",
                        "localhost",
                        &self.host,
                        "receiver-host",
                        Message::Host,
                        h.error
                    ),
                    (
                        "Port",
                        "26070",
                        &self.port,
                        "receiver-port",
                        Message::Port,
                        p.error
                    ),
                    (
                        "Checkcode",
                        "20250918",
                        &self.checkcode,
                        "receiver-checkcode",
                        Message::Checkcode,
                        c.error
                    ),
                ],
                [3, 1, 2],
                editable,
                Message::Start,
            ),
            text("Record to"),
            row![
                text(self.out.display().to_string()).width(Length::Fill),
                button("Browse…").on_press_maybe(editable.then_some(Message::Browse)),
            ]
            .spacing(8),
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
            .spacing(8),
            row![
                checkbox(self.listen)
                    .label("Listen")
                    .on_toggle_maybe(editable.then_some(Message::Listen)),
                checkbox(self.reconnect)
                    .label("Auto-reconnect")
                    .on_toggle_maybe(editable.then_some(Message::Reconnect)),
            ]
            .spacing(24),
        ]
        .spacing(6);
        let action = if self.session.is_some() {
            button("Stop").on_press(Message::Stop)
        } else {
            button("Connect & Record").on_press_maybe(self.can_start().then_some(Message::Start))
        };
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
        let counters = column![
            row![
                text(format!("Ping: {ping}")),
                text(format!("Elapsed: {elapsed}")),
                text(format!("Recorded: {seconds:.1} s"))
            ]
            .spacing(24),
            row![
                text(format!("Samples: {}", self.samples)),
                text(format!("File: {}", human_bytes(44 + self.samples * 2))),
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
                .height(Length::Fixed(60.0)),
            counters,
            last,
        ]
        .spacing(14)
        .into()
    }
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
    } else if e.contains("checkcode") {
        format!("The server rejected us: the checkcode differs from the server's. ({e})")
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

/// Prepares recording `config` (opening the player when `listen`): the session to hand to
/// [`Message::Started`].
///
/// # Errors
/// The output device cannot be opened.
pub async fn begin(id: u64, config: RecordConfig, listen: bool) -> Result<Session, String> {
    let player = if listen {
        let player = tokio::task::spawn_blocking(|| Player::start(PlaybackConfig::default()))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("Cannot play: {e}"))?;
        Some(Arc::new(player))
    } else {
        None
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let token = CancellationToken::new();
    let stats = Arc::new(RecordStats::default());
    let session = Session {
        id,
        token: token.clone(),
        stats: stats.clone(),
        events: Arc::new(std::sync::Mutex::new(Some(rx))),
        player: player.as_ref().map(|p| p.device_name().to_string()),
        pending: Arc::new(std::sync::Mutex::new(Some((config, tx, player)))),
    };
    Ok(session)
}

/// Runs the recording of `session` to its end: what is in the file, and the error that ended it.
pub async fn run(session: Session) -> (Summary, Option<String>) {
    let pending = session
        .pending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    let Some((config, tx, player)) = pending else {
        return (
            Summary::default(),
            Some("internal error: the recording was lost before it started".into()),
        );
    };
    let outcome = receiver::record(
        config,
        session.stats.clone(),
        Some(tx),
        player,
        session.token.clone(),
    )
    .await;
    (outcome.summary, outcome.result.err().map(|e| e.to_string()))
}

struct EventsRef(Session);

impl std::hash::Hash for EventsRef {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.id.hash(state);
    }
}

fn events(session: &EventsRef) -> impl futures::Stream<Item = RecordEvent> + use<> {
    let rx = session.0.take_events();
    iced::stream::channel(
        64,
        async move |mut out: futures::channel::mpsc::Sender<RecordEvent>| {
            use futures::SinkExt;
            let Some(mut rx) = rx else { return };
            while let Some(e) = rx.recv().await {
                if out.send(e).await.is_err() {
                    break;
                }
            }
        },
    )
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
