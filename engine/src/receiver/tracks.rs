//! Track marks in a recording: a cue point where each track starts, or with `record --split`
//! a new file there.

use tracing::info;

use super::output::{Output, numbered};
use crate::Result;
use crate::wav::WavSink;

impl Output {
    /// Files written: 1 (or one per track with `split`); 0 without a file.
    pub(super) fn files(&self) -> usize {
        match (&self.split, self.path()) {
            (_, None) => 0,
            (Some((_, _, n)), _) => *n as usize,
            (None, Some(_)) => 1,
        }
    }

    /// Frames written so far (at the written format).
    pub(super) fn written_frames(&self) -> u64 {
        self.written / u64::from(self.written_format.channels.max(1))
    }

    /// A track labelled `label` starts at `frame` (written format, from the recording's start):
    /// marked when the audio gets there (at once if it already has).
    pub(super) fn mark_at(&mut self, frame: u64, label: String) {
        self.marks.push_back((frame, label));
    }

    /// The audio has reached a track start: a cue point in the file, or with `split` (and
    /// audio already in the current file) the next numbered file, which starts with the cue.
    pub(super) fn start_track(&mut self, label: &str) -> Result<()> {
        let in_file = self.written_frames() - self.file_start;
        if let Some((base, overwrite, n)) = self.split.as_mut()
            && in_file > 0
        {
            *n += 1;
            let path = numbered(base, *n);
            let f = self.written_format;
            let file = WavSink::create(&path, f.rate, f.channels, *overwrite)?;
            if let Some(old) = self.sinks.iter_mut().find(|s| s.path().is_some()) {
                old.finish()?;
                *old = Box::new(file);
            }
            info!(path = %path.display(), track = %label, "next track: next file");
            self.new_files.push(path);
            self.file_start = self.written_frames();
        }
        info!(frame = self.written_frames(), track = %label, "track starts");
        for sink in &mut self.sinks {
            sink.mark(label);
        }
        Ok(())
    }
}
