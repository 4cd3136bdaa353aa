//! The fake Discord's check of every request against Discord's OpenAPI spec
//! (`specs/discord-openapi.json`, `tests/it/fake_discord/openapi.rs`): it accepts what
//! the bot sends, rejects what Discord would reject, settles the spec's two known
//! disagreements with Discord's docs in the documented direction, and fails the test
//! whose requests broke the spec.

use std::sync::Arc;

use prepbot_fake_discord::openapi::{self, check};
use prepbot_fake_discord::{APP_ID, CHANNEL_A, FakeDiscord, GUILD_A};
use serde_json::{Value, json};

const JSON: &str = "application/json";

fn post(path: &str, body: &Value) -> Vec<String> {
    check("POST", path, "", JSON, body.to_string().as_bytes())
}

fn messages() -> String {
    format!("/api/v10/channels/{CHANNEL_A}/messages")
}

fn drop_post(title: &str, content: &str) -> Value {
    json!({
        "content": content,
        "embeds": [{
            "title": title,
            "description": "Design a rate limiter.",
            "color": 0x5865F2,
            "footer": {"text": "Question id: rate-limiter"}
        }],
        "nonce": "drop-1-2026-03-02",
        "enforce_nonce": true,
        "allowed_mentions": {"parse": []}
    })
}

fn command(default_member_permissions: Value) -> Value {
    json!([{
        "name": "setup",
        "description": "Schedule daily questions in this channel",
        "type": 1,
        "default_member_permissions": default_member_permissions,
        "options": [
            {"type": 3, "name": "time", "description": "HH:MM", "required": true},
            {"type": 3, "name": "timezone", "description": "IANA zone", "required": true,
             "autocomplete": true}
        ]
    }])
}

fn put_commands(body: &Value) -> Vec<String> {
    check(
        "PUT",
        &format!("/api/v10/applications/{APP_ID}/guilds/{GUILD_A}/commands"),
        "",
        JSON,
        body.to_string().as_bytes(),
    )
}

