//! Every check id in words a board member understands: what it means, in
//! one line, and what to ask the supplier. The one table the board report,
//! the alert e-mails and the digest read; a test holds it to the catalogue
//! ([`crate::registry::CHECK_IDS`]). Depends on nothing.

/// `(check id, meaning, what to ask the supplier)`, in catalogue order.
const PLAIN: &[(&str, &str, &str)] = &[
    (
        "tls.unreachable",
        "A secure service of theirs could not be reached at all.",
        "Is the service down or moved, and was that planned?",
    ),
    (
        "tls.cert_expired",
        "Their website certificate has expired: browsers and systems will refuse or warn.",
        "When will the certificate be renewed, and why was the expiry missed?",
    ),
    (
        "tls.cert_expiring",
        "Their website certificate expires soon.",
        "Is the renewal scheduled, and who owns it?",
    ),
    (
        "tls.cert_not_yet_valid",
        "Their certificate is dated in the future, so it is not accepted yet.",
        "Was the wrong certificate installed, or is a server clock wrong?",
    ),
    (
        "tls.hostname_mismatch",
        "The certificate is for a different name than the service uses.",
        "Is this the right server, and when will a matching certificate be installed?",
    ),
    (
        "tls.self_signed",
        "The certificate is signed by the server itself, so nobody vouches for it.",
        "When will a certificate from a recognised authority be installed?",
    ),
    (
        "tls.untrusted_root",
        "The certificate comes from an authority we do not trust.",
        "Which authority issued it, and can it be replaced by a public one?",
    ),
    (
        "tls.incomplete_chain",
        "The server leaves out part of its certificate chain; some clients will fail.",
        "Can the full chain be configured on the server?",
    ),
    (
        "tls.weak_key",
        "The certificate's key is too short to be safe.",
        "When will the key be replaced with a stronger one?",
    ),
    (
        "tls.weak_signature",
        "The certificate uses an outdated signature method.",
        "When will the certificate be reissued with a current algorithm?",
    ),
    (
        "tls.legacy_protocol",
        "The service still accepts old, broken versions of encryption.",
        "When will the old protocol versions be switched off?",
    ),
    (
        "tls.no_tls13",
        "The service does not offer the current version of encryption.",
        "Is TLS 1.3 on the roadmap, and when?",
    ),
    (
        "tls.long_validity",
        "The certificate is valid far longer than browsers allow today.",
        "Can shorter-lived certificates with automatic renewal be used?",
    ),
    (
        "tls.revoked",
        "The certificate was withdrawn by its issuer, usually after a compromise.",
        "Why was the certificate revoked, and was a key exposed?",
    ),
    (
        "dns.resolution_failed",
        "Their domain name could not be looked up: the service may be unreachable.",
        "Is there a problem with your DNS, and what is your resilience plan for it?",
    ),
    (
        "dns.dnssec_missing",
        "Their domain is not signed, so its answers could be forged.",
        "Do you plan to sign your domain with DNSSEC?",
    ),
    (
        "dns.dnssec_bogus",
        "Their domain's signature is broken: validating resolvers reject it.",
        "When will the DNSSEC configuration be repaired?",
    ),
    (
        "dns.single_nameserver",
        "Their domain depends on a single name server: one failure takes it offline.",
        "Can a second, independent name server be added?",
    ),
    (
        "dns.caa_missing",
        "Any certificate authority may issue certificates for their domain.",
        "Can you restrict which authorities may issue for your domain (CAA)?",
    ),
    (
        "email.spf_missing",
        "Their domain does not say which servers may send its e-mail: easy to spoof.",
        "When will an SPF record be published?",
    ),
    (
        "email.spf_permissive",
        "Their e-mail policy lets almost any server send as them.",
        "Can the SPF record be restricted to your own mail servers?",
    ),
    (
        "email.spf_too_many_lookups",
        "Their e-mail sender policy is too complex and fails at receivers.",
        "Can the SPF record be simplified?",
    ),
    (
        "email.spf_multiple",
        "Their domain publishes conflicting e-mail sender policies, which cancel out.",
        "Can the SPF records be merged into one?",
    ),
    (
        "email.spf_invalid",
        "Their e-mail sender policy is malformed and is ignored.",
        "When will the SPF record be corrected?",
    ),
    (
        "email.dmarc_missing",
        "Their domain does not tell receivers what to do with forged e-mail.",
        "When will a DMARC policy be published?",
    ),
    (
        "email.dmarc_policy_none",
        "Their anti-spoofing policy only watches; forged e-mail is still delivered.",
        "When will the DMARC policy move to quarantine or reject?",
    ),
    (
        "email.dmarc_no_reporting",
        "They receive no reports about e-mail sent in their name.",
        "Can DMARC reporting be enabled so abuse is noticed?",
    ),
    (
        "email.mx_missing",
        "Their domain has no mail servers: e-mail to them will not arrive.",
        "Where should e-mail to your domain go?",
    ),
    (
        "email.mta_sts_missing",
        "E-mail to them can be forced onto an unencrypted path.",
        "Do you plan to publish an MTA-STS policy?",
    ),
    (
        "email.tlsrpt_missing",
        "They get no reports when encrypted e-mail delivery to them fails.",
        "Can TLS reporting (TLS-RPT) be enabled?",
    ),
    (
        "email.starttls_missing",
        "One of their mail servers does not encrypt: e-mail to them travels readable on the way.",
        "When will STARTTLS be enabled on all your mail servers?",
    ),
    (
        "email.mx_tls_invalid",
        "The certificate one of their mail servers encrypts with is not valid, so senders cannot be sure they reach the right server.",
        "When will the mail server's certificate be replaced?",
    ),
    (
        "email.dane_mismatch",
        "Their mail server's certificate does not match what their signed DNS (DANE) promises: careful senders will not deliver to it.",
        "When will the TLSA records and the mail server's certificate be brought back in line?",
    ),
    (
        "email.mta_sts_mx_mismatch",
        "Their published e-mail encryption policy (MTA-STS) does not list one of their mail servers: senders that follow it will not deliver there.",
        "When will the MTA-STS policy list all your mail servers?",
    ),
    (
        "http.unreachable",
        "Their website could not be reached.",
        "Is the site down or moved, and was that planned?",
    ),
    (
        "http.hsts_missing",
        "Their website does not insist on encrypted connections.",
        "When will HTTP Strict Transport Security be switched on?",
    ),
    (
        "http.hsts_short",
        "Their website insists on encryption only for a short time.",
        "Can the HSTS period be raised to at least a year?",
    ),
    (
        "http.no_https_redirect",
        "Their website can still be used unencrypted.",
        "When will plain HTTP redirect to HTTPS?",
    ),
    (
        "http.csp_missing",
        "Their website has no content security policy against injected scripts.",
        "Do you plan to deploy a Content-Security-Policy?",
    ),
    (
        "http.nosniff_missing",
        "Their website lets browsers guess file types, which attackers can abuse.",
        "Can the X-Content-Type-Options header be set?",
    ),
    (
        "http.framing_unprotected",
        "Their pages can be embedded by other sites to trick users into clicks.",
        "Can framing be restricted (frame-ancestors or X-Frame-Options)?",
    ),
    (
        "http.referrer_policy_missing",
        "Their website may leak page addresses to other sites.",
        "Can a Referrer-Policy be set?",
    ),
    (
        "http.server_version_disclosed",
        "Their server announces its software version, which helps attackers.",
        "Can version details be removed from server responses?",
    ),
    (
        "securitytxt.missing",
        "They publish no contact for reporting security problems.",
        "Who should we call about a security issue, and will you publish security.txt?",
    ),
    (
        "securitytxt.expired",
        "Their published security contact is out of date.",
        "Is the security contact still valid, and when will it be refreshed?",
    ),
    (
        "securitytxt.invalid",
        "Their published security contact cannot be read.",
        "Can security.txt be corrected?",
    ),
    (
        "contract.expired",
        "The contract has ended while the supplier is still in use.",
        "Internal: renew, replace or exit — who decides, and by when?",
    ),
    (
        "contract.ending",
        "The contract ends soon.",
        "Internal: is the renewal or exit decision made?",
    ),
    (
        "contract.notice_deadline",
        "The last day to give notice on the contract is close.",
        "Internal: do we give notice or let it renew?",
    ),
    (
        "questionnaire.overdue",
        "The supplier has not returned its security questionnaire in time.",
        "When will the questionnaire be returned?",
    ),
    (
        "questionnaire.review_pending",
        "A returned questionnaire has not yet been reviewed by us.",
        "Internal: who reviews it, and by when?",
    ),
    (
        "questionnaire.stale",
        "The last security questionnaire is too old to rely on.",
        "Please complete an up-to-date security questionnaire.",
    ),
    (
        "certification.expired",
        "A certification the supplier relies on (e.g. ISO 27001) has lapsed.",
        "Was it renewed? Please send the current certificate.",
    ),
    (
        "certification.expiring",
        "A certification the supplier relies on expires soon.",
        "Is the recertification audit scheduled?",
    ),
    (
        "onboarding.incomplete",
        "The supplier's onboarding is not finished: data we need is missing.",
        "Internal: which details are missing, and who supplies them?",
    ),
    (
        "register.incomplete",
        "Details the regulator's register of information requires are missing.",
        "Please provide the missing legal and contract details (e.g. LEI, country).",
    ),
    (
        "portfolio.concentration",
        "Several of our important suppliers depend on this same provider: one outage there hits them all.",
        "Which other providers could you fall back on if this one failed, and how fast?",
    ),
];

