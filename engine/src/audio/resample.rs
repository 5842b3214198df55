//! Sample-rate conversion in a stream, for interleaved frames of any channel count: the FIR
//! decimator ([`super::decimate`]) for integer downsampling ratios, libsamplerate otherwise.

use samplerate::{ConverterType, Samplerate};

use super::decimate::Decimator;
use crate::{Error, Result};

/// Which sample-rate converter to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Converter {
    /// The best quality for the least work: the FIR decimator ([`Decimator`]) where the input
    /// rate is an integer multiple of the output rate (48 → 16 kHz: 3:1), libsamplerate's best
    /// sinc converter for any other ratio. Measured in `docs/BENCHMARKS.md` ("DSP").
    Best,
    /// One of libsamplerate's converters, whatever the ratio.
    Libsamplerate(ConverterType),
}

/// What does the converting.
enum Backend {
    /// Equal rates: samples pass through.
    Pass,
    Src(Samplerate),
    Fir(Decimator),
}

/// Converts interleaved `f32` frames from one sample rate to another ([`Converter`]), in a
/// stream: state carries over between calls, so consecutive blocks join without clicks or lost
/// samples. Channels are converted each on their own, so they stay apart.
///
/// Equal rates bypass conversion entirely (samples pass through unchanged). Not `Send`
/// (libsamplerate's state): create it on the thread that uses it.
pub struct Resampler {
    inner: Backend,
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
/// down to 1/19 and for the converter's internal input buffer. The decimator's filter is
/// shorter (477 frames at 3:1, [`super::decimate::design`]).
pub const SILENCE_SETTLE: usize = 8192;

impl Resampler {
    /// A resampler of `channels` interleaved channels from `from_hz` to `to_hz` using
    /// `converter`.
    ///
    /// # Errors
    /// [`Error::Resampler`] if libsamplerate rejects the ratio (it supports 1/256 to 256) or the
    /// channel count (zero).
    pub fn new(from_hz: u32, to_hz: u32, channels: u16, converter: Converter) -> Result<Self> {
        let integer_down = to_hz > 0 && from_hz > to_hz && from_hz.is_multiple_of(to_hz);
        let inner = match converter {
            _ if from_hz == to_hz => Backend::Pass,
            Converter::Best if integer_down && channels > 0 => Backend::Fir(Decimator::new(
                (from_hz / to_hz) as usize,
                usize::from(channels),
            )),
            Converter::Best => Self::src(ConverterType::SincBestQuality, from_hz, to_hz, channels)?,
            Converter::Libsamplerate(c) => Self::src(c, from_hz, to_hz, channels)?,
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

    fn src(c: ConverterType, from_hz: u32, to_hz: u32, channels: u16) -> Result<Backend> {
        Samplerate::new(c, from_hz, to_hz, usize::from(channels))
            .map(Backend::Src)
            .map_err(Error::Resampler)
    }

    /// Input frames of digital silence that skipped the converter (see [`Resampler::process`]).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Whether samples are converted (false when the rates are equal).
    pub fn is_active(&self) -> bool {
        !matches!(self.inner, Backend::Pass)
    }

    /// Whether the FIR decimator converts (an integer downsampling ratio with
    /// [`Converter::Best`]).
    pub fn is_decimator(&self) -> bool {
        matches!(self.inner, Backend::Fir(_))
    }

    /// Resamples one block of interleaved frames (`input.len()` a multiple of the channel
    /// count); the output may be a few frames shorter or longer than `frames × to/from` because
    /// the converter keeps a short history.
    ///
    /// Digital silence that follows [`SILENCE_SETTLE`] frames of zeros is not passed to the
    /// converter: its output would be zeros, so that many frames of zeros are appended
    /// (libsamplerate: `frames × to/from`, a fraction carried to the next block; the decimator:
    /// exactly the frames it would have given). The converter's history then holds only zeros,
    /// as it would after being fed them, so audio that follows comes out the same (with
    /// libsamplerate at most a fraction of a frame earlier or later; with the decimator
    /// exactly).
    ///
    /// # Errors
    /// [`Error::Resampler`] if libsamplerate fails.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<()> {
        if let Backend::Pass = self.inner {
            out.extend_from_slice(input);
            return Ok(());
        }
        let frames = input.len() / self.channels;
        self.frames_in += frames as u64;
        let zeros = input.iter().rev().take_while(|&&x| x == 0.0).count() / self.channels;
        if zeros == frames && self.zeros_fed >= SILENCE_SETTLE {
            self.skipped += frames as u64;
            let n = match &mut self.inner {
                Backend::Fir(d) => d.skip_silence(frames, out),
                _ => {
                    let exact = frames as f64 * self.ratio + self.carry;
                    let n = exact.floor();
                    self.carry = exact - n;
                    out.resize(out.len() + n as usize * self.channels, 0.0);
                    n as usize
                }
            };
            self.frames_out += n as u64;
            return Ok(());
        }
        self.zeros_fed = if zeros == frames {
            self.zeros_fed.saturating_add(zeros)
        } else {
            zeros
        };
        let before = out.len();
        match &mut self.inner {
            Backend::Src(src) => out.extend(src.process(input).map_err(Error::Resampler)?),
            Backend::Fir(d) => d.process(input, out),
            Backend::Pass => {}
        }
        self.frames_out += ((out.len() - before) / self.channels) as u64;
        Ok(())
    }

    /// Processes the last block and drains the converter (libsamplerate: keeps calling it with
    /// end-of-input set until it returns nothing; the decimator: filters the frames it still
    /// owes), then makes the total output exactly `frames in × to / from`
    /// frames, rounded to nearest: libsamplerate's drained total may be one frame over or
    /// under (measured: 480,001 frames from 10 s at 44.1 kHz to 48 kHz), so the last frame is
    /// dropped or a zero frame added.
    ///
    /// # Errors
    /// [`Error::Resampler`] if libsamplerate fails.
    pub fn finish(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<()> {
        self.frames_in += (input.len() / self.channels) as u64;
        let before = out.len();
        match &mut self.inner {
            Backend::Pass => {
                out.extend_from_slice(input);
                return Ok(());
            }
            Backend::Src(src) => out.extend(src.process_last(input).map_err(Error::Resampler)?),
            Backend::Fir(d) => d.finish(input, out),
        }
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
        let mut r = Resampler::new(44_100, 48_000, 2, Converter::Best).expect("r");
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

    /// 48 → 16 kHz with [`Converter::Best`] is the decimator; a second of digital silence
    /// between two tones skips it, and the whole output is bit for bit what the decimator gives
    /// when fed every zero, exactly ⌈frames / 3⌉ long before `finish` rounds it.
    #[test]
    fn the_decimator_skips_silence_without_changing_a_sample() {
        let mut r = Resampler::new(48_000, 16_000, 2, Converter::Best).expect("r");
        assert!(r.is_decimator());
        let tone: Vec<f32> = (0..9_600).map(|i| (i as f32 * 0.13).sin() * 0.5).collect(); // 4,800 frames
        let mut input = tone.clone();
        input.extend(std::iter::repeat_n(0.0, 2 * 48_000));
        input.extend(&tone);
        let mut direct = Decimator::new(3, 2);
        let (mut got, mut want) = (Vec::new(), Vec::new());
        for block in input.chunks(2 * 960) {
            r.process(block, &mut got).expect("process");
            direct.process(block, &mut want);
        }
        assert!(r.skipped() >= 48_000 - SILENCE_SETTLE as u64 - 960);
        assert_eq!(got, want);
        r.finish(&[], &mut got).expect("finish");
        assert_eq!(got.len(), 2 * 19_200, "(4,800 + 48,000 + 4,800) / 3 frames");
    }
}
