//! The Images view: the `rke2-node-*` images in Glance with age, size, status, FIPS, use, verdict
//! and flags, in the table widget (sort, filter), coloured by verdict; Enter opens an image
//! (every property, the servers and volumes using it, why it stays, and the kiln build that made
//! it); `r` reads Glance again; a chart of the images by age marks the retention line.

mod chart;
mod detail;
mod draw;
mod rows;
pub mod tasks;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::Rect;

use crate::actions;
use crate::app::Init;
use crate::app::effect::Effect;
use crate::app::loading::Loading;
use crate::app::page::{Binding, DrawCtx, Notice, Page, Shared, nav, plain};
use crate::app::widgets::table::{SortDir, TableState};
use crate::bake::record::BuildRecord;
use crate::inventory::Inventory;

pub use rows::{COLUMNS, ImageRow};

actions! {
    /// What a key of the Images view does.
    pub enum Action {
        /// Next image / scroll down.
        Down,
        /// Previous image / scroll up.
        Up,
        /// First.
        Top,
        /// Last.
        Bottom,
        /// A page down.
        PageDown,
        /// A page up.
        PageUp,
        /// Open the selected image.
        Open,
        /// Read Glance again.
        Refresh,
        /// Sort by the next column.
        Sort,
        /// Show what failed (the last error, the usage calls that failed).
        Errors,
        /// Back to the list, or clear the filter.
        Back,
    }
}

const TABLE: &[Binding<Action>] = &[
    Binding {
        keys: "Enter",
        help: "open the image (properties, servers and volumes, why it stays, its build)",
        hint: Some("open"),
        action: Action::Open,
        matches: |k| k.code == KeyCode::Enter,
    },
    Binding {
        keys: "r",
        help: "read Glance, Nova and Cinder again",
        hint: Some("refresh"),
        action: Action::Refresh,
        matches: |k| plain(k, 'r'),
    },
    Binding {
        keys: "s",
        help: "sort by the next column (AGE as a duration, SIZE as bytes)",
        hint: Some("sort"),
        action: Action::Sort,
        matches: |k| plain(k, 's'),
    },
    Binding {
        keys: "e",
        help: "what failed: the last error and the calls behind it",
        hint: Some("errors"),
        action: Action::Errors,
        matches: |k| plain(k, 'e'),
    },
    Binding {
        keys: "j / Down",
        help: "next image / scroll down",
        hint: None,
        action: Action::Down,
        matches: nav::down,
    },
    Binding {
        keys: "k / Up",
        help: "previous image / scroll up",
        hint: None,
        action: Action::Up,
        matches: nav::up,
    },
    Binding {
        keys: "g / Home",
        help: "first",
        hint: None,
        action: Action::Top,
        matches: nav::top,
    },
    Binding {
        keys: "G / End",
        help: "last",
        hint: None,
        action: Action::Bottom,
        matches: nav::bottom,
    },
    Binding {
        keys: "PgUp / PgDn",
        help: "a page up / down",
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
        keys: "Esc",
        help: "back to the list, or clear the filter",
        hint: Some("back"),
        action: Action::Back,
        matches: nav::esc,
    },
];

/// What the view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// The table (and the chart).
    #[default]
    List,
    /// One image, scrolled.
    Detail(usize),
    /// The errors, scrolled.
    Errors(usize),
}

/// A listing with what the view needs beside it.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The images, judged.
    pub inventory: Arc<Inventory>,
    /// kiln's build records on this machine (to name the build behind an image).
    pub records: Vec<(PathBuf, BuildRecord)>,
}

/// What background work reports to the Images view.
#[derive(Debug)]
pub enum Event {
    /// A listing, or why it failed (the calls that failed).
    Loaded(Result<Box<Loaded>, String>),
}

/// Work the Images view asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImagesEffect {
    /// List the images and their usage.
    Load,
}

/// The Images view's state.
#[derive(Debug, Clone)]
pub struct ImagesPage {
    /// The listing.
    pub loaded: Loading<Box<Loaded>>,
    /// The rows of the listing.
    pub rows: Vec<ImageRow>,
    /// Selection, sort, filter.
    pub table: TableState,
    /// List, detail or errors.
    pub mode: Mode,
    /// When the shown listing was made.
    pub refreshed: Option<DateTime<Utc>>,
    /// The last failure, kept for `e` after a later success too.
    pub last_error: Option<String>,
    /// The minimum age of the retention policy (the chart's line).
    pub min_age_days: i64,
}

impl ImagesPage {
    /// An empty view (it loads when shown).
    pub fn new(init: &Init) -> Self {
        ImagesPage {
            loaded: Loading::Idle,
            rows: Vec::new(),
            table: TableState::default(),
            mode: Mode::List,
            refreshed: None,
            last_error: None,
            min_age_days: i64::from(init.policy.min_age_days),
        }
    }

    /// The selected image.
    pub fn selected(&self) -> Option<&ImageRow> {
        self.table.selected_row().and_then(|i| self.rows.get(i))
    }

