//! Signal levels in dBFS: [`Level`] (peak and RMS of a block), [`LevelCell`] (the latest level,
//! shared between threads without a lock).
//!
//! 0 dBFS is full scale (a sample of ±1.0, or ±32,768 in PCM16); a full-scale sine has an RMS of
//! −3.01 dBFS (20·log10(1/√2)).

use super::dsp::pcm16_to_f32;

/// The level reported for digital silence, in dBFS, instead of −∞.
pub const SILENCE_FLOOR_DBFS: f32 = -120.0;

/// A signal level in dBFS (0 dBFS = full scale; a full-scale sine has an RMS of −3.01 dBFS).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// Root-mean-square level in dBFS, at least [`SILENCE_FLOOR_DBFS`].
    pub rms_dbfs: f32,
    /// Peak absolute sample in dBFS, at least [`SILENCE_FLOOR_DBFS`].
    pub peak_dbfs: f32,
}

impl Level {
    /// The level of digital silence.
    pub const SILENCE: Level = Level {
        rms_dbfs: SILENCE_FLOOR_DBFS,
        peak_dbfs: SILENCE_FLOOR_DBFS,
    };

    /// Measures `samples` (any channel layout): RMS and peak, as 20·log10(x) dBFS, floored at
    /// [`SILENCE_FLOOR_DBFS`]. An empty slice is silence.
    pub fn measure(samples: &[f32]) -> Self {
        Self::measure_iter(samples.iter().copied())
    }

    /// Measures PCM16 little-endian bytes (2 bytes per sample; a trailing odd byte is ignored)
    /// without converting them to a buffer first. Full scale is 32,768.
    pub fn measure_pcm16(bytes: &[u8]) -> Self {
        Self::measure_iter(
            bytes
                .chunks_exact(2)
                .map(|b| pcm16_to_f32(i16::from_le_bytes([b[0], b[1]]))),
        )
    }

    fn measure_iter(samples: impl Iterator<Item = f32>) -> Self {
        let (mut sum, mut peak, mut n) = (0.0f64, 0.0f32, 0usize);
        for s in samples {
            sum += f64::from(s) * f64::from(s);
            peak = peak.max(s.abs());
            n += 1;
        }
        if n == 0 {
            return Self::SILENCE;
        }
        let rms = (sum / n as f64).sqrt();
        Self {
            rms_dbfs: amplitude_to_dbfs(rms),
            peak_dbfs: amplitude_to_dbfs(f64::from(peak)),
        }
    }
}

/// A [`Level`] shared between threads without a lock: the latest measurement, written by one
/// thread (the source stage, the receiver) and read by any (a meter). Starts as
/// [`Level::SILENCE`], so nothing is shown as 0 dBFS before audio arrives.
#[derive(Debug)]
pub struct LevelCell {
    rms_bits: std::sync::atomic::AtomicU32,
    peak_bits: std::sync::atomic::AtomicU32,
}

impl Default for LevelCell {
    fn default() -> Self {
        use std::sync::atomic::AtomicU32;
        Self {
            rms_bits: AtomicU32::new(SILENCE_FLOOR_DBFS.to_bits()),
            peak_bits: AtomicU32::new(SILENCE_FLOOR_DBFS.to_bits()),
        }
    }
}

impl LevelCell {
    /// The latest level stored.
    pub fn load(&self) -> Level {
        use std::sync::atomic::Ordering::Relaxed;
        Level {
            rms_dbfs: f32::from_bits(self.rms_bits.load(Relaxed)),
            peak_dbfs: f32::from_bits(self.peak_bits.load(Relaxed)),
        }
    }

    /// Stores `level` (RMS and peak are two relaxed stores: a reader may see one chunk's RMS with
    /// the next chunk's peak, which a meter cannot show).
    pub fn store(&self, level: Level) {
        use std::sync::atomic::Ordering::Relaxed;
        self.rms_bits.store(level.rms_dbfs.to_bits(), Relaxed);
        self.peak_bits.store(level.peak_dbfs.to_bits(), Relaxed);
    }
}

/// 20·log10(`amplitude`) in dBFS, floored at [`SILENCE_FLOOR_DBFS`] (never NaN or −∞).
pub fn amplitude_to_dbfs(amplitude: f64) -> f32 {
    if amplitude.is_nan() || amplitude <= 0.0 {
        return SILENCE_FLOOR_DBFS;
    }
    ((20.0 * amplitude.log10()) as f32).max(SILENCE_FLOOR_DBFS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_scale_sine_reads_minus_3_01_dbfs_and_silence_reads_the_floor() {
        let sine: Vec<f32> = (0..48_000)
            .map(|i| (std::f64::consts::TAU * 1000.0 * f64::from(i) / 48_000.0).sin() as f32)
            .collect();
        let level = Level::measure(&sine);
        assert!((level.rms_dbfs - (-3.0103)).abs() < 0.01, "{level:?}");
        assert!(level.peak_dbfs.abs() < 0.01, "{level:?}");
        assert_eq!(Level::measure(&[0.0; 100]), Level::SILENCE);
        assert_eq!(Level::measure(&[]), Level::SILENCE);
        assert_eq!(amplitude_to_dbfs(f64::NAN), SILENCE_FLOOR_DBFS);
    }

    #[test]
    fn pcm16_bytes_measure_like_their_samples() {
        // A square wave at half scale: RMS = peak = 16384 / 32768 = -6.02 dBFS.
        let bytes: Vec<u8> = (0..320)
            .flat_map(|i| (if i % 2 == 0 { 16_384i16 } else { -16_384 }).to_le_bytes())
            .collect();
        let level = Level::measure_pcm16(&bytes);
        assert!((level.rms_dbfs - (-6.0206)).abs() < 0.001, "{level:?}");
        assert!((level.peak_dbfs - (-6.0206)).abs() < 0.001, "{level:?}");
        // Full-scale negative reads 0 dBFS; a trailing odd byte is ignored; nothing is silence.
        let level = Level::measure_pcm16(&[0x00, 0x80, 0x7f]);
        assert!(level.peak_dbfs.abs() < 0.001, "{level:?}");
        assert_eq!(Level::measure_pcm16(&[0x12]), Level::SILENCE);
    }
}
