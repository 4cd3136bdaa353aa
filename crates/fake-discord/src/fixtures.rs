//! JSON the fake Discord sends and answers with. Every gateway payload built here is
//! checked by `tests/discord_fixtures.rs` to deserialize into a serenity event that is
//! not `Unknown` (serenity drops unknown events silently, which would make a test
//! time out instead of fail).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{APP_ID, BOT_ID, CHANNEL_A, CHANNEL_A2, CHANNEL_B, GUILD_A, GUILD_B};

/// Manage Server.
pub const MANAGE_GUILD: u64 = 1 << 5;
/// View channel, send messages, read history: an ordinary member.
pub const MEMBER_PERMS: u64 = (1 << 10) | (1 << 11) | (1 << 16);

pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn guild_of(channel: u64) -> u64 {
    match channel {
        CHANNEL_B => GUILD_B,
        _ => GUILD_A,
    }
}

pub fn user(id: u64, name: &str, bot: bool) -> Value {
    json!({
        "id": id.to_string(),
        "username": name,
        "discriminator": "0",
        "global_name": name,
        "avatar": null,
        "bot": bot,
    })
}

pub fn bot_user() -> Value {
    user(BOT_ID, "prepbot", true)
}

pub fn ready(port: u16) -> Value {
    json!({
        "v": 10,
        "user": {
            "id": BOT_ID.to_string(),
            "username": "prepbot",
            "discriminator": "0",
            "global_name": null,
            "avatar": null,
            "bot": true,
            "verified": true,
            "mfa_enabled": false,
            "flags": 0,
        },
        "guilds": [
            {"id": GUILD_A.to_string(), "unavailable": true},
            {"id": GUILD_B.to_string(), "unavailable": true},
        ],
        "session_id": "fake-session",
        "resume_gateway_url": format!("ws://127.0.0.1:{port}/gateway-ws"),
        "shard": [0, 1],
        "application": {"id": APP_ID.to_string(), "flags": 0},
    })
}

fn text_channel(id: u64, guild: u64, name: &str) -> Value {
    json!({
        "id": id.to_string(),
        "type": 0,
        "guild_id": guild.to_string(),
        "name": name,
        "position": 0,
        "permission_overwrites": [],
        "nsfw": false,
        "topic": null,
        "last_message_id": null,
        "parent_id": null,
        "rate_limit_per_user": 0,
    })
}

/// GUILD_CREATE for one of the built-in servers, [`GUILD_A`] or [`GUILD_B`].
pub fn guild_create(guild: u64) -> Value {
    if guild == GUILD_A {
        guild_create_with(guild, &[(CHANNEL_A, "study"), (CHANNEL_A2, "study-2")])
    } else {
        guild_create_with(guild, &[(CHANNEL_B, "practice")])
    }
}

/// GUILD_CREATE for a server with these text channels (id, name).
pub fn guild_create_with(guild: u64, channels: &[(u64, &str)]) -> Value {
    let channels: Vec<Value> = channels
        .iter()
        .map(|(id, name)| text_channel(*id, guild, name))
        .collect();
    json!({
        "id": guild.to_string(),
        "name": format!("Guild {guild}"),
        "icon": null,
        "splash": null,
        "discovery_splash": null,
        "owner_id": "1",
        "afk_channel_id": null,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [{
            "id": guild.to_string(),
            "name": "@everyone",
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
            "hoist": false,
            "position": 0,
            "permissions": MEMBER_PERMS.to_string(),
            "managed": false,
            "mentionable": false,
            "flags": 0,
        }],
        "emojis": [],
        "features": [],
        "mfa_level": 0,
        "application_id": null,
        "system_channel_id": null,
        "system_channel_flags": 0,
        "rules_channel_id": null,
        "vanity_url_code": null,
        "description": null,
        "banner": null,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": null,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": false,
        "stickers": [],
        "joined_at": "2026-01-01T00:00:00.000Z",
        "large": false,
        "unavailable": false,
        "member_count": 4,
        "voice_states": [],
        "members": [],
        "channels": channels,
        "threads": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
    })
}

/// The answer to a commands PUT: each command as sent, with the fields Discord adds.
pub fn registered_command(mut command: Value, id: u64, guild: Option<&str>) -> Value {
    let obj = command.as_object_mut().expect("a command object");
    obj.insert("id".into(), json!(id.to_string()));
    obj.insert("application_id".into(), json!(APP_ID.to_string()));
    obj.insert("version".into(), json!(id.to_string()));
    obj.entry("type").or_insert(json!(1));
    obj.entry("default_member_permissions")
        .or_insert(Value::Null);
    obj.entry("options").or_insert(json!([]));
    obj.entry("nsfw").or_insert(json!(false));
    if let Some(g) = guild {
        obj.insert("guild_id".into(), json!(g));
    }
    command
}

