//! The command-line interface.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use engine::audio::sources::SourceSpec;
use engine::config::{self, Settings};
use engine::pipeline::PipelineConfig;
use engine::receiver::{RecordConfig, RecordingHandle};
use engine::server::{ServeSettings, ServerConfig};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::fmt::{human_bytes, timestamp};

/// What `--help` says about the program.
const ABOUT: &str = "Capture what this PC plays and stream it to any number of receivers over TCP, \
or receive such a stream and record it to a WAV file.\n\n\
Without a subcommand, `audiomi` opens the window (Server and Receiver tabs).";

/// What `--help` says after the options: the exit codes.
const EXIT_CODES: &str = "Exit codes: 0 success; 1 runtime failure (cannot connect, \
connection lost, device or disk error, nothing received); 2 invalid argument or configuration \
value (flag, environment variable or .env).";

/// Capture what this PC plays and stream it to any number of receivers over TCP, or receive such a
/// stream and record it to a WAV file. Without a subcommand, opens the window.
#[derive(Debug, Parser)]
#[command(name = "audiomi", version, about = ABOUT, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do (none: open the GUI).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Capture a source and stream it to every receiver that connects.
    Serve(ServeArgs),
    /// Connect to a server and record its stream to a WAV file (--play also plays it).
    Record(RecordArgs),
    /// Connect to a server and play its stream live (no file).
    Listen(ListenArgs),
    /// List capture sources (loopback first, then microphones) with the ids --source accepts.
    Devices(DevicesArgs),
}

/// `audiomi devices`.
#[derive(Debug, Args)]
pub struct DevicesArgs {
    /// Print JSON (an array of objects) instead of a table.
    #[arg(long)]
    json: bool,
    /// List playback devices (for --output-device) instead of capture sources.
    #[arg(long)]
    outputs: bool,
}

/// Network options shared by `serve` and `record`.
#[derive(Debug, Args)]
pub struct NetArgs {
    /// Host to listen on (serve, default 0.0.0.0) or connect to (record, default localhost).
    /// Also from $HOST or HOST in .env.
    #[arg(long)]
    pub host: Option<String>,
    /// TCP port [default: 26070; also from $PORT or PORT in .env].
    #[arg(long)]
    pub port: Option<u16>,
    /// Protocol checkcode [default: 20250918; also from $CHECKCODE or CHECKCODE in .env].
    #[arg(long, allow_negative_numbers = true)]
    pub checkcode: Option<i32>,
}

/// `audiomi serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    net: NetArgs,
    /// loopback, loopback:ID, mic, mic:ID, file:PATH (a WAV file, in real time) or tone:HZ.
    #[arg(long, default_value = "loopback")]
    source: String,
    /// Repeat a file: source forever.
    #[arg(long = "loop")]
    looping: bool,
    /// Stream sample rate in Hz.
    #[arg(long, default_value_t = 16_000)]
    rate: u32,
    /// Chunk duration in milliseconds (latency vs. overhead).
    #[arg(long, default_value_t = 20)]
    chunk_ms: u64,
    /// Most receivers served at once; more are refused.
    #[arg(long, default_value_t = 10_000)]
    max_clients: usize,
    /// Disconnect a receiver more than this many milliseconds of audio behind.
    #[arg(long, default_value_t = 2000)]
    max_lag_ms: u64,
    /// Hold audio back from a new connection until it pings, or this many milliseconds.
    #[arg(long, default_value_t = 250)]
    grace_ms: u64,
    /// Socket writes per second for the whole audience; above it, consecutive chunks are joined
    /// into one write per receiver (fewer system calls, up to 7 chunks more latency). 0: never.
    #[arg(long, default_value_t = engine::server::DEFAULT_WRITES_PER_SEC)]
    writes_per_sec: u32,
}

