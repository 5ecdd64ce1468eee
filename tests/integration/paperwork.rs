//! The paperwork commands end to end through the binary: questionnaire
//! bookkeeping (send → answer → review) with its refusals and kept
//! documents, `obligations` as a preview on chosen days and as a recorded
//! run through the findings lifecycle, `supplier show`, and the paperwork
//! parts of the config. No network: the configs name no domains or
//! endpoints.

use std::fmt::Write as _;
use std::path::PathBuf;

use chrono::{Days, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::support::{Run, Scratch, arg, config_with, supplier};

/// The config file's name in each scratch folder.
const CONFIG: &str = "paperwork.toml";

/// Registry fields that keep `onboarding.incomplete` quiet but for the
/// reviewed questionnaire.
const ACME_FILE: &str = "owner = \"vendors@bank.example\"\nsecurity_contact = \"security@acme.example\"\nexit_plan = \"exit/acme.md\"";

/// One test's desk: a config and a database in a `data` folder of its
/// own scratch folder, so that `documents/` sits beside the database.
struct Desk {
    scratch: Scratch,
}

/// What a refused step must leave as it was.
#[derive(Debug, PartialEq)]
struct Snapshot {
    questionnaires: Value,
    audit: Value,
    findings: Value,
    documents: Vec<String>,
}

impl Desk {
    /// A desk with no config yet and no database.
    fn blank() -> Self {
        let scratch = Scratch::new();
        std::fs::create_dir(scratch.path("data")).unwrap();
        Self { scratch }
    }

    /// A desk with `config`, synced.
    fn new(config: &str) -> Self {
        let desk = Self::blank();
        desk.set_config(config);
        desk.ok(&["sync"]);
        desk
    }

    fn set_config(&self, text: &str) {
        self.scratch.write(CONFIG, text);
    }

    fn config(&self) -> PathBuf {
        self.scratch.path(CONFIG)
    }

    fn db(&self) -> PathBuf {
        self.scratch.path("data/watch.db")
    }

    fn documents_dir(&self) -> PathBuf {
        self.scratch.path("data/documents")
    }

    /// Runs the binary with `--config` and `--database` first.
    fn run(&self, args: &[&str]) -> Run {
        let (config, db) = (self.config(), self.db());
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

    /// `args --format json`, which must succeed.
    #[track_caller]
    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        self.ok(&all).json()
    }

    /// File names in `documents/`, sorted; none when it does not exist.
    fn documents(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.documents_dir()) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            questionnaires: self.json(&["questionnaire", "list"]),
            audit: self.json(&["audit"]),
            findings: self.json(&["findings", "--all"]),
            documents: self.documents(),
        }
    }

    /// Runs `args`, which must fail with `code`, say `message` on stderr
    /// and change nothing.
    #[track_caller]
    fn refused(&self, args: &[&str], code: i32, message: &str) {
        let before = self.snapshot();
        let run = self.run(args);
        run.expect_code(code);
        assert!(
            run.stderr.contains(message),
            "{args:?}: expected {message:?} in stderr:\n{}",
            run.stderr
        );
        let after = self.snapshot();
        assert_eq!(
            after.documents, before.documents,
            "{args:?} left a document behind"
        );
        assert_eq!(after, before, "{args:?} changed something");
    }

    /// The state of `supplier`'s stored `check` finding, if stored.
    fn state_of(&self, supplier: &str, check: &str) -> Option<String> {
        let all = self.json(&["findings", "--all", "--supplier", supplier]);
        let found = first(&all, |f| f["check"] == check)?;
        Some(found["state"].as_str().unwrap().to_owned())
    }

    /// `obligations --as-of day`: a preview.
    fn preview(&self, day: &str) -> Value {
        self.json(&["obligations", "--as-of", day])
    }
}

/// The first element of a JSON array matching `pred`.
fn first(list: &Value, pred: impl Fn(&Value) -> bool) -> Option<&Value> {
    list.as_array().unwrap().iter().find(|v| pred(v))
}

/// The finding `check` of `supplier` in an `obligations` report, if it fired.
fn fired<'a>(report: &'a Value, supplier: &str, check: &str) -> Option<&'a Value> {
    let s = first(&report["suppliers"], |s| s["id"] == supplier)?;
    first(&s["findings"], |f| f["check"] == check)
}

/// The day `n` days from today (UTC, the configs' zone), as TOML/CLI text.
fn in_days(n: u64) -> String {
    today().checked_add_days(Days::new(n)).unwrap().to_string()
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

/// The values of `keys` in each of `items`, to compare the fields that
/// matter in one go.
fn project<'a>(items: impl IntoIterator<Item = &'a Value>, keys: &[&str]) -> Value {
    items
        .into_iter()
        .map(|item| keys.iter().map(|k| item[*k].clone()).collect::<Value>())
        .collect()
}

