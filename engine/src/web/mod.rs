//! The web output: any browser or phone listens at `http://<host>:26080/`.
//!
//! A sibling of the TCP output ([`crate::server`]): it subscribes to the same chunk stream and
//! never slows the source or the TCP receivers. Routes ([`routes`]): `/` (the player page),
//! `/stream.opus` (Ogg/Opus), `/stream.webm` (the same Opus in WebM, for browsers),
//! `/stream.wav` (PCM16 WAV of unknown length), `/ws` (PCM frames for
//! a low-latency AudioWorklet player), `/status.json`. Each chunk is encoded once per format
//! ([`crate::encode::live`], shared with the other outputs that send encoded audio) and every
//! listener of that format shares the bytes.
//!
//! Bad input is bounded: at most [`WebConfig::max_connections`] connections (more wait in the
//! kernel's backlog), request headers must arrive within [`WebConfig::header_timeout`] and fit in
//! [`WebConfig::max_header_bytes`] (hyper answers 431 or closes), and a streaming listener that
//! takes nothing for [`WebConfig::max_lag`] (a client that never reads) is disconnected.

mod listener;
pub mod routes;
pub mod socket;
mod watch;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::encode::live::Encoded;
use crate::output::{Output, OutputStatus, StationContext, StationState, Stopping};
use crate::{Error, Result};

/// Kernel send buffer of a web connection: 64 KiB (2 s of 16 kHz mono PCM, 20 s of Opus at
/// 24 kbit/s). Small enough that a listener that stops reading fills it quickly and is then
/// caught by the `max_lag` watchdog, instead of Linux's send-buffer autotuning (up to 4 MiB)
/// hiding it for minutes.
pub const SEND_BUFFER: usize = 64 * 1024;

pub use crate::config::DEFAULT_HTTP_PORT;

pub use crate::output::ChatEntry;

/// The URL a browser on the network opens for a web output listening on `addr`. For an
/// unspecified address (`0.0.0.0`, `::`: every interface) it names the address of the interface
/// that routes to other hosts, found by `connect`ing a UDP socket to 192.0.2.1 (TEST-NET-1, RFC
/// 5737): a UDP `connect` only picks a route and sends nothing. Without a route it falls back to
/// `localhost`.
pub fn player_url(addr: SocketAddr, secure: bool) -> String {
    let ip = if addr.ip().is_unspecified() {
        crate::route::local_ip_towards(([192, 0, 2, 1], 9).into())
            .map_or_else(|| "localhost".to_string(), |ip| ip.to_string())
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    let scheme = if secure { "https" } else { "http" };
    format!("{scheme}://{ip}:{}/", addr.port())
}

/// Limits of the web output.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Connections served at once: 10,000.
    pub max_connections: usize,
    /// Time a client has to send its request headers: 10 s.
    pub header_timeout: Duration,
    /// Largest request head accepted (hyper's read buffer): 16 KiB.
    pub max_header_bytes: usize,
    /// Items of each shared ring a listener may fall behind before it is dropped: 64 (1.3 s of
    /// 20 ms PCM chunks, 6.4 s of 100 ms Opus pages).
    pub queue: usize,
    /// A streaming listener that takes nothing for this long is disconnected: 5 s.
    pub max_lag: Duration,
    /// The server's name, the page's heading (`/status.json`'s `name`): "audioMi" unless set.
    pub name: String,
    /// `/ws` sockets open at once: 1,000; more are answered 503. Each socket's input is bounded
    /// as [`socket`] describes.
    pub max_websockets: usize,
    /// Serve HTTPS with this configuration (the TLS port's certificate); `None`: plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Every route but the page itself needs this key (`?key=` or an `X-Audiomi-Key` header);
    /// `None`: open.
    pub access: Option<crate::secure::AccessKey>,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            header_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            queue: 64,
            max_lag: Duration::from_secs(5),
            name: "audioMi".into(),
            max_websockets: 1_000,
            tls: None,
            access: None,
        }
    }
}

/// Live counters of the web output.
#[derive(Debug, Default)]
pub struct WebStats {
    /// Streaming listeners now (`/stream.opus`, `/stream.wav`, `/ws`).
    pub listeners: AtomicUsize,
    /// Listeners dropped because they fell behind or stopped reading.
    pub dropped: AtomicU64,
    /// Connections accepted.
    pub connections: AtomicU64,
    /// `/ws` upgrades refused because [`WebConfig::max_websockets`] sockets were open.
    pub refused_sockets: AtomicU64,
}

