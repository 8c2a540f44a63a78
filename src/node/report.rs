//! One node's result, serialised exactly as `kiln inspect --json` prints it (one object per
//! host: `host`, `ok`, `error`, `manifest`, `fips_enabled_kernel`, `rke2_version`,
//! `images_present`, `drift`), plus what the console shows besides (the facts, the kind of
//! image), which is not serialised. And the exit code of a whole inspection.

use serde::Serialize;

use crate::manifest::{
    Expectations, Finding, ImageManifest, ManifestRead, NodeFacts, Severity, drift,
};

use super::error::NodeError;
use super::target::Target;

/// What kind of image a node runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageKind {
    /// Built by kiln (a manifest, valid or not).
    Kiln,
    /// Built by kubernetes-sigs/image-builder (`/etc/image-builder-release`, no manifest).
    ImageBuilder,
    /// Neither.
    Unknown,
}

/// One node's inspection.
#[derive(Debug, Clone, Serialize)]
pub struct NodeReport {
    /// The host as given (`node-1`, `10.0.0.5:2222`).
    pub host: String,
    /// The node was read (connection, host key and authentication all worked).
    pub ok: bool,
    /// Why it could not be read.
    pub error: Option<String>,
    /// Its manifest, when read and valid.
    pub manifest: Option<ImageManifest>,
    /// `/proc/sys/crypto/fips_enabled` is 1 (null: not read).
    pub fips_enabled_kernel: Option<bool>,
    /// `rke2 --version` (null: not read).
    pub rke2_version: Option<String>,
    /// Image references in containerd's k8s.io namespace, sorted.
    pub images_present: Vec<String>,
    /// Findings, errors first.
    pub drift: Vec<Finding>,
    /// The target.
    #[serde(skip)]
    pub target: Target,
    /// Everything read (None when the node could not be read).
    #[serde(skip)]
    pub facts: Option<NodeFacts>,
    /// The kind of image (None when the node could not be read).
    #[serde(skip)]
    pub kind: Option<ImageKind>,
    /// The typed error.
    #[serde(skip)]
    pub failure: Option<NodeError>,
}

impl NodeReport {
    /// A node that could not be read.
    pub fn failed(target: &Target, host: &str, error: NodeError) -> NodeReport {
        NodeReport {
            host: host.to_string(),
            ok: false,
            error: Some(error.to_string()),
            manifest: None,
            fips_enabled_kernel: None,
            rke2_version: None,
            images_present: Vec::new(),
            drift: Vec::new(),
            target: target.clone(),
            facts: None,
            kind: None,
            failure: Some(error),
        }
    }

    /// A node that was read: the facts and the drift against `expect`.
    pub fn read(
        target: &Target,
        host: &str,
        facts: NodeFacts,
        expect: &Expectations,
    ) -> NodeReport {
        let kind = match (&facts.manifest, &facts.image_builder_release) {
            (ManifestRead::Absent, Some(_)) => ImageKind::ImageBuilder,
            (ManifestRead::Absent, None) => ImageKind::Unknown,
            _ => ImageKind::Kiln,
        };
        NodeReport {
            host: host.to_string(),
            ok: true,
            error: None,
            manifest: facts.manifest.manifest().cloned(),
            fips_enabled_kernel: facts.fips_enabled_kernel.value().copied(),
            rke2_version: facts.rke2_version.value().cloned(),
            images_present: facts
                .images
                .value()
                .map(|s| s.refs.iter().cloned().collect())
                .unwrap_or_default(),
            drift: drift(&facts, expect),
            target: target.clone(),
            facts: Some(facts),
            kind: Some(kind),
            failure: None,
        }
    }

    /// Findings of severity error.
    pub fn errors(&self) -> usize {
        self.drift
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }
}

/// 0: every node read, no error drift; 1: drift of severity error; 2: a node not read.
pub fn exit_code(reports: &[NodeReport]) -> i32 {
    if reports.iter().any(|r| !r.ok) {
        2
    } else if reports.iter().any(|r| r.errors() > 0) {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_shape_is_the_contract() {
        let t = Target::new("n", 22);
        let r = NodeReport::failed(
            &t,
            "n",
            NodeError::Connect {
                host: "n:22".into(),
                cause: "refused".into(),
            },
        );
        let v = serde_json::to_value(&r).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "drift",
                "error",
                "fips_enabled_kernel",
                "host",
                "images_present",
                "manifest",
                "ok",
                "rke2_version"
            ]
        );
        assert_eq!(v["ok"], false);
        assert_eq!(v["manifest"], serde_json::Value::Null);
        assert_eq!(exit_code(&[r]), 2);
        let read = NodeReport::read(&t, "n", NodeFacts::empty("/m"), &Expectations::default());
        assert!(read.ok);
        assert_eq!(read.kind, Some(ImageKind::Unknown));
        assert_eq!(
            exit_code(std::slice::from_ref(&read)),
            1,
            "no manifest is an error"
        );
    }
}
