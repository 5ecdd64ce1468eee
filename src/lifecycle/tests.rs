//! Unit tests of the pure findings lifecycle: one per transition.
//!
//! Every input is built by hand: stored rows look as the store loads them
//! (no summary or evidence, nothing to write yet), findings and scopes as
//! one run gives them, on a fixed day.

use crate::registry::CheckId;
use serde_json::json;

use super::*;
use crate::registry::{EmailAddress, SupplierId};

const SUPPLIER: &str = "acme";
const OTHER_SUPPLIER: &str = "globex";
const ENDPOINT: &str = "api.acme.example:443";
const OTHER_ENDPOINT: &str = "www.acme.example:443";
/// Not damped: opens the first time it fires.
const PLAIN: CheckId = CheckId::TlsNoTls13;
/// Damped (two runs by default).
const DAMPED: CheckId = CheckId::TlsUnreachable;
/// The run's time.
const AT: &str = "2026-03-10T06:00:00Z";
/// When the resolved rows below resolved.
const EARLIER: &str = "2026-02-01T06:00:00Z";
const APPROVER: &str = "ciso@bank.example";
const REASON: &str = "legacy appliance, replacement ordered";

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid calendar day")
}

/// The run's day.
fn today() -> NaiveDate {
    day(2026, 3, 10)
}

fn key(check: CheckId, target: &str) -> FindingKey {
    FindingKey {
        supplier: SUPPLIER.to_owned(),
        check: check.as_str().to_owned(),
        target: target.to_owned(),
    }
}

/// What `check` on `target` of `acme` fired with: medium, and a summary
/// and evidence naming both.
fn finding(check: CheckId, target: &str) -> (String, Finding) {
    (
        SUPPLIER.to_owned(),
        Finding {
            check,
            severity: Severity::Medium,
            target: target.to_owned(),
            summary: format!("{check} on {target}"),
            evidence: json!({ "target": target }),
        },
    )
}

/// The stored hash of what [`finding`] gives for `check` on `target`.
fn hash_of(check: CheckId, target: &str) -> i64 {
    let (_, f) = finding(check, target);
    content_hash(f.severity, &f.summary, &f.evidence.to_string())
}

/// A row of `acme` as the store loads it, with the content [`finding`]
/// gives: open or accepted rows have been firing for three runs, a
/// pending one for one run and never opened, a resolved one resolved at
/// [`EARLIER`].
fn stored(id: i64, check: CheckId, target: &str, state: FindingState) -> Row {
    Row {
        id: Some(id),
        supplier: SUPPLIER.to_owned(),
        check: check.as_str().to_owned(),
        target: target.to_owned(),
        state,
        severity: Severity::Medium,
        content_hash: hash_of(check, target),
        summary: None,
        evidence: None,
        ever_open: state != FindingState::Pending,
        resolved_at: (state == FindingState::Resolved).then(|| EARLIER.to_owned()),
        reopen_count: 0,
        streak: match state {
            FindingState::Open | FindingState::Accepted => 3,
            FindingState::Pending => 1,
            FindingState::Resolved => 0,
        },
        resolution: None,
        now: Now::default(),
        dirty: Dirty::Clean,
    }
}

/// What a run covered of `family` on `target` of `acme`.
fn scope(family: &'static str, target: &str, complete: bool) -> Scope {
    Scope {
        supplier: SUPPLIER.to_owned(),
        target: target.to_owned(),
        family,
        complete,
    }
}

/// An accepted risk of `acme` for `check` (on `target`, or every target).
fn acceptance(check: CheckId, target: Option<&str>, until: NaiveDate) -> Acceptance {
    Acceptance {
        supplier: SUPPLIER.parse::<SupplierId>().expect("a valid supplier id"),
        check,
        target: target.map(str::to_owned),
        until,
        reason: REASON.to_owned(),
        approved_by: APPROVER.parse::<EmailAddress>().expect("a valid address"),
    }
}

/// The run at [`AT`] on `day` with `policy` and `acceptances`.
fn lifecycle<'a>(
    day: NaiveDate,
    policy: &'a LifecyclePolicy,
    acceptances: &'a [Acceptance],
) -> Lifecycle<'a> {
    Lifecycle {
        at: AT,
        day,
        policy,
        acceptances,
    }
}

/// One run today with the default damping and no accepted risks.
fn run(rows: &mut Vec<Row>, findings: &[(String, Finding)], scopes: &[Scope]) -> Outcome {
    let policy = LifecyclePolicy::default();
    reconcile(rows, findings, scopes, &lifecycle(today(), &policy, &[]))
}

/// One accept pass today over `rows` with `acceptances`.
fn accept_today(rows: &mut [Row], acceptances: &[Acceptance]) -> Outcome {
    accept_on(today(), rows, acceptances)
}

fn accept_on(day: NaiveDate, rows: &mut [Row], acceptances: &[Acceptance]) -> Outcome {
    let policy = LifecyclePolicy::default();
    let mut out = Outcome::default();
    accept_pass(rows, &lifecycle(day, &policy, acceptances), &mut out);
    out
}

