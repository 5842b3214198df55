//! The web output under abuse, next to healthy TCP receivers: 5,000 connections that never
//! send a request are closed after the header timeout, the web output keeps answering, and the
//! TCP receivers stay gap-free.

use std::time::Duration;

use audiomi_tools::loadgen;
use engine::audio::sources::SourceSpec;
use engine::station::ServeSettings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_idle_web_connections_are_closed_and_harm_nobody() {
    audiomi_tools::raise_fd_limit();
    let dir = tempfile::tempdir().expect("tempdir");
    let ramp = dir.path().join("ramp.wav");
    audiomi_testkit::write_ramp(&ramp);
    let mut settings = ServeSettings::new("127.0.0.1", 0, SourceSpec::File(ramp));
    settings.http_port = Some(0);
    settings.web.header_timeout = Duration::from_secs(2);
    let server = settings.start().await.expect("server starts");
    let web = server.web_addr().expect("web output");
    let healthy = tokio::spawn(async move {
        loadgen::run(&loadgen::Options {
            host: "127.0.0.1".into(),
            port: server.local_addr().port(),
            clients: 50,
            seconds: 8.0,
            checkcode: wire::DEFAULT_CHECKCODE,
            rate: wire::DEFAULT_SAMPLE_RATE,
            tls: false,
        })
        .await
    });
    let mut idle = Vec::with_capacity(5000);
    for _ in 0..5000 {
        idle.push(TcpStream::connect(web).await.expect("connect"));
    }
    // The web output still answers while they wait.
    let mut s = TcpStream::connect(web).await.expect("connect");
    s.write_all(b"GET /status.json HTTP/1.0\r\nHost: audiomi\r\n\r\n")
        .await
        .expect("send");
    let mut reply = String::new();
    s.read_to_string(&mut reply).await.expect("read");
    assert!(reply.starts_with("HTTP/1.0 200"), "{reply}");
    // After the 2 s header timeout every idle connection is closed by the server.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut closed = 0;
    for mut c in idle {
        let mut buf = [0u8; 512];
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(50), c.read(&mut buf)).await {
            // Closed (0), or an error response hyper sent before closing.
            if n == 0 || c.read(&mut buf).await.map_or(true, |n| n == 0) {
                closed += 1;
            }
        }
    }
    let healthy = healthy.await.expect("loadgen");
    println!("idle connections closed: {closed} of 5000; healthy: {healthy}");
    assert_eq!(
        closed, 5000,
        "every idle connection is closed after the header timeout"
    );
    assert!(healthy.ok(), "a TCP receiver saw a gap or an error");
}
