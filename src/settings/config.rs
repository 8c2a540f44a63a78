//! The config file, `$XDG_CONFIG_HOME/kiln/config.toml`. Every key is optional; an unknown key or
//! a bad value is an error naming the file, line and key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// config.toml. Each key is documented in the README.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The Packer template (default `stages/rke2-node.pkr.hcl`).
    pub template: Option<PathBuf>,
    /// The packer executable (default `packer` on PATH).
    pub packer: Option<PathBuf>,
    /// The offline artifacts directory (default `files`).
    pub files_dir: Option<PathBuf>,
    /// Theme name or path (default `default`).
    pub theme: Option<String>,
    /// The clouds.yaml cloud to use (like --os-cloud).
    pub os_cloud: Option<String>,
    /// Start read-only (like --readonly).
    pub readonly: Option<bool>,
    /// Also write diagnostics to this file (like --log-file).
    pub log_file: Option<PathBuf>,
    /// Seconds packer may clean up after an interrupt when kiln quits (default 120).
    pub cleanup_grace_seconds: Option<u64>,
    /// Seconds to wait for Keystone/Glance in preflight (default 10).
    pub cloud_timeout_seconds: Option<u64>,
    /// Demo replay speed factor (default 20).
    pub demo_speed: Option<f64>,
    /// Ring the terminal bell when a build ends (default false).
    pub bell: Option<bool>,
    /// Default `-var` values for builds.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// Default `-var-file` paths for builds.
    #[serde(default)]
    pub var_files: Vec<PathBuf>,
    /// Log level per target for the Log tab and --log-file (`kiln = "debug"`, `russh = "warn"`).
    #[serde(default)]
    pub log_levels: BTreeMap<String, LogLevel>,
    /// The retention policy (`[retention]`).
    #[serde(default)]
    pub retention: RetentionConfig,
    /// `[ssh]`: node inspection.
    #[serde(default)]
    pub ssh: SshConfig,
}

/// `[retention]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Images younger than this many days stay (default 90).
    pub min_age_days: Option<u32>,
    /// The newest N images of each series stay (default 1).
    pub keep_latest_per_series: Option<usize>,
}

impl RetentionConfig {
    /// The policy, defaults filled in.
    pub fn policy(&self) -> crate::retention::Policy {
        let d = crate::retention::Policy::default();
        crate::retention::Policy {
            min_age_days: self.min_age_days.unwrap_or(d.min_age_days),
            keep_latest_per_series: self
                .keep_latest_per_series
                .unwrap_or(d.keep_latest_per_series),
        }
    }
}

/// `[ssh]` of config.toml: how `kiln inspect` (and the Nodes view) reach nodes. Flags win.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshConfig {
    /// Login name on the nodes (default `ubuntu`).
    pub user: Option<String>,
    /// Identity file tried after `--identity` and before `~/.ssh/id_*` (`~/` is the home).
    pub identity: Option<PathBuf>,
    /// known_hosts file (default `~/.ssh/known_hosts`).
    pub known_hosts: Option<PathBuf>,
    /// Nodes inspected at once (default 16, 1 to 256).
    pub parallel: Option<usize>,
    /// Jump host, `[USER@]HOST[:PORT]` (like --jump).
    pub jump: Option<String>,
    /// Seconds for TCP connect plus SSH handshake (default 10, 1 to 600).
    pub connect_timeout_seconds: Option<u64>,
    /// Seconds one command on a node may take (default 20, 1 to 600).
    pub command_timeout_seconds: Option<u64>,
}

/// A log level name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Nothing.
    Off,
    /// Errors.
    Error,
    /// Warnings and up.
    Warn,
    /// Info and up.
    Info,
    /// Debug and up.
    Debug,
    /// Everything.
    Trace,
}

