//! The chunk stream between the source stage and the outputs.
//!
//! The source stage (see [`crate::pipeline`]) hands every [`Output`] (a chunk with its stream
//! position and level, or a notice) to [`ChunkStream::sink`], which never blocks: it puts the item
//! in a bounded broadcast ring. Each output of the station (TCP, the web player's encoder, RTP;
//! see [`crate::output`]) [`ChunkStream::subscribe`]s and reads on its own thread or task. An
//! output that falls more than the ring's capacity behind loses the oldest items (counted in its
//! [`Subscription::dropped`] and logged), so a slow output never slows the source or another
//! output. Chunks hold their PCM as `Bytes`: every output shares the same bytes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::broadcast;
use tracing::warn;

use crate::pipeline::Output;

/// Items a subscriber may fall behind before it loses the oldest, by default: 256 (5.1 s of 20 ms
/// chunks).
pub const DEFAULT_CAPACITY: usize = 256;

/// The broadcast point of one stream; cheap to clone (all clones are the same stream).
#[derive(Debug, Clone)]
pub struct ChunkStream {
    tx: broadcast::Sender<Output>,
}

impl Default for ChunkStream {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl ChunkStream {
    /// A stream whose subscribers may fall `capacity` items behind (at least 1).
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Self { tx }
    }

    /// Hands `item` to every current subscriber without blocking; with none, it is dropped.
    pub fn publish(&self, item: Output) {
        let _ = self.tx.send(item);
    }

    /// A sink for [`crate::pipeline::Pipeline::spawn`]: publishes every item.
    pub fn sink(&self) -> impl FnMut(Output) + Send + 'static {
        let stream = self.clone();
        move |item| stream.publish(item)
    }

    /// A new subscriber named `output` (for logs), receiving every item published from now on.
    pub fn subscribe(&self, output: &'static str) -> Subscription {
        Subscription {
            rx: self.tx.subscribe(),
            output,
            dropped: Arc::new(AtomicU64::new(0)),
            unlogged: 0,
            logged_at: None,
        }
    }

    /// Subscribers now.
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }

    /// A handle that can subscribe while the stream lives but does not keep it open (the
    /// stream closes when the last [`ChunkStream`] is dropped).
    pub fn downgrade(&self) -> WeakChunkStream {
        WeakChunkStream {
            tx: self.tx.downgrade(),
        }
    }
}

/// A [`ChunkStream`] that does not keep the stream open; see [`ChunkStream::downgrade`].
#[derive(Debug, Clone)]
pub struct WeakChunkStream {
    tx: broadcast::WeakSender<Output>,
}

impl WeakChunkStream {
    /// The stream, if it is still open.
    pub fn upgrade(&self) -> Option<ChunkStream> {
        self.tx.upgrade().map(|tx| ChunkStream { tx })
    }
}

/// Every [`ChunkStream`] clone is gone: no item will come (see [`Subscription::try_recv`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamClosed;

/// One output's view of a [`ChunkStream`].
#[derive(Debug)]
pub struct Subscription {
    rx: broadcast::Receiver<Output>,
    output: &'static str,
    dropped: Arc<AtomicU64>,
    /// Items lost since the last log line, and when that was.
    unlogged: u64,
    logged_at: Option<std::time::Instant>,
}

/// Shortest time between two "fell behind" log lines of one output: 1 s (the lines carry the
/// count since the previous one).
pub const LAG_LOG_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

impl Subscription {
    /// The next item, waiting for it on this (non-async) thread; `None` once every
    /// [`ChunkStream`] clone is gone. Items lost because this output fell behind are counted in
    /// [`Subscription::dropped`] and logged, then reading goes on with the oldest item kept.
    pub fn recv_blocking(&mut self) -> Option<Output> {
        loop {
            match self.rx.blocking_recv() {
                Ok(item) => return Some(item),
                Err(broadcast::error::RecvError::Lagged(n)) => self.lagged(n),
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// The next item if one is already waiting, without waiting: `Ok(None)` if none is,
    /// `Err(StreamClosed)` once every [`ChunkStream`] clone is gone and nothing is left.
    /// Items lost by falling behind are counted and logged as in
    /// [`Subscription::recv_blocking`].
    pub fn try_recv(&mut self) -> Result<Option<Output>, StreamClosed> {
        loop {
            match self.rx.try_recv() {
                Ok(item) => return Ok(Some(item)),
                Err(broadcast::error::TryRecvError::Lagged(n)) => self.lagged(n),
                Err(broadcast::error::TryRecvError::Empty) => return Ok(None),
                Err(broadcast::error::TryRecvError::Closed) => return Err(StreamClosed),
            }
        }
    }

    /// As [`Subscription::recv_blocking`], for async tasks.
    pub async fn recv(&mut self) -> Option<Output> {
        loop {
            match self.rx.recv().await {
                Ok(item) => return Some(item),
                Err(broadcast::error::RecvError::Lagged(n)) => self.lagged(n),
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    fn lagged(&mut self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
        self.unlogged += n;
        let now = std::time::Instant::now();
        if self
            .logged_at
            .is_none_or(|t| now.duration_since(t) >= LAG_LOG_INTERVAL)
        {
            warn!(
                output = self.output,
                items = self.unlogged,
                total = self.dropped.load(Ordering::Relaxed),
                "output fell behind the source: items dropped"
            );
            self.unlogged = 0;
            self.logged_at = Some(now);
        }
    }

    /// Items already published and not yet received by this output: how far behind it is.
    pub fn waiting(&self) -> usize {
        self.rx.len()
    }

    /// Items (chunks and notices) this output lost by falling behind, shared so that another
    /// thread can read it.
    pub fn dropped(&self) -> Arc<AtomicU64> {
        self.dropped.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Notice;

    #[test]
    fn a_slow_subscriber_loses_the_oldest_items_and_a_fast_one_loses_none() {
        let stream = ChunkStream::new(4);
        let mut slow = stream.subscribe("slow");
        let mut fast = stream.subscribe("fast");
        for i in 0..10 {
            stream.publish(Output::Notice(Notice::SilenceInserted(i)));
            // The fast one keeps up.
            assert!(matches!(
                fast.recv_blocking(),
                Some(Output::Notice(Notice::SilenceInserted(n))) if n == i
            ));
        }
        // The slow one gets the newest 4 and counts 6 lost.
        assert!(matches!(
            slow.recv_blocking(),
            Some(Output::Notice(Notice::SilenceInserted(6)))
        ));
        assert_eq!(slow.dropped().load(Ordering::Relaxed), 6);
        assert_eq!(fast.dropped().load(Ordering::Relaxed), 0);
        drop(stream);
        for _ in 7..10 {
            assert!(slow.recv_blocking().is_some());
        }
        assert!(slow.recv_blocking().is_none(), "closed with the stream");
    }

    #[test]
    fn try_recv_takes_what_waits_counts_losses_and_sees_the_end() {
        let stream = ChunkStream::new(2);
        let mut sub = stream.subscribe("polled");
        assert!(matches!(sub.try_recv(), Ok(None)), "nothing waits yet");
        for i in 0..3 {
            stream.publish(Output::Notice(Notice::SilenceInserted(i)));
        }
        assert!(matches!(
            sub.try_recv(),
            Ok(Some(Output::Notice(Notice::SilenceInserted(1))))
        ));
        assert_eq!(sub.dropped().load(Ordering::Relaxed), 1);
        drop(stream);
        assert!(
            matches!(sub.try_recv(), Ok(Some(_))),
            "the last item is still read"
        );
        assert_eq!(sub.try_recv().err(), Some(StreamClosed));
    }
}
