//! The source picker's entries.

use std::path::PathBuf;

use engine::audio::devices::DeviceInfo;

/// One entry of the source picker.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceChoice {
    /// A sound-card source (loopback or microphone).
    Device {
        /// The spec `serve --source` takes.
        spec: String,
        /// What the picker shows.
        label: String,
    },
    /// An audio file (WAV, FLAC, MP3, Ogg/Vorbis), chosen with a file dialog.
    WavFile(Option<PathBuf>),
    /// A folder played as a playlist (looped, gapless, tracks announced), chosen with a
    /// folder dialog.
    Folder(Option<PathBuf>),
    /// The 440 Hz test tone.
    Tone,
}

impl std::fmt::Display for SourceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Device { label, .. } => f.write_str(label),
            Self::WavFile(None) => f.write_str("Audio file (WAV, FLAC, MP3, Ogg)…"),
            Self::WavFile(Some(p)) => write!(
                f,
                "Audio file: {}",
                p.file_name().map_or_else(
                    || p.display().to_string(),
                    |n| n.to_string_lossy().to_string()
                )
            ),
            Self::Folder(None) => f.write_str("Folder (playlist)…"),
            Self::Folder(Some(p)) => write!(f, "Folder: {}", p.display()),
            Self::Tone => f.write_str("Test tone (440 Hz, -12 dBFS)"),
        }
    }
}

impl SourceChoice {
    pub(super) fn from_device(d: &DeviceInfo) -> Self {
        let kind = match d.kind {
            engine::audio::devices::DeviceKind::Loopback => "Loopback",
            _ => "Microphone",
        };
        let default = if d.is_default { " (default)" } else { "" };
        Self::Device {
            spec: d.spec(),
            label: format!("{kind}: {}{default}", d.name),
        }
    }

    /// The source spec, if complete (a WAV file needs its path).
    pub fn spec(&self) -> Option<String> {
        match self {
            Self::Device { spec, .. } => Some(spec.clone()),
            Self::WavFile(Some(p)) => Some(format!("file:{}", p.display())),
            Self::WavFile(None) | Self::Folder(None) => None,
            Self::Folder(Some(p)) => Some(format!("folder:{}", p.display())),
            Self::Tone => Some("tone:440".into()),
        }
    }
}
