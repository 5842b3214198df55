//! `record --format`: the received stream converted to another format (e.g. 16 kHz mono from a
//! 48 kHz stereo server) before it is written, with the same channel mapping and libsamplerate
//! converter as the server's source stage.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;

use crate::audio::dsp::{self, Chain};
use crate::quality::AudioFormat;
use crate::{Error, Result};

/// Name of the conversion thread.
pub const CONVERT_THREAD: &str = "audiomi-convert";

enum Job {
    /// PCM16 LE interleaved at the stream's format.
    Pcm(Vec<u8>),
    /// Silence: this many samples (all channels) at the stream's format.
    Silence(u64),
    /// End of the stream: drain the converter.
    Finish,
}

/// Converts PCM16 from one [`AudioFormat`] to another, block by block, keeping state between
/// blocks so they join seamlessly and the total length is exact once [`Converter::finish`]ed.
///
/// libsamplerate's state may not move between threads, and a recording runs on an async
/// runtime that moves it, so the converter lives on its own named thread: each call hands a
/// block over and waits for the converted block (tens of microseconds of work per 20 ms).
pub struct Converter {
    jobs: SyncSender<Job>,
    /// In a mutex only so that a recording holding a converter may be shared between threads
    /// (a receiver is `Send` but not `Sync`); it is never contended.
    results: Mutex<Receiver<Result<Vec<u8>>>>,
    thread: Option<JoinHandle<()>>,
}

impl Converter {
    /// A converter from `from` to `to`.
    ///
    /// # Errors
    /// [`Error::Resampler`] if libsamplerate refuses the pair of rates; [`Error::Thread`].
    pub fn new(from: AudioFormat, to: AudioFormat) -> Result<Self> {
        let (jobs, job_rx) = sync_channel::<Job>(1);
        let (result_tx, results) = sync_channel::<Result<Vec<u8>>>(1);
        let (ready_tx, ready_rx) = sync_channel::<Result<()>>(1);
        let thread = std::thread::Builder::new()
            .name(CONVERT_THREAD.into())
            .spawn(move || {
                let c = dsp::DEFAULT_CONVERTER;
                let mut chain = match Chain::new(from.channels, from.rate, to.rate, to.channels, c)
                {
                    Ok(chain) => {
                        let _ = ready_tx.send(Ok(()));
                        chain
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let (mut samples, mut out) = (Vec::new(), Vec::new());
                while let Ok(job) = job_rx.recv() {
                    samples.clear();
                    out.clear();
                    let last = matches!(job, Job::Finish);
                    match job {
                        Job::Pcm(pcm) => dsp::pcm16_bytes_into(&pcm, &mut samples),
                        Job::Silence(n) => samples.resize(n as usize, 0.0),
                        Job::Finish => {}
                    }
                    let done = if last {
                        chain.finish(&samples, &mut out)
                    } else {
                        chain.process(&samples, &mut out)
                    };
                    let mut bytes = Vec::with_capacity(out.len() * 2);
                    let result = done.map(|()| {
                        dsp::f32_to_pcm16_bytes(&out, &mut bytes);
                        bytes
                    });
                    if result_tx.send(result).is_err() || last {
                        return;
                    }
                }
            })
            .map_err(|source| Error::Thread {
                name: CONVERT_THREAD.into(),
                source,
            })?;
        let ready = ready_rx.recv().unwrap_or_else(|_| Err(stopped()));
        ready.map(|()| Self {
            jobs,
            results: Mutex::new(results),
            thread: Some(thread),
        })
    }

    fn run(&mut self, job: Job) -> Result<Vec<u8>> {
        self.jobs.send(job).map_err(|_| stopped())?;
        let results = self
            .results
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        results.recv().unwrap_or_else(|_| Err(stopped()))
    }

    /// Converts `pcm` (PCM16 LE interleaved at the source format); the output is PCM16 LE at
    /// the target format, a few frames shorter or longer than the ratio says while the
    /// converter fills (see [`crate::audio::resample::Resampler::process`]).
    ///
    /// # Errors
    /// [`Error::Resampler`] if libsamplerate fails.
    pub fn convert(&mut self, pcm: &[u8]) -> Result<Vec<u8>> {
        self.run(Job::Pcm(pcm.to_vec()))
    }

    /// Converts `samples` samples (all channels, source format) of silence.
    ///
    /// # Errors
    /// As [`Converter::convert`].
    pub fn silence(&mut self, samples: u64) -> Result<Vec<u8>> {
        self.run(Job::Silence(samples))
    }

    /// Drains the converter: the last output, after which the total length is the input's
    /// times the rate ratio.
    ///
    /// # Errors
    /// As [`Converter::convert`].
    pub fn finish(&mut self) -> Result<Vec<u8>> {
        let last = self.run(Job::Finish);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        last
    }
}

impl Drop for Converter {
    fn drop(&mut self) {
        // Dropping the job sender ends the thread's loop.
        let (dead, _) = sync_channel(1);
        self.jobs = dead;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn stopped() -> Error {
    Error::Thread {
        name: CONVERT_THREAD.into(),
        source: std::io::Error::other("the conversion thread stopped"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcm(samples: impl Iterator<Item = i16>) -> Vec<u8> {
        samples.flat_map(i16::to_le_bytes).collect()
    }

    /// 1 s of 48 kHz stereo (a tone left, silence right) becomes exactly 1 s of 16 kHz mono at
    /// half the level (the channels' average).
    #[test]
    fn stereo_48k_becomes_16k_mono_of_exact_length() {
        let mut c = Converter::new(AudioFormat::MUSIC, AudioFormat::SPEECH).expect("converter");
        let tone = |i: usize| {
            (16_000.0 * (std::f64::consts::TAU * 1000.0 * i as f64 / 48_000.0).sin()) as i16
        };
        let mut out = Vec::new();
        for block in 0..50 {
            let frames = (block * 960)..((block + 1) * 960);
            out.extend(
                c.convert(&pcm(frames.flat_map(|i| [tone(i), 0])))
                    .expect("convert"),
            );
        }
        out.extend(c.finish().expect("finish"));
        assert_eq!(out.len(), 16_000 * 2, "exactly 1 s at 16 kHz mono");
        let peak = out
            .chunks_exact(2)
            .skip(1000)
            .map(|b| i16::from_le_bytes([b[0], b[1]]).unsigned_abs())
            .max()
            .unwrap_or(0);
        assert!((7_900..=8_100).contains(&peak), "peak {peak}");
    }

    #[test]
    fn silence_is_converted_at_the_ratio() {
        let mut c = Converter::new(AudioFormat::MUSIC, AudioFormat::SPEECH).expect("converter");
        let mut n = c.silence(96_000).expect("silence").len();
        n += c.finish().expect("finish").len();
        assert_eq!(n, 16_000 * 2);
    }
}
