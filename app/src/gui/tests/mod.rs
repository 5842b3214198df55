//! Headless tests of the window with iced_test: typing, validation, Start/Stop states, and events
//! from a real engine (a server on 127.0.0.1:0 and a receiver connecting to it) turning into the
//! right labels. Snapshot images of both tabs are compared with the committed PNGs.

use std::time::Duration;

use iced::{Element, Settings, Theme};
use iced_test::{Simulator, selector};

use super::receiver_tab::{self, ReceiverTab};
use super::server_tab::{self, ServerTab, SourceChoice};
use super::settings::{ReceiverSettings, ServerSettings};
use super::{App, FONT, Message, Tab};

mod chat;
mod found;
mod icecast;
mod playlist;
mod private;
mod quality;
mod receiver;

/// Sends `Tick` to `tab` every `every` (at most 100 times) until `done`; whether it got there.
async fn tick_until(
    tab: &mut ServerTab,
    every: Duration,
    done: impl Fn(&ServerTab) -> bool,
) -> bool {
    for _ in 0..100 {
        if done(tab) {
            return true;
        }
        tokio::time::sleep(every).await;
        let _ = tab.update(server_tab::Message::Tick);
    }
    done(tab)
}

fn ui<'a, M>(element: impl Into<Element<'a, M>>) -> Simulator<'a, M> {
    Simulator::with_size(
        Settings {
            default_font: FONT,
            ..Settings::default()
        },
        (760.0, 640.0),
        element,
    )
}

/// Clicks the field `id` in `view` and types `text` into it, as a user would; the messages the
/// window sent (for the tab's `update`).
fn type_into<'a, M>(view: impl Into<Element<'a, M>>, id: &'static str, text: &str) -> Vec<M> {
    let mut ui = ui(view);
    ui.click(selector::id(id))
        .unwrap_or_else(|e| panic!("no field {id}: {e:?}"));
    let _ = ui.typewrite(text);
    ui.into_messages().collect()
}

fn server_settings() -> ServerSettings {
    ServerSettings {
        host: "127.0.0.1".into(),
        port: "26070".into(),
        checkcode: "20250918".into(),
        source: None,
        http_port: "26080".into(),
        icecast_url: String::new(),
        format: "16000:1".into(),
    }
}

fn receiver_settings() -> ReceiverSettings {
    ReceiverSettings {
        host: "localhost".into(),
        port: "26070".into(),
        checkcode: "20250918".into(),
        folder: Some("/home/user/Music".into()),
        listen: false,
        reconnect: true,
    }
}

/// What Start serving asks for: a 440 Hz tone on 127.0.0.1:`port` with `checkcode`, no web
/// player, no Icecast, not private.
fn tone_request(port: u16, checkcode: i32) -> server_tab::StartRequest {
    server_tab::StartRequest {
        host: "127.0.0.1".into(),
        port,
        checkcode,
        spec: "tone:440".into(),
        looping: true,
        http_port: None,
        icecast: None,
        format: engine::quality::AudioFormat::SPEECH,
        private: None,
    }
}

fn tone_tab() -> ServerTab {
    let mut tab = ServerTab::new(&server_settings());
    let _ = tab.update(server_tab::Message::SourceSelected(SourceChoice::Tone));
    tab
}

#[test]
fn typing_an_invalid_port_shows_why_and_disables_start() {
    let mut tab = tone_tab();
    assert!(tab.can_start());
    let messages = type_into(tab.view(), "server-port", "9");
    assert!(!messages.is_empty(), "typing produces messages");
    for m in messages {
        let _ = tab.update(m);
    }
    assert_eq!(tab.port, "260709");
    assert!(!tab.can_start());
    let mut ui = ui(tab.view());
    assert!(ui.find("a port is a number from 1 to 65535").is_ok());
    // Start does nothing while the form is invalid.
    let _ = ui.click("Start serving");
    assert!(
        ui.into_messages().next().is_none(),
        "a disabled button sends nothing"
    );

    let _ = tab.update(server_tab::Message::Port("26070".into()));
    let _ = tab.update(server_tab::Message::Checkcode("twelve".into()));
    assert!(!tab.can_start());
    assert!(ui_find(&tab, "a whole number (the same on both ends)"));
}

