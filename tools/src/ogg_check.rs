//! Checks a live Ogg/Opus stream as a listener receives it: after the header pages and the
//! first audio page (where a listener that joins mid-stream starts: the page after `OpusTags`
//! is the live page of the moment, as Icecast sends it), every page's sequence number is the
//! previous one's + 1 and every page's granule position is the previous one's + the duration of
//! the Opus packets that end on it, so a listener that lost, repeated or reordered anything is
//! found. Page layout from RFC 3533 §6; packet durations from the Opus TOC byte
//! (RFC 6716 §3.1); granule positions count 48 kHz samples (RFC 7845 §4).

/// Bytes of an Ogg page header before its segment table.
const HEADER: usize = 27;

/// One whole Ogg page (RFC 3533 §6: a 27-byte header, the segment table, the body).
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    /// Granule position (for Opus: 48 kHz samples at the end of the last packet ending here;
    /// −1 if none ends here).
    pub granule: i64,
    /// Bitstream serial number.
    pub serial: u32,
    /// Page sequence number.
    pub seq: u32,
    /// Lacing values: a value below 255 ends a packet.
    pub table: &'a [u8],
    /// The segments' bytes.
    pub body: &'a [u8],
    /// Bytes of the whole page.
    pub len: usize,
}

impl<'a> Page<'a> {
    /// The page at the start of `buf`, if `buf` starts with a capture pattern and holds the
    /// whole page.
    pub fn parse(buf: &'a [u8]) -> Option<Self> {
        if buf.len() < HEADER || &buf[..4] != b"OggS" {
            return None;
        }
        let segments = usize::from(buf[26]);
        let table = buf.get(HEADER..HEADER + segments)?;
        let body_len: usize = table.iter().map(|&l| usize::from(l)).sum();
        let len = HEADER + segments + body_len;
        Some(Self {
            granule: i64::from_le_bytes(buf[6..14].try_into().ok()?),
            serial: u32::from_le_bytes(buf[14..18].try_into().ok()?),
            seq: u32::from_le_bytes(buf[18..22].try_into().ok()?),
            table,
            body: buf.get(HEADER + segments..len)?,
            len,
        })
    }

    /// The packets that end on this page (a packet continued from an earlier page is returned
    /// with only its part on this page).
    pub fn packets(&self) -> Vec<Vec<u8>> {
        let (mut packets, mut current, mut at) = (Vec::new(), Vec::new(), 0);
        for &lace in self.table {
            current.extend_from_slice(&self.body[at..at + usize::from(lace)]);
            at += usize::from(lace);
            if lace < 255 {
                packets.push(std::mem::take(&mut current));
            }
        }
        packets
    }
}

/// What a listener's stream held, and its first discontinuity.
#[derive(Debug, Default)]
pub struct OggCheck {
    buf: Vec<u8>,
    /// Pages read whole.
    pub pages: u64,
    /// Pages whose sequence number or granule position did not follow the previous page's.
    pub gaps: u64,
    /// What the first gap was, in words.
    pub first_gap: Option<String>,
    serial: Option<u32>,
    seq: Option<u32>,
    granule: Option<i64>,
    /// 48 kHz samples of the packets ended since the last page with a granule position.
    pending: u64,
    /// The first two bytes of the packet being read across segments (TOC and frame count).
    head: Vec<u8>,
    /// The last page held header packets (`OpusHead`, `OpusTags`).
    after_headers: bool,
}

/// Duration of one Opus packet in 48 kHz samples from its first bytes (TOC, and the frame
/// count byte of a code-3 packet): RFC 6716 §3.1, Table 2 (frame sizes per configuration) and
/// §3.2 (frames per packet). 0 for an empty packet (DTX).
pub fn opus_packet_samples(packet: &[u8]) -> u64 {
    let Some(&toc) = packet.first() else { return 0 };
    let config = toc >> 3;
    let frame = match config {
        0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)],
        12..=15 => [480, 960][usize::from(config % 2)],
        _ => [120, 240, 480, 960][usize::from(config % 4)],
    };
    let frames = match toc & 3 {
        0 => 1,
        1 | 2 => 2,
        _ => u64::from(packet.get(1).map_or(0, |c| c & 0x3f)),
    };
    frame * frames
}

