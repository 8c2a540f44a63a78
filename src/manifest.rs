//! `/etc/packer-build/image-manifest.json`, schema 1.x: the one Rust definition of it (design
//! §1b). The process document's fields are required; additions are allowed and kept.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
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
    /// Images pre-pulled into containerd.
    pub prepulled_images: Vec<String>,
    /// Additive fields (prepull_failures, artifact checksums, source image, ...).
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
}

/// `kubernetes` of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesInfo {
    /// `rke2`.
    pub distribution: String,
    /// `v1.28.15+rke2r1`.
    pub version: String,
}

/// A manifest that cannot be used.
#[derive(Debug, thiserror::Error)]
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
    /// Parses manifest text; `source_name` says where it came from, for errors.
    pub fn parse(text: &str, source_name: &str) -> Result<ImageManifest, ManifestError> {
        let m: ImageManifest = serde_json::from_str(text).map_err(|e| ManifestError::Invalid {
            source_name: source_name.to_string(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        if m.schema_version.split('.').next() != Some("1") {
            return Err(ManifestError::UnsupportedSchema {
                source_name: source_name.into(),
                version: m.schema_version,
            });
        }
        Ok(m)
    }

    /// The images that failed to pre-pull (the additive `prepull_failures` field).
    pub fn prepull_failures(&self) -> Vec<String> {
        match self.extra.get("prepull_failures") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOLDEN: &str = include_str!("../tests/stages/golden/image-manifest.json");

    #[test]
    fn the_manifest_stage_06_writes_parses() {
        let m = ImageManifest::parse(GOLDEN, "golden").unwrap();
        assert_eq!(m.schema_version, "1.0");
        assert_eq!(m.kubernetes.distribution, "rke2");
        assert!(!m.prepulled_images.is_empty());
        assert!(m.extra.contains_key("packer_run_uuid"));
        assert_eq!(m.prepull_failures().len(), 1);
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
    }
}
