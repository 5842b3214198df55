//! The Server tab: pick a source, start serving, watch level and clients.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use engine::audio::devices::DeviceInfo;
use engine::audio::sources::SourceSpec;
use engine::pipeline::PipelineConfig;
use engine::preview::Preview;
use engine::server::{ClientInfo, ServeSettings, ServerConfig, ServerEvent, ServerHandle};
use iced::widget::{button, column, container, pick_list, row, scrollable, text};
use iced::{Element, Length, Subscription, Task};

use super::settings::ServerSettings;
use super::widgets::Meter;
use super::{
    Field, NO_FILE_DIALOG, Problem, Spot, field, field_error, file_dialog_available, form_row,
    human_bytes, human_duration, problem_at, validate_checkcode, validate_host, validate_port,
};

/// One entry of the source picker.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceChoice {
    /// A sound-card source (loopback or microphone).
    Device {
        /// The spec `serve --source` takes.
        spec: String,
        /// What the picker shows.
        label: String,
    },
    /// A WAV file, chosen with a file dialog.
    WavFile(Option<PathBuf>),
    /// The 440 Hz test tone.
    Tone,
}

impl std::fmt::Display for SourceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Device { label, .. } => f.write_str(label),
            Self::WavFile(None) => f.write_str("WAV file…"),
            Self::WavFile(Some(p)) => write!(
                f,
                "WAV file: {}",
                p.file_name().map_or_else(
                    || p.display().to_string(),
                    |n| n.to_string_lossy().to_string()
                )
            ),
            Self::Tone => f.write_str("Test tone (440 Hz, -12 dBFS)"),
        }
    }
}

impl SourceChoice {
    fn from_device(d: &DeviceInfo) -> Self {
        let kind = match d.kind {
            engine::audio::devices::DeviceKind::Loopback => "Loopback",
            _ => "Microphone",
        };
        let default = if d.is_default { " (default)" } else { "" };
        Self::Device {
            spec: d.spec(),
            label: format!("{kind}: {}{default}", d.name),
        }
    }

    /// The source spec, if complete (a WAV file needs its path).
    pub fn spec(&self) -> Option<String> {
        match self {
            Self::Device { spec, .. } => Some(spec.clone()),
            Self::WavFile(Some(p)) => Some(format!("file:{}", p.display())),
            Self::WavFile(None) => None,
            Self::Tone => Some("tone:440".into()),
        }
    }
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
    /// The WAV file dialog closed (None: cancelled).
    FilePicked(Option<PathBuf>),
    /// Host field edited.
    Host(String),
    /// Port field edited.
    Port(String),
    /// Checkcode field edited.
    Checkcode(String),
    /// Start serving.
    Start,
    /// The server started, or could not.
    Started(Result<ServerHandle, Problem>),
    /// Stop serving.
    Stop,
    /// The server stopped.
    Stopped(Result<(), String>),
    /// Something happened in the server.
    Event(ServerEvent),
    /// Refresh level, clients and counters (~30 times a second while serving or previewing).
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
    pub running: Option<ServerHandle>,
    /// When it started.
    pub started_at: Option<Instant>,
    /// A start or stop is under way.
    pub busy: bool,
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
    wanted_source: Option<String>,
    label_generation: u32,
}

impl ServerTab {
    /// A tab with `settings` in its fields; the device list comes with [`Message::Listed`].
    pub fn new(settings: &ServerSettings) -> Self {
        Self {
            sources: vec![SourceChoice::WavFile(None), SourceChoice::Tone],
            selected: None,
            host: settings.host.clone(),
            port: settings.port.clone(),
            checkcode: settings.checkcode.clone(),
            running: None,
            started_at: None,
            busy: false,
            meter: Meter::default(),
            clients: Vec::new(),
            bytes: 0,
            status: "Pick a source and press Start serving.".into(),
            problem: None,
            preview: None,
            preview_generation: 0,
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
        }
    }

