//! All SQL lives here: one file per table or aggregate, each returning domain types.
//!
//! SQLite in WAL mode with foreign keys on and a busy timeout; migrations from
//! `migrations/` run at open. Write transactions start with `BEGIN IMMEDIATE` so two
//! writers queue on the busy timeout instead of failing when a read lock upgrades.
//! Platform ids go through [`ids`]; times are integer epoch seconds (UTC).
//! Functions take `&mut SqliteConnection`, so callers compose them inside one
//! transaction ([`Store::write`]) or run them on a pooled connection ([`Store::read`]).
//! Faults an operator can meet (a read-only or full database, one left by a newer
//! prepbot, a lock held too long) become [`StoreError`]s that say what to do;
//! [`Store::backup_to`] and [`backup_url`] copy a live database.

pub mod adapter_health;
pub mod answers;
pub mod backend;
pub mod channels;
pub mod command_uses;
pub mod copy;
pub mod drops;
pub mod forgotten;
pub mod ids;
pub mod member_stats;
pub mod notify;
pub mod paces;
pub mod processes;
pub mod rotation;
mod upgrade;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, SqliteConnection};

use backend::{Dialect as _, on};

/// A connection the store's functions run on: use cases pass the one of their
/// transaction ([`Store::write`]) or a pooled reader ([`Store::read`]). The one name
/// callers outside `store/` use for it, so a second backend changes it here.
pub use backend::Conn;

/// A write transaction: commit it, or it rolls back on drop.
pub use backend::WriteTx;

/// How long a writer waits for another writer before giving up with [`StoreError::Locked`].
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite schema (`migrations/sqlite/`).
static MIGRATOR: LazyLock<Migrator> =
    LazyLock::new(|| migrator(include!(concat!(env!("OUT_DIR"), "/sqlite_migrations.rs"))));

/// The PostgreSQL schema (`migrations/postgres/`), kept equal to what the SQLite
/// migrations build: every schema change lands in both directories in one commit,
/// and `tests/it/schemas.rs` compares the two schemas column by column and index
/// by index.
pub static POSTGRES_MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| {
    migrator(include!(concat!(
        env!("OUT_DIR"),
        "/postgres_migrations.rs"
    )))
});

/// What `sqlx::migrate!` would build from the same files (build.rs lists them): the
/// same versions, descriptions, SQL and so the same checksums, and "-- no-transaction"
/// at the top marking a migration that runs outside a transaction. Built at run time
/// so the crate does without sqlx's `macros` feature (see build.rs).
fn migrator(files: &'static [(i64, &'static str, &'static str)]) -> Migrator {
    let migrations = files
        .iter()
        .map(|&(version, description, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                Cow::Borrowed(sql),
                sql.starts_with("-- no-transaction"),
            )
        })
        .collect();
    Migrator {
        migrations: Cow::Owned(migrations),
        // The fields are sqlx's (`#[doc(hidden)]`, semver-exempt); sqlx is pinned to
        // an exact version in Cargo.toml, and the upgrade tests check the result
        // against databases migrated by `sqlx::migrate!` before.
        ..Migrator::DEFAULT
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "`{url}` is not a database URL prepbot can use: use sqlite://path/to/prepbot.db or postgres://user@host/database ({reason})"
    )]
    BadUrl { url: String, reason: String },
    #[error("cannot open the database {target}: {reason}")]
    Open { target: String, reason: String },
    #[error(
        "there is no database at {target}: prepbot creates it on its first `prepbot run`; check PREPBOT_DATABASE_URL"
    )]
    Missing { target: String },
    #[error(
        "cannot create the database {target}: the directory {dir} does not exist; create it, writable by the user prepbot runs as"
    )]
    NoDirectory { target: String, dir: String },
    #[error("cannot apply the database migrations: {0}")]
    Migrate(String),
    #[error(
        "the database is locked by another process or connection and stayed locked past the busy timeout; is a second prepbot writing to the same file?"
    )]
    Locked,
    #[error(
        "the database {target} is read-only for prepbot: make the file and its directory writable by the user prepbot runs as (SQLite writes -wal and -shm files beside it)"
    )]
    ReadOnly { target: String },
    #[error(
        "the database is full (disk or size limit); nothing from this change was saved: free some disk space and try again"
    )]
    Full,
    #[error(
        "the database {target} was created by a newer prepbot (schema version {found}, this build knows up to {known}); upgrade prepbot or use a backup"
    )]
    NewerVersion {
        target: String,
        found: i64,
        known: i64,
    },
    #[error("cannot back up to {path}: {reason}")]
    Backup { path: String, reason: String },
    #[error("the database holds a value this version cannot read: {0}")]
    Corrupt(String),
    /// The database cannot be reached right now: the connection dropped, the server
    /// is restarting or shutting down, or no connection came within the pool's wait
    /// ([`is_unreachable`]). Nothing of the change was saved; the same request works
    /// once the database is back, so members are told to try again and the answer
    /// writer and the scheduler retry on their own. The cause is the driver's error,
    /// for the log: it names no URL and no password.
    #[error("the database is unavailable right now; try again in a minute")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Sql(sqlx::Error),
}

