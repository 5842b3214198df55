//! The TLS port: accept, handshake (TLS 1.3), check the access key, then bridge the decrypted
//! connection into the hub like any plaintext client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};
use wire::{ClientFrame, ServerFrame};

use super::Fingerprint;
use super::access::{AccessKey, Throttle};
use super::identity::TlsIdentity;
use super::pair::loopback_pair;
use crate::server::Hub;

/// How long a client may take for the TLS handshake, and then for its first frame: 10 s.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The first byte of every TLS connection (a handshake record, RFC 8446 §5.1: content type 22).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// A TLS 1.2-framed fatal `unexpected_message` alert (RFC 8446 §6: level 2, description 10),
/// sent to a plaintext client on the TLS port so that it can tell the user to use TLS.
const PLAINTEXT_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x0a];

/// How the server listens with TLS.
#[derive(Debug)]
pub struct TlsServeOptions {
    /// Address of the TLS port, e.g. `0.0.0.0:26071`.
    pub listen: String,
    /// Certificate and key.
    pub identity: TlsIdentity,
    /// The key clients must present; `None`: TLS only, no key.
    pub key: Option<AccessKey>,
    /// Keep the plaintext port open too (`--no-plain` turns it off).
    pub plain: bool,
}

/// What one TLS connection needs from the accept loop.
struct Ctx {
    hub: Arc<Hub>,
    key: Option<AccessKey>,
    throttle: Throttle,
    shutdown: CancellationToken,
}

/// Accepts TLS connections on `listener` until `shutdown` is cancelled (as
/// [`crate::server::run`] does for plaintext); at most `hub.config().max_clients` at once.
pub async fn run(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    hub: Arc<Hub>,
    key: Option<AccessKey>,
    shutdown: CancellationToken,
) {
    let limit = Arc::new(Semaphore::new(hub.config().max_clients));
    let tracker = TaskTracker::new();
    let ctx = Arc::new(Ctx {
        hub,
        key,
        throttle: Throttle::default(),
        shutdown: shutdown.clone(),
    });
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    let Ok(permit) = limit.clone().try_acquire_owned() else {
                        if crate::quiet::refused("TLS connections refused: too many clients", Some(addr.ip())) {
                warn!(%addr, "TLS connection refused: too many clients");
            }
                        continue;
                    };
                    let (ctx, acceptor) = (ctx.clone(), acceptor.clone());
                    tracker.spawn(async move {
                        let cancel = ctx.shutdown.clone();
                        tokio::select! {
                            () = cancel.cancelled() => {}
                            () = connection(&ctx, acceptor, stream, addr) => {}
                        }
                        drop(permit);
                    });
                }
                Err(e) => {
                    warn!(error = %e, "TLS accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
    drop(listener);
    tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(2), tracker.wait()).await;
}

async fn connection(ctx: &Ctx, acceptor: TlsAcceptor, stream: TcpStream, addr: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let mut first = [0u8; 1];
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await {
        Ok(Ok(1)) if first[0] == TLS_HANDSHAKE_RECORD => {}
        Ok(Ok(1)) => {
            if crate::quiet::refused("TLS port connections closed: plaintext", Some(addr.ip())) {
                warn!(%addr, first_byte = first[0], "plaintext on the TLS port: answered with a TLS alert and closed");
            }
            let mut stream = stream;
            let _ = stream.write_all(&PLAINTEXT_ALERT).await;
            let _ = stream.shutdown().await;
            return;
        }
        _ => {
            debug!(%addr, "TLS client closed or stayed silent before the handshake");
            return;
        }
    }
    let mut tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            if crate::quiet::refused("TLS handshakes failed", Some(addr.ip())) {
                warn!(%addr, error = %e, "TLS handshake failed");
            }
            return;
        }
        Err(_) => {
            if crate::quiet::refused("TLS handshakes timed out", Some(addr.ip())) {
                warn!(%addr, "TLS handshake timed out");
            }
            return;
        }
    };
    let Some(rest) = admit(ctx, &mut tls, addr).await else {
        let _ = tls.shutdown().await;
        return;
    };
    bridge(ctx, tls, addr, rest).await;
}