impl From<LogLevel> for log::LevelFilter {
    fn from(l: LogLevel) -> Self {
        match l {
            LogLevel::Off => log::LevelFilter::Off,
            LogLevel::Error => log::LevelFilter::Error,
            LogLevel::Warn => log::LevelFilter::Warn,
            LogLevel::Info => log::LevelFilter::Info,
            LogLevel::Debug => log::LevelFilter::Debug,
            LogLevel::Trace => log::LevelFilter::Trace,
        }
    }
}

/// A config file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// It could not be read.
    #[error("config file {path}: {cause}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// It is not valid.
    #[error("config file {path}, line {line}, key `{key}`: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The key at fault (or the text there).
        key: String,
        /// What is wrong.
        message: String,
    },
}

impl Config {
    /// Loads a config file. A missing file at the default location is an empty config; a missing
    /// file given explicitly is an error.
    pub fn load(path: &Path, explicit: bool) -> Result<Config, ConfigError> {
        match super::files::read_regular(path) {
            Ok(text) => Config::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                Ok(Config::default())
            }
            Err(source) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                cause: source,
            }),
        }
    }

    /// Parses config text; `path` is only for messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let (line, key) = match e.span() {
                Some(span) => super::toml_error::locate(text, span.start),
                None => (1, String::new()),
            };
            ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                key,
                message: e.message().to_string(),
            }
        })?;
        config.check_ranges(text, path)?;
        Ok(config)
    }

    /// Values that parse but make no sense (a grace time of days, a speed of zero).
    fn check_ranges(&self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            line: text
                .lines()
                .position(|l| l.trim_start().starts_with(key))
                .map_or(1, |i| i + 1),
            key: key.to_string(),
            message,
        };
        if let Some(g) = self
            .cleanup_grace_seconds
            .filter(|g| *g > MAX_CLEANUP_GRACE_SECONDS)
        {
            return Err(bad(
                "cleanup_grace_seconds",
                format!("{g} is more than {MAX_CLEANUP_GRACE_SECONDS} (an hour)"),
            ));
        }
        if let Some(t) = self.cloud_timeout_seconds.filter(|t| *t == 0 || *t > 600) {
            return Err(bad(
                "cloud_timeout_seconds",
                format!("{t} is not between 1 and 600"),
            ));
        }
        if let Some(s) = self.demo_speed
            && let Err(m) = check_speed(s)
        {
            return Err(bad("demo_speed", m));
        }
        if self.retention.keep_latest_per_series == Some(0) {
            return Err(bad(
                "keep_latest_per_series",
                "0 would let the newest image of a series go: at least 1".into(),
            ));
        }
        let ssh = &self.ssh;
        if let Some(p) = ssh.parallel.filter(|p| *p == 0 || *p > 256) {
            return Err(bad("parallel", format!("{p} is not between 1 and 256")));
        }
        for (key, v) in [
            ("connect_timeout_seconds", ssh.connect_timeout_seconds),
            ("command_timeout_seconds", ssh.command_timeout_seconds),
        ] {
            if let Some(t) = v.filter(|t| *t == 0 || *t > 600) {
                return Err(bad(key, format!("{t} is not between 1 and 600")));
            }
        }
        if let Some(u) = ssh
            .user
            .as_deref()
            .filter(|u| !crate::node::target::valid_user(u))
        {
            return Err(bad(
                "user",
                format!(
                    "`{}` is not a login name (letters, digits, `._-`)",
                    crate::format::cut_chars(u, 40)
                ),
            ));
        }
        if let Some(Err(m)) = ssh.jump.as_deref().map(crate::node::JumpHost::parse) {
            return Err(bad("jump", m));
        }
        Ok(())
    }
}

/// The longest cleanup grace time accepted.
pub const MAX_CLEANUP_GRACE_SECONDS: u64 = 3600;

