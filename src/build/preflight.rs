//! Preflight: everything a build needs, checked before packer starts. Each check is ok, warn or
//! fail with a one-line fix. Artifacts are hashed streaming (they are gigabytes), off the caller's
//! thread, with progress reported through a callback.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::fips::{ProVerdict, judge_source_image};
use crate::cloud::credentials::CredentialSource;
use crate::cloud::glance;

/// The checksum list the artifacts are verified against.
pub const CHECKSUM_FILE: &str = "sha256sum-amd64.txt";
/// Artifacts the build cannot do without (the process document's files/ list).
pub const REQUIRED_ARTIFACTS: &[&str] =
    &["rke2.linux-amd64.tar.gz", "rke2-images.linux-amd64.tar.zst"];

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
    fn ok(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            status: CheckStatus::Ok,
            detail: detail.into(),
            fix: None,
        }
    }
    fn warn(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            status: CheckStatus::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
    fn fail(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Self {
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

/// What preflight looks at.
#[derive(Debug, Clone)]
pub struct PreflightInput {
    /// The packer executable.
    pub packer: PathBuf,
    /// The template.
    pub template: PathBuf,
    /// The offline artifacts directory.
    pub files_dir: PathBuf,
    /// Where credentials come from.
    pub credentials: CredentialSource,
    /// The source image name the build will use.
    pub source_image: String,
    /// FIPS requested.
    pub fips: bool,
    /// The operator accepts a FIPS build that will not be validated.
    pub allow_unvalidated_fips: bool,
    /// How long to wait for the cloud.
    pub cloud_timeout: Duration,
}

/// Hashing progress: file, bytes done, bytes in all.
pub type HashProgress<'a> = dyn Fn(&str, u64, u64) + Send + Sync + 'a;

/// Runs every check.
pub async fn run(
    input: &PreflightInput,
    progress: std::sync::Arc<HashProgress<'static>>,
) -> PreflightReport {
    let mut report = PreflightReport::default();
    report.checks.push(check_packer(&input.packer).await);
    report.checks.push(check_template(&input.template));
    let files_dir = input.files_dir.clone();
    let artifacts = tokio::task::spawn_blocking(move || check_artifacts(&files_dir, &*progress))
        .await
        .unwrap_or_else(|e| {
            vec![Check::fail(
                "artifacts",
                format!("hashing crashed: {e}"),
                "report this as a bug",
            )]
        });
    report.checks.extend(artifacts);
    report.checks.push(if input.credentials.is_present() {
        Check::ok("credentials", input.credentials.describe())
    } else {
        Check::fail(
            "credentials",
            input.credentials.describe(),
            "source your openrc (`source openrc.vitroai`) or pass --os-cloud NAME with a clouds.yaml entry",
        )
    });
    let properties = if input.credentials.is_present() {
        let (check, props) = check_source_image(input).await;
        report.checks.push(check);
        props
    } else {
        report.checks.push(Check::warn(
            "source image",
            format!("`{}` not checked: no credentials", input.source_image),
            "fix the credentials, then run `kiln preflight` again",
        ));
        None
    };
    if input.fips {
        let verdict = judge_source_image(&input.source_image, properties.as_ref());
        report
            .checks
            .push(fips_check(&verdict, input.allow_unvalidated_fips));
        report.fips_verdict = Some(verdict);
    }
    report
}

/// The FIPS line of the checklist.
pub fn fips_check(verdict: &ProVerdict, allow_unvalidated: bool) -> Check {
    match verdict {
        ProVerdict::Pro(why) => Check::ok("fips", format!("source image is Ubuntu Pro ({why})")),
        ProVerdict::NotPro(why) if allow_unvalidated => Check::warn(
            "fips",
            format!("the image will NOT be FIPS-validated: {why}"),
            "acknowledged with --allow-unvalidated-fips; use an Ubuntu Pro source image for a validated build",
        ),
        ProVerdict::NotPro(why) => Check::fail(
            "fips",
            format!("the image would NOT be FIPS-validated: {why}"),
            "set source_image_name to an Ubuntu Pro image (e.g. ubuntu-pro-22.04-fips), or pass --allow-unvalidated-fips",
        ),
    }
}

async fn check_packer(packer: &Path) -> Check {
    let run = tokio::process::Command::new(packer)
        .arg("version")
        .env("CHECKPOINT_DISABLE", "1")
        .stdin(std::process::Stdio::null())
        .output();
    match tokio::time::timeout(Duration::from_secs(15), run).await {
        Ok(Ok(out)) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            let version = text.lines().next().unwrap_or("").trim().to_string();
            Check::ok("packer", format!("{version} ({})", packer.display()))
        }
        Ok(Ok(out)) => Check::fail(
            "packer",
            format!("`{} version` exited {}", packer.display(), out.status),
            "reinstall packer (`apt-get install packer`)",
        ),
        Ok(Err(e)) => Check::fail(
            "packer",
            format!("`{}` cannot run: {e}", packer.display()),
            "install packer (`apt-get install packer`) or set `packer = \"/path/to/packer\"` in config.toml",
        ),
        Err(_) => Check::fail(
            "packer",
            "`packer version` did not answer in 15 s",
            "check the packer installation",
        ),
    }
}

fn check_template(template: &Path) -> Check {
    match std::fs::read_to_string(template) {
        Ok(text) => {
            let scripts = super::stage::scripts_in_template(&text);
            Check::ok(
                "template",
                format!("{} ({} stage scripts)", template.display(), scripts.len()),
            )
        }
        Err(e) => Check::fail(
            "template",
            format!("{}: {e}", template.display()),
            "run kiln from the repository root or pass --template PATH",
        ),
    }
}

/// One `<sha256>  <file>` entry of the checksum list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksumEntry {
    /// Expected hex digest, lower case.
    pub sha256: String,
    /// File name inside files/.
    pub file: String,
}

/// Parses sha256sum output (`<hex>  <name>` or `<hex> *<name>`); other lines are errors by number.
pub fn parse_checksums(text: &str) -> Result<Vec<ChecksumEntry>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((hash, name)) = line.split_once(char::is_whitespace) else {
            return Err(format!("line {}: expected `<sha256>  <file>`", i + 1));
        };
        let name = name.trim_start().trim_start_matches('*');
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) || name.is_empty() {
            return Err(format!(
                "line {}: expected `<sha256>  <file>`, got `{line}`",
                i + 1
            ));
        }
        out.push(ChecksumEntry {
            sha256: hash.to_ascii_lowercase(),
            file: name.to_string(),
        });
    }
    Ok(out)
}

