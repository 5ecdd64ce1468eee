//! The weekly digest's HTML part, parsed as a browser would: hostile
//! strings in every field the digest shows are text, never markup.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use scraper::{Html, Node};
use serde_json::json;
use supplywatch::checks::Severity;
use supplywatch::checks::paperwork::Deadline;
use supplywatch::digest::{DigestInput, DigestSupplier, EndingAcceptance, Undelivered, render};
use supplywatch::registry::Questionnaire;
use supplywatch::store::{FindingState, StoredFinding};

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(1)>";
const AMP: &str = "&amp;";

/// The three hostile strings in one.
fn hostile(what: &str) -> String {
    format!("{what} {SCRIPT} {IMG} {AMP}")
}

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, 8, 0, 0).unwrap()
}

fn date(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, day).unwrap()
}

fn finding(supplier: &str) -> StoredFinding {
    StoredFinding {
        supplier: supplier.to_owned(),
        check: "tls.cert_expired".to_owned(),
        target: hostile("target"),
        state: FindingState::Open,
        severity: Severity::Critical,
        summary: hostile("summary"),
        evidence: json!({}),
        first_seen: at(10),
        last_seen: at(16),
        opened_at: Some(at(10)),
        resolved_at: None,
        changed_at: at(10),
        reopen_count: 0,
        last_resolved_at: None,
        resolution: None,
        streak: 3,
    }
}

/// A week in which every string a supplier, a server or the register
/// controls is hostile.
fn hostile_week() -> DigestInput {
    let mut resolved = finding("evil");
    resolved.state = FindingState::Resolved;
    resolved.resolved_at = Some(at(13));
    DigestInput {
        generated_at: at(16),
        today: date(16),
        since: at(9),
        suppliers: vec![DigestSupplier {
            id: "evil".to_owned(),
            name: hostile("name"),
            criticality: "critical".to_owned(),
            grade: Some("F"),
            score: Some(40),
            grade_week_ago: Some("B"),
            score_week_ago: Some(85),
        }],
        new_findings: vec![finding("evil")],
        resolved_findings: vec![resolved],
        deadlines: vec![Deadline {
            supplier: "evil".to_owned(),
            what: "notice",
            subject: hostile("contract"),
            date: date(20),
        }],
        overdue_questionnaires: vec![Questionnaire {
            id: 7,
            supplier: "evil".to_owned(),
            template: hostile("template"),
            sent_on: date(1),
            sent_to: Some("security@evil.test".to_owned()),
            due: date(5),
            answered_on: None,
            document: None,
            reviewed_on: None,
            score: None,
            reviewer: Some(hostile("reviewer")),
            notes: Some(hostile("note")),
            outcome: None,
        }],
        worst_open: vec![finding("evil")],
        open_counts: [1, 0, 0, 0, 0],
        undelivered: vec![Undelivered {
            recipient: hostile("recipient"),
            subject: hostile("subject"),
            queued_at: at(14),
            attempts: 5,
            last_error: hostile("error"),
        }],
        ending_acceptances: vec![EndingAcceptance {
            supplier: "evil".to_owned(),
            check: "tls.no_tls13".to_owned(),
            target: Some(hostile("accepted target")),
            until: date(20),
            approved_by: hostile("approver"),
            reason: hostile("reason"),
        }],
        blind_since: None,
    }
}

#[test]
fn hostile_strings_are_only_text_in_the_digest_html() {
    let digest = render(&hostile_week());
    let doc = Html::parse_document(&digest.html);

    for node in doc.tree.nodes() {
        let Node::Element(element) = node.value() else {
            continue;
        };
        let tag = element.name();
        assert!(
            !matches!(tag, "script" | "img" | "iframe" | "svg" | "object" | "a"),
            "a <{tag}> element in the digest:\n{}",
            digest.html
        );
        for (name, value) in element.attrs() {
            assert!(
                !name.to_ascii_lowercase().starts_with("on"),
                "an {name}={value:?} attribute on <{tag}> in the digest:\n{}",
                digest.html
            );
            assert!(
                !value.contains("alert"),
                "hostile text in <{tag} {name}={value:?}>:\n{}",
                digest.html
            );
        }
    }

    // Each hostile value is there as the characters it was, in the text.
    let text: String = doc.root_element().text().collect();
    for what in [
        "name",
        "summary",
        "target",
        "contract",
        "template",
        "recipient",
        "subject",
        "error",
        "approver",
        "reason",
        "accepted target",
    ] {
        assert!(
            text.contains(&hostile(what)),
            "{what}: not shown as text:\n{text}"
        );
    }
    // `&amp;` is shown as typed, not as `&`.
    assert!(
        text.contains("summary <script>alert(1)</script> \"><img src=x onerror=alert(1)> &amp;")
    );
}
