//! The server and receiver in-process, over real TCP on 127.0.0.1.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use audiomi_testkit::{ramp_break, read_wav, write_ramp};
use engine::audio::sources::SourceSpec;
use engine::codec::ClientSide;
use engine::pipeline::PipelineConfig;
use engine::receiver::{self, RecordConfig, RecordEvent, RecordStats};
use engine::server::{ServerConfig, ServerEvent};
use engine::station::{ServeOptions, Station};
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use wire::ServerFrame;

const PING: [u8; 8] = [0x26, 0x01, 0x35, 0x01, 0x63, 0x00, 0x00, 0x00];
const ACK: [u8; 9] = [0x26, 0x01, 0x35, 0x01, 0x63, 0x00, 0x00, 0x00, 0x00];
const EXT_HELLO: [u8; 8] = [0x26, 0x01, 0x35, 0x01, 0x64, 0x00, 0x00, 0x00];
const AUDIO_HEADER_640: [u8; 12] = [
    0x26, 0x01, 0x35, 0x01, 0x01, 0x00, 0x00, 0x00, 0x80, 0x02, 0x00, 0x00,
];

async fn ramp_server(dir: &Path, tweak: impl FnOnce(&mut ServerConfig)) -> Station {
    let path = dir.join("ramp.wav");
    if !path.exists() {
        write_ramp(&path);
    }
    let pipeline = PipelineConfig::default();
    let input = SourceSpec::File(path)
        .open(true, pipeline.rate, pipeline.chunk)
        .expect("open ramp");
    let mut server = ServerConfig::default();
    tweak(&mut server);
    Station::start(ServeOptions::new("127.0.0.1:0", input).server(server))
        .await
        .expect("server starts")
}

fn samples(pcm: &[u8]) -> Vec<i16> {
    wire::bytes_to_pcm16(pcm)
}

/// The original client reads the 9 bytes after its PING as the ACK: with audio flowing, that
/// must hold for every connection, whether it pings at once or after a while.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_client_always_gets_the_ack_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ramp_server(dir.path(), |_| {}).await;
    let addr = server.local_addr();
    let mut tasks = Vec::new();
    for i in 0..200u64 {
        tasks.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.expect("connect");
            // Some ping at once, some while audio is already being produced.
            tokio::time::sleep(Duration::from_millis((i % 8) * 25)).await;
            s.write_all(&PING).await.expect("ping");
            let mut ack = [0u8; 9];
            s.read_exact(&mut ack).await.expect("read ack");
            assert_eq!(
                ack, ACK,
                "connection {i}: the 9 bytes after PING are the ACK"
            );
            // Then AUDIO frames exactly as the original server sends them.
            let mut prev: Option<i16> = None;
            for _ in 0..5 {
                let mut header = [0u8; 12];
                s.read_exact(&mut header).await.expect("read audio header");
                assert_eq!(header, AUDIO_HEADER_640, "connection {i}");
                let mut pcm = vec![0u8; 640];
                s.read_exact(&mut pcm).await.expect("read audio");
                let pcm = samples(&pcm);
                if let Some(p) = prev {
                    assert_eq!(
                        pcm[0],
                        p.wrapping_add(1),
                        "connection {i}: frames are contiguous"
                    );
                }
                assert_eq!(ramp_break(&pcm), None);
                prev = pcm.last().copied();
            }
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn a_client_that_never_pings_gets_audio_after_the_grace_period() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ramp_server(dir.path(), |c| c.grace = Duration::from_millis(300)).await;
    let mut s = TcpStream::connect(server.local_addr())
        .await
        .expect("connect");
    let start = Instant::now();
    let mut header = [0u8; 12];
    s.read_exact(&mut header).await.expect("audio arrives");
    let waited = start.elapsed();
    assert_eq!(header, AUDIO_HEADER_640);
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_millis(1000),
        "{waited:?}"
    );
    server.stop().await.expect("stop");
}

struct Received {
    /// (position, arrival, samples) per frame; position is None for legacy frames.
    frames: Vec<(Option<u64>, Instant, Vec<i16>)>,
}

