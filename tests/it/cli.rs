//! The command line as a user meets it: the real binary, its output and exit codes.

use std::process::{Command, Output};

fn prepbot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prepbot"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("PREPBOT_QUESTIONS")
        .args(args)
        .output()
        .expect("run prepbot")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_summarises_the_shipped_bank() {
    let out = prepbot(&["check"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let mut lines = stdout.lines();
    let first = lines.next().unwrap_or_default();
    assert!(
        first.starts_with("reading the shipped bank (") && first.ends_with(" questions, built in)"),
        "it says which bank it read: {stdout}"
    );
    assert!(
        lines
            .next()
            .unwrap_or_default()
            .ends_with("questions, no problems"),
        "{stdout}"
    );
    for label in ["topics:", "difficulty:", "kind:"] {
        assert!(stdout.contains(label), "{stdout}");
    }
}

#[test]
fn show_prints_the_whole_question_and_unknown_ids_are_one_line() {
    let out = prepbot(&["questions", "show", "cap-theorem"]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    for part in [
        "(cap-theorem)",
        "Model answer",
        "What interviewers look for",
        "Common mistakes",
    ] {
        assert!(stdout.contains(part), "missing {part}");
    }
    let out = prepbot(&["questions", "show", "no-such-question"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim(),
        "error: no question with id `no-such-question`; try `prepbot questions search no-such-question`"
    );
}

#[test]
fn random_respects_filters_and_hides_the_answer_by_default() {
    let out = prepbot(&[
        "questions",
        "random",
        "--topic",
        "databases",
        "--difficulty",
        "hard",
        "--seed",
        "3",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("[databases | hard |"), "{stdout}");
    assert!(!stdout.contains("Model answer"));
    let with = prepbot(&[
        "questions",
        "random",
        "--topic",
        "databases",
        "--seed",
        "3",
        "--answer",
    ]);
    assert!(text(&with.stdout).contains("Model answer"));

    let out = prepbot(&["questions", "random", "--topic", "astrology"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .starts_with("error: unknown topic `astrology` (topics: ai-backends, apis,")
    );
    let out = prepbot(&["questions", "random", "--difficulty", "brutal"]);
    assert_eq!(out.status.code(), Some(2), "clap rejects a bad value");
    assert!(text(&out.stderr).contains("possible values: easy, medium, hard"));
}

#[test]
fn search_ranks_and_lists_ids() {
    let out = prepbot(&["questions", "search", "connection", "pool", "--limit", "3"]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 3);
    assert!(
        stdout
            .lines()
            .next()
            .unwrap()
            .starts_with("connection-pooling "),
        "{stdout}"
    );
    let out = prepbot(&["questions", "search", "zzzqqq"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr).trim(), "no question matches `zzzqqq`");
}

#[test]
fn bad_arguments_fail_with_usage_not_a_panic() {
    for args in [
        &["demo", "--days", "0"][..],
        &["demo", "--start", "2026-13-01"],
        &["frobnicate"],
        &["demo", "--seed", "-1"],
    ] {
        let out = prepbot(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.starts_with("error:"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"));
    }
    let out = prepbot(&["demo", "--questions", "/no/such/dir"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("/no/such/dir: cannot read the question bank directory"));
    let out = Command::new(env!("CARGO_BIN_EXE_prepbot"))
        .args(["demo", "--days", "1"])
        .env("PREPBOT_SHIPPED_QUESTIONS", "sometimes")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: PREPBOT_SHIPPED_QUESTIONS must be on or off, not `sometimes`\n"
    );
}

/// Runs the binary in a new, empty directory: no `questions/` beside it.
fn prepbot_elsewhere(args: &[&str], env: &[(&str, &str)]) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_prepbot"))
        .current_dir(dir.path())
        .env_remove("PREPBOT_QUESTIONS")
        .env_remove("PREPBOT_SHIPPED_QUESTIONS")
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("run prepbot");
    (out, dir)
}

#[test]
fn the_demo_and_the_bank_commands_run_from_any_directory() {
    let (out, dir) = prepbot_elsewhere(&["demo", "--days", "2", "--seed", "3"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("=== Leaderboard after 2 drops ==="));
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "the demo leaves nothing in the current directory"
    );
    let (out, _dir) = prepbot_elsewhere(&["questions", "show", "cap-theorem"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("(cap-theorem)"));
    assert!(out.stderr.is_empty(), "the default bank needs no mention");
}

/// A team's pack, one question that replaces the shipped `cap-theorem` and one of its own.
fn team_pack() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (topic, id, title) in [
        ("distributed-systems", "cap-theorem", "CAP, our way"),
        ("our-stack", "our-queue", "Our queue"),
    ] {
        std::fs::create_dir_all(dir.path().join(topic)).unwrap();
        std::fs::write(
            dir.path().join(topic).join(format!("{id}.md")),
            format!(
                "+++\nid = \"{id}\"\ntitle = \"{title}\"\ntopic = \"{topic}\"\ndifficulty = \"easy\"\nkind = \"technical\"\ntags = [\"queues\"]\n+++\n\n## Question\n\nWhy?\n\n## Model answer\n\nBecause.\n\n## What interviewers look for\n\n- a reason\n\n## Common mistakes\n\n- no reason\n"
            ),
        )
        .unwrap();
    }
    dir
}

#[test]
fn packs_go_on_top_of_the_shipped_bank_and_check_says_which_banks_it_read() {
    let pack = team_pack();
    let pack_dir = pack.path().to_str().unwrap();
    let (out, _dir) = prepbot_elsewhere(&["check", pack_dir], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("reading the shipped bank ("),
        "{stdout}"
    );
    assert_eq!(
        lines[1],
        format!("reading the packs at {pack_dir} (2 questions)")
    );
    assert_eq!(
        lines[2],
        format!(
            "  {pack_dir}/distributed-systems/cap-theorem.md replaces the shipped question `cap-theorem`"
        )
    );
    // Through PREPBOT_QUESTIONS too, and the replaced question is the pack's.
    let (out, _dir) = prepbot_elsewhere(
        &["questions", "show", "cap-theorem"],
        &[("PREPBOT_QUESTIONS", pack_dir)],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("CAP, our way"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains(&format!("reading the packs at {pack_dir}")),
        "{}",
        text(&out.stderr)
    );
    // With the shipped bank off, only the pack is read.
    let (out, _dir) = prepbot_elsewhere(
        &["questions", "--no-shipped", "list"],
        &[("PREPBOT_QUESTIONS", pack_dir)],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    let ids: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(ids, ["cap-theorem", "our-queue"]);
    let (out, _dir) = prepbot_elsewhere(&["check"], &[("PREPBOT_SHIPPED_QUESTIONS", "off")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no questions to read: the shipped bank is off"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn status_reads_the_configured_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bot.db");
    let demo = prepbot(&[
        "demo",
        "--days",
        "2",
        "--start",
        "2026-11-23",
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(demo.status.success());
    let out = Command::new(env!("CARGO_BIN_EXE_prepbot"))
        .arg("status")
        .env("PREPBOT_DATABASE_URL", format!("sqlite://{}", db.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        "#study (console terminal 1): daily 09:00 Europe/London, reveal after 8 h, all questions, paused\n  drops: revealed 2"
    );
    // A database that is not there is said to be missing, and is not created (an
    // empty new one would read as lost data).
    let fresh = dir.path().join("fresh.db");
    let out = Command::new(env!("CARGO_BIN_EXE_prepbot"))
        .arg("status")
        .env(
            "PREPBOT_DATABASE_URL",
            format!("sqlite://{}", fresh.display()),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error: there is no database at"),
        "{}",
        text(&out.stderr)
    );
    assert!(!fresh.exists());
    let out = Command::new(env!("CARGO_BIN_EXE_prepbot"))
        .arg("status")
        .env("PREPBOT_DATABASE_URL", "mysql://user:hunter2@db/prepbot")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("is not a database URL prepbot can use"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("hunter2"),
        "credentials never reach an error: {stderr}"
    );
}

#[test]
fn a_closed_output_pipe_is_not_a_panic() {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_prepbot"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["questions", "show", "cap-theorem"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away, as with `| head -1`
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success());
}

/// A demo database with a migration this build does not know, as a newer prepbot leaves it.
async fn newer_database(dir: &std::path::Path) -> std::path::PathBuf {
    use sqlx::Connection;
    let db = dir.join("newer.db");
    let demo = prepbot(&["demo", "--days", "1", "--db", db.to_str().unwrap()]);
    assert!(demo.status.success(), "{}", text(&demo.stderr));
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(20_990_101_i64)
    .bind("from the future")
    .bind(true)
    .bind(vec![0u8; 48])
    .bind(1_i64)
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    db
}

#[tokio::test]
async fn a_database_from_a_newer_prepbot_stops_status_and_run_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = newer_database(dir.path()).await;
    let before = std::fs::read(&db).unwrap();
    let known = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/core/migrations/sqlite"
    ))
    .unwrap()
    .filter_map(|e| {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        name.split('_').next().and_then(|v| v.parse::<i64>().ok())
    })
    .max()
    .unwrap();
    for command in ["status", "run"] {
        let out = Command::new(env!("CARGO_BIN_EXE_prepbot"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .arg(command)
            .env("PREPBOT_DATABASE_URL", format!("sqlite://{}", db.display()))
            .env("DISCORD_TOKEN", "not-a-real-token")
            .env_remove("PREPBOT_QUESTIONS")
            .env_remove("PREPBOT_DEV_GUILD")
            .env_remove("PREPBOT_DISCORD_API_BASE")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{command}");
        assert_eq!(
            text(&out.stderr).trim_end(),
            format!(
                "error: the database sqlite://{} was created by a newer prepbot (schema version 20990101, this build knows up to {known}); upgrade prepbot or use a backup",
                db.display()
            ),
            "{command}"
        );
        assert!(out.stdout.is_empty(), "{command}");
    }
    assert!(
        std::fs::read(&db).unwrap() == before,
        "the file is unchanged"
    );
}

fn with_database(db: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prepbot"))
        .args(args)
        .env("PREPBOT_DATABASE_URL", format!("sqlite://{}", db.display()))
        .output()
        .expect("run prepbot")
}

#[test]
fn backup_copies_the_configured_database_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bot.db");
    let demo = prepbot(&[
        "demo",
        "--days",
        "2",
        "--start",
        "2026-11-23",
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(demo.status.success(), "{}", text(&demo.stderr));
    let copy = dir.path().join("copy.db");

    let out = with_database(&db, &["backup", copy.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(&format!(
            "backed up sqlite://{} to {} (",
            db.display(),
            copy.display()
        )),
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with(" KiB)"), "{stdout}");
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["bot.db", "copy.db"], "no -wal or -shm left behind");
    // The copy is the same bot state.
    let original = with_database(&db, &["status"]);
    let restored = with_database(&copy, &["status"]);
    assert!(restored.status.success(), "{}", text(&restored.stderr));
    assert_eq!(text(&restored.stdout), text(&original.stdout));

    let before = std::fs::read(&copy).unwrap();
    let out = with_database(&db, &["backup", copy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim_end(),
        format!(
            "error: cannot back up to {}: it already exists, and a backup never overwrites anything: choose a new file name",
            copy.display()
        )
    );
    assert!(
        std::fs::read(&copy).unwrap() == before,
        "the old copy is intact"
    );

    let nowhere = dir.path().join("gone").join("copy.db");
    let out = with_database(&db, &["backup", nowhere.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim_end(),
        format!(
            "error: cannot back up to {}: the directory {} does not exist",
            nowhere.display(),
            dir.path().join("gone").display()
        )
    );

    let out = prepbot(&["backup"]);
    assert_eq!(out.status.code(), Some(2), "the path is required");
}

#[test]
fn run_help_lists_every_variable() {
    let out = prepbot(&["run", "--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for v in prepbot_core::config::VARIABLES {
        assert!(
            help.contains(v.name),
            "run --help lacks {}:\n{help}",
            v.name
        );
    }
}

#[test]
fn the_bank_flag_is_questions_everywhere_before_or_after_the_subcommand() {
    let pack = team_pack();
    let pack_dir = pack.path().to_str().unwrap();
    // The same pack, however it is named: each spelling reads it (its own question
    // is listed), the old ones included.
    for args in [
        &["--questions", pack_dir, "questions", "show", "our-queue"][..],
        &["questions", "--questions", pack_dir, "show", "our-queue"],
        &["questions", "show", "our-queue", "--questions", pack_dir],
        &["questions", "--dir", pack_dir, "show", "our-queue"],
    ] {
        let (out, _dir) = prepbot_elsewhere(args, &[]);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert!(text(&out.stdout).starts_with("Our queue"), "{args:?}");
    }
    for args in [
        &["check", "--questions", pack_dir][..],
        &["--questions", pack_dir, "check"],
        &["check", pack_dir],
    ] {
        let (out, _dir) = prepbot_elsewhere(args, &[]);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains(&format!("reading the packs at {pack_dir} (2 questions)")),
            "{args:?}: {}",
            text(&out.stdout)
        );
    }
    // The help names one flag, and not the old spellings.
    for sub in ["demo", "check", "questions", "run"] {
        let out = prepbot(&[sub, "--help"]);
        let help = text(&out.stdout);
        assert!(help.contains("--questions <DIR>"), "{sub}: {help}");
        assert!(!help.contains("--dir"), "{sub}: {help}");
    }
    // Members' commands are on Discord; the command line's help says where.
    let out = prepbot(&["--help"]);
    assert!(text(&out.stdout).contains("/help"), "{}", text(&out.stdout));
}

#[test]
fn bad_values_say_what_is_accepted() {
    let out = prepbot(&["questions", "search", "pool", "--limit", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: invalid value '0' for '--limit <LIMIT>': the limit is how many results to show: at least 1"),
        "{stderr}"
    );
    for bad in ["2026/03/02", "2026-13-01", "tomorrow"] {
        let out = prepbot(&["demo", "--start", bad]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            text(&out.stderr).contains("expected a date as YYYY-MM-DD, e.g. 2026-03-02"),
            "{bad}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn question_ids_ignore_case_and_a_slip_gets_a_suggestion() {
    let out = prepbot(&["questions", "show", "CAP-Theorem"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("(cap-theorem)"));
    let out = prepbot(&["questions", "show", "cap-theorm"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .starts_with("error: no question with id `cap-theorm`; did you mean `cap-theorem`?"),
        "{}",
        text(&out.stderr)
    );
    let out = prepbot(&["questions", "show", "zzqqxx-nothing-like-it"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !text(&out.stderr).contains("did you mean"),
        "{}",
        text(&out.stderr)
    );
}
