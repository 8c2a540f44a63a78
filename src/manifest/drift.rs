//! Drift: what a node shows against what its manifest says and what kiln expects. One pure
//! function, [`drift`], from (facts, expectations) to findings with a severity and a kind; no
//! I/O, no clock.

use std::collections::BTreeSet;

use serde::Serialize;

use super::expect::Expectations;
use super::facts::{ManifestRead, NodeFacts, Observed};
use super::schema::{ImageManifest, ManifestError};

/// How much a finding matters. `error` fails `kiln inspect` (exit 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The node is not what its image promises (or cannot be told apart from one that is not).
    Error,
    /// Something to look at: a partial pre-pull, a read that failed, an older pinned list.
    Warning,
    /// Worth knowing, nothing wrong.
    Info,
}

/// What a finding is about (the JSON `kind`, kebab-case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// No manifest and no `/etc/image-builder-release`: not an image kiln knows.
    ManifestMissing,
    /// The manifest is not valid JSON or misses a field (line and column in the detail).
    ManifestInvalid,
    /// The manifest's schema major is not 1.
    ManifestSchemaUnsupported,
    /// The manifest is there but could not be read.
    ManifestUnreadable,
    /// No kiln manifest: the node runs a kubernetes-sigs/image-builder image.
    ImageBuilderNode,
    /// The manifest's distribution is not `rke2`.
    DistributionNotRke2,
    /// A pre-pulled image (its Harbor name) is not in containerd.
    ImageMissing,
    /// A pre-pulled image's upstream name is not in containerd (manifests and charts use it).
    UpstreamNameMissing,
    /// containerd's image list could not be read.
    ImageStoreUnreadable,
    /// `rke2 --version` differs from the manifest's version.
    Rke2VersionMismatch,
    /// No `rke2` on the node.
    Rke2Missing,
    /// The manifest says FIPS, the kernel is not in FIPS mode.
    FipsNotEnabled,
    /// The kernel is in FIPS mode, the manifest says it is not.
    FipsNotRecorded,
    /// The build recorded an image that failed to pre-pull.
    PrepullFailed,
    /// The manifest says an Ubuntu Pro attachment was not removed before the snapshot.
    ProAttachmentBakedIn,
    /// The node is attached to Ubuntu Pro now.
    ProAttached,
    /// A pinned image is neither pre-pulled nor recorded as failed: another pinned list.
    PinnedImageAbsent,
    /// A pre-pulled image is not in today's pinned list (a tag bumped since).
    ImageNotPinned,
    /// The upstream name recorded for an image is not the pinned list's.
    UpstreamNameDiffers,
    /// The manifest's Kubernetes version is not the template's default.
    K8sVersionDiffers,
    /// The manifest's registry is not the one kiln expects.
    HarborRegistryDiffers,
    /// A Glance property of the node's image disagrees with the manifest.
    GlancePropertyMismatch,
    /// A command the inspection needs is not on the node.
    CommandMissing,
    /// A command failed.
    CommandFailed,
    /// A command did not finish in time.
    CommandTimedOut,
    /// A command's output was longer than the bound and was cut.
    OutputTruncated,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How much it matters.
    pub severity: Severity,
    /// What it is about.
    pub kind: FindingKind,
    /// The specifics, one line.
    pub detail: String,
}

/// Findings for one node, errors first (stable within a severity). Pure.
pub fn drift(facts: &NodeFacts, expect: &Expectations) -> Vec<Finding> {
    let mut out = Findings(Vec::new());
    reads(facts, &mut out);
    match &facts.manifest {
        ManifestRead::Parsed(m) => {
            against_node(m, facts, expect, &mut out);
            against_expectations(m, facts, expect, &mut out);
        }
        ManifestRead::Absent => match &facts.image_builder_release {
            Some(release) => out.push(
                Severity::Info,
                FindingKind::ImageBuilderNode,
                format!(
                    "no kiln manifest at {}: a kubernetes-sigs/image-builder image ({}); only its own release file to go by",
                    facts.manifest_path,
                    summary(release)
                ),
            ),
            None => out.push(
                Severity::Error,
                FindingKind::ManifestMissing,
                format!(
                    "no manifest at {} and no /etc/image-builder-release: not an image kiln knows",
                    facts.manifest_path
                ),
            ),
        },
        ManifestRead::Invalid(e @ ManifestError::Invalid { .. }) => {
            out.push(Severity::Error, FindingKind::ManifestInvalid, e.to_string())
        }
        ManifestRead::Invalid(e @ ManifestError::UnsupportedSchema { .. }) => out.push(
            Severity::Error,
            FindingKind::ManifestSchemaUnsupported,
            e.to_string(),
        ),
        ManifestRead::Unreadable(why) => out.push(
            Severity::Error,
            FindingKind::ManifestUnreadable,
            format!("{}: {why}", facts.manifest_path),
        ),
    }
    let mut v = out.0;
    v.sort_by_key(|f| f.severity);
    v
}

