//! Following the frames a WebSocket peer sends (RFC 6455 §5.2), to see when a frame or a
//! fragmented message stays unfinished ([`FrameWatch`]).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Since when the peer has had a frame or a fragmented message unfinished (ms after
/// [`Unfinished::origin`], 0: none).
#[derive(Debug)]
pub struct Unfinished {
    origin: Instant,
    since_ms: AtomicU64,
}

impl Unfinished {
    /// How long the peer's current frame or message has been unfinished (zero: none is).
    pub fn unfinished_for(&self) -> Duration {
        match self.since_ms.load(Ordering::Relaxed) {
            0 => Duration::ZERO,
            ms => self
                .origin
                .elapsed()
                .saturating_sub(Duration::from_millis(ms - 1)),
        }
    }

    fn set(&self, unfinished: bool) {
        let now = if unfinished {
            self.origin.elapsed().as_millis() as u64 + 1
        } else {
            0
        };
        let was = self.since_ms.load(Ordering::Relaxed);
        if (was == 0) == unfinished {
            self.since_ms.store(now, Ordering::Relaxed);
        }
    }
}

/// Where the peer's byte stream stands in RFC 6455 §5.2 framing.
#[derive(Debug, Clone, Copy)]
enum Part {
    /// Reading a frame header: `have` of `need` bytes (`need` grows from 2 once the length and
    /// mask bits are known).
    Header { have: usize, need: usize },
    /// Reading a payload: this many bytes left.
    Payload { left: u64 },
}

/// An I/O wrapper that follows the frames the peer sends (RFC 6455 §5.2: FIN and opcode in the
/// first byte, a 7-bit length with 16- or 64-bit extensions, a 4-byte mask) and publishes since
/// when a frame, or a message fragmented across frames, has been unfinished. Writes pass through.
pub struct FrameWatch<S> {
    inner: S,
    part: Part,
    header: [u8; 14],
    /// FIN of the frame being read; whether it is a data frame (opcode < 8).
    fin_data: (bool, bool),
    /// A data frame without FIN has arrived and its message's last frame has not.
    in_message: bool,
    shared: Arc<Unfinished>,
}

impl<S> FrameWatch<S> {
    /// Wraps `inner`; the [`Unfinished`] tells how long the peer has left a frame or message
    /// unfinished.
    pub fn new(inner: S) -> (Self, Arc<Unfinished>) {
        let shared = Arc::new(Unfinished {
            origin: Instant::now(),
            since_ms: AtomicU64::new(0),
        });
        let watch = Self {
            inner,
            part: Part::Header { have: 0, need: 2 },
            header: [0; 14],
            fin_data: (true, false),
            in_message: false,
            shared: shared.clone(),
        };
        (watch, shared)
    }

    /// Follows `bytes`, read from the peer.
    fn follow(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match self.part {
                Part::Header { have, need } => {
                    let take = (need - have).min(bytes.len());
                    self.header[have..have + take].copy_from_slice(&bytes[..take]);
                    bytes = &bytes[take..];
                    self.header_bytes(have + take, need);
                }
                Part::Payload { left } => {
                    let take = left.min(bytes.len() as u64);
                    bytes = &bytes[take as usize..];
                    self.part = Part::Payload { left: left - take };
                    if take == left {
                        self.frame_done();
                    }
                }
            }
        }
        let mid_frame = !matches!(self.part, Part::Header { have: 0, .. });
        self.shared.set(mid_frame || self.in_message);
    }

    /// `have` header bytes are in; works out how many the header needs and moves on to the
    /// payload once it is whole.
    fn header_bytes(&mut self, have: usize, need: usize) {
        let h = &self.header;
        let full = if have >= 2 {
            let ext = match h[1] & 0x7f {
                126 => 2,
                127 => 8,
                _ => 0,
            };
            let mask = if h[1] & 0x80 != 0 { 4 } else { 0 };
            2 + ext + mask
        } else {
            need
        };
        if have < full {
            self.part = Part::Header { have, need: full };
            return;
        }
        self.fin_data = (h[0] & 0x80 != 0, h[0] & 0x0f < 8);
        let len = match h[1] & 0x7f {
            126 => u64::from(u16::from_be_bytes([h[2], h[3]])),
            127 => u64::from_be_bytes(h[2..10].try_into().unwrap_or([0; 8])),
            n => u64::from(n),
        };
        self.part = Part::Payload { left: len };
        if len == 0 {
            self.frame_done();
        }
    }

    fn frame_done(&mut self) {
        let (fin, data) = self.fin_data;
        if data {
            self.in_message = !fin;
        }
        self.part = Part::Header { have: 0, need: 2 };
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FrameWatch<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let read = buf.filled()[before..].to_vec();
            self.follow(&read);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FrameWatch<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch() -> (FrameWatch<()>, Arc<Unfinished>) {
        FrameWatch::new(())
    }

    fn unfinished(w: &FrameWatch<()>) -> bool {
        w.shared.since_ms.load(Ordering::Relaxed) != 0
    }

    #[test]
    fn a_whole_masked_frame_leaves_nothing_unfinished() {
        let (mut w, _) = watch();
        // FIN + text, masked, 3 bytes: "abc" under a zero mask.
        w.follow(&[0x81, 0x83, 0, 0, 0, 0, b'a', b'b', b'c']);
        assert!(!unfinished(&w));
        // The same frame a byte at a time: unfinished until its last byte.
        let frame = [0x81, 0x83, 1, 2, 3, 4, 9, 9, 9];
        for (i, b) in frame.iter().enumerate() {
            w.follow(&[*b]);
            assert_eq!(unfinished(&w), i + 1 < frame.len(), "after byte {i}");
        }
    }

    #[test]
    fn an_announced_large_frame_stays_unfinished() {
        let (mut w, _) = watch();
        // Binary, masked, 64-bit length 16 MiB, then 1 KiB of it.
        let mut bytes = vec![0x82, 0xff];
        bytes.extend_from_slice(&(16u64 << 20).to_be_bytes());
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(&[0; 1024]);
        w.follow(&bytes);
        assert!(unfinished(&w));
        assert!(matches!(w.part, Part::Payload { left } if left == (16 << 20) - 1024));
    }

    #[test]
    fn a_message_without_fin_stays_unfinished_across_whole_frames() {
        let (mut w, _) = watch();
        // Binary without FIN (2 bytes), a ping between (control frames do not end a message),
        // a continuation without FIN, then the final continuation.
        w.follow(&[0x02, 0x82, 0, 0, 0, 0, 1, 2]);
        assert!(unfinished(&w));
        w.follow(&[0x89, 0x80, 0, 0, 0, 0]);
        assert!(unfinished(&w));
        w.follow(&[0x00, 0xfe, 0x01, 0x00, 0, 0, 0, 0]);
        w.follow(&[0; 256]);
        assert!(unfinished(&w));
        w.follow(&[0x80, 0x80, 0, 0, 0, 0]);
        assert!(!unfinished(&w));
    }

    #[test]
    fn the_time_unfinished_counts_from_the_first_unfinished_byte() {
        let (mut w, shared) = watch();
        assert_eq!(shared.unfinished_for(), Duration::ZERO);
        w.follow(&[0x81]);
        std::thread::sleep(Duration::from_millis(30));
        w.follow(&[0x85, 0, 0]);
        let t = shared.unfinished_for();
        assert!(t >= Duration::from_millis(30), "{t:?}");
        w.follow(&[0, 0, 1, 2, 3, 4, 5]);
        assert_eq!(shared.unfinished_for(), Duration::ZERO);
    }
}
