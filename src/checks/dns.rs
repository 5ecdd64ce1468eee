//! `dns.*` checks over a [`DomainObservation`]: resolution failures,
//! DNSSEC presence, name server diversity and CAA.
//!
//! Pure: no I/O, no clock. A lookup that failed (SERVFAIL, timeout) is
//! unknown, never "missing": the checks that need it stay silent and
//! `dns.resolution_failed` says what failed. Of the domain's own queries,
//! only NXDOMAIN, SERVFAIL, REFUSED, timeouts and answers that cannot be
//! decoded (over UDP, then TCP) raise it; another error (a name that cannot
//! be sent) is unknown too, but is only listed in the evidence of a finding
//! raised for a DNS failure. DNSSEC: unsigned is judged on the DS record
//! at the parent, bogus on the probe's validation of the chain and the
//! signatures' dates against `now`.

use crate::registry::CheckId;
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Finding, Policy, Severity};
use crate::probe::LookupFailure;
use crate::probe::dns::{
    Answer, BogusProblem, BogusReason, DnssecQuery, DomainObservation, Resolution, Validation,
    Verdict, suffix,
};

/// All `dns.*` findings for one domain observation.
#[must_use]
pub fn check(obs: &DomainObservation, now: DateTime<Utc>, _policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut push = |check: CheckId, severity: Severity, summary: String, evidence| {
        out.push(Finding {
            check,
            severity,
            target: obs.domain.clone(),
            summary,
            evidence,
        });
    };
    if let Resolution::Failed { failure } = &obs.resolution {
        resolution_failed(obs, failure, &mut push);
        // What does not resolve has no other facts: unknown, not missing.
        return out;
    }
    partial_failure(obs, &mut push);
    dnssec_missing(obs, &mut push);
    dnssec_bogus(obs, now, &mut push);
    single_nameserver(obs, &mut push);
    caa_missing(obs, &mut push);
    out
}

type Push<'a> = dyn FnMut(CheckId, Severity, String, serde_json::Value) + 'a;

/// The existence lookup failed, so nothing else was looked up. This fires
/// whatever the failure, `Other` too: every fact of the domain is then
/// unknown, and only this finding keeps the run from taking the silence of
/// the `dns` and `email` checks as a clean bill (the run's scope reads it).
fn resolution_failed(obs: &DomainObservation, failure: &LookupFailure, push: &mut Push<'_>) {
    let domain = obs.domain.as_str();
    push(
        CheckId::DnsResolutionFailed,
        Severity::High,
        match failure {
            LookupFailure::NxDomain => format!("{domain} does not exist (NXDOMAIN)"),
            LookupFailure::ServFail => {
                format!("the name servers fail to answer for {domain} (SERVFAIL)")
            }
            LookupFailure::Timeout => format!("lookups for {domain} time out"),
            LookupFailure::Refused => {
                format!("the name server refuses queries for {domain} (REFUSED)")
            }
            LookupFailure::NoRecords => format!("{domain} has no records"),
            LookupFailure::Undecodable { .. } => {
                format!("the name servers of {domain} send answers that cannot be decoded")
            }
            LookupFailure::Other { detail } => format!("lookups for {domain} fail: {detail}"),
        },
        json!({"name": domain, "query": "SOA", "failure": failure, "response": response_name(failure)}),
    );
}

/// Whether a failed lookup says the DNS failed: NXDOMAIN, SERVFAIL, a
/// timeout, REFUSED, or answers that cannot be decoded over UDP or TCP (a
/// supplier must not hide its records behind a malformed answer). Anything
/// else (a name hickory would not send) says nothing about the domain's DNS.
fn is_dns_failure(failure: &LookupFailure) -> bool {
    matches!(
        failure,
        LookupFailure::NxDomain
            | LookupFailure::ServFail
            | LookupFailure::Timeout
            | LookupFailure::Refused
            | LookupFailure::Undecodable { .. }
    )
}

