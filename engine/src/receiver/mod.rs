//! The recording receiver: connects, pings, writes the stream to a WAV file, reconnects.
//!
//! It opts in to the protocol extensions (EXT_HELLO, 8 bytes, ignored by the original server), so
//! against an audioMi server the WAV header always has the stream's real format and every missed
//! sample is known exactly; against a legacy server it records 16 kHz mono and measures gaps by the
//! wall clock.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use wire::StreamFormat;

use crate::audio::level::Level;
use crate::audio::playback::Player;
use crate::{Error, Result};
use session::Recorder;

/// First wait before reconnecting: 0.5 s (then doubling, see [`Backoff`]).
pub const MIN_RECONNECT_DELAY: Duration = Duration::from_millis(500);
/// Longest wait between reconnection attempts: 10 s.
pub const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(10);
/// A server that closes the connection without answering this many times in a row ends the
/// recording with [`Error::NotAudiomi`], even with reconnection on: 3.
pub const MAX_UNANSWERED_CLOSES: u32 = 3;

/// Exponential backoff between reconnection attempts: the step starts at [`MIN_RECONNECT_DELAY`]
/// and doubles after every wait up to [`MAX_RECONNECT_DELAY`]; each wait is drawn uniformly from
/// 75–100 % of the step (jitter, so the receivers of a restarted server do not all reconnect in
/// the same instant). [`Backoff::reset`] after a completed handshake.
#[derive(Debug, Clone)]
pub struct Backoff {
    step: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            step: MIN_RECONNECT_DELAY,
        }
    }
}

impl Backoff {
    /// The next wait (0.375–0.5 s the first time, at most 10 s ever); doubles the step.
    pub fn next_delay(&mut self) -> Duration {
        let wait = self.step.mul_f64(0.75 + 0.25 * fastrand::f64());
        self.step = (self.step * 2).min(MAX_RECONNECT_DELAY);
        wait
    }

    /// Back to the first step (the server answered).
    pub fn reset(&mut self) {
        self.step = MIN_RECONNECT_DELAY;
    }
}

/// How to record.
#[derive(Debug, Clone)]
pub struct RecordConfig {
    /// The server, as `host:port`.
    pub addr: String,
    /// The checkcode.
    pub checkcode: i32,
    /// The WAV file to write; `None` only listens (with a player) or counts.
    pub out: Option<PathBuf>,
    /// Overwrite `out` if it exists (otherwise that is an error before connecting).
    pub overwrite: bool,
    /// Stop after exactly this much audio (rounded to whole frames at the written rate).
    pub duration: Option<Duration>,
    /// Write this format instead of the stream's (`record --format 16000:1` from a hi-fi
    /// server): converted at the receiver with the source stage's channel mapping and
    /// libsamplerate converter. `None`: the stream's format.
    pub format: Option<crate::quality::AudioFormat>,
    /// One file per track (`record --split`): `NAME-01.wav`, `NAME-02.wav`, … from `out`'s
    /// name, the next one started where a NOW_PLAYING says a track starts.
    pub split: bool,
    /// Reconnect after losing the server (with [`Backoff`], until stopped) and fill the gap with
    /// silence. A server that closes without answering [`MAX_UNANSWERED_CLOSES`] times in a row
    /// still ends the recording ([`Error::NotAudiomi`]).
    pub reconnect: bool,
    /// How long one connection attempt may take.
    pub connect_timeout: Duration,
    /// How long to wait for the server's first frame (ACK, FORMAT or audio) after PING before
    /// giving up on the connection with [`Error::NoAnswer`]; default 5 s.
    pub answer_timeout: Duration,
    /// A connection to an audioMi server (one that answered the extension request, and so streams
    /// continuously, silence included) that delivers nothing for this long is treated as lost
    /// (a pulled cable or a vanished host sends no FIN). Legacy servers may pause while nothing
    /// plays, so they are never timed out. Checked once per second; default 5 s.
    pub stall_timeout: Duration,
    /// Ask for the protocol extensions (true unless emulating a legacy client).
    pub extensions: bool,
    /// The name this receiver gives the server (shown in its list of receivers); sent only to a
    /// server that announces it takes names ([`wire::FEATURE_CLIENT_NAME`]). `None` sends none.
    pub name: Option<String>,
    /// Connect with TLS (the server's TLS port), pinning its certificate and presenting the
    /// access key; `None`: plaintext.
    pub tls: Option<crate::secure::TlsClientOptions>,
}

