//! Findings across runs through the library: every lifecycle transition,
//! unknown-is-not-healthy, flap damping, accepted risks and their expiry,
//! scores per run and the week-ago trend, observation dedupe, retention,
//! the `findings` filters, and two handles writing at once. Runs are built
//! by hand, on fixed dates, against a database file in a scratch folder.

// Lifecycle stories read best as one test each, step after step.
#![allow(
    clippy::too_many_lines,
    clippy::cloned_ref_to_slice_refs,
    clippy::default_trait_access
)]

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::json;
use supplywatch::checks::score::{Grade, score};
use supplywatch::checks::{Finding, Scope, Severity};
use supplywatch::registry::Acceptance;
use supplywatch::store::{
    AuditEntry, AuditFilter, FindingFilter, FindingKey, FindingState, LifecyclePolicy,
    ObservationBlob, OpenMode, RegistryPolicy, RunInput, RunReport, Store, StoreError,
    StoredFinding,
};

use crate::support::{Scratch, config_with, day, supplier, suppliers_of};

const WEB: &str = "portal.acme.example:443";
const API: &str = "api.acme.example:8443";
const DOMAIN: &str = "acme.example";

/// A store on a file in `scratch` with `ids` synced as suppliers.
async fn store_with(scratch: &Scratch, ids: &[&str]) -> Store {
    let store = Store::open(&scratch.path("watch.db"), OpenMode::Create)
        .await
        .unwrap();
    let config: String = ids.iter().map(|id| supplier(id, id, "")).collect();
    store
        .sync_registry(&suppliers_of(&config_with(&config)), "sync", day(1))
        .await
        .unwrap();
    store
}

/// `n` days after 2026-03-01 noon.
fn at(n: i64) -> DateTime<Utc> {
    day(1) + Duration::days(n)
}

fn finding(check: &'static str, target: &str, severity: Severity) -> Finding {
    Finding {
        check: check.parse().unwrap(),
        severity,
        target: target.to_owned(),
        summary: format!("{check} on {target}"),
        evidence: json!({ "target": target }),
    }
}

fn scope(supplier: &str, target: &str, family: &'static str, complete: bool) -> Scope {
    Scope {
        supplier: supplier.to_owned(),
        target: target.to_owned(),
        family,
        complete,
    }
}

/// A run of acme with the given scopes and findings.
fn run(when: DateTime<Utc>, scopes: Vec<Scope>, findings: Vec<Finding>) -> RunInput {
    RunInput {
        suppliers: Vec::new(),
        blind: None,
        at: when,
        source: "daemon".to_owned(),
        scopes,
        findings: findings
            .into_iter()
            .map(|f| ("acme".to_owned(), f))
            .collect(),
        observations: Vec::new(),
    }
}

fn key(supplier: &str, check: &str, target: &str) -> FindingKey {
    FindingKey {
        supplier: supplier.to_owned(),
        check: check.to_owned(),
        target: target.to_owned(),
    }
}

async fn record(store: &Store, input: &RunInput) -> RunReport {
    store
        .record_run(input, &[], &LifecyclePolicy::default())
        .await
        .unwrap()
}

async fn all(store: &Store) -> Vec<StoredFinding> {
    store.findings(&FindingFilter::default()).await.unwrap()
}

async fn get(store: &Store, check: &str, target: &str) -> Option<StoredFinding> {
    all(store)
        .await
        .into_iter()
        .find(|f| f.supplier == "acme" && f.check == check && f.target == target)
}

async fn state(store: &Store, check: &str, target: &str) -> Option<FindingState> {
    get(store, check, target).await.map(|f| f.state)
}

/// The audit rows that are not the registry's own, as
/// (supplier, action, field, old, new, source).
async fn finding_audit(store: &Store) -> Vec<(String, String, String, String, String, String)> {
    store
        .audit(&AuditFilter::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e: &AuditEntry| {
            e.action != "onboard" && !e.action.starts_with("acceptance_")
                || e.action == "acceptance_expired"
        })
        .map(|e| {
            (
                e.supplier.unwrap_or_default(),
                e.action,
                e.field.unwrap_or_default(),
                e.old.unwrap_or_default(),
                e.new.unwrap_or_default(),
                e.source,
            )
        })
        .collect()
}

/// A sync of acme and globex with `acceptances` at `now`: the findings it
/// moved between open and accepted.
async fn apply_acceptances(
    store: &Store,
    now: DateTime<Utc>,
    acceptances: &[Acceptance],
    source: &str,
) -> Vec<FindingKey> {
    let config: String = ["acme", "globex"]
        .iter()
        .map(|id| supplier(id, id, ""))
        .collect();
    let report = store
        .sync(
            &suppliers_of(&config_with(&config)),
            &RegistryPolicy {
                acceptances,
                severity: &std::collections::BTreeMap::new(),
            },
            source,
            now,
        )
        .await
        .unwrap();
    let mut changed = report.accepted;
    changed.extend(report.unaccepted);
    changed.sort();
    changed
}

