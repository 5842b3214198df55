//! Capturing a PulseAudio (or pipewire-pulse) source through libpulse itself (Linux).
//!
//! cpal's PulseAudio host speaks the protocol through a pure-Rust client that wakes two threads
//! per packet (its reactor and a latency-polling thread) and asks the server for timing at every
//! packet. libpulse needs no thread of its own: its standard main loop runs on the source
//! stage's worker thread, which polls it where it would otherwise sleep until its next tick
//! ([`Pump`]), so a packet and the tick that processes it cost one wake-up. The read callback
//! only converts the packet to `f32` and pushes it into the same lock-free ring cpal's callback
//! would (it never blocks, allocates, locks or logs); the worker's tick then takes it from the
//! ring as from any device. What each route costs is measured in `docs/BENCHMARKS.md` ("Idle
//! cost").
//!
//! Devices are still found and listed through cpal: a cpal PulseAudio device id
//! `pulseaudio:NAME` names the PulseAudio source `NAME` that is opened here.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use libpulse_binding as pa;
use pa::context::{Context, FlagSet as ContextFlags, State as ContextState};
use pa::def::BufferAttr;
use pa::mainloop::standard::Mainloop;
use pa::sample::{Format, Spec};
use pa::stream::{FlagSet as StreamFlags, PeekResult, State as StreamState, Stream};
use pa::time::MicroSeconds;

use super::devices::OPEN_TIMEOUT;
use super::ring::{push, ring_len};
use super::{Pump, Pushed};
use crate::{Error, Result};

/// Longest one poll of libpulse's main loop lasts: 100 ms (packets and the worker's tick
/// normally end it far sooner; this bounds how long the worker goes without looking at its stop
/// flag).
const POLL_TIMEOUT: Duration = Duration::from_millis(100);

