//! The Slack adapter: Socket Mode events and the `/prep` command into [`Practice`]
//! calls, and the scheduler's output into Block Kit messages.
//!
//! - [`api`]: every Web API call, through one wrapper, and its errors.
//! - [`render`]: Block Kit, escaping, the markers that make posts findable.
//! - [`outbound`]: drops and reveals (the core's `Outbound`), reactions.
//! - [`history`]: a drop's thread listed again, for the core's catch-up.
//! - [`names`]: members' display names, cached off the ingest path.
//!
//! [`Practice`]: prepbot_core::practice::Practice

pub mod api;
pub mod history;
pub mod names;
pub mod outbound;
pub mod render;
