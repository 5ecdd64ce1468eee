//! The board report of a fictitious portfolio, and its screenshot for the
//! README: `cargo run --example board_report`.
//!
//! Builds a database in a temporary folder — eight suppliers, twelve weekly
//! probe runs in which findings open and resolve, three suppliers on one
//! DNS provider — writes `target/board-report.html`, and, when Debian's
//! `chromium` is installed, takes `docs/board-report.png` of it with the
//! browser headless in a network namespace of its own (`unshare -rn`).
//! Nothing is probed and no packet leaves the machine.

#![allow(
    clippy::too_many_lines,
    reason = "the portfolio's twelve weeks read best in one place"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use serde_json::json;
use supplywatch::checks::{CheckId, Finding, Scope, Severity};
use supplywatch::config::Config;
use supplywatch::pipeline;
use supplywatch::report::board::{BoardPeriod, BoardReport};
use supplywatch::store::{LifecyclePolicy, ObservationBlob, OpenMode, RunInput, Store};

const CONFIG: &str = r#"
[daemon]
timezone = "UTC"

[[supplier]]
id = "acme"
name = "Acme Cloud B.V."
criticality = "critical"
owner = "jane.doe@bank.example"
domains = ["acme.test"]
contract = { reference = "C-2024-017", start = 2024-01-01, end = 2027-01-31, notice_days = 60 }
certifications = [{ kind = "ISO 27001", expires = 2027-02-10 }]

[[supplier]]
id = "paycore"
name = "PayCore Processing SA"
criticality = "critical"
owner = "sam.smith@bank.example"
domains = ["paycore.test"]

[[supplier]]
id = "globex"
name = "Globex Mail Services"
criticality = "important"
owner = "sam.smith@bank.example"
domains = ["globex.test"]

[[supplier]]
id = "ledgerly"
name = "Ledgerly GmbH"
criticality = "important"
owner = "ana.lopez@bank.example"
contract = { reference = "C-2022-003", start = 2022-07-01, end = 2027-02-28, notice_days = 90 }

[[supplier]]
id = "netcarrier"
name = "NetCarrier BV"
criticality = "important"
owner = "ana.lopez@bank.example"

[[supplier]]
id = "dataviz"
name = "DataViz Analytics Ltd"
criticality = "standard"
owner = "jane.doe@bank.example"

[[supplier]]
id = "helpdesk"
name = "Helpdesk Pro BV"
criticality = "standard"
owner = "hr.ops@bank.example"

[[supplier]]
id = "initech"
name = "Initech Payroll"
criticality = "standard"
owner = "hr.ops@bank.example"

[findings]
max_acceptance_days = 3650

[[accept]]
supplier = "globex"
check = "email.dmarc_policy_none"
until = 2027-01-15
reason = "DMARC enforcement comes with the migration (RISK-311)"
approved_by = "ciso@bank.example"
"#;

const SUPPLIERS: [&str; 8] = [
    "acme",
    "paycore",
    "globex",
    "ledgerly",
    "netcarrier",
    "dataviz",
    "helpdesk",
    "initech",
];

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0)
        .single()
        .unwrap_or_default()
}

fn finding(check: CheckId, severity: Severity, target: &str, summary: &str) -> Finding {
    Finding {
        check,
        severity,
        target: target.to_owned(),
        summary: summary.to_owned(),
        evidence: json!({ "target": target }),
    }
}

