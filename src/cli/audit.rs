//! `supplywatch audit [verify|export]`: the append-only log of changes —
//! listed, its hash chain verified (in the database or in an export file),
//! or exported with its chain head.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use serde_json::json;
use supplywatch::report::{Format, audit_table};
use supplywatch::store::{AuditFilter, ChainReport, Store, verify_export};

use super::{Globals, Outcome, UsageError, open_existing, print_json};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    action: Option<AuditCommand>,
    #[command(flatten)]
    list: ListArgs,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Verify the hash chain (writes nothing): exit 1 and the first broken row if it is broken
    Verify(VerifyArgs),
    /// Write the log with its chain head to a JSON Lines file, for an auditor to keep
    Export(ExportArgs),
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Only this supplier's entries
    #[arg(long, value_name = "ID")]
    supplier: Option<String>,
    /// Only entries on or after this day (YYYY-MM-DD, UTC)
    #[arg(long, value_name = "DATE")]
    since: Option<NaiveDate>,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// A chain head kept earlier (the hash `verify` or `export` printed): it must still be in the chain
    #[arg(long, value_name = "HASH")]
    head: Option<String>,
    /// Verify this export file on its own, without the database
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// Start at the first row written on or after this day (YYYY-MM-DD, UTC) [default: the first row]
    #[arg(long, value_name = "DATE")]
    since: Option<NaiveDate>,
    /// The file to write (JSON Lines)
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Replace the file if it exists
    #[arg(long)]
    force: bool,
}

pub async fn run(globals: &Globals, args: &AuditArgs) -> anyhow::Result<Outcome> {
    match &args.action {
        None => list(globals, &args.list).await,
        Some(AuditCommand::Verify(v)) => verify(globals, v).await,
        Some(AuditCommand::Export(e)) => export(globals, e).await,
    }
}

async fn list(globals: &Globals, args: &ListArgs) -> anyhow::Result<Outcome> {
    let store = open_existing(globals).await?;
    let entries = store
        .audit(&AuditFilter {
            supplier: args.supplier.clone(),
            since: args.since,
        })
        .await;
    store.close().await;
    let entries = entries?;
    match globals.format {
        Format::Json => print_json(&entries)?,
        Format::Table if entries.is_empty() => errln!("no audit entries match"),
        // CSV is refused before this command runs (`Command::without_csv`).
        Format::Table | Format::Csv => out!("{}", audit_table(&entries)),
    }
    Ok(Outcome::Ok)
}

async fn verify(globals: &Globals, args: &VerifyArgs) -> anyhow::Result<Outcome> {
    let kept = args.head.as_deref().map(kept_head).transpose()?;
    let (report, what) = if let Some(file) = &args.file {
        (
            verify_export(file, kept.as_deref())?,
            format!("audit export {}", file.display()),
        )
    } else {
        // Read-only: verifying must not change what it verifies (not even
        // by migrating).
        let path = globals.database_path(None)?;
        let store = Store::open_read_only(&path).await?;
        let report = store.verify_audit_against(kept.as_deref()).await;
        store.close().await;
        (report?, "audit log".to_owned())
    };
    match globals.format {
        Format::Json => print_json(&json!({
            "intact": report.is_intact(),
            "rows": report.rows,
            "head": report.head,
            "kept_head": kept,
            "file": args.file,
            "broken": report.broken.as_ref().map(|b| json!({
                "row": b.row(),
                "message": b.to_string(),
                "evidence": b,
            })),
        }))?,
        // CSV is refused before this command runs (`Command::without_csv`).
        Format::Table | Format::Csv => outln!("{}", verdict(&what, &report, kept.is_some())),
    }
    Ok(if report.is_intact() {
        Outcome::Ok
    } else {
        Outcome::ChainBroken
    })
}

/// One line: intact with its row count and head, or the first break.
fn verdict(what: &str, report: &ChainReport, kept: bool) -> String {
    if let Some(broken) = &report.broken {
        return broken.to_string();
    }
    let rows = thousands(report.rows);
    let head = report.head.as_ref().map_or_else(
        || " (empty)".to_owned(),
        |h| format!(", head #{} {}", h.id, h.hash),
    );
    let kept = if kept {
        "; the kept head is in the chain"
    } else {
        ""
    };
    let plural = if report.rows == 1 { "" } else { "s" };
    format!("{what} intact: {rows} row{plural}{head}{kept}")
}

/// `--head`: a hex SHA-256, compared in lowercase.
fn kept_head(text: &str) -> Result<String, UsageError> {
    let hash = text.trim().to_ascii_lowercase();
    if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hash)
    } else {
        Err(UsageError(format!(
            "--head {text:?}: a chain head is the 64 hex digits of a SHA-256, as `audit verify` or `audit export` printed it"
        )))
    }
}

async fn export(globals: &Globals, args: &ExportArgs) -> anyhow::Result<Outcome> {
    if !args.force && args.out.exists() {
        return Err(UsageError(format!(
            "{} exists already; pass --force to replace it",
            args.out.display()
        ))
        .into());
    }
    let store = open_existing(globals).await?;
    let result = store
        .export_audit(
            args.since,
            &args.out,
            args.force,
            supplywatch::clock::Clock::now(&supplywatch::clock::SystemClock),
        )
        .await;
    store.close().await;
    let export = result?;
    match globals.format {
        Format::Json => print_json(&export)?,
        // CSV is refused before this command runs (`Command::without_csv`).
        Format::Table | Format::Csv => {
            let span = match (export.rows, &export.head) {
                (0, _) | (_, None) => String::new(),
                (n, Some(h)) => format!(
                    " (#{} to #{})",
                    h.id - i64::try_from(n).unwrap_or(0) + 1,
                    h.id
                ),
            };
            outln!(
                "wrote {} row{}{span} and the chain head to {}",
                thousands(export.rows),
                if export.rows == 1 { "" } else { "s" },
                export.path.display()
            );
            if let Some(head) = &export.head {
                outln!(
                    "head #{} {}: keep it; `supplywatch audit verify --head {}` checks later that it is still in the chain",
                    head.id,
                    head.hash,
                    head.hash
                );
            }
        }
    }
    Ok(Outcome::Ok)
}

/// `1204` → `1,204`.
fn thousands(n: u64) -> String {
    supplywatch::config::thousands(usize::try_from(n).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_204), "1,204");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
