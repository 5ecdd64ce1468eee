//! `supplywatch sync`: onboard the config's registry into the database.

use supplywatch::clock::{Clock, SystemClock};
use supplywatch::report::Format;
use supplywatch::store::OpenMode;

use super::{Globals, Outcome, audit_source, print_json};

pub async fn run(globals: &Globals) -> anyhow::Result<Outcome> {
    let config = globals.load_config()?;
    let db = globals.database_path(Some(&config))?;
    let store = globals.open_store(&db, OpenMode::Create).await?;
    let now = SystemClock.now();
    let report = store
        .sync(
            &config.suppliers,
            &supplywatch::pipeline::registry_policy(&config),
            &audit_source(&config.path),
            now,
        )
        .await?;
    store.close().await;
    let today = now.date_naive();
    for a in config.acceptances.iter().filter(|a| a.until < today) {
        errln!(
            "warning: the acceptance of {} on {} ended on {}; it no longer applies",
            a.check,
            a.target.as_deref().unwrap_or(a.supplier.as_str()),
            a.until
        );
    }
    match globals.format {
        Format::Json => print_json(&report)?,
        // CSV is refused before this command runs (`Command::without_csv`).
        Format::Table | Format::Csv => {
            if !globals.quiet {
                for id in &report.onboarded {
                    outln!("onboarded  {id}");
                }
                for id in &report.reentered {
                    outln!("re-entered {id}");
                }
                for (id, fields) in &report.updated {
                    outln!("updated    {id}: {}", fields.join(", "));
                }
                for id in &report.exited {
                    outln!("exited     {id} (no longer in the config; kept with its history)");
                }
                for change in &report.acceptances {
                    outln!("acceptance {change}");
                }
                for k in &report.resolved {
                    outln!(
                        "resolved   {} {} {} (no longer in the registry)",
                        k.supplier,
                        k.check,
                        k.target
                    );
                }
                for k in &report.accepted {
                    outln!("accepted   {} {} {}", k.supplier, k.check, k.target);
                }
                for k in &report.unaccepted {
                    outln!(
                        "reopened   {} {} {} (its acceptance ended or was removed)",
                        k.supplier,
                        k.check,
                        k.target
                    );
                }
            }
            let updated = report
                .updated
                .keys()
                .filter(|id| !report.reentered.contains(id))
                .count();
            let reentered = if report.reentered.is_empty() {
                String::new()
            } else {
                format!("{} re-entered, ", report.reentered.len())
            };
            outln!(
                "{}: {} onboarded, {reentered}{updated} updated, {} exited, {} unchanged{}",
                db.display(),
                report.onboarded.len(),
                report.exited.len(),
                report.unchanged,
                if report.is_empty() {
                    " — already in sync"
                } else {
                    ""
                }
            );
        }
    }
    Ok(Outcome::Ok)
}
