//! The recording receiver: connects, pings, writes the stream to a WAV file, reconnects.
//!
//! It opts in to the protocol extensions (EXT_HELLO, 8 bytes, ignored by the original server), so
//! against an audioMi server the WAV header always has the stream's real format and every missed
//! sample is known exactly; against a legacy server it records 16 kHz mono and measures gaps by the
//! wall clock.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use wire::{ClientFrame, ServerFrame, StreamFormat};

use crate::codec::{ClientSide, CodecError};
use crate::dsp::Level;
use crate::playback::Player;
use crate::wav::{FLUSH_INTERVAL, WavSink};
use crate::{Error, Result};

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
    /// Stop after exactly this much audio (rounded to whole samples at the stream's rate).
    pub duration: Option<Duration>,
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
            reconnect: false,
            connect_timeout: Duration::from_secs(5),
            answer_timeout: Duration::from_secs(5),
            stall_timeout: Duration::from_secs(5),
            extensions: true,
            name: None,
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
    /// The connection was lost.
    Lost {
        /// What happened.
        reason: String,
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
    level: crate::dsp::LevelCell,
}

impl RecordStats {
    /// RMS level of the latest audio frame in dBFS ([`crate::dsp::SILENCE_FLOOR_DBFS`] before
    /// any audio arrived).
    pub fn rms_dbfs(&self) -> f32 {
        self.level.load().rms_dbfs
    }

