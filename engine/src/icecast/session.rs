//! One connection to an Icecast server: connect, the `PUT` request (Icecast ≥ 2.4.0's HTTP source
//! protocol), its answer, then Ogg pages until the connection fails or the output stops.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::{IcecastStatus, IcecastTarget};
use crate::encode::live::Encoded;

/// Time to connect and to get Icecast's answer to the request: 5 s.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// A write to Icecast that takes longer than this (Icecast stalled) ends the connection: 5 s.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest response head read from Icecast: 8 KiB (its answers are a few hundred bytes).
const MAX_HEAD: usize = 8 * 1024;

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Icecast was unreachable or the connection broke: try again soon.
    Retry(String),
    /// Icecast answered but cannot take the stream now (mount in use, too many sources, another
    /// status): try again after the longest backoff.
    Busy(String),
    /// Icecast refused the credentials (401): trying again cannot help.
    Refused(String),
}

/// Connects, sends the request and reads the answer; on `200 OK` returns the connection, ready
/// for Ogg pages.
///
/// # Errors
/// A [`Failure`] saying whether to retry.
pub async fn open(target: &IcecastTarget, audio_info: &str) -> Result<TcpStream, Failure> {
    let addr = target.url.authority();
    let connect = tokio::time::timeout(HANDSHAKE_TIMEOUT, TcpStream::connect(&addr));
    let mut stream = match connect.await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(Failure::Retry(format!("cannot connect to {addr}: {e}"))),
        Err(_) => return Err(Failure::Retry(format!("no answer from {addr} in 5 s"))),
    };
    let _ = stream.set_nodelay(true);
    let request = request(target, audio_info);
    let answer = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        stream.write_all(request.as_bytes()).await?;
        read_head(&mut stream).await
    });
    let (status, reason) = match answer.await {
        Ok(Ok(head)) => head,
        Ok(Err(e)) => return Err(Failure::Retry(format!("{addr} closed the connection: {e}"))),
        Err(_) => return Err(Failure::Retry(format!("{addr} did not answer in 5 s"))),
    };
    match status {
        200..=299 => Ok(stream),
        401 => Err(Failure::Refused(format!(
            "Icecast refused the source user or password (401 {reason}); check the URL"
        ))),
        403 => Err(Failure::Busy(format!(
            "Icecast refused the stream (403 {reason}): the mount {} is in use or the server \
             has its most sources",
            target.url.mount
        ))),
        _ => Err(Failure::Busy(format!("Icecast answered {status} {reason}"))),
    }
}

/// The request head: `PUT MOUNT HTTP/1.1` with basic auth, `Content-Type: audio/ogg` and the
/// `Ice-*` headers Icecast shows in its directory and status page.
fn request(target: &IcecastTarget, audio_info: &str) -> String {
    let one_line = |s: &str| s.replace(['\r', '\n'], " ");
    format!(
        "PUT {mount} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n\
         User-Agent: audioMi/{version}\r\nContent-Type: audio/ogg\r\nIce-Public: 0\r\n\
         Ice-Name: {name}\r\nIce-Description: {description}\r\nIce-Audio-Info: {audio_info}\r\n\r\n",
        mount = target.url.mount,
        host = target.url.authority(),
        auth = target.url.basic_auth(),
        version = env!("CARGO_PKG_VERSION"),
        name = one_line(&target.name),
        description = one_line(&target.description),
    )
}

/// Reads until a whole response head has arrived (at most [`MAX_HEAD`] bytes) and returns its
/// status code and reason phrase.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<(u16, String)> {
    let mut buf = Vec::with_capacity(1024);
    loop {
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&buf) {
            Ok(httparse::Status::Complete(_)) => {
                let code = response.code.unwrap_or(0);
                return Ok((code, response.reason.unwrap_or("").to_string()));
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => {}
            Ok(httparse::Status::Partial) => {
                return Err(std::io::Error::other("response head over 8 KiB"));
            }
            Err(e) => return Err(std::io::Error::other(format!("not an HTTP answer: {e}"))),
        }
    }
}

/// Sends the Ogg/Opus headers and then every page of `encoded` until the connection fails
/// (returns the failure) or `shutdown` (returns `None`). A page lost because this connection fell
/// more than the ring behind is skipped (Icecast sees a jump in the page sequence, as a listener
/// joining mid-stream does).
pub async fn publish(
    stream: TcpStream,
    encoded: &Encoded,
    status: &IcecastStatus,
    shutdown: &CancellationToken,
) -> Option<Failure> {
    let mut pages = encoded.subscribe_opus();
    let (mut reader, mut writer) = stream.into_split();
    if let Some(f) = send(&mut writer, encoded.opus_headers.clone(), status).await {
        return Some(f);
    }
    let mut scratch = [0u8; 512];
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return None,
            // Icecast sends nothing after its answer: a read that returns is the end.
            r = reader.read(&mut scratch) => {
                let why = match r {
                    Ok(0) => "Icecast closed the connection".to_string(),
                    Ok(_) => "Icecast sent unexpected data and is being reconnected".to_string(),
                    Err(e) => format!("connection lost: {e}"),
                };
                return Some(Failure::Retry(why));
            }
            page = pages.recv() => match page {
                Ok(bytes) => {
                    if let Some(f) = send(&mut writer, bytes, status).await {
                        return Some(f);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    status.pages_dropped.fetch_add(n, Ordering::Relaxed);
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            },
        }
    }
}

/// Writes `bytes` within [`WRITE_TIMEOUT`], counting them in `status`.
async fn send(
    writer: &mut tokio::net::tcp::OwnedWriteHalf,
    bytes: Bytes,
    status: &IcecastStatus,
) -> Option<Failure> {
    match tokio::time::timeout(WRITE_TIMEOUT, writer.write_all(&bytes)).await {
        Ok(Ok(())) => {
            status
                .bytes_sent
                .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            None
        }
        Ok(Err(e)) => Some(Failure::Retry(format!("connection lost: {e}"))),
        Err(_) => Some(Failure::Retry("Icecast took nothing for 5 s".into())),
    }
}
