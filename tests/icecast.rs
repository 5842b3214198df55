//! `audiomi serve --icecast` against Debian's real `icecast2` (private configuration on a free
//! loopback port, started by the test): a listener and a relay hear the tone, publishing resumes
//! after Icecast restarts without disturbing a TCP receiver, and refusals are one clear error.

use std::time::{Duration, Instant};

mod common;

use audiomi_testkit::peers::{ICECAST_PASSWORD, Icecast, listen_opus};
use audiomi_testkit::{
    Proc, dominant_frequency, free_port, longest_zero_run, read_wav, rms_dbfs, wait_for_port,
    wait_for_text,
};
use common::{audiomi, serve_command};

const MOUNT: &str = "/live.opus";

/// Asserts that `samples` (16 kHz) hold the served tone: 440 Hz at −15.05 dBFS RMS (the tone is
/// −12 dBFS peak), after the decoder's first 100 ms.
fn assert_tone(samples: &[i16], what: &str) {
    assert!(samples.len() > 16_000, "{what}: {} samples", samples.len());
    let samples = &samples[1600..];
    let freq = dominant_frequency(samples, 16_000);
    assert!((freq - 440.0).abs() < 3.0, "{what} plays {freq} Hz");
    let level = rms_dbfs(samples);
    assert!((level + 15.05).abs() < 1.0, "{what} plays at {level} dBFS");
}

/// `serve --source tone:440 --name "audioMi test"` on a free port, set up further by `configure`
/// (the Icecast URL), its log at `dir/name.log`; returns once it serves.
fn serve_to(
    dir: &std::path::Path,
    name: &str,
    configure: impl FnOnce(&mut std::process::Command),
) -> (Proc, u16, std::path::PathBuf) {
    let port = free_port();
    let mut cmd = serve_command(dir, port, "tone:440");
    cmd.args(["--name", "audioMi test"]);
    configure(&mut cmd);
    let log = dir.join(format!("{name}.log"));
    let proc = Proc::spawn(cmd, &log);
    wait_for_port(port, Duration::from_secs(10));
    (proc, port, log)
}

/// Sets `--icecast URL`.
fn icecast_flag(url: &str) -> impl FnOnce(&mut std::process::Command) + '_ {
    move |cmd| {
        cmd.args(["--icecast", url]);
    }
}

