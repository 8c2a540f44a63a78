//! The selected stage's log: the newest lines (or a page scrolled back, clamped at both ends),
//! the live filter, wrapping or horizontal scrolling of long lines, stderr drawn as stderr.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::Run;
use crate::app::widgets::panel;
use crate::bake::events::Stream;
use crate::theme::Theme;

/// Draws the log pane, and remembers its height and how far it can scroll (for page keys).
pub fn draw(t: &Theme, run: &Run, frame: &mut Frame, area: Rect) {
    let b = &run.state;
    let Some(stage) = run.shown_stage().and_then(|id| b.stages.get(id)) else {
        return;
    };
    let filter = run.filter.to_ascii_lowercase();
    let matching: Vec<_> = stage
        .log
        .iter()
        .filter(|l| filter.is_empty() || l.text.to_ascii_lowercase().contains(&filter))
        .collect();
    let height = area.height.saturating_sub(2) as usize;
    let max_scroll = matching.len().saturating_sub(height);
    run.pane.page.set(height.max(1));
    run.pane.max_scroll.set(max_scroll);
    let scroll = run.pane.scroll.min(max_scroll);
    let end = matching.len() - scroll;
    let start = end.saturating_sub(height);
    let lines: Vec<Line> = matching[start..end]
        .iter()
        .map(|l| {
            let text: String = if run.pane.wrap {
                l.text.clone()
            } else {
                l.text.chars().skip(run.pane.hscroll).collect()
            };
            Line::from(Span::styled(
                text,
                if l.stream == Stream::Err {
                    t.style("log_err")
                } else {
                    t.style("text")
                },
            ))
        })
        .collect();
    let mut title = format!("{} log", stage.name);
    if !filter.is_empty() {
        title.push_str(&format!(
            " /{} ({} of {})",
            run.filter,
            matching.len(),
            stage.log.len()
        ));
    }
    if stage.log.dropped() > 0 {
        title.push_str(&format!(
            " ({} older lines in packer.log)",
            stage.log.dropped()
        ));
    }
    if scroll > 0 {
        title.push_str(&format!(" [{scroll} lines up: PgDn follows]"));
    }
    if run.pane.wrap {
        title.push_str(" [wrap]");
    } else if run.pane.hscroll > 0 {
        title.push_str(&format!(" [→{}]", run.pane.hscroll));
    }
    let mut p = Paragraph::new(lines).block(panel(t, title, true));
    if run.pane.wrap {
        p = p.wrap(Wrap { trim: false });
    }
    frame.render_widget(p, area);
}