/// SQLite's primary result code (the low byte of an extended code) of a database error.
/// SQLite's primary result code of a database error; `None` for PostgreSQL's,
/// whose SQLSTATE codes are text that must not be read as SQLite's numbers
/// (42501, a missing privilege, would read as SQLITE_BUSY).
fn primary_code(e: &sqlx::Error) -> Option<i32> {
    match e {
        sqlx::Error::Database(db)
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() =>
        {
            db.code()
                .and_then(|c| c.parse::<i32>().ok())
                .map(|code| code & 0xff)
        }
        _ => None,
    }
}

/// SQLITE_BUSY and SQLITE_LOCKED.
fn is_busy(e: &sqlx::Error) -> bool {
    matches!(primary_code(e), Some(5 | 6))
}

/// SQLITE_READONLY, with its extended codes (a read-only directory, say).
fn is_read_only(e: &sqlx::Error) -> bool {
    primary_code(e) == Some(8)
}

/// SQLITE_FULL: the disk, or the `max_page_count` limit.
fn is_full(e: &sqlx::Error) -> bool {
    primary_code(e) == Some(13)
}

/// Whether `e` says the database cannot be reached, rather than that a statement
/// was wrong: an I/O error on the connection (refused, reset, closed mid-query), no
/// connection within the pool's wait, or one of PostgreSQL's SQLSTATEs for a server
/// that is going away or not there yet (class 08, connection exception; 57P01-57P03,
/// an administrator's or a crash's shutdown, or a server still starting; 53300, too
/// many connections, which a restart's stale sessions can cause). Not `PoolClosed`:
/// that is this process shutting down, and retrying it would never end.
pub fn is_unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(db)
            if db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some() =>
        {
            db.code().is_some_and(|code| {
                code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
            })
        }
        _ => false,
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if is_unreachable(&e) {
            StoreError::Unavailable(e)
        } else if is_busy(&e) {
            StoreError::Locked
        } else if is_full(&e) {
            StoreError::Full
        } else if is_read_only(&e) {
            // Open checks that the file can be written, so this is rare: the file was
            // replaced or its permissions changed while prepbot ran.
            StoreError::ReadOnly {
                target: "file".into(),
            }
        } else {
            StoreError::Sql(e)
        }
    }
}

impl StoreError {
    /// Whether this is [`StoreError::Unavailable`]: the database could not be
    /// reached, and the same request works once it is back.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    /// Like `From<sqlx::Error>`, naming the database in the errors an operator fixes on it.
    fn at(target: &str, e: sqlx::Error) -> StoreError {
        if is_read_only(&e) {
            StoreError::ReadOnly {
                target: target.to_string(),
            }
        } else {
            StoreError::from(e)
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Hides a password in `scheme://user:password@host`, and in a `password=` query
/// parameter (which sqlx's PostgreSQL driver reads too), before a URL reaches a
/// message.
pub fn redact_url(url: &str) -> String {
    let url = match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            format!("{}://***@{}", &url[..start], &url[at + 1..])
        }
        _ => url.to_string(),
    };
    match url.split_once('?') {
        Some((base, query)) if query.split('&').any(|p| p.starts_with("password=")) => {
            let query: Vec<&str> = query
                .split('&')
                .map(|p| {
                    if p.starts_with("password=") {
                        "password=***"
                    } else {
                        p
                    }
                })
                .collect();
            format!("{base}?{}", query.join("&"))
        }
        _ => url,
    }
}

/// Parses a `sqlite:` URL. sqlx would read any other scheme as a file name; say what
/// is supported instead.
/// Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

fn url_options(url: &str) -> Result<SqliteConnectOptions> {
    let bad = |reason: String| StoreError::BadUrl {
        url: redact_url(url),
        reason,
    };
    if !url.starts_with("sqlite:") {
        return Err(bad("only sqlite: and postgres: URLs are supported".into()));
    }
    SqliteConnectOptions::from_str(url).map_err(|e| bad(e.to_string()))
}

/// The newest migration this build knows.
fn known_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// The newest migration recorded in the database, if it has any.
async fn newest_applied(conn: &mut SqliteConnection) -> Result<Option<i64>, sqlx::Error> {
    let has_table: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1)",
    )
    .bind("_sqlx_migrations")
    .fetch_one(&mut *conn)
    .await?;
    if !has_table {
        return Ok(None);
    }
    sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(conn)
        .await
}

