//! The app manifest (`slack/manifest.yml`) asks for exactly the scopes the adapter's
//! Web API calls need (`api::METHODS`), plus `commands` for `/prep`.

use std::collections::BTreeSet;

use prepbot_slack::api::{CONNECTIONS_OPEN, METHODS};

fn manifest() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../slack/manifest.yml"),
    )
    .expect("slack/manifest.yml")
}

/// The `- item` lines of the list under `key:` (the manifest's own indentation).
fn list_under(text: &str, key: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut lines = text.lines().skip_while(|l| l.trim() != format!("{key}:"));
    let Some(head) = lines.next() else {
        return out;
    };
    let indent = head.len() - head.trim_start().len();
    for line in lines {
        let here = line.len() - line.trim_start().len();
        match line.trim().strip_prefix("- ") {
            Some(item) if here > indent => {
                out.insert(item.to_string());
            }
            _ => break,
        }
    }
    out
}

#[test]
fn the_manifest_asks_for_exactly_the_scopes_the_adapter_uses() {
    let text = manifest();
    let granted = list_under(&text, "bot");
    let mut needed: BTreeSet<String> = METHODS
        .iter()
        .filter(|m| **m != CONNECTIONS_OPEN) // the app-level token's scope
        .flat_map(|m| m.scopes.iter().map(|s| s.to_string()))
        .collect();
    needed.insert("commands".into());
    assert_eq!(granted, needed);
    assert_eq!(
        list_under(&text, "bot_events"),
        BTreeSet::from(["message.channels".to_string(), "message.groups".to_string()])
    );
    assert!(text.contains("socket_mode_enabled: true"));
    assert!(text.contains("should_escape: true"));
    assert!(text.contains("command: /prep"));
}
