//! Scenario `fanout-shared`: the fan-out of [`crate::fanout`] shared by two
//! processes (issue 13: "Fan-out of 5,000 channels across two processes ≥ 90% of the
//! shared allowed rate, never above it"). `--channels` channels, each in its own
//! server, the servers spread over two Discord shards, are set up on one fresh
//! PostgreSQL database for the next whole minute; two `prepbot run` processes,
//! `PREPBOT_SHARDS=0-0/2` and `1-1/2`, both with `PREPBOT_DISCORD_RATE` at
//! `--shared-rate`, post them, taking their send slots from the schedule they share
//! in the database; the fake enforces exactly that rate across both.
//!
//! In the same run, and on the same channels, the two baselines: ONE process on
//! PostgreSQL (shards `0-1/2`: the same shared schedule, nobody to share it with),
//! and one process on SQLite (the in-memory pacer, no database between the slots:
//! the bare fan-out). Each run takes the three in turn, in an order rotated from
//! run to run. The database server comes from `PREPBOT_BENCH_POSTGRES_URL`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::bot::{self, Proc};
use crate::fanout::{Fanout, Posts, instant_of, watch_fanout_of};
use crate::prepare::{self, PgDatabase};
use crate::report::{Section, Table, count, cpu_waited_us, loadavg, mb, median, ms, verdict};
use crate::{Options, Outcome};
use prepbot_fake_discord::FakeDiscord;

const BUDGET_SHARE: f64 = 0.9;

/// What src/practice.rs logs (at info) for each drop a process records as posted.
const DROP_POSTED: &str = "drop posted";

/// The bots log warnings, and the one info line per posted drop the split is
/// counted from.
const LOG_FILTER: &str = "warn,prepbot_core::practice=info";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setup {
    Sqlite,
    PostgresOne,
    PostgresTwo,
}

impl Setup {
    const ALL: [Setup; 3] = [Setup::PostgresTwo, Setup::PostgresOne, Setup::Sqlite];

    fn label(self) -> &'static str {
        match self {
            Setup::Sqlite => "SQLite, one process",
            Setup::PostgresOne => "PostgreSQL, one process",
            Setup::PostgresTwo => "PostgreSQL, two processes",
        }
    }

    /// `PREPBOT_SHARDS` of each process: two shards in all, whoever serves them.
    fn shards(self) -> &'static [&'static str] {
        match self {
            Setup::Sqlite | Setup::PostgresOne => &["0-1/2"],
            Setup::PostgresTwo => &["0-0/2", "1-1/2"],
        }
    }
}

struct Run {
    setup: Setup,
    f: Fanout,
    /// Drops each process logged as posted, in the order of [`Setup::shards`].
    posted_by: Vec<usize>,
    /// Drops more than one process logged as posted: worked by both.
    worked_twice: usize,
    /// Each process's VmHWM, same order.
    hwm_kb: Vec<u64>,
    /// Each process's VmHWM just before the fan-out began (start-up, the servers'
    /// GUILD_CREATEs), same order.
    hwm_before_kb: Vec<u64>,
    /// The share of the fan-out during which some task on the machine waited for a
    /// CPU (PSI), if the kernel reports it.
    cpu_pressure: Option<f64>,
    /// Drops the database records as posted, and channels with more than one drop.
    recorded: (i64, i64),
    waited: Duration,
    load: (String, String),
}

