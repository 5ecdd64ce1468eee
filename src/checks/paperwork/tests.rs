//! Boundary tests of the paperwork checks, day by day.

use crate::registry::CheckId;
use std::collections::BTreeMap;

use super::*;
use crate::registry::{EmailAddress, ReviewOutcome, SupplierId};

const REFERENCE: &str = "MSA-2024-017";
const TEMPLATE: &str = "sig-lite-2026";

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid calendar day")
}

/// A supplier with every field `onboarding.incomplete` asks for, bound by
/// an open-ended contract (which gives no finding and no deadline).
fn supplier(criticality: Criticality, status: SupplierStatus) -> Supplier {
    Supplier {
        id: "acme".parse::<SupplierId>().unwrap(),
        name: "Acme Hosting".to_owned(),
        criticality,
        status,
        owner: Some("risk@bank.example".parse::<EmailAddress>().unwrap()),
        security_contact: Some("security@acme.example".parse::<EmailAddress>().unwrap()),
        services: Vec::new(),
        domains: Vec::new(),
        endpoints: Vec::new(),
        contract: Some(contract(None, 0)),
        certifications: Vec::new(),
        exit_plan: Some("EXIT-7".to_owned()),
        lei: None,
        country: None,
        severity: BTreeMap::new(),
    }
}

/// A fixed (not renewing) contract.
fn contract(end: Option<NaiveDate>, notice_days: u32) -> Contract {
    Contract {
        reference: REFERENCE.to_owned(),
        start: day(2024, 7, 1),
        end,
        notice_days,
        auto_renew: false,
        renewal_months: 12,
    }
}

/// An auto-renewing contract whose first term ends on `end`.
fn renewing(end: NaiveDate, notice_days: u32, renewal_months: u32) -> Contract {
    Contract {
        auto_renew: true,
        renewal_months,
        ..contract(Some(end), notice_days)
    }
}

/// A complete, active, standard supplier bound by `c`.
fn contracted(c: Contract) -> Supplier {
    Supplier {
        contract: Some(c),
        ..supplier(Criticality::Standard, SupplierStatus::Active)
    }
}

/// A questionnaire sent to `acme` and not answered.
fn questionnaire(id: i64, sent_on: NaiveDate, due: NaiveDate) -> Questionnaire {
    Questionnaire {
        id,
        supplier: "acme".to_owned(),
        template: TEMPLATE.to_owned(),
        sent_on,
        sent_to: Some("security@acme.example".to_owned()),
        due,
        answered_on: None,
        document: None,
        reviewed_on: None,
        score: None,
        reviewer: None,
        notes: None,
        outcome: None,
    }
}

/// A questionnaire answered and reviewed on `on`.
fn reviewed(id: i64, on: NaiveDate) -> Questionnaire {
    Questionnaire {
        answered_on: Some(on),
        reviewed_on: Some(on),
        outcome: Some(ReviewOutcome::Accepted),
        ..questionnaire(id, on, on)
    }
}

/// A review recent enough that no tier's default cadence runs out before
/// 2029: keeps `questionnaire.stale` out of the contract and certification
/// tables.
fn up_to_date() -> Vec<Questionnaire> {
    vec![reviewed(1, day(2026, 1, 5))]
}

fn check_with(
    s: &Supplier,
    questionnaires: &[Questionnaire],
    today: NaiveDate,
    cadence: &QuestionnaireConfig,
) -> Vec<Finding> {
    let missing = missing_fields(s);
    paperwork(s, questionnaires, &missing).check(today, cadence)
}

fn check(s: &Supplier, questionnaires: &[Questionnaire], today: NaiveDate) -> Vec<Finding> {
    check_with(s, questionnaires, today, &QuestionnaireConfig::default())
}

fn deadlines(s: &Supplier, questionnaires: &[Questionnaire], today: NaiveDate) -> Vec<Deadline> {
    let missing = missing_fields(s);
    paperwork(s, questionnaires, &missing).deadlines(today, &QuestionnaireConfig::default())
}

fn paperwork<'a>(
    s: &'a Supplier,
    questionnaires: &'a [Questionnaire],
    missing: &'a [&'static str],
) -> Paperwork<'a> {
    Paperwork {
        supplier: s.id.as_str(),
        criticality: s.criticality,
        status: s.status,
        contract: s.contract.as_ref(),
        certifications: &s.certifications,
        questionnaires,
        missing_fields: missing,
    }
}

fn ids(findings: &[Finding]) -> Vec<CheckId> {
    findings.iter().map(|f| f.check).collect()
}

fn find(findings: &[Finding], check: CheckId) -> &Finding {
    findings
        .iter()
        .find(|f| f.check == check)
        .unwrap_or_else(|| panic!("no {check} in {:?}", ids(findings)))
}

fn deadline(supplier: &str, what: &'static str, subject: &str, date: NaiveDate) -> Deadline {
    Deadline {
        supplier: supplier.to_owned(),
        what,
        subject: subject.to_owned(),
        date,
    }
}

// ---- contracts -------------------------------------------------------------

