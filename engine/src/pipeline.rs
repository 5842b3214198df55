//! The source stage: a named worker thread that turns an [`Input`] into fixed-size chunks of mono
//! PCM16 at the stream's rate, on a wall-clock schedule.
//!
//! Every chunk has exactly `rate × chunk_ms / 1000` samples and a running `position` (samples since
//! the stream started). The stream is continuous in wall-clock time: a generated source is asked
//! for exactly the frames that are due, a source that has ended yields silence, and a pushed
//! source (a sound card) that delivers nothing for [`STALL_AFTER`] or longer is filled with
//! silence for as long as it stays silent.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bytes::Bytes;
use samplerate::ConverterType;

use crate::dsp::{self, Chain, Level};
use crate::source::Generator;
use crate::{Error, Result};

/// How long a pushed source must deliver nothing at all before it counts as stalled and silence
/// is inserted, at the least: 300 ms. The threshold grows to twice the longest pause seen between
/// two deliveries (at most [`MAX_STALL_AFTER`]), because sound servers deliver in bursts: a
/// PulseAudio null sink whose client asked for 2 s of latency feeds its monitor in bursts up to
/// a second apart. Such a source is late, not silent, and inserted silence would push its audio
/// aside. WASAPI loopback, which stops calling back while nothing plays, delivers every ~10 ms
/// while it plays, so its stalls are still caught after 300 ms.
pub const STALL_AFTER: Duration = Duration::from_millis(300);
/// Upper bound of the adaptive stall threshold: 5 s.
pub const MAX_STALL_AFTER: Duration = Duration::from_secs(5);

/// How the pipeline runs.
#[derive(Debug, Clone, Copy)]
pub struct PipelineConfig {
    /// Output sample rate in Hz (16,000 by default, as the original).
    pub rate: u32,
    /// Duration of one chunk (20 ms by default).
    pub chunk: Duration,
    /// libsamplerate converter used when the source's rate differs from `rate`.
    pub converter: ConverterType,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            rate: wire::DEFAULT_SAMPLE_RATE,
            chunk: Duration::from_millis(20),
            converter: dsp::DEFAULT_CONVERTER,
        }
    }
}

impl PipelineConfig {
    /// Samples (mono) in one chunk: `rate × chunk`, at least 1.
    pub fn chunk_samples(&self) -> usize {
        ((u128::from(self.rate) * self.chunk.as_micros() / 1_000_000) as usize).max(1)
    }
}

/// One chunk of the stream.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// Index of the first sample in the stream (samples since the stream started).
    pub position: u64,
    /// PCM16 LE mono bytes: `2 × chunk_samples` bytes.
    pub pcm: Bytes,
    /// Level of this chunk.
    pub level: Level,
    /// When the chunk left the source stage (for latency measurements).
    pub produced_at: Instant,
}

/// What the pipeline reports besides chunks.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// A generated source has no more audio; silence follows.
    SourceEnded(String),
    /// The source failed; silence follows.
    SourceFailed(String),
    /// A pushed source stopped delivering: silence stands in for it from now on (samples inserted
    /// at once, at the stream rate, for the time it has already been silent).
    SilenceInserted(u64),
    /// A pushed source delivers audio: for the first time, or again after a stall.
    SourceActive,
    /// A failed device was opened again and capture resumed.
    SourceRestored(String),
}

/// Something the pipeline hands to its consumer.
#[derive(Debug, Clone)]
pub enum Output {
    /// A chunk of audio.
    Chunk(Chunk),
    /// A notice.
    Notice(Notice),
}

/// Audio pushed by a device callback through a lock-free ring (see the `capture` module).
pub struct Pushed {
    /// Interleaved `f32` samples written by the device callback.
    pub consumer: rtrb::Consumer<f32>,
    /// The device's sample rate in Hz.
    pub rate: u32,
    /// The device's channel count.
    pub channels: u16,
    /// Anything that must stay alive (on the worker thread) while capturing, e.g. the device stream.
    pub keepalive: Box<dyn std::any::Any>,
    /// Set by the device's error callback when the stream has failed (device removed, sound
    /// server gone); the worker then drops the device and reopens it.
    pub failure: Arc<Mutex<Option<String>>>,
    /// Samples the device delivered that did not fit in the ring.
    pub overruns: Arc<AtomicU64>,
}

