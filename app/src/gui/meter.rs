//! The level meter (peak and RMS in dBFS with a clip indicator, by time-based ballistics), the
//! scrolling level history, and [`MeterWatch`], which tells the refresh ticks when the meter
//! moved enough to be worth a redraw.

use std::time::{Duration, Instant};

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

/// How long the clip indicator stays lit after the last clipped chunk: 2 s.
pub const CLIP_HOLD: Duration = Duration::from_secs(2);

/// How fast the meter falls, in dB per second: 20 (a peak-programme-meter style ballistic). By
/// time, not per update, so that updates skipped while nothing changes do not slow it.
pub const FALL_DB_PER_SEC: f32 = 20.0;

/// Levels smoothed for display: peak and RMS in dBFS, each rising at once and falling by
/// [`FALL_DB_PER_SEC`], and a clip indicator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Meter {
    /// The displayed peak level in dBFS.
    pub peak: f32,
    /// The displayed RMS level in dBFS.
    pub rms: f32,
    /// Until when the clip indicator stays lit.
    pub clip_until: Option<Instant>,
    /// When it was last updated.
    pub at: Option<Instant>,
}

impl Default for Meter {
    fn default() -> Self {
        Self {
            peak: engine::audio::level::SILENCE_FLOOR_DBFS,
            rms: engine::audio::level::SILENCE_FLOOR_DBFS,
            clip_until: None,
            at: None,
        }
    }
}

fn ballistic(shown: f32, measured: f32, fall: f32) -> f32 {
    if measured >= shown {
        measured
    } else {
        (shown - fall).max(measured)
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
    /// Feeds the latest measured level, now.
    pub fn update(&mut self, level: engine::audio::level::Level) {
        self.update_at(level, Instant::now());
    }

    /// Feeds the level measured at `now`: the display falls by [`FALL_DB_PER_SEC`] for the time
    /// since the last update.
    pub fn update_at(&mut self, level: engine::audio::level::Level, now: Instant) {
        let dt = self
            .at
            .map_or(0.0, |at| now.saturating_duration_since(at).as_secs_f32());
        let fall = FALL_DB_PER_SEC * dt;
        self.peak = ballistic(self.peak, level.peak_dbfs, fall);
        self.rms = ballistic(self.rms, level.rms_dbfs, fall);
        self.at = Some(now);
        if level.peak_dbfs >= CLIP_DBFS {
            self.clip_until = Some(now + CLIP_HOLD);
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
        self.clip_until.is_some_and(|until| Instant::now() < until)
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

/// The meter as the ticks see it: a shadow [`Meter`] fed every sample, and a count that goes up
/// when its display moved by at least [`MIN_MOVE_DB`] (or the clip indicator changed) since the
/// last count, so that a steady level whose last digit flickers (a sine's RMS per 20 ms chunk
/// wanders by a few hundredths of a dB) does not redraw the window 15 times a second.
#[derive(Debug, Default)]
pub struct MeterWatch {
    meter: Meter,
    shown: Option<Meter>,
    moves: u64,
}

/// The smallest move of the meter's peak or RMS that is worth a redraw: 0.15 dB (the text shows
/// tenths; the bar moves by a pixel per 0.1 dB at most widths).
pub const MIN_MOVE_DB: f32 = 0.15;

impl MeterWatch {
    /// Feeds the latest level; returns how many visible moves there were so far (the value to
    /// put in a digest).
    pub fn update(&mut self, level: engine::audio::level::Level) -> u64 {
        self.meter.update(level);
        let moved = self.shown.is_none_or(|shown| {
            (shown.peak - self.meter.peak).abs() >= MIN_MOVE_DB
                || (shown.rms - self.meter.rms).abs() >= MIN_MOVE_DB
                || shown.clipping() != self.meter.clipping()
        });
        if moved {
            self.shown = Some(self.meter);
            self.moves += 1;
        }
        self.moves
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
    fn meter_rises_at_once_and_falls_by_time() {
        let t0 = Instant::now();
        let mut m = Meter::default();
        m.update_at(level(-7.0, -10.0), t0);
        assert_eq!((m.peak, m.rms), (-7.0, -10.0));
        // 50 ms later: 1 dB lower (20 dB/s), however many updates came in between.
        m.update_at(level(-37.0, -40.0), t0 + Duration::from_millis(50));
        assert!((m.rms - (-11.0)).abs() < 1e-3, "{}", m.rms);
        assert!((m.peak - (-8.0)).abs() < 1e-3, "{}", m.peak);
        m.update_at(level(-2.0, -5.0), t0 + Duration::from_millis(60));
        assert_eq!((m.peak, m.rms), (-2.0, -5.0));
        m.update_at(level(-37.0, -40.0), t0 + Duration::from_secs(10));
        assert_eq!(
            (m.peak, m.rms),
            (-37.0, -40.0),
            "settled on the measured level"
        );
    }

    #[test]
    fn the_clip_indicator_lights_at_minus_0_1_dbfs_and_holds_2_s() {
        let mut m = Meter::default();
        m.update(level(-0.2, -3.0));
        assert!(!m.clipping());
        let now = Instant::now();
        m.update_at(level(0.0, -3.0), now);
        assert!(m.clipping());
        assert_eq!(m.clip_until, Some(now + CLIP_HOLD));
        m.update(level(-20.0, -23.0));
        assert!(m.clipping(), "held");
        m.clip_until = Some(Instant::now());
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
    fn a_flickering_last_digit_is_not_a_move() {
        let mut w = MeterWatch::default();
        let first = w.update(level(-12.0, -15.04));
        for i in 0..100 {
            let rms = if i % 2 == 0 { -15.06 } else { -15.04 };
            assert_eq!(w.update(level(-12.0, rms)), first, "sample {i}");
        }
        assert_eq!(
            w.update(level(-6.0, -9.0)),
            first + 1,
            "a real change moves"
        );
    }
}