/// Queries at the domain's own names that failed. Only DNS failures (see
/// [`is_dns_failure`]) raise the finding; other errors are listed in its
/// evidence (`other_errors`) and never raise it alone — the facts they hid
/// stay unknown all the same.
fn partial_failure(obs: &DomainObservation, push: &mut Push<'_>) {
    let domain = obs.domain.as_str();
    let (failed, others): (Vec<FailedQuery>, Vec<FailedQuery>) = failed_queries(obs)
        .into_iter()
        .partition(|q| is_dns_failure(&q.failure));
    if let Some(first) = failed.first() {
        let what: Vec<String> = failed
            .iter()
            .map(|q| {
                format!(
                    "{} {} ({})",
                    q.name,
                    q.record_type,
                    response_name(&q.failure)
                )
            })
            .collect();
        push(
            CheckId::DnsResolutionFailed,
            Severity::High,
            format!(
                "{domain} resolves, but {} {} unanswered: {}",
                if failed.len() == 1 {
                    "one query"
                } else {
                    "some queries"
                },
                if failed.len() == 1 { "goes" } else { "go" },
                what.join(", ")
            ),
            json!({
                "name": domain,
                "failed_queries": failed.iter().map(|q| json!({
                    "name": q.name, "type": q.record_type, "failure": q.failure,
                    "response": response_name(&q.failure),
                })).collect::<Vec<_>>(),
                "first": {"name": first.name, "type": first.record_type},
                "other_errors": others.iter().map(|q| json!({
                    "name": q.name, "type": q.record_type, "failure": q.failure,
                })).collect::<Vec<_>>(),
            }),
        );
    }
}

/// Unsigned (RFC 4033 §5, "insecure"): the parent holds no DS record for
/// the zone. A DNSKEY alone signs nothing a validator can trust: without
/// the DS there is no chain from the root to it (RFC 4035 §5.2).
fn dnssec_missing(obs: &DomainObservation, push: &mut Push<'_>) {
    let domain = obs.domain.as_str();
    if let Some(dnssec) = &obs.dnssec {
        let ds: Vec<&DnssecQuery> = dnssec
            .queries
            .iter()
            .filter(|q| q.record_type == "DS")
            .collect();
        let signed = ds.iter().any(|q| !q.answer.records().is_empty());
        let unknown = ds.iter().any(|q| q.answer.error().is_some());
        if !signed && !unknown && !ds.is_empty() {
            let names: BTreeSet<&str> = ds.iter().map(|q| q.name.as_str()).collect();
            let dnskey_only = dnssec
                .queries
                .iter()
                .any(|q| q.record_type == "DNSKEY" && !q.answer.records().is_empty());
            push(
                CheckId::DnsDnssecMissing,
                Severity::Low,
                format!(
                    "{domain} is not signed with DNSSEC: no DS record at the parent for {}{}",
                    names.into_iter().collect::<Vec<_>>().join(" or "),
                    if dnskey_only {
                        " (the zone publishes a DNSKEY, but without a DS at the parent no validator can trust it)"
                    } else {
                        ""
                    }
                ),
                json!({
                    "queries": dnssec.queries.iter().map(|q| json!({
                        "name": q.name, "type": q.record_type, "answer": outcome(&q.answer),
                    })).collect::<Vec<_>>(),
                    "apex": dnssec.apex,
                    "rule": "RFC 4035 §5.2: a zone is signed for validators only through a DS record at its parent",
                }),
            );
        }
    }
}