#[test]
fn the_web_player_port_is_checked_saved_and_can_be_left_empty_for_none() {
    let mut tab = tone_tab();
    assert_eq!(tab.web_port(), Ok(Some(26080)));
    let messages = type_into(tab.view(), "server-http-port", "x");
    for m in messages {
        let _ = tab.update(m);
    }
    // (Typed where the click put the cursor in the narrow field.)
    assert!(
        tab.web.port.len() == 6 && tab.web.port.contains('x'),
        "{}",
        tab.web.port
    );
    assert!(!tab.can_start());
    assert!(ui_find(
        &tab,
        "the web player's port is a number from 1 to 65535 (empty: off)"
    ));
    let _ = tab.update(server_tab::Message::HttpPort("26070".into()));
    assert!(!tab.can_start(), "the stream's own port");
    assert!(ui_find(
        &tab,
        "the web player needs a port of its own (26070 is the stream's)"
    ));
    let _ = tab.update(server_tab::Message::HttpPort(String::new()));
    assert!(tab.can_start());
    assert_eq!(tab.web_port(), Ok(None), "empty: no web player");
    let _ = tab.update(server_tab::Message::HttpPort("26081".into()));
    assert_eq!(tab.web_port(), Ok(Some(26081)));
    assert_eq!(tab.settings().http_port, "26081", "saved with the settings");
}

fn ui_find(tab: &ServerTab, label: &str) -> bool {
    ui(tab.view()).find(label).is_ok()
}

#[test]
fn tabs_switch_and_the_title_says_what_runs() {
    let settings = super::settings::Settings {
        server: server_settings(),
        receiver: receiver_settings(),
    };
    let mut app = App::with_settings(&settings, None);
    assert_eq!(app.title(), "audioMi");
    let messages: Vec<Message> = {
        let mut ui = ui(app.view());
        ui.click("Receiver").expect("Receiver tab");
        ui.into_messages().collect()
    };
    for m in messages {
        let _ = app.update(m);
    }
    assert_eq!(app.tab, Tab::Receiver);
    assert!(ui(app.view()).find("Connect & Record").is_ok());
}

