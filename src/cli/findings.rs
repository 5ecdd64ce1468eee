//! `supplywatch findings`: the findings the store keeps, with their lifecycle.

use chrono::NaiveDate;
use clap::Args;
use supplywatch::checks::Severity;
use supplywatch::report::findings::{findings_table, hidden_line};
use supplywatch::report::{Format, findings_csv};
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
    /// Only findings in this state (open, accepted, resolved, pending) [default: open; the others are counted]
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
    let (store, config) = open_for_reading(globals).await?;
    let mut findings = store
        .findings(&FindingFilter {
            supplier: args.supplier.clone(),
            min_severity: args.severity,
            state: args.state,
            since: args.since,
        })
        .await?;
    let acceptances = store.acceptances().await?;
    store.close().await;
    let policy = config
        .as_ref()
        .map(supplywatch::pipeline::lifecycle_policy)
        .unwrap_or_default();
    // Without --state or --all only open findings are listed; the rest are
    // counted below the table.
    let mut hidden = [0_usize; 3];
    if args.state.is_none() && !args.all {
        findings.retain(|f| {
            let slot = match f.state {
                FindingState::Open => return true,
                FindingState::Pending => 0,
                FindingState::Accepted => 1,
                FindingState::Resolved => 2,
            };
            if let Some(n) = hidden.get_mut(slot) {
                *n += 1;
            }
            false
        });
    }
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.supplier.cmp(&b.supplier))
            .then_with(|| a.check.cmp(&b.check))
            .then_with(|| a.target.cmp(&b.target))
    });
    let footer = hidden_line(hidden);
    match globals.format {
        Format::Json => print_json(&findings)?,
        Format::Csv => {
            out!("{}", findings_csv(&findings, &acceptances, &policy));
            if let (Some(footer), false) = (footer, globals.quiet) {
                errln!("note: {footer}");
            }
        }
        Format::Table if findings.is_empty() => {
            errln!(
                "no open findings match{}",
                footer.map(|f| format!(" ({f})")).unwrap_or_default()
            );
        }
        Format::Table => {
            out!("{}", findings_table(&findings, &acceptances, &policy));
            if let Some(footer) = footer {
                outln!("and {footer}");
            }
        }
    }
    Ok(Outcome::Ok)
}