fn accept(supplier: &str, check: &str, target: Option<&str>, until: NaiveDate) -> Acceptance {
    Acceptance {
        supplier: supplier.parse().unwrap(),
        check: check.parse().unwrap(),
        target: target.map(str::to_owned),
        until,
        reason: "compensating control".to_owned(),
        approved_by: "ciso@bank.example".parse().unwrap(),
    }
}

#[tokio::test]
async fn a_finding_opens_refreshes_resolves_and_reopens() {
    let scratch = Scratch::new();
    let store = store_with(&scratch, &["acme"]).await;
    let expired = key("acme", "tls.cert_expired", WEB);

    // Opens the first time it fires; a finding on a target the run did not
    // cover (API) is recorded as well.
    let report = record(
        &store,
        &run(
            at(0),
            vec![
                scope("acme", WEB, "tls", true),
                scope("acme", API, "tls", true),
            ],
            vec![
                finding("tls.cert_expired", WEB, Severity::Critical),
                finding("tls.no_tls13", API, Severity::Low),
                finding("http.hsts_missing", WEB, Severity::Medium),
            ],
        ),
    )
    .await;
    assert_eq!(report.opened.len(), 3);
    assert!(report.opened.contains(&expired));
    let f = get(&store, "tls.cert_expired", WEB).await.unwrap();
    assert_eq!(f.state, FindingState::Open);
    assert_eq!(
        (f.first_seen, f.last_seen, f.opened_at),
        (at(0), at(0), Some(at(0)))
    );
    assert_eq!((f.reopen_count, f.streak, f.resolved_at), (0, 1, None));
    assert_eq!(f.evidence, json!({ "target": WEB }));

    // Refreshes last_seen, severity, summary and evidence while it fires.
    let mut again = finding("tls.cert_expired", WEB, Severity::High);
    again.summary = "expired 2 days ago".to_owned();
    again.evidence = json!({ "days": 2 });
    let report = record(
        &store,
        &run(at(1), vec![scope("acme", WEB, "tls", true)], vec![again]),
    )
    .await;
    assert!(report.opened.is_empty(), "{report:?}");
    assert_eq!(report.refreshed, 1);
    let f = get(&store, "tls.cert_expired", WEB).await.unwrap();
    assert_eq!((f.first_seen, f.last_seen), (at(0), at(1)));
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.summary, "expired 2 days ago");
    assert_eq!(f.evidence, json!({ "days": 2 }));
    assert_eq!(
        (f.state, f.streak, f.changed_at),
        (FindingState::Open, 2, at(0))
    );

    // Resolves when a complete probe of the target no longer shows it. The
    // run covered WEB's tls family only: API's finding and WEB's http one
    // are untouched.
    let report = record(
        &store,
        &run(at(2), vec![scope("acme", WEB, "tls", true)], vec![]),
    )
    .await;
    assert_eq!(report.resolved, [expired.clone()]);
    let f = get(&store, "tls.cert_expired", WEB).await.unwrap();
    assert_eq!(f.state, FindingState::Resolved);
    assert_eq!(
        (f.resolved_at, f.changed_at, f.last_seen),
        (Some(at(2)), at(2), at(1))
    );
    assert_eq!(f.streak, 0);
    let api = get(&store, "tls.no_tls13", API).await.unwrap();
    assert_eq!((api.state, api.last_seen), (FindingState::Open, at(0)));
    assert_eq!(
        state(&store, "http.hsts_missing", WEB).await,
        Some(FindingState::Open)
    );

    // Reopens, counted, when it comes back.
    for (n, when) in [(1, 3), (2, 5)] {
        let report = record(
            &store,
            &run(
                at(when),
                vec![scope("acme", WEB, "tls", true)],
                vec![finding("tls.cert_expired", WEB, Severity::Critical)],
            ),
        )
        .await;
        assert_eq!(report.reopened, [expired.clone()]);
        assert!(report.opened.is_empty());
        let f = get(&store, "tls.cert_expired", WEB).await.unwrap();
        assert_eq!(f.state, FindingState::Open);
        assert_eq!(f.reopen_count, n);
        assert_eq!((f.opened_at, f.resolved_at), (Some(at(when)), None));
        assert_eq!(f.first_seen, at(0));
        if n == 1 {
            record(
                &store,
                &run(at(4), vec![scope("acme", WEB, "tls", true)], vec![]),
            )
            .await;
        }
    }

    // A finding given twice in one run counts once.
    let report = record(
        &store,
        &run(
            at(6),
            vec![scope("acme", WEB, "tls", true)],
            vec![
                finding("tls.cert_expired", WEB, Severity::Critical),
                finding("tls.cert_expired", WEB, Severity::Low),
            ],
        ),
    )
    .await;
    assert_eq!(report.refreshed, 1);
    let f = get(&store, "tls.cert_expired", WEB).await.unwrap();
    assert_eq!((f.severity, f.streak), (Severity::Critical, 2));
    assert_eq!(all(&store).await.len(), 3, "one row per finding, ever");
    store.close().await;
}

