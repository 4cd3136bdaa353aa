//! Scenario `latency`: slash commands one at a time (closed loop) against the
//! database `prepbot-dev seed` makes by default, timed in the fake from writing
//! the INTERACTION_CREATE frame to receiving the interaction callback. Each command
//! comes from a different seeded member (the per-member budget stays on), in the
//! seeded channels of the seeded servers. The baseline is the bare poise bot's
//! `/ping`, measured the same way in the same run, its commands taking turns with
//! prepbot's so that both meet the same noise on a shared machine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use prepbot_devtools::seed::{SeedSpec, channel_id, guild_id, member_id};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::bot::{self, Traffic};
use crate::report::{Section, Table, median, ms, percentile, verdict};
use crate::{Options, Outcome, prepare};
use prepbot_fake_discord::FakeDiscord;
use prepbot_fake_discord::fixtures::{MEMBER_PERMS, Person, opt, slash, sub};

/// The budget: each command's p99 at most this many times the baseline's, and
/// under [`ABSOLUTE_P99`].
const TIMES_BASELINE: u32 = 2;
const ABSOLUTE_P99: Duration = Duration::from_millis(5);
/// Commands of each kind sent first and not counted (connections, caches).
const WARMUP: usize = 20;
/// A command with no reply by then counts as lost.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

const QUERIES: [&str; 8] = [
    "cache invalidation",
    "database index",
    "rate limiting",
    "consistent hashing",
    "message queue",
    "incident postmortem",
    "load balancer",
    "disagreement with a teammate",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ping,
    Streak,
    Leaderboard,
    Search,
    Show,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Ping => "/ping (bare poise bot: baseline)",
            Kind::Streak => "/streak",
            Kind::Leaderboard => "/leaderboard",
            Kind::Search => "/question search",
            Kind::Show => "/question show",
        }
    }

    /// The command's name and options for the `i`th send.
    fn command(self, i: usize, ids: &[String]) -> (&'static str, Vec<Value>) {
        match self {
            Kind::Ping => ("ping", vec![]),
            Kind::Streak => ("streak", vec![]),
            Kind::Leaderboard => ("leaderboard", vec![]),
            Kind::Search => (
                "question",
                vec![sub(
                    "search",
                    vec![opt("query", json!(QUERIES[i % QUERIES.len()]))],
                )],
            ),
            Kind::Show => (
                "question",
                vec![sub("show", vec![opt("id", json!(ids[i % ids.len()]))])],
            ),
        }
    }
}

/// Sends interactions and times their callbacks.
struct Driver {
    fake: FakeDiscord,
    replies: mpsc::UnboundedReceiver<(String, Instant)>,
    spec: SeedSpec,
    /// Sends so far: picks the member and the channel of the next one.
    sent: u64,
    ids: Arc<Vec<String>>,
}

impl Driver {
    fn new(fake: FakeDiscord, spec: SeedSpec, ids: Arc<Vec<String>>) -> (Driver, Arc<Traffic>) {
        let (tx, replies) = mpsc::unbounded_channel();
        let traffic = Traffic::watch(&fake, move |r| {
            // POST /api/v10/interactions/{id}/{token}/callback
            if r.method == "POST"
                && r.path.ends_with("/callback")
                && let Some(token) = r.path.split('/').nth(5)
            {
                let _ = tx.send((token.to_string(), r.at));
            }
        });
        (
            Driver {
                fake,
                replies,
                spec,
                sent: 0,
                ids,
            },
            traffic,
        )
    }

    /// One command from the next member; the time to its callback, `None` if lost.
    async fn send(&mut self, kind: Kind, i: usize) -> Option<Duration> {
        let n = self.sent;
        self.sent += 1;
        // Every send a different member (each may run 5 commands per 10 s), and the
        // channels in turn.
        let member = member_id(1 + n % self.spec.members);
        let c = n % self.spec.channels;
        let by = Person {
            id: member,
            name: "member",
            permissions: MEMBER_PERMS,
        };
        let token = format!("load-{n}");
        let (name, options) = kind.command(i, &self.ids);
        let mut payload = slash(
            self.fake.snowflake(),
            &token,
            name,
            options,
            &by,
            channel_id(c),
        );
        let guild = json!(guild_id(c).to_string());
        payload["guild_id"] = guild.clone();
        payload["data"]["guild_id"] = guild.clone();
        payload["authorizing_integration_owners"]["0"] = guild;
        let written = self.fake.dispatch_timed("INTERACTION_CREATE", payload);
        let deadline = tokio::time::Instant::now() + REPLY_TIMEOUT;
        loop {
            match tokio::time::timeout_at(deadline, self.replies.recv()).await {
                Ok(Some((t, at))) if t == token => {
                    let written = written.await.ok()?;
                    return Some(at.saturating_duration_since(written));
                }
                // A late callback of a command already counted as lost.
                Ok(Some(_)) => continue,
                _ => return None,
            }
        }
    }
}

