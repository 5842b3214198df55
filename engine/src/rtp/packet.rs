//! RTP packets of L16 audio: the fixed 12-byte header of RFC 3550 §5.1 and a packetizer that cuts
//! the chunk stream into packets of whole milliseconds with continuous sequence numbers and
//! timestamps (RFC 3551 §4.5.11: L16 is 16-bit signed samples in network byte order, big-endian;
//! the RTP clock rate is the sample rate).

/// The dynamic payload type audioMi sends: 96 (RFC 3551 §6 leaves 96–127 dynamic; the SDP
/// description binds it to `L16/RATE/CHANNELS`).
pub const PAYLOAD_TYPE: u8 = 96;

/// Size of the fixed RTP header (no CSRC, no extension): 12 bytes.
pub const HEADER_LEN: usize = 12;

/// Largest payload that fits one 1,500-byte Ethernet frame over IPv6 (40-byte IP header, 8-byte
/// UDP header, 12-byte RTP header): 1,440 bytes. The same limit is used over IPv4.
pub const MAX_PAYLOAD: usize = 1500 - 40 - 8 - HEADER_LEN;

/// A gap in stream positions (an output that fell behind) up to this many milliseconds is filled
/// with silence so that the timestamps stay continuous; a longer one is a new talkspurt (the
/// timestamp jumps and the marker bit is set). 1,000 ms.
pub const MAX_FILL_MS: u64 = 1000;

/// The fixed part of an RTP header (version 2, no padding, no extension, no CSRC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    /// Marker bit: the first packet of a talkspurt (RFC 3551 §4.1).
    pub marker: bool,
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Sequence number, +1 per packet, wrapping.
    pub sequence: u16,
    /// Sampling instant of the first sample, in units of the clock rate (samples per channel).
    pub timestamp: u32,
    /// Synchronization source identifier (random per stream, RFC 3550 §8).
    pub ssrc: u32,
}

impl RtpHeader {
    /// The 12 header bytes, big-endian as RFC 3550 §5.1 lays them out.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0] = 2 << 6;
        b[1] = (u8::from(self.marker) << 7) | (self.payload_type & 0x7f);
        b[2..4].copy_from_slice(&self.sequence.to_be_bytes());
        b[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        b[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        b
    }
}

/// Packet duration in ms for `rate` Hz and `channels` channels of L16: 20 ms if its payload fits
/// [`MAX_PAYLOAD`], else 10 ms, else the most whole milliseconds that fit (at least 1).
pub fn packet_ms(rate: u32, channels: u16) -> u32 {
    let bytes_per_ms = (rate as usize * usize::from(channels) * 2)
        .div_ceil(1000)
        .max(1);
    match [20, 10]
        .into_iter()
        .find(|ms| ms * bytes_per_ms <= MAX_PAYLOAD)
    {
        Some(ms) => ms as u32,
        None => (MAX_PAYLOAD / bytes_per_ms).max(1) as u32,
    }
}

/// Cuts PCM16 LE chunks into RTP packets of L16 (big-endian) of [`packet_ms`] each.
#[derive(Debug)]
pub struct Packetizer {
    header: RtpHeader,
    /// `timestamp = base + position` (wrapping).
    base: u32,
    channels: usize,
    /// Samples per channel in one packet.
    samples: usize,
    /// Largest gap filled with silence, in samples per channel.
    max_fill: u64,
    /// The packet being built: header, then big-endian samples.
    packet: Vec<u8>,
    /// Stream position of the first sample in `packet`, and the position expected next.
    start: u64,
    next: Option<u64>,
}

impl Packetizer {
    /// A packetizer for `rate` Hz, `channels` channels, with the random values RFC 3550 asks
    /// for: `ssrc`, the first sequence number and the timestamp of stream position 0.
    pub fn new(rate: u32, channels: u16, ssrc: u32, first_sequence: u16, base: u32) -> Self {
        let samples = (rate as usize * packet_ms(rate, channels) as usize / 1000).max(1);
        Self {
            header: RtpHeader {
                marker: true,
                payload_type: PAYLOAD_TYPE,
                sequence: first_sequence,
                timestamp: base,
                ssrc,
            },
            base,
            channels: usize::from(channels.max(1)),
            samples,
            max_fill: u64::from(rate) * MAX_FILL_MS / 1000,
            packet: Vec::with_capacity(HEADER_LEN + samples * usize::from(channels) * 2),
            start: 0,
            next: None,
        }
    }

    /// Samples per channel in one packet.
    pub fn samples_per_packet(&self) -> usize {
        self.samples
    }

    /// Adds a chunk that starts at stream `position` (samples per channel) and holds `pcm_le`
    /// (interleaved PCM16 little-endian; a trailing odd byte is ignored); calls `send` with every
    /// packet completed. A jump forward in positions of up to [`MAX_FILL_MS`] is filled with
    /// silence; a longer one, or a jump back, starts a new talkspurt (marker bit set).
    pub fn push(&mut self, position: u64, pcm_le: &[u8], send: &mut impl FnMut(&[u8])) {
        match self.next {
            Some(next) if position == next => {}
            Some(next) if position > next && position - next <= self.max_fill => {
                let zeros = (position - next) as usize * self.channels;
                for _ in 0..zeros {
                    self.add_sample([0, 0], send);
                }
            }
            _ => {
                // First chunk or a discontinuity: what is pending goes out as it is.
                self.flush(send);
                self.start = position;
                self.header.marker = true;
            }
        }
        for s in pcm_le.chunks_exact(2) {
            self.add_sample([s[1], s[0]], send);
        }
        self.next = Some(position + (pcm_le.len() / 2 / self.channels) as u64);
    }

