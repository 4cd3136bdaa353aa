//! The tag vocabulary: canonical tags in two classes with their aliases, read from a
//! `tags.toml` (`questions/tags.toml` is compiled in as the shipped vocabulary).
//!
//! Loading rewrites an alias to its canonical tag; [`Vocabulary::check`] says what is
//! wrong with a question's tags (unknown, or a class missing). Search reads the same
//! table to expand `k8s` into `kubernetes`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use super::parse::is_kebab;

/// The shipped vocabulary, compiled in so a team's pack is checked against it too.
const SHIPPED: &str = include_str!("../../../../questions/tags.toml");

/// What kind of thing a tag names; every question needs one of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TagClass {
    /// A product, protocol, standard, language or platform.
    Technology,
    /// An idea, technique, pattern, practice or interview format.
    Concept,
}

impl TagClass {
    const ALL: [TagClass; 2] = [TagClass::Technology, TagClass::Concept];

    pub fn as_str(self) -> &'static str {
        match self {
            TagClass::Technology => "technology",
            TagClass::Concept => "concept",
        }
    }
}

impl fmt::Display for TagClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Canonical tags and aliases.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    /// Canonical tag -> class.
    canonical: HashMap<String, TagClass>,
    /// Alias -> canonical tag.
    aliases: HashMap<String, String>,
}

/// A problem in a `tags.toml`, with its 1-based line (1 when unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VocabularyError {
    pub line: usize,
    pub message: String,
}

/// What is wrong with one question's tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagProblem {
    /// Neither a canonical tag nor an alias.
    Unknown(String),
    /// No tag of this class.
    Missing(TagClass),
}

impl Vocabulary {
    /// The vocabulary of the shipped bank (`questions/tags.toml`).
    pub fn shipped() -> Arc<Vocabulary> {
        static SHIPPED_VOCABULARY: OnceLock<Arc<Vocabulary>> = OnceLock::new();
        SHIPPED_VOCABULARY
            .get_or_init(|| {
                // A test parses the same file and fails on any error, so this holds.
                Arc::new(Vocabulary::parse(SHIPPED).unwrap_or_default())
            })
            .clone()
    }