/// acme (critical, complete registry data plus `extra`) and globex.
fn two_suppliers(extra: &str) -> String {
    config_with(&format!(
        "{}{}",
        supplier("acme", "Acme Cloud", &format!("{ACME_FILE}\n{extra}")),
        supplier(
            "globex",
            "Globex Mail",
            "security_contact = \"soc@globex.example\""
        ),
    ))
}

/// `questionnaire send SUPPLIER --template sig-lite --due DUE --on ON`.
fn send<'a>(supplier: &'a str, on: &'a str, due: &'a str) -> Vec<&'a str> {
    vec![
        "questionnaire",
        "send",
        supplier,
        "--template",
        "sig-lite",
        "--due",
        due,
        "--on",
        on,
    ]
}

/// `questionnaire review SUPPLIER --score 85 --reviewer … --on ON`.
fn review<'a>(supplier: &'a str, on: &'a str) -> Vec<&'a str> {
    vec![
        "questionnaire",
        "review",
        supplier,
        "--score",
        "85",
        "--reviewer",
        "reviewer@bank.example",
        "--on",
        on,
    ]
}

// ---------------------------------------------------------------------------
// Questionnaire bookkeeping

#[test]
fn a_questionnaire_goes_sent_answered_reviewed_with_every_step_audited() {
    let desk = Desk::new(&two_suppliers(""));
    let answers = desk.scratch.write("answers.pdf", b"%PDF-1.7 our answers\n");

    let sent = desk.json(&send("acme", "2026-01-05", "2026-02-05"));
    assert_eq!(sent["sent_to"], "security@acme.example", "{sent}");
    assert_eq!(sent["answered_on"], Value::Null);
    desk.ok(&[
        "questionnaire",
        "answer",
        "acme",
        "--file",
        arg(&answers),
        "--on",
        "2026-01-20",
    ]);
    let reviewed = desk.ok(&[
        "questionnaire",
        "review",
        "acme",
        "--score",
        "85",
        "--reviewer",
        "r@bank.example",
        "--outcome",
        "remediation",
        "--notes",
        "MFA for admins by Q3",
        "--on",
        "2026-02-01",
    ]);
    assert!(
        reviewed.stderr.contains("paperwork findings updated"),
        "{}",
        reviewed.stderr
    );

    let list = desk.json(&["questionnaire", "list"]);
    let sha = sha256_hex(b"%PDF-1.7 our answers\n");
    assert_eq!(
        list,
        json!([{
            "id": 1,
            "supplier": "acme",
            "template": "sig-lite",
            "sent_on": "2026-01-05",
            "sent_to": "security@acme.example",
            "due": "2026-02-05",
            "answered_on": "2026-01-20",
            "document": { "sha256": sha, "name": "answers.pdf", "size": 21 },
            "reviewed_on": "2026-02-01",
            "score": 85,
            "reviewer": "r@bank.example",
            "notes": "MFA for admins by Q3",
            "outcome": "remediation",
        }])
    );
    assert_eq!(desk.json(&["questionnaire", "list", "globex"]), json!([]));

    let audit = desk.json(&["audit", "--supplier", "acme"]);
    let steps = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "questionnaire");
    assert_eq!(
        project(steps, &["source", "field", "old", "new"]),
        json!([
            [
                "questionnaire send",
                "sent",
                null,
                "#1 sig-lite sent on 2026-01-05 to security@acme.example, due 2026-02-05"
            ],
            [
                "questionnaire answer",
                "answered",
                "sent",
                format!("#1 answered on 2026-01-20, document answers.pdf (21 bytes, sha256 {sha})")
            ],
            [
                "questionnaire review",
                "reviewed",
                "answered",
                "#1 reviewed on 2026-02-01 by r@bank.example: score 85, remediation"
            ],
        ])
    );

    // `--sent-to` overrides the security contact.
    let again = desk.json(&[
        "questionnaire",
        "send",
        "acme",
        "--template",
        "sig-core",
        "--due",
        "2026-04-01",
        "--sent-to",
        "ciso@acme.example",
        "--on",
        "2026-03-01",
    ]);
    assert_eq!(again["id"], 2);
    assert_eq!(again["sent_to"], "ciso@acme.example");
}

