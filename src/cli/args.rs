//! The command line (clap): global flags and subcommands. Parsing only; `main.rs` dispatches.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// kiln: bake and run RKE2 node images on an airgapped OpenStack.
#[derive(Debug, Parser)]
#[command(name = "kiln", version, about, propagate_version = true)]
pub struct Cli {
    /// Global options.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do; none starts the console.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every command takes.
#[derive(Debug, Clone, Args, Default)]
pub struct GlobalArgs {
    /// The clouds.yaml cloud (else OS_CLOUD, else the OS_* variables of a sourced openrc).
    #[arg(long, global = true, value_name = "NAME")]
    pub os_cloud: Option<String>,
    /// Theme: default, light, high-contrast, a name in $XDG_CONFIG_HOME/kiln/themes, or a path.
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,
    /// No destructive or cloud-changing action (no builds, no deletes).
    #[arg(long, global = true)]
    pub readonly: bool,
    /// Config file (default $XDG_CONFIG_HOME/kiln/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Also write kiln's diagnostics to this file (secrets scrubbed).
    #[arg(long, global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
}

impl GlobalArgs {
    /// The settings these flags override (settings know nothing of clap).
    pub fn overrides(&self) -> crate::settings::Overrides {
        crate::settings::Overrides {
            os_cloud: self.os_cloud.clone(),
            theme: self.theme.clone(),
            readonly: self.readonly,
            log_file: self.log_file.clone(),
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build an image (the console's Build view; --headless for CI).
    Build(BuildArgs),
    /// Check everything a build needs. Exit 0 when nothing fails, 2 otherwise.
    Preflight(PreflightArgs),
    /// List past builds (newest first).
    History(HistoryArgs),
    /// The console on built-in demo data: no cloud, no packer needed.
    Demo(DemoArgs),
    /// The rke2-node-* images in Glance: age, use, retention verdict, flags.
    Images(ImagesArgs),
    /// What retention would delete (`plan`), or delete it (`apply --yes`).
    Retention(RetentionArgs),
    /// A simulated OpenStack on 127.0.0.1 (prints export lines, a clouds.yaml path, `ready`).
    Sim(crate::sim::SimArgs),
    /// Read nodes over SSH: their image manifest, what they really run, and the drift.
    /// Exit 0 when every node was read without error drift, 1 drift, 2 a node not read.
    Inspect(InspectArgs),
}

/// `kiln images`.
#[derive(Debug, Clone, Args, Default)]
pub struct ImagesArgs {
    /// A JSON array of objects (id, name, series, created_at, age_days, status, size, protected,
    /// fips_enabled, in_use, verdict, reasons, usage_scope, flags).
    #[arg(long)]
    pub json: bool,
    /// Every image the project can see, not only rke2-node-* (the others are never eligible).
    #[arg(long)]
    pub all: bool,
}

/// `kiln retention`.
#[derive(Debug, Clone, Args)]
pub struct RetentionArgs {
    /// plan or apply.
    #[command(subcommand)]
    pub action: RetentionAction,
}

/// What `kiln retention` does.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum RetentionAction {
    /// The images that may be deleted, and why the others stay. Never deletes.
    Plan {
        /// JSON (the same objects as `kiln images --json`, eligible ones first).
        #[arg(long)]
        json: bool,
    },
    /// Deletes the eligible images, each re-checked right before its delete; every attempt is
    /// appended to the audit file. Exit 0 all done, 1 a delete failed, 2 auth or connection.
    Apply {
        /// Really delete (without it, apply refuses).
        #[arg(long)]
        yes: bool,
        /// One JSON object per image on stdout.
        #[arg(long)]
        json: bool,
    },
}

/// `kiln inspect`.
#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// The nodes: HOST or HOST:PORT ([V6]:PORT for IPv6).
    #[arg(required = true, value_name = "HOST[:PORT]", value_parser = crate::node::Target::parse)]
    pub hosts: Vec<crate::node::Target>,
    /// Login name (else [ssh] user in the config, else ubuntu).
    #[arg(long, value_name = "U", value_parser = parse_user)]
    pub user: Option<String>,
    /// Identity file, tried after ssh-agent and before the config's and ~/.ssh/id_* (repeatable).
    #[arg(long, value_name = "F")]
    pub identity: Vec<PathBuf>,
    /// Reach the nodes through this jump host, [USER@]HOST[:PORT].
    #[arg(long, value_name = "J", value_parser = crate::node::JumpHost::parse)]
    pub jump: Option<crate::node::JumpHost>,
    /// known_hosts file (else [ssh] known_hosts in the config, else ~/.ssh/known_hosts).
    #[arg(long, value_name = "F")]
    pub known_hosts: Option<PathBuf>,
    /// Trust and record host keys known_hosts does not hold (a changed key is always refused).
    #[arg(long)]
    pub accept_new: bool,
    /// The manifest's path on the nodes (prepull-failures.txt is read beside it).
    #[arg(long, value_name = "P", default_value = crate::node::options::DEFAULT_MANIFEST_PATH)]
    pub manifest_path: String,
    /// A JSON array, one object per host.
    #[arg(long)]
    pub json: bool,
}

/// `kiln build`.
#[derive(Debug, Clone, Args, Default)]
pub struct BuildArgs {
    /// No console: plain progress lines (or JSON lines with --json).
    #[arg(long)]
    pub headless: bool,
    /// One JSON object per line on stdout (implies --headless).
    #[arg(long)]
    pub json: bool,
    /// Start without running the preflight checks.
    #[arg(long)]
    pub skip_preflight: bool,
    /// Build the FIPS variant (passes -var fips_enabled=true).
    #[arg(long)]
    pub fips: bool,
    /// Accept that a FIPS build from a non-Ubuntu-Pro image is NOT FIPS-validated.
    #[arg(long)]
    pub allow_unvalidated_fips: bool,
    /// A packer variable, KEY=VALUE (repeatable).
    #[arg(long = "var", value_name = "K=V", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// A packer variables file (repeatable).
    #[arg(long = "var-file", value_name = "PATH")]
    pub var_files: Vec<PathBuf>,
    /// The Packer template (default stages/rke2-node.pkr.hcl).
    #[arg(long, value_name = "PATH")]
    pub template: Option<PathBuf>,
}

impl BuildArgs {
    /// The build these flags ask for.
    pub fn choices(&self) -> crate::bake::request::BuildChoices {
        crate::bake::request::BuildChoices {
            vars: self.vars.clone(),
            var_files: self.var_files.clone(),
            fips: self.fips,
            template: self.template.clone(),
        }
    }
}

/// `kiln preflight`.
#[derive(Debug, Clone, Args, Default)]
pub struct PreflightArgs {
    /// Also check what a FIPS build needs.
    #[arg(long)]
    pub fips: bool,
    /// Treat a non-Pro source image for FIPS as a warning.
    #[arg(long)]
    pub allow_unvalidated_fips: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// A packer variable, KEY=VALUE (repeatable), e.g. source_image_name.
    #[arg(long = "var", value_name = "K=V", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// The Packer template (default stages/rke2-node.pkr.hcl).
    #[arg(long, value_name = "PATH")]
    pub template: Option<PathBuf>,
}

/// `kiln history`.
#[derive(Debug, Clone, Args, Default)]
pub struct HistoryArgs {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// `kiln demo`.
#[derive(Debug, Clone, Args, Default)]
pub struct DemoArgs {
    /// Replay speed factor, more than 0 and at most 1000 (1 = real time; default 20). `+`/`-`
    /// change it in the console.
    #[arg(long, value_parser = parse_speed)]
    pub speed: Option<f64>,
    /// Print the demo build's events instead of starting the console (with --json: JSON lines).
    #[arg(long)]
    pub headless: bool,
    /// JSON lines (with --headless).
    #[arg(long)]
    pub json: bool,
    /// Which recorded build to replay headless: success or failed.
    #[arg(long, default_value = "success")]
    pub replay: String,
}

/// A login name for --user.
pub fn parse_user(s: &str) -> Result<String, String> {
    if crate::node::target::valid_user(s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{s}` is not a login name (letters, digits, `._-`)"
        ))
    }
}

/// Parses a replay speed: a number in (0, 1000].
pub fn parse_speed(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    crate::settings::config::check_speed(v)
}

/// Parses `KEY=VALUE`.
pub fn parse_var(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v))
            if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            Ok((k.to_string(), v.to_string()))
        }
        _ => Err(format!("`{s}` is not KEY=VALUE (KEY: letters, digits, _)")),
    }
}
