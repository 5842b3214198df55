//! Per-connection log lines, kept to a few a second whatever peers do.
//!
//! A peer decides how often it connects, so a line per connection lets it grow the log at will
//! (50 clients sending a wrong checkcode every 100 ms wrote 9,750 lines in 10 s). Two gates:
//!
//! - [`refused`]: a connection refused or closed early (wrong checkcode, bad key, a bound
//!   broken). The first of each kind in a [`WINDOW`] is logged by the caller as before; the rest
//!   are counted and summed up in one line per kind when the window ends: "4,875 connections
//!   closed: wrong checkcode, from 50 addresses in the last 10 s".
//! - [`line()`]: a line about an admitted connection (joined, left). Logged while a token bucket of
//!   [`BURST`] lines refilled at [`LINES_PER_SEC`] has a token; past that, counted and summed up
//!   the same way.
//!
//! The summaries are written by one thread (`audiomi-logsum`) that sleeps until something is
//! counted, so an idle server pays nothing. The gates never block: one short lock per call.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// How long counts are gathered before their summary is written: 10 s.
pub const WINDOW: Duration = Duration::from_secs(10);
/// Lines of [`line()`] written at once before the bucket runs dry: 10.
pub const BURST: f64 = 10.0;
/// Lines of [`line()`] written per second in the long run: 2.
pub const LINES_PER_SEC: f64 = 2.0;
/// Distinct addresses remembered per kind and window (counting stops there: "at least").
const MAX_ADDRESSES: usize = 4096;

#[derive(Default)]
struct Tally {
    /// Events counted (not logged one by one).
    count: u64,
    addresses: HashSet<IpAddr>,
    /// Events of this kind seen in this window, logged or not.
    seen: u64,
}

struct State {
    window_start: Instant,
    kinds: BTreeMap<&'static str, Tally>,
    tokens: f64,
    refilled: Instant,
    flusher: bool,
}

struct Gate {
    state: Mutex<State>,
    wake: Condvar,
}

fn gate() -> &'static Gate {
    static GATE: OnceLock<Gate> = OnceLock::new();
    GATE.get_or_init(|| Gate {
        state: Mutex::new(State {
            window_start: Instant::now(),
            kinds: BTreeMap::new(),
            tokens: BURST,
            refilled: Instant::now(),
            flusher: false,
        }),
        wake: Condvar::new(),
    })
}

/// A connection refused or closed early, of kind `what` (a plural phrase: "connections closed:
/// wrong checkcode"), from `ip` if known. Returns whether the caller should log its own line for
/// it: true for the first of its kind in the current window (and while the bucket of [`line()`]
/// has a token); otherwise it is counted for the window's summary.
pub fn refused(what: &'static str, ip: Option<IpAddr>) -> bool {
    note(what, ip, true)
}

/// A line about an admitted connection (kind `what`, e.g. "receivers connected"): returns
/// whether the caller should log it, which it may while the token bucket ([`BURST`],
/// [`LINES_PER_SEC`]) has a token; otherwise it is counted for the window's summary.
pub fn line(what: &'static str, ip: Option<IpAddr>) -> bool {
    note(what, ip, false)
}

/// As [`refused`], for an event with nothing worth a line of its own: always counted and summed
/// up.
pub fn closed(what: &'static str, ip: Option<IpAddr>) {
    let mut s = lock();
    count(&mut s, what, ip);
    wake_flusher(s);
}

fn lock() -> std::sync::MutexGuard<'static, State> {
    gate().state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn note(what: &'static str, ip: Option<IpAddr>, first_only: bool) -> bool {
    let mut s = lock();
    let now = Instant::now();
    let refill = now.duration_since(s.refilled).as_secs_f64() * LINES_PER_SEC;
    s.tokens = (s.tokens + refill).min(BURST);
    s.refilled = now;
    let first = s.kinds.get(what).is_none_or(|t| t.seen == 0);
    let allowed = s.tokens >= 1.0 && (first || !first_only);
    if allowed {
        s.tokens -= 1.0;
        s.kinds.entry(what).or_default().seen += 1;
        return true;
    }
    count(&mut s, what, ip);
    wake_flusher(s);
    false
}

