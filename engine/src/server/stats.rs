//! The server's live counters.

use std::sync::atomic::{AtomicU64, AtomicUsize};

/// Live counters, readable from any thread.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Clients connected now.
    pub clients: AtomicUsize,
    /// Bytes of audio and control frames handed to clients (written to their sockets or put in
    /// their queues; each frame counted once per client).
    pub bytes_queued: AtomicU64,
    /// Chunks published.
    pub chunks: AtomicU64,
    /// Clients disconnected for lagging more than `max_lag`.
    pub lag_drops: AtomicU64,
    /// Items (chunks and notices) the TCP fan-out lost because it fell more than the chunk
    /// stream's capacity behind the source stage (see [`crate::stream`]); receivers see them as
    /// gaps, and the source stays in real time.
    pub fanout_dropped: AtomicU64,
}
