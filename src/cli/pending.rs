//! Commands that a later version fills in: present, with a clear error.

use clap::Args;

use super::{Outcome, UsageError};

/// Accepts any arguments so that the message below is what the user sees.
#[derive(Debug, Args)]
pub struct PendingArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    _args: Vec<String>,
}

pub fn run(command: &str) -> anyhow::Result<Outcome> {
    Err(UsageError(format!(
        "`supplywatch {command}` is not available yet in this version; \
         available now: validate, sync, suppliers, audit"
    ))
    .into())
}
