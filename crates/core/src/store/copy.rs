//! `prepbot migrate-store`: copies an install's SQLite database into an empty
//! PostgreSQL database, so the same install can run as several processes.
//!
//! What it promises, and how:
//! - The source is never changed: one connection with `query_only` on, no
//!   migrations, reading in one transaction (a consistent snapshot). It must already
//!   be at this build's newest SQLite schema: an older file is refused with how to
//!   upgrade it, rather than upgraded here.
//! - No bot may still run on the source (a live heartbeat in its `processes`): what
//!   it wrote after the snapshot would be lost, so the copy is refused, naming it.
//! - The target is migrated the usual way, then must be empty and at the
//!   PostgreSQL schema version that goes with the source's ([`SCHEMA_PAIRS`]).
//! - Every row keeps its ids: drop ids are in the nonces and markers of posts
//!   already on Discord and Slack, and every other table refers to its rows by id.
//! - The copy is driven by the two catalogues, not by a list in code: each table's
//!   columns are read from SQLite and must match PostgreSQL's exactly (a column on
//!   one side only is an error, so one added later is never dropped silently).
//!   Tables go in foreign-key order, in batches of bound parameters.
//! - All of it is one PostgreSQL transaction, verified before it commits (row
//!   counts, and a checksum of every row read back in key order on both sides); any
//!   failure rolls everything back. The identity sequences are moved past the
//!   copied ids in the same transaction (`ALTER TABLE … RESTART`, which rolls back
//!   too, unlike `setval`).
//! - No error or report shows the password of either URL.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::Hasher as _;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt as _;
use rustc_hash::FxHasher;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions as _, Connection as _, Postgres, QueryBuilder, Row, SqliteConnection};

use crate::process::ProcessIdentity;

use super::ids::epoch;
use super::processes::PROCESS_LAPSE;
use super::{
    DEFAULT_BUSY_TIMEOUT, MIGRATOR, POSTGRES_MIGRATOR, StoreError, WRITE_LOCK, is_postgres_url,
    newest_applied, redact_url, url_options,
};

/// Which PostgreSQL schema version holds what each SQLite schema version holds.
/// PostgreSQL's first migration is SQLite's 0001-0009 (there was no PostgreSQL
/// before neutral identity); since then every schema change lands in both
/// directories in one commit. A new pair of migrations adds a line here: a unit
/// test fails until the last line names both newest migrations.
pub const SCHEMA_PAIRS: &[(i64, i64)] = &[
    (9, 1),
    (10, 2),
    (11, 3),
    (12, 4),
    (13, 5),
    (14, 6),
    (15, 7),
    (16, 8),
    (17, 9),
    (18, 10),
];

/// Tables that are not copied, and why (printed by `prepbot migrate-store`).
/// sqlx's `_sqlx_migrations` is not listed: each database keeps its own history.
pub const NOT_COPIED: &[(&str, &str)] = &[(
    "processes",
    "the old install's process registrations; every process on PostgreSQL registers itself when it starts",
)];

/// PostgreSQL takes at most 65,535 bound parameters in one statement.
const MAX_BINDS: usize = 65_535;
/// Rows per INSERT at most, whatever the column count: large enough that the round
/// trips do not dominate, small enough to keep each statement modest.
const MAX_ROWS: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("--from must be a SQLite database URL such as sqlite://path/to/prepbot.db, not {0}")]
    SourceNotSqlite(String),
    #[error(
        "--to must be a PostgreSQL database URL such as postgres://user@host/database, not {0}"
    )]
    TargetNotPostgres(String),
    #[error(
        "there is no SQLite database at {0}: check --from (migrate-store never creates or changes the source)"
    )]
    SourceMissing(String),
    #[error("{0} is not a prepbot database: it has no schema version (no _sqlx_migrations table)")]
    SourceNotPrepbot(String),
    #[error(
        "a bot is still running on the source {url} ({processes}): what it writes after the copy would be lost; stop the bot first (a killed process counts as stopped {lapse} s after its last heartbeat), then run migrate-store again"
    )]
    SourceInUse {
        url: String,
        /// Each live process as `prepbot status` names it.
        processes: String,
        lapse: i64,
    },
    #[error(
        "the source {url} is at SQLite schema version {found}, older than this prepbot's {expected}: upgrade it first (stop the bot and run `prepbot status` with PREPBOT_DATABASE_URL={url}: this prepbot upgrades a database when it opens it), then run migrate-store again"
    )]
    SourceOlder {
        url: String,
        found: i64,
        expected: i64,
    },
    #[error(
        "the source {url} was written by a newer prepbot (SQLite schema version {found}, this one knows up to {known}): run migrate-store with that prepbot"
    )]
    SourceNewer { url: String, found: i64, known: i64 },
    #[error(
        "the target {url} was written by a newer prepbot (PostgreSQL schema version {found}, this one knows up to {known}): copy into a new, empty database"
    )]
    TargetNewer { url: String, found: i64, known: i64 },
    #[error(
        "the schema versions do not correspond: the source's SQLite schema version {sqlite} goes with PostgreSQL schema version {expected}, but the target is at {postgres}; nothing was copied"
    )]
    VersionMismatch {
        sqlite: i64,
        postgres: i64,
        expected: String,
    },
    #[error(
        "the target {url} is not empty (table {table} has rows): migrate-store copies only into an empty database; create a new one (createdb) and point --to at it"
    )]
    TargetNotEmpty { url: String, table: String },
    #[error("the source and target schemas differ: {0}; nothing was copied")]
    SchemaDiffers(String),
    #[error("the copy did not verify, so nothing was copied (rolled back): {0}")]
    Verify(String),
    #[error("cannot open the source {url}: {reason}")]
    OpenSource { url: String, reason: String },
    #[error("cannot connect to the target {url}: {reason}")]
    OpenTarget { url: String, reason: String },
    #[error("cannot apply the PostgreSQL migrations to the target {url}: {reason}")]
    MigrateTarget { url: String, reason: String },
    #[error("{during}: {reason}; nothing was copied (rolled back)")]
    Failed { during: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another error's message with a password replaced by `***`.
    #[error("{0}")]
    Scrubbed(String),
}