async fn receive(addr: std::net::SocketAddr, extended: bool, frames: usize) -> Received {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    if extended {
        s.write_all(&EXT_HELLO).await.expect("hello");
    }
    s.write_all(&PING).await.expect("ping");
    let mut framed = FramedRead::new(s, ClientSide(wire::Codec::default()));
    let mut out = Vec::new();
    while out.len() < frames {
        let frame = tokio::time::timeout(Duration::from_secs(5), framed.next())
            .await
            .expect("a frame within 5 s")
            .expect("stream open")
            .expect("valid frame");
        let now = Instant::now();
        match frame {
            ServerFrame::Audio(pcm) => out.push((None, now, samples(&pcm))),
            ServerFrame::AudioAt { position, pcm } => {
                out.push((Some(position), now, samples(&pcm)))
            }
            ServerFrame::Ack { status } => assert_eq!(status, 0),
            ServerFrame::KeyResult { .. } => panic!("KEY_RESULT on the plaintext port"),
            ServerFrame::Text { .. } => panic!("TEXT to a client that did not ask for the chat"),
            ServerFrame::NowPlaying { .. } => panic!("NOW_PLAYING to a client that did not ask"),
            ServerFrame::End { .. } => panic!("END to a client that did not ask"),
            ServerFrame::Format(f) => {
                assert!(extended);
                assert_eq!(
                    (f.sample_rate, f.channels, f.bits_per_sample),
                    (16_000, 1, 16)
                );
            }
        }
    }
    Received { frames: out }
}

impl Received {
    fn all_samples(&self) -> Vec<i16> {
        self.frames
            .iter()
            .flat_map(|f| f.2.iter().copied())
            .collect()
    }

    /// Largest delay of a frame behind the schedule its positions imply (ms).
    fn max_delay_ms(&self) -> f64 {
        let Some(first) = self.frames.first() else {
            return 0.0;
        };
        let t0 = first.1;
        let p0 = first.0.unwrap_or(0);
        let offsets: Vec<f64> = self
            .frames
            .iter()
            .map(|(p, t, _)| {
                let due = (p.unwrap_or(0) - p0) as f64 / 16.0; // ms at 16 kHz
                t.duration_since(t0).as_secs_f64() * 1000.0 - due
            })
            .collect();
        let min = offsets.iter().copied().fold(f64::INFINITY, f64::min);
        offsets.iter().map(|o| o - min).fold(0.0, f64::max)
    }
}

/// 200 receivers at once, half legacy and half extended: all get the same gap-free, bit-exact ramp.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_receivers_get_an_identical_gap_free_ramp() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ramp_server(dir.path(), |_| {}).await;
    let addr = server.local_addr();
    let tasks: Vec<_> = (0..200)
        .map(|i| tokio::spawn(receive(addr, i % 2 == 0, 50)))
        .collect();
    let mut offsets = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        let r = t.await.expect("receiver");
        let all = r.all_samples();
        assert_eq!(all.len(), 50 * 320);
        assert_eq!(
            ramp_break(&all),
            None,
            "receiver {i} has a gap or corruption"
        );
        if let Some(pos) = r.frames[0].0 {
            // The ramp value at a position is the same for every receiver.
            offsets.push(
                i64::from(r.frames[0].2[0])
                    .wrapping_sub(pos as i64)
                    .rem_euclid(65_536),
            );
            for w in r.frames.windows(2) {
                assert_eq!(
                    w[1].0,
                    w[0].0.map(|p| p + 320),
                    "positions advance by one chunk"
                );
            }
        }
    }
    assert_eq!(offsets.len(), 100);
    assert!(
        offsets.iter().all(|o| *o == offsets[0]),
        "every receiver got the same stream"
    );
    server.stop().await.expect("stop");
}

