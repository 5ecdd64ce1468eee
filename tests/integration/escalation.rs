//! The e-mail escalation policy (`src/escalate.rs`) through the store, on a
//! fixed clock: runs built by hand and recorded with an [`Escalation`]
//! notifier, then the outbox rows they queued read back. Grouping per
//! supplier, CISO escalation after the delay, critical repeats, resolution
//! notices in the same thread, accepted risks, reopened findings, "blind,
//! not broken", questionnaire reminders, header safety of the built
//! messages, and idempotent queueing.

// Escalation stories read best as one test each, step after step.
#![allow(clippy::too_many_lines)]

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::json;
use supplywatch::checks::{Finding, Scope, Severity};
use supplywatch::config::Config;
use supplywatch::escalate::{Escalation, RunHealth};
use supplywatch::mail::Mailer;
use supplywatch::store::{
    FindingFilter, FindingState, LifecyclePolicy, NewNotice, NewQuestionnaire, OutboxRow, Outgoing,
    RunInput, Store,
};

use crate::support::{day, parse};

const RISK: &str = "risk@bank.example";
const RISK2: &str = "second.risk@bank.example";
const CISO: &str = "ciso@bank.example";

const PORTAL: &str = "portal.acme.example:443";
const API: &str = "api.acme.example:8443";
const GLOBEX_DOMAIN: &str = "globex.example";
const GLOBEX_WEB: &str = "www.globex.example:443";

/// Families every run covers completely, for every supplier: what does not
/// fire in a run resolves.
const FAMILIES: [&str; 4] = ["tls", "http", "dns", "certification"];

/// Three standard suppliers and one critical one.
const SUPPLIERS: &str = r#"
[[supplier]]
id = "acme"
name = "Acme Cloud"
criticality = "standard"
security_contact = "security@acme.example"
domains = ["acme.example"]
endpoints = ["portal.acme.example", "api.acme.example:8443"]

[[supplier]]
id = "globex"
name = "Globex Mail"
criticality = "standard"
domains = ["globex.example"]
endpoints = ["www.globex.example"]

[[supplier]]
id = "initech"
name = "Initech Payroll"
criticality = "important"
endpoints = ["payroll.initech.example"]

[[supplier]]
id = "crit"
name = "Crit Core Banking"
criticality = "critical"
endpoints = ["core.crit.example"]
"#;

/// A config with two risk managers and a CISO; `extra` goes between the
/// contacts and the suppliers (`[escalation]`, `[questionnaires]`, …),
/// `after` after the suppliers (`[[accept]]`).
fn config(extra: &str, after: &str) -> Config {
    let text = format!(
        "[daemon]\ntimezone = \"UTC\"\n\n[email]\ntransport = \"file\"\nfrom = \"watch@bank.example\"\n\n\
         [contacts]\nrisk_manager = [\"{RISK}\", \"{RISK2}\"]\nciso = [\"{CISO}\"]\n\n{extra}\n{SUPPLIERS}\n{after}\n"
    );
    match parse(&text) {
        Ok(config) => config,
        Err(e) => panic!("config should be valid: {e}\n--- config ---\n{text}"),
    }
}

/// `n` days after 2026-03-01 noon UTC.
fn at(n: i64) -> DateTime<Utc> {
    day(1) + Duration::days(n)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn finding(check: &'static str, target: &str, severity: Severity) -> Finding {
    Finding {
        check: check.parse().unwrap(),
        severity,
        target: target.to_owned(),
        summary: format!("{check} fired"),
        evidence: json!({ "target": target }),
    }
}

/// A run in which every probe succeeded.
const HEALTHY: Option<RunHealth> = Some(RunHealth {
    probed: 10,
    failed: 0,
    suppliers: 0,
    failed_suppliers: 0,
});

/// A store, a config and the outbox rows already looked at.
struct Desk {
    config: Config,
    store: Store,
    /// The highest outbox row id returned so far.
    seen: i64,
    /// Flap damping of the runs (1: none).
    damping_runs: u32,
}

impl Desk {
    async fn new(config: Config) -> Self {
        let store = Store::open_in_memory().await.unwrap();
        store
            .sync(
                &config.suppliers,
                &supplywatch::pipeline::registry_policy(&config),
                "test",
                at(-1),
            )
            .await
            .unwrap();
        Self {
            config,
            store,
            seen: 0,
            damping_runs: 1,
        }
    }

    /// Records a run at `when` with complete scopes for every supplier and
    /// `findings`, escalating with `health`; returns the rows it queued.
    async fn run(
        &mut self,
        when: DateTime<Utc>,
        findings: &[(&str, Finding)],
        health: Option<RunHealth>,
    ) -> Vec<OutboxRow> {
        let scopes = self
            .config
            .suppliers
            .iter()
            .flat_map(|s| {
                FAMILIES.iter().map(|family| Scope {
                    supplier: s.id.to_string(),
                    target: Scope::ANY_TARGET.to_owned(),
                    family,
                    complete: true,
                })
            })
            .collect();
        let input = RunInput {
            suppliers: Vec::new(),
            blind: None,
            at: when,
            source: "daemon".to_owned(),
            scopes,
            findings: findings
                .iter()
                .map(|(s, f)| ((*s).to_owned(), f.clone()))
                .collect(),
            observations: Vec::new(),
        };
        let policy = LifecyclePolicy {
            damping_runs: self.damping_runs,
            ..LifecyclePolicy::default()
        };
        let escalation = Escalation::new(&self.config, health, when);
        let report = self
            .store
            .record_run_with(&input, &self.config.acceptances, &policy, Some(&escalation))
            .await
            .unwrap();
        let rows = self.fresh().await;
        assert_eq!(report.queued, rows.len(), "RunReport::queued");
        rows
    }

    /// The daemon's own pass (no run) at `when`; returns the rows it queued.
    async fn notify(&mut self, when: DateTime<Utc>) -> Vec<OutboxRow> {
        let escalation = Escalation::new(&self.config, None, when);
        let queued = self.store.notify(when, &escalation).await.unwrap();
        let rows = self.fresh().await;
        assert_eq!(queued, rows.len(), "Store::notify's count");
        rows
    }

    /// Outbox rows not returned before.
    async fn fresh(&mut self) -> Vec<OutboxRow> {
        let rows: Vec<OutboxRow> = self
            .store
            .outbox()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.id > self.seen)
            .collect();
        if let Some(last) = rows.iter().map(|r| r.id).max() {
            self.seen = last;
        }
        rows
    }
}

/// (kind, supplier, recipient) of each row, sorted.
fn summary(rows: &[OutboxRow]) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.kind.clone(),
                r.supplier.clone().unwrap_or_default(),
                r.recipient.clone(),
            )
        })
        .collect();
    out.sort();
    out
}

fn triple(kind: &str, supplier: &str, recipient: &str) -> (String, String, String) {
    (kind.to_owned(), supplier.to_owned(), recipient.to_owned())
}

/// The rows of one message (one message id), which must agree on
/// everything but the recipient.
#[track_caller]
fn one_message<'a>(rows: &'a [OutboxRow], kind: &str, supplier: Option<&str>) -> &'a OutboxRow {
    let of: Vec<&OutboxRow> = rows
        .iter()
        .filter(|r| r.kind == kind && r.supplier.as_deref() == supplier)
        .collect();
    let first = *of
        .first()
        .unwrap_or_else(|| panic!("no {kind} message for {supplier:?} in {rows:#?}"));
    for r in &of {
        assert_eq!(
            (
                &r.message_id,
                &r.subject,
                &r.text,
                &r.html,
                &r.in_reply_to,
                &r.references
            ),
            (
                &first.message_id,
                &first.subject,
                &first.text,
                &first.html,
                &first.in_reply_to,
                &first.references
            ),
            "the rows of one {kind} message differ"
        );
    }
    first
}

