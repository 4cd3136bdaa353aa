//! Relevance-ranked text search over the bank.
//!
//! Words are lowercased and reduced to their Snowball English stem, so `retries`
//! finds `retry` and `migration` finds `migrations`. Each question gets a
//! stem -> weight map built once at load: a stem found in the title counts 6, in
//! a tag 5, in the id 4, in the topic 3, in the prompt 2 and in the rest of the
//! body 1, each damped by `1 + ln(count)` so a long answer cannot outvote a title;
//! each canonical tag also counts 5 as a whole (`#kubernetes`).
//!
//! A query is read twice. Its words (stopwords dropped) score their weight times
//! their inverse document frequency; a word that is only a prefix of a stem
//! (`idempot`) scores half. Runs of up to three words that spell a tag or an alias
//! of the vocabulary (`k8s`, `sql injection`, `star method`) also score the
//! canonical tag, and the canonical tag's own words at half weight (`k8s` looks
//! for the word `kubernetes`). A query that names a topic (`caching`,
//! `distributed systems`) lists that topic's questions first.

use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::collections::HashMap;

use rust_stemmers::{Algorithm, Stemmer};

use super::Question;
use super::tags::Vocabulary;

/// One search result.
#[derive(Debug, Clone, Copy)]
pub struct SearchHit<'a> {
    pub question: &'a Question,
    pub score: f32,
}

/// Field weights, in the order [`term_weights`] reads the fields.
const WEIGHTS: [f32; 6] = [6.0, 5.0, 4.0, 3.0, 2.0, 1.0];
/// The weight of a canonical tag as a whole, as much as a tag's words.
const TAG_WEIGHT: f32 = 5.0;
/// A canonical tag's words, when the query spelled the tag another way.
const EXPANDED: f32 = 0.5;
/// A query word that is only a prefix of a question's stem.
const PREFIX: f32 = 0.5;
/// The longest alias, in words (`situation-task-action-result` aside, which is
/// also reachable as `star`).
const MAX_PHRASE: usize = 3;
/// Prefix expansions looked at per query word: enough for any real prefix of
/// the bank's words, and a bound on the work a one-letter prefix could cause.
const MAX_EXPANSIONS: usize = 64;

#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    /// Per question (same order as the bank), term -> weight. A term is a stem,
    /// or `#` and a canonical tag.
    terms: Vec<TermMap<f32>>,
    /// Term -> number of questions containing it.
    doc_freq: TermMap<u32>,
    /// Every stem in the bank, sorted, for prefix matches.
    sorted_stems: Vec<String>,
    /// Every spelling of a tag (canonical or alias) -> its canonical tag.
    phrases: HashMap<String, String>,
    /// Each topic's name as stems (`distributed-systems` -> `distribut system`).
    topics: Vec<(String, String)>,
}

/// Building the index hashes every word of the bank a few times (about 1.5
/// million hashes for 1,000 questions), so the maps use rustc-hash's FxHasher
/// rather than the standard SipHash: the keys are the bank's own words, not input
/// an attacker chooses to collide.
type TermMap<V> = FxHashMap<String, V>;

const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "do", "for", "from", "how", "in", "is", "it",
    "of", "on", "or", "that", "the", "this", "to", "what", "when", "why", "with", "you", "your",
];

fn is_stopword(w: &str) -> bool {
    // Every stopword is short; most words are not.
    w.len() <= 4 && STOPWORDS.contains(&w)
}

/// Lowercased words, stopwords included; an ASCII word already in lowercase is
/// not copied.
fn words(text: &str) -> impl Iterator<Item = Cow<'_, str>> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            if w.is_ascii() && !w.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Borrowed(w)
            } else {
                Cow::Owned(w.to_lowercase())
            }
        })
}

fn stemmer() -> Stemmer {
    Stemmer::create(Algorithm::English)
}

/// Stems words, remembering each word's stem: a bank repeats its words many
/// times and stemming costs more than a lookup.
#[derive(Default)]
struct StemCache<'t> {
    stems: FxHashMap<Cow<'t, str>, String>,
}

impl<'t> StemCache<'t> {
    fn stem(&mut self, stemmer: &Stemmer, word: Cow<'t, str>) -> &str {
        self.stems
            .entry(word)
            .or_insert_with_key(|w| stemmer.stem(w).into_owned())
    }
}

