//! The broadcast server.
//!
//! Layers, as in mini-redis: the [`wire`] codec → one task per connection → the accept loop
//! [`run`], which takes a bound listener and a shutdown token. Audio enters through
//! [`Hub::publish`] (called by the pipeline's thread): each chunk is encoded **once** into a shared
//! `Bytes` and enqueued on every client's own bounded queue. A client whose queue is full is more
//! than `max_lag` behind and is disconnected, so a slow or stalled client never delays another and
//! memory stays bounded: at most `max_lag / chunk` shared frames per client.
//!
//! A new connection gets audio only after its PING has been answered or after `grace` has passed,
//! so the original client, which reads the 9 bytes after its PING as the ACK, always works.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, broadcast, mpsc, oneshot};
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
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            checkcode: wire::DEFAULT_CHECKCODE,
            max_clients: 10_000,
            max_lag: Duration::from_millis(2000),
            grace: Duration::from_millis(250),
            chunk: Duration::from_millis(20),
            format: StreamFormat::legacy(new_stream_id()),
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
    /// Bytes handed to client queues (each frame counted once per client).
    pub bytes_queued: AtomicU64,
    /// Chunks published.
    pub chunks: AtomicU64,
    /// Clients disconnected for lagging more than `max_lag`.
    pub lag_drops: AtomicU64,
    rms_bits: AtomicU32,
    peak_bits: AtomicU32,
}

impl ServerStats {
    /// The level of the latest chunk.
    pub fn level(&self) -> Level {
        Level {
            rms_dbfs: f32::from_bits(self.rms_bits.load(Ordering::Relaxed)),
            peak_dbfs: f32::from_bits(self.peak_bits.load(Ordering::Relaxed)),
        }
    }

    fn set_level(&self, level: Level) {
        self.rms_bits
            .store(level.rms_dbfs.to_bits(), Ordering::Relaxed);
        self.peak_bits
            .store(level.peak_dbfs.to_bits(), Ordering::Relaxed);
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
}

struct ClientState {
    armed: AtomicBool,
    extended: AtomicBool,
}

struct Slot {
    addr: SocketAddr,
    tx: mpsc::Sender<Bytes>,
    state: Arc<ClientState>,
    kick: Option<oneshot::Sender<String>>,
    connected_at: Instant,
}

/// The fan-out point between the source stage and the connections.
pub struct Hub {
    config: ServerConfig,
    codec: wire::Codec,
    queue_frames: usize,
    clients: Mutex<HashMap<u64, Slot>>,
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
                lag: self.config.chunk * (s.tx.max_capacity() - s.tx.capacity()) as u32,
                extended: s.state.extended.load(Ordering::Relaxed),
            })
            .collect();
        v.sort_by_key(|c| c.id);
        v
    }

    /// Sends `chunk` to every client that is ready for audio. Never blocks on a client: a client
    /// whose queue is full is disconnected. Callable from any thread.
    pub fn publish(&self, chunk: &Chunk) {
        self.stats.set_level(chunk.level);
        self.stats.chunks.fetch_add(1, Ordering::Relaxed);
        let mut legacy = BytesMut::new();
        self.codec.encode_audio(&chunk.pcm, &mut legacy);
        let legacy = legacy.freeze();
        let mut extended: Option<Bytes> = None;
        let mut lagging = Vec::new();
        let mut queued = 0u64;
        let mut clients = self.lock();
        for (id, slot) in clients.iter() {
            if !slot.state.armed.load(Ordering::Acquire) {
                continue;
            }
            let frame = if slot.state.extended.load(Ordering::Acquire) {
                extended
                    .get_or_insert_with(|| {
                        let mut b = BytesMut::new();
                        self.codec
                            .encode_audio_at(chunk.position, &chunk.pcm, &mut b);
                        b.freeze()
                    })
                    .clone()
            } else {
                legacy.clone()
            };
            let len = frame.len() as u64;
            match slot.tx.try_send(frame) {
                Ok(()) => queued += len,
                Err(mpsc::error::TrySendError::Full(_)) => lagging.push(*id),
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
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
        drop(clients);
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
    let (tx, rx) = mpsc::channel(hub.queue_frames);
    let (kick_tx, kick_rx) = oneshot::channel();
    let state = Arc::new(ClientState {
        armed: AtomicBool::new(false),
        extended: AtomicBool::new(false),
    });
    let id = hub.register(
        addr,
        Slot {
            addr,
            tx: tx.clone(),
            state: state.clone(),
            kick: Some(kick_tx),
            connected_at: Instant::now(),
        },
    );
    let reason = tokio::select! {
        r = write_loop(wr, rx) => r,
        r = read_loop(&hub, rd, tx, &state) => r,
        r = kick_rx => r.unwrap_or_else(|_| "dropped by the server".into()),
        () = shutdown.cancelled() => "server shutting down".into(),
    };
    hub.unregister(id, addr, reason);
}

async fn write_loop(
    mut wr: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::Receiver<Bytes>,
) -> String {
    let mut batch: Vec<Bytes> = Vec::with_capacity(32);
    let mut joined = BytesMut::new();
    loop {
        batch.clear();
        if rx.recv_many(&mut batch, 32).await == 0 {
            return "queue closed".into();
        }
        let result = if batch.len() == 1 {
            wr.write_all(&batch[0]).await
        } else {
            joined.clear();
            for b in &batch {
                joined.extend_from_slice(b);
            }
            wr.write_all(&joined).await
        };
        if let Err(e) = result {
            return format!("write failed: {e}");
        }
    }
}

async fn read_loop(
    hub: &Hub,
    rd: tokio::net::tcp::OwnedReadHalf,
    tx: mpsc::Sender<Bytes>,
    state: &ClientState,
) -> String {
    let mut frames = FramedRead::new(rd, ServerSide(hub.codec));
    let grace = tokio::time::sleep(hub.config.grace);
    tokio::pin!(grace);
    let control = |frame: ServerFrame| {
        let mut b = BytesMut::new();
        hub.codec.encode_server(&frame, &mut b);
        tx.try_send(b.freeze()).is_ok()
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