/// SQLite opens a file it may not write read-only without a word, and `BEGIN IMMEDIATE`
/// then starts a mere read transaction: only a write statement tells. This one matches
/// no row, so it changes nothing.
async fn check_writable(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM _sqlx_migrations WHERE 0")
        .execute(conn)
        .await?;
    Ok(())
}

fn migrate_error(target: &str, e: sqlx::migrate::MigrateError) -> StoreError {
    use sqlx::migrate::MigrateError;
    match e {
        MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _)
            if is_busy(&e) || is_read_only(&e) || is_full(&e) =>
        {
            StoreError::at(target, e)
        }
        other => StoreError::Migrate(other.to_string()),
    }
}

/// A handle on the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pools: Pools,
}

#[derive(Debug, Clone)]
enum Pools {
    Sqlite {
        writer: SqlitePool,
        reader: SqlitePool,
    },
    Postgres(PgPool),
}

/// The one lock every PostgreSQL write transaction takes first (a transaction-level
/// advisory lock, released at commit or rollback): writers run one at a time, as
/// SQLite's `BEGIN IMMEDIATE` makes them, so every read-modify-write in `store/`
/// that relies on that (the next sequence number, streak settlement, rotation
/// cycles, claims) holds on PostgreSQL too, across processes. Readers never take it.
const WRITE_LOCK: i64 = 0x7072_6570_626f_7400; // "prepbot\0"

/// How long a PostgreSQL statement waits for a pooled connection (or for a new one
/// to connect) before it fails with [`StoreError::Unavailable`]. Short, because a
/// Discord command must answer within 3 s unless it deferred: while the server is
/// down, a member hears "try again" in time rather than Discord's "the application
/// did not respond". Connections are held for milliseconds (writers queue on
/// [`WRITE_LOCK`] inside their transaction, not here), so 2 s without one means the
/// server is not answering.
pub const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long opening a PostgreSQL database at start-up waits for the server's first
/// answer: a host that drops packets would otherwise hold the start for minutes.
const POSTGRES_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a pooled PostgreSQL connection may have sat unused before it is
/// pinged on its way out of the pool (see `Store::open_postgres`'s pool).
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// The class of the per-member budget locks ([`Store::write_member_budget`]): the
/// first key of PostgreSQL's two-key advisory locks, whose key space is apart from
/// the one-key [`WRITE_LOCK`]'s; the second key is the member's hash.
const MEMBER_BUDGET_LOCKS: i32 = 0x6275_6467; // "budg"

impl Store {
    /// Opens (creating if missing) the database at a `sqlite://` URL.
    pub async fn open_url(url: &str) -> Result<Store> {
        if is_postgres_url(url) {
            return Self::open_postgres(url).await;
        }
        let options = url_options(url)?;
        Self::open(options, &redact_url(url), DEFAULT_BUSY_TIMEOUT, None, false).await
    }

    /// Like [`Store::open_url`], for commands that only read (`prepbot status`): a
    /// database that is not there is [`StoreError::Missing`], and nothing is created,
    /// since an empty new database would read as if the bot had lost its data.
    pub async fn open_existing_url(url: &str) -> Result<Store> {
        if is_postgres_url(url) {
            // A PostgreSQL database is never created by connecting to it: opening
            // one that does not exist fails with the server's own words.
            return Self::open_postgres(url).await;
        }
        let options = url_options(url)?;
        let file = options.get_filename();
        let in_memory = file.as_os_str() == ":memory:";
        if !in_memory && !file.is_file() {
            return Err(StoreError::Missing {
                target: redact_url(url),
            });
        }
        Self::open(options, &redact_url(url), DEFAULT_BUSY_TIMEOUT, None, false).await
    }

    /// Opens (creating if missing) the database file at `path`.
    pub async fn open_path(path: &Path) -> Result<Store> {
        Self::open_path_with(path, DEFAULT_BUSY_TIMEOUT).await
    }

