//! Hi-fi streams (#14): `serve --format 48000:2` from a 48 kHz stereo file with a different tone
//! on each side; `record` writes a 48 kHz stereo WAV of the exact length with each tone on its
//! own channel, while the original client on the same server still gets 16 kHz mono and
//! `record --format 16000:1` converts to 16 kHz mono at the receiver.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

mod common;

use audiomi_testkit::{
    Proc, dominant_frequency, free_port, goertzel, legacy_client, read_wav, wait_for_port,
};
use common::{audiomi, serve_command};

/// `out`: `seconds` of stereo PCM16 at `rate` Hz, a 440 Hz sine on the left and 1 kHz on the
/// right, each at half full scale, made by sox.
fn left_right_file(dir: &Path, out: &str, rate: u32, seconds: u32) {
    let (s, r) = (seconds.to_string(), rate.to_string());
    for (name, hz) in [("l.wav", "440"), ("r.wav", "1000")] {
        let ok = Command::new("sox")
            .args(["-n", "-r", &r, "-c", "1", "-b", "16", name, "synth", &s])
            .args(["sine", hz, "vol", "0.5"])
            .current_dir(dir)
            .status()
            .expect("sox");
        assert!(ok.success());
    }
    let ok = Command::new("sox")
        .args(["-M", "l.wav", "r.wav", out])
        .current_dir(dir)
        .status()
        .expect("sox");
    assert!(ok.success());
}

/// Each channel of interleaved stereo `samples`.
fn split(samples: &[i16]) -> (Vec<i16>, Vec<i16>) {
    let left = samples.iter().step_by(2).copied().collect();
    let right = samples.iter().skip(1).step_by(2).copied().collect();
    (left, right)
}

/// Power ratio in dB of `wanted` Hz over `unwanted` Hz in `x` at `rate`.
fn separation_db(x: &[i16], rate: u32, wanted: f64, unwanted: f64) -> f64 {
    let x: Vec<f64> = x.iter().map(|&s| f64::from(s) / 32768.0).collect();
    let r = f64::from(rate);
    10.0 * (goertzel(&x, wanted, r) / goertzel(&x, unwanted, r).max(1e-30)).log10()
}

#[test]
fn a_48k_stereo_stream_is_recorded_in_stereo_while_a_legacy_client_gets_16k_mono() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    left_right_file(d, "lr.wav", 48_000, 4);
    let port = free_port();
    let mut serve = serve_command(d, port, "file:lr.wav");
    serve.args(["--loop", "--format", "48000:2"]);
    let _server = Proc::spawn(serve, &d.join("serve.log"));
    wait_for_port(port, Duration::from_secs(10));

    let legacy = std::thread::spawn(move || legacy_client(port, 2.0));
    // At the same time, a receiver that asks for 16 kHz mono (converted at the receiver).
    let mut mono = audiomi(d);
    mono.args(["record", "--port", &port.to_string(), "--out", "mono.wav"])
        .args(["--duration", "2", "--format", "16000:1"]);
    let mut mono = Proc::spawn(mono, &d.join("mono.log"));
    let status = audiomi(d)
        .args(["record", "--port", &port.to_string(), "--out", "rec.wav"])
        .args(["--duration", "2"])
        .status()
        .expect("record");
    assert!(status.success());
    assert_eq!(mono.wait(Duration::from_secs(10)), Some(0));
    let (spec, converted) = read_wav(&d.join("mono.wav"));
    assert_eq!((spec.sample_rate, spec.channels), (16_000, 1));
    assert_eq!(converted.len(), 32_000, "exactly 2 s at 16 kHz");
    let x: Vec<f64> = converted[8_000..]
        .iter()
        .map(|&s| f64::from(s) / 32768.0)
        .collect();
    let both = 10.0 * (goertzel(&x, 440.0, 16_000.0) / goertzel(&x, 1000.0, 16_000.0)).log10();
    assert!(both.abs() < 1.0, "both tones, equally: {both:.2} dB");
    let (spec, samples) = read_wav(&d.join("rec.wav"));
    assert_eq!((spec.sample_rate, spec.channels), (48_000, 2));
    assert_eq!(samples.len(), 2 * 96_000, "exactly 2 s of stereo frames");
    let (left, right) = split(&samples);
    assert_eq!(dominant_frequency(&left, 48_000).round(), 440.0);
    assert_eq!(dominant_frequency(&right, 48_000).round(), 1000.0);
    let (l_sep, r_sep) = (
        separation_db(&left, 48_000, 440.0, 1000.0),
        separation_db(&right, 48_000, 1000.0, 440.0),
    );
    eprintln!("channel separation: left {l_sep:.1} dB, right {r_sep:.1} dB");
    assert!(l_sep >= 90.0 && r_sep >= 90.0, "{l_sep:.1} / {r_sep:.1} dB");

    // The original client: 16 kHz mono, both tones mixed, about 16,000 samples a second.
    let got = legacy.join().expect("legacy client");
    let seconds = got.samples.len() as f64 / 16_000.0;
    assert!((1.8..=2.3).contains(&seconds), "{seconds:.3} s at 16 kHz");
    let tail = &got.samples[got.samples.len() / 4..];
    let x: Vec<f64> = tail.iter().map(|&s| f64::from(s) / 32768.0).collect();
    let power = |hz: f64| goertzel(&x, hz, 16_000.0);
    // At 16 kHz the tones are at 440 and 1000 Hz (48 kHz audio read as 16 kHz would put them
    // at a third of that), at equal strength (the average of both channels).
    let balance = 10.0 * (power(440.0) / power(1000.0)).log10();
    assert!(balance.abs() < 1.0, "440 vs 1000 Hz: {balance:.2} dB");
    assert!(power(440.0) > 1000.0 * power(146.7), "mono at 16 kHz");
}

