//! prepbot: daily backend-interview practice for team study channels.
//!
//! Map of the crate:
//! - [`acks`]: the queue of acknowledgements (reactions) of stored answers, every platform.
//! - [`catch_up`]: after an adapter was away, its open drops' threads listed again and
//!   reconciled (the adapter's `ThreadHistory` port).
//! - [`chat`]: chat objects as the core addresses them: a platform and the platform's
//!   own id as text.
//! - [`bank`]: loads and validates the Markdown question bank; lookup and search.
//! - [`engine`]: the rules (schedules, rotation, answers, reveals, streaks), free of any
//!   chat platform and of the wall clock.
//! - [`store`]: all SQL (sqlx + SQLite), one file per table or aggregate.
//! - [`practice`]: the use cases adapters call, joining the engine to the store.
//! - [`ingest`]: the answer writer: answer events from every adapter, committed in batches.
//! - [`ports`]: what the core needs from a chat platform: the `Outbound` trait and the
//!   failure kinds the core acts on.
//! - [`runtime`]: start-up and shutdown for every adapter: the store, the answer writer,
//!   the scheduler (once per process), and a drain in order.
//! - [`scheduler`]: runs whatever is due at an instant through an [`ports::Outbound`] adapter.
//! - [`console`], [`demo`]: the terminal adapter and the `prepbot demo` simulation.
//! - [`schedule_view`]: what `/schedule show` and `prepbot status` report about a channel.
//! - [`status`]: `prepbot status`, what the database says about each channel.
//! - [`discord`]: the Discord adapter (`prepbot run`): slash commands, answers, posts.
//! - [`mix`]: the stable 64-bit hash step the rotation and seeded picks share.
//! - [`command_budget`]: each member's command budget, on every platform.
//! - [`command_rules`]: what every platform's commands share: the admin policy over
//!   the roles an adapter reports, checking a schedule given as text.
//! - [`cli`]: the command line; `main.rs` only parses it and calls [`cli::run`].

pub mod acks;
pub mod bank;
pub mod bench;
pub mod catch_up;
pub mod chat;
pub mod cli;
pub mod clock;
pub mod command_budget;
pub mod command_rules;
pub mod config;
pub mod console;
pub mod demo;
pub mod discord;
pub mod engine;
pub mod ingest;
pub mod memory;
pub mod mix;
pub mod ports;
pub mod practice;
pub mod runtime;
pub mod schedule_view;
pub mod scheduler;
pub mod seed;
pub mod status;
pub mod store;