/// Longest wait between attempts to reopen a failed device: 5 s.
pub const MAX_REOPEN_DELAY: Duration = Duration::from_secs(5);

/// Where the pipeline gets its audio.
pub enum Input {
    /// Pulled on the pipeline's clock.
    Generated(Box<dyn Generator>),
    /// Pushed by a device on its own clock. The closure runs on the worker thread and opens the
    /// device there (some device handles may not move between threads); it is called again to
    /// reopen the device after a failure.
    Pushed(Box<dyn FnMut() -> Result<Pushed> + Send>),
}

/// Counters shared with the worker thread.
#[derive(Debug, Default)]
pub struct PipelineStats {
    /// Chunks produced.
    pub chunks: AtomicU64,
    /// Samples of silence inserted because a pushed source was silent.
    pub silence_inserted: AtomicU64,
    /// Samples a device delivered that did not fit in the capture ring.
    pub overruns: AtomicU64,
}

/// A running pipeline; dropping it stops the worker thread and waits for it.
pub struct Pipeline {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<PipelineStats>,
}

impl Pipeline {
    /// Starts the worker thread `audiomi-source`, which calls `sink` with every [`Output`].
    ///
    /// `sink` runs on the worker thread and must not block: a late chunk delays the stream's
    /// clock. Outputs read through [`crate::stream::ChunkStream::sink`], which never blocks.
    /// Returns once the input has been opened (which may take seconds for a device: call this
    /// from a blocking thread, not from an async runtime's worker).
    ///
    /// # Errors
    /// [`Error::Thread`] if the thread cannot start; whatever opening the input returns
    /// ([`Error::Source`], [`Error::Resampler`]).
    pub fn spawn(
        input: Input,
        config: PipelineConfig,
        sink: impl FnMut(Output) + Send + 'static,
    ) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(PipelineStats::default());
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<()>>(1);
        let name = "audiomi-source".to_string();
        let thread = {
            let stop = stop.clone();
            let stats = stats.clone();
            thread::Builder::new()
                .name(name.clone())
                .spawn(move || worker(input, config, sink, stop, stats, ready_tx))
                .map_err(|source| Error::Thread { name, source })?
        };
        let ready = ready_rx.recv().unwrap_or_else(|_| {
            Err(Error::Source {
                spec: "input".into(),
                reason: "the source thread stopped while opening the source".into(),
            })
        });
        let pipeline = Self {
            stop,
            thread: Some(thread),
            stats,
        };
        ready.map(|()| pipeline)
    }

    /// Counters of the running pipeline.
    pub fn stats(&self) -> &Arc<PipelineStats> {
        &self.stats
    }

    /// Stops the worker thread and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.shutdown();
    }
}

enum Running {
    Generated {
        generator: Box<dyn Generator>,
        rate: u32,
        channels: usize,
        pulled: u64,
        ended: bool,
    },
    Pushed {
        open: Box<dyn FnMut() -> Result<Pushed> + Send>,
        /// None while the device is failed and being reopened.
        pushed: Option<Pushed>,
        retry_at: Instant,
        retry_delay: Duration,
    },
}