/// Reads the first frame and applies the key rule. Returns the bytes read beyond an accepted KEY
/// frame (to pass on to the hub), or `None` if the connection must close.
async fn admit(ctx: &Ctx, tls: &mut TlsStream<TcpStream>, addr: SocketAddr) -> Option<BytesMut> {
    let codec = wire::Codec::new(ctx.hub.config().checkcode);
    let mut buf = BytesMut::with_capacity(512);
    let frame = loop {
        match codec.decode_client(&mut buf) {
            Ok(Some(frame)) => break frame,
            Ok(None) => {}
            Err(e) => {
                if crate::quiet::refused("TLS connections closed: protocol error", Some(addr.ip()))
                {
                    warn!(%addr, error = %e, "protocol error on the TLS port; closed");
                }
                return None;
            }
        }
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.read_buf(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => {
                debug!(%addr, "TLS client closed or stayed silent before its first frame");
                return None;
            }
        }
    };
    let reply = |status| {
        let mut out = BytesMut::new();
        codec.encode_server(&ServerFrame::KeyResult { status }, &mut out);
        out
    };
    let Some(key) = &ctx.key else {
        return Some(match frame {
            ClientFrame::Key(_) => {
                tls.write_all(&reply(wire::KEY_ACCEPTED)).await.ok()?;
                buf
            }
            // Not a KEY: give the hub the whole first frame back.
            other => {
                let mut again = BytesMut::new();
                codec.encode_client(&other, &mut again);
                again.extend_from_slice(&buf);
                again
            }
        });
    };
    let guess = match frame {
        ClientFrame::Key(k) if !k.is_empty() => k,
        _ => {
            if crate::quiet::refused("TLS connections closed: no access key", Some(addr.ip())) {
                warn!(%addr, "TLS client sent no access key; closed");
            }
            let _ = tls.write_all(&reply(wire::KEY_REQUIRED)).await;
            return None;
        }
    };
    let wait = ctx.throttle.delay(addr.ip());
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    if key.matches(guess.chunk()) {
        ctx.throttle.succeeded(addr.ip());
        tls.write_all(&reply(wire::KEY_ACCEPTED)).await.ok()?;
        Some(buf)
    } else {
        let failures = ctx.throttle.failed(addr.ip());
        if crate::quiet::refused("TLS connections closed: wrong access key", Some(addr.ip())) {
            warn!(%addr, failures, next_delay_ms = ctx.throttle.delay(addr.ip()).as_millis() as u64, "wrong access key; closed");
        }
        let _ = tls.write_all(&reply(wire::KEY_WRONG)).await;
        None
    }
}

/// Hands the decrypted connection to the hub through a loopback pair and copies both ways until
/// either side closes.
async fn bridge(ctx: &Ctx, mut tls: TlsStream<TcpStream>, addr: SocketAddr, rest: BytesMut) {
    let (inner, mut outer) = match loopback_pair().await {
        Ok(pair) => pair,
        Err(e) => {
            warn!(%addr, error = %e, "cannot bridge a TLS client to the hub");
            return;
        }
    };
    if crate::quiet::line("TLS clients admitted", Some(addr.ip())) {
        info!(%addr, "TLS client admitted");
    }
    let hub = ctx.hub.clone();
    let shutdown = ctx.shutdown.clone();
    let hub_side = tokio::spawn(crate::server::serve_connection(hub, inner, addr, shutdown));
    if outer.write_all(&rest).await.is_ok() {
        let _ = tokio::io::copy_bidirectional(&mut tls, &mut outer).await;
    }
    drop(outer);
    let _ = hub_side.await;
}

/// A bound TLS port, ready to [`BoundTls::run`].
pub struct BoundTls {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    /// The access key, if clients need one.
    pub key: Option<AccessKey>,
    /// The rustls configuration (shared with the web player's HTTPS).
    pub server_config: Arc<rustls::ServerConfig>,
    /// The bound address.
    pub addr: SocketAddr,
    /// The certificate's fingerprint.
    pub fingerprint: Fingerprint,
}

impl BoundTls {
    /// Binds `options.listen` and prepares the TLS configuration.
    ///
    /// # Errors
    /// [`crate::Error::Bind`]; [`crate::Error::Identity`] if rustls refuses the certificate/key.
    pub async fn bind(options: TlsServeOptions) -> crate::Result<Self> {
        let server_config = options.identity.server_config()?;
        let acceptor = TlsAcceptor::from(server_config.clone());
        let (listener, addr) = crate::listen::bind(&options.listen).await?;
        Ok(Self {
            listener,
            acceptor,
            key: options.key,
            server_config,
            addr,
            fingerprint: options.identity.fingerprint,
        })
    }

    /// Whether clients must present an access key.
    pub fn key_required(&self) -> bool {
        self.key.is_some()
    }

    /// Serves the port until `shutdown` (see [`run`]).
    pub async fn run(self, hub: Arc<Hub>, shutdown: CancellationToken) {
        info!(addr = %self.addr, fingerprint = %self.fingerprint, key = self.key.is_some(), "listening (TLS)");
        run(self.listener, self.acceptor, hub, self.key, shutdown).await;
    }
}
