//! prepbot's integration tests, one module per area, in one test binary: each binary
//! links serenity, poise, sqlx and axum, so one link instead of one per file saves
//! most of the test build's time and disk. `tests/query_plans.rs` stays a binary of
//! its own: it installs a process-wide tracing subscriber to capture every SQL
//! statement, which other tests running in the same process would add to.
//!
//! Shared helpers: `common` (a fresh store, small banks, a recording outbound),
//! `fake_discord` (Discord's REST API and gateway on 127.0.0.1) and `harness` (the
//! real bot against the fake, with a clock the test drives).

mod common;
mod fake_discord;
mod harness;

mod bank_content;
mod bank_files;
mod bank_proptest;
mod bank_search;
mod cli;
mod demo;
mod discord_binary;
mod discord_content;
mod discord_e2e;
mod discord_fixtures;
mod discord_limits;
mod discord_restart;
mod discord_spec;
mod ingest;
mod lifecycle;
mod rest_pacing;
mod store;
mod store_faults;
mod upgrade;
