//! Capturing a PulseAudio (or pipewire-pulse) source through libpulse itself (Linux).
//!
//! cpal's PulseAudio host speaks the protocol through a pure-Rust client that wakes two threads
//! per packet (its reactor and a latency-polling thread) and asks the server for timing at every
//! packet. libpulse needs one thread: here a named thread (`audiomi-capture`) runs libpulse's
//! standard main loop; its read callback converts the packet to `f32` and pushes it into the
//! same lock-free ring cpal's callback would (it never blocks, allocates, locks or logs). What
//! each route costs is measured in `docs/BENCHMARKS.md` ("Idle cost").
//!
//! Devices are still found and listed through cpal: a cpal PulseAudio device id
//! `pulseaudio:NAME` names the PulseAudio source `NAME` that is opened here.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use libpulse_binding as pa;
use pa::context::{Context, FlagSet as ContextFlags, State as ContextState};
use pa::def::BufferAttr;
use pa::mainloop::standard::Mainloop;
use pa::sample::{Format, Spec};
use pa::stream::{FlagSet as StreamFlags, PeekResult, State as StreamState, Stream};
use pa::time::MicroSeconds;

use super::Pushed;
use super::capture::{push, ring_len};
use super::devices::OPEN_TIMEOUT;
use crate::{Error, Result};

/// Longest the capture thread sleeps in libpulse's poll before it looks at its stop flag:
/// 100 ms (packets normally wake it far sooner; this bounds how long a stop waits).
const POLL_TIMEOUT: MicroSeconds = MicroSeconds(100_000);

/// What the capture thread reports once the stream is recording (or why it is not).
type Ready = std::result::Result<(), String>;

/// Opens the PulseAudio source `source` (a source name such as `virt.monitor`) as `rate` Hz,
/// `channels` channels, `f32` samples (PulseAudio converts), delivered in fragments of `frames`
/// frames (see `capture::frames_per_callback`), and starts capturing into a ring of
/// [`RING_SECONDS`](super::capture::RING_SECONDS) seconds (`capture::ring_len`).
///
/// `spec` is the source as the user wrote it, for messages.
///
/// # Errors
/// [`Error::Source`] if libpulse cannot connect to the sound server, the source does not exist
/// or the stream fails to start within [`OPEN_TIMEOUT`]; [`Error::Thread`] if the capture
/// thread cannot be started.
pub fn open_capture(
    spec: &str,
    source: &str,
    rate: u32,
    channels: u16,
    frames: u32,
) -> Result<Pushed> {
    let sample_spec = Spec {
        format: Format::F32le,
        channels: channels.min(u16::from(u8::MAX)) as u8,
        rate,
    };
    if !sample_spec.is_valid() {
        return Err(source_error(
            spec,
            format!("unusable format {rate} Hz, {channels} ch"),
        ));
    }
    let (producer, consumer) = rtrb::RingBuffer::<f32>::new(ring_len(rate, channels));
    let failure = Arc::new(Mutex::new(None::<String>));
    let overruns = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = sync_channel::<Ready>(1);
    let job = Job {
        source: source.to_owned(),
        spec: sample_spec,
        fragment_bytes: fragment_bytes(frames, channels),
        producer,
        overruns: overruns.clone(),
        failure: failure.clone(),
        stop: stop.clone(),
    };
    let thread = thread::Builder::new()
        .name("audiomi-capture".into())
        .spawn(move || job.run(&ready_tx))
        .map_err(|source| Error::Thread {
            name: "audiomi-capture".into(),
            source,
        })?;
    let guard = Capture {
        stop,
        thread: Some(thread),
    };
    match ready_rx.recv_timeout(OPEN_TIMEOUT) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(source_error(spec, e)),
        Err(_) => {
            return Err(source_error(
                spec,
                format!("the sound server did not start the capture within {OPEN_TIMEOUT:?}"),
            ));
        }
    }
    Ok(Pushed {
        consumer,
        rate,
        channels,
        keepalive: Box::new(guard),
        failure,
        overruns,
    })
}

/// Bytes of `frames` frames of `channels` `f32` samples: the fragment size asked of the server.
fn fragment_bytes(frames: u32, channels: u16) -> u32 {
    frames.saturating_mul(u32::from(channels)).saturating_mul(4)
}

fn source_error(spec: &str, reason: impl std::fmt::Display) -> Error {
    Error::Source {
        spec: spec.to_owned(),
        reason: format!("{reason} (PulseAudio capture)"),
    }
}

