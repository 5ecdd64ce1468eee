//! The jobs themselves — probe, obligations, digest, retention — run once
//! with their start and end recorded, never two of a kind at once.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::{DaemonError, Job, Shared};
use crate::clock::Clock;
use crate::config::Config;
use crate::escalate::Escalation;
use crate::pipeline;
use crate::probe::run::Silent;
use crate::registry::SupplierStatus;
use crate::store::Store;

/// Starts `job` unless it is still running from its last tick.
pub(super) fn start_job(
    shared: &Arc<Shared>,
    jobs: &mut tokio::task::JoinSet<()>,
    job: Job,
    next: Option<DateTime<Utc>>,
) {
    let Some(flag) = shared.running.get(job.index()) else {
        return;
    };
    if flag.swap(true, Ordering::AcqRel) {
        tracing::warn!(
            job = job.name(),
            "still running from its last tick; this tick is skipped"
        );
        return;
    }
    let shared = shared.clone();
    jobs.spawn(async move {
        // Cleared however the job ends, a panic included.
        let _running = Running(shared.clone(), job);
        let config = shared.config.read().await.clone();
        // Logged and recorded already; the next tick runs regardless.
        let _ = run_recorded(
            &shared.store,
            &config,
            job,
            shared.stop.clone(),
            next,
            None,
            &*shared.clock,
        )
        .await;
        shared.outbox.notify_one();
    });
}

/// Runs `job` once with its start and end recorded for `status` (as the
/// service does, and `run --once` too), logging its outcome; `via` names a
/// run that is not the service's (`run --once`) in the recorded outcome.
///
/// # Errors
/// The job's own error, after it was recorded.
pub async fn run_recorded(
    store: &Store,
    config: &Config,
    job: Job,
    stop: watch::Receiver<bool>,
    next: Option<DateTime<Utc>>,
    via: Option<&str>,
    clock: &dyn Clock,
) -> Result<String, DaemonError> {
    let started = clock.now();
    let recorded = store.record_job(job.name(), started, None, next).await;
    log_job_record(job, recorded);
    let outcome = run_job(store, config, job, stop, clock).await;
    let via = via.map(|v| format!(" ({v})")).unwrap_or_default();
    let text = match &outcome {
        Ok(summary) => {
            tracing::info!(job = job.name(), "{summary}");
            format!("ok{via}: {summary}")
        }
        Err(e) => {
            tracing::error!(job = job.name(), "failed: {e:#}");
            format!("failed{via}: {e:#}")
        }
    };
    let recorded = store
        .record_job(job.name(), clock.now(), Some(&text), next)
        .await;
    log_job_record(job, recorded);
    outcome
}

/// The job record is what `status` shows; failing to write it must not
/// stop the job, but must not go unsaid either.
pub(super) fn log_job_record(job: Job, recorded: Result<(), crate::store::StoreError>) {
    if let Err(e) = recorded {
        tracing::warn!(
            job = job.name(),
            "cannot record the job's run for `status`: {e}"
        );
    }
}

/// Clears a job's running flag when dropped.
pub(super) struct Running(Arc<Shared>, Job);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(flag) = self.0.running.get(self.1.index()) {
            flag.store(false, Ordering::Release);
        }
    }
}

/// Runs one job to its end (a probe job stops early, before saving, when
/// the daemon is stopping); returns a one-line summary.
///
/// # Errors
/// Whatever stopped the job.
pub async fn run_job(
    store: &Store,
    config: &Config,
    job: Job,
    stop: watch::Receiver<bool>,
    clock: &dyn Clock,
) -> Result<String, DaemonError> {
    let now = clock.now();
    match job {
        Job::Probe => {
            let mut suppliers: Vec<_> = config
                .suppliers
                .iter()
                .filter(|s| s.status != SupplierStatus::Exited)
                .cloned()
                .collect();
            // Spread the load: each supplier starts at a random moment of
            // the jitter window, and not every run in the same order.
            fastrand::shuffle(&mut suppliers);
            let mut options = pipeline::StreamOptions::new(Arc::new(Silent), "daemon");
            options.store = Some(store);
            options.stop = Some(stop);
            options.spread = Some(Duration::from_secs(u64::from(
                config.daemon.probe_jitter_secs,
            )));
            let run = pipeline::probe_streamed(config, &suppliers, options, || clock.now()).await?;
            let health = run.health;
            let notifier = Escalation::new(config, Some(health), run.at);
            let report = run
                .save_with(store, config, "daemon", Some(&notifier))
                .await?;
            let stopped = if run.streamed.interrupted {
                format!(
                    "stopped while probing: {} of {} suppliers judged and saved (the run is marked interrupted)",
                    health.suppliers,
                    suppliers.len()
                )
            } else {
                format!("{} suppliers probed", suppliers.len())
            };
            Ok(format!(
                "{stopped} ({} of {} probes failed): {} opened, {} reopened, {} resolved, {} e-mails queued",
                health.failed,
                health.probed,
                report.opened.len(),
                report.reopened.len(),
                report.resolved.len(),
                report.queued
            ))
        }
        Job::Obligations => {
            let notifier = Escalation::new(config, None, now);
            let (_, report) =
                pipeline::run_obligations_with(store, config, now, "daemon", Some(&notifier))
                    .await?;
            Ok(format!(
                "paperwork judged: {} opened, {} reopened, {} resolved, {} e-mails queued",
                report.opened.len(),
                report.reopened.len(),
                report.resolved.len(),
                report.queued
            ))
        }
        Job::Digest => {
            let queued = queue_digest(store, config, now).await?;
            Ok(format!("weekly digest queued ({queued} recipients)"))
        }
        Job::Retention => {
            let pruned = store.prune(now, config.daemon.retention_days).await?;
            Ok(format!(
                "pruned {} runs, {} scores, {} observations, {} facts, {} sent e-mails",
                pruned.runs, pruned.scores, pruned.observations, pruned.facts, pruned.outbox
            ))
        }
    }
}

/// Builds the digest as of `now` and queues it; returns the rows queued.
///
/// # Errors
/// When the store cannot be read or written.
pub async fn queue_digest(
    store: &Store,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<usize, DaemonError> {
    let input = pipeline::digest_input(store, config, now).await?;
    let digest = crate::digest::render(&input);
    let Some(message) = pipeline::digest_message(config, &digest, now) else {
        tracing::warn!("no [contacts] risk_manager (or ciso): the digest has no recipient");
        return Ok(0);
    };
    Ok(store.enqueue(&[message], now).await?)
}
