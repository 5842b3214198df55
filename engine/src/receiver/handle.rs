//! A running recording, as front ends hold it: started by one function (the CLI and the window
//! both call [`RecordingHandle::start`]), cheap to clone, with its events as a stream, live
//! counters, a stop, and its outcome.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::{RecordConfig, RecordEvent, RecordStats, Summary};
use crate::audio::playback::{PlaybackConfig, PlaybackStats, Player};
use crate::{Error, Result};

/// Events kept for subscribers that arrive late (the window subscribes after the recording has
/// started): the latest 64.
pub const EVENT_HISTORY: usize = 64;

/// How a recording ended: what is in the file, and the error that ended it, if it did not end
/// as asked.
#[derive(Debug, Clone)]
pub struct Finished {
    /// What was recorded.
    pub summary: Summary,
    /// Why it ended, if not as asked (shared: every clone of the handle may read it).
    pub error: Option<Arc<Error>>,
}

/// Recent events and the live feed, under one lock so that a subscriber misses nothing.
struct EventLog {
    recent: VecDeque<RecordEvent>,
    live: broadcast::WeakSender<RecordEvent>,
}

struct Shared {
    stats: Arc<RecordStats>,
    token: CancellationToken,
    log: Mutex<EventLog>,
    finished: watch::Receiver<Option<Finished>>,
    player: Option<(String, Arc<PlaybackStats>)>,
    say: mpsc::UnboundedSender<String>,
}

/// A running (or finished) recording; every clone controls the same one.
#[derive(Clone)]
pub struct RecordingHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RecordingHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordingHandle")
    }
}

impl RecordingHandle {
    /// Checks the output file, opens the player if `playback` is given (on a blocking thread),
    /// and starts recording `config` on the current tokio runtime.
    ///
    /// # Errors
    /// What [`RecordConfig::check_output`] finds (before anything is connected or opened), and
    /// the player's device errors ([`Error::Source`]).
    pub async fn start(config: RecordConfig, playback: Option<PlaybackConfig>) -> Result<Self> {
        config.check_output()?;
        let player = match playback {
            Some(p) => Some(Arc::new(
                tokio::task::spawn_blocking(move || Player::start(p))
                    .await
                    .map_err(|e| Error::Thread {
                        name: "audiomi-playback".into(),
                        source: std::io::Error::other(e.to_string()),
                    })??,
            )),
            None => None,
        };
        let (live, _) = broadcast::channel(EVENT_HISTORY);
        let (finished_tx, finished) = watch::channel(None);
        let (say, say_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            stats: Arc::new(RecordStats::default()),
            token: CancellationToken::new(),
            log: Mutex::new(EventLog {
                recent: VecDeque::with_capacity(EVENT_HISTORY),
                live: live.downgrade(),
            }),
            finished,
            player: player
                .as_ref()
                .map(|p| (p.device_name().to_string(), p.stats().clone())),
            say,
        });
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        tokio::spawn(relay(shared.clone(), events_rx, live));
        let (stats, token) = (shared.stats.clone(), shared.token.clone());
        tokio::spawn(async move {
            let outcome =
                super::record_saying(config, stats, Some(events_tx), player, token, say_rx).await;
            let _ = finished_tx.send(Some(Finished {
                summary: outcome.summary,
                error: outcome.result.err().map(Arc::new),
            }));
        });
        Ok(Self { shared })
    }

    /// Sends `text` to the server's chat (TEXT) over the recording's connection, if the server
    /// relays chat (otherwise it is dropped with a warning); lines said while disconnected are
    /// sent after the next connect.
    pub fn say(&self, text: impl Into<String>) {
        let _ = self.shared.say.send(text.into());
    }

    /// Live counters.
    pub fn stats(&self) -> &Arc<RecordStats> {
        &self.shared.stats
    }

    /// The output device's name and counters, when listening.
    pub fn player(&self) -> Option<&(String, Arc<PlaybackStats>)> {
        self.shared.player.as_ref()
    }

    /// The recording's events: the latest [`EVENT_HISTORY`] so far, then each new one; the
    /// stream ends after the recording has.
    pub fn events(&self) -> impl futures::Stream<Item = RecordEvent> + Send + 'static + use<> {
        use futures::StreamExt;
        let (history, live) = {
            let log = self
                .shared
                .log
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            (
                log.recent.iter().cloned().collect::<Vec<_>>(),
                log.live.upgrade().map(|tx| tx.subscribe()),
            )
        };
        let live = futures::stream::unfold(live, |rx| async move {
            let mut rx = rx?;
            loop {
                match rx.recv().await {
                    Ok(e) => return Some((e, Some(rx))),
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        futures::stream::iter(history).chain(live)
    }

    /// Asks the recording to stop; [`RecordingHandle::finished`] tells when it has.
    pub fn stop(&self) {
        self.shared.token.cancel();
    }

    /// A token that stops the recording when cancelled (e.g. from a signal handler).
    pub fn stop_token(&self) -> CancellationToken {
        self.shared.token.clone()
    }

    /// Waits until the recording has ended (file finalized) and says how.
    pub async fn finished(&self) -> Finished {
        let mut rx = self.shared.finished.clone();
        match rx.wait_for(Option::is_some).await {
            Ok(done) => done.clone().unwrap_or_else(lost),
            Err(_) => lost(),
        }
    }
}

/// What `finished` says if the recording task vanished (it panicked): nothing known recorded.
fn lost() -> Finished {
    Finished {
        summary: Summary::default(),
        error: Some(Arc::new(Error::Thread {
            name: "audiomi-record".into(),
            source: std::io::Error::other("the recording task ended without an outcome"),
        })),
    }
}

/// Moves the recording's events into the history and the live feed, until the recording ends.
async fn relay(
    shared: Arc<Shared>,
    mut events: mpsc::UnboundedReceiver<RecordEvent>,
    live: broadcast::Sender<RecordEvent>,
) {
    while let Some(e) = events.recv().await {
        let mut log = shared.log.lock().unwrap_or_else(PoisonError::into_inner);
        if log.recent.len() == EVENT_HISTORY {
            log.recent.pop_front();
        }
        log.recent.push_back(e.clone());
        let _ = live.send(e);
    }
}
