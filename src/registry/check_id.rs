//! The check catalogue: every check id with its family, default severity,
//! what it means in one plain line and what to ask the supplier. Ids are
//! stable: never renamed, only retired. The checks, severity overrides,
//! accepted risks, the escalation policy, the digest and the reports all
//! name checks by [`CheckId`], so a misspelt id does not compile.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::Severity;

macro_rules! catalogue {
    ($( $variant:ident = $id:literal, $severity:ident, $meaning:literal, $ask:literal; )*) => {
        /// A check of the catalogue.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum CheckId {
            $( #[doc = concat!("`", $id, "`: ", $meaning)] $variant, )*
        }

        impl CheckId {
            /// Every id, in catalogue order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];
            /// Every id's text, in catalogue order.
            pub const NAMES: &'static [&'static str] = &[$($id,)*];

            /// The id as written in config, JSON and the store, e.g. `tls.cert_expired`.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $id,)* }
            }

            /// The catalogue's severity; a check may raise another where
            /// the catalogue says so (e.g. `tls.cert_expiring` turns high).
            #[must_use]
            pub const fn default_severity(self) -> Severity {
                match self { $(Self::$variant => Severity::$severity,)* }
            }

            /// What the finding means, in one line a board member understands.
            #[must_use]
            pub const fn meaning(self) -> &'static str {
                match self { $(Self::$variant => $meaning,)* }
            }

            /// What to ask the supplier about it.
            #[must_use]
            pub const fn question(self) -> &'static str {
                match self { $(Self::$variant => $ask,)* }
            }
        }
    };
}

