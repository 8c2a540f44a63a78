//! The shell around the views: which tab is shown, its own overlays (help, `:` command line, `/`
//! filter, quit confirmation), global keys and commands, and routing keys and events to views.
//! Pure: keys and events in, [`Effect`]s out.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::effect::{AppEvent, Effect};
use super::page::{Binding, Shared, find, plain};
use super::views::{ViewId, Views};

/// An overlay of the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modal {
    /// Nothing.
    None,
    /// The `?` key list.
    Help,
    /// The `:` command line, with what was typed.
    Command(String),
    /// The `/` filter being typed.
    Filter,
    /// "Quit while work runs?"
    ConfirmQuit(String),
}

/// What a global key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShellAction {
    /// `?`.
    Help,
    /// `:`.
    Command,
    /// `/`.
    Filter,
    /// Tab.
    NextTab,
    /// Shift-Tab.
    PrevTab,
    /// `q`.
    Quit,
    /// Ctrl-Z.
    Suspend,
}

const GLOBAL: &[Binding<ShellAction>] = &[
    Binding {
        keys: "?",
        help: "help: the keys valid now",
        hint: Some("help"),
        action: ShellAction::Help,
        matches: |k| plain(k, '?'),
    },
    Binding {
        keys: ":",
        help: "command line (:help lists the commands)",
        hint: Some("command"),
        action: ShellAction::Command,
        matches: |k| plain(k, ':'),
    },
    Binding {
        keys: "/",
        help: "live filter (Esc clears)",
        hint: None,
        action: ShellAction::Filter,
        matches: |k| plain(k, '/'),
    },
    Binding {
        keys: "Tab / Shift-Tab",
        help: "next / previous tab",
        hint: None,
        action: ShellAction::NextTab,
        matches: |k| k.code == KeyCode::Tab,
    },
    Binding {
        keys: "",
        help: "",
        hint: None,
        action: ShellAction::PrevTab,
        matches: |k| k.code == KeyCode::BackTab,
    },
    Binding {
        keys: "q",
        help: "quit (asks first while work runs)",
        hint: Some("quit"),
        action: ShellAction::Quit,
        matches: |k| plain(k, 'q'),
    },
    Binding {
        keys: "Ctrl-Z",
        help: "suspend to the shell (fg to come back)",
        hint: None,
        action: ShellAction::Suspend,
        matches: |k| k.code == KeyCode::Char('z') && k.modifiers.contains(KeyModifiers::CONTROL),
    },
];

/// The whole console.
pub struct App {
    /// The tab shown.
    pub view: ViewId,
    /// Every view.
    pub views: Views,
    /// What views share.
    pub shared: Shared,
    /// The shell's overlay.
    pub modal: Modal,
    /// Allow the `:panic` command (tests of terminal restore).
    pub allow_panic: bool,
    /// Set once the operator quit.
    pub quit: bool,
}

impl App {
    /// A console over its views, showing `view`.
    pub fn new(views: Views, shared: Shared, view: ViewId) -> Self {
        App {
            view,
            views,
            shared,
            modal: Modal::None,
            allow_panic: false,
            quit: false,
        }
    }

    /// The global keys valid now (`/` only where the view has a filter).
    pub fn global_bindings(&self) -> Vec<Binding<ShellAction>> {
        let filter = self.views.filter(self.view).is_some();
        GLOBAL
            .iter()
            .filter(|b| b.action != ShellAction::Filter || filter)
            .copied()
            .collect()
    }

    /// (keys, help) of every key valid now: the view's first, then the global ones.
    pub fn help_rows(&self) -> Vec<(&'static str, &'static str)> {
        let mut rows = self.views.help(self.view, &self.shared);
        rows.extend(self.global_bindings().iter().map(|b| (b.keys, b.help)));
        rows.retain(|(k, _)| !k.is_empty());
        rows
    }