    /// Lists devices in the background.
    pub fn refresh() -> Task<Message> {
        super::list_devices(engine::audio::devices::list_sources).map(Message::Listed)
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

    /// Handles a message.
    pub fn update(&mut self, message: Message) -> Task<Message> {
        let before = self.selected.clone();
        let task = self.handle(message);
        if self.selected != before {
            self.label_generation = self.label_generation.wrapping_add(1);
            if self
                .problem
                .as_ref()
                .is_some_and(|p| p.spot == Spot::Source)
            {
                self.problem = None;
            }
            return Task::batch([task, self.restart_preview()]);
        }
        task
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

    fn handle(&mut self, message: Message) -> Task<Message> {
        match message {
            Message::Refresh => return Self::refresh(),
            Message::Listed(Ok(list)) => {
                let keep = self.selected.clone();
                self.sources = list.iter().map(SourceChoice::from_device).collect();
                let file = match &keep {
                    Some(SourceChoice::WavFile(p)) => SourceChoice::WavFile(p.clone()),
                    _ => SourceChoice::WavFile(None),
                };
                self.sources.push(file);
                self.sources.push(SourceChoice::Tone);
                let wanted = self.wanted_source.take();
                self.selected = keep
                    .filter(|k| self.sources.contains(k))
                    .or_else(|| {
                        wanted.and_then(|w| {
                            self.sources
                                .iter()
                                .find(|s| s.spec().as_deref() == Some(w.as_str()))
                                .cloned()
                        })
                    })
                    .or_else(|| self.sources.first().cloned());
                if list.is_empty() {
                    self.status =
                        "No sound devices found: you can still serve a WAV file or the test tone."
                            .into();
                }
            }
            Message::Listed(Err(e)) => {
                self.status = format!("Cannot list sound devices: {e}");
            }
            Message::SourceSelected(SourceChoice::WavFile(_)) if !file_dialog_available() => {
                self.problem = Some(Problem::at(
                    Spot::Source,
                    format!("{NO_FILE_DIALOG} (`audiomi serve --source file:PATH` serves a file)"),
                ));
            }
            Message::SourceSelected(SourceChoice::WavFile(_)) => {
                return Task::perform(
                    async {
                        rfd::AsyncFileDialog::new()
                            .add_filter("WAV audio", &["wav", "WAV"])
                            .set_title("Choose a WAV file to serve")
                            .pick_file()
                            .await
                            .map(|f| f.path().to_path_buf())
                    },
                    Message::FilePicked,
                );
            }
            Message::SourceSelected(choice) => self.selected = Some(choice),
            Message::FilePicked(Some(path)) => {
                let choice = SourceChoice::WavFile(Some(path));
                self.sources
                    .retain(|s| !matches!(s, SourceChoice::WavFile(_)));
                let at = self.sources.len().saturating_sub(1);
                self.sources.insert(at, choice.clone());
                self.selected = Some(choice);
            }
            Message::FilePicked(None) => self.status = "No file chosen.".into(),
            Message::Host(v) => {
                super::clear_problem(&mut self.problem, Spot::Host);
                self.host = v;
            }
            Message::Port(v) => {
                super::clear_problem(&mut self.problem, Spot::Port);
                self.port = v;
            }
            Message::Checkcode(v) => {
                super::clear_problem(&mut self.problem, Spot::Checkcode);
                self.checkcode = v;
            }
            Message::Start => {
                if !self.can_start() {
                    return Task::none();
                }
                let (h, p, c) = self.fields();
                let (Some(host), Some(port), Some(checkcode)) = (h.value, p.value, c.value) else {
                    return Task::none();
                };
                let Some(spec) = self.selected.as_ref().and_then(SourceChoice::spec) else {
                    return Task::none();
                };
                self.busy = true;
                self.problem = None;
                self.status = format!("Starting {spec} on port {port}…");
                // The preview closes first: a device is opened by one stage at a time.
                self.preview_generation += 1;
                let preview = self.preview.take();
                return Task::perform(
                    async move {
                        let _ = tokio::task::spawn_blocking(move || drop(preview)).await;
                        start(host, port, checkcode, spec).await
                    },
                    Message::Started,
                );
            }
            Message::Started(Ok(handle)) => {
                self.busy = false;
                self.status = format!(
                    "Serving on {}. Receivers connect to this computer's address, port {}.",
                    handle.local_addr(),
                    handle.local_addr().port()
                );
                self.started_at = Some(Instant::now());
                self.bytes = 0;
                self.clients.clear();
                self.running = Some(handle);
            }
            Message::Started(Err(problem)) => {
                self.busy = false;
                self.status = problem.text.clone();
                self.problem = Some(problem);
                return self.restart_preview();
            }
            Message::Stop => {
                if let Some(handle) = self.running.take() {
                    self.busy = true;
                    self.status = "Stopping…".into();
                    return Task::perform(
                        async move { handle.stop().await.map_err(|e| e.to_string()) },
                        Message::Stopped,
                    );
                }
            }
            Message::Stopped(result) => {
                self.busy = false;
                self.started_at = None;
                self.clients.clear();
                self.meter = Meter::default();
                self.status = match result {
                    Ok(()) => "Stopped.".into(),
                    Err(e) => format!("Stopped with an error: {e}"),
                };
                return self.restart_preview();
            }
            Message::Event(event) => self.status = describe(&event),
            Message::Tick => {
                if let Some(h) = &self.running {
                    let stats = h.stats();
                    self.meter.update(stats.level());
                    self.bytes = stats.bytes_queued.load(Ordering::Relaxed);
                    self.clients = h.hub().clients();
                } else if let Some(p) = &self.preview {
                    self.meter.update(p.level());
                }
            }
            Message::PreviewStarted(generation, result) => {
                let current =
                    generation == self.preview_generation && self.running.is_none() && !self.busy;
                match result {
                    Ok(p) if current => {
                        self.meter = Meter::default();
                        self.preview = Some(p);
                    }
                    Ok(p) => return close_preview(Some(p)),
                    Err(e) if current => {
                        self.problem = Some(Problem::at(
                            Spot::Source,
                            format!("This source cannot be opened: {e}"),
                        ));
                    }
                    Err(_) => {}
                }
            }
            Message::PreviewClosed => {}
        }
        Task::none()
    }

    /// Events of the running server, and a ~30 Hz tick for the meter (serving or previewing).
    pub fn subscription(&self) -> Subscription<Message> {
        let tick = || iced::time::every(Duration::from_millis(33)).map(|_| Message::Tick);
        match (&self.running, &self.preview) {
            (Some(h), _) => Subscription::batch([
                Subscription::run_with(Running(h.clone()), events).map(Message::Event),
                tick(),
            ]),
            (None, Some(_)) => tick(),
            (None, None) => Subscription::none(),
        }
    }

    /// The tab's content.
    pub fn view(&self) -> Element<'_, Message> {
        let (h, p, c) = self.fields();
        let problem = self.problem.as_ref();
        let editable = self.running.is_none() && !self.busy;
        let source_row = row![
            pick_list(
                self.sources.clone(),
                self.selected.clone(),
                Message::SourceSelected
            )
            .width(Length::Fill)
            .style(repaint_on_change(self.label_generation)),
            button("Refresh").on_press_maybe(editable.then_some(Message::Refresh)),
        ]
        .spacing(8);
        let form = column![
            text("Source"),
            source_row,
            field_error(problem_at(problem, Spot::Source)),
            form_row(
                [
                    (
                        "Host",
                        "0.0.0.0",
                        &self.host,
                        "server-host",
                        Message::Host,
                        h.error.or_else(|| problem_at(problem, Spot::Host))
                    ),
                    (
                        "Port",
                        "26070",
                        &self.port,
                        "server-port",
                        Message::Port,
                        p.error.or_else(|| problem_at(problem, Spot::Port))
                    ),
                    (
                        "Checkcode",
                        "20250918",
                        &self.checkcode,
                        "server-checkcode",
                        Message::Checkcode,
                        c.error.or_else(|| problem_at(problem, Spot::Checkcode))
                    ),
                ],
                [3, 1, 2],
                editable,
                Message::Start,
            ),
        ]
        .spacing(6);
        let action = if self.running.is_some() {
            button("Stop").on_press_maybe((!self.busy).then_some(Message::Stop))
        } else {
            button("Start serving").on_press_maybe(self.can_start().then_some(Message::Start))
        };
        let action = row![action, field_error(problem_at(problem, Spot::Action))]
            .spacing(12)
            .align_y(iced::Alignment::Center);
        let meter_label = if self.running.is_some() {
            "Level"
        } else if self.preview.is_some() {
            "Level (preview)"
        } else {
            "Level"
        };
        let uptime = self
            .started_at
            .map_or_else(|| "—".to_string(), |t| human_duration(t.elapsed()));
        let counters = row![
            text(format!("Clients: {}", self.clients.len())),
            text(format!("Uptime: {uptime}")),
            text(format!("Sent: {}", human_bytes(self.bytes))),
        ]
        .spacing(24);
        let clients: Element<'_, Message> = if self.clients.is_empty() {
            text(if self.running.is_some() {
                "No receivers yet."
            } else {
                "Not serving."
            })
            .into()
        } else {
            scrollable(column(self.clients.iter().map(|c| {
                text(format!(
                    "{}   connected {}   lag {} ms{}",
                    client_label(c),
                    human_duration(c.connected_for),
                    c.lag.as_millis(),
                    if c.extended { "" } else { "   (legacy client)" }
                ))
                .into()
            })))
            .height(Length::Fixed(120.0))
            .into()
        };
        column![
            form,
            action,
            self.meter.view(meter_label),
            counters,
            text("Receivers"),
            container(clients).padding(6).width(Length::Fill),
        ]
        .spacing(14)
        .into()
    }
}

