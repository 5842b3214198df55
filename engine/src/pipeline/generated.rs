//! Pulling a generated source (a tone, a file, a playlist): exactly the frames due by the clock,
//! following a playlist across its tracks (a new track is a [`Notice::NowPlaying`] at the stream
//! position where it starts; a new file format rebuilds the DSP chain), silence once it ended.

use super::worker::{Running, Worker};
use super::{Notice, Output};
use crate::audio::dsp::Chain;

/// Most track changes followed within one tick (a folder of empty files must not spin).
const MAX_TRACKS_PER_TICK: usize = 16;

/// A track of another format follows: what is queued in the old format goes through the old
/// chain, which is drained ([`Chain::finish`]: the resampler's history, a few milliseconds, comes
/// out, and the output is exactly the input's length at the stream's rate), then the chain is
/// rebuilt for `format` (rate, channels). Without the drain the old track lost its last
/// milliseconds and every later track started that much before the position announced for it
/// (`record --split` cut 156 frames late at 48 kHz after a 44.1 kHz track).
fn rebuild_chain(
    chain: &mut Chain,
    input: &mut Vec<f32>,
    fifo: &mut Vec<f32>,
    config: &super::PipelineConfig,
    (rate, channels): (u32, u16),
) -> crate::Result<()> {
    let flushed = chain.finish(input, fifo);
    input.clear();
    *chain = config.chain_from(rate, channels)?;
    flushed
}

impl<S: FnMut(Output)> Worker<S> {
    /// Asks a generated source for exactly the frames due by now; silence after it ended.
    pub(super) fn pull_generated(&mut self) {
        let elapsed = self.start.elapsed().as_secs_f64();
        let mut notices = Vec::new();
        let Running::Generated {
            generator,
            rate,
            channels,
            pulled,
            stream_at,
            ended,
        } = &mut self.running
        else {
            return;
        };
        let due = (elapsed * f64::from(*rate)) as u64;
        let mut want = due.saturating_sub(*pulled) as usize;
        *pulled = due;
        let out_rate = f64::from(self.config.rate);
        if !*ended
            && !self.failed
            && let Some(track) = generator.take_track()
        {
            let position = stream_at.round() as u64;
            notices.push(Notice::NowPlaying { position, track });
        }
        let mut tracks = 0;
        while want > 0 && !*ended && !self.failed {
            let got = match generator.fill(want, &mut self.input) {
                Ok(n) => n,
                Err(e) => {
                    self.failed = true;
                    notices.push(Notice::SourceFailed(e.to_string()));
                    0
                }
            };
            want -= got.min(want);
            *stream_at += got as f64 * out_rate / f64::from((*rate).max(1));
            if want == 0 || self.failed {
                break;
            }
            // Fewer than asked: the next track, or the end.
            tracks += 1;
            let next = if tracks <= MAX_TRACKS_PER_TICK {
                generator.take_track()
            } else {
                None
            };
            let Some(track) = next else {
                *ended = true;
                notices.push(Notice::SourceEnded {
                    what: generator.describe(),
                    end: stream_at.round() as u64,
                });
                break;
            };
            let format = (generator.sample_rate(), generator.channels());
            if format != (*rate, *channels as u16) {
                // The clock's count and what is still due, in the new rate's frames.
                let scale = f64::from(format.0) / f64::from((*rate).max(1));
                *pulled = (*pulled as f64 * scale) as u64;
                want = (want as f64 * scale).round() as usize;
                (*rate, *channels) = (format.0, usize::from(format.1));
                let (chain, input, fifo) = (&mut self.chain, &mut self.input, &mut self.fifo);
                if let Err(e) = rebuild_chain(chain, input, fifo, &self.config, format) {
                    self.failed = true;
                    notices.push(Notice::SourceFailed(e.to_string()));
                }
            }
            let position = stream_at.round() as u64;
            notices.push(Notice::NowPlaying { position, track });
        }
        if want > 0 && (*ended || self.failed) {
            self.input.resize(self.input.len() + want * *channels, 0.0);
            *stream_at += want as f64 * out_rate / f64::from((*rate).max(1));
        }
        self.emit_notices(notices);
    }

