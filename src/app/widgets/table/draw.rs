//! Drawing a table: the header, the rows in the state's window with their cell styles, the
//! selection, and a message when nothing is shown.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table};

use super::column::{Align, Column, widths};
use super::sort::SortDir;
use super::{TableRow, TableState};
use crate::theme::Theme;

/// Everything one table frame needs.
pub struct TableView<'a, R> {
    /// The columns.
    pub columns: &'a [Column],
    /// All rows (the state says which show, in which order).
    pub rows: &'a [R],
    /// Selection, order, window.
    pub state: &'a TableState,
    /// The surrounding block (title, borders).
    pub block: Block<'a>,
    /// Shown when no row passes the filter (or why there are none).
    pub empty: &'a str,
    /// The theme style of that message (`dim`, or `error` when loading failed).
    pub empty_style: &'static str,
    /// Whether the selection is drawn (a table without focus hides it).
    pub focused: bool,
}

/// Draws a table into `area`.
pub fn draw<R: TableRow>(frame: &mut Frame, area: Rect, theme: &Theme, view: TableView<'_, R>) {
    let inner = view.block.inner(area);
    let body_height = inner.height.saturating_sub(1) as usize;
    let window = view.state.window(body_height);
    let shown: Vec<(usize, Vec<super::Cell>)> = view.state.order()[window.clone()]
        .iter()
        .map(|&i| (i, view.rows[i].cells()))
        .collect();
    if shown.is_empty() {
        let text = Paragraph::new(Line::from(Span::styled(
            view.empty,
            theme.style(view.empty_style),
        )))
        .wrap(ratatui::widgets::Wrap { trim: false })
        .block(view.block);
        frame.render_widget(text, area);
        return;
    }
    let mut widest = vec![0usize; view.columns.len()];
    for (_, cells) in &shown {
        for (w, c) in widest.iter_mut().zip(cells) {
            *w = (*w).max(c.text.chars().count());
        }
    }
    let widths = widths(view.columns, &widest, inner.width);
    let sort = view.state.sort();
    let shown_col = |i: usize| widths.get(i).is_some_and(Option::is_some);
    let header = Row::new(
        view.columns
            .iter()
            .enumerate()
            .filter(|(i, _)| shown_col(*i))
            .map(|(i, c)| {
                let mark = match sort {
                    Some((col, SortDir::Asc)) if col == i => "↑",
                    Some((col, SortDir::Desc)) if col == i => "↓",
                    _ => "",
                };
                aligned(format!("{}{mark}", c.title), c, theme.style("dim"))
            }),
    );
    let selected = view.state.selected_position();
    let rows = shown.into_iter().enumerate().map(|(n, (_, cells))| {
        let row = Row::new(
            cells
                .into_iter()
                .zip(view.columns)
                .enumerate()
                .filter(|(i, _)| shown_col(*i))
                .map(|(_, (cell, col))| aligned(cell.text, col, theme.style(cell.style))),
        );
        if view.focused && window.start + n == selected {
            row.style(theme.style("selection"))
        } else {
            row
        }
    });
    let table = Table::new(
        rows,
        widths.iter().flatten().map(|w| Constraint::Length(*w)),
    )
    .header(header)
    .column_spacing(1)
    .block(view.block);
    frame.render_widget(table, area);
}

fn aligned<'a>(text: String, col: &Column, style: ratatui::style::Style) -> Line<'a> {
    let line = Line::from(Span::styled(text, style));
    match col.align {
        Align::Left => line,
        Align::Right => line.alignment(Alignment::Right),
    }
}
