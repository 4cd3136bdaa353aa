//! The queries behind `/streak`, `/leaderboard` and recording one answer, on a
//! channel with 100,000 members and 10,000 or 1,000,000 stored answers: their cost
//! must not grow with the number of answers (tests/query_plans.rs checks the plans;
//! this measures them). `cargo bench --bench store`; the figures go to
//! BENCHMARKS.md.
//!
//! The history is built through the practice layer (drops claimed, posted and
//! revealed) and the store's own functions (answers and member stats written in
//! large transactions, which the bot never needs but a million answers do).

use std::cell::Cell;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use prepbot_core::bank::{PoolFilter, QuestionBank};
use prepbot_core::engine::schedule::Days;
use prepbot_core::engine::streak::MemberStreak;
use prepbot_core::practice::{ChannelSetup, IncomingMessage, Practice};
use prepbot_core::store::Store;
use prepbot_core::store::answers::{self, StoredAnswer};
use prepbot_core::store::member_stats::{self, MemberStats};
use prepbot_devtools::hotpaths::write_generated_bank;
use tokio::runtime::Runtime;

const CHANNEL: u64 = 1_000;
const MEMBERS: u64 = 100_000;
const ANSWERS_PER_DROP: u64 = 1_000;

/// A channel with `drops` revealed drops of 1,000 answers each, 100,000 members
/// with stats, and one open drop to answer.
struct Seeded {
    practice: Practice,
    /// The channel's key.
    key: i64,
    thread: u64,
    open_at: DateTime<Utc>,
    next_message: Cell<u64>,
    _dir: tempfile::TempDir,
}

fn start() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(2024, 1, 1)
        .expect("a date")
        .and_time(NaiveTime::MIN)
        .and_utc()
}

/// A fixed pseudo-random sequence, so every run builds the same database.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

async fn seed(drops: u64) -> Seeded {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let questions = dir.path().join("questions");
    write_generated_bank(&questions, 50).expect("writing a bank");
    let bank = QuestionBank::load(&questions).expect("the generated bank is valid");
    let store = Store::open_path(&dir.path().join("bench.db"))
        .await
        .expect("opening the store");
    let practice = Practice::new(store.clone(), Arc::new(bank));
    let setup = ChannelSetup {
        address: prepbot_core::chat::ChannelAddress::new(
            prepbot_core::chat::Platform::Discord,
            "1",
            CHANNEL.to_string(),
        ),
        name: None,
        time: NaiveTime::from_hms_opt(9, 0, 0).expect("a time"),
        zone: chrono_tz::UTC,
        days: Days::DAILY,
        reveal_after_hours: 8,
        pool: PoolFilter::default(),
    };
    let (channel, _) = practice
        .setup_channel(setup, 1, start())
        .await
        .expect("setting up the channel");
    let key = channel.key;

    let mut rng = Lcg(7);
    let mut message_id = 1_000_000_000u64;
    let body = "A considered answer about trade-offs, failure modes and numbers. ".repeat(4);
    for day in 0..=drops {
        let at = start() + Duration::days(day as i64) + Duration::hours(9);
        let claimed = practice
            .claim_scheduled_drop(key, at)
            .await
            .expect("claiming")
            .expect("a drop is due");
        message_id += 1;
        let drop = practice
            .mark_posted(
                claimed.drop.id,
                &message_id.to_string(),
                &message_id.to_string(),
                at,
            )
            .await
            .expect("posting");
        if day == drops {
            // The open drop the recording bench answers.
            return Seeded {
                practice,
                key,
                thread: message_id,
                open_at: at,
                next_message: Cell::new(message_id + 1),
                _dir: dir,
            };
        }
        practice
            .mark_revealed(drop.id, at + Duration::hours(8))
            .await
            .expect("revealing");
        // Stored after the reveal so they are not settled one by one (the member
        // stats are written below); posted before it, like on-time answers.
        let mut tx = store.write().await.expect("a write transaction");
        for k in 0..ANSWERS_PER_DROP {
            message_id += 1;
            let member = 1 + rng.next(MEMBERS);
            let answer = StoredAnswer {
                channel_id: key,
                message_id: message_id.to_string(),
                drop_id: drop.id,
                member_id: member.to_string(),
                member_name: format!("member{member}"),
                body: body.clone(),
                posted_at: at + Duration::seconds(k as i64 * 20),
                edited_at: None,
                withdrawn_at: None,
            };
            answers::insert(&mut tx, &answer)
                .await
                .expect("storing an answer");
        }
        tx.commit().await.expect("committing answers");
        if day == 0 {
            // Member stats once, for every member: most streaks are stale (their
            // last on-time answer is up to 50 drops old), about 2% are current.
            let mut tx = store.write().await.expect("a write transaction");
            let latest = drops as u32;
            for member in 1..=MEMBERS {
                let stats = MemberStats {
                    channel_id: key,
                    member_id: member.to_string(),
                    member_name: format!("member{member}"),
                    streak: MemberStreak {
                        current: 1 + rng.next(30) as u32,
                        best: 30,
                        total_on_time: rng.next(drops.max(1)) as u32,
                        last_seq: latest.saturating_sub(rng.next(50) as u32).max(1),
                        last_answered_at: at,
                    },
                };
                member_stats::upsert(&mut tx, &stats)
                    .await
                    .expect("storing member stats");
            }
            tx.commit().await.expect("committing member stats");
        }
    }
    unreachable!("the loop returns at its last day")
}

