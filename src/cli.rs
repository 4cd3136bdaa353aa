//! The command line. `main` parses [`Cli`] and calls [`run`]; every command's work
//! happens in the library so tests can reach it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use clap::builder::TypedValueParser as _;
use clap::{Parser, Subcommand};

use crate::console::{Detail, render_question, stdout_sink};
use crate::demo::{DemoOptions, run as run_demo};
use prepbot_core::bank::{BankSources, Difficulty, Kind, PoolFilter, QuestionBank};
use prepbot_core::config::Config;
use prepbot_core::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "prepbot",
    version,
    about = "Daily backend-interview practice for team study channels",
    after_help = "Members and admins use slash commands on Discord: /help there lists each one and who may run it."
)]
pub struct Cli {
    /// A directory of your own question packs, added to the shipped bank (demo,
    /// check, questions, run). Accepted before or after the subcommand.
    // `--dir` was `questions`' spelling: kept, hidden, so old scripts still work.
    #[arg(
        long,
        global = true,
        env = "PREPBOT_QUESTIONS",
        value_name = "DIR",
        alias = "dir"
    )]
    pub questions: Option<PathBuf>,
    /// Leave out the bank built into prepbot (also PREPBOT_SHIPPED_QUESTIONS=off).
    #[arg(long, global = true)]
    pub no_shipped: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Simulate a study channel in the terminal: drops, answers, reveals, streaks.
    /// No token and no network; a temporary SQLite database unless --db is given.
    Demo {
        /// Number of daily drops to simulate.
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=366))]
        days: u32,
        /// Seed of the channel's question rotation (same seed, same questions).
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Keep the database in this (new) file instead of a temporary one.
        #[arg(long, value_name = "PATH")]
        db: Option<PathBuf>,
        /// First simulated day, YYYY-MM-DD (default: today, UTC).
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = date_arg)]
        start: Option<NaiveDate>,
        /// Print every reveal whole (model answer, look-fors, mistakes, follow-ups, tips)
        /// instead of its first lines.
        #[arg(long)]
        full: bool,
    },
    /// Validate the question banks the bot would read (the shipped bank and your packs):
    /// print every problem (exit 1) or a summary (exit 0).
    Check {
        // The packs directory as a bare argument was `check`'s first spelling; kept,
        // hidden, and it wins over `--questions` as it always did.
        #[arg(hide = true, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Run the bot on Discord: needs DISCORD_TOKEN; every variable it reads is listed
    /// below (and in the README's configuration table).
    Run,
    /// Show each configured channel from the bot's database (PREPBOT_DATABASE_URL):
    /// schedule, next drop, open drop, drop counts and the last problem.
    Status,
    /// Copy the bot's database (PREPBOT_DATABASE_URL) to a new file: a consistent
    /// snapshot, safe to take while the bot runs.
    Backup {
        /// The copy to write: a new file in an existing directory.
        #[arg(value_name = "PATH")]
        path: PathBuf,
    },
    /// Copy the bot's SQLite database into a new, empty PostgreSQL database, to run
    /// several processes on it. Stop the bot first.
    ///
    /// Every row is copied with its ids, in one transaction that is checked (row
    /// counts and checksums on both sides) before it commits; the SQLite file is
    /// only read.
    #[command(
        after_help = "The source must be at this prepbot's schema (run this prepbot on it once, e.g. `prepbot status`, if it is older); the target is migrated first and must be empty. Afterwards point PREPBOT_DATABASE_URL at the PostgreSQL database. Walk-through: docs/POSTGRES.md, \"Scaling out: moving an install\"."
    )]
    MigrateStore {
        /// The SQLite database to copy, e.g. sqlite:///var/lib/prepbot/prepbot.db (never changed).
        #[arg(long, value_name = "URL")]
        from: String,
        /// The empty PostgreSQL database to copy into, e.g. postgres://prepbot@db/prepbot
        /// (a password is better kept in PGPASSWORD or ~/.pgpass than on the command
        /// line; it is never printed).
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Look questions up in the bank (the shipped bank and your packs).
    Questions {
        #[command(subcommand)]
        action: QuestionsCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum QuestionsCommand {
    /// Show one question with its model answer.
    Show {
        /// The question's id (its file name without .md; any case).
        id: String,
    },
    /// Show a random question (without its answer unless --answer).
    Random {
        #[arg(long)]
        topic: Option<String>,
        #[arg(long, value_parser = difficulty_arg())]
        difficulty: Option<Difficulty>,
        #[arg(long, value_parser = kind_arg())]
        kind: Option<Kind>,
        /// Also print the model answer.
        #[arg(long)]
        answer: bool,
        /// Seed for a reproducible pick (default: the clock).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// List questions: a whole topic, difficulty or kind (default: all), in id order.
    List {
        #[arg(long)]
        topic: Option<String>,
        #[arg(long, value_parser = difficulty_arg())]
        difficulty: Option<Difficulty>,
        #[arg(long, value_parser = kind_arg())]
        kind: Option<Kind>,
    },
    /// Search titles, tags and text; best matches first.
    Search {
        /// Words to look for.
        #[arg(required = true, num_args = 1..)]
        query: Vec<String>,
        /// How many results (at least 1).
        #[arg(long, default_value_t = 5, value_parser = limit_arg)]
        limit: usize,
    },
}

// The bank's enums are the core's; clap's parsers are built here so the core does not
// depend on clap. Help lists the same values `ValueEnum` would.
fn difficulty_arg() -> impl clap::builder::TypedValueParser<Value = Difficulty> {
    clap::builder::PossibleValuesParser::new(Difficulty::ALL.map(Difficulty::as_str))
        .map(|s| s.parse::<Difficulty>().expect("one of the listed values"))
}

fn kind_arg() -> impl clap::builder::TypedValueParser<Value = Kind> {
    clap::builder::PossibleValuesParser::new(Kind::ALL.map(Kind::as_str))
        .map(|s| s.parse::<Kind>().expect("one of the listed values"))
}

/// `--start`: a calendar date, named with its format when it is not one.
fn date_arg(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| "expected a date as YYYY-MM-DD, e.g. 2026-03-02".to_string())
}

/// `search --limit`: 0 would print nothing and exit 1 as if nothing matched.
fn limit_arg(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("the limit is how many results to show: at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("expected a whole number of results, at least 1".into()),
    }
}

/// `println!` that tolerates a closed pipe (`prepbot check | head -1`) instead of
/// panicking; other write errors are equally not worth a crash for terminal output.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// Runs a parsed command line; returns the process exit code.
/// The command line, with `run --help` listing every environment variable
/// ([`prepbot_core::config::VARIABLES`]).
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    Cli::command().mut_subcommand("run", |run| {
        run.after_help(prepbot_core::config::variables_help())
    })
}

/// Parses the process's arguments (exits with clap's message on a bad one).
pub fn parse() -> Cli {
    use clap::FromArgMatches;
    Cli::from_arg_matches(&command().get_matches()).unwrap_or_else(|e| e.exit())
}

pub fn run(cli: Cli) -> ExitCode {
    init_tracing();
    let Cli {
        questions: packs,
        no_shipped,
        command,
    } = cli;
    match command {
        Command::Check { dir } => match sources(dir.or(packs), no_shipped) {
            Ok(sources) => check(&sources),
            Err(code) => code,
        },
        Command::Run => match sources(packs, no_shipped) {
            Ok(sources) => run_bot(sources),
            Err(code) => code,
        },
        Command::Status => block_on(async {
            let config = Config::from_env();
            let store = Store::open_existing_url(&config.database_url).await?;
            let text = prepbot_core::status::report(&store, Utc::now()).await;
            store.close().await;
            say!("{}", text?);
            Ok(())
        }),
        Command::Backup { path } => block_on(async move {
            let config = Config::from_env();
            let copy = prepbot_core::store::backup_url(&config.database_url, &path).await?;
            let size = std::fs::metadata(&copy).map(|m| m.len()).unwrap_or(0);
            say!(
                "backed up {} to {} ({} KiB)",
                prepbot_core::store::redact_url(&config.database_url),
                copy.display(),
                size.div_ceil(1024)
            );
            Ok(())
        }),
        Command::MigrateStore { from, to } => {
            // A URL of the wrong kind, or malformed, is a usage error, like a
            // missing --from: exit 2, before anything is opened.
            if let Err(e) = prepbot_core::store::copy::check_urls(&from, &to) {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
            block_on(async move {
                let report = prepbot_core::store::copy::sqlite_to_postgres(&from, &to).await?;
                say!("{}", describe_copy(&report));
                Ok(())
            })
        }
        Command::Questions { action } => match sources(packs, no_shipped) {
            Ok(sources) => questions(&sources, action),
            Err(code) => code,
        },
        Command::Demo {
            days,
            seed,
            db,
            start,
            full,
        } => {
            let sources = match sources(packs, no_shipped) {
                Ok(sources) => sources,
                Err(code) => return code,
            };
            let Some(bank) = load_bank(&sources) else {
                return ExitCode::from(1);
            };
            let opts = DemoOptions {
                days,
                seed,
                db,
                start: start.unwrap_or_else(|| Utc::now().date_naive()),
                detail: if full { Detail::Full } else { Detail::Compact },
            };
            block_on(async move {
                run_demo(opts, Arc::new(bank), stdout_sink())
                    .await
                    .map(|_| ())
            })
        }
    }
}

/// What `prepbot migrate-store` moved: one line per table, then what it left out
/// and the sequences it set.
fn describe_copy(report: &prepbot_core::store::copy::CopyReport) -> String {
    let rows = |n: u64| format!("{n} row{}", if n == 1 { "" } else { "s" });
    let mut out = format!(
        "copied {} (SQLite schema {}) into {} (PostgreSQL schema {}):",
        report.source, report.sqlite_version, report.target, report.postgres_version
    );
    for t in &report.tables {
        out.push_str(&format!("\n  {}: {}", t.name, rows(t.rows)));
    }
    for (name, n) in &report.not_copied {
        let why = prepbot_core::store::copy::NOT_COPIED
            .iter()
            .find(|(t, _)| t == name)
            .map_or("", |(_, why)| why);
        out.push_str(&format!("\n  {name}: not copied ({}; {why})", rows(*n)));
    }
    let sequences: Vec<String> = report
        .sequences
        .iter()
        .map(|s| format!("{}.{} from {}", s.table, s.column, s.next))
        .collect();
    out.push_str(&format!(
        "\nsequences set (the next id each hands out): {}",
        sequences.join(", ")
    ));
    out.push_str(
        "\nverified: the same row count and checksum on both sides for every table, then committed",
    );
    match &report.analyzed {
        Ok(()) => out.push_str("\nvacuumed, statistics gathered (VACUUM ANALYZE)"),
        Err(e) => out.push_str(&format!(
            "\nnot vacuumed ({e}): run VACUUM ANALYZE on the database, or autovacuum will shortly"
        )),
    }
    out.push_str("\nnext: set PREPBOT_DATABASE_URL to the PostgreSQL database and start the bot");
    out
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::from(1)
        })
}

