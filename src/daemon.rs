//! The service: jobs on cron schedules (probe, obligations, digest,
//! retention), the outbox delivery loop, SIGHUP reloads, a clean stop on
//! SIGTERM/SIGINT, and systemd's READY / WATCHDOG / STOPPING notifications.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, RwLock, watch};

use crate::config::{Config, CronSchedule};
use crate::escalate::Escalation;
use crate::mail::{Mailer, deliver_due};
use crate::pipeline;
use crate::probe::run::Silent;
use crate::registry::SupplierStatus;
use crate::store::Store;

/// How long a stop waits for the job in flight.
pub const STOP_GRACE: Duration = Duration::from_secs(8);
/// How often the outbox is looked at when nothing wakes the loop.
const DELIVERY_INTERVAL: Duration = Duration::from_secs(15);
/// Rows sent per delivery pass.
const DELIVERY_BATCH: u32 = 200;

/// The daemon's jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Job {
    Probe,
    Obligations,
    Digest,
    Retention,
}

impl Job {
    pub const ALL: [Self; 4] = [
        Self::Probe,
        Self::Obligations,
        Self::Digest,
        Self::Retention,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Probe => "probe",
            Self::Obligations => "obligations",
            Self::Digest => "digest",
            Self::Retention => "retention",
        }
    }

    fn schedule(self, config: &Config) -> &CronSchedule {
        match self {
            Self::Probe => &config.daemon.probe_schedule,
            Self::Obligations => &config.daemon.obligations_schedule,
            Self::Digest => &config.daemon.digest_schedule,
            Self::Retention => &config.daemon.retention_schedule,
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Probe => 0,
            Self::Obligations => 1,
            Self::Digest => 2,
            Self::Retention => 3,
        }
    }
}

/// The next time `job` fires after `now`, in the config's time zone.
#[must_use]
pub fn next_fire(config: &Config, job: Job, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    job.schedule(config)
        .schedule
        .after(&now.with_timezone(&config.daemon.timezone))
        .next()
        .map(|t| t.with_timezone(&Utc))
}

/// What the jobs share.
struct Shared {
    config_path: PathBuf,
    config: RwLock<Arc<Config>>,
    mailer: RwLock<Arc<Mailer>>,
    store: Store,
    running: [AtomicBool; 4],
    /// Wakes the delivery loop when a job queued messages.
    outbox: Notify,
    stop: watch::Receiver<bool>,
}

/// Runs the service until SIGTERM or SIGINT.
///
/// # Errors
/// When the store or the mailer cannot be set up, or the first sync fails.
pub async fn run(config: Config, store: Store) -> anyhow::Result<()> {
    let mailer = Mailer::from_config(&config).map_err(anyhow::Error::msg)?;
    let now = Utc::now();
    let report = store
        .sync(
            &config.suppliers,
            &crate::pipeline::registry_policy(&config),
            &format!("daemon {}", config.path.display()),
            now,
        )
        .await?;
    tracing::info!(
        onboarded = report.onboarded.len(),
        updated = report.updated.len(),
        exited = report.exited.len(),
        database = %store.path().display(),
        mail = %mailer.describe(),
        "registry synced; supplywatch running"
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        config_path: config.path.clone(),
        config: RwLock::new(Arc::new(config)),
        mailer: RwLock::new(Arc::new(mailer)),
        store,
        running: Default::default(),
        outbox: Notify::new(),
        stop: stop_rx,
    });
    // Jobs whose tick passed while the daemon was down (a Monday digest
    // missed by a restart) run now; the others wait for their next tick.
    let missed = missed_jobs(&shared).await;
    let config = shared.config.read().await.clone();
    for job in Job::ALL {
        let recorded = shared
            .store
            .record_job_next(job.name(), next_fire(&config, job, now))
            .await;
        log_job_record(job, recorded);
    }
    systemd_notify("READY=1\n");

    let delivery = tokio::spawn(delivery_loop(shared.clone()));
    let watchdog = watchdog_period().map(|period| {
        let mut stop = shared.stop.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period / 2);
            loop {
                tokio::select! {
                    _ = tick.tick() => { systemd_notify("WATCHDOG=1\n"); }
                    _ = stop.changed() => break,
                }
            }
        })
    });
    let mut jobs = tokio::task::JoinSet::new();
    for job in missed {
        tracing::info!(
            job = job.name(),
            "its last tick passed while supplywatch was not running: running it now"
        );
        let next = next_fire(&*shared.config.read().await, job, Utc::now());
        start_job(&shared, &mut jobs, job, next);
    }
    let result = scheduler(&shared, &mut jobs).await;

    systemd_notify("STOPPING=1\n");
    tracing::info!("stopping: waiting for the job in flight (and the e-mail being sent)");
    let _ = stop_tx.send(true);
    let mut delivery = delivery;
    let drained = tokio::time::timeout(STOP_GRACE, async {
        while jobs.join_next().await.is_some() {}
        let _ = (&mut delivery).await;
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "the work in flight did not finish in time; it was stopped (a probe or transaction cut short is rolled back)"
        );
        jobs.abort_all();
        delivery.abort();
    }
    if let Some(w) = watchdog {
        w.abort();
    }
    if tokio::time::timeout(Duration::from_secs(1), shared.store.close())
        .await
        .is_err()
    {
        tracing::warn!("the database did not close in time");
    }
    tracing::info!("stopped");
    result
}

