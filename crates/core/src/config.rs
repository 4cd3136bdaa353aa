//! Settings from the environment: defaults, then `PREPBOT_*` variables. Every
//! variable prepbot reads is named here ([`vars`]) and described once
//! ([`VARIABLES`]): `prepbot run --help` prints that table, and a test checks the
//! README's configuration table names every one.

use std::path::PathBuf;

/// The name of every environment variable prepbot reads.
pub mod vars {
    pub const DATABASE_URL: &str = "PREPBOT_DATABASE_URL";
    pub const QUESTIONS: &str = "PREPBOT_QUESTIONS";
    pub const DISCORD_TOKEN: &str = "DISCORD_TOKEN";
    pub const DEV_GUILD: &str = "PREPBOT_DEV_GUILD";
    pub const DISCORD_API_BASE: &str = "PREPBOT_DISCORD_API_BASE";
    pub const CATCH_UP_GRACE_MINS: &str = "PREPBOT_CATCH_UP_GRACE_MINS";
    pub const CLAIM_LEASE_SECS: &str = "PREPBOT_CLAIM_LEASE_SECS";
    pub const DISCORD_RATE: &str = "PREPBOT_DISCORD_RATE";
    pub const SLACK_BOT_TOKEN: &str = "SLACK_BOT_TOKEN";
    pub const SLACK_APP_TOKEN: &str = "SLACK_APP_TOKEN";
    pub const SLACK_API_BASE: &str = "PREPBOT_SLACK_API_BASE";
    pub const SLACK_ADMINS: &str = "PREPBOT_SLACK_ADMINS";
    pub const LOG: &str = "RUST_LOG";
}

/// One environment variable: its name, its default, what it does.
#[derive(Debug, Clone, Copy)]
pub struct Variable {
    pub name: &'static str,
    pub default: &'static str,
    pub meaning: &'static str,
}

/// Every variable, as `prepbot run --help` lists them (the README's table says more).
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: vars::DISCORD_TOKEN,
        default: "(required)",
        meaning: "the Discord bot token; never logged",
    },
    Variable {
        name: vars::DATABASE_URL,
        default: DEFAULT_DATABASE_URL,
        meaning: "the bot's database (sqlite: URLs); created and migrated if missing",
    },
    Variable {
        name: vars::QUESTIONS,
        default: DEFAULT_QUESTIONS,
        meaning: "the question bank directory",
    },
    Variable {
        name: vars::DEV_GUILD,
        default: "unset",
        meaning: "register slash commands in this server only (instant) instead of globally",
    },
    Variable {
        name: vars::DISCORD_API_BASE,
        default: "unset",
        meaning: "send Discord REST calls (and take the gateway) from http(s)://host:port: a fake or a proxy",
    },
    Variable {
        name: vars::CATCH_UP_GRACE_MINS,
        default: "unset",
        meaning: "how late (1-10080 min) a drop due while the bot was down may still be posted; unset: until its reveal",
    },
    Variable {
        name: vars::CLAIM_LEASE_SECS,
        default: "120",
        meaning: "how long (2-3600 s) a claim on a drop or reveal holds before a retry may take it over",
    },
    Variable {
        name: vars::DISCORD_RATE,
        default: "50",
        meaning: "requests per second (1-10000) the bot's own Discord REST calls are paced to",
    },
    Variable {
        name: vars::SLACK_BOT_TOKEN,
        default: "unset",
        meaning: "the Slack bot token (xoxb-...); with SLACK_APP_TOKEN, serves Slack; never logged",
    },
    Variable {
        name: vars::SLACK_APP_TOKEN,
        default: "unset",
        meaning: "the Slack app-level token (xapp-..., connections:write) for Socket Mode; never logged",
    },
    Variable {
        name: vars::SLACK_API_BASE,
        default: "unset",
        meaning: "send Slack Web API calls to http(s)://host:port/path (a fake); other hosts are then refused",
    },
    Variable {
        name: vars::SLACK_ADMINS,
        default: "unset",
        meaning: "comma-separated Slack member ids who may run /prep admin subcommands",
    },
    Variable {
        name: vars::LOG,
        default: "warn",
        meaning: "log filter (e.g. prepbot=info); logs go to stderr",
    },
];

/// The variables as a table for `--help`.
pub fn variables_help() -> String {
    let width = VARIABLES.iter().map(|v| v.name.len()).max().unwrap_or(0);
    let mut out = String::from("Environment variables:\n");
    for v in VARIABLES {
        out.push_str(&format!(
            "  {:width$}  {} (default: {})\n",
            v.name, v.meaning, v.default
        ));
    }
    out
}

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
            database_url: non_blank(vars::DATABASE_URL)
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            questions: non_blank(vars::QUESTIONS)
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
    fn the_readme_describes_every_variable() {
        let readme = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"),
        )
        .unwrap();
        let table = readme
            .split("## Configuration")
            .nth(1)
            .expect("a Configuration section");
        for v in VARIABLES {
            assert!(
                table.contains(&format!("| `{}` |", v.name)),
                "README's configuration table lacks {}",
                v.name
            );
        }
    }

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