    pub async fn open_path_with(path: &Path, busy_timeout: Duration) -> Result<Store> {
        let options = SqliteConnectOptions::new().filename(path);
        Self::open(
            options,
            &path.display().to_string(),
            busy_timeout,
            None,
            false,
        )
        .await
    }

    /// Like [`Store::open_path`], with `synchronous = FULL`: every commit waits until
    /// the WAL is on disk, so it survives power loss too, not only a crash of the
    /// process. The bot runs with NORMAL; `prepbot-dev bench` uses this to measure the
    /// difference.
    pub async fn open_path_synchronous_full(path: &Path) -> Result<Store> {
        let options = SqliteConnectOptions::new().filename(path);
        Self::open(
            options,
            &path.display().to_string(),
            DEFAULT_BUSY_TIMEOUT,
            None,
            true,
        )
        .await
    }

    /// Like [`Store::open_path_with`], with the database allowed to grow to at most
    /// `max_pages` pages (SQLite's `max_page_count`; a cap below the current size means
    /// no growth at all). A write that needs more fails with [`StoreError::Full`] and
    /// saves nothing, as on a full disk: for tests of that fault, and for an operator
    /// who wants a size cap.
    pub async fn open_path_capped(
        path: &Path,
        busy_timeout: Duration,
        max_pages: u32,
    ) -> Result<Store> {
        let options = SqliteConnectOptions::new().filename(path);
        Self::open(
            options,
            &path.display().to_string(),
            busy_timeout,
            Some(max_pages),
            false,
        )
        .await
    }

