//! Members' display names, from `users.info` (Tier 4), cached. Ingesting an answer
//! never waits on a name: it takes what the cache has (the member id until then)
//! and asks for the name in the background, so the next answer, the reveal's
//! "who answered" and the leaderboard read it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::api::SlackApi;

#[derive(Debug, Clone, Default)]
pub struct Names {
    known: Arc<Mutex<HashMap<String, Option<String>>>>,
}

impl Names {
    /// The member's name if known; otherwise their id, and a lookup is started.
    pub fn name_or_fetch(&self, api: &SlackApi, member: &str) -> String {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        match known.get(member) {
            Some(Some(name)) => name.clone(),
            Some(None) => member.to_string(),
            None => {
                // `None` marks a lookup in flight, so a burst asks once.
                known.insert(member.to_string(), None);
                let (api, cache, id) = (api.clone(), self.known.clone(), member.to_string());
                tokio::spawn(async move {
                    let name = api.user(&id).await.ok().map(|u| u.display_name());
                    let mut known = cache.lock().unwrap_or_else(|e| e.into_inner());
                    match name {
                        Some(name) => {
                            known.insert(id, Some(name));
                        }
                        // Asked again next time.
                        None => {
                            known.remove(&id);
                        }
                    }
                });
                member.to_string()
            }
        }
    }

    /// A stored name for a command's acknowledgement, which must not wait on Slack:
    /// a member id becomes the cached display name, or stays as it is while the
    /// name is fetched in the background.
    pub fn shown_now(&self, api: &SlackApi, stored: &str) -> String {
        if looks_like_member_id(stored) {
            self.name_or_fetch(api, stored)
        } else {
            stored.to_string()
        }
    }

    /// A name as stored with an answer, for showing: a member id stored before its
    /// name was known (`U…`, `W…`) becomes the display name, from the cache or asked
    /// for now (this is the reveal or a command, never the ingest path).
    pub async fn resolve(&self, api: &SlackApi, stored: &str) -> String {
        if !looks_like_member_id(stored) {
            return stored.to_string();
        }
        let cached = {
            let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
            known.get(stored).cloned().flatten()
        };
        if let Some(name) = cached {
            return name;
        }
        match api.user(stored).await {
            Ok(user) => {
                let name = user.display_name();
                self.remember(stored, &name);
                name
            }
            Err(_) => stored.to_string(),
        }
    }

    /// Records a name learnt elsewhere (a command's `user_name`, a `users.info`).
    pub fn remember(&self, member: &str, name: &str) {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        known.insert(member.to_string(), Some(name.to_string()));
    }
}

/// Whether stored text is a Slack member id rather than a name.
pub fn looks_like_member_id(text: &str) -> bool {
    text.len() >= 3
        && (text.starts_with('U') || text.starts_with('W'))
        && text
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    #[test]
    fn member_ids_are_told_from_names() {
        assert!(super::looks_like_member_id("U0MEMBER"));
        assert!(super::looks_like_member_id("W123ABC"));
        assert!(!super::looks_like_member_id("Ursula"));
        assert!(!super::looks_like_member_id("U"));
        assert!(!super::looks_like_member_id("Nell <!channel>"));
    }
}
