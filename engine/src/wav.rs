//! Crash-safe WAV recording with hound.
//!
//! The header is rewritten at least every [`FLUSH_INTERVAL`], so a recorder killed at any moment
//! (even with SIGKILL) leaves a valid WAV file missing at most that much audio. WAV's 32-bit sizes
//! limit a file to 4 GiB: 37 hours of 16 kHz mono PCM16.

use std::fs::{File, OpenOptions};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::{Error, Result};

/// How often the WAV header is brought up to date while recording: 1 s.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// A PCM16 WAV file being written.
pub struct WavSink {
    path: PathBuf,
    writer: Option<hound::WavWriter<BufWriter<File>>>,
    sample_rate: u32,
    channels: u16,
    samples: u64,
    last_flush: Instant,
    /// Cue points to write after the audio at [`WavSink::finalize`].
    cues: Vec<crate::cue::Cue>,
}

impl WavSink {
    /// Creates `path` as a PCM16 WAV of `sample_rate` Hz and `channels` channels. Without
    /// `overwrite`, an existing file is an error and is left untouched.
    ///
    /// # Errors
    /// [`Error::FileExists`]; [`Error::WavWrite`] if the file cannot be created.
    pub fn create(path: &Path, sample_rate: u32, channels: u16, overwrite: bool) -> Result<Self> {
        let wav_err = |source| Error::WavWrite {
            path: path.to_path_buf(),
            source,
        };
        let mut options = OpenOptions::new();
        options.write(true);
        if overwrite {
            options.create(true).truncate(true);
        } else {
            options.create_new(true);
        }
        let file = options.open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::FileExists {
                    path: path.to_path_buf(),
                }
            } else {
                wav_err(hound::Error::IoError(e))
            }
        })?;
        let spec = hound::WavSpec {
            channels,
            sample_rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer = hound::WavWriter::new(BufWriter::new(file), spec).map_err(wav_err)?;
        // Make the empty file valid straight away.
        writer.flush().map_err(wav_err)?;
        Ok(Self {
            path: path.to_path_buf(),
            writer: Some(writer),
            sample_rate,
            channels,
            samples: 0,
            last_flush: Instant::now(),
            cues: Vec::new(),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Channels per frame.
    pub fn channels(&self) -> u16 {
        self.channels
    }

    /// Samples written so far (all channels counted).
    pub fn samples(&self) -> u64 {
        self.samples
    }

    fn err(&self, source: hound::Error) -> Error {
        Error::WavWrite {
            path: self.path.clone(),
            source,
        }
    }

    fn writer(&mut self) -> Result<&mut hound::WavWriter<BufWriter<File>>> {
        match self.writer.as_mut() {
            Some(w) => Ok(w),
            None => Err(Error::WavWrite {
                path: self.path.clone(),
                source: hound::Error::IoError(std::io::Error::other("the file was already closed")),
            }),
        }
    }

    /// Appends PCM16 LE bytes (a trailing odd byte is ignored), then updates the header if the
    /// last update is [`FLUSH_INTERVAL`] old.
    ///
    /// # Errors
    /// [`Error::WavWrite`] (disk full, file removed, 4 GiB limit reached).
    pub fn write_pcm16_le(&mut self, bytes: &[u8]) -> Result<()> {
        let n = bytes.len() / 2;
        let w = self.writer()?;
        let mut i16w = w.get_i16_writer(n as u32);
        for b in bytes.chunks_exact(2) {
            i16w.write_sample(i16::from_le_bytes([b[0], b[1]]));
        }
        let r = i16w.flush();
        r.map_err(|e| self.err(e))?;
        self.samples += n as u64;
        self.flush_if_due()
    }

    /// Appends `samples` zero samples (silence).
    ///
    /// # Errors
    /// [`Error::WavWrite`].
    pub fn write_silence(&mut self, samples: u64) -> Result<()> {
        const ZEROS: [u8; 4096] = [0; 4096];
        let mut left = samples * 2;
        while left > 0 {
            let n = left.min(ZEROS.len() as u64) as usize;
            self.write_pcm16_le(&ZEROS[..n])?;
            left -= n as u64;
        }
        Ok(())
    }

    /// Updates the header and flushes to the OS if the last update is [`FLUSH_INTERVAL`] old.
    ///
    /// # Errors
    /// [`Error::WavWrite`].
    pub fn flush_if_due(&mut self) -> Result<()> {
        if self.last_flush.elapsed() >= FLUSH_INTERVAL {
            self.flush()?;
        }
        Ok(())
    }

    /// Updates the header and flushes to the OS now.
    ///
    /// # Errors
    /// [`Error::WavWrite`].
    pub fn flush(&mut self) -> Result<()> {
        self.last_flush = Instant::now();
        let r = self.writer()?.flush();
        r.map_err(|e| self.err(e))
    }

    /// Marks the current end of the audio with a cue point labelled `label` (written when the
    /// file is finalized; see [`crate::cue`]).
    pub fn mark(&mut self, label: &str) {
        let frame = self.samples / u64::from(self.channels.max(1));
        self.cues.push(crate::cue::Cue {
            frame: u32::try_from(frame).unwrap_or(u32::MAX),
            label: label.to_string(),
        });
    }

    /// Writes the final header, then the cue points (if any), and closes the file.
    ///
    /// # Errors
    /// [`Error::WavWrite`].
    pub fn finalize(&mut self) -> Result<()> {
        let Some(w) = self.writer.take() else {
            return Ok(());
        };
        w.finalize().map_err(|e| self.err(e))?;
        let cues = std::mem::take(&mut self.cues);
        crate::cue::append(&self.path, &cues).map_err(|e| self.err(hound::Error::IoError(e)))
    }
}

impl Drop for WavSink {
    fn drop(&mut self) {
        if let Err(e) = self.finalize() {
            tracing::warn!(error = %e, "finalizing the WAV file failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_valid_file_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.wav");
        let mut sink = WavSink::create(&path, 16_000, 1, false).expect("create");
        sink.write_pcm16_le(&[1, 0, 0xff, 0xff]).expect("write");
        sink.write_silence(3).expect("silence");
        sink.flush().expect("flush");
        // Valid before finalize: the header was updated by flush.
        let r = hound::WavReader::open(&path).expect("readable mid-recording");
        assert_eq!(r.duration(), 5);
        sink.finalize().expect("finalize");
        let samples: Vec<i16> = hound::WavReader::open(&path)
            .expect("open")
            .samples::<i16>()
            .map(|s| s.expect("sample"))
            .collect();
        assert_eq!(samples, [1, -1, 0, 0, 0]);

        let e = WavSink::create(&path, 16_000, 1, false)
            .err()
            .expect("exists");
        assert!(matches!(e, Error::FileExists { .. }), "{e}");
        assert_eq!(
            hound::WavReader::open(&path).expect("untouched").duration(),
            5
        );
        WavSink::create(&path, 16_000, 1, true).expect("overwrite allowed");
    }
}