#[test]
#[expect(clippy::too_many_lines, reason = "one story, step after step")]
fn every_invalid_step_is_refused_and_changes_nothing() {
    let desk = Desk::new(&two_suppliers(""));
    let answers = desk.scratch.write("answers.pdf", b"answers");
    let file = arg(&answers);
    let answer = |on: &'static str| -> Vec<&str> {
        vec![
            "questionnaire",
            "answer",
            "acme",
            "--file",
            file,
            "--on",
            on,
        ]
    };
    let future = in_days(30);
    desk.ok(&send("globex", "2026-03-01", "2026-03-31"));

    desk.refused(
        &send("nobody", "2026-03-01", "2026-03-31"),
        2,
        "no supplier \"nobody\" in the database",
    );
    desk.refused(
        &answer("2026-03-01"),
        2,
        "acme has no questionnaire in progress; record one with `questionnaire send` first",
    );
    desk.refused(
        &review("acme", "2026-03-01"),
        2,
        "acme has no questionnaire in progress",
    );
    desk.refused(
        &send("acme", "2026-03-01", "2026-02-28"),
        2,
        "the due date 2026-02-28 is before the day it was sent (2026-03-01)",
    );
    desk.refused(
        &send("acme", &future, &future),
        2,
        &format!("--on {future} is in the future"),
    );
    desk.refused(
        &[
            "questionnaire",
            "send",
            "acme",
            "--template",
            " ",
            "--due",
            "2026-03-31",
            "--on",
            "2026-03-01",
        ],
        2,
        "--template is a non-empty name on one line",
    );

    desk.ok(&send("acme", "2026-03-01", "2026-03-31"));
    desk.refused(
        &send("acme", "2026-03-02", "2026-04-30"),
        2,
        "acme already has questionnaire #2 (sig-lite) in progress, sent since 2026-03-01",
    );
    desk.refused(
        &review("acme", "2026-03-05"),
        2,
        "questionnaire #2 of acme has not been answered yet (sent 2026-03-01, due 2026-03-31)",
    );
    desk.refused(
        &["questionnaire", "answer", "acme", "--on", "2026-02-27"],
        2,
        "questionnaire #2 was sent on 2026-03-01; it cannot have been answered on 2026-02-27",
    );
    let mut answer_future = answer("2026-03-10");
    answer_future[6] = &future;
    desk.refused(&answer_future, 2, "is in the future");

    desk.ok(&answer("2026-03-10"));
    let other = desk.scratch.write("other.pdf", b"other answers");
    desk.refused(
        &[
            "questionnaire",
            "answer",
            "acme",
            "--file",
            arg(&other),
            "--on",
            "2026-03-11",
        ],
        2,
        "questionnaire #2 of acme was answered already on 2026-03-10",
    );
    desk.refused(
        &review("acme", "2026-03-09"),
        2,
        "questionnaire #2 was answered on 2026-03-10; it cannot have been reviewed on 2026-03-09",
    );
    let mut too_high = review("acme", "2026-03-12");
    too_high[4] = "101";
    desk.refused(&too_high, 2, "101 is not in 0..=100");

    // globex leaves the config: on sync it has exited, and its questionnaire
    // in progress takes no more steps.
    desk.set_config(&config_with(&supplier("acme", "Acme Cloud", ACME_FILE)));
    desk.ok(&["sync"]);
    let audit = desk.json(&["audit", "--supplier", "globex"]);
    assert!(
        first(&audit, |e| e["action"] == "exit").is_some(),
        "{audit}"
    );
    let exited = "globex has exited";
    desk.refused(&send("globex", "2026-03-02", "2026-03-31"), 2, exited);
    desk.refused(
        &[
            "questionnaire",
            "answer",
            "globex",
            "--file",
            file,
            "--on",
            "2026-03-05",
        ],
        2,
        exited,
    );
    desk.refused(&review("globex", "2026-03-05"), 2, exited);

    // After all that: one document, the accepted answer's.
    assert_eq!(desk.documents(), [sha256_hex(b"answers")]);
}

#[test]
fn an_answer_dated_before_the_send_keeps_no_document() {
    let desk = Desk::new(&two_suppliers(""));
    let answers = desk.scratch.write("answers.pdf", b"early answers");
    desk.ok(&send("acme", "2026-03-01", "2026-03-31"));
    desk.refused(
        &[
            "questionnaire",
            "answer",
            "acme",
            "--file",
            arg(&answers),
            "--on",
            "2026-02-27",
        ],
        2,
        "questionnaire #1 was sent on 2026-03-01; it cannot have been answered on 2026-02-27",
    );
}

