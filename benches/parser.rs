//! Parser benchmark: wordwire's `parse_head` against `httparse::Request::parse`
//! on the five inputs of issue 6. Run with `cargo bench --bench parser`.
//!
//! Each input is parsed whole per iteration; the pipeline case parses all 16
//! heads in a loop, so its time divided by 16 is the time per request. httparse
//! only splits the head into slices, while `parse_head` also checks the target,
//! Host, framing and the fields wordwire uses: the comparison is what a server
//! built on each would pay to get a usable head.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "parser/inputs.rs"]
mod inputs;
use inputs::{ours, theirs};

fn parsers(c: &mut Criterion) {
    for (name, input, requests) in inputs::all() {
        let input = &input[..];
        let requests = requests as u64;
        assert_eq!(ours(input), requests as usize);
        assert_eq!(theirs(input), requests as usize);
        let mut group = c.benchmark_group(name);
        // Elements = requests, so criterion's throughput line reads as requests/s.
        group.throughput(Throughput::Elements(requests));
        group.bench_function("wordwire", |b| b.iter(|| ours(black_box(input))));
        group.bench_function("httparse", |b| b.iter(|| theirs(black_box(input))));
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = parsers
}
criterion_main!(benches);
