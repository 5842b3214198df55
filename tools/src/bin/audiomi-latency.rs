//! `audiomi-latency`: what audioMi adds between the source stage and a receiver.
//!
//! In one process: the real server (`Server::start`: the source stage, a 440 Hz tone at the
//! chosen chunk size paced in real time, publishing into the chunk stream; the TCP fan-out
//! thread; the accept loop on 127.0.0.1) and N receivers that opt in to the AUDIO_AT extension.
//! A probe subscribed to the chunk stream stores, by stream position, the moment each chunk left
//! the source stage (`Chunk::produced_at`); a receiver's latency for a frame is its arrival (the
//! codec has parsed the whole frame off the socket) minus that moment, on the same monotonic
//! clock. The device buffer is not included (the tone has none). The first second of each run is
//! skipped (connection set-up).
//!
//! ```text
//! audiomi-latency --clients 1,100,1000 --chunk-ms 20,10 --seconds 10
//! ```
//! Prints one line per (clients, chunk) pair; exits 1 if a receiver lost a frame or failed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use engine::audio::sources::SourceSpec;
use engine::codec::ClientSide;
use engine::pipeline::{Output, PipelineConfig};
use engine::server::ServerConfig;
use engine::station::{ServeOptions, Station};
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;
use wire::{ClientFrame, ServerFrame};

/// Leaving time of each chunk by stream position (samples).
type Sent = Arc<Mutex<HashMap<u64, Instant>>>;

struct Outcome {
    /// Frames after the first second: (stream position, arrival).
    arrivals: Vec<(u64, Instant)>,
    error: Option<String>,
}

async fn receiver(addr: std::net::SocketAddr, skip_until: Instant, end: Instant) -> Outcome {
    let mut out = Outcome {
        arrivals: Vec::new(),
        error: None,
    };
    let stream = match TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) => {
            out.error = Some(format!("connect: {e}"));
            return out;
        }
    };
    let _ = stream.set_nodelay(true);
    let mut framed = Framed::new(stream, ClientSide(wire::Codec::default()));
    if let Err(e) = async {
        framed.feed(ClientFrame::ExtHello).await?;
        framed.send(ClientFrame::Ping).await
    }
    .await
    {
        out.error = Some(format!("send: {e}"));
        return out;
    }
    let mut expected = None;
    loop {
        let frame = match tokio::time::timeout_at(end.into(), framed.next()).await {
            Err(_) => break,
            Ok(None) => {
                out.error = Some("closed by the server".into());
                break;
            }
            Ok(Some(Err(e))) => {
                out.error = Some(format!("protocol: {e}"));
                break;
            }
            Ok(Some(Ok(f))) => f,
        };
        let arrival = Instant::now();
        if let ServerFrame::AudioAt { position, pcm } = frame {
            if expected.is_some_and(|e| e != position) {
                out.error = Some(format!("gap before position {position}"));
                break;
            }
            expected = Some(position + (pcm.len() / 2) as u64);
            if arrival < skip_until {
                continue;
            }
            out.arrivals.push((position, arrival));
        }
    }
    out
}

async fn run(clients: usize, chunk_ms: u64, seconds: f64) -> Result<String, String> {
    let pipeline = PipelineConfig {
        chunk: Duration::from_millis(chunk_ms),
        ..PipelineConfig::default()
    };
    let input = SourceSpec::Tone(440.0)
        .open(true, pipeline.rate, pipeline.chunk)
        .map_err(|e| e.to_string())?;
    let server = Station::start(
        ServeOptions::new("127.0.0.1:0", input)
            .pipeline(pipeline)
            .server(ServerConfig {
                max_clients: clients + 10,
                ..ServerConfig::default()
            }),
    )
    .await
    .map_err(|e| e.to_string())?;
    let addr = server.local_addr();
    let sent: Sent = Arc::default();
    let probe = {
        let mut probe = server
            .stream()
            .ok_or("the server has no chunk stream")?
            .subscribe("latency probe");
        let sent = sent.clone();
        std::thread::spawn(move || {
            while let Some(item) = probe.recv_blocking() {
                if let (Output::Chunk(chunk), Ok(mut m)) = (item, sent.lock()) {
                    m.insert(chunk.position, chunk.produced_at);
                }
            }
        })
    };
    let start = Instant::now();
    let skip_until = start + Duration::from_secs(1);
    let end = start + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::with_capacity(clients);
    for i in 0..clients {
        tasks.push(tokio::spawn(receiver(addr, skip_until, end)));
        if i % 200 == 199 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let mut latencies = Vec::new();
    let mut errors = Vec::new();
    for t in tasks {
        match t.await {
            Ok(o) => {
                errors.extend(o.error);
                let sent = sent.lock().map_err(|e| e.to_string())?;
                for (position, arrival) in o.arrivals {
                    match sent.get(&position) {
                        Some(left) => latencies
                            .push(arrival.saturating_duration_since(*left).as_secs_f64() * 1000.0),
                        None => errors.push(format!("position {position} was never published")),
                    }
                }
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    server.stop().await.map_err(|e| e.to_string())?;
    let _ = tokio::task::spawn_blocking(move || probe.join()).await;
    latencies.sort_by(f64::total_cmp);
    let line = format!(
        "receivers {clients} | chunk {chunk_ms} ms | frames {} | latency ms p50 {:.2} | p99 {:.2} | max {:.2} | errors {}",
        latencies.len(),
        audiomi_testkit::percentile(&latencies, 0.5),
        audiomi_testkit::percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        errors.len()
    );
    match errors.first() {
        Some(e) => Err(format!("{line}\nfirst error: {e}")),
        None if latencies.is_empty() => Err(format!("{line}\nno frames measured")),
        None => Ok(line),
    }
}

/// Latency from the source stage to a receiver's socket, at each audience and chunk size.
#[derive(Debug, clap::Parser)]
#[command(version)]
struct Args {
    /// Audiences to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,100,1000")]
    clients: Vec<u32>,
    /// Chunk durations in ms, comma-separated.
    #[arg(long = "chunk-ms", value_delimiter = ',', default_value = "20,10")]
    chunks: Vec<u64>,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
}

fn main() {
    let Args {
        clients,
        chunks,
        seconds,
    } = <Args as clap::Parser>::parse();
    let runtime = audiomi_testkit::runtime_or_exit("audiomi-latency");
    let mut failed = false;
    for &chunk in &chunks {
        for &n in &clients {
            match runtime.block_on(run(n as usize, chunk, seconds)) {
                Ok(line) => println!("{line}"),
                Err(e) => {
                    println!("{e}");
                    failed = true;
                }
            }
        }
    }
    std::process::exit(i32::from(failed));
}
