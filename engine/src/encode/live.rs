//! The live encodings of a stream, shared by every output that sends encoded audio (the web
//! player, Icecast): one thread reads the chunk stream and encodes each chunk **once** per
//! format (Opus only while something reads it); the bytes go into one bounded broadcast ring per
//! format that every listener of that format reads. A listener that falls more than the ring
//! behind is dropped by its output (see [`crate::web::routes`]); the thread never waits for a
//! listener.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use bytes::Bytes;
use tokio::sync::broadcast;
use tracing::warn;

use super::{OggOpusEncoder, webm};
use crate::pipeline::Output;
use crate::stream::ChunkStream;
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

/// The encoded streams listeners subscribe to.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// Ogg pages (each item whole pages, so a listener may start at any item).
    pub opus: broadcast::Sender<Bytes>,
    /// The Ogg/Opus header pages a listener gets before the first page.
    pub opus_headers: Bytes,
    /// WebM clusters of the same Opus packets (each item whole clusters).
    pub webm: broadcast::Sender<Bytes>,
    /// The WebM headers (EBML header, Segment, Info, Tracks) a listener gets first.
    pub webm_headers: Bytes,
    /// Raw chunks for `/stream.wav` and `/ws`.
    pub pcm: broadcast::Sender<PcmFrame>,
    /// The last [`WAV_BURST`] of chunks, for the WAV stream's burst on connect.
    pub recent: Arc<Mutex<VecDeque<PcmFrame>>>,
}

/// Audio a new `/stream.wav` listener gets at once before the live chunks: 2 s. Browsers'
/// `<audio>` does not start, or plays in bursts, a live stream that arrives only in real time
/// (measured in Chromium 156: RMS 0.017 of 0.177 without, 0.128 with a 2 s burst); Icecast's
/// "burst on connect" answers the same problem. It adds 2 s of latency to that stream only.
pub const WAV_BURST: std::time::Duration = std::time::Duration::from_secs(2);

impl Encoded {
    /// A new raw-PCM listener: the recent chunks (oldest first) and a receiver of every chunk
    /// after them, taken under one lock so nothing is missed or sent twice.
    pub fn subscribe_pcm_with_recent(&self) -> (Vec<PcmFrame>, broadcast::Receiver<PcmFrame>) {
        let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        (recent.iter().cloned().collect(), self.pcm.subscribe())
    }
}

/// Starts the encoding thread for a stream of `rate` Hz and `channels` channels; each ring holds
/// `queue` items (a listener may fall that far behind before it is dropped). The thread ends
/// when the chunk stream closes. Opus runs at [`opus_rate`]`(rate)` and
/// [`super::ogg_opus::bitrate_for`] the format (24 kbit/s for speech, 128 kbit/s for stereo
/// music); a rate Opus lacks (44.1 kHz) is resampled to 48 kHz with libsamplerate first.
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
    let mut opus = OggOpusEncoder::new(
        opus_hz,
        channels,
        super::ogg_opus::bitrate_for(rate, channels),
        fastrand::u32(..),
    )?;
    let (opus_tx, _) = broadcast::channel(queue.max(1));
    let (webm_tx, _) = broadcast::channel(queue.max(1));
    let (pcm_tx, _) = broadcast::channel(queue.max(1));
    let recent = Arc::new(Mutex::new(VecDeque::new()));
    let encoded = Encoded {
        opus: opus_tx.clone(),
        opus_headers: opus.headers(),
        webm: webm_tx.clone(),
        webm_headers: webm::headers(opus.opus_head(), channels, opus.pre_skip()),
        pcm: pcm_tx.clone(),
        recent: recent.clone(),
    };
    let burst_samples = u64::from(rate) * WAV_BURST.as_millis() as u64 / 1000;
    let mut chunks = stream.subscribe("encode");
    let thread = std::thread::Builder::new()
        .name(ENCODE_THREAD.into())
        .spawn(move || {
            let mut to_opus = ToOpus::new(rate, opus_hz, channels);
            while let Some(item) = chunks.recv_blocking() {
                let Output::Chunk(chunk) = item else { continue };
                let frame = PcmFrame {
                    position: chunk.position,
                    pcm: chunk.pcm.clone(),
                };
                {
                    // Under the lock a new listener takes (see subscribe_pcm_with_recent).
                    let mut recent = recent.lock().unwrap_or_else(PoisonError::into_inner);
                    while recent
                        .front()
                        .is_some_and(|f| f.position + burst_samples <= frame.position)
                    {
                        recent.pop_front();
                    }
                    recent.push_back(frame.clone());
                    let _ = pcm_tx.send(frame);
                }
                // Opus costs CPU: encoded only while someone listens (a listener that joins gets
                // the headers and the pages from then on).
                if opus_tx.receiver_count() == 0 && webm_tx.receiver_count() == 0 {
                    continue;
                }
                match to_opus.push(&mut opus, &chunk.pcm) {
                    // A page every 100 ms; the same packets go out as one WebM cluster.
                    Ok(pages) if !pages.is_empty() => {
                        let _ = opus_tx.send(pages);
                        let _ = webm_tx.send(webm::cluster(&opus.take_packets()));
                    }
                    Ok(_) => {}
                    Err(e) => warn!(error = %e, "Opus encoding failed; this chunk is skipped"),
                }
            }
        })
        .map_err(|source| Error::Thread {
            name: ENCODE_THREAD.into(),
            source,
        })?;
    Ok((encoded, thread))
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
