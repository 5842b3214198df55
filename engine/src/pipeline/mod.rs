//! The source stage: a named worker thread that turns an [`Input`] into fixed-size chunks of
//! PCM16 at the stream's format (sample rate and channels), on a wall-clock schedule.
//!
//! Every chunk has exactly `rate × chunk_ms / 1000` frames and a running `position` (frames since
//! the stream started). When the stream's format is not the original's 16 kHz mono, the stage
//! also makes the 16 kHz mono version of each chunk for legacy clients, but only while
//! [`Pipeline::spawn_with`]'s demand flag says one is connected. The stream is continuous in wall-clock time: a generated source is asked
//! for exactly the frames that are due, a source that has ended yields silence, and a pushed
//! source (a sound card) that delivers nothing for [`STALL_AFTER`] or longer is filled with
//! silence for as long as it stays silent.
//!
//! The worker ticks once per chunk on the wall clock, except for a device it drives itself
//! ([`crate::audio::Pump`], libpulse): then it waits for the device's next packet where it would
//! sleep and ticks as soon as one arrived (without packets, every 1.5 chunks), so the packet and
//! its processing cost one wake-up of one thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::audio::dsp;
use crate::audio::level::Level;
use crate::{Error, Result};

pub use crate::audio::{Input, Pushed};

mod generated;
mod legacy;
#[cfg(test)]
mod pumped_tests;
mod worker;

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
    /// Output channels, interleaved: 1 (mono, as the original) or 2 (stereo); see
    /// [`dsp::remix_into`] for how a source with other channel counts is mapped.
    pub channels: u16,
    /// Duration of one chunk (20 ms by default).
    pub chunk: Duration,
    /// Converter used when the source's rate differs from `rate`.
    pub converter: dsp::Converter,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            rate: wire::DEFAULT_SAMPLE_RATE,
            channels: 1,
            chunk: Duration::from_millis(20),
            converter: dsp::DEFAULT_CONVERTER,
        }
    }
}

impl PipelineConfig {
    /// Frames in one chunk: `rate × chunk`, at least 1.
    pub fn chunk_frames(&self) -> usize {
        ((u128::from(self.rate) * self.chunk.as_micros() / 1_000_000) as usize).max(1)
    }

    /// Samples (all channels) in one chunk: [`PipelineConfig::chunk_frames`] × channels.
    pub fn chunk_samples(&self) -> usize {
        self.chunk_frames() * usize::from(self.channels.max(1))
    }

    /// The DSP chain from a source of `channels` channels at `rate` Hz to this stream's rate
    /// and channels, with this converter.
    ///
    /// # Errors
    /// As [`dsp::Chain::new`].
    pub fn chain_from(&self, rate: u32, channels: u16) -> Result<dsp::Chain> {
        dsp::Chain::new(channels, rate, self.rate, self.channels, self.converter)
    }

    /// Whether the stream is the original's format (16 kHz mono), so legacy clients can be sent
    /// its chunks as they are.
    pub fn is_legacy_format(&self) -> bool {
        crate::quality::AudioFormat {
            rate: self.rate,
            channels: self.channels,
        } == crate::quality::AudioFormat::SPEECH
    }
}

/// Set (by the TCP fan-out) while a legacy client is connected to a stream whose format is not
/// 16 kHz mono: the source stage then adds [`Chunk::legacy`] to each chunk.
pub type LegacyDemand = Arc<AtomicBool>;

/// One chunk of the stream.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// Index of the first frame in the stream (frames since the stream started).
    pub position: u64,
    /// PCM16 LE interleaved bytes at the stream's format: `2 × chunk_samples` bytes.
    pub pcm: Bytes,
    /// The same stretch of audio as PCM16 LE 16 kHz mono for legacy clients, when the stream's
    /// format is another and [`LegacyDemand`] is set (its length varies by a sample or two from
    /// chunk to chunk with the resampler's timing, and it is empty for a few chunks after the
    /// demand starts); `None` otherwise: a 16 kHz mono stream's legacy frames carry `pcm`.
    pub legacy: Option<Bytes>,
    /// Level of this chunk.
    pub level: Level,
    /// When the chunk left the source stage (for latency measurements).
    pub produced_at: Instant,
}