/// Waits until `GET mount` on `icecast` answers 200; returns how long that took.
fn wait_for_mount(icecast: &Icecast, timeout: Duration) -> Duration {
    let start = Instant::now();
    while icecast.mount_status(MOUNT) != 200 {
        assert!(
            start.elapsed() < timeout,
            "{MOUNT} not on Icecast after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

#[test]
fn a_listener_and_a_relay_hear_what_serve_publishes_to_icecast() {
    let dir = tempfile::tempdir().expect("tempdir");
    let master = Icecast::start(None);
    let url = master.source_url(MOUNT, ICECAST_PASSWORD);
    let (_serve, _, log) = serve_to(dir.path(), "serve", icecast_flag(&url));
    wait_for_text(&log, "icecast: publishing", Duration::from_secs(5));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !text.contains(ICECAST_PASSWORD),
        "password in the log:\n{text}"
    );
    assert!(text.contains("source:****@127.0.0.1"), "{text}");

    assert_tone(
        &listen_opus(&master.url(MOUNT), 3, dir.path(), "master"),
        "the master",
    );
    // A second Icecast relaying the first (how an audience grows, docs/SCALING.md).
    let relay = Icecast::start(Some((master.port, MOUNT)));
    wait_for_mount(&relay, Duration::from_secs(10));
    assert_tone(
        &listen_opus(&relay.url(MOUNT), 3, dir.path(), "relay"),
        "the relay",
    );
}

#[test]
fn publishing_resumes_within_2_s_of_icecast_coming_back_and_tcp_receivers_never_notice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut icecast = Icecast::start(None);
    let url = icecast.source_url(MOUNT, ICECAST_PASSWORD);
    let (_serve, port, log) = serve_to(dir.path(), "serve", icecast_flag(&url));
    wait_for_text(&log, "icecast: publishing", Duration::from_secs(5));
    // A TCP receiver records through the whole outage.
    let wav = dir.path().join("tcp.wav");
    let mut record = audiomi(dir.path());
    record
        .args(["record", "--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--duration", "6", "--out"])
        .arg(&wav);
    let mut recorder = Proc::spawn(record, &dir.path().join("record.log"));

    std::thread::sleep(Duration::from_millis(1000));
    icecast.stop();
    std::thread::sleep(Duration::from_millis(1500));
    icecast.start_again();
    let back_after = wait_for_mount(&icecast, Duration::from_secs(10));
    assert!(
        back_after <= Duration::from_secs(2),
        "publishing resumed {back_after:?} after Icecast came back"
    );
    assert_tone(
        &listen_opus(&icecast.url(MOUNT), 2, dir.path(), "after"),
        "Icecast after its restart",
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        text.matches("icecast: cannot publish").count(),
        1,
        "one line for the outage, not one per attempt:\n{text}\n{}",
        icecast.access_log()
    );

    assert_eq!(recorder.wait(Duration::from_secs(15)), Some(0));
    let (spec, samples) = read_wav(&wav);
    assert_eq!(samples.len(), 6 * spec.sample_rate as usize);
    // A 440 Hz sine at 16 kHz crosses zero on a sample now and then; a gap would be a chunk
    // (320 samples) or more.
    let zeros = longest_zero_run(&samples);
    assert!(
        zeros < 3,
        "the TCP receiver heard {zeros} silent samples in a row"
    );
    assert_tone(&samples, "the TCP receiver");
}

#[test]
fn a_wrong_password_or_a_busy_mount_is_one_clear_error_not_a_retry_storm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let icecast = Icecast::start(None);
    // From ICECAST in the environment (as from .env), not the flag.
    let wrong_url = icecast.source_url(MOUNT, "not-the-password");
    let (mut wrong, port, log) = serve_to(dir.path(), "wrong", |cmd| {
        cmd.env("ICECAST", &wrong_url);
    });
    wait_for_text(
        &log,
        "Icecast refused the source user or password (401",
        Duration::from_secs(5),
    );
    // The mount is taken by a first server; a second one is told so.
    let url = icecast.source_url(MOUNT, ICECAST_PASSWORD);
    let (_first, _, first_log) = serve_to(dir.path(), "first", icecast_flag(&url));
    wait_for_text(&first_log, "icecast: publishing", Duration::from_secs(5));
    let (_second, _, second_log) = serve_to(dir.path(), "second", icecast_flag(&url));
    wait_for_text(
        &second_log,
        "the mount /live.opus is in use",
        Duration::from_secs(5),
    );
    std::thread::sleep(Duration::from_secs(4));

    let access = icecast.access_log();
    let refused = access.lines().filter(|l| l.contains("\" 401 ")).count();
    let busy = access.lines().filter(|l| l.contains("\" 403 ")).count();
    assert_eq!(refused, 1, "attempts with the wrong password:\n{access}");
    assert_eq!(busy, 1, "attempts on the busy mount in 4 s:\n{access}");
    for (log, error) in [(&log, "(401"), (&second_log, "(403")] {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        assert_eq!(text.matches(error).count(), 1, "{text}");
        assert!(!text.contains("not-the-password"), "{text}");
    }
    // Serving goes on: the TCP port answers and the process runs.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    assert!(wrong.child.try_wait().expect("try_wait").is_none());
}

#[test]
fn a_bad_icecast_url_is_refused_at_start_without_showing_the_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = serve_command(dir.path(), free_port(), "tone:440")
        .args(["--icecast", "icecast://source:hunter2@127.0.0.1:8000/"])
        .output()
        .expect("run");
    let stderr = audiomi_testkit::assert_fails(&out, 2, &["--icecast", "no mount point"]);
    assert!(!stderr.contains("hunter2"), "{stderr}");
    // From the environment / .env, the error names ICECAST.
    let out = serve_command(dir.path(), free_port(), "tone:440")
        .env("ICECAST", "ftp://source:hunter2@127.0.0.1/m")
        .output()
        .expect("run");
    let stderr = audiomi_testkit::assert_fails(&out, 2, &["invalid ICECAST", "icecast://"]);
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
