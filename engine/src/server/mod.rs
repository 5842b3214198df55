//! The TCP output: the station's own protocol (legacy and extensions) on a plaintext port and
//! a TLS port, one output of the chunk stream beside the others ([`crate::output`]).
//!
//! Layers, as in mini-redis: the [`wire`] codec → one task per connection (`conn.rs`) → the accept
//! loop [`run`], which takes a bound listener and a shutdown token; [`TcpOutput`] is what the
//! station starts (`output.rs`: the ports, the accept loops, the fan-out thread). The source stage
//! publishes into a [`crate::stream::ChunkStream`]; the fan-out thread ([`FANOUT_THREAD`]) reads it
//! and calls [`Hub::publish`] (`hub.rs`): each chunk is encoded **once** into a shared `Bytes`. A
//! client that keeps up (nothing waiting in its queue) gets it by one non-blocking `write` straight
//! from the fan-out thread: no copy, no task wake-up, no scheduling. Only what the socket does not
//! take goes to the client's own bounded queue (`client.rs`), which its connection task drains with
//! vectored writes when the socket becomes writable. A client whose queue holds `max_lag` of audio
//! is disconnected, so a slow or stalled client never delays another and memory stays bounded: at
//! most `max_lag / chunk` shared frames per client. If the fan-out thread itself falls behind, it
//! loses chunks ([`ServerStats::fanout_dropped`]); the source stage never waits.
//!
//! A new connection gets audio only after its PING has been answered or after `grace` has passed,
//! so the original client, which reads the 9 bytes after its PING as the ACK, always works.

use std::time::Duration;

use wire::StreamFormat;

/// Requested `SO_SNDBUF` of every client socket: 16 KiB (Linux doubles it to 32 KiB, about 1 s of
/// 16 kHz mono PCM16). Fixing it turns off the kernel's send-buffer autotuning, which would
/// otherwise let a stalled client absorb megabytes (minutes of audio) before its queue fills.
pub const SEND_BUFFER_BYTES: usize = 16 * 1024;

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The checkcode clients must use.
    pub checkcode: i32,
    /// Connections served at once; more are accepted and closed at once (logged).
    pub max_clients: usize,
    /// A client whose queue holds more than this much audio is disconnected (default 2 s).
    pub max_lag: Duration,
    /// Audio is held back from a new connection until it pings, or this long (default 250 ms).
    pub grace: Duration,
    /// Duration of one chunk (sets the queue length: `max_lag / chunk` frames).
    pub chunk: Duration,
    /// The stream's format, told to clients that opt in to the extensions.
    pub format: StreamFormat,
    /// Budget of socket writes per second for the whole audience (0: no budget). While
    /// `clients × chunks per second` exceeds it, the hub joins `k` consecutive chunks into one
    /// write per client (`k = ⌈clients × chunks per second / budget⌉`, at most
    /// [`MAX_CHUNKS_PER_WRITE`]), which adds up to `(k − 1) × chunk` of latency. Default
    /// [`DEFAULT_WRITES_PER_SEC`].
    pub writes_per_sec: u32,
}

/// Default [`ServerConfig::writes_per_sec`]: 60,000 writes/s. One TCP write of a frame costs
/// about 6 µs of CPU on the project's 2-core benchmark machine over loopback (docs/BENCHMARKS.md,
/// "Fan-out"), so 60,000 writes/s keep the fan-out thread near a third of one core for any
/// audience. At the default 20 ms chunk, 1,200 receivers get one write per chunk;
/// 10,000 get one write per 8 chunks (160 ms).
pub const DEFAULT_WRITES_PER_SEC: u32 = 60_000;

/// Most chunks joined into one write per client (see [`ServerConfig::writes_per_sec`]).
pub const MAX_CHUNKS_PER_WRITE: usize = 8;

/// Audiences from this size up are written by several threads at once (one per core).
pub const PARALLEL_FANOUT_FROM: usize = 1024;

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            checkcode: wire::DEFAULT_CHECKCODE,
            max_clients: 10_000,
            max_lag: Duration::from_millis(2000),
            grace: Duration::from_millis(250),
            chunk: Duration::from_millis(20),
            format: StreamFormat {
                features: wire::FEATURE_CLIENT_NAME
                    | wire::FEATURE_TEXT
                    | wire::FEATURE_NOW_PLAYING
                    | wire::FEATURE_END,
                ..StreamFormat::legacy(new_stream_id())
            },
            writes_per_sec: DEFAULT_WRITES_PER_SEC,
        }
    }
}

pub use crate::output::{ServerEvent, new_stream_id};
mod chat;
mod client;
mod conn;
mod hub;
mod output;
mod stats;
mod tls;
mod tracks;

pub use client::ClientInfo;
pub use conn::{connection as serve_connection, run};
pub use hub::Hub;
pub use output::{BoundPorts, FANOUT_THREAD, TcpOutput, TcpSettings};
pub use stats::ServerStats;
