//! `prepbot-dev compare-backends`: the same seeded data on SQLite and on PostgreSQL,
//! timed the way the commands read it (issue 13's budgets: every command's p99 on
//! PostgreSQL within 2 × SQLite's in the same run; answers into committed
//! PostgreSQL storage ≥ 5,000/s with group commit).
//!
//! - The SQLite file is seeded by [`crate::seed`] if it does not exist, then copied
//!   into the (empty) PostgreSQL database by `prepbot migrate-store`'s own copy.
//! - Reads: each command's store reads through `Practice`'s public use cases, as the
//!   Discord commands call them (the channel lookup included), `n` times each after a
//!   warm-up, the two backends interleaved call by call so both see the same machine.
//! - Ingestion: [`hotpaths::ingest`] (64 submitters, through the answer writer) into
//!   each seeded database (SQLite: a copy of the file), alternating backends.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use anyhow::Context;
use chrono::{NaiveDate, Utc};

use prepbot_core::bank::QuestionBank;
use prepbot_core::chat::{ChannelAddress, Platform};
use prepbot_core::mix::mix64;
use prepbot_core::practice::Practice;
use prepbot_core::store::Store;
use prepbot_core::store::copy::sqlite_to_postgres;

use crate::hotpaths::{self, fmt_dur};
use crate::seed::{self, SeedSpec};

/// The commands timed, in the order printed.
const COMMANDS: [&str; 5] = [
    "/streak",
    "/leaderboard",
    "/question today",
    "/question show",
    "/schedule show",
];

/// One call of `command` for the `i`th member and channel of the seeded data, with
/// the reads its Discord handler makes (`crates/discord/src/commands/`): one
/// `Practice` use case each, the channel lookup included.
async fn command(p: &Practice, command: &str, i: u64, spec: &SeedSpec) -> anyhow::Result<()> {
    let c = i % spec.channels;
    let address = ChannelAddress::new(
        Platform::Discord,
        seed::guild_id(c).to_string(),
        seed::channel_id(c).to_string(),
    );
    let now = NaiveDate::from_ymd_opt(2026, 1, 1)
        .context("date")?
        .and_hms_opt(12, 0, 0)
        .context("time")?
        .and_utc()
        + chrono::Duration::days((spec.drops / spec.channels) as i64 - 1);
    if command == "/question show" {
        // A lookup by id reads the workspace's open questions, not the channel.
        let ids = p.bank().all();
        let id = &ids[(mix64(i) % ids.len() as u64) as usize].id;
        p.look_up(Platform::Discord, &seed::guild_id(c).to_string(), id)
            .await?;
        return Ok(());
    }
    let missing = || format!("channel {c} is not in the seeded database");
    match command {
        "/streak" => {
            let member = seed::member_id(mix64(i) % spec.members + 1).to_string();
            p.streak_at(&address, &member)
                .await?
                .with_context(missing)?;
        }
        "/leaderboard" => {
            p.leaderboard_at(&address, 10)
                .await?
                .with_context(missing)?;
        }
        "/question today" => {
            p.today_at(&address, now).await?.with_context(missing)?;
        }
        "/schedule show" => {
            p.schedule_view_at(&address, now)
                .await?
                .with_context(missing)?;
        }
        other => anyhow::bail!("unknown command {other}"),
    }
    Ok(())
}

/// p50 and p99 (nearest rank) of `samples`.
fn percentiles(samples: &mut [StdDuration]) -> (StdDuration, StdDuration) {
    samples.sort_unstable();
    let rank = |q: usize| samples[(samples.len() * q).div_ceil(100).max(1) - 1];
    (rank(50), rank(99))
}

