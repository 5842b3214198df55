//! The window: a Server tab and a Receiver tab, each its own module with its own `Message`,
//! `update` and `view`. The GUI holds no audio or network logic: it drives the engine and turns
//! its events (bridged with `Subscription`s) and counters into labels.

pub mod receiver_tab;
pub mod server_tab;
pub mod settings;
pub mod widgets;

use iced::widget::{button, column, container, row, rule, text};
use iced::{Element, Length, Subscription, Task, keyboard};

use settings::Settings;

/// The application id, shared with the desktop entry and the metainfo.
pub const APP_ID: &str = "org.audiomi.AudioMi";

/// The font every text uses: Fira Sans, embedded in the binary, so the window (and its snapshot
/// tests) look the same on every machine.
pub const FONT: iced::Font = iced::Font::with_name("Fira Sans");

/// The tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// Serve this computer's sound.
    Server,
    /// Record (and listen to) a server.
    Receiver,
}

/// The window's messages.
#[derive(Debug, Clone)]
pub enum Message {
    /// A tab was chosen.
    TabSelected(Tab),
    /// For the Server tab.
    Server(server_tab::Message),
    /// For the Receiver tab.
    Receiver(receiver_tab::Message),
    /// Tab / Shift+Tab: move the focus.
    FocusNext(bool),
}

/// The window's state.
#[derive(Debug)]
pub struct App {
    /// The visible tab.
    pub tab: Tab,
    /// The Server tab.
    pub server: server_tab::ServerTab,
    /// The Receiver tab.
    pub receiver: receiver_tab::ReceiverTab,
    settings_path: Option<std::path::PathBuf>,
}

impl App {
    /// The state for `settings`, without side effects (tests use it directly).
    pub fn with_settings(settings: &Settings, settings_path: Option<std::path::PathBuf>) -> Self {
        Self {
            tab: Tab::Server,
            server: server_tab::ServerTab::new(&settings.server),
            receiver: receiver_tab::ReceiverTab::new(&settings.receiver),
            settings_path,
        }
    }

    fn boot() -> (Self, Task<Message>) {
        let cwd = std::env::current_dir().unwrap_or_default();
        let env = engine::config::Settings::from_process(&cwd).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "ignoring .env");
            engine::config::Settings::default()
        });
        let path = Settings::path();
        let settings = Settings::load(path.as_deref(), Settings::with_env(&env));
        let app = Self::with_settings(&settings, path);
        let tasks = Task::batch([
            server_tab::ServerTab::refresh().map(Message::Server),
            receiver_tab::ReceiverTab::list_outputs().map(Message::Receiver),
        ]);
        (app, tasks)
    }

    /// Saves both tabs' settings if `starting`: what a tab was started with is what the next
    /// run shows.
    fn save_if(&self, starting: bool) {
        if !starting {
            return;
        }
        Settings {
            server: self.server.settings(),
            receiver: self.receiver.settings(),
        }
        .save(self.settings_path.as_deref());
    }

    /// Handles a message.
    pub fn update(&mut self, message: Message) -> Task<Message> {
        match message {
            Message::TabSelected(tab) => {
                self.tab = tab;
                Task::none()
            }
            Message::Server(m) => {
                let starting = matches!(m, server_tab::Message::Start);
                let task = self.server.update(m).map(Message::Server);
                self.save_if(starting);
                task
            }
            Message::Receiver(m) => {
                let starting = matches!(m, receiver_tab::Message::Start);
                let task = self.receiver.update(m).map(Message::Receiver);
                self.save_if(starting);
                task
            }
            Message::FocusNext(true) => iced::widget::operation::focus_next(),
            Message::FocusNext(false) => iced::widget::operation::focus_previous(),
        }
    }

    /// The window title: what is running.
    pub fn title(&self) -> String {
        let parts: Vec<String> = [self.server.title(), self.receiver.title()]
            .into_iter()
            .flatten()
            .collect();
        if parts.is_empty() {
            "audioMi".into()
        } else {
            format!("audioMi — {}", parts.join(" · "))
        }
    }

    /// Both tabs' subscriptions (both may run at once) and the Tab key.
    pub fn subscription(&self) -> Subscription<Message> {
        Subscription::batch([
            self.server.subscription().map(Message::Server),
            self.receiver.subscription().map(Message::Receiver),
            keyboard::listen().filter_map(|event| match event {
                keyboard::Event::KeyPressed {
                    key: keyboard::Key::Named(keyboard::key::Named::Tab),
                    modifiers,
                    ..
                } => Some(Message::FocusNext(!modifiers.shift())),
                _ => None,
            }),
        ])
    }

    /// The window's content.
    pub fn view(&self) -> Element<'_, Message> {
        let tab_button = |label: &'static str, tab: Tab, busy: bool| {
            let label = if busy {
                format!("{label} ●")
            } else {
                label.to_string()
            };
            let b = button(text(label))
                .padding([6, 16])
                .on_press(Message::TabSelected(tab));
            if self.tab == tab {
                b.style(button::primary)
            } else {
                b.style(button::secondary)
            }
        };
        let tabs = row![
            tab_button("Server", Tab::Server, self.server.running.is_some()),
            tab_button("Receiver", Tab::Receiver, self.receiver.session.is_some()),
        ]
        .spacing(4);
        let (content, status) = match self.tab {
            Tab::Server => (
                self.server.view().map(Message::Server),
                self.server.status.as_str(),
            ),
            Tab::Receiver => (
                self.receiver.view().map(Message::Receiver),
                self.receiver.status.as_str(),
            ),
        };
        column![
            tabs,
            rule::horizontal(1),
            container(content).padding(8).height(Length::Fill),
            rule::horizontal(1),
            text(status.to_string()).size(13),
        ]
        .spacing(8)
        .padding(12)
        .into()
    }
}