    async fn open(
        options: SqliteConnectOptions,
        target: &str,
        busy_timeout: Duration,
        max_pages: Option<u32>,
        synchronous_full: bool,
    ) -> Result<Store> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if synchronous_full {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .foreign_keys(true)
            .busy_timeout(busy_timeout);
        let db_file = options.get_filename().to_path_buf();
        let was_there = db_file.exists();
        let open_error = |e: sqlx::Error| {
            // SQLITE_CANTOPEN on a file that is not there yet: its directory is missing
            // or not writable. Say which, as for a read-only file, rather than SQLite's
            // "unable to open database file".
            if !was_there && primary_code(&e) == Some(14) {
                let dir = match db_file.parent() {
                    Some(d) if d.as_os_str().is_empty() => Path::new("."),
                    Some(d) => d,
                    None => Path::new("/"),
                };
                return if dir.is_dir() {
                    StoreError::ReadOnly {
                        target: target.to_string(),
                    }
                } else {
                    StoreError::NoDirectory {
                        target: target.to_string(),
                        dir: dir.display().to_string(),
                    }
                };
            }
            match StoreError::at(target, e) {
                StoreError::Sql(e) | StoreError::Unavailable(e) => StoreError::Open {
                    target: target.to_string(),
                    reason: e.to_string(),
                },
                other => other,
            }
        };
        let mut writer_options = options.clone();
        if let Some(pages) = max_pages {
            writer_options = writer_options.pragma("max_page_count", pages.to_string());
        }
        // Writers and readers get separate pools. SQLite takes one writer at a time
        // anyway; two writer connections keep a second writer queued in SQLite's busy
        // handler rather than in the pool. Readers never wait for a writer in WAL
        // mode, and with their own pool they never wait for a connection a writer
        // holds while it waits for the lock: a lookup stays fast while the database
        // is busy.
        let writer = SqlitePoolOptions::new()
            .max_connections(2)
            .acquire_timeout(busy_timeout + Duration::from_secs(5))
            // On some errors (SQLITE_FULL in a statement without a statement journal,
            // I/O errors) SQLite rolls the whole transaction back itself; sqlx's ROLLBACK
            // on drop then fails and the connection stays marked as inside a
            // transaction, refusing every later BEGIN. Close such a connection instead
            // of handing it out again.
            .before_acquire(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
            .connect_with(writer_options)
            .await
            .map_err(open_error)?;
        if let Err(e) = Self::prepare(&writer, target, &db_file).await {
            // Closed rather than dropped, so nothing lingers beside a file we refused.
            writer.close().await;
            return Err(e);
        }
        // No ping before handing a connection out (sqlx's default): a SQLite
        // connection is a file handle in this process, which a ping does not test
        // beyond its worker thread being alive, and the ping is one more trip to
        // that thread on every read. A Slack lookup answers in its acknowledgement
        // after two reads, so this is measured in BENCHMARKS.md ("Slack ack").
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .acquire_timeout(busy_timeout + Duration::from_secs(5))
            .connect_with(options.read_only(true))
            .await
            .map_err(open_error)?;
        Ok(Store {
            pools: Pools::Sqlite { writer, reader },
        })
    }

    /// Refuses a database from a newer prepbot, applies the migrations, and checks that
    /// the file can be written, so the bot stops at startup rather than at its first write.
    async fn prepare(writer: &SqlitePool, target: &str, db_file: &Path) -> Result<()> {
        let at = |e: sqlx::Error| StoreError::at(target, e);
        // sqlx would refuse it too, but only as "migration N was previously applied but
        // is missing": say what happened and what to do.
        let known = known_version();
        let newest = newest_applied(&mut *writer.acquire().await.map_err(at)?)
            .await
            .map_err(at)?;
        if let Some(found) = newest.filter(|&v| v > known) {
            return Err(StoreError::NewerVersion {
                target: target.to_string(),
                found,
                known,
            });
        }
        // On the pool, not on a connection: `run` on a `&mut PoolConnection` makes this
        // future not `Send` (sqlx's `Acquire` bound is too general for the compiler).
        // Migrations that rebuild tables need foreign keys off: see `upgrade`.
        upgrade::apply(&MIGRATOR, writer, Some(db_file), target).await?;
        check_writable(&mut *writer.acquire().await.map_err(at)?)
            .await
            .map_err(at)
    }

    /// Opens the PostgreSQL database at a `postgres://` URL and applies its
    /// migrations (`migrations/postgres/`).
    async fn open_postgres(url: &str) -> Result<Store> {
        let target = redact_url(url);
        let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::BadUrl {
            url: target.clone(),
            reason: e.to_string(),
        })?;
        // Each session plans a statement once and keeps the plan (a generic plan),
        // rather than planning again at every execution with its parameters. Left
        // to choose, PostgreSQL planned `/leaderboard`'s statement at every call:
        // 0.29 ms of planning for 0.08 ms of execution (pg_stat_statements, 200 calls
        // on the seeded 100k-member database), most of the command's time. What a
        // kept plan may cost is checked where it is chosen: `tests/query_plans.rs`
        // plans every statement of the commands, answer events and the scheduler
        // this way on seeded data, and fails on a sequential scan of a table that
        // grows. Set after connecting rather than in the startup packet's
        // `options`, which PgBouncer and some managed proxies refuse.
        let cannot_open = |reason: String| StoreError::Open {
            target: target.clone(),
            reason,
        };
        // One connection first, on its own: the pool would retry a refused connection
        // until its wait is over and then say only that it timed out, where this says
        // what the server (or the network) said: refused, no such host, a wrong
        // password, no such database. None of sqlx's errors names the password.
        match tokio::time::timeout(
            POSTGRES_CONNECT_TIMEOUT,
            PgConnection::connect_with(&options),
        )
        .await
        {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
            }
            Ok(Err(e)) => return Err(cannot_open(e.to_string())),
            Err(_) => {
                return Err(cannot_open(format!(
                    "no answer within {} s; is the host reachable from here?",
                    POSTGRES_CONNECT_TIMEOUT.as_secs()
                )));
            }
        }
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(POSTGRES_ACQUIRE_TIMEOUT)
            // Recovering from a restart of the server depends on this check: a
            // pooled connection that the restart closed fails the ping and is replaced
            // by a new one, instead of failing a statement. sqlx's default pings on
            // every acquire, a round trip before every command's first statement
            // (the load harness's `latency-postgres` measured it); a connection that
            // was in use less than IDLE_BEFORE_PING ago is handed out as it is. sqlx
            // pings each connection when it goes back to the pool as well, and closes
            // one that fails, so a connection broken during an outage is not kept;
            // one idle since before a restart has been idle at least as long as the
            // server was down, longer than IDLE_BEFORE_PING.
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::Executor::execute(conn, "SET plan_cache_mode = force_generic_plan")
                        .await?;
                    Ok(())
                })
            })
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= IDLE_BEFORE_PING {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| cannot_open(e.to_string()))?;
        if let Err(e) = POSTGRES_MIGRATOR.run(&pool).await {
            pool.close().await;
            return Err(StoreError::Migrate(e.to_string()));
        }
        Ok(Store {
            pools: Pools::Postgres(pool),
        })
    }

    /// Whether this store is on PostgreSQL.
    /// Listens for agenda changes made by any process sharing the database
    /// ([`notify`]); `None` on SQLite, where this process is the only one.
    pub async fn listen_agenda(&self) -> Result<Option<notify::AgendaListener>> {
        match &self.pools {
            Pools::Postgres(pool) => Ok(Some(notify::AgendaListener::start(pool).await?)),
            Pools::Sqlite { .. } => Ok(None),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.pools, Pools::Postgres(_))
    }

    /// A write transaction: commit it, or it rolls back on drop. One writer at a
    /// time on either backend: SQLite's `BEGIN IMMEDIATE`, PostgreSQL's
    /// [`WRITE_LOCK`].
    ///
    /// That one-writer rule is what protects every read-modify-write in `store/`
    /// (each names it where it reads): the next sequence number (`drops::next_seq`),
    /// streak settlement (`member_stats::get` then `upsert`), rotation cycles
    /// (`rotation::load` then `record`), and the checks before a claim
    /// (`Practice::claim_early_drop`). Claims and leases themselves are single
    /// conditional statements, safe without it: a lapsed claim's retry and a reveal
    /// take theirs in a [`Store::lease_write`] transaction instead. A member's command budget has a
    /// lock of its own ([`Store::write_member_budget`]). `tests/it/store.rs` runs the
    /// sequence number, a settlement and a rotation's turn from two stores at once
    /// on both backends.
    pub async fn write(&self) -> Result<WriteTx> {
        match &self.pools {
            Pools::Sqlite { writer, .. } => Ok(WriteTx(Conn::SqliteTx(
                writer.begin_with("BEGIN IMMEDIATE").await?,
            ))),
            Pools::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(WRITE_LOCK)
                    .execute(&mut *tx)
                    .await?;
                Ok(WriteTx(Conn::PostgresTx(tx)))
            }
        }
    }

    /// A write transaction that takes one drop's lease (a lapsed claim's retry, a
    /// reveal) and reads what the leased work needs, and writes nothing else. On
    /// PostgreSQL it does not take [`WRITE_LOCK`]: the lease is one conditional
    /// update of a row the transaction first locks with `FOR NO KEY UPDATE SKIP
    /// LOCKED` (`drops::renew_claim`, `drops::lease_reveal`), so processes racing
    /// for the same due drop never queue behind each other, nor behind answer
    /// batches and claims holding the write lock: one takes it and the others skip
    /// it at once. Anything else the work then writes (a failure, the post) goes in
    /// a [`Store::write`] transaction of its own. On SQLite it is [`Store::write`].
    pub async fn lease_write(&self) -> Result<WriteTx> {
        match &self.pools {
            Pools::Sqlite { .. } => self.write().await,
            Pools::Postgres(pool) => Ok(WriteTx(Conn::PostgresTx(pool.begin().await?))),
        }
    }

    /// A write transaction for one member's command budget (`command_uses`), and
    /// nothing else. On PostgreSQL it takes that member's own advisory lock rather
    /// than [`WRITE_LOCK`]: only charges of the same member touch the member's rows,
    /// so the lock makes each charge's read-modify-write (count the uses in the
    /// window, then insert one) one at a time across processes, while a command
    /// check never waits for an answer batch or a claim holding the write lock.
    /// Two members whose keys hash alike merely share a lock. On SQLite it is
    /// [`Store::write`] (one writer at a time anyway).
    pub async fn write_member_budget(
        &self,
        platform: crate::chat::Platform,
        member: &str,
    ) -> Result<WriteTx> {
        match &self.pools {
            Pools::Sqlite { .. } => self.write().await,
            Pools::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                // hashtext() runs on the server, so every process, whatever its
                // build, maps a member to the same lock.
                sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
                    .bind(MEMBER_BUDGET_LOCKS)
                    .bind(format!("{}:{member}", platform.as_str()))
                    .execute(&mut *tx)
                    .await?;
                Ok(WriteTx(Conn::PostgresTx(tx)))
            }
        }
    }

    /// Checks and charges a member's command budget on PostgreSQL in one call
    /// (`prepbot_charge_command`, migration postgres 0009): under the member's lock,
    /// the rule of `crate::command_budget::decide`. SQLite has no such function:
    /// there the answer is [`BudgetCharge::NotHere`], and callers take
    /// [`Store::write_member_budget`] instead.
    pub async fn charge_command(
        &self,
        platform: crate::chat::Platform,
        member: &str,
        invocation: u64,
        now: chrono::DateTime<chrono::Utc>,
        window: chrono::TimeDelta,
        budget: usize,
    ) -> Result<BudgetCharge> {
        let Pools::Postgres(pool) = &self.pools else {
            return Ok(BudgetCharge::NotHere);
        };
        let wait_ms: Option<i64> =
            sqlx::query_scalar("SELECT prepbot_charge_command($1, $2, $3, $4, $5, $6, $7)")
                .bind(MEMBER_BUDGET_LOCKS)
                .bind(platform.as_str())
                .bind(member)
                .bind(ids::to_db(invocation))
                .bind(ids::epoch_ms(now))
                .bind(window.num_milliseconds())
                .bind(i32::try_from(budget).unwrap_or(i32::MAX))
                .fetch_one(pool)
                .await?;
        Ok(match wait_ms {
            None => BudgetCharge::Allowed,
            Some(ms) => BudgetCharge::Refused {
                retry_after: chrono::TimeDelta::milliseconds(ms),
            },
        })
    }

    /// A pooled connection for one statement that is atomic by itself and must not
    /// wait for the write lock (a shared rate's reservation, `paces::reserve`): no
    /// transaction, no advisory lock. On SQLite one of the writer's connections
    /// (the readers' cannot write).
    pub async fn autocommit(&self) -> Result<Conn> {
        Ok(match &self.pools {
            Pools::Sqlite { writer, .. } => Conn::Sqlite(writer.acquire().await?),
            Pools::Postgres(pool) => Conn::Postgres(pool.acquire().await?),
        })
    }

    /// A pooled connection for reading.
    pub async fn read(&self) -> Result<Conn> {
        Ok(match &self.pools {
            Pools::Sqlite { reader, .. } => Conn::Sqlite(reader.acquire().await?),
            Pools::Postgres(pool) => Conn::Postgres(pool.acquire().await?),
        })
    }

    /// Writes a consistent copy of the database to `dest`, a new file in an existing
    /// directory, while others go on writing; returns the copy's absolute path. The copy
    /// is one read transaction (`VACUUM INTO`), so it waits for no writer and holds none up.
    pub async fn backup_to(&self, dest: &Path) -> Result<PathBuf> {
        let mut conn = self.read().await?;
        match conn.as_sqlite() {
            Some(conn) => backup_with(conn, dest).await,
            None => Err(StoreError::Backup {
                path: dest.display().to_string(),
                reason: "the database is PostgreSQL: back it up with pg_dump".into(),
            }),
        }
    }

    /// Asks SQLite to refresh its query planner's statistics (after a bulk load).
    pub async fn optimize(&self) -> Result<()> {
        let mut tx = self.write().await?;
        on!(&mut *tx, c => {
            let statement = if c.is_sqlite_dialect() { "PRAGMA optimize" } else { "ANALYZE" };
            sqlx::query(statement).execute(&mut *c).await?;
        });
        tx.commit().await?;
        Ok(())
    }

    /// Closes every connection. Once it returns, none is left open on the file, so the
    /// file can be copied, replaced or opened read-only at once.
    pub async fn close(&self) {
        // sqlx's close returns once no connection is checked out, but a connection on its
        // way back to the pool at that moment can still land among the idle ones, open
        // until the pool is dropped. Close again until both pools are empty: a few
        // milliseconds at most, bounded in case a connection never comes back.
        let (reader, writer) = match &self.pools {
            Pools::Sqlite { reader, writer } => (reader, writer),
            Pools::Postgres(pool) => {
                pool.close().await;
                return;
            }
        };
        for _ in 0..1000 {
            reader.close().await;
            writer.close().await;
            if reader.size() == 0 && writer.size() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// `prepbot backup`: copies the database at a `sqlite:` URL to `dest` (see
/// [`Store::backup_to`]) through one connection that only reads. Unlike
/// [`Store::open_url`] it creates nothing and applies no migration: the live database
/// belongs to the running bot.
pub async fn backup_url(url: &str, dest: &Path) -> Result<PathBuf> {
    // Said before the URL is parsed as SQLite's, which would call a PostgreSQL URL
    // unsupported.
    if is_postgres_url(url) {
        return Err(StoreError::Backup {
            path: dest.display().to_string(),
            reason: "the database is PostgreSQL: back it up with pg_dump".into(),
        });
    }
    let options = url_options(url)?;
    let target = redact_url(url);
    if !options.get_filename().is_file() {
        return Err(StoreError::Open {
            target,
            reason: "there is no database file there to back up".into(),
        });
    }
    // Not opened read-only: SQLite's read-only connections never remove the -wal and
    // -shm files they create, and files left by a backup run as root while the bot is
    // stopped would keep the bot's own user from writing when it starts again.
    let options = options
        .create_if_missing(false)
        .busy_timeout(DEFAULT_BUSY_TIMEOUT);
    let mut conn =
        SqliteConnection::connect_with(&options)
            .await
            .map_err(|e| match StoreError::at(&target, e) {
                StoreError::Sql(e) | StoreError::Unavailable(e) => StoreError::Open {
                    target: target.clone(),
                    reason: e.to_string(),
                },
                other => other,
            })?;
    let copied = backup_with(&mut conn, dest).await;
    // It wrote nothing, so a failure to close loses nothing.
    let _ = conn.close().await;
    copied
}

async fn backup_with(conn: &mut SqliteConnection, dest: &Path) -> Result<PathBuf> {
    let shown = dest.display().to_string();
    let refuse = |reason: String| StoreError::Backup {
        path: shown.clone(),
        reason,
    };
    // Absolute, so SQLite never reads the name as a `file:` URI.
    let dest = std::path::absolute(dest).map_err(|e| refuse(e.to_string()))?;
    let Some(dest_text) = dest.to_str() else {
        return Err(refuse("the path is not valid UTF-8".into()));
    };
    // Claim the name first: no other file is ever overwritten, even one created a moment
    // ago, and `VACUUM INTO` accepts an empty file.
    let dir = dest.parent().unwrap_or(Path::new("/"));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&dest)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => refuse(
                "it already exists, and a backup never overwrites anything: choose a new file name"
                    .into(),
            ),
            std::io::ErrorKind::NotFound => {
                refuse(format!("the directory {} does not exist", dir.display()))
            }
            _ => refuse(e.to_string()),
        })?;
    let copied = async {
        sqlx::query("VACUUM INTO ?")
            .bind(dest_text)
            .execute(&mut *conn)
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::Sql(e) | StoreError::Unavailable(e) => refuse(e.to_string()),
                StoreError::Full => refuse("the disk is full".into()),
                other => other,
            })?;
        // SQLite does not sync the copy; a backup that a crash can lose is no backup.
        std::fs::File::open(&dest)
            .and_then(|f| f.sync_all())
            .map_err(|e| refuse(format!("cannot sync the copy to disk: {e}")))
    }
    .await;
    if let Err(e) = copied {
        // The file is ours (created above): leave no half-written copy behind.
        let _ = std::fs::remove_file(&dest);
        return Err(e);
    }
    Ok(dest)
}