/// A real server started by the tab's own start function; a real receiver connects; the events
/// and counters become labels; Stop goes back.
/// While serving, the tab shows the web player's URL (port 0: a free one), its QR code and the
/// count of web listeners.
fn shows_the_web_player(tab: &mut ServerTab) {
    let (url, qr) = tab.web.url.clone().expect("web player URL");
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with('/'),
        "{url}"
    );
    assert!(qr.is_some());
    assert!(ui(tab.view()).find(url.as_str()).is_ok());
    let _ = tab.update(server_tab::Message::Tick);
    assert_eq!(tab.web.listeners, Some(0));
    assert!(ui(tab.view()).find("Web listeners: 0").is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_tab_shows_a_real_receiver() {
    let mut tab = tone_tab();
    let messages: Vec<_> = {
        let mut ui = ui(tab.view());
        ui.click("Start serving").expect("Start button");
        ui.into_messages().collect()
    };
    assert!(
        messages
            .iter()
            .any(|m| matches!(m, server_tab::Message::Start))
    );
    // What the Start task does, with port 0 so the test never collides.
    let handle = server_tab::start(server_tab::StartRequest {
        host: "127.0.0.1".into(),
        port: 0,
        checkcode: 20_250_918,
        spec: "tone:440".into(),
        looping: true,
        http_port: Some(0),
        icecast: None,
        format: engine::quality::AudioFormat::SPEECH,
        private: None,
    })
    .await
    .expect("server starts");
    let addr = handle.local_addr();
    let _ = tab.update(server_tab::Message::Started(Ok(handle)));
    assert!(
        tab.title()
            .is_some_and(|t| t.contains(&addr.port().to_string()))
    );
    assert!(ui(tab.view()).find("Stop").is_ok());
    shows_the_web_player(&mut tab);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut config =
        engine::receiver::RecordConfig::new(addr.to_string(), dir.path().join("r.wav"));
    config.duration = Some(Duration::from_secs(1));
    config.name = Some("kitchen".into());
    let token = tokio_util::sync::CancellationToken::new();
    let stats = std::sync::Arc::new(engine::receiver::RecordStats::default());
    let rec = tokio::spawn(engine::receiver::record(config, stats, None, None, token));
    let seen = tick_until(&mut tab, Duration::from_millis(20), |t| {
        t.clients.len() == 1
    })
    .await;
    assert!(seen, "the receiver shows up");
    assert!(ui(tab.view()).find("Clients: 1").is_ok());
    // The receiver is listed by the name it gave (it arrives right after its FORMAT).
    tick_until(&mut tab, Duration::from_millis(10), |t| {
        t.clients.iter().any(|c| c.name.is_some())
    })
    .await;
    let label = server_tab::view::client_label(&tab.clients[0]);
    assert!(label.starts_with("kitchen (127.0.0.1:"), "{label}");
    let _ = tab.update(server_tab::Message::Event(
        engine::server::ServerEvent::ClientConnected {
            id: 1,
            addr: "127.0.0.1:5555".parse().expect("addr"),
            clients: 1,
        },
    ));
    assert!(
        tab.status
            .contains("127.0.0.1:5555 connected (1 connected)"),
        "{}",
        tab.status
    );
    let outcome = rec.await.expect("receiver");
    outcome.result.expect("recorded 1 s");
    assert_eq!(outcome.summary.samples, 16_000);

    stop_serving(&mut tab);
}

/// Clicks Stop: the server goes (busy meanwhile), then Start serving is back.
fn stop_serving(tab: &mut ServerTab) {
    let messages: Vec<_> = {
        let mut ui = ui(tab.view());
        ui.click("Stop").expect("Stop button");
        ui.into_messages().collect()
    };
    for m in messages {
        drop(tab.update(m));
    }
    assert!(tab.running.is_none() && tab.busy);
    let _ = tab.update(server_tab::Message::Stopped(Ok(())));
    assert!(ui(tab.view()).find("Start serving").is_ok());
    assert_eq!(tab.status, "Stopped.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_port_is_said_plainly() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let mut tab = tone_tab();
    let err = server_tab::start(tone_request(port, 1))
        .await
        .expect_err("port in use");
    let _ = tab.update(server_tab::Message::Started(Err(err)));
    assert!(
        tab.status
            .contains(&format!("Port {port} is already in use")),
        "{}",
        tab.status
    );
    // Shown at the port field, in the tab itself (not only in the window's status bar).
    assert_eq!(
        tab.problem.as_ref().map(|p| p.spot),
        Some(crate::gui::form::Spot::Port)
    );
    assert!(ui_find(
        &tab,
        &format!(
            "Port {port} is already in use by another program (another audioMi?). Choose another port or stop the other program."
        )
    ));
    // Editing the port clears it.
    let _ = tab.update(server_tab::Message::Port("26071".into()));
    assert!(tab.problem.is_none());
    assert!(tab.can_start(), "controls are enabled again");
    assert!(ui(tab.view()).find("Start serving").is_ok());
}

#[test]
fn snapshots_of_both_tabs_match() {
    let tab = tone_tab();
    let mut ui_server = ui(tab.view());
    let snap = ui_server.snapshot(&Theme::Dark).expect("snapshot");
    assert!(
        snap.matches_image("snapshots/server-tab").expect("compare"),
        "the Server tab looks as committed"
    );

    let mut tab = ReceiverTab::new(&receiver_settings());
    tab.out = "/home/user/Music/audiomi-20260101-120000.wav".into();
    let mut ui_receiver = ui(tab.view());
    let snap = ui_receiver.snapshot(&Theme::Dark).expect("snapshot");
    assert!(
        snap.matches_image("snapshots/receiver-tab")
            .expect("compare"),
        "the Receiver tab looks as committed"
    );
}

/// Before serving, the meter previews the selected source: the test tone labelled −12 dBFS shows
/// a −12.0 dBFS peak.
#[test]
fn the_meter_previews_the_tone_at_minus_12_dbfs_peak() {
    let mut tab = tone_tab();
    let preview = engine::preview::Preview::start(
        &engine::audio::sources::SourceSpec::Tone(440.0),
        engine::pipeline::PipelineConfig::default(),
    )
    .expect("tone preview");
    let generation = tab.preview_generation;
    let _ = tab.update(server_tab::Message::PreviewStarted(
        generation,
        Ok(std::sync::Arc::new(preview)),
    ));
    assert!(tab.preview.is_some());
    std::thread::sleep(Duration::from_millis(200));
    let _ = tab.update(server_tab::Message::Tick);
    assert!((tab.meter.peak + 12.0).abs() < 0.05, "{:?}", tab.meter);
    {
        let mut ui = ui(tab.view());
        assert!(ui.find("Level (preview)").is_ok());
        assert!(ui.find("Peak -12.0 dBFS").is_ok());
    }
    // A stale preview (a newer one was asked for) is not shown.
    let _ = tab.update(server_tab::Message::PreviewStarted(
        generation.wrapping_sub(1),
        Err("old".into()),
    ));
    assert!(tab.problem.is_none());
}
