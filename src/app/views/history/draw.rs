//! Drawing the History view: the table of builds (or why there is none) and the selected
//! build's details.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{COLUMNS, HistoryPage, Mode};
use crate::app::page::DrawCtx;
use crate::app::widgets::table::{self, TableView};
use crate::app::widgets::{panel, spinner};
use crate::format::duration;

/// Draws the History view in its current mode.
pub fn draw(page: &HistoryPage, frame: &mut Frame, area: Rect, ctx: &DrawCtx<'_>) {
    match (&page.mode, page.selected()) {
        (Mode::Record { scroll }, Some(Ok((dir, rec)))) => super::detail::draw(
            dir,
            rec,
            page.inventory.as_deref(),
            *scroll,
            frame,
            area,
            ctx,
        ),
        (Mode::Log(p), _) => draw_pager(p, frame, area, ctx),
        _ => draw_list(page, frame, area, ctx),
    }
}

fn draw_pager(p: &super::Pager, frame: &mut Frame, area: Rect, ctx: &DrawCtx<'_>) {
    let t = ctx.theme;
    let height = area.height.saturating_sub(2) as usize;
    p.page.set(height.max(1));
    let mut title = format!("{} (Esc: back, / search, n/N)", p.path.display());
    let lines: Vec<Line> = match (&p.lines, p.lines.data()) {
        (_, Some((lines, skipped))) => {
            if *skipped > 0 {
                title.push_str(&format!(" [first {} MiB not shown]", skipped >> 20));
            }
            if !p.search.is_empty() {
                title.push_str(&format!(
                    " /{}: {}",
                    p.search,
                    if p.matches.is_empty() {
                        "no match".to_string()
                    } else {
                        format!("match {} of {}", p.current + 1, p.matches.len())
                    }
                ));
            }
            let current = p.matches.get(p.current).copied();
            lines
                .iter()
                .enumerate()
                .skip(p.top)
                .take(height)
                .map(|(i, l)| {
                    let style = if Some(i) == current {
                        t.style("selection")
                    } else if p.matches.binary_search(&i).is_ok() {
                        t.style("warning")
                    } else {
                        t.style("text")
                    };
                    Line::from(Span::styled(l.clone(), style))
                })
                .collect()
        }
        (crate::app::loading::Loading::Failed { message, .. }, None) => {
            vec![Line::from(Span::styled(message.clone(), t.style("error")))]
        }
        _ => vec![Line::from(Span::styled("reading...", t.style("dim")))],
    };
    frame.render_widget(Paragraph::new(lines).block(panel(t, title, true)), area);
}

fn draw_list(page: &HistoryPage, frame: &mut Frame, area: Rect, ctx: &DrawCtx<'_>) {
    let t = ctx.theme;
    let [list, detail] =
        Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(area);
    let total = page.records.data().map_or(0, Vec::len);
    let mut title = if page.table.filter().is_empty() {
        format!("Builds ({total})")
    } else {
        format!(
            "Builds /{} ({} of {total})",
            page.table.filter(),
            page.table.len()
        )
    };
    if page.records.is_loading() {
        title.push_str(&format!(
            " {} reading",
            spinner(ctx.now.timestamp_subsec_millis() as f64 / 1000.0)
        ));
    }
    let empty = match (page.records.error(), page.records.data()) {
        (Some(e), _) => e.to_string(),
        (None, None) => "Reading the build records...".to_string(),
        (None, Some(rows)) if rows.is_empty() => "No builds recorded yet.".to_string(),
        (None, Some(_)) => "No build matches the filter.".to_string(),
    };
    let rows = page.records.data().map_or(&[][..], Vec::as_slice);
    table::draw(
        frame,
        list,
        t,
        TableView {
            columns: COLUMNS,
            rows,
            state: &page.table,
            block: panel(t, title, true),
            empty: &empty,
            empty_style: if page.records.error().is_some() {
                "error"
            } else {
                "dim"
            },
            focused: true,
        },
    );

    let mut lines = Vec::new();
    if let Some(e) = page.records.error().filter(|_| !rows.is_empty()) {
        lines.push(Line::from(Span::styled(e.to_string(), t.style("error"))));
    }
    if let Some(Ok((dir, rec))) = page.selected() {
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
        Paragraph::new(lines).block(panel(t, "Details", false)),
        detail,
    );
}
