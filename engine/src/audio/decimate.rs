//! Downsampling by an integer factor (48 → 16 kHz is 3:1) with one linear-phase FIR low-pass,
//! evaluated only at the kept samples: the live stream's most common conversion at a small
//! fraction of a general resampler's cost.
//!
//! The filter is a windowed sinc with a Kaiser window, designed with Kaiser's formulas for the
//! window's β and length from the stopband attenuation and the transition width (J. F. Kaiser,
//! "Nonrecursive digital filter design using the I0-sinh window function", 1974; as given in
//! Oppenheim & Schafer, *Discrete-Time Signal Processing*, 3rd ed., §7.6.1, eqs. 7.62–7.63).

/// Stopband attenuation of the filter, in dB: 150 dB, above libsamplerate's best sinc
/// converter's measured alias rejection (146.8 dB, `docs/BENCHMARKS.md`), so the figures of the
/// default path do not get worse. Kaiser's design makes the passband ripple the same relative
/// size (3 × 10⁻⁸, i.e. 0.0000003 dB).
pub const STOPBAND_DB: f64 = 150.0;

/// Where the passband ends, as a fraction of the output's Nyquist frequency: 0.9375 (7.5 kHz
/// for a 16 kHz output), as far as libsamplerate's best converter is flat in the same table.
pub const PASSBAND_END: f64 = 0.9375;

/// Where the stopband starts, as a fraction of the output's Nyquist frequency: 1.0625 (8.5 kHz
/// for a 16 kHz output). Between 1.0 and 1.0625 input folds onto 0.9375–1.0 of the output's
/// Nyquist frequency, above the passband (the same trade as libsamplerate's 97 % bandwidth).
pub const STOPBAND_START: f64 = 1.0625;

/// A decimator by an integer factor for interleaved `f32` frames of any channel count, in a
/// stream (the filter's history carries over between calls). Output frame `k` is the filtered
/// input at input frame `k × factor`: no delay in the timeline, though a call returns output
/// only up to `taps / 2` input frames behind the newest input (≈ 5 ms at 48 kHz).
#[derive(Debug, Clone)]
pub struct Decimator {
    factor: usize,
    channels: usize,
    /// The filter, odd length, symmetric, unity gain at 0 Hz.
    taps: Vec<f64>,
    /// Per channel: input samples from the first one the next output needs.
    history: Vec<Vec<f64>>,
}

/// The zeroth-order modified Bessel function of the first kind, I₀(x), by its power series
/// Σ ((x/2)ᵏ / k!)², summed until a term is below 10⁻²¹ of the sum.
fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, mut k) = (1.0f64, 1.0f64, 1.0f64);
    loop {
        term *= (x / (2.0 * k)) * (x / (2.0 * k));
        sum += term;
        if term < sum * 1e-21 {
            return sum;
        }
        k += 1.0;
    }
}

/// The low-pass filter for decimation by `factor`: Kaiser-windowed sinc with its cutoff halfway
/// between [`PASSBAND_END`] and [`STOPBAND_START`], [`STOPBAND_DB`] of attenuation; odd length,
/// normalised to a gain of exactly 1 at 0 Hz. 477 taps for a factor of 3.
pub fn design(factor: usize) -> Vec<f64> {
    use std::f64::consts::PI;
    let factor = factor.max(1) as f64;
    // Edges as fractions of the input sample rate.
    let pass = PASSBAND_END / (2.0 * factor);
    let stop = STOPBAND_START / (2.0 * factor);
    let cutoff = (pass + stop) / 2.0;
    let beta = 0.1102 * (STOPBAND_DB - 8.7);
    let order = ((STOPBAND_DB - 8.0) / (2.285 * 2.0 * PI * (stop - pass))).ceil() as usize;
    let order = order + order % 2; // even order: odd length, a centre tap
    let centre = order as f64 / 2.0;
    let norm = bessel_i0(beta);
    let mut taps: Vec<f64> = (0..=order)
        .map(|n| {
            let t = n as f64 - centre;
            let sinc = if t == 0.0 {
                2.0 * cutoff
            } else {
                (2.0 * PI * cutoff * t).sin() / (PI * t)
            };
            let r = t / centre;
            sinc * bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / norm
        })
        .collect();
    let sum: f64 = taps.iter().sum();
    taps.iter_mut().for_each(|h| *h /= sum);
    taps
}

/// Σ a[i]·b[i] with four running sums (so the compiler can use vector registers).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (ac, bc) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for i in 0..4 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f64 = ar.iter().zip(br).map(|(x, y)| x * y).sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

impl Decimator {
    /// A decimator by `factor` (≥ 1; 1 filters without dropping samples) for `channels`
    /// interleaved channels (0 is taken as 1).
    pub fn new(factor: usize, channels: usize) -> Self {
        let taps = design(factor);
        let half = taps.len() / 2;
        let channels = channels.max(1);
        Self {
            factor: factor.max(1),
            channels,
            // Silence before the first input, so output 0 is centred on input frame 0.
            history: vec![vec![0.0; half]; channels],
            taps,
        }
    }

    /// The filter's length in input frames.
    pub fn taps(&self) -> usize {
        self.taps.len()
    }

