//! Where kiln keeps things, by the XDG base directory spec, read from an injected environment.

use std::path::PathBuf;

/// kiln's directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// `$XDG_CONFIG_HOME/kiln` (config.toml, themes/).
    pub config_dir: PathBuf,
    /// `$XDG_STATE_HOME/kiln` (builds/).
    pub state_dir: PathBuf,
}

impl Paths {
    /// From an environment lookup (`std::env::var` in the binary, a map in tests).
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Self {
        let home = env("HOME").unwrap_or_else(|| ".".into());
        let base = |var: &str, fallback: &str| {
            env(var)
                .filter(|v| v.starts_with('/'))
                .map_or_else(|| PathBuf::from(&home).join(fallback), PathBuf::from)
        };
        Paths {
            config_dir: base("XDG_CONFIG_HOME", ".config").join("kiln"),
            state_dir: base("XDG_STATE_HOME", ".local/state").join("kiln"),
        }
    }

    /// The default config file.
    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }

    /// Where build records go.
    pub fn builds_dir(&self) -> PathBuf {
        self.state_dir.join("builds")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdg_vars_win_over_home() {
        let p = Paths::from_env(&|k| match k {
            "HOME" => Some("/home/op".into()),
            "XDG_STATE_HOME" => Some("/var/state".into()),
            _ => None,
        });
        assert_eq!(
            p.config_file(),
            PathBuf::from("/home/op/.config/kiln/config.toml")
        );
        assert_eq!(p.builds_dir(), PathBuf::from("/var/state/kiln/builds"));
    }
}
