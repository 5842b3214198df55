//! A level preview of a source before it is served: the source stage runs as it would for the
//! server (same pipeline, same DSP), and only the level of each chunk is kept.
//!
//! Front ends show it so the user sees that the chosen source carries sound (or not) before
//! pressing *Start serving*.

use std::sync::Arc;

use crate::Result;
use crate::audio::level::{Level, LevelCell};
use crate::audio::sources::SourceSpec;
use crate::pipeline::{Output, Pipeline, PipelineConfig};

/// A running preview; dropping it stops its source stage (and closes the device).
pub struct Preview {
    level: Arc<LevelCell>,
    spec: SourceSpec,
    _pipeline: Pipeline,
}

impl std::fmt::Debug for Preview {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Preview({})", self.spec)
    }
}

impl Preview {
    /// Opens `spec` (files loop) and starts measuring it with `config` (the stream's rate and
    /// chunk duration). Blocks while a device opens (up to [`crate::audio::devices::OPEN_TIMEOUT`]): call
    /// it from a blocking thread, not from an async runtime's worker.
    ///
    /// # Errors
    /// Whatever opening the source returns ([`crate::Error::Source`], [`crate::Error::WavRead`],
    /// [`crate::Error::Config`] for a tone at or above half the rate).
    pub fn start(spec: &SourceSpec, config: PipelineConfig) -> Result<Self> {
        let input = spec.open(true, config.rate, config.chunk)?;
        let level = Arc::new(LevelCell::default());
        let sink_level = level.clone();
        let pipeline = Pipeline::spawn(input, config, move |out| {
            if let Output::Chunk(chunk) = out {
                sink_level.store(chunk.level);
            }
        })?;
        Ok(Self {
            level,
            spec: spec.clone(),
            _pipeline: pipeline,
        })
    }

    /// The level of the latest chunk ([`Level::SILENCE`] before the first).
    pub fn level(&self) -> Level {
        self.level.load()
    }

    /// The source being previewed.
    pub fn spec(&self) -> &SourceSpec {
        &self.spec
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_tone_previews_at_minus_12_dbfs_peak() {
        let preview =
            Preview::start(&SourceSpec::Tone(440.0), PipelineConfig::default()).expect("tone");
        std::thread::sleep(std::time::Duration::from_millis(200));
        let level = preview.level();
        assert!((level.peak_dbfs + 12.0).abs() < 0.1, "{level:?}");
        // A sine's RMS is 3.01 dB below its peak.
        assert!((level.rms_dbfs + 15.05).abs() < 0.1, "{level:?}");
    }
}
