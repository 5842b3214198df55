//! Sample-rate conversion with libsamplerate, in a stream, for interleaved frames of any channel
//! count.

use samplerate::{ConverterType, Samplerate};

use crate::{Error, Result};

/// Converts interleaved `f32` frames from one sample rate to another with libsamplerate, in a
/// stream: state carries over between calls, so consecutive blocks join without clicks or lost
/// samples. Channels are converted each on their own (libsamplerate's interleaved mode), so
/// they stay apart.
///
/// Equal rates bypass libsamplerate entirely (samples pass through unchanged). Not `Send`: create
/// it on the thread that uses it.
pub struct Resampler {
    inner: Option<Samplerate>,
    channels: usize,
    /// Output frames per input frame (`to_hz / from_hz`).
    ratio: f64,
    /// Frames of digital silence (exact zeros) fed to the converter since the last non-zero
    /// sample.
    zeros_fed: usize,
    /// Fraction of an output frame owed by skipped silence (for an exact long-run length).
    carry: f64,
    /// Input frames of silence not passed to the converter.
    skipped: u64,
}

/// Input frames of digital silence after which libsamplerate's output is digital silence too,
/// so further silence skips the converter (a silent sink costs no resampling): 8,192 frames
/// (171 ms at 48 kHz). The widest filter, `SincBestQuality`, reaches about 143 input frames
/// either side at unity ratio (its coefficient table of 340,239 entries at an increment of 2,381,
/// libsamplerate's `src_sinc.c`), widened by the ratio when downsampling (429 frames at 3:1);
/// once the whole window holds zeros, every output is exactly 0.0. 8,192 leaves room for ratios
/// down to 1/19 and for the converter's internal input buffer.
pub const SILENCE_SETTLE: usize = 8192;

impl Resampler {
    /// A resampler of `channels` interleaved channels from `from_hz` to `to_hz` using
    /// `converter`.
    ///
    /// # Errors
    /// [`Error::Resampler`] if libsamplerate rejects the ratio (it supports 1/256 to 256) or the
    /// channel count (zero).
    pub fn new(from_hz: u32, to_hz: u32, channels: u16, converter: ConverterType) -> Result<Self> {
        let inner = if from_hz == to_hz {
            None
        } else {
            Some(
                Samplerate::new(converter, from_hz, to_hz, usize::from(channels))
                    .map_err(Error::Resampler)?,
            )
        };
        Ok(Self {
            inner,
            channels: usize::from(channels.max(1)),
            ratio: f64::from(to_hz) / f64::from(from_hz),
            zeros_fed: 0,
            carry: 0.0,
            skipped: 0,
        })
    }

    /// Input frames of digital silence that skipped libsamplerate (see [`Resampler::process`]).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Whether samples go through libsamplerate (false when the rates are equal).
    pub fn is_active(&self) -> bool {
        self.inner.is_some()
    }

    /// Resamples one block of interleaved frames (`input.len()` a multiple of the channel
    /// count); the output may be a few frames shorter or longer than `frames × to/from` because
    /// the converter keeps a short history.
    ///
    /// Digital silence that follows [`SILENCE_SETTLE`] frames of zeros is not passed to
    /// libsamplerate: its output would be zeros, so `frames × to/from` frames of zeros are
    /// appended (a fraction carried to the next block). The converter's history then holds only
    /// zeros, as it would after being fed them, so audio that follows comes out the same (at
    /// most a fraction of a frame earlier or later).
    ///
    /// # Errors
    /// [`Error::Resampler`] if libsamplerate fails.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<()> {
        let Some(src) = &self.inner else {
            out.extend_from_slice(input);
            return Ok(());
        };
        let frames = input.len() / self.channels;
        let zeros = input.iter().rev().take_while(|&&x| x == 0.0).count() / self.channels;
        if zeros == frames && self.zeros_fed >= SILENCE_SETTLE {
            let exact = frames as f64 * self.ratio + self.carry;
            let n = exact.floor();
            self.carry = exact - n;
            self.skipped += frames as u64;
            out.resize(out.len() + n as usize * self.channels, 0.0);
            return Ok(());
        }
        self.zeros_fed = if zeros == frames {
            self.zeros_fed.saturating_add(zeros)
        } else {
            zeros
        };
        out.extend(src.process(input).map_err(Error::Resampler)?);
        Ok(())
    }

    /// Processes the last block and drains the converter (keeps calling it with end-of-input set
    /// until it returns nothing), so the total output length is exact.
    ///
    /// # Errors
    /// [`Error::Resampler`] if libsamplerate fails.
    pub fn finish(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<()> {
        match &self.inner {
            None => out.extend_from_slice(input),
            Some(src) => out.extend(src.process_last(input).map_err(Error::Resampler)?),
        }
        Ok(())
    }
}