/// A question's term -> weight map. Each field's count of a stem is damped
/// separately and the fields' weights add up.
fn term_weights<'t>(
    q: &'t Question,
    body: &'t str,
    tags: &'t str,
    stemmer: &Stemmer,
    cache: &mut StemCache<'t>,
) -> TermMap<f32> {
    let fields: [&str; 6] = [&q.title, tags, &q.id, &q.topic, &q.prompt, body];
    let mut counts: TermMap<[u32; 6]> = HashMap::default();
    for (field, text) in fields.iter().enumerate() {
        for w in words(text).filter(|w| !is_stopword(w)) {
            let stem = cache.stem(stemmer, w);
            match counts.get_mut(stem) {
                Some(n) => n[field] += 1,
                None => {
                    let mut n = [0; 6];
                    n[field] = 1;
                    counts.insert(stem.to_string(), n);
                }
            }
        }
    }
    let mut weights: TermMap<f32> = counts
        .into_iter()
        .map(|(term, n)| {
            let mut weight = 0.0_f32;
            for (count, field_weight) in n.iter().zip(WEIGHTS) {
                if *count > 0 {
                    weight += field_weight * (1.0 + (*count as f32).ln());
                }
            }
            (term, weight)
        })
        .collect();
    for tag in &q.tags {
        weights.insert(format!("#{tag}"), TAG_WEIGHT);
    }
    weights
}

/// One term of a parsed query and how much it counts.
#[derive(Debug, PartialEq)]
struct QueryTerm {
    term: String,
    factor: f32,
}

/// A query term with what scoring it needs, computed once per search.
struct PreparedTerm<'q> {
    term: &'q str,
    factor: f32,
    idf: f32,
    /// Stems of the bank this term is a prefix of, with their idf.
    expansions: Vec<(&'q str, f32)>,
}

impl Index {
    pub(crate) fn build(questions: &[Question], vocabulary: &Vocabulary) -> Self {
        let stemmer = stemmer();
        // The joined texts live here so the stem cache can borrow their words.
        let texts: Vec<(String, String)> = questions
            .iter()
            .map(|q| {
                let body = [
                    q.why_asked.as_deref().unwrap_or(""),
                    &q.model_answer,
                    &q.look_fors.join("\n"),
                    &q.mistakes.join("\n"),
                    &q.follow_ups.join("\n"),
                    q.tips.as_deref().unwrap_or(""),
                ]
                .join("\n");
                (body, q.tags.join(" "))
            })
            .collect();
        let mut cache = StemCache::default();
        let mut terms = Vec::with_capacity(questions.len());
        let mut doc_freq: TermMap<u32> = HashMap::default();
        for (q, (body, tags)) in questions.iter().zip(&texts) {
            let map = term_weights(q, body, tags, &stemmer, &mut cache);
            for term in map.keys() {
                match doc_freq.get_mut(term) {
                    Some(n) => *n += 1,
                    None => {
                        doc_freq.insert(term.clone(), 1);
                    }
                }
            }
            terms.push(map);
        }
        let mut sorted_stems: Vec<String> = doc_freq
            .keys()
            .filter(|t| !t.starts_with('#'))
            .cloned()
            .collect();
        sorted_stems.sort_unstable();
        let phrases = vocabulary
            .spellings()
            .map(|(spelling, canonical)| (spelling.to_string(), canonical.to_string()))
            .collect();
        let mut topics: Vec<(String, String)> = questions
            .iter()
            .map(|q| (q.topic.clone(), stem_phrase(&stemmer, &q.topic)))
            .collect();
        topics.sort_unstable();
        topics.dedup();
        Index {
            terms,
            doc_freq,
            sorted_stems,
            phrases,
            topics,
        }
    }