/// What a copy did, for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// The two URLs, passwords hidden.
    pub source: String,
    pub target: String,
    pub sqlite_version: i64,
    pub postgres_version: i64,
    /// Every copied table in the order copied (foreign-key order).
    pub tables: Vec<CopiedTable>,
    /// The tables of [`NOT_COPIED`] the source has, with their row counts.
    pub not_copied: Vec<(String, u64)>,
    /// Every identity column of the copied tables, with the next id it hands out.
    pub sequences: Vec<SequenceSet>,
    /// Whether the copied tables were vacuumed and their statistics gathered after
    /// the commit (`VACUUM (ANALYZE)`); the reason when not. The copy stands either
    /// way: autovacuum does both later on its own.
    pub analyzed: Result<(), String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedTable {
    pub name: String,
    pub rows: u64,
    /// The checksum both sides agreed on (see [`RowHash`]).
    pub checksum: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceSet {
    pub table: String,
    pub column: String,
    /// The id the next inserted row gets.
    pub next: i64,
}

/// The PostgreSQL schema version that goes with a SQLite one.
pub fn postgres_version_for(sqlite: i64) -> Option<i64> {
    SCHEMA_PAIRS
        .iter()
        .find(|(s, _)| *s == sqlite)
        .map(|(_, p)| *p)
}

fn newest(migrator: &sqlx::migrate::Migrator) -> i64 {
    migrator.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Copies the SQLite database at `from` (a `sqlite:` URL) into the empty
/// PostgreSQL database at `to`; see the module's documentation.
pub async fn sqlite_to_postgres(from: &str, to: &str) -> Result<CopyReport, CopyError> {
    let secrets: Vec<String> = passwords_in(from).chain(passwords_in(to)).collect();
    copy(from, to).await.map_err(|e| scrub_error(e, &secrets))
}

/// Checks that `from` is a SQLite URL and `to` a PostgreSQL one, both well formed,
/// opening nothing: a wrong one is a usage error (the command line exits 2), where
/// every failure of the copy itself is not.
pub fn check_urls(from: &str, to: &str) -> Result<(), CopyError> {
    let secrets: Vec<String> = passwords_in(from).chain(passwords_in(to)).collect();
    parse_urls(from, to)
        .map(|_| ())
        .map_err(|e| scrub_error(e, &secrets))
}

/// The target's options, once both URLs are known good ([`check_urls`]).
fn parse_urls(from: &str, to: &str) -> Result<PgConnectOptions, CopyError> {
    if !from.starts_with("sqlite:") {
        return Err(CopyError::SourceNotSqlite(redact_url(from)));
    }
    url_options(from)?;
    if !is_postgres_url(to) {
        return Err(CopyError::TargetNotPostgres(redact_url(to)));
    }
    PgConnectOptions::from_str(to).map_err(|e| {
        CopyError::Store(StoreError::BadUrl {
            url: redact_url(to),
            reason: e.to_string(),
        })
    })
}

async fn copy(from: &str, to: &str) -> Result<CopyReport, CopyError> {
    let source = redact_url(from);
    let target = redact_url(to);
    // Both URLs are checked before anything is opened.
    let target_options = parse_urls(from, to)?
        // Reading a whole table is slow by design: no "slow statement" warnings.
        .disable_statement_logging();

    // The source first: a missing or old file is refused before the target is
    // touched at all.
    let mut lite = open_source(from, &source).await?;
    let outcome = async {
        let sqlite_version = source_version(&mut lite, &source).await?;
        refuse_if_running(&mut lite, &source, Utc::now()).await?;
        let mut pg = PgConnection::connect_with(&target_options)
            .await
            .map_err(|e| CopyError::OpenTarget {
                url: target.clone(),
                reason: e.to_string(),
            })?;
        let copied = async {
            let postgres_version = migrate_target(&mut pg, &target).await?;
            let expected = postgres_version_for(sqlite_version);
            if expected != Some(postgres_version) {
                return Err(CopyError::VersionMismatch {
                    sqlite: sqlite_version,
                    postgres: postgres_version,
                    expected: expected
                        .map_or("none known to this prepbot".into(), |v| v.to_string()),
                });
            }
            let (tables, not_copied, sequences) = copy_tables(&mut lite, &mut pg, &target).await?;
            // Fresh tables have no statistics, and until autovacuum gathers them
            // (a minute or so later) PostgreSQL plans the bot's first commands from
            // its defaults: sequential scans of a million answers, say. VACUUM as
            // well: a million rows just inserted set off autovacuum's own pass over
            // them a minute later, while the bot is starting (the load harness saw
            // it slow every command of its first run); done here, that pass finds
            // nothing to do, and index-only scans can skip the heap. Only the
            // tables copied: a bare VACUUM also visits the shared catalogues, which
            // only a superuser may touch, and the database's owner gets a warning
            // for each of them.
            let analyzed = analyze(&mut pg, &tables).await;
            Ok(CopyReport {
                source: source.clone(),
                target: target.clone(),
                sqlite_version,
                postgres_version,
                tables,
                not_copied,
                sequences,
                analyzed,
            })
        }
        .await;
        // Committed, or rolled back when the transaction was dropped (and the
        // server aborts anything still open when the connection goes): a
        // failure to close loses nothing.
        let _ = pg.close().await;
        copied
    }
    .await;
    let _ = lite.close().await;
    outcome
}

/// `ANALYZE` of the copied tables, in one statement.
async fn analyze(pg: &mut PgConnection, tables: &[CopiedTable]) -> Result<(), String> {
    if tables.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = tables.iter().map(|t| quote(&t.name)).collect();
    // Outside the copy's transaction (committed by now): VACUUM cannot run in one.
    sqlx::query(&format!("VACUUM (ANALYZE) {}", names.join(", ")))
        .execute(pg)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// One connection on the source that can only read. Not opened read-only: SQLite's
/// read-only connections leave the -wal and -shm files they create behind, and
/// files left by a root shell would keep the bot's own user from writing (as in
/// `backup_url`). `query_only` refuses every write instead, and nothing migrates.
async fn open_source(from: &str, shown: &str) -> Result<SqliteConnection, CopyError> {
    let options = url_options(from)?;
    if !options.get_filename().is_file() {
        return Err(CopyError::SourceMissing(shown.to_string()));
    }
    let options = options
        .create_if_missing(false)
        .busy_timeout(DEFAULT_BUSY_TIMEOUT)
        .pragma("query_only", "ON")
        .disable_statement_logging();
    SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| CopyError::OpenSource {
            url: shown.to_string(),
            reason: e.to_string(),
        })
}

/// The source's schema version, which must be this build's newest.
async fn source_version(lite: &mut SqliteConnection, shown: &str) -> Result<i64, CopyError> {
    let found = newest_applied(lite)
        .await
        .map_err(|e| CopyError::OpenSource {
            url: shown.to_string(),
            reason: e.to_string(),
        })?
        .ok_or_else(|| CopyError::SourceNotPrepbot(shown.to_string()))?;
    let known = newest(&MIGRATOR);
    if found < known {
        return Err(CopyError::SourceOlder {
            url: shown.to_string(),
            found,
            expected: known,
        });
    }
    if found > known {
        return Err(CopyError::SourceNewer {
            url: shown.to_string(),
            found,
            known,
        });
    }
    Ok(found)
}

/// Refuses a source a bot still runs on: the copy is a snapshot, and whatever the
/// bot wrote after it would be missing from PostgreSQL. Alive is what `prepbot
/// status` and the claims go by, a heartbeat fresher than [`PROCESS_LAPSE`]; a
/// killed process stops counting once its heartbeat lapses (its claims are copied
/// and finished by the first process on PostgreSQL, as any dead holder's are).
async fn refuse_if_running(
    lite: &mut SqliteConnection,
    shown: &str,
    now: DateTime<Utc>,
) -> Result<(), CopyError> {
    let failed = |e: sqlx::Error| CopyError::OpenSource {
        url: shown.to_string(),
        reason: e.to_string(),
    };
    let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT id, host, pid, heard_at FROM processes \
         WHERE heard_at > $1 ORDER BY started_at, id",
    )
    .bind(epoch(now - PROCESS_LAPSE))
    .fetch_all(&mut *lite)
    .await
    .map_err(failed)?;
    if rows.is_empty() {
        return Ok(());
    }
    let processes: Vec<String> = rows
        .iter()
        .map(|(id, host, pid, heard_at)| {
            format!(
                "process {} on {} (pid {}), heard {} s ago",
                ProcessIdentity::short_id(id),
                if host.is_empty() {
                    "an unknown host"
                } else {
                    host
                },
                pid,
                (epoch(now) - heard_at).max(0)
            )
        })
        .collect();
    Err(CopyError::SourceInUse {
        url: shown.to_string(),
        processes: processes.join("; "),
        lapse: PROCESS_LAPSE.num_seconds(),
    })
}

/// Refuses a target from a newer prepbot (sqlx would only say a migration is
/// missing), applies the migrations, and returns the target's schema version.
async fn migrate_target(pg: &mut PgConnection, shown: &str) -> Result<i64, CopyError> {
    let failed = |during: &str, e: sqlx::Error| CopyError::Failed {
        during: format!("{during} of the target {shown}"),
        reason: e.to_string(),
    };
    let known = newest(&POSTGRES_MIGRATOR);
    if let Some(found) = pg_version(pg)
        .await
        .map_err(|e| failed("reading the schema version", e))?
        && found > known
    {
        return Err(CopyError::TargetNewer {
            url: shown.to_string(),
            found,
            known,
        });
    }
    POSTGRES_MIGRATOR
        .run(&mut *pg)
        .await
        .map_err(|e| CopyError::MigrateTarget {
            url: shown.to_string(),
            reason: e.to_string(),
        })?;
    pg_version(pg)
        .await
        .map_err(|e| failed("reading the schema version", e))?
        .ok_or_else(|| CopyError::MigrateTarget {
            url: shown.to_string(),
            reason: "no migration is recorded after applying them".into(),
        })
}

async fn pg_version(pg: &mut PgConnection) -> Result<Option<i64>, sqlx::Error> {
    let has_table: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *pg)
        .await?;
    if !has_table {
        return Ok(None);
    }
    sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(pg)
        .await
}

