//! The console's two message types: [`Effect`] (work the update asks the executor for) and
//! [`AppEvent`] (what background work reports back). Each view owns its variants, nested under
//! [`ViewEffect`] and [`ViewEvent`].

use super::views::{ViewEffect, ViewEvent};
use crate::theme::Theme;

/// Work for the executor.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Leave (running work is interrupted and waited for, bounded).
    Quit,
    /// Suspend to the shell (Ctrl-Z).
    Suspend,
    /// Load a theme by name or path (a file read: off the UI thread).
    LoadTheme(String),
    /// Ring the terminal bell.
    Bell,
    /// Deliberate panic (only with KILN_ALLOW_PANIC_COMMAND=1), to test terminal restore.
    Panic,
    /// A view's own work.
    View(ViewEffect),
}

/// What background work reports.
#[derive(Debug)]
pub enum AppEvent {
    /// A theme was loaded (or could not be).
    Theme(Result<Theme, String>),
    /// A view's own event.
    View(ViewEvent),
}
