//! kiln: a terminal console for baking and running RKE2 node images on an airgapped OpenStack.
//!
//! The library holds everything but the command-line edge (`main.rs`), so tests and benches use
//! the same code the binary runs.

pub mod build;
pub mod clock;
pub mod cloud;
pub mod config;
pub mod log_ring;
pub mod paths;
pub mod secrets;
pub mod theme;
