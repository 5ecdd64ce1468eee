//! `tls.*` checks over an [`EndpointObservation`].

use crate::registry::CheckId;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde_json::json;

use super::{Finding, Policy, Severity};
use crate::probe::hello;
use crate::probe::{CertFacts, EndpointObservation, Reach, RevocationStatus, Trust};

/// All `tls.*` findings for one endpoint observation.
#[must_use]
#[expect(
    clippy::too_many_lines,
    reason = "one rule after another, each short; splitting scatters the catalogue"
)]
pub fn check(obs: &EndpointObservation, now: DateTime<Utc>, policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    let finding = |check: CheckId,
                   severity: Severity,
                   summary: String,
                   evidence: serde_json::Value| Finding {
        check,
        severity,
        target: obs.target.clone(),
        summary,
        evidence,
    };
    match &obs.reach {
        Reach::Refused { .. } => return out,
        Reach::Unreachable {
            stage,
            error,
            timed_out,
        } => {
            out.push(finding(
                CheckId::TlsUnreachable,
                Severity::High,
                error.clone(),
                json!({"stage": stage, "error": error, "timed_out": timed_out, "addresses": obs.addresses}),
            ));
            return out;
        }
        // Judged at the end: what the certificate is may explain the
        // failed handshake.
        Reach::CertificateOnly { .. } | Reach::Handshake => {}
    }
    let Some(tls) = &obs.tls else {
        unexplained_handshake(obs, &mut out);
        return out;
    };

    if let Some(version) = &tls.version
        && matches!(obs.reach, Reach::Handshake)
        && version != "TLSv1.3"
    {
        out.push(finding(
            CheckId::TlsNoTls13,
            Severity::Low,
            format!("the server does not negotiate TLS 1.3 (negotiated {version})"),
            json!({"negotiated": version, "cipher_suite": tls.cipher_suite}),
        ));
    }
    let accepted: Vec<&crate::probe::LegacyProbe> = obs
        .legacy
        .iter()
        .filter(|l| l.accepted == Some(true))
        .collect();
    if !accepted.is_empty() {
        let told: Vec<String> = accepted
            .iter()
            .map(|l| match &l.cipher_suite {
                Some(suite) => format!("{} ({suite})", l.version),
                None => l.version.clone(),
            })
            .collect();
        let versions: Vec<&str> = accepted.iter().map(|l| l.version.as_str()).collect();
        let suites: Vec<&Option<String>> = accepted.iter().map(|l| &l.cipher_suite).collect();
        out.push(finding(
            CheckId::TlsLegacyProtocol,
            Severity::Medium,
            format!("the server accepts {}", told.join(" and ")),
            json!({"accepted": versions, "cipher_suites": suites, "probes": obs.legacy}),
        ));
    }

    // The probe keeps `chain` in the server's order up to the first
    // certificate that cannot be parsed: index 0 is the leaf or nothing.
    let Some(leaf) = tls.chain.first() else {
        if !tls.unparseable.is_empty() {
            out.push(finding(
                CheckId::TlsUntrustedRoot,
                Severity::High,
                format!(
                    "the server presented a certificate that cannot be parsed ({})",
                    tls.unparseable.join("; ")
                ),
                json!({"unparseable": tls.unparseable}),
            ));
        }
        return out;
    };

    dates(leaf, now, policy, &mut |c, s, m, e| {
        out.push(finding(c, s, m, e));
    });
    chain_dates(tls, now, policy, &mut out, &obs.target);

    let presented = tls.chain.len() + tls.unparseable.len();
    let self_signed = presented == 1 && leaf.self_issued;
    // A self-signed certificate for another name is one root cause (a
    // default or stray certificate): told by tls.self_signed, with the
    // mismatch in its evidence.
    if !self_signed && !name_matches(leaf, &obs.host) {
        let names = presented_names(leaf);
        out.push(finding(
            CheckId::TlsHostnameMismatch,
            Severity::High,
            format!(
                "the certificate is not valid for {} (it names {})",
                obs.host,
                if names.is_empty() {
                    "nothing".to_owned()
                } else {
                    names.join(", ")
                }
            ),
            json!({"host": obs.host, "sans": leaf.sans, "common_name": leaf.common_name}),
        ));
    }

    let top = tls.chain.last().unwrap_or(leaf);
    let subjects: Vec<&String> = tls.chain.iter().map(|c| &c.subject).collect();
    if self_signed {
        out.push(finding(
            CheckId::TlsSelfSigned,
            Severity::High,
            format!("the certificate is self-signed ('{}')", leaf.subject),
            json!({
                "subject": leaf.subject,
                "sha256": leaf.sha256,
                "host": obs.host,
                "names": presented_names(leaf),
                "valid_for_host": name_matches(leaf, &obs.host),
            }),
        ));
    } else {
        match &tls.trust {
            Trust::UnknownIssuer if !tls.unparseable.is_empty() => out.push(finding(
                CheckId::TlsUntrustedRoot,
                Severity::High,
                format!(
                    "the chain does not lead to a trusted root, and the server sends a certificate that cannot be parsed ({})",
                    tls.unparseable.join("; ")
                ),
                json!({"presented": subjects, "unparseable": tls.unparseable, "trust": tls.trust}),
            )),
            // RFC 5246 §7.4.2 / RFC 8446 §4.4.2: the server sends its
            // chain up to (not necessarily including) the root. A chain that
            // ends in a certificate that is not self-issued lacks that
            // certificate's issuer: an intermediate is missing.
            Trust::UnknownIssuer if !top.self_issued => out.push(finding(
                CheckId::TlsIncompleteChain,
                Severity::Medium,
                if tls.chain.len() == 1 {
                    format!(
                        "the server sends no intermediate certificate: '{}' is issued by '{}', which it does not send",
                        top.subject, top.issuer
                    )
                } else {
                    format!(
                        "the server does not send the certificate that issued '{}': '{}' is neither sent nor a trusted root (an intermediate is missing, or the chain leads to a root that is not trusted)",
                        top.subject, top.issuer
                    )
                },
                json!({"presented": subjects, "missing_issuer": top.issuer}),
            )),
            Trust::UnknownIssuer => out.push(finding(
                CheckId::TlsUntrustedRoot,
                Severity::High,
                format!("the chain is issued by '{}', which is not trusted", top.issuer),
                json!({"presented": subjects, "root_issuer": top.issuer}),
            )),
            // A signature rustls refuses because it is SHA-1 or MD5, or
            // because the issuer's key is too weak, is reported by
            // tls.weak_signature / tls.weak_key below, with the certificate.
            Trust::BadSignature { .. } if signs_weakly(tls) || issuer_key_weak(tls) => {}
            // A path that is out of date: the dates findings say which
            // certificate (judged against now); the verdict joins their evidence.
            Trust::OutOfDate { detail } if told_dates(&out) => {
                for f in out.iter_mut().filter(|f| DATE_CHECKS.contains(&f.check)) {
                    if let Some(map) = f.evidence.as_object_mut() {
                        map.insert("trust".to_owned(), json!(detail));
                    }
                }
            }
            Trust::BadSignature { detail }
            | Trust::Other { detail }
            | Trust::OutOfDate { detail } => out.push(finding(
                CheckId::TlsUntrustedRoot,
                Severity::High,
                format!("the chain does not validate to a trusted root: {detail}"),
                json!({"presented": subjects, "trust": tls.trust, "unparseable": tls.unparseable}),
            )),
            Trust::Trusted | Trust::NotChecked => {}
        }
    }

    // Keys and signatures of what the server presents; a self-signed root's
    // own signature carries no trust and is not judged.
    let judged: Vec<(usize, &CertFacts)> = tls
        .chain
        .iter()
        .enumerate()
        .filter(|(i, c)| *i == 0 || !c.self_issued)
        .collect();
    let weak_keys: Vec<serde_json::Value> = judged
        .iter()
        .filter_map(|(i, c)| {
            weak_key(c)
                .map(|why| json!({"position": i, "subject": c.subject, "key": c.key, "why": why}))
        })
        .collect();
    if let Some(first) = weak_keys.first() {
        let why = first
            .get("why")
            .and_then(|w| w.as_str())
            .unwrap_or("weak key");
        out.push(finding(
            CheckId::TlsWeakKey,
            Severity::High,
            format!("{} uses {why}", describe_position(first)),
            json!({"weak": weak_keys}),
        ));
    }
    let weak_sigs: Vec<serde_json::Value> = judged
        .iter()
        .filter(|(_, c)| weak_signature(&c.signature_algorithm))
        .map(|(i, c)| json!({"position": i, "subject": c.subject, "signature_algorithm": c.signature_algorithm}))
        .collect();
    if let Some(first) = weak_sigs.first() {
        let algorithm = first
            .get("signature_algorithm")
            .and_then(|a| a.as_str())
            .unwrap_or("?");
        out.push(finding(
            CheckId::TlsWeakSignature,
            Severity::High,
            format!("{} is signed with {algorithm}", describe_position(first)),
            json!({"weak": weak_sigs}),
        ));
    }

    if let Some(RevocationStatus::Revoked {
        source,
        revoked_at,
        reason,
    }) = tls.revocation.as_ref().map(|r| &r.status)
    {
        out.push(finding(
            CheckId::TlsRevoked,
            Severity::Critical,
            format!(
                "the certificate '{}' was revoked on {}{}, says {source}",
                leaf.subject,
                revoked_at.to_rfc3339(),
                reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
            json!({
                "source": source,
                "revoked_at": revoked_at,
                "reason": reason,
                "serial": leaf.serial,
                "subject": leaf.subject,
                "sources": tls.revocation.as_ref().map(|r| &r.sources),
            }),
        ));
    }

    // The CA/B Forum counts validity inclusively: notBefore and notAfter
    // are both valid seconds, so the period is notAfter − notBefore + 1 s,
    // and a certificate of exactly 398 × 86 400 s between the two exceeds
    // 398 days by a second. The limits bind CAs (BR §6.3.2), so a
    // self-signed certificate, which no CA issued and tls.self_signed
    // already tells, is not held to them.
    let validity = leaf.not_after - leaf.not_before + TimeDelta::seconds(1);
    if !self_signed
        && let Some(max_days) = cab_max_validity_days(leaf.not_before.date_naive())
        && validity > TimeDelta::days(max_days)
    {
        out.push(finding(
            CheckId::TlsLongValidity,
            Severity::Low,
            format!(
                "the certificate is valid for {}, more than the {max_days} days allowed for certificates issued on {}",
                validity_length(validity, max_days),
                leaf.not_before.date_naive()
            ),
            json!({
                "not_before": leaf.not_before,
                "not_after": leaf.not_after,
                "validity_days": validity.num_days(),
                "validity_seconds": validity.num_seconds(),
                "max_days": max_days,
            }),
        ));
    }
    unexplained_handshake(obs, &mut out);
    // Revocation that could not be learned is told beside the other
    // findings, never as one.
    if let Some(why) = revocation_not_determined(obs) {
        for f in &mut out {
            if let Some(map) = f.evidence.as_object_mut() {
                map.insert("revocation".to_owned(), json!({"undetermined": why}));
            }
        }
    }
    out
}

/// Why the revocation of the leaf could not be determined although the
/// certificate names a source (or the server stapled one): a CRL that
/// could not be fetched or verified, a responder that did not answer.
/// Evidence and an error line, never a finding. `None` when the status is
/// known, or when the certificate names no source at all (the usual case
/// for private CAs, kept in the observation).
#[must_use]
pub fn revocation_not_determined(obs: &EndpointObservation) -> Option<String> {
    let facts = obs.tls.as_ref()?.revocation.as_ref()?;
    match &facts.status {
        RevocationStatus::Undetermined { why } if facts.consulted() => {
            Some(format!("revocation not determined: {why}"))
        }
        _ => None,
    }
}

/// What a certificate can be that makes a client refuse the handshake.
pub const CERTIFICATE_CAUSES: [CheckId; 8] = [
    CheckId::TlsWeakKey,
    CheckId::TlsWeakSignature,
    CheckId::TlsCertExpired,
    CheckId::TlsCertNotYetValid,
    CheckId::TlsSelfSigned,
    CheckId::TlsUntrustedRoot,
    CheckId::TlsHostnameMismatch,
    CheckId::TlsIncompleteChain,
];

/// Whether `obs` is an endpoint whose handshake failed on what its
/// certificate is (an RSA-1024 key that clients refuse …): reachable, its
/// certificate judged, one root cause told once.
#[must_use]
pub fn failed_on_its_certificate(obs: &EndpointObservation, findings: &[Finding]) -> bool {
    matches!(obs.reach, Reach::CertificateOnly { .. })
        && findings
            .iter()
            .any(|f| f.target == obs.target && CERTIFICATE_CAUSES.contains(&f.check))
}

/// A handshake that failed although the certificate was read: when what the
/// certificate is explains it, the findings about the certificate say so
/// (the handshake's error in their evidence) and the server is not called
/// unreachable — one root cause, one finding; otherwise `tls.unreachable`.
fn unexplained_handshake(obs: &EndpointObservation, out: &mut Vec<Finding>) {
    let Reach::CertificateOnly { error } = &obs.reach else {
        return;
    };
    if handshake_cause(obs, out).is_some() {
        for f in out.iter_mut().filter(|f| {
            CERTIFICATE_CAUSES.contains(&f.check) || f.check == CheckId::TlsLegacyProtocol
        }) {
            if let Some(map) = f.evidence.as_object_mut() {
                map.insert("handshake_error".to_owned(), json!(error));
            }
        }
        return;
    }
    out.insert(
        0,
        Finding {
            check: CheckId::TlsUnreachable,
            severity: Severity::High,
            target: obs.target.clone(),
            summary: format!("{error} (the certificate was read anyway)"),
            evidence: json!({"stage": "handshake", "error": error, "timed_out": false, "certificate_seen": true}),
        },
    );
}

/// Why `obs`'s handshake failed, when its own findings explain it — what
/// its certificate is, or a server that speaks only a legacy protocol — in
/// the words of the error line that says why its pages were not judged;
/// `None` when nothing explains it (or it did not fail).
#[must_use]
pub fn handshake_cause(obs: &EndpointObservation, findings: &[Finding]) -> Option<&'static str> {
    if failed_on_its_certificate(obs, findings) {
        Some(
            "the HTTP checks could not run: no client completes the TLS handshake with this certificate (see its findings)",
        )
    } else if speaks_only_legacy(obs, findings) {
        Some(
            "the HTTP checks could not run: the server speaks only a legacy protocol that current clients refuse (see tls.legacy_protocol)",
        )
    } else {
        None
    }
}

