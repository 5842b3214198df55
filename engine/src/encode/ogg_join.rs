//! A continuous Ogg stream for a listener that joins mid-stream: its copy of the header pages
//! is numbered to end right before the first live page it gets, so every page sequence number
//! it sees is the previous one + 1 (RFC 3533 §6: a gap means lost data to a decoder). The live
//! pages themselves are shared by every listener, unchanged; only the two header pages are
//! rewritten per listener (sequence number and CRC).

use bytes::{Bytes, BytesMut};

/// Offset of the page sequence number in an Ogg page header (u32 LE; RFC 3533 §6).
const SEQ_AT: usize = 18;
/// Offset of the CRC in an Ogg page header (u32 LE).
const CRC_AT: usize = 22;
/// Bytes of an Ogg page header before its segment table.
const HEADER: usize = 27;

/// Ogg's CRC-32 (RFC 3533 §6 and libogg's `framing.c`): polynomial 0x04C11DB7, initial value 0,
/// no reflection, no final XOR, over the whole page with its CRC field set to zero.
pub fn ogg_crc(page: &[u8]) -> u32 {
    page.iter().fold(0u32, |mut crc, &b| {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
        crc
    })
}

/// The sequence number of the Ogg page at the start of `page`, if it is long enough.
pub fn page_seq(page: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(
        page.get(SEQ_AT..SEQ_AT + 4)?.try_into().ok()?,
    ))
}

/// The lengths of the whole pages at the start of `bytes`, in order.
fn page_lengths(bytes: &[u8]) -> Vec<usize> {
    let (mut out, mut at) = (Vec::new(), 0);
    while let Some(b) = bytes
        .get(at..)
        .filter(|b| b.len() >= HEADER && b.starts_with(b"OggS"))
    {
        let segments = usize::from(b[26]);
        let Some(table) = b.get(HEADER..HEADER + segments) else {
            break;
        };
        let len = HEADER + segments + table.iter().map(|&l| usize::from(l)).sum::<usize>();
        if b.len() < len {
            break;
        }
        out.push(len);
        at += len;
    }
    out
}

/// `headers` (whole Ogg pages, e.g. `OpusHead` and `OpusTags`) renumbered so that the last one
/// is page `next - 1`, each with its CRC recomputed. Unchanged if `next` is at most the number
/// of pages (the listener joined at the start) or `headers` is not whole pages.
pub fn headers_before(headers: &Bytes, next: u32) -> Bytes {
    let lengths = page_lengths(headers);
    let count = lengths.len() as u32;
    if next <= count || lengths.iter().sum::<usize>() != headers.len() {
        return headers.clone();
    }
    let mut out = BytesMut::from(&headers[..]);
    let mut at = 0;
    for (i, len) in lengths.into_iter().enumerate() {
        let page = &mut out[at..at + len];
        let seq = next - count + i as u32;
        page[SEQ_AT..SEQ_AT + 4].copy_from_slice(&seq.to_le_bytes());
        page[CRC_AT..CRC_AT + 4].fill(0);
        let crc = ogg_crc(page);
        page[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
        at += len;
    }
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::OggOpusEncoder;

    fn headers() -> Bytes {
        OggOpusEncoder::new(16_000, 1, 24_000, 7)
            .expect("encoder")
            .headers()
    }

    #[test]
    fn the_crc_matches_the_ogg_crates_pages() {
        let h = headers();
        let lengths = page_lengths(&h);
        assert_eq!(lengths.len(), 2, "OpusHead and OpusTags");
        let mut at = 0;
        for len in lengths {
            let mut page = h[at..at + len].to_vec();
            let written = u32::from_le_bytes(page[CRC_AT..CRC_AT + 4].try_into().expect("4"));
            page[CRC_AT..CRC_AT + 4].fill(0);
            assert_eq!(ogg_crc(&page), written);
            at += len;
        }
        // Joining at the start changes nothing.
        assert_eq!(headers_before(&h, 2), h);
    }

    #[test]
    fn renumbered_headers_end_right_before_the_next_page_and_still_read() {
        let h = headers();
        let moved = headers_before(&h, 1_000);
        let first = page_lengths(&moved)[0];
        assert_eq!(page_seq(&moved), Some(998));
        assert_eq!(page_seq(&moved[first..]), Some(999));
        assert_eq!(moved.len(), h.len());
        // The ogg crate checks every page's CRC as it reads.
        let mut reader = ogg::PacketReader::new(std::io::Cursor::new(moved.to_vec()));
        let head = reader.read_packet_expected().expect("OpusHead page reads");
        assert!(head.data.starts_with(b"OpusHead"));
        let tags = reader.read_packet_expected().expect("OpusTags page reads");
        assert!(tags.data.starts_with(b"OpusTags"));
    }
}
