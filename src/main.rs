//! The `kiln` binary: parses the command line, resolves settings and logging, and dispatches to
//! the console or a headless command. Errors are printed once, with their context.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use clap::Parser;

use kiln::cli::{Cli, Command, env};
use kiln::clock::{Clock, SystemClock};
use kiln::settings::Settings;
use kiln::settings::config::Config;

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
        // A reader that went away (`kiln images | head`) is not an error to report.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kiln: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> Result<i32> {
    let paths = kiln::settings::paths::Paths::from_env(&env);
    let config = match &cli.global.config {
        Some(p) => Config::load(p, true),
        None => Config::load(&paths.config_file(), false),
    }?;
    let settings = Settings::resolve(&cli.global.overrides(), config, &env);
    kiln::logging::init_from(&settings, &env)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    use kiln::app::{StartView, run_console};
    match cli.command {
        None => run_console(settings, StartView::Build(Box::default()), clock).await,
        Some(Command::Build(a)) if a.headless || a.json => {
            kiln::cli::build::run(&settings, &a, clock).await
        }
        Some(Command::Build(a)) => {
            run_console(settings, StartView::Build(Box::new(a)), clock).await
        }
        Some(Command::Preflight(a)) => {
            kiln::cli::preflight::run(&settings, &a, clock.as_ref()).await
        }
        Some(Command::History(a)) => kiln::cli::history::run(&settings, &a),
        Some(Command::Demo(a)) if a.headless || a.json => {
            kiln::demo::run_headless(&settings, &a).await
        }
        Some(Command::Demo(a)) => run_console(settings, StartView::Demo(a), clock).await,
        Some(Command::Images(a)) => kiln::cli::images::run(&settings, &a, clock.as_ref()).await,
        Some(Command::Retention(a)) => kiln::cli::retention::run(&settings, &a.action, clock).await,
        Some(Command::Sim(a)) => Ok(kiln::sim::run_foreground(a).await?),
        Some(Command::Inspect(a)) => kiln::cli::inspect::run(&settings, &a, &env).await,
    }
}
