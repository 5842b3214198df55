//! The slow fault checks of `scripts/reliability.sh` (`hostile`, `storm`), as tests that assert
//! on the server's own counters instead of its log text. `#[ignore]`d: they take about 20 s each
//! and open thousands of connections; `scripts/reliability.sh hostile|storm` (which the test
//! suite runs) runs them with `--ignored`.
//!
//! The server is the one the CLI and the window start ([`ServeSettings::start`]), in this
//! process, streaming the ramp on `127.0.0.1` and a free port.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use audiomi_tools::{faults, loadgen};
use engine::audio::sources::SourceSpec;
use engine::station::{ServeSettings, Station};

/// A ramp server on a free loopback port that accepts up to `max_clients`.
async fn ramp_server(dir: &Path, max_clients: usize) -> Station {
    let ramp = dir.join("ramp.wav");
    audiomi_testkit::write_ramp(&ramp);
    let mut settings = ServeSettings::new("127.0.0.1", 0, SourceSpec::File(ramp));
    settings.server.max_clients = max_clients;
    settings.start().await.expect("ramp server starts")
}

/// Open file descriptors of this process (Linux).
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// 1,000 healthy receivers stay gap-free next to 100 stalled clients and one each of: random
/// bytes, wrong checkcode, a 2 GB size claim, silent, half-open. Every bad client is closed; the
/// 100 stalled ones and the silent one are dropped for lagging more than `max_lag` (2 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow (20 s, 1,106 connections): scripts/reliability.sh hostile"]
async fn hostile_clients_never_disturb_healthy_receivers() {
    audiomi_tools::raise_fd_limit();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ramp_server(dir.path(), 2000).await;
    let addr = server.local_addr().to_string();
    let bad = tokio::spawn({
        let addr = addr.clone();
        async move { faults::bad_clients(&addr, 100, Duration::from_secs(15)).await }
    });
    let healthy = loadgen::run(&loadgen::Options {
        host: "127.0.0.1".into(),
        port: server.local_addr().port(),
        clients: 1000,
        seconds: 20.0,
        checkcode: wire::DEFAULT_CHECKCODE,
        rate: wire::DEFAULT_SAMPLE_RATE,
        tls: false,
    })
    .await;
    println!("healthy: {healthy}");
    let all_bad_closed = bad.await.expect("bad clients task");
    let lag_drops = server.stats().lag_drops.load(Ordering::Relaxed);
    let fanout_dropped = server.stats().fanout_dropped.load(Ordering::Relaxed);
    println!(
        "lag drops {lag_drops}; chunks the fan-out lost by falling behind {fanout_dropped}; \
         peak RSS of this process {} MiB",
        status_kib("VmHWM") / 1024
    );
    server.stop().await.expect("server stops");
    assert!(healthy.ok(), "a healthy receiver saw a gap or an error");
    assert_eq!(healthy.receivers, 1000);
    assert!(all_bad_closed, "a stalled or bad client was not closed");
    assert!(
        lag_drops >= 101,
        "the 100 stalled and the silent client are dropped for lagging: {lag_drops}"
    );
}

/// `net.core.somaxconn`: the kernel's cap on any listen backlog (Linux; 4096 if unreadable).
fn somaxconn() -> usize {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4096)
}

/// 1,500 receivers connecting at once to a server's listener before it accepts any all complete
/// their handshake within 2 s: they wait in the kernel's accept queue
/// ([`engine::listen::BACKLOG`], capped by `net.core.somaxconn`), not in SYN retransmissions
/// (with tokio's default backlog of 128, 129 got through and 1,371 timed out; the `hostile`
/// test's 1,105 connects overflowed that queue, 181 times in one local run, and its silent
/// client, which sends nothing that would complete a dropped handshake, was still open when
/// checked in one CI run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_connections_waits_in_the_accept_queue() {
    const BURST: usize = 1500;
    audiomi_tools::raise_fd_limit();
    let listener = engine::listen::tcp("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("addr");
    let connects: Vec<_> = (0..BURST)
        .map(|_| {
            tokio::spawn(async move {
                tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr))
                    .await
                    .ok()
                    .and_then(Result::ok)
            })
        })
        .collect();
    let mut streams = Vec::new();
    for c in connects {
        if let Ok(Some(s)) = c.await {
            streams.push(s);
        }
    }
    let somaxconn = somaxconn();
    let cap = somaxconn.min(engine::listen::BACKLOG as usize) + 1;
    println!(
        "{} of {BURST} connected before any accept (somaxconn {somaxconn})",
        streams.len()
    );
    assert_eq!(
        streams.len(),
        BURST.min(cap),
        "handshakes left to SYN retries"
    );
    drop(listener);
}

/// `audiomi-faults storm` against `port`: `cycles` connect/PING/ACK/close cycles, 50 at once,
/// in a child process (so this process's memory is the server's alone); whether all succeeded.
async fn storm_process(port: u16, cycles: usize) -> bool {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_audiomi-faults"))
        .args(["storm", "--port", &port.to_string(), "--parallel", "50"])
        .args(["--cycles", &cycles.to_string()])
        .output()
        .await
        .expect("audiomi-faults runs");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    out.status.success()
}

/// 5,000 connect/PING/ACK/close cycles (50 at once, from another process) leave no file
/// descriptor behind and grow the server's memory by less than 2 MiB (after a 500-cycle
/// warm-up).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow (5,500 connections): scripts/reliability.sh storm"]
async fn a_connection_storm_leaves_nothing_behind() {
    audiomi_tools::raise_fd_limit();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ramp_server(dir.path(), 1000).await;
    let port = server.local_addr().port();
    assert!(storm_process(port, 500).await, "warm-up storm");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (fds_before, rss_before) = (open_fds(), status_kib("VmRSS"));
    let ok = storm_process(port, 5000).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (fds_after, rss_after) = (open_fds(), status_kib("VmRSS"));
    println!(
        "server open fds: {fds_before} before, {fds_after} after; RSS: {rss_before} KiB before, {rss_after} KiB after"
    );
    let clients_left = server.stats().clients.load(Ordering::Relaxed);
    server.stop().await.expect("server stops");
    assert!(ok, "a storm cycle failed");
    assert_eq!(clients_left, 0, "every storm connection is gone");
    assert!(fds_after <= fds_before, "file descriptors leaked");
    assert!(
        rss_after <= rss_before + 2048,
        "RSS grew by more than 2 MiB"
    );
}
