//! The two databases behind one store API: a connection ([`Conn`]) is SQLite's or
//! PostgreSQL's, and each store function runs its SQL through [`on!`], which
//! expands the same code once per backend, so every statement is written once and
//! type-checked against both drivers. Not sqlx's `Any` driver: it would lose each
//! backend's connect options and error codes, and the dialects differ anyway (the
//! few places they do are [`Dialect`] constants).

use std::ops::{Deref, DerefMut};

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres, Sqlite, SqliteConnection, Transaction};

/// A connection the store's functions run on: a pooled reader ([`super::Store::read`])
/// or the one inside a write transaction ([`super::Store::write`]).
pub enum Conn {
    Sqlite(PoolConnection<Sqlite>),
    SqliteTx(Transaction<'static, Sqlite>),
    Postgres(PoolConnection<Postgres>),
    PostgresTx(Transaction<'static, Postgres>),
}

/// A borrowed connection of one backend, as [`on!`] matches it.
pub enum Backend<'c> {
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgConnection),
}

impl Conn {
    pub fn backend(&mut self) -> Backend<'_> {
        match self {
            Conn::Sqlite(c) => Backend::Sqlite(c),
            Conn::SqliteTx(c) => Backend::Sqlite(c),
            Conn::Postgres(c) => Backend::Postgres(c),
            Conn::PostgresTx(c) => Backend::Postgres(c),
        }
    }

    /// The SQLite connection, for SQLite-only statements (`PRAGMA`, `VACUUM INTO`)
    /// and tests that inspect the file; `None` on PostgreSQL.
    pub fn as_sqlite(&mut self) -> Option<&mut SqliteConnection> {
        match self.backend() {
            Backend::Sqlite(c) => Some(c),
            Backend::Postgres(_) => None,
        }
    }

    /// The PostgreSQL connection; `None` on SQLite.
    pub fn as_postgres(&mut self) -> Option<&mut PgConnection> {
        match self.backend() {
            Backend::Postgres(c) => Some(c),
            Backend::Sqlite(_) => None,
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Conn::Postgres(_) | Conn::PostgresTx(_))
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Conn::Sqlite(_) => "Conn::Sqlite",
            Conn::SqliteTx(_) => "Conn::SqliteTx",
            Conn::Postgres(_) => "Conn::Postgres",
            Conn::PostgresTx(_) => "Conn::PostgresTx",
        })
    }
}

/// A write transaction: commit it, or it rolls back on drop (sqlx's transaction
/// does, whichever the backend).
#[derive(Debug)]
pub struct WriteTx(pub(super) Conn);

impl WriteTx {
    /// Rolls back now rather than on drop.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self.0 {
            Conn::SqliteTx(tx) => tx.rollback().await,
            Conn::PostgresTx(tx) => tx.rollback().await,
            Conn::Sqlite(_) | Conn::Postgres(_) => unreachable!("a WriteTx holds a transaction"),
        }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self.0 {
            Conn::SqliteTx(tx) => tx.commit().await,
            Conn::PostgresTx(tx) => tx.commit().await,
            Conn::Sqlite(_) | Conn::Postgres(_) => unreachable!("a WriteTx holds a transaction"),
        }
    }
}

impl Deref for WriteTx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.0
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.0
    }
}

/// What the two dialects spell differently, by connection type, for [`on!`] bodies.
pub trait Dialect {
    type Db: sqlx::Database;
    fn is_sqlite_dialect(&self) -> bool;
    /// `name` ordered with ASCII letters folded, then by bytes: SQLite's `NOCASE`,
    /// PostgreSQL's `prepbot_nocase()` (the same order, and what the indexes hold).
    fn nocase(column: &str) -> String;
    /// An inner join whose written order is the order to run it in: SQLite's
    /// `CROSS JOIN` (its planner keeps that order), PostgreSQL's plain `JOIN`
    /// (which takes no such hint, and plans from its statistics).
    const ORDERED_JOIN: &'static str;
    /// The database's clock in microseconds since the epoch, the same value however
    /// often a statement reads it: PostgreSQL's statement start, SQLite's `'now'`
    /// (fixed for a statement's step, to the millisecond).
    const NOW_MICROS: &'static str;
    /// The larger of two values: SQLite's two-argument `max`, PostgreSQL's `GREATEST`.
    const GREATEST: &'static str;
    /// Appends bind placeholder number `n` of a statement whose every placeholder
    /// comes from here ([`placeholder_list`], [`placeholder_rows`]).
    fn push_placeholder(out: &mut String, n: usize);
}