    /// Filters one block of interleaved frames (`input.len()` a multiple of the channel count;
    /// a trailing partial frame is ignored) and appends every output frame whose input is
    /// complete to `out`, interleaved.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        for frame in input.chunks_exact(self.channels) {
            for (h, &x) in self.history.iter_mut().zip(frame) {
                h.push(f64::from(x));
            }
        }
        self.emit(out);
    }

    /// Filters the last block, then the `taps / 2` frames still owed (as if silence followed),
    /// and appends their output: in all `⌈frames in / factor⌉` output frames since creation.
    pub fn finish(&mut self, input: &[f32], out: &mut Vec<f32>) {
        self.process(input, out);
        let half = self.taps.len() / 2;
        for h in &mut self.history {
            h.resize(h.len() + half, 0.0);
        }
        self.emit(out);
    }

    /// Takes `frames` input frames of digital silence when the history already holds only
    /// zeros (the caller knows: at least [`Decimator::taps`] zero frames went in last): appends
    /// the zero output frames feeding them would give, without filtering; returns how many.
    pub fn skip_silence(&mut self, frames: usize, out: &mut Vec<f32>) -> usize {
        let len = self.history[0].len() + frames;
        let n = if len >= self.taps.len() {
            (len - self.taps.len()) / self.factor + 1
        } else {
            0
        };
        let keep = len - n * self.factor;
        for h in &mut self.history {
            h.clear();
            h.resize(keep, 0.0);
        }
        out.resize(out.len() + n * self.channels, 0.0);
        n
    }

    /// Appends every output whose window of input is complete, then drops the input no later
    /// output needs.
    fn emit(&mut self, out: &mut Vec<f32>) {
        let len = self.history[0].len();
        let mut start = 0;
        while start + self.taps.len() <= len {
            for h in &self.history {
                out.push(dot(&self.taps, &h[start..start + self.taps.len()]) as f32);
            }
            start += self.factor;
        }
        for h in &mut self.history {
            h.drain(..start);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gain of the filter at `hz` for an input rate of `rate`, in dB.
    fn gain_db(taps: &[f64], hz: f64, rate: f64) -> f64 {
        let w = std::f64::consts::TAU * hz / rate;
        let (re, im) = taps
            .iter()
            .enumerate()
            .fold((0.0, 0.0), |(re, im), (n, h)| {
                (re + h * (w * n as f64).cos(), im - h * (w * n as f64).sin())
            });
        20.0 * (re * re + im * im).sqrt().log10()
    }

    #[test]
    fn the_3_to_1_filter_is_flat_to_7_5_khz_and_150_db_down_from_8_5_khz() {
        let taps = design(3);
        assert_eq!(taps.len(), 477);
        for hz in [0.0, 20.0, 1000.0, 4000.0, 7000.0, 7300.0, 7500.0] {
            let g = gain_db(&taps, hz, 48_000.0);
            assert!(g.abs() < 1e-5, "{hz} Hz: {g} dB");
        }
        for hz in [
            8500.0, 9000.0, 10_000.0, 12_000.0, 16_000.0, 20_000.0, 23_900.0,
        ] {
            let g = gain_db(&taps, hz, 48_000.0);
            assert!(g < -STOPBAND_DB + 3.0, "{hz} Hz: {g} dB");
        }
    }

    #[test]
    fn blocks_of_any_size_give_the_same_output_centred_on_the_input() {
        let input: Vec<f32> = (0..4800)
            .flat_map(|i| {
                let w = std::f64::consts::TAU * f64::from(i) / 48_000.0;
                [(w * 997.0).sin() * 0.5, (w * 440.0).sin() * 0.25].map(|x| x as f32)
            })
            .collect();
        let mut whole = Decimator::new(3, 2);
        let mut a = Vec::new();
        whole.finish(&input, &mut a);
        assert_eq!(a.len(), 2 * 1600, "⌈4800 / 3⌉ frames");
        let mut pieces = Decimator::new(3, 2);
        let mut b = Vec::new();
        for block in input.chunks(2 * 7) {
            pieces.process(block, &mut b);
        }
        pieces.finish(&[], &mut b);
        assert_eq!(a, b);
        // No delay: output k is input frame 3k filtered (a 997 Hz tone passes unchanged).
        for k in 400..1200 {
            let (x, y) = (input[2 * 3 * k], a[2 * k]);
            assert!((x - y).abs() < 1e-6, "frame {k}: {x} vs {y}");
        }
    }

    #[test]
    fn skipped_silence_gives_what_filtering_it_would() {
        let tone: Vec<f32> = (0..600).map(|i| (i as f32 * 0.05).sin()).collect();
        let mut fed = Decimator::new(3, 1);
        let mut a = Vec::new();
        fed.process(&tone, &mut a);
        fed.process(&[0.0; 1000], &mut a);
        let mut skipped = fed.clone();
        let mut b = a.clone();
        let before = a.len();
        fed.process(&[0.0; 1001], &mut a);
        let n = skipped.skip_silence(1001, &mut b);
        assert_eq!(n, a.len() - before);
        assert!(n >= 333);
        fed.finish(&tone, &mut a);
        skipped.finish(&tone, &mut b);
        assert_eq!(a, b);
    }
}
