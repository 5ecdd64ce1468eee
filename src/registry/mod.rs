//! The supplier registry's domain types, valid by construction.
//!
//! Everything here is parsed from text (`FromStr`) and refuses what it cannot
//! represent faithfully, so code further down never re-validates a domain, an
//! endpoint or an e-mail address. This module depends on nothing else in the
//! crate.

mod check_id;
mod names;
mod questionnaire;
mod severity;

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use check_id::{CheckId, Family, UnknownCheck};
pub use names::{Domain, EmailAddress, Endpoint, Host, NameError, SupplierId};
pub use questionnaire::{
    Document, Questionnaire, QuestionnaireState, ReviewOutcome, UnknownReviewOutcome,
    by_supplier as questionnaires_by_supplier,
};
pub use severity::{Severity, UnknownSeverity};

/// How much the organisation depends on a supplier (DORA: "supports a
/// critical or important function").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Criticality {
    Critical,
    Important,
    Standard,
}

impl Criticality {
    pub const ALL: [&'static str; 3] = ["critical", "important", "standard"];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::Important => "important",
            Self::Standard => "standard",
        }
    }
}

impl FromStr for Criticality {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "critical" => Ok(Self::Critical),
            "important" => Ok(Self::Important),
            "standard" => Ok(Self::Standard),
            _ => Err(()),
        }
    }
}

impl fmt::Display for Criticality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a supplier is in its lifecycle with the organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SupplierStatus {
    Onboarding,
    Active,
    Offboarding,
    Exited,
}

impl SupplierStatus {
    pub const ALL: [&'static str; 4] = ["onboarding", "active", "offboarding", "exited"];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Onboarding => "onboarding",
            Self::Active => "active",
            Self::Offboarding => "offboarding",
            Self::Exited => "exited",
        }
    }
}

impl FromStr for SupplierStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "onboarding" => Ok(Self::Onboarding),
            "active" => Ok(Self::Active),
            "offboarding" => Ok(Self::Offboarding),
            "exited" => Ok(Self::Exited),
            _ => Err(()),
        }
    }
}

impl fmt::Display for SupplierStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The contract that governs the relationship.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contract {
    pub reference: String,
    pub start: NaiveDate,
    /// `None` for an open-ended contract.
    pub end: Option<NaiveDate>,
    /// Days of notice needed before `end` to terminate (or stop a renewal).
    pub notice_days: u32,
    /// Whether the contract renews itself at `end` unless notice is given.
    pub auto_renew: bool,
    /// Length of each renewal term of an auto-renewing contract, in months.
    pub renewal_months: u32,
}

/// Months of a renewal term when the config does not say.
pub const DEFAULT_RENEWAL_MONTHS: u32 = 12;

/// Renewal terms looked ahead at most (a century of yearly renewals).
const MAX_RENEWALS: u32 = 1200;

impl Contract {
    /// The end of the `k`-th term: `end` itself for `k = 0`, then one
    /// renewal term later for each `k`. `None` when open-ended or past the
    /// calendar.
    fn term_end(&self, k: u32) -> Option<NaiveDate> {
        let end = self.end?;
        let months = self.renewal_months.max(1).checked_mul(k)?;
        end.checked_add_months(chrono::Months::new(months))
    }

    /// The last day to give notice for a term ending on `end`: `notice_days`
    /// before it (the end itself with no notice period).
    fn notice_for(&self, end: NaiveDate) -> Option<NaiveDate> {
        end.checked_sub_days(chrono::Days::new(u64::from(self.notice_days)))
    }

    /// The end of the term that matters on `today`: for a fixed contract its
    /// end date (past or not); for an auto-renewing one the end of the first
    /// term whose notice deadline is still ahead (on or after `today`) — once
    /// a deadline passes without notice, the contract renews and the next
    /// term is the one to act on. `None` for an open-ended contract.
    #[must_use]
    pub fn effective_end(&self, today: NaiveDate) -> Option<NaiveDate> {
        if !self.auto_renew {
            return self.end;
        }
        (0..=MAX_RENEWALS)
            .filter_map(|k| self.term_end(k))
            .find(|end| self.notice_for(*end).is_some_and(|d| d >= today))
    }

    /// The last day to give notice (to terminate, or to stop the renewal)
    /// for the term that matters on `today` (see [`Self::effective_end`]).
    /// `None` for an open-ended contract, and for a fixed one without a
    /// notice period.
    #[must_use]
    pub fn notice_deadline(&self, today: NaiveDate) -> Option<NaiveDate> {
        if !self.auto_renew && self.notice_days == 0 {
            return None;
        }
        self.notice_for(self.effective_end(today)?)
    }
}

/// An attestation the supplier holds (ISO 27001, SOC 2 Type II, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certification {
    pub kind: String,
    pub expires: NaiveDate,
}

/// One ICT third-party supplier as the registry declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supplier {
    pub id: SupplierId,
    pub name: String,
    pub criticality: Criticality,
    pub status: SupplierStatus,
    /// The internal relationship owner.
    pub owner: Option<EmailAddress>,
    /// The supplier's security contact.
    pub security_contact: Option<EmailAddress>,
    pub services: Vec<String>,
    pub domains: Vec<Domain>,
    pub endpoints: Vec<Endpoint>,
    pub contract: Option<Contract>,
    pub certifications: Vec<Certification>,
    /// Free text or a reference to the exit-plan document.
    pub exit_plan: Option<String>,
    /// ISO 17442 Legal Entity Identifier.
    pub lei: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
    /// Severity overrides for this supplier's findings, by check id.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub severity: std::collections::BTreeMap<CheckId, Severity>,
}

/// A risk the organisation has accepted: a finding that stays recorded and
/// visible, but is left out of the score and of escalation until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acceptance {
    pub supplier: SupplierId,
    /// A check of the catalogue, e.g. `tls.no_tls13`.
    pub check: CheckId,
    /// One target (`host:port`, a domain); `None` for every target of the supplier.
    pub target: Option<String>,
    /// The last day the acceptance holds.
    pub until: NaiveDate,
    pub reason: String,
    pub approved_by: EmailAddress,
}

impl Acceptance {
    /// Whether it covers a finding of `check` on `target` of `supplier` on `day`.
    #[must_use]
    pub fn covers(&self, supplier: &str, check: &str, target: &str, day: NaiveDate) -> bool {
        self.supplier.as_str() == supplier
            && self.check.as_str() == check
            && self.target.as_deref().is_none_or(|t| t == target)
            && day <= self.until
    }
}
