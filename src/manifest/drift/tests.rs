//! Every finding kind, each from a healthy node with one thing changed.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::*;
use crate::manifest::facts::{ImageStore, ProStatus};
use crate::manifest::pinned::{PinnedImage, PinnedList};

const GOLDEN: &str = include_str!("../../../tests/stages/golden/image-manifest.json");

fn manifest() -> ImageManifest {
    let mut m = ImageManifest::parse(GOLDEN, "golden").unwrap();
    m.prepull_failures = Some(Vec::new());
    m
}

/// The pinned list the golden manifest was built from (its three images and kube-vip).
fn pinned() -> PinnedList {
    let p = |up: &str, path: &str| PinnedImage {
        upstream: up.into(),
        harbor_path: path.into(),
    };
    PinnedList {
        images: vec![
            p(
                "registry.k8s.io/provider-os/openstack-cloud-controller-manager:v1.30.0",
                "k8s/provider-os/openstack-cloud-controller-manager:v1.30.0",
            ),
            p(
                "registry.k8s.io/provider-os/cinder-csi-plugin:v1.30.0",
                "k8s/provider-os/cinder-csi-plugin:v1.30.0",
            ),
            p(
                "registry.k8s.io/sig-storage/csi-provisioner:v5.0.1",
                "k8s/sig-storage/csi-provisioner:v5.0.1",
            ),
        ],
    }
}

fn expect() -> Expectations {
    Expectations {
        pinned: Some(pinned()),
        k8s_version: Some("v1.28.15+rke2r1".into()),
        ..Expectations::default()
    }
}

fn healthy() -> NodeFacts {
    let m = manifest();
    let mut refs: BTreeSet<String> = m.prepulled_images.iter().cloned().collect();
    refs.extend(m.prepulled_image_upstream.clone().unwrap().into_values());
    refs.insert("docker.io/rancher/hardened-kubernetes:v1.28.15-rke2r1-build20241016".into());
    NodeFacts {
        manifest_path: "/etc/packer-build/image-manifest.json".into(),
        manifest: ManifestRead::Parsed(Box::new(m)),
        manifest_text: Some(GOLDEN.to_string()),
        image_builder_release: None,
        prepull_failures_file: Observed::Value(Vec::new()),
        fips_enabled_kernel: Observed::Value(false),
        pro: Observed::Value(ProStatus::default()),
        rke2_version: Observed::Value("v1.28.15+rke2r1".into()),
        images: Observed::Value(ImageStore {
            tool: "ctr".into(),
            refs,
        }),
        truncated: Vec::new(),
    }
}

fn with_manifest(f: impl FnOnce(&mut ImageManifest)) -> NodeFacts {
    let mut facts = healthy();
    let mut m = manifest();
    f(&mut m);
    facts.manifest = ManifestRead::Parsed(Box::new(m));
    facts
}

/// The one finding of `kind` (asserting there is exactly one), after checking nothing else but
/// `also` was found.
fn only(findings: &[Finding], kind: FindingKind) -> Finding {
    let of: Vec<&Finding> = findings.iter().filter(|f| f.kind == kind).collect();
    assert_eq!(of.len(), 1, "one {kind:?} in {findings:#?}");
    of[0].clone()
}

fn kinds(findings: &[Finding]) -> Vec<FindingKind> {
    findings.iter().map(|f| f.kind).collect()
}

#[test]
fn a_healthy_node_has_no_findings() {
    assert_eq!(drift(&healthy(), &expect()), Vec::new());
}

#[test]
fn errors_come_first() {
    let mut facts = healthy();
    facts.rke2_version = Observed::Value("v1.29.0+rke2r1".into());
    facts.truncated.push("ctr images ls".into());
    facts.pro = Observed::Value(ProStatus {
        attached: true,
        enabled_services: vec![],
    });
    let f = drift(&facts, &expect());
    let sev: Vec<Severity> = f.iter().map(|f| f.severity).collect();
    assert_eq!(sev, [Severity::Error, Severity::Warning, Severity::Info]);
}

