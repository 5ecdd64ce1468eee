//! The paperwork checks: contracts, questionnaires, certifications and
//! onboarding, judged on one calendar day. Pure: the registry entry and the
//! stored questionnaires in, findings and deadlines out.
//!
//! Boundaries (the catalogue's, day by day, `today` counted in the
//! daemon's time zone):
//! - `contract.expired`: the day after the end date of a fixed contract;
//! - `contract.ending`: from 90 days before the end of a fixed contract up
//!   to and including the end date;
//! - `contract.notice_deadline`: from 30 days before the last day to give
//!   notice up to and including that day. An auto-renewing contract rolls
//!   forward: once a deadline passes, the next term's deadline counts;
//! - `certification.expired` the day after `expires`; `certification.expiring`
//!   from 60 days before up to and including it;
//! - `questionnaire.overdue` the day after its due date while unanswered;
//!   `questionnaire.review_pending` from the 15th day after the answer while
//!   unreviewed; `questionnaire.stale` the day after the last review plus
//!   the tier's cadence (or at once, when nothing was ever reviewed).

use crate::registry::CheckId;
use chrono::{Days, Months, NaiveDate};
use serde::Serialize;
use serde_json::json;

use super::{Finding, Policy, Scope, Severity, SupplierResult, sort_findings};
use crate::config::QuestionnaireConfig;
use crate::registry::{
    Certification, Contract, Criticality, Questionnaire, QuestionnaireState, Supplier,
    SupplierStatus,
};

/// The check families this module owns.
pub const FAMILIES: [&str; 5] = [
    "contract",
    "questionnaire",
    "certification",
    "onboarding",
    "register",
];

/// `contract.ending` fires this many days before the end.
pub const CONTRACT_ENDING_DAYS: i64 = 90;
/// `contract.notice_deadline` fires this many days before the deadline.
pub const NOTICE_DAYS: i64 = 30;
/// `certification.expiring` fires this many days before expiry.
pub const CERTIFICATION_DAYS: i64 = 60;
/// An answered questionnaire is to be reviewed within this many days.
pub const REVIEW_DAYS: u64 = 14;

/// What the paperwork checks look at for one supplier.
#[derive(Debug, Clone, Copy)]
pub struct Paperwork<'a> {
    pub supplier: &'a str,
    pub criticality: Criticality,
    pub status: SupplierStatus,
    pub contract: Option<&'a Contract>,
    pub certifications: &'a [Certification],
    /// Its questionnaires, any order.
    pub questionnaires: &'a [Questionnaire],
    /// Fields an important or critical supplier must have, when missing:
    /// `owner`, `contract`, `exit plan`, `security contact`.
    pub missing_fields: &'a [&'static str],
}

/// The registry fields `onboarding.incomplete` asks of a critical or
/// important supplier, that `supplier` lacks.
#[must_use]
pub fn missing_fields(supplier: &Supplier) -> Vec<&'static str> {
    [
        ("owner", supplier.owner.is_none()),
        ("contract", supplier.contract.is_none()),
        ("exit plan", supplier.exit_plan.is_none()),
        ("security contact", supplier.security_contact.is_none()),
    ]
    .into_iter()
    .filter_map(|(name, missing)| missing.then_some(name))
    .collect()
}

/// One date that matters, for `status`, `supplier show` and the digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deadline {
    pub supplier: String,
    /// `notice`, `contract end`, `renewal`, `questionnaire due`,
    /// `review due`, `next questionnaire` or `certification expiry`.
    pub what: &'static str,
    /// The contract reference, certification kind or questionnaire.
    pub subject: String,
    pub date: NaiveDate,
}

fn add_days(day: NaiveDate, n: u64) -> NaiveDate {
    day.checked_add_days(Days::new(n)).unwrap_or(NaiveDate::MAX)
}

/// Days from `today` to `date` (negative when past).
fn days_until(today: NaiveDate, date: NaiveDate) -> i64 {
    (date - today).num_days()
}

