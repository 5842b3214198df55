//! `audiomi serve` and `audiomi record` as real processes, the way a user runs them.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::{audiomi, serve_command};

use audiomi_testkit::{
    Proc, assert_fails, dominant_frequency, free_port, longest_zero_run, ramp_break, read_wav,
    wait_for_port, write_ramp,
};

const SIGKILL: i32 = 9;
const SIGTERM: i32 = 15;

fn serve(dir: &Path, port: u16, source: &str, log: &str) -> Proc {
    let mut cmd = serve_command(dir, port, source);
    cmd.arg("--loop");
    let p = Proc::spawn(cmd, &dir.join(log));
    wait_for_port(port, Duration::from_secs(10));
    p
}

fn record_cmd(dir: &Path, port: u16, out: &str) -> Command {
    let mut cmd = audiomi(dir);
    cmd.args(["record", "--port", &port.to_string(), "--out", out]);
    cmd
}

fn log(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

/// The "done when": a 440 Hz tone served and recorded for exactly 5 s.
#[test]
fn tone_is_recorded_for_exactly_the_requested_duration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _server = serve(dir.path(), port, "tone:440", "serve.log");
    let out = record_cmd(dir.path(), port, "t.wav")
        .args(["--duration", "5"])
        .output()
        .expect("run record");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "record failed: {stderr}");
    assert!(
        stderr.contains("saved") && stderr.contains("5.000 s"),
        "summary: {stderr}"
    );
    let (spec, samples) = read_wav(&dir.path().join("t.wav"));
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (16_000, 1, 16)
    );
    assert_eq!(samples.len(), 80_000, "5.000 s at 16 kHz");
    let f = dominant_frequency(&samples, 16_000);
    assert!((f - 440.0).abs() <= 1.0, "dominant frequency {f} Hz");
    let level = audiomi_testkit::rms_dbfs(&samples);
    assert!(
        (level - (-15.05)).abs() < 0.2,
        "a -12 dBFS peak sine has -15.05 dBFS RMS, got {level}"
    );
}

/// A 16 kHz mono PCM16 file at --rate 16000 goes out bit for bit.
#[test]
fn ramp_file_passes_bit_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_ramp(&dir.path().join("ramp.wav"));
    let port = free_port();
    let _server = serve(dir.path(), port, "file:ramp.wav", "serve.log");
    let out = record_cmd(dir.path(), port, "r.wav")
        .args(["--duration", "2"])
        .output()
        .expect("run record");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, samples) = read_wav(&dir.path().join("r.wav"));
    assert_eq!(samples.len(), 32_000);
    assert_eq!(
        ramp_break(&samples),
        None,
        "samples are unchanged and contiguous"
    );
}

/// SIGKILL leaves a WAV that hound and sox read, missing at most the last second.
#[test]
fn record_killed_with_sigkill_leaves_a_playable_wav() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _server = serve(dir.path(), port, "tone:1000", "serve.log");
    let mut rec = Proc::spawn(
        record_cmd(dir.path(), port, "k.wav"),
        &dir.path().join("rec.log"),
    );
    let path = dir.path().join("k.wav");
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "file created: {}",
            log(dir.path(), "rec.log")
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let created = Instant::now();
    std::thread::sleep(Duration::from_millis(3500));
    rec.signal(SIGKILL);
    let elapsed = created.elapsed().as_secs_f64();
    assert_eq!(rec.wait(Duration::from_secs(5)), None, "killed by a signal");
    let (_, samples) = read_wav(&path);
    let seconds = samples.len() as f64 / 16_000.0;
    assert!(
        seconds >= elapsed - 1.0 - 0.05 && seconds <= elapsed + 0.1,
        "{seconds} s recorded of {elapsed} s"
    );
    let sox = Command::new("sox")
        .arg("--i")
        .arg(&path)
        .output()
        .expect("sox is installed (scripts/deps.sh)");
    let info = String::from_utf8_lossy(&sox.stdout);
    assert!(
        sox.status.success() && info.contains("16000"),
        "sox --i: {info}"
    );
}

/// SIGTERM finalizes the file and prints a summary; the exit code is 0.
#[test]
fn sigterm_stops_both_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut server = serve(dir.path(), port, "tone:440", "serve.log");
    let mut rec = Proc::spawn(
        record_cmd(dir.path(), port, "s.wav"),
        &dir.path().join("rec.log"),
    );
    std::thread::sleep(Duration::from_millis(1500));
    rec.signal(SIGTERM);
    assert_eq!(
        rec.wait(Duration::from_secs(5)),
        Some(0),
        "{}",
        log(dir.path(), "rec.log")
    );
    assert!(log(dir.path(), "rec.log").contains("saved"));
    let (_, samples) = read_wav(&dir.path().join("s.wav"));
    assert!(samples.len() > 16_000, "{} samples", samples.len());
    server.signal(SIGTERM);
    assert_eq!(
        server.wait(Duration::from_secs(5)),
        Some(0),
        "{}",
        log(dir.path(), "serve.log")
    );
}