/// A column's kind, the same on both sides: SQLite INTEGER is PostgreSQL BIGINT,
/// TEXT is TEXT (`migrations/postgres/0001_schema.sql`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Text,
}

/// A table as the copy sees it: its columns in the source's order with their
/// kinds, and its primary key, which orders the rows on both sides.
#[derive(Debug)]
struct Table {
    name: String,
    columns: Vec<(String, Kind)>,
    key: Vec<String>,
    /// Tables its foreign keys refer to.
    parents: BTreeSet<String>,
}

/// A value read from either side, bound and hashed as what it is.
enum Value {
    Int(Option<i64>),
    Text(Option<String>),
}

/// The checksum of a table's rows in key order: every value fed as 64-bit words
/// (a tag, then the integer, or the length and the bytes of the text) to
/// rustc-hash's FxHasher, whose step is a bijection of its state for each word, so
/// one changed value changes the sum. Computed in this process on both sides, so
/// the hash needs to be stable only within one run.
#[derive(Default)]
struct RowHash(FxHasher);

impl RowHash {
    fn row(&mut self, values: &[Value]) {
        for v in values {
            match v {
                Value::Int(None) | Value::Text(None) => self.0.write_u64(0),
                Value::Int(Some(n)) => {
                    self.0.write_u64(1);
                    self.0.write_u64(*n as u64);
                }
                Value::Text(Some(s)) => {
                    self.0.write_u64(2);
                    self.0.write_u64(s.len() as u64);
                    for chunk in s.as_bytes().chunks(8) {
                        let mut word = [0u8; 8];
                        word[..chunk.len()].copy_from_slice(chunk);
                        self.0.write_u64(u64::from_le_bytes(word));
                    }
                }
            }
        }
        // Row boundaries count too.
        self.0.write_u64(3);
    }

    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

type Copied = (Vec<CopiedTable>, Vec<(String, u64)>, Vec<SequenceSet>);

/// The copy itself, in one transaction on each side: a read on SQLite, the
/// all-or-nothing write on PostgreSQL.
async fn copy_tables(
    lite: &mut SqliteConnection,
    pg: &mut PgConnection,
    shown: &str,
) -> Result<Copied, CopyError> {
    let read = |during: String| {
        move |e: sqlx::Error| CopyError::Failed {
            during: format!("{during} from the source"),
            reason: e.to_string(),
        }
    };
    let write = |during: String| {
        move |e: sqlx::Error| CopyError::Failed {
            during: format!("{during} in the target"),
            reason: e.to_string(),
        }
    };
    let mut lite = lite.begin().await.map_err(read("starting a read".into()))?;
    let mut tx = pg
        .begin()
        .await
        .map_err(write("starting a transaction".into()))?;
    // prepbot's writers take this lock first (`Store::write`): a bot started on the
    // target during the copy waits for it, and then finds the copy.
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(WRITE_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(write("taking prepbot's write lock".into()))?;

    // Empty: no row in any of the target's tables, the uncopied ones included (a
    // registered process means a bot already runs on it).
    let target_tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
           AND table_name <> '_sqlx_migrations' ORDER BY table_name",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(write("listing the tables".into()))?;
    for table in &target_tables {
        let any: bool =
            sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 FROM {})", quote(table)))
                .fetch_one(&mut *tx)
                .await
                .map_err(write(format!("reading {table}")))?;
        if any {
            return Err(CopyError::TargetNotEmpty {
                url: shown.to_string(),
                table: table.clone(),
            });
        }
    }

    let tables = read_schema(&mut lite, &mut tx, &target_tables).await?;
    let order = foreign_key_order(&tables)?;

    let mut copied = Vec::new();
    for name in &order {
        let table = &tables[name];
        let (rows, checksum) = copy_table(&mut lite, &mut tx, table).await?;
        copied.push(CopiedTable {
            name: name.clone(),
            rows,
            checksum,
        });
    }

    // Verified inside the transaction, before anything commits: the source's own
    // count, what was streamed, and the target's count and checksum read back.
    for c in &copied {
        let table = &tables[&c.name];
        let source_count: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", quote(&c.name)))
                .fetch_one(&mut *lite)
                .await
                .map_err(read(format!("counting {}", c.name)))?;
        let target_count: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", quote(&c.name)))
                .fetch_one(&mut *tx)
                .await
                .map_err(write(format!("counting {}", c.name)))?;
        if source_count as u64 != c.rows || target_count != source_count {
            return Err(CopyError::Verify(format!(
                "table {}: the source has {source_count} rows, {} were copied, the target has {target_count}",
                c.name, c.rows
            )));
        }
        let (read_back, checksum) = hash_target(&mut tx, table)
            .await
            .map_err(write(format!("reading {} back", c.name)))?;
        if read_back != c.rows || checksum != c.checksum {
            return Err(CopyError::Verify(format!(
                "table {}: the rows read back from the target differ from the source's (checksum {checksum:016x} against {:016x})",
                c.name, c.checksum
            )));
        }
    }

    let sequences = set_sequences(&mut lite, &mut tx, &order).await?;

    let mut not_copied = Vec::new();
    let in_source = tables_in_source(&mut lite)
        .await
        .map_err(read("listing the tables".into()))?;
    for (name, _) in NOT_COPIED {
        if in_source.contains(*name) {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", quote(name)))
                .fetch_one(&mut *lite)
                .await
                .map_err(read(format!("counting {name}")))?;
            not_copied.push((name.to_string(), n as u64));
        }
    }

    tx.commit()
        .await
        .map_err(write("committing the copy".into()))?;
    // Only read: nothing to keep.
    let _ = lite.rollback().await;
    Ok((copied, not_copied, sequences))
}

async fn tables_in_source(lite: &mut SqliteConnection) -> Result<BTreeSet<String>, sqlx::Error> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(lite)
    .await?;
    Ok(names.into_iter().collect())
}

