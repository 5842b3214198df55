//! Playlists (#14): `serve --source folder:DIR` with a FLAC and an MP3 (made by sox and ffmpeg,
//! each with title and artist tags) plays them back to back; `record` gets both tones in order
//! with no gap between them and a cue point labelled with each track where it starts;
//! `record --split` writes one file per track; the web status names the track; the original
//! client on the same server sees only AUDIO.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use audiomi_testkit::{Proc, free_port, goertzel, legacy_client, read_wav, wait_for_port};
use common::audiomi;
use engine::cue::{self, Cue};

/// The folder: `a.flac`, 3 s of 440 Hz ("Tone A" by "sox"), and `b.mp3`, 3 s of 1 kHz
/// ("Tone B" by "ffmpeg"), both 44.1 kHz stereo at half full scale.
fn music(dir: &Path) {
    std::fs::create_dir(dir.join("music")).expect("mkdir");
    let ok = Command::new("sox")
        .args(["-n", "-r", "44100", "-c", "2", "-b", "16"])
        .args(["--comment", "TITLE=Tone A", "--add-comment", "ARTIST=sox"])
        .args(["music/a.flac", "synth", "3", "sine", "440", "vol", "0.5"])
        .current_dir(dir)
        .status()
        .expect("sox");
    assert!(ok.success());
    let ok = Command::new("sox")
        .args(["-n", "-r", "44100", "-c", "2", "-b", "16", "b.wav"])
        .args(["synth", "3", "sine", "1000", "vol", "0.5"])
        .current_dir(dir)
        .status()
        .expect("sox");
    assert!(ok.success());
    let ok = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-i", "b.wav", "-b:a", "192k"])
        .args(["-metadata", "title=Tone B", "-metadata", "artist=ffmpeg"])
        .arg("music/b.mp3")
        .current_dir(dir)
        .status()
        .expect("ffmpeg (scripts/deps.sh installs it)");
    assert!(ok.success());
}

/// Power of 440 Hz over power of 1 kHz in dB, over `x` at 16 kHz.
fn a_over_b(x: &[i16]) -> f64 {
    let x: Vec<f64> = x.iter().map(|&s| f64::from(s) / 32768.0).collect();
    10.0 * (goertzel(&x, 440.0, 16_000.0) / goertzel(&x, 1000.0, 16_000.0).max(1e-30)).log10()
}

