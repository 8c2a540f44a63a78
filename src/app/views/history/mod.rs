//! The History view: past builds from their records, newest first, in the table widget (filter,
//! sort, selection) with the selected build's stage timings beside it; Enter opens a record
//! (stages, FIPS, vars, error) and `l` its packer.log in a pager with search. It reloads when
//! shown and when a build ends; a records directory that cannot be read is an error, not "no
//! builds".

mod detail;
mod draw;
pub mod keys;
pub mod pager;
mod rows;
pub mod tasks;

use std::path::PathBuf;

use ratatui::Frame;
use ratatui::layout::Rect;

use crate::app::Init;
use crate::app::effect::Effect;
use crate::app::loading::Loading;
use crate::app::page::{Binding, DrawCtx, Notice, Page, Shared};
use crate::app::widgets::table::{SortDir, TableState};
use crate::bake::record::BuildRecord;

pub use keys::Action;
pub use pager::Pager;
pub use rows::{COLUMNS, HistoryRow};

/// One row: a record, or why its build.json could not be read.
pub type Entry = Result<(PathBuf, BuildRecord), String>;

/// What the History view shows.
#[derive(Debug, Clone, Default)]
pub enum Mode {
    /// The table of builds.
    #[default]
    List,
    /// One build's record, scrolled `scroll` lines.
    Record {
        /// Lines scrolled.
        scroll: usize,
    },
    /// One build's packer.log.
    Log(Box<Pager>),
}

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
    /// A packer.log was read (its lines and the bytes left out before them), or why not.
    LogRead(PathBuf, Result<(Vec<String>, u64), String>),
}

/// Work the History view asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryEffect {
    /// Read the records.
    Load,
    /// Read a packer.log.
    ReadLog(PathBuf),
}

/// The History view's state.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    /// The records.
    pub records: Loading<Vec<HistoryRow>>,
    /// Selection, sort, filter.
    pub table: TableState,
    /// What is shown.
    pub mode: Mode,
    /// The images in Glance, once the Images view read them (a record's image state now).
    pub inventory: Option<std::sync::Arc<crate::inventory::Inventory>>,
    /// The record directory of this console's running build, if one runs.
    pub live: Option<PathBuf>,
}

impl HistoryPage {
    /// An empty view (it loads when shown).
    pub fn new(_init: &Init) -> Self {
        HistoryPage {
            records: Loading::Idle,
            table: TableState::sorted(0, SortDir::Desc),
            mode: Mode::List,
            inventory: None,
            live: None,
        }
    }

    /// True when `entry` is the record of this console's running build.
    fn is_live(live: Option<&PathBuf>, entry: &Entry) -> bool {
        matches!((live, entry), (Some(dir), Ok((path, _))) if path.starts_with(dir))
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

    fn refresh(&mut self) {
        self.table
            .refresh(self.records.data().map_or(&[], Vec::as_slice));
    }

    fn on_list_action(&mut self, action: Action) -> Vec<Effect> {
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
                self.refresh();
            }
            Action::Reload => return self.load(),
            Action::Open => {
                if matches!(self.selected(), Some(Ok(_))) {
                    self.mode = Mode::Record { scroll: 0 };
                }
            }
            Action::Log => return self.open_log(),
            Action::Back => self.set_filter(String::new()),
            Action::NextMatch | Action::PrevMatch => {}
        }
        Vec::new()
    }

    fn open_log(&mut self) -> Vec<Effect> {
        let Some(Ok((dir, _))) = self.selected() else {
            return Vec::new();
        };
        let path = dir.join(crate::bake::record::PACKER_LOG);
        self.mode = Mode::Log(Box::new(Pager::new(path.clone())));
        vec![HistoryEffect::ReadLog(path).into()]
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
        keys::bindings(self)
    }

    fn on_action(&mut self, action: Action, _shared: &mut Shared) -> Vec<Effect> {
        match &mut self.mode {
            Mode::List => self.on_list_action(action),
            Mode::Record { scroll } => {
                match action {
                    Action::Down => *scroll += 1,
                    Action::Up => *scroll = scroll.saturating_sub(1),
                    Action::Top => *scroll = 0,
                    Action::Bottom => *scroll = usize::MAX / 2,
                    Action::Log => return self.open_log(),
                    Action::Back => self.mode = Mode::List,
                    _ => {}
                }
                Vec::new()
            }
            Mode::Log(p) => {
                let page = p.page.get().max(1) as isize;
                match action {
                    Action::Down => p.scroll(1),
                    Action::Up => p.scroll(-1),
                    Action::PageDown => p.scroll(page),
                    Action::PageUp => p.scroll(-page),
                    Action::Top => p.jump(false),
                    Action::Bottom => p.jump(true),
                    Action::NextMatch => p.next_match(true),
                    Action::PrevMatch => p.next_match(false),
                    Action::Back => self.mode = Mode::Record { scroll: 0 },
                    _ => {}
                }
                Vec::new()
            }
        }
    }

    fn on_event(&mut self, event: Event, shared: &mut Shared) -> Vec<Effect> {
        match event {
            Event::Loaded(Ok(loaded)) => {
                shared.typical_build_seconds = loaded.typical;
                shared.typical_stage_seconds = loaded.stages;
                let live = self.live.as_ref();
                self.records = Loading::Loaded(
                    loaded
                        .entries
                        .into_iter()
                        .map(|e| {
                            let is_live = Self::is_live(live, &e);
                            HistoryRow(e, is_live)
                        })
                        .collect(),
                );
                self.refresh();
            }
            Event::Loaded(Err(e)) => self.records.fail(e),
            Event::LogRead(path, result) => {
                if let Mode::Log(p) = &mut self.mode
                    && p.path == path
                {
                    match result {
                        Ok(lines) => {
                            p.lines = Loading::Loaded(lines);
                            p.jump(true);
                        }
                        Err(e) => p.lines.fail(e),
                    }
                }
            }
        }
        Vec::new()
    }

    fn on_notice(&mut self, notice: &Notice, _shared: &mut Shared) -> Vec<Effect> {
        match notice {
            Notice::BuildsChanged => self.load(),
            Notice::BuildRunning(dir) => {
                self.live = dir.clone();
                if let Loading::Loaded(rows) = &mut self.records {
                    for row in rows.iter_mut() {
                        row.1 = Self::is_live(self.live.as_ref(), &row.0);
                    }
                }
                self.refresh();
                Vec::new()
            }
            Notice::Inventory(inv) => {
                self.inventory = Some(inv.clone());
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn on_show(&mut self, _shared: &mut Shared) -> Vec<Effect> {
        self.load()
    }

    fn filter(&self) -> Option<&str> {
        match &self.mode {
            Mode::List => Some(self.table.filter()),
            Mode::Record { .. } => None,
            Mode::Log(p) => Some(&p.search),
        }
    }

    fn set_filter(&mut self, text: String) {
        match &mut self.mode {
            Mode::List => {
                self.table.set_filter(text);
                self.refresh();
            }
            Mode::Record { .. } => {}
            Mode::Log(p) => p.set_search(text),
        }
    }

    fn on_wheel(&mut self, lines: isize) {
        match &mut self.mode {
            Mode::List => self.table.step(-lines),
            Mode::Record { scroll } => *scroll = (*scroll as isize - lines).max(0) as usize,
            Mode::Log(p) => p.scroll(-lines),
        }
    }

    fn ticking(&self) -> bool {
        self.records.is_loading() || matches!(&self.mode, Mode::Log(p) if p.lines.is_loading())
    }

    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &DrawCtx<'_>) {
        draw::draw(self, frame, area, ctx);
    }
}