/// Week `w` of twelve (0 the oldest): which findings fire.
fn run_of(w: i64) -> RunInput {
    let scopes = SUPPLIERS
        .iter()
        .flat_map(|s| {
            ["tls", "http", "email", "dns"].map(|family| Scope {
                supplier: (*s).to_owned(),
                target: Scope::ANY_TARGET.to_owned(),
                family,
                complete: true,
            })
        })
        .collect();
    let mut findings = Vec::new();
    let mut fire = |supplier: &str, f: Finding| findings.push((supplier.to_owned(), f));
    if w >= 8 {
        fire(
            "acme",
            finding(
                CheckId::TlsCertExpired,
                Severity::Critical,
                "portal.acme.test:443",
                "the certificate expired 4 days ago",
            ),
        );
    }
    if w < 6 {
        fire(
            "paycore",
            finding(
                CheckId::TlsLegacyProtocol,
                Severity::High,
                "api.paycore.test:443",
                "TLS 1.0 is still accepted",
            ),
        );
    }
    fire(
        "globex",
        finding(
            CheckId::EmailDmarcPolicyNone,
            Severity::Medium,
            "globex.test",
            "the DMARC policy is p=none",
        ),
    );
    if (3..10).contains(&w) {
        fire(
            "ledgerly",
            finding(
                CheckId::HttpHstsMissing,
                Severity::Medium,
                "app.ledgerly.test:443",
                "no Strict-Transport-Security header",
            ),
        );
    }
    if w >= 5 {
        fire(
            "netcarrier",
            finding(
                CheckId::EmailSpfPermissive,
                Severity::Medium,
                "netcarrier.test",
                "the SPF policy ends in +all",
            ),
        );
    }
    if w >= 10 {
        fire(
            "netcarrier",
            finding(
                CheckId::TlsHostnameMismatch,
                Severity::High,
                "portal.netcarrier.test:443",
                "the certificate is not valid for this host",
            ),
        );
    }
    fire(
        "dataviz",
        finding(
            CheckId::HttpCspMissing,
            Severity::Low,
            "dataviz.test:443",
            "no Content-Security-Policy header",
        ),
    );
    if w < 4 {
        fire(
            "helpdesk",
            finding(
                CheckId::SecuritytxtMissing,
                Severity::Low,
                "helpdesk.test:443",
                "no security.txt",
            ),
        );
    }
    let observations = ["acme", "paycore", "globex"]
        .iter()
        .map(|id| ObservationBlob {
            supplier: (*id).to_owned(),
            target: format!("{id}.test"),
            kind: "domain".to_owned(),
            facts: json!({
                "domain": format!("{id}.test"),
                "resolution": {"state": "resolves"},
                "nameservers": {"steps": [{"name": format!("{id}.test"), "answer": {
                    "outcome": "records", "total": 2, "ignored": 0,
                    "records": [{"host": "ns1.cloud-dns.test", "registrable": null},
                                {"host": "ns2.cloud-dns.test", "registrable": null}]}}]},
            }),
        })
        .collect();
    RunInput {
        suppliers: Vec::new(),
        at: now() - Duration::weeks(11 - w) - Duration::days(1),
        source: "daemon".to_owned(),
        scopes,
        findings,
        observations,
        blind: Some(false),
    }
}

async fn build(dir: &Path) -> Result<BoardReport, Box<dyn std::error::Error>> {
    let path = dir.join("supplywatch.toml");
    std::fs::write(&path, CONFIG)?;
    let config = Config::load(&path)?;
    let db = dir.join("watch.db");
    let store = Store::open(&db, OpenMode::Create).await?;
    store
        .sync(
            &config.suppliers,
            &pipeline::registry_policy(&config),
            "example",
            now() - Duration::weeks(13),
        )
        .await?;
    let policy = LifecyclePolicy::default();
    for w in 0..12 {
        store
            .record_run(&run_of(w), &config.acceptances, &policy)
            .await?;
    }
    store.close().await;
    let store = Store::open(&db, OpenMode::ReadOnly).await?;
    let report = BoardReport::gather(
        &store,
        BoardPeriod {
            now: now(),
            since: now() - Duration::days(30),
            today: now().date_naive(),
            cadence: config.questionnaires.clone(),
        },
        &config.register,
        None,
    )
    .await?;
    store.close().await;
    Ok(report)
}

fn screenshot(html: &Path, png: &Path) -> Result<bool, Box<dyn std::error::Error>> {
    let found = Command::new("sh")
        .args(["-c", "command -v chromium"])
        .output()?;
    if !found.status.success() {
        return Ok(false);
    }
    let chromium = String::from_utf8_lossy(&found.stdout).trim().to_owned();
    let profile = tempfile::tempdir()?;
    let status = Command::new("unshare")
        .arg("-rn")
        .arg(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1100,1500",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", html.canonicalize()?.display()))
        .stderr(std::process::Stdio::null())
        .status()?;
    Ok(status.success())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir()?;
    let report = build(dir.path()).await?;
    let html = root.join("target/board-report.html");
    std::fs::create_dir_all(root.join("target"))?;
    std::fs::write(&html, report.to_html())?;
    println!("wrote {}", html.display());
    let png = root.join("docs/board-report.png");
    std::fs::create_dir_all(root.join("docs"))?;
    if screenshot(&html, &png)? {
        println!("wrote {}", png.display());
    } else {
        println!("no chromium (apt-get install chromium): no screenshot taken");
    }
    Ok(())
}
