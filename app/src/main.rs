//! `audiomi`: capture what a PC plays, stream it over TCP to any number of receivers, record it.
//!
//! With no subcommand it opens the GUI; `serve`, `record` and friends run headless.

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
        None => match gui::run() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!(
                    "audiomi: cannot open the window: {e} (without a display, use `audiomi serve` / `audiomi record`; see --help)"
                );
                ExitCode::FAILURE
            }
        },
    }
}

/// The log filter when `RUST_LOG` is not set: audioMi's own crates at `info`, every dependency at
/// `warn` (some log each icon, font or connection at `info`), and the `pulseaudio` client crate
/// off (it reports every closed connection as an error; cpal passes real stream errors on to
/// audioMi, which logs them).
pub const DEFAULT_LOG_FILTER: &str = "warn,pulseaudio=off,audiomi=info,engine=info,wire=info";

/// Logs go to stderr; `RUST_LOG` overrides [`DEFAULT_LOG_FILTER`].
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}
