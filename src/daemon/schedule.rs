//! When the jobs run: their cron schedules in the daemon's time zone, the
//! ticks missed while the daemon was down, and the loop that starts each
//! job when it is due and stops on a signal.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::jobs::start_job;
use super::reload;
use super::{DaemonError, Job, Shared};
use crate::config::Config;

/// The next time `job` fires after `now`, in the config's time zone.
#[must_use]
pub fn next_fire(config: &Config, job: Job, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    job.schedule(config)
        .schedule
        .after(&now.with_timezone(&config.daemon.timezone))
        .next()
        .map(|t| t.with_timezone(&Utc))
}

/// Jobs whose last scheduled tick came after they last finished.
pub(super) async fn missed_jobs(shared: &Shared) -> Vec<Job> {
    let config = shared.config.read().await.clone();
    let runs = match shared.store.job_runs().await {
        Ok(runs) => runs,
        Err(e) => {
            tracing::warn!("cannot read the jobs' last runs, none is caught up: {e}");
            return Vec::new();
        }
    };
    let now = shared.clock.now();
    Job::ALL
        .into_iter()
        .filter(|job| {
            runs.iter()
                .find(|r| r.job == job.name())
                .and_then(|r| r.last_finished)
                .and_then(|finished| next_fire(&config, *job, finished))
                .is_some_and(|due| due <= now)
        })
        .collect()
}

/// Starts jobs when they are due, reloads on SIGHUP, returns on
/// SIGTERM/SIGINT.
pub(super) async fn scheduler(
    shared: &Arc<Shared>,
    jobs: &mut tokio::task::JoinSet<()>,
) -> Result<(), DaemonError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut plan = plan_all(&*shared.config.read().await, shared.clock.now());
    loop {
        let now = shared.clock.now();
        let Some((job, at)) = plan
            .iter()
            .filter_map(|(j, t)| t.map(|t| (*j, t)))
            .min_by_key(|(_, t)| *t)
        else {
            tracing::warn!("no job will ever fire again; waiting for a signal");
            tokio::select! {
                _ = hangup.recv() => { reload(shared).await; plan = plan_all(&*shared.config.read().await, shared.clock.now()); continue; }
                _ = terminate.recv() => return Ok(()),
                _ = interrupt.recv() => return Ok(()),
            }
        };
        let wait = (at - now).to_std().unwrap_or(Duration::ZERO);
        tokio::select! {
            () = tokio::time::sleep(wait) => {
                let fired = shared.clock.now();
                if fired < at {
                    // The wall clock was set back while sleeping: wait again.
                    continue;
                }
                let config = shared.config.read().await.clone();
                let next = next_fire(&config, job, fired.max(at));
                if let Some(slot) = plan.iter_mut().find(|(j, _)| *j == job) {
                    slot.1 = next;
                }
                start_job(shared, jobs, job, next);
            }
            _ = hangup.recv() => {
                reload(shared).await;
                plan = plan_all(&*shared.config.read().await, shared.clock.now());
            }
            _ = terminate.recv() => return Ok(()),
            _ = interrupt.recv() => return Ok(()),
            Some(done) = jobs.join_next(), if !jobs.is_empty() => {
                if let Err(e) = done {
                    tracing::error!("a job failed unexpectedly: {e}");
                }
            }
        }
    }
}

pub(super) fn plan_all(config: &Config, now: DateTime<Utc>) -> Vec<(Job, Option<DateTime<Utc>>)> {
    Job::ALL
        .iter()
        .map(|j| (*j, next_fire(config, *j, now)))
        .collect()
}
