//! The accept loop and one task per connection: its read loop (PING, extension requests,
//! names) and its write loop (draining the client's queue with vectored writes: straight to a
//! plaintext socket, or through any `AsyncWrite`, e.g. a TLS stream, with [`write_queued`]).

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, oneshot};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};
use wire::{ClientFrame, ServerFrame};

use super::chat::TextBucket;
use super::client::{ClientShared, Sent, Slot};
use super::{Hub, SEND_BUFFER_BYTES, ServerEvent};
use crate::codec::{CodecError, ServerSide};

/// Accepts connections on `listener` until `shutdown` is cancelled, then closes every connection
/// and returns once they are gone (waiting at most 2 s). The caller emits
/// [`ServerEvent::Stopped`] once every listener has ended. Accept errors (e.g. out of file
/// descriptors) are logged and retried after 100 ms.
pub async fn run(listener: TcpListener, hub: Arc<Hub>, shutdown: CancellationToken) {
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
                        if crate::quiet::refused("connections refused: too many clients", Some(addr.ip())) {
                            warn!(%addr, max_clients = hub.config.max_clients, "connection refused: too many clients");
                        }
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
}

/// Serves one connected plaintext client (the accept loop's per-connection task). Returns when
/// the connection ends or `shutdown` is cancelled.
pub async fn connection(
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
    let shared = Arc::new(ClientShared::new(Some(wr)));
    let Some(writer) = &shared.direct else {
        return;
    };
    let writes = write_loop(&shared, writer);
    session(&hub, &shared, rd, Bytes::new(), addr, shutdown, writes).await;
}

/// One client's life at the hub, over any byte stream: registers it, runs its read loop (which
/// first reads `already`, bytes of the stream read before, e.g. by the TLS port's key check) and
/// its write loop `writes` until either ends, it is dropped for lag or `shutdown` is cancelled,
/// then unregisters it with the reason.
pub(super) async fn session(
    hub: &Hub,
    shared: &Arc<ClientShared>,
    rd: impl AsyncRead + Unpin,
    already: Bytes,
    addr: SocketAddr,
    shutdown: CancellationToken,
    writes: impl Future<Output = String>,
) {
    let (kick_tx, kick_rx) = oneshot::channel();
    let id = hub.register(
        addr,
        Slot {
            addr,
            shared: shared.clone(),
            kick: Some(kick_tx),
            connected_at: Instant::now(),
        },
    );
    if hub.is_finished() {
        shared.close_when_drained();
    }
    let rd = std::io::Cursor::new(already).chain(rd);
    let reason = tokio::select! {
        r = writes => r,
        r = read_loop(hub, rd, shared, addr) => r,
        r = kick_rx => r.unwrap_or_else(|_| "dropped by the server".into()),
        () = shutdown.cancelled() => "server shutting down".into(),
    };
    hub.unregister(id, addr, reason);
}

/// Most frames handed to one vectored write.
pub(super) const MAX_IOVECS: usize = 64;

/// Drains a plaintext client's queue (written through `writer`, the same socket the hub writes
/// to directly) whenever [`Hub::publish`] or the read loop left frames in it, with vectored
/// writes of everything queued (no copies). Returns why the connection ends.
async fn write_loop(client: &ClientShared, writer: &OwnedWriteHalf) -> String {
    loop {
        let idle = {
            let mut outbox = client.outbox();
            if let Some(why) = outbox.failed.take() {
                return why;
            }
            outbox.frames.is_empty()
        };
        if idle {
            if client.closing.load(Ordering::Acquire) {
                return "the source ended: the stream is over".into();
            }
            client.wake.notified().await;
            continue;
        }
        if let Err(e) = writer.writable().await {
            return format!("write failed: {e}");
        }
        let mut outbox = client.outbox();
        let slices: Vec<IoSlice<'_>> = outbox
            .frames
            .iter()
            .take(MAX_IOVECS)
            .map(|(b, _)| IoSlice::new(b))
            .collect();
        match writer.try_write_vectored(&slices) {
            Ok(n) => {
                drop(slices);
                outbox.consume(n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return format!("write failed: {e}"),
        }
    }
}

/// The write loop of a client without direct writes (TLS): writes what is queued to `writer`
/// with vectored writes (each becomes TLS records), flushes once the queue is empty, and waits
/// for the hub to queue more. Returns why the connection ends.
pub(super) async fn write_queued(
    client: &ClientShared,
    writer: &mut (impl AsyncWrite + Unpin),
) -> String {
    loop {
        let batch: Vec<Bytes> = {
            let mut outbox = client.outbox();
            if let Some(why) = outbox.failed.take() {
                return why;
            }
            let frames = outbox.frames.iter().take(MAX_IOVECS);
            frames.map(|(b, _)| b.clone()).collect()
        };
        if batch.is_empty() {
            if let Err(e) = writer.flush().await {
                return format!("write failed: {e}");
            }
            if client.closing.load(Ordering::Acquire) {
                return "the source ended: the stream is over".into();
            }
            client.wake.notified().await;
            continue;
        }
        let slices: Vec<IoSlice<'_>> = batch.iter().map(|b| IoSlice::new(b)).collect();
        match writer.write_vectored(&slices).await {
            Ok(0) => return "write failed: the connection is closed".into(),
            Ok(n) => client.outbox().consume(n),
            Err(e) => return format!("write failed: {e}"),
        }
    }
}

async fn read_loop(
    hub: &Hub,
    rd: impl AsyncRead + Unpin,
    state: &Arc<ClientShared>,
    addr: SocketAddr,
) -> String {
    let mut bucket = TextBucket::default();
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
                Some(Ok(ClientFrame::Chat)) => state.chat.store(true, Ordering::Release),
                Some(Ok(ClientFrame::Tracks)) => hub.subscribe_tracks(state),
                Some(Ok(ClientFrame::Ends)) => state.ends.store(true, Ordering::Release),
                Some(Ok(ClientFrame::Text(bytes))) => {
                    let name = state.name.lock().unwrap_or_else(PoisonError::into_inner).clone();
                    let from = name.unwrap_or_else(|| addr.to_string());
                    hub.on_text(state, &from, &bytes, &mut bucket);
                }
                Some(Ok(ClientFrame::Key(_))) => {
                    // Keys are checked on the TLS port before a connection gets here.
                    debug!("ignoring KEY on a connection that needs none");
                }
                Some(Ok(ClientFrame::Other(cmd))) => {
                    debug!(cmd, "ignoring unknown command");
                }
            }
        }
    }
}
