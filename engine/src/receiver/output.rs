//! Where one recording's audio goes once its format is known: the WAV file (if any) and the
//! player (if listening), fed the same frames and gaps, up to the duration limit; converted
//! first when `record --format` asks for another format than the stream's.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tracing::info;
use wire::StreamFormat;

use super::RecordConfig;
use super::convert::Converter;
use super::sink::{FrameSink, PlayerSink};
use crate::Result;
use crate::audio::playback::Player;
use crate::quality::AudioFormat;
use crate::wav::WavSink;

/// What writing a part of the stream tells the session: go on, or the recording is done
/// (its duration reached).
pub(super) enum Step {
    Continue,
    Done,
}

/// `base` with `-NN` (two digits at least) before its extension: `rec.wav` → `rec-01.wav`.
pub(super) fn numbered(base: &Path, n: u32) -> PathBuf {
    let stem = base
        .file_stem()
        .map_or_else(|| "audiomi".into(), |s| s.to_string_lossy().into_owned());
    let ext = base
        .extension()
        .map_or_else(|| "wav".into(), |e| e.to_string_lossy().into_owned());
    base.with_file_name(format!("{stem}-{n:02}.{ext}"))
}

/// The sinks of one recording and how much they were given.
pub(super) struct Output {
    /// Stream sample rate in Hz.
    pub(super) sample_rate: u32,
    /// Channels per frame.
    pub(super) channels: u16,
    /// The format written: the stream's, or the one `record --format` asked for.
    pub(super) written_format: AudioFormat,
    /// From the stream's format to `written_format`, when they differ.
    converter: Option<Converter>,
    /// Frames given to the converter (stream format) and frames it gave back (written format).
    converted: (u64, u64),
    /// The file (if any) first, then the player (if listening).
    pub(super) sinks: Vec<Box<dyn FrameSink>>,
    /// Samples written or counted, all channels, at `written_format`.
    pub(super) written: u64,
    /// Samples (all channels) after which the recording is done (`--duration`).
    limit: Option<u64>,
    /// Track starts not reached yet: (frame at the written format, label), in order.
    pub(super) marks: std::collections::VecDeque<(u64, String)>,
    /// `record --split`: the file's name pattern and the number of the file being written.
    pub(super) split: Option<(std::path::PathBuf, bool, u32)>,
    /// Frames (written format) at which the current file started.
    pub(super) file_start: u64,
    /// Files created after the first (split), for the recorder to report.
    pub(super) new_files: Vec<std::path::PathBuf>,
}

impl Output {
    /// Creates the WAV file named in `config` (if any) for `format` (or `config.format`, which
    /// the stream is then converted to), and feeds `player` (if any).
    ///
    /// # Errors
    /// Whatever creating the file returns ([`crate::Error::WavWrite`], an existing file without
    /// `overwrite`); what starting the converter returns.
    pub(super) fn open(
        config: &RecordConfig,
        format: StreamFormat,
        player: Option<Arc<Player>>,
    ) -> Result<Self> {
        let stream = AudioFormat {
            rate: format.sample_rate,
            channels: format.channels,
        };
        let written_format = config.format.unwrap_or(stream);
        let converter = if written_format == stream {
            None
        } else {
            info!(from = %stream, to = %written_format, "converting the stream");
            Some(Converter::new(stream, written_format)?)
        };
        let (rate, channels) = (written_format.rate, written_format.channels);
        let mut sinks: Vec<Box<dyn FrameSink>> = Vec::new();
        let split = config
            .out
            .as_ref()
            .filter(|_| config.split)
            .map(|p| (p.clone(), config.overwrite, 1));
        let first = match &split {
            Some((base, _, n)) => Some(numbered(base, *n)),
            None => config.out.clone(),
        };
        if let Some(path) = &first {
            let file = WavSink::create(path, rate, channels, config.overwrite)?;
            info!(path = %path.display(), rate, channels, "recording");
            sinks.push(Box::new(file));
        }
        if let Some(player) = player {
            sinks.push(Box::new(PlayerSink {
                player,
                rate,
                channels,
            }));
        }
        let limit = config
            .duration
            .map(|d| (d.as_secs_f64() * f64::from(rate)).round() as u64 * u64::from(channels));
        Ok(Self {
            sample_rate: format.sample_rate,
            channels: format.channels,
            written_format,
            converter,
            converted: (0, 0),
            sinks,
            written: 0,
            limit,
            marks: std::collections::VecDeque::new(),
            split,
            file_start: 0,
            new_files: Vec::new(),
        })
    }