fn thread(supplier: &str) -> String {
    format!("<thread.{supplier}@bank.example>")
}

#[tokio::test]
async fn new_findings_are_grouped_per_supplier_worst_first() {
    let mut desk = Desk::new(config("", "")).await;
    let findings = [
        ("acme", finding("tls.cert_expired", PORTAL, Severity::High)),
        (
            "acme",
            finding("tls.hostname_mismatch", API, Severity::Critical),
        ),
        (
            "globex",
            finding("dns.dnssec_missing", GLOBEX_DOMAIN, Severity::High),
        ),
        (
            "globex",
            finding("http.hsts_missing", GLOBEX_WEB, Severity::Medium),
        ),
        (
            "initech",
            finding(
                "http.csp_missing",
                "payroll.initech.example:443",
                Severity::Medium,
            ),
        ),
    ];
    let rows = desk.run(at(0), &findings, None).await;
    assert_eq!(
        summary(&rows),
        [
            triple("alert", "acme", RISK),
            triple("alert", "acme", RISK2),
            triple("alert", "globex", RISK),
            triple("alert", "globex", RISK2),
        ],
        "one alert per supplier per risk manager, none for a medium finding alone"
    );

    let acme = one_message(&rows, "alert", Some("acme"));
    assert_eq!(acme.subject, "[supplywatch] Acme Cloud (acme)");
    assert_eq!(
        acme.text,
        "2 new findings at high or critical for Acme Cloud (acme):\n\n\
         - CRITICAL tls.hostname_mismatch on api.acme.example:8443: tls.hostname_mismatch fired\n  What it means: The certificate is for a different name than the service uses.\n\
         - HIGH tls.cert_expired on portal.acme.example:443: tls.cert_expired fired\n  What it means: Their website certificate has expired: browsers and systems will refuse or warn.\n\n\
         See `supplywatch supplier show acme` for the whole file.\n"
    );
    assert!(
        acme.message_id.starts_with("<alert.acme.")
            && acme.message_id.ends_with(".20260301T120000Z@bank.example>"),
        "{}",
        acme.message_id
    );
    assert_eq!(acme.in_reply_to.as_deref(), Some(thread("acme").as_str()));
    assert_eq!(acme.references, [thread("acme")]);
    assert_eq!(acme.created_at, at(0));
    assert_eq!(acme.state, "queued");
    let html = acme.html.as_deref().unwrap();
    let critical = html.find("tls.hostname_mismatch").unwrap();
    let high = html.find("tls.cert_expired").unwrap();
    assert!(critical < high, "worst first in the HTML too: {html}");
    assert!(
        html.contains(
            "What it means: The certificate is for a different name than the service uses."
        ),
        "{html}"
    );

    let globex = one_message(&rows, "alert", Some("globex"));
    assert_eq!(globex.subject, "[supplywatch] Globex Mail (globex)");
    assert_eq!(
        globex.text,
        "1 new finding at high or critical for Globex Mail (globex):\n\n\
         - HIGH dns.dnssec_missing on globex.example: dns.dnssec_missing fired\n  What it means: Their domain is not signed, so its answers could be forged.\n\n\
         See `supplywatch supplier show globex` for the whole file.\n"
    );
    assert!(!globex.text.contains("hsts"), "medium waits for the digest");
    assert_ne!(acme.message_id, globex.message_id);

    // The same findings again: nothing is news.
    assert!(
        desk.run(at(0) + Duration::hours(1), &findings, None)
            .await
            .is_empty()
    );
    assert!(desk.run(at(1), &findings, None).await.is_empty());
    assert!(desk.notify(at(1) + Duration::hours(1)).await.is_empty());
}

#[tokio::test]
async fn open_findings_go_to_the_ciso_after_the_delay_with_their_history() {
    let high = [("acme", finding("tls.cert_expired", PORTAL, Severity::High))];
    let mut desk = Desk::new(config("", "")).await;
    let alert = desk.run(at(0), &high, None).await;
    assert_eq!(
        summary(&alert),
        [
            triple("alert", "acme", RISK),
            triple("alert", "acme", RISK2)
        ]
    );
    let alert_id = alert[0].message_id.clone();

    assert!(desk.run(at(6), &high, None).await.is_empty());
    assert!(
        desk.run(at(7) - Duration::minutes(31), &high, None)
            .await
            .is_empty(),
        "6 days 23:59 is not 7 days"
    );
    let rows = desk.run(at(7), &high, None).await;
    assert_eq!(summary(&rows), [triple("escalation", "acme", CISO)]);
    let esc = &rows[0];
    assert_eq!(esc.subject, "[supplywatch] Acme Cloud (acme)");
    assert!(
        esc.message_id.starts_with("<escalation.acme.")
            && esc.message_id.ends_with(".20260308T120000Z@bank.example>"),
        "{}",
        esc.message_id
    );
    assert_eq!(esc.in_reply_to.as_deref(), Some(alert_id.as_str()));
    assert_eq!(esc.references, [thread("acme"), alert_id.clone()]);
    assert!(
        esc.text.contains("still open past the escalation delay:"),
        "{}",
        esc.text
    );
    assert!(
        esc.text.contains(
            "- HIGH tls.cert_expired on portal.acme.example:443: tls.cert_expired fired\n  What it means: Their website certificate has expired: browsers and systems will refuse or warn.\n  \
             first seen 2026-03-01; open since 2026-03-01 12:00 UTC; \
             alert sent 2026-03-01 to risk@bank.example, second.risk@bank.example\n"
        ),
        "{}",
        esc.text
    );
    // Once.
    assert!(desk.run(at(8), &high, None).await.is_empty());
    assert!(desk.notify(at(10)).await.is_empty());

    // A critical supplier escalates after 2 days.
    let crit = [(
        "crit",
        finding("tls.cert_expired", "core.crit.example:443", Severity::High),
    )];
    let mut desk = Desk::new(config("", "")).await;
    assert_eq!(desk.run(at(0), &crit, None).await.len(), 2);
    assert!(desk.run(at(1), &crit, None).await.is_empty());
    assert!(
        desk.run(at(2) - Duration::minutes(31), &crit, None)
            .await
            .is_empty()
    );
    assert_eq!(
        summary(&desk.run(at(2), &crit, None).await),
        [triple("escalation", "crit", CISO)]
    );

    // Custom delays.
    let custom = config(
        "[escalation]\nciso_after_days = 3\nciso_after_days_critical = 1\n",
        "",
    );
    let both = [high[0].clone(), crit[0].clone()];
    let mut desk = Desk::new(custom).await;
    assert_eq!(desk.run(at(0), &both, None).await.len(), 4);
    assert!(
        desk.run(at(1) - Duration::minutes(31), &both, None)
            .await
            .is_empty()
    );
    assert_eq!(
        summary(&desk.run(at(1), &both, None).await),
        [triple("escalation", "crit", CISO)]
    );
    assert!(desk.run(at(2), &both, None).await.is_empty());
    assert!(
        desk.run(at(3) - Duration::minutes(31), &both, None)
            .await
            .is_empty()
    );
    assert_eq!(
        summary(&desk.run(at(3), &both, None).await),
        [triple("escalation", "acme", CISO)]
    );
    assert!(desk.run(at(7), &both, None).await.is_empty());
}

/// The wording of a one-finding escalation's first line.
#[tokio::test]
async fn a_single_escalation_reads_well() {
    let high = [("acme", finding("tls.cert_expired", PORTAL, Severity::High))];
    let mut desk = Desk::new(config("", "")).await;
    desk.run(at(0), &high, None).await;
    let rows = desk.run(at(7), &high, None).await;
    assert!(
        rows[0].text.starts_with(
            "Escalation: 1 finding of Acme Cloud (acme) is still open past the escalation delay:\n"
        ),
        "{}",
        rows[0].text
    );
}

