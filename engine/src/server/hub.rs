//! The hub: the fan-out point between the chunk stream and the connections.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::sync::broadcast;
use tracing::info;

use super::client::{ClientInfo, ClientShared, Sent, Slot};
use super::{MAX_CHUNKS_PER_WRITE, PARALLEL_FANOUT_FROM, ServerConfig, ServerEvent, ServerStats};
use crate::output::StationState;
use crate::pipeline::{Chunk, LegacyDemand, Notice};

/// Chunks encoded and held back to be written together (see [`ServerConfig::writes_per_sec`]).
#[derive(Default)]
pub(super) struct Pending {
    /// Legacy AUDIO frames, back to back.
    pub(super) legacy: BytesMut,
    /// AUDIO_AT frames of the same chunks, back to back.
    pub(super) extended: BytesMut,
    /// Chunks held.
    pub(super) chunks: usize,
}

impl Pending {
    /// Everything held (legacy frames, extended frames, chunks), leaving it empty.
    fn take(&mut self) -> (Bytes, Bytes, usize) {
        let chunks = std::mem::take(&mut self.chunks);
        (
            self.legacy.split().freeze(),
            self.extended.split().freeze(),
            chunks,
        )
    }
}

/// The fan-out point between the source stage and the connections.
pub struct Hub {
    pub(super) config: ServerConfig,
    pub(super) codec: wire::Codec,
    pub(super) queue_frames: usize,
    pub(super) clients: Mutex<HashMap<u64, Slot>>,
    pub(super) pending: Mutex<Pending>,
    pub(super) next_id: AtomicU64,
    pub(super) stats: ServerStats,
    /// The station's shared state: events, chat log, receivers count.
    pub(super) state: Arc<StationState>,
    /// Set while a legacy client is sent audio (see [`Hub::legacy_demand`]).
    pub(super) legacy_demand: LegacyDemand,
    /// The NOW_PLAYING this output last sent and where it started (see [`Hub::current_track`]).
    pub(super) track: Mutex<Option<(u64, crate::audio::decode::TrackInfo)>>,
    /// The source ended and its last chunk went out: connections close once drained, and a new
    /// one is closed at once.
    pub(super) finished: AtomicBool,
}

impl Hub {
    /// A hub for `config` on its own (a station of its own state, as in unit tests).
    pub fn new(config: ServerConfig) -> Arc<Self> {
        let state = Arc::new(StationState::new(config.format));
        Self::with_state(config, state, LegacyDemand::default())
    }

    /// A hub for `config` in a station: it tells events and chat through `state` and sets
    /// `legacy_demand` while a legacy client is sent audio.
    pub fn with_state(
        config: ServerConfig,
        state: Arc<StationState>,
        legacy_demand: LegacyDemand,
    ) -> Arc<Self> {
        let chunk_us = config.chunk.as_micros().max(1);
        let queue_frames = ((config.max_lag.as_micros() / chunk_us) as usize).max(1);
        Arc::new(Self {
            codec: wire::Codec::new(config.checkcode),
            config,
            queue_frames,
            clients: Mutex::new(HashMap::new()),
            pending: Mutex::new(Pending::default()),
            next_id: AtomicU64::new(1),
            stats: ServerStats::default(),
            state,
            legacy_demand,
            track: Mutex::new(None),
            finished: AtomicBool::new(false),
        })
    }

    /// Whether the stream is the original's 16 kHz mono, so legacy clients get its chunks as
    /// they are.
    pub fn is_legacy_format(&self) -> bool {
        let f = self.config.format;
        crate::quality::AudioFormat {
            rate: f.sample_rate,
            channels: f.channels,
        } == crate::quality::AudioFormat::SPEECH
    }

    /// The flag the fan-out sets while a legacy client (one that never sent HELLO) is ready for
    /// audio; hand it to [`crate::pipeline::Pipeline::spawn_with`] so that a stream of another
    /// format than 16 kHz mono carries a 16 kHz mono version ([`Chunk::legacy`]) only then.
    pub fn legacy_demand(&self) -> LegacyDemand {
        self.legacy_demand.clone()
    }

