//! Work the Receiver tab runs outside its update (starting and awaiting a recording, the
//! recording's events, opening a folder) and how engine errors are put into words and placed.

use std::path::PathBuf;

use engine::audio::playback::PlaybackConfig;
use engine::receiver::{RecordConfig, RecordEvent, RecordingHandle, Summary};

use super::Session;
use crate::gui::form::{Problem, Spot};

/// Parses the *Record to* field: a file path, not a folder. (A folder that does not exist or
/// cannot be written is found when recording starts, before connecting, and shown at the field.)
///
/// # Errors
/// A message for an empty path or a folder.
pub fn validate_out(v: &str) -> Result<PathBuf, String> {
    let v = v.trim();
    if v.is_empty() {
        return Err("type the path of a .wav file, or Browse…".into());
    }
    let path = PathBuf::from(v);
    if path.is_dir() || v.ends_with(std::path::MAIN_SEPARATOR) {
        return Err("this is a folder: add a file name, e.g. recording.wav".into());
    }
    Ok(path)
}

/// Parses the duration field: empty is no limit.
///
/// # Errors
/// A message for anything but a positive number of seconds.
pub fn validate_duration(v: &str) -> Result<Option<f64>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    match v.parse::<f64>() {
        Ok(d) if d.is_finite() && d > 0.0 => Ok(Some(d)),
        _ => Err("a positive number of seconds, or empty".into()),
    }
}

/// Turns engine error texts into advice a user can act on.
pub fn friendly(e: &str) -> String {
    if e.contains("Connection refused") {
        format!(
            "Nobody is serving at that address and port (connection refused). Is the server started? ({e})"
        )
    } else if e.contains("wrong checkcode") {
        // One sentence: the advice, then who did it (the engine's text would say it again).
        let who = e.split_once(": wrong checkcode").map_or(e, |(who, _)| who);
        format!("The checkcode differs from the server's, or it is not an audioMi server ({who}).")
    } else if e.contains("did not answer PING") {
        format!("Something answers at that address, but not as an audioMi server. ({e})")
    } else if e.contains("nothing was received") {
        format!("Nothing was recorded, so no file was written. ({e})")
    } else if e.contains("timed out") {
        format!("The server did not answer in time: check the address and any firewall. ({e})")
    } else if e.contains("Permission denied")
        || e.contains("No such file or directory") && e.contains("cannot write")
    {
        format!("The file cannot be written there: choose another folder. ({e})")
    } else {
        e.to_string()
    }
}

/// Where an engine error is shown: next to the field it concerns, in words a user can act on.
pub fn place(e: &engine::Error) -> Problem {
    use engine::Error as E;
    let text = friendly(&e.to_string());
    let spot = match e {
        E::Connect { .. } | E::ConnectTimeout { .. } | E::NoAnswer { .. } => Spot::Host,
        E::NotAudiomi { .. } => Spot::Checkcode,
        E::Protocol {
            source: wire::Error::WrongCheckcode { .. },
            ..
        } => Spot::Checkcode,
        E::WavWrite { .. } | E::FileExists { .. } | E::OutputIsDirectory { .. } => Spot::File,
        E::WrongKey { .. }
        | E::KeyRequired { .. }
        | E::FingerprintMismatch { .. }
        | E::CertificateChanged { .. }
        | E::Tls { .. }
        | E::TlsPort { .. }
        | E::Identity { .. } => Spot::Private,
        _ => Spot::Action,
    };
    Problem::at(spot, text)
}

/// Starts recording `config` (opening the player with `playback`, if any): the session to hand
/// to [`super::Message::Started`].
///
/// # Errors
/// The file cannot be written (shown at *Record to*) or the output device cannot be opened
/// (shown at the output picker).
pub async fn begin(
    id: u64,
    config: RecordConfig,
    playback: Option<PlaybackConfig>,
) -> Result<Session, Problem> {
    let listening = playback.is_some();
    RecordingHandle::start(config, playback)
        .await
        .map(|handle| Session { id, handle })
        .map_err(|e| match place(&e) {
            Problem {
                spot: Spot::Action, ..
            } if listening => Problem::at(Spot::Output, format!("Cannot play: {e}")),
            p => p,
        })
}

/// Waits for the recording of `session` to end: what is in the file, and the error that ended
/// it (placed at the field it concerns).
pub async fn run(session: Session) -> (Summary, Option<Problem>) {
    let finished = session.handle.finished().await;
    (finished.summary, finished.error.map(|e| place(&e)))
}

pub(super) struct EventsRef(pub(super) Session);

impl std::hash::Hash for EventsRef {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.id.hash(state);
    }
}

/// Refresh ticks of the recording: when the meter or the elapsed time (whole seconds, which
/// also brings the counters up to date) would show something new ([`crate::gui::ticks`]).
pub(super) fn ticks(session: &EventsRef) -> impl futures::Stream<Item = super::Message> + use<> {
    use futures::StreamExt;
    let stats = session.0.handle.stats().clone();
    let started = std::time::Instant::now();
    let mut meter = crate::gui::meter::MeterWatch::default();
    crate::gui::ticks::when_changed(move || {
        (meter.update(stats.level()), started.elapsed().as_secs())
    })
    .map(|()| super::Message::Tick)
}

/// The recording's events (replayed from its start).
pub(super) fn events(session: &EventsRef) -> impl futures::Stream<Item = RecordEvent> + use<> {
    session.0.events()
}

/// Opens `dir` in the desktop's file manager (blocks until `xdg-open` has handed it on).
///
/// # Errors
/// A sentence for the window: the opener cannot be run, or (`xdg-open`, whose exit code says
/// so; Windows' `explorer` exits 1 even when it opened the folder) found nothing to open it with.
pub fn open_folder(dir: &std::path::Path) -> Result<(), String> {
    let program = if cfg!(target_os = "windows") {
        "explorer"
    } else if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let mut command = std::process::Command::new(program);
    command.arg(dir).stdin(std::process::Stdio::null());
    let failed = |why: String| {
        format!(
            "Cannot open the folder ({why}); the recording is in {}",
            dir.display()
        )
    };
    if program != "xdg-open" {
        return command
            .spawn()
            .map(drop)
            .map_err(|e| failed(format!("{program}: {e}")));
    }
    match command.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(failed(format!("xdg-open found no file manager: {status}"))),
        Err(e) => Err(failed(format!("xdg-open: {e}"))),
    }
}