fn count(s: &mut State, what: &'static str, ip: Option<IpAddr>) {
    let tally = s.kinds.entry(what).or_default();
    tally.seen += 1;
    tally.count += 1;
    if let Some(ip) = ip
        && tally.addresses.len() < MAX_ADDRESSES
    {
        tally.addresses.insert(ip);
    }
}

/// Starts the summary thread the first time something is counted (under the lock `s` the count
/// was made with), and wakes it.
fn wake_flusher(mut s: std::sync::MutexGuard<'static, State>) {
    let g = gate();
    if !s.flusher {
        s.flusher = true;
        let started = std::thread::Builder::new()
            .name("audiomi-logsum".into())
            .spawn(flush_loop);
        if started.is_err() {
            s.flusher = false;
        }
    }
    drop(s);
    g.wake.notify_one();
}

fn flush_loop() {
    let g = gate();
    let mut s = lock();
    loop {
        while !s.kinds.values().any(|t| t.count > 0) {
            s.window_start = Instant::now();
            s.kinds.clear();
            s = g.wake.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
        let due = s.window_start + WINDOW;
        let now = Instant::now();
        if now < due {
            s = g
                .wake
                .wait_timeout(s, due - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            continue;
        }
        let lines = take_summaries(&mut s, now);
        drop(s);
        for l in lines {
            tracing::info!("{l}");
        }
        s = lock();
    }
}

/// The summary lines of the window that ends at `now`, and a new window.
fn take_summaries(s: &mut State, now: Instant) -> Vec<String> {
    let secs = now.duration_since(s.window_start).as_secs_f64().round();
    let lines = s
        .kinds
        .iter()
        .filter(|(_, t)| t.count > 0)
        .map(|(what, t)| summary(t.count, what, t.addresses.len(), secs))
        .collect();
    s.kinds.clear();
    s.window_start = now;
    lines
}

/// "4,875 connections closed: wrong checkcode, from 50 addresses in the last 10 s".
fn summary(count: u64, what: &str, addresses: usize, secs: f64) -> String {
    let from = match addresses {
        0 => String::new(),
        1 => ", from 1 address".to_string(),
        n if n >= MAX_ADDRESSES => format!(", from at least {} addresses", thousands(n as u64)),
        n => format!(", from {} addresses", thousands(n as u64)),
    };
    format!(
        "{} {what}{from} in the last {secs:.0} s (not logged one by one)",
        thousands(count)
    )
}

/// `n` with a comma between thousands: 4875 → "4,875".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_with_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(4875), "4,875");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(
            summary(4875, "connections closed: wrong checkcode", 50, 10.0),
            "4,875 connections closed: wrong checkcode, from 50 addresses in the last 10 s (not logged one by one)"
        );
    }

    #[test]
    fn a_flood_of_refusals_is_one_line_then_a_count() {
        let ip: IpAddr = [10, 9, 8, 7].into();
        let what = "test connections refused (quiet unit test)";
        let logged = (0..1000).filter(|_| refused(what, Some(ip))).count();
        // The first of a window is logged (unless other tests drained the bucket); the rest are
        // counted, with their one address.
        assert!(logged <= 1, "{logged} logged");
        let s = lock();
        let t = s.kinds.get(what).expect("counted");
        assert_eq!((t.count, t.addresses.len()), (1000 - logged as u64, 1));
    }

    #[test]
    fn admitted_lines_are_held_to_the_bucket() {
        let what = "test receivers connected (quiet unit test)";
        let logged = (0..1000).filter(|_| line(what, None)).count();
        // Other tests in this process may take tokens too: never more than the burst plus what
        // refills while the loop runs.
        assert!((1..=BURST as usize + 2).contains(&logged), "{logged}");
    }
}
