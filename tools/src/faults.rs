//! The bad peers and checks of `scripts/reliability.sh` and `tests/reliability.rs`.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// PING with the default checkcode (`checkcode 20250918, cmd 99`, little-endian).
const PING: [u8; 8] = [0x26, 0x01, 0x35, 0x01, 0x63, 0x00, 0x00, 0x00];

/// How a bad client's connection ended.
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    /// The server closed it (reset, or end of stream once its buffered audio was read).
    Closed,
    /// Still open when checked.
    Open,
    /// Connecting or sending failed (a send failing because the server closed is a close too).
    ConnectFailed(String),
}

/// Drains what the server sent (buffered before it gave up) and waits for the close.
async fn closed_within(mut s: TcpStream, limit: Duration) -> End {
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline.into(), s.read(&mut buf)).await {
            Err(_) => return End::Open,
            Ok(Ok(0)) | Ok(Err(_)) => return End::Closed,
            Ok(Ok(_)) => {}
        }
    }
}

async fn bad_client(kind: &'static str, addr: String, hold: Duration) -> (&'static str, End) {
    let mut s = match TcpStream::connect(&addr).await {
        Ok(s) => s,
        Err(e) => return (kind, End::ConnectFailed(e.to_string())),
    };
    let sent = match kind {
        "stalled" => s.write_all(&PING).await,
        "random bytes" => {
            // Deterministic garbage (an LCG): never a valid checkcode.
            let mut x: u32 = 0x1234_5678;
            let bytes: Vec<u8> = (0..4096)
                .map(|_| {
                    x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (x >> 24) as u8
                })
                .collect();
            s.write_all(&bytes).await
        }
        "wrong checkcode" => s.write_all(&[1, 0, 0, 0, 0x63, 0, 0, 0]).await,
        "2 GB size claim" => {
            let mut f = PING.to_vec();
            f[4] = 1; // AUDIO, which a client must not send, claiming 2,000,000,000 bytes
            f.extend_from_slice(&2_000_000_000i32.to_le_bytes());
            s.write_all(&f).await
        }
        "silent" => Ok(()),
        "half-open" => match s.write_all(&PING).await {
            Ok(()) => s.shutdown().await,
            Err(e) => Err(e),
        },
        _ => Ok(()),
    };
    if let Err(e) = sent {
        // The server may already have closed: that is an end too.
        return (kind, End::ConnectFailed(format!("send: {e}")));
    }
    // Never read while the healthy receivers run...
    tokio::time::sleep(hold).await;
    // ...then see whether the server closed this connection.
    (kind, closed_within(s, Duration::from_secs(5)).await)
}

/// Opens, next to whatever healthy receivers run, `stalled` clients that PING and then never
/// read, plus one of each: random bytes, wrong checkcode, a 2 GB size claim (as a client frame
/// it is garbage after a header), a client that never sends nor reads, and a half-open one
/// (sends PING, shuts its write side, never reads). After `hold` it checks, for 5 s more,
/// whether the server closed each one. Prints one line per bad client and a count of the
/// stalled ones closed; true if every one was closed.
pub async fn bad_clients(addr: &str, stalled: usize, hold: Duration) -> bool {
    let addr = addr.to_string();
    let mut tasks = Vec::new();
    for _ in 0..stalled {
        tasks.push(tokio::spawn(bad_client("stalled", addr.clone(), hold)));
    }
    for kind in [
        "random bytes",
        "wrong checkcode",
        "2 GB size claim",
        "silent",
        "half-open",
    ] {
        tasks.push(tokio::spawn(bad_client(kind, addr.clone(), hold)));
    }
    let mut ok = true;
    let mut stalled_closed = 0;
    for t in tasks {
        let Ok((kind, end)) = t.await else {
            ok = false;
            continue;
        };
        match (kind, &end) {
            ("stalled", End::Closed) => stalled_closed += 1,
            ("stalled", _) => ok = false,
            // A silent client is legal (the original client may ping late): it gets audio after
            // the grace period, never reads it, and so must be dropped for lagging too.
            (_, End::Closed) => println!("{kind}: closed by the server"),
            (_, End::ConnectFailed(e)) if e.starts_with("send") => {
                println!("{kind}: closed by the server while sending ({e})")
            }
            (_, other) => {
                println!("{kind}: NOT closed ({other:?})");
                ok = false;
            }
        }
    }
    println!("stalled clients closed by the server: {stalled_closed} of {stalled}");
    ok
}

/// Connect, PING, read the ACK, close: `cycles` times, `parallel` at once. Prints the count, the
/// time and the failures; true if none failed.
pub async fn storm(addr: &str, cycles: usize, parallel: usize) -> bool {
    let addr = addr.to_string();
    let start = Instant::now();
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let mut tasks = Vec::with_capacity(cycles);
    for _ in 0..cycles {
        let Ok(permit) = sem.clone().acquire_owned().await else {
            break;
        };
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let mut s = TcpStream::connect(&addr).await.map_err(|e| e.to_string())?;
            s.write_all(&PING).await.map_err(|e| e.to_string())?;
            let mut ack = [0u8; 9];
            tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut ack))
                .await
                .map_err(|_| "no ACK within 5 s".to_string())?
                .map_err(|e| e.to_string())?;
            if ack[4] != 0x63 || ack[8] != 0 {
                return Err(format!("bad ACK {ack:?}"));
            }
            Ok::<(), String>(())
        }));
    }
    let mut failures = Vec::new();
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(e),
            Err(e) => failures.push(e.to_string()),
        }
    }
    println!(
        "storm: {} connect/PING/ACK/close cycles in {:.1} s, {} failed{}",
        cycles,
        start.elapsed().as_secs_f64(),
        failures.len(),
        failures
            .first()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );
    failures.is_empty()
}

/// Checks a recording of `serve --source file:ramp.wav`: every sample must be the ramp value for
/// its index (the first sample fixes the offset) or silence inserted for a gap. Prints samples,
/// ramp samples, silent runs and wrong samples; true if no sample is wrong.
pub fn check_ramp(path: &str) -> bool {
    let mut reader = match hound::WavReader::open(path) {
        Ok(r) => r,
        Err(e) => {
            println!("{path}: {e}");
            return false;
        }
    };
    let samples: Vec<i16> = reader.samples::<i16>().map_while(Result::ok).collect();
    let Some(&first) = samples.first() else {
        println!("{path}: no samples");
        return false;
    };
    let (mut ramp, mut silent, mut wrong, mut runs) = (0usize, 0usize, 0usize, Vec::new());
    let mut run = 0usize;
    for (i, &s) in samples.iter().enumerate() {
        let expected = first.wrapping_add(i as i16);
        if s == expected {
            ramp += 1;
            if run > 0 {
                runs.push(run);
                run = 0;
            }
        } else if s == 0 {
            silent += 1;
            run += 1;
        } else {
            wrong += 1;
        }
    }
    if run > 0 {
        runs.push(run);
    }
    println!(
        "{path}: {} samples ({:.3} s) | ramp samples {ramp} | silence inserted {silent} samples in {} runs {:?} | wrong samples {wrong}",
        samples.len(),
        samples.len() as f64 / f64::from(reader.spec().sample_rate),
        runs.len(),
        runs
    );
    wrong == 0
}
