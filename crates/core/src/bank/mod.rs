//! The question bank: one Markdown file per question under `<bank>/<topic>/<id>.md`.
//!
//! [`QuestionBank::load`] reads and validates a whole directory and reports every
//! problem at once as `path:line: what is wrong` ([`parse`]); tags are held to a
//! vocabulary ([`tags`]); lookups by id, by filter and by relevance-ranked text
//! search live here and in [`search`].
//!
//! Where questions come from ([`BankSources`]): the shipped bank, compiled into the
//! binary from `questions/` (`build.rs` lists its files), so prepbot runs from any
//! directory; and a team's packs, a directory on disk, on top of it. A pack question
//! with a shipped id replaces the shipped one ([`QuestionBank::overrides`]).
//!
//! Which bank is strict about tags: a bank directory that carries its own
//! `tags.toml` (the shipped `questions/` does) is checked against it, and a tag
//! problem is an error. Any other directory, a team's own pack, is checked against
//! the shipped vocabulary compiled into the binary, and tag problems are warnings
//! ([`QuestionBank::warnings`]): a pack's tags are its authors' business, and the
//! bot should not refuse to start over them.

mod parse;
mod search;
mod tags;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use parse::{BankError, BankErrors};
pub use search::SearchHit;
pub use tags::{TagClass, TagProblem, Vocabulary, VocabularyError};

/// The file in a bank directory that makes its tags strict (see the module docs).
pub const TAGS_FILE: &str = "tags.toml";

/// Every file of `questions/` at build time (see `build.rs`).
const SHIPPED_FILES: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/shipped_bank.rs"));

/// Where the shipped bank's questions say they come from (in errors and `path`): not a
/// directory on disk.
pub const SHIPPED_ROOT: &str = "<shipped>";

/// Which banks to read: the shipped one (unless turned off) and a team's packs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankSources {
    pub shipped: bool,
    /// A bank directory laid out like `questions/`, added on top of the shipped bank.
    pub packs: Option<PathBuf>,
}

impl Default for BankSources {
    fn default() -> Self {
        BankSources {
            shipped: true,
            packs: None,
        }
    }
}

/// A pack question that took the place of a shipped question with the same id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub id: String,
    /// The pack's file.
    pub path: PathBuf,
}

/// One bank a [`QuestionBank`] was read from, for `prepbot check` and the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankOrigin {
    /// `None` for the shipped bank.
    pub dir: Option<PathBuf>,
    pub questions: usize,
}

impl fmt::Display for BankOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.questions == 1 { "" } else { "s" };
        match &self.dir {
            None => write!(
                f,
                "the shipped bank ({} question{plural}, built in)",
                self.questions
            ),
            Some(dir) => write!(
                f,
                "the packs at {} ({} question{plural})",
                dir.display(),
                self.questions
            ),
        }
    }
}

/// How hard a question is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Difficulty {
    Easy,
    Medium,
    Hard,
}

/// What sort of interview question it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Technical,
    SystemDesign,
    Behavioral,
    Situational,
    CultureFit,
}

impl Difficulty {
    pub const ALL: [Difficulty; 3] = [Difficulty::Easy, Difficulty::Medium, Difficulty::Hard];

    pub fn as_str(self) -> &'static str {
        match self {
            Difficulty::Easy => "easy",
            Difficulty::Medium => "medium",
            Difficulty::Hard => "hard",
        }
    }
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Technical,
        Kind::SystemDesign,
        Kind::Behavioral,
        Kind::Situational,
        Kind::CultureFit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Technical => "technical",
            Kind::SystemDesign => "system-design",
            Kind::Behavioral => "behavioral",
            Kind::Situational => "situational",
            Kind::CultureFit => "culture-fit",
        }
    }
}

impl fmt::Display for Difficulty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value that is not one of an enum's spellings; the message lists the accepted ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{given}` (expected one of: {expected})")]
pub struct UnknownValue {
    pub what: &'static str,
    pub given: String,
    pub expected: String,
}

