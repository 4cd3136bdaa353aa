//! `/help`: every command, what it does and who may run it, rendered from the
//! core's list ([`prepbot_core::command_rules::COMMANDS`]) that every platform shares;
//! a test checks that list against the commands registered here.

use prepbot_core::command_rules::{COMMANDS, Who};

use crate::limit::{lookup, private};
use crate::{CommandError, Context};

/// What each command does and who may run it
#[poise::command(slash_command)]
pub async fn help(ctx: Context<'_>) -> Result<(), CommandError> {
    lookup(ctx, async { private(text()) }).await
}

/// The help as Discord shows it.
pub fn text() -> String {
    let mut out = String::from(
        "**prepbot**: a daily interview question in this channel's schedule; answer in the drop's thread before the reveal to keep your streak.\n",
    );
    for (who, heading) in [
        (Who::Anyone, "**For everyone**"),
        (Who::Admin, "**For admins** (Manage Server)"),
    ] {
        out.push_str(heading);
        out.push('\n');
        for c in COMMANDS.iter().filter(|c| c.who == who) {
            out.push_str(&format!("`/{}`: {}\n", c.path, c.what));
        }
    }
    out.trim_end().to_string()
}
