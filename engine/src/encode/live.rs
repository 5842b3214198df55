//! The live encodings of a stream, shared by every output that sends encoded audio (the web
//! player, Icecast): one thread reads the chunk stream and encodes each chunk **once** per
//! format (Opus only while something reads it); the bytes go into one bounded broadcast ring per
//! format that every listener of that format reads. A listener that falls more than the ring
//! behind is dropped by its output (see [`crate::web::routes`]); the thread never waits for a
//! listener.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::broadcast;
use tracing::warn;

use super::{OggOpusEncoder, webm};
use crate::pipeline::Output;
use crate::stream::{ChunkStream, StreamClosed, Subscription};
use crate::{Error, Result};

/// The encoding thread's name.
pub const ENCODE_THREAD: &str = "audiomi-encode";

/// One chunk as raw PCM: its stream position (samples per channel since the stream started)
/// and its PCM16 LE bytes (shared with every other output, never copied).
#[derive(Debug, Clone)]
pub struct PcmFrame {
    /// Stream position of the first sample.
    pub position: u64,
    /// PCM16 LE interleaved samples.
    pub pcm: Bytes,
}

/// The encoded streams listeners subscribe to (through the `subscribe_*` methods, which wake the
/// encoding thread).
#[derive(Debug, Clone)]
pub struct Encoded {
    /// Ogg pages (each item whole pages, so a listener may start at any item).
    opus: broadcast::Sender<Bytes>,
    /// The Ogg/Opus header pages a listener gets before the first page.
    pub opus_headers: Bytes,
    /// WebM clusters of the same Opus packets (each item whole clusters).
    webm: broadcast::Sender<Bytes>,
    /// The WebM headers (EBML header, Segment, Info, Tracks) a listener gets first.
    pub webm_headers: Bytes,
    /// Raw chunks for `/stream.wav` and `/ws`.
    pcm: broadcast::Sender<PcmFrame>,
    /// The last [`WAV_BURST`] of chunks, for the WAV stream's burst on connect.
    recent: Recent,
    /// The stream's sample rate in Hz.
    rate: u32,
    /// [`WAV_BURST`] in frames at `rate`.
    burst_frames: u64,
    /// The encoding thread, woken when a listener subscribes.
    encoder: Thread,
}

/// The chunks of the last [`WAV_BURST`] the encoding thread has taken, each with the time the
/// source stage produced it, oldest first.
type Recent = Arc<Mutex<VecDeque<(Instant, PcmFrame)>>>;

/// Audio a new `/stream.wav` listener gets at once before the live chunks: 2 s. Browsers'
/// `<audio>` does not start, or plays in bursts, a live stream that arrives only in real time
/// (measured in Chromium 156: RMS 0.017 of 0.177 without, 0.128 with a 2 s burst); Icecast's
/// "burst on connect" answers the same problem. It adds 2 s of latency to that stream only.
pub const WAV_BURST: Duration = Duration::from_secs(2);

/// How often the encoding thread catches up with the chunk stream while nobody listens: every
/// 250 ms (instead of waking for every chunk; a listener that subscribes wakes it at once, and
/// the chunks of the last ≤ 250 ms reach it right after the burst, none lost; the burst is
/// that much shorter, so the listener gets [`WAV_BURST`] at once in all).
pub const IDLE_POLL: Duration = Duration::from_millis(250);

impl Encoded {
    /// A new Ogg/Opus listener: the pages from the next one on (send [`Encoded::opus_headers`]
    /// first).
    pub fn subscribe_opus(&self) -> broadcast::Receiver<Bytes> {
        let rx = self.opus.subscribe();
        self.encoder.unpark();
        rx
    }

    /// A new WebM listener: the clusters from the next one on (send [`Encoded::webm_headers`]
    /// first).
    pub fn subscribe_webm(&self) -> broadcast::Receiver<Bytes> {
        let rx = self.webm.subscribe();
        self.encoder.unpark();
        rx
    }

    /// A new raw-PCM listener: every chunk from the next one on.
    pub fn subscribe_pcm(&self) -> broadcast::Receiver<PcmFrame> {
        let rx = self.pcm.subscribe();
        self.encoder.unpark();
        rx
    }

