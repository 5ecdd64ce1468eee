//! `email.*` checks over a [`DomainObservation`]: SPF, DMARC, MX, MTA-STS
//! and TLS-RPT.
//!
//! Pure: no I/O, no clock. When the domain does not resolve, or a lookup
//! a check needs failed, that check stays silent — unknown is not missing
//! (`dns.resolution_failed` reports the failure).
//!
//! Every SPF permerror is one finding, never silence (a receiver that gets
//! permerror treats the domain as unprotected):
//! - the domain's own record: none → `email.spf_missing`, several →
//!   `email.spf_multiple`, one that does not parse → `email.spf_invalid`;
//! - met during evaluation: an `include`/`redirect` target whose record does
//!   not parse, that has no SPF record (RFC 7208 5.2, 6.1) or several (4.5)
//!   → `email.spf_invalid`, naming the target and the record that named it;
//! - the 4.6.4 limits (lookups, void lookups, MX names), include loops and
//!   includes nested deeper than [`spf::MAX_DEPTH`] (which needs more
//!   lookups than the limit allows) → `email.spf_too_many_lookups`.
//!
//! A temperror (a lookup failed) is unknown, not a finding. Record text in
//! summaries and evidence goes through [`escaped`].

use crate::registry::CheckId;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::untrusted::escaped;
use super::{Finding, Policy, Severity};
use crate::probe::dns::{
    DmarcFacts, DmarcPolicy, DomainObservation, FinalAll, MtaStsFacts, PolicyFetch, Qualifier,
    SpfFacts, SpfProblem, SpfResult, SpfSyntaxError, StsMode, SyntaxAt, TlsRptFacts, spf,
};

/// All `email.*` findings for one domain observation.
#[must_use]
pub fn check(obs: &DomainObservation, _now: DateTime<Utc>, _policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    if !obs.resolves() {
        return out;
    }
    let mut push = |check: CheckId, severity: Severity, summary: String, evidence| {
        out.push(Finding {
            check,
            severity,
            target: obs.domain.clone(),
            summary,
            evidence,
        });
    };
    let domain = obs.domain.as_str();
    if let Some(spf) = &obs.spf {
        spf_checks(domain, spf, &mut push);
    }
    if let Some(dmarc) = &obs.dmarc {
        dmarc_checks(domain, dmarc, &mut push);
    }
    if let Some(mx) = &obs.mx
        && mx.answer.is_missing()
    {
        push(
            CheckId::EmailMxMissing,
            Severity::Info,
            format!("{domain} has no MX record and no null MX (RFC 7505) saying it takes no mail"),
            json!({"name": mx.name, "answer": mx.answer}),
        );
    }
    if let Some(sts) = &obs.mta_sts {
        mta_sts_check(domain, sts, &mut push);
    }
    if let Some(tlsrpt) = &obs.tlsrpt {
        tlsrpt_check(domain, tlsrpt, &mut push);
    }
    out
}

type Push<'a> = dyn FnMut(CheckId, Severity, String, serde_json::Value) + 'a;

fn spf_checks(domain: &str, facts: &SpfFacts, push: &mut Push<'_>) {
    let answer = &facts.records.answer;
    if answer.error().is_some() {
        return;
    }
    if answer.is_missing() {
        push(
            CheckId::EmailSpfMissing,
            Severity::Medium,
            format!(
                "{domain} publishes no SPF record (no v=spf1 TXT record): anyone may send mail as it"
            ),
            json!({"name": facts.records.name, "answer": answer}),
        );
        return;
    }
    if answer.total() > 1 {
        push(
            CheckId::EmailSpfMultiple,
            Severity::Medium,
            format!(
                "{domain} publishes {} SPF records; receivers treat that as a permanent error (RFC 7208 4.5) and SPF fails for all its mail",
                answer.total()
            ),
            json!({
                "name": facts.records.name,
                "records": answer.records().iter().map(|r| escaped(r)).collect::<Vec<_>>(),
                "count": answer.total(),
            }),
        );
        return;
    }
    let record = answer.records().first().map_or("", String::as_str);
    if let Some(error) = &facts.syntax_error {
        spf_invalid_own(domain, &facts.records.name, record, error, push);
        return;
    }
    let Some(eval) = &facts.evaluation else {
        return;
    };

    spf_permissive(domain, record, eval, push);
    spf_permerror(domain, eval, push);
}

/// `"term" (character n)` for a summary, or nothing when no one term is at fault.
fn at_term(at: Option<&SyntaxAt>) -> String {
    at.map_or_else(String::new, |at| {
        format!(" at \"{}\" (character {})", escaped(&at.term), at.position)
    })
}

/// The domain's own record does not parse.
fn spf_invalid_own(
    domain: &str,
    name: &str,
    record: &str,
    error: &SpfSyntaxError,
    push: &mut Push<'_>,
) {
    push(
        CheckId::EmailSpfInvalid,
        Severity::Medium,
        format!(
            "the SPF record of {domain} cannot be parsed{}: {}; receivers return permerror, so SPF fails for all its mail",
            at_term(error.at.as_ref()),
            escaped(&error.detail)
        ),
        json!({
            "reason": "syntax",
            "name": name,
            "domain": domain,
            "via": spf::Via::Top,
            "record": escaped(record),
            "problem": escaped(&error.detail),
            "term": error.at.as_ref().map(|at| escaped(&at.term)),
            "position": error.at.as_ref().map(|at| at.position),
        }),
    );
}