#[test]
fn manifest_missing_without_a_release_file_is_an_error() {
    let mut facts = healthy();
    facts.manifest = ManifestRead::Absent;
    let f = only(&drift(&facts, &expect()), FindingKind::ManifestMissing);
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.detail.contains("/etc/packer-build/image-manifest.json"),
        "{}",
        f.detail
    );
}

#[test]
fn an_image_builder_node_says_what_it_is() {
    let mut facts = healthy();
    facts.manifest = ManifestRead::Absent;
    facts.image_builder_release = Some("# built by image-builder\nVERSION=v0.1.46\n".into());
    let all = drift(&facts, &expect());
    let f = only(&all, FindingKind::ImageBuilderNode);
    assert_eq!(f.severity, Severity::Info);
    assert!(f.detail.contains("VERSION=v0.1.46"), "{}", f.detail);
    assert!(
        !all.iter().any(|f| f.severity == Severity::Error),
        "{all:#?}"
    );
}

#[test]
fn an_invalid_manifest_keeps_line_and_column() {
    let mut facts = healthy();
    let e = ImageManifest::parse(
        "{\n  \"schema_version\": \"1.0\",\n  \"built_by\": 3\n}",
        "n:/m.json",
    )
    .unwrap_err();
    facts.manifest = ManifestRead::Invalid(e);
    let f = only(&drift(&facts, &expect()), FindingKind::ManifestInvalid);
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.detail.contains("n:/m.json") && f.detail.contains("line 3, column"),
        "{}",
        f.detail
    );
}

#[test]
fn an_unknown_major_is_refused() {
    let mut facts = healthy();
    facts.manifest = ManifestRead::Invalid(
        ImageManifest::parse("{\"schema_version\": \"2.0\"}", "n:/m.json").unwrap_err(),
    );
    let f = only(
        &drift(&facts, &expect()),
        FindingKind::ManifestSchemaUnsupported,
    );
    assert_eq!(f.severity, Severity::Error);
    assert!(f.detail.contains("2.0"), "{}", f.detail);
}

#[test]
fn an_unreadable_manifest_is_an_error() {
    let mut facts = healthy();
    facts.manifest = ManifestRead::Unreadable("Permission denied".into());
    let f = only(&drift(&facts, &expect()), FindingKind::ManifestUnreadable);
    assert_eq!(f.severity, Severity::Error);
    assert!(f.detail.contains("Permission denied"));
}

#[test]
fn another_distribution_is_a_warning() {
    let facts = with_manifest(|m| m.kubernetes.distribution = "k3s".into());
    let f = only(&drift(&facts, &expect()), FindingKind::DistributionNotRke2);
    assert_eq!(f.severity, Severity::Warning);
}

#[test]
fn a_prepulled_image_missing_from_containerd_is_an_error_by_either_name() {
    let gone = "harbor.vitro.lan/k8s/provider-os/cinder-csi-plugin:v1.30.0";
    let up = "registry.k8s.io/provider-os/cinder-csi-plugin:v1.30.0";
    let mut facts = healthy();
    if let Observed::Value(s) = &mut facts.images {
        s.refs.remove(gone);
    }
    let f = only(&drift(&facts, &expect()), FindingKind::ImageMissing);
    assert_eq!(f.severity, Severity::Error);
    assert!(f.detail.contains(gone));
    assert!(!kinds(&drift(&facts, &expect())).contains(&FindingKind::UpstreamNameMissing));

    let mut facts = healthy();
    if let Observed::Value(s) = &mut facts.images {
        s.refs.remove(up);
    }
    let f = only(&drift(&facts, &expect()), FindingKind::UpstreamNameMissing);
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.detail.contains(up) && f.detail.contains(gone),
        "{}",
        f.detail
    );
}