/// Stops the capture thread (within [`POLL_TIMEOUT`]) when dropped.
struct Capture {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Everything the capture thread needs.
struct Job {
    source: String,
    spec: Spec,
    fragment_bytes: u32,
    producer: rtrb::Producer<f32>,
    overruns: Arc<AtomicU64>,
    failure: Arc<Mutex<Option<String>>>,
    stop: Arc<AtomicBool>,
}

impl Job {
    /// The thread's body: connect, record, then poll until stopped or failed.
    fn run(self, ready: &SyncSender<Ready>) {
        let Some(mut mainloop) = Mainloop::new() else {
            let _ = ready.send(Err("libpulse could not create a main loop".into()));
            return;
        };
        let failure = self.failure.clone();
        let stop = self.stop.clone();
        let opened = connect(&mut mainloop, &stop).and_then(|mut context| {
            let stream = self.record(&mut mainloop, &mut context)?;
            Ok((context, stream))
        });
        let (mut context, stream) = match opened {
            Ok(x) => x,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        let result = poll_until_stopped(&mut mainloop, &context, &stream, &stop);
        stream.borrow_mut().set_read_callback(None);
        let _ = stream.borrow_mut().disconnect();
        context.disconnect();
        if let Err(e) = result {
            *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
        }
    }

    /// Creates the record stream on `context`, installs the read callback and waits until the
    /// server has set it up.
    fn record(
        self,
        mainloop: &mut Mainloop,
        context: &mut Context,
    ) -> std::result::Result<Rc<RefCell<Stream>>, String> {
        let Job {
            source,
            spec,
            fragment_bytes,
            mut producer,
            overruns,
            stop,
            ..
        } = self;
        let stream = Stream::new(context, "loopback", &spec, None)
            .ok_or_else(|| "libpulse could not create a record stream".to_string())?;
        let stream = Rc::new(RefCell::new(stream));
        let weak = Rc::downgrade(&stream);
        stream
            .borrow_mut()
            .set_read_callback(Some(Box::new(move |_readable| {
                if let Some(stream) = weak.upgrade() {
                    drain(&mut stream.borrow_mut(), &mut producer, &overruns);
                }
            })));
        // fragsize: about one chunk per packet; everything else: the server's defaults.
        let attr = BufferAttr {
            maxlength: u32::MAX,
            tlength: u32::MAX,
            prebuf: u32::MAX,
            minreq: u32::MAX,
            fragsize: fragment_bytes,
        };
        stream
            .borrow_mut()
            .connect_record(Some(&source), Some(&attr), StreamFlags::ADJUST_LATENCY)
            .map_err(|e| format!("cannot record from {source}: {e}"))?;
        let deadline = Instant::now() + OPEN_TIMEOUT;
        loop {
            let state = stream.borrow().get_state();
            match state {
                StreamState::Ready => return Ok(stream),
                StreamState::Failed | StreamState::Terminated => {
                    return Err(format!("cannot record from {source}: {}", context.errno()));
                }
                _ => step(mainloop, deadline, &stop)?,
            }
        }
    }
}

/// Connects a context to the default sound server (`PULSE_SERVER`, as every PulseAudio client
/// does) and waits until it is ready, at most [`OPEN_TIMEOUT`].
fn connect(mainloop: &mut Mainloop, stop: &AtomicBool) -> std::result::Result<Context, String> {
    let mut context = Context::new(mainloop, "audioMi")
        .ok_or_else(|| "libpulse could not create a context".to_string())?;
    context
        .connect(None, ContextFlags::NOAUTOSPAWN, None)
        .map_err(|e| format!("cannot connect to the sound server: {e}"))?;
    let deadline = Instant::now() + OPEN_TIMEOUT;
    loop {
        match context.get_state() {
            ContextState::Ready => return Ok(context),
            ContextState::Failed | ContextState::Terminated => {
                return Err(format!(
                    "cannot connect to the sound server: {}",
                    context.errno()
                ));
            }
            _ => step(mainloop, deadline, stop)?,
        }
    }
}

/// One main-loop iteration while opening: an error past `deadline` or once `stop` is set.
fn step(
    mainloop: &mut Mainloop,
    deadline: Instant,
    stop: &AtomicBool,
) -> std::result::Result<(), String> {
    if stop.load(Ordering::Acquire) {
        return Err("stopped while opening".into());
    }
    if Instant::now() >= deadline {
        return Err(format!(
            "the sound server did not answer within {OPEN_TIMEOUT:?}"
        ));
    }
    iterate(mainloop)
}

/// Polls (at most [`POLL_TIMEOUT`]) and dispatches what arrived once.
fn iterate(mainloop: &mut Mainloop) -> std::result::Result<(), String> {
    let fail = |e: pa::error::PAErr| format!("libpulse main loop: {e}");
    mainloop.prepare(Some(POLL_TIMEOUT)).map_err(fail)?;
    mainloop.poll().map_err(fail)?;
    mainloop.dispatch().map_err(fail)?;
    Ok(())
}

/// Runs the main loop until `stop` is set (Ok) or the connection or stream fails (Err: why).
fn poll_until_stopped(
    mainloop: &mut Mainloop,
    context: &Context,
    stream: &RefCell<Stream>,
    stop: &AtomicBool,
) -> std::result::Result<(), String> {
    while !stop.load(Ordering::Acquire) {
        if matches!(
            context.get_state(),
            ContextState::Failed | ContextState::Terminated
        ) {
            return Err(format!(
                "the sound server connection ended: {}",
                context.errno()
            ));
        }
        let state = stream.borrow().get_state();
        if matches!(state, StreamState::Failed | StreamState::Terminated) {
            return Err(format!("the capture stream ended: {}", context.errno()));
        }
        iterate(mainloop)?;
    }
    Ok(())
}

/// The read callback's work: every readable fragment as `f32` into the ring (a hole as
/// silence, keeping the timeline); what does not fit is counted in `overruns`. Never blocks,
/// allocates, locks or logs.
fn drain(stream: &mut Stream, producer: &mut rtrb::Producer<f32>, overruns: &AtomicU64) {
    loop {
        match stream.peek() {
            Ok(PeekResult::Data(bytes)) => push(
                producer,
                overruns,
                bytes.len() / 4,
                bytes
                    .chunks_exact(4)
                    .map(|b| <[u8; 4]>::try_from(b).map_or(0.0, f32::from_le_bytes)),
            ),
            Ok(PeekResult::Hole(len)) => {
                push(producer, overruns, len / 4, std::iter::repeat(0.0));
            }
            Ok(PeekResult::Empty) | Err(_) => return,
        }
        if stream.discard().is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fragment_is_its_frames_of_f32_samples() {
        // 960 frames (20 ms at 48 kHz) × 2 channels × 4 bytes.
        assert_eq!(fragment_bytes(960, 2), 7_680);
        assert_eq!(fragment_bytes(u32::MAX, 2), u32::MAX, "saturates");
    }
}
