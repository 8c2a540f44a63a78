//! Gathering what preflight judges: packer's version, the template, the artifacts, the
//! credentials and what Glance says of the source image. All I/O of preflight is here; the
//! verdicts are pure (`verdict.rs`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::artifacts::{self, ArtifactFacts};
use super::{HashProgress, PreflightInput};
use crate::cloud::credentials::CredentialSource;
use crate::cloud::glance::{self, CloudError};

/// How long `packer version` may take.
const PACKER_VERSION_TIMEOUT: Duration = Duration::from_secs(15);

/// What `packer version` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackerFact {
    /// It answered with this version line.
    Version(String),
    /// It ran and failed (exit status).
    Failed(String),
    /// It could not be started.
    CannotRun(String),
    /// It did not answer in time (seconds).
    Silent(u64),
}

/// The template as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateFact {
    /// Read: how many stage scripts it runs, and the variables without a default that no
    /// `-var`, `-var-file` or `PKR_VAR_*` sets.
    Read {
        /// Stage scripts named.
        scripts: usize,
        /// Variables that will have no value.
        unset: Vec<String>,
    },
    /// It could not be read.
    Unreadable(String),
}

/// One image Glance returned for the source image's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSeen {
    /// Image id.
    pub id: String,
    /// `active`, `queued`, ...
    pub status: String,
    /// Its string-valued properties.
    pub properties: BTreeMap<String, String>,
}

/// What the cloud said of the source image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageFact {
    /// Not asked: no credentials.
    NotAsked,
    /// Keystone or Glance could not be reached.
    Unreachable(String),
    /// The credentials were refused.
    Rejected(String),
    /// Glance answered with an error.
    Failed(String),
    /// The images with that name (none, one or more).
    Found(Vec<ImageSeen>),
}

/// Everything preflight judges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// `packer version`.
    pub packer: PackerFact,
    /// The template.
    pub template: TemplateFact,
    /// files/.
    pub artifacts: ArtifactFacts,
    /// Where credentials come from.
    pub credentials: CredentialSource,
    /// The source image in Glance.
    pub source_image: ImageFact,
    /// Images already named as the new image will be.
    pub same_name: ImageFact,
}

/// Gathers every fact; hashing runs on a blocking thread with `progress`.
pub async fn gather(
    input: &PreflightInput,
    progress: std::sync::Arc<HashProgress<'static>>,
) -> Facts {
    let packer = packer_version(&input.packer).await;
    let template = template_fact(input);
    let files_dir = input.files_dir.clone();
    let artifacts = tokio::task::spawn_blocking(move || artifacts::gather(&files_dir, &*progress))
        .await
        .unwrap_or_else(|e| ArtifactFacts::ListUnreadable {
            path: input.files_dir.display().to_string(),
            error: format!("hashing stopped: {e}"),
        });
    let (source_image, same_name) = if input.credentials.is_present() {
        images(input).await
    } else {
        (ImageFact::NotAsked, ImageFact::NotAsked)
    };
    Facts {
        packer,
        template,
        artifacts,
        credentials: input.credentials.clone(),
        source_image,
        same_name,
    }
}

async fn packer_version(packer: &Path) -> PackerFact {
    let run = tokio::process::Command::new(packer)
        .arg("version")
        .env("CHECKPOINT_DISABLE", "1")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(PACKER_VERSION_TIMEOUT, run).await {
        Ok(Ok(out)) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            PackerFact::Version(text.lines().next().unwrap_or("").trim().to_string())
        }
        Ok(Ok(out)) => PackerFact::Failed(out.status.to_string()),
        Ok(Err(e)) => PackerFact::CannotRun(e.to_string()),
        Err(_) => PackerFact::Silent(PACKER_VERSION_TIMEOUT.as_secs()),
    }
}

fn template_fact(input: &PreflightInput) -> TemplateFact {
    let text = match &input.template_text {
        Ok(t) => t,
        Err(e) => return TemplateFact::Unreadable(e.clone()),
    };
    let mut given: Vec<String> = input.var_names.clone();
    for f in &input.var_files {
        if let Ok(t) = crate::settings::files::read_regular(f) {
            given.extend(crate::bake::template::var_file_keys(&t));
        }
    }
    let unset = crate::bake::template::variables_without_default(text)
        .into_iter()
        .filter(|v| !given.contains(v) && !input.pkr_var_env.contains(v))
        .collect();
    TemplateFact::Read {
        scripts: crate::bake::plan::scripts_in_template(text).len(),
        unset,
    }
}

/// The source image and the images already named as the new one, in one session.
async fn images(input: &PreflightInput) -> (ImageFact, ImageFact) {
    let session = match glance::connect(&input.credentials, input.cloud_timeout).await {
        Ok(s) => s,
        Err(e) => return (image_error(e), ImageFact::NotAsked),
    };
    let (source, same) = tokio::join!(
        named(&session, &input.source_image),
        named(&session, &input.expected_image)
    );
    (source, same)
}

async fn named(client: &crate::cloud::CloudClient, name: &str) -> ImageFact {
    match glance::images_named(client, name).await {
        Ok(images) => ImageFact::Found(
            images
                .into_iter()
                .map(|img| ImageSeen {
                    id: img.id,
                    status: img.status,
                    properties: img.properties,
                })
                .collect(),
        ),
        Err(e) => image_error(e),
    }
}

fn image_error(e: CloudError) -> ImageFact {
    match e {
        e if e.is_unreachable() => ImageFact::Unreachable(e.to_string()),
        CloudError::Rejected { .. } | CloudError::NoCredentials(_) => {
            ImageFact::Rejected(e.to_string())
        }
        e => ImageFact::Failed(e.to_string()),
    }
}