/// A client that stops reading does not delay the others and is dropped once it is too far behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_is_dropped_without_delaying_the_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ramp_server(dir.path(), |c| c.max_lag = Duration::from_millis(500)).await;
    let addr = server.local_addr();
    let mut events = server.hub().subscribe();
    // The stalled client pings and then never reads.
    let mut stalled = TcpStream::connect(addr).await.expect("connect");
    stalled.write_all(&PING).await.expect("ping");
    let stalled_port = stalled.local_addr().expect("addr").port();

    let healthy: Vec<_> = (0..10)
        .map(|_| tokio::spawn(receive(addr, true, 150)))
        .collect();
    // Memory stays bounded meanwhile: no client's queue ever holds more than max_lag of audio.
    let hub = server.hub().clone();
    let watcher = tokio::spawn(async move {
        let mut worst = Duration::ZERO;
        for _ in 0..400 {
            worst = hub
                .clients()
                .iter()
                .map(|c| c.lag)
                .fold(worst, Duration::max);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        worst
    });

    // The stalled client is dropped: its socket buffers fill, then its queue (max_lag).
    let dropped = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match events.recv().await {
                Ok(ServerEvent::ClientDisconnected { addr, reason, .. })
                    if addr.port() == stalled_port =>
                {
                    return reason;
                }
                Ok(_) => {}
                Err(e) => panic!("event stream ended: {e}"),
            }
        }
    })
    .await
    .expect("the stalled client is dropped within 20 s");
    assert!(dropped.contains("behind"), "reason: {dropped}");
    assert_eq!(
        server
            .hub()
            .stats()
            .lag_drops
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    for t in healthy {
        let r = t.await.expect("healthy receiver");
        assert_eq!(ramp_break(&r.all_samples()), None);
        let delay = r.max_delay_ms();
        assert!(
            delay < 100.0,
            "a healthy receiver was delayed by {delay:.1} ms"
        );
    }
    let worst = watcher.await.expect("watcher");
    assert!(
        worst <= Duration::from_millis(500),
        "a queue held {worst:?} of audio"
    );
    assert!(
        worst >= Duration::from_millis(400),
        "the stalled client's queue did fill ({worst:?})"
    );
    // Reading now drains what the kernel held, then the connection is closed.
    let mut buf = vec![0u8; 1 << 16];
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match stalled.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the stalled client's connection was closed");
    server.stop().await.expect("stop");
}

async fn expect_closed(mut s: TcpStream, what: &str) {
    let mut buf = vec![0u8; 1 << 16];
    let r = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(r.is_ok(), "{what}: the server closes the connection");
}

/// Wrong checkcode, impossible sizes and garbage close only the offending connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_clients_are_closed_and_others_unaffected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ramp_server(dir.path(), |_| {}).await;
    let addr = server.local_addr();
    let good = tokio::spawn(receive(addr, true, 100));
    let bad: [(&str, Vec<u8>); 4] = [
        (
            "wrong checkcode",
            vec![0x27, 0x01, 0x35, 0x01, 0x63, 0x00, 0x00, 0x00],
        ),
        (
            "negative size",
            vec![
                0x26, 0x01, 0x35, 0x01, 0x01, 0x00, 0x00, 0x00, 0xfe, 0xff, 0xff, 0xff, 0, 0, 0, 0,
            ],
        ),
        (
            "2 GB size claim",
            vec![
                0x26, 0x01, 0x35, 0x01, 0x01, 0x00, 0x00, 0x00, 0xfe, 0xff, 0xff, 0x7f, 0, 0, 0, 0,
            ],
        ),
        ("garbage", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
    ];
    for (what, bytes) in bad {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(&bytes).await.expect("send");
        expect_closed(s, what).await;
    }
    // Unknown commands are ignored, not fatal.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(&[0x26, 0x01, 0x35, 0x01, 0x07, 0x00, 0x00, 0x00])
        .await
        .expect("unknown cmd");
    s.write_all(&PING).await.expect("ping");
    let mut ack = [0u8; 9];
    s.read_exact(&mut ack).await.expect("still served");
    assert_eq!(ack, ACK);
    let r = good.await.expect("good client");
    assert_eq!(ramp_break(&r.all_samples()), None);
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn max_clients_refuses_the_extra_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ramp_server(dir.path(), |c| c.max_clients = 2).await;
    let addr = server.local_addr();
    let mut events = server.hub().subscribe();
    let _a = TcpStream::connect(addr).await.expect("a");
    let _b = TcpStream::connect(addr).await.expect("b");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let c = TcpStream::connect(addr)
        .await
        .expect("c connects at TCP level");
    expect_closed(c, "third client").await;
    let refused = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            if let Ok(ServerEvent::ClientRefused { .. }) = events.recv().await {
                return;
            }
        }
    })
    .await;
    assert!(refused.is_ok());
    assert_eq!(server.hub().clients().len(), 2);
    server.stop().await.expect("stop");
}

/// A TCP proxy whose connections can be cut, to lose the server without restarting it.
async fn cuttable_proxy(
    upstream: std::net::SocketAddr,
) -> (
    std::net::SocketAddr,
    Arc<tokio::sync::Notify>,
    Arc<std::sync::atomic::AtomicBool>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
    let addr = listener.local_addr().expect("proxy addr");
    let cut = Arc::new(tokio::sync::Notify::new());
    let refuse = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (cut2, refuse2) = (cut.clone(), refuse.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut down, _)) = listener.accept().await else {
                return;
            };
            if refuse2.load(std::sync::atomic::Ordering::SeqCst) {
                continue; // dropped: the receiver sees the connection close
            }
            let mut up = TcpStream::connect(upstream).await.expect("upstream");
            let cut = cut2.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut down, &mut up) => {}
                    () = cut.notified() => {}
                }
            });
        }
    });
    (addr, cut, refuse)
}

