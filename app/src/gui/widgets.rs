//! Small widgets shared by both tabs: a level meter and a scrolling level history.

use std::collections::VecDeque;

use iced::widget::canvas::{Frame, Geometry};
use iced::widget::{canvas, column, row, text};
use iced::{Color, Element, Length, Point, Rectangle, Renderer, Size, Theme, mouse};

/// Bottom of the meters' scale, in dBFS.
pub const METER_FLOOR_DBFS: f32 = -60.0;

/// The dBFS values labelled under the meter's bar.
pub const METER_SCALE_DBFS: [f32; 8] = [-60.0, -48.0, -36.0, -24.0, -18.0, -12.0, -6.0, 0.0];

/// A peak at or above this many dBFS lights the clip indicator: −0.1 dBFS, i.e. a sample within
/// 1.2 % of full scale (32,391 of 32,768), the usual "over" threshold of digital meters.
pub const CLIP_DBFS: f32 = -0.1;

/// How long the clip indicator stays lit after the last clipped chunk: 60 updates (2 s at ~30
/// updates per second).
pub const CLIP_HOLD_TICKS: u32 = 60;

/// How far the meter falls per update, in dB (at ~30 updates/s: 20 dB per second, a
/// peak-programme-meter style ballistic).
pub const FALL_DB_PER_TICK: f32 = 0.7;

/// Levels smoothed for display: peak and RMS in dBFS, each rising at once and falling by
/// [`FALL_DB_PER_TICK`] per update, and a clip indicator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Meter {
    /// The displayed peak level in dBFS.
    pub peak: f32,
    /// The displayed RMS level in dBFS.
    pub rms: f32,
    /// Updates left during which the clip indicator stays lit.
    pub clip_ticks: u32,
}

impl Default for Meter {
    fn default() -> Self {
        Self {
            peak: engine::audio::level::SILENCE_FLOOR_DBFS,
            rms: engine::audio::level::SILENCE_FLOOR_DBFS,
            clip_ticks: 0,
        }
    }
}

fn ballistic(shown: f32, measured: f32) -> f32 {
    if measured >= shown {
        measured
    } else {
        (shown - FALL_DB_PER_TICK).max(measured)
    }
}

fn dbfs_label(dbfs: f32) -> String {
    if dbfs <= engine::audio::level::SILENCE_FLOOR_DBFS + 0.5 {
        "silence".to_string()
    } else {
        format!("{dbfs:.1} dBFS")
    }
}

impl Meter {
    /// Feeds the latest measured level.
    pub fn update(&mut self, level: engine::audio::level::Level) {
        self.peak = ballistic(self.peak, level.peak_dbfs);
        self.rms = ballistic(self.rms, level.rms_dbfs);
        if level.peak_dbfs >= CLIP_DBFS {
            self.clip_ticks = CLIP_HOLD_TICKS;
        } else {
            self.clip_ticks = self.clip_ticks.saturating_sub(1);
        }
    }

    /// The peak and RMS as the meter's line reads them ("Peak −12.0 dBFS", "RMS −15.0 dBFS"),
    /// or "No sound" and nothing while the level is at the silence floor.
    pub fn readout(&self) -> (String, String) {
        if self.peak <= engine::audio::level::SILENCE_FLOOR_DBFS + 0.5 {
            return ("No sound".into(), String::new());
        }
        (
            format!("Peak {}", dbfs_label(self.peak)),
            format!("RMS {}", dbfs_label(self.rms)),
        )
    }

    /// Whether the clip indicator is lit.
    pub fn clipping(&self) -> bool {
        self.clip_ticks > 0
    }

