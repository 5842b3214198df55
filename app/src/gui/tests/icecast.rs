//! The Server tab's Icecast fields: the URL is checked as typed, the password lives in a field of
//! its own (a password typed into the URL moves there), and the publish state of a real
//! publisher is shown while serving.

use super::*;
use crate::gui::human_bytes;

#[test]
fn a_url_needs_a_password_and_one_typed_into_it_moves_to_the_password_field() {
    let mut tab = tone_tab();
    let _ = tab.update(server_tab::Message::Icecast(
        server_tab::icecast::Message::Url("icecast://source@127.0.0.1:8000/live.opus".into()),
    ));
    assert!(!tab.can_start());
    assert!(ui_find(
        &tab,
        "no source password (expected icecast://source:PASSWORD@HOST:8000/MOUNT)"
    ));
    // Typed into the password field, through the window.
    let messages = type_into(tab.view(), "server-icecast-password", "hunter2");
    for m in messages {
        let _ = tab.update(m);
    }
    assert_eq!(tab.icecast.password, "hunter2");
    assert!(tab.can_start());

    let _ = tab.update(server_tab::Message::Icecast(
        server_tab::icecast::Message::Url(
            "icecast://source:s3cret@127.0.0.1:8000/live.opus".into(),
        ),
    ));
    let _ = tab.update(server_tab::Message::Icecast(
        server_tab::icecast::Message::Password(String::new()),
    ));
    assert!(tab.can_start());
    let _ = tab.update(server_tab::Message::Start);
    assert_eq!(tab.icecast.url, "icecast://source@127.0.0.1:8000/live.opus");
    assert_eq!(tab.icecast.password, "s3cret");
    assert!(
        !tab.settings().icecast_url.contains("s3cret"),
        "never saved"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tab_shows_a_publisher_that_cannot_reach_icecast() {
    // A port nothing listens on: Icecast is down.
    let port = audiomi_testkit::free_port();
    let url = engine::icecast::IcecastUrl::parse(&format!(
        "icecast://source:hunter2@127.0.0.1:{port}/live.opus"
    ))
    .expect("url");
    let mut tab = tone_tab();
    let handle = server_tab::start(server_tab::StartRequest {
        host: "127.0.0.1".into(),
        port: 0,
        checkcode: 20_250_918,
        spec: "tone:440".into(),
        looping: true,
        http_port: None,
        icecast: Some(url),
        format: engine::quality::AudioFormat::SPEECH,
        private: None,
    })
    .await
    .expect("server starts");
    let _ = tab.update(server_tab::Message::Started(Ok(handle)));
    let retrying = tick_until(&mut tab, Duration::from_millis(50), |t| {
        t.icecast
            .publishers
            .iter()
            .any(|(_, s, _)| matches!(s, engine::icecast::PublishState::Retrying { .. }))
    })
    .await;
    assert!(retrying, "{:?}", tab.icecast.publishers);
    let (shown, state, bytes) = tab.icecast.publishers[0].clone();
    assert_eq!(
        shown,
        format!("icecast://source:****@127.0.0.1:{port}/live.opus")
    );
    let line = format!("Icecast {shown}: {state} · {} sent", human_bytes(bytes));
    assert!(line.contains("cannot connect to 127.0.0.1"), "{line}");
    assert!(ui_find(&tab, &line), "{line}");
    stop_serving(&mut tab);
    assert!(tab.icecast.publishers.is_empty());
}