#[test]
fn a_fixed_contract_is_ending_from_90_days_before_its_end_and_expired_the_day_after() {
    // No notice period: only `contract.ending` and `contract.expired` can fire.
    let s = contracted(contract(Some(day(2026, 6, 30)), 0));
    let table: &[(NaiveDate, &[CheckId])] = &[
        (day(2026, 3, 30), &[]),                          // end − 92
        (day(2026, 3, 31), &[]),                          // end − 91
        (day(2026, 4, 1), &[CheckId::ContractEnding]),    // end − 90
        (day(2026, 4, 2), &[CheckId::ContractEnding]),    // end − 89
        (day(2026, 6, 29), &[CheckId::ContractEnding]),   // end − 1
        (day(2026, 6, 30), &[CheckId::ContractEnding]),   // end
        (day(2026, 7, 1), &[CheckId::ContractExpired]),   // end + 1
        (day(2026, 7, 2), &[CheckId::ContractExpired]),   // end + 2
        (day(2028, 12, 31), &[CheckId::ContractExpired]), // long after
    ];
    for (today, expected) in table {
        let findings = check(&s, &up_to_date(), *today);
        assert_eq!(ids(&findings), *expected, "on {today}");
    }
}

#[test]
fn contract_findings_name_the_reference_and_their_catalogue_severity() {
    let s = contracted(contract(Some(day(2026, 6, 30)), 0));
    let ending = check(&s, &up_to_date(), day(2026, 6, 30));
    let f = find(&ending, CheckId::ContractEnding);
    assert_eq!(
        (f.target.as_str(), f.severity),
        (REFERENCE, Severity::Medium)
    );
    assert_eq!(f.evidence["days_left"], 0);
    let expired = check(&s, &up_to_date(), day(2026, 7, 1));
    let f = find(&expired, CheckId::ContractExpired);
    assert_eq!((f.target.as_str(), f.severity), (REFERENCE, Severity::High));
    assert_eq!(f.evidence["days_left"], -1);
    assert_eq!(f.evidence["end"], "2026-06-30");
}

#[test]
fn a_fixed_contract_notice_deadline_fires_from_30_days_before_through_the_deadline() {
    // Deadline = 2026-06-30 − 90 days = 2026-04-01, also the first day of
    // `contract.ending`.
    let s = contracted(contract(Some(day(2026, 6, 30)), 90));
    let table: &[(NaiveDate, &[CheckId])] = &[
        (day(2026, 2, 28), &[]),                                // deadline − 32
        (day(2026, 3, 1), &[]),                                 // deadline − 31
        (day(2026, 3, 2), &[CheckId::ContractNoticeDeadline]),  // deadline − 30
        (day(2026, 3, 3), &[CheckId::ContractNoticeDeadline]),  // deadline − 29
        (day(2026, 3, 31), &[CheckId::ContractNoticeDeadline]), // deadline − 1
        (
            day(2026, 4, 1), // deadline, end − 90
            &[CheckId::ContractNoticeDeadline, CheckId::ContractEnding],
        ),
        (day(2026, 4, 2), &[CheckId::ContractEnding]), // deadline + 1
        (day(2026, 6, 30), &[CheckId::ContractEnding]),
        (day(2026, 7, 1), &[CheckId::ContractExpired]),
    ];
    for (today, expected) in table {
        let findings = check(&s, &up_to_date(), *today);
        assert_eq!(ids(&findings), *expected, "on {today}");
    }
    let on_deadline = check(&s, &up_to_date(), day(2026, 4, 1));
    let f = find(&on_deadline, CheckId::ContractNoticeDeadline);
    assert_eq!((f.target.as_str(), f.severity), (REFERENCE, Severity::High));
    assert_eq!(f.evidence["notice_deadline"], "2026-04-01");
    assert_eq!(f.evidence["days_left"], 0);
}

#[test]
fn a_fixed_contract_without_a_notice_period_has_no_notice_deadline() {
    let c = contract(Some(day(2026, 6, 30)), 0);
    assert_eq!(c.notice_deadline(day(2026, 6, 1)), None);
    assert_eq!(c.effective_end(day(2026, 6, 1)), Some(day(2026, 6, 30)));
    let s = contracted(c);
    for today in [day(2026, 5, 31), day(2026, 6, 1), day(2026, 6, 30)] {
        let findings = check(&s, &up_to_date(), today);
        assert!(
            !ids(&findings).contains(&CheckId::ContractNoticeDeadline),
            "on {today}: {:?}",
            ids(&findings)
        );
    }
}

#[test]
fn an_open_ended_contract_never_fires() {
    for auto_renew in [false, true] {
        let c = Contract {
            auto_renew,
            ..contract(None, 90)
        };
        assert_eq!(c.effective_end(day(2026, 6, 1)), None);
        assert_eq!(c.notice_deadline(day(2026, 6, 1)), None);
        let s = contracted(c);
        for today in [day(2024, 7, 1), day(2026, 6, 1), day(2028, 12, 31)] {
            assert_eq!(
                ids(&check(&s, &up_to_date(), today)),
                Vec::<CheckId>::new(),
                "auto_renew {auto_renew} on {today}"
            );
        }
        let dates = deadlines(&s, &up_to_date(), day(2026, 6, 1));
        assert!(
            dates.iter().all(|d| d.subject != REFERENCE),
            "auto_renew {auto_renew}: {dates:?}"
        );
    }
}

