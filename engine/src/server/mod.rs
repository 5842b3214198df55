//! The broadcast server: the TCP fan-out, one output of the chunk stream.
//!
//! Layers, as in mini-redis: the [`wire`] codec → one task per connection (`conn.rs`) → the
//! accept loop [`run`], which takes a bound listener and a shutdown token. The source stage
//! publishes into a [`ChunkStream`]; the fan-out thread ([`FANOUT_THREAD`]) reads it and calls
//! [`Hub::publish`] (`hub.rs`): each chunk is encoded **once** into a shared `Bytes`. A client
//! that keeps up (nothing waiting in its queue) gets it by one non-blocking `write` straight from
//! the fan-out thread: no copy, no task wake-up, no scheduling. Only what the socket does not
//! take goes to the client's own bounded queue (`client.rs`), which its connection task drains
//! with vectored writes when the socket becomes writable. A client whose queue holds `max_lag` of
//! audio is disconnected, so a slow or stalled client never delays another and memory stays
//! bounded: at most `max_lag / chunk` shared frames per client. If the fan-out thread itself falls
//! behind, it loses chunks ([`ServerStats::fanout_dropped`]); the source stage never waits.
//!
//! A new connection gets audio only after its PING has been answered or after `grace` has passed,
//! so the original client, which reads the 9 bytes after its PING as the ACK, always works.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use wire::StreamFormat;

use crate::icecast::IcecastStatus;
use crate::pipeline::{Notice, Pipeline, PipelineStats};
use crate::rtp::RtpStats;
use crate::secure::Fingerprint;
use crate::stream::{ChunkStream, WeakChunkStream};
use crate::web::WebStats;
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
/// about 6 µs of CPU on the project's 2-core benchmark machine over loopback (docs/BENCHMARKS.md,
/// "Fan-out"), so 60,000 writes/s keep the fan-out thread near a third of one core for any
/// audience. At the default 20 ms chunk, 1,200 receivers get one write per chunk;
/// 10,000 get one write per 8 chunks (160 ms).
pub const DEFAULT_WRITES_PER_SEC: u32 = 60_000;

/// Most chunks joined into one write per client (see [`ServerConfig::writes_per_sec`]).
pub const MAX_CHUNKS_PER_WRITE: usize = 8;

/// Longest wait for the connections to take the last chunk once the source has ended: 2 s.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

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

mod event;
pub use event::ServerEvent;
mod chat;
pub use crate::web::ChatEntry;
mod client;
mod conn;
mod hub;
mod settings;
mod stats;
mod tls;
mod tracks;

pub use client::ClientInfo;
pub use conn::{connection as serve_connection, run};
pub use hub::Hub;
pub use options::{ServeOptions, WebOptions, new_stream_id};
pub use outputs::FANOUT_THREAD;
use outputs::{OutputInfo, OutputPlan, Outputs, spawn_fanout};
pub use settings::{ServeSettings, TlsSettings};
pub use stats::ServerStats;

mod options;
mod outputs;

/// A running server: source stage, chunk stream, TCP fan-out and accept loop. Cheap to clone:
/// every clone controls the same server (a GUI keeps one in its state and passes clones to its
/// tasks). Stop it with [`ServerHandle::stop`]; dropping the handles does not stop it.
#[derive(Clone)]
pub struct ServerHandle {
    inner: Arc<Inner>,
}

struct Inner {
    local_addr: SocketAddr,
    hub: Arc<Hub>,
    shutdown: CancellationToken,
    stream: WeakChunkStream,
    source_stats: Arc<PipelineStats>,
    /// What the outputs other than TCP report.
    outputs: OutputInfo,
    /// The TLS port and its certificate's fingerprint, if TLS is on.
    tls: Option<(SocketAddr, Fingerprint)>,
    /// Becomes true once everything has stopped.
    stopped: watch::Receiver<bool>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServerHandle({})", self.inner.local_addr)
    }
}

