//! `prepbot status` on a database it may not write: as a user the permission bits bind,
//! it says so in one line and leaves the file as it was.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use prepbot_core::store::Store;

/// Root ignores permission bits: as root, the test runs prepbot as `nobody`.
fn running_as_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

const NOBODY: u32 = 65534;

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// `prepbot status` as a user the permission bits bind: ourselves, or `nobody` as root.
fn status_as_unprivileged(db: &Path) -> Output {
    let bin = env!("CARGO_BIN_EXE_prepbot");
    let mut cmd = if running_as_root() {
        let mut c = Command::new("setpriv");
        c.args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
            bin,
        ]);
        c
    } else {
        Command::new(bin)
    };
    cmd.arg("status")
        .env("PREPBOT_DATABASE_URL", format!("sqlite://{}", db.display()))
        .current_dir("/")
        .output()
        .expect("run prepbot (as root, through setpriv from util-linux)")
}

/// Lets the unprivileged runner write `path` (as root: hands it to `nobody`).
fn give_to_runner(path: &Path) {
    if running_as_root() {
        std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY)).unwrap();
    }
}

/// Takes write access from the unprivileged runner (as root: it stays root's, mode 755/644).
fn take_from_runner(path: &Path) {
    if running_as_root() {
        set_mode(path, if path.is_dir() { 0o755 } else { 0o644 });
    } else {
        set_mode(path, if path.is_dir() { 0o555 } else { 0o444 });
    }
}

#[tokio::test]
async fn prepbot_status_names_a_read_only_file_or_directory_in_one_line() {
    for case in ["file", "directory"] {
        let top = tempfile::tempdir().unwrap();
        set_mode(top.path(), 0o755);
        let dir = top.path().join(case);
        fs::create_dir(&dir).unwrap();
        let path = dir.join("prepbot.db");
        let store = Store::open_path(&path).await.unwrap();
        store.close().await;
        let bytes = fs::read(&path).unwrap();
        if case == "file" {
            give_to_runner(&dir);
            take_from_runner(&path);
        } else {
            give_to_runner(&path);
            take_from_runner(&dir);
        }

        let out = status_as_unprivileged(&path);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{case}: {stderr}");
        assert_eq!(
            stderr.trim_end(),
            format!(
                "error: the database sqlite://{} is read-only for prepbot: make the file and its directory writable by the user prepbot runs as (SQLite writes -wal and -shm files beside it)",
                path.display()
            ),
            "{case}"
        );
        assert!(
            fs::read(&path).unwrap() == bytes,
            "{case}: the file is unchanged"
        );
        set_mode(&dir, 0o755);
    }
}

/// The real binary, from `/`, as ourselves.
fn prepbot(args: &[&str], db: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prepbot"))
        .args(args)
        .env("PREPBOT_DATABASE_URL", format!("sqlite://{}", db.display()))
        .env_remove("PREPBOT_QUESTIONS")
        .current_dir("/")
        .output()
        .expect("run prepbot")
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn prepbot_status_on_a_missing_database_says_so_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prepbot.db");
    let out = prepbot(&["status"], &path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: there is no database at sqlite://{}: prepbot creates it on its first `prepbot run`; check PREPBOT_DATABASE_URL",
            path.display()
        )
    );
    assert!(
        names_in(dir.path()).is_empty(),
        "{:?}",
        names_in(dir.path())
    );
}

#[test]
fn a_new_database_in_a_missing_directory_is_named_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("not-yet");
    let path = missing.join("demo.db");
    let out = prepbot(
        &["demo", "--days", "1", "--db", path.to_str().unwrap()],
        &path,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: cannot create the database {}: the directory {} does not exist; create it, writable by the user prepbot runs as",
            path.display(),
            missing.display()
        )
    );
    assert!(!missing.exists());
}

#[test]
fn a_new_database_in_a_directory_prepbot_may_not_write_gets_the_read_only_line() {
    let top = tempfile::tempdir().unwrap();
    set_mode(top.path(), 0o755);
    let dir = top.path().join("locked");
    fs::create_dir(&dir).unwrap();
    take_from_runner(&dir);
    let path = dir.join("demo.db");
    let bin = env!("CARGO_BIN_EXE_prepbot");
    let mut cmd = if running_as_root() {
        let mut c = Command::new("setpriv");
        c.args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
            bin,
        ]);
        c
    } else {
        Command::new(bin)
    };
    let out = cmd
        .args(["demo", "--days", "1", "--db", path.to_str().unwrap()])
        .env_remove("PREPBOT_QUESTIONS")
        .current_dir("/")
        .output()
        .expect("run prepbot");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: the database {} is read-only for prepbot: make the file and its directory writable by the user prepbot runs as (SQLite writes -wal and -shm files beside it)",
            path.display()
        )
    );
    assert!(names_in(&dir).is_empty(), "{:?}", names_in(&dir));
    set_mode(&dir, 0o755);
}

/// `prepbot status` on a file from before neutral identity (schema 8) upgrades it,
/// taking a copy first: the one line saying where that copy is shows at the default
/// log level, since a file the size of the database has just appeared.
#[tokio::test]
async fn an_upgrade_names_its_safety_copy_at_the_default_log_level() {
    use sqlx::Connection as _;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&db)
        .create_if_missing(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap();
    sqlx::raw_sql(include_str!(
        "../../crates/core/tests/fixtures/pre_identity.sql"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_prepbot"))
        .arg("status")
        .env("PREPBOT_DATABASE_URL", format!("sqlite://{}", db.display()))
        .env_remove("PREPBOT_QUESTIONS")
        .env_remove("RUST_LOG")
        .current_dir("/")
        .output()
        .expect("run prepbot");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let copy = dir.path().join("old.db.v8-before-v9");
    assert!(copy.is_file());
    let said: Vec<&str> = err.lines().collect();
    assert_eq!(said.len(), 1, "{err}");
    assert!(
        said[0].contains("the database was upgraded")
            && said[0].contains(&copy.display().to_string()),
        "{err}"
    );
}
