//! OpenStack: where credentials come from, connecting, and the Glance lookups the build needs.
//! Returns plain domain types; the views never see HTTP.

pub mod credentials;
pub mod glance;