impl ServerHandle {
    /// Binds the listener, opens the source (on a blocking thread: a device may take seconds to
    /// open) and starts serving. The source stage publishes into a [`ChunkStream`]; the TCP
    /// fan-out reads it on its own thread ([`FANOUT_THREAD`]), so the source never waits for a
    /// socket, and other outputs may [`ServerHandle::stream`]`()…subscribe(…)`.
    ///
    /// # Errors
    /// [`Error::Bind`] (port in use, bad address, no permission), whatever opening the input
    /// returns ([`Error::Source`], [`Error::Resampler`], [`Error::Thread`]) and what starting an
    /// output returns ([`Error::Setup`] for an RTP socket or SDP file, [`Error::Config`] for a
    /// format Opus cannot encode).
    pub async fn start(options: ServeOptions) -> Result<Self> {
        let (plain, tls, local_addr) = options::bind_ports(&options.listen, options.tls).await?;
        let tls_info = tls.as_ref().map(|t| (t.addr, t.fingerprint));
        let web_listener = match &options.web {
            Some(w) => Some(crate::listen::bind(&w.listen).await?.0),
            None => None,
        };
        // A web player beside TLS is HTTPS with the same certificate and key.
        let web = options
            .web
            .map(|w| options::secure_web(w.config, tls.as_ref()));
        let config = options::hub_config(options.server, &options.pipeline);
        // The fan-out may fall max_lag behind (at least 16 chunks) before it loses chunks.
        let capacity = (config.max_lag.as_micros() / config.chunk.as_micros().max(1)).max(16);
        let stream = ChunkStream::new(usize::try_from(capacity).unwrap_or(usize::MAX));
        let hub = Hub::new(config);
        let fanout = spawn_fanout(hub.clone(), stream.subscribe("tcp"))?;
        let (input, pipeline_config, sink) = (options.input, options.pipeline, stream.sink());
        let legacy = hub.legacy_demand();
        let pipeline = tokio::task::spawn_blocking(move || {
            Pipeline::spawn_with(input, pipeline_config, legacy, sink)
        })
        .await
        .map_err(|e| Error::Thread {
            name: "audiomi-source".into(),
            source: std::io::Error::other(e.to_string()),
        })??;
        let source_stats = pipeline.stats().clone();
        let plan = OutputPlan {
            web: web_listener.zip(web),
            icecast: options.icecast,
            rtp: options.rtp,
        };
        let (outputs, output_info) = Outputs::start(plan, &stream, &hub)?;
        let plain_addr = plain.as_ref().map(|p| p.1);
        let txt =
            |name: &str| options::txt_record(&hub, plain_addr, tls.as_ref(), &output_info, name);
        let announcer = options
            .announce
            .as_ref()
            .and_then(|a| a.start(txt(&a.name)));
        let shutdown = CancellationToken::new();
        let (stopped_tx, stopped) = watch::channel(false);
        let weak = stream.downgrade();
        let (accept_hub, accept_shutdown) = (hub.clone(), shutdown.clone());
        // The supervisor owns the running parts and stops them in order.
        tokio::spawn(async move {
            let plain = plain.map(|(l, _)| run(l, accept_hub.clone(), accept_shutdown.clone()));
            let tls = tls.map(|t| tls::serve(t, accept_hub.clone(), accept_shutdown.clone()));
            tokio::join!(options::maybe(plain), options::maybe(tls));
            accept_hub.emit(ServerEvent::Stopped);
            if let Some(a) = announcer {
                let _ = tokio::task::spawn_blocking(move || a.stop()).await;
            }
            outputs.stop().await;
            let _ = tokio::task::spawn_blocking(move || {
                pipeline.stop();
                // With the source stage and the last strong handle gone, the stream closes and
                // the fan-out thread ends.
                drop(stream);
                let _ = fanout.join();
            })
            .await;
            let _ = stopped_tx.send(true);
        });
        Ok(Self {
            inner: Arc::new(Inner {
                local_addr,
                hub,
                shutdown,
                stream: weak,
                source_stats,
                outputs: output_info,
                tls: tls_info,
                stopped,
            }),
        })
    }