fn parse_enum<T: Copy>(
    what: &'static str,
    given: &str,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<T, UnknownValue> {
    let wanted = given.trim().to_ascii_lowercase();
    all.iter()
        .copied()
        .find(|v| name(*v) == wanted)
        .ok_or_else(|| UnknownValue {
            what,
            given: given.to_string(),
            expected: all.iter().map(|v| name(*v)).collect::<Vec<_>>().join(", "),
        })
}

impl FromStr for Difficulty {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_enum("difficulty", s, &Difficulty::ALL, Difficulty::as_str)
    }
}

impl FromStr for Kind {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_enum("kind", s, &Kind::ALL, Kind::as_str)
    }
}

/// One bank entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub id: String,
    pub title: String,
    pub topic: String,
    pub difficulty: Difficulty,
    pub kind: Kind,
    pub tags: Vec<String>,
    pub prompt: String,
    pub why_asked: Option<String>,
    pub model_answer: String,
    pub look_fors: Vec<String>,
    pub mistakes: Vec<String>,
    pub follow_ups: Vec<String>,
    pub tips: Option<String>,
    /// The file it was loaded from.
    pub path: PathBuf,
}

/// Which questions a channel draws from; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolFilter {
    pub topic: Option<String>,
    pub difficulty: Option<Difficulty>,
    pub kind: Option<Kind>,
}

impl PoolFilter {
    pub fn matches(&self, q: &Question) -> bool {
        self.topic.as_deref().is_none_or(|t| q.topic == t)
            && self.difficulty.is_none_or(|d| q.difficulty == d)
            && self.kind.is_none_or(|k| q.kind == k)
    }
}

impl fmt::Display for PoolFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(t) = &self.topic {
            parts.push(format!("topic {t}"));
        }
        if let Some(d) = self.difficulty {
            parts.push(format!("difficulty {d}"));
        }
        if let Some(k) = self.kind {
            parts.push(format!("kind {k}"));
        }
        if parts.is_empty() {
            f.write_str("all questions")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// Counts for `prepbot check`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BankSummary {
    pub total: usize,
    pub by_topic: BTreeMap<String, usize>,
    pub by_difficulty: BTreeMap<Difficulty, usize>,
    pub by_kind: BTreeMap<Kind, usize>,
}

/// A loaded, validated bank. Questions are kept sorted by id.
#[derive(Debug, Clone)]
pub struct QuestionBank {
    questions: Vec<Question>,
    by_id: HashMap<String, usize>,
    index: search::Index,
    vocabulary: Arc<Vocabulary>,
    warnings: Vec<parse::TagWarning>,
    origins: Vec<BankOrigin>,
    overrides: Vec<Override>,
}

impl QuestionBank {
    /// The bank compiled into the binary, held to its own `tags.toml` (the shipped
    /// vocabulary). A test checks it loads, so this fails only in a broken build.
    pub fn shipped() -> Result<Self, BankErrors> {
        let tree = parse::Embedded {
            root: Path::new(SHIPPED_ROOT),
            files: SHIPPED_FILES,
        };
        let vocabulary = Vocabulary::shipped();
        let loaded = parse::load_tree(
            &tree,
            Path::new(SHIPPED_ROOT),
            &vocabulary,
            parse::TagRule::Enforced,
        )?;
        let mut bank = Self::build(loaded.questions, vocabulary, vec![]);
        bank.origins = vec![BankOrigin {
            dir: None,
            questions: bank.len(),
        }];
        Ok(bank)
    }

