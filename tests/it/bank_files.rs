//! Loading banks from disk: the layout rules, `path:line` errors and tag rules
//! (enforced in a bank with its own `tags.toml`, warned about in a pack), through
//! the library and through the real `prepbot check` binary.

use std::fs;
use std::path::Path;
use std::process::Command;

use prepbot_core::bank::QuestionBank;

fn good(id: &str, topic: &str) -> String {
    format!(
        "+++\nid = \"{id}\"\ntitle = \"Title {id}\"\ntopic = \"{topic}\"\ndifficulty = \"easy\"\nkind = \"technical\"\ntags = [\"postgres\", \"indexing\"]\n+++\n\n\
         ## Question\n\nWhat about {id}?\n\n## Model answer\n\nThis.\n\n## What interviewers look for\n\n- one\n- two\n- three\n\n\
         ## Common mistakes\n\n- a\n- b\n"
    )
}

fn write(root: &Path, rel: &str, text: impl AsRef<[u8]>) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// `prepbot check DIR` on the pack alone (these tests are about a bank's own rules;
/// `tests/it/cli.rs` checks a pack on top of the shipped bank).
fn check(dir: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_prepbot"))
        .args(["check", "--no-shipped"])
        .arg(dir)
        .output()
        .expect("run prepbot");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn documentation_files_and_non_markdown_files_are_ignored_by_rule() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "README.md", "# Our bank\nnot a question");
    write(root, "LICENSE", "MIT");
    write(root, "caching/README.md", "notes about the topic");
    write(root, "caching/diagram.png", [0xff, 0xd8, 0x00]);
    write(root, "caching/.draft.md", "half-written");
    write(root, ".git/config", "[core]");
    write(root, "caching/cache-one.md", good("cache-one", "caching"));
    let bank = QuestionBank::load(root).unwrap();
    assert_eq!(bank.len(), 1);
    let (code, stdout, stderr) = check(root);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with(&format!(
            "reading the packs at {} (1 question)\n1 question, no problems",
            root.display()
        )),
        "{stdout}"
    );
    assert!(stdout.contains("topics:     caching 1"), "{stdout}");
}

#[test]
fn every_problem_in_every_file_is_reported_with_path_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "caching/fine.md", good("fine", "caching"));
    // Bad TOML on line 3.
    write(
        root,
        "caching/broken-toml.md",
        good("broken-toml", "caching").replace("title = \"Title broken-toml\"", "title = broken"),
    );
    // Unknown field, wrong topic, unknown section, empty required section.
    write(
        root,
        "databases/messy.md",
        good("messy", "databases")
            .replace(
                "tags = [\"postgres\", \"indexing\"]",
                "tags = [\"postgres\", \"indexing\"]\nauthor = \"me\"",
            )
            .replace("topic = \"databases\"", "topic = \"caching\"")
            .replace(
                "## Model answer\n\nThis.\n",
                "## Model answer\n\n## Notes\n\nstuff\n",
            ),
    );
    // Duplicate id across folders (the file name matches, the folder differs).
    write(root, "apis/fine.md", good("fine", "apis"));
    // A bullet section without bullets.
    write(
        root,
        "apis/no-bullets.md",
        good("no-bullets", "apis").replace("- a\n- b\n", "Mistakes are described in prose here.\n"),
    );
    // Not UTF-8 on line 12.
    let mut bytes = good("latin1", "apis").into_bytes();
    let at = String::from_utf8(bytes.clone())
        .unwrap()
        .find("What about")
        .unwrap();
    bytes[at] = 0xe9;
    write(root, "apis/latin1.md", bytes);
    // Nested folder.
    write(root, "apis/v2/deep.md", good("deep", "apis"));

    let errors = QuestionBank::load(root).unwrap_err();
    let lines: Vec<String> = errors.0.iter().map(|e| e.to_string()).collect();
    let p = |rel: &str| root.join(rel).display().to_string();
    let expected = [
        format!(
            "{}:2: duplicate id `fine`: already used by {}",
            p("caching/fine.md"),
            p("apis/fine.md")
        ),
        format!(
            "{}:12: the file is not valid UTF-8 (first bad byte at column 1); save it as UTF-8",
            p("apis/latin1.md")
        ),
        format!(
            "{}:26: section `## Common mistakes` is a bullet list: start each item with `- ` and indent continuation lines by two spaces",
            p("apis/no-bullets.md")
        ),
        format!(
            "{}: nested folder: question files live directly in a topic folder (`<topic>/<id>.md`)",
            p("apis/v2")
        ),
        format!(
            "{}:3: invalid TOML in the front matter:",
            p("caching/broken-toml.md")
        ),
        format!(
            "{}:4: topic `caching` does not match its folder `databases`",
            p("databases/messy.md")
        ),
        format!(
            "{}:8: unknown field `author` (expected: id, title, topic, difficulty, kind, tags)",
            p("databases/messy.md")
        ),
        format!(
            "{}:15: section `## Model answer` is required and empty",
            p("databases/messy.md")
        ),
        format!("{}:17: unknown section `## Notes`", p("databases/messy.md")),
    ];
    for want in &expected {
        assert!(
            lines.iter().any(|l| l.starts_with(want.as_str())),
            "missing {want:?} in\n{}",
            lines.join("\n")
        );
    }
    assert_eq!(lines.len(), expected.len(), "{}", lines.join("\n"));

    let (code, stdout, stderr) = check(root);
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    for want in &expected {
        assert!(
            stderr.contains(want.as_str()),
            "stderr lacks {want:?}:\n{stderr}"
        );
    }
    assert!(
        stderr
            .trim_end()
            .ends_with(&format!("has {} problems", expected.len())),
        "{stderr}"
    );
}

