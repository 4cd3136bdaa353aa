//! All SQL lives here: one file per table or aggregate, each returning domain types.
//!
//! SQLite in WAL mode with foreign keys on and a busy timeout; migrations from
//! `migrations/` run at open. Write transactions start with `BEGIN IMMEDIATE` so two
//! writers queue on the busy timeout instead of failing when a read lock upgrades.
//! Platform ids go through [`ids`]; times are integer epoch seconds (UTC).
//! Functions take `&mut SqliteConnection`, so callers compose them inside one
//! transaction ([`Store::write`]) or run them on a pooled connection ([`Store::read`]).

pub mod answers;
pub mod channels;
pub mod drops;
pub mod ids;
pub mod member_stats;
pub mod rotation;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

/// How long a writer waits for another writer before giving up with [`StoreError::Locked`].
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("`{url}` is not a SQLite database URL: use sqlite://path/to/prepbot.db ({reason})")]
    BadUrl { url: String, reason: String },
    #[error("cannot open the database {target}: {reason}")]
    Open { target: String, reason: String },
    #[error("cannot apply the database migrations: {0}")]
    Migrate(String),
    #[error(
        "the database is locked by another process or connection and stayed locked past the busy timeout; is a second prepbot writing to the same file?"
    )]
    Locked,
    #[error("the database holds a value this version cannot read: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Sql(sqlx::Error),
}

/// SQLite result codes for "busy" and "locked", including extended codes.
fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|code| matches!(code & 0xff, 5 | 6)),
        _ => false,
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if is_busy(&e) {
            StoreError::Locked
        } else {
            StoreError::Sql(e)
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Hides a password in `scheme://user:password@host` before a URL reaches a message.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            format!("{}://***@{}", &url[..start], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// A handle on the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl Store {
    /// Opens (creating if missing) the database at a `sqlite://` URL.
    pub async fn open_url(url: &str) -> Result<Store> {
        // sqlx would read any other scheme as a file name; say what is supported.
        if !url.starts_with("sqlite:") {
            return Err(StoreError::BadUrl {
                url: redact_url(url),
                reason: "only sqlite: URLs are supported".into(),
            });
        }
        let options = SqliteConnectOptions::from_str(url).map_err(|e| StoreError::BadUrl {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        Self::open(options, url, DEFAULT_BUSY_TIMEOUT).await
    }

    /// Opens (creating if missing) the database file at `path`.
    pub async fn open_path(path: &Path) -> Result<Store> {
        Self::open_path_with(path, DEFAULT_BUSY_TIMEOUT).await
    }

    pub async fn open_path_with(path: &Path, busy_timeout: Duration) -> Result<Store> {
        let options = SqliteConnectOptions::new().filename(path);
        Self::open(options, &path.display().to_string(), busy_timeout).await
    }

    async fn open(
        options: SqliteConnectOptions,
        target: &str,
        busy_timeout: Duration,
    ) -> Result<Store> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(busy_timeout);
        let open_error = |e: sqlx::Error| match StoreError::from(e) {
            StoreError::Sql(e) => StoreError::Open {
                target: target.to_string(),
                reason: e.to_string(),
            },
            other => other,
        };
        // Writers and readers get separate pools. SQLite takes one writer at a time
        // anyway; two writer connections keep a second writer queued in SQLite's busy
        // handler rather than in the pool. Readers never wait for a writer in WAL
        // mode, and with their own pool they never wait for a connection a writer
        // holds while it waits for the lock: a lookup stays fast while the database
        // is busy.
        let writer = SqlitePoolOptions::new()
            .max_connections(2)
            .acquire_timeout(busy_timeout + Duration::from_secs(5))
            .connect_with(options.clone())
            .await
            .map_err(open_error)?;
        MIGRATOR.run(&writer).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(e) if is_busy(&e) => StoreError::from(e),
            other => StoreError::Migrate(other.to_string()),
        })?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(busy_timeout + Duration::from_secs(5))
            .connect_with(options.read_only(true))
            .await
            .map_err(open_error)?;
        Ok(Store { writer, reader })
    }

    /// A write transaction (`BEGIN IMMEDIATE`): commit it, or it rolls back on drop.
    pub async fn write(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// A pooled read-only connection.
    pub async fn read(&self) -> Result<PoolConnection<Sqlite>> {
        Ok(self.reader.acquire().await?)
    }

    /// Closes every connection. Once it returns, none is left open on the file, so the
    /// file can be copied, replaced or opened read-only at once.
    pub async fn close(&self) {
        // sqlx's close returns once no connection is checked out, but a connection on its
        // way back to the pool at that moment can still land among the idle ones, open
        // until the pool is dropped. Close again until both pools are empty: a few
        // milliseconds at most, bounded in case a connection never comes back.
        for _ in 0..1000 {
            self.reader.close().await;
            self.writer.close().await;
            if self.reader.size() == 0 && self.writer.size() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

#[cfg(test)]
mod tests {
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
    }
}
