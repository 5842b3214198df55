//! The broadcast server.
//!
//! Layers, as in mini-redis: the [`wire`] codec → one task per connection → the accept loop
//! [`run`], which takes a bound listener and a shutdown token. Audio enters through
//! [`Hub::publish`] (called by the pipeline's thread): each chunk is encoded **once** into a shared
//! `Bytes`. A client that keeps up (nothing waiting in its queue) gets it by one non-blocking
//! `write` straight from the publishing thread: no copy, no task wake-up, no scheduling. Only what
//! the socket does not take goes to the client's own bounded queue, which its connection task
//! drains with vectored writes when the socket becomes writable. A client whose queue holds
//! `max_lag` of audio is disconnected, so a slow or stalled client never delays another and memory
//! stays bounded: at most `max_lag / chunk` shared frames per client.
//!
//! A new connection gets audio only after its PING has been answered or after `grace` has passed,
//! so the original client, which reads the 9 bytes after its PING as the ACK, always works.

use std::collections::{HashMap, VecDeque};
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, broadcast, oneshot};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};
use wire::{ClientFrame, ServerFrame, StreamFormat};

use crate::codec::{CodecError, ServerSide};
use crate::dsp::Level;
use crate::pipeline::{Chunk, Input, Notice, Output, Pipeline, PipelineConfig};
use crate::{Error, Result};

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
/// about 6 µs of CPU on the project's 2-core benchmark machine over loopback (docs/BENCHMARKS.md:
/// 125,000 writes/s took 74 % of one core), so the budget keeps fan-out under about 40 % of one
/// core for any audience. At the default 20 ms chunk, 1,200 receivers get one write per chunk;
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
                features: wire::FEATURE_CLIENT_NAME,
                ..StreamFormat::legacy(new_stream_id())
            },
            writes_per_sec: DEFAULT_WRITES_PER_SEC,
        }
    }
}

/// A stream id that differs between server runs (time and process id mixed; not cryptographic).
pub fn new_stream_id() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mixed = (nanos as u64) ^ (u64::from(std::process::id()) << 32);
    (mixed ^ (mixed >> 29))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(17) as u32
}

/// Something that happened in the server (for logs, the GUI and tests).
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEvent {
    /// The server is accepting connections.
    Listening {
        /// The bound address.
        addr: SocketAddr,
    },
    /// A client connected.
    ClientConnected {
        /// Connection id (unique within this server run).
        id: u64,
        /// The client's address.
        addr: SocketAddr,
        /// Clients connected now.
        clients: usize,
    },
    /// A client left or was dropped.
    ClientDisconnected {
        /// Connection id.
        id: u64,
        /// The client's address.
        addr: SocketAddr,
        /// Clients connected now.
        clients: usize,
        /// Why, in words.
        reason: String,
    },
    /// A connection was refused because `max_clients` are connected.
    ClientRefused {
        /// The client's address.
        addr: SocketAddr,
    },
    /// A notice from the source stage.
    Source(Notice),
    /// The server has stopped.
    Stopped,
}

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
    level: crate::dsp::LevelCell,
}

impl ServerStats {
    /// The level of the latest chunk ([`Level::SILENCE`] before the first).
    pub fn level(&self) -> Level {
        self.level.load()
    }

    fn set_level(&self, level: Level) {
        self.level.store(level);
    }
}

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
struct Outbox {
    /// Bytes to write and how many audio chunks each holds (0 for control frames).
    frames: VecDeque<(Bytes, usize)>,
    /// Audio chunks in `frames`.
    chunks: usize,
    /// Set when a write failed; the connection task reports it and ends.
    failed: Option<String>,
}

impl Outbox {
    fn push(&mut self, bytes: Bytes, chunks: usize) {
        self.chunks += chunks;
        self.frames.push_back((bytes, chunks));
    }

