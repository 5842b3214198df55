//! The chat panels: a line sent from the Receiver tab reaches the server (and its tab's history),
//! a line the Server tab says reaches the Receiver tab's history, both through a real server and
//! a real recording.

use futures::StreamExt;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_tabs_chat_through_a_real_server() {
    let handle = server_tab::start(tone_request(0, 20_250_918))
        .await
        .expect("server");
    let mut server = tone_tab();
    let mut events = Box::pin(handle.events());
    let _ = server.update(server_tab::Message::Started(Ok(handle.clone())));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tab = ReceiverTab::new(&receiver_settings());
    let mut config = engine::receiver::RecordConfig::new(
        handle.local_addr().to_string(),
        dir.path().join("chat.wav"),
    );
    config.name = Some("kitchen".into());
    let session = receiver_tab::begin(1, config, None).await.expect("session");
    let _ = tab.update(receiver_tab::Message::Started(Ok(session.clone())));
    // Wait until the receiver has asked for the chat (it follows its NAME).
    tokio::time::timeout(Duration::from_secs(5), async {
        while !handle.hub().clients().iter().any(|c| c.name.is_some()) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the receiver named itself");
    tokio::time::sleep(Duration::from_millis(100)).await;

    let _ = tab.update(receiver_tab::Message::ChatInput("hello server".into()));
    let _ = tab.update(receiver_tab::Message::ChatSend);
    assert!(tab.chat.input.is_empty());
    let heard = tokio::time::timeout(Duration::from_secs(3), async {
        while let Some(e) = events.next().await {
            if let engine::server::ServerEvent::Text { .. } = &e {
                return Some(e);
            }
        }
        None
    })
    .await
    .expect("within 3 s")
    .expect("a Text event");
    let _ = server.update(server_tab::Message::Event(heard));
    assert!(ui(server.view()).find("kitchen: hello server").is_ok());

    let _ = server.update(server_tab::Message::ChatInput("hello kitchen".into()));
    let _ = server.update(server_tab::Message::ChatSend);
    let said = tokio::time::timeout(Duration::from_secs(3), async {
        let mut stream = Box::pin(session.events());
        while let Some(e) = stream.next().await {
            if matches!(&e, engine::receiver::RecordEvent::Text { text, .. } if text == "hello kitchen") {
                return Some(e);
            }
        }
        None
    })
    .await
    .expect("within 3 s")
    .expect("the receiver got it");
    let _ = tab.update(receiver_tab::Message::Event(said));
    assert!(tab.chat.history.iter().any(|(_, t)| t == "hello kitchen"));
    let _ = tab.update(receiver_tab::Message::Stop);
    handle.stop().await.expect("stop");
}
