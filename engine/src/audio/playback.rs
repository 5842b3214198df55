//! Live playback ("Listen"): plays the incoming stream on an output device through a jitter buffer.
//!
//! The receiver hands PCM16 frames with their format to [`Player::feed`] (never blocking). A
//! named worker thread converts them to `f32`, maps the stream's channels to the device's
//! ([`dsp::remix_into`]: mono on every side, stereo kept apart), resamples them with
//! libsamplerate from the stream's rate to the device's and pushes them into a lock-free ring. The cpal
//! output callback waits until the ring holds the target latency (the jitter buffer), then plays;
//! when the ring runs dry it plays silence, counts an underrun and waits for the target again;
//! a level above the target for a whole [`FLOOR_WINDOW`] loses its surplus ([`super::floor`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use bytes::Bytes;
use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, Sample, SampleFormat, SizedSample, StreamConfig};
use samplerate::ConverterType;

use super::floor::Floor;
pub use super::floor::{FLOOR_TOLERANCE, FLOOR_WINDOW};
use super::resample::Converter;

use super::devices::{OPEN_TIMEOUT, name_of, resolve_output, with_sample_type};
use super::dsp::{self, Chain};
use crate::{Error, Result};

/// Default jitter-buffer target: 60 ms.
pub const DEFAULT_TARGET: Duration = Duration::from_millis(60);
/// Audio queued beyond the target by more than this is dropped to keep latency bounded: 250 ms.
pub const MAX_EXCESS: Duration = Duration::from_millis(250);
/// How to play.
#[derive(Debug, Clone)]
pub struct PlaybackConfig {
    /// Output device id (as `audiomi devices --outputs` lists it); `None` is the default output.
    pub device: Option<String>,
    /// Jitter-buffer target: audio held before playing starts (and after each underrun).
    pub target: Duration,
    /// Converter from the stream's rate to the device's (libsamplerate's medium sinc by
    /// default: playback is upsampling, where the decimator does not apply).
    pub converter: Converter,
}

impl Default for PlaybackConfig {
    fn default() -> Self {
        Self {
            device: None,
            target: DEFAULT_TARGET,
            converter: Converter::Libsamplerate(ConverterType::SincMediumQuality),
        }
    }
}

/// Live counters.
#[derive(Debug, Default)]
pub struct PlaybackStats {
    /// Times the jitter buffer ran dry (each followed by silence until it refills).
    pub underruns: AtomicU64,
    /// Samples dropped because the queue was full or too far ahead.
    pub dropped: AtomicU64,
    /// Device frames played from the stream (silence not counted).
    pub frames_played: AtomicU64,
    /// Audio held in the buffer when the last chunk arrived, in µs at the device's rate: the
    /// delay this receiver adds before the device's own latency.
    pub buffered_us: AtomicU64,
    /// Times a surplus above the target was skipped to bring the delay back ([`FLOOR_WINDOW`]).
    pub skips: AtomicU64,
}

/// A running player; dropping it stops playback.
pub struct Player {
    tx: SyncSender<Fed>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<PlaybackStats>,
    device: String,
}

