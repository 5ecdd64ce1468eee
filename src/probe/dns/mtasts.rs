//! MTA-STS (RFC 8461): the `_mta-sts` TXT record (`v=STSv1; id=…`), the
//! policy file served at `https://mta-sts.<domain>/.well-known/mta-sts.txt`
//! and its parser, and the [`MtaStsFetch`] seam through which the probe
//! gets that file (the product implements it over its HTTPS client, tests
//! with a fake).
//!
//! The parsers are pure functions over untrusted text; this module must not
//! depend on the network or on the rest of the crate.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

/// The largest policy body parsed (RFC 8461 3.3 lets senders stop at 64 KiB).
pub const MAX_POLICY_LEN: usize = 64 * 1024;
/// The longest TXT record parsed.
pub const MAX_TXT_LEN: usize = 4096;
/// RFC 8461 3.2: `max_age` is at most 31557600 seconds (about a year).
pub const MAX_AGE_LIMIT: u64 = 31_557_600;
/// `mx` patterns kept.
const MAX_MX: usize = 64;

/// Fetches `https://mta-sts.<domain>/.well-known/mta-sts.txt` (implemented
/// over the product's HTTPS client with real certificate verification);
/// returns the body text or why not.
pub trait MtaStsFetch: Send + Sync {
    fn fetch<'a>(
        &'a self,
        url: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<String, PolicyFetchError>> + Send + 'a>>;
}

/// Why there is no policy body, in words for the evidence (RFC 8461 3.3
/// says how a policy is fetched).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyFetchError {
    #[error("{url:?} is not a URL: {reason}")]
    NotUrl { url: String, reason: String },
    #[error("{url} is not an https:// URL; MTA-STS policies are fetched over HTTPS only")]
    NotHttps { url: String },
    /// The address rule refused the host: nothing was sent.
    #[error("not fetched: {detail}")]
    Refused { detail: String },
    /// No answer: the connection, TLS or the time limit failed, in the
    /// fetcher's words.
    #[error("{detail}")]
    Failed { detail: String },
    #[error(
        "{url} answered {status} redirecting to {to}; MTA-STS policies are not fetched through redirects (RFC 8461 §3.3)"
    )]
    Redirected {
        url: String,
        status: u16,
        to: String,
    },
    #[error("{url} answered HTTP {status}, not 200")]
    Status { url: String, status: u16 },
    #[error(
        "{url} is served as {}, not text/plain (RFC 8461 §3.2)",
        content_type.as_deref().unwrap_or("no content type")
    )]
    NotTextPlain {
        url: String,
        content_type: Option<String>,
    },
    #[error("{url} is larger than {} KiB", cap / 1024)]
    TooLarge { url: String, cap: usize },
    #[error("reading {url}: {error}")]
    Reading { url: String, error: String },
    #[error("{url} is not UTF-8 text")]
    NotUtf8 { url: String },
}

/// Why senders would treat a domain as having no policy, from its
/// `_mta-sts` TXT record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StsRecordError {
    #[error("the record is longer than {MAX_TXT_LEN} bytes")]
    TooLong,
    #[error("the record does not start with v=STSv1")]
    NotStsV1,
    #[error("{} is not a key=value field", excerpt(field))]
    NotKeyValue { field: String },
    #[error("the record has no id")]
    NoId,
    #[error("the id {} is not 1 to 32 letters and digits", excerpt(id))]
    BadId { id: String },
}

/// Why senders would not use a policy file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the policy is {len} bytes long, more than the {MAX_POLICY_LEN} accepted")]
    TooLong { len: usize },
    #[error("the line {} is not key: value", excerpt(line))]
    NotKeyValue { line: String },
    #[error("mx: {} is not a host name pattern", excerpt(mx))]
    BadMx { mx: String },
    #[error("version: {} is not STSv1", excerpt(version))]
    BadVersion { version: String },
    #[error("the policy has no version")]
    NoVersion,
    #[error("mode: {} is not enforce, testing or none", excerpt(mode))]
    BadMode { mode: String },
    #[error("the policy has no mode")]
    NoMode,
    #[error(
        "max_age: {} is not a number of seconds up to {MAX_AGE_LIMIT}",
        excerpt(max_age)
    )]
    BadMaxAge { max_age: String },
    #[error("the policy has no max_age")]
    NoMaxAge,
    #[error("the policy (mode {}) lists no mx", mode.as_str())]
    NoMx { mode: StsMode },
}

/// The policy URL for `domain`.
#[must_use]
pub fn policy_url(domain: &str) -> String {
    format!(
        "https://mta-sts.{}/.well-known/mta-sts.txt",
        domain.trim_end_matches('.')
    )
}

