//! The command-line interface.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use engine::audio::sources::SourceSpec;
use engine::config::{self, Settings};
use engine::pipeline::PipelineConfig;
use engine::server::ServerConfig;
use engine::station::ServeSettings;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::fmt::human_bytes;

mod chat;
mod devices;
mod discover;
mod icecast;
mod private;
mod receive;
mod rtp;
mod serve;
mod web;

use devices::devices;
use receive::{Receive, receive, record};
use serve::serve;

/// What `--help` says about the program.
const ABOUT: &str = "Capture what this PC plays and stream it to any number of receivers over TCP, \
or receive such a stream and record it to a WAV file.\n\n\
Without a subcommand, `audiomi` opens the window (Server and Receiver tabs).";

/// What `--help` says after the options: the exit codes.
const EXIT_CODES: &str = "Exit codes: 0 success; 1 runtime failure (cannot connect, \
connection lost, device or disk error, nothing received); 2 invalid argument or configuration \
value (flag, environment variable or .env); 3 access key refused or missing; 4 certificate does \
not match --fingerprint; 5 certificate changed since first use; 6 TLS and plaintext mixed up \
(or the TLS handshake failed).";

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
    /// List the audioMi servers announced on the network (mDNS).
    Discover(discover::DiscoverArgs),
    /// Chat with a server's receivers: sends each line of stdin, prints `name: text`.
    Chat(chat::ChatArgs),
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

/// Where a receiver (`record`, `listen`, `chat`) connects.
#[derive(Debug, Args)]
pub struct NetArgs {
    /// Host of the server to connect to [default: localhost; also from $HOST or HOST in .env].
    #[arg(long)]
    pub host: Option<String>,
    /// TCP port of the server [default: 26070, 26071 with --tls; also from $PORT or PORT in
    /// .env].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// Protocol checkcode [default: 20250918; also from $CHECKCODE or CHECKCODE in .env].
    #[arg(long, allow_negative_numbers = true)]
    pub checkcode: Option<i32>,
}

/// Where `serve` listens.
#[derive(Debug, Args)]
pub struct ServeNetArgs {
    /// Address to listen on [default: 0.0.0.0, every interface; also from $HOST or HOST in
    /// .env].
    #[arg(long)]
    pub host: Option<String>,
    /// TCP port for receivers [default: 26070; also from $PORT or PORT in .env].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// Protocol checkcode [default: 20250918; also from $CHECKCODE or CHECKCODE in .env].
    #[arg(long, allow_negative_numbers = true)]
    pub checkcode: Option<i32>,
}

/// A number of seconds above zero, for `--duration` (one line naming the rule otherwise).
fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 => Ok(s),
        Ok(_) => Err(format!(
            "{text} is not a duration: give a number of seconds above 0"
        )),
        Err(_) => Err(format!("{text} is not a number of seconds")),
    }
}

/// A whole number of milliseconds, 0 or more (one line naming the rule otherwise).
fn milliseconds(text: &str) -> Result<u64, String> {
    match text.trim().parse::<i64>() {
        Ok(ms) if ms >= 0 => Ok(ms as u64),
        Ok(_) => Err(format!("{text} is negative: give 0 or more milliseconds")),
        Err(_) => Err(format!("{text} is not a whole number of milliseconds")),
    }
}