async fn run_once(o: &Options, setup: Setup) -> anyhow::Result<Run> {
    let load_before = loadavg();
    let dir = prepare::run_dir()?;
    let pg = match setup {
        Setup::Sqlite => None,
        Setup::PostgresOne | Setup::PostgresTwo => Some(PgDatabase::create("fanout").await?),
    };
    let url = match &pg {
        Some(db) => db.url.clone(),
        None => bot::sqlite_url(&dir.path().join("bot.db")),
    };
    let practice = prepare::practice_at(&url).await?;
    let (due, setup_at) = prepare::due_minute(o.quick, o.channels, chrono::Utc::now());
    eprintln!(
        "{}: setting up {} channels due at {}",
        setup.label(),
        o.channels,
        due.format("%H:%M:%S UTC")
    );
    let started_setup = Instant::now();
    prepare::due_channels(&practice, o.channels, due, setup_at).await?;
    practice.store().close().await;
    eprintln!("set up in {:.1} s", started_setup.elapsed().as_secs_f64());

    let fake = FakeDiscord::start(Arc::new(prepbot_core::clock::SystemClock)).await;
    // Each session gets the servers of its shard, as from Discord.
    for c in 0..o.channels {
        let channel = prepare::fanout_channel(c);
        fake.add_guild(
            prepare::fanout_guild(c),
            &[(channel, format!("study-{c}").as_str())],
        );
    }
    let (posts, traffic) = Posts::watch(&fake);
    fake.set_global_limit(Some(o.shared_rate));
    let mut bots = Vec::new();
    for (i, shards) in setup.shards().iter().enumerate() {
        bots.push(bot::spawn_prepbot_on(
            &fake,
            &url,
            &prepare::shipped_questions(),
            o.shared_rate,
            &[
                ("PREPBOT_SHARDS", shards.to_string()),
                ("RUST_LOG", LOG_FILTER.to_string()),
            ],
            &dir.path().join(format!("bot-{i}.log")),
        )?);
    }
    let due_at = if o.quick {
        bots[0].spawned
    } else {
        instant_of(due)
    };
    if !o.quick {
        bot::ready_all(&fake, &traffic, &mut bots, 2, Duration::from_millis(500)).await?;
        if chrono::Utc::now() >= due {
            eprintln!(
                "warning: the bots were up only after the due minute; they post them as catch-up"
            );
        }
    }
    let waited = due_at.saturating_duration_since(Instant::now());
    if !waited.is_zero() {
        eprintln!(
            "waiting {:.0} s for {}",
            waited.as_secs_f64(),
            due.format("%H:%M UTC")
        );
    }
    // Just before the due instant: what start-up alone took.
    let ahead = due_at.saturating_duration_since(Instant::now());
    if ahead > Duration::from_millis(500) {
        tokio::time::sleep(ahead - Duration::from_millis(500)).await;
    }
    // (With --quick the bots start after the due instant: nothing to read.)
    let hwm_before_kb = if o.quick {
        Vec::new()
    } else {
        bots.iter().map(Proc::hwm_kb).collect()
    };
    let (waited_before, watch_from) = (cpu_waited_us(), Instant::now());
    let f = watch_fanout_of(&fake, &posts, &mut bots, o.channels, o.shared_rate, due_at).await?;
    let cpu_pressure = cpu_waited_us().zip(waited_before).map(|(after, before)| {
        after.saturating_sub(before) as f64 / watch_from.elapsed().as_micros() as f64
    });
    // Anything posted twice would have arrived by now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let f = Fanout {
        twice: posts.twice(),
        ..f
    };
    let hwm_kb = bots.iter().map(Proc::hwm_kb).collect();
    let logged: Vec<Vec<i64>> = bots.iter().map(drops_logged).collect();
    let posted_by = logged.iter().map(Vec::len).collect();
    let worked_twice = {
        let mut all: Vec<i64> = logged
            .iter()
            .flat_map(|l| {
                let mut l = l.clone();
                l.sort();
                l.dedup();
                l
            })
            .collect();
        let n = all.len();
        all.sort();
        all.dedup();
        n - all.len()
    };
    for bot in &mut bots {
        bot.check_alive()?;
    }
    for bot in bots {
        bot.stop().await;
    }
    let recorded = prepare::drops_recorded(&url).await?;
    if let Some(db) = pg {
        db.remove().await?;
    }
    Ok(Run {
        setup,
        f,
        posted_by,
        worked_twice,
        hwm_kb,
        hwm_before_kb,
        cpu_pressure,
        recorded,
        waited,
        load: (load_before, loadavg()),
    })
}