#[test]
fn an_auto_renewing_contract_rolls_forward_once_the_notice_deadline_passes() {
    // First term ends 2026-06-30, deadline 2026-04-01; the next term ends
    // 2027-06-30, deadline 2027-04-01.
    let s = contracted(renewing(day(2026, 6, 30), 90, 12));
    let table: &[(NaiveDate, &[CheckId])] = &[
        (day(2026, 3, 1), &[]),                                 // deadline − 31
        (day(2026, 3, 2), &[CheckId::ContractNoticeDeadline]),  // deadline − 30
        (day(2026, 3, 31), &[CheckId::ContractNoticeDeadline]), // deadline − 1
        (day(2026, 4, 1), &[CheckId::ContractNoticeDeadline]),  // deadline
        (day(2026, 4, 2), &[]),                                 // rolled: 2027-04-01 ahead
        (day(2026, 6, 30), &[]),                                // the first term's end
        (day(2026, 7, 1), &[]),                                 // never expired
        (day(2027, 3, 1), &[]),                                 // next deadline − 31
        (day(2027, 3, 2), &[CheckId::ContractNoticeDeadline]),  // next deadline − 30
        (day(2027, 4, 1), &[CheckId::ContractNoticeDeadline]),  // next deadline
        (day(2027, 4, 2), &[]),
    ];
    for (today, expected) in table {
        let findings = check(&s, &up_to_date(), *today);
        assert_eq!(ids(&findings), *expected, "on {today}");
    }
    let rolled = check(&s, &up_to_date(), day(2027, 3, 2));
    let f = find(&rolled, CheckId::ContractNoticeDeadline);
    assert_eq!(f.evidence["notice_deadline"], "2027-04-01");
    assert_eq!(f.evidence["end"], "2027-06-30");
    assert_eq!(f.evidence["days_left"], 30);
}

#[test]
fn an_auto_renewing_contract_is_never_ending_or_expired() {
    let s = contracted(renewing(day(2026, 6, 30), 90, 12));
    let mut today = day(2026, 1, 1);
    while today <= day(2028, 12, 31) {
        let findings = check(&s, &up_to_date(), today);
        assert!(
            ids(&findings)
                .iter()
                .all(|id| *id == CheckId::ContractNoticeDeadline),
            "on {today}: {:?}",
            ids(&findings)
        );
        today = today.succ_opt().unwrap();
    }
}

#[test]
fn effective_end_and_notice_deadline_of_an_auto_renewing_contract() {
    // A contract, then (today, effective end, notice deadline) rows.
    type Rows = Vec<(NaiveDate, NaiveDate, NaiveDate)>;
    let table: Vec<(Contract, Rows)> = vec![
        // yearly, 90 days' notice: deadlines on 1 April
        (
            renewing(day(2026, 6, 30), 90, 12),
            vec![
                (day(2025, 1, 1), day(2026, 6, 30), day(2026, 4, 1)),
                (day(2026, 4, 1), day(2026, 6, 30), day(2026, 4, 1)),
                (day(2026, 4, 2), day(2027, 6, 30), day(2027, 4, 1)),
                (day(2027, 4, 1), day(2027, 6, 30), day(2027, 4, 1)),
                (day(2027, 4, 2), day(2028, 6, 30), day(2028, 4, 1)),
                // several terms later: the 2026 to 2029 deadlines passed
                (day(2029, 5, 1), day(2030, 6, 30), day(2030, 4, 1)),
            ],
        ),
        // monthly, 5 days' notice: each term counted from the first end, so
        // no drift after February's short month
        (
            renewing(day(2026, 1, 31), 5, 1),
            vec![
                (day(2026, 1, 26), day(2026, 1, 31), day(2026, 1, 26)),
                (day(2026, 1, 27), day(2026, 2, 28), day(2026, 2, 23)),
                (day(2026, 2, 23), day(2026, 2, 28), day(2026, 2, 23)),
                (day(2026, 2, 24), day(2026, 3, 31), day(2026, 3, 26)),
                (day(2026, 12, 27), day(2027, 1, 31), day(2027, 1, 26)),
            ],
        ),
        // three-yearly
        (
            renewing(day(2026, 6, 30), 90, 36),
            vec![
                (day(2026, 4, 1), day(2026, 6, 30), day(2026, 4, 1)),
                (day(2026, 4, 2), day(2029, 6, 30), day(2029, 4, 1)),
                (day(2029, 4, 2), day(2032, 6, 30), day(2032, 4, 1)),
            ],
        ),
        // a leap-day end comes back on leap years
        (
            renewing(day(2028, 2, 29), 0, 12),
            vec![
                (day(2028, 3, 1), day(2029, 2, 28), day(2029, 2, 28)),
                (day(2031, 3, 1), day(2032, 2, 29), day(2032, 2, 29)),
            ],
        ),
        // no notice period: the deadline is the end itself
        (
            renewing(day(2026, 6, 30), 0, 12),
            vec![
                (day(2026, 6, 30), day(2026, 6, 30), day(2026, 6, 30)),
                (day(2026, 7, 1), day(2027, 6, 30), day(2027, 6, 30)),
            ],
        ),
        // a zero-month term counts as one month
        (
            renewing(day(2026, 6, 30), 0, 0),
            vec![(day(2026, 7, 1), day(2026, 7, 30), day(2026, 7, 30))],
        ),
    ];
    for (c, rows) in &table {
        for (today, effective_end, notice_deadline) in rows {
            let row = format!(
                "end {:?}, {} days' notice, {} months, on {today}",
                c.end, c.notice_days, c.renewal_months
            );
            assert_eq!(c.effective_end(*today), Some(*effective_end), "{row}");
            assert_eq!(c.notice_deadline(*today), Some(*notice_deadline), "{row}");
        }
    }
}