#[tokio::test]
async fn an_incomplete_scope_resolves_nothing_but_its_failure_finding_is_reconciled() {
    let scratch = Scratch::new();
    let store = store_with(&scratch, &["acme"]).await;
    record(
        &store,
        &run(
            at(0),
            vec![
                scope("acme", WEB, "tls", true),
                scope("acme", WEB, "http", true),
            ],
            vec![
                finding("tls.cert_expired", WEB, Severity::Critical),
                finding("http.csp_missing", WEB, Severity::Low),
            ],
        ),
    )
    .await;

    // The endpoint is unreachable over TLS, but HTTP answered completely:
    // cert_expired stays open (unknown is not healthy), csp_missing is
    // resolved (its family's scope was complete), and tls.unreachable is
    // pending (damped).
    let unreachable_run = |when| {
        run(
            at(when),
            vec![
                scope("acme", WEB, "tls", false),
                scope("acme", WEB, "http", true),
            ],
            vec![finding("tls.unreachable", WEB, Severity::High)],
        )
    };
    let report = record(&store, &unreachable_run(1)).await;
    assert_eq!(report.pending, 1);
    assert_eq!(report.resolved, [key("acme", "http.csp_missing", WEB)]);
    let expired = get(&store, "tls.cert_expired", WEB).await.unwrap();
    assert_eq!(
        (expired.state, expired.last_seen),
        (FindingState::Open, at(0))
    );
    assert_eq!(
        state(&store, "tls.unreachable", WEB).await,
        Some(FindingState::Pending)
    );
    assert_eq!(
        report.scores[0].score, 60,
        "pending is not scored: {report:?}"
    );

    // Still unreachable: tls.unreachable opens, cert_expired is still open.
    let report = record(&store, &unreachable_run(2)).await;
    assert_eq!(report.opened, [key("acme", "tls.unreachable", WEB)]);
    assert_eq!(
        state(&store, "tls.cert_expired", WEB).await,
        Some(FindingState::Open)
    );
    assert_eq!(report.scores[0].score, 40);

    // Reachable again: the certificate is still expired, unreachable resolves.
    let report = record(
        &store,
        &run(
            at(3),
            vec![scope("acme", WEB, "tls", true)],
            vec![finding("tls.cert_expired", WEB, Severity::Critical)],
        ),
    )
    .await;
    assert_eq!(report.resolved, [key("acme", "tls.unreachable", WEB)]);
    let expired = get(&store, "tls.cert_expired", WEB).await.unwrap();
    assert_eq!(
        (expired.state, expired.last_seen, expired.reopen_count),
        (FindingState::Open, at(3), 0)
    );
    store.close().await;
}

#[tokio::test]
async fn damped_checks_open_only_after_consecutive_failing_runs() {
    let scratch = Scratch::new();
    let store = store_with(&scratch, &["acme"]).await;
    let down = |when| {
        run(
            at(when),
            vec![scope("acme", WEB, "http", false)],
            vec![finding("http.unreachable", WEB, Severity::Medium)],
        )
    };
    let up = |when| run(at(when), vec![scope("acme", WEB, "http", true)], vec![]);
    let pending = FindingFilter {
        state: Some(FindingState::Pending),
        ..FindingFilter::default()
    };
    let open = FindingFilter {
        state: Some(FindingState::Open),
        ..FindingFilter::default()
    };

    // failing, ok, failing, ok, failing: never opens; a clear run forgets it.
    for when in 0..5 {
        let report = if when % 2 == 0 {
            record(&store, &down(when)).await
        } else {
            record(&store, &up(when)).await
        };
        assert!(report.opened.is_empty(), "run {when}: {report:?}");
        assert!(store.findings(&open).await.unwrap().is_empty());
        let held = store.findings(&pending).await.unwrap();
        if when % 2 == 0 {
            assert_eq!(held.len(), 1);
            assert_eq!((held[0].streak, held[0].opened_at), (1, None));
            assert_eq!(
                held[0].first_seen,
                at(when),
                "a cleared pending finding starts over"
            );
        } else {
            assert!(held.is_empty(), "run {when}: {held:?}");
        }
        assert_eq!(report.scores[0].score, 100);
    }

    // A second failing run in a row: it opens.
    let report = record(&store, &down(5)).await;
    assert_eq!(report.opened, [key("acme", "http.unreachable", WEB)]);
    let f = get(&store, "http.unreachable", WEB).await.unwrap();
    assert_eq!(
        (f.state, f.first_seen, f.opened_at, f.streak),
        (FindingState::Open, at(4), Some(at(5)), 2)
    );

    // Open: it behaves normally — resolves on one good run — and coming
    // back is damped again: pending, then reopened.
    let report = record(&store, &up(6)).await;
    assert_eq!(report.resolved.len(), 1);
    record(&store, &down(7)).await;
    let f = get(&store, "http.unreachable", WEB).await.unwrap();
    assert_eq!((f.state, f.reopen_count), (FindingState::Pending, 0));
    // A good run now: back to resolved, not deleted, the date kept.
    record(&store, &up(8)).await;
    let f = get(&store, "http.unreachable", WEB).await.unwrap();
    assert_eq!(
        (f.state, f.resolved_at),
        (FindingState::Resolved, Some(at(6)))
    );
    record(&store, &down(9)).await;
    let report = record(&store, &down(10)).await;
    assert_eq!(report.reopened, [key("acme", "http.unreachable", WEB)]);
    let f = get(&store, "http.unreachable", WEB).await.unwrap();
    assert_eq!((f.state, f.reopen_count), (FindingState::Open, 1));

    // The threshold is the policy's; 1 means at once.
    for (runs, opens_after) in [(3_u32, 3_usize), (1, 1)] {
        let policy = LifecyclePolicy {
            damping_runs: runs,
            ..LifecyclePolicy::default()
        };
        let target = format!("host{runs}.acme.example:443");
        let mut opened_at = None;
        for n in 1..=3 {
            let input = run(
                at(10 + i64::from(runs) * 10 + n),
                vec![scope("acme", &target, "tls", false)],
                vec![finding("tls.unreachable", &target, Severity::High)],
            );
            let report = store.record_run(&input, &[], &policy).await.unwrap();
            if !report.opened.is_empty() && opened_at.is_none() {
                opened_at = Some(usize::try_from(n).unwrap());
            }
        }
        assert_eq!(opened_at, Some(opens_after), "damping_runs = {runs}");
    }
    store.close().await;
}

