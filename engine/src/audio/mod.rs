//! Audio in and out of the machine: sources (test tone, WAV file, sound cards), devices, capture,
//! playback, and the signal processing between them.
//!
//! - [`sources`]: what the user names as a source (`loopback`, `mic:ID`, `file:PATH`, `tone:HZ`),
//!   the tone and WAV-file generators.
//! - [`devices`]: one device lookup and one sample-format dispatch for cpal; device listings.
//! - [`capture`]: a sound card into a lock-free ring (loopback, microphone); [`ring`]: that
//!   ring's size and the push every capture callback does.
//! - [`playback`]: live listening through a jitter buffer.
//! - [`dsp`]: channel remix, PCM16 conversion; [`resample`]: libsamplerate in a stream.
//! - [`level`]: peak and RMS levels in dBFS.
//!
//! A new kind of source is a way to open an [`Input`] here, named by a new
//! [`sources::SourceSpec`] variant (which the CLI and the Server tab's picker list).
//!
//! An [`Input`] is what the source stage ([`crate::pipeline`]) consumes: generated on its clock,
//! or pushed by a device on the device's clock; [`SourceSpec::open`](sources::SourceSpec::open)
//! (here) makes one from what the user named. Nothing here depends on the pipeline.

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use crate::Result;

pub mod capture;
pub mod decimate;
pub mod decode;
pub mod devices;
pub mod dsp;
pub mod floor;
pub mod level;
pub mod playback;
pub mod playlist;
#[cfg(target_os = "linux")]
pub mod pulse;
pub mod resample;
pub mod ring;
pub mod sources;
pub mod wasapi;
pub mod wavfile;

pub use sources::Generator;

/// Audio pushed by a device callback through a lock-free ring (see the `capture` module).
pub struct Pushed {
    /// Interleaved `f32` samples written by the device callback.
    pub consumer: rtrb::Consumer<f32>,
    /// The device's sample rate in Hz.
    pub rate: u32,
    /// The device's channel count.
    pub channels: u16,
    /// Anything that must stay alive (on the worker thread) while capturing, e.g. the device stream.
    pub keepalive: Box<dyn std::any::Any>,
    /// Set for a device whose packets are dispatched on the source stage's own thread (libpulse's
    /// main loop, see the `pulse` module): the worker then waits in [`Pump::wait`] instead of
    /// sleeping, and runs its tick as soon as a packet arrived. None where the device has a
    /// thread of its own (cpal).
    pub pump: Option<Box<dyn Pump>>,
    /// Set by the device's error callback when the stream has failed (device removed, sound
    /// server gone); the worker then drops the device and reopens it.
    pub failure: Arc<Mutex<Option<String>>>,
    /// Samples the device delivered that did not fit in the ring.
    pub overruns: Arc<AtomicU64>,
}

/// A device driven from the source stage's thread: where the worker would sleep until its next
/// tick, it lets the device wait for its next packet instead, so a packet and the tick that
/// processes it cost one wake-up of one thread.
pub trait Pump {
    /// Polls the device until its next packet (or at the latest until `deadline`) and hands what
    /// arrived to the capture callback, which pushes it into the ring. Returns true if a packet
    /// arrived; false at `deadline` or on a spurious wake-up.
    ///
    /// # Errors
    /// Why the device stopped delivering (the sound server connection or the stream ended);
    /// the worker then drops the device and reopens it, as for a cpal stream's error.
    fn wait(&mut self, deadline: std::time::Instant) -> std::result::Result<bool, String>;
}

/// Where the pipeline gets its audio.
pub enum Input {
    /// Pulled on the pipeline's clock.
    Generated(Box<dyn Generator>),
    /// Pushed by a device on its own clock. The closure runs on the worker thread and opens the
    /// device there (some device handles may not move between threads); it is called again to
    /// reopen the device after a failure.
    Pushed(Box<dyn FnMut() -> Result<Pushed> + Send>),
}

impl sources::SourceSpec {
    /// Opens the source for a stream of `rate` Hz in chunks of `chunk` (a tone is generated at
    /// `rate`; a sound card is asked for about one chunk per callback). `looping` applies to
    /// `file:` sources. Sound cards are opened when the pipeline starts (on its thread).
    ///
    /// # Errors
    /// [`Error::Source`](crate::Error::Source) or [`Error::WavRead`](crate::Error::WavRead) if
    /// a tone or file cannot be opened; [`Error::Config`](crate::Error::Config) for a tone at
    /// or above half of `rate`.
    pub fn open(&self, looping: bool, rate: u32, chunk: std::time::Duration) -> Result<Input> {
        self.open_with(looping, false, rate, chunk)
    }

    /// As [`SourceSpec::open`](sources::SourceSpec::open); `shuffle` plays a `folder:` in
    /// random order (again at each loop). A `file:` with a `.wav` name is read with hound, any
    /// other with symphonia.
    ///
    /// # Errors
    /// As [`SourceSpec::open`](sources::SourceSpec::open); [`Error::Source`](crate::Error::Source)
    /// for a folder without audio files or a file symphonia does not read.
    pub fn open_with(
        &self,
        looping: bool,
        shuffle: bool,
        rate: u32,
        chunk: std::time::Duration,
    ) -> Result<Input> {
        use playlist::Playlist;
        use wavfile::WavFile;
        let is_wav = |p: &Path| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("wav"))
        };
        match self {
            Self::Tone(hz) => Ok(Input::Generated(Box::new(sources::Tone::new(*hz, rate)?))),
            Self::File(path) if is_wav(path) => {
                Ok(Input::Generated(Box::new(WavFile::open(path, looping)?)))
            }
            Self::File(path) => Ok(Input::Generated(Box::new(Playlist::file(path, looping)?))),
            Self::Folder(dir) => Ok(Input::Generated(Box::new(Playlist::folder(
                dir, shuffle, looping,
            )?))),
            Self::Loopback(_) | Self::Mic(_) => Ok(capture::open(self, chunk)),
        }
    }
}
