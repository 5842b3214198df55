//! The last few seconds of levels, drawn as a scrolling envelope (the Receiver tab).

use std::collections::VecDeque;
use std::time::Instant;

use iced::widget::canvas::{Frame, Geometry};
use iced::{Color, Point, Rectangle, Renderer, Size, Theme, mouse};

use super::meter::METER_FLOOR_DBFS;

/// The last few seconds of levels, drawn as a scrolling envelope: one point per
/// [`super::ticks::INTERVAL`].
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Levels in dBFS, oldest first.
    pub levels: VecDeque<f32>,
    /// When the last point was added.
    pub at: Option<Instant>,
}

/// Points kept: 5 s at [`super::ticks::UPDATES_PER_SEC`].
pub const HISTORY_POINTS: usize = 5 * super::ticks::UPDATES_PER_SEC as usize;

impl History {
    /// Appends a level (dBFS), dropping the oldest beyond [`HISTORY_POINTS`].
    pub fn push(&mut self, dbfs: f32) {
        if self.levels.len() == HISTORY_POINTS {
            self.levels.pop_front();
        }
        self.levels.push_back(dbfs);
    }

    /// Appends the level at `now`: the previous level stands for the intervals in between that
    /// had no update (nothing changed then), so the graph keeps its time scale.
    pub fn push_at(&mut self, dbfs: f32, now: Instant) {
        if let (Some(at), Some(&last)) = (self.at, self.levels.back()) {
            let interval = super::ticks::INTERVAL.as_secs_f64();
            let missed = (now.saturating_duration_since(at).as_secs_f64() / interval) as usize;
            for _ in 1..missed.min(HISTORY_POINTS) {
                self.push(last);
            }
        }
        self.push(dbfs);
        self.at = Some(now);
    }
}

impl<M> iced::widget::canvas::Program<M> for History {
    type State = ();

    fn draw(
        &self,
        _state: &(),
        renderer: &Renderer,
        theme: &Theme,
        bounds: Rectangle,
        _cursor: mouse::Cursor,
    ) -> Vec<Geometry> {
        let mut frame = Frame::new(renderer, bounds.size());
        let palette = theme.extended_palette();
        frame.fill_rectangle(Point::ORIGIN, bounds.size(), palette.background.weak.color);
        let width = bounds.width / HISTORY_POINTS as f32;
        let mid = bounds.height / 2.0;
        let color: Color = palette.primary.strong.color;
        let start = HISTORY_POINTS - self.levels.len();
        for (i, db) in self.levels.iter().enumerate() {
            let norm = ((db - METER_FLOOR_DBFS) / -METER_FLOOR_DBFS).clamp(0.0, 1.0);
            let h = (norm * bounds.height).max(1.0);
            let x = (start + i) as f32 * width;
            frame.fill_rectangle(
                Point::new(x, mid - h / 2.0),
                Size::new(width.max(1.0), h),
                color,
            );
        }
        vec![frame.into_geometry()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_history_keeps_its_time_scale_when_updates_are_skipped() {
        let t0 = Instant::now();
        let mut h = History::default();
        h.push_at(-20.0, t0);
        // A second without an update (nothing changed), then a new level.
        h.push_at(-10.0, t0 + Duration::from_secs(1));
        assert_eq!(
            h.levels.len(),
            super::super::ticks::UPDATES_PER_SEC as usize + 1
        );
        assert_eq!(h.levels.front(), Some(&-20.0));
        assert_eq!(h.levels.back(), Some(&-10.0));
    }

    #[test]
    fn history_keeps_the_last_points() {
        let mut h = History::default();
        for i in 0..200 {
            h.push(i as f32);
        }
        assert_eq!(h.levels.len(), HISTORY_POINTS);
        assert_eq!(
            h.levels.front().copied(),
            Some((200 - HISTORY_POINTS) as f32)
        );
    }
}
