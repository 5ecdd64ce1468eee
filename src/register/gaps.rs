//! `register.incomplete`: the register data a critical or important
//! supplier still lacks, raised by the obligations run months before the
//! reference date, so that the weekly digest shows the gaps in time.

use crate::registry::CheckId;
use chrono::NaiveDate;
use serde_json::json;

use super::model::Register;
use crate::checks::{Finding, Severity};
use crate::registry::{Criticality, Supplier, SupplierStatus};

/// Within this many days of the reference date a gap is high.
pub const URGENT_DAYS: i64 = 60;

/// The register columns `supplier` leaves empty, as "B_02.01 c0050 annual
/// expense"; empty when it has all of them.
#[must_use]
pub fn missing(supplier: &Supplier, register: &Register) -> Vec<&'static str> {
    let provider = register.providers.get(supplier.id.as_str());
    let mut out = Vec::new();
    let mut need = |missing: bool, what: &'static str| {
        if missing && !out.contains(&what) {
            out.push(what);
        }
    };
    need(
        supplier.lei.is_none() && provider.and_then(|p| p.euid.as_ref()).is_none(),
        "B_05.01 c0010 LEI or EUID",
    );
    need(
        supplier.country.is_none(),
        "B_05.01 c0080 headquarters country",
    );
    need(supplier.contract.is_none(), "B_02.01 contract");
    let record = provider.and_then(|p| p.contract.as_ref());
    if let Some(contract) = &supplier.contract {
        let r = record.cloned().unwrap_or_default();
        need(r.arrangement.is_none(), "B_02.01 c0020 arrangement type");
        need(r.currency.is_none(), "B_02.01 c0040 currency");
        need(r.annual_expense.is_none(), "B_02.01 c0050 annual expense");
        need(
            r.entity_notice_days(contract).is_none(),
            "B_02.02 c0100 entity's notice period",
        );
        need(
            r.provider_notice_days.is_none(),
            "B_02.02 c0110 provider's notice period",
        );
        need(r.governing_law.is_none(), "B_02.02 c0120 governing law");
        need(r.services.is_empty(), "B_02.02 c0060 ICT services");
        for s in &r.services {
            need(s.functions.is_empty(), "B_02.02 c0050 function supported");
            need(s.country.is_none(), "B_02.02 c0130 country of provision");
            need(s.stores_data.is_none(), "B_02.02 c0140 storage of data");
            need(s.reliance.is_none(), "B_02.02 c0180 level of reliance");
            // B_07.01 assesses the services of a live arrangement that
            // support a critical or important function.
            if !register.supports_critical(s) || r.termination.is_some() {
                continue;
            }
            need(
                s.substitutability.is_none(),
                "B_07.01 c0050 substitutability",
            );
            need(s.last_audit.is_none(), "B_07.01 c0070 date of last audit");
            need(s.exit_plan.is_none(), "B_07.01 c0080 exit plan");
            need(s.reintegration.is_none(), "B_07.01 c0090 reintegration");
            need(s.impact.is_none(), "B_07.01 c0100 impact of discontinuing");
            need(
                s.alternatives.is_none(),
                "B_07.01 c0110 alternative providers",
            );
        }
    }
    out
}

/// The `register.incomplete` finding of `supplier` on `today`, when the
/// registry takes part in the register and this active critical or
/// important supplier lacks some of its data.
#[must_use]
pub fn finding(supplier: &Supplier, register: &Register, today: NaiveDate) -> Option<Finding> {
    if !register.is_declared()
        || supplier.status != SupplierStatus::Active
        || !matches!(
            supplier.criticality,
            Criticality::Critical | Criticality::Important
        )
    {
        return None;
    }
    let missing = missing(supplier, register);
    if missing.is_empty() {
        return None;
    }
    let left = register.reference_date.map(|r| (r - today).num_days());
    let severity = if left.is_some_and(|l| l <= URGENT_DAYS) {
        Severity::High
    } else {
        Severity::Medium
    };
    let due = match (register.reference_date, left) {
        (Some(date), Some(l)) if l >= 0 => format!(" (register as of {date}, in {l} days)"),
        (Some(date), Some(_)) => format!(" (register as of {date}, passed)"),
        _ => String::new(),
    };
    Some(Finding {
        check: CheckId::RegisterIncomplete,
        severity,
        target: supplier.id.as_str().to_owned(),
        summary: format!(
            "the Register of Information lacks {} item{} for this {} supplier{due}: {}",
            missing.len(),
            if missing.len() == 1 { "" } else { "s" },
            supplier.criticality,
            missing.join(", ")
        ),
        evidence: json!({
            "criticality": supplier.criticality,
            "missing": missing,
            "reference_date": register.reference_date,
            "days_left": left,
        }),
    })
}
