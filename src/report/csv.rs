//! `--format csv`: the one CSV writer every command uses, and the rows of
//! each command that prints CSV (`suppliers`, `findings`, `status`,
//! `questionnaire list`, `obligations`, `check`, `concentration`). Pure: data in, text out.
//!
//! RFC 4180: comma separated, CRLF line ends, one header row, a field
//! quoted when it holds `,` `"` CR or LF, a quote inside doubled.
//!
//! Formula defusing: supplier names, summaries and notes are text others
//! control, and a spreadsheet evaluates a cell that starts with `=`, `+`,
//! `-` or `@` (and, in some, TAB or CR) as a formula — `=HYPERLINK(…)`
//! leaks data or runs commands on the reader's machine. Every such cell
//! gets a leading `'`, which spreadsheets read as "text", so nothing is
//! evaluated. A cell that is only a number (`-3`, `+1.5`) is left as it
//! is: a spreadsheet reads it as that number and nothing else, so a
//! negative `trend` stays a number.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, Utc};

use crate::checks::SupplierResult;
use crate::lifecycle::{LifecyclePolicy, Mark};
use crate::registry::{Questionnaire, ReviewOutcome};
use crate::store::{StoredAcceptance, StoredFinding, StoredSupplier};

use super::check::{Marks, Scores, mark_of};
use super::finding_state;
use super::status::StatusLine;

/// What starts a formula in one spreadsheet or another.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `cell`, with a `'` in front when its first character would make a
/// spreadsheet evaluate it.
#[must_use]
pub fn defuse(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) && !is_plain_number(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A sign, digits, at most one `.` between digits: a number and nothing
/// more.
fn is_plain_number(cell: &str) -> bool {
    let digits = cell.strip_prefix(['-', '+']).unwrap_or(cell);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// One field, defused, quoted when it must be.
fn push_field(out: &mut String, cell: &str) {
    let cell = defuse(cell);
    if cell.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&cell.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&cell);
    }
}

fn push_record<S: AsRef<str>>(out: &mut String, cells: &[S]) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_field(out, cell.as_ref());
    }
    out.push_str("\r\n");
}

/// The document: `header`, then one record per row, every line ending CRLF.
#[must_use]
pub fn csv(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut out = String::new();
    push_record(&mut out, header);
    for row in rows {
        push_record(&mut out, &row);
    }
    out
}