#[test]
fn effective_end_of_a_fixed_contract_stays_put() {
    let c = contract(Some(day(2026, 6, 30)), 90);
    for today in [
        day(2025, 1, 1),
        day(2026, 4, 2),
        day(2026, 7, 1),
        day(2030, 1, 1),
    ] {
        assert_eq!(c.effective_end(today), Some(day(2026, 6, 30)), "on {today}");
        assert_eq!(
            c.notice_deadline(today),
            Some(day(2026, 4, 1)),
            "on {today}"
        );
    }
}

// ---- certifications --------------------------------------------------------

#[test]
fn a_certification_is_expiring_from_60_days_before_and_expired_the_day_after() {
    let s = Supplier {
        certifications: vec![Certification {
            kind: "ISO 27001".to_owned(),
            expires: day(2026, 9, 30),
        }],
        ..supplier(Criticality::Standard, SupplierStatus::Active)
    };
    let table: &[(NaiveDate, &[CheckId])] = &[
        (day(2026, 7, 30), &[]),                               // expires − 62
        (day(2026, 7, 31), &[]),                               // expires − 61
        (day(2026, 8, 1), &[CheckId::CertificationExpiring]),  // expires − 60
        (day(2026, 8, 2), &[CheckId::CertificationExpiring]),  // expires − 59
        (day(2026, 9, 29), &[CheckId::CertificationExpiring]), // expires − 1
        (day(2026, 9, 30), &[CheckId::CertificationExpiring]), // expires
        (day(2026, 10, 1), &[CheckId::CertificationExpired]),  // expires + 1
        (day(2026, 10, 2), &[CheckId::CertificationExpired]),  // expires + 2
    ];
    for (today, expected) in table {
        let findings = check(&s, &up_to_date(), *today);
        assert_eq!(ids(&findings), *expected, "on {today}");
        for f in &findings {
            assert_eq!(f.target, "ISO 27001", "on {today}");
        }
    }
    let expiring = check(&s, &up_to_date(), day(2026, 8, 1));
    assert_eq!(
        find(&expiring, CheckId::CertificationExpiring).severity,
        Severity::Medium
    );
    assert_eq!(
        find(&expiring, CheckId::CertificationExpiring).evidence["days_left"],
        60
    );
    let expired = check(&s, &up_to_date(), day(2026, 10, 1));
    assert_eq!(
        find(&expired, CheckId::CertificationExpired).severity,
        Severity::High
    );
}

#[test]
fn each_certification_is_judged_on_its_own_and_targets_its_kind() {
    let s = Supplier {
        certifications: vec![
            Certification {
                kind: "SOC 2 Type II".to_owned(),
                expires: day(2026, 5, 31),
            },
            Certification {
                kind: "ISO 27001".to_owned(),
                expires: day(2026, 7, 31),
            },
            Certification {
                kind: "ISO 22301".to_owned(),
                expires: day(2027, 1, 31),
            },
        ],
        ..supplier(Criticality::Standard, SupplierStatus::Active)
    };
    let findings = check(&s, &up_to_date(), day(2026, 6, 1));
    let got: Vec<(CheckId, &str)> = findings
        .iter()
        .map(|f| (f.check, f.target.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (CheckId::CertificationExpired, "SOC 2 Type II"),
            (CheckId::CertificationExpiring, "ISO 27001"),
        ]
    );
}

// ---- questionnaires --------------------------------------------------------

#[test]
fn a_sent_questionnaire_is_overdue_the_day_after_it_is_due() {
    let mut qs = up_to_date();
    qs.push(questionnaire(2, day(2026, 3, 1), day(2026, 3, 31)));
    let s = supplier(Criticality::Standard, SupplierStatus::Active);
    let table: &[(NaiveDate, &[CheckId])] = &[
        (day(2026, 3, 1), &[]),                              // sent
        (day(2026, 3, 30), &[]),                             // due − 1
        (day(2026, 3, 31), &[]),                             // due
        (day(2026, 4, 1), &[CheckId::QuestionnaireOverdue]), // due + 1
        (day(2026, 4, 2), &[CheckId::QuestionnaireOverdue]), // due + 2
    ];
    for (today, expected) in table {
        let findings = check(&s, &qs, *today);
        assert_eq!(ids(&findings), *expected, "on {today}");
    }
    let late = check(&s, &qs, day(2026, 4, 1));
    let f = find(&late, CheckId::QuestionnaireOverdue);
    assert_eq!((f.target.as_str(), f.severity), ("acme", Severity::High));
    assert_eq!(f.evidence["days_late"], 1);
    assert_eq!(f.evidence["questionnaire"], 2);
}

