//! `audiomi-faults`: the bad peers and checks of `scripts/reliability.sh` (see
//! [`audiomi_tools::faults`]). Exits 1 if the server misbehaved (a bad client not closed, a
//! storm cycle failed, a wrong sample in a ramp recording), 2 on a usage error.

use std::process::ExitCode;
use std::time::Duration;

use audiomi_tools::faults;
use clap::{Parser, Subcommand};

/// Bad peers and checks for fault tests.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

/// Where the server listens.
#[derive(Debug, clap::Args)]
struct Server {
    /// Server host.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = wire::DEFAULT_PORT)]
    port: u16,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Stalled clients and one of each bad kind; reports how each ended.
    BadClients {
        #[command(flatten)]
        server: Server,
        /// Clients that PING and never read.
        #[arg(long, default_value_t = 100)]
        stalled: usize,
        /// Seconds to hold them before checking they were closed.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
    /// Connect/PING/ACK/close cycles.
    Storm {
        #[command(flatten)]
        server: Server,
        /// Cycles in all.
        #[arg(long, default_value_t = 5000)]
        cycles: usize,
        /// Cycles at once.
        #[arg(long, default_value_t = 50)]
        parallel: usize,
    },
    /// Checks a recording of the ramp: ramp values or inserted silence only.
    CheckRamp {
        /// The WAV file.
        file: String,
    },
}

fn main() -> ExitCode {
    let ok = match Args::parse().command {
        Command::CheckRamp { file } => faults::check_ramp(&file),
        Command::BadClients {
            server,
            stalled,
            seconds,
        } => {
            let addr = format!("{}:{}", server.host, server.port);
            let hold = Duration::from_secs_f64(seconds);
            audiomi_testkit::runtime_or_exit("audiomi-faults")
                .block_on(faults::bad_clients(&addr, stalled, hold))
        }
        Command::Storm {
            server,
            cycles,
            parallel,
        } => {
            let addr = format!("{}:{}", server.host, server.port);
            audiomi_testkit::runtime_or_exit("audiomi-faults")
                .block_on(faults::storm(&addr, cycles, parallel))
        }
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