    /// Hands the notices of a pull on, keeping where an ended source's audio ends.
    fn emit_notices(&mut self, notices: Vec<Notice>) {
        for n in notices {
            if let Notice::SourceEnded { end, .. } = n {
                self.end_at = Some(end);
            }
            self.notice(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::super::{Input, Pipeline, PipelineConfig};
    use super::*;
    use crate::audio::playlist::Playlist;

    /// Runs `list` through a source stage of `config` for `ms` milliseconds of real time;
    /// everything it output, in order.
    fn run_for(list: Playlist, config: PipelineConfig, ms: u64) -> Vec<Output> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let p = Pipeline::spawn(Input::Generated(Box::new(list)), config, move |o| {
            s2.lock().expect("lock").push(o)
        })
        .expect("spawn");
        std::thread::sleep(Duration::from_millis(ms));
        p.stop();
        std::mem::take(&mut *seen.lock().expect("lock"))
    }

    /// Two files, 16 kHz then 8 kHz: each track is announced at the stream position where it
    /// starts (exact at equal rates), the second after a chain rebuild, and the stream stays
    /// continuous (every chunk whole, positions in step).
    #[test]
    fn tracks_are_announced_at_their_stream_positions_across_a_format_change() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = |rate| hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        for (name, rate, frames) in [("a.wav", 16_000, 4_000), ("b.wav", 8_000, 2_000)] {
            let mut w = hound::WavWriter::create(dir.path().join(name), spec(rate)).expect("w");
            for i in 0..frames {
                w.write_sample(((i % 50) * 100) as i16).expect("write");
            }
            w.finalize().expect("finalize");
        }
        let list = Playlist::folder(dir.path(), false, false).expect("folder");
        let seen = run_for(list, PipelineConfig::default(), 700);
        let tracks: Vec<(u64, String)> = seen
            .iter()
            .filter_map(|o| match o {
                Output::Notice(Notice::NowPlaying { position, track }) => {
                    Some((*position, track.title.clone()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(tracks, [(0, "a".to_string()), (4_000, "b".to_string())]);
        assert!(
            seen.iter()
                .any(|o| matches!(o, Output::Notice(Notice::SourceEnded { .. })))
        );
        let mut next = 0;
        for o in seen.iter() {
            if let Output::Chunk(c) = o {
                assert_eq!((c.position, c.pcm.len()), (next, 640));
                next += 320;
            }
        }
        assert!(next >= 8_000, "the stream went on past both files: {next}");
    }

    /// A file of 5,000 frames without looping: END at 5,000, the chunk holding it padded, then
    /// Finished and no chunk after it (the stream stops instead of streaming silence forever).
    #[test]
    fn an_ended_file_finishes_the_stream_after_the_chunk_that_holds_its_end() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let path = dir.path().join("a.wav");
        let mut w = hound::WavWriter::create(&path, spec).expect("w");
        for _ in 0..5_000 {
            w.write_sample(1000_i16).expect("write");
        }
        w.finalize().expect("finalize");
        let list = Playlist::file(&path, false).expect("file");
        let seen = run_for(list, PipelineConfig::default(), 700);
        let ended = seen
            .iter()
            .position(|o| matches!(o, Output::Notice(Notice::SourceEnded { end: 5_000, .. })));
        let finished = seen
            .iter()
            .position(|o| matches!(o, Output::Notice(Notice::Finished)));
        let (Some(ended), Some(finished)) = (ended, finished) else {
            panic!("no END at 5,000 and Finished: {seen:?}");
        };
        assert!(ended < finished);
        let chunks: Vec<u64> = seen
            .iter()
            .filter_map(|o| match o {
                Output::Chunk(c) => Some(c.position),
                _ => None,
            })
            .collect();
        // 5,000 frames: 15 whole chunks and the padded 16th (4,800..5,120), nothing after.
        assert_eq!(chunks.len(), 16, "{chunks:?}");
        assert_eq!(chunks.last(), Some(&4_800));
        assert!(matches!(
            seen.last(),
            Some(Output::Notice(Notice::Finished))
        ));
    }

    /// A 44.1 kHz track between two 48 kHz tracks in a 48 kHz stream: the loud middle track's
    /// audio ends exactly where the next track is announced, so `record --split` cuts there.
    #[test]
    fn a_track_after_a_resampled_one_starts_where_it_is_announced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, rate: u32, amplitude: f64| {
            let spec = hound::WavSpec {
                channels: 1,
                sample_rate: rate,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            let mut w = hound::WavWriter::create(dir.path().join(name), spec).expect("w");
            for i in 0..rate * 3 / 10 {
                let x = (f64::from(i) * 2.0 * std::f64::consts::PI * 440.0 / f64::from(rate)).sin();
                w.write_sample((x * amplitude * 32767.0) as i16)
                    .expect("write");
            }
            w.finalize().expect("finalize");
        };
        write("a.wav", 48_000, 0.0);
        write("b.wav", 44_100, 0.5);
        write("c.wav", 48_000, 0.0);
        let list = Playlist::folder(dir.path(), false, false).expect("folder");
        let config = PipelineConfig {
            rate: 48_000,
            ..PipelineConfig::default()
        };
        let seen = run_for(list, config, 1300);
        let starts: Vec<u64> = seen
            .iter()
            .filter_map(|o| match o {
                Output::Notice(Notice::NowPlaying { position, .. }) => Some(*position),
                _ => None,
            })
            .collect();
        assert_eq!(starts.len(), 3, "{starts:?}");
        let mut stream = Vec::new();
        for o in seen.iter() {
            if let Output::Chunk(c) = o {
                stream.extend(
                    c.pcm
                        .chunks_exact(2)
                        .map(|b| i16::from_le_bytes([b[0], b[1]])),
                );
            }
        }
        let loud: Vec<usize> = (0..stream.len())
            .filter(|&i| stream[i].abs() > 300)
            .collect();
        let (first, last) = (loud[0] as i64, *loud.last().expect("loud") as i64);
        // Within a few frames (the sine's zero crossings and the converter's ramp): before the
        // fix the loud audio ended 156 frames before the third track's announced start.
        assert!(
            (first - starts[1] as i64).abs() <= 4,
            "starts at {first}, announced {starts:?}"
        );
        assert!(
            (starts[2] as i64 - 1 - last).abs() <= 4,
            "ends at {last}, announced {starts:?}"
        );
    }
}
