//! The shipped question bank: size, coverage of the seed lists, and substance.

use std::path::Path;

use prepbot_core::bank::{Kind, QuestionBank};

fn bank() -> QuestionBank {
    QuestionBank::load(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../questions")
            .as_path(),
    )
    .unwrap_or_else(|e| panic!("the shipped bank must load:\n{e}"))
}

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

#[test]
fn the_bank_has_at_least_sixty_questions_of_every_kind() {
    let bank = bank();
    assert!(bank.len() >= 60, "only {} questions", bank.len());
    let s = bank.summary();
    for kind in Kind::ALL {
        assert!(
            s.by_kind.get(&kind).copied().unwrap_or(0) >= 3,
            "too few {kind} questions"
        );
    }
    assert_eq!(s.by_difficulty.len(), 3, "every difficulty is represented");
}

/// Every question of the four seed lists (`shared/seeds/`), with the file that
/// answers it, the kind that matches the seed's format, and terms of the seed
/// question (or its expected answer) that the file's title, prompt and model
/// answer must contain. Seed 003 labels design questions "technical" or
/// "role-specific"; the bank's kind for a design question is `system-design`.
/// Seed 001-11 asks three things (sensitive data, authentication,
/// authorization), so it has three rows.
#[rustfmt::skip]
const SEED_COVERAGE: &[(&str, &str, Kind, &[&str])] = &[
    ("000-1 API at 10k requests per second", "api-at-10k-rps", Kind::SystemDesign, &["10,000", "100 ms", "replica"]),
    ("000-2 CAP theorem in database design", "cap-theorem", Kind::Technical, &["partition", "availab", "dynamodb"]),
    ("000-3 zero-downtime database migrations", "zero-downtime-migrations", Kind::Technical, &["expand", "contract", "feature flag"]),
    ("000-4 API auth: JWT, sessions, OAuth", "auth-jwt-sessions-oauth", Kind::Technical, &["jwt", "session", "oauth", "refresh token"]),
    ("000-5 idempotency in distributed systems", "idempotency", Kind::Technical, &["idempotency key", "payment", "at-least-once"]),
    ("000-6 job queue for background tasks", "background-job-queue", Kind::SystemDesign, &["dead-letter", "retries", "visibility timeout"]),
    ("000-7 logging and observability in microservices", "logging-and-tracing-in-microservices", Kind::Technical, &["structured", "correlation", "opentelemetry"]),
    ("000-8 connection pooling", "connection-pooling", Kind::Technical, &["pgbouncer", "hikaricp", "sizing"]),
    ("000-9 data consistency across services", "consistency-across-services", Kind::Technical, &["saga", "compensat", "two-phase commit"]),
    ("000-10 API security practices", "api-security-practices", Kind::Technical, &["validat", "rate limit", "cors", "secret"]),
    ("001-1 synchronous vs asynchronous processing", "sync-vs-async-processing", Kind::Technical, &["synchronous", "queue", "email"]),
    ("001-2 RESTful API design", "rest-api-design", Kind::Technical, &["stateless", "status code", "version"]),
    ("001-3 microservices vs monolith", "microservices-vs-monolith", Kind::Technical, &["microservice", "monolith", "deploy"]),
    ("001-4 caching in backend applications", "caching-strategy-and-invalidation", Kind::Technical, &["redis", "ttl", "invalidat"]),
    ("001-5 schema changes in production", "zero-downtime-migrations", Kind::Technical, &["schema", "migration", "rollback"]),
    ("001-6 load balancing algorithms", "load-balancing-algorithms", Kind::Technical, &["round robin", "least connections", "hash"]),
    ("001-7 SQL vs NoSQL", "sql-vs-nosql", Kind::Technical, &["acid", "nosql", "schema"]),
    ("001-8 data integrity and consistency (quorums, Paxos/Raft)", "raft-consensus-and-quorums", Kind::Technical, &["quorum", "raft", "leader"]),
    ("001-9 HTTP status codes and error handling", "http-status-codes-and-errors", Kind::Technical, &["404", "500", "status code"]),
    ("001-10 improving a slow API", "slow-api-endpoint", Kind::Technical, &["n+1", "index", "cach"]),
    ("001-11 securing sensitive data", "protecting-sensitive-data", Kind::Technical, &["encrypt", "argon2", "hash"]),
    ("001-11 authentication (OAuth, OIDC, JWT)", "auth-jwt-sessions-oauth", Kind::Technical, &["oauth", "openid connect", "jwt"]),
    ("001-11 authorization (RBAC, ABAC)", "authorization-models-at-scale", Kind::Technical, &["rbac", "abac", "permission"]),
    ("001-12 dependency injection", "dependency-injection", Kind::Technical, &["dependenc", "inject", "test"]),
    ("001-13 CAP theorem trade-offs", "cap-theorem", Kind::Technical, &["consistency", "partition", "availab"]),
    ("001-14 monitoring and logging backend services", "monitoring-metrics-and-alerting", Kind::Technical, &["metric", "log", "alert"]),
    ("001-15 containers and orchestration", "containers-and-orchestration", Kind::Technical, &["docker", "kubernetes", "image"]),
    ("002-Q1 SQL vs NoSQL with a project example", "sql-vs-nosql", Kind::Technical, &["nosql", "relational", "acid"]),
    ("002-Q2 caching a high-traffic endpoint", "caching-strategy-and-invalidation", Kind::Technical, &["redis", "invalidat", "cache-aside"]),
    ("002-Q3 slow database query in production", "slow-query-in-production", Kind::Technical, &["explain", "index", "production"]),
    ("002-Q4 JWT vs OAuth 2.0 vs sessions", "auth-jwt-sessions-oauth", Kind::Technical, &["jwt", "oauth", "session"]),
    ("002-Q5 critical production bug", "production-bug-story", Kind::Behavioral, &["production", "bug", "critical"]),
    ("002-Q6 refactoring legacy code", "legacy-refactor-story", Kind::Behavioral, &["legacy", "refactor", "test"]),
    ("002-Q7 technical disagreement with frontend or other teams", "cross-team-disagreement", Kind::Behavioral, &["mobile", "frontend", "team"]),
    ("002-Q8 inherited microservice, no docs, no tests", "inherited-undocumented-service", Kind::Situational, &["documentation", "test", "two weeks"]),
    ("002-Q9 own API design causing performance problems", "api-design-under-load", Kind::Situational, &["teams", "depend", "latency"]),
    ("002-Q10 on-call, high-latency alert", "on-call-latency-alert", Kind::Situational, &["latency", "stakeholder", "p99"]),
    ("003-1 social feed for 1 million concurrent users", "social-feed-at-scale", Kind::SystemDesign, &["feed", "fan-out", "1 million"]),
    ("003-2 SQL vs NoSQL and consistency in NoSQL", "sql-vs-nosql", Kind::Technical, &["nosql", "consistency", "quorum"]),
    ("003-3 slow endpoint taking 5 seconds", "slow-api-endpoint", Kind::Technical, &["5 s", "trace", "n+1"]),
    ("003-4 difficult team member or stakeholder", "difficult-stakeholder", Kind::Behavioral, &["finance", "relationship", "requirement"]),
    ("003-5 critical technical decision under a tight deadline", "decision-under-deadline", Kind::Behavioral, &["deadline", "decision", "risk"]),
    ("003-6 performance bottleneck you solved", "performance-bottleneck-story", Kind::Behavioral, &["bottleneck", "query", "index"]),
    ("003-7 Black Friday traffic spike, 500 errors", "black-friday-traffic-spike", Kind::Situational, &["black friday", "500", "connection pool"]),
    ("003-8 junior bypassing code review, memory leaks", "junior-bypassing-review", Kind::Situational, &["review", "memory", "branch protection"]),
    ("003-9 migrating a monolith to microservices with zero downtime", "monolith-to-microservices-migration", Kind::SystemDesign, &["strangler", "monolith", "payment"]),
    ("003-10 caching personalized news for 5 million users", "personalized-news-caching", Kind::SystemDesign, &["personali", "cdn", "edge"]),
    ("003-11 time zones and many hats at a startup", "time-zones-and-many-hats", Kind::CultureFit, &["time zone", "devops", "startup"]),
    ("003-12 disagreeing with the architect about NoSQL", "disagreeing-with-the-architect", Kind::CultureFit, &["nosql", "relational", "architect"]),
    ("003 Netflix report: video streaming backend for 200M users", "video-streaming-backend", Kind::SystemDesign, &["cdn", "video", "transcod"]),
    ("003 Netflix report: eventual consistency in a video catalog", "eventually-consistent-catalog", Kind::Technical, &["eventual", "catalog", "replica"]),
    ("003 Netflix report: real-time video recommendations", "real-time-recommendations", Kind::SystemDesign, &["recommend", "real-time", "video"]),
    ("003 Stripe report: payments processed exactly once", "idempotency", Kind::Technical, &["payment", "idempoten", "exactly once"]),
    ("003 Stripe report: retry logic with exponential backoff", "timeouts-retries-circuit-breakers", Kind::Technical, &["exponential", "backoff", "jitter"]),
    ("003 Shopify report: slow endpoint on Black Friday (N+1, indexes)", "n-plus-one-queries", Kind::Technical, &["n+1", "query", "eager"]),
    ("003 insider insight: back-of-envelope estimates", "back-of-envelope-estimation", Kind::SystemDesign, &["storage", "bandwidth", "estimat"]),
    ("003 insider insight: integrating third-party APIs", "unreliable-third-party-api", Kind::Technical, &["third-party", "rate-limit", "webhook"]),
    ("003 FAQ: design a URL shortener", "url-shortener", Kind::SystemDesign, &["short", "redirect", "base62"]),
    ("003 FAQ: design a chat system", "chat-system", Kind::SystemDesign, &["chat", "message", "presence"]),
    ("003 FAQ: Uber-like systems (ride-hailing, proximity)", "ride-hailing-dispatch", Kind::SystemDesign, &["driver", "location", "nearby"]),
    ("003 FAQ and smart question 5: testing strategy", "backend-testing-strategy", Kind::Technical, &["unit", "integration", "contract"]),
    ("003 smart questions to ask the interviewer", "questions-for-the-interviewer", Kind::CultureFit, &["incident", "test", "on-call"]),
];

