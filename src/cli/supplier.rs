//! `supplywatch supplier show ID`: one supplier's whole file.

use clap::{Args, Subcommand};
use supplywatch::clock::{Clock, SystemClock};
use supplywatch::pipeline;
use supplywatch::report::supplier::{
    DatedDeadline, ListedFinding, SupplierFile, supplier_file_text,
};
use supplywatch::report::{Format, finding_state};
use supplywatch::store::{AuditFilter, FindingFilter, FindingState};

use super::{Globals, Outcome, open_for_reading, print_json, unknown_supplier};

#[derive(Debug, Args)]
pub struct SupplierArgs {
    #[command(subcommand)]
    command: SupplierCommand,
}

#[derive(Debug, Subcommand)]
enum SupplierCommand {
    /// Registry data, contract and deadlines, questionnaires, certifications,
    /// open findings and lifecycle of one supplier
    Show {
        /// Supplier id
        id: String,
    },
}

pub async fn run(globals: &Globals, args: &SupplierArgs) -> anyhow::Result<Outcome> {
    let SupplierCommand::Show { id } = &args.command;
    let now = SystemClock.now();
    let (store, config) = open_for_reading(globals).await?;
    let suppliers = store.suppliers().await?;
    let Some(supplier) = suppliers.iter().find(|s| &s.id == id) else {
        store.close().await;
        return Err(unknown_supplier(id, suppliers.iter().map(|s| s.id.as_str())).into());
    };
    let questionnaires = store.questionnaires(Some(id)).await?;
    let mut findings = store
        .findings(&FindingFilter {
            supplier: Some(id.clone()),
            ..FindingFilter::default()
        })
        .await?;
    findings.retain(|f| f.state != FindingState::Resolved);
    let acceptances = store.acceptances().await?;
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.check.cmp(&b.check))
            .then_with(|| a.target.cmp(&b.target))
    });
    let scores = store.supplier_scores(now).await?;
    let audit = store
        .audit(&AuditFilter {
            supplier: Some(id.clone()),
            since: None,
        })
        .await?;
    store.close().await;

    let today = config
        .as_ref()
        .map_or_else(|| now.date_naive(), |c| pipeline::local_day(c, now));
    let policy = config
        .as_ref()
        .map(pipeline::lifecycle_policy)
        .unwrap_or_default();
    let cadence = config.map(|c| c.questionnaires).unwrap_or_default();
    let deadlines = supplier.deadlines(&questionnaires, today, &cadence);
    let file = SupplierFile {
        supplier,
        score: scores.iter().find(|r| &r.supplier == id),
        deadlines: deadlines
            .iter()
            .map(|d| DatedDeadline {
                deadline: d,
                days_left: (d.date - today).num_days(),
            })
            .collect(),
        questionnaires: &questionnaires,
        findings: findings
            .iter()
            .map(|f| ListedFinding {
                state_note: finding_state(f, &acceptances, &policy),
                finding: f,
            })
            .collect(),
        lifecycle: audit
            .iter()
            .filter(|e| {
                matches!(e.action.as_str(), "onboard" | "exit" | "reenter")
                    || (e.action == "update" && e.field.as_deref() == Some("status"))
            })
            .collect(),
    };
    match globals.format {
        Format::Json => print_json(&file)?,
        // CSV is refused before this command runs (`Command::without_csv`).
        Format::Table | Format::Csv => out!("{}", supplier_file_text(&file, today)),
    }
    Ok(Outcome::Ok)
}
