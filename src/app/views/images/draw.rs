//! Drawing the Images view: the table (title with the count, the filter, the time of the last
//! refresh and a spinner while loading), the age chart below it on a tall terminal, the detail of
//! one image, or the errors.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{COLUMNS, ImagesPage, Mode, chart, detail, scope_words};
use crate::app::page::DrawCtx;
use crate::app::widgets::table::{self, TableView};
use crate::app::widgets::{panel, spinner};

/// Terminals at least this tall show the age chart under the table.
const CHART_MIN_HEIGHT: u16 = 30;

/// Draws the view.
pub fn draw(page: &ImagesPage, frame: &mut Frame, area: Rect, ctx: &DrawCtx<'_>) {
    match page.mode {
        Mode::Detail(scroll) => match page.selected() {
            Some(row) => detail::draw(page, row, scroll, frame, area, ctx),
            None => draw_list(page, frame, area, ctx),
        },
        Mode::Errors(scroll) => draw_errors(page, scroll, frame, area, ctx),
        Mode::List => draw_list(page, frame, area, ctx),
    }
}

fn draw_list(page: &ImagesPage, frame: &mut Frame, area: Rect, ctx: &DrawCtx<'_>) {
    let t = ctx.theme;
    let show_chart = area.height >= CHART_MIN_HEIGHT && !page.rows.is_empty();
    let chart_height = if show_chart { 11 } else { 0 };
    let [list, chart_area] =
        Layout::vertical([Constraint::Min(5), Constraint::Length(chart_height)]).areas(area);
    let inv = page.loaded.data().map(|l| &l.inventory);
    let mut title = match inv {
        Some(inv) => format!(
            "Images ({}, {} eligible) usage: {}",
            page.rows.len(),
            inv.eligible().count(),
            scope_words(inv)
        ),
        None => "Images".to_string(),
    };
    if !page.table.filter().is_empty() {
        title.push_str(&format!(
            " /{} ({} shown)",
            page.table.filter(),
            page.table.len()
        ));
    }
    if let Some(at) = page.refreshed {
        title.push_str(&format!(" · read {}", at.format("%H:%M:%S")));
    }
    if page.loaded.is_loading() {
        let secs = ctx.now.timestamp_subsec_millis() as f64 / 1000.0;
        title.push_str(&format!(" {} reading Glance", spinner(secs)));
    }
    let (empty, empty_style) = match (page.loaded.error(), inv) {
        (Some(e), _) => (format!("could not list the images: {e}"), "error"),
        (None, None) => ("Reading Glance, Nova and Cinder...".to_string(), "dim"),
        (None, Some(_)) if page.rows.is_empty() => {
            ("No rke2-node-* image in Glance.".into(), "dim")
        }
        (None, Some(_)) => ("No image matches the filter.".to_string(), "dim"),
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
            empty: &empty,
            empty_style,
            focused: true,
        },
    );
    if show_chart {
        chart::draw(t, &page.rows, page.min_age_days, frame, chart_area);
    }
}

fn draw_errors(page: &ImagesPage, scroll: usize, frame: &mut Frame, area: Rect, ctx: &DrawCtx<'_>) {
    let t = ctx.theme;
    let mut lines = Vec::new();
    if let Some(e) = &page.last_error {
        lines.push(Line::from(Span::styled(
            "the last listing failed:",
            t.style("title"),
        )));
        for l in e.lines() {
            lines.push(Line::from(Span::styled(format!("  {l}"), t.style("error"))));
        }
        lines.push(Line::raw(""));
    }
    if let Some(inv) = page.loaded.data().map(|l| &l.inventory)
        && !inv.usage_problems.is_empty()
    {
        lines.push(Line::from(Span::styled(
            format!("usage ({}): calls that failed", scope_words(inv)),
            t.style("title"),
        )));
        for p in &inv.usage_problems {
            lines.push(Line::from(Span::styled(
                format!("  {p}"),
                t.style("warning"),
            )));
        }
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll as u16, 0))
            .block(panel(t, "What failed (Esc: back)", true)),
        area,
    );
}