    /// The banks `sources` names: the shipped one, then the packs on top (a pack
    /// question with a shipped id replaces it; [`Self::overrides`] lists those that
    /// differ). Neither is an error.
    pub fn from_sources(sources: &BankSources) -> Result<Self, BankErrors> {
        let shipped = if sources.shipped {
            Some(Self::shipped()?)
        } else {
            None
        };
        let Some(dir) = &sources.packs else {
            return shipped.ok_or_else(|| {
                BankErrors(vec![BankError {
                    path: PathBuf::from(SHIPPED_ROOT),
                    line: 0,
                    message: format!(
                        "no questions to read: the shipped bank is off and no packs are given (set {} to a bank directory)",
                        crate::config::vars::QUESTIONS
                    ),
                }])
            });
        };
        let packs = Self::load(dir)?;
        let Some(shipped) = shipped else {
            return Ok(packs);
        };
        let pack_origin = BankOrigin {
            dir: Some(dir.clone()),
            questions: packs.len(),
        };
        // Same content under the same id (a pack that copied the shipped file, or
        // `questions/` itself given as a pack) replaces nothing worth a log line.
        let same = |a: &Question, b: &Question| {
            Question {
                path: PathBuf::new(),
                ..a.clone()
            } == Question {
                path: PathBuf::new(),
                ..b.clone()
            }
        };
        let mut overrides = Vec::new();
        let mut questions: Vec<Question> = shipped
            .questions
            .into_iter()
            .filter(|q| match packs.get(&q.id) {
                Some(p) => {
                    if !same(p, q) {
                        overrides.push(Override {
                            id: q.id.clone(),
                            path: p.path.clone(),
                        });
                    }
                    false
                }
                None => true,
            })
            .collect();
        questions.extend(packs.questions);
        // The pack's vocabulary when it brought its own (its aliases then serve
        // search), the shipped one otherwise.
        let mut bank = Self::build(questions, packs.vocabulary, packs.warnings);
        bank.origins = vec![shipped.origins[0].clone(), pack_origin];
        bank.overrides = overrides;
        Ok(bank)
    }

    /// The banks this one was read from (`prepbot check` and `questions` name them).
    pub fn origins(&self) -> &[BankOrigin] {
        &self.origins
    }

    /// Pack questions that replaced a different shipped question with the same id.
    pub fn overrides(&self) -> &[Override] {
        &self.overrides
    }

    /// Loads every question under `dir`, or returns every problem found. Tags are
    /// enforced when `dir` holds a `tags.toml`, and only warned about otherwise.
    pub fn load(dir: &Path) -> Result<Self, BankErrors> {
        let tags_path = dir.join(TAGS_FILE);
        if !tags_path.is_file() {
            let vocabulary = Vocabulary::shipped();
            let loaded = parse::load_dir(dir, &vocabulary, parse::TagRule::Advised)?;
            return Ok(Self::build(loaded.questions, vocabulary, loaded.warnings).read_from(dir));
        }
        let vocabulary_errors = |errors: Vec<VocabularyError>| -> Vec<BankError> {
            errors
                .into_iter()
                .map(|e| BankError {
                    path: tags_path.clone(),
                    line: e.line,
                    message: e.message,
                })
                .collect()
        };
        let parsed = std::fs::read_to_string(&tags_path)
            .map_err(|e| {
                vec![VocabularyError {
                    line: 0,
                    message: format!("cannot read the tag vocabulary: {e}"),
                }]
            })
            .and_then(|text| Vocabulary::parse(&text));
        match parsed {
            Ok(vocabulary) => {
                let loaded = parse::load_dir(dir, &vocabulary, parse::TagRule::Enforced)?;
                Ok(Self::build(loaded.questions, Arc::new(vocabulary), vec![]).read_from(dir))
            }
            // Still read every question, to report all problems in one run.
            Err(errors) => {
                let mut all = vocabulary_errors(errors);
                let shipped = Vocabulary::shipped();
                if let Err(BankErrors(mut more)) =
                    parse::load_dir(dir, &shipped, parse::TagRule::Unchecked)
                {
                    all.append(&mut more);
                }
                Err(BankErrors(all))
            }
        }
    }

    /// Builds a bank from already-validated questions (ids must be unique); search
    /// uses the shipped vocabulary's aliases.
    pub fn from_questions(questions: Vec<Question>) -> Self {
        Self::build(questions, Vocabulary::shipped(), vec![])
    }

