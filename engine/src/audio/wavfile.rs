//! A WAV file as a source, read with hound in real time.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use super::Generator;
use crate::{Error, Result};

/// A WAV file read in real time, optionally looped.
pub struct WavFile {
    path: PathBuf,
    reader: hound::WavReader<BufReader<File>>,
    spec: hound::WavSpec,
    looping: bool,
}

impl WavFile {
    /// Opens `path`; `looping` restarts it at the end.
    ///
    /// # Errors
    /// [`Error::WavRead`] if the file cannot be opened or is not a WAV file hound reads;
    /// [`Error::Source`] for a file with no channels or no samples while looping.
    pub fn open(path: &Path, looping: bool) -> Result<Self> {
        let reader = hound::WavReader::open(path).map_err(|source| Error::WavRead {
            path: path.to_path_buf(),
            source,
        })?;
        let spec = reader.spec();
        if spec.channels == 0 || spec.sample_rate == 0 {
            return Err(Error::Source {
                spec: format!("file:{}", path.display()),
                reason: "the WAV header declares zero channels or a zero sample rate".into(),
            });
        }
        if looping && reader.duration() == 0 {
            return Err(Error::Source {
                spec: format!("file:{}", path.display()),
                reason: "cannot loop a file with no audio".into(),
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            spec,
            looping,
        })
    }

    fn read_error(&self, source: hound::Error) -> Error {
        Error::WavRead {
            path: self.path.clone(),
            source,
        }
    }

    /// Appends up to `samples` samples (not frames) until the end of the file.
    fn read_samples(&mut self, samples: usize, out: &mut Vec<f32>) -> Result<usize> {
        let mut n = 0;
        match self.spec.sample_format {
            hound::SampleFormat::Float => {
                let mut it = self.reader.samples::<f32>();
                while n < samples {
                    match it.next() {
                        Some(Ok(v)) => out.push(v),
                        Some(Err(e)) => return Err(self.read_error(e)),
                        None => break,
                    }
                    n += 1;
                }
            }
            hound::SampleFormat::Int => {
                let scale =
                    1.0 / f64::from(1u32 << (self.spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
                let mut it = self.reader.samples::<i32>();
                while n < samples {
                    match it.next() {
                        Some(Ok(v)) => out.push(v as f32 * scale),
                        Some(Err(e)) => return Err(self.read_error(e)),
                        None => break,
                    }
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}

impl Generator for WavFile {
    fn sample_rate(&self) -> u32 {
        self.spec.sample_rate
    }
    fn channels(&self) -> u16 {
        self.spec.channels
    }
    fn fill(&mut self, frames: usize, out: &mut Vec<f32>) -> Result<usize> {
        let ch = usize::from(self.spec.channels);
        let mut want = frames * ch;
        let mut got = 0;
        loop {
            let n = self.read_samples(want, out)?;
            got += n;
            want -= n;
            if want == 0 || !self.looping {
                break;
            }
            self.reader
                .seek(0)
                .map_err(|e| self.read_error(hound::Error::IoError(e)))?;
        }
        // Never hand out a partial frame.
        let whole = got - got % ch;
        out.truncate(out.len() - (got - whole));
        Ok(whole / ch)
    }
    fn describe(&self) -> String {
        format!(
            "WAV file {} ({} Hz, {} ch, {} bit{})",
            self.path.display(),
            self.spec.sample_rate,
            self.spec.channels,
            self.spec.bits_per_sample,
            if self.looping { ", looped" } else { "" }
        )
    }
}
