//! Tells cargo what the crate embeds at compile time, since neither `sqlx::migrate!`
//! nor `include_bytes!` notices a new file by itself on stable Rust, and writes the
//! list of the shipped question bank's files (`questions/` at the workspace root) so
//! the binary carries the bank and runs from any directory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=migrations/sqlite");
    println!("cargo:rerun-if-changed=migrations/postgres");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
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
    let target =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("shipped_bank.rs");
    std::fs::write(target, out).expect("OUT_DIR is writable");
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
