//! Sound devices through cpal: one lookup by id or name, one sample-format dispatch, and the
//! device listings (`audiomi devices`).
//!
//! cpal has no loopback API of its own. What "loopback" means per platform:
//! - **Linux** (PulseAudio, or PipeWire through pipewire-pulse): every sink has a *monitor
//!   source* (`<sink>.monitor`, "Monitor of …") that cpal lists as an input device. The default
//!   loopback is the monitor of the default sink. The default *input* is the default source,
//!   usually a microphone, not the monitor.
//! - **Windows** (WASAPI) and **macOS 14.6+** (CoreAudio process tap): an input stream built on an
//!   *output* device records what it plays, with the output device's default config.
//! - Plain ALSA has no monitor; a loopback needs `snd-aloop` or a sound server.

use std::time::Duration;

use cpal::SupportedStreamConfig;
use cpal::traits::{DeviceTrait, HostTrait};

use super::sources::SourceSpec;
use crate::{Error, Result};

/// Calls `$f::<T>(args…)` with `T` the Rust sample type of a cpal [`cpal::SampleFormat`] (every PCM
/// format cpal has); DSD formats, which are not PCM, give `Err(String)`.
macro_rules! with_sample_type {
    ($format:expr, $f:ident ( $($arg:expr),* )) => {
        match $format {
            cpal::SampleFormat::I8 => $f::<i8>($($arg),*),
            cpal::SampleFormat::I16 => $f::<i16>($($arg),*),
            cpal::SampleFormat::I24 => $f::<cpal::I24>($($arg),*),
            cpal::SampleFormat::I32 => $f::<i32>($($arg),*),
            cpal::SampleFormat::I64 => $f::<i64>($($arg),*),
            cpal::SampleFormat::U8 => $f::<u8>($($arg),*),
            cpal::SampleFormat::U16 => $f::<u16>($($arg),*),
            cpal::SampleFormat::U24 => $f::<cpal::U24>($($arg),*),
            cpal::SampleFormat::U32 => $f::<u32>($($arg),*),
            cpal::SampleFormat::U64 => $f::<u64>($($arg),*),
            cpal::SampleFormat::F32 => $f::<f32>($($arg),*),
            cpal::SampleFormat::F64 => $f::<f64>($($arg),*),
            other => Err(format!("sample format {other} is not supported (DSD is not PCM)")),
        }
    };
}
pub(crate) use with_sample_type;

/// How long cpal may take to open a stream: 5 s.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(5);

/// What a device is to audioMi.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeviceKind {
    /// Captures what an output plays (`loopback:ID`).
    Loopback,
    /// A capture device: microphone, line in (`mic:ID`).
    Microphone,
    /// A playback device (for live listening).
    Output,
}

impl DeviceKind {
    /// `loopback`, `mic` or `output`: the prefix used in source specs and listings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Loopback => "loopback",
            Self::Microphone => "mic",
            Self::Output => "output",
        }
    }
}

/// One device as listed by `audiomi devices`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// What it is.
    pub kind: DeviceKind,
    /// The id `--source loopback:ID` / `mic:ID` / `--output-device ID` accepts (cpal's device id,
    /// e.g. `pulseaudio:virt.monitor`).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Whether it is the default of its kind.
    pub is_default: bool,
    /// Native sample rate in Hz (0 if unknown).
    pub sample_rate: u32,
    /// Native channel count (0 if unknown).
    pub channels: u16,
}

impl DeviceInfo {
    /// Whether the device reported a configuration to open it with (a rate and channels above
    /// 0); ALSA lists plugins that report none.
    pub fn is_usable(&self) -> bool {
        self.sample_rate > 0 && self.channels > 0
    }

    /// The source spec that selects this device (`loopback:ID`, `mic:ID`), or the id for outputs.
    pub fn spec(&self) -> String {
        match self.kind {
            DeviceKind::Output => self.id.clone(),
            k => format!("{}:{}", k.as_str(), self.id),
        }
    }
}

