//! `supplywatch obligations`: the paperwork checks — contracts,
//! questionnaires, certifications, onboarding — judged today and recorded
//! through the findings lifecycle, or previewed for another day.

use std::io::IsTerminal as _;

use chrono::{NaiveDate, TimeZone as _};
use clap::Args;
use supplywatch::checks::Severity;
use supplywatch::clock::{Clock, SystemClock};
use supplywatch::pipeline;
use supplywatch::report::{Format, check_csv, check_report, check_summary, check_table};
use supplywatch::store::{OpenMode, Store, StoreError};

use super::{Globals, Outcome, UsageError, print_json};

#[derive(Debug, Args)]
pub struct ObligationsArgs {
    /// Judge as of this day instead of today (YYYY-MM-DD): what will be due by then.
    /// A preview: nothing is recorded
    #[arg(long, value_name = "DATE")]
    as_of: Option<NaiveDate>,
    /// Print today's findings without recording them
    #[arg(long)]
    dry_run: bool,
    /// Exit with code 1 when a finding is at or above this severity
    #[arg(long, value_name = "SEVERITY")]
    fail_on: Option<Severity>,
}

pub async fn run(globals: &Globals, args: &ObligationsArgs) -> anyhow::Result<Outcome> {
    let config = globals.load_config()?;
    let db = globals.database_path(Some(&config))?;
    let now = SystemClock.now();
    let preview = args.dry_run || args.as_of.is_some();
    let (run, report) = if preview {
        let at = match args.as_of {
            // Noon in the daemon's zone: the day it names, wherever it is read.
            Some(day) => day
                .and_hms_opt(12, 0, 0)
                .and_then(|t| config.daemon.timezone.from_local_datetime(&t).earliest())
                .map(|t| t.with_timezone(&chrono::Utc))
                .ok_or_else(|| {
                    UsageError(format!(
                        "--as-of {day}: not a day in {}",
                        config.daemon.timezone
                    ))
                })?,
            None => now,
        };
        let store = match Store::open(&db, OpenMode::ReadOnly).await {
            Ok(store) => {
                super::warn_if_not_synced(&store, &config).await?;
                Some(store)
            }
            Err(StoreError::Missing { .. }) => {
                if !globals.quiet {
                    errln!(
                        "note: no database at {} yet: questionnaires are not known, judged as never sent",
                        db.display()
                    );
                }
                None
            }
            Err(e) => return Err(e.into()),
        };
        let run = pipeline::obligations(&config, store.as_ref(), at).await?;
        let report =
            pipeline::preview(store.as_ref(), &run.run_input("obligations"), &config).await;
        if let Some(store) = store {
            store.close().await;
        }
        (run, report?)
    } else {
        let store = globals.open_store(&db, OpenMode::Create).await?;
        let result = pipeline::run_obligations(&store, &config, now, "obligations").await;
        store.close().await;
        result?
    };

    let scores = pipeline::scores_of(&report);
    if !preview && !globals.quiet {
        errln!(
            "saved run {} to {}: {} opened, {} reopened, {} resolved, {} accepted",
            report.run_id,
            db.display(),
            report.opened.len(),
            report.reopened.len(),
            report.resolved.len(),
            report.accepted.len()
        );
    }
    let results = run.results.as_slice();
    match globals.format {
        Format::Json => print_json(&check_report(results, run.at, &scores, &report.marks))?,
        Format::Csv => out!("{}", check_csv(results, &scores, &report.marks)),
        Format::Table => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            out!("{}", check_table(results, &scores, &report.marks, color));
            outln!(
                "{} — paperwork as of {}{}",
                check_summary(results),
                run.today,
                if preview {
                    " (preview, nothing recorded)"
                } else {
                    ""
                }
            );
        }
    }
    Ok(Outcome::of(results, args.fail_on))
}
