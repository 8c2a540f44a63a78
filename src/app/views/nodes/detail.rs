//! One node in full: the server and its image, where its inspection is, the drift findings by
//! severity, what was read (RKE2, kernel FIPS, Ubuntu Pro, containerd), and the manifest as a
//! structured panel (every pre-pulled image marked present or missing) or as the raw JSON the
//! node holds.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::rows::inspection_cell;
use super::{Inspection, NodeRow, NodesPage};
use crate::app::page::DrawCtx;
use crate::app::widgets::panel;
use crate::format::{age, plain};
use crate::manifest::{ImageManifest, Observed, Severity};
use crate::node::NodeReport;
use crate::theme::Theme;

/// Draws one node.
pub fn draw(
    page: &NodesPage,
    row: &NodeRow,
    scroll: usize,
    raw: bool,
    frame: &mut Frame,
    area: Rect,
    ctx: &DrawCtx<'_>,
) {
    let t = ctx.theme;
    let inspection = page.inspections.get(&row.server.id);
    let lines = lines(t, row, inspection, raw);
    let height = area.height.saturating_sub(2) as usize;
    let max_scroll = lines.len().saturating_sub(height.max(1));
    let scroll = scroll.min(max_scroll);
    let title = format!(
        "{} (Esc: back{})",
        row.server.name,
        if raw {
            ", m: structured"
        } else {
            ", m: raw JSON"
        }
    );
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll.min(u16::MAX as usize) as u16, 0))
            .block(panel(t, title, true)),
        area,
    );
}

fn kv<'a>(t: &Theme, k: &str, v: impl Into<String>, style: &str) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!("{k:<26}"), t.style("dim")),
        Span::styled(plain(&v.into()).into_owned(), t.style(style)),
    ])
}

fn heading<'a>(t: &Theme, text: impl Into<String>) -> Line<'a> {
    Line::from(Span::styled(text.into(), t.style("title")))
}

/// The detail's lines.
pub fn lines<'a>(
    t: &Theme,
    row: &NodeRow,
    inspection: Option<&Inspection>,
    raw: bool,
) -> Vec<Line<'a>> {
    let s = &row.server;
    let mut out = vec![
        kv(t, "server", format!("{} ({})", s.name, s.id), "text"),
        kv(
            t,
            "addresses",
            if s.addresses.is_empty() {
                "-".to_string()
            } else {
                s.addresses.join(", ")
            },
            "text",
        ),
        kv(
            t,
            "ssh",
            match row.endpoint {
                Some(e) => format!("{e} (the simulator's node)"),
                None => match row.address() {
                    Some(a) => format!("{a}:22"),
                    None => "- (no address yet)".to_string(),
                },
            },
            "text",
        ),
        kv(t, "status", s.status.clone(), "text"),
        kv(t, "project", s.project_id.clone(), "dim"),
    ];
    let (standing, style) = row.standing();
    out.push(kv(
        t,
        if row.from_volume {
            "image (boot volume)"
        } else {
            "image"
        },
        format!(
            "{} ({} old, {standing}{})",
            row.image.name,
            age(row.image_age_seconds),
            if row.kept_only_in_use() {
                ": kept only because nodes use it; roll the cluster to a newer image"
            } else {
                ""
            }
        ),
        style,
    ));
    let (state, state_style) = inspection_cell(inspection);
    out.push(kv(t, "inspection", state, state_style));
    out.push(Line::raw(""));
    let report = match inspection {
        Some(Inspection::Done(r)) => r,
        Some(Inspection::Stopped) => {
            out.push(Line::styled(
                "Stopped before it finished: i inspects it again.",
                t.style("warning"),
            ));
            return out;
        }
        Some(_) => {
            out.push(Line::styled("Inspecting over SSH...", t.style("dim")));
            return out;
        }
        None => {
            out.push(Line::styled(
                "Not inspected yet: i reads it over SSH.",
                t.style("dim"),
            ));
            return out;
        }
    };
    if !report.ok {
        out.push(heading(t, "not read"));
        for l in report.error.as_deref().unwrap_or("").lines() {
            out.push(Line::styled(format!("  {}", plain(l)), t.style("error")));
        }
        return out;
    }
    if raw {
        raw_manifest(t, report, &mut out);
        return out;
    }
    drift(t, report, &mut out);
    reads(t, report, &mut out);
    out.push(Line::raw(""));
    {
        match &report.manifest {
            Some(m) => manifest(t, m, report, &mut out),
            None => out.push(Line::styled(
                "no manifest kiln could read (see the findings above); m shows what the node holds",
                t.style("warning"),
            )),
        }
    }
    out
}

