//! Helpers for audioMi's end-to-end tests (the files at the top of `tests/`), the engine's
//! tests and the tools: the `audiomi` binary as a real process, free ports, test signals and
//! their analysis, peers (a private PulseAudio, icecast2), a DevTools client ([`cdp`]).

pub mod cdp;
pub mod peers;

/// JSON values of [`cdp`] calls.
pub use serde_json;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An `audiomi` command (the binary at `bin`; the end-to-end tests pass the one of their build
/// profile, `tests/common`'s `BIN`) with logs at `info`, no colours, no `.env` overrides from the
/// environment, no access key, mDNS on `lo` only, its config folder (`AUDIOMI_CONFIG_DIR`) at `dir/config`, no
/// stdin, run in `dir`.
///
/// # Panics
/// If there is no file at `bin`, saying how to build it.
pub fn audiomi(bin: &Path, dir: &Path) -> Command {
    assert!(
        bin.exists(),
        "no audiomi binary at {}: build it first (`cargo build --bins`, as scripts/test.sh does)",
        bin.display()
    );
    let mut c = Command::new(bin);
    c.current_dir(dir)
        .env("RUST_LOG", "info")
        .env_remove("HOST")
        .env_remove("PORT")
        .env_remove("CHECKCODE")
        .env_remove("HTTP_PORT")
        .env_remove("ICECAST")
        .env_remove("AUDIOMI_ACCESS_KEY")
        // Network rule: mDNS in tests stays on the loopback interface.
        .env("AUDIOMI_MDNS_INTERFACE", "lo")
        .env("AUDIOMI_CONFIG_DIR", dir.join("config"))
        .stdin(Stdio::null());
    c
}

/// `audiomi serve --host 127.0.0.1 --port PORT --no-http --source SOURCE` (the binary at
/// `bin`), run in `dir`. Without the web player: parallel tests never compete for its port
/// (the web player's own tests choose one).
pub fn serve_command(bin: &Path, dir: &Path, port: u16, source: &str) -> Command {
    let mut cmd = audiomi(bin, dir);
    cmd.args([
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--no-http",
        "--source",
        source,
    ]);
    cmd
}

/// Asserts that a finished command exited with `code` and that its stderr contains every one of
/// `needles`; returns the stderr.
///
/// # Panics
/// Otherwise, showing the stderr.
pub fn assert_fails(out: &std::process::Output, code: i32, needles: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{n:?} not in: {stderr}");
    }
    stderr
}

/// A free TCP port on 127.0.0.1 (bound and released; another process could take it in between,
/// which is unlikely on a test machine).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`.
///
/// # Panics
/// After `timeout`.
pub fn wait_for_port(port: u16, timeout: Duration) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < timeout,
            "nothing listens on port {port} after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the file at `path` contains `text` (e.g. a log line).