/// One run's samples for each kind, and how many got no reply.
struct Samples {
    kind: Kind,
    latencies: Vec<Duration>,
    lost: usize,
}

impl Samples {
    fn stats(&self) -> (Duration, Duration, Duration) {
        let mut v = self.latencies.clone();
        v.sort();
        (
            percentile(&v, 50.0),
            percentile(&v, 99.0),
            v.last().copied().unwrap_or_default(),
        )
    }
}

/// Sends `n` of each kind, the kinds in turn, after a warm-up. The baseline's
/// `/ping` goes to the bare bot in the same rotation, so both bots meet the same
/// moments of a shared machine.
async fn measure(
    bare: &mut Driver,
    bot: &mut Driver,
    kinds: &[Kind],
    n: usize,
    warmup: usize,
) -> Vec<Samples> {
    async fn send(bare: &mut Driver, bot: &mut Driver, kind: Kind, i: usize) -> Option<Duration> {
        match kind {
            Kind::Ping => bare.send(kind, i).await,
            _ => bot.send(kind, i).await,
        }
    }
    for i in 0..warmup {
        for &k in kinds {
            send(bare, bot, k, i).await;
        }
    }
    let mut samples: Vec<Samples> = kinds
        .iter()
        .map(|&kind| Samples {
            kind,
            latencies: Vec::with_capacity(n),
            lost: 0,
        })
        .collect();
    for i in 0..n {
        for s in samples.iter_mut() {
            match send(bare, bot, s.kind, i).await {
                Some(d) => s.latencies.push(d),
                None => s.lost += 1,
            }
        }
    }
    samples
}

async fn run_once(
    o: &Options,
    spec: SeedSpec,
    seeded: &std::path::Path,
    ids: Arc<Vec<String>>,
) -> anyhow::Result<Vec<Samples>> {
    let warmup = if o.quick { 5 } else { WARMUP };
    let dir = prepare::run_dir()?;

    // The baseline: the bare bot on a fake of its own, with the same payloads.
    let bare_fake = FakeDiscord::start(Arc::new(prepbot_core::clock::SystemClock)).await;
    let (mut bare_driver, traffic) = Driver::new(bare_fake.clone(), spec, ids.clone());
    let mut bare = bot::spawn_bare(&bare_fake, None, &dir.path().join("bare.log"))?;
    bot::ready(&bare_fake, &traffic, &mut bare, Duration::from_millis(500)).await?;

    let db = prepare::copy_into(seeded, dir.path())?;
    let fake = FakeDiscord::start(Arc::new(prepbot_core::clock::SystemClock)).await;
    let (mut driver, traffic) = Driver::new(fake.clone(), spec, ids);
    let mut bot = bot::spawn_prepbot(
        &fake,
        &db,
        &prepare::shipped_questions(),
        50,
        &dir.path().join("bot.log"),
    )?;
    // Startup on the seeded database reveals the drops it left open and records
    // the days since as missed; wait for that to finish.
    bot::ready(&fake, &traffic, &mut bot, Duration::from_millis(1500)).await?;
    let kinds = [
        Kind::Ping,
        Kind::Streak,
        Kind::Leaderboard,
        Kind::Search,
        Kind::Show,
    ];
    let samples = measure(&mut bare_driver, &mut driver, &kinds, o.commands, warmup).await;
    bot.check_alive()?;
    bare.check_alive()?;
    bot.stop().await;
    bare.stop().await;
    Ok(samples)
}

/// The seeded database for `o` (smaller with `--quick`), made once and kept, and
/// the shipped bank's question ids the commands name.
async fn seeded_data(
    o: &Options,
) -> anyhow::Result<(SeedSpec, std::path::PathBuf, Arc<Vec<String>>)> {
    let spec = if o.quick {
        SeedSpec {
            members: 5_000,
            answers: 50_000,
            drops: 100,
            ..SeedSpec::default()
        }
    } else {
        SeedSpec::default()
    };
    let seeded = prepare::seeded(spec).await?;
    let ids: Arc<Vec<String>> = Arc::new(
        prepare::shipped_bank()?
            .all()
            .iter()
            .map(|q| q.id.clone())
            .collect(),
    );
    Ok((spec, seeded, ids))
}

