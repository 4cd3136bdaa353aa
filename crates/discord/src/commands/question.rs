//! `/question today|show|random|search`: lookups. No lookup shows the model answer of
//! a question that is open (posted, not revealed) in any channel of the server.

use poise::CreateReply;
use poise::serenity_prelude::CreateAutocompleteResponse;

use super::{DifficultyChoice, autocomplete_response, autocomplete_topic, check_topic};
use crate::errors::guild_id;
use crate::limit::{Replies, lookup, private};
use crate::render::{CONTENT_LIMIT, channel_link, question_embeds, relative_time, truncate};
use crate::{CommandError, Context};
use prepbot_core::bank::{PoolFilter, Question};
use prepbot_core::engine::answers::Answerers;
use prepbot_core::engine::reveal::build_reveal;
use prepbot_core::engine::split::split;
use prepbot_core::mix::mix64;
use prepbot_core::practice::Lookup;

/// Longest accepted search query.
pub const MAX_QUERY_CHARS: usize = 200;

/// Look up interview questions
#[poise::command(
    slash_command,
    guild_only,
    subcommands("today", "show", "random", "search"),
    subcommand_required
)]
pub async fn question(_ctx: Context<'_>) -> Result<(), CommandError> {
    Ok(())
}

fn headline(q: &Question) -> String {
    format!(
        "**{}** ({}, {}, {}) `{}`",
        q.title, q.topic, q.difficulty, q.kind, q.id
    )
}

/// Today's open question in this channel, with a link to its thread
#[poise::command(slash_command, guild_only)]
pub async fn today(ctx: Context<'_>) -> Result<(), CommandError> {
    lookup(ctx, today_replies(ctx)).await
}

async fn today_replies(ctx: Context<'_>) -> Result<Replies, CommandError> {
    let guild = guild_id(ctx)?;
    let data = ctx.data();
    let channel_id = super::home_channel(ctx);
    let today = data
        .practice
        .today_at(&super::home_address(ctx), data.clock.now())
        .await?;
    let (open, next) = match today {
        Some(today) => (today.open, today.next_drop),
        None => (None, None),
    };
    let Some(open) = open else {
        let text = match next {
            Some(next) => format!(
                "No drop is open in this channel. The next one is {}.",
                relative_time(next.drop_at)
            ),
            None => "No drop is open in this channel.".to_string(),
        };
        return private(text);
    };
    let Some(q) = data.practice.drop_question(&open).await else {
        return private("Today's question was removed from the bank.");
    };
    let thread = open
        .thread_id
        .as_deref()
        .map_or(channel_id, super::snowflake);
    let text = format!(
        "Drop #{}: {}\n{}\nAnswer in {}. Revealed {}.",
        open.seq.unwrap_or(0),
        headline(q),
        truncate(&q.prompt, 1500),
        channel_link(guild, thread),
        relative_time(open.reveal_due_at)
    );
    private(text)
}

async fn autocomplete_id(ctx: Context<'_>, partial: &str) -> CreateAutocompleteResponse {
    let bank = ctx.data().practice.bank();
    let partial = partial.trim();
    let ids: Vec<String> = if partial.is_empty() {
        bank.all()
            .iter()
            .take(super::MAX_CHOICES)
            .map(|q| q.id.clone())
            .collect()
    } else {
        let mut ids = super::choices(bank.all().iter().map(|q| q.id.as_str()), partial);
        for hit in bank.search(partial, super::MAX_CHOICES) {
            if ids.len() >= super::MAX_CHOICES {
                break;
            }
            if !ids.contains(&hit.question.id) {
                ids.push(hit.question.id.clone());
            }
        }
        ids
    };
    autocomplete_response(ids)
}

/// What `/question show` shows after the prompt: the reveal's sections (not who
/// answered).
pub(crate) fn show_sections(q: &Question) -> Vec<(String, String)> {
    build_reveal(q, 0, &Answerers::default(), &[])
        .blocks
        .into_iter()
        .filter_map(|b| b.heading.map(|h| (h, b.body)))
        .collect()
}

/// Show a question, with its model answer unless it is open in this server
#[poise::command(slash_command, guild_only)]
pub async fn show(
    ctx: Context<'_>,
    #[description = "The question's id (type to search)"]
    #[autocomplete = "autocomplete_id"]
    #[max_length = 100]
    id: String,
) -> Result<(), CommandError> {
    lookup(ctx, show_replies(ctx, id)).await
}

