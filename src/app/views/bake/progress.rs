//! Drawing the Build view during and after a build: the header (image, status, stage n/m,
//! elapsed, ETA, FIPS), the stage strip (status, time beside the typical time from history with a
//! small bar, progress, warning counts), the selected stage's log (`log_pane`) and the result
//! (`result`).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{BakePage, Run, log_pane, result};
use crate::app::page::DrawCtx;
use crate::app::widgets::panel;
use crate::bake::events::{BuildStatus, StageStatus};
use crate::bake::state::StageView;
use crate::format::duration;
use crate::theme::Theme;

/// Terminals at least this wide show each stage's typical time.
const WIDE: u16 = 110;

/// The stage strip's width: room for the typical times on wide terminals, just the names and
/// times on narrow ones (the log gets the rest).
fn strip_width(total: u16) -> u16 {
    match total {
        w if w >= WIDE => 60,
        w if w >= 100 => 44,
        _ => 38,
    }
}

/// Draws a build.
pub fn draw(page: &BakePage, run: &Run, frame: &mut Frame, area: Rect, ctx: &DrawCtx<'_>) {
    let b = &run.state;
    let result_height = result::height(run, area.height);
    let [header, main, result_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(result_height),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(header_line(page, run, ctx)), header);
    let wide = area.width >= WIDE;
    let [strip, log] = Layout::horizontal([
        Constraint::Length(strip_width(area.width)),
        Constraint::Min(20),
    ])
    .areas(main);
    let shown = run.shown_stage();
    let mut lines = Vec::new();
    for &id in &b.order {
        let Some(s) = b.stages.get(id) else { continue };
        let typical = wide
            .then(|| ctx.shared.typical_stage_seconds.get(&s.name).copied())
            .flatten();
        lines.push(stage_line(ctx, s, typical, wide, shown == Some(id)));
        if let Some(p) = s
            .progress
            .as_ref()
            .filter(|_| s.status == StageStatus::Running || s.status == StageStatus::Failed)
        {
            let label: String = p.label.chars().take(if wide { 36 } else { 20 }).collect();
            lines.push(Line::from(vec![
                Span::raw("   "),
                Span::styled(bar(p.done, p.total, 12), ctx.theme.style("progress")),
                Span::styled(
                    format!(" {}/{} {label}", p.done, p.total),
                    ctx.theme.style("dim"),
                ),
            ]));
        }
    }
    frame.render_widget(
        Paragraph::new(lines).block(panel(ctx.theme, "Stages", false)),
        strip,
    );
    log_pane::draw(ctx.theme, run, frame, log);
    if b.outcome.is_some() {
        result::draw(page, run, frame, result_area, ctx);
    }
}

fn header_line<'a>(page: &BakePage, run: &Run, ctx: &DrawCtx<'_>) -> Line<'a> {
    let (t, now, b) = (ctx.theme, ctx.now, &run.state);
    let elapsed = b.elapsed(now);
    let (status, style) = match &b.outcome {
        None if run.cancel_sent => ("cancelling".to_string(), t.style("warning")),
        None => ("running".to_string(), t.style("stage_running")),
        Some(o) => (
            o.status.as_str().to_string(),
            match o.status {
                BuildStatus::Succeeded => t.style("stage_ok"),
                BuildStatus::Cancelled => t.style("warning"),
                BuildStatus::Failed => t.style("stage_failed"),
            },
        ),
    };
    let image = b
        .image_name
        .clone()
        .unwrap_or_else(|| run.expected_image.clone());
    let mut spans = vec![
        Span::styled(format!(" {image} "), t.style("title")),
        Span::styled(status, style),
    ];
    if let Some(active) = b.active.filter(|_| b.is_running()) {
        let n = b
            .order
            .iter()
            .position(|s| *s == active)
            .map_or(0, |p| p + 1);
        spans.push(Span::styled(
            format!("  stage {n}/{}", b.order.len()),
            t.style("text"),
        ));
    }
    spans.push(Span::styled(
        format!("  elapsed {}", duration(elapsed)),
        t.style("text"),
    ));
    // No ETA while cancelling: the build will not reach its typical end.
    if b.is_running() && !run.cancel_sent {
        let eta = match ctx.shared.typical_build_seconds {
            Some(typ) if typ > elapsed => format!("  ETA {}", duration(typ - elapsed)),
            Some(_) => "  ETA overdue".to_string(),
            None => "  ETA unknown (no past successful build)".to_string(),
        };
        spans.push(Span::styled(eta, t.style("dim")));
    }
    if run.fips.requested {
        let (txt, st) = match (run.fips.validated, run.fips.acknowledged_unvalidated) {
            (true, _) => ("  FIPS", t.style("ok")),
            (false, true) => ("  FIPS NOT VALIDATED (acknowledged)", t.style("warning")),
            (false, false) => ("  FIPS NOT VALIDATED (not acknowledged)", t.style("error")),
        };
        spans.push(Span::styled(txt, st));
    }
    if let Some(d) = &page.demo {
        spans.push(Span::styled(
            format!("  replay x{}", d.speed),
            t.style("dim"),
        ));
    }
    Line::from(spans)
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

fn stage_line<'a>(
    ctx: &DrawCtx<'_>,
    s: &StageView,
    typical: Option<f64>,
    wide: bool,
    selected: bool,
) -> Line<'a> {
    let t = ctx.theme;
    let elapsed = s.elapsed(ctx.now);
    let time = elapsed.map(duration).unwrap_or_default();
    let mut spans = vec![
        Span::styled(format!("{} ", icon(s.status)), stage_style(t, s.status)),
        Span::styled(format!("{:<20}", s.name), stage_style(t, s.status)),
        Span::styled(format!("{time:>8}"), t.style("dim")),
    ];
    if wide {
        // The stage's time against its typical time from history: a 6-cell bar, then the typical.
        match typical {
            Some(typ) if typ > 0.0 => {
                let spent = elapsed.unwrap_or(0.0);
                let over = spent > typ * 1.25;
                let cells = ((spent / typ).min(1.0) * 6.0).round() as u64;
                spans.push(Span::styled(
                    format!(" {}", bar(cells, 6, 6)),
                    t.style(if over { "warning" } else { "progress" }),
                ));
                spans.push(Span::styled(
                    format!(" ~{:>6}", duration(typ)),
                    t.style("dim"),
                ));
            }
            _ => spans.push(Span::raw(" ".repeat(15))),
        }
    }
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