    /// The chunk stream the source stage publishes to (subscribe to add an output); `None` once
    /// the server has stopped.
    pub fn stream(&self) -> Option<ChunkStream> {
        self.inner.stream.upgrade()
    }

    /// Counters of the source stage (chunks produced, silence inserted, device overruns).
    pub fn source_stats(&self) -> &Arc<PipelineStats> {
        &self.inner.source_stats
    }

    /// The web output's address, if it runs.
    pub fn web_addr(&self) -> Option<SocketAddr> {
        self.inner.outputs.web.as_ref().map(|(a, _)| *a)
    }

    /// The web player's URL (`https://` when TLS is on), if it runs.
    pub fn web_url(&self) -> Option<String> {
        let secure = self.inner.tls.is_some();
        self.web_addr().map(|a| crate::web::player_url(a, secure))
    }

    /// The web output's counters, if it runs.
    pub fn web_stats(&self) -> Option<&Arc<WebStats>> {
        self.inner.outputs.web.as_ref().map(|(_, s)| s)
    }

    /// State and counters of each Icecast publisher, in the order of [`ServeOptions::icecast`].
    pub fn icecast(&self) -> &[Arc<IcecastStatus>] {
        &self.inner.outputs.icecast
    }

    /// The RTP output's counters, if it runs.
    pub fn rtp_stats(&self) -> Option<&Arc<RtpStats>> {
        self.inner.outputs.rtp.as_ref()
    }

    /// The TLS port's address and the certificate's fingerprint, if TLS is on.
    pub fn tls(&self) -> Option<(SocketAddr, Fingerprint)> {
        self.inner.tls
    }

    /// The plaintext port's address (the TLS port's when the plaintext port is off).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// The hub: clients, events, stats.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.inner.hub
    }

    /// Live counters: clients, bytes, level, drops.
    pub fn stats(&self) -> &ServerStats {
        self.inner.hub.stats()
    }

    /// What happens in the server from now on, as a stream (events missed by a slow reader are
    /// skipped); it ends when the server stops.
    pub fn events(&self) -> impl futures::Stream<Item = ServerEvent> + Send + 'static + use<> {
        futures::stream::unfold(self.inner.hub.subscribe(), |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(e) => return Some((e, rx)),
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
    }

    /// Resolves once the source has ended (a file or playlist played without looping) and its
    /// last chunk has gone out to every connection (each closes once its queue is written; at
    /// most [`DRAIN_TIMEOUT`] is waited for them). Never resolves for a source that does not end.
    /// The caller then stops the server.
    pub async fn finished(&self) {
        let hub = &self.inner.hub;
        let mut events = hub.subscribe();
        while !hub.is_finished() {
            match events.recv().await {
                Ok(ServerEvent::Source(Notice::Finished)) => break,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
        let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
        while hub
            .stats()
            .clients
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A token that stops the server when cancelled (e.g. from a signal handler).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    /// Waits until the server has stopped (after [`ServerHandle::stop`] or its shutdown token):
    /// connections closed, source stage and fan-out ended.
    ///
    /// # Errors
    /// None today; reserved for outputs that can fail to stop.
    pub async fn wait(&self) -> Result<()> {
        let mut stopped = self.inner.stopped.clone();
        let _ = stopped.wait_for(|s| *s).await;
        Ok(())
    }

    /// Stops accepting, closes every client and the source, and waits for all of it.
    ///
    /// # Errors
    /// As [`ServerHandle::wait`].
    pub async fn stop(&self) -> Result<()> {
        self.inner.shutdown.cancel();
        self.wait().await
    }
}