/// Options shared by `record` and `listen`.
#[derive(Debug, Args)]
pub struct ReceiveArgs {
    #[command(flatten)]
    net: NetArgs,
    /// Stop after this many seconds of audio (exactly, to the sample).
    #[arg(long)]
    duration: Option<f64>,
    /// Keep reconnecting when the server goes away; fill the gap with silence.
    #[arg(long)]
    reconnect: bool,
    /// Connection timeout in milliseconds.
    #[arg(long, default_value_t = 5000)]
    connect_timeout_ms: u64,
    /// Play on this output device (an id from `audiomi devices --outputs`) [default: the default output].
    #[arg(long)]
    output_device: Option<String>,
    /// Jitter buffer for live playback, in milliseconds.
    #[arg(long, default_value_t = 60)]
    jitter_ms: u64,
    /// Name shown in the server's list of receivers [default: this computer's host name].
    #[arg(long)]
    name: Option<String>,
}

/// `audiomi record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    #[command(flatten)]
    rx: ReceiveArgs,
    /// WAV file to write [default: audiomi-YYYYMMDD-HHMMSS.wav in the current directory].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Overwrite the output file if it exists.
    #[arg(long)]
    force: bool,
    /// Also play the stream live while recording.
    #[arg(long)]
    play: bool,
    /// Behave like the original client: no protocol extensions (records 16 kHz mono).
    #[arg(long, hide = true)]
    legacy: bool,
}

/// `audiomi listen`.
#[derive(Debug, Args)]
pub struct ListenArgs {
    #[command(flatten)]
    rx: ReceiveArgs,
}

/// A configuration error: reported with exit code 2.
#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for UsageError {}

fn usage(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(UsageError(e.to_string()))
}

/// Runs a subcommand and returns the process's exit code: 0 success, 1 failure, 2 invalid
/// configuration.
pub fn main(command: Command) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("audiomi-net")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("audiomi: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match command {
        Command::Serve(args) => runtime.block_on(serve(args)),
        Command::Record(args) => runtime.block_on(record(args)),
        Command::Listen(args) => runtime.block_on(receive(
            args.rx,
            Receive {
                out: None,
                force: false,
                play: true,
                legacy: false,
            },
        )),
        Command::Devices(args) => devices(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = if e.downcast_ref::<UsageError>().is_some()
                || matches!(
                    e.downcast_ref::<engine::Error>(),
                    Some(engine::Error::Config { .. } | engine::Error::DotEnv { .. })
                ) {
                2
            } else {
                1
            };
            eprintln!("audiomi: {}", describe(&e));
            ExitCode::from(code)
        }
    }
}

/// The error and those of its causes whose text it does not already include, joined by ": ",
/// on one line (line breaks inside a cause, e.g. a quoted `.env` line, become spaces).
pub fn describe(e: &anyhow::Error) -> String {
    let one_line = |s: String| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut message = one_line(e.to_string());
    for cause in e.chain().skip(1) {
        let c = one_line(cause.to_string());
        if !message.contains(&c) {
            message = format!("{message}: {c}");
        }
    }
    message
}

fn settings() -> anyhow::Result<Settings> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    Ok(Settings::from_process(&cwd)?)
}

/// Resolves after Ctrl+C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Calls `line` once a second while `token` is not cancelled, if stderr is a terminal.
fn status_ticker(token: CancellationToken, mut line: impl FnMut() -> String + Send + 'static) {
    if !std::io::stderr().is_terminal() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        loop {
            tokio::select! {
                () = token.cancelled() => break,
                _ = tick.tick() => eprintln!("{}", line()),
            }
        }
    });
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let settings = settings()?;
    let host = settings.host(args.net.host.as_deref(), config::DEFAULT_SERVE_HOST)?;
    let port = settings.port(args.net.port)?;
    let checkcode = settings.checkcode(args.net.checkcode)?;
    let spec: SourceSpec = args.source.parse().map_err(usage)?;
    let rate = config::check_rate("--rate", args.rate)?;
    let chunk = config::check_chunk_ms("--chunk-ms", args.chunk_ms)?;
    let max_clients = config::check_max_clients("--max-clients", args.max_clients)?;
    let max_lag = config::check_max_lag_ms("--max-lag-ms", args.max_lag_ms, args.chunk_ms)?;
    let server = ServeSettings {
        looping: args.looping,
        pipeline: PipelineConfig {
            rate,
            chunk,
            ..PipelineConfig::default()
        },
        server: ServerConfig {
            checkcode,
            max_clients,
            max_lag,
            grace: Duration::from_millis(args.grace_ms),
            writes_per_sec: args.writes_per_sec,
            ..ServerConfig::default()
        },
        ..ServeSettings::new(host, port, spec.clone())
    }
    .start()
    .await?;
    info!(addr = %server.local_addr(), source = %spec, rate = args.rate, chunk_ms = args.chunk_ms, "serving");
    let token = server.shutdown_token();
    let hub = server.hub().clone();
    status_ticker(token.clone(), move || {
        let s = hub.stats();
        let level = s.level();
        format!(
            "clients {} | level {:6.1} dBFS (peak {:6.1}) | {} sent",
            s.clients.load(Ordering::Relaxed),
            level.rms_dbfs,
            level.peak_dbfs,
            human_bytes(s.bytes_queued.load(Ordering::Relaxed))
        )
    });
    tokio::spawn(async move {
        shutdown_signal().await;
        info!("stopping");
        token.cancel();
    });
    server.wait().await?;
    info!("stopped");
    Ok(())
}

