//! The interactive console. `shell` routes keys and events to the views (`views/`, one folder
//! each), `chrome` draws what surrounds them, `event_loop` drives it all, `executor` runs the
//! effects, `terminal` sets up and restores the terminal. Background work reports through one
//! bounded channel; views render state and do no I/O.

pub mod chrome;
pub mod effect;
pub mod event_loop;
pub mod executor;
pub mod loading;
pub mod page;
pub mod shell;
pub mod terminal;
pub mod views;
pub mod widgets;

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::sync::mpsc;

use crate::bake::replay::Speed;
use crate::bake::request::prepare;
use crate::cli::{BuildArgs, DemoArgs};
use crate::clock::Clock;
use crate::settings::Settings;
use crate::theme::Theme;
use effect::Effect;
use executor::Exec;
use page::Shared;
use shell::App;
use views::bake::{Demo, Form};
use views::{ViewId, Views};

/// Which view the console opens on.
#[derive(Debug)]
pub enum StartView {
    /// The Build view, with the form prefilled from `kiln build` flags.
    Build(Box<BuildArgs>),
    /// The demo.
    Demo(DemoArgs),
}

/// What views are set up from.
#[derive(Debug, Clone, Default)]
pub struct Init {
    /// The Build view's form.
    pub form: Form,
    /// `kiln build --skip-preflight`.
    pub skip_preflight: bool,
    /// The demo's replays, in `kiln demo`.
    pub demo: Option<Demo>,
    /// The retention policy (the Images view draws its line).
    pub policy: crate::retention::Policy,
    /// SSH endpoints by server id where a node is not reached on `address:22` (the demo's
    /// simulated nodes).
    pub node_endpoints: std::collections::BTreeMap<String, std::net::SocketAddr>,
}

/// Runs the console until the operator quits. Returns the exit code.
pub async fn run_console(
    mut settings: Settings,
    start: StartView,
    clock: Arc<dyn Clock>,
) -> Result<i32> {
    let theme = Theme::load(
        &settings.theme,
        &settings.paths.config_dir.join("themes"),
        settings.no_color,
    )
    .context("loading the theme")?;
    let (args, demo_args) = match start {
        StartView::Build(a) => (*a, None),
        StartView::Demo(d) => (BuildArgs::default(), Some(d)),
    };
    // The demo runs on a simulated cloud and its own state directory.
    let world = match &demo_args {
        Some(_) => Some(crate::demo::World::start(&mut settings, clock.as_ref()).await?),
        None => None,
    };
    // `kiln build --template/--var-file` apply to every build started from this console.
    if let Some(t) = &args.template {
        settings.template = t.clone();
    }
    settings
        .config
        .var_files
        .extend(args.var_files.iter().cloned());
    let mut init = Init {
        form: form_from(&settings, &args, clock.as_ref()),
        skip_preflight: args.skip_preflight,
        demo: None,
        policy: settings.config.retention.policy(),
        node_endpoints: world
            .as_ref()
            .map(|w| w.ssh_endpoints.clone())
            .unwrap_or_default(),
    };
    let mut speed = None;
    if let Some(d) = &demo_args {
        let s = d.speed.unwrap_or(settings.demo_speed);
        speed = Some(Speed::new(s));
        init.demo = Some(Demo {
            speed: s,
            names: crate::demo::transcripts()
                .into_iter()
                .map(|t| t.name)
                .collect(),
            next: 0,
        });
        init.form.template = "(demo) recorded builds".into();
    }
    let mut shared = Shared::new(theme, settings.readonly, demo_args.is_some(), clock.now());
    shared.bell = settings.bell;
    let mut app = App::new(Views::new(&init), shared, ViewId::Build);
    app.allow_panic = std::env::var("KILN_ALLOW_PANIC_COMMAND").is_ok_and(|v| v == "1");
    log::info!(
        target: "kiln::app",
        "console started: theme {}, template {}, records in {}{}",
        app.shared.theme.name,
        init.form.template,
        settings.paths.builds_dir().display(),
        if settings.readonly { ", read-only" } else { "" }
    );
    let cloud = match &world {
        Some(w) => w.cloud.clone(),
        None => settings.credentials(&crate::cli::env),
    };
    let (tx, rx) = mpsc::channel(event_loop::QUEUE);
    let mut exec = Exec {
        settings,
        clock,
        tx,
        jobs: HashMap::new(),
        speed,
        cloud: executor::CloudAccess::new(cloud),
    };
    let mut first: Vec<Effect> = app.views.on_show(ViewId::History, &mut app.shared);
    if demo_args.is_some() {
        first.extend(app.views.bake.start(&mut app.shared));
    }
    terminal::install_panic_hook(exec.settings.cleanup_grace);
    let mut term = terminal::init()?;
    let result = event_loop::run(&mut term, &mut app, &mut exec, rx, first).await;
    terminal::restore();
    terminal::release(term);
    if let Some(w) = world {
        w.sim.stop().await;
    }
    result.map(|()| 0)
}

fn form_from(settings: &Settings, args: &BuildArgs, clock: &dyn Clock) -> Form {
    let p = prepare(settings, &args.choices(), clock.now());
    Form {
        vars: p
            .invocation
            .vars
            .iter()
            .filter(|(k, _)| k != "fips_enabled")
            .cloned()
            .collect(),
        fips: args.fips,
        template: p.invocation.template.display().to_string(),
        expected_image: p.expected_image,
        source_image: p.source_image,
    }
}