fn spf_permissive(domain: &str, record: &str, eval: &spf::SpfEvaluation, push: &mut Push<'_>) {
    let permissive = match &eval.final_all {
        FinalAll::All {
            qualifier: Qualifier::Pass,
            domain: at,
        } => {
            let written = if spf_record_of(eval, at, record)
                .split(' ')
                .any(|t| t.eq_ignore_ascii_case("all"))
            {
                "all (which means +all)"
            } else {
                "+all"
            };
            Some(format!(
                "the SPF policy of {domain} ends in {written}{}: every server on the internet passes",
                redirected(domain, at)
            ))
        }
        FinalAll::All {
            qualifier: Qualifier::Neutral,
            domain: at,
        } => Some(format!(
            "the SPF policy of {domain} ends in ?all{}: mail from any other server is neutral, never rejected",
            redirected(domain, at)
        )),
        FinalAll::Missing { domain: at } => Some(format!(
            "the SPF policy of {domain} has no all and no redirect{}: mail from any other server is neutral, never rejected",
            redirected(domain, at)
        )),
        FinalAll::All { .. } | FinalAll::Unknown => None,
    }
    .or_else(|| {
        eval.permissive_includes.first().map(|target| {
            format!(
                "the SPF policy of {domain} includes {target}, whose policy ends in +all: the include matches every server"
            )
        })
    });
    if let Some(summary) = permissive {
        push(
            CheckId::EmailSpfPermissive,
            Severity::Medium,
            summary,
            json!({
                "record": escaped(record),
                "final_all": eval.final_all,
                "permissive_includes": eval.permissive_includes,
            }),
        );
    }
}

/// An evaluation that ended in permerror: `email.spf_too_many_lookups` for
/// the limits, `email.spf_invalid` for a broken `include`/`redirect` target.
/// Every [`SpfProblem`] is one or the other (the unit tests go through each).
fn spf_permerror(domain: &str, eval: &spf::SpfEvaluation, push: &mut Push<'_>) {
    let SpfResult::PermError { problem } = &eval.result else {
        return;
    };
    if let Some(summary) = over_the_limits(domain, problem) {
        push(
            CheckId::EmailSpfTooManyLookups,
            Severity::Medium,
            summary,
            json!({
                "problem": problem,
                "lookups": eval.lookups,
                "void_lookups": eval.void_lookups,
                "void_terms": eval.void_terms,
                "lookup_terms": eval.lookup_terms,
                "records": visits(eval),
            }),
        );
    } else if let Some((reason, summary, detail)) = broken_target(domain, eval, problem) {
        let mut evidence = json!({
            "reason": reason,
            "records": visits(eval),
            "lookups": eval.lookups,
        });
        if let (Some(evidence), serde_json::Value::Object(detail)) =
            (evidence.as_object_mut(), detail)
        {
            evidence.extend(detail);
        }
        push(
            CheckId::EmailSpfInvalid,
            Severity::Medium,
            summary,
            evidence,
        );
    }
}

/// The summary of `email.spf_too_many_lookups`, for the problems that are
/// the RFC 7208 4.6.4 limits or can only be met past them.
fn over_the_limits(domain: &str, problem: &SpfProblem) -> Option<String> {
    Some(match problem {
        SpfProblem::TooManyLookups { term, domain: at } => format!(
            "SPF evaluation for {domain} needs more than {} DNS lookups (the 11th is {term} in {at}); receivers return permerror",
            spf::LOOKUP_LIMIT
        ),
        SpfProblem::TooManyVoidLookups { term, domain: at } => format!(
            "SPF evaluation for {domain} meets more than {} lookups that find nothing (the 3rd is {term} in {at}); receivers return permerror",
            spf::VOID_LOOKUP_LIMIT
        ),
        SpfProblem::TooManyMxRecords {
            term,
            target,
            count,
        } => format!(
            "{term} in the SPF policy of {domain} points at {count} MX records for {target}, more than the {} an mx mechanism may use; receivers return permerror",
            spf::MX_LIMIT
        ),
        SpfProblem::Loop { chain } => format!(
            "the SPF policy of {domain} loops ({}): evaluation can never finish within {} lookups",
            chain.join(" → "),
            spf::LOOKUP_LIMIT
        ),
        // Each nested include costs a lookup, so nesting this deep needs
        // more lookups than the limit allows: that is what it is.
        SpfProblem::TooDeep { domain: at } => format!(
            "SPF evaluation for {domain} nests includes more than {} deep (at {}), which needs more than {} DNS lookups; receivers return permerror",
            spf::MAX_DEPTH,
            escaped(at),
            spf::LOOKUP_LIMIT
        ),
        SpfProblem::Syntax { .. }
        | SpfProblem::NoSpfRecord { .. }
        | SpfProblem::MultipleRecords { .. } => return None,
    })
}

/// The reason, summary and evidence of `email.spf_invalid` for an
/// `include`/`redirect` target that makes evaluation a permerror.
fn broken_target(
    domain: &str,
    eval: &spf::SpfEvaluation,
    problem: &SpfProblem,
) -> Option<(&'static str, String, serde_json::Value)> {
    Some(match problem {
        SpfProblem::Syntax {
            domain: target,
            via,
            from,
            detail,
            at,
        } => (
            "syntax",
            format!(
                "{}, whose SPF record cannot be parsed{}: {}; receivers return permerror",
                reached(domain, *via, target, from),
                at_term(at.as_ref()),
                escaped(detail)
            ),
            json!({
                "domain": escaped(target),
                "via": via,
                "from": escaped(from),
                "record": target_record(eval, target),
                "problem": escaped(detail),
                "term": at.as_ref().map(|at| escaped(&at.term)),
                "position": at.as_ref().map(|at| at.position),
            }),
        ),
        SpfProblem::NoSpfRecord {
            domain: target,
            via,
            from,
        } => (
            "no_spf_record",
            format!(
                "{}, which publishes no SPF record; receivers return permerror (RFC 7208 {})",
                reached(domain, *via, target, from),
                if *via == spf::Via::Redirect {
                    "6.1"
                } else {
                    "5.2"
                }
            ),
            json!({"domain": escaped(target), "via": via, "from": escaped(from)}),
        ),
        SpfProblem::MultipleRecords {
            domain: target,
            via,
            from,
            count,
        } => (
            "multiple_records",
            format!(
                "{}, which publishes {count} SPF records; receivers return permerror (RFC 7208 4.5)",
                reached(domain, *via, target, from),
            ),
            json!({"domain": escaped(target), "via": via, "from": escaped(from), "count": count}),
        ),
        SpfProblem::TooManyLookups { .. }
        | SpfProblem::TooManyVoidLookups { .. }
        | SpfProblem::TooManyMxRecords { .. }
        | SpfProblem::Loop { .. }
        | SpfProblem::TooDeep { .. } => return None,
    })
}