#[test]
fn documents_are_kept_once_per_content_beside_the_database() {
    let desk = Desk::new(&two_suppliers(""));
    let content = b"Section A: yes\nSection B: partially\n";
    let sha = sha256_hex(content);
    std::fs::create_dir(desk.scratch.path("inbox")).unwrap();
    let acme_file = desk.scratch.write("inbox/acme-sig-lite.pdf", content);
    let globex_file = desk.scratch.write("inbox/globex answers.xlsx", content);

    let mut answered = Vec::new();
    for (id, file) in [("acme", &acme_file), ("globex", &globex_file)] {
        desk.ok(&send(id, "2026-04-01", "2026-04-30"));
        answered.push(desk.json(&[
            "questionnaire",
            "answer",
            id,
            "--file",
            arg(file),
            "--on",
            "2026-04-10",
        ]));
    }
    let size = content.len();
    assert_eq!(
        answered[0]["document"],
        json!({ "sha256": sha, "name": "acme-sig-lite.pdf", "size": size })
    );
    assert_eq!(
        answered[1]["document"],
        json!({ "sha256": sha, "name": "globex answers.xlsx", "size": size })
    );

    assert_eq!(desk.documents(), std::slice::from_ref(&sha));
    assert_eq!(
        std::fs::read(desk.documents_dir().join(&sha)).unwrap(),
        content
    );
    let list = desk.json(&["questionnaire", "list"]);
    let docs: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|q| &q["document"])
        .collect();
    assert_eq!(docs, [&answered[0]["document"], &answered[1]["document"]]);
    // Nothing else lands in the data folder (no leftover temporary file).
    let mut data: Vec<String> = std::fs::read_dir(desk.scratch.path("data"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("watch.db"))
        .collect();
    data.sort();
    assert_eq!(data, ["documents"]);
}

#[test]
fn a_missing_answer_file_is_a_runtime_failure_and_records_nothing() {
    let desk = Desk::new(&two_suppliers(""));
    desk.ok(&send("acme", "2026-04-01", "2026-04-30"));
    let missing = desk.scratch.path("not-there.pdf");
    desk.refused(
        &[
            "questionnaire",
            "answer",
            "acme",
            "--file",
            arg(&missing),
            "--on",
            "2026-04-10",
        ],
        3,
        &format!("document {}: ", missing.display()),
    );
    assert!(desk.documents().is_empty());
    // Still waiting for its answers.
    desk.ok(&["questionnaire", "answer", "acme", "--on", "2026-04-10"]);
}

// ---------------------------------------------------------------------------
// `obligations --as-of`: previews on chosen days

/// acme: a fixed contract ending 2027-06-30 with 60 days notice (last
/// day 2027-05-01) and ISO 27001 expiring 2027-09-30; globex: a yearly
/// auto-renewing contract, first term ending 2027-03-31, 30 days notice.
fn dated_paperwork() -> String {
    config_with(&format!(
        "{}{}",
        supplier(
            "acme",
            "Acme Cloud",
            &format!(
                "{ACME_FILE}\ncontract = {{ reference = \"C-1\", start = 2024-01-01, end = 2027-06-30, notice_days = 60 }}\n\
                 certifications = [{{ kind = \"ISO 27001\", expires = 2027-09-30 }}]"
            )
        ),
        supplier(
            "globex",
            "Globex Mail",
            "contract = { reference = \"R-7\", start = 2024-04-01, end = 2027-03-31, notice_days = 30, auto_renew = true }"
        ),
    ))
}

/// Previews on each day of `on` show `supplier`'s `check`; those of `off` do not.
#[track_caller]
fn assert_fires(desk: &Desk, supplier: &str, check: &str, on: &[&str], off: &[&str]) {
    for day in on {
        assert!(
            fired(&desk.preview(day), supplier, check).is_some(),
            "{supplier} {check} should fire on {day}"
        );
    }
    for day in off {
        assert!(
            fired(&desk.preview(day), supplier, check).is_none(),
            "{supplier} {check} should not fire on {day}"
        );
    }
}

