//! One recording's state across connections: connecting, the protocol of one connection, and
//! where received audio goes (the WAV file, the player, the counters).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use wire::{ClientFrame, StreamFormat};

use super::output::{Output, Step};
use super::{
    Backoff, MAX_UNANSWERED_CLOSES, RecordConfig, RecordEvent, RecordStats, Summary, is_fatal,
};
use crate::audio::playback::Player;
use crate::codec::{ClientSide, CodecError};

mod frames;
use crate::wav::FLUSH_INTERVAL;

use crate::secure::client::{Conn, dial};

/// One connection, framed.
pub(super) type Link = Framed<Box<dyn Conn>, ClientSide>;
use crate::{Error, Result};

pub(super) struct Recorder {
    config: RecordConfig,
    stats: Arc<RecordStats>,
    events: Option<mpsc::UnboundedSender<RecordEvent>>,
    /// Set once the stream's format is known and audio arrives.
    output: Option<Output>,
    player: Option<Arc<Player>>,
    /// Format from the current connection (if the server told it).
    format: Option<StreamFormat>,
    /// Where the next sample should be, for the stream it belongs to (extensions only).
    expected: Option<(u32, u64)>,
    /// Set when a connection was lost: when the last audio arrived.
    lost_at: Option<Instant>,
    last_audio_at: Option<Instant>,
    /// Whether the server of the current connection answered (ACK, FORMAT or audio).
    answered: bool,
    /// Chat lines to send ([`RecordingHandle::say`](super::RecordingHandle::say)).
    say: Option<mpsc::UnboundedReceiver<String>>,
    /// A track label that arrived before the first audio (marked at the file's start).
    first_track: Option<String>,
    /// Where the source ended (END: stream frames); the recording keeps the frames before it.
    end_at: Option<u64>,
}

impl Recorder {
    pub(super) fn new(
        config: RecordConfig,
        stats: Arc<RecordStats>,
        events: Option<mpsc::UnboundedSender<RecordEvent>>,
        player: Option<Arc<Player>>,
    ) -> Self {
        Self {
            config,
            stats,
            events,
            output: None,
            player,
            format: None,
            expected: None,
            lost_at: None,
            last_audio_at: None,
            answered: false,
            say: None,
            first_track: None,
            end_at: None,
        }
    }

    /// Where [`super::RecordingHandle::say`] lines come from.
    pub(super) fn with_say(mut self, say: mpsc::UnboundedReceiver<String>) -> Self {
        self.say = Some(say);
        self
    }

    /// Whether any audio arrived (the file, if any, exists only then).
    pub(super) fn received_audio(&self) -> bool {
        self.output.is_some()
    }

    /// The server's address as configured.
    pub(super) fn addr(&self) -> &str {
        &self.config.addr
    }

    fn emit(&self, e: RecordEvent) {
        if let Some(tx) = &self.events {
            let _ = tx.send(e);
        }
    }

    /// Finalizes every sink, if audio arrived (the file is created with the first audio frame,
    /// so a recording that received nothing leaves none); the first error is returned.
    pub(super) fn finish(&mut self) -> Result<()> {
        self.output.as_mut().map_or(Ok(()), Output::finish)
    }

    pub(super) fn summary(&self) -> Summary {
        let out = self.output.as_ref();
        Summary {
            path: out.and_then(Output::path).map(std::path::Path::to_path_buf),
            files: out.map_or(0, Output::files),
            samples: out.map_or(0, |o| {
                o.written / u64::from(o.written_format.channels.max(1))
            }),
            sample_rate: out.map_or(0, |o| o.written_format.rate),
            gap_samples: self.stats.gap_samples.load(Ordering::Relaxed),
            bytes_received: self.stats.bytes_received.load(Ordering::Relaxed),
        }
    }

