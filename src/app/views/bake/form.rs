//! Drawing the Build view before a build: the next build's settings and the preflight checklist.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::BakePage;
use crate::app::page::DrawCtx;
use crate::app::widgets::panel;
use crate::bake::preflight::CheckStatus;

/// Draws the form and the checklist.
pub fn draw(page: &BakePage, frame: &mut Frame, area: Rect, ctx: &DrawCtx<'_>) {
    let [form, checks] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
    let t = ctx.theme;
    let v = &page.form;
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
        {
            let verdict = page.preflight.data().and_then(|r| r.fips_verdict.as_ref());
            let (text, style) = match (v.fips, verdict) {
                (false, _) => ("off".to_string(), "text"),
                (true, None) => (
                    "on: fips_enabled=true (needs Ubuntu Pro; preflight checks it)".into(),
                    "warning",
                ),
                (true, Some(crate::bake::fips::ProVerdict::Pro(_))) => (
                    "on: the source image is Ubuntu Pro: the image will be FIPS-validated".into(),
                    "ok",
                ),
                (true, Some(crate::bake::fips::ProVerdict::NotPro(_))) => (
                    "on: NOT Ubuntu Pro: not acknowledged (you are asked before the build)".into(),
                    "warning",
                ),
            };
            row("FIPS  [f]", text, t.style(style))
        },
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
    if let Some(e) = &page.start_error {
        lines.push(Line::from(Span::styled(
            format!("last start failed: {e}"),
            t.style("error"),
        )));
        lines.push(Line::raw(""));
    }
    if let Some(d) = &page.demo {
        let next = d
            .names
            .get(d.next % d.names.len().max(1))
            .cloned()
            .unwrap_or_default();
        lines.push(Line::from(Span::styled(
            format!("Demo: Enter replays the recorded `{next}` build (no cloud, no packer)."),
            t.style("text"),
        )));
    } else if ctx.shared.readonly {
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
            .block(panel(t, "New build", true)),
        form,
    );

    let mut lines = Vec::new();
    if page.preflight.is_loading() {
        let what = match &page.hashing {
            Some((f, d, total)) if *total > 0 => format!("hashing {f}: {}%", d * 100 / total),
            _ => "running checks...".into(),
        };
        lines.push(Line::from(Span::styled(what, t.style("progress"))));
    }
    match page.preflight.data() {
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
        None if page.demo.is_some() => lines.push(Line::from(Span::styled(
            "The demo replays recorded builds: there is nothing to check.",
            t.style("dim"),
        ))),
        None if !page.preflight.is_loading() => lines.push(Line::from(Span::styled(
            "Not run yet: p runs it (Enter runs it before building).",
            t.style("dim"),
        ))),
        None => {}
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(panel(t, "Preflight", false)),
        checks,
    );
}
