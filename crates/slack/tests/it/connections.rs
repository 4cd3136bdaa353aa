//! Several Socket Mode connections in one process (`PREPBOT_SLACK_CONNECTIONS=2`):
//! all of them open, commands answered on whichever one they came, and an answer
//! Slack delivers on one, on the other, or on both (a redelivery after a missed
//! ack) stored once and acknowledged once.

use std::time::Duration;

use prepbot_core::store::Store;
use prepbot_fake_slack::{ADMIN, CHANNEL, CREATOR, MEMBER, MEMBER_2};

use crate::bot::{WAIT, reply_event, start_with_connections};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_two_connections_both_open_and_an_event_on_either_is_applied_once() {
    let bot = start_with_connections(2).await;
    let fake = bot.fake.clone();
    // The token check at start asks for one connection URL, then one per connection.
    assert_eq!(fake.connections_opened(), 3);
    let sockets = fake.socket_ids();
    assert_eq!(sockets.len(), 2, "{sockets:?}");
    let (first, second) = (sockets[0], sockets[1]);

    // A lookup on the first connection is answered on it.
    let id = fake.command_on(first, CHANNEL, MEMBER, "schedule");
    let want = id.clone();
    fake.wait_until("the acknowledgement on the first", WAIT, move |f| {
        f.ack_of(&want).is_some()
    })
    .await;
    assert_eq!(fake.ack_sockets(&id), [first]);
    assert!(
        fake.ack_of(&id).unwrap()["payload"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("no schedule")),
        "{:?}",
        fake.ack_of(&id)
    );
    assert!(
        bot.admin(CREATOR, "setup 09:00 UTC")
            .await
            .starts_with("Scheduled")
    );
    assert!(bot.admin(ADMIN, "drop").await.starts_with("Posted drop #1"));
    let thread = fake.top_level_posts(CHANNEL)[0]["ts"]
        .as_str()
        .unwrap()
        .to_string();

    // Mo's answer on the first connection, Nell's on the second, then each again
    // on the other one.
    let mo = reply_event(&fake, &thread, MEMBER, "Mo's answer");
    let nell = reply_event(&fake, &thread, MEMBER_2, "Nell's answer");
    let sent = [
        (fake.message_event_on(first, mo.clone()), first),
        (fake.message_event_on(second, nell.clone()), second),
        (fake.message_event_on(second, mo.clone()), second),
        (fake.message_event_on(first, nell.clone()), first),
    ];
    fake.wait_until("two reactions", WAIT, |f| f.reactions().len() == 2)
        .await;
    fake.wait_until("every envelope acknowledged", WAIT, |f| {
        sent.iter().all(|(id, _)| f.ack_of(id).is_some())
    })
    .await;
    // Spread over both connections by Slack: two more answers, one on each.
    fake.spread_round_robin();
    let more: Vec<_> = [(MEMBER, "Mo, again"), (MEMBER_2, "Nell, again")]
        .iter()
        .map(|(user, text)| {
            let event = reply_event(&fake, &thread, user, text);
            let ts = event["ts"].as_str().unwrap().to_string();
            (fake.message_event(event), ts)
        })
        .collect();
    let spread: Vec<_> = more
        .iter()
        .map(|(id, _)| fake.delivered_on(id).unwrap())
        .collect();
    assert!(
        spread.contains(&first) && spread.contains(&second),
        "{spread:?}"
    );
    fake.wait_until("four reactions", WAIT, |f| f.reactions().len() == 4)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    for (id, socket) in sent {
        assert_eq!(
            fake.ack_sockets(&id),
            [socket],
            "{id}: acknowledged once, on its own connection"
        );
    }
    for (id, _) in &more {
        assert_eq!(
            fake.ack_sockets(id),
            [fake.delivered_on(id).unwrap()],
            "{id}"
        );
    }
    let mut asked: Vec<String> = fake
        .calls_of("reactions.add")
        .iter()
        .map(|b| b["timestamp"].as_str().unwrap_or_default().to_string())
        .collect();
    asked.sort();
    let mut answers = vec![
        mo["ts"].as_str().unwrap().to_string(),
        nell["ts"].as_str().unwrap().to_string(),
        more[0].1.clone(),
        more[1].1.clone(),
    ];
    answers.sort();
    assert_eq!(asked, answers, "one reaction asked for each answer");

    let (_fake, db, _dir) = bot.stop().await;
    let store = Store::open_url(&db).await.unwrap();
    let mut conn = store.read().await.unwrap();
    let mut stored: Vec<String> = prepbot_core::store::answers::for_drop(&mut conn, 1)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.message_id)
        .collect();
    stored.sort();
    assert_eq!(stored, answers, "each answer stored once");
}
