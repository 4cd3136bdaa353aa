//! Reading question files: TOML front matter between `+++` lines, then `## ` sections.
//!
//! Every check collects its problem instead of stopping, so an author sees the whole
//! list in one run. Line numbers are 1-based lines of the file on disk.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use super::tags::{TagProblem, Vocabulary};
use super::{Difficulty, Kind, Question};

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankError {
    pub path: PathBuf,
    /// 1-based; 0 when the problem is about the path itself (a missing directory, say).
    pub line: usize,
    pub message: String,
}

impl fmt::Display for BankError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
        }
    }
}

/// Every problem found while loading a bank, in path then line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankErrors(pub Vec<BankError>);

impl fmt::Display for BankErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BankErrors {}

const FIELDS: [&str; 6] = ["id", "title", "topic", "difficulty", "kind", "tags"];
const MAX_TITLE_CHARS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Question,
    WhyAsked,
    ModelAnswer,
    LookFors,
    Mistakes,
    FollowUps,
    Tips,
}

impl Section {
    const ALL: [Section; 7] = [
        Section::Question,
        Section::WhyAsked,
        Section::ModelAnswer,
        Section::LookFors,
        Section::Mistakes,
        Section::FollowUps,
        Section::Tips,
    ];

    fn name(self) -> &'static str {
        match self {
            Section::Question => "Question",
            Section::WhyAsked => "Why it is asked",
            Section::ModelAnswer => "Model answer",
            Section::LookFors => "What interviewers look for",
            Section::Mistakes => "Common mistakes",
            Section::FollowUps => "Follow-ups",
            Section::Tips => "Tips",
        }
    }

    fn required(self) -> bool {
        matches!(
            self,
            Section::Question | Section::ModelAnswer | Section::LookFors | Section::Mistakes
        )
    }

    fn bullets(self) -> bool {
        matches!(
            self,
            Section::LookFors | Section::Mistakes | Section::FollowUps
        )
    }
}

/// Kebab-case: lowercase ASCII letters and digits in groups joined by single dashes.
pub(crate) fn is_kebab(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

fn is_ignored_name(name: &str) -> bool {
    name.starts_with('.') || name.eq_ignore_ascii_case("README.md")
}

fn is_markdown(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "md")
}

/// A tag problem in a bank whose tags are only advised (a team's pack): shown as a
/// warning, described only when shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TagWarning {
    pub path: PathBuf,
    pub line: usize,
    pub problem: TagProblem,
}

/// What a valid bank directory holds.
pub(crate) struct Loaded {
    pub questions: Vec<Question>,
    pub warnings: Vec<TagWarning>,
}

/// How a bank's tags are held to its vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TagRule {
    /// A tag problem is an error (a bank that carries its own `tags.toml`).
    Enforced,
    /// A tag problem is a warning (a team's pack, checked against the shipped tags).
    Advised,
    /// Tags are not checked (the bank's `tags.toml` is itself broken).
    Unchecked,
}

/// Loads every question file of a bank directory (see the module docs for the
/// layout). Aliases among a question's tags become their canonical tags; other
/// tag problems follow `rule`.
pub(crate) fn load_dir(
    dir: &Path,
    vocabulary: &Vocabulary,
    rule: TagRule,
) -> Result<Loaded, BankErrors> {
    load_tree(&Disk, dir, vocabulary, rule)
}

