//! Parser plus stage routing throughput over a 1,000,000-line transcript (goal: >= 1,000,000
//! lines/s). Events are drained every 2,048 lines, as the session does.

#[path = "support.rs"]
mod support;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kiln::bake::plan::{PIPELINE_SCRIPTS, StagePlan};
use kiln::bake::router::StageRouter;

const LINES: usize = 1_000_000;

fn parse_and_route(c: &mut Criterion) {
    // The real success transcript repeated: each repetition re-enters every stage.
    let base = support::base_lines();
    let lines: Vec<String> = (0..LINES)
        .map(|i| base[i % base.len()].to_string())
        .collect();
    let at = chrono::Utc::now();
    let mut group = c.benchmark_group("parser");
    group.throughput(Throughput::Elements(LINES as u64));
    group.sample_size(10);
    group.bench_function("parse_and_route_1M_lines", |b| {
        b.iter(|| {
            let mut router = StageRouter::new(StagePlan::new(PIPELINE_SCRIPTS), at);
            let mut events = Vec::with_capacity(4096);
            let mut count = 0usize;
            for (i, line) in lines.iter().enumerate() {
                router.route_stdout(line, at, &mut events);
                if i % 2048 == 0 {
                    count += events.len();
                    events.clear();
                }
            }
            std::hint::black_box(count + events.len())
        });
    });
    group.bench_function("parse_only_1M_lines", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for line in &lines {
                if let kiln::bake::machine_readable::Record::Ui { text, .. } =
                    kiln::bake::machine_readable::parse_line(line).record
                {
                    n += text.len();
                }
            }
            std::hint::black_box(n)
        });
    });
    group.finish();
}

criterion_group!(benches, parse_and_route);
criterion_main!(benches);
