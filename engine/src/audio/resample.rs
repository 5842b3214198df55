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
    /// The rates, for the exact total length at [`Resampler::finish`].
    rates: (u32, u32),
    /// Frames taken in and given out so far.
    frames_in: u64,
    frames_out: u64,
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
            rates: (from_hz, to_hz),
            frames_in: 0,
            frames_out: 0,
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
        self.frames_in += frames as u64;
        let zeros = input.iter().rev().take_while(|&&x| x == 0.0).count() / self.channels;
        if zeros == frames && self.zeros_fed >= SILENCE_SETTLE {
            let exact = frames as f64 * self.ratio + self.carry;
            let n = exact.floor();
            self.carry = exact - n;
            self.skipped += frames as u64;
            self.frames_out += n as u64;
            out.resize(out.len() + n as usize * self.channels, 0.0);
            return Ok(());
        }
        self.zeros_fed = if zeros == frames {
            self.zeros_fed.saturating_add(zeros)
        } else {
            zeros
        };
        let before = out.len();
        out.extend(src.process(input).map_err(Error::Resampler)?);
        self.frames_out += ((out.len() - before) / self.channels) as u64;
        Ok(())
    }

    /// Processes the last block and drains the converter (keeps calling it with end-of-input set
    /// until it returns nothing), then makes the total output exactly `frames in × to / from`
    /// frames, rounded to nearest: libsamplerate's drained total may be one frame over or
    /// under (measured: 480,001 frames from 10 s at 44.1 kHz to 48 kHz), so the last frame is
    /// dropped or a zero frame added.
    ///
    /// # Errors
    /// [`Error::Resampler`] if libsamplerate fails.
    pub fn finish(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<()> {
        let Some(src) = &self.inner else {
            out.extend_from_slice(input);
            return Ok(());
        };
        self.frames_in += (input.len() / self.channels) as u64;
        let before = out.len();
        out.extend(src.process_last(input).map_err(Error::Resampler)?);
        self.frames_out += ((out.len() - before) / self.channels) as u64;
        let (from, to) = (u128::from(self.rates.0), u128::from(self.rates.1));
        let want = ((u128::from(self.frames_in) * to + from / 2) / from) as u64;
        let have = self.frames_out;
        if have > want {
            let cut = ((have - want) as usize * self.channels).min(out.len() - before);
            out.truncate(out.len() - cut);
        } else {
            out.resize(out.len() + (want - have) as usize * self.channels, 0.0);
        }
        self.frames_out = want;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 10 s of 44.1 kHz stereo (a tone left, another right) to 48 kHz: exactly 480,000 frames,
    /// each channel its own tone with nothing of the other.
    #[test]
    fn stereo_44k1_to_48k_keeps_channels_apart_and_the_exact_length() {
        let tone = |hz: f64, i: usize| {
            (0.5 * (std::f64::consts::TAU * hz * i as f64 / 44_100.0).sin()) as f32
        };
        let input: Vec<f32> = (0..441_000)
            .flat_map(|i| [tone(440.0, i), tone(1000.0, i)])
            .collect();
        let mut r = Resampler::new(44_100, 48_000, 2, ConverterType::SincBestQuality).expect("r");
        let mut out = Vec::new();
        let blocks: Vec<&[f32]> = input.chunks(882 * 2).collect();
        for (i, b) in blocks.iter().enumerate() {
            if i + 1 == blocks.len() {
                r.finish(b, &mut out).expect("finish");
            } else {
                r.process(b, &mut out).expect("process");
            }
        }
        assert_eq!(out.len(), 2 * 480_000);
        let power = |ch: usize, hz: f64| {
            let w = std::f64::consts::TAU * hz / 48_000.0;
            let (mut re, mut im) = (0.0f64, 0.0f64);
            for (k, f) in out.chunks_exact(2).enumerate().skip(24_000).take(96_000) {
                re += f64::from(f[ch]) * (w * k as f64).cos();
                im += f64::from(f[ch]) * (w * k as f64).sin();
            }
            re * re + im * im
        };
        let left = 10.0 * (power(0, 440.0) / power(0, 1000.0)).log10();
        let right = 10.0 * (power(1, 1000.0) / power(1, 440.0)).log10();
        assert!(left > 90.0 && right > 90.0, "{left:.1} / {right:.1} dB");
    }
}
