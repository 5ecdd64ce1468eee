//! One probe run end to end, shared by `check`, the demo and the daemon:
//! probe → checks (with the config's severity overrides) → scores, and,
//! when asked, the run reconciled into the store with its observations.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::checks::score::{Grade, score};
use crate::checks::{self, Policy, SupplierResult};
use crate::config::Config;
use crate::probe::run::{self, Progress, RunError, SupplierObservations};
use crate::registry::{Acceptance, Supplier};
use crate::store::{LifecyclePolicy, ObservationBlob, RunInput, RunReport, Store, StoreError};

/// What one run saw and what the checks made of it.
#[derive(Debug)]
pub struct CheckRun {
    pub at: DateTime<Utc>,
    pub observations: Vec<SupplierObservations>,
    /// Suppliers worst first.
    pub results: Vec<SupplierResult>,
}

/// Probes `suppliers` and applies every check at `now`.
///
/// # Errors
/// [`RunError`] when the probes cannot be set up.
pub async fn probe_and_check(
    config: &Config,
    suppliers: &[Supplier],
    progress: Arc<dyn Progress>,
    now: impl FnOnce() -> DateTime<Utc>,
) -> Result<CheckRun, RunError> {
    let observations = run::probe_suppliers(suppliers, &config.probe, progress).await?;
    let at = now();
    let results = checks::evaluate(&observations, at, &Policy::from_config(config));
    Ok(CheckRun {
        at,
        observations,
        results,
    })
}

/// Score and grade from a result's findings, leaving out accepted risks:
/// the score of this run alone, before any lifecycle (damping) applies.
#[must_use]
pub fn fresh_score(
    result: &SupplierResult,
    acceptances: &[Acceptance],
    at: DateTime<Utc>,
) -> (u8, Grade) {
    let day = at.date_naive();
    let id = result.supplier.id.as_str();
    score(
        result
            .findings
            .iter()
            .filter(|f| {
                !acceptances
                    .iter()
                    .any(|a| a.covers(id, f.check, &f.target, day))
            })
            .map(|f| f.severity),
    )
}

impl CheckRun {
    /// The run as the store records it.
    #[must_use]
    pub fn run_input(&self, source: &str) -> RunInput {
        let mut observations = Vec::new();
        for o in &self.observations {
            let supplier = o.supplier.id.to_string();
            let mut blob =
                |target: &str, kind: &str, facts: serde_json::Result<serde_json::Value>| {
                    if let Ok(facts) = facts {
                        observations.push(ObservationBlob {
                            supplier: supplier.clone(),
                            target: target.to_owned(),
                            kind: kind.to_owned(),
                            facts,
                        });
                    }
                };
            for e in &o.endpoints {
                blob(&e.target, "tls", serde_json::to_value(e));
            }
            for h in &o.http {
                blob(&h.target, "http", serde_json::to_value(h));
            }
            for d in &o.domains {
                blob(&d.domain, "domain", serde_json::to_value(d));
            }
        }
        RunInput {
            at: self.at,
            source: source.to_owned(),
            scopes: checks::scopes(&self.observations, &self.results),
            findings: self
                .results
                .iter()
                .flat_map(|r| {
                    r.findings
                        .iter()
                        .map(|f| (r.supplier.id.to_string(), f.clone()))
                })
                .collect(),
            observations,
        }
    }

    /// Brings the registry in line with the config, then reconciles this
    /// run's findings into the store (lifecycle, damping, acceptances, scores).
    ///
    /// # Errors
    /// [`StoreError`]; a failed run leaves the store as it was.
    pub async fn save(
        &self,
        store: &Store,
        config: &Config,
        source: &str,
    ) -> Result<RunReport, StoreError> {
        let audit_source = format!("{source} {}", config.path.display());
        store
            .sync_registry(&config.suppliers, &audit_source, self.at)
            .await?;
        let policy = LifecyclePolicy {
            damping_runs: config.findings.damping_runs,
            ..LifecyclePolicy::default()
        };
        store
            .record_run(&self.run_input(source), &config.acceptances, &policy)
            .await
    }
}
