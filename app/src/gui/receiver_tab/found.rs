//! Servers found on the network (mDNS), live; TLS, the access key and the pinned fingerprint.

use engine::discovery::{Browser, FoundServer, ServerSighting};
use engine::secure::{Fingerprint, TlsClientOptions};
use iced::widget::{Space, button, checkbox, column, container, row, scrollable, text};
use iced::{Alignment, Element, Length};

use super::Message;
use crate::gui::form::{Problem, Spot, field_error, input, problem_at};
use crate::gui::widgets::{LOCK_SIZE, Lock};

/// The servers seen and how to connect privately.
#[derive(Debug, Default)]
pub struct Finder {
    /// Servers announced now, by name.
    pub servers: Vec<FoundServer>,
    /// Connect with TLS.
    pub tls: bool,
    /// The access key (shown as dots, never saved).
    pub key: String,
    /// The fingerprint the connection must present (from the server picked in the list);
    /// `None`: trust on first use (`known_servers.toml`).
    pub pin: Option<Fingerprint>,
    /// The picked server needs a key.
    pub key_required: bool,
}

impl Finder {
    /// A server appeared, changed or left.
    pub fn sighting(&mut self, s: ServerSighting) {
        match s {
            ServerSighting::Found(f) => {
                self.servers.retain(|o| o.fullname != f.fullname);
                self.servers.push(f);
                self.servers.sort_by(|a, b| a.name.cmp(&b.name));
            }
            ServerSighting::Lost(fullname) => self.servers.retain(|o| o.fullname != fullname),
        }
    }

    /// The server picked: its address and port for the form (TLS if it has no plaintext port
    /// or needs a key), and its announced fingerprint pinned. `None` if it has left.
    pub fn pick(&mut self, fullname: &str) -> Option<(String, u16)> {
        let f = self
            .servers
            .iter()
            .find(|f| f.fullname == fullname)?
            .clone();
        self.tls = f.plain_port.is_none() || f.key_required;
        self.key_required = f.key_required;
        self.pin = f.fingerprint.as_deref().and_then(|p| p.parse().ok());
        let port = if self.tls { f.tls_port } else { f.plain_port }?;
        let host = f.addresses.first().map_or_else(
            || f.host.trim_end_matches('.').to_string(),
            ToString::to_string,
        );
        Some((host, port))
    }

    /// Why Connect cannot start yet (a key is needed), if so.
    pub fn key_error(&self) -> Option<String> {
        (self.tls && self.key_required && self.key.trim().is_empty())
            .then(|| "This server is private: type its access key.".into())
    }

    /// The TLS options of a recording (`None` without TLS).
    pub fn client_options(&self) -> Option<TlsClientOptions> {
        self.tls.then(|| TlsClientOptions {
            pin: self.pin,
            known_servers: Some(
                crate::paths::config_dir().join(engine::secure::client::KNOWN_SERVERS_FILE),
            ),
            key: Some(self.key.trim().to_string()).filter(|k| !k.is_empty()),
        })
    }

    /// The servers as list entries.
    pub(crate) fn choices(&self) -> Vec<FoundChoice> {
        self.servers
            .iter()
            .map(|f| {
                let private = if f.key_required {
                    " · private (key)"
                } else if f.plain_port.is_none() {
                    " · TLS only"
                } else {
                    ""
                };
                let addr = f
                    .connect_addr(false)
                    .or_else(|| f.connect_addr(true))
                    .unwrap_or_default();
                FoundChoice {
                    fullname: f.fullname.clone(),
                    label: format!(
                        "{} · {addr} · {} Hz, {} ch{private}",
                        f.name, f.sample_rate, f.channels
                    ),
                    private: !private.is_empty(),
                }
            })
            .collect()
    }

    /// The servers found, live, in a box of constant height ([`LIST_HEIGHT`]; more rows
    /// scroll): a padlock before a private one; one click fills the form.
    pub fn list(&self, editable: bool) -> Element<'_, Message> {
        let header = if self.servers.is_empty() {
            "None found yet (servers announce themselves over mDNS)".to_string()
        } else {
            format!("{} found: click one to fill the form", self.servers.len())
        };
        let rows = self.choices().into_iter().map(|c| {
            let icon = if c.private {
                Lock.view()
            } else {
                Space::new().width(LOCK_SIZE.0).into()
            };
            button(
                row![icon, text(c.label)]
                    .spacing(8)
                    .align_y(Alignment::Center),
            )
            .width(Length::Fill)
            .padding([3, 8])
            .style(button::text)
            .on_press_maybe(editable.then_some(Message::Pick(c.fullname)))
            .into()
        });
        column![
            row![text("On the network"), text(header).size(13)]
                .spacing(12)
                .align_y(Alignment::Center),
            container(scrollable(column(rows)).width(Length::Fill))
                .height(LIST_HEIGHT)
                .width(Length::Fill)
                .style(container::bordered_box),
        ]
        .spacing(4)
        .into()
    }

    /// The TLS switch and the access key (dots), the pinned fingerprint while TLS is on, and
    /// the problem of a private connection.
    pub fn tls_row<'a>(
        &'a self,
        problem: Option<&Problem>,
        editable: bool,
    ) -> Element<'a, Message> {
        let key = input(
            "access key",
            &self.key,
            "receiver-access-key",
            Message::AccessKey,
            editable && self.tls,
            Message::Start,
        )
        .secure(true);
        let mut col = column![
            row![
                checkbox(self.tls)
                    .label("TLS")
                    .on_toggle_maybe(editable.then_some(Message::Tls)),
                key.width(Length::Fill),
            ]
            .spacing(12)
            .align_y(iced::Alignment::Center)
        ]
        .spacing(4);
        if let (true, Some(pin)) = (self.tls, &self.pin) {
            col = col.push(text(format!("Pinned fingerprint: {pin}")).size(12));
        }
        let error = problem_at(problem, Spot::Private).or_else(|| self.key_error());
        col.push(field_error(error)).into()
    }
}

/// Height of the list of servers found, in logical pixels: two rows, more scroll, so the form
/// below never moves.
pub const LIST_HEIGHT: f32 = 62.0;

/// A found server as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundChoice {
    /// Its DNS-SD full name.
    pub fullname: String,
    /// "name · address:port · rate Hz, channels ch", and "· private (key)" or "· TLS only".
    pub label: String,
    /// Shown with a padlock: TLS only or a key required.
    pub private: bool,
}

/// The servers announced on the network, for the tab's subscription: browses on
/// `AUDIOMI_MDNS_INTERFACE` (all interfaces when unset; `lo` in the window's own tests) until
/// the subscription ends. If mDNS cannot start, logs it once and yields nothing.
pub fn sightings() -> impl futures::Stream<Item = ServerSighting> {
    futures::stream::unfold(None::<Browser>, |browser| async move {
        let browser = match browser {
            Some(b) => b,
            None => {
                let interface = if cfg!(test) {
                    Some("lo".to_string())
                } else {
                    std::env::var("AUDIOMI_MDNS_INTERFACE").ok()
                };
                match engine::discovery::browse(interface.as_deref()) {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot browse for servers");
                        return None;
                    }
                }
            }
        };
        let s = browser.next().await?;
        Some((s, Some(browser)))
    })
}