/// Whether nothing about `row` is to be written.
fn untouched(row: &Row) -> bool {
    row.dirty == Dirty::Clean && row.now == Now::default() && row.resolution.is_none()
}

// --- Firing -----------------------------------------------------------

#[test]
fn first_fire_of_a_plain_check_opens() {
    let mut rows = Vec::new();
    let out = run(&mut rows, &[finding(PLAIN, ENDPOINT)], &[]);

    assert_eq!(out.opened, vec![key(PLAIN, ENDPOINT)]);
    assert_eq!((out.fired, out.pending, out.refreshed), (1, 0, 0));
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.id, None, "a new row");
    assert_eq!(row.state, FindingState::Open);
    assert_eq!(row.streak, 1);
    assert!(row.ever_open);
    assert_eq!(
        row.summary.as_deref(),
        Some("tls.no_tls13 on api.acme.example:443")
    );
    assert_eq!(
        row.evidence.as_deref(),
        Some(r#"{"target":"api.acme.example:443"}"#)
    );
    assert_eq!(row.content_hash, hash_of(PLAIN, ENDPOINT));
    assert_eq!(
        row.now,
        Now {
            seen: true,
            opened: true,
            changed: true
        }
    );
    assert_eq!(row.dirty, Dirty::Changed);
}

#[test]
fn first_fire_of_a_damped_check_is_pending() {
    let mut rows = Vec::new();
    let out = run(&mut rows, &[finding(DAMPED, ENDPOINT)], &[]);

    assert!(out.opened.is_empty());
    assert_eq!((out.fired, out.pending), (1, 1));
    let row = &rows[0];
    assert_eq!(row.state, FindingState::Pending);
    assert_eq!(row.streak, 1);
    assert!(!row.ever_open);
    assert!(row.now.seen && row.now.changed);
    assert!(!row.now.opened, "a pending finding has not opened");
}

#[test]
fn second_consecutive_fire_of_a_damped_check_opens() {
    let mut rows = vec![stored(7, DAMPED, ENDPOINT, FindingState::Pending)];
    let out = run(&mut rows, &[finding(DAMPED, ENDPOINT)], &[]);

    assert_eq!(out.opened, vec![key(DAMPED, ENDPOINT)]);
    assert!(out.reopened.is_empty(), "it was never open before");
    assert_eq!(out.pending, 0);
    let row = &rows[0];
    assert_eq!(row.state, FindingState::Open);
    assert_eq!(row.streak, 2);
    assert!(row.ever_open);
    assert_eq!(row.reopen_count, 0);
    assert!(row.now.seen && row.now.opened && row.now.changed);
    assert_eq!(row.dirty, Dirty::Changed);
}

#[test]
fn a_damped_check_opens_after_as_many_runs_as_the_policy_says() {
    let policy = LifecyclePolicy {
        damping_runs: 3,
        ..LifecyclePolicy::default()
    };
    let lc = lifecycle(today(), &policy, &[]);
    let mut rows = Vec::new();
    let fire = [finding(DAMPED, ENDPOINT)];

    let first = reconcile(&mut rows, &fire, &[], &lc);
    let second = reconcile(&mut rows, &fire, &[], &lc);
    assert_eq!((first.pending, second.pending), (1, 1));
    assert_eq!(rows[0].state, FindingState::Pending);
    assert_eq!(rows[0].streak, 2);

    let third = reconcile(&mut rows, &fire, &[], &lc);
    assert_eq!(third.opened, vec![key(DAMPED, ENDPOINT)]);
    assert_eq!(rows[0].state, FindingState::Open);
    assert_eq!(rows.len(), 1, "one row throughout");
}

/// An `http.unreachable` the endpoint answered with (a redirect loop, a
/// redirect to a refused address …) is the same every run: not damped. One
/// that may be weather (a timeout) still is.
#[test]
fn an_answered_http_failure_opens_at_once() {
    let with_cause = |cause: &str| {
        let (supplier, mut f) = finding(CheckId::HttpUnreachable, ENDPOINT);
        f.evidence = json!({ "cause": cause });
        (supplier, f)
    };
    for cause in [
        "redirect_refused",
        "redirect_loop",
        "too_many_redirects",
        "bad_redirect",
    ] {
        let mut rows = Vec::new();
        let out = run(&mut rows, &[with_cause(cause)], &[]);
        assert_eq!(
            out.opened,
            vec![key(CheckId::HttpUnreachable, ENDPOINT)],
            "{cause}"
        );
        assert_eq!(rows[0].state, FindingState::Open, "{cause}");
    }
    // Pending from a timeout last run, an answer now: opens.
    let mut rows = vec![stored(
        7,
        CheckId::HttpUnreachable,
        ENDPOINT,
        FindingState::Pending,
    )];
    let out = run(&mut rows, &[with_cause("redirect_loop")], &[]);
    assert_eq!(out.opened, vec![key(CheckId::HttpUnreachable, ENDPOINT)]);
    for weather in [
        with_cause("redirect_unreachable"),
        finding(CheckId::HttpUnreachable, ENDPOINT),
    ] {
        let mut rows = Vec::new();
        let out = run(&mut rows, &[weather], &[]);
        assert_eq!(out.pending, 1);
        assert_eq!(rows[0].state, FindingState::Pending);
    }
}