#[tokio::test]
async fn accepted_risks_are_kept_out_of_the_score_and_expire_with_audit_rows() {
    let scratch = Scratch::new();
    let store = store_with(&scratch, &["acme", "globex"]).await;
    let policy = LifecyclePolicy::default();
    // The last day the acceptance holds: run day 9 is covered, day 10 not.
    let until = at(9).date_naive();
    let acceptances = [accept("acme", "tls.no_tls13", None, until)];
    let acme_run = |when: i64| {
        run(
            at(when),
            vec![
                scope("acme", WEB, "tls", true),
                scope("acme", WEB, "http", true),
            ],
            vec![
                finding("tls.no_tls13", WEB, Severity::Low),
                finding("http.hsts_missing", WEB, Severity::Medium),
            ],
        )
    };

    // Fires while accepted: recorded as accepted, audited, not scored.
    let report = store
        .record_run(&acme_run(0), &acceptances, &policy)
        .await
        .unwrap();
    let no_tls13 = key("acme", "tls.no_tls13", WEB);
    assert_eq!(report.accepted, [no_tls13.clone()]);
    assert_eq!(
        (report.scores[0].score, report.scores[0].grade),
        score([Severity::Medium])
    );
    assert_eq!(
        state(&store, "tls.no_tls13", WEB).await,
        Some(FindingState::Accepted)
    );
    let accept_row = (
        "acme".to_owned(),
        "accept".to_owned(),
        "tls.no_tls13".to_owned(),
        "open".to_owned(),
        "accepted".to_owned(),
        "daemon".to_owned(),
    );
    assert_eq!(finding_audit(&store).await, [accept_row.clone()]);

    // Still covered (until is the last day it holds): refreshed, no audit.
    let report = store
        .record_run(&acme_run(9), &acceptances, &policy)
        .await
        .unwrap();
    assert!(report.accepted.is_empty() && report.unaccepted.is_empty());
    assert_eq!(report.refreshed, 2);
    let f = get(&store, "tls.no_tls13", WEB).await.unwrap();
    assert_eq!((f.state, f.last_seen), (FindingState::Accepted, at(9)));
    assert_eq!(finding_audit(&store).await.len(), 1);
    let scores = store.supplier_scores(at(9)).await.unwrap();
    let acme = scores.iter().find(|s| s.supplier == "acme").unwrap();
    assert_eq!(
        (acme.open.medium, acme.open.low),
        (1, 0),
        "accepted is not open"
    );

    // The day after `until`: back to open, with an expiry audit row.
    let report = store
        .record_run(&acme_run(10), &acceptances, &policy)
        .await
        .unwrap();
    assert_eq!(report.unaccepted, [no_tls13.clone()]);
    assert_eq!(
        (report.scores[0].score, report.scores[0].grade),
        score([Severity::Medium, Severity::Low])
    );
    assert_eq!(
        state(&store, "tls.no_tls13", WEB).await,
        Some(FindingState::Open)
    );
    let expired_row = (
        "acme".to_owned(),
        "acceptance_expired".to_owned(),
        "tls.no_tls13".to_owned(),
        "accepted".to_owned(),
        "open".to_owned(),
        "daemon".to_owned(),
    );
    assert_eq!(finding_audit(&store).await, [accept_row, expired_row]);

    // Without a run: an acceptance added, then removed from the list, for
    // globex (not in any run since).
    store
        .record_run(
            &RunInput {
                suppliers: Vec::new(),
                blind: None,
                findings: vec![(
                    "globex".to_owned(),
                    finding("email.dmarc_missing", "globex.example", Severity::High),
                )],
                scopes: vec![scope("globex", "globex.example", "email", true)],
                ..acme_run(11)
            },
            &[],
            &policy,
        )
        .await
        .unwrap();
    let dmarc = key("globex", "email.dmarc_missing", "globex.example");
    let later = [accept(
        "globex",
        "email.dmarc_missing",
        Some("globex.example"),
        at(60).date_naive(),
    )];
    let changed = apply_acceptances(&store, at(12), &later, "findings").await;
    assert_eq!(changed, [dmarc.clone()]);
    assert!(
        apply_acceptances(&store, at(12), &later, "findings")
            .await
            .is_empty(),
        "applying the same list twice changes nothing"
    );
    let changed = apply_acceptances(&store, at(13), &[], "status").await;
    assert_eq!(changed, [dmarc]);
    let audit = finding_audit(&store).await;
    let globex: Vec<_> = audit
        .iter()
        .filter(|a| a.0 == "globex")
        .map(|a| (a.1.as_str(), a.3.as_str(), a.4.as_str(), a.5.as_str()))
        .collect();
    assert_eq!(
        globex,
        [
            ("accept", "open", "accepted", "findings"),
            ("unaccept", "accepted", "open", "status")
        ]
    );

    // An acceptance of one target covers that target only; an accepted
    // finding that stops firing resolves like any other.
    let one = [accept("acme", "http.hsts_missing", Some(API), until)];
    let report = store
        .record_run(&acme_run(14), &one, &policy)
        .await
        .unwrap();
    assert!(report.accepted.is_empty());
    let web_only = [accept(
        "acme",
        "http.hsts_missing",
        Some(WEB),
        at(60).date_naive(),
    )];
    store
        .record_run(&acme_run(15), &web_only, &policy)
        .await
        .unwrap();
    assert_eq!(
        state(&store, "http.hsts_missing", WEB).await,
        Some(FindingState::Accepted)
    );
    let report = store
        .record_run(
            &run(at(16), vec![scope("acme", WEB, "http", true)], vec![]),
            &web_only,
            &policy,
        )
        .await
        .unwrap();
    assert_eq!(report.resolved, [key("acme", "http.hsts_missing", WEB)]);

    // A run of acme alone still expires globex's acceptance, audited with
    // the run's source.
    apply_acceptances(&store, at(17), &later, "findings").await;
    let report = store
        .record_run(
            &run(at(18), vec![scope("acme", WEB, "tls", true)], vec![]),
            &[],
            &policy,
        )
        .await
        .unwrap();
    assert_eq!(
        report.unaccepted,
        [key("globex", "email.dmarc_missing", "globex.example")]
    );
    let last = finding_audit(&store).await.pop().unwrap();
    assert_eq!(
        (last.0.as_str(), last.1.as_str(), last.5.as_str()),
        ("globex", "unaccept", "daemon")
    );
    store.close().await;
}

