//! `prepbot-dev bench`: timings of the hot paths, measured in-process on the real code
//! (no timing assertions live in the tests; figures go to BENCHMARKS.md).
//!
//! - bank: load and validate the whole bank; one relevance search.
//! - engine: one drop-instant computation across zones; splitting a long reveal.
//! - store: recording one answer; settling a reveal with 20 answerers, on a channel
//!   with a short history and with a long one (settling must not grow with history);
//!   one scheduler agenda over 100 channels.
//! - ingest: 10,000 answers from 64 concurrent submitters through the answer writer
//!   (group commit), against one transaction per answer; with `synchronous` NORMAL
//!   (what the bot runs) and FULL.
//!
//! [`write_generated_bank`] writes a large valid bank for the Criterion benches
//! (`benches/`) and any other harness that needs more questions than ship.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use anyhow::Context;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

use prepbot_core::bank::{PoolFilter, QuestionBank};
use prepbot_core::chat::{ChannelAddress, Platform, ThreadRef};
use prepbot_core::engine::reveal::{DropPost, RevealContent};
use prepbot_core::engine::schedule::{Days, Schedule, parse_zone};
use prepbot_core::engine::split::split;
use prepbot_core::ingest::AnswerWriter;
use prepbot_core::practice::{AnswerEvent, ChannelSetup, IncomingMessage, Practice};

/// A benchmark channel's address (Discord-shaped ids, as the load harness uses).
fn bench_channel(workspace: u64, channel: u64) -> ChannelAddress {
    ChannelAddress::new(
        Platform::Discord,
        workspace.to_string(),
        channel.to_string(),
    )
}
use prepbot_core::ports::{Outbound, OutboundError, PostedDrop};
use prepbot_core::scheduler::run_due;
use prepbot_core::store::Store;

/// Topics of the generated bank: the shipped ones, so pools and search behave as
/// they would on a real pack.
const GENERATED_TOPICS: [&str; 10] = [
    "apis",
    "architecture",
    "behavioral",
    "caching",
    "culture-fit",
    "databases",
    "devops",
    "distributed-systems",
    "observability",
    "security",
];

/// Words the generated text is drawn from: enough distinct terms that a relevance
/// search has real work to do (term maps of many sizes, prefixes shared by many).
const GENERATED_WORDS: &str = "cache invalidation ttl stampede redis replica leader follower \
     quorum partition consensus raft paxos latency throughput backpressure queue kafka consumer \
     producer offset idempotency retry timeout circuit breaker bulkhead rate limit \
     token bucket jwt oauth session cookie tls certificate rotation secret index \
     postgres mysql query planner vacuum migration schema column shard rebalance \
     hash ring consistent eventual linearizable snapshot isolation deadlock lock \
     lease heartbeat failover deploy canary rollback feature flag metric trace span \
     log alert slo budget pager incident postmortem capacity autoscaling container \
     kubernetes pod node network dns load balancer gateway pagination cursor \
     versioning webhook grpc protobuf stakeholder mentoring";

const GENERATED_FILLER: &str =
    "the a when under with because so before after every one two per at of for";

/// A small deterministic generator, so every run writes the same bank.
struct Words {
    state: u64,
    words: Vec<&'static str>,
    filler: Vec<&'static str>,
}

impl Words {
    fn new(seed: u64) -> Self {
        Words {
            state: seed,
            words: GENERATED_WORDS.split_whitespace().collect(),
            filler: GENERATED_FILLER.split_whitespace().collect(),
        }
    }

