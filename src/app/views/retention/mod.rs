//! The Retention view: the images that may go (eligible, first) and those that stay with why;
//! space marks an eligible image, `D` deletes the marked ones after showing the plan and asking
//! the operator to type how many; each is re-checked right before its delete, deleted one at a
//! time with progress, every attempt appended to the audit file. Never in `--readonly`.

mod draw;
mod rows;
pub mod tasks;

use std::collections::BTreeSet;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;

use crate::actions;
use crate::app::Init;
use crate::app::effect::Effect;
use crate::app::page::{Binding, DrawCtx, Notice, Page, Prompt, Shared, nav, plain};
use crate::app::widgets::table::TableState;
use crate::inventory::Inventory;
use crate::inventory::delete::{Outcome, Planned, Step};
use crate::retention::Verdict;

pub use rows::{COLUMNS, RetentionRow};

actions! {
    /// What a key of the Retention view does.
    pub enum Action {
        /// Next image.
        Down,
        /// Previous image.
        Up,
        /// First.
        Top,
        /// Last.
        Bottom,
        /// A page down.
        PageDown,
        /// A page up.
        PageUp,
        /// Mark / unmark the selected eligible image.
        Mark,
        /// Mark every eligible image (again: none).
        MarkAll,
        /// Delete the marked images (shows the plan, asks for the count).
        Delete,
        /// Stop after the delete under way.
        Stop,
        /// Read Glance again.
        Refresh,
        /// Clear the filter.
        Back,
    }
}

const TABLE: &[Binding<Action>] = &[
    Binding {
        keys: "Space",
        help: "mark / unmark the selected eligible image",
        hint: Some("mark"),
        action: Action::Mark,
        matches: |k| plain(k, ' '),
    },
    Binding {
        keys: "a",
        help: "mark every eligible image (again: none)",
        hint: Some("all"),
        action: Action::MarkAll,
        matches: |k| plain(k, 'a'),
    },
    Binding {
        keys: "D",
        help: "delete the marked images (shows the plan, asks you to type the count)",
        hint: Some("delete"),
        action: Action::Delete,
        matches: |k| plain(k, 'D'),
    },
    Binding {
        keys: "c",
        help: "stop after the delete under way",
        hint: Some("stop"),
        action: Action::Stop,
        matches: |k| plain(k, 'c'),
    },
    Binding {
        keys: "r",
        help: "read Glance, Nova and Cinder again",
        hint: Some("refresh"),
        action: Action::Refresh,
        matches: |k| plain(k, 'r'),
    },
    Binding {
        keys: "j / Down",
        help: "next image",
        hint: None,
        action: Action::Down,
        matches: nav::down,
    },
    Binding {
        keys: "k / Up",
        help: "previous image",
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
        help: "clear the filter",
        hint: None,
        action: Action::Back,
        matches: nav::esc,
    },
];

/// A delete run, under way or done.
#[derive(Debug, Clone, Default)]
pub struct DeleteRun {
    /// The plan.
    pub plan: Vec<Planned>,
    /// The outcome of each, by position (None: not reached yet).
    pub outcomes: Vec<Option<Outcome>>,
    /// The image being re-checked and deleted now.
    pub current: Option<usize>,
    /// Finished (or stopped), with the error that ended it early, if any.
    pub finished: Option<Result<(), String>>,
    /// A stop was asked for.
    pub stopping: bool,
}

/// What background work reports to the Retention view.
#[derive(Debug)]
pub enum Event {
    /// One step of a run.
    Step(Step),
    /// The run ended: every outcome, or why it stopped early.
    Done(Result<Vec<Outcome>, String>),
}

/// Work the Retention view asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetentionEffect {
    /// Delete these images (each re-checked first).
    Delete(Vec<Planned>),
    /// Stop after the delete under way.
    Stop,
}

/// The Retention view's state.
#[derive(Debug, Clone, Default)]
pub struct RetentionPage {
    /// The inventory the rows come from.
    pub inventory: Option<Arc<Inventory>>,
    /// The rows.
    pub rows: Vec<RetentionRow>,
    /// Selection, filter.
    pub table: TableState,
    /// The marked image ids.
    pub marks: BTreeSet<String>,
    /// The typed confirmation, while asking.
    pub confirm: Option<String>,
    /// The last (or current) run.
    pub run: Option<DeleteRun>,
}

