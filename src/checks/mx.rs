//! The `email.*` checks of a domain's mail servers, over the MX probe's
//! observations ([`crate::probe::smtp::MailServers`]) and the MTA-STS policy:
//! - `email.starttls_missing` (high): an MX answers EHLO but offers no
//!   STARTTLS, refuses the command, or fails every TLS handshake after it;
//! - `email.mx_tls_invalid`: the STARTTLS certificate fails `tls.*` rules —
//!   the TLS checks' own rules with the MX name as host, one finding per MX
//!   naming every failing rule, at the worst rule's severity;
//! - `email.dane_mismatch` (high): TLSA records at `_25._tcp.<mx>` in a
//!   signed zone, and the presented chain matches none of the usable ones
//!   (RFC 7672 3.1.3, 3.2; RFC 7671 5);
//! - `email.mta_sts_mx_mismatch` (medium): an MX host matches none of the
//!   valid MTA-STS policy's `mx` patterns (RFC 8461 4.1).
//!
//! MX findings have the target `mx-host:25`; a host the probe could not
//! reach (port 25 blocked, a stall, a refusal of this client) is the
//! monitor's blindness: an error line, never a finding ([`not_judged`]).
//! Pure: no I/O, no clock.

use crate::registry::CheckId;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::untrusted::escaped;
use super::{Finding, Policy, Severity, TargetError};
use crate::probe::dns::{Answer, DomainObservation, PolicyFetch, StsMode};
use crate::probe::smtp::{MailServerObservation, MxZone, SmtpSession, SmtpStage, TlsaRecord};
use crate::probe::{CertFacts, DaneDigests};

/// `tls.*` rules not applied to MX hosts: senders use whatever TLS version
/// the MX offers, and MX hosts commonly lack TLS 1.3; legacy versions are
/// not probed over STARTTLS.
pub const PROTOCOL_RULES_NOT_APPLIED: [CheckId; 2] =
    [CheckId::TlsNoTls13, CheckId::TlsLegacyProtocol];

/// All MX and MTA-STS `mx` findings for one domain observation.
#[must_use]
pub fn check(obs: &DomainObservation, now: DateTime<Utc>, policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    if !obs.resolves() {
        return out;
    }
    if let Some(servers) = &obs.mail_servers {
        for mx in &servers.probed {
            server(mx, now, policy, &mut out);
        }
    }
    if let Some(finding) = mta_sts_mismatch(obs) {
        out.push(finding);
    }
    out
}