pub async fn run(
    bank: Arc<QuestionBank>,
    sqlite: &Path,
    postgres: &str,
    spec: SeedSpec,
    quick: bool,
) -> anyhow::Result<String> {
    let mut out = String::new();
    if !sqlite.exists() {
        let s = seed::seed(sqlite, bank.clone(), spec).await?;
        out.push_str(&format!(
            "seeded {}: {} answers, {} member streaks in {:.1} s\n",
            sqlite.display(),
            s.answers,
            s.member_stats,
            s.seconds
        ));
    }
    let sqlite = std::path::absolute(sqlite)?;
    let sqlite_url = format!("sqlite://{}", sqlite.display());
    let t = Instant::now();
    let copied = sqlite_to_postgres(&sqlite_url, postgres)
        .await
        .context("copying the seeded database into PostgreSQL (it must be empty)")?;
    out.push_str(&format!(
        "copied into PostgreSQL: {} tables in {:.1} s\n\n",
        copied.tables.len(),
        t.elapsed().as_secs_f64()
    ));

    // Reads, interleaved: each call on SQLite then on PostgreSQL.
    let backends = [
        Practice::new(Store::open_url(&sqlite_url).await?, bank.clone()),
        Practice::new(Store::open_url(postgres).await?, bank.clone()),
    ];
    let (warmup, n) = if quick { (20, 200) } else { (100, 2_000) };
    out.push_str(
        "| command | n | SQLite p50 | SQLite p99 | PostgreSQL p50 | PostgreSQL p99 | p99 ratio | budget (≤ 2) |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n",
    );
    for name in COMMANDS {
        let mut samples = [Vec::new(), Vec::new()];
        for i in 0..warmup + n {
            for (b, p) in backends.iter().enumerate() {
                let t = Instant::now();
                command(p, name, i, &spec).await?;
                if i >= warmup {
                    samples[b].push(t.elapsed());
                }
            }
        }
        let (l50, l99) = percentiles(&mut samples[0]);
        let (p50, p99) = percentiles(&mut samples[1]);
        let ratio = p99.as_secs_f64() / l99.as_secs_f64().max(1e-9);
        out.push_str(&format!(
            "| {name} | {n} | {} | {} | {} | {} | {ratio:.2} | {} |\n",
            fmt_dur(l50),
            fmt_dur(l99),
            fmt_dur(p50),
            fmt_dur(p99),
            if ratio <= 2.0 { "met" } else { "NOT met" }
        ));
    }
    for p in &backends {
        p.store().close().await;
    }

    // Ingestion into the seeded databases: SQLite on a copy of the file.
    let tmp = tempfile::tempdir()?;
    let sqlite_copy = tmp.path().join("ingest.db");
    std::fs::copy(&sqlite, &sqlite_copy).context("copying the SQLite file for ingestion")?;
    let backends = [
        ("SQLite", Store::open_path(&sqlite_copy).await?),
        ("PostgreSQL", Store::open_url(postgres).await?),
    ];
    let (total, rounds) = if quick { (2_000, 1) } else { (10_000, 3) };
    let submitters = 64;
    let mut rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut commits = [0u64; 2];
    for round in 0..rounds {
        for (b, (_, store)) in backends.iter().enumerate() {
            let practice = Practice::new(store.clone(), bank.clone());
            let (elapsed, transactions) =
                hotpaths::ingest(&practice, 100 + round, true, total, submitters).await?;
            rates[b].push(total as f64 / elapsed.as_secs_f64().max(1e-9));
            commits[b] += transactions;
        }
    }
    out.push_str(
        "\n| backend | answers/s, each round | transactions | budget (≥ 5,000/s) |\n| --- | ---: | ---: | --- |\n",
    );
    for (b, (name, store)) in backends.iter().enumerate() {
        let each: Vec<String> = rates[b].iter().map(|r| format!("{r:.0}")).collect();
        let worst = rates[b].iter().copied().fold(f64::INFINITY, f64::min);
        out.push_str(&format!(
            "| {name} | {} | {} for {} answers | {} |\n",
            each.join(", "),
            commits[b],
            total * rounds,
            if worst >= 5_000.0 { "met" } else { "NOT met" }
        ));
        store.close().await;
    }
    out.push_str(&format!(
        "\n{total} answers of 500 characters per round from {submitters} submitters through the answer writer; measured {}.\n",
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    ));
    Ok(out)
}
