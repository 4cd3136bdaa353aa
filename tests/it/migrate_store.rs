//! `prepbot migrate-store` as an operator runs it (issue 13): the demo's database
//! moved into PostgreSQL by the real binary, one line per table, `prepbot status`
//! the same on both, and the password of the target's URL in no output.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use prepbot_core::store::redact_url;
use prepbot_fake_discord::FakeDiscord;
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

/// As the docs have it, the target is owned by the bot's role, which is no
/// superuser: the statistics are gathered for the copied tables without a
/// warning about the shared catalogues only a superuser may analyze.
#[tokio::test]
async fn a_plain_owner_gets_the_statistics_and_no_warnings() {
    let Some(url) = postgres::fresh_database().await else {
        return;
    };
    let (_, name) = url.rsplit_once('/').unwrap();
    let owner = format!("{name}_owner");
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    // Names made by the test of letters, digits and underscores: nothing to bind.
    for statement in [
        format!("CREATE ROLE {owner} LOGIN NOSUPERUSER"),
        format!("ALTER DATABASE {name} OWNER TO {owner}"),
        format!("ALTER SCHEMA public OWNER TO {owner}"),
    ] {
        sqlx::query(&statement).execute(&mut admin).await.unwrap();
    }
    let to = url.replacen(
        &format!("{}@", postgres::user(&url)),
        &format!("{owner}:{PASSWORD}@"),
        1,
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let out = prepbot(&["demo", "--days", "3", "--db", db.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let from = format!("sqlite://{}", db.display());
    let out = Command::new(env!("CARGO_BIN_EXE_prepbot"))
        .args(["migrate-store", "--from", &from, "--to", &to])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_no_password(&out);
    assert_eq!(text(&out.stderr), "", "nothing logged by default");
    assert!(
        text(&out.stdout).contains("\nvacuumed, statistics gathered (VACUUM ANALYZE)\n"),
        "{}",
        text(&out.stdout)
    );
    let unanalyzed: Vec<String> = sqlx::query_scalar(
        "SELECT relname::text FROM pg_stat_user_tables \
         WHERE (last_analyze IS NULL OR last_vacuum IS NULL) AND relname NOT IN ('_sqlx_migrations', 'processes') \
         ORDER BY relname",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(unanalyzed, Vec::<String>::new());
}

/// The processes registered in a SQLite file: id, host, pid.
async fn registered(path: &Path) -> Vec<(String, String, i64)> {
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let rows = sqlx::query_as("SELECT id, host, pid FROM processes")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    rows
}

/// A bot still heartbeating on the source would keep writing after the snapshot,
/// and that would be lost: refused in one line naming it. Once it is killed and its
/// heartbeat has lapsed, it no longer stands in the way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_still_running_on_the_source_is_refused_and_a_dead_one_is_not() {
    let fake = FakeDiscord::start(Arc::new(prepbot_core::clock::SystemClock)).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    let from = format!("sqlite://{}", db.display());
    // The target is checked only after the source: a server that is not there
    // does as well as a real one for the refusal.
    let fresh = postgres::fresh_database().await;
    let to = fresh
        .as_deref()
        .map(with_password)
        .unwrap_or_else(|| format!("postgres://prepbot:{PASSWORD}@127.0.0.1:1/nowhere"));
    let mut bot = Command::new(env!("CARGO_BIN_EXE_prepbot"))
        .arg("run")
        .env_remove("PREPBOT_QUESTIONS")
        .env("DISCORD_TOKEN", "a.b.c")
        .env("PREPBOT_DISCORD_API_BASE", fake.base())
        .env("PREPBOT_DATABASE_URL", &from)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    fake.wait_identified(Duration::from_secs(30)).await;
    let procs = registered(&db).await;
    assert_eq!(procs.len(), 1, "{procs:?}");
    let (id, host, pid) = &procs[0];
    assert_eq!(*pid, i64::from(bot.id()));

    let out = prepbot(&["migrate-store", "--from", &from, "--to", &to], None);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_no_password(&out);
    assert!(out.stdout.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    for part in [
        format!("error: a bot is still running on the source {from} (process "),
        format!("{} on {host} (pid {pid}), heard ", &id[..8]),
        "stop the bot first".to_string(),
    ] {
        assert!(err.contains(&part), "{part} in {err}");
    }
    if let Some(url) = &fresh {
        // Refused before the target was touched: not even migrated.
        let mut pg = sqlx::PgConnection::connect(url).await.unwrap();
        let tables: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()",
        )
        .fetch_one(&mut pg)
        .await
        .unwrap();
        assert_eq!(tables, 0);
    }

    // Killed, and its heartbeat lapsed (moved back rather than waited for).
    bot.kill().unwrap();
    bot.wait().unwrap();
    let mut conn = SqliteConnection::connect(&from).await.unwrap();
    sqlx::query("UPDATE processes SET heard_at = heard_at - 31")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let out = prepbot(&["migrate-store", "--from", &from, "--to", &to], None);
    let err = text(&out.stderr);
    assert_no_password(&out);
    if fresh.is_some() {
        assert!(out.status.success(), "{err}");
        assert!(
            text(&out.stdout).contains("  processes: not copied (1 row;"),
            "{}",
            text(&out.stdout)
        );
    } else {
        assert!(err.contains("cannot connect to the target"), "{err}");
    }
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

/// A URL of the wrong kind or a malformed one is a usage error, as the README
/// has it: exit 2, one line, nothing opened or created, no password shown.
#[test]
fn a_bad_url_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.db");
    let lite = format!("sqlite://{}", file.display());
    let pg = format!("postgres://prepbot:{PASSWORD}@127.0.0.1:1/nowhere");
    let cases = [
        (
            file.display().to_string(),
            pg.clone(),
            "error: --from must be a SQLite database URL such as sqlite://path/to/prepbot.db, not ",
        ),
        (
            pg.clone(),
            pg.clone(),
            "error: --from must be a SQLite database URL",
        ),
        (
            lite.clone(),
            lite.clone(),
            "error: --to must be a PostgreSQL database URL such as postgres://user@host/database, not ",
        ),
        (
            lite.clone(),
            format!("postgres://prepbot:{PASSWORD}@127.0.0.1:notaport/db"),
            "error: `postgres://***@127.0.0.1:notaport/db` is not a database URL prepbot can use",
        ),
    ];
    for (from, to, said) in cases {
        let out = prepbot(&["migrate-store", "--from", &from, "--to", &to], None);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{from} {to}: {err}");
        assert_no_password(&out);
        assert!(err.starts_with(said), "{said} in {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(out.stdout.is_empty());
    }
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
