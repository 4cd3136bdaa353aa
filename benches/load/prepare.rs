//! The databases the scenarios start from: the large seeded one (`prepbot-dev seed`,
//! cached under `target/load-cache/` by its spec), a channel with an open drop for
//! answers to go to, and channels all due at one instant. Built with the library,
//! like `/setup` and `/drop` would, so nothing here depends on the schema.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use chrono::{DateTime, NaiveTime, Utc};
use prepbot_core::bank::{PoolFilter, QuestionBank};
use prepbot_core::engine::schedule::{Days, parse_zone};
use prepbot_core::practice::{ChannelSetup, Practice};
use prepbot_core::store::Store;
use prepbot_devtools::seed::SeedSpec;

use crate::bot;
use prepbot_fake_discord::{CHANNEL_A, GUILD_A};

/// The channel answers go to in `ingest` and `memory`, and its drop's thread.
pub const INGEST_CHANNEL: u64 = CHANNEL_A;
pub const INGEST_THREAD: u64 = 750_000_000_000_000_001;

/// The `c`th channel (0-based) of a fan-out, each in its own server.
pub fn fanout_channel(c: usize) -> u64 {
    600_000_000_000_000_000 + c as u64
}

/// The server of the `c`th fan-out channel. Servers are `1 << 22` apart, so
/// consecutive ones fall on consecutive Discord shards (`(id >> 22) % total`), as
/// real server ids spread over them: half of them on each of two shards.
pub fn fanout_guild(c: usize) -> u64 {
    610_000_000_000_000_000 + ((c as u64) << 22)
}

pub fn cache_dir() -> PathBuf {
    bot::target_dir().join("load-cache")
}

static KEEP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Keep every run's directory (`--keep`), to read the bots' logs afterwards.
pub fn keep_run_dirs(on: bool) {
    KEEP.store(on, std::sync::atomic::Ordering::SeqCst);
}

/// A fresh directory for one run's database and logs, removed afterwards unless
/// `--keep` was given.
pub fn run_dir() -> anyhow::Result<tempfile::TempDir> {
    let parent = cache_dir().join("runs");
    std::fs::create_dir_all(&parent)?;
    let mut dir = tempfile::tempdir_in(parent)?;
    if KEEP.load(std::sync::atomic::Ordering::SeqCst) {
        dir.disable_cleanup(true);
        eprintln!("keeping {}", dir.path().display());
    }
    Ok(dir)
}

pub fn shipped_questions() -> PathBuf {
    bot::manifest_dir().join("questions")
}

pub fn shipped_bank() -> anyhow::Result<Arc<QuestionBank>> {
    QuestionBank::load(&shipped_questions())
        .map(Arc::new)
        .map_err(|e| anyhow::anyhow!("the shipped bank does not load: {e}"))
}