pub async fn run(o: &Options) -> Outcome {
    let (spec, seeded, ids) = seeded_data(o).await?;
    let mut runs = Vec::new();
    for r in 0..o.runs {
        eprintln!("latency run {}/{}", r + 1, o.runs);
        runs.push(
            run_once(o, spec, &seeded, ids.clone())
                .await
                .context("latency run")?,
        );
    }

    let mut section = Section::new("Load: command latency");
    let mut table = Table::new(&[
        "command",
        "commands/run",
        "p50",
        "p99",
        "max",
        "p99 of each run",
        "lost",
        "budget (p99)",
        "verdict",
    ]);
    let stats_of = |k: usize| -> (Vec<(Duration, Duration, Duration)>, usize) {
        let stats = runs.iter().map(|r| r[k].stats()).collect();
        (stats, runs.iter().map(|r| r[k].lost).sum())
    };
    let (base, _) = stats_of(0);
    let base_p99 = median(&base.iter().map(|s| s.1).collect::<Vec<_>>());
    let budget = (base_p99 * TIMES_BASELINE).min(ABSOLUTE_P99);
    let kinds = runs[0].iter().map(|s| s.kind).collect::<Vec<_>>();
    let mut met = 0;
    for (k, kind) in kinds.iter().enumerate() {
        let (stats, lost) = stats_of(k);
        let p50 = median(&stats.iter().map(|s| s.0).collect::<Vec<_>>());
        let p99 = median(&stats.iter().map(|s| s.1).collect::<Vec<_>>());
        let max = median(&stats.iter().map(|s| s.2).collect::<Vec<_>>());
        let per_run = stats.iter().map(|s| ms(s.1)).collect::<Vec<_>>().join(", ");
        let (budget_cell, verdict_cell) = if *kind == Kind::Ping {
            ("(baseline)".to_string(), "".to_string())
        } else {
            let ok = p99 <= budget && lost == 0;
            met += usize::from(ok);
            (
                format!("≤ {} (2 × {} and < 5 ms)", ms(budget), ms(base_p99)),
                verdict(ok).to_string(),
            )
        };
        table.row(vec![
            kind.label().to_string(),
            o.commands.to_string(),
            ms(p50),
            ms(p99),
            ms(max),
            per_run,
            lost.to_string(),
            budget_cell,
            verdict_cell,
        ]);
    }
    section.tables.push(table);
    section.note(format!(
        "Database: `prepbot-dev seed` with {} members, {} answers, {} drops in {} channels (seed {}); a fresh copy per run.",
        crate::report::count(spec.members as f64),
        crate::report::count(spec.answers as f64),
        crate::report::count(spec.drops as f64),
        spec.channels,
        spec.seed
    ));
    section.note(format!(
        "Closed loop, one command at a time, the kinds in turn with the baseline's `/ping` among them (both bots running, each with its own fake), {} warm-up commands of each kind first; every command from a different member; latency from the fake writing INTERACTION_CREATE to the fake receiving the callback. Max is the median of the runs' maxima.",
        if o.quick { 5 } else { WARMUP }
    ));
    section.note(format!(
        "{met} of {} commands within budget.",
        kinds.len() - 1
    ));
    Ok(section)
}

