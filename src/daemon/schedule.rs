//! When the jobs run: their cron schedules in the daemon's time zone, the
//! ticks missed while the daemon was down, and the loop that starts each
//! job when it is due and stops when told.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::jobs::start_job;
use super::reload;
use super::{Control, Job, Shared};
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

/// Starts jobs when they are due on the daemon's clock, reloads when told,
/// returns when told to stop (or when nothing can tell it anything again).
pub(super) async fn scheduler(
    shared: &Arc<Shared>,
    jobs: &mut tokio::task::JoinSet<()>,
    control: &mut mpsc::Receiver<Control>,
) {
    let mut plan = plan_all(&*shared.config.read().await, shared.clock.now());
    let mut said_idle = false;
    loop {
        let due = plan
            .iter()
            .filter_map(|(j, t)| t.map(|t| (*j, t)))
            .min_by_key(|(_, t)| *t);
        if due.is_none() && !said_idle {
            tracing::warn!("no job will ever fire again; waiting to be reloaded or stopped");
            said_idle = true;
        }
        let wait = match due {
            Some((_, at)) => shared.clock.sleep_until(at),
            None => Box::pin(std::future::pending()),
        };
        tokio::select! {
            () = wait => {
                let Some((job, at)) = due else { continue };
                let fired = shared.clock.now();
                if fired < at {
                    // Woken early (the wall clock was set back, or a long
                    // wait is looked at again): wait anew.
                    continue;
                }
                let config = shared.config.read().await.clone();
                let next = next_fire(&config, job, fired.max(at));
                if let Some(slot) = plan.iter_mut().find(|(j, _)| *j == job) {
                    slot.1 = next;
                }
                start_job(shared, jobs, job, next);
            }
            told = control.recv() => match told {
                Some(Control::Reload) => {
                    reload(shared).await;
                    plan = plan_all(&*shared.config.read().await, shared.clock.now());
                    said_idle = false;
                }
                Some(Control::Stop) | None => return,
            },
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
