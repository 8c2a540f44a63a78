//! Themes: styles named by meaning, loaded from TOML. A theme may be partial (the rest comes from
//! the built-in default); NO_COLOR drops colours but keeps emphasis; a broken theme is an error
//! naming the file, line and key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

use crate::settings::toml_error::locate;

const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../themes/default.toml")),
    ("light", include_str!("../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../themes/high-contrast.toml"),
    ),
];

/// Every style a theme can set.
pub const STYLE_NAMES: &[&str] = &[
    "text",
    "dim",
    "title",
    "border",
    "border_focused",
    "tab_active",
    "tab_inactive",
    "selection",
    "key_hint",
    "status_bar",
    "stage_pending",
    "stage_running",
    "stage_ok",
    "stage_failed",
    "stage_skipped",
    "progress",
    "warning",
    "error",
    "ok",
    "log_err",
    "flag_in_use",
    "flag_protected",
    "flag_expired",
];

/// A theme that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    /// No built-in or file theme of that name.
    #[error(
        "theme `{name}` not found (built-in: default, light, high-contrast; or {dir}/<name>.toml, or a path)"
    )]
    NotFound {
        /// The name asked for.
        name: String,
        /// The user theme directory.
        dir: String,
    },
    /// The file could not be read.
    #[error("theme file {path}: {cause}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The file is not a valid theme.
    #[error("theme file {path}, line {line}, key `{key}`: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// The key at fault.
        key: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    #[serde(default)]
    styles: BTreeMap<String, StyleSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    italic: bool,
    #[serde(default)]
    underlined: bool,
    #[serde(default)]
    reversed: bool,
    #[serde(default)]
    dim: bool,
}

/// A resolved theme.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    /// The theme's name.
    pub name: String,
    styles: BTreeMap<&'static str, Style>,
}

impl Theme {
    /// The style for a meaning; unknown names get the plain style.
    pub fn style(&self, name: &str) -> Style {
        self.styles.get(name).copied().unwrap_or_default()
    }

    /// The built-in default theme.
    pub fn builtin_default(no_color: bool) -> Theme {
        // The embedded default is tested to parse; fall back to plain styles rather than panic.
        Theme::from_text("default", BUILTIN[0].1, "<built-in default>", no_color).unwrap_or_else(
            |_| Theme {
                name: "default".into(),
                styles: BTreeMap::new(),
            },
        )
    }

    /// Loads a theme by name or path. Search order: a path (contains `/` or ends in `.toml`),
    /// `<user_dir>/<name>.toml`, the built-ins.
    pub fn load(name: &str, user_dir: &Path, no_color: bool) -> Result<Theme, ThemeError> {
        let as_path = Path::new(name);
        let file = if name.contains('/') || name.ends_with(".toml") {
            Some(as_path.to_path_buf())
        } else {
            let p = user_dir.join(format!("{name}.toml"));
            p.exists().then_some(p)
        };
        if let Some(path) = file {
            let text =
                crate::settings::files::read_regular(&path).map_err(|source| ThemeError::Read {
                    path: path.clone(),
                    cause: source,
                })?;
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or(name)
                .to_string();
            return Theme::from_text(&stem, &text, &path.display().to_string(), no_color);
        }
        match BUILTIN.iter().find(|(n, _)| *n == name) {
            Some((n, text)) => Theme::from_text(n, text, &format!("<built-in {n}>"), no_color),
            None => Err(ThemeError::NotFound {
                name: name.into(),
                dir: user_dir.display().to_string(),
            }),
        }
    }