    /// A new raw-PCM listener: the recent chunks (oldest first) and a receiver of every chunk
    /// after them, taken under one lock so nothing is missed or sent twice. The recent chunks
    /// and the ones the encoding thread has yet to take (while nobody listened, up to
    /// [`IDLE_POLL`] of them; they follow at once) make [`WAV_BURST`] together.
    pub fn subscribe_pcm_with_recent(&self) -> (Vec<PcmFrame>, broadcast::Receiver<PcmFrame>) {
        let taken = {
            let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
            let frames = burst(&recent, Instant::now(), self.rate, self.burst_frames);
            (frames, self.pcm.subscribe())
        };
        self.encoder.unpark();
        taken
    }
}

/// The burst for a listener joining at `now`: the chunks of `recent` (with the times the source
/// stage produced them) that start within `burst_frames` of the stream's head, where the head
/// is the newest chunk's position plus the frames the source has produced since (`rate` Hz ×
/// the time since that chunk, the source stage keeping real time). The chunks between the
/// newest one here and the head follow at once from the live receiver, so the listener gets
/// `burst_frames` in all, however far behind the encoding thread was.
pub(super) fn burst(
    recent: &VecDeque<(Instant, PcmFrame)>,
    now: Instant,
    rate: u32,
    burst_frames: u64,
) -> Vec<PcmFrame> {
    let Some((newest_at, newest)) = recent.back() else {
        return Vec::new();
    };
    let since = now.saturating_duration_since(*newest_at);
    let head = newest.position + (since.as_secs_f64() * f64::from(rate)) as u64;
    recent
        .iter()
        .filter(|(_, f)| f.position + burst_frames > head)
        .map(|(_, f)| f.clone())
        .collect()
}

/// Starts the encoding thread for a stream of `rate` Hz and `channels` channels; each ring holds
/// `queue` items (a listener may fall that far behind before it is dropped). The thread ends
/// when the chunk stream closes. Opus runs at [`opus_rate`]`(rate)` and
/// [`super::ogg_opus::bitrate_for`] the format (24 kbit/s for speech, 128 kbit/s for stereo
/// music); a rate Opus lacks (44.1 kHz) is resampled to 48 kHz with libsamplerate first.
/// While nobody listens, the thread wakes every [`IDLE_POLL`] (not for every chunk) to keep the
/// [`WAV_BURST`] up to date.
///
/// # Errors
/// [`Error::Config`] if Opus cannot encode the format (more than 2 channels);
/// [`Error::Thread`] if the thread cannot start.
pub fn start(
    stream: &ChunkStream,
    rate: u32,
    channels: u16,
    queue: usize,
) -> Result<(Encoded, JoinHandle<()>)> {
    let opus_hz = opus_rate(rate);
    let opus = OggOpusEncoder::new(
        opus_hz,
        channels,
        super::ogg_opus::bitrate_for(rate, channels),
        fastrand::u32(..),
    )?;
    let opus_headers = opus.headers();
    let webm_headers = webm::headers(opus.opus_head(), channels, opus.pre_skip());
    let burst_frames = u64::from(rate) * WAV_BURST.as_millis() as u64 / 1000;
    let work = Work {
        chunks: stream.subscribe("encode"),
        opus_tx: broadcast::channel(queue.max(1)).0,
        webm_tx: broadcast::channel(queue.max(1)).0,
        pcm_tx: broadcast::channel(queue.max(1)).0,
        recent: Arc::new(Mutex::new(VecDeque::new())),
        burst_frames,
        opus,
        opus_hz,
        rate,
        channels,
    };
    let (opus_tx, webm_tx) = (work.opus_tx.clone(), work.webm_tx.clone());
    let (pcm_tx, recent) = (work.pcm_tx.clone(), work.recent.clone());
    let thread = std::thread::Builder::new()
        .name(ENCODE_THREAD.into())
        .spawn(move || work.run())
        .map_err(|source| Error::Thread {
            name: ENCODE_THREAD.into(),
            source,
        })?;
    let encoded = Encoded {
        opus: opus_tx,
        opus_headers,
        webm: webm_tx,
        webm_headers,
        pcm: pcm_tx,
        recent,
        rate,
        burst_frames,
        encoder: thread.thread().clone(),
    };
    Ok((encoded, thread))
}

/// The encoding thread's state.
struct Work {
    chunks: Subscription,
    opus_tx: broadcast::Sender<Bytes>,
    webm_tx: broadcast::Sender<Bytes>,
    pcm_tx: broadcast::Sender<PcmFrame>,
    recent: Recent,
    /// [`WAV_BURST`] in frames.
    burst_frames: u64,
    opus: OggOpusEncoder,
    opus_hz: u32,
    rate: u32,
    channels: u16,
}

