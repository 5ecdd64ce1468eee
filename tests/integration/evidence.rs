//! `report supplier ID --out DIR`: the evidence pack end to end through
//! the binary — a supplier with a contract, an expired certification (a
//! finding told by e-mail), an accepted risk and a reviewed questionnaire
//! with its document; the pack's files, its manifest checked by
//! `sha256sum -c` and by hand, the HTML parsed (no script, no event
//! attribute, no external URL, hostile text only as text), a document
//! whose stored copy was altered, refusals. No network: the config names
//! no domains or endpoints, e-mail goes to files.

// A pack's story reads best as one test, file after file.
#![allow(clippy::too_many_lines)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use scraper::{Html, Selector};

use crate::support::{Run, Scratch, arg};

const HOSTILE: &str = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";

fn config(extra_accept: &str) -> String {
    format!(
        "[daemon]\ntimezone = \"UTC\"\n\n[email]\ntransport = \"file\"\nfrom = \"watch@bank.example\"\n\n\
         [contacts]\nrisk_manager = [\"risk@bank.example\"]\n\n\
         [[supplier]]\nid = \"acme\"\nname = \"Acme <b>Cloud</b>\"\ncriticality = \"critical\"\n\
         owner = \"vendors@bank.example\"\nsecurity_contact = \"security@acme.example\"\nexit_plan = \"exit/acme.md\"\n\
         contract = {{ reference = \"C-7\", start = 2024-01-01, end = 2030-12-31, notice_days = 90 }}\n\
         certifications = [{{ kind = \"ISO 27001\", expires = 2020-01-01 }}, {{ kind = \"SOC 2\", expires = 2021-01-01 }}]\n\n\
         [[supplier]]\nid = \"globex\"\nname = \"Globex\"\ncriticality = \"standard\"\n\n{extra_accept}"
    )
}

/// An accepted risk ending 100 days from today.
fn accept() -> String {
    let until = chrono::Utc::now().date_naive() + chrono::Days::new(100);
    format!(
        "[[accept]]\nsupplier = \"acme\"\ncheck = \"certification.expired\"\ntarget = \"SOC 2\"\n\
         until = {until}\nreason = \"Renewal audit booked\"\napproved_by = \"ciso@bank.example\"\n"
    )
}

struct Desk {
    scratch: Scratch,
}

impl Desk {
    fn run(&self, args: &[&str]) -> Run {
        let (config, db) = (
            self.scratch.path("sw.toml"),
            self.scratch.path("data/watch.db"),
        );
        let mut all = vec!["--config", arg(&config), "--database", arg(&db)];
        all.extend_from_slice(args);
        self.scratch.run(&all)
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        run.expect_code(0);
        run
    }

    /// A desk whose supplier has everything an auditor asks about.
    fn full() -> Self {
        let scratch = Scratch::new();
        std::fs::create_dir(scratch.path("data")).unwrap();
        scratch.write("sw.toml", config(&accept()));
        let desk = Self { scratch };
        desk.ok(&["sync"]);
        let answers = desk.scratch.write("answers.PDF", b"%PDF-1.4 the answers\n");
        desk.ok(&[
            "questionnaire",
            "send",
            "acme",
            "--template",
            "sig lite/2026",
            "--due",
            "2026-02-01",
            "--on",
            "2026-01-05",
        ]);
        desk.ok(&[
            "questionnaire",
            "answer",
            "acme",
            "--file",
            arg(&answers),
            "--on",
            "2026-01-20",
        ]);
        desk.ok(&[
            "questionnaire",
            "review",
            "acme",
            "--score",
            "71",
            "--reviewer",
            "auditor@bank.example",
            "--notes",
            HOSTILE,
            "--on",
            "2026-01-25",
        ]);
        // The daemon's cycle once: findings recorded, the alert e-mailed.
        desk.ok(&["run", "--once"]);
        desk
    }