#[tokio::test]
async fn scores_are_stored_per_run_with_a_week_ago_trend() {
    let scratch = Scratch::new();
    let store = store_with(&scratch, &["acme", "globex"]).await;
    let both = |when: i64, acme: Vec<Finding>, globex: Vec<Finding>| RunInput {
        suppliers: Vec::new(),
        blind: None,
        at: at(when),
        source: "daemon".to_owned(),
        scopes: vec![
            scope("acme", WEB, "tls", true),
            scope("globex", "mail.globex.example:443", "tls", true),
        ],
        findings: acme
            .into_iter()
            .map(|f| ("acme".to_owned(), f))
            .chain(globex.into_iter().map(|f| ("globex".to_owned(), f)))
            .collect(),
        observations: Vec::new(),
    };
    let high = || finding("tls.self_signed", WEB, Severity::High);
    let low = || finding("tls.no_tls13", WEB, Severity::Low);
    let g_crit = || {
        finding(
            "tls.cert_expired",
            "mail.globex.example:443",
            Severity::Critical,
        )
    };

    record(&store, &both(0, vec![high(), low()], vec![])).await;
    record(&store, &both(3, vec![high()], vec![])).await;
    record(&store, &both(7, vec![low()], vec![g_crit()])).await;
    let report = record(&store, &both(8, vec![], vec![g_crit()])).await;
    assert_eq!(report.scores.len(), 2);

    let history = store.score_history("acme").await.unwrap();
    let points: Vec<(DateTime<Utc>, u8, Grade)> =
        history.iter().map(|p| (p.at, p.score, p.grade)).collect();
    assert_eq!(
        points,
        [
            (at(0), 77, Grade::C),
            (at(3), 80, Grade::C),
            (at(7), 97, Grade::A),
            (at(8), 100, Grade::A)
        ]
    );

    // As of day 8: latest is day 8; the latest at least 7 days before is
    // day 0 (day 3 is only 5 days before).
    let rows = store.supplier_scores(at(8)).await.unwrap();
    let order: Vec<&str> = rows.iter().map(|r| r.supplier.as_str()).collect();
    assert_eq!(order, ["globex", "acme"], "worst first");
    let acme = &rows[1];
    assert_eq!((acme.latest.at, acme.latest.score), (at(8), 100));
    let week = acme.week_ago.as_ref().unwrap();
    assert_eq!((week.at, week.score, week.grade), (at(0), 77, Grade::C));
    assert_eq!(acme.trend(), Some(23));
    assert_eq!(acme.open.total(), 0);
    let globex = &rows[0];
    assert_eq!((globex.latest.score, globex.latest.grade), (60, Grade::F));
    // Globex was in day 0's run too, with nothing open.
    assert_eq!(globex.week_ago.as_ref().map(|w| w.score), Some(100));
    assert_eq!(globex.trend(), Some(-40));
    assert_eq!(globex.open.critical, 1);

    // As of day 3: later runs are not seen.
    let rows = store.supplier_scores(at(3)).await.unwrap();
    let acme = rows.iter().find(|r| r.supplier == "acme").unwrap();
    assert_eq!(
        (acme.latest.at, acme.latest.score, acme.week_ago.clone()),
        (at(3), 80, None)
    );
    store.close().await;
}

