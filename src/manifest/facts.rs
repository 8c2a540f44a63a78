//! What a node showed, in plain data: the input of the drift check besides the manifest and the
//! expectations. `node/` fills it over SSH; the simulator and tests build it by hand.

use std::collections::BTreeSet;
use std::time::Duration;

use super::schema::{ImageManifest, ManifestError};

/// The outcome of one read on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed<T> {
    /// What was read.
    Value(T),
    /// The command (or file) does not exist there: what is missing.
    Missing(String),
    /// The read ran and failed: why (its stderr, a refused `sudo -n`).
    Failed(String),
    /// The read did not finish within its time.
    TimedOut(Duration),
}

impl<T> Observed<T> {
    /// The value, when there is one.
    pub fn value(&self) -> Option<&T> {
        match self {
            Observed::Value(v) => Some(v),
            _ => None,
        }
    }
}

/// The node's image manifest.
#[derive(Debug, Clone, PartialEq)]
pub enum ManifestRead {
    /// Read and valid.
    Parsed(Box<ImageManifest>),
    /// No file at the manifest path.
    Absent,
    /// There, but not a schema-1.x manifest (line and column inside).
    Invalid(ManifestError),
    /// There, but it could not be read (permission, a timeout, ...).
    Unreadable(String),
}

impl ManifestRead {
    /// The manifest, when it was read and valid.
    pub fn manifest(&self) -> Option<&ImageManifest> {
        match self {
            ManifestRead::Parsed(m) => Some(m),
            _ => None,
        }
    }
}

/// What `pro status --format json` said.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProStatus {
    /// The machine is attached to Ubuntu Pro.
    pub attached: bool,
    /// Services whose status is `enabled` (`fips-updates`, `esm-infra`, ...).
    pub enabled_services: Vec<String>,
}

/// The images in containerd's `k8s.io` namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageStore {
    /// The tool that listed them (`ctr` or `crictl`).
    pub tool: String,
    /// Every image reference (name:tag or name@digest), image ids left out.
    pub refs: BTreeSet<String>,
}

/// Everything read from one node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeFacts {
    /// Where the manifest was looked for.
    pub manifest_path: String,
    /// The manifest.
    pub manifest: ManifestRead,
    /// The manifest's text as read (valid or not; at most the output bound), for a raw view.
    pub manifest_text: Option<String>,
    /// `/etc/image-builder-release`, read when the manifest is absent (None: not there).
    pub image_builder_release: Option<String>,
    /// The lines of prepull-failures.txt beside the manifest.
    pub prepull_failures_file: Observed<Vec<String>>,
    /// `/proc/sys/crypto/fips_enabled` is 1.
    pub fips_enabled_kernel: Observed<bool>,
    /// `pro status --format json`.
    pub pro: Observed<ProStatus>,
    /// `rke2 --version`: the version (`v1.28.15+rke2r1`).
    pub rke2_version: Observed<String>,
    /// The images in containerd.
    pub images: Observed<ImageStore>,
    /// The reads whose output hit the size bound (their output was cut).
    pub truncated: Vec<String>,
}

impl NodeFacts {
    /// Facts where nothing could be read (every read missing): a starting point for tests.
    pub fn empty(manifest_path: &str) -> NodeFacts {
        fn missing<T>(w: &str) -> Observed<T> {
            Observed::Missing(w.to_string())
        }
        NodeFacts {
            manifest_path: manifest_path.to_string(),
            manifest: ManifestRead::Absent,
            manifest_text: None,
            image_builder_release: None,
            prepull_failures_file: missing("prepull-failures.txt"),
            fips_enabled_kernel: missing("/proc/sys/crypto/fips_enabled"),
            pro: missing("pro"),
            rke2_version: missing("rke2"),
            images: missing("ctr and crictl"),
            truncated: Vec::new(),
        }
    }
}