fn worker(
    input: Input,
    config: PipelineConfig,
    mut sink: impl FnMut(Output),
    stop: Arc<AtomicBool>,
    stats: Arc<PipelineStats>,
    ready: std::sync::mpsc::SyncSender<Result<()>>,
) {
    let opened = (|| -> Result<(Running, Chain)> {
        let running = match input {
            Input::Generated(generator) => Running::Generated {
                rate: generator.sample_rate(),
                channels: usize::from(generator.channels()),
                generator,
                pulled: 0,
                ended: false,
            },
            Input::Pushed(mut open) => {
                let pushed = open()?;
                Running::Pushed {
                    open,
                    pushed: Some(pushed),
                    retry_at: Instant::now(),
                    retry_delay: Duration::from_millis(250),
                }
            }
        };
        let (rate, channels) = match &running {
            Running::Generated { rate, channels, .. } => (*rate, *channels as u16),
            Running::Pushed { pushed, .. } => pushed
                .as_ref()
                .map_or((config.rate, 1), |p| (p.rate, p.channels)),
        };
        let chain = Chain::new(channels, rate, config.rate, config.converter)?;
        Ok((running, chain))
    })();
    let (mut running, mut chain) = match opened {
        Ok(x) => {
            let _ = ready.send(Ok(()));
            x
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };

    let chunk_samples = config.chunk_samples();
    let out_rate = f64::from(config.rate);
    let mut input_buf: Vec<f32> = Vec::new();
    let mut fifo: Vec<f32> = Vec::with_capacity(chunk_samples * 4);
    let mut pcm = Vec::with_capacity(chunk_samples * 2);
    let mut position: u64 = 0;
    let mut failed = false;
    let start = Instant::now();
    let mut last_input_at: Option<Instant> = None;
    let mut stall_after = STALL_AFTER;
    let mut stall_filled: u64 = 0;
    let mut tick: u32 = 0;

    while !stop.load(Ordering::Acquire) {
        tick = tick.saturating_add(1);
        let deadline = start + config.chunk * tick;
        loop {
            let now = Instant::now();
            if now >= deadline || stop.load(Ordering::Acquire) {
                break;
            }
            thread::park_timeout(deadline - now);
        }
        if stop.load(Ordering::Acquire) {
            break;
        }
        let elapsed = start.elapsed().as_secs_f64();
        input_buf.clear();
        let mut pushed_source = false;
        match &mut running {
            Running::Generated {
                generator,
                rate,
                channels,
                pulled,
                ended,
            } => {
                let due = (elapsed * f64::from(*rate)) as u64;
                let want = due.saturating_sub(*pulled) as usize;
                *pulled = due;
                let got = if *ended || failed {
                    0
                } else {
                    match generator.fill(want, &mut input_buf) {
                        Ok(n) => n,
                        Err(e) => {
                            failed = true;
                            input_buf.clear();
                            sink(Output::Notice(Notice::SourceFailed(e.to_string())));
                            0
                        }
                    }
                };
                if got < want {
                    if !*ended && !failed {
                        *ended = true;
                        sink(Output::Notice(Notice::SourceEnded(generator.describe())));
                    }
                    input_buf.resize(input_buf.len() + (want - got) * *channels, 0.0);
                }
            }
            Running::Pushed {
                open,
                pushed,
                retry_at,
                retry_delay,
            } => {
                pushed_source = true;
                let failed_now = pushed.as_ref().and_then(|p| {
                    p.failure
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .take()
                });
                if let Some(why) = failed_now {
                    *pushed = None;
                    *retry_at = Instant::now() + *retry_delay;
                    sink(Output::Notice(Notice::SourceFailed(format!(
                        "{why}; reopening the device"
                    ))));
                }
                if pushed.is_none() && Instant::now() >= *retry_at {
                    match open() {
                        Ok(p) => {
                            match Chain::new(p.channels, p.rate, config.rate, config.converter) {
                                Ok(c) => chain = c,
                                Err(e) => sink(Output::Notice(Notice::SourceFailed(e.to_string()))),
                            }
                            sink(Output::Notice(Notice::SourceRestored(format!(
                                "{} Hz, {} ch",
                                p.rate, p.channels
                            ))));
                            *pushed = Some(p);
                            *retry_delay = Duration::from_millis(250);
                        }
                        Err(_) => {
                            *retry_delay = (*retry_delay * 2).min(MAX_REOPEN_DELAY);
                            *retry_at = Instant::now() + *retry_delay;
                        }
                    }
                }
                if let Some(p) = pushed.as_mut() {
                    let n = p.consumer.slots();
                    if let Ok(chunk) = p.consumer.read_chunk(n) {
                        let (a, b) = chunk.as_slices();
                        input_buf.extend_from_slice(a);
                        input_buf.extend_from_slice(b);
                        chunk.commit_all();
                    }
                    let ch = usize::from(p.channels.max(1));
                    input_buf.truncate(input_buf.len() - input_buf.len() % ch);
                    stats
                        .overruns
                        .store(p.overruns.load(Ordering::Relaxed), Ordering::Relaxed);
                }
            }
        }
        if let Err(e) = chain.process(&input_buf, &mut fifo)
            && !failed
        {
            failed = true;
            sink(Output::Notice(Notice::SourceFailed(e.to_string())));
        }
        if !input_buf.is_empty() {
            let now = Instant::now();
            if last_input_at.is_none() || stall_filled > 0 {
                sink(Output::Notice(Notice::SourceActive));
            }
            if let Some(last) = last_input_at {
                stall_after = stall_after.max((now - last) * 2).min(MAX_STALL_AFTER);
            }
            last_input_at = Some(now);
            stall_filled = 0;
        }
        let silent_for = last_input_at.unwrap_or(start).elapsed();
        if pushed_source && silent_for >= stall_after {
            // The device delivers nothing (WASAPI loopback while nothing plays, a suspended
            // sink, a failed device): stand in for it with silence, in real time. Only the time
            // it has been silent is filled, never a lag it built up while delivering late.
            let due = (silent_for.as_secs_f64() * out_rate) as u64;
            let fill = due.saturating_sub(stall_filled);
            if stall_filled == 0 {
                sink(Output::Notice(Notice::SilenceInserted(fill)));
            }
            fifo.resize(fifo.len() + fill as usize, 0.0);
            stall_filled += fill;
            stats.silence_inserted.fetch_add(fill, Ordering::Relaxed);
        }
        let mut consumed = 0;
        while fifo.len() - consumed >= chunk_samples {
            let samples = &fifo[consumed..consumed + chunk_samples];
            consumed += chunk_samples;
            pcm.clear();
            dsp::f32_to_pcm16_bytes(samples, &mut pcm);
            let chunk = Chunk {
                position,
                pcm: Bytes::copy_from_slice(&pcm),
                level: Level::measure(samples),
                produced_at: Instant::now(),
            };
            position += chunk_samples as u64;
            stats.chunks.fetch_add(1, Ordering::Relaxed);
            sink(Output::Chunk(chunk));
        }
        fifo.drain(..consumed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Tone;
    use std::sync::Mutex;

    #[test]
    fn tone_pipeline_produces_continuous_positions_in_real_time() {
        let chunks = Arc::new(Mutex::new(Vec::new()));
        let c2 = chunks.clone();
        let config = PipelineConfig::default();
        let tone = Tone::new(440.0, config.rate).expect("tone");
        let p = Pipeline::spawn(Input::Generated(Box::new(tone)), config, move |o| {
            if let Output::Chunk(c) = o {
                c2.lock().expect("lock").push(c);
            }
        })
        .expect("spawn");
        thread::sleep(Duration::from_millis(500));
        p.stop();
        let chunks = chunks.lock().expect("lock");
        // 500 ms at 20 ms per chunk: about 25 chunks.
        assert!((20..=27).contains(&chunks.len()), "{} chunks", chunks.len());
        for (i, c) in chunks.iter().enumerate() {
            assert_eq!(c.position, i as u64 * 320);
            assert_eq!(c.pcm.len(), 640);
            assert!((c.level.peak_dbfs + 12.0).abs() < 0.1, "{:?}", c.level);
        }
    }

    #[test]
    fn silent_pushed_source_is_filled_with_silence() {
        let chunks = Arc::new(Mutex::new(0u64));
        let c2 = chunks.clone();
        let open = || {
            let (_producer, consumer) = rtrb::RingBuffer::<f32>::new(48_000);
            Ok(Pushed {
                consumer,
                rate: 48_000,
                channels: 2,
                keepalive: Box::new(()),
                failure: Arc::default(),
                overruns: Arc::default(),
            })
        };
        let p = Pipeline::spawn(
            Input::Pushed(Box::new(open)),
            PipelineConfig::default(),
            move |o| {
                if let Output::Chunk(_) = o {
                    *c2.lock().expect("lock") += 1;
                }
            },
        )
        .expect("spawn");
        thread::sleep(Duration::from_millis(600));
        let inserted = p.stats().silence_inserted.load(Ordering::Relaxed);
        p.stop();
        let n = *chunks.lock().expect("lock");
        assert!(inserted > 0);
        // From STALL_AFTER on, silence covers all the time the device was silent: the stream
        // keeps up with the clock (less a chunk in the making and scheduling slack).
        assert!(n >= (600 - 20 - 40) / 20, "{n} chunks");
    }
}