#[test]
fn damping_of_one_run_or_none_opens_at_once() {
    for damping_runs in [0, 1] {
        let policy = LifecyclePolicy {
            damping_runs,
            ..LifecyclePolicy::default()
        };
        let mut rows = Vec::new();
        let out = reconcile(
            &mut rows,
            &[finding(DAMPED, ENDPOINT)],
            &[],
            &lifecycle(today(), &policy, &[]),
        );
        assert_eq!(out.opened, vec![key(DAMPED, ENDPOINT)], "{damping_runs}");
        assert_eq!(rows[0].state, FindingState::Open, "{damping_runs}");
    }
}

#[test]
fn runs_to_open_counts_down_to_one() {
    let policy = LifecyclePolicy::default();
    assert_eq!(policy.runs_to_open(DAMPED, 0), 2);
    assert_eq!(policy.runs_to_open(DAMPED, 1), 1);
    assert_eq!(policy.runs_to_open(DAMPED, 5), 1, "never below one");
    assert_eq!(
        policy.runs_to_open(PLAIN, 0),
        1,
        "a plain check opens at once"
    );

    let three = LifecyclePolicy {
        damping_runs: 3,
        ..LifecyclePolicy::default()
    };
    assert_eq!(three.runs_to_open(CheckId::HttpUnreachable, 1), 2);
    assert_eq!(three.runs_to_open(CheckId::DnsResolutionFailed, 2), 1);
}

#[test]
fn open_finding_firing_unchanged_is_only_seen() {
    let mut rows = vec![stored(7, PLAIN, ENDPOINT, FindingState::Open)];
    let out = run(&mut rows, &[finding(PLAIN, ENDPOINT)], &[]);

    assert_eq!((out.fired, out.refreshed), (1, 1));
    assert!(out.opened.is_empty() && out.reopened.is_empty());
    let row = &rows[0];
    assert_eq!(row.state, FindingState::Open);
    assert_eq!(row.streak, 4);
    assert_eq!(row.dirty, Dirty::Seen, "only last_seen and streak move");
    assert_eq!(
        row.now,
        Now {
            seen: true,
            opened: false,
            changed: false
        }
    );
    assert_eq!(row.summary, None, "an unchanged summary is not written");
    assert_eq!(row.evidence, None, "unchanged evidence is not written");
    assert_eq!(row.resolution, None);
}

#[test]
fn open_finding_firing_with_new_content_is_rewritten() {
    /// What one refresh changes in the finding.
    type Change = fn(&mut Finding);
    let changes: [(&str, Change); 3] = [
        ("severity", |f| f.severity = Severity::High),
        ("summary", |f| f.summary = "now worse".to_owned()),
        ("evidence", |f| f.evidence = json!({ "target": "other" })),
    ];
    for (what, change) in changes {
        let mut rows = vec![stored(7, PLAIN, ENDPOINT, FindingState::Open)];
        let (supplier, mut f) = finding(PLAIN, ENDPOINT);
        change(&mut f);
        let out = run(&mut rows, &[(supplier, f.clone())], &[]);

        assert_eq!(out.refreshed, 1, "{what}");
        let row = &rows[0];
        assert_eq!(row.state, FindingState::Open, "{what}");
        assert_eq!(row.dirty, Dirty::Changed, "{what}");
        assert_eq!(row.severity, f.severity, "{what}");
        assert_eq!(row.summary.as_deref(), Some(f.summary.as_str()), "{what}");
        assert_eq!(
            row.evidence.as_deref(),
            Some(f.evidence.to_string().as_str()),
            "{what}"
        );
        assert_ne!(row.content_hash, hash_of(PLAIN, ENDPOINT), "{what}");
        assert!(row.now.seen, "{what}");
        assert!(!row.now.changed, "{what}: the state did not change");
    }
}

#[test]
fn the_same_finding_twice_in_one_run_counts_once() {
    // New: one row, opened once.
    let mut rows = Vec::new();
    let twice = [finding(PLAIN, ENDPOINT), finding(PLAIN, ENDPOINT)];
    let out = run(&mut rows, &twice, &[]);
    assert_eq!(out.fired, 1);
    assert_eq!(out.opened, vec![key(PLAIN, ENDPOINT)]);
    assert_eq!(rows.len(), 1);

    // Stored: refreshed once, its streak up by one.
    let mut rows = vec![stored(7, PLAIN, ENDPOINT, FindingState::Open)];
    let out = run(&mut rows, &twice, &[]);
    assert_eq!((out.fired, out.refreshed), (1, 1));
    assert_eq!(rows[0].streak, 4);
}

