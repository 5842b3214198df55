//! `audiomi-httpload`: N listeners of a live HTTP stream (an Icecast mount, the web player's
//! `/stream.opus`), each reading everything for the run; prints how many stayed connected and
//! the bytes each received, so that the server's cost per listener can be measured beside it.
//!
//! ```text
//! audiomi-httpload --url http://127.0.0.1:8000/live.opus --listeners 1000 --seconds 30
//! ```
//! Listeners join at `--connects-per-sec` and each reads for `--seconds` from its own start.
//! Exits 1 if any listener failed or received less than half the bytes of the best one (it fell
//! behind).

use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
}

/// Reads `path` from `authority` until `end`; the bytes received, or why it stopped.
async fn listen(authority: String, path: String, end: Instant) -> Result<u64, String> {
    let mut s = tokio::net::TcpStream::connect(&authority)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n").as_bytes())
        .await
        .map_err(|e| format!("request: {e}"))?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0u64;
    loop {
        match tokio::time::timeout_at(end.into(), s.read(&mut buf)).await {
            Err(_) => return Ok(total),
            Ok(Ok(0)) => return Err(format!("closed after {total} bytes")),
            Ok(Ok(n)) => total += n as u64,
            Ok(Err(e)) => return Err(format!("read: {e}")),
        }
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    audiomi_tools::raise_fd_limit();
    let rest = args.url.strip_prefix("http://").unwrap_or(&args.url);
    let (authority, path) = match rest.find('/') {
        Some(i) => (rest[..i].to_string(), rest[i..].to_string()),
        None => (rest.to_string(), "/".to_string()),
    };
    let mut tasks = Vec::with_capacity(args.listeners);
    let gap = Duration::from_secs(1) / args.connects_per_sec.max(1);
    let mut pace = tokio::time::interval(gap);
    for _ in 0..args.listeners {
        pace.tick().await;
        // Each listener reads for the same time from its own start.
        let end = Instant::now() + Duration::from_secs(args.seconds);
        tasks.push(tokio::spawn(listen(authority.clone(), path.clone(), end)));
    }
    let (mut received, mut failures) = (Vec::new(), Vec::new());
    for t in tasks {
        match t.await {
            Ok(Ok(n)) => received.push(n),
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
    if !failures.is_empty() || behind > 0 {
        std::process::exit(1);
    }
}