pub(super) fn device_error(spec: &str, e: impl std::fmt::Display) -> Error {
    Error::Source {
        spec: spec.to_string(),
        reason: super::wasapi::in_words(&e.to_string()),
    }
}

pub(super) fn is_pulse(host: &cpal::Host) -> bool {
    host.id().name().eq_ignore_ascii_case("pulseaudio")
}

fn is_monitor(id: &str) -> bool {
    id.ends_with(".monitor")
}

pub(super) fn id_of(device: &cpal::Device) -> String {
    device.id().map(|i| i.to_string()).unwrap_or_default()
}

pub(super) fn name_of(device: &cpal::Device) -> String {
    device
        .description()
        .map(|d| d.name().to_string())
        .unwrap_or_else(|_| device.to_string())
}

/// The monitor of the default sink (Linux sound servers) or the default output (elsewhere).
fn default_loopback(host: &cpal::Host) -> Option<(cpal::Device, bool)> {
    let output = host.default_output_device()?;
    if is_pulse(host) {
        let want = format!("{}.monitor", id_of(&output));
        let monitor = host.input_devices().ok()?.find(|d| id_of(d) == want)?;
        Some((monitor, false))
    } else if cfg!(target_os = "linux") {
        None
    } else {
        Some((output, true))
    }
}

pub(super) fn config_of(device: &cpal::Device, via_output: bool) -> Option<SupportedStreamConfig> {
    if via_output {
        device.default_output_config().ok()
    } else {
        device.default_input_config().ok()
    }
}

/// Whether a sound server that has monitor sources runs: PulseAudio, or PipeWire through
/// pipewire-pulse (Linux). Without one, loopback is unavailable on Linux and cpal falls back to
/// plain ALSA. Always true on other platforms (their loopback needs no server).
pub fn sound_server_running() -> bool {
    !cfg!(target_os = "linux") || is_pulse(&cpal::default_host())
}

/// Runs `f` (which lists devices of `host`, the default host) with what the audio libraries
/// print caught and logged at `debug` (target `alsa`) instead of reaching the terminal. Without
/// a sound server, cpal lists devices through plain ALSA, and alsa-lib prints a line for every
/// plugin it fails to probe (through its error handler, caught on this thread) while its JACK
/// plugin's libjack writes to file descriptor 2 directly. So on the ALSA path, descriptor 2
/// points to a temporary file while `f` runs. That window is short, but other threads' stderr
/// output in it is logged here too.
fn quietly<T>(f: impl FnOnce(&cpal::Host) -> T) -> T {
    let host = cpal::default_host();
    #[cfg(target_os = "linux")]
    {
        let caught = alsa::Output::local_error_handler().ok();
        let diverted = if is_pulse(&host) {
            None
        } else {
            divert_stderr()
        };
        let result = f(&host);
        let mut text = caught.map(|c| c.borrow().to_string()).unwrap_or_default();
        if let Some(d) = diverted {
            text.push_str(&d.restore());
        }
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            tracing::debug!(target: "alsa", "{line}");
        }
        result
    }
    #[cfg(not(target_os = "linux"))]
    f(&host)
}

/// File descriptor 2, pointed at a temporary file until [`Diverted::restore`].
#[cfg(target_os = "linux")]
struct Diverted {
    saved: std::os::fd::OwnedFd,
    file: std::fs::File,
}

/// Points descriptor 2 at a temporary file; `None` on any failure (then nothing is caught).
#[cfg(target_os = "linux")]
fn divert_stderr() -> Option<Diverted> {
    use std::os::fd::AsFd;
    let file = tempfile::tempfile().ok()?;
    let saved = rustix::io::dup(std::io::stderr().as_fd()).ok()?;
    rustix::stdio::dup2_stderr(&file).ok()?;
    Some(Diverted { saved, file })
}

