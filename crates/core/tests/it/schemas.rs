//! The two schemas stay one: what SQLite's migrations build and what PostgreSQL's
//! build are read back from each database's own catalogue and compared, table by
//! table: columns (name, kind, nullability), primary keys, unique constraints,
//! indexes (columns, order, case folding, uniqueness, partial predicate) and
//! foreign keys (columns, target, on delete). CHECK constraints are not compared
//! (their text differs by dialect); the store's tests exercise them on both.
//!
//! Kinds: SQLite INTEGER is `int` and PostgreSQL BIGINT is `int` (flags are 0/1
//! integers in both); TEXT is `text`. SQLite's `COLLATE NOCASE` and PostgreSQL's `prepbot_nocase(…)` are
//! both `nocase(column)`.

use std::collections::{BTreeMap, BTreeSet};

use prepbot_core::store::POSTGRES_MIGRATOR;
use prepbot_testkit::{fresh_sqlite_store, postgres};
use sqlx::{Connection, PgConnection, Row, SqliteConnection};

#[derive(Debug, Default, PartialEq, Eq)]
struct Table {
    /// Column -> (kind, nullable).
    columns: BTreeMap<String, (String, bool)>,
    primary_key: Vec<String>,
    /// Every unique column list, from constraints or unique indexes without a
    /// predicate.
    unique: BTreeSet<Vec<String>>,
    /// Named indexes: name -> (unique, columns, predicate).
    indexes: BTreeMap<String, (bool, Vec<String>, Option<String>)>,
    /// (column, referenced table, referenced column, on delete).
    foreign_keys: BTreeSet<(String, String, String, String)>,
}

type Schema = BTreeMap<String, Table>;

/// A constraint as pg_constraint gives it: table, name, kind (p, u, f), columns,
/// and for a foreign key its target table, target column and on-delete action.
type ConstraintRow = (
    String,
    String,
    String,
    Vec<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A partial index's predicate, spelled the same way for both dialects.
fn predicate(p: &str) -> String {
    p.to_lowercase()
        .replace("::text", "")
        .replace(['(', ')', ' '], "")
}

async fn sqlite_schema(conn: &mut SqliteConnection) -> Schema {
    let mut schema = Schema::new();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx_%'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    for name in tables {
        let mut t = Table::default();
        let mut pk: Vec<(i64, String)> = Vec::new();
        for row in sqlx::query(&format!("PRAGMA table_info(\"{name}\")"))
            .fetch_all(&mut *conn)
            .await
            .unwrap()
        {
            let column: String = row.get("name");
            let declared: String = row.get("type");
            let not_null: bool = row.get::<i64, _>("notnull") == 1;
            let pk_pos: i64 = row.get("pk");
            let kind = match declared.as_str() {
                "INTEGER" => "int",
                "TEXT" => "text",
                other => panic!("{name}.{column}: unexpected SQLite type {other}"),
            };
            // A primary key column is never null, whatever table_info says of a
            // rowid alias.
            t.columns
                .insert(column.clone(), (kind.into(), !(not_null || pk_pos > 0)));
            if pk_pos > 0 {
                pk.push((pk_pos, column));
            }
        }
        pk.sort();
        t.primary_key = pk.into_iter().map(|(_, c)| c).collect();

        let index_list = sqlx::query(&format!("PRAGMA index_list(\"{name}\")"))
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        for row in index_list {
            let index: String = row.get("name");
            let unique = row.get::<i64, _>("unique") == 1;
            let origin: String = row.get("origin");
            let partial = row.get::<i64, _>("partial") == 1;
            let mut columns = Vec::new();
            for col in sqlx::query(&format!("PRAGMA index_xinfo(\"{index}\")"))
                .fetch_all(&mut *conn)
                .await
                .unwrap()
            {
                if col.get::<i64, _>("key") == 0 {
                    continue;
                }
                let column: Option<String> = col.get("name");
                let column = column.expect("no expression indexes on SQLite");
                let collation: String = col.get("coll");
                let mut spelled = if collation.eq_ignore_ascii_case("NOCASE") {
                    format!("nocase({column})")
                } else {
                    column
                };
                if col.get::<i64, _>("desc") == 1 {
                    spelled.push_str(" desc");
                }
                columns.push(spelled);
            }
            match origin.as_str() {
                "pk" => {}
                "u" => {
                    t.unique.insert(columns);
                }
                _ => {
                    let index_sql: String =
                        sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = ?")
                            .bind(&index)
                            .fetch_one(&mut *conn)
                            .await
                            .unwrap();
                    let where_clause = partial.then(|| {
                        predicate(
                            index_sql
                                .split_once(" WHERE ")
                                .expect("a partial index's WHERE")
                                .1,
                        )
                    });
                    if unique && where_clause.is_none() {
                        t.unique.insert(columns.clone());
                    }
                    t.indexes.insert(index, (unique, columns, where_clause));
                }
            }
        }
        for fk in sqlx::query(&format!("PRAGMA foreign_key_list(\"{name}\")"))
            .fetch_all(&mut *conn)
            .await
            .unwrap()
        {
            t.foreign_keys.insert((
                fk.get("from"),
                fk.get("table"),
                fk.get("to"),
                fk.get::<String, _>("on_delete").to_lowercase(),
            ));
        }
        schema.insert(name, t);
    }
    schema
}

