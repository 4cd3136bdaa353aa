//! The load harness: the real `prepbot run` binary (release) against the fake Discord
//! on 127.0.0.1, under load, next to a bare poise bot measured in the same run. Prints
//! a Markdown table per scenario; BENCHMARKS.md keeps the figures.
//!
//! ```sh
//! cargo bench --bench load -- latency|ingest|fanout|startup|memory|slack|all [--runs N] [--quick]
//! PREPBOT_BENCH_POSTGRES_URL=postgres://... cargo bench --bench load -- fanout-shared
//! PREPBOT_BENCH_POSTGRES_URL=postgres://... cargo bench --bench load -- latency-postgres
//! ```
//!
//! - [`latency`]: slash commands one at a time against a seeded database;
//!   `latency-postgres`: the same on SQLite and PostgreSQL, taking turns.
//! - [`ingest`]: a burst of answers from the gateway into the database; the ✅ path.
//! - [`fanout`]: thousands of channels due at the same minute under a global rate limit.
//! - [`shared`] (`fanout-shared`): the same fan-out by two processes sharing the rate
//!   through PostgreSQL, next to one process on PostgreSQL and one on SQLite. Not in
//!   `all`: it needs a PostgreSQL server.
//! - [`startup`]: loading a 1,000-question bank; process start to IDENTIFY.
//! - [`memory`]: the bot's memory after startup, an ingestion burst and a fan-out.
//! - [`slack`]: both platforms in one process: a Slack answer burst through Socket
//!   Mode, its rate, and the bot's memory after it.
//!
//! Support: [`bot`] spawns and pins processes and reads their memory, [`prepare`]
//! builds the databases, [`bank`] writes a generated question bank, [`report`]
//! holds the statistics and the tables.
//!
//! The harness pins itself (and so the fake) to CPU 0 and every bot to CPU 1, so the
//! two never compete for a core; figures still move with whatever else the machine
//! runs, which each table's header reports as the load average.

#[path = "load/bot.rs"]
mod bot;
#[path = "load/fanout.rs"]
mod fanout;
#[path = "load/ingest.rs"]
mod ingest;
#[path = "load/latency.rs"]
mod latency;
#[path = "load/memory.rs"]
mod memory;
#[path = "load/prepare.rs"]
mod prepare;
#[path = "load/report.rs"]
mod report;
#[path = "load/shared.rs"]
mod shared;
#[path = "load/slack.rs"]
mod slack;
#[path = "load/startup.rs"]
mod startup;

use std::process::ExitCode;

use report::{Machine, Section};

const USAGE: &str =
    "usage: cargo bench --bench load -- <latency|latency-postgres|ingest|fanout|fanout-shared|startup|memory|slack|all> [options]

`all` is every scenario but fanout-shared and latency-postgres, which need PREPBOT_BENCH_POSTGRES_URL: a PostgreSQL
server it may create databases on (such as `.ci/postgres.sh` prints).

options:
  --runs N          repeat each scenario N times and report the median (default 3)
  --quick           a smoke run: small sizes, 1 run, under a minute
  --commands N      latency, latency-postgres and slack: commands of each kind per run (default 1000)
  --answers N       ingest, memory and slack: answers in the burst (default 20000)
  --ack-rate R      ingest: the fake's global limit while acks go out (default 50/s)
  --channels N      fanout, fanout-shared and memory: channels due at the same minute (default 5000)
  --rate R          fanout and memory: the fake's global limit in requests/s, the bot paced to it (default 200)
  --shared-rate R   fanout-shared: the same, shared by the processes (default 50, Discord's global limit)
  --questions N     startup: questions in the generated bank (default 1000)
  --no-pin          do not pin processes to CPUs
  --keep            keep each run's directory (database, bot logs) under target/load-cache/runs";

/// What to run and at what size.
#[derive(Debug, Clone)]
pub struct Options {
    pub runs: usize,
    pub quick: bool,
    pub commands: usize,
    pub answers: usize,
    pub ack_rate: usize,
    pub channels: usize,
    pub rate: usize,
    pub shared_rate: usize,
    pub questions: usize,
    pub pin: bool,
    pub keep: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<(Vec<String>, Options), String> {
        let quick = args.iter().any(|a| a == "--quick");
        let mut o = Options {
            runs: if quick { 1 } else { 3 },
            quick,
            commands: if quick { 100 } else { 1_000 },
            answers: if quick { 2_000 } else { 20_000 },
            ack_rate: 50,
            channels: if quick { 200 } else { 5_000 },
            rate: 200,
            shared_rate: 50,
            questions: 1_000,
            pin: true,
            keep: false,
        };
        let mut scenarios = Vec::new();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut number = |name: &str| -> Result<usize, String> {
                it.next()
                    .and_then(|v| v.parse::<usize>().ok())
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("{name} takes a positive number"))
            };
            match arg.as_str() {
                "--quick" => {}
                "--no-pin" => o.pin = false,
                "--keep" => o.keep = true,
                "--runs" => o.runs = number(arg)?,
                "--commands" => o.commands = number(arg)?,
                "--answers" => o.answers = number(arg)?,
                "--ack-rate" => o.ack_rate = number(arg)?,
                "--channels" => o.channels = number(arg)?,
                "--rate" => o.rate = number(arg)?,
                "--shared-rate" => o.shared_rate = number(arg)?,
                "--questions" => o.questions = number(arg)?,
                "all" => scenarios.extend(
                    ["startup", "latency", "ingest", "fanout", "memory", "slack"].map(String::from),
                ),
                "latency" | "ingest" | "fanout" | "fanout-shared" | "latency-postgres"
                | "startup" | "memory" | "slack" => scenarios.push(arg.clone()),
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        Ok((scenarios, o))
    }
}

fn main() -> ExitCode {
    let all: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` adds `--bench`; `cargo test --all-targets` runs this without it.
    let args: Vec<String> = all.into_iter().filter(|a| a != "--bench").collect();
    let (scenarios, options) = match Options::parse(&args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if scenarios.is_empty() {
        // Plain `cargo bench` or `cargo test --all-targets`: the harness takes minutes,
        // so it runs only when asked for by name.
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let machine = Machine::detect();
    let pinned = options.pin && machine.nproc >= 2 && bot::pin_self(bot::DRIVER_CPU);
    if options.pin && !pinned {
        eprintln!("note: not pinning (fewer than 2 CPUs or no taskset); figures are noisier");
    }
    bot::set_pinning(pinned);
    prepare::keep_run_dirs(options.keep);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut failed = false;
    for scenario in &scenarios {
        let load_before = report::loadavg();
        eprintln!("== {scenario}");
        let result = runtime.block_on(async {
            match scenario.as_str() {
                "latency" => latency::run(&options).await,
                "ingest" => ingest::run(&options).await,
                "fanout" => fanout::run(&options).await,
                "fanout-shared" => shared::run(&options).await,
                "latency-postgres" => latency::run_both(&options).await,
                "startup" => startup::run(&options).await,
                "memory" => memory::run(&options).await,
                "slack" => slack::run(&options).await,
                _ => unreachable!("checked by Options::parse"),
            }
        });
        match result {
            Ok(section) => {
                let header = machine.header(&options, pinned, &load_before, &report::loadavg());
                println!("{}", section.render(&header));
            }
            Err(e) => {
                failed = true;
                eprintln!("error: scenario {scenario} failed: {e:#}");
                println!("### {scenario}\n\nFailed: {e:#}\n");
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// A scenario's result.
pub type Outcome = anyhow::Result<Section>;