/// An absent value is an empty cell.
fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// A moment as RFC 3339, UTC, to the second.
fn moment(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Lists in one cell, `; ` between items.
fn list(items: &[String]) -> String {
    items.join("; ")
}

const SUPPLIERS_COLUMNS: &[&str] = &[
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

/// `supplywatch suppliers --format csv`: one row per supplier.
#[must_use]
pub fn suppliers_csv(suppliers: &[StoredSupplier]) -> String {
    csv(
        SUPPLIERS_COLUMNS,
        suppliers.iter().map(|s| {
            vec![
                s.id.clone(),
                s.name.clone(),
                s.criticality.as_str().to_owned(),
                s.status.as_str().to_owned(),
                opt(s.owner.as_ref()),
                opt(s.security_contact.as_ref()),
                opt(s.contract_reference.as_ref()),
                opt(s.contract_start),
                opt(s.contract_end),
                list(&s.domains),
                list(&s.endpoints),
                s.in_registry.to_string(),
            ]
        }),
    )
}

const FINDINGS_COLUMNS: &[&str] = &[
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

/// `supplywatch findings --format csv`: one row per stored finding;
/// `state_note` is the table's STATE words.
#[must_use]
pub fn findings_csv(
    findings: &[StoredFinding],
    acceptances: &[StoredAcceptance],
    policy: &LifecyclePolicy,
) -> String {
    csv(
        FINDINGS_COLUMNS,
        findings.iter().map(|f| {
            vec![
                f.supplier.clone(),
                f.severity.as_str().to_owned(),
                f.state.as_str().to_owned(),
                f.check.clone(),
                f.target.clone(),
                f.summary.clone(),
                moment(f.first_seen),
                opt(f.opened_at.map(moment)),
                moment(f.last_seen),
                opt(f.resolved_at.map(moment)),
                f.reopen_count.to_string(),
                finding_state(f, acceptances, policy),
            ]
        }),
    )
}

const STATUS_COLUMNS: &[&str] = &[
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

/// `supplywatch status --format csv`: one row per supplier in the
/// registry, in the order given (worst first), the never scored included.
#[must_use]
pub fn status_csv(lines: &[StatusLine<'_>]) -> String {
    csv(
        STATUS_COLUMNS,
        lines.iter().map(|l| {
            let deadline = l.next_deadline.as_ref();
            vec![
                l.id.to_owned(),
                l.name.to_owned(),
                l.criticality.to_owned(),
                l.status.to_owned(),
                opt(l.grade),
                opt(l.score),
                opt(l.trend),
                opt(l.scored_at.as_ref()),
                l.open.critical.to_string(),
                l.open.high.to_string(),
                l.open.medium.to_string(),
                l.open.low.to_string(),
                l.open.info.to_string(),
                l.pending.to_string(),
                l.accepted.to_string(),
                opt(deadline.map(|d| d.date)),
                opt(deadline.map(|d| d.what)),
                opt(deadline.map(|d| &d.subject)),
            ]
        }),
    )
}

const QUESTIONNAIRES_COLUMNS: &[&str] = &[
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
];

/// `supplywatch questionnaire list --format csv`: one row per
/// questionnaire; `state` is `overdue` when sent, unanswered and past due
/// on `today`.
#[must_use]
pub fn questionnaires_csv(list: &[Questionnaire], today: NaiveDate) -> String {
    csv(
        QUESTIONNAIRES_COLUMNS,
        list.iter().map(|q| {
            let state = if q.is_overdue(today) {
                "overdue"
            } else {
                q.state().as_str()
            };
            vec![
                q.id.to_string(),
                q.supplier.clone(),
                q.template.clone(),
                state.to_owned(),
                q.sent_on.to_string(),
                opt(q.sent_to.as_ref()),
                q.due.to_string(),
                opt(q.answered_on),
                opt(q.reviewed_on),
                opt(q.reviewer.as_ref()),
                opt(q.score),
                opt(q.outcome.map(ReviewOutcome::as_str)),
                opt(q.notes.as_ref()),
                opt(q.document.as_ref().map(|d| &d.name)),
                opt(q.document.as_ref().map(|d| &d.sha256)),
            ]
        }),
    )
}

const CHECK_COLUMNS: &[&str] = &[
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

/// `supplywatch check|obligations --format csv`: one row per finding,
/// with its supplier and the supplier's grade and score; a supplier with
/// no findings has no row.
#[must_use]
pub fn check_csv(results: &[SupplierResult], scores: &Scores, marks: &Marks) -> String {
    check_csv_part(results, scores, marks, true)
}

/// [`check_csv`] of some of a run's suppliers: its header row only with
/// `header` (the first part of a report written a part at a time).
#[must_use]
pub fn check_csv_part(
    results: &[SupplierResult],
    scores: &Scores,
    marks: &Marks,
    header: bool,
) -> String {
    let rows = results.iter().flat_map(|r| {
        let s = &r.supplier;
        let id = s.id.as_str();
        let graded = scores.get(id);
        r.findings.iter().map(move |f| {
            let mark = mark_of(marks, id, f);
            let (state, opens_after, until, by, reason) = match mark {
                Mark::Open => ("open", None, None, None, None),
                Mark::Pending { opens_after_runs } => {
                    ("pending", Some(*opens_after_runs), None, None, None)
                }
                Mark::Accepted {
                    until,
                    approved_by,
                    reason,
                } => (
                    "accepted",
                    None,
                    Some(*until),
                    Some(approved_by),
                    Some(reason),
                ),
            };
            vec![
                id.to_owned(),
                s.name.clone(),
                s.criticality.as_str().to_owned(),
                opt(graded.map(|(_, grade)| grade.as_str())),
                opt(graded.map(|(score, _)| *score)),
                f.severity.as_str().to_owned(),
                f.check.as_str().to_owned(),
                f.target.clone(),
                state.to_owned(),
                f.summary.clone(),
                opt(opens_after),
                opt(until),
                opt(by),
                opt(reason),
            ]
        })
    });
    if header {
        return csv(CHECK_COLUMNS, rows);
    }
    let mut out = String::new();
    for row in rows {
        push_record(&mut out, &row);
    }
    out
}

const CONCENTRATION_COLUMNS: &[&str] = &[
    "kind",
    "provider",
    "provider_name",
    "score",
    "suppliers",
    "critical_or_important",
    "supplier",
    "supplier_name",
    "criticality",
    "weight",
    "via",
];

/// `supplywatch concentration --format csv`: one row per provider and
/// supplier that depends on it, providers worst first.
#[must_use]
pub fn concentration_csv(c: &crate::concentration::Concentration) -> String {
    csv(
        CONCENTRATION_COLUMNS,
        c.providers.iter().flat_map(|p| {
            p.suppliers.iter().map(move |d| {
                vec![
                    p.kind.as_str().to_owned(),
                    p.key.clone(),
                    p.name.clone(),
                    p.score.to_string(),
                    p.count.to_string(),
                    p.critical_or_important.to_string(),
                    d.id.clone(),
                    d.name.clone(),
                    d.criticality.as_str().to_owned(),
                    d.weight.to_string(),
                    list(&d.via),
                ]
            })
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::{csv, defuse};

    #[test]
    fn formula_starts_are_defused_and_nothing_else() {
        for hostile in [
            "=HYPERLINK(\"http://x\",\"y\")",
            "+1+cmd|' /C calc'!A0",
            "-2+3",
            "-",
            "-.5",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            assert_eq!(defuse(hostile), format!("'{hostile}"));
        }
        for plain in [
            "Acme", "1", "-3", "+1", "-2.50", "a=b", " =x", "", "'quoted",
        ] {
            assert_eq!(defuse(plain), plain);
        }
    }

    #[test]
    fn fields_are_quoted_only_when_they_must_be() {
        let text = csv(
            &["a", "b", "c", "d", "e"],
            [vec![
                "plain".to_owned(),
                "with, comma".to_owned(),
                "say \"hi\"".to_owned(),
                "two\nlines".to_owned(),
                "cr\rhere".to_owned(),
            ]],
        );
        assert_eq!(
            text,
            "a,b,c,d,e\r\nplain,\"with, comma\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\rhere\"\r\n"
        );
    }

    #[test]
    fn a_defused_cell_is_quoted_after_the_quote_is_added() {
        let text = csv(
            &["name"],
            [vec!["=HYPERLINK(\"http://x\",\"y\")".to_owned()]],
        );
        assert_eq!(
            text,
            "name\r\n\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"\r\n"
        );
    }

    #[test]
    fn no_rows_is_the_header_alone() {
        assert_eq!(
            csv(&["id", "name"], Vec::<Vec<String>>::new()),
            "id,name\r\n"
        );
    }
}