    fn add_sample(&mut self, be: [u8; 2], send: &mut impl FnMut(&[u8])) {
        if self.packet.is_empty() {
            self.header.timestamp = self.base.wrapping_add(self.start as u32);
            self.packet.extend_from_slice(&self.header.to_bytes());
        }
        self.packet.extend_from_slice(&be);
        if self.packet.len() == HEADER_LEN + self.samples * self.channels * 2 {
            self.flush(send);
        }
    }

    /// Sends the packet being built, if it holds any samples.
    fn flush(&mut self, send: &mut impl FnMut(&[u8])) {
        if self.packet.len() <= HEADER_LEN {
            self.packet.clear();
            return;
        }
        send(&self.packet);
        let samples = (self.packet.len() - HEADER_LEN) / 2 / self.channels;
        self.start += samples as u64;
        self.packet.clear();
        self.header.sequence = self.header.sequence.wrapping_add(1);
        self.header.marker = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_the_rfc_3550_layout() {
        let h = RtpHeader {
            marker: true,
            payload_type: 96,
            sequence: 0x1234,
            timestamp: 0xDEAD_BEEF,
            ssrc: 0x0102_0304,
        };
        // V=2 P=0 X=0 CC=0 | M=1 PT=96 | seq | timestamp | SSRC
        assert_eq!(
            h.to_bytes(),
            [
                0x80, 0xE0, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04
            ]
        );
        let h = RtpHeader {
            marker: false,
            sequence: 0xFFFF,
            ..h
        };
        assert_eq!(&h.to_bytes()[..4], &[0x80, 0x60, 0xFF, 0xFF]);
    }

    #[test]
    fn packet_durations_fit_the_mtu() {
        assert_eq!(packet_ms(16_000, 1), 20); // 640 B
        assert_eq!(packet_ms(48_000, 1), 10); // 960 B (20 ms would be 1,920 B)
        assert_eq!(packet_ms(44_100, 2), 8); // 1,416 B (10 ms would be 1,764 B)
        assert_eq!(packet_ms(48_000, 2), 7); // 1,344 B
    }

    fn packets(p: &mut Packetizer, position: u64, samples: &[i16]) -> Vec<Vec<u8>> {
        let le: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut out = Vec::new();
        p.push(position, &le, &mut |b: &[u8]| out.push(b.to_vec()));
        out
    }

    #[test]
    fn chunks_become_big_endian_packets_with_continuous_numbers() {
        let mut p = Packetizer::new(16_000, 1, 7, 65_535, 1000);
        assert_eq!(p.samples_per_packet(), 320);
        // 1.5 packets, then 1.5 more: three whole packets across the chunk boundary.
        let mut out = packets(&mut p, 0, &[0x0102; 480]);
        out.extend(packets(&mut p, 480, &[-2; 480]));
        assert_eq!(out.len(), 3);
        for (i, pkt) in out.iter().enumerate() {
            assert_eq!(pkt.len(), 12 + 640);
            let seq = u16::from_be_bytes([pkt[2], pkt[3]]);
            assert_eq!(seq, 65_535u16.wrapping_add(i as u16));
            let ts = u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]);
            assert_eq!(ts, 1000 + 320 * i as u32);
            assert_eq!(pkt[1] >> 7, u8::from(i == 0), "marker only on the first");
        }
        assert_eq!(&out[0][12..14], &[0x01, 0x02], "big-endian");
        // Packet 1 holds 160 samples of the first chunk, then the second chunk's −2 (0xFFFE).
        assert_eq!(&out[1][12 + 318..12 + 322], &[0x01, 0x02, 0xFF, 0xFE]);
    }

    #[test]
    fn a_short_gap_is_filled_with_silence_and_a_long_one_is_a_new_talkspurt() {
        let mut p = Packetizer::new(16_000, 1, 7, 0, 0);
        let mut out = packets(&mut p, 0, &[5; 320]);
        // 100 samples lost: filled with zeros, numbers stay continuous.
        out.extend(packets(&mut p, 420, &[5; 540]));
        assert_eq!(out.len(), 3);
        assert!(out[1][12..12 + 200].iter().all(|&b| b == 0));
        assert_eq!(&out[1][12 + 200..12 + 202], &[0, 5]);
        assert_eq!(
            u32::from_be_bytes([out[2][4], out[2][5], out[2][6], out[2][7]]),
            640
        );
        // Two seconds lost: the timestamp jumps, the marker is set, the sequence goes on.
        let out = packets(&mut p, 960 + 32_000, &[5; 320]);
        assert_eq!(out.len(), 1);
        assert_eq!(u16::from_be_bytes([out[0][2], out[0][3]]), 3);
        assert_eq!(
            u32::from_be_bytes([out[0][4], out[0][5], out[0][6], out[0][7]]),
            960 + 32_000
        );
        assert_eq!(out[0][1] >> 7, 1);
    }
}
