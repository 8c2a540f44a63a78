//! The Nodes view: the Nova servers booted from an `rke2-node-*` image (name, addresses, the
//! image's name, age and retention standing), inspected over SSH: Enter inspects one and opens
//! it, space marks, `i` inspects the marked ones in parallel (bounded by `[ssh] parallel`) with
//! per-node progress. A node opens as its drift findings by severity and its manifest as a
//! structured panel, with a raw JSON toggle. An unknown host key is put to the operator with its
//! SHA256 fingerprint; a trusted key is recorded in known_hosts.

mod detail;
mod draw;
mod rows;
pub mod tasks;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;

use crate::actions;
use crate::app::Init;
use crate::app::effect::Effect;
use crate::app::page::{Binding, DrawCtx, Notice, Page, Prompt, Shared, nav, plain};
use crate::app::widgets::table::TableState;
use crate::inventory::Inventory;
use crate::node::{HostKeyDecision, NodeReport, Target, UnknownHostKey};

pub use rows::{COLUMNS, NodeRow};

actions! {
    /// What a key of the Nodes view does.
    pub enum Action {
        /// Next node / scroll down.
        Down,
        /// Previous node / scroll up.
        Up,
        /// First.
        Top,
        /// Last.
        Bottom,
        /// A page down.
        PageDown,
        /// A page up.
        PageUp,
        /// Open the selected node (inspecting it when it was not yet).
        Open,
        /// Mark / unmark the selected node.
        Mark,
        /// Mark every node shown (again: none).
        MarkAll,
        /// Inspect the marked nodes (or the selected / shown one).
        Inspect,
        /// Stop the inspections under way.
        Stop,
        /// Read Nova and Glance again.
        Refresh,
        /// The manifest as structured fields or as the raw JSON on the node.
        Raw,
        /// Back to the list, or clear the filter.
        Back,
    }
}

const BINDINGS: &[Binding<Action>] = &[
    Binding {
        keys: "Enter",
        help: "open the node (inspects it first when it was not yet)",
        hint: Some("open"),
        action: Action::Open,
        matches: |k| k.code == KeyCode::Enter,
    },
    Binding {
        keys: "Space",
        help: "mark / unmark the selected node",
        hint: Some("mark"),
        action: Action::Mark,
        matches: |k| plain(k, ' '),
    },
    Binding {
        keys: "a",
        help: "mark every node shown (again: none)",
        hint: None,
        action: Action::MarkAll,
        matches: |k| plain(k, 'a'),
    },
    Binding {
        keys: "i",
        help: "inspect over SSH: the marked nodes in parallel, else this one",
        hint: Some("inspect"),
        action: Action::Inspect,
        matches: |k| plain(k, 'i'),
    },
    Binding {
        keys: "c",
        help: "stop the inspections under way",
        hint: Some("stop"),
        action: Action::Stop,
        matches: |k| plain(k, 'c'),
    },
    Binding {
        keys: "m",
        help: "manifest: structured fields / the raw JSON as on the node",
        hint: Some("raw"),
        action: Action::Raw,
        matches: |k| plain(k, 'm'),
    },
    Binding {
        keys: "r",
        help: "read Nova, Cinder and Glance again",
        hint: Some("refresh"),
        action: Action::Refresh,
        matches: |k| plain(k, 'r'),
    },
    Binding {
        keys: "j / Down",
        help: "next node / scroll down",
        hint: None,
        action: Action::Down,
        matches: nav::down,
    },
    Binding {
        keys: "k / Up",
        help: "previous node / scroll up",
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
        help: "back to the list / clear the filter",
        hint: None,
        action: Action::Back,
        matches: nav::esc,
    },
];

/// Where one node's inspection is.
#[derive(Debug, Clone)]
pub enum Inspection {
    /// Waiting for a free slot.
    Queued,
    /// TCP, key exchange, host key, authentication.
    Connecting,
    /// Running the reads.
    Reading,
    /// Stopped by the operator before it finished.
    Stopped,
    /// Finished: read or not.
    Done(Arc<NodeReport>),
}

impl Inspection {
    fn under_way(&self) -> bool {
        matches!(
            self,
            Inspection::Queued | Inspection::Connecting | Inspection::Reading
        )
    }
}

