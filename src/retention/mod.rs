//! The retention policy: which `rke2-node-*` images may go and why the others stay. Pure: no
//! I/O, no clock (now is a parameter), so every rule is tested directly and by property tests.
//!
//! An image is `eligible` only when nothing keeps it. What keeps one: it is in use (a server, or a
//! boot-from-volume volume), protected, younger than the minimum age, among the newest of its
//! series, the newest image of all (the one the cluster wizard picks by default), its name does
//! not follow the template (kiln cannot tell its series), or its usage is unknown (Nova or Cinder
//! could not be asked, or only this project could be and other projects can see the image).

mod flags;
mod policy;

pub use flags::{Flag, flags};
pub use policy::{Candidate, Decision, Policy, Reason, UsageSeen, Verdict, Visibility, decide};