    /// Peak level (largest absolute sample) of the latest audio frame in dBFS
    /// ([`crate::dsp::SILENCE_FLOOR_DBFS`] before any audio arrived).
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
    /// The file (None if no file was created).
    pub path: Option<PathBuf>,
    /// Samples per channel written.
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

struct Recorder {
    config: RecordConfig,
    stats: Arc<RecordStats>,
    events: Option<mpsc::UnboundedSender<RecordEvent>>,
    /// Set once the stream's format is known and audio arrives.
    output: Option<Output>,
    limit: Option<u64>,
    player: Option<Arc<Player>>,
    /// Format from the current connection (if the server told it).
    format: Option<StreamFormat>,
    /// Where the next sample should be, for the stream it belongs to (extensions only).
    expected: Option<(u32, u64)>,
    /// Set when a connection was lost: when the last audio arrived.
    lost_at: Option<Instant>,
    last_audio_at: Option<Instant>,
    /// Whether the server of the current connection answered (ACK, FORMAT or audio).
    answered: bool,
}

/// Where received audio goes once its format is known.
struct Output {
    sample_rate: u32,
    channels: u16,
    file: Option<WavSink>,
    /// Samples written or counted, all channels.
    written: u64,
}

enum Step {
    Continue,
    Done,
}

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
    let mut rec = Recorder {
        config,
        stats,
        events,
        output: None,
        limit: None,
        player,
        format: None,
        expected: None,
        lost_at: None,
        last_audio_at: None,
        answered: false,
    };
    let result = rec.run(&shutdown).await;
    let finished = rec.finish();
    let result = match (result, finished) {
        (Err(e), _) | (Ok(()), Err(e)) => Err(e),
        (Ok(()), Ok(())) if rec.output.is_none() => Err(Error::NothingReceived {
            addr: rec.config.addr.clone(),
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
    )
}

impl Recorder {
    fn emit(&self, e: RecordEvent) {
        if let Some(tx) = &self.events {
            let _ = tx.send(e);
        }
    }

    fn summary(&self) -> Summary {
        let out = self.output.as_ref();
        Summary {
            path: out
                .and_then(|o| o.file.as_ref())
                .map(|f| f.path().to_path_buf()),
            samples: out.map_or(0, |o| o.written / u64::from(o.channels.max(1))),
            sample_rate: out.map_or(0, |o| o.sample_rate),
            gap_samples: self.stats.gap_samples.load(Ordering::Relaxed),
            bytes_received: self.stats.bytes_received.load(Ordering::Relaxed),
        }
    }

    /// Finalizes the file, if audio arrived (the file is created with the first audio frame, so
    /// a recording that received nothing leaves none).
    fn finish(&mut self) -> Result<()> {
        match self.output.as_mut().and_then(|o| o.file.as_mut()) {
            Some(f) => f.finalize(),
            None => Ok(()),
        }
    }

    fn open_output(&mut self, format: StreamFormat) -> Result<()> {
        let file = match &self.config.out {
            Some(path) => {
                let file = WavSink::create(
                    path,
                    format.sample_rate,
                    format.channels,
                    self.config.overwrite,
                )?;
                self.emit(RecordEvent::FileCreated { path: path.clone() });
                info!(path = %path.display(), rate = format.sample_rate, channels = format.channels, "recording");
                Some(file)
            }
            None => None,
        };
        self.limit = self.config.duration.map(|d| {
            (d.as_secs_f64() * f64::from(format.sample_rate)).round() as u64
                * u64::from(format.channels)
        });
        self.stats
            .sample_rate
            .store(format.sample_rate, Ordering::Relaxed);
        self.stats
            .channels
            .store(u32::from(format.channels), Ordering::Relaxed);
        self.output = Some(Output {
            sample_rate: format.sample_rate,
            channels: format.channels,
            file,
            written: 0,
        });
        Ok(())
    }

    /// Connects, records, and (with `reconnect`) retries with [`Backoff`] until done.
    async fn run(&mut self, shutdown: &CancellationToken) -> Result<()> {
        self.config.check_output()?;
        let mut attempt = 0u32;
        let mut backoff = Backoff::default();
        let mut unanswered = 0u32;
        loop {
            attempt += 1;
            self.emit(RecordEvent::Connecting { attempt });
            let ended = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                r = self.connect_and_record(shutdown) => r,
            };
            let e = match ended {
                Ok(Step::Done) => return Ok(()),
                Ok(Step::Continue) => continue,
                Err(e) if is_fatal(&e) => return Err(e),
                Err(e) => e,
            };
            if self.answered {
                backoff.reset();
                unanswered = 0;
                attempt = 1;
            }
            let connected = !matches!(e, Error::Connect { .. } | Error::ConnectTimeout { .. });
            let e = match e {
                Error::NotAudiomi { addr, .. } => {
                    unanswered += 1;
                    let e = Error::NotAudiomi {
                        addr,
                        closes: unanswered,
                    };
                    if unanswered >= MAX_UNANSWERED_CLOSES {
                        return Err(e);
                    }
                    e
                }
                e => e,
            };
            if connected {
                self.emit(RecordEvent::Lost {
                    reason: e.to_string(),
                });
                self.lost_at = Some(self.last_audio_at.unwrap_or_else(Instant::now));
            }
            if !self.config.reconnect {
                return Err(e);
            }
            let wait = backoff.next_delay();
            if attempt == 1 || attempt.is_multiple_of(10) {
                warn!(error = %e, attempt, retry_in_ms = wait.as_millis() as u64, "retrying");
            }
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn connect_and_record(&mut self, shutdown: &CancellationToken) -> Result<Step> {
        self.answered = false;
        let stream = self.connect().await?;
        self.session(stream, shutdown).await
    }

    async fn connect(&self) -> Result<TcpStream> {
        let addr = &self.config.addr;
        let ms = self.config.connect_timeout.as_millis() as u64;
        let stream = tokio::time::timeout(self.config.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| Error::ConnectTimeout {
                addr: addr.clone(),
                ms,
            })?
            .map_err(|source| Error::Connect {
                addr: addr.clone(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    /// One connection: returns `Done` when the recording should end, `Continue` never (a lost
    /// connection is an error the caller may retry).
    async fn session(&mut self, stream: TcpStream, shutdown: &CancellationToken) -> Result<Step> {
        let peer = self.config.addr.clone();
        let net = |source: std::io::Error| Error::Net {
            peer: peer.clone(),
            source,
        };
        let mut framed = Framed::new(stream, ClientSide(wire::Codec::new(self.config.checkcode)));
        if self.config.extensions {
            framed
                .feed(ClientFrame::ExtHello)
                .await
                .map_err(|e| codec_err(&peer, e))?;
        }
        framed
            .send(ClientFrame::Ping)
            .await
            .map_err(|e| codec_err(&peer, e))?;
        let ping_at = Instant::now();
        self.format = None;
        self.emit(RecordEvent::Connected { addr: peer.clone() });
        info!(addr = %peer, "connected");
        let mut flush = tokio::time::interval(FLUSH_INTERVAL);
        let answer_by = tokio::time::Instant::from_std(ping_at + self.config.answer_timeout);
        let mut last_frame_at = Instant::now();
        loop {
            let frame = tokio::select! {
                () = shutdown.cancelled() => return Ok(Step::Done),
                () = tokio::time::sleep_until(answer_by), if !self.answered => {
                    return Err(Error::NoAnswer {
                        addr: peer.clone(),
                        ms: self.config.answer_timeout.as_millis() as u64,
                    });
                }
                _ = flush.tick() => {
                    if let Some(f) = self.output.as_mut().and_then(|o| o.file.as_mut()) {
                        f.flush_if_due()?;
                    }
                    if self.format.is_some() && last_frame_at.elapsed() > self.config.stall_timeout {
                        return Err(Error::ConnectionLost {
                            addr: peer.clone(),
                            reason: format!(
                                "nothing received for {} ms (the server or the network is gone)",
                                self.config.stall_timeout.as_millis()
                            ),
                        });
                    }
                    continue;
                }
                f = framed.next() => f,
            };
            last_frame_at = Instant::now();
            let frame = match frame {
                None if !self.answered => {
                    return Err(Error::NotAudiomi {
                        addr: peer.clone(),
                        closes: 1,
                    });
                }
                None => {
                    return Err(Error::ConnectionLost {
                        addr: peer.clone(),
                        reason: "the server closed the connection".into(),
                    });
                }
                Some(Err(CodecError::Io(e))) => return Err(net(e)),
                Some(Err(e)) => return Err(codec_err(&peer, e)),
                Some(Ok(f)) => f,
            };
            self.answered = true;
            let step = match frame {
                ServerFrame::Ack { status } => {
                    if status != 0 {
                        return Err(Error::AckStatus { status });
                    }
                    let rtt = ping_at.elapsed();
                    info!(rtt_ms = rtt.as_secs_f64() * 1000.0, "server answered PING");
                    self.emit(RecordEvent::Acked { rtt });
                    Step::Continue
                }
                ServerFrame::Format(f) => {
                    self.on_format(f)?;
                    if f.features & wire::FEATURE_CLIENT_NAME != 0
                        && let Some(name) = self.config.name.clone()
                    {
                        framed
                            .send(ClientFrame::Name(name))
                            .await
                            .map_err(|e| codec_err(&peer, e))?;
                    }
                    Step::Continue
                }
                ServerFrame::Audio(pcm) => self.on_audio(None, pcm)?,
                ServerFrame::AudioAt { position, pcm } => self.on_audio(Some(position), pcm)?,
            };
            if let Step::Done = step {
                return Ok(Step::Done);
            }
        }
    }

    fn on_format(&mut self, f: StreamFormat) -> Result<()> {
        if f.bits_per_sample != 16 || f.channels == 0 || f.sample_rate == 0 {
            return Err(Error::BadFormat {
                reason: format!(
                    "{} Hz, {} channels, {} bits (need PCM16, at least 1 channel and 1 Hz)",
                    f.sample_rate, f.channels, f.bits_per_sample
                ),
            });
        }
        if let Some(o) = &self.output
            && (o.sample_rate != f.sample_rate || o.channels != f.channels)
        {
            return Err(Error::FormatChanged {
                old_rate: o.sample_rate,
                old_channels: o.channels,
                new_rate: f.sample_rate,
                new_channels: f.channels,
            });
        }
        info!(
            rate = f.sample_rate,
            channels = f.channels,
            stream_id = f.stream_id,
            "stream format"
        );
        self.format = Some(f);
        self.emit(RecordEvent::Format(f));
        Ok(())
    }

    fn write_gap(&mut self, samples: u64, reason: String) -> Result<Step> {
        let Some(out) = self.output.as_ref() else {
            return Ok(Step::Continue);
        };
        let rate = f64::from(out.sample_rate);
        let channels = u64::from(out.channels);
        let seconds = samples as f64 / rate;
        warn!(samples, seconds, %reason, "filling a gap with silence");
        self.emit(RecordEvent::Gap {
            samples,
            seconds,
            reason,
        });
        let step = self.write(None, samples * channels)?;
        self.stats.gap_samples.fetch_add(samples, Ordering::Relaxed);
        Ok(step)
    }

    /// Writes `pcm` (or `silence` zero samples when `pcm` is None), stopping at the limit.
    fn write(&mut self, pcm: Option<&[u8]>, silence: u64) -> Result<Step> {
        let Some(out) = self.output.as_mut() else {
            return Ok(Step::Continue);
        };
        let offered = pcm.map_or(silence, |p| (p.len() / 2) as u64);
        let room = self
            .limit
            .map_or(u64::MAX, |l| l.saturating_sub(out.written));
        let n = offered.min(room);
        if let Some(file) = out.file.as_mut() {
            match pcm {
                Some(p) => file.write_pcm16_le(&p[..(n as usize) * 2])?,
                None => file.write_silence(n)?,
            }
        }
        if let (Some(player), Some(p)) = (&self.player, pcm) {
            player.feed(&p[..(n as usize) * 2]);
        }
        out.written += n;
        self.stats.samples.store(out.written, Ordering::Relaxed);
        if self.limit.is_some_and(|l| out.written >= l) {
            if let Some(file) = out.file.as_mut() {
                file.flush()?;
            }
            return Ok(Step::Done);
        }
        Ok(Step::Continue)
    }

    fn on_audio(&mut self, position: Option<u64>, pcm: Bytes) -> Result<Step> {
        let now = Instant::now();
        self.stats
            .bytes_received
            .fetch_add(pcm.len() as u64, Ordering::Relaxed);
        if self.output.is_none() {
            let format = self.format.unwrap_or(StreamFormat::legacy(0));
            self.open_output(format)?;
        }
        self.stats.store_level(Level::measure_pcm16(&pcm));
        let rate = self
            .output
            .as_ref()
            .map_or(wire::DEFAULT_SAMPLE_RATE, |o| o.sample_rate);
        let channels = u64::from(self.format.map_or(1, |f| f.channels.max(1)));
        let frames = (pcm.len() / 2) as u64 / channels;
        let stream_id = self.format.map(|f| f.stream_id);

        // Gaps: after a reconnect, and discontinuities within one stream.
        let mut gap: Option<(u64, String)> = None;
        match (position, stream_id, self.expected) {
            (Some(pos), Some(id), Some((exp_id, exp_pos))) if id == exp_id => {
                if pos > exp_pos {
                    let why = if self.lost_at.is_some() {
                        "reconnected"
                    } else {
                        "discontinuity in the stream"
                    };
                    gap = Some((
                        pos - exp_pos,
                        format!(
                            "{why}: {} samples missed (exact, from stream positions)",
                            pos - exp_pos
                        ),
                    ));
                } else if pos < exp_pos {
                    warn!(
                        expected = exp_pos,
                        got = pos,
                        "stream went back in time; recording as received"
                    );
                }
            }
            _ => {
                if let Some(lost_at) = self.lost_at {
                    let elapsed = now.duration_since(lost_at).as_secs_f64();
                    let missed =
                        ((elapsed * f64::from(rate)).round() as u64).saturating_sub(frames);
                    if missed > 0 {
                        gap = Some((
                            missed,
                            format!(
                                "reconnected after {elapsed:.3} s (measured by the wall clock)"
                            ),
                        ));
                    }
                }
            }
        }
        self.lost_at = None;
        self.last_audio_at = Some(now);
        if let (Some(pos), Some(id)) = (position, stream_id) {
            self.expected = Some((id, pos + frames));
        }
        if let Some((samples, reason)) = gap
            && let Step::Done = self.write_gap(samples, reason)?
        {
            return Ok(Step::Done);
        }
        self.write(Some(&pcm), 0)
    }
}

fn codec_err(peer: &str, e: CodecError) -> Error {
    match e {
        CodecError::Wire(source) => Error::Protocol {
            peer: peer.to_string(),
            source,
        },
        CodecError::Io(source) => Error::Net {
            peer: peer.to_string(),
            source,
        },
    }
}
