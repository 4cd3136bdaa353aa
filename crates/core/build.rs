//! Writes the lists of what the crate embeds at compile time, and tells cargo to
//! rebuild when any of it changes (`include_str!`/`include_bytes!` do not notice a
//! new file by themselves on stable Rust):
//! - the migrations of both backends (`migrations/sqlite`, `migrations/postgres`), in
//!   place of `sqlx::migrate!`: that macro needs sqlx's `macros` feature, which builds
//!   sqlx, both drivers and SQLite's C source a second time for the compiler host
//!   (measured in BENCHMARKS.md, "Build cost");
//! - the shipped question bank's files (`questions/` at the workspace root), so the
//!   binary carries the bank and runs from any directory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    for backend in ["sqlite", "postgres"] {
        let dir = manifest.join("migrations").join(backend);
        println!("cargo:rerun-if-changed={}", dir.display());
        let list = migrations(&dir);
        std::fs::write(out_dir.join(format!("{backend}_migrations.rs")), list)
            .expect("OUT_DIR is writable");
    }
    let bank = manifest.join("../../questions");
    // A directory: cargo rescans it whole, so an edited, added or removed question
    // rebuilds the crate.
    println!("cargo:rerun-if-changed={}", bank.display());
    let mut files = Vec::new();
    walk(&bank, &bank, &mut files);
    files.sort();
    let mut out = String::from("&[\n");
    for (relative, absolute) in &files {
        writeln!(out, "    ({relative:?}, include_bytes!({absolute:?})),").unwrap();
    }
    out.push(']');
    std::fs::write(out_dir.join("shipped_bank.rs"), out).expect("OUT_DIR is writable");
}

/// The migrations in `dir` as a Rust array of `(version, description, sql)`, named
/// and ordered as sqlx's own resolver does it (`0001_some_change.sql` is version 1,
/// "some change"), so databases migrated by `sqlx::migrate!` before see the same
/// versions and checksums (the checksum is of the SQL text, computed at run time).
/// Anything that is not `NNNN_name.sql` fails the build rather than being skipped.
fn migrations(dir: &Path) -> String {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read the migrations at {}: {e}", dir.display()));
    let mut found = Vec::new();
    for entry in entries {
        let path = entry.expect("a readable directory entry").path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if name.starts_with('.') {
            continue;
        }
        let (version, rest) = name
            .strip_suffix(".sql")
            .and_then(|stem| stem.split_once('_'))
            .unwrap_or_else(|| {
                panic!(
                    "{}: a migration is named NNNN_what_it_does.sql",
                    path.display()
                )
            });
        let version: i64 = version.parse().unwrap_or_else(|_| {
            panic!(
                "{}: the name must start with its version number",
                path.display()
            )
        });
        let absolute = path.canonicalize().unwrap_or(path.clone());
        found.push((
            version,
            rest.replace('_', " "),
            absolute.display().to_string(),
        ));
    }
    found.sort();
    for pair in found.windows(2) {
        assert!(
            pair[0].0 != pair[1].0,
            "two migrations with version {} in {}",
            pair[0].0,
            dir.display()
        );
    }
    let mut out = String::from("&[\n");
    for (version, description, path) in &found {
        writeln!(
            out,
            "    ({version}, {description:?}, include_str!({path:?})),"
        )
        .unwrap();
    }
    out.push(']');
    out
}

/// Every file under `dir`, as (its path relative to `root` with `/`, its absolute
/// path). Dot-files are left out: the loader ignores them anyway.
fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, String)>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read the shipped bank at {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a readable directory entry").path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, files);
        } else {
            let relative = path
                .strip_prefix(root)
                .expect("under the root")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let absolute = path.canonicalize().unwrap_or(path.clone());
            files.push((relative, absolute.display().to_string()));
        }
    }
}