/// List or one node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    /// The table.
    #[default]
    List,
    /// One node, scrolled; `raw` shows the manifest as the node holds it.
    Detail {
        /// The server's id.
        server_id: String,
        /// Lines scrolled.
        scroll: usize,
        /// Raw JSON instead of the structured panel.
        raw: bool,
    },
}

/// A node to inspect, with what kiln expects of it besides its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeTarget {
    /// The server's id.
    pub server_id: String,
    /// Its name (host-key questions name it).
    pub name: String,
    /// Where to connect.
    pub target: Target,
    /// Its image's Glance properties and `name`.
    pub glance_properties: BTreeMap<String, String>,
}

/// Work the Nodes view asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodesEffect {
    /// Inspect these nodes (bounded fan-out).
    Inspect(Vec<NodeTarget>),
    /// Stop the inspections under way.
    Stop,
}

/// The way back to an inspection waiting on the operator's host-key decision.
#[derive(Clone, Default)]
pub struct HostKeyAnswer(Arc<Mutex<Option<tokio::sync::oneshot::Sender<HostKeyDecision>>>>);

impl HostKeyAnswer {
    /// An answer slot and the receiver the inspection waits on.
    pub fn new() -> (
        HostKeyAnswer,
        tokio::sync::oneshot::Receiver<HostKeyDecision>,
    ) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        (HostKeyAnswer(Arc::new(Mutex::new(Some(tx)))), rx)
    }

    /// Answers (once; later answers are ignored, as is an inspection that has gone).
    pub fn send(&self, decision: HostKeyDecision) {
        let sender = self.0.lock().map(|mut s| s.take()).unwrap_or_default();
        if let Some(tx) = sender {
            let _ = tx.send(decision);
        }
    }
}

impl std::fmt::Debug for HostKeyAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostKeyAnswer")
    }
}

/// An unknown host key waiting for the operator.
#[derive(Debug, Clone)]
pub struct HostKeyQuestion {
    /// The node's name.
    pub node: String,
    /// The key.
    pub key: UnknownHostKey,
    /// Where the answer goes.
    pub answer: HostKeyAnswer,
}

/// What background work reports to the Nodes view.
#[derive(Debug)]
pub enum Event {
    /// A node moved on.
    Progress {
        /// The server.
        server_id: String,
        /// Where it is.
        stage: crate::node::Stage,
    },
    /// A node's report.
    Report {
        /// The server.
        server_id: String,
        /// What was read and found.
        report: Box<NodeReport>,
    },
    /// An unknown host key: trust it?
    HostKey(HostKeyQuestion),
    /// A note for the status line (the template is missing: manifests only).
    Note(String),
    /// The run ended: every node done, or why none could start.
    Finished(Result<(), String>),
    /// The run was stopped.
    Stopped,
}

/// The Nodes view's state.
#[derive(Debug, Clone, Default)]
pub struct NodesPage {
    /// The inventory the rows come from.
    pub inventory: Option<Arc<Inventory>>,
    /// The nodes.
    pub rows: Vec<NodeRow>,
    /// Selection, sort, filter.
    pub table: TableState,
    /// Marked server ids.
    pub marks: BTreeSet<String>,
    /// Inspections by server id (kept across refreshes).
    pub inspections: BTreeMap<String, Inspection>,
    /// List or one node.
    pub mode: Mode,
    /// A run is under way.
    pub running: bool,
    /// A stop was asked for.
    pub stopping: bool,
    /// Host keys waiting for the operator, oldest first.
    pub questions: VecDeque<HostKeyQuestion>,
    /// SSH endpoints by server id, where they are not `address:22` (the demo's nodes).
    pub endpoints: BTreeMap<String, SocketAddr>,
    /// Waiting for an inventory.
    pub loading: bool,
}

impl NodesPage {
    /// An empty view (the inventory arrives from the Images view).
    pub fn new(init: &Init) -> Self {
        NodesPage {
            endpoints: init.node_endpoints.clone(),
            ..NodesPage::default()
        }
    }

    /// The selected node.
    pub fn selected(&self) -> Option<&NodeRow> {
        self.table.selected_row().and_then(|i| self.rows.get(i))
    }

