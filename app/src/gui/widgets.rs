//! Small widgets shared by both tabs: the level meter and history ([`super::meter`]), a padlock,
//! and a pick-list style that repaints on change.

use iced::widget::canvas;
use iced::widget::canvas::{Frame, Geometry};
use iced::{Element, Length, Point, Rectangle, Renderer, Size, Theme, mouse};

pub use super::history::History;
pub use super::meter::Meter;

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
