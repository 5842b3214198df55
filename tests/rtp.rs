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

/// A network namespace made by the test (only loopback in it, with a multicast route), deleted
/// when dropped: multicast never leaves it.
struct Netns(String);

impl Netns {
    fn new() -> Self {
        let name = format!("audiomi-mc-{}", std::process::id());
        let ip = |args: &[&str]| {
            let ok = Command::new("ip")
                .args(args)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "ip {args:?} (the multicast test needs root, as CI has)");
        };
        ip(&["netns", "add", &name]);
        let ns = Self(name);
        ip(&["-n", &ns.0, "link", "set", "lo", "up"]);
        ip(&["-n", &ns.0, "route", "add", "224.0.0.0/4", "dev", "lo"]);
        ns
    }

    /// `cmd` run inside the namespace.
    fn exec(&self, cmd: &Command) -> Command {
        let mut inside = Command::new("ip");
        inside
            .args(["netns", "exec", &self.0])
            .arg(cmd.get_program())
            .args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => inside.env(k, v),
                None => inside.env_remove(k),
            };
        }
        if let Some(dir) = cmd.get_current_dir() {
            inside.current_dir(dir);
        }
        inside
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[test]
fn multicast_reaches_a_group_member_with_the_ttl_asked_for_inside_a_namespace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ns = Netns::new();
    let group = "239.255.12.42";
    let raw = dir.path().join("gst.raw");
    let mut gst = Command::new("gst-launch-1.0");
    gst.args(["-q", "-e", "udpsrc"])
        .arg(format!("address={group}"))
        .args(["port=5004", "multicast-iface=lo", "auto-multicast=true"])
        .arg("caps=application/x-rtp,media=audio,clock-rate=16000,encoding-name=L16,channels=1,payload=96")
        .args(["!", "rtpjitterbuffer", "latency=60", "!", "rtpL16depay", "!"])
        .args(["audioconvert", "!", "audio/x-raw,format=S16LE,rate=16000,channels=1"])
        .args(["!", "filesink"])
        .arg(format!("location={}", raw.display()));
    let mut gst = Proc::spawn(ns.exec(&gst), &dir.path().join("gst.log"));
    // tcpdump shows each packet's IP header: the TTL must be the one asked for (3; the kernel's
    // default for multicast is 1, which audioMi's default also is).
    let mut dump = Command::new("tcpdump");
    dump.args(["-i", "lo", "-n", "-v", "-c", "5", "udp", "port", "5004"]);
    let dump_log = dir.path().join("tcpdump.log");
    let mut dump = Proc::spawn(ns.exec(&dump), &dump_log);
    std::thread::sleep(Duration::from_millis(700));

    let mut serve = serve_command(dir.path(), 26_070, "tone:440");
    serve.args(["--rtp", &format!("{group}:5004"), "--rtp-ttl", "3"]);
    serve.args(["--rtp-sdp", "group.sdp"]);
    let _serve = Proc::spawn(ns.exec(&serve), &dir.path().join("serve.log"));
    std::thread::sleep(Duration::from_secs(3));
    gst.signal(2);
    assert_eq!(gst.wait(Duration::from_secs(10)), Some(0));
    assert_eq!(
        dump.wait(Duration::from_secs(5)),
        Some(0),
        "tcpdump saw 5 packets"
    );

    let dumped = std::fs::read_to_string(&dump_log).unwrap_or_default();
    let headers: Vec<_> = dumped.lines().filter(|l| l.contains("ttl")).collect();
    assert_eq!(headers.len(), 5, "{dumped}");
    assert!(headers.iter().all(|l| l.contains("ttl 3,")), "{dumped}");
    assert!(dumped.contains(&format!("> {group}.5004")), "{dumped}");
    let sdp = std::fs::read_to_string(dir.path().join("group.sdp")).expect("SDP file");
    assert!(sdp.contains(&format!("c=IN IP4 {group}/3\r\n")), "{sdp}");

    let bytes = std::fs::read(&raw).expect("GStreamer wrote the stream");
    let samples: Vec<i16> = bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    assert!(samples.len() > 16_000 * 2, "{} samples", samples.len());
    let freq = dominant_frequency(&samples, 16_000);
    assert!(
        (freq - 440.0).abs() < 3.0,
        "the group member heard {freq} Hz"
    );
    let level = rms_dbfs(&samples);
    assert!(
        (level + 15.05).abs() < 0.5,
        "the group member heard {level} dBFS"
    );
}