// --- Not firing: resolution and scopes ----------------------------------

#[test]
fn open_finding_not_fired_in_a_complete_scope_resolves() {
    let mut rows = vec![stored(7, PLAIN, ENDPOINT, FindingState::Open)];
    let out = run(&mut rows, &[], &[scope("tls", ENDPOINT, true)]);

    assert_eq!(out.resolved, vec![key(PLAIN, ENDPOINT)]);
    assert_eq!(out.fired, 0);
    assert!(out.deleted.is_empty());
    let row = &rows[0];
    assert_eq!(row.state, FindingState::Resolved);
    assert_eq!(row.resolved_at.as_deref(), Some(AT));
    assert_eq!(row.streak, 0);
    assert_eq!(row.resolution, Some(None), "no reason: simply not seen");
    assert_eq!(row.dirty, Dirty::Changed);
    assert!(row.now.changed);
    assert!(!row.now.seen && !row.now.opened);
}

#[test]
fn accepted_finding_not_fired_in_a_complete_scope_resolves() {
    let mut rows = vec![stored(7, PLAIN, ENDPOINT, FindingState::Accepted)];
    let out = run(&mut rows, &[], &[scope("tls", ENDPOINT, true)]);

    assert_eq!(out.resolved, vec![key(PLAIN, ENDPOINT)]);
    assert_eq!(rows[0].state, FindingState::Resolved);
    assert_eq!(rows[0].resolved_at.as_deref(), Some(AT));
}

#[test]
fn unknown_is_not_healthy_an_incomplete_scope_resolves_nothing() {
    let mut rows = vec![stored(7, PLAIN, ENDPOINT, FindingState::Open)];
    let out = run(&mut rows, &[], &[scope("tls", ENDPOINT, false)]);

    assert!(out.resolved.is_empty());
    assert_eq!(rows[0].state, FindingState::Open);
    assert_eq!(rows[0].streak, 3, "the streak is not broken by an unknown");
    assert!(untouched(&rows[0]));
}

#[test]
fn a_finding_outside_every_scope_is_untouched() {
    let mut rows = vec![stored(7, PLAIN, ENDPOINT, FindingState::Open)];
    let out = run(&mut rows, &[], &[]);

    assert!(out.resolved.is_empty());
    assert_eq!(rows[0].state, FindingState::Open);
    assert!(untouched(&rows[0]));
}

#[test]
fn any_target_scope_covers_every_target_of_its_family() {
    let mut rows = vec![
        stored(7, PLAIN, ENDPOINT, FindingState::Open),
        stored(8, CheckId::TlsWeakKey, OTHER_ENDPOINT, FindingState::Open),
        stored(9, CheckId::HttpHstsMissing, ENDPOINT, FindingState::Open),
    ];
    let out = run(&mut rows, &[], &[scope("tls", Scope::ANY_TARGET, true)]);

    assert_eq!(
        out.resolved,
        vec![
            key(PLAIN, ENDPOINT),
            key(CheckId::TlsWeakKey, OTHER_ENDPOINT)
        ]
    );
    assert_eq!(rows[0].state, FindingState::Resolved);
    assert_eq!(rows[1].state, FindingState::Resolved);
    assert_eq!(rows[2].state, FindingState::Open, "another family");
}

#[test]
fn an_incomplete_any_target_scope_resolves_nothing() {
    let mut rows = vec![stored(7, PLAIN, ENDPOINT, FindingState::Open)];
    let out = run(&mut rows, &[], &[scope("tls", Scope::ANY_TARGET, false)]);

    assert!(out.resolved.is_empty());
    assert!(untouched(&rows[0]));
}

#[test]
fn a_scope_of_another_family_target_or_supplier_does_not_resolve() {
    let other_supplier = Scope {
        supplier: OTHER_SUPPLIER.to_owned(),
        ..scope("tls", ENDPOINT, true)
    };
    for other in [
        scope("http", ENDPOINT, true),
        scope("tls", OTHER_ENDPOINT, true),
        other_supplier,
    ] {
        let mut rows = vec![stored(7, PLAIN, ENDPOINT, FindingState::Open)];
        let out = run(&mut rows, &[], std::slice::from_ref(&other));
        assert!(out.resolved.is_empty(), "{other:?}");
        assert_eq!(rows[0].state, FindingState::Open, "{other:?}");
        assert!(untouched(&rows[0]), "{other:?}");
    }
}

#[test]
fn one_incomplete_report_of_a_scope_makes_it_incomplete() {
    let mut rows = vec![stored(7, PLAIN, ENDPOINT, FindingState::Open)];
    let out = run(
        &mut rows,
        &[],
        &[scope("tls", ENDPOINT, true), scope("tls", ENDPOINT, false)],
    );
    assert!(out.resolved.is_empty());
    assert_eq!(rows[0].state, FindingState::Open);
}