#[test]
fn an_answered_questionnaire_is_not_overdue() {
    let mut qs = up_to_date();
    qs.push(Questionnaire {
        answered_on: Some(day(2026, 4, 5)),
        ..questionnaire(2, day(2026, 3, 1), day(2026, 3, 31))
    });
    let s = supplier(Criticality::Standard, SupplierStatus::Active);
    for today in [day(2026, 4, 5), day(2026, 4, 19)] {
        assert_eq!(
            ids(&check(&s, &qs, today)),
            Vec::<CheckId>::new(),
            "on {today}"
        );
    }
}

#[test]
fn an_answered_questionnaire_is_pending_review_from_the_15th_day() {
    let mut qs = up_to_date();
    qs.push(Questionnaire {
        answered_on: Some(day(2026, 4, 10)),
        ..questionnaire(2, day(2026, 3, 20), day(2026, 4, 30))
    });
    let s = supplier(Criticality::Standard, SupplierStatus::Active);
    let table: &[(NaiveDate, &[CheckId])] = &[
        (day(2026, 4, 10), &[]),                                    // answered
        (day(2026, 4, 23), &[]),                                    // D + 13
        (day(2026, 4, 24), &[]),                                    // D + 14
        (day(2026, 4, 25), &[CheckId::QuestionnaireReviewPending]), // D + 15
        (day(2026, 4, 26), &[CheckId::QuestionnaireReviewPending]), // D + 16
        (day(2026, 5, 1), &[CheckId::QuestionnaireReviewPending]),  // past due: not overdue
    ];
    for (today, expected) in table {
        let findings = check(&s, &qs, *today);
        assert_eq!(ids(&findings), *expected, "on {today}");
    }
    let pending = check(&s, &qs, day(2026, 4, 25));
    let f = find(&pending, CheckId::QuestionnaireReviewPending);
    assert_eq!((f.target.as_str(), f.severity), ("acme", Severity::Medium));
    assert_eq!(f.evidence["review_by"], "2026-04-24");
}

#[test]
fn a_reviewed_questionnaire_is_neither_overdue_nor_pending() {
    let qs = vec![Questionnaire {
        answered_on: Some(day(2026, 4, 10)),
        reviewed_on: Some(day(2026, 5, 20)),
        ..questionnaire(2, day(2026, 3, 1), day(2026, 3, 31))
    }];
    let s = supplier(Criticality::Standard, SupplierStatus::Active);
    assert_eq!(ids(&check(&s, &qs, day(2026, 6, 1))), Vec::<CheckId>::new());
}

#[test]
fn questionnaire_stale_fires_the_day_after_the_last_review_plus_the_cadence() {
    use Criticality::{Critical, Important, Standard};
    let default = QuestionnaireConfig::default();
    let custom = QuestionnaireConfig {
        cadence_critical: 6,
        cadence_important: 9,
        cadence_standard: 18,
        ..QuestionnaireConfig::default()
    };
    // (tier, cadence, reviewed on, due = reviewed on + cadence): quiet the
    // day before and on the due date, stale the day after.
    let table = [
        // defaults: 12 / 24 / 36 months
        (Critical, &default, day(2025, 3, 15), day(2026, 3, 15)),
        (Important, &default, day(2025, 3, 15), day(2027, 3, 15)),
        (Standard, &default, day(2025, 3, 15), day(2028, 3, 15)),
        // a review on a leap day is due on 28 February
        (Critical, &default, day(2024, 2, 29), day(2025, 2, 28)),
        // custom cadences from the config: 6 / 9 / 18 months
        (Critical, &custom, day(2025, 3, 15), day(2025, 9, 15)),
        (Important, &custom, day(2025, 3, 15), day(2025, 12, 15)),
        (Standard, &custom, day(2025, 3, 15), day(2026, 9, 15)),
        // month ends clamp: 2025-08-31 + 6 months
        (Critical, &custom, day(2025, 8, 31), day(2026, 2, 28)),
    ];
    for (tier, cadence, reviewed_on, due) in table {
        let s = supplier(tier, SupplierStatus::Active);
        let qs = [reviewed(1, reviewed_on)];
        let days: [(NaiveDate, &[CheckId]); 3] = [
            (due.pred_opt().unwrap(), &[]),
            (due, &[]),
            (due.succ_opt().unwrap(), &[CheckId::QuestionnaireStale]),
        ];
        for (today, expected) in days {
            let findings = check_with(&s, &qs, today, cadence);
            let row = format!("{tier}, {cadence:?}, reviewed {reviewed_on}, on {today}");
            assert_eq!(ids(&findings), expected, "{row}");
        }
        let stale = check_with(&s, &qs, due.succ_opt().unwrap(), cadence);
        let f = find(&stale, CheckId::QuestionnaireStale);
        assert_eq!(f.evidence["due"], due.to_string(), "{tier}, {reviewed_on}");
        assert_eq!(
            f.evidence["cadence_months"],
            cadence.cadence_months(tier),
            "{tier}"
        );
    }
    // A longer cadence is still quiet when a shorter one has run out.
    for (tier, today) in [(Important, day(2026, 3, 16)), (Standard, day(2027, 3, 16))] {
        let s = supplier(tier, SupplierStatus::Active);
        let findings = check(&s, &[reviewed(1, day(2025, 3, 15))], today);
        assert_eq!(ids(&findings), Vec::<CheckId>::new(), "{tier} on {today}");
    }
    let s = supplier(Critical, SupplierStatus::Active);
    let findings = check(&s, &[reviewed(1, day(2025, 3, 15))], day(2026, 3, 16));
    let f = find(&findings, CheckId::QuestionnaireStale);
    assert_eq!((f.target.as_str(), f.severity), ("acme", Severity::Medium));
}