///
/// # Panics
/// After `timeout`, showing the file.
pub fn wait_for_text(path: &Path, text: &str, timeout: Duration) {
    let start = Instant::now();
    loop {
        let content = std::fs::read_to_string(path).unwrap_or_default();
        if content.contains(text) {
            return;
        }
        assert!(
            start.elapsed() < timeout,
            "{text:?} not in {} after {timeout:?}:\n{content}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process that is killed (SIGKILL) and reaped when dropped.
pub struct Proc {
    /// The child.
    pub child: Child,
}

impl Proc {
    /// Spawns `cmd` with stdout and stderr captured to `log` (a file path).
    pub fn spawn(mut cmd: Command, log: &Path) -> Self {
        let file = std::fs::File::create(log).expect("log file");
        let err = file.try_clone().expect("log file");
        let child = cmd
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("spawn audiomi");
        Self { child }
    }

    /// Sends `signal` by number (e.g. 15 for SIGTERM, 9 for SIGKILL).
    pub fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid fits i32");
        let rc = send_signal(pid, signal);
        assert_eq!(rc, 0, "kill({pid}, {signal})");
    }

    /// Waits for the process to exit and returns its exit code (None if killed by a signal).
    ///
    /// # Panics
    /// If it has not exited within `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> Option<i32> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            assert!(
                start.elapsed() < timeout,
                "process did not exit within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a signal through the `kill` command (the workspace forbids `unsafe`).
fn send_signal(pid: i32, signal: i32) -> i32 {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    if status.success() { 0 } else { 1 }
}

/// Writes a 16 kHz mono PCM16 ramp of 65,536 samples, −32,768 up to 32,767, so that looping it
/// keeps every next sample equal to the previous + 1 (wrapping).
pub fn write_ramp(path: &Path) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create ramp");
    for s in i16::MIN..=i16::MAX {
        w.write_sample(s).expect("write ramp");
    }
    w.finalize().expect("finalize ramp");
}

/// Index of the first sample that is not the previous + 1 (wrapping), if any.
pub fn ramp_break(samples: &[i16]) -> Option<usize> {
    samples
        .windows(2)
        .position(|w| w[1] != w[0].wrapping_add(1))
        .map(|i| i + 1)
}

/// Reads a WAV file's spec and its samples as `i16`.
pub fn read_wav(path: &Path) -> (hound::WavSpec, Vec<i16>) {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = r.spec();
    let samples = r.samples::<i16>().map(|s| s.expect("sample")).collect();
    (spec, samples)
}

/// Power of `x` at `freq` Hz (Goertzel), for comparing frequencies with each other.
pub fn goertzel(x: &[f64], freq: f64, rate: f64) -> f64 {
    let w = std::f64::consts::TAU * freq / rate;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s0 = v + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

/// The strongest frequency of `samples` between 20 Hz and Nyquist, to 1 Hz: a 10 Hz scan, then a
/// 1 Hz scan around the best bin.
pub fn dominant_frequency(samples: &[i16], rate: u32) -> f64 {
    let x: Vec<f64> = samples.iter().map(|&s| f64::from(s) / 32768.0).collect();
    let rate = f64::from(rate);
    let best = |freqs: Vec<f64>| {
        freqs
            .into_iter()
            .max_by(|a, b| goertzel(&x, *a, rate).total_cmp(&goertzel(&x, *b, rate)))
            .expect("non-empty scan")
    };
    let coarse = best(
        (2..(rate / 20.0) as u32)
            .map(|k| f64::from(k) * 10.0)
            .collect(),
    );
    best((-10..=10).map(|d| coarse + f64::from(d)).collect())
}

/// RMS of `samples` in dBFS (full scale 32,768).
pub fn rms_dbfs(samples: &[i16]) -> f64 {
    let sum: f64 = samples
        .iter()
        .map(|&s| (f64::from(s) / 32768.0).powi(2))
        .sum();
    20.0 * (sum / samples.len().max(1) as f64).sqrt().max(1e-9).log10()
}

/// Longest run of exact zeros in `samples`.
pub fn longest_zero_run(samples: &[i16]) -> usize {
    let (mut best, mut cur) = (0, 0);
    for &s in samples {
        if s == 0 {
            cur += 1;
            best = best.max(cur);
        } else {
            cur = 0;
        }
    }
    best
}

/// A private PulseAudio server (`scripts/pulse.sh`) for one test: its own socket, null sinks
/// `virt` (the default sink), `mic_sink` (whose remapped monitor `vmic` is the default source) and
/// `out2`. Stopped, by PID, when dropped.
pub struct Pulse {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

/// Runs `scripts/pulse.sh ACTION DIR` and returns its output.
fn pulse_script(action: &str, dir: &Path) -> std::process::Output {
    Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pulse.sh"))
        .arg(action)
        .arg(dir)
        .output()
        .expect("run scripts/pulse.sh (bash)")
}

/// Starts the server in `dir` and returns the environment it prints.
///
/// # Panics
/// If it does not start.
fn pulse_start(dir: &Path) -> Vec<(String, String)> {
    let out = pulse_script("start", dir);
    assert!(
        out.status.success(),
        "scripts/pulse.sh start failed (are pulseaudio and pulseaudio-utils installed? scripts/deps.sh installs them): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    let env = line
        .trim()
        .trim_start_matches("export ")
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect::<Vec<_>>();
    assert!(
        env.iter().any(|(k, _)| k == "PULSE_SERVER"),
        "unexpected output: {line}"
    );
    env
}

impl Pulse {
    /// Starts the server.
    ///
    /// # Panics
    /// If it does not start (is `pulseaudio` installed? `scripts/deps.sh` installs it).
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = pulse_start(dir.path());
        Self { dir, env }
    }

    /// Stops the server (as a crash or restart of the sound server would) and starts a new one
    /// on the same socket.
    pub fn restart(&self, down_for: Duration) {
        let _ = pulse_script("stop", self.dir.path());
        std::thread::sleep(down_for);
        pulse_start(self.dir.path());
    }

    /// Points `cmd` at this server.
    pub fn apply<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// A shell command (`sh -c`) run against this server.
    pub fn sh(&self, script: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(script).stdin(Stdio::null());
        self.apply(&mut c);
        c
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        let _ = pulse_script("stop", self.dir.path());
    }
}

/// What [`legacy_client`] received: AUDIO frames and their PCM16 samples, in order.
#[derive(Debug, Default)]
pub struct LegacyCapture {
    /// AUDIO frames received.
    pub frames: usize,
    /// Their samples, concatenated.
    pub samples: Vec<i16>,
    /// The server closed the connection between two frames (as it does when its source ends).
    pub closed_by_server: bool,
}

/// The original client, reconstructed from its protocol: connects to `127.0.0.1:port`, sends
/// PING (`checkcode 20250918, 99`), expects the 9-byte ACK, then reads only AUDIO frames
/// (`checkcode, 1, size, size bytes`) for `seconds`.
///
/// # Panics
/// On any other command, a wrong checkcode, or a connection closed inside a frame (a legacy
/// client could not parse them). A close between frames ends the capture
/// ([`LegacyCapture::closed_by_server`]).
pub fn legacy_client(port: u16, seconds: f64) -> LegacyCapture {
    use std::io::{Read, Write};
    const CHECKCODE: [u8; 4] = [0x26, 0x01, 0x35, 0x01];
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.write_all(&[0x26, 0x01, 0x35, 0x01, 0x63, 0, 0, 0])
        .expect("PING");
    let mut ack = [0u8; 9];
    s.read_exact(&mut ack).expect("ACK");
    assert_eq!(ack, [0x26, 0x01, 0x35, 0x01, 0x63, 0, 0, 0, 0], "ACK");
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let mut got = LegacyCapture::default();
    while Instant::now() < end {
        let mut head = [0u8; 12];
        let mut first = [0u8; 1];
        if s.read(&mut first).expect("frame header") == 0 {
            got.closed_by_server = true;
            break;
        }
        head[0] = first[0];
        s.read_exact(&mut head[1..]).expect("frame header");
        assert_eq!(&head[..4], &CHECKCODE);
        assert_eq!(
            &head[4..8],
            &[1, 0, 0, 0],
            "a legacy client sees only AUDIO"
        );
        let size = i32::from_le_bytes([head[8], head[9], head[10], head[11]]);
        let mut pcm = vec![0u8; usize::try_from(size).expect("size")];
        s.read_exact(&mut pcm).expect("PCM");
        got.frames += 1;
        got.samples.extend(
            pcm.chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]])),
        );
    }
    got
}

