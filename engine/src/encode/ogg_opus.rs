//! Ogg/Opus, as RFC 7845 ("Ogg Encapsulation for the Opus Audio Codec") lays it out: an `OpusHead`
//! page, an `OpusTags` page, then audio pages whose granule positions count 48 kHz samples.
//!
//! Live use: a listener that joins mid-stream is sent [`OggOpusEncoder::headers`] first and then
//! the pages from now on (as Icecast does); players take the jump in page sequence numbers and
//! granule positions as the start of their stream. (Renumbering a listener's header pages to
//! end right before its first live page was tried: libogg then sees a hole before `OpusHead`
//! and opusinfo calls the stream invalid, so the jump stays where players expect it.) Encoding uses libopus (the reference codec,
//! through the `opus` crate) in 20 ms frames; pages are flushed every [`FRAMES_PER_PAGE`] frames
//! (100 ms), so a new listener starts within a fraction of a second.

use bytes::Bytes;
use ogg::writing::{PacketWriteEndInfo, PacketWriter};

use crate::{Error, Result};

/// Opus frame duration: 20 ms (RFC 6716 allows 2.5 to 60 ms; 20 ms is libopus's default and
/// what speech and music codecs in browsers expect).
pub const FRAME_MS: u32 = 20;
/// Opus frames per Ogg page: 5, a page every 100 ms. One page per frame would add about 28 bytes
/// of page header every 20 ms (11 kbit/s at 24 kbit/s of audio).
pub const FRAMES_PER_PAGE: u32 = 5;
/// Bit rate for 16 kHz mono (speech): 24 kbit/s, the bottom of the 24–32 kbit/s range where
/// Opus wideband speech is transparent (RFC 6716 §2.1.1 recommends 24–40 kbit/s for fullband
/// speech and 16–20 kbit/s for wideband).
pub const SPEECH_BITRATE: i32 = 24_000;
/// Bit rate for music in stereo: 128 kbit/s, where listening tests find Opus fullband stereo
/// music transparent for most listeners (RFC 6716 §2.1.1 puts fullband stereo music at
/// 48–64 kbit/s for "good" quality; the Opus codec's recommended settings page, wiki.xiph.org
/// `Opus_Recommended_Settings`, gives 96–128 kbit/s for stereo music as "transparent").
pub const MUSIC_STEREO_BITRATE: i32 = 128_000;
/// Bit rate for fullband music in mono: 96 kbit/s (the same source's figure for mono music
/// with margin).
pub const MUSIC_MONO_BITRATE: i32 = 96_000;

/// The Opus bit rate (bit/s) for a stream of `rate` Hz and `channels` channels: speech rates
/// (at most 24 kHz) in mono get [`SPEECH_BITRATE`], anything else is music:
/// [`MUSIC_STEREO_BITRATE`] for two channels, [`MUSIC_MONO_BITRATE`] for one.
pub fn bitrate_for(rate: u32, channels: u16) -> i32 {
    match (rate <= 24_000, channels) {
        (true, 1) => SPEECH_BITRATE,
        (_, 1) => MUSIC_MONO_BITRATE,
        _ => MUSIC_STEREO_BITRATE,
    }
}

/// The sample rates Opus encodes (RFC 6716 §2): a stream at another rate (44.1 kHz) is
/// resampled to 48 kHz for Opus.
pub const OPUS_RATES: [u32; 5] = [8_000, 12_000, 16_000, 24_000, 48_000];
/// Granule positions always count samples at 48 kHz, whatever the input rate (RFC 7845 §4).
const GRANULE_RATE: u64 = 48_000;
/// The vendor string in `OpusTags`.
const VENDOR: &str = concat!("audioMi ", env!("CARGO_PKG_VERSION"));

/// Encodes interleaved PCM16 into Ogg/Opus pages.
pub struct OggOpusEncoder {
    opus: opus::Encoder,
    pages: PacketWriter<'static, Vec<u8>>,
    serial: u32,
    rate: u32,
    channels: u16,
    /// Samples per channel in one Opus frame.
    frame: usize,
    /// Samples (interleaved) waiting for a whole frame.
    pending: Vec<f32>,
    /// Frames in the page being built.
    in_page: u32,
    /// Granule position at the end of the last frame: 48 kHz samples a decoder has produced,
    /// the pre-skip included (RFC 7845 §4), so the first frame ends at 960.
    granule: u64,
    /// `pre_skip + ` real samples pushed, at 48 kHz: the final granule (end trimming).
    real_end: u64,
    pre_skip: u16,
    headers: Bytes,
    head: Vec<u8>,
    packet: Vec<u8>,
    /// Opus packets encoded since the last [`OggOpusEncoder::take_packets`], with the stream
    /// time of their first sample in 48 kHz samples (pre-skip included), for other containers.
    packets: Vec<(u64, Bytes)>,
}

impl std::fmt::Debug for OggOpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OggOpusEncoder")
            .field("rate", &self.rate)
            .field("channels", &self.channels)
            .field("granule", &self.granule)
            .finish_non_exhaustive()
    }
}

