//! The RTP output over 30 s of a pushed source (a sound card's clock) that stalls for 3 s in the
//! middle: every packet arrives on a UDP socket on 127.0.0.1 with consecutive sequence numbers
//! and timestamps, and the stall is carried as silence, not skipped.

use std::net::UdpSocket;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use engine::audio::{Input, Pushed};
use engine::pipeline::PipelineConfig;
use engine::rtp::RtpOptions;
use engine::station::{ServeOptions, Station};

/// One received packet: sequence number, timestamp, marker, and whether the payload is silent.
struct Packet {
    sequence: u16,
    timestamp: u32,
    marker: bool,
    silent: bool,
    len: usize,
}

fn parse(b: &[u8]) -> Packet {
    Packet {
        sequence: u16::from_be_bytes([b[2], b[3]]),
        timestamp: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        marker: b[1] & 0x80 != 0,
        silent: b[12..].iter().all(|&x| x == 0),
        len: b.len(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequence_numbers_and_timestamps_run_on_across_a_source_stall() {
    let receiver = UdpSocket::bind("127.0.0.1:0").expect("bind");
    receiver
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let dest = receiver.local_addr().expect("addr");
    // The "device": a ring the test fills in real time, as a sound card's callback would.
    let (give, take) = mpsc::channel();
    let open = move || {
        let (producer, consumer) = rtrb::RingBuffer::<f32>::new(16_000);
        let _ = give.send(producer);
        Ok(Pushed {
            consumer,
            rate: 16_000,
            channels: 1,
            keepalive: Box::new(()),
            pump: None,
            failure: Default::default(),
            overruns: Default::default(),
        })
    };
    let server = Station::start(
        ServeOptions::new("127.0.0.1:0", Input::Pushed(Box::new(open))).rtp(Some(RtpOptions {
            destinations: vec![dest],
            ttl: 1,
            sdp: None,
            name: "test".into(),
        })),
    )
    .await
    .expect("server starts");
    let mut producer = take.recv_timeout(Duration::from_secs(5)).expect("device");

    let packets = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        while let Ok(n) = receiver.recv(&mut buf) {
            got.push(parse(&buf[..n]));
        }
        got
    });
    // 12 s of a 440 Hz tone, 3 s of nothing (the device stalls), 15 s more.
    let start = Instant::now();
    let mut pushed = 0u64;
    while start.elapsed() < Duration::from_secs(30) {
        let t = start.elapsed().as_secs_f64();
        let due = (t * 16_000.0) as u64;
        if !(12.0..15.0).contains(&t) {
            while pushed < due && !producer.is_full() {
                let v = 0.25 * (std::f64::consts::TAU * 440.0 * pushed as f64 / 16_000.0).sin();
                let _ = producer.push(v as f32);
                pushed += 1;
            }
        } else {
            pushed = due;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.stop().await.expect("stop");
    let packets = packets.join().expect("receiver thread");

    // 30 s of 20 ms packets: 1,500 (less the start-up and what was still in the pipeline).
    assert!(packets.len() >= 1450, "{} packets", packets.len());
    for pair in packets.windows(2) {
        assert_eq!(
            pair[1].sequence,
            pair[0].sequence.wrapping_add(1),
            "sequence numbers skip"
        );
        assert_eq!(
            pair[1].timestamp,
            pair[0].timestamp.wrapping_add(320),
            "timestamps skip"
        );
        assert!(!pair[1].marker, "marker only on the first packet");
    }
    assert!(packets[0].marker);
    assert!(packets.iter().all(|p| p.len == 12 + 640));
    // The stall is carried as silence: a run of silent packets of nearly 3 s (the source stage
    // waits a little before it fills a stall), sound before and after it.
    let mut longest = 0;
    let mut run = 0;
    for p in &packets {
        run = if p.silent { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    assert!(
        (120..=155).contains(&longest),
        "silent packets in a row: {longest}"
    );
    assert!(!packets[100].silent && !packets[packets.len() - 100].silent);
}

/// An RTP output that cannot start (its SDP file cannot be written) fails the whole start with a
/// clear error, and leaves nothing listening: the web player's port is free again at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_output_start_leaves_no_listener_behind() {
    let web_port = audiomi_testkit::free_port();
    let pipeline = PipelineConfig::default();
    let input = engine::audio::sources::SourceSpec::Tone(440.0)
        .open(true, pipeline.rate, pipeline.chunk)
        .expect("tone");
    let err = Station::start(
        ServeOptions::new("127.0.0.1:0", input)
            .pipeline(pipeline)
            .web(Some(engine::station::WebOptions {
                listen: format!("127.0.0.1:{web_port}"),
                config: engine::web::WebConfig::default(),
            }))
            .rtp(Some(RtpOptions {
                destinations: vec!["127.0.0.1:9".parse().expect("addr")],
                ttl: 1,
                sdp: Some("/nonexistent-folder/stream.sdp".into()),
                name: "test".into(),
            })),
    )
    .await
    .expect_err("the SDP file cannot be written");
    let text = err.to_string();
    assert!(
        text.contains("RTP: cannot write the SDP file (/nonexistent-folder/stream.sdp)"),
        "{text}"
    );
    std::net::TcpListener::bind(("127.0.0.1", web_port)).expect("the web port is free again");
}
