//! `report board`: the board report from a database built through the
//! library with runs on fixed dates, rendered as of a fixed "now" (the
//! golden file and the structure), and through the binary (the file it
//! writes, an empty database, refusing to overwrite).
//!
//! `SUPPLYWATCH_BLESS=1 cargo test --test integration board::golden`
//! rewrites the golden file.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use scraper::{Html, Selector};
use serde_json::json;
use supplywatch::checks::{Finding, Scope, Severity};
use supplywatch::config::Config;
use supplywatch::pipeline;
use supplywatch::report::board::{BoardPeriod, BoardReport};
use supplywatch::store::{LifecyclePolicy, ObservationBlob, OpenMode, RunInput, Store};

use crate::support::{Scratch, arg, day, parse};

const SCRIPT_NAME: &str = "<script>alert(1)</script>";
const IMG_NAME: &str = "\"><img src=x onerror=alert(1)>";
const HOSTILE_SUMMARY: &str = "<b onmouseover=alert(1)>bold</b> & more";

/// The report's "now": five weeks and six hours after the first run.
fn now() -> DateTime<Utc> {
    day(1) + Duration::days(35) + Duration::hours(6)
}

/// Five suppliers over the three tiers, two with hostile names; a contract
/// whose notice and end fall within 90 days of [`now`]; an accepted risk
/// ending within 30 days.
fn config_text() -> String {
    format!(
        "[daemon]\ntimezone = \"UTC\"\n\n[email]\ntransport = \"file\"\nfrom = \"watch@bank.example\"\n\n\
         [contacts]\nrisk_manager = [\"risk@bank.example\"]\n\n\
         [[supplier]]\nid = \"acme\"\nname = \"Acme Cloud\"\ncriticality = \"critical\"\nowner = \"jane.doe@bank.example\"\ndomains = [\"acme.test\"]\n\
         contract = {{ reference = \"C-2024-017\", start = 2024-01-01, end = 2026-05-20, notice_days = 30 }}\n\
         certifications = [{{ kind = \"ISO 27001\", expires = 2026-06-01 }}]\n\n\
         [[supplier]]\nid = \"globex\"\nname = \"Globex Mail\"\ncriticality = \"important\"\nowner = \"sam@bank.example\"\ndomains = [\"globex.test\"]\n\n\
         [[supplier]]\nid = \"script\"\nname = '{SCRIPT_NAME}'\ncriticality = \"standard\"\ndomains = [\"script.test\"]\n\n\
         [[supplier]]\nid = \"img\"\nname = '{IMG_NAME}'\ncriticality = \"standard\"\n\n\
         [[supplier]]\nid = \"initech\"\nname = \"Initech Payroll\"\ncriticality = \"standard\"\n\n\
         [[accept]]\nsupplier = \"globex\"\ncheck = \"http.hsts_missing\"\nuntil = 2026-04-20\n\
         reason = '{SCRIPT_NAME} replacement ordered'\napproved_by = \"ciso@bank.example\"\n"
    )
}

fn finding(check: &'static str, severity: Severity, target: &str, summary: &str) -> Finding {
    Finding {
        check: check.parse().unwrap(),
        severity,
        target: target.to_owned(),
        summary: summary.to_owned(),
        evidence: json!({ "target": target }),
    }
}