impl OggOpusEncoder {
    /// An encoder for `channels` (1 or 2) channels at `rate` Hz (8,000, 12,000, 16,000, 24,000
    /// or 48,000: the rates libopus takes) at `bitrate` bit/s, writing Ogg stream `serial`.
    ///
    /// # Errors
    /// [`Error::Config`] for a rate or channel count Opus does not take; [`Error::Opus`] if
    /// libopus refuses the bit rate.
    pub fn new(rate: u32, channels: u16, bitrate: i32, serial: u32) -> Result<Self> {
        if !OPUS_RATES.contains(&rate) {
            return Err(Error::config(
                "rate",
                rate.to_string(),
                "Opus encodes 8, 12, 16, 24 or 48 kHz",
            ));
        }
        let layout = match channels {
            1 => opus::Channels::Mono,
            2 => opus::Channels::Stereo,
            n => {
                return Err(Error::config(
                    "channels",
                    n.to_string(),
                    "Opus in Ogg mapping family 0 carries 1 or 2 channels",
                ));
            }
        };
        let mut opus =
            opus::Encoder::new(rate, layout, opus::Application::Audio).map_err(Error::Opus)?;
        opus.set_bitrate(opus::Bitrate::Bits(bitrate))
            .map_err(Error::Opus)?;
        let lookahead = u64::try_from(opus.get_lookahead().map_err(Error::Opus)?).unwrap_or(0);
        let pre_skip = u16::try_from(lookahead * GRANULE_RATE / u64::from(rate)).unwrap_or(0);
        let mut encoder = Self {
            opus,
            pages: PacketWriter::new(Vec::new()),
            serial,
            rate,
            channels,
            frame: (rate * FRAME_MS / 1000) as usize,
            pending: Vec::new(),
            in_page: 0,
            granule: 0,
            real_end: u64::from(pre_skip),
            pre_skip,
            headers: Bytes::new(),
            head: Vec::new(),
            packet: vec![0; 4000],
            packets: Vec::new(),
        };
        encoder.headers = encoder.write_headers()?;
        Ok(encoder)
    }

    /// The two header pages (`OpusHead`, `OpusTags`) every listener gets first.
    pub fn headers(&self) -> Bytes {
        self.headers.clone()
    }

    /// The `OpusHead` packet (19 bytes for mapping family 0), which WebM carries as the track's
    /// `CodecPrivate`.
    pub fn opus_head(&self) -> &[u8] {
        &self.head
    }

    /// The Opus packets encoded since the last call, each with the stream time of its first
    /// sample in 48 kHz samples (pre-skip included), so another container ([`super::webm`])
    /// carries the same packets without encoding again.
    pub fn take_packets(&mut self) -> Vec<(u64, Bytes)> {
        std::mem::take(&mut self.packets)
    }

    /// The pre-skip in 48 kHz samples: the encoder's look-ahead, which decoders drop.
    pub fn pre_skip(&self) -> u16 {
        self.pre_skip
    }

    fn write_headers(&mut self) -> Result<Bytes> {
        // OpusHead (RFC 7845 §5.1): magic, version 1, channels, pre-skip, input rate, gain 0,
        // channel mapping family 0.
        let mut head = b"OpusHead".to_vec();
        head.push(1);
        head.push(self.channels as u8);
        head.extend_from_slice(&self.pre_skip.to_le_bytes());
        head.extend_from_slice(&self.rate.to_le_bytes());
        head.extend_from_slice(&0i16.to_le_bytes());
        head.push(0);
        self.head.clone_from(&head);
        // OpusTags (RFC 7845 §5.2): magic, vendor string, no user comments.
        let mut tags = b"OpusTags".to_vec();
        tags.extend_from_slice(&(VENDOR.len() as u32).to_le_bytes());
        tags.extend_from_slice(VENDOR.as_bytes());
        tags.extend_from_slice(&0u32.to_le_bytes());
        let serial = self.serial;
        let io = |e: std::io::Error| Error::config("ogg", "headers", e.to_string());
        self.pages
            .write_packet(head, serial, PacketWriteEndInfo::EndPage, 0)
            .map_err(io)?;
        self.pages
            .write_packet(tags, serial, PacketWriteEndInfo::EndPage, 0)
            .map_err(io)?;
        Ok(self.take_pages())
    }

    fn take_pages(&mut self) -> Bytes {
        Bytes::from(std::mem::take(self.pages.inner_mut()))
    }

    /// Encodes `pcm` (PCM16 little-endian, interleaved; a trailing odd byte is ignored) and
    /// returns the Ogg pages completed by it (often none: a page holds 100 ms).
    ///
    /// # Errors
    /// [`Error::Opus`] if libopus fails on a frame.
    pub fn push_pcm16(&mut self, pcm: &[u8]) -> Result<Bytes> {
        let before = self.pending.len();
        crate::audio::dsp::pcm16_bytes_into(pcm, &mut self.pending);
        self.pushed(self.pending.len() - before)
    }

