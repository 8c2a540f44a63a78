//! A simulated node's contents, derived from its server's Glance image and its kind: the
//! manifest exactly as stage 06 writes it (schema 1.x, the pinned list's Harbor refs with their
//! digests and upstream names, the airgap checksum, `ubuntu_pro`), the files beside it, the
//! kernel's FIPS flag, `pro status`, `rke2 --version` and containerd's image list under both
//! names. Pure: the same image and kind give the same node.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use sha2::{Digest, Sha256};

use super::plan::NodeKind;
use crate::manifest::{ImageManifest, KubernetesInfo, OsInfo, PinnedList, UbuntuPro};
use crate::node::options::DEFAULT_MANIFEST_PATH;
use crate::sim::fleet::FleetImage;

/// Where stage 03 leaves its records (beside the manifest).
const RECORDS: &str = "/etc/packer-build";
/// The kernel's FIPS flag.
pub const FIPS_FLAG: &str = "/proc/sys/crypto/fips_enabled";

/// What a node is made from.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The server's name (the node's hostname).
    pub name: &'a str,
    /// What the node is.
    pub kind: NodeKind,
    /// The image it was booted from (its properties as Glance has them).
    pub image: &'a FleetImage,
    /// The build's source image was attached to Ubuntu Pro (its `ubuntu_pro` property).
    pub source_attached: bool,
    /// The pinned pre-pull list.
    pub pinned: &'a PinnedList,
    /// The Harbor registry the images came from.
    pub registry: &'a str,
    /// The RKE2 version when the image does not say (the template's default).
    pub default_version: &'a str,
}

/// A node's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualNode {
    /// Its hostname (the server's name).
    pub hostname: String,
    /// Path -> contents.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The RKE2 version installed (what `rke2 --version` says).
    pub rke2_version: String,
    /// `pro status --format json`.
    pub pro_status: String,
    /// containerd's k8s.io image names (`ctr images ls -q`), image ids included.
    pub images: BTreeSet<String>,
    /// The kernel runs in FIPS mode.
    pub fips: bool,
}