#[test]
fn requests_like_the_bot_s_conform() {
    assert_eq!(
        post(&messages(), &drop_post("Daily question", "")),
        Vec::<String>::new()
    );
    assert_eq!(
        post(
            &format!("/api/v10/channels/{CHANNEL_A}/messages/1234/threads"),
            &json!({"name": "Rate limiter", "auto_archive_duration": 10080})
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        check(
            "PUT",
            &format!("/api/v10/channels/{CHANNEL_A}/messages/1234/reactions/%E2%9C%85/@me"),
            "",
            "",
            b""
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        check("GET", &messages(), "limit=100&after=1234", "", b""),
        Vec::<String>::new()
    );
    assert_eq!(
        check("GET", "/api/v10/gateway", "", "", b""),
        Vec::<String>::new()
    );
    assert_eq!(
        post(
            "/api/v10/interactions/1234/tok-1/callback",
            &json!({"type": 4, "data": {"content": "Done.", "flags": 64}})
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        post(
            "/api/v10/interactions/1234/tok-1/callback",
            &json!({"type": 8, "data": {"choices": [{"name": "UTC", "value": "UTC"}]}})
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        post(
            &format!("/api/v10/webhooks/{APP_ID}/tok-1"),
            &json!({"content": "more", "flags": 64})
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        check(
            "PATCH",
            &format!("/api/v10/webhooks/{APP_ID}/tok-1/messages/@original"),
            "",
            JSON,
            json!({"content": "edited"}).to_string().as_bytes()
        ),
        Vec::<String>::new()
    );
    assert_eq!(put_commands(&command(Value::Null)), Vec::<String>::new());
}

#[test]
fn requests_discord_would_reject_do_not() {
    let one = |problems: Vec<String>, expected: &str| {
        assert!(
            problems.len() == 1 && problems[0].contains(expected),
            "expected one problem about {expected:?}, got {problems:#?}"
        );
    };
    one(
        post(&messages(), &drop_post(&"x".repeat(257), "")),
        "/body/embeds/0/title: \"xxxx",
    );
    one(
        post(&messages(), &drop_post(&"x".repeat(257), "")),
        "(257 characters)",
    );
    one(
        check(
            "GET",
            "/api/v10/channels/1/messages/bogus/route",
            "",
            "",
            b"",
        ),
        "no such path",
    );
    one(
        check("GET", "/channels/1/messages", "", "", b""),
        "not under /api/v10",
    );
    one(
        check("PATCH", "/api/v10/gateway", "", "", b""),
        "/gateway has no PATCH",
    );
    one(
        check("GET", "/api/v10/channels/general/messages", "", "", b""),
        "/path/channel_id",
    );
    one(
        check("GET", &messages(), "limit=101", "", b""),
        "/query/limit: 101",
    );
    one(
        check("GET", &messages(), "limt=10", "", b""),
        "Additional properties are not allowed ('limt'",
    );
    one(
        check(
            "POST",
            &format!("/api/v10/channels/{CHANNEL_A}/messages/1234/threads"),
            "",
            "",
            b"",
        ),
        "no body, but the spec requires one",
    );
    one(
        post(
            &format!("/api/v10/channels/{CHANNEL_A}/messages/1234/threads"),
            &json!({"name": "t", "auto_archive_duration": 999}),
        ),
        "/body/auto_archive_duration",
    );
    one(
        check("POST", &messages(), "", "text/plain", b"hello"),
        "only JSON bodies are checked",
    );
    one(
        check("POST", &messages(), "", JSON, b"{not json"),
        "not JSON",
    );
    one(
        post(
            &format!("/api/v10/webhooks/{APP_ID}/tok-1"),
            &json!({"embeds": vec![json!({"title": "t"}); 11]}),
        ),
        "/body",
    );
}

/// The spec types `default_member_permissions` as an integer; Discord's docs and
/// serenity send a string, which the API accepts. Both are accepted, nothing else.
#[test]
fn default_member_permissions_may_be_a_decimal_string_as_discord_documents() {
    let raw: Value =
        serde_json::from_str(include_str!("../../../../specs/discord-openapi.json")).unwrap();
    assert_eq!(
        raw["components"]["schemas"]["ApplicationCommandUpdateRequest"]["properties"]["default_member_permissions"]
            ["type"],
        json!(["integer", "null"]),
        "the discrepancy as the vendored spec has it"
    );
    for ok in [
        json!("32"),
        json!("0"),
        json!(32),
        json!("18014398509481983"),
        Value::Null,
    ] {
        assert_eq!(
            put_commands(&command(ok.clone())),
            Vec::<String>::new(),
            "{ok}"
        );
    }
    for bad in [
        json!("ADMINISTRATOR"),
        json!("-1"),
        json!("032"),
        json!("123456789012345678"),
        json!(true),
    ] {
        let problems = put_commands(&command(bad.clone()));
        assert!(
            problems.len() == 1 && problems[0].contains("/body/0/default_member_permissions"),
            "{bad}: {problems:#?}"
        );
    }
}

/// The spec lets a created message's content be 4,000 characters long; Discord
/// documents (and enforces for bots) 2,000. The checker enforces 2,000.
#[test]
fn message_content_is_held_to_the_documented_2000_characters() {
    let raw: Value =
        serde_json::from_str(include_str!("../../../../specs/discord-openapi.json")).unwrap();
    assert_eq!(
        raw["components"]["schemas"]["MessageCreateRequest"]["properties"]["content"]["maxLength"],
        4000,
        "the discrepancy as the vendored spec has it"
    );
    let content = |n: usize| json!({"content": "a".repeat(n)});
    assert_eq!(post(&messages(), &content(2000)), Vec::<String>::new());
    for n in [2001, 4000] {
        let problems = post(&messages(), &content(n));
        assert!(
            problems.len() == 1
                && problems[0].contains("/body/content")
                && problems[0].contains(&format!("({n} characters)")),
            "{n}: {problems:#?}"
        );
    }
    // Edits too; webhooks and interaction responses already say 2,000 in the spec.
    let edit = check(
        "PATCH",
        &format!("{}/1234", messages()),
        "",
        JSON,
        content(2001).to_string().as_bytes(),
    );
    assert_eq!(edit.len(), 1, "{edit:#?}");
    assert_eq!(
        post(&format!("/api/v10/webhooks/{APP_ID}/tok-1"), &content(2001)).len(),
        1
    );
}

/// Each tolerance asserts the spec's shape: a spec where a place changed upstream
/// stops the tests instead of quietly checking something else.
#[test]
#[should_panic(expected = "changed upstream")]
fn a_tolerance_whose_place_changed_upstream_fails_loudly() {
    let mut raw: Value =
        serde_json::from_str(include_str!("../../../../specs/discord-openapi.json")).unwrap();
    raw["components"]["schemas"]["MessageCreateRequest"]["properties"]["content"]["maxLength"] =
        json!(2000);
    openapi::apply_known_discrepancies(&mut raw);
}

async fn send(fake: &FakeDiscord, method: reqwest::Method, path: &str, body: Option<Value>) {
    let client = reqwest::Client::new();
    let mut request = client.request(method, format!("{}{path}", fake.base()));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("the fake answers");
}

fn fake_clock() -> Arc<dyn prepbot_core::clock::Clock> {
    Arc::new(prepbot_core::clock::SystemClock)
}

#[tokio::test]
async fn the_fake_records_what_the_spec_rejects_and_nothing_else() {
    let fake = FakeDiscord::start(fake_clock()).await;
    send(&fake, reqwest::Method::GET, "/api/v10/gateway", None).await;
    send(
        &fake,
        reqwest::Method::POST,
        &messages(),
        Some(drop_post("Daily question", "")),
    )
    .await;
    assert_eq!(fake.spec_violations(), Vec::<String>::new());
    send(
        &fake,
        reqwest::Method::POST,
        &messages(),
        Some(drop_post(&"t".repeat(300), "")),
    )
    .await;
    send(
        &fake,
        reqwest::Method::DELETE,
        "/api/v10/guilds/1/everything",
        None,
    )
    .await;
    let violations = fake.take_spec_violations();
    assert_eq!(violations.len(), 2, "{violations:#?}");
    assert!(
        violations[0].starts_with(&format!("POST {}: /body/embeds/0/title", messages())),
        "{}",
        violations[0]
    );
    assert!(
        violations[1].starts_with("DELETE /api/v10/guilds/1/everything: no such path"),
        "{}",
        violations[1]
    );
    // Taken: the fake has nothing left to fail the test with.
    fake.assert_requests_match_spec();
}

/// A test whose requests broke the spec fails when it lets go of the fake, even if
/// it never looks: here an embed title over Discord's 256 characters.
#[tokio::test]
#[should_panic(expected = "Discord's OpenAPI spec (specs/discord-openapi.json) rejects")]
async fn a_test_that_sent_a_rejected_request_fails() {
    let fake = FakeDiscord::start(fake_clock()).await;
    send(
        &fake,
        reqwest::Method::POST,
        &messages(),
        Some(drop_post(&"t".repeat(257), "")),
    )
    .await;
}

/// The harness's stop checks too (`Bot::stop` calls this).
#[tokio::test]
#[should_panic(expected = "no such path in Discord's spec")]
async fn asserting_conformance_names_the_rejected_request() {
    let fake = FakeDiscord::start(fake_clock()).await;
    send(&fake, reqwest::Method::GET, "/api/v10/not-a-route", None).await;
    fake.assert_requests_match_spec();
}
