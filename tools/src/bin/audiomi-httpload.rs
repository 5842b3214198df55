//! `audiomi-httpload`: N listeners of a live HTTP stream (an Icecast mount, the web player's
//! `/stream.opus`), each reading everything for the run; prints how many stayed connected and
//! the bytes each received, so that the server's cost per listener can be measured beside it.
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

/// Reads `path` from `authority` until `end` (checking its Ogg pages if `check_ogg`); what it
/// received, or why it stopped.
async fn listen(
    authority: String,
    path: String,
    end: Instant,
    check_ogg: bool,
) -> Result<Heard, String> {
    let mut s = tokio::net::TcpStream::connect(&authority)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n").as_bytes())
        .await
        .map_err(|e| format!("request: {e}"))?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut heard = Heard {
        ogg: check_ogg.then(OggCheck::default),
        ..Heard::default()
    };
    // The response head, kept until its end is seen (then the body goes to the check).
    let mut head = Some(Vec::new());
    loop {
        let n = match tokio::time::timeout_at(end.into(), s.read(&mut buf)).await {
            Err(_) => return Ok(heard),
            Ok(Ok(0)) => return Err(format!("closed after {} bytes", heard.bytes)),
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(format!("read: {e}")),
        };
        heard.bytes += n as u64;
        let Some(ogg) = heard.ogg.as_mut() else {
            continue;
        };
        match head.as_mut() {
            None => ogg.feed(&buf[..n]),
            Some(h) => {
                h.extend_from_slice(&buf[..n]);
                if let Some(p) = h.windows(4).position(|w| w == b"\r\n\r\n") {
                    ogg.feed(&h[p + 4..]);
                    head = None;
                }
            }
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
        tasks.push(tokio::spawn(listen(
            authority.clone(),
            path.clone(),
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
