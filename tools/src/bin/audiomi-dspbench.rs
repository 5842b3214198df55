//! `audiomi-dspbench`: quality and speed of the real source-stage DSP (downmix to mono,
//! resampling, PCM16) for 48 kHz stereo → 16 kHz mono, for the default converter (the FIR
//! decimator, `engine::audio::decimate`) and every libsamplerate converter.
//!
//! Measured per converter, feeding 20 ms blocks as the pipeline does:
//! - SINAD of a 997 Hz sine at −6 dBFS, before and after the PCM16 step: 10·log10 of the power
//!   of the best-fitting 997 Hz sine over the power of everything else (least-squares fit of
//!   sine and cosine at the known frequency, steady part only). The PCM16 limit with rounding is
//!   6.02·16 + 1.76 − 6 = 92.1 dB for a −6 dBFS sine.
//! - Alias rejection: tones from 8.5 to 23 kHz at −6 dBFS, which must not come through; the
//!   output's RMS relative to the input's, worst case (before PCM16, where it is visible).
//! - Passband: the gain at 20 Hz … 7.5 kHz from the same fit, worst deviation up to 7 kHz.
//! - Length: 10 s in must give exactly 160,000 samples once the converter is flushed.
//! - Speed: seconds of audio processed per second of one core (real-time factor).
//!
//! Then the hi-fi formats (stereo kept stereo, default converter): 44.1 kHz → 48 kHz (a CD-rate
//! sink or file) and 48 kHz → 48 kHz (no libsamplerate), with 440 Hz on the left and 1 kHz on
//! the right at −6 dBFS: SINAD of each channel after PCM16 (its own tone fitted, everything
//! else, the other channel's tone included, counted as noise), channel separation (the fitted
//! power of a channel's own tone over that of the other channel's tone in it) and length.
//!
//! ```text
//! cargo run --profile packaging -p audiomi-tools --bin audiomi-dspbench
//! ```

use std::f64::consts::TAU;
use std::time::Instant;

use engine::audio::dsp::{Chain, Converter, f32_to_pcm16, pcm16_to_f32};
use samplerate::ConverterType;

const IN_RATE: u32 = 48_000;
const OUT_RATE: u32 = 16_000;
const AMPLITUDE: f64 = 0.501_187_233_627_272_3; // −6 dBFS

fn sine(freq: f64, seconds: f64) -> Vec<f32> {
    let n = (seconds * f64::from(IN_RATE)) as usize;
    (0..n)
        .flat_map(|i| {
            let v = (AMPLITUDE * (TAU * freq * i as f64 / f64::from(IN_RATE)).sin()) as f32;
            [v, v]
        })
        .collect()
}

fn run(converter: Converter, input: &[f32]) -> Vec<f32> {
    let mut chain = match Chain::new(2, IN_RATE, OUT_RATE, 1, converter) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("audiomi-dspbench: {e}");
            std::process::exit(1);
        }
    };
    let block = (IN_RATE as usize / 50) * 2;
    let mut out = Vec::with_capacity(input.len() / 6 + 64);
    let chunks: Vec<&[f32]> = input.chunks(block).collect();
    for (i, c) in chunks.iter().enumerate() {
        let r = if i + 1 == chunks.len() {
            chain.finish(c, &mut out)
        } else {
            chain.process(c, &mut out)
        };
        if let Err(e) = r {
            eprintln!("audiomi-dspbench: {e}");
            std::process::exit(1);
        }
    }
    out
}

/// Least-squares fit of a sine at `freq` to `x`: (amplitude, residual power, signal power).
fn fit(x: &[f32], freq: f64, rate: f64) -> (f64, f64, f64) {
    let (mut ss, mut sc, mut cc, mut xs, mut xc) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, &v) in x.iter().enumerate() {
        let w = TAU * freq * i as f64 / rate;
        let (s, c) = w.sin_cos();
        ss += s * s;
        sc += s * c;
        cc += c * c;
        xs += f64::from(v) * s;
        xc += f64::from(v) * c;
    }
    let det = ss * cc - sc * sc;
    let a = (xs * cc - xc * sc) / det;
    let b = (xc * ss - xs * sc) / det;
    let mut residual = 0.0;
    let mut signal = 0.0;
    for (i, &v) in x.iter().enumerate() {
        let w = TAU * freq * i as f64 / rate;
        let model = a * w.sin() + b * w.cos();
        signal += model * model;
        residual += (f64::from(v) - model).powi(2);
    }
    (
        (a * a + b * b).sqrt(),
        residual / x.len() as f64,
        signal / x.len() as f64,
    )
}

fn db(x: f64) -> f64 {
    10.0 * x.max(1e-30).log10()
}

fn steady(x: &[f32]) -> &[f32] {
    let skip = OUT_RATE as usize / 2;
    &x[skip.min(x.len())..x.len().saturating_sub(skip)]
}

/// Quality and speed of each libsamplerate converter through audioMi's source-stage DSP
/// (48 kHz stereo in, 16 kHz mono out); prints a Markdown table. No options.
#[derive(Debug, clap::Parser)]
#[command(version)]
struct Args {}