/// What the routes share.
pub struct WebState {
    encoded: Encoded,
    /// The station's shared state: format, level, chat, now playing, receivers.
    status: Arc<StationState>,
    stats: Arc<WebStats>,
    /// The key every route but `/` needs, if any ([`WebConfig::access`]).
    access: Option<crate::secure::AccessKey>,
    /// Failed keys per address (as on the TLS port).
    throttle: crate::secure::access::Throttle,
    /// One permit per open `/ws` socket ([`WebConfig::max_websockets`]).
    sockets: Arc<Semaphore>,
    /// Cancelled when the output stops (ends the `/ws` sockets, which outlive their HTTP
    /// connection's task).
    shutdown: CancellationToken,
    /// [`WebConfig::max_lag`], for the `/ws` sockets' watchdog.
    max_lag: Duration,
    /// [`WebConfig::name`].
    name: String,
}

/// The address of the peer of a connection (a request extension, for the key throttle).
#[derive(Debug, Clone, Copy)]
pub struct PeerIp(pub std::net::IpAddr);

/// A connection's streaming progress, for the never-reading-client watchdog: whether a streaming
/// response runs and when it last handed the socket an item (ms since the connection opened).
#[derive(Debug, Clone)]
pub struct Progress(Arc<(AtomicBool, AtomicU64, Instant)>);

impl Progress {
    fn new() -> Self {
        Self(Arc::new((
            AtomicBool::new(false),
            AtomicU64::new(0),
            Instant::now(),
        )))
    }

    fn start(&self) {
        self.mark();
        self.0.0.store(true, Ordering::Relaxed);
    }

    fn stop(&self) {
        self.0.0.store(false, Ordering::Relaxed);
    }

    fn mark(&self) {
        let ms = self.0.2.elapsed().as_millis() as u64;
        self.0.1.store(ms, Ordering::Relaxed);
    }

    /// Resolves once a running stream has handed out nothing for `max_lag` (a listener that
    /// stopped reading), checked every 500 ms.
    async fn stalled(&self, max_lag: Duration) {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if self.stalled_for() > max_lag {
                return;
            }
        }
    }

    /// How long a running stream has handed out nothing (zero when none runs).
    fn stalled_for(&self) -> Duration {
        if !self.0.0.load(Ordering::Relaxed) {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.0.1.load(Ordering::Relaxed));
        self.0.2.elapsed().saturating_sub(last)
    }
}