/// Two reports of one scope combine to incomplete (above), but a complete
/// supplier-wide report overrides a target's own incomplete one: the run
/// said it does not know about this target, and the finding resolves.
/// Latent today (only paperwork reports `ANY_TARGET` scopes, only probes
/// report per-target ones), but at odds with "unknown is not healthy".
#[test]
fn an_incomplete_target_scope_wins_over_a_complete_any_target_scope() {
    let mut rows = vec![stored(7, PLAIN, ENDPOINT, FindingState::Open)];
    let out = run(
        &mut rows,
        &[],
        &[
            scope("tls", ENDPOINT, false),
            scope("tls", Scope::ANY_TARGET, true),
        ],
    );
    assert!(out.resolved.is_empty(), "{:?}", out.resolved);
    assert_eq!(rows[0].state, FindingState::Open);
}

// --- Coming back ----------------------------------------------------------

#[test]
fn resolved_finding_firing_again_reopens() {
    let mut rows = vec![stored(7, PLAIN, ENDPOINT, FindingState::Resolved)];
    rows[0].reopen_count = 2;
    let out = run(&mut rows, &[finding(PLAIN, ENDPOINT)], &[]);

    assert_eq!(out.reopened, vec![key(PLAIN, ENDPOINT)]);
    assert!(out.opened.is_empty(), "a comeback is not a first opening");
    let row = &rows[0];
    assert_eq!(row.state, FindingState::Open);
    assert_eq!(row.reopen_count, 3);
    assert_eq!(row.resolved_at, None);
    assert_eq!(row.resolution, Some(None), "the stored reason is cleared");
    assert_eq!(row.streak, 1);
    assert!(row.now.seen && row.now.opened && row.now.changed);
    assert_eq!(row.dirty, Dirty::Changed);
}

#[test]
fn resolved_damped_finding_is_pending_before_it_reopens() {
    let mut rows = vec![stored(7, DAMPED, ENDPOINT, FindingState::Resolved)];
    let fire = [finding(DAMPED, ENDPOINT)];

    let first = run(&mut rows, &fire, &[]);
    assert_eq!(first.pending, 1);
    assert!(first.reopened.is_empty());
    assert_eq!(rows[0].state, FindingState::Pending);
    assert_eq!(rows[0].reopen_count, 0);
    assert_eq!(
        rows[0].resolved_at.as_deref(),
        Some(EARLIER),
        "still resolved as far as its date goes"
    );
    assert!(!rows[0].now.opened);

    let second = run(&mut rows, &fire, &[]);
    assert_eq!(second.reopened, vec![key(DAMPED, ENDPOINT)]);
    assert_eq!(second.pending, 0);
    assert_eq!(rows[0].state, FindingState::Open);
    assert_eq!(rows[0].reopen_count, 1);
    assert_eq!(rows[0].resolved_at, None);
    assert_eq!(rows[0].streak, 2);
}

#[test]
fn pending_that_never_opened_and_clears_is_deleted() {
    let mut rows = vec![
        stored(7, DAMPED, ENDPOINT, FindingState::Pending),
        stored(8, PLAIN, OTHER_ENDPOINT, FindingState::Open),
    ];
    let out = run(&mut rows, &[], &[scope("tls", ENDPOINT, true)]);

    assert_eq!(out.deleted, vec![7]);
    assert!(out.resolved.is_empty(), "it never was a finding");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, Some(8), "the other row stays");
    assert!(untouched(&rows[0]));
}

#[test]
fn pending_that_never_opened_in_an_incomplete_scope_stays() {
    let mut rows = vec![stored(7, DAMPED, ENDPOINT, FindingState::Pending)];
    let out = run(&mut rows, &[], &[scope("tls", ENDPOINT, false)]);

    assert!(out.deleted.is_empty());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, FindingState::Pending);
}

#[test]
fn pending_after_resolution_that_clears_goes_back_to_resolved() {
    let mut row = stored(7, DAMPED, ENDPOINT, FindingState::Pending);
    row.ever_open = true;
    row.resolved_at = Some(EARLIER.to_owned());
    let mut rows = vec![row];
    let out = run(&mut rows, &[], &[scope("tls", ENDPOINT, true)]);

    assert!(out.deleted.is_empty());
    assert!(out.resolved.is_empty(), "it was not open in between");
    let row = &rows[0];
    assert_eq!(row.state, FindingState::Resolved);
    assert_eq!(row.resolved_at.as_deref(), Some(EARLIER), "date unchanged");
    assert_eq!(row.streak, 0);
    assert!(row.now.changed);
    assert_eq!(row.dirty, Dirty::Changed);
}

// --- Accepted risks ---------------------------------------------------------

