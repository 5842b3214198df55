//! `/ws`, the low-latency PCM stream, with its input bounded.
//!
//! The page never sends more than a few bytes, so a peer gets little room: frames up to
//! [`MAX_FRAME_BYTES`], messages up to [`MAX_MESSAGE_BYTES`], a read buffer of
//! [`READ_BUFFER_BYTES`], and a frame or fragmented message that has begun must end within
//! [`FRAME_DEADLINE`] (else the connection is closed). At most [`WebConfig::max_websockets`]
//! sockets are open at once (more get 503), each also counted among the output's listeners, and
//! each is closed when the output stops or when it takes no audio for [`WebConfig::max_lag`].
//!
//! The upgrade (RFC 6455 §4.2) is made here rather than by axum's `WebSocketUpgrade`, so that the
//! upgraded connection's bytes pass through `FrameWatch` (the `watch` module), which follows the
//! peer's frame headers (RFC 6455 §5.2) to see when a frame or a message stays unfinished.
//!
//! [`WebConfig::max_websockets`]: super::WebConfig::max_websockets
//! [`WebConfig::max_lag`]: super::WebConfig::max_lag

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{Extension, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, BytesMut};
use futures::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::broadcast;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use super::listener::Listener;
use super::watch::{FrameWatch, Unfinished};
use super::{Progress, WebState};

/// Largest frame a peer may send: 4 KiB (RFC 6455 §5.2 payload length). A longer one is refused
/// at its header, before its payload is read.
pub const MAX_FRAME_BYTES: usize = 4 * 1024;
/// Largest message (all fragments of one) a peer may send: 8 KiB.
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024;
/// Bytes read from the socket at a time (tungstenite's read buffer; its default is 128 KiB).
pub const READ_BUFFER_BYTES: usize = 4 * 1024;
/// Bytes of outgoing messages kept unsent before a send waits: 256 KiB (about 1.4 s of 48 kHz
/// stereo PCM16), so a peer that stops reading is caught by the lag watchdog, not by memory.
pub const MAX_WRITE_BUFFER_BYTES: usize = 256 * 1024;
/// A frame or a fragmented message the peer began must be complete within this time: 3 s.
pub const FRAME_DEADLINE: Duration = Duration::from_secs(3);

/// `/ws`: checks the upgrade request, answers 101 and serves the socket on its own task. Answers
/// 400 to a request that is not a WebSocket upgrade and 503 while
/// [`super::WebConfig::max_websockets`] sockets are open.
pub(super) async fn websocket(
    State(state): State<Arc<WebState>>,
    Extension(progress): Extension<Progress>,
    mut req: Request,
) -> Response {
    let Some(accept) = accept_key(req.headers()) else {
        return (
            StatusCode::BAD_REQUEST,
            "/ws takes a WebSocket upgrade (version 13)\n",
        )
            .into_response();
    };
    let Some(on_upgrade) = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return (
            StatusCode::BAD_REQUEST,
            "this connection cannot be upgraded\n",
        )
            .into_response();
    };
    let Ok(permit) = state.sockets.clone().try_acquire_owned() else {
        state.stats.refused_sockets.fetch_add(1, Ordering::Relaxed);
        crate::quiet::refused(
            "web: WebSocket refused: too many open",
            req.extensions().get::<super::PeerIp>().map(|p| p.0),
        );
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many WebSocket listeners\n",
        )
            .into_response();
    };
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let (io, watch) = FrameWatch::new(TokioIo::new(upgraded));
        let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config())).await;
        let shutdown = state.shutdown.clone();
        let max_lag = state.max_lag;
        tokio::select! {
            () = pcm_socket(ws, state, progress.clone(), watch) => {}
            () = progress.stalled(max_lag) => {
                crate::quiet::closed("web: WebSocket listener stopped reading", None);
            }
            () = shutdown.cancelled() => {}
        }
        drop(permit);
    });
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::CONNECTION, "upgrade".to_string()),
            (header::UPGRADE, "websocket".to_string()),
            (header::SEC_WEBSOCKET_ACCEPT, accept),
        ],
    )
        .into_response()
}

/// The bounds of [`MAX_FRAME_BYTES`] and the constants beside it, as tungstenite's configuration.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .max_frame_size(Some(MAX_FRAME_BYTES))
        .max_message_size(Some(MAX_MESSAGE_BYTES))
}

/// `Sec-WebSocket-Accept` for an upgrade request to WebSocket version 13 (RFC 6455 §4.2.1), or
/// `None` for any other request.
fn accept_key(headers: &HeaderMap) -> Option<String> {
    let has = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if !has(header::CONNECTION, "upgrade") || !has(header::UPGRADE, "websocket") {
        return None;
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION)?.as_bytes() != b"13" {
        return None;
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY)?;
    Some(derive_accept_key(key.as_bytes()))
}

/// The socket's life: a text message with the format (`{"sample_rate":…,"channels":…}`), then
/// one binary message per chunk: the stream position (u64 LE, frames) and the PCM16 LE bytes.
/// Ends when the peer closes, breaks a bound, leaves a frame unfinished for [`FRAME_DEADLINE`],
/// or falls behind the ring.
async fn pcm_socket<S>(
    mut socket: WebSocketStream<S>,
    state: Arc<WebState>,
    progress: Progress,
    watch: Arc<Unfinished>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut rx = state.encoded.subscribe_pcm();
    let listener = Listener::new(&state, progress, "ws");
    let format = serde_json::json!({
        "sample_rate": state.status.format().sample_rate,
        "channels": state.status.format().channels,
        "bits_per_sample": 16,
    });
    if socket
        .send(Message::Text(format.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        let frame = tokio::select! {
            r = rx.recv() => r,
            m = socket.next() => match m {
                Some(Ok(Message::Close(_))) | None => return,
                Some(Err(e)) => {
                    crate::quiet::closed("web: WebSocket input refused", None);
                    tracing::debug!(error = %e, "web: WebSocket input refused");
                    return;
                }
                Some(Ok(_)) => continue,
            },
            _ = tick.tick() => {
                if watch.unfinished_for() > FRAME_DEADLINE {
                    crate::quiet::closed("web: WebSocket frame left unfinished", None);
                    return;
                }
                continue;
            }
        };
        let frame = match frame {
            Ok(f) => f,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                listener.lagged(n);
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let mut msg = BytesMut::with_capacity(8 + frame.pcm.len());
        msg.put_u64_le(frame.position);
        msg.put_slice(&frame.pcm);
        if socket.send(Message::Binary(msg.freeze())).await.is_err() {
            return;
        }
        listener.progress.mark();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_version_13_upgrades_are_accepted() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            "keep-alive, Upgrade".parse().expect("value"),
        );
        h.insert(header::UPGRADE, "websocket".parse().expect("value"));
        h.insert(header::SEC_WEBSOCKET_VERSION, "13".parse().expect("value"));
        h.insert(
            header::SEC_WEBSOCKET_KEY,
            "dGhlIHNhbXBsZSBub25jZQ==".parse().expect("value"),
        );
        // RFC 6455 §1.3's example.
        assert_eq!(
            accept_key(&h).as_deref(),
            Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        );
        h.insert(header::SEC_WEBSOCKET_VERSION, "8".parse().expect("value"));
        assert_eq!(accept_key(&h), None);
        h.insert(header::SEC_WEBSOCKET_VERSION, "13".parse().expect("value"));
        h.remove(header::UPGRADE);
        assert_eq!(accept_key(&h), None);
    }
}