pub async fn run(o: &Options) -> Outcome {
    // Before anything else: without a server there is nothing to measure.
    prepare::postgres_server()?;
    let mut runs = Vec::new();
    for r in 0..o.runs {
        let mut order = Setup::ALL;
        order.rotate_left(r % Setup::ALL.len());
        for setup in order {
            eprintln!("fanout-shared run {}/{}: {}", r + 1, o.runs, setup.label());
            let run = run_once(o, setup)
                .await
                .with_context(|| format!("fanout-shared run {}: {}", r + 1, setup.label()))?;
            eprintln!(
                "{}: {:.1}/s, busiest second {}, {} 429s, {} + {} posted, split {:?}, all {:.1} s after due",
                setup.label(),
                run.f.rate,
                run.f.busiest_second,
                run.f.rate_limited,
                run.f.messages,
                run.f.threads,
                run.posted_by,
                run.f.all_after_due.as_secs_f64()
            );
            runs.push(run);
        }
    }
    Ok(report(o, &runs))
}

fn pressure(r: &Run) -> String {
    r.cpu_pressure
        .map_or_else(|| "?".into(), |p| format!("{:.0}%", p * 100.0))
}

fn tightest(r: &Run) -> Duration {
    r.f.tightest.unwrap_or_default()
}

/// A span near a second, to a tenth of a millisecond.
fn span_ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The drops a process logged as posted (`drop posted drop=N`), in its log's order.
fn drops_logged(bot: &Proc) -> Vec<i64> {
    std::fs::read_to_string(&bot.log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(DROP_POSTED))
        .filter_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("drop="))
                .and_then(|n| n.parse().ok())
        })
        .collect()
}

/// The runs of one setup, in order.
fn of(runs: &[Run], setup: Setup) -> Vec<&Run> {
    runs.iter().filter(|r| r.setup == setup).collect()
}