/// Every table to copy, read from SQLite's catalogue and checked against
/// PostgreSQL's: the same tables, and in each the same columns of the same kinds.
async fn read_schema(
    lite: &mut SqliteConnection,
    pg: &mut PgConnection,
    target_tables: &[String],
) -> Result<BTreeMap<String, Table>, CopyError> {
    let read = |e: sqlx::Error| CopyError::Failed {
        during: "reading the schema from the source".into(),
        reason: e.to_string(),
    };
    let skipped = |name: &str| NOT_COPIED.iter().any(|(n, _)| *n == name);
    let source: BTreeSet<String> = tables_in_source(lite)
        .await
        .map_err(read)?
        .into_iter()
        .filter(|t| !skipped(t))
        .collect();
    let target: BTreeSet<String> = target_tables
        .iter()
        .filter(|t| !skipped(t))
        .cloned()
        .collect();
    if let Some(t) = source.difference(&target).next() {
        return Err(CopyError::SchemaDiffers(format!(
            "table {t} is in the SQLite source only"
        )));
    }
    if let Some(t) = target.difference(&source).next() {
        return Err(CopyError::SchemaDiffers(format!(
            "table {t} is in the PostgreSQL target only"
        )));
    }

    let mut tables = BTreeMap::new();
    for name in source {
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT name, type, pk FROM pragma_table_info($1) ORDER BY cid")
                .bind(&name)
                .fetch_all(&mut *lite)
                .await
                .map_err(read)?;
        let target_columns: BTreeMap<String, String> = sqlx::query_as::<_, (String, String)>(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1",
        )
        .bind(&name)
        .fetch_all(&mut *pg)
        .await
        .map_err(|e| CopyError::Failed {
            during: "reading the schema from the target".into(),
            reason: e.to_string(),
        })?
        .into_iter()
        .collect();

        let mut columns = Vec::new();
        let mut key: Vec<(i64, String)> = Vec::new();
        for (column, declared, pk) in rows {
            let Some(pg_type) = target_columns.get(&column) else {
                return Err(CopyError::SchemaDiffers(format!(
                    "column {name}.{column} is in the SQLite source only"
                )));
            };
            let kind = match (declared.to_ascii_uppercase().as_str(), pg_type.as_str()) {
                ("INTEGER", "bigint") => Kind::Int,
                ("TEXT", "text") => Kind::Text,
                (s, p) => {
                    return Err(CopyError::SchemaDiffers(format!(
                        "column {name}.{column} is {s} in the SQLite source and {p} in the PostgreSQL target, which migrate-store does not copy"
                    )));
                }
            };
            if pk > 0 {
                key.push((pk, column.clone()));
            }
            columns.push((column, kind));
        }
        if let Some(extra) = target_columns
            .keys()
            .find(|c| !columns.iter().any(|(s, _)| s == *c))
        {
            return Err(CopyError::SchemaDiffers(format!(
                "column {name}.{extra} is in the PostgreSQL target only"
            )));
        }
        if key.is_empty() {
            return Err(CopyError::SchemaDiffers(format!(
                "table {name} has no primary key to order its rows by"
            )));
        }
        key.sort();
        let parents: BTreeSet<String> =
            sqlx::query_scalar("SELECT \"table\" FROM pragma_foreign_key_list($1)")
                .bind(&name)
                .fetch_all(&mut *lite)
                .await
                .map_err(read)?
                .into_iter()
                .collect();
        tables.insert(
            name.clone(),
            Table {
                name,
                columns,
                key: key.into_iter().map(|(_, c)| c).collect(),
                parents,
            },
        );
    }
    Ok(tables)
}

