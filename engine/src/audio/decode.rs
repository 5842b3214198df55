//! Compressed and uncompressed audio files decoded with symphonia: WAV, FLAC, MP3 and
//! Ogg/Vorbis, with their title and artist tags.

use std::fs::File;
use std::path::{Path, PathBuf};

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, Decoder, DecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::{MetadataOptions, MetadataRevision, StandardTagKey};
use symphonia::core::probe::Hint;

use crate::{Error, Result};

/// File name extensions of the formats [`DecodedFile`] reads (lower case).
pub const AUDIO_EXTENSIONS: [&str; 6] = ["wav", "flac", "mp3", "ogg", "oga", "wave"];

/// What is playing: from the file's tags, else its name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrackInfo {
    /// The title tag, else the file name without its extension.
    pub title: String,
    /// The artist tag; empty if the file has none.
    pub artist: String,
}

/// One audio file being decoded to interleaved `f32` frames (full scale ±1.0).
pub struct DecodedFile {
    path: PathBuf,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track_id: u32,
    rate: u32,
    channels: u16,
    info: TrackInfo,
    /// Decoded samples not handed out yet, and where the next one is.
    pending: Vec<f32>,
    next: usize,
    done: bool,
}

impl DecodedFile {
    /// Opens and probes `path` (by its extension and contents), with gapless trimming (MP3
    /// encoder delay and padding) on.
    ///
    /// # Errors
    /// [`Error::Source`] naming the file if it cannot be opened, is no audio file symphonia
    /// reads, or declares no sample rate or channels.
    pub fn open(path: &Path) -> Result<Self> {
        let bad = |reason: String| Error::Source {
            spec: format!("file:{}", path.display()),
            reason,
        };
        let file = File::open(path).map_err(|e| bad(e.to_string()))?;
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let options = FormatOptions {
            enable_gapless: true,
            ..FormatOptions::default()
        };
        let mut probed = symphonia::default::get_probe()
            .format(&hint, mss, &options, &MetadataOptions::default())
            .map_err(|e| {
                bad(format!(
                    "not an audio file symphonia reads (WAV, FLAC, MP3, Ogg/Vorbis): {e}"
                ))
            })?;
        let mut format = probed.format;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or_else(|| bad("the file has no audio track".into()))?;
        let params = track.codec_params.clone();
        let (rate, channels) = match (params.sample_rate, params.channels) {
            (Some(r), Some(c)) if r > 0 && c.count() > 0 => (r, c.count() as u16),
            _ => return Err(bad("the file declares no sample rate or channels".into())),
        };
        let track_id = track.id;
        let decoder = symphonia::default::get_codecs()
            .make(&params, &DecoderOptions::default())
            .map_err(|e| bad(format!("no decoder for its codec: {e}")))?;
        // Tags: those in the container (Vorbis comments, FLAC), else those found while probing
        // (ID3v2 before an MP3).
        let mut tags = format
            .metadata()
            .current()
            .map(tag_pair)
            .unwrap_or_default();
        if tags.0.is_none() && tags.1.is_none() {
            tags = probed
                .metadata
                .get()
                .and_then(|m| m.current().map(tag_pair))
                .unwrap_or_default();
        }
        let stem = path
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        Ok(Self {
            path: path.to_path_buf(),
            format,
            decoder,
            track_id,
            rate,
            channels,
            info: TrackInfo {
                title: tags.0.unwrap_or(stem),
                artist: tags.1.unwrap_or_default(),
            },
            pending: Vec::new(),
            next: 0,
            done: false,
        })
    }

    /// Sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// Channels per frame.
    pub fn channels(&self) -> u16 {
        self.channels
    }

    /// Title and artist.
    pub fn info(&self) -> &TrackInfo {
        &self.info
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends up to `frames` interleaved frames to `out`; fewer only at the end of the file.
    /// A corrupt packet is skipped (its audio is lost, the rest plays).
    ///
    /// # Errors
    /// [`Error::Source`] if reading the file fails.
    pub fn read(&mut self, frames: usize, out: &mut Vec<f32>) -> Result<usize> {
        let ch = usize::from(self.channels);
        let mut want = frames * ch;
        while want > 0 {
            if self.next == self.pending.len() {
                if self.done || !self.decode_packet()? {
                    self.done = true;
                    break;
                }
                continue;
            }
            let n = want.min(self.pending.len() - self.next);
            out.extend_from_slice(&self.pending[self.next..self.next + n]);
            self.next += n;
            want -= n;
        }
        Ok(frames - want.div_ceil(ch))
    }

    /// Decodes the next packet of the track into `pending`; false at the end of the file.
    fn decode_packet(&mut self) -> Result<bool> {
        loop {
            let packet = match self.format.next_packet() {
                Ok(p) => p,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(false);
                }
                Err(SymError::ResetRequired) => {
                    self.decoder.reset();
                    continue;
                }
                Err(e) => {
                    return Err(Error::Source {
                        spec: format!("file:{}", self.path.display()),
                        reason: format!("reading failed: {e}"),
                    });
                }
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            match self.decoder.decode(&packet) {
                Ok(decoded) => {
                    let spec = *decoded.spec();
                    let mut buf = SampleBuffer::<f32>::new(decoded.capacity() as u64, spec);
                    buf.copy_interleaved_ref(decoded);
                    self.pending.clear();
                    self.pending.extend_from_slice(buf.samples());
                    self.next = 0;
                    return Ok(true);
                }
                Err(SymError::DecodeError(e)) => {
                    tracing::warn!(file = %self.path.display(), error = e, "corrupt packet skipped");
                }
                Err(e) => {
                    return Err(Error::Source {
                        spec: format!("file:{}", self.path.display()),
                        reason: format!("decoding failed: {e}"),
                    });
                }
            }
        }
    }
}

/// (title, artist) from a metadata revision's standard tags.
fn tag_pair(rev: &MetadataRevision) -> (Option<String>, Option<String>) {
    let find = |key: StandardTagKey| {
        rev.tags()
            .iter()
            .find(|t| t.std_key == Some(key))
            .map(|t| t.value.to_string().trim().to_string())
            .filter(|v| !v.is_empty())
    };
    (
        find(StandardTagKey::TrackTitle),
        find(StandardTagKey::Artist),
    )
}

/// Whether `path`'s extension is one of [`AUDIO_EXTENSIONS`].
pub fn is_audio_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}
