//! `supplier show`: one supplier's whole file — registry data, contract
//! and deadlines, questionnaires, certifications, open findings and
//! lifecycle — gathered once by the CLI, rendered here as text or JSON.

use std::fmt::Write as _;

use serde::Serialize;

use super::Table;
use super::questionnaire::questionnaire_table;
use crate::checks::paperwork::Deadline;
use crate::registry::Questionnaire;
use crate::store::{AuditEntry, ScoreRow, StoredFinding, StoredSupplier};

/// One supplier's whole file: what `supplier show` prints, and its JSON.
#[derive(Debug, Serialize)]
pub struct SupplierFile<'a> {
    pub supplier: &'a StoredSupplier,
    pub score: Option<&'a ScoreRow>,
    /// Every paperwork date, earliest first, with days from today.
    pub deadlines: Vec<DatedDeadline<'a>>,
    pub questionnaires: &'a [Questionnaire],
    /// Open, pending and accepted findings, worst first.
    pub findings: Vec<ListedFinding<'a>>,
    /// Lifecycle: onboarding, status changes, exit.
    pub lifecycle: Vec<&'a AuditEntry>,
}

#[derive(Debug, Serialize)]
pub struct ListedFinding<'a> {
    #[serde(flatten)]
    pub finding: &'a StoredFinding,
    /// The state as the table shows it: pending with the runs it needs,
    /// accepted with until when and by whom.
    pub state_note: String,
}

#[derive(Debug, Serialize)]
pub struct DatedDeadline<'a> {
    #[serde(flatten)]
    pub deadline: &'a Deadline,
    pub days_left: i64,
}

/// The `supplier show` text, as of `today`.
#[must_use]
pub fn supplier_file_text(f: &SupplierFile<'_>, today: chrono::NaiveDate) -> String {
    let mut out = facts(f);
    rest(f, today, &mut out);
    out
}

/// The registry data and score.
fn facts(f: &SupplierFile<'_>) -> String {
    let s = f.supplier;
    let mut out = String::new();
    let none = || "-".to_owned();
    let _ = writeln!(out, "{} — {}", s.id, s.name);
    let mut facts = Table::new(&["FIELD", "VALUE"]);
    let mut fact = |k: &str, v: String| facts.row(vec![k.to_owned(), v]);
    fact("criticality", s.criticality.as_str().to_owned());
    fact(
        "status",
        if s.in_registry {
            s.status.as_str().to_owned()
        } else {
            format!("{} (no longer in the config)", s.status)
        },
    );
    fact("owner", s.owner.clone().unwrap_or_else(none));
    fact(
        "security contact",
        s.security_contact.clone().unwrap_or_else(none),
    );
    fact("services", list(&s.services));
    fact("domains", list(&s.domains));
    fact("endpoints", list(&s.endpoints));
    fact(
        "contract",
        s.contract().map_or_else(none, |c| {
            let end = c
                .end
                .map_or_else(|| "open-ended".to_owned(), |e| format!("ends {e}"));
            let renew = if c.auto_renew {
                format!(", renews every {} months", c.renewal_months)
            } else {
                String::new()
            };
            format!(
                "{} from {}, {end}, {} days notice{renew}",
                c.reference, c.start, c.notice_days
            )
        }),
    );
    fact(
        "certifications",
        if s.certifications.is_empty() {
            none()
        } else {
            s.certifications
                .iter()
                .map(|c| format!("{} (expires {})", c.kind, c.expires))
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    fact("exit plan", s.exit_plan.clone().unwrap_or_else(none));
    fact("LEI", s.lei.clone().unwrap_or_else(none));
    fact("country", s.country.clone().unwrap_or_else(none));
    fact(
        "score",
        f.score.map_or_else(
            || "not scored yet".to_owned(),
            |r| {
                let unscored: Vec<String> = [(r.pending, "pending"), (r.accepted, "accepted")]
                    .iter()
                    .filter(|(n, _)| *n > 0)
                    .map(|(n, name)| format!("{n} {name}"))
                    .collect();
                format!(
                    "{} ({}), last probed {}{}",
                    r.score,
                    r.grade.as_str(),
                    r.latest.at.date_naive(),
                    if unscored.is_empty() {
                        String::new()
                    } else {
                        format!("; not scored: {}", unscored.join(", "))
                    }
                )
            },
        ),
    );
    out.push_str(&facts.render());
    out
}

/// Deadlines, questionnaires, open findings and lifecycle.
fn rest(f: &SupplierFile<'_>, today: chrono::NaiveDate, out: &mut String) {
    let _ = writeln!(out, "\nDeadlines (today is {today})");
    if f.deadlines.is_empty() {
        out.push_str("  none\n");
    } else {
        let mut t = Table::new(&["DATE", "WHAT", "OF", "WHEN"]);
        for d in &f.deadlines {
            let when = match d.days_left {
                0 => "today".to_owned(),
                n if n > 0 => format!("in {n} days"),
                n => format!("{} days ago", -n),
            };
            t.row(vec![
                d.deadline.date.to_string(),
                d.deadline.what.to_owned(),
                d.deadline.subject.clone(),
                when,
            ]);
        }
        out.push_str(&t.render());
    }

    let _ = writeln!(out, "\nQuestionnaires");
    if f.questionnaires.is_empty() {
        out.push_str("  none recorded\n");
    } else {
        out.push_str(&questionnaire_table(f.questionnaires, today));
    }

    let _ = writeln!(out, "\nFindings (open, pending, accepted)");
    if f.findings.is_empty() {
        out.push_str("  none\n");
    } else {
        let mut t = Table::new(&["SEVERITY", "STATE", "CHECK", "TARGET", "SINCE", "SUMMARY"]);
        for listed in &f.findings {
            let x = listed.finding;
            t.row(vec![
                x.severity.as_str().to_uppercase(),
                listed.state_note.clone(),
                x.check.clone(),
                x.target.clone(),
                x.opened_at.unwrap_or(x.first_seen).date_naive().to_string(),
                x.summary.clone(),
            ]);
        }
        out.push_str(&t.render());
    }

    let _ = writeln!(out, "\nLifecycle");
    if f.lifecycle.is_empty() {
        out.push_str("  nothing recorded\n");
    } else {
        let mut t = Table::new(&["AT", "CHANGE", "SOURCE"]);
        for e in &f.lifecycle {
            let change = match (e.field.as_deref(), &e.old, &e.new) {
                (Some("status"), old, new) => format!(
                    "status {} → {}",
                    old.as_deref().unwrap_or("-"),
                    new.as_deref().unwrap_or("-")
                ),
                _ => e.action.clone(),
            };
            t.row(vec![e.at.clone(), change, e.source.clone()]);
        }
        out.push_str(&t.render());
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(", ")
    }
}
