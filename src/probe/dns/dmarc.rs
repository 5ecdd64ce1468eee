//! DMARC records (RFC 7489 6.3–6.4, with the `DMARCbis` tags `np`, `psd` and
//! `t` tolerated): which TXT records are DMARC records, and a parser of
//! one. Tag names are case-insensitive, unknown tags are ignored, and the
//! record is refused only where RFC 7489 6.6.3 says receivers ignore it.
//!
//! Pure functions over untrusted text; must not depend on the network or on
//! the rest of the crate.

use serde::{Deserialize, Serialize};

/// The longest record text the parser accepts.
pub const MAX_DMARC_LEN: usize = 4096;
/// Reporting URIs kept per tag.
const MAX_URIS: usize = 16;
/// The longest reporting URI kept.
const MAX_URI_LEN: usize = 512;

/// A requested policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DmarcPolicy {
    None,
    Quarantine,
    Reject,
}

impl DmarcPolicy {
    fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "none" => Some(Self::None),
            "quarantine" => Some(Self::Quarantine),
            "reject" => Some(Self::Reject),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Quarantine => "quarantine",
            Self::Reject => "reject",
        }
    }
}

/// One parsed DMARC record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmarcRecord {
    /// `p`. When `p` is missing or invalid but a valid `rua` is present,
    /// receivers act as if `p=none` (RFC 7489 6.6.3 step 6): `None` here,
    /// and `policy_assumed` says so.
    pub policy: DmarcPolicy,
    /// The record had no valid `p` (or had an invalid `sp`) and `p=none`
    /// is assumed.
    pub policy_assumed: bool,
    /// `sp`, the policy for subdomains; `None` when absent.
    pub subdomain_policy: Option<DmarcPolicy>,
    /// `np` (`DMARCbis`), the policy for non-existent subdomains.
    pub nonexistent_policy: Option<DmarcPolicy>,
    /// `pct`, 0–100; `None` when absent (100).
    pub pct: Option<u8>,
    /// `t=y` (`DMARCbis` test mode).
    pub testing: bool,
    /// Syntactically valid `rua` URIs.
    pub rua: Vec<String>,
    /// Syntactically valid `ruf` URIs.
    pub ruf: Vec<String>,
    /// What was wrong but tolerated (an invalid `pct`, a repeated tag …).
    pub problems: Vec<String>,
}

/// Why a DMARC record is ignored by receivers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DmarcError(String);

/// Whether a TXT record is a DMARC record: its first tag is `v=DMARC1`
/// (RFC 7489 6.6.3 step 2 discards all others).
#[must_use]
pub fn is_dmarc_record(text: &str) -> bool {
    first_tag(text).is_some_and(|(name, value)| name.eq_ignore_ascii_case("v") && value == "DMARC1")
}

fn first_tag(text: &str) -> Option<(&str, &str)> {
    let first = text.split(';').next()?;
    let (name, value) = first.split_once('=')?;
    Some((name.trim(), value.trim()))
}

/// DMARC's whitespace: space and tab; line breaks are tolerated as well,
/// since no valid record needs them and hostile ones carry them.
fn trim_wsp(text: &str) -> &str {
    text.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\r' | '\n'))
}

