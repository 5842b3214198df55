//! The Receiver tab's view: server address, *Record to*, options, the action, meter, history
//! and counters.

use iced::widget::{button, canvas, checkbox, column, pick_list, row, text};
use iced::{Element, Length};

use super::{Message, ReceiverTab, validate_out};
use crate::gui::form::{Spot, field_error, field_warning, form_row, input, problem_at};
use crate::gui::{human_bytes, human_duration};

impl ReceiverTab {
    /// The tab's content.
    pub fn view(&self) -> Element<'_, Message> {
        column![
            self.form(),
            self.action(),
            self.meter.view("Level"),
            canvas(&self.history)
                .width(Length::Fill)
                .height(Length::Fixed(48.0)),
            self.counters(),
            self.last_recording(),
            self.chat.view(
                "receiver-chat",
                self.session.is_some(),
                "connect to chat with the server",
                Message::ChatInput,
                Message::ChatSend,
            ),
        ]
        .spacing(12)
        .into()
    }

    /// Server, port and checkcode; *Record to*; *Stop after*; *Listen on* and *Auto-reconnect*.
    fn form(&self) -> Element<'_, Message> {
        let (h, p, c, d) = self.fields();
        let problem = self.problem.as_ref();
        let editable = self.session.is_none();
        let out_error = validate_out(&self.out)
            .err()
            .or_else(|| problem_at(problem, Spot::File));
        column![
            self.finder.list(editable),
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
            self.options(),
            self.finder.tls_row(problem, editable),
        ]
        .spacing(6)
        .into()
    }

    /// *Listen on* (with its output picker) and *Auto-reconnect*, with their problem or warning.
    fn options(&self) -> Element<'_, Message> {
        let problem = self.problem.as_ref();
        let editable = self.session.is_none();
        column![
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
        .spacing(6)
        .into()
    }

    /// Connect & Record / Stop, with a problem that concerns the action beside it.
    fn action(&self) -> Element<'_, Message> {
        let problem = self.problem.as_ref();
        let action = if self.session.is_some() {
            button("Stop").on_press(Message::Stop)
        } else {
            button("Connect & Record").on_press_maybe(self.can_start().then_some(Message::Start))
        };
        let action = row![action, field_error(problem_at(problem, Spot::Action))]
            .spacing(12)
            .align_y(iced::Alignment::Center);
        action.into()
    }

    /// Ping, elapsed, recorded time, samples, file size, bytes received, gaps filled.
    fn counters(&self) -> Element<'_, Message> {
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
        // The file exists only once audio arrived: its size on the disk once saved, while
        // recording the 44-byte header plus PCM16 frames.
        let file = if let Some(size) = self.file_size {
            human_bytes(size)
        } else if self.file_created {
            human_bytes(44 + self.samples * 2 * u64::from(self.channels))
        } else {
            "—".into()
        };
        let format = if self.rate > 0 {
            engine::quality::AudioFormat {
                rate: self.rate,
                channels: self.channels,
            }
            .label()
        } else {
            "—".into()
        };
        column![
            row![
                text(format!("Ping: {ping}")),
                text(format!("Elapsed: {elapsed}")),
                text(format!("Recorded: {seconds:.1} s")),
                text(format!("Format: {format}")),
            ]
            .spacing(24),
            row![
                text(format!("Frames: {}", self.samples)),
                text(format!("File: {file}")),
                text(format!("Received: {}", human_bytes(self.bytes))),
                text(format!("Gaps filled: {:.2} s", self.gap_seconds)),
            ]
            .spacing(24),
        ]
        .push(
            self.now_playing
                .as_ref()
                .map(|t| text(format!("Now playing: {t}"))),
        )
        .spacing(6)
        .into()
    }

    /// The last recording with *Open folder*, once nothing runs.
    fn last_recording(&self) -> Element<'_, Message> {
        match (&self.last_file, self.session.is_none()) {
            (Some(p), true) => row![
                text(format!("Last recording: {}", p.display())).width(Length::Fill),
                button("Open folder").on_press(Message::OpenFolder)
            ]
            .spacing(8)
            .into(),
            _ => text("").into(),
        }
    }
}
