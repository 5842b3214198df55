//! Receiver tab tests.

use std::time::Duration;

use super::*;

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
    let text = tab.problem.as_ref().map_or("", |p| p.text.as_str());
    assert!(
        text.contains("connection refused") && text.contains("Is the server started?"),
        "{text}"
    );
    assert!(ui(tab.view()).find(text).is_ok(), "shown beside its field");
    assert!(ui(tab.view()).find("Connect & Record").is_ok());
    assert!(tab.can_start());
}

/// A recording against a real server: ACK round-trip, elapsed, samples and the saved file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_tab_shows_a_real_recording() {
    let handle = server_tab::start(tone_request(0, 20_250_918))
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
    assert!(ui(tab.view()).find("Frames: 8000").is_ok());
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

/// The wrong checkcode is shown at the checkcode field, after one clear error (no storm), and
/// the recording that received nothing is no "last recording".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_checkcode_is_shown_at_the_checkcode_field() {
    let handle = server_tab::start(tone_request(0, 777))
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
        Some(crate::gui::form::Spot::Checkcode),
        "{}",
        tab.status
    );
    let text = tab.problem.as_ref().map_or("", |p| p.text.as_str());
    assert!(text.contains("checkcode differs"), "{text}");
    // Said once, beside the field: not again in the status line, and not twice in the text.
    assert!(!tab.status.contains("checkcode"), "{}", tab.status);
    assert_eq!(text.matches("checkcode").count(), 1, "{text}");
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
    let messages = type_into(tab.view(), "receiver-file", &typed);
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
    assert!(
        ui(tab.view())
            .find(crate::gui::desktop::NO_FILE_DIALOG)
            .is_ok()
    );
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

/// A playlist server's NOW_PLAYING is shown in the tab.
#[test]
fn the_track_playing_is_shown() {
    let mut tab = ReceiverTab::new(&receiver_settings());
    assert!(ui(tab.view()).find("Now playing: Tone B — ffmpeg").is_err());
    let _ = tab.update(receiver_tab::Message::Event(
        engine::receiver::RecordEvent::NowPlaying {
            title: "Tone B".into(),
            artist: "ffmpeg".into(),
        },
    ));
    assert!(ui(tab.view()).find("Now playing: Tone B — ffmpeg").is_ok());
}

/// With Auto-reconnect on, a server that refuses is retried with its reason shown under
/// *Server* (not only "Reconnecting (attempt 6)…"), and the reason goes once a try succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_reconnecting_the_last_failure_is_shown_beside_its_field() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config =
        engine::receiver::RecordConfig::new(format!("127.0.0.1:{port}"), dir.path().join("x.wav"));
    config.reconnect = true;
    let session = receiver_tab::begin(1, config, None).await.expect("session");
    let mut events = Box::pin(session.events());
    let mut tab = ReceiverTab::new(&receiver_settings());
    let _ = tab.update(receiver_tab::Message::Started(Ok(session.clone())));
    use futures::StreamExt;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let e = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("an event")
            .expect("events go on");
        let retrying = matches!(e, engine::receiver::RecordEvent::Retrying { .. });
        let _ = tab.update(receiver_tab::Message::Event(e));
        if retrying {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no Retrying event");
    }
    let problem = tab.problem.clone().expect("a problem shown");
    assert_eq!(problem.spot, crate::gui::form::Spot::Host, "{problem:?}");
    assert!(problem.text.contains("connection refused"), "{problem:?}");
    assert!(tab.status.contains("Retrying in"), "{}", tab.status);
    assert!(ui(tab.view()).find(problem.text.as_str()).is_ok());
}

/// Hi-fi (48 kHz stereo): the tab counts frames, not samples of both channels, and after Stop
/// shows the saved file's own figures (frames and size on the disk, as `sox --i` reads them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hifi_recording_shows_frames_and_the_files_real_size() {
    let mut settings = engine::station::ServeSettings::new(
        "127.0.0.1",
        0,
        engine::audio::sources::SourceSpec::Tone(1000.0),
    );
    settings.pipeline.rate = 48_000;
    settings.pipeline.channels = 2;
    let handle = settings.start().await.expect("server");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("hifi.wav");
    let mut tab = ReceiverTab::new(&receiver_settings());
    let mut config = engine::receiver::RecordConfig::new(handle.local_addr().to_string(), &out);
    config.duration = Some(Duration::from_millis(500));
    let session = receiver_tab::begin(8, config, None).await.expect("session");
    let _ = tab.update(receiver_tab::Message::Started(Ok(session.clone())));
    let (summary, error) = receiver_tab::run(session.clone()).await;
    use futures::StreamExt;
    for e in session.events().collect::<Vec<_>>().await {
        let _ = tab.update(receiver_tab::Message::Event(e));
    }
    let _ = tab.update(receiver_tab::Message::Tick);
    assert_eq!(tab.samples, 24_000, "frames of 0.5 s at 48 kHz");
    assert!(ui(tab.view()).find("Recorded: 0.5 s").is_ok());
    let _ = tab.update(receiver_tab::Message::Finished(summary, error));
    let size = std::fs::metadata(&out).expect("saved").len();
    let reader = hound::WavReader::open(&out).expect("wav");
    assert_eq!((reader.duration(), reader.spec().channels), (24_000, 2));
    assert_eq!(tab.samples, 24_000);
    assert_eq!(tab.file_size, Some(size));
    assert!(ui(tab.view()).find("Frames: 24000").is_ok());
    let shown = format!("File: {}", crate::gui::human_bytes(size));
    assert!(ui(tab.view()).find(shown.as_str()).is_ok(), "{shown}");
    handle.stop().await.expect("stop");
}

/// A typed *Record to* folder is kept for the next recordings (and saved with the settings),
/// not only one chosen with *Browse…*.
#[test]
fn the_record_to_folder_is_kept_for_the_next_recordings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tab = ReceiverTab::new(&receiver_settings());
    let typed = dir.path().join("typed.wav").display().to_string();
    let _ = tab.update(receiver_tab::Message::Out(typed));
    let _ = tab.update(receiver_tab::Message::Start);
    assert_eq!(tab.settings().folder.as_deref(), Some(dir.path()));
}

/// *Open folder* without a file manager (or for a folder that is gone) says so in the window.
#[test]
fn a_folder_that_cannot_be_opened_is_said_in_the_window() {
    let gone = std::path::Path::new("/nonexistent/audiomi-recordings");
    let why = receiver_tab::open_folder(gone).expect_err("cannot be opened");
    assert!(why.starts_with("Cannot open the folder"), "{why}");
    assert!(why.contains("/nonexistent/audiomi-recordings"), "{why}");
    let mut tab = ReceiverTab::new(&receiver_settings());
    let _ = tab.update(receiver_tab::Message::FolderOpened(Err(why.clone())));
    assert_eq!(tab.status, why, "the status line says it");
}
