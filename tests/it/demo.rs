//! `prepbot demo`: the scripted habits must produce exact streaks, through the
//! library entry and through the real binary.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use prepbot::console::Detail;
use prepbot::demo::{DemoOptions, run};
use prepbot_core::bank::QuestionBank;

fn bank() -> Arc<QuestionBank> {
    Arc::new(
        QuestionBank::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("questions")).expect("bank"),
    )
}

async fn demo(days: u32, seed: u64, start: &str) -> (Vec<(String, u32, u32, u32)>, String) {
    demo_with(days, seed, start, Detail::Full).await
}

async fn demo_with(
    days: u32,
    seed: u64,
    start: &str,
    detail: Detail,
) -> (Vec<(String, u32, u32, u32)>, String) {
    let buf = Arc::new(Mutex::new(Vec::<u8>::new()));
    let report = run(
        DemoOptions {
            days,
            seed,
            db: None,
            start: NaiveDate::parse_from_str(start, "%Y-%m-%d").unwrap(),
            detail,
        },
        bank(),
        buf.clone(),
    )
    .await
    .expect("demo runs");
    assert_eq!(report.drops_posted, days as usize);
    assert_eq!(report.drops_revealed, days as usize);
    let table = report
        .leaderboard
        .iter()
        .map(|r| (r.member_name.clone(), r.current, r.best, r.total_on_time))
        .collect();
    let out = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
    (table, out)
}

fn row(name: &str, current: u32, best: u32, total: u32) -> (String, u32, u32, u32) {
    (name.to_string(), current, best, total)
}

#[tokio::test]
async fn seven_days_produce_the_streaks_the_habits_imply() {
    let (table, out) = demo(7, 42, "2026-11-23").await;
    // Ada answers all 7; Ben skips drop 3 (then 4..7 in a row); Cy is late on drop 5.
    assert_eq!(
        table,
        [row("Ada", 7, 7, 7), row("Ben", 4, 4, 6), row("Cy", 2, 4, 6)]
    );
    assert_eq!(out.matches("=== Drop #").count(), 7);
    assert_eq!(out.matches("--- Reveal #").count(), 7);
    assert!(out.contains("Model answer\n~~~~~~~~~~~~"));
    assert!(out.contains("What interviewers look for"));
    assert!(out.contains("Common mistakes"));
    assert!(out.contains("(late: after the reveal)"));
    assert!(
        out.contains("2 members answered on time: Ada, Ben."),
        "drop 5's summary"
    );
    assert!(out.contains("Ben deleted a message (their other answer still counts)"));
    assert!(out.contains("=== Leaderboard after 7 drops ==="));
}

#[tokio::test]
async fn by_default_the_demo_is_compact_plain_and_ends_with_what_next() {
    let (table, out) = demo_with(7, 42, "2026-11-23", Detail::Compact).await;
    let (full_table, full) = demo(7, 42, "2026-11-23").await;
    assert_eq!(table, full_table, "the same week, printed differently");
    assert!(
        out.len() * 2 < full.len(),
        "compact ({} bytes) is well under half of --full ({} bytes)",
        out.len(),
        full.len()
    );
    assert_eq!(out.matches("=== Drop #").count(), 7);
    assert_eq!(out.matches("--- Reveal #").count(), 7);
    // Each reveal's model answer is cut, and says how to see the rest.
    assert_eq!(out.matches("Model answer (first ").count(), 7, "{out}");
    assert_eq!(
        out.matches("(The whole reveal, with follow-ups and tips: prepbot questions show ")
            .count(),
        7
    );
    assert!(
        !out.contains("Follow-ups\n~~~"),
        "follow-ups only with --full"
    );
    assert!(full.contains("Follow-ups\n~~~"));
    // No raw Markdown, in either mode.
    for text in [&out, &full] {
        assert!(!text.contains("**"), "bold markers");
        assert!(!text.contains('`'), "backticks");
    }
    // No name said twice ("Ada: Ada on ...").
    for name in ["Ada", "Ben", "Cy"] {
        assert!(!out.contains(&format!("{name}: {name}")), "{out}");
        assert!(!out.contains(&format!("{name} on \"")), "{out}");
    }
    // No label repeated beside a title ("[behavioral | medium | behavioral]").
    for line in out
        .lines()
        .filter(|l| l.contains("]  (") && l.ends_with(')'))
    {
        let labels = line
            .rsplit_once("]  (")
            .and_then(|(head, _)| head.rsplit_once("  ["))
            .map(|(_, labels)| labels)
            .unwrap_or_else(|| panic!("labels in {line}"));
        let mut seen: Vec<&str> = labels.split(" | ").collect();
        let n = seen.len();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), n, "{line}");
    }
    let next = out
        .split("What next\n~~~~~~~~~\n")
        .nth(1)
        .expect("ends with what next");
    for hint in [
        "prepbot questions show ",
        "prepbot questions random",
        "prepbot demo --full",
        "prepbot run",
        "docs/SLACK.md",
    ] {
        assert!(next.contains(hint), "{hint}: {next}");
    }
    assert!(!full.contains("prepbot demo --full"), "not offered again");
}

