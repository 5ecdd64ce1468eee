//! Checks: pure functions from observations (plus `now` and a policy) to
//! findings with the stable ids of the check catalogue. No I/O here.

pub mod dns;
pub mod email;
pub mod http;
pub mod mx;
pub mod paperwork;
pub mod score;
pub mod securitytxt;
pub mod tls;
pub mod untrusted;

use serde::Serialize;

pub use crate::registry::{CheckId, Severity};

/// One thing wrong, about one target.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Finding {
    /// A stable id from the check catalogue, e.g. `tls.cert_expired`.
    pub check: CheckId,
    pub severity: Severity,
    /// `host:port` for endpoints, the bare domain for domains, the supplier id otherwise.
    pub target: String,
    /// One line for people.
    pub summary: String,
    /// The facts behind the judgement.
    pub evidence: serde_json::Value,
}

/// Thresholds the checks apply; the defaults are the catalogue's.
#[derive(Debug, Clone)]
pub struct Policy {
    /// `tls.cert_expiring` (medium) within min(this, lifetime / 3).
    pub expiring_days: i64,
    /// … and high within min(this, lifetime / 6).
    pub expiring_urgent_days: i64,
    /// Severity overrides for every supplier, by check id (`[findings]
    /// severity`); a supplier's own `severity` table wins over these.
    pub severity: std::collections::BTreeMap<CheckId, Severity>,
}

impl Policy {
    /// The severity `check` takes for `supplier`: the supplier's own
    /// override first, then the global one; `None` keeps the check's own.
    #[must_use]
    pub fn severity_for(
        &self,
        supplier: &crate::registry::Supplier,
        check: CheckId,
    ) -> Option<Severity> {
        supplier
            .severity
            .get(&check)
            .or_else(|| self.severity.get(&check))
            .copied()
    }

    /// The defaults, with the config's global severity overrides.
    #[must_use]
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            severity: config.findings.severity.clone(),
            ..Self::default()
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            expiring_days: 30,
            expiring_urgent_days: 7,
            severity: std::collections::BTreeMap::new(),
        }
    }
}

/// Worst first, then by id and target, so output is stable.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.check.cmp(&b.check))
            .then_with(|| a.target.cmp(&b.target))
    });
}

/// A target that could not be probed, or not judged, for a reason that is
/// not a finding (refused by policy; an endpoint whose page is on another
/// site): reported as an error line, never as a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TargetError {
    pub target: String,
    pub message: String,
}

/// Everything the checks say about one supplier.
#[derive(Debug, Clone)]
pub struct SupplierResult {
    pub supplier: crate::registry::Supplier,
    pub findings: Vec<Finding>,
    pub errors: Vec<TargetError>,
}

impl SupplierResult {
    /// The worst severity among the findings.
    #[must_use]
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// Applies every check to a run's observations; suppliers worst first.
#[must_use]
pub fn evaluate(
    observations: &[crate::probe::run::SupplierObservations],
    now: chrono::DateTime<chrono::Utc>,
    policy: &Policy,
) -> Vec<SupplierResult> {
    let mut results: Vec<SupplierResult> = observations
        .iter()
        .map(|o| {
            let mut findings = Vec::new();
            let mut errors = Vec::new();
            // Endpoints whose handshake fails on what their certificate
            // is, or because they speak only a legacy protocol: their pages
            // cannot be fetched for the same cause, which the endpoint's
            // findings already tell.
            let mut fail_on_certificate: Vec<(&str, &str)> = Vec::new();
            for endpoint in &o.endpoints {
                if let crate::probe::Reach::Refused { reason, .. } = &endpoint.reach {
                    errors.push(TargetError {
                        target: endpoint.target.clone(),
                        message: format!("not probed: {reason}"),
                    });
                }
                if let Some(message) = tls::revocation_not_determined(endpoint) {
                    errors.push(TargetError {
                        target: endpoint.target.clone(),
                        message,
                    });
                }
                let judged = tls::check(endpoint, now, policy);
                if let Some(why) = tls::handshake_cause(endpoint, &judged) {
                    fail_on_certificate.push((endpoint.target.as_str(), why));
                }
                findings.extend(judged);
            }
            for page in &o.http {
                if let Some((_, why)) = fail_on_certificate
                    .iter()
                    .find(|(target, _)| *target == page.target.as_str())
                {
                    let (same_cause, rest): (Vec<Finding>, Vec<Finding>) =
                        http::check(page, now, policy)
                            .into_iter()
                            .partition(|f| f.check == CheckId::HttpUnreachable);
                    if !same_cause.is_empty() {
                        errors.push(TargetError {
                            target: page.target.clone(),
                            message: (*why).to_owned(),
                        });
                    }
                    findings.extend(rest);
                    continue;
                }
                if let Some(refusal) = page.refused()
                    && !errors.iter().any(|e| e.target == page.target)
                {
                    errors.push(TargetError {
                        target: page.target.clone(),
                        message: format!("not probed: {}", refusal.detail),
                    });
                }
                if let Some(message) = http::not_judged(page) {
                    errors.push(TargetError {
                        target: page.target.clone(),
                        message,
                    });
                }
                findings.extend(http::check(page, now, policy));
            }
            // Domains that share a mail server see it once.
            let mut mail_findings = std::collections::HashSet::new();
            let mut mail_errors = std::collections::HashSet::new();
            for domain in &o.domains {
                findings.extend(dns::check(domain, now, policy));
                findings.extend(email::check(domain, now, policy));
                findings.extend(
                    mx::check(domain, now, policy)
                        .into_iter()
                        .filter(|f| mail_findings.insert((f.check, f.target.clone()))),
                );
                errors.extend(
                    mx::not_judged(domain)
                        .into_iter()
                        .filter(|e| mail_errors.insert((e.target.clone(), e.message.clone()))),
                );
            }
            finish(o.supplier.clone(), findings, errors, policy)
        })
        .collect();
    sort_results(&mut results);
    results
}

/// A supplier's result: severities overridden (the supplier's own table
/// first, then the global one), findings worst first.
fn finish(
    supplier: crate::registry::Supplier,
    mut findings: Vec<Finding>,
    errors: Vec<TargetError>,
    policy: &Policy,
) -> SupplierResult {
    for f in &mut findings {
        if let Some(severity) = policy.severity_for(&supplier, f.check) {
            f.severity = severity;
        }
    }
    sort_findings(&mut findings);
    SupplierResult {
        supplier,
        findings,
        errors,
    }
}

/// Suppliers worst first, then by number of findings, then by id.
pub fn sort_results(results: &mut [SupplierResult]) {
    results.sort_by(|a, b| {
        b.worst()
            .cmp(&a.worst())
            .then_with(|| b.findings.len().cmp(&a.findings.len()))
            .then_with(|| a.supplier.id.cmp(&b.supplier.id))
    });
}

/// The checks of one family (`tls`, `http`, `securitytxt`, `dns`, `email`)
/// on one target of one supplier, as a run covered them: `complete` when
/// the target was probed far enough that a finding of the family that did
/// not fire can be taken as resolved. Unknown is not healthy: when the
/// family's failure finding fired (`tls.unreachable`, `http.unreachable`,
/// `dns.resolution_failed`), only that finding is known this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scope {
    pub supplier: String,
    /// A target, or [`Scope::ANY_TARGET`] for every target of the family.
    pub target: String,
    pub family: &'static str,
    pub complete: bool,
}