fn rms(x: &[i16]) -> f64 {
    (x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

#[test]
fn a_folder_plays_gaplessly_and_the_recording_marks_each_track() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    music(d);
    let (port, http) = (free_port(), free_port());
    let mut serve = audiomi(d);
    serve
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--http-port", &http.to_string(), "--source", "folder:music"]);
    let _server = Proc::spawn(serve, &d.join("serve.log"));
    wait_for_port(port, Duration::from_secs(10));
    let record = |out: &str, split: bool| {
        let mut c = audiomi(d);
        c.args(["record", "--port", &port.to_string(), "--out", out])
            .args(["--duration", "4.5"]);
        if split {
            c.arg("--split");
        }
        Proc::spawn(c, &d.join(format!("{out}.log")))
    };
    let (mut whole, mut parts) = (record("rec.wav", false), record("part.wav", true));
    // The original client on the same server across the track change: only AUDIO frames.
    let legacy = std::thread::spawn(move || legacy_client(port, 4.0));
    // The web page's status names the track playing, once the first track is open (the port
    // opens before the source has read its first tags: poll for up to 5 s).
    let names_a_track = |s: &str| {
        s.contains(r#""now_playing":{"artist":"sox","title":"Tone A"}"#)
            || s.contains(r#""now_playing":{"artist":"ffmpeg","title":"Tone B"}"#)
    };
    let url = format!("http://127.0.0.1:{http}/status.json");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut status = audiomi_testkit::peers::http_get(&url);
    while !names_a_track(&status) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        status = audiomi_testkit::peers::http_get(&url);
    }
    assert!(names_a_track(&status), "{status}");
    assert_eq!(whole.wait(Duration::from_secs(15)), Some(0));
    assert_eq!(parts.wait(Duration::from_secs(15)), Some(0));
    assert!(legacy.join().expect("legacy client").frames >= 100);

    let (spec, samples) = read_wav(&d.join("rec.wav"));
    assert_eq!((spec.sample_rate, spec.channels), (16_000, 1));
    assert_eq!(samples.len(), 72_000);
    let cues = cue::read(&d.join("rec.wav")).expect("cues");
    let labels: Vec<&str> = cues.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels, ["Tone A — sox", "Tone B — ffmpeg"], "{cues:?}");
    assert_eq!(cues[0].frame, 0, "the track playing when recording began");
    let at = cues[1].frame as usize;
    // The recording joined track A before its last 0.25 s (at once, unless the machine is very
    // busy): B starts at most 3 s in.
    assert!((4_000..=48_000).contains(&at), "B starts at frame {at}");
    // A before the cue, B after it, both at full level right up to it: no gap.
    assert!(
        a_over_b(&samples[at - 1_600..at - 160]) > 30.0,
        "440 Hz before"
    );
    assert!(
        a_over_b(&samples[at + 160..at + 1_600]) < -30.0,
        "1 kHz after"
    );
    for w in samples[at - 3_200..at + 3_200].chunks(160) {
        assert!(
            rms(w) > 0.3 * 11_585.0,
            "a dip of {:.0} RMS near the boundary",
            rms(w)
        );
    }

    // --split: the same boundary, one file per track, each starting with its cue.
    let (_, first) = read_wav(&d.join("part-01.wav"));
    let (_, second) = read_wav(&d.join("part-02.wav"));
    assert!(!d.join("part-03.wav").exists());
    let said = std::fs::read_to_string(d.join("part.wav.log")).expect("log");
    assert!(
        said.contains("saved 2 files (one per track), the last"),
        "{said}"
    );
    assert_eq!(first.len() + second.len(), 72_000);
    assert!(a_over_b(&first[first.len() - 1_600..]) > 30.0);
    assert!(a_over_b(&second[..1_600]) < -30.0);
    assert_eq!(
        cue::read(&d.join("part-02.wav")).expect("cues"),
        [Cue {
            frame: 0,
            label: "Tone B — ffmpeg".into()
        }]
    );
}

/// `record --split` cuts at the exact frame a track starts (#24: each file ended with ~150
/// frames of the next track): a loud 44.1 kHz track between two silent 48 kHz tracks, served at
/// 48 kHz stereo without `--loop`, recorded as it is and converted to 16 kHz mono. In both, the
/// loud file holds the whole loud track and the silent files none of it.
#[test]
fn split_cuts_at_the_exact_frame_across_rates_and_conversions() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("album")).expect("mkdir");
    for (name, rate, volume) in [
        ("1.wav", "48000", "0"),
        ("2.wav", "44100", "0.5"),
        ("3.wav", "48000", "0"),
    ] {
        let ok = Command::new("sox")
            .args([
                "-n",
                "-r",
                rate,
                "-c",
                "2",
                "-b",
                "16",
                &format!("album/{name}"),
            ])
            .args(["synth", "1", "sine", "440", "vol", volume])
            .current_dir(dir.path())
            .status()
            .expect("sox");
        assert!(ok.success());
    }
    for (convert, rate) in [(None, 48_000), (Some("16000:1"), 16_000)] {
        let port = free_port();
        let mut serve = common::serve_command(dir.path(), port, "folder:album");
        serve.args(["--format", "48000:2"]);
        let log = dir.path().join(format!("serve-{rate}.log"));
        let _server = Proc::spawn(serve, &log);
        wait_for_port(port, Duration::from_secs(10));
        let out = format!("split-{rate}.wav");
        let mut record = audiomi(dir.path());
        record.args([
            "record",
            "--port",
            &port.to_string(),
            "--split",
            "--out",
            &out,
        ]);
        if let Some(f) = convert {
            record.args(["--format", f]);
        }
        let done = record.output().expect("record");
        assert!(
            done.status.success(),
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
        let loud = |n: u32| {
            let (spec, samples) = read_wav(&dir.path().join(format!("split-{rate}-0{n}.wav")));
            let left: Vec<i16> = samples
                .iter()
                .step_by(usize::from(spec.channels))
                .copied()
                .collect();
            let loud: Vec<usize> = (0..left.len()).filter(|&i| left[i].abs() > 300).collect();
            (left.len(), loud.first().copied(), loud.last().copied())
        };
        assert_eq!(
            loud(1).1,
            None,
            "{rate}: the first file ends before the loud track"
        );
        let (len, first, last) = loud(2);
        assert!(first.is_some_and(|f| f <= 2), "{rate}: loud from {first:?}");
        assert!(
            last.is_some_and(|l| l + 3 >= len),
            "{rate}: loud to {last:?} of {len}"
        );
        assert_eq!(
            loud(3).1,
            None,
            "{rate}: the loud track does not reach the third file"
        );
    }
}
