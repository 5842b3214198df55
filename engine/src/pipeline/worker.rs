//! The source stage's worker thread, in its parts: open the input, wait for the next tick, pull
//! what is due (generated or pushed), fill a stalled device with silence, cut chunks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::legacy::LegacyStage;
use super::{
    Chunk, Input, LegacyDemand, MAX_REOPEN_DELAY, MAX_STALL_AFTER, Notice, Output, PipelineConfig,
    PipelineStats, Pushed, STALL_AFTER,
};
use crate::Result;
use crate::audio::dsp::{self, Chain};
use crate::audio::level::Level;
use crate::audio::{Generator, Pump};

/// First wait before reopening a failed device: 250 ms (doubling to [`MAX_REOPEN_DELAY`]).
const FIRST_REOPEN_DELAY: Duration = Duration::from_millis(250);

/// The opened input.
pub(super) enum Running {
    Generated {
        generator: Box<dyn Generator>,
        rate: u32,
        channels: usize,
        /// Frames pulled since the start (at the current rate: rescaled at a format change).
        pulled: u64,
        /// Where the next frame pulled lands in the stream, in stream frames: what was pulled,
        /// each frame counted at the stream's rate over its own.
        stream_at: f64,
        ended: bool,
    },
    Pushed {
        open: Box<dyn FnMut() -> Result<Pushed> + Send>,
        /// None while the device is failed and being reopened.
        pushed: Option<Pushed>,
        retry_at: Instant,
        retry_delay: Duration,
    },
}

/// Everything the worker keeps between ticks.
pub(super) struct Worker<S: FnMut(Output)> {
    pub(super) running: Running,
    pub(super) chain: Chain,
    pub(super) config: PipelineConfig,
    pub(super) sink: S,
    pub(super) stats: Arc<PipelineStats>,
    /// Interleaved input frames of this tick.
    pub(super) input: Vec<f32>,
    /// Interleaved samples at the stream's format not yet cut into chunks.
    pub(super) fifo: Vec<f32>,
    pub(super) pcm: Vec<u8>,
    /// The 16 kHz mono version for legacy clients, while one is connected.
    pub(super) legacy: LegacyStage,
    /// Stream position (frames) of the next chunk.
    pub(super) position: u64,
    pub(super) failed: bool,
    pub(super) start: Instant,
    pub(super) last_input_at: Option<Instant>,
    pub(super) stall_after: Duration,
    /// Frames of silence inserted in the current stall.
    pub(super) stall_filled: u64,
    /// Where an ended source's audio ends (stream frames), once it has.
    pub(super) end_at: Option<u64>,
    /// The chunk holding `end_at` went out: the source stage stops.
    pub(super) finished: bool,
}

/// Opens `input` and builds its DSP chain to the stream's rate.
fn open(input: Input, config: &PipelineConfig) -> Result<(Running, Chain)> {
    let running = match input {
        Input::Generated(generator) => Running::Generated {
            rate: generator.sample_rate(),
            channels: usize::from(generator.channels()),
            generator,
            pulled: 0,
            stream_at: 0.0,
            ended: false,
        },
        Input::Pushed(mut open) => {
            let pushed = open()?;
            Running::Pushed {
                open,
                pushed: Some(pushed),
                retry_at: Instant::now(),
                retry_delay: FIRST_REOPEN_DELAY,
            }
        }
    };
    let (rate, channels) = match &running {
        Running::Generated { rate, channels, .. } => (*rate, *channels as u16),
        Running::Pushed { pushed, .. } => pushed
            .as_ref()
            .map_or((config.rate, 1), |p| (p.rate, p.channels)),
    };
    let chain = config.chain_from(rate, channels)?;
    Ok((running, chain))
}