/// A 44.1 kHz stereo stream on the web player: Ogg/Opus in stereo at 128 kbit/s (resampled to
/// 48 kHz for Opus), which the reference decoder turns back into each tone on its own side.
#[test]
fn the_web_players_opus_of_a_music_stream_is_stereo_at_128_kbits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    left_right_file(d, "cd.wav", 44_100, 4);
    let (port, http) = (free_port(), free_port());
    let mut serve = audiomi(d);
    serve
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--http-port", &http.to_string(), "--source", "file:cd.wav"])
        .args(["--loop", "--format", "44100:2"]);
    let _server = Proc::spawn(serve, &d.join("serve.log"));
    wait_for_port(http, Duration::from_secs(10));
    let status = audiomi_testkit::peers::http_get(&format!("http://127.0.0.1:{http}/status.json"));
    assert!(status.contains("\"opus_bitrate\":128000"), "{status}");
    assert!(status.contains("\"channels\":2"), "{status}");
    // curl ends with code 28 (time limit) on a live stream: the expected end.
    let _ = Command::new("curl")
        .args(["-s", "-m", "4", "-o", "music.opus"])
        .arg(format!("http://127.0.0.1:{http}/stream.opus"))
        .current_dir(d)
        .status()
        .expect("curl");
    let opus = std::fs::read(d.join("music.opus")).expect("received");
    // About 4 s at 128 kbit/s (64 kB), give or take the start and Ogg overhead.
    assert!(
        (40_000..90_000).contains(&opus.len()),
        "{} bytes",
        opus.len()
    );
    let info = Command::new("opusinfo")
        .arg("music.opus")
        .current_dir(d)
        .output()
        .expect("opusinfo");
    let info = String::from_utf8_lossy(&info.stdout).to_string();
    assert!(info.contains("Channels: 2"), "{info}");
    let ok = Command::new("opusdec")
        .args(["--quiet", "--rate", "48000", "music.opus", "music.wav"])
        .current_dir(d)
        .status()
        .expect("opusdec");
    assert!(ok.success());
    let (spec, samples) = read_wav(&d.join("music.wav"));
    assert_eq!((spec.sample_rate, spec.channels), (48_000, 2));
    let (left, right) = split(&samples[samples.len() / 4..]);
    assert_eq!(dominant_frequency(&left, 48_000).round(), 440.0);
    assert_eq!(dominant_frequency(&right, 48_000).round(), 1000.0);
    // A lossy codec at 128 kbit/s keeps the sides apart by far more than any listener hears.
    let sep = separation_db(&left, 48_000, 440.0, 1000.0);
    assert!(sep >= 40.0, "left: {sep:.1} dB");
}