/// A running web output; [`WebOutput::stop`] ends it.
pub struct WebOutput {
    local_addr: SocketAddr,
    stats: Arc<WebStats>,
    shutdown: CancellationToken,
    accept: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for WebOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebOutput")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl WebOutput {
    /// Serves the station of `ctx` over HTTP (HTTPS with [`WebConfig::tls`]) on `listener`
    /// (already bound; tests bind `127.0.0.1:0`): its live encodings
    /// ([`StationContext::live_encoding`]) and its shared state for `/status.json` and
    /// `/chat.json`. It stops with the station, or on [`WebOutput::stop`].
    ///
    /// # Errors
    /// [`Error::Bind`] if the listener has no address; what starting the live encodings returns.
    pub fn start(listener: TcpListener, config: WebConfig, ctx: &StationContext) -> Result<Self> {
        let local_addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: "web listener".into(),
            source,
        })?;
        let encoded = ctx.live_encoding(config.queue)?;
        let status = ctx.state().clone();
        let stats = Arc::new(WebStats::default());
        let shutdown = ctx.shutdown().child_token();
        let state = Arc::new(WebState {
            encoded,
            status,
            stats: stats.clone(),
            access: config.access.clone(),
            throttle: crate::secure::access::Throttle::default(),
            sockets: Arc::new(Semaphore::new(config.max_websockets.max(1))),
            shutdown: shutdown.clone(),
            max_lag: config.max_lag,
            name: config.name.clone(),
        });
        info!(addr = %local_addr, https = config.tls.is_some(), key = config.access.is_some(), "web player listening");
        let accept = tokio::spawn(accept_loop(listener, state, config, shutdown.clone()));
        Ok(Self {
            local_addr,
            stats,
            shutdown,
            accept: tokio::sync::Mutex::new(Some(accept)),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Live counters.
    pub fn stats(&self) -> &Arc<WebStats> {
        &self.stats
    }

    /// Stops accepting, closes every connection and waits for the accept loop.
    pub async fn stop(&self) {
        self.shutdown.cancel();
        if let Some(accept) = self.accept.lock().await.take() {
            let _ = accept.await;
        }
    }
}

impl Output for WebOutput {
    fn name(&self) -> &'static str {
        "web"
    }

    fn status(&self) -> OutputStatus {
        let listeners = self.stats.listeners.load(Ordering::Relaxed);
        OutputStatus {
            name: self.name(),
            addr: Some(self.local_addr),
            audience: Some(listeners),
            summary: format!("{listeners} listeners"),
        }
    }

    fn stop(&self) -> Stopping<'_> {
        Box::pin(WebOutput::stop(self))
    }
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<WebState>,
    config: WebConfig,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let router = routes::router(state.clone());
    let acceptor = config.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => return,
            p = slots.clone().acquire_owned() => p,
        };
        let Ok(permit) = permit else { return };
        let (socket, peer) = tokio::select! {
            () = shutdown.cancelled() => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    warn!(error = %e, "web: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        state.stats.connections.fetch_add(1, Ordering::Relaxed);
        let _ = socket.set_nodelay(true);
        let _ = socket2::SockRef::from(&socket).set_send_buffer_size(SEND_BUFFER);
        let router = router.clone().layer(axum::Extension(PeerIp(peer.ip())));
        let (config, stats, shutdown) = (config.clone(), state.stats.clone(), shutdown.clone());
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match acceptor {
                None => serve_connection(socket, router, config, stats, shutdown).await,
                Some(acceptor) => {
                    match tokio::time::timeout(config.header_timeout, acceptor.accept(socket)).await
                    {
                        Ok(Ok(tls)) => serve_connection(tls, router, config, stats, shutdown).await,
                        Ok(Err(e)) => debug!(%peer, error = %e, "web: TLS handshake failed"),
                        Err(_) => debug!(%peer, "web: TLS handshake timed out"),
                    }
                }
            }
            debug!(%peer, "web connection closed");
            drop(permit);
        });
    }
}

/// One HTTP/1.1 connection (with upgrades, for `/ws`), cut when its streaming listener stops
/// taking data for `max_lag` or when the output stops.
async fn serve_connection<I>(
    socket: I,
    router: axum::Router,
    config: WebConfig,
    stats: Arc<WebStats>,
    shutdown: CancellationToken,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let progress = Progress::new();
    let service = TowerToHyperService::new(router.layer(axum::Extension(progress.clone())));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .max_buf_size(config.max_header_bytes.max(8192));
    let conn = http
        .serve_connection(TokioIo::new(socket), service)
        .with_upgrades();
    let watchdog = progress.stalled(config.max_lag);
    tokio::select! {
        _ = conn => {}
        () = watchdog => {
            stats.dropped.fetch_add(1, Ordering::Relaxed);
            if crate::quiet::refused("web listeners disconnected: stopped reading", None) {
                warn!(
                    max_lag_ms = config.max_lag.as_millis() as u64,
                    "web listener stopped reading and was disconnected"
                );
            }
        }
        () = shutdown.cancelled() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_player_url_names_a_reachable_address() {
        let url = player_url("127.0.0.1:26080".parse().expect("addr"), false);
        assert_eq!(url, "http://127.0.0.1:26080/");
        let url = player_url("127.0.0.1:26080".parse().expect("addr"), true);
        assert_eq!(url, "https://127.0.0.1:26080/");
        let url = player_url("[::1]:8080".parse().expect("addr"), false);
        assert_eq!(url, "http://[::1]:8080/");
        // Every interface: never "0.0.0.0", which no browser can open.
        let url = player_url("0.0.0.0:26080".parse().expect("addr"), false);
        assert!(
            url.starts_with("http://") && url.ends_with(":26080/"),
            "{url}"
        );
        assert!(!url.contains("0.0.0.0"), "{url}");
    }
}