#[tokio::test]
async fn critical_findings_are_repeated_every_week_not_every_run() {
    // No CISO escalation in the way: the delay is longer than the test.
    let mut desk = Desk::new(config("[escalation]\nciso_after_days = 30\n", "")).await;
    let findings = [
        (
            "acme",
            finding("tls.hostname_mismatch", API, Severity::Critical),
        ),
        ("acme", finding("tls.cert_expired", PORTAL, Severity::High)),
    ];
    let alert = desk.run(at(0), &findings, None).await;
    assert_eq!(alert.len(), 2);
    let alert_id = alert[0].message_id.clone();
    for n in 1..=6 {
        assert!(desk.run(at(n), &findings, None).await.is_empty(), "day {n}");
    }
    assert!(
        desk.run(at(7) - Duration::minutes(31), &findings, None)
            .await
            .is_empty()
    );
    let rows = desk.run(at(7), &findings, None).await;
    assert_eq!(
        summary(&rows),
        [
            triple("repeat", "acme", RISK),
            triple("repeat", "acme", RISK2)
        ]
    );
    let repeat = one_message(&rows, "repeat", Some("acme"));
    assert_eq!(repeat.subject, "[supplywatch] Acme Cloud (acme)");
    assert_eq!(
        repeat.text,
        "Still open: 1 critical finding of Acme Cloud (acme):\n\n\
         - CRITICAL tls.hostname_mismatch on api.acme.example:8443: tls.hostname_mismatch fired\n  What it means: The certificate is for a different name than the service uses.\n  \
         first seen 2026-03-01; open since 2026-03-01 12:00 UTC; \
         alert sent 2026-03-01 to risk@bank.example, second.risk@bank.example\n\n\
         See `supplywatch supplier show acme` for the whole file.\n",
        "only the critical finding is repeated"
    );
    assert_eq!(repeat.in_reply_to.as_deref(), Some(alert_id.as_str()));
    assert_eq!(repeat.references, [thread("acme"), alert_id]);
    let repeat_id = repeat.message_id.clone();
    for n in 8..=13 {
        assert!(desk.run(at(n), &findings, None).await.is_empty(), "day {n}");
    }
    let rows = desk.run(at(14), &findings, None).await;
    assert_eq!(
        summary(&rows),
        [
            triple("repeat", "acme", RISK),
            triple("repeat", "acme", RISK2)
        ]
    );
    assert_eq!(rows[0].in_reply_to.as_deref(), Some(repeat_id.as_str()));
    assert!(
        rows[0].text.contains(
            "alert sent 2026-03-01 to risk@bank.example, second.risk@bank.example; \
             repeat sent 2026-03-08 to risk@bank.example, second.risk@bank.example\n"
        ),
        "{}",
        rows[0].text
    );

    // Escalated (a critical supplier: after 2 days), the repeat counts from
    // the escalation and goes to the CISO too.
    let mut desk = Desk::new(config("", "")).await;
    let crit = [(
        "crit",
        finding(
            "tls.cert_expired",
            "core.crit.example:443",
            Severity::Critical,
        ),
    )];
    assert_eq!(desk.run(at(0), &crit, None).await.len(), 2);
    assert_eq!(
        summary(&desk.run(at(2), &crit, None).await),
        [triple("escalation", "crit", CISO)]
    );
    for n in 3..=8 {
        assert!(desk.run(at(n), &crit, None).await.is_empty(), "day {n}");
    }
    assert_eq!(
        summary(&desk.run(at(9), &crit, None).await),
        [
            triple("repeat", "crit", CISO),
            triple("repeat", "crit", RISK),
            triple("repeat", "crit", RISK2),
        ]
    );
}

#[tokio::test]
async fn resolutions_are_told_in_the_same_thread_to_whoever_was_told() {
    let high = [("acme", finding("tls.cert_expired", PORTAL, Severity::High))];

    // Told to the risk managers only.
    let mut desk = Desk::new(config("", "")).await;
    let alert_id = desk.run(at(0), &high, None).await[0].message_id.clone();
    let when = at(3) + Duration::hours(3);
    let rows = desk.run(when, &[], None).await;
    assert_eq!(
        summary(&rows),
        [
            triple("resolved", "acme", RISK),
            triple("resolved", "acme", RISK2)
        ]
    );
    let resolved = one_message(&rows, "resolved", Some("acme"));
    assert_eq!(resolved.subject, "[supplywatch] Acme Cloud (acme)");
    assert!(resolved.message_id.starts_with("<resolved.acme."));
    assert_eq!(resolved.in_reply_to.as_deref(), Some(alert_id.as_str()));
    assert_eq!(resolved.references, [thread("acme"), alert_id]);
    assert_eq!(
        resolved.text,
        "Resolved: 1 finding of Acme Cloud (acme) no longer fires:\n\n\
         - HIGH tls.cert_expired on portal.acme.example:443: tls.cert_expired fired\n  What it means: Their website certificate has expired: browsers and systems will refuse or warn.\n  \
         lasted 3 days 3 hours\n\n\
         See `supplywatch supplier show acme` for the whole file.\n"
    );
    // Once.
    assert!(desk.run(at(4), &[], None).await.is_empty());
    assert!(desk.notify(at(5)).await.is_empty());

    // Escalated: the CISO hears too, in reply to the escalation.
    let mut desk = Desk::new(config("", "")).await;
    desk.run(at(0), &high, None).await;
    let esc_id = desk.run(at(7), &high, None).await[0].message_id.clone();
    let rows = desk.run(at(8), &[], None).await;
    assert_eq!(
        summary(&rows),
        [
            triple("resolved", "acme", CISO),
            triple("resolved", "acme", RISK),
            triple("resolved", "acme", RISK2),
        ]
    );
    let resolved = one_message(&rows, "resolved", Some("acme"));
    assert_eq!(resolved.in_reply_to.as_deref(), Some(esc_id.as_str()));
    assert_eq!(resolved.references.first(), Some(&thread("acme")));
    assert_eq!(resolved.references.last(), Some(&esc_id));
    assert!(
        resolved.text.contains("  lasted 8 days\n"),
        "{}",
        resolved.text
    );

    // resolution_notices = false: silence.
    let mut desk = Desk::new(config("[escalation]\nresolution_notices = false\n", "")).await;
    assert_eq!(desk.run(at(0), &high, None).await.len(), 2);
    assert!(desk.run(at(1), &[], None).await.is_empty());
    let f = desk
        .store
        .findings(&FindingFilter::default())
        .await
        .unwrap();
    assert_eq!(f[0].state, FindingState::Resolved);

    // A medium finding was never told of: its resolution is no news.
    let mut desk = Desk::new(config("", "")).await;
    let medium = [(
        "acme",
        finding("http.hsts_missing", PORTAL, Severity::Medium),
    )];
    assert!(desk.run(at(0), &medium, None).await.is_empty());
    assert!(desk.run(at(1), &[], None).await.is_empty());
    let f = desk
        .store
        .findings(&FindingFilter::default())
        .await
        .unwrap();
    assert_eq!(f[0].state, FindingState::Resolved);
}

/// A finding told of that a run without a notifier resolves (`check
/// --save`, `obligations`, the obligations run after `questionnaire
/// answer`): the next run that escalates still owes the resolution notice.
#[tokio::test]
async fn a_resolution_recorded_without_a_notifier_is_still_told() {
    // A probe finding resolved by `check --save`.
    let high = [("acme", finding("tls.cert_expired", PORTAL, Severity::High))];
    let mut desk = Desk::new(config("", "")).await;
    assert_eq!(desk.run(at(0), &high, None).await.len(), 2);
    let scopes = FAMILIES
        .iter()
        .map(|family| Scope {
            supplier: "acme".to_owned(),
            target: Scope::ANY_TARGET.to_owned(),
            family,
            complete: true,
        })
        .collect();
    let report = desk
        .store
        .record_run(
            &RunInput {
                suppliers: Vec::new(),
                blind: None,
                at: at(1),
                source: "check --save".to_owned(),
                scopes,
                findings: Vec::new(),
                observations: Vec::new(),
            },
            &[],
            &LifecyclePolicy::default(),
        )
        .await
        .unwrap();
    assert_eq!(report.resolved.len(), 1);
    let rows = desk.run(at(1) + Duration::hours(1), &[], HEALTHY).await;
    assert_eq!(
        summary(&rows),
        [
            triple("resolved", "acme", RISK),
            triple("resolved", "acme", RISK2)
        ]
    );
}