/// The database `prepbot-dev seed` makes for `spec`, made once and kept.
pub async fn seeded(spec: SeedSpec) -> anyhow::Result<PathBuf> {
    let dir = cache_dir();
    std::fs::create_dir_all(&dir)?;
    let name = format!(
        "seed-m{}-a{}-d{}-c{}-s{}.db",
        spec.members, spec.answers, spec.drops, spec.channels, spec.seed
    );
    let path = dir.join(&name);
    if path.exists() {
        return Ok(path);
    }
    // Seeded under a temporary name and renamed, so a cached file is always whole.
    let partial = dir.join(format!("{name}.partial"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", partial.display()));
    }
    eprintln!("seeding {name} (once; later runs reuse it)");
    // In process: the seeder is prepbot-devtools' library, not part of the release binary.
    prepbot_devtools::seed::seed(&partial, shipped_bank()?, spec)
        .await
        .context("seed the load database")?;
    self_contained(&partial).await?;
    std::fs::rename(&partial, &path)?;
    Ok(path)
}

/// Folds the WAL into the database file and leaves it in rollback-journal mode, so
/// the file alone is the whole database and copies of it are too (the bot turns WAL
/// back on when it opens it).
async fn self_contained(db: &Path) -> anyhow::Result<()> {
    use sqlx::Connection as _;
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(db);
    let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await?;
    sqlx::query("PRAGMA journal_mode = DELETE")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    if Path::new(&format!("{}-wal", db.display())).exists() {
        bail!("{} still has a WAL file after a checkpoint", db.display());
    }
    Ok(())
}

/// A private copy of a cached database for one run (the bot writes to it).
pub fn copy_into(db: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    let copy = dir.join("bot.db");
    std::fs::copy(db, &copy).with_context(|| format!("copy {}", db.display()))?;
    Ok(copy)
}

pub async fn practice(db: &Path) -> anyhow::Result<Practice> {
    let store = Store::open_path(db).await?;
    Ok(Practice::new(store, shipped_bank()?))
}

/// [`practice`] on the database at `url`, SQLite or PostgreSQL (migrated as the bot
/// would).
pub async fn practice_at(url: &str) -> anyhow::Result<Practice> {
    let store = Store::open_url(url).await?;
    Ok(Practice::new(store, shipped_bank()?))
}

/// The PostgreSQL server the scenarios on PostgreSQL create their databases on: an
/// admin URL such as `.ci/postgres.sh` prints.
pub const POSTGRES_URL_VARIABLE: &str = "PREPBOT_BENCH_POSTGRES_URL";

/// The server's URL from [`POSTGRES_URL_VARIABLE`], or an error saying how to set it.
pub fn postgres_server() -> anyhow::Result<String> {
    match std::env::var(POSTGRES_URL_VARIABLE) {
        Ok(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Ok(url),
        Ok(other) => bail!(
            "{POSTGRES_URL_VARIABLE} must be a postgres:// URL of a server this harness may create databases on, not `{other}`"
        ),
        Err(_) => bail!(
            "this scenario runs on PostgreSQL: set {POSTGRES_URL_VARIABLE} to a server this harness may create databases on, such as `url=\"$(.ci/postgres.sh)\"` prints (postgres://prepbot@127.0.0.1:PORT/postgres)"
        ),
    }
}

/// A fresh, empty database on the server at [`postgres_server`], dropped by
/// [`PgDatabase::remove`] unless `--keep` was given.
pub struct PgDatabase {
    server: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn create(tag: &str) -> anyhow::Result<PgDatabase> {
        use sqlx::Connection as _;
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let server = postgres_server()?;
        let name = format!(
            "prepbot_load_{tag}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let mut conn = sqlx::PgConnection::connect(&server)
            .await
            .with_context(|| format!("cannot reach PostgreSQL at {server}"))?;
        // A name of letters, digits and underscores made here: nothing to escape.
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .with_context(|| format!("create database {name}"))?;
        conn.close().await?;
        let (base, _) = server
            .rsplit_once('/')
            .context("a server URL with a database name")?;
        let url = format!("{base}/{name}");
        Ok(PgDatabase { server, name, url })
    }

    /// A new database copied from this one (`CREATE DATABASE … TEMPLATE`; nobody
    /// may be connected to this one meanwhile).
    pub async fn copy(&self, tag: &str) -> anyhow::Result<PgDatabase> {
        use sqlx::Connection as _;
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!(
            "prepbot_load_{tag}_{}_c{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let mut conn = sqlx::PgConnection::connect(&self.server).await?;
        // Names of letters, digits and underscores made here: nothing to escape.
        sqlx::query(&format!("CREATE DATABASE {name} TEMPLATE {}", self.name))
            .execute(&mut conn)
            .await
            .with_context(|| format!("create database {name} from {}", self.name))?;
        conn.close().await?;
        let (base, _) = self
            .url
            .rsplit_once('/')
            .context("a database URL with a name")?;
        Ok(PgDatabase {
            server: self.server.clone(),
            url: format!("{base}/{name}"),
            name,
        })
    }

    /// Writes the server's dirty buffers out (`CHECKPOINT`) and asks the kernel to
    /// write its own (`sync`), so a database just copied is not still being
    /// written back while a run is timed.
    pub async fn settle(&self) -> anyhow::Result<()> {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&self.server).await?;
        sqlx::query("CHECKPOINT").execute(&mut conn).await?;
        conn.close().await?;
        let synced = std::process::Command::new("sync").status();
        anyhow::ensure!(synced.is_ok_and(|s| s.success()), "sync failed");
        Ok(())
    }

    pub async fn remove(self) -> anyhow::Result<()> {
        use sqlx::Connection as _;
        if KEEP.load(std::sync::atomic::Ordering::SeqCst) {
            eprintln!("keeping database {}", self.url);
            return Ok(());
        }
        let mut conn = sqlx::PgConnection::connect(&self.server).await?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await?;
        conn.close().await?;
        Ok(())
    }
}

/// What the database says of a fan-out: drops recorded as posted, and channels with
/// more than one drop.
pub async fn drops_recorded(url: &str) -> anyhow::Result<(i64, i64)> {
    use sqlx::Connection as _;
    const POSTED: &str = "SELECT COUNT(*) FROM drops WHERE state = 'posted'";
    const TWICE: &str = "SELECT COUNT(*) FROM \
         (SELECT channel_id FROM drops GROUP BY channel_id HAVING COUNT(*) > 1) AS t";
    if url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(url).await?;
        let posted = sqlx::query_scalar(POSTED).fetch_one(&mut conn).await?;
        let twice = sqlx::query_scalar(TWICE).fetch_one(&mut conn).await?;
        conn.close().await?;
        Ok((posted, twice))
    } else {
        let mut conn = sqlx::SqliteConnection::connect(url).await?;
        let posted = sqlx::query_scalar(POSTED).fetch_one(&mut conn).await?;
        let twice = sqlx::query_scalar(TWICE).fetch_one(&mut conn).await?;
        conn.close().await?;
        Ok((posted, twice))
    }
}

fn daily_at(channel_id: u64, guild_id: u64, time: NaiveTime) -> anyhow::Result<ChannelSetup> {
    Ok(ChannelSetup {
        address: prepbot_core::chat::ChannelAddress::new(
            prepbot_core::chat::Platform::Discord,
            guild_id.to_string(),
            channel_id.to_string(),
        ),
        name: None,
        time,
        zone: parse_zone("UTC")?,
        days: Days::DAILY,
        reveal_after_hours: 24,
        pool: PoolFilter::default(),
    })
}

/// Sets up [`INGEST_CHANNEL`] and opens a drop in it now, as `/setup` then `/drop`
/// would, with [`INGEST_THREAD`] as its thread. Its reveal is a day away.
pub async fn open_drop(p: &Practice, now: DateTime<Utc>) -> anyhow::Result<i64> {
    let setup = daily_at(
        INGEST_CHANNEL,
        GUILD_A,
        NaiveTime::from_hms_opt(23, 59, 0).context("time")?,
    )?;
    let (channel, _) = p.setup_channel(setup, 1, now).await?;
    let claimed = p.claim_early_drop(channel.key, now).await?;
    let thread = INGEST_THREAD.to_string();
    let drop = p
        .mark_posted(claimed.drop.id, &thread, &thread, now)
        .await?;
    Ok(drop.id)
}

/// Sets up `n` channels, each in its own server, whose daily drop is at `due`'s time
/// of day (UTC), as of `now`.
pub async fn due_channels(
    p: &Practice,
    n: usize,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let time = due.time();
    for c in 0..n {
        p.setup_channel(
            daily_at(fanout_channel(c), fanout_guild(c), time)?,
            c as u64,
            now,
        )
        .await?;
    }
    Ok(())
}

/// The next whole minute at least `lead` after `now`.
pub fn next_minute(now: DateTime<Utc>, lead: chrono::Duration) -> DateTime<Utc> {
    let t = now + lead;
    let secs = t.timestamp();
    let minute = secs.div_euclid(60) * 60
        + if secs % 60 == 0 && t.timestamp_subsec_nanos() == 0 {
            0
        } else {
            60
        };
    DateTime::from_timestamp(minute, 0).unwrap_or(t)
}

/// The whole minute `now` is in.
pub fn this_minute(now: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(now.timestamp().div_euclid(60) * 60, 0).unwrap_or(now)
}

/// When `channels` channels set up now fall due, and the instant to set them up
/// at. Normally the next whole minute with time to set them up (a few ms each) and
/// start the bot; with `quick`, the minute under way, set up a minute before it, so
/// the bot posts them on startup.
pub fn due_minute(
    quick: bool,
    channels: usize,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    if quick {
        let due = this_minute(now);
        (due, due - chrono::Duration::minutes(1))
    } else {
        let lead =
            chrono::Duration::milliseconds(4 * channels as i64) + chrono::Duration::seconds(10);
        (next_minute(now, lead), now)
    }
}

/// A read connection on the bot's database, for counting what it committed.
pub async fn reader(db: &Path) -> anyhow::Result<sqlx::SqlitePool> {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .read_only(true);
    Ok(sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?)
}

pub async fn answers_stored(pool: &sqlx::SqlitePool) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM answers")
        .fetch_one(pool)
        .await?)
}
