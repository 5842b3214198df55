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

    /// The audio has reached a track start at frame `at`: a cue point in the file, or with
    /// `split` (and audio already in the current file) the next numbered file, which starts with
    /// the cue. A track that started at or before the current file's first frame (its notice came
    /// after the first audio, as when a receiver joins as the source starts) only labels that
    /// file: splitting would leave the track's first frames alone in a file of their own.
    pub(super) fn start_track(&mut self, at: u64, label: &str) -> Result<()> {
        let in_file = self.written_frames() - self.file_start;
        if let Some((base, overwrite, n)) = self.split.as_mut()
            && in_file > 0
            && at > self.file_start
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

#[cfg(test)]
mod tests {
    use super::super::RecordConfig;
    use super::Output;

    /// Frames in a finished WAV file.
    fn frames(path: &std::path::Path) -> u32 {
        hound::WavReader::open(path).expect("a WAV file").duration()
    }

    /// A receiver that joins as the source starts gets its first audio before the first track's
    /// notice, which then names frame 0: that labels the first file instead of leaving the
    /// track's first frames alone in it. A later track still starts the next file.
    #[test]
    fn a_notice_for_the_files_first_frame_labels_it_and_a_later_one_splits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = RecordConfig::new("127.0.0.1:1", dir.path().join("t.wav"));
        config.split = true;
        let mut out = Output::open(&config, wire::StreamFormat::legacy(0), None).expect("open");
        let block = [0u8; 200]; // 100 frames of 16 kHz mono PCM16
        out.write(Some(&block), 0).expect("write");
        out.mark_at(0, "late notice of the first track".into());
        out.write(Some(&block), 0).expect("write");
        out.mark_at(200, "second track".into());
        out.write(Some(&block), 0).expect("write");
        out.finish().expect("finish");
        assert_eq!(frames(&dir.path().join("t-01.wav")), 200);
        assert_eq!(frames(&dir.path().join("t-02.wav")), 100);
        assert!(!dir.path().join("t-03.wav").exists());
    }
}
