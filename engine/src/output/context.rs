//! What a station hands each output as it starts it.

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use tokio_util::sync::CancellationToken;
use wire::StreamFormat;

use super::StationState;
use crate::encode::live::{self, Encoded};
use crate::pipeline::LegacyDemand;
use crate::stream::{ChunkStream, Subscription};
use crate::{Error, Result};

/// The station as its outputs see it while they start: the chunk stream to subscribe to, the
/// shared state, the shutdown token every loop selects on, and the station's reader threads.
pub struct StationContext {
    stream: ChunkStream,
    state: Arc<StationState>,
    shutdown: CancellationToken,
    legacy_demand: LegacyDemand,
    /// The live encodings (Opus, WebM, PCM), started by the first output that asks.
    encoded: Mutex<Option<Encoded>>,
    /// Threads that read the chunk stream until it closes; the station joins them once the
    /// source stage has stopped.
    readers: Mutex<Vec<JoinHandle<()>>>,
}

impl StationContext {
    /// The context of a station publishing into `stream`, with `state`; `legacy_demand` is the
    /// flag the source stage reads to produce a 16 kHz mono version of each chunk.
    pub fn new(stream: ChunkStream, state: Arc<StationState>, legacy_demand: LegacyDemand) -> Self {
        Self {
            stream,
            state,
            shutdown: CancellationToken::new(),
            legacy_demand,
            encoded: Mutex::new(None),
            readers: Mutex::new(Vec::new()),
        }
    }

    /// The stream's format (sample rate in Hz, channels, stream id, features).
    pub fn format(&self) -> StreamFormat {
        self.state.format()
    }

    /// The shared state.
    pub fn state(&self) -> &Arc<StationState> {
        &self.state
    }

    /// The chunk stream (for an output that reads it another way than [`Self::subscribe`]).
    pub fn stream(&self) -> &ChunkStream {
        &self.stream
    }

    /// A new reader of the chunk stream named `output` (for logs), from now on.
    pub fn subscribe(&self, output: &'static str) -> Subscription {
        self.stream.subscribe(output)
    }

    /// Cancelled when the station stops: every accept loop and task of an output selects on it.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// The flag an output sets while it has a receiver that needs the 16 kHz mono version of
    /// the stream ([`crate::pipeline::Chunk::legacy`]).
    pub fn legacy_demand(&self) -> &LegacyDemand {
        &self.legacy_demand
    }

    /// The live encodings of the stream (each chunk encoded once for every output that serves
    /// Opus, WebM or WAV), started on the first call with room for `queue` items per listener;
    /// later calls share them (their `queue` is ignored).
    ///
    /// # Errors
    /// As [`live::start`]: [`Error::Config`] for a format Opus cannot encode, [`Error::Thread`].
    pub fn live_encoding(&self, queue: usize) -> Result<Encoded> {
        let mut encoded = self.encoded.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = encoded.as_ref() {
            return Ok(e.clone());
        }
        let format = self.format();
        let (e, thread) = live::start(&self.stream, format.sample_rate, format.channels, queue)?;
        self.add_reader(thread);
        Ok(encoded.insert(e).clone())
    }

    /// Spawns a thread named `name` that runs `f` (a loop reading a [`Subscription`] until the
    /// stream closes); the station joins it after the source stage has stopped.
    ///
    /// # Errors
    /// [`Error::Thread`] if the thread cannot start.
    pub fn spawn_reader(&self, name: &str, f: impl FnOnce() + Send + 'static) -> Result<()> {
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(f)
            .map_err(|source| Error::Thread {
                name: name.into(),
                source,
            })?;
        self.add_reader(thread);
        Ok(())
    }

    fn add_reader(&self, thread: JoinHandle<()>) {
        self.readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(thread);
    }

    /// The reader threads started so far (the station takes them to join them).
    pub fn take_readers(&self) -> Vec<JoinHandle<()>> {
        std::mem::take(&mut *self.readers.lock().unwrap_or_else(PoisonError::into_inner))
    }
}