/// `the SPF policy of example.com includes x.test (named in the record of
/// y.test)`: how evaluation reached a broken target.
fn reached(domain: &str, via: spf::Via, target: &str, from: &str) -> String {
    let how = match via {
        spf::Via::Redirect => "redirects to",
        spf::Via::Include | spf::Via::Top => "includes",
    };
    let named = if from == domain {
        String::new()
    } else {
        format!(" (named in the record of {})", escaped(from))
    };
    format!(
        "the SPF policy of {domain} {how} {}{named}",
        escaped(target)
    )
}

/// The records evaluation read, their text escaped.
fn visits(eval: &spf::SpfEvaluation) -> serde_json::Value {
    eval.records
        .iter()
        .map(|v| {
            json!({
                "domain": escaped(&v.domain),
                "via": v.via,
                "depth": v.depth,
                "record": escaped(&v.record),
            })
        })
        .collect()
}

/// The text of a broken target's record, escaped, when evaluation read it.
fn target_record(eval: &spf::SpfEvaluation, target: &str) -> Option<String> {
    eval.records
        .iter()
        .rev()
        .find(|v| v.domain == target)
        .map(|v| escaped(&v.record))
}

/// The text of the record evaluated for `at` (the domain's own or a
/// redirect target's).
fn spf_record_of<'a>(eval: &'a spf::SpfEvaluation, at: &str, own: &'a str) -> &'a str {
    eval.records
        .iter()
        .rev()
        .find(|v| v.domain == at && v.via != spf::Via::Include)
        .map_or(own, |v| v.record.as_str())
}

fn redirected(domain: &str, at: &str) -> String {
    if at == domain {
        String::new()
    } else {
        format!(" (through redirect to {at})")
    }
}

fn dmarc_checks(domain: &str, facts: &DmarcFacts, push: &mut Push<'_>) {
    if facts.lookups.iter().any(|l| l.answer.error().is_some()) {
        return;
    }
    let Some(applied) = &facts.applied else {
        let names: Vec<&str> = facts.lookups.iter().map(|l| l.name.as_str()).collect();
        let summary = match &facts.problem {
            Some(problem) => format!("{domain} has no usable DMARC policy: {problem}"),
            None => format!(
                "{domain} publishes no DMARC record (no v=DMARC1 TXT record at {})",
                names.join(" nor at ")
            ),
        };
        push(
            CheckId::EmailDmarcMissing,
            Severity::High,
            summary,
            json!({"queried": facts.lookups, "problem": facts.problem}),
        );
        return;
    };
    let record = &applied.record;
    let evidence = json!({
        "name": applied.name,
        "organizational": applied.organizational,
        "record": applied.text,
        "p": record.policy,
        "sp": record.subdomain_policy,
        "pct": record.pct,
        "policy_assumed": record.policy_assumed,
        "rua": record.rua,
        "problems": record.problems,
    });
    let none_summary = if applied.organizational {
        // A subdomain without a record of its own gets the organisational
        // domain's subdomain policy (RFC 7489 6.6.3).
        let (effective, tag) = match record.subdomain_policy {
            Some(sp) => (sp, "sp"),
            None => (record.policy, "p"),
        };
        if effective == DmarcPolicy::None {
            Some(format!(
                "{domain} has no DMARC record of its own, and the organisational record at {} asks for {tag}=none: receivers take no action on mail failing DMARC",
                applied.name
            ))
        } else if record.pct == Some(0) {
            Some(format!(
                "the organisational DMARC record at {} applies {tag}={} to 0% of mail (pct=0)",
                applied.name,
                effective.as_str()
            ))
        } else {
            None
        }
    } else if record.policy == DmarcPolicy::None {
        Some(if record.policy_assumed {
            format!(
                "the DMARC record of {domain} has no valid policy, so receivers act as if p=none and take no action"
            )
        } else {
            format!(
                "the DMARC policy of {domain} is p=none: receivers take no action on mail failing DMARC"
            )
        })
    } else if record.subdomain_policy == Some(DmarcPolicy::None) {
        Some(format!(
            "the DMARC policy of {domain} is p={} but sp=none: mail from its subdomains failing DMARC is not acted on",
            record.policy.as_str()
        ))
    } else if record.pct == Some(0) {
        Some(format!(
            "the DMARC policy of {domain} is p={} for 0% of mail (pct=0): in effect none",
            record.policy.as_str()
        ))
    } else {
        None
    };
    if let Some(summary) = none_summary {
        push(
            CheckId::EmailDmarcPolicyNone,
            Severity::Medium,
            summary,
            evidence.clone(),
        );
    }
    if record.rua.is_empty() {
        push(
            CheckId::EmailDmarcNoReporting,
            Severity::Low,
            format!(
                "the DMARC record at {} has no rua: nobody receives aggregate reports about mail sent as {domain}",
                applied.name
            ),
            evidence,
        );
    }
}

fn mta_sts_check(domain: &str, facts: &MtaStsFacts, push: &mut Push<'_>) {
    if facts.txt.answer.error().is_some() {
        return;
    }
    let (reason, summary) = if facts.txt.answer.is_missing() {
        (
            "no_txt_record",
            format!(
                "{domain} has no MTA-STS record at {}: senders cannot insist on TLS for its mail",
                facts.txt.name
            ),
        )
    } else if let Some(problem) = &facts.txt_problem {
        (
            "invalid_txt_record",
            format!(
                "the MTA-STS record at {} is not usable: {problem}",
                facts.txt.name
            ),
        )
    } else {
        match &facts.policy {
            PolicyFetch::Unreachable { error } => (
                "policy_unreachable",
                format!(
                    "the MTA-STS policy at {} cannot be fetched: {error}",
                    facts.policy_url
                ),
            ),
            PolicyFetch::Invalid { error } => (
                "policy_invalid",
                format!(
                    "the MTA-STS policy at {} is invalid: {error}",
                    facts.policy_url
                ),
            ),
            PolicyFetch::Valid { policy } if policy.mode == StsMode::None => (
                "policy_mode_none",
                format!(
                    "the MTA-STS policy at {} has mode none, which switches MTA-STS off",
                    facts.policy_url
                ),
            ),
            PolicyFetch::Valid { .. } | PolicyFetch::NotFetched => return,
        }
    };
    push(
        CheckId::EmailMtaStsMissing,
        Severity::Low,
        summary,
        json!({
            "reason": reason,
            "txt": facts.txt,
            "id": facts.id,
            "txt_problem": facts.txt_problem,
            "policy_url": facts.policy_url,
            "policy": facts.policy,
        }),
    );
}

