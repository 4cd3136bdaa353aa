//! Link options for the `prepbot` binary.
//!
//! Relative relocations are packed (`-z pack-relative-relocs`, glibc's DT_RELR) where
//! the C library the binary will run on reads them. A position-independent binary
//! carries one 24-byte record per pointer in its read-only data to fix up at start;
//! the dynamic loader reads them all, so they stay resident: 1.5 MB of the release
//! binary's memory, packed into 25 KB (BENCHMARKS.md, "Resident memory
//! against the release before the core work"). glibc reads packed relocations since
//! 2.36 and refuses to start a binary that has them before that, so they are packed
//! only when the binary is built for the machine building it and that machine's
//! glibc is 2.36 or newer; anything else links as before.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let native = var("TARGET") == var("HOST");
    let gnu_linux = var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu";
    if native && gnu_linux && host_glibc().is_some_and(|version| version >= (2, 36)) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// The build machine's glibc version, from `getconf GNU_LIBC_VERSION` ("glibc 2.36").
fn host_glibc() -> Option<(u32, u32)> {
    let out = Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let version = text.trim().strip_prefix("glibc ")?;
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}