impl RecordConfig {
    /// Checks, before anything is connected or opened, that the output file can be written, so a
    /// user learns of a wrong folder at once, not after connecting: a new file is created and
    /// removed again; an existing one (with `overwrite`) is opened for writing but not changed.
    /// [`record`] calls it first; callers that open other things before recording (a player)
    /// call it earlier too.
    ///
    /// # Errors
    /// [`Error::OutputIsDirectory`]; [`Error::FileExists`] if `out` exists and `overwrite` is
    /// false; [`Error::WavWrite`] if the folder is missing or not writable.
    pub fn check_output(&self) -> Result<()> {
        let Some(out) = &self.out else {
            return Ok(());
        };
        let write_err = |e: std::io::Error| Error::WavWrite {
            path: out.clone(),
            source: hound::Error::IoError(e),
        };
        if out.is_dir() {
            return Err(Error::OutputIsDirectory { path: out.clone() });
        }
        if out.exists() {
            if !self.overwrite {
                return Err(Error::FileExists { path: out.clone() });
            }
            return std::fs::OpenOptions::new()
                .write(true)
                .open(out)
                .map(drop)
                .map_err(write_err);
        }
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(out)
        {
            Ok(file) => {
                drop(file);
                std::fs::remove_file(out).map_err(write_err)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(Error::FileExists { path: out.clone() })
            }
            Err(e) => Err(write_err(e)),
        }
    }

    /// A configuration with defaults for everything but the address and the file.
    pub fn new(addr: impl Into<String>, out: impl Into<PathBuf>) -> Self {
        Self {
            addr: addr.into(),
            checkcode: wire::DEFAULT_CHECKCODE,
            out: Some(out.into()),
            overwrite: false,
            duration: None,
            format: None,
            split: false,
            reconnect: false,
            connect_timeout: Duration::from_secs(5),
            answer_timeout: Duration::from_secs(5),
            stall_timeout: Duration::from_secs(5),
            extensions: true,
            name: None,
            tls: None,
        }
    }
}

/// Something that happened while recording.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordEvent {
    /// Trying to connect (attempt 1 is the first).
    Connecting {
        /// Attempt number.
        attempt: u32,
    },
    /// Connected; PING sent.
    Connected {
        /// The server's address.
        addr: String,
    },
    /// The server answered PING.
    Acked {
        /// Round-trip time from sending PING to receiving ACK.
        rtt: Duration,
    },
    /// The server told the stream's format.
    Format(StreamFormat),
    /// The WAV file was created.
    FileCreated {
        /// Its path.
        path: PathBuf,
    },
    /// Silence was written for audio that was missed.
    Gap {
        /// Samples of silence written.
        samples: u64,
        /// The same in seconds.
        seconds: f64,
        /// Why (reconnect, discontinuity).
        reason: String,
    },
    /// A chat message arrived (from a server that relays chat).
    Text {
        /// The sender's name.
        from: String,
        /// The message.
        text: String,
    },
    /// A new track started (a playlist server's NOW_PLAYING); the recording marks it with a
    /// cue point (or, with `split`, starts the next file there).
    NowPlaying {
        /// The title.
        title: String,
        /// The artist; empty when unknown.
        artist: String,
    },
    /// The connection was lost.
    Lost {
        /// What happened.
        reason: String,
    },
    /// An attempt failed and another follows (`reconnect`): why, so that a window can show the
    /// reason beside the field it concerns while it retries.
    Retrying {
        /// The attempt that failed (1 is the first).
        attempt: u32,
        /// How long until the next attempt.
        retry_in: Duration,
        /// Why it failed.
        error: crate::error::Failure,
    },
}

/// Live counters, readable from any thread.
#[derive(Debug, Default)]
pub struct RecordStats {
    /// Samples written to the file (silence included).
    pub samples: AtomicU64,
    /// Audio payload bytes received from the network.
    pub bytes_received: AtomicU64,
    /// Samples of silence written for gaps.
    pub gap_samples: AtomicU64,
    /// Stream sample rate in Hz (0 until known).
    pub sample_rate: AtomicU32,
    /// Channels of the stream (0 until known).
    pub channels: AtomicU32,
    level: crate::audio::level::LevelCell,
}

impl RecordStats {
    /// RMS level of the latest audio frame in dBFS ([`crate::audio::level::SILENCE_FLOOR_DBFS`] before
    /// any audio arrived).
    pub fn rms_dbfs(&self) -> f32 {
        self.level.load().rms_dbfs
    }

