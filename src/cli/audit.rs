//! `supplywatch audit`: the append-only log of registry changes.

use chrono::NaiveDate;
use clap::Args;
use supplywatch::report::{Format, audit_table};
use supplywatch::store::AuditFilter;

use super::{Globals, Outcome, open_existing, print_json};

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this supplier's entries
    #[arg(long, value_name = "ID")]
    supplier: Option<String>,
    /// Only entries on or after this day (YYYY-MM-DD, UTC)
    #[arg(long, value_name = "DATE")]
    since: Option<NaiveDate>,
}

pub async fn run(globals: &Globals, args: &AuditArgs) -> anyhow::Result<Outcome> {
    let store = open_existing(globals).await?;
    let entries = store
        .audit(&AuditFilter {
            supplier: args.supplier.clone(),
            since: args.since,
        })
        .await?;
    store.close().await;
    match globals.format {
        Format::Json => print_json(&entries)?,
        Format::Table if entries.is_empty() => eprintln!("no audit entries match"),
        Format::Table => print!("{}", audit_table(&entries)),
    }
    Ok(Outcome::Ok)
}
