//! From facts to the checklist: a pure function, so every verdict (packer missing, template
//! unreadable or with unset variables, artifacts missing or corrupt, credentials missing, source
//! image active, queued, missing, unreachable or refused, FIPS) is tested without a cloud.

use super::artifacts::{ArtifactFacts, ArtifactState, INSTALLER, REQUIRED_ARTIFACTS};
use super::facts::{Facts, ImageFact, PackerFact, TemplateFact};
use super::{Check, FipsAck, PreflightReport};
use crate::bake::fips::{ProVerdict, judge_source_image};

/// What the verdicts need besides the facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judging {
    /// The packer executable, as configured.
    pub packer: String,
    /// The template path.
    pub template: String,
    /// The source image name the build will use.
    pub source_image: String,
    /// The name the new image will get.
    pub expected_image: String,
    /// FIPS requested.
    pub fips: bool,
    /// Where the operator stands on a FIPS build that would not be validated.
    pub fips_ack: FipsAck,
}

/// The checklist for these facts.
pub fn judge(facts: &Facts, j: &Judging) -> PreflightReport {
    let mut checks = vec![packer(&facts.packer, &j.packer)];
    checks.extend(template(&facts.template, &j.template));
    checks.extend(artifacts(&facts.artifacts));
    checks.push(if facts.credentials.is_present() {
        Check::ok("credentials", facts.credentials.describe())
    } else {
        Check::fail(
            "credentials",
            facts.credentials.describe(),
            "source your openrc (`source openrc.vitroai`) or pass --os-cloud NAME with a clouds.yaml entry",
        )
    });
    let (check, properties) = source_image(&facts.source_image, &j.source_image);
    checks.push(check);
    if let Some(c) = image_name(&facts.same_name, &j.expected_image) {
        checks.push(c);
    }
    let fips_verdict = j
        .fips
        .then(|| judge_source_image(&j.source_image, properties));
    if let Some(v) = &fips_verdict {
        checks.push(fips_check(v, j.fips_ack));
    }
    PreflightReport {
        checks,
        fips_verdict,
    }
}

fn packer(fact: &PackerFact, program: &str) -> Check {
    match fact {
        PackerFact::Version(v) => Check::ok("packer", format!("{v} ({program})")),
        PackerFact::Failed(status) => Check::fail(
            "packer",
            format!("`{program} version` exited {status}"),
            "reinstall packer (`apt-get install packer`)",
        ),
        PackerFact::CannotRun(e) => Check::fail(
            "packer",
            format!("`{program}` cannot run: {e}"),
            "install packer (`apt-get install packer`) or set `packer = \"/path/to/packer\"` in config.toml",
        ),
        PackerFact::Silent(s) => Check::fail(
            "packer",
            format!("`packer version` did not answer in {s} s"),
            "check the packer installation",
        ),
    }
}

fn template(fact: &TemplateFact, path: &str) -> Vec<Check> {
    match fact {
        TemplateFact::Unreadable(e) => vec![Check::fail(
            "template",
            format!("{path}: {e}"),
            "run kiln from the repository root or pass --template PATH",
        )],
        TemplateFact::Read { scripts, unset } => {
            let mut out = vec![Check::ok(
                "template",
                format!("{path} ({scripts} stage scripts)"),
            )];
            out.extend(unset.iter().map(|v| {
                Check::fail(
                    format!("variable {v}"),
                    format!("`{v}` has no default and no value: packer would refuse to start"),
                    format!("pass --var {v}=... (or set it under [vars] in config.toml, or in a -var-file)"),
                )
            }));
            out
        }
    }
}