/// The best normalised cross-correlation of `reference` inside `recorded`, and the lag (samples)
/// where it is found: a coarse search on 1 kHz envelopes, then a fine one at the full rate.
pub fn best_ncc(recorded: &[i16], reference: &[i16]) -> (f64, usize) {
    const DECIMATE: usize = 16;
    let x: Vec<f64> = recorded.iter().map(|&s| f64::from(s)).collect();
    let y: Vec<f64> = reference.iter().map(|&s| f64::from(s)).collect();
    if y.is_empty() || x.len() < y.len() {
        return (0.0, 0);
    }
    let envelope = |v: &[f64]| -> Vec<f64> {
        v.chunks(DECIMATE)
            .map(|c| c.iter().map(|s| s.abs()).sum::<f64>() / c.len() as f64)
            .collect()
    };
    let (ex, ey) = (envelope(&x), envelope(&y));
    let coarse = (0..=ex.len().saturating_sub(ey.len()))
        .max_by(|&a, &b| {
            let da: f64 = ey.iter().zip(&ex[a..]).map(|(p, q)| p * q).sum();
            let db: f64 = ey.iter().zip(&ex[b..]).map(|(p, q)| p * q).sum();
            da.total_cmp(&db)
        })
        .unwrap_or(0)
        * DECIMATE;
    let ncc = |lag: usize| -> f64 {
        let seg = &x[lag..lag + y.len()];
        let dot: f64 = seg.iter().zip(&y).map(|(a, b)| a * b).sum();
        let ex: f64 = seg.iter().map(|a| a * a).sum();
        let ey: f64 = y.iter().map(|b| b * b).sum();
        dot / (ex * ey).sqrt().max(1e-12)
    };
    let lo = coarse.saturating_sub(4 * DECIMATE);
    let hi = (coarse + 4 * DECIMATE).min(x.len() - y.len());
    (lo..=hi)
        .map(|lag| (ncc(lag), lag))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap_or((0.0, 0))
}