/// Streams a file through SHA-256, reporting progress every MiB.
pub fn sha256_file(
    path: &Path,
    label: &str,
    progress: &HashProgress<'_>,
) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let total = file.metadata()?.len();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        done += n as u64;
        progress(label, done, total);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn check_artifacts(dir: &Path, progress: &HashProgress<'_>) -> Vec<Check> {
    let list = dir.join(CHECKSUM_FILE);
    let text = match std::fs::read_to_string(&list) {
        Ok(t) => t,
        Err(e) => {
            return vec![Check::fail(
                "artifacts",
                format!("{}: {e}", list.display()),
                "put the RKE2 airgap artifacts and their sha256sum-amd64.txt in files/ (see files/README.md)",
            )];
        }
    };
    let entries = match parse_checksums(&text) {
        Ok(e) => e,
        Err(e) => {
            return vec![Check::fail(
                "artifacts",
                format!("{}: {e}", list.display()),
                "restore the file from the RKE2 release",
            )];
        }
    };
    let mut checks = Vec::new();
    for required in REQUIRED_ARTIFACTS {
        if !entries.iter().any(|e| e.file == *required) {
            checks.push(Check::fail(
                format!("artifact {required}"),
                format!("not listed in {}", list.display()),
                "use the sha256sum-amd64.txt of the same RKE2 release as the tarballs",
            ));
        }
    }
    for entry in &entries {
        let path = dir.join(&entry.file);
        let name = format!("artifact {}", entry.file);
        let required = REQUIRED_ARTIFACTS.contains(&entry.file.as_str());
        if !path.exists() {
            checks.push(if required {
                Check::fail(
                    name,
                    format!("{} is missing", path.display()),
                    "download it from the RKE2 release into files/",
                )
            } else {
                Check::warn(
                    name,
                    format!("listed but not in {} (optional)", dir.display()),
                    "download it only if the build needs it",
                )
            });
            continue;
        }
        checks.push(match sha256_file(&path, &entry.file, progress) {
            Ok(hash) if hash == entry.sha256 => Check::ok(name, "present, sha256 matches"),
            Ok(hash) => Check::fail(
                name,
                format!("sha256 mismatch: expected {}, got {hash}", entry.sha256),
                "download the file again; a truncated or wrong-release file will fail stage 02",
            ),
            Err(e) => Check::fail(
                name,
                format!("{}: {e}", path.display()),
                "check the file's permissions",
            ),
        });
    }
    let installer = dir.join("rke2-install.sh");
    if !installer.exists() {
        checks.push(Check::fail(
            "artifact rke2-install.sh",
            format!("{} is missing", installer.display()),
            "save https://get.rke2.io as files/rke2-install.sh",
        ));
    }
    checks
}