/// The daemon's obligations job at `when`, escalating.
async fn daemon_obligations(desk: &Desk, when: DateTime<Utc>) {
    let escalation = Escalation::new(&desk.config, None, when);
    supplywatch::pipeline::run_obligations_with(
        &desk.store,
        &desk.config,
        when,
        "daemon",
        Some(&escalation),
    )
    .await
    .unwrap();
}

/// The same through the paperwork: an overdue questionnaire alerted by the
/// daemon, answered on the command line.
#[tokio::test]
async fn an_answered_overdue_questionnaire_is_told_resolved() {
    let mut desk = questionnaire_desk("", None).await;
    daemon_obligations(&desk, march(21)).await;
    let alerts = desk.fresh().await;
    assert!(
        alerts
            .iter()
            .any(|r| r.kind == "alert" && r.text.contains("questionnaire.overdue")),
        "{alerts:#?}"
    );
    desk.store
        .questionnaire_answer("acme", date(2026, 3, 22), None, march(22), "cli")
        .await
        .unwrap();
    let (_, report) = supplywatch::pipeline::run_obligations(
        &desk.store,
        &desk.config,
        march(22),
        "questionnaire",
    )
    .await
    .unwrap();
    assert_eq!(report.resolved.len(), 1, "{report:?}");
    daemon_obligations(&desk, march(23)).await;
    let rows = desk.fresh().await;
    assert!(
        rows.iter()
            .any(|r| r.kind == "resolved" && r.text.contains("questionnaire.overdue")),
        "{rows:#?}"
    );
}

#[tokio::test]
async fn accepted_risks_are_never_escalated() {
    let accept = "[[accept]]\nsupplier = \"acme\"\ncheck = \"tls.cert_expired\"\n\
                  target = \"portal.acme.example:443\"\nuntil = 2026-12-31\n\
                  reason = \"replacement ordered\"\napproved_by = \"ciso@bank.example\"\n";
    let mut desk = Desk::new(config("", accept)).await;
    let findings = [
        (
            "acme",
            finding("tls.cert_expired", PORTAL, Severity::Critical),
        ),
        ("acme", finding("tls.cert_expired", API, Severity::High)),
    ];
    let rows = desk.run(at(0), &findings, None).await;
    assert_eq!(
        summary(&rows),
        [
            triple("alert", "acme", RISK),
            triple("alert", "acme", RISK2)
        ]
    );
    let alert = one_message(&rows, "alert", Some("acme"));
    assert!(
        alert.text.starts_with("1 new finding at high or critical")
            && alert.text.contains(API)
            && !alert.text.contains(PORTAL),
        "only the finding not accepted: {}",
        alert.text
    );
    let state = |findings: &[supplywatch::store::StoredFinding]| {
        findings
            .iter()
            .find(|f| f.target == PORTAL)
            .map(|f| f.state)
    };
    let stored = desk
        .store
        .findings(&FindingFilter::default())
        .await
        .unwrap();
    assert_eq!(state(&stored), Some(FindingState::Accepted));

    // Later: the open one escalates and is repeated; the accepted one never.
    let rows = desk.run(at(7), &findings, None).await;
    assert_eq!(summary(&rows), [triple("escalation", "acme", CISO)]);
    assert!(!rows[0].text.contains(PORTAL), "{}", rows[0].text);
    for n in [8, 14, 21, 28] {
        assert!(desk.run(at(n), &findings, None).await.is_empty(), "day {n}");
    }
    let only_accepted = [findings[0].clone()];
    // The open one resolves (told); the accepted one stays silent.
    let rows = desk.run(at(29), &only_accepted, None).await;
    assert!(
        rows.iter()
            .all(|r| r.kind == "resolved" && !r.text.contains(PORTAL)),
        "{rows:#?}"
    );
    assert!(desk.run(at(40), &only_accepted, None).await.is_empty());

    // Alerted first, accepted afterwards: no escalation, no repeat.
    let mut desk = Desk::new(config("", "")).await;
    let critical = [findings[0].clone()];
    assert_eq!(desk.run(at(0), &critical, None).await.len(), 2);
    desk.config = config("", accept);
    // Those alerted hear that it is accepted, once; nothing after.
    let rows = desk.run(at(1), &critical, None).await;
    assert_eq!(
        summary(&rows),
        [
            triple("accepted", "acme", RISK),
            triple("accepted", "acme", RISK2)
        ]
    );
    let stored = desk
        .store
        .findings(&FindingFilter::default())
        .await
        .unwrap();
    assert_eq!(state(&stored), Some(FindingState::Accepted));
    for n in [7, 8, 14, 21] {
        assert!(desk.run(at(n), &critical, None).await.is_empty(), "day {n}");
    }
}

#[tokio::test]
async fn pending_findings_are_not_alerted_until_they_open() {
    let mut desk = Desk::new(config("", "")).await;
    desk.damping_runs = 2;
    let down = [(
        "acme",
        finding("tls.unreachable", PORTAL, Severity::Critical),
    )];
    assert!(desk.run(at(0), &down, None).await.is_empty(), "pending");
    let stored = desk
        .store
        .findings(&FindingFilter::default())
        .await
        .unwrap();
    assert_eq!(stored[0].state, FindingState::Pending);
    let rows = desk.run(at(0) + Duration::hours(1), &down, None).await;
    assert_eq!(
        summary(&rows),
        [
            triple("alert", "acme", RISK),
            triple("alert", "acme", RISK2)
        ]
    );
    // Resolved, then firing once again: pending, not alerted.
    assert_eq!(desk.run(at(1), &[], None).await.len(), 2, "resolved");
    assert!(
        desk.run(at(2), &down, None).await.is_empty(),
        "pending again"
    );
    assert!(
        desk.run(at(9), &[], None).await.is_empty(),
        "never open: no news"
    );
}

#[tokio::test]
async fn a_reopened_finding_is_alerted_again() {
    let high = [("acme", finding("tls.cert_expired", PORTAL, Severity::High))];
    let mut desk = Desk::new(config("", "")).await;
    let first = desk.run(at(0), &high, None).await;
    assert_eq!(first.len(), 2);
    assert_eq!(
        summary(&desk.run(at(1), &[], None).await),
        [
            triple("resolved", "acme", RISK),
            triple("resolved", "acme", RISK2)
        ]
    );
    let rows = desk.run(at(2), &high, None).await;
    assert_eq!(
        summary(&rows),
        [
            triple("alert", "acme", RISK),
            triple("alert", "acme", RISK2)
        ]
    );
    let again = one_message(&rows, "alert", Some("acme"));
    assert_ne!(again.message_id, first[0].message_id);
    assert!(
        again
            .text
            .starts_with("1 finding at high or critical for Acme Cloud (acme):")
            && again.text.contains("reopened (was resolved on 2026-03-02)"),
        "{}",
        again.text
    );
    // A new period: the thread root, not the old period's notices.
    assert_eq!(again.in_reply_to.as_deref(), Some(thread("acme").as_str()));

    // The escalation delay counts from the reopening; the history is of
    // this period.
    assert!(
        desk.run(at(9) - Duration::minutes(31), &high, None)
            .await
            .is_empty()
    );
    let rows = desk.run(at(9), &high, None).await;
    assert_eq!(summary(&rows), [triple("escalation", "acme", CISO)]);
    assert!(
        rows[0].text.contains(
            "  first seen 2026-03-01; open since 2026-03-03 12:00 UTC; reopened 1×; \
             alert sent 2026-03-03 to risk@bank.example, second.risk@bank.example\n"
        ),
        "{}",
        rows[0].text
    );
    assert_eq!(
        rows[0].in_reply_to.as_deref(),
        Some(again.message_id.as_str())
    );
}