/// Whether the handshake failed because the server speaks nothing newer
/// than a legacy protocol: it answered a TLS 1.2 hello with an older
/// version (RFC 5246 appendix E.1) and `tls.legacy_protocol` is raised.
/// One root cause: the legacy protocol, not unreachability (of the
/// endpoint or its pages).
#[must_use]
pub fn speaks_only_legacy(obs: &EndpointObservation, out: &[Finding]) -> bool {
    let failed = matches!(obs.reach, Reach::CertificateOnly { .. });
    let legacy = [hello::SSL30, hello::TLS10, hello::TLS11].map(hello::version_name);
    obs.tls
        .as_ref()
        .and_then(|t| t.raw_version.as_deref())
        .is_some_and(|v| legacy.iter().any(|l| l == v))
        && failed
        && out.iter().any(|f| f.check == CheckId::TlsLegacyProtocol)
}

/// The ids that judge a certificate's dates.
const DATE_CHECKS: [CheckId; 2] = [CheckId::TlsCertExpired, CheckId::TlsCertNotYetValid];

fn told_dates(out: &[Finding]) -> bool {
    out.iter().any(|f| DATE_CHECKS.contains(&f.check))
}

/// RFC 5280 §6.1.3 (a)(2): every certificate on the path must be within
/// its validity, not the leaf alone. Judges against `now` the presented
/// certificates after the leaf that the path needs (not a sent root, whose
/// place the store's trust anchor takes, nor one the path does without).
/// The leaf's own date finding, when there is one, carries the
/// intermediates in its evidence; otherwise an out-of-date intermediate
/// raises the date finding itself, naming it.
/// A needed intermediate that expires before the leaf it issues, within
/// `policy.expiring_days` (high within `expiring_urgent_days`), is
/// `tls.cert_expiring`: renewing the leaf will not help, the server must
/// send a renewed intermediate.
fn chain_dates(
    tls: &crate::probe::TlsFacts,
    now: DateTime<Utc>,
    policy: &Policy,
    out: &mut Vec<Finding>,
    target: &str,
) {
    let Some(leaf) = tls.chain.first() else {
        return;
    };
    let leaf_expired = out.iter().any(|f| f.check == CheckId::TlsCertExpired);
    let judged = tls
        .chain
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(i, c)| !c.self_issued && !tls.unneeded.contains(i));
    for (position, c) in judged {
        let (check, severity, summary) = if now > c.not_after {
            (
                CheckId::TlsCertExpired,
                Severity::Critical,
                format!(
                    "the intermediate '{}' (position {position}) expired {} on {}: the chain is no longer valid",
                    c.subject,
                    ago(now - c.not_after),
                    c.not_after.date_naive()
                ),
            )
        } else if now < c.not_before {
            (
                CheckId::TlsCertNotYetValid,
                Severity::High,
                format!(
                    "the intermediate '{}' (position {position}) is not valid until {} (in {})",
                    c.subject,
                    c.not_before.date_naive(),
                    span(c.not_before - now)
                ),
            )
        } else if !leaf_expired
            && c.not_after < leaf.not_after
            && c.not_after - now <= TimeDelta::days(policy.expiring_days)
        {
            let urgent = c.not_after - now <= TimeDelta::days(policy.expiring_urgent_days);
            (
                CheckId::TlsCertExpiring,
                if urgent {
                    Severity::High
                } else {
                    Severity::Medium
                },
                format!(
                    "the intermediate '{}' (position {position}) expires in {} on {}, before the certificate it issues ({}): the server must send a renewed intermediate",
                    c.subject,
                    span(c.not_after - now),
                    c.not_after.date_naive(),
                    leaf.not_after.date_naive()
                ),
            )
        } else {
            continue;
        };
        let entry = json!({"position": position, "subject": c.subject, "not_before": c.not_before, "not_after": c.not_after});
        if let Some(existing) = out.iter_mut().find(|f| f.check == check) {
            if let Some(map) = existing.evidence.as_object_mut() {
                match map.get_mut("intermediates").and_then(|v| v.as_array_mut()) {
                    Some(list) => list.push(entry),
                    None => {
                        map.insert("intermediates".to_owned(), json!([entry]));
                    }
                }
            }
        } else {
            out.push(Finding {
                check,
                severity,
                target: target.to_owned(),
                summary,
                evidence: json!({
                    "not_before": c.not_before,
                    "not_after": c.not_after,
                    "subject": c.subject,
                    "intermediates": [entry],
                }),
            });
        }
    }
}

