//! The console under a log flood: 1,000,000 lines ingested at 50,000 lines/s (800 lines per
//! 16 ms frame) while the Build view renders every frame to a 160x48 TestBackend. Reports frame
//! time percentiles (routing + folding + drawing; goal p99 < 16 ms) and the process RSS after
//! the million lines (goal < 64 MB: memory stays bounded however long the build).
//!
//! Run: `cargo bench --bench ui_flood`.

#[path = "support.rs"]
mod support;

use std::time::{Duration, Instant};

use kiln::app::Init;
use kiln::app::page::Shared;
use kiln::app::shell::App;
use kiln::app::views::{ViewId, Views, bake};
use kiln::bake::plan::{PIPELINE_SCRIPTS, StagePlan};
use kiln::bake::record::FipsRecord;
use kiln::bake::router::StageRouter;
use kiln::bake::state::BuildState;
use kiln::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const LINES: usize = 1_000_000;
const RATE: usize = 50_000;
const FRAME: Duration = Duration::from_millis(16);

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would pass nothing: run quickly then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let total = if quick { 20_000 } else { LINES };
    // Lines are generated as they are fed (cycling through the real transcript), so the RSS
    // figure is kiln's state, not the bench's input.
    let base = support::base_lines();
    let rss_start = rss_kib();
    let now = chrono::Utc::now();
    let plan = StagePlan::new(PIPELINE_SCRIPTS);
    let mut router = StageRouter::new(plan.clone(), now);
    let theme = Theme::builtin_default(false);
    let mut app = App::new(
        Views::new(&Init::default()),
        Shared::new(theme, false, false, now),
        ViewId::Build,
    );
    app.on_event(
        bake::Event::Planned {
            state: Box::new(BuildState::new(&plan, now)),
            fips: FipsRecord::default(),
            expected_image: "rke2-node-v1.28-bench".into(),
        }
        .into(),
    );
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).expect("test backend");
    let per_frame = RATE * FRAME.as_millis() as usize / 1000;
    let mut frame_times = Vec::with_capacity(total / per_frame + 1);
    let started = Instant::now();
    for n in 0..total.div_ceil(per_frame) {
        let deadline = started + FRAME * (n as u32 + 1);
        let t = Instant::now();
        let mut events = Vec::with_capacity(per_frame * 2);
        for i in n * per_frame..((n + 1) * per_frame).min(total) {
            router.route_stdout(base[i % base.len()], now, &mut events);
        }
        app.on_event(bake::Event::Batch(events).into());
        terminal
            .draw(|f| kiln::app::chrome::draw(&app, f, now))
            .expect("draw");
        frame_times.push(t.elapsed());
        if !quick {
            std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
        }
    }
    let wall = started.elapsed();
    frame_times.sort();
    let pct =
        |p: f64| frame_times[((frame_times.len() as f64 * p) as usize).min(frame_times.len() - 1)];
    let rss_end = rss_kib();
    println!(
        "ui_flood: {total} lines in {} frames of {per_frame} lines, wall {:.1}s ({:.0} lines/s)",
        frame_times.len(),
        wall.as_secs_f64(),
        total as f64 / wall.as_secs_f64()
    );
    println!(
        "ui_flood: frame time p50 {:?}  p99 {:?}  max {:?}  (goal p99 < 16ms)",
        pct(0.50),
        pct(0.99),
        frame_times[frame_times.len() - 1]
    );
    println!(
        "ui_flood: RSS {} KiB at start, {} KiB after {total} lines (goal < 65536 KiB)",
        rss_start, rss_end
    );
    let held: usize = app
        .views
        .bake
        .run
        .as_ref()
        .map_or(0, |r| r.state.stages.iter().map(|s| s.log.len()).sum());
    println!("ui_flood: lines held in memory: {held} (bounded per stage)");
}
