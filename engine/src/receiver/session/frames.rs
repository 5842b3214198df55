//! The frames of one connection: what each server frame does to the recording (ACK, FORMAT,
//! audio with or without its stream position), gap filling, and the periodic tick.

use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use futures::SinkExt;
use tracing::{info, warn};
use wire::{ClientFrame, ServerFrame, StreamFormat};

use super::super::gaps;
use super::{Link, RecordEvent, Recorder, Step, codec_err};
use crate::audio::level::Level;
use crate::codec::CodecError;
use crate::receiver::output::Output;
use crate::{Error, Result};

impl Recorder {
    /// Periodic work: the sinks' tick; a server that answered as audioMi (FORMAT) and then sent
    /// nothing for `stall_timeout` is lost (legacy servers may pause and are never timed out).
    pub(super) fn on_tick(&mut self, last_frame_at: Instant) -> Result<()> {
        if let Some(out) = self.output.as_mut() {
            out.tick()?;
        }
        if self.format.is_some() && last_frame_at.elapsed() > self.config.stall_timeout {
            return Err(Error::ConnectionLost {
                addr: self.config.addr.clone(),
                reason: format!(
                    "nothing received for {} ms (the server or the network is gone)",
                    self.config.stall_timeout.as_millis()
                ),
            });
        }
        Ok(())
    }

    /// The frame read, or the error that ends this connection: a close before any answer is
    /// [`Error::NotAudiomi`], a later close [`Error::ConnectionLost`].
    pub(super) fn received(
        &self,
        frame: Option<std::result::Result<ServerFrame, CodecError>>,
    ) -> Result<ServerFrame> {
        let peer = &self.config.addr;
        match frame {
            None if !self.answered => Err(Error::NotAudiomi {
                addr: peer.clone(),
                closes: 1,
            }),
            None => Err(Error::ConnectionLost {
                addr: peer.clone(),
                reason: "the server closed the connection".into(),
            }),
            Some(Err(e)) => Err(codec_err(peer, e)),
            Some(Ok(f)) => Ok(f),
        }
    }

    /// Handles one frame from the server (answering FORMAT with NAME where the server takes it).
    pub(super) async fn on_frame(
        &mut self,
        frame: ServerFrame,
        framed: &mut Link,
        ping_at: Instant,
    ) -> Result<Step> {
        match frame {
            ServerFrame::Ack { status } => {
                if status != 0 {
                    return Err(Error::AckStatus { status });
                }
                let rtt = ping_at.elapsed();
                info!(rtt_ms = rtt.as_secs_f64() * 1000.0, "server answered PING");
                self.emit(RecordEvent::Acked { rtt });
                Ok(Step::Continue)
            }
            ServerFrame::Format(f) => {
                self.on_format(f)?;
                self.ask_for_features(f.features, framed).await?;
                Ok(Step::Continue)
            }
            ServerFrame::End { position } => {
                info!(end = position, "the source ended");
                self.end_at = Some(position);
                let reached = self.expected.is_some_and(|(_, next)| next >= position);
                Ok(if reached { Step::Done } else { Step::Continue })
            }
            ServerFrame::NowPlaying {
                position,
                title,
                artist,
            } => {
                self.on_now_playing(position, &title, &artist);
                self.emit(RecordEvent::NowPlaying { title, artist });
                Ok(Step::Continue)
            }
            // The key exchange happens before this loop (`crate::secure::client`); a server that
            // answers KEY_RESULT here wanted a key this connection did not send.
            ServerFrame::KeyResult {
                status: wire::KEY_ACCEPTED,
            } => Ok(Step::Continue),
            ServerFrame::KeyResult { status } => Err(if status == wire::KEY_REQUIRED {
                Error::KeyRequired {
                    addr: self.config.addr.clone(),
                }
            } else {
                Error::WrongKey {
                    addr: self.config.addr.clone(),
                }
            }),
            ServerFrame::Text { from, text } => {
                info!(%from, %text, "chat");
                self.emit(RecordEvent::Text { from, text });
                Ok(Step::Continue)
            }
            ServerFrame::Audio(pcm) => self.on_audio(None, pcm),
            ServerFrame::AudioAt { position, pcm } => self.on_audio(Some(position), pcm),
        }
    }

