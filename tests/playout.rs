//! Live playback's delay comes back to its target (#24): a receiver whose server stalls for a
//! second and then delivers the backlog at once (as after start-up silence delivered late) plays
//! with the jitter buffer's delay again within a few seconds, instead of keeping the surplus
//! for the rest of the run.

mod common;

use std::time::Duration;

use audiomi_testkit::{Proc, Pulse, free_port, wait_for_port, wait_for_text};
use common::{audiomi, serve_command};

/// The `buffered_ms` a receiver's log reports when playback finished.
fn buffered_ms(log: &str) -> Option<f64> {
    log.lines()
        .filter(|l| l.contains("playback finished"))
        .find_map(|l| l.split("buffered_ms=").nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn the_playback_delay_returns_to_its_target_after_a_burst() {
    let pulse = Pulse::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let port = free_port();
    let mut serve = serve_command(d, port, "tone:440");
    pulse.apply(&mut serve);
    let server = Proc::spawn(serve, &d.join("serve.log"));
    wait_for_port(port, Duration::from_secs(15));
    let mut listen = audiomi(d);
    listen.args(["listen", "--port", &port.to_string(), "--jitter-ms", "60"]);
    pulse.apply(&mut listen);
    let log = d.join("listen.log");
    let mut listener = Proc::spawn(listen, &log);
    wait_for_text(&log, "playing", Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(2));
    // The server stalls for a second, then its source stage catches up with the clock and
    // sends the backlog at once.
    server.signal(19);
    std::thread::sleep(Duration::from_secs(1));
    server.signal(18);
    std::thread::sleep(Duration::from_secs(6));
    listener.signal(15);
    assert_eq!(listener.wait(Duration::from_secs(10)), Some(0));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let ms = buffered_ms(&text).unwrap_or_else(|| panic!("no buffered_ms:\n{text}"));
    assert!(
        ms <= 60.0 + 40.0,
        "{ms} ms buffered 6 s after the burst:\n{text}"
    );
}