#[test]
fn open_finding_covered_by_an_acceptance_is_accepted() {
    let until = day(2026, 6, 30);
    let mut rows = vec![stored(7, PLAIN, ENDPOINT, FindingState::Open)];
    let out = accept_today(&mut rows, &[acceptance(PLAIN, Some(ENDPOINT), until)]);

    assert_eq!(out.accepted, vec![key(PLAIN, ENDPOINT)]);
    assert_eq!(rows[0].state, FindingState::Accepted);
    assert!(rows[0].now.changed);
    assert_eq!(rows[0].dirty, Dirty::Changed);
    let [event] = out.audit.as_slice() else {
        panic!("one audit event: {:?}", out.audit)
    };
    assert_eq!(event.action, "accept");
    assert_eq!(
        (event.old, event.new),
        (FindingState::Open, FindingState::Accepted)
    );
    assert_eq!(
        (
            event.supplier.as_str(),
            event.check.as_str(),
            event.target.as_str()
        ),
        (SUPPLIER, PLAIN.as_str(), ENDPOINT)
    );
    assert_eq!(
        event.detail,
        Some(json!({
            "target": ENDPOINT,
            "reason": REASON,
            "approved_by": APPROVER,
            "until": "2026-06-30",
            "target": ENDPOINT,
        }))
    );
}

#[test]
fn accepted_finding_opens_again_the_day_after_until() {
    let until = today();
    let acceptances = [acceptance(PLAIN, Some(ENDPOINT), until)];

    let mut rows = vec![stored(7, PLAIN, ENDPOINT, FindingState::Accepted)];
    let out = accept_on(until, &mut rows, &acceptances);
    assert!(out.audit.is_empty(), "until is the last day it holds");
    assert!(untouched(&rows[0]));

    let after = until.succ_opt().expect("a next day");
    let out = accept_on(after, &mut rows, &acceptances);
    assert_eq!(out.unaccepted, vec![key(PLAIN, ENDPOINT)]);
    assert_eq!(rows[0].state, FindingState::Open);
    let [event] = out.audit.as_slice() else {
        panic!("one audit event: {:?}", out.audit)
    };
    assert_eq!(event.action, "acceptance_expired");
    assert_eq!(
        (event.old, event.new),
        (FindingState::Accepted, FindingState::Open)
    );
    assert_eq!(
        event.detail,
        Some(acceptance_detail(ENDPOINT, Some(&acceptances[0])))
    );
}

#[test]
fn accepted_finding_without_any_acceptance_is_unaccepted() {
    let mut rows = vec![stored(7, PLAIN, ENDPOINT, FindingState::Accepted)];
    let other_check = [acceptance(
        CheckId::TlsWeakKey,
        Some(ENDPOINT),
        day(2026, 6, 30),
    )];
    let out = accept_today(&mut rows, &other_check);

    assert_eq!(out.unaccepted, vec![key(PLAIN, ENDPOINT)]);
    assert_eq!(rows[0].state, FindingState::Open);
    let [event] = out.audit.as_slice() else {
        panic!("one audit event: {:?}", out.audit)
    };
    assert_eq!(event.action, "unaccept");
    assert_eq!(
        event.detail,
        Some(json!({ "target": ENDPOINT })),
        "there is no acceptance to tell of, only the finding's target"
    );
}

#[test]
fn an_acceptance_for_one_target_does_not_cover_another() {
    let mut rows = vec![stored(7, PLAIN, OTHER_ENDPOINT, FindingState::Open)];
    let out = accept_today(
        &mut rows,
        &[acceptance(PLAIN, Some(ENDPOINT), day(2026, 6, 30))],
    );

    assert!(out.accepted.is_empty());
    assert!(out.audit.is_empty());
    assert_eq!(rows[0].state, FindingState::Open);
    assert!(untouched(&rows[0]));
}

#[test]
fn an_acceptance_without_target_covers_every_target_of_its_supplier() {
    let mut elsewhere = stored(9, PLAIN, ENDPOINT, FindingState::Open);
    elsewhere.supplier = OTHER_SUPPLIER.to_owned();
    let mut rows = vec![
        stored(7, PLAIN, ENDPOINT, FindingState::Open),
        stored(8, PLAIN, OTHER_ENDPOINT, FindingState::Open),
        elsewhere,
    ];
    let out = accept_today(&mut rows, &[acceptance(PLAIN, None, day(2026, 6, 30))]);

    assert_eq!(
        out.accepted,
        vec![key(PLAIN, ENDPOINT), key(PLAIN, OTHER_ENDPOINT)]
    );
    assert_eq!(rows[0].state, FindingState::Accepted);
    assert_eq!(rows[1].state, FindingState::Accepted);
    assert_eq!(rows[2].state, FindingState::Open, "another supplier");
    assert_eq!(out.audit.len(), 2);
    assert!(out.audit.iter().all(|e| {
        e.detail
            .as_ref()
            .is_some_and(|d| d["target"] == e.target.as_str())
    }));
}

#[test]
fn resolved_and_pending_findings_are_never_accepted() {
    let mut rows = vec![
        stored(7, PLAIN, ENDPOINT, FindingState::Resolved),
        stored(8, PLAIN, OTHER_ENDPOINT, FindingState::Pending),
    ];
    let out = accept_today(&mut rows, &[acceptance(PLAIN, None, day(2026, 6, 30))]);

    assert!(out.accepted.is_empty());
    assert!(out.audit.is_empty());
    assert_eq!(rows[0].state, FindingState::Resolved);
    assert_eq!(rows[1].state, FindingState::Pending);
    assert!(rows.iter().all(untouched));
}