/// Bogus (RFC 4033 §5): the zone has a DS at its parent, and its chain
/// from the trust anchor fails — a missing or invalid signature, a DS
/// matching no DNSKEY — or a signature on it is outside its validity
/// period at `now` (RFC 4035 §5.3.1; the probe records the dates).
fn dnssec_bogus(obs: &DomainObservation, now: DateTime<Utc>, push: &mut Push<'_>) {
    let domain = obs.domain.as_str();
    let Some(validation) = obs.dnssec.as_ref().and_then(|d| d.validation.as_ref()) else {
        return;
    };
    let problem = match &validation.verdict {
        Verdict::Bogus { problem } => problem.clone(),
        Verdict::Verified => match stale_signature(validation, now) {
            Some(problem) => problem,
            None => return,
        },
        Verdict::Insecure { .. } | Verdict::Indeterminate { .. } => return,
    };
    push(
        CheckId::DnsDnssecBogus,
        Severity::High,
        format!(
            "DNSSEC validation of {domain} fails: {} ({} {}: {}); validating resolvers answer SERVFAIL",
            problem.reason.describe(),
            problem.name,
            problem.record_type,
            problem.detail
        ),
        json!({
            "zone": validation.zone,
            "trust_anchor": validation.anchor,
            "reason": problem.reason,
            "rule": problem.reason.clause(),
            "name": problem.name,
            "type": problem.record_type,
            "detail": problem.detail,
            "chain": validation.chain,
        }),
    );
}

/// The first verified record set none of whose signatures is valid at `now`:
/// expired, or not yet valid (RFC 4035 §5.3.1, dates in RFC 1982 serial
/// number arithmetic as RFC 4034 §3.1.5 says).
fn stale_signature(validation: &Validation, now: DateTime<Utc>) -> Option<BogusProblem> {
    // RFC 4034 §3.1.5: the time modulo 2^32.
    let now32 = u32::try_from(now.timestamp().rem_euclid(1_i64 << 32)).unwrap_or_default();
    // a is before b in serial arithmetic (RFC 1982 §3.2).
    let before = |a: u32, b: u32| a != b && b.wrapping_sub(a) < (1_u32 << 31);
    for rrset in &validation.verified {
        let current = rrset
            .signatures
            .iter()
            .any(|w| !before(now32, w.inception) && !before(w.expiration, now32));
        if current {
            continue;
        }
        let window = rrset.signatures.first()?;
        let at = |t: u32| {
            DateTime::<Utc>::from_timestamp(i64::from(t), 0)
                .map_or_else(|| t.to_string(), |d| d.to_rfc3339())
        };
        let (reason, detail) = if before(window.expiration, now32) {
            (
                BogusReason::SignatureExpired,
                format!(
                    "the RRSIG by key tag {} expired at {} (signed {})",
                    window.key_tag,
                    at(window.expiration),
                    at(window.inception)
                ),
            )
        } else {
            (
                BogusReason::SignatureNotYetValid,
                format!(
                    "the RRSIG by key tag {} is valid only from {}",
                    window.key_tag,
                    at(window.inception)
                ),
            )
        };
        return Some(BogusProblem {
            reason,
            name: rrset.name.clone(),
            record_type: rrset.record_type.clone(),
            detail,
        });
    }
    None
}

fn single_nameserver(obs: &DomainObservation, push: &mut Push<'_>) {
    if let Some(ns) = &obs.nameservers {
        if let Some(found) = ns.found() {
            let hosts: BTreeSet<&str> = found
                .answer
                .records()
                .iter()
                .map(|n| n.host.as_str())
                .collect();
            let groups: BTreeSet<&str> = found
                .answer
                .records()
                .iter()
                .map(|n| n.registrable.as_deref().unwrap_or(n.host.as_str()))
                .collect();
            let evidence = json!({
                "zone": found.name,
                "nameservers": found.answer.records(),
                "registrable_domains": groups,
            });
            if hosts.len() < 2 {
                push(
                    CheckId::DnsSingleNameserver,
                    Severity::Low,
                    format!(
                        "the zone {} has a single name server ({}): one failure takes the domain offline",
                        found.name,
                        hosts.iter().copied().collect::<Vec<_>>().join(", ")
                    ),
                    evidence,
                );
            } else if let [only] = groups.iter().copied().collect::<Vec<_>>().as_slice() {
                push(
                    CheckId::DnsSingleNameserver,
                    Severity::Low,
                    format!(
                        "all {} name servers of the zone {} are under {only}: one provider's outage takes the domain offline",
                        hosts.len(),
                        found.name
                    ),
                    evidence,
                );
            }
        } else if ns.failed().is_none() {
            let names: Vec<&str> = ns.steps.iter().map(|s| s.name.as_str()).collect();
            push(
                CheckId::DnsSingleNameserver,
                Severity::Low,
                format!("no NS records at {}", or_list(&names)),
                json!({"queried": names, "nameservers": []}),
            );
        }
    }
}