fn days_text(n: i64) -> String {
    match n {
        0 => "today".to_owned(),
        1 => "tomorrow".to_owned(),
        -1 => "yesterday".to_owned(),
        n if n > 0 => format!("in {n} days"),
        n => format!("{} days ago", -n),
    }
}

impl Paperwork<'_> {
    /// The latest reviewed questionnaire.
    fn last_review(&self) -> Option<&Questionnaire> {
        self.questionnaires
            .iter()
            .filter(|q| q.reviewed_on.is_some())
            .max_by_key(|q| (q.reviewed_on, q.id))
    }

    fn in_progress(&self) -> Option<&Questionnaire> {
        self.questionnaires
            .iter()
            .find(|q| q.state() != QuestionnaireState::Reviewed)
    }

    /// When the next reviewed questionnaire is due by the tier's cadence.
    fn next_review_due(&self, cadence: &QuestionnaireConfig) -> Option<NaiveDate> {
        let last = self.last_review()?.reviewed_on?;
        let months = cadence.cadence_months(self.criticality);
        Some(
            last.checked_add_months(Months::new(months))
                .unwrap_or(NaiveDate::MAX),
        )
    }

    /// Every paperwork finding on `today`, severities as in the catalogue.
    #[must_use]
    pub fn check(&self, today: NaiveDate, cadence: &QuestionnaireConfig) -> Vec<Finding> {
        let mut out = Vec::new();
        if self.status == SupplierStatus::Exited {
            return out;
        }
        if let Some(contract) = self.contract {
            self.contract_findings(contract, today, &mut out);
        }
        for c in self.certifications {
            let left = days_until(today, c.expires);
            let evidence = json!({ "kind": c.kind, "expires": c.expires, "days_left": left });
            if left < 0 {
                out.push(Finding {
                    check: CheckId::CertificationExpired,
                    severity: Severity::High,
                    target: c.kind.clone(),
                    summary: format!("{} expired on {} ({})", c.kind, c.expires, days_text(left)),
                    evidence,
                });
            } else if left <= CERTIFICATION_DAYS {
                out.push(Finding {
                    check: CheckId::CertificationExpiring,
                    severity: Severity::Medium,
                    target: c.kind.clone(),
                    summary: format!("{} expires on {} ({})", c.kind, c.expires, days_text(left)),
                    evidence,
                });
            }
        }
        self.questionnaire_findings(today, cadence, &mut out);
        if self.status == SupplierStatus::Active
            && matches!(
                self.criticality,
                Criticality::Critical | Criticality::Important
            )
        {
            let mut missing: Vec<&str> = self.missing_fields.to_vec();
            if self.last_review().is_none() {
                missing.push("a reviewed questionnaire");
            }
            if !missing.is_empty() {
                out.push(Finding {
                    check: CheckId::OnboardingIncomplete,
                    severity: Severity::Medium,
                    target: self.supplier.to_owned(),
                    summary: format!(
                        "{} {} supplier is active without {}",
                        article(self.criticality),
                        self.criticality,
                        missing.join(", ")
                    ),
                    evidence: json!({ "criticality": self.criticality, "missing": missing }),
                });
            }
        }
        sort_findings(&mut out);
        out
    }

    fn contract_findings(&self, c: &Contract, today: NaiveDate, out: &mut Vec<Finding>) {
        let Some(end) = c.effective_end(today) else {
            return;
        };
        let left = days_until(today, end);
        let evidence = json!({
            "reference": c.reference,
            "end": end,
            "first_end": c.end,
            "auto_renew": c.auto_renew,
            "notice_days": c.notice_days,
            "days_left": left,
        });
        if !c.auto_renew {
            if left < 0 {
                out.push(Finding {
                    check: CheckId::ContractExpired,
                    severity: Severity::High,
                    target: c.reference.clone(),
                    summary: format!(
                        "contract {} ended on {end} ({}) and the supplier is still {}",
                        c.reference,
                        days_text(left),
                        self.status
                    ),
                    evidence: evidence.clone(),
                });
            } else if left <= CONTRACT_ENDING_DAYS {
                out.push(Finding {
                    check: CheckId::ContractEnding,
                    severity: Severity::Medium,
                    target: c.reference.clone(),
                    summary: format!(
                        "contract {} ends on {end} ({})",
                        c.reference,
                        days_text(left)
                    ),
                    evidence: evidence.clone(),
                });
            }
        }
        if let Some(deadline) = c.notice_deadline(today) {
            let left = days_until(today, deadline);
            if (0..=NOTICE_DAYS).contains(&left) {
                let what = if c.auto_renew {
                    format!("to stop it renewing on {end}")
                } else {
                    format!("before it ends on {end}")
                };
                out.push(Finding {
                    check: CheckId::ContractNoticeDeadline,
                    severity: Severity::High,
                    target: c.reference.clone(),
                    summary: format!(
                        "last day to give notice on contract {} is {deadline} ({}), {what}",
                        c.reference,
                        days_text(left)
                    ),
                    evidence: json!({
                        "reference": c.reference,
                        "notice_deadline": deadline,
                        "end": end,
                        "auto_renew": c.auto_renew,
                        "notice_days": c.notice_days,
                        "days_left": left,
                    }),
                });
            }
        }
    }

    fn questionnaire_findings(
        &self,
        today: NaiveDate,
        cadence: &QuestionnaireConfig,
        out: &mut Vec<Finding>,
    ) {
        if let Some(q) = self.in_progress() {
            if q.is_overdue(today) {
                let late = days_until(q.due, today);
                out.push(Finding {
                    check: CheckId::QuestionnaireOverdue,
                    severity: Severity::High,
                    target: self.supplier.to_owned(),
                    summary: format!(
                        "questionnaire #{} ({}) sent on {} was due on {} and is {late} day{} late",
                        q.id,
                        q.template,
                        q.sent_on,
                        q.due,
                        if late == 1 { "" } else { "s" }
                    ),
                    evidence: json!({
                        "questionnaire": q.id, "template": q.template, "sent_on": q.sent_on,
                        "sent_to": q.sent_to, "due": q.due, "days_late": late,
                    }),
                });
            }
            if let (QuestionnaireState::Answered, Some(answered)) = (q.state(), q.answered_on) {
                let review_by = add_days(answered, REVIEW_DAYS);
                if today > review_by {
                    out.push(Finding {
                        check: CheckId::QuestionnaireReviewPending,
                        severity: Severity::Medium,
                        target: self.supplier.to_owned(),
                        summary: format!(
                            "questionnaire #{} ({}) answered on {answered} is not reviewed; it was to be by {review_by}",
                            q.id, q.template
                        ),
                        evidence: json!({
                            "questionnaire": q.id, "template": q.template,
                            "answered_on": answered, "review_by": review_by,
                        }),
                    });
                }
            }
        }
        if self.status != SupplierStatus::Active {
            return;
        }
        let months = cadence.cadence_months(self.criticality);
        match (self.last_review(), self.next_review_due(cadence)) {
            (Some(last), Some(due)) if today > due => out.push(Finding {
                check: CheckId::QuestionnaireStale,
                severity: Severity::Medium,
                target: self.supplier.to_owned(),
                summary: format!(
                    "the last reviewed questionnaire (#{}, {}) is older than the {months}-month cadence of {} {} supplier; a new one was due by {due}",
                    last.id,
                    last.reviewed_on.map(|d| d.to_string()).unwrap_or_default(),
                    article(self.criticality),
                    self.criticality
                ),
                evidence: json!({
                    "last_reviewed": last.reviewed_on, "questionnaire": last.id,
                    "cadence_months": months, "due": due,
                }),
            }),
            (None, _) => out.push(Finding {
                check: CheckId::QuestionnaireStale,
                severity: Severity::Medium,
                target: self.supplier.to_owned(),
                summary: format!(
                    "no questionnaire has ever been reviewed ({} {} supplier needs one every {months} months)",
                    article(self.criticality),
                    self.criticality
                ),
                evidence: json!({ "last_reviewed": null, "cadence_months": months }),
            }),
            _ => {}
        }
    }

    /// Every date that matters, past or ahead, earliest first.
    #[must_use]
    pub fn deadlines(&self, today: NaiveDate, cadence: &QuestionnaireConfig) -> Vec<Deadline> {
        let mut out = Vec::new();
        if self.status == SupplierStatus::Exited {
            return out;
        }
        let mut push = |what: &'static str, subject: &str, date: NaiveDate| {
            out.push(Deadline {
                supplier: self.supplier.to_owned(),
                what,
                subject: subject.to_owned(),
                date,
            });
        };
        if let Some(c) = self.contract {
            if let Some(d) = c.notice_deadline(today) {
                push("notice", &c.reference, d);
            }
            if let Some(end) = c.effective_end(today) {
                push(
                    if c.auto_renew {
                        "renewal"
                    } else {
                        "contract end"
                    },
                    &c.reference,
                    end,
                );
            }
        }
        for c in self.certifications {
            push("certification expiry", &c.kind, c.expires);
        }
        if let Some(q) = self.in_progress() {
            let subject = format!("#{} {}", q.id, q.template);
            match (q.state(), q.answered_on) {
                (QuestionnaireState::Answered, Some(a)) => {
                    push("review due", &subject, add_days(a, REVIEW_DAYS));
                }
                _ => push("questionnaire due", &subject, q.due),
            }
        }
        if self.status == SupplierStatus::Active
            && let Some(due) = self.next_review_due(cadence)
        {
            push("next questionnaire", "cadence", due);
        }
        out.sort_by(|a, b| a.date.cmp(&b.date).then_with(|| a.what.cmp(b.what)));
        out
    }
}

