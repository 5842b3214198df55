//! The web output end to end, over real TCP on 127.0.0.1: the live Ogg/Opus stream checked by
//! the reference decoder (`opusdec`), the live WAV stream, the status, and bad clients.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use audiomi_testkit::{dominant_frequency, rms_dbfs};
use engine::audio::sources::SourceSpec;
use engine::station::{ServeSettings, Station};

/// A 440 Hz tone server with the web output on a free port; `max_lag` for never-reading
/// listeners.
async fn tone_server(max_lag: Duration) -> (Station, SocketAddr) {
    let mut settings = ServeSettings::new("127.0.0.1", 0, SourceSpec::Tone(440.0));
    settings.http_port = Some(0);
    settings.web.max_lag = max_lag;
    settings.web.header_timeout = Duration::from_secs(2);
    let server = settings.start().await.expect("server starts");
    let web = server.web_addr().expect("web output runs");
    (server, web)
}

/// Sends `request` and reads the response for up to `for_how_long` (HTTP/1.0 requests get a
/// body that is neither chunked nor kept alive). Returns (status line, headers, body).
fn fetch(addr: SocketAddr, request: &str, for_how_long: Duration) -> (String, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(request.as_bytes()).expect("send");
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let end = Instant::now() + for_how_long;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while Instant::now() < end {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |p| p + 4);
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, head, raw[split..].to_vec())
}