/// [`load_dir`] over any [`Tree`]: a directory on disk, or the bank compiled in.
pub(crate) fn load_tree(
    tree: &dyn Tree,
    dir: &Path,
    vocabulary: &Vocabulary,
    rule: TagRule,
) -> Result<Loaded, BankErrors> {
    let mut errors = Vec::new();
    let topic_dirs = match tree.entries(dir) {
        Ok(entries) => entries,
        Err(e) => {
            return Err(BankErrors(vec![BankError {
                path: dir.to_path_buf(),
                line: 0,
                message: format!("cannot read the question bank directory: {e}"),
            }]));
        }
    };
    let mut questions = Vec::new();
    let mut warnings = Vec::new();
    // id -> (path, line of its `id` field), to name the first file on a duplicate.
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for topic_dir in topic_dirs {
        // Files at the top of the bank are documentation (a README, a licence), by rule.
        if !tree.is_dir(&topic_dir) || is_ignored_name(&file_name(&topic_dir)) {
            continue;
        }
        let topic = file_name(&topic_dir);
        let entries = match tree.entries(&topic_dir) {
            Ok(entries) => entries,
            Err(e) => {
                errors.push(BankError {
                    path: topic_dir.clone(),
                    line: 0,
                    message: format!("cannot read the topic folder: {e}"),
                });
                continue;
            }
        };
        for path in entries {
            let name = file_name(&path);
            if is_ignored_name(&name) {
                continue;
            }
            if tree.is_dir(&path) {
                if contains_markdown(tree, &path) {
                    errors.push(BankError {
                        path: path.clone(),
                        line: 0,
                        message: "nested folder: question files live directly in a topic folder (`<topic>/<id>.md`)".into(),
                    });
                }
                continue;
            }
            if !is_markdown(&path) {
                continue;
            }
            let bytes = match tree.read(&path) {
                Ok(b) => b,
                Err(e) => {
                    errors.push(BankError {
                        path: path.clone(),
                        line: 0,
                        message: format!("cannot read the file: {e}"),
                    });
                    continue;
                }
            };
            // A valid id equals its file name, so the file name identifies the question
            // even when the file has other errors: duplicates are reported either way.
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let (question, id_line) = match parse_file(&path, &topic, &bytes) {
                Ok(mut parsed) => {
                    if rule != TagRule::Unchecked {
                        for (line, problem) in parsed.check_tags(vocabulary) {
                            if rule == TagRule::Enforced {
                                errors.push(BankError {
                                    path: path.clone(),
                                    line,
                                    message: vocabulary.describe(&problem),
                                });
                            } else {
                                warnings.push(TagWarning {
                                    path: path.clone(),
                                    line,
                                    problem,
                                });
                            }
                        }
                    }
                    (Some(parsed.question), parsed.id_line)
                }
                Err(mut errs) => {
                    errors.append(&mut errs);
                    (None, id_line_of(&bytes))
                }
            };
            if let Some(first) = seen.get(&stem) {
                errors.push(BankError {
                    path: path.clone(),
                    line: id_line,
                    message: format!("duplicate id `{stem}`: already used by {}", first.display()),
                });
                continue;
            }
            seen.insert(stem, path.clone());
            questions.extend(question);
        }
    }
    if errors.is_empty() && questions.is_empty() {
        errors.push(BankError {
            path: dir.to_path_buf(),
            line: 0,
            message: "no questions found: expected files at `<topic>/<id>.md`".into(),
        });
    }
    if errors.is_empty() {
        Ok(Loaded {
            questions,
            warnings,
        })
    } else {
        Err(BankErrors(errors))
    }
}