    /// The query's terms: its words' stems, and for each run of words that spells
    /// a tag, the canonical tag and its words at half weight.
    fn query_terms(&self, query: &str, stemmer: &Stemmer) -> Vec<QueryTerm> {
        let raw: Vec<Cow<'_, str>> = words(query).collect();
        let mut out: Vec<QueryTerm> = Vec::new();
        let add = |out: &mut Vec<QueryTerm>, term: String, factor: f32| match out
            .iter_mut()
            .find(|t| t.term == term)
        {
            Some(t) => t.factor = t.factor.max(factor),
            None => out.push(QueryTerm { term, factor }),
        };
        for w in raw.iter().filter(|w| !is_stopword(w)) {
            add(&mut out, stemmer.stem(w).into_owned(), 1.0);
        }
        let mut i = 0;
        while i < raw.len() {
            let longest = (1..=MAX_PHRASE.min(raw.len() - i)).rev().find_map(|n| {
                let spelling = raw[i..i + n].join("-");
                self.phrases.get(&spelling).map(|canonical| (n, canonical))
            });
            match longest {
                Some((n, canonical)) => {
                    add(&mut out, format!("#{canonical}"), 1.0);
                    for w in canonical.split('-').filter(|w| !is_stopword(w)) {
                        add(&mut out, stemmer.stem(w).into_owned(), EXPANDED);
                    }
                    i += n;
                }
                None => i += 1,
            }
        }
        out
    }

    /// The topic a query names, if any: its words' stems equal the topic's.
    fn named_topic(&self, query: &str, stemmer: &Stemmer) -> Option<&str> {
        let wanted = stem_phrase(stemmer, query);
        if wanted.is_empty() {
            return None;
        }
        self.topics
            .iter()
            .find(|(_, stems)| *stems == wanted)
            .map(|(topic, _)| topic.as_str())
    }

    /// Stems in the bank that start with `prefix` (and are not it).
    fn expansions(&self, prefix: &str) -> &[String] {
        let start = self.sorted_stems.partition_point(|s| s.as_str() <= prefix);
        let len = self.sorted_stems[start..]
            .iter()
            .take(MAX_EXPANSIONS)
            .take_while(|s| s.starts_with(prefix))
            .count();
        &self.sorted_stems[start..start + len]
    }

    pub(crate) fn search<'a>(
        &self,
        questions: &'a [Question],
        query: &str,
        limit: usize,
    ) -> Vec<SearchHit<'a>> {
        let stemmer = stemmer();
        let query_terms = self.query_terms(query, &stemmer);
        if query_terms.is_empty() || limit == 0 {
            return Vec::new();
        }
        let n = questions.len().max(1) as f32;
        let idf = |term: &str| {
            let df = self.doc_freq.get(term).copied().unwrap_or(0) as f32;
            (1.0 + n / (1.0 + df)).ln()
        };
        // Per query term: its idf, and for a stem of three letters or more, the
        // stems it is a prefix of with theirs.
        let prepared: Vec<PreparedTerm<'_>> = query_terms
            .iter()
            .map(|t| PreparedTerm {
                term: &t.term,
                factor: t.factor,
                idf: idf(&t.term),
                expansions: if t.term.starts_with('#') || t.term.chars().count() < 3 {
                    Vec::new()
                } else {
                    self.expansions(&t.term)
                        .iter()
                        .map(|s| (s.as_str(), idf(s)))
                        .collect()
                },
            })
            .collect();
        let topic = self.named_topic(query, &stemmer);
        let mut hits: Vec<(bool, SearchHit<'a>)> = Vec::new();
        for (q, map) in questions.iter().zip(&self.terms) {
            let mut score = 0.0;
            for t in &prepared {
                if let Some(w) = map.get(t.term) {
                    score += t.factor * w * t.idf;
                } else {
                    // Prefix match: the best-weighted stem that starts with the term.
                    let best = t
                        .expansions
                        .iter()
                        .filter_map(|(s, s_idf)| map.get(*s).map(|w| w * s_idf))
                        .fold(0.0_f32, f32::max);
                    score += t.factor * PREFIX * best;
                }
            }
            let in_topic = topic == Some(q.topic.as_str());
            if score > 0.0 || in_topic {
                hits.push((in_topic, SearchHit { question: q, score }));
            }
        }
        hits.sort_by(|(a_topic, a), (b_topic, b)| {
            b_topic
                .cmp(a_topic)
                .then_with(|| b.score.total_cmp(&a.score))
                .then_with(|| a.question.id.cmp(&b.question.id))
        });
        hits.truncate(limit);
        hits.into_iter().map(|(_, hit)| hit).collect()
    }
}

