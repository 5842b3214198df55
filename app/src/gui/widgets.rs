//! Small widgets shared by both tabs: a level meter and a scrolling level history.

use std::collections::VecDeque;

use iced::widget::canvas::{self, Frame, Geometry};
use iced::widget::{column, progress_bar, row, text};
use iced::{Color, Element, Length, Point, Rectangle, Renderer, Size, Theme, mouse};

/// Bottom of the meters' scale, in dBFS.
pub const METER_FLOOR_DBFS: f32 = -60.0;

/// A level smoothed for display: rises at once, falls by `FALL_DB_PER_TICK` per update
/// (a peak-program-meter style ballistic at ~30 updates/s: 20 dB per second).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Meter {
    /// The displayed level in dBFS.
    pub dbfs: f32,
}

/// How far the meter falls per update, in dB.
pub const FALL_DB_PER_TICK: f32 = 0.7;

impl Default for Meter {
    fn default() -> Self {
        Self {
            dbfs: engine::dsp::SILENCE_FLOOR_DBFS,
        }
    }
}

impl Meter {
    /// Feeds the latest measured level (dBFS).
    pub fn update(&mut self, dbfs: f32) {
        self.dbfs = if dbfs >= self.dbfs {
            dbfs
        } else {
            (self.dbfs - FALL_DB_PER_TICK).max(dbfs)
        };
    }

    /// The meter as a bar and a label.
    pub fn view<'a, M: 'a>(&self, label: &'a str) -> Element<'a, M> {
        let shown = self.dbfs.max(METER_FLOOR_DBFS);
        let value = if self.dbfs <= engine::dsp::SILENCE_FLOOR_DBFS + 0.5 {
            "silence".to_string()
        } else {
            format!("{:.1} dBFS", self.dbfs)
        };
        column![
            row![text(label).width(Length::Fixed(60.0)), text(value)].spacing(8),
            progress_bar(METER_FLOOR_DBFS..=0.0, shown).girth(12),
        ]
        .spacing(4)
        .into()
    }
}

/// The last few seconds of levels, drawn as a scrolling envelope.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Levels in dBFS, oldest first.
    pub levels: VecDeque<f32>,
}

/// Points kept: 5 s at 30 updates per second.
pub const HISTORY_POINTS: usize = 150;

impl History {
    /// Appends a level (dBFS), dropping the oldest beyond [`HISTORY_POINTS`].
    pub fn push(&mut self, dbfs: f32) {
        if self.levels.len() == HISTORY_POINTS {
            self.levels.pop_front();
        }
        self.levels.push_back(dbfs);
    }
}

impl<M> canvas::Program<M> for History {
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

    #[test]
    fn meter_rises_at_once_and_falls_slowly() {
        let mut m = Meter::default();
        m.update(-10.0);
        assert_eq!(m.dbfs, -10.0);
        m.update(-40.0);
        assert!((m.dbfs - (-10.7)).abs() < 1e-4);
        m.update(-5.0);
        assert_eq!(m.dbfs, -5.0);
    }

    #[test]
    fn history_keeps_the_last_points() {
        let mut h = History::default();
        for i in 0..200 {
            h.push(i as f32);
        }
        assert_eq!(h.levels.len(), HISTORY_POINTS);
        assert_eq!(h.levels.front().copied(), Some(50.0));
    }
}
