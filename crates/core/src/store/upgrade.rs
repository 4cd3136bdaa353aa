//! Migrations that rebuild tables. SQLite changes a table's keys only by building a
//! new table, copying the rows and dropping the old one, and that is safe only with
//! foreign keys off: with them on, dropping `channels` cascades and empties every
//! table that refers to it. sqlx runs each migration inside a transaction, where
//! `PRAGMA foreign_keys` has no effect, and the store opens every connection with
//! foreign keys on. So a migration marked `-- no-transaction` is never run by sqlx:
//! [`apply`] brings the database up to the version before it with sqlx, then runs it
//! here, in this order:
//!
//! 1. a `VACUUM INTO` copy of an existing database beside it, kept for the operator;
//! 2. on one connection with foreign keys off, one `BEGIN IMMEDIATE` transaction: the
//!    migration's SQL, the fix-ups SQL cannot express (below), a
//!    `PRAGMA foreign_key_check` that must come back empty, and sqlx's own record of
//!    the migration (with its checksum, so sqlx sees it as applied);
//! 3. commit, or roll back on any failure: the database is then exactly as it was.
//!
//! The connection is closed afterwards rather than handed back to the pool with
//! foreign keys off.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sqlx::migrate::{Migration, Migrator};
use sqlx::sqlite::SqlitePool;
use sqlx::{Connection, SqliteConnection};

use super::{Result, StoreError};

/// Applies every migration of `migrator` that is not applied yet, the rebuilding
/// ones as described above. `db_file` is where a copy can be put (`None`: no copy).
pub(super) async fn apply(
    migrator: &'static Migrator,
    pool: &SqlitePool,
    db_file: Option<&Path>,
    target: &str,
) -> Result<()> {
    for rebuild in migrator.iter().filter(|m| m.no_tx) {
        let applied = super::newest_applied(&mut *pool.acquire().await?).await?;
        if applied.is_some_and(|v| v >= rebuild.version) {
            continue;
        }
        // Everything before it, the ordinary way.
        let before = Migrator {
            migrations: Cow::Owned(
                migrator
                    .iter()
                    .filter(|m| m.version < rebuild.version)
                    .cloned()
                    .collect(),
            ),
            // The fields are sqlx's (`#[doc(hidden)]`, semver-exempt); sqlx is pinned to
            // an exact version in Cargo.toml, and tests/store.rs runs every path here.
            ..Migrator::DEFAULT
        };
        before
            .run(pool)
            .await
            .map_err(|e| super::migrate_error(target, e))?;
        let copy = match (applied, db_file) {
            (Some(from), Some(file)) => Some(copy_before(pool, file, from, rebuild).await?),
            _ => None,
        };
        let mut conn = pool.acquire().await?.detach();
        let outcome = rebuild_in(&mut conn, rebuild).await;
        // Never back into the pool with foreign keys off.
        let _ = conn.close().await;
        if let Err(e) = outcome {
            return Err(StoreError::Migrate(match copy {
                Some(copy) => format!(
                    "upgrading the database to schema version {} failed and changed nothing ({e}); a copy taken before the upgrade is at {}",
                    rebuild.version,
                    copy.display()
                ),
                None => format!("creating schema version {} failed: {e}", rebuild.version),
            }));
        }
        // A warning, so the default log level shows it: a new file the size of the
        // database has appeared beside it, which the operator will want to delete
        // once the bot runs fine (`prepbot status` upgrades too, and logs nothing else).
        if let Some(copy) = copy {
            tracing::warn!(
                version = rebuild.version,
                copy = %copy.display(),
                "the database was upgraded; the copy taken before the upgrade can be deleted once the bot runs fine"
            );
        }
    }
    migrator
        .run(pool)
        .await
        .map_err(|e| super::migrate_error(target, e))
}

/// `VACUUM INTO` a new file beside the database: `prepbot.db.before-v9`, or with a
/// number added if that name is taken (a copy is never overwritten).
async fn copy_before(
    pool: &SqlitePool,
    file: &Path,
    from: i64,
    rebuild: &Migration,
) -> Result<PathBuf> {
    let base = format!("{}.v{from}-before-v{}", file.display(), rebuild.version);
    let mut dest = PathBuf::from(&base);
    let mut n = 1;
    while dest.exists() {
        n += 1;
        dest = PathBuf::from(format!("{base}.{n}"));
    }
    let mut conn = pool.acquire().await?;
    super::backup_with(&mut conn, &dest).await.map_err(|e| {
        StoreError::Migrate(format!(
            "the database needs an upgrade to schema version {}, and the copy taken first failed, so nothing was changed: {e}",
            rebuild.version
        ))
    })
}

async fn rebuild_in(conn: &mut SqliteConnection, m: &Migration) -> Result<(), String> {
    let started = Instant::now();
    sqlx::query("PRAGMA foreign_keys = OFF")
        .execute(&mut *conn)
        .await
        .map_err(|e| e.to_string())?;
    // Plain BEGIN/COMMIT rather than sqlx's `Transaction`: the connection is closed
    // afterwards, and a `Transaction` borrowed across these awaits makes the future
    // not `Send` for the runtime (sqlx's `Executor` bound is too general).
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *conn)
        .await
        .map_err(|e| e.to_string())?;
    let outcome = rebuild_steps(conn, m, started).await;
    let end = if outcome.is_ok() {
        "COMMIT"
    } else {
        "ROLLBACK"
    };
    let ended = sqlx::query(end).execute(&mut *conn).await;
    outcome?;
    ended.map(|_| ()).map_err(|e| e.to_string())
}