#[test]
fn a_new_finding_covered_by_an_acceptance_opens_and_is_accepted_in_the_same_run() {
    let policy = LifecyclePolicy::default();
    let acceptances = [acceptance(PLAIN, Some(ENDPOINT), day(2026, 6, 30))];
    let mut rows = Vec::new();
    let out = reconcile(
        &mut rows,
        &[finding(PLAIN, ENDPOINT)],
        &[],
        &lifecycle(today(), &policy, &acceptances),
    );

    assert_eq!(out.opened, vec![key(PLAIN, ENDPOINT)]);
    assert_eq!(out.accepted, vec![key(PLAIN, ENDPOINT)]);
    assert_eq!(rows[0].state, FindingState::Accepted);
    assert!(
        rows[0].now.opened,
        "opened_at is still set: it has been open"
    );
    assert_eq!(out.audit.len(), 1);
}

// --- Retired by the registry --------------------------------------------------

#[test]
fn retire_resolves_an_open_finding_whose_target_was_removed() {
    let mut rows = vec![stored(7, PLAIN, ENDPOINT, FindingState::Open)];
    let mut out = Outcome::default();
    retire(&mut rows, |_| Some(Resolution::TargetRemoved), AT, &mut out);

    assert_eq!(out.resolved, vec![key(PLAIN, ENDPOINT)]);
    let row = &rows[0];
    assert_eq!(row.state, FindingState::Resolved);
    assert_eq!(row.resolved_at.as_deref(), Some(AT));
    assert_eq!(row.streak, 0);
    assert_eq!(
        row.resolution,
        Some(Some("target removed from the registry"))
    );
    assert_eq!(row.dirty, Dirty::Changed);
    let [event] = out.audit.as_slice() else {
        panic!("one audit event: {:?}", out.audit)
    };
    assert_eq!(event.action, "resolve");
    assert_eq!(
        (event.old, event.new),
        (FindingState::Open, FindingState::Resolved)
    );
    assert_eq!(
        event.detail,
        Some(json!({ "target": ENDPOINT, "reason": "target removed from the registry" }))
    );
}

#[test]
fn retire_resolves_an_accepted_finding_of_an_exited_supplier() {
    let mut rows = vec![stored(7, PLAIN, ENDPOINT, FindingState::Accepted)];
    let mut out = Outcome::default();
    retire(
        &mut rows,
        |_| Some(Resolution::SupplierExited),
        AT,
        &mut out,
    );

    assert_eq!(out.resolved, vec![key(PLAIN, ENDPOINT)]);
    assert_eq!(rows[0].state, FindingState::Resolved);
    assert_eq!(rows[0].resolution, Some(Some("supplier exited")));
    let [event] = out.audit.as_slice() else {
        panic!("one audit event: {:?}", out.audit)
    };
    assert_eq!(event.action, "resolve");
    assert_eq!(event.old, FindingState::Accepted);
    assert_eq!(
        event.detail,
        Some(json!({ "target": ENDPOINT, "reason": "supplier exited" }))
    );
}

#[test]
fn retire_deletes_a_pending_finding_that_never_opened() {
    let mut rows = vec![stored(7, DAMPED, ENDPOINT, FindingState::Pending)];
    let mut out = Outcome::default();
    retire(&mut rows, |_| Some(Resolution::TargetRemoved), AT, &mut out);

    assert_eq!(out.deleted, vec![7]);
    assert!(rows.is_empty());
    assert!(out.resolved.is_empty());
    assert!(out.audit.is_empty(), "it never was a finding");
}

#[test]
fn retire_returns_a_pending_finding_to_resolved_without_an_audit_event() {
    let mut row = stored(7, DAMPED, ENDPOINT, FindingState::Pending);
    row.ever_open = true;
    row.resolved_at = Some(EARLIER.to_owned());
    let mut rows = vec![row];
    let mut out = Outcome::default();
    retire(&mut rows, |_| Some(Resolution::TargetRemoved), AT, &mut out);

    assert_eq!(rows[0].state, FindingState::Resolved);
    assert_eq!(rows[0].resolved_at.as_deref(), Some(EARLIER));
    assert!(out.resolved.is_empty());
    assert!(out.audit.is_empty());
    assert!(out.deleted.is_empty());
}

