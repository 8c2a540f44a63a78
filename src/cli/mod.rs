//! The command-line edge: clap arguments (`args`), and one module per headless command
//! (`build`, `preflight`, `history`, `images`, `retention`, `inspect`) with their printers
//! (`events`, `checklist`). `main.rs` dispatches here; errors become `anyhow` messages only at this
//! edge.

pub mod args;
pub mod build;
pub mod checklist;
pub mod events;
pub mod history;
pub mod images;
pub mod inspect;
pub mod preflight;
pub mod retention;
pub mod signals;

pub use args::{
    BuildArgs, Cli, Command, DemoArgs, GlobalArgs, HistoryArgs, ImagesArgs, InspectArgs,
    PreflightArgs, RetentionAction, RetentionArgs, parse_var,
};

/// The process environment, read at the edge and passed down as a lookup.
pub fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// Names of the variables in the process environment (for `PKR_VAR_*` detection).
pub fn env_names() -> Vec<String> {
    std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .collect()
}
