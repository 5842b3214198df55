//! One client as the hub and its connection task share it: its plaintext socket's write side
//! (if any), its bounded queue of frames, and what it told the server (extensions, name).

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{Notify, oneshot};

/// A snapshot of one connected client.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientInfo {
    /// Connection id.
    pub id: u64,
    /// The client's address.
    pub addr: SocketAddr,
    /// How long it has been connected.
    pub connected_for: Duration,
    /// Audio waiting in its queue (frames queued × chunk duration).
    pub lag: Duration,
    /// Whether it opted in to the extensions.
    pub extended: bool,
    /// The name it gave (extension NAME), if any: control characters removed, trimmed.
    pub name: Option<String>,
}

/// Frames waiting for one client's socket, oldest first. The first one may be partly written
/// already (what was written is sliced off).
#[derive(Default)]
pub(super) struct Outbox {
    /// Bytes to write and how many audio chunks each holds (0 for control frames).
    pub(super) frames: VecDeque<(Bytes, usize)>,
    /// Audio chunks in `frames`.
    pub(super) chunks: usize,
    /// Set when a write failed; the connection task reports it and ends.
    pub(super) failed: Option<String>,
}

impl Outbox {
    pub(super) fn push(&mut self, bytes: Bytes, chunks: usize) {
        self.chunks += chunks;
        self.frames.push_back((bytes, chunks));
    }

    /// Drops the first `n` bytes (written to the socket).
    pub(super) fn consume(&mut self, mut n: usize) {
        while n > 0 {
            let Some((front, chunks)) = self.frames.front_mut() else {
                break;
            };
            if n >= front.len() {
                n -= front.len();
                self.chunks -= *chunks;
                self.frames.pop_front();
            } else {
                let rest = front.slice(n..);
                *front = rest;
                n = 0;
            }
        }
    }
}

/// What the hub and a connection task share about one client.
pub(super) struct ClientShared {
    /// A plaintext socket's write side: written directly by [`super::Hub::publish`] while the
    /// client keeps up, and by the connection task when frames are queued. `None` for a TLS
    /// client: every frame goes through the queue to its connection task, which encrypts it
    /// (the fan-out thread never runs TLS).
    pub(super) direct: Option<OwnedWriteHalf>,
    pub(super) outbox: Mutex<Outbox>,
    /// Wakes the connection task when frames were queued or a write failed.
    pub(super) wake: Notify,
    pub(super) armed: AtomicBool,
    pub(super) extended: AtomicBool,
    /// The client asked for the chat (CHAT): TEXT frames are relayed to it.
    pub(super) chat: AtomicBool,
    /// The client asked for tracks (TRACKS): NOW_PLAYING frames are sent to it.
    pub(super) tracks: AtomicBool,
    /// The client asked to be told the end (ENDS): END is sent to it.
    pub(super) ends: AtomicBool,
    /// The stream is over: the connection ends once its queue is written.
    pub(super) closing: AtomicBool,
    /// The name the client gave (extension NAME).
    pub(super) name: Mutex<Option<String>>,
}

/// What [`ClientShared::send`] did with a frame.
pub(super) enum Sent {
    /// Written to the socket or queued.
    Ok,
    /// The queue would hold more than its limit of audio chunks (`max_lag / chunk`): the client
    /// is too far behind.
    Full,
}

impl ClientShared {
    /// A client that has told the server nothing yet, written directly through `direct` (a
    /// plaintext socket's write side) or, with `None`, only by its connection task (TLS).
    pub(super) fn new(direct: Option<OwnedWriteHalf>) -> Self {
        Self {
            direct,
            outbox: Mutex::new(Outbox::default()),
            wake: Notify::new(),
            armed: AtomicBool::new(false),
            extended: AtomicBool::new(false),
            chat: AtomicBool::new(false),
            tracks: AtomicBool::new(false),
            ends: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            name: Mutex::new(None),
        }
    }

    pub(super) fn outbox(&self) -> std::sync::MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes `frame` (holding `chunks` audio chunks, 0 for a control frame) now if the client
    /// has a plaintext socket, nothing is queued and the socket takes all of it; queues the rest
    /// otherwise (and wakes the connection task). Never blocks. `Full`
    /// (and nothing queued) if the queue would then hold more than `limit` chunks.
    pub(super) fn send(&self, frame: Bytes, chunks: usize, limit: usize) -> Sent {
        let mut outbox = self.outbox();
        if outbox.failed.is_some() {
            return Sent::Ok;
        }
        // Queue behind what waits, and always for a TLS client (its task writes).
        let Some(direct) = self.direct.as_ref().filter(|_| outbox.frames.is_empty()) else {
            if outbox.chunks + chunks > limit {
                return Sent::Full;
            }
            let was_idle = outbox.frames.is_empty();
            outbox.push(frame, chunks);
            drop(outbox);
            if was_idle {
                self.wake.notify_one();
            }
            return Sent::Ok;
        };
        match direct.try_write(&frame) {
            Ok(n) if n == frame.len() => return Sent::Ok,
            Ok(n) => outbox.push(frame.slice(n..), chunks),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => outbox.push(frame, chunks),
            Err(e) => outbox.failed = Some(format!("write failed: {e}")),
        }
        drop(outbox);
        self.wake.notify_one();
        Sent::Ok
    }

    /// Ends the connection once everything queued is written (the stream is over).
    pub(super) fn close_when_drained(&self) {
        self.closing
            .store(true, std::sync::atomic::Ordering::Release);
        self.wake.notify_one();
    }

    /// Audio chunks queued now.
    pub(super) fn queued(&self) -> usize {
        self.outbox().chunks
    }
}

pub(super) struct Slot {
    pub(super) addr: SocketAddr,
    pub(super) shared: Arc<ClientShared>,
    pub(super) kick: Option<oneshot::Sender<String>>,
    pub(super) connected_at: Instant,
}