async fn show_replies(ctx: Context<'_>, id: String) -> Result<Replies, CommandError> {
    let guild = guild_id(ctx)?;
    let data = ctx.data();
    let id = id.trim();
    let q = match data
        .practice
        .look_up(
            prepbot_core::chat::Platform::Discord,
            &guild.to_string(),
            id,
        )
        .await?
    {
        Lookup::Unknown => {
            let near = match data.practice.bank().nearest_id(id) {
                Some(near) => format!(" Did you mean `{near}`?"),
                None => String::new(),
            };
            return Err(CommandError::user(format!(
                "No question has the id `{}`.{near} Try /question search.",
                truncate(id, 100)
            )));
        }
        Lookup::Hidden(q) => {
            let text = format!(
                "{}\n{}\nThis question is open in this server right now: its model answer appears at the reveal.",
                headline(q),
                truncate(&q.prompt, 1500)
            );
            return private(text);
        }
        Lookup::Shown(q) => q,
    };
    let sections = show_sections(q);
    // One message when it fits (it always does for the shipped bank): a callback
    // and nothing after it.
    let title = format!(
        "{} ({}, {}, {}) {}",
        q.title, q.topic, q.difficulty, q.kind, q.id
    );
    if let Some(embeds) = question_embeds(&title, &q.prompt, &sections) {
        let reply = embeds
            .into_iter()
            .fold(CreateReply::default().ephemeral(true), CreateReply::embed);
        return Ok(vec![reply]);
    }
    let mut text = format!("{}\n{}", headline(q), q.prompt);
    for (heading, body) in sections {
        text.push_str(&format!("\n\n**{heading}**\n{body}"));
    }
    Ok(split(&text, CONTENT_LIMIT)
        .into_iter()
        .map(|chunk| CreateReply::default().content(chunk).ephemeral(true))
        .collect())
}

/// A random question to practise with (the answer stays hidden)
#[poise::command(slash_command, guild_only)]
pub async fn random(
    ctx: Context<'_>,
    #[description = "Only this topic"]
    #[autocomplete = "autocomplete_topic"]
    topic: Option<String>,
    #[description = "Only this difficulty"] difficulty: Option<DifficultyChoice>,
) -> Result<(), CommandError> {
    lookup(ctx, random_replies(ctx, topic, difficulty)).await
}

async fn random_replies(
    ctx: Context<'_>,
    topic: Option<String>,
    difficulty: Option<DifficultyChoice>,
) -> Result<Replies, CommandError> {
    let data = ctx.data();
    let filter = PoolFilter {
        topic: check_topic(ctx, topic)?,
        difficulty: difficulty.map(Into::into),
        kind: None,
    };
    let seed = mix64(ctx.id() ^ data.clock.now().timestamp_nanos_opt().unwrap_or_default() as u64);
    let Some(q) = data.practice.bank().random(&filter, seed) else {
        return Err(CommandError::user(format!("No question matches {filter}.")));
    };
    let text = format!(
        "{}\n{}\nWhen you have an answer: /question show id:{}",
        headline(q),
        truncate(&q.prompt, 1500),
        q.id
    );
    private(text)
}

/// Search the questions by words; best matches first
#[poise::command(slash_command, guild_only)]
pub async fn search(
    ctx: Context<'_>,
    #[description = "Words to look for, e.g. cache invalidation"]
    #[max_length = 200]
    query: String,
) -> Result<(), CommandError> {
    lookup(ctx, search_replies(ctx, query)).await
}

async fn search_replies(ctx: Context<'_>, query: String) -> Result<Replies, CommandError> {
    let query = query.trim();
    let n = query.chars().count();
    if n == 0 || n > MAX_QUERY_CHARS {
        return Err(CommandError::user(format!(
            "Search for 1 to {MAX_QUERY_CHARS} characters of text, e.g. `cache invalidation`."
        )));
    }
    let hits = ctx.data().practice.bank().search(query, 5);
    if hits.is_empty() {
        return private(format!("No question matches `{}`.", truncate(query, 100)));
    }
    let lines: Vec<String> = hits
        .iter()
        .map(|h| format!("- {}", headline(h.question)))
        .collect();
    private(format!(
        "Best matches for `{}`:\n{}",
        truncate(query, 100),
        lines.join("\n")
    ))
}
