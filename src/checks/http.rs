//! `http.*` and `securitytxt.*` checks over an [`HttpObservation`].
//!
//! Which response each rule reads:
//! - HSTS: the HTTPS responses from the endpoint's own host, the first one
//!   that carries the header — only those protect this host (RFC 6797
//!   §8.1); a redirect to another host's HSTS does not.
//! - CSP, framing, nosniff, Referrer-Policy: the last response, i.e. the
//!   page a visitor of the endpoint ends up on (the evidence names it).
//! - When the fetch of `/` stopped short (too many or bad redirects, a
//!   loop, a redirect to a refused address, a timeout on a later hop), the
//!   last response is not that page, often a bare redirect: the page-header
//!   checks are skipped (unknown), and HSTS is judged only if one of the
//!   endpoint's own responses carried the header — or on the responses
//!   seen, when they are all a visitor gets (a loop, a Location that is no
//!   URL). The endpoint then has no page a visitor can reach:
//!   `http.unreachable`, whose summary says how the chain broke (an
//!   endpoint must not pass by redirecting where it cannot be looked at).
//!   A chain the server broke itself is an answer, not weather: see
//!   [`is_answer`].
//! - When `/` redirects to another site (not followed, see
//!   [`crate::probe::http`]), the endpoint serves no page of its own: the
//!   page-header checks do not apply, HSTS is judged on its own responses,
//!   and the run reports an error line ([`not_judged`]) naming the site.
//! - `securitytxt.missing`: a 404 or 410 (or a soft 404, a page with no
//!   security.txt field), or a redirect chain that cannot end at a file —
//!   a loop, too many redirects, a redirect to a refused address or to no
//!   URL at all: nobody can fetch it. A fetch that failed (a timeout, no
//!   connection) or a 5xx, 401, 403 … says nothing either way: no
//!   `securitytxt.*` finding.
//! - Server / X-Powered-By: every response on the way.
//! - `http.no_https_redirect`: only plain-HTTP observations (the prober's
//!   port-80 rule); they get no other header check.
//!
//! An observation refused by the address rule gives no finding (the run
//! reports it as an error line); one without any response gives
//! `http.unreachable` and nothing else — for a plain-HTTP endpoint too
//! (evidence `scheme: http`): an endpoint the registry lists that does not
//! answer is worth saying, and silence would look like a pass.

use crate::registry::CheckId;
use chrono::{DateTime, Months, Utc};
use serde_json::json;

use super::securitytxt::{self, SecurityTxt};
use super::{Finding, Policy, Severity};
use crate::probe::http::{
    FailureKind, Fetch, FetchFailure, HttpObservation, HttpResponse, HttpScheme, MAX_REDIRECTS,
    is_text_plain,
};
use crate::probe::resolve::{metadata_reason, private_reason};

/// `http.hsts_short` below this max-age: six months, in seconds.
pub const HSTS_MIN_MAX_AGE: u64 = 15_768_000;

/// All `http.*` and `securitytxt.*` findings for one observation.
#[must_use]
pub fn check(obs: &HttpObservation, now: DateTime<Utc>, _policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    if obs.refused().is_some() {
        return out;
    }
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
    let Some(last) = obs.page.last() else {
        let (what, detail) = obs.page.failure.as_ref().map_or(
            (None, "no response and no error recorded".to_owned()),
            |f| (Some(f), f.detail.clone()),
        );
        let over = match obs.scheme {
            HttpScheme::Https => "HTTPS",
            HttpScheme::Http => "plain HTTP",
        };
        out.push(finding(
            CheckId::HttpUnreachable,
            Severity::Medium,
            format!("no HTTP response over {over}: {detail}"),
            json!({
                "url": obs.page.url,
                "scheme": obs.scheme,
                "failure": what,
                "timed_out": what.is_some_and(|f| f.kind == FailureKind::Timeout),
            }),
        ));
        return out;
    };

    if obs.scheme == HttpScheme::Http {
        if let Some(f) = no_https_redirect(&obs.page, last) {
            out.push(finding(
                CheckId::HttpNoHttpsRedirect,
                Severity::Medium,
                f.0,
                f.1,
            ));
        }
        return out;
    }

    if let Some(failure) = obs
        .page
        .failure
        .as_ref()
        .filter(|f| f.kind != FailureKind::OtherSite)
    {
        let (cause, how) = broken_chain(&obs.page, failure);
        out.push(finding(
            CheckId::HttpUnreachable,
            Severity::Medium,
            format!("{how}; the page and its headers could not be checked"),
            json!({
                "url": obs.page.url,
                "scheme": obs.scheme,
                "cause": cause,
                "failure": failure,
                "redirects": obs.page.redirects,
                "timed_out": failure.kind == FailureKind::Timeout,
            }),
        ));
    }
    hsts(obs, &mut |c, s, m, e| out.push(finding(c, s, m, e)));
    if obs.page.failure.is_none() {
        page_headers(last, &mut |c, s, m, e| out.push(finding(c, s, m, e)));
    }
    server_version(&obs.page, &mut |c, s, m, e| out.push(finding(c, s, m, e)));
    if let Some(fetch) = &obs.security_txt {
        security_txt(fetch, now, &mut |c, s, m, e| out.push(finding(c, s, m, e)));
    }
    out
}

type Emit<'a> = dyn FnMut(CheckId, Severity, String, serde_json::Value) + 'a;

/// The `cause` of an `http.unreachable` whose redirect chain the server
/// broke itself: the same answer comes back on every run.
const ANSWER_CAUSES: [&str; 4] = [
    "redirect_refused",
    "redirect_loop",
    "too_many_redirects",
    "bad_redirect",
];

/// Whether `finding` reports an answer the endpoint gave — a redirect
/// loop, too many redirects, a redirect to a refused address or to no URL
/// — rather than weather (a timeout, a refused connection). Flap damping
/// (`[findings] damping_runs`) holds back only weather: an answer repeats
/// on every run, and holding it back would let an endpoint that will not
/// be looked at keep a clean grade.
#[must_use]
pub fn is_answer(finding: &Finding) -> bool {
    finding.check == CheckId::HttpUnreachable
        && finding
            .evidence
            .get("cause")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|cause| ANSWER_CAUSES.contains(&cause))
}

/// Why the page of an answering endpoint was not judged, when it was not
/// for a reason that is no finding: `/` redirects to another site. The run
/// reports it as an error line, so that no one reads the silence as a pass.
#[must_use]
pub fn not_judged(obs: &HttpObservation) -> Option<String> {
    let failure = obs.page.failure.as_ref()?;
    (failure.kind == FailureKind::OtherSite && !obs.page.responses.is_empty()).then(|| {
        format!(
            "page headers not checked: {}; list the endpoint it leads to in the registry to judge that page",
            failure.detail
        )
    })
}