fn tlsrpt_check(domain: &str, facts: &TlsRptFacts, push: &mut Push<'_>) {
    if facts.txt.answer.error().is_some() {
        return;
    }
    let summary = if facts.txt.answer.is_missing() {
        format!(
            "{domain} has no TLS-RPT record (v=TLSRPTv1 at {}): nobody hears about TLS failures delivering its mail",
            facts.txt.name
        )
    } else if let Some(problem) = &facts.problem {
        format!(
            "the TLS-RPT record at {} is not usable: {problem}",
            facts.txt.name
        )
    } else {
        return;
    };
    push(
        CheckId::EmailTlsrptMissing,
        Severity::Info,
        summary,
        json!({"txt": facts.txt, "problem": facts.problem}),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::dns::tests::{named, none, now, records, servfail};
    use crate::probe::LookupFailure;
    use crate::probe::dns::dmarc::parse_dmarc;
    use crate::probe::dns::mtasts::parse_policy;
    use crate::probe::dns::{AppliedDmarc, MxRecord, Resolution, SpfEvaluation, TlsRptFacts};

    fn evaluation(final_all: FinalAll, result: SpfResult) -> SpfEvaluation {
        SpfEvaluation {
            lookups: 1,
            void_lookups: 0,
            void_terms: Vec::new(),
            lookup_terms: vec!["include:_spf.provider.test (in example.com)".to_owned()],
            unexpanded: Vec::new(),
            records: Vec::new(),
            result,
            final_all,
            permissive_includes: Vec::new(),
        }
    }

    fn fail_all() -> FinalAll {
        FinalAll::All {
            qualifier: Qualifier::Fail,
            domain: "example.com".to_owned(),
        }
    }

    fn spf_facts(record: &str, eval: SpfEvaluation) -> SpfFacts {
        SpfFacts {
            records: named("example.com", records(vec![record.to_owned()])),
            syntax_error: None,
            evaluation: Some(eval),
        }
    }

    fn dmarc(text: &str, organizational: bool) -> DmarcFacts {
        let name = if organizational {
            "_dmarc.example.com"
        } else {
            "_dmarc.mail.example.com"
        };
        let mut lookups = vec![named(
            "_dmarc.mail.example.com",
            if organizational {
                none()
            } else {
                records(vec![text.to_owned()])
            },
        )];
        if organizational {
            lookups.push(named("_dmarc.example.com", records(vec![text.to_owned()])));
        }
        DmarcFacts {
            lookups,
            applied: Some(AppliedDmarc {
                name: name.to_owned(),
                organizational,
                text: text.to_owned(),
                record: parse_dmarc(text).unwrap(),
            }),
            problem: None,
        }
    }

    fn sts(policy: PolicyFetch) -> MtaStsFacts {
        MtaStsFacts {
            txt: named(
                "_mta-sts.example.com",
                records(vec!["v=STSv1; id=1".to_owned()]),
            ),
            id: Some("1".to_owned()),
            txt_problem: None,
            policy_url: "https://mta-sts.example.com/.well-known/mta-sts.txt".to_owned(),
            policy,
        }
    }

    fn valid_policy(mode: &str) -> PolicyFetch {
        PolicyFetch::Valid {
            policy: parse_policy(&format!(
                "version: STSv1\nmode: {mode}\nmx: mx.example.com\nmax_age: 86400\n"
            ))
            .unwrap(),
        }
    }

    /// A domain with nothing to find fault with in its e-mail setup.
    fn healthy() -> DomainObservation {
        let mut obs = crate::checks::dns::tests::healthy();
        obs.spf = Some(spf_facts(
            "v=spf1 include:_spf.provider.test -all",
            evaluation(fail_all(), SpfResult::Completed),
        ));
        obs.dmarc = Some(dmarc("v=DMARC1; p=reject; rua=mailto:d@example.com", false));
        obs.mx = Some(named(
            "example.com",
            records(vec![MxRecord {
                preference: 10,
                exchange: "mx.example.com".to_owned(),
            }]),
        ));
        obs.mta_sts = Some(sts(valid_policy("enforce")));
        obs.tlsrpt = Some(TlsRptFacts {
            txt: named(
                "_smtp._tls.example.com",
                records(vec!["v=TLSRPTv1; rua=mailto:t@example.com".to_owned()]),
            ),
            rua: vec!["mailto:t@example.com".to_owned()],
            problem: None,
        });
        obs
    }

    fn findings(obs: &DomainObservation) -> Vec<Finding> {
        check(obs, now(), &Policy::default())
    }

    fn ids(obs: &DomainObservation) -> Vec<CheckId> {
        findings(obs).iter().map(|f| f.check).collect()
    }

    fn only(obs: &DomainObservation, id: CheckId) -> Finding {
        let all = findings(obs);
        assert_eq!(all.len(), 1, "expected only {id}: {all:#?}");
        assert_eq!(all[0].check, id);
        assert_eq!(all[0].target, obs.domain);
        all[0].clone()
    }

    #[test]
    fn a_healthy_domain_has_no_email_findings() {
        assert!(ids(&healthy()).is_empty(), "{:?}", ids(&healthy()));
    }

    #[test]
    fn nothing_fires_for_a_domain_that_does_not_resolve() {
        let mut obs = healthy();
        obs.resolution = Resolution::Failed {
            failure: LookupFailure::NxDomain,
        };
        obs.spf = Some(SpfFacts {
            records: named("example.com", none()),
            syntax_error: None,
            evaluation: None,
        });
        assert!(ids(&obs).is_empty());
    }

    #[test]
    fn spf_missing() {
        let mut obs = healthy();
        obs.spf = Some(SpfFacts {
            records: named(
                "example.com",
                Answer::Records {
                    records: vec![],
                    total: 0,
                    ignored: 3,
                },
            ),
            syntax_error: None,
            evaluation: None,
        });
        let f = only(&obs, CheckId::EmailSpfMissing);
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.summary.contains("no SPF record"), "{}", f.summary);
        assert_eq!(f.evidence["answer"]["ignored"], 3);

        obs.spf = Some(SpfFacts {
            records: named("example.com", servfail()),
            syntax_error: None,
            evaluation: None,
        });
        assert!(
            ids(&obs).is_empty(),
            "a failed lookup is not a missing record"
        );
    }

    use crate::probe::dns::Answer;

    #[test]
    fn spf_multiple() {
        let mut obs = healthy();
        obs.spf = Some(SpfFacts {
            records: named(
                "example.com",
                records(vec!["v=spf1 -all".to_owned(), "v=spf1 +all".to_owned()]),
            ),
            syntax_error: None,
            evaluation: None,
        });
        let f = only(&obs, CheckId::EmailSpfMultiple);
        assert!(f.summary.contains("2 SPF records"), "{}", f.summary);
        assert_eq!(f.evidence["count"], 2);
    }

    #[test]
    fn spf_permissive_variants() {
        for (record, final_all, words) in [
            (
                "v=spf1 mx +all",
                FinalAll::All {
                    qualifier: Qualifier::Pass,
                    domain: "example.com".to_owned(),
                },
                "ends in +all",
            ),
            (
                "v=spf1 mx all",
                FinalAll::All {
                    qualifier: Qualifier::Pass,
                    domain: "example.com".to_owned(),
                },
                "all (which means +all)",
            ),
            (
                "v=spf1 mx ?all",
                FinalAll::All {
                    qualifier: Qualifier::Neutral,
                    domain: "example.com".to_owned(),
                },
                "ends in ?all",
            ),
            (
                "v=spf1 mx",
                FinalAll::Missing {
                    domain: "example.com".to_owned(),
                },
                "no all and no redirect",
            ),
        ] {
            let mut obs = healthy();
            obs.spf = Some(spf_facts(
                record,
                evaluation(final_all, SpfResult::Completed),
            ));
            let f = only(&obs, CheckId::EmailSpfPermissive);
            assert!(f.summary.contains(words), "{record}: {}", f.summary);
            assert_eq!(f.severity, Severity::Medium);
        }
        for (record, qualifier) in [
            ("v=spf1 mx ~all", Qualifier::SoftFail),
            ("v=spf1 mx -all", Qualifier::Fail),
        ] {
            let mut obs = healthy();
            let all = FinalAll::All {
                qualifier,
                domain: "example.com".to_owned(),
            };
            obs.spf = Some(spf_facts(record, evaluation(all, SpfResult::Completed)));
            assert!(ids(&obs).is_empty(), "{record}");
        }
        // Through a redirect.
        let mut obs = healthy();
        obs.spf = Some(spf_facts(
            "v=spf1 redirect=_spf.example.net",
            evaluation(
                FinalAll::All {
                    qualifier: Qualifier::Neutral,
                    domain: "_spf.example.net".to_owned(),
                },
                SpfResult::Completed,
            ),
        ));
        assert!(
            only(&obs, CheckId::EmailSpfPermissive)
                .summary
                .contains("through redirect to _spf.example.net")
        );
        // An include that matches everyone.
        let mut eval = evaluation(fail_all(), SpfResult::Completed);
        eval.permissive_includes
            .push("open.provider.test".to_owned());
        obs.spf = Some(spf_facts("v=spf1 include:open.provider.test -all", eval));
        assert!(
            only(&obs, CheckId::EmailSpfPermissive)
                .summary
                .contains("includes open.provider.test")
        );
    }

    #[test]
    fn spf_too_many_lookups_covers_every_rfc_limit() {
        for (problem, words) in [
            (
                SpfProblem::TooManyLookups {
                    term: "a:x.test".to_owned(),
                    domain: "inc.test".to_owned(),
                },
                "more than 10 DNS lookups (the 11th is a:x.test in inc.test)",
            ),
            (
                SpfProblem::TooManyVoidLookups {
                    term: "mx:gone.test".to_owned(),
                    domain: "example.com".to_owned(),
                },
                "more than 2 lookups that find nothing",
            ),
            (
                SpfProblem::TooManyMxRecords {
                    term: "mx".to_owned(),
                    target: "example.com".to_owned(),
                    count: 11,
                },
                "11 MX records",
            ),
            (
                SpfProblem::Loop {
                    chain: vec![
                        "a.test".to_owned(),
                        "b.test".to_owned(),
                        "a.test".to_owned(),
                    ],
                },
                "loops (a.test → b.test → a.test)",
            ),
        ] {
            let mut obs = healthy();
            obs.spf = Some(spf_facts(
                "v=spf1 include:x.test -all",
                evaluation(fail_all(), SpfResult::PermError { problem }),
            ));
            let f = only(&obs, CheckId::EmailSpfTooManyLookups);
            assert!(f.summary.contains(words), "{}", f.summary);
            assert_eq!(f.severity, Severity::Medium);
        }
        // Includes nested too deep: more lookups than the limit allows.
        let mut obs = healthy();
        obs.spf = Some(spf_facts(
            "v=spf1 include:x.test -all",
            evaluation(
                fail_all(),
                SpfResult::PermError {
                    problem: SpfProblem::TooDeep {
                        domain: "n13.test".to_owned(),
                    },
                },
            ),
        ));
        let f = only(&obs, CheckId::EmailSpfTooManyLookups);
        assert_eq!(
            f.summary,
            "SPF evaluation for example.com nests includes more than 12 deep (at n13.test), which needs more than 10 DNS lookups; receivers return permerror"
        );
        assert_eq!(f.evidence["problem"]["kind"], "too_deep");
        // A temperror is unknown, not a finding.
        obs.spf = Some(spf_facts(
            "v=spf1 include:x.test -all",
            evaluation(
                fail_all(),
                SpfResult::TempError {
                    domain: "example.com".to_owned(),
                    term: "include:x.test".to_owned(),
                    failure: LookupFailure::Timeout,
                },
            ),
        ));
        assert!(ids(&obs).is_empty());
    }

    /// SPF facts as the probe makes them from one TXT record at example.com
    /// (evaluation, when the record parses, ends in -all).
    fn facts_of(text: &str) -> SpfFacts {
        let answer = if spf::is_spf_record(text) {
            records(vec![text.to_owned()])
        } else {
            Answer::Records {
                records: Vec::new(),
                total: 0,
                ignored: 1,
            }
        };
        let parsed = spf::is_spf_record(text).then(|| spf::parse_spf(text));
        SpfFacts {
            records: named("example.com", answer),
            syntax_error: parsed.clone().and_then(Result::err),
            evaluation: parsed
                .and_then(Result::ok)
                .map(|_| evaluation(fail_all(), SpfResult::Completed)),
        }
    }

    /// Every string in a JSON value.
    fn strings(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
            serde_json::Value::Object(o) => o.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }

    /// No control or hidden character in the summary or the evidence.
    fn assert_neutral(f: &Finding) {
        let mut all = vec![f.summary.clone()];
        strings(&f.evidence, &mut all);
        for s in all {
            assert!(
                !s.chars()
                    .any(|c| c.is_control() || crate::checks::untrusted::is_hidden(c)),
                "{s:?} in {f:#?}"
            );
        }
    }

    #[test]
    fn spf_invalid_for_the_domains_own_record() {
        for (record, summary, term, position, shown) in [
            (
                "v=spf1 foo:bar -all",
                "the SPF record of example.com cannot be parsed at \"foo:bar\" (character 7): unknown mechanism; receivers return permerror, so SPF fails for all its mail",
                Some("foo:bar"),
                Some(7),
                "v=spf1 foo:bar -all",
            ),
            (
                "v=spf1 ip4:192.0.2.1\0 -all",
                "the SPF record of example.com cannot be parsed at \"ip4:192.0.2.1\\u{0}\" (character 7): the term holds the control character U+0000; receivers return permerror, so SPF fails for all its mail",
                Some("ip4:192.0.2.1\\u{0}"),
                Some(7),
                "v=spf1 ip4:192.0.2.1\\u{0} -all",
            ),
            (
                "v=spf1 ip4:192.0.2.0/24 \u{202e}lla- -all",
                "the SPF record of example.com cannot be parsed at \"\\u{202e}lla-\" (character 24): the term holds the character U+202E; terms are printable ASCII only; receivers return permerror, so SPF fails for all its mail",
                Some("\\u{202e}lla-"),
                Some(24),
                "v=spf1 ip4:192.0.2.0/24 \\u{202e}lla- -all",
            ),
            (
                "v=spf1 mx\r\n-all",
                "the SPF record of example.com cannot be parsed at \"mx\\u{d}\\u{a}-all\" (character 7): the term holds the control character U+000D; receivers return permerror, so SPF fails for all its mail",
                Some("mx\\u{d}\\u{a}-all"),
                Some(7),
                "v=spf1 mx\\u{d}\\u{a}-all",
            ),
        ] {
            let mut obs = healthy();
            obs.spf = Some(facts_of(record));
            let f = only(&obs, CheckId::EmailSpfInvalid);
            assert_eq!(f.severity, Severity::Medium);
            assert_eq!(f.summary, summary);
            assert_eq!(f.evidence["reason"], "syntax");
            assert_eq!(f.evidence["via"], "top");
            assert_eq!(f.evidence["record"], shown);
            assert_eq!(f.evidence["term"].as_str(), term);
            assert_eq!(f.evidence["position"].as_u64(), position);
            assert!(
                f.evidence["problem"]
                    .as_str()
                    .is_some_and(|p| summary.contains(p))
            );
            assert_neutral(&f);
        }
        // The record as a whole, no one term at fault.
        let mut obs = healthy();
        let long = format!("v=spf1 {}-all", "ip4:192.0.2.1 ".repeat(400));
        obs.spf = Some(facts_of(&long));
        let f = only(&obs, CheckId::EmailSpfInvalid);
        assert!(
            f.summary.starts_with(
                "the SPF record of example.com cannot be parsed: the record is 5611 bytes long"
            ),
            "{}",
            f.summary
        );
        assert!(f.evidence["term"].is_null() && f.evidence["position"].is_null());
    }

    #[test]
    fn a_valid_record_raises_no_spf_invalid() {
        for record in [
            "v=spf1 include:_spf.provider.test -all",
            "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 mx a:mail.example.com ~all",
            "V=SPF1   -all  ",
        ] {
            let mut obs = healthy();
            obs.spf = Some(facts_of(record));
            assert!(obs.spf.as_ref().unwrap().evaluation.is_some(), "{record}");
            assert!(ids(&obs).is_empty(), "{record}: {:?}", ids(&obs));
        }
    }

    #[test]
    fn spf_invalid_for_broken_include_and_redirect_targets() {
        let problem = |p: SpfProblem| SpfResult::PermError { problem: p };
        for (result, reason, summary) in [
            (
                problem(SpfProblem::Syntax {
                    domain: "broken.test".to_owned(),
                    via: spf::Via::Include,
                    from: "example.com".to_owned(),
                    detail: "unknown mechanism".to_owned(),
                    at: Some(SyntaxAt {
                        term: "foo\u{202e}".to_owned(),
                        position: 7,
                    }),
                }),
                "syntax",
                "the SPF policy of example.com includes broken.test, whose SPF record cannot be parsed at \"foo\\u{202e}\" (character 7): unknown mechanism; receivers return permerror",
            ),
            (
                problem(SpfProblem::Syntax {
                    domain: "broken.test".to_owned(),
                    via: spf::Via::Redirect,
                    from: "mid.test".to_owned(),
                    detail: "the record is 5000 bytes long, more than the 4096 accepted".to_owned(),
                    at: None,
                }),
                "syntax",
                "the SPF policy of example.com redirects to broken.test (named in the record of mid.test), whose SPF record cannot be parsed: the record is 5000 bytes long, more than the 4096 accepted; receivers return permerror",
            ),
            (
                problem(SpfProblem::NoSpfRecord {
                    domain: "nospf.test".to_owned(),
                    via: spf::Via::Include,
                    from: "example.com".to_owned(),
                }),
                "no_spf_record",
                "the SPF policy of example.com includes nospf.test, which publishes no SPF record; receivers return permerror (RFC 7208 5.2)",
            ),
            (
                problem(SpfProblem::NoSpfRecord {
                    domain: "nospf.test".to_owned(),
                    via: spf::Via::Redirect,
                    from: "example.com".to_owned(),
                }),
                "no_spf_record",
                "the SPF policy of example.com redirects to nospf.test, which publishes no SPF record; receivers return permerror (RFC 7208 6.1)",
            ),
            (
                problem(SpfProblem::MultipleRecords {
                    domain: "two.test".to_owned(),
                    via: spf::Via::Include,
                    from: "mid.test".to_owned(),
                    count: 2,
                }),
                "multiple_records",
                "the SPF policy of example.com includes two.test (named in the record of mid.test), which publishes 2 SPF records; receivers return permerror (RFC 7208 4.5)",
            ),
        ] {
            let mut obs = healthy();
            let mut eval = evaluation(fail_all(), result);
            eval.records.push(spf::SpfVisit {
                domain: "broken.test".to_owned(),
                via: spf::Via::Include,
                depth: 1,
                record: "v=spf1 foo\u{202e} -all".to_owned(),
            });
            obs.spf = Some(spf_facts("v=spf1 include:broken.test -all", eval));
            let f = only(&obs, CheckId::EmailSpfInvalid);
            assert_eq!(f.severity, Severity::Medium);
            assert_eq!(f.summary, summary);
            assert_eq!(f.evidence["reason"], reason);
            assert_eq!(
                f.evidence["records"][0]["record"],
                "v=spf1 foo\\u{202e} -all"
            );
            assert_neutral(&f);
        }
    }

    #[test]
    fn spf_invalid_evidence_of_a_broken_target() {
        let problem = |p: SpfProblem| SpfResult::PermError { problem: p };
        // The broken target's record text is in the evidence, escaped.
        let mut obs = healthy();
        let mut eval = evaluation(
            fail_all(),
            problem(SpfProblem::Syntax {
                domain: "broken.test".to_owned(),
                via: spf::Via::Include,
                from: "example.com".to_owned(),
                detail: "unknown mechanism".to_owned(),
                at: None,
            }),
        );
        eval.records.push(spf::SpfVisit {
            domain: "broken.test".to_owned(),
            via: spf::Via::Include,
            depth: 1,
            record: "v=spf1 \u{0}".to_owned(),
        });
        obs.spf = Some(spf_facts("v=spf1 include:broken.test -all", eval));
        let f = only(&obs, CheckId::EmailSpfInvalid);
        assert_eq!(f.evidence["record"], "v=spf1 \\u{0}");
        assert_eq!(f.evidence["domain"], "broken.test");
        assert_eq!(f.evidence["from"], "example.com");
        assert_eq!(f.evidence["via"], "include");
        // A permissive ending is still told apart from the broken include.
        let mut eval = evaluation(
            FinalAll::All {
                qualifier: Qualifier::Pass,
                domain: "example.com".to_owned(),
            },
            problem(SpfProblem::NoSpfRecord {
                domain: "nospf.test".to_owned(),
                via: spf::Via::Include,
                from: "example.com".to_owned(),
            }),
        );
        eval.lookups = 1;
        obs.spf = Some(spf_facts("v=spf1 include:nospf.test +all", eval));
        let mut both = ids(&obs);
        both.sort_unstable();
        assert_eq!(
            both,
            [CheckId::EmailSpfInvalid, CheckId::EmailSpfPermissive]
        );
    }

    mod any_txt {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// Any TXT text at the domain either parses (and raises no
            /// spf_invalid) or raises exactly one `email.spf_*` finding, whose
            /// summary and evidence hold no control or hidden character.
            #[test]
            fn any_txt_text_parses_or_raises_exactly_one_spf_finding(
                text in prop_oneof![
                    "(?s).{0,200}",
                    "(?s).{0,200}".prop_map(|t| format!("v=spf1 {t}")),
                    proptest::collection::vec(
                        prop_oneof![
                            proptest::sample::select(vec![
                                "-all", "~all", "mx", "a", "ip4:192.0.2.1", "include:x.test",
                                "redirect=r.test", "foo:bar", "\u{202e}", "\u{0}", "\u{200b}",
                                "\r\n", "\t", "%{i}", "exists:%{z}.x.test", "\\",
                            ]).prop_map(str::to_owned),
                            "\\PC{1,6}",
                        ],
                        0..8,
                    ).prop_map(|terms| format!("v=spf1 {}", terms.join(" "))),
                ]
            ) {
                let mut obs = healthy();
                obs.spf = Some(facts_of(&text));
                let spf: Vec<Finding> = findings(&obs)
                    .into_iter()
                    .filter(|f| f.check.as_str().starts_with("email.spf_"))
                    .collect();
                let parses = spf::is_spf_record(&text) && spf::parse_spf(&text).is_ok();
                if parses {
                    prop_assert!(spf.is_empty(), "{text:?}: {spf:#?}");
                } else {
                    prop_assert_eq!(spf.len(), 1, "{:?}: {:#?}", text, spf);
                    let want = if spf::is_spf_record(&text) {
                        CheckId::EmailSpfInvalid
                    } else {
                        CheckId::EmailSpfMissing
                    };
                    prop_assert_eq!(spf[0].check, want);
                }
                for f in &spf {
                    assert_neutral(f);
                }
            }
        }
    }

    #[test]
    fn dmarc_missing() {
        let mut obs = healthy();
        obs.dmarc = Some(DmarcFacts {
            lookups: vec![
                named("_dmarc.mail.example.com", none()),
                named("_dmarc.example.com", none()),
            ],
            applied: None,
            problem: None,
        });
        let f = only(&obs, CheckId::EmailDmarcMissing);
        assert_eq!(f.severity, Severity::High);
        assert!(
            f.summary
                .contains("_dmarc.mail.example.com nor at _dmarc.example.com"),
            "{}",
            f.summary
        );

        obs.dmarc = Some(DmarcFacts {
            lookups: vec![named(
                "_dmarc.example.com",
                records(vec![
                    "v=DMARC1; p=reject".to_owned(),
                    "v=DMARC1; p=none".to_owned(),
                ]),
            )],
            applied: None,
            problem: Some(
                "_dmarc.example.com publishes 2 DMARC records; receivers apply none of them"
                    .to_owned(),
            ),
        });
        assert!(
            only(&obs, CheckId::EmailDmarcMissing)
                .summary
                .contains("2 DMARC records")
        );

        obs.dmarc = Some(DmarcFacts {
            lookups: vec![named("_dmarc.example.com", servfail())],
            applied: None,
            problem: None,
        });
        assert!(ids(&obs).is_empty(), "unknown is not missing");
    }

    #[test]
    fn dmarc_policy_none() {
        for (text, organizational, fires, words) in [
            (
                "v=DMARC1; p=none; rua=mailto:d@example.com",
                false,
                true,
                "is p=none",
            ),
            (
                "v=DMARC1; p=reject; sp=none; rua=mailto:d@example.com",
                false,
                true,
                "sp=none",
            ),
            (
                "v=DMARC1; p=quarantine; pct=0; rua=mailto:d@example.com",
                false,
                true,
                "pct=0",
            ),
            (
                "v=DMARC1; p=bogus; rua=mailto:d@example.com",
                false,
                true,
                "no valid policy",
            ),
            (
                "v=DMARC1; p=reject; rua=mailto:d@example.com",
                false,
                false,
                "",
            ),
            (
                "v=DMARC1; p=quarantine; pct=10; rua=mailto:d@example.com",
                false,
                false,
                "",
            ),
            // The organisational record: sp decides for subdomains.
            (
                "v=DMARC1; p=reject; sp=none; rua=mailto:d@example.com",
                true,
                true,
                "sp=none",
            ),
            (
                "v=DMARC1; p=none; rua=mailto:d@example.com",
                true,
                true,
                "p=none",
            ),
            (
                "v=DMARC1; p=none; sp=reject; rua=mailto:d@example.com",
                true,
                false,
                "",
            ),
        ] {
            let mut obs = healthy();
            obs.domain = "mail.example.com".to_owned();
            obs.dmarc = Some(dmarc(text, organizational));
            if fires {
                let f = only(&obs, CheckId::EmailDmarcPolicyNone);
                assert!(f.summary.contains(words), "{text}: {}", f.summary);
                assert_eq!(f.severity, Severity::Medium);
                assert_eq!(f.evidence["organizational"], organizational);
            } else {
                assert!(ids(&obs).is_empty(), "{text}: {:?}", ids(&obs));
            }
        }
    }

    #[test]
    fn dmarc_no_reporting() {
        let mut obs = healthy();
        obs.dmarc = Some(dmarc("v=DMARC1; p=reject", false));
        let f = only(&obs, CheckId::EmailDmarcNoReporting);
        assert_eq!(f.severity, Severity::Low);
        assert!(f.summary.contains("no rua"), "{}", f.summary);
        obs.dmarc = Some(dmarc("v=DMARC1; p=reject; rua=not-a-uri", false));
        assert_eq!(ids(&obs), [CheckId::EmailDmarcNoReporting]);
    }

    #[test]
    fn mx_missing_but_null_mx_is_an_answer() {
        let mut obs = healthy();
        obs.mx = Some(named("example.com", none()));
        let f = only(&obs, CheckId::EmailMxMissing);
        assert_eq!(f.severity, Severity::Info);
        obs.mx = Some(named(
            "example.com",
            records(vec![MxRecord {
                preference: 0,
                exchange: ".".to_owned(),
            }]),
        ));
        assert!(ids(&obs).is_empty());
        obs.mx = Some(named("example.com", servfail()));
        assert!(ids(&obs).is_empty());
    }

    #[test]
    fn mta_sts_missing_says_which_part_is_missing() {
        let mut obs = healthy();
        let mut no_txt = sts(PolicyFetch::NotFetched);
        no_txt.txt = named("_mta-sts.example.com", none());
        no_txt.id = None;
        for (facts, reason) in [
            (no_txt, "no_txt_record"),
            (
                MtaStsFacts {
                    id: None,
                    txt_problem: Some("the record has no id".to_owned()),
                    ..sts(PolicyFetch::NotFetched)
                },
                "invalid_txt_record",
            ),
            (
                sts(PolicyFetch::Unreachable {
                    error: "connection refused".to_owned(),
                }),
                "policy_unreachable",
            ),
            (
                sts(PolicyFetch::Invalid {
                    error: "the policy has no mode".to_owned(),
                }),
                "policy_invalid",
            ),
            (sts(valid_policy("none")), "policy_mode_none"),
        ] {
            obs.mta_sts = Some(facts);
            let f = only(&obs, CheckId::EmailMtaStsMissing);
            assert_eq!(f.evidence["reason"], reason);
            assert_eq!(f.severity, Severity::Low);
        }
        obs.mta_sts = Some(sts(valid_policy("testing")));
        assert!(ids(&obs).is_empty());
        let mut failing = sts(PolicyFetch::NotFetched);
        failing.txt = named("_mta-sts.example.com", servfail());
        obs.mta_sts = Some(failing);
        assert!(ids(&obs).is_empty());
    }

    #[test]
    fn tlsrpt_missing() {
        let mut obs = healthy();
        obs.tlsrpt = Some(TlsRptFacts {
            txt: named("_smtp._tls.example.com", none()),
            rua: Vec::new(),
            problem: None,
        });
        let f = only(&obs, CheckId::EmailTlsrptMissing);
        assert_eq!(f.severity, Severity::Info);
        obs.tlsrpt = Some(TlsRptFacts {
            txt: named(
                "_smtp._tls.example.com",
                records(vec!["v=TLSRPTv1;".to_owned()]),
            ),
            rua: Vec::new(),
            problem: Some("the record has no rua".to_owned()),
        });
        assert!(
            only(&obs, CheckId::EmailTlsrptMissing)
                .summary
                .contains("no rua")
        );
    }
}
