//! Packer builds: parsing machine-readable output, the stage model, running packer, records on
//! disk, preflight checks and FIPS guidance.

pub mod events;
pub mod fips;
pub mod machine_readable;
pub mod preflight;
pub mod record;
pub mod replay;
pub mod request;
pub mod runner;
pub mod script_output;
pub mod session;
pub mod stage;
pub mod state;
pub mod template;
