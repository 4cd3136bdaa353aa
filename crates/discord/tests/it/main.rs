//! The Discord adapter's integration tests, one module per area, in one test binary.
//!
//! Shared helpers: `prepbot-fake-discord` (Discord's REST API and gateway on 127.0.0.1,
//! every request checked against Discord's OpenAPI spec), `prepbot-testkit` (a fresh
//! store, small banks) and `harness` (the adapter's library entry against the fake,
//! with a clock the test drives).

mod harness;

mod discord_admin;
mod discord_content;
mod discord_e2e;
mod discord_fixtures;
mod discord_limits;
mod discord_restart;
mod discord_shards;
mod discord_spec;
mod readme_example;
mod rest_pacing;
