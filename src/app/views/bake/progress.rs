//! Drawing the Build view during and after a build: the header (image, status, elapsed, ETA,
//! FIPS), the stage strip with progress bars and warning counts, the selected stage's log, and
//! the result.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{BakePage, Run};
use crate::app::page::DrawCtx;
use crate::app::widgets::panel;
use crate::bake::events::{BuildStatus, StageStatus, Stream};
use crate::bake::state::StageView;
use crate::format::duration;
use crate::theme::Theme;

/// Draws a build.
pub fn draw(page: &BakePage, run: &Run, frame: &mut Frame, area: Rect, ctx: &DrawCtx<'_>) {
    draw_build(page, run, frame, area, ctx);
}

fn stage_style(t: &Theme, s: StageStatus) -> ratatui::style::Style {
    t.style(match s {
        StageStatus::Pending => "stage_pending",
        StageStatus::Running => "stage_running",
        StageStatus::Ok => "stage_ok",
        StageStatus::Failed => "stage_failed",
        StageStatus::Cancelled => "warning",
        StageStatus::Skipped => "stage_skipped",
    })
}

fn icon(s: StageStatus) -> &'static str {
    match s {
        StageStatus::Pending => "·",
        StageStatus::Running => "▶",
        StageStatus::Ok => "✔",
        StageStatus::Failed => "✘",
        StageStatus::Cancelled => "⊘",
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

fn draw_build(page: &BakePage, run: &Run, frame: &mut Frame, area: Rect, ctx: &DrawCtx<'_>) {
    let (t, now, b) = (ctx.theme, ctx.now, &run.state);
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
        None if run.cancel_sent => ("cancelling".to_string(), t.style("warning")),
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
                    .unwrap_or_else(|| run.expected_image.clone())
            ),
            t.style("title"),
        ),
        Span::styled(status.0, status.1),
        Span::styled(format!("  elapsed {}", duration(elapsed)), t.style("text")),
    ];
    if b.is_running() {
        let eta = match ctx.shared.typical_build_seconds {
            Some(typ) if typ > elapsed => format!("  ETA {}", duration(typ - elapsed)),
            Some(_) => "  ETA overdue".to_string(),
            None => "  ETA unknown (no past successful build)".to_string(),
        };
        spans.push(Span::styled(eta, t.style("dim")));
    }
    if let Some(rec) = Some(&run.fips).filter(|r| r.requested) {
        let (txt, st) = if rec.validated {
            ("  FIPS", t.style("ok"))
        } else {
            ("  FIPS NOT VALIDATED", t.style("warning"))
        };
        spans.push(Span::styled(txt, st));
    }
    if let Some(d) = &page.demo {
        spans.push(Span::styled(
            format!("  replay x{}", d.speed),
            t.style("dim"),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), header);

    let [strip, log] =
        Layout::horizontal([Constraint::Length(44), Constraint::Min(20)]).areas(main);
    let shown = run.shown_stage();
    let mut lines = Vec::new();
    for &id in &b.order {
        let Some(s) = b.stages.get(id) else { continue };
        lines.push(stage_line(t, s, now, shown == Some(id)));
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
        Paragraph::new(lines).block(panel(t, "Stages", false)),
        strip,
    );
    draw_log(t, run, frame, log);

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
        if let Some(dir) = &run.record_dir {
            tail.push_str(&format!("   record: {}", dir.display()));
        }
        lines.push(Line::from(Span::styled(tail, t.style("dim"))));
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .block(panel(t, format!("Result: {}", o.status.as_str()), true)),
            result,
        );
    }
}

fn stage_line<'a>(
    t: &Theme,
    s: &StageView,
    now: chrono::DateTime<chrono::Utc>,
    selected: bool,
) -> Line<'a> {
    let time = s.elapsed(now).map(duration).unwrap_or_default();
    let mut spans = vec![
        Span::styled(format!("{} ", icon(s.status)), stage_style(t, s.status)),
        Span::styled(format!("{:<20}", s.name), stage_style(t, s.status)),
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

fn draw_log(t: &Theme, run: &Run, frame: &mut Frame, area: Rect) {
    let b = &run.state;
    let Some(id) = run.shown_stage() else {
        return;
    };
    let Some(stage) = b.stages.get(id) else {
        return;
    };
    let filter = run.filter.to_ascii_lowercase();
    let matching: Vec<_> = stage
        .log
        .iter()
        .filter(|l| filter.is_empty() || l.text.to_ascii_lowercase().contains(&filter))
        .collect();
    let height = area.height.saturating_sub(2) as usize;
    let end = matching.len().saturating_sub(
        run.scroll
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
            run.filter,
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
    if run.scroll > 0 {
        title.push_str(" [scrolled: PgDn follows]");
    }
    frame.render_widget(Paragraph::new(lines).block(panel(t, title, true)), area);
}