fn store(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let sizes = [(10u64, "10k answers"), (1_000, "1M answers")];
    let mut seeded = Vec::new();
    for (drops, label) in sizes {
        let t = Instant::now();
        seeded.push((label, rt.block_on(seed(drops))));
        eprintln!(
            "seeded {label} ({} drops, {MEMBERS} members) in {:.1} s",
            drops + 1,
            t.elapsed().as_secs_f64()
        );
    }

    let mut group = c.benchmark_group("store");
    group.sample_size(50);
    for (label, s) in &seeded {
        group.bench_with_input(BenchmarkId::new("streak", label), s, |b, s| {
            b.iter(|| run(&rt, s.practice.streak(s.key, "42")))
        });
    }
    for (label, s) in &seeded {
        group.bench_with_input(BenchmarkId::new("leaderboard top 10", label), s, |b, s| {
            b.iter(|| run(&rt, s.practice.leaderboard(s.key, 10)))
        });
    }
    // The leaderboard's first walk skips members whose streak is not current; it
    // does most work when nobody's is (the day after a drop nobody answered).
    for (label, s) in &seeded {
        group.bench_with_input(
            BenchmarkId::new("leaderboard top 10, no current streak", label),
            s,
            |b, s| {
                b.iter(|| {
                    rt.block_on(async {
                        let mut conn = s.practice.store().read().await.expect("a connection");
                        member_stats::leaderboard(&mut conn, s.key, u32::MAX, 10)
                            .await
                            .expect("the query ran")
                    })
                })
            },
        );
    }
    for (label, s) in &seeded {
        group.bench_with_input(BenchmarkId::new("record one answer", label), s, |b, s| {
            b.iter(|| {
                let id = s.next_message.get();
                s.next_message.set(id + 1);
                let recorded = run(
                    &rt,
                    s.practice.record_message(IncomingMessage {
                        thread: prepbot_core::chat::ThreadRef::new(
                            prepbot_core::chat::Platform::Discord,
                            s.thread.to_string(),
                        ),
                        message_id: id.to_string(),
                        member_id: (1 + id % MEMBERS).to_string(),
                        member_name: "bench".into(),
                        body: "x".repeat(300),
                        posted_at: s.open_at + Duration::minutes(1),
                    }),
                );
                assert!(recorded.is_some_and(|r| r.new), "the answer was stored");
            })
        });
    }
    group.finish();
}

fn run<T>(
    rt: &Runtime,
    f: impl std::future::Future<Output = Result<T, prepbot_core::practice::PracticeError>>,
) -> T {
    rt.block_on(f).expect("the query ran")
}

criterion_group!(benches, store);
criterion_main!(benches);