/// Parses one DMARC record.
///
/// # Errors
/// [`DmarcError`] when receivers would ignore the record: it is not a
/// `v=DMARC1` record, it is too long, or it has no valid `p` (or an
/// invalid `sp`) and no valid `rua`.
pub fn parse_dmarc(text: &str) -> Result<DmarcRecord, DmarcError> {
    if text.len() > MAX_DMARC_LEN {
        return Err(DmarcError(format!(
            "the record is {} bytes long, more than the {MAX_DMARC_LEN} accepted",
            text.len()
        )));
    }
    if !is_dmarc_record(text) {
        return Err(DmarcError(
            "the record does not start with v=DMARC1".to_owned(),
        ));
    }
    let mut problems = Vec::new();
    let tags = tags(text, &mut problems);
    let tag = |name: &str| tags.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    // An absent tag is `None`; an invalid one is `Some(None)`.
    let policy_tag = |name: &str| tag(name).map(DmarcPolicy::parse);
    let (p, sp) = (policy_tag("p"), policy_tag("sp"));
    let (p_bad, sp_bad) = (p == Some(None), sp == Some(None));
    let (p, sp) = (p.flatten(), sp.flatten());
    let np = match policy_tag("np") {
        Some(None) => {
            let value = tag("np").unwrap_or_default();
            note(
                &mut problems,
                format!("np={} is not a policy; ignored", excerpt(value)),
            );
            None
        }
        other => other.flatten(),
    };
    let pct = tag("pct").and_then(|value| match value.parse::<u8>() {
        Ok(n) if n <= 100 => Some(n),
        _ => {
            note(
                &mut problems,
                format!("pct={} is not 0–100; 100 is assumed", excerpt(value)),
            );
            None
        }
    });
    let testing = match tag("t") {
        Some("y" | "Y") => true,
        None | Some("n" | "N") => false,
        Some(other) => {
            note(
                &mut problems,
                format!("t={} is not y or n; ignored", excerpt(other)),
            );
            false
        }
    };
    let rua = tag("rua")
        .map(|v| uris(v, "rua", &mut problems))
        .unwrap_or_default();
    let ruf = tag("ruf")
        .map(|v| uris(v, "ruf", &mut problems))
        .unwrap_or_default();
    // adkim, aspf, fo, rf, ri, psd and tags not yet defined: nothing this
    // audit judges.
    let policy_assumed = p.is_none() || sp_bad;
    if policy_assumed {
        let why = if p_bad {
            "the p tag is not none, quarantine or reject"
        } else if p.is_none() {
            "the record has no p tag"
        } else {
            "the sp tag is not none, quarantine or reject"
        };
        if rua.is_empty() {
            return Err(DmarcError(format!(
                "{why}, and no valid rua: receivers ignore the record"
            )));
        }
        note(&mut problems, format!("{why}; receivers act as if p=none"));
    }
    Ok(DmarcRecord {
        policy: if policy_assumed {
            DmarcPolicy::None
        } else {
            p.unwrap_or(DmarcPolicy::None)
        },
        policy_assumed,
        subdomain_policy: if policy_assumed { None } else { sp },
        nonexistent_policy: np,
        pct,
        testing,
        rua,
        ruf,
        problems,
    })
}

/// The tags after `v`, the first of each name (lower-cased), at most 64.
fn tags<'t>(text: &'t str, problems: &mut Vec<String>) -> Vec<(String, &'t str)> {
    let mut tags: Vec<(String, &str)> = Vec::new();
    for part in text.split(';').skip(1) {
        let part = trim_wsp(part);
        if part.is_empty() {
            continue;
        }
        let Some((name, value)) = part.split_once('=') else {
            note(
                problems,
                format!("{} is not a tag=value pair", excerpt(part)),
            );
            continue;
        };
        let (name, value) = (trim_wsp(name).to_ascii_lowercase(), trim_wsp(value));
        if tags.iter().any(|(n, _)| *n == name) {
            note(
                problems,
                format!(
                    "the tag {} appears more than once; the first is used",
                    excerpt(&name)
                ),
            );
        } else if tags.len() < 64 {
            tags.push((name, value));
        }
    }
    tags
}

fn note(problems: &mut Vec<String>, problem: String) {
    if problems.len() < 16 {
        problems.push(problem);
    }
}

/// The valid URIs of a comma-separated `rua`/`ruf` list: a scheme, a colon
/// and something after it (RFC 7489 6.4, `mailto:` in practice), with an
/// optional `!size` suffix.
fn uris(value: &str, tag: &str, problems: &mut Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for uri in value.split(',').map(trim_wsp).filter(|u| !u.is_empty()) {
        let valid = uri.split_once(':').is_some_and(|(scheme, rest)| {
            scheme
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic())
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
                && !rest.is_empty()
                && rest.bytes().all(|b| (0x21..=0x7e).contains(&b))
        }) && uri.len() <= MAX_URI_LEN;
        if !valid {
            note(
                problems,
                format!("{tag}: {} is not a valid URI", excerpt(uri)),
            );
        } else if out.len() < MAX_URIS {
            out.push(uri.to_owned());
        }
    }
    out
}

