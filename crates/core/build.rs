//! Tells cargo what the crate embeds at compile time, since `sqlx::migrate!` does not
//! notice a new migration file by itself on stable Rust.

fn main() {
    println!("cargo:rerun-if-changed=migrations/sqlite");
    println!("cargo:rerun-if-changed=migrations/postgres");
}