async fn postgres_schema(conn: &mut PgConnection) -> Schema {
    let mut schema = Schema::new();
    let columns: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text \
         FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '\\_sqlx\\_%'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    for (table, column, data_type, nullable) in columns {
        let kind = match data_type.as_str() {
            "bigint" => "int",
            "text" => "text",
            other => panic!("{table}.{column}: unexpected PostgreSQL type {other}"),
        };
        schema
            .entry(table)
            .or_default()
            .columns
            .insert(column, (kind.into(), nullable == "YES"));
    }
    // Constraints: primary keys, unique constraints and foreign keys, with their
    // columns in order.
    let constraints: Vec<ConstraintRow> =
        sqlx::query_as(
            "SELECT c.conrelid::regclass::text, c.conname::text, c.contype::text, \
                    ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i) \
                          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i), \
                    c.confrelid::regclass::text, \
                    (SELECT a.attname::text FROM pg_attribute a \
                     WHERE a.attrelid = c.confrelid AND a.attnum = c.confkey[1]), \
                    c.confdeltype::text \
             FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
             WHERE n.nspname = 'public' AND c.contype IN ('p', 'u', 'f') \
               AND c.conrelid::regclass::text NOT LIKE '\\_sqlx\\_%'",
        )
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    let mut constraint_names = BTreeSet::new();
    for (table, name, kind, cols, target, target_col, on_delete) in constraints {
        let t = schema.entry(table).or_default();
        constraint_names.insert(name);
        match kind.as_str() {
            "p" => t.primary_key = cols,
            "u" => {
                t.unique.insert(cols);
            }
            _ => {
                let on_delete = match on_delete.as_deref() {
                    Some("c") => "cascade",
                    Some("a") => "no action",
                    Some("r") => "restrict",
                    Some("n") => "set null",
                    other => panic!("unexpected on delete {other:?}"),
                };
                t.foreign_keys.insert((
                    cols.into_iter().next().expect("one column"),
                    target.expect("a target"),
                    target_col.expect("a target column"),
                    on_delete.into(),
                ));
            }
        }
    }
    let indexes: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT tablename::text, indexname::text, indexdef::text FROM pg_indexes \
         WHERE schemaname = 'public' AND tablename NOT LIKE '\\_sqlx\\_%'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    for (table, name, def) in indexes {
        if constraint_names.contains(&name) {
            continue;
        }
        let unique = def.starts_with("CREATE UNIQUE INDEX");
        let after = def.split_once(" USING btree (").expect("a btree index").1;
        // The column list ends at the parenthesis that closes the one opened above.
        let mut depth = 1;
        let end = after
            .char_indices()
            .find(|&(_, ch)| {
                depth += match ch {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map(|(i, _)| i)
            .expect("a closed column list");
        let cols = &after[..end];
        let where_clause = after[end + 1..].strip_prefix(" WHERE ").map(predicate);
        let columns: Vec<String> = cols
            .split(", ")
            .map(|c| {
                c.replace("prepbot_nocase(", "nocase(")
                    .replace(" DESC", " desc")
            })
            .collect();
        let t = schema.entry(table).or_default();
        if unique && where_clause.is_none() {
            t.unique.insert(columns.clone());
        }
        t.indexes.insert(name, (unique, columns, where_clause));
    }
    schema
}

#[tokio::test]
async fn sqlite_and_postgresql_build_the_same_schema() {
    let Some(url) = postgres::fresh_database().await else {
        return;
    };
    let mut pg = PgConnection::connect(&url).await.unwrap();
    POSTGRES_MIGRATOR.run(&mut pg).await.unwrap();
    let postgres = postgres_schema(&mut pg).await;

    let (store, dir) = fresh_sqlite_store().await;
    store.close().await;
    let mut lite = SqliteConnection::connect(&format!(
        "sqlite://{}",
        dir.path().join("prepbot.db").display()
    ))
    .await
    .unwrap();
    let sqlite = sqlite_schema(&mut lite).await;

    assert_eq!(
        sqlite.keys().collect::<Vec<_>>(),
        postgres.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    assert!(sqlite.len() >= 7, "{:?}", sqlite.keys());
    for (name, table) in &sqlite {
        assert_eq!(
            table, &postgres[name],
            "table {name}: SQLite left, PostgreSQL right"
        );
    }
    // The reading itself sees what it compares: a partial index, a folded column,
    // a cascade.
    let stats = &sqlite["member_stats"];
    assert!(
        stats.indexes["member_stats_by_total"]
            .1
            .contains(&"nocase(member_name)".to_string())
    );
    assert_eq!(
        sqlite["channels"].indexes["channels_active"].2.as_deref(),
        Some("paused=0")
    );
    assert!(sqlite["answers"].foreign_keys.contains(&(
        "drop_id".into(),
        "drops".into(),
        "id".into(),
        "cascade".into()
    )));
}