#[tokio::test]
async fn a_blind_monitor_holds_probe_alerts_and_says_so_once() {
    let blind = Some(RunHealth {
        probed: 10,
        failed: 8,
        suppliers: 0,
        failed_suppliers: 0,
    });
    let findings = [
        ("acme", finding("tls.cert_expired", PORTAL, Severity::High)),
        (
            "acme",
            finding("certification.expired", "ISO 27001", Severity::High),
        ),
        (
            "globex",
            finding("dns.dnssec_missing", GLOBEX_DOMAIN, Severity::High),
        ),
        (
            "globex",
            finding("http.hsts_missing", GLOBEX_WEB, Severity::Critical),
        ),
    ];
    let mut desk = Desk::new(config("", "")).await;
    let rows = desk.run(at(0), &findings, blind).await;
    assert_eq!(
        summary(&rows),
        [
            triple("alert", "acme", RISK),
            triple("alert", "acme", RISK2),
            triple("blind", "", RISK),
            triple("blind", "", RISK2),
        ]
    );
    let notice = one_message(&rows, "blind", None);
    assert_eq!(
        notice.subject,
        "[supplywatch] monitor cannot see: probes failing"
    );
    assert!(
        notice.text.starts_with(
            "supplywatch cannot see: 8 of 10 probes failed in the run at 2026-03-01 12:00 UTC."
        ),
        "{}",
        notice.text
    );
    assert_eq!(notice.in_reply_to, None);
    assert!(notice.references.is_empty());
    let blind_id = notice.message_id.clone();
    assert!(
        blind_id.starts_with("<blind.monitor.20260301T120000Z@"),
        "{blind_id}"
    );
    let paperwork = one_message(&rows, "alert", Some("acme"));
    assert!(
        paperwork.text.contains("certification.expired") && !paperwork.text.contains("tls."),
        "paperwork is not held, probe findings are: {}",
        paperwork.text
    );

    // Still blind: no second notice, still held.
    assert!(
        desk.run(at(0) + Duration::hours(1), &findings, blind)
            .await
            .is_empty()
    );
    // A run that says nothing of health (obligations, the daemon's pass)
    // keeps holding.
    assert!(desk.notify(at(0) + Duration::hours(2)).await.is_empty());

    // Sighted: one notice, and the held alerts follow.
    let rows = desk
        .run(at(0) + Duration::hours(3), &findings, HEALTHY)
        .await;
    assert_eq!(
        summary(&rows),
        [
            triple("alert", "acme", RISK),
            triple("alert", "acme", RISK2),
            triple("alert", "globex", RISK),
            triple("alert", "globex", RISK2),
            triple("sighted", "", RISK),
            triple("sighted", "", RISK2),
        ]
    );
    let sighted = one_message(&rows, "sighted", None);
    assert_eq!(sighted.subject, "[supplywatch] monitor can see again");
    assert_eq!(sighted.in_reply_to.as_deref(), Some(blind_id.as_str()));
    assert_eq!(sighted.references, [blind_id]);
    assert!(
        sighted
            .text
            .starts_with("supplywatch can see again: 0 of 10 probes failed"),
        "{}",
        sighted.text
    );
    let acme = one_message(&rows, "alert", Some("acme"));
    assert!(
        acme.text
            .starts_with("1 new finding at high or critical for Acme Cloud (acme):")
            && acme.text.contains("tls.cert_expired")
            && !acme.text.contains("certification.expired"),
        "{}",
        acme.text
    );
    let globex = one_message(&rows, "alert", Some("globex"));
    let critical = globex.text.find("CRITICAL http.hsts_missing").unwrap();
    let high = globex.text.find("HIGH dns.dnssec_missing").unwrap();
    assert!(critical < high, "{}", globex.text);

    // Healthy again: nothing more.
    assert!(
        desk.run(at(0) + Duration::hours(4), &findings, HEALTHY)
            .await
            .is_empty()
    );

    // Blind a second time: a second notice, replying to the sighted one.
    let rows = desk.run(at(1), &findings, blind).await;
    assert_eq!(
        summary(&rows),
        [triple("blind", "", RISK), triple("blind", "", RISK2)]
    );
    assert_eq!(
        rows[0].in_reply_to.as_deref(),
        Some(sighted.message_id.as_str())
    );
}

#[tokio::test]
async fn failures_concentrated_on_few_suppliers_are_theirs_not_blindness() {
    // 4 of 14 suppliers whose domains time out, each with many scopes: most
    // scopes failed, but on few suppliers — their findings, not an outage.
    let concentrated = RunHealth {
        probed: 30,
        failed: 20,
        suppliers: 14,
        failed_suppliers: 4,
    };
    assert!(!concentrated.is_blind(50));
    // Most suppliers silent at once: our own network or resolver.
    let spread = RunHealth {
        probed: 30,
        failed: 20,
        suppliers: 14,
        failed_suppliers: 12,
    };
    assert!(spread.is_blind(50));
}

#[tokio::test]
async fn few_probes_never_make_the_monitor_blind() {
    let all_failed = |probed| RunHealth {
        probed,
        failed: probed,
        suppliers: 0,
        failed_suppliers: 0,
    };
    assert!(!all_failed(0).is_blind(50));
    assert!(!all_failed(3).is_blind(50));
    assert!(all_failed(4).is_blind(50));
    assert!(
        !RunHealth {
            probed: 10,
            failed: 5,
            suppliers: 0,
            failed_suppliers: 0,
        }
        .is_blind(50),
        "exactly half is not more than half"
    );
    assert!(
        RunHealth {
            probed: 10,
            failed: 6,
            suppliers: 0,
            failed_suppliers: 0,
        }
        .is_blind(50)
    );

    let mut desk = Desk::new(config("", "")).await;
    let high = [("acme", finding("tls.cert_expired", PORTAL, Severity::High))];
    let rows = desk.run(at(0), &high, Some(all_failed(3))).await;
    assert_eq!(
        summary(&rows),
        [
            triple("alert", "acme", RISK),
            triple("alert", "acme", RISK2)
        ]
    );

    // A custom threshold.
    let mut desk = Desk::new(config("[escalation]\nblind_percent = 80\n", "")).await;
    let rows = desk
        .run(
            at(0),
            &high,
            Some(RunHealth {
                probed: 10,
                failed: 8,
                suppliers: 0,
                failed_suppliers: 0,
            }),
        )
        .await;
    assert_eq!(
        summary(&rows),
        [
            triple("alert", "acme", RISK),
            triple("alert", "acme", RISK2)
        ]
    );
    let rows = desk
        .run(
            at(1),
            &high,
            Some(RunHealth {
                probed: 10,
                failed: 9,
                suppliers: 0,
                failed_suppliers: 0,
            }),
        )
        .await;
    assert_eq!(
        summary(&rows),
        [triple("blind", "", RISK), triple("blind", "", RISK2)]
    );
}

/// A desk with acme's questionnaire sent on 2026-03-01, due 2026-03-20.
async fn questionnaire_desk(extra: &str, sent_to: Option<&str>) -> Desk {
    let desk = Desk::new(config(extra, "")).await;
    desk.store
        .questionnaire_send(
            &NewQuestionnaire {
                supplier: "acme".to_owned(),
                template: "DORA-ICT-2026".to_owned(),
                sent_on: date(2026, 3, 1),
                due: date(2026, 3, 20),
                sent_to: sent_to.map(str::to_owned),
            },
            at(0),
            "test",
        )
        .await
        .unwrap();
    desk
}