#[test]
fn retire_leaves_resolved_and_unpicked_rows_alone() {
    let mut rows = vec![
        stored(7, PLAIN, ENDPOINT, FindingState::Resolved),
        stored(8, PLAIN, OTHER_ENDPOINT, FindingState::Open),
    ];
    let mut out = Outcome::default();
    retire(
        &mut rows,
        |r| (r.target == ENDPOINT).then_some(Resolution::TargetRemoved),
        AT,
        &mut out,
    );

    assert_eq!(rows[0].state, FindingState::Resolved);
    assert_eq!(rows[0].resolved_at.as_deref(), Some(EARLIER));
    assert_eq!(rows[1].state, FindingState::Open);
    assert_eq!(rows[1].streak, 3);
    assert!(rows.iter().all(untouched));
    assert!(out.resolved.is_empty() && out.audit.is_empty() && out.deleted.is_empty());
}

// --- Marks ----------------------------------------------------------------------

#[test]
fn marks_tell_open_pending_and_accepted() {
    let policy = LifecyclePolicy::default();
    let until = day(2026, 6, 30);
    let acceptances = [acceptance(CheckId::TlsWeakKey, Some(ENDPOINT), until)];
    let lc = lifecycle(today(), &policy, &acceptances);
    let findings = [
        finding(PLAIN, ENDPOINT),
        finding(DAMPED, OTHER_ENDPOINT),
        finding(CheckId::TlsWeakKey, ENDPOINT),
    ];
    let mut rows = vec![stored(9, CheckId::TlsWeakKey, ENDPOINT, FindingState::Open)];
    let out = reconcile(&mut rows, &findings, &[], &lc);
    assert_eq!(out.accepted, vec![key(CheckId::TlsWeakKey, ENDPOINT)]);

    let marks = marks(&rows, &findings, &lc);
    assert_eq!(marks.len(), 3);
    assert_eq!(marks[&key(PLAIN, ENDPOINT)], Mark::Open);
    assert_eq!(
        marks[&key(DAMPED, OTHER_ENDPOINT)],
        Mark::Pending {
            opens_after_runs: 1
        }
    );
    assert_eq!(
        marks[&key(CheckId::TlsWeakKey, ENDPOINT)],
        Mark::Accepted {
            until,
            approved_by: APPROVER.to_owned(),
            reason: REASON.to_owned(),
        }
    );
}

#[test]
fn pending_mark_counts_the_runs_left() {
    let policy = LifecyclePolicy {
        damping_runs: 3,
        ..LifecyclePolicy::default()
    };
    let lc = lifecycle(today(), &policy, &[]);
    let fire = [finding(DAMPED, ENDPOINT)];
    let mut rows = Vec::new();
    reconcile(&mut rows, &fire, &[], &lc);

    assert_eq!(
        marks(&rows, &fire, &lc)[&key(DAMPED, ENDPOINT)],
        Mark::Pending {
            opens_after_runs: 2
        }
    );
}

#[test]
fn mark_notes_read_as_sentences() {
    assert_eq!(Mark::Open.note(), "");
    assert_eq!(
        Mark::Pending {
            opens_after_runs: 1
        }
        .note(),
        "pending: opens after 1 more failing run"
    );
    assert_eq!(
        Mark::Pending {
            opens_after_runs: 2
        }
        .note(),
        "pending: opens after 2 more failing runs"
    );
    assert_eq!(
        Mark::Accepted {
            until: day(2026, 6, 30),
            approved_by: APPROVER.to_owned(),
            reason: REASON.to_owned(),
        }
        .note(),
        "accepted until 2026-06-30 by ciso@bank.example"
    );
}

// --- Scores -----------------------------------------------------------------------

#[test]
fn scores_count_only_open_findings() {
    use crate::checks::score::Grade;

    let mut high = stored(7, PLAIN, ENDPOINT, FindingState::Open);
    high.severity = Severity::High;
    let mut critical_pending = stored(8, DAMPED, ENDPOINT, FindingState::Pending);
    critical_pending.severity = Severity::Critical;
    let mut critical_accepted = stored(9, CheckId::TlsWeakKey, ENDPOINT, FindingState::Accepted);
    critical_accepted.severity = Severity::Critical;
    let mut critical_resolved = stored(10, CheckId::TlsRevoked, ENDPOINT, FindingState::Resolved);
    critical_resolved.severity = Severity::Critical;
    let rows = [high, critical_pending, critical_accepted, critical_resolved];

    assert_eq!(
        scores(&rows, [SUPPLIER]),
        vec![(SUPPLIER.to_owned(), 80, Grade::C)],
        "one open high: 100 - 20, capped at C"
    );
}

#[test]
fn scores_list_every_supplier_asked_for() {
    use crate::checks::score::Grade;

    let mut accepted = stored(7, PLAIN, ENDPOINT, FindingState::Accepted);
    accepted.severity = Severity::High;
    let rows = [accepted];

    assert_eq!(
        scores(&rows, [SUPPLIER, OTHER_SUPPLIER]),
        vec![
            (SUPPLIER.to_owned(), 100, Grade::A),
            (OTHER_SUPPLIER.to_owned(), 100, Grade::A),
        ],
        "nothing open, and no rows at all, both score 100"
    );
    assert!(
        scores(&rows, std::iter::empty()).is_empty(),
        "only the suppliers asked for"
    );
}
