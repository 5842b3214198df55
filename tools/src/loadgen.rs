//! A load generator: N receivers against an audioMi server that streams a ramp
//! (`audiomi serve --source file:ramp.wav --loop`, see `audiomi_testkit::write_ramp`); every
//! frame is parsed strictly and every receiver's stream checked gap-free and uncorrupted.
//!
//! Delivery delay: every frame carries its stream position (AUDIO_AT extension). For each frame,
//! `arrival − position / rate` is its offset; the smallest offset over all receivers and frames
//! is the fastest delivery seen, and a frame's delay is its offset minus that. It measures how
//! much later than the best case audioMi hands a frame to a receiver (queueing, scheduling,
//! fan-out order), not the network's base latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::codec::ClientSide;
use engine::secure::client::{TlsClientOptions, dial};
use futures::{SinkExt, StreamExt};
use tokio_util::codec::Framed;
use wire::{ClientFrame, ServerFrame};

/// Longest wait for one receiver's connection (and TLS handshake): 30 s.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Server host.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Receivers to open.
    pub clients: usize,
    /// How long each receiver receives, in seconds.
    pub seconds: f64,
    /// The server's checkcode.
    pub checkcode: i32,
    /// The stream's sample rate in Hz (for the delay figures).
    pub rate: u32,
    /// Connect with TLS (the server's TLS port; any certificate is accepted, no access key).
    pub tls: bool,
}

/// What the receivers saw, summed.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Receivers run.
    pub receivers: usize,
    /// Audio frames received, all receivers.
    pub frames: u64,
    /// Samples received per receiver, on average.
    pub samples_per_receiver: f64,
    /// Receivers that saw a gap or a corrupt frame.
    pub with_gaps: usize,
    /// Position jumps, all receivers.
    pub gaps: u64,
    /// Frames whose samples were not the ramp, all receivers.
    pub corrupt: u64,
    /// Receivers that ended with an error, and the first error.
    pub errors: usize,
    /// The first error, if any.
    pub first_error: Option<String>,
    /// Receivers that got no audio at all.
    pub starved: usize,
    /// Delivery delay percentiles and maximum, in ms (after each receiver's first second).
    pub delay_ms: (f64, f64, f64),
}

impl Summary {
    /// Every receiver got audio without a gap, corruption or error.
    pub fn ok(&self) -> bool {
        self.with_gaps == 0 && self.errors == 0 && self.starved == 0
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "receivers {} | frames {} | samples per receiver {:.0} | receivers with gaps {} (gaps {}, corrupt frames {}) | errors {} | no audio {}",
            self.receivers,
            self.frames,
            self.samples_per_receiver,
            self.with_gaps,
            self.gaps,
            self.corrupt,
            self.errors,
            self.starved
        )?;
        write!(
            f,
            "delivery delay ms: p50 {:.2} | p99 {:.2} | max {:.2}",
            self.delay_ms.0, self.delay_ms.1, self.delay_ms.2
        )?;
        if let Some(e) = &self.first_error {
            write!(f, "\nfirst error: {e}")?;
        }
        Ok(())
    }
}

/// Runs `options.clients` receivers for `options.seconds` (opened in batches of 200) and sums
/// what they saw.
pub async fn run(options: &Options) -> Summary {
    let args = Arc::new(options.clone());
    let reports = {
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
    };
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
    Summary {
        receivers: reports.len(),
        frames,
        samples_per_receiver: reports.iter().map(|r| r.samples).sum::<u64>() as f64
            / reports.len().max(1) as f64,
        with_gaps,
        gaps,
        corrupt,
        errors: errors.len(),
        first_error: errors.first().map(|e| (*e).clone()),
        starved: reports.iter().filter(|r| r.frames == 0).count(),
        delay_ms: (
            audiomi_testkit::percentile(&delays, 0.5),
            audiomi_testkit::percentile(&delays, 0.99),
            delays.last().copied().unwrap_or(0.0),
        ),
    }
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

async fn receiver(args: Arc<Options>, start: Instant, deadline: Instant) -> Report {
    let mut report = Report::default();
    let addr = format!("{}:{}", args.host, args.port);
    let tls = args.tls.then(TlsClientOptions::default);
    let stream = match dial(&addr, tls.as_ref(), args.checkcode, CONNECT_TIMEOUT).await {
        Ok(s) => s,
        Err(e) => {
            report.error = Some(format!("connect: {e}"));
            return report;
        }
    };
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
            ServerFrame::Ack { .. }
            | ServerFrame::Format(_)
            | ServerFrame::KeyResult { .. }
            | ServerFrame::Text { .. }
            | ServerFrame::NowPlaying { .. }
            | ServerFrame::End { .. } => {}
        }
    }
    report
}
