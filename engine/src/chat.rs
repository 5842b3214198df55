//! A chat-only client (`audiomi chat`): connects like a receiver (plaintext or TLS), asks for
//! the chat, sends lines and hands back the messages others send. The audio the server pushes is
//! read and dropped.

use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;
use wire::{ClientFrame, ServerFrame};

use crate::codec::{ClientSide, CodecError};
use crate::secure::TlsClientOptions;
use crate::secure::client::dial;
use crate::{Error, Result};

/// How long connecting may take: 5 s.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the server may take to send FORMAT after EXT_HELLO: 5 s.
pub const FORMAT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where and as whom to chat.
#[derive(Debug, Clone)]
pub struct ChatOptions {
    /// The server, `host:port`.
    pub addr: String,
    /// The checkcode.
    pub checkcode: i32,
    /// The name others see (at most [`wire::MAX_NAME_LEN`] bytes).
    pub name: String,
    /// Connect with TLS (to the TLS port) with these options.
    pub tls: Option<TlsClientOptions>,
}

/// A message received: who sent it and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLine {
    /// The sender's name.
    pub from: String,
    /// The text.
    pub text: String,
}

/// Chats until `outgoing` closes (every line sent), `shutdown` is cancelled, or the connection
/// ends: each line from `outgoing` is sent as TEXT; each TEXT from others goes to `incoming`.
///
/// # Errors
/// [`Error::Connect`] / [`Error::ConnectTimeout`], TLS and key errors as for recording, [`Error::NoChat`] if the server does
/// not relay chat (a legacy server, or no FORMAT within [`FORMAT_TIMEOUT`]),
/// [`Error::ConnectionLost`] if the server closes first.
pub async fn chat(
    options: ChatOptions,
    mut outgoing: mpsc::Receiver<String>,
    incoming: mpsc::UnboundedSender<ChatLine>,
    shutdown: CancellationToken,
) -> Result<()> {
    let addr = options.addr.clone();
    let net = |e: CodecError| crate::receiver::codec_err(&addr, e);
    let stream = dial(
        &addr,
        options.tls.as_ref(),
        options.checkcode,
        CONNECT_TIMEOUT,
    )
    .await?;
    let mut framed = Framed::new(stream, ClientSide(wire::Codec::new(options.checkcode)));
    framed.feed(ClientFrame::ExtHello).await.map_err(net)?;
    framed.send(ClientFrame::Ping).await.map_err(net)?;
    let no_chat = || Error::NoChat { addr: addr.clone() };
    let format = tokio::time::timeout(FORMAT_TIMEOUT, async {
        while let Some(frame) = framed.next().await {
            if let ServerFrame::Format(f) = frame.map_err(net)? {
                return Ok(f);
            }
        }
        Err(no_chat())
    })
    .await
    .map_err(|_| no_chat())??;
    if format.features & wire::FEATURE_TEXT == 0 {
        return Err(no_chat());
    }
    framed
        .feed(ClientFrame::Name(options.name.clone()))
        .await
        .map_err(net)?;
    framed.send(ClientFrame::Chat).await.map_err(net)?;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            line = outgoing.recv() => match line {
                Some(text) => framed
                    .send(ClientFrame::Text(Bytes::from(text.into_bytes())))
                    .await
                    .map_err(net)?,
                None => return framed.close().await.map_err(net),
            },
            frame = framed.next() => match frame {
                Some(Ok(ServerFrame::Text { from, text })) => {
                    let _ = incoming.send(ChatLine { from, text });
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(net(e)),
                None => {
                    return Err(Error::ConnectionLost {
                        addr: addr.clone(),
                        reason: "the server closed the connection".into(),
                    });
                }
            },
        }
    }
}