/// How a redirect chain broke: the evidence's `cause`, and a sentence
/// naming the URL it broke at and why.
fn broken_chain(fetch: &Fetch, failure: &FetchFailure) -> (&'static str, String) {
    let start = &fetch.url;
    let hops = fetch.redirects.len();
    let via = match hops {
        0 | 1 => String::new(),
        2 => " (through one more redirect)".to_owned(),
        n => format!(" (through {} more redirects)", n - 1),
    };
    let target = fetch.redirects.last().map_or(failure.url.as_str(), |r| {
        r.to.as_deref().unwrap_or(&r.location)
    });
    match failure.kind {
        FailureKind::Refused => {
            // The full refusal, with the key that would allow it, is in
            // the evidence (`failure.detail`).
            let what = failure.address.and_then(|ip| {
                let reason = metadata_reason(ip).or_else(|| private_reason(ip))?;
                Some(if target.contains(&ip.to_string()) {
                    format!(" ({reason})")
                } else {
                    format!(" (it resolves to {ip}, {reason})")
                })
            });
            (
                "redirect_refused",
                format!(
                    "{start} redirects{via} to {target}, which is refused{}",
                    what.unwrap_or_default()
                ),
            )
        }
        FailureKind::RedirectLoop => {
            let from = fetch
                .redirects
                .last()
                .map_or(start.as_str(), |r| r.from.as_str());
            // The fragment is never sent: the URL asked for before is
            // the one without it.
            let target = target.split('#').next().unwrap_or(target);
            (
                "redirect_loop",
                format!(
                    "{start} redirects in a loop: {from} sends it back to {target}, asked for before"
                ),
            )
        }
        FailureKind::TooManyRedirects => (
            "too_many_redirects",
            format!(
                "{start} redirects more than {MAX_REDIRECTS} times; the redirect to {target} was not followed"
            ),
        ),
        FailureKind::BadRedirect => (
            "bad_redirect",
            format!("{start} redirects{via} to {target:?}, which is not an http(s) URL"),
        ),
        _ => (
            "redirect_unreachable",
            format!(
                "{start} redirects{via} to {}, which gave no HTTP response: {}",
                failure.url, failure.detail
            ),
        ),
    }
}

/// Plain HTTP passes when some redirect leads to `https://`.
fn no_https_redirect(page: &Fetch, last: &HttpResponse) -> Option<(String, serde_json::Value)> {
    if page
        .redirects
        .iter()
        .any(|r| r.to.as_deref().is_some_and(|to| to.starts_with("https://")))
    {
        return None;
    }
    let summary = match (page.redirects.last(), &page.failure) {
        (_, Some(failure)) => format!(
            "{} does not redirect to HTTPS (the redirects stopped: {})",
            page.url, failure.detail
        ),
        (Some(_), None) => format!(
            "{} redirects only over plain HTTP, ending at {} with {}",
            page.url, last.url, last.status
        ),
        (None, None) => format!(
            "{} does not redirect to HTTPS (it answers {})",
            page.url, last.status
        ),
    };
    Some((
        summary,
        json!({
            "url": page.url,
            "status": last.status,
            "final_url": last.url,
            "redirects": page.redirects,
            "failure": page.failure,
        }),
    ))
}

/// The max-age of an HSTS header value (RFC 6797 §6.1), `None` when it has
/// no valid one (a user agent then ignores the header).
fn hsts_max_age(value: &str) -> Option<u64> {
    value.split(';').find_map(|directive| {
        let (name, arg) = directive.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("max-age") {
            return None;
        }
        let arg = arg.trim();
        let arg = arg
            .strip_prefix('"')
            .and_then(|a| a.strip_suffix('"'))
            .unwrap_or(arg);
        if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Absurdly long numbers are "forever", not an error.
        Some(arg.parse::<u64>().unwrap_or(u64::MAX))
    })
}

fn hsts(obs: &HttpObservation, emit: &mut Emit<'_>) {
    let own: Vec<&HttpResponse> = obs
        .page
        .responses
        .iter()
        .filter(|r| r.url.starts_with("https://") && r.host == obs.host && r.port == obs.port)
        .collect();
    let Some(with_header) = own
        .iter()
        .find(|r| r.header("strict-transport-security").is_some())
    else {
        if obs.page.failure.as_ref().is_some_and(|f| {
            !matches!(
                f.kind,
                FailureKind::OtherSite | FailureKind::RedirectLoop | FailureKind::BadRedirect
            )
        }) {
            // The fetch stopped short: the response that would have
            // carried the header may be the one never received. (Not so
            // when it stopped at another site, at a loop or at a Location
            // no browser follows: every response of this endpoint's host
            // that a visitor gets is in.)
            return;
        }
        let url = own
            .first()
            .map_or(obs.page.url.as_str(), |r| r.url.as_str());
        emit(
            CheckId::HttpHstsMissing,
            Severity::Medium,
            format!("no Strict-Transport-Security header on {url}"),
            json!({"url": url, "responses_checked": own.len()}),
        );
        return;
    };
    let value = with_header
        .header("strict-transport-security")
        .unwrap_or_default();
    match hsts_max_age(value) {
        None => emit(
            CheckId::HttpHstsMissing,
            Severity::Medium,
            format!(
                "the Strict-Transport-Security header on {} has no valid max-age ({value:?}), so browsers ignore it",
                with_header.url
            ),
            json!({"url": with_header.url, "header": value}),
        ),
        Some(age) if age < HSTS_MIN_MAX_AGE => emit(
            CheckId::HttpHstsShort,
            Severity::Low,
            format!(
                "HSTS max-age is {age} seconds ({} days), below six months ({HSTS_MIN_MAX_AGE} seconds){}",
                age / 86_400,
                if age == 0 {
                    "; max-age=0 switches HSTS off"
                } else {
                    ""
                }
            ),
            json!({"url": with_header.url, "header": value, "max_age": age, "minimum": HSTS_MIN_MAX_AGE}),
        ),
        Some(_) => {}
    }
}