/// Noon UTC on 2026-03-`d`.
fn march(d: u32) -> DateTime<Utc> {
    day(d)
}

#[tokio::test]
async fn questionnaire_reminders_go_to_the_supplier_on_their_days() {
    let mut desk = questionnaire_desk("", None).await;
    assert!(desk.notify(march(12)).await.is_empty(), "D-8");
    let rows = desk.notify(march(13)).await;
    assert_eq!(
        summary(&rows),
        [triple("reminder", "acme", "security@acme.example")],
        "D-7"
    );
    let r = &rows[0];
    assert_eq!(
        r.subject,
        "Reminder: questionnaire DORA-ICT-2026 due 2026-03-20"
    );
    assert_eq!(
        r.text,
        "Hello,\n\nthis is a reminder that the due-diligence questionnaire \"DORA-ICT-2026\" we sent on \
         2026-03-01 is due in 7 days, on 2026-03-20.\nPlease send your answers to watch@bank.example \
         before then.\n\nThank you.\n"
    );
    assert!(r.message_id.starts_with("<reminder.q"), "{}", r.message_id);
    assert!(
        desk.notify(march(13) + Duration::hours(6)).await.is_empty(),
        "D-7 again"
    );
    for d in [14, 15, 16] {
        assert!(desk.notify(march(d)).await.is_empty(), "2026-03-{d}");
    }
    let rows = desk.notify(march(17)).await;
    assert_eq!(rows.len(), 1, "D-3");
    assert!(rows[0].text.contains("is due in 3 days, on 2026-03-20."));
    assert!(desk.notify(march(18)).await.is_empty(), "D-2");
    let rows = desk.notify(march(19)).await;
    assert_eq!(rows.len(), 1, "D-1");
    assert!(rows[0].text.contains("is due tomorrow, on 2026-03-20."));
    assert!(desk.notify(march(20)).await.is_empty(), "D");
    assert!(desk.notify(march(21)).await.is_empty(), "D+1");
    let all = desk.store.outbox().await.unwrap();
    assert_eq!(all.len(), 3);

    // Reminders ride on runs too (the obligations run's transaction).
    let mut desk = questionnaire_desk("", Some("dd@acme.example")).await;
    let rows = desk.run(march(13), &[], None).await;
    assert_eq!(
        summary(&rows),
        [triple("reminder", "acme", "dd@acme.example")],
        "sent_to wins over the security contact"
    );

    // A missed day: D-7, then the daemon was down until D-2: one reminder.
    let mut desk = questionnaire_desk("", None).await;
    assert_eq!(desk.notify(march(13)).await.len(), 1);
    let rows = desk.notify(march(18)).await;
    assert_eq!(rows.len(), 1, "one reminder for the 3-day mark, not two");
    assert!(
        rows[0].text.contains("is due in 2 days"),
        "{}",
        rows[0].text
    );
    assert!(desk.notify(march(18) + Duration::hours(1)).await.is_empty());
    assert_eq!(desk.notify(march(19)).await.len(), 1, "the 1-day mark");

    // Down from before D-7 to D-2: one reminder for the 7 and 3-day marks.
    let mut desk = questionnaire_desk("", None).await;
    assert_eq!(desk.notify(march(18)).await.len(), 1);
    assert!(desk.notify(march(18) + Duration::hours(1)).await.is_empty());

    // Custom days.
    let mut desk = questionnaire_desk("[questionnaires]\nreminder_days = [2]\n", None).await;
    for d in [12, 13, 17] {
        assert!(desk.notify(march(d)).await.is_empty(), "2026-03-{d}");
    }
    let rows = desk.notify(march(18)).await;
    assert_eq!(rows.len(), 1, "D-2");
    assert!(rows[0].text.contains("is due in 2 days"));
    assert!(desk.notify(march(19)).await.is_empty(), "D-1");

    // Days are counted in the daemon's time zone: 2026-03-12 12:00 UTC is
    // already 2026-03-13 in Auckland (UTC+13), seven days before the due day.
    let mut desk = questionnaire_desk("", None).await;
    desk.config.daemon.timezone = chrono_tz::Pacific::Auckland;
    assert!(desk.notify(march(12) - Duration::hours(2)).await.is_empty());
    let rows = desk.notify(march(12)).await;
    assert_eq!(rows.len(), 1, "D-7 in Auckland");
    assert!(
        rows[0].text.contains("is due in 7 days"),
        "{}",
        rows[0].text
    );
}

/// A questionnaire sent five days before it is due: the 7-day mark fell
/// before it was sent, so the first reminder is the 3-day one.
#[tokio::test]
async fn no_reminder_for_a_mark_that_passed_before_sending() {
    let mut desk = Desk::new(config("", "")).await;
    desk.store
        .questionnaire_send(
            &NewQuestionnaire {
                supplier: "acme".to_owned(),
                template: "DORA-ICT-2026".to_owned(),
                sent_on: date(2026, 3, 15),
                due: date(2026, 3, 20),
                sent_to: None,
            },
            march(15),
            "test",
        )
        .await
        .unwrap();
    let rows = desk.notify(march(15) + Duration::hours(1)).await;
    assert!(rows.is_empty(), "{rows:#?}");
    assert_eq!(desk.notify(march(17)).await.len(), 1, "D-3");
}

#[test]
fn durations_read_as_people_say_them() {
    use supplywatch::escalate::lasted;
    assert_eq!(lasted(Duration::minutes(15)), "15 minutes");
    assert_eq!(lasted(Duration::minutes(1)), "1 minute");
    assert_eq!(lasted(Duration::seconds(20)), "0 minutes");
    assert_eq!(lasted(Duration::hours(2) + Duration::minutes(5)), "2 hours");
    assert_eq!(lasted(Duration::hours(25)), "1 day 1 hour");
    assert_eq!(lasted(Duration::days(8)), "8 days");
}

#[tokio::test]
async fn an_overdue_questionnaire_is_a_high_finding_alerted_at_once() {
    let desk = questionnaire_desk("", None).await;
    let escalation = Escalation::new(&desk.config, None, march(21));
    let (run, _) = supplywatch::pipeline::run_obligations_with(
        &desk.store,
        &desk.config,
        march(21),
        "daemon",
        Some(&escalation),
    )
    .await
    .unwrap();
    assert!(
        run.results
            .iter()
            .flat_map(|r| &r.findings)
            .any(|f| f.check.as_str() == "questionnaire.overdue"),
        "{run:#?}"
    );
    let rows = desk.store.outbox().await.unwrap();
    let acme = one_message(&rows, "alert", Some("acme"));
    assert!(
        acme.text.contains("HIGH questionnaire.overdue on acme:"),
        "{}",
        acme.text
    );
    assert!(
        !rows.iter().any(|r| r.kind == "reminder"),
        "overdue: no reminder"
    );
}

/// The header block of a formatted message: up to the first blank line.
fn header_block(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let end = text.find("\r\n\r\n").unwrap();
    text[..end].to_owned()
}

/// The value of header `name` (unfolded), if present exactly once.
#[track_caller]
fn header(block: &str, name: &str) -> Option<String> {
    let mut found: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for line in block.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(c) = current.as_mut() {
                c.push_str(line);
            }
            continue;
        }
        if let Some(c) = current.take() {
            found.push(c);
        }
        let prefix = format!("{name}:");
        if line.len() >= prefix.len() && line[..prefix.len()].eq_ignore_ascii_case(&prefix) {
            current = Some(line[prefix.len()..].trim_start().to_owned());
        }
    }
    if let Some(c) = current.take() {
        found.push(c);
    }
    assert!(
        found.len() <= 1,
        "{name} appears {} times:\n{block}",
        found.len()
    );
    found.pop()
}