/// A replay speed factor: more than 0, at most 1000.
pub fn check_speed(speed: f64) -> Result<f64, String> {
    if speed.is_finite() && speed > 0.0 && speed <= 1000.0 {
        Ok(speed)
    } else {
        Err(format!("{speed} is not a speed in (0, 1000]"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_parses() {
        let c = Config::parse(
            "template = \"t.pkr.hcl\"\npacker = \"/usr/bin/packer\"\nfiles_dir = \"files\"\ntheme = \"light\"\nos_cloud = \"vitroai\"\nreadonly = true\nlog_file = \"/tmp/k.log\"\ncleanup_grace_seconds = 30\ncloud_timeout_seconds = 5\ndemo_speed = 50.0\nvar_files = [\"a.pkrvars.hcl\"]\n[vars]\nk8s_version = \"v1.29.9+rke2r1\"\n[log_levels]\nrussh = \"warn\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(c.readonly, Some(true));
        assert_eq!(c.vars["k8s_version"], "v1.29.9+rke2r1");
        assert_eq!(c.log_levels["russh"], LogLevel::Warn);
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = Config::parse(
            "theme = \"light\"\n\ntemplte = \"x\"\n",
            Path::new("/etc/kiln.toml"),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/etc/kiln.toml"), "{msg}");
        assert!(msg.contains("line 3"), "{msg}");
        assert!(msg.contains("`templte`"), "{msg}");
    }

    #[test]
    fn bad_value_names_the_key() {
        let err = Config::parse("readonly = \"yes\"\n", Path::new("c.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("line 1") && msg.contains("`readonly`"),
            "{msg}"
        );
    }

    #[test]
    fn out_of_range_values_name_their_key_and_line() {
        let err = Config::parse(
            "theme = \"x\"\ncleanup_grace_seconds = 999999\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("line 2") && err.contains("`cleanup_grace_seconds`"),
            "{err}"
        );
        for text in [
            "demo_speed = 0.0\n",
            "demo_speed = nan\n",
            "demo_speed = 1001.0\n",
        ] {
            let err = Config::parse(text, Path::new("c.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("`demo_speed`"), "{text}: {err}");
        }
        assert!(Config::parse("cloud_timeout_seconds = 0\n", Path::new("c.toml")).is_err());
        assert!(
            Config::parse(
                "demo_speed = 1000.0\ncleanup_grace_seconds = 3600\n",
                Path::new("c.toml")
            )
            .is_ok()
        );
    }

    #[test]
    fn the_ssh_table_parses_and_its_errors_name_file_line_and_key() {
        let c = Config::parse(
            "theme = \"light\"\n[ssh]\nuser = \"ops\"\nidentity = \"~/.ssh/ops\"\nknown_hosts = \"/etc/kiln/known_hosts\"\nparallel = 8\njump = \"ops@bastion:2022\"\nconnect_timeout_seconds = 5\ncommand_timeout_seconds = 30\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(c.ssh.user.as_deref(), Some("ops"));
        assert_eq!(c.ssh.parallel, Some(8));
        for (text, line, key) in [
            ("[ssh]\nusr = \"x\"\n", 2, "usr"),
            ("[ssh]\nparallel = \"many\"\n", 2, "parallel"),
            ("a = 1\n", 1, "a"),
            ("[ssh]\nuser = \"ops\"\nparallel = 0\n", 3, "parallel"),
            (
                "[ssh]\ncommand_timeout_seconds = 9999\n",
                2,
                "command_timeout_seconds",
            ),
            ("[ssh]\nuser = \"a b\"\n", 2, "user"),
            ("[ssh]\njump = \"ops@\"\n", 2, "jump"),
        ] {
            let e = Config::parse(text, Path::new("/k/c.toml"))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("/k/c.toml")
                    && e.contains(&format!("line {line}"))
                    && e.contains(&format!("`{key}`")),
                "{text:?}: {e}"
            );
        }
    }

    #[test]
    fn missing_default_file_is_empty_but_explicit_is_an_error() {
        let p = Path::new("/nonexistent/kiln/config.toml");
        assert_eq!(Config::load(p, false).unwrap(), Config::default());
        assert!(
            Config::load(p, true)
                .unwrap_err()
                .to_string()
                .contains("/nonexistent/kiln/config.toml")
        );
    }
}
