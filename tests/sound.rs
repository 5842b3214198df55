//! The main job on real sound: a private PulseAudio server with null sinks, real sound played into
//! them (sox, espeak-ng), `audiomi serve` capturing through cpal and `audiomi record` as real
//! processes, and the recording compared with what was played.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

mod common;

use common::{audiomi, serve_command};

use audiomi_testkit::{
    Proc, Pulse, assert_fails, best_ncc, dominant_frequency, free_port, read_wav, rms_dbfs,
    share_at_least, wait_for_port, wait_for_text, window_nccs,
};

/// Plays a sine of `hz` at `volume` (peak, full scale 1.0) into `sink` for `seconds`, gap-free,
/// at 48 kHz with `channels` channels, with a 20 ms latency request as interactive players make.
fn play_sine(
    pulse: &Pulse,
    dir: &Path,
    sink: &str,
    hz: u32,
    volume: f64,
    channels: u32,
    seconds: u32,
) -> Proc {
    let script = format!(
        "sox -n -t raw -r 48000 -c {channels} -b 16 -e signed - synth {seconds} sine {hz} vol {volume} | \
         pacat --latency-msec=20 --device={sink} --raw --rate=48000 --channels={channels} --format=s16le"
    );
    Proc::spawn(
        pulse.sh(&script),
        &dir.join(format!("play-{sink}-{hz}.log")),
    )
}

fn serve(pulse: &Pulse, dir: &Path, source: &str, port: u16) -> Proc {
    let mut cmd = serve_command(dir, port, source);
    pulse.apply(&mut cmd);
    let log = dir.join(format!("serve-{port}.log"));
    let p = Proc::spawn(cmd, &log);
    wait_for_port(port, Duration::from_secs(15));
    // A fresh sound server can take a second or two to deliver a new stream's first audio;
    // until then the server streams silence. Compare recordings of the real thing.
    if !source.starts_with("tone:") {
        wait_for_text(&log, "source delivering audio", Duration::from_secs(15));
    }
    p
}

