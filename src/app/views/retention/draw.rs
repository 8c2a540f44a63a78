//! Drawing the Retention view: the table with marks, what is marked, and a delete run's progress
//! (each image's outcome as it comes).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{COLUMNS, RetentionPage};
use crate::app::page::DrawCtx;
use crate::app::widgets::panel;
use crate::app::widgets::table::{self, TableView};
use crate::inventory::delete::Outcome;

/// Draws the view.
pub fn draw(page: &RetentionPage, frame: &mut Frame, area: Rect, ctx: &DrawCtx<'_>) {
    let t = ctx.theme;
    let run_height = page
        .run
        .as_ref()
        .map_or(0, |r| (r.plan.len().min(10) + 3) as u16);
    let [list, run_area] =
        Layout::vertical([Constraint::Min(5), Constraint::Length(run_height)]).areas(area);
    let eligible = page
        .rows
        .iter()
        .filter(|r| r.image.verdict == crate::retention::Verdict::Eligible)
        .count();
    let mut title = format!(
        "Retention: {eligible} eligible of {}, {} marked",
        page.rows.len(),
        page.marks.len()
    );
    if ctx.shared.readonly {
        title.push_str(" (read-only: nothing can be deleted)");
    }
    if !page.table.filter().is_empty() {
        title.push_str(&format!(" /{}", page.table.filter()));
    }
    let empty = if page.inventory.is_none() {
        "Reading the images (the Images tab lists them)..."
    } else {
        "No image."
    };
    table::draw(
        frame,
        list,
        t,
        TableView {
            columns: COLUMNS,
            rows: &page.rows,
            state: &page.table,
            block: panel(t, title, true),
            empty,
            empty_style: "dim",
            focused: true,
        },
    );
    let Some(run) = &page.run else { return };
    let done = run.outcomes.iter().flatten().count();
    let mut lines = Vec::new();
    let first = run.current.unwrap_or(done).saturating_sub(5);
    for (i, p) in run.plan.iter().enumerate().skip(first).take(10) {
        let (mark, style, why) = match (&run.outcomes[i], run.current == Some(i)) {
            (Some(Outcome::Deleted), _) => ("deleted ", "ok", String::new()),
            (Some(Outcome::Skipped(w)), _) => ("skipped ", "warning", w.clone()),
            (Some(Outcome::Failed(w)), _) => ("FAILED  ", "error", w.clone()),
            (None, true) => (
                "checking",
                "progress",
                "re-reading the image and its use".into(),
            ),
            (None, false) => ("        ", "dim", String::new()),
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{mark} "), t.style(style)),
            Span::styled(format!("{:<30} ", p.name), t.style("text")),
            Span::styled(why, t.style("dim")),
        ]));
    }
    let state = match &run.finished {
        None if run.stopping => "stopping after this one".to_string(),
        None => "deleting".to_string(),
        Some(Ok(())) => "done".to_string(),
        Some(Err(e)) => format!("stopped: {e}"),
    };
    frame.render_widget(
        Paragraph::new(lines).block(panel(
            t,
            format!("Deletes {done}/{}: {state}", run.plan.len()),
            false,
        )),
        run_area,
    );
}