/// --reconnect survives a server killed (SIGKILL) and restarted, and fills the outage with silence
/// of the right length.
#[test]
fn reconnect_survives_a_server_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut first = serve(dir.path(), port, "tone:440", "serve1.log");
    let mut rec_cmd = record_cmd(dir.path(), port, "re.wav");
    rec_cmd.arg("--reconnect");
    let mut rec = Proc::spawn(rec_cmd, &dir.path().join("rec.log"));
    std::thread::sleep(Duration::from_millis(1500));
    first.signal(SIGKILL);
    assert_eq!(
        first.wait(Duration::from_secs(5)),
        None,
        "killed by a signal"
    );
    let down = Instant::now();
    std::thread::sleep(Duration::from_millis(1500));
    let _second = serve(dir.path(), port, "tone:440", "serve2.log");
    let outage = down.elapsed().as_secs_f64();
    // The receiver's third try comes at most 0.5 + 1 + 2 = 3.5 s after the loss (Backoff):
    // record long enough after the restart for it to have reconnected and recorded.
    std::thread::sleep(Duration::from_millis(4000));
    rec.signal(SIGTERM);
    assert_eq!(
        rec.wait(Duration::from_secs(5)),
        Some(0),
        "{}",
        log(dir.path(), "rec.log")
    );
    let rec_log = log(dir.path(), "rec.log");
    assert!(rec_log.contains("filling a gap"), "{rec_log}");
    let (_, samples) = read_wav(&dir.path().join("re.wav"));
    let silence = longest_zero_run(&samples) as f64 / 16_000.0;
    // The outage as seen by the receiver also includes its reconnect backoff (receiver::Backoff:
    // tries 0.375–0.5 s after the loss, then 0.75–1 s and 1.5–2 s later).
    assert!(
        silence >= outage - 0.3 && silence <= outage + 2.2,
        "silence {silence:.3} s for an outage of {outage:.3} s"
    );
    let total = samples.len() as f64 / 16_000.0;
    assert!(total > 4.0, "{total} s");
}

#[test]
fn invalid_configuration_exits_2_naming_the_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = audiomi(dir.path())
        .args(["serve", "--source", "tone:440"])
        .env("PORT", "abc")
        .output()
        .expect("run");
    assert_fails(&out, 2, &["PORT", "abc"]);

    std::fs::write(dir.path().join(".env"), "CHECKCODE=twelve\n").expect("write .env");
    let out = audiomi(dir.path())
        .args(["record", "--duration", "1"])
        .output()
        .expect("run");
    assert_fails(&out, 2, &["CHECKCODE", "twelve"]);

    let out = audiomi(dir.path())
        .args(["serve", "--source", "speaker"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let out = audiomi(dir.path())
        .args(["serve", "--port", "99999"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap rejects an out-of-range port"
    );
}

/// HOST/PORT/CHECKCODE from .env are used by both ends; the environment overrides .env.
#[test]
fn dotenv_configures_both_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    std::fs::write(
        dir.path().join(".env"),
        format!("HOST=127.0.0.1\nPORT={port}\nCHECKCODE=777\n"),
    )
    .expect(".env");
    let mut cmd = audiomi(dir.path());
    cmd.args(["serve", "--no-http", "--source", "tone:440"]);
    let _server = Proc::spawn(cmd, &dir.path().join("serve.log"));
    wait_for_port(port, Duration::from_secs(10));
    let out = audiomi(dir.path())
        .args(["record", "--duration", "0.5", "--out", "e.wav"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(read_wav(&dir.path().join("e.wav")).1.len(), 8000);
    // The environment wins over .env: a wrong checkcode is a protocol error.
    let out = audiomi(dir.path())
        .args(["record", "--duration", "0.5", "--out", "w.wav"])
        .env("CHECKCODE", "778")
        .output()
        .expect("run");
    assert_fails(&out, 1, &["checkcode"]);
}

#[test]
fn existing_files_are_never_overwritten_without_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("keep.wav"), b"precious").expect("write");
    let out = record_cmd(dir.path(), free_port(), "keep.wav")
        .output()
        .expect("run");
    assert_fails(&out, 1, &["already exists", "--force"]);
    assert_eq!(
        std::fs::read(dir.path().join("keep.wav")).expect("read"),
        b"precious"
    );
}

#[test]
fn unreachable_server_and_busy_port_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let out = record_cmd(dir.path(), port, "x.wav").output().expect("run");
    assert_fails(&out, 1, &["cannot connect", &port.to_string()]);

    let _server = serve(dir.path(), port, "tone:440", "serve.log");
    let out = serve_command(dir.path(), port, "tone:440")
        .output()
        .expect("run");
    assert_fails(&out, 1, &["cannot listen"]);
}

