//! Discord's side of catching up after the bot was away ([`prepbot_core::catch_up`] does
//! the rest, on every platform): on startup and after a gateway session was lost,
//! each open Discord drop's thread is listed (`GET /channels/{thread}/messages?after=…`,
//! a page of 100 at a time), with the listing's cursor (a snowflake) turned into the
//! instant it stands for.

use chrono::{DateTime, Utc};

use super::messages::incoming;
use super::rest::{Rest, RestError};
use prepbot_core::acks::AckQueue;
use prepbot_core::catch_up::{self, CaughtUp, Listing, ThreadHistory};
use prepbot_core::chat::Platform;
use prepbot_core::practice::{ListedMessage, Practice};
use prepbot_core::store::drops::DropRecord;

/// Messages per page (Discord's maximum).
const PAGE: u8 = 100;

/// Discord's side of catching up ([`prepbot_core::catch_up`]): a drop's thread listed
/// page by page (`GET /channels/{thread}/messages?after=…`).
pub struct DiscordHistory<'a>(pub &'a Rest);

impl ThreadHistory for DiscordHistory<'_> {
    fn platform(&self) -> Platform {
        Platform::Discord
    }

    async fn list_thread(&self, drop: &DropRecord) -> Result<Option<Listing>, String> {
        let Some(thread) = drop
            .thread_id
            .as_deref()
            .or(drop.message_id.as_deref())
            .and_then(|id| id.parse::<u64>().ok())
        else {
            return Ok(None);
        };
        let (messages, up_to) = list_thread(self.0, thread)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Some(Listing {
            messages,
            // The core compares times, not ids: a snowflake carries the instant it
            // was made.
            complete_up_to: snowflake_time(up_to),
            ack_conversation: thread.to_string(),
        }))
    }
}

/// Catches up on every open Discord drop's thread (see [`prepbot_core::catch_up::run`]).
pub async fn run(
    practice: &Practice,
    rest: &Rest,
    acks: &AckQueue,
    now: DateTime<Utc>,
) -> CaughtUp {
    catch_up::run(practice, &DiscordHistory(rest), acks, now).await
}

/// Every member message in a thread, oldest first, and the highest message id
/// listed (members' or not).
async fn list_thread(rest: &Rest, thread: u64) -> Result<(Vec<ListedMessage>, u64), RestError> {
    // Everything in a thread started from a message has a later id than it.
    let mut after = thread;
    let mut listed = Vec::new();
    loop {
        let page = rest.messages(thread, Some(after), PAGE).await?;
        let full = page.len() >= PAGE as usize;
        let Some(max) = page.iter().map(|m| m.id.get()).max() else {
            break;
        };
        if max <= after {
            break; // a server that ignores `after`: do not loop forever
        }
        after = max;
        listed.extend(page.iter().filter_map(|m| {
            incoming(m).map(|message| ListedMessage {
                message,
                edited_at: m.edited_timestamp.map(|t| *t),
            })
        }));
        if !full {
            break;
        }
    }
    listed.sort_by_key(|l| l.message.message_id.parse::<u64>().unwrap_or_default());
    Ok((listed, after))
}

/// The instant a Discord snowflake was made: its top 42 bits are milliseconds since
/// 2015-01-01 (Discord's epoch). The listing's cursor is an id; the core's is a time.
fn snowflake_time(id: u64) -> DateTime<Utc> {
    const DISCORD_EPOCH_MS: i64 = 1_420_070_400_000;
    let ms = (id >> 22) as i64 + DISCORD_EPOCH_MS;
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MIN_UTC)
}