catalogue! {
    TlsUnreachable = "tls.unreachable", High,
        "A secure service of theirs could not be reached at all.",
        "Is the service down or moved, and was that planned?";
    TlsCertExpired = "tls.cert_expired", Critical,
        "Their website certificate has expired: browsers and systems will refuse or warn.",
        "When will the certificate be renewed, and why was the expiry missed?";
    TlsCertExpiring = "tls.cert_expiring", Medium,
        "Their website certificate expires soon.",
        "Is the renewal scheduled, and who owns it?";
    TlsCertNotYetValid = "tls.cert_not_yet_valid", High,
        "Their certificate is dated in the future, so it is not accepted yet.",
        "Was the wrong certificate installed, or is a server clock wrong?";
    TlsHostnameMismatch = "tls.hostname_mismatch", High,
        "The certificate is for a different name than the service uses.",
        "Is this the right server, and when will a matching certificate be installed?";
    TlsSelfSigned = "tls.self_signed", High,
        "The certificate is signed by the server itself, so nobody vouches for it.",
        "When will a certificate from a recognised authority be installed?";
    TlsUntrustedRoot = "tls.untrusted_root", High,
        "The certificate comes from an authority we do not trust.",
        "Which authority issued it, and can it be replaced by a public one?";
    TlsIncompleteChain = "tls.incomplete_chain", Medium,
        "The server leaves out part of its certificate chain; some clients will fail.",
        "Can the full chain be configured on the server?";
    TlsWeakKey = "tls.weak_key", High,
        "The certificate's key is too short to be safe.",
        "When will the key be replaced with a stronger one?";
    TlsWeakSignature = "tls.weak_signature", High,
        "The certificate uses an outdated signature method.",
        "When will the certificate be reissued with a current algorithm?";
    TlsLegacyProtocol = "tls.legacy_protocol", Medium,
        "The service still accepts old, broken versions of encryption.",
        "When will the old protocol versions be switched off?";
    TlsNoTls13 = "tls.no_tls13", Low,
        "The service does not offer the current version of encryption.",
        "Is TLS 1.3 on the roadmap, and when?";
    TlsLongValidity = "tls.long_validity", Low,
        "The certificate is valid far longer than browsers allow today.",
        "Can shorter-lived certificates with automatic renewal be used?";
    TlsRevoked = "tls.revoked", Critical,
        "The certificate was withdrawn by its issuer, usually after a compromise.",
        "Why was the certificate revoked, and was a key exposed?";
    DnsResolutionFailed = "dns.resolution_failed", High,
        "Their domain name could not be looked up: the service may be unreachable.",
        "Is there a problem with your DNS, and what is your resilience plan for it?";
    DnsDnssecMissing = "dns.dnssec_missing", Low,
        "Their domain is not signed, so its answers could be forged.",
        "Do you plan to sign your domain with DNSSEC?";
    DnsDnssecBogus = "dns.dnssec_bogus", High,
        "Their domain's signature is broken: validating resolvers reject it.",
        "When will the DNSSEC configuration be repaired?";
    DnsSingleNameserver = "dns.single_nameserver", Low,
        "Their domain depends on a single name server: one failure takes it offline.",
        "Can a second, independent name server be added?";
    DnsCaaMissing = "dns.caa_missing", Low,
        "Any certificate authority may issue certificates for their domain.",
        "Can you restrict which authorities may issue for your domain (CAA)?";
    EmailSpfMissing = "email.spf_missing", Medium,
        "Their domain does not say which servers may send its e-mail: easy to spoof.",
        "When will an SPF record be published?";
    EmailSpfPermissive = "email.spf_permissive", Medium,
        "Their e-mail policy lets almost any server send as them.",
        "Can the SPF record be restricted to your own mail servers?";
    EmailSpfTooManyLookups = "email.spf_too_many_lookups", Medium,
        "Their e-mail sender policy is too complex and fails at receivers.",
        "Can the SPF record be simplified?";
    EmailSpfMultiple = "email.spf_multiple", Medium,
        "Their domain publishes conflicting e-mail sender policies, which cancel out.",
        "Can the SPF records be merged into one?";
    EmailSpfInvalid = "email.spf_invalid", Medium,
        "Their e-mail sender policy is malformed and is ignored.",
        "When will the SPF record be corrected?";
    EmailDmarcMissing = "email.dmarc_missing", High,
        "Their domain does not tell receivers what to do with forged e-mail.",
        "When will a DMARC policy be published?";
    EmailDmarcPolicyNone = "email.dmarc_policy_none", Medium,
        "Their anti-spoofing policy only watches; forged e-mail is still delivered.",
        "When will the DMARC policy move to quarantine or reject?";
    EmailDmarcNoReporting = "email.dmarc_no_reporting", Low,
        "They receive no reports about e-mail sent in their name.",
        "Can DMARC reporting be enabled so abuse is noticed?";
    EmailMxMissing = "email.mx_missing", Info,
        "Their domain has no mail servers: e-mail to them will not arrive.",
        "Where should e-mail to your domain go?";
    EmailMtaStsMissing = "email.mta_sts_missing", Low,
        "E-mail to them can be forced onto an unencrypted path.",
        "Do you plan to publish an MTA-STS policy?";
    EmailTlsrptMissing = "email.tlsrpt_missing", Info,
        "They get no reports when encrypted e-mail delivery to them fails.",
        "Can TLS reporting (TLS-RPT) be enabled?";
    EmailStarttlsMissing = "email.starttls_missing", High,
        "One of their mail servers accepts e-mail without encryption.",
        "When will STARTTLS be switched on for every mail server that receives your mail?";
    EmailMxTlsInvalid = "email.mx_tls_invalid", High,
        "One of their mail servers encrypts with a certificate that fails our checks.",
        "When will the mail server's certificate be replaced with a valid one?";
    EmailDaneMismatch = "email.dane_mismatch", High,
        "Their mail server's certificate does not match what their own signed DNS says it should be, so careful senders refuse to deliver.",
        "Were the DANE (TLSA) records updated when the certificate was renewed?";
    EmailMtaStsMxMismatch = "email.mta_sts_mx_mismatch", Medium,
        "A mail server of theirs is not listed in their own MTA-STS policy, so careful senders refuse to deliver to it.",
        "Is this mail server meant to receive mail, and will the policy be updated?";
    HttpUnreachable = "http.unreachable", Medium,
        "Their website could not be reached.",
        "Is the site down or moved, and was that planned?";
    HttpHstsMissing = "http.hsts_missing", Medium,
        "Their website does not insist on encrypted connections.",
        "When will HTTP Strict Transport Security be switched on?";
    HttpHstsShort = "http.hsts_short", Low,
        "Their website insists on encryption only for a short time.",
        "Can the HSTS period be raised to at least a year?";
    HttpNoHttpsRedirect = "http.no_https_redirect", Medium,
        "Their website can still be used unencrypted.",
        "When will plain HTTP redirect to HTTPS?";
    HttpCspMissing = "http.csp_missing", Low,
        "Their website has no content security policy against injected scripts.",
        "Do you plan to deploy a Content-Security-Policy?";
    HttpNosniffMissing = "http.nosniff_missing", Low,
        "Their website lets browsers guess file types, which attackers can abuse.",
        "Can the X-Content-Type-Options header be set?";
    HttpFramingUnprotected = "http.framing_unprotected", Low,
        "Their pages can be embedded by other sites to trick users into clicks.",
        "Can framing be restricted (frame-ancestors or X-Frame-Options)?";
    HttpReferrerPolicyMissing = "http.referrer_policy_missing", Info,
        "Their website may leak page addresses to other sites.",
        "Can a Referrer-Policy be set?";
    HttpServerVersionDisclosed = "http.server_version_disclosed", Info,
        "Their server announces its software version, which helps attackers.",
        "Can version details be removed from server responses?";
    SecuritytxtMissing = "securitytxt.missing", Medium,
        "They publish no contact for reporting security problems.",
        "Who should we call about a security issue, and will you publish security.txt?";
    SecuritytxtExpired = "securitytxt.expired", Medium,
        "Their published security contact is out of date.",
        "Is the security contact still valid, and when will it be refreshed?";
    SecuritytxtInvalid = "securitytxt.invalid", Low,
        "Their published security contact cannot be read.",
        "Can security.txt be corrected?";
    ContractExpired = "contract.expired", High,
        "The contract has ended while the supplier is still in use.",
        "Internal: renew, replace or exit — who decides, and by when?";
    ContractEnding = "contract.ending", Medium,
        "The contract ends soon.",
        "Internal: is the renewal or exit decision made?";
    ContractNoticeDeadline = "contract.notice_deadline", High,
        "The last day to give notice on the contract is close.",
        "Internal: do we give notice or let it renew?";
    QuestionnaireOverdue = "questionnaire.overdue", High,
        "The supplier has not returned its security questionnaire in time.",
        "When will the questionnaire be returned?";
    QuestionnaireReviewPending = "questionnaire.review_pending", Medium,
        "A returned questionnaire has not yet been reviewed by us.",
        "Internal: who reviews it, and by when?";
    QuestionnaireStale = "questionnaire.stale", Medium,
        "The last security questionnaire is too old to rely on.",
        "Please complete an up-to-date security questionnaire.";
    CertificationExpired = "certification.expired", High,
        "A certification the supplier relies on (e.g. ISO 27001) has lapsed.",
        "Was it renewed? Please send the current certificate.";
    CertificationExpiring = "certification.expiring", Medium,
        "A certification the supplier relies on expires soon.",
        "Is the recertification audit scheduled?";
    OnboardingIncomplete = "onboarding.incomplete", Medium,
        "The supplier's onboarding is not finished: data we need is missing.",
        "Internal: which details are missing, and who supplies them?";
    RegisterIncomplete = "register.incomplete", Medium,
        "Details the regulator's register of information requires are missing.",
        "Please provide the missing legal and contract details (e.g. LEI, country).";
    PortfolioConcentration = "portfolio.concentration", Info,
        "Several of our important suppliers depend on this same provider: one outage there hits them all.",
        "Which other providers could you fall back on if this one failed, and how fast?";
}