/// Runs the window until it is closed.
///
/// # Errors
/// When no window can be opened (no display) or the renderer fails.
pub fn run() -> iced::Result {
    let mut window = iced::window::Settings {
        size: iced::Size::new(760.0, 640.0),
        min_size: Some(iced::Size::new(560.0, 480.0)),
        ..Default::default()
    };
    #[cfg(target_os = "linux")]
    {
        window.platform_specific.application_id = APP_ID.to_string();
    }
    window.icon = icon();
    iced::application(App::boot, App::update, App::view)
        .title(App::title)
        .subscription(App::subscription)
        .theme(|_: &App| iced::Theme::Dark)
        .default_font(FONT)
        .window(window)
        .run()
}

/// The window icon: `assets/icons/audiomi-64.png` (generated from `assets/audiomi.svg` by
/// `scripts/icons.sh`), embedded in the binary.
fn icon() -> Option<iced::window::Icon> {
    const PNG: &[u8] = include_bytes!("../../../assets/icons/audiomi-64.png");
    let mut decoder = png::Decoder::new(std::io::Cursor::new(PNG));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
    let mut reader = decoder.read_info().ok()?;
    let mut rgba = vec![0; reader.output_buffer_size()?];
    let info = reader.next_frame(&mut rgba).ok()?;
    rgba.truncate(info.buffer_size());
    if info.color_type != png::ColorType::Rgba {
        return None;
    }
    iced::window::icon::from_rgba(rgba, info.width, info.height).ok()
}

#[cfg(test)]
#[test]
fn the_window_icon_decodes() {
    assert!(icon().is_some());
}

/// Where in a tab a problem is shown: next to the field or button it concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spot {
    /// The source picker (Server tab).
    Source,
    /// The host / server address field.
    Host,
    /// The port field.
    Port,
    /// The checkcode field.
    Checkcode,
    /// The *Record to* file field (Receiver tab).
    File,
    /// The output device picker for *Listen* (Receiver tab).
    Output,
    /// The Start / Connect button.
    Action,
}

/// An error in words, and where the window shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Where it is shown.
    pub spot: Spot,
    /// What went wrong and what to do, in words.
    pub text: String,
}

impl Problem {
    /// A problem shown at `spot`.
    pub fn at(spot: Spot, text: impl Into<String>) -> Self {
        Self {
            spot,
            text: text.into(),
        }
    }
}

/// Forgets `problem` if it is shown at `spot` (the user changed what it concerns).
pub fn clear_problem(problem: &mut Option<Problem>, spot: Spot) {
    if problem.as_ref().is_some_and(|p| p.spot == spot) {
        *problem = None;
    }
}

/// The text of `problem` if it is shown at `spot`.
pub fn problem_at(problem: Option<&Problem>, spot: Spot) -> Option<String> {
    problem.filter(|p| p.spot == spot).map(|p| p.text.clone())
}

/// One labelled text field of a form: (label, placeholder, value, widget id, input message, error).
pub type FormField<'a, M> = (
    &'a str,
    &'a str,
    &'a str,
    &'static str,
    fn(String) -> M,
    Option<String>,
);

/// A text input that, when `editable`, sends `on` as it is edited and `submit` on Enter.
pub fn input<'a, M: Clone + 'a>(
    placeholder: &str,
    value: &str,
    id: &'static str,
    on: fn(String) -> M,
    editable: bool,
    submit: M,
) -> iced::widget::TextInput<'a, M> {
    let t = iced::widget::text_input(placeholder, value)
        .id(id)
        .padding(6);
    if editable {
        t.on_input(on).on_submit(submit)
    } else {
        t
    }
}

