//! `/etc/packer-build/image-manifest.json`, schema 1.x: the one Rust definition of it (design
//! §1b), and its parser. The process document's fields are required; the additive fields stage 06
//! writes are typed (and checked) when present; any other field is kept as it was.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// The manifest a build writes into every image (stage 06).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageManifest {
    /// `1.0`, `1.1`, ...: the major must be 1.
    pub schema_version: String,
    /// `packer`.
    pub built_by: String,
    /// When the image was built (UTC).
    pub built_at: DateTime<Utc>,
    /// The OS baked in.
    pub os: OsInfo,
    /// The Kubernetes distribution and version.
    pub kubernetes: KubernetesInfo,
    /// Whether FIPS was enabled in the image.
    pub fips_enabled: bool,
    /// Images pre-pulled into containerd (their Harbor references).
    pub prepulled_images: Vec<String>,
    /// Harbor references that failed to pre-pull (additive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepull_failures: Option<Vec<String>>,
    /// Harbor reference -> digest of what was pre-pulled (additive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepulled_image_digests: Option<BTreeMap<String, String>>,
    /// Harbor reference -> the upstream reference the same image is also tagged as (additive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepulled_image_upstream: Option<BTreeMap<String, String>>,
    /// CAPRKE2's `airGappedChecksum`: SHA-256 (64 lowercase hex) of
    /// `/opt/rke2-artifacts/sha256sum-amd64.txt` (additive).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "sha256_hex"
    )]
    pub rke2_airgapped_checksum: Option<String>,
    /// What happened to an Ubuntu Pro attachment during the build (additive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ubuntu_pro: Option<UbuntuPro>,
    /// The Glance image the build started from (additive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_image: Option<String>,
    /// The Glance image this manifest was baked into (additive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_name: Option<String>,
    /// Packer's run UUID, also a Glance property (additive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packer_run_uuid: Option<String>,
    /// The registry the pre-pulled images came from (additive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harbor_registry: Option<String>,
    /// Any other field (artifacts_sha256, later additions), kept as written.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `os` of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsInfo {
    /// `Ubuntu 22.04.4 LTS`.
    pub pretty_name: String,
    /// `5.15.0-101-generic`.
    pub kernel: String,
    /// Other fields, kept.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `kubernetes` of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesInfo {
    /// `rke2`.
    pub distribution: String,
    /// `v1.28.15+rke2r1`.
    pub version: String,
    /// Other fields, kept.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `ubuntu_pro` of the manifest: stage 04 records whether the source image was attached and
/// whether the build attached it; stage 05 detaches whatever was attached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UbuntuPro {
    /// Whether the source image came attached (null: could not be told).
    pub source_attached: Option<bool>,
    /// Whether the build attached it (with a token) for FIPS.
    pub attached_by_build: bool,
    /// Whether 05 detached it before the snapshot.
    pub detached_before_snapshot: bool,
    /// Other fields, kept.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl UbuntuPro {
    /// True when an attachment existed during the build but was not removed before the snapshot:
    /// every clone of the image would carry the same machine token.
    pub fn attachment_baked_in(&self) -> bool {
        (self.source_attached == Some(true) || self.attached_by_build)
            && !self.detached_before_snapshot
    }
}

/// A SHA-256 written as 64 hex digits; anything else is a parse error (with line and column).
fn sha256_hex<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v: Option<String> = Option::deserialize(d)?;
    match v {
        Some(s) if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(Some(s.to_ascii_lowercase()))
        }
        Some(s) => Err(serde::de::Error::custom(format!(
            "rke2_airgapped_checksum `{}` is not a SHA-256 (64 hex digits)",
            crate::format::cut_chars(&s, 80)
        ))),
        None => Ok(None),
    }
}

/// A manifest that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Not JSON, or a required field is missing or of the wrong type.
    #[error("{source_name}: not a valid image manifest at line {line}, column {column}: {message}")]
    Invalid {
        /// Where the text came from (a path, or `node:/etc/packer-build/image-manifest.json`).
        source_name: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A schema this kiln does not know.
    #[error("{source_name}: manifest schema {version} is not supported (kiln reads 1.x)")]
    UnsupportedSchema {
        /// Where the text came from.
        source_name: String,
        /// The version found.
        version: String,
    },
}

impl ImageManifest {
    /// Parses manifest text; `source_name` says where it came from, for errors. The schema
    /// version is checked before the fields, so a 2.x manifest is refused as such even when its
    /// fields changed.
    pub fn parse(text: &str, source_name: &str) -> Result<ImageManifest, ManifestError> {
        let invalid = |e: serde_json::Error| {
            let full = e.to_string();
            let place = format!(" at line {} column {}", e.line(), e.column());
            ManifestError::Invalid {
                source_name: source_name.to_string(),
                line: e.line(),
                column: e.column(),
                message: full.strip_suffix(&place).unwrap_or(&full).to_string(),
            }
        };
        #[derive(Deserialize)]
        struct Version {
            schema_version: Option<Value>,
        }
        let probe: Version = serde_json::from_str(text).map_err(invalid)?;
        if let Some(Value::String(v)) = &probe.schema_version
            && v.split('.').next() != Some("1")
        {
            return Err(ManifestError::UnsupportedSchema {
                source_name: source_name.into(),
                version: crate::format::cut_chars(v, 40),
            });
        }
        serde_json::from_str(text).map_err(invalid)
    }