fn record(
    pulse: &Pulse,
    dir: &Path,
    port: u16,
    out: &str,
    seconds: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut cmd = audiomi(dir);
    cmd.args([
        "record",
        "--port",
        &port.to_string(),
        "--out",
        out,
        "--duration",
        seconds,
    ]);
    cmd.args(extra);
    pulse.apply(&mut cmd);
    let output = cmd.output().expect("run record");
    assert!(
        output.status.success(),
        "record failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn log(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

#[test]
fn devices_show_the_null_sink_monitor_as_the_default_loopback() {
    let pulse = Pulse::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = audiomi(dir.path());
    cmd.args(["devices", "--json"]);
    pulse.apply(&mut cmd);
    let out = cmd.output().expect("run devices");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let list = list.as_array().expect("an array");
    let first = &list[0];
    assert_eq!(first["kind"], "loopback");
    assert_eq!(first["id"], "pulseaudio:virt.monitor");
    assert_eq!(first["default"], true);
    assert_eq!(first["sample_rate"], 48_000);
    assert_eq!(first["channels"], 2);
    assert!(
        list.iter()
            .any(|d| d["kind"] == "mic" && d["id"] == "pulseaudio:vmic" && d["default"] == true),
        "{list:?}"
    );
    // Loopback sources come before microphones.
    let kinds: Vec<&str> = list.iter().filter_map(|d| d["kind"].as_str()).collect();
    let first_mic = kinds.iter().position(|k| *k == "mic").expect("a mic");
    assert!(kinds[first_mic..].iter().all(|k| *k == "mic"), "{kinds:?}");

    // The table form names the same default.
    let mut cmd = audiomi(dir.path());
    cmd.arg("devices");
    pulse.apply(&mut cmd);
    let table = String::from_utf8_lossy(&cmd.output().expect("run devices").stdout).to_string();
    let line = table.lines().nth(1).expect("a first device");
    assert!(
        line.contains('*') && line.contains("loopback:pulseaudio:virt.monitor"),
        "{table}"
    );
}

/// A 1 kHz sine played into the default sink comes out of the recording at 1 kHz, at the level
/// expected after downmixing, and exactly as long as asked.
#[test]
fn loopback_of_a_sine_is_recorded_at_the_right_frequency_and_level() {
    let pulse = Pulse::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let _player = play_sine(&pulse, dir.path(), "virt", 1000, 0.5, 2, 60);
    let port = free_port();
    let _server = serve(&pulse, dir.path(), "loopback", port);
    std::thread::sleep(Duration::from_millis(500));
    record(&pulse, dir.path(), port, "sine.wav", "3", &[]);
    let (spec, samples) = read_wav(&dir.path().join("sine.wav"));
    assert_eq!((spec.sample_rate, spec.channels), (16_000, 1));
    assert_eq!(samples.len(), 48_000, "exactly 3 s");
    let f = dominant_frequency(&samples, 16_000);
    let level = rms_dbfs(&samples);
    // Identical channels downmix to the same sine: 0.5 peak is -9.03 dBFS RMS.
    let expected = 20.0 * (0.5f64 / 2f64.sqrt()).log10();
    eprintln!("loopback sine: dominant {f} Hz, RMS {level:.2} dBFS (expected {expected:.2})");
    assert!((f - 1000.0).abs() <= 5.0, "dominant frequency {f} Hz");
    assert!(
        (level - expected).abs() <= 1.0,
        "RMS {level:.2} dBFS, expected {expected:.2}"
    );
    let serve_log = log(dir.path(), &format!("serve-{port}.log"));
    assert!(serve_log.contains("Monitor of Virtual_output"));
    // Captured through libpulse (the cheapest route, docs/BENCHMARKS.md), not cpal's fallback.
    assert!(
        serve_log.contains("capturing through libpulse")
            && !serve_log.contains("libpulse capture failed"),
        "{serve_log}"
    );
}

/// Speech from espeak-ng played into the default sink is recorded faithfully. Two witnesses:
/// PulseAudio's own recorder (`parecord`) captures the same monitor at the same time, and
/// audioMi's recording must match it (normalised cross-correlation ≥ 0.95 in at least 80 % of
/// the voiced 200 ms windows: audioMi adds nothing and loses nothing); and it must match the
/// played file (≥ 0.9, resampled to 16 kHz, in 80 % of the windows) whenever the sink played the
/// file faithfully. Windows, because on a slow machine the null sink or a capture stream
/// sometimes glitches (a few ms inserted or lost mid-speech, in parecord's capture as well),
/// which spoils one whole-signal correlation from that point on but only one window here.
#[test]
fn loopback_of_speech_correlates_with_what_was_played() {
    let pulse = Pulse::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let text = "audio me captures what this computer plays and streams it to every receiver";
    let status = Command::new("espeak-ng")
        .arg("-w")
        .arg(d.join("speech.wav"))
        .arg(text)
        .status()
        .expect("espeak-ng is installed");
    assert!(status.success());
    let status = Command::new("sox")
        .arg(d.join("speech.wav"))
        .args(["-r", "16000", "-c", "1", "-b", "16"])
        .arg(d.join("reference.wav"))
        .status()
        .expect("sox");
    assert!(status.success());
    let (_, reference) = read_wav(&d.join("reference.wav"));
    let speech_seconds = reference.len() as f64 / 16_000.0;

    let port = free_port();
    let _server = serve(&pulse, d, "loopback", port);
    std::thread::sleep(Duration::from_millis(300));
    // Record the speech with a second of margin on each side.
    let mut rec = audiomi(d);
    rec.args([
        "record",
        "--port",
        &port.to_string(),
        "--out",
        "speech-rec.wav",
        "--duration",
    ])
    .arg(format!("{:.3}", speech_seconds + 2.0));
    pulse.apply(&mut rec);
    let mut rec = Proc::spawn(rec, &d.join("rec.log"));
    // The second witness: PulseAudio's own recorder on the same monitor.
    let parec_wav = d.join("parecord.wav");
    let mut parec = pulse
        .sh(&format!(
            "exec parecord --device=virt.monitor --rate=16000 --channels=1 --format=s16le \
             --file-format=wav '{}'",
            parec_wav.display()
        ))
        .spawn()
        .expect("parecord (pulseaudio-utils)");
    std::thread::sleep(Duration::from_millis(700));
    let mut play = pulse.sh(&format!(
        "paplay --latency-msec=20 '{}'",
        d.join("speech.wav").display()
    ));
    assert!(play.status().expect("paplay").success());
    assert_eq!(
        rec.wait(Duration::from_secs(20)),
        Some(0),
        "{}",
        log(d, "rec.log")
    );
    let (_, recorded) = read_wav(&d.join("speech-rec.wav"));
    assert_eq!(
        recorded.len(),
        ((speech_seconds + 2.0) * 16_000.0).round() as usize
    );
    // parecord ends on SIGINT with its WAV complete; it ran before, during and after `record`.
    let _ = Command::new("kill")
        .args(["-INT", &parec.id().to_string()])
        .status();
    let _ = parec.wait();
    let (_, witness) = read_wav(&parec_wav);
    let (ncc, lag) = best_ncc(&recorded, &reference);
    // audioMi's recording (less 0.5 s at each end, which parecord also covers) inside parecord's.
    let inner = &recorded[8_000..recorded.len() - 8_000];
    // Window by window (200 ms, found within ±100 ms of the previous one): a sound server
    // glitch spoils one window, not everything after it.
    let (window, search) = (3_200, 1_600);
    let vs_file = window_nccs(&recorded, &reference, window, search);
    let sink_vs_file = window_nccs(&witness, &reference, window, search);
    let vs_witness = window_nccs(&witness, inner, window, search);
    let good = share_at_least(&vs_file, 0.9);
    let sink_good = share_at_least(&sink_vs_file, 0.9);
    let witness_good = share_at_least(&vs_witness, 0.95);
    let show = |v: &[f64]| {
        v.iter()
            .map(|c| format!("{c:.3}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    eprintln!(
        "speech ({speech_seconds:.2} s, whole-signal ncc {ncc:.4} at lag {lag}): windows \
         ≥ 0.9 vs file: audioMi {good:.2} [{}], parecord {sink_good:.2} [{}]; \
         audioMi ≥ 0.95 vs parecord {witness_good:.2} [{}]",
        show(&vs_file),
        show(&sink_vs_file),
        show(&vs_witness)
    );
    assert!(
        vs_file.len() >= 10,
        "too few voiced windows: {}",
        vs_file.len()
    );
    assert!(
        witness_good >= 0.8,
        "audioMi's recording differs from PulseAudio's own capture of the same monitor"
    );
    if sink_good >= 0.8 {
        assert!(
            good >= 0.8,
            "audioMi's recording differs from the played file"
        );
    } else {
        eprintln!(
            "the null sink did not play the file faithfully (parecord matches it in {sink_good:.2} \
             of the windows); audioMi recorded what it played"
        );
    }
}

/// `--source mic` captures the default source (a null sink's monitor standing in for a
/// microphone), not what the default output plays.
#[test]
fn mic_source_captures_the_default_input() {
    let pulse = Pulse::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let _speaker = play_sine(&pulse, dir.path(), "virt", 1000, 0.5, 2, 60);
    let _mic = play_sine(&pulse, dir.path(), "mic_sink", 600, 0.5, 1, 60);
    let port = free_port();
    let _server = serve(&pulse, dir.path(), "mic", port);
    std::thread::sleep(Duration::from_millis(500));
    record(&pulse, dir.path(), port, "mic.wav", "2", &[]);
    let (_, samples) = read_wav(&dir.path().join("mic.wav"));
    assert_eq!(samples.len(), 32_000);
    let f = dominant_frequency(&samples, 16_000);
    let level = rms_dbfs(&samples);
    eprintln!("mic: dominant {f} Hz, RMS {level:.2} dBFS");
    assert!(
        (f - 600.0).abs() <= 5.0,
        "dominant frequency {f} Hz: the mic, not the speaker"
    );
    assert!((level - (-9.03)).abs() <= 1.0, "RMS {level:.2} dBFS");
}

/// `record --play` plays the stream on an output device; that device's monitor, captured with
/// `--source loopback:ID`, holds the stream.
#[test]
fn record_play_plays_the_stream_on_the_chosen_output() {
    let pulse = Pulse::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let tone_port = free_port();
    let _tone = serve(&pulse, d, "tone:440", tone_port);
    let mut player = audiomi(d);
    player.args([
        "record",
        "--port",
        &tone_port.to_string(),
        "--out",
        "played.wav",
        "--duration",
        "6",
        "--play",
    ]);
    player.args(["--output-device", "pulseaudio:out2"]);
    pulse.apply(&mut player);
    let mut player = Proc::spawn(player, &d.join("player.log"));
    let monitor_port = free_port();
    let _monitor = serve(&pulse, d, "loopback:pulseaudio:out2.monitor", monitor_port);
    std::thread::sleep(Duration::from_millis(1500));
    record(&pulse, d, monitor_port, "heard.wav", "2", &[]);
    assert_eq!(
        player.wait(Duration::from_secs(15)),
        Some(0),
        "{}",
        log(d, "player.log")
    );
    assert!(
        log(d, "player.log").contains("Second_output"),
        "{}",
        log(d, "player.log")
    );
    let (_, heard) = read_wav(&d.join("heard.wav"));
    let f = dominant_frequency(&heard, 16_000);
    let level = rms_dbfs(&heard);
    eprintln!("playback: dominant {f} Hz, RMS {level:.2} dBFS");
    assert!((f - 440.0).abs() <= 5.0, "dominant frequency {f} Hz");
    // The tone is -12 dBFS peak: -15.05 dBFS RMS.
    assert!((level - (-15.05)).abs() <= 1.0, "RMS {level:.2} dBFS");
    let (_, recorded) = read_wav(&d.join("played.wav"));
    assert_eq!(
        recorded.len(),
        96_000,
        "the recording itself is unaffected by playing"
    );
}

#[test]
fn missing_devices_are_clear_errors() {
    let pulse = Pulse::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = audiomi(dir.path());
    cmd.args([
        "serve",
        "--port",
        &free_port().to_string(),
        "--no-http",
        "--source",
        "loopback:nonexistent",
    ]);
    pulse.apply(&mut cmd);
    let out = cmd.output().expect("run");
    assert_fails(&out, 1, &["no such loopback source", "audiomi devices"]);
}

/// The sound server goes away and comes back: the server reports it, keeps its receivers
/// (silence meanwhile) and resumes capturing on its own.
#[test]
fn capture_resumes_after_the_sound_server_restarts() {
    let pulse = Pulse::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let port = free_port();
    let _server = serve(&pulse, d, "loopback", port);
    let mut rec = audiomi(d);
    rec.args([
        "record",
        "--port",
        &port.to_string(),
        "--out",
        "restart.wav",
    ]);
    pulse.apply(&mut rec);
    let rec = Proc::spawn(rec, &d.join("rec.log"));
    std::thread::sleep(Duration::from_millis(800));
    pulse.restart(Duration::from_millis(1000));
    let log_path = d.join(format!("serve-{port}.log"));
    wait_for_text(&log_path, "source failed", Duration::from_secs(10));
    wait_for_text(&log_path, "source restored", Duration::from_secs(20));
    let _player = play_sine(&pulse, d, "virt", 1000, 0.5, 2, 30);
    // Wait until the new device delivers (the second "delivering" of this run), then let the
    // tone play into the recording.
    let start = std::time::Instant::now();
    while log(d, &format!("serve-{port}.log"))
        .matches("source delivering audio")
        .count()
        < 2
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{}",
            log(d, &format!("serve-{port}.log"))
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    rec.signal(15);
    let mut rec = rec;
    assert_eq!(
        rec.wait(Duration::from_secs(5)),
        Some(0),
        "{}",
        log(d, "rec.log")
    );
    let rec_log = log(d, "rec.log");
    assert!(
        !rec_log.contains("lost"),
        "the receiver stayed connected: {rec_log}"
    );
    let (_, samples) = read_wav(&d.join("restart.wav"));
    // The end of the recording holds the tone played after the restart.
    let tail = &samples[samples.len() - 8000..];
    let f = dominant_frequency(tail, 16_000);
    assert!(
        (f - 1000.0).abs() <= 5.0,
        "dominant frequency after the restart: {f} Hz"
    );
}
