//! The jitter buffer's floor: a buffer level that never came down to the target in a whole
//! window is latency gained (a burst after a stall, start-up silence delivered late), not jitter,
//! and its surplus is skipped so that playback returns to its target delay. Watching the lowest
//! fill over a window is the usual playout-buffer practice (WebRTC's NetEq estimates its
//! target from the same kind of statistic).

use std::time::Duration;

/// The buffer's lowest level is watched over windows this long: 2 s. A level that never came
/// down to the target in a whole window is latency gained (a burst after a stall, start-up
/// silence delivered late), not jitter, and the surplus is skipped.
pub const FLOOR_WINDOW: Duration = Duration::from_secs(2);
/// A window's lowest level may lie this far above the target before the surplus is skipped:
/// 20 ms (one chunk), so that ordinary jitter never causes a skip.
pub const FLOOR_TOLERANCE: Duration = Duration::from_millis(20);

/// The lowest buffer level of the current [`FLOOR_WINDOW`], and what is to be skipped.
#[derive(Debug)]
pub(super) struct Floor {
    /// Samples (all channels) the buffer should hold: the target.
    target: usize,
    /// Samples above the target a window's floor may hold.
    tolerance: usize,
    /// Samples per window, at the rate they are counted in (arrivals advance it).
    window: usize,
    /// Samples counted in this window so far, and the lowest level seen.
    seen: usize,
    lowest: usize,
    /// Samples still to skip from the arrivals.
    skip: usize,
}

impl Floor {
    /// A floor for `target` samples, counting windows of `window` samples.
    pub(super) fn new(target: usize, tolerance: usize, window: usize) -> Self {
        Self {
            target,
            tolerance,
            window: window.max(1),
            seen: 0,
            lowest: usize::MAX,
            skip: 0,
        }
    }

    /// `incoming` samples arrive while the buffer holds `queued`; returns how many of them to
    /// skip (from their start). At a window's end, a floor more than the tolerance above the
    /// target schedules the surplus for skipping.
    pub(super) fn arrive(&mut self, queued: usize, incoming: usize) -> usize {
        self.lowest = self.lowest.min(queued);
        self.seen += incoming;
        if self.seen >= self.window {
            if self.lowest > self.target + self.tolerance {
                self.skip += self.lowest - self.target;
            }
            self.seen = 0;
            self.lowest = usize::MAX;
        }
        let now = self.skip.min(incoming);
        self.skip -= now;
        now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 20 ms chunks of 320 samples, target 960 (60 ms), tolerance 320, windows of 32,000 (2 s).
    fn floor() -> Floor {
        Floor::new(960, 320, 32_000)
    }

    #[test]
    fn a_buffer_that_dips_to_its_target_is_left_alone() {
        let mut f = floor();
        for i in 0..1000 {
            // Jitter: between 600 and 1,250 samples queued, back at the target now and then.
            let queued = 600 + (i * 37) % 650;
            assert_eq!(f.arrive(queued, 320), 0, "chunk {i}");
        }
    }

    #[test]
    fn a_level_that_stays_high_for_a_window_loses_its_surplus() {
        let mut f = floor();
        // 3,000 samples (190 ms) queued the whole first window: 2,040 above the target.
        let mut skipped = 0;
        for _ in 0..99 {
            skipped += f.arrive(3_000, 320);
        }
        assert_eq!(skipped, 0, "nothing before the window ends");
        // The surplus goes with the next arrivals, a chunk at a time.
        for _ in 0..7 {
            skipped += f.arrive(3_000, 320);
        }
        assert_eq!(skipped, 3_000 - 960);
        assert_eq!(f.arrive(960, 320), 0);
    }
}