    /// The meter: a line with its label, the peak and RMS values and the clip indicator, then
    /// the bar (RMS filled, peak as a marker) over a dBFS scale.
    pub fn view<'a, M: 'a>(&self, label: &'a str) -> Element<'a, M> {
        let clip = if self.clipping() {
            text("CLIP").style(text::danger)
        } else {
            text("clip").style(|theme: &Theme| text::Style {
                color: Some(theme.extended_palette().background.strong.color),
            })
        };
        let (peak, rms) = self.readout();
        column![
            row![
                text(label).width(Length::Fixed(124.0)),
                text(peak).width(Length::Fixed(150.0)),
                text(rms).width(Length::Fill),
                clip,
            ]
            .spacing(8),
            canvas(*self)
                .width(Length::Fill)
                .height(Length::Fixed(32.0)),
        ]
        .spacing(4)
        .into()
    }
}

/// Where `dbfs` falls on a bar `width` wide (0 at [`METER_FLOOR_DBFS`], `width` at 0 dBFS).
fn meter_x(dbfs: f32, width: f32) -> f32 {
    ((dbfs - METER_FLOOR_DBFS) / -METER_FLOOR_DBFS).clamp(0.0, 1.0) * width
}

impl<M> canvas::Program<M> for Meter {
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
        let w = bounds.width;
        let bar = 12.0;
        frame.fill_rectangle(
            Point::ORIGIN,
            Size::new(w, bar),
            palette.background.weak.color,
        );
        let rms = meter_x(self.rms, w);
        let color = if self.clipping() {
            palette.danger.base.color
        } else {
            palette.success.base.color
        };
        frame.fill_rectangle(Point::ORIGIN, Size::new(rms, bar), color);
        if self.peak > METER_FLOOR_DBFS {
            let x = meter_x(self.peak, w).min(w - 2.0);
            frame.fill_rectangle(Point::new(x, 0.0), Size::new(2.0, bar), Color::WHITE);
        }
        for db in METER_SCALE_DBFS {
            let x = meter_x(db, w).min(w - 1.0);
            frame.fill_rectangle(
                Point::new(x, bar),
                Size::new(1.0, 4.0),
                palette.background.strong.color,
            );
            let label = format!("{db:.0}");
            let align = if db == 0.0 {
                iced::widget::text::Alignment::Right
            } else if db == METER_FLOOR_DBFS {
                iced::widget::text::Alignment::Left
            } else {
                iced::widget::text::Alignment::Center
            };
            frame.fill_text(canvas::Text {
                content: label,
                position: Point::new(x, bar + 4.0),
                color: palette.background.base.text,
                size: iced::Pixels(11.0),
                font: super::FONT,
                align_x: align,
                ..canvas::Text::default()
            });
        }
        vec![frame.into_geometry()]
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

/// A padlock drawn in the text colour, [`LOCK_SIZE`] logical pixels (width × height), beside a
/// private server (TLS only or a key required). Drawn, not a glyph: the window's font (Fira
/// Sans) has no U+1F512, and iced does not fall back to system fonts for it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lock;

/// Width and height of [`Lock`], in logical pixels.
pub const LOCK_SIZE: (f32, f32) = (12.0, 14.0);

impl Lock {
    /// The icon as an element.
    pub fn view<'a, M: 'a>(self) -> Element<'a, M> {
        canvas(self)
            .width(Length::Fixed(LOCK_SIZE.0))
            .height(Length::Fixed(LOCK_SIZE.1))
            .into()
    }
}

impl<M> canvas::Program<M> for Lock {
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
        let color = theme.palette().text;
        let (w, h) = (bounds.width, bounds.height);
        // The body: the lower 8/14, full width.
        let body_top = h * 6.0 / 14.0;
        frame.fill_rectangle(Point::new(0.0, body_top), Size::new(w, h - body_top), color);
        // The shackle: a half circle over the body with straight legs down to it.
        let shackle = canvas::Path::new(|p| {
            let r = w * 0.3;
            let cx = w / 2.0;
            let top = r + 1.0;
            p.move_to(Point::new(cx - r, body_top));
            p.line_to(Point::new(cx - r, top));
            p.arc(canvas::path::Arc {
                center: Point::new(cx, top),
                radius: r,
                start_angle: iced::Radians(std::f32::consts::PI),
                end_angle: iced::Radians(2.0 * std::f32::consts::PI),
            });
            p.line_to(Point::new(cx + r, body_top));
        });
        frame.stroke(
            &shackle,
            canvas::Stroke::default().with_color(color).with_width(2.0),
        );
        vec![frame.into_geometry()]
    }
}

/// The default pick-list style, with the background nudged by 1/255 in blue on every other
/// change of the label (`generation` counts them). iced 0.14's tiny-skia renderer computes the
/// damage of vertically centred text from its top edge only, so a new label was drawn with its
/// upper half missing; a changed background makes the whole widget damaged and repainted. The
/// nudge is invisible.
pub fn repaint_on_change(
    generation: u32,
) -> impl Fn(&iced::Theme, iced::widget::pick_list::Status) -> iced::widget::pick_list::Style {
    let nudge = (generation % 2) as f32 / 255.0;
    move |theme, status| {
        let mut style = iced::widget::pick_list::default(theme, status);
        if let iced::Background::Color(c) = &mut style.background {
            c.b = (c.b + nudge).min(1.0);
        }
        style
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(peak_dbfs: f32, rms_dbfs: f32) -> engine::audio::level::Level {
        engine::audio::level::Level {
            peak_dbfs,
            rms_dbfs,
        }
    }

    #[test]
    fn meter_rises_at_once_and_falls_slowly() {
        let mut m = Meter::default();
        m.update(level(-7.0, -10.0));
        assert_eq!((m.peak, m.rms), (-7.0, -10.0));
        m.update(level(-37.0, -40.0));
        assert!((m.rms - (-10.7)).abs() < 1e-4);
        assert!((m.peak - (-7.7)).abs() < 1e-4);
        m.update(level(-2.0, -5.0));
        assert_eq!((m.peak, m.rms), (-2.0, -5.0));
    }

    #[test]
    fn the_clip_indicator_lights_at_minus_0_1_dbfs_and_holds_2_s() {
        let mut m = Meter::default();
        m.update(level(-0.2, -3.0));
        assert!(!m.clipping());
        m.update(level(0.0, -3.0));
        assert!(m.clipping());
        for _ in 0..CLIP_HOLD_TICKS - 1 {
            m.update(level(-20.0, -23.0));
        }
        assert!(m.clipping(), "held");
        m.update(level(-20.0, -23.0));
        assert!(!m.clipping(), "off after the hold");
    }

    #[test]
    fn an_idle_meter_reads_no_sound() {
        let m = Meter::default();
        assert_eq!(m.readout(), ("No sound".to_string(), String::new()));
        let mut m = Meter::default();
        m.update(level(-12.0, -15.0));
        assert_eq!(
            m.readout(),
            ("Peak -12.0 dBFS".to_string(), "RMS -15.0 dBFS".to_string())
        );
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
