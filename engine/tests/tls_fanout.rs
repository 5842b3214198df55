//! TLS receivers served by the hub itself: each costs the server one socket (no loopback socket
//! pair, no copy task) and gets the same gap-free ramp as a plaintext receiver.

use std::time::Duration;

use audiomi_testkit::write_ramp;
use engine::audio::sources::SourceSpec;
use engine::codec::ClientSide;
use engine::pipeline::PipelineConfig;
use engine::secure::client::{TlsClientOptions, dial};
use engine::secure::{TlsIdentity, TlsServeOptions};
use engine::station::{ServeOptions, Station};
use futures::{SinkExt, StreamExt};
use tokio::sync::Barrier;
use tokio_util::codec::Framed;
use wire::{ClientFrame, ServerFrame};

/// Sockets this process holds now (Linux: `/proc/self/fd` links named `socket:[…]`).
fn open_sockets() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|l| l.to_string_lossy().starts_with("socket:"))
        .count()
}

async fn tls_ramp_server(dir: &std::path::Path) -> Station {
    let path = dir.join("ramp.wav");
    write_ramp(&path);
    let pipeline = PipelineConfig::default();
    let input = SourceSpec::File(path)
        .open(true, pipeline.rate, pipeline.chunk)
        .expect("open ramp");
    let (identity, _) = TlsIdentity::load_or_create(&dir.join("tls"), &[]).expect("identity");
    Station::start(
        ServeOptions::new("127.0.0.1:0", input).tls(Some(TlsServeOptions {
            listen: "127.0.0.1:0".into(),
            identity,
            key: None,
            plain: true,
        })),
    )
    .await
    .expect("server starts")
}

/// Receives `frames` AUDIO_AT frames over TLS, then waits twice at `hold` with the connection
/// still open (while the sockets are counted); returns the positions' gaps and the samples.
async fn tls_receiver(addr: String, frames: usize, hold: &Barrier) -> (usize, u64) {
    let options = TlsClientOptions::default();
    let conn = dial(
        &addr,
        Some(&options),
        wire::DEFAULT_CHECKCODE,
        Duration::from_secs(5),
    )
    .await
    .expect("TLS connect");
    let mut framed = Framed::new(conn, ClientSide(wire::Codec::new(wire::DEFAULT_CHECKCODE)));
    framed.feed(ClientFrame::ExtHello).await.expect("hello");
    framed.send(ClientFrame::Ping).await.expect("ping");
    let (mut got, mut gaps, mut samples, mut expected) = (0, 0, 0u64, None);
    while got < frames {
        let frame = tokio::time::timeout(Duration::from_secs(5), framed.next())
            .await
            .expect("a frame within 5 s")
            .expect("stream open")
            .expect("valid frame");
        if let ServerFrame::AudioAt { position, pcm } = frame {
            if expected.is_some_and(|e| e != position) {
                gaps += 1;
            }
            expected = Some(position + pcm.len() as u64 / 2);
            samples += pcm.len() as u64 / 2;
            got += 1;
        }
    }
    hold.wait().await;
    hold.wait().await;
    (gaps, samples)
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_receiver_costs_the_server_one_socket_and_gets_a_gap_free_ramp() {
    const RECEIVERS: usize = 8;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = tls_ramp_server(dir.path()).await;
    let (tls_addr, _) = server.tls().expect("TLS on");
    let before = open_sockets();
    let counted = Barrier::new(RECEIVERS + 1);
    let receivers = (0..RECEIVERS).map(|_| tls_receiver(tls_addr.to_string(), 10, &counted));
    let check = async {
        counted.wait().await;
        // Every receiver is connected and getting audio: count the sockets now.
        let added = open_sockets() - before;
        counted.wait().await;
        added
    };
    let (reports, added) = tokio::join!(futures::future::join_all(receivers), check);
    // Each receiver's own socket in this process, and the server's side of it: 2 per receiver
    // (the bridge added a loopback pair: 4 per receiver).
    assert!(
        added <= 2 * RECEIVERS,
        "{added} sockets for {RECEIVERS} TLS receivers (more than 2 each)"
    );
    for (gaps, samples) in reports {
        assert_eq!(gaps, 0, "a TLS receiver saw a gap");
        assert!(samples >= 10 * 320, "{samples} samples");
    }
    server.stop().await.expect("stops");
}
