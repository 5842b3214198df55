//! Starting the outputs of a server: the TCP fan-out's thread, the web output, and binding.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::net::TcpListener;

use super::Hub;
use crate::pipeline::Output;
use crate::stream::{ChunkStream, Subscription};
use crate::web::{StatusSource, WebConfig, WebOutput};
use crate::{Error, Result};

/// Name of the TCP fan-out's thread.
pub const FANOUT_THREAD: &str = "audiomi-fanout";

/// Starts the TCP fan-out: a long-lived thread that takes every item of `subscription` and hands
/// it to the hub (which writes to the sockets). It ends when the chunk stream closes.
pub(super) fn spawn_fanout(
    hub: Arc<Hub>,
    mut subscription: Subscription,
) -> Result<std::thread::JoinHandle<()>> {
    let dropped = subscription.dropped();
    std::thread::Builder::new()
        .name(FANOUT_THREAD.into())
        .spawn(move || {
            while let Some(item) = subscription.recv_blocking() {
                hub.stats()
                    .fanout_dropped
                    .store(dropped.load(Ordering::Relaxed), Ordering::Relaxed);
                match item {
                    Output::Chunk(chunk) => hub.publish(&chunk),
                    Output::Notice(n) => hub.notice(n),
                }
            }
        })
        .map_err(|source| Error::Thread {
            name: FANOUT_THREAD.into(),
            source,
        })
}

/// Binds `options.listen`, reporting the address as given.
pub(super) async fn bind(listen: &str) -> Result<(TcpListener, SocketAddr)> {
    let bind_err = |source| Error::Bind {
        addr: listen.to_string(),
        source,
    };
    let listener = TcpListener::bind(listen).await.map_err(bind_err)?;
    let local_addr = listener.local_addr().map_err(bind_err)?;
    Ok((listener, local_addr))
}

/// Starts the web output on `listener`, reading `stream`; its status page reports the TCP
/// receivers and level of `hub`.
///
/// # Errors
/// As [`WebOutput::start`].
pub(super) fn start_web(
    listener: TcpListener,
    stream: &ChunkStream,
    hub: &Arc<Hub>,
    config: WebConfig,
) -> Result<WebOutput> {
    let format = hub.config().format;
    let (clients, level) = (hub.clone(), hub.clone());
    let status = StatusSource {
        started: Instant::now(),
        sample_rate: format.sample_rate,
        channels: format.channels,
        tcp_receivers: Arc::new(move || clients.stats().clients.load(Ordering::Relaxed)),
        level: Arc::new(move || level.stats().level()),
    };
    WebOutput::start(listener, stream, status, config)
}