fn page_headers(last: &HttpResponse, emit: &mut Emit<'_>) {
    let url = &last.url;
    let csp = last.header_values("content-security-policy");
    if csp.is_empty() {
        let report_only = last.header("content-security-policy-report-only");
        emit(
            CheckId::HttpCspMissing,
            Severity::Low,
            format!(
                "no Content-Security-Policy header on {url}{}",
                if report_only.is_some() {
                    " (only a report-only policy, which enforces nothing)"
                } else {
                    ""
                }
            ),
            json!({"url": url, "status": last.status, "report_only": report_only}),
        );
    }
    let frame_ancestors = csp.iter().any(|policy| {
        policy.split(';').any(|directive| {
            directive
                .split_whitespace()
                .next()
                .is_some_and(|name| name.eq_ignore_ascii_case("frame-ancestors"))
        })
    });
    let xfo = last.header_values("x-frame-options");
    // DENY and SAMEORIGIN are what browsers honour; ALLOW-FROM and
    // anything else are ignored, i.e. no protection.
    let xfo_valid = !xfo.is_empty()
        && xfo.iter().all(|v| {
            v.split(',').all(|token| {
                let t = token.trim();
                t.eq_ignore_ascii_case("deny") || t.eq_ignore_ascii_case("sameorigin")
            })
        });
    if !frame_ancestors && !xfo_valid {
        emit(
            CheckId::HttpFramingUnprotected,
            Severity::Low,
            if xfo.is_empty() {
                format!(
                    "{url} can be framed by any site: neither X-Frame-Options nor a CSP frame-ancestors directive"
                )
            } else {
                format!(
                    "{url} can be framed by any site: X-Frame-Options {:?} is not DENY or SAMEORIGIN, and there is no CSP frame-ancestors directive",
                    xfo.join(", ")
                )
            },
            json!({"url": url, "x_frame_options": xfo, "content_security_policy": csp}),
        );
    }
    let nosniff = last.header_values("x-content-type-options");
    if !nosniff
        .iter()
        .any(|v| v.trim().eq_ignore_ascii_case("nosniff"))
    {
        emit(
            CheckId::HttpNosniffMissing,
            Severity::Low,
            if nosniff.is_empty() {
                format!("no X-Content-Type-Options: nosniff on {url}")
            } else {
                format!(
                    "X-Content-Type-Options on {url} is {:?}, not nosniff",
                    nosniff.join(", ")
                )
            },
            json!({"url": url, "x_content_type_options": nosniff}),
        );
    }
    if last
        .header_values("referrer-policy")
        .iter()
        .all(|v| v.trim().is_empty())
    {
        emit(
            CheckId::HttpReferrerPolicyMissing,
            Severity::Info,
            format!("no Referrer-Policy header on {url}"),
            json!({"url": url}),
        );
    }
}

fn server_version(page: &Fetch, emit: &mut Emit<'_>) {
    let mut disclosed: Vec<serde_json::Value> = Vec::new();
    for response in &page.responses {
        for header in ["server", "x-powered-by"] {
            for value in response.header_values(header) {
                let entry = json!({"url": response.url, "header": header, "value": value});
                if reveals_version(value) && !disclosed.contains(&entry) {
                    disclosed.push(entry);
                }
            }
        }
    }
    let Some(first) = disclosed.first() else {
        return;
    };
    let name = match first.get("header").and_then(|h| h.as_str()) {
        Some("x-powered-by") => "X-Powered-By",
        _ => "Server",
    };
    let value = first.get("value").and_then(|v| v.as_str()).unwrap_or("?");
    emit(
        CheckId::HttpServerVersionDisclosed,
        Severity::Info,
        format!("the {name} header reveals a version: {value:?}"),
        json!({"disclosed": disclosed}),
    );
}

/// Whether a Server / X-Powered-By value carries a version number:
/// `name/1.2` (or `name/7` alone), or `1.2`-like numbers after a space or
/// bracket (`Jetty(9.4.z)`, `Apache 2.4`). `nginx`, `ASP.NET` or an opaque
/// id such as `ECS (nyb/1D2E)` do not.
#[must_use]
pub fn reveals_version(value: &str) -> bool {
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let at_start = bytes.get(i).is_some_and(u8::is_ascii_digit)
            && (i == 0
                || bytes
                    .get(i - 1)
                    .is_some_and(|p| matches!(p, b'/' | b' ' | b'(' | b'v' | b'V' | b'-')));
        if !at_start {
            i += 1;
            continue;
        }
        let after_slash = i > 0 && bytes.get(i - 1) == Some(&b'/');
        let mut j = i;
        let mut dotted = false;
        loop {
            while bytes.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
            if bytes.get(j) == Some(&b'.') && bytes.get(j + 1).is_some_and(u8::is_ascii_digit) {
                dotted = true;
                j += 1;
            } else {
                break;
            }
        }
        let boundary = bytes
            .get(j)
            .is_none_or(|b| !b.is_ascii_alphanumeric() || dotted);
        // "v" counts only as a prefix ("v1.2"), not inside a word ("nv1").
        let v_prefix_ok = i < 2
            || !matches!(bytes.get(i - 1), Some(b'v' | b'V'))
            || !bytes.get(i - 2).is_some_and(u8::is_ascii_alphanumeric);
        if boundary && v_prefix_ok && (dotted || after_slash) {
            return true;
        }
        i = j.max(i + 1);
    }
    false
}

/// What is wrong with how the file was served, before its content.
fn delivery_problems(last: &HttpResponse, content_type: Option<&str>, plain: bool) -> Vec<String> {
    let mut problems: Vec<String> = Vec::new();
    if !plain {
        problems.push(format!(
            "served as {}, not text/plain",
            content_type.unwrap_or("no content type")
        ));
    }
    if !last.url.starts_with("https://") {
        problems.push(format!(
            "served over plain HTTP from {} (RFC 9116 requires HTTPS)",
            last.url
        ));
    }
    if !last.body_utf8 {
        problems.push("not valid UTF-8".to_owned());
    }
    if last.truncated {
        problems.push(format!(
            "larger than {} KiB; only the start was read",
            crate::probe::http::SECURITY_TXT_CAP / 1024
        ));
    }
    if let Some(error) = &last.body_error {
        problems.push(format!("the body could not be read to its end: {error}"));
    }
    problems
}

/// A security.txt fetch that stopped short: `securitytxt.missing` when the
/// server broke the redirect chain itself (nobody can fetch the file),
/// nothing when it may be weather.
fn unfetchable(fetch: &Fetch, failure: &FetchFailure, last: &HttpResponse, emit: &mut Emit<'_>) {
    let (cause, how) = broken_chain(fetch, failure);
    if ANSWER_CAUSES.contains(&cause) {
        emit(
            CheckId::SecuritytxtMissing,
            Severity::Medium,
            format!("no security.txt can be fetched: {how}"),
            json!({
                "url": fetch.url,
                "cause": cause,
                "failure": failure,
                "redirects": fetch.redirects,
                "final_url": last.url,
            }),
        );
    }
}