#[test]
fn a_missing_or_empty_bank_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = check(&dir.path().join("nope"));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("cannot read the question bank directory"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"));
    let (code, _, stderr) = check(dir.path());
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no questions found: expected files at `<topic>/<id>.md`"),
        "{stderr}"
    );
}

/// A shipped-style bank (`tags.toml` beside the topics) with one file whose tags
/// break every rule, and one that uses aliases.
fn strict_bank(root: &Path) {
    write(
        root,
        "tags.toml",
        "[technology]\npostgres = [\"pg\", \"postgresql\"]\nredis = []\n\n\
         [concept]\nindexing = [\"indexes\"]\ncaching = [\"cache\"]\n",
    );
    write(
        root,
        "databases/aliased.md",
        good("aliased", "databases").replace(
            "tags = [\"postgres\", \"indexing\"]",
            "tags = [\"pg\", \"indexes\", \"postgresql\"]",
        ),
    );
    write(
        root,
        "caching/bad-tags.md",
        good("bad-tags", "caching").replace(
            "tags = [\"postgres\", \"indexing\"]",
            "tags = [\"cachng\",\n  \"caching\"]",
        ),
    );
}

#[test]
fn a_bank_with_its_own_tags_file_enforces_it_and_stores_canonical_tags() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    strict_bank(root);
    let errors = QuestionBank::load(root).unwrap_err();
    let lines: Vec<String> = errors.0.iter().map(|e| e.to_string()).collect();
    let p = root.join("caching/bad-tags.md").display().to_string();
    assert_eq!(
        lines,
        [
            format!("{p}:7: unknown tag \"cachng\"; nearest known tag: \"caching\""),
            format!("{p}:7: no technology tag: every question needs at least one (see tags.toml)"),
        ]
    );
    let (code, stdout, stderr) = check(root);
    assert_eq!(code, 1);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains(&lines[0]), "{stderr}");

    fs::remove_file(root.join("caching/bad-tags.md")).unwrap();
    let bank = QuestionBank::load(root).unwrap();
    assert_eq!(bank.get("aliased").unwrap().tags, ["postgres", "indexing"]);
    assert!(bank.warnings().is_empty());
}

#[test]
fn a_pack_without_a_tags_file_gets_warnings_not_errors() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    strict_bank(root);
    fs::remove_file(root.join("tags.toml")).unwrap();
    // Checked against the shipped vocabulary: aliases still become canonical.
    let bank = QuestionBank::load(root).unwrap();
    assert_eq!(bank.get("aliased").unwrap().tags, ["postgres", "indexing"]);
    assert_eq!(bank.get("bad-tags").unwrap().tags, ["cachng", "caching"]);
    let p = root.join("caching/bad-tags.md").display().to_string();
    let warnings: Vec<String> = bank.warnings().iter().map(|w| w.to_string()).collect();
    assert_eq!(
        warnings,
        [
            format!("{p}:7: warning: unknown tag \"cachng\"; nearest known tag: \"caching\""),
            format!(
                "{p}:7: warning: no technology tag: every question needs at least one (see tags.toml)"
            ),
        ]
    );
    let (code, stdout, stderr) = check(root);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with(&format!(
            "reading the packs at {} (2 questions)\n2 questions, no errors, 2 tag warnings",
            root.display()
        )),
        "{stdout}"
    );
    assert!(stderr.contains(&warnings[0]), "{stderr}");
}

#[test]
fn a_broken_tags_file_is_reported_with_the_other_problems() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "tags.toml",
        "[technology]\npostgres = [\"pg\"]\n\n[concept]\nindexing = [\"pg\"]\n",
    );
    write(
        root,
        "databases/broken.md",
        good("broken", "databases").replace("difficulty = \"easy\"", "difficulty = \"brutal\""),
    );
    let errors = QuestionBank::load(root).unwrap_err();
    let lines: Vec<String> = errors.0.iter().map(|e| e.to_string()).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(
        lines[0],
        format!(
            "{}:5: `pg` is already listed (under `postgres`)",
            root.join("tags.toml").display()
        )
    );
    assert!(
        lines[1].contains("unknown difficulty `brutal`"),
        "{lines:?}"
    );
}
