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
    let out = prepbot(&["check", "questions"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("questions: "), "{stdout}");
    assert!(stdout.contains("no problems"));
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
    assert!(text(&out.stderr).starts_with("error: unknown topic `astrology` (topics: apis,"));
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
        "channel 10 (guild 1): daily 09:00 Europe/London, reveal after 8 h, all questions, paused\n  drops: revealed 2"
    );
    // A fresh database (created on the spot) has nothing set up.
    let out = Command::new(env!("CARGO_BIN_EXE_prepbot"))
        .arg("status")
        .env(
            "PREPBOT_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("fresh.db").display()),
        )
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout).trim(),
        "no channel is set up yet (run /setup in a channel)"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_prepbot"))
        .arg("status")
        .env("PREPBOT_DATABASE_URL", "mysql://user:hunter2@db/prepbot")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("is not a SQLite database URL"), "{stderr}");
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
