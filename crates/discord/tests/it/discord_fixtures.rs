//! Every gateway payload the fake Discord sends must deserialize into a serenity event
//! that is not `Unknown`: serenity drops what it cannot read without a word, and an
//! end-to-end test would then time out instead of failing.

use chrono::{DateTime, Utc};
use prepbot_fake_discord::fixtures::*;
use prepbot_fake_discord::{CHANNEL_A, GUILD_A};
use serde_json::{Value, json};
use serenity::all::{Event, GatewayEvent};

fn at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn check(kind: &str, data: Value) -> Event {
    let frame = json!({"op": 0, "t": kind, "s": 1, "d": data});
    let event: GatewayEvent =
        serde_json::from_value(frame).unwrap_or_else(|e| panic!("{kind}: {e}"));
    match event {
        GatewayEvent::Dispatch(_, Event::Unknown(u)) => {
            panic!("{kind} deserialized as Unknown: {u:?}")
        }
        GatewayEvent::Dispatch(_, event) => event,
        other => panic!("{kind}: not a dispatch: {other:?}"),
    }
}

#[test]
fn ready_and_guild_create() {
    assert!(matches!(check("READY", ready(1234)), Event::Ready(_)));
    assert!(matches!(
        check("GUILD_CREATE", guild_create(GUILD_A)),
        Event::GuildCreate(_)
    ));
}

#[test]
fn interactions_commands_autocomplete_and_users() {
    let admin = Person::admin(1, "ada");
    let other = Person::member(2, "ben");
    let e = check(
        "INTERACTION_CREATE",
        slash(
            10,
            "tok",
            "setup",
            vec![opt("time", json!("09:00")), opt("reveal_after", json!(8))],
            &admin,
            CHANNEL_A,
        ),
    );
    let Event::InteractionCreate(i) = e else {
        panic!()
    };
    let cmd = i.interaction.command().expect("a command interaction");
    assert_eq!(cmd.data.name, "setup");
    assert_eq!(
        cmd.member.as_ref().unwrap().permissions.unwrap().bits(),
        admin.permissions
    );
    check(
        "INTERACTION_CREATE",
        slash(
            11,
            "tok",
            "schedule",
            vec![sub("show", vec![])],
            &other,
            CHANNEL_A,
        ),
    );
    let e = check(
        "INTERACTION_CREATE",
        slash_with_users(
            12,
            "tok",
            "streak",
            vec![user_opt("member", &other)],
            &[&other],
            &admin,
            CHANNEL_A,
        ),
    );
    let Event::InteractionCreate(i) = e else {
        panic!()
    };
    assert!(
        i.interaction
            .command()
            .unwrap()
            .data
            .resolved
            .users
            .contains_key(&serenity::all::UserId::new(2))
    );
    let e = check(
        "INTERACTION_CREATE",
        autocomplete(
            13,
            "tok",
            "setup",
            vec![opt("time", json!("09:00")), focused("timezone", "lon")],
            &admin,
            CHANNEL_A,
        ),
    );
    let Event::InteractionCreate(i) = e else {
        panic!()
    };
    assert!(i.interaction.autocomplete().is_some());
}

#[test]
fn messages_edits_and_deletes() {
    let ben = Person::member(2, "ben");
    let Event::MessageCreate(m) = check(
        "MESSAGE_CREATE",
        member_message(5, 6, GUILD_A, &ben, "my answer", at()),
    ) else {
        panic!()
    };
    assert_eq!(m.message.content, "my answer");
    assert_eq!(*m.message.timestamp, at());
    let bot_echo = message(
        7,
        6,
        bot_user(),
        &json!({"content": "hi", "embeds": []}),
        at(),
    );
    let Event::MessageCreate(m) = check("MESSAGE_CREATE", bot_echo) else {
        panic!()
    };
    assert!(m.message.author.bot);
    let Event::MessageUpdate(u) = check(
        "MESSAGE_UPDATE",
        member_edit(5, 6, GUILD_A, &ben, "better", at(), at()),
    ) else {
        panic!()
    };
    assert_eq!(u.content.as_deref(), Some("better"));
    let Event::MessageUpdate(u) = check("MESSAGE_UPDATE", embed_only_update(5, 6, GUILD_A)) else {
        panic!()
    };
    assert!(u.content.is_none());
    assert!(matches!(
        check("MESSAGE_DELETE", message_delete(5, 6, GUILD_A)),
        Event::MessageDelete(_)
    ));
    assert!(matches!(
        check(
            "MESSAGE_DELETE_BULK",
            message_delete_bulk(&[5, 8], 6, GUILD_A)
        ),
        Event::MessageDeleteBulk(_)
    ));
}

#[test]
fn rest_answers_are_readable_by_serenity() {
    let m: serenity::all::Message =
        serde_json::from_value(message(7, 6, bot_user(), &json!({"content": "x"}), at())).unwrap();
    assert_eq!(m.id.get(), 7);
    let t: serenity::all::GuildChannel =
        serde_json::from_value(thread(7, CHANNEL_A, "Drop #1")).unwrap();
    assert_eq!(t.id.get(), 7);
    let cmd = registered_command(
        json!({"name": "setup", "description": "d", "options": []}),
        99,
        Some("1"),
    );
    let _: serenity::all::Command = serde_json::from_value(cmd).unwrap();
}

#[test]
fn a_message_with_only_an_attachment() {
    let ben = Person::member(2, "ben");
    let Event::MessageCreate(m) = check(
        "MESSAGE_CREATE",
        member_message_with_attachments(
            5,
            6,
            GUILD_A,
            &ben,
            "",
            &[(
                "diagram.png",
                "https://cdn.discordapp.com/attachments/6/9/diagram.png",
            )],
            at(),
        ),
    ) else {
        panic!()
    };
    assert_eq!(m.message.content, "");
    assert_eq!(m.message.attachments.len(), 1);
    assert_eq!(m.message.attachments[0].filename, "diagram.png");
    assert_eq!(
        m.message.attachments[0].url,
        "https://cdn.discordapp.com/attachments/6/9/diagram.png"
    );
}
