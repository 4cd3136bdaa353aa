//! The shipped question bank: size, coverage of the seed lists, and substance.

use std::path::Path;

use prepbot::bank::{Kind, QuestionBank};

fn bank() -> QuestionBank {
    QuestionBank::load(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("questions")
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

/// One bank question per distinct question of the seed lists (duplicates merged).
const SEED_COVERAGE: &[(&str, &str)] = &[
    ("API at 10k requests per second", "api-at-10k-rps"),
    ("CAP theorem", "cap-theorem"),
    ("zero-downtime migrations", "zero-downtime-migrations"),
    ("JWT, sessions, OAuth", "auth-jwt-sessions-oauth"),
    ("idempotency", "idempotency"),
    ("job queue for background tasks", "background-job-queue"),
    (
        "logging and observability in microservices",
        "logging-and-tracing-in-microservices",
    ),
    ("connection pooling", "connection-pooling"),
    ("consistency across services", "consistency-across-services"),
    ("API security practices", "api-security-practices"),
    ("SQL vs NoSQL", "sql-vs-nosql"),
    (
        "caching strategy and invalidation",
        "caching-strategy-and-invalidation",
    ),
    ("slow query in production", "slow-query-in-production"),
    ("critical production bug story", "production-bug-story"),
    ("refactoring legacy code", "legacy-refactor-story"),
    (
        "technical disagreement with another team",
        "cross-team-disagreement",
    ),
    (
        "inherited undocumented service",
        "inherited-undocumented-service",
    ),
    (
        "API design causing performance problems",
        "api-design-under-load",
    ),
    ("on-call latency alert", "on-call-latency-alert"),
    ("sync vs async processing", "sync-vs-async-processing"),
    ("REST API design", "rest-api-design"),
    ("microservices vs monolith", "microservices-vs-monolith"),
    ("load balancing", "load-balancing-algorithms"),
    (
        "HTTP status codes and errors",
        "http-status-codes-and-errors",
    ),
    ("slow API endpoint", "slow-api-endpoint"),
    ("securing sensitive data", "protecting-sensitive-data"),
    ("dependency injection", "dependency-injection"),
    (
        "monitoring metrics and tools",
        "monitoring-metrics-and-alerting",
    ),
    (
        "containers and orchestration",
        "containers-and-orchestration",
    ),
    ("social feed for a million users", "social-feed-at-scale"),
    (
        "difficult team member or stakeholder",
        "difficult-stakeholder",
    ),
    ("decision under a tight deadline", "decision-under-deadline"),
    (
        "performance bottleneck story",
        "performance-bottleneck-story",
    ),
    ("Black Friday traffic spike", "black-friday-traffic-spike"),
    ("junior bypassing code review", "junior-bypassing-review"),
    (
        "monolith to microservices migration",
        "monolith-to-microservices-migration",
    ),
    ("personalized news caching", "personalized-news-caching"),
    ("time zones and many hats", "time-zones-and-many-hats"),
    (
        "disagreeing with the architect",
        "disagreeing-with-the-architect",
    ),
];

#[test]
fn every_seed_question_is_covered() {
    let bank = bank();
    let missing: Vec<&str> = SEED_COVERAGE
        .iter()
        .filter(|(_, id)| bank.get(id).is_none())
        .map(|(what, id)| if what.is_empty() { *id } else { *what })
        .collect();
    assert!(
        missing.is_empty(),
        "seed questions without a bank entry: {missing:?}"
    );
}

#[test]
fn every_question_has_substance() {
    let bank = bank();
    let mut problems = Vec::new();
    for q in bank.all() {
        let min_words = match q.kind {
            Kind::Technical | Kind::SystemDesign => 150,
            _ => 120,
        };
        let n = words(&q.model_answer);
        if n < min_words {
            problems.push(format!(
                "{}: model answer has {n} words (< {min_words})",
                q.id
            ));
        }
        if q.look_fors.len() < 3 {
            problems.push(format!(
                "{}: {} look-for bullets (< 3)",
                q.id,
                q.look_fors.len()
            ));
        }
        if q.mistakes.len() < 2 {
            problems.push(format!(
                "{}: {} common mistakes (< 2)",
                q.id,
                q.mistakes.len()
            ));
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