/// The line of the `id =` key in a file's front matter, or 1.
fn id_line_of(bytes: &[u8]) -> usize {
    String::from_utf8_lossy(bytes)
        .lines()
        .take_while(|l| !l.starts_with("## "))
        .position(|l| {
            l.trim_start()
                .strip_prefix("id")
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map_or(1, |i| i + 1)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// What the loader reads a bank from. Two kinds: a directory on disk ([`Disk`]) and
/// the shipped bank compiled into the binary ([`Embedded`]); both go through the same
/// rules, so the shipped bank is checked exactly as a team's pack is.
pub(crate) trait Tree {
    /// The entries of a directory, sorted.
    fn entries(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>>;
    fn is_dir(&self, path: &Path) -> bool;
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>>;
}

/// The file system.
pub(crate) struct Disk;

impl Tree for Disk {
    fn entries(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut entries = fs::read_dir(dir)?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<Vec<_>>>()?;
        entries.sort();
        Ok(entries)
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        fs::read(path)
    }
}

/// Files compiled into the binary, as (path relative to `root` with `/`, contents);
/// directories are implied by the paths.
pub(crate) struct Embedded {
    pub root: &'static Path,
    pub files: &'static [(&'static str, &'static [u8])],
}

impl Embedded {
    /// `path` relative to the root, with `/`; `None` outside the root.
    fn relative(&self, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(self.root).ok()?;
        Some(
            rel.components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/"),
        )
    }
}

impl Tree for Embedded {
    fn entries(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let not_found = || std::io::Error::from(std::io::ErrorKind::NotFound);
        let rel = self.relative(dir).ok_or_else(not_found)?;
        let prefix = if rel.is_empty() {
            rel
        } else {
            format!("{rel}/")
        };
        let mut names: Vec<&str> = self
            .files
            .iter()
            .filter_map(|(p, _)| p.strip_prefix(prefix.as_str()))
            .map(|rest| rest.split('/').next().unwrap_or(rest))
            .collect();
        if names.is_empty() {
            return Err(not_found());
        }
        names.sort_unstable();
        names.dedup();
        Ok(names.into_iter().map(|n| dir.join(n)).collect())
    }

    fn is_dir(&self, path: &Path) -> bool {
        match self.relative(path) {
            Some(rel) if rel.is_empty() => true,
            Some(rel) => self.files.iter().any(|(p, _)| {
                p.strip_prefix(rel.as_str())
                    .is_some_and(|r| r.starts_with('/'))
            }),
            None => false,
        }
    }

    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        let rel = self.relative(path);
        self.files
            .iter()
            .find(|(p, _)| Some(*p) == rel.as_deref())
            .map(|(_, bytes)| bytes.to_vec())
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
    }
}

fn contains_markdown(tree: &dyn Tree, dir: &Path) -> bool {
    let Ok(entries) = tree.entries(dir) else {
        return false;
    };
    entries.iter().any(|p| {
        if tree.is_dir(p) {
            contains_markdown(tree, p)
        } else {
            is_markdown(p)
        }
    })
}

/// A question and where its `id` field and tags are, for later reports.
pub(crate) struct Parsed {
    pub question: Question,
    pub id_line: usize,
    /// The line of the `tags` field.
    pub tags_line: usize,
    /// The line of each tag as written (a list may span lines).
    pub tag_lines: Vec<(String, usize)>,
}

impl Parsed {
    /// Rewrites aliases to canonical tags; returns each problem with its line (an
    /// unknown tag's own line, the `tags` line for a missing class).
    pub(crate) fn check_tags(&mut self, vocabulary: &Vocabulary) -> Vec<(usize, TagProblem)> {
        vocabulary
            .check(&mut self.question.tags)
            .into_iter()
            .map(|problem| {
                let line = match &problem {
                    TagProblem::Unknown(tag) => self
                        .tag_lines
                        .iter()
                        .find(|(t, _)| t == tag)
                        .map_or(self.tags_line, |(_, line)| *line),
                    TagProblem::Missing(_) => self.tags_line,
                };
                (line, problem)
            })
            .collect()
    }
}

/// Parses one file. `topic` is the name of the folder the file is in.
pub(crate) fn parse_file(path: &Path, topic: &str, bytes: &[u8]) -> Result<Parsed, Vec<BankError>> {
    let err = |line: usize, message: String| BankError {
        path: path.to_path_buf(),
        line,
        message,
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
            let column =
                good.len() - good.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
            return Err(vec![err(
                line,
                format!(
                    "the file is not valid UTF-8 (first bad byte at column {column}); save it as UTF-8"
                ),
            )]);
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut errors = Vec::new();

    // Front matter.
    if lines.first().map(|l| l.trim_end()) != Some("+++") {
        return Err(vec![err(
            1,
            "expected `+++` on the first line to open the TOML front matter".into(),
        )]);
    }
    let Some(close) = lines
        .iter()
        .skip(1)
        .position(|l| l.trim_end() == "+++")
        .map(|p| p + 1)
    else {
        return Err(vec![err(
            1,
            "the front matter opened here is never closed with a `+++` line".into(),
        )]);
    };
    let front_lines = &lines[1..close];
    let front = front_lines.join("\n");
    // Line number in the file of the first front-matter line.
    let front_first = 2;
    let key_line = |key: &str| -> usize {
        front_lines
            .iter()
            .position(|l| {
                let l = l.trim_start();
                let bare = l.strip_prefix(key);
                let quoted = l
                    .strip_prefix('"')
                    .and_then(|r| r.strip_prefix(key))
                    .and_then(|r| r.strip_prefix('"'));
                let is_assignment = bare
                    .or(quoted)
                    .is_some_and(|rest| rest.trim_start().starts_with('='));
                // A table header such as `[extra]` or `[extra.sub]`.
                let is_table = l
                    .strip_prefix('[')
                    .and_then(|r| r.strip_prefix(key))
                    .is_some_and(|rest| rest.starts_with(']') || rest.starts_with('.'));
                is_assignment || is_table
            })
            .map_or(1, |i| i + front_first)
    };

    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut meta = Meta::default();
    match front.parse::<toml::Table>() {
        Err(e) => {
            let line = e.span().map_or(1, |s| {
                front[..s.start.min(front.len())].matches('\n').count() + front_first
            });
            errors.push(err(
                line,
                format!("invalid TOML in the front matter: {}", e.message().trim()),
            ));
        }
        Ok(table) => {
            for key in table.keys() {
                if !FIELDS.contains(&key.as_str()) {
                    errors.push(err(
                        key_line(key),
                        format!("unknown field `{key}` (expected: {})", FIELDS.join(", ")),
                    ));
                }
            }
            for key in FIELDS {
                if !table.contains_key(key) {
                    errors.push(err(1, format!("missing field `{key}` in the front matter")));
                }
            }
            meta.read(&table, &stem, topic, &key_line, &mut |line, m| {
                errors.push(err(line, m))
            });
        }
    }

    // Body.
    let body_first = close + 2; // 1-based line number of the first body line
    let body = &lines[close + 1..];
    let mut sections: Vec<(Section, usize, Vec<&str>)> = Vec::new();
    let mut current: Option<usize> = None; // index into `sections`, None = outside / unknown
    let mut in_unknown = false;
    let mut in_fence = false;
    let mut stray_reported = false;
    for (i, line) in body.iter().enumerate() {
        let lineno = body_first + i;
        let is_fence = line.trim_start().starts_with("```");
        if !in_fence && let Some(name) = line.strip_prefix("## ") {
            let name = name.trim();
            match Section::ALL.iter().copied().find(|s| s.name() == name) {
                Some(section) => {
                    if let Some((_, first, _)) = sections.iter().find(|(s, _, _)| *s == section) {
                        errors.push(err(
                            lineno,
                            format!("section `## {name}` appears twice (first at line {first})"),
                        ));
                        current = None;
                        in_unknown = true;
                    } else {
                        sections.push((section, lineno, Vec::new()));
                        current = Some(sections.len() - 1);
                        in_unknown = false;
                    }
                }
                None => {
                    errors.push(err(
                        lineno,
                        format!(
                            "unknown section `## {name}` (expected one of: {})",
                            Section::ALL.map(Section::name).join(", ")
                        ),
                    ));
                    current = None;
                    in_unknown = true;
                }
            }
            continue;
        }
        if is_fence {
            in_fence = !in_fence;
        }
        match current {
            Some(idx) => sections[idx].2.push(line),
            None if in_unknown => {}
            None => {
                if !line.trim().is_empty() && !stray_reported {
                    errors.push(err(
                        lineno,
                        "text outside a section: the body starts with a `## Question` heading"
                            .into(),
                    ));
                    stray_reported = true;
                }
            }
        }
    }

    let mut text_of: HashMap<&'static str, String> = HashMap::new();
    let mut bullets_of: HashMap<&'static str, Vec<String>> = HashMap::new();
    for (section, heading_line, content) in &sections {
        let trimmed = content.join("\n").trim().to_string();
        if trimmed.is_empty() {
            let why = if section.required() {
                "is required and empty"
            } else {
                "is empty: remove the heading or write the section"
            };
            errors.push(err(
                *heading_line,
                format!("section `## {}` {why}", section.name()),
            ));
            continue;
        }
        if section.bullets() {
            match parse_bullets(content) {
                Ok(items) => {
                    bullets_of.insert(section.name(), items);
                }
                Err((offset, what)) => errors.push(err(
                    heading_line + 1 + offset,
                    format!("section `## {}` {what}", section.name()),
                )),
            }
        } else {
            text_of.insert(section.name(), trimmed);
        }
    }
    for section in Section::ALL {
        if section.required() && !sections.iter().any(|(s, _, _)| *s == section) {
            errors.push(err(
                close + 1,
                format!("missing required section `## {}`", section.name()),
            ));
        }
    }

    errors.sort_by_key(|e| e.line);
    errors.dedup();
    if !errors.is_empty() {
        return Err(errors);
    }
    let (Some(id), Some(title), Some(difficulty), Some(kind)) =
        (meta.id, meta.title, meta.difficulty, meta.kind)
    else {
        // Unreachable in practice: every missing piece above pushed an error.
        return Err(vec![err(1, "incomplete front matter".into())]);
    };
    let tags_line = key_line("tags");
    // A tag's own line: the first line from the `tags` key on that holds it quoted.
    let tag_lines = meta
        .tags
        .iter()
        .map(|tag| {
            let quoted = [format!("\"{tag}\""), format!("'{tag}'")];
            let line = front_lines
                .iter()
                .enumerate()
                .skip(tags_line.saturating_sub(front_first))
                .find(|(_, l)| quoted.iter().any(|q| l.contains(q.as_str())))
                .map_or(tags_line, |(i, _)| i + front_first);
            (tag.clone(), line)
        })
        .collect();
    let mut take_text = |s: Section| text_of.remove(s.name());
    let mut take_bullets = |s: Section| bullets_of.remove(s.name()).unwrap_or_default();
    let question = Question {
        id,
        title,
        topic: topic.to_string(),
        difficulty,
        kind,
        tags: meta.tags,
        prompt: take_text(Section::Question).unwrap_or_default(),
        why_asked: take_text(Section::WhyAsked),
        model_answer: take_text(Section::ModelAnswer).unwrap_or_default(),
        tips: take_text(Section::Tips),
        look_fors: take_bullets(Section::LookFors),
        mistakes: take_bullets(Section::Mistakes),
        follow_ups: take_bullets(Section::FollowUps),
        path: path.to_path_buf(),
    };
    Ok(Parsed {
        question,
        id_line: meta.id_line,
        tags_line,
        tag_lines,
    })
}

/// Front-matter values that passed their checks.
#[derive(Default)]
struct Meta {
    id: Option<String>,
    id_line: usize,
    title: Option<String>,
    difficulty: Option<Difficulty>,
    kind: Option<Kind>,
    tags: Vec<String>,
}

impl Meta {
    fn read(
        &mut self,
        table: &toml::Table,
        stem: &str,
        folder: &str,
        key_line: &dyn Fn(&str) -> usize,
        report: &mut dyn FnMut(usize, String),
    ) {
        let string = |key: &str, report: &mut dyn FnMut(usize, String)| -> Option<String> {
            match table.get(key)? {
                toml::Value::String(s) => Some(s.clone()),
                other => {
                    report(
                        key_line(key),
                        format!("`{key}` must be a string, not {}", other.type_str()),
                    );
                    None
                }
            }
        };
        if let Some(id) = string("id", report) {
            self.id_line = key_line("id");
            if !is_kebab(&id) {
                report(
                    self.id_line,
                    format!(
                        "id `{id}` is not kebab-case (lowercase letters and digits joined by single dashes)"
                    ),
                );
            } else if id != stem {
                report(
                    self.id_line,
                    format!("id `{id}` does not match the file name `{stem}.md`"),
                );
            } else {
                self.id = Some(id);
            }
        }
        if let Some(title) = string("title", report) {
            let title = title.trim().to_string();
            if title.is_empty() {
                report(key_line("title"), "title is empty".into());
            } else if title.chars().count() > MAX_TITLE_CHARS {
                report(
                    key_line("title"),
                    format!("title is longer than {MAX_TITLE_CHARS} characters"),
                );
            } else {
                self.title = Some(title);
            }
        }
        if let Some(topic) = string("topic", report) {
            if topic != folder {
                report(
                    key_line("topic"),
                    format!("topic `{topic}` does not match its folder `{folder}`"),
                );
            } else if !is_kebab(&topic) {
                report(
                    key_line("topic"),
                    format!("topic `{topic}` is not kebab-case"),
                );
            }
        }
        if let Some(d) = string("difficulty", report) {
            match d.parse::<Difficulty>() {
                Ok(d) => self.difficulty = Some(d),
                Err(e) => report(key_line("difficulty"), e.to_string()),
            }
        }
        if let Some(k) = string("kind", report) {
            match k.parse::<Kind>() {
                Ok(k) => self.kind = Some(k),
                Err(e) => report(key_line("kind"), e.to_string()),
            }
        }
        match table.get("tags") {
            None => {}
            Some(toml::Value::Array(items)) => {
                for item in items {
                    match item {
                        toml::Value::String(t) if is_kebab(t) => self.tags.push(t.clone()),
                        toml::Value::String(t) => {
                            report(key_line("tags"), format!("tag `{t}` is not kebab-case"))
                        }
                        other => report(
                            key_line("tags"),
                            format!("tags must be strings, found {}", other.type_str()),
                        ),
                    }
                }
            }
            Some(other) => report(
                key_line("tags"),
                format!("`tags` must be a list of strings, not {}", other.type_str()),
            ),
        }
    }
}

/// Parses a bullet list; on a line that is neither an item nor a continuation,
/// returns its offset within `content`.
fn parse_bullets(content: &[&str]) -> Result<Vec<String>, (usize, &'static str)> {
    const NOT_A_LIST: &str =
        "is a bullet list: start each item with `- ` and indent continuation lines by two spaces";
    let mut items: Vec<String> = Vec::new();
    for (i, line) in content.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let marker = ["- ", "* "].iter().find_map(|m| line.strip_prefix(m));
        let bare_marker = matches!(line.trim_end(), "-" | "*");
        if let Some(item) = marker.filter(|item| !item.trim().is_empty()) {
            items.push(item.trim().to_string());
        } else if marker.is_some() || bare_marker {
            return Err((i, "has an empty bullet item"));
        } else if line.starts_with("  ") && !items.is_empty() {
            let last = items.last_mut().expect("checked non-empty");
            last.push(' ');
            last.push_str(line.trim());
        } else {
            return Err((i, NOT_A_LIST));
        }
    }
    if items.is_empty() {
        return Err((0, NOT_A_LIST));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "+++
id = \"cap-theorem\"
title = \"CAP\"
topic = \"distributed-systems\"
difficulty = \"medium\"
kind = \"technical\"
tags = [\"cap\", \"partitions\"]
+++

## Question

What does CAP say?

## Model answer

Partitions happen.

```text
## not a heading inside a fence
```

## What interviewers look for

- precision
- examples that
  continue here
- trade-offs

## Common mistakes

* picking two of three
- ignoring latency

## Tips

Draw it.
";

    fn parse(text: &str) -> Result<Question, Vec<String>> {
        parse_file(
            Path::new("distributed-systems/cap-theorem.md"),
            "distributed-systems",
            text.as_bytes(),
        )
        .map(|p| p.question)
        .map_err(|errs| errs.iter().map(|e| e.to_string()).collect())
    }

    #[test]
    fn a_good_file_parses_into_every_field() {
        let q = parse(GOOD).expect("valid");
        assert_eq!(q.id, "cap-theorem");
        assert_eq!(q.difficulty, Difficulty::Medium);
        assert_eq!(q.kind, Kind::Technical);
        assert_eq!(q.tags, ["cap", "partitions"]);
        assert_eq!(q.prompt, "What does CAP say?");
        assert!(q.model_answer.contains("## not a heading inside a fence"));
        assert_eq!(
            q.look_fors,
            ["precision", "examples that continue here", "trade-offs"]
        );
        assert_eq!(q.mistakes, ["picking two of three", "ignoring latency"]);
        assert!(q.follow_ups.is_empty());
        assert_eq!(q.tips.as_deref(), Some("Draw it."));
        assert_eq!(q.why_asked, None);
    }

    #[test]
    fn crlf_line_endings_and_a_bom_are_accepted() {
        let text = format!("\u{feff}{}", GOOD.replace('\n', "\r\n"));
        let q = parse(&text).expect("valid with CRLF");
        assert_eq!(q.look_fors.len(), 3);
    }

    #[test]
    fn every_front_matter_problem_is_reported_with_its_line() {
        let text = GOOD
            .replace("id = \"cap-theorem\"", "id = \"Cap_Theorem\"")
            .replace("difficulty = \"medium\"", "difficulty = \"brutal\"")
            .replace("kind = \"technical\"", "kinds = \"technical\"");
        let errs = parse(&text).unwrap_err();
        assert_eq!(
            errs,
            [
                "distributed-systems/cap-theorem.md:1: missing field `kind` in the front matter",
                "distributed-systems/cap-theorem.md:2: id `Cap_Theorem` is not kebab-case (lowercase letters and digits joined by single dashes)",
                "distributed-systems/cap-theorem.md:5: unknown difficulty `brutal` (expected one of: easy, medium, hard)",
                "distributed-systems/cap-theorem.md:6: unknown field `kinds` (expected: id, title, topic, difficulty, kind, tags)",
            ]
        );
    }

    #[test]
    fn bad_toml_points_at_the_broken_line() {
        let text = GOOD.replace("title = \"CAP\"", "title = \"CAP");
        let errs = parse(&text).unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with("distributed-systems/cap-theorem.md:3: invalid TOML"),
            "{errs:?}"
        );
    }

    #[test]
    fn body_problems_are_all_reported() {
        let text = GOOD
            .replace("## Tips", "## Hints")
            .replace("- precision\n", "precision without a dash\n")
            .replace("## Question\n\nWhat does CAP say?\n", "## Question\n\n");
        let errs = parse(&text).unwrap_err();
        assert_eq!(
            errs,
            [
                "distributed-systems/cap-theorem.md:10: section `## Question` is required and empty",
                "distributed-systems/cap-theorem.md:23: section `## What interviewers look for` is a bullet list: start each item with `- ` and indent continuation lines by two spaces",
                "distributed-systems/cap-theorem.md:33: unknown section `## Hints` (expected one of: Question, Why it is asked, Model answer, What interviewers look for, Common mistakes, Follow-ups, Tips)",
            ]
        );
    }

    #[test]
    fn missing_sections_duplicates_and_stray_text() {
        let text = GOOD
            .replace("+++\n\n## Question", "+++\nstray words\n## Question")
            .replace(
                "## Common mistakes\n\n* picking two of three\n- ignoring latency\n",
                "",
            )
            .replace("## Tips", "## Question");
        let errs = parse(&text).unwrap_err();
        assert!(errs.contains(&"distributed-systems/cap-theorem.md:9: text outside a section: the body starts with a `## Question` heading".to_string()), "{errs:?}");
        assert!(errs.contains(&"distributed-systems/cap-theorem.md:8: missing required section `## Common mistakes`".to_string()), "{errs:?}");
        assert!(
            errs.iter()
                .any(|e| e.contains("section `## Question` appears twice (first at line 10)")),
            "{errs:?}"
        );
    }

    #[test]
    fn a_bullet_section_with_only_prose_is_rejected() {
        let text = GOOD.replace(
            "* picking two of three\n- ignoring latency\n",
            "Just prose here.\n",
        );
        let errs = parse(&text).unwrap_err();
        assert_eq!(
            errs,
            [
                "distributed-systems/cap-theorem.md:31: section `## Common mistakes` is a bullet list: start each item with `- ` and indent continuation lines by two spaces"
            ]
        );
    }

    #[test]
    fn empty_bullets_tables_and_quoted_keys_are_located() {
        let text = GOOD.replace("- trade-offs\n", "- \n").replace(
            "tags = [\"cap\", \"partitions\"]",
            "\"tags\" = [\"cap\"]\n[extra]\nx = 1",
        );
        let errs = parse(&text).unwrap_err();
        assert_eq!(
            errs,
            [
                "distributed-systems/cap-theorem.md:8: unknown field `extra` (expected: id, title, topic, difficulty, kind, tags)",
                "distributed-systems/cap-theorem.md:29: section `## What interviewers look for` has an empty bullet item",
            ]
        );
    }

    #[test]
    fn id_and_topic_must_match_the_path() {
        let errs = parse_file(
            Path::new("caching/other-name.md"),
            "caching",
            GOOD.as_bytes(),
        )
        .err()
        .expect("mismatch");
        let msgs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            msgs,
            [
                "caching/other-name.md:2: id `cap-theorem` does not match the file name `other-name.md`",
                "caching/other-name.md:4: topic `distributed-systems` does not match its folder `caching`",
            ]
        );
    }

    #[test]
    fn non_utf8_reports_the_line_of_the_first_bad_byte() {
        let mut bytes = GOOD.as_bytes().to_vec();
        let at = GOOD.find("Partitions").unwrap();
        bytes.insert(at + 3, 0xff);
        let errs = parse_file(Path::new("x/cap-theorem.md"), "x", &bytes)
            .err()
            .unwrap();
        assert_eq!(
            errs[0].to_string(),
            "x/cap-theorem.md:16: the file is not valid UTF-8 (first bad byte at column 4); save it as UTF-8"
        );
    }

    #[test]
    fn unclosed_or_missing_front_matter() {
        let errs = parse("## Question\n\nHi\n").unwrap_err();
        assert_eq!(
            errs,
            [
                "distributed-systems/cap-theorem.md:1: expected `+++` on the first line to open the TOML front matter"
            ]
        );
        let errs = parse("+++\nid = \"x\"\n").unwrap_err();
        assert_eq!(
            errs,
            [
                "distributed-systems/cap-theorem.md:1: the front matter opened here is never closed with a `+++` line"
            ]
        );
    }

    #[test]
    fn kebab_case_rule() {
        for good in ["a", "cap-theorem", "http2-push", "a1-b2"] {
            assert!(is_kebab(good), "{good}");
        }
        for bad in ["", "-a", "a-", "a--b", "A", "a_b", "a b", "é"] {
            assert!(!is_kebab(bad), "{bad}");
        }
    }
}
