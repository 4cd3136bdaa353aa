//! prepbot-core's integration tests, one module per area, in one test binary. They
//! link no chat platform: the adapters' tests live in their own crates.
//! `tests/query_plans.rs` stays a binary of its own: it installs a process-wide
//! tracing subscriber to capture every SQL statement, which other tests running in
//! the same process would add to.
//!
//! Shared helpers come from `prepbot-testkit` (a fresh store, small banks, a recording
//! outbound).

mod bank_content;
mod bank_proptest;
mod bank_search;
mod bank_sources;
mod budget;
mod command_reads;
mod health;
mod ingest;
mod layering;
mod leaderboard_order;
mod lifecycle;
mod migrate;
mod pace;
mod plans;
mod postgres_outage;
mod processes;
mod removal;
mod schemas;
mod store;
mod store_faults;
mod upgrade;
