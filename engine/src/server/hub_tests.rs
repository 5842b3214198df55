//! Unit tests of the hub's write batching.

use std::time::Instant;

use bytes::Bytes;

use super::Hub;
use crate::audio::level::Level;
use crate::pipeline::Chunk;
use crate::server::{MAX_CHUNKS_PER_WRITE, ServerConfig};

fn chunk(position: u64) -> Chunk {
    Chunk {
        position,
        pcm: Bytes::from(vec![0u8; 640]),
        legacy: None,
        level: Level::SILENCE,
        produced_at: Instant::now(),
    }
}

fn held(hub: &Hub) -> usize {
    hub.pending.lock().expect("pending").chunks
}

/// Under the write budget every chunk is written at once.
#[test]
fn a_fan_out_in_time_writes_every_chunk_at_once() {
    let hub = Hub::new(ServerConfig::default());
    for i in 0..4 {
        hub.publish_behind(&chunk(i * 320), 0);
        assert_eq!(held(&hub), 0);
    }
}

/// A fan-out with items waiting behind the current one holds chunks and joins them into one
/// write, up to `MAX_CHUNKS_PER_WRITE`; the last one of the backlog writes what is held.
#[test]
fn a_fan_out_that_fell_behind_joins_the_backlog_into_fewer_writes() {
    let hub = Hub::new(ServerConfig::default());
    let backlog = MAX_CHUNKS_PER_WRITE + 3;
    let mut writes = 0;
    for i in 0..backlog {
        let before = held(&hub);
        hub.publish_behind(&chunk(i as u64 * 320), backlog - 1 - i);
        if held(&hub) <= before {
            writes += 1;
        }
    }
    assert_eq!(held(&hub), 0, "the end of the backlog writes what was held");
    assert_eq!(writes, 2, "{backlog} late chunks go out in 2 writes");
}

/// Catching up never holds more than the `max_lag` queue.
#[test]
fn catching_up_holds_no_more_than_the_lag_queue() {
    let config = ServerConfig {
        max_lag: std::time::Duration::from_millis(60),
        ..ServerConfig::default()
    };
    let hub = Hub::new(config);
    let mut most = 0;
    for i in 0..10 {
        hub.publish_behind(&chunk(i * 320), 100);
        most = most.max(held(&hub));
    }
    assert_eq!(most, 2, "a 3-chunk queue: 2 held, the third writes");
}
