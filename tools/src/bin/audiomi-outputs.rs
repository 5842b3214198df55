//! `audiomi-outputs`: the latency the RTP, Icecast and web outputs add, to a receiver's socket.
//!
//! In one process: the real server (`Station::start`) with a source of beeps (100 ms of
//! 1 kHz every 1.02 s, silence between), an RTP output to a UDP socket on
//! 127.0.0.1, and, with `--icecast URL`, an Icecast output to a real Icecast, whose mount a
//! listener reads over HTTP as any player would. A probe subscribed to the chunk stream finds the
//! chunk that starts each beep and stores the moment it left the source stage
//! (`Chunk::produced_at`). A receiver finds each beep's onset the same way in what it gets (RTP:
//! the L16 payload; Icecast and the web player's `/stream.opus`: the Opus packets decoded with
//! libopus; the web player's `/ws`: the PCM of its binary messages) and its latency is the
//! arrival of that packet, Ogg page or message minus that moment, on the same monotonic clock. Beeps are
//! 1.02 s apart, so a latency under 1 s maps each onset to its beep. The first second of the run is
//! skipped (what queued before the receivers started, Icecast's burst on connect).
//!
//! ```text
//! audiomi-outputs --seconds 30 --icecast icecast://source:PW@127.0.0.1:8000/live.opus
//! audiomi-outputs --seconds 30 --web
//! ```

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audiomi_testkit::percentile;
use audiomi_tools::ogg_check::Page;
use clap::Parser;
use engine::audio::{Generator, Input};
use engine::icecast::{IcecastTarget, IcecastUrl};
use engine::pipeline::Output;
use engine::rtp::RtpOptions;
use engine::station::{ServeOptions, Station};

/// Command line.
#[derive(Debug, Parser)]
#[command(about = "Latency the RTP and Icecast outputs add, to a receiver's socket")]
struct Args {
    /// Seconds to measure (a beep every 1.02 s).
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Also publish here and listen to its mount (a running Icecast).
    #[arg(long)]
    icecast: Option<String>,
    /// Listen here instead of the published mount (e.g. the same mount on a relay), as
    /// `http://HOST:PORT/MOUNT`.
    #[arg(long, requires = "icecast")]
    listen: Option<String>,
    /// Seconds between starting to publish and starting to listen (Icecast takes the source,
    /// a relay connects).
    #[arg(long, default_value_t = 2)]
    settle: u64,
    /// Also run the web player (on a free port) and listen to its `/stream.opus` and `/ws`.
    #[arg(long)]
    web: bool,
}

/// Samples from one beep to the next: 16,320 (1.02 s, 51 chunks of 20 ms), so that beeps start
/// at every phase of the Opus encoder's 100 ms Ogg pages in turn (a page is 5 chunks).
const PERIOD: u64 = 16_320;

/// 100 ms of 1 kHz at half scale every [`PERIOD`], silence between; 16 kHz mono.
struct Beeps {
    position: u64,
}

impl Generator for Beeps {
    fn sample_rate(&self) -> u32 {
        16_000
    }
    fn channels(&self) -> u16 {
        1
    }
    fn fill(&mut self, frames: usize, out: &mut Vec<f32>) -> engine::Result<usize> {
        for _ in 0..frames {
            let t = self.position % PERIOD;
            let v = if t < 1600 {
                0.5 * (std::f64::consts::TAU * 1000.0 * t as f64 / 16_000.0).sin()
            } else {
                0.0
            };
            out.push(v as f32);
            self.position += 1;
        }
        Ok(frames)
    }
    fn describe(&self) -> String {
        "beeps".into()
    }
}

/// When each chunk that starts a beep left the source stage.
type Sent = Arc<Mutex<Vec<Instant>>>;

/// Latency of an onset that arrived at `arrival`: to the most recent beep that left the source
/// stage before it.
fn latency(sent: &Sent, arrival: Instant) -> Option<f64> {
    let sent = sent.lock().ok()?;
    sent.iter()
        .filter(|t| **t <= arrival)
        .map(|t| arrival.duration_since(*t).as_secs_f64() * 1000.0)
        .min_by(f64::total_cmp)
}

