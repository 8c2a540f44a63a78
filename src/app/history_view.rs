//! The History view: past builds from their records, newest first, with a live filter and the
//! selected build's stage timings.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::draw::panel;
use super::state::App;
use crate::build::record::RecordResult;
use crate::format::duration;

/// Draws the History view.
pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let [list, detail] =
        Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(area);
    let visible = app.history.visible();
    let mut lines = vec![Line::from(Span::styled(
        format!(
            "{:<20} {:<10} {:>8} {:<6} IMAGE",
            "STARTED (UTC)", "RESULT", "TIME", "FIPS"
        ),
        t.style("dim"),
    ))];
    if visible.is_empty() {
        lines.push(Line::from(Span::styled(
            if app.history.records.is_empty() {
                "No builds recorded yet."
            } else {
                "No build matches the filter."
            },
            t.style("dim"),
        )));
    }
    let height = list.height.saturating_sub(3) as usize;
    let first = app
        .history
        .selected
        .saturating_sub(height.saturating_sub(1));
    for (i, r) in visible.iter().enumerate().skip(first).take(height) {
        let mut line = match r {
            Ok((_, rec)) => {
                let style = t.style(match rec.result {
                    RecordResult::Succeeded => "stage_ok",
                    RecordResult::Failed => "stage_failed",
                    RecordResult::Cancelled => "warning",
                    RecordResult::Running => "stage_running",
                });
                let fips = match (rec.fips.requested, rec.fips.validated) {
                    (false, _) => "-",
                    (true, true) => "yes",
                    (true, false) => "UNVAL",
                };
                Line::from(vec![
                    Span::styled(
                        format!("{:<20} ", rec.started_at.format("%Y-%m-%d %H:%M")),
                        t.style("text"),
                    ),
                    Span::styled(format!("{:<10} ", rec.result.as_str()), style),
                    Span::styled(
                        format!("{:>8} ", rec.seconds.map_or_else(|| "-".into(), duration)),
                        t.style("dim"),
                    ),
                    Span::styled(format!("{fips:<6} "), t.style("text")),
                    Span::styled(
                        rec.image_name.clone().unwrap_or_else(|| "-".into()),
                        t.style("text"),
                    ),
                ])
            }
            Err(e) => Line::from(Span::styled(
                format!("unreadable record: {e}"),
                t.style("error"),
            )),
        };
        if i == app.history.selected {
            line = line.style(t.style("selection"));
        }
        lines.push(line);
    }
    let title = if app.history.filter.is_empty() {
        format!("Builds ({})", visible.len())
    } else {
        format!(
            "Builds /{} ({} of {})",
            app.history.filter,
            visible.len(),
            app.history.records.len()
        )
    };
    frame.render_widget(Paragraph::new(lines).block(panel(app, title, true)), list);

    let mut lines = Vec::new();
    if let Some(Ok((dir, rec))) = visible.get(app.history.selected) {
        lines.push(Line::from(Span::styled(
            rec.image_id
                .clone()
                .map_or_else(|| "no image".into(), |i| format!("image id {i}")),
            t.style("text"),
        )));
        if let Some(s) = &rec.failed_stage {
            lines.push(Line::from(Span::styled(
                format!("failed in {s}"),
                t.style("stage_failed"),
            )));
        }
        if rec.fips.requested {
            lines.push(Line::from(Span::styled(
                format!(
                    "FIPS requested, {}",
                    if rec.fips.validated {
                        "validated (Ubuntu Pro)"
                    } else {
                        "NOT validated (acknowledged)"
                    }
                ),
                t.style("warning"),
            )));
        }
        lines.push(Line::raw(""));
        for s in &rec.stages {
            lines.push(Line::from(vec![
                Span::styled(format!("{:<20}", s.name), t.style("text")),
                Span::styled(format!("{:<8}", s.status.as_str()), t.style("dim")),
                Span::styled(s.seconds.map(duration).unwrap_or_default(), t.style("dim")),
            ]));
        }
        lines.push(Line::raw(""));
        lines.push(Line::from(Span::styled(
            dir.display().to_string(),
            t.style("dim"),
        )));
    }
    frame.render_widget(
        Paragraph::new(lines).block(panel(app, "Details", false)),
        detail,
    );
}