    /// As [`OggOpusEncoder::push_pcm16`], for interleaved `f32` samples (full scale ±1.0) at the
    /// encoder's rate.
    ///
    /// # Errors
    /// As [`OggOpusEncoder::push_pcm16`].
    pub fn push_f32(&mut self, samples: &[f32]) -> Result<Bytes> {
        self.pending.extend_from_slice(samples);
        self.pushed(samples.len())
    }

    fn pushed(&mut self, samples: usize) -> Result<Bytes> {
        let real = (samples / usize::from(self.channels)) as u64;
        self.real_end += real * GRANULE_RATE / u64::from(self.rate);
        self.encode_whole_frames(false)
    }

    /// Pads the last frame with silence, writes the end-of-stream page whose granule position
    /// trims the padding (RFC 7845 §4.4), and returns the last pages.
    ///
    /// # Errors
    /// [`Error::Opus`] if libopus fails on the last frame.
    pub fn finish(mut self) -> Result<Bytes> {
        let whole = self.frame * usize::from(self.channels);
        let rest = self.pending.len() % whole;
        if rest != 0 || self.pending.is_empty() {
            self.pending.resize(self.pending.len() + whole - rest, 0.0);
        }
        self.encode_whole_frames(true)
    }

    fn encode_whole_frames(&mut self, last: bool) -> Result<Bytes> {
        let whole = self.frame * usize::from(self.channels);
        let frames = self.pending.len() / whole;
        let step = self.frame as u64 * GRANULE_RATE / u64::from(self.rate);
        for i in 0..frames {
            let samples = &self.pending[i * whole..(i + 1) * whole];
            let n = self
                .opus
                .encode_float(samples, &mut self.packet)
                .map_err(Error::Opus)?;
            self.packets
                .push((self.granule, Bytes::copy_from_slice(&self.packet[..n])));
            self.granule += step;
            self.in_page += 1;
            let end = if last && i + 1 == frames {
                PacketWriteEndInfo::EndStream
            } else if self.in_page >= FRAMES_PER_PAGE {
                PacketWriteEndInfo::EndPage
            } else {
                PacketWriteEndInfo::NormalPacket
            };
            if end != PacketWriteEndInfo::NormalPacket {
                self.in_page = 0;
            }
            let granule = if last && i + 1 == frames {
                self.real_end.min(self.granule)
            } else {
                self.granule
            };
            self.pages
                .write_packet(self.packet[..n].to_vec(), self.serial, end, granule)
                .map_err(|e| Error::config("ogg", "page", e.to_string()))?;
        }
        self.pending.drain(..frames * whole);
        Ok(self.take_pages())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first page carries exactly this OpusHead for 16 kHz mono: "OpusHead", version 1,
    /// 1 channel, pre-skip 312 (libopus's 6.5 ms look-ahead at 48 kHz), input rate 16,000,
    /// gain 0, mapping family 0.
    #[test]
    fn the_first_page_is_a_beginning_of_stream_page_with_the_opus_head() {
        let encoder = OggOpusEncoder::new(16_000, 1, SPEECH_BITRATE, 0x0102_0304).expect("new");
        let h = encoder.headers();
        assert_eq!(&h[..4], b"OggS");
        assert_eq!(h[5], 0x02, "beginning of stream");
        assert_eq!(&h[14..18], &[0x04, 0x03, 0x02, 0x01], "serial");
        let head: &[u8] = &[
            0x4f, 0x70, 0x75, 0x73, 0x48, 0x65, 0x61, 0x64, // "OpusHead"
            0x01, 0x01, // version 1, 1 channel
            0x38, 0x01, // pre-skip 312
            0x80, 0x3e, 0x00, 0x00, // 16,000 Hz
            0x00, 0x00, 0x00, // gain 0, family 0
        ];
        // One segment of 19 bytes after the 27-byte page header.
        assert_eq!(&h[26..28], &[0x01, 19]);
        assert_eq!(&h[28..47], head);
        assert_eq!(encoder.pre_skip(), 312);
        let tags = &h[47..];
        assert!(tags.windows(8).any(|w| w == b"OpusTags"));
    }

    #[test]
    fn rates_and_channel_counts_opus_cannot_carry_are_config_errors() {
        for (rate, channels) in [(44_100, 1), (16_000, 0), (48_000, 3)] {
            let e = OggOpusEncoder::new(rate, channels, SPEECH_BITRATE, 1).expect_err("refused");
            assert!(matches!(e, Error::Config { .. }), "{e}");
        }
    }

    #[test]
    fn pages_come_every_100_ms_and_odd_bytes_are_ignored() {
        let mut encoder = OggOpusEncoder::new(16_000, 1, SPEECH_BITRATE, 1).expect("new");
        let chunk = vec![0u8; 641]; // 20 ms and a stray byte
        let sizes: Vec<usize> = (0..10)
            .map(|_| encoder.push_pcm16(&chunk).expect("push").len())
            .collect();
        let pages: Vec<usize> = (0..10).filter(|&i| sizes[i] > 0).collect();
        assert_eq!(pages, [4, 9], "a page after every fifth 20 ms frame");
    }
}