impl Dialect for SqliteConnection {
    type Db = Sqlite;
    const ORDERED_JOIN: &'static str = "CROSS JOIN";
    const NOW_MICROS: &'static str =
        "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)";
    const GREATEST: &'static str = "max";
    fn is_sqlite_dialect(&self) -> bool {
        true
    }
    fn nocase(column: &str) -> String {
        format!("{column} COLLATE NOCASE")
    }
    fn push_placeholder(out: &mut String, _n: usize) {
        out.push('?');
    }
}

impl Dialect for PgConnection {
    type Db = Postgres;
    const ORDERED_JOIN: &'static str = "JOIN";
    const NOW_MICROS: &'static str =
        "CAST(EXTRACT(EPOCH FROM statement_timestamp()) * 1000000 AS BIGINT)";
    const GREATEST: &'static str = "GREATEST";
    fn is_sqlite_dialect(&self) -> bool {
        false
    }
    fn nocase(column: &str) -> String {
        format!("prepbot_nocase({column})")
    }
    fn push_placeholder(out: &mut String, n: usize) {
        use std::fmt::Write as _;
        let _ = write!(out, "${n}");
    }
}

/// Runs `$body` with `$c` bound to the backend's `&mut` connection: the body is
/// written once and compiled for each backend.
macro_rules! on {
    ($conn:expr, $c:ident => $body:expr) => {
        match $crate::store::backend::Conn::backend($conn) {
            $crate::store::backend::Backend::Sqlite($c) => $body,
            $crate::store::backend::Backend::Postgres($c) => $body,
        }
    };
}
pub(crate) use on;

/// Implements `sqlx::FromRow` for both drivers' rows, reading each field from the
/// column of the same name, as `#[derive(sqlx::FromRow)]` does; `flatten` fields
/// read a nested row struct from the same columns (`#[sqlx(flatten)]`).
/// Written here because the derive needs sqlx's `macros` feature, and with it the
/// build compiles sqlx, both drivers and SQLite's C source a second time for the
/// compiler host (BENCHMARKS.md, "Build cost").
///
/// A struct of plain fields only also reads from a joined row's renamed columns
/// ([`FromPrefixedRow`]). `optional { field: "prefix_" }` reads such a field, an
/// `Option` of one of those structs, from the columns [`prefixed_columns`] named:
/// `None` when the side of a `LEFT JOIN` it comes from has no row.
macro_rules! from_row {
    ($ty:ident { $first:ident $(, $field:ident)* $(,)? }) => {
        $crate::store::backend::from_row!(@one sqlx::sqlite::SqliteRow, $ty { $first $(, $field)* } {} {});
        $crate::store::backend::from_row!(@one sqlx::postgres::PgRow, $ty { $first $(, $field)* } {} {});
        $crate::store::backend::from_row!(@prefixed sqlx::sqlite::SqliteRow, $ty { $first $(, $field)* });
        $crate::store::backend::from_row!(@prefixed sqlx::postgres::PgRow, $ty { $first $(, $field)* });
    };
    ($ty:ident { $($field:ident),* $(,)? }
        $(flatten { $($nested:ident),* $(,)? })?
        $(optional { $($opt:ident: $prefix:literal),* $(,)? })?) => {
        $crate::store::backend::from_row!(@one sqlx::sqlite::SqliteRow, $ty { $($field),* }
            { $($($nested),*)? } { $($($opt: $prefix),*)? });
        $crate::store::backend::from_row!(@one sqlx::postgres::PgRow, $ty { $($field),* }
            { $($($nested),*)? } { $($($opt: $prefix),*)? });
    };
    (@one $row:ty, $ty:ident { $($field:ident),* } { $($nested:ident),* } { $($opt:ident: $prefix:literal),* }) => {
        impl<'r> sqlx::FromRow<'r, $row> for $ty {
            fn from_row(row: &'r $row) -> std::result::Result<Self, sqlx::Error> {
                // Unused by a row of nested structs only.
                #[allow(unused_imports)]
                use sqlx::Row as _;
                Ok(Self {
                    $($field: row.try_get(stringify!($field))?,)*
                    $($nested: sqlx::FromRow::from_row(row)?,)*
                    $($opt: $crate::store::backend::FromPrefixedRow::from_prefixed(row, $prefix)?,)*
                })
            }
        }
    };
    (@prefixed $row:ty, $ty:ident { $first:ident $(, $field:ident)* }) => {
        impl $crate::store::backend::FromPrefixedRow<$row> for $ty {
            fn from_prefixed(row: &$row, prefix: &str) -> std::result::Result<Option<Self>, sqlx::Error> {
                use sqlx::{Row as _, ValueRef as _};
                let name = |field: &str| format!("{prefix}{field}");
                // The first column is never NULL in a stored row.
                if row.try_get_raw(name(stringify!($first)).as_str())?.is_null() {
                    return Ok(None);
                }
                Ok(Some(Self {
                    $first: row.try_get(name(stringify!($first)).as_str())?,
                    $($field: row.try_get(name(stringify!($field)).as_str())?,)*
                }))
            }
        }
    };
}
pub(crate) use from_row;

