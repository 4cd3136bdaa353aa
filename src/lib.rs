//! prepbot, the binary: the command line ([`cli`]; `main.rs` only parses it and calls
//! [`cli::run`]), the terminal adapter ([`console`]) and the `prepbot demo` simulation
//! ([`demo`]). The rules, use cases and store are `prepbot-core`; the Discord adapter
//! is `prepbot-discord`, the Slack adapter `prepbot-slack`; [`platforms`] serves both
//! from one process.

pub mod cli;
pub mod console;
pub mod demo;
pub mod platforms;
