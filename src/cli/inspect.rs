//! `kiln inspect HOST[:PORT]...`: options from flags over `[ssh]` config over defaults, the
//! expectations from the template and its pinned list, then [`crate::node::inspect`]; prints a
//! summary per node or the JSON array, and returns the exit code (0, 1 drift, 2 not read).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::manifest::{Expectations, Severity};
use crate::node::{AcceptNew, InspectOptions, NodeReport, exit_code};
use crate::settings::Settings;

use super::args::InspectArgs;

/// `kiln inspect`.
pub async fn run(
    settings: &Settings,
    args: &InspectArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<i32> {
    let options = options(settings, args, env);
    let expect = match expectations(&settings.template) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("kiln: {e:#}");
            return Ok(2);
        }
    };
    let reports = crate::node::inspect(
        &args.hosts,
        &options,
        &expect,
        Arc::new(AcceptNew(args.accept_new)),
        Arc::new(|_| {}),
    )
    .await;
    let mut out = std::io::stdout().lock();
    if args.json {
        let text = serde_json::to_string_pretty(&reports).context("encoding the reports")?;
        writeln!(out, "{text}").context("writing the reports")?;
    } else {
        print_reports(&mut out, &reports).context("writing the reports")?;
    }
    Ok(exit_code(&reports))
}

/// The options: flags over `[ssh]` over defaults; SSH_AUTH_SOCK and HOME from `env`.
pub fn options(
    settings: &Settings,
    args: &InspectArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> InspectOptions {
    let mut o = configured(settings, env);
    if let Some(u) = args.user.clone() {
        o.user = u;
    }
    let mut ids = args.identity.clone();
    ids.append(&mut o.identities);
    o.identities = ids;
    if let Some(j) = args.jump.clone() {
        o.jump = Some(j);
    }
    if let Some(k) = &args.known_hosts {
        o.known_hosts = k.clone();
    }
    o.manifest_path = args.manifest_path.clone();
    o
}

/// The options of `[ssh]` over the defaults (what the console's Nodes view uses); SSH_AUTH_SOCK
/// and HOME from `env`.
pub fn configured(settings: &Settings, env: &dyn Fn(&str) -> Option<String>) -> InspectOptions {
    let home = PathBuf::from(env("HOME").unwrap_or_else(|| ".".into()));
    let ssh = &settings.config.ssh;
    let mut o = InspectOptions::new(&home);
    let tilde = |p: &Path| match p.strip_prefix("~") {
        Ok(rest) => home.join(rest),
        Err(_) => p.to_path_buf(),
    };
    if let Some(u) = ssh.user.clone() {
        o.user = u;
    }
    o.identities.extend(ssh.identity.as_deref().map(tilde));
    if let Some(k) = &ssh.known_hosts {
        o.known_hosts = tilde(k);
    }
    o.agent_socket = env("SSH_AUTH_SOCK")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from);
    o.jump = ssh
        .jump
        .as_deref()
        .and_then(|j| crate::node::JumpHost::parse(j).ok());
    if let Some(p) = ssh.parallel {
        o.parallel = p;
    }
    if let Some(t) = ssh.connect_timeout_seconds {
        o.connect_timeout = Duration::from_secs(t);
    }
    if let Some(t) = ssh.command_timeout_seconds {
        o.command_timeout = Duration::from_secs(t);
    }
    o
}

/// What kiln expects, from the template and the pinned list beside it. A missing template
/// (kiln run outside the repository) means nodes are checked against their own manifests only;
/// a malformed pinned list is an error.
pub fn expectations(template: &Path) -> anyhow::Result<Expectations> {
    if !template.exists() {
        eprintln!(
            "kiln: {} not found: nodes are checked against their own manifests only (no pinned list, no template version)",
            template.display()
        );
        return Ok(Expectations::default());
    }
    Expectations::from_template(template).context("reading what nodes should hold")
}

/// One block per node: its line, then its findings, errors first.
pub fn print_reports(out: &mut dyn Write, reports: &[NodeReport]) -> std::io::Result<()> {
    use crate::format::plain;
    for r in reports {
        if !r.ok {
            writeln!(
                out,
                "{}  NOT READ  {}",
                r.host,
                plain(r.error.as_deref().unwrap_or(""))
            )?;
            continue;
        }
        let what = match &r.manifest {
            Some(m) => format!(
                "{} ({}, built {})",
                m.image_name.as_deref().unwrap_or("kiln image"),
                m.kubernetes.version,
                m.built_at.format("%Y-%m-%d")
            ),
            None => match r.kind {
                Some(crate::node::ImageKind::ImageBuilder) => "image-builder image".into(),
                _ => "no usable manifest".into(),
            },
        };
        let fips = match r.fips_enabled_kernel {
            Some(true) => "on",
            Some(false) => "off",
            None => "?",
        };
        let verdict = match r.errors() {
            0 => "ok".to_string(),
            n => format!("DRIFT ({n} error{})", if n == 1 { "" } else { "s" }),
        };
        writeln!(
            out,
            "{}  {verdict}  {}  rke2 {}  FIPS kernel {fips}  {} images",
            r.host,
            plain(&what),
            plain(r.rke2_version.as_deref().unwrap_or("?")),
            r.images_present.len()
        )?;
        for f in &r.drift {
            let sev = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "info",
            };
            let kind = serde_json::to_value(f.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            writeln!(out, "  {sev:<7}  {kind}  {}", plain(&f.detail))?;
        }
    }
    let not_read = reports.iter().filter(|r| !r.ok).count();
    let drifted = reports.iter().filter(|r| r.ok && r.errors() > 0).count();
    writeln!(
        out,
        "{} node(s): {} read cleanly, {drifted} with drift, {not_read} not read",
        reports.len(),
        reports.len() - not_read - drifted
    )
}