#[test]
fn previews_show_contract_and_certification_boundaries_and_record_nothing() {
    let desk = Desk::new(&dated_paperwork());
    let before = desk.snapshot();

    assert_fires(
        &desk,
        "acme",
        "contract.ending",
        &["2027-04-01", "2027-06-30"],
        &["2027-03-31", "2027-07-01"],
    );
    let ending = desk.preview("2027-04-01");
    let ending = fired(&ending, "acme", "contract.ending").unwrap();
    assert_eq!(ending["severity"], "medium");
    assert_eq!(ending["target"], "C-1");
    assert_eq!(ending["evidence"]["days_left"], 90);

    assert_fires(
        &desk,
        "acme",
        "contract.notice_deadline",
        &["2027-04-01", "2027-05-01"],
        &["2027-03-31", "2027-05-02"],
    );
    let notice = desk.preview("2027-05-01");
    let notice = fired(&notice, "acme", "contract.notice_deadline").unwrap();
    assert_eq!(notice["severity"], "high");
    assert_eq!(notice["evidence"]["notice_deadline"], "2027-05-01");
    assert_eq!(notice["evidence"]["days_left"], 0);

    assert_fires(
        &desk,
        "acme",
        "contract.expired",
        &["2027-07-01"],
        &["2027-06-30"],
    );
    assert_eq!(
        fired(&desk.preview("2027-07-01"), "acme", "contract.expired").unwrap()["severity"],
        "high"
    );

    assert_fires(
        &desk,
        "acme",
        "certification.expiring",
        &["2027-08-01", "2027-09-30"],
        &["2027-07-31", "2027-10-01"],
    );
    assert_fires(
        &desk,
        "acme",
        "certification.expired",
        &["2027-10-01"],
        &["2027-09-30"],
    );
    let expired = desk.preview("2027-10-01");
    let expired = fired(&expired, "acme", "certification.expired").unwrap();
    assert_eq!(expired["target"], "ISO 27001");
    assert_eq!(expired["evidence"]["days_left"], -1);

    // The preview is dated the day asked, and nothing was recorded.
    assert_eq!(
        desk.preview("2027-04-01")["generated_at"],
        "2027-04-01T12:00:00Z"
    );
    assert_eq!(desk.snapshot(), before);
    assert_eq!(desk.json(&["findings", "--all"]), json!([]));
}

#[test]
fn an_auto_renewing_contract_rolls_forward_and_never_expires() {
    let desk = Desk::new(&dated_paperwork());
    let before = desk.snapshot();

    // First term: notice by 2027-03-01 to stop the renewal on 2027-03-31.
    assert_fires(
        &desk,
        "globex",
        "contract.notice_deadline",
        &["2027-01-30", "2027-03-01"],
        &["2027-01-29", "2027-03-02"],
    );
    let first = desk.preview("2027-03-01");
    let first = fired(&first, "globex", "contract.notice_deadline").unwrap();
    assert_eq!(first["evidence"]["notice_deadline"], "2027-03-01");
    assert_eq!(first["evidence"]["end"], "2027-03-31");

    // Past it, the contract renewed: the next term's deadline counts.
    let next = desk.preview("2028-02-15");
    let next = fired(&next, "globex", "contract.notice_deadline").unwrap();
    assert_eq!(next["evidence"]["notice_deadline"], "2028-03-01");
    assert_eq!(next["evidence"]["end"], "2028-03-31");

    for day in ["2027-03-31", "2027-04-01", "2030-06-01"] {
        let report = desk.preview(day);
        for check in ["contract.expired", "contract.ending"] {
            assert!(
                fired(&report, "globex", check).is_none(),
                "{check} on {day}: {report}"
            );
        }
    }
    assert_eq!(desk.snapshot(), before);
}

#[test]
fn a_preview_without_a_database_creates_none() {
    let desk = Desk::blank();
    desk.set_config(&dated_paperwork());
    let run = desk.ok(&["obligations", "--as-of", "2027-04-01", "--format", "json"]);
    assert!(run.stderr.contains("no database at"), "{}", run.stderr);
    assert!(fired(&run.json(), "acme", "contract.ending").is_some());
    assert!(!desk.db().exists());
}

#[test]
fn previews_show_questionnaire_boundaries() {
    let desk = Desk::new(&two_suppliers(""));
    desk.ok(&send("acme", "2026-01-05", "2026-02-05"));
    assert_fires(
        &desk,
        "acme",
        "questionnaire.overdue",
        &["2026-02-06"],
        &["2026-02-05"],
    );
    let overdue = desk.preview("2026-02-06");
    let overdue = fired(&overdue, "acme", "questionnaire.overdue").unwrap();
    assert_eq!(overdue["severity"], "high");
    assert_eq!(overdue["evidence"]["days_late"], 1);

    // Answered on 2026-01-20: to be reviewed by 2026-02-03.
    desk.ok(&["questionnaire", "answer", "acme", "--on", "2026-01-20"]);
    assert_fires(
        &desk,
        "acme",
        "questionnaire.review_pending",
        &["2026-02-04"],
        &["2026-02-03"],
    );
    assert_fires(&desk, "acme", "questionnaire.overdue", &[], &["2026-02-06"]);
    let pending = desk.preview("2026-02-04");
    let pending = fired(&pending, "acme", "questionnaire.review_pending").unwrap();
    assert_eq!(pending["evidence"]["review_by"], "2026-02-03");
}

// ---------------------------------------------------------------------------
// `obligations`: recorded runs through the findings lifecycle

