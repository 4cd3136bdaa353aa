//! Property tests of the question-bank loader on generated files: it never panics,
//! whatever the bytes, and every problem it reports names the file and a line that is
//! in the file. Three generators: arbitrary bytes (non-UTF-8 included), a valid file
//! with random mutations (front-matter fields set to other keys and values of any
//! TOML type; deleted, duplicated, swapped and replaced lines, duplicated headings,
//! truncations, inserted bytes), and files built from lines the parser
//! cares about, so its deeper paths run and not only the first-line check.

use std::fs;
use std::path::PathBuf;

use prepbot_core::bank::QuestionBank;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

const TOPIC: &str = "caching";
const ID: &str = "cache-stampede";

/// A valid question file using every section, a fence and continuation lines.
const VALID: &str = "+++
id = \"cache-stampede\"
title = \"Cache stampede\"
topic = \"caching\"
difficulty = \"medium\"
kind = \"technical\"
tags = [\"caching\", \"thundering-herd\"]
+++

## Question

What is a cache stampede, and how do you prevent one?

## Why it is asked

It shows whether you think about what happens when a hot key expires.

## Model answer

Many requests miss at once and all go to the database.

```text
## not a heading inside a fence
```

## What interviewers look for

- request coalescing
- jittered expiry that
  continues on this line
- serving stale while one request refreshes

## Common mistakes

* only adding cache nodes
- ignoring the database's limits

## Follow-ups

- How would you test it?

## Tips

Draw the timeline of one expiry.
";

/// Lines the parser treats specially, valid and not.
const INTERESTING: &[&str] = &[
    "+++",
    "+++ ",
    "\u{feff}+++",
    "",
    "   ",
    "## Question",
    "## Why it is asked",
    "## Model answer",
    "## What interviewers look for",
    "## Common mistakes",
    "## Follow-ups",
    "## Tips",
    "## Hints",
    "##",
    "## ",
    "###  Question",
    "- an item",
    "- ",
    "-",
    "* item",
    "*",
    "  continued",
    "prose, not a bullet",
    "```",
    "```rust",
    "id = \"cache-stampede\"",
    "id = \"Cache_Stampede\"",
    "id = \"other-id\"",
    "id = 3",
    "\"id\" = \"cache-stampede\"",
    "title = \"Title\"",
    "title = \"\"",
    "title = \"unterminated",
    "title = '''",
    "topic = \"caching\"",
    "topic = \"databases\"",
    "difficulty = \"hard\"",
    "difficulty = \"brutal\"",
    "kind = \"behavioral\"",
    "kind = 1",
    "tags = [\"a\", \"b\"]",
    "tags = [1, \"Not Kebab\"]",
    "tags = \"x\"",
    "[extra]",
    "[extra.sub]",
    "[[list]]",
    "x = { a = 1 }",
    "é = \"ü\"",
    "ünïcödé ✨ text 🚀",
    "\t",
    "\r",
];

/// Loads a bank holding just this file; checks what the loader promises.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let topic_dir = dir.path().join(TOPIC);
    fs::create_dir(&topic_dir).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let path: PathBuf = topic_dir.join(format!("{ID}.md"));
    fs::write(&path, bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;

    match QuestionBank::load(dir.path()) {
        Ok(bank) => prop_assert_eq!(bank.len(), 1),
        Err(errors) => {
            prop_assert!(!errors.0.is_empty());
            // As `str::lines` counts them: a final newline does not start another line.
            let lines = bytes.split(|&b| b == b'\n').count() - usize::from(bytes.ends_with(b"\n"));
            let mut previous = 0;
            for e in &errors.0 {
                prop_assert_eq!(&e.path, &path, "{}", e);
                prop_assert!(
                    (1..=lines + 1).contains(&e.line),
                    "line {} in a file of {} lines: {}",
                    e.line,
                    lines,
                    e
                );
                let shown = e.to_string();
                let prefix = format!("{}:{}: ", path.display(), e.line);
                prop_assert!(shown.starts_with(&prefix), "{}", shown);
                prop_assert!(!e.message.trim().is_empty(), "{}", shown);
                prop_assert!(e.line >= previous, "out of line order: {}", shown);
                previous = e.line;
            }
        }
    }
    Ok(())
}

/// Front-matter keys, known and not, and values of every TOML type for them.
const KEYS: &[&str] = &[
    "id",
    "title",
    "topic",
    "difficulty",
    "kind",
    "tags",
    "\"id\"",
    "author",
];
const VALUES: &[&str] = &[
    "\"cache-stampede\"",
    "\"Cache_Stampede\"",
    "\"other-id\"",
    "\"\"",
    "\"   \"",
    "\"caching\"",
    "\"databases\"",
    "\"hard\"",
    "\"brutal\"",
    "\"behavioral\"",
    "\"culture-fit\"",
    "'single quoted'",
    "\"\"\"multi\nline\"\"\"",
    "3",
    "1.5",
    "true",
    "1979-05-27",
    "[]",
    "[\"a\", \"b-c\"]",
    "[\"Not Kebab\", 1]",
    "[[1]]",
    "{ a = 1 }",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// A front-matter field set to `key = value`.
    SetField(Index, &'static str, &'static str),
    DeleteLine(Index),
    DuplicateLine(Index),
    /// Another copy of a `## ` heading, at a random place.
    DuplicateHeading(Index, Index),
    SwapLines(Index, Index),
    ReplaceLine(Index, String),
    InsertLine(Index, String),
    /// Cut the file at a byte (a truncated front matter, a truncated character).
    Truncate(Index),
    InsertBytes(Index, Vec<u8>),
}

fn split_lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
}