#[test]
fn questionnaire_stale_counts_the_latest_review_whatever_the_order() {
    let s = supplier(Criticality::Critical, SupplierStatus::Active);
    let qs = [
        reviewed(2, day(2025, 6, 1)),
        reviewed(3, day(2024, 1, 1)),
        questionnaire(4, day(2026, 5, 1), day(2026, 6, 30)),
    ];
    assert_eq!(ids(&check(&s, &qs, day(2026, 6, 1))), Vec::<CheckId>::new());
    let findings = check(&s, &qs, day(2026, 6, 2));
    assert_eq!(ids(&findings), [CheckId::QuestionnaireStale]);
    assert_eq!(
        find(&findings, CheckId::QuestionnaireStale).evidence["questionnaire"],
        2
    );
}

#[test]
fn an_active_supplier_never_reviewed_is_stale_at_once() {
    let s = supplier(Criticality::Standard, SupplierStatus::Active);
    let table: &[(&[Questionnaire], &[CheckId])] = &[
        (&[], &[CheckId::QuestionnaireStale]),
        (
            &[questionnaire(1, day(2026, 6, 1), day(2026, 6, 30))],
            &[CheckId::QuestionnaireStale],
        ),
    ];
    for (qs, expected) in table {
        let findings = check(&s, qs, day(2026, 6, 1));
        assert_eq!(ids(&findings), *expected);
        let f = find(&findings, CheckId::QuestionnaireStale);
        assert_eq!(f.evidence["last_reviewed"], serde_json::Value::Null);
        assert_eq!(f.evidence["cadence_months"], 36);
    }
}

#[test]
fn questionnaire_stale_is_only_for_active_suppliers() {
    for status in [SupplierStatus::Onboarding, SupplierStatus::Offboarding] {
        let s = supplier(Criticality::Critical, status);
        for qs in [Vec::new(), vec![reviewed(1, day(2020, 1, 1))]] {
            let findings = check(&s, &qs, day(2026, 6, 1));
            assert_eq!(ids(&findings), Vec::<CheckId>::new(), "{status}, {qs:?}");
        }
    }
}

// ---- onboarding -------------------------------------------------------------

#[test]
fn missing_fields_lists_what_an_important_supplier_needs() {
    let complete = supplier(Criticality::Critical, SupplierStatus::Active);
    assert_eq!(missing_fields(&complete), Vec::<&str>::new());
    let bare = Supplier {
        owner: None,
        contract: None,
        exit_plan: None,
        security_contact: None,
        ..complete.clone()
    };
    assert_eq!(
        missing_fields(&bare),
        ["owner", "contract", "exit plan", "security contact"]
    );
    let no_contact = Supplier {
        security_contact: None,
        ..complete
    };
    assert_eq!(missing_fields(&no_contact), ["security contact"]);
}

#[test]
fn onboarding_incomplete_for_active_critical_and_important_suppliers_only() {
    use Criticality::{Critical, Important, Standard};
    use SupplierStatus::{Active, Offboarding, Onboarding};
    // (supplier, questionnaires, missing when the finding fires)
    type Row = (
        Supplier,
        Vec<Questionnaire>,
        Option<&'static [&'static str]>,
    );
    let all: &[&str] = &[
        "owner",
        "contract",
        "exit plan",
        "security contact",
        "a reviewed questionnaire",
    ];
    let bare = |tier, status| Supplier {
        owner: None,
        contract: None,
        exit_plan: None,
        security_contact: None,
        ..supplier(tier, status)
    };
    let table: Vec<Row> = vec![
        (supplier(Critical, Active), up_to_date(), None),
        (supplier(Important, Active), up_to_date(), None),
        (
            Supplier {
                owner: None,
                ..supplier(Critical, Active)
            },
            up_to_date(),
            Some(&["owner"]),
        ),
        (
            Supplier {
                contract: None,
                exit_plan: None,
                ..supplier(Important, Active)
            },
            up_to_date(),
            Some(&["contract", "exit plan"]),
        ),
        (
            Supplier {
                security_contact: None,
                ..supplier(Critical, Active)
            },
            up_to_date(),
            Some(&["security contact"]),
        ),
        (
            supplier(Critical, Active),
            Vec::new(),
            Some(&["a reviewed questionnaire"]),
        ),
        (
            supplier(Important, Active),
            vec![questionnaire(1, day(2026, 5, 1), day(2026, 5, 31))],
            Some(&["a reviewed questionnaire"]),
        ),
        (bare(Critical, Active), Vec::new(), Some(all)),
        (bare(Important, Active), Vec::new(), Some(all)),
        (bare(Standard, Active), Vec::new(), None),
        (bare(Critical, Onboarding), Vec::new(), None),
        (bare(Important, Onboarding), Vec::new(), None),
        (bare(Critical, Offboarding), Vec::new(), None),
    ];
    for (s, qs, missing) in &table {
        let row = format!(
            "{} {}, missing {:?}, {} questionnaires",
            s.criticality,
            s.status,
            missing_fields(s),
            qs.len()
        );
        let findings = check(s, qs, day(2026, 6, 1));
        let got = findings
            .iter()
            .find(|f| f.check == CheckId::OnboardingIncomplete);
        match (got, missing) {
            (None, None) => {}
            (Some(f), Some(missing)) => {
                assert_eq!(f.evidence["missing"], serde_json::json!(missing), "{row}");
                assert_eq!(f.evidence["criticality"], s.criticality.as_str(), "{row}");
                assert_eq!((f.target.as_str(), f.severity), ("acme", Severity::Medium));
                assert!(
                    f.summary.ends_with(&missing.join(", ")),
                    "{row}: {}",
                    f.summary
                );
            }
            (got, missing) => panic!("{row}: got {got:?}, expected {missing:?}"),
        }
    }
}