fn sha256_hex(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// `v1.28.9+rke2r1` -> `v1.28.10+rke2r1` (an in-place upgrade).
fn upgraded(version: &str) -> String {
    let (core, build) = version.split_once('+').unwrap_or((version, ""));
    let bumped = core
        .rsplit_once('.')
        .and_then(|(head, patch)| Some(format!("{head}.{}", patch.parse::<u64>().ok()? + 1)));
    match (bumped, build) {
        (Some(c), "") => c,
        (Some(c), b) => format!("{c}+{b}"),
        (None, _) => format!("{version}-upgraded"),
    }
}

/// When stage 06 ran: the build's day (`build_date`) at the image's creation time, a few
/// minutes before the snapshot.
fn built_at(image: &FleetImage) -> DateTime<Utc> {
    let created = image
        .created_at
        .with_nanosecond(0)
        .unwrap_or(image.created_at);
    let day = image
        .properties
        .get("build_date")
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .unwrap_or(created.date_naive());
    day.and_time(created.time()).and_utc() - Duration::minutes(6)
}

impl VirtualNode {
    /// The node made from `inputs`.
    pub fn build(inputs: &Inputs<'_>) -> VirtualNode {
        let image = inputs.image;
        let prop = |k: &str| image.properties.get(k).filter(|v| !v.is_empty()).cloned();
        let version = prop("rke2_version").unwrap_or_else(|| inputs.default_version.to_string());
        let fips = prop("fips_enabled").as_deref() == Some("true");
        let drifted = inputs.kind == NodeKind::Drifted;
        let pinned = &inputs.pinned.images;
        // The drifted node's build could not pull the last pinned image; later someone removed
        // the first one's Harbor name from containerd and upgraded RKE2 in place.
        let failed = if drifted { pinned.last() } else { None };
        let removed = if drifted { pinned.first() } else { None };
        let pulled: Vec<_> = pinned
            .iter()
            .filter(|p| Some(*p) != failed)
            .map(|p| {
                let harbor = p.harbor_ref(inputs.registry);
                let digest = format!("sha256:{}", sha256_hex(&["image", &p.upstream]));
                (harbor, digest, p.upstream.clone())
            })
            .collect();
        let failures: Vec<String> = failed
            .map(|p| p.harbor_ref(inputs.registry))
            .into_iter()
            .collect();
        let by_build = fips && !inputs.source_attached;
        let sums = |file: &str| sha256_hex(&["rke2 artifact", &version, file]);
        let mut extra = BTreeMap::new();
        extra.insert(
            "artifacts_sha256".to_string(),
            serde_json::json!({
                "rke2-images.linux-amd64.tar.zst": sums("rke2-images.linux-amd64.tar.zst"),
                "rke2.linux-amd64.tar.gz": sums("rke2.linux-amd64.tar.gz"),
                "sha256sum-amd64.txt": sums("sha256sum-amd64.txt"),
            }),
        );
        let manifest = ImageManifest {
            schema_version: prop("manifest_schema_version").unwrap_or_else(|| "1.0".into()),
            built_by: "packer".into(),
            built_at: built_at(image),
            os: OsInfo {
                pretty_name: "Ubuntu 22.04.5 LTS".into(),
                kernel: if fips {
                    "5.15.0-107-fips".into()
                } else {
                    "5.15.0-124-generic".into()
                },
                extra: BTreeMap::new(),
            },
            kubernetes: KubernetesInfo {
                distribution: "rke2".into(),
                version: version.clone(),
                extra: BTreeMap::new(),
            },
            fips_enabled: fips,
            prepulled_images: pulled.iter().map(|(h, _, _)| h.clone()).collect(),
            prepull_failures: Some(failures.clone()),
            prepulled_image_digests: Some(
                pulled
                    .iter()
                    .map(|(h, d, _)| (h.clone(), d.clone()))
                    .collect(),
            ),
            prepulled_image_upstream: Some(
                pulled
                    .iter()
                    .map(|(h, _, u)| (h.clone(), u.clone()))
                    .collect(),
            ),
            rke2_airgapped_checksum: Some(sums("sha256sum-amd64.txt")),
            ubuntu_pro: Some(UbuntuPro {
                source_attached: Some(inputs.source_attached),
                attached_by_build: by_build,
                detached_before_snapshot: inputs.source_attached || by_build,
                extra: BTreeMap::new(),
            }),
            source_image: prop("source_image"),
            image_name: Some(image.name.clone()),
            packer_run_uuid: prop("packer_run_uuid"),
            harbor_registry: Some(inputs.registry.to_string()),
            extra,
        };
        let manifest_text = serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n";
        let mut images = BTreeSet::new();
        for (harbor, digest, upstream) in &pulled {
            if removed.map(|p| p.harbor_ref(inputs.registry)).as_ref() != Some(harbor) {
                images.insert(harbor.clone());
            }
            images.insert(upstream.clone());
            images.insert(digest.clone());
        }
        let lines = |v: &mut dyn Iterator<Item = String>| -> Vec<u8> {
            v.map(|l| l + "\n").collect::<String>().into_bytes()
        };
        let mut files = BTreeMap::new();
        files.insert(
            DEFAULT_MANIFEST_PATH.to_string(),
            manifest_text.into_bytes(),
        );
        files.insert(
            format!("{RECORDS}/prepull-failures.txt"),
            lines(&mut failures.iter().cloned()),
        );
        files.insert(
            format!("{RECORDS}/prepulled-images.txt"),
            lines(&mut pulled.iter().map(|(h, d, u)| format!("{h} {d} {u}"))),
        );
        files.insert(
            FIPS_FLAG.to_string(),
            if fips {
                b"1\n".to_vec()
            } else {
                b"0\n".to_vec()
            },
        );
        files.insert(
            "/etc/os-release".to_string(),
            b"PRETTY_NAME=\"Ubuntu 22.04.5 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nID=ubuntu\n"
                .to_vec(),
        );
        files.insert(
            "/etc/hostname".to_string(),
            format!("{}\n", inputs.name).into_bytes(),
        );
        VirtualNode {
            hostname: inputs.name.to_string(),
            files,
            rke2_version: if drifted { upgraded(&version) } else { version },
            pro_status: pro_status(fips),
            images,
            fips,
        }
    }

    /// What `rke2 --version` prints.
    pub fn rke2_version_output(&self) -> String {
        let hash = sha256_hex(&["rke2 commit", &self.rke2_version]);
        format!(
            "rke2 version {} ({})\ngo version go1.22.8 X:boringcrypto\n",
            self.rke2_version,
            hash.get(..8).unwrap_or("0")
        )
    }
}

/// `pro status --format json`: a FIPS node attached (fips-updates and esm-infra enabled), any
/// other not attached.
fn pro_status(attached: bool) -> String {
    let service = |name: &str, description: &str| {
        if attached {
            serde_json::json!({"name": name, "description": description, "entitled": "yes", "status": "enabled", "status_details": format!("{name} is active")})
        } else {
            serde_json::json!({"name": name, "description": description, "available": "yes"})
        }
    };
    let status = serde_json::json!({
        "_doc": "Content provided in json response is currently considered as Experimental and may change",
        "_schema_version": "0.1",
        "attached": attached,
        "execution_status": "inactive",
        "services": [
            service("esm-infra", "Expanded Security Maintenance for Infrastructure"),
            service("fips-updates", "FIPS compliant crypto packages with stable security updates"),
        ],
        "version": "32.3~22.04",
        "result": "success",
        "errors": [],
        "warnings": [],
    });
    status.to_string() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_upgraded_by_one_patch() {
        assert_eq!(upgraded("v1.28.9+rke2r1"), "v1.28.10+rke2r1");
        assert_eq!(upgraded("v1.29.2"), "v1.29.3");
        assert_eq!(upgraded("odd"), "odd-upgraded");
    }
}
