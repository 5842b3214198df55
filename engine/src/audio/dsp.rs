//! Signal processing: downmix to mono, resample with libsamplerate, convert to PCM16 (levels are
//! in [`super::level`]).
//!
//! Samples are `f32` in [-1.0, 1.0] (full scale) until [`f32_to_pcm16`]. "Frames" are one sample
//! per channel; for mono, frames and samples are the same.

use samplerate::{ConverterType, Samplerate};

use crate::{Error, Result};

/// The libsamplerate converter used unless another is asked for: the best sinc converter
/// (see `docs/BENCHMARKS.md` for the measured quality and speed of each).
pub const DEFAULT_CONVERTER: ConverterType = ConverterType::SincBestQuality;

/// Averages interleaved frames of `channels` channels into mono samples appended to `out`.
///
/// `interleaved.len()` should be a multiple of `channels`; a trailing partial frame is ignored.
/// With `channels == 1` the samples are copied unchanged.
pub fn downmix_into(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    match channels {
        0 => {}
        1 => out.extend_from_slice(interleaved),
        2 => out.extend(interleaved.chunks_exact(2).map(|f| (f[0] + f[1]) * 0.5)),
        n => {
            let scale = 1.0 / n as f32;
            out.extend(
                interleaved
                    .chunks_exact(n)
                    .map(|f| f.iter().sum::<f32>() * scale),
            );
        }
    }
}

/// Converts one sample to PCM16: scales by 32,768, rounds to nearest, clips to [−32,768, 32,767].
///
/// Paired with [`pcm16_to_f32`] (÷ 32,768) this is exact for every PCM16 value, so a 16-bit
/// source passes through bit for bit.
pub fn f32_to_pcm16(x: f32) -> i16 {
    let scaled = (x * 32768.0).round();
    if scaled.is_nan() {
        0
    } else {
        scaled.clamp(-32768.0, 32767.0) as i16
    }
}

/// Converts a PCM16 sample to `f32` full scale (÷ 32,768).
pub fn pcm16_to_f32(s: i16) -> f32 {
    f32::from(s) / 32768.0
}

/// Appends `samples` as PCM16 little-endian bytes (2 bytes per sample) to `out`.
pub fn f32_to_pcm16_bytes(samples: &[f32], out: &mut Vec<u8>) {
    out.reserve(samples.len() * 2);
    for &s in samples {
        out.extend_from_slice(&f32_to_pcm16(s).to_le_bytes());
    }
}

/// Converts mono `f32` samples from one sample rate to another with libsamplerate, in a stream:
/// state carries over between calls, so consecutive blocks join without clicks or lost samples.
///
/// Equal rates bypass libsamplerate entirely (samples pass through unchanged). Not `Send`: create
/// it on the thread that uses it.
pub struct Resampler {
    inner: Option<Samplerate>,
    /// Output samples per input sample (`to_hz / from_hz`).
    ratio: f64,
    /// Digital silence (exact zeros) fed to the converter since the last non-zero sample.
    zeros_fed: usize,
    /// Fraction of an output sample owed by skipped silence (for an exact long-run length).
    carry: f64,
    /// Input samples of silence not passed to the converter.
    skipped: u64,
}

/// Input samples of digital silence after which libsamplerate's output is digital silence too,
/// so further silence skips the converter (a silent sink costs no resampling): 8,192 samples
/// (171 ms at 48 kHz). The widest filter, `SincBestQuality`, reaches about 143 input samples
/// either side at unity ratio (its coefficient table of 340,239 entries at an increment of 2,381,
/// libsamplerate's `src_sinc.c`), widened by the ratio when downsampling (429 samples at 3:1);
/// once the whole window holds zeros, every output is exactly 0.0. 8,192 leaves room for ratios
/// down to 1/19 and for the converter's internal input buffer.
pub const SILENCE_SETTLE: usize = 8192;

impl Resampler {
    /// A mono resampler from `from_hz` to `to_hz` using `converter`.
    ///
    /// # Errors
    /// [`Error::Resampler`] if libsamplerate rejects the ratio (it supports 1/256 to 256).
    pub fn new(from_hz: u32, to_hz: u32, converter: ConverterType) -> Result<Self> {
        let inner = if from_hz == to_hz {
            None
        } else {
            Some(Samplerate::new(converter, from_hz, to_hz, 1).map_err(Error::Resampler)?)
        };
        Ok(Self {
            inner,
            ratio: f64::from(to_hz) / f64::from(from_hz),
            zeros_fed: 0,
            carry: 0.0,
            skipped: 0,
        })
    }

    /// Input samples of digital silence that skipped libsamplerate (see [`Resampler::process`]).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Whether samples go through libsamplerate (false when the rates are equal).
    pub fn is_active(&self) -> bool {
        self.inner.is_some()
    }

