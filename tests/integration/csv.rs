//! `--format csv` end to end: each command that prints it is read back
//! with an RFC 4180 parser of its own; hostile names come out defused and
//! quoted; the other commands refuse it with exit code 2.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use chrono::{Days, Utc};

use crate::support::{Run, Scratch, config_with};

/// The names a spreadsheet would evaluate, or that break naive CSV.
const HOSTILE: &[(&str, &str)] = &[
    ("hyperlink", r#"=HYPERLINK("http://x","y")"#),
    ("comma", r#"Comma, "Quoted" Ltd"#),
    ("plus", "+1+cmd|' /C calc'!A0"),
    ("number", "-3"),
    ("minus", "-2+3"),
    ("at", "@SUM(A1)"),
];

/// One `[[supplier]]` per hostile name, `extra` lines in the first.
fn hostile_config(extra: &str) -> String {
    let mut text = String::from("[probe]\nallow_private_targets = true\ntimeout_secs = 2\n\n");
    for (i, (id, name)) in HOSTILE.iter().enumerate() {
        // TOML basic strings: a quote is escaped.
        let name = name.replace('"', "\\\"");
        let more = if i == 0 { extra } else { "" };
        let _ = write!(
            text,
            "[[supplier]]\nid = \"{id}\"\nname = \"{name}\"\ncriticality = \"critical\"\n{more}\n\n"
        );
    }
    config_with(&text)
}

/// An RFC 4180 reader that insists on CRLF line ends: the records of
/// `text`, each a list of fields.
fn parse(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let (mut record, mut field) = (Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' => {
                assert!(
                    field.is_empty(),
                    "a quote inside an unquoted field: {text:?}"
                );
                quoted = true;
            }
            ',' => record.push(std::mem::take(&mut field)),
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF: {text:?}");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            '\n' => panic!("a bare LF ends a line: {text:?}"),
            c => field.push(c),
        }
    }
    assert!(!quoted, "an unclosed quote: {text:?}");
    assert!(
        field.is_empty() && record.is_empty(),
        "the last line does not end in CRLF: {text:?}"
    );
    records
}

/// A CSV document: its header and its rows, every row as long as the header.
struct Csv {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Csv {
    #[track_caller]
    fn of(run: &Run) -> Self {
        run.expect_code(0);
        let mut records = parse(&run.stdout);
        assert!(!records.is_empty(), "no header:\n{}", run.stderr);
        let header = records.remove(0);
        for row in &records {
            assert_eq!(row.len(), header.len(), "{row:?} under {header:?}");
        }
        Self {
            header,
            rows: records,
        }
    }

    fn column(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.header))
    }

    /// The values of column `name`, row by row.
    fn values(&self, name: &str) -> Vec<&str> {
        let i = self.column(name);
        self.rows.iter().map(|r| r[i].as_str()).collect()
    }

    /// The value of column `name` in the first row whose `key` is `value`.
    fn get(&self, key: &str, value: &str, name: &str) -> &str {
        let (k, i) = (self.column(key), self.column(name));
        let row = self
            .rows
            .iter()
            .find(|r| r[k] == value)
            .unwrap_or_else(|| panic!("no row with {key} = {value}"));
        &row[i]
    }

    #[track_caller]
    fn expect_header(&self, names: &[&str]) {
        assert_eq!(self.header, names);
    }
}