impl Player {
    /// Opens the output device and starts the worker thread `audiomi-playback`.
    ///
    /// # Errors
    /// [`Error::Source`] if the device does not exist or cannot be opened; [`Error::Thread`].
    pub fn start(config: PlaybackConfig) -> Result<Self> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Fed>(256);
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<String>>(1);
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(PlaybackStats::default());
        let name = "audiomi-playback".to_string();
        let thread = {
            let (stop, stats) = (stop.clone(), stats.clone());
            thread::Builder::new()
                .name(name.clone())
                .spawn(move || worker(config, rx, ready_tx, stop, stats))
                .map_err(|source| Error::Thread { name, source })?
        };
        let device = ready_rx.recv().unwrap_or_else(|_| {
            Err(Error::Source {
                spec: "output".into(),
                reason: "the playback thread stopped while opening the device".into(),
            })
        });
        let mut player = Self {
            tx,
            stop,
            thread: Some(thread),
            stats,
            device: String::new(),
        };
        player.device = device?;
        Ok(player)
    }

    /// The output device's name.
    pub fn device_name(&self) -> &str {
        &self.device
    }

    /// Counters.
    pub fn stats(&self) -> &Arc<PlaybackStats> {
        &self.stats
    }

    /// Queues PCM16 LE bytes, `channels` interleaved at `rate` Hz, for playback; never blocks
    /// (drops and counts when full). A change of format restarts the conversion.
    pub fn feed(&self, pcm: &[u8], rate: u32, channels: u16) {
        let fed = Fed {
            pcm: Bytes::copy_from_slice(pcm),
            rate,
            channels,
        };
        match self.tx.try_send(fed) {
            Ok(()) => {}
            Err(TrySendError::Full(f) | TrySendError::Disconnected(f)) => {
                self.stats
                    .dropped
                    .fetch_add((f.pcm.len() / 2) as u64, Ordering::Relaxed);
            }
        }
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// PCM16 LE bytes and their format, on their way to the worker.
struct Fed {
    pcm: Bytes,
    rate: u32,
    channels: u16,
}

/// The output stream, the ring that feeds it, the device's rate and channels and the device's
/// name.
struct Opened {
    stream: cpal::Stream,
    producer: rtrb::Producer<f32>,
    rate: u32,
    channels: usize,
    name: String,
}

/// Opens the output device and starts its stream (playing silence until the ring is primed).
fn open(config: &PlaybackConfig, stats: &Arc<PlaybackStats>) -> Result<Opened> {
    let device = resolve_output(config.device.as_deref())?;
    let name = name_of(&device);
    let err = |e: String| Error::Source {
        spec: name.clone(),
        reason: super::wasapi::in_words(&e),
    };
    let supported = device
        .default_output_config()
        .map_err(|e| err(e.to_string()))?;
    let rate = supported.sample_rate();
    let channels = usize::from(supported.channels());
    let target = (config.target.as_secs_f64() * f64::from(rate)) as usize * channels;
    let open = |buffer_size: cpal::BufferSize| {
        let (producer, consumer) = rtrb::RingBuffer::<f32>::new(rate as usize * channels * 2);
        let state = CallbackState {
            consumer,
            target,
            channels,
            primed: false,
            stats: stats.clone(),
        };
        let mut stream_config = supported.config();
        stream_config.buffer_size = buffer_size;
        build_output(&device, stream_config, supported.sample_format(), state)
            .map(|s| (s, producer))
    };
    // About 10 ms per callback; fall back to the device's default where that is refused.
    let (stream, producer) = open(cpal::BufferSize::Fixed((rate / 100).max(64)))
        .or_else(|_| open(cpal::BufferSize::Default))
        .map_err(err)?;
    stream.play().map_err(|e| err(e.to_string()))?;
    tracing::info!(device = %name, rate, channels, target_ms = config.target.as_millis() as u64, "playing");
    Ok(Opened {
        stream,
        producer,
        rate,
        channels,
        name,
    })
}

fn worker(
    config: PlaybackConfig,
    rx: Receiver<Fed>,
    ready: SyncSender<Result<String>>,
    stop: Arc<AtomicBool>,
    stats: Arc<PlaybackStats>,
) {
    let Opened {
        stream: _stream,
        producer,
        rate,
        channels,
        name,
    } = match open(&config, &stats) {
        Ok(x) => x,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(name));
    let mut queue = Queue::new(producer, &config, rate, channels);
    // The stream's format and the conversion from it to the device's.
    let mut chain: Option<((u32, u16), Chain)> = None;
    let mut samples = Vec::new();
    let mut converted = Vec::new();
    while !stop.load(Ordering::Acquire) {
        let fed = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(f) => f,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let format = (fed.rate, fed.channels);
        if chain.as_ref().is_none_or(|(f, _)| *f != format) {
            let device_channels = u16::try_from(channels).unwrap_or(2);
            match Chain::new(
                fed.channels,
                fed.rate,
                rate,
                device_channels,
                config.converter,
            ) {
                Ok(c) => chain = Some((format, c)),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot play this stream's format");
                    chain = None;
                    continue;
                }
            }
        }
        let Some((_, chain)) = chain.as_mut() else {
            continue;
        };
        samples.clear();
        dsp::pcm16_bytes_into(&fed.pcm, &mut samples);
        converted.clear();
        if chain.process(&samples, &mut converted).is_err() {
            continue;
        }
        queue.push(&converted, samples.len(), &stats);
    }
}

