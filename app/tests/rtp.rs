//! `audiomi serve --rtp` against real receivers on loopback: GStreamer's `rtpL16depay` (Debian's
//! gstreamer1.0-plugins-good) hears the tone, and ffprobe opens the `--rtp-sdp` file.

use std::process::Command;
use std::time::Duration;

mod common;

use audiomi_testkit::{
    Proc, dominant_frequency, free_port, rms_dbfs, wait_for_port, wait_for_text,
};
use common::serve_command;

/// A UDP port free on 127.0.0.1 now.
fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free UDP port")
}

#[test]
fn gstreamer_hears_the_tone_and_ffprobe_opens_the_sdp_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let udp = free_udp_port();
    let raw = dir.path().join("gst.raw");
    // The receiver listens first, as a player opened before the sender would.
    let mut gst = Command::new("gst-launch-1.0");
    gst.args(["-q", "-e", "udpsrc", "address=127.0.0.1"])
        .arg(format!("port={udp}"))
        .arg(
            "caps=application/x-rtp,media=audio,clock-rate=16000,encoding-name=L16,\
             channels=1,payload=96",
        )
        .args([
            "!",
            "rtpjitterbuffer",
            "latency=60",
            "!",
            "rtpL16depay",
            "!",
        ])
        .args([
            "audioconvert",
            "!",
            "audio/x-raw,format=S16LE,rate=16000,channels=1",
        ])
        .args(["!", "filesink"])
        .arg(format!("location={}", raw.display()));
    let mut gst = Proc::spawn(gst, &dir.path().join("gst.log"));
    std::thread::sleep(Duration::from_millis(500));

    let port = free_port();
    let sdp = dir.path().join("stream.sdp");
    let mut cmd = serve_command(dir.path(), port, "tone:440");
    cmd.args(["--rtp", &format!("127.0.0.1:{udp}"), "--rtp-sdp"])
        .arg(&sdp);
    let log = dir.path().join("serve.log");
    let _serve = Proc::spawn(cmd, &log);
    wait_for_port(port, Duration::from_secs(10));
    wait_for_text(&log, "RTP output sending", Duration::from_secs(5));
    std::thread::sleep(Duration::from_secs(3));
    // SIGINT: gst-launch -e ends the pipeline with EOS, so the file is complete.
    gst.signal(2);
    assert_eq!(gst.wait(Duration::from_secs(10)), Some(0));

    let bytes = std::fs::read(&raw).expect("GStreamer wrote the stream");
    let samples: Vec<i16> = bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let seconds = samples.len() as f64 / 16_000.0;
    assert!((2.5..=3.6).contains(&seconds), "GStreamer got {seconds} s");
    let freq = dominant_frequency(&samples, 16_000);
    assert!((freq - 440.0).abs() < 3.0, "GStreamer heard {freq} Hz");
    let level = rms_dbfs(&samples);
    assert!((level + 15.05).abs() < 0.5, "GStreamer heard {level} dBFS");

    // ffprobe reads the SDP file and the packets it describes (the port is free again).
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-protocol_whitelist", "file,udp,rtp"])
        .args(["-show_entries", "stream=codec_name,sample_rate,channels"])
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(&sdp)
        .output()
        .expect("ffprobe installed (scripts/deps.sh)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text.trim(),
        "codec_name=pcm_s16be\nsample_rate=16000\nchannels=1",
        "ffprobe of {}",
        std::fs::read_to_string(&sdp).unwrap_or_default()
    );
}
