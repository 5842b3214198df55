//! `audiomi record` and `audiomi listen`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use engine::audio::playback::PlaybackConfig;
use engine::config;
use engine::discovery::FoundServer;
use engine::receiver::{RecordConfig, RecordingHandle, Summary};
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::{ReceiveArgs, RecordArgs, settings, shutdown_signal, status_ticker};
use crate::fmt::{human_bytes, timestamp};

/// `audiomi record`.
pub(super) async fn record(args: RecordArgs) -> anyhow::Result<()> {
    let out = args.out.unwrap_or_else(default_file_name);
    let mode = Receive {
        out: Some(out),
        force: args.force,
        split: args.split,
        play: args.play,
        legacy: args.legacy,
    };
    receive(args.rx, mode).await
}

/// What `record` and `listen` differ in.
pub(super) struct Receive {
    /// The WAV file (`None`: listen only).
    pub(super) out: Option<PathBuf>,
    /// Overwrite `out` if it exists.
    pub(super) force: bool,
    /// One file per track.
    pub(super) split: bool,
    /// Play the stream live.
    pub(super) play: bool,
    /// Behave like the original client (no extensions).
    pub(super) legacy: bool,
}

/// The recording's configuration from the flags, `.env` and defaults; also the host, for the
/// feedback check.
fn record_config(
    args: &ReceiveArgs,
    mode: &Receive,
    found: Option<&FoundServer>,
) -> anyhow::Result<(RecordConfig, String)> {
    let settings = settings()?;
    let host = settings.host(args.net.host.as_deref(), config::DEFAULT_RECORD_HOST)?;
    let port = match (args.net.port, args.tls.default_port()) {
        (None, Some(tls_port)) => tls_port,
        (port, _) => settings.port(port)?,
    };
    // A server found by name: its address; TLS if asked for or if it has no plaintext port.
    let tls = args.tls.tls || found.is_some_and(|f| f.plain_port.is_none());
    let (addr, host) = match found.and_then(|f| f.connect_addr(tls).map(|a| (a, f))) {
        Some((addr, f)) => (
            addr,
            f.addresses
                .first()
                .map_or(f.host.clone(), ToString::to_string),
        ),
        None if found.is_some() => {
            return Err(super::usage(
                "the server found has no TLS port; record without --tls",
            ));
        }
        None => (config::socket_addr(&host, port), host),
    };
    let checkcode = settings.checkcode(args.net.checkcode)?;
    let duration = args
        .duration
        .map(|d| config::check_duration_secs("--duration", d))
        .transpose()?;
    let mut config = RecordConfig::new(addr, PathBuf::new());
    config.out.clone_from(&mode.out);
    config.checkcode = checkcode;
    config.overwrite = mode.force;
    config.split = mode.split;
    config.duration = duration;
    config.format = args
        .format
        .as_deref()
        .map(|f| engine::quality::AudioFormat::parse("--format", f))
        .transpose()?;
    config.reconnect = args.reconnect;
    config.connect_timeout = Duration::from_millis(args.connect_timeout_ms.max(1));
    config.extensions = !mode.legacy;
    config.name = args.name.clone().or_else(config::default_receiver_name);
    config.tls = args.tls.options(tls);
    Ok((config, host))
}

/// How to play (`--play`), warning when it could make a feedback loop.
fn playback_config(args: &ReceiveArgs, host: &str) -> PlaybackConfig {
    if config::feedback_risk(host, args.output_device.as_deref()) {
        tracing::warn!(
            "playing on this machine's default output while receiving from this machine: if the server captures that output's loopback, this makes a feedback loop (use --output-device)"
        );
    }
    PlaybackConfig {
        device: args.output_device.clone(),
        target: Duration::from_millis(args.jitter_ms.clamp(10, 2000)),
        ..Default::default()
    }
}

/// `audiomi record` and `audiomi listen`: receive until done, stopped or failed.
pub(super) async fn receive(args: ReceiveArgs, mode: Receive) -> anyhow::Result<()> {
    let found = match &args.find.server {
        Some(name) => Some(super::discover::find(name, args.find.mdns_interface.as_deref()).await?),
        None => None,
    };
    if let Some(f) = &found {
        info!(name = %f.name, addresses = ?f.addresses, "found the server over mDNS");
    }
    let (config, host) = record_config(&args, &mode, found.as_ref())?;
    let playback = mode.play.then(|| playback_config(&args, &host));
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
        // Samples of all channels: a frame holds one of each.
        let channels = u64::from(stats.channels.load(Ordering::Relaxed).max(1));
        let samples = stats.samples.load(Ordering::Relaxed) / channels;
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
    report(&handle, &finished.summary);
    match finished.error {
        Some(e) => Err(anyhow::Error::new(SharedError(e))),
        None => Ok(()),
    }
}

/// Logs the player's counters and prints what was saved.
fn report(handle: &RecordingHandle, s: &Summary) {
    if let Some((_, p)) = handle.player() {
        info!(
            underruns = p.underruns.load(Ordering::Relaxed),
            dropped_samples = p.dropped.load(Ordering::Relaxed),
            skips = p.skips.load(Ordering::Relaxed),
            buffered_ms = p.buffered_us.load(Ordering::Relaxed) as f64 / 1000.0,
            "playback finished"
        );
    }
    if let Some(path) = &s.path {
        let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if s.files > 1 {
            say!(
                "saved {} files (one per track), the last {}: {:.3} s in all ({} frames at {} Hz)",
                s.files,
                path.display(),
                s.seconds(),
                s.samples,
                s.sample_rate
            );
            return;
        }
        say!(
            "saved {}: {:.3} s ({} frames at {} Hz), {} bytes, {:.3} s of gaps filled",
            path.display(),
            s.seconds(),
            s.samples,
            s.sample_rate,
            bytes,
            s.gap_samples as f64 / f64::from(s.sample_rate.max(1))
        );
    }
}

/// An engine error shared by the recording's handles, with its causes.
#[derive(Debug)]
pub(super) struct SharedError(pub(super) Arc<engine::Error>);

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

/// `audiomi-YYYYMMDD-HHMMSS.wav` (UTC) in the current directory.
fn default_file_name() -> PathBuf {
    PathBuf::from(format!("audiomi-{}.wav", timestamp()))
}