/// Parents before children (by name among tables that are ready together), so
/// every foreign key holds as each row goes in.
fn foreign_key_order(tables: &BTreeMap<String, Table>) -> Result<Vec<String>, CopyError> {
    let mut order: Vec<String> = Vec::new();
    let mut left: BTreeSet<&String> = tables.keys().collect();
    while !left.is_empty() {
        let ready: Vec<&String> = left
            .iter()
            .copied()
            .filter(|t| {
                tables[*t]
                    .parents
                    .iter()
                    .all(|p| p == *t || order.contains(p) || !tables.contains_key(p))
            })
            .collect();
        if ready.is_empty() {
            return Err(CopyError::SchemaDiffers(format!(
                "the foreign keys of {} form a cycle",
                left.iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        for t in ready {
            left.remove(t);
            order.push(t.clone());
        }
    }
    Ok(order)
}

/// The statement that reads a table in key order. Text keys compare by bytes on
/// both sides (SQLite's BINARY, PostgreSQL's "C"), whatever the target database's
/// collation, so both sides read the rows in the same order.
fn select_in_key_order(table: &Table, postgres: bool) -> String {
    let columns: Vec<String> = table.columns.iter().map(|(c, _)| quote(c)).collect();
    let order: Vec<String> = table
        .key
        .iter()
        .map(|k| {
            let text = table
                .columns
                .iter()
                .any(|(c, kind)| c == k && *kind == Kind::Text);
            match (text, postgres) {
                (true, true) => format!("{} COLLATE \"C\"", quote(k)),
                (true, false) => format!("{} COLLATE BINARY", quote(k)),
                (false, _) => quote(k),
            }
        })
        .collect();
    format!(
        "SELECT {} FROM {} ORDER BY {}",
        columns.join(", "),
        quote(&table.name),
        order.join(", ")
    )
}

fn decode<'r, R>(row: &'r R, columns: &[(String, Kind)]) -> Result<Vec<Value>, sqlx::Error>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| {
            Ok(match kind {
                Kind::Int => Value::Int(row.try_get(i)?),
                Kind::Text => Value::Text(row.try_get(i)?),
            })
        })
        .collect()
}

/// Streams one table from SQLite into PostgreSQL in key order; returns the row
/// count and the checksum of what was read.
async fn copy_table(
    lite: &mut SqliteConnection,
    pg: &mut PgConnection,
    table: &Table,
) -> Result<(u64, u64), CopyError> {
    let read = |e: sqlx::Error| CopyError::Failed {
        during: format!("reading {} from the source", table.name),
        reason: e.to_string(),
    };
    let per_batch = (MAX_BINDS / table.columns.len().max(1)).clamp(1, MAX_ROWS);
    let select = select_in_key_order(table, false);
    let mut rows = sqlx::query(&select).fetch(&mut *lite);
    let mut hash = RowHash::default();
    let mut batch: Vec<Vec<Value>> = Vec::with_capacity(per_batch);
    let mut count = 0u64;
    while let Some(row) = rows.try_next().await.map_err(read)? {
        let values = decode(&row, &table.columns).map_err(read)?;
        hash.row(&values);
        batch.push(values);
        count += 1;
        if batch.len() == per_batch {
            insert_batch(pg, table, &batch).await?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        insert_batch(pg, table, &batch).await?;
    }
    Ok((count, hash.finish()))
}

async fn insert_batch(
    pg: &mut PgConnection,
    table: &Table,
    batch: &[Vec<Value>],
) -> Result<(), CopyError> {
    let columns: Vec<String> = table.columns.iter().map(|(c, _)| quote(c)).collect();
    let mut insert = QueryBuilder::<Postgres>::new(format!(
        "INSERT INTO {} ({}) ",
        quote(&table.name),
        columns.join(", ")
    ));
    // Typed NULLs: a NULL bound as text would not go into a BIGINT column.
    insert.push_values(batch, |mut b, row| {
        for v in row {
            match v {
                Value::Int(n) => b.push_bind(*n),
                Value::Text(s) => b.push_bind(s.as_deref()),
            };
        }
    });
    insert
        .build()
        .execute(pg)
        .await
        .map_err(|e| CopyError::Failed {
            during: format!("writing {} in the target", table.name),
            reason: e.to_string(),
        })?;
    Ok(())
}

/// The target's rows of `table` in key order: their count and checksum.
async fn hash_target(pg: &mut PgConnection, table: &Table) -> Result<(u64, u64), sqlx::Error> {
    let select = select_in_key_order(table, true);
    let mut rows = sqlx::query(&select).fetch(pg);
    let mut hash = RowHash::default();
    let mut count = 0u64;
    while let Some(row) = rows.try_next().await? {
        hash.row(&decode(&row, &table.columns)?);
        count += 1;
    }
    Ok((count, hash.finish()))
}

/// Moves every identity column of the copied tables past its highest id, and past
/// the highest id SQLite ever handed out where it kept one (an AUTOINCREMENT
/// table's `sqlite_sequence`, as `drops` has): a drop deleted with its channel
/// keeps its id from being reused, since posts already made carry it. `ALTER
/// TABLE … RESTART` rather than `setval`, which no rollback undoes.
async fn set_sequences(
    lite: &mut SqliteConnection,
    pg: &mut PgConnection,
    order: &[String],
) -> Result<Vec<SequenceSet>, CopyError> {
    let failed = |during: String| {
        move |e: sqlx::Error| CopyError::Failed {
            during,
            reason: e.to_string(),
        }
    };
    let identities: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
    )
    .fetch_all(&mut *pg)
    .await
    .map_err(failed("reading the identity columns of the target".into()))?;
    let has_sqlite_sequence: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence')",
    )
    .fetch_one(&mut *lite)
    .await
    .map_err(failed("reading the source's sequences".into()))?;
    let mut set = Vec::new();
    for table in order {
        for (_, column) in identities.iter().filter(|(t, _)| t == table) {
            let max: Option<i64> = sqlx::query_scalar(&format!(
                "SELECT MAX({}) FROM {}",
                quote(column),
                quote(table)
            ))
            .fetch_one(&mut *pg)
            .await
            .map_err(failed(format!("reading the highest {table}.{column}")))?;
            let handed_out: Option<i64> = if has_sqlite_sequence {
                sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = $1")
                    .bind(table)
                    .fetch_optional(&mut *lite)
                    .await
                    .map_err(failed(format!("reading the source's sequence of {table}")))?
            } else {
                None
            };
            let next = max.max(handed_out).unwrap_or(0).max(0) + 1;
            // A number formatted here: nothing to bind (DDL takes no parameters).
            sqlx::query(&format!(
                "ALTER TABLE {} ALTER COLUMN {} RESTART WITH {next}",
                quote(table),
                quote(column)
            ))
            .execute(&mut *pg)
            .await
            .map_err(failed(format!("setting the sequence of {table}.{column}")))?;
            set.push(SequenceSet {
                table: table.clone(),
                column: column.clone(),
                next,
            });
        }
    }
    Ok(set)
}

