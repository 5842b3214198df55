//! The receiver against servers that never become a recording: a wrong checkcode (the server
//! closes without answering), a peer that accepts and stays silent, a recording stopped before
//! any audio. None of them may turn into a reconnect storm, a silent hang or an empty file.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use engine::Error;
use engine::audio::sources::SourceSpec;
use engine::receiver::{self, RecordConfig, RecordStats};
use engine::server::ServerConfig;
use engine::station::{ServeOptions, Station};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A listener that counts accepted connections and does `with` to each.
async fn counting_listener(with: Behaviour) -> (SocketAddr, Arc<AtomicU32>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepts = Arc::new(AtomicU32::new(0));
    let counter = accepts.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::Relaxed);
            match with {
                // Reads the client's first bytes and closes, as a server with another checkcode.
                Behaviour::CloseAfterReading => {
                    let mut buf = [0u8; 16];
                    let _ = s.read(&mut buf).await;
                    drop(s);
                }
                // Keeps the socket open and never writes a byte.
                Behaviour::Silent => held.push(s),
            }
        }
    });
    (addr, accepts)
}

#[derive(Clone, Copy)]
enum Behaviour {
    CloseAfterReading,
    Silent,
}

async fn record_with(
    config: RecordConfig,
    stop_after: Option<Duration>,
) -> (receiver::Outcome, Duration) {
    let token = CancellationToken::new();
    if let Some(after) = stop_after {
        let t = token.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            t.cancel();
        });
    }
    let start = Instant::now();
    let outcome =
        receiver::record(config, Arc::new(RecordStats::default()), None, None, token).await;
    (outcome, start.elapsed())
}

fn config(addr: SocketAddr, out: &Path, reconnect: bool) -> RecordConfig {
    let mut c = RecordConfig::new(addr.to_string(), out);
    c.reconnect = reconnect;
    c
}

/// The reconnect storm: with a wrong checkcode and reconnection on, the receiver used to
/// reconnect thousands of times a second. Now the third close without an answer ends it with
/// one clear error; the server sees at most 5 connections in 10 s.
#[tokio::test]
async fn a_wrong_checkcode_is_fatal_after_three_closes_not_a_storm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (addr, accepts) = counting_listener(Behaviour::CloseAfterReading).await;
    let out = dir.path().join("never.wav");
    let (outcome, took) = tokio::time::timeout(
        Duration::from_secs(10),
        record_with(config(addr, &out, true), None),
    )
    .await
    .unwrap_or_else(|_| {
        panic!(
            "still retrying after 10 s ({} connections): a reconnect storm",
            accepts.load(Ordering::Relaxed)
        )
    });
    let err = outcome.result.expect_err("a wrong checkcode is an error");
    assert!(
        matches!(err, Error::NotAudiomi { closes: 3, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("wrong checkcode") && text.contains("3 times"),
        "{text}"
    );
    assert!(
        took < Duration::from_secs(5),
        "three tries with backoff: {took:?}"
    );
    // Whatever else might still be retrying would show here.
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(took)).await;
    let n = accepts.load(Ordering::Relaxed);
    assert!((1..=5).contains(&n), "{n} connections in 10 s");
    assert!(!out.exists(), "nothing received: no file");
}

/// The same against the real server with another checkcode.
#[tokio::test]
async fn a_real_server_with_another_checkcode_is_reported_as_such() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pipeline = engine::pipeline::PipelineConfig::default();
    let input = SourceSpec::Tone(440.0)
        .open(true, pipeline.rate, pipeline.chunk)
        .expect("tone");
    let server = Station::start(
        ServeOptions::new("127.0.0.1:0", input)
            .pipeline(pipeline)
            .server(ServerConfig {
                checkcode: 1234,
                ..ServerConfig::default()
            }),
    )
    .await
    .expect("server");
    let out = dir.path().join("w.wav");
    let (outcome, _) = record_with(config(server.local_addr(), &out, true), None).await;
    let err = outcome.result.expect_err("wrong checkcode");
    assert!(matches!(err, Error::NotAudiomi { .. }), "{err:?}");
    assert_eq!(outcome.summary.path, None);
    assert!(!out.exists());
    server.stop().await.expect("stop");
}

/// The silent hang: a peer that accepts and never answers is an error after the answer timeout
/// (not a wait without end), and no file is left.
#[tokio::test]
async fn a_peer_that_never_answers_is_a_clear_error_within_the_answer_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (addr, _) = counting_listener(Behaviour::Silent).await;
    let out = dir.path().join("hang.wav");
    let mut c = config(addr, &out, false);
    c.answer_timeout = Duration::from_secs(2);
    let (outcome, took) = tokio::time::timeout(Duration::from_secs(10), record_with(c, None))
        .await
        .expect("still waiting after 10 s: a silent hang");
    let err = outcome.result.expect_err("no answer is an error");
    assert!(matches!(err, Error::NoAnswer { ms: 2000, .. }), "{err:?}");
    assert!(err.to_string().contains("did not answer PING"), "{err}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert!(!out.exists(), "nothing received: no file");
}

/// Under reconnection a silent peer is retried, with backoff between tries: two or three
/// connections in 7 s with a 2 s answer timeout, not a flood.
#[tokio::test]
async fn a_silent_peer_is_retried_with_backoff_under_reconnect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (addr, accepts) = counting_listener(Behaviour::Silent).await;
    let out = dir.path().join("retry.wav");
    let mut c = config(addr, &out, true);
    c.answer_timeout = Duration::from_secs(2);
    let (outcome, _) = record_with(c, Some(Duration::from_secs(7))).await;
    let err = outcome.result.expect_err("stopped with nothing received");
    assert!(matches!(err, Error::NothingReceived { .. }), "{err:?}");
    let n = accepts.load(Ordering::Relaxed);
    assert!((2..=3).contains(&n), "{n} connections in 7 s");
    assert!(!out.exists());
}

/// The output is checked before connecting: a missing folder or a folder as the file is
/// reported at once, although no server listens (which would be a different error).
#[tokio::test]
async fn output_problems_are_reported_before_connecting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nowhere = "127.0.0.1:9".to_string();
    let missing = RecordConfig::new(nowhere.clone(), dir.path().join("no/such/dir/x.wav"));
    let (outcome, _) = record_with(missing, None).await;
    let err = outcome.result.expect_err("missing folder");
    assert!(matches!(err, Error::WavWrite { .. }), "{err:?}");
    assert!(err.to_string().contains("cannot write"), "{err}");

    let folder = RecordConfig::new(nowhere, dir.path());
    let (outcome, _) = record_with(folder, None).await;
    let err = outcome.result.expect_err("a folder");
    assert!(matches!(err, Error::OutputIsDirectory { .. }), "{err:?}");
    assert!(err.to_string().contains("is a folder"), "{err}");
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("ls").count(),
        0,
        "the check leaves nothing behind"
    );
}

#[test]
fn backoff_starts_at_half_a_second_doubles_and_stops_at_ten() {
    let mut b = receiver::Backoff::default();
    let waits: Vec<f64> = (0..8).map(|_| b.next_delay().as_secs_f64()).collect();
    let steps = [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0];
    for (w, s) in waits.iter().zip(steps) {
        assert!(*w >= 0.75 * s - 1e-9 && *w <= s + 1e-9, "{waits:?}");
    }
    b.reset();
    assert!(b.next_delay() <= Duration::from_millis(500));
}
