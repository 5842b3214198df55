//! The Server tab's *Quality* pick: the stream's format in words.

use std::fmt;

use engine::quality::AudioFormat;

/// A stream format as the picker shows it ("Speech (16 kHz mono)", "Music (48 kHz stereo)").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quality(pub AudioFormat);

impl Quality {
    /// The picker's entries: speech and music, and `current` if it is another format (one set
    /// with `FORMAT` in `.env`).
    pub fn choices(current: Quality) -> Vec<Quality> {
        let mut v = vec![Quality(AudioFormat::SPEECH), Quality(AudioFormat::MUSIC)];
        if !v.contains(&current) {
            v.push(current);
        }
        v
    }

    /// The saved or configured `RATE:CHANNELS`; speech when missing or invalid (a bad value
    /// never stops the window).
    pub fn from_saved(saved: &str) -> Quality {
        Quality(AudioFormat::parse("format", saved).unwrap_or_default())
    }
}

impl fmt::Display for Quality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_formats_are_read_tolerantly() {
        assert_eq!(Quality::from_saved("48000:2"), Quality(AudioFormat::MUSIC));
        assert_eq!(
            Quality::from_saved("nonsense"),
            Quality(AudioFormat::SPEECH)
        );
        let cd = Quality::from_saved("44100:2");
        assert_eq!(Quality::choices(cd).len(), 3);
        assert_eq!(Quality::choices(Quality(AudioFormat::MUSIC)).len(), 2);
        assert_eq!(cd.to_string(), "44.1 kHz stereo");
    }
}