/// Whether an issuer the checks judge has a key weak enough that a
/// verifier refuses the signature made with it.
fn issuer_key_weak(tls: &crate::probe::TlsFacts) -> bool {
    tls.chain
        .iter()
        .skip(1)
        .any(|c| !c.self_issued && weak_key(c).is_some())
}

/// Whether a certificate the checks judge (not a self-signed root's own
/// signature) is signed with SHA-1 or MD5.
fn signs_weakly(tls: &crate::probe::TlsFacts) -> bool {
    tls.chain
        .iter()
        .enumerate()
        .any(|(i, c)| (i == 0 || !c.self_issued) && weak_signature(&c.signature_algorithm))
}

/// "400 days", or "398 days and 1 second" when whole days alone would
/// read as no more than the maximum.
fn validity_length(validity: TimeDelta, max_days: i64) -> String {
    let days = validity.num_days();
    let rest = (validity - TimeDelta::days(days)).num_seconds();
    match rest {
        _ if days > max_days => format!("{days} days"),
        1 => format!("{days} days and 1 second"),
        _ => format!("{days} days and {rest} seconds"),
    }
}

fn describe_position(entry: &serde_json::Value) -> String {
    let subject = entry.get("subject").and_then(|s| s.as_str()).unwrap_or("?");
    match entry.get("position").and_then(serde_json::Value::as_u64) {
        Some(0) => format!("the certificate ('{subject}')"),
        _ => format!("the intermediate '{subject}'"),
    }
}

/// Expired, not yet valid, or expiring relative to its lifetime.
fn dates(
    leaf: &CertFacts,
    now: DateTime<Utc>,
    policy: &Policy,
    push: &mut dyn FnMut(CheckId, Severity, String, serde_json::Value),
) {
    let evidence = json!({"not_before": leaf.not_before, "not_after": leaf.not_after, "subject": leaf.subject});
    if now > leaf.not_after {
        push(
            CheckId::TlsCertExpired,
            Severity::Critical,
            format!(
                "certificate expired {} on {}",
                ago(now - leaf.not_after),
                leaf.not_after.date_naive()
            ),
            evidence,
        );
        return;
    }
    if now < leaf.not_before {
        push(
            CheckId::TlsCertNotYetValid,
            Severity::High,
            format!(
                "certificate is not valid until {} (in {})",
                leaf.not_before.date_naive(),
                span(leaf.not_before - now)
            ),
            evidence.clone(),
        );
    }
    let left = leaf.not_after - now;
    let lifetime = leaf.not_after - leaf.not_before;
    let urgent = TimeDelta::days(policy.expiring_urgent_days).min(lifetime / 6);
    let soon = TimeDelta::days(policy.expiring_days).min(lifetime / 3);
    let severity = if left <= urgent {
        Some(Severity::High)
    } else if left <= soon {
        Some(Severity::Medium)
    } else {
        None
    };
    if let Some(severity) = severity {
        push(
            CheckId::TlsCertExpiring,
            severity,
            format!(
                "certificate expires in {} on {} ({}-day lifetime): renewal looks missed",
                span(left),
                leaf.not_after.date_naive(),
                lifetime.num_days()
            ),
            json!({"not_before": leaf.not_before, "not_after": leaf.not_after, "days_left": left.num_days(), "lifetime_days": lifetime.num_days()}),
        );
    }
}