/// The findings of one mail server (not the MTA-STS rule, which is the
/// domain's).
#[must_use]
pub fn check_server(
    mx: &MailServerObservation,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Vec<Finding> {
    let mut out = Vec::new();
    server(mx, now, policy, &mut out);
    out
}

/// Why one mail server was not judged, as an error line's message; `None`
/// when it was.
#[must_use]
pub fn server_not_judged(mx: &MailServerObservation, port: u16) -> Option<String> {
    blind_spot(mx, port)
}

/// Error lines for what the MX probe could not see: hosts not reached,
/// dialogues that stopped, hosts skipped past the bound.
#[must_use]
pub fn not_judged(obs: &DomainObservation) -> Vec<TargetError> {
    let mut out = Vec::new();
    let Some(servers) = &obs.mail_servers else {
        return out;
    };
    for mx in &servers.probed {
        if let Some(message) = blind_spot(mx, servers.port) {
            out.push(TargetError {
                target: mx.target.clone(),
                message,
            });
        }
    }
    if servers.skipped_total > 0 {
        out.push(TargetError {
            target: obs.domain.clone(),
            message: format!(
                "{} MX hosts beyond the first {} were not probed",
                servers.skipped_total,
                servers.probed.len()
            ),
        });
    }
    out
}

/// Why one MX host's checks did not run, if they did not.
fn blind_spot(mx: &MailServerObservation, port: u16) -> Option<String> {
    match &mx.session {
        SmtpSession::Refused { reason, .. } => Some(format!("not probed: {reason}")),
        SmtpSession::Unreached {
            stage: SmtpStage::Connect,
            error,
            ..
        } => Some(format!(
            "port {port} could not be reached ({error}); the MX checks of this host were not run. Outbound port 25 is blocked on many networks: set [probe] smtp = false if it is blocked here"
        )),
        SmtpSession::Unreached { error, .. } => Some(format!(
            "the MX host could not be resolved ({error}); its mail server was not probed"
        )),
        SmtpSession::Stopped { error, .. } => Some(format!(
            "the SMTP dialogue stopped at {error}; STARTTLS was not judged"
        )),
        SmtpSession::StartTls if !mx.reached() => Some(
            "the TLS handshake after STARTTLS timed out; the certificate was not judged".to_owned(),
        ),
        SmtpSession::NoStartTls { .. }
        | SmtpSession::StartTlsRefused { .. }
        | SmtpSession::StartTls => None,
    }
}

fn finding(
    mx: &MailServerObservation,
    check: CheckId,
    severity: Severity,
    summary: String,
    evidence: serde_json::Value,
) -> Finding {
    Finding {
        check,
        severity,
        target: mx.target.clone(),
        summary,
        evidence,
    }
}

fn server(mx: &MailServerObservation, now: DateTime<Utc>, policy: &Policy, out: &mut Vec<Finding>) {
    let host = escaped(&mx.host);
    match &mx.session {
        SmtpSession::NoStartTls { extensions } => out.push(finding(
            mx,
            CheckId::EmailStarttlsMissing,
            Severity::High,
            format!("the mail server {host} does not offer STARTTLS: mail to it travels in clear text"),
            json!({
                "host": host,
                "reason": "not_offered",
                "extensions": extensions.iter().map(|e| escaped(e)).collect::<Vec<_>>(),
                "transcript": transcript(mx),
            }),
        )),
        SmtpSession::StartTlsRefused { reply } => out.push(finding(
            mx,
            CheckId::EmailStarttlsMissing,
            Severity::High,
            format!(
                "the mail server {host} offers STARTTLS but refuses it ({}): mail to it travels in clear text",
                escaped(reply)
            ),
            json!({
                "host": host,
                "reason": "refused",
                "reply": escaped(reply),
                "transcript": transcript(mx),
            }),
        )),
        SmtpSession::StartTls if mx.reached() => {
            if let Some(tls) = &mx.tls {
                certificate(mx, tls, now, policy, out);
            }
        }
        SmtpSession::StartTls
        | SmtpSession::Refused { .. }
        | SmtpSession::Unreached { .. }
        | SmtpSession::Stopped { .. } => {}
    }
}

/// The `tls.*` rules over the STARTTLS handshake; a handshake that fails
/// for no reason the certificate gives is STARTTLS that does not work.
fn certificate(
    mx: &MailServerObservation,
    tls: &crate::probe::EndpointObservation,
    now: DateTime<Utc>,
    policy: &Policy,
    out: &mut Vec<Finding>,
) {
    let host = escaped(&mx.host);
    let judged = super::tls::check(tls, now, policy);
    if let Some(failed) = judged.iter().find(|f| f.check == CheckId::TlsUnreachable) {
        out.push(finding(
            mx,
            CheckId::EmailStarttlsMissing,
            Severity::High,
            format!(
                "the mail server {host} accepts STARTTLS but the TLS handshake fails ({}): senders fall back to clear text",
                failed.summary
            ),
            json!({
                "host": host,
                "reason": "handshake_failed",
                "handshake": failed.evidence,
                "transcript": transcript(mx),
            }),
        ));
        return;
    }
    let failing: Vec<&Finding> = judged
        .iter()
        .filter(|f| !PROTOCOL_RULES_NOT_APPLIED.contains(&f.check))
        .collect();
    if let Some(worst) = failing.iter().max_by_key(|f| f.severity) {
        let rules: Vec<serde_json::Value> = failing
            .iter()
            .map(|f| {
                json!({
                    "tls_check": f.check,
                    "severity": f.severity,
                    "summary": f.summary,
                    "evidence": f.evidence,
                })
            })
            .collect();
        let ids: Vec<&str> = failing.iter().map(|f| f.check.as_str()).collect();
        out.push(finding(
            mx,
            CheckId::EmailMxTlsInvalid,
            worst.severity,
            format!(
                "the STARTTLS certificate of the mail server {host} fails {}: {}",
                ids.join(", "),
                worst.summary
            ),
            json!({
                "host": host,
                "tls_check": worst.check,
                "tls_checks": ids,
                "rules": rules,
                "negotiated": tls.tls.as_ref().and_then(|t| t.version.clone()),
            }),
        ));
    }
    if let Some(f) = dane(mx) {
        out.push(f);
    }
}

fn transcript(mx: &MailServerObservation) -> Vec<String> {
    mx.transcript.iter().map(|l| escaped(l)).collect()
}

/// Whether the MX name's zone is signed, so that its TLSA records count
/// (RFC 7672 2.2): the chain from the trust anchor validated to the zone,
/// or an insecure delegation (unsigned). Where validation could not decide
/// (indeterminate: the zone lies outside the trust anchor, a lookup failed;
/// or bogus, itself `dns.dnssec_bogus` where the zone is a supplier's), and
/// for observations stored before validation existed, a DS at the zone apex
/// says signed. `None` when even that is unknown. The one place that says
/// what "signed" means for DANE.
#[must_use]
pub fn zone_signed(zone: &MxZone) -> Option<bool> {
    use crate::probe::dnssec::Verdict;
    if let Some(validation) = &zone.dnssec.validation {
        return match validation.verdict {
            Verdict::Verified => Some(true),
            Verdict::Insecure { .. } => Some(false),
            Verdict::Bogus { .. } | Verdict::Indeterminate { .. } => ds_at_apex(zone),
        };
    }
    ds_at_apex(zone)
}

/// A DS at the MX zone's apex; `None` when the apex or the DS lookup failed.
fn ds_at_apex(zone: &MxZone) -> Option<bool> {
    let apex = zone.apex.as_deref()?;
    let ds = zone
        .dnssec
        .queries
        .iter()
        .find(|q| q.record_type == "DS" && q.name == apex)?;
    match &ds.answer {
        Answer::Failed { .. } => None,
        answer => Some(!answer.records().is_empty()),
    }
}

/// Whether a TLSA record can be used by an SMTP client (RFC 7672 3.1.3):
/// DANE-TA(2) or DANE-EE(3); selector Cert(0) or SPKI(1); matching
/// Full(0), SHA2-256(1) or SHA2-512(2). PKIX-TA(0), PKIX-EE(1) and unknown
/// values are unusable.
#[must_use]
pub fn usable(record: &TlsaRecord) -> bool {
    matches!(record.usage, 2 | 3) && record.selector <= 1 && record.matching <= 2
}

/// Whether a record's data matches one certificate's digests (RFC 6698
/// 2.1.2, 2.1.3); exact data (type 0) is compared by its SHA-512.
#[must_use]
pub fn matches_certificate(record: &TlsaRecord, cert: &DaneDigests) -> bool {
    let data = record.data.to_ascii_lowercase();
    match (record.selector, record.matching) {
        (0, 0) => record.data_sha512 == cert.cert_sha512,
        (0, 1) => record.data_len == 32 && data == cert.cert_sha256,
        (0, 2) => record.data_len == 64 && data == cert.cert_sha512,
        (1, 0) => record.data_sha512 == cert.spki_sha512,
        (1, 1) => record.data_len == 32 && data == cert.spki_sha256,
        (1, 2) => record.data_len == 64 && data == cert.spki_sha512,
        _ => false,
    }
}

/// Whether a usable record authenticates the presented chain for `host`:
/// DANE-EE(3) matches the leaf alone, names and dates aside (RFC 7672
/// 3.1.1); DANE-TA(2) matches a certificate the server presents above the
/// leaf, linked to the leaf by issuer names, and the leaf must name the
/// host (RFC 7672 3.1.2, 3.2.2).
#[must_use]
pub fn authenticates(
    record: &TlsaRecord,
    digests: &[DaneDigests],
    chain: &[CertFacts],
    host: &str,
) -> bool {
    match record.usage {
        3 => digests
            .iter()
            .any(|d| d.position == 0 && matches_certificate(record, d)),
        2 => {
            let leaf_names_host = chain
                .first()
                .is_some_and(|leaf| super::tls::name_matches(leaf, host));
            leaf_names_host
                && digests.iter().any(|d| {
                    d.position >= 1 && linked(chain, d.position) && matches_certificate(record, d)
                })
        }
        _ => false,
    }
}

/// Each certificate from the leaf up to `position` is issued by the next.
fn linked(chain: &[CertFacts], position: usize) -> bool {
    position < chain.len()
        && chain
            .windows(2)
            .take(position)
            .all(|pair| matches!(pair, [below, above] if below.issuer == above.subject))
}

/// `email.dane_mismatch`: TLSA records in a signed zone and a chain that
/// matches none of the usable ones. Unusable records alone are evidence in
/// the observation, not a finding.
fn dane(mx: &MailServerObservation) -> Option<Finding> {
    let tlsa = mx.tlsa.as_ref()?;
    let records = tlsa.answer.records();
    if records.is_empty() {
        return None;
    }
    let zone = mx.zone.as_ref()?;
    if zone_signed(zone) != Some(true) {
        return None;
    }
    let chain = mx.tls.as_ref()?.tls.as_ref()?.chain.as_slice();
    if mx.dane.is_empty() {
        return None;
    }
    let (usable_records, unusable): (Vec<&TlsaRecord>, Vec<&TlsaRecord>) =
        records.iter().partition(|r| usable(r));
    if usable_records.is_empty() {
        return None;
    }
    if usable_records
        .iter()
        .any(|r| authenticates(r, &mx.dane, chain, &mx.host))
    {
        return None;
    }
    let host = escaped(&mx.host);
    Some(finding(
        mx,
        CheckId::EmailDaneMismatch,
        Severity::High,
        format!(
            "the certificate chain of the mail server {host} matches none of the {} usable TLSA records at {}: DANE senders will not deliver to it",
            usable_records.len(),
            escaped(&tlsa.name)
        ),
        json!({
            "host": host,
            "tlsa_name": escaped(&tlsa.name),
            "usable": usable_records,
            "unusable": unusable,
            "presented": mx.dane,
            "zone_apex": zone.apex,
        }),
    ))
}

/// Whether an MX host matches an MTA-STS `mx` pattern (RFC 8461 4.1): the
/// name itself, or with a leading `*.`, any name exactly one label below the
/// rest; case-insensitive, a trailing dot ignored.
#[must_use]
pub fn mx_pattern_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim().trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    if pattern.is_empty() || host.is_empty() {
        return false;
    }
    match pattern.strip_prefix("*.") {
        Some(parent) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => pattern == host,
    }
}

