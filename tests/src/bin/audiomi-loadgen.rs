//! `audiomi-loadgen`: opens N receivers against an audioMi server that streams a ramp
//! (`audiomi serve --source file:ramp.wav --loop`, see `audiomi_tests::write_ramp`), parses every
//! frame strictly, checks that every receiver's stream is gap-free and uncorrupted, and reports
//! the delivery delay. Exits 1 if any receiver saw a gap, corruption or error.
//!
//! Delivery delay: every frame carries its stream position (AUDIO_AT extension). For each frame,
//! `arrival − position / rate` is its offset; the smallest offset over all receivers and frames
//! is the fastest delivery seen, and a frame's delay is its offset minus that. It measures how
//! much later than the best case audioMi hands a frame to a receiver (queueing, scheduling,
//! fan-out order), not the network's base latency.
//!
//! ```text
//! audiomi-loadgen --write-ramp ramp.wav
//! audiomi serve --source file:ramp.wav --loop &
//! audiomi-loadgen --port 26070 --clients 1000 --seconds 10
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::codec::ClientSide;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;
use wire::{ClientFrame, ServerFrame};

struct Args {
    host: String,
    port: u16,
    clients: usize,
    seconds: f64,
    checkcode: i32,
    rate: u32,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        host: "127.0.0.1".into(),
        port: wire::DEFAULT_PORT,
        clients: 100,
        seconds: 10.0,
        checkcode: wire::DEFAULT_CHECKCODE,
        rate: wire::DEFAULT_SAMPLE_RATE,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--host" => a.host = value()?,
            "--port" => a.port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--clients" => a.clients = value()?.parse().map_err(|e| format!("--clients: {e}"))?,
            "--seconds" => a.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--checkcode" => {
                a.checkcode = value()?.parse().map_err(|e| format!("--checkcode: {e}"))?
            }
            "--rate" => a.rate = value()?.parse().map_err(|e| format!("--rate: {e}"))?,
            "--write-ramp" => {
                let path = value()?;
                audiomi_tests::write_ramp(std::path::Path::new(&path));
                println!("wrote {path}");
                std::process::exit(0);
            }
            "--help" | "-h" => {
                println!(
                    "usage: audiomi-loadgen [--host H] [--port P] [--clients N] [--seconds S] [--checkcode C] [--rate HZ]"
                );
                println!(
                    "       audiomi-loadgen --write-ramp PATH   (the 16 kHz mono ramp WAV to serve)"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

#[derive(Default)]
struct Report {
    frames: u64,
    samples: u64,
    gaps: u64,
    corrupt: u64,
    error: Option<String>,
    /// Per frame: arrival − position/rate, in seconds since the common start.
    offsets: Vec<f64>,
}

async fn receiver(args: Arc<Args>, start: Instant, deadline: Instant) -> Report {
    let mut report = Report::default();
    let stream = match TcpStream::connect((args.host.as_str(), args.port)).await {
        Ok(s) => s,
        Err(e) => {
            report.error = Some(format!("connect: {e}"));
            return report;
        }
    };
    let _ = stream.set_nodelay(true);
    let mut framed = Framed::new(stream, ClientSide(wire::Codec::new(args.checkcode)));
    if let Err(e) = async {
        framed.feed(ClientFrame::ExtHello).await?;
        framed.send(ClientFrame::Ping).await
    }
    .await
    {
        report.error = Some(format!("send: {e}"));
        return report;
    }
    let mut expected: Option<u64> = None;
    let mut ramp_offset: Option<u16> = None;
    let rate = f64::from(args.rate);
    loop {
        let next = tokio::time::timeout_at(deadline.into(), framed.next()).await;
        let frame = match next {
            Err(_) => break, // deadline
            Ok(None) => {
                report.error = Some("server closed the connection".into());
                break;
            }
            Ok(Some(Err(e))) => {
                report.error = Some(format!("protocol: {e}"));
                break;
            }
            Ok(Some(Ok(f))) => f,
        };
        let arrival = start.elapsed().as_secs_f64();
        match frame {
            ServerFrame::AudioAt { position, pcm } => {
                let samples = (pcm.len() / 2) as u64;
                if let Some(e) = expected
                    && e != position
                {
                    report.gaps += 1;
                }
                // Ramp: sample − position is the same constant (mod 65536) in every sample of
                // every frame. Checked for every sample, branch-free so it vectorises.
                if let Some(first) = pcm.get(..2) {
                    let first = u16::from_le_bytes([first[0], first[1]]);
                    let off = first.wrapping_sub(position as u16);
                    let in_order = pcm.chunks_exact(2).enumerate().fold(true, |ok, (i, b)| {
                        ok & (u16::from_le_bytes([b[0], b[1]]) == first.wrapping_add(i as u16))
                    });
                    if !in_order || pcm.len() % 2 != 0 || *ramp_offset.get_or_insert(off) != off {
                        report.corrupt += 1;
                    }
                }
                expected = Some(position + samples);
                report.frames += 1;
                report.samples += samples;
                report.offsets.push(arrival - position as f64 / rate);
            }
            ServerFrame::Audio(_) => {
                report.error = Some("legacy AUDIO after EXT_HELLO".into());
                break;
            }
            ServerFrame::Ack { status } if status != 0 => {
                report.error = Some(format!("ACK status {status}"));
                break;
            }
            ServerFrame::Ack { .. } | ServerFrame::Format(_) => {}
        }
    }
    report
}

fn main() {
    let args = match parse_args() {
        Ok(a) => Arc::new(a),
        Err(e) => {
            eprintln!("audiomi-loadgen: {e}");
            std::process::exit(2);
        }
    };
    let runtime = audiomi_tests::runtime_or_exit("audiomi-loadgen");
    let reports = runtime.block_on(async {
        let start = Instant::now();
        let deadline = start + Duration::from_secs_f64(args.seconds);
        let mut tasks = Vec::with_capacity(args.clients);
        for i in 0..args.clients {
            tasks.push(tokio::spawn(receiver(args.clone(), start, deadline)));
            if i % 200 == 199 {
                // Let the server accept in batches rather than overflowing its backlog.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        let mut reports = Vec::with_capacity(tasks.len());
        for t in tasks {
            reports.push(t.await.unwrap_or_else(|e| Report {
                error: Some(format!("task: {e}")),
                ..Report::default()
            }));
        }
        reports
    });
    // Ignore the first second of every receiver (connection set-up) for the delay figures.
    let mut offsets: Vec<f64> = reports
        .iter()
        .flat_map(|r| r.offsets.iter().skip(50).copied())
        .collect();
    offsets.sort_by(f64::total_cmp);
    let best = offsets.first().copied().unwrap_or(0.0);
    let delays: Vec<f64> = offsets.iter().map(|o| (o - best) * 1000.0).collect();
    let frames: u64 = reports.iter().map(|r| r.frames).sum();
    let gaps: u64 = reports.iter().map(|r| r.gaps).sum();
    let corrupt: u64 = reports.iter().map(|r| r.corrupt).sum();
    let with_gaps = reports
        .iter()
        .filter(|r| r.gaps > 0 || r.corrupt > 0)
        .count();
    let errors: Vec<&String> = reports.iter().filter_map(|r| r.error.as_ref()).collect();
    let starved = reports.iter().filter(|r| r.frames == 0).count();
    println!(
        "receivers {} | frames {} | samples per receiver {:.0} | receivers with gaps {} (gaps {}, corrupt frames {}) | errors {} | no audio {}",
        reports.len(),
        frames,
        reports.iter().map(|r| r.samples).sum::<u64>() as f64 / reports.len().max(1) as f64,
        with_gaps,
        gaps,
        corrupt,
        errors.len(),
        starved
    );
    println!(
        "delivery delay ms: p50 {:.2} | p99 {:.2} | max {:.2}",
        audiomi_tests::percentile(&delays, 0.5),
        audiomi_tests::percentile(&delays, 0.99),
        delays.last().copied().unwrap_or(0.0)
    );
    if let Some(e) = errors.first() {
        println!("first error: {e}");
    }
    let ok = with_gaps == 0 && errors.is_empty() && starved == 0;
    println!(
        "loadgen: {} passed, {} failed",
        usize::from(ok),
        usize::from(!ok)
    );
    std::process::exit(if ok { 0 } else { 1 });
}