    /// Peak level (largest absolute sample) of the latest audio frame in dBFS
    /// ([`crate::audio::level::SILENCE_FLOOR_DBFS`] before any audio arrived).
    pub fn peak_dbfs(&self) -> f32 {
        self.level.load().peak_dbfs
    }

    /// RMS and peak of the latest audio frame.
    pub fn level(&self) -> Level {
        self.level.load()
    }

    fn store_level(&self, level: Level) {
        self.level.store(level);
    }
}

/// What a recording produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// The file (None if no file was created); with `split`, the last one.
    pub path: Option<PathBuf>,
    /// Files written: 1, or with `split` one per track (0 if none was created).
    pub files: usize,
    /// Samples per channel written (all files together).
    pub samples: u64,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Samples of silence written for gaps.
    pub gap_samples: u64,
    /// Audio payload bytes received from the network.
    pub bytes_received: u64,
}

impl Summary {
    /// Length of the recording in seconds.
    pub fn seconds(&self) -> f64 {
        if self.sample_rate == 0 {
            0.0
        } else {
            self.samples as f64 / f64::from(self.sample_rate)
        }
    }
}

/// How a recording ended: always a summary of what is in the file, plus the error that ended it
/// if it did not end as asked (duration reached or stopped).
#[derive(Debug)]
pub struct Outcome {
    /// What was recorded.
    pub summary: Summary,
    /// `Ok` if it ended as asked.
    pub result: Result<()>,
}

pub mod convert;
mod gaps;
mod handle;
mod output;
mod session;
mod tracks;
pub(crate) use session::codec_err;
mod sink;

pub use gaps::{Arrival, Verdict, verdict};
pub use handle::{EVENT_HISTORY, Finished, RecordingHandle};
pub use sink::{FrameSink, PlayerSink};

/// Records until the duration is reached, `shutdown` is cancelled, or (without reconnecting) the
/// connection ends. The file is valid whatever happens; see [`Outcome`]. Every audio frame is
/// also fed to `player`, if any (live listening). A recording that received no audio at all
/// leaves no file and ends with [`Error::NothingReceived`] (or the error that kept audio away).
pub async fn record(
    config: RecordConfig,
    stats: Arc<RecordStats>,
    events: Option<mpsc::UnboundedSender<RecordEvent>>,
    player: Option<Arc<Player>>,
    shutdown: CancellationToken,
) -> Outcome {
    record_with(Recorder::new(config, stats, events, player), shutdown).await
}

/// As [`record`], also sending the lines of `say` to the chat (see [`RecordingHandle::say`]).
pub(crate) async fn record_saying(
    config: RecordConfig,
    stats: Arc<RecordStats>,
    events: Option<mpsc::UnboundedSender<RecordEvent>>,
    player: Option<Arc<Player>>,
    shutdown: CancellationToken,
    say: mpsc::UnboundedReceiver<String>,
) -> Outcome {
    let rec = Recorder::new(config, stats, events, player).with_say(say);
    record_with(rec, shutdown).await
}

async fn record_with(mut rec: Recorder, shutdown: CancellationToken) -> Outcome {
    let result = rec.run(&shutdown).await;
    let finished = rec.finish();
    let result = match (result, finished) {
        (Err(e), _) | (Ok(()), Err(e)) => Err(e),
        (Ok(()), Ok(())) if !rec.received_audio() => Err(Error::NothingReceived {
            addr: rec.addr().to_string(),
        }),
        (Ok(()), Ok(())) => Ok(()),
    };
    Outcome {
        summary: rec.summary(),
        result,
    }
}

/// Errors that retrying cannot mend: they end a recording even with reconnection on.
fn is_fatal(e: &Error) -> bool {
    matches!(
        e,
        Error::Protocol { .. }
            | Error::AckStatus { .. }
            | Error::BadFormat { .. }
            | Error::WavWrite { .. }
            | Error::FormatChanged { .. }
            | Error::FileExists { .. }
            | Error::OutputIsDirectory { .. }
            | Error::Tls { .. }
            | Error::TlsPort { .. }
            | Error::WrongKey { .. }
            | Error::KeyRequired { .. }
            | Error::FingerprintMismatch { .. }
            | Error::CertificateChanged { .. }
            | Error::Identity { .. }
            | Error::NoChat { .. }
    )
}
