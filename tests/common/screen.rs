//! Rendering the console for snapshots, with its styles: a probe theme gives every named style a
//! colour of its own, so each screen line is followed by the runs of named styles on it
//! (`[2..24 stage_failed]`, `[0..60 text/selection]`). A view that draws a failed stage in the
//! `stage_ok` style, or a list without its selection, changes the snapshot.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use kiln::app::shell::App;
use kiln::theme::{STYLE_NAMES, Theme};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;

/// A theme where style number i has foreground colour 16 + i, and background 120 + i for the
/// styles that set a background in the built-in themes.
pub fn probe_theme() -> Theme {
    let mut text = String::from("[styles]\n");
    for (i, name) in STYLE_NAMES.iter().enumerate() {
        let bg = if ["selection", "tab_active", "status_bar"].contains(name) {
            format!(", bg = \"{}\"", 120 + i)
        } else {
            String::new()
        };
        writeln!(text, "{name} = {{ fg = \"{}\"{bg} }}", 16 + i).unwrap();
    }
    Theme::from_text("probe", &text, "<probe>", false).unwrap()
}

fn name_of(color: Color, base: u8) -> Option<&'static str> {
    match color {
        Color::Indexed(n) if n >= base => STYLE_NAMES.get((n - base) as usize).copied(),
        _ => None,
    }
}

/// The screen as text, each line followed by the runs of named styles on it.
pub fn styled(buffer: &Buffer) -> String {
    let area = buffer.area;
    let mut out = String::new();
    for y in 0..area.height {
        let mut line = String::new();
        let mut runs: Vec<(u16, u16, String)> = Vec::new();
        for x in 0..area.width {
            let cell = &buffer[(x, y)];
            line.push_str(cell.symbol());
            let fg = name_of(cell.fg, 16);
            let bg = name_of(cell.bg, 120);
            let label = match (fg, bg) {
                (Some(f), Some(b)) => format!("{f}/{b}"),
                (Some(f), None) => f.to_string(),
                (None, Some(b)) => format!("-/{b}"),
                (None, None) => String::new(),
            };
            match runs.last_mut() {
                Some((_, end, l)) if *l == label && *end == x => *end = x + 1,
                _ => runs.push((x, x + 1, label)),
            }
        }
        writeln!(out, "{}", line.trim_end()).unwrap();
        let marks: Vec<String> = runs
            .into_iter()
            .filter(|(_, _, l)| !l.is_empty() && l != "text")
            .map(|(s, e, l)| format!("[{s}..{e} {l}]"))
            .collect();
        if !marks.is_empty() {
            writeln!(out, "    {}", marks.join(" ")).unwrap();
        }
    }
    out
}

/// Draws the whole console on a `width` x `height` test terminal at `now`.
pub fn render(app: &App, now: DateTime<Utc>, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|f| kiln::app::chrome::draw(app, f, now))
        .unwrap();
    terminal
}
