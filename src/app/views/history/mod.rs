//! The History view: past builds from their records, newest first, in the table widget (filter,
//! sort, selection), with the selected build's stage timings beside it. It reloads when shown and
//! when a build ends; a records directory that cannot be read is an error, not "no builds".

mod draw;
pub mod tasks;

use std::path::PathBuf;

use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::Rect;

use crate::actions;
use crate::app::Init;
use crate::app::effect::Effect;
use crate::app::loading::Loading;
use crate::app::page::{Binding, DrawCtx, Notice, Page, Shared, plain};
use crate::app::widgets::table::{Cell, Column, SortDir, SortKey, TableRow, TableState};
use crate::bake::record::{BuildRecord, RecordResult};
use crate::format::duration;

/// One row: a record, or why its build.json could not be read.
pub type Entry = Result<(PathBuf, BuildRecord), String>;

/// The table's columns.
pub const COLUMNS: &[Column] = &[
    Column::fit("STARTED (UTC)", 16, 16),
    Column::fit("RESULT", 9, 10),
    Column::fit_right("TIME", 6, 9),
    Column::fit("FIPS", 4, 5),
    Column::fill("IMAGE"),
];

/// A row of the table.
#[derive(Debug, Clone)]
pub struct HistoryRow(pub Entry);

impl TableRow for HistoryRow {
    fn cells(&self) -> Vec<Cell> {
        match &self.0 {
            Ok((_, rec)) => {
                let style = match rec.result {
                    RecordResult::Succeeded => "stage_ok",
                    RecordResult::Failed => "stage_failed",
                    RecordResult::Cancelled => "warning",
                    RecordResult::Running => "stage_running",
                };
                let fips = match (rec.fips.requested, rec.fips.validated) {
                    (false, _) => "-",
                    (true, true) => "yes",
                    (true, false) => "UNVAL",
                };
                vec![
                    Cell::new(rec.started_at.format("%Y-%m-%d %H:%M").to_string(), "text"),
                    Cell::new(rec.result.as_str(), style),
                    Cell::new(rec.seconds.map_or_else(|| "-".into(), duration), "dim"),
                    Cell::new(fips, "text"),
                    Cell::new(rec.image_name.clone().unwrap_or_else(|| "-".into()), "text"),
                ]
            }
            Err(e) => vec![
                Cell::new("-", "dim"),
                Cell::new("unreadable", "error"),
                Cell::new("-", "dim"),
                Cell::new("-", "dim"),
                Cell::new(e.clone(), "error"),
            ],
        }
    }

    fn sort_key(&self, col: usize) -> SortKey {
        let Ok((_, rec)) = &self.0 else {
            return SortKey::Missing;
        };
        match col {
            0 => SortKey::Number(rec.started_at.timestamp_millis() as f64),
            2 => rec.seconds.map_or(SortKey::Missing, SortKey::Number),
            _ => SortKey::Text(self.cells()[col].text.to_lowercase()),
        }
    }
}

actions! {
    /// What a key of the History view does.
    pub enum Action {
        /// Next row.
        Down,
        /// Previous row.
        Up,
        /// First row.
        Top,
        /// Last row.
        Bottom,
        /// A page down.
        PageDown,
        /// A page up.
        PageUp,
        /// Sort by the next column (again on the same column: reverse).
        Sort,
        /// Read the records again.
        Reload,
        /// Clear the filter.
        Escape,
    }
}

const TABLE: &[Binding<Action>] = &[
    Binding {
        keys: "j / Down",
        help: "next build",
        hint: None,
        action: Action::Down,
        matches: |k| plain(k, 'j') || k.code == KeyCode::Down,
    },
    Binding {
        keys: "k / Up",
        help: "previous build",
        hint: None,
        action: Action::Up,
        matches: |k| plain(k, 'k') || k.code == KeyCode::Up,
    },
    Binding {
        keys: "g / Home",
        help: "newest build",
        hint: None,
        action: Action::Top,
        matches: |k| plain(k, 'g') || k.code == KeyCode::Home,
    },
    Binding {
        keys: "G / End",
        help: "oldest build",
        hint: None,
        action: Action::Bottom,
        matches: |k| plain(k, 'G') || k.code == KeyCode::End,
    },
    Binding {
        keys: "PgUp / PgDn",
        help: "a page up / down",
        hint: None,
        action: Action::PageUp,
        matches: |k| k.code == KeyCode::PageUp,
    },
    Binding {
        keys: "",
        help: "",
        hint: None,
        action: Action::PageDown,
        matches: |k| k.code == KeyCode::PageDown,
    },
    Binding {
        keys: "s",
        help: "sort by the next column (s on the last one: newest first again)",
        hint: Some("sort"),
        action: Action::Sort,
        matches: |k| plain(k, 's'),
    },
    Binding {
        keys: "r",
        help: "read the records again",
        hint: Some("reload"),
        action: Action::Reload,
        matches: |k| plain(k, 'r'),
    },
    Binding {
        keys: "Esc",
        help: "clear the filter",
        hint: None,
        action: Action::Escape,
        matches: |k| k.code == KeyCode::Esc,
    },
];

