//! `supplywatch check`: probe suppliers once and report findings. Needs no
//! database, unless `--save` records the run in it.

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::Args;
use supplywatch::checks::Severity;
use supplywatch::clock::{Clock, SystemClock};
use supplywatch::config::Config;
use supplywatch::pipeline;
use supplywatch::probe::run::{self, ProbeEvent, Progress};
use supplywatch::registry::Supplier;
use supplywatch::report::Format;
use supplywatch::store::{OpenMode, Store};

use super::{Globals, Outcome, UsageError};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Supplier ids to probe [default: all in the config]
    #[arg(value_name = "SUPPLIER_ID")]
    suppliers: Vec<String>,
    /// Exit with code 1 when a finding is at or above this severity (critical, high, medium, low, info)
    #[arg(long, value_name = "SEVERITY")]
    fail_on: Option<Severity>,
    /// Record the run in the database: findings open, refresh, resolve; scores are kept
    #[arg(long)]
    save: bool,
}

/// The suppliers named on the command line, or all of them.
fn select(config: &Config, ids: &[String]) -> Result<Vec<Supplier>, UsageError> {
    if ids.is_empty() {
        return Ok(config.suppliers.clone());
    }
    ids.iter()
        .map(|id| {
            config
                .suppliers
                .iter()
                .find(|s| s.id.as_str() == id)
                .cloned()
                .ok_or_else(|| {
                    UsageError(format!(
                        "no supplier {id:?} in {}; known: {}",
                        config.path.display(),
                        config
                            .suppliers
                            .iter()
                            .map(|s| s.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })
        })
        .collect()
}

pub async fn run(globals: &Globals, args: &CheckArgs) -> anyhow::Result<Outcome> {
    let config = globals.load_config()?;
    let selected = select(&config, &args.suppliers)?;
    let progress: Arc<dyn Progress> = if globals.quiet {
        Arc::new(run::Silent)
    } else if std::io::stderr().is_terminal() {
        Arc::new(Bar::new())
    } else {
        Arc::new(Lines::default())
    };
    // Open the database first: a bad path should fail before minutes of probing.
    let store = if args.save {
        let db = globals.database_path(Some(&config))?;
        Some(globals.open_store(&db, OpenMode::Create).await?)
    } else {
        None
    };
    let started = std::time::Instant::now();
    let source = if args.save { "check --save" } else { "check" };
    let mut options = pipeline::StreamOptions::new(progress, source);
    options.store = store.as_ref();
    options.stop = Some(super::stop_on_signals());
    let run = pipeline::probe_streamed(&config, &selected, options, || SystemClock.now()).await?;
    let interrupted = run.streamed.interrupted;
    if interrupted {
        errln!(
            "interrupted: {} of {} suppliers probed and judged{}",
            run.judged(),
            selected.len(),
            if store.is_some() {
                "; the run is saved as interrupted, the others are left as they were"
            } else {
                ""
            }
        );
    }
    let report = if let Some(store) = &store {
        let report = run.save_with(store, &config, source, None).await?;
        store.close().await;
        if !globals.quiet {
            errln!(
                "saved run {} to {}: {} opened, {} reopened, {} resolved, {} pending (damped), {} accepted",
                report.run_id,
                store.path().display(),
                report.opened.len(),
                report.reopened.len(),
                report.resolved.len(),
                report.pending,
                report.accepted.len()
            );
        }
        report
    } else {
        // What --save would record, read from the database (when there
        // is one) without writing: the same marks and grades.
        let stored = open_for_preview(globals, &config).await;
        let report = run.preview(stored.as_ref(), &config, source).await;
        if let Some(store) = &stored {
            store.close().await;
        }
        report?
    };
    print_report(globals, &run, &report)?;
    if globals.format == Format::Table {
        let (endpoints, domains) = (run.endpoints, run.domains);
        outln!(
            "{} — {endpoints} endpoint{} and {domains} domain{} probed in {:.1}s",
            run.tally.summary(),
            if endpoints == 1 { "" } else { "s" },
            if domains == 1 { "" } else { "s" },
            started.elapsed().as_secs_f64()
        );
    }
    if interrupted {
        return Ok(Outcome::Interrupted);
    }
    let failing = args
        .fail_on
        .is_some_and(|threshold| run.tally.any_at_least(threshold));
    Ok(if failing {
        Outcome::FindingsAtThreshold
    } else {
        Outcome::Ok
    })
}

/// Writes the run's report to stdout a chunk of suppliers at a time, worst
/// first ([`pipeline::JudgedRun::write_report`]); warnings on stderr.
fn print_report(
    globals: &Globals,
    run: &pipeline::JudgedRun<'_>,
    report: &supplywatch::store::RunReport,
) -> anyhow::Result<()> {
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    run.write_report(
        report,
        globals.format,
        color,
        &mut |text| out!("{text}"),
        &mut |warning| errln!("warning: {warning}"),
    )?;
    Ok(())
}

/// The database `check` without `--save` compares its run with, opened
/// read-only: `None` (a first run) when there is none yet, or when it
/// cannot be read (said on stderr).
async fn open_for_preview(globals: &Globals, config: &Config) -> Option<Store> {
    let db = globals.database_path(Some(config)).ok()?;
    if !db.exists() {
        return None;
    }
    match Store::open(&db, OpenMode::ReadOnly).await {
        Ok(store) => {
            if let Err(e) = super::warn_if_not_synced(&store, config).await {
                errln!("warning: {e:#}");
            }
            Some(store)
        }
        Err(e) => {
            errln!("warning: {e}; judged as a first run, without the recorded findings");
            None
        }
    }
}

/// Plain lines on stderr when it is not a terminal (logs, CI).
#[derive(Default)]
struct Lines {
    total: AtomicUsize,
    done: AtomicUsize,
}

impl Progress for Lines {
    fn start(&self, total: usize) {
        self.total.store(total, Ordering::Relaxed);
        errln!(
            "probing {total} endpoint{}",
            if total == 1 { "" } else { "s" }
        );
    }
    fn finished(&self, e: &ProbeEvent<'_>) {
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        errln!(
            "[{n}/{}] {} {} {}: {} ({} ms)",
            self.total.load(Ordering::Relaxed),
            e.supplier,
            e.kind.as_str(),
            e.target,
            e.outcome,
            e.elapsed_ms
        );
    }
    fn done(&self) {}
}

/// A progress bar on a terminal.
struct Bar(indicatif::ProgressBar);

impl Bar {
    fn new() -> Self {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} probing [{bar:30}] {pos}/{len} {elapsed} {msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        Self(bar)
    }
}

impl Progress for Bar {
    fn start(&self, total: usize) {
        self.0.set_length(u64::try_from(total).unwrap_or(u64::MAX));
    }
    fn finished(&self, e: &ProbeEvent<'_>) {
        self.0
            .set_message(format!("{} {}", e.kind.as_str(), e.target));
        self.0.inc(1);
    }
    fn done(&self) {
        self.0.finish_and_clear();
    }
}