fn join_lines(lines: &[Vec<u8>]) -> Vec<u8> {
    lines.join(&b'\n')
}

impl Mutation {
    fn apply(&self, bytes: Vec<u8>) -> Vec<u8> {
        let mut lines = split_lines(&bytes);
        match self {
            Mutation::SetField(i, key, value) => {
                // The key's own line if it has one (a second one is only a TOML
                // error), else a new line in the front matter (lines 1..=7).
                let bare = format!("{} =", key.trim_matches('"'));
                let line = format!("{key} = {value}").into_bytes();
                match lines.iter().position(|l| l.starts_with(bare.as_bytes())) {
                    Some(at) => lines[at] = line,
                    None => lines.insert(1 + i.index(lines.len().clamp(1, 7)), line),
                }
            }
            Mutation::DeleteLine(i) => {
                lines.remove(i.index(lines.len()));
            }
            Mutation::DuplicateLine(i) => {
                let at = i.index(lines.len());
                lines.insert(at, lines[at].clone());
            }
            Mutation::DuplicateHeading(which, to) => {
                let headings: Vec<Vec<u8>> = lines
                    .iter()
                    .filter(|l| l.starts_with(b"## "))
                    .cloned()
                    .collect();
                if !headings.is_empty() {
                    let heading = headings[which.index(headings.len())].clone();
                    lines.insert(to.index(lines.len() + 1), heading);
                }
            }
            Mutation::SwapLines(a, b) => {
                let (a, b) = (a.index(lines.len()), b.index(lines.len()));
                lines.swap(a, b);
            }
            Mutation::ReplaceLine(i, line) => {
                let at = i.index(lines.len());
                lines[at] = line.clone().into_bytes();
            }
            Mutation::InsertLine(i, line) => {
                lines.insert(i.index(lines.len() + 1), line.clone().into_bytes());
            }
            Mutation::Truncate(i) => {
                let mut bytes = bytes;
                bytes.truncate(i.index(bytes.len() + 1));
                return bytes;
            }
            Mutation::InsertBytes(i, extra) => {
                let mut bytes = bytes;
                let at = i.index(bytes.len() + 1);
                bytes.splice(at..at, extra.iter().copied());
                return bytes;
            }
        }
        join_lines(&lines)
    }
}

/// A line the parser cares about, or any short text.
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(INTERESTING).prop_map(str::to_string),
        1 => proptest::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (
            any::<Index>(),
            proptest::sample::select(KEYS),
            proptest::sample::select(VALUES)
        )
            .prop_map(|(i, k, v)| Mutation::SetField(i, k, v)),
        any::<Index>().prop_map(Mutation::DeleteLine),
        any::<Index>().prop_map(Mutation::DuplicateLine),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::DuplicateHeading(a, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<Index>(), line()).prop_map(|(i, l)| Mutation::ReplaceLine(i, l)),
        (any::<Index>(), line()).prop_map(|(i, l)| Mutation::InsertLine(i, l)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), proptest::collection::vec(any::<u8>(), 1..6))
            .prop_map(|(i, b)| Mutation::InsertBytes(i, b)),
    ]
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        // No regression files in the tree: a failure prints its minimal input.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic_and_errors_name_a_line(
        bytes in proptest::collection::vec(any::<u8>(), 0..1500),
    ) {
        check(&bytes)?;
    }

    #[test]
    fn a_mutated_valid_file_never_panics_and_errors_name_a_line(
        mutations in proptest::collection::vec(mutation(), 1..8),
        crlf in any::<bool>(),
    ) {
        let start = if crlf { VALID.replace('\n', "\r\n") } else { VALID.to_string() };
        let bytes = mutations
            .iter()
            .fold(start.into_bytes(), |bytes, m| m.apply(bytes));
        check(&bytes)?;
    }

    #[test]
    fn files_of_meaningful_lines_never_panic_and_errors_name_a_line(
        opened in any::<bool>(),
        lines in proptest::collection::vec(line(), 0..40),
        newline in proptest::sample::select(&["\n", "\r\n"][..]),
    ) {
        let mut text = if opened { "+++\n".to_string() } else { String::new() };
        text.push_str(&lines.join(newline));
        check(text.as_bytes())?;
    }
}

#[test]
fn the_valid_file_the_mutations_start_from_loads() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(TOPIC)).unwrap();
    for text in [VALID.to_string(), VALID.replace('\n', "\r\n")] {
        fs::write(dir.path().join(TOPIC).join(format!("{ID}.md")), &text).unwrap();
        let bank = QuestionBank::load(dir.path()).unwrap();
        let q = bank.get(ID).unwrap();
        assert_eq!(q.look_fors.len(), 3);
        assert_eq!(q.follow_ups.len(), 1);
        assert!(q.model_answer.contains("## not a heading inside a fence"));
    }
}
