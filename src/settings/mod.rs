//! The settings a run uses: command-line flags over config.toml over the environment over
//! built-in defaults, resolved once at start. The config file, kiln's XDG directories and the
//! TOML error locator (shared with themes) live beside it.

pub mod config;
pub mod files;
pub mod paths;
pub mod toml_error;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cloud::credentials::CredentialSource;
use config::Config;
use paths::Paths;

/// The default template, relative to the working directory.
pub const DEFAULT_TEMPLATE: &str = "stages/rke2-node.pkr.hcl";

/// What the command line says over the config file (kept free of clap types).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--os-cloud`.
    pub os_cloud: Option<String>,
    /// `--theme`.
    pub theme: Option<String>,
    /// `--readonly`.
    pub readonly: bool,
    /// `--log-file`.
    pub log_file: Option<PathBuf>,
}

/// Resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// XDG directories.
    pub paths: Paths,
    /// The config file's contents.
    pub config: Config,
    /// The template.
    pub template: PathBuf,
    /// The packer executable.
    pub packer: PathBuf,
    /// The offline artifacts directory.
    pub files_dir: PathBuf,
    /// Theme name or path.
    pub theme: String,
    /// Explicit cloud name (flag or config); OS_CLOUD is read by credential detection.
    pub os_cloud: Option<String>,
    /// Read-only mode.
    pub readonly: bool,
    /// Diagnostics file.
    pub log_file: Option<PathBuf>,
    /// Cleanup grace on quit.
    pub cleanup_grace: Duration,
    /// Cloud timeout.
    pub cloud_timeout: Duration,
    /// Demo speed.
    pub demo_speed: f64,
    /// NO_COLOR set.
    pub no_color: bool,
    /// Ring the bell when a build ends.
    pub bell: bool,
}

impl Settings {
    /// Resolves settings from flags, a loaded config and an environment lookup.
    pub fn resolve(
        global: &Overrides,
        config: Config,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Settings {
        let paths = Paths::from_env(env);
        Settings {
            template: config
                .template
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_TEMPLATE)),
            packer: config
                .packer
                .clone()
                .unwrap_or_else(|| PathBuf::from("packer")),
            files_dir: config
                .files_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("files")),
            theme: global
                .theme
                .clone()
                .or_else(|| config.theme.clone())
                .unwrap_or_else(|| "default".into()),
            os_cloud: global.os_cloud.clone().or_else(|| config.os_cloud.clone()),
            readonly: global.readonly || config.readonly.unwrap_or(false),
            log_file: global.log_file.clone().or_else(|| config.log_file.clone()),
            cleanup_grace: Duration::from_secs(config.cleanup_grace_seconds.unwrap_or(120)),
            cloud_timeout: Duration::from_secs(config.cloud_timeout_seconds.unwrap_or(10)),
            demo_speed: config.demo_speed.unwrap_or(20.0),
            no_color: env("NO_COLOR").is_some_and(|v| !v.is_empty()),
            bell: config.bell.unwrap_or(false),
            paths,
            config,
        }
    }

    /// Where credentials come from.
    pub fn credentials(&self, env: &dyn Fn(&str) -> Option<String>) -> CredentialSource {
        CredentialSource::detect(self.os_cloud.as_deref(), env)
    }

    /// Variables for a build: config defaults overridden by the given ones.
    pub fn vars(&self, extra: &[(String, String)]) -> Vec<(String, String)> {
        let mut merged: BTreeMap<String, String> = self.config.vars.clone();
        for (k, v) in extra {
            merged.insert(k.clone(), v.clone());
        }
        merged.into_iter().collect()
    }

    /// The template to use: an explicit one or the configured one.
    pub fn template_or(&self, explicit: Option<&Path>) -> PathBuf {
        explicit.map_or_else(|| self.template.clone(), Path::to_path_buf)
    }
}
