//! A playlist source: one compressed file, or every audio file of a folder (`folder:DIR`), in
//! name order or shuffled, once or looped, played back to back without gaps.

use std::path::{Path, PathBuf};

use super::Generator;
use super::decode::{DecodedFile, TrackInfo, is_audio_file};
use crate::{Error, Result};

/// Plays files one after the other. Its [`Generator::fill`] stops at the end of each file (so the
/// source stage can mark where the next track starts and follow a change of format), and
/// [`Generator::take_track`] then names the next one.
pub struct Playlist {
    describe: String,
    paths: Vec<PathBuf>,
    /// Index into `paths` of the file playing.
    index: usize,
    shuffle: bool,
    looping: bool,
    current: Option<DecodedFile>,
    /// Whether the current file's track was taken.
    announced: bool,
    /// The format of the last file opened (kept after the list ends).
    format: (u32, u16),
}

impl Playlist {
    /// Every audio file ([`super::decode::AUDIO_EXTENSIONS`]) directly in `dir`, by name (or
    /// shuffled with `shuffle`, again at each loop); `looping` starts over at the end.
    ///
    /// # Errors
    /// [`Error::Source`] if the folder cannot be read, holds no audio file, or none of its files
    /// opens.
    pub fn folder(dir: &Path, shuffle: bool, looping: bool) -> Result<Self> {
        let bad = |reason: String| Error::Source {
            spec: format!("folder:{}", dir.display()),
            reason,
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| bad(e.to_string()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && is_audio_file(p))
            .collect();
        if paths.is_empty() {
            return Err(bad(
                "no audio files in it (WAV, FLAC, MP3, Ogg/Vorbis)".into()
            ));
        }
        paths.sort();
        let describe = format!(
            "folder {} ({} files{}{})",
            dir.display(),
            paths.len(),
            if shuffle { ", shuffled" } else { "" },
            if looping { ", looped" } else { "" }
        );
        Self::start(describe, paths, shuffle, looping)
    }

    /// One file, once or looped (gaplessly).
    ///
    /// # Errors
    /// [`Error::Source`] if it does not open (see [`DecodedFile::open`]).
    pub fn file(path: &Path, looping: bool) -> Result<Self> {
        let describe = format!(
            "file {}{}",
            path.display(),
            if looping { " (looped)" } else { "" }
        );
        Self::start(describe, vec![path.to_path_buf()], false, looping)
    }

    fn start(
        describe: String,
        mut paths: Vec<PathBuf>,
        shuffle: bool,
        looping: bool,
    ) -> Result<Self> {
        if shuffle {
            fastrand::shuffle(&mut paths);
        }
        let mut list = Self {
            describe,
            paths,
            index: 0,
            shuffle,
            looping,
            current: None,
            announced: false,
            format: (0, 0),
        };
        // The first file that opens; its format is the list's until the next one.
        let mut first_error = None;
        for i in 0..list.paths.len() {
            match DecodedFile::open(&list.paths[i]) {
                Ok(f) => {
                    list.index = i;
                    list.format = (f.sample_rate(), f.channels());
                    list.current = Some(f);
                    return Ok(list);
                }
                Err(e) => {
                    // A list of one is that file: its error is the one returned, said once.
                    if list.paths.len() > 1 {
                        tracing::warn!(error = %e, "skipping a file that does not open");
                    }
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| Error::Source {
            spec: list.describe.clone(),
            reason: "nothing to play".into(),
        }))
    }

    /// Moves to the next file that opens (starting over when looping); `None` at the end.
    fn advance(&mut self) {
        self.current = None;
        self.announced = false;
        for _ in 0..self.paths.len() {
            self.index += 1;
            if self.index == self.paths.len() {
                if !self.looping {
                    return;
                }
                self.index = 0;
                if self.shuffle {
                    fastrand::shuffle(&mut self.paths);
                }
            }
            match DecodedFile::open(&self.paths[self.index]) {
                Ok(f) => {
                    self.format = (f.sample_rate(), f.channels());
                    self.current = Some(f);
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "skipping a file that does not open"),
            }
        }
    }
}

impl Generator for Playlist {
    fn sample_rate(&self) -> u32 {
        self.format.0
    }

    fn channels(&self) -> u16 {
        self.format.1
    }

    /// Frames of the current file; at its end, moves to the next and returns what it had (fewer
    /// than asked: the source stage then calls [`Generator::take_track`]).
    fn fill(&mut self, frames: usize, out: &mut Vec<f32>) -> Result<usize> {
        let Some(file) = self.current.as_mut() else {
            return Ok(0);
        };
        let got = match file.read(frames, out) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "skipping the rest of a file that fails");
                0
            }
        };
        if got < frames {
            self.advance();
        }
        Ok(got)
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn take_track(&mut self) -> Option<TrackInfo> {
        if self.announced {
            return None;
        }
        self.announced = true;
        self.current.as_ref().map(|f| f.info().clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAV of `frames` frames of `value` at `rate` Hz, mono.
    fn wav(path: &Path, rate: u32, frames: usize, value: i16) {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).expect("create");
        for _ in 0..frames {
            w.write_sample(value).expect("write");
        }
        w.finalize().expect("finalize");
    }

    #[test]
    fn a_folder_plays_in_name_order_stopping_at_each_track_and_following_its_format() {
        let dir = tempfile::tempdir().expect("tempdir");
        wav(&dir.path().join("2 second.wav"), 8_000, 300, 2_000);
        wav(&dir.path().join("1 first.wav"), 16_000, 500, 1_000);
        std::fs::write(dir.path().join("notes.txt"), "not audio").expect("write");
        std::fs::write(dir.path().join("3 broken.flac"), "not a flac").expect("write");
        let mut list = Playlist::folder(dir.path(), false, false).expect("folder");
        assert_eq!(list.take_track().map(|t| t.title), Some("1 first".into()));
        assert_eq!(list.take_track(), None, "once per track");
        assert_eq!((list.sample_rate(), list.channels()), (16_000, 1));
        let mut out = Vec::new();
        assert_eq!(
            list.fill(800, &mut out).expect("fill"),
            500,
            "stops at the track's end"
        );
        assert_eq!(list.take_track().map(|t| t.title), Some("2 second".into()));
        assert_eq!(list.sample_rate(), 8_000);
        out.clear();
        assert_eq!(list.fill(800, &mut out).expect("fill"), 300);
        assert!(out.iter().all(|&v| (v - 2_000.0 / 32_768.0).abs() < 1e-6));
        // The broken file is skipped; the list has ended.
        assert_eq!(list.take_track(), None);
        assert_eq!(list.fill(10, &mut out).expect("fill"), 0);
    }

    #[test]
    fn a_looped_folder_starts_over_and_an_empty_one_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = Playlist::folder(dir.path(), false, true)
            .err()
            .expect("empty");
        assert!(e.to_string().contains("no audio files"), "{e}");
        wav(&dir.path().join("only.wav"), 16_000, 100, 1);
        let mut list = Playlist::folder(dir.path(), true, true).expect("folder");
        let mut out = Vec::new();
        for _ in 0..3 {
            assert_eq!(list.take_track().map(|t| t.title), Some("only".into()));
            assert_eq!(list.fill(1_000, &mut out).expect("fill"), 100);
        }
    }
}
