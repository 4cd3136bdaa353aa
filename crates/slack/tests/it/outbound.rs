//! Drops, reveals, reactions and catch-up against the fake Slack, through the core's
//! own scheduler code (`scheduler::drop_now`, `reveal_one`, `catch_up::run`).

use std::time::Duration;

use prepbot_core::acks::{Ack, AckQueue, Acknowledge};
use prepbot_core::catch_up;
use prepbot_core::ports::{Failure, Outbound, RevealAttempt};
use prepbot_fake_slack::{BOT_TOKEN, CHANNEL, MEMBER, MEMBER_2, Misbehave};
use prepbot_slack::history::SlackHistory;
use prepbot_slack::names::Names;
use prepbot_slack::outbound::SlackReactions;
use prepbot_slack::render::{can_ping, strings};
use serde_json::Value;

use crate::support::{Harness, address, now};

fn block_ids(m: &Value) -> Vec<String> {
    m["blocks"]
        .as_array()
        .map(|b| {
            b.iter()
                .filter_map(|b| b["block_id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_drop_is_one_block_kit_message_with_its_marker_that_nothing_in_can_ping() {
    let h = Harness::start().await;
    let drop = h.drop_now().await.expect("posted");
    let posts = h.fake.top_level_posts(CHANNEL);
    assert_eq!(posts.len(), 1);
    assert_eq!(drop.message_id.as_deref(), posts[0]["ts"].as_str());
    // The thread is the drop message itself.
    assert_eq!(drop.thread_id, drop.message_id);
    assert_eq!(block_ids(&posts[0]), [format!("prepbot-d{}", drop.id)]);
    let body = &h.fake.calls_of("chat.postMessage")[0];
    assert!(
        body["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Drop #1"))
    );
    let mut all = Vec::new();
    strings(body, &mut all);
    assert!(all.iter().all(|s| !can_ping(s)), "{all:?}");
    h.fake.assert_payloads_valid();
    // Every call carried the bot token, and only the bot token.
    assert!(
        h.fake
            .calls()
            .iter()
            .all(|c| c.authorization.as_deref() == Some(&format!("Bearer {BOT_TOKEN}")))
    );
    // Found again by its marker, as after a crash.
    let found = h
        .outbound
        .find_drop(&address(CHANNEL), &format!("d{}", drop.id))
        .await
        .expect("history")
        .expect("found");
    assert_eq!(Some(found.message_id), drop.message_id);
    assert!(
        h.outbound
            .find_drop(&address(CHANNEL), "d999")
            .await
            .expect("history")
            .is_none()
    );
}

#[tokio::test]
async fn a_lost_answer_to_a_post_is_found_by_its_marker_and_never_posted_twice() {
    let h = Harness::start().await;
    h.fake
        .fail("chat.postMessage", Misbehave::LostAfterEffect, 1);
    // The post went through but the bot saw a 503: the drop stays claimed.
    assert!(h.drop_now().await.is_err());
    assert_eq!(h.fake.top_level_posts(CHANNEL).len(), 1);
    // The retry after the lease: the scheduler looks first (no dedup window on
    // Slack), finds the post, and records it without a second message.
    assert_eq!(h.outbound.dedup_window(), None);
    let later = now() + chrono::Duration::minutes(10);
    prepbot_core::scheduler::run_due(&h.practice, &h.outbound, later)
        .await
        .expect("a pass");
    assert_eq!(h.fake.top_level_posts(CHANNEL).len(), 1, "posted twice");
    assert!(
        h.fake
            .methods()
            .contains(&"conversations.history".to_string())
    );
    let open = h
        .practice
        .open_drop(h.channel_key)
        .await
        .unwrap()
        .expect("open drop");
    assert_eq!(
        open.message_id.as_deref(),
        h.fake.top_level_posts(CHANNEL)[0]["ts"].as_str()
    );
}

#[tokio::test]
async fn a_429_is_waited_out_by_the_client_and_still_makes_one_message() {
    let h = Harness::start().await;
    h.fake
        .fail("chat.postMessage", Misbehave::RateLimited(1), 1);
    h.drop_now().await.expect("posted after the wait");
    assert_eq!(h.fake.top_level_posts(CHANNEL).len(), 1);
    assert_eq!(h.fake.calls_of("chat.postMessage").len(), 2);
}

#[tokio::test]
async fn a_429_that_outlasts_the_retries_is_retry_after_n_seconds() {
    let h = Harness::start().await;
    h.fake
        .fail("chat.postMessage", Misbehave::RateLimited(1), 10);
    let post = prepbot_core::engine::reveal::DropPost {
        seq: 1,
        question_id: "q".into(),
        title: "t".into(),
        prompt: "p".into(),
        topic: "x".into(),
        difficulty: "easy".into(),
        kind: "technical".into(),
        reveal_at: now(),
    };
    let e = h
        .outbound
        .post_drop(&address(CHANNEL), "d1", &post)
        .await
        .expect_err("rate-limited");
    assert_eq!(e.kind, Failure::RetryAfter(chrono::Duration::seconds(1)));
    assert!(h.fake.top_level_posts(CHANNEL).is_empty());
}

#[tokio::test]
async fn slack_refusals_become_the_failures_the_core_acts_on() {
    let h = Harness::start().await;
    let post = prepbot_core::engine::reveal::DropPost {
        seq: 1,
        question_id: "q".into(),
        title: "t".into(),
        prompt: "p".into(),
        topic: "x".into(),
        difficulty: "easy".into(),
        kind: "technical".into(),
        reveal_at: now(),
    };
    let outside = address(prepbot_fake_slack::CHANNEL_OUTSIDE);
    let e = h
        .outbound
        .post_drop(&outside, "d1", &post)
        .await
        .unwrap_err();
    assert_eq!(e.kind, Failure::Permission);
    assert!(e.message.contains("invite @prepbot"), "{}", e.message);
    h.fake.archive(prepbot_fake_slack::CHANNEL_2);
    let e = h
        .outbound
        .post_drop(&address(prepbot_fake_slack::CHANNEL_2), "d1", &post)
        .await
        .unwrap_err();
    assert_eq!(e.kind, Failure::ConversationGone);
    h.fake.fail("chat.postMessage", Misbehave::Status(502), 1);
    let e = h
        .outbound
        .post_drop(&address(CHANNEL), "d1", &post)
        .await
        .unwrap_err();
    assert_eq!(e.kind, Failure::Unknown);
    assert!(!h.state.down.is_cancelled());
    h.fake.revoke(BOT_TOKEN);
    let e = h
        .outbound
        .post_drop(&address(CHANNEL), "d1", &post)
        .await
        .unwrap_err();
    assert_eq!(e.kind, Failure::AdapterDown);
    assert!(!e.message.contains(BOT_TOKEN));
    // A rejected token stops the adapter: nothing more is scheduled on Slack.
    assert!(h.state.down.is_cancelled());
    assert!(!h.outbound.ready(prepbot_core::chat::Platform::Slack));
}

#[tokio::test]
async fn a_reveal_goes_in_the_thread_and_a_retry_posts_only_the_missing_parts() {
    let h = Harness::start().await;
    let drop = h.drop_now().await.expect("posted");
    let thread = drop.message_id.clone().unwrap();
    // Make the reveal long enough for several parts: a large model answer.
    let job_content = {
        let q = h.practice.drop_question(&drop).await.unwrap().clone();
        let mut c = prepbot_core::engine::reveal::build_reveal(&q, 1, &Default::default(), &[]);
        c.blocks[0].body = "word ".repeat(6000);
        c
    };
    let parts = prepbot_slack::render::reveal_parts(&job_content).len();
    assert!(parts >= 2, "{parts} parts");
    let key = format!("r{}", drop.id);
    // First attempt: part 0 goes out, part 1 fails with a 503.
    h.fake
        .fail_after("chat.postMessage", 1, Misbehave::Status(503), 1);
    let first_try = h
        .outbound
        .post_reveal(
            &address(CHANNEL),
            &thread,
            &key,
            &job_content,
            RevealAttempt::First,
        )
        .await
        .expect_err("the second part failed");
    assert_eq!(first_try.kind, Failure::Unknown);
    let replies_before = h.fake.bot_replies(CHANNEL, &thread).len();
    assert_eq!(replies_before, 1);
    h.outbound
        .post_reveal(
            &address(CHANNEL),
            &thread,
            &key,
            &job_content,
            RevealAttempt::Retry,
        )
        .await
        .expect("the retry");
    let replies = h.fake.bot_replies(CHANNEL, &thread);
    assert_eq!(replies.len(), parts, "each part exactly once");
    let mut markers: Vec<String> = replies.iter().flat_map(block_ids).collect();
    markers.sort();
    let mut want: Vec<String> = (0..parts).map(|i| format!("prepbot-{key}p{i}")).collect();
    want.sort();
    assert_eq!(markers, want);
    // The first part is broadcast to the channel, the others stay in the thread.
    let bodies = h.fake.calls_of("chat.postMessage");
    let first = bodies
        .iter()
        .find(|b| b["blocks"][0]["block_id"] == format!("prepbot-{key}p0"))
        .unwrap();
    assert_eq!(first["reply_broadcast"], true);
    assert_eq!(first["thread_ts"], thread.as_str());
    h.fake.assert_payloads_valid();
}

#[tokio::test]
async fn a_reveal_through_the_scheduler_closes_the_drop() {
    let h = Harness::start().await;
    let drop = h.drop_now().await.expect("posted");
    let closed = prepbot_core::scheduler::reveal_one(&h.practice, &h.outbound, drop.id, now())
        .await
        .expect("reveal")
        .expect("closed");
    assert!(closed.revealed_at.is_some());
    let thread = drop.message_id.unwrap();
    let replies = h.fake.bot_replies(CHANNEL, &thread);
    assert!(!replies.is_empty());
    assert!(
        replies[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Reveal #1")
    );
}

#[tokio::test]
async fn a_reaction_already_there_counts_as_done() {
    let h = Harness::start().await;
    let m = h.fake.add_message(CHANNEL, None, MEMBER, "hi");
    let ts = m["ts"].as_str().unwrap();
    let reactions = SlackReactions {
        api: h.api.clone(),
        state: h.state.clone(),
    };
    reactions
        .acknowledge(CHANNEL, ts, Ack::OnTime)
        .await
        .unwrap();
    reactions
        .acknowledge(CHANNEL, ts, Ack::OnTime)
        .await
        .unwrap();
    reactions.acknowledge(CHANNEL, ts, Ack::Late).await.unwrap();
    assert_eq!(
        h.fake.reactions(),
        [
            (CHANNEL.into(), ts.into(), "white_check_mark".into()),
            (CHANNEL.into(), ts.into(), "clock3".into())
        ]
    );
}

#[tokio::test]
async fn catch_up_lists_a_thread_page_by_page_and_stores_only_members_answers() {
    let h = Harness::start().await;
    let drop = h.drop_now().await.expect("posted");
    let thread = drop.message_id.clone().unwrap();
    let a = h
        .fake
        .add_message(CHANNEL, Some(&thread), MEMBER, "first answer");
    let b = h
        .fake
        .add_message(CHANNEL, Some(&thread), MEMBER_2, "second <!channel>");
    // Another bot's reply and a reply outside the thread are not answers.
    h.fake.add_message(CHANNEL, None, MEMBER, "chatter");
    h.fake
        .add_bot_message(CHANNEL, Some(&thread), "BOTHER", "beep");
    let edited_at = h
        .fake
        .edit_message(CHANNEL, a["ts"].as_str().unwrap(), "first answer, edited");
    h.fake.set_max_page(2);
    let history = SlackHistory {
        api: h.api.clone(),
        practice: h.practice.clone(),
        state: h.state.clone(),
        names: Names::default(),
    };
    let acks = AckQueue::start(SlackReactions {
        api: h.api.clone(),
        state: h.state.clone(),
    });
    let done = catch_up::run(&h.practice, &history, &acks, now()).await;
    assert_eq!(done.drops, 1);
    assert_eq!(done.failed, 0);
    // Paged: the thread (parent + 3 replies) took two pages of two.
    assert!(h.fake.calls_of("conversations.replies").len() >= 2);
    assert_eq!(stored_count(&h, drop.id).await, 2);
    // The two members' answers are stored (not the other bot's reply); the bot's own drop is not; the edit is in.
    let mut conn = h.practice.store().read().await.unwrap();
    let stored = prepbot_core::store::answers::for_drop(&mut conn, drop.id)
        .await
        .unwrap();
    std::mem::drop(conn);
    let bodies: Vec<&str> = stored.iter().map(|a| a.body.as_str()).collect();
    assert!(bodies.contains(&"first answer, edited"), "{bodies:?}");
    assert!(bodies.contains(&"second <!channel>"), "{bodies:?}");
    assert!(!bodies.contains(&"chatter"));
    assert!(
        stored
            .iter()
            .all(|a| a.member_id != prepbot_fake_slack::BOT_USER)
    );
    let _ = &edited_at;
    h.fake
        .wait_until("the acknowledgements", Duration::from_secs(10), |f| {
            f.reactions().len() >= 2
        })
        .await;
    let reacted: Vec<String> = h.fake.reactions().into_iter().map(|r| r.1).collect();
    assert!(reacted.contains(&a["ts"].as_str().unwrap().to_string()));
    assert!(reacted.contains(&b["ts"].as_str().unwrap().to_string()));
    assert!(!reacted.contains(&thread));
    // A second catch-up stores and acknowledges nothing twice.
    let again = catch_up::run(&h.practice, &history, &acks, now()).await;
    let reactions = h.fake.reactions().len();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(h.fake.reactions().len(), reactions);
    assert_eq!(again.failed, 0);
}

#[tokio::test]
async fn the_socket_mode_url_must_be_on_the_pinned_host() {
    let h = Harness::start().await;
    let app = prepbot_slack::api::Secret::new(prepbot_fake_slack::APP_TOKEN);
    let url = h
        .api
        .open_connection(&app)
        .await
        .expect("the fake's own host");
    assert!(url.starts_with("ws://127.0.0.1:"));
    h.fake.set_socket_host("evil.example:443");
    let e = h
        .api
        .open_connection(&app)
        .await
        .expect_err("a foreign host");
    assert!(e.to_string().contains("another host"));
    assert!(!e.to_string().contains("ticket"));
    // The bot token is refused for Socket Mode, and says so without the token.
    let e = h
        .api
        .open_connection(&prepbot_slack::api::Secret::new(BOT_TOKEN))
        .await
        .expect_err("wrong token");
    assert!(e.is_auth());
    assert!(!e.to_string().contains(BOT_TOKEN));
    let _ = h.identity();
}

async fn stored_count(h: &Harness, drop_id: i64) -> usize {
    let mut conn = h.practice.store().read().await.unwrap();
    prepbot_core::store::answers::for_drop(&mut conn, drop_id)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn not_in_channel_fails_the_drop_with_an_invite_reason_and_an_archived_channel_pauses() {
    let h = Harness::start().await;
    h.fake.set_member(CHANNEL, false);
    assert!(h.drop_now().await.is_err());
    let failed = h
        .practice
        .last_failure(h.channel_key)
        .await
        .unwrap()
        .expect("the drop failed for good");
    assert!(
        failed
            .failure
            .as_deref()
            .is_some_and(|f| f.contains("invite @prepbot")),
        "{failed:?}"
    );
    assert!(h.fake.top_level_posts(CHANNEL).is_empty());

    // Archived: the schedule is paused, with the reason.
    let h = Harness::start().await;
    h.fake.archive(CHANNEL);
    assert!(h.drop_now().await.is_err());
    let channel = h
        .practice
        .channel(h.channel_key)
        .await
        .unwrap()
        .expect("the channel");
    assert!(channel.schedule.paused, "{channel:?}");
    assert!(
        channel
            .pause_reason
            .as_deref()
            .is_some_and(|r| r.contains("is_archived")),
        "{channel:?}"
    );
}
