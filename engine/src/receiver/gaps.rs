//! Gap arithmetic: how much audio a receiver missed before a frame. Exact from stream positions
//! when the server gives them (AUDIO_AT within one stream id), else measured by the wall clock
//! after a reconnect. Pure: no I/O and no clock reads (the caller passes the time since the loss).

use std::time::Duration;

/// What the receiver knows when an audio frame arrives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    /// The frame's stream position in samples per channel (AUDIO_AT), if given.
    pub position: Option<u64>,
    /// The stream id of the current connection's FORMAT, if given.
    pub stream_id: Option<u32>,
    /// Where the previous frame said the next one starts: (stream id, position).
    pub expected: Option<(u32, u64)>,
    /// Frames (samples per channel) in this frame.
    pub frames: u64,
    /// The stream's sample rate in Hz.
    pub rate: u32,
    /// Time since the last audio before the connection was lost, if it was.
    pub since_lost: Option<Duration>,
}

/// What to do before writing a frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// It follows the previous frame (or nothing can be known): write it.
    InStep,
    /// Write this many samples per channel of silence first, for the reason given.
    Gap {
        /// Samples per channel missed.
        samples: u64,
        /// Why, in words: exact from positions, or measured by the wall clock.
        reason: String,
    },
    /// The stream went back in time (a server bug): record as received.
    Behind {
        /// The position expected.
        expected: u64,
        /// The position received.
        got: u64,
    },
}

/// The verdict for one arriving frame.
///
/// Within one stream (same id) the gap is `position − expected`, exactly. Across a reconnect to
/// another stream, or without positions, it is the time since the loss at `rate`, rounded to
/// whole samples, minus this frame's own samples (which cover the end of that time).
pub fn verdict(a: &Arrival) -> Verdict {
    if let (Some(pos), Some(id), Some((exp_id, exp_pos))) = (a.position, a.stream_id, a.expected)
        && id == exp_id
    {
        return if pos > exp_pos {
            let why = if a.since_lost.is_some() {
                "reconnected"
            } else {
                "discontinuity in the stream"
            };
            let samples = pos - exp_pos;
            Verdict::Gap {
                samples,
                reason: format!("{why}: {samples} samples missed (exact, from stream positions)"),
            }
        } else if pos < exp_pos {
            Verdict::Behind {
                expected: exp_pos,
                got: pos,
            }
        } else {
            Verdict::InStep
        };
    }
    let Some(lost) = a.since_lost else {
        return Verdict::InStep;
    };
    let elapsed = lost.as_secs_f64();
    let missed = ((elapsed * f64::from(a.rate)).round() as u64).saturating_sub(a.frames);
    if missed == 0 {
        return Verdict::InStep;
    }
    Verdict::Gap {
        samples: missed,
        reason: format!("reconnected after {elapsed:.3} s (measured by the wall clock)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival() -> Arrival {
        Arrival {
            position: Some(1_000),
            stream_id: Some(7),
            expected: Some((7, 1_000)),
            frames: 320,
            rate: 16_000,
            since_lost: None,
        }
    }

    #[test]
    fn the_next_frame_of_the_same_stream_is_in_step() {
        assert_eq!(verdict(&arrival()), Verdict::InStep);
    }

    #[test]
    fn a_skip_within_a_stream_is_an_exact_gap() {
        let a = Arrival {
            position: Some(1_640),
            ..arrival()
        };
        assert!(matches!(
            verdict(&a),
            Verdict::Gap { samples: 640, ref reason } if reason.starts_with("discontinuity")
        ));
        let reconnected = Arrival {
            since_lost: Some(Duration::from_secs(9)),
            ..a
        };
        // Positions win over the wall clock: still exactly 640.
        assert!(matches!(
            verdict(&reconnected),
            Verdict::Gap { samples: 640, ref reason } if reason.starts_with("reconnected")
        ));
    }

    #[test]
    fn going_back_is_reported_not_filled() {
        let a = Arrival {
            position: Some(360),
            ..arrival()
        };
        assert_eq!(
            verdict(&a),
            Verdict::Behind {
                expected: 1_000,
                got: 360
            }
        );
    }

    #[test]
    fn another_stream_after_a_loss_is_measured_by_the_wall_clock() {
        let a = Arrival {
            stream_id: Some(8),
            since_lost: Some(Duration::from_millis(1_500)),
            ..arrival()
        };
        // 1.5 s at 16 kHz = 24,000 samples, of which this frame covers 320.
        assert!(matches!(
            verdict(&a),
            Verdict::Gap { samples: 23_680, ref reason } if reason.contains("1.500 s")
        ));
        let legacy = Arrival {
            position: None,
            stream_id: None,
            expected: None,
            since_lost: Some(Duration::from_millis(10)),
            ..arrival()
        };
        assert_eq!(
            verdict(&legacy),
            Verdict::InStep,
            "160 samples < the frame's 320"
        );
    }

    #[test]
    fn without_a_loss_or_positions_nothing_is_filled() {
        let a = Arrival {
            position: None,
            expected: None,
            ..arrival()
        };
        assert_eq!(verdict(&a), Verdict::InStep);
    }
}