/// Builds and formats every row's message, checking what every message
/// must have; returns the header blocks.
fn formatted(mailer: &Mailer, rows: &[OutboxRow]) -> Vec<(String, String)> {
    rows.iter()
        .map(|row| {
            let bytes = mailer.message(row).unwrap().formatted();
            let block = header_block(&bytes);
            assert!(
                !block
                    .split("\r\n")
                    .any(|l| l.trim_start().to_ascii_lowercase().starts_with("bcc")),
                "a Bcc line in the headers of {}:\n{block}",
                row.kind
            );
            assert_eq!(
                header(&block, "Auto-Submitted").as_deref(),
                Some("auto-generated"),
                "{block}"
            );
            assert_eq!(
                header(&block, "Message-ID").as_deref(),
                Some(row.message_id.as_str()),
                "{block}"
            );
            assert_eq!(
                header(&block, "Subject").as_deref(),
                Some(row.subject.as_str()),
                "{block}"
            );
            assert_eq!(
                header(&block, "To").as_deref(),
                Some(row.recipient.as_str()),
                "{block}"
            );
            (block, String::from_utf8_lossy(&bytes).into_owned())
        })
        .collect()
}

#[tokio::test]
async fn messages_are_safe_whatever_suppliers_and_servers_say() {
    let mut config = config("", "");
    // The config refuses control characters in names; the message builder
    // must not rely on it.
    config.suppliers[0].name = "Acme\r\nBcc: evil@x.test\r\nX-Evil: 1".to_owned();
    let mut desk = Desk::new(config).await;
    let hostile_target = "portal.acme.example:443\r\nBcc: evil@x.test";
    let hostile = Finding {
        check: supplywatch::registry::CheckId::HttpCspMissing,
        severity: Severity::High,
        target: hostile_target.to_owned(),
        summary: "<script>alert(1)</script>\r\nBcc: evil@x.test\r\n\r\nbody".to_owned(),
        evidence: json!({}),
    };
    let findings = [("acme", hostile)];
    let rows = desk.run(at(0), &findings, None).await;
    assert_eq!(rows.len(), 2);
    let alert = &rows[0];
    assert_eq!(
        alert.subject,
        "[supplywatch] Acme Bcc: evil@x.test X-Evil: 1 (acme)"
    );
    assert!(!alert.text.contains('\r'), "{:?}", alert.text);
    let html = alert.html.as_deref().unwrap();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
    assert!(!html.contains('\r'), "{html:?}");

    let mailer = Mailer::from_config(&desk.config).unwrap();
    for (block, whole) in formatted(&mailer, &rows) {
        assert_eq!(header(&block, "X-Evil"), None, "{block}");
        assert_eq!(
            header(&block, "In-Reply-To").as_deref(),
            Some(thread("acme").as_str()),
            "{block}"
        );
        assert_eq!(
            header(&block, "References").as_deref(),
            Some(thread("acme").as_str()),
            "{block}"
        );
        // The HTML part (quoted-printable: soft line breaks removed).
        let html_part = whole
            .split_once("Content-Type: text/html")
            .map(|(_, part)| part.replace("=\r\n", ""))
            .unwrap();
        assert!(html_part.contains("&lt;script&gt;"), "{whole}");
        assert!(!html_part.contains("<script"), "{whole}");
    }

    // The whole story of one supplier: one subject, one thread, and every
    // message well-formed.
    let mut all = rows.clone();
    all.extend(desk.run(at(7), &findings, None).await);
    let critical = [(
        "acme",
        finding("tls.cert_expired", PORTAL, Severity::Critical),
    )];
    let both = [findings[0].clone(), critical[0].clone()];
    all.extend(desk.run(at(8), &both, None).await);
    all.extend(desk.run(at(15), &both, None).await);
    all.extend(desk.run(at(22), &both, None).await);
    all.extend(desk.run(at(23), &[], None).await);
    all.extend(
        desk.run(
            at(24),
            &[],
            Some(RunHealth {
                probed: 10,
                failed: 10,
                suppliers: 0,
                failed_suppliers: 0,
            }),
        )
        .await,
    );
    all.extend(desk.run(at(25), &[], HEALTHY).await);
    let kinds: BTreeSet<&str> = all.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "alert",
            "blind",
            "escalation",
            "repeat",
            "resolved",
            "sighted"
        ]),
        "{:#?}",
        summary(&all)
    );
    let subjects: BTreeSet<&str> = all
        .iter()
        .filter(|r| r.supplier.as_deref() == Some("acme"))
        .map(|r| r.subject.as_str())
        .collect();
    assert_eq!(subjects.len(), 1, "{subjects:?}");
    for (row, (block, _)) in all.iter().zip(formatted(&mailer, &all)) {
        if row.supplier.is_some() {
            let references = header(&block, "References").unwrap();
            assert!(references.starts_with(&thread("acme")), "{block}");
            assert!(header(&block, "In-Reply-To").is_some(), "{block}");
        }
    }

    // A reminder builds as well.
    let desk = questionnaire_desk("", None).await;
    let escalation = Escalation::new(&desk.config, None, march(13));
    desk.store.notify(march(13), &escalation).await.unwrap();
    let reminders = desk.store.outbox().await.unwrap();
    assert_eq!(reminders.len(), 1);
    formatted(&mailer, &reminders);
}

#[tokio::test]
async fn queueing_the_same_message_twice_queues_it_once() {
    let desk = Desk::new(config("", "")).await;
    let message = Outgoing {
        key: "digest:2026-03-02:1772452800".to_owned(),
        kind: "digest".to_owned(),
        supplier: None,
        recipients: vec![RISK.to_owned(), RISK2.to_owned()],
        subject: "[supplywatch] weekly digest".to_owned(),
        message_id: "<digest.20260302T120000Z@bank.example>".to_owned(),
        in_reply_to: None,
        references: Vec::new(),
        text: "digest\n".to_owned(),
        html: None,
        notices: Vec::<NewNotice>::new(),
    };
    assert_eq!(
        desk.store
            .enqueue(std::slice::from_ref(&message), at(1))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        desk.store
            .enqueue(std::slice::from_ref(&message), at(1) + Duration::hours(1))
            .await
            .unwrap(),
        0
    );
    let rows = desk.store.outbox().await.unwrap();
    assert_eq!(
        summary(&rows),
        [triple("digest", "", RISK), triple("digest", "", RISK2)]
    );
    assert!(rows.iter().all(|r| r.created_at == at(1)));
    let keys: BTreeSet<&str> = rows.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "digest:2026-03-02:1772452800:risk@bank.example",
            "digest:2026-03-02:1772452800:second.risk@bank.example"
        ])
    );
}

/// Queueing a message again must not record its notices again either: the
/// history the CISO reads would list the alert twice.
#[tokio::test]
async fn queueing_the_same_message_twice_records_its_notices_once() {
    let high = [("acme", finding("tls.cert_expired", PORTAL, Severity::High))];
    let mut desk = Desk::new(config("", "")).await;
    let scopes: Vec<Scope> = Vec::new();
    desk.store
        .record_run(
            &RunInput {
                suppliers: Vec::new(),
                blind: None,
                at: at(0),
                source: "check --save".to_owned(),
                scopes,
                findings: high
                    .iter()
                    .map(|(s, f)| ((*s).to_owned(), f.clone()))
                    .collect(),
                observations: Vec::new(),
            },
            &[],
            &LifecyclePolicy::default(),
        )
        .await
        .unwrap();
    // The first finding of a fresh database.
    let alert = Outgoing {
        key: "alert:acme:manual".to_owned(),
        kind: "alert".to_owned(),
        supplier: Some("acme".to_owned()),
        recipients: vec![RISK.to_owned()],
        subject: "[supplywatch] Acme Cloud (acme)".to_owned(),
        message_id: "<alert.acme.manual@bank.example>".to_owned(),
        in_reply_to: Some(thread("acme")),
        references: vec![thread("acme")],
        text: "1 new finding\n".to_owned(),
        html: None,
        notices: vec![NewNotice {
            finding_id: Some(1),
            subject: "finding:1".to_owned(),
            kind: "alert".to_owned(),
            detail: None,
        }],
    };
    assert_eq!(
        desk.store
            .enqueue(std::slice::from_ref(&alert), at(0))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        desk.store
            .enqueue(std::slice::from_ref(&alert), at(0))
            .await
            .unwrap(),
        0
    );
    desk.fresh().await;
    let rows = desk.run(at(7), &high, None).await;
    assert_eq!(summary(&rows), [triple("escalation", "acme", CISO)]);
    assert!(
        rows[0].text.contains(
            "open since 2026-03-01 12:00 UTC; alert sent 2026-03-01 to risk@bank.example\n"
        ),
        "{}",
        rows[0].text
    );
}

