//! kiln: a terminal console for baking and running RKE2 node images on an airgapped OpenStack.
//!
//! The library holds everything but the command-line dispatch (`main.rs`), so tests and benches
//! use the same code the binary runs.

pub mod app;
pub mod bake;
pub mod cli;
pub mod clock;
pub mod cloud;
pub mod demo;
pub mod format;
pub mod fuzzing;
pub mod inventory;
pub mod logging;
pub mod manifest;
pub mod node;
pub mod retention;
pub mod secrets;
pub mod settings;
pub mod sim;
pub mod theme;
