//! Signal processing: remix channels (downmix to mono, mono to stereo), resample with
//! libsamplerate ([`super::resample`]), convert to PCM16 (levels are in [`super::level`]).
//!
//! Samples are `f32` in [-1.0, 1.0] (full scale) until [`f32_to_pcm16`]. "Frames" are one sample
//! per channel; for mono, frames and samples are the same.

pub use super::resample::{Converter, Resampler, SILENCE_SETTLE};
use crate::{Error, Result};

/// The converter used unless another is asked for: [`Converter::Best`] (the FIR decimator for
/// 48 → 16 kHz, libsamplerate's best sinc converter for other ratios; see `docs/BENCHMARKS.md`
/// for the measured quality and speed of each).
pub const DEFAULT_CONVERTER: Converter = Converter::Best;

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

/// Appends PCM16 little-endian `bytes` to `out` as `f32` samples ([`pcm16_to_f32`]); a
/// trailing odd byte is ignored.
pub fn pcm16_bytes_into(bytes: &[u8], out: &mut Vec<f32>) {
    out.extend(
        bytes
            .chunks_exact(2)
            .map(|b| pcm16_to_f32(i16::from_le_bytes([b[0], b[1]]))),
    );
}

/// Appends `samples` as PCM16 little-endian bytes (2 bytes per sample) to `out`.
pub fn f32_to_pcm16_bytes(samples: &[f32], out: &mut Vec<u8>) {
    out.reserve(samples.len() * 2);
    for &s in samples {
        out.extend_from_slice(&f32_to_pcm16(s).to_le_bytes());
    }
}

/// Maps interleaved frames of `from` channels to `to` channels, appending to `out`: to mono,
/// the channels' average ([`downmix_into`]); to stereo, a mono source on both sides and a source
/// of three or more channels by its first two (front left and front right in the WAVE and ALSA
/// channel orders: the rest is dropped); equal counts are copied unchanged. Other targets take
/// the first `to` channels, padding with silence.
pub fn remix_into(interleaved: &[f32], from: usize, to: usize, out: &mut Vec<f32>) {
    match (from, to) {
        (0, _) | (_, 0) => {}
        (f, t) if f == t => out.extend_from_slice(&interleaved[..interleaved.len() / f * f]),
        (f, 1) => downmix_into(interleaved, f, out),
        (1, 2) => out.extend(interleaved.iter().flat_map(|&x| [x, x])),
        (f, t) => {
            for frame in interleaved.chunks_exact(f) {
                out.extend((0..t).map(|c| frame.get(c).copied().unwrap_or(0.0)));
            }
        }
    }
}

/// Remix + resample: interleaved frames at the source's rate and channel count in, interleaved
/// frames at the stream's rate and channel count out.
pub struct Chain {
    in_channels: usize,
    out_channels: usize,
    resampler: Resampler,
    mixed: Vec<f32>,
}

impl Chain {
    /// A chain for `in_channels`-channel input at `from_hz`, producing `out_channels` channels
    /// (see [`remix_into`]) at `to_hz`. libsamplerate runs only where the rates differ.
    ///
    /// # Errors
    /// [`Error::Resampler`] as [`Resampler::new`]; [`Error::Source`] for zero channels.
    pub fn new(
        in_channels: u16,
        from_hz: u32,
        to_hz: u32,
        out_channels: u16,
        converter: Converter,
    ) -> Result<Self> {
        if in_channels == 0 || out_channels == 0 {
            return Err(Error::Source {
                spec: "input".into(),
                reason: "the source or the stream has zero channels".into(),
            });
        }
        Ok(Self {
            in_channels: usize::from(in_channels),
            out_channels: usize::from(out_channels),
            resampler: Resampler::new(from_hz, to_hz, out_channels, converter)?,
            mixed: Vec::new(),
        })
    }

    /// Processes interleaved `frames`, appending interleaved output frames to `out`.
    ///
    /// # Errors
    /// [`Error::Resampler`] if libsamplerate fails.
    pub fn process(&mut self, frames: &[f32], out: &mut Vec<f32>) -> Result<()> {
        if !self.resampler.is_active() {
            remix_into(frames, self.in_channels, self.out_channels, out);
            return Ok(());
        }
        self.mixed.clear();
        remix_into(frames, self.in_channels, self.out_channels, &mut self.mixed);
        self.resampler.process(&self.mixed, out)
    }

    /// Processes the last interleaved `frames` and drains the resampler.
    ///
    /// # Errors
    /// [`Error::Resampler`] if libsamplerate fails.
    pub fn finish(&mut self, frames: &[f32], out: &mut Vec<f32>) -> Result<()> {
        self.mixed.clear();
        remix_into(frames, self.in_channels, self.out_channels, &mut self.mixed);
        self.resampler.finish(&self.mixed, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::level::Level;
    use samplerate::Samplerate;
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
        let mut chain = Chain::new(channels, from, to, 1, DEFAULT_CONVERTER).expect("chain");
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
        let conv = samplerate::ConverterType::SincBestQuality;
        let mut skipping =
            Resampler::new(48_000, 16_000, 1, Converter::Libsamplerate(conv)).expect("resampler");
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
        let mut chain = Chain::new(1, 16_000, 16_000, 1, DEFAULT_CONVERTER).expect("chain");
        let mut out = Vec::new();
        chain.process(&input, &mut out).expect("process");
        assert_eq!(out, input);
    }
}
