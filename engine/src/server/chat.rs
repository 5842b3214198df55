//! Text chat (from the voice-chat seed): a receiver's TEXT is checked (UTF-8, at most
//! [`wire::MAX_TEXT_LEN`] bytes, at most [`TextBucket`]'s rate) and relayed, encoded once, to
//! every other client that asked for the chat (CHAT), tagged with the sender's name. Legacy
//! clients and clients that did not ask never receive it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tracing::{info, warn};

use super::Hub;
use super::client::ClientShared;

/// Messages a client may send in a burst: 10.
pub const TEXT_BURST: f64 = 10.0;
/// Messages per second a client may send on average: 2.
pub const TEXT_PER_SEC: f64 = 2.0;

/// A token bucket per client: [`TEXT_BURST`] tokens, refilled at [`TEXT_PER_SEC`].
#[derive(Debug)]
pub(super) struct TextBucket {
    tokens: f64,
    at: Instant,
    /// Messages dropped since the last warning (one warning per second at most).
    dropped: u64,
    warned_at: Option<Instant>,
}

impl Default for TextBucket {
    fn default() -> Self {
        Self {
            tokens: TEXT_BURST,
            at: Instant::now(),
            dropped: 0,
            warned_at: None,
        }
    }
}

impl TextBucket {
    /// Takes a token; false (the message is dropped) when the client is over its rate.
    fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * TEXT_PER_SEC;
        self.tokens = (self.tokens + refill).min(TEXT_BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Counts a drop; true if a warning is due (the first, then at most one a second).
    fn dropped(&mut self) -> bool {
        self.dropped += 1;
        let due = self
            .warned_at
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
        if due {
            self.warned_at = Some(Instant::now());
        }
        due
    }
}

impl Hub {
    /// A TEXT from the client `sender` (named `from`): relayed if it is within the client's rate
    /// (every TEXT counts), valid UTF-8 and at most [`wire::MAX_TEXT_LEN`] bytes; otherwise
    /// dropped with a log line (over the rate: at most one line a second). The connection and
    /// its audio go on.
    pub(super) fn on_text(
        &self,
        sender: &Arc<ClientShared>,
        from: &str,
        bytes: &[u8],
        bucket: &mut TextBucket,
    ) {
        // Every TEXT counts toward the rate, valid or not: a flood of bad ones is bounded too.
        if !bucket.take() {
            if bucket.dropped() {
                warn!(%from, reason = %format!("over the rate limit ({TEXT_PER_SEC} messages/s, bursts of {TEXT_BURST})"), dropped = bucket.dropped, "chat message dropped");
            }
            return;
        }
        let why = if bytes.len() > wire::MAX_TEXT_LEN {
            Some(format!(
                "{} bytes, over the {}-byte limit",
                bytes.len(),
                wire::MAX_TEXT_LEN
            ))
        } else if std::str::from_utf8(bytes).is_err() {
            Some("not UTF-8".to_string())
        } else {
            None
        };
        if let Some(why) = why {
            warn!(%from, reason = %why, "chat message dropped");
            return;
        }
        let text = String::from_utf8_lossy(bytes);
        self.relay_text(from, &text, Some(sender));
    }

    /// Says `text` as `from` to every client that asked for the chat (the server's own voice in
    /// the chat: the Server tab's input). Text over [`wire::MAX_TEXT_LEN`] bytes is cut.
    pub fn say(&self, from: &str, text: &str) {
        self.relay_text(from, text, None);
    }

    /// Encodes the message once and queues it for every chat client but `except`.
    fn relay_text(&self, from: &str, text: &str, except: Option<&Arc<ClientShared>>) {
        let mut end = text.len().min(wire::MAX_TEXT_LEN);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let text = &text[..end];
        let mut frame = BytesMut::new();
        self.codec.encode_text(from, text, &mut frame);
        let frame = frame.freeze();
        let mut sent = 0usize;
        for slot in self.lock().values() {
            let skip = except.is_some_and(|e| Arc::ptr_eq(e, &slot.shared));
            if skip || !slot.shared.chat.load(Ordering::Acquire) {
                continue;
            }
            // A control frame: queued even when the client lags (it is dropped for audio lag).
            let _ = slot.shared.send(frame.clone(), 0, self.queue_frames);
            sent += 1;
        }
        info!(%from, bytes = text.len(), to = sent, "chat message relayed");
        self.state.add_chat(from, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let mut b = TextBucket::default();
        let burst = (0..20).filter(|_| b.take()).count();
        assert_eq!(burst, 10);
        b.at -= Duration::from_secs(1);
        assert_eq!((0..5).filter(|_| b.take()).count(), 2, "2 per second");
        assert!(b.dropped(), "the first drop warns");
        assert!(!b.dropped(), "the next within a second does not");
    }
}
