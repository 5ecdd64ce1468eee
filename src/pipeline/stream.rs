//! A probe run streamed: each supplier is judged as soon as its probes are
//! back, its observations stored in batches (when the run is saved) and
//! then dropped, so that no point of the run holds every supplier's
//! observations. What stays until the end is each supplier's findings and
//! scopes, which the run's record needs (a run is judged blind, or not,
//! on all of it).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};

use crate::checks::{self, Policy, Scope, SupplierResult};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::escalate::RunHealth;
use crate::probe::revocation::CrlCache;
use crate::probe::run::{Ended, Progress, RunError, Streaming, SupplierObservations};
use crate::registry::Supplier;
use crate::store::{RunReport, Store, StoreError, Streamed};

/// Suppliers whose observations are stored in one transaction.
const BATCH_SUPPLIERS: usize = 128;

/// Why a streamed run stopped short.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Probe(#[from] RunError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How a streamed run is fed and where its observations go.
pub struct StreamOptions<'a> {
    pub progress: Arc<dyn Progress>,
    /// Where the observations are stored as the run goes (a run to be
    /// saved); the registry is synced into it first. `None`: they are
    /// judged and dropped.
    pub store: Option<&'a Store>,
    /// Who records the run (`check --save`, `daemon` …), for the sync's
    /// audit rows.
    pub source: &'a str,
    /// Turns true to stop the run: the suppliers judged so far are kept.
    pub stop: Option<watch::Receiver<bool>>,
    /// The CRL cache (the process's unless a test gives its own).
    pub crls: Arc<CrlCache>,
    pub clock: Arc<dyn Clock>,
}

impl<'a> StreamOptions<'a> {
    /// A run judged and dropped, with the process's CRL cache and the
    /// system clock.
    #[must_use]
    pub fn new(progress: Arc<dyn Progress>, source: &'a str) -> Self {
        Self {
            progress,
            store: None,
            source,
            stop: None,
            crls: CrlCache::shared(),
            clock: Arc::new(SystemClock),
        }
    }
}

/// What a streamed run judged, without its observations.
#[derive(Debug)]
pub struct JudgedRun {
    pub at: DateTime<Utc>,
    /// Suppliers worst first.
    pub results: Vec<SupplierResult>,
    /// What the run covered ([`checks::scopes`]).
    pub scopes: Vec<Scope>,
    pub health: RunHealth,
    /// Endpoints and domains probed.
    pub endpoints: usize,
    pub domains: usize,
    /// Observations stored as it went, and whether it was stopped early.
    pub streamed: Streamed,
}

/// Probes `suppliers` as [`super::probe_and_check`] does, judging each as
/// it completes; with a store, syncs the registry first and stores the
/// observations in batches of [`BATCH_SUPPLIERS`] suppliers.
///
/// # Errors
/// [`StreamError`] when the probes cannot be set up or the store fails.
pub async fn probe_streamed(
    config: &Config,
    suppliers: &[Supplier],
    options: StreamOptions<'_>,
    now: impl FnOnce() -> DateTime<Utc>,
) -> Result<JudgedRun, StreamError> {
    let at = now();
    if let Some(store) = options.store {
        let audit_source = format!("{} {}", options.source, config.path.display());
        store
            .sync(
                &config.suppliers,
                &super::registry_policy(config),
                &audit_source,
                at,
            )
            .await?;
    }
    let (sink, mut received) = mpsc::channel::<(usize, SupplierObservations)>(32);
    let probing = Streaming {
        suppliers,
        config: &config.probe,
        progress: options.progress,
        crls: options.crls,
        clock: options.clock,
        stop: options.stop,
    }
    .run(sink);
    let policy = Policy::from_config(config);
    let store = options.store;
    let judging = async move {
        let mut judged = Judging::new(at);
        let mut blobs = Vec::new();
        let mut batched = 0;
        while let Some((_, observed)) = received.recv().await {
            judged.add(&observed, &policy);
            if store.is_some() {
                blobs.extend(super::blobs_of(&observed));
                batched += 1;
            }
            drop(observed);
            if let Some(store) = store
                && batched >= BATCH_SUPPLIERS
            {
                judged.stored(store.record_observation_batch(at, &blobs).await)?;
                blobs.clear();
                batched = 0;
            }
        }
        if let Some(store) = store {
            judged.stored(store.record_observation_batch(at, &blobs).await)?;
        }
        Ok::<_, StoreError>(judged)
    };
    let (ended, judged) = tokio::join!(probing, judging);
    let ended = ended?;
    let mut run = judged?.finish();
    run.streamed.interrupted = ended == Ended::Stopped;
    Ok(run)
}