    /// Answers FORMAT's `features`: this receiver's name, and asks for the chat, the tracks and
    /// the end of the source where the server offers them.
    async fn ask_for_features(&self, features: u32, framed: &mut Link) -> Result<()> {
        let mut asks = Vec::new();
        if features & wire::FEATURE_CLIENT_NAME != 0
            && let Some(name) = self.config.name.clone()
        {
            asks.push(ClientFrame::Name(name));
        }
        for (bit, ask) in [
            (wire::FEATURE_TEXT, ClientFrame::Chat),
            (wire::FEATURE_NOW_PLAYING, ClientFrame::Tracks),
            (wire::FEATURE_END, ClientFrame::Ends),
        ] {
            if features & bit != 0 {
                asks.push(ask);
            }
        }
        for ask in asks {
            framed
                .send(ask)
                .await
                .map_err(|e| codec_err(&self.config.addr, e))?;
        }
        Ok(())
    }

    /// Marks where a track starts: `position` (stream frames) is placed in the file relative to
    /// the next frame expected, so a NOW_PLAYING that arrives before its audio still marks the
    /// exact frame; before any audio, the mark goes at the file's start.
    fn on_now_playing(&mut self, position: u64, title: &str, artist: &str) {
        info!(position, %title, %artist, "now playing");
        let label = if artist.is_empty() {
            title.to_string()
        } else {
            format!("{title} — {artist}")
        };
        let Some(out) = self.output.as_mut() else {
            self.first_track = Some(label);
            return;
        };
        // What the converter (record --format) still holds reaches the file before the frame
        // expected next does.
        let written = out.written_frames() + out.owed_frames();
        let stream_rate = f64::from(out.sample_rate.max(1));
        let ratio = f64::from(out.written_format.rate) / stream_rate;
        let frame = match self.expected {
            Some((_, next)) => {
                let ahead = (position as f64 - next as f64) * ratio;
                (written as f64 + ahead).round().max(0.0) as u64
            }
            None => written,
        };
        out.mark_at(frame, label);
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

    /// Writes `pcm` (or `silence` zero samples) to every sink and counts it.
    fn write(&mut self, pcm: Option<&[u8]>, silence: u64) -> Result<Step> {
        let Some(out) = self.output.as_mut() else {
            return Ok(Step::Continue);
        };
        let step = out.write(pcm, silence)?;
        self.stats.samples.store(out.written, Ordering::Relaxed);
        for path in std::mem::take(&mut out.new_files) {
            self.emit(RecordEvent::FileCreated { path });
        }
        Ok(step)
    }

    fn on_audio(&mut self, position: Option<u64>, mut pcm: Bytes) -> Result<Step> {
        let now = Instant::now();
        self.stats
            .bytes_received
            .fetch_add(pcm.len() as u64, Ordering::Relaxed);
        // After END, only the frames before the end are the source's: the rest is padding.
        let mut last = false;
        if let (Some(end), Some(pos)) = (self.end_at, position) {
            let channels = usize::from(self.format.map_or(1, |f| f.channels.max(1)));
            let keep = end.saturating_sub(pos) as usize * channels * 2;
            if keep == 0 {
                return Ok(Step::Done);
            }
            last = keep <= pcm.len();
            pcm.truncate(keep);
        }
        if self.output.is_none() {
            let format = self.format.unwrap_or(StreamFormat::legacy(0));
            let mut out = Output::open(&self.config, format, self.player.clone())?;
            if let Some(path) = out.path() {
                self.emit(RecordEvent::FileCreated {
                    path: path.to_path_buf(),
                });
            }
            if let Some(label) = self.first_track.take() {
                out.mark_at(0, label);
            }
            let written = out.written_format;
            self.stats
                .sample_rate
                .store(written.rate, Ordering::Relaxed);
            self.stats
                .channels
                .store(u32::from(written.channels), Ordering::Relaxed);
            self.output = Some(out);
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
        match self.write(Some(&pcm), 0)? {
            Step::Continue if last => Ok(Step::Done),
            step => Ok(step),
        }
    }
}
