//! The state every output of a station reads: the stream's format and identity, the level of
//! the latest chunk, the chat log, the track playing, the receivers of the station's own
//! protocol, and the station's events.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::broadcast;
use tracing::{info, warn};
use wire::StreamFormat;

use super::ServerEvent;
use crate::audio::decode::TrackInfo;
use crate::audio::level::{Level, LevelCell};
use crate::pipeline::{Notice, Output as Item};

/// Chat messages kept for the web page: 100.
pub const CHAT_LOG: usize = 100;

/// Events kept for a slow reader of [`StationState::subscribe`] before it loses the oldest: 1,024.
pub const EVENT_BACKLOG: usize = 1024;

/// One relayed chat message, numbered, as `/chat.json` lists it (the station keeps the log).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChatEntry {
    /// Its number: 1 for the first message of this station run, then +1.
    pub seq: u64,
    /// The sender's name.
    pub from: String,
    /// The message.
    pub text: String,
}

/// The latest [`CHAT_LOG`] messages.
#[derive(Debug, Default)]
struct ChatLog {
    last: u64,
    entries: VecDeque<ChatEntry>,
}

/// What every output of one station reads; shared as `Arc<StationState>`, readable from any
/// thread. The source stage's items pass through [`StationState::observe`] before any output
/// sees them, so the level and the track playing are never behind what an output sends.
#[derive(Debug)]
pub struct StationState {
    format: StreamFormat,
    started: Instant,
    level: LevelCell,
    chat: Mutex<ChatLog>,
    track: Mutex<Option<(u64, TrackInfo)>>,
    receivers: AtomicUsize,
    finished: AtomicBool,
    events: broadcast::Sender<ServerEvent>,
}

impl StationState {
    /// The state of a station streaming `format` (rate, channels, stream id, features), started
    /// now.
    pub fn new(format: StreamFormat) -> Self {
        Self {
            format,
            started: Instant::now(),
            level: LevelCell::default(),
            chat: Mutex::new(ChatLog::default()),
            track: Mutex::new(None),
            receivers: AtomicUsize::new(0),
            finished: AtomicBool::new(false),
            events: broadcast::channel(EVENT_BACKLOG).0,
        }
    }

    /// The stream's format: sample rate (Hz), channels, stream id and extension features.
    pub fn format(&self) -> StreamFormat {
        self.format
    }

    /// When the station started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The level of the latest chunk ([`Level::SILENCE`] before the first).
    pub fn level(&self) -> Level {
        self.level.load()
    }

    /// The track playing and the stream position (frames) where it started, if the source has
    /// tracks and has not ended.
    pub fn now_playing(&self) -> Option<(u64, TrackInfo)> {
        self.track
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether the source has ended and its last chunk has been handed to the outputs.
    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    /// Receivers of the station's own protocol (plaintext and TLS) connected now.
    pub fn receivers(&self) -> usize {
        self.receivers.load(Ordering::Relaxed)
    }

    /// Sets [`StationState::receivers`] (the TCP output does, as receivers come and go).
    pub fn set_receivers(&self, n: usize) {
        self.receivers.store(n, Ordering::Relaxed);
    }

    /// The kept chat messages numbered above `after` (0: all kept), oldest first.
    pub fn chat_since(&self, after: u64) -> Vec<ChatEntry> {
        let log = self.chat.lock().unwrap_or_else(PoisonError::into_inner);
        log.entries
            .iter()
            .filter(|e| e.seq > after)
            .cloned()
            .collect()
    }

    /// Adds a relayed chat message to the log (at most [`CHAT_LOG`] kept) and tells
    /// [`ServerEvent::Text`].
    pub fn add_chat(&self, from: &str, text: &str) {
        {
            let mut log = self.chat.lock().unwrap_or_else(PoisonError::into_inner);
            log.last += 1;
            let seq = log.last;
            if log.entries.len() == CHAT_LOG {
                log.entries.pop_front();
            }
            log.entries.push_back(ChatEntry {
                seq,
                from: from.to_string(),
                text: text.to_string(),
            });
        }
        self.emit(ServerEvent::Text {
            from: from.to_string(),
            text: text.to_string(),
        });
    }

    /// A receiver of every [`ServerEvent`] from now on (a slow receiver loses the oldest ones,
    /// beyond [`EVENT_BACKLOG`]).
    pub fn subscribe(&self) -> broadcast::Receiver<ServerEvent> {
        self.events.subscribe()
    }

    /// Tells every subscriber `event` (nobody listening is fine).
    pub fn emit(&self, event: ServerEvent) {
        let _ = self.events.send(event);
    }

    /// Takes note of one item of the source stage before the outputs get it: a chunk's level, a
    /// notice's log line, the track playing, the end; a notice is told as
    /// [`ServerEvent::Source`]. Called on the source stage's thread: no blocking beyond two
    /// uncontended locks for a notice (a few a minute at most).
    pub fn observe(&self, item: &Item) {
        let notice = match item {
            Item::Chunk(chunk) => {
                self.level.store(chunk.level);
                return;
            }
            Item::Notice(n) => n,
        };
        match notice {
            Notice::SilenceInserted(n) => {
                info!(samples = n, "source delivers nothing: streaming silence")
            }
            Notice::SourceActive => info!("source delivering audio"),
            Notice::SourceEnded { what, end } => {
                info!(source = %what, end, "source ended: the stream ends with it")
            }
            Notice::Finished => {
                info!("last chunk sent: closing every connection once it has its audio");
                *self.track.lock().unwrap_or_else(PoisonError::into_inner) = None;
                self.finished.store(true, Ordering::Release);
            }
            Notice::SourceFailed(why) => warn!(error = %why, "source failed; streaming silence"),
            Notice::SourceRestored(what) => info!(format = %what, "source restored"),
            Notice::NowPlaying { position, track } => {
                info!(position, title = %track.title, artist = %track.artist, "now playing");
                *self.track.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some((*position, track.clone()));
            }
        }
        self.emit(ServerEvent::Source(notice.clone()));
    }
}

/// A stream id that differs between station runs (time and process id mixed; not
/// cryptographic).
pub fn new_stream_id() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mixed = (nanos as u64) ^ (u64::from(std::process::id()) << 32);
    (mixed ^ (mixed >> 29))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(17) as u32
}
