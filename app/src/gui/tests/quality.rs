//! The Server tab's *Quality* pick: choosing *Music* serves 48 kHz stereo, which a Receiver tab
//! records and names; the choice is remembered in the settings.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn picking_music_serves_48k_stereo_and_the_receiver_tab_shows_it() {
    let mut tab = tone_tab();
    assert_eq!(tab.quality.0, engine::quality::AudioFormat::SPEECH);
    assert!(ui(tab.view()).find("Quality").is_ok());
    // What the pick list sends (iced_test cannot open a pick list's menu; other tests send
    // SourceSelected the same way).
    let music = server_tab::Quality(engine::quality::AudioFormat::MUSIC);
    assert!(server_tab::Quality::choices(tab.quality).contains(&music));
    let _ = tab.update(server_tab::Message::QualitySelected(music));
    assert_eq!(tab.quality, music);
    assert_eq!(tab.settings().format, "48000:2");

    // What the Start task does with the tab's choice.
    let handle = server_tab::start(server_tab::StartRequest {
        format: tab.quality.0,
        ..tone_request(0, 20_250_918)
    })
    .await
    .expect("server");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("music.wav");
    let mut rx = ReceiverTab::new(&receiver_settings());
    let mut config = engine::receiver::RecordConfig::new(handle.local_addr().to_string(), &out);
    config.duration = Some(Duration::from_millis(500));
    let session = receiver_tab::begin(1, config, None).await.expect("session");
    let _ = rx.update(receiver_tab::Message::Started(Ok(session.clone())));
    let (summary, error) = receiver_tab::run(session.clone()).await;
    use futures::StreamExt;
    for e in session.events().collect::<Vec<_>>().await {
        let _ = rx.update(receiver_tab::Message::Event(e));
    }
    let _ = rx.update(receiver_tab::Message::Tick);
    assert!(
        ui(rx.view()).find("Format: Music (48 kHz stereo)").is_ok(),
        "the receiver names the format"
    );
    let _ = rx.update(receiver_tab::Message::Finished(summary, error));
    let wav = hound::WavReader::open(&out).expect("wav");
    assert_eq!((wav.spec().sample_rate, wav.spec().channels), (48_000, 2));
    assert_eq!(wav.duration(), 24_000, "0.5 s of 48 kHz frames");
    handle.stop().await.expect("stops");
}