/// The worker thread's body: reports on `ready` whether the input opened, then produces chunks
/// on the wall-clock schedule until `stop` is set.
pub(super) fn run(
    input: Input,
    config: PipelineConfig,
    sink: impl FnMut(Output),
    (stop, legacy): (Arc<AtomicBool>, LegacyDemand),
    stats: Arc<PipelineStats>,
    ready: SyncSender<Result<()>>,
) {
    let (running, chain) = match open(input, &config) {
        Ok(x) => {
            let _ = ready.send(Ok(()));
            x
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let chunk_samples = config.chunk_samples();
    let mut worker = Worker {
        running,
        chain,
        config,
        sink,
        stats,
        input: Vec::new(),
        fifo: Vec::with_capacity(chunk_samples * 4),
        pcm: Vec::with_capacity(chunk_samples * 2),
        legacy: LegacyStage::new(legacy, config),
        position: 0,
        failed: false,
        start: Instant::now(),
        last_input_at: None,
        stall_after: STALL_AFTER,
        stall_filled: 0,
        end_at: None,
        finished: false,
    };
    // The next tick: on the wall clock, one chunk apart, or for a pumped device on its packets
    // (a tick as soon as one arrived; without packets, every 1.5 chunks).
    let mut next = worker.start + config.chunk;
    while !stop.load(Ordering::Acquire) {
        let (woke, pumped) = match worker.pump() {
            Some((pump, failure)) => (
                pump_until(pump, failure, next + config.chunk / 2, &stop),
                true,
            ),
            None => (wait_until(next, &stop), false),
        };
        if !woke {
            break;
        }
        worker.tick();
        if worker.finished {
            break;
        }
        next = if pumped {
            Instant::now() + config.chunk
        } else {
            next + config.chunk
        };
    }
}

/// Lets a device driven from this thread wait for its next packet, at the latest until
/// `deadline`; false if `stop` was set meanwhile. A device that fails is recorded in `failure`
/// (the tick then drops and reopens it).
fn pump_until(
    pump: &mut dyn Pump,
    failure: &Mutex<Option<String>>,
    deadline: Instant,
    stop: &AtomicBool,
) -> bool {
    while !stop.load(Ordering::Acquire) {
        if Instant::now() >= deadline {
            return true;
        }
        match pump.wait(deadline) {
            Ok(true) => return true,
            Ok(false) => {}
            Err(why) => {
                *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(why);
                return true;
            }
        }
    }
    false
}

/// Parks until `deadline`; false if `stop` was set meanwhile.
fn wait_until(deadline: Instant, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::Acquire) {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        thread::park_timeout(deadline - now);
    }
}

impl<S: FnMut(Output)> Worker<S> {
    pub(super) fn notice(&mut self, notice: Notice) {
        (self.sink)(Output::Notice(notice));
    }

    /// The open device's pump and failure slot, if it is driven from this thread
    /// ([`crate::audio::Pump`]).
    fn pump(&mut self) -> Option<(&mut (dyn Pump + 'static), &Mutex<Option<String>>)> {
        match &mut self.running {
            Running::Pushed {
                pushed: Some(p), ..
            } => {
                let failure = &*p.failure;
                p.pump.as_deref_mut().map(|pump| (pump, failure))
            }
            _ => None,
        }
    }

    /// One tick: pull what is due, process it, fill a stall, emit whole chunks.
    fn tick(&mut self) {
        self.input.clear();
        let pushed_source = matches!(self.running, Running::Pushed { .. });
        if pushed_source {
            self.pull_pushed();
        } else {
            self.pull_generated();
        }
        if let Err(e) = self.chain.process(&self.input, &mut self.fifo)
            && !self.failed
        {
            self.failed = true;
            self.notice(Notice::SourceFailed(e.to_string()));
        }
        if !self.input.is_empty() {
            self.note_input();
        }
        if pushed_source {
            self.fill_stall();
        }
        self.emit_chunks();
    }

    /// Takes whatever a device pushed; drops a failed device and reopens it with backoff.
    fn pull_pushed(&mut self) {
        let Running::Pushed {
            open,
            pushed,
            retry_at,
            retry_delay,
        } = &mut self.running
        else {
            return;
        };
        let mut notices = Vec::new();
        let failed_now = pushed.as_ref().and_then(|p| {
            p.failure
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
        });
        if let Some(why) = failed_now {
            *pushed = None;
            *retry_at = Instant::now() + *retry_delay;
            notices.push(Notice::SourceFailed(format!("{why}; reopening the device")));
        }
        if pushed.is_none() && Instant::now() >= *retry_at {
            match open() {
                Ok(p) => {
                    match self.config.chain_from(p.rate, p.channels) {
                        Ok(chain) => self.chain = chain,
                        Err(e) => notices.push(Notice::SourceFailed(e.to_string())),
                    }
                    notices.push(Notice::SourceRestored(format!(
                        "{} Hz, {} ch",
                        p.rate, p.channels
                    )));
                    *pushed = Some(p);
                    *retry_delay = FIRST_REOPEN_DELAY;
                }
                Err(_) => {
                    *retry_delay = (*retry_delay * 2).min(MAX_REOPEN_DELAY);
                    *retry_at = Instant::now() + *retry_delay;
                }
            }
        }
        if let Some(p) = pushed.as_mut() {
            let n = p.consumer.slots();
            if let Ok(chunk) = p.consumer.read_chunk(n) {
                let (a, b) = chunk.as_slices();
                self.input.extend_from_slice(a);
                self.input.extend_from_slice(b);
                chunk.commit_all();
            }
            let ch = usize::from(p.channels.max(1));
            self.input
                .truncate(self.input.len() - self.input.len() % ch);
            self.stats
                .overruns
                .store(p.overruns.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        for n in notices {
            self.notice(n);
        }
    }

    /// Input arrived: report a (re)start and adapt the stall threshold to the delivery bursts.
    fn note_input(&mut self) {
        let now = Instant::now();
        if self.last_input_at.is_none() || self.stall_filled > 0 {
            self.notice(Notice::SourceActive);
        }
        if let Some(last) = self.last_input_at {
            self.stall_after = self.stall_after.max((now - last) * 2).min(MAX_STALL_AFTER);
        }
        self.last_input_at = Some(now);
        self.stall_filled = 0;
    }

    /// The device delivers nothing (WASAPI loopback while nothing plays, a suspended sink, a
    /// failed device): stand in for it with silence, in real time. Only the time it has been
    /// silent is filled, never a lag it built up while delivering late.
    fn fill_stall(&mut self) {
        let silent_for = self.last_input_at.unwrap_or(self.start).elapsed();
        if silent_for < self.stall_after {
            return;
        }
        let due = (silent_for.as_secs_f64() * f64::from(self.config.rate)) as u64;
        let fill = due.saturating_sub(self.stall_filled);
        if self.stall_filled == 0 {
            self.notice(Notice::SilenceInserted(fill));
        }
        let channels = usize::from(self.config.channels.max(1));
        self.fifo
            .resize(self.fifo.len() + fill as usize * channels, 0.0);
        self.stall_filled += fill;
        self.stats
            .silence_inserted
            .fetch_add(fill, Ordering::Relaxed);
    }

    /// Cuts every whole chunk out of the FIFO and hands it to the sink.
    fn emit_chunks(&mut self) {
        let chunk_samples = self.config.chunk_samples();
        let mut consumed = 0;
        while self.fifo.len() - consumed >= chunk_samples && !self.finished {
            if self.end_at.is_some_and(|end| self.position >= end) {
                self.finished = true;
                break;
            }
            let samples = &self.fifo[consumed..consumed + chunk_samples];
            consumed += chunk_samples;
            self.pcm.clear();
            dsp::f32_to_pcm16_bytes(samples, &mut self.pcm);
            let chunk = Chunk {
                position: self.position,
                pcm: Bytes::copy_from_slice(&self.pcm),
                legacy: self.legacy.make(samples),
                level: Level::measure(samples),
                produced_at: Instant::now(),
            };
            self.position += self.config.chunk_frames() as u64;
            self.stats.chunks.fetch_add(1, Ordering::Relaxed);
            (self.sink)(Output::Chunk(chunk));
            self.finished = self.end_at.is_some_and(|end| self.position >= end);
        }
        self.fifo.drain(..consumed);
        if self.finished {
            self.notice(Notice::Finished);
        }
    }
}