/// What a check looks at: the part of its id before the dot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    Tls,
    Http,
    Securitytxt,
    Dns,
    Email,
    Contract,
    Questionnaire,
    Certification,
    Onboarding,
    Register,
    Portfolio,
}

impl Family {
    /// Every family, in catalogue order.
    pub const ALL: [Self; 11] = [
        Self::Tls,
        Self::Http,
        Self::Securitytxt,
        Self::Dns,
        Self::Email,
        Self::Contract,
        Self::Questionnaire,
        Self::Certification,
        Self::Onboarding,
        Self::Register,
        Self::Portfolio,
    ];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Tls => "tls",
            Self::Http => "http",
            Self::Securitytxt => "securitytxt",
            Self::Dns => "dns",
            Self::Email => "email",
            Self::Contract => "contract",
            Self::Questionnaire => "questionnaire",
            Self::Certification => "certification",
            Self::Onboarding => "onboarding",
            Self::Register => "register",
            Self::Portfolio => "portfolio",
        }
    }

    /// Whether its findings come from probing the supplier's servers (and
    /// so say nothing while the monitor itself cannot see), rather than
    /// from paperwork.
    #[must_use]
    pub const fn from_probes(self) -> bool {
        !matches!(
            self,
            Self::Contract | Self::Questionnaire | Self::Certification | Self::Onboarding
        )
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl CheckId {
    /// The family: the part of the id before the dot.
    #[must_use]
    pub fn family(self) -> Family {
        let id = self.as_str();
        let name = id.split_once('.').map_or(id, |(family, _)| family);
        Family::ALL
            .into_iter()
            .find(|f| f.as_str() == name)
            .unwrap_or(Family::Portfolio)
    }

    /// The id named by `text`, if the catalogue has it.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == text)
    }
}