fn caa_missing(obs: &DomainObservation, push: &mut Push<'_>) {
    let domain = obs.domain.as_str();
    if let Some(caa) = &obs.caa
        && caa.found().is_none()
        && caa.failed().is_none()
    {
        let names: Vec<&str> = caa.steps.iter().map(|s| s.name.as_str()).collect();
        push(
            CheckId::DnsCaaMissing,
            Severity::Low,
            format!(
                "no CAA record at {}: any certificate authority may issue certificates for {domain}",
                or_list(&names)
            ),
            json!({"queried": names, "registrable_domain": suffix::registrable_domain(domain)}),
        );
    }
}

/// One query at the domain's own names that got no answer.
pub(crate) struct FailedQuery {
    pub name: String,
    pub record_type: &'static str,
    pub failure: LookupFailure,
}

/// Queries at the domain's own names (itself, its parents up to the
/// registrable domain, `_dmarc`, `_mta-sts`, `_smtp._tls`) whose lookup
/// failed. SPF includes of other domains are not the domain's own.
pub(crate) fn failed_queries(obs: &DomainObservation) -> Vec<FailedQuery> {
    fn push<T>(
        out: &mut Vec<FailedQuery>,
        name: &str,
        record_type: &'static str,
        answer: &Answer<T>,
    ) {
        if let Some(failure) = answer.error() {
            out.push(FailedQuery {
                name: name.to_owned(),
                record_type,
                failure: failure.clone(),
            });
        }
    }
    let mut out = Vec::new();
    if let Some(ns) = &obs.nameservers {
        for step in &ns.steps {
            push(&mut out, &step.name, "NS", &step.answer);
        }
    }
    if let Some(mx) = &obs.mx {
        push(&mut out, &mx.name, "MX", &mx.answer);
    }
    if let Some(caa) = &obs.caa {
        for step in &caa.steps {
            push(&mut out, &step.name, "CAA", &step.answer);
        }
    }
    if let Some(dnssec) = &obs.dnssec {
        for q in &dnssec.queries {
            let record_type = if q.record_type == "DS" {
                "DS"
            } else {
                "DNSKEY"
            };
            push(&mut out, &q.name, record_type, &q.answer);
        }
    }
    if let Some(spf) = &obs.spf {
        push(&mut out, &spf.records.name, "TXT", &spf.records.answer);
    }
    if let Some(dmarc) = &obs.dmarc {
        for lookup in &dmarc.lookups {
            push(&mut out, &lookup.name, "TXT", &lookup.answer);
        }
    }
    if let Some(sts) = &obs.mta_sts {
        push(&mut out, &sts.txt.name, "TXT", &sts.txt.answer);
    }
    if let Some(tlsrpt) = &obs.tlsrpt {
        push(&mut out, &tlsrpt.txt.name, "TXT", &tlsrpt.txt.answer);
    }
    out
}

/// The answer as the evidence shows it: `records`, `nxdomain`, `no_records`, or the failure.
fn outcome<T>(answer: &Answer<T>) -> &'static str {
    match answer {
        Answer::Records { total: 0, .. }
        | Answer::None {
            reason: LookupFailure::NoRecords,
        } => "no_records",
        Answer::Records { .. } => "records",
        Answer::None { .. } => "nxdomain",
        Answer::Failed { failure } => response_name(failure),
    }
}

