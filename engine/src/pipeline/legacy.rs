//! The legacy side stage: the original's 16 kHz mono version of a stream of another format,
//! made only while a legacy client is connected.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::{LegacyDemand, PipelineConfig};
use crate::audio::dsp::{self, Chain};

/// Downmixes and resamples each chunk to 16 kHz mono while the demand flag is set; idle (no
/// converter, no buffers in use) otherwise.
pub(super) struct LegacyStage {
    demand: LegacyDemand,
    config: PipelineConfig,
    chain: Option<Chain>,
    out: Vec<f32>,
    bytes: Vec<u8>,
    /// Whether a converter failure was already reported (once per demand).
    failed: bool,
}

impl LegacyStage {
    pub(super) fn new(demand: LegacyDemand, config: PipelineConfig) -> Self {
        Self {
            demand,
            config,
            chain: None,
            out: Vec::new(),
            bytes: Vec::new(),
            failed: false,
        }
    }

    /// The 16 kHz mono PCM16 LE bytes of `samples` (one chunk, interleaved at the stream's
    /// format), or `None` when the stream is 16 kHz mono itself or nobody wants it. A new
    /// demand starts a fresh converter, whose first chunks are shorter by its delay.
    pub(super) fn make(&mut self, samples: &[f32]) -> Option<Bytes> {
        if self.config.is_legacy_format() || !self.demand.load(Ordering::Acquire) {
            self.chain = None;
            self.failed = false;
            return None;
        }
        if self.chain.is_none() {
            let c = &self.config;
            match Chain::new(
                c.channels,
                c.rate,
                wire::DEFAULT_SAMPLE_RATE,
                1,
                c.converter,
            ) {
                Ok(chain) => self.chain = Some(chain),
                Err(e) => {
                    if !self.failed {
                        tracing::warn!(error = %e, "cannot make the 16 kHz mono legacy stream");
                        self.failed = true;
                    }
                    return None;
                }
            }
            self.out.clear();
        }
        let chain = self.chain.as_mut()?;
        if let Err(e) = chain.process(samples, &mut self.out) {
            tracing::warn!(error = %e, "legacy stream: resampling failed; this chunk is skipped");
            self.out.clear();
            return Some(Bytes::new());
        }
        self.bytes.clear();
        dsp::f32_to_pcm16_bytes(&self.out, &mut self.bytes);
        self.out.clear();
        Some(Bytes::copy_from_slice(&self.bytes))
    }
}