/// The numbered questions of each seed list; the interview reports, insights and
/// FAQ prompts of seed 003 have no numbers and are listed by name above.
const SEED_NUMBERS: [(&str, usize); 4] = [("000-", 10), ("001-", 15), ("002-Q", 10), ("003-", 12)];

fn coverage_text(q: &prepbot_core::bank::Question) -> String {
    format!("{}\n{}\n{}", q.title, q.prompt, q.model_answer).to_lowercase()
}

#[test]
fn every_seed_question_is_answered_by_a_file_of_its_kind_that_names_its_terms() {
    let bank = bank();
    let mut problems = Vec::new();
    for (seed, id, kind, terms) in SEED_COVERAGE {
        assert!(terms.len() >= 2, "{seed}: name at least two terms");
        let Some(q) = bank.get(id) else {
            problems.push(format!("{seed}: no question `{id}`"));
            continue;
        };
        if q.kind != *kind {
            problems.push(format!(
                "{seed}: `{id}` is {}, the seed asks a {kind} question",
                q.kind
            ));
        }
        let text = coverage_text(q);
        let missing: Vec<&str> = terms
            .iter()
            .copied()
            .filter(|t| !text.contains(t))
            .collect();
        if !missing.is_empty() {
            problems.push(format!("{seed}: `{id}` never says {missing:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_coverage_table_lists_every_numbered_seed_question() {
    let mut missing = Vec::new();
    for (prefix, count) in SEED_NUMBERS {
        for n in 1..=count {
            let seed = format!("{prefix}{n} ");
            if !SEED_COVERAGE.iter().any(|(s, ..)| s.starts_with(&seed)) {
                missing.push(seed);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "seed questions without a row: {missing:?}"
    );
}

/// The bar every question meets (the bar for the 150-question bank): a
/// technical or system-design model answer of 250-450 words, every other at least
/// 250; at least 4 things an interviewer looks for and 3 common mistakes;
/// follow-ups and tips.
#[test]
fn every_question_has_substance() {
    let bank = bank();
    let mut problems = Vec::new();
    for q in bank.all() {
        let n = words(&q.model_answer);
        let range = match q.kind {
            Kind::Technical | Kind::SystemDesign => 250..=450,
            _ => 250..=usize::MAX,
        };
        if !range.contains(&n) {
            problems.push(format!("{}: model answer has {n} words ({range:?})", q.id));
        }
        if q.look_fors.len() < 4 {
            problems.push(format!(
                "{}: {} look-for bullets (< 4)",
                q.id,
                q.look_fors.len()
            ));
        }
        if q.mistakes.len() < 3 {
            problems.push(format!(
                "{}: {} common mistakes (< 3)",
                q.id,
                q.mistakes.len()
            ));
        }
        if q.follow_ups.is_empty() || q.tips.is_none() {
            problems.push(format!("{}: no follow-ups or no tips", q.id));
        }
        if words(&q.prompt) < 8 {
            problems.push(format!("{}: the question itself is too short", q.id));
        }
        if q.tags.is_empty() {
            problems.push(format!("{}: no tags", q.id));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn search_finds_the_obvious_question_first() {
    let bank = bank();
    for (query, want) in [
        ("idempotency", "idempotency"),
        ("cap theorem", "cap-theorem"),
        ("jwt", "auth-jwt-sessions-oauth"),
        ("connection pool", "connection-pooling"),
        ("cache stampede", "cache-stampede"),
    ] {
        let hits = bank.search(query, 5);
        assert_eq!(
            hits.first().map(|h| h.question.id.as_str()),
            Some(want),
            "query {query:?}"
        );
    }
}
