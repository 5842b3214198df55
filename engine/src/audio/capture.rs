//! Capturing a sound card (loopback or microphone) for the source stage.
//!
//! The capture callback only converts samples to `f32` and pushes them into a lock-free ring
//! (`rtrb`): it never blocks, allocates, locks or logs. Samples that do not fit are counted as
//! overruns. The pipeline's worker thread does everything else.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample, StreamConfig};

use super::devices::{
    OPEN_TIMEOUT, config_of, device_error, id_of, name_of, resolve, with_sample_type,
};
use super::ring::{frames_per_callback, push, ring_len};
use super::sources::SourceSpec;
use super::{Input, Pushed};
use crate::{Error, Result};

/// Opens a sound-card source for the pipeline. The device is opened on the pipeline's worker
/// thread, and reopened there (with backoff) if it fails while running.
///
/// Errors opening the device are returned by the pipeline's start, not here.
pub fn open(spec: &SourceSpec, chunk: Duration) -> Input {
    let spec = spec.clone();
    Input::Pushed(Box::new(move || open_capture(&spec, chunk)))
}

/// Opens `spec` now and starts capturing into a ring.
///
/// # Errors
/// [`Error::Source`] if the device does not exist, has no usable configuration, uses a sample
/// format audioMi cannot read (DSD), or cannot be started.
pub fn open_capture(spec: &SourceSpec, chunk: Duration) -> Result<Pushed> {
    let text = spec.to_string();
    let host = cpal::default_host();
    let (device, via_output) = resolve(&host, spec)?;
    let supported = config_of(&device, via_output)
        .ok_or_else(|| device_error(&text, "the device reports no usable configuration"))?;
    let rate = supported.sample_rate();
    let channels = supported.channels();
    // Ask for about one chunk per callback: PulseAudio's default is 250 ms (2 s via pipewire-pulse).
    let frames = frames_per_callback(rate, chunk);
    let ring_len = ring_len(rate, channels);
    #[cfg(target_os = "linux")]
    if let Some(pushed) = through_libpulse(&host, &device, &text, (rate, channels), frames) {
        return Ok(pushed);
    }
    let format = supported.sample_format();
    let failure = Arc::new(Mutex::new(None::<String>));
    let overruns = Arc::new(AtomicU64::new(0));
    let mut config = supported.config();
    config.buffer_size = cpal::BufferSize::Fixed(frames);
    let attempt = |config: StreamConfig| {
        let (producer, consumer) = rtrb::RingBuffer::<f32>::new(ring_len);
        build_input(
            &device,
            config,
            format,
            producer,
            overruns.clone(),
            failure.clone(),
        )
        .map(|s| (s, consumer))
    };
    let (stream, consumer) = match attempt(config) {
        Ok(x) => x,
        Err(_) => {
            config.buffer_size = cpal::BufferSize::Default;
            attempt(config).map_err(|e| device_error(&text, e))?
        }
    };
    // With PulseAudio, play() waits for the stream's first data, which a monitor of an idle sink
    // may not deliver for a long time. Start it on its own thread so the pipeline keeps its
    // clock (and streams silence) meanwhile; a failure to start is reported like any other.
    let stream = Arc::new(stream);
    {
        let (stream, failure) = (stream.clone(), failure.clone());
        std::thread::Builder::new()
            .name("audiomi-capture-start".into())
            .spawn(move || {
                if let Err(e) = stream.play() {
                    *failure.lock().unwrap_or_else(PoisonError::into_inner) =
                        Some(super::wasapi::in_words(&e.to_string()));
                }
            })
            .map_err(|source| Error::Thread {
                name: "audiomi-capture-start".into(),
                source,
            })?;
    }
    tracing::info!(
        source = %text,
        device = %name_of(&device),
        id = %id_of(&device),
        rate,
        channels,
        format = %format,
        "capturing"
    );
    Ok(Pushed {
        consumer,
        rate,
        channels,
        keepalive: Box::new(stream),
        pump: None,
        failure,
        overruns,
    })
}

/// On a PulseAudio (or pipewire-pulse) device, captures through libpulse (one thread, see the
/// `pulse` module) instead of cpal; None (after a warning) where that fails, so cpal's own
/// PulseAudio host is tried next.
#[cfg(target_os = "linux")]
fn through_libpulse(
    host: &cpal::Host,
    device: &cpal::Device,
    spec: &str,
    (rate, channels): (u32, u16),
    frames: u32,
) -> Option<Pushed> {
    use super::devices::is_pulse;
    let id = id_of(device);
    let source = id.strip_prefix("pulseaudio:").filter(|_| is_pulse(host))?;
    match super::pulse::open_capture(spec, source, rate, channels, frames) {
        Ok(pushed) => {
            tracing::info!(source = %spec, device = %name_of(device), id = %id, rate, channels, "capturing through libpulse");
            Some(pushed)
        }
        Err(e) => {
            tracing::warn!(source = %spec, error = %e, "libpulse capture failed; trying cpal's PulseAudio host");
            None
        }
    }
}

fn build_input(
    device: &cpal::Device,
    config: StreamConfig,
    format: SampleFormat,
    producer: rtrb::Producer<f32>,
    overruns: Arc<AtomicU64>,
    failure: Arc<Mutex<Option<String>>>,
) -> std::result::Result<cpal::Stream, String> {
    with_sample_type!(
        format,
        build_typed(device, config, producer, overruns, failure)
    )
}

/// The capture callback: converts to `f32` and pushes into the ring; never blocks, allocates,
/// locks or logs. Fatal stream errors are recorded for the worker thread (which reopens).
fn build_typed<T>(
    device: &cpal::Device,
    config: StreamConfig,
    mut producer: rtrb::Producer<f32>,
    overruns: Arc<AtomicU64>,
    failure: Arc<Mutex<Option<String>>>,
) -> std::result::Result<cpal::Stream, String>
where
    T: SizedSample + Send + 'static,
    f32: FromSample<T>,
{
    device
        .build_input_stream::<T, _, _>(
            config,
            move |data: &[T], _info| {
                push(
                    &mut producer,
                    &overruns,
                    data.len(),
                    data.iter().map(|s| f32::from_sample_(*s)),
                );
            },
            move |err| {
                if matches!(
                    err.kind(),
                    cpal::ErrorKind::Xrun | cpal::ErrorKind::RealtimeDenied
                ) {
                    return;
                }
                *failure.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some(super::wasapi::in_words(&err.to_string()));
            },
            Some(OPEN_TIMEOUT),
        )
        .map_err(|e| e.to_string())
}