/// The DNS response, as people who read zone files name it.
pub(crate) fn response_name(failure: &LookupFailure) -> &'static str {
    match failure {
        LookupFailure::NxDomain => "NXDOMAIN",
        LookupFailure::NoRecords => "NOERROR, no records",
        LookupFailure::ServFail => "SERVFAIL",
        LookupFailure::Refused => "REFUSED",
        LookupFailure::Timeout => "timeout",
        LookupFailure::Undecodable { .. } => "an answer that cannot be decoded",
        LookupFailure::Other { .. } => "error",
    }
}

fn or_list(names: &[&str]) -> String {
    match names {
        [] => "the domain".to_owned(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::probe::dns::{
        CaaRecord, Climb, DnssecFacts, NamedAnswer, Nameserver, SignatureWindow, VerifiedRrset,
    };

    pub(crate) fn now() -> DateTime<Utc> {
        "2026-03-01T12:00:00Z".parse().unwrap()
    }

    pub(crate) fn records<T>(records: Vec<T>) -> Answer<T> {
        let total = records.len();
        Answer::Records {
            records,
            total,
            ignored: 0,
        }
    }

    pub(crate) fn none<T>() -> Answer<T> {
        Answer::None {
            reason: LookupFailure::NoRecords,
        }
    }

    pub(crate) fn servfail<T>() -> Answer<T> {
        Answer::Failed {
            failure: LookupFailure::ServFail,
        }
    }

    pub(crate) fn named<T>(name: &str, answer: Answer<T>) -> NamedAnswer<T> {
        NamedAnswer {
            name: name.to_owned(),
            answer,
        }
    }

    fn ns(host: &str) -> Nameserver {
        Nameserver {
            host: host.to_owned(),
            registrable: suffix::registrable_domain(host),
        }
    }

    /// A domain with nothing to find fault with at the DNS level.
    pub(crate) fn healthy() -> DomainObservation {
        DomainObservation {
            domain: "example.com".to_owned(),
            resolution: Resolution::Resolves,
            nameservers: Some(Climb {
                steps: vec![named(
                    "example.com",
                    records(vec![ns("ns1.provider-a.net"), ns("ns2.provider-b.org")]),
                )],
            }),
            mx: None,
            caa: Some(Climb {
                steps: vec![named(
                    "example.com",
                    records(vec![CaaRecord {
                        critical: false,
                        tag: "issue".to_owned(),
                        value: "letsencrypt.org".to_owned(),
                    }]),
                )],
            }),
            dnssec: Some(DnssecFacts {
                queries: vec![
                    DnssecQuery {
                        name: "example.com".to_owned(),
                        record_type: "DS".to_owned(),
                        answer: records(vec![
                            "key tag 1, algorithm ECDSAP256SHA256, digest type 2".to_owned(),
                        ]),
                    },
                    DnssecQuery {
                        name: "example.com".to_owned(),
                        record_type: "DNSKEY".to_owned(),
                        answer: none(),
                    },
                ],
                apex: None,
                validation: None,
            }),
            spf: None,
            dmarc: None,
            mta_sts: None,
            tlsrpt: None,
            elapsed_ms: 1,
        }
    }

    fn ids(obs: &DomainObservation) -> Vec<CheckId> {
        check(obs, now(), &Policy::default())
            .iter()
            .map(|f| f.check)
            .collect()
    }

    #[test]
    fn a_healthy_domain_has_no_dns_findings() {
        assert!(ids(&healthy()).is_empty(), "{:?}", ids(&healthy()));
    }

    #[test]
    fn resolution_failures_are_told_apart_and_silence_the_rest() {
        for (failure, words, response) in [
            (
                LookupFailure::NxDomain,
                "does not exist (NXDOMAIN)",
                "NXDOMAIN",
            ),
            (LookupFailure::ServFail, "(SERVFAIL)", "SERVFAIL"),
            (LookupFailure::Timeout, "time out", "timeout"),
        ] {
            let mut obs = healthy();
            obs.resolution = Resolution::Failed {
                failure: failure.clone(),
            };
            // Even with facts that would otherwise fire, only the failure shows.
            obs.caa = Some(Climb {
                steps: vec![named("example.com", none())],
            });
            let findings = check(&obs, now(), &Policy::default());
            assert_eq!(findings.len(), 1, "{findings:?}");
            let f = &findings[0];
            assert_eq!(f.check, CheckId::DnsResolutionFailed);
            assert_eq!(f.severity, Severity::High);
            assert_eq!(f.target, "example.com");
            assert!(f.summary.contains(words), "{}", f.summary);
            assert_eq!(f.evidence["response"], response);
            assert_eq!(f.evidence["failure"], json!(failure));
        }
    }

    #[test]
    fn a_partial_failure_is_reported_and_stays_unknown() {
        let mut obs = healthy();
        obs.caa = Some(Climb {
            steps: vec![named("example.com", servfail())],
        });
        let findings = check(&obs, now(), &Policy::default());
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].check, CheckId::DnsResolutionFailed);
        assert!(
            findings[0].summary.contains("example.com CAA (SERVFAIL)"),
            "{}",
            findings[0].summary
        );
        assert_eq!(findings[0].evidence["failed_queries"][0]["type"], "CAA");
    }

    #[test]
    fn other_errors_alone_raise_no_resolution_finding() {
        let undecodable = || Answer::Failed {
            failure: LookupFailure::Other {
                detail: "could not decode the CAA record".to_owned(),
            },
        };
        let mut obs = healthy();
        obs.caa = Some(Climb {
            steps: vec![named("example.com", undecodable())],
        });
        // Nothing fires: not resolution_failed, and not caa_missing
        // either (the CAA facts are unknown).
        assert!(ids(&obs).is_empty(), "{:?}", ids(&obs));

        // Beside a real failure, the error is in the evidence.
        obs.nameservers = Some(Climb {
            steps: vec![named("example.com", servfail())],
        });
        let findings = check(&obs, now(), &Policy::default());
        assert_eq!(ids(&obs), [CheckId::DnsResolutionFailed]);
        let evidence = &findings[0].evidence;
        assert_eq!(evidence["failed_queries"].as_array().unwrap().len(), 1);
        assert_eq!(evidence["failed_queries"][0]["type"], "NS");
        assert_eq!(evidence["other_errors"][0]["type"], "CAA");
        assert!(
            !findings[0].summary.contains("CAA"),
            "{}",
            findings[0].summary
        );
    }

    #[test]
    fn dnssec_missing_fires_only_when_nothing_is_found_and_nothing_failed() {
        let mut obs = healthy();
        let unsigned = DnssecFacts {
            queries: vec![
                DnssecQuery {
                    name: "example.com".to_owned(),
                    record_type: "DS".to_owned(),
                    answer: none(),
                },
                DnssecQuery {
                    name: "example.com".to_owned(),
                    record_type: "DNSKEY".to_owned(),
                    answer: none(),
                },
            ],
            apex: None,
            validation: None,
        };
        obs.dnssec = Some(unsigned.clone());
        let findings = check(&obs, now(), &Policy::default());
        assert_eq!(ids(&obs), [CheckId::DnsDnssecMissing]);
        assert_eq!(findings[0].severity, Severity::Low);
        assert!(
            findings[0].summary.contains("no DS record"),
            "{}",
            findings[0].summary
        );

        // A DNSKEY without a DS at the parent is not signed (RFC 4035 §5.2).
        let mut keyed = unsigned.clone();
        keyed.queries[1].answer = records(vec!["flags 257, algorithm ED25519".to_owned()]);
        obs.dnssec = Some(keyed);
        let findings = check(&obs, now(), &Policy::default());
        assert_eq!(ids(&obs), [CheckId::DnsDnssecMissing]);
        assert!(
            findings[0].summary.contains("publishes a DNSKEY"),
            "{}",
            findings[0].summary
        );

        let mut with_ds = unsigned.clone();
        with_ds.queries[0].answer = records(vec!["key tag 1".to_owned()]);
        obs.dnssec = Some(with_ds);
        assert!(ids(&obs).is_empty());

        let mut failing = unsigned;
        failing.queries[0].answer = servfail();
        obs.dnssec = Some(failing);
        assert_eq!(
            ids(&obs),
            [CheckId::DnsResolutionFailed],
            "unknown is not missing"
        );
    }

    fn validated(verdict: Verdict, windows: Vec<SignatureWindow>) -> DomainObservation {
        let mut obs = healthy();
        if let Some(dnssec) = &mut obs.dnssec {
            dnssec.validation = Some(Validation {
                anchor: ".".to_owned(),
                zone: "example.com".to_owned(),
                verdict,
                verified: vec![VerifiedRrset {
                    name: "example.com".to_owned(),
                    record_type: "SOA".to_owned(),
                    signatures: windows,
                }],
                chain: vec!["DNSKEY set of . verified by the trust anchor (2 keys)".to_owned()],
            });
        }
        obs
    }

    fn window(inception: DateTime<Utc>, expiration: DateTime<Utc>) -> SignatureWindow {
        SignatureWindow {
            key_tag: 4711,
            algorithm: 13,
            inception: u32::try_from(inception.timestamp()).unwrap(),
            expiration: u32::try_from(expiration.timestamp()).unwrap(),
        }
    }

    #[test]
    fn dnssec_verified_with_current_signatures_is_silent() {
        let day = chrono::TimeDelta::days(1);
        let obs = validated(Verdict::Verified, vec![window(now() - day, now() + day)]);
        assert!(ids(&obs).is_empty());
        // Insecure and indeterminate chains are no bogus finding either.
        for verdict in [
            Verdict::Insecure {
                zone: "example.com".to_owned(),
                why: "no DS".to_owned(),
            },
            Verdict::Indeterminate {
                detail: ". DNSKEY: timeout".to_owned(),
            },
        ] {
            assert!(ids(&validated(verdict, Vec::new())).is_empty());
        }
    }

    #[test]
    fn dnssec_expired_and_future_signatures_are_bogus() {
        let day = chrono::TimeDelta::days(1);
        let obs = validated(
            Verdict::Verified,
            vec![window(now() - day * 30, now() - day * 10)],
        );
        let findings = check(&obs, now(), &Policy::default());
        assert_eq!(ids(&obs), [CheckId::DnsDnssecBogus]);
        assert_eq!(findings[0].severity, Severity::High);
        assert_eq!(findings[0].evidence["reason"], "signature_expired");
        assert_eq!(findings[0].evidence["rule"], "RFC 4035 §5.3.1");
        assert!(
            findings[0].summary.contains("expired at"),
            "{}",
            findings[0].summary
        );
        // One current signature among expired ones is enough.
        let obs = validated(
            Verdict::Verified,
            vec![
                window(now() - day * 30, now() - day * 10),
                window(now() - day, now() + day),
            ],
        );
        assert!(ids(&obs).is_empty());
        let obs = validated(
            Verdict::Verified,
            vec![window(now() + day, now() + day * 30)],
        );
        let findings = check(&obs, now(), &Policy::default());
        assert_eq!(findings[0].evidence["reason"], "signature_not_yet_valid");
    }

    #[test]
    fn dnssec_bogus_names_the_record_and_the_clause() {
        for (reason, clause) in [
            (BogusReason::MissingRrsig, "RFC 4035 §2.2 and §5.3"),
            (BogusReason::SignatureInvalid, "RFC 4035 §5.3.3"),
            (BogusReason::DsMatchesNoDnskey, "RFC 4035 §5.2"),
            (BogusReason::NoMatchingKey, "RFC 4035 §5.3.1"),
        ] {
            let obs = validated(
                Verdict::Bogus {
                    problem: BogusProblem {
                        reason,
                        name: "example.com".to_owned(),
                        record_type: "MX".to_owned(),
                        detail: "the detail".to_owned(),
                    },
                },
                Vec::new(),
            );
            let findings = check(&obs, now(), &Policy::default());
            assert_eq!(ids(&obs), [CheckId::DnsDnssecBogus]);
            let f = &findings[0];
            assert_eq!(f.evidence["rule"], clause);
            assert_eq!(f.evidence["type"], "MX");
            assert!(
                f.summary.contains("example.com MX: the detail"),
                "{}",
                f.summary
            );
            assert!(f.summary.contains(reason.describe()), "{}", f.summary);
        }
    }

    #[test]
    fn single_nameserver_cases() {
        let mut obs = healthy();
        let set = |obs: &mut DomainObservation, hosts: &[&str]| {
            obs.nameservers = Some(Climb {
                steps: vec![
                    named("www.example.com", none()),
                    named(
                        "example.com",
                        records(hosts.iter().map(|h| ns(h)).collect()),
                    ),
                ],
            });
        };
        set(&mut obs, &["ns1.provider.net"]);
        let findings = check(&obs, now(), &Policy::default());
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].check, CheckId::DnsSingleNameserver);
        assert!(
            findings[0].summary.contains("single name server"),
            "{}",
            findings[0].summary
        );

        set(
            &mut obs,
            &["ns1.provider.net", "ns2.provider.net", "ns3.PROVIDER.net"],
        );
        let findings = check(&obs, now(), &Policy::default());
        assert_eq!(findings.len(), 1);
        assert!(
            findings[0].summary.contains("are under provider.net"),
            "{}",
            findings[0].summary
        );
        assert_eq!(findings[0].evidence["zone"], "example.com");

        set(&mut obs, &["a.ns.provider.co.uk", "b.ns.other.co.uk"]);
        assert!(ids(&obs).is_empty());

        // Duplicates do not make two servers.
        set(&mut obs, &["ns1.provider.net", "ns1.provider.net"]);
        assert_eq!(ids(&obs), [CheckId::DnsSingleNameserver]);

        obs.nameservers = Some(Climb {
            steps: vec![
                named("www.example.com", none()),
                named("example.com", none()),
            ],
        });
        assert_eq!(ids(&obs), [CheckId::DnsSingleNameserver]);

        obs.nameservers = Some(Climb {
            steps: vec![named("www.example.com", servfail())],
        });
        assert_eq!(ids(&obs), [CheckId::DnsResolutionFailed]);
    }

    #[test]
    fn caa_missing_needs_every_level_to_answer_none() {
        let mut obs = healthy();
        obs.domain = "www.example.com".to_owned();
        obs.caa = Some(Climb {
            steps: vec![
                named("www.example.com", none()),
                named("example.com", none()),
            ],
        });
        let findings = check(&obs, now(), &Policy::default());
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].check, CheckId::DnsCaaMissing);
        assert_eq!(findings[0].severity, Severity::Low);
        assert!(
            findings[0]
                .summary
                .contains("www.example.com or example.com"),
            "{}",
            findings[0].summary
        );

        // Found at the parent: fine.
        obs.caa = Some(Climb {
            steps: vec![
                named("www.example.com", none()),
                named(
                    "example.com",
                    records(vec![CaaRecord {
                        critical: false,
                        tag: "issue".to_owned(),
                        value: "ca.test".to_owned(),
                    }]),
                ),
            ],
        });
        assert!(ids(&obs).is_empty());
    }
}
