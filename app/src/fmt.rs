//! Sizes and times in words, for the command line and the window.

use std::time::Duration;

/// The current UTC time as `YYYYMMDD-HHMMSS`.
pub fn timestamp() -> String {
    stamp(time::OffsetDateTime::now_utc())
}

/// `at` as `YYYYMMDD-HHMMSS` (the `time` crate's formatting).
fn stamp(at: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year][month][day]-[hour][minute][second]");
    at.format(format).unwrap_or_default()
}

/// `n` bytes in B, kB, MB or GB (powers of 1000).
pub fn human_bytes(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} B"),
        1_000..1_000_000 => format!("{:.1} kB", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.2} GB", n as f64 / 1e9),
    }
}

/// `1 h 02 min 03 s`, `2 min 03 s` or `3 s`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min {:02} s", s / 3600, s % 3600 / 60, s % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_the_documented_shape() {
        let t = timestamp();
        assert_eq!(t.len(), 15, "{t}");
        assert_eq!(&t[8..9], "-");
        assert!(
            t[..8].chars().all(|c| c.is_ascii_digit())
                && t[9..].chars().all(|c| c.is_ascii_digit())
        );
        assert!(t.starts_with("20"), "{t}");
    }

    #[test]
    fn stamps_are_the_calendar_date_and_time() {
        let at = |secs| time::OffsetDateTime::from_unix_timestamp(secs).expect("in range");
        assert_eq!(stamp(at(0)), "19700101-000000");
        // 2000-02-29 (a leap day of a century divisible by 400) 23:59:59.
        assert_eq!(stamp(at(951_868_799)), "20000229-235959");
        assert_eq!(stamp(at(1_796_342_400)), "20261204-000000");
    }

    #[test]
    fn sizes_and_durations_read_as_documented() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(130_560), "130.6 kB");
        assert_eq!(human_bytes(2_500_000_000), "2.50 GB");
        assert_eq!(human_duration(Duration::from_secs(3)), "3 s");
        assert_eq!(human_duration(Duration::from_secs(123)), "2 min 03 s");
        assert_eq!(human_duration(Duration::from_secs(3723)), "1 h 02 min 03 s");
    }
}
