//! Relevance-ranked text search over the bank.
//!
//! Each question gets a term -> weight map built once at load: a term found in the
//! title counts 6, in a tag 5, in the id 4, in the topic 3, in the prompt 2 and in
//! the rest of the body 1, each damped by `1 + ln(count)` so a long answer cannot
//! outvote a title; a term's weights from different fields add up. A query term scores its best weight times its inverse document
//! frequency; a term that is only a prefix of a word (`idempot`) scores half.

use std::collections::HashMap;

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
    terms: Vec<HashMap<String, f32>>,
    /// Term -> number of questions containing it.
    doc_freq: HashMap<String, u32>,
}

const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "do", "for", "from", "how", "in", "is", "it",
    "of", "on", "or", "that", "the", "this", "to", "what", "when", "why", "with", "you", "your",
];

pub(crate) fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
}

fn add_field(map: &mut HashMap<String, f32>, text: &str, weight: f32) {
    let mut counts: HashMap<String, u32> = HashMap::new();
    for t in tokens(text) {
        *counts.entry(t).or_default() += 1;
    }
    for (term, n) in counts {
        *map.entry(term).or_default() += weight * (1.0 + (n as f32).ln());
    }
}

impl Index {
    pub(crate) fn build(questions: &[Question]) -> Self {
        let mut terms = Vec::with_capacity(questions.len());
        let mut doc_freq: HashMap<String, u32> = HashMap::new();
        for q in questions {
            let mut map = HashMap::new();
            add_field(&mut map, &q.title, 6.0);
            add_field(&mut map, &q.tags.join(" "), 5.0);
            add_field(&mut map, &q.id, 4.0);
            add_field(&mut map, &q.topic, 3.0);
            add_field(&mut map, &q.prompt, 2.0);
            let body = [
                q.why_asked.as_deref().unwrap_or(""),
                &q.model_answer,
                &q.look_fors.join("\n"),
                &q.mistakes.join("\n"),
                &q.follow_ups.join("\n"),
                q.tips.as_deref().unwrap_or(""),
            ]
            .join("\n");
            add_field(&mut map, &body, 1.0);
            for term in map.keys() {
                *doc_freq.entry(term.clone()).or_default() += 1;
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
        let mut query_terms: Vec<String> = tokens(query).collect();
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
