//! The web output's routes: the player page, the live streams (Ogg/Opus, WebM/Opus, WAV,
//! WebSocket PCM) and the status. Every streaming route reads one of the shared rings of
//! [`crate::encode::live`]; a listener that falls behind the ring is dropped, exactly like a TCP
//! receiver.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::{BufMut, Bytes, BytesMut};
use futures::Stream;
use tokio::sync::broadcast;

use super::listener::Listener;
use super::{Progress, WebState};

/// The player page (self-contained: no CDN, no build step).
const INDEX_HTML: &str = include_str!("index.html");

/// The router of the web output.
pub fn router(state: Arc<WebState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/stream.opus", get(stream_opus))
        .route("/stream.webm", get(stream_webm))
        .route("/stream.wav", get(stream_wav))
        .route("/ws", get(super::socket::websocket))
        .route("/status.json", get(status))
        .route("/chat.json", get(chat))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// With an access key set, every route but the page (`/`, which asks for the key) needs it, as
/// `?key=KEY` (what the page adds to its stream and WebSocket URLs) or an `X-Audiomi-Key`
/// header. Compared in constant time; a wrong key waits as on the TLS port (per address) and
/// gets 401, logged without the key.
async fn guard(
    State(state): State<Arc<WebState>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(key) = &state.access else {
        return next.run(req).await;
    };
    if req.uri().path() == "/" {
        return next.run(req).await;
    }
    let given = req
        .headers()
        .get("x-audiomi-key")
        .map(|v| v.as_bytes().to_vec())
        .or_else(|| query_key(req.uri().query()));
    let ip = req.extensions().get::<super::PeerIp>().map(|p| p.0);
    if given.as_deref().is_some_and(|g| key.matches(g)) {
        if let Some(ip) = ip {
            state.throttle.succeeded(ip);
        }
        return next.run(req).await;
    }
    if let (Some(ip), true) = (ip, given.is_some()) {
        tokio::time::sleep(state.throttle.delay(ip)).await;
        let failures = state.throttle.failed(ip);
        if crate::quiet::refused("web requests refused: wrong access key", Some(ip)) {
            tracing::warn!(%ip, failures, path = req.uri().path(), "web: wrong access key");
        }
    }
    (
        StatusCode::UNAUTHORIZED,
        "this stream needs the access key: add ?key=KEY (the page asks for it)\n",
    )
        .into_response()
}

/// The `key` parameter of a query string, percent-decoded.
fn query_key(query: Option<&str>) -> Option<Vec<u8>> {
    query?.split('&').find_map(|pair| {
        let value = pair.strip_prefix("key=")?;
        let spaced = value.replace('+', " ");
        Some(percent_encoding::percent_decode_str(&spaced).collect())
    })
}

async fn index() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        INDEX_HTML,
    )
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, "not found: try / or /stream.opus\n")
}

/// `first`, then every item of `rx` turned into bytes by `bytes`, until the ring closes or the
/// listener falls behind it.
fn listen<T: Clone + Send + 'static>(
    rx: broadcast::Receiver<T>,
    first: Bytes,
    bytes: fn(T) -> Bytes,
    listener: Listener,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
    let first = (!first.is_empty()).then_some(first);
    futures::stream::unfold(
        (rx, first, listener),
        move |(mut rx, mut first, listener)| async move {
            if let Some(f) = first.take() {
                return Some((Ok(f), (rx, None, listener)));
            }
            match rx.recv().await {
                Ok(item) => {
                    listener.progress.mark();
                    Some((Ok(bytes(item)), (rx, None, listener)))
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    listener.lagged(n);
                    None
                }
                Err(broadcast::error::RecvError::Closed) => None,
            }
        },
    )
}

fn streaming(content_type: &'static str, body: Body) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
            (header::ACCEPT_RANGES, "none"),
        ],
        body,
    )
        .into_response()
}

async fn stream_opus(
    State(state): State<Arc<WebState>>,
    Extension(progress): Extension<Progress>,
) -> Response {
    let rx = state.encoded.subscribe_opus();
    let listener = Listener::new(&state, progress, "opus");
    let body = listen(rx, state.encoded.opus_headers.clone(), |b| b, listener);
    streaming("audio/ogg", Body::from_stream(body))
}

async fn stream_webm(
    State(state): State<Arc<WebState>>,
    Extension(progress): Extension<Progress>,
) -> Response {
    let rx = state.encoded.subscribe_webm();
    let listener = Listener::new(&state, progress, "webm");
    let body = listen(rx, state.encoded.webm_headers.clone(), |b| b, listener);
    streaming("audio/webm", Body::from_stream(body))
}

/// A WAV header for a live stream of PCM16 at `rate` Hz and `channels` channels: the RIFF and
/// data sizes are `0xFFFFFFFF` ("unknown, up to the maximum"), which ffmpeg, sox and browsers
/// read as a stream that lasts until the connection ends.
pub fn live_wav_header(rate: u32, channels: u16) -> Bytes {
    let block = u32::from(channels) * 2;
    let mut h = BytesMut::with_capacity(44);
    h.put_slice(b"RIFF");
    h.put_u32_le(u32::MAX);
    h.put_slice(b"WAVEfmt ");
    h.put_u32_le(16);
    h.put_u16_le(1); // PCM
    h.put_u16_le(channels);
    h.put_u32_le(rate);
    h.put_u32_le(rate * block);
    h.put_u16_le(block as u16);
    h.put_u16_le(16);
    h.put_slice(b"data");
    h.put_u32_le(u32::MAX);
    h.freeze()
}

async fn stream_wav(
    State(state): State<Arc<WebState>>,
    Extension(progress): Extension<Progress>,
) -> Response {
    let (recent, rx) = state.encoded.subscribe_pcm_with_recent();
    let listener = Listener::new(&state, progress, "wav");
    // The header, then the last WAV_BURST of audio at once, then live.
    let mut first = BytesMut::from(
        &live_wav_header(
            state.status.format().sample_rate,
            state.status.format().channels,
        )[..],
    );
    for frame in recent {
        first.put_slice(&frame.pcm);
    }
    let body = listen(rx, first.freeze(), |f| f.pcm, listener);
    streaming("audio/wav", Body::from_stream(body))
}

/// `/chat.json?after=N`: the chat messages numbered above N (0 or none: every kept one), as
/// `{"messages": [{"seq", "from", "text"}, …]}`.
async fn chat(
    State(state): State<Arc<WebState>>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    let after = q.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let body = serde_json::json!({ "messages": state.status.chat_since(after) });
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
}

async fn status(State(state): State<Arc<WebState>>) -> Response {
    let s = &state.status;
    let level = s.level();
    let (sample_rate, channels) = (s.format().sample_rate, s.format().channels);
    let body = serde_json::json!({
        "name": state.name,
        "format": {
            "sample_rate": sample_rate,
            "channels": channels,
            "bits_per_sample": 16,
            "opus_bitrate": crate::encode::ogg_opus::bitrate_for(sample_rate, channels),
        },
        "level": { "rms_dbfs": level.rms_dbfs, "peak_dbfs": level.peak_dbfs },
        "uptime_s": s.started().elapsed().as_secs_f64(),
        "tcp_receivers": s.receivers(),
        "web_listeners": state.stats.listeners.load(Ordering::Relaxed),
        "web_dropped": state.stats.dropped.load(Ordering::Relaxed),
        "web_sockets_refused": state.stats.refused_sockets.load(Ordering::Relaxed),
        "now_playing": s.now_playing().map(|(_, t)| serde_json::json!({
            "title": t.title,
            "artist": t.artist,
        })),
    });
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
}
