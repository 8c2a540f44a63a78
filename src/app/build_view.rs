//! The Build view: the form and preflight checklist before a build, then the stage strip, the
//! selected stage's log, elapsed time and ETA while it runs, and the result when it ends.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::draw::panel;
use super::state::App;
use crate::build::events::{BuildStatus, StageStatus, Stream};
use crate::build::preflight::CheckStatus;
use crate::build::state::{BuildState, StageView};
use crate::format::duration;

/// Draws the Build view.
pub fn draw(app: &App, frame: &mut Frame, area: Rect, now: DateTime<Utc>) {
    match &app.build.build {
        None => draw_form(app, frame, area),
        Some(b) => draw_build(app, b, frame, area, now),
    }
}

fn draw_form(app: &App, frame: &mut Frame, area: Rect) {
    let [form, checks] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
    let t = &app.theme;
    let v = &app.build;
    let row = |k: &str, val: String, style| {
        Line::from(vec![
            Span::styled(format!("{k:<14}"), t.style("dim")),
            Span::styled(val, style),
        ])
    };
    let mut lines = vec![
        row("template", v.template.clone(), t.style("text")),
        row("image", v.expected_image.clone(), t.style("text")),
        row("source image", v.source_image.clone(), t.style("text")),
        row(
            "FIPS  [f]",
            if v.fips {
                "on: fips_enabled=true (needs Ubuntu Pro)".into()
            } else {
                "off".into()
            },
            if v.fips {
                t.style("warning")
            } else {
                t.style("text")
            },
        ),
    ];
    for (k, val) in &v.vars {
        let shown = if crate::secrets::is_secret_name(k) {
            crate::secrets::REDACTED
        } else {
            val.as_str()
        };
        lines.push(row("var", format!("{k}={shown}"), t.style("text")));
    }
    lines.push(Line::raw(""));
    if let Some(e) = &v.start_error {
        lines.push(Line::from(Span::styled(
            format!("last start failed: {e}"),
            t.style("error"),
        )));
        lines.push(Line::raw(""));
    }
    if app.demo.is_some() {
        lines.push(Line::from(Span::styled(
            "Demo: Enter replays a recorded build (success, then failure).",
            t.style("text"),
        )));
    } else if app.readonly {
        lines.push(Line::from(Span::styled(
            "--readonly: builds cannot be started.",
            t.style("warning"),
        )));
    } else {
        lines.push(Line::from(vec![
            Span::styled("Enter", t.style("key_hint")),
            Span::raw(" preflight + build   "),
            Span::styled("p", t.style("key_hint")),
            Span::raw(" preflight only   "),
            Span::styled(":var K=V", t.style("key_hint")),
            Span::raw(" set a variable"),
        ]));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(panel(app, "New build", true)),
        form,
    );

    let mut lines = Vec::new();
    if v.preflight_running {
        let what = match &v.hashing {
            Some((f, d, total)) if *total > 0 => format!("hashing {f}: {}%", d * 100 / total),
            _ => "running checks...".into(),
        };
        lines.push(Line::from(Span::styled(what, t.style("progress"))));
    }
    match &v.preflight {
        Some(report) => {
            for c in &report.checks {
                let (mark, style) = match c.status {
                    CheckStatus::Ok => ("ok  ", t.style("ok")),
                    CheckStatus::Warn => ("WARN", t.style("warning")),
                    CheckStatus::Fail => ("FAIL", t.style("error")),
                };
                lines.push(Line::from(vec![
                    Span::styled(format!("{mark} "), style),
                    Span::styled(format!("{}: ", c.name), t.style("text")),
                    Span::styled(c.detail.clone(), t.style("dim")),
                ]));
                if let Some(fix) = &c.fix {
                    lines.push(Line::from(Span::styled(
                        format!("     fix: {fix}"),
                        t.style("dim"),
                    )));
                }
            }
        }
        None if !v.preflight_running => lines.push(Line::from(Span::styled(
            "Not run yet: p runs it (Enter runs it before building).",
            t.style("dim"),
        ))),
        None => {}
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(panel(app, "Preflight", false)),
        checks,
    );
}

fn stage_style(app: &App, s: StageStatus) -> ratatui::style::Style {
    app.theme.style(match s {
        StageStatus::Pending => "stage_pending",
        StageStatus::Running => "stage_running",
        StageStatus::Ok => "stage_ok",
        StageStatus::Failed => "stage_failed",
        StageStatus::Skipped => "stage_skipped",
    })
}

fn icon(s: StageStatus) -> &'static str {
    match s {
        StageStatus::Pending => "·",
        StageStatus::Running => "▶",
        StageStatus::Ok => "✔",
        StageStatus::Failed => "✘",
        StageStatus::Skipped => "–",
    }
}

/// A text progress bar of `width` cells.
pub fn bar(done: u64, total: u64, width: usize) -> String {
    let filled = if total == 0 {
        0
    } else {
        (done.min(total) as usize * width) / total as usize
    };
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}