    /// Live counters.
    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }

    /// The server's settings.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// A receiver of every [`ServerEvent`] from now on (a slow receiver loses the oldest ones).
    pub fn subscribe(&self) -> broadcast::Receiver<ServerEvent> {
        self.state.subscribe()
    }

    pub(super) fn emit(&self, event: ServerEvent) {
        self.state.emit(event);
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Slot>> {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Snapshots of the connected clients, oldest first.
    pub fn clients(&self) -> Vec<ClientInfo> {
        let now = Instant::now();
        let mut v: Vec<ClientInfo> = self
            .lock()
            .iter()
            .map(|(id, s)| ClientInfo {
                id: *id,
                addr: s.addr,
                connected_for: now - s.connected_at,
                lag: self.config.chunk * s.shared.queued() as u32,
                extended: s.shared.extended.load(Ordering::Relaxed),
                name: s
                    .shared
                    .name
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone(),
            })
            .collect();
        v.sort_by_key(|c| c.id);
        v
    }

    /// Sends `chunk` to every client that is ready for audio: one shared encoding per frame kind
    /// (legacy AUDIO of the 16 kHz mono stream, extended AUDIO_AT of the stream's format; a
    /// legacy client gets nothing for a chunk without a 16 kHz mono version), written directly to each socket that takes it, queued
    /// for the others. Never blocks on a client: a client whose queue already holds `max_lag` of
    /// audio is disconnected. Large audiences are written by one thread per core, and above the
    /// write budget ([`ServerConfig::writes_per_sec`]) several chunks go out in one write.
    /// Callable from any thread.
    pub fn publish(&self, chunk: &Chunk) {
        self.publish_behind(chunk, 0);
    }

    /// As [`Hub::publish`], from a fan-out that has `waiting` more items of the chunk stream
    /// already queued behind this one (it fell behind: a starved thread, an overloaded machine).
    /// While items wait, chunks are held and joined into one write per client, up to
    /// [`MAX_CHUNKS_PER_WRITE`] (at most the `max_lag` queue): catching up costs one socket write
    /// per client for several chunks instead of one per chunk, so a fan-out that fell behind
    /// gets ahead again instead of falling further behind and losing chunks at the stream's
    /// ring ([`crate::stream::DEFAULT_CAPACITY`]). It adds no latency: the held chunks are
    /// already late, and the next item is already there.
    pub fn publish_behind(&self, chunk: &Chunk, waiting: usize) {
        self.stats.chunks.fetch_add(1, Ordering::Relaxed);
        let batch = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            let legacy = if self.is_legacy_format() {
                Some(&chunk.pcm)
            } else {
                chunk.legacy.as_ref()
            };
            if let Some(pcm) = legacy.filter(|p| !p.is_empty()) {
                self.codec.encode_audio(pcm, &mut pending.legacy);
            }
            self.codec
                .encode_audio_at(chunk.position, &chunk.pcm, &mut pending.extended);
            pending.chunks += 1;
            let catching_up = waiting > 0 && pending.chunks < self.catch_up_limit();
            if catching_up || pending.chunks < self.chunks_per_write() {
                return;
            }
            pending.take()
        };
        self.fan_out(batch);
    }

    /// How many chunks go into one write per client now (1 unless the audience exceeds the
    /// write budget).
    pub(super) fn chunks_per_write(&self) -> usize {
        let budget = u128::from(self.config.writes_per_sec);
        if budget == 0 {
            return 1;
        }
        let clients = self.stats.clients.load(Ordering::Relaxed) as u128;
        let chunk_us = self.config.chunk.as_micros().max(1);
        // writes per second = clients × 1e6 / chunk_us; k = ceil(that / budget).
        let k = (clients * 1_000_000).div_ceil(chunk_us * budget);
        (k as usize).clamp(1, self.catch_up_limit())
    }

    /// Most chunks joined into one write while the fan-out catches up
    /// ([`Hub::publish_behind`]): [`MAX_CHUNKS_PER_WRITE`], at most the `max_lag` queue.
    fn catch_up_limit(&self) -> usize {
        MAX_CHUNKS_PER_WRITE.min(self.queue_frames).max(1)
    }

    pub(super) fn fan_out(&self, (legacy, extended, chunks): (Bytes, Bytes, usize)) {
        let targets: Vec<(u64, Arc<ClientShared>)> = self
            .lock()
            .iter()
            .filter(|(_, slot)| slot.shared.armed.load(Ordering::Acquire))
            .map(|(id, slot)| (*id, slot.shared.clone()))
            .collect();
        let legacy_clients = targets
            .iter()
            .any(|(_, c)| !c.extended.load(Ordering::Acquire));
        self.legacy_demand.store(legacy_clients, Ordering::Release);
        let send = |part: &[(u64, Arc<ClientShared>)]| {
            let mut queued = 0u64;
            let mut lagging = Vec::new();
            for (id, client) in part {
                let frame = if client.extended.load(Ordering::Acquire) {
                    &extended
                } else if legacy.is_empty() {
                    continue;
                } else {
                    &legacy
                };
                match client.send(frame.clone(), chunks, self.queue_frames) {
                    Sent::Ok => queued += frame.len() as u64,
                    Sent::Full => lagging.push(*id),
                }
            }
            (queued, lagging)
        };
        let threads = if targets.len() >= PARALLEL_FANOUT_FROM {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            1
        };
        let (queued, lagging) = if threads > 1 {
            let per = targets.len().div_ceil(threads);
            std::thread::scope(|scope| {
                let mut parts = targets.chunks(per);
                let first = parts.next().unwrap_or_default();
                let others: Vec<_> = parts.map(|p| scope.spawn(move || send(p))).collect();
                let (mut queued, mut lagging) = send(first);
                for handle in others {
                    if let Ok((q, l)) = handle.join() {
                        queued += q;
                        lagging.extend(l);
                    }
                }
                (queued, lagging)
            })
        } else {
            send(&targets)
        };
        drop(targets);
        if !lagging.is_empty() {
            let mut clients = self.lock();
            for id in lagging {
                if let Some(mut slot) = clients.remove(&id) {
                    self.stats.lag_drops.fetch_add(1, Ordering::Relaxed);
                    if let Some(kick) = slot.kick.take() {
                        let _ = kick.send(format!(
                            "more than {} ms of audio behind (the client stopped reading or its link is too slow)",
                            self.config.max_lag.as_millis()
                        ));
                    }
                }
            }
        }
        self.stats.bytes_queued.fetch_add(queued, Ordering::Relaxed);
    }

    /// Acts on a notice from the source stage (the station logs it and tells it as an event):
    /// END and NOW_PLAYING to the clients that asked, and closing once the source has finished.
    pub fn notice(&self, notice: Notice) {
        match &notice {
            Notice::SourceEnded { end, .. } => self.send_end(*end),
            Notice::Finished => {
                *self.track.lock().unwrap_or_else(PoisonError::into_inner) = None;
                self.finish();
            }
            Notice::NowPlaying { position, track } => self.now_playing(*position, track),
            Notice::SilenceInserted(_)
            | Notice::SourceActive
            | Notice::SourceFailed(_)
            | Notice::SourceRestored(_) => {}
        }
    }

    /// Tells every client that asked for it (ENDS) where the source ended.
    fn send_end(&self, end: u64) {
        let mut frame = BytesMut::new();
        self.codec
            .encode_server(&wire::ServerFrame::End { position: end }, &mut frame);
        let frame = frame.freeze();
        for slot in self.lock().values() {
            if slot.shared.ends.load(Ordering::Acquire) {
                let _ = slot.shared.send(frame.clone(), 0, self.queue_frames);
            }
        }
    }

    /// The stream is over: sends what batching held back, then has every connection close once
    /// its queue is written (a legacy client sees the connection close after the last chunk).
    fn finish(&self) {
        let held = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if held.2 > 0 {
            self.fan_out(held);
        }
        self.finished.store(true, Ordering::Release);
        for slot in self.lock().values() {
            slot.shared.close_when_drained();
        }
    }

    /// Whether the source has ended and its last chunk was sent ([`Notice::Finished`]).
    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    pub(super) fn register(&self, addr: SocketAddr, slot: Slot) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let clients = {
            let mut map = self.lock();
            map.insert(id, slot);
            map.len()
        };
        self.stats.clients.store(clients, Ordering::Relaxed);
        self.state.set_receivers(clients);
        if crate::quiet::line("receivers connected", Some(addr.ip())) {
            info!(id, %addr, clients, "client connected");
        }
        self.emit(ServerEvent::ClientConnected { id, addr, clients });
        id
    }

    pub(super) fn unregister(&self, id: u64, addr: SocketAddr, reason: String) {
        let clients = {
            let mut map = self.lock();
            map.remove(&id);
            map.len()
        };
        self.stats.clients.store(clients, Ordering::Relaxed);
        self.state.set_receivers(clients);
        let ip = Some(addr.ip());
        let logged = if reason.starts_with("protocol error: wrong checkcode") {
            crate::quiet::refused("connections closed: wrong checkcode", ip)
        } else if reason.starts_with("protocol error") {
            crate::quiet::refused("connections closed: protocol error", ip)
        } else {
            crate::quiet::line("receivers disconnected", ip)
        };
        if logged {
            info!(id, %addr, clients, %reason, "client disconnected");
        }
        self.emit(ServerEvent::ClientDisconnected {
            id,
            addr,
            clients,
            reason,
        });
    }
}

#[cfg(test)]
#[path = "hub_tests.rs"]
mod tests;
