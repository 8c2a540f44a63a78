//! Preflight: everything a build needs, checked before packer starts. Each check is ok, warn or
//! fail with a one-line fix. Gathering the facts (`facts`, `artifacts`: packer, the template,
//! files/, the cloud) is kept apart from judging them (`verdict`, pure).

pub mod artifacts;
pub mod facts;
pub mod verdict;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::fips::ProVerdict;
use crate::cloud::credentials::CredentialSource;

pub use artifacts::{CHECKSUM_FILE, REQUIRED_ARTIFACTS, parse_checksums, sha256_file};
pub use verdict::fips_check;

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Fine.
    Ok,
    /// The build can run, but look at this.
    Warn,
    /// The build must not start.
    Fail,
}

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// The verdict.
    pub status: CheckStatus,
    /// What was found.
    pub detail: String,
    /// What to do, when not ok.
    pub fix: Option<String>,
}

impl Check {
    /// A passed check.
    pub fn ok(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            status: CheckStatus::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    /// A warning with its fix.
    pub fn warn(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Check {
            name: name.into(),
            status: CheckStatus::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    /// A failure with its fix.
    pub fn fail(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Check {
            name: name.into(),
            status: CheckStatus::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// The whole checklist.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PreflightReport {
    /// The checks, in the order run.
    pub checks: Vec<Check>,
    /// The FIPS verdict on the source image, when FIPS was asked for.
    #[serde(skip)]
    pub fips_verdict: Option<ProVerdict>,
}

impl PreflightReport {
    /// True when no check failed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.status != CheckStatus::Fail)
    }

    /// `kiln preflight`'s exit code: 0 when nothing fails, 2 otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.passed() { 0 } else { 2 }
    }
}

/// A FIPS build from a source image that is not Ubuntu Pro, as the operator stands on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FipsAck {
    /// Not acknowledged (`kiln build` without `--allow-unvalidated-fips`): the check fails.
    Refused,
    /// Acknowledged with `--allow-unvalidated-fips`: a warning.
    Acknowledged,
    /// Not acknowledged yet: the console asks before the build starts (a warning that says so).
    AskLater,
}

/// What preflight looks at (made from the prepared build, see `request::Prepared`).
#[derive(Debug, Clone)]
pub struct PreflightInput {
    /// The packer executable.
    pub packer: PathBuf,
    /// The template.
    pub template: PathBuf,
    /// The template's text, or why it could not be read.
    pub template_text: Result<String, String>,
    /// Names of the `-var`s given (config and command line).
    pub var_names: Vec<String>,
    /// The `-var-file`s given.
    pub var_files: Vec<PathBuf>,
    /// Variables set through `PKR_VAR_<name>` in kiln's environment.
    pub pkr_var_env: Vec<String>,
    /// The offline artifacts directory.
    pub files_dir: PathBuf,
    /// Where credentials come from.
    pub credentials: CredentialSource,
    /// The source image name the build will use.
    pub source_image: String,
    /// The name the new image will get (it must not exist yet).
    pub expected_image: String,
    /// FIPS requested.
    pub fips: bool,
    /// What the operator said (or will be asked) about a FIPS build that would not be validated.
    pub fips_ack: FipsAck,
    /// How long to wait for the cloud.
    pub cloud_timeout: Duration,
}

/// Hashing progress: file, bytes done, bytes in all.
pub type HashProgress<'a> = dyn Fn(&str, u64, u64) + Send + Sync + 'a;

/// Gathers the facts and judges them.
pub async fn run(
    input: &PreflightInput,
    progress: std::sync::Arc<HashProgress<'static>>,
) -> PreflightReport {
    let facts = facts::gather(input, progress).await;
    verdict::judge(
        &facts,
        &verdict::Judging {
            packer: input.packer.display().to_string(),
            template: input.template.display().to_string(),
            source_image: input.source_image.clone(),
            expected_image: input.expected_image.clone(),
            fips: input.fips,
            fips_ack: input.fips_ack,
        },
    )
}
