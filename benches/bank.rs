//! Loading and validating the shipped bank (budget: under 30 ms) and a generated
//! bank of 1,000 questions (under 200 ms), relevance search over both, and the
//! search latency distribution over the shipped bank (p99 budget: under 1 ms).
//! `cargo bench --bench bank`; the figures go to BENCHMARKS.md.
//!
//! Baseline in the same run: reading the shipped bank's files without parsing
//! them, the I/O floor under "load + validate".

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use prepbot_core::bank::QuestionBank;
use prepbot_devtools::hotpaths::write_generated_bank;

const QUESTIONS: usize = 1_000;

const QUERIES: [&str; 8] = prepbot_devtools::hotpaths::SEARCH_QUERIES;

/// What people type at the shipped bank: the shared queries, plus aliases, a
/// topic name and a multi-word alias, which take the slower paths.
const SHIPPED_QUERIES: [&str; 14] = [
    QUERIES[0],
    QUERIES[1],
    QUERIES[2],
    QUERIES[3],
    QUERIES[4],
    QUERIES[5],
    QUERIES[6],
    QUERIES[7],
    "k8s",
    "star method",
    "caching",
    "sql injection",
    "retries with backoff",
    "distributed systems",
];

fn shipped_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("questions")
}

/// Every file under the bank, read whole: what loading costs before parsing.
fn read_all(dir: &Path) -> usize {
    let mut bytes = 0;
    for topic in std::fs::read_dir(dir).expect("bank dir").flatten() {
        if let Ok(files) = std::fs::read_dir(topic.path()) {
            for f in files.flatten() {
                bytes += std::fs::read(f.path()).map_or(0, |b| b.len());
            }
        }
    }
    bytes
}

fn shipped(c: &mut Criterion) {
    let dir = shipped_dir();
    let bank = QuestionBank::load(&dir).expect("the shipped bank is valid");
    let n = bank.len();
    let mut group = c.benchmark_group("shipped bank");
    group.sample_size(30);
    group.bench_function(format!("baseline: read the {n} files"), |b| {
        b.iter(|| read_all(black_box(&dir)))
    });
    group.bench_function(format!("load + validate {n} questions"), |b| {
        b.iter(|| QuestionBank::load(&dir).expect("the shipped bank is valid"))
    });
    let mut i = 0;
    group.bench_function(
        format!("relevance search, top 5, over {n} questions"),
        |b| {
            b.iter(|| {
                i += 1;
                bank.search(SHIPPED_QUERIES[i % SHIPPED_QUERIES.len()], 5)
            })
        },
    );
    group.finish();
}

fn generated(c: &mut Criterion) {
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

/// Criterion reports means; the budget is on the tail, so time single searches.
fn search_latency_percentiles() {
    let bank = QuestionBank::load(&shipped_dir()).expect("the shipped bank is valid");
    const ROUNDS: usize = 2_000;
    let mut times: Vec<Duration> = Vec::with_capacity(ROUNDS * SHIPPED_QUERIES.len());
    for _ in 0..ROUNDS {
        for q in SHIPPED_QUERIES {
            let start = Instant::now();
            black_box(bank.search(black_box(q), 5));
            times.push(start.elapsed());
        }
    }
    times.sort_unstable();
    let at = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
    println!(
        "shipped bank search ({} questions, {} searches): p50 {:?}, p99 {:?}, max {:?}",
        bank.len(),
        times.len(),
        at(0.50),
        at(0.99),
        times[times.len() - 1]
    );
}

criterion_group!(benches, shipped, generated);

fn main() {
    benches();
    search_latency_percentiles();
    Criterion::default().configure_from_args().final_summary();
}
