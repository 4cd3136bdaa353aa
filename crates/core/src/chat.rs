//! Chat objects as the core addresses them: a platform and the platform's own id as
//! text. A Discord snowflake, a Slack channel id (`C0123ABCD`) and a Slack message
//! `ts` (`1700000000.000100`) are all just text here; only an adapter knows what one
//! means, and only an adapter compares or orders them.
//!
//! Rows in the store have internal integer keys; these addresses are how a platform
//! event finds its row ([`ChannelAddress`] -> a channel, [`ThreadRef`] -> a drop).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A chat platform prepbot serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    Discord,
    Slack,
    /// The terminal: `prepbot demo`.
    Console,
}

impl Platform {
    pub const ALL: [Platform; 3] = [Platform::Discord, Platform::Slack, Platform::Console];

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Discord => "discord",
            Platform::Slack => "slack",
            Platform::Console => "console",
        }
    }

    /// The word for a workspace on this platform, for people.
    pub fn workspace_word(self) -> &'static str {
        match self {
            Platform::Discord => "server",
            Platform::Slack => "workspace",
            Platform::Console => "terminal",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown platform `{s}`"))
    }
}

/// Where a channel lives: a conversation (a Discord channel, a Slack channel) in a
/// workspace (a Discord server, a Slack team) on a platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChannelAddress {
    pub platform: Platform,
    pub workspace: String,
    pub conversation: String,
}

impl ChannelAddress {
    pub fn new(
        platform: Platform,
        workspace: impl Into<String>,
        conversation: impl Into<String>,
    ) -> Self {
        ChannelAddress {
            platform,
            workspace: workspace.into(),
            conversation: conversation.into(),
        }
    }
}

impl fmt::Display for ChannelAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} channel {} ({} {})",
            self.platform,
            self.conversation,
            self.platform.workspace_word(),
            self.workspace
        )
    }
}

/// A drop's answer thread as a platform event names it. On Discord a thread is a
/// channel of its own, unique on the platform, and its events do not name the parent
/// (`conversation` is `None`); on Slack a thread is a message `ts`, unique only within
/// its channel, so events name the channel too.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ThreadRef {
    pub platform: Platform,
    pub conversation: Option<String>,
    pub thread: String,
}

impl ThreadRef {
    /// A thread that is unique on its platform by its own id.
    pub fn new(platform: Platform, thread: impl Into<String>) -> Self {
        ThreadRef {
            platform,
            conversation: None,
            thread: thread.into(),
        }
    }

    /// A thread unique only within its conversation.
    pub fn in_conversation(
        platform: Platform,
        conversation: impl Into<String>,
        thread: impl Into<String>,
    ) -> Self {
        ThreadRef {
            platform,
            conversation: Some(conversation.into()),
            thread: thread.into(),
        }
    }
}

/// A stable order for platform ids where the core needs one (who answered, for a
/// reveal): shorter first, then by bytes. For decimal ids without leading zeros (Discord
/// snowflakes) this is numeric order, so lists read as they did when ids were numbers;
/// for other ids it is an arbitrary but fixed order. Never used to decide anything.
pub fn id_order(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// A member id in [`id_order`], as a map key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemberKey(pub String);

impl Ord for MemberKey {
    fn cmp(&self, other: &Self) -> Ordering {
        id_order(&self.0, &other.0)
    }
}

impl PartialOrd for MemberKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for MemberKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_round_trip_their_stored_names() {
        for p in Platform::ALL {
            assert_eq!(p.as_str().parse::<Platform>(), Ok(p));
        }
        assert!("irc".parse::<Platform>().is_err());
    }

    #[test]
    fn decimal_ids_order_as_numbers() {
        let mut ids = vec![
            "10",
            "9",
            "18446744073709551615",
            "101",
            "9223372036854775809",
        ];
        ids.sort_by(|a, b| id_order(a, b));
        assert_eq!(
            ids,
            [
                "9",
                "10",
                "101",
                "9223372036854775809",
                "18446744073709551615"
            ]
        );
    }
}
