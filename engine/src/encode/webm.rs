//! Opus in a live WebM stream (Matroska's web profile): what browsers' `<audio>` plays live.
//! Chromium does not start a live Ogg/Opus stream in `<audio>` (see README), but plays WebM.
//!
//! Layout (Matroska specification, RFC 9559; WebM's Opus mapping, "Opus in Matroska"): an EBML
//! header, a Segment of unknown size, Info (timestamps in milliseconds), Tracks (one audio track,
//! codec `A_OPUS`, the `OpusHead` as `CodecPrivate`, the pre-skip as `CodecDelay`), then one
//! Cluster per batch of packets, each packet a SimpleBlock. A listener that joins mid-stream gets
//! the headers, then clusters from then on (their timestamps are the stream's).

use bytes::{BufMut, Bytes, BytesMut};

/// Matroska's "unknown size" (an 8-byte size field of all ones): a live Segment has no end.
const UNKNOWN_SIZE: [u8; 8] = [0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

/// Writes EBML element `id` (its bytes as in the specification) with `data`.
fn element(out: &mut BytesMut, id: &[u8], data: &[u8]) {
    out.put_slice(id);
    put_size(out, data.len() as u64);
    out.put_slice(data);
}

/// An EBML variable-size integer for a data size, in the fewest bytes (at most 8).
fn put_size(out: &mut BytesMut, size: u64) {
    let mut len = 1;
    while len < 8 && size >= (1u64 << (7 * len)) - 1 {
        len += 1;
    }
    let marked = size | (1u64 << (7 * len));
    out.put_slice(&marked.to_be_bytes()[8 - len..]);
}

/// An unsigned integer element in the fewest bytes.
fn uint(out: &mut BytesMut, id: &[u8], value: u64) {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take(7).take_while(|&&b| b == 0).count();
    element(out, id, &bytes[skip..]);
}

/// The headers every listener gets first: EBML header, the live Segment, Info and Tracks for
/// one Opus track of `channels` channels, with `opus_head` as its codec private data and
/// `pre_skip` (48 kHz samples) as its codec delay.
pub fn headers(opus_head: &[u8], channels: u16, pre_skip: u16) -> Bytes {
    let mut out = BytesMut::new();
    let mut ebml = BytesMut::new();
    uint(&mut ebml, &[0x42, 0x86], 1); // EBMLVersion
    uint(&mut ebml, &[0x42, 0xf7], 1); // EBMLReadVersion
    uint(&mut ebml, &[0x42, 0xf2], 4); // EBMLMaxIDLength
    uint(&mut ebml, &[0x42, 0xf3], 8); // EBMLMaxSizeLength
    element(&mut ebml, &[0x42, 0x82], b"webm"); // DocType
    uint(&mut ebml, &[0x42, 0x87], 4); // DocTypeVersion
    uint(&mut ebml, &[0x42, 0x85], 2); // DocTypeReadVersion
    element(&mut out, &[0x1a, 0x45, 0xdf, 0xa3], &ebml);
    out.put_slice(&[0x18, 0x53, 0x80, 0x67]); // Segment
    out.put_slice(&UNKNOWN_SIZE);
    let mut info = BytesMut::new();
    uint(&mut info, &[0x2a, 0xd7, 0xb1], 1_000_000); // TimestampScale: 1 ms
    element(&mut info, &[0x4d, 0x80], b"audioMi"); // MuxingApp
    element(&mut info, &[0x57, 0x41], b"audioMi"); // WritingApp
    element(&mut out, &[0x15, 0x49, 0xa9, 0x66], &info);
    let mut audio = BytesMut::new();
    element(&mut audio, &[0xb5], &48_000f64.to_be_bytes()); // SamplingFrequency
    uint(&mut audio, &[0x9f], u64::from(channels)); // Channels
    let mut track = BytesMut::new();
    uint(&mut track, &[0xd7], 1); // TrackNumber
    uint(&mut track, &[0x73, 0xc5], 1); // TrackUID
    uint(&mut track, &[0x83], 2); // TrackType: audio
    element(&mut track, &[0x86], b"A_OPUS"); // CodecID
    element(&mut track, &[0x63, 0xa2], opus_head); // CodecPrivate
    // CodecDelay and SeekPreRoll in ns (the WebM Opus mapping: 80 ms of pre-roll).
    uint(
        &mut track,
        &[0x56, 0xaa],
        u64::from(pre_skip) * 1_000_000_000 / 48_000,
    );
    uint(&mut track, &[0x56, 0xbb], 80_000_000);
    element(&mut track, &[0xe1], &audio); // Audio
    let mut tracks = BytesMut::new();
    element(&mut tracks, &[0xae], &track); // TrackEntry
    element(&mut out, &[0x16, 0x54, 0xae, 0x6b], &tracks);
    out.freeze()
}

/// One Cluster holding `packets` (each with its stream time in 48 kHz samples, in order), or
/// nothing for no packets. Block timestamps are relative to the first packet's, in ms.
pub fn cluster(packets: &[(u64, Bytes)]) -> Bytes {
    let Some(&(first, _)) = packets.first() else {
        return Bytes::new();
    };
    let base_ms = first / 48;
    let mut body = BytesMut::new();
    uint(&mut body, &[0xe7], base_ms); // Timestamp
    for (at, packet) in packets {
        let relative = i16::try_from(at / 48 - base_ms).unwrap_or(i16::MAX);
        let mut block = BytesMut::with_capacity(4 + packet.len());
        block.put_u8(0x81); // track 1
        block.put_i16(relative);
        block.put_u8(0x80); // keyframe (every Opus packet decodes on its own)
        block.put_slice(packet);
        element(&mut body, &[0xa3], &block); // SimpleBlock
    }
    let mut out = BytesMut::new();
    element(&mut out, &[0x1f, 0x43, 0xb6, 0x75], &body);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_ebml_variable_size_integers() {
        let size = |n: u64| {
            let mut b = BytesMut::new();
            put_size(&mut b, n);
            b.to_vec()
        };
        assert_eq!(size(0), [0x80]);
        assert_eq!(size(126), [0xfe]);
        // 127 in one byte would read as "unknown": two bytes.
        assert_eq!(size(127), [0x40, 0x7f]);
        assert_eq!(size(300), [0x41, 0x2c]);
    }

    #[test]
    fn the_stream_starts_with_the_webm_ebml_header_and_a_live_segment() {
        let h = headers(&[0u8; 19], 1, 312);
        assert_eq!(&h[..4], &[0x1a, 0x45, 0xdf, 0xa3]);
        let doc = h.windows(7).position(|w| w == b"\x42\x82\x84webm");
        assert!(doc.is_some(), "DocType webm");
        let segment = h.windows(4).position(|w| w == [0x18, 0x53, 0x80, 0x67]);
        let segment = segment.expect("Segment");
        assert_eq!(&h[segment + 4..segment + 12], &UNKNOWN_SIZE);
        assert!(h.windows(6).any(|w| w == b"A_OPUS"));
    }

    #[test]
    fn a_cluster_holds_each_packet_as_a_simple_block_at_its_time() {
        let packets = vec![
            (96_000, Bytes::from_static(b"abc")),
            (96_960, Bytes::from_static(b"de")),
        ];
        let c = cluster(&packets);
        assert_eq!(&c[..4], &[0x1f, 0x43, 0xb6, 0x75]);
        // Timestamp 2,000 ms, then blocks at +0 and +20 ms.
        assert!(c.windows(4).any(|w| w == [0xe7, 0x82, 0x07, 0xd0]));
        assert!(
            c.windows(9)
                .any(|w| w == [0xa3, 0x87, 0x81, 0, 0, 0x80, b'a', b'b', b'c'])
        );
        assert!(
            c.windows(8)
                .any(|w| w == [0xa3, 0x86, 0x81, 0, 20, 0x80, b'd', b'e'])
        );
        assert!(cluster(&[]).is_empty());
    }
}
