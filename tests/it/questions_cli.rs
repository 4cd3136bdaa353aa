//! `prepbot questions list` and `search` on the shipped bank, through the binary.

use std::path::Path;

use prepbot_core::bank::{Kind, QuestionBank};

fn bank() -> QuestionBank {
    QuestionBank::load(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("questions")
            .as_path(),
    )
    .unwrap_or_else(|e| panic!("the shipped bank must load:\n{e}"))
}

fn prepbot(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_prepbot"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("PREPBOT_QUESTIONS")
        .output()
        .expect("run prepbot");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn questions_list_shows_a_whole_topic_and_search_ranks_it_first() {
    let bank = bank();
    let caching: Vec<&str> = bank
        .all()
        .iter()
        .filter(|q| q.topic == "caching")
        .map(|q| q.id.as_str())
        .collect();
    let (ok, stdout, stderr) = prepbot(&["questions", "list", "--topic", "caching"]);
    assert!(ok, "{stderr}");
    let listed: Vec<&str> = stdout
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(listed, caching);

    let (ok, stdout, _) = prepbot(&[
        "questions",
        "search",
        "caching",
        "--limit",
        &caching.len().to_string(),
    ]);
    assert!(ok);
    for line in stdout.lines() {
        assert!(line.contains(" caching "), "{stdout}");
    }

    let (ok, _, stderr) = prepbot(&["questions", "list", "--topic", "astrology"]);
    assert!(!ok);
    assert!(
        stderr.starts_with("error: unknown topic `astrology`"),
        "{stderr}"
    );
    let (ok, stdout, _) = prepbot(&["questions", "list", "--kind", "culture-fit"]);
    assert!(ok);
    assert_eq!(
        stdout.lines().count(),
        bank.all()
            .iter()
            .filter(|q| q.kind == Kind::CultureFit)
            .count()
    );
}
