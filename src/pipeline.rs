//! One probe run end to end, shared by `check`, the demo and the daemon:
//! probe → checks (with the config's severity overrides) → scores, and,
//! when asked, the run reconciled into the store with its observations.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::checks::{self, Policy, Severity, SupplierResult};
use crate::config::Config;
use crate::probe::run::{self, Progress, RunError, SupplierObservations};
use crate::registry::Supplier;
use crate::store::{LifecyclePolicy, ObservationBlob, RunInput, RunReport, Store, StoreError};

mod stream;
pub use stream::{
    CHUNK_SUPPLIERS, Judged, JudgedRun, SpillError, StreamError, StreamOptions, probe_streamed,
};

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

/// One supplier's observations as the store keeps them: one blob per
/// endpoint's TLS, per endpoint's HTTP and per domain.
fn blobs_of(o: &SupplierObservations) -> Vec<ObservationBlob> {
    let supplier = o.supplier.id.to_string();
    let mut observations = Vec::new();
    let mut blob = |target: &str, kind: &str, facts: serde_json::Result<serde_json::Value>| {
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
    observations
}

/// The scopes of one supplier's probes that failed without any answer (a
/// connection or lookup that timed out: what our own outage looks like).
/// An answer that says no — NXDOMAIN, SERVFAIL, REFUSED, a refused
/// connection, a failed handshake — shows the network works.
fn silent_scopes(o: &SupplierObservations) -> usize {
    use crate::probe::Reach;
    use crate::probe::http::FailureKind;
    let tls = o
        .endpoints
        .iter()
        .filter(|e| {
            matches!(
                e.reach,
                Reach::Unreachable {
                    timed_out: true,
                    ..
                }
            )
        })
        .count();
    let http = o
        .http
        .iter()
        .filter(|h| h.refused().is_none())
        .filter(|h| {
            h.page
                .failure
                .as_ref()
                .is_some_and(|f| f.kind == FailureKind::Timeout)
        })
        .count();
    // A silent domain leaves both its scopes (dns, email) unknown.
    let domains = o.domains.iter().filter(|d| silent_domain(d)).count() * 2;
    tls + http + domains
}

/// (supplier id, finding) of every finding in `results`, as a run records them.
fn findings_of(results: &[SupplierResult]) -> Vec<(String, checks::Finding)> {
    results
        .iter()
        .flat_map(|r| {
            r.findings
                .iter()
                .map(|f| (r.supplier.id.to_string(), f.clone()))
        })
        .collect()
}

impl CheckRun {
    /// The run as the store records it.
    #[must_use]
    pub fn run_input(&self, source: &str) -> RunInput {
        let observations = self.observations.iter().flat_map(blobs_of).collect();
        RunInput {
            suppliers: Vec::new(),
            blind: Some(false),
            at: self.at,
            source: source.to_owned(),
            scopes: checks::scopes(&self.observations, &self.results),
            findings: findings_of(&self.results),
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
        self.save_with(store, config, source, None).await
    }

    /// How completely the run saw its targets: the scopes probed, how many
    /// of them failed without any answer (a connection or lookup that timed
    /// out: what our own outage looks like), and over how many suppliers.
    /// An answer that says no — NXDOMAIN, SERVFAIL, REFUSED, a refused
    /// connection, a failed handshake — shows the network works.
    #[must_use]
    pub fn health(&self) -> crate::escalate::RunHealth {
        let scopes = checks::scopes(&self.observations, &self.results);
        let mut failed = 0;
        let mut failed_suppliers = 0;
        for o in &self.observations {
            let silent = silent_scopes(o);
            failed += silent;
            failed_suppliers += usize::from(silent > 0);
        }
        crate::escalate::RunHealth {
            probed: scopes.len(),
            failed,
            suppliers: self.observations.len(),
            failed_suppliers,
        }
    }

    /// [`CheckRun::save`], queueing the messages `notifier` plans in the
    /// same transaction.
    ///
    /// # Errors
    /// [`StoreError`]; a failed run leaves the store (and the outbox) as it was.
    pub async fn save_with(
        &self,
        store: &Store,
        config: &Config,
        source: &str,
        notifier: Option<&dyn crate::store::Notifier>,
    ) -> Result<RunReport, StoreError> {
        let audit_source = format!("{source} {}", config.path.display());
        store
            .sync(
                &config.suppliers,
                &registry_policy(config),
                &audit_source,
                self.at,
            )
            .await?;
        // A run during our own outage records what it saw, but its
        // failures are the monitor's: no finding, no grade moves.
        let mut input = self.run_input(source);
        if self.health().is_blind(config.escalation.blind_percent) {
            input = input.blinded();
        } else {
            portfolio(store, config, &mut input).await?;
        }
        store
            .record_run_with(
                &input,
                &config.acceptances,
                &lifecycle_policy(config),
                notifier,
            )
            .await
    }
}

/// Adds the portfolio's judgement to a probe run about to be recorded:
/// concentration over the current observations of every supplier in the
/// config (the store's, with this run's in their place), its
/// `portfolio.concentration` findings, and a complete portfolio scope for
/// every stored supplier — so that a provider fewer suppliers now depend
/// on, or a supplier that left, resolves its findings. An ASN table that
/// cannot be read is logged and left out — it must not stop a probe run —
/// and the portfolio's scopes are then incomplete, so that no finding
/// resolves for want of the table. Not run for a blind run, whose
/// findings are dropped anyway.
async fn portfolio(store: &Store, config: &Config, input: &mut RunInput) -> Result<(), StoreError> {
    use crate::concentration::{self, SupplierRef};
    let live: Vec<&Supplier> = config
        .suppliers
        .iter()
        .filter(|s| s.status != crate::registry::SupplierStatus::Exited)
        .collect();
    let suppliers: Vec<SupplierRef> = live.iter().map(|s| SupplierRef::from(*s)).collect();
    let mut asn_unreadable = false;
    let asn = match config.report.asn_table.clone() {
        None => None,
        Some(path) => {
            match tokio::task::spawn_blocking(move || concentration::AsnTable::load(&path)).await {
                Ok(Ok(table)) => Some(table),
                Ok(Err(e)) => {
                    tracing::warn!("hosting networks left out of concentration: {e}");
                    asn_unreadable = true;
                    None
                }
                Err(joined) => {
                    tracing::warn!("hosting networks left out of concentration: {joined}");
                    asn_unreadable = true;
                    None
                }
            }
        }
    };
    // The store's current observations, this run's (when not stored yet)
    // in their place.
    let mut judging = concentration::Concentrator::new(&suppliers, asn.as_ref());
    let fresh: std::collections::HashSet<(&str, &str, &str)> = input
        .observations
        .iter()
        .map(|o| (o.supplier.as_str(), o.target.as_str(), o.kind.as_str()))
        .collect();
    store
        .each_current_observation(&concentration::CONCENTRATION_KINDS, |o| {
            if !fresh.contains(&(o.supplier.as_str(), o.target.as_str(), o.kind.as_str())) {
                judging.add(&o);
            }
        })
        .await?;
    for o in &input.observations {
        judging.add(o);
    }
    let judged = judging.finish(&config.register);
    let policy = Policy::from_config(config);
    for (supplier, mut finding) in
        concentration::findings(&judged, config.report.concentration_alert)
    {
        let overridden = match live.iter().find(|s| s.id.as_str() == supplier) {
            Some(s) => policy.severity_for(s, finding.check),
            None => policy.severity.get(&finding.check).copied(),
        };
        if let Some(severity) = overridden {
            finding.severity = severity;
        }
        input.findings.push((supplier, finding));
    }
    let stored = store.suppliers().await?;
    input.scopes.extend(concentration::scopes(
        stored.iter().map(|s| s.id.as_str()),
        !asn_unreadable,
    ));
    Ok(())
}

/// Whether a domain's lookups went unanswered: its existence lookup, or
/// every lookup that failed, timed out.
fn silent_domain(d: &crate::probe::dns::DomainObservation) -> bool {
    use crate::probe::LookupFailure;
    use crate::probe::dns::Resolution;
    match &d.resolution {
        Resolution::Failed { failure } => *failure == LookupFailure::Timeout,
        Resolution::Resolves => {
            let failed = checks::dns::failed_queries(d);
            !failed.is_empty() && failed.iter().all(|q| q.failure == LookupFailure::Timeout)
        }
    }
}

/// One obligations run: the paperwork checks (contracts, questionnaires,
/// certifications, onboarding) over the registry on one day.
#[derive(Debug)]
pub struct ObligationsRun {
    pub at: DateTime<Utc>,
    /// The day judged: `at` in the daemon's time zone.
    pub today: chrono::NaiveDate,
    /// Suppliers worst first.
    pub results: Vec<SupplierResult>,
    /// Stored suppliers no longer in the config: their paperwork findings
    /// resolve.
    pub departed: Vec<String>,
}

/// The day `at` falls on in the daemon's time zone.
#[must_use]
pub fn local_day(config: &Config, at: DateTime<Utc>) -> chrono::NaiveDate {
    at.with_timezone(&config.daemon.timezone).date_naive()
}

/// Judges the paperwork of every supplier in the config as of `at`, with
/// the questionnaires in `store` (none without a store: a preview before
/// the first `sync`).
///
/// # Errors
/// [`StoreError`] when the questionnaires cannot be read.
pub async fn obligations(
    config: &Config,
    store: Option<&Store>,
    at: DateTime<Utc>,
) -> Result<ObligationsRun, StoreError> {
    let (questionnaires, departed) = match store {
        Some(store) => {
            let stored = store.suppliers().await?;
            let configured: std::collections::HashSet<&str> =
                config.suppliers.iter().map(|c| c.id.as_str()).collect();
            let departed = stored
                .into_iter()
                .filter(|s| !configured.contains(s.id.as_str()))
                .map(|s| s.id)
                .collect();
            (store.questionnaires(None).await?, departed)
        }
        None => (Vec::new(), Vec::new()),
    };
    let today = local_day(config, at);
    let results = checks::paperwork::evaluate(
        &config.suppliers,
        &questionnaires,
        today,
        &config.questionnaires,
        &config.register,
        &Policy::from_config(config),
    );
    Ok(ObligationsRun {
        at,
        today,
        results,
        departed,
    })
}

impl ObligationsRun {
    /// The run as the store records it: complete scopes over every
    /// paperwork family of every supplier (departed ones included).
    #[must_use]
    pub fn run_input(&self, source: &str) -> RunInput {
        let ids = self
            .results
            .iter()
            .map(|r| r.supplier.id.as_str())
            .chain(self.departed.iter().map(String::as_str));
        RunInput {
            suppliers: Vec::new(),
            blind: None,
            at: self.at,
            source: source.to_owned(),
            scopes: checks::paperwork::scopes(ids),
            findings: findings_of(&self.results),
            observations: Vec::new(),
        }
    }
}

/// Syncs the registry, then judges and records the paperwork as of `at`:
/// the obligations job of the daemon and `supplywatch obligations`.
///
/// # Errors
/// [`StoreError`]; a failed run leaves the store as it was.
pub async fn run_obligations(
    store: &Store,
    config: &Config,
    at: DateTime<Utc>,
    source: &str,
) -> Result<(ObligationsRun, RunReport), StoreError> {
    run_obligations_with(store, config, at, source, None).await
}

/// [`run_obligations`], queueing the messages `notifier` plans in the
/// run's transaction.
///
/// # Errors
/// [`StoreError`]; a failed run leaves the store as it was.
pub async fn run_obligations_with(
    store: &Store,
    config: &Config,
    at: DateTime<Utc>,
    source: &str,
    notifier: Option<&dyn crate::store::Notifier>,
) -> Result<(ObligationsRun, RunReport), StoreError> {
    let audit_source = format!("{source} {}", config.path.display());
    store
        .sync(
            &config.suppliers,
            &registry_policy(config),
            &audit_source,
            at,
        )
        .await?;
    let run = obligations(config, Some(store), at).await?;
    let report = store
        .record_run_with(
            &run.run_input(source),
            &config.acceptances,
            &lifecycle_policy(config),
            notifier,
        )
        .await?;
    Ok((run, report))
}

/// What `sync` stores of the config besides the suppliers: the accepted
/// risks and the global severity overrides.
#[must_use]
pub fn registry_policy(config: &Config) -> crate::store::RegistryPolicy<'_> {
    crate::store::RegistryPolicy {
        acceptances: &config.acceptances,
        severity: &config.findings.severity,
    }
}

/// What recording `input` would decide — lifecycle, marks, scores —
/// without recording it: against the stored findings when a store is given
/// (opened read-only is enough), as a first run otherwise. `check` without
/// `--save` and the obligations previews show this, so that they tell the
/// story a recorded run would.
///
/// # Errors
/// [`StoreError`] when the stored findings cannot be read.
pub async fn preview(
    store: Option<&Store>,
    input: &RunInput,
    config: &Config,
) -> Result<RunReport, StoreError> {
    let policy = lifecycle_policy(config);
    match store {
        Some(store) => store.preview_run(input, &config.acceptances, &policy).await,
        None => Ok(crate::store::preview_run(
            Vec::new(),
            input,
            &config.acceptances,
            &policy,
        )),
    }
}

/// Score and grade by supplier id, as a run report has them.
#[must_use]
pub fn scores_of(report: &RunReport) -> crate::report::Scores {
    report
        .scores
        .iter()
        .map(|s| (s.supplier.clone(), (s.score, s.grade)))
        .collect()
}

/// The lifecycle rules of the config.
#[must_use]
pub fn lifecycle_policy(config: &Config) -> LifecyclePolicy {
    LifecyclePolicy {
        damping_runs: config.findings.damping_runs,
        ..LifecyclePolicy::default()
    }
}

/// The digest's suppliers, worst grade first.
async fn digest_suppliers(
    store: &Store,
    live: &[&crate::store::StoredSupplier],
    now: DateTime<Utc>,
) -> Result<Vec<crate::digest::DigestSupplier>, StoreError> {
    let scores = store.supplier_scores(now).await?;
    let mut suppliers: Vec<crate::digest::DigestSupplier> = live
        .iter()
        .map(|s| {
            let row = scores.iter().find(|r| r.supplier == s.id);
            crate::digest::DigestSupplier {
                id: s.id.clone(),
                name: s.name.clone(),
                criticality: s.criticality.as_str().to_owned(),
                grade: row.map(|r| r.grade.as_str()),
                score: row.map(|r| r.score),
                grade_week_ago: row
                    .and_then(|r| r.week_ago.as_ref())
                    .map(|w| w.grade.as_str()),
                score_week_ago: row.and_then(|r| r.week_ago.as_ref()).map(|w| w.score),
            }
        })
        .collect();
    suppliers.sort_by(|a, b| {
        crate::report::worst_first(a.grade, a.score, &a.id)
            .cmp(&crate::report::worst_first(b.grade, b.score, &b.id))
    });
    Ok(suppliers)
}

/// The accepted risks of live suppliers that end within 14 days of
/// `today`, soonest first.
async fn ending_acceptances(
    store: &Store,
    today: chrono::NaiveDate,
    live: &std::collections::HashSet<&str>,
) -> Result<Vec<crate::digest::EndingAcceptance>, StoreError> {
    let soon = today + chrono::Duration::days(14);
    let mut ending: Vec<crate::digest::EndingAcceptance> = store
        .acceptances()
        .await?
        .into_iter()
        .filter(|a| a.until >= today && a.until <= soon && live.contains(a.supplier.as_str()))
        .map(|a| crate::digest::EndingAcceptance {
            supplier: a.supplier,
            check: a.check,
            target: a.target,
            until: a.until,
            approved_by: a.approved_by,
            reason: a.reason,
        })
        .collect();
    ending.sort_by(|a, b| {
        a.until
            .cmp(&b.until)
            .then_with(|| a.supplier.cmp(&b.supplier))
    });
    Ok(ending)
}

/// Gathers what the weekly digest shows, as of `now`: the week before it.
///
/// # Errors
/// [`StoreError`] when the store cannot be read.
pub async fn digest_input(
    store: &Store,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<crate::digest::DigestInput, StoreError> {
    use crate::store::{FindingFilter, FindingState};
    let since = now - chrono::Duration::days(7);
    let today = local_day(config, now);
    let stored = store.suppliers().await?;
    let live: Vec<&crate::store::StoredSupplier> = stored
        .iter()
        .filter(|s| s.in_registry && s.status != crate::registry::SupplierStatus::Exited)
        .collect();
    let suppliers = digest_suppliers(store, &live, now).await?;
    let mut findings = store.findings(&FindingFilter::default()).await?;
    let live_ids: std::collections::HashSet<&str> = live.iter().map(|s| s.id.as_str()).collect();
    findings.retain(|f| live_ids.contains(f.supplier.as_str()));
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.opened_at.cmp(&b.opened_at))
            .then_with(|| a.supplier.cmp(&b.supplier))
            .then_with(|| a.check.cmp(&b.check))
    });
    let new_findings = findings
        .iter()
        .filter(|f| f.state != FindingState::Pending && f.opened_at.is_some_and(|o| o >= since))
        .cloned()
        .collect();
    let resolved_findings = findings
        .iter()
        .filter(|f| f.state == FindingState::Resolved && f.resolved_at.is_some_and(|r| r >= since))
        .cloned()
        .collect();
    let mut open_counts = [0_u32; 5];
    for f in findings.iter().filter(|f| f.state == FindingState::Open) {
        let slot = Severity::ALL
            .iter()
            .position(|s| *s == f.severity)
            .unwrap_or(4);
        if let Some(n) = open_counts.get_mut(slot) {
            *n += 1;
        }
    }
    let worst_open = findings
        .iter()
        .filter(|f| f.state == FindingState::Open)
        .take(10)
        .cloned()
        .collect();
    let questionnaires = store.questionnaires(None).await?;
    let grouped = crate::registry::questionnaires_by_supplier(&questionnaires);
    let horizon = today + chrono::Duration::days(30);
    let mut deadlines: Vec<checks::paperwork::Deadline> = live
        .iter()
        .flat_map(|s| {
            let own = grouped.get(s.id.as_str()).map_or(&[][..], Vec::as_slice);
            s.deadlines(own, today, &config.questionnaires)
        })
        .filter(|d| d.date >= today && d.date <= horizon)
        .collect();
    deadlines.sort_by(|a, b| {
        a.date
            .cmp(&b.date)
            .then_with(|| a.supplier.cmp(&b.supplier))
    });
    let overdue_questionnaires = questionnaires
        .into_iter()
        .filter(|q| q.is_overdue(today) && live_ids.contains(q.supplier.as_str()))
        .collect();
    let undelivered = store
        .outbox_failed_since(since)
        .await?
        .into_iter()
        .map(|r| crate::digest::Undelivered {
            recipient: r.recipient,
            subject: r.subject,
            queued_at: r.created_at,
            attempts: r.attempts,
            last_error: r.last_error.unwrap_or_default(),
        })
        .collect();
    let ending_acceptances = ending_acceptances(store, today, &live_ids).await?;
    Ok(crate::digest::DigestInput {
        generated_at: now,
        today,
        since,
        suppliers,
        new_findings,
        resolved_findings,
        deadlines,
        overdue_questionnaires,
        worst_open,
        open_counts,
        undelivered,
        ending_acceptances,
        blind_since: store.blind_since().await?,
    })
}