async fn check_source_image(
    input: &PreflightInput,
) -> (Check, Option<std::collections::BTreeMap<String, String>>) {
    let name = "source image";
    let session = match glance::connect(&input.credentials, input.cloud_timeout).await {
        Ok(s) => s,
        Err(e) if e.is_unreachable() => {
            return (
                Check::warn(
                    name,
                    format!("`{}` not checked: {e}", input.source_image),
                    "check the network to Keystone, then rerun",
                ),
                None,
            );
        }
        Err(e) => {
            return (
                Check::fail(
                    name,
                    e.to_string(),
                    "re-source your openrc or renew the application credential",
                ),
                None,
            );
        }
    };
    match glance::images_named(&session, &input.source_image).await {
        Ok(images) => {
            let active = images.iter().find(|i| i.status == "active");
            match (active, images.first()) {
                (Some(img), _) => {
                    let props = img.properties.clone();
                    (
                        Check::ok(
                            name,
                            format!("`{}` is active ({})", input.source_image, img.id),
                        ),
                        Some(props),
                    )
                }
                (None, Some(img)) => (
                    Check::fail(
                        name,
                        format!("`{}` is {} ({})", input.source_image, img.status, img.id),
                        "wait for the image to become active or pick another",
                    ),
                    None,
                ),
                (None, None) => (
                    Check::fail(
                        name,
                        format!("no image named `{}` in Glance", input.source_image),
                        "upload it, or pass --var source_image_name=NAME",
                    ),
                    None,
                ),
            }
        }
        Err(e) if e.is_unreachable() => (
            Check::warn(
                name,
                format!("`{}` not checked: {e}", input.source_image),
                "check the network to Glance",
            ),
            None,
        ),
        Err(e) => (
            Check::fail(
                name,
                e.to_string(),
                "check the credentials' access to Glance",
            ),
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_lines_parse_and_errors_name_the_line() {
        let h = "a".repeat(64);
        let list =
            parse_checksums(&format!("{h}  rke2.linux-amd64.tar.gz\n\n{h} *x.tar\n")).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].file, "x.tar");
        let err = parse_checksums(&format!("{h}  ok\nnot a line\n")).unwrap_err();
        assert!(err.starts_with("line 2"), "{err}");
    }

    #[test]
    fn artifacts_present_missing_and_mismatched() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rke2.linux-amd64.tar.gz"), b"binaries").unwrap();
        std::fs::write(
            dir.path().join("rke2-images.linux-amd64.tar.zst"),
            b"tampered",
        )
        .unwrap();
        std::fs::write(dir.path().join("rke2-install.sh"), b"#!/bin/sh").unwrap();
        let good = sha256_file(
            &dir.path().join("rke2.linux-amd64.tar.gz"),
            "x",
            &|_, _, _| {},
        )
        .unwrap();
        let list = format!(
            "{good}  rke2.linux-amd64.tar.gz\n{}  rke2-images.linux-amd64.tar.zst\n{}  rke2-images-calico.linux-amd64.tar.zst\n",
            "0".repeat(64),
            "1".repeat(64)
        );
        std::fs::write(dir.path().join(CHECKSUM_FILE), list).unwrap();
        let checks = check_artifacts(dir.path(), &|_, _, _| {});
        let by = |n: &str| {
            checks
                .iter()
                .find(|c| c.name == format!("artifact {n}"))
                .unwrap()
                .status
        };
        assert_eq!(by("rke2.linux-amd64.tar.gz"), CheckStatus::Ok);
        assert_eq!(by("rke2-images.linux-amd64.tar.zst"), CheckStatus::Fail);
        assert_eq!(
            by("rke2-images-calico.linux-amd64.tar.zst"),
            CheckStatus::Warn
        );
        assert_eq!(checks.len(), 3);
    }

    #[test]
    fn hashing_reports_progress_and_known_digest() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        let seen = std::sync::Mutex::new(Vec::new());
        let hash = sha256_file(&p, "f", &|_, d, t| seen.lock().unwrap().push((d, t))).unwrap();
        assert_eq!(
            hash,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(*seen.lock().unwrap(), vec![(3, 3)]);
    }
}