    /// Handles a key.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let effects = self.route_key(key);
        self.settle(effects)
    }

    /// Handles a background event.
    pub fn on_event(&mut self, event: AppEvent) -> Vec<Effect> {
        let effects = match event {
            AppEvent::Theme(Ok(theme)) => {
                self.shared.info(format!("theme {}", theme.name));
                self.shared.theme = theme;
                Vec::new()
            }
            AppEvent::Theme(Err(e)) => {
                self.shared.error(e);
                Vec::new()
            }
            AppEvent::View(e) => self.views.on_event(e, &mut self.shared),
        };
        self.settle(effects)
    }

    /// Delivers the notices views posted during an update, until none is left.
    fn settle(&mut self, mut effects: Vec<Effect>) -> Vec<Effect> {
        // A notice may post another; a chain longer than the views is a bug, not a reason to spin.
        for _ in 0..=ViewId::ALL.len() {
            let notices = std::mem::take(&mut self.shared.notices);
            if notices.is_empty() {
                break;
            }
            for n in &notices {
                effects.extend(self.views.on_notice(n, &mut self.shared));
            }
        }
        effects
    }

    fn route_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            return self.request_quit();
        }
        match self.modal.clone() {
            Modal::Command(text) => return self.on_command_key(text, key),
            Modal::Filter => return self.on_filter_key(key),
            Modal::ConfirmQuit(_) => {
                self.modal = Modal::None;
                return if matches!(key.code, KeyCode::Char('y' | 'Y')) {
                    self.quit_now()
                } else {
                    Vec::new()
                };
            }
            Modal::Help => {
                if matches!(key.code, KeyCode::Esc | KeyCode::Char('?' | 'q')) {
                    self.modal = Modal::None;
                }
                return Vec::new();
            }
            Modal::None => {}
        }
        if self.views.prompt(self.view).is_some() {
            return self.views.on_prompt_key(self.view, key, &mut self.shared);
        }
        if let Some(effects) = self.views.on_key(self.view, &key, &mut self.shared) {
            return effects;
        }
        match find(&self.global_bindings(), &key) {
            Some(a) => self.on_shell_action(a),
            None => Vec::new(),
        }
    }

    fn on_shell_action(&mut self, action: ShellAction) -> Vec<Effect> {
        match action {
            ShellAction::Help => self.modal = Modal::Help,
            ShellAction::Command => self.modal = Modal::Command(String::new()),
            ShellAction::Filter => self.modal = Modal::Filter,
            ShellAction::NextTab | ShellAction::PrevTab => {
                let all = ViewId::ALL;
                let i = all.iter().position(|v| *v == self.view).unwrap_or(0);
                let n = all.len();
                let j = if action == ShellAction::NextTab {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                };
                return self.show(all[j]);
            }
            ShellAction::Quit => return self.request_quit(),
            ShellAction::Suspend => return vec![Effect::Suspend],
        }
        Vec::new()
    }

    /// The mouse: the wheel scrolls the view (three lines a notch).
    pub fn on_mouse(&mut self, m: crossterm::event::MouseEvent) {
        use crossterm::event::MouseEventKind;
        match m.kind {
            MouseEventKind::ScrollUp => self.views.on_wheel(self.view, 3),
            MouseEventKind::ScrollDown => self.views.on_wheel(self.view, -3),
            _ => {}
        }
    }

    /// Shows a view.
    pub fn show(&mut self, view: ViewId) -> Vec<Effect> {
        self.view = view;
        self.views.on_show(view, &mut self.shared)
    }

    fn request_quit(&mut self) -> Vec<Effect> {
        match self.views.busy().into_iter().next() {
            Some((_, what)) => {
                self.modal = Modal::ConfirmQuit(what);
                Vec::new()
            }
            None => self.quit_now(),
        }
    }

    fn quit_now(&mut self) -> Vec<Effect> {
        self.quit = true;
        vec![Effect::Quit]
    }

    fn on_command_key(&mut self, mut text: String, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc => self.modal = Modal::None,
            KeyCode::Enter => {
                self.modal = Modal::None;
                return self.run_command(text.trim());
            }
            KeyCode::Backspace => {
                text.pop();
                self.modal = Modal::Command(text);
            }
            KeyCode::Char(c) => {
                text.push(c);
                self.modal = Modal::Command(text);
            }
            _ => {}
        }
        Vec::new()
    }

    fn on_filter_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let mut text = self.views.filter(self.view).unwrap_or("").to_string();
        match key.code {
            KeyCode::Esc => {
                text.clear();
                self.modal = Modal::None;
            }
            KeyCode::Enter => self.modal = Modal::None,
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) => text.push(c),
            _ => return Vec::new(),
        }
        self.views.set_filter(self.view, text);
        Vec::new()
    }

    /// Runs a `:` command line.
    pub fn run_command(&mut self, line: &str) -> Vec<Effect> {
        let (cmd, arg) = line
            .split_once(' ')
            .map_or((line, ""), |(c, a)| (c, a.trim()));
        let effects = match cmd {
            "" => Vec::new(),
            "q" | "quit" => self.request_quit(),
            "q!" => self.quit_now(),
            "help" => {
                self.modal = Modal::Help;
                Vec::new()
            }
            "theme" if !arg.is_empty() => vec![Effect::LoadTheme(arg.to_string())],
            "panic" if self.allow_panic => vec![Effect::Panic],
            _ => match self.view_named(cmd) {
                Some(view) => {
                    let mut effects = self.show(view);
                    if !arg.is_empty() {
                        let (sub, rest) = arg
                            .split_once(' ')
                            .map_or((arg, ""), |(c, a)| (c, a.trim()));
                        match self.views.command_to(view, sub, rest, &mut self.shared) {
                            Some(more) => effects.extend(more),
                            None => self.shared.error(format!("unknown command `:{cmd} {arg}`")),
                        }
                    }
                    effects
                }
                None => match self.views.on_command(self.view, cmd, arg, &mut self.shared) {
                    Some((_, effects)) => effects,
                    None => {
                        self.shared.error(format!(
                            "unknown command `:{cmd}` (commands: {})",
                            self.command_list()
                        ));
                        Vec::new()
                    }
                },
            },
        };
        self.settle(effects)
    }

    /// Every command, for help and errors.
    pub fn command_list(&self) -> String {
        let mut names: Vec<String> = ViewId::ALL
            .iter()
            .map(|v| self.views.title(*v).to_ascii_lowercase())
            .collect();
        names.extend(self.views.commands().iter().map(|s| s.to_string()));
        names.extend([
            "theme NAME".to_string(),
            "help".into(),
            "q".into(),
            "q!".into(),
        ]);
        names
            .iter()
            .map(|n| format!(":{n}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn view_named(&self, name: &str) -> Option<ViewId> {
        ViewId::ALL.iter().copied().find(|v| {
            let title = self.views.title(*v).to_ascii_lowercase();
            title == name
                || (name.len() == 1 && title.starts_with(name))
                || format!("{title}s") == name
        })
    }

    /// True when the screen changes with time alone.
    pub fn ticking(&self) -> bool {
        self.views.ticking(self.view)
            || !self.views.busy().is_empty()
            || self.shared.status.is_some()
    }
}
