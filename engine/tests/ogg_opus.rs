//! The Ogg/Opus encoder against real peers: `opusinfo` (from opus-tools, which validates the
//! stream's structure, headers and granule positions) and `opusdec` (the reference decoder).

use std::path::Path;
use std::process::Command;

use audiomi_testkit::{dominant_frequency, rms_dbfs};
use engine::encode::OggOpusEncoder;
use engine::encode::ogg_opus::SPEECH_BITRATE;

/// `seconds` of a 440 Hz sine at −12 dBFS peak, 16 kHz mono PCM16 LE, starting at sample `from`.
fn tone(from: usize, seconds: f64) -> Vec<u8> {
    let n = (16_000.0 * seconds) as usize;
    (from..from + n)
        .flat_map(|i| {
            let v = 0.251_188_6 * (std::f64::consts::TAU * 440.0 * i as f64 / 16_000.0).sin();
            ((v * 32_767.0).round() as i16).to_le_bytes()
        })
        .collect()
}

/// Encodes `pcm` in 20 ms chunks (as the source stage delivers it) and returns the pages.
fn encode(encoder: &mut OggOpusEncoder, pcm: &[u8]) -> Vec<u8> {
    pcm.chunks(640)
        .flat_map(|c| encoder.push_pcm16(c).expect("encode").to_vec())
        .collect()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .expect("opus-tools installed (scripts/deps.sh)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// Decodes `file` at 16 kHz with opusdec.
fn decode(file: &Path) -> Vec<i16> {
    audiomi_testkit::peers::opusdec_16k(file)
}

#[test]
fn a_whole_stream_is_valid_ogg_opus_and_decodes_to_the_same_tone_and_length() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("tone.opus");
    let mut encoder = OggOpusEncoder::new(16_000, 1, SPEECH_BITRATE, 7).expect("encoder");
    let mut bytes = encoder.headers().to_vec();
    bytes.extend(encode(&mut encoder, &tone(0, 2.0)));
    bytes.extend(encoder.finish().expect("finish").to_vec());
    std::fs::write(&file, &bytes).expect("write");

    let info = run(Command::new("opusinfo").arg(&file));
    assert!(
        !info.contains("WARNING") && !info.contains("ERROR"),
        "{info}"
    );
    assert!(info.contains("Playback length: 0m:02.000s"), "{info}");
    // 2 s at 24 kbit/s: about 6 kB of audio, plus headers and page overhead.
    assert!(
        (5_000..9_000).contains(&bytes.len()),
        "{} bytes",
        bytes.len()
    );

    let samples = decode(&file);
    // End trimming through the last granule position: exactly the 32,000 samples pushed.
    assert_eq!(samples.len(), 32_000);
    let steady = &samples[1_600..30_400];
    let freq = dominant_frequency(steady, 16_000);
    assert!((freq - 440.0).abs() < 2.0, "{freq} Hz");
    // A −12 dBFS peak sine has an RMS of −15.05 dBFS; a lossy codec keeps it within 1 dB.
    let level = rms_dbfs(steady);
    assert!((level + 15.05).abs() < 1.0, "{level} dBFS");
}

#[test]
fn a_listener_joining_mid_stream_gets_the_headers_then_plays_from_there() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("joined.opus");
    let mut encoder = OggOpusEncoder::new(16_000, 1, SPEECH_BITRATE, 9).expect("encoder");
    let _before_the_listener = encode(&mut encoder, &tone(0, 1.0));
    let mut bytes = encoder.headers().to_vec();
    bytes.extend(encode(&mut encoder, &tone(16_000, 1.0)));
    bytes.extend(encoder.finish().expect("finish").to_vec());
    std::fs::write(&file, &bytes).expect("write");

    let samples = decode(&file);
    assert!(samples.len() >= 14_000, "{} samples", samples.len());
    let steady = &samples[1_600..samples.len() - 1_600];
    let freq = dominant_frequency(steady, 16_000);
    assert!((freq - 440.0).abs() < 2.0, "{freq} Hz");
}