/// Run `week` (0 to 5): every supplier probed completely; acme's expired
/// certificate throughout; the script-named supplier's DMARC missing in
/// weeks 1 to 3; the img-named supplier's CSP missing (high) from week 2; globex's
/// HSTS missing (accepted) throughout.
fn run_of(week: i64) -> RunInput {
    let mut scopes = Vec::new();
    for supplier in ["acme", "globex", "script", "img", "initech"] {
        for family in ["tls", "http", "email"] {
            scopes.push(Scope {
                supplier: supplier.to_owned(),
                target: Scope::ANY_TARGET.to_owned(),
                family,
                complete: true,
            });
        }
    }
    let mut findings = vec![
        (
            "acme".to_owned(),
            finding(
                "tls.cert_expired",
                Severity::Critical,
                "portal.acme.example:443",
                "certificate expired 3 days ago",
            ),
        ),
        (
            "globex".to_owned(),
            finding(
                "http.hsts_missing",
                Severity::Medium,
                "www.globex.example:443",
                "no Strict-Transport-Security header",
            ),
        ),
    ];
    if (1..=3).contains(&week) {
        findings.push((
            "script".to_owned(),
            finding(
                "email.dmarc_missing",
                Severity::High,
                "script.example",
                "no DMARC record",
            ),
        ));
    }
    if week >= 2 {
        findings.push((
            "img".to_owned(),
            finding(
                "http.csp_missing",
                Severity::High,
                "img.example:443",
                HOSTILE_SUMMARY,
            ),
        ));
    }
    RunInput {
        suppliers: Vec::new(),
        at: day(1) + Duration::days(7 * week),
        source: "daemon".to_owned(),
        scopes,
        findings,
        // Three suppliers whose name servers are one provider's.
        observations: ["acme", "globex", "script"]
            .iter()
            .map(|id| ObservationBlob {
                supplier: (*id).to_owned(),
                target: format!("{id}.test"),
                kind: "domain".to_owned(),
                facts: serde_json::json!({
                    "domain": format!("{id}.test"),
                    "resolution": {"state": "resolves"},
                    "nameservers": {"steps": [{"name": format!("{id}.test"), "answer": {
                        "outcome": "records", "total": 2, "ignored": 0,
                        "records": [{"host": "a.ns.shared-dns.test", "registrable": null},
                                    {"host": "b.ns.shared-dns.test", "registrable": null}]}}]},
                }),
            })
            .collect(),
        blind: Some(false),
    }
}

/// The database of six weekly runs, in `scratch`; its config.
async fn build(scratch: &Scratch) -> (PathBuf, Config) {
    let path = scratch.path("board.db");
    let config = parse(&config_text()).unwrap();
    let store = Store::open(&path, OpenMode::Create).await.unwrap();
    store
        .sync(
            &config.suppliers,
            &pipeline::registry_policy(&config),
            "test",
            day(1) - Duration::days(1),
        )
        .await
        .unwrap();
    let policy = LifecyclePolicy::default();
    for week in 0..=5 {
        store
            .record_run(&run_of(week), &config.acceptances, &policy)
            .await
            .unwrap();
    }
    // Then the monitor went blind.
    let mut blind = run_of(5).blinded();
    blind.at += Duration::hours(3);
    store
        .record_run(&blind, &config.acceptances, &policy)
        .await
        .unwrap();
    store.close().await;
    (path, config)
}

/// The report of the built database as of [`now`], through the library.
async fn report_of(path: &Path, config: &Config) -> BoardReport {
    let store = Store::open(path, OpenMode::ReadOnly).await.unwrap();
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
    .await
    .unwrap();
    store.close().await;
    report
}

fn select<'a>(doc: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    doc.select(&Selector::parse(css).unwrap()).collect()
}

fn text_of(doc: &Html) -> String {
    doc.root_element().text().collect()
}

/// What every report must be: parsed without errors that matter, no
/// script, no event handler, no external reference, no hostile element.
fn assert_safe(html: &str) {
    let doc = Html::parse_document(html);
    assert!(select(&doc, "html > body").len() == 1, "no body");
    assert!(select(&doc, "script").is_empty(), "a script element");
    assert!(select(&doc, "img").is_empty(), "an img element");
    for element in select(&doc, "*") {
        for (name, _) in element.value().attrs() {
            assert!(
                !name.to_ascii_lowercase().starts_with("on"),
                "attribute {name} on <{}>",
                element.value().name()
            );
        }
    }
    assert!(!html.contains("http://"), "an http:// reference");
    assert!(!html.contains("https://"), "an https:// reference");
    assert!(!html.contains("<link"), "a link element");
    assert!(html.contains("@media print"));
    assert!(html.contains("break-before: page"));
}

const HEADINGS: [&str; 8] = [
    "1. The portfolio at a glance",
    "2. Grades and findings over time",
    "3. The ten riskiest suppliers",
    "4. Deadlines in the next 90 days",
    "5. Accepted risks",
    "6. Concentration",
    "7. The monitor's own health",
    "What the checks mean, and what to ask the supplier",
];