fn report(o: &Options, runs: &[Run]) -> Section {
    let rate = o.shared_rate;
    let two = of(runs, Setup::PostgresTwo);
    let med =
        |rs: &[&Run], f: fn(&Run) -> f64| median(&rs.iter().map(|r| f(r)).collect::<Vec<_>>());
    let each = |rs: &[&Run], f: &dyn Fn(&Run) -> String| {
        rs.iter().map(|r| f(r)).collect::<Vec<_>>().join(", ")
    };
    let share = med(&two, |r| r.f.rate) / rate as f64;
    let busiest = two.iter().map(|r| r.f.busiest_second).max().unwrap_or(0);
    let limited: usize = two.iter().map(|r| r.f.rate_limited).sum();
    let all_posted = |r: &Run| r.f.messages >= o.channels && r.f.threads >= o.channels;
    let none_twice = |r: &Run| r.f.twice == (0, 0) && r.recorded.1 == 0;

    let mut section = Section::new("Load: fan-out shared by two processes");
    let mut t = Table::new(&["two processes", "median", "each run", "budget", "verdict"]);
    t.row(vec![
        format!("accepted drop requests per second (shared limit {rate}/s)"),
        format!(
            "{:.1} ({:.1}% of the limit)",
            med(&two, |r| r.f.rate),
            share * 100.0
        ),
        each(&two, &|r| format!("{:.1}", r.f.rate)),
        "≥ 90% of the limit".into(),
        verdict(share >= BUDGET_SHARE).into(),
    ]);
    t.row(vec![
        "most requests accepted in any one second (sliding), first to last drop request".into(),
        count(med(&two, |r| r.f.busiest_second as f64)),
        each(&two, &|r| r.f.busiest_second.to_string()),
        format!("≤ {rate}"),
        verdict(busiest <= rate).into(),
    ]);
    t.row(vec![
        format!(
            "least time spanned by {} consecutive requests, accepted or refused (the pacer aims at 1,020 ms)",
            rate + 1
        ),
        span_ms(median(
            &two.iter().map(|r| tightest(r)).collect::<Vec<_>>(),
        )),
        each(&two, &|r| span_ms(tightest(r))),
        "≥ 1,000 ms".into(),
        verdict(two.iter().all(|r| tightest(r) >= Duration::from_secs(1))).into(),
    ]);
    t.row(vec![
        "429s from the global limit".into(),
        count(med(&two, |r| r.f.rate_limited as f64)),
        each(&two, &|r| r.f.rate_limited.to_string()),
        "0".into(),
        verdict(limited == 0).into(),
    ]);
    t.row(vec![
        format!(
            "drops posted: messages + threads (of {} each)",
            count(o.channels as f64)
        ),
        "".into(),
        each(&two, &|r| format!("{} + {}", r.f.messages, r.f.threads)),
        "all".into(),
        verdict(two.iter().all(|r| all_posted(r))).into(),
    ]);
    t.row(vec![
        "channels with two question messages / two threads / two drops in the database".into(),
        "".into(),
        each(&two, &|r| {
            format!("{} / {} / {}", r.f.twice.0, r.f.twice.1, r.recorded.1)
        }),
        "none".into(),
        verdict(two.iter().all(|r| none_twice(r))).into(),
    ]);
    t.row(vec![
        "drops both processes logged as posted (one drop worked by both)".into(),
        "".into(),
        each(&two, &|r| r.worked_twice.to_string()),
        "0".into(),
        verdict(two.iter().all(|r| r.worked_twice == 0)).into(),
    ]);
    t.row(vec![
        "drops recorded posted in the database".into(),
        "".into(),
        each(&two, &|r| r.recorded.0.to_string()),
        format!("{}", o.channels),
        verdict(two.iter().all(|r| r.recorded.0 == o.channels as i64)).into(),
    ]);
    t.row(vec![
        "threads the bots gave up on (their logs: posted, thread not opened)".into(),
        count(med(&two, |r| r.f.threads_given_up as f64)),
        each(&two, &|r| r.f.threads_given_up.to_string()),
        "".into(),
        "".into(),
    ]);
    t.row(vec![
        "drops posted by process A (shard 0) + B (shard 1), from their logs".into(),
        "".into(),
        each(&two, &|r| {
            r.posted_by
                .iter()
                .map(|n| count(*n as f64))
                .collect::<Vec<_>>()
                .join(" + ")
        }),
        "".into(),
        "".into(),
    ]);
    t.row(vec![
        "first drop request after the due instant".into(),
        ms(median(
            &two.iter().map(|r| r.f.first_after_due).collect::<Vec<_>>(),
        )),
        each(&two, &|r| ms(r.f.first_after_due)),
        "".into(),
        "".into(),
    ]);
    t.row(vec![
        format!(
            "all {} drops posted (with threads), after the due instant",
            count(o.channels as f64)
        ),
        ms(median(
            &two.iter().map(|r| r.f.all_after_due).collect::<Vec<_>>(),
        )),
        each(&two, &|r| ms(r.f.all_after_due)),
        format!(
            "(the limit allows {:.1} s)",
            2.0 * o.channels as f64 / rate as f64
        ),
        "".into(),
    ]);
    t.row(vec![
        "VmHWM (peak RSS) of A + B, just before the due instant".into(),
        "".into(),
        each(&two, &|r| {
            r.hwm_before_kb
                .iter()
                .map(|kb| mb(*kb))
                .collect::<Vec<_>>()
                .join(" + ")
        }),
        "".into(),
        "".into(),
    ]);
    t.row(vec![
        "VmHWM (peak RSS) of A + B".into(),
        "".into(),
        each(&two, &|r| {
            r.hwm_kb
                .iter()
                .map(|kb| mb(*kb))
                .collect::<Vec<_>>()
                .join(" + ")
        }),
        "".into(),
        "".into(),
    ]);
    t.row(vec![
        "load average (1 min) before → after".into(),
        "".into(),
        each(&two, &|r| format!("{} → {}", r.load.0, r.load.1)),
        "".into(),
        "".into(),
    ]);
    t.row(vec![
        "share of the fan-out some task waited for a CPU (PSI)".into(),
        "".into(),
        each(&two, &pressure),
        "".into(),
        "".into(),
    ]);
    section.tables.push(t);

    // The baselines, from the same runs.
    let mut header = vec!["same runs, median (each run)"];
    header.extend(Setup::ALL.iter().rev().map(|s| s.label()));
    let mut b = Table::new(&header);
    type Cell = fn(&[&Run]) -> String;
    let rows: [(&str, Cell); 10] = [
        ("accepted drop requests per second", |rs| {
            let m = median(&rs.iter().map(|r| r.f.rate).collect::<Vec<_>>());
            let all: Vec<String> = rs.iter().map(|r| format!("{:.1}", r.f.rate)).collect();
            format!("{m:.1} ({})", all.join(", "))
        }),
        ("most in any one second / 429s", |rs| {
            rs.iter()
                .map(|r| format!("{} / {}", r.f.busiest_second, r.f.rate_limited))
                .collect::<Vec<_>>()
                .join(", ")
        }),
        ("least time spanned by rate + 1 requests", |rs| {
            rs.iter()
                .map(|r| span_ms(tightest(r)))
                .collect::<Vec<_>>()
                .join(", ")
        }),
        ("messages + threads posted", |rs| {
            rs.iter()
                .map(|r| format!("{} + {}", r.f.messages, r.f.threads))
                .collect::<Vec<_>>()
                .join(", ")
        }),
        ("channels with two messages / threads / drops", |rs| {
            rs.iter()
                .map(|r| format!("{}/{}/{}", r.f.twice.0, r.f.twice.1, r.recorded.1))
                .collect::<Vec<_>>()
                .join(", ")
        }),
        ("first drop request after the due instant", |rs| {
            let m = median(&rs.iter().map(|r| r.f.first_after_due).collect::<Vec<_>>());
            let all: Vec<String> = rs.iter().map(|r| ms(r.f.first_after_due)).collect();
            format!("{} ({})", ms(m), all.join(", "))
        }),
        ("all posted, after the due instant", |rs| {
            let m = median(&rs.iter().map(|r| r.f.all_after_due).collect::<Vec<_>>());
            let all: Vec<String> = rs.iter().map(|r| ms(r.f.all_after_due)).collect();
            format!("{} ({})", ms(m), all.join(", "))
        }),
        (
            "VmHWM (peak RSS), each process (just before the due instant)",
            |rs| {
                rs.iter()
                    .map(|r| {
                        r.hwm_kb
                            .iter()
                            .enumerate()
                            .map(|(i, kb)| match r.hwm_before_kb.get(i) {
                                Some(before) => format!("{} ({})", mb(*kb), mb(*before)),
                                None => mb(*kb),
                            })
                            .collect::<Vec<_>>()
                            .join(" + ")
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ),
        (
            "share of the fan-out some task waited for a CPU (PSI)",
            |rs| {
                rs.iter()
                    .map(|r| pressure(r))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ),
        ("load average (1 min) before → after", |rs| {
            rs.iter()
                .map(|r| format!("{} → {}", r.load.0, r.load.1))
                .collect::<Vec<_>>()
                .join(", ")
        }),
    ];
    for (label, cell) in rows {
        let mut cells = vec![label.to_string()];
        cells.extend(Setup::ALL.iter().rev().map(|s| cell(&of(runs, *s))));
        b.row(cells);
    }
    section.tables.push(b);

    section.note(format!(
        "{} channels, each in its own server, the servers spread over 2 Discord shards (server ids 1 << 22 apart: half on each), set up through the library for the same minute; {} Each setup on a fresh database; the fake Discord announces each server to its shard's session and allows {rate} requests in any one-second window across both processes (429 with `global: true` beyond).",
        count(o.channels as f64),
        if o.quick {
            "with --quick that minute is the one under way, so the bots post them on startup.".to_string()
        } else {
            format!(
                "the next whole minute in UTC, a real one: the runs waited {} for it.",
                runs.iter()
                    .map(|r| format!("{:.0} s", r.waited.as_secs_f64()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
    ));
    section.note(format!(
        "Every process has PREPBOT_DISCORD_RATE={rate}: on PostgreSQL they take their send slots from one schedule in the database (crates/core/src/pace.rs), on SQLite the one process paces itself in memory. One process serves shards 0-1/2; two serve 0-0/2 and 1-1/2. Each run takes the three setups in turn ({}), the order rotated from run to run.",
        Setup::ALL.map(Setup::label).join(", then ")
    ));
    section.note("The rate counts the drop messages and threads the fake accepted per second, over the whole seconds from the first one (the last partial second left out); \"most in any one second\" counts every request the fake's limit counts, in a sliding one-second window, from the first drop request to the last. Who posted a drop is read from each process's log (one info line per drop recorded posted).");
    section.note("The bots are pinned together to one CPU, the fake and the harness to the other; PostgreSQL (from PREPBOT_BENCH_POSTGRES_URL) is not pinned. CPU pressure is the kernel's (/proc/pressure/cpu, \"some\"): the share of the fan-out during which anything runnable on the machine, this run's processes included, waited for a core.");
    section
}