/// acme with ISO 27001 expiring on `expires` (none when `None`), and
/// globex with SOC 2 expiring on `globex` (left out when `None`).
fn certified(expires: Option<&str>, globex: Option<&str>) -> String {
    let certs = |kind: &str, day: Option<&str>| {
        day.map(|d| format!("certifications = [{{ kind = \"{kind}\", expires = {d} }}]"))
            .unwrap_or_default()
    };
    let mut text = supplier("acme", "Acme Cloud", &certs("ISO 27001", expires));
    if globex.is_some() {
        text.push_str(&supplier("globex", "Globex Mail", &certs("SOC 2", globex)));
    }
    config_with(&text)
}

#[test]
fn recorded_runs_open_and_resolve_certification_findings() {
    let soon = in_days(10);
    let later = in_days(400);
    let desk = Desk::new(&certified(Some(&soon), Some(&soon)));

    desk.ok(&["obligations"]);
    let open = desk.json(&["findings"]);
    let expiring = first(&open, |f| {
        f["supplier"] == "acme" && f["check"] == "certification.expiring"
    })
    .unwrap_or_else(|| panic!("{open}"));
    assert_eq!(expiring["state"], "open");
    assert_eq!(expiring["target"], "ISO 27001");
    assert_eq!(expiring["evidence"]["days_left"], 10);
    assert_eq!(
        desk.state_of("globex", "certification.expiring").as_deref(),
        Some("open")
    );

    // Renewed: the next run resolves it, and status shows the new date.
    desk.set_config(&certified(Some(&later), Some(&soon)));
    desk.ok(&["obligations"]);
    assert_eq!(
        desk.state_of("acme", "certification.expiring").as_deref(),
        Some("resolved")
    );
    let open = desk.json(&["findings", "--supplier", "acme"]);
    assert!(
        first(&open, |f| f["check"] == "certification.expiring").is_none(),
        "{open}"
    );
    let status = desk.json(&["status"]);
    let acme = first(&status["suppliers"], |l| l["id"] == "acme").unwrap();
    assert_eq!(
        acme["next_deadline"],
        json!({
            "supplier": "acme",
            "what": "certification expiry",
            "subject": "ISO 27001",
            "date": later,
        })
    );

    // Expiring again, then taken out of the config: reopened, then resolved.
    desk.set_config(&certified(Some(&soon), Some(&soon)));
    desk.ok(&["obligations"]);
    assert_eq!(
        desk.state_of("acme", "certification.expiring").as_deref(),
        Some("open")
    );
    desk.set_config(&certified(None, Some(&soon)));
    desk.ok(&["obligations"]);
    assert_eq!(
        desk.state_of("acme", "certification.expiring").as_deref(),
        Some("resolved")
    );

    // globex leaves the config: exited on sync, its paperwork findings
    // resolve on the next run.
    assert_eq!(
        desk.state_of("globex", "questionnaire.stale").as_deref(),
        Some("open")
    );
    desk.set_config(&certified(None, None));
    desk.ok(&["sync"]);
    desk.ok(&["obligations"]);
    for check in ["certification.expiring", "questionnaire.stale"] {
        assert_eq!(
            desk.state_of("globex", check).as_deref(),
            Some("resolved"),
            "{check}"
        );
    }
}

#[test]
fn a_review_resolves_stale_and_onboarding_findings_at_once() {
    let config = two_suppliers(
        "contract = { reference = \"C-1\", start = 2024-01-01, end = 2099-12-31, notice_days = 90 }",
    );
    let desk = Desk::new(&config);
    desk.ok(&["obligations"]);
    for check in ["questionnaire.stale", "onboarding.incomplete"] {
        assert_eq!(
            desk.state_of("acme", check).as_deref(),
            Some("open"),
            "{check}"
        );
    }
    let due = in_days(30);
    let run_step = |args: &[&str]| {
        let run = desk.ok(args);
        assert!(
            run.stderr.contains("paperwork findings updated: "),
            "{args:?}: {}",
            run.stderr
        );
        run
    };
    run_step(&[
        "questionnaire",
        "send",
        "acme",
        "--template",
        "sig-lite",
        "--due",
        &due,
    ]);
    run_step(&["questionnaire", "answer", "acme"]);
    let reviewed = run_step(&[
        "questionnaire",
        "review",
        "acme",
        "--score",
        "92",
        "--reviewer",
        "r@bank.example",
    ]);
    assert!(
        reviewed
            .stderr
            .contains("paperwork findings updated: 0 opened, 0 reopened, 2 resolved"),
        "{}",
        reviewed.stderr
    );
    for check in ["questionnaire.stale", "onboarding.incomplete"] {
        assert_eq!(
            desk.state_of("acme", check).as_deref(),
            Some("resolved"),
            "{check}"
        );
    }
    // globex, never reviewed, is still stale.
    assert_eq!(
        desk.state_of("globex", "questionnaire.stale").as_deref(),
        Some("open")
    );
}

