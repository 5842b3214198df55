//! The source stage driving a device from its own thread ([`crate::audio::Pump`]), with a fake
//! device that delivers a packet of 20 ms (as libpulse does with one chunk per fragment) every
//! 21 ms (a device clock running slow against the machine's: the worker's ticks must follow the
//! packets, not drift against them), fails, or stays silent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::{Input, Notice, Output, Pipeline, PipelineConfig, Pushed};
use crate::audio::Pump;

/// 20 ms at 48 kHz.
const PACKET_FRAMES: usize = 960;

/// The fake device's packet period: 21 ms, 5 % slower than real time.
const PACKET_EVERY: Duration = Duration::from_millis(21);

/// A device whose packets of 20 ms arrive every [`PACKET_EVERY`] while polled.
struct FakeDevice {
    producer: rtrb::Producer<f32>,
    next_packet: Instant,
    /// Packets left before the device fails (None: never), or 0 to stay silent.
    packets_left: Option<u32>,
    waits: Arc<AtomicU64>,
}

impl Pump for FakeDevice {
    fn wait(&mut self, deadline: Instant) -> Result<bool, String> {
        self.waits.fetch_add(1, Ordering::Relaxed);
        if self.packets_left == Some(0) {
            return Err("unplugged".into());
        }
        let until = self.next_packet.min(deadline);
        thread::sleep(until.saturating_duration_since(Instant::now()));
        if Instant::now() < self.next_packet {
            return Ok(false);
        }
        self.next_packet += PACKET_EVERY;
        if let Some(n) = self.packets_left.as_mut() {
            *n -= 1;
        }
        for _ in 0..PACKET_FRAMES * 2 {
            let _ = self.producer.push(0.5);
        }
        Ok(true)
    }
}

/// What a run of about `millis` ms produced: chunks, notices, device opens, polls.
struct Run {
    chunks: Vec<super::Chunk>,
    notices: Vec<Notice>,
    opens: u64,
    waits: u64,
    silence_inserted: u64,
}

/// Runs a pipeline on a fake device for `millis` ms; each open makes a device that fails after
/// `packets` packets (None: never), or one that never delivers (`silent`).
fn run(millis: u64, packets: Option<u32>, silent: bool) -> Run {
    let opens = Arc::new(AtomicU64::new(0));
    let waits = Arc::new(AtomicU64::new(0));
    let (o2, w2) = (opens.clone(), waits.clone());
    let open = move || {
        o2.fetch_add(1, Ordering::Relaxed);
        let (producer, consumer) = rtrb::RingBuffer::<f32>::new(96_000);
        // The first packet half a chunk off the worker's clock (which starts about now).
        let first = Instant::now() + Duration::from_millis(if silent { 3_600_000 } else { 30 });
        Ok(Pushed {
            consumer,
            rate: 48_000,
            channels: 2,
            keepalive: Box::new(()),
            pump: Some(Box::new(FakeDevice {
                producer,
                next_packet: first,
                packets_left: packets,
                waits: w2.clone(),
            })),
            failure: Arc::default(),
            overruns: Arc::default(),
        })
    };
    let out = Arc::new(Mutex::new((Vec::new(), Vec::new())));
    let o = out.clone();
    let config = PipelineConfig {
        rate: 48_000,
        channels: 2,
        ..PipelineConfig::default()
    };
    let p = Pipeline::spawn(Input::Pushed(Box::new(open)), config, move |x| {
        let mut o = o.lock().expect("lock");
        match x {
            Output::Chunk(c) => o.0.push(c),
            Output::Notice(n) => o.1.push(n),
        }
    })
    .expect("spawn");
    thread::sleep(Duration::from_millis(millis));
    let silence_inserted = p.stats().silence_inserted.load(Ordering::Relaxed);
    p.stop();
    let (chunks, notices) = std::mem::take(&mut *out.lock().expect("lock"));
    Run {
        chunks,
        notices,
        opens: opens.load(Ordering::Relaxed),
        waits: waits.load(Ordering::Relaxed),
        silence_inserted,
    }
}

#[test]
fn a_pumped_device_is_processed_as_its_packets_arrive() {
    let r = run(600, None, false);
    // 600 ms of a packet every 21 ms: about 28 chunks, each the device's samples (0.5: -6.02
    // dBFS).
    assert!(
        (24..=29).contains(&r.chunks.len()),
        "{} chunks",
        r.chunks.len()
    );
    for (i, c) in r.chunks.iter().enumerate() {
        assert_eq!(c.position, i as u64 * PACKET_FRAMES as u64);
        assert!((c.level.peak_dbfs + 6.02).abs() < 0.01, "{:?}", c.level);
    }
    assert_eq!(r.silence_inserted, 0);
    // One poll per packet: a packet ends the wait and its tick follows at once, instead of the
    // worker waking again on a clock of its own.
    assert!(
        r.waits <= r.chunks.len() as u64 + 3,
        "{} polls for {} packets",
        r.waits,
        r.chunks.len()
    );
}

#[test]
fn a_pumped_device_that_fails_is_reopened() {
    // Each device fails after 5 packets (105 ms); the worker waits 250 ms before reopening.
    let r = run(900, Some(5), false);
    assert!(r.opens >= 2, "opened {} times", r.opens);
    let failed = r
        .notices
        .iter()
        .filter(|n| matches!(n, Notice::SourceFailed(why) if why.contains("unplugged")))
        .count();
    let restored = r
        .notices
        .iter()
        .filter(|n| matches!(n, Notice::SourceRestored(_)))
        .count();
    assert!(failed >= 1 && restored >= 1, "{:?}", r.notices);
    // The stream went on through the gap: positions stay continuous.
    for (i, c) in r.chunks.iter().enumerate() {
        assert_eq!(c.position, i as u64 * PACKET_FRAMES as u64);
    }
}

#[test]
fn a_silent_pumped_device_is_filled_with_silence_in_real_time() {
    let r = run(600, None, true);
    assert!(r.silence_inserted > 0);
    // Without packets the worker ticks every 1.5 chunks; silence covers all the time since
    // the start (less a tick and scheduling slack).
    assert!(
        r.chunks.len() >= (600 - 30 - 60) / 20,
        "{} chunks",
        r.chunks.len()
    );
    assert!(r.chunks.iter().all(|c| c.level.peak_dbfs < -90.0));
}