fn main() {
    let Args {} = <Args as clap::Parser>::parse();
    let src = Converter::Libsamplerate;
    let converters = [
        ("FIR decimator 3:1 (default)", Converter::Best),
        ("sinc best", src(ConverterType::SincBestQuality)),
        ("sinc medium", src(ConverterType::SincMediumQuality)),
        ("sinc fastest", src(ConverterType::SincFastest)),
        ("linear", src(ConverterType::Linear)),
        ("zero-order hold", src(ConverterType::ZeroOrderHold)),
    ];
    let ten_seconds = sine(997.0, 10.0);
    let alias_tones = [
        8_500.0, 9_000.0, 10_000.0, 12_000.0, 16_000.0, 20_000.0, 23_000.0,
    ];
    let pass_tones = [
        20.0, 100.0, 1_000.0, 4_000.0, 6_000.0, 7_000.0, 7_300.0, 7_500.0,
    ];
    println!("48 kHz stereo -> 16 kHz mono, 20 ms blocks (audioMi's source stage)");
    println!(
        "| converter | SINAD f32 (dB) | SINAD PCM16 (dB) | alias rejection 8.5-23 kHz (dB, worst) | passband dev. to 7 kHz (dB) | gain at 7.3 / 7.5 kHz (dB) | samples from 10 s | speed (x real time) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (name, converter) in converters {
        let started = Instant::now();
        let out = run(converter, &ten_seconds);
        let elapsed = started.elapsed().as_secs_f64();
        let speed = 10.0 / elapsed;
        let (_, residual, signal) = fit(steady(&out), 997.0, f64::from(OUT_RATE));
        let sinad_f32 = db(signal / residual);
        let quantised: Vec<f32> = out.iter().map(|&v| pcm16_to_f32(f32_to_pcm16(v))).collect();
        let (_, residual_q, signal_q) = fit(steady(&quantised), 997.0, f64::from(OUT_RATE));
        let sinad_pcm16 = db(signal_q / residual_q);
        let in_power = AMPLITUDE * AMPLITUDE / 2.0;
        let worst_alias = alias_tones
            .iter()
            .map(|&f| {
                let o = run(converter, &sine(f, 2.0));
                let s = steady(&o);
                let p =
                    s.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / s.len().max(1) as f64;
                db(in_power / p)
            })
            .fold(f64::INFINITY, f64::min);
        let gains: Vec<(f64, f64)> = pass_tones
            .iter()
            .map(|&f| {
                let o = run(converter, &sine(f, 2.0));
                let (amp, _, _) = fit(steady(&o), f, f64::from(OUT_RATE));
                (f, 20.0 * (amp / AMPLITUDE).log10())
            })
            .collect();
        let flat = gains
            .iter()
            .filter(|(f, _)| *f <= 7_000.0)
            .map(|(_, g)| g.abs())
            .fold(0.0, f64::max);
        let g73 = gains
            .iter()
            .find(|(f, _)| *f == 7_300.0)
            .map_or(0.0, |g| g.1);
        let g75 = gains
            .iter()
            .find(|(f, _)| *f == 7_500.0)
            .map_or(0.0, |g| g.1);
        println!(
            "| {name} | {sinad_f32:.1} | {sinad_pcm16:.1} | {worst_alias:.1} | {flat:.3} | {g73:.2} / {g75:.2} | {} | {speed:.0} |",
            out.len()
        );
    }
    hifi_table();
}

/// 10 s of stereo at `rate`: 440 Hz left, 1 kHz right, both at −6 dBFS.
fn left_right(rate: u32) -> Vec<f32> {
    let n = 10 * rate as usize;
    let at = |f: f64, i: usize| (AMPLITUDE * (TAU * f * i as f64 / f64::from(rate)).sin()) as f32;
    (0..n).flat_map(|i| [at(440.0, i), at(1000.0, i)]).collect()
}

/// The hi-fi table: stereo through the source stage's chain at 48 kHz out.
fn hifi_table() {
    const OUT: u32 = 48_000;
    println!();
    println!("hi-fi: stereo -> 48 kHz stereo, sinc best, 20 ms blocks, after PCM16");
    println!(
        "| from | SINAD left 440 Hz (dB) | SINAD right 1 kHz (dB) | separation L / R (dB) | frames from 10 s | speed (x real time) |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for from in [44_100u32, 48_000] {
        let input = left_right(from);
        let mut chain = match Chain::new(2, from, OUT, 2, engine::audio::dsp::DEFAULT_CONVERTER) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("audiomi-dspbench: {e}");
                std::process::exit(1);
            }
        };
        let started = Instant::now();
        let mut out = Vec::new();
        let blocks: Vec<&[f32]> = input.chunks(from as usize / 50 * 2).collect();
        for (i, b) in blocks.iter().enumerate() {
            let r = if i + 1 == blocks.len() {
                chain.finish(b, &mut out)
            } else {
                chain.process(b, &mut out)
            };
            if let Err(e) = r {
                eprintln!("audiomi-dspbench: {e}");
                std::process::exit(1);
            }
        }
        let speed = 10.0 / started.elapsed().as_secs_f64();
        let q: Vec<f32> = out.iter().map(|&v| pcm16_to_f32(f32_to_pcm16(v))).collect();
        let left: Vec<f32> = q.iter().step_by(2).copied().collect();
        let right: Vec<f32> = q.iter().skip(1).step_by(2).copied().collect();
        let skip = OUT as usize / 2;
        let steady = |x: &[f32]| x[skip..x.len() - skip].to_vec();
        let (l, r) = (steady(&left), steady(&right));
        let rate = f64::from(OUT);
        let (_, l_res, l_sig) = fit(&l, 440.0, rate);
        let (_, r_res, r_sig) = fit(&r, 1000.0, rate);
        let (_, _, l_leak) = fit(&l, 1000.0, rate);
        let (_, _, r_leak) = fit(&r, 440.0, rate);
        println!(
            "| {} kHz | {:.1} | {:.1} | {:.1} / {:.1} | {} | {:.0} |",
            f64::from(from) / 1000.0,
            db(l_sig / l_res),
            db(r_sig / r_res),
            db(l_sig / l_leak),
            db(r_sig / r_leak),
            left.len(),
            speed
        );
    }
}