/// What the pipeline reports besides chunks.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// A generated source (a file or playlist played without looping) has no more audio: `end`
    /// is the stream position one past its last frame (frames). The chunk that holds `end` is
    /// padded with silence, then [`Notice::Finished`] follows and the source stage stops.
    SourceEnded {
        /// The source, in words.
        what: String,
        /// One past the source's last frame, in stream frames.
        end: u64,
    },
    /// The chunk holding the end of an ended source was the last one: the source stage stops.
    Finished,
    /// The source failed; silence follows.
    SourceFailed(String),
    /// A pushed source stopped delivering: silence stands in for it from now on (frames inserted
    /// at once, at the stream rate, for the time it has already been silent).
    SilenceInserted(u64),
    /// A pushed source delivers audio: for the first time, or again after a stall.
    SourceActive,
    /// A failed device was opened again and capture resumed.
    SourceRestored(String),
    /// A playlist's next track starts at this stream position (frames; exact when the file's
    /// rate is the stream's, within the resampler's delay otherwise).
    NowPlaying {
        /// Stream position of the track's first frame.
        position: u64,
        /// Its title and artist.
        track: crate::audio::decode::TrackInfo,
    },
}

/// Something the pipeline hands to its consumer.
#[derive(Debug, Clone)]
pub enum Output {
    /// A chunk of audio.
    Chunk(Chunk),
    /// A notice.
    Notice(Notice),
}

/// Longest wait between attempts to reopen a failed device: 5 s.
pub const MAX_REOPEN_DELAY: Duration = Duration::from_secs(5);

/// Counters shared with the worker thread.
#[derive(Debug, Default)]
pub struct PipelineStats {
    /// Chunks produced.
    pub chunks: AtomicU64,
    /// Frames of silence inserted because a pushed source was silent.
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
        Self::spawn_with(input, config, LegacyDemand::default(), sink)
    }

    /// As [`Pipeline::spawn`], also making the 16 kHz mono version of each chunk
    /// ([`Chunk::legacy`]) while `legacy` is set and the format is not 16 kHz mono.
    ///
    /// # Errors
    /// As [`Pipeline::spawn`].
    pub fn spawn_with(
        input: Input,
        config: PipelineConfig,
        legacy: LegacyDemand,
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
                .spawn(move || worker::run(input, config, sink, (stop, legacy), stats, ready_tx))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::sources::Tone;
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

    /// A 48 kHz stereo stream carries a 16 kHz mono version only while the demand flag is set.
    #[test]
    fn the_legacy_version_is_made_only_on_demand() {
        let chunks = Arc::new(Mutex::new(Vec::new()));
        let c2 = chunks.clone();
        let config = PipelineConfig {
            rate: 48_000,
            channels: 2,
            ..PipelineConfig::default()
        };
        let demand = LegacyDemand::default();
        let tone = Tone::new(1000.0, 48_000).expect("tone");
        let p = Pipeline::spawn_with(
            Input::Generated(Box::new(tone)),
            config,
            demand.clone(),
            move |o| {
                if let Output::Chunk(c) = o {
                    c2.lock().expect("lock").push(c);
                }
            },
        )
        .expect("spawn");
        thread::sleep(Duration::from_millis(300));
        demand.store(true, Ordering::Release);
        thread::sleep(Duration::from_millis(600));
        p.stop();
        let chunks = chunks.lock().expect("lock");
        let split = chunks
            .iter()
            .position(|c| c.legacy.is_some())
            .expect("made");
        assert!(split >= 10, "nothing before the demand: {split}");
        assert!(chunks[split..].iter().all(|c| c.legacy.is_some()));
        for c in chunks.iter() {
            assert_eq!(c.pcm.len(), 960 * 2 * 2, "20 ms of 48 kHz stereo");
        }
        // After the converter's delay, 320 samples (20 ms at 16 kHz) per chunk on average.
        let later = &chunks[split + 5..];
        let bytes: usize = later
            .iter()
            .map(|c| c.legacy.as_ref().map_or(0, |l| l.len()))
            .sum();
        let per_chunk = bytes as f64 / 2.0 / later.len() as f64;
        assert!(
            (per_chunk - 320.0).abs() < 5.0,
            "{per_chunk} samples per chunk"
        );
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
                pump: None,
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
