//! The service: jobs on cron schedules (probe, obligations, digest,
//! retention), the outbox delivery loop, SIGHUP reloads, a clean stop on
//! SIGTERM/SIGINT, and systemd's READY / WATCHDOG / STOPPING notifications.

mod delivery;
mod jobs;
mod notify;
mod schedule;

pub use jobs::{queue_digest, run_job, run_recorded};
pub use schedule::next_fire;

use delivery::delivery_loop;
use jobs::{log_job_record, start_job};
use notify::{systemd_notify, watchdog_period};
use schedule::{missed_jobs, scheduler};

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use tokio::sync::{Notify, RwLock, mpsc, watch};

use crate::clock::Clock;
use crate::config::{Config, CronSchedule};
use crate::mail::Mailer;
use crate::store::Store;

/// How long a stop waits for the job in flight.
pub const STOP_GRACE: Duration = Duration::from_secs(8);
/// How often (seconds, on the daemon's clock) the outbox is looked at when
/// nothing wakes the loop.
const DELIVERY_INTERVAL_SECS: i64 = 15;
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
    /// The daemon's only source of "now" (a fixed or simulated one in tests).
    clock: Arc<dyn Clock>,
}

/// Why the service, or one of its jobs, failed.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Mail(#[from] crate::mail::MailSetupError),
    #[error(transparent)]
    Probe(#[from] crate::probe::run::RunError),
    #[error(transparent)]
    Stream(#[from] crate::pipeline::StreamError),
    #[error("cannot listen for signals: {0}")]
    Signals(#[from] std::io::Error),
}

/// What the service is told from outside: SIGHUP and SIGTERM/SIGINT in
/// production, a channel in tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Read the config file again (SIGHUP).
    Reload,
    /// Finish the work in flight and stop (SIGTERM, SIGINT).
    Stop,
}

/// Runs the service until SIGTERM or SIGINT, reloading on SIGHUP.
///
/// # Errors
/// When the signals cannot be listened for, the store or the mailer cannot
/// be set up, or the first sync fails.
pub async fn run(config: Config, store: Store, clock: Arc<dyn Clock>) -> Result<(), DaemonError> {
    let control = signals()?;
    run_with(config, store, clock, control).await
}

/// Turns SIGHUP into [`Control::Reload`] and SIGTERM/SIGINT into
/// [`Control::Stop`]. Listening starts before anything else, so a signal
/// that comes while the service starts is not lost (or fatal).
fn signals() -> Result<mpsc::Receiver<Control>, DaemonError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        loop {
            let control = tokio::select! {
                _ = hangup.recv() => Control::Reload,
                _ = terminate.recv() => Control::Stop,
                _ = interrupt.recv() => Control::Stop,
            };
            if tx.send(control).await.is_err() {
                return;
            }
        }
    });
    Ok(rx)
}

/// Runs the service on `clock`, told what to do by `control`, until it is
/// told to stop or `control` is closed.
///
/// # Errors
/// When the store or the mailer cannot be set up, or the first sync fails.
pub async fn run_with(
    config: Config,
    store: Store,
    clock: Arc<dyn Clock>,
    mut control: mpsc::Receiver<Control>,
) -> Result<(), DaemonError> {
    let mailer = Mailer::from_config(&config)?;
    let now = clock.now();
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
        clock,
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
        let next = next_fire(&*shared.config.read().await, job, shared.clock.now());
        start_job(&shared, &mut jobs, job, next);
    }
    scheduler(&shared, &mut jobs, &mut control).await;

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
    Ok(())
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
                let now = shared.clock.now();
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