/// A phrase as its words' stems joined by spaces, stopwords dropped: the form a
/// topic name and a query are compared in.
fn stem_phrase(stemmer: &Stemmer, text: &str) -> String {
    words(text)
        .filter(|w| !is_stopword(w))
        .map(|w| stemmer.stem(&w).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bank::tests::question;
    use crate::bank::{Difficulty, QuestionBank};

    fn bank() -> QuestionBank {
        let mut title_hit = question("cache-stampede", "caching", Difficulty::Medium);
        title_hit.title = "Cache stampedes".into();
        let mut tag_hit = question("hot-keys", "caching", Difficulty::Medium);
        tag_hit.tags = vec!["caching".into()];
        let mut body_hit = question("slow-endpoint", "performance", Difficulty::Easy);
        body_hit.model_answer = "Add a cache, then a cache again, cache cache cache.".into();
        let mut idem = question("idempotency", "distributed-systems", Difficulty::Medium);
        idem.title = "Idempotent payment APIs".into();
        let mut k8s = question("probes", "devops", Difficulty::Medium);
        k8s.title = "Liveness and readiness probes".into();
        k8s.tags = vec!["kubernetes".into(), "health-check".into()];
        let mut retries = question("timeouts", "distributed-systems", Difficulty::Medium);
        retries.title = "Timeouts and retries".into();
        let unrelated = question("cors", "security", Difficulty::Easy);
        QuestionBank::from_questions(vec![
            body_hit, unrelated, tag_hit, title_hit, idem, k8s, retries,
        ])
    }

    fn ids(bank: &QuestionBank, query: &str) -> Vec<String> {
        bank.search(query, 10)
            .iter()
            .map(|h| h.question.id.clone())
            .collect()
    }

    #[test]
    fn title_outranks_tags_which_outrank_body_mentions() {
        let bank = bank();
        assert_eq!(
            ids(&bank, "stampede"),
            ["cache-stampede"],
            "a plural title word matches its singular"
        );
        let hits = ids(&bank, "cache");
        assert_eq!(hits[..3], ["cache-stampede", "hot-keys", "slow-endpoint"]);
    }

    #[test]
    fn plurals_and_word_forms_match_through_stems() {
        let bank = bank();
        assert_eq!(ids(&bank, "retry"), ["timeouts"]);
        assert_eq!(ids(&bank, "timeout"), ["timeouts"]);
        assert_eq!(ids(&bank, "idempotency"), ["idempotency"]);
    }

    #[test]
    fn an_alias_finds_the_canonical_tag_and_its_words() {
        let bank = bank();
        assert_eq!(ids(&bank, "k8s"), ["probes"]);
        assert_eq!(ids(&bank, "K8s probes")[0], "probes");
        // A two-word alias spelled with a space.
        assert_eq!(ids(&bank, "health checks")[0], "probes");
    }

    #[test]
    fn a_topic_name_lists_that_topic_first() {
        let bank = bank();
        let hits = ids(&bank, "caching");
        assert_eq!(hits.len(), 3, "{hits:?}");
        let first_two: Vec<_> = hits[..2]
            .iter()
            .map(|id| bank.get(id).unwrap().topic.as_str())
            .collect();
        assert_eq!(first_two, ["caching", "caching"], "{hits:?}");
        let hits = ids(&bank, "distributed systems");
        assert_eq!(hits.len(), 2);
        assert!(
            hits.iter()
                .all(|id| id == "idempotency" || id == "timeouts")
        );
    }

    #[test]
    fn prefixes_and_case_match_and_limit_applies() {
        let bank = bank();
        let hits = bank.search("IDEMPOT", 10);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].question.id, "idempotency");
        assert_eq!(bank.search("cache", 1).len(), 1);
    }

    #[test]
    fn stopwords_and_unknown_terms_find_nothing() {
        let bank = bank();
        assert!(bank.search("the of and", 5).is_empty());
        assert!(bank.search("gossip", 5).is_empty());
        assert!(bank.search("", 5).is_empty());
    }

    #[test]
    fn more_matching_terms_rank_higher() {
        let bank = bank();
        let hits = bank.search("idempotent payment cache", 5);
        assert_eq!(hits[0].question.id, "idempotency");
    }

    #[test]
    fn query_terms_hold_stems_tags_and_expanded_words() {
        let index = Index::build(&[], &Vocabulary::shipped());
        let terms = index.query_terms("SQL injection", &stemmer());
        let shown: Vec<(&str, f32)> = terms.iter().map(|t| (t.term.as_str(), t.factor)).collect();
        assert_eq!(shown, [("sql", 1.0), ("inject", 1.0), ("#injection", 1.0)]);
    }
}
