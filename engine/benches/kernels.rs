//! Criterion benchmarks of the per-chunk kernels: one 20 ms chunk of 48 kHz stereo through each
//! step of the source stage (downmix, libsamplerate per converter, PCM16, level), and the wire
//! codec's encode and decode of one 16 kHz chunk (640 bytes of PCM16).
//!
//! ```text
//! cargo bench -p engine --bench kernels
//! ```
//! Results and the machine: docs/BENCHMARKS.md.

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use engine::audio::dsp::{Chain, Converter, downmix_into, f32_to_pcm16_bytes};
use engine::audio::level::Level;
use samplerate::ConverterType;

/// Frames in 20 ms at 48 kHz.
const FRAMES: usize = 960;

fn stereo_sine() -> Vec<f32> {
    (0..FRAMES)
        .flat_map(|i| {
            let x = (i as f32 * std::f32::consts::TAU * 997.0 / 48_000.0).sin() * 0.5;
            [x, x]
        })
        .collect()
}

fn dsp(c: &mut Criterion) {
    let input = stereo_sine();
    let mut g = c.benchmark_group("20 ms of 48 kHz stereo");
    g.throughput(Throughput::Elements(FRAMES as u64));
    let mut mono = Vec::with_capacity(FRAMES);
    g.bench_function("downmix", |b| {
        b.iter(|| {
            mono.clear();
            downmix_into(black_box(&input), 2, &mut mono);
        })
    });
    let src = Converter::Libsamplerate;
    for (name, converter) in [
        ("chain FIR decimator (default)", Converter::Best),
        ("chain sinc best", src(ConverterType::SincBestQuality)),
        ("chain sinc medium", src(ConverterType::SincMediumQuality)),
        ("chain sinc fastest", src(ConverterType::SincFastest)),
        ("chain linear", src(ConverterType::Linear)),
    ] {
        let mut chain = Chain::new(2, 48_000, 16_000, 1, converter).expect("converter");
        let mut out = Vec::with_capacity(FRAMES);
        g.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                chain.process(black_box(&input), &mut out).expect("process");
            })
        });
    }
    g.finish();

    let mono16: Vec<f32> = (0..320).map(|i| (i as f32 * 0.01).sin() * 0.5).collect();
    let mut g = c.benchmark_group("20 ms of 16 kHz mono");
    g.throughput(Throughput::Elements(320));
    let mut bytes = Vec::with_capacity(640);
    g.bench_function("f32 to PCM16 bytes", |b| {
        b.iter(|| {
            bytes.clear();
            f32_to_pcm16_bytes(black_box(&mono16), &mut bytes);
        })
    });
    g.bench_function("level (RMS and peak dBFS)", |b| {
        b.iter(|| Level::measure(black_box(&mono16)))
    });
    g.finish();
}

fn codec(c: &mut Criterion) {
    let codec = wire::Codec::default();
    let pcm = vec![0x11u8; 640];
    let mut g = c.benchmark_group("wire, one 640-byte chunk");
    g.throughput(Throughput::Bytes(640));
    let mut out = BytesMut::with_capacity(1024);
    g.bench_function("encode AUDIO", |b| {
        b.iter(|| {
            out.clear();
            codec.encode_audio(black_box(&pcm), &mut out);
        })
    });
    g.bench_function("encode AUDIO_AT", |b| {
        b.iter(|| {
            out.clear();
            codec.encode_audio_at(black_box(48_000), black_box(&pcm), &mut out);
        })
    });
    let mut frame = BytesMut::new();
    codec.encode_audio(&pcm, &mut frame);
    g.bench_function("decode AUDIO", |b| {
        b.iter(|| {
            let mut buf = frame.clone();
            black_box(codec.decode_server(&mut buf).expect("valid"))
        })
    });
    g.finish();
}

criterion_group!(benches, dsp, codec);
criterion_main!(benches);