/// What each hostile name reads as in a cell.
#[track_caller]
fn assert_defused(csv: &Csv, id_column: &str, name_column: &str) {
    for (id, expected) in [
        ("hyperlink", r#"'=HYPERLINK("http://x","y")"#),
        ("comma", r#"Comma, "Quoted" Ltd"#),
        ("plus", "'+1+cmd|' /C calc'!A0"),
        ("number", "-3"),
        ("minus", "'-2+3"),
        ("at", "'@SUM(A1)"),
    ] {
        assert_eq!(csv.get(id_column, id, name_column), expected, "{id}");
    }
}

// The column names are an interface scripts read: spelt out here, not
// taken from the code, so that a rename fails a test.
const SUPPLIERS: &[&str] = &[
    "id",
    "name",
    "criticality",
    "status",
    "owner",
    "security_contact",
    "contract_reference",
    "contract_start",
    "contract_end",
    "domains",
    "endpoints",
    "in_registry",
];

const CHECK: &[&str] = &[
    "supplier_id",
    "supplier_name",
    "criticality",
    "grade",
    "score",
    "severity",
    "check",
    "target",
    "state",
    "summary",
    "opens_after_runs",
    "accepted_until",
    "approved_by",
    "accepted_reason",
];

const STATUS: &[&str] = &[
    "id",
    "name",
    "criticality",
    "status",
    "grade",
    "score",
    "trend",
    "scored_at",
    "open_critical",
    "open_high",
    "open_medium",
    "open_low",
    "open_info",
    "pending",
    "accepted",
    "next_deadline",
    "next_deadline_what",
    "next_deadline_subject",
];

const FINDINGS: &[&str] = &[
    "supplier_id",
    "severity",
    "state",
    "check",
    "target",
    "summary",
    "first_seen",
    "opened_at",
    "last_seen",
    "resolved_at",
    "reopen_count",
    "state_note",
];

#[test]
fn suppliers_status_obligations_and_findings_print_defused_csv() {
    let scratch = Scratch::new();
    scratch.write(
        "supplywatch.toml",
        hostile_config("domains = [\"hyperlink.example\", \"www.hyperlink.example\"]"),
    );
    scratch.run(&["sync"]).expect_code(0);

    let run = scratch.run(&["suppliers", "--format", "csv"]);
    let suppliers = Csv::of(&run);
    suppliers.expect_header(SUPPLIERS);
    assert_eq!(suppliers.rows.len(), HOSTILE.len());
    assert_defused(&suppliers, "id", "name");
    assert_eq!(
        suppliers.get("id", "hyperlink", "domains"),
        "hyperlink.example; www.hyperlink.example"
    );
    assert_eq!(suppliers.get("id", "plus", "criticality"), "critical");
    // Quoted as RFC 4180 says, the defusing quote inside the field.
    assert!(
        run.stdout
            .contains(r#","'=HYPERLINK(""http://x"",""y"")","#),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(r#","Comma, ""Quoted"" Ltd","#));

    // Never scored: every supplier a row all the same.
    let status = Csv::of(&scratch.run(&["status", "--format", "csv"]));
    status.expect_header(STATUS);
    assert_eq!(status.rows.len(), HOSTILE.len());
    assert_defused(&status, "id", "name");
    assert_eq!(status.get("id", "minus", "grade"), "");
    assert_eq!(status.get("id", "minus", "open_high"), "0");

    // The preview's CSV holds the findings its JSON holds, one row each.
    let preview = Csv::of(&scratch.run(&["obligations", "--dry-run", "--format", "csv"]));
    preview.expect_header(CHECK);
    let json = scratch.run(&["obligations", "--dry-run", "--format", "json"]);
    json.expect_code(0);
    let expected: BTreeSet<(String, String)> = json.json()["suppliers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["findings"].as_array().unwrap().iter().map(|f| {
                (
                    s["id"].as_str().unwrap().to_owned(),
                    f["check"].as_str().unwrap().to_owned(),
                )
            })
        })
        .collect();
    assert!(!expected.is_empty());
    let got: BTreeSet<(String, String)> = preview
        .values("supplier_id")
        .into_iter()
        .zip(preview.values("check"))
        .map(|(s, c)| (s.to_owned(), c.to_owned()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(preview.rows.len(), expected.len());
    assert_defused(&preview, "supplier_id", "supplier_name");
    assert!(preview.values("state").iter().all(|s| *s == "open"));

    // Recorded, then listed by `findings`; the note goes to stderr.
    let recorded = scratch.run(&["obligations", "--format", "csv"]);
    assert_eq!(Csv::of(&recorded).rows.len(), expected.len());
    assert!(recorded.stderr.contains("saved run"), "{}", recorded.stderr);
    let findings = Csv::of(&scratch.run(&["findings", "--format", "csv"]));
    findings.expect_header(FINDINGS);
    assert_eq!(findings.rows.len(), expected.len());
    assert!(findings.values("state").iter().all(|s| *s == "open"));
    assert!(
        findings
            .values("supplier_id")
            .iter()
            .all(|s| HOSTILE.iter().any(|(id, _)| id == s))
    );
}

#[test]
fn questionnaire_list_quotes_a_note_over_two_lines() {
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", hostile_config(""));
    scratch.run(&["sync"]).expect_code(0);
    let today = Utc::now().date_naive();
    let sent = today.checked_sub_days(Days::new(3)).unwrap().to_string();
    let due = today.checked_add_days(Days::new(30)).unwrap().to_string();
    let step = |args: &[&str]| scratch.run(args).expect_code(0).stdout.clone();
    step(&[
        "questionnaire",
        "send",
        "plus",
        "--template",
        "sig-lite",
        "--due",
        &due,
        "--on",
        &sent,
        "--sent-to",
        "soc@plus.example",
    ]);
    step(&["questionnaire", "answer", "plus", "--on", &sent]);
    let notes = "=cmd|' /C calc'!A0\nsecond line, with \"quotes\"";
    step(&[
        "questionnaire",
        "review",
        "plus",
        "--score",
        "85",
        "--reviewer",
        "reviewer@bank.example",
        "--notes",
        notes,
        "--on",
        &sent,
    ]);
    step(&[
        "questionnaire",
        "send",
        "minus",
        "--template=-2+3 template",
        "--due",
        &due,
    ]);

    let list = Csv::of(&scratch.run(&["questionnaire", "list", "--format", "csv"]));
    list.expect_header(&[
        "id",
        "supplier_id",
        "template",
        "state",
        "sent_on",
        "sent_to",
        "due",
        "answered_on",
        "reviewed_on",
        "reviewer",
        "score",
        "outcome",
        "notes",
        "document_name",
        "document_sha256",
    ]);
    assert_eq!(list.rows.len(), 2);
    assert_eq!(
        list.get("supplier_id", "plus", "notes"),
        format!("'{notes}")
    );
    assert_eq!(list.get("supplier_id", "plus", "state"), "reviewed");
    assert_eq!(list.get("supplier_id", "plus", "score"), "85");
    assert_eq!(list.get("supplier_id", "plus", "sent_on"), sent);
    assert_eq!(
        list.get("supplier_id", "minus", "template"),
        "'-2+3 template"
    );
    assert_eq!(list.get("supplier_id", "minus", "state"), "sent");
    assert_eq!(list.get("supplier_id", "minus", "reviewed_on"), "");

    // One supplier's, and none: the header alone.
    let one = Csv::of(&scratch.run(&["questionnaire", "list", "minus", "--format", "csv"]));
    assert_eq!(one.rows.len(), 1);
    let none = scratch.run(&["questionnaire", "list", "at", "--format", "csv"]);
    assert_eq!(Csv::of(&none).rows.len(), 0);
    assert_eq!(none.stdout.matches("\r\n").count(), 1);
}

#[test]
fn check_prints_one_row_per_finding_and_none_for_a_clean_supplier() {
    // A port on loopback that nothing listens on: unreachable at once.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let scratch = Scratch::new();
    scratch.write(
        "supplywatch.toml",
        hostile_config(&format!("endpoints = [\"127.0.0.1:{port}\"]")),
    );
    let run = scratch.run(&["check", "--format", "csv"]);
    let check = Csv::of(&run);
    check.expect_header(CHECK);
    assert!(!check.rows.is_empty());
    // Only the supplier with an endpoint has findings; the others no row.
    assert!(
        check
            .values("supplier_id")
            .iter()
            .all(|s| *s == "hyperlink")
    );
    assert!(
        check
            .values("supplier_name")
            .iter()
            .all(|s| *s == r#"'=HYPERLINK("http://x","y")"#)
    );
    assert!(check.values("check").contains(&"tls.unreachable"));
    let target = format!("127.0.0.1:{port}");
    assert!(check.values("target").iter().all(|t| *t == target));
    // A first run: damped, graded as if none had fired.
    assert!(check.values("state").iter().all(|s| *s == "pending"));
    assert!(check.values("grade").iter().all(|g| !g.is_empty()));
    // Progress on stderr, stdout the CSV alone.
    assert!(run.stderr.contains("probing"), "{}", run.stderr);
}

#[test]
fn commands_without_csv_refuse_it_with_exit_code_2() {
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", hostile_config(""));
    for (args, name) in [
        (&["sync", "--format", "csv"][..], "sync"),
        (&["validate", "--format", "csv"], "validate"),
        (&["--format", "csv", "audit"], "audit"),
        (
            &[
                "questionnaire",
                "send",
                "plus",
                "--template",
                "t",
                "--due",
                "2031-01-01",
                "--format",
                "csv",
            ],
            "questionnaire send",
        ),
        (&["supplier", "show", "plus", "--format", "csv"], "supplier"),
    ] {
        let run = scratch.run(args);
        run.expect_code(2);
        assert!(
            run.stderr.contains(&format!(
                "`{name}` prints table or json; --format csv is for suppliers, findings, status, questionnaire list, obligations, check"
            )),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
    // Refused before it ran: `sync` made no database.
    assert!(!scratch.path("supplywatch.db").exists());
}