impl RetentionPage {
    /// An empty view (the inventory arrives from the Images view).
    pub fn new(_init: &Init) -> Self {
        RetentionPage::default()
    }

    fn deleting(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.finished.is_none())
    }

    fn selected(&self) -> Option<&RetentionRow> {
        self.table.selected_row().and_then(|i| self.rows.get(i))
    }

    /// The marked images, in table order.
    pub fn plan(&self) -> Vec<Planned> {
        self.rows
            .iter()
            .filter(|r| self.marks.contains(&r.image.id))
            .map(|r| Planned {
                id: r.image.id.clone(),
                name: r.image.name.clone(),
            })
            .collect()
    }

    fn set_inventory(&mut self, inv: Arc<Inventory>) {
        self.rows = rows::rows(&inv.images, inv.at);
        // A mark stays only on an image that is still eligible.
        let eligible: BTreeSet<&str> = inv.eligible().map(|i| i.id.as_str()).collect();
        self.marks.retain(|id| eligible.contains(id.as_str()));
        for r in &mut self.rows {
            r.marked = self.marks.contains(&r.image.id);
        }
        self.inventory = Some(inv);
        self.table.refresh(&self.rows);
    }

    fn sync_marks(&mut self) {
        for r in &mut self.rows {
            r.marked = self.marks.contains(&r.image.id);
        }
    }
}

impl Page for RetentionPage {
    type Action = Action;
    type Event = Event;
    type Effect = RetentionEffect;