/// `email.mta_sts_mx_mismatch`: the MX hosts no pattern of the valid
/// policy (mode `enforce` or `testing`) matches, one finding per domain.
fn mta_sts_mismatch(obs: &DomainObservation) -> Option<Finding> {
    let sts = obs.mta_sts.as_ref()?;
    let PolicyFetch::Valid { policy } = &sts.policy else {
        return None;
    };
    if policy.mode == StsMode::None {
        return None;
    }
    let mx = obs.mx.as_ref()?;
    let unmatched: Vec<String> = mx
        .answer
        .records()
        .iter()
        .filter(|r| r.exchange != ".")
        .filter(|r| !policy.mx.iter().any(|p| mx_pattern_matches(p, &r.exchange)))
        .map(|r| escaped(&r.exchange))
        .collect();
    if unmatched.is_empty() {
        return None;
    }
    let domain = escaped(&obs.domain);
    Some(Finding {
        check: CheckId::EmailMtaStsMxMismatch,
        severity: Severity::Medium,
        target: obs.domain.clone(),
        summary: format!(
            "the MTA-STS policy of {domain} does not cover its MX host{} {}: senders that enforce it will not deliver there",
            if unmatched.len() == 1 { "" } else { "s" },
            unmatched.join(", ")
        ),
        evidence: json!({
            "unmatched": unmatched,
            "patterns": policy.mx.iter().map(|p| escaped(p)).collect::<Vec<_>>(),
            "mode": policy.mode,
            "policy_url": sts.policy_url,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::cert::digest_hex;

    #[test]
    fn mx_patterns_follow_rfc_8461_4_1() {
        assert!(mx_pattern_matches("mx.example.test", "mx.example.test"));
        assert!(mx_pattern_matches("MX.Example.Test.", "mx.example.test"));
        assert!(mx_pattern_matches("*.example.test", "mail.example.test"));
        // The wildcard matches exactly one label: not the parent, not two.
        assert!(!mx_pattern_matches("*.example.test", "example.test"));
        assert!(!mx_pattern_matches("*.example.test", "a.b.example.test"));
        assert!(!mx_pattern_matches("*.example.test", ".example.test"));
        // Only a leading "*." is a wildcard.
        assert!(!mx_pattern_matches("mx.*.test", "mx.example.test"));
        assert!(!mx_pattern_matches("*example.test", "mxexample.test"));
        assert!(!mx_pattern_matches("mx.example.test", "mx2.example.test"));
        assert!(!mx_pattern_matches("", "mx.example.test"));
    }

    fn digests(position: usize, cert: &[u8], spki: &[u8]) -> DaneDigests {
        DaneDigests {
            position,
            cert_sha256: digest_hex(&ring::digest::SHA256, cert),
            cert_sha512: digest_hex(&ring::digest::SHA512, cert),
            spki_sha256: digest_hex(&ring::digest::SHA256, spki),
            spki_sha512: digest_hex(&ring::digest::SHA512, spki),
        }
    }

    fn record(usage: u8, selector: u8, matching: u8, data: &[u8]) -> TlsaRecord {
        crate::probe::smtp::tlsa_record(usage, selector, matching, data)
    }

    fn raw(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn tlsa_selectors_and_matching_types() {
        let (cert, spki) = (b"leaf certificate der".as_slice(), b"leaf spki".as_slice());
        let d = digests(0, cert, spki);
        let sha256 = |b: &[u8]| raw(&digest_hex(&ring::digest::SHA256, b));
        let sha512 = |b: &[u8]| raw(&digest_hex(&ring::digest::SHA512, b));
        for (selector, bytes) in [(0, cert), (1, spki)] {
            assert!(matches_certificate(&record(3, selector, 0, bytes), &d));
            assert!(matches_certificate(
                &record(3, selector, 1, &sha256(bytes)),
                &d
            ));
            assert!(matches_certificate(
                &record(3, selector, 2, &sha512(bytes)),
                &d
            ));
            assert!(!matches_certificate(
                &record(3, selector, 1, &sha256(b"other")),
                &d
            ));
            assert!(!matches_certificate(&record(3, selector, 0, b"other"), &d));
        }
        // A selector/matching pair outside the registry matches nothing.
        assert!(!matches_certificate(&record(3, 2, 1, &sha256(cert)), &d));
        assert!(!matches_certificate(&record(3, 0, 3, &sha256(cert)), &d));
        // The SPKI digest under the Cert selector does not match.
        assert!(!matches_certificate(&record(3, 0, 1, &sha256(spki)), &d));
    }

    fn facts(subject: &str, issuer: &str, sans: &[&str]) -> CertFacts {
        CertFacts {
            subject: subject.to_owned(),
            issuer: issuer.to_owned(),
            common_name: None,
            sans: sans.iter().map(|s| (*s).to_owned()).collect(),
            ip_sans: Some(Vec::new()),
            not_before: DateTime::from_timestamp(0, 0).unwrap(),
            not_after: DateTime::from_timestamp(1, 0).unwrap(),
            key: crate::probe::KeyFacts {
                algorithm: "EC".to_owned(),
                bits: Some(256),
            },
            signature_algorithm: "ecdsa-with-SHA256".to_owned(),
            is_ca: false,
            self_issued: false,
            serial: "01".to_owned(),
            sha256: String::new(),
        }
    }

    #[test]
    fn usages_and_what_they_match() {
        let leaf = digests(0, b"leaf", b"leaf key");
        let ca = digests(1, b"ca", b"ca key");
        let chain = [
            facts("CN=mx.acme.test", "CN=CA", &["mx.acme.test"]),
            facts("CN=CA", "CN=Root", &[]),
        ];
        let all = [leaf.clone(), ca.clone()];
        let sha256 = |b: &[u8]| raw(&digest_hex(&ring::digest::SHA256, b));
        let host = "mx.acme.test";
        // DANE-EE: the leaf only; names do not matter.
        assert!(authenticates(
            &record(3, 1, 1, &sha256(b"leaf key")),
            &all,
            &chain,
            "other.test"
        ));
        assert!(!authenticates(
            &record(3, 1, 1, &sha256(b"ca key")),
            &all,
            &chain,
            host
        ));
        // DANE-TA: a certificate above the leaf, issuer-linked, the leaf naming the host.
        assert!(authenticates(
            &record(2, 1, 1, &sha256(b"ca key")),
            &all,
            &chain,
            host
        ));
        assert!(!authenticates(
            &record(2, 1, 1, &sha256(b"ca key")),
            &all,
            &chain,
            "other.test"
        ));
        assert!(!authenticates(
            &record(2, 1, 1, &sha256(b"leaf key")),
            &all,
            &chain,
            host
        ));
        let unlinked = [chain[0].clone(), facts("CN=Elsewhere", "CN=Root", &[])];
        assert!(!authenticates(
            &record(2, 1, 1, &sha256(b"ca key")),
            &all,
            &unlinked,
            host
        ));
        // PKIX-TA/EE and unknown usages are unusable for SMTP (RFC 7672 3.1.3).
        for usage in [0, 1, 4, 255] {
            let r = record(usage, 1, 1, &sha256(b"leaf key"));
            assert!(!usable(&r));
            assert!(!authenticates(&r, &all, &chain, host));
        }
        assert!(usable(&record(3, 1, 1, &sha256(b"leaf key"))));
        assert!(!usable(&record(3, 2, 1, &sha256(b"leaf key"))));
        assert!(!usable(&record(3, 1, 3, &sha256(b"leaf key"))));
    }

    fn zone(apex: Option<&str>, ds: Answer<String>) -> MxZone {
        use crate::probe::dns::{DnssecFacts, DnssecQuery};
        MxZone {
            apex: apex.map(str::to_owned),
            dnssec: DnssecFacts {
                apex: None,
                validation: None,
                queries: vec![
                    DnssecQuery {
                        name: "mx.acme.test".to_owned(),
                        record_type: "DS".to_owned(),
                        answer: Answer::None {
                            reason: crate::probe::LookupFailure::NoRecords,
                        },
                    },
                    DnssecQuery {
                        name: "acme.test".to_owned(),
                        record_type: "DS".to_owned(),
                        answer: ds,
                    },
                ],
            },
        }
    }

    #[test]
    fn signed_means_a_ds_at_the_zone_apex() {
        let ds = || Answer::Records {
            records: vec!["key tag 1, algorithm 13, digest type 2".to_owned()],
            total: 1,
            ignored: 0,
        };
        assert_eq!(zone_signed(&zone(Some("acme.test"), ds())), Some(true));
        let none = Answer::None {
            reason: crate::probe::LookupFailure::NoRecords,
        };
        assert_eq!(zone_signed(&zone(Some("acme.test"), none)), Some(false));
        let failed = Answer::Failed {
            failure: crate::probe::LookupFailure::ServFail,
        };
        assert_eq!(zone_signed(&zone(Some("acme.test"), failed)), None);
        // No apex found: unknown, whatever the name itself has.
        assert_eq!(zone_signed(&zone(None, ds())), None);
    }

    #[test]
    fn a_validated_chain_decides_before_the_ds() {
        use crate::probe::dnssec::{Validation, Verdict};
        let with = |verdict: Verdict, ds: Answer<String>| {
            let mut z = zone(Some("acme.test"), ds);
            z.dnssec.validation = Some(Validation {
                anchor: ".".to_owned(),
                zone: "acme.test".to_owned(),
                verdict,
                verified: Vec::new(),
                chain: Vec::new(),
            });
            z
        };
        let no_ds = || Answer::None {
            reason: crate::probe::LookupFailure::NoRecords,
        };
        let ds = || Answer::Records {
            records: vec!["key tag 1, algorithm 13, digest type 2".to_owned()],
            total: 1,
            ignored: 0,
        };
        assert_eq!(zone_signed(&with(Verdict::Verified, no_ds())), Some(true));
        let insecure = Verdict::Insecure {
            zone: "acme.test".to_owned(),
            why: "no DS".to_owned(),
        };
        assert_eq!(zone_signed(&with(insecure, ds())), Some(false));
        // Validation could not decide: the DS says.
        let unknown = Verdict::Indeterminate {
            detail: "outside the trust anchor".to_owned(),
        };
        assert_eq!(zone_signed(&with(unknown, ds())), Some(true));
    }
}
