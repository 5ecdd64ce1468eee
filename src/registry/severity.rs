//! How bad a finding is, and the catalogue of check ids (CHECKS.md) that
//! findings, overrides and accepted risks refer to.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Severity ladder: critical > high > medium > low > info.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const NAMES: [&'static str; 5] = ["critical", "high", "medium", "low", "info"];
    /// Worst first.
    pub const ALL: [Self; 5] = [
        Self::Critical,
        Self::High,
        Self::Medium,
        Self::Low,
        Self::Info,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
            Self::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that names no [`Severity`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a severity; use one of {names}", names = Severity::NAMES.join(", "))]
pub struct UnknownSeverity(pub String);

impl FromStr for Severity {
    type Err = UnknownSeverity;
    fn from_str(s: &str) -> Result<Self, UnknownSeverity> {
        match s.to_ascii_lowercase().as_str() {
            "critical" => Ok(Self::Critical),
            "high" => Ok(Self::High),
            "medium" => Ok(Self::Medium),
            "low" => Ok(Self::Low),
            "info" => Ok(Self::Info),
            _ => Err(UnknownSeverity(s.to_owned())),
        }
    }
}

/// Every check id of the catalogue, v1. Ids are stable: never renamed, only retired.
pub const CHECK_IDS: &[&str] = &[
    "tls.unreachable",
    "tls.cert_expired",
    "tls.cert_expiring",
    "tls.cert_not_yet_valid",
    "tls.hostname_mismatch",
    "tls.self_signed",
    "tls.untrusted_root",
    "tls.incomplete_chain",
    "tls.weak_key",
    "tls.weak_signature",
    "tls.legacy_protocol",
    "tls.no_tls13",
    "tls.long_validity",
    "tls.revoked",
    "dns.resolution_failed",
    "dns.dnssec_missing",
    "dns.dnssec_bogus",
    "dns.single_nameserver",
    "dns.caa_missing",
    "email.spf_missing",
    "email.spf_permissive",
    "email.spf_too_many_lookups",
    "email.spf_multiple",
    "email.spf_invalid",
    "email.dmarc_missing",
    "email.dmarc_policy_none",
    "email.dmarc_no_reporting",
    "email.mx_missing",
    "email.mta_sts_missing",
    "email.tlsrpt_missing",
    "email.starttls_missing",
    "email.mx_tls_invalid",
    "email.dane_mismatch",
    "email.mta_sts_mx_mismatch",
    "http.unreachable",
    "http.hsts_missing",
    "http.hsts_short",
    "http.no_https_redirect",
    "http.csp_missing",
    "http.nosniff_missing",
    "http.framing_unprotected",
    "http.referrer_policy_missing",
    "http.server_version_disclosed",
    "securitytxt.missing",
    "securitytxt.expired",
    "securitytxt.invalid",
    "contract.expired",
    "contract.ending",
    "contract.notice_deadline",
    "questionnaire.overdue",
    "questionnaire.review_pending",
    "questionnaire.stale",
    "certification.expired",
    "certification.expiring",
    "onboarding.incomplete",
    "register.incomplete",
    "portfolio.concentration",
];