// ---- exited suppliers --------------------------------------------------------

#[test]
fn an_exited_supplier_has_no_findings_and_no_deadlines() {
    let s = Supplier {
        owner: None,
        exit_plan: None,
        security_contact: None,
        contract: Some(contract(Some(day(2026, 6, 30)), 90)),
        certifications: vec![Certification {
            kind: "ISO 27001".to_owned(),
            expires: day(2026, 6, 30),
        }],
        ..supplier(Criticality::Critical, SupplierStatus::Exited)
    };
    let qs = [
        reviewed(1, day(2020, 1, 1)),
        questionnaire(2, day(2026, 1, 1), day(2026, 1, 31)),
    ];
    // Before, around and after every boundary of this supplier's paperwork.
    for today in [
        day(2026, 3, 15),
        day(2026, 4, 1),
        day(2026, 6, 30),
        day(2026, 7, 1),
    ] {
        assert_eq!(check(&s, &qs, today), Vec::new(), "on {today}");
        assert_eq!(deadlines(&s, &qs, today), Vec::new(), "on {today}");
    }
}

// ---- evaluate and scopes -------------------------------------------------------

#[test]
fn evaluate_applies_severity_overrides_and_sorts() {
    let today = day(2026, 6, 1);
    let acme = Supplier {
        certifications: vec![Certification {
            kind: "ISO 27001".to_owned(),
            expires: day(2026, 5, 1),
        }],
        severity: BTreeMap::from([(CheckId::QuestionnaireStale, Severity::Critical)]),
        ..supplier(Criticality::Standard, SupplierStatus::Active)
    };
    let beta = Supplier {
        id: "beta".parse::<SupplierId>().unwrap(),
        ..supplier(Criticality::Standard, SupplierStatus::Active)
    };
    let calm = Supplier {
        id: "calm".parse::<SupplierId>().unwrap(),
        ..supplier(Criticality::Standard, SupplierStatus::Active)
    };
    let policy = Policy {
        severity: BTreeMap::from([
            (CheckId::QuestionnaireStale, Severity::Low),
            (CheckId::CertificationExpired, Severity::Info),
        ]),
        ..Policy::default()
    };
    // beta's overdue questionnaire and calm's review belong to them only.
    let qs = [
        Questionnaire {
            supplier: "beta".to_owned(),
            ..questionnaire(1, day(2026, 4, 1), day(2026, 4, 30))
        },
        Questionnaire {
            supplier: "calm".to_owned(),
            ..reviewed(2, day(2026, 1, 5))
        },
    ];
    let results = evaluate(
        &[calm, beta, acme],
        &qs,
        today,
        &QuestionnaireConfig::default(),
        &crate::register::Register::default(),
        &policy,
    );
    let got: Vec<(&str, Vec<(CheckId, Severity)>)> = results
        .iter()
        .map(|r| {
            (
                r.supplier.id.as_str(),
                r.findings.iter().map(|f| (f.check, f.severity)).collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "acme",
                vec![
                    // the supplier's own override wins over the global one
                    (CheckId::QuestionnaireStale, Severity::Critical),
                    // the global override, now below the stale finding
                    (CheckId::CertificationExpired, Severity::Info),
                ]
            ),
            (
                "beta",
                vec![
                    (CheckId::QuestionnaireOverdue, Severity::High),
                    (CheckId::QuestionnaireStale, Severity::Low),
                ]
            ),
            ("calm", vec![]),
        ]
    );
    assert!(results.iter().all(|r| r.errors.is_empty()));
}

#[test]
fn evaluate_without_overrides_keeps_catalogue_severities() {
    let s = contracted(contract(Some(day(2026, 6, 30)), 90));
    let today = day(2026, 4, 1);
    let results = evaluate(
        std::slice::from_ref(&s),
        &up_to_date(),
        today,
        &QuestionnaireConfig::default(),
        &crate::register::Register::default(),
        &Policy::default(),
    );
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].findings, check(&s, &up_to_date(), today));
}

#[test]
fn scopes_cover_every_family_of_every_supplier_completely() {
    let got = scopes(["acme", "beta"]);
    assert_eq!(got.len(), 2 * FAMILIES.len());
    for (supplier, chunk) in ["acme", "beta"].iter().zip(got.chunks(FAMILIES.len())) {
        let families: Vec<&str> = chunk.iter().map(|s| s.family).collect();
        assert_eq!(families, FAMILIES, "{supplier}");
        for scope in chunk {
            assert_eq!(scope.supplier, *supplier);
            assert_eq!(scope.target, "*");
            assert_eq!(scope.target, Scope::ANY_TARGET);
            assert!(scope.complete, "{scope:?}");
        }
    }
    assert_eq!(scopes([]), Vec::new());
}

