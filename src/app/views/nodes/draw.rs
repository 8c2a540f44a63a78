//! Drawing the Nodes view: the table (count, marks, inspection progress, a spinner while a run is
//! under way) or one node.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::{COLUMNS, Inspection, Mode, NodesPage, detail};
use crate::app::page::DrawCtx;
use crate::app::widgets::table::{self, TableView};
use crate::app::widgets::{panel, spinner};

/// Draws the view.
pub fn draw(page: &NodesPage, frame: &mut Frame, area: Rect, ctx: &DrawCtx<'_>) {
    if let Mode::Detail { scroll, raw, .. } = &page.mode
        && let Some(row) = page.detail_row()
    {
        detail::draw(page, row, *scroll, *raw, frame, area, ctx);
        return;
    }
    let t = ctx.theme;
    let mut title = format!("Nodes ({}", page.rows.len());
    if !page.marks.is_empty() {
        title.push_str(&format!(", {} marked", page.marks.len()));
    }
    title.push(')');
    let under_way = page.inspections.values().filter(|i| i.under_way()).count();
    if page.running {
        let done = page
            .rows
            .iter()
            .filter(|r| matches!(r.inspection, Some(Inspection::Done(_))))
            .count();
        let secs = ctx.now.timestamp_subsec_millis() as f64 / 1000.0;
        title.push_str(&format!(
            " {} inspecting: {under_way} under way, {done} done",
            spinner(secs)
        ));
    }
    if !page.table.filter().is_empty() {
        title.push_str(&format!(
            " /{} ({} shown)",
            page.table.filter(),
            page.table.len()
        ));
    }
    if let Some(inv) = &page.inventory {
        title.push_str(&format!(" · read {}", inv.at.format("%H:%M:%S")));
    }
    let (empty, style) = match &page.inventory {
        None => ("Reading Nova, Cinder and Glance...", "dim"),
        Some(_) if page.rows.is_empty() => (
            "No server runs an rke2-node-* image (in the projects this login can see).",
            "dim",
        ),
        Some(_) => ("No node matches the filter.", "dim"),
    };
    table::draw(
        frame,
        area,
        t,
        TableView {
            columns: COLUMNS,
            rows: &page.rows,
            state: &page.table,
            block: panel(t, title, true),
            empty,
            empty_style: style,
            focused: true,
        },
    );
}