/// Without --reconnect, losing the server ends the recording with a clear message, a valid file
/// and a non-zero exit code.
#[test]
fn losing_the_server_without_reconnect_keeps_a_valid_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let server = serve(dir.path(), port, "tone:440", "serve.log");
    let mut rec = Proc::spawn(
        record_cmd(dir.path(), port, "l.wav"),
        &dir.path().join("rec.log"),
    );
    std::thread::sleep(Duration::from_millis(1200));
    server.signal(SIGTERM);
    assert_eq!(rec.wait(Duration::from_secs(5)), Some(1));
    let rec_log = log(dir.path(), "rec.log");
    assert!(
        rec_log.contains("lost") && rec_log.contains("saved"),
        "{rec_log}"
    );
    let (_, samples) = read_wav(&dir.path().join("l.wav"));
    assert!(samples.len() >= 14_000, "{} samples", samples.len());
}

/// A full disk stops the recording with a clear message; what was written stays a valid WAV.
/// Uses a 128 KiB tmpfs where this user may mount one (root, as in CI), else /dev/full.
#[test]
fn a_full_disk_stops_recording_with_a_clear_error_and_a_valid_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _server = serve(dir.path(), port, "tone:440", "serve.log");
    let mount = dir.path().join("small");
    std::fs::create_dir(&mount).expect("mkdir");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=128k", "tmpfs"])
        .arg(&mount)
        .status()
        .is_ok_and(|s| s.success());
    let out_path = if mounted {
        mount.join("full.wav")
    } else {
        "/dev/full".into()
    };
    let out = audiomi(dir.path())
        .args(["record", "--port", &port.to_string(), "--force", "--out"])
        .arg(&out_path)
        .output()
        .expect("run record");
    assert_fails(&out, 1, &["No space left on device", "cannot write"]);
    if mounted {
        let (_, samples) = read_wav(&out_path);
        let _ = Command::new("umount").arg(&mount).status();
        // 128 KiB hold 4.1 s of 16 kHz PCM16; at most the last second may be lost.
        assert!(
            samples.len() >= 3 * 16_000,
            "{} samples kept",
            samples.len()
        );
    } else {
        eprintln!("tmpfs not mountable here: checked the message with /dev/full only");
    }
}

/// A listener on a free port that accepts connections, holds them and never writes a byte;
/// returns its port.
fn silent_peer() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    port
}

/// The lines of `stderr` that carry `needle`.
fn lines_with(stderr: &str, needle: &str) -> usize {
    stderr.lines().filter(|l| l.contains(needle)).count()
}

/// The reconnect storm, as a user meets it: `record --reconnect` with another checkcode than the
/// server's ends within seconds with one clear message (printed once), having connected at most
/// 3 times, and leaves no file.
#[test]
fn record_reconnect_with_a_wrong_checkcode_stops_with_one_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _server = serve(dir.path(), port, "tone:440", "serve.log");
    let start = Instant::now();
    let out = record_cmd(dir.path(), port, "w.wav")
        .args(["--reconnect", "--checkcode", "1"])
        .output()
        .expect("run record");
    let stderr = assert_fails(&out, 1, &["wrong checkcode", "3 times in a row"]);
    assert!(start.elapsed() < Duration::from_secs(10), "{stderr}");
    assert_eq!(
        lines_with(&stderr, "3 times in a row"),
        1,
        "printed once: {stderr}"
    );
    assert!(
        !stderr.contains("ERROR"),
        "not also as a log line: {stderr}"
    );
    assert!(!dir.path().join("w.wav").exists());
    let serve_log = log(dir.path(), "serve.log");
    let closed = lines_with(&serve_log, "wrong checkcode");
    assert!(
        (1..=5).contains(&closed),
        "{closed} wrong-checkcode connections: {serve_log}"
    );
}

