//! The Server tab's view: the source and address form, the action, the meter, the counters
//! and the receivers.

use iced::widget::{button, checkbox, column, container, pick_list, row, scrollable, text};
use iced::{Element, Length};

use super::{Message, Quality, ServerTab, SourceChoice};
use crate::gui::form::{Spot, field_error, form_row, input, problem_at};
use crate::gui::widgets::repaint_on_change;
use crate::gui::{human_bytes, human_duration};
use engine::server::ClientInfo;

impl ServerTab {
    /// The tab's content.
    pub fn view(&self) -> Element<'_, Message> {
        let mut content = column![self.form(), self.action()].spacing(14);
        // The web player's address and QR code right under the action, where the window shows
        // them without scrolling.
        if let Some(banner) = self.web.banner() {
            content = content.push(banner);
        }
        content = content
            .push(self.meter.view(self.meter_label()))
            .push(self.counters());
        for row in self.icecast.rows() {
            content = content.push(row);
        }
        content
            .push(text("Receivers"))
            .push(container(self.client_list()).padding(6).width(Length::Fill))
            .push(self.chat.view(
                "server-chat",
                self.running.is_some(),
                "serve to chat with the receivers",
                Message::ChatInput,
                Message::ChatSend,
            ))
            .into()
    }

    /// Source picker, host, port and checkcode, each with its problem beside it.
    fn form(&self) -> Element<'_, Message> {
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
        let quality_row = self.quality_row(editable);
        let form = column![text("Source"), source_row]
            .extend(self.source_path_row(editable))
            .push(
                column![
                    field_error(problem_at(problem, Spot::Source)),
                    quality_row,
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
                    self.icecast
                        .form(editable, problem_at(self.problem.as_ref(), Spot::Icecast)),
                    self.private_form(editable),
                ]
                .spacing(6),
            )
            .spacing(6);
        form.into()
    }

    /// Quality (the stream's format) and the web player's port.
    fn quality_row(&self, editable: bool) -> Element<'_, Message> {
        row![
            text("Quality").width(Length::Fixed(70.0)),
            pick_list(
                Quality::choices(self.quality),
                Some(self.quality),
                Message::QualitySelected
            )
            .width(Length::Fill),
            text("Web player port"),
            self.web.field(editable),
        ]
        .spacing(8)
        .align_y(iced::Alignment::Center)
        .into()
    }

    /// For a file or folder source, its path, typed or as the dialog chose it (a desktop
    /// without a file dialog needs it); nothing for other sources.
    fn source_path_row(&self, editable: bool) -> Option<Element<'_, Message>> {
        let placeholder = match self.selected {
            Some(SourceChoice::WavFile(_)) => "path of a WAV, FLAC, MP3 or Ogg file",
            Some(SourceChoice::Folder(_)) => "path of a folder of audio files",
            _ => return None,
        };
        let path = row![
            text("Path").width(Length::Fixed(70.0)),
            input(
                placeholder,
                &self.source_path,
                "server-source-path",
                Message::SourcePath,
                editable,
                Message::Start,
            )
            .width(Length::Fill),
            checkbox(self.looping)
                .label("Loop")
                .on_toggle_maybe(editable.then_some(Message::Loop)),
        ]
        .spacing(8)
        .align_y(iced::Alignment::Center);
        Some(path.into())
    }

    /// The *Private (TLS + key)* switch and the access key (dots), or, while serving privately,
    /// the TLS port and the certificate's fingerprint receivers pin.
    fn private_form(&self, editable: bool) -> Element<'_, Message> {
        if let Some((port, fingerprint)) = &self.tls {
            return column![
                text(format!("Private: TLS port {port}, access key required")),
                text(format!("Certificate fingerprint: {fingerprint}")).size(12),
            ]
            .spacing(4)
            .into();
        }
        let key = input(
            "access key",
            &self.access_key,
            "server-access-key",
            Message::AccessKey,
            editable && self.private,
            Message::Start,
        )
        .secure(true);
        let error = problem_at(self.problem.as_ref(), Spot::Private).or_else(|| self.key_error());
        column![
            row![
                checkbox(self.private)
                    .label("Private (TLS + key)")
                    .on_toggle_maybe(editable.then_some(Message::Private)),
                key.width(Length::Fill),
            ]
            .spacing(12)
            .align_y(iced::Alignment::Center),
            field_error(error),
        ]
        .spacing(4)
        .into()
    }

    /// Start serving / Stop, with a problem that concerns the action beside it.
    fn action(&self) -> Element<'_, Message> {
        let problem = self.problem.as_ref();
        let action = if self.running.is_some() {
            button("Stop").on_press_maybe((!self.busy).then_some(Message::Stop))
        } else {
            button("Start serving").on_press_maybe(self.can_start().then_some(Message::Start))
        };
        let error = problem_at(problem, Spot::Action).or_else(|| self.web_port().err());
        let action = row![action, field_error(error)]
            .spacing(12)
            .align_y(iced::Alignment::Center);
        action.into()
    }

    fn meter_label(&self) -> &'static str {
        if self.running.is_none() && self.preview.is_some() {
            "Level (preview)"
        } else {
            "Level"
        }
    }

    /// Clients, uptime and bytes sent.
    fn counters(&self) -> Element<'_, Message> {
        let uptime = self
            .started_at
            .map_or_else(|| "—".to_string(), |t| human_duration(t.elapsed()));
        let mut counters = row![text(format!("Clients: {}", self.clients.len()))].spacing(24);
        if let Some(web) = self.web.counter() {
            counters = counters.push(web);
        }
        counters
            .push(text(format!("Uptime: {uptime}")))
            .push(text(format!("Sent: {}", human_bytes(self.bytes))))
            .into()
    }

    /// The connected receivers, or why there are none.
    fn client_list(&self) -> Element<'_, Message> {
        if self.clients.is_empty() {
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
        }
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