/// The passwords a URL carries (`user:password@` or `?password=`), as written and
/// percent-decoded, to keep them out of every message.
fn passwords_in(url: &str) -> impl Iterator<Item = String> {
    let mut found = Vec::new();
    if let Some(start) = url.find("://") {
        let rest = &url[start + 3..];
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if let Some(at) = authority.rfind('@')
            && let Some((_, password)) = authority[..at].split_once(':')
        {
            found.push(password.to_string());
        }
    }
    if let Some((_, query)) = url.split_once('?') {
        for pair in query.split('&') {
            if let Some(password) = pair.strip_prefix("password=") {
                found.push(password.to_string());
            }
        }
    }
    let decoded: Vec<String> = found.iter().map(|p| percent_decode(p)).collect();
    let mut all: Vec<String> = Vec::new();
    for p in found.into_iter().chain(decoded) {
        if !p.is_empty() && !all.contains(&p) {
            all.push(p);
        }
    }
    all.into_iter()
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(&hi), Some(&lo)) = (bytes.get(i + 1), bytes.get(i + 2))
            && let (Some(hi), Some(lo)) = (hex(hi), hex(lo))
        {
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The error with every password replaced. The URLs in messages are redacted
/// already; this also covers whatever a driver's message might quote.
fn scrub_error(e: CopyError, secrets: &[String]) -> CopyError {
    let text = e.to_string();
    if !secrets.iter().any(|s| text.contains(s.as_str())) {
        return e;
    }
    let mut text = text;
    for s in secrets {
        text = text.replace(s.as_str(), "***");
    }
    CopyError::Scrubbed(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_migrations_of_both_backends_are_paired() {
        let (sqlite, postgres) = *SCHEMA_PAIRS.last().unwrap();
        assert_eq!(
            (sqlite, postgres),
            (newest(&MIGRATOR), newest(&POSTGRES_MIGRATOR)),
            "a new migration pair needs its line in SCHEMA_PAIRS"
        );
        for pair in SCHEMA_PAIRS.windows(2) {
            assert!(pair[0].0 < pair[1].0 && pair[0].1 < pair[1].1, "{pair:?}");
        }
        for (s, p) in SCHEMA_PAIRS {
            assert!(MIGRATOR.iter().any(|m| m.version == *s), "SQLite {s}");
            assert!(
                POSTGRES_MIGRATOR.iter().any(|m| m.version == *p),
                "PostgreSQL {p}"
            );
        }
        assert_eq!(postgres_version_for(12), Some(4));
        assert_eq!(postgres_version_for(8), None);
    }

    #[test]
    fn passwords_are_found_as_written_and_decoded() {
        let found: Vec<String> =
            passwords_in("postgres://bot:p%40ss@db:5432/x?sslmode=disable&password=q").collect();
        assert_eq!(found, ["p%40ss", "q", "p@ss"]);
        assert_eq!(passwords_in("postgres://bot@db/x").count(), 0);
        assert_eq!(passwords_in("sqlite://prepbot.db").count(), 0);
        let e = scrub_error(
            CopyError::Failed {
                during: "connecting".into(),
                reason: "bad p@ss".into(),
            },
            &["p@ss".into()],
        );
        assert!(!e.to_string().contains("p@ss"), "{e}");
    }

    #[test]
    fn rows_hash_by_value_kind_and_boundary() {
        let sum = |rows: &[Vec<Value>]| {
            let mut h = RowHash::default();
            for r in rows {
                h.row(r);
            }
            h.finish()
        };
        let text = |s: &str| Value::Text(Some(s.into()));
        let a = sum(&[vec![Value::Int(Some(1)), text("ab")]]);
        assert_eq!(a, sum(&[vec![Value::Int(Some(1)), text("ab")]]));
        assert_ne!(a, sum(&[vec![Value::Int(Some(2)), text("ab")]]));
        assert_ne!(a, sum(&[vec![Value::Int(Some(1)), text("ab ")]]));
        assert_ne!(a, sum(&[vec![Value::Int(None), text("ab")]]));
        assert_ne!(
            sum(&[vec![text("a")], vec![text("b")]]),
            sum(&[vec![text("a"), text("b")]]),
            "where a row ends counts"
        );
        assert_ne!(
            sum(&[vec![Value::Int(Some(0))]]),
            sum(&[vec![Value::Int(None)]]),
            "NULL is not 0"
        );
    }
}