    /// Parses a `tags.toml`: a `[technology]` and a `[concept]` table of
    /// `canonical = ["alias", ...]`. Reports every problem.
    pub fn parse(text: &str) -> Result<Vocabulary, Vec<VocabularyError>> {
        let line_of = |needle: &str| -> usize {
            text.lines()
                .position(|l| l.contains(needle))
                .map_or(1, |i| i + 1)
        };
        let table = text.parse::<toml::Table>().map_err(|e| {
            let line = e.span().map_or(1, |s| {
                text[..s.start.min(text.len())].matches('\n').count() + 1
            });
            vec![VocabularyError {
                line,
                message: format!("invalid TOML: {}", e.message().trim()),
            }]
        })?;
        let mut errors = Vec::new();
        let mut err = |line: usize, message: String| errors.push(VocabularyError { line, message });
        let mut vocabulary = Vocabulary::default();
        // Every name (canonical or alias) -> the canonical tag it belongs to, to
        // report a name used twice.
        let mut owner: HashMap<String, String> = HashMap::new();
        for key in table.keys() {
            if !TagClass::ALL.iter().any(|c| c.as_str() == key) {
                err(
                    line_of(&format!("[{key}]")),
                    format!("unknown table `[{key}]` (expected [technology] and [concept])"),
                );
            }
        }
        for class in TagClass::ALL {
            let Some(value) = table.get(class.as_str()) else {
                err(1, format!("missing table `[{class}]`"));
                continue;
            };
            let Some(tags) = value.as_table() else {
                err(
                    line_of(class.as_str()),
                    format!("`{class}` must be a table"),
                );
                continue;
            };
            for (tag, aliases) in tags {
                let line = line_of(&format!("{tag} ="));
                let mut claim = |name: &str, err: &mut dyn FnMut(usize, String)| {
                    if !is_kebab(name) {
                        err(line, format!("tag `{name}` is not kebab-case"));
                    } else if let Some(first) = owner.get(name) {
                        err(
                            line,
                            format!("`{name}` is already listed (under `{first}`)"),
                        );
                    } else {
                        owner.insert(name.to_string(), tag.clone());
                    }
                };
                claim(tag, &mut err);
                vocabulary.canonical.insert(tag.clone(), class);
                let Some(list) = aliases.as_array() else {
                    err(
                        line,
                        format!("`{tag}` must be a list of aliases (may be empty)"),
                    );
                    continue;
                };
                for alias in list {
                    match alias.as_str() {
                        Some(a) => {
                            claim(a, &mut err);
                            vocabulary.aliases.insert(a.to_string(), tag.clone());
                        }
                        None => err(line, format!("the aliases of `{tag}` must be strings")),
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(vocabulary)
        } else {
            Err(errors)
        }
    }

    /// The canonical tag for a canonical tag or an alias.
    pub fn canonical<'a>(&'a self, tag: &str) -> Option<&'a str> {
        if let Some((name, _)) = self.canonical.get_key_value(tag) {
            return Some(name);
        }
        self.aliases.get(tag).map(String::as_str)
    }

    /// The class of a canonical tag.
    pub fn class(&self, canonical: &str) -> Option<TagClass> {
        self.canonical.get(canonical).copied()
    }

    /// Canonical tags of a class, sorted.
    pub fn tags(&self, class: TagClass) -> Vec<&str> {
        let mut tags: Vec<&str> = self
            .canonical
            .iter()
            .filter(|(_, c)| **c == class)
            .map(|(t, _)| t.as_str())
            .collect();
        tags.sort_unstable();
        tags
    }

    pub fn len(&self) -> usize {
        self.canonical.len()
    }

    pub fn is_empty(&self) -> bool {
        self.canonical.is_empty()
    }

    /// The canonical tag whose name or one of whose aliases is closest in edit
    /// distance to `tag` (ties: the shorter name, then alphabetical).
    pub fn nearest(&self, tag: &str) -> &str {
        self.spellings()
            .map(|(name, canonical)| (edit_distance(tag, name), name.len(), canonical))
            .min()
            .map_or("", |(_, _, canonical)| canonical)
    }

    /// Rewrites aliases to their canonical tags in place (dropping duplicates that
    /// creates) and returns what is wrong: unknown tags (kept as written) and
    /// missing classes.
    pub fn check(&self, tags: &mut Vec<String>) -> Vec<TagProblem> {
        let mut problems = Vec::new();
        let mut seen_class = [false; 2];
        let mut normalized: Vec<String> = Vec::with_capacity(tags.len());
        for tag in tags.drain(..) {
            let tag = match self.canonical(&tag) {
                Some(canonical) => {
                    let class = self.class(canonical).unwrap_or(TagClass::Concept);
                    seen_class[class as usize] = true;
                    canonical.to_string()
                }
                None => {
                    problems.push(TagProblem::Unknown(tag.clone()));
                    tag
                }
            };
            if !normalized.contains(&tag) {
                normalized.push(tag);
            }
        }
        *tags = normalized;
        for class in TagClass::ALL {
            if !seen_class[class as usize] {
                problems.push(TagProblem::Missing(class));
            }
        }
        problems
    }

    /// The message for a problem. Finding the nearest tag compares the unknown one
    /// with every name in the vocabulary, so a pack's warnings are described only
    /// when shown.
    pub fn describe(&self, problem: &TagProblem) -> String {
        match problem {
            TagProblem::Unknown(tag) => format!(
                "unknown tag \"{tag}\"; nearest known tag: \"{}\"",
                self.nearest(tag)
            ),
            TagProblem::Missing(class) => {
                format!("no {class} tag: every question needs at least one (see tags.toml)")
            }
        }
    }

    /// Every spelling of a tag, canonical or alias, with its canonical tag.
    pub(crate) fn spellings(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.canonical
            .keys()
            .map(|c| (c.as_str(), c.as_str()))
            .chain(self.aliases.iter().map(|(a, c)| (a.as_str(), c.as_str())))
    }
}

/// Levenshtein distance over bytes (tags are ASCII kebab-case).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_vocabulary_parses_and_is_the_size_the_readme_says() {
        let v = Vocabulary::parse(SHIPPED).unwrap_or_else(|errors| {
            panic!(
                "questions/tags.toml: {}",
                errors
                    .iter()
                    .map(|e| format!("line {}: {}", e.line, e.message))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        assert!((60..=140).contains(&v.len()), "{} tags", v.len());
        assert!(v.tags(TagClass::Technology).len() >= 20);
        assert!(v.tags(TagClass::Concept).len() >= 40);
        assert_eq!(Vocabulary::shipped().len(), v.len());
    }

    #[test]
    fn aliases_resolve_to_their_canonical_tag() {
        let v = Vocabulary::shipped();
        assert_eq!(v.canonical("k8s"), Some("kubernetes"));
        assert_eq!(v.canonical("pg"), Some("postgres"));
        assert_eq!(v.canonical("postgresql"), Some("postgres"));
        assert_eq!(v.canonical("retries"), Some("retry"));
        assert_eq!(v.canonical("message-queue"), Some("queue"));
        assert_eq!(v.canonical("error-budget"), Some("slo"));
        assert_eq!(v.canonical("on-call"), Some("incident-response"));
        assert_eq!(v.canonical("postgres"), Some("postgres"));
        assert_eq!(v.canonical("no-such-tag"), None);
        assert_eq!(v.class("kubernetes"), Some(TagClass::Technology));
        assert_eq!(v.class("star"), Some(TagClass::Concept));
    }

    #[test]
    fn check_normalizes_aliases_and_reports_unknown_tags_and_missing_classes() {
        let v = Vocabulary::shipped();
        let mut tags = vec!["k8s".to_string(), "kubernetes".into(), "retries".into()];
        assert!(v.check(&mut tags).is_empty());
        assert_eq!(tags, ["kubernetes", "retry"]);

        let mut tags = vec!["postgress".to_string(), "indexes".into()];
        let problems = v.check(&mut tags);
        assert_eq!(
            problems,
            [
                TagProblem::Unknown("postgress".into()),
                TagProblem::Missing(TagClass::Technology),
            ]
        );
        assert_eq!(tags, ["postgress", "indexing"]);
        assert_eq!(
            v.describe(&problems[0]),
            "unknown tag \"postgress\"; nearest known tag: \"postgres\""
        );
        assert_eq!(
            v.describe(&problems[1]),
            "no technology tag: every question needs at least one (see tags.toml)"
        );

        let mut none = Vec::new();
        assert_eq!(
            v.check(&mut none),
            [
                TagProblem::Missing(TagClass::Technology),
                TagProblem::Missing(TagClass::Concept)
            ]
        );
    }

    #[test]
    fn a_name_listed_twice_or_badly_spelled_is_an_error_with_its_line() {
        let text = "[technology]\npostgres = [\"pg\"]\n\n[concept]\nindexing = [\"pg\", \"Bad_Name\"]\n[extra]\n";
        let errors = Vocabulary::parse(text).unwrap_err();
        let shown: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.line, e.message))
            .collect();
        assert_eq!(
            shown,
            [
                "6: unknown table `[extra]` (expected [technology] and [concept])",
                "5: `pg` is already listed (under `postgres`)",
                "5: tag `Bad_Name` is not kebab-case",
            ]
        );
    }

    #[test]
    fn edit_distance_is_levenshtein() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("retries", "retries"), 0);
        assert_eq!(Vocabulary::shipped().nearest("kubernets"), "kubernetes");
    }
}