#[test]
fn without_the_upstream_map_the_pinned_list_names_the_upstream_image() {
    let up = "registry.k8s.io/sig-storage/csi-provisioner:v5.0.1";
    let mut facts = with_manifest(|m| m.prepulled_image_upstream = None);
    if let Observed::Value(s) = &mut facts.images {
        s.refs.remove(up);
    }
    let f = only(&drift(&facts, &expect()), FindingKind::UpstreamNameMissing);
    assert!(f.detail.contains(up));
}

#[test]
fn an_unreadable_image_store_is_a_warning_and_no_image_is_called_missing() {
    let mut facts = healthy();
    facts.images = Observed::Failed("sudo: a password is required".into());
    let all = drift(&facts, &expect());
    let f = only(&all, FindingKind::ImageStoreUnreadable);
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.detail.contains("sudo: a password is required"));
    assert!(!kinds(&all).contains(&FindingKind::ImageMissing));
}

#[test]
fn an_rke2_version_other_than_the_manifest_is_an_error() {
    let mut facts = healthy();
    facts.rke2_version = Observed::Value("v1.29.0+rke2r1".into());
    let f = only(&drift(&facts, &expect()), FindingKind::Rke2VersionMismatch);
    assert_eq!(f.severity, Severity::Error);
    assert!(f.detail.contains("v1.29.0+rke2r1") && f.detail.contains("v1.28.15+rke2r1"));
}

#[test]
fn no_rke2_on_a_kiln_node_is_an_error() {
    let mut facts = healthy();
    facts.rke2_version = Observed::Missing("`rke2`".into());
    let f = only(&drift(&facts, &expect()), FindingKind::Rke2Missing);
    assert_eq!(f.severity, Severity::Error);
}

#[test]
fn fips_claimed_but_not_in_the_kernel_is_an_error() {
    let facts = with_manifest(|m| m.fips_enabled = true);
    let f = only(&drift(&facts, &expect()), FindingKind::FipsNotEnabled);
    assert_eq!(f.severity, Severity::Error);
    let mut facts = with_manifest(|m| m.fips_enabled = true);
    facts.fips_enabled_kernel = Observed::Missing("/proc/sys/crypto/fips_enabled".into());
    only(&drift(&facts, &expect()), FindingKind::FipsNotEnabled);
    let mut facts = with_manifest(|m| m.fips_enabled = true);
    facts.fips_enabled_kernel = Observed::Value(true);
    assert!(!kinds(&drift(&facts, &expect())).contains(&FindingKind::FipsNotEnabled));
}

#[test]
fn fips_in_the_kernel_but_not_recorded_is_a_warning() {
    let mut facts = healthy();
    facts.fips_enabled_kernel = Observed::Value(true);
    let f = only(&drift(&facts, &expect()), FindingKind::FipsNotRecorded);
    assert_eq!(f.severity, Severity::Warning);
}

#[test]
fn recorded_prepull_failures_are_warnings_once_each() {
    let kube_vip = "harbor.vitro.lan/k8s/kube-vip/kube-vip:v0.8.0";
    let mut facts = with_manifest(|m| m.prepull_failures = Some(vec![kube_vip.into()]));
    facts.prepull_failures_file = Observed::Value(vec![kube_vip.into()]);
    let f = only(&drift(&facts, &expect()), FindingKind::PrepullFailed);
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.detail.contains(kube_vip));
    let mut facts = healthy();
    facts.prepull_failures_file = Observed::Value(vec!["h/x:1".into()]);
    assert!(
        only(&drift(&facts, &expect()), FindingKind::PrepullFailed)
            .detail
            .contains("h/x:1")
    );
}

#[test]
fn a_pro_attachment_left_in_the_image_is_an_error() {
    let facts = with_manifest(|m| {
        let pro = m.ubuntu_pro.as_mut().unwrap();
        pro.attached_by_build = true;
        pro.detached_before_snapshot = false;
    });
    let f = only(&drift(&facts, &expect()), FindingKind::ProAttachmentBakedIn);
    assert_eq!(f.severity, Severity::Error);
}