/// Without a CISO in `[contacts]` nobody can be escalated to; the critical
/// finding must still be repeated to the risk managers every week.
#[tokio::test]
async fn critical_findings_are_repeated_without_a_ciso() {
    let mut config = config("", "");
    config.contacts.ciso.clear();
    let mut desk = Desk::new(config).await;
    let critical = [(
        "acme",
        finding("tls.hostname_mismatch", API, Severity::Critical),
    )];
    assert_eq!(desk.run(at(0), &critical, None).await.len(), 2);
    for n in 1..=6 {
        assert!(desk.run(at(n), &critical, None).await.is_empty(), "day {n}");
    }
    let rows = desk.run(at(7), &critical, None).await;
    assert_eq!(
        summary(&rows),
        [
            triple("repeat", "acme", RISK),
            triple("repeat", "acme", RISK2)
        ]
    );
}

#[tokio::test]
async fn a_finding_back_from_an_acceptance_is_alerted_again_and_its_delay_restarts() {
    let accept = "[[accept]]\nsupplier = \"acme\"\ncheck = \"tls.cert_expired\"\n\
                  target = \"portal.acme.example:443\"\nuntil = 2026-12-31\n\
                  reason = \"replacement ordered\"\napproved_by = \"ciso@bank.example\"\n";
    let high = [("acme", finding("tls.cert_expired", PORTAL, Severity::High))];
    let mut desk = Desk::new(config("", "")).await;
    assert_eq!(desk.run(at(0), &high, None).await.len(), 2);
    // Accepted on day 1: those alerted are told so, then silence.
    desk.config = config("", accept);
    assert_eq!(desk.run(at(1), &high, None).await.len(), 2);
    assert!(desk.run(at(2), &high, None).await.is_empty());
    // The acceptance is withdrawn on day 3: the risk is news again.
    desk.config = config("", "");
    let rows = desk.run(at(3), &high, None).await;
    assert_eq!(
        summary(&rows),
        [
            triple("alert", "acme", RISK),
            triple("alert", "acme", RISK2)
        ]
    );
    let back = one_message(&rows, "alert", Some("acme"));
    assert!(
        back.text.contains(
            "acceptance of tls.cert_expired on portal.acme.example:443 was withdrawn on 2026-03-04"
        ),
        "{}",
        back.text
    );
    // The CISO delay counts from that alert, not from day 0.
    assert!(
        desk.run(at(10) - Duration::minutes(31), &high, None)
            .await
            .is_empty()
    );
    let rows = desk.run(at(10), &high, None).await;
    assert_eq!(summary(&rows), [triple("escalation", "acme", CISO)]);
}

#[tokio::test]
async fn an_acceptance_is_told_and_its_end_is_alerted_as_such() {
    let high = [("acme", finding("tls.cert_expired", PORTAL, Severity::High))];
    let mut desk = Desk::new(config("", "")).await;
    let first = desk.run(at(0), &high, HEALTHY).await;
    let alert = one_message(&first, "alert", Some("acme"))
        .message_id
        .clone();

    // The risk is accepted at a sync on day 2, until 2026-03-11.
    let accepted = config(
        "",
        "[[accept]]\nsupplier = \"acme\"\ncheck = \"tls.cert_expired\"\n\
         target = \"portal.acme.example:443\"\nuntil = 2026-03-11\n\
         reason = \"replacement ordered (RISK-7)\"\napproved_by = \"ciso@bank.example\"\n",
    );
    let synced = desk
        .store
        .sync(
            &accepted.suppliers,
            &supplywatch::pipeline::registry_policy(&accepted),
            "sync",
            at(2),
        )
        .await
        .unwrap();
    assert_eq!(synced.accepted.len(), 1, "{synced:?}");
    desk.config = accepted;

    // The next pass tells whoever was alerted, once, in the thread.
    let rows = desk.run(at(3), &high, HEALTHY).await;
    assert_eq!(
        summary(&rows),
        [
            triple("accepted", "acme", RISK),
            triple("accepted", "acme", RISK2)
        ]
    );
    let notice = one_message(&rows, "accepted", Some("acme"));
    assert!(
        notice
            .text
            .starts_with("Risk accepted: 1 finding of Acme Cloud (acme) is now accepted")
            && notice.text.contains(
                "accepted by ciso@bank.example until 2026-03-11: replacement ordered (RISK-7)"
            ),
        "{}",
        notice.text
    );
    assert_eq!(notice.in_reply_to.as_deref(), Some(alert.as_str()));
    assert!(
        desk.run(at(4), &high, HEALTHY).await.is_empty(),
        "told once"
    );

    // The acceptance ends: the finding is open again, and the alert says
    // why it is back rather than calling it new.
    let rows = desk.run(at(11), &high, HEALTHY).await;
    let back = one_message(&rows, "alert", Some("acme"));
    assert!(
        back.text
            .starts_with("1 finding at high or critical for Acme Cloud (acme):")
            && back.text.contains(
                "acceptance of tls.cert_expired on portal.acme.example:443 ended on 2026-03-11"
            ),
        "{}",
        back.text
    );
}

#[tokio::test]
async fn findings_of_a_target_removed_from_the_registry_resolve_at_sync_and_are_told() {
    let high = [("acme", finding("tls.cert_expired", API, Severity::High))];
    let mut desk = Desk::new(config("", "")).await;
    desk.run(at(0), &high, HEALTHY).await;

    // api.acme.example:8443 leaves acme's endpoints.
    let text = SUPPLIERS.replace(
        "endpoints = [\"portal.acme.example\", \"api.acme.example:8443\"]",
        "endpoints = [\"portal.acme.example\"]",
    );
    let smaller = parse(&format!(
        "[daemon]\ntimezone = \"UTC\"\n\n[email]\ntransport = \"file\"\nfrom = \"watch@bank.example\"\n\n\
         [contacts]\nrisk_manager = [\"{RISK}\", \"{RISK2}\"]\nciso = [\"{CISO}\"]\n\n{text}\n"
    ))
    .unwrap();
    let synced = desk
        .store
        .sync(
            &smaller.suppliers,
            &supplywatch::pipeline::registry_policy(&smaller),
            "sync",
            at(1),
        )
        .await
        .unwrap();
    assert_eq!(synced.resolved.len(), 1, "{synced:?}");
    let stored = desk
        .store
        .findings(&FindingFilter::default())
        .await
        .unwrap();
    assert_eq!(stored[0].state, FindingState::Resolved);
    assert_eq!(
        stored[0].resolution.as_deref(),
        Some("target removed from the registry")
    );
    desk.config = smaller;
    let rows = desk.notify(at(1) + Duration::minutes(5)).await;
    let told = one_message(&rows, "resolved", Some("acme"));
    assert!(
        told.text
            .contains("resolved: target removed from the registry"),
        "{}",
        told.text
    );
}
