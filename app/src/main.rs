//! `audiomi`: capture what a PC plays, stream it over TCP to any number of receivers, record it.
//!
//! With no subcommand it opens the GUI; `serve`, `record` and friends run headless.

/// `eprintln!` that never panics: a line stderr cannot take (a closed pipe) is dropped, so that
/// no path, the shutdown path least of all, depends on writing to stderr.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `println!` that never panics: output stdout cannot take (`audiomi devices | head -1`) is
/// dropped.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod cli;
mod fmt;
mod gui;
mod paths;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    init_tracing();
    match args.command {
        Some(command) => cli::main(command),
        None => window(),
    }
}

/// What the window needs and the terminal user can do instead, on one line.
const NO_DISPLAY: &str =
    "no display: use `audiomi serve` / `audiomi record` (see --help), or set DISPLAY";

/// Opens the window. Without a display (no `DISPLAY` or `WAYLAND_DISPLAY` on Linux, or one
/// that cannot be opened, which winit reports by panicking) prints one line and returns 1.
fn window() -> ExitCode {
    use std::io::Write;
    let say = |line: &str| {
        let _ = writeln!(std::io::stderr(), "audiomi: {line}");
    };
    if cfg!(target_os = "linux")
        && std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty())
        && std::env::var_os("WAYLAND_DISPLAY").is_none_or(|d| d.is_empty())
    {
        say(NO_DISPLAY);
        return ExitCode::FAILURE;
    }
    // A display that cannot be opened makes winit panic: that panic is the user's missing
    // display, not a bug, so it is told in one line; any other panic is reported as usual.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !is_display_failure(&panic_text(info.payload())) {
            default_hook(info);
        }
    }));
    match std::panic::catch_unwind(gui::run) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            say(&format!("cannot open the window: {e} ({NO_DISPLAY})"));
            ExitCode::FAILURE
        }
        Err(payload) if is_display_failure(&panic_text(&*payload)) => {
            say(&format!("{NO_DISPLAY} ({})", panic_text(&*payload)));
            ExitCode::FAILURE
        }
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// The message of a panic payload (a `&str` or a `String`), else "".
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Whether a panic message is winit's (or its X11/Wayland back ends') failure to reach a display.
fn is_display_failure(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    ["display", "backend", "xopendisplay", "wayland", "x11"]
        .iter()
        .any(|w| text.contains(w))
}

/// The log filter when `RUST_LOG` is not set: audioMi's own crates at `info`, every dependency at
/// `warn` (some log each icon, font or connection at `info`), and the `pulseaudio` client crate
/// off (it reports every closed connection as an error; cpal passes real stream errors on to
/// audioMi, which logs them), and symphonia off (it logs a file it cannot read as an ERROR
/// before returning the error that audioMi reports on one line).
pub const DEFAULT_LOG_FILTER: &str =
    "warn,pulseaudio=off,symphonia_core=off,symphonia=off,audiomi=info,engine=info,wire=info";

/// Logs go to stderr; `RUST_LOG` overrides [`DEFAULT_LOG_FILTER`]. A log line that cannot be
/// written (stderr a pipe whose reader has gone) is dropped: tracing-subscriber's report of such
/// a failure is an `eprintln!`, which panics on the same broken pipe and would take down
/// whichever thread logged, the shutdown path's included, so that report is off.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .log_internal_errors(false)
        .init();
}
