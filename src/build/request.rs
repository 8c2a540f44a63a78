//! Turning the operator's choices (vars, FIPS, template) into a [`BuildRequest`]: the packer
//! invocation, the stage plan from the template, and the record to write.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::fips::ProVerdict;
use super::record::{BuildRecord, FipsRecord, RecordStore};
use super::runner::PackerInvocation;
use super::session::BuildRequest;
use super::stage::StagePlan;
use super::template::{expected_image_name, variable_default};
use crate::settings::Settings;

/// The Kubernetes version used when neither the vars nor the template say.
pub const FALLBACK_K8S_VERSION: &str = "v1.28.15+rke2r1";
/// The source image used when neither the vars nor the template say.
pub const FALLBACK_SOURCE_IMAGE: &str = "ubuntu-22.04";

/// What the operator chose.
#[derive(Debug, Clone, Default)]
pub struct BuildChoices {
    /// `-var` pairs (merged over the config's).
    pub vars: Vec<(String, String)>,
    /// `-var-file` paths (added to the config's).
    pub var_files: Vec<std::path::PathBuf>,
    /// FIPS variant.
    pub fips: bool,
    /// Template override.
    pub template: Option<std::path::PathBuf>,
}

/// A variable's value: the vars, else the template default, else `fallback`.
pub fn var_or_default(
    vars: &[(String, String)],
    template_text: &str,
    name: &str,
    fallback: &str,
) -> String {
    vars.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .or_else(|| variable_default(template_text, name))
        .unwrap_or_else(|| fallback.to_string())
}

/// Everything resolved for one build.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The request to run.
    pub request: BuildRequest,
    /// The source image name (for FIPS and preflight).
    pub source_image: String,
    /// The image name kiln expects.
    pub expected_image: String,
}

/// Prepares a build. `fips` is the FIPS decision already taken (see [`super::fips::decide`]).
pub fn prepare(
    settings: &Settings,
    choices: &BuildChoices,
    fips: FipsRecord,
    now: DateTime<Utc>,
    record: bool,
) -> Prepared {
    let template = settings.template_or(choices.template.as_deref());
    let text = std::fs::read_to_string(&template).unwrap_or_default();
    let mut vars = settings.vars(&choices.vars);
    if choices.fips {
        vars.retain(|(k, _)| k != "fips_enabled");
        vars.push(("fips_enabled".into(), "true".into()));
    }
    let k8s = var_or_default(&vars, &text, "k8s_version", FALLBACK_K8S_VERSION);
    let source_image = var_or_default(&vars, &text, "source_image_name", FALLBACK_SOURCE_IMAGE);
    let expected_image = expected_image_name(&k8s, now);
    let mut var_files = settings.config.var_files.clone();
    var_files.extend(choices.var_files.iter().cloned());
    let invocation = PackerInvocation {
        program: settings.packer.clone(),
        template: template.clone(),
        vars: vars.clone(),
        var_files,
    };
    let record = record.then(|| {
        (
            RecordStore::new(settings.paths.builds_dir()),
            BuildRecord::started(now, Path::new(&template), &vars, fips),
            expected_image.clone(),
        )
    });
    Prepared {
        request: BuildRequest {
            invocation,
            plan: StagePlan::for_template_text(&text),
            record,
            cleanup_grace: settings.cleanup_grace,
            secrets: secret_values(&vars),
            replay: None,
        },
        source_image,
        expected_image,
    }
}

/// Values that must never be shown: secret-named vars and the secret OS_* / Pro variables.
/// They are also registered with the logger's scrubber.
pub fn secret_values(vars: &[(String, String)]) -> Vec<String> {
    let mut out: Vec<String> = vars
        .iter()
        .filter(|(k, v)| crate::secrets::is_secret_name(k) && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect();
    out.extend(
        crate::logging::SECRET_ENV
            .iter()
            .filter_map(|k| std::env::var(k).ok())
            .filter(|v| !v.is_empty()),
    );
    for s in &out {
        crate::logging::add_secret(s);
    }
    out
}

/// The preflight checklist's input for these choices (template, source image, FIPS).
pub fn preflight_input(
    settings: &Settings,
    choices: &BuildChoices,
    allow_unvalidated_fips: bool,
    now: DateTime<Utc>,
) -> super::preflight::PreflightInput {
    let p = prepare(settings, choices, FipsRecord::default(), now, false);
    super::preflight::PreflightInput {
        packer: settings.packer.clone(),
        template: p.request.invocation.template,
        files_dir: settings.files_dir.clone(),
        credentials: settings.credentials(&|k| std::env::var(k).ok()),
        source_image: p.source_image,
        fips: choices.fips,
        allow_unvalidated_fips,
        cloud_timeout: settings.cloud_timeout,
    }
}

/// The name-only FIPS verdict, for when the cloud was not asked.
pub fn name_only_verdict(source_image: &str) -> ProVerdict {
    super::fips::judge_source_image(source_image, None)
}
