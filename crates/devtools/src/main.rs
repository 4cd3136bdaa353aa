//! `prepbot-dev`: `bench` (hot-path timings), `seed` (a large database) and
//! `compare-backends` (SQLite against PostgreSQL on the same seeded data).
//! Run from the workspace root: `cargo run --release -p prepbot-devtools -- bench`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use prepbot_core::bank::QuestionBank;
use prepbot_devtools::{compare, hotpaths, seed};

#[derive(Debug, Parser)]
#[command(
    name = "prepbot-dev",
    about = "prepbot's developer tools: timings and a large seeded database"
)]
struct Cli {
    /// Question bank directory.
    #[arg(long, env = "PREPBOT_QUESTIONS", default_value = "questions")]
    questions: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure the engine, the store and the bank; prints a table of timings.
    Bench {
        /// Fewer iterations, for a quick look.
        #[arg(long)]
        quick: bool,
    },
    /// Build a large database reproducibly (default: 100,000 members, 1,000,000
    /// answers over 1,000 drops in 10 channels).
    Seed {
        /// The database file to create (must not exist).
        path: PathBuf,
        #[arg(long, default_value_t = 100_000)]
        members: u64,
        #[arg(long, default_value_t = 1_000_000)]
        answers: u64,
        #[arg(long, default_value_t = 1_000)]
        drops: u64,
        #[arg(long, default_value_t = 10)]
        channels: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Time each command's store reads and answer ingestion on SQLite and on
    /// PostgreSQL, on the same seeded data; prints p50/p99 per backend and the ratio.
    CompareBackends {
        /// The seeded SQLite file (seeded with the default spec if it does not exist).
        #[arg(long)]
        sqlite: PathBuf,
        /// An empty PostgreSQL database; the SQLite data is copied into it.
        #[arg(long)]
        postgres: String,
        /// Fewer iterations, for a quick look.
        #[arg(long)]
        quick: bool,
    },
}

fn load_bank(dir: &Path) -> anyhow::Result<Arc<QuestionBank>> {
    QuestionBank::load(dir)
        .map(Arc::new)
        .map_err(|e| anyhow::anyhow!("the question bank at {} does not load: {e}", dir.display()))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let bank = load_bank(&cli.questions)?;
    match cli.command {
        Command::Bench { quick } => println!("{}", hotpaths::run(bank, quick).await?),
        Command::Seed {
            path,
            members,
            answers,
            drops,
            channels,
            seed: rotation_seed,
        } => {
            let spec = seed::SeedSpec {
                members,
                answers,
                drops,
                channels,
                seed: rotation_seed,
            };
            let s = seed::seed(&path, bank, spec).await?;
            println!(
                "{}: {} channels, {} drops, {} answers, {} member streaks in {:.1} s",
                path.display(),
                s.channels,
                s.drops,
                s.answers,
                s.member_stats,
                s.seconds
            );
        }
        Command::CompareBackends {
            sqlite,
            postgres,
            quick,
        } => {
            let spec = seed::SeedSpec::default();
            println!(
                "{}",
                compare::run(bank, &sqlite, &postgres, spec, quick).await?
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
