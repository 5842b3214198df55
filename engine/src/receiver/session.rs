//! One recording's state across connections: connecting, the protocol of one connection, and
//! where received audio goes (the WAV file, the player, the counters).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use wire::{ClientFrame, ServerFrame, StreamFormat};

use super::{
    Backoff, MAX_UNANSWERED_CLOSES, RecordConfig, RecordEvent, RecordStats, Summary, gaps, is_fatal,
};
use crate::audio::level::Level;
use crate::audio::playback::Player;
use crate::codec::{ClientSide, CodecError};
use crate::wav::{FLUSH_INTERVAL, WavSink};

use super::sink::{FrameSink, PlayerSink};
use crate::{Error, Result};

pub(super) struct Recorder {
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
    /// The file (if any) first, then the player (if listening).
    sinks: Vec<Box<dyn FrameSink>>,
    /// Samples written or counted, all channels.
    written: u64,
}

pub(super) enum Step {
    Continue,
    Done,
}

impl Recorder {
    pub(super) fn new(
        config: RecordConfig,
        stats: Arc<RecordStats>,
        events: Option<mpsc::UnboundedSender<RecordEvent>>,
        player: Option<Arc<Player>>,
    ) -> Self {
        Self {
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
        }
    }

    /// Whether any audio arrived (the file, if any, exists only then).
    pub(super) fn received_audio(&self) -> bool {
        self.output.is_some()
    }

    /// The server's address as configured.
    pub(super) fn addr(&self) -> &str {
        &self.config.addr
    }

    fn emit(&self, e: RecordEvent) {
        if let Some(tx) = &self.events {
            let _ = tx.send(e);
        }
    }

    pub(super) fn summary(&self) -> Summary {
        let out = self.output.as_ref();
        Summary {
            path: out
                .and_then(|o| o.sinks.iter().find_map(|s| s.path()))
                .map(std::path::Path::to_path_buf),
            samples: out.map_or(0, |o| o.written / u64::from(o.channels.max(1))),
            sample_rate: out.map_or(0, |o| o.sample_rate),
            gap_samples: self.stats.gap_samples.load(Ordering::Relaxed),
            bytes_received: self.stats.bytes_received.load(Ordering::Relaxed),
        }
    }

    /// Finalizes every sink, if audio arrived (the file is created with the first audio frame,
    /// so a recording that received nothing leaves none); the first error is returned.
    pub(super) fn finish(&mut self) -> Result<()> {
        let Some(out) = self.output.as_mut() else {
            return Ok(());
        };
        let mut result = Ok(());
        for sink in &mut out.sinks {
            // Every sink is finished, even after one failed.
            let finished = sink.finish();
            if result.is_ok() {
                result = finished;
            }
        }
        result
    }

    fn open_output(&mut self, format: StreamFormat) -> Result<()> {
        let mut sinks: Vec<Box<dyn FrameSink>> = Vec::new();
        if let Some(path) = &self.config.out {
            let file = WavSink::create(
                path,
                format.sample_rate,
                format.channels,
                self.config.overwrite,
            )?;
            self.emit(RecordEvent::FileCreated { path: path.clone() });
            info!(path = %path.display(), rate = format.sample_rate, channels = format.channels, "recording");
            sinks.push(Box::new(file));
        }
        if let Some(player) = &self.player {
            sinks.push(Box::new(PlayerSink(player.clone())));
        }
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
            sinks,
            written: 0,
        });
        Ok(())
    }

    /// Connects, records, and (with `reconnect`) retries with [`Backoff`] until done.
    pub(super) async fn run(&mut self, shutdown: &CancellationToken) -> Result<()> {
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
                    if let Some(out) = self.output.as_mut() {
                        for sink in &mut out.sinks {
                            sink.tick()?;
                        }
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
        for sink in &mut out.sinks {
            match pcm {
                Some(p) => sink.write_pcm16(&p[..(n as usize) * 2])?,
                None => sink.write_silence(n)?,
            }
        }
        out.written += n;
        self.stats.samples.store(out.written, Ordering::Relaxed);
        if self.limit.is_some_and(|l| out.written >= l) {
            for sink in &mut out.sinks {
                sink.flush()?;
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
        let verdict = gaps::verdict(&gaps::Arrival {
            position,
            stream_id,
            expected: self.expected,
            frames,
            rate,
            since_lost: self.lost_at.map(|t| now.duration_since(t)),
        });
        let gap = match verdict {
            gaps::Verdict::InStep => None,
            gaps::Verdict::Gap { samples, reason } => Some((samples, reason)),
            gaps::Verdict::Behind { expected, got } => {
                warn!(
                    expected,
                    got, "stream went back in time; recording as received"
                );
                None
            }
        };
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