#[test]
fn a_node_attached_now_is_said() {
    let mut facts = healthy();
    facts.pro = Observed::Value(ProStatus {
        attached: true,
        enabled_services: vec!["fips-updates".into()],
    });
    let f = only(&drift(&facts, &expect()), FindingKind::ProAttached);
    assert_eq!(f.severity, Severity::Info);
    assert!(f.detail.contains("fips-updates"));
}

#[test]
fn a_pinned_image_the_build_did_not_have_is_a_warning() {
    let mut e = expect();
    e.pinned.as_mut().unwrap().images.push(PinnedImage {
        upstream: "ghcr.io/kube-vip/kube-vip:v0.8.0".into(),
        harbor_path: "k8s/kube-vip/kube-vip:v0.8.0".into(),
    });
    let f = only(&drift(&healthy(), &e), FindingKind::PinnedImageAbsent);
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.detail
            .contains("harbor.vitro.lan/k8s/kube-vip/kube-vip:v0.8.0")
    );
    // recorded as failed: a prepull failure, not another list
    let facts = with_manifest(|m| {
        m.prepull_failures = Some(vec!["harbor.vitro.lan/k8s/kube-vip/kube-vip:v0.8.0".into()])
    });
    assert!(!kinds(&drift(&facts, &e)).contains(&FindingKind::PinnedImageAbsent));
}

#[test]
fn the_pinned_list_is_read_from_the_real_script_for_the_golden_manifest() {
    let real = PinnedList::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("stages/03-prepull-images.sh"),
    )
    .unwrap();
    let e = Expectations {
        pinned: Some(real),
        ..expect()
    };
    let all = drift(&healthy(), &e);
    // 14 pinned, 3 pre-pulled by the golden build, none recorded failed here
    assert_eq!(
        all.iter()
            .filter(|f| f.kind == FindingKind::PinnedImageAbsent)
            .count(),
        11
    );
    assert!(
        !kinds(&all).contains(&FindingKind::ImageNotPinned),
        "{all:#?}"
    );
}

#[test]
fn an_image_not_in_todays_list_is_info() {
    let mut e = expect();
    e.pinned.as_mut().unwrap().images.remove(0);
    let f = only(&drift(&healthy(), &e), FindingKind::ImageNotPinned);
    assert_eq!(f.severity, Severity::Info);
}

#[test]
fn an_upstream_name_other_than_the_pinned_one_is_a_warning() {
    let mut e = expect();
    e.pinned.as_mut().unwrap().images[2].upstream =
        "quay.io/elsewhere/csi-provisioner:v5.0.1".into();
    let f = only(&drift(&healthy(), &e), FindingKind::UpstreamNameDiffers);
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.detail.contains("quay.io/elsewhere"));
}

#[test]
fn a_version_other_than_the_templates_is_info() {
    let mut e = expect();
    e.k8s_version = Some("v1.29.9+rke2r1".into());
    let f = only(&drift(&healthy(), &e), FindingKind::K8sVersionDiffers);
    assert_eq!(f.severity, Severity::Info);
}

#[test]
fn another_registry_is_info_and_its_refs_are_used() {
    let facts = with_manifest(|m| {
        m.harbor_registry = Some("harbor.other.lan".into());
        m.prepulled_images = m
            .prepulled_images
            .iter()
            .map(|i| i.replace("harbor.vitro.lan", "harbor.other.lan"))
            .collect();
        m.prepulled_image_upstream = None;
    });
    let mut facts = facts;
    if let Observed::Value(s) = &mut facts.images {
        s.refs = s
            .refs
            .iter()
            .map(|i| i.replace("harbor.vitro.lan", "harbor.other.lan"))
            .collect();
    }
    let all = drift(&facts, &expect());
    let f = only(&all, FindingKind::HarborRegistryDiffers);
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(
        kinds(&all),
        [FindingKind::HarborRegistryDiffers],
        "{all:#?}"
    );
}

