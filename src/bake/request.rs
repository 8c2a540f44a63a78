//! Turning the operator's choices (vars, var files, FIPS, template) into a prepared build, once:
//! the template read, the packer invocation, the stage plan, the image name kiln expects, the
//! secret values to scrub (registered once), and from it the preflight input and the request.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::plan::StagePlan;
use super::preflight::{FipsAck, PreflightInput};
use super::record::{BuildRecord, FipsRecord, RecordStore};
use super::runner::PackerInvocation;
use super::session::BuildRequest;
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
    pub var_files: Vec<PathBuf>,
    /// FIPS variant.
    pub fips: bool,
    /// Template override.
    pub template: Option<PathBuf>,
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

/// Everything resolved for one build, computed once.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The packer command.
    pub invocation: PackerInvocation,
    /// The expected stages.
    pub plan: StagePlan,
    /// The template's text, or why it could not be read.
    pub template_text: Result<String, String>,
    /// The source image name (for FIPS and preflight).
    pub source_image: String,
    /// The image name kiln expects.
    pub expected_image: String,
    /// FIPS requested.
    pub fips: bool,
    /// Secret values to scrub from every line.
    pub secrets: crate::secrets::Secrets,
    /// When the build was prepared (names the image and the record).
    pub at: DateTime<Utc>,
}

/// Prepares a build: reads the template once and registers the secret values once.
pub fn prepare(settings: &Settings, choices: &BuildChoices, now: DateTime<Utc>) -> Prepared {
    let template = settings.template_or(choices.template.as_deref());
    let template_text = read_template(&template);
    let text = template_text.as_deref().unwrap_or("");
    let mut vars = settings.vars(&choices.vars);
    if choices.fips {
        vars.retain(|(k, _)| k != "fips_enabled");
        vars.push(("fips_enabled".into(), "true".into()));
    }
    let k8s = var_or_default(&vars, text, "k8s_version", FALLBACK_K8S_VERSION);
    let source_image = var_or_default(&vars, text, "source_image_name", FALLBACK_SOURCE_IMAGE);
    let suffix = var_or_default(&vars, text, "image_suffix", "");
    let expected_image = expected_image_name(&k8s, now, &suffix);
    let mut var_files = settings.config.var_files.clone();
    var_files.extend(choices.var_files.iter().cloned());
    Prepared {
        plan: StagePlan::for_template_text(text),
        secrets: secret_values(&vars),
        invocation: PackerInvocation {
            program: settings.packer.clone(),
            template,
            vars,
            var_files,
        },
        expected_image,
        template_text,
        source_image,
        fips: choices.fips,
        at: now,
    }
}

fn read_template(path: &Path) -> Result<String, String> {
    crate::settings::files::read_regular(path).map_err(|e| e.to_string())
}

impl Prepared {
    /// The preflight checklist's input for this build.
    pub fn preflight_input(
        &self,
        settings: &Settings,
        fips_ack: FipsAck,
        env: &dyn Fn(&str) -> Option<String>,
        env_names: &[String],
    ) -> PreflightInput {
        PreflightInput {
            packer: settings.packer.clone(),
            template: self.invocation.template.clone(),
            template_text: self.template_text.clone(),
            var_names: self
                .invocation
                .vars
                .iter()
                .map(|(k, _)| k.clone())
                .collect(),
            var_files: self.invocation.var_files.clone(),
            pkr_var_env: env_names
                .iter()
                .filter_map(|k| k.strip_prefix("PKR_VAR_").map(str::to_string))
                .collect(),
            files_dir: settings.files_dir.clone(),
            credentials: settings.credentials(env),
            source_image: self.source_image.clone(),
            expected_image: self.expected_image.clone(),
            fips: self.fips,
            fips_ack,
            cloud_timeout: settings.cloud_timeout,
        }
    }

    /// The request to run, recording the FIPS decision when `record` is true.
    pub fn into_request(self, settings: &Settings, fips: FipsRecord, record: bool) -> BuildRequest {
        let record = record.then(|| {
            (
                RecordStore::new(settings.paths.builds_dir()),
                BuildRecord::started(
                    self.at,
                    &self.invocation.template,
                    &self.invocation.vars,
                    fips,
                    &self.secrets,
                ),
                self.expected_image.clone(),
            )
        });
        BuildRequest {
            invocation: self.invocation,
            plan: self.plan,
            expected_image: self.expected_image,
            record,
            cleanup_grace: settings.cleanup_grace,
            secrets: self.secrets,
            replay: None,
        }
    }
}

/// Values that must never be shown: secret-named vars and the secret OS_* / Pro variables of
/// kiln's environment. They are also registered with the logger's scrubber.
pub fn secret_values(vars: &[(String, String)]) -> crate::secrets::Secrets {
    let values: Vec<String> = vars
        .iter()
        .filter(|(k, _)| crate::secrets::is_secret_name(k))
        .map(|(_, v)| v.clone())
        .chain(
            crate::logging::SECRET_ENV
                .iter()
                .filter_map(|k| std::env::var(k).ok()),
        )
        .collect();
    for s in &values {
        crate::logging::add_secret(s);
    }
    crate::secrets::Secrets::new(values)
}