// ---------------------------------------------------------------------------
// `supplier show`

#[test]
fn supplier_show_prints_the_whole_file() {
    let ends = in_days(45);
    let expires = in_days(400);
    let paperwork = |status: &str| {
        two_suppliers(&format!(
            "status = \"{status}\"\ncontract = {{ reference = \"C-1\", start = 2024-01-01, end = {ends} }}\n\
             certifications = [{{ kind = \"ISO 27001\", expires = {expires} }}]"
        ))
    };
    let desk = Desk::new(&paperwork("active"));
    desk.ok(&send("acme", "2026-01-05", "2026-02-05"));
    desk.ok(&["questionnaire", "answer", "acme", "--on", "2026-01-20"]);
    desk.ok(&review("acme", "2026-02-01"));
    desk.set_config(&paperwork("offboarding"));
    desk.ok(&["sync"]);
    desk.ok(&["obligations"]);

    let file = desk.json(&["supplier", "show", "acme"]);
    assert_eq!(file["supplier"]["id"], "acme");
    assert_eq!(file["supplier"]["status"], "offboarding");
    assert_eq!(file["supplier"]["contract_reference"], "C-1");

    let today = today();
    let deadlines = file["deadlines"].as_array().unwrap();
    for d in deadlines {
        let date: NaiveDate = d["date"].as_str().unwrap().parse().unwrap();
        assert_eq!(d["days_left"], (date - today).num_days(), "{d}");
        assert_eq!(d["supplier"], "acme");
    }
    // Offboarding: no next questionnaire by cadence.
    assert_eq!(
        project(deadlines, &["what", "subject", "date"]),
        json!([
            ["contract end", "C-1", ends],
            ["certification expiry", "ISO 27001", expires],
        ])
    );

    let questionnaires = file["questionnaires"].as_array().unwrap();
    assert_eq!(questionnaires.len(), 1);
    assert_eq!(questionnaires[0]["reviewed_on"], "2026-02-01");

    assert_eq!(
        project(
            file["findings"].as_array().unwrap(),
            &["check", "target", "state"]
        ),
        json!([["contract.ending", "C-1", "open"]])
    );

    let lifecycle = file["lifecycle"].as_array().unwrap();
    assert_eq!(
        project(lifecycle, &["action", "field", "old"]),
        json!([["onboard", null, null], ["update", "status", "active"]])
    );
    assert_eq!(lifecycle[1]["new"], "offboarding");

    let table = desk.ok(&["supplier", "show", "acme"]).stdout;
    for section in [
        &*format!("\nDeadlines (today is {today})\n"),
        "\nQuestionnaires\n",
        "\nFindings (open, pending, accepted)\n",
        "\nLifecycle\n",
    ] {
        assert!(table.contains(section), "{section:?} missing:\n{table}");
    }
    assert!(table.contains("status active → offboarding"), "{table}");

    desk.refused(
        &["supplier", "show", "nobody"],
        2,
        "no supplier \"nobody\" in the database; known: acme, globex",
    );
}

// ---------------------------------------------------------------------------
// The paperwork parts of the config

#[test]
fn cadence_months_moves_the_stale_boundary() {
    let cadence = "\n[questionnaires]\ncadence_months = { critical = 6 }\n";
    let desk = Desk::new(&format!("{}{cadence}", two_suppliers("")));
    desk.ok(&send("acme", "2026-01-05", "2026-02-05"));
    desk.ok(&["questionnaire", "answer", "acme", "--on", "2026-01-20"]);
    desk.ok(&review("acme", "2026-02-10"));

    assert_fires(
        &desk,
        "acme",
        "questionnaire.stale",
        &["2026-08-11"],
        &["2026-08-10"],
    );
    let stale = desk.preview("2026-08-11");
    let stale = fired(&stale, "acme", "questionnaire.stale").unwrap();
    assert_eq!(stale["evidence"]["cadence_months"], 6);
    assert_eq!(stale["evidence"]["due"], "2026-08-10");

    // Without the section: the default 12 months of a critical supplier.
    desk.set_config(&two_suppliers(""));
    assert_fires(
        &desk,
        "acme",
        "questionnaire.stale",
        &["2027-02-11"],
        &["2026-08-11", "2027-02-10"],
    );
    let stale = desk.preview("2027-02-11");
    let stale = fired(&stale, "acme", "questionnaire.stale").unwrap();
    assert_eq!(stale["evidence"]["cadence_months"], 12);
}