/// Whole days, rounded to the nearest, so that "2 days" means about two.
fn span(d: TimeDelta) -> String {
    let days = (d.num_seconds() + 43_200).div_euclid(86_400);
    if days >= 1 {
        format!("{days} day{}", if days == 1 { "" } else { "s" })
    } else {
        let hours = d.num_hours().max(0);
        format!("{hours} hour{}", if hours == 1 { "" } else { "s" })
    }
}

fn ago(d: TimeDelta) -> String {
    format!("{} ago", span(d))
}

/// The CA/Browser Forum maximum validity for a certificate issued on `day`,
/// in days: Baseline Requirements §6.3.2 and the ballots that changed it —
/// 60 months from the BRs' effective date (2012-07-01), 39 months from
/// 2015-04-01 (both in the BRs' first version), 825 days from 2018-03-01
/// (ballot 193), 398 days from 2020-09-01 (SC-31), then 200, 100 and 47
/// days (SC-081). Months are
/// counted as days generously (39 months ≤ 1 188 days, 60 months ≤ 1 827),
/// so that only a certificate that exceeds the limit on any calendar is
/// reported. `None` before the BRs: no maximum was in force.
#[must_use]
pub fn cab_max_validity_days(day: NaiveDate) -> Option<i64> {
    let from = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MAX);
    let schedule = [
        (from(2029, 3, 15), 47),
        (from(2027, 3, 15), 100),
        (from(2026, 3, 15), 200),
        (from(2020, 9, 1), 398),
        (from(2018, 3, 1), 825),
        (from(2015, 4, 1), 1188),
        (from(2012, 7, 1), 1827),
    ];
    schedule
        .iter()
        .find(|(since, _)| day >= *since)
        .map(|(_, days)| *days)
}

fn weak_key(cert: &CertFacts) -> Option<String> {
    match (cert.key.algorithm.as_str(), cert.key.bits) {
        ("RSA", Some(bits)) if bits < 2048 => {
            Some(format!("an RSA key of {bits} bits (minimum 2048)"))
        }
        ("EC", Some(bits)) if bits < 256 => Some(format!("an EC key of {bits} bits (minimum 256)")),
        ("DSA", _) => Some("a DSA key".to_owned()),
        _ => None,
    }
}

/// SHA-1 and MD-family signatures, however named: PKCS #1
/// (`sha1WithRSAEncryption`), ECDSA/DSA (`ecdsa-with-SHA1`), RSASSA-PSS
/// with a SHA-1 hash (RFC 4055's default), and the whole OIW Security SIG
/// arc 1.3.14.3.2 (SHA-0, SHA-1 and MD5 signatures), named or as a bare OID.
fn weak_signature(algorithm: &str) -> bool {
    let a = algorithm.to_ascii_lowercase().replace('-', "");
    ["sha1", "md5", "md4", "md2", "1.3.14.3.2."]
        .iter()
        .any(|weak| a.contains(weak))
}

/// The DNS names a certificate presents for matching: its dNSName SANs,
/// or its subject CN when it has none (RFC 6125 §6.4.4).
fn presented_names(leaf: &CertFacts) -> Vec<String> {
    let dns: Vec<String> = leaf
        .sans
        .iter()
        .filter(|s| leaf.ip_sans.is_some() || s.parse::<std::net::IpAddr>().is_err())
        .cloned()
        .collect();
    if dns.is_empty() && ip_sans(leaf).is_empty() {
        leaf.common_name.iter().cloned().collect()
    } else {
        dns
    }
}

/// The iPAddress SANs (read from `sans` in observations stored before the
/// two kinds were kept apart).
fn ip_sans(leaf: &CertFacts) -> Vec<std::net::IpAddr> {
    match &leaf.ip_sans {
        Some(ips) => ips.clone(),
        None => leaf.sans.iter().filter_map(|s| s.parse().ok()).collect(),
    }
}

