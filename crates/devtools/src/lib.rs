//! prepbot's developer tools, kept out of the release binary: `prepbot-dev bench`
//! times the hot paths in-process ([`hotpaths`]) and `prepbot-dev seed` builds a
//! large database for the load harness ([`seed`]); `prepbot-dev compare-backends`
//! times the commands' reads and ingestion on SQLite and PostgreSQL ([`compare`]). The Criterion benches and the
//! load harness (`benches/` at the workspace root) use both as a library.

pub mod compare;
pub mod hotpaths;
pub mod seed;