fn article(c: Criticality) -> &'static str {
    match c {
        Criticality::Important => "an",
        _ => "a",
    }
}

/// The paperwork findings of `suppliers` on `today`, with the config's
/// severity overrides applied; suppliers worst first (as [`super::evaluate`]).
#[must_use]
pub fn evaluate(
    suppliers: &[Supplier],
    questionnaires: &[Questionnaire],
    today: NaiveDate,
    cadence: &QuestionnaireConfig,
    register: &crate::register::Register,
    policy: &Policy,
) -> Vec<SupplierResult> {
    let grouped = crate::registry::questionnaires_by_supplier(questionnaires);
    let mut results: Vec<SupplierResult> = suppliers
        .iter()
        .map(|s| {
            let own = grouped.get(s.id.as_str()).map_or(&[][..], Vec::as_slice);
            let missing = missing_fields(s);
            let paperwork = Paperwork {
                supplier: s.id.as_str(),
                criticality: s.criticality,
                status: s.status,
                contract: s.contract.as_ref(),
                certifications: &s.certifications,
                questionnaires: own,
                missing_fields: &missing,
            };
            let mut findings = paperwork.check(today, cadence);
            if s.status != SupplierStatus::Exited
                && let Some(gap) = crate::register::gaps::finding(s, register, today)
            {
                findings.push(gap);
                sort_findings(&mut findings);
            }
            super::finish(s.clone(), findings, Vec::new(), policy)
        })
        .collect();
    super::sort_results(&mut results);
    results
}

/// What an obligations run covers: every paperwork family of every
/// supplier, completely (a run always sees all of its paperwork), whatever
/// the target — so a finding about a certification or contract reference
/// that left the registry resolves too.
#[must_use]
pub fn scopes<'a>(suppliers: impl IntoIterator<Item = &'a str>) -> Vec<Scope> {
    suppliers
        .into_iter()
        .flat_map(|s| {
            FAMILIES.iter().map(move |family| Scope {
                supplier: s.to_owned(),
                target: Scope::ANY_TARGET.to_owned(),
                family,
                complete: true,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