    /// Resamples one block; the output may be a few samples shorter or longer than
    /// `input.len() × to/from` because the converter keeps a short history.
    ///
    /// Digital silence that follows [`SILENCE_SETTLE`] zeros is not passed to libsamplerate:
    /// its output would be zeros, so `input.len() × to/from` zeros are appended (a fraction
    /// carried to the next block). The converter's history then holds only zeros, as it would
    /// after being fed them, so audio that follows comes out the same (at most a fraction of a
    /// sample earlier or later).
    ///
    /// # Errors
    /// [`Error::Resampler`] if libsamplerate fails.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<()> {
        let Some(src) = &self.inner else {
            out.extend_from_slice(input);
            return Ok(());
        };
        let zeros = input.iter().rev().take_while(|&&x| x == 0.0).count();
        if zeros == input.len() && self.zeros_fed >= SILENCE_SETTLE {
            let exact = input.len() as f64 * self.ratio + self.carry;
            let n = exact.floor();
            self.carry = exact - n;
            self.skipped += input.len() as u64;
            out.resize(out.len() + n as usize, 0.0);
            return Ok(());
        }
        self.zeros_fed = if zeros == input.len() {
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

/// Downmix + resample: interleaved frames at the source's rate and channel count in, mono samples
/// at the stream's rate out.
pub struct Chain {
    channels: usize,
    resampler: Resampler,
    mono: Vec<f32>,
}

impl Chain {
    /// A chain for `channels`-channel input at `from_hz`, producing mono at `to_hz`.
    ///
    /// # Errors
    /// [`Error::Resampler`] as [`Resampler::new`]; [`Error::Source`] for zero channels.
    pub fn new(channels: u16, from_hz: u32, to_hz: u32, converter: ConverterType) -> Result<Self> {
        if channels == 0 {
            return Err(Error::Source {
                spec: "input".into(),
                reason: "the source has zero channels".into(),
            });
        }
        Ok(Self {
            channels: usize::from(channels),
            resampler: Resampler::new(from_hz, to_hz, converter)?,
            mono: Vec::new(),
        })
    }

    /// Processes interleaved `frames`, appending mono output samples to `out`.
    ///
    /// # Errors
    /// [`Error::Resampler`] if libsamplerate fails.
    pub fn process(&mut self, frames: &[f32], out: &mut Vec<f32>) -> Result<()> {
        if !self.resampler.is_active() {
            downmix_into(frames, self.channels, out);
            return Ok(());
        }
        self.mono.clear();
        downmix_into(frames, self.channels, &mut self.mono);
        self.resampler.process(&self.mono, out)
    }

    /// Processes the last interleaved `frames` and drains the resampler.
    ///
    /// # Errors
    /// [`Error::Resampler`] if libsamplerate fails.
    pub fn finish(&mut self, frames: &[f32], out: &mut Vec<f32>) -> Result<()> {
        self.mono.clear();
        downmix_into(frames, self.channels, &mut self.mono);
        self.resampler.finish(&self.mono, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::level::Level;
    use std::f64::consts::PI;

    fn sine(freq: f64, rate: u32, amplitude: f64, frames: usize, channels: usize) -> Vec<f32> {
        (0..frames)
            .flat_map(|i| {
                let v = (amplitude * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin()) as f32;
                std::iter::repeat_n(v, channels)
            })
            .collect()
    }

    /// Power of `x` at `freq` (Goertzel), normalised so a sine of amplitude A gives A²/4... as
    /// a relative measure only: we compare bins with each other.
    fn goertzel(x: &[f32], freq: f64, rate: f64) -> f64 {
        let w = 2.0 * PI * freq / rate;
        let coeff = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &v in x {
            let s0 = f64::from(v) + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        s1 * s1 + s2 * s2 - coeff * s1 * s2
    }

    fn run_chain(input: &[f32], channels: u16, from: u32, to: u32) -> Vec<f32> {
        let mut chain = Chain::new(channels, from, to, DEFAULT_CONVERTER).expect("chain");
        let mut out = Vec::new();
        // Feed in 20 ms blocks, as the pipeline does.
        let block = (from as usize / 50) * usize::from(channels);
        let mut chunks = input.chunks(block).peekable();
        while let Some(c) = chunks.next() {
            if chunks.peek().is_some() {
                chain.process(c, &mut out).expect("process");
            } else {
                chain.finish(c, &mut out).expect("finish");
            }
        }
        out
    }

    #[test]
    fn sine_1k_48k_stereo_becomes_16k_mono_with_same_frequency_and_level() {
        let input = sine(1000.0, 48_000, 0.5, 48_000, 2);
        let out = run_chain(&input, 2, 48_000, 16_000);
        assert_eq!(out.len(), 16_000, "1 s in, exactly 1 s out");
        let steady = &out[1600..14400];
        // Dominant frequency: scan 100 Hz .. 7900 Hz in 10 Hz steps.
        let best = (10..790)
            .map(|k| f64::from(k) * 10.0)
            .max_by(|a, b| {
                goertzel(steady, *a, 16_000.0).total_cmp(&goertzel(steady, *b, 16_000.0))
            })
            .expect("non-empty scan");
        assert!(
            (best - 1000.0).abs() <= 10.0,
            "dominant frequency {best} Hz"
        );
        let in_level = Level::measure(&input).rms_dbfs;
        let out_level = Level::measure(steady).rms_dbfs;
        assert!(
            (in_level - out_level).abs() < 0.1,
            "RMS {in_level} dBFS in, {out_level} dBFS out"
        );
    }

    #[test]
    fn tone_above_nyquist_is_attenuated_by_80_db() {
        let pass = run_chain(&sine(1000.0, 48_000, 0.5, 48_000, 1), 1, 48_000, 16_000);
        let stop = run_chain(&sine(12_000.0, 48_000, 0.5, 48_000, 1), 1, 48_000, 16_000);
        let pass_db = Level::measure(&pass[1600..14400]).rms_dbfs;
        let stop_db = Level::measure(&stop[1600..14400]).rms_dbfs;
        assert!(
            pass_db - stop_db >= 80.0,
            "pass {pass_db} dBFS, stop {stop_db} dBFS"
        );
    }

    #[test]
    fn pcm16_conversion_rounds_clips_and_round_trips() {
        assert_eq!(f32_to_pcm16(1.0), 32767);
        assert_eq!(f32_to_pcm16(-1.0), -32768);
        assert_eq!(f32_to_pcm16(2.5), 32767);
        assert_eq!(f32_to_pcm16(-7.0), -32768);
        assert_eq!(f32_to_pcm16(f32::NAN), 0);
        assert_eq!(f32_to_pcm16(0.4 / 32768.0), 0);
        assert_eq!(f32_to_pcm16(0.6 / 32768.0), 1);
        for s in i16::MIN..=i16::MAX {
            assert_eq!(f32_to_pcm16(pcm16_to_f32(s)), s);
        }
        let mut bytes = Vec::new();
        f32_to_pcm16_bytes(&[pcm16_to_f32(1), pcm16_to_f32(-1)], &mut bytes);
        assert_eq!(bytes, [0x01, 0x00, 0xff, 0xff]);
    }

    #[test]
    fn downmix_averages_channels() {
        let mut out = Vec::new();
        downmix_into(&[1.0, 0.0, 0.5, 0.5], 2, &mut out);
        downmix_into(&[0.3, 0.3, 0.9], 3, &mut out);
        downmix_into(&[0.25], 1, &mut out);
        assert_eq!(out.len(), 4);
        assert!((out[0] - 0.5).abs() < 1e-6 && (out[1] - 0.5).abs() < 1e-6);
        assert!((out[2] - 0.5).abs() < 1e-6 && (out[3] - 0.25).abs() < 1e-6);
    }

    /// Silence after the settle length skips libsamplerate: the output up to then is the
    /// converter's own, bit for bit; the skipped part is zeros of the exact length; a tone after
    /// it comes out at the same frequency and level.
    #[test]
    fn digital_silence_skips_the_converter_after_it_settles() {
        let conv = ConverterType::SincBestQuality;
        let mut skipping = Resampler::new(48_000, 16_000, conv).expect("resampler");
        let reference = Samplerate::new(conv, 48_000, 16_000, 1).expect("reference");
        let tone = sine(1000.0, 48_000, 0.5, 9_600, 1);
        let mut input = tone.clone();
        input.extend(std::iter::repeat_n(0.0, 48_000));
        let (mut got, mut want) = (Vec::new(), Vec::new());
        for block in input.chunks(960) {
            skipping.process(block, &mut got).expect("process");
            want.extend(reference.process(block).expect("reference"));
        }
        // As long as from the converter fed every zero (which holds back its filter's reach).
        assert!(
            (got.len() as i64 - want.len() as i64).abs() <= 1,
            "{} vs {}",
            got.len(),
            want.len()
        );
        // 1 s of silence less the settle length and the block in which it was reached.
        assert!(skipping.skipped() >= 48_000 - SILENCE_SETTLE as u64 - 960);
        let common = want.len().min(got.len());
        assert_eq!(
            &got[..common],
            &want[..common],
            "same output where both ran"
        );
        assert!(got[4_000..].iter().all(|&x| x == 0.0));
        let mut after = Vec::new();
        skipping.process(&tone, &mut after).expect("process");
        let steady = &after[400..];
        let level = Level::measure(steady).rms_dbfs;
        assert!((level - (-9.03)).abs() < 0.1, "{level}");
        let peak_bin = [900.0, 1000.0, 1100.0].into_iter().max_by(|a, b| {
            goertzel(steady, *a, 16_000.0).total_cmp(&goertzel(steady, *b, 16_000.0))
        });
        assert_eq!(peak_bin, Some(1000.0));
    }

    #[test]
    fn equal_rates_bypass_the_resampler() {
        let input: Vec<f32> = (0..1000).map(|i| pcm16_to_f32(i as i16)).collect();
        let mut chain = Chain::new(1, 16_000, 16_000, DEFAULT_CONVERTER).expect("chain");
        let mut out = Vec::new();
        chain.process(&input, &mut out).expect("process");
        assert_eq!(out, input);
    }
}
