//! Relevance-ranked text search over the bank.
//!
//! Each question gets a term -> weight map built once at load: a term found in the
//! title counts 6, in a tag 5, in the id 4, in the topic 3, in the prompt 2 and in
//! the rest of the body 1, each damped by `1 + ln(count)` so a long answer cannot
//! outvote a title; a term's weights from different fields add up. A query term scores its best weight times its inverse document
//! frequency; a term that is only a prefix of a word (`idempot`) scores half.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::Question;

/// One search result.
#[derive(Debug, Clone, Copy)]
pub struct SearchHit<'a> {
    pub question: &'a Question,
    pub score: f32,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    /// Per question (same order as the bank), term -> weight.
    terms: Vec<TermMap<f32>>,
    /// Term -> number of questions containing it.
    doc_freq: TermMap<u32>,
}

/// Building the index hashes every word of the bank a few times (about 1.5
/// million hashes for 1,000 questions), so the maps use FNV-1a rather than the
/// standard SipHash: the keys are the bank's own words, not input an attacker
/// chooses to collide.
type TermMap<V> = HashMap<String, V, BuildHasherDefault<Fnv>>;

#[derive(Debug, Clone, Copy)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "do", "for", "from", "how", "in", "is", "it",
    "of", "on", "or", "that", "the", "this", "to", "what", "when", "why", "with", "you", "your",
];

fn is_stopword(w: &str) -> bool {
    // Every stopword is short; most words are not.
    w.len() <= 4 && STOPWORDS.contains(&w)
}

/// Lowercased words that are not stopwords; an ASCII word already in lowercase is
/// not copied.
pub(crate) fn tokens(text: &str) -> impl Iterator<Item = Cow<'_, str>> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            if w.is_ascii() && !w.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Borrowed(w)
            } else {
                Cow::Owned(w.to_lowercase())
            }
        })
        .filter(|w| !is_stopword(w))
}

/// A question's term -> weight map. Each field's count of a term is damped
/// separately and the fields' weights add up in field order (title first).
fn term_weights(q: &Question) -> TermMap<f32> {
    const WEIGHTS: [f32; 6] = [6.0, 5.0, 4.0, 3.0, 2.0, 1.0];
    let tags = q.tags.join(" ");
    let body = [
        q.why_asked.as_deref().unwrap_or(""),
        &q.model_answer,
        &q.look_fors.join("\n"),
        &q.mistakes.join("\n"),
        &q.follow_ups.join("\n"),
        q.tips.as_deref().unwrap_or(""),
    ]
    .join("\n");
    let fields: [&str; 6] = [&q.title, &tags, &q.id, &q.topic, &q.prompt, &body];
    // One hash per word, and one copy per distinct term.
    let mut counts: HashMap<Cow<'_, str>, [u32; 6], BuildHasherDefault<Fnv>> = HashMap::default();
    for (field, text) in fields.iter().enumerate() {
        for t in tokens(text) {
            counts.entry(t).or_default()[field] += 1;
        }
    }
    counts
        .into_iter()
        .map(|(term, n)| {
            let mut weight = 0.0_f32;
            for (count, field_weight) in n.iter().zip(WEIGHTS) {
                if *count > 0 {
                    weight += field_weight * (1.0 + (*count as f32).ln());
                }
            }
            (term.into_owned(), weight)
        })
        .collect()
}

impl Index {
    pub(crate) fn build(questions: &[Question]) -> Self {
        let mut terms = Vec::with_capacity(questions.len());
        let mut doc_freq: TermMap<u32> = HashMap::default();
        for q in questions {
            let map = term_weights(q);
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
        Index { terms, doc_freq }
    }

    pub(crate) fn search<'a>(
        &self,
        questions: &'a [Question],
        query: &str,
        limit: usize,
    ) -> Vec<SearchHit<'a>> {
        let mut query_terms: Vec<String> = tokens(query).map(Cow::into_owned).collect();
        query_terms.sort();
        query_terms.dedup();
        if query_terms.is_empty() || limit == 0 {
            return Vec::new();
        }
        let n = questions.len().max(1) as f32;
        let idf = |term: &str| {
            let df = self.doc_freq.get(term).copied().unwrap_or(0) as f32;
            (1.0 + n / (1.0 + df)).ln()
        };
        let mut hits: Vec<SearchHit<'a>> = Vec::new();
        for (q, map) in questions.iter().zip(&self.terms) {
            let mut score = 0.0;
            for term in &query_terms {
                if let Some(w) = map.get(term) {
                    score += w * idf(term);
                } else if term.chars().count() >= 3 {
                    // Prefix match: the best-weighted word that starts with the term.
                    let best = map
                        .iter()
                        .filter(|(t, _)| t.starts_with(term.as_str()))
                        .map(|(t, w)| w * idf(t))
                        .fold(0.0_f32, f32::max);
                    score += 0.5 * best;
                }
            }
            if score > 0.0 {
                hits.push(SearchHit { question: q, score });
            }
        }
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.question.id.cmp(&b.question.id))
        });
        hits.truncate(limit);
        hits
    }
}

#[cfg(test)]
mod tests {
    use crate::bank::tests::question;
    use crate::bank::{Difficulty, QuestionBank};

    fn bank() -> QuestionBank {
        let mut title_hit = question("cache-stampede", "caching", Difficulty::Medium);
        title_hit.title = "Cache stampedes".into();
        let mut tag_hit = question("hot-keys", "caching", Difficulty::Medium);
        tag_hit.tags = vec!["cache".into()];
        let mut body_hit = question("slow-endpoint", "performance", Difficulty::Easy);
        body_hit.model_answer = "Add a cache, then a cache again, cache cache cache.".into();
        let mut idem = question("idempotency", "distributed-systems", Difficulty::Medium);
        idem.title = "Idempotent payment APIs".into();
        let unrelated = question("cors", "security", Difficulty::Easy);
        QuestionBank::from_questions(vec![body_hit, unrelated, tag_hit, title_hit, idem])
    }

    #[test]
    fn title_outranks_tags_which_outrank_body_mentions() {
        let bank = bank();
        let ids: Vec<&str> = bank
            .search("cache", 10)
            .iter()
            .map(|h| h.question.id.as_str())
            .collect();
        assert_eq!(ids, ["cache-stampede", "hot-keys", "slow-endpoint"]);
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
        assert!(bank.search("kubernetes", 5).is_empty());
        assert!(bank.search("", 5).is_empty());
    }

    #[test]
    fn more_matching_terms_rank_higher() {
        let bank = bank();
        let hits = bank.search("idempotent payment cache", 5);
        assert_eq!(hits[0].question.id, "idempotency");
    }
}
