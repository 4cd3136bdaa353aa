//! A generated question bank for the startup scenario: `n` valid questions in the
//! format of `questions/README.md`, spread over ten topics, each about as long as a
//! shipped question (4 KB) with varied words, so loading and indexing do real work.

use std::path::Path;

const TOPICS: [&str; 10] = [
    "caching",
    "databases",
    "apis",
    "queues",
    "security",
    "observability",
    "networking",
    "storage",
    "scaling",
    "behavioral",
];

const WORDS: [&str; 32] = [
    "latency",
    "throughput",
    "replica",
    "partition",
    "index",
    "queue",
    "retry",
    "timeout",
    "backpressure",
    "consistency",
    "quorum",
    "shard",
    "cache",
    "eviction",
    "token",
    "budget",
    "rollback",
    "migration",
    "schema",
    "tracing",
    "metric",
    "alert",
    "incident",
    "failover",
    "idempotency",
    "checkpoint",
    "snapshot",
    "lease",
    "heartbeat",
    "gossip",
    "compaction",
    "tenant",
];

/// A sentence of `len` words chosen by `seed`, so every question reads differently.
fn prose(seed: usize, len: usize) -> String {
    let mut words = Vec::with_capacity(len);
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    for _ in 0..len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        words.push(WORDS[x % WORDS.len()]);
    }
    let mut s = words.join(" ");
    s.push('.');
    s[..1].to_uppercase() + &s[1..]
}

fn question(i: usize, topic: &str) -> String {
    let difficulty = ["easy", "medium", "hard"][i % 3];
    let kind = [
        "technical",
        "system-design",
        "behavioral",
        "situational",
        "culture-fit",
    ][i % 5];
    let bullets = |from: usize, n: usize| -> String {
        (0..n)
            .map(|k| format!("- {}\n", prose(i * 100 + from + k, 12)))
            .collect()
    };
    let model: Vec<String> = (0..8).map(|k| prose(i * 1000 + k, 40)).collect();
    format!(
        "+++\nid = \"gen-{i:05}\"\ntitle = \"Generated question {i}: {}\"\ntopic = \"{topic}\"\n\
         difficulty = \"{difficulty}\"\nkind = \"{kind}\"\ntags = [\"{}\", \"{}\"]\n+++\n\n\
         ## Question\n\n{}\n\n## Why it is asked\n\n{}\n\n## Model answer\n\n{}\n\n\
         ## What interviewers look for\n\n{}\n## Common mistakes\n\n{}\n## Follow-ups\n\n{}\n\
         ## Tips\n\n{}\n",
        WORDS[i % WORDS.len()],
        WORDS[i % WORDS.len()],
        WORDS[(i / 3) % WORDS.len()],
        prose(i, 30),
        prose(i + 7, 20),
        model.join("\n\n"),
        bullets(10, 4),
        bullets(20, 3),
        bullets(30, 2),
        prose(i + 11, 25),
    )
}

/// Writes `n` questions under `dir/<topic>/gen-NNNNN.md`.
pub fn write(dir: &Path, n: usize) -> std::io::Result<()> {
    for i in 0..n {
        let topic = TOPICS[i % TOPICS.len()];
        let folder = dir.join(topic);
        std::fs::create_dir_all(&folder)?;
        std::fs::write(folder.join(format!("gen-{i:05}.md")), question(i, topic))?;
    }
    Ok(())
}