fn headings(doc: &Html) -> Vec<String> {
    select(doc, "h2")
        .iter()
        .map(|h| h.text().collect::<String>())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn board_report_shows_every_section_safely() {
    let scratch = Scratch::new();
    let (path, config) = build(&scratch).await;
    let report = report_of(&path, &config).await;
    let html = report.to_html();
    assert_safe(&html);
    let doc = Html::parse_document(&html);
    assert_eq!(headings(&doc), HEADINGS);
    assert_eq!(select(&doc, "section").len(), HEADINGS.len());

    // Charts: a series per tier with scores, one per severity.
    assert_eq!(select(&doc, "svg#grade-chart g.series").len(), 3);
    assert_eq!(select(&doc, "svg#grade-chart polyline").len(), 3);
    assert_eq!(select(&doc, "svg#findings-chart g.series").len(), 5);
    assert_eq!(select(&doc, "svg#findings-chart polygon").len(), 5);
    // Six runs over six weeks: six points a line.
    let critical = select(
        &doc,
        "svg#grade-chart g.series[data-series=critical] circle",
    );
    assert_eq!(critical.len(), 6);

    // Worst first: the critical finding, then the high one (script's
    // resolved, it is clean again); the accepted risk does not count.
    let order: Vec<&str> = select(&doc, "tr.supplier")
        .iter()
        .filter_map(|r| r.value().attr("data-supplier"))
        .collect();
    assert_eq!(order, ["acme", "img", "globex", "initech", "script"]);

    // Deadlines: notice, contract end and the certification.
    let deadlines: Vec<String> = select(&doc, "tr.deadline")
        .iter()
        .map(|r| r.text().collect::<Vec<_>>().join("|"))
        .collect();
    assert_eq!(deadlines.len(), 3, "{deadlines:?}");
    assert!(deadlines[0].starts_with("2026-04-20"), "{deadlines:?}");
    assert!(deadlines[0].contains("notice"), "{deadlines:?}");
    assert!(deadlines[1].starts_with("2026-05-20"), "{deadlines:?}");
    assert!(deadlines[2].contains("ISO 27001"), "{deadlines:?}");

    // The accepted risk ends within 30 days: called out.
    assert_eq!(select(&doc, "tr.acceptance.ending").len(), 1);
    let text = text_of(&doc);
    assert!(text.contains("ciso@bank.example"));
    assert!(text.contains("1 ending within 30 days"), "{text}");

    // Changes since 30 days ago: the CSP finding opened, the DMARC
    // finding resolved, and img's grade fell.
    assert!(
        text.contains("1 finding opened, 1 resolved, 1 grade change."),
        "{text}"
    );
    assert_eq!(select(&doc, "tr.grade-change").len(), 1);

    // Hostile text is text, never markup.
    assert!(text.contains(SCRIPT_NAME));
    assert!(text.contains(IMG_NAME));
    assert!(text.contains(HOSTILE_SUMMARY));
    assert!(!html.contains("<b onmouseover"));

    // The monitor's health: the blind run, and since when.
    assert!(
        text.contains("The monitor cannot see since 2026-04-05 15:00 UTC."),
        "{text}"
    );
    let runs: Vec<String> = select(&doc, "tr.run")
        .iter()
        .map(|r| r.text().collect::<Vec<_>>().join("|"))
        .collect();
    assert_eq!(runs.len(), 7, "{runs:?}");
    assert!(runs[0].contains("no — blind"), "{runs:?}");
    assert!(runs[1..].iter().all(|r| r.ends_with("yes")), "{runs:?}");

    // Plain words for the checks shown.
    assert!(text.contains("Their website certificate has expired"));
    assert!(text.contains("When will the certificate be renewed"));
    // Concentration: the shared name servers, their three dependents.
    let shared: Vec<String> = select(&doc, "#concentration table tr")
        .iter()
        .map(|r| r.text().collect::<Vec<_>>().join("|"))
        .collect();
    assert_eq!(shared.len(), 2, "{shared:?}");
    assert!(
        shared[1].starts_with("dns|shared-dns.test|6|3|2|"),
        "{shared:?}"
    );
    assert!(shared[1].contains(SCRIPT_NAME), "{shared:?}");
    assert_eq!(select(&doc, "#concentration svg rect").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn golden_board_report() {
    let scratch = Scratch::new();
    let (path, config) = build(&scratch).await;
    let html = report_of(&path, &config).await.to_html();
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/board/golden.html");
    if std::env::var("SUPPLYWATCH_BLESS").as_deref() == Ok("1") {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &html).unwrap();
    }
    let expected = std::fs::read_to_string(&golden)
        .unwrap_or_else(|e| panic!("{}: {e} (SUPPLYWATCH_BLESS=1 writes it)", golden.display()));
    assert!(
        html == expected,
        "the board report differs from {} (SUPPLYWATCH_BLESS=1 rewrites it)\n--- written ---\n{html}",
        golden.display()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_writes_the_report_and_keeps_an_existing_file() {
    let scratch = Scratch::new();
    let (path, _) = build(&scratch).await;
    let db = arg(&path).to_owned();
    let run = scratch
        .run_async(&["--database", &db, "report", "board", "--out", "report.html"])
        .await;
    run.expect_code(0);
    assert!(run.stdout.contains("wrote report.html"), "{}", run.stdout);
    let html = std::fs::read_to_string(scratch.path("report.html")).unwrap();
    assert_safe(&html);
    let doc = Html::parse_document(&html);
    assert_eq!(headings(&doc), HEADINGS);
    // Worst first, as `status` orders them.
    let status = scratch
        .run_async(&["--database", &db, "status", "--format", "json"])
        .await;
    status.expect_code(0);
    let expected: Vec<String> = status.json()["suppliers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    let order: Vec<String> = select(&doc, "tr.supplier")
        .iter()
        .filter_map(|r| r.value().attr("data-supplier").map(str::to_owned))
        .collect();
    assert_eq!(order, expected);

    // An existing file is kept: exit 2, not a byte changed.
    let mine = scratch.write("mine.html", "my notes");
    let refused = scratch
        .run_async(&["--database", &db, "report", "board", "--out", "mine.html"])
        .await;
    refused.expect_code(2);
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "my notes");
    // … unless --force; and no temporary file is left behind.
    scratch
        .run_async(&[
            "--database",
            &db,
            "report",
            "board",
            "--out",
            "mine.html",
            "--force",
            "--since",
            "2026-03-01",
        ])
        .await
        .expect_code(0);
    assert!(
        std::fs::read_to_string(&mine)
            .unwrap()
            .starts_with("<!DOCTYPE html>")
    );
    let leftovers: Vec<_> = std::fs::read_dir(scratch.dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn the_report_reads_and_prints_in_a_real_browser() {
    let scratch = Scratch::new();
    let (path, _) = build(&scratch).await;
    let db = arg(&path).to_owned();
    scratch
        .run_async(&["--database", &db, "report", "board", "--out", "report.html"])
        .await
        .expect_code(0);
    let Some(rendered) = crate::support::browser::render(&scratch.path("report.html"), 1280, 2400)
    else {
        return;
    };
    // Each of the eight sections starts a page of its own when printed.
    assert!(
        rendered.pages() >= HEADINGS.len(),
        "{} pages",
        rendered.pages()
    );
    assert_eq!(rendered.png_size(), (1280, 2400));
    assert_eq!(
        crate::support::browser::page_errors(&rendered.log),
        Vec::<&str>::new()
    );
}

#[test]
fn a_database_never_probed_says_no_runs_yet() {
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", config_text());
    scratch.run(&["sync"]).expect_code(0);
    let run = scratch.run(&["report", "board", "--out", "report.html"]);
    run.expect_code(0);
    let html = std::fs::read_to_string(scratch.path("report.html")).unwrap();
    assert_safe(&html);
    let doc = Html::parse_document(&html);
    assert_eq!(headings(&doc), HEADINGS);
    let text = text_of(&doc);
    assert!(text.contains("No runs yet"), "{text}");
    assert!(select(&doc, "svg").is_empty());
    assert!(select(&doc, "tr.supplier").is_empty());
    assert!(select(&doc, "tr.run").is_empty());
}