fn artifacts(facts: &ArtifactFacts) -> Vec<Check> {
    let (path, dir, files, installer_present) = match facts {
        ArtifactFacts::ListUnreadable { path, error } => {
            return vec![Check::fail(
                "artifacts",
                format!("{path}: {error}"),
                "put the RKE2 airgap artifacts and their sha256sum-amd64.txt in files/ (see files/README.md)",
            )];
        }
        ArtifactFacts::ListInvalid { path, error } => {
            return vec![Check::fail(
                "artifacts",
                format!("{path}: {error}"),
                "restore the file from the RKE2 release",
            )];
        }
        ArtifactFacts::Listed {
            path,
            dir,
            files,
            installer_present,
        } => (path, dir, files, *installer_present),
    };
    let mut checks = Vec::new();
    for required in REQUIRED_ARTIFACTS {
        if !files.iter().any(|(f, _)| f == required) {
            checks.push(Check::fail(
                format!("artifact {required}"),
                format!("not listed in {path}"),
                "use the sha256sum-amd64.txt of the same RKE2 release as the tarballs",
            ));
        }
    }
    for (file, state) in files {
        let name = format!("artifact {file}");
        let required = REQUIRED_ARTIFACTS.contains(&file.as_str());
        checks.push(match state {
            ArtifactState::Matches => Check::ok(name, "present, sha256 matches"),
            ArtifactState::Missing if required => Check::fail(
                name,
                format!("{dir}/{file} is missing"),
                "download it from the RKE2 release into files/",
            ),
            ArtifactState::Missing => Check::warn(
                name,
                format!("listed but not in {dir} (optional)"),
                "download it only if the build needs it",
            ),
            ArtifactState::Mismatch { expected, got } => Check::fail(
                name,
                format!("sha256 mismatch: expected {expected}, got {got}"),
                "download the file again; a truncated or wrong-release file will fail stage 02",
            ),
            ArtifactState::Unreadable(e) => Check::fail(
                name,
                format!("{dir}/{file}: {e}"),
                "check the file's permissions",
            ),
        });
    }
    if !installer_present {
        checks.push(Check::fail(
            format!("artifact {INSTALLER}"),
            format!("{dir}/{INSTALLER} is missing"),
            "save https://get.rke2.io as files/rke2-install.sh",
        ));
    }
    checks
}

fn source_image<'a>(
    fact: &'a ImageFact,
    name: &str,
) -> (
    Check,
    Option<&'a std::collections::BTreeMap<String, String>>,
) {
    const CHECK: &str = "source image";
    match fact {
        ImageFact::NotAsked => (
            Check::warn(
                CHECK,
                format!("`{name}` not checked: no credentials"),
                "fix the credentials, then run `kiln preflight` again",
            ),
            None,
        ),
        ImageFact::Unreachable(e) => (
            Check::warn(
                CHECK,
                format!("`{name}` not checked: {e}"),
                "check the network to Keystone and Glance, then rerun",
            ),
            None,
        ),
        ImageFact::Rejected(e) => (
            Check::fail(
                CHECK,
                e.clone(),
                "re-source your openrc or renew the application credential",
            ),
            None,
        ),
        ImageFact::Failed(e) => (
            Check::fail(CHECK, e.clone(), "check the credentials' access to Glance"),
            None,
        ),
        ImageFact::Found(images) => {
            match (images.iter().find(|i| i.status == "active"), images.first()) {
                (Some(img), _) => (
                    Check::ok(CHECK, format!("`{name}` is active ({})", img.id)),
                    Some(&img.properties),
                ),
                (None, Some(img)) => (
                    Check::fail(
                        CHECK,
                        format!("`{name}` is {} ({})", img.status, img.id),
                        "wait for the image to become active or pick another",
                    ),
                    None,
                ),
                (None, None) => (
                    Check::fail(
                        CHECK,
                        format!("no image named `{name}` in Glance"),
                        "upload it, or pass --var source_image_name=NAME",
                    ),
                    None,
                ),
            }
        }
    }
}

/// The new image's name must be free: CAPO resolves an image filter by name to exactly one
/// image and fails with "too many images were found" otherwise (CAPO#2106), so a second
/// `rke2-node-<minor>-<date>` breaks every template that filters by that name.
fn image_name(fact: &ImageFact, name: &str) -> Option<Check> {
    const CHECK: &str = "image name";
    match fact {
        ImageFact::Found(images) if images.is_empty() => {
            Some(Check::ok(CHECK, format!("`{name}` is free in Glance")))
        }
        ImageFact::Found(images) => {
            let ids: Vec<&str> = images.iter().map(|i| i.id.as_str()).collect();
            let next = next_suffix(name);
            Some(Check::fail(
                CHECK,
                format!(
                    "`{name}` exists already ({}): a second image of that name breaks CAPO's filter by name (\"too many images were found\")",
                    ids.join(", ")
                ),
                format!(
                    "build `{next}` with --var image_suffix={} (a same-day suffix kiln's image list and retention understand), or retire the existing image first",
                    next.rsplit('-').next().unwrap_or("2")
                ),
            ))
        }
        ImageFact::NotAsked => None,
        ImageFact::Unreachable(e) | ImageFact::Rejected(e) | ImageFact::Failed(e) => {
            Some(Check::warn(
                CHECK,
                format!("`{name}` not checked: {e}"),
                "check that no image of that name exists before the build",
            ))
        }
    }
}

/// The same name with the next same-day suffix: `x-20261125` -> `x-20261125-2`, `x-...-2` -> `-3`.
fn next_suffix(name: &str) -> String {
    let parts: Vec<&str> = name.rsplitn(2, '-').collect();
    match parts.as_slice() {
        [n, base] if n.len() < 8 && n.parse::<u32>().is_ok() => {
            format!("{base}-{}", n.parse::<u32>().unwrap_or(1) + 1)
        }
        _ => format!("{name}-2"),
    }
}

