//! The window: a Server tab and a Receiver tab, each its own module with its own `Message`,
//! `update` and `view`. The GUI holds no audio or network logic: it drives the engine and turns
//! its events (bridged with `Subscription`s) and counters into labels.

pub mod chat;
pub mod desktop;
pub mod form;
pub mod history;
pub mod meter;
pub mod qr;
pub mod receiver_tab;
pub mod server_tab;
pub mod settings;
pub mod ticks;
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

    /// Saves both tabs' settings (when a tab starts: what it was started with is what the next
    /// run shows).
    fn save_settings(&self) {
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
                let (task, event) = self.server.update(m);
                if let Some(server_tab::Event::Starting) = event {
                    self.save_settings();
                }
                task.map(Message::Server)
            }
            Message::Receiver(m) => {
                let (task, event) = self.receiver.update(m);
                if let Some(receiver_tab::Event::Starting) = event {
                    self.save_settings();
                }
                task.map(Message::Receiver)
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
            let content: Element<'_, Message> = if busy {
                row![text(label), running_dot()]
                    .spacing(8)
                    .align_y(iced::alignment::Vertical::Center)
                    .into()
            } else {
                text(label).into()
            };
            let b = button(content)
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
            iced::widget::scrollable(container(content).padding(8))
                .spacing(4)
                .height(Length::Fill),
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
        size: iced::Size::new(760.0, 720.0),
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

pub use crate::fmt::{human_bytes, human_duration};

#[cfg(test)]
mod tests;

/// The mark of a tab whose server or recording runs: an 8 px round dot in the theme's success
/// colour, drawn rather than typed (a "●" glyph is missing from Fira Sans and from the fonts a
/// Windows machine without the Segoe UI Symbol font falls back to: it showed as an empty box under
/// Wine).
fn running_dot<'a>() -> Element<'a, Message> {
    container(iced::widget::Space::new().width(8).height(8))
        .style(|theme: &iced::Theme| container::Style {
            background: Some(theme.palette().success.into()),
            border: iced::Border::default().rounded(4),
            ..container::Style::default()
        })
        .into()
}
