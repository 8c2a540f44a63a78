//! The result of a finished build: the image and its Glance id, or what failed (the failed
//! stage, or "before any stage" for a template error) with the lines that explain it, scrolled
//! with `[` and `]` when there are more than fit; the record directory.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{BakePage, Run};
use crate::app::page::DrawCtx;
use crate::app::widgets::panel;
use crate::bake::events::BuildStatus;
use crate::format::duration;

/// Explanation lines the panel shows at most.
pub const SHOWN: usize = 8;

/// The panel's height for this run in an area `available` rows high (0: no result yet).
pub fn height(run: &Run, available: u16) -> u16 {
    let Some(o) = &run.state.outcome else {
        return 0;
    };
    // Borders, then: image and id, or the failure and its explanation; then the time line.
    let lines = match o.status {
        BuildStatus::Succeeded => 2,
        _ => 1 + o.explanation.len().min(SHOWN),
    } + 1;
    (lines as u16 + 2).min(available / 2)
}

/// Draws the result panel.
pub fn draw(page: &BakePage, run: &Run, frame: &mut Frame, area: Rect, ctx: &DrawCtx<'_>) {
    let t = ctx.theme;
    let b = &run.state;
    let Some(o) = &b.outcome else { return };
    let mut lines = Vec::new();
    match o.status {
        BuildStatus::Succeeded => {
            lines.push(Line::from(vec![
                Span::styled("image  ", t.style("dim")),
                Span::styled(
                    o.image_name.clone().unwrap_or_else(|| "-".into()),
                    t.style("ok"),
                ),
            ]));
            lines.push(Line::from(vec![
                Span::styled("id     ", t.style("dim")),
                Span::styled(
                    o.image_id.clone().unwrap_or_else(|| "-".into()),
                    t.style("text"),
                ),
            ]));
        }
        _ => {
            let (head, stage) = match o.failed_stage.and_then(|i| b.stages.get(i)) {
                Some(s) => (format!("{} in stage ", o.status.as_str()), s.name.clone()),
                None if o.status == BuildStatus::Failed => (
                    "failed before any stage: ".to_string(),
                    o.error.clone().unwrap_or_default(),
                ),
                None => (format!("{} ", o.status.as_str()), String::new()),
            };
            lines.push(Line::from(vec![
                Span::styled(head, t.style("error")),
                Span::styled(stage, t.style("stage_failed")),
            ]));
            let more = o.explanation.len().saturating_sub(SHOWN);
            let from = run.result_scroll.min(more);
            for l in o.explanation.iter().skip(from).take(SHOWN) {
                lines.push(Line::from(Span::styled(l.clone(), t.style("log_err"))));
            }
        }
    }
    let mut tail = format!("took {}", duration(o.seconds));
    if let Some(dir) = &run.record_dir {
        tail.push_str(&format!("   record: {}", dir.display()));
    }
    if page.demo.is_some() {
        tail.push_str("   (a recorded build: nothing was created)");
    }
    lines.push(Line::from(Span::styled(tail, t.style("dim"))));
    let mut title = format!("Result: {}", o.status.as_str());
    if o.explanation.len() > SHOWN {
        title.push_str(&format!(
            " (lines {}-{} of {}: [ ] scroll)",
            run.result_scroll.min(o.explanation.len() - SHOWN) + 1,
            (run.result_scroll + SHOWN).min(o.explanation.len()),
            o.explanation.len()
        ));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(panel(t, title, true)),
        area,
    );
}