/// 1-based line and column of the first `needle` in `text`.
fn located(text: &str, needle: &str) -> (usize, usize) {
    text.lines()
        .enumerate()
        .find_map(|(i, line)| line.find(needle).map(|col| (i + 1, col + 1)))
        .unwrap()
}

/// `config`, written to `desk`, is refused by `validate` and by
/// `obligations` with `message` on stderr, and no database is created.
#[track_caller]
fn assert_config_refused(desk: &Desk, config: &str, message: &str) {
    desk.set_config(config);
    for args in [&["validate"][..], &["obligations"][..]] {
        let run = desk.run(args);
        run.expect_code(2);
        assert!(
            run.stderr.contains(message),
            "{args:?}: expected {message:?} in:\n{}",
            run.stderr
        );
    }
    assert!(!desk.db().exists());
}

#[test]
fn paperwork_config_errors_are_located() {
    let desk = Desk::blank();
    let path = desk.config();

    let typo = format!(
        "{}\n[questionnaires]\ncadence_months = {{ critcal = 6 }}\n",
        two_suppliers("")
    );
    let (line, col) = located(&typo, "critcal");
    assert_config_refused(
        &desk,
        &typo,
        &format!(
            "{}:{line}:{col}: questionnaires.cadence_months.critcal: unknown key; did you mean `critical`?",
            path.display()
        ),
    );

    let renewal = two_suppliers(
        "contract = { reference = \"C-1\", start = 2024-01-01, end = 2027-01-01, auto_renew = true, renewal_months = 0 }",
    );
    let (line, col) = located(&renewal, "renewal_months = 0");
    assert_config_refused(
        &desk,
        &renewal,
        &format!(
            "{}:{line}:{}: supplier[acme].contract.renewal_months: 0 is out of range (1 to 120)",
            path.display(),
            col + "renewal_months = ".len()
        ),
    );
}

/// acme with a contract and a certification both ending in 30 days, and
/// `[[accept]]` entries for `(check, target)`.
fn accepted(accepts: &[(&str, &str)]) -> String {
    let end = in_days(30);
    let mut text = two_suppliers(&format!(
        "contract = {{ reference = \"C-1\", start = 2024-01-01, end = {end} }}\n\
         certifications = [{{ kind = \"ISO 27001\", expires = {end} }}]"
    ));
    for (check, target) in accepts {
        let _ = write!(
            text,
            "\n[[accept]]\nsupplier = \"acme\"\ncheck = \"{check}\"\ntarget = \"{target}\"\n\
             until = {}\nreason = \"renewal under way\"\napproved_by = \"ciso@bank.example\"\n",
            in_days(300)
        );
    }
    text
}

#[test]
fn accepted_risks_may_name_a_contract_reference_or_certification_kind() {
    let desk = Desk::new(&accepted(&[
        ("contract.ending", "C-1"),
        ("certification.expiring", "ISO 27001"),
    ]));
    desk.ok(&["obligations"]);
    for check in ["contract.ending", "certification.expiring"] {
        assert_eq!(
            desk.state_of("acme", check).as_deref(),
            Some("accepted"),
            "{check}"
        );
    }

    assert_config_refused(
        &Desk::blank(),
        &accepted(&[("certification.expiring", "SOC 2")]),
        "accept[0].target: \"SOC 2\" is not one of acme's targets",
    );
}

/// Permission bits of a file or folder, `None` when it does not exist.
fn mode_of(path: &std::path::Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

/// The database, its `-wal`/`-shm`, the documents folder and what is in it
/// are the owner's only, whatever the umask (here the test runner's).
#[test]
fn the_database_and_documents_are_private() {
    let desk = Desk::new(&two_suppliers(""));
    let db = desk.db();
    assert_eq!(mode_of(&db), Some(0o600));
    for suffix in ["-wal", "-shm"] {
        let companion = desk.scratch.path(&format!("data/watch.db{suffix}"));
        if let Some(mode) = mode_of(&companion) {
            assert_eq!(mode, 0o600, "{}", companion.display());
        }
    }
    let answers = desk.scratch.write("answers.pdf", b"Section A: yes\n");
    desk.ok(&send("acme", "2026-04-01", "2026-04-30"));
    desk.ok(&[
        "questionnaire",
        "answer",
        "acme",
        "--file",
        arg(&answers),
        "--on",
        "2026-04-10",
    ]);
    assert_eq!(mode_of(&desk.documents_dir()), Some(0o700));
    let stored = desk.documents();
    assert_eq!(stored.len(), 1);
    assert_eq!(mode_of(&desk.documents_dir().join(&stored[0])), Some(0o600));
    assert_eq!(mode_of(&db), Some(0o600));
}