    fn build(
        mut questions: Vec<Question>,
        vocabulary: Arc<Vocabulary>,
        warnings: Vec<parse::TagWarning>,
    ) -> Self {
        questions.sort_by(|a, b| a.id.cmp(&b.id));
        let by_id = questions
            .iter()
            .enumerate()
            .map(|(i, q)| (q.id.clone(), i))
            .collect();
        let index = search::Index::build(&questions, &vocabulary);
        QuestionBank {
            questions,
            by_id,
            index,
            vocabulary,
            warnings,
            origins: vec![],
            overrides: vec![],
        }
    }

    fn read_from(mut self, dir: &Path) -> Self {
        self.origins = vec![BankOrigin {
            dir: Some(dir.to_path_buf()),
            questions: self.len(),
        }];
        self
    }

    /// Tag problems of a bank that does not enforce its tags (a team's pack), as
    /// `path:line: warning: ...` reports; empty for a bank with its own `tags.toml`.
    pub fn warnings(&self) -> Vec<BankError> {
        self.warnings
            .iter()
            .map(|w| BankError {
                path: w.path.clone(),
                line: w.line,
                message: format!("warning: {}", self.vocabulary.describe(&w.problem)),
            })
            .collect()
    }

    /// The tag vocabulary the bank was checked against.
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    pub fn len(&self) -> usize {
        self.questions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.questions.is_empty()
    }

    pub fn all(&self) -> &[Question] {
        &self.questions
    }

    pub fn get(&self, id: &str) -> Option<&Question> {
        self.by_id.get(id).map(|&i| &self.questions[i])
    }

    /// A question by an id a person typed: exact first, then ignoring ASCII case and
    /// surrounding spaces (`Redis-Persistence` is `redis-persistence`).
    pub fn find(&self, typed: &str) -> Option<&Question> {
        let typed = typed.trim();
        self.get(typed).or_else(|| {
            self.questions
                .iter()
                .find(|q| q.id.eq_ignore_ascii_case(typed))
        })
    }

    /// The id nearest to one that matched none, for a "did you mean": the fewest
    /// single-character edits (ignoring case), if few enough to be a slip (at most a
    /// third of the typed length, and at least 1); else an id that contains what was
    /// typed (4 characters or more).
    pub fn nearest_id(&self, typed: &str) -> Option<&str> {
        let typed = typed.trim().to_ascii_lowercase();
        if typed.is_empty() {
            return None;
        }
        let budget = (typed.chars().count() / 3).max(1);
        let closest = self
            .questions
            .iter()
            .map(|q| {
                (
                    edit_distance(&typed, &q.id.to_ascii_lowercase()),
                    q.id.as_str(),
                )
            })
            .filter(|(d, _)| *d <= budget)
            .min();
        if let Some((_, id)) = closest {
            return Some(id);
        }
        if typed.chars().count() >= 4 {
            return self
                .questions
                .iter()
                .map(|q| q.id.as_str())
                .find(|id| id.to_ascii_lowercase().contains(&typed));
        }
        None
    }

    /// The questions a filter admits, in id order.
    pub fn pool<'a>(&'a self, filter: &'a PoolFilter) -> impl Iterator<Item = &'a Question> + 'a {
        self.questions.iter().filter(move |q| filter.matches(q))
    }

    /// A question drawn uniformly from the filter's pool, reproducible from `seed`.
    pub fn random(&self, filter: &PoolFilter, seed: u64) -> Option<&Question> {
        let pool: Vec<&Question> = self
            .questions
            .iter()
            .filter(|q| filter.matches(q))
            .collect();
        if pool.is_empty() {
            return None;
        }
        let i = (crate::mix::mix64(seed) % pool.len() as u64) as usize;
        Some(pool[i])
    }

    /// Text search ranked by relevance; title, tags and id weigh more than the body.
    pub fn search(&self, query: &str, limit: usize) -> Vec<SearchHit<'_>> {
        self.index.search(&self.questions, query, limit)
    }

    /// Topic names, sorted.
    pub fn topics(&self) -> Vec<&str> {
        let mut topics: Vec<&str> = self.questions.iter().map(|q| q.topic.as_str()).collect();
        topics.sort_unstable();
        topics.dedup();
        topics
    }

    pub fn summary(&self) -> BankSummary {
        let mut s = BankSummary {
            total: self.questions.len(),
            ..BankSummary::default()
        };
        for q in &self.questions {
            *s.by_topic.entry(q.topic.clone()).or_default() += 1;
            *s.by_difficulty.entry(q.difficulty).or_default() += 1;
            *s.by_kind.entry(q.kind).or_default() += 1;
        }
        s
    }
}