/// The seeded database on PostgreSQL, made once per invocation by the release
/// binary's own `prepbot migrate-store` into a template database; each run gets a
/// copy of it (`CREATE DATABASE … TEMPLATE`), as the SQLite side gets a copy of the
/// file.
async fn postgres_template(seeded: &std::path::Path) -> anyhow::Result<prepare::PgDatabase> {
    let template = prepare::PgDatabase::create("latency_template").await?;
    let dir = prepare::run_dir()?;
    let copy = prepare::copy_into(seeded, dir.path())?;
    // A cached seed may be older than this build's schema: opening it upgrades it,
    // which migrate-store (rightly) leaves to the operator.
    prepbot_core::store::Store::open_url(&bot::sqlite_url(&copy))
        .await?
        .close()
        .await;
    eprintln!("copying the seeded database into PostgreSQL (prepbot migrate-store)");
    let out = std::process::Command::new(bot::prepbot_bin())
        .args(["migrate-store", "--from"])
        .arg(bot::sqlite_url(&copy))
        .args(["--to", &template.url])
        .env("PREPBOT_SHIPPED_QUESTIONS", "off")
        .env("PREPBOT_QUESTIONS", prepare::shipped_questions())
        .output()
        .context("run prepbot migrate-store")?;
    if !out.status.success() {
        anyhow::bail!(
            "prepbot migrate-store failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(template)
}

/// Samples of one run on both backends: the baseline, then each command on SQLite,
/// then each on PostgreSQL.
struct BothRun {
    bare: Samples,
    sqlite: Vec<Samples>,
    postgres: Vec<Samples>,
}

async fn run_once_both(
    o: &Options,
    spec: SeedSpec,
    seeded: &std::path::Path,
    template: &prepare::PgDatabase,
    ids: Arc<Vec<String>>,
) -> anyhow::Result<BothRun> {
    let warmup = if o.quick { 5 } else { WARMUP };
    let dir = prepare::run_dir()?;
    let clock = || Arc::new(prepbot_core::clock::SystemClock);

    let bare_fake = FakeDiscord::start(clock()).await;
    let (mut bare_driver, traffic) = Driver::new(bare_fake.clone(), spec, ids.clone());
    let mut bare = bot::spawn_bare(&bare_fake, None, &dir.path().join("bare.log"))?;
    bot::ready(&bare_fake, &traffic, &mut bare, Duration::from_millis(500)).await?;

    let db = prepare::copy_into(seeded, dir.path())?;
    let sqlite_fake = FakeDiscord::start(clock()).await;
    let (mut sqlite_driver, traffic) = Driver::new(sqlite_fake.clone(), spec, ids.clone());
    let mut sqlite_bot = bot::spawn_prepbot(
        &sqlite_fake,
        &db,
        &prepare::shipped_questions(),
        50,
        &dir.path().join("sqlite.log"),
    )?;
    bot::ready(
        &sqlite_fake,
        &traffic,
        &mut sqlite_bot,
        Duration::from_millis(1500),
    )
    .await?;

    let pg = template.copy("latency").await?;
    // The copy is hundreds of megabytes at full size: written out before the
    // bots start, not while they are timed.
    pg.settle().await?;
    let pg_fake = FakeDiscord::start(clock()).await;
    let (mut pg_driver, traffic) = Driver::new(pg_fake.clone(), spec, ids);
    let mut pg_bot = bot::spawn_prepbot_on(
        &pg_fake,
        &pg.url,
        &prepare::shipped_questions(),
        50,
        &[],
        &dir.path().join("postgres.log"),
    )?;
    bot::ready(&pg_fake, &traffic, &mut pg_bot, Duration::from_millis(1500)).await?;

    let kinds = [Kind::Streak, Kind::Leaderboard, Kind::Search, Kind::Show];
    let sample = |kind| Samples {
        kind,
        latencies: Vec::with_capacity(o.commands),
        lost: 0,
    };
    let mut run = BothRun {
        bare: sample(Kind::Ping),
        sqlite: kinds.iter().map(|&k| sample(k)).collect(),
        postgres: kinds.iter().map(|&k| sample(k)).collect(),
    };
    fn note(s: &mut Samples, d: Option<Duration>) {
        match d {
            Some(d) => s.latencies.push(d),
            None => s.lost += 1,
        }
    }
    // The three bots take turns, command by command: the bare bot, then the kind on
    // SQLite, then on PostgreSQL (which goes first alternates), so all three meet
    // the same moments of a shared machine.
    for i in 0..warmup + o.commands {
        let counted = i >= warmup;
        for (k, &kind) in kinds.iter().enumerate() {
            let b = bare_driver.send(Kind::Ping, i).await;
            let (s, p) = if (i + k) % 2 == 0 {
                let s = sqlite_driver.send(kind, i).await;
                (s, pg_driver.send(kind, i).await)
            } else {
                let p = pg_driver.send(kind, i).await;
                (sqlite_driver.send(kind, i).await, p)
            };
            if counted {
                note(&mut run.bare, b);
                note(&mut run.sqlite[k], s);
                note(&mut run.postgres[k], p);
            }
        }
    }
    for p in [&mut bare, &mut sqlite_bot, &mut pg_bot] {
        p.check_alive()?;
    }
    for p in [bare, sqlite_bot, pg_bot] {
        p.stop().await;
    }
    pg.remove().await?;
    Ok(run)
}

/// Scenario `latency-postgres`: the `latency` commands against the same seeded
/// database on SQLite and on PostgreSQL, the two bots (and the bare baseline) taking
/// turns in one run. The budget: each command's p99 on PostgreSQL within 2 ×
/// its p99 on SQLite.
pub async fn run_both(o: &Options) -> Outcome {
    let (spec, seeded, ids) = seeded_data(o).await?;
    let template = postgres_template(&seeded).await?;
    let mut runs = Vec::new();
    for r in 0..o.runs {
        eprintln!("latency-postgres run {}/{}", r + 1, o.runs);
        match run_once_both(o, spec, &seeded, &template, ids.clone()).await {
            Ok(run) => runs.push(run),
            Err(e) => {
                template.remove().await?;
                return Err(e.context("latency-postgres run"));
            }
        }
    }
    template.remove().await?;

    let mut section = Section::new("Load: command latency, SQLite and PostgreSQL");
    let mut table = Table::new(&[
        "command",
        "SQLite p50 / p99",
        "PostgreSQL p50 / p99",
        "p99 of each run, SQLite → PostgreSQL",
        "ratio of p99s (each run)",
        "lost",
        "budget: PostgreSQL p99 ≤ 2 × SQLite's",
        "verdict",
    ]);
    let stat = |s: &Samples| s.stats();
    let bare: Vec<_> = runs.iter().map(|r| stat(&r.bare)).collect();
    table.row(vec![
        Kind::Ping.label().to_string(),
        format!(
            "{} / {}",
            ms(median(&bare.iter().map(|s| s.0).collect::<Vec<_>>())),
            ms(median(&bare.iter().map(|s| s.1).collect::<Vec<_>>()))
        ),
        "".into(),
        bare.iter().map(|s| ms(s.1)).collect::<Vec<_>>().join(", "),
        "".into(),
        runs.iter().map(|r| r.bare.lost).sum::<usize>().to_string(),
        "".into(),
        "".into(),
    ]);
    let mut met = 0;
    for k in 0..runs[0].sqlite.len() {
        let s: Vec<_> = runs.iter().map(|r| stat(&r.sqlite[k])).collect();
        let p: Vec<_> = runs.iter().map(|r| stat(&r.postgres[k])).collect();
        let p50 = |v: &[(Duration, Duration, Duration)]| {
            median(&v.iter().map(|s| s.0).collect::<Vec<_>>())
        };
        let p99 = |v: &[(Duration, Duration, Duration)]| {
            median(&v.iter().map(|s| s.1).collect::<Vec<_>>())
        };
        let lost: usize = runs
            .iter()
            .map(|r| r.sqlite[k].lost + r.postgres[k].lost)
            .sum();
        let ratio = p99(&p).as_secs_f64() / p99(&s).as_secs_f64();
        let ok = ratio <= 2.0 && lost == 0;
        met += usize::from(ok);
        table.row(vec![
            runs[0].sqlite[k].kind.label().to_string(),
            format!("{} / {}", ms(p50(&s)), ms(p99(&s))),
            format!("{} / {}", ms(p50(&p)), ms(p99(&p))),
            s.iter()
                .zip(&p)
                .map(|(a, b)| format!("{} → {}", ms(a.1), ms(b.1)))
                .collect::<Vec<_>>()
                .join(", "),
            format!(
                "{:.2} ({})",
                ratio,
                s.iter()
                    .zip(&p)
                    .map(|(a, b)| format!("{:.2}", b.1.as_secs_f64() / a.1.as_secs_f64()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            lost.to_string(),
            "≤ 2.00".into(),
            verdict(ok).into(),
        ]);
    }
    section.tables.push(table);
    section.note(format!(
        "Database: `prepbot-dev seed` with {} members, {} answers, {} drops in {} channels (seed {}); per run a fresh copy of the file, and a fresh PostgreSQL database copied (CREATE DATABASE … TEMPLATE) from one that the release binary's `prepbot migrate-store` made from the same file. PostgreSQL from {}.",
        crate::report::count(spec.members as f64),
        crate::report::count(spec.answers as f64),
        crate::report::count(spec.drops as f64),
        spec.channels,
        spec.seed,
        prepare::POSTGRES_URL_VARIABLE,
    ));
    section.note(format!(
        "Closed loop, one command at a time: for each command, the bare bot's `/ping`, then the command on SQLite and on PostgreSQL (which of the two goes first alternates); {} of each kind per run after {} not counted; every command from a different member; latency from the fake writing INTERACTION_CREATE to the fake receiving the callback. Each bot has a fake Discord of its own, and all three run throughout.",
        o.commands,
        if o.quick { 5 } else { WARMUP }
    ));
    section.note(format!(
        "{met} of {} commands within budget (the median of the runs' p99s).",
        runs[0].sqlite.len()
    ));
    Ok(section)
}
