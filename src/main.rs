//! The command-line edge: parse flags, resolve settings, run a command, map errors to messages
//! and exit codes. Everything else lives in the library.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Parser;
use tokio::sync::mpsc;

use kiln::build::fips::{self, FIPS_EXPLANATION};
use kiln::build::preflight::{self, PreflightReport};
use kiln::build::record::{FipsRecord, RecordStore};
use kiln::build::request::{BuildChoices, name_only_verdict, preflight_input, prepare};
use kiln::build::session::{self, Control};
use kiln::build::state::BuildState;
use kiln::cli::{BuildArgs, Cli, Command, PreflightArgs};
use kiln::clock::{Clock, SystemClock};
use kiln::config::Config;
use kiln::headless::{EventPrinter, print_history, print_preflight};
use kiln::settings::Settings;

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kiln: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(run(cli));
    kiln::logging::flush();
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("kiln: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> Result<i32> {
    let config_path = cli.global.config.clone();
    let paths = kiln::paths::Paths::from_env(&env);
    let config = match &config_path {
        Some(p) => Config::load(p, true),
        None => Config::load(&paths.config_file(), false),
    }?;
    let settings = Settings::resolve(&cli.global, config, &env);
    let levels = settings
        .config
        .log_levels
        .iter()
        .map(|(k, v)| (k.clone(), (*v).into()))
        .collect();
    if let Err(e) = kiln::logging::init(&levels, settings.log_file.as_deref(), &env) {
        let path = settings
            .log_file
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        bail!("cannot open the log file {path}: {e}");
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match cli.command {
        Some(Command::Build(args)) if args.headless || args.json => {
            build_headless(&settings, &args, clock).await
        }
        Some(Command::Build(args)) => {
            kiln::app::run_console(settings, kiln::app::StartView::Build(Box::new(args)), clock)
                .await
        }
        Some(Command::Preflight(args)) => {
            let report = run_preflight(&settings, &args).await;
            print_preflight(&mut std::io::stdout(), &report, args.json)
                .context("writing the checklist")?;
            Ok(report.exit_code())
        }
        Some(Command::History(args)) => {
            let store = RecordStore::new(settings.paths.builds_dir());
            print_history(&mut std::io::stdout(), &store.list(), args.json)
                .context("writing the history")?;
            Ok(0)
        }
        Some(Command::Demo(args)) if args.headless || args.json => {
            kiln::demo::run_headless(&settings, &args).await
        }
        Some(Command::Demo(args)) => {
            kiln::app::run_console(settings, kiln::app::StartView::Demo(args), clock).await
        }
        Some(Command::Sim(args)) => Ok(kiln::sim::run_foreground(args).await?),
        None => {
            kiln::app::run_console(settings, kiln::app::StartView::Build(Box::default()), clock)
                .await
        }
    }
}

fn hash_progress() -> Arc<preflight::HashProgress<'static>> {
    let tty = std::io::stderr().is_terminal();
    Arc::new(move |file: &str, done: u64, total: u64| {
        if tty && total > 0 {
            let pct = done * 100 / total;
            eprint!(
                "\r  hashing {file}: {pct:>3}% ({} of {} MiB)\x1b[K",
                done >> 20,
                total >> 20
            );
            if done == total {
                eprint!("\r\x1b[K");
            }
        }
    })
}

async fn run_preflight(settings: &Settings, args: &PreflightArgs) -> PreflightReport {
    let choices = BuildChoices {
        vars: args.vars.clone(),
        template: args.template.clone(),
        fips: args.fips,
        ..Default::default()
    };
    let input = preflight_input(
        settings,
        &choices,
        args.allow_unvalidated_fips,
        SystemClock.now(),
    );
    preflight::run(&input, hash_progress()).await
}

async fn build_headless(
    settings: &Settings,
    args: &BuildArgs,
    clock: Arc<dyn Clock>,
) -> Result<i32> {
    if settings.readonly {
        bail!("--readonly: starting a build is disabled (it creates a server and an image)");
    }
    let choices = BuildChoices {
        vars: args.vars.clone(),
        var_files: args.var_files.clone(),
        fips: args.fips,
        template: args.template.clone(),
    };
    let mut report_out: Box<dyn Write> = if args.json {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    let mut verdict = None;
    if !args.skip_preflight {
        let pf = PreflightArgs {
            fips: args.fips,
            allow_unvalidated_fips: args.allow_unvalidated_fips,
            json: false,
            vars: args.vars.clone(),
            template: args.template.clone(),
        };
        let report = run_preflight(settings, &pf).await;
        print_preflight(&mut report_out, &report, false)?;
        if !report.passed() {
            return Ok(2);
        }
        verdict = report.fips_verdict;
    }
    let probe = prepare(
        settings,
        &choices,
        FipsRecord::default(),
        clock.now(),
        false,
    );
    let fips_record = if args.fips {
        let verdict = verdict.unwrap_or_else(|| name_only_verdict(&probe.source_image));
        writeln!(report_out, "FIPS: {FIPS_EXPLANATION}")?;
        match fips::decide(true, &verdict, args.allow_unvalidated_fips) {
            Some(r) => {
                if !r.validated {
                    writeln!(
                        report_out,
                        "FIPS: acknowledged: this image will NOT be FIPS-validated ({})",
                        verdict.reason()
                    )?;
                }
                r
            }
            None => {
                writeln!(
                    report_out,
                    "FIPS: refusing to start: {}. Pass --allow-unvalidated-fips to build an image that is NOT FIPS-validated.",
                    verdict.reason()
                )?;
                return Ok(2);
            }
        }
    } else {
        FipsRecord::default()
    };
    drop(report_out);
    let prepared = prepare(settings, &choices, fips_record, clock.now(), true);
    let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
    // Handlers are installed before packer starts, so no signal falls between the two.
    let signals = SignalSet::install().context("installing signal handlers")?;
    tokio::spawn(signals.forward(ctl_tx));
    let state = BuildState::new(&prepared.request.plan, clock.now());
    let mut printer = EventPrinter::new(std::io::stdout().lock(), args.json, state);
    let mut closed = false;
    let outcome = session::run(
        prepared.request,
        clock,
        ctl_rx,
        |started| log::info!(target: "kiln::build", "record: {:?}", started.record_dir),
        |events| {
            if !closed && printer.print(events).is_err() {
                closed = true;
            }
        },
    )
    .await
    .context("running packer")?;
    Ok(outcome.status.exit_code())
}

/// SIGINT, SIGTERM and SIGHUP: each one asks the build to cancel (the second escalates).
struct SignalSet {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl SignalSet {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(SignalSet {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    async fn forward(mut self, tx: mpsc::UnboundedSender<Control>) {
        loop {
            tokio::select! {
                _ = self.int.recv() => {},
                _ = self.term.recv() => {},
                _ = self.hup.recv() => {},
            }
            if tx.send(Control::Cancel).is_err() {
                return;
            }
        }
    }
}