    fn next(&mut self, n: usize) -> usize {
        self.state = self
            .state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.state >> 33) % n as u64) as usize
    }

    /// Half the words are common technical terms; the other half come from 20,000
    /// made-up ones, so the bank's vocabulary grows with its size as a real one's
    /// does (the 81 shipped questions use about 5,000 distinct words, 340 each).
    fn word(&mut self) -> String {
        const SYLLABLES: [&str; 20] = [
            "ka", "ro", "mi", "ten", "su", "lo", "var", "din", "pe", "qua", "zor", "bel", "ti",
            "gra", "nu", "fex", "mo", "lin", "dra", "cy",
        ];
        if self.next(2) == 0 {
            let i = self.next(self.words.len());
            return self.words[i].to_string();
        }
        let k = self.next(20_000);
        let mut word = String::new();
        let mut rest = k;
        for _ in 0..if k < 8_000 { 3 } else { 4 } {
            word.push_str(SYLLABLES[rest % SYLLABLES.len()]);
            rest /= SYLLABLES.len();
        }
        word
    }

    /// A sentence of about a dozen words, capitalised, with a full stop.
    fn sentence(&mut self) -> String {
        let len = 8 + self.next(8);
        let mut words = Vec::with_capacity(len);
        for i in 0..len {
            let w = if i % 3 == 1 {
                let i = self.next(self.filler.len());
                self.filler[i].to_string()
            } else {
                self.word()
            };
            words.push(w);
        }
        let text = words.join(" ");
        let mut chars = text.chars();
        let first = chars.next().map(|c| c.to_ascii_uppercase());
        format!("{}{}.", first.unwrap_or('A'), chars.as_str())
    }

    fn paragraph(&mut self, sentences: usize) -> String {
        (0..sentences)
            .map(|_| self.sentence())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The searches both search benchmarks run (`prepbot-dev bench` and the Criterion bank
/// bench): short queries of the kinds members type.
pub const SEARCH_QUERIES: [&str; 8] = [
    "cache invalidation",
    "idempotency key",
    "zero downtime migration",
    "jwt",
    "kafka consumer",
    "postgres index",
    "on call latency",
    "rate limit",
];

/// Writes `n` valid questions under `dir` (`<topic>/<id>.md`, the format of
/// `questions/README.md`), about 4 KB each like the shipped ones: every section,
/// bullet lists, and a fenced code block holding a `## ` line the parser must not
/// take for a heading. Deterministic: the same `n` writes the same files.
pub fn write_generated_bank(dir: &Path, n: usize) -> anyhow::Result<()> {
    const DIFFICULTIES: [&str; 3] = ["easy", "medium", "hard"];
    const KINDS: [&str; 5] = [
        "technical",
        "system-design",
        "behavioral",
        "situational",
        "culture-fit",
    ];
    let mut words = Words::new(0x5eed);
    for i in 0..n {
        let topic = GENERATED_TOPICS[i % GENERATED_TOPICS.len()];
        let id = format!("{topic}-generated-{i:05}");
        let folder = dir.join(topic);
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("creating {}", folder.display()))?;
        let title = format!(
            "{} {} and {} ({i})",
            words.word(),
            words.word(),
            words.word()
        );
        let tags: Vec<String> = (0..3).map(|_| format!("\"{}\"", words.word())).collect();
        let mut text = String::with_capacity(5_000);
        let _ = write!(
            text,
            "+++\nid = \"{id}\"\ntitle = \"{title}\"\ntopic = \"{topic}\"\n\
             difficulty = \"{}\"\nkind = \"{}\"\ntags = [{}]\n+++\n\n",
            DIFFICULTIES[i % DIFFICULTIES.len()],
            KINDS[i % KINDS.len()],
            tags.join(", ")
        );
        let _ = write!(text, "## Question\n\n{}\n\n", words.paragraph(3));
        let _ = write!(text, "## Why it is asked\n\n{}\n\n", words.paragraph(2));
        text.push_str("## Model answer\n\n");
        for _ in 0..4 {
            let _ = write!(text, "{}\n\n", words.paragraph(5));
        }
        text.push_str("```\n## not a heading inside a code block\n");
        let _ = writeln!(text, "{} = {}", words.word(), words.word());
        text.push_str("```\n\n");
        for _ in 0..2 {
            let _ = write!(text, "{}\n\n", words.paragraph(5));
        }
        text.push_str("## What interviewers look for\n\n");
        for _ in 0..3 {
            let _ = writeln!(text, "- {}", words.sentence());
        }
        text.push_str("\n## Common mistakes\n\n");
        for _ in 0..2 {
            let _ = writeln!(text, "- {}\n  {}", words.sentence(), words.sentence());
        }
        text.push_str("\n## Follow-ups\n\n");
        for _ in 0..2 {
            let _ = writeln!(text, "- {}", words.sentence());
        }
        let _ = write!(text, "\n## Tips\n\n{}\n", words.paragraph(2));
        let path = folder.join(format!("{id}.md"));
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

struct Row {
    name: String,
    iterations: u32,
    mean: StdDuration,
    best: StdDuration,
}

pub fn fmt_dur(d: StdDuration) -> String {
    let ns = d.as_nanos();
    if ns < 10_000 {
        format!("{ns} ns")
    } else if ns < 10_000_000 {
        format!("{:.1} us", ns as f64 / 1e3)
    } else {
        format!("{:.2} ms", ns as f64 / 1e6)
    }
}

fn summarize(name: &str, samples: &[StdDuration]) -> Row {
    let total: StdDuration = samples.iter().sum();
    Row {
        name: name.to_string(),
        iterations: samples.len() as u32,
        mean: total / samples.len().max(1) as u32,
        best: samples.iter().copied().min().unwrap_or_default(),
    }
}

fn time_sync(name: &str, n: u32, mut f: impl FnMut(u32)) -> Row {
    let samples: Vec<StdDuration> = (0..n)
        .map(|i| {
            let t = Instant::now();
            f(i);
            t.elapsed()
        })
        .collect();
    summarize(name, &samples)
}

/// An outbound that accepts everything instantly, numbering messages.
struct NullOutbound(std::sync::atomic::AtomicU64);

impl Outbound for NullOutbound {
    fn ready(&self, _platform: Platform) -> bool {
        true
    }

    async fn post_drop(
        &self,
        _c: &ChannelAddress,
        _key: &str,
        post: &DropPost,
    ) -> Result<PostedDrop, OutboundError> {
        let id = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(PostedDrop {
            message_id: id.to_string(),
            posted_at: post.reveal_at - Duration::hours(1),
        })
    }
    async fn post_reveal(
        &self,
        _c: &ChannelAddress,
        _t: &str,
        _key: &str,
        _r: &RevealContent,
        _attempt: prepbot_core::ports::RevealAttempt,
    ) -> Result<DateTime<Utc>, OutboundError> {
        Ok(DateTime::<Utc>::MIN_UTC)
    }
}

/// Builds a channel with `history` revealed drops of `answerers` members each, by
/// driving the real use cases; returns the open drop's id and its reveal instant.
/// In a fresh database the channel's key is `channel_id` when channels are made in
/// order from 1, which the callers rely on.
async fn channel_with_history(
    practice: &Practice,
    channel_id: u64,
    history: u32,
    answerers: u64,
) -> anyhow::Result<(i64, DateTime<Utc>)> {
    let start = bench_start()?;
    let setup = ChannelSetup {
        address: bench_channel(1, channel_id),
        name: None,
        time: NaiveTime::from_hms_opt(9, 0, 0).context("time")?,
        zone: chrono_tz::UTC,
        days: Days::DAILY,
        reveal_after_hours: 8,
        pool: PoolFilter::default(),
    };
    let (channel, _) = practice.setup_channel(setup, channel_id, start).await?;
    anyhow::ensure!(
        channel.key == channel_id as i64,
        "channels are made in key order"
    );
    let key = channel.key;
    let mut message_id = channel_id * 10_000_000;
    let mut open: Option<(i64, DateTime<Utc>)> = None;
    for day in 0..=history as i64 {
        let drop_at = start + Duration::days(day) + Duration::hours(9);
        let claimed = practice
            .claim_scheduled_drop(key, drop_at)
            .await?
            .context("a drop should be due")?;
        let id = message_id.to_string();
        let drop = practice
            .mark_posted(claimed.drop.id, &id, &id, drop_at)
            .await?;
        message_id += 1;
        for m in 0..answerers {
            practice
                .record_message(IncomingMessage {
                    thread: ThreadRef::new(
                        Platform::Discord,
                        drop.thread_id.clone().unwrap_or_default(),
                    ),
                    message_id: message_id.to_string(),
                    member_id: (1000 + m).to_string(),
                    member_name: format!("member{m}"),
                    body: "An answer of moderate length about trade-offs. ".repeat(8),
                    posted_at: drop_at + Duration::minutes(m as i64 + 1),
                })
                .await?;
            message_id += 1;
        }
        if day < history as i64 {
            practice
                .mark_revealed(drop.id, drop_at + Duration::hours(8))
                .await?;
        } else {
            open = Some((drop.id, drop_at + Duration::hours(8)));
        }
    }
    open.context("the last drop stays open")
}

fn bench_start() -> anyhow::Result<DateTime<Utc>> {
    Ok(NaiveDate::from_ymd_opt(2026, 1, 5)
        .context("date")?
        .and_time(NaiveTime::MIN)
        .and_utc())
}

pub async fn run(bank: Arc<QuestionBank>, quick: bool) -> anyhow::Result<String> {
    let scale = if quick { 1 } else { 5 };
    let mut rows = Vec::new();

    // Bank.
    let dir = bank
        .all()
        .first()
        .and_then(|q| q.path.parent().and_then(Path::parent))
        .map(Path::to_path_buf)
        .context("the bank is empty")?;
    rows.push(time_sync(
        &format!("bank: load + validate {} questions", bank.len()),
        10 * scale,
        |_| {
            let _ = QuestionBank::load(&dir);
        },
    ));
    let queries = SEARCH_QUERIES;
    rows.push(time_sync("bank: search (top 5)", 200 * scale, |i| {
        let _ = bank.search(queries[i as usize % queries.len()], 5);
    }));

    // Engine.
    let zones: Vec<_> = [
        "America/New_York",
        "Europe/London",
        "Australia/Lord_Howe",
        "Asia/Kolkata",
    ]
    .iter()
    .filter_map(|z| parse_zone(z).ok())
    .collect();
    let base = NaiveDate::from_ymd_opt(2026, 1, 1).context("date")?;
    rows.push(time_sync(
        "engine: drop instant (DST-aware)",
        20_000 * scale,
        |i| {
            let s = Schedule {
                time: NaiveTime::from_hms_opt(2, 30, 0).unwrap_or(NaiveTime::MIN),
                zone: zones[i as usize % zones.len()],
                days: Days::DAILY,
                reveal_after_hours: 24,
                pool: PoolFilter::default(),
                paused: false,
            };
            let _ = s.occurrence(base + Duration::days((i % 365) as i64));
        },
    ));
    let long_text = bank
        .all()
        .iter()
        .map(|q| q.model_answer.as_str())
        .collect::<Vec<_>>()
        .join("\n\n");
    rows.push(time_sync(
        &format!(
            "engine: split {} KB into 2000-char messages",
            long_text.len() / 1024
        ),
        20 * scale,
        |_| {
            let _ = split(&long_text, 2000);
        },
    ));

    // Store.
    let tmp = tempfile::tempdir()?;
    let store = Store::open_path(&tmp.path().join("bench.db")).await?;
    let practice = Practice::new(store.clone(), bank.clone());
    let answerers = 20;
    let short_history = 10;
    let long_history = if quick { 200 } else { 1000 };
    let samples_each = if quick { 2 } else { 3 };
    // Settling must cost the same whatever the channel's history: time it on fresh
    // channels with a short and a long history (one reveal per channel).
    let mut next_channel = 1u64;
    let mut last_reveal = bench_start()?;
    for history in [short_history, long_history] {
        let mut samples = Vec::new();
        for _ in 0..samples_each {
            let (drop_id, reveal_at) =
                channel_with_history(&practice, next_channel, history, answerers).await?;
            next_channel += 1;
            let t = Instant::now();
            let settled = practice.mark_revealed(drop_id, reveal_at).await?;
            samples.push(t.elapsed());
            anyhow::ensure!(
                settled.len() == answerers as usize,
                "expected {answerers} settled, got {}",
                settled.len()
            );
            last_reveal = last_reveal.max(reveal_at);
        }
        rows.push(summarize(
            &format!("store: settle a reveal, {answerers} answerers, {history} drops of history"),
            &samples,
        ));
    }
    // The next day's 09:00 drop of the last channel, for recording answers.
    let reveal_at = last_reveal + Duration::hours(16);
    let claimed = practice
        .claim_scheduled_drop(next_channel as i64 - 1, reveal_at)
        .await?
        .context("the next drop should be due")?;
    let thread = practice
        .mark_posted(claimed.drop.id, "9", "9", reveal_at)
        .await?
        .thread_id
        .context("posted drops have a thread")?;
    let mut samples = Vec::new();
    for i in 0..200 * scale as u64 {
        let t = Instant::now();
        let recorded = practice
            .record_message(IncomingMessage {
                thread: ThreadRef::new(Platform::Discord, thread.clone()),
                message_id: (5_000_000_000 + i).to_string(),
                member_id: "7".into(),
                member_name: "bench".into(),
                body: "x".repeat(2000),
                posted_at: reveal_at,
            })
            .await?;
        samples.push(t.elapsed());
        anyhow::ensure!(
            recorded.is_some_and(|r| r.new),
            "the answer was not recorded"
        );
    }
    rows.push(summarize(
        "store: record one answer (2,000 chars)",
        &samples,
    ));

    // 100 more channels, each due once in the next 24 hours; the history channels
    // are paused so the timed pass below does only this work.
    for c in 1..next_channel {
        practice.set_paused(c as i64, true, reveal_at).await?;
    }
    for c in 0..100u64 {
        let setup = ChannelSetup {
            address: bench_channel(2, 100 + c),
            name: None,
            time: NaiveTime::from_hms_opt((c % 24) as u32, (c % 60) as u32, 0).context("time")?,
            zone: zones[c as usize % zones.len()],
            days: Days::DAILY,
            reveal_after_hours: 24,
            pool: PoolFilter::default(),
        };
        practice.setup_channel(setup, c, reveal_at).await?;
    }
    let channels = 100 + next_channel - 1;
    let mut samples = Vec::new();
    for _ in 0..20 * scale {
        let t = Instant::now();
        practice.agenda().await?;
        samples.push(t.elapsed());
    }
    rows.push(summarize(
        &format!("store: scheduler agenda, {channels} channels"),
        &samples,
    ));
    let outbound = NullOutbound(std::sync::atomic::AtomicU64::new(1_000_000_000_000));
    let t = Instant::now();
    let pass_at = reveal_at + Duration::hours(23) + Duration::minutes(59);
    let (report, _) = run_due(&practice, &outbound, pass_at).await?;
    rows.push(summarize(
        &format!("scheduler: one pass posting {} drops", report.posted.len()),
        &[t.elapsed()],
    ));
    store.close().await;

    // Ingestion: answers per second into committed storage.
    let total = if quick { 2_000 } else { 10_000 };
    let mut rates = Vec::new();
    for full_sync in [false, true] {
        for batched in [true, false] {
            rates.push(ingest_rate(bank.clone(), full_sync, batched, total, 64).await?);
        }
    }

    let mut out = format!(
        "{:<62} {:>6} {:>11} {:>11}\n",
        "benchmark", "n", "mean", "best"
    );
    for r in rows {
        out.push_str(&format!(
            "{:<62} {:>6} {:>11} {:>11}\n",
            r.name,
            r.iterations,
            fmt_dur(r.mean),
            fmt_dur(r.best)
        ));
    }
    out.push('\n');
    for r in rates {
        out.push_str(&r.line());
        out.push('\n');
    }
    Ok(out)
}

/// Answers per second from concurrent submitters into committed storage.
struct IngestRate {
    answers: u64,
    submitters: u64,
    batched: bool,
    full_sync: bool,
    elapsed: StdDuration,
    transactions: u64,
}

impl IngestRate {
    fn line(&self) -> String {
        let per_second = self.answers as f64 / self.elapsed.as_secs_f64().max(1e-9);
        format!(
            "ingest: {} answers, {} submitters, {}, synchronous={}: {:.0} answers/s ({} in {} transactions, mean {:.1} per commit)",
            self.answers,
            self.submitters,
            if self.batched {
                "through the answer writer"
            } else {
                "one transaction each"
            },
            if self.full_sync { "FULL" } else { "NORMAL" },
            per_second,
            fmt_dur(self.elapsed),
            self.transactions,
            self.answers as f64 / self.transactions.max(1) as f64
        )
    }
}

/// Records `total` answers (500 characters each) in one open drop's thread from
/// `submitters` concurrent tasks, each waiting for its answer to be stored before
/// sending the next (as a gateway handler does); a fresh database per run.
async fn ingest_rate(
    bank: Arc<QuestionBank>,
    full_sync: bool,
    batched: bool,
    total: u64,
    submitters: u64,
) -> anyhow::Result<IngestRate> {
    let tmp = tempfile::tempdir()?;
    let file = tmp.path().join("ingest.db");
    let store = if full_sync {
        Store::open_path_synchronous_full(&file).await?
    } else {
        Store::open_path(&file).await?
    };
    let practice = Practice::new(store.clone(), bank);
    let (elapsed, transactions) = ingest(&practice, 1, batched, total, submitters).await?;
    store.close().await;
    Ok(IngestRate {
        answers: total,
        submitters,
        batched,
        full_sync,
        elapsed,
        transactions,
    })
}

/// Sets up channel `channel` of workspace 1 (which must not exist yet in the
/// store), opens its first drop and records `total` answers (500 characters each)
/// in the drop's thread from `submitters` concurrent tasks, each waiting for its
/// answer to be stored before sending the next (as a gateway handler does).
/// Returns the time from the first submission to the last answer committed, and
/// the transactions it took.
pub async fn ingest(
    practice: &Practice,
    channel: u64,
    batched: bool,
    total: u64,
    submitters: u64,
) -> anyhow::Result<(StdDuration, u64)> {
    let start = bench_start()?;
    let setup = ChannelSetup {
        address: bench_channel(1, channel),
        name: None,
        time: NaiveTime::from_hms_opt(9, 0, 0).context("time")?,
        zone: chrono_tz::UTC,
        days: Days::DAILY,
        reveal_after_hours: 8,
        pool: PoolFilter::default(),
    };
    let (channel_row, _) = practice.setup_channel(setup, channel, start).await?;
    let drop_at = start + Duration::hours(9);
    let claimed = practice
        .claim_scheduled_drop(channel_row.key, drop_at)
        .await?
        .context("a drop should be due")?;
    let posted_id = (channel * 1_000_000_000).to_string();
    let thread = practice
        .mark_posted(claimed.drop.id, &posted_id, &posted_id, drop_at)
        .await?
        .thread_id
        .context("posted drops have a thread")?;
    let (writer, task) = AnswerWriter::start(practice.clone());
    let submitters = submitters.max(1);
    // The first `total % submitters` submitters send one more, so exactly `total` go.
    let share = |s: u64| total / submitters + u64::from(s < total % submitters);
    let body: String = "An answer about trade-offs, with an example. "
        .repeat(12)
        .chars()
        .take(500)
        .collect();
    let t = Instant::now();
    let handles: Vec<_> = (0..submitters)
        .map(|s| {
            let (writer, practice, body, thread) = (
                writer.clone(),
                practice.clone(),
                body.clone(),
                thread.clone(),
            );
            let first = (0..s).map(share).sum::<u64>();
            let count = share(s);
            tokio::spawn(async move {
                for i in 0..count {
                    let id = channel * 1_000_000_000 + 1_000_000 + first + i;
                    let msg = IncomingMessage {
                        thread: ThreadRef::new(Platform::Discord, thread.clone()),
                        message_id: id.to_string(),
                        member_id: (10_000 + id % 5_000).to_string(),
                        member_name: "bench".into(),
                        body: body.clone(),
                        posted_at: drop_at + Duration::minutes(30),
                    };
                    let recorded = if batched {
                        writer.submit(AnswerEvent::Posted(msg)).await?.recorded()
                    } else {
                        practice.record_message(msg).await?
                    };
                    anyhow::ensure!(
                        recorded.is_some_and(|r| r.new),
                        "answer {id} was not recorded"
                    );
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.await??;
    }
    let elapsed = t.elapsed();
    let stats = writer.stats();
    task.stop().await;
    Ok((elapsed, if batched { stats.batches } else { total }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_bank_loads_whole_and_is_about_the_size_of_the_shipped_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_generated_bank(dir.path(), 40).expect("write");
        let bank = QuestionBank::load(dir.path()).expect("every generated question is valid");
        assert_eq!(bank.len(), 40);
        assert_eq!(bank.topics().len(), GENERATED_TOPICS.len());
        let q = &bank.all()[0];
        assert_eq!(q.look_fors.len(), 3);
        assert_eq!(q.mistakes.len(), 2);
        assert!(q.model_answer.contains("## not a heading"));
        let bytes: u64 = bank
            .all()
            .iter()
            .map(|q| std::fs::metadata(&q.path).map_or(0, |m| m.len()))
            .sum();
        let mean = bytes / 40;
        assert!((3_000..6_000).contains(&mean), "mean size {mean} bytes");
        assert!(!bank.search("cache invalidation", 5).is_empty());
    }
}