/// Losing the connection to the same server: the gap is known exactly from the stream positions,
/// so the file keeps the server's timeline sample for sample.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_to_the_same_stream_fills_the_exact_gap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ramp_server(dir.path(), |_| {}).await;
    let (proxy, cut, refuse) = cuttable_proxy(server.local_addr()).await;
    let out = dir.path().join("rec.wav");
    let mut config = RecordConfig::new(proxy.to_string(), &out);
    config.reconnect = true;
    let stats = Arc::new(RecordStats::default());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let token = CancellationToken::new();
    let rec = tokio::spawn(receiver::record(
        config,
        stats.clone(),
        Some(tx),
        None,
        token.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    refuse.store(true, std::sync::atomic::Ordering::SeqCst);
    cut.notify_waiters();
    tokio::time::sleep(Duration::from_millis(700)).await;
    refuse.store(false, std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    token.cancel();
    let outcome = rec.await.expect("record task");
    outcome.result.expect("recording ended as asked");
    let mut gaps = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let RecordEvent::Gap {
            samples, reason, ..
        } = e
        {
            gaps.push((samples, reason));
        }
    }
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert!(gaps[0].1.contains("exact"), "{gaps:?}");
    let (spec, samples) = read_wav(&out);
    assert_eq!((spec.sample_rate, spec.channels), (16_000, 1));
    // Outside the silence, sample − index is one constant: the timeline is intact.
    let gap = gaps[0].0 as usize;
    // Cut at 1.0 s, refused until 1.7 s; the receiver retries after 0.375–0.5 s and then after
    // 0.75–1 s more (receiver::Backoff), so it is back 0.7 to 1.5 s after the cut.
    assert!(
        (8_000..=26_000).contains(&gap),
        "gap of {gap} samples for a ~0.7-1.5 s outage"
    );
    let start = samples.iter().position(|&s| s != 0).expect("audio");
    let offset = |i: usize| (i64::from(samples[i]) - i as i64).rem_euclid(65_536);
    let zeros_at = audiomi_testkit::ramp_break(&samples).expect("the gap breaks the ramp");
    let resume = zeros_at + gap;
    assert_eq!(offset(start), offset(zeros_at - 1));
    assert_eq!(
        offset(resume),
        offset(start),
        "audio after the gap is where the stream says"
    );
    assert_eq!(ramp_break(&samples[resume..]), None);
    server.stop().await.expect("stop");
}

async fn fake_server(script: Vec<Vec<u8>>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        for part in script {
            s.write_all(&part).await.expect("write");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    addr
}

/// Records with `config` until the recording ends by itself (no events, no player, no stop).
async fn record_until_done(config: RecordConfig) -> receiver::Outcome {
    receiver::record(
        config,
        Arc::new(RecordStats::default()),
        None,
        None,
        CancellationToken::new(),
    )
    .await
}

fn audio_frame(samples: &[i16]) -> Vec<u8> {
    let mut b = bytes::BytesMut::new();
    wire::Codec::default()
        .encode_server(&ServerFrame::Audio(wire::pcm16_to_bytes(samples)), &mut b);
    b.to_vec()
}

/// A legacy server: audio before the ACK, no FORMAT. Then a bad frame: the recording stops with a
/// protocol error and keeps everything received before it.
#[tokio::test]
async fn records_from_a_legacy_server_and_keeps_data_on_protocol_errors() {
    for (what, bad) in [
        (
            "negative size",
            vec![
                0x26, 0x01, 0x35, 0x01, 0x01, 0x00, 0x00, 0x00, 0xfe, 0xff, 0xff, 0xff,
            ],
        ),
        (
            "oversize",
            vec![
                0x26, 0x01, 0x35, 0x01, 0x01, 0x00, 0x00, 0x00, 0xfe, 0xff, 0xff, 0x7f,
            ],
        ),
        (
            "wrong checkcode",
            vec![0x27, 0x01, 0x35, 0x01, 0x01, 0x00, 0x00, 0x00],
        ),
        ("garbage", b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let addr = fake_server(vec![
            audio_frame(&[1, 2, 3]),
            ACK.to_vec(),
            audio_frame(&[4, 5]),
            bad,
        ])
        .await;
        let out = dir.path().join("legacy.wav");
        let outcome = record_until_done(RecordConfig::new(addr.to_string(), &out)).await;
        let err = outcome.result.expect_err(what).to_string();
        assert!(err.contains("protocol error"), "{what}: {err}");
        let (spec, samples) = read_wav(&out);
        assert_eq!((spec.sample_rate, spec.channels), (16_000, 1), "{what}");
        assert_eq!(samples, [1, 2, 3, 4, 5], "{what}: nothing received is lost");
        assert_eq!(outcome.summary.samples, 5);
    }
}

/// The extension request is one 8-byte header: a server that ignores it stays in step.
#[tokio::test]
async fn the_extension_request_is_a_single_8_byte_header() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        let mut first = [0u8; 16];
        s.read_exact(&mut first).await.expect("16 bytes");
        s.write_all(&ACK).await.expect("ack");
        s.write_all(&audio_frame(&[9; 16])).await.expect("audio");
        first
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("x.wav");
    let mut config = RecordConfig::new(addr.to_string(), &out);
    config.duration = Some(Duration::from_millis(1)); // 16 samples
    let outcome = record_until_done(config).await;
    outcome.result.expect("recorded");
    let first = server.await.expect("server");
    assert_eq!(&first[..8], &EXT_HELLO);
    assert_eq!(&first[8..], &PING);
    assert_eq!(read_wav(&out).1, vec![9; 16]);
}

/// Over the write budget the hub joins consecutive chunks into one write: a budget of 20 writes/s
/// with two receivers and 20 ms chunks means 5 chunks per write. Frames still arrive whole,
/// gap-free and in order (legacy and extended alike); they just arrive 5 at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_write_budget_chunks_are_joined_but_stay_whole_and_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ramp_server(dir.path(), |c| c.writes_per_sec = 20).await;
    let addr = server.local_addr();
    let (legacy, extended) = tokio::join!(receive(addr, false, 40), receive(addr, true, 40));
    for (what, rx) in [("legacy", &legacy), ("extended", &extended)] {
        assert_eq!(ramp_break(&rx.all_samples()), None, "{what}: ramp broken");
        assert!(rx.frames.iter().all(|f| f.2.len() == 320), "{what}");
        // Frames of one write arrive together; a new write starts every 5 chunks (100 ms).
        let bursts = rx
            .frames
            .windows(2)
            .filter(|w| w[1].1.duration_since(w[0].1) > Duration::from_millis(50))
            .count();
        assert!(
            (5..=12).contains(&bursts),
            "{what}: 40 frames in 5-chunk writes arrive in about 8 bursts, saw {bursts}"
        );
    }
    let positions: Vec<u64> = extended.frames.iter().filter_map(|f| f.0).collect();
    assert!(
        positions.windows(2).all(|w| w[1] == w[0] + 320),
        "{positions:?}"
    );
    server.stop().await.expect("stop");
}

/// A pulled cable sends no FIN: an audioMi server (it answered the extension request, so it
/// streams continuously) that goes quiet is treated as lost after `stall_timeout`, and what was
/// received is kept. A legacy server that pauses is not timed out.
#[tokio::test]
async fn a_silent_audiomi_server_is_detected_as_lost_but_a_pausing_legacy_one_is_not() {
    let mut format = bytes::BytesMut::new();
    wire::Codec::default().encode_server(
        &ServerFrame::Format(wire::StreamFormat::legacy(7)),
        &mut format,
    );
    // audioMi server: FORMAT, ACK, audio, then silence on the wire (the fake holds the socket 5 s).
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = fake_server(vec![format.to_vec(), ACK.to_vec(), audio_frame(&[1, 2, 3])]).await;
    let out = dir.path().join("stalled.wav");
    let mut config = RecordConfig::new(addr.to_string(), &out);
    config.stall_timeout = Duration::from_millis(1500);
    let start = Instant::now();
    let outcome = record_until_done(config).await;
    let err = outcome.result.expect_err("a stall is an error").to_string();
    assert!(err.contains("nothing received for 1500 ms"), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(read_wav(&out).1, [1, 2, 3]);

    // Legacy server: ACK, audio, a 2.5 s pause, more audio, then it closes.
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut hello_and_ping = [0u8; 16];
            s.read_exact(&mut hello_and_ping)
                .await
                .expect("EXT_HELLO + PING");
            s.write_all(&ACK).await.expect("ack");
            s.write_all(&audio_frame(&[1, 2])).await.expect("audio");
            tokio::time::sleep(Duration::from_millis(2500)).await;
            s.write_all(&audio_frame(&[3, 4])).await.expect("audio");
        });
        addr
    };
    let out = dir.path().join("legacy.wav");
    let mut config = RecordConfig::new(addr.to_string(), &out);
    config.stall_timeout = Duration::from_millis(1500);
    let outcome = record_until_done(config).await;
    let err = outcome.result.expect_err("the server closed").to_string();
    assert!(err.contains("closed the connection"), "{err}");
    assert_eq!(
        read_wav(&out).1,
        [1, 2, 3, 4],
        "the pause did not end the recording"
    );
}