/// Window by window comparison of `reference` with `recorded`: the reference is cut into
/// windows of `window` samples; each window that is not silence (mean square at least 5 % of
/// the reference's) is looked for in `recorded` within ±`search` samples of where the previous
/// window was found (the first one around [`best_ncc`]'s lag), and its best normalised
/// cross-correlation is returned, in order.
///
/// A capture that loses or inserts a few milliseconds somewhere (a sound server under load
/// does) spoils one window and no more, where one whole-signal correlation would be spoiled
/// from the glitch on; a capture of something else, or at the wrong rate, spoils every window.
pub fn window_nccs(recorded: &[i16], reference: &[i16], window: usize, search: usize) -> Vec<f64> {
    let (_, lag) = best_ncc(recorded, reference);
    let x: Vec<f64> = recorded.iter().map(|&s| f64::from(s)).collect();
    let y: Vec<f64> = reference.iter().map(|&s| f64::from(s)).collect();
    let energy = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>();
    let mean_square = energy(&y) / y.len().max(1) as f64;
    let mut offset = lag as isize; // recorded index of reference index 0
    let mut out = Vec::new();
    for (i, w) in y.chunks_exact(window.max(1)).enumerate() {
        let start = i * window;
        let ew = energy(w);
        if ew / (window as f64) < 0.05 * mean_square {
            continue;
        }
        let expected = offset + start as isize;
        let lo = (expected - search as isize).max(0) as usize;
        let hi = (expected + search as isize).min(x.len() as isize - window as isize);
        if hi < lo as isize {
            out.push(0.0);
            continue;
        }
        let (best, at) = (lo..=hi as usize)
            .map(|p| {
                let seg = &x[p..p + window];
                let dot: f64 = seg.iter().zip(w).map(|(a, b)| a * b).sum();
                (dot / (energy(seg) * ew).sqrt().max(1e-12), p)
            })
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .unwrap_or((0.0, lo));
        if best >= 0.5 {
            offset = at as isize - start as isize;
        }
        out.push(best);
    }
    out
}

/// The share (0 to 1) of `values` that are at least `floor`; 0 for an empty slice.
pub fn share_at_least(values: &[f64], floor: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().filter(|&&v| v >= floor).count() as f64 / values.len() as f64
}

/// The `p`-quantile (0 to 1, nearest rank) of `sorted` (ascending); 0 for an empty slice.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p.clamp(0.0, 1.0)).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A multi-threaded tokio runtime for the bench binaries; prints `name: error` and exits 1 if it
/// cannot be built.
pub fn runtime_or_exit(name: &str) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| {
            eprintln!("{name}: cannot start the async runtime: {e}");
            std::process::exit(1)
        })
}
