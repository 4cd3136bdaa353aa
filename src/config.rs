//! Settings from the environment: defaults, then `PREPBOT_*` variables.

use std::path::PathBuf;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://prepbot.db";
pub const DEFAULT_QUESTIONS: &str = "questions";

/// What every command that touches the bot's state needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `PREPBOT_DATABASE_URL`, default `sqlite://prepbot.db` (created if missing).
    pub database_url: String,
    /// `PREPBOT_QUESTIONS`, default `questions`.
    pub questions: PathBuf,
}

impl Config {
    /// Reads the environment through `var` (so tests need not touch the process env).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Config {
        let non_blank = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        Config {
            database_url: non_blank("PREPBOT_DATABASE_URL")
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            questions: non_blank("PREPBOT_QUESTIONS")
                .map_or_else(|| PathBuf::from(DEFAULT_QUESTIONS), PathBuf::from),
        }
    }

    pub fn from_env() -> Config {
        Self::from_vars(|name| std::env::var(name).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_then_variables() {
        let c = Config::from_vars(|_| None);
        assert_eq!(c.database_url, "sqlite://prepbot.db");
        assert_eq!(c.questions, PathBuf::from("questions"));
        let c = Config::from_vars(|n| match n {
            "PREPBOT_DATABASE_URL" => Some("sqlite:///var/lib/prepbot/db.sqlite".into()),
            "PREPBOT_QUESTIONS" => Some("  ".into()),
            _ => None,
        });
        assert_eq!(c.database_url, "sqlite:///var/lib/prepbot/db.sqlite");
        assert_eq!(
            c.questions,
            PathBuf::from("questions"),
            "blank means default"
        );
    }
}