    fn load(&mut self) -> Vec<Effect> {
        if self.loaded.is_loading() {
            return Vec::new();
        }
        self.loaded.start();
        vec![ImagesEffect::Load.into()]
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
            Action::Open => {
                if self.selected().is_some() {
                    self.mode = Mode::Detail(0);
                }
            }
            Action::Refresh => return self.load(),
            Action::Sort => {
                let next = match t.sort() {
                    None => Some(0),
                    Some((c, SortDir::Asc)) => Some(c),
                    Some((c, SortDir::Desc)) if c + 1 < COLUMNS.len() => Some(c + 1),
                    _ => None,
                };
                match next {
                    Some(c) => t.sort_by(c),
                    None => *t = TableState::default(),
                }
                self.table.refresh(&self.rows);
            }
            Action::Errors => self.mode = Mode::Errors(0),
            Action::Back => {
                self.table.set_filter(String::new());
                self.table.refresh(&self.rows);
            }
        }
        Vec::new()
    }
}

impl Page for ImagesPage {
    type Action = Action;
    type Event = Event;
    type Effect = ImagesEffect;

    fn title(&self) -> &'static str {
        "Images"
    }

    fn bindings(&self, _shared: &Shared) -> Vec<Binding<Action>> {
        let has_rows = !self.table.is_empty();
        let errors = self.last_error.is_some()
            || self
                .loaded
                .data()
                .is_some_and(|l| !l.inventory.usage_problems.is_empty());
        TABLE
            .iter()
            .filter(|b| match (self.mode, b.action) {
                (_, Action::Errors) => errors && self.mode == Mode::List,
                (Mode::List, Action::Open) => has_rows,
                (Mode::List, Action::Back) => !self.table.filter().is_empty(),
                (Mode::List, Action::Refresh | Action::Sort) => true,
                (Mode::List, _) => has_rows,
                (_, Action::Back | Action::Up | Action::Down | Action::Top) => true,
                (_, Action::Refresh) => true,
                _ => false,
            })
            .copied()
            .collect()
    }

    fn on_action(&mut self, action: Action, _shared: &mut Shared) -> Vec<Effect> {
        match &mut self.mode {
            Mode::List => self.on_list_action(action),
            Mode::Detail(scroll) | Mode::Errors(scroll) => {
                match action {
                    Action::Down => *scroll += 1,
                    Action::Up => *scroll = scroll.saturating_sub(1),
                    Action::Top => *scroll = 0,
                    Action::Back => self.mode = Mode::List,
                    Action::Refresh => return self.load(),
                    _ => {}
                }
                Vec::new()
            }
        }
    }

    fn on_event(&mut self, event: Event, shared: &mut Shared) -> Vec<Effect> {
        let Event::Loaded(result) = event;
        match result {
            Ok(loaded) => {
                let inv = loaded.inventory.clone();
                self.rows = inv
                    .images
                    .iter()
                    .map(|i| ImageRow {
                        image: i.clone(),
                        age_seconds: (inv.at - i.created_at).num_seconds(),
                    })
                    .collect();
                self.refreshed = Some(inv.at);
                self.table.refresh(&self.rows);
                if !inv.usage_problems.is_empty() {
                    shared.warn(format!(
                        "usage is not fully known ({}): e shows why",
                        plain_scope(&inv)
                    ));
                }
                self.loaded = Loading::Loaded(loaded);
                shared.notices.push(Notice::Inventory(inv));
            }
            Err(e) => {
                shared.error(format!("images: {}", first_line(&e)));
                self.last_error = Some(e.clone());
                self.loaded.fail(e);
            }
        }
        Vec::new()
    }

    fn on_notice(&mut self, notice: &Notice, _shared: &mut Shared) -> Vec<Effect> {
        match notice {
            Notice::InventoryWanted if self.loaded.data().is_none() => self.load(),
            Notice::ImagesChanged => self.load(),
            _ => Vec::new(),
        }
    }

    fn on_show(&mut self, _shared: &mut Shared) -> Vec<Effect> {
        if self.loaded.data().is_none() {
            self.load()
        } else {
            Vec::new()
        }
    }

    fn filter(&self) -> Option<&str> {
        (self.mode == Mode::List).then(|| self.table.filter())
    }

    fn set_filter(&mut self, text: String) {
        self.table.set_filter(text);
        self.table.refresh(&self.rows);
    }

    fn on_wheel(&mut self, lines: isize) {
        match &mut self.mode {
            Mode::List => self.table.step(-lines),
            Mode::Detail(s) | Mode::Errors(s) => *s = (*s as isize - lines).max(0) as usize,
        }
    }

    fn ticking(&self) -> bool {
        self.loaded.is_loading()
    }

    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &DrawCtx<'_>) {
        draw::draw(self, frame, area, ctx);
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

fn plain_scope(inv: &Inventory) -> &'static str {
    match inv.usage_scope {
        crate::cloud::UsageScope::AllProjects => "all projects",
        crate::cloud::UsageScope::Project => "this project only",
        crate::cloud::UsageScope::Unknown => "unknown: nothing is eligible",
    }
}

/// How the view words a usage scope.
pub fn scope_words(inv: &Inventory) -> &'static str {
    plain_scope(inv)
}