#[test]
fn glance_properties_are_checked_against_the_manifest() {
    let props = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>()
    };
    let agreeing = props(&[
        ("rke2_version", "v1.28.15+rke2r1"),
        ("kubernetes_version", "v1.28.15"),
        ("fips_enabled", "false"),
        ("packer_run_uuid", "3fc47c44-7c52-c4d7-0493-7258f129f6e1"),
        ("source_image", "ubuntu-22.04"),
        (
            "rke2_airgapped_checksum",
            "bb034b24a3c0bcc8b8ac119e57cc5382f31932bafdb9326bf1994f60f32f5870",
        ),
        ("manifest_schema_version", "1.0"),
        ("name", "rke2-node-v1.28-20260407"),
        ("hw_qemu_guest_agent", "yes"),
    ]);
    let e = Expectations {
        glance_properties: Some(agreeing.clone()),
        ..expect()
    };
    assert_eq!(drift(&healthy(), &e), Vec::new());
    for (key, value, severity) in [
        ("rke2_version", "v1.29.0+rke2r1", Severity::Error),
        ("kubernetes_version", "v1.29.0", Severity::Error),
        ("packer_run_uuid", "another", Severity::Error),
        ("source_image", "ubuntu-pro-22.04-fips", Severity::Error),
        (
            "rke2_airgapped_checksum",
            "0000000000000000000000000000000000000000000000000000000000000000",
            Severity::Error,
        ),
        ("name", "rke2-node-v1.28-20260408", Severity::Error),
        ("manifest_schema_version", "1.1", Severity::Warning),
        ("fips_enabled", "true", Severity::Warning),
    ] {
        let mut p = agreeing.clone();
        p.insert(key.into(), value.into());
        let e = Expectations {
            glance_properties: Some(p),
            ..expect()
        };
        let f = only(&drift(&healthy(), &e), FindingKind::GlancePropertyMismatch);
        assert_eq!(f.severity, severity, "{key}");
        assert!(f.detail.contains(key), "{}", f.detail);
    }
    let facts = with_manifest(|m| m.fips_enabled = true);
    let mut p = agreeing;
    p.insert("fips_enabled".into(), "false".into());
    let e = Expectations {
        glance_properties: Some(p),
        ..expect()
    };
    let all = drift(&facts, &e);
    assert_eq!(
        only(&all, FindingKind::GlancePropertyMismatch).severity,
        Severity::Error
    );
}

#[test]
fn reads_that_fail_time_out_or_are_cut_are_said() {
    let mut facts = with_manifest(|m| m.fips_enabled = true);
    facts.fips_enabled_kernel = Observed::Value(true);
    facts.pro = Observed::Missing("`pro`".into());
    let f = only(&drift(&facts, &expect()), FindingKind::CommandMissing);
    assert_eq!(f.severity, Severity::Info);
    assert!(f.detail.contains("pro"));

    let mut facts = healthy();
    facts.rke2_version = Observed::TimedOut(Duration::from_secs(3));
    let f = only(&drift(&facts, &expect()), FindingKind::CommandTimedOut);
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.detail.contains("rke2 --version") && f.detail.contains("3s"),
        "{}",
        f.detail
    );

    let mut facts = healthy();
    facts.prepull_failures_file = Observed::Failed("cat: Permission denied".into());
    let f = only(&drift(&facts, &expect()), FindingKind::CommandFailed);
    assert_eq!(f.severity, Severity::Warning);

    let mut facts = healthy();
    facts.truncated.push("ctr images ls".into());
    let f = only(&drift(&facts, &expect()), FindingKind::OutputTruncated);
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.detail.contains("ctr images ls"));

    let mut facts = healthy();
    facts.images = Observed::Missing("ctr and crictl".into());
    let f = only(&drift(&facts, &expect()), FindingKind::CommandMissing);
    assert_eq!(f.severity, Severity::Warning);
}

#[test]
fn kinds_serialize_as_the_json_contract_says() {
    let f = Finding {
        severity: Severity::Error,
        kind: FindingKind::Rke2VersionMismatch,
        detail: "d".into(),
    };
    assert_eq!(
        serde_json::to_string(&f).unwrap(),
        r#"{"severity":"error","kind":"rke2-version-mismatch","detail":"d"}"#
    );
}