    /// The node the detail shows.
    pub fn detail_row(&self) -> Option<&NodeRow> {
        match &self.mode {
            Mode::Detail { server_id, .. } => self.rows.iter().find(|r| r.server.id == *server_id),
            Mode::List => None,
        }
    }

    fn set_inventory(&mut self, inv: Arc<Inventory>) {
        self.rows = rows::rows(&inv, &self.endpoints);
        let ids: BTreeSet<&str> = self.rows.iter().map(|r| r.server.id.as_str()).collect();
        self.marks.retain(|id| ids.contains(id.as_str()));
        self.inventory = Some(inv);
        self.loading = false;
        self.sync();
        self.table.refresh(&self.rows);
    }

    /// Copies marks and inspections into the rows the table draws.
    fn sync(&mut self) {
        for r in &mut self.rows {
            r.marked = self.marks.contains(&r.server.id);
            r.inspection = self.inspections.get(&r.server.id).cloned();
        }
    }

    /// Where to reach a node: the demo's endpoint, else its first address on port 22. The demo
    /// reaches only its simulated nodes: a server without one (booted from a volume) has none,
    /// rather than a connection to whatever answers its made-up address.
    fn target_of(&self, row: &NodeRow, demo: bool) -> Option<NodeTarget> {
        let target = match self.endpoints.get(&row.server.id) {
            Some(a) => Target::new(a.ip().to_string(), a.port()),
            None if demo => return None,
            None => Target::new(row.address()?, 22),
        };
        let mut glance_properties = row.image.properties.clone();
        glance_properties.insert("name".into(), row.image.name.clone());
        Some(NodeTarget {
            server_id: row.server.id.clone(),
            name: row.server.name.clone(),
            target,
            glance_properties,
        })
    }

    /// Starts inspecting `ids` (those with an address; the others are named on the status line).
    fn inspect(&mut self, ids: &[String], shared: &mut Shared) -> Vec<Effect> {
        if self.running {
            shared.warn("an inspection is under way: wait for it, or c stops it");
            return Vec::new();
        }
        let mut targets = Vec::new();
        let mut unreachable = Vec::new();
        for id in ids {
            let Some(row) = self.rows.iter().find(|r| r.server.id == *id) else {
                continue;
            };
            match self.target_of(row, shared.demo) {
                Some(t) => targets.push(t),
                None => unreachable.push(row.server.name.clone()),
            }
        }
        if !unreachable.is_empty() {
            shared.warn(if shared.demo {
                format!(
                    "the demo has no SSH node for {} (only servers booted from an image have one)",
                    unreachable.join(", ")
                )
            } else {
                format!(
                    "no address to reach: {} (still building?)",
                    unreachable.join(", ")
                )
            });
        }
        if targets.is_empty() {
            return Vec::new();
        }
        for t in &targets {
            self.inspections
                .insert(t.server_id.clone(), Inspection::Queued);
        }
        self.running = true;
        self.stopping = false;
        self.sync();
        if unreachable.is_empty() {
            shared.info(format!("inspecting {} node(s) over SSH", targets.len()));
        }
        vec![NodesEffect::Inspect(targets).into()]
    }

    fn visible_ids(&self) -> Vec<String> {
        self.table
            .order()
            .iter()
            .filter_map(|&i| self.rows.get(i))
            .map(|r| r.server.id.clone())
            .collect()
    }

    fn finish_run(&mut self) {
        self.running = false;
        self.stopping = false;
        for i in self.inspections.values_mut() {
            if i.under_way() {
                *i = Inspection::Stopped;
            }
        }
        // An inspection that has gone no longer needs an answer.
        for q in self.questions.drain(..) {
            q.answer.send(HostKeyDecision::Refuse);
        }
        self.sync();
    }
}

impl Page for NodesPage {
    type Action = Action;
    type Event = Event;
    type Effect = NodesEffect;