impl Work {
    /// Reads chunks until the stream closes: waiting for each while someone listens, catching
    /// up every [`IDLE_POLL`] while nobody does.
    fn run(mut self) {
        // Made on this thread: the converter is not `Send`.
        let mut to_opus = ToOpus::new(self.rate, self.opus_hz, self.channels);
        loop {
            let listened = self.opus_tx.receiver_count() > 0
                || self.webm_tx.receiver_count() > 0
                || self.pcm_tx.receiver_count() > 0;
            let item = if listened {
                match self.chunks.recv_blocking() {
                    Some(item) => item,
                    None => return,
                }
            } else {
                match self.chunks.try_recv() {
                    Ok(Some(item)) => item,
                    Ok(None) => {
                        std::thread::park_timeout(IDLE_POLL);
                        continue;
                    }
                    Err(StreamClosed) => return,
                }
            };
            if let Output::Chunk(chunk) = item {
                self.chunk(&mut to_opus, &chunk.pcm, chunk.position, chunk.produced_at);
            }
        }
    }

    /// One chunk: into the WAV burst and to raw-PCM listeners, then into Opus if anyone listens.
    fn chunk(&mut self, to_opus: &mut ToOpus, pcm: &Bytes, position: u64, produced_at: Instant) {
        let frame = PcmFrame {
            position,
            pcm: pcm.clone(),
        };
        {
            // Under the lock a new listener takes (see subscribe_pcm_with_recent).
            let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
            while recent
                .front()
                .is_some_and(|(_, f)| f.position + self.burst_frames <= frame.position)
            {
                recent.pop_front();
            }
            recent.push_back((produced_at, frame.clone()));
            let _ = self.pcm_tx.send(frame);
        }
        // Opus costs CPU: encoded only while someone listens (a listener that joins gets the
        // headers and the pages from then on).
        if self.opus_tx.receiver_count() == 0 && self.webm_tx.receiver_count() == 0 {
            return;
        }
        match to_opus.push(&mut self.opus, pcm) {
            // A page every 100 ms; the same packets go out as one WebM cluster.
            Ok(pages) if !pages.is_empty() => {
                let _ = self.opus_tx.send(pages);
                let _ = self.webm_tx.send(webm::cluster(&self.opus.take_packets()));
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "Opus encoding failed; this chunk is skipped"),
        }
    }
}

/// The rate Opus encodes a stream of `rate` Hz at: `rate` itself if Opus has it
/// ([`super::ogg_opus::OPUS_RATES`]), 48 kHz otherwise.
pub fn opus_rate(rate: u32) -> u32 {
    if super::ogg_opus::OPUS_RATES.contains(&rate) {
        rate
    } else {
        48_000
    }
}

/// PCM16 chunks into the Opus encoder, through libsamplerate when the stream's rate is not one
/// Opus has (made on the encoding thread: the converter is not `Send`).
struct ToOpus {
    /// Whether the stream needs resampling for Opus.
    resample: bool,
    resampler: Option<crate::audio::dsp::Resampler>,
    samples: Vec<f32>,
    resampled: Vec<f32>,
}

impl ToOpus {
    fn new(rate: u32, opus_hz: u32, channels: u16) -> Self {
        let resampler = (rate != opus_hz)
            .then(|| {
                crate::audio::dsp::Resampler::new(
                    rate,
                    opus_hz,
                    channels,
                    crate::audio::dsp::DEFAULT_CONVERTER,
                )
            })
            .and_then(|r| {
                r.inspect_err(|e| warn!(error = %e, "no resampler for Opus; Opus is off"))
                    .ok()
            });
        Self {
            resample: rate != opus_hz,
            resampler,
            samples: Vec::new(),
            resampled: Vec::new(),
        }
    }

    fn push(&mut self, opus: &mut OggOpusEncoder, pcm: &[u8]) -> Result<Bytes> {
        if !self.resample {
            return opus.push_pcm16(pcm);
        }
        let Some(resampler) = self.resampler.as_mut() else {
            return Ok(Bytes::new());
        };
        self.samples.clear();
        crate::audio::dsp::pcm16_bytes_into(pcm, &mut self.samples);
        self.resampled.clear();
        resampler.process(&self.samples, &mut self.resampled)?;
        opus.push_f32(&self.resampled)
    }
}