fn draw_build(app: &App, b: &BuildState, frame: &mut Frame, area: Rect, now: DateTime<Utc>) {
    let t = &app.theme;
    let result_height = match &b.outcome {
        Some(o) => 4 + o.explanation.len().min(8) as u16,
        None => 0,
    };
    let [header, main, result] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(result_height),
    ])
    .areas(area);

    let elapsed = b.elapsed(now);
    let status = match &b.outcome {
        None if app.build.cancel_sent => ("cancelling".to_string(), t.style("warning")),
        None => ("running".to_string(), t.style("stage_running")),
        Some(o) => (
            o.status.as_str().to_string(),
            match o.status {
                BuildStatus::Succeeded => t.style("stage_ok"),
                _ => t.style("stage_failed"),
            },
        ),
    };
    let mut spans = vec![
        Span::styled(
            format!(
                " {} ",
                b.image_name
                    .clone()
                    .unwrap_or_else(|| app.build.expected_image.clone())
            ),
            t.style("title"),
        ),
        Span::styled(status.0, status.1),
        Span::styled(format!("  elapsed {}", duration(elapsed)), t.style("text")),
    ];
    if b.is_running() {
        let eta = match app.build.typical_seconds {
            Some(typ) if typ > elapsed => format!("  ETA {}", duration(typ - elapsed)),
            Some(_) => "  ETA overdue".to_string(),
            None => "  ETA unknown (no past successful build)".to_string(),
        };
        spans.push(Span::styled(eta, t.style("dim")));
    }
    if let Some(rec) = app.build.fips_record.as_ref().filter(|r| r.requested) {
        let (txt, st) = if rec.validated {
            ("  FIPS", t.style("ok"))
        } else {
            ("  FIPS NOT VALIDATED", t.style("warning"))
        };
        spans.push(Span::styled(txt, st));
    }
    if let Some(d) = &app.demo {
        spans.push(Span::styled(
            format!("  replay x{}", d.speed),
            t.style("dim"),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), header);

    let [strip, log] =
        Layout::horizontal([Constraint::Length(44), Constraint::Min(20)]).areas(main);
    let shown = app.build.shown_stage();
    let mut lines = Vec::new();
    for &id in &b.order {
        let Some(s) = b.stages.get(id) else { continue };
        lines.push(stage_line(app, s, now, shown == Some(id)));
        if let Some(p) = s
            .progress
            .as_ref()
            .filter(|_| s.status == StageStatus::Running || s.status == StageStatus::Failed)
        {
            let label: String = p.label.chars().take(20).collect();
            lines.push(Line::from(vec![
                Span::raw("   "),
                Span::styled(bar(p.done, p.total, 12), t.style("progress")),
                Span::styled(format!(" {}/{} {label}", p.done, p.total), t.style("dim")),
            ]));
        }
    }
    frame.render_widget(
        Paragraph::new(lines).block(panel(app, "Stages", false)),
        strip,
    );
    draw_log(app, b, frame, log);

    if let Some(o) = &b.outcome {
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
                        o.image_id
                            .clone()
                            .unwrap_or_else(|| "- (the builder made no image)".into()),
                        t.style("text"),
                    ),
                ]));
            }
            _ => {
                let stage = o
                    .failed_stage
                    .and_then(|i| b.stages.get(i))
                    .map_or("-", |s| s.name.as_str());
                lines.push(Line::from(vec![
                    Span::styled(format!("{} in stage ", o.status.as_str()), t.style("error")),
                    Span::styled(stage.to_string(), t.style("stage_failed")),
                ]));
                for l in o.explanation.iter().rev().take(8).rev() {
                    lines.push(Line::from(Span::styled(l.clone(), t.style("log_err"))));
                }
            }
        }
        let mut tail = format!("took {}", duration(o.seconds));
        if let Some(dir) = &app.build.record_dir {
            tail.push_str(&format!("   record: {}", dir.display()));
        }
        lines.push(Line::from(Span::styled(tail, t.style("dim"))));
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .block(panel(app, format!("Result: {}", o.status.as_str()), true)),
            result,
        );
    }
}

fn stage_line<'a>(app: &App, s: &StageView, now: DateTime<Utc>, selected: bool) -> Line<'a> {
    let t = &app.theme;
    let time = s.elapsed(now).map(duration).unwrap_or_default();
    let mut spans = vec![
        Span::styled(format!("{} ", icon(s.status)), stage_style(app, s.status)),
        Span::styled(format!("{:<20}", s.name), stage_style(app, s.status)),
        Span::styled(format!("{time:>8}"), t.style("dim")),
    ];
    if s.warnings > 0 {
        spans.push(Span::styled(
            format!(" ⚠{}", s.warnings),
            t.style("warning"),
        ));
    }
    let mut line = Line::from(spans);
    if selected {
        line = line.style(t.style("selection"));
    }
    line
}

fn draw_log(app: &App, b: &BuildState, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let Some(id) = app.build.shown_stage() else {
        return;
    };
    let Some(stage) = b.stages.get(id) else {
        return;
    };
    let filter = app.build.filter.to_ascii_lowercase();
    let matching: Vec<_> = stage
        .log
        .iter()
        .filter(|l| filter.is_empty() || l.text.to_ascii_lowercase().contains(&filter))
        .collect();
    let height = area.height.saturating_sub(2) as usize;
    let end = matching.len().saturating_sub(
        app.build
            .scroll
            .min(matching.len().saturating_sub(height.min(matching.len()))),
    );
    let start = end.saturating_sub(height);
    let lines: Vec<Line> = matching[start..end]
        .iter()
        .map(|l| {
            Line::from(Span::styled(
                l.text.clone(),
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
            app.build.filter,
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
    if app.build.scroll > 0 {
        title.push_str(" [scrolled: PgDn follows]");
    }
    frame.render_widget(Paragraph::new(lines).block(panel(app, title, true)), area);
}
