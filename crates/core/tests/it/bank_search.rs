//! Search over the shipped bank finds what people type: each query names the
//! question(s) that must be among its first three results. The queries are what a
//! study group types (plurals, abbreviations, a topic's name), not the titles.

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

/// What the first three results of a query must contain.
enum Want {
    /// Every one of these ids.
    Ids(&'static [&'static str]),
    /// Questions of this topic first: all three, or the whole topic if smaller.
    Topic(&'static str),
    /// Only questions with this (canonical) tag.
    Tag(&'static str),
    /// Only questions of this kind.
    Kind(Kind),
}

use Want::{Ids, Tag, Topic};

// One query a line reads better than rustfmt's wrapping.
#[rustfmt::skip]
const QUERIES: &[(&str, Want)] = &[
    // The review's failures (BANK-REVIEW.md section 7).
    ("migration", Ids(&["zero-downtime-migrations"])),
    ("retry", Ids(&["timeouts-retries-circuit-breakers"])),
    ("recommendation", Ids(&["real-time-recommendations"])),
    ("backoff", Ids(&["timeouts-retries-circuit-breakers"])),
    ("sql injection", Ids(&["injection-and-ssrf"])),
    ("k8s", Tag("kubernetes")),
    ("star method", Want::Kind(Kind::Behavioral)),
    // Plurals, abbreviations and other spellings.
    ("pg replication lag", Ids(&["read-replicas-and-lag"])),
    ("deadlocks", Ids(&["optimistic-vs-pessimistic-locking"])),
    ("webhooks", Ids(&["webhook-delivery"])),
    ("n+1 queries", Ids(&["n-plus-one-queries"])),
    ("isolation levels", Ids(&["transaction-isolation-levels"])),
    ("circuit breaker", Ids(&["timeouts-retries-circuit-breakers"])),
    ("thundering herd", Ids(&["cache-stampede"])),
    ("error budget", Ids(&["slos-and-error-budgets"])),
    ("dead letter queue", Ids(&["background-job-queue"])),
    ("postmortem", Ids(&["failure-you-owned"])),
    ("remote work", Ids(&["time-zones-and-many-hats"])),
    ("legacy code", Ids(&["legacy-refactor-story"])),
    ("p99 tail latency", Ids(&["latency-percentiles"])),
    ("presigned url upload", Ids(&["file-upload-service"])),
    ("kafka exactly once", Ids(&["message-delivery-semantics"])),
    ("saga compensation", Ids(&["consistency-across-services"])),
    ("blue green deploy", Ids(&["deployment-strategies"])),
    ("password hashing", Ids(&["protecting-sensitive-data"])),
    ("on call alert", Ids(&["on-call-latency-alert"])),
    // A topic's name ranks that topic's questions first.
    ("caching", Topic("caching")),
    ("security", Topic("security")),
    // The new topics and the new seed questions.
    ("networking", Topic("networking")),
    ("streaming", Topic("streaming")),
    ("http3 quic", Ids(&["http1-http2-http3-quic"])),
    ("time_wait", Ids(&["tcp-time-wait-and-port-exhaustion"])),
    ("websocket", Ids(&["websockets-sse-long-polling"])),
    ("tls handshake", Ids(&["https-api-call-lifecycle"])),
    ("kafka rebalance", Ids(&["kafka-consumer-groups-rebalancing"])),
    ("watermarks late data", Ids(&["event-time-windows-watermarks"])),
    ("min.insync.replicas", Ids(&["kafka-replication-durability"])),
    ("rag permissions", Ids(&["llm-assistant-backend"])),
    ("raft leader election", Ids(&["raft-consensus-and-quorums"])),
    ("chat system", Ids(&["chat-system"])),
    ("ride hailing proximity", Ids(&["ride-hailing-dispatch"])),
    ("testing strategy", Ids(&["backend-testing-strategy"])),
    ("flaky third party api", Ids(&["unreliable-third-party-api"])),
    ("vector clocks", Ids(&["clocks-and-event-ordering"])),
    ("noisy neighbour", Ids(&["noisy-neighbor-tenant"])),
    // Written after the ranking change, once the new files had landed.
    ("concurrency", Topic("concurrency")),
    ("ai backends", Topic("ai-backends")),
    ("goroutines vs threads", Ids(&["threads-async-goroutines-virtual-threads"])),
    ("virtual threads", Ids(&["threads-async-goroutines-virtual-threads"])),
    ("double submit race", Ids(&["race-conditions-in-request-handlers"])),
    ("kv cache continuous batching", Ids(&["llm-inference-serving"])),
    ("llm rate limits provider fallback", Ids(&["calling-llm-apis-reliably"])),
    ("prompt injection", Ids(&["calling-llm-apis-reliably"])),
    ("memory leak", Ids(&["profiling-memory-leaks-gc-cpu"])),
    ("snowflake id", Ids(&["distributed-unique-id-generator"])),
    ("cron jobs", Ids(&["distributed-cron-scheduler"])),
    ("leaderboard", Ids(&["real-time-leaderboard"])),
    ("incident commander", Ids(&["leading-an-incident-as-commander"])),
    ("tech debt", Ids(&["making-the-case-for-tech-debt"])),
    ("passkeys", Ids(&["passkeys-mfa-account-recovery"])),
    ("pgbouncer", Ids(&["connection-pooling"])),
    ("postgresql vacuum", Ids(&["mvcc-postgres-vs-innodb"])),
    ("rbac", Ids(&["authorization-models-at-scale"])),
    ("questions to ask the interviewer", Ids(&["questions-for-the-interviewer"])),
];

#[test]
fn every_query_finds_its_questions_in_the_top_three() {
    let bank = bank();
    let mut failures = Vec::new();
    for (query, want) in QUERIES {
        let top: Vec<_> = bank
            .search(query, 3)
            .into_iter()
            .map(|h| h.question)
            .collect();
        let ok = match want {
            Ids(ids) => ids.iter().all(|id| top.iter().any(|q| q.id == *id)),
            Topic(topic) => {
                let size = bank.all().iter().filter(|q| q.topic == *topic).count();
                size > 0
                    && top.len() >= size.min(3)
                    && top.iter().take(size).all(|q| q.topic == *topic)
            }
            Tag(tag) => top.len() == 3 && top.iter().all(|q| q.tags.iter().any(|t| t == tag)),
            Want::Kind(kind) => top.len() == 3 && top.iter().all(|q| q.kind == *kind),
        };
        if !ok {
            let got: Vec<&str> = top.iter().map(|q| q.id.as_str()).collect();
            failures.push(format!("{query:?}: top 3 {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} queries miss:\n{}",
        failures.len(),
        QUERIES.len(),
        failures.join("\n")
    );
}

#[test]
fn every_expected_question_exists() {
    let bank = bank();
    let missing: Vec<&str> = QUERIES
        .iter()
        .filter_map(|(_, want)| match want {
            Ids(ids) => Some(*ids),
            _ => None,
        })
        .flatten()
        .copied()
        .filter(|id| bank.get(id).is_none())
        .collect();
    assert!(missing.is_empty(), "no such questions: {missing:?}");
}