    fn title(&self) -> &'static str {
        "Nodes"
    }

    fn bindings(&self, _shared: &Shared) -> Vec<Binding<Action>> {
        let has_rows = !self.table.is_empty();
        let detail = matches!(self.mode, Mode::Detail { .. });
        let has_manifest = self
            .detail_row()
            .and_then(|r| self.inspections.get(&r.server.id))
            .is_some_and(|i| matches!(i, Inspection::Done(r) if r.facts.as_ref().is_some_and(|f| f.manifest_text.is_some())));
        BINDINGS
            .iter()
            .filter(|b| match (detail, b.action) {
                (_, Action::Stop) => self.running && !self.stopping,
                (_, Action::Refresh) => true,
                (true, Action::Raw) => has_manifest,
                (false, Action::Raw) => false,
                (true, Action::Inspect) => !self.running,
                (true, Action::Mark | Action::MarkAll | Action::Open) => false,
                (true, _) => true,
                (false, Action::Back) => !self.table.filter().is_empty(),
                (false, Action::Inspect) => has_rows && !self.running,
                (false, _) => has_rows,
            })
            .copied()
            .collect()
    }

    fn on_action(&mut self, action: Action, shared: &mut Shared) -> Vec<Effect> {
        if let Mode::Detail {
            server_id,
            scroll,
            raw,
        } = &mut self.mode
        {
            match action {
                Action::Down => *scroll += 1,
                Action::Up => *scroll = scroll.saturating_sub(1),
                Action::Top => *scroll = 0,
                Action::Bottom => *scroll = usize::MAX / 2,
                Action::PageDown => *scroll += 20,
                Action::PageUp => *scroll = scroll.saturating_sub(20),
                Action::Raw => *raw = !*raw,
                Action::Back => self.mode = Mode::List,
                Action::Inspect => {
                    let id = server_id.clone();
                    *scroll = 0;
                    return self.inspect(&[id], shared);
                }
                Action::Refresh => shared.notices.push(Notice::ImagesChanged),
                Action::Stop => {
                    self.stopping = true;
                    shared.warn("stopping the inspections");
                    return vec![NodesEffect::Stop.into()];
                }
                Action::Open | Action::Mark | Action::MarkAll => {}
            }
            return Vec::new();
        }
        let t = &mut self.table;
        match action {
            Action::Down => t.step(1),
            Action::Up => t.step(-1),
            Action::Top => t.top(),
            Action::Bottom => t.bottom(),
            Action::PageDown => t.page_down(),
            Action::PageUp => t.page_up(),
            Action::Open => {
                let Some(row) = self.selected() else {
                    return Vec::new();
                };
                let id = row.server.id.clone();
                let fresh = matches!(self.inspections.get(&id), None | Some(Inspection::Stopped));
                self.mode = Mode::Detail {
                    server_id: id.clone(),
                    scroll: 0,
                    raw: false,
                };
                if fresh && !self.running {
                    return self.inspect(&[id], shared);
                }
            }
            Action::Mark => {
                if let Some(id) = self.selected().map(|r| r.server.id.clone())
                    && !self.marks.remove(&id)
                {
                    self.marks.insert(id);
                }
                self.sync();
                self.table.step(1);
            }
            Action::MarkAll => {
                let shown: BTreeSet<String> = self.visible_ids().into_iter().collect();
                self.marks = if self.marks == shown {
                    BTreeSet::new()
                } else {
                    shown
                };
                self.sync();
            }
            Action::Inspect => {
                let ids: Vec<String> = if self.marks.is_empty() {
                    self.selected()
                        .map(|r| vec![r.server.id.clone()])
                        .unwrap_or_default()
                } else {
                    // in table order
                    self.visible_ids()
                        .into_iter()
                        .filter(|id| self.marks.contains(id))
                        .chain(
                            self.marks
                                .iter()
                                .filter(|id| !self.visible_ids().contains(id))
                                .cloned(),
                        )
                        .collect()
                };
                return self.inspect(&ids, shared);
            }
            Action::Stop => {
                self.stopping = true;
                shared.warn("stopping the inspections");
                return vec![NodesEffect::Stop.into()];
            }
            Action::Refresh => {
                self.loading = true;
                shared.notices.push(Notice::ImagesChanged);
            }
            Action::Raw => {}
            Action::Back => {
                self.table.set_filter(String::new());
                self.table.refresh(&self.rows);
            }
        }
        Vec::new()
    }

    fn on_event(&mut self, event: Event, shared: &mut Shared) -> Vec<Effect> {
        match event {
            Event::Progress { server_id, stage } => {
                use crate::node::Stage;
                let next = match stage {
                    Stage::Queued => Inspection::Queued,
                    Stage::Connecting => Inspection::Connecting,
                    Stage::Reading => Inspection::Reading,
                    // the report follows
                    Stage::Done { .. } => return Vec::new(),
                };
                // a late progress event never undoes a report
                if !matches!(self.inspections.get(&server_id), Some(Inspection::Done(_))) {
                    self.inspections.insert(server_id, next);
                }
            }
            Event::Report { server_id, report } => {
                self.inspections
                    .insert(server_id, Inspection::Done(Arc::from(report)));
            }
            Event::HostKey(q) => {
                if self.running && !self.stopping {
                    self.questions.push_back(q);
                } else {
                    q.answer.send(HostKeyDecision::Refuse);
                }
            }
            Event::Note(text) => shared.warn(text),
            Event::Finished(result) => {
                self.finish_run();
                match result {
                    Ok(()) => {
                        let done: Vec<&NodeReport> = self
                            .inspections
                            .values()
                            .filter_map(|i| match i {
                                Inspection::Done(r) => Some(r.as_ref()),
                                _ => None,
                            })
                            .collect();
                        let not_read = done.iter().filter(|r| !r.ok).count();
                        let drifted = done.iter().filter(|r| r.ok && r.errors() > 0).count();
                        let text = format!(
                            "inspection done: {not_read} not read, {drifted} with error drift"
                        );
                        if not_read + drifted > 0 {
                            shared.warn(text);
                        } else {
                            shared.info(text);
                        }
                    }
                    Err(e) => shared.error(format!("could not inspect: {e}")),
                }
            }
            Event::Stopped => {
                self.finish_run();
                shared.warn("inspections stopped");
            }
        }
        self.sync();
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
            self.loading = true;
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
        match &mut self.mode {
            Mode::Detail { scroll, .. } => {
                *scroll = scroll.saturating_add_signed(-lines * 3);
            }
            Mode::List => self.table.step(-lines),
        }
    }

    fn prompt(&self) -> Option<Prompt> {
        let q = self.questions.front()?;
        let k = &q.key;
        let mut lines = vec![
            format!(
                "{} ({}:{}) offers a host key that {} does not hold:",
                q.node,
                k.host,
                k.port,
                k.known_hosts.display()
            ),
            format!("    {} {}", k.algorithm, k.fingerprint),
        ];
        for (line, alg) in &k.other_types {
            lines.push(format!(
                "    (known_hosts line {line} holds a {alg} key for this host)"
            ));
        }
        lines.push(String::new());
        lines.push(
            "Compare it with the fingerprint the node printed at first boot (its console log) before trusting it."
                .into(),
        );
        if self.questions.len() > 1 {
            lines.push(format!(
                "{} more host key(s) wait after this one.",
                self.questions.len() - 1
            ));
        }
        lines.push(String::new());
        lines.push(
            "y: trust it and record it in known_hosts    n / Esc: refuse (the node is not read)"
                .into(),
        );
        Some(Prompt {
            title: "Unknown host key".into(),
            lines,
        })
    }

    fn on_prompt_key(&mut self, key: KeyEvent, shared: &mut Shared) -> Vec<Effect> {
        let decision = match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => HostKeyDecision::TrustAndRecord,
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => HostKeyDecision::Refuse,
            _ => return Vec::new(),
        };
        if let Some(q) = self.questions.pop_front() {
            q.answer.send(decision);
            match decision {
                HostKeyDecision::TrustAndRecord => shared.info(format!(
                    "{}: host key {} trusted and recorded",
                    q.node, q.key.fingerprint
                )),
                HostKeyDecision::Refuse => {
                    shared.warn(format!("{}: host key refused, not read", q.node))
                }
            }
        }
        Vec::new()
    }

    fn ticking(&self) -> bool {
        self.running
    }

    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &DrawCtx<'_>) {
        draw::draw(self, frame, area, ctx);
    }
}
