//! A 48 kHz stereo server in-process: extension clients get FORMAT 48000/2 and stereo AUDIO_AT;
//! the 16 kHz mono legacy stream is made only while a legacy client is connected.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use engine::audio::sources::SourceSpec;
use engine::codec::ClientSide;
use engine::pipeline::PipelineConfig;
use engine::station::{ServeOptions, Station};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::codec::FramedRead;
use wire::ServerFrame;

const PING: [u8; 8] = [0x26, 0x01, 0x35, 0x01, 0x63, 0x00, 0x00, 0x00];
const EXT_HELLO: [u8; 8] = [0x26, 0x01, 0x35, 0x01, 0x64, 0x00, 0x00, 0x00];

async fn stereo_server() -> Station {
    let pipeline = PipelineConfig {
        rate: 48_000,
        channels: 2,
        ..PipelineConfig::default()
    };
    let input = SourceSpec::Tone(1000.0)
        .open(true, pipeline.rate, pipeline.chunk)
        .expect("tone");
    Station::start(ServeOptions::new("127.0.0.1:0", input).pipeline(pipeline))
        .await
        .expect("server starts")
}

type Frames = FramedRead<TcpStream, ClientSide>;

async fn connect(addr: std::net::SocketAddr, extended: bool) -> Frames {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    if extended {
        s.write_all(&EXT_HELLO).await.expect("hello");
    }
    s.write_all(&PING).await.expect("ping");
    FramedRead::new(s, ClientSide(wire::Codec::default()))
}

async fn next(framed: &mut Frames) -> ServerFrame {
    tokio::time::timeout(Duration::from_secs(5), framed.next())
        .await
        .expect("a frame within 5 s")
        .expect("stream open")
        .expect("valid frame")
}

/// Waits up to 2 s for the legacy demand flag to become `want`.
async fn demand_becomes(server: &Station, want: bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        if server.hub().legacy_demand().load(Ordering::Acquire) == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_clients_get_16k_mono_made_only_while_they_are_connected() {
    let server = stereo_server().await;
    let addr = server.local_addr();
    let mut ext = connect(addr, true).await;
    let mut format = None;
    let mut audio_at = 0;
    while audio_at < 10 {
        match next(&mut ext).await {
            ServerFrame::Format(f) => format = Some((f.sample_rate, f.channels)),
            ServerFrame::AudioAt { pcm, .. } => {
                assert_eq!(pcm.len(), 960 * 2 * 2, "20 ms of 48 kHz stereo");
                audio_at += 1;
            }
            _ => {}
        }
    }
    assert_eq!(format, Some((48_000, 2)));
    assert!(
        demand_becomes(&server, false).await,
        "no 16 kHz stream for extension clients alone"
    );

    let mut legacy = connect(addr, false).await;
    let mut samples = 0;
    let mut frames = 0;
    while frames < 50 {
        match next(&mut legacy).await {
            ServerFrame::Audio(pcm) => {
                samples += pcm.len() / 2;
                frames += 1;
            }
            ServerFrame::Ack { .. } => {}
            other => panic!("a legacy client got {other:?}"),
        }
    }
    assert!(server.hub().legacy_demand().load(Ordering::Acquire));
    // 50 chunks of 20 ms at 16 kHz mono: 16,000 samples, less the converter's start-up delay.
    assert!((15_000..=16_100).contains(&samples), "{samples} samples");
    drop(legacy);
    assert!(
        demand_becomes(&server, false).await,
        "the 16 kHz stream stops with the last legacy client"
    );
    // The extension client goes on undisturbed.
    for _ in 0..5 {
        if let ServerFrame::AudioAt { pcm, .. } = next(&mut ext).await {
            assert_eq!(pcm.len(), 3840);
        }
    }
    server.stop().await.expect("stops");
}
