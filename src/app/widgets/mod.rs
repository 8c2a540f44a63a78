//! Widgets shared by the views: a themed panel, a centred overlay area, and the table.

pub mod table;

use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders};

use crate::theme::Theme;

/// A bordered block with the theme's border and title styles.
pub fn panel<'a>(theme: &Theme, title: impl Into<String>, focused: bool) -> Block<'a> {
    let border = if focused {
        theme.style("border_focused")
    } else {
        theme.style("border")
    };
    Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .title(Span::styled(
            format!(" {} ", title.into()),
            theme.style("title"),
        ))
}

/// A `width` x `height` area centred in `area` (clipped to it).
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// A spinner frame for `tick` (a tick is a draw of a loading view).
pub fn spinner(seconds: f64) -> &'static str {
    const FRAMES: [&str; 8] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧"];
    FRAMES[((seconds * 8.0) as usize) % FRAMES.len()]
}
