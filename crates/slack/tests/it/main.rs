//! The Slack adapter against the fake Slack (`prepbot-fake-slack`) on 127.0.0.1:
//! its Web API calls, payloads, fault mapping and catch-up listing.

mod bot;
mod commands;
mod connections;
mod manifest;
mod outbound;
mod socket;
mod support;