/// `audiomi serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    net: ServeNetArgs,
    /// loopback, loopback:ID, mic, mic:ID, file:PATH (WAV, FLAC, MP3, Ogg/Vorbis, in real
    /// time), folder:DIR (every audio file in it, gapless, announcing each track) or tone:HZ.
    #[arg(long, default_value = "loopback")]
    source: String,
    /// Repeat a file: or folder: source forever.
    #[arg(long = "loop")]
    looping: bool,
    /// Play a folder: source in random order (reshuffled at each loop).
    #[arg(long)]
    shuffle: bool,
    /// Stream format RATE:CHANNELS: 16000:1 (speech, the original's), 48000:2 (music),
    /// 44100:2, 48000:1. Receivers that never asked for extensions get 16 kHz mono whatever
    /// this is. [env: FORMAT] [default: 16000:1]
    #[arg(long, value_name = "RATE:CHANNELS")]
    format: Option<String>,
    /// Chunk duration in milliseconds (latency vs. overhead).
    #[arg(long, default_value_t = 20, allow_negative_numbers = true, value_parser = milliseconds)]
    chunk_ms: u64,
    /// Most receivers served at once; more are refused.
    #[arg(long, default_value_t = 10_000)]
    max_clients: usize,
    /// Disconnect a receiver more than this many milliseconds of audio behind.
    #[arg(long, default_value_t = 2000, allow_negative_numbers = true, value_parser = milliseconds)]
    max_lag_ms: u64,
    /// Hold audio back from a new connection until it pings, or this many milliseconds.
    #[arg(long, default_value_t = 250, allow_negative_numbers = true, value_parser = milliseconds)]
    grace_ms: u64,
    /// Socket writes per second for the whole audience; above it, consecutive chunks are joined
    /// into one write per receiver (fewer system calls, up to 7 chunks more latency). 0: never.
    #[arg(long, default_value_t = engine::server::DEFAULT_WRITES_PER_SEC)]
    writes_per_sec: u32,
    #[command(flatten)]
    web: web::WebArgs,
    /// This server's name: announced over mDNS, shown by Icecast (Ice-Name), in the RTP SDP
    /// file and as the web page's heading [default: the host name and port, e.g. studio:26070].
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    icecast: icecast::IcecastArgs,
    #[command(flatten)]
    rtp: rtp::RtpArgs,
    #[command(flatten)]
    tls: private::ServeTlsArgs,
    #[command(flatten)]
    announce: discover::AnnounceArgs,
}

/// Options shared by `record` and `listen`.
#[derive(Debug, Args)]
pub struct ReceiveArgs {
    #[command(flatten)]
    net: NetArgs,
    /// Stop after this many seconds of audio (exactly, to the sample).
    #[arg(long, allow_negative_numbers = true, value_parser = positive_seconds)]
    duration: Option<f64>,
    /// Convert the stream to this format RATE:CHANNELS here, at the receiver (e.g. 16000:1
    /// from a 48000:2 server) [default: the stream's format].
    #[arg(long, value_name = "RATE:CHANNELS")]
    format: Option<String>,
    /// Keep reconnecting when the server goes away; fill the gap with silence.
    #[arg(long)]
    reconnect: bool,
    /// Connection timeout in milliseconds.
    #[arg(long, default_value_t = 5000, allow_negative_numbers = true, value_parser = milliseconds)]
    connect_timeout_ms: u64,
    /// Play on this output device (an id from `audiomi devices --outputs`) [default: the default output].
    #[arg(long)]
    output_device: Option<String>,
    /// Jitter buffer for live playback, in milliseconds.
    #[arg(long, default_value_t = 60, allow_negative_numbers = true, value_parser = milliseconds)]
    jitter_ms: u64,
    /// Name shown in the server's list of receivers [default: this computer's host name].
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    tls: private::ReceiveTlsArgs,
    #[command(flatten)]
    find: discover::FindArgs,
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
    /// One file per track from a playlist server: NAME-01.wav, NAME-02.wav, … (each starts
    /// with a cue point labelled with the track).
    #[arg(long)]
    split: bool,
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
            say!("audiomi: cannot start the async runtime: {e}");
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
                split: false,
                play: true,
                legacy: false,
            },
        )),
        Command::Devices(args) => devices(&args),
        Command::Discover(args) => runtime.block_on(discover::discover(args)),
        Command::Chat(args) => runtime.block_on(chat::chat(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let engine_error = e
                .downcast_ref::<engine::Error>()
                .or_else(|| e.downcast_ref::<receive::SharedError>().map(|s| &*s.0));
            let code = if let Some(code) = engine_error.and_then(private::exit_code) {
                code
            } else if e.downcast_ref::<UsageError>().is_some()
                || matches!(
                    e.downcast_ref::<engine::Error>(),
                    Some(engine::Error::Config { .. } | engine::Error::DotEnv { .. })
                )
            {
                2
            } else {
                1
            };
            say!("audiomi: {}", describe(&e));
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
                _ = tick.tick() => say!("{}", line()),
            }
        }
    });
}

#[cfg(test)]
mod tests;