struct Findings(Vec<Finding>);

impl Findings {
    fn push(&mut self, severity: Severity, kind: FindingKind, detail: String) {
        self.0.push(Finding {
            severity,
            kind,
            detail,
        });
    }
}

/// One line of a release file: its NAME/VERSION pairs, or its first line.
fn summary(release: &str) -> String {
    let pairs: Vec<&str> = release
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .take(4)
        .collect();
    crate::format::cut_chars(&pairs.join(", "), 160)
}

/// Findings about the reads themselves: timeouts, failures, cut output, missing commands.
fn reads(facts: &NodeFacts, out: &mut Findings) {
    let manifest_claims_fips = facts.manifest.manifest().is_some_and(|m| m.fips_enabled);
    let is_kiln_node = facts.manifest.manifest().is_some();
    let mut generic = |what: &str, missing: Option<Severity>, o: ObservedKind| match o {
        ObservedKind::Value => {}
        ObservedKind::Missing(m) => {
            if let Some(sev) = missing {
                out.push(
                    sev,
                    FindingKind::CommandMissing,
                    format!("{what}: {m} not found on the node"),
                );
            }
        }
        ObservedKind::Failed(why) => out.push(
            Severity::Warning,
            FindingKind::CommandFailed,
            format!("{what}: {why}"),
        ),
        ObservedKind::TimedOut(d) => out.push(
            Severity::Warning,
            FindingKind::CommandTimedOut,
            format!("{what} did not finish within {}s", d.as_secs_f64()),
        ),
    };
    generic(
        "fips_enabled",
        manifest_claims_fips.then_some(Severity::Warning),
        ObservedKind::of(&facts.fips_enabled_kernel),
    );
    generic(
        "pro status",
        (manifest_claims_fips).then_some(Severity::Info),
        ObservedKind::of(&facts.pro),
    );
    generic(
        "prepull-failures.txt",
        None,
        ObservedKind::of(&facts.prepull_failures_file),
    );
    match &facts.rke2_version {
        Observed::Missing(m) if is_kiln_node => out.0.push(Finding {
            severity: Severity::Error,
            kind: FindingKind::Rke2Missing,
            detail: format!("{m} not found on the node (the manifest says RKE2 is installed)"),
        }),
        Observed::Missing(_) => {}
        other => generic("rke2 --version", None, ObservedKind::of(other)),
    }
    match &facts.images {
        Observed::Value(_) => {}
        Observed::Missing(m) => out.push(
            if is_kiln_node {
                Severity::Warning
            } else {
                Severity::Info
            },
            FindingKind::CommandMissing,
            format!("the image store cannot be listed: {m} not found on the node"),
        ),
        Observed::Failed(why) => out.push(
            Severity::Warning,
            FindingKind::ImageStoreUnreadable,
            format!("containerd's k8s.io images could not be listed: {why}"),
        ),
        Observed::TimedOut(d) => out.push(
            Severity::Warning,
            FindingKind::CommandTimedOut,
            format!(
                "listing containerd's images did not finish within {}s",
                d.as_secs_f64()
            ),
        ),
    }
    for what in &facts.truncated {
        out.push(
            Severity::Warning,
            FindingKind::OutputTruncated,
            format!(
                "{what}: output longer than the bound, cut (findings from it may be incomplete)"
            ),
        );
    }
}

