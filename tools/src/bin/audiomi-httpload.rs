//! `audiomi-httpload`: N listeners of a live HTTP stream (an Icecast mount, the web player's
//! `/stream.opus`), each reading everything for the run; prints how many stayed connected and
//! the body bytes each received, so that the server's cost per listener can be measured beside it.
//!
//! ```text
//! audiomi-httpload --url http://127.0.0.1:8000/live.opus --listeners 1000 --seconds 30
//! ```
//! Listeners join at `--connects-per-sec` and each reads for `--seconds` from its own start.
//! With `--check-ogg` each listener also checks the Ogg/Opus stream it gets: page sequence
//! numbers +1 and granule positions continuous (`audiomi_tools::ogg_check`).
//! Exits 1 if any listener failed, received less than half the bytes of the best one (it fell
//! behind) or, with `--check-ogg`, saw a gap.

use std::time::{Duration, Instant};

use audiomi_tools::ogg_check::OggCheck;
use clap::Parser;

/// Command line.
#[derive(Debug, Parser)]
#[command(about = "N listeners of a live HTTP stream")]
struct Args {
    /// The stream, `http://HOST:PORT/PATH`.
    #[arg(long)]
    url: String,
    /// Listeners.
    #[arg(long, default_value_t = 1000)]
    listeners: usize,
    /// Seconds each listener reads.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// New connections per second while the listeners join (Icecast 2.4 listens with a backlog
    /// of 5, so a faster burst leaves connections waiting for SYN-ACK retransmissions).
    #[arg(long, default_value_t = 500)]
    connects_per_sec: u32,
    /// Check every listener's Ogg pages: sequence numbers and granule positions continuous.
    #[arg(long)]
    check_ogg: bool,
}

/// What one listener received.
#[derive(Debug, Default)]
struct Heard {
    bytes: u64,
    /// The Ogg check (`--check-ogg`), or `None`.
    ogg: Option<OggCheck>,
}

/// Reads `url` with `client` until `end` (checking its Ogg pages if `check_ogg`); what it
/// received (body bytes), or why it stopped.
async fn listen(
    client: reqwest::Client,
    url: String,
    end: Instant,
    check_ogg: bool,
) -> Result<Heard, String> {
    let mut response = tokio::time::timeout_at(end.into(), client.get(&url).send())
        .await
        .map_err(|_| "no response before the end".to_string())?
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| format!("request: {e}"))?;
    let mut heard = Heard {
        ogg: check_ogg.then(OggCheck::default),
        ..Heard::default()
    };
    loop {
        let chunk = match tokio::time::timeout_at(end.into(), response.chunk()).await {
            Err(_) => return Ok(heard),
            Ok(Ok(Some(chunk))) => chunk,
            Ok(Ok(None)) => return Err(format!("closed after {} bytes", heard.bytes)),
            Ok(Err(e)) => return Err(format!("read: {e}")),
        };
        heard.bytes += chunk.len() as u64;
        if let Some(ogg) = heard.ogg.as_mut() {
            ogg.feed(&chunk);
        }
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    audiomi_tools::raise_fd_limit();
    // One client, one connection per listener (a live stream never returns its connection to
    // the pool); no proxy: the stream is on this machine or the test's own network.
    let client = match reqwest::Client::builder().no_proxy().build() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("audiomi-httpload: {e}");
            std::process::exit(2);
        }
    };
    let mut tasks = Vec::with_capacity(args.listeners);
    let gap = Duration::from_secs(1) / args.connects_per_sec.max(1);
    let mut pace = tokio::time::interval(gap);
    for _ in 0..args.listeners {
        pace.tick().await;
        // Each listener reads for the same time from its own start.
        let end = Instant::now() + Duration::from_secs(args.seconds);
        tasks.push(tokio::spawn(listen(
            client.clone(),
            args.url.clone(),
            end,
            args.check_ogg,
        )));
    }
    let (mut received, mut failures) = (Vec::new(), Vec::new());
    let (mut pages, mut gaps, mut first_gap) = (0u64, 0u64, None);
    for t in tasks {
        match t.await {
            Ok(Ok(h)) => {
                received.push(h.bytes);
                if let Some(c) = h.ogg {
                    pages += c.pages;
                    gaps += c.gaps;
                    first_gap = first_gap.or(c.first_gap);
                }
            }
            Ok(Err(e)) => failures.push(e),
            Err(e) => failures.push(e.to_string()),
        }
    }
    received.sort_unstable();
    let best = received.last().copied().unwrap_or(0);
    let behind = received.iter().filter(|&&n| n < best / 2).count();
    println!(
        "{} listeners for {} s: {} completed, {} failed, {} fell behind; bytes each: min {} median {} max {}",
        args.listeners,
        args.seconds,
        received.len(),
        failures.len(),
        behind,
        received.first().copied().unwrap_or(0),
        received.get(received.len() / 2).copied().unwrap_or(0),
        best
    );
    if let Some(e) = failures.first() {
        println!("first failure: {e}");
    }
    if args.check_ogg {
        println!("Ogg pages checked: {pages}, gaps: {gaps}");
        if let Some(g) = &first_gap {
            println!("first gap: {g}");
        }
    }
    if !failures.is_empty() || behind > 0 || gaps > 0 {
        std::process::exit(1);
    }
}