    /// Connects, records, and (with `reconnect`) retries with [`Backoff`] until done.
    pub(super) async fn run(&mut self, shutdown: &CancellationToken) -> Result<()> {
        self.config.check_output()?;
        let mut attempt = 0u32;
        let mut backoff = Backoff::default();
        let mut unanswered = 0u32;
        loop {
            attempt += 1;
            self.emit(RecordEvent::Connecting { attempt });
            let ended = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                r = self.connect_and_record(shutdown) => r,
            };
            let e = match ended {
                Ok(Step::Done) => return Ok(()),
                Ok(Step::Continue) => continue,
                Err(e) if is_fatal(&e) => return Err(e),
                Err(e) => e,
            };
            if self.answered {
                backoff.reset();
                unanswered = 0;
                attempt = 1;
            }
            let connected = !matches!(e, Error::Connect { .. } | Error::ConnectTimeout { .. });
            let e = match e {
                Error::NotAudiomi { addr, .. } => {
                    unanswered += 1;
                    let e = Error::NotAudiomi {
                        addr,
                        closes: unanswered,
                    };
                    if unanswered >= MAX_UNANSWERED_CLOSES {
                        return Err(e);
                    }
                    e
                }
                e => e,
            };
            if connected {
                self.emit(RecordEvent::Lost {
                    reason: e.to_string(),
                });
                self.lost_at = Some(self.last_audio_at.unwrap_or_else(Instant::now));
            }
            if !self.config.reconnect {
                return Err(e);
            }
            let wait = backoff.next_delay();
            if attempt == 1 || attempt.is_multiple_of(10) {
                warn!(error = %e, attempt, retry_in_ms = wait.as_millis() as u64, "retrying");
            }
            self.emit(RecordEvent::Retrying {
                attempt,
                retry_in: wait,
                error: crate::error::Failure(Arc::new(e)),
            });
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn connect_and_record(&mut self, shutdown: &CancellationToken) -> Result<Step> {
        self.answered = false;
        let stream = self.connect().await?;
        self.session(stream, shutdown).await
    }

    async fn connect(&self) -> Result<Box<dyn Conn>> {
        let c = &self.config;
        dial(&c.addr, c.tls.as_ref(), c.checkcode, c.connect_timeout).await
    }

    /// One connection: returns `Done` when the recording should end, `Continue` never (a lost
    /// connection is an error the caller may retry).
    async fn session(
        &mut self,
        stream: Box<dyn Conn>,
        shutdown: &CancellationToken,
    ) -> Result<Step> {
        let peer = self.config.addr.clone();
        let mut framed: Link =
            Framed::new(stream, ClientSide(wire::Codec::new(self.config.checkcode)));
        if self.config.extensions {
            framed
                .feed(ClientFrame::ExtHello)
                .await
                .map_err(|e| codec_err(&peer, e))?;
        }
        framed
            .send(ClientFrame::Ping)
            .await
            .map_err(|e| codec_err(&peer, e))?;
        let ping_at = Instant::now();
        self.format = None;
        self.emit(RecordEvent::Connected { addr: peer.clone() });
        info!(addr = %peer, "connected");
        let mut flush = tokio::time::interval(FLUSH_INTERVAL);
        let answer_by = tokio::time::Instant::from_std(ping_at + self.config.answer_timeout);
        let mut last_frame_at = Instant::now();
        loop {
            let frame = tokio::select! {
                () = shutdown.cancelled() => return Ok(Step::Done),
                () = tokio::time::sleep_until(answer_by), if !self.answered => {
                    return Err(Error::NoAnswer {
                        addr: peer.clone(),
                        ms: self.config.answer_timeout.as_millis() as u64,
                    });
                }
                _ = flush.tick() => {
                    self.on_tick(last_frame_at)?;
                    continue;
                }
                Some(text) = next_line(&mut self.say) => {
                let chat = self.format.is_some_and(|f| f.features & wire::FEATURE_TEXT != 0);
                if !chat {
                    warn!("this server does not relay chat: message not sent");
                    continue;
                }
                framed
                    .send(ClientFrame::Text(bytes::Bytes::from(text.into_bytes())))
                    .await
                    .map_err(|e| codec_err(&peer, e))?;
                continue;
            }
                f = framed.next() => f,
            };
            last_frame_at = Instant::now();
            if frame.is_none() && self.end_at.is_some() {
                info!("the source ended and the server closed the stream");
                return Ok(Step::Done);
            }
            let frame = self.received(frame)?;
            self.answered = true;
            if let Step::Done = self.on_frame(frame, &mut framed, ping_at).await? {
                return Ok(Step::Done);
            }
        }
    }
}

/// The next line to say, or never (no chat channel, or it closed).
async fn next_line(say: &mut Option<mpsc::UnboundedReceiver<String>>) -> Option<String> {
    match say {
        Some(rx) => match rx.recv().await {
            Some(line) => Some(line),
            None => {
                *say = None;
                std::future::pending().await
            }
        },
        None => std::future::pending().await,
    }
}

/// A codec error as the engine's error: protocol or network.
pub(crate) fn codec_err(peer: &str, e: CodecError) -> Error {
    match e {
        // 0x15 0x03 0x03: a TLS alert record, the TLS port's answer to plaintext.
        CodecError::Wire(wire::Error::WrongCheckcode { got, .. })
            if got.to_le_bytes()[..3] == [0x15, 0x03, 0x03] =>
        {
            Error::TlsPort {
                addr: peer.to_string(),
            }
        }
        CodecError::Wire(source) => Error::Protocol {
            peer: peer.to_string(),
            source,
        },
        CodecError::Io(source) => Error::Net {
            peer: peer.to_string(),
            source,
        },
    }
}