/// The records read, and what they say of typical build times.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The records, newest first.
    pub entries: Vec<Entry>,
    /// The median time of successful builds.
    pub typical: Option<f64>,
    /// The median time of each stage.
    pub stages: std::collections::BTreeMap<String, f64>,
}

/// What background work reports to the History view.
#[derive(Debug)]
pub enum Event {
    /// The records, or why the directory could not be read.
    Loaded(Result<Loaded, String>),
}

/// Work the History view asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryEffect {
    /// Read the records.
    Load,
}

/// The History view's state.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    /// The records.
    pub records: Loading<Vec<HistoryRow>>,
    /// Selection, sort, filter.
    pub table: TableState,
}

impl HistoryPage {
    /// An empty view (it loads when shown).
    pub fn new(_init: &Init) -> Self {
        HistoryPage {
            records: Loading::Idle,
            table: TableState::sorted(0, SortDir::Desc),
        }
    }

    fn rows(&self) -> &[HistoryRow] {
        self.records.data().map_or(&[], Vec::as_slice)
    }

    /// The selected record, if any.
    pub fn selected(&self) -> Option<&Entry> {
        self.table
            .selected_row()
            .and_then(|i| self.rows().get(i))
            .map(|r| &r.0)
    }

    fn load(&mut self) -> Vec<Effect> {
        self.records.start();
        vec![HistoryEffect::Load.into()]
    }
}

impl Page for HistoryPage {
    type Action = Action;
    type Event = Event;
    type Effect = HistoryEffect;

    fn title(&self) -> &'static str {
        "History"
    }

    fn bindings(&self, _shared: &Shared) -> Vec<Binding<Action>> {
        let has_rows = !self.table.is_empty();
        TABLE
            .iter()
            .filter(|b| match b.action {
                Action::Reload | Action::Sort => true,
                Action::Escape => !self.table.filter().is_empty(),
                _ => has_rows,
            })
            .copied()
            .collect()
    }

    fn on_action(&mut self, action: Action, _shared: &mut Shared) -> Vec<Effect> {
        let t = &mut self.table;
        match action {
            Action::Down => t.step(1),
            Action::Up => t.step(-1),
            Action::Top => t.top(),
            Action::Bottom => t.bottom(),
            Action::PageDown => t.page_down(),
            Action::PageUp => t.page_up(),
            Action::Sort => {
                let next = match t.sort() {
                    Some((c, SortDir::Asc)) => Some(c),
                    Some((c, SortDir::Desc)) if c + 1 < COLUMNS.len() => Some(c + 1),
                    _ => None,
                };
                match next {
                    Some(c) => t.sort_by(c),
                    None => *t = TableState::sorted(0, SortDir::Desc),
                }
                self.table
                    .refresh(self.records.data().map_or(&[], Vec::as_slice));
            }
            Action::Reload => return self.load(),
            Action::Escape => self.set_filter(String::new()),
        }
        Vec::new()
    }

    fn on_event(&mut self, event: Event, shared: &mut Shared) -> Vec<Effect> {
        let Event::Loaded(result) = event;
        match result {
            Ok(loaded) => {
                shared.typical_build_seconds = loaded.typical;
                shared.typical_stage_seconds = loaded.stages;
                self.records =
                    Loading::Loaded(loaded.entries.into_iter().map(HistoryRow).collect());
                self.table
                    .refresh(self.records.data().map_or(&[], Vec::as_slice));
            }
            Err(e) => self.records.fail(e),
        }
        Vec::new()
    }

    fn on_notice(&mut self, notice: &Notice, _shared: &mut Shared) -> Vec<Effect> {
        match notice {
            Notice::BuildsChanged => self.load(),
        }
    }

    fn on_show(&mut self, _shared: &mut Shared) -> Vec<Effect> {
        self.load()
    }

    fn filter(&self) -> Option<&str> {
        Some(self.table.filter())
    }

    fn set_filter(&mut self, text: String) {
        self.table.set_filter(text);
        self.table
            .refresh(self.records.data().map_or(&[], Vec::as_slice));
    }

    fn ticking(&self) -> bool {
        self.records.is_loading()
    }

    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &DrawCtx<'_>) {
        draw::draw(self, frame, area, ctx);
    }
}
