//! The TLS port's accept loop: TLS 1.3 handshake, the access-key rule, then the TLS stream
//! served by the same [`Hub`] as the plaintext port (its frames queued and encrypted by the
//! connection's own task), so every output and limit applies unchanged. The TLS primitives
//! (identity, binding, keys) are in [`crate::secure`], which does not know the server.

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

use super::client::ClientShared;
use super::{Hub, SEND_BUFFER_BYTES};
use crate::secure::access::{AccessKey, Throttle};
use crate::secure::listener::{BoundTls, HANDSHAKE_TIMEOUT, PLAINTEXT_ALERT, TLS_HANDSHAKE_RECORD};

/// Serves the bound TLS port until `shutdown` (see [`accept_loop`]).
pub(super) async fn serve(bound: BoundTls, hub: Arc<Hub>, shutdown: CancellationToken) {
    info!(addr = %bound.addr, fingerprint = %bound.fingerprint, key = bound.key.is_some(), "listening (TLS)");
    let (listener, acceptor, key) = bound.into_parts();
    accept_loop(listener, acceptor, hub, key, shutdown).await;
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
async fn accept_loop(
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
    // As on the plaintext port: lag shows in the hub's queue, not in the kernel's buffers.
    if let Err(e) = socket2::SockRef::from(&stream).set_send_buffer_size(SEND_BUFFER_BYTES) {
        debug!(%addr, error = %e, "cannot set the send buffer size");
    }
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
    // Nor in rustls' own buffer of records not yet written (64 KiB by default).
    tls.get_mut().1.set_buffer_limit(Some(SEND_BUFFER_BYTES));
    let Some(rest) = admit(ctx, &mut tls, addr).await else {
        let _ = tls.shutdown().await;
        return;
    };
    serve_admitted(ctx, tls, addr, rest).await;
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

/// Serves an admitted TLS client at the hub like a plaintext one, except that every frame goes
/// through its queue to [`super::conn::write_queued`], which encrypts on this connection's task
/// (no socket pair, no copy). Ends the TLS session (close_notify) once the hub is done with it.
async fn serve_admitted(ctx: &Ctx, tls: TlsStream<TcpStream>, addr: SocketAddr, rest: BytesMut) {
    if crate::quiet::line("TLS clients admitted", Some(addr.ip())) {
        info!(%addr, "TLS client admitted");
    }
    let (rd, mut wr) = tokio::io::split(tls);
    let shared = Arc::new(ClientShared::new(None));
    let writes = super::conn::write_queued(&shared, &mut wr);
    let shutdown = ctx.shutdown.clone();
    super::conn::session(&ctx.hub, &shared, rd, rest.freeze(), addr, shutdown, writes).await;
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, wr.shutdown()).await;
}

/// Longest wait for a TLS client to take the close_notify alert: 1 s.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
