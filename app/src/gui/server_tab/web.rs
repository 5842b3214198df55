//! The web player's part of the Server tab: its port field (empty: no web player) and, while
//! serving, its URL with a QR code for phones and the listeners counter. The tab holds one
//! [`WebPlayer`] and routes [`Message::HttpPort`](super::Message::HttpPort) here.

use std::sync::atomic::Ordering;

use engine::station::Station;
use iced::widget::{canvas, column, row, text};
use iced::{Element, Length};

use super::Message as TabMessage;
use crate::gui::form::input;
use crate::gui::qr::Qr;

/// The web player's field and, while serving, what it shows.
#[derive(Debug, Default)]
pub struct WebPlayer {
    /// The port field, as in the settings (empty: no web player).
    pub port: String,
    /// Its URL while serving, and the URL's QR code.
    pub url: Option<(String, Option<Qr>)>,
    /// Listeners now (refreshed on each tick while it runs).
    pub listeners: Option<usize>,
}

impl WebPlayer {
    /// The field with the saved port.
    pub fn new(saved_port: &str) -> Self {
        Self {
            port: saved_port.to_string(),
            ..Self::default()
        }
    }

    /// The port from the field (`None`: no web player); `tcp_port` is the server's port field,
    /// which it must differ from.
    ///
    /// # Errors
    /// What is wrong with the field, in words.
    pub fn parsed(&self, tcp_port: &str) -> Result<Option<u16>, String> {
        crate::gui::form::validate_web_port(&self.port, tcp_port)
    }

    /// Serving started: the URL (and its QR code) if the station runs a web player; returns
    /// the URL for the status line.
    pub fn started(&mut self, station: &Station) -> Option<String> {
        self.url = station.web_url().map(|url| {
            let qr = Qr::new(&url);
            (url, qr)
        });
        self.url.as_ref().map(|(url, _)| url.clone())
    }

    /// The listeners counter, from the running station.
    pub fn refresh(&mut self, station: &Station) {
        self.listeners = Self::watch(station);
    }

    /// What a refresh tick compares to see whether the counter would change.
    pub fn watch(station: &Station) -> Option<usize> {
        station
            .web_stats()
            .map(|w| w.listeners.load(Ordering::Relaxed))
    }

    /// Serving stopped: no URL, no counter.
    pub fn stopped(&mut self) {
        self.url = None;
        self.listeners = None;
    }

    /// The port field (Enter starts serving).
    pub fn field(&self, editable: bool) -> Element<'_, TabMessage> {
        input(
            "off",
            &self.port,
            "server-http-port",
            TabMessage::HttpPort,
            editable,
            TabMessage::Start,
        )
        .width(Length::Fixed(80.0))
        .into()
    }

    /// The URL and a QR code of it for phones, while serving with a web player.
    pub fn banner(&self) -> Option<Element<'_, TabMessage>> {
        let (url, qr) = self.url.as_ref()?;
        let words = column![
            text("Web player: any browser or phone on the network"),
            text(url.clone()).size(18),
        ]
        .spacing(4)
        .width(Length::Fill);
        Some(match qr {
            Some(qr) => row![words, canvas(qr).width(100).height(100)]
                .spacing(12)
                .into(),
            None => words.into(),
        })
    }

    /// The listeners counter, while it runs.
    pub fn counter(&self) -> Option<Element<'_, TabMessage>> {
        self.listeners
            .map(|n| text(format!("Web listeners: {n}")).into())
    }
}
