//! Drawing the shell around the view: the tab bar (with a marker on a tab whose work runs while
//! another tab is shown), the status line (a message that expires, or the keys valid now), and
//! the overlays (help, the `:` and `/` lines, quit confirmation, a view's prompt).

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::page::{DrawCtx, Level, Prompt};
use super::shell::{App, Modal};
use super::views::ViewId;
use super::widgets::{centered, panel};

/// Draws the whole screen at `now`.
pub fn draw(app: &App, frame: &mut Frame, now: DateTime<Utc>) {
    let [tabs, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_tabs(app, frame, tabs);
    let ctx = DrawCtx {
        theme: &app.shared.theme,
        shared: &app.shared,
        now,
    };
    app.views.draw(app.view, frame, body, &ctx);
    draw_status(app, frame, status, now);
    match &app.modal {
        Modal::Help => draw_help(app, frame),
        Modal::ConfirmQuit(what) => draw_prompt(
            app,
            frame,
            &Prompt {
                title: "Quit?".into(),
                lines: vec![
                    what.clone(),
                    String::new(),
                    "y: quit    any other key: stay".into(),
                ],
            },
        ),
        Modal::None | Modal::Command(_) | Modal::Filter => {
            if let Some(p) = app.views.prompt(app.view) {
                draw_prompt(app, frame, &p);
            }
        }
    }
}

fn draw_tabs(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.shared.theme;
    let busy: Vec<ViewId> = app.views.busy().into_iter().map(|(v, _)| v).collect();
    let mut spans = vec![Span::styled(" kiln ", t.style("title"))];
    for v in ViewId::ALL {
        let style = if *v == app.view {
            t.style("tab_active")
        } else {
            t.style("tab_inactive")
        };
        let marker = if busy.contains(v) && *v != app.view {
            " ●"
        } else {
            ""
        };
        spans.push(Span::styled(
            format!(" {}{marker} ", app.views.title(*v)),
            style,
        ));
        spans.push(Span::raw(" "));
    }
    if app.shared.demo {
        spans.push(Span::styled(" DEMO ", t.style("warning")));
    }
    if app.shared.readonly {
        spans.push(Span::styled(" READONLY ", t.style("warning")));
    }
    // The theme's name only when it fits whole (80 columns with DEMO or READONLY do not).
    let theme = format!(" theme:{}", t.name);
    let used: usize = spans.iter().map(|s| s.width()).sum();
    if used + theme.chars().count() <= usize::from(area.width) {
        spans.push(Span::styled(theme, t.style("dim")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_status(app: &App, frame: &mut Frame, area: Rect, now: DateTime<Utc>) {
    let t = &app.shared.theme;
    let line = match &app.modal {
        Modal::Command(text) => Line::from(vec![
            Span::styled(":", t.style("key_hint")),
            Span::raw(text.clone()),
            Span::raw("▏"),
        ]),
        Modal::Filter => Line::from(vec![
            Span::styled("/", t.style("key_hint")),
            Span::raw(app.views.filter(app.view).unwrap_or("").to_string()),
            Span::raw("▏"),
        ]),
        _ => match app.shared.status.as_ref().filter(|s| s.visible_at(now)) {
            Some(s) => {
                let style = match s.level {
                    Level::Info => t.style("text"),
                    Level::Warn => t.style("warning"),
                    Level::Error => t.style("error"),
                };
                Line::from(Span::styled(s.text.clone(), style))
            }
            None => footer(app),
        },
    };
    frame.render_widget(Paragraph::new(line).style(t.style("status_bar")), area);
}

/// The keys worth a hint now: the view's, then the global ones.
fn footer(app: &App) -> Line<'static> {
    let t = &app.shared.theme;
    let mut hints = app.views.hints(app.view, &app.shared);
    hints.extend(
        app.global_bindings()
            .iter()
            .filter_map(|b| b.hint.map(|h| (b.keys, h))),
    );
    let mut spans = Vec::new();
    for (keys, hint) in hints {
        spans.push(Span::styled(keys.to_string(), t.style("key_hint")));
        spans.push(Span::raw(format!(" {hint}  ")));
    }
    Line::from(spans)
}

fn draw_help(app: &App, frame: &mut Frame) {
    let t = &app.shared.theme;
    let rows = app.help_rows();
    let key_w = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(4);
    let mut lines: Vec<Line> = rows
        .iter()
        .map(|(k, h)| {
            Line::from(vec![
                Span::styled(format!(" {k:<key_w$}  "), t.style("key_hint")),
                Span::styled(*h, t.style("text")),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled(
        format!(" commands: {}", app.command_list()),
        t.style("dim"),
    )));
    let area = centered(frame.area(), 104, lines.len() as u16 + 3);
    frame.render_widget(Clear, area);
    let block = panel(
        t,
        format!("Keys: {} view (Esc closes)", app.views.title(app.view)),
        true,
    );
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        area,
    );
}

fn draw_prompt(app: &App, frame: &mut Frame, prompt: &Prompt) {
    let t = &app.shared.theme;
    let text: Vec<Line> = prompt
        .lines
        .iter()
        .map(|l| Line::from(Span::styled(l.clone(), t.style("text"))))
        .collect();
    // As wide as the longest line (up to 100 columns), as tall as the lines once wrapped.
    let longest = prompt
        .lines
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    let width = (longest as u16 + 2).clamp(40, 100).min(frame.area().width);
    let inner = width.saturating_sub(2).max(1) as usize;
    let rows: usize = prompt.lines.iter().map(|l| wrapped_rows(l, inner)).sum();
    let area = centered(frame.area(), width, rows as u16 + 2);
    frame.render_widget(Clear, area);
    let block = panel(t, prompt.title.clone(), true)
        .border_style(t.style("warning"))
        .title_style(t.style("warning"));
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: false }).block(block),
        area,
    );
}

/// How many rows `line` takes when word-wrapped at `width` columns (as the prompt's paragraph
/// wraps it: greedily at spaces, a word longer than the width broken).
fn wrapped_rows(line: &str, width: usize) -> usize {
    let width = width.max(1);
    let mut rows = 1;
    let mut used = 0;
    for word in line.split(' ') {
        let len = word.chars().count();
        let need = if used == 0 { len } else { used + 1 + len };
        if need <= width {
            used = need;
        } else if len <= width {
            rows += 1;
            used = len;
        } else {
            // Broken across rows: what is left of the current one, then whole rows.
            let rest = len.saturating_sub(width.saturating_sub(used + usize::from(used > 0)));
            rows += rest.div_ceil(width);
            used = rest % width;
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::wrapped_rows;

    #[test]
    fn prompt_rows_follow_word_wrapping() {
        assert_eq!(wrapped_rows("", 10), 1);
        assert_eq!(wrapped_rows("0123456789", 10), 1);
        // Character counting would say 2 rows; the words need 3.
        assert_eq!(wrapped_rows("aaaaaa bbbbbb cccccc", 10), 3);
        assert_eq!(wrapped_rows("aa bb cc dd", 5), 2);
        // A word longer than the width is broken.
        assert_eq!(wrapped_rows("0123456789012345678901", 10), 3);
    }
}
