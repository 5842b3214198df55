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

fn server_settings() -> ServerSettings {
    ServerSettings {
        host: "127.0.0.1".into(),
        port: "26070".into(),
        checkcode: "20250918".into(),
        source: None,
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

fn tone_tab() -> ServerTab {
    let mut tab = ServerTab::new(&server_settings());
    let _ = tab.update(server_tab::Message::SourceSelected(SourceChoice::Tone));
    tab
}

#[test]
fn typing_an_invalid_port_shows_why_and_disables_start() {
    let mut tab = tone_tab();
    assert!(tab.can_start());
    let messages: Vec<_> = {
        let mut ui = ui(tab.view());
        ui.click(selector::id("server-port")).expect("port field");
        let _ = ui.typewrite("9");
        ui.into_messages().collect()
    };
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

fn ui_find(tab: &ServerTab, label: &str) -> bool {
    ui(tab.view()).find(label).is_ok()
}

#[test]
fn receiver_fields_validate_and_enter_starts() {
    let mut tab = ReceiverTab::new(&receiver_settings());
    assert!(tab.can_start());
    let _ = tab.update(receiver_tab::Message::Duration("-3".into()));
    assert!(!tab.can_start());
    assert!(
        ui(tab.view())
            .find("a positive number of seconds, or empty")
            .is_ok()
    );
    let _ = tab.update(receiver_tab::Message::Duration("2.5".into()));
    let _ = tab.update(receiver_tab::Message::Host(String::new()));
    assert!(
        ui(tab.view())
            .find("enter a host name or IP address")
            .is_ok()
    );
    let _ = tab.update(receiver_tab::Message::Host("127.0.0.1".into()));
    // Enter in a field starts.
    let mut ui = ui(tab.view());
    ui.click(selector::id("receiver-host")).expect("host field");
    let _ = ui.tap_key(iced::keyboard::key::Named::Enter);
    assert!(
        ui.into_messages()
            .any(|m| matches!(m, receiver_tab::Message::Start))
    );
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
    let handle = server_tab::start("127.0.0.1".into(), 0, 20_250_918, "tone:440".into())
        .await
        .expect("server starts");
    let addr = handle.local_addr();
    let _ = tab.update(server_tab::Message::Started(Ok(handle)));
    assert!(
        tab.title()
            .is_some_and(|t| t.contains(&addr.port().to_string()))
    );
    assert!(ui(tab.view()).find("Stop").is_ok());

    let dir = tempfile::tempdir().expect("tempdir");
    let mut config =
        engine::receiver::RecordConfig::new(addr.to_string(), dir.path().join("r.wav"));
    config.duration = Some(Duration::from_secs(1));
    config.name = Some("kitchen".into());
    let token = tokio_util::sync::CancellationToken::new();
    let stats = std::sync::Arc::new(engine::receiver::RecordStats::default());
    let rec = tokio::spawn(engine::receiver::record(config, stats, None, None, token));
    let mut seen = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let _ = tab.update(server_tab::Message::Tick);
        if tab.clients.len() == 1 {
            seen = true;
            break;
        }
    }
    assert!(seen, "the receiver shows up");
    assert!(ui(tab.view()).find("Clients: 1").is_ok());
    // The receiver is listed by the name it gave (it arrives right after its FORMAT).
    for _ in 0..100 {
        if tab.clients.iter().any(|c| c.name.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        let _ = tab.update(server_tab::Message::Tick);
    }
    let label = server_tab::client_label(&tab.clients[0]);
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

    let messages: Vec<_> = {
        let mut ui = ui(tab.view());
        ui.click("Stop").expect("Stop button");
        ui.into_messages().collect()
    };
    for m in messages {
        let task = tab.update(m);
        drop(task);
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
    let err = server_tab::start("127.0.0.1".into(), port, 1, "tone:440".into())
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
        Some(super::Spot::Port)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_said_plainly_and_controls_come_back() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tab = ReceiverTab::new(&receiver_settings());
    let config =
        engine::receiver::RecordConfig::new(format!("127.0.0.1:{port}"), dir.path().join("x.wav"));
    let session = receiver_tab::begin(1, config, None).await.expect("session");
    let _ = tab.update(receiver_tab::Message::Started(Ok(session.clone())));
    assert!(ui(tab.view()).find("Stop").is_ok());
    assert!(tab.title().is_some());
    let (summary, error) = receiver_tab::run(session).await;
    let _ = tab.update(receiver_tab::Message::Finished(summary, error));
    assert!(
        tab.status.contains("connection refused") && tab.status.contains("Is the server started?"),
        "{}",
        tab.status
    );
    assert!(ui(tab.view()).find("Connect & Record").is_ok());
    assert!(tab.can_start());
}

/// A recording against a real server: ACK round-trip, elapsed, samples and the saved file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_tab_shows_a_real_recording() {
    let handle = server_tab::start("127.0.0.1".into(), 0, 20_250_918, "tone:440".into())
        .await
        .expect("server");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("rec.wav");
    let mut tab = ReceiverTab::new(&receiver_settings());
    let mut config = engine::receiver::RecordConfig::new(handle.local_addr().to_string(), &out);
    config.duration = Some(Duration::from_millis(500));
    let session = receiver_tab::begin(7, config, None).await.expect("session");
    let _ = tab.update(receiver_tab::Message::Started(Ok(session.clone())));
    let (summary, error) = receiver_tab::run(session.clone()).await;
    // Feed the engine's events into the tab as the subscription would.
    use futures::StreamExt;
    let events: Vec<_> = session.events().collect().await;
    assert!(
        !events.is_empty(),
        "the events are replayed to a late subscriber"
    );
    for e in events {
        let _ = tab.update(receiver_tab::Message::Event(e));
    }
    let _ = tab.update(receiver_tab::Message::Tick);
    assert!(tab.rtt.is_some(), "the ACK's round trip is shown");
    assert_eq!(tab.samples, 8_000);
    assert!(ui(tab.view()).find("Samples: 8000").is_ok());
    assert!(
        ui(tab.view())
            .find(
                format!(
                    "Ping: ACK in {:.1} ms",
                    tab.rtt.map_or(0.0, |r| r.as_secs_f64() * 1000.0)
                )
                .as_str()
            )
            .is_ok()
    );
    let _ = tab.update(receiver_tab::Message::Finished(summary, error));
    assert!(
        tab.status.starts_with("Saved") && tab.status.contains("rec.wav"),
        "{}",
        tab.status
    );
    assert!(ui(tab.view()).find("Open folder").is_ok());
    assert_eq!(hound::WavReader::open(&out).expect("wav").duration(), 8_000);
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

/// The wrong checkcode is shown at the checkcode field, after one clear error (no storm), and
/// the recording that received nothing is no "last recording".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_checkcode_is_shown_at_the_checkcode_field() {
    let handle = server_tab::start("127.0.0.1".into(), 0, 777, "tone:440".into())
        .await
        .expect("server");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tab = ReceiverTab::new(&receiver_settings());
    let mut config = engine::receiver::RecordConfig::new(
        handle.local_addr().to_string(),
        dir.path().join("w.wav"),
    );
    config.reconnect = true;
    let session = receiver_tab::begin(3, config, None).await.expect("session");
    let _ = tab.update(receiver_tab::Message::Started(Ok(session.clone())));
    let (summary, problem) = receiver_tab::run(session).await;
    let _ = tab.update(receiver_tab::Message::Finished(summary, problem));
    assert_eq!(
        tab.problem.as_ref().map(|p| p.spot),
        Some(super::Spot::Checkcode),
        "{}",
        tab.status
    );
    assert!(tab.status.contains("checkcode differs"), "{}", tab.status);
    assert!(
        tab.last_file.is_none(),
        "no empty file as the last recording"
    );
    assert!(!dir.path().join("w.wav").exists());
    assert!(
        ui(tab.view())
            .find(tab.problem.as_ref().map_or("", |p| p.text.as_str()))
            .is_ok()
    );
}

/// The path can be typed; when no file dialog shows, the tab says so at the field.
#[test]
fn the_record_to_path_can_be_typed_and_a_missing_dialog_is_explained() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tab = ReceiverTab::new(&receiver_settings());
    let _ = tab.update(receiver_tab::Message::Out(String::new()));
    assert!(!tab.can_start(), "an empty path cannot record");
    let typed = dir.path().join("typed.wav").display().to_string();
    let messages: Vec<_> = {
        let mut ui = ui(tab.view());
        ui.click(selector::id("receiver-file")).expect("file field");
        let _ = ui.typewrite(&typed);
        ui.into_messages().collect()
    };
    for m in messages {
        let _ = tab.update(m);
    }
    assert_eq!(tab.out, typed);
    assert!(tab.can_start());
    // A folder is not a file.
    let _ = tab.update(receiver_tab::Message::Out(dir.path().display().to_string()));
    assert!(!tab.can_start());
    assert!(
        ui(tab.view())
            .find("this is a folder: add a file name, e.g. recording.wav")
            .is_ok()
    );
    let _ = tab.update(receiver_tab::Message::Out(typed.clone()));
    // rfd returns at once when it has neither the desktop portal nor zenity.
    let _ = tab.update(receiver_tab::Message::Browsed(
        None,
        Duration::from_millis(5),
    ));
    assert!(ui(tab.view()).find(super::NO_FILE_DIALOG).is_ok());
    let _ = tab.update(receiver_tab::Message::Out(typed.clone()));
    assert!(tab.problem.is_none() && tab.can_start(), "typing clears it");
}

/// The idle Receiver tab shows no file size; *Listen* offers the outputs and warns about
/// feedback when it would play this machine's default output from a local server.
#[test]
fn listen_offers_outputs_and_warns_about_feedback() {
    let mut tab = ReceiverTab::new(&receiver_settings());
    assert!(ui(tab.view()).find("File: —").is_ok());
    assert!(ui(tab.view()).find("File: 44 B").is_err());
    let _ = tab.update(receiver_tab::Message::Outputs(Ok(vec![
        engine::audio::devices::DeviceInfo {
            kind: engine::audio::devices::DeviceKind::Output,
            id: "pulseaudio:headphones".into(),
            name: "Headphones".into(),
            is_default: false,
            sample_rate: 48_000,
            channels: 2,
        },
    ])));
    assert_eq!(tab.outputs.len(), 2, "the default output and one device");
    assert!(tab.feedback_warning().is_none(), "not listening");
    let _ = tab.update(receiver_tab::Message::Listen(true));
    assert!(ui(tab.view()).find(receiver_tab::FEEDBACK_WARNING).is_ok());
    let _ = tab.update(receiver_tab::Message::OutputSelected(
        tab.outputs[1].clone(),
    ));
    assert!(tab.feedback_warning().is_none(), "another output: no loop");
    assert_eq!(
        tab.output.device().as_deref(),
        Some("pulseaudio:headphones")
    );
    let _ = tab.update(receiver_tab::Message::OutputSelected(
        receiver_tab::OutputChoice::Default,
    ));
    let _ = tab.update(receiver_tab::Message::Host("192.0.2.7".into()));
    assert!(tab.feedback_warning().is_none(), "another machine: no loop");
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