/// The FIPS line of the checklist.
pub fn fips_check(verdict: &ProVerdict, ack: FipsAck) -> Check {
    match (verdict, ack) {
        (ProVerdict::Pro(why), _) => {
            Check::ok("fips", format!("source image is Ubuntu Pro ({why})"))
        }
        (ProVerdict::NotPro(why), FipsAck::Acknowledged) => Check::warn(
            "fips",
            format!("the image will NOT be FIPS-validated: {why}"),
            "acknowledged with --allow-unvalidated-fips; use an Ubuntu Pro source image for a validated build",
        ),
        (ProVerdict::NotPro(why), FipsAck::AskLater) => Check::warn(
            "fips",
            format!("the image would NOT be FIPS-validated: {why}; not acknowledged"),
            "use an Ubuntu Pro source image, or acknowledge (Shift-A) when asked before the build starts",
        ),
        (ProVerdict::NotPro(why), FipsAck::Refused) => Check::fail(
            "fips",
            format!("the image would NOT be FIPS-validated: {why}"),
            "set source_image_name to an Ubuntu Pro image (e.g. ubuntu-pro-22.04-fips), or pass --allow-unvalidated-fips",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::CheckStatus;
    use super::super::facts::ImageSeen;
    use super::*;
    use crate::cloud::credentials::CredentialSource;

    fn facts() -> Facts {
        Facts {
            packer: PackerFact::Version("Packer v1.6.6".into()),
            template: TemplateFact::Read {
                scripts: 7,
                unset: Vec::new(),
            },
            artifacts: ArtifactFacts::Listed {
                path: "files/sha256sum-amd64.txt".into(),
                dir: "files".into(),
                files: REQUIRED_ARTIFACTS
                    .iter()
                    .map(|f| (f.to_string(), ArtifactState::Matches))
                    .collect(),
                installer_present: true,
            },
            credentials: CredentialSource::detect(None, &|k| match k {
                "OS_AUTH_URL" => Some("http://keystone/v3".into()),
                "OS_USERNAME" => Some("builder".into()),
                "OS_PASSWORD" => Some("pw".into()),
                "OS_PROJECT_NAME" => Some("platform".into()),
                _ => None,
            }),
            source_image: ImageFact::Found(vec![image("active", &[])]),
            same_name: ImageFact::Found(Vec::new()),
        }
    }

    fn image(status: &str, props: &[(&str, &str)]) -> ImageSeen {
        ImageSeen {
            id: "img-1".into(),
            status: status.into(),
            properties: props
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn judging(fips: bool, allow: bool) -> Judging {
        let fips_ack = if allow {
            FipsAck::Acknowledged
        } else {
            FipsAck::Refused
        };
        Judging {
            packer: "packer".into(),
            template: "stages/rke2-node.pkr.hcl".into(),
            source_image: "ubuntu-22.04".into(),
            expected_image: "rke2-node-v1.28-20261125".into(),
            fips,
            fips_ack,
        }
    }

    fn status_of(report: &PreflightReport, name: &str) -> CheckStatus {
        report
            .checks
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.status)
            .unwrap_or_else(|| panic!("no check {name}: {:?}", report.checks))
    }

    #[test]
    fn everything_present_passes() {
        let r = judge(&facts(), &judging(false, false));
        assert!(r.passed(), "{:?}", r.checks);
        assert_eq!(r.fips_verdict, None);
    }

    #[test]
    fn source_image_active_queued_missing_unreachable_rejected() {
        let mut f = facts();
        let cases = [
            (
                ImageFact::Found(vec![image("active", &[])]),
                CheckStatus::Ok,
            ),
            (
                ImageFact::Found(vec![image("queued", &[])]),
                CheckStatus::Fail,
            ),
            (
                ImageFact::Found(vec![image("queued", &[]), image("active", &[])]),
                CheckStatus::Ok,
            ),
            (ImageFact::Found(Vec::new()), CheckStatus::Fail),
            (
                ImageFact::Unreachable("timed out".into()),
                CheckStatus::Warn,
            ),
            (ImageFact::Rejected("401".into()), CheckStatus::Fail),
            (ImageFact::Failed("500".into()), CheckStatus::Fail),
            (ImageFact::NotAsked, CheckStatus::Warn),
        ];
        for (fact, want) in cases {
            f.source_image = fact.clone();
            let r = judge(&f, &judging(false, false));
            assert_eq!(status_of(&r, "source image"), want, "{fact:?}");
        }
    }

    #[test]
    fn an_image_name_that_exists_fails_with_the_next_suffix() {
        let mut f = facts();
        let r = judge(&f, &judging(false, false));
        assert_eq!(status_of(&r, "image name"), CheckStatus::Ok);
        f.same_name = ImageFact::Found(vec![image("active", &[])]);
        let r = judge(&f, &judging(false, false));
        let c = r.checks.iter().find(|c| c.name == "image name").unwrap();
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(c.detail.contains("too many images"), "{c:?}");
        assert!(
            c.fix.as_deref().unwrap().contains("--var image_suffix=2"),
            "{c:?}"
        );
        assert_eq!(
            next_suffix("rke2-node-v1.28-20261125-2"),
            "rke2-node-v1.28-20261125-3"
        );
        f.same_name = ImageFact::Unreachable("timeout".into());
        assert_eq!(
            status_of(&judge(&f, &judging(false, false)), "image name"),
            CheckStatus::Warn
        );
    }

    #[test]
    fn missing_credentials_and_packer_fail() {
        let mut f = facts();
        f.credentials = CredentialSource::Missing {
            reason: "no OS_AUTH_URL".into(),
        };
        f.packer = PackerFact::CannotRun("No such file or directory".into());
        let r = judge(&f, &judging(false, false));
        assert_eq!(status_of(&r, "credentials"), CheckStatus::Fail);
        assert_eq!(status_of(&r, "packer"), CheckStatus::Fail);
        assert!(!r.passed());
    }

    #[test]
    fn unset_template_variables_fail_with_the_fix() {
        let mut f = facts();
        f.template = TemplateFact::Read {
            scripts: 7,
            unset: vec!["flavor".into(), "network_id".into()],
        };
        let r = judge(&f, &judging(false, false));
        assert_eq!(status_of(&r, "variable flavor"), CheckStatus::Fail);
        let c = r
            .checks
            .iter()
            .find(|c| c.name == "variable network_id")
            .unwrap();
        assert!(
            c.fix.as_deref().unwrap().contains("--var network_id="),
            "{c:?}"
        );
    }

    #[test]
    fn artifacts_required_missing_optional_missing_and_mismatch() {
        let mut f = facts();
        f.artifacts = ArtifactFacts::Listed {
            path: "files/sha256sum-amd64.txt".into(),
            dir: "files".into(),
            files: vec![
                ("rke2.linux-amd64.tar.gz".into(), ArtifactState::Missing),
                (
                    "rke2-images-calico.linux-amd64.tar.zst".into(),
                    ArtifactState::Missing,
                ),
                (
                    "rke2-images.linux-amd64.tar.zst".into(),
                    ArtifactState::Mismatch {
                        expected: "0".repeat(64),
                        got: "1".repeat(64),
                    },
                ),
            ],
            installer_present: false,
        };
        let r = judge(&f, &judging(false, false));
        assert_eq!(
            status_of(&r, "artifact rke2.linux-amd64.tar.gz"),
            CheckStatus::Fail
        );
        assert_eq!(
            status_of(&r, "artifact rke2-images-calico.linux-amd64.tar.zst"),
            CheckStatus::Warn
        );
        assert_eq!(
            status_of(&r, "artifact rke2-images.linux-amd64.tar.zst"),
            CheckStatus::Fail
        );
        assert_eq!(status_of(&r, "artifact rke2-install.sh"), CheckStatus::Fail);
    }

    #[test]
    fn fips_is_judged_by_the_properties_glance_returned() {
        let mut f = facts();
        f.source_image = ImageFact::Found(vec![image("active", &[("ubuntu_pro", "true")])]);
        let r = judge(&f, &judging(true, false));
        assert_eq!(status_of(&r, "fips"), CheckStatus::Ok);
        assert!(r.fips_verdict.as_ref().is_some_and(ProVerdict::is_pro));
        f.source_image = ImageFact::Found(vec![image("active", &[])]);
        let r = judge(&f, &judging(true, false));
        assert_eq!(status_of(&r, "fips"), CheckStatus::Fail);
        let r = judge(&f, &judging(true, true));
        assert_eq!(status_of(&r, "fips"), CheckStatus::Warn, "acknowledged");
        let mut j = judging(true, false);
        j.fips_ack = FipsAck::AskLater;
        let r = judge(&f, &j);
        let c = r.checks.iter().find(|c| c.name == "fips").unwrap();
        assert_eq!(c.status, CheckStatus::Warn);
        assert!(c.detail.ends_with("not acknowledged"), "{c:?}");
        assert!(
            !c.fix.as_deref().unwrap().contains("acknowledged with"),
            "claims no acknowledgement"
        );
    }
}