#[cfg(target_os = "linux")]
impl Diverted {
    /// Points descriptor 2 back where it was and returns what was written meanwhile.
    fn restore(mut self) -> String {
        use std::io::{Read, Seek};
        let _ = rustix::stdio::dup2_stderr(&self.saved);
        let mut text = String::new();
        if self.file.rewind().is_ok() {
            let _ = self.file.read_to_string(&mut text);
        }
        text
    }
}

/// Lists capture sources: loopback sources first (the default one first), then microphones
/// (the default one first), each with its native rate and channels. Devices that report no
/// usable configuration (ALSA plugins with rate 0) are left out. alsa-lib's probing messages are
/// logged at `debug`, not printed.
///
/// # Errors
/// [`Error::Source`] if the audio system cannot be queried at all.
pub fn list_sources() -> Result<Vec<DeviceInfo>> {
    quietly(list_sources_of)
}

fn list_sources_of(host: &cpal::Host) -> Result<Vec<DeviceInfo>> {
    let mut out = Vec::new();
    let default_loop = default_loopback(host).map(|(d, _)| id_of(&d));
    let default_mic = host.default_input_device().map(|d| id_of(&d));
    let inputs: Vec<cpal::Device> = host
        .input_devices()
        .map_err(|e| device_error("devices", e))?
        .collect();
    if is_pulse(host) || cfg!(target_os = "linux") {
        for d in &inputs {
            let id = id_of(d);
            let is_default_mic = default_mic.as_deref() == Some(id.as_str());
            if is_monitor(&id) {
                let is_default = default_loop.as_deref() == Some(id.as_str());
                out.push(info(d, DeviceKind::Loopback, is_default, false));
            }
            // The default source is what `mic` opens, even where it is a monitor.
            if !is_monitor(&id) || is_default_mic {
                out.push(info(d, DeviceKind::Microphone, is_default_mic, false));
            }
        }
    } else {
        let default_out = host.default_output_device().map(|d| id_of(&d));
        for d in host
            .output_devices()
            .map_err(|e| device_error("devices", e))?
        {
            let is_default = default_out.as_deref() == Some(id_of(&d).as_str());
            out.push(info(&d, DeviceKind::Loopback, is_default, true));
        }
        for d in &inputs {
            let is_default = default_mic.as_deref() == Some(id_of(d).as_str());
            out.push(info(d, DeviceKind::Microphone, is_default, false));
        }
    }
    out.retain(DeviceInfo::is_usable);
    out.sort_by(|a, b| (a.kind, !a.is_default, &a.id).cmp(&(b.kind, !b.is_default, &b.id)));
    Ok(out)
}

/// Lists playback devices (the default one first), leaving out those without a usable
/// configuration, like [`list_sources`].
///
/// # Errors
/// [`Error::Source`] if the audio system cannot be queried.
pub fn list_outputs() -> Result<Vec<DeviceInfo>> {
    quietly(list_outputs_of)
}

fn list_outputs_of(host: &cpal::Host) -> Result<Vec<DeviceInfo>> {
    let default_out = host.default_output_device().map(|d| id_of(&d));
    let mut out: Vec<DeviceInfo> = host
        .output_devices()
        .map_err(|e| device_error("devices", e))?
        .map(|d| {
            let is_default = default_out.as_deref() == Some(id_of(&d).as_str());
            info(&d, DeviceKind::Output, is_default, true)
        })
        .collect();
    out.retain(DeviceInfo::is_usable);
    out.sort_by(|a, b| (!a.is_default, &a.id).cmp(&(!b.is_default, &b.id)));
    Ok(out)
}

fn info(d: &cpal::Device, kind: DeviceKind, is_default: bool, via_output: bool) -> DeviceInfo {
    let config = config_of(d, via_output);
    DeviceInfo {
        kind,
        id: id_of(d),
        name: name_of(d),
        is_default,
        sample_rate: config
            .as_ref()
            .map_or(0, SupportedStreamConfig::sample_rate),
        channels: config.as_ref().map_or(0, SupportedStreamConfig::channels),
    }
}

