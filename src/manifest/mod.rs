//! The image manifest and drift. `schema`: the schema-1.x types (the one Rust definition of
//! image-manifest.json) and their parser; `pinned`: the pinned pre-pull list read from
//! 03-prepull-images.sh; `expect`: what kiln expects of a node (that list, the template's
//! defaults, Glance properties); `facts`: what a node showed; `drift`: the pure function from
//! those to findings.

pub mod drift;
pub mod expect;
pub mod facts;
pub mod pinned;
pub mod schema;

pub use drift::{Finding, FindingKind, Severity, drift};
pub use expect::{Expectations, ExpectationsError};
pub use facts::{ImageStore, ManifestRead, NodeFacts, Observed, ProStatus};
pub use pinned::{DEFAULT_HARBOR_REGISTRY, PinnedImage, PinnedList, PinnedListError};
pub use schema::{ImageManifest, KubernetesInfo, ManifestError, OsInfo, UbuntuPro};