impl Scope {
    /// The target of a scope that covers every target of its family.
    pub const ANY_TARGET: &'static str = "*";
}

/// The family of a check id: the part before the first dot.
#[must_use]
pub fn family_of(check: &str) -> &str {
    check.split_once('.').map_or(check, |(family, _)| family)
}

/// The failure finding that makes a family's scope incomplete.
fn failure_id(family: &str) -> CheckId {
    match family {
        "tls" => CheckId::TlsUnreachable,
        "http" | "securitytxt" => CheckId::HttpUnreachable,
        _ => CheckId::DnsResolutionFailed,
    }
}

/// Whether flap damping may hold `finding` back: only failures that may be
/// weather. A failure the target answered with (a redirect loop, a
/// redirect to a refused address …, see [`http::is_answer`]) opens at once.
#[must_use]
pub fn may_be_damped(finding: &Finding) -> bool {
    !http::is_answer(finding)
}

/// What a run covered, from its observations and the findings they gave.
/// Targets refused by policy were not probed and have no scope.
#[must_use]
pub fn scopes(
    observations: &[crate::probe::run::SupplierObservations],
    results: &[SupplierResult],
) -> Vec<Scope> {
    let mut out = Vec::new();
    // Each supplier's findings, found once (not by a scan of every result
    // per target).
    let by_supplier: std::collections::HashMap<&str, Vec<&Finding>> =
        results
            .iter()
            .fold(std::collections::HashMap::new(), |mut by, r| {
                by.entry(r.supplier.id.as_str())
                    .or_insert_with(Vec::new)
                    .extend(&r.findings);
                by
            });
    for o in observations {
        let supplier = o.supplier.id.as_str();
        let own = by_supplier.get(supplier).map_or(&[][..], Vec::as_slice);
        let fired = |target: &str, family: &str| {
            let id = failure_id(family);
            own.iter().any(|f| f.target == target && f.check == id)
        };
        let mut push = |target: &str, family: &'static str, known: bool| {
            out.push(Scope {
                supplier: supplier.to_owned(),
                target: target.to_owned(),
                family,
                complete: known && !fired(target, family),
            });
        };
        for e in &o.endpoints {
            if !matches!(e.reach, crate::probe::Reach::Refused { .. }) {
                push(&e.target, "tls", true);
            }
        }
        for h in &o.http {
            if h.refused().is_none() {
                // A broken redirect chain or a failed security.txt fetch
                // judges nothing: what it would have shown is unknown.
                let page_known = h.page.failure.is_none() && h.page.last().is_some();
                let txt_known = h.security_txt.as_ref().is_some_and(|f| {
                    f.failure.is_none()
                        && f.last().is_some_and(|r| {
                            (200..300).contains(&r.status) || r.status == 404 || r.status == 410
                        })
                });
                push(&h.target, "http", page_known);
                push(&h.target, "securitytxt", txt_known);
            }
        }
        for d in &o.domains {
            // A query that failed leaves its checks unknown.
            let known = d.resolves() && dns::failed_queries(d).is_empty();
            push(&d.domain, "dns", known);
            push(&d.domain, "email", known);
            // Each mail server is its own target, complete only when the
            // dialogue got far enough to judge STARTTLS: a port that could
            // not be reached resolves nothing.
            for mx in d.mail_servers.iter().flat_map(|m| &m.probed) {
                if !matches!(mx.session, crate::probe::smtp::SmtpSession::Refused { .. }) {
                    push(&mx.target, "email", known && mx.reached());
                }
            }
        }
    }
    out
}