/// The default pick-list style, with the background nudged by 1/255 in blue on every other
/// change of the label (`generation` counts them). iced 0.14's tiny-skia renderer computes the
/// damage of vertically centred text from its top edge only, so a new label was drawn with its
/// upper half missing; a changed background makes the whole widget damaged and repainted. The
/// nudge is invisible.
fn repaint_on_change(
    generation: u32,
) -> impl Fn(&iced::Theme, pick_list::Status) -> pick_list::Style {
    let nudge = (generation % 2) as f32 / 255.0;
    move |theme, status| {
        let mut style = pick_list::default(theme, status);
        if let iced::Background::Color(c) = &mut style.background {
            c.b = (c.b + nudge).min(1.0);
        }
        style
    }
}

/// How a receiver is shown in the list: its name (extension clients that sent one) with its
/// address, else the address.
pub fn client_label(c: &ClientInfo) -> String {
    match &c.name {
        Some(name) => format!("{name} ({})", c.addr),
        None => c.addr.to_string(),
    }
}

/// Closes a preview on a blocking thread (its source stage joins its thread, and a device may
/// take a moment to close).
fn close_preview(preview: Option<Arc<Preview>>) -> Task<Message> {
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

/// Starts a server for `spec` on `host:port`; errors are in words, placed at the field they
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
) -> Result<ServerHandle, Problem> {
    let spec: SourceSpec = spec
        .parse()
        .map_err(|e: engine::Error| Problem::at(Spot::Source, e.to_string()))?;
    ServeSettings {
        server: ServerConfig {
            checkcode,
            ..ServerConfig::default()
        },
        ..ServeSettings::new(host, port, spec)
    }
    .start()
    .await
    .map_err(|e| match &e {
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
struct Running(ServerHandle);

impl std::hash::Hash for Running {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.local_addr().hash(state);
        (Arc::as_ptr(self.0.hub()) as usize).hash(state);
    }
}

fn events(running: &Running) -> impl futures::Stream<Item = ServerEvent> + use<> {
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
