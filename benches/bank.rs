//! Loading and validating a generated bank of 1,000 questions (budget: under
//! 200 ms), and a relevance search over it. `cargo bench --bench bank`; the figures
//! go to BENCHMARKS.md.

use criterion::{Criterion, criterion_group, criterion_main};
use prepbot::bank::QuestionBank;
use prepbot::bench::write_generated_bank;

const QUESTIONS: usize = 1_000;

const QUERIES: [&str; 8] = prepbot::bench::SEARCH_QUERIES;

fn bank(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    write_generated_bank(dir.path(), QUESTIONS).expect("writing the generated bank");
    let bank = QuestionBank::load(dir.path()).expect("the generated bank is valid");
    assert_eq!(bank.len(), QUESTIONS);

    let mut group = c.benchmark_group("bank");
    group.sample_size(30);
    group.bench_function("load + validate 1,000 generated questions", |b| {
        b.iter(|| QuestionBank::load(dir.path()).expect("the generated bank is valid"))
    });
    let mut i = 0;
    group.bench_function("relevance search, top 5, over 1,000 questions", |b| {
        b.iter(|| {
            i += 1;
            bank.search(QUERIES[i % QUERIES.len()], 5)
        })
    });
    group.finish();
}

criterion_group!(benches, bank);
criterion_main!(benches);
