//! The views of the console, declared once. [`views!`] turns the list into the view id enum, the
//! [`Views`] holder, the per-view effect and event enums, and the one dispatch over the view id
//! that the shell and the executor use. Adding a view is a folder under `views/` and one line in
//! the list at the bottom of this file.

pub mod bake;
pub mod history;
pub mod images;
pub mod log;
pub mod nodes;
pub mod retention;

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::Init;
use super::effect::{AppEvent, Effect};
use super::executor::Exec;
use super::page::{DrawCtx, Notice, Page, Prompt, Shared, find};

macro_rules! views {
    ($($id:ident => $module:ident :: $page:ident),+ $(,)?) => {
        /// Which view.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ViewId {
            $(
                #[doc = concat!("The `", stringify!($module), "` view.")]
                $id,
            )+
        }

        impl ViewId {
            /// Every view, in tab order.
            pub const ALL: &'static [ViewId] = &[$(ViewId::$id),+];
        }

        /// Every view's state.
        pub struct Views {
            $(
                #[doc = concat!("The `", stringify!($module), "` view.")]
                pub $module: $module::$page,
            )+
        }

        /// A view's effect.
        #[derive(Debug, Clone, PartialEq)]
        pub enum ViewEffect {
            $(
                #[doc = concat!("Of the `", stringify!($module), "` view.")]
                $id(<$module::$page as Page>::Effect),
            )+
        }

        /// A view's event.
        #[derive(Debug)]
        pub enum ViewEvent {
            $(
                #[doc = concat!("For the `", stringify!($module), "` view.")]
                $id(<$module::$page as Page>::Event),
            )+
        }

        $(
            impl From<<$module::$page as Page>::Effect> for Effect {
                fn from(e: <$module::$page as Page>::Effect) -> Effect {
                    Effect::View(ViewEffect::$id(e))
                }
            }
            impl From<<$module::$page as Page>::Event> for AppEvent {
                fn from(e: <$module::$page as Page>::Event) -> AppEvent {
                    AppEvent::View(ViewEvent::$id(e))
                }
            }
        )+

        impl Views {
            /// Every view, set up from the console's start options.
            pub fn new(init: &Init) -> Views {
                Views { $($module: $module::$page::new(init)),+ }
            }

            /// The tab title.
            pub fn title(&self, id: ViewId) -> &'static str {
                match id { $(ViewId::$id => self.$module.title()),+ }
            }

            /// (keys, help) of the keys valid now.
            pub fn help(&self, id: ViewId, shared: &Shared) -> Vec<(&'static str, &'static str)> {
                match id {
                    $(ViewId::$id => self.$module.bindings(shared).iter().map(|b| (b.keys, b.help)).collect()),+
                }
            }

            /// (key, hint) of the keys worth a footer hint now.
            pub fn hints(&self, id: ViewId, shared: &Shared) -> Vec<(&'static str, &'static str)> {
                match id {
                    $(ViewId::$id => self.$module.bindings(shared).iter().filter_map(|b| b.hint.map(|h| (b.keys, h))).collect()),+
                }
            }

            /// Runs the view's action for a key; `None` when the view has no such key now.
            pub fn on_key(&mut self, id: ViewId, key: &KeyEvent, shared: &mut Shared) -> Option<Vec<Effect>> {
                match id {
                    $(ViewId::$id => {
                        let action = find(&self.$module.bindings(shared), key)?;
                        Some(self.$module.on_action(action, shared))
                    }),+
                }
            }

            /// Hands an event to its view.
            pub fn on_event(&mut self, event: ViewEvent, shared: &mut Shared) -> Vec<Effect> {
                match event { $(ViewEvent::$id(e) => self.$module.on_event(e, shared)),+ }
            }

            /// Hands a notice to every view.
            pub fn on_notice(&mut self, notice: &Notice, shared: &mut Shared) -> Vec<Effect> {
                let mut effects = Vec::new();
                $(effects.extend(self.$module.on_notice(notice, shared));)+
                effects
            }

            /// The view became the tab shown.
            pub fn on_show(&mut self, id: ViewId, shared: &mut Shared) -> Vec<Effect> {
                match id { $(ViewId::$id => self.$module.on_show(shared)),+ }
            }

            /// A `:` command: the view shown first, then the others.
            pub fn on_command(&mut self, first: ViewId, cmd: &str, arg: &str, shared: &mut Shared) -> Option<(ViewId, Vec<Effect>)> {
                let mut order = vec![first];
                order.extend(ViewId::ALL.iter().copied().filter(|v| *v != first));
                for id in order {
                    let handled = match id { $(ViewId::$id => self.$module.on_command(cmd, arg, shared)),+ };
                    if let Some(effects) = handled {
                        return Some((id, effects));
                    }
                }
                None
            }

            /// A `:` command for one view (`:build start`).
            pub fn command_to(&mut self, id: ViewId, cmd: &str, arg: &str, shared: &mut Shared) -> Option<Vec<Effect>> {
                match id { $(ViewId::$id => self.$module.on_command(cmd, arg, shared)),+ }
            }

            /// Every view's `:` commands.
            pub fn commands(&self) -> Vec<&'static str> {
                let mut out = Vec::new();
                $(out.extend_from_slice(self.$module.commands());)+
                out
            }

            /// The view's live filter, when it has one.
            pub fn filter(&self, id: ViewId) -> Option<&str> {
                match id { $(ViewId::$id => self.$module.filter()),+ }
            }

            /// Replaces the view's live filter.
            pub fn set_filter(&mut self, id: ViewId, text: String) {
                match id { $(ViewId::$id => self.$module.set_filter(text)),+ }
            }

            /// The mouse wheel over the view.
            pub fn on_wheel(&mut self, id: ViewId, lines: isize) {
                match id { $(ViewId::$id => self.$module.on_wheel(lines)),+ }
            }

            /// The view's open question.
            pub fn prompt(&self, id: ViewId) -> Option<Prompt> {
                match id { $(ViewId::$id => self.$module.prompt()),+ }
            }

            /// A key for the view's open question.
            pub fn on_prompt_key(&mut self, id: ViewId, key: KeyEvent, shared: &mut Shared) -> Vec<Effect> {
                match id { $(ViewId::$id => self.$module.on_prompt_key(key, shared)),+ }
            }

            /// Work under way in any view, with the view it runs in.
            pub fn busy(&self) -> Vec<(ViewId, String)> {
                let mut out = Vec::new();
                $(if let Some(b) = self.$module.busy() { out.push((ViewId::$id, b)); })+
                out
            }

            /// True when any view changes with time alone.
            pub fn ticking(&self, id: ViewId) -> bool {
                match id { $(ViewId::$id => self.$module.ticking()),+ }
            }

            /// Draws the view.
            pub fn draw(&self, id: ViewId, frame: &mut Frame, area: Rect, ctx: &DrawCtx<'_>) {
                match id { $(ViewId::$id => self.$module.draw(frame, area, ctx)),+ }
            }
        }

        /// Runs a view's effect (the executor's one match over the view id).
        pub fn run_effect(effect: ViewEffect, exec: &mut Exec) {
            match effect { $(ViewEffect::$id(e) => $module::tasks::run(e, exec)),+ }
        }
    };
}

views! {
    Build => bake::BakePage,
    Images => images::ImagesPage,
    Retention => retention::RetentionPage,
    Nodes => nodes::NodesPage,
    History => history::HistoryPage,
    Log => log::LogPage,
}
