//! The per-member command budget on Discord: [`check`] is poise's `command_check`,
//! charging the invoking member in the core's [`CommandBudget`] (see
//! [`prepbot_core::command_budget`]: in memory on SQLite, shared by every process
//! on PostgreSQL) before a command runs.
//!
//! Not charged: autocomplete (every keystroke is an interaction, and poise runs the
//! checks for those too) and the admin commands in [`EXEMPT`].

use tracing::info;

use super::{CommandError, Context};
pub use prepbot_core::command_budget::{
    BUDGET, CommandBudget, EXEMPT, Verdict, WINDOW, is_exempt, refusal,
};

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
        if is_exempt(command) {
            return Ok(true);
        }
        let data = ctx.data();
        let user = ctx.author().id.get();
        match data
            .limits
            .check(&user.to_string(), ctx.id(), data.clock.now())
            .await
        {
            Verdict::Allowed => Ok(true),
            Verdict::Refused { retry_after } => {
                info!(
                    command = %command,
                    user,
                    retry_after_ms = retry_after.num_milliseconds(),
                    "command refused: over the member's budget"
                );
                Err(CommandError::user(refusal(retry_after)))
            }
        }
    })
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
        for name in EXEMPT {
            assert!(known.iter().any(|k| k == name), "/{name} is not a command");
        }
        assert!(!is_exempt("question search") && !is_exempt("streak"));
    }
}