    fn pack(&self, out: &Path) -> Run {
        self.run(&["report", "supplier", "acme", "--out", arg(out)])
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().fold(String::new(), |mut out, b| {
        use std::fmt::Write as _;
        write!(out, "{b:02x}").unwrap();
        out
    })
}

/// Every file under `dir`, relative, `/`-separated.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(
                    p.strip_prefix(dir)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_pack_holds_what_an_auditor_asks_for_and_verifies() {
    let desk = Desk::full();
    let out = desk.scratch.path("pack");
    let run = desk.pack(&out);
    run.expect_code(0);
    assert!(run.stdout.contains("MANIFEST.sha256"), "{}", run.stdout);

    let listed = files(&out);
    assert_eq!(
        listed,
        [
            "AUDIT-CHAIN-HEAD.txt",
            "MANIFEST.sha256",
            "documents/sig-lite-2026-2026-01-05.pdf",
            "evidence.json",
            "index.html",
        ],
        "{listed:?}"
    );
    // The document is the one recorded, under its template and date.
    assert_eq!(
        std::fs::read(out.join("documents/sig-lite-2026-2026-01-05.pdf")).unwrap(),
        b"%PDF-1.4 the answers\n"
    );

    // The manifest names every other file with its SHA-256 …
    let manifest: BTreeMap<String, String> = read(&out.join("MANIFEST.sha256"))
        .lines()
        .map(|l| {
            let (hash, name) = l.split_once("  ").unwrap();
            (name.to_owned(), hash.to_owned())
        })
        .collect();
    let others: Vec<&String> = listed.iter().filter(|f| *f != "MANIFEST.sha256").collect();
    assert_eq!(manifest.keys().collect::<Vec<_>>(), others);
    for (name, hash) in &manifest {
        assert_eq!(
            &sha256(&std::fs::read(out.join(name)).unwrap()),
            hash,
            "{name}"
        );
    }
    // … and `sha256sum -c` agrees.
    let check = Command::new("sha256sum")
        .args(["-c", "--strict", "MANIFEST.sha256"])
        .current_dir(&out)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );

    // The chain head is the one `audit verify` gives.
    let verify = desk.ok(&["audit", "verify"]);
    let head = read(&out.join("AUDIT-CHAIN-HEAD.txt"));
    let hash = head.split_whitespace().last().unwrap();
    assert!(head.starts_with("audit chain intact"), "{head}");
    assert!(
        verify.stdout.contains(&hash[..8]),
        "{head} / {}",
        verify.stdout
    );

    // What the page says.
    let html = read(&out.join("index.html"));
    let page = Html::parse_document(&html);
    assert!(page.errors.is_empty(), "{:?}", page.errors);
    let headings: Vec<String> = page
        .select(&Selector::parse("h2").unwrap())
        .map(|h| h.text().collect())
        .collect();
    assert_eq!(
        headings,
        [
            "Registry entry",
            "Contract and deadlines",
            "Questionnaires",
            "Certifications",
            "Findings and their lifecycle",
            "Accepted risks",
            "Score history",
            "Audit history",
        ]
    );
    let text: String = page.root_element().text().collect();
    for expected in [
        "Acme <b>Cloud</b>",
        "C-7",
        "sig lite/2026",
        "auditor@bank.example",
        "certification.expired",
        "ISO 27001",
        "Renewal audit booked",
        "ciso@bank.example",
        "alert",
        "risk@bank.example",
        HOSTILE,
    ] {
        assert!(text.contains(expected), "{expected:?} not in the page");
    }
    assert_no_active_content(&page, &html);
    let link = Selector::parse("a[href=\"documents/sig-lite-2026-2026-01-05.pdf\"]").unwrap();
    assert_eq!(page.select(&link).count(), 1);

