//! A stream's audio format as users name it: `RATE:CHANNELS` (`16000:1`, `48000:2`), with the
//! two qualities the window offers, *Speech* and *Music*.

use std::fmt;
use std::str::FromStr;

use crate::config::{RATE_RANGE, Settings};
use crate::{Error, Result};

/// Sample rate (Hz) and channel count of a stream of PCM16.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AudioFormat {
    /// Sample rate in Hz, within [`RATE_RANGE`].
    pub rate: u32,
    /// Interleaved channels: 1 or 2.
    pub channels: u16,
}

impl AudioFormat {
    /// The original's format and the default: 16 kHz mono (speech).
    pub const SPEECH: Self = Self {
        rate: wire::DEFAULT_SAMPLE_RATE,
        channels: 1,
    };
    /// Music: 48 kHz stereo, the rate of most PC sound servers (no resampling of their monitor).
    pub const MUSIC: Self = Self {
        rate: 48_000,
        channels: 2,
    };

    /// `FORMAT`: the flag, else the environment / `.env`, else [`AudioFormat::SPEECH`].
    ///
    /// # Errors
    /// [`Error::Config`] naming the flag or `FORMAT` for a value [`AudioFormat::parse`] refuses.
    pub fn from_settings(settings: &Settings, flag: Option<&str>) -> Result<Self> {
        match (flag, settings.get("FORMAT")) {
            (Some(f), _) => Self::parse("--format", f),
            (None, Some((v, _))) => Self::parse("FORMAT", v),
            (None, None) => Ok(Self::SPEECH),
        }
    }

    /// Parses `RATE:CHANNELS` (rate in Hz within [`RATE_RANGE`], 1 or 2 channels; a bare rate
    /// means mono); `name` is used in the error.
    ///
    /// # Errors
    /// [`Error::Config`] otherwise.
    pub fn parse(name: &str, value: &str) -> Result<Self> {
        let bad = |why: &str| Error::config(name, value, why);
        let v = value.trim();
        let (rate, channels) = v.split_once(':').unwrap_or((v, "1"));
        let rate: u32 = rate
            .trim()
            .parse()
            .map_err(|_| bad("expected RATE:CHANNELS, e.g. 48000:2 or 16000:1"))?;
        if !RATE_RANGE.contains(&rate) {
            return Err(bad("expected a rate of 1000 to 384000 Hz"));
        }
        match channels.trim() {
            "1" => Ok(Self { rate, channels: 1 }),
            "2" => Ok(Self { rate, channels: 2 }),
            _ => Err(bad("expected 1 (mono) or 2 (stereo) channels")),
        }
    }

    /// "Speech (16 kHz mono)", "Music (48 kHz stereo)", else e.g. "44.1 kHz stereo".
    pub fn label(&self) -> String {
        let kind = match *self {
            Self::SPEECH => "Speech ",
            Self::MUSIC => "Music ",
            _ => "",
        };
        let khz = f64::from(self.rate) / 1000.0;
        let ch = if self.channels == 1 { "mono" } else { "stereo" };
        if kind.is_empty() {
            format!("{khz} kHz {ch}")
        } else {
            format!("{kind}({khz} kHz {ch})")
        }
    }
}

impl Default for AudioFormat {
    fn default() -> Self {
        Self::SPEECH
    }
}

impl fmt::Display for AudioFormat {
    /// `RATE:CHANNELS`, as parsed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.rate, self.channels)
    }
}

impl FromStr for AudioFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse("format", s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn parses_rate_and_channels() {
        assert_eq!(
            AudioFormat::parse("--format", "48000:2").ok(),
            Some(AudioFormat::MUSIC)
        );
        assert_eq!(
            AudioFormat::parse("--format", " 44100:2 ").ok(),
            Some(AudioFormat {
                rate: 44_100,
                channels: 2
            })
        );
        assert_eq!(
            AudioFormat::parse("--format", "16000").ok(),
            Some(AudioFormat::SPEECH)
        );
        for bad in [
            "", "48000:3", "48000:0", "999:1", "abc:2", "48000:x", "400000:2",
        ] {
            let e = AudioFormat::parse("--format", bad).expect_err(bad);
            assert!(e.to_string().contains("--format"), "{e}");
        }
        assert_eq!(AudioFormat::MUSIC.to_string(), "48000:2");
        assert_eq!(AudioFormat::MUSIC.label(), "Music (48 kHz stereo)");
        assert_eq!(AudioFormat::SPEECH.label(), "Speech (16 kHz mono)");
        let cd = AudioFormat::parse("f", "44100:2").expect("cd");
        assert_eq!(cd.label(), "44.1 kHz stereo");
    }

    #[test]
    fn the_flag_beats_format_in_the_environment() {
        let env = HashMap::from([("FORMAT".to_string(), "48000:2".to_string())]);
        let s = Settings::from_maps(env, HashMap::new());
        assert_eq!(
            AudioFormat::from_settings(&s, None).ok(),
            Some(AudioFormat::MUSIC)
        );
        assert_eq!(
            AudioFormat::from_settings(&s, Some("16000:1")).ok(),
            Some(AudioFormat::SPEECH)
        );
        let bad = HashMap::from([("FORMAT".to_string(), "fast".to_string())]);
        let e = AudioFormat::from_settings(&Settings::from_maps(bad, HashMap::new()), None)
            .expect_err("bad");
        assert!(e.to_string().contains("FORMAT"), "{e}");
        assert_eq!(
            AudioFormat::from_settings(&Settings::default(), None).ok(),
            Some(AudioFormat::SPEECH)
        );
    }
}