/// Whether a TXT record is an MTA-STS record: it starts with `v=STSv1`
/// (RFC 8461 3.1 discards all others).
#[must_use]
pub fn is_sts_record(text: &str) -> bool {
    text.split(';')
        .next()
        .and_then(|f| f.split_once('='))
        .is_some_and(|(k, v)| k.trim_matches(is_wsp) == "v" && v.trim_matches(is_wsp) == "STSv1")
}

fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Parses an `_mta-sts` TXT record and returns its `id`.
///
/// # Errors
/// Why senders would treat the domain as having no policy: not `v=STSv1`
/// first, no `id`, or an `id` that is not 1–32 letters and digits.
pub fn parse_sts_record(text: &str) -> Result<String, StsRecordError> {
    if text.len() > MAX_TXT_LEN {
        return Err(StsRecordError::TooLong);
    }
    if !is_sts_record(text) {
        return Err(StsRecordError::NotStsV1);
    }
    let mut id = None;
    for field in text.split(';').skip(1) {
        let field = field.trim_matches(is_wsp);
        if field.is_empty() {
            continue;
        }
        let Some((key, value)) = field.split_once('=') else {
            return Err(StsRecordError::NotKeyValue {
                field: field.to_owned(),
            });
        };
        if key == "id" && id.is_none() {
            id = Some(value.to_owned());
        }
    }
    match id {
        None => Err(StsRecordError::NoId),
        Some(id)
            if !id.is_empty()
                && id.len() <= 32
                && id.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            Ok(id)
        }
        Some(id) => Err(StsRecordError::BadId { id }),
    }
}

/// The policy mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StsMode {
    Enforce,
    Testing,
    None,
}

impl StsMode {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enforce => "enforce",
            Self::Testing => "testing",
            Self::None => "none",
        }
    }
}

/// A parsed MTA-STS policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MtaStsPolicy {
    pub mode: StsMode,
    /// `mx` patterns, in order.
    pub mx: Vec<String>,
    /// Seconds.
    pub max_age: u64,
}

/// Parses a policy file (RFC 8461 3.2): `key: value` lines ended by LF or
/// CRLF; `version: STSv1`, `mode` and `max_age` required, at least one `mx`
/// unless the mode is `none`; unknown keys ignored; for a repeated key
/// other than `mx` the first counts.
///
/// # Errors
/// Why senders would not use the policy.
pub fn parse_policy(body: &str) -> Result<MtaStsPolicy, PolicyError> {
    if body.len() > MAX_POLICY_LEN {
        return Err(PolicyError::TooLong { len: body.len() });
    }
    let (mut version, mut mode, mut max_age, mut mx) = (None, None, None, Vec::new());
    for line in body.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim_matches(is_wsp).is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(PolicyError::NotKeyValue {
                line: line.to_owned(),
            });
        };
        let value = value.trim_matches(is_wsp);
        match key.trim_matches(is_wsp) {
            "version" if version.is_none() => version = Some(value),
            "mode" if mode.is_none() => mode = Some(value),
            "max_age" if max_age.is_none() => max_age = Some(value),
            "mx" => {
                if !is_mx_pattern(value) {
                    return Err(PolicyError::BadMx {
                        mx: value.to_owned(),
                    });
                }
                if mx.len() < MAX_MX {
                    mx.push(value.to_ascii_lowercase());
                }
            }
            _ => {}
        }
    }
    match version {
        Some("STSv1") => {}
        Some(other) => {
            return Err(PolicyError::BadVersion {
                version: other.to_owned(),
            });
        }
        None => return Err(PolicyError::NoVersion),
    }
    let mode = match mode {
        Some("enforce") => StsMode::Enforce,
        Some("testing") => StsMode::Testing,
        Some("none") => StsMode::None,
        Some(other) => {
            return Err(PolicyError::BadMode {
                mode: other.to_owned(),
            });
        }
        None => return Err(PolicyError::NoMode),
    };
    let max_age = match max_age {
        Some(text) => match text.parse::<u64>() {
            Ok(n) if text.len() <= 10 && n <= MAX_AGE_LIMIT => n,
            _ => {
                return Err(PolicyError::BadMaxAge {
                    max_age: text.to_owned(),
                });
            }
        },
        None => return Err(PolicyError::NoMaxAge),
    };
    if mx.is_empty() && mode != StsMode::None {
        return Err(PolicyError::NoMx { mode });
    }
    Ok(MtaStsPolicy { mode, mx, max_age })
}