/// The ring's producer side: pushes what arrives, skips a surplus ([`Floor`]), reports the level.
struct Queue {
    producer: rtrb::Producer<f32>,
    floor: Floor,
    /// Most samples (all channels) the ring may hold: target + [`MAX_EXCESS`].
    max_queued: usize,
    channels: usize,
    /// Microseconds per sample (all channels) at the device's rate.
    per_us: f64,
}

impl Queue {
    fn new(
        producer: rtrb::Producer<f32>,
        config: &PlaybackConfig,
        rate: u32,
        channels: usize,
    ) -> Self {
        let samples_of = |d: Duration| (d.as_secs_f64() * f64::from(rate)) as usize * channels;
        Self {
            producer,
            floor: Floor::new(
                samples_of(config.target),
                samples_of(FLOOR_TOLERANCE),
                samples_of(FLOOR_WINDOW),
            ),
            max_queued: samples_of(config.target + MAX_EXCESS),
            channels,
            per_us: 1e6 / (f64::from(rate) * channels as f64),
        }
    }

    /// Pushes `converted` (device samples made from `fed` stream samples) into the ring.
    fn push(&mut self, converted: &[f32], fed: usize, stats: &PlaybackStats) {
        let queued = self.producer.buffer().capacity() - self.producer.slots();
        stats
            .buffered_us
            .store((queued as f64 * self.per_us) as u64, Ordering::Relaxed);
        let skip = self.floor.arrive(queued, converted.len());
        let skip = skip - skip % self.channels;
        if skip > 0 {
            stats.skips.fetch_add(1, Ordering::Relaxed);
            stats.dropped.fetch_add(skip as u64, Ordering::Relaxed);
            let skipped_ms = skip as f64 * self.per_us / 1000.0;
            tracing::debug!(skipped_ms, "delay above the target: skipped");
        }
        let want = converted.len() - skip;
        if queued + want > self.max_queued || self.producer.slots() < want {
            stats.dropped.fetch_add(fed as u64, Ordering::Relaxed);
            return;
        }
        if let Ok(chunk) = self.producer.write_chunk_uninit(want) {
            chunk.fill_from_iter(converted[skip..].iter().copied());
        }
    }
}

struct CallbackState {
    consumer: rtrb::Consumer<f32>,
    /// Samples (all channels) to hold before playing.
    target: usize,
    channels: usize,
    primed: bool,
    stats: Arc<PlaybackStats>,
}

impl CallbackState {
    /// Fills `out`; never blocks, allocates, locks or logs.
    fn fill<T: Sample + FromSample<f32>>(&mut self, out: &mut [T]) {
        let available = self.consumer.slots();
        if !self.primed {
            if available >= self.target {
                self.primed = true;
            } else {
                out.fill(T::EQUILIBRIUM);
                return;
            }
        }
        let n = available.min(out.len());
        let n = n - n % self.channels;
        if let Ok(chunk) = self.consumer.read_chunk(n) {
            let (a, b) = chunk.as_slices();
            for (o, v) in out.iter_mut().zip(a.iter().chain(b.iter())) {
                *o = T::from_sample_(*v);
            }
            chunk.commit_all();
        }
        if n < out.len() {
            out[n..].fill(T::EQUILIBRIUM);
            self.primed = false;
            self.stats.underruns.fetch_add(1, Ordering::Relaxed);
        }
        self.stats
            .frames_played
            .fetch_add((n / self.channels) as u64, Ordering::Relaxed);
    }
}

fn build_output(
    device: &cpal::Device,
    config: StreamConfig,
    format: SampleFormat,
    state: CallbackState,
) -> std::result::Result<cpal::Stream, String> {
    with_sample_type!(format, build_typed(device, config, state))
}

fn build_typed<T>(
    device: &cpal::Device,
    config: StreamConfig,
    mut state: CallbackState,
) -> std::result::Result<cpal::Stream, String>
where
    T: SizedSample + FromSample<f32> + Send + 'static,
{
    device
        .build_output_stream::<T, _, _>(
            config,
            move |out: &mut [T], _info| state.fill(out),
            |_err| {},
            Some(OPEN_TIMEOUT),
        )
        .map_err(|e| e.to_string())
}