/// The silent hang: a peer that accepts and never answers is reported after 5 s (exit 1), and
/// the recording that received nothing leaves no file.
#[test]
fn record_from_a_peer_that_never_answers_fails_after_5_s_without_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = silent_peer();
    let start = Instant::now();
    let mut rec = Proc::spawn(
        record_cmd(dir.path(), port, "h.wav"),
        &dir.path().join("h.log"),
    );
    // Panics (a silent hang) if it has not exited within 8 s.
    assert_eq!(rec.wait(Duration::from_secs(8)), Some(1));
    let took = start.elapsed();
    let stderr = log(dir.path(), "h.log");
    assert!(
        stderr.contains("did not answer PING within 5000 ms"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(8), "{took:?}");
    assert!(!dir.path().join("h.wav").exists(), "no 44-byte WAV");
}

/// Stopped (SIGTERM, like Ctrl-C) before any audio arrived: non-zero exit, no file, a message.
#[test]
fn record_stopped_before_any_audio_exits_non_zero_without_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = silent_peer();
    let mut rec = Proc::spawn(
        record_cmd(dir.path(), port, "n.wav"),
        &dir.path().join("rec.log"),
    );
    std::thread::sleep(Duration::from_millis(1000));
    rec.signal(SIGTERM);
    assert_eq!(rec.wait(Duration::from_secs(5)), Some(1));
    let rec_log = log(dir.path(), "rec.log");
    assert!(rec_log.contains("nothing was received"), "{rec_log}");
    assert!(!dir.path().join("n.wav").exists());
}

/// The output is checked before connecting: with no server at all, a missing folder is what
/// the user hears about, and a folder given as the file is called a folder.
#[test]
fn output_problems_are_reported_before_connecting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port(); // nobody listens
    let out = record_cmd(dir.path(), port, "missing/x.wav")
        .output()
        .expect("run");
    let stderr = assert_fails(&out, 1, &["cannot write", "missing/x.wav"]);
    assert!(!stderr.contains("cannot connect"), "{stderr}");

    std::fs::create_dir(dir.path().join("folder")).expect("mkdir");
    let out = record_cmd(dir.path(), port, "folder")
        .output()
        .expect("run");
    let stderr = assert_fails(&out, 1, &["is a folder"]);
    assert!(!stderr.contains("--force"), "{stderr}");
}

/// Exit code 2 for every invalid value, 1 for runtime failures; a broken `.env` is one line.
#[test]
fn invalid_values_exit_2_on_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = serve_command(dir.path(), free_port(), "tone:100000")
        .output()
        .expect("run");
    assert_fails(&out, 2, &["tone:100000", "half the stream's sample rate"]);

    std::fs::write(
        dir.path().join(".env"),
        "PORT=1\nTHIS IS NOT AN ASSIGNMENT\n",
    )
    .expect(".env");
    let out = audiomi(dir.path())
        .args(["record", "--duration", "1"])
        .output()
        .expect("run");
    let stderr = assert_fails(&out, 2, &[".env"]);
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr:?}");
}

/// `--help` of the bare command says that no subcommand opens the window, and lists exit codes.
#[test]
fn help_explains_the_window_and_the_exit_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = audiomi(dir.path()).arg("--help").output().expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(help.contains("Without a subcommand"), "{help}");
    assert!(help.contains("opens the window"), "{help}");
    assert!(
        help.contains("Exit codes") && help.contains("2 invalid argument"),
        "{help}"
    );
}

/// Without a sound server, `devices` says so plainly, keeps alsa-lib's probing noise off the
/// terminal and lists only devices that can be opened (no rate 0).
#[test]
fn devices_without_a_sound_server_say_so_plainly() {
    let dir = tempfile::tempdir().expect("tempdir");
    for outputs in [false, true] {
        let mut cmd = audiomi(dir.path());
        cmd.env_remove("RUST_LOG")
            .env("PULSE_SERVER", "unix:/nonexistent/audiomi-test")
            .env("XDG_RUNTIME_DIR", dir.path())
            .arg("devices");
        if outputs {
            cmd.arg("--outputs");
        }
        let out = cmd.output().expect("run devices");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stderr}");
        assert!(
            stderr.contains("No PulseAudio or PipeWire server is running")
                && stderr.contains("loopback"),
            "{stderr}"
        );
        assert!(
            stderr.lines().count() <= 2,
            "library noise on the terminal: {stderr}"
        );
        let mut lines = stdout.lines();
        if let Some(header) = lines.next() {
            let id = if outputs { "OUTPUT-DEVICE" } else { "SOURCE" };
            assert!(header.contains(id), "{header}");
        }
        for row in lines {
            let rate: u32 = row
                .split_whitespace()
                .find_map(|w| w.parse().ok())
                .unwrap_or(0);
            assert!(rate > 0, "unusable device listed: {row}");
        }
    }
}