    fn title(&self) -> &'static str {
        "Retention"
    }

    fn bindings(&self, shared: &Shared) -> Vec<Binding<Action>> {
        let deleting = self.deleting();
        let has_rows = !self.table.is_empty();
        let eligible_selected = self
            .selected()
            .is_some_and(|r| r.image.verdict == Verdict::Eligible);
        let any_eligible = self
            .rows
            .iter()
            .any(|r| r.image.verdict == Verdict::Eligible);
        TABLE
            .iter()
            .filter(|b| match b.action {
                Action::Mark => !deleting && !shared.readonly && eligible_selected,
                Action::MarkAll => !deleting && !shared.readonly && any_eligible,
                Action::Delete => !deleting && !shared.readonly && !self.marks.is_empty(),
                Action::Stop => deleting && !self.run.as_ref().is_some_and(|r| r.stopping),
                Action::Refresh => !deleting,
                Action::Back => !self.table.filter().is_empty(),
                _ => has_rows,
            })
            .copied()
            .collect()
    }

    fn on_action(&mut self, action: Action, shared: &mut Shared) -> Vec<Effect> {
        let t = &mut self.table;
        match action {
            Action::Down => t.step(1),
            Action::Up => t.step(-1),
            Action::Top => t.top(),
            Action::Bottom => t.bottom(),
            Action::PageDown => t.page_down(),
            Action::PageUp => t.page_up(),
            Action::Mark => {
                if let Some(id) = self.selected().map(|r| r.image.id.clone())
                    && !self.marks.remove(&id)
                {
                    self.marks.insert(id);
                }
                self.sync_marks();
                self.table.step(1);
            }
            Action::MarkAll => {
                let eligible: BTreeSet<String> = self
                    .rows
                    .iter()
                    .filter(|r| r.image.verdict == Verdict::Eligible)
                    .map(|r| r.image.id.clone())
                    .collect();
                self.marks = if self.marks == eligible {
                    BTreeSet::new()
                } else {
                    eligible
                };
                self.sync_marks();
            }
            Action::Delete => {
                if shared.readonly {
                    shared.warn("--readonly: deleting images is disabled");
                } else {
                    self.confirm = Some(String::new());
                }
            }
            Action::Stop => {
                if let Some(r) = self.run.as_mut() {
                    r.stopping = true;
                }
                shared.warn("stopping after the delete under way");
                return vec![RetentionEffect::Stop.into()];
            }
            Action::Refresh => shared.notices.push(Notice::ImagesChanged),
            Action::Back => {
                self.table.set_filter(String::new());
                self.table.refresh(&self.rows);
            }
        }
        Vec::new()
    }

    fn on_event(&mut self, event: Event, shared: &mut Shared) -> Vec<Effect> {
        let Some(run) = self.run.as_mut() else {
            return Vec::new();
        };
        match event {
            Event::Step(step) => {
                if let Some(slot) = run.outcomes.get_mut(step.index) {
                    match step.outcome {
                        Some(o) => {
                            *slot = Some(o);
                            run.current = None;
                        }
                        None => run.current = Some(step.index),
                    }
                }
            }
            Event::Done(result) => {
                run.current = None;
                match result {
                    Ok(outcomes) => {
                        for (slot, o) in run.outcomes.iter_mut().zip(outcomes) {
                            *slot = Some(o);
                        }
                        let count = |f: fn(&Outcome) -> bool| {
                            run.outcomes.iter().flatten().filter(|o| f(o)).count()
                        };
                        let (d, s, f) = (
                            count(|o| *o == Outcome::Deleted),
                            count(|o| matches!(o, Outcome::Skipped(_))),
                            count(|o| matches!(o, Outcome::Failed(_))),
                        );
                        let text = format!(
                            "{d} deleted, {s} skipped, {f} failed (audit.jsonl has every attempt)"
                        );
                        if f > 0 {
                            shared.error(text);
                        } else {
                            shared.info(text);
                        }
                        run.finished = Some(Ok(()));
                    }
                    Err(e) => {
                        shared.error(format!("deletes stopped: {e}"));
                        run.finished = Some(Err(e));
                    }
                }
                self.marks.clear();
                self.sync_marks();
                shared.notices.push(Notice::ImagesChanged);
            }
        }
        Vec::new()
    }

    fn on_notice(&mut self, notice: &Notice, _shared: &mut Shared) -> Vec<Effect> {
        if let Notice::Inventory(inv) = notice {
            self.set_inventory(inv.clone());
        }
        Vec::new()
    }

    fn on_show(&mut self, shared: &mut Shared) -> Vec<Effect> {
        if self.inventory.is_none() {
            shared.notices.push(Notice::InventoryWanted);
        }
        Vec::new()
    }

    fn filter(&self) -> Option<&str> {
        Some(self.table.filter())
    }

    fn set_filter(&mut self, text: String) {
        self.table.set_filter(text);
        self.table.refresh(&self.rows);
    }

    fn on_wheel(&mut self, lines: isize) {
        self.table.step(-lines);
    }

    fn prompt(&self) -> Option<Prompt> {
        let typed = self.confirm.as_ref()?;
        let plan = self.plan();
        let mut lines = vec![format!(
            "Delete {} image(s) from Glance? Each is checked again right before its delete and skipped unless it is still eligible.",
            plan.len()
        )];
        lines.extend(
            plan.iter()
                .take(12)
                .map(|p| format!("  {}  {}", p.name, p.id)),
        );
        if plan.len() > 12 {
            lines.push(format!("  ... and {} more", plan.len() - 12));
        }
        lines.push(String::new());
        lines.push(format!(
            "Type {} and Enter to delete; Esc: do not delete.   > {typed}",
            plan.len()
        ));
        Some(Prompt {
            title: "Delete images".into(),
            lines,
        })
    }

    fn on_prompt_key(&mut self, key: KeyEvent, shared: &mut Shared) -> Vec<Effect> {
        let Some(typed) = self.confirm.as_mut() else {
            return Vec::new();
        };
        match key.code {
            KeyCode::Char(c) if c.is_ascii_digit() && typed.len() < 6 => typed.push(c),
            KeyCode::Backspace => {
                typed.pop();
            }
            KeyCode::Enter => {
                let typed = typed.parse::<usize>().ok();
                self.confirm = None;
                let plan = self.plan();
                let ok = typed == Some(plan.len());
                if !ok {
                    shared.warn("not deleted: the count typed did not match");
                    return Vec::new();
                }
                self.run = Some(DeleteRun {
                    outcomes: vec![None; plan.len()],
                    plan: plan.clone(),
                    ..DeleteRun::default()
                });
                shared.warn(format!("deleting {} image(s), one at a time", plan.len()));
                return vec![RetentionEffect::Delete(plan).into()];
            }
            KeyCode::Esc => {
                self.confirm = None;
                shared.info("not deleted");
            }
            _ => {}
        }
        Vec::new()
    }

    fn busy(&self) -> Option<String> {
        self.deleting().then(|| {
            "Images are being deleted. Quitting stops after the delete under way (the audit file records it).".to_string()
        })
    }

    fn ticking(&self) -> bool {
        self.deleting()
    }

    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &DrawCtx<'_>) {
        draw::draw(self, frame, area, ctx);
    }
}
