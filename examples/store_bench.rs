//! `cargo run --release --example store_bench`: how fast runs are recorded,
//! and how big a year of history gets.
//!
//! 1. **Reconcile**: 10,000 suppliers × 10 findings each (one endpoint and
//!    one domain per supplier, five scopes), one `record_run` on a fresh
//!    database file: the first run (every finding opens), then the same run
//!    again (steady state: every finding refreshes). Then the same with three
//!    observation blobs per supplier (unchanged in the second run). Each
//!    three times, the median printed.
//! 2. **A year**: 365 daily runs over 1,000 unchanged suppliers, each with 4
//!    findings and 3 observation blobs of 1–2 KB (volatile fields such as
//!    `elapsed_ms` and the `Date` header differ every run), then a 365-day
//!    prune (nothing to prune yet): the database file size once the store is
//!    closed (closing checkpoints the WAL into the file), and the time of a
//!    steady-state run.
//!
//! 3. **Escalate**: part 1's run with the daemon's escalation policy planning
//!    e-mails in the same transaction, two findings of each supplier high:
//!    the first run queues one alert per supplier (10,000), the steady-state
//!    run none.
//!
//! 4. **Audit**: the audit chain's cost: syncing 10,000 new suppliers and
//!    accepting 10,000 findings (10 suppliers × 1,000 targets) — 10,000
//!    chained audit rows each — then verifying the whole chain, exporting it
//!    and verifying the export.
//!
//! Targets (issue 5): (1) under 2 s, (2) under 50 MB, on a 2-core machine.
//! `store_bench reconcile`, `store_bench year`, `store_bench escalate` or
//! `store_bench audit` runs one part only.

use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use serde_json::{Value, json};
use supplywatch::checks::{CheckId, Finding, Scope, Severity};
use supplywatch::registry::{Acceptance, Supplier};
use supplywatch::store::{LifecyclePolicy, ObservationBlob, OpenMode, RunInput, Store};

const CHECKS: [(CheckId, Severity, bool); 10] = [
    (CheckId::TlsNoTls13, Severity::Low, true),
    (CheckId::TlsLongValidity, Severity::Low, true),
    (CheckId::TlsLegacyProtocol, Severity::Medium, true),
    (CheckId::HttpHstsMissing, Severity::Medium, true),
    (CheckId::HttpCspMissing, Severity::Low, true),
    (CheckId::SecuritytxtMissing, Severity::Medium, true),
    (CheckId::DnsDnssecMissing, Severity::Low, false),
    (CheckId::DnsCaaMissing, Severity::Low, false),
    (CheckId::EmailDmarcPolicyNone, Severity::Medium, false),
    (CheckId::EmailTlsrptMissing, Severity::Info, false),
];

fn id(i: usize) -> String {
    format!("s{i:05}")
}

fn endpoint(i: usize) -> String {
    format!("portal.s{i:05}.example:443")
}

fn domain(i: usize) -> String {
    format!("s{i:05}.example")
}

/// Suppliers built through serde, as the config would give them.
fn suppliers(n: usize) -> anyhow::Result<Vec<Supplier>> {
    (0..n)
        .map(|i| {
            Ok(serde_json::from_value(json!({
                "id": id(i), "name": format!("Supplier {i}"), "criticality": "standard",
                "status": "active", "owner": null, "security_contact": null, "services": [],
                "domains": [domain(i)], "endpoints": [endpoint(i)], "contract": null,
                "certifications": [], "exit_plan": null, "lei": null, "country": null,
            }))?)
        })
        .collect()
}