    /// Drops the first `n` bytes (written to the socket).
    fn consume(&mut self, mut n: usize) {
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
struct ClientShared {
    /// The socket's write side: written directly by [`Hub::publish`] while the client keeps up,
    /// and by the connection task when frames are queued.
    writer: OwnedWriteHalf,
    outbox: Mutex<Outbox>,
    /// Wakes the connection task when frames were queued or a write failed.
    wake: Notify,
    armed: AtomicBool,
    extended: AtomicBool,
    /// The name the client gave (extension NAME).
    name: Mutex<Option<String>>,
}

/// What [`ClientShared::send`] did with a frame.
enum Sent {
    /// Written to the socket or queued.
    Ok,
    /// The queue would hold more than its limit of audio chunks (`max_lag / chunk`): the client
    /// is too far behind.
    Full,
}

impl ClientShared {
    fn outbox(&self) -> std::sync::MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes `frame` (holding `chunks` audio chunks, 0 for a control frame) now if nothing is
    /// queued and the socket takes all of it; queues the rest otherwise. Never blocks. `Full`
    /// (and nothing queued) if the queue would then hold more than `limit` chunks.
    fn send(&self, frame: Bytes, chunks: usize, limit: usize) -> Sent {
        let mut outbox = self.outbox();
        if outbox.failed.is_some() {
            return Sent::Ok;
        }
        if !outbox.frames.is_empty() {
            if outbox.chunks + chunks > limit {
                return Sent::Full;
            }
            outbox.push(frame, chunks);
            return Sent::Ok;
        }
        match self.writer.try_write(&frame) {
            Ok(n) if n == frame.len() => return Sent::Ok,
            Ok(n) => outbox.push(frame.slice(n..), chunks),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => outbox.push(frame, chunks),
            Err(e) => outbox.failed = Some(format!("write failed: {e}")),
        }
        drop(outbox);
        self.wake.notify_one();
        Sent::Ok
    }

    /// Audio chunks queued now.
    fn queued(&self) -> usize {
        self.outbox().chunks
    }
}

struct Slot {
    addr: SocketAddr,
    shared: Arc<ClientShared>,
    kick: Option<oneshot::Sender<String>>,
    connected_at: Instant,
}

/// Chunks encoded and held back to be written together (see [`ServerConfig::writes_per_sec`]).
#[derive(Default)]
struct Pending {
    /// Legacy AUDIO frames, back to back.
    legacy: BytesMut,
    /// AUDIO_AT frames of the same chunks, back to back.
    extended: BytesMut,
    /// Chunks held.
    chunks: usize,
}

/// The fan-out point between the source stage and the connections.
pub struct Hub {
    config: ServerConfig,
    codec: wire::Codec,
    queue_frames: usize,
    clients: Mutex<HashMap<u64, Slot>>,
    pending: Mutex<Pending>,
    next_id: AtomicU64,
    stats: ServerStats,
    events: broadcast::Sender<ServerEvent>,
}

impl Hub {
    /// A hub for `config`.
    pub fn new(config: ServerConfig) -> Arc<Self> {
        let chunk_us = config.chunk.as_micros().max(1);
        let queue_frames = ((config.max_lag.as_micros() / chunk_us) as usize).max(1);
        let (events, _) = broadcast::channel(1024);
        Arc::new(Self {
            codec: wire::Codec::new(config.checkcode),
            config,
            queue_frames,
            clients: Mutex::new(HashMap::new()),
            pending: Mutex::new(Pending::default()),
            next_id: AtomicU64::new(1),
            stats: ServerStats::default(),
            events,
        })
    }

    /// Live counters.
    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }

    /// The server's settings.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// A receiver of every [`ServerEvent`] from now on (a slow receiver loses the oldest ones).
    pub fn subscribe(&self) -> broadcast::Receiver<ServerEvent> {
        self.events.subscribe()
    }

    fn emit(&self, event: ServerEvent) {
        let _ = self.events.send(event);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Slot>> {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Snapshots of the connected clients, oldest first.
    pub fn clients(&self) -> Vec<ClientInfo> {
        let now = Instant::now();
        let mut v: Vec<ClientInfo> = self
            .lock()
            .iter()
            .map(|(id, s)| ClientInfo {
                id: *id,
                addr: s.addr,
                connected_for: now - s.connected_at,
                lag: self.config.chunk * s.shared.queued() as u32,
                extended: s.shared.extended.load(Ordering::Relaxed),
                name: s
                    .shared
                    .name
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone(),
            })
            .collect();
        v.sort_by_key(|c| c.id);
        v
    }

    /// Sends `chunk` to every client that is ready for audio: one shared encoding per frame kind
    /// (legacy AUDIO, extended AUDIO_AT), written directly to each socket that takes it, queued
    /// for the others. Never blocks on a client: a client whose queue already holds `max_lag` of
    /// audio is disconnected. Large audiences are written by one thread per core, and above the
    /// write budget ([`ServerConfig::writes_per_sec`]) several chunks go out in one write.
    /// Callable from any thread.
    pub fn publish(&self, chunk: &Chunk) {
        self.stats.set_level(chunk.level);
        self.stats.chunks.fetch_add(1, Ordering::Relaxed);
        let batch = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            self.codec.encode_audio(&chunk.pcm, &mut pending.legacy);
            self.codec
                .encode_audio_at(chunk.position, &chunk.pcm, &mut pending.extended);
            pending.chunks += 1;
            if pending.chunks < self.chunks_per_write() {
                return;
            }
            let chunks = std::mem::take(&mut pending.chunks);
            (
                pending.legacy.split().freeze(),
                pending.extended.split().freeze(),
                chunks,
            )
        };
        self.fan_out(batch);
    }

    /// How many chunks go into one write per client now (1 unless the audience exceeds the
    /// write budget).
    fn chunks_per_write(&self) -> usize {
        let budget = u128::from(self.config.writes_per_sec);
        if budget == 0 {
            return 1;
        }
        let clients = self.stats.clients.load(Ordering::Relaxed) as u128;
        let chunk_us = self.config.chunk.as_micros().max(1);
        // writes per second = clients × 1e6 / chunk_us; k = ceil(that / budget).
        let k = (clients * 1_000_000).div_ceil(chunk_us * budget);
        (k as usize).clamp(1, MAX_CHUNKS_PER_WRITE.min(self.queue_frames.max(1)))
    }

    fn fan_out(&self, (legacy, extended, chunks): (Bytes, Bytes, usize)) {
        let targets: Vec<(u64, Arc<ClientShared>)> = self
            .lock()
            .iter()
            .filter(|(_, slot)| slot.shared.armed.load(Ordering::Acquire))
            .map(|(id, slot)| (*id, slot.shared.clone()))
            .collect();
        let send = |part: &[(u64, Arc<ClientShared>)]| {
            let mut queued = 0u64;
            let mut lagging = Vec::new();
            for (id, client) in part {
                let frame = if client.extended.load(Ordering::Acquire) {
                    &extended
                } else {
                    &legacy
                };
                match client.send(frame.clone(), chunks, self.queue_frames) {
                    Sent::Ok => queued += frame.len() as u64,
                    Sent::Full => lagging.push(*id),
                }
            }
            (queued, lagging)
        };
        let threads = if targets.len() >= PARALLEL_FANOUT_FROM {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            1
        };
        let (queued, lagging) = if threads > 1 {
            let per = targets.len().div_ceil(threads);
            std::thread::scope(|scope| {
                let mut parts = targets.chunks(per);
                let first = parts.next().unwrap_or_default();
                let others: Vec<_> = parts.map(|p| scope.spawn(move || send(p))).collect();
                let (mut queued, mut lagging) = send(first);
                for handle in others {
                    if let Ok((q, l)) = handle.join() {
                        queued += q;
                        lagging.extend(l);
                    }
                }
                (queued, lagging)
            })
        } else {
            send(&targets)
        };
        drop(targets);
        if !lagging.is_empty() {
            let mut clients = self.lock();
            for id in lagging {
                if let Some(mut slot) = clients.remove(&id) {
                    self.stats.lag_drops.fetch_add(1, Ordering::Relaxed);
                    if let Some(kick) = slot.kick.take() {
                        let _ = kick.send(format!(
                            "more than {} ms of audio behind (the client stopped reading or its link is too slow)",
                            self.config.max_lag.as_millis()
                        ));
                    }
                }
            }
        }
        self.stats.bytes_queued.fetch_add(queued, Ordering::Relaxed);
    }

    /// Reports a notice from the source stage.
    pub fn notice(&self, notice: Notice) {
        match &notice {
            Notice::SilenceInserted(n) => {
                info!(samples = n, "source delivers nothing: streaming silence")
            }
            Notice::SourceActive => info!("source delivering audio"),
            Notice::SourceEnded(what) => info!(source = %what, "source ended; streaming silence"),
            Notice::SourceFailed(why) => warn!(error = %why, "source failed; streaming silence"),
            Notice::SourceRestored(what) => info!(format = %what, "source restored"),
        }
        self.emit(ServerEvent::Source(notice));
    }

    fn register(&self, addr: SocketAddr, slot: Slot) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let clients = {
            let mut map = self.lock();
            map.insert(id, slot);
            map.len()
        };
        self.stats.clients.store(clients, Ordering::Relaxed);
        info!(id, %addr, clients, "client connected");
        self.emit(ServerEvent::ClientConnected { id, addr, clients });
        id
    }

    fn unregister(&self, id: u64, addr: SocketAddr, reason: String) {
        let clients = {
            let mut map = self.lock();
            map.remove(&id);
            map.len()
        };
        self.stats.clients.store(clients, Ordering::Relaxed);
        info!(id, %addr, clients, %reason, "client disconnected");
        self.emit(ServerEvent::ClientDisconnected {
            id,
            addr,
            clients,
            reason,
        });
    }
}

/// Accepts connections on `listener` until `shutdown` is cancelled, then closes every connection
/// and returns once they are gone (waiting at most 2 s).
///
/// # Errors
/// Never returns an error today; accept errors (e.g. out of file descriptors) are logged and
/// retried after 100 ms.
pub async fn run(listener: TcpListener, hub: Arc<Hub>, shutdown: CancellationToken) -> Result<()> {
    let limit = Arc::new(Semaphore::new(hub.config.max_clients));
    let tracker = TaskTracker::new();
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "listening");
        hub.emit(ServerEvent::Listening { addr });
    }
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => match limit.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let hub = hub.clone();
                        let shutdown = shutdown.clone();
                        tracker.spawn(async move {
                            connection(hub, stream, addr, shutdown).await;
                            drop(permit);
                        });
                    }
                    Err(_) => {
                        warn!(%addr, max_clients = hub.config.max_clients, "connection refused: too many clients");
                        hub.emit(ServerEvent::ClientRefused { addr });
                        drop(stream);
                    }
                },
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
    drop(listener);
    tracker.close();
    if tokio::time::timeout(Duration::from_secs(2), tracker.wait())
        .await
        .is_err()
    {
        warn!("some connections did not close within 2 s");
    }
    hub.emit(ServerEvent::Stopped);
    Ok(())
}

