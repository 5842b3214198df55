//! The Server tab's *Private (TLS + key)* switch: it needs a key, hides the key, and a private
//! server shows the fingerprint receivers pin; a real TLS receiver with that pin and key records
//! from it, one with a wrong key is refused.

use super::*;

#[test]
fn private_needs_a_key_typed_into_a_hidden_field() {
    let mut tab = tone_tab();
    assert!(tab.can_start());
    let messages: Vec<_> = {
        let mut ui = ui(tab.view());
        ui.click("Private (TLS + key)").expect("the switch");
        ui.into_messages().collect()
    };
    for m in messages {
        let _ = tab.update(m);
    }
    assert!(tab.private);
    assert!(!tab.can_start(), "no key yet");
    assert!(ui_find(
        &tab,
        "A private server needs an access key: receivers must type it."
    ));
    let messages = type_into(tab.view(), "server-access-key", "open sesame");
    for m in messages {
        let _ = tab.update(m);
    }
    assert_eq!(tab.access_key, "open sesame");
    assert!(tab.can_start());
    assert!(!ui_find(&tab, "open sesame"), "the key is shown as dots");
    assert!(
        !format!("{:?}", tab.settings()).contains("sesame"),
        "never saved"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_server_shows_its_fingerprint_and_admits_only_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tab = tone_tab();
    let _ = tab.update(server_tab::Message::Private(true));
    let _ = tab.update(server_tab::Message::AccessKey("open sesame".into()));
    let handle = server_tab::start(server_tab::StartRequest {
        private: Some(server_tab::Private {
            port: 0,
            key: "open sesame".into(),
            identity_dir: dir.path().to_path_buf(),
        }),
        ..tone_request(0, 20_250_918)
    })
    .await
    .expect("private server starts");
    let (tls_addr, fingerprint) = handle.tls().expect("TLS on");
    assert_eq!(handle.local_addr(), tls_addr, "no plaintext port");
    let _ = tab.update(server_tab::Message::Started(Ok(handle)));
    assert_eq!(tab.tls, Some((tls_addr.port(), fingerprint.to_string())));
    assert!(ui_find(
        &tab,
        &format!("Certificate fingerprint: {fingerprint}")
    ));
    assert!(ui_find(
        &tab,
        &format!("Private: TLS port {}, access key required", tls_addr.port())
    ));

    let record = |key: &str, file: &str| {
        let mut config =
            engine::receiver::RecordConfig::new(tls_addr.to_string(), dir.path().join(file));
        config.duration = Some(Duration::from_millis(500));
        config.tls = Some(engine::secure::TlsClientOptions {
            pin: Some(fingerprint),
            known_servers: None,
            key: Some(key.to_string()),
        });
        let stats = std::sync::Arc::new(engine::receiver::RecordStats::default());
        let token = tokio_util::sync::CancellationToken::new();
        engine::receiver::record(config, stats, None, None, token)
    };
    let admitted = record("open sesame", "ok.wav").await;
    assert!(admitted.result.is_ok(), "{:?}", admitted.result);
    let (spec, samples) = audiomi_testkit::read_wav(&dir.path().join("ok.wav"));
    assert_eq!((spec.sample_rate, samples.len()), (16_000, 8_000));
    let refused = record("guess", "no.wav").await;
    assert!(
        matches!(refused.result, Err(engine::Error::WrongKey { .. })),
        "{:?}",
        refused.result
    );
    stop_serving(&mut tab);
    assert!(tab.tls.is_none());
}
