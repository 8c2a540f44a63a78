//! One image in full: its verdict and why (with what a duplicate name breaks), the servers and
//! volumes using it, its provenance properties, every other property, and the kiln build on this
//! machine that made it (same image id, or the same `packer_run_uuid`).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{ImageRow, ImagesPage};
use crate::app::page::DrawCtx;
use crate::app::widgets::panel;
use crate::format::{age, duration, plain, size};
use crate::retention::{Flag, Reason, Verdict};

/// The provenance properties the template sets, in the order shown.
pub const PROVENANCE: &[&str] = &[
    "rke2_version",
    "kubernetes_version",
    "fips_enabled",
    "source_image",
    "os_distro",
    "os_version",
    "build_date",
    "packer_run_uuid",
    "manifest_schema_version",
    "rke2_airgapped_checksum",
];

/// Why a reason keeps an image, for the operator.
pub fn explain(r: Reason) -> &'static str {
    match r {
        Reason::InUse => "servers or volumes use it: nodes would lose their image",
        Reason::Protected => "Glance protects it",
        Reason::YoungerThanMinAge => {
            "younger than the minimum age: clusters may still rebuild nodes from it"
        }
        Reason::LatestInSeries => "among the newest usable images of its series",
        Reason::Newest => "the newest usable image: the cluster wizard picks it by default",
        Reason::UnparseableName => "its name does not follow rke2-node-<series>-<YYYYMMDD>",
        Reason::UsageUnknown => {
            "nothing proves it unused (Nova or Cinder could not be asked, or other projects can see it)"
        }
    }
}

/// Draws one image.
pub fn draw(
    page: &ImagesPage,
    row: &ImageRow,
    scroll: usize,
    frame: &mut Frame,
    area: Rect,
    ctx: &DrawCtx<'_>,
) {
    let t = ctx.theme;
    let i = &row.image;
    let kv = |k: &str, v: String, style: &str| {
        Line::from(vec![
            Span::styled(format!("{k:<26}"), t.style("dim")),
            Span::styled(plain(&v).into_owned(), t.style(style)),
        ])
    };
    let mut lines = vec![
        kv("id", i.id.clone(), "text"),
        kv("status", i.status.clone(), "text"),
        kv(
            "created",
            format!(
                "{} ({} ago){}",
                i.created_at.format("%Y-%m-%d %H:%M UTC"),
                age(row.age_seconds),
                i.name_date
                    .map_or(String::new(), |d| format!("; the name says {d}"))
            ),
            "text",
        ),
        kv("size", i.size.map_or_else(|| "-".into(), size), "text"),
        kv("visibility", i.visibility.clone(), "text"),
        kv("protected", i.protected.to_string(), "text"),
        Line::raw(""),
    ];
    match i.verdict {
        Verdict::Eligible => lines.push(Line::from(Span::styled(
            "eligible: nothing keeps it (retention may delete it)",
            t.style("flag_expired"),
        ))),
        Verdict::Keep => {
            lines.push(Line::from(Span::styled("kept because:", t.style("title"))));
            for r in &i.reasons {
                lines.push(Line::from(vec![
                    Span::styled(format!("  {:<22}", r.as_str()), t.style("text")),
                    Span::styled(explain(*r), t.style("dim")),
                ]));
            }
        }
    }
    for f in &i.flags {
        let text = match f {
            Flag::DuplicateName => format!(
                "duplicate_name: another image is named {}: a CAPO image filter by this name fails (\"too many images were found\") and the templates using it cannot scale out",
                i.name
            ),
            Flag::NameDateMismatch => {
                "name_date_mismatch: the date in the name is not the day the image was made".into()
            }
        };
        lines.push(Line::from(Span::styled(text, t.style("warning"))));
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled(
        format!(
            "used by {} server(s) and {} volume(s)",
            i.servers.len(),
            i.volumes.len()
        ),
        t.style("title"),
    )));
    for s in &i.servers {
        lines.push(kv(
            &format!("  server {}", s.name),
            format!("{} project {} {}", s.id, s.project_id, s.status),
            "flag_in_use",
        ));
    }
    for v in &i.volumes {
        lines.push(kv(
            &format!("  volume {}", v.name),
            format!(
                "{} {} attached to {}",
                v.id,
                v.status,
                if v.attached_to.is_empty() {
                    "nothing".to_string()
                } else {
                    v.attached_to.join(", ")
                }
            ),
            "flag_in_use",
        ));
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled("provenance", t.style("title"))));
    for k in PROVENANCE {
        if let Some(v) = i.properties.get(*k) {
            lines.push(kv(&format!("  {k}"), v.clone(), "text"));
        }
    }
    let run_uuid = i.properties.get("packer_run_uuid");
    let record = page.loaded.data().and_then(|l| {
        l.records.iter().find(|(_, r)| {
            r.image_id.as_deref() == Some(i.id.as_str())
                || run_uuid.is_some_and(|u| r.vars.get("packer_run_uuid") == Some(u))
        })
    });
    match record {
        Some((dir, r)) => {
            lines.push(kv(
                "  built by kiln here",
                format!(
                    "{} {} in {}, FIPS {}",
                    r.started_at.format("%Y-%m-%d %H:%M"),
                    r.result.as_str(),
                    r.seconds.map_or_else(|| "-".into(), duration),
                    r.fips_label()
                ),
                "ok",
            ));
            for s in &r.stages {
                lines.push(kv(
                    &format!("    {}", s.name),
                    format!(
                        "{} {}",
                        s.status.as_str(),
                        s.seconds.map(duration).unwrap_or_default()
                    ),
                    "dim",
                ));
            }
            lines.push(kv("    record", dir.display().to_string(), "dim"));
        }
        None => lines.push(kv(
            "  built by kiln here",
            "no record on this machine".into(),
            "dim",
        )),
    }
    let others: Vec<_> = i
        .properties
        .iter()
        .filter(|(k, _)| !PROVENANCE.contains(&k.as_str()))
        .collect();
    if !others.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::from(Span::styled(
            "other properties",
            t.style("title"),
        )));
        for (k, v) in others {
            lines.push(kv(&format!("  {k}"), v.clone(), "dim"));
        }
    }
    let height = area.height.saturating_sub(2) as usize;
    let top = scroll.min(lines.len().saturating_sub(height));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((top as u16, 0))
            .block(panel(t, format!("{} (Esc: back)", i.name), true)),
        area,
    );
}
