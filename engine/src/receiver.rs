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

/// Longest wait between reconnection attempts: 1 s.
pub const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(1);

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
    /// Reconnect after losing the server (retrying at most [`MAX_RECONNECT_DELAY`] apart, until
    /// stopped) and fill the gap with silence.
    pub reconnect: bool,
    /// How long one connection attempt may take.
    pub connect_timeout: Duration,
    /// A connection to an audioMi server (one that answered the extension request, and so streams
    /// continuously, silence included) that delivers nothing for this long is treated as lost
    /// (a pulled cable or a vanished host sends no FIN). Legacy servers may pause while nothing
    /// plays, so they are never timed out. Checked once per second; default 5 s.
    pub stall_timeout: Duration,
    /// Ask for the protocol extensions (true unless emulating a legacy client).
    pub extensions: bool,
}

impl RecordConfig {
    /// Checks, before anything is connected or opened, that the output file may be written:
    /// [`record`] calls it first; callers that open other things before recording (a player)
    /// call it earlier too.
    ///
    /// # Errors
    /// [`Error::FileExists`] if `out` exists and `overwrite` is false.
    pub fn check_output(&self) -> Result<()> {
        match &self.out {
            Some(out) if !self.overwrite && out.exists() => {
                Err(Error::FileExists { path: out.clone() })
            }
            _ => Ok(()),
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
            stall_timeout: Duration::from_secs(5),
            extensions: true,
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
    rms_bits: AtomicU32,
}

impl RecordStats {
    /// RMS level of the latest audio frame in dBFS.
    pub fn rms_dbfs(&self) -> f32 {
        f32::from_bits(self.rms_bits.load(Ordering::Relaxed))
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
/// also fed to `player`, if any (live listening).
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
    };
    let result = rec.run(&shutdown).await;
    let finished = rec.finish(result.is_ok());
    let result = match (result, finished) {
        (Err(e), _) | (Ok(()), Err(e)) => Err(e),
        (Ok(()), Ok(())) => Ok(()),
    };
    Outcome {
        summary: rec.summary(),
        result,
    }
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

    /// Finalizes the file. When nothing arrived, a recording that ended as asked (`ok`) still
    /// leaves a valid empty file; a failed one leaves none.
    fn finish(&mut self, ok: bool) -> Result<()> {
        if self.output.is_none() && ok {
            let format = self.format.unwrap_or(StreamFormat::legacy(0));
            if let Err(e) = self.open_output(format)
                && !matches!(e, Error::FileExists { .. })
            {
                return Err(e);
            }
        }
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
        self.output = Some(Output {
            sample_rate: format.sample_rate,
            channels: format.channels,
            file,
            written: 0,
        });
        Ok(())
    }

    async fn run(&mut self, shutdown: &CancellationToken) -> Result<()> {
        self.config.check_output()?;
        let mut attempt = 0u32;
        let mut delay = Duration::from_millis(100);
        loop {
            attempt += 1;
            self.emit(RecordEvent::Connecting { attempt });
            let connected = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                r = self.connect() => r,
            };
            let stream = match connected {
                Ok(s) => s,
                Err(e) if self.config.reconnect => {
                    if attempt == 1 || attempt.is_multiple_of(10) {
                        warn!(error = %e, attempt, "cannot connect; retrying");
                    }
                    tokio::select! {
                        () = shutdown.cancelled() => return Ok(()),
                        () = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(MAX_RECONNECT_DELAY);
                    continue;
                }
                Err(e) => return Err(e),
            };
            delay = Duration::from_millis(100);
            attempt = 0;
            match self.session(stream, shutdown).await {
                Ok(Step::Done) => return Ok(()),
                Ok(Step::Continue) => {}
                Err(
                    e @ (Error::Protocol { .. }
                    | Error::AckStatus { .. }
                    | Error::BadFormat { .. }
                    | Error::WavWrite { .. }
                    | Error::FormatChanged { .. }
                    | Error::FileExists { .. }),
                ) => {
                    return Err(e);
                }
                Err(e) => {
                    let reason = e.to_string();
                    self.emit(RecordEvent::Lost {
                        reason: reason.clone(),
                    });
                    if !self.config.reconnect {
                        return Err(e);
                    }
                    warn!(%reason, "connection lost; reconnecting");
                    self.lost_at = Some(self.last_audio_at.unwrap_or_else(Instant::now));
                }
            }
        }
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
        let mut answered = false;
        let mut last_frame_at = Instant::now();
        loop {
            let frame = tokio::select! {
                () = shutdown.cancelled() => return Ok(Step::Done),
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
                None => {
                    return Err(Error::ConnectionLost {
                        addr: peer.clone(),
                        reason: if answered {
                            "the server closed the connection".into()
                        } else {
                            "the server closed the connection without answering; is the checkcode right?".into()
                        },
                    });
                }
                Some(Err(CodecError::Io(e))) => return Err(net(e)),
                Some(Err(e)) => return Err(codec_err(&peer, e)),
                Some(Ok(f)) => f,
            };
            answered = true;
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
        self.stats.rms_bits.store(
            Level::measure_pcm16(&pcm).rms_dbfs.to_bits(),
            Ordering::Relaxed,
        );
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