fn drift<'a>(t: &Theme, report: &NodeReport, out: &mut Vec<Line<'a>>) {
    if report.drift.is_empty() {
        out.push(heading(t, "drift: none"));
        out.push(Line::raw(""));
        return;
    }
    for (severity, name, style) in [
        (Severity::Error, "errors", "error"),
        (Severity::Warning, "warnings", "warning"),
        (Severity::Info, "info", "dim"),
    ] {
        let found: Vec<_> = report
            .drift
            .iter()
            .filter(|f| f.severity == severity)
            .collect();
        if found.is_empty() {
            continue;
        }
        out.push(heading(t, format!("drift: {} {name}", found.len())));
        for f in found {
            let kind = serde_json::to_value(f.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            out.push(Line::from(vec![
                Span::styled(format!("  {kind:<28}"), t.style(style)),
                Span::styled(plain(&f.detail).into_owned(), t.style("text")),
            ]));
        }
    }
    out.push(Line::raw(""));
}

fn observed<T>(o: &Observed<T>, show: impl Fn(&T) -> String) -> (String, &'static str) {
    match o {
        Observed::Value(v) => (show(v), "text"),
        Observed::Missing(what) => (format!("missing: {what}"), "warning"),
        Observed::Failed(why) => (format!("failed: {why}"), "error"),
        Observed::TimedOut(d) => (format!("timed out after {}s", d.as_secs()), "error"),
    }
}

fn reads<'a>(t: &Theme, report: &NodeReport, out: &mut Vec<Line<'a>>) {
    let Some(f) = &report.facts else {
        return;
    };
    out.push(heading(t, "read on the node"));
    let (v, s) = observed(&f.rke2_version, Clone::clone);
    out.push(kv(t, "  rke2 --version", v, s));
    let (v, s) = observed(&f.fips_enabled_kernel, |b| {
        if *b { "1 (FIPS mode)" } else { "0" }.to_string()
    });
    out.push(kv(t, "  kernel fips_enabled", v, s));
    let (v, s) = observed(&f.pro, |p| {
        if p.attached {
            format!(
                "attached; enabled: {}",
                p.enabled_services.to_vec().join(", ")
            )
        } else {
            "not attached".to_string()
        }
    });
    out.push(kv(t, "  pro status", v, s));
    let (v, s) = observed(&f.images, |i| {
        format!("{} image names (via {})", i.refs.len(), i.tool)
    });
    out.push(kv(t, "  containerd k8s.io", v, s));
    if let Some(release) = &f.image_builder_release {
        out.push(kv(
            t,
            "  image-builder-release",
            release.lines().next().unwrap_or("").to_string(),
            "text",
        ));
    }
}

fn manifest<'a>(t: &Theme, m: &ImageManifest, report: &NodeReport, out: &mut Vec<Line<'a>>) {
    out.push(heading(
        t,
        format!(
            "manifest ({})",
            report
                .facts
                .as_ref()
                .map_or("", |f| f.manifest_path.as_str())
        ),
    ));
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    out.push(kv(t, "  schema_version", m.schema_version.clone(), "text"));
    out.push(kv(t, "  image_name", opt(&m.image_name), "text"));
    out.push(kv(
        t,
        "  built",
        format!(
            "{} by {}",
            m.built_at.format("%Y-%m-%d %H:%M UTC"),
            m.built_by
        ),
        "text",
    ));
    out.push(kv(t, "  source_image", opt(&m.source_image), "text"));
    out.push(kv(
        t,
        "  os",
        format!("{} (kernel {})", m.os.pretty_name, m.os.kernel),
        "text",
    ));
    out.push(kv(
        t,
        "  kubernetes",
        format!("{} {}", m.kubernetes.distribution, m.kubernetes.version),
        "text",
    ));
    out.push(kv(
        t,
        "  fips_enabled",
        m.fips_enabled.to_string(),
        if m.fips_enabled { "ok" } else { "text" },
    ));
    if let Some(p) = &m.ubuntu_pro {
        out.push(kv(
            t,
            "  ubuntu_pro",
            format!(
                "source attached: {}, attached by build: {}, detached before snapshot: {}",
                p.source_attached
                    .map_or("unknown".into(), |b| b.to_string()),
                p.attached_by_build,
                p.detached_before_snapshot
            ),
            if p.attachment_baked_in() {
                "error"
            } else {
                "text"
            },
        ));
    }
    out.push(kv(t, "  harbor_registry", opt(&m.harbor_registry), "text"));
    out.push(kv(
        t,
        "  rke2_airgapped_checksum",
        opt(&m.rke2_airgapped_checksum),
        "dim",
    ));
    out.push(kv(t, "  packer_run_uuid", opt(&m.packer_run_uuid), "dim"));
    for (k, v) in &m.extra {
        out.push(kv(
            t,
            &format!("  {k}"),
            crate::format::cut_chars(&v.to_string(), 200),
            "dim",
        ));
    }
    let present: std::collections::BTreeSet<&str> =
        report.images_present.iter().map(String::as_str).collect();
    let missing = m
        .prepulled_images
        .iter()
        .filter(|i| !present.contains(i.as_str()))
        .count();
    out.push(heading(
        t,
        format!(
            "  pre-pulled images: {} ({} in containerd, {missing} missing)",
            m.prepulled_images.len(),
            m.prepulled_images.len() - missing
        ),
    ));
    let failed: std::collections::BTreeSet<&str> =
        m.prepull_failures().iter().map(String::as_str).collect();
    for i in &m.prepulled_images {
        let (mark, style) = if present.contains(i.as_str()) {
            ("✓", "ok")
        } else {
            ("✗", "error")
        };
        let upstream = m
            .upstream_of(i)
            .map(|u| format!("  (upstream {u})"))
            .unwrap_or_default();
        out.push(Line::from(vec![
            Span::styled(format!("    {mark} "), t.style(style)),
            Span::styled(format!("{}{upstream}", plain(i)), t.style("text")),
        ]));
    }
    for f in failed
        .iter()
        .filter(|f| !m.prepulled_images.iter().any(|i| i == *f))
    {
        out.push(Line::from(vec![
            Span::styled("    ✗ ", t.style("error")),
            Span::styled(
                format!("{} (failed to pre-pull)", plain(f)),
                t.style("warning"),
            ),
        ]));
    }
}

fn raw_manifest<'a>(t: &Theme, report: &NodeReport, out: &mut Vec<Line<'a>>) {
    let Some(f) = &report.facts else {
        return;
    };
    out.push(heading(t, format!("{} as on the node", f.manifest_path)));
    match &f.manifest_text {
        Some(text) => {
            for l in text.lines() {
                out.push(Line::styled(plain(l).into_owned(), t.style("text")));
            }
        }
        None => out.push(Line::styled("(not read)", t.style("dim"))),
    }
}
