//! `audiomi-loadgen`: opens N receivers against an audioMi server that streams a ramp, checks
//! every stream gap-free and uncorrupted and reports the delivery delay (see
//! [`audiomi_tools::loadgen`]). Exits 1 if any receiver saw a gap, corruption or error; 2 on a
//! usage error.
//!
//! ```text
//! audiomi-loadgen --write-ramp ramp.wav
//! audiomi serve --source file:ramp.wav --loop &
//! audiomi-loadgen --port 26070 --clients 1000 --seconds 10
//! audiomi-loadgen --port 26071 --tls --clients 1000 --seconds 10   # with `serve --tls`
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use audiomi_tools::loadgen::{self, Options};
use clap::Parser;

/// Receivers against a ramp server: gap, corruption and delay report.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Server host.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = wire::DEFAULT_PORT)]
    port: u16,
    /// Receivers to open.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Seconds each receiver receives.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// The server's checkcode.
    #[arg(long, default_value_t = wire::DEFAULT_CHECKCODE, allow_negative_numbers = true)]
    checkcode: i32,
    /// The stream's sample rate in Hz.
    #[arg(long, default_value_t = wire::DEFAULT_SAMPLE_RATE)]
    rate: u32,
    /// Connect to the server's TLS port (`serve --tls`; any certificate is accepted).
    #[arg(long)]
    tls: bool,
    /// Only write the 16 kHz mono ramp WAV to serve to PATH, then exit.
    #[arg(long, value_name = "PATH")]
    write_ramp: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(path) = &args.write_ramp {
        audiomi_testkit::write_ramp(path);
        println!("wrote {}", path.display());
        return ExitCode::SUCCESS;
    }
    let options = Options {
        host: args.host,
        port: args.port,
        clients: args.clients,
        seconds: args.seconds,
        checkcode: args.checkcode,
        rate: args.rate,
        tls: args.tls,
    };
    let runtime = audiomi_testkit::runtime_or_exit("audiomi-loadgen");
    let summary = runtime.block_on(loadgen::run(&options));
    println!("{summary}");
    let ok = summary.ok();
    println!(
        "loadgen: {} passed, {} failed",
        usize::from(ok),
        usize::from(!ok)
    );
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
