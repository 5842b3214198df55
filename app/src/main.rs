//! `audiomi`: capture what a PC plays, stream it over TCP to any number of receivers, record it.
//!
//! With no subcommand it opens the GUI; `serve`, `record` and friends run headless.

mod cli;
mod gui;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    init_tracing();
    cli::main(args)
}

/// Logs go to stderr; `RUST_LOG` overrides the default filter (`info`, PulseAudio client quiet).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // The PulseAudio client logs every connection it opens and closes: keep that out by default.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,pulseaudio=off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}