/// A TLS observation of about 1.5 KB: a two-certificate chain.
fn tls_facts(i: usize, run: i64) -> Value {
    let cert = |cn: &str, issuer: &str| {
        json!({
            "subject": format!("CN={cn}"), "issuer": format!("CN={issuer}"), "common_name": cn,
            "sans": [cn], "not_before": "2026-01-01T00:00:00Z", "not_after": "2027-01-01T00:00:00Z",
            "key": {"algorithm": "EC", "bits": 256}, "signature_algorithm": "ecdsa-with-SHA256",
            "is_ca": cn.starts_with("CA"), "self_issued": false,
            "serial": "0a:1b:2c:3d:4e:5f:60:71:82:93",
            "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        })
    };
    json!({
        "target": endpoint(i), "host": format!("portal.s{i:05}.example"), "port": 443,
        "addresses": ["192.0.2.10", "192.0.2.11"], "reach": {"state": "handshake"},
        "tls": {"version": "TLSv1.2", "cipher_suite": "TLS13_AES_128_GCM_SHA256",
            "chain": [cert(&format!("portal.s{i:05}.example"), "CA Intermediate"),
                      cert("CA Intermediate", "CA Root")],
            "unparseable": [], "chain_source": "rustls", "trust": {"verdict": "trusted"}},
        "legacy": [{"version": "TLSv1.0", "accepted": true, "detail": "ServerHello"},
                   {"version": "TLSv1.1", "accepted": false, "detail": "alert 70"}],
        "elapsed_ms": 180 + run % 97,
    })
}

/// An HTTP observation of about 1.5 KB; its `Date` header changes.
fn http_facts(i: usize, run: i64) -> Value {
    let headers = json!({
        "date": [format!("day {run}")], "server": ["nginx"], "content-type": ["text/html"],
        "x-frame-options": ["DENY"], "x-content-type-options": ["nosniff"],
        "referrer-policy": ["no-referrer"], "cache-control": ["no-store"],
    });
    json!({
        "target": endpoint(i), "host": format!("portal.s{i:05}.example"), "port": 443,
        "scheme": "https",
        "page": {"url": format!("https://portal.s{i:05}.example/"), "responses": [
            {"url": format!("https://portal.s{i:05}.example/"), "host": format!("portal.s{i:05}.example"),
             "port": 443, "status": 200, "version": "HTTP/2", "headers": headers,
             "body_bytes": 20_000 + run, "truncated": false, "body_error": null, "body": null,
             "body_utf8": true}],
            "redirects": [], "failure": null},
        "security_txt": {"url": format!("https://portal.s{i:05}.example/.well-known/security.txt"),
            "responses": [], "redirects": [], "failure": {"url": "…", "kind": "status",
            "detail": "404 Not Found", "address": null}},
        "elapsed_ms": 240 + run % 89,
    })
}

/// A domain observation of about 1 KB.
fn domain_facts(i: usize, run: i64) -> Value {
    let d = domain(i);
    json!({
        "domain": d, "resolution": "resolves",
        "nameservers": {"name": d, "answer": {"outcome": "records", "total": 2, "ignored": 0,
            "records": [{"name": "ns2.dns.example"}, {"name": "ns1.dns.example"}]}},
        "mx": {"name": d, "answer": {"outcome": "records", "total": 1, "ignored": 0,
            "records": [{"preference": 10, "exchange": format!("mx.{d}")}]}},
        "caa": null, "dnssec": {"ds": {"outcome": "none"}, "dnskey": {"outcome": "none"}},
        "spf": {"record": "v=spf1 mx include:_spf.mail.example -all", "lookups": 3, "void": 0},
        "dmarc": {"record": "v=DMARC1; p=none; rua=mailto:dmarc@example.org", "policy": "none"},
        "mta_sts": null, "tlsrpt": null,
        "elapsed_ms": 35 + run % 13,
    })
}

/// One run over suppliers `0..n` with `per` findings each, and three
/// observation blobs each if `blobs`.
fn run_input(n: usize, per: usize, at: DateTime<Utc>, run: i64, blobs: bool) -> RunInput {
    let mut input = RunInput {
        suppliers: Vec::new(),
        blind: None,
        at,
        source: "store_bench".to_owned(),
        scopes: Vec::with_capacity(n * 5),
        findings: Vec::with_capacity(n * per),
        observations: Vec::with_capacity(n * 3),
    };
    for i in 0..n {
        let (sid, ep, dom) = (id(i), endpoint(i), domain(i));
        for (target, family) in [
            (&ep, "tls"),
            (&ep, "http"),
            (&ep, "securitytxt"),
            (&dom, "dns"),
            (&dom, "email"),
        ] {
            input.scopes.push(Scope {
                supplier: sid.clone(),
                target: target.clone(),
                family,
                complete: true,
            });
        }
        for (check, severity, on_endpoint) in CHECKS.iter().take(per) {
            let target = if *on_endpoint { &ep } else { &dom };
            input.findings.push((
                sid.clone(),
                Finding {
                    check: *check,
                    severity: *severity,
                    target: target.clone(),
                    summary: format!("{check} on {target}"),
                    evidence: json!({ "target": target, "detail": "as observed" }),
                },
            ));
        }
        if !blobs {
            continue;
        }
        for (target, kind, facts) in [
            (&ep, "tls", tls_facts(i, run)),
            (&ep, "http", http_facts(i, run)),
            (&dom, "domain", domain_facts(i, run)),
        ] {
            input.observations.push(ObservationBlob {
                supplier: sid.clone(),
                target: target.clone(),
                kind: kind.to_owned(),
                facts,
            });
        }
    }
    input
}

fn size_mb(path: &Path) -> f64 {
    let len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    #[expect(clippy::cast_precision_loss, reason = "file sizes far below 2^52")]
    let bytes = (len(path) + len(Path::new(&wal))) as f64;
    bytes / 1_000_000.0
}

async fn open_synced(path: &Path, n: usize, at: DateTime<Utc>) -> anyhow::Result<Store> {
    let store = Store::open(path, OpenMode::Create).await?;
    store
        .sync_registry(&suppliers(n)?, "store_bench", at)
        .await?;
    Ok(store)
}

/// Times one first run (every finding opens) and one steady-state run (the
/// same again six hours later) on a fresh database of 10,000 suppliers.
async fn reconcile_once(
    path: &Path,
    t0: DateTime<Utc>,
    policy: &LifecyclePolicy,
    blobs: bool,
) -> anyhow::Result<(f64, f64)> {
    let store = open_synced(path, 10_000, t0).await?;
    let input = run_input(10_000, 10, t0, 0, blobs);
    let started = Instant::now();
    let report = store.record_run(&input, &[], policy).await?;
    let first = started.elapsed().as_secs_f64();
    anyhow::ensure!(report.opened.len() == 100_000, "expected 100,000 opened");
    drop(input);
    let again = run_input(10_000, 10, t0 + Duration::hours(6), 1, blobs);
    let started = Instant::now();
    let report = store.record_run(&again, &[], policy).await?;
    let steady = started.elapsed().as_secs_f64();
    anyhow::ensure!(report.refreshed == 100_000, "expected 100,000 refreshed");
    anyhow::ensure!(report.observations_stored == 0, "blobs should be unchanged");
    store.close().await;
    Ok((first, steady))
}

/// Part 1, three times each way (this machine is shared: the median says
/// more than one run).
async fn reconcile(
    scratch: &tempfile::TempDir,
    t0: DateTime<Utc>,
    policy: &LifecyclePolicy,
) -> anyhow::Result<()> {
    for (blobs, what) in [
        (false, "10,000 suppliers x 10 findings (50,000 scopes)"),
        (
            true,
            "the same with 30,000 observation blobs (36 MB of facts)",
        ),
    ] {
        let mut firsts = Vec::new();
        let mut steadies = Vec::new();
        for trial in 0..3 {
            let path = scratch.path().join(format!("reconcile-{blobs}-{trial}.db"));
            let (first, steady) = reconcile_once(&path, t0, policy, blobs).await?;
            firsts.push(first);
            steadies.push(steady);
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(1).copied().unwrap_or_default()
        };
        let list = |v: &[f64]| {
            v.iter()
                .map(|t| format!("{t:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let trials = list(&firsts);
        let steady_trials = list(&steadies);
        println!(
            "reconcile {what}: first run {:.2} s (median of {trials}), steady-state run {:.2} s \
             (median of {steady_trials}) (target < 2 s)",
            median(&mut firsts),
            median(&mut steadies),
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let scratch = tempfile::Builder::new().prefix("store-bench-").tempdir()?;
    let t0 = Utc
        .with_ymd_and_hms(2026, 1, 1, 6, 0, 0)
        .single()
        .ok_or_else(|| anyhow::anyhow!("bad date"))?;
    let policy = LifecyclePolicy::default();
    let part = std::env::args().nth(1).unwrap_or_default();
    if part.is_empty() || part == "reconcile" {
        reconcile(&scratch, t0, &policy).await?;
    }
    if part.is_empty() || part == "year" {
        year(&scratch, t0, &policy).await?;
    }
    if part.is_empty() || part == "escalate" {
        escalate(&scratch, t0, &policy).await?;
    }
    if part.is_empty() || part == "audit" {
        audit(&scratch, t0, &policy).await?;
    }
    Ok(())
}

/// Part 4: appending, verifying and exporting the audit chain.
async fn audit(
    scratch: &tempfile::TempDir,
    t0: DateTime<Utc>,
    policy: &LifecyclePolicy,
) -> anyhow::Result<()> {
    let path = scratch.path().join("audit.db");
    let store = Store::open(&path, OpenMode::Create).await?;
    let all = suppliers(10_000)?;
    let started = Instant::now();
    store.sync_registry(&all, "store_bench", t0).await?;
    let sync = started.elapsed().as_secs_f64();
    let mut input = RunInput {
        suppliers: Vec::new(),
        blind: None,
        at: t0,
        source: "store_bench".to_owned(),
        scopes: Vec::new(),
        findings: Vec::with_capacity(10_000),
        observations: Vec::new(),
    };
    for s in 0..10 {
        for t in 0..1_000 {
            let target = format!("host{t}.s{s:05}.example:443");
            input.findings.push((
                id(s),
                Finding {
                    check: CheckId::HttpHstsMissing,
                    severity: Severity::Medium,
                    summary: format!("no HSTS on {target}"),
                    evidence: json!({ "target": target }),
                    target,
                },
            ));
        }
    }
    store.record_run(&input, &[], policy).await?;
    let acceptances = (0..10)
        .map(|s| {
            Ok(Acceptance {
                supplier: id(s).parse().map_err(|e| anyhow::anyhow!("{e}"))?,
                check: CheckId::HttpHstsMissing,
                target: None,
                until: t0.date_naive() + Duration::days(90),
                reason: "legacy portals, replaced next quarter".to_owned(),
                approved_by: "ciso@bank.example"
                    .parse()
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let started = Instant::now();
    let severity = std::collections::BTreeMap::new();
    let synced = store
        .sync(
            &all,
            &supplywatch::store::RegistryPolicy {
                acceptances: &acceptances,
                severity: &severity,
            },
            "store_bench",
            t0 + Duration::hours(1),
        )
        .await?;
    let accept = started.elapsed().as_secs_f64();
    anyhow::ensure!(synced.accepted.len() == 10_000, "expected 10,000 accepted");
    let started = Instant::now();
    let report = store.verify_audit().await?;
    let verify = started.elapsed().as_secs_f64();
    // 10,000 onboarded, 10 acceptances added, 10,000 findings accepted.
    anyhow::ensure!(report.is_intact() && report.rows == 20_010, "{report:?}");
    let file = scratch.path().join("audit.jsonl");
    let started = Instant::now();
    store.export_audit(None, &file, true, t0).await?;
    let export = started.elapsed().as_secs_f64();
    store.close().await;
    let started = Instant::now();
    let report = supplywatch::store::verify_export(&file, None)?;
    let verify_file = started.elapsed().as_secs_f64();
    // 10,000 onboarded, 10 acceptances added, 10,000 findings accepted.
    anyhow::ensure!(report.is_intact() && report.rows == 20_010, "{report:?}");
    println!(
        "audit: sync of 10,000 new suppliers {sync:.2} s, acceptance pass over 10,000 findings \
         {accept:.2} s (10,000 chained rows each); verify 20,010 rows {verify:.2} s, export \
         {export:.2} s ({:.1} MB), verify the export {verify_file:.2} s",
        size_mb(&file)
    );
    Ok(())
}

/// Part 3: reconcile with the escalation policy queueing the e-mails.
async fn escalate(
    scratch: &tempfile::TempDir,
    t0: DateTime<Utc>,
    policy: &LifecyclePolicy,
) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    use supplywatch::escalate::{Escalation, RunHealth};
    let n = 10_000;
    let mut text = String::from(
        "[contacts]\nrisk_manager = [\"risk@bank.example\"]\nciso = [\"ciso@bank.example\"]\n",
    );
    for i in 0..n {
        let _ = write!(
            text,
            "[[supplier]]\nid = \"{}\"\nname = \"Supplier {i}\"\ncriticality = \"important\"\n",
            id(i)
        );
    }
    let config_path = scratch.path().join("escalate.toml");
    let config = supplywatch::config::Config::parse(&text, &config_path, None)?;
    let path = scratch.path().join("escalate.db");
    let store = Store::open(&path, OpenMode::Create).await?;
    store
        .sync_registry(&config.suppliers, "store_bench", t0)
        .await?;
    let high = |mut input: RunInput| {
        for (i, (_, f)) in input.findings.iter_mut().enumerate() {
            if i % 10 < 2 {
                f.severity = Severity::High;
            }
        }
        input
    };
    let health = Some(RunHealth {
        probed: n * 5,
        failed: 0,
        suppliers: 0,
        failed_suppliers: 0,
    });
    let input = high(run_input(n, 10, t0, 0, false));
    let escalation = Escalation::new(&config, health, t0);
    let started = Instant::now();
    let report = store
        .record_run_with(&input, &[], policy, Some(&escalation))
        .await?;
    let first = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        report.queued == n,
        "expected {n} alerts, got {}",
        report.queued
    );
    let later = t0 + Duration::hours(6);
    let again = high(run_input(n, 10, later, 1, false));
    let escalation = Escalation::new(&config, health, later);
    let started = Instant::now();
    let report = store
        .record_run_with(&again, &[], policy, Some(&escalation))
        .await?;
    let steady = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        report.queued == 0,
        "expected no e-mail, got {}",
        report.queued
    );
    store.close().await;
    println!(
        "escalate: 10,000 suppliers x 10 findings (2 high each) with the escalation policy: first run \
         {first:.2} s ({n} alerts queued), steady-state run {steady:.2} s (none queued)"
    );
    Ok(())
}

/// Part 2: a year of daily runs over 1,000 unchanged suppliers.
async fn year(
    scratch: &tempfile::TempDir,
    t0: DateTime<Utc>,
    policy: &LifecyclePolicy,
) -> anyhow::Result<()> {
    let path = scratch.path().join("year.db");
    let store = open_synced(&path, 1_000, t0).await?;
    let started = Instant::now();
    let mut last = 0.0;
    for day in 0..365 {
        let input = run_input(1_000, 4, t0 + Duration::days(day), day, true);
        let run_started = Instant::now();
        let report = store.record_run(&input, &[], policy).await?;
        last = run_started.elapsed().as_secs_f64();
        if day > 0 {
            anyhow::ensure!(report.observations_stored == 0, "day {day} stored blobs");
        }
    }
    let year = started.elapsed().as_secs_f64();
    let pruned = store.prune(t0 + Duration::days(364), 365).await?;
    let open_size = size_mb(&path);
    store.close().await;
    println!(
        "a year: 365 daily runs over 1,000 unchanged suppliers (4 findings, 3 blobs each) in \
         {year:.1} s; steady-state run {:.0} ms; pruned {} runs",
        last * 1000.0,
        pruned.runs
    );
    println!(
        "database size after the year: {:.1} MB (db + wal, after checkpoint; {open_size:.1} MB \
         while open) (target < 50 MB)",
        size_mb(&path)
    );
    Ok(())
}
