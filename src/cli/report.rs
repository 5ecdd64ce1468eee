//! `supplywatch report board`: the board report, one self-contained HTML
//! file, written atomically; an existing file is kept unless `--force`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{Duration, NaiveDate};
use supplywatch::clock::{Clock, SystemClock};
use supplywatch::pipeline;
use supplywatch::report::board::{BoardPeriod, BoardReport};

use super::{Globals, Outcome, UsageError, open_for_reading};

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    what: ReportCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ReportCommand {
    /// The board report: one HTML file (no script, no external links) that
    /// prints to PDF with a page per section
    Board(BoardArgs),
    /// One supplier's evidence pack for auditors (ISO 27001 A.5.19-5.22,
    /// DORA Art. 28): index.html, evidence.json, the questionnaires'
    /// documents and a MANIFEST.sha256 that `sha256sum -c` checks
    Supplier(SupplierArgs),
}

#[derive(Debug, clap::Args)]
struct SupplierArgs {
    /// Supplier id
    id: String,
    /// The folder to write (created; an existing one must be empty)
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Write into a folder that is not empty
    #[arg(long)]
    force: bool,
}

#[derive(Debug, clap::Args)]
struct BoardArgs {
    /// Where to write the HTML file
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Changes counted from this day (UTC midnight) [default: 30 days ago]
    #[arg(long, value_name = "DATE")]
    since: Option<NaiveDate>,
    /// Replace FILE when it exists
    #[arg(long)]
    force: bool,
}

/// How far back "what changed" looks without `--since`.
const DEFAULT_SINCE_DAYS: i64 = 30;

pub async fn run(globals: &Globals, args: &ReportArgs) -> anyhow::Result<Outcome> {
    let args = match &args.what {
        ReportCommand::Board(args) => args,
        ReportCommand::Supplier(args) => {
            return super::evidence::run(globals, &args.id, &args.out, args.force).await;
        }
    };
    // Refused before the database is read: the file must not change.
    if !args.force && args.out.symlink_metadata().is_ok() {
        return Err(UsageError(format!(
            "{} exists; pass --force to replace it",
            args.out.display()
        ))
        .into());
    }
    let now = SystemClock.now();
    let (store, config) = open_for_reading(globals).await?;
    let since = args.since.map_or_else(
        || now - Duration::days(DEFAULT_SINCE_DAYS),
        |d| d.and_time(chrono::NaiveTime::MIN).and_utc(),
    );
    let today = config
        .as_ref()
        .map_or_else(|| now.date_naive(), |c| pipeline::local_day(c, now));
    let cadence = config
        .as_ref()
        .map(|c| c.questionnaires.clone())
        .unwrap_or_default();
    let period = BoardPeriod {
        now,
        since,
        today,
        cadence,
    };
    let asn = super::asn_table(config.as_ref())?;
    let register = config.map(|c| c.register).unwrap_or_default();
    let report = BoardReport::gather(&store, period, &register, asn.as_ref()).await;
    store.close().await;
    let report = report?;
    write_atomically(&args.out, report.to_html().as_bytes(), args.force)?;
    if !globals.quiet {
        outln!(
            "wrote {} ({} suppliers, {} open findings, {} deadlines in the next {} days)",
            args.out.display(),
            report.suppliers.len(),
            report.open_findings.len(),
            report.deadlines.len(),
            supplywatch::report::board::DEADLINE_DAYS
        );
    }
    Ok(Outcome::Ok)
}

/// Writes `bytes` to a temporary file beside `path`, then renames it into
/// place: a reader never sees half a report. Without `force` an existing
/// file (even one that appeared meanwhile) is left as it is.
fn write_atomically(path: &Path, bytes: &[u8], force: bool) -> anyhow::Result<()> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut file = tempfile::Builder::new()
        .prefix(".board-report")
        .suffix(".tmp")
        .tempfile_in(folder)
        .with_context(|| format!("cannot create a file in {}", folder.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("cannot write {}", file.path().display()))?;
    if force {
        file.persist(path)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot write {}", path.display()))?;
    } else if let Err(e) = file.persist_noclobber(path) {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            return Err(UsageError(format!(
                "{} exists; pass --force to replace it",
                path.display()
            ))
            .into());
        }
        return Err(e.error).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}