impl OggCheck {
    /// Takes the next bytes of the stream (the HTTP body, split anywhere) and checks every page
    /// that is now complete.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        let mut at = 0;
        while let Some(len) = self.page_at(at) {
            at += len;
        }
        self.buf.drain(..at);
    }

    /// Checks the page at `at` if it is complete; its length.
    fn page_at(&mut self, at: usize) -> Option<usize> {
        let b = self.buf.get(at..)?;
        if b.len() >= 4 && &b[..4] != b"OggS" {
            // Resynchronise at the next capture pattern.
            let next = b[1..].windows(4).position(|w| w == b"OggS");
            self.gap(format!("no page at byte {at} of the buffer"));
            return next.map(|n| n + 1);
        }
        let page = Page::parse(b)?;
        let (len, table, body) = (page.len, page.table.to_vec(), page.body.to_vec());
        self.page(page.granule, page.serial, page.seq, &table, &body);
        Some(len)
    }

    fn page(&mut self, granule: i64, serial: u32, seq: u32, table: &[u8], body: &[u8]) {
        self.pages += 1;
        if self.serial.is_some_and(|s| s != serial) {
            self.gap(format!("serial {serial} after {:?}", self.serial));
        }
        let header = body.starts_with(b"Op");
        // The first audio page after the headers is where this listener joined.
        if let Some(prev) = self.seq
            && seq != prev.wrapping_add(1)
            && (header || !self.after_headers)
        {
            self.gap(format!("page {seq} after page {prev}"));
        }
        self.serial = Some(serial);
        self.seq = Some(seq);
        self.after_headers = header;
        // Packets ending on this page: lacing values below 255 end one.
        let mut off = 0;
        for &lace in table {
            let seg = &body[off..off + usize::from(lace)];
            if self.head.len() < 2 {
                self.head.extend(seg.iter().take(2 - self.head.len()));
            }
            off += usize::from(lace);
            if lace < 255 {
                if !self.head.starts_with(b"Op") {
                    self.pending += opus_packet_samples(&self.head);
                }
                self.head.clear();
            }
        }
        if granule == -1 {
            return; // no packet ends here
        }
        // Header pages (OpusHead, OpusTags) have granule 0; the first audio page a listener
        // gets sets the baseline.
        if let Some(prev) = self.granule.filter(|&g| g > 0) {
            let want = prev + self.pending as i64;
            if granule != want {
                self.gap(format!("page {seq}: granule {granule}, {want} expected"));
            }
        }
        self.granule = Some(granule);
        self.pending = 0;
    }

    fn gap(&mut self, what: String) {
        self.gaps += 1;
        self.first_gap.get_or_insert(what);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ogg page (CRC left 0: not checked here) with one packet per entry of `packets`.
    fn page(seq: u32, granule: i64, packets: &[&[u8]]) -> Vec<u8> {
        let mut p = b"OggS\0\0".to_vec();
        p.extend(granule.to_le_bytes());
        p.extend(7u32.to_le_bytes());
        p.extend(seq.to_le_bytes());
        p.extend([0; 4]);
        p.push(packets.len() as u8);
        p.extend(packets.iter().map(|k| k.len() as u8));
        for k in packets {
            p.extend(*k);
        }
        p
    }

    /// A 20 ms CELT packet (config 31, code 0): TOC 0xF8.
    const P20: &[u8] = &[0xf8, 1, 2, 3];

    #[test]
    fn packet_durations_follow_the_toc() {
        assert_eq!(opus_packet_samples(P20), 960);
        assert_eq!(opus_packet_samples(&[0x08]), 960, "SILK 20 ms");
        assert_eq!(opus_packet_samples(&[0x09]), 1920, "two frames");
        assert_eq!(
            opus_packet_samples(&[0x0b, 3]),
            2880,
            "code 3: three 20 ms frames"
        );
        assert_eq!(opus_packet_samples(&[0x80]), 120, "CELT 2.5 ms");
        assert_eq!(opus_packet_samples(&[]), 0);
    }

    #[test]
    fn a_continuous_stream_split_anywhere_has_no_gap() {
        // A listener that joined at live page 57.
        let mut stream = page(0, 0, &[b"OpusHead...."]);
        stream.extend(page(1, 0, &[b"OpusTags...."]));
        for i in 0..5u32 {
            stream.extend(page(57 + i, 48_000 + 4_800 * i64::from(i), &[P20; 5]));
        }
        let mut c = OggCheck::default();
        for piece in stream.chunks(7) {
            c.feed(piece);
        }
        assert_eq!((c.pages, c.gaps), (7, 0), "{:?}", c.first_gap);
    }

    #[test]
    fn a_lost_page_and_a_wrong_granule_are_gaps() {
        let mut c = OggCheck::default();
        c.feed(&page(5, 48_000, &[P20; 5]));
        c.feed(&page(7, 52_800, &[P20; 5]));
        assert_eq!(c.gaps, 1);
        assert_eq!(c.first_gap.as_deref(), Some("page 7 after page 5"));
        c.feed(&page(8, 57_601, &[P20; 5]));
        assert_eq!(c.gaps, 2);
    }
}