/// What `check` means in one plain line, and what to ask the supplier;
/// `None` for an id outside the catalogue.
#[must_use]
pub fn plain(check: &str) -> Option<(&'static str, &'static str)> {
    PLAIN
        .iter()
        .find(|(id, _, _)| *id == check)
        .map(|(_, meaning, ask)| (*meaning, *ask))
}

#[cfg(test)]
mod tests {
    use super::{PLAIN, plain};
    use crate::registry::CHECK_IDS;

    #[test]
    fn every_catalogue_id_has_an_entry() {
        let missing: Vec<&str> = CHECK_IDS
            .iter()
            .copied()
            .filter(|id| plain(id).is_none())
            .collect();
        assert!(missing.is_empty(), "no plain words for {missing:?}");
    }

    #[test]
    fn no_entry_outside_the_catalogue_and_none_twice() {
        let ids: Vec<&str> = PLAIN.iter().map(|(id, _, _)| *id).collect();
        assert_eq!(ids, CHECK_IDS, "the table follows the catalogue, in order");
        for (id, meaning, ask) in PLAIN {
            assert!(!meaning.is_empty() && !ask.is_empty(), "{id}");
            assert!(!meaning.contains('\n') && !ask.contains('\n'), "{id}");
        }
    }

    #[test]
    fn unknown_ids_have_none() {
        assert_eq!(plain("tls.nonsense"), None);
    }
}
