//! `supplywatch findings`: the findings the store keeps, with their lifecycle.

use chrono::NaiveDate;
use clap::Args;
use supplywatch::checks::Severity;
use supplywatch::clock::{Clock, SystemClock};
use supplywatch::report::{Format, Table};
use supplywatch::store::{FindingFilter, FindingState};

use super::{Globals, Outcome, open_for_reading, print_json};

#[derive(Debug, Args)]
pub struct FindingsArgs {
    /// Only this supplier's findings
    #[arg(long, value_name = "ID")]
    supplier: Option<String>,
    /// Only findings at or above this severity (critical, high, medium, low, info)
    #[arg(long, value_name = "SEVERITY")]
    severity: Option<Severity>,
    /// Only findings in this state (open, accepted, resolved, pending) [default: open and accepted]
    #[arg(long, value_name = "STATE", conflicts_with = "all")]
    state: Option<FindingState>,
    /// Findings in every state, resolved and pending included
    #[arg(long)]
    all: bool,
    /// Only findings seen or changed on or after this day (YYYY-MM-DD, UTC)
    #[arg(long, value_name = "DATE")]
    since: Option<NaiveDate>,
}

pub async fn run(globals: &Globals, args: &FindingsArgs) -> anyhow::Result<Outcome> {
    let now = SystemClock.now();
    let (store, _) = open_for_reading(globals, now, "findings").await?;
    let mut findings = store
        .findings(&FindingFilter {
            supplier: args.supplier.clone(),
            min_severity: args.severity,
            state: args.state,
            since: args.since,
        })
        .await?;
    store.close().await;
    if args.state.is_none() && !args.all {
        findings.retain(|f| matches!(f.state, FindingState::Open | FindingState::Accepted));
    }
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.supplier.cmp(&b.supplier))
            .then_with(|| a.check.cmp(&b.check))
            .then_with(|| a.target.cmp(&b.target))
    });
    match globals.format {
        Format::Json => print_json(&findings)?,
        Format::Table if findings.is_empty() => eprintln!("no findings match"),
        Format::Table => {
            let mut t = Table::new(&[
                "SEVERITY",
                "STATE",
                "CHECK",
                "SUPPLIER",
                "TARGET",
                "SINCE",
                "LAST SEEN",
                "SUMMARY",
            ]);
            for f in &findings {
                let since = f.opened_at.unwrap_or(f.first_seen);
                t.row(vec![
                    f.severity.as_str().to_uppercase(),
                    if f.reopen_count > 0 {
                        format!("{} (reopened {}×)", f.state, f.reopen_count)
                    } else {
                        f.state.to_string()
                    },
                    f.check.clone(),
                    f.supplier.clone(),
                    f.target.clone(),
                    since.date_naive().to_string(),
                    f.last_seen.date_naive().to_string(),
                    f.summary.clone(),
                ]);
            }
            print!("{}", t.render());
        }
    }
    Ok(Outcome::Ok)
}