/// Finds a device by cpal id (`pulseaudio:virt.monitor`), by the part after the host
/// (`virt.monitor`) or by its name.
pub(super) fn find(devices: impl Iterator<Item = cpal::Device>, id: &str) -> Option<cpal::Device> {
    let devices: Vec<cpal::Device> = devices.collect();
    let exact = devices.iter().position(|d| id_of(d) == id);
    let suffix = || {
        devices
            .iter()
            .position(|d| id_of(d).split_once(':').is_some_and(|(_, rest)| rest == id))
    };
    let named = || devices.iter().position(|d| name_of(d) == id);
    let i = exact.or_else(suffix).or_else(named)?;
    devices.into_iter().nth(i)
}

/// Finds a playback device: `None` is the default output, `Some(id)` is looked up like any
/// device (cpal id, the part after the host, or the name).
///
/// # Errors
/// [`Error::Source`] naming the device if there is no such output (or no default output).
pub fn resolve_output(id: Option<&str>) -> Result<cpal::Device> {
    let host = cpal::default_host();
    let err = |reason: &str| device_error(id.unwrap_or("default output"), reason);
    match id {
        None => host
            .default_output_device()
            .ok_or_else(|| err("no default output device")),
        Some(id) => {
            let outputs = host.output_devices().map_err(|e| err(&e.to_string()))?;
            find(outputs, id)
                .ok_or_else(|| err("no such output device; run `audiomi devices --outputs`"))
        }
    }
}

/// Resolves a loopback or microphone spec to a device and whether it is captured through its
/// output side (WASAPI/CoreAudio loopback).
pub(super) fn resolve(host: &cpal::Host, spec: &SourceSpec) -> Result<(cpal::Device, bool)> {
    let text = spec.to_string();
    let inputs = || host.input_devices().map_err(|e| device_error(&text, e));
    match spec {
        SourceSpec::Loopback(None) => default_loopback(host).ok_or_else(|| {
            device_error(
                &text,
                if cfg!(target_os = "linux") {
                    "no monitor source of the default output was found; is PulseAudio or PipeWire (pipewire-pulse) running? Run `audiomi devices` to see the sources"
                } else if cfg!(target_os = "macos") {
                    "no output device to tap; loopback needs macOS 14.6 or later (on older macOS, install a virtual device such as BlackHole and use it as mic:ID)"
                } else {
                    "no default output device"
                },
            )
        }),
        SourceSpec::Loopback(Some(id)) => {
            if is_pulse(host) || cfg!(target_os = "linux") {
                let monitor = if is_monitor(id) { id.clone() } else { format!("{id}.monitor") };
                find(inputs()?, &monitor)
                    .or_else(|| find(inputs().ok()?, id))
                    .map(|d| (d, false))
                    .ok_or_else(|| device_error(&text, "no such loopback source; run `audiomi devices` to list them"))
            } else {
                let outputs = host.output_devices().map_err(|e| device_error(&text, e))?;
                find(outputs, id)
                    .map(|d| (d, true))
                    .ok_or_else(|| device_error(&text, "no such output device; run `audiomi devices` to list them"))
            }
        }
        SourceSpec::Mic(None) => host
            .default_input_device()
            .map(|d| (d, false))
            .ok_or_else(|| device_error(&text, "no default input device (microphone)")),
        SourceSpec::Mic(Some(id)) => find(inputs()?, id)
            .map(|d| (d, false))
            .ok_or_else(|| device_error(&text, "no such input device; run `audiomi devices` to list them")),
        SourceSpec::File(_) | SourceSpec::Folder(_) | SourceSpec::Tone(_) => {
            Err(device_error(&text, "not a sound-card source"))
        }
    }
}