    // The JSON carries the same facts.
    let json: serde_json::Value = serde_json::from_str(&read(&out.join("evidence.json"))).unwrap();
    assert_eq!(json["supplier"]["id"], "acme");
    assert_eq!(
        json["documents"][0]["path"],
        "documents/sig-lite-2026-2026-01-05.pdf"
    );
    assert!(json["findings"].as_array().unwrap().len() >= 2);
    assert!(
        json["notices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "alert")
    );
}

/// No script, no event attribute, no URL leaving the page.
#[track_caller]
fn assert_no_active_content(page: &Html, html: &str) {
    assert_eq!(
        page.select(&Selector::parse("script, img, iframe, object, embed, link").unwrap())
            .count(),
        0
    );
    for element in page
        .root_element()
        .descendants()
        .filter_map(scraper::ElementRef::wrap)
    {
        for (name, value) in element.value().attrs() {
            assert!(!name.starts_with("on"), "event attribute {name}={value}");
            assert!(!value.contains("://"), "external reference {name}={value}");
        }
    }
    assert!(!html.contains("http://") && !html.contains("https://"));
}

#[test]
fn an_altered_document_is_named_not_packed() {
    let desk = Desk::full();
    let documents = desk.scratch.path("data/documents");
    for e in std::fs::read_dir(&documents).unwrap() {
        std::fs::write(e.unwrap().path(), b"tampered").unwrap();
    }
    let out = desk.scratch.path("pack");
    desk.pack(&out).expect_code(0);
    assert!(!out.join("documents").exists());
    let html = read(&out.join("index.html"));
    assert!(
        html.contains("no longer matches the recorded SHA-256"),
        "{html}"
    );
}

#[test]
fn a_folder_with_files_is_refused_without_force_and_unknown_suppliers_are_named() {
    let desk = Desk::full();
    let out = desk.scratch.path("pack");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let run = desk.pack(&out);
    run.expect_code(2);
    assert!(
        run.stderr.contains("not empty") && run.stderr.contains("--force"),
        "{}",
        run.stderr
    );
    assert_eq!(files(&out), ["notes.txt"]);
    desk.ok(&["report", "supplier", "acme", "--out", arg(&out), "--force"]);
    assert!(out.join("index.html").exists() && out.join("notes.txt").exists());

    let run = desk.run(&[
        "report",
        "supplier",
        "nobody",
        "--out",
        arg(&desk.scratch.path("x")),
    ]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("acme") && run.stderr.contains("globex"),
        "{}",
        run.stderr
    );
    assert!(!desk.scratch.path("x").exists());
}

#[test]
fn a_supplier_never_probed_gets_a_pack_that_says_so() {
    let scratch = Scratch::new();
    std::fs::create_dir(scratch.path("data")).unwrap();
    scratch.write("sw.toml", config(""));
    let desk = Desk { scratch };
    desk.ok(&["sync"]);
    let out = desk.scratch.path("pack");
    desk.run(&["report", "supplier", "globex", "--out", arg(&out)])
        .expect_code(0);
    let html = read(&out.join("index.html"));
    for said in [
        "No contract recorded.",
        "No questionnaire sent.",
        "None recorded.",
        "No runs yet.",
    ] {
        assert!(html.contains(said), "{said:?}");
    }
    let page = Html::parse_document(&html);
    assert!(page.errors.is_empty(), "{:?}", page.errors);
}

#[test]
fn the_pack_reads_and_prints_in_a_real_browser() {
    let desk = Desk::full();
    let out = desk.scratch.path("pack");
    desk.pack(&out).expect_code(0);
    let Some(rendered) = crate::support::browser::render(&out.join("index.html"), 1200, 1600)
    else {
        return;
    };
    // Eight sections, each on a page of its own when printed.
    assert!(rendered.pages() >= 8, "{} pages", rendered.pages());
    assert_eq!(rendered.png_size(), (1200, 1600));
    assert_eq!(
        crate::support::browser::page_errors(&rendered.log),
        Vec::<&str>::new()
    );
}

/// 64-digit hex strings (the audit chain's hashes, which cover the
/// config's temporary path) made one placeholder.
fn without_hashes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    for c in text.chars() {
        if c.is_ascii_hexdigit() && !c.is_ascii_uppercase() {
            run.push(c);
            continue;
        }
        out.push_str(if run.len() == 64 { "<sha256>" } else { &run });
        run.clear();
        out.push(c);
    }
    out.push_str(if run.len() == 64 { "<sha256>" } else { &run });
    out
}