/// An [`Observed`] without its value, for the generic findings.
enum ObservedKind<'a> {
    Value,
    Missing(&'a str),
    Failed(&'a str),
    TimedOut(std::time::Duration),
}

impl<'a> ObservedKind<'a> {
    fn of<T>(o: &'a Observed<T>) -> ObservedKind<'a> {
        match o {
            Observed::Value(_) => ObservedKind::Value,
            Observed::Missing(m) => ObservedKind::Missing(m),
            Observed::Failed(f) => ObservedKind::Failed(f),
            Observed::TimedOut(d) => ObservedKind::TimedOut(*d),
        }
    }
}

/// The manifest against what the node shows.
fn against_node(m: &ImageManifest, facts: &NodeFacts, expect: &Expectations, out: &mut Findings) {
    if m.kubernetes.distribution != "rke2" {
        out.push(
            Severity::Warning,
            FindingKind::DistributionNotRke2,
            format!(
                "the manifest's distribution is `{}`, not rke2",
                m.kubernetes.distribution
            ),
        );
    }
    if let Observed::Value(refs) = &facts.images {
        let registry = registry_of(m, expect);
        for harbor in &m.prepulled_images {
            if !refs.refs.contains(harbor) {
                out.push(
                    Severity::Error,
                    FindingKind::ImageMissing,
                    format!(
                        "{harbor} is in the manifest but not in containerd (k8s.io, listed by {})",
                        refs.tool
                    ),
                );
            }
            let upstream = m.upstream_of(harbor).map(str::to_string).or_else(|| {
                expect
                    .pinned
                    .as_ref()?
                    .by_harbor_ref(&registry, harbor)
                    .map(|p| p.upstream.clone())
            });
            if let Some(up) = upstream
                && !refs.refs.contains(&up)
            {
                out.push(
                    Severity::Error,
                    FindingKind::UpstreamNameMissing,
                    format!("{up} (the upstream name of {harbor}) is not in containerd: workloads naming it pull at boot"),
                );
            }
        }
    }
    if let Observed::Value(v) = &facts.rke2_version
        && *v != m.kubernetes.version
    {
        out.push(
            Severity::Error,
            FindingKind::Rke2VersionMismatch,
            format!(
                "rke2 --version says {v}, the manifest {}",
                m.kubernetes.version
            ),
        );
    }
    match (&facts.fips_enabled_kernel, m.fips_enabled) {
        (Observed::Value(false), true) => out.push(
            Severity::Error,
            FindingKind::FipsNotEnabled,
            "the manifest says FIPS, but /proc/sys/crypto/fips_enabled is 0".into(),
        ),
        (Observed::Missing(_), true) => out.push(
            Severity::Error,
            FindingKind::FipsNotEnabled,
            "the manifest says FIPS, but the kernel has no /proc/sys/crypto/fips_enabled".into(),
        ),
        (Observed::Value(true), false) => out.push(
            Severity::Warning,
            FindingKind::FipsNotRecorded,
            "the kernel is in FIPS mode, but the manifest says fips_enabled false".into(),
        ),
        _ => {}
    }
    let mut failed: BTreeSet<&str> = m.prepull_failures().iter().map(String::as_str).collect();
    if let Observed::Value(lines) = &facts.prepull_failures_file {
        failed.extend(lines.iter().map(String::as_str));
    }
    for image in failed {
        out.push(
            Severity::Warning,
            FindingKind::PrepullFailed,
            format!("{image} failed to pre-pull when the image was built: nodes pull it from the registry"),
        );
    }
    if let Some(pro) = &m.ubuntu_pro
        && pro.attachment_baked_in()
    {
        out.push(
            Severity::Error,
            FindingKind::ProAttachmentBakedIn,
            "the manifest says an Ubuntu Pro attachment was not detached before the snapshot: every clone shares its machine token".into(),
        );
    }
    if let Observed::Value(p) = &facts.pro
        && p.attached
    {
        out.push(
            Severity::Info,
            FindingKind::ProAttached,
            format!(
                "the node is attached to Ubuntu Pro (enabled: {})",
                if p.enabled_services.is_empty() {
                    "nothing".to_string()
                } else {
                    p.enabled_services.join(", ")
                }
            ),
        );
    }
}

/// The registry the manifest's Harbor references use.
fn registry_of(m: &ImageManifest, expect: &Expectations) -> String {
    m.harbor_registry
        .clone()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| expect.harbor_registry.clone())
}

/// The manifest against the pinned list, the template and the Glance image.
fn against_expectations(
    m: &ImageManifest,
    _facts: &NodeFacts,
    expect: &Expectations,
    out: &mut Findings,
) {
    let registry = registry_of(m, expect);
    if let Some(r) = m.harbor_registry.as_deref().filter(|r| !r.is_empty())
        && r != expect.harbor_registry
    {
        out.push(
            Severity::Info,
            FindingKind::HarborRegistryDiffers,
            format!(
                "built from registry {r}; kiln's template defaults to {}",
                expect.harbor_registry
            ),
        );
    }
    if let Some(pinned) = &expect.pinned {
        let prepulled: BTreeSet<&str> = m.prepulled_images.iter().map(String::as_str).collect();
        let failed: BTreeSet<&str> = m.prepull_failures().iter().map(String::as_str).collect();
        for p in &pinned.images {
            let harbor = p.harbor_ref(&registry);
            if !prepulled.contains(harbor.as_str()) && !failed.contains(harbor.as_str()) {
                out.push(
                    Severity::Warning,
                    FindingKind::PinnedImageAbsent,
                    format!("{harbor} is pinned in 03-prepull-images.sh but the image was built without it (an older pinned list?)"),
                );
            }
            if let Some(up) = m.upstream_of(&harbor)
                && up != p.upstream
            {
                out.push(
                    Severity::Warning,
                    FindingKind::UpstreamNameDiffers,
                    format!(
                        "{harbor} is tagged as {up} on the node; the pinned list says {}",
                        p.upstream
                    ),
                );
            }
        }
        for image in &m.prepulled_images {
            if pinned.by_harbor_ref(&registry, image).is_none() {
                out.push(
                    Severity::Info,
                    FindingKind::ImageNotPinned,
                    format!("{image} was pre-pulled but is not in today's pinned list"),
                );
            }
        }
    }
    if let Some(v) = &expect.k8s_version
        && *v != m.kubernetes.version
    {
        out.push(
            Severity::Info,
            FindingKind::K8sVersionDiffers,
            format!(
                "the image has {}, the template's k8s_version default is {v}",
                m.kubernetes.version
            ),
        );
    }
    if let Some(props) = &expect.glance_properties {
        glance(m, props, out);
    }
}

/// The Glance image's properties (stages/README.md lists them) against the manifest.
fn glance(
    m: &ImageManifest,
    props: &std::collections::BTreeMap<String, String>,
    out: &mut Findings,
) {
    let mut check = |key: &str, manifest_value: Option<String>, severity: Severity| {
        let (Some(prop), Some(mine)) = (props.get(key).filter(|p| !p.is_empty()), manifest_value)
        else {
            return;
        };
        if *prop != mine {
            out.push(
                severity,
                FindingKind::GlancePropertyMismatch,
                format!("Glance property {key} is `{prop}`, the node's manifest says `{mine}`"),
            );
        }
    };
    let version = &m.kubernetes.version;
    check("rke2_version", Some(version.clone()), Severity::Error);
    check(
        "kubernetes_version",
        Some(version.split('+').next().unwrap_or(version).to_string()),
        Severity::Error,
    );
    check(
        "packer_run_uuid",
        m.packer_run_uuid.clone(),
        Severity::Error,
    );
    check("source_image", m.source_image.clone(), Severity::Error);
    check(
        "rke2_airgapped_checksum",
        m.rke2_airgapped_checksum.clone(),
        Severity::Error,
    );
    check("name", m.image_name.clone(), Severity::Error);
    check(
        "manifest_schema_version",
        Some(m.schema_version.clone()),
        Severity::Warning,
    );
    // fips_enabled is what was REQUESTED: a FIPS build from a non-Pro image goes on unvalidated
    // (a warning then); the manifest records what happened.
    match (props.get("fips_enabled").map(String::as_str), m.fips_enabled) {
        (Some("true"), false) => out.push(
            Severity::Warning,
            FindingKind::GlancePropertyMismatch,
            "Glance property fips_enabled is `true` (requested), but the manifest says FIPS was not enabled: the image is not FIPS-validated".into(),
        ),
        (Some("false"), true) => out.push(
            Severity::Error,
            FindingKind::GlancePropertyMismatch,
            "Glance property fips_enabled is `false`, the node's manifest says `true`".into(),
        ),
        _ => {}
    }
}

#[cfg(test)]
mod tests;
