//! The layering the workspace exists for: the core links no chat platform. Cargo
//! already refuses a `use serenity::…` in the core while its manifest lacks the
//! crate; this test catches the manifest gaining one, directly or through another
//! dependency, by walking the lock file from `prepbot-core` (the lock file lists
//! normal and dev dependencies alike, so the core's tests are held to it too).

use std::collections::{BTreeSet, HashMap};

/// Crates that belong in an adapter, never in the core.
const PLATFORM_CRATES: [&str; 6] = [
    "serenity",
    "poise",
    "slack-morphism",
    "prepbot-discord",
    "prepbot-slack",
    "prepbot-fake-discord",
];

fn lock_graph() -> HashMap<String, Vec<String>> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"))
        .expect("the workspace's Cargo.lock");
    let lock: toml::Value = toml::from_str(&text).expect("Cargo.lock is TOML");
    let mut graph = HashMap::new();
    for package in lock["package"].as_array().expect("[[package]] entries") {
        let name = package["name"].as_str().expect("a name").to_string();
        let deps: Vec<String> = package
            .get("dependencies")
            .and_then(toml::Value::as_array)
            .map(|deps| {
                deps.iter()
                    // "name", "name version" or "name version (source)".
                    .filter_map(|d| d.as_str()?.split(' ').next().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        graph.entry(name).or_insert_with(Vec::new).extend(deps);
    }
    graph
}

fn closure(graph: &HashMap<String, Vec<String>>, root: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![root.to_string()];
    while let Some(name) = todo.pop() {
        if seen.insert(name.clone()) {
            todo.extend(graph.get(&name).into_iter().flatten().cloned());
        }
    }
    seen
}

#[test]
fn the_core_and_its_test_kit_link_no_chat_platform() {
    let graph = lock_graph();
    for root in ["prepbot-core", "prepbot-testkit"] {
        let linked = closure(&graph, root);
        assert!(linked.len() > 10, "{root} has its dependencies: {linked:?}");
        let platform: Vec<&str> = PLATFORM_CRATES
            .into_iter()
            .filter(|c| linked.contains(*c))
            .collect();
        assert!(platform.is_empty(), "{root} links {platform:?}");
    }
    // The walk does find a platform crate where there is one.
    assert!(closure(&graph, "prepbot-discord").contains("serenity"));
}