/// A row struct read from a joined row whose columns [`prefixed_columns`] renamed:
/// `None` when its first column is NULL, as every column of the missing side of a
/// `LEFT JOIN` is. Implemented by [`from_row!`].
pub trait FromPrefixedRow<R>: Sized {
    fn from_prefixed(row: &R, prefix: &str) -> Result<Option<Self>, sqlx::Error>;
}

/// `columns` (a table's `COLUMNS` list) of the table aliased `table`, each renamed
/// `{prefix}{column}`: `d.id AS open_id, d.channel_id AS open_channel_id, …`, for a
/// statement that reads several tables' rows at once (read back through
/// [`FromPrefixedRow`]).
pub fn prefixed_columns(columns: &str, table: &str, prefix: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{table}.{c} AS {prefix}{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `columns` (a table's `COLUMNS` list) of the table aliased `table`, by their own
/// names: `c.id, c.platform, …`.
pub fn qualified_columns(columns: &str, table: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{table}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The dialect of a connection inside an [`on!`] body: `dialect_of(&*c)`.
pub fn nocase_for<C: Dialect>(_conn: &C, column: &str) -> String {
    C::nocase(column)
}

/// `count` bind placeholders numbered from `first`, `a, b, …`, inside an [`on!`]
/// body, for a statement with many parameters (an `IN` list, a multi-row insert:
/// [`placeholder_rows`]) whose every placeholder comes from here: PostgreSQL's `$N`;
/// SQLite's anonymous `?`, bound in order. Not `$N` on SQLite: sqlx binds a named
/// parameter by asking SQLite its name (`sqlite3_bind_parameter_name`, a walk of
/// the statement's parameter list), so a statement of n named parameters costs
/// O(n²) to bind. With 900 in each insert of an answer batch that was a third of
/// the bot's CPU in a burst of answers (`perf`; BENCHMARKS.md, "Ingestion").
pub fn placeholder_list<C: Dialect>(_conn: &C, first: usize, count: usize) -> String {
    list_of::<C>(first, count)
}

fn list_of<C: Dialect>(first: usize, count: usize) -> String {
    let mut out = String::with_capacity(count * 4);
    for n in first..first + count {
        if n > first {
            out.push_str(", ");
        }
        C::push_placeholder(&mut out, n);
    }
    out
}

/// `rows` groups of `width` placeholders numbered from 1, `(…), (…)`, for a
/// multi-row insert (see [`placeholder_list`]).
pub fn placeholder_rows<C: Dialect>(_conn: &C, rows: usize, width: usize) -> String {
    rows_of::<C>(rows, width)
}

fn rows_of<C: Dialect>(rows: usize, width: usize) -> String {
    let mut out = String::with_capacity(rows * (width * 4 + 4));
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..width {
            if c > 0 {
                out.push_str(", ");
            }
            C::push_placeholder(&mut out, r * width + c + 1);
        }
        out.push(')');
    }
    out
}

/// A query builder for the connection's backend, inside an [`on!`] body.
pub fn query_builder<'a, C: Dialect>(
    _conn: &C,
    init: impl Into<String>,
) -> sqlx::QueryBuilder<'a, C::Db> {
    sqlx::QueryBuilder::new(init)
}

/// [`Dialect::ORDERED_JOIN`] of a connection, inside an [`on!`] body.
pub fn ordered_join<C: Dialect>(_conn: &C) -> &'static str {
    C::ORDERED_JOIN
}

/// [`Dialect::NOW_MICROS`] of a connection, inside an [`on!`] body.
pub fn now_micros<C: Dialect>(_conn: &C) -> &'static str {
    C::NOW_MICROS
}

/// [`Dialect::GREATEST`] of a connection, inside an [`on!`] body.
pub fn greatest<C: Dialect>(_conn: &C) -> &'static str {
    C::GREATEST
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_parameter_statements_number_on_postgresql_and_stay_anonymous_on_sqlite() {
        assert_eq!(rows_of::<SqliteConnection>(2, 3), "(?, ?, ?), (?, ?, ?)");
        assert_eq!(rows_of::<PgConnection>(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(list_of::<SqliteConnection>(2, 3), "?, ?, ?");
        assert_eq!(list_of::<PgConnection>(2, 3), "$2, $3, $4");
    }
}