/// A message as REST returns it (and as MESSAGE_CREATE carries it).
pub fn message(id: u64, channel: u64, author: Value, sent: &Value, at: DateTime<Utc>) -> Value {
    json!({
        "id": id.to_string(),
        "channel_id": channel.to_string(),
        "author": author,
        "content": sent.get("content").cloned().unwrap_or(json!("")),
        "timestamp": ts(at),
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": sent.get("embeds").cloned().unwrap_or(json!([])),
        "pinned": false,
        "type": 0,
        "flags": 0,
    })
}

pub fn thread(id: u64, parent: u64, name: &str) -> Value {
    json!({
        "id": id.to_string(),
        "type": 11,
        "guild_id": guild_of(parent).to_string(),
        "parent_id": parent.to_string(),
        "name": name,
        "owner_id": BOT_ID.to_string(),
        "last_message_id": null,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "thread_metadata": {
            "archived": false,
            "auto_archive_duration": 10080,
            "archive_timestamp": "2026-01-01T00:00:00.000Z",
            "locked": false,
        },
        "total_message_sent": 0,
        "flags": 0,
    })
}

/// Someone in a guild.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: u64,
    pub name: &'static str,
    pub permissions: u64,
}

impl Person {
    pub fn admin(id: u64, name: &'static str) -> Self {
        Person {
            id,
            name,
            permissions: MEMBER_PERMS | MANAGE_GUILD,
        }
    }

    pub fn member(id: u64, name: &'static str) -> Self {
        Person {
            id,
            name,
            permissions: MEMBER_PERMS,
        }
    }

    pub fn user(&self) -> Value {
        user(self.id, self.name, false)
    }

    fn member_json(&self) -> Value {
        json!({
            "user": self.user(),
            "nick": null,
            "roles": [],
            "joined_at": "2026-01-01T00:00:00.000Z",
            "deaf": false,
            "mute": false,
            "flags": 0,
            "pending": false,
            "permissions": self.permissions.to_string(),
        })
    }
}

/// An application-command option: a string, an integer, a user, or a subcommand.
pub fn opt(name: &str, value: Value) -> Value {
    let kind = match &value {
        Value::Number(_) => 4,
        Value::Bool(_) => 5,
        _ => 3,
    };
    json!({"name": name, "type": kind, "value": value})
}

pub fn user_opt(name: &str, person: &Person) -> Value {
    json!({"name": name, "type": 6, "value": person.id.to_string()})
}

pub fn sub(name: &str, options: Vec<Value>) -> Value {
    json!({"name": name, "type": 1, "options": options})
}

/// An INTERACTION_CREATE for a slash command (`kind` 2) or autocomplete (`kind` 4).
#[allow(clippy::too_many_arguments)]
fn interaction(
    kind: u8,
    id: u64,
    token: &str,
    command: &str,
    options: Vec<Value>,
    resolved_users: &[&Person],
    by: &Person,
    channel: u64,
) -> Value {
    let guild = guild_of(channel);
    let mut data = json!({
        "id": "1",
        "name": command,
        "type": 1,
        "options": options,
        "guild_id": guild.to_string(),
    });
    if !resolved_users.is_empty() {
        let users: serde_json::Map<String, Value> = resolved_users
            .iter()
            .map(|p| (p.id.to_string(), p.user()))
            .collect();
        data["resolved"] = json!({"users": users});
    }
    json!({
        "id": id.to_string(),
        "application_id": APP_ID.to_string(),
        "type": kind,
        "data": data,
        "guild_id": guild.to_string(),
        "channel_id": channel.to_string(),
        "channel": {"id": channel.to_string(), "type": 0},
        "member": by.member_json(),
        "token": token,
        "version": 1,
        "app_permissions": "2251799813685247",
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": guild.to_string()},
        "context": 0,
        "attachment_size_limit": 8_388_608,
    })
}

pub fn slash(
    id: u64,
    token: &str,
    command: &str,
    options: Vec<Value>,
    by: &Person,
    channel: u64,
) -> Value {
    interaction(2, id, token, command, options, &[], by, channel)
}

pub fn slash_with_users(
    id: u64,
    token: &str,
    command: &str,
    options: Vec<Value>,
    users: &[&Person],
    by: &Person,
    channel: u64,
) -> Value {
    interaction(2, id, token, command, options, users, by, channel)
}

