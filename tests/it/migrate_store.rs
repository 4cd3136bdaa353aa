//! `prepbot migrate-store` as an operator runs it (issue 13): the demo's database
//! moved into PostgreSQL by the real binary, one line per table, `prepbot status`
//! the same on both, and the password of the target's URL in no output.

use std::path::Path;
use std::process::{Command, Output};

use prepbot_core::store::redact_url;
use prepbot_testkit::postgres;
use sqlx::{Connection, SqliteConnection};

/// Any password works on the test server (it trusts local connections); what
/// matters is that it is never printed.
const PASSWORD: &str = "s3cret-Pw-9f2";

fn prepbot(args: &[&str], database: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_prepbot"));
    cmd.args(args)
        .env_remove("PREPBOT_QUESTIONS")
        .env_remove("PREPBOT_DATABASE_URL")
        .current_dir("/");
    if let Some(url) = database {
        cmd.env("PREPBOT_DATABASE_URL", url);
    }
    cmd.output().expect("run prepbot")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `postgres://user@host/db` with a password for the user.
fn with_password(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (user, host) = rest.split_once('@').expect("a user in the test URL");
    format!("{scheme}://{user}:{PASSWORD}@{host}")
}

fn assert_no_password(out: &Output) {
    for stream in [&out.stdout, &out.stderr] {
        assert!(!text(stream).contains(PASSWORD), "{}", text(stream));
    }
}

/// Rows per table of the SQLite file, the ones migrate-store copies.
async fn counts(path: &Path) -> Vec<(String, i64)> {
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' \
         AND name NOT IN ('_sqlx_migrations', 'processes') ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut out = Vec::new();
    for t in tables {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {t}"))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        out.push((t, n));
    }
    conn.close().await.unwrap();
    out
}

#[tokio::test]
async fn the_demo_moves_to_postgresql_and_status_reads_the_same_there() {
    let Some(url) = postgres::fresh_database().await else {
        return;
    };
    let to = with_password(&url);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let out = prepbot(
        &[
            "demo",
            "--days",
            "5",
            "--db",
            db.to_str().unwrap(),
            "--start",
            "2026-03-02",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let from = format!("sqlite://{}", db.display());
    let counts = counts(&db).await;
    assert!(
        counts.iter().any(|(t, n)| t == "answers" && *n > 5),
        "{counts:?}"
    );

    let before = std::fs::read(&db).unwrap();
    let out = prepbot(&["migrate-store", "--from", &from, "--to", &to], None);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_no_password(&out);
    // The source as it was, with no -wal or -shm left beside it.
    assert_eq!(std::fs::read(&db).unwrap(), before);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["demo.db"]);
    // This build's newest schema versions.
    let (sqlite, postgres) = *prepbot_core::store::copy::SCHEMA_PAIRS.last().unwrap();
    assert_eq!(
        stdout.lines().next().unwrap(),
        format!(
            "copied {from} (SQLite schema {sqlite}) into {} (PostgreSQL schema {postgres}):",
            redact_url(&to)
        )
    );
    for (table, n) in &counts {
        let line = format!("  {table}: {n} row{}", if *n == 1 { "" } else { "s" });
        assert!(stdout.lines().any(|l| l == line), "{line} in:\n{stdout}");
    }
    assert!(stdout.contains("  processes: not copied"), "{stdout}");
    // The demo deletes no drop: the next id is one past their count.
    let drops = counts.iter().find(|(t, _)| t == "drops").unwrap().1;
    assert!(
        stdout.contains("sequences set (the next id each hands out): ")
            && stdout.contains(&format!("drops.id from {}", drops + 1)),
        "{stdout}"
    );
    assert!(stdout.contains("verified: "), "{stdout}");

    // `prepbot status` reads the same on both.
    let on_sqlite = prepbot(&["status"], Some(&from));
    let on_postgres = prepbot(&["status"], Some(&to));
    assert!(on_sqlite.status.success(), "{}", text(&on_sqlite.stderr));
    assert!(
        on_postgres.status.success(),
        "{}",
        text(&on_postgres.stderr)
    );
    assert_no_password(&on_postgres);
    assert!(text(&on_sqlite.stdout).contains("#study"));
    assert_eq!(text(&on_postgres.stdout), text(&on_sqlite.stdout));

    // Again into the same database: refused in one line, still without the password.
    let out = prepbot(&["migrate-store", "--from", &from, "--to", &to], None);
    assert_eq!(out.status.code(), Some(1));
    assert_no_password(&out);
    assert!(out.stdout.is_empty());
    assert_eq!(
        text(&out.stderr).trim_end(),
        format!(
            "error: the target {} is not empty (table answers has rows): migrate-store copies only into an empty database; create a new one (createdb) and point --to at it",
            redact_url(&to)
        )
    );

    // `prepbot backup` on PostgreSQL points at pg_dump.
    let copy = dir.path().join("copy.db");
    let out = prepbot(&["backup", copy.to_str().unwrap()], Some(&to));
    assert_eq!(out.status.code(), Some(1));
    assert_no_password(&out);
    assert_eq!(
        text(&out.stderr).trim_end(),
        format!(
            "error: cannot back up to {}: the database is PostgreSQL: back it up with pg_dump",
            copy.display()
        )
    );
    assert!(!copy.exists());
}

#[test]
fn a_missing_source_is_one_line_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("old.db");
    let from = format!("sqlite://{}", missing.display());
    // Never reached: the source is checked first.
    let to = format!("postgres://prepbot:{PASSWORD}@127.0.0.1:1/nowhere");
    let out = prepbot(&["migrate-store", "--from", &from, "--to", &to], None);
    assert_eq!(out.status.code(), Some(1));
    assert_no_password(&out);
    assert_eq!(
        text(&out.stderr).trim_end(),
        format!(
            "error: there is no SQLite database at {from}: check --from (migrate-store never creates or changes the source)"
        )
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn help_describes_migrate_store() {
    let out = prepbot(&["--help"], None);
    assert!(out.status.success());
    let listed = text(&out.stdout);
    assert!(
        listed.lines().any(|l| l.trim_start().starts_with(
            "migrate-store  Copy the bot's SQLite database into a new, empty PostgreSQL database"
        )),
        "{listed}"
    );
    let out = prepbot(&["migrate-store", "--help"], None);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for part in [
        "Usage: prepbot migrate-store [OPTIONS] --from <URL> --to <URL>",
        "--from <URL>",
        "--to <URL>",
        "Stop the bot first",
        "checksums",
        "PGPASSWORD",
        "docs/POSTGRES.md",
    ] {
        assert!(help.contains(part), "{part} in:\n{help}");
    }
}
