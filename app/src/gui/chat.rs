//! The chat panel both tabs show: the history (newest last) and an input with *Send*.

use std::collections::VecDeque;

use iced::widget::{button, column, row, scrollable, text};
use iced::{Element, Length};

use super::form::input;

/// Messages kept in the history: 200.
pub const HISTORY: usize = 200;

/// A chat history and the line being typed.
#[derive(Debug, Default)]
pub struct ChatPanel {
    /// `(from, text)`, oldest first, at most [`HISTORY`].
    pub history: VecDeque<(String, String)>,
    /// The line being typed.
    pub input: String,
}

impl ChatPanel {
    /// Adds a message (dropping the oldest beyond [`HISTORY`]).
    pub fn push(&mut self, from: String, text: String) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back((from, text));
    }

    /// The typed line, trimmed, if there is one; clears the input.
    pub fn take_input(&mut self) -> Option<String> {
        let line = std::mem::take(&mut self.input);
        let line = line.trim();
        (!line.is_empty()).then(|| line.to_string())
    }

    /// The panel: `Chat` with the history, then the input and *Send* (enabled with `active`;
    /// `why_not` says why not otherwise).
    pub fn view<'a, M: Clone + 'a>(
        &'a self,
        id: &'static str,
        active: bool,
        why_not: &'a str,
        on_input: fn(String) -> M,
        on_send: M,
    ) -> Element<'a, M> {
        let lines = column(
            self.history
                .iter()
                .map(|(from, t)| text(format!("{from}: {t}")).size(13).into()),
        )
        .spacing(2);
        let placeholder = if active { "message" } else { why_not };
        column![
            text("Chat"),
            scrollable(lines)
                .height(Length::Fixed(72.0))
                .width(Length::Fill)
                .anchor_bottom(),
            row![
                input(
                    placeholder,
                    &self.input,
                    id,
                    on_input,
                    active,
                    on_send.clone()
                )
                .width(Length::Fill),
                button("Send").on_press_maybe(active.then_some(on_send)),
            ]
            .spacing(8),
        ]
        .spacing(4)
        .into()
    }
}