async fn record(args: RecordArgs) -> anyhow::Result<()> {
    let out = args.out.unwrap_or_else(default_file_name);
    let mode = Receive {
        out: Some(out),
        force: args.force,
        play: args.play,
        legacy: args.legacy,
    };
    receive(args.rx, mode).await
}

/// What `record` and `listen` differ in.
struct Receive {
    /// The WAV file (`None`: listen only).
    out: Option<PathBuf>,
    /// Overwrite `out` if it exists.
    force: bool,
    /// Play the stream live.
    play: bool,
    /// Behave like the original client (no extensions).
    legacy: bool,
}

async fn receive(args: ReceiveArgs, mode: Receive) -> anyhow::Result<()> {
    let Receive {
        out,
        force,
        play,
        legacy,
    } = mode;
    let settings = settings()?;
    let host = settings.host(args.net.host.as_deref(), config::DEFAULT_RECORD_HOST)?;
    let port = settings.port(args.net.port)?;
    let checkcode = settings.checkcode(args.net.checkcode)?;
    let duration = args
        .duration
        .map(|d| config::check_duration_secs("--duration", d))
        .transpose()?;
    let mut config = RecordConfig::new(config::socket_addr(&host, port), PathBuf::new());
    config.out = out;
    config.checkcode = checkcode;
    config.overwrite = force;
    config.duration = duration;
    config.reconnect = args.reconnect;
    config.connect_timeout = Duration::from_millis(args.connect_timeout_ms.max(1));
    config.extensions = !legacy;
    config.name = args.name.clone().or_else(config::default_receiver_name);
    let playback = play.then(|| {
        if config::feedback_risk(&host, args.output_device.as_deref()) {
            tracing::warn!(
                "playing on this machine's default output while receiving from this machine: if the server captures that output's loopback, this makes a feedback loop (use --output-device)"
            );
        }
        engine::audio::playback::PlaybackConfig {
            device: args.output_device.clone(),
            target: Duration::from_millis(args.jitter_ms.clamp(10, 2000)),
            ..Default::default()
        }
    });
    // Checks the file before anything is connected or opened, then opens the player.
    let handle = RecordingHandle::start(config, playback).await?;
    if let Some((device, _)) = handle.player() {
        info!(%device, "listening");
    }
    let ticker = CancellationToken::new();
    let started = Instant::now();
    let stats = handle.stats().clone();
    status_ticker(ticker.clone(), move || {
        let rate = stats.sample_rate.load(Ordering::Relaxed).max(1);
        let samples = stats.samples.load(Ordering::Relaxed);
        format!(
            "elapsed {:.1} s | recorded {:.1} s | {} received | level {:6.1} dBFS",
            started.elapsed().as_secs_f64(),
            samples as f64 / f64::from(rate),
            human_bytes(stats.bytes_received.load(Ordering::Relaxed)),
            stats.rms_dbfs()
        )
    });
    let stop = handle.stop_token();
    tokio::spawn(async move {
        shutdown_signal().await;
        stop.cancel();
    });
    let finished = handle.finished().await;
    ticker.cancel();
    if let Some((_, p)) = handle.player() {
        info!(
            underruns = p.underruns.load(Ordering::Relaxed),
            dropped_samples = p.dropped.load(Ordering::Relaxed),
            "playback finished"
        );
    }
    let s = &finished.summary;
    if let Some(path) = &s.path {
        let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        eprintln!(
            "saved {}: {:.3} s ({} samples at {} Hz), {} bytes, {:.3} s of gaps filled",
            path.display(),
            s.seconds(),
            s.samples,
            s.sample_rate,
            bytes,
            s.gap_samples as f64 / f64::from(s.sample_rate.max(1))
        );
    }
    match finished.error {
        Some(e) => Err(anyhow::Error::new(SharedError(e))),
        None => Ok(()),
    }
}