#[test]
fn every_paperwork_check_id_is_in_the_catalogue_and_a_family() {
    let paperwork_ids = [
        CheckId::ContractExpired,
        CheckId::ContractEnding,
        CheckId::ContractNoticeDeadline,
        CheckId::QuestionnaireOverdue,
        CheckId::QuestionnaireReviewPending,
        CheckId::QuestionnaireStale,
        CheckId::CertificationExpired,
        CheckId::CertificationExpiring,
        CheckId::OnboardingIncomplete,
        CheckId::RegisterIncomplete,
    ];
    for id in paperwork_ids {
        assert!(FAMILIES.contains(&id.family().as_str()), "{id}");
    }
}

// ---- deadlines ------------------------------------------------------------------

#[test]
fn deadlines_list_every_date_earliest_first() {
    let s = Supplier {
        contract: Some(renewing(day(2026, 6, 30), 90, 12)),
        certifications: vec![Certification {
            kind: "ISO 27001".to_owned(),
            expires: day(2026, 9, 30),
        }],
        ..supplier(Criticality::Critical, SupplierStatus::Active)
    };
    let qs = [
        reviewed(1, day(2025, 6, 15)),
        questionnaire(2, day(2026, 3, 1), day(2026, 3, 31)),
    ];
    assert_eq!(
        deadlines(&s, &qs, day(2026, 3, 10)),
        [
            deadline(
                "acme",
                "questionnaire due",
                "#2 sig-lite-2026",
                day(2026, 3, 31)
            ),
            deadline("acme", "notice", REFERENCE, day(2026, 4, 1)),
            deadline("acme", "next questionnaire", "cadence", day(2026, 6, 15)),
            deadline("acme", "renewal", REFERENCE, day(2026, 6, 30)),
            deadline(
                "acme",
                "certification expiry",
                "ISO 27001",
                day(2026, 9, 30)
            ),
        ]
    );
    // The day after the notice deadline the contract has rolled forward.
    let rolled = deadlines(&s, &qs, day(2026, 4, 2));
    let contract_dates: Vec<(&str, NaiveDate)> = rolled
        .iter()
        .filter(|d| d.subject == REFERENCE)
        .map(|d| (d.what, d.date))
        .collect();
    assert_eq!(
        contract_dates,
        [("notice", day(2027, 4, 1)), ("renewal", day(2027, 6, 30))]
    );
}

#[test]
fn deadlines_of_a_fixed_contract_and_an_answered_questionnaire() {
    let s = Supplier {
        contract: Some(contract(Some(day(2026, 6, 30)), 30)),
        // the same day as the contract end: ties go by `what`
        certifications: vec![Certification {
            kind: "SOC 2 Type II".to_owned(),
            expires: day(2026, 6, 30),
        }],
        ..supplier(Criticality::Important, SupplierStatus::Active)
    };
    let qs = [
        reviewed(1, day(2025, 1, 20)),
        Questionnaire {
            answered_on: Some(day(2026, 5, 10)),
            ..questionnaire(2, day(2026, 4, 20), day(2026, 5, 20))
        },
    ];
    assert_eq!(
        deadlines(&s, &qs, day(2026, 5, 15)),
        [
            deadline("acme", "review due", "#2 sig-lite-2026", day(2026, 5, 24)),
            deadline("acme", "notice", REFERENCE, day(2026, 5, 31)),
            deadline(
                "acme",
                "certification expiry",
                "SOC 2 Type II",
                day(2026, 6, 30)
            ),
            deadline("acme", "contract end", REFERENCE, day(2026, 6, 30)),
            deadline("acme", "next questionnaire", "cadence", day(2027, 1, 20)),
        ]
    );
    // Dates in the past stay listed: a fixed contract does not roll.
    let later = deadlines(&s, &qs, day(2026, 8, 1));
    assert!(later.contains(&deadline(
        "acme",
        "contract end",
        REFERENCE,
        day(2026, 6, 30)
    )));
    assert!(later.contains(&deadline("acme", "notice", REFERENCE, day(2026, 5, 31))));
}

#[test]
fn deadlines_leave_out_what_does_not_apply() {
    // A fixed contract without notice: no notice date. Not active: no
    // next questionnaire. Nothing in progress: no questionnaire dates.
    let s = Supplier {
        contract: Some(contract(Some(day(2026, 6, 30)), 0)),
        ..supplier(Criticality::Critical, SupplierStatus::Offboarding)
    };
    assert_eq!(
        deadlines(&s, &[reviewed(1, day(2025, 6, 15))], day(2026, 3, 10)),
        [deadline(
            "acme",
            "contract end",
            REFERENCE,
            day(2026, 6, 30)
        )]
    );
    // Never reviewed: no cadence date to show.
    let s = supplier(Criticality::Critical, SupplierStatus::Active);
    assert_eq!(deadlines(&s, &[], day(2026, 3, 10)), Vec::new());
}