/// RFC 6125 §6 / RFC 9525 matching. An IP-address host is matched only by
/// an iPAddress SAN, never by a dNSName or the CN (RFC 9525 §6.5, the
/// iPAddress form of RFC 5280 §4.2.1.6; RFC 6125 left IP addresses out).
/// A DNS host is matched by the dNSName SANs (the CN only when there is
/// no SAN, RFC 6125 §6.4.4), case-insensitively (§6.4.1). A wildcard is
/// accepted only as the complete left-most label (`*.example.com`, not
/// `f*.example.com` nor `www.*.com`: §6.4.3 as the CA/B Baseline
/// Requirements §3.2.2.6 profile it), matches exactly one non-empty label,
/// and is never accepted directly under a public suffix (`*.co.uk`,
/// `*.com`: BR §3.2.2.6, the Public Suffix List).
#[must_use]
pub fn name_matches(leaf: &CertFacts, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
    {
        return ip_sans(leaf).contains(&ip);
    }
    presented_names(leaf).iter().any(|pattern| {
        let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
        match pattern.strip_prefix("*.") {
            Some(rest) => host.split_once('.').is_some_and(|(label, parent)| {
                !label.is_empty()
                    && parent == rest
                    && !rest.contains('*')
                    && !crate::probe::dns::suffix::is_public_suffix(rest)
            }),
            None => !pattern.contains('*') && pattern == host,
        }
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::probe::{ChainSource, KeyFacts, LegacyProbe, TlsFacts};

    fn t(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    fn cert(subject: &str, issuer: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> CertFacts {
        CertFacts {
            subject: format!("CN={subject}"),
            issuer: format!("CN={issuer}"),
            common_name: Some(subject.to_owned()),
            sans: vec![subject.to_owned()],
            ip_sans: Some(vec![]),
            not_before: from,
            not_after: to,
            key: KeyFacts {
                algorithm: "EC".into(),
                bits: Some(256),
            },
            signature_algorithm: "ecdsa-with-SHA256".into(),
            is_ca: false,
            self_issued: subject == issuer,
            serial: "01".into(),
            sha256: "00".into(),
        }
    }

    fn ca(subject: &str, issuer: &str) -> CertFacts {
        let mut c = cert(subject, issuer, t(2020, 1, 1), t(2035, 1, 1));
        c.is_ca = true;
        c.sans.clear();
        c
    }

    fn obs(chain: Vec<CertFacts>, trust: Trust) -> EndpointObservation {
        EndpointObservation {
            target: "portal.acme.test:443".into(),
            host: "portal.acme.test".into(),
            port: 443,
            addresses: vec![],
            reach: Reach::Handshake,
            tls: Some(TlsFacts {
                version: Some("TLSv1.3".into()),
                cipher_suite: Some("TLS13_AES_128_GCM_SHA256".into()),
                chain,
                unparseable: vec![],
                chain_source: ChainSource::Rustls,
                trust,
                revocation: None,
                raw_version: None,
                unneeded: vec![],
            }),
            legacy: ["SSLv3", "TLSv1.0", "TLSv1.1"]
                .into_iter()
                .map(|version| LegacyProbe {
                    version: version.into(),
                    accepted: Some(false),
                    detail: String::new(),
                    cipher_suite: None,
                })
                .collect(),
            elapsed_ms: 1,
        }
    }

    fn good_chain(now: DateTime<Utc>) -> Vec<CertFacts> {
        vec![
            cert(
                "portal.acme.test",
                "Test Intermediate",
                now - TimeDelta::days(10),
                now + TimeDelta::days(80),
            ),
            ca("Test Intermediate", "Test Root"),
        ]
    }

    fn ids(findings: &[Finding]) -> Vec<CheckId> {
        findings.iter().map(|f| f.check).collect()
    }

    const NOW: fn() -> DateTime<Utc> = || t(2026, 11, 28);

    #[test]
    fn a_good_endpoint_has_no_findings() {
        let f = check(
            &obs(good_chain(NOW()), Trust::Trusted),
            NOW(),
            &Policy::default(),
        );
        assert!(f.is_empty(), "{f:?}");
    }

    fn with_revocation(
        mut o: EndpointObservation,
        status: RevocationStatus,
        consulted: bool,
    ) -> EndpointObservation {
        let sources = if consulted {
            vec![crate::probe::revocation::SourceOutcome {
                source: "http://crl.acme.test/ca.crl".into(),
                outcome: "no answer within 2s".into(),
            }]
        } else {
            Vec::new()
        };
        if let Some(tls) = o.tls.as_mut() {
            tls.revocation = Some(crate::probe::RevocationFacts { status, sources });
        }
        o
    }

    #[test]
    fn a_revoked_leaf_is_critical_with_source_date_and_reason() {
        let o = with_revocation(
            obs(good_chain(NOW()), Trust::Trusted),
            RevocationStatus::Revoked {
                source: "stapled OCSP response".into(),
                revoked_at: t(2026, 11, 20),
                reason: Some("keyCompromise".into()),
            },
            true,
        );
        let f = check(&o, NOW(), &Policy::default());
        assert_eq!(ids(&f), [CheckId::TlsRevoked]);
        assert_eq!(f[0].severity, Severity::Critical);
        assert_eq!(
            f[0].summary,
            "the certificate 'CN=portal.acme.test' was revoked on 2026-11-20T00:00:00+00:00 (keyCompromise), says stapled OCSP response"
        );
        assert_eq!(f[0].evidence["reason"], "keyCompromise");
        assert!(revocation_not_determined(&o).is_none());
    }

    #[test]
    fn undetermined_revocation_is_evidence_never_a_finding() {
        let undetermined = RevocationStatus::Undetermined {
            why: "no source gave a verified answer".into(),
        };
        // A source was named and failed: told beside the other findings.
        let mut chain = good_chain(NOW());
        chain[0].sans = vec!["other.acme.test".into()];
        let o = with_revocation(obs(chain, Trust::Trusted), undetermined.clone(), true);
        let f = check(&o, NOW(), &Policy::default());
        assert_eq!(ids(&f), [CheckId::TlsHostnameMismatch]);
        assert_eq!(
            f[0].evidence["revocation"]["undetermined"],
            "revocation not determined: no source gave a verified answer"
        );
        assert!(revocation_not_determined(&o).is_some());
        // No source named at all: kept in the observation only.
        let o = with_revocation(obs(good_chain(NOW()), Trust::Trusted), undetermined, false);
        assert!(check(&o, NOW(), &Policy::default()).is_empty());
        assert!(revocation_not_determined(&o).is_none());
        // Good is nothing to say.
        let o = with_revocation(
            obs(good_chain(NOW()), Trust::Trusted),
            RevocationStatus::Good {
                source: "http://crl.acme.test/ca.crl".into(),
            },
            true,
        );
        assert!(check(&o, NOW(), &Policy::default()).is_empty());
    }

    #[test]
    fn expired_says_how_long_ago() {
        let now = NOW();
        let mut chain = good_chain(now);
        chain[0].not_before = t(2026, 8, 27);
        chain[0].not_after = t(2026, 11, 25);
        let f = check(&obs(chain, Trust::Trusted), now, &Policy::default());
        assert_eq!(ids(&f), [CheckId::TlsCertExpired]);
        assert_eq!(f[0].summary, "certificate expired 3 days ago on 2026-11-25");
        assert_eq!(f[0].severity, Severity::Critical);
    }

    #[test]
    fn expiring_is_relative_to_lifetime() {
        let now = NOW();
        let policy = Policy::default();
        let with = |lifetime: i64, left: i64| {
            let mut chain = good_chain(now);
            chain[0].not_after = now + TimeDelta::days(left);
            // The longest lifetime allowed is a second short of the days
            // between the dates (validity counts both ends).
            chain[0].not_before =
                chain[0].not_after - TimeDelta::days(lifetime) + TimeDelta::seconds(1);
            check(&obs(chain, Trust::Trusted), now, &policy)
        };
        // 398-day cert: medium within 30 days, high within 7.
        assert!(with(398, 31).is_empty());
        assert_eq!(with(398, 30)[0].severity, Severity::Medium);
        assert_eq!(with(398, 7)[0].severity, Severity::High);
        // 47-day cert: lifetime/3 ≈ 15.7 days, lifetime/6 ≈ 7.8 → 7 days.
        assert!(with(47, 16).is_empty());
        assert_eq!(with(47, 15)[0].severity, Severity::Medium);
        assert_eq!(with(47, 7)[0].severity, Severity::High);
    }

    #[test]
    fn not_yet_valid() {
        let now = NOW();
        let mut chain = good_chain(now);
        chain[0].not_before = now + TimeDelta::days(2);
        let f = check(&obs(chain, Trust::Trusted), now, &Policy::default());
        assert!(ids(&f).contains(&CheckId::TlsCertNotYetValid));
    }

    #[test]
    fn hostnames() {
        let mut leaf = cert("*.acme.test", "x", NOW(), NOW());
        assert!(name_matches(&leaf, "portal.acme.test"));
        assert!(name_matches(&leaf, "PORTAL.acme.test."));
        assert!(!name_matches(&leaf, "a.portal.acme.test"));
        assert!(!name_matches(&leaf, "acme.test"));
        leaf.sans = vec!["*.test".into()];
        assert!(
            !name_matches(&leaf, "acme.test"),
            "no wildcard directly under a single-label suffix"
        );
        leaf.sans.clear();
        leaf.common_name = Some("portal.acme.test".into());
        assert!(
            name_matches(&leaf, "portal.acme.test"),
            "CN is used when there is no SAN"
        );
        leaf.sans = vec!["other.test".into()];
        assert!(
            !name_matches(&leaf, "portal.acme.test"),
            "CN is ignored when there are SANs"
        );
        leaf.sans = vec![];
        leaf.ip_sans = Some(vec!["127.0.0.1".parse().unwrap()]);
        assert!(name_matches(&leaf, "127.0.0.1"));
    }

    /// RFC 9525 §6.5 / RFC 5280 §4.2.1.6: an IP host is matched by an
    /// iPAddress SAN only; a dNSName spelling the address, or the CN, never.
    #[test]
    fn an_ip_host_needs_an_ip_address_san() {
        let mut leaf = cert("127.0.0.1", "x", NOW(), NOW());
        assert_eq!(leaf.sans, ["127.0.0.1"]);
        assert!(!name_matches(&leaf, "127.0.0.1"), "dNSName '127.0.0.1'");
        leaf.sans.clear();
        assert!(!name_matches(&leaf, "127.0.0.1"), "CN '127.0.0.1'");
        leaf.ip_sans = Some(vec!["::1".parse().unwrap()]);
        assert!(name_matches(&leaf, "[::1]"));
        assert!(!name_matches(&leaf, "127.0.0.1"));
        // An iPAddress SAN does not match a DNS name either.
        leaf.common_name = Some("portal.acme.test".into());
        assert!(
            !name_matches(&leaf, "portal.acme.test"),
            "SANs present: no CN"
        );
        // Observations stored before the kinds were kept apart.
        let mut old = cert("portal.acme.test", "x", NOW(), NOW());
        old.sans = vec!["portal.acme.test".into(), "10.0.0.1".into()];
        old.ip_sans = None;
        assert!(name_matches(&old, "10.0.0.1"));
        assert!(name_matches(&old, "portal.acme.test"));
        assert_eq!(presented_names(&old), ["portal.acme.test"]);
    }

    /// RFC 6125 §6.4.3 as the CA/B BRs profile it: a wildcard is the whole
    /// left-most label, one label deep, never on a public suffix.
    #[test]
    fn wildcards_follow_the_rules() {
        let mut leaf = cert("x", "x", NOW(), NOW());
        let matches = |leaf: &mut CertFacts, pattern: &str, host: &str| {
            leaf.sans = vec![pattern.to_owned()];
            name_matches(leaf, host)
        };
        assert!(matches(&mut leaf, "*.example.co.uk", "www.example.co.uk"));
        assert!(
            !matches(&mut leaf, "*.co.uk", "example.co.uk"),
            "public suffix"
        );
        assert!(!matches(&mut leaf, "*.com", "example.com"), "public suffix");
        assert!(
            !matches(&mut leaf, "*.github.io", "someone.github.io"),
            "private suffix"
        );
        assert!(!matches(&mut leaf, "*.test", "acme.test"), "unknown TLD");
        assert!(
            !matches(&mut leaf, "w*.example.com", "www.example.com"),
            "partial label"
        );
        assert!(
            !matches(&mut leaf, "*w.example.com", "www.example.com"),
            "partial label"
        );
        assert!(
            !matches(&mut leaf, "www.*.com", "www.example.com"),
            "not left-most"
        );
        assert!(
            !matches(&mut leaf, "*.*.example.com", "a.b.example.com"),
            "two wildcards"
        );
        assert!(
            !matches(&mut leaf, "*.example.com", ".example.com"),
            "empty label"
        );
        assert!(
            !matches(&mut leaf, "*.example.com", "a.b.example.com"),
            "one label only"
        );
        assert!(
            matches(&mut leaf, "*.Example.COM.", "WWW.example.com"),
            "case, root dot"
        );
    }

    #[test]
    fn self_signed_untrusted_and_incomplete_are_told_apart() {
        let now = NOW();
        let mut leaf = cert(
            "portal.acme.test",
            "portal.acme.test",
            now - TimeDelta::days(1),
            now + TimeDelta::days(80),
        );
        leaf.self_issued = true;
        let f = check(
            &obs(vec![leaf], Trust::UnknownIssuer),
            now,
            &Policy::default(),
        );
        assert_eq!(ids(&f), [CheckId::TlsSelfSigned]);

        let chain = vec![
            good_chain(now)[0].clone(),
            ca("Rogue Intermediate", "Rogue Root CA"),
            ca("Rogue Root CA", "Rogue Root CA"),
        ];
        let f = check(&obs(chain, Trust::UnknownIssuer), now, &Policy::default());
        assert_eq!(ids(&f), [CheckId::TlsUntrustedRoot]);
        assert!(
            f[0].summary
                .contains("'CN=Rogue Root CA', which is not trusted"),
            "{}",
            f[0].summary
        );

        let chain = vec![good_chain(now)[0].clone()];
        let f = check(&obs(chain, Trust::UnknownIssuer), now, &Policy::default());
        assert_eq!(ids(&f), [CheckId::TlsIncompleteChain]);
    }

    #[test]
    fn a_handshake_refused_for_what_the_certificate_is_is_one_finding() {
        let now = NOW();
        let error = "peer's certificate uses an unsupported key".to_owned();
        // An RSA-1024 key clients refuse: the weak key, not unreachability.
        let mut chain = good_chain(now);
        chain[0].key = KeyFacts {
            algorithm: "RSA".into(),
            bits: Some(1024),
        };
        let mut o = obs(chain, Trust::Trusted);
        o.reach = Reach::CertificateOnly {
            error: error.clone(),
        };
        let f = check(&o, now, &Policy::default());
        assert_eq!(ids(&f), [CheckId::TlsWeakKey]);
        assert_eq!(f[0].evidence["handshake_error"], error.as_str());
        assert!(failed_on_its_certificate(&o, &f));
        // A failed handshake the certificate does not explain is still
        // the server's unreachability.
        let mut o = obs(good_chain(now), Trust::Trusted);
        o.reach = Reach::CertificateOnly { error };
        let f = check(&o, now, &Policy::default());
        assert_eq!(ids(&f), [CheckId::TlsUnreachable]);
        assert!(f[0].summary.ends_with("(the certificate was read anyway)"));
        assert!(!failed_on_its_certificate(&o, &f));
    }

    #[test]
    fn weak_keys_and_signatures() {
        let now = NOW();
        let mut chain = good_chain(now);
        chain[0].key = KeyFacts {
            algorithm: "RSA".into(),
            bits: Some(1024),
        };
        chain[1].signature_algorithm = "sha1WithRSAEncryption".into();
        let f = check(&obs(chain, Trust::Trusted), now, &Policy::default());
        assert_eq!(ids(&f), [CheckId::TlsWeakKey, CheckId::TlsWeakSignature]);
        assert!(f[0].summary.contains("1024 bits"));
        assert!(f[1].summary.contains("intermediate"));

        // A self-signed root's own SHA-1 signature is not judged.
        let mut chain = good_chain(now);
        let mut root = ca("Test Root", "Test Root");
        root.signature_algorithm = "sha1WithRSAEncryption".into();
        chain.push(root);
        assert!(check(&obs(chain, Trust::Trusted), now, &Policy::default()).is_empty());
    }

    #[test]
    fn long_validity_follows_the_cab_schedule() {
        let max = |y, m, d| cab_max_validity_days(t(y, m, d).date_naive());
        assert_eq!(max(2026, 3, 14), Some(398));
        assert_eq!(max(2026, 3, 15), Some(200));
        assert_eq!(max(2027, 3, 15), Some(100));
        assert_eq!(max(2029, 3, 15), Some(47));
        // The limits before SC-081 (BR §6.3.2's history).
        assert_eq!(max(2020, 9, 1), Some(398));
        assert_eq!(max(2020, 8, 31), Some(825));
        assert_eq!(max(2018, 3, 1), Some(825));
        assert_eq!(max(2018, 2, 28), Some(1188));
        assert_eq!(max(2015, 4, 1), Some(1188));
        assert_eq!(max(2015, 3, 31), Some(1827));
        assert_eq!(max(2012, 6, 30), None);
        let now = NOW();
        let mut chain = good_chain(now);
        chain[0].not_before = t(2026, 11, 1);
        chain[0].not_after = chain[0].not_before + TimeDelta::days(201);
        assert_eq!(
            ids(&check(
                &obs(chain.clone(), Trust::Trusted),
                now,
                &Policy::default()
            )),
            [CheckId::TlsLongValidity]
        );
        // Validity counts both ends (notAfter − notBefore + 1 s): exactly
        // 200 days between the two is one second too many.
        chain[0].not_after = chain[0].not_before + TimeDelta::days(200);
        assert_eq!(
            ids(&check(
                &obs(chain.clone(), Trust::Trusted),
                now,
                &Policy::default()
            )),
            [CheckId::TlsLongValidity]
        );
        chain[0].not_after = chain[0].not_before + TimeDelta::days(200) - TimeDelta::seconds(1);
        assert!(check(&obs(chain, Trust::Trusted), now, &Policy::default()).is_empty());
    }

    #[test]
    fn exactly_398_days_between_the_dates_is_too_long() {
        let now = t(2025, 7, 1);
        let mut chain = good_chain(now);
        chain[0].not_before = t(2025, 6, 1);
        chain[0].not_after = t(2025, 6, 1) + TimeDelta::days(398);
        let f = check(&obs(chain.clone(), Trust::Trusted), now, &Policy::default());
        assert_eq!(ids(&f), [CheckId::TlsLongValidity]);
        assert!(
            f[0].summary
                .contains("398 days and 1 second, more than the 398 days"),
            "{}",
            f[0].summary
        );
        assert_eq!(f[0].evidence["validity_seconds"], 398 * 86_400 + 1);
        chain[0].not_after -= TimeDelta::seconds(1);
        assert!(check(&obs(chain, Trust::Trusted), now, &Policy::default()).is_empty());
    }

    #[test]
    fn every_failed_verdict_is_untrusted_with_its_detail() {
        let now = NOW();
        for trust in [
            Trust::Other {
                detail: "the certificate 'CN=Test Intermediate' at position 1 expired on 2026-01-01T00:00:00+00:00".into(),
            },
            Trust::Other {
                detail: "InvalidPurpose".into(),
            },
            Trust::BadSignature {
                detail: "BadSignature".into(),
            },
        ] {
            let f = check(&obs(good_chain(now), trust.clone()), now, &Policy::default());
            assert_eq!(ids(&f), [CheckId::TlsUntrustedRoot], "{trust:?}");
            assert_eq!(f[0].severity, Severity::High);
            let (Trust::Other { detail } | Trust::BadSignature { detail }) = &trust else {
                unreachable!()
            };
            assert!(f[0].summary.contains(detail.as_str()), "{}", f[0].summary);
            assert_eq!(f[0].evidence["trust"], serde_json::to_value(&trust).unwrap());
        }
        // Trusted and not checked say nothing.
        for trust in [Trust::Trusted, Trust::NotChecked] {
            assert!(check(&obs(good_chain(now), trust), now, &Policy::default()).is_empty());
        }
    }

    #[test]
    fn a_sha1_signature_refused_by_rustls_is_only_a_weak_signature() {
        let now = NOW();
        let refused = Trust::BadSignature {
            detail: "UnsupportedSignatureAlgorithmContext { .. }".into(),
        };
        let mut chain = good_chain(now);
        chain[0].signature_algorithm = "sha1WithRSAEncryption".into();
        let f = check(&obs(chain, refused.clone()), now, &Policy::default());
        assert_eq!(ids(&f), [CheckId::TlsWeakSignature]);
        // A self-signed root's SHA-1 is not judged, so it excuses nothing.
        let mut chain = good_chain(now);
        let mut root = ca("Test Root", "Test Root");
        root.signature_algorithm = "sha1WithRSAEncryption".into();
        chain.push(root);
        let f = check(&obs(chain, refused), now, &Policy::default());
        assert_eq!(ids(&f), [CheckId::TlsUntrustedRoot]);
    }

    #[test]
    fn unparseable_certificates_keep_their_place() {
        let now = NOW();
        // The leaf did not parse: the probe leaves the chain empty.
        let mut o = obs(vec![], Trust::NotChecked);
        o.tls.as_mut().unwrap().unparseable = vec![
            "the leaf (position 0): unparseable certificate: bad".into(),
            "position 1: 'CN=Test Intermediate' is not judged, it follows a certificate that cannot be parsed".into(),
        ];
        let f = check(&o, now, &Policy::default());
        assert_eq!(ids(&f), [CheckId::TlsUntrustedRoot]);
        assert!(
            f[0].summary
                .starts_with("the server presented a certificate that cannot be parsed"),
            "{}",
            f[0].summary
        );

        // The intermediate did not parse: not "no intermediate sent", and a
        // lone parsed self-issued leaf is not "self-signed".
        let mut leaf = good_chain(now)[0].clone();
        let mut o = obs(vec![leaf.clone()], Trust::UnknownIssuer);
        o.tls.as_mut().unwrap().unparseable =
            vec!["position 1: unparseable certificate: bad".into()];
        let f = check(&o, now, &Policy::default());
        assert_eq!(ids(&f), [CheckId::TlsUntrustedRoot]);
        assert!(
            f[0].summary.contains("cannot be parsed"),
            "{}",
            f[0].summary
        );
        leaf.issuer = leaf.subject.clone();
        leaf.self_issued = true;
        let mut o = obs(vec![leaf], Trust::UnknownIssuer);
        o.tls.as_mut().unwrap().unparseable =
            vec!["position 1: unparseable certificate: bad".into()];
        assert_eq!(
            ids(&check(&o, now, &Policy::default())),
            [CheckId::TlsUntrustedRoot]
        );
    }

    #[test]
    fn protocols() {
        let now = NOW();
        let mut o = obs(good_chain(now), Trust::Trusted);
        o.tls.as_mut().unwrap().version = Some("TLSv1.2".into());
        o.legacy[1].accepted = Some(true);
        let f = check(&o, now, &Policy::default());
        assert_eq!(ids(&f), [CheckId::TlsNoTls13, CheckId::TlsLegacyProtocol]);
        assert_eq!(f[1].summary, "the server accepts TLSv1.0");
        o.legacy[0].accepted = Some(true);
        o.legacy[0].cipher_suite = Some("TLS_RSA_WITH_RC4_128_SHA".into());
        let f = check(&o, now, &Policy::default());
        assert_eq!(
            f[1].summary,
            "the server accepts SSLv3 (TLS_RSA_WITH_RC4_128_SHA) and TLSv1.0"
        );
        assert_eq!(f[1].evidence["accepted"], json!(["SSLv3", "TLSv1.0"]));
    }

    /// A server that answers a TLS 1.2 hello with SSL 3.0 fails the
    /// handshake because of its protocol: one finding, not unreachability.
    #[test]
    fn a_server_speaking_only_a_legacy_protocol_is_not_unreachable() {
        let now = NOW();
        let mut o = obs(good_chain(now), Trust::Trusted);
        o.reach = Reach::CertificateOnly {
            error: "TLS handshake failed: peer is incompatible".into(),
        };
        let tls = o.tls.as_mut().unwrap();
        tls.version = None;
        tls.raw_version = Some("SSLv3".into());
        o.legacy[0].accepted = Some(true);
        let f = check(&o, now, &Policy::default());
        assert_eq!(ids(&f), [CheckId::TlsLegacyProtocol]);
        assert!(f[0].evidence["handshake_error"].is_string());
        // Without the legacy acceptance the failure is unexplained.
        o.legacy[0].accepted = Some(false);
        assert_eq!(
            ids(&check(&o, now, &Policy::default())),
            [CheckId::TlsUnreachable]
        );
    }

    /// RFC 5280 §6.1.3 (a)(2): an intermediate's dates count. Expired
    /// intermediate on a trusted path: one date finding naming it (not
    /// untrusted as well); out of date on every path: the same, with the
    /// verdict in its evidence; an unneeded one is not judged.
    #[test]
    fn an_expired_intermediate_is_one_date_finding() {
        let now = NOW();
        let mut chain = good_chain(now);
        chain[1].not_after = now - TimeDelta::days(3);
        let f = check(&obs(chain.clone(), Trust::Trusted), now, &Policy::default());
        assert_eq!(ids(&f), [CheckId::TlsCertExpired]);
        assert!(
            f[0].summary.starts_with(
                "the intermediate 'CN=Test Intermediate' (position 1) expired 3 days ago"
            ),
            "{}",
            f[0].summary
        );
        assert_eq!(f[0].severity, Severity::Critical);
        let out_of_date = Trust::OutOfDate {
            detail: "the certificate 'CN=Test Intermediate' at position 1 expired".into(),
        };
        let f = check(
            &obs(chain.clone(), out_of_date.clone()),
            now,
            &Policy::default(),
        );
        assert_eq!(ids(&f), [CheckId::TlsCertExpired]);
        assert!(f[0].evidence["trust"].is_string());
        // Sent but not needed: nothing to say.
        let mut o = obs(chain, Trust::Trusted);
        o.tls.as_mut().unwrap().unneeded = vec![1];
        assert!(check(&o, now, &Policy::default()).is_empty());
        // The leaf expired too: one finding, the intermediate in its evidence.
        let mut chain = good_chain(now);
        chain[0].not_after = now - TimeDelta::days(1);
        chain[1].not_after = now - TimeDelta::days(3);
        let f = check(&obs(chain, Trust::Trusted), now, &Policy::default());
        assert_eq!(ids(&f), [CheckId::TlsCertExpired]);
        assert!(f[0].summary.starts_with("certificate expired"));
        assert_eq!(f[0].evidence["intermediates"][0]["position"], 1);
        // An intermediate that expires before the leaf, soon: expiring.
        let mut chain = good_chain(now);
        chain[1].not_after = now + TimeDelta::days(20);
        let f = check(&obs(chain.clone(), Trust::Trusted), now, &Policy::default());
        assert_eq!(ids(&f), [CheckId::TlsCertExpiring]);
        assert_eq!(f[0].severity, Severity::Medium);
        assert!(
            f[0].summary.contains("expires in 20 days")
                && f[0].summary.contains("renewed intermediate"),
            "{}",
            f[0].summary
        );
        chain[1].not_after = now + TimeDelta::days(5);
        let f = check(&obs(chain.clone(), Trust::Trusted), now, &Policy::default());
        assert_eq!(f[0].severity, Severity::High);
        // Not soon, or not before the leaf: nothing.
        chain[1].not_after = now + TimeDelta::days(60);
        assert!(check(&obs(chain.clone(), Trust::Trusted), now, &Policy::default()).is_empty());
        // Out of date where no presented certificate is (the root): untrusted.
        let f = check(&obs(good_chain(now), out_of_date), now, &Policy::default());
        assert_eq!(ids(&f), [CheckId::TlsUntrustedRoot]);
    }

    /// Leaf and one intermediate, the next intermediate not sent: the
    /// chain is incomplete, not untrusted.
    #[test]
    fn a_missing_upper_intermediate_is_an_incomplete_chain() {
        let now = NOW();
        let chain = vec![
            good_chain(now)[0].clone(),
            ca("Test Intermediate", "Test Upper Intermediate"),
        ];
        let f = check(&obs(chain, Trust::UnknownIssuer), now, &Policy::default());
        assert_eq!(ids(&f), [CheckId::TlsIncompleteChain]);
        assert_eq!(
            f[0].evidence["missing_issuer"],
            "CN=Test Upper Intermediate"
        );
    }

    /// A self-signed certificate for another name: one root cause.
    #[test]
    fn a_self_signed_certificate_for_another_name_is_one_finding() {
        let now = NOW();
        let mut leaf = cert(
            "localhost",
            "localhost",
            now - TimeDelta::days(1),
            now + TimeDelta::days(80),
        );
        leaf.self_issued = true;
        let f = check(
            &obs(vec![leaf], Trust::UnknownIssuer),
            now,
            &Policy::default(),
        );
        assert_eq!(ids(&f), [CheckId::TlsSelfSigned]);
        assert_eq!(f[0].evidence["valid_for_host"], false);
        assert_eq!(f[0].evidence["names"], json!(["localhost"]));
        // Nor is a ten-year self-signed certificate held to the CA/B limits.
        let mut leaf = cert(
            "portal.acme.test",
            "portal.acme.test",
            now - TimeDelta::days(1),
            now + TimeDelta::days(3650),
        );
        leaf.self_issued = true;
        let f = check(
            &obs(vec![leaf], Trust::UnknownIssuer),
            now,
            &Policy::default(),
        );
        assert_eq!(ids(&f), [CheckId::TlsSelfSigned]);
    }

    /// A signature refused because the issuer's key is weak is the weak
    /// key, not also an untrusted chain.
    #[test]
    fn a_weak_issuer_key_is_not_also_untrusted() {
        let now = NOW();
        let mut chain = good_chain(now);
        chain[1].key = KeyFacts {
            algorithm: "RSA".into(),
            bits: Some(1024),
        };
        let refused = Trust::BadSignature {
            detail: "a certificate is signed with an algorithm the verifier does not accept".into(),
        };
        let f = check(&obs(chain, refused), now, &Policy::default());
        assert_eq!(ids(&f), [CheckId::TlsWeakKey]);
    }

    #[test]
    fn weak_signatures_however_named() {
        for weak in [
            "sha1WithRSAEncryption",
            "ecdsa-with-SHA1",
            "RSASSA-PSS with SHA-1",
            "md5WithRSAEncryption",
            "md2WithRSAEncryption",
            "sha1WithRSASignature (OIW 1.3.14.3.2.29)",
            "1.3.14.3.2.29",
            "1.3.14.3.2.26",
            "shaWithRSASignature (SHA-0, OIW 1.3.14.3.2.15)",
        ] {
            assert!(weak_signature(weak), "{weak}");
        }
        for strong in [
            "sha256WithRSAEncryption",
            "RSASSA-PSS with SHA-256",
            "ecdsa-with-SHA384",
            "Ed25519",
        ] {
            assert!(!weak_signature(strong), "{strong}");
        }
    }

    #[test]
    fn unreachable_and_refused() {
        let now = NOW();
        let mut o = obs(vec![], Trust::NotChecked);
        o.tls = None;
        o.reach = Reach::Unreachable {
            stage: crate::probe::Stage::Connect,
            error: "connect to 127.0.0.1:1: refused".into(),
            timed_out: false,
        };
        assert_eq!(
            ids(&check(&o, now, &Policy::default())),
            [CheckId::TlsUnreachable]
        );
        o.reach = Reach::Refused {
            address: "127.0.0.1".parse().unwrap(),
            reason: "loopback".into(),
        };
        assert!(check(&o, now, &Policy::default()).is_empty());
    }
}