/// An engine error shared by the recording's handles, with its causes.
#[derive(Debug)]
struct SharedError(Arc<engine::Error>);

impl std::fmt::Display for SharedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SharedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.0)
    }
}

#[derive(serde::Serialize)]
struct DeviceRow<'a> {
    kind: &'a str,
    id: &'a str,
    spec: String,
    name: &'a str,
    default: bool,
    sample_rate: u32,
    channels: u16,
}

fn devices(args: &DevicesArgs) -> anyhow::Result<()> {
    if !engine::audio::devices::sound_server_running() {
        eprintln!(
            "No PulseAudio or PipeWire server is running, so loopback (capturing what this PC plays) is unavailable; {} through plain ALSA.",
            if args.outputs {
                "outputs are listed"
            } else {
                "microphones are listed"
            }
        );
    }
    let list = if args.outputs {
        engine::audio::devices::list_outputs()?
    } else {
        engine::audio::devices::list_sources()?
    };
    let rows: Vec<DeviceRow<'_>> = list
        .iter()
        .map(|d| DeviceRow {
            kind: d.kind.as_str(),
            id: &d.id,
            spec: d.spec(),
            name: &d.name,
            default: d.is_default,
            sample_rate: d.sample_rate,
            channels: d.channels,
        })
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        eprintln!("no usable devices found");
        return Ok(());
    }
    // What the id column holds is what the matching option takes.
    let id_label = if args.outputs {
        "OUTPUT-DEVICE"
    } else {
        "SOURCE"
    };
    let width = rows
        .iter()
        .map(|r| r.spec.len())
        .max()
        .unwrap_or(0)
        .max(id_label.len());
    println!(
        "{:<8}  {:<7}  {:>6}  {:>2}  {:<width$}  NAME",
        "KIND", "DEFAULT", "RATE", "CH", id_label
    );
    for r in &rows {
        println!(
            "{:<8}  {:<7}  {:>6}  {:>2}  {:<width$}  {}",
            r.kind,
            if r.default { "*" } else { "" },
            r.sample_rate,
            r.channels,
            r.spec,
            r.name
        );
    }
    Ok(())
}

/// `audiomi-YYYYMMDD-HHMMSS.wav` (UTC) in the current directory.
fn default_file_name() -> PathBuf {
    PathBuf::from(format!("audiomi-{}.wav", timestamp()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_parses_the_documented_surface() {
        let cli = Cli::try_parse_from([
            "audiomi",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "1234",
            "--checkcode",
            "-5",
            "--source",
            "tone:440",
            "--rate",
            "16000",
            "--chunk-ms",
            "10",
            "--max-clients",
            "3",
            "--max-lag-ms",
            "500",
        ])
        .expect("serve parses");
        assert!(
            matches!(cli.command, Some(Command::Serve(ref a)) if a.net.checkcode == Some(-5) && a.chunk_ms == 10)
        );
        let cli = Cli::try_parse_from([
            "audiomi",
            "record",
            "--out",
            "x.wav",
            "--duration",
            "5",
            "--reconnect",
            "--force",
        ])
        .expect("record parses");
        assert!(
            matches!(cli.command, Some(Command::Record(ref a)) if a.rx.reconnect && a.force && a.rx.duration == Some(5.0))
        );
        assert!(Cli::try_parse_from(["audiomi", "serve", "--port", "70000"]).is_err());
    }
}
