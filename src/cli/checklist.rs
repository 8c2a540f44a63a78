//! The preflight checklist as text (aligned, with fixes) or one JSON object.

use std::io::Write;

use crate::bake::preflight::{CheckStatus, PreflightReport};

/// Prints the preflight checklist.
pub fn print_preflight(
    out: &mut dyn Write,
    report: &PreflightReport,
    json: bool,
) -> std::io::Result<()> {
    if json {
        let v = serde_json::json!({ "passed": report.passed(), "checks": report.checks });
        return writeln!(out, "{v}");
    }
    for c in &report.checks {
        let mark = match c.status {
            CheckStatus::Ok => "ok  ",
            CheckStatus::Warn => "WARN",
            CheckStatus::Fail => "FAIL",
        };
        writeln!(out, "{mark} {:<40} {}", c.name, c.detail)?;
        if let Some(fix) = &c.fix {
            writeln!(out, "     {:<40} fix: {fix}", "")?;
        }
    }
    let failed = report
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .count();
    writeln!(
        out,
        "{}",
        if failed == 0 {
            "preflight passed".to_string()
        } else {
            format!("preflight failed: {failed} check(s)")
        }
    )
}
