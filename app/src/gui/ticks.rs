//! The tabs' refresh ticks: what the window shows is sampled [`UPDATES_PER_SEC`] times a second,
//! and a tick is sent only when that would change what it shows. Every message makes iced 0.14
//! rebuild the view and redraw the window (`iced_winit`: any message → `request_redraw`), so a
//! fixed 30 Hz tick cost a full CPU-rendered frame 30 times a second even while nothing moved.

use std::time::Duration;

use futures::Stream;

/// How often the meters and counters are sampled: 15 times a second, enough for a level meter
/// (peak-programme meters are read at 10–25 updates a second).
pub const UPDATES_PER_SEC: u32 = 15;

/// The sampling interval: 1/[`UPDATES_PER_SEC`] s.
pub const INTERVAL: Duration = Duration::from_nanos(1_000_000_000 / UPDATES_PER_SEC as u64);

/// A tick each time `digest` (what the window would show, sampled every [`INTERVAL`]) differs
/// from its value at the last tick; the first sample always ticks. Never ends.
pub fn when_changed<D, F>(digest: F) -> impl Stream<Item = ()> + Send + 'static
where
    D: PartialEq + Send + 'static,
    F: FnMut() -> D + Send + 'static,
{
    futures::stream::unfold((digest, None::<D>), |(mut digest, mut last)| async move {
        loop {
            tokio::time::sleep(INTERVAL).await;
            let now = digest();
            if last.as_ref() != Some(&now) {
                last = Some(now);
                return Some(((), (digest, last)));
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn ticks_come_only_when_the_digest_changes() {
        // The digest changes at samples 1, 4 and 5, then stays.
        let mut n = 0;
        let values = [1, 1, 1, 2, 3, 3, 3, 3, 3, 3, 3, 3];
        let stream = when_changed(move || {
            n += 1;
            values[(n - 1).min(values.len() - 1)]
        });
        let ticks: Vec<()> = stream
            .take_until(tokio::time::sleep(INTERVAL * 12 + INTERVAL / 2))
            .collect()
            .await;
        assert_eq!(ticks.len(), 3, "ticks at the first sample and two changes");
    }
}
