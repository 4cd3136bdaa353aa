//! The `prepbot` binary's integration tests, one module per area, in one test binary:
//! the command line, `prepbot demo`, `prepbot check` and `questions` on the shipped
//! bank, `prepbot status` on a read-only database, `prepbot migrate-store` into
//! PostgreSQL, the Discord adapter started by the real binary against the fake
//! Discord (`prepbot-fake-discord`), the Slack adapter against the fake Slack
//! (`prepbot-fake-slack`), two Slack processes sharing one PostgreSQL database and
//! one Slack app, PostgreSQL going away under the running bot, and two Discord
//! processes sharing one PostgreSQL database and Discord's shards. The
//! core's tests live in `crates/core/tests`, the Discord adapter's in
//! `crates/discord/tests`.

mod bank_files;
mod both_platforms;
mod cli;
mod database_faults;
mod demo;
mod discord_binary;
mod migrate_store;
mod questions_cli;
mod slack_binary;
mod slack_two_processes;
mod status_files;
mod two_processes;