/// Findings sort by their id's text, as they always have.
impl Ord for CheckId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for CheckId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl AsRef<str> for CheckId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// Text that names no check of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a check id of the catalogue")]
pub struct UnknownCheck(pub String);

impl FromStr for CheckId {
    type Err = UnknownCheck;
    fn from_str(s: &str) -> Result<Self, UnknownCheck> {
        Self::parse(s).ok_or_else(|| UnknownCheck(s.to_owned()))
    }
}

impl Serialize for CheckId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CheckId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl PartialEq<str> for CheckId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<CheckId> for str {
    fn eq(&self, other: &CheckId) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<CheckId> for String {
    fn eq(&self, other: &CheckId) -> bool {
        self == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::CheckId;

    #[test]
    fn ids_are_unique_well_formed_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for check in CheckId::ALL {
            let id = check.as_str();
            assert!(seen.insert(id), "{id} twice");
            assert_eq!(CheckId::parse(id), Some(*check));
            assert!(id.starts_with(&format!("{}.", check.family())), "{id}");
            assert!(
                id.contains('.')
                    && id.bytes().all(|b| b.is_ascii_lowercase()
                        || b == b'.'
                        || b == b'_'
                        || b.is_ascii_digit()),
                "{id}"
            );
            assert!(
                !check.meaning().is_empty() && !check.question().is_empty(),
                "{id}"
            );
            assert!(
                !check.meaning().contains('\n') && !check.question().contains('\n'),
                "{id}"
            );
            let json = serde_json::to_string(check).unwrap_or_default();
            assert_eq!(json, format!("\"{id}\""));
        }
        assert_eq!(CheckId::NAMES.len(), CheckId::ALL.len());
        assert_eq!(CheckId::parse("tls.nonsense"), None);
        // Width and alignment apply, as for the id's text: tables line up.
        assert_eq!(
            format!("{:<18}|", CheckId::TlsRevoked),
            "tls.revoked       |"
        );
    }
}