    /// Parses theme text over the built-in default.
    pub fn from_text(
        name: &str,
        text: &str,
        origin: &str,
        no_color: bool,
    ) -> Result<Theme, ThemeError> {
        let mut specs: BTreeMap<String, StyleSpec> = BTreeMap::new();
        for (src, origin) in [(BUILTIN[0].1, "<built-in default>"), (text, origin)] {
            let file: ThemeFile = toml::from_str(src).map_err(|e| {
                let (line, key) = e
                    .span()
                    .map_or((1, String::new()), |s| locate(src, s.start));
                ThemeError::Invalid {
                    path: origin.into(),
                    line,
                    key,
                    message: e.message().to_string(),
                }
            })?;
            for (k, v) in file.styles {
                if !STYLE_NAMES.contains(&k.as_str()) {
                    let line = src
                        .lines()
                        .position(|l| l.trim_start().starts_with(&k))
                        .map_or(1, |i| i + 1);
                    return Err(ThemeError::Invalid {
                        path: origin.into(),
                        line,
                        key: k,
                        message: format!("unknown style; known styles: {}", STYLE_NAMES.join(", ")),
                    });
                }
                specs.insert(k, v);
            }
        }
        let mut styles = BTreeMap::new();
        for name_ in STYLE_NAMES {
            let spec = specs.get(*name_).cloned().unwrap_or_default();
            let style =
                to_style(&spec, no_color).map_err(|(key, message)| ThemeError::Invalid {
                    path: origin.into(),
                    line: text
                        .lines()
                        .position(|l| l.trim_start().starts_with(name_))
                        .map_or(1, |i| i + 1),
                    key: format!("{name_}.{key}"),
                    message,
                })?;
            styles.insert(*name_, style);
        }
        Ok(Theme {
            name: name.into(),
            styles,
        })
    }
}

fn to_style(spec: &StyleSpec, no_color: bool) -> Result<Style, (&'static str, String)> {
    let mut style = Style::default();
    let color = |v: &str| {
        Color::from_str(v).map_err(|_| format!("`{v}` is not a colour (a name, #rrggbb or 0-255)"))
    };
    if let Some(fg) = &spec.fg {
        let c = color(fg).map_err(|m| ("fg", m))?;
        if !no_color {
            style = style.fg(c);
        }
    }
    if let Some(bg) = &spec.bg {
        let c = color(bg).map_err(|m| ("bg", m))?;
        if !no_color {
            style = style.bg(c);
        }
    }
    for (on, m) in [
        (spec.bold, Modifier::BOLD),
        (spec.italic, Modifier::ITALIC),
        (spec.underlined, Modifier::UNDERLINED),
        (spec.reversed, Modifier::REVERSED),
        (spec.dim, Modifier::DIM),
    ] {
        if on {
            style = style.add_modifier(m);
        }
    }
    // Without colour, a selection must still show: reverse it.
    if no_color && spec.bg.is_some() && !spec.reversed {
        style = style.add_modifier(Modifier::REVERSED);
    }
    Ok(style)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse() {
        for (n, _) in BUILTIN {
            let t = Theme::load(n, Path::new("/nonexistent"), false).unwrap();
            assert_eq!(t.name, *n);
        }
    }

    #[test]
    fn partial_theme_falls_back_to_default() {
        let t = Theme::from_text(
            "mine",
            "[styles]\nstage_ok = { fg = \"blue\" }\n",
            "mine.toml",
            false,
        )
        .unwrap();
        assert_eq!(t.style("stage_ok").fg, Some(Color::Blue));
        assert_eq!(
            t.style("stage_failed"),
            Theme::builtin_default(false).style("stage_failed")
        );
    }

    #[test]
    fn no_color_keeps_emphasis_only() {
        let t = Theme::load("default", Path::new("/x"), true).unwrap();
        let s = t.style("stage_failed");
        assert_eq!(s.fg, None);
        assert!(s.add_modifier.contains(Modifier::BOLD));
        assert!(
            t.style("selection")
                .add_modifier
                .contains(Modifier::REVERSED)
        );
    }

    #[test]
    fn broken_themes_are_clear_errors() {
        let e = Theme::from_text(
            "x",
            "[styles]\nstage_ok = { fg = \"notacolour\" }\n",
            "x.toml",
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("x.toml") && e.contains("line 2") && e.contains("stage_ok.fg"),
            "{e}"
        );
        let e = Theme::from_text(
            "x",
            "[styles]\nstage_okay = { fg = \"red\" }\n",
            "x.toml",
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("`stage_okay`") && e.contains("line 2"), "{e}");
        let e = Theme::from_text("x", "[styles\n", "x.toml", false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.toml") && e.contains("line 1"), "{e}");
        assert!(matches!(
            Theme::load("nope", Path::new("/x"), false),
            Err(ThemeError::NotFound { .. })
        ));
    }
}
