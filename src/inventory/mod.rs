//! The image inventory: the `rke2-node-*` images of a listing joined with their usage, the
//! retention verdict and the flags, one [`ImageReport`] per image (the JSON objects of
//! `kiln images --json`). Building it is pure (`report`); fetching it (`fetch`), deleting what
//! may go with a re-check before each delete (`delete`) and the audit file (`audit`) do the I/O.

pub mod audit;
pub mod delete;
pub mod fetch;
mod report;

pub use report::{ImageReport, InUse, Inventory, build};