#[tokio::test]
async fn observations_are_stored_only_when_their_facts_change() {
    let scratch = Scratch::new();
    let store = store_with(&scratch, &["acme"]).await;
    let facts = |elapsed: u64, date: &str, server: &str| {
        json!({
            "target": WEB, "elapsed_ms": elapsed,
            "page": {"responses": [{"status": 200, "headers": {
                "date": [date], "server": [server]}}]}
        })
    };
    let with = |when: i64, facts: serde_json::Value| RunInput {
        suppliers: Vec::new(),
        blind: None,
        observations: vec![
            ObservationBlob {
                supplier: "acme".to_owned(),
                target: WEB.to_owned(),
                kind: "http".to_owned(),
                facts,
            },
            ObservationBlob {
                supplier: "acme".to_owned(),
                target: DOMAIN.to_owned(),
                kind: "domain".to_owned(),
                facts: json!({"domain": DOMAIN, "mx": ["mx1", "mx2"]}),
            },
        ],
        ..run(at(when), vec![], vec![])
    };

    let report = record(&store, &with(0, facts(12, "Sun, 01 Mar 2026", "nginx"))).await;
    assert_eq!(
        (report.observations_stored, report.observations_unchanged),
        (2, 0)
    );
    // Same facts, other timings and Date header: nothing new stored.
    for when in 1..30 {
        let report = record(
            &store,
            &with(when, facts(400 + when.unsigned_abs(), "Mon", "nginx")),
        )
        .await;
        assert_eq!(
            (report.observations_stored, report.observations_unchanged),
            (0, 2)
        );
    }
    let history = store
        .observation_history("acme", WEB, "http")
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].first_seen, history[0].last_seen),
        (at(0), at(29))
    );
    assert_eq!(
        history[0].facts.get("elapsed_ms"),
        None,
        "stored normalised"
    );

    // Changed facts: a second blob, the first superseded.
    let report = record(&store, &with(30, facts(5, "Tue", "nginx/1.18.0"))).await;
    assert_eq!(
        (report.observations_stored, report.observations_unchanged),
        (1, 1)
    );
    let history = store
        .observation_history("acme", WEB, "http")
        .await
        .unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].superseded_at, Some(at(30)));
    assert_eq!(history[1].superseded_at, None);
    assert_ne!(history[0].hash, history[1].hash);
    // And back again: a change too, its facts those already stored.
    record(&store, &with(31, facts(5, "Wed", "nginx"))).await;
    let history = store
        .observation_history("acme", WEB, "http")
        .await
        .unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!(history[2].hash, history[0].hash);
    assert_eq!(history[2].facts, history[0].facts);
    assert_eq!(history[1].superseded_at, Some(at(31)));
    assert_eq!(
        store
            .observation_history("acme", DOMAIN, "domain")
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.recent_runs(100).await.unwrap().len(), 32);
    store.close().await;
}