/// Levenshtein distance over chars (ids are short: two rows are plenty).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut row = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            row[j + 1] = substitute.min(prev[j + 1] + 1).min(row[j] + 1);
        }
        std::mem::swap(&mut prev, &mut row);
    }
    prev[b.len()]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn typed_ids_match_ignoring_case_and_slips_get_a_suggestion() {
        let bank = QuestionBank::from_questions(vec![
            question("redis-persistence", "caching", Difficulty::Easy),
            question("sql-indexes", "databases", Difficulty::Hard),
        ]);
        assert_eq!(
            bank.find(" Redis-PERSISTENCE ").map(|q| q.id.as_str()),
            Some("redis-persistence")
        );
        assert!(bank.find("redis").is_none());
        assert_eq!(
            bank.nearest_id("redis-persistance"),
            Some("redis-persistence")
        );
        assert_eq!(bank.nearest_id("SQL-INDEXS"), Some("sql-indexes"));
        assert_eq!(
            bank.nearest_id("redis"),
            Some("redis-persistence"),
            "a part of it"
        );
        assert_eq!(bank.nearest_id("kafka-partitions"), None);
        assert_eq!(bank.nearest_id("   "), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    /// A small valid question for unit tests elsewhere in the crate.
    pub(crate) fn question(id: &str, topic: &str, difficulty: Difficulty) -> Question {
        Question {
            id: id.to_string(),
            title: format!("Title of {id}"),
            topic: topic.to_string(),
            difficulty,
            kind: Kind::Technical,
            tags: vec![],
            prompt: format!("Prompt of {id}"),
            why_asked: None,
            model_answer: format!("Model answer of {id}"),
            look_fors: vec!["a".into(), "b".into(), "c".into()],
            mistakes: vec!["x".into(), "y".into()],
            follow_ups: vec![],
            tips: None,
            path: PathBuf::from(format!("{topic}/{id}.md")),
        }
    }

    #[test]
    fn enums_parse_their_spellings_and_reject_others_with_the_list() {
        assert_eq!("Hard".parse::<Difficulty>(), Ok(Difficulty::Hard));
        assert_eq!("culture-fit".parse::<Kind>(), Ok(Kind::CultureFit));
        let err = "brutal".parse::<Difficulty>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown difficulty `brutal` (expected one of: easy, medium, hard)"
        );
    }

    #[test]
    fn filter_and_random_respect_the_pool() {
        let bank = QuestionBank::from_questions(vec![
            question("b", "caching", Difficulty::Easy),
            question("a", "databases", Difficulty::Hard),
            question("c", "caching", Difficulty::Hard),
        ]);
        assert_eq!(bank.get("a").map(|q| q.topic.as_str()), Some("databases"));
        assert!(bank.get("zzz").is_none());
        let f = PoolFilter {
            topic: Some("caching".into()),
            difficulty: Some(Difficulty::Hard),
            kind: None,
        };
        let ids: Vec<&str> = bank.pool(&f).map(|q| q.id.as_str()).collect();
        assert_eq!(ids, ["c"]);
        for seed in 0..50 {
            assert_eq!(bank.random(&f, seed).map(|q| q.id.as_str()), Some("c"));
        }
        let any = PoolFilter::default();
        let seen: std::collections::HashSet<&str> = (0..200)
            .filter_map(|s| bank.random(&any, s))
            .map(|q| q.id.as_str())
            .collect();
        assert_eq!(seen.len(), 3, "every question is reachable at random");
        let none = PoolFilter {
            topic: Some("security".into()),
            ..PoolFilter::default()
        };
        assert!(bank.random(&none, 1).is_none());
        assert_eq!(bank.topics(), ["caching", "databases"]);
        assert_eq!(bank.summary().by_topic["caching"], 2);
    }
}
