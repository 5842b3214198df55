//! The TCP output as a station sees it: it binds the plaintext and TLS ports, runs their accept
//! loops and the fan-out thread that hands every chunk to the [`Hub`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::{Hub, ServerConfig, tls};
use crate::output::{Output, OutputStatus, StationContext, Stopping};
use crate::pipeline::Output as Item;
use crate::secure::listener::BoundTls;
use crate::secure::{AccessKey, Fingerprint, TlsServeOptions};
use crate::stream::Subscription;
use crate::{Error, Result};

/// Name of the TCP fan-out's thread.
pub const FANOUT_THREAD: &str = "audiomi-fanout";

/// What the TCP output is asked to serve.
#[derive(Debug)]
pub struct TcpSettings {
    /// The plaintext port's address, e.g. `0.0.0.0:26070` (`127.0.0.1:0` for a free port).
    pub listen: String,
    /// The TLS port, if any (it may also turn the plaintext port off).
    pub tls: Option<TlsServeOptions>,
    /// The hub's settings (its `format` and `chunk` those of the station's stream).
    pub config: ServerConfig,
}

/// The ports of a TCP output, bound but not yet served.
pub struct BoundPorts {
    plain: Option<(TcpListener, SocketAddr)>,
    tls: Option<BoundTls>,
    config: ServerConfig,
}

impl BoundPorts {
    /// Binds the plaintext port (unless TLS turns it off) and the TLS port (if any), so that a
    /// port in use is told before the source is opened.
    ///
    /// # Errors
    /// [`Error::Bind`], [`Error::Identity`]; [`Error::Config`] if neither port would be open.
    pub async fn bind(settings: TcpSettings) -> Result<Self> {
        let plain = match &settings.tls {
            Some(t) if !t.plain => None,
            _ => Some(crate::listen::bind(&settings.listen).await?),
        };
        let tls = match settings.tls {
            Some(t) => Some(BoundTls::bind(t).await?),
            None => None,
        };
        if plain.is_none() && tls.is_none() {
            return Err(Error::Config {
                name: "--no-plain".into(),
                value: "true".into(),
                reason: "with the plaintext port off, TLS must be on".into(),
            });
        }
        Ok(Self {
            plain,
            tls,
            config: settings.config,
        })
    }

    /// The TLS configuration and access key, for an output that serves HTTPS beside it.
    pub fn tls_config(&self) -> Option<(Arc<rustls::ServerConfig>, Option<AccessKey>)> {
        self.tls
            .as_ref()
            .map(|t| (t.server_config.clone(), t.key.clone()))
    }
}

/// A running TCP output: the plaintext and TLS accept loops, and the fan-out thread
/// ([`FANOUT_THREAD`]) reading the chunk stream into the [`Hub`].
pub struct TcpOutput {
    hub: Arc<Hub>,
    plain: Option<SocketAddr>,
    tls: Option<(SocketAddr, Fingerprint, bool)>,
    accept: tokio::sync::Mutex<Vec<JoinHandle<()>>>,
}

impl TcpOutput {
    /// Serves `ports` in the station of `ctx`: subscribes the fan-out thread to the chunk stream
    /// and starts the accept loops, which end when the station's shutdown token is cancelled.
    ///
    /// # Errors
    /// [`Error::Thread`] if the fan-out thread cannot start.
    pub fn start(ports: BoundPorts, ctx: &StationContext) -> Result<Self> {
        let hub = Hub::with_state(
            ports.config,
            ctx.state().clone(),
            ctx.legacy_demand().clone(),
        );
        let subscription = ctx.subscribe("tcp");
        let fanout_hub = hub.clone();
        ctx.spawn_reader(FANOUT_THREAD, move || fan_out(&fanout_hub, subscription))?;
        let plain = ports.plain.as_ref().map(|p| p.1);
        let tls = ports
            .tls
            .as_ref()
            .map(|t| (t.addr, t.fingerprint, t.key_required()));
        let shutdown = ctx.shutdown();
        let mut accept = Vec::new();
        if let Some((listener, _)) = ports.plain {
            accept.push(tokio::spawn(super::run(
                listener,
                hub.clone(),
                shutdown.clone(),
            )));
        }
        if let Some(bound) = ports.tls {
            accept.push(tokio::spawn(tls::serve(
                bound,
                hub.clone(),
                shutdown.clone(),
            )));
        }
        Ok(Self {
            hub,
            plain,
            tls,
            accept: tokio::sync::Mutex::new(accept),
        })
    }

    /// The hub: clients, stats.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// The plaintext port's address, if it is open.
    pub fn plain_addr(&self) -> Option<SocketAddr> {
        self.plain
    }

    /// The TLS port's address, its certificate's fingerprint and whether clients need an access
    /// key, if TLS is on.
    pub fn tls(&self) -> Option<(SocketAddr, Fingerprint, bool)> {
        self.tls
    }
}

impl Output for TcpOutput {
    fn name(&self) -> &'static str {
        "tcp"
    }

    fn status(&self) -> OutputStatus {
        let receivers = self.hub.stats().clients.load(Ordering::Relaxed);
        OutputStatus {
            name: self.name(),
            addr: self.plain.or(self.tls.map(|t| t.0)),
            audience: Some(receivers),
            summary: format!("{receivers} receivers"),
        }
    }

    fn drained(&self) -> bool {
        self.hub.is_finished() && self.hub.stats().clients.load(Ordering::Relaxed) == 0
    }

    fn stop(&self) -> Stopping<'_> {
        Box::pin(async move {
            for task in self.accept.lock().await.drain(..) {
                let _ = task.await;
            }
        })
    }
}

/// The fan-out thread's loop: takes every item of `subscription` and hands it to the hub (which
/// writes to the sockets); it ends when the chunk stream closes.
fn fan_out(hub: &Hub, mut subscription: Subscription) {
    let dropped = subscription.dropped();
    while let Some(item) = subscription.recv_blocking() {
        hub.stats()
            .fanout_dropped
            .store(dropped.load(Ordering::Relaxed), Ordering::Relaxed);
        match item {
            Item::Chunk(chunk) => hub.publish_behind(&chunk, subscription.waiting()),
            Item::Notice(n) => hub.notice(n),
        }
    }
}