    /// The file being written, if any.
    pub(super) fn path(&self) -> Option<&Path> {
        self.sinks.iter().find_map(|s| s.path())
    }

    /// Periodic work of every sink (the WAV file's crash-safe header update).
    pub(super) fn tick(&mut self) -> Result<()> {
        self.sinks.iter_mut().try_for_each(|s| s.tick())
    }

    /// Writes `pcm` (or `silence` zero samples when `pcm` is None), at the stream's format, to
    /// every sink (converted first if asked), stopping at the limit: `Done` once it is reached.
    ///
    /// # Errors
    /// What a sink or the converter returns.
    pub(super) fn write(&mut self, pcm: Option<&[u8]>, silence: u64) -> Result<Step> {
        let Some(converter) = self.converter.as_mut() else {
            return self.write_out(pcm, silence);
        };
        let converted = match pcm {
            Some(p) => converter.convert(p)?,
            None => converter.silence(silence)?,
        };
        let fed = pcm.map_or(silence, |p| (p.len() / 2) as u64);
        self.converted.0 += fed / u64::from(self.channels.max(1));
        self.converted.1 +=
            (converted.len() / 2) as u64 / u64::from(self.written_format.channels.max(1));
        self.write_out(Some(&converted), 0)
    }

    /// Frames (written format) the converter still owes for what it was given: its history,
    /// which comes out with the next blocks. A stream position reaches the file this many frames
    /// after the frames already written.
    pub(super) fn owed_frames(&self) -> u64 {
        if self.converter.is_none() {
            return 0;
        }
        let ratio = f64::from(self.written_format.rate) / f64::from(self.sample_rate.max(1));
        ((self.converted.0 as f64 * ratio).round() as u64).saturating_sub(self.converted.1)
    }

    /// [`Output::write`] at the written format, cut where a track starts (see
    /// [`Output::mark_at`]).
    fn write_out(&mut self, mut pcm: Option<&[u8]>, mut silence: u64) -> Result<Step> {
        let ch = u64::from(self.written_format.channels.max(1));
        while let Some(&(at, _)) = self.marks.front() {
            let offered = pcm.map_or(silence, |p| (p.len() / 2) as u64);
            let head = at.saturating_sub(self.written_frames()) * ch;
            if head > offered {
                break;
            }
            if head > 0 {
                let part = pcm.map(|p| &p[..head as usize * 2]);
                if let Step::Done = self.write_part(part, head)? {
                    return Ok(Step::Done);
                }
                pcm = pcm.map(|p| &p[head as usize * 2..]);
                silence = silence.saturating_sub(head);
            }
            if let Some((at, label)) = self.marks.pop_front() {
                self.start_track(at, &label)?;
            }
        }
        self.write_part(pcm, silence)
    }

    /// Writes to every sink, up to the limit.
    fn write_part(&mut self, pcm: Option<&[u8]>, silence: u64) -> Result<Step> {
        let offered = pcm.map_or(silence, |p| (p.len() / 2) as u64);
        let room = self
            .limit
            .map_or(u64::MAX, |l| l.saturating_sub(self.written));
        let n = offered.min(room);
        for sink in &mut self.sinks {
            match pcm {
                Some(p) => sink.write_pcm16(&p[..(n as usize) * 2])?,
                None => sink.write_silence(n)?,
            }
        }
        self.written += n;
        if self.limit.is_some_and(|l| self.written >= l) {
            for sink in &mut self.sinks {
                sink.flush()?;
            }
            return Ok(Step::Done);
        }
        Ok(Step::Continue)
    }

    /// Drains the converter (if any) into the sinks, then finalizes every sink, even after one
    /// failed; the first error is returned.
    pub(super) fn finish(&mut self) -> Result<()> {
        // Track starts past the end are never reached: no empty files, no cues past the end.
        self.marks.clear();
        let mut result = match self.converter.take() {
            Some(mut c) => c
                .finish()
                .and_then(|tail| self.write_out(Some(&tail), 0).map(|_| ())),
            None => Ok(()),
        };
        for sink in &mut self.sinks {
            let finished = sink.finish();
            if result.is_ok() {
                result = finished;
            }
        }
        result
    }
}