fn excerpt(text: &str) -> String {
    const MAX: usize = 64;
    let shown: String = text.chars().take(MAX).collect();
    if shown.len() < text.len() {
        format!("{shown:?}…")
    } else {
        format!("{shown:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_record() {
        let r = parse_dmarc("v=DMARC1; p=reject; sp=quarantine; pct=50; rua=mailto:a@x.test,mailto:b@x.test!10m; ruf=mailto:f@x.test; adkim=s").unwrap();
        assert_eq!(r.policy, DmarcPolicy::Reject);
        assert_eq!(r.subdomain_policy, Some(DmarcPolicy::Quarantine));
        assert_eq!(r.pct, Some(50));
        assert_eq!(r.rua, ["mailto:a@x.test", "mailto:b@x.test!10m"]);
        assert_eq!(r.ruf, ["mailto:f@x.test"]);
        assert!(r.problems.is_empty());
        assert!(!r.policy_assumed);
    }

    #[test]
    fn tags_are_case_insensitive_and_spacing_is_free() {
        let r = parse_dmarc("v=DMARC1;P = Quarantine ;\tRUA=mailto:x@y.test;").unwrap();
        assert_eq!(r.policy, DmarcPolicy::Quarantine);
        assert_eq!(r.rua.len(), 1);
    }

    #[test]
    fn only_v_dmarc1_first_is_dmarc() {
        assert!(is_dmarc_record("v=DMARC1; p=none"));
        assert!(is_dmarc_record("v = DMARC1"));
        assert!(!is_dmarc_record("p=none; v=DMARC1"));
        assert!(!is_dmarc_record("v=DMARC2; p=none"));
        assert!(!is_dmarc_record("v=spf1 -all"));
        assert!(parse_dmarc("p=reject; v=DMARC1").is_err());
    }

    #[test]
    fn a_missing_or_bad_p_needs_rua() {
        assert!(parse_dmarc("v=DMARC1").is_err());
        assert!(parse_dmarc("v=DMARC1; p=block").is_err());
        let r = parse_dmarc("v=DMARC1; p=block; rua=mailto:a@x.test").unwrap();
        assert_eq!(r.policy, DmarcPolicy::None);
        assert!(r.policy_assumed);
        let r = parse_dmarc("v=DMARC1; p=reject; sp=bogus; rua=mailto:a@x.test").unwrap();
        assert_eq!(r.policy, DmarcPolicy::None);
        assert!(parse_dmarc("v=DMARC1; p=reject; sp=bogus").is_err());
    }

    #[test]
    fn tolerated_oddities_are_noted() {
        let r =
            parse_dmarc("v=DMARC1; p=reject; pct=150; p=none; junk; t=y; np=reject; rua=nonsense")
                .unwrap();
        assert_eq!(r.policy, DmarcPolicy::Reject, "the first p wins");
        assert_eq!(r.pct, None);
        assert!(r.testing);
        assert_eq!(r.nonexistent_policy, Some(DmarcPolicy::Reject));
        assert!(r.rua.is_empty());
        assert_eq!(r.problems.len(), 4, "{:?}", r.problems);
    }

    #[test]
    fn sp_none_is_kept() {
        let r = parse_dmarc("v=DMARC1; p=reject; sp=none").unwrap();
        assert_eq!(r.subdomain_policy, Some(DmarcPolicy::None));
    }

    use proptest::prelude::*;

    fn policy() -> impl Strategy<Value = DmarcPolicy> {
        prop_oneof![
            Just(DmarcPolicy::None),
            Just(DmarcPolicy::Quarantine),
            Just(DmarcPolicy::Reject)
        ]
    }

    proptest! {
        #[test]
        fn never_panics_on_hostile_text(text in "(?s).{0,600}") {
            let _ = parse_dmarc(&text);
            if let Ok(r) = parse_dmarc(&format!("v=DMARC1; {text}")) {
                prop_assert!(r.rua.len() <= MAX_URIS);
                prop_assert!(r.problems.len() <= 16);
                prop_assert!(r.pct.is_none_or(|p| p <= 100));
            }
        }

        #[test]
        fn never_panics_on_hostile_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_dmarc(&format!("v=DMARC1; p=none; {}", String::from_utf8_lossy(&bytes)));
        }

        #[test]
        fn written_records_parse_back(
            p in policy(),
            sp in proptest::option::of(policy()),
            pct in proptest::option::of(0u8..=100),
            rua in proptest::collection::vec("[a-z]{1,8}@[a-z]{1,8}\\.test", 0..4),
            upper in any::<bool>(),
            spacing in "[ \t]{0,3}",
        ) {
            let mut tags = vec![format!("p={}", p.as_str())];
            if let Some(sp) = sp {
                tags.push(format!("sp={}", sp.as_str()));
            }
            if let Some(pct) = pct {
                tags.push(format!("pct={pct}"));
            }
            if !rua.is_empty() {
                let uris: Vec<String> = rua.iter().map(|a| format!("mailto:{a}")).collect();
                tags.push(format!("rua={}", uris.join(",")));
            }
            let mut text = format!("v=DMARC1;{spacing}{}", tags.join(&format!(";{spacing}")));
            if upper {
                text = text.replace("p=", "P=").replace("rua=", "RUA=");
            }
            let r = parse_dmarc(&text).unwrap();
            prop_assert_eq!(r.policy, p);
            prop_assert_eq!(r.subdomain_policy, sp);
            prop_assert_eq!(r.pct, pct);
            prop_assert_eq!(r.rua.len(), rua.len());
            prop_assert!(r.problems.is_empty(), "{:?}", r.problems);
        }
    }
}