/// Whether a block of samples starts a beep after silence (`was_silent` is updated).
fn onset(samples: impl Iterator<Item = i16>, was_silent: &mut bool) -> bool {
    let loud = samples.map(i32::from).any(|s| s.abs() > 4000);
    let found = loud && *was_silent;
    *was_silent = !loud;
    found
}

/// Arrival times of beep onsets.
fn rtp_receiver(socket: std::net::UdpSocket, end: Instant) -> Vec<Instant> {
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    let mut silent = false;
    while Instant::now() < end {
        let Ok(n) = socket.recv(&mut buf) else {
            continue;
        };
        let arrival = Instant::now();
        let samples = buf[12..n]
            .chunks_exact(2)
            .map(|b| i16::from_be_bytes([b[0], b[1]]));
        if onset(samples, &mut silent) {
            out.push(arrival);
        }
    }
    out
}

/// Reads a live Ogg/Opus stream over HTTP (an Icecast mount, the web player's `/stream.opus`),
/// splits Ogg pages, decodes their Opus packets and times onsets.
fn ogg_listener(url: &str, end: Instant) -> Result<Vec<Instant>, String> {
    // The whole request, body included, ends a second after the run does.
    let timeout = end.saturating_duration_since(Instant::now()) + Duration::from_secs(1);
    let mut s = audiomi_testkit::peers::http_client(timeout)
        .get(url)
        .send()
        .and_then(reqwest::blocking::Response::error_for_status)
        .map_err(|e| e.to_string())?;
    let mut decoder =
        opus::Decoder::new(16_000, opus::Channels::Mono).map_err(|e| e.to_string())?;
    let (mut buf, mut out, mut pcm) = (Vec::new(), Vec::new(), vec![0i16; 5760]);
    let mut silent = false;
    while Instant::now() < end {
        let mut chunk = [0u8; 4096];
        let n = match s.read(&mut chunk) {
            Ok(0) => return Err("the server closed the listener".into()),
            Ok(n) => n,
            // The request's timeout ends the read at the end of the run.
            Err(_) if Instant::now() >= end => break,
            Err(e) => return Err(e.to_string()),
        };
        let arrival = Instant::now();
        buf.extend_from_slice(&chunk[..n]);
        while let Some((packets, used)) = Page::parse(&buf).map(|p| (p.packets(), p.len)) {
            for packet in packets.iter().filter(|p| !p.starts_with(b"Opus")) {
                let got = decoder
                    .decode(packet, &mut pcm, false)
                    .map_err(|e| e.to_string())?;
                if onset(pcm[..got].iter().copied(), &mut silent) {
                    out.push(arrival);
                }
            }
            buf.drain(..used);
        }
    }
    Ok(out)
}

/// Reads the web player's `/ws` (a text message with the format, then binary messages of
/// stream position u64 LE and PCM16 LE) and times onsets.
fn ws_listener(url: &str, end: Instant) -> Result<Vec<Instant>, String> {
    let (mut ws, _) = tungstenite::connect(url).map_err(|e| e.to_string())?;
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .map_err(|e| e.to_string())?;
    }
    let (mut out, mut silent) = (Vec::new(), false);
    while Instant::now() < end {
        let msg = match ws.read() {
            Ok(m) => m,
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                continue;
            }
            Err(e) => return Err(e.to_string()),
        };
        let arrival = Instant::now();
        let tungstenite::Message::Binary(b) = msg else {
            continue;
        };
        let samples = b
            .get(8..)
            .unwrap_or_default()
            .chunks_exact(2)
            .map(|x| i16::from_le_bytes([x[0], x[1]]));
        if onset(samples, &mut silent) {
            out.push(arrival);
        }
    }
    Ok(out)
}

