//! prepbot's developer tools, kept out of the release binary: `prepbot-dev bench`
//! times the hot paths in-process ([`hotpaths`]) and `prepbot-dev seed` builds a
//! large database for the load harness ([`seed`]). The Criterion benches and the
//! load harness (`benches/` at the workspace root) use both as a library.

pub mod hotpaths;
pub mod seed;