/// A run being judged, supplier by supplier.
struct Judging {
    run: JudgedRun,
}

impl Judging {
    fn new(at: DateTime<Utc>) -> Self {
        Self {
            run: JudgedRun {
                at,
                results: Vec::new(),
                scopes: Vec::new(),
                health: RunHealth::default(),
                endpoints: 0,
                domains: 0,
                streamed: Streamed::default(),
            },
        }
    }

    /// Judges one supplier's observations.
    fn add(&mut self, observed: &SupplierObservations, policy: &Policy) {
        let run = &mut self.run;
        let observed = std::slice::from_ref(observed);
        let results = checks::evaluate(observed, run.at, policy);
        let scopes = checks::scopes(observed, &results);
        for o in observed {
            let failed = super::silent_scopes(o);
            run.health.failed += failed;
            run.health.suppliers += 1;
            run.health.failed_suppliers += usize::from(failed > 0);
            run.endpoints += o.http.len();
            run.domains += o.domains.len();
        }
        run.health.probed += scopes.len();
        run.scopes.extend(scopes);
        run.results.extend(results);
    }

    /// Counts a stored batch.
    fn stored(&mut self, batch: Result<(usize, usize), StoreError>) -> Result<(), StoreError> {
        let (stored, unchanged) = batch?;
        self.run.streamed.stored += stored;
        self.run.streamed.unchanged += unchanged;
        Ok(())
    }

    fn finish(mut self) -> JudgedRun {
        checks::sort_results(&mut self.run.results);
        self.run
    }
}

impl JudgedRun {
    /// The run as the store records it (its observations were stored as
    /// it went).
    #[must_use]
    pub fn run_input(&self, source: &str) -> crate::store::RunInput {
        crate::store::RunInput {
            blind: Some(false),
            at: self.at,
            source: source.to_owned(),
            suppliers: self
                .results
                .iter()
                .map(|r| r.supplier.id.to_string())
                .collect(),
            scopes: self.scopes.clone(),
            findings: super::findings_of(&self.results),
            observations: Vec::new(),
        }
    }

    /// Whether the monitor could not see during this run.
    #[must_use]
    pub fn is_blind(&self, config: &Config) -> bool {
        self.health.is_blind(config.escalation.blind_percent)
    }

    /// Reconciles the run's findings into the store it streamed its
    /// observations to (lifecycle, damping, acceptances, scores), queueing
    /// what `notifier` plans in the same transaction. A blind run records
    /// no finding; a run stopped early judges no portfolio.
    ///
    /// # Errors
    /// [`StoreError`]; a failed save leaves the findings as they were.
    pub async fn save_with(
        &self,
        store: &Store,
        config: &Config,
        source: &str,
        notifier: Option<&dyn crate::store::Notifier>,
    ) -> Result<RunReport, StoreError> {
        let mut input = self.run_input(source);
        if self.is_blind(config) {
            input = input.blinded();
        } else if !self.streamed.interrupted {
            super::portfolio(store, config, &mut input).await?;
        }
        store
            .record_streamed_run(
                &input,
                self.streamed,
                &config.acceptances,
                &super::lifecycle_policy(config),
                notifier,
            )
            .await
    }
}
