//! What kiln expects of a node, read from the repository's own build inputs so there is one
//! source: the pinned list from `stages/03-prepull-images.sh` (the very block 03 pulls and 07
//! checks), the template's `k8s_version` and `harbor_registry` defaults, and the Glance image's
//! properties when the caller knows them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::pinned::{DEFAULT_HARBOR_REGISTRY, PinnedList, PinnedListError};

/// The expectations a node is checked against besides its own manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectations {
    /// The pinned pre-pull list (None: not known, not checked).
    pub pinned: Option<PinnedList>,
    /// The registry the pinned Harbor paths live under when the manifest does not say
    /// (`harbor_registry` of the template, else `harbor.vitro.lan`).
    pub harbor_registry: String,
    /// The template's default `k8s_version` (None: not checked).
    pub k8s_version: Option<String>,
    /// The Glance image's properties (`rke2_version`, `fips_enabled`, `packer_run_uuid`, ...;
    /// `name` for the image's name), when the node's image is known.
    pub glance_properties: Option<BTreeMap<String, String>>,
}

impl Default for Expectations {
    fn default() -> Self {
        Expectations {
            pinned: None,
            harbor_registry: DEFAULT_HARBOR_REGISTRY.to_string(),
            k8s_version: None,
            glance_properties: None,
        }
    }
}

/// Build inputs that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ExpectationsError {
    /// The template could not be read.
    #[error("template {path}: {cause}")]
    Template {
        /// The template.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The pinned list is missing or malformed.
    #[error(transparent)]
    Pinned(#[from] PinnedListError),
}

/// The pinned list's script, beside the template.
pub const PINNED_SCRIPT: &str = "03-prepull-images.sh";

impl Expectations {
    /// Reads the template and the pinned list beside it (`<template dir>/03-prepull-images.sh`).
    pub fn from_template(template: &Path) -> Result<Expectations, ExpectationsError> {
        let text =
            std::fs::read_to_string(template).map_err(|cause| ExpectationsError::Template {
                path: template.to_path_buf(),
                cause,
            })?;
        let dir = template.parent().unwrap_or(Path::new("."));
        let pinned = PinnedList::load(&dir.join(PINNED_SCRIPT))?;
        let default = |name| crate::bake::template::variable_default(&text, name);
        Ok(Expectations {
            pinned: Some(pinned),
            harbor_registry: default("harbor_registry")
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| DEFAULT_HARBOR_REGISTRY.to_string()),
            k8s_version: default("k8s_version").filter(|v| !v.is_empty()),
            glance_properties: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_template_gives_the_expectations() {
        let t = Path::new(env!("CARGO_MANIFEST_DIR")).join("stages/rke2-node.pkr.hcl");
        let e = Expectations::from_template(&t).unwrap();
        assert_eq!(e.k8s_version.as_deref(), Some("v1.28.15+rke2r1"));
        assert_eq!(e.harbor_registry, "harbor.vitro.lan");
        assert_eq!(e.pinned.map(|p| p.images.len()), Some(14));
    }

    #[test]
    fn a_missing_pinned_list_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("t.pkr.hcl");
        std::fs::write(&t, "variable \"k8s_version\" {\n  default = \"v1\"\n}\n").unwrap();
        let e = Expectations::from_template(&t).unwrap_err().to_string();
        assert!(e.contains("03-prepull-images.sh"), "{e}");
        let e = Expectations::from_template(&dir.path().join("nope.hcl"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope.hcl"), "{e}");
    }
}