/// What [`Store::charge_command`] answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetCharge {
    /// The command may run: charged now, or this invocation was charged already.
    Allowed,
    /// Over budget: the member may run a command after `retry_after`.
    Refused { retry_after: chrono::TimeDelta },
    /// This backend keeps no budget function (SQLite).
    NotHere,
}

#[cfg(test)]
mod tests {
    use super::StoreError;

    #[test]
    fn a_lost_connection_or_an_exhausted_wait_is_unavailable_and_says_so() {
        let io = |kind| sqlx::Error::Io(std::io::Error::from(kind));
        for e in [
            io(std::io::ErrorKind::ConnectionRefused),
            io(std::io::ErrorKind::ConnectionReset),
            io(std::io::ErrorKind::UnexpectedEof),
            sqlx::Error::PoolTimedOut,
        ] {
            let shown = e.to_string();
            let e = StoreError::from(e);
            assert!(e.is_unavailable(), "{shown}");
            assert_eq!(
                e.to_string(),
                "the database is unavailable right now; try again in a minute"
            );
            // The driver's words stay available for the log.
            let cause = std::error::Error::source(&e).map(ToString::to_string);
            assert_eq!(cause.as_deref(), Some(shown.as_str()));
        }
        // This process closing its own pool, and a statement's own failure, are not.
        for e in [sqlx::Error::PoolClosed, sqlx::Error::RowNotFound] {
            assert!(!StoreError::from(e).is_unavailable());
        }
    }

    #[test]
    fn credentials_in_a_url_are_redacted() {
        assert_eq!(
            super::redact_url("postgres://bot:s3cret@db:5432/x"),
            "postgres://***@db:5432/x"
        );
        assert_eq!(
            super::redact_url("sqlite://prepbot.db"),
            "sqlite://prepbot.db"
        );
        assert_eq!(
            super::redact_url("postgres://db/x?sslmode=require&password=s3cret"),
            "postgres://db/x?sslmode=require&password=***"
        );
    }
}