fn block_on(fut: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// `prepbot run`: exit 2 for a setting to fix, 1 for a failure. Serves Discord when
/// `DISCORD_TOKEN` is set, Slack when `SLACK_BOT_TOKEN` and `SLACK_APP_TOKEN` are.
fn run_bot(bank: BankSources) -> ExitCode {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let code = serve(&runtime, bank);
    // The bot has shut down in order by now (events drained, the scheduler and the
    // answer writer stopped). Dropping a runtime waits for every worker thread
    // without a limit, and serenity 0.12.5 can leave one that never yields: a shard
    // runner asked to stop after its connection ended polls the ended stream in a
    // loop (`ShardRunner::checked_shutdown`). A bounded wait lets the process exit.
    runtime.shutdown_timeout(RUNTIME_TAIL);
    code
}

/// How long the runtime waits for tasks left after the bot's own shutdown.
const RUNTIME_TAIL: std::time::Duration = std::time::Duration::from_secs(5);

fn serve(runtime: &tokio::runtime::Runtime, bank: BankSources) -> ExitCode {
    let var = |name: &str| std::env::var(name).ok();
    let discord =
        var(prepbot_core::config::vars::DISCORD_TOKEN).is_some_and(|t| !t.trim().is_empty());
    let slack = prepbot_slack::SlackConfig::wanted(&var);
    if slack && discord {
        return runtime.block_on(crate::platforms::run_both(bank));
    }
    if slack {
        return match runtime.block_on(prepbot_slack::run_from_env_with_bank(bank)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(prepbot_slack::RunError::Config(e)) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        };
    }
    match runtime.block_on(prepbot_discord::run_from_env_with_bank(bank)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(prepbot_discord::RunError::Config(prepbot_discord::ConfigError::MissingToken)) => {
            // Neither platform is configured: name both ways to fix it.
            eprintln!(
                "error: DISCORD_TOKEN is not set, nor SLACK_BOT_TOKEN + SLACK_APP_TOKEN: set DISCORD_TOKEN to serve Discord, or SLACK_BOT_TOKEN and SLACK_APP_TOKEN to serve Slack (see the README and docs/SLACK.md)"
            );
            ExitCode::from(2)
        }
        Err(prepbot_discord::RunError::Config(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"))
        // slack-morphism logs the Socket Mode URL, with its ticket, when a connection
        // fails, and the websocket library logs its handshake request (the same URL)
        // at trace: capped whatever RUST_LOG says, so no ticket reaches the log. The
        // adapter logs what matters itself.
        .add_directive("slack_morphism=off".parse().expect("a valid directive"))
        .add_directive("tungstenite=info".parse().expect("a valid directive"))
        .add_directive("tokio_tungstenite=info".parse().expect("a valid directive"));
    // A second init (tests calling `run` twice) is harmless; ignore it. Colours
    // only on a terminal: a log file or journald gets plain text.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// The banks a command reads: the shipped one unless `--no-shipped` or
/// `PREPBOT_SHIPPED_QUESTIONS=off`, and the packs directory if given (clap has already
/// read `PREPBOT_QUESTIONS` into it).
fn sources(packs: Option<PathBuf>, no_shipped: bool) -> Result<BankSources, ExitCode> {
    let from_env =
        prepbot_core::config::bank_sources(|name| std::env::var(name).ok()).map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::from(2)
        })?;
    Ok(BankSources {
        shipped: from_env.shipped && !no_shipped,
        packs,
    })
}

/// Loads the banks or prints every problem to stderr.
fn load_bank(sources: &BankSources) -> Option<QuestionBank> {
    match QuestionBank::from_sources(sources) {
        Ok(bank) => Some(bank),
        Err(errors) => {
            eprintln!("{errors}");
            let which = match &sources.packs {
                Some(dir) => format!("the question bank at {}", dir.display()),
                None => "the shipped question bank".into(),
            };
            eprintln!(
                "error: {which} has {} problem{}",
                errors.0.len(),
                if errors.0.len() == 1 { "" } else { "s" }
            );
            None
        }
    }
}

/// Where a bank's questions came from, one line each, and the shipped questions a
/// pack replaced.
fn describe_origins(bank: &QuestionBank) -> Vec<String> {
    let mut lines: Vec<String> = bank
        .origins()
        .iter()
        .map(|o| format!("reading {o}"))
        .collect();
    for o in bank.overrides() {
        lines.push(format!(
            "  {} replaces the shipped question `{}`",
            o.path.display(),
            o.id
        ));
    }
    lines
}

fn questions_count(n: usize) -> String {
    format!("{n} question{}", if n == 1 { "" } else { "s" })
}

fn check(sources: &BankSources) -> ExitCode {
    let Some(bank) = load_bank(sources) else {
        return ExitCode::from(1);
    };
    for line in describe_origins(&bank) {
        say!("{line}");
    }
    let s = bank.summary();
    let warnings = bank.warnings();
    for w in &warnings {
        eprintln!("{w}");
    }
    let total = questions_count(s.total);
    if warnings.is_empty() {
        say!("{total}, no problems");
    } else {
        say!(
            "{total}, no errors, {} tag warnings (tags are enforced only in a bank with its own {})",
            warnings.len(),
            prepbot_core::bank::TAGS_FILE
        );
    }
    let line = |label: &str, items: Vec<(String, usize)>| {
        let parts: Vec<String> = items.into_iter().map(|(k, n)| format!("{k} {n}")).collect();
        say!("  {label:<11} {}", parts.join(", "));
    };
    line("topics:", s.by_topic.into_iter().collect());
    line(
        "difficulty:",
        s.by_difficulty
            .into_iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect(),
    );
    line(
        "kind:",
        s.by_kind
            .into_iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect(),
    );
    ExitCode::SUCCESS
}

fn questions(sources: &BankSources, action: QuestionsCommand) -> ExitCode {
    let Some(bank) = load_bank(sources) else {
        return ExitCode::from(1);
    };
    // Named only when it is not the default (the shipped bank alone), so the usual
    // output and its one-line errors stay as they are.
    if sources != &BankSources::default() {
        for line in describe_origins(&bank) {
            eprintln!("{line}");
        }
    }
    match action {
        QuestionsCommand::Show { id } => match bank.find(&id) {
            Some(q) => {
                say!("{}", render_question(q, true));
                ExitCode::SUCCESS
            }
            None => {
                match bank.nearest_id(&id) {
                    Some(near) => eprintln!(
                        "error: no question with id `{id}`; did you mean `{near}`? (`prepbot questions search {id}` searches the text)"
                    ),
                    None => eprintln!(
                        "error: no question with id `{id}`; try `prepbot questions search {id}`"
                    ),
                }
                ExitCode::from(1)
            }
        },
        QuestionsCommand::Random {
            topic,
            difficulty,
            kind,
            answer,
            seed,
        } => {
            if !known_topic(&bank, topic.as_deref()) {
                return ExitCode::from(1);
            }
            let filter = PoolFilter {
                topic,
                difficulty,
                kind,
            };
            let seed =
                seed.unwrap_or_else(|| Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64);
            match bank.random(&filter, seed) {
                Some(q) => {
                    say!("{}", render_question(q, answer));
                    ExitCode::SUCCESS
                }
                None => {
                    eprintln!("error: no question matches {filter}");
                    ExitCode::from(1)
                }
            }
        }
        QuestionsCommand::Search { query, limit } => {
            let query = query.join(" ");
            let hits = bank.search(&query, limit);
            if hits.is_empty() {
                eprintln!("no question matches `{query}`");
                return ExitCode::from(1);
            }
            for hit in hits {
                say_row(hit.question);
            }
            ExitCode::SUCCESS
        }
        QuestionsCommand::List {
            topic,
            difficulty,
            kind,
        } => {
            if !known_topic(&bank, topic.as_deref()) {
                return ExitCode::from(1);
            }
            let filter = PoolFilter {
                topic,
                difficulty,
                kind,
            };
            let mut listed = 0;
            for q in bank.pool(&filter) {
                say_row(q);
                listed += 1;
            }
            if listed == 0 {
                eprintln!("error: no question matches {filter}");
                return ExitCode::from(1);
            }
            ExitCode::SUCCESS
        }
    }
}

/// False, after saying so, when `topic` is given and the bank has no such topic.
fn known_topic(bank: &QuestionBank, topic: Option<&str>) -> bool {
    match topic {
        Some(t) if !bank.topics().contains(&t) => {
            eprintln!(
                "error: unknown topic `{t}` (topics: {})",
                bank.topics().join(", ")
            );
            false
        }
        _ => true,
    }
}

/// One question as a line of `questions search` and `questions list`.
fn say_row(q: &prepbot_core::bank::Question) {
    say!(
        "{:<40} {:<20} {:<7} {}",
        q.id,
        q.topic,
        q.difficulty.as_str(),
        q.title
    );
}
