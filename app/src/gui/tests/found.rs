//! The Receiver tab's list of servers found over mDNS (on `lo`): a private server started by the
//! Server tab's code appears, one click fills address, port and TLS and pins the announced
//! fingerprint, the tab asks for the key, records with it, and places a wrong key's error at the
//! key field.

use futures::StreamExt;

use super::*;

const KEY: &str = "open sesame";

/// Feeds the tab what its subscription delivers (real mDNS on lo) until the server with TLS
/// port `tls_port` shows up; its full name.
async fn until_found(tab: &mut ReceiverTab, tls_port: u16) -> String {
    let sightings = receiver_tab::sightings();
    futures::pin_mut!(sightings);
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(s) = sightings.next().await {
            let mine = matches!(&s, engine::discovery::ServerSighting::Found(f)
                if f.tls_port == Some(tls_port));
            let name = match &s {
                engine::discovery::ServerSighting::Found(f) => f.fullname.clone(),
                engine::discovery::ServerSighting::Lost(n) => n.clone(),
            };
            let _ = tab.update(receiver_tab::Message::Sighting(s));
            if mine {
                return Some(name);
            }
        }
        None
    })
    .await
    .expect("found within 10 s")
    .expect("a sighting of our server")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_found_private_server_is_picked_asks_for_its_key_and_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let handle = server_tab::start(server_tab::StartRequest {
        private: Some(server_tab::Private {
            port: 0,
            key: KEY.into(),
            identity_dir: dir.path().to_path_buf(),
        }),
        ..tone_request(0, 20_250_918)
    })
    .await
    .expect("private server");
    let (tls_addr, fingerprint) = handle.tls().expect("TLS");
    let mut tab = ReceiverTab::new(&receiver_settings());
    assert!(ui(tab.view()).find("On the network").is_ok());

    let ours = until_found(&mut tab, tls_addr.port()).await;
    let listed = tab
        .finder
        .servers
        .iter()
        .find(|f| f.fullname == ours)
        .expect("listed");
    assert!(listed.key_required && listed.plain_port.is_none());
    let choice = tab
        .finder
        .choices()
        .into_iter()
        .find(|c| c.fullname == ours)
        .expect("offered");
    assert!(
        choice.private && choice.label.ends_with("private (key)"),
        "{}",
        choice.label
    );

    click_row(&mut tab, &ours, &choice.label);
    assert_eq!(
        (tab.host.as_str(), tab.port.clone()),
        ("127.0.0.1", tls_addr.port().to_string())
    );
    assert!(tab.finder.tls && tab.finder.key_required);
    assert_eq!(tab.finder.pin, Some(fingerprint));
    assert!(!tab.can_start(), "the key is asked for first");
    assert!(
        ui(tab.view())
            .find("This server is private: type its access key.")
            .is_ok()
    );
    assert!(
        ui(tab.view())
            .find(format!("Pinned fingerprint: {fingerprint}").as_str())
            .is_ok()
    );

    records_with_the_key_and_refuses_another(&mut tab, dir.path()).await;
    handle.stop().await.expect("stop");
}

/// Clicks the row labelled `label` (through iced_test) and feeds the tab what it sent, which
/// must be exactly one `Pick` of `ours`.
fn click_row(tab: &mut ReceiverTab, ours: &str, label: &str) {
    // One click on its row fills the form. Servers of tests running beside this one (also on
    // lo) would push ours below the two visible rows: only ours stays listed.
    tab.finder.servers.retain(|f| f.fullname == ours);
    let messages: Vec<_> = {
        let mut ui = ui(tab.view());
        ui.click(label).expect("a row to click");
        ui.into_messages().collect()
    };
    assert!(
        matches!(&messages[..], [receiver_tab::Message::Pick(p)] if p == ours),
        "{messages:?}"
    );
    for m in messages {
        let _ = tab.update(m);
    }
}

/// With the key typed, the tab's settings record 0.5 s (8,000 samples); with a wrong key the
/// error is shown at the key field.
async fn records_with_the_key_and_refuses_another(tab: &mut ReceiverTab, dir: &std::path::Path) {
    let _ = tab.update(receiver_tab::Message::AccessKey(KEY.into()));
    tab.out = dir.join("found.wav").display().to_string();
    tab.duration = "0.5".into();
    let config = tab.record_config().expect("ready");
    let session = receiver_tab::begin(1, config, None).await.expect("session");
    let (summary, error) = receiver_tab::run(session).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(summary.samples, 8_000);

    let _ = tab.update(receiver_tab::Message::AccessKey("nope".into()));
    tab.out = dir.join("refused.wav").display().to_string();
    let config = tab.record_config().expect("ready");
    let session = receiver_tab::begin(2, config, None).await.expect("session");
    let (_, error) = receiver_tab::run(session).await;
    let _ = tab.update(receiver_tab::Message::Finished(
        engine::receiver::Summary::default(),
        error.clone(),
    ));
    let problem = error.expect("refused");
    assert_eq!(problem.spot, crate::gui::form::Spot::Private);
    assert!(
        problem.text.contains("refused the access key"),
        "{}",
        problem.text
    );
    assert!(ui(tab.view()).find(problem.text.as_str()).is_ok());
}