pub fn autocomplete(
    id: u64,
    token: &str,
    command: &str,
    options: Vec<Value>,
    by: &Person,
    channel: u64,
) -> Value {
    interaction(4, id, token, command, options, &[], by, channel)
}

/// The same interaction, run in a channel of `guild` (the built-in fixtures place
/// every channel but [`CHANNEL_B`] in [`GUILD_A`]).
pub fn in_guild(mut interaction: Value, guild: u64) -> Value {
    let guild = json!(guild.to_string());
    interaction["guild_id"] = guild.clone();
    interaction["data"]["guild_id"] = guild.clone();
    interaction["authorizing_integration_owners"] = json!({"0": guild});
    interaction
}

/// The same interaction, run inside a thread of `parent`.
pub fn in_thread(mut interaction: Value, thread: u64, parent: u64) -> Value {
    interaction["channel_id"] = json!(thread.to_string());
    interaction["channel"] =
        json!({"id": thread.to_string(), "type": 11, "parent_id": parent.to_string()});
    interaction
}

/// A focused (being typed) autocomplete option.
pub fn focused(name: &str, partial: &str) -> Value {
    json!({"name": name, "type": 3, "value": partial, "focused": true})
}

/// A member's message in a channel or thread.
pub fn member_message(
    id: u64,
    channel: u64,
    guild: u64,
    by: &Person,
    content: &str,
    at: DateTime<Utc>,
) -> Value {
    json!({
        "id": id.to_string(),
        "channel_id": channel.to_string(),
        "guild_id": guild.to_string(),
        "author": by.user(),
        "member": {
            "roles": [],
            "joined_at": "2026-01-01T00:00:00.000Z",
            "deaf": false,
            "mute": false,
            "flags": 0,
            "nick": null,
        },
        "content": content,
        "timestamp": ts(at),
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": false,
        "type": 0,
        "flags": 0,
    })
}

/// A MESSAGE_UPDATE as Discord sends it for an edit (the whole message).
pub fn member_edit(
    id: u64,
    channel: u64,
    guild: u64,
    by: &Person,
    content: &str,
    sent: DateTime<Utc>,
    edited: DateTime<Utc>,
) -> Value {
    let mut m = member_message(id, channel, guild, by, content, sent);
    m["edited_timestamp"] = json!(ts(edited));
    m
}

/// A MESSAGE_UPDATE that carries only the id, the new content and the edit time.
pub fn partial_edit(
    id: u64,
    channel: u64,
    guild: u64,
    content: &str,
    edited: DateTime<Utc>,
) -> Value {
    json!({
        "id": id.to_string(),
        "channel_id": channel.to_string(),
        "guild_id": guild.to_string(),
        "content": content,
        "edited_timestamp": ts(edited),
    })
}

/// A MESSAGE_UPDATE without content (Discord adding a link preview).
pub fn embed_only_update(id: u64, channel: u64, guild: u64) -> Value {
    json!({
        "id": id.to_string(),
        "channel_id": channel.to_string(),
        "guild_id": guild.to_string(),
        "embeds": [{"type": "link", "url": "https://example.com", "title": "Example"}],
    })
}

pub fn message_delete(id: u64, channel: u64, guild: u64) -> Value {
    json!({"id": id.to_string(), "channel_id": channel.to_string(), "guild_id": guild.to_string()})
}

pub fn message_delete_bulk(ids: &[u64], channel: u64, guild: u64) -> Value {
    json!({
        "ids": ids.iter().map(|i| i.to_string()).collect::<Vec<_>>(),
        "channel_id": channel.to_string(),
        "guild_id": guild.to_string(),
    })
}

/// A member's message with attachments, given as `(filename, url)`; `content` may be
/// empty (a diagram posted on its own).
pub fn member_message_with_attachments(
    id: u64,
    channel: u64,
    guild: u64,
    by: &Person,
    content: &str,
    attachments: &[(&str, &str)],
    at: DateTime<Utc>,
) -> Value {
    let mut m = member_message(id, channel, guild, by, content, at);
    m["attachments"] = attachments
        .iter()
        .enumerate()
        .map(|(i, (filename, url))| {
            json!({
                "id": (id + 1 + i as u64).to_string(),
                "filename": filename,
                "size": 48_213,
                "url": url,
                "proxy_url": url.replace("cdn.discordapp.com", "media.discordapp.net"),
                "content_type": "image/png",
                "width": 1200,
                "height": 800,
            })
        })
        .collect();
    m
}
