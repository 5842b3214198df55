//! The station: what "Start serving" runs (Snapcast's stream manager, with fewer layers).
//!
//! It owns the source stage ([`crate::pipeline`]), the chunk stream it publishes into
//! ([`crate::stream`]), the state every output reads ([`crate::output::StationState`]: format,
//! level, chat, now playing, receivers, events) and its outputs, each an
//! [`crate::output::Output`] started from the registration list (`registry.rs`): the TCP server
//! with its TLS port ([`crate::server`]), the web player, Icecast, RTP and the mDNS
//! announcement. No output knows another; the station wires them (the web player's HTTPS uses
//! the TLS port's certificate, the announcement names every port).
//!
//! Where new things go: a new **output** is a module beside [`crate::web`] implementing
//! [`crate::output::Output`], plus one entry in `registry.rs` and its fields in
//! [`ServeOptions`]; a new **source** is a way to open an [`crate::audio::Input`] in
//! [`crate::audio`], named by a [`crate::audio::sources::SourceSpec`]; a new **receiver sink**
//! (what a receiver does with what it gets) is a `FrameSink` in `receiver/sink.rs`.

mod handle;
mod options;
mod registry;
mod settings;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::output::{ServerEvent, StationContext, StationState};
use crate::pipeline::{Pipeline, PipelineStats};
use crate::server::TcpOutput;
use crate::stream::{ChunkStream, WeakChunkStream};
use crate::{Error, Result};

pub use options::{ServeOptions, WebOptions};
pub use settings::{ServeSettings, TlsSettings, default_server_name};

/// Longest wait for the receivers to take the last chunk once the source has ended: 2 s.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// A running station: source stage, chunk stream, shared state and outputs. Cheap to clone:
/// every clone controls the same station (a GUI keeps one in its state and passes clones to its
/// tasks). Stop it with [`Station::stop`]; dropping the handles does not stop it.
#[derive(Clone)]
pub struct Station {
    inner: Arc<Inner>,
}

struct Inner {
    state: Arc<StationState>,
    tcp: Arc<TcpOutput>,
    outputs: Arc<registry::Outputs>,
    shutdown: CancellationToken,
    stream: WeakChunkStream,
    source_stats: Arc<PipelineStats>,
    /// Becomes true once everything has stopped.
    stopped: watch::Receiver<bool>,
}

impl std::fmt::Debug for Station {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Station({})", self.local_addr())
    }
}

impl Station {
    /// Binds the ports, starts the outputs on a new chunk stream, then opens the source (on a
    /// blocking thread: a device may take seconds to open) and starts serving it. The source
    /// stage never waits for an output: each reads the stream on its own thread or task.
    ///
    /// # Errors
    /// [`Error::Bind`] (port in use, bad address, no permission), whatever opening the input
    /// returns ([`Error::Source`], [`Error::Resampler`], [`Error::Thread`]) and what starting an
    /// output returns ([`Error::Setup`] for an RTP socket or SDP file, [`Error::Config`] for a
    /// format Opus cannot encode). Nothing is left running after an error.
    pub async fn start(mut options: ServeOptions) -> Result<Self> {
        let config = options::hub_config(options.server.clone(), &options.pipeline);
        let bound = registry::bind(&mut options, config.clone()).await?;
        // An output may fall max_lag behind (at least 16 chunks) before it loses chunks.
        let capacity = (config.max_lag.as_micros() / config.chunk.as_micros().max(1)).max(16);
        let stream = ChunkStream::new(usize::try_from(capacity).unwrap_or(usize::MAX));
        let state = Arc::new(StationState::new(config.format));
        let ctx = StationContext::new(stream.clone(), state.clone(), Default::default());
        let mut outputs = registry::Outputs::default();
        let started = registry::start(bound, &options, &ctx, &mut outputs);
        let running = match started {
            Ok(tcp) => spawn_source(options, &ctx).await.map(|p| (tcp, p)),
            Err(e) => Err(e),
        };
        let (tcp, pipeline) = match running {
            Ok(r) => r,
            Err(e) => {
                stop_parts(ctx, &outputs, stream, None).await;
                return Err(e);
            }
        };
        for output in &outputs.all {
            let s = output.status();
            tracing::debug!(output = s.name, addr = ?s.addr, summary = %s.summary, "output started");
        }
        let outputs = Arc::new(outputs);
        let (stopped_tx, stopped) = watch::channel(false);
        let shutdown = ctx.shutdown().clone();
        let source_stats = pipeline.stats().clone();
        let weak = stream.downgrade();
        let supervised = outputs.clone();
        // The supervisor stops everything in order once the shutdown token is cancelled.
        tokio::spawn(async move {
            ctx.shutdown().cancelled().await;
            let state = ctx.state().clone();
            stop_parts(ctx, &supervised, stream, Some(pipeline)).await;
            state.emit(ServerEvent::Stopped);
            let _ = stopped_tx.send(true);
        });
        Ok(Self {
            inner: Arc::new(Inner {
                state,
                tcp,
                outputs,
                shutdown,
                stream: weak,
                source_stats,
                stopped,
            }),
        })
    }
}

/// Opens `options.input` as the source stage of the station of `ctx` (on a blocking thread),
/// its items observed by the shared state before the outputs get them.
async fn spawn_source(options: ServeOptions, ctx: &StationContext) -> Result<Pipeline> {
    let (input, config, legacy) = (options.input, options.pipeline, ctx.legacy_demand().clone());
    let (state, mut publish) = (ctx.state().clone(), ctx.stream().sink());
    let sink = move |item| {
        state.observe(&item);
        publish(item);
    };
    tokio::task::spawn_blocking(move || Pipeline::spawn_with(input, config, legacy, sink))
        .await
        .map_err(|e| Error::Thread {
            name: "audiomi-source".into(),
            source: std::io::Error::other(e.to_string()),
        })?
}

/// Stops a station's parts in order: cancels the shutdown token, stops the outputs (the last
/// started first), then the source stage if it runs; with it and `stream` (the last strong
/// handles) gone the chunk stream closes, and the reader threads are waited for.
async fn stop_parts(
    ctx: StationContext,
    outputs: &registry::Outputs,
    stream: ChunkStream,
    pipeline: Option<Pipeline>,
) {
    ctx.shutdown().cancel();
    outputs.stop().await;
    let readers = ctx.take_readers();
    drop(ctx);
    let _ = tokio::task::spawn_blocking(move || {
        if let Some(pipeline) = pipeline {
            pipeline.stop();
        }
        drop(stream);
    })
    .await;
    join(readers).await;
}

/// Waits for `threads` on a blocking thread.
async fn join(threads: Vec<std::thread::JoinHandle<()>>) {
    let _ = tokio::task::spawn_blocking(move || {
        for t in threads {
            let _ = t.join();
        }
    })
    .await;
}
