//! The Log tab: kiln's own diagnostics and those of the crates it uses (tui-logger), with a level
//! per target. It does no background work of its own.

use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::Rect;
use tui_logger::{TuiWidgetEvent, TuiWidgetState};

use crate::actions;
use crate::app::Init;
use crate::app::effect::Effect;
use crate::app::page::{Binding, DrawCtx, Page, Shared, nav, plain};

actions! {
    /// What a key of the Log tab does (each is a tui-logger widget key).
    pub enum Action {
        /// Show / hide the target list.
        Targets,
        /// Show only the selected target.
        Focus,
        /// Previous target.
        Up,
        /// Next target.
        Down,
        /// Show fewer levels for the target.
        Less,
        /// Show more levels for the target.
        More,
        /// Capture more levels for the target.
        CaptureMore,
        /// Capture fewer levels for the target.
        CaptureLess,
        /// Scroll back.
        PageUp,
        /// Scroll forward.
        PageDown,
        /// Hide targets whose level is off.
        HideOff,
        /// Leave page mode.
        Escape,
    }
}

impl Action {
    fn widget_event(self) -> TuiWidgetEvent {
        match self {
            Action::Targets => TuiWidgetEvent::HideKey,
            Action::Focus => TuiWidgetEvent::FocusKey,
            Action::Up => TuiWidgetEvent::UpKey,
            Action::Down => TuiWidgetEvent::DownKey,
            Action::Less => TuiWidgetEvent::LeftKey,
            Action::More => TuiWidgetEvent::RightKey,
            Action::CaptureMore => TuiWidgetEvent::PlusKey,
            Action::CaptureLess => TuiWidgetEvent::MinusKey,
            Action::PageUp => TuiWidgetEvent::PrevPageKey,
            Action::PageDown => TuiWidgetEvent::NextPageKey,
            Action::HideOff => TuiWidgetEvent::SpaceKey,
            Action::Escape => TuiWidgetEvent::EscapeKey,
        }
    }
}

const TABLE: &[Binding<Action>] = &[
    Binding {
        keys: "h",
        help: "show / hide the target list",
        hint: Some("targets"),
        action: Action::Targets,
        matches: |k| plain(k, 'h'),
    },
    Binding {
        keys: "f",
        help: "focus the selected target",
        hint: Some("focus"),
        action: Action::Focus,
        matches: |k| plain(k, 'f'),
    },
    Binding {
        keys: "Up / Down",
        help: "select a target",
        hint: None,
        action: Action::Up,
        matches: |k| k.code == KeyCode::Up,
    },
    Binding {
        keys: "",
        help: "",
        hint: None,
        action: Action::Down,
        matches: |k| k.code == KeyCode::Down,
    },
    Binding {
        keys: "Left / Right",
        help: "show fewer / more levels for the target",
        hint: None,
        action: Action::Less,
        matches: |k| k.code == KeyCode::Left,
    },
    Binding {
        keys: "",
        help: "",
        hint: None,
        action: Action::More,
        matches: |k| k.code == KeyCode::Right,
    },
    Binding {
        keys: "+ / -",
        help: "capture more / fewer levels for the target",
        hint: None,
        action: Action::CaptureMore,
        matches: |k| plain(k, '+'),
    },
    Binding {
        keys: "",
        help: "",
        hint: None,
        action: Action::CaptureLess,
        matches: |k| plain(k, '-'),
    },
    Binding {
        keys: "PgUp / PgDn",
        help: "scroll back / forward (Esc: back to the end)",
        hint: None,
        action: Action::PageUp,
        matches: nav::page_up,
    },
    Binding {
        keys: "",
        help: "",
        hint: None,
        action: Action::PageDown,
        matches: nav::page_down,
    },
    Binding {
        keys: "Space",
        help: "hide targets whose level is off",
        hint: None,
        action: Action::HideOff,
        matches: |k| plain(k, ' '),
    },
    Binding {
        keys: "Esc",
        help: "leave page mode (follow the newest messages)",
        hint: None,
        action: Action::Escape,
        matches: nav::esc,
    },
];

/// The Log tab's effects: none (the widget state changes in place).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEffect {}

/// The Log tab's events: none.
#[derive(Debug)]
pub enum LogEvent {}

/// The Log tab's state: tui-logger's widget state.
pub struct LogPage {
    /// The widget state (targets shown, levels, page mode).
    pub widget: TuiWidgetState,
}

impl LogPage {
    /// The tab at Info level.
    pub fn new(_init: &Init) -> Self {
        LogPage {
            widget: TuiWidgetState::new().set_default_display_level(log::LevelFilter::Info),
        }
    }
}

impl Page for LogPage {
    type Action = Action;
    type Event = LogEvent;
    type Effect = LogEffect;

    fn title(&self) -> &'static str {
        "Log"
    }

    fn bindings(&self, _shared: &Shared) -> Vec<Binding<Action>> {
        TABLE.to_vec()
    }

    fn on_action(&mut self, action: Action, _shared: &mut Shared) -> Vec<Effect> {
        self.widget.transition(action.widget_event());
        Vec::new()
    }

    fn on_event(&mut self, event: LogEvent, _shared: &mut Shared) -> Vec<Effect> {
        match event {}
    }

    fn ticking(&self) -> bool {
        true
    }

    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &DrawCtx<'_>) {
        let t = ctx.theme;
        let widget = tui_logger::TuiLoggerSmartWidget::default()
            .style(t.style("text"))
            .style_error(t.style("error"))
            .style_warn(t.style("warning"))
            .style_info(t.style("text"))
            .style_debug(t.style("dim"))
            .style_trace(t.style("dim"))
            .border_style(t.style("border"))
            .highlight_style(t.style("selection"))
            .title_target("Targets (h hides)")
            .title_log("kiln diagnostics")
            .output_timestamp(Some("%H:%M:%S".into()))
            .output_target(true)
            .output_file(false)
            .output_line(false)
            .state(&self.widget);
        frame.render_widget(widget, area);
    }
}

/// The Log tab's work: none.
pub mod tasks {
    use super::LogEffect;
    use crate::app::executor::Exec;

    /// Nothing to run.
    pub fn run(effect: LogEffect, _exec: &mut Exec) {
        match effect {}
    }
}