    /// The images that failed to pre-pull (empty when the field is absent).
    pub fn prepull_failures(&self) -> &[String] {
        self.prepull_failures.as_deref().unwrap_or(&[])
    }

    /// The upstream name a pre-pulled Harbor reference is also tagged as, when recorded.
    pub fn upstream_of(&self, harbor_ref: &str) -> Option<&str> {
        self.prepulled_image_upstream
            .as_ref()?
            .get(harbor_ref)
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOLDEN: &str = include_str!("../../tests/stages/golden/image-manifest.json");

    #[test]
    fn the_manifest_stage_06_writes_parses() {
        let m = ImageManifest::parse(GOLDEN, "golden").unwrap();
        assert_eq!(m.schema_version, "1.0");
        assert_eq!(m.kubernetes.distribution, "rke2");
        assert!(!m.prepulled_images.is_empty());
        assert_eq!(
            m.packer_run_uuid.as_deref(),
            Some("3fc47c44-7c52-c4d7-0493-7258f129f6e1")
        );
        assert_eq!(m.prepull_failures().len(), 1);
        assert_eq!(
            m.upstream_of("harbor.vitro.lan/k8s/sig-storage/csi-provisioner:v5.0.1"),
            Some("registry.k8s.io/sig-storage/csi-provisioner:v5.0.1")
        );
        assert_eq!(
            m.rke2_airgapped_checksum.as_ref().map(String::len),
            Some(64)
        );
        let pro = m.ubuntu_pro.as_ref().unwrap();
        assert_eq!(pro.source_attached, Some(false));
        assert!(!pro.attachment_baked_in());
        assert!(
            m.extra.contains_key("artifacts_sha256"),
            "unknown fields kept"
        );
    }

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let with_more = GOLDEN
            .replacen('{', "{\n  \"future_field\": {\"a\": [1, 2]},", 1)
            .replace(
                "\"kernel\": \"5.15.0-101-generic\"",
                "\"kernel\": \"5.15.0-101-generic\", \"arch\": \"amd64\"",
            );
        let m = ImageManifest::parse(&with_more, "x").unwrap();
        let back: Value = serde_json::to_value(&m).unwrap();
        let orig: Value = serde_json::from_str(&with_more).unwrap();
        assert_eq!(back, orig, "every field written back as it was read");
    }

    #[test]
    fn missing_fields_and_bad_json_name_the_place() {
        let e = ImageManifest::parse(
            "{\n  \"schema_version\": \"1.0\"\n}",
            "node-1:/etc/packer-build/image-manifest.json",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("node-1:/etc/packer-build/image-manifest.json")
                && e.contains("line 3")
                && e.contains("built_by"),
            "{e}"
        );
        let e = ImageManifest::parse("{\"schema_version\": ", "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x: not a valid image manifest"), "{e}");
        let two = GOLDEN.replace("\"1.0\"", "\"2.0\"");
        assert!(matches!(
            ImageManifest::parse(&two, "x"),
            Err(ManifestError::UnsupportedSchema { .. })
        ));
        let two_changed = "{\"schema_version\": \"2.1\", \"images\": []}";
        assert!(matches!(
            ImageManifest::parse(two_changed, "x"),
            Err(ManifestError::UnsupportedSchema { .. })
        ));
    }

    #[test]
    fn a_checksum_that_is_not_sha256_is_refused_where_it_is() {
        let bad = GOLDEN.replace(
            "bb034b24a3c0bcc8b8ac119e57cc5382f31932bafdb9326bf1994f60f32f5870",
            "not-a-sum",
        );
        let line = bad
            .lines()
            .position(|l| l.contains("rke2_airgapped_checksum"))
            .unwrap()
            + 1;
        match ImageManifest::parse(&bad, "m") {
            Err(ManifestError::Invalid {
                line: l, message, ..
            }) => {
                assert_eq!(l, line);
                assert!(message.contains("not a SHA-256"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_pro_attachment_not_detached_is_baked_in() {
        let pro = |s, b, d| UbuntuPro {
            source_attached: s,
            attached_by_build: b,
            detached_before_snapshot: d,
            extra: BTreeMap::new(),
        };
        assert!(pro(Some(true), false, false).attachment_baked_in());
        assert!(pro(None, true, false).attachment_baked_in());
        assert!(!pro(Some(true), true, true).attachment_baked_in());
        assert!(!pro(None, false, false).attachment_baked_in());
    }
}
