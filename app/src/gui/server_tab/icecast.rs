//! The Icecast output's part of the Server tab: its fields (the URL and, apart, its source
//! password), their check, and one status row per publisher while serving. The tab holds one
//! [`Icecast`] and routes [`Message::Icecast`](super::Message::Icecast) here.

use std::sync::atomic::Ordering;

use engine::icecast::{IcecastUrl, PublishState};
use engine::station::Station;
use iced::widget::{column, row, text};
use iced::{Element, Length};

use super::Message as TabMessage;
use crate::gui::form::{Field, field, field_error, input};
use crate::gui::human_bytes;

/// The Icecast fields' messages.
#[derive(Debug, Clone)]
pub enum Message {
    /// URL field edited.
    Url(String),
    /// Password field edited.
    Password(String),
}

/// The Icecast fields and, while serving, each publisher's state.
#[derive(Debug, Default)]
pub struct Icecast {
    /// URL field (no password in it once serving starts).
    pub url: String,
    /// Password field (shown as dots, never saved).
    pub password: String,
    /// Each publisher's target (password hidden), state and bytes sent, while serving.
    pub publishers: Vec<(String, PublishState, u64)>,
}

impl Icecast {
    /// The fields with the saved URL (never a password).
    pub fn new(saved_url: &str) -> Self {
        Self {
            url: saved_url.to_string(),
            ..Self::default()
        }
    }

    /// Takes an edit.
    pub fn update(&mut self, message: Message) {
        match message {
            Message::Url(v) => self.url = v,
            Message::Password(v) => self.password = v,
        }
    }

    /// The fields parsed: `None` when the URL field is empty; the error in words otherwise.
    pub fn parsed(&self) -> Field<Option<IcecastUrl>> {
        field(&self.url, |text| {
            if text.trim().is_empty() {
                return Ok(None);
            }
            IcecastUrl::parse_with_password(text, &self.password)
                .map(Some)
                .map_err(|e| match e {
                    engine::Error::Config { reason, .. } => reason,
                    e => e.to_string(),
                })
        })
    }

    /// Serving starts with `url`: a password typed into the URL moves to its own field (never
    /// shown, never saved).
    pub fn starting(&mut self, url: Option<&IcecastUrl>) {
        if let Some(url) = url {
            self.url = url.without_password();
            self.password = url.password().to_string();
        }
    }

    /// Each publisher's state and bytes sent, from the running station.
    pub fn refresh(&mut self, station: &Station) {
        self.publishers = station
            .icecast()
            .iter()
            .map(|s| {
                let bytes = s.bytes_sent.load(Ordering::Relaxed);
                (s.url.to_string(), s.state(), bytes)
            })
            .collect();
    }

    /// What a refresh tick compares to see whether a row would change: each publisher's state.
    pub fn watch(station: &Station) -> Vec<String> {
        station
            .icecast()
            .iter()
            .map(|s| s.state().to_string())
            .collect()
    }

    /// Serving stopped: no publisher rows.
    pub fn stopped(&mut self) {
        self.publishers.clear();
    }

    /// The URL and its password (dots) with `problem` (or the fields' own error) under them;
    /// Enter in either starts serving.
    pub fn form(&self, editable: bool, problem: Option<String>) -> Element<'_, TabMessage> {
        let error = self.parsed().error.or(problem);
        let url = input(
            "icecast://source@host:8000/live.opus",
            &self.url,
            "server-icecast-url",
            |v| TabMessage::Icecast(Message::Url(v)),
            editable,
            TabMessage::Start,
        );
        let password = input(
            "password",
            &self.password,
            "server-icecast-password",
            |v| TabMessage::Icecast(Message::Password(v)),
            editable,
            TabMessage::Start,
        )
        .secure(true);
        column![
            text("Also publish to Icecast (optional)"),
            row![
                url.width(Length::FillPortion(4)),
                password.width(Length::FillPortion(2))
            ]
            .spacing(12),
            field_error(error),
        ]
        .spacing(4)
        .into()
    }

    /// One status row per publisher: where (password hidden), its state (with the last error
    /// while it retries or was refused) and the bytes sent.
    pub fn rows(&self) -> impl Iterator<Item = Element<'_, TabMessage>> {
        self.publishers.iter().map(|(url, state, bytes)| {
            let line = text(format!(
                "Icecast {url}: {state} · {} sent",
                human_bytes(*bytes)
            ));
            match state {
                PublishState::Refused { .. } => line.style(text::danger).into(),
                PublishState::Retrying { .. } => line.style(text::warning).into(),
                _ => line.into(),
            }
        })
    }
}