async fn connection(
    hub: Arc<Hub>,
    stream: TcpStream,
    addr: SocketAddr,
    shutdown: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    // A small, fixed send buffer keeps the audio a stalled client can hide in the kernel small, so
    // lag is seen in our queue (and the client dropped) instead of hiding in autotuned buffers.
    if let Err(e) = socket2::SockRef::from(&stream).set_send_buffer_size(SEND_BUFFER_BYTES) {
        debug!(%addr, error = %e, "cannot set the send buffer size");
    }
    let (rd, wr) = stream.into_split();
    let (kick_tx, kick_rx) = oneshot::channel();
    let shared = Arc::new(ClientShared {
        writer: wr,
        outbox: Mutex::new(Outbox::default()),
        wake: Notify::new(),
        armed: AtomicBool::new(false),
        extended: AtomicBool::new(false),
        name: Mutex::new(None),
    });
    let id = hub.register(
        addr,
        Slot {
            addr,
            shared: shared.clone(),
            kick: Some(kick_tx),
            connected_at: Instant::now(),
        },
    );
    let reason = tokio::select! {
        r = write_loop(&shared) => r,
        r = read_loop(&hub, rd, &shared) => r,
        r = kick_rx => r.unwrap_or_else(|_| "dropped by the server".into()),
        () = shutdown.cancelled() => "server shutting down".into(),
    };
    hub.unregister(id, addr, reason);
}

