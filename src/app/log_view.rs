//! The Log tab: kiln's own diagnostics and those of the crates it uses (tui-logger), with a level
//! per target.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::state::App;

/// Draws the Log view.
pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let widget = tui_logger::TuiLoggerSmartWidget::default()
        .style(t.style("text"))
        .style_error(t.style("error"))
        .style_warn(t.style("warning"))
        .style_info(t.style("text"))
        .style_debug(t.style("dim"))
        .style_trace(t.style("dim"))
        .border_style(t.style("border"))
        .highlight_style(t.style("selection"))
        .title_target("Targets (h hides)")
        .title_log("kiln diagnostics")
        .output_timestamp(Some("%H:%M:%S".into()))
        .output_target(true)
        .output_file(false)
        .output_line(false)
        .state(&app.logger);
    frame.render_widget(widget, area);
}
