//! The per-member command budget on Discord, charged in the core's
//! [`CommandBudget`] (see [`prepbot_core::command_budget`]: in memory on SQLite,
//! shared by every process on PostgreSQL):
//! - a lookup ([`LOOKUPS`]) is charged while it reads ([`lookup`]), and answers
//!   only if the member is within budget: on PostgreSQL the charge is a round trip,
//!   and side by side with the lookup's own it costs a member no wait of its own;
//! - any other command is charged before it runs ([`check`], poise's
//!   `command_check`), since it changes something.
//!
//! Not charged: autocomplete (every keystroke is an interaction, and poise runs the
//! checks for those too) and the admin commands in [`EXEMPT`].

use std::future::Future;

use poise::CreateReply;
use tracing::info;

use super::{CommandError, Context};
pub use prepbot_core::command_budget::{
    BUDGET, CommandBudget, EXEMPT, Verdict, WINDOW, is_exempt, refusal,
};

/// The commands that only read and reply, by qualified name: each runs its work
/// through [`lookup`], which charges the member alongside it. One whose arguments
/// poise cannot parse never reaches [`lookup`] and is not charged: it read nothing.
pub const LOOKUPS: [&str; 8] = [
    "help",
    "question today",
    "question show",
    "question random",
    "question search",
    "streak",
    "leaderboard",
    "schedule show",
];

pub fn is_lookup(qualified_name: &str) -> bool {
    LOOKUPS.contains(&qualified_name)
}

/// What a lookup answers: the messages to send, in order.
pub type Replies = Vec<CreateReply>;

/// One ephemeral message.
pub fn private(text: impl Into<String>) -> Result<Replies, CommandError> {
    Ok(vec![CreateReply::default().content(text).ephemeral(true)])
}

/// Marks an invocation [`check`] has charged: poise runs `command_check` at each
/// level of a subcommand (`/forget`, then `/forget me`) with the same context, and
/// one invocation is one command. (The core's rule would also charge it once, at
/// the cost of a second round trip on PostgreSQL.)
struct Charged;

/// poise's `command_check`: charges the invoking member, or refuses with a user
/// error that `errors::on_error` shows ephemerally. The command then does not run.
pub fn check(ctx: Context<'_>) -> poise::BoxFuture<'_, Result<bool, CommandError>> {
    Box::pin(async move {
        if let poise::Context::Application(a) = ctx
            && a.interaction_type == poise::CommandInteractionType::Autocomplete
        {
            return Ok(true);
        }
        let command = &ctx.command().qualified_name;
        if is_exempt(command) || is_lookup(command) {
            return Ok(true);
        }
        if ctx.invocation_data::<Charged>().await.is_some() {
            return Ok(true);
        }
        let data = ctx.data();
        let user = ctx.author().id.get();
        match data
            .limits
            .check(&user.to_string(), ctx.id(), data.clock.now())
            .await
        {
            Verdict::Allowed => {
                ctx.set_invocation_data(Charged).await;
                Ok(true)
            }
            Verdict::Refused { retry_after } => Err(refused(ctx, retry_after)),
        }
    })
}

/// Runs a lookup: `work` computes the command's replies (sending nothing) while the
/// member is charged, and they are sent if the member is within budget; otherwise
/// the refusal is, and the replies are dropped.
pub async fn lookup(
    ctx: Context<'_>,
    work: impl Future<Output = Result<Replies, CommandError>>,
) -> Result<(), CommandError> {
    debug_assert!(
        is_lookup(&ctx.command().qualified_name),
        "/{} is not listed as a lookup",
        ctx.command().qualified_name
    );
    let data = ctx.data();
    let user = ctx.author().id.get().to_string();
    let answer = data
        .limits
        .check_alongside(&user, ctx.id(), data.clock.now(), work)
        .await;
    match answer {
        Ok(replies) => {
            for reply in replies? {
                ctx.send(reply).await?;
            }
            Ok(())
        }
        Err(r) => Err(refused(ctx, r.retry_after)),
    }
}

fn refused(ctx: Context<'_>, retry_after: chrono::TimeDelta) -> CommandError {
    info!(
        command = %ctx.command().qualified_name,
        user = ctx.author().id.get(),
        retry_after_ms = retry_after.num_milliseconds(),
        "command refused: over the member's budget"
    );
    CommandError::user(refusal(retry_after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exempt_name_is_a_command() {
        let mut all = crate::commands::all();
        poise::set_qualified_names(&mut all);
        fn names(c: &poise::Command<crate::Data, CommandError>, out: &mut Vec<String>) {
            out.push(c.qualified_name.to_string());
            c.subcommands.iter().for_each(|s| names(s, out));
        }
        let mut known = Vec::new();
        all.iter().for_each(|c| names(c, &mut known));
        for name in EXEMPT.iter().chain(&LOOKUPS) {
            assert!(known.iter().any(|k| k == name), "/{name} is not a command");
        }
        assert!(
            !EXEMPT.iter().any(|e| LOOKUPS.contains(e)),
            "a command is exempt or a lookup, not both"
        );
        assert!(!is_exempt("question search") && !is_exempt("streak"));
    }
}
