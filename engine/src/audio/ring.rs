//! The lock-free ring between a capture callback and the source stage: its size, the fragment
//! size asked of a device, and the one push every capture callback does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Capacity of the capture ring: 2 s of audio at the device's rate and channel count.
pub const RING_SECONDS: u32 = 2;

/// Frames per device callback (or PulseAudio fragment) asked for: about one `chunk` at `rate`
/// Hz, at least 64.
pub(super) fn frames_per_callback(rate: u32, chunk: Duration) -> u32 {
    let frames = u128::from(rate) * chunk.as_micros() / 1_000_000;
    u32::try_from(frames).unwrap_or(u32::MAX).max(64)
}

/// Samples (not frames) the capture ring holds: [`RING_SECONDS`] of `rate` Hz × `channels`, at
/// least 1,024.
pub(super) fn ring_len(rate: u32, channels: u16) -> usize {
    (rate as usize * usize::from(channels) * RING_SECONDS as usize).max(1024)
}

/// Pushes the first `n` samples of `samples` into the ring, or as many as fit; the rest are
/// counted in `overruns`. What every capture callback does: never blocks, allocates, locks or
/// logs.
pub(super) fn push(
    producer: &mut rtrb::Producer<f32>,
    overruns: &AtomicU64,
    n: usize,
    samples: impl Iterator<Item = f32>,
) {
    let fits = n.min(producer.slots());
    if fits < n {
        overruns.fetch_add((n - fits) as u64, Ordering::Relaxed);
    }
    if let Ok(chunk) = producer.write_chunk_uninit(fits) {
        chunk.fill_from_iter(samples.take(fits));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callback_is_about_one_chunk_and_the_ring_two_seconds() {
        // 48 kHz, 20 ms: 960 frames; never under 64 frames.
        assert_eq!(frames_per_callback(48_000, Duration::from_millis(20)), 960);
        assert_eq!(frames_per_callback(8_000, Duration::from_millis(1)), 64);
        assert_eq!(ring_len(48_000, 2), 192_000);
        assert_eq!(ring_len(100, 1), 1024);
    }

    #[test]
    fn a_full_ring_counts_what_did_not_fit() {
        let (mut producer, mut consumer) = rtrb::RingBuffer::<f32>::new(4);
        let overruns = AtomicU64::new(0);
        push(&mut producer, &overruns, 6, (1..=6).map(|x| x as f32));
        assert_eq!(overruns.load(Ordering::Relaxed), 2);
        let got: Vec<f32> = std::iter::from_fn(|| consumer.pop().ok()).collect();
        assert_eq!(got, [1.0, 2.0, 3.0, 4.0]);
    }
}