#[tokio::test]
async fn prune_deletes_old_runs_but_never_open_findings_or_the_audit_log() {
    let scratch = Scratch::new();
    let store = store_with(&scratch, &["acme"]).await;
    let policy = LifecyclePolicy::default();
    let acceptances = [accept("acme", "tls.no_tls13", None, at(400).date_naive())];
    for when in 0..=40 {
        let mut findings = vec![
            finding("tls.cert_expired", WEB, Severity::Critical),
            finding("tls.no_tls13", WEB, Severity::Low),
        ];
        if when < 3 {
            findings.push(finding("tls.weak_key", WEB, Severity::High));
        }
        let input = RunInput {
            suppliers: Vec::new(),
            blind: None,
            observations: vec![ObservationBlob {
                supplier: "acme".to_owned(),
                target: WEB.to_owned(),
                kind: "tls".to_owned(),
                facts: json!({ "version": if when < 5 { "TLSv1.2" } else { "TLSv1.3" } }),
            }],
            ..run(at(when), vec![scope("acme", WEB, "tls", true)], findings)
        };
        store
            .record_run(&input, &acceptances, &policy)
            .await
            .unwrap();
    }
    let audit_before = store.audit(&AuditFilter::default()).await.unwrap();
    let findings_before = all(&store).await;
    assert_eq!(findings_before.len(), 3);

    let pruned = store.prune(at(40), 30).await.unwrap();
    assert_eq!(
        (
            pruned.runs,
            pruned.scores,
            pruned.observations,
            pruned.facts
        ),
        (10, 10, 1, 1)
    );
    let runs = store.recent_runs(1000).await.unwrap();
    assert_eq!(runs.len(), 31);
    assert_eq!(runs.last().unwrap().at, at(10));
    assert_eq!(store.score_history("acme").await.unwrap().len(), 31);
    let blobs = store.observation_history("acme", WEB, "tls").await.unwrap();
    assert_eq!(blobs.len(), 1, "the current blob stays, however old");
    assert_eq!(blobs[0].first_seen, at(5));
    assert_eq!(
        all(&store).await,
        findings_before,
        "findings are never pruned"
    );
    assert_eq!(
        store.audit(&AuditFilter::default()).await.unwrap(),
        audit_before
    );
    let expired = get(&store, "tls.cert_expired", WEB).await.unwrap();
    assert_eq!(
        (expired.state, expired.first_seen),
        (FindingState::Open, at(0))
    );

    // Nothing old is left to prune; the current blob survives a long gap.
    assert_eq!(store.prune(at(40), 30).await.unwrap(), Default::default());
    let pruned = store.prune(at(400), 30).await.unwrap();
    assert_eq!((pruned.runs, pruned.observations), (31, 0));
    assert_eq!(
        store
            .observation_history("acme", WEB, "tls")
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(all(&store).await.len(), 3);
    store.close().await;
}

#[tokio::test]
async fn findings_filter_by_supplier_severity_state_and_date() {
    let scratch = Scratch::new();
    let store = store_with(&scratch, &["acme", "globex"]).await;
    record(
        &store,
        &run(
            at(0),
            vec![scope("acme", WEB, "tls", true)],
            vec![
                finding("tls.cert_expired", WEB, Severity::Critical),
                finding("tls.no_tls13", WEB, Severity::Low),
                finding("tls.weak_key", WEB, Severity::High),
            ],
        ),
    )
    .await;
    record(
        &store,
        &RunInput {
            suppliers: Vec::new(),
            blind: None,
            findings: vec![
                (
                    "acme".to_owned(),
                    finding("tls.no_tls13", WEB, Severity::Low),
                ),
                (
                    "globex".to_owned(),
                    finding("email.spf_missing", "globex.example", Severity::Medium),
                ),
            ],
            ..run(at(5), vec![scope("acme", WEB, "tls", true)], vec![])
        },
    )
    .await;
    let ids = |found: Vec<StoredFinding>| -> Vec<String> {
        found
            .into_iter()
            .map(|f| format!("{}/{}", f.supplier, f.check))
            .collect()
    };
    let query = |filter: FindingFilter| {
        let store = store.clone();
        async move { ids(store.findings(&filter).await.unwrap()) }
    };

    assert_eq!(
        query(FindingFilter::default()).await,
        [
            "acme/tls.cert_expired",
            "acme/tls.weak_key",
            "globex/email.spf_missing",
            "acme/tls.no_tls13"
        ],
        "worst first"
    );
    assert_eq!(
        query(FindingFilter {
            supplier: Some("globex".to_owned()),
            ..Default::default()
        })
        .await,
        ["globex/email.spf_missing"]
    );
    assert_eq!(
        query(FindingFilter {
            min_severity: Some(Severity::High),
            ..Default::default()
        })
        .await,
        ["acme/tls.cert_expired", "acme/tls.weak_key"]
    );
    assert_eq!(
        query(FindingFilter {
            state: Some(FindingState::Resolved),
            ..Default::default()
        })
        .await,
        ["acme/tls.cert_expired", "acme/tls.weak_key"]
    );
    assert_eq!(
        query(FindingFilter {
            state: Some(FindingState::Open),
            supplier: Some("acme".to_owned()),
            ..Default::default()
        })
        .await,
        ["acme/tls.no_tls13"]
    );
    // Since day 3: seen (no_tls13, spf_missing) or changed (the two resolved).
    assert_eq!(
        query(FindingFilter {
            since: Some(at(3).date_naive()),
            ..Default::default()
        })
        .await
        .len(),
        4
    );
    assert_eq!(
        query(FindingFilter {
            since: Some(at(6).date_naive()),
            ..Default::default()
        })
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        query(FindingFilter {
            since: Some(at(5).date_naive()),
            min_severity: Some(Severity::Medium),
            state: Some(FindingState::Open),
            supplier: None,
        })
        .await,
        ["globex/email.spf_missing"]
    );
    store.close().await;
}

#[tokio::test]
async fn a_run_naming_an_unknown_supplier_is_refused_whole() {
    let scratch = Scratch::new();
    let store = store_with(&scratch, &["acme"]).await;
    let input = RunInput {
        suppliers: Vec::new(),
        blind: None,
        findings: vec![
            (
                "acme".to_owned(),
                finding("tls.no_tls13", WEB, Severity::Low),
            ),
            (
                "ghost".to_owned(),
                finding("tls.no_tls13", WEB, Severity::Low),
            ),
        ],
        ..run(at(0), vec![], vec![])
    };
    match store
        .record_run(&input, &[], &LifecyclePolicy::default())
        .await
    {
        Err(e @ StoreError::UnknownSuppliers { .. }) => {
            let StoreError::UnknownSuppliers { ids, .. } = &e else {
                unreachable!()
            };
            assert_eq!(ids, &["ghost"]);
            assert!(e.to_string().contains("supplywatch sync"), "{e}");
        }
        other => panic!("expected UnknownSuppliers, got {other:?}"),
    }
    assert!(all(&store).await.is_empty());
    assert!(store.recent_runs(10).await.unwrap().is_empty());
    store.close().await;
}

/// Two handles on one file (as the CLI and the daemon would be), each
/// recording 50 runs while the other does, one finding they share: every
/// run and finding is there, and the shared finding's streak counts all
/// 100 runs — no update was lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_handles_record_runs_at_once_without_errors_or_lost_rows() {
    let scratch = Scratch::new();
    let store = store_with(&scratch, &["acme", "globex", "initech"]).await;
    let path = scratch.path("watch.db");
    let shared = "shared.initech.example:443";
    // Both start together, so that their transactions contend.
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(2));
    let writer = |who: &'static str, handle: Store| {
        let start = start.clone();
        async move {
            start.wait().await;
            record_many(who, &handle, shared).await;
            handle
        }
    };
    let a = Store::open(&path, OpenMode::Existing).await.unwrap();
    let b = Store::open(&path, OpenMode::Existing).await.unwrap();
    let (a, b) = tokio::join!(
        tokio::spawn(writer("acme", a)),
        tokio::spawn(writer("globex", b))
    );
    a.unwrap().close().await;
    b.unwrap().close().await;

    let runs = store.recent_runs(1000).await.unwrap();
    assert_eq!(runs.len(), 100);
    let found = all(&store).await;
    for who in ["acme", "globex"] {
        let mine: Vec<_> = found.iter().filter(|f| f.supplier == who).collect();
        assert_eq!(mine.len(), 50, "{who}");
        assert!(mine.iter().all(|f| f.state == FindingState::Open));
        assert_eq!(store.score_history(who).await.unwrap().len(), 50);
    }
    let shared = found.iter().find(|f| f.supplier == "initech").unwrap();
    assert_eq!(shared.streak, 100, "every run refreshed it");
    assert_eq!(store.score_history("initech").await.unwrap().len(), 100);
    store.close().await;
}

/// 50 runs of `who`, each with a new target of its own and the finding on
/// initech's `shared` target.
async fn record_many(who: &str, handle: &Store, shared: &str) {
    const RUNS: i64 = 50;
    for n in 0..RUNS {
        let target = format!("{who}{n}.example:443");
        let input = RunInput {
            suppliers: Vec::new(),
            blind: None,
            at: at(0) + Duration::minutes(n),
            source: format!("writer {who}"),
            scopes: vec![scope(who, &target, "tls", true)],
            findings: vec![
                (
                    who.to_owned(),
                    finding("tls.no_tls13", &target, Severity::Low),
                ),
                (
                    "initech".to_owned(),
                    finding("tls.no_tls13", shared, Severity::Low),
                ),
            ],
            observations: vec![ObservationBlob {
                supplier: who.to_owned(),
                target,
                kind: "tls".to_owned(),
                facts: json!({ "n": n }),
            }],
        };
        handle
            .record_run(&input, &[], &LifecyclePolicy::default())
            .await
            .unwrap();
    }
}
