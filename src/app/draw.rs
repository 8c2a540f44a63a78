//! Drawing the console: the tab bar, the current view, the status line and overlays. Pure
//! rendering of [`App`] state at a given time; no I/O.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::keymap::{View, help_rows};
use super::state::{App, Modal};
use super::{build_view, history_view, log_view};

/// Draws the whole screen.
pub fn draw(app: &App, frame: &mut Frame, now: DateTime<Utc>) {
    let [tabs, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_tabs(app, frame, tabs);
    match app.view {
        View::Build => build_view::draw(app, frame, body, now),
        View::History => history_view::draw(app, frame, body),
        View::Log => log_view::draw(app, frame, body),
    }
    draw_status(app, frame, status);
    match &app.modal {
        Modal::Help => draw_help(app, frame),
        Modal::ConfirmQuit => draw_prompt(
            app,
            frame,
            "Quit?",
            &[
                "A build is running. Quitting interrupts packer (SIGINT to its process group)",
                "and waits for its cleanup.",
                "",
                "y: quit    any other key: stay",
            ],
        ),
        Modal::ConfirmCancel => draw_prompt(
            app,
            frame,
            "Cancel the build?",
            &[
                "Packer gets SIGINT, deletes the build server and exits.",
                "Press c again later to escalate to SIGTERM.",
                "",
                "y: cancel the build    any other key: keep building",
            ],
        ),
        Modal::FipsAck { reason } => {
            let lines = [
                crate::build::fips::FIPS_EXPLANATION,
                "",
                reason.as_str(),
                "",
                "This build will NOT produce a FIPS-validated image.",
                "Shift-A: I acknowledge, build anyway    any other key: do not start",
            ];
            draw_prompt(app, frame, "FIPS: source image is not Ubuntu Pro", &lines);
        }
        Modal::None | Modal::Command(_) | Modal::Filter => {}
    }
}

fn draw_tabs(app: &App, frame: &mut Frame, area: Rect) {
    let mut spans = vec![Span::styled(" kiln ", app.theme.style("title"))];
    for v in &app.tabs {
        let style = if *v == app.view {
            app.theme.style("tab_active")
        } else {
            app.theme.style("tab_inactive")
        };
        spans.push(Span::styled(format!(" {} ", v.title()), style));
        spans.push(Span::raw(" "));
    }
    if app.demo.is_some() {
        spans.push(Span::styled(" DEMO ", app.theme.style("warning")));
    }
    if app.readonly {
        spans.push(Span::styled(" READONLY ", app.theme.style("warning")));
    }
    spans.push(Span::styled(
        format!(" theme:{}  ? help", app.theme.name),
        app.theme.style("dim"),
    ));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_status(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let line = match &app.modal {
        Modal::Command(text) => Line::from(vec![
            Span::styled(":", theme.style("key_hint")),
            Span::raw(text.clone()),
            Span::raw("▏"),
        ]),
        Modal::Filter => {
            let f = if app.view == View::History {
                &app.history.filter
            } else {
                &app.build.filter
            };
            Line::from(vec![
                Span::styled("/", theme.style("key_hint")),
                Span::raw(f.clone()),
                Span::raw("▏"),
            ])
        }
        _ => match &app.status {
            Some(s) => Line::from(Span::raw(s.clone())),
            None => Line::from(vec![
                Span::styled("?", theme.style("key_hint")),
                Span::raw(" help  "),
                Span::styled(":", theme.style("key_hint")),
                Span::raw(" command  "),
                Span::styled("Tab", theme.style("key_hint")),
                Span::raw(" next view  "),
                Span::styled("q", theme.style("key_hint")),
                Span::raw(" quit"),
            ]),
        },
    };
    frame.render_widget(Paragraph::new(line).style(theme.style("status_bar")), area);
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn draw_help(app: &App, frame: &mut Frame) {
    let rows = help_rows(app.view);
    let key_w = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(4);
    let lines: Vec<Line> = rows
        .iter()
        .map(|(k, h)| {
            Line::from(vec![
                Span::styled(format!(" {k:<key_w$}  "), app.theme.style("key_hint")),
                Span::styled(*h, app.theme.style("text")),
            ])
        })
        .collect();
    let area = centered(frame.area(), 104, lines.len() as u16 + 2);
    frame.render_widget(Clear, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(app.theme.style("border_focused"))
        .title(Span::styled(
            format!(" Keys: {} view (Esc closes) ", app.view.title()),
            app.theme.style("title"),
        ));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn draw_prompt(app: &App, frame: &mut Frame, title: &str, lines: &[&str]) {
    let text: Vec<Line> = lines
        .iter()
        .map(|l| Line::from(Span::styled(*l, app.theme.style("text"))))
        .collect();
    let area = centered(frame.area(), 84, lines.len() as u16 + 6);
    frame.render_widget(Clear, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(app.theme.style("warning"))
        .title(Span::styled(
            format!(" {title} "),
            app.theme.style("warning"),
        ));
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: false }).block(block),
        area,
    );
}

/// A bordered block with the theme's border and title styles.
pub fn panel<'a>(app: &App, title: impl Into<String>, focused: bool) -> Block<'a> {
    let border: Style = if focused {
        app.theme.style("border_focused")
    } else {
        app.theme.style("border")
    };
    Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .title(Span::styled(
            format!(" {} ", title.into()),
            app.theme.style("title"),
        ))
}