/// A field's error in small red text (an empty line when valid, so the layout does not jump).
pub fn field_error<'a, M: 'a>(error: Option<String>) -> Element<'a, M> {
    match error {
        Some(e) => text(e).size(12).style(text::danger).into(),
        None => text("").size(12).into(),
    }
}

/// A warning in small amber text (nothing when `None`).
pub fn field_warning<'a, M: 'a>(warning: Option<String>) -> Element<'a, M> {
    match warning {
        Some(w) => text(w).size(12).style(text::warning).into(),
        None => iced::widget::space().into(),
    }
}

/// A row of labelled fields, each with its error under it; `portions` are their relative widths.
pub fn form_row<'a, M: Clone + 'a, const N: usize>(
    fields: [FormField<'a, M>; N],
    portions: [u16; N],
    editable: bool,
    submit: M,
) -> Element<'a, M> {
    iced::widget::row(fields.into_iter().zip(portions).map(
        |((label, placeholder, value, id, on, error), portion)| {
            column![
                text(label),
                input(placeholder, value, id, on, editable, submit.clone()),
                field_error(error)
            ]
            .spacing(4)
            .width(Length::FillPortion(portion))
            .into()
        },
    ))
    .spacing(12)
    .into()
}

/// A text field parsed: its value when valid, its error otherwise.
#[derive(Debug, Clone)]
pub struct Field<T> {
    /// The parsed value.
    pub value: Option<T>,
    /// Why it is invalid.
    pub error: Option<String>,
}

impl<T> Field<T> {
    /// Whether the field is valid.
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Parses `v` with `f` into a [`Field`].
pub fn field<T>(v: &str, f: impl Fn(&str) -> Result<T, String>) -> Field<T> {
    match f(v) {
        Ok(x) => Field {
            value: Some(x),
            error: None,
        },
        Err(e) => Field {
            value: None,
            error: Some(e),
        },
    }
}

/// The reason of a configuration error, without the name and value the field already shows.
fn reason(e: engine::Error) -> String {
    match e {
        engine::Error::Config { reason, .. } => reason,
        e => e.to_string(),
    }
}

/// A host name or address, checked by [`engine::config::parse_host`].
///
/// # Errors
/// A message when empty or containing spaces.
pub fn validate_host(v: &str) -> Result<String, String> {
    engine::config::parse_host("host", v).map_err(reason)
}

/// A TCP port, 1 to 65535.
///
/// # Errors
/// A message otherwise.
pub fn validate_port(v: &str) -> Result<u16, String> {
    engine::config::parse_port("port", v)
        .map_err(|_| "a port is a number from 1 to 65535".to_string())
}

/// A checkcode: a 32-bit signed integer.
///
/// # Errors
/// A message otherwise.
pub fn validate_checkcode(v: &str) -> Result<i32, String> {
    engine::config::parse_checkcode("checkcode", v)
        .map_err(|_| "a whole number (the same on both ends)".to_string())
}

pub use crate::fmt::{human_bytes, human_duration};

/// Whether a file dialog can be shown: on Linux rfd needs the desktop portal (over the D-Bus
/// session bus) or the `zenity` program; elsewhere the system's dialog is always there.
pub fn file_dialog_available() -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    let on_path = |program: &str| {
        std::env::var_os("PATH").is_some_and(|paths| {
            std::env::split_paths(&paths).any(|dir| dir.join(program).is_file())
        })
    };
    let session_bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
        || std::env::var_os("XDG_RUNTIME_DIR")
            .is_some_and(|dir| std::path::Path::new(&dir).join("bus").exists());
    session_bus || on_path("zenity")
}

/// Lists devices with `list` on a blocking thread (cpal may take a while, and alsa-lib's probing
/// must not stall the window); errors in words.
pub fn list_devices(
    list: fn() -> engine::Result<Vec<engine::audio::devices::DeviceInfo>>,
) -> Task<Result<Vec<engine::audio::devices::DeviceInfo>, String>> {
    Task::perform(
        async move { tokio::task::spawn_blocking(list).await },
        |r| match r {
            Ok(Ok(list)) => Ok(list),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        },
    )
}

/// What the window says when no file dialog can be shown.
pub const NO_FILE_DIALOG: &str = "No file dialog is available on this desktop (it needs xdg-desktop-portal or zenity): type the path instead.";

#[cfg(test)]
mod tests;
