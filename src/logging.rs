//! kiln's diagnostics: one global `log` sink feeding tui-logger (the Log tab) and, with
//! `--log-file`, a file. Every message passes a scrubber first, so known secret values (OS_PASSWORD,
//! tokens, Ubuntu Pro keys, secret `-var`s) never reach the screen or the file. Levels are per
//! target (`kiln`, `osauth`, `reqwest`, ...), by longest prefix.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use log::{LevelFilter, Log, Metadata, Record};

use crate::secrets::Secrets;

/// Environment variables whose values are secrets.
pub const SECRET_ENV: &[&str] = &[
    "OS_PASSWORD",
    "OS_TOKEN",
    "OS_AUTH_TOKEN",
    "OS_APPLICATION_CREDENTIAL_SECRET",
    "UBUNTU_PRO_TOKEN",
    "PRO_TOKEN",
];

struct KilnLogger {
    levels: RwLock<BTreeMap<String, LevelFilter>>,
    default: LevelFilter,
    secrets: RwLock<Secrets>,
}

static LOGGER: OnceLock<&'static KilnLogger> = OnceLock::new();

impl KilnLogger {
    fn level_for(&self, target: &str) -> LevelFilter {
        let Ok(levels) = self.levels.read() else {
            return self.default;
        };
        levels
            .iter()
            .filter(|(prefix, _)| {
                target == prefix.as_str() || target.starts_with(&format!("{prefix}::"))
            })
            .max_by_key(|(prefix, _)| prefix.len())
            .map_or(self.default, |(_, l)| *l)
    }
}

impl Log for KilnLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= self.level_for(metadata.target())
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let text = record.args().to_string();
        let clean = match self.secrets.read() {
            Ok(secrets) => secrets.scrub(&text).into_owned(),
            Err(_) => return,
        };
        tui_logger::Drain::new().log(
            &Record::builder()
                .args(format_args!("{clean}"))
                .level(record.level())
                .target(record.target())
                .module_path(record.module_path())
                .file(record.file())
                .line(record.line())
                .build(),
        );
    }

    fn flush(&self) {}
}

/// Installs the logger once per process. Later calls only add levels and secrets. Fails only
/// when the log file cannot be opened for appending.
pub fn init(
    levels: &BTreeMap<String, LevelFilter>,
    log_file: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> std::io::Result<()> {
    let logger = *LOGGER.get_or_init(|| {
        let mut base = BTreeMap::new();
        base.insert("kiln".to_string(), LevelFilter::Debug);
        let logger: &'static KilnLogger = Box::leak(Box::new(KilnLogger {
            levels: RwLock::new(base),
            default: LevelFilter::Warn,
            secrets: RwLock::new(Secrets::default()),
        }));
        if log::set_logger(logger).is_ok() {
            log::set_max_level(LevelFilter::Trace);
            std::thread::Builder::new()
                .name("kiln-log-mover".into())
                .spawn(|| {
                    loop {
                        std::thread::sleep(Duration::from_millis(50));
                        tui_logger::move_events();
                    }
                })
                .ok();
        }
        logger
    });
    if let Ok(mut l) = logger.levels.write() {
        l.extend(levels.iter().map(|(k, v)| (k.clone(), *v)));
    }
    for name in SECRET_ENV {
        if let Some(v) = env(name) {
            add_secret(&v);
        }
    }
    if let Some(path) = log_file {
        // tui-logger panics when it cannot open the file: find out first, as an error.
        crate::settings::files::ensure_regular(path)?;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        tui_logger::set_log_file(
            tui_logger::TuiLoggerFile::new(&path.display().to_string())
                .output_target(true)
                .output_level(Some(tui_logger::TuiLoggerLevelOutput::Abbreviated))
                .output_timestamp(Some("%Y-%m-%dT%H:%M:%S%.3fZ".into())),
        );
    }
    tui_logger::set_default_level(LevelFilter::Trace);
    Ok(())
}

/// Installs the logger with the levels and log file of the settings. The error names the file.
pub fn init_from(
    settings: &crate::settings::Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), LogFileError> {
    let levels = settings
        .config
        .log_levels
        .iter()
        .map(|(k, v)| (k.clone(), (*v).into()))
        .collect();
    init(&levels, settings.log_file.as_deref(), env).map_err(|source| LogFileError {
        path: settings
            .log_file
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        cause: source,
    })
}

/// The log file could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the log file {path}: {cause}")]
pub struct LogFileError {
    /// The file.
    pub path: String,
    /// Why.
    pub cause: std::io::Error,
}

/// Moves pending messages to the Log tab's buffer and the log file (call before exiting).
pub fn flush() {
    tui_logger::move_events();
}

/// Registers a secret value to scrub from every later message.
pub fn add_secret(value: &str) {
    if let Some(logger) = LOGGER.get()
        && let Ok(mut s) = logger.secrets.write()
    {
        s.add(value);
    }
}
