//! prepbot-core: daily backend-interview practice, free of any chat platform. The
//! adapters (`prepbot-discord`; Slack next) and the binary depend on this crate; it
//! depends on no platform crate, so the compiler holds the layering.
//!
//! Map of the crate:
//! - [`chat`]: chat objects as the core addresses them: a platform and the platform's
//!   own id as text.
//! - [`ports`]: what the core needs from a chat platform: the `Outbound` trait, the
//!   failure kinds the core acts on, and the limits an adapter reports.
//! - [`engine`]: the rules (schedules, rotation, answers, reveals, streaks), free of any
//!   chat platform and of the wall clock.
//! - [`practice`]: the use cases adapters call, joining the engine to the store.
//! - [`process`]: this process's identity and liveness, which its claims carry, so a
//!   dead process's claims are finished at once.
//! - [`ingest`]: the answer writer: answer events from every adapter, committed in batches.
//! - [`acks`]: the queue of acknowledgements (reactions) of stored answers, every platform.
//! - [`catch_up`]: after an adapter was away, its open drops' threads listed again and
//!   reconciled (the adapter's `ThreadHistory` port).
//! - [`command_budget`]: each member's command budget, on every platform: in memory
//!   for one process, in the database for several.
//! - [`command_rules`]: what every platform's commands share: the admin policy over
//!   the roles an adapter reports, checking a schedule given as text.
//! - [`scheduler`]: runs whatever is due at an instant through an [`ports::Outbound`] adapter.
//! - [`runtime`]: start-up and shutdown for every adapter: the store, the answer writer,
//!   the scheduler (once per process), and a drain in order.
//! - [`config`]: every environment variable prepbot reads, in one place.
//! - [`store`]: all SQL (sqlx + SQLite), one file per table or aggregate.
//! - [`bank`]: loads and validates the Markdown question bank; lookup and search.
//! - [`schedule_view`]: what `/schedule show` and `prepbot status` report about a channel.
//! - [`status`]: `prepbot status`, what the database says about each channel.
//! - [`clock`]: the wall clock and a manual one for tests.
//! - [`pace`]: a rate several processes share through the database (Discord's REST
//!   limit is per bot token), as slots each process reserves a few at a time.
//! - [`mix`]: the stable 64-bit hash step the rotation and seeded picks share.
//! - [`memory`]: handing freed memory back to the system after a burst.

pub mod acks;
pub mod bank;
pub mod catch_up;
pub mod chat;
pub mod clock;
pub mod command_budget;
pub mod command_rules;
pub mod config;
pub mod engine;
pub mod health;
pub mod ingest;
pub mod memory;
pub mod mix;
pub mod pace;
pub mod ports;
pub mod practice;
pub mod process;
pub mod runtime;
pub mod schedule_view;
pub mod scheduler;
pub mod status;
pub mod store;
