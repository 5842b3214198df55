//! Where a recording's audio goes once its format is known: one [`FrameSink`] per destination.
//! The WAV writer and the live player are the two today; the recorder feeds every sink the same
//! frames and gaps. A new sink (another file format, a network relay) implements [`FrameSink`]
//! here and is added where the recorder builds its sinks.

use std::path::Path;
use std::sync::Arc;

use crate::Result;
use crate::audio::playback::Player;
use crate::wav::WavSink;

/// A destination of received audio. Samples are PCM16 little-endian, channels interleaved;
/// counts are in samples of all channels.
pub trait FrameSink: Send + Sync {
    /// Appends `pcm` (whole samples).
    ///
    /// # Errors
    /// The destination cannot take it (disk full, file removed).
    fn write_pcm16(&mut self, pcm: &[u8]) -> Result<()>;

    /// Appends `samples` samples of silence standing for audio that was missed.
    ///
    /// # Errors
    /// As [`FrameSink::write_pcm16`].
    fn write_silence(&mut self, samples: u64) -> Result<()>;

    /// A new track starts here: a cue point labelled `label` at the current end (WAV files);
    /// nothing for other sinks.
    fn mark(&mut self, _label: &str) {}

    /// Called about once a second while recording (crash safety).
    ///
    /// # Errors
    /// As [`FrameSink::write_pcm16`].
    fn tick(&mut self) -> Result<()> {
        Ok(())
    }

    /// The recording reached its requested length: make what was written durable now.
    ///
    /// # Errors
    /// As [`FrameSink::write_pcm16`].
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    /// The recording ended: finalize.
    ///
    /// # Errors
    /// As [`FrameSink::write_pcm16`].
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }

    /// The file this sink writes, if it writes one.
    fn path(&self) -> Option<&Path> {
        None
    }
}

impl FrameSink for WavSink {
    fn write_pcm16(&mut self, pcm: &[u8]) -> Result<()> {
        self.write_pcm16_le(pcm)
    }

    fn write_silence(&mut self, samples: u64) -> Result<()> {
        WavSink::write_silence(self, samples)
    }

    fn tick(&mut self) -> Result<()> {
        self.flush_if_due()
    }

    fn mark(&mut self, label: &str) {
        WavSink::mark(self, label);
    }

    fn flush(&mut self) -> Result<()> {
        WavSink::flush(self)
    }

    fn finish(&mut self) -> Result<()> {
        self.finalize()
    }

    fn path(&self) -> Option<&Path> {
        Some(WavSink::path(self))
    }
}

/// Live listening: audio goes to the player's jitter buffer, with the stream's sample rate
/// (Hz) and channel count. Gaps are not played: the player bridges them as it bridges any late
/// audio.
pub struct PlayerSink {
    /// The player.
    pub player: Arc<Player>,
    /// The stream's sample rate in Hz.
    pub rate: u32,
    /// The stream's channels.
    pub channels: u16,
}

impl FrameSink for PlayerSink {
    fn write_pcm16(&mut self, pcm: &[u8]) -> Result<()> {
        self.player.feed(pcm, self.rate, self.channels);
        Ok(())
    }

    fn write_silence(&mut self, _samples: u64) -> Result<()> {
        Ok(())
    }
}
