//! A QR code of the web player's URL, drawn with iced's canvas, so a phone can open the player
//! by pointing its camera at the Server tab.

use iced::widget::canvas::{self, Frame, Geometry};
use iced::{Color, Point, Rectangle, Renderer, Size, Theme, mouse};

/// Modules of quiet zone around the code: 4, as ISO/IEC 18004 requires.
pub const QUIET_ZONE: usize = 4;

/// A QR code: `width × width` modules, dark or light, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qr {
    width: usize,
    dark: Vec<bool>,
}

impl Qr {
    /// The QR code of `text` (error correction level M), or `None` if it does not fit in one.
    pub fn new(text: &str) -> Option<Self> {
        let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).ok()?;
        let dark = code
            .to_colors()
            .into_iter()
            .map(|c| c == qrcode::Color::Dark)
            .collect();
        Some(Self {
            width: code.width(),
            dark,
        })
    }

    /// Modules per side, quiet zone excluded.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Whether the module at `x`, `y` is dark (outside the code: light).
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.width && self.dark[y * self.width + x]
    }
}

impl<M> canvas::Program<M> for Qr {
    type State = ();

    fn draw(
        &self,
        _state: &(),
        renderer: &Renderer,
        _theme: &Theme,
        bounds: Rectangle,
        _cursor: mouse::Cursor,
    ) -> Vec<Geometry> {
        let mut frame = Frame::new(renderer, bounds.size());
        // Black on white whatever the theme: cameras read dark modules on a light ground.
        frame.fill_rectangle(Point::ORIGIN, bounds.size(), Color::WHITE);
        let side = bounds.width.min(bounds.height);
        let width = self.width();
        let module = (side / (width + 2 * QUIET_ZONE) as f32).floor().max(1.0);
        let offset = (side - module * width as f32) / 2.0;
        for y in 0..width {
            for x in 0..width {
                if self.is_dark(x, y) {
                    frame.fill_rectangle(
                        Point::new(offset + x as f32 * module, offset + y as f32 * module),
                        Size::new(module, module),
                        Color::BLACK,
                    );
                }
            }
        }
        vec![frame.into_geometry()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The three finder patterns (7×7 squares with a dark ring and a dark 3×3 centre) sit in
    /// three corners, as in every QR code; the URL of a web player fits in one.
    #[test]
    fn a_url_becomes_a_qr_code_with_its_finder_patterns() {
        let qr = Qr::new("http://192.168.1.20:26080/").expect("fits");
        let w = qr.width();
        assert!(w >= 21 && (w - 21).is_multiple_of(4), "{w}");
        for (cx, cy) in [(0, 0), (w - 7, 0), (0, w - 7)] {
            assert!(qr.is_dark(cx, cy) && qr.is_dark(cx + 6, cy + 6));
            assert!(!qr.is_dark(cx + 1, cy + 1), "light ring");
            assert!(qr.is_dark(cx + 3, cy + 3), "dark centre");
        }
        assert!(!qr.is_dark(w, 0), "outside is light");
    }
}