/// The digest as an outbox message to the risk manager (and the CISO when
/// `escalation.digest_to_ciso`). `None` when nobody is to receive it.
#[must_use]
pub fn digest_message(
    config: &Config,
    digest: &crate::digest::Digest,
    now: DateTime<Utc>,
) -> Option<crate::store::Outgoing> {
    digest_copy(config, digest, now, 0)
}

/// The outbox key prefix of every digest queued on the local day of `at`.
#[must_use]
pub fn digest_day_prefix(config: &Config, at: DateTime<Utc>) -> String {
    format!("digest:{}:", local_day(config, at))
}

/// The digest as its `copy`-th message of the day: copy 0 is the usual
/// one; a later copy (`digest --send --again`) has a key and a Message-ID
/// of its own, so that the outbox, which ignores a key it already holds,
/// queues it even in the same second as an earlier one.
#[must_use]
pub fn digest_copy(
    config: &Config,
    digest: &crate::digest::Digest,
    now: DateTime<Utc>,
    copy: usize,
) -> Option<crate::store::Outgoing> {
    let mut recipients: Vec<String> = config
        .contacts
        .risk_manager
        .iter()
        .map(ToString::to_string)
        .collect();
    if config.escalation.digest_to_ciso {
        recipients.extend(config.contacts.ciso.iter().map(ToString::to_string));
    }
    recipients.sort();
    recipients.dedup();
    if recipients.is_empty() {
        return None;
    }
    let from = config.email.from.to_string();
    let domain = from
        .rsplit_once('@')
        .map_or("supplywatch.invalid", |(_, d)| d);
    let day = local_day(config, now);
    Some(crate::store::Outgoing {
        key: if copy == 0 {
            format!("digest:{day}:{}", now.timestamp())
        } else {
            format!("digest:{day}:{}:again-{copy}", now.timestamp())
        },
        kind: "digest".to_owned(),
        supplier: None,
        recipients,
        subject: digest.subject.clone(),
        message_id: if copy == 0 {
            format!("<digest.{}@{domain}>", now.format("%Y%m%dT%H%M%SZ"))
        } else {
            format!("<digest.{}.{copy}@{domain}>", now.format("%Y%m%dT%H%M%SZ"))
        },
        in_reply_to: None,
        references: Vec::new(),
        text: digest.text.clone(),
        html: Some(digest.html.clone()),
        notices: Vec::new(),
    })
}
