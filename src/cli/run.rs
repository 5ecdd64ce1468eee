//! `supplywatch run`: the service (see `supplywatch::daemon`), or one
//! cycle of it with `--once`.

use clap::Args;
use supplywatch::clock::{Clock as _, SystemClock};
use supplywatch::daemon::{self, Job};
use supplywatch::mail::{Mailer, deliver_due};
use supplywatch::store::OpenMode;

use super::{Globals, Outcome};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run each job once (probe, obligations, and the digest with --digest),
    /// deliver what they queued, and exit: a cron-style alternative to the service
    #[arg(long)]
    once: bool,
    /// With --once: queue the weekly digest too
    #[arg(long, requires = "once")]
    digest: bool,
}

pub async fn run(globals: &Globals, args: &RunArgs) -> anyhow::Result<Outcome> {
    let config = globals.load_config()?;
    let db = globals.database_path(Some(&config))?;
    let store = globals.open_store(&db, OpenMode::Create).await?;
    if !args.once {
        daemon::run(config, store, std::sync::Arc::new(SystemClock)).await?;
        return Ok(Outcome::Ok);
    }
    // One cycle by hand: no reason to wait for a jitter meant for schedules.
    let mut config = config;
    config.daemon.probe_jitter_secs = 0;
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut jobs = vec![Job::Probe, Job::Obligations];
    if args.digest {
        jobs.push(Job::Digest);
    }
    let mut failed = None;
    for job in jobs {
        match daemon::run_recorded(
            &store,
            &config,
            job,
            stop.clone(),
            None,
            Some("run --once"),
            &SystemClock,
        )
        .await
        {
            Ok(summary) => {
                if !globals.quiet {
                    errln!("{}: {summary}", job.name());
                }
            }
            Err(e) => {
                errln!("error: {}: {e:#}", job.name());
                failed.get_or_insert(e);
            }
        }
    }
    let mailer = Mailer::from_config(&config)?;
    let report = deliver_due(
        &store,
        &mailer,
        || SystemClock.now(),
        config.email.max_attempts,
        u32::MAX,
        || true,
    )
    .await;
    store.close().await;
    let report = report?;
    if !globals.quiet {
        errln!(
            "delivery via {}: {} sent, {} to retry, {} given up",
            mailer.describe(),
            report.sent,
            report.retried,
            report.given_up
        );
    }
    if let Some(e) = failed {
        return Err(e.into());
    }
    super::nothing_delivered(&report, &mailer)?;
    Ok(Outcome::Ok)
}
