//! Settings from the environment: defaults, then `PREPBOT_*` variables. Every
//! variable prepbot reads is named here ([`vars`]) and described once
//! ([`VARIABLES`]): `prepbot run --help` prints that table, and a test checks the
//! README's configuration table names every one.

use std::path::PathBuf;

use crate::bank::BankSources;

/// The name of every environment variable prepbot reads.
pub mod vars {
    pub const DATABASE_URL: &str = "PREPBOT_DATABASE_URL";
    pub const QUESTIONS: &str = "PREPBOT_QUESTIONS";
    pub const SHIPPED_QUESTIONS: &str = "PREPBOT_SHIPPED_QUESTIONS";
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
    pub const SLACK_CONNECTIONS: &str = "PREPBOT_SLACK_CONNECTIONS";
    pub const SHARDS: &str = "PREPBOT_SHARDS";
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
        meaning: "the bot's database: sqlite://PATH (created and migrated if missing) or postgres://USER@HOST/DB (migrated)",
    },
    Variable {
        name: vars::QUESTIONS,
        default: "unset",
        meaning: "a directory of your team's question packs, added to the shipped bank",
    },
    Variable {
        name: vars::SHIPPED_QUESTIONS,
        default: "on",
        meaning: "off: read only PREPBOT_QUESTIONS, without the bank built into prepbot",
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
        name: vars::SLACK_CONNECTIONS,
        default: "1",
        meaning: "Socket Mode connections (1-10) this process opens; Slack allows 10 per app, so processes x connections <= 10",
    },
    Variable {
        name: vars::SHARDS,
        default: "0-0/1",
        meaning: "the Discord shards this process serves, FIRST-LAST/TOTAL (e.g. 0-1/4 and 2-3/4 for two processes); every process shares one PostgreSQL database",
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

/// `PREPBOT_CLAIM_LEASE_SECS` read: 2 to 3600 seconds, `None` for anything else.
/// Shared by every adapter's settings, which say in their own error what is wrong.
pub fn claim_lease(text: &str) -> Option<chrono::Duration> {
    text.parse::<i64>()
        .ok()
        .filter(|s| (2..=3600).contains(s))
        .map(chrono::Duration::seconds)
}

/// `PREPBOT_CATCH_UP_GRACE_MINS` read: 1 to 10080 minutes (a week), `None` for
/// anything else.
pub fn catch_up_grace(text: &str) -> Option<chrono::Duration> {
    text.parse::<i64>()
        .ok()
        .filter(|m| (1..=10080).contains(m))
        .map(chrono::Duration::minutes)
}

/// What every command that touches the bot's state needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `PREPBOT_DATABASE_URL`, default `sqlite://prepbot.db` (created if missing).
    pub database_url: String,
}

/// `PREPBOT_SHIPPED_QUESTIONS` and `PREPBOT_QUESTIONS`: the shipped bank unless the
/// switch is off, and the packs directory if one is set. Errs on a switch that is
/// neither on nor off, saying so.
pub fn bank_sources(var: impl Fn(&str) -> Option<String>) -> Result<BankSources, String> {
    let non_blank = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let shipped = match non_blank(vars::SHIPPED_QUESTIONS) {
        None => true,
        Some(v) => match v.trim().to_ascii_lowercase().as_str() {
            "on" | "true" | "yes" | "1" => true,
            "off" | "false" | "no" | "0" => false,
            _ => {
                return Err(format!(
                    "{} must be on or off, not `{v}`",
                    vars::SHIPPED_QUESTIONS
                ));
            }
        },
    };
    Ok(BankSources {
        shipped,
        packs: non_blank(vars::QUESTIONS).map(PathBuf::from),
    })
}

impl Config {
    /// Reads the environment through `var` (so tests need not touch the process env).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Config {
        let non_blank = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        Config {
            database_url: non_blank(vars::DATABASE_URL)
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
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
        let c = Config::from_vars(|n| match n {
            "PREPBOT_DATABASE_URL" => Some("sqlite:///var/lib/prepbot/db.sqlite".into()),
            _ => None,
        });
        assert_eq!(c.database_url, "sqlite:///var/lib/prepbot/db.sqlite");
    }

    #[test]
    fn the_shipped_bank_by_default_packs_on_top_and_a_switch_that_says_off() {
        assert_eq!(bank_sources(|_| None), Ok(BankSources::default()));
        let b = bank_sources(|n| match n {
            "PREPBOT_QUESTIONS" => Some("  ".into()),
            _ => None,
        });
        assert_eq!(b, Ok(BankSources::default()), "blank means unset");
        let b = bank_sources(|n| match n {
            "PREPBOT_QUESTIONS" => Some("/srv/packs".into()),
            "PREPBOT_SHIPPED_QUESTIONS" => Some("Off".into()),
            _ => None,
        });
        assert_eq!(
            b,
            Ok(BankSources {
                shipped: false,
                packs: Some(PathBuf::from("/srv/packs"))
            })
        );
        let e = bank_sources(|n| (n == "PREPBOT_SHIPPED_QUESTIONS").then(|| "nope".into()));
        assert_eq!(
            e,
            Err("PREPBOT_SHIPPED_QUESTIONS must be on or off, not `nope`".into())
        );
    }
}