/// Opens the PulseAudio source `source` (a source name such as `virt.monitor`) as `rate` Hz,
/// `channels` channels, `f32` samples (PulseAudio converts), delivered in fragments of `frames`
/// frames (see `ring::frames_per_callback`), into a ring of
/// [`RING_SECONDS`](super::ring::RING_SECONDS) seconds (`ring::ring_len`). Runs on the
/// source stage's worker thread, which then drives the capture through [`Pushed::pump`].
///
/// `spec` is the source as the user wrote it, for messages.
///
/// # Errors
/// [`Error::Source`] if libpulse cannot connect to the sound server, the source does not exist
/// or the stream fails to start within [`OPEN_TIMEOUT`].
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
    let overruns = Arc::new(AtomicU64::new(0));
    let mut mainloop = Mainloop::new()
        .ok_or_else(|| source_error(spec, "libpulse could not create a main loop"))?;
    let mut context = connect(&mut mainloop).map_err(|e| source_error(spec, e))?;
    let receiver = Receiver {
        producer,
        overruns: overruns.clone(),
        arrived: Rc::new(Cell::new(false)),
    };
    let arrived = receiver.arrived.clone();
    let request = Request {
        source,
        spec: sample_spec,
        fragment_bytes: fragment_bytes(frames, channels),
    };
    let stream = record(&mut mainloop, &mut context, &request, receiver)
        .map_err(|e| source_error(spec, e))?;
    Ok(Pushed {
        consumer,
        rate,
        channels,
        keepalive: Box::new(()),
        pump: Some(Box::new(Device {
            stream,
            context,
            mainloop,
            arrived,
        })),
        failure: Arc::default(),
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

/// The open record stream, driven from the worker thread. Dropping it disconnects the stream
/// and the context (fields drop in this order: stream, context, main loop).
struct Device {
    stream: Rc<RefCell<Stream>>,
    context: Context,
    mainloop: Mainloop,
    /// Set by the read callback when a packet arrived.
    arrived: Rc<Cell<bool>>,
}

impl Pump for Device {
    fn wait(&mut self, deadline: Instant) -> std::result::Result<bool, String> {
        if matches!(
            self.context.get_state(),
            ContextState::Failed | ContextState::Terminated
        ) {
            return Err(format!(
                "the sound server connection ended: {}",
                self.context.errno()
            ));
        }
        let state = self.stream.borrow().get_state();
        if matches!(state, StreamState::Failed | StreamState::Terminated) {
            return Err(format!(
                "the capture stream ended: {}",
                self.context.errno()
            ));
        }
        self.arrived.set(false);
        let timeout = deadline.saturating_duration_since(Instant::now());
        iterate(&mut self.mainloop, timeout.min(POLL_TIMEOUT))?;
        Ok(self.arrived.get())
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        self.stream.borrow_mut().set_read_callback(None);
        let _ = self.stream.borrow_mut().disconnect();
        self.context.disconnect();
    }
}

/// What the record stream is asked for.
struct Request<'a> {
    source: &'a str,
    spec: Spec,
    fragment_bytes: u32,
}

/// What the read callback owns: the ring's producer, the overrun count, the arrival flag.
struct Receiver {
    producer: rtrb::Producer<f32>,
    overruns: Arc<AtomicU64>,
    arrived: Rc<Cell<bool>>,
}

/// Creates the record stream on `context`, installs the read callback and waits until the
/// server has set it up, at most [`OPEN_TIMEOUT`].
fn record(
    mainloop: &mut Mainloop,
    context: &mut Context,
    request: &Request<'_>,
    mut receiver: Receiver,
) -> std::result::Result<Rc<RefCell<Stream>>, String> {
    let source = request.source;
    let stream = Stream::new(context, "loopback", &request.spec, None)
        .ok_or_else(|| "libpulse could not create a record stream".to_string())?;
    let stream = Rc::new(RefCell::new(stream));
    let weak = Rc::downgrade(&stream);
    stream
        .borrow_mut()
        .set_read_callback(Some(Box::new(move |_readable| {
            if let Some(stream) = weak.upgrade() {
                drain(
                    &mut stream.borrow_mut(),
                    &mut receiver.producer,
                    &receiver.overruns,
                );
                receiver.arrived.set(true);
            }
        })));
    // fragsize: about one chunk per packet; everything else: the server's defaults.
    let attr = BufferAttr {
        maxlength: u32::MAX,
        tlength: u32::MAX,
        prebuf: u32::MAX,
        minreq: u32::MAX,
        fragsize: request.fragment_bytes,
    };
    stream
        .borrow_mut()
        .connect_record(Some(source), Some(&attr), StreamFlags::ADJUST_LATENCY)
        .map_err(|e| format!("cannot record from {source}: {e}"))?;
    let deadline = Instant::now() + OPEN_TIMEOUT;
    loop {
        let state = stream.borrow().get_state();
        match state {
            StreamState::Ready => return Ok(stream),
            StreamState::Failed | StreamState::Terminated => {
                return Err(format!("cannot record from {source}: {}", context.errno()));
            }
            _ => step(mainloop, deadline)?,
        }
    }
}

/// Connects a context to the default sound server (`PULSE_SERVER`, as every PulseAudio client
/// does) and waits until it is ready, at most [`OPEN_TIMEOUT`].
fn connect(mainloop: &mut Mainloop) -> std::result::Result<Context, String> {
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
            _ => step(mainloop, deadline)?,
        }
    }
}

/// One main-loop iteration while opening: an error past `deadline`.
fn step(mainloop: &mut Mainloop, deadline: Instant) -> std::result::Result<(), String> {
    if Instant::now() >= deadline {
        return Err(format!(
            "the sound server did not answer within {OPEN_TIMEOUT:?}"
        ));
    }
    iterate(mainloop, POLL_TIMEOUT)
}

/// Polls (at most `timeout`) and dispatches what arrived once.
fn iterate(mainloop: &mut Mainloop, timeout: Duration) -> std::result::Result<(), String> {
    let fail = |e: pa::error::PAErr| format!("libpulse main loop: {e}");
    let micros = u64::try_from(timeout.as_micros()).unwrap_or(u64::MAX);
    mainloop.prepare(Some(MicroSeconds(micros))).map_err(fail)?;
    mainloop.poll().map_err(fail)?;
    mainloop.dispatch().map_err(fail)?;
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