/// The latencies of the `onsets` that arrived after `from`, summarized (computed once the run is
/// over, so that every beep's leaving time is known). Earlier ones are skipped: what queued in
/// the UDP socket before the receiver read it, and Icecast's burst on connect.
fn summary(name: &str, onsets: &[Instant], sent: &Sent, from: Instant) -> String {
    let mut v: Vec<f64> = onsets
        .iter()
        .filter(|a| **a >= from)
        .filter_map(|a| latency(sent, *a))
        .collect();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return format!("{name}: no beeps received");
    }
    format!(
        "{name}: {} beeps, min {:.2} ms, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        v.len(),
        v[0],
        percentile(&v, 0.5),
        percentile(&v, 0.99),
        v[v.len() - 1]
    )
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let rtp_socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind UDP");
    rtp_socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let icecast = args.icecast.as_deref().map(|u| IcecastTarget {
        url: IcecastUrl::parse(u).unwrap_or_else(|e| panic!("{e}")),
        name: "audiomi-outputs".into(),
        description: "latency benchmark".into(),
    });
    let server = Station::start(
        ServeOptions::new(
            "127.0.0.1:0",
            Input::Generated(Box::new(Beeps { position: 0 })),
        )
        .web(args.web.then(|| engine::station::WebOptions {
            listen: "127.0.0.1:0".into(),
            config: engine::web::WebConfig::default(),
        }))
        .icecast(icecast)
        .rtp(Some(RtpOptions {
            destinations: vec![rtp_socket.local_addr().expect("addr")],
            ttl: 1,
            sdp: None,
            name: "audiomi-outputs".into(),
        })),
    )
    .await
    .unwrap_or_else(|e| panic!("server: {e}"));
    let sent: Sent = Arc::default();
    let mut probe = server.stream().expect("stream").subscribe("probe");
    let probe_sent = sent.clone();
    std::thread::spawn(move || {
        let mut silent = false;
        while let Some(item) = probe.recv_blocking() {
            let Output::Chunk(c) = item else { continue };
            let samples = c
                .pcm
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]));
            if let (true, Ok(mut m)) = (onset(samples, &mut silent), probe_sent.lock()) {
                m.push(c.produced_at);
            }
        }
    });
    // Icecast needs a moment to take the source (and a relay to connect) before a listener joins.
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let from = Instant::now() + Duration::from_secs(1);
    let end = from + Duration::from_secs(args.seconds);
    let rtp = std::thread::spawn(move || rtp_receiver(rtp_socket, end));
    let listen = args.listen.clone().or_else(|| {
        let url = IcecastUrl::parse(args.icecast.as_deref()?).ok()?;
        Some(url.listen_url())
    });
    let ice = listen.map(|url| std::thread::spawn(move || ogg_listener(&url, end)));
    let web = server.web_addr().map(|a| {
        let opus = format!("http://{a}/stream.opus");
        let ws = format!("ws://{a}/ws");
        (
            std::thread::spawn(move || ogg_listener(&opus, end)),
            std::thread::spawn(move || ws_listener(&ws, end)),
        )
    });
    let rtp = rtp.join().expect("rtp thread");
    println!("{}", summary("RTP", &rtp, &sent, from));
    if let Some(ice) = ice {
        match ice.join().expect("icecast thread") {
            Ok(v) => println!("{}", summary("Icecast listener", &v, &sent, from)),
            Err(e) => println!("Icecast listener failed: {e}"),
        }
        for s in server.icecast() {
            println!(
                "Icecast publisher: {} ({} bytes sent)",
                s.state(),
                s.bytes_sent.load(std::sync::atomic::Ordering::Relaxed)
            );
        }
    }
    if let Some((opus, ws)) = web {
        for (name, t) in [("web /stream.opus", opus), ("web /ws", ws)] {
            match t.join().expect("web listener thread") {
                Ok(v) => println!("{}", summary(name, &v, &sent, from)),
                Err(e) => println!("{name} failed: {e}"),
            }
        }
    }
    let _ = server.stop().await;
}