#[tokio::test]
async fn golden_evidence_pack() {
    use chrono::TimeZone as _;
    use supplywatch::registry::ReviewOutcome;
    use supplywatch::store::{NewQuestionnaire, OpenMode, Review, Store};

    let at = |d: u32| {
        chrono::Utc
            .with_ymd_and_hms(2026, 3, d, 9, 0, 0)
            .single()
            .unwrap()
    };
    let scratch = Scratch::new();
    std::fs::create_dir(scratch.path("data")).unwrap();
    let accept = "[[accept]]\nsupplier = \"acme\"\ncheck = \"certification.expired\"\ntarget = \"SOC 2\"\n\
                  until = 2027-01-31\nreason = \"Renewal audit booked\"\napproved_by = \"ciso@bank.example\"\n";
    let path = scratch.write("sw.toml", config(accept));
    let config = supplywatch::config::Config::load(&path).unwrap();
    let store = Store::open(&scratch.path("data/watch.db"), OpenMode::Create)
        .await
        .unwrap();
    store
        .sync(
            &config.suppliers,
            &supplywatch::pipeline::registry_policy(&config),
            "test",
            at(1),
        )
        .await
        .unwrap();
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
    store
        .questionnaire_send(
            &NewQuestionnaire {
                supplier: "acme".to_owned(),
                template: "sig lite/2026".to_owned(),
                sent_on: day(2),
                due: day(20),
                sent_to: Some("security@acme.example".to_owned()),
            },
            at(2),
            "test",
        )
        .await
        .unwrap();
    let answers = scratch.write("answers.pdf", b"%PDF-1.4 the answers\n");
    let document = store.store_document(&answers).unwrap();
    store
        .questionnaire_answer("acme", day(9), Some(&document), at(9), "test")
        .await
        .unwrap();
    store
        .questionnaire_review(
            "acme",
            &Review {
                reviewed_on: day(12),
                score: 71,
                reviewer: "auditor@bank.example".to_owned(),
                notes: Some(HOSTILE.to_owned()),
                outcome: ReviewOutcome::Remediation,
            },
            at(12),
            "test",
        )
        .await
        .unwrap();
    for d in [13, 20] {
        let notifier = supplywatch::escalate::Escalation::new(&config, None, at(d));
        supplywatch::pipeline::run_obligations_with(
            &store,
            &config,
            at(d),
            "daemon",
            Some(&notifier),
        )
        .await
        .unwrap();
    }
    let pack = supplywatch::report::evidence::gather(
        &store,
        "acme",
        &config.questionnaires,
        at(21),
        supplywatch::pipeline::local_day(&config, at(21)),
    )
    .await
    .unwrap()
    .unwrap();
    store.close().await;
    let out = scratch.path("pack");
    supplywatch::report::evidence::write(pack, &out, false).unwrap();

    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/evidence");
    for name in ["index.html", "evidence.json", "AUDIT-CHAIN-HEAD.txt"] {
        let written = without_hashes(&read(&out.join(name)));
        let path = golden.join(name);
        if std::env::var_os("SUPPLYWATCH_BLESS").is_some() {
            std::fs::create_dir_all(&golden).unwrap();
            std::fs::write(&path, &written).unwrap();
            continue;
        }
        assert_eq!(
            written,
            read(&path),
            "{name} differs from its golden file (SUPPLYWATCH_BLESS=1 rewrites it)"
        );
    }
}