fn get(addr: SocketAddr, path: &str, for_how_long: Duration) -> (String, String, Vec<u8>) {
    fetch(
        addr,
        &format!("GET {path} HTTP/1.0\r\nHost: audiomi\r\n\r\n"),
        for_how_long,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_opus_stream_decodes_to_the_served_tone() {
    let (server, web) = tone_server(Duration::from_secs(5)).await;
    let (status, head, body) =
        tokio::task::spawn_blocking(move || get(web, "/stream.opus", Duration::from_secs(3)))
            .await
            .expect("fetch");
    assert!(status.contains("200"), "{status}");
    assert!(
        head.to_lowercase().contains("content-type: audio/ogg"),
        "{head}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("live.opus");
    std::fs::write(&file, &body).expect("write");
    let samples = audiomi_testkit::peers::opusdec_16k(&file);
    // About 3 s were fetched; the first page comes within 100 ms of joining.
    assert!(samples.len() > 16_000 * 2, "{} samples", samples.len());
    let steady = &samples[4_000..samples.len() - 4_000];
    let freq = dominant_frequency(steady, 16_000);
    assert!((freq - 440.0).abs() < 2.0, "{freq} Hz");
    let level = rms_dbfs(steady);
    assert!((level + 15.05).abs() < 1.0, "{level} dBFS");
    server.stop().await.expect("stop");
}

/// The sequence numbers of the Ogg pages in `body`, in order (RFC 3533 §6 page layout).
fn page_numbers(body: &[u8]) -> Vec<u32> {
    let (mut out, mut at) = (Vec::new(), 0);
    while let Some(b) = body.get(at..).filter(|b| b.len() >= 27) {
        assert_eq!(&b[..4], b"OggS", "a page at byte {at}");
        let segments = usize::from(b[26]);
        let Some(table) = b.get(27..27 + segments) else {
            break;
        };
        let len = 27 + segments + table.iter().map(|&l| usize::from(l)).sum::<usize>();
        if b.len() < len {
            break; // the fetch ended inside this page
        }
        out.push(u32::from_le_bytes([b[18], b[19], b[20], b[21]]));
        at += len;
    }
    out
}

/// A listener that joins while the stream runs gets the header pages (0 and 1), then the live
/// pages from where the stream is, each +1 from the one before (nothing lost); opusinfo reads it
/// as a valid Opus stream and opusdec decodes the tone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_joining_mid_stream_gets_the_headers_then_every_page() {
    let (server, web) = tone_server(Duration::from_secs(5)).await;
    let first =
        tokio::task::spawn_blocking(move || get(web, "/stream.opus", Duration::from_secs(4)));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, _, body) =
        tokio::task::spawn_blocking(move || get(web, "/stream.opus", Duration::from_secs(2)))
            .await
            .expect("fetch");
    assert!(status.contains("200"), "{status}");
    let seqs = page_numbers(&body);
    assert!(seqs.len() > 10, "{seqs:?}");
    assert_eq!(seqs[..2], [0, 1], "the header pages");
    assert!(seqs[2] > 2, "joined mid-stream ({seqs:?})");
    assert!(
        seqs[2..].windows(2).all(|w| w[1] == w[0] + 1),
        "live page numbers go up by one: {seqs:?}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("joined.opus");
    std::fs::write(&file, &body[..]).expect("write");
    let info = std::process::Command::new("opusinfo")
        .arg(&file)
        .output()
        .expect("opusinfo installed (scripts/deps.sh)");
    let info =
        String::from_utf8_lossy(&info.stdout).to_string() + &String::from_utf8_lossy(&info.stderr);
    assert!(info.contains("type opus"), "{info}");
    assert!(!info.contains("invalid"), "{info}");
    let samples = audiomi_testkit::peers::opusdec_16k(&file);
    assert!(samples.len() > 16_000, "{} samples", samples.len());
    let freq = dominant_frequency(&samples[4_000..], 16_000);
    assert!((freq - 440.0).abs() < 2.0, "{freq} Hz");
    let (_, _, early) = first.await.expect("first listener");
    let early = page_numbers(&early);
    assert!(
        early.windows(2).all(|w| w[1] == w[0] + 1),
        "the first listener started the stream: {early:?}"
    );
    server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wav_stream_and_the_status_say_what_is_served() {
    let (server, web) = tone_server(Duration::from_secs(5)).await;
    let (status, _, body) =
        tokio::task::spawn_blocking(move || get(web, "/stream.wav", Duration::from_secs(1)))
            .await
            .expect("fetch");
    assert!(status.contains("200"), "{status}");
    assert_eq!(&body[..4], b"RIFF");
    assert_eq!(&body[4..8], &[0xff; 4], "unknown length");
    assert_eq!(&body[24..28], &16_000u32.to_le_bytes());
    assert_eq!(&body[40..44], &[0xff; 4]);
    let samples = wire::bytes_to_pcm16(&body[44..]);
    assert!(samples.len() > 8_000, "{} samples", samples.len());
    let freq = dominant_frequency(&samples, 16_000);
    assert!((freq - 440.0).abs() < 2.0, "{freq} Hz");

    let (status, _, body) =
        tokio::task::spawn_blocking(move || get(web, "/status.json", Duration::from_secs(1)))
            .await
            .expect("fetch");
    assert!(status.contains("200"), "{status}");
    let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(json["format"]["sample_rate"], 16_000);
    assert_eq!(json["format"]["channels"], 1);
    assert_eq!(json["tcp_receivers"], 0);
    assert_eq!(json["web_listeners"], 0, "the WAV listener has left");
    let peak = json["level"]["peak_dbfs"].as_f64().expect("peak");
    assert!((peak + 12.0).abs() < 0.2, "{peak} dBFS");
    server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_bad_requests_and_huge_headers_are_refused_and_harmless() {
    let (server, web) = tone_server(Duration::from_secs(5)).await;
    let results = tokio::task::spawn_blocking(move || {
        let short = Duration::from_secs(1);
        let missing = get(web, "/nope", short).0;
        let garbage = fetch(web, "BLAH BLAH\r\n\r\n", short).0;
        let huge = format!(
            "GET / HTTP/1.0\r\nX-Big: {}\r\n\r\n",
            "a".repeat(100 * 1024)
        );
        let too_big = fetch(web, &huge, short).0;
        let still_fine = get(web, "/", short);
        (missing, garbage, too_big, still_fine)
    })
    .await
    .expect("requests");
    assert!(results.0.contains("404"), "{}", results.0);
    assert!(
        results.1.is_empty() || results.1.contains("400"),
        "{}",
        results.1
    );
    assert!(
        results.2.is_empty() || results.2.contains("431") || results.2.contains("400"),
        "{}",
        results.2
    );
    assert!(results.3.0.contains("200"), "{}", results.3.0);
    assert!(String::from_utf8_lossy(&results.3.2).contains("<title>audioMi</title>"));
    server.stop().await.expect("stop");
}

/// A listener that never reads is disconnected after `max_lag`; another listener keeps
/// receiving in real time all along.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_never_reads_is_dropped_without_disturbing_another() {
    let (server, web) = tone_server(Duration::from_secs(1)).await;
    // A small receive buffer, as a stalled phone's would fill: the kernel's autotuned one
    // (megabytes on loopback) would take minutes of audio to fill.
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.connect(&web.into()).expect("connect");
    let mut stalled: TcpStream = socket.into();
    stalled
        .write_all(b"GET /stream.wav HTTP/1.0\r\nHost: audiomi\r\n\r\n")
        .expect("send");
    let healthy =
        tokio::task::spawn_blocking(move || get(web, "/stream.wav", Duration::from_secs(6)));
    let stats = server.web_stats().expect("web stats").clone();
    let mut dropped = false;
    for _ in 0..80 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if stats.dropped.load(Ordering::Relaxed) >= 1 {
            dropped = true;
            break;
        }
    }
    let (_, _, body) = healthy.await.expect("healthy listener");
    drop(stalled);
    assert!(dropped, "the never-reading listener was dropped");
    // 6 s of 16 kHz PCM16 is 192,000 bytes; the healthy one got nearly all of it.
    assert!(body.len() > 170_000, "{} bytes", body.len());
    server.stop().await.expect("stop");
}

/// A new WAV listener gets the last 2 s at once (burst on connect), so a browser's `<audio>`
/// starts at once; then the stream goes on in real time, without a gap or a repeat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_wav_listener_gets_the_last_two_seconds_at_once() {
    let (server, web) = tone_server(Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, _, body) =
        tokio::task::spawn_blocking(move || get(web, "/stream.wav", Duration::from_millis(300)))
            .await
            .expect("fetch");
    let samples = wire::bytes_to_pcm16(&body[44..]);
    // 2 s of burst (32,000 samples) and at most 0.3 s more from real time.
    assert!(
        (32_000..=32_000 + 6_400).contains(&samples.len()),
        "{} samples",
        samples.len()
    );
    // One continuous tone: its phase never jumps (a repeat or a gap would).
    let peaks = samples
        .windows(3)
        .filter(|w| w[1] > w[0] && w[1] >= w[2])
        .count();
    let expected = samples.len() as f64 * 440.0 / 16_000.0;
    assert!(
        (peaks as f64 - expected).abs() < 3.0,
        "{peaks} peaks, {expected:.1} expected"
    );
    server.stop().await.expect("stop");
}

/// `/ws` as docs/PROTOCOL.md describes it: a text message with the format, then one binary
/// message per chunk: the position (u64 LE) and 640 bytes of PCM16 (20 ms at 16 kHz mono), the
/// positions consecutive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_websocket_carries_the_format_then_positioned_chunks() {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let (server, web) = tone_server(Duration::from_secs(5)).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{web}/ws"))
        .await
        .expect("WebSocket handshake");
    let first = ws.next().await.expect("a message").expect("no error");
    let Message::Text(text) = first else {
        panic!("the first message is the format as text: {first:?}");
    };
    let format: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(format["sample_rate"], 16_000);
    assert_eq!(format["channels"], 1);
    let mut positions = Vec::new();
    while positions.len() < 10 {
        match ws.next().await.expect("a message").expect("no error") {
            Message::Binary(b) => {
                assert_eq!(b.len(), 8 + 640);
                let position = u64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
                assert_eq!(position % 320, 0);
                positions.push(position);
            }
            other => panic!("a chunk is binary: {other:?}"),
        }
    }
    for pair in positions.windows(2) {
        assert_eq!(pair[1], pair[0] + 320, "consecutive chunks");
    }
    server.stop().await.expect("stop");
}