/// Most frames handed to one vectored write.
const MAX_IOVECS: usize = 64;

/// Drains the client's queue whenever [`Hub::publish`] or the read loop left frames in it, with
/// vectored writes of everything queued (no copies). Returns why the connection ends.
async fn write_loop(client: &ClientShared) -> String {
    loop {
        let idle = {
            let mut outbox = client.outbox();
            if let Some(why) = outbox.failed.take() {
                return why;
            }
            outbox.frames.is_empty()
        };
        if idle {
            client.wake.notified().await;
            continue;
        }
        if let Err(e) = client.writer.writable().await {
            return format!("write failed: {e}");
        }
        let mut outbox = client.outbox();
        let slices: Vec<IoSlice<'_>> = outbox
            .frames
            .iter()
            .take(MAX_IOVECS)
            .map(|(b, _)| IoSlice::new(b))
            .collect();
        match client.writer.try_write_vectored(&slices) {
            Ok(n) => {
                drop(slices);
                outbox.consume(n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return format!("write failed: {e}"),
        }
    }
}

async fn read_loop(hub: &Hub, rd: tokio::net::tcp::OwnedReadHalf, state: &ClientShared) -> String {
    let mut frames = FramedRead::new(rd, ServerSide(hub.codec));
    let grace = tokio::time::sleep(hub.config.grace);
    tokio::pin!(grace);
    let control = |frame: ServerFrame| {
        let mut b = BytesMut::new();
        hub.codec.encode_server(&frame, &mut b);
        matches!(state.send(b.freeze(), 0, hub.queue_frames), Sent::Ok)
    };
    loop {
        tokio::select! {
            () = &mut grace, if !state.armed.load(Ordering::Relaxed) => {
                state.armed.store(true, Ordering::Release);
            }
            frame = frames.next() => match frame {
                None => return "closed by the client".into(),
                Some(Err(CodecError::Wire(e))) => return format!("protocol error: {e}"),
                Some(Err(CodecError::Io(e))) => return format!("read failed: {e}"),
                Some(Ok(ClientFrame::Ping)) => {
                    if !control(ServerFrame::Ack { status: 0 }) {
                        return "queue full while answering PING".into();
                    }
                    // The ACK is queued before the client becomes eligible for audio.
                    state.armed.store(true, Ordering::Release);
                }
                Some(Ok(ClientFrame::ExtHello)) => {
                    if !control(ServerFrame::Format(hub.config.format)) {
                        return "queue full while answering EXT_HELLO".into();
                    }
                    state.extended.store(true, Ordering::Release);
                }
                Some(Ok(ClientFrame::Name(name))) => {
                    let name: String = name.chars().filter(|c| !c.is_control()).collect();
                    let name = name.trim();
                    if !name.is_empty() {
                        info!(%name, "client named itself");
                        *state.name.lock().unwrap_or_else(PoisonError::into_inner) =
                            Some(name.to_string());
                    }
                }
                Some(Ok(ClientFrame::Other(cmd))) => {
                    debug!(cmd, "ignoring unknown command");
                }
            }
        }
    }
}

/// Everything needed to start serving.
pub struct ServeOptions {
    /// Address to listen on, e.g. `0.0.0.0:26070`.
    pub listen: String,
    /// Where the audio comes from.
    pub input: Input,
    /// How the source stage runs.
    pub pipeline: PipelineConfig,
    /// How the server runs (its `chunk` and `format.sample_rate` are taken from `pipeline`).
    pub server: ServerConfig,
}

/// A running server: source stage, hub and accept loop. Stop it with [`Server::stop`].
pub struct Server {
    local_addr: SocketAddr,
    hub: Arc<Hub>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<()>>,
    pipeline: Option<Pipeline>,
}

impl Server {
    /// Binds the listener, opens the source and starts serving.
    ///
    /// # Errors
    /// [`Error::Bind`] (port in use, bad address, no permission) and whatever opening the input
    /// returns ([`Error::Source`], [`Error::Resampler`], [`Error::Thread`]).
    pub async fn start(options: ServeOptions) -> Result<Self> {
        let listener = TcpListener::bind(&options.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: options.listen.clone(),
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: options.listen.clone(),
            source,
        })?;
        let mut config = options.server;
        config.chunk = options.pipeline.chunk;
        config.format.sample_rate = options.pipeline.rate;
        let hub = Hub::new(config);
        let sink_hub = hub.clone();
        let pipeline = Pipeline::spawn(options.input, options.pipeline, move |out| match out {
            Output::Chunk(chunk) => sink_hub.publish(&chunk),
            Output::Notice(n) => sink_hub.notice(n),
        })?;
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(listener, hub.clone(), shutdown.clone()));
        Ok(Self {
            local_addr,
            hub,
            shutdown,
            task,
            pipeline: Some(pipeline),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The hub: stats, clients, events.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// A token that stops the server when cancelled (e.g. from a signal handler).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Waits until the server stops (after its shutdown token is cancelled).
    ///
    /// # Errors
    /// As [`run`].
    pub async fn wait(mut self) -> Result<()> {
        let result = (&mut self.task).await;
        if let Some(p) = self.pipeline.take() {
            tokio::task::spawn_blocking(move || p.stop()).await.ok();
        }
        result.unwrap_or(Ok(()))
    }

    /// Stops accepting, closes every client and the source, and waits for all of it.
    ///
    /// # Errors
    /// As [`run`].
    pub async fn stop(self) -> Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }
}