async fn rebuild_steps(
    conn: &mut SqliteConnection,
    m: &Migration,
    started: Instant,
) -> Result<(), String> {
    // As sqlx runs a migration: one string of many statements.
    let sql: &str = &m.sql;
    sqlx::Executor::execute(&mut *conn, sql)
        .await
        .map_err(|e| e.to_string())?;
    fix_ups(conn, m.version).await.map_err(|e| e.to_string())?;
    let broken: Vec<(String, Option<i64>, String)> =
        sqlx::query_as("SELECT \"table\", rowid, parent FROM pragma_foreign_key_check")
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| e.to_string())?;
    if let Some((table, row, parent)) = broken.first() {
        return Err(format!(
            "{} rows would refer to missing rows (first: {table} row {row:?} -> {parent})",
            broken.len()
        ));
    }
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (?, ?, TRUE, ?, ?)",
    )
    .bind(m.version)
    .bind(m.description.to_string())
    .bind(m.checksum.to_vec())
    .bind(started.elapsed().as_nanos() as i64)
    .execute(&mut *conn)
    .await
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// What a migration's SQL cannot do by itself.
async fn fix_ups(conn: &mut SqliteConnection, version: i64) -> Result<(), sqlx::Error> {
    if version == 9 {
        unsigned_ids(conn).await?;
        neutral_reasons(conn).await?;
    }
    Ok(())
}

/// Columns that held Discord ids as SQLite integers, now text.
const ID_COLUMNS: &[(&str, &str)] = &[
    ("channels", "workspace_id"),
    ("channels", "conversation_id"),
    ("drops", "message_id"),
    ("drops", "thread_id"),
    ("answers", "message_id"),
    ("answers", "member_id"),
    ("early_message_events", "message_id"),
    ("member_stats", "member_id"),
];

/// Ids at or above 2^63 were stored as negative integers (their bits as an i64);
/// as text they are the unsigned number again. SQLite has no unsigned arithmetic,
/// hence here rather than in SQL.
async fn unsigned_ids(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    for (table, column) in ID_COLUMNS {
        // Table and column names are the constants above, never input.
        let negative: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT DISTINCT {column} FROM {table} WHERE {column} LIKE '-%'"
        ))
        .fetch_all(&mut *conn)
        .await?;
        for old in negative {
            let Ok(bits) = old.parse::<i64>() else {
                continue;
            };
            let unsigned = u64::from_ne_bytes(bits.to_ne_bytes()).to_string();
            sqlx::query(&format!(
                "UPDATE {table} SET {column} = ? WHERE {column} = ?"
            ))
            .bind(unsigned)
            .bind(old)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// Reasons written by the Discord adapter named the channel as a `<#id>` mention,
/// which only Discord renders. `prepbot status` and `/schedule show` name the
/// channel themselves now, so the mention becomes plain words.
async fn neutral_reasons(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    for (table, column) in [("channels", "pause_reason"), ("drops", "failure")] {
        let rows: Vec<(i64, String)> = sqlx::query_as(&format!(
            "SELECT rowid, {column} FROM {table} WHERE {column} LIKE '%<#%'"
        ))
        .fetch_all(&mut *conn)
        .await?;
        for (rowid, text) in rows {
            sqlx::query(&format!("UPDATE {table} SET {column} = ? WHERE rowid = ?"))
                .bind(neutral_reason(&text))
                .bind(rowid)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// `the channel <#123> no longer exists` -> `the channel no longer exists`;
/// `post in <#123>:` -> `post in the channel:`.
pub(crate) fn neutral_reason(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<#") {
        let after = &rest[start + 2..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || !after[digits..].starts_with('>') {
            out.push_str(&rest[..start + 2]);
            rest = after;
            continue;
        }
        let before = &rest[..start];
        if before.ends_with("the channel ") {
            out.push_str(before.trim_end_matches(' '));
        } else {
            out.push_str(before);
            out.push_str("the channel");
        }
        rest = &after[digits + 1..];
    }
    out.push_str(rest);
    out
}

/// The runtime spawns the bot's start-up on other threads, so these futures must be
/// `Send`; sqlx's bounds make that easy to lose (see `rebuild_in`). A compile-time check.
#[allow(dead_code)]
fn send_check(pool: &SqlitePool, conn: &mut SqliteConnection, m: &'static Migration) {
    fn is_send<T: Send>(_: T) {}
    is_send(apply(&super::MIGRATOR, pool, None, "x"));
    is_send(rebuild_in(conn, m));
    is_send(fix_ups(conn, 9));
}

#[cfg(test)]
mod tests {
    use super::neutral_reason;

    #[test]
    fn channel_mentions_become_words() {
        assert_eq!(
            neutral_reason(
                "the channel <#1187654321098765432> no longer exists (Discord: Unknown Channel); its schedule is paused"
            ),
            "the channel no longer exists (Discord: Unknown Channel); its schedule is paused"
        );
        assert_eq!(
            neutral_reason("the bot lacks permission to post in <#42>: it needs View Channel"),
            "the bot lacks permission to post in the channel: it needs View Channel"
        );
        assert_eq!(
            neutral_reason("a <#role> and <#> stay"),
            "a <#role> and <#> stay"
        );
        assert_eq!(neutral_reason("no mention"), "no mention");
    }
}