/// Jobs whose last scheduled tick came after they last finished.
async fn missed_jobs(shared: &Shared) -> Vec<Job> {
    let config = shared.config.read().await.clone();
    let runs = match shared.store.job_runs().await {
        Ok(runs) => runs,
        Err(e) => {
            tracing::warn!("cannot read the jobs' last runs, none is caught up: {e}");
            return Vec::new();
        }
    };
    let now = Utc::now();
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
async fn scheduler(
    shared: &Arc<Shared>,
    jobs: &mut tokio::task::JoinSet<()>,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut plan = plan_all(&*shared.config.read().await, Utc::now());
    loop {
        let now = Utc::now();
        let Some((job, at)) = plan
            .iter()
            .filter_map(|(j, t)| t.map(|t| (*j, t)))
            .min_by_key(|(_, t)| *t)
        else {
            tracing::warn!("no job will ever fire again; waiting for a signal");
            tokio::select! {
                _ = hangup.recv() => { reload(shared).await; plan = plan_all(&*shared.config.read().await, Utc::now()); continue; }
                _ = terminate.recv() => return Ok(()),
                _ = interrupt.recv() => return Ok(()),
            }
        };
        let wait = (at - now).to_std().unwrap_or(Duration::ZERO);
        tokio::select! {
            () = tokio::time::sleep(wait) => {
                let fired = Utc::now();
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
                plan = plan_all(&*shared.config.read().await, Utc::now());
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

fn plan_all(config: &Config, now: DateTime<Utc>) -> Vec<(Job, Option<DateTime<Utc>>)> {
    Job::ALL
        .iter()
        .map(|j| (*j, next_fire(config, *j, now)))
        .collect()
}

/// Starts `job` unless it is still running from its last tick.
fn start_job(
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
        let _ = run_recorded(&shared.store, &config, job, shared.stop.clone(), next, None).await;
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
) -> anyhow::Result<String> {
    let started = Utc::now();
    let recorded = store.record_job(job.name(), started, None, next).await;
    log_job_record(job, recorded);
    let outcome = run_job(store, config, job, stop).await;
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
        .record_job(job.name(), Utc::now(), Some(&text), next)
        .await;
    log_job_record(job, recorded);
    outcome
}

/// The job record is what `status` shows; failing to write it must not
/// stop the job, but must not go unsaid either.
fn log_job_record(job: Job, recorded: Result<(), crate::store::StoreError>) {
    if let Err(e) = recorded {
        tracing::warn!(
            job = job.name(),
            "cannot record the job's run for `status`: {e}"
        );
    }
}

/// Clears a job's running flag when dropped.
struct Running(Arc<Shared>, Job);

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
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<String> {
    let now = Utc::now();
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
            let mut spread = config.clone();
            spread.probe.spread = Duration::from_secs(u64::from(config.daemon.probe_jitter_secs));
            let probe = pipeline::probe_and_check(&spread, &suppliers, Arc::new(Silent), Utc::now);
            let run = tokio::select! {
                run = probe => run?,
                _ = stop.changed() => return Ok("stopped while probing; nothing saved".to_owned()),
            };
            let health = run.health();
            let notifier = Escalation::new(config, Some(health), run.at);
            let report = run
                .save_with(store, config, "daemon", Some(&notifier))
                .await?;
            Ok(format!(
                "{} suppliers probed ({} of {} probes failed): {} opened, {} reopened, {} resolved, {} e-mails queued",
                suppliers.len(),
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
) -> anyhow::Result<usize> {
    let input = pipeline::digest_input(store, config, now).await?;
    let digest = crate::digest::render(&input);
    let Some(message) = pipeline::digest_message(config, &digest, now) else {
        tracing::warn!("no [contacts] risk_manager (or ciso): the digest has no recipient");
        return Ok(0);
    };
    Ok(store.enqueue(&[message], now).await?)
}

async fn delivery_loop(shared: Arc<Shared>) {
    let mut stop = shared.stop.clone();
    loop {
        // Each pass in a task of its own: a panic in one is logged, and the
        // loop goes on.
        let pass = {
            let shared = shared.clone();
            tokio::spawn(async move {
                let mailer = shared.mailer.read().await.clone();
                let max = shared.config.read().await.email.max_attempts;
                let stop = shared.stop.clone();
                deliver_due(
                    &shared.store,
                    &mailer,
                    Utc::now,
                    max,
                    DELIVERY_BATCH,
                    || !*stop.borrow(),
                )
                .await
            })
        };
        let full = match pass.await {
            Ok(Ok(r)) => {
                if r.sent + r.retried + r.given_up > 0 {
                    tracing::info!(
                        sent = r.sent,
                        retried = r.retried,
                        given_up = r.given_up,
                        "outbox delivery"
                    );
                }
                r.sent + r.given_up >= DELIVERY_BATCH as usize
            }
            Ok(Err(e)) => {
                tracing::error!("outbox: {e}");
                false
            }
            Err(e) => {
                tracing::error!("outbox delivery failed unexpectedly: {e}");
                false
            }
        };
        if *stop.borrow() {
            return;
        }
        if full {
            // A backlog: go on at once.
            continue;
        }
        tokio::select! {
            () = tokio::time::sleep(DELIVERY_INTERVAL) => {}
            () = shared.outbox.notified() => {}
            _ = stop.changed() => return,
        }
    }
}

/// SIGHUP: a valid config is synced and takes effect; an invalid one is
/// refused with its errors logged, and the old one stays.
async fn reload(shared: &Shared) {
    let path = shared.config_path.clone();
    let loaded = Config::load(&path);
    if let Ok(config) = &loaded {
        for w in &config.warnings {
            tracing::warn!("config reload: {w}");
        }
    }
    match loaded {
        Ok(config) => match Mailer::from_config(&config) {
            Ok(mailer) => {
                let now = Utc::now();
                match shared
                    .store
                    .sync(
                        &config.suppliers,
                        &crate::pipeline::registry_policy(&config),
                        &format!("daemon reload {}", path.display()),
                        now,
                    )
                    .await
                {
                    Ok(report) => {
                        *shared.config.write().await = Arc::new(config);
                        *shared.mailer.write().await = Arc::new(mailer);
                        tracing::info!(
                            onboarded = report.onboarded.len(),
                            updated = report.updated.len(),
                            exited = report.exited.len(),
                            "config reloaded from {}",
                            path.display()
                        );
                    }
                    Err(e) => {
                        tracing::error!(
                            "config reload: the sync failed, the old config stays: {e}"
                        );
                    }
                }
            }
            Err(e) => tracing::error!("config reload refused, the old config stays: {e}"),
        },
        Err(e) => {
            if let crate::config::ConfigError::Invalid {
                diagnostics,
                not_shown,
                ..
            } = &e
            {
                for d in diagnostics {
                    tracing::error!("config reload: {d}");
                }
                if *not_shown > 0 {
                    tracing::error!("config reload: {}", crate::config::more_errors(*not_shown));
                }
            }
            tracing::error!("config reload refused, the old config stays: {e}");
        }
    }
}

/// The watchdog period systemd asks for (`WatchdogSec=`), if it is meant
/// for this process.
fn watchdog_period() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    let for_us = std::env::var("WATCHDOG_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .is_none_or(|pid| pid == std::process::id());
    (for_us && usec > 0).then(|| Duration::from_micros(usec))
}

/// Tells systemd `state` over `$NOTIFY_SOCKET`, if there is one. Never
/// blocks: a service manager that does not read its socket costs a lost
/// notification, not a stuck daemon.
fn systemd_notify(state: &str) {
    use std::os::unix::net::UnixDatagram;
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let sent = UnixDatagram::unbound().and_then(|socket| {
        socket.set_nonblocking(true)?;
        let bytes = path.as_encoded_bytes();
        if let Some(name) = bytes.strip_prefix(b"@") {
            use std::os::linux::net::SocketAddrExt as _;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            socket.send_to_addr(state.as_bytes(), &addr)
        } else {
            socket.send_to(state.as_bytes(), &path)
        }
    });
    if let Err(e) = sent {
        tracing::debug!("systemd notification {state:?} not sent: {e}");
    }
}
