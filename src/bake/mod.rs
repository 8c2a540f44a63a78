//! Building images with Packer: the stage plan, parsing packer's machine-readable output and
//! routing it to stages, the build state views fold events into, running packer in its own
//! process group, build records on disk, preflight checks, FIPS guidance and the one policy that
//! decides whether a build may start. (Named `bake` because `build/` is ignored by many tools.)

pub mod events;
pub mod fips;
pub mod log_ring;
pub mod machine_readable;
pub mod plan;
pub mod preflight;
pub mod record;
pub mod replay;
pub mod request;
pub mod router;
pub mod runner;
pub mod script_output;
pub mod session;
pub mod start;
pub mod state;
pub mod template;
