//! Audio sources: what the server streams.
//!
//! A [`SourceSpec`] is what the user names (`loopback`, `mic:ID`, `file:PATH`, `tone:HZ`). Sources
//! that produce audio on demand implement [`Generator`] and are paced by the pipeline's clock;
//! sound cards push audio on their own clock (see [`super::capture`]). [`SourceSpec::open`] (in
//! the parent module) turns a spec into the pipeline's input.

use std::f64::consts::TAU;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

pub use super::wavfile::WavFile;
use crate::{Error, Result};

/// Peak amplitude of the test tone: −12 dBFS (10^(−12/20) ≈ 0.2512 of full scale).
pub const TONE_AMPLITUDE: f64 = 0.251_188_643_150_958;

/// A source as named on the command line or in the GUI.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    /// `loopback` / `loopback:ID`: what an output device plays (its monitor source on Linux).
    /// `None` is the default output device's loopback.
    Loopback(Option<String>),
    /// `mic` / `mic:ID`: a capture device (microphone, line in). `None` is the default input.
    Mic(Option<String>),
    /// `file:PATH`: an audio file played in real time: WAV (any rate, channel count and sample
    /// format hound reads), FLAC, MP3 or Ogg/Vorbis (decoded with symphonia).
    File(PathBuf),
    /// `folder:DIR`: every audio file in the folder, by name (or shuffled), back to back without
    /// gaps, announcing each track (NOW_PLAYING).
    Folder(PathBuf),
    /// `tone:HZ`: a sine of that frequency (Hz) at −12 dBFS peak.
    Tone(f64),
}

impl FromStr for SourceSpec {
    type Err = Error;

    /// Parses `loopback[:ID]`, `mic[:ID]`, `file:PATH`, `folder:DIR` or `tone:HZ`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: &str| Error::Source {
            spec: s.to_string(),
            reason: reason.to_string(),
        };
        let (kind, arg) = match s.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (s, None),
        };
        let id = |a: Option<&str>| a.filter(|a| !a.is_empty()).map(str::to_string);
        match kind {
            "loopback" => Ok(Self::Loopback(id(arg))),
            "mic" => Ok(Self::Mic(id(arg))),
            "file" => match arg {
                Some(p) if !p.is_empty() => Ok(Self::File(PathBuf::from(p))),
                _ => Err(bad("expected file:PATH")),
            },
            "folder" => match arg {
                Some(p) if !p.is_empty() => Ok(Self::Folder(PathBuf::from(p))),
                _ => Err(bad("expected folder:DIR")),
            },
            "tone" => {
                let hz: f64 = arg
                    .ok_or_else(|| bad("expected tone:HZ, e.g. tone:440"))?
                    .parse()
                    .map_err(|_| bad("expected tone:HZ with a number of hertz, e.g. tone:440"))?;
                if !(hz.is_finite() && hz > 0.0) {
                    return Err(bad(
                        "the tone's frequency must be a positive number of hertz",
                    ));
                }
                Ok(Self::Tone(hz))
            }
            _ => Err(bad(
                "expected loopback[:ID], mic[:ID], file:PATH, folder:DIR or tone:HZ",
            )),
        }
    }
}

impl fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Loopback(None) => write!(f, "loopback"),
            Self::Loopback(Some(id)) => write!(f, "loopback:{id}"),
            Self::Mic(None) => write!(f, "mic"),
            Self::Mic(Some(id)) => write!(f, "mic:{id}"),
            Self::File(p) => write!(f, "file:{}", p.display()),
            Self::Folder(p) => write!(f, "folder:{}", p.display()),
            Self::Tone(hz) => write!(f, "tone:{hz}"),
        }
    }
}

/// A source that produces audio when asked (the pipeline asks on its wall-clock schedule).
pub trait Generator: Send {
    /// Sample rate in Hz.
    fn sample_rate(&self) -> u32;
    /// Channels per frame.
    fn channels(&self) -> u16;
    /// Appends up to `frames` interleaved frames to `out` and returns how many it appended; fewer
    /// than asked only when the source has ended.
    ///
    /// # Errors
    /// A read error of the underlying file.
    fn fill(&mut self, frames: usize, out: &mut Vec<f32>) -> Result<usize>;
    /// A short human-readable description (for logs and the GUI).
    fn describe(&self) -> String;
    /// The track the next frames belong to, once each time it changes: a playlist's first
    /// track, and after a [`Generator::fill`] that returned fewer frames than asked, the next
    /// one (`None` there means the source ended). [`Generator::sample_rate`] and
    /// [`Generator::channels`] may change at such a track change. Sources without tracks
    /// (tone, WAV file) have none.
    fn take_track(&mut self) -> Option<super::decode::TrackInfo> {
        None
    }
}

