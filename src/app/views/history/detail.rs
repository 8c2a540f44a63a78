//! One build's record: what, when, how long, FIPS, the vars (as recorded: secrets redacted),
//! each stage with its time, and the error in full.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::app::page::DrawCtx;
use crate::app::widgets::panel;
use crate::bake::record::BuildRecord;
use crate::format::{duration, plain};

/// Draws the record of the build in `dir`, scrolled `scroll` lines (clamped).
pub fn draw(
    dir: &std::path::Path,
    rec: &BuildRecord,
    inventory: Option<&crate::inventory::Inventory>,
    scroll: usize,
    frame: &mut Frame,
    area: Rect,
    ctx: &DrawCtx<'_>,
) {
    let t = ctx.theme;
    let kv = |k: &str, v: String, style: &str| {
        Line::from(vec![
            Span::styled(format!("{k:<14} "), t.style("dim")),
            Span::styled(plain(&v).into_owned(), t.style(style)),
        ])
    };
    let result_style = match rec.result {
        crate::bake::record::RecordResult::Succeeded => "stage_ok",
        crate::bake::record::RecordResult::Failed => "stage_failed",
        _ => "warning",
    };
    let mut lines = vec![
        kv("result", rec.result.as_str().to_string(), result_style),
        kv(
            "started",
            rec.started_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            "text",
        ),
        kv(
            "took",
            rec.seconds.map_or_else(|| "-".into(), duration),
            "text",
        ),
        kv(
            "image",
            rec.image_name.clone().unwrap_or_else(|| "-".into()),
            "text",
        ),
        kv(
            "image id",
            rec.image_id.clone().unwrap_or_else(|| "-".into()),
            "text",
        ),
        kv("template", rec.template.clone(), "text"),
        kv(
            "FIPS",
            match (rec.fips.requested, rec.fips.validated) {
                (false, _) => "not requested".to_string(),
                (true, true) => format!(
                    "validated ({})",
                    rec.fips.reason.as_deref().unwrap_or("Ubuntu Pro")
                ),
                (true, false) => format!(
                    "NOT validated, acknowledged ({})",
                    rec.fips.reason.as_deref().unwrap_or("not Ubuntu Pro")
                ),
            },
            if rec.fips.requested && !rec.fips.validated {
                "warning"
            } else {
                "text"
            },
        ),
        kv("record", dir.display().to_string(), "dim"),
        glance_now(rec, inventory, t),
        Line::raw(""),
        Line::from(Span::styled("stages", t.style("title"))),
    ];
    for s in &rec.stages {
        let style = match s.status {
            crate::bake::events::StageStatus::Ok => "stage_ok",
            crate::bake::events::StageStatus::Failed => "stage_failed",
            crate::bake::events::StageStatus::Cancelled => "warning",
            _ => "dim",
        };
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<22}", s.name), t.style(style)),
            Span::styled(format!("{:<10}", s.status.as_str()), t.style(style)),
            Span::styled(s.seconds.map(duration).unwrap_or_default(), t.style("dim")),
        ]));
    }
    if !rec.vars.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::from(Span::styled("vars", t.style("title"))));
        for (k, v) in &rec.vars {
            lines.push(kv(&format!("  {k}"), v.clone(), "text"));
        }
    }
    if let Some(e) = &rec.error {
        lines.push(Line::raw(""));
        lines.push(Line::from(Span::styled("error", t.style("title"))));
        for l in e.lines() {
            lines.push(Line::from(Span::styled(
                format!("  {}", plain(l)),
                t.style("log_err"),
            )));
        }
    }
    let height = area.height.saturating_sub(2) as usize;
    let top = scroll.min(lines.len().saturating_sub(height));
    let title = format!(
        "Build {} (Esc: back, l: packer.log)",
        rec.started_at.format("%Y-%m-%d %H:%M")
    );
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((top as u16, 0))
            .block(panel(t, title, true)),
        area,
    );
}

/// What Glance says of the build's image now: active and in use, its verdict, or deleted.
fn glance_now<'a>(
    rec: &BuildRecord,
    inventory: Option<&crate::inventory::Inventory>,
    t: &crate::theme::Theme,
) -> Line<'a> {
    let key = Span::styled(format!("{:<14} ", "in Glance now"), t.style("dim"));
    let (text, style) = match (&rec.image_id, inventory) {
        (None, _) => ("no image was made".to_string(), "dim"),
        (Some(_), None) => (
            "not read yet (the Images tab reads Glance)".to_string(),
            "dim",
        ),
        (Some(id), Some(inv)) => match inv.image(id) {
            Some(img) => (
                format!(
                    "{}, in use by {} server(s) and {} volume(s), {}",
                    img.status,
                    img.in_use.servers,
                    img.in_use.volumes,
                    match img.verdict {
                        crate::retention::Verdict::Eligible => "eligible for deletion".to_string(),
                        crate::retention::Verdict::Keep => format!(
                            "kept: {}",
                            img.reasons
                                .iter()
                                .map(|r| r.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    }
                ),
                "ok",
            ),
            None => ("deleted (no longer in Glance)".to_string(), "warning"),
        },
    };
    Line::from(vec![key, Span::styled(text, t.style(style))])
}