fn security_txt(fetch: &Fetch, now: DateTime<Utc>, emit: &mut Emit<'_>) {
    let url = fetch.url.as_str();
    // No answer, a broken redirect chain, a server error: unknown, not
    // missing.
    let Some(last) = fetch.last() else {
        return;
    };
    if let Some(failure) = &fetch.failure {
        unfetchable(fetch, failure, last, emit);
        return;
    }
    if !(200..300).contains(&last.status) {
        if matches!(last.status, 404 | 410) {
            emit(
                CheckId::SecuritytxtMissing,
                Severity::Medium,
                format!("no security.txt at {url} (HTTP {})", last.status),
                json!({"url": url, "status": last.status, "final_url": last.url}),
            );
        }
        return;
    }
    let text = last.body.as_deref().unwrap_or_default();
    let parsed: SecurityTxt = securitytxt::parse(text);
    let content_type = last.header("content-type");
    let plain = content_type.is_some_and(is_text_plain);
    if !plain && !parsed.has_known_fields() {
        // A "soft 404": the site answers every path with a page.
        emit(
            CheckId::SecuritytxtMissing,
            Severity::Medium,
            format!(
                "no security.txt at {url}: it answers with a {} page that holds no security.txt fields",
                content_type.unwrap_or("untyped")
            ),
            json!({"url": url, "status": last.status, "content_type": content_type, "final_url": last.url}),
        );
        return;
    }

    let mut problems = delivery_problems(last, content_type, plain);
    problems.extend(parsed.problems.iter().cloned());
    let more = parsed.more_problems;

    if let Some(expires) = parsed.expires.map(|e| e.with_timezone(&Utc)) {
        if expires < now {
            let days = (now - expires).num_days();
            emit(
                CheckId::SecuritytxtExpired,
                Severity::Medium,
                format!(
                    "security.txt at {url} expired {} on {}",
                    if days == 0 {
                        "today".to_owned()
                    } else if days == 1 {
                        "1 day ago".to_owned()
                    } else {
                        format!("{days} days ago")
                    },
                    expires.date_naive()
                ),
                json!({"url": url, "expires": expires}),
            );
        } else if now
            .checked_add_months(Months::new(12))
            .is_some_and(|limit| expires > limit)
        {
            problems.push(format!(
                "Expires {} is more than a year ahead (RFC 9116 recommends less)",
                expires.to_rfc3339()
            ));
        }
    }

    if !problems.is_empty() {
        let shown = problems.len();
        emit(
            CheckId::SecuritytxtInvalid,
            Severity::Low,
            format!(
                "security.txt at {url} is invalid: {}{}",
                problems.first().map_or("", String::as_str),
                match shown + more {
                    0 | 1 => String::new(),
                    n => format!(" (and {} more)", n - 1),
                }
            ),
            json!({
                "url": url,
                "final_url": last.url,
                "content_type": content_type,
                "signed": parsed.signed,
                "problems": problems,
                "more_problems": more,
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone as _;

    use super::*;
    use crate::probe::http::{FetchFailure, Redirect};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, 9, 0, 0).unwrap()
    }

    const TARGET: &str = "portal.acme.test:443";

    fn response(url: &str, status: u16, headers: &[(&str, &str)]) -> HttpResponse {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (n, v) in headers {
            map.entry((*n).to_owned())
                .or_default()
                .push((*v).to_owned());
        }
        // Enough of a URL parser for the tests' URLs.
        let authority = url.split('/').nth(2).unwrap_or_default();
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().unwrap()),
            None => (
                authority.to_owned(),
                if url.starts_with("https") { 443 } else { 80 },
            ),
        };
        HttpResponse {
            url: url.to_owned(),
            host,
            port,
            status,
            version: "HTTP/1.1".to_owned(),
            headers: map,
            body_bytes: 0,
            truncated: false,
            body_error: None,
            body: None,
            body_utf8: true,
        }
    }

    const GOOD_HEADERS: [(&str, &str); 6] = [
        (
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        ),
        (
            "content-security-policy",
            "default-src 'self'; frame-ancestors 'none'",
        ),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("server", "nginx"),
    ];

    const GOOD_TXT: &str = "Contact: mailto:security@acme.test\nExpires: 2027-06-01T00:00:00Z\n";

    fn headers_without(name: &str) -> Vec<(&'static str, &'static str)> {
        GOOD_HEADERS
            .iter()
            .filter(|(n, _)| *n != name)
            .copied()
            .collect()
    }

    fn txt_response(body: &str, content_type: &str) -> HttpResponse {
        let mut r = response(
            "https://portal.acme.test/.well-known/security.txt",
            200,
            &[("content-type", content_type)],
        );
        r.body = Some(body.to_owned());
        r
    }

    fn fetch(url: &str, responses: Vec<HttpResponse>) -> Fetch {
        Fetch {
            url: url.to_owned(),
            responses,
            redirects: vec![],
            failure: None,
        }
    }

    fn obs_with(page: Vec<HttpResponse>, txt: Option<HttpResponse>) -> HttpObservation {
        HttpObservation {
            target: TARGET.to_owned(),
            host: "portal.acme.test".to_owned(),
            port: 443,
            scheme: HttpScheme::Https,
            page: fetch("https://portal.acme.test/", page),
            security_txt: Some(fetch(
                "https://portal.acme.test/.well-known/security.txt",
                txt.into_iter().collect(),
            )),
            elapsed_ms: 1,
        }
    }

    fn good_obs() -> HttpObservation {
        obs_with(
            vec![response("https://portal.acme.test/", 200, &GOOD_HEADERS)],
            Some(txt_response(GOOD_TXT, "text/plain; charset=utf-8")),
        )
    }

    fn ids(obs: &HttpObservation) -> Vec<CheckId> {
        let mut ids: Vec<CheckId> = check(obs, now(), &Policy::default())
            .iter()
            .map(|f| f.check)
            .collect();
        ids.sort_unstable();
        ids
    }

    fn only(obs: &HttpObservation, id: CheckId) -> Finding {
        let findings = check(obs, now(), &Policy::default());
        assert_eq!(
            findings.iter().map(|f| f.check).collect::<Vec<_>>(),
            vec![id],
            "{findings:#?}"
        );
        assert!(findings.iter().all(|f| f.target == obs.target));
        findings.into_iter().next().unwrap()
    }

    /// The finding `id` among others.
    fn the(obs: &HttpObservation, id: CheckId) -> Finding {
        check(obs, now(), &Policy::default())
            .into_iter()
            .find(|f| f.check == id)
            .unwrap_or_else(|| panic!("no {id}: {:?}", ids(obs)))
    }

    #[test]
    fn a_good_site_has_no_findings() {
        assert!(ids(&good_obs()).is_empty());
    }

    #[test]
    fn refused_targets_give_nothing() {
        let mut obs = good_obs();
        obs.page = Fetch {
            url: "https://10.0.0.1/".into(),
            responses: vec![],
            redirects: vec![],
            failure: Some(FetchFailure {
                url: "https://10.0.0.1/".into(),
                kind: FailureKind::Refused,
                detail: "refused".into(),
                address: Some("10.0.0.1".parse().unwrap()),
            }),
        };
        obs.security_txt = None;
        assert!(ids(&obs).is_empty());
    }

    #[test]
    fn unreachable_fires_alone() {
        let mut obs = good_obs();
        obs.page.responses.clear();
        obs.page.failure = Some(FetchFailure {
            url: obs.page.url.clone(),
            kind: FailureKind::Timeout,
            detail: "no answer within 2s".into(),
            address: None,
        });
        let f = only(&obs, CheckId::HttpUnreachable);
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.evidence["timed_out"], true);
        assert!(f.summary.contains("over HTTPS"));
    }

    #[test]
    fn hsts_missing_invalid_and_short() {
        let obs = obs_with(
            vec![response(
                "https://portal.acme.test/",
                200,
                &headers_without("strict-transport-security"),
            )],
            Some(txt_response(GOOD_TXT, "text/plain")),
        );
        assert_eq!(
            only(&obs, CheckId::HttpHstsMissing).severity,
            Severity::Medium
        );

        let mut h = headers_without("strict-transport-security");
        h.push(("strict-transport-security", "includeSubDomains"));
        let obs = obs_with(
            vec![response("https://portal.acme.test/", 200, &h)],
            Some(txt_response(GOOD_TXT, "text/plain")),
        );
        assert!(
            only(&obs, CheckId::HttpHstsMissing)
                .summary
                .contains("no valid max-age")
        );

        for (value, fires) in [
            ("max-age=86400", true),
            ("max-age=0", true),
            ("max-age=15767999; preload", true),
            ("max-age=15768000", false),
            ("includeSubDomains; max-age=\"31536000\"", false),
            ("MAX-AGE = 63072000", false),
        ] {
            let mut h = headers_without("strict-transport-security");
            h.push(("strict-transport-security", value));
            let obs = obs_with(
                vec![response("https://portal.acme.test/", 200, &h)],
                Some(txt_response(GOOD_TXT, "text/plain")),
            );
            let expected: Vec<CheckId> = if fires {
                vec![CheckId::HttpHstsShort]
            } else {
                vec![]
            };
            assert_eq!(ids(&obs), expected, "{value}");
        }
    }

    #[test]
    fn hsts_is_read_from_the_endpoints_own_host() {
        // portal → www (with HSTS): portal itself sent none.
        let mut obs = obs_with(
            vec![
                response(
                    "https://portal.acme.test/",
                    301,
                    &[("location", "https://www.acme.test/")],
                ),
                response("https://www.acme.test/", 200, &GOOD_HEADERS),
            ],
            Some(txt_response(GOOD_TXT, "text/plain")),
        );
        obs.page.redirects.push(Redirect {
            status: 301,
            from: "https://portal.acme.test/".into(),
            location: "https://www.acme.test/".into(),
            to: Some("https://www.acme.test/".into()),
        });
        assert_eq!(ids(&obs), vec![CheckId::HttpHstsMissing]);
        // portal → portal/en (HSTS on the second): fine.
        let obs = obs_with(
            vec![
                response("https://portal.acme.test/", 302, &[("location", "/en/")]),
                response("https://portal.acme.test/en/", 200, &GOOD_HEADERS),
            ],
            Some(txt_response(GOOD_TXT, "text/plain")),
        );
        assert!(ids(&obs).is_empty());
        // A non-default port is part of the origin.
        let mut obs = good_obs();
        obs.target = "portal.acme.test:8443".into();
        obs.port = 8443;
        obs.page.responses[0].url = "https://portal.acme.test:8443/".into();
        obs.page.responses[0].port = 8443;
        assert!(ids(&obs).is_empty());
        // … and a response from another port of the host is not its own.
        obs.page.responses[0].port = 443;
        assert_eq!(ids(&obs), vec![CheckId::HttpHstsMissing]);
    }

    #[test]
    fn each_page_header_missing_fires_its_own_id() {
        for (header, expected) in [
            ("content-security-policy", vec![CheckId::HttpCspMissing]),
            ("x-content-type-options", vec![CheckId::HttpNosniffMissing]),
            ("referrer-policy", vec![CheckId::HttpReferrerPolicyMissing]),
            // Either framing protection is enough on its own.
            ("x-frame-options", vec![]),
        ] {
            let obs = obs_with(
                vec![response(
                    "https://portal.acme.test/",
                    200,
                    &headers_without(header),
                )],
                Some(txt_response(GOOD_TXT, "text/plain")),
            );
            assert_eq!(ids(&obs), expected, "{header}");
        }
        let severities = [
            ("content-security-policy", Severity::Low),
            ("x-content-type-options", Severity::Low),
            ("referrer-policy", Severity::Info),
        ];
        for (header, severity) in severities {
            let obs = obs_with(
                vec![response(
                    "https://portal.acme.test/",
                    200,
                    &headers_without(header),
                )],
                Some(txt_response(GOOD_TXT, "text/plain")),
            );
            assert_eq!(check(&obs, now(), &Policy::default())[0].severity, severity);
        }
    }

    #[test]
    fn framing() {
        let base: Vec<(&str, &str)> = GOOD_HEADERS
            .iter()
            .filter(|(n, _)| *n != "x-frame-options" && *n != "content-security-policy")
            .copied()
            .collect();
        let run = |extra: &[(&'static str, &'static str)]| {
            let mut h = base.clone();
            h.extend_from_slice(extra);
            let obs = obs_with(
                vec![response("https://portal.acme.test/", 200, &h)],
                Some(txt_response(GOOD_TXT, "text/plain")),
            );
            ids(&obs)
        };
        assert_eq!(
            run(&[]),
            vec![CheckId::HttpCspMissing, CheckId::HttpFramingUnprotected]
        );
        assert_eq!(
            run(&[("x-frame-options", "SAMEORIGIN")]),
            vec![CheckId::HttpCspMissing]
        );
        assert_eq!(
            run(&[("x-frame-options", "ALLOW-FROM https://a.test")]),
            vec![CheckId::HttpCspMissing, CheckId::HttpFramingUnprotected]
        );
        assert_eq!(
            run(&[("content-security-policy", "default-src 'self'")]),
            vec![CheckId::HttpFramingUnprotected]
        );
        assert!(run(&[("content-security-policy", "frame-ancestors 'self'")]).is_empty());
        let only_report = run(&[(
            "content-security-policy-report-only",
            "default-src 'self'; frame-ancestors 'none'",
        )]);
        assert_eq!(
            only_report,
            vec![CheckId::HttpCspMissing, CheckId::HttpFramingUnprotected]
        );
    }

    #[test]
    fn nosniff_needs_the_value() {
        let mut h = headers_without("x-content-type-options");
        h.push(("x-content-type-options", "sniff-away"));
        let obs = obs_with(
            vec![response("https://portal.acme.test/", 200, &h)],
            Some(txt_response(GOOD_TXT, "text/plain")),
        );
        assert!(
            only(&obs, CheckId::HttpNosniffMissing)
                .summary
                .contains("sniff-away")
        );
    }

    #[test]
    fn version_detection() {
        for (value, reveals) in [
            ("nginx/1.18.0", true),
            ("Apache/2.4.41 (Ubuntu)", true),
            ("PHP/7.4.3", true),
            ("Microsoft-IIS/10.0", true),
            ("PHP/7", true),
            ("Jetty(9.4.z-SNAPSHOT)", true),
            ("gunicorn/20.0.4", true),
            ("Apache 2.4", true),
            ("Express v4.17.1", true),
            ("nginx", false),
            ("Apache", false),
            ("ASP.NET", false),
            ("cloudflare", false),
            ("ECS (nyb/1D2E)", false),
            ("AmazonS3", false),
            ("gws", false),
            ("nv1", false),
            ("h2o", false),
            ("", false),
            ("/", false),
            ("1", false),
        ] {
            assert_eq!(reveals_version(value), reveals, "{value:?}");
        }
    }

    #[test]
    fn server_version_is_info_and_names_the_header() {
        let mut h = headers_without("server");
        h.push(("server", "nginx/1.18.0"));
        h.push(("x-powered-by", "PHP/7.4.3"));
        let obs = obs_with(
            vec![response("https://portal.acme.test/", 200, &h)],
            Some(txt_response(GOOD_TXT, "text/plain")),
        );
        let f = only(&obs, CheckId::HttpServerVersionDisclosed);
        assert_eq!(f.severity, Severity::Info);
        assert!(f.summary.contains("nginx/1.18.0"));
        assert_eq!(f.evidence["disclosed"].as_array().unwrap().len(), 2);
        let mut h = headers_without("server");
        h.push(("x-powered-by", "ASP.NET"));
        h.push(("server", "nginx"));
        let obs = obs_with(
            vec![response("https://portal.acme.test/", 200, &h)],
            Some(txt_response(GOOD_TXT, "text/plain")),
        );
        assert!(ids(&obs).is_empty());
    }

    fn plain_obs(responses: Vec<HttpResponse>, redirects: Vec<Redirect>) -> HttpObservation {
        HttpObservation {
            target: "portal.acme.test:80".into(),
            host: "portal.acme.test".into(),
            port: 80,
            scheme: HttpScheme::Http,
            page: Fetch {
                url: "http://portal.acme.test/".into(),
                responses,
                redirects,
                failure: None,
            },
            security_txt: None,
            elapsed_ms: 1,
        }
    }

    #[test]
    fn plain_http_must_redirect_to_https() {
        let redirect = |from: &str, to: &str| Redirect {
            status: 301,
            from: from.into(),
            location: to.into(),
            to: Some(to.into()),
        };
        // Straight to https: fine, and no header checks over plain HTTP.
        let obs = plain_obs(
            vec![response(
                "http://portal.acme.test/",
                301,
                &[("location", "https://portal.acme.test/")],
            )],
            vec![redirect(
                "http://portal.acme.test/",
                "https://portal.acme.test/",
            )],
        );
        assert!(ids(&obs).is_empty());
        // Via another plain page, then https: fine.
        let obs = plain_obs(
            vec![
                response("http://portal.acme.test/", 301, &[]),
                response("http://www.acme.test/", 301, &[]),
            ],
            vec![
                redirect("http://portal.acme.test/", "http://www.acme.test/"),
                redirect("http://www.acme.test/", "https://www.acme.test/"),
            ],
        );
        assert!(ids(&obs).is_empty());
        // A page over plain HTTP.
        let obs = plain_obs(vec![response("http://portal.acme.test/", 200, &[])], vec![]);
        let f = only(&obs, CheckId::HttpNoHttpsRedirect);
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.summary.contains("answers 200"), "{}", f.summary);
        // Redirects that stay on plain HTTP.
        let obs = plain_obs(
            vec![
                response("http://portal.acme.test/", 302, &[]),
                response("http://www.acme.test/", 200, &[]),
            ],
            vec![redirect(
                "http://portal.acme.test/",
                "http://www.acme.test/",
            )],
        );
        assert!(
            only(&obs, CheckId::HttpNoHttpsRedirect)
                .summary
                .contains("plain HTTP")
        );
        // Nothing answers on port 80.
        let mut obs = plain_obs(vec![], vec![]);
        obs.page.failure = Some(FetchFailure {
            url: "http://portal.acme.test/".into(),
            kind: FailureKind::Connect,
            detail: "connection refused".into(),
            address: None,
        });
        assert!(
            only(&obs, CheckId::HttpUnreachable)
                .summary
                .contains("plain HTTP")
        );
    }

    #[test]
    fn https_observations_never_fire_no_https_redirect() {
        let obs = good_obs();
        assert!(!ids(&obs).contains(&CheckId::HttpNoHttpsRedirect));
    }

    fn txt_obs(txt: HttpResponse) -> HttpObservation {
        obs_with(
            vec![response("https://portal.acme.test/", 200, &GOOD_HEADERS)],
            Some(txt),
        )
    }

    #[test]
    fn security_txt_missing() {
        let mut obs = txt_obs(response(
            "https://portal.acme.test/.well-known/security.txt",
            404,
            &[("content-type", "text/html")],
        ));
        let f = only(&obs, CheckId::SecuritytxtMissing);
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.summary.contains("404"));
        obs = txt_obs(response(
            "https://portal.acme.test/.well-known/security.txt",
            410,
            &[],
        ));
        assert!(
            only(&obs, CheckId::SecuritytxtMissing)
                .summary
                .contains("410")
        );
        // A soft 404: HTML without any field.
        obs = txt_obs(txt_response("<html>welcome</html>", "text/html"));
        assert!(
            only(&obs, CheckId::SecuritytxtMissing)
                .summary
                .contains("text/html")
        );
    }

    /// A fetch that failed, or a server error, says nothing about whether
    /// the file exists: no `securitytxt.*` finding at all. (It used to
    /// raise `securitytxt.missing`, which was wrong.) A redirect chain the
    /// server broke itself does: nobody can fetch the file.
    #[test]
    fn security_txt_unknown_is_not_missing() {
        // No response at all.
        let mut obs = txt_obs(txt_response("", "text/plain"));
        let fetch = obs.security_txt.as_mut().unwrap();
        fetch.responses.clear();
        fetch.failure = Some(FetchFailure {
            url: fetch.url.clone(),
            kind: FailureKind::Timeout,
            detail: "no answer within 2s".into(),
            address: None,
        });
        assert!(ids(&obs).is_empty(), "{:?}", ids(&obs));
        // Too many redirects.
        obs = txt_obs(response(
            "https://portal.acme.test/6",
            302,
            &[("location", "/7")],
        ));
        obs.security_txt.as_mut().unwrap().failure = Some(FetchFailure {
            url: "https://portal.acme.test/6".into(),
            kind: FailureKind::TooManyRedirects,
            detail: "more than 5 redirects".into(),
            address: None,
        });
        assert_eq!(ids(&obs), vec![CheckId::SecuritytxtMissing]);
        // A timeout on a later hop is weather: unknown.
        obs.security_txt.as_mut().unwrap().failure = Some(FetchFailure {
            url: "https://portal.acme.test/7".into(),
            kind: FailureKind::Timeout,
            detail: "no answer within 2s".into(),
            address: None,
        });
        assert!(ids(&obs).is_empty(), "{:?}", ids(&obs));
        // Server errors, and refusals that do not say "not found".
        for status in [500, 502, 503, 504, 401, 403, 429] {
            let obs = txt_obs(response(
                "https://portal.acme.test/.well-known/security.txt",
                status,
                &[("content-type", "text/html")],
            ));
            assert!(ids(&obs).is_empty(), "{status}: {:?}", ids(&obs));
        }
    }

    /// When the redirect chain of `/` broke, the last response is not the
    /// page a visitor sees (here a bare redirect): no page-header finding,
    /// and no HSTS finding unless an own response carried the header — but
    /// `http.unreachable`, since no page can be reached.
    #[test]
    fn a_broken_redirect_chain_skips_the_page_headers() {
        let broken = |first_headers: &[(&str, &str)]| {
            let mut headers = first_headers.to_vec();
            headers.push(("location", "https://portal.acme.test/6"));
            let mut obs = obs_with(
                vec![response("https://portal.acme.test/", 302, &headers)],
                Some(txt_response(GOOD_TXT, "text/plain")),
            );
            obs.page.failure = Some(FetchFailure {
                url: "https://portal.acme.test/".into(),
                kind: FailureKind::TooManyRedirects,
                detail: "more than 5 redirects".into(),
                address: None,
            });
            obs
        };
        assert_eq!(ids(&broken(&[])), vec![CheckId::HttpUnreachable]);
        // An own response with HSTS is still judged.
        assert_eq!(
            ids(&broken(&[("strict-transport-security", "max-age=60")])),
            vec![CheckId::HttpHstsShort, CheckId::HttpUnreachable]
        );
        assert_eq!(
            ids(&broken(&[(
                "strict-transport-security",
                "max-age=31536000"
            )])),
            vec![CheckId::HttpUnreachable]
        );
        // The Server header is read on every response, broken chain or not.
        assert_eq!(
            ids(&broken(&[("server", "nginx/1.18.0")])),
            vec![
                CheckId::HttpServerVersionDisclosed,
                CheckId::HttpUnreachable
            ]
        );
    }

    fn redirect(from: &str, to: &str) -> Redirect {
        Redirect {
            status: 302,
            from: from.into(),
            location: to.into(),
            to: Some(to.into()),
        }
    }

    /// A broken chain of `/` is `http.unreachable` whose summary and
    /// `cause` say how; only the server's own answers are [`is_answer`].
    #[test]
    fn broken_chains_say_how_they_broke() {
        let chain = |kind: FailureKind, to: &str, address: Option<&str>| {
            let mut obs = obs_with(
                vec![response(
                    "https://portal.acme.test/",
                    302,
                    &[("location", to)],
                )],
                Some(txt_response(GOOD_TXT, "text/plain")),
            );
            obs.page.redirects = vec![redirect("https://portal.acme.test/", to)];
            obs.page.failure = Some(FetchFailure {
                url: to.into(),
                kind,
                detail: "the probe's words".into(),
                address: address.map(|a| a.parse().unwrap()),
            });
            the(&obs, CheckId::HttpUnreachable)
        };
        let f = chain(
            FailureKind::Refused,
            "http://169.254.169.254/latest/meta-data/",
            Some("169.254.169.254"),
        );
        assert_eq!(
            f.summary,
            "https://portal.acme.test/ redirects to http://169.254.169.254/latest/meta-data/, which is refused (a cloud metadata address); the page and its headers could not be checked"
        );
        assert_eq!(f.evidence["cause"], "redirect_refused");
        assert_eq!(f.evidence["failure"]["detail"], "the probe's words");
        assert!(is_answer(&f));
        let f = chain(
            FailureKind::Refused,
            "https://intranet.acme.test/",
            Some("10.1.2.3"),
        );
        assert!(
            f.summary
                .contains("which is refused (it resolves to 10.1.2.3, a private address)"),
            "{}",
            f.summary
        );
        let mut obs = obs_with(
            vec![
                response("https://portal.acme.test/", 302, &[]),
                response("https://portal.acme.test/a", 302, &[]),
            ],
            Some(txt_response(GOOD_TXT, "text/plain")),
        );
        obs.page.redirects = vec![
            redirect("https://portal.acme.test/", "https://portal.acme.test/a"),
            redirect("https://portal.acme.test/a", "http://10.1.2.3/"),
        ];
        obs.page.failure = Some(FetchFailure {
            url: "http://10.1.2.3/".into(),
            kind: FailureKind::Refused,
            detail: "10.1.2.3 is a private address".into(),
            address: Some("10.1.2.3".parse().unwrap()),
        });
        assert!(
            the(&obs, CheckId::HttpUnreachable).summary.starts_with(
                "https://portal.acme.test/ redirects (through one more redirect) to http://10.1.2.3/, which is refused (a private address)"
            ),
            "{}",
            the(&obs, CheckId::HttpUnreachable).summary
        );
        let f = chain(FailureKind::BadRedirect, "javascript:alert(1)", None);
        assert!(f.summary.contains("not an http(s) URL"), "{}", f.summary);
        assert!(is_answer(&f));
        let f = chain(FailureKind::Timeout, "https://slow.acme.test/", None);
        assert!(f.summary.contains("gave no HTTP response"), "{}", f.summary);
        assert_eq!(f.evidence["cause"], "redirect_unreachable");
        assert_eq!(f.evidence["timed_out"], true);
        assert!(!is_answer(&f), "a timeout may be weather");
    }

    /// A loop: every response a visitor would ever get is in, so HSTS is
    /// judged on them; the summary names the hop that closes the loop.
    #[test]
    fn a_loop_judges_hsts_on_what_it_saw() {
        let mut obs = obs_with(
            vec![
                response("https://portal.acme.test/", 302, &[]),
                response("https://portal.acme.test/a", 302, &[]),
            ],
            Some(txt_response(GOOD_TXT, "text/plain")),
        );
        obs.page.redirects = vec![
            redirect("https://portal.acme.test/", "https://portal.acme.test/a"),
            redirect("https://portal.acme.test/a", "https://portal.acme.test/"),
        ];
        obs.page.failure = Some(FetchFailure {
            url: "https://portal.acme.test/a".into(),
            kind: FailureKind::RedirectLoop,
            detail: "a loop".into(),
            address: None,
        });
        assert_eq!(
            ids(&obs),
            vec![CheckId::HttpHstsMissing, CheckId::HttpUnreachable]
        );
        assert_eq!(
            the(&obs, CheckId::HttpUnreachable).summary,
            "https://portal.acme.test/ redirects in a loop: https://portal.acme.test/a sends it back to https://portal.acme.test/, asked for before; the page and its headers could not be checked"
        );
    }

    /// `/` redirects to another site: no finding for that, no page-header
    /// finding, HSTS judged on the endpoint's own response, and a note for
    /// the run's error lines.
    #[test]
    fn another_site_is_noted_not_judged() {
        let other = |headers: &[(&str, &str)]| {
            let mut obs = obs_with(
                vec![response("https://portal.acme.test/", 302, headers)],
                Some(txt_response(GOOD_TXT, "text/plain")),
            );
            obs.page.redirects = vec![redirect(
                "https://portal.acme.test/",
                "https://login.other.test/",
            )];
            obs.page.failure = Some(FetchFailure {
                url: "https://portal.acme.test/".into(),
                kind: FailureKind::OtherSite,
                detail:
                    "https://portal.acme.test/ redirects to another site, https://login.other.test/"
                        .into(),
                address: None,
            });
            obs
        };
        let obs = other(&[]);
        assert_eq!(ids(&obs), vec![CheckId::HttpHstsMissing]);
        assert_eq!(
            not_judged(&obs).unwrap(),
            "page headers not checked: https://portal.acme.test/ redirects to another site, https://login.other.test/; list the endpoint it leads to in the registry to judge that page"
        );
        assert!(ids(&other(&[("strict-transport-security", "max-age=31536000")])).is_empty());
        assert!(not_judged(&good_obs()).is_none());
    }

    #[test]
    fn security_txt_expired_and_too_far_ahead() {
        let obs = txt_obs(txt_response(
            "Contact: mailto:s@acme.test\nExpires: 2026-11-25T00:00:00Z\n",
            "text/plain",
        ));
        let f = only(&obs, CheckId::SecuritytxtExpired);
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.summary.contains("3 days ago"), "{}", f.summary);

        let obs = txt_obs(txt_response(
            "Contact: mailto:s@acme.test\nExpires: 2028-01-01T00:00:00Z\n",
            "text/plain",
        ));
        let f = only(&obs, CheckId::SecuritytxtInvalid);
        assert_eq!(f.severity, Severity::Low);
        assert!(f.summary.contains("more than a year"), "{}", f.summary);

        // Just under a year ahead is fine.
        let obs = txt_obs(txt_response(
            "Contact: mailto:s@acme.test\nExpires: 2027-11-27T00:00:00Z\n",
            "text/plain",
        ));
        assert!(ids(&obs).is_empty());
    }

    #[test]
    fn security_txt_invalid_reasons() {
        for (body, content_type, needle) in [
            (
                "Expires: 2027-06-01T00:00:00Z\n",
                "text/plain",
                "no Contact",
            ),
            ("Contact: mailto:s@acme.test\n", "text/plain", "no Expires"),
            (GOOD_TXT, "text/html", "not text/plain"),
            (GOOD_TXT, "application/octet-stream", "not text/plain"),
            (
                "Contact: mailto:s@acme.test\nExpires: 2027-06-01T00:00:00Z\nrubbish\n",
                "text/plain",
                "neither a field",
            ),
        ] {
            let obs = txt_obs(txt_response(body, content_type));
            let f = only(&obs, CheckId::SecuritytxtInvalid);
            let problems = f.evidence["problems"].to_string();
            assert!(
                problems.contains(needle),
                "{body:?} {content_type}: {problems}"
            );
        }
        let mut r = txt_response(GOOD_TXT, "text/plain");
        r.truncated = true;
        r.body_utf8 = false;
        let f = only(&txt_obs(r), CheckId::SecuritytxtInvalid);
        assert!(f.summary.contains("and 1 more"), "{}", f.summary);
        let mut r = txt_response(GOOD_TXT, "text/plain");
        r.url = "http://portal.acme.test/.well-known/security.txt".into();
        assert!(
            only(&txt_obs(r), CheckId::SecuritytxtInvalid)
                .summary
                .contains("plain HTTP")
        );
    }

    #[test]
    fn signed_security_txt_is_accepted() {
        let body = format!(
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n{GOOD_TXT}-----BEGIN PGP SIGNATURE-----\n\nabc=\n-----END PGP SIGNATURE-----\n"
        );
        assert!(ids(&txt_obs(txt_response(&body, "text/plain"))).is_empty());
    }

    #[test]
    fn no_security_txt_fetch_no_security_txt_finding() {
        let mut obs = good_obs();
        obs.security_txt = None;
        assert!(ids(&obs).is_empty());
    }
}
