//! The encoding thread's idle mode and the WAV burst (see [`super::live`]).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::live::{IDLE_POLL, PcmFrame, burst, start};
use crate::audio::level::Level;
use crate::pipeline::{Chunk, Output};
use crate::stream::ChunkStream;

/// A 20 ms chunk of 16 kHz mono at chunk index `i` (320 samples, position `320 × i`),
/// produced by the source stage at `base + 20 ms × i`.
fn chunk(i: u64, base: Instant) -> Output {
    Output::Chunk(Chunk {
        position: 320 * i,
        pcm: Bytes::from(vec![(i % 251) as u8; 640]),
        legacy: None,
        level: Level::SILENCE,
        produced_at: base + Duration::from_millis(20 * i),
    })
}

#[test]
fn a_listener_joining_while_nobody_listened_gets_the_burst_and_every_chunk_once() {
    let stream = ChunkStream::new(256);
    let (encoded, thread) = start(&stream, 16_000, 1, 256).expect("encoder starts");
    // 3 s of chunks, the last one produced now, with nobody listening: the thread catches
    // up on its own...
    let base = Instant::now() - Duration::from_millis(20 * 149);
    for i in 0..150 {
        stream.publish(chunk(i, base));
    }
    std::thread::sleep(IDLE_POLL * 3);
    // ...while the source goes on in real time (the 750 ms just slept: 37 chunks, which it
    // has most likely not all read when the listener arrives).
    for i in 150..187 {
        stream.publish(chunk(i, base));
    }
    let (recent, mut rx) = encoded.subscribe_pcm_with_recent();
    for i in 187..197 {
        stream.publish(chunk(i, base));
    }
    let mut positions: Vec<u64> = recent.iter().map(|f| f.position).collect();
    while positions.last() != Some(&(320 * 196)) {
        let frame = rx.blocking_recv().expect("live chunks follow the burst");
        positions.push(frame.position);
    }
    let first = positions[0] / 320;
    let expected: Vec<u64> = (first..197).map(|i| 320 * i).collect();
    assert_eq!(positions, expected, "no chunk lost or repeated");
    // The burst and the chunks the thread had yet to take reach WAV_BURST (100 chunks) back
    // from the stream's head when the listener joined (chunk 187, a little later on a
    // loaded machine), however many of them the thread had taken.
    assert!((86..=92).contains(&first), "burst starts at chunk {first}");
    drop(stream);
    thread.join().expect("the encoder ends with the stream");
}

#[test]
fn the_burst_ends_at_the_streams_head_not_at_the_newest_chunk_taken() {
    let now = Instant::now();
    let frame = |i: u64| PcmFrame {
        position: 320 * i,
        pcm: Bytes::new(),
    };
    // Chunks 0..100 (2 s at 16 kHz), the newest produced `ago` before now.
    let recent = |ago: Duration| -> VecDeque<(Instant, PcmFrame)> {
        (0..100)
            .map(|i| (now - ago - Duration::from_millis(20 * (99 - i)), frame(i)))
            .collect()
    };
    let first = |ago| burst(&recent(ago), now, 16_000, 32_000)[0].position / 320;
    // Just taken: all 100; 250 ms behind: the 12 chunks still to come cut 12 from the start.
    assert_eq!(first(Duration::from_millis(10)), 0);
    assert_eq!(first(Duration::from_millis(250)), 12);
    assert!(burst(&VecDeque::new(), now, 16_000, 32_000).is_empty());
}