/// A host name, optionally starting with `*.` (RFC 8461 3.2).
fn is_mx_pattern(value: &str) -> bool {
    let name = value.strip_prefix("*.").unwrap_or(value);
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn excerpt(text: &str) -> String {
    let shown: String = text.chars().take(64).collect();
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
    fn txt_records() {
        assert_eq!(
            parse_sts_record("v=STSv1; id=20160831085700Z;").unwrap(),
            "20160831085700Z"
        );
        assert_eq!(parse_sts_record("v=STSv1;id=abc").unwrap(), "abc");
        assert!(is_sts_record("v=STSv1; id=1"));
        assert!(!is_sts_record("v=STSv2; id=1"));
        assert_eq!(
            parse_sts_record("v=STSv1;").unwrap_err().to_string(),
            "the record has no id"
        );
        assert!(parse_sts_record("v=STSv1; id=has-dash").is_err());
        assert!(parse_sts_record("v=STSv1; id=123456789012345678901234567890123").is_err());
        assert!(parse_sts_record("id=1; v=STSv1").is_err());
    }

    #[test]
    fn a_policy_with_crlf() {
        let p = parse_policy(
            "version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\nmx: *.example.net\r\nmax_age: 604800\r\n",
        )
        .unwrap();
        assert_eq!(p.mode, StsMode::Enforce);
        assert_eq!(p.mx, ["mail.example.test", "*.example.net"]);
        assert_eq!(p.max_age, 604_800);
    }

    #[test]
    fn policy_errors() {
        for (body, why) in [
            ("mode: enforce\nmx: a.test\nmax_age: 1\n", "no version"),
            (
                "version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n",
                "not STSv1",
            ),
            (
                "version: STSv1\nmode: on\nmx: a.test\nmax_age: 1\n",
                "not enforce",
            ),
            ("version: STSv1\nmode: enforce\nmx: a.test\n", "no max_age"),
            (
                "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 31557601\n",
                "max_age",
            ),
            (
                "version: STSv1\nmode: enforce\nmax_age: 86400\n",
                "lists no mx",
            ),
            ("<html>not found</html>", "not key: value"),
            (
                "version: STSv1\nmode: testing\nmx: bad host\nmax_age: 1\n",
                "mx:",
            ),
        ] {
            let err = parse_policy(body).unwrap_err().to_string();
            assert!(err.contains(why), "{body:?}: {err}");
        }
        let p =
            parse_policy("version: STSv1\nmode: none\nmax_age: 86400\nextension: yes\n").unwrap();
        assert_eq!(p.mode, StsMode::None);
    }

    #[test]
    fn the_url() {
        assert_eq!(
            policy_url("example.test"),
            "https://mta-sts.example.test/.well-known/mta-sts.txt"
        );
    }

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics_on_hostile_text(text in "(?s).{0,800}") {
            let _ = parse_sts_record(&text);
            let _ = parse_sts_record(&format!("v=STSv1; {text}"));
            if let Ok(p) = parse_policy(&text) {
                prop_assert!(p.mx.len() <= MAX_MX);
                prop_assert!(p.max_age <= MAX_AGE_LIMIT);
            }
            let _ = parse_policy(&format!("version: STSv1\nmode: enforce\n{text}"));
        }

        #[test]
        fn never_panics_on_hostile_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..800)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse_policy(&format!("version: STSv1\r\nmode: testing\r\n{text}"));
        }

        #[test]
        fn written_policies_parse_back_with_lf_or_crlf(
            mode in prop_oneof![Just("enforce"), Just("testing"), Just("none")],
            mx in proptest::collection::vec("(\\*\\.)?[a-z]{1,10}\\.[a-z]{2,5}", 1..5),
            max_age in 0u64..=MAX_AGE_LIMIT,
            crlf in any::<bool>(),
            shuffle in any::<bool>(),
        ) {
            let mut lines = vec![format!("version: STSv1"), format!("mode: {mode}")];
            lines.extend(mx.iter().map(|m| format!("mx: {m}")));
            lines.push(format!("max_age: {max_age}"));
            if shuffle {
                lines.reverse();
            }
            let end = if crlf { "\r\n" } else { "\n" };
            let body = lines.join(end) + end;
            let p = parse_policy(&body).unwrap();
            prop_assert_eq!(p.mode.as_str(), mode);
            let mut expected = mx.clone();
            if shuffle {
                expected.reverse();
            }
            prop_assert_eq!(p.mx, expected);
            prop_assert_eq!(p.max_age, max_age);
        }
    }
}