/// A section the demo sends the reader to must be there under that name: a
/// renamed heading leaves the advice pointing nowhere.
#[tokio::test]
async fn every_readme_section_the_demo_names_exists() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let headings: Vec<&str> = readme
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| l.trim_start_matches('#').trim())
        .collect();
    for detail in [Detail::Compact, Detail::Full] {
        let (_, out) = demo_with(3, 42, "2026-11-23", detail).await;
        let named: Vec<&str> = out
            .split("README's \"")
            .skip(1)
            .map(|rest| rest.split_once('"').expect("a closing quote").0)
            .collect();
        assert!(!named.is_empty(), "the demo names a README section");
        for section in named {
            assert!(
                headings.contains(&section),
                "the demo names the README section \"{section}\", which is not among {headings:?}"
            );
        }
    }
}

#[tokio::test]
async fn the_seed_decides_the_questions_and_no_question_repeats() {
    let (_, a) = demo(7, 42, "2026-11-23").await;
    let (_, b) = demo(7, 42, "2026-11-23").await;
    let (_, c) = demo(7, 7, "2026-11-23").await;
    let ids = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| l.contains("]  (") && l.ends_with(')'))
            .filter_map(|l| {
                l.rsplit_once("(")
                    .map(|(_, id)| id.trim_end_matches(')').to_string())
            })
            .collect()
    };
    assert_eq!(ids(&a).len(), 7);
    assert_eq!(ids(&a), ids(&b));
    assert_ne!(ids(&a), ids(&c));
    let mut unique = ids(&a);
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 7);
}

#[tokio::test]
async fn a_short_demo_ends_with_fewer_drops() {
    let (table, out) = demo(2, 1, "2027-03-27").await; // across the London spring-forward
    assert_eq!(
        table,
        [row("Ada", 2, 2, 2), row("Ben", 2, 2, 2), row("Cy", 2, 2, 2)]
    );
    // 09:00 local on both sides of the clock change, and the reveal 8 real hours later.
    assert!(
        out.contains("=== Drop #1 | Sat 2027-03-27 09:00 GMT ==="),
        "{out}"
    );
    assert!(
        out.contains("=== Drop #2 | Sun 2027-03-28 09:00 BST ==="),
        "{out}"
    );
    assert!(out.contains("| Sun 2027-03-28 17:00 BST ---"), "{out}");
}

#[test]
fn the_binary_runs_the_demo_without_a_token_or_network() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let out = Command::new(env!("CARGO_BIN_EXE_prepbot"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("DISCORD_TOKEN")
        .args([
            "demo",
            "--days",
            "3",
            "--seed",
            "5",
            "--start",
            "2026-11-23",
            "--db",
        ])
        .arg(&db)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("=== Leaderboard after 3 drops ==="));
    assert!(
        stdout.contains("1    Ada            3     3        3"),
        "{stdout}"
    );
    assert!(db.exists(), "--db keeps the database");
    assert!(
        stdout.contains("Model answer (first "),
        "compact by default"
    );
    let full = Command::new(env!("CARGO_BIN_EXE_prepbot"))
        .args(["demo", "--days", "1", "--seed", "5", "--full"])
        .output()
        .unwrap();
    let full_out = String::from_utf8_lossy(&full.stdout);
    assert!(full.status.success());
    assert!(full_out.contains("Model answer\n~~~"), "{full_out}");
    assert!(!full_out.contains("(first "), "{full_out}");
    // A second run refuses to reuse it, with one clear line.
    let again = Command::new(env!("CARGO_BIN_EXE_prepbot"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["demo", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("already exists: the demo needs a fresh database"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