/// A sine at [`TONE_AMPLITUDE`], mono, generated at the stream's rate (no resampling).
pub struct Tone {
    hz: f64,
    rate: u32,
    phase: f64,
}

impl Tone {
    /// A tone of `hz` Hz at `rate` Hz.
    ///
    /// # Errors
    /// [`Error::Config`] (an invalid value the user gave) if `hz` is not below the Nyquist
    /// frequency `rate / 2`.
    pub fn new(hz: f64, rate: u32) -> Result<Self> {
        if hz >= f64::from(rate) / 2.0 {
            return Err(Error::config(
                "--source",
                format!("tone:{hz}"),
                format!(
                    "the tone must be below half the stream's sample rate ({} Hz)",
                    rate / 2
                ),
            ));
        }
        Ok(Self {
            hz,
            rate,
            phase: 0.0,
        })
    }
}

impl Generator for Tone {
    fn sample_rate(&self) -> u32 {
        self.rate
    }
    fn channels(&self) -> u16 {
        1
    }
    fn fill(&mut self, frames: usize, out: &mut Vec<f32>) -> Result<usize> {
        let step = TAU * self.hz / f64::from(self.rate);
        out.extend((0..frames).map(|_| {
            let v = (TONE_AMPLITUDE * self.phase.sin()) as f32;
            self.phase = (self.phase + step) % TAU;
            v
        }));
        Ok(frames)
    }
    fn describe(&self) -> String {
        format!("test tone {} Hz at -12 dBFS", self.hz)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_print_back() {
        for s in [
            "loopback",
            "loopback:alsa_output.monitor",
            "mic",
            "mic:hw:1,0",
            "file:/tmp/a b.wav",
            "tone:440",
        ] {
            let spec: SourceSpec = s.parse().expect(s);
            assert_eq!(spec.to_string(), s);
        }
        assert_eq!(
            "mic:hw:1,0".parse::<SourceSpec>().ok(),
            Some(SourceSpec::Mic(Some("hw:1,0".into())))
        );
        for bad in ["", "tone", "tone:abc", "tone:-5", "file:", "speaker"] {
            let e = bad.parse::<SourceSpec>().expect_err(bad);
            assert!(
                e.to_string().contains("expected") || e.to_string().contains("positive"),
                "{e}"
            );
        }
    }

    #[test]
    fn tone_is_minus_12_dbfs_and_rejects_frequencies_above_nyquist() {
        let mut t = Tone::new(440.0, 16_000).expect("tone");
        let mut out = Vec::new();
        assert_eq!(t.fill(16_000, &mut out).expect("fill"), 16_000);
        let level = crate::audio::level::Level::measure(&out);
        assert!((level.peak_dbfs + 12.0).abs() < 0.01, "{level:?}");
        assert!(Tone::new(8000.0, 16_000).is_err());
    }

    #[test]
    fn wav_file_reads_any_format_and_loops() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s24.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8000,
            bits_per_sample: 24,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).expect("create");
        for i in 0..3 {
            w.write_sample(i * 1_000_000).expect("write");
            w.write_sample(-(1 << 23)).expect("write");
        }
        w.finalize().expect("finalize");

        let mut f = WavFile::open(&path, false).expect("open");
        assert_eq!((f.sample_rate(), f.channels()), (8000, 2));
        let mut out = Vec::new();
        assert_eq!(
            f.fill(5, &mut out).expect("fill"),
            3,
            "3 frames, then the end"
        );
        assert_eq!(out.len(), 6);
        assert_eq!(out[1], -1.0);
        assert!((out[2] - 1_000_000.0 / 8_388_608.0).abs() < 1e-6);

        let mut f = WavFile::open(&path, true).expect("open");
        let mut out = Vec::new();
        assert_eq!(
            f.fill(7, &mut out).expect("fill"),
            7,
            "a looped file never ends"
        );
        assert_eq!(out[6], out[0]);

        let missing = WavFile::open(&dir.path().join("nope.wav"), false)
            .err()
            .expect("missing file");
        assert!(missing.to_string().contains("nope.wav"), "{missing}");
    }
}