/// A receiver that names itself is listed by that name; a legacy receiver (no extensions)
/// never sends a name and is listed by its address alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_are_listed_by_the_name_they_give() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ramp_server(dir.path(), |_| {}).await;
    let addr = server.local_addr().to_string();
    let token = CancellationToken::new();
    let mut named = RecordConfig::new(addr.clone(), dir.path().join("named.wav"));
    named.name = Some("kitchen\u{7}  ".into());
    let mut legacy = RecordConfig::new(addr, dir.path().join("legacy.wav"));
    legacy.extensions = false;
    legacy.name = Some("never sent".into());
    let recs: Vec<_> = [named, legacy]
        .into_iter()
        .map(|c| {
            tokio::spawn(receiver::record(
                c,
                Arc::new(RecordStats::default()),
                None,
                None,
                token.clone(),
            ))
        })
        .collect();
    let start = Instant::now();
    let names = loop {
        let clients = server.hub().clients();
        if clients.len() == 2 && clients.iter().any(|c| c.name.is_some()) {
            break clients;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "{clients:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut listed: Vec<Option<String>> = names.iter().map(|c| c.name.clone()).collect();
    listed.sort();
    assert_eq!(
        listed,
        [None, Some("kitchen".to_string())],
        "control characters and spaces trimmed"
    );
    tokio::time::sleep(Duration::from_millis(300)).await; // audio reaches both
    token.cancel();
    for r in recs {
        r.await
            .expect("record task")
            .result
            .expect("stopped as asked");
    }
    server.stop().await.expect("stop");
}

/// The source stage never waits for an output: with an output that takes 100 ms per chunk (five
/// times real time) subscribed next to the TCP fan-out, the source still produces chunks at real
/// time (50 per second, ±1 %), the slow output loses chunks (counted), and a receiver gets a
/// gap-free ramp.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_output_never_slows_the_source_stage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ramp_server(dir.path(), |_| {}).await;
    let mut slow = server
        .stream()
        .expect("stream")
        .subscribe("slow test output");
    // It reads 45 items in 4.5 s, while the source produces about 225 and the stream holds 100.
    let slow_thread = std::thread::spawn(move || {
        for _ in 0..45 {
            slow.recv_blocking().expect("the stream is open");
            std::thread::sleep(Duration::from_millis(100));
        }
        slow.dropped().load(std::sync::atomic::Ordering::Relaxed)
    });
    let out = dir.path().join("fast.wav");
    let mut config = RecordConfig::new(server.local_addr().to_string(), &out);
    config.duration = Some(Duration::from_secs(4));
    let rec = tokio::spawn(receiver::record(
        config,
        Arc::new(RecordStats::default()),
        None,
        None,
        CancellationToken::new(),
    ));
    let chunks = server.source_stats().clone();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (c0, t0) = (
        chunks.chunks.load(std::sync::atomic::Ordering::Relaxed),
        Instant::now(),
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (c1, elapsed) = (
        chunks.chunks.load(std::sync::atomic::Ordering::Relaxed),
        t0.elapsed().as_secs_f64(),
    );
    let rate = (c1 - c0) as f64 / elapsed;
    assert!(
        (rate - 50.0).abs() <= 0.5,
        "source stage at {rate:.2} chunks/s, real time is 50"
    );
    let outcome = rec.await.expect("record task");
    outcome.result.expect("recorded 4 s");
    let (_, samples) = read_wav(&out);
    assert_eq!(samples.len(), 64_000);
    assert_eq!(ramp_break(&samples), None, "the TCP receiver lost nothing");
    let lost = slow_thread.join().expect("slow output");
    assert!(lost >= 50, "the slow output lost {lost} items, counted");
    server.stop().await.expect("stop");
}
