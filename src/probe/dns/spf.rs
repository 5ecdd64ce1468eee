//! SPF (RFC 7208): a strict parser of one `v=spf1` record, and an audit
//! evaluation that walks `include` and `redirect` the way `check_host()`
//! would for a sender that matches nothing — so every term a receiver may
//! have to evaluate is visited — counting the DNS lookup limits of section
//! 4.6.4 exactly: `include`, `a`, `mx`, `ptr`, `exists` and `redirect` count
//! one each (10 are allowed, the 11th is a permerror and evaluation stops
//! there); more than two void lookups is a permerror; an `mx` with more
//! than 10 MX records is a permerror. Lookups are judged as a receiver
//! whose SMTP client connects over IPv4 sees them (the common case): `a`
//! asks for A records, `mx` for the A records of each exchange, and a term
//! whose queries found no address is a void lookup (RFC 7208 4.6.4).
//!
//! The parser is a pure function over untrusted text. The evaluation asks
//! DNS through the small [`SpfDns`] trait, so it is tested without a
//! network; it must not depend on hickory or on the rest of the crate
//! beyond [`LookupFailure`].

use std::fmt;
use std::future::Future;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::probe::resolve::LookupFailure;

/// The longest record text the parser accepts; DNS allows 64 KiB, real
/// records stay far below 1 KiB.
pub const MAX_SPF_LEN: usize = 4096;
/// RFC 7208 4.6.4: terms that cause DNS lookups, at most 10.
pub const LOOKUP_LIMIT: u32 = 10;
/// RFC 7208 4.6.4: void lookups (NXDOMAIN or an empty answer), at most 2.
pub const VOID_LOOKUP_LIMIT: u32 = 2;
/// RFC 7208 4.6.4: MX records one `mx` mechanism may look at.
pub const MX_LIMIT: usize = 10;
/// Records visited and terms listed in the evaluation's evidence.
const MAX_VISITS: usize = 32;
/// Nested includes; the lookup limit stops far earlier, this is a backstop.
pub const MAX_DEPTH: usize = 12;
/// The longest expanded domain (RFC 7208 7.3 truncates to 253).
const MAX_DOMAIN_LEN: usize = 253;

/// A directive's qualifier: what a match means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Qualifier {
    /// `+` (also no qualifier).
    Pass,
    /// `-`.
    Fail,
    /// `~`.
    SoftFail,
    /// `?`.
    Neutral,
}

impl Qualifier {
    /// The qualifier as written.
    #[must_use]
    pub fn symbol(self) -> char {
        match self {
            Self::Pass => '+',
            Self::Fail => '-',
            Self::SoftFail => '~',
            Self::Neutral => '?',
        }
    }
}

/// A mechanism; domain-specs are kept as written (macros unexpanded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    All,
    Include(String),
    A(Option<String>),
    Mx(Option<String>),
    Ptr(Option<String>),
    Ip4(String),
    Ip6(String),
    Exists(String),
}

impl Mechanism {
    /// Whether evaluating it costs a DNS lookup (RFC 7208 4.6.4).
    #[must_use]
    pub fn counts_as_lookup(&self) -> bool {
        matches!(
            self,
            Self::Include(_) | Self::A(_) | Self::Mx(_) | Self::Ptr(_) | Self::Exists(_)
        )
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let with = |f: &mut fmt::Formatter<'_>, name: &str, spec: &Option<String>| match spec {
            Some(spec) => write!(f, "{name}:{spec}"),
            None => f.write_str(name),
        };
        match self {
            Self::All => f.write_str("all"),
            Self::Include(d) => write!(f, "include:{d}"),
            Self::A(d) => with(f, "a", d),
            Self::Mx(d) => with(f, "mx", d),
            Self::Ptr(d) => with(f, "ptr", d),
            Self::Ip4(n) => write!(f, "ip4:{n}"),
            Self::Ip6(n) => write!(f, "ip6:{n}"),
            Self::Exists(d) => write!(f, "exists:{d}"),
        }
    }
}

/// A qualified mechanism.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub qualifier: Qualifier,
    pub mechanism: Mechanism,
}

impl fmt::Display for Directive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.qualifier != Qualifier::Pass {
            write!(f, "{}", self.qualifier.symbol())?;
        }
        write!(f, "{}", self.mechanism)
    }
}

/// One parsed `v=spf1` record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpfRecord {
    /// The directives, in order.
    pub directives: Vec<Directive>,
    /// `redirect=`, at most one.
    pub redirect: Option<String>,
    /// `exp=`, at most one.
    pub explanation: Option<String>,
    /// Names of modifiers RFC 7208 does not define (ignored, as it says).
    pub unknown_modifiers: Vec<String>,
}

impl SpfRecord {
    /// The qualifier of the first `all`, the one evaluation reaches.
    #[must_use]
    pub fn all(&self) -> Option<Qualifier> {
        self.directives
            .iter()
            .find(|d| d.mechanism == Mechanism::All)
            .map(|d| d.qualifier)
    }
}

/// Where in a record the parser gave up: the term at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyntaxAt {
    /// The term as written, raw (up to 80 bytes, `…` when cut): it may hold
    /// control or bidi characters, so escape it before showing it.
    pub term: String,
    /// Where the term starts, in characters from the start of the record
    /// (0-based; `v=spf1` is at 0).
    pub position: usize,
}

/// Why a record is not valid SPF (a permerror): what is wrong and, when one
/// term is at fault, which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct SpfSyntaxError {
    /// What is wrong, without the term (e.g. `unknown mechanism`).
    pub detail: String,
    /// The term at fault; `None` for the record as a whole (too long, no
    /// `v=spf1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<SyntaxAt>,
}

impl fmt::Display for SpfSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            // Debug-quoted: the term is untrusted text.
            Some(at) => write!(
                f,
                "{:?} (at character {}): {}",
                at.term, at.position, self.detail
            ),
            None => f.write_str(&self.detail),
        }
    }
}

fn syntax<T>(why: impl Into<String>) -> Result<T, SpfSyntaxError> {
    Err(SpfSyntaxError {
        detail: why.into(),
        at: None,
    })
}

/// Whether a TXT record is an SPF record: `v=spf1` (any case) followed by
/// a space or the end (RFC 7208 4.5; `v=spf10` is not one).
#[must_use]
pub fn is_spf_record(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes
        .get(..6)
        .is_some_and(|v| v.eq_ignore_ascii_case(b"v=spf1"))
        && matches!(bytes.get(6), None | Some(b' '))
}

/// Parses one SPF record.
///
/// # Errors
/// [`SpfSyntaxError`] for anything RFC 7208 makes a permerror: an unknown
/// mechanism, a malformed domain-spec, network or CIDR length, a repeated
/// `redirect` or `exp`, text that is not a `v=spf1` record, or a record
/// longer than [`MAX_SPF_LEN`].
pub fn parse_spf(text: &str) -> Result<SpfRecord, SpfSyntaxError> {
    if text.len() > MAX_SPF_LEN {
        return syntax(format!(
            "the record is {} bytes long, more than the {MAX_SPF_LEN} accepted",
            text.len()
        ));
    }
    if !is_spf_record(text) {
        return syntax("the record does not start with v=spf1");
    }
    let mut record = SpfRecord::default();
    // Terms are separated by one or more spaces, and only spaces: a tab or
    // a line break is part of a term and makes it invalid.
    let mut start = 6;
    for term in text.get(6..).unwrap_or("").split(' ') {
        let at = start;
        start += term.len() + 1;
        if term.is_empty() {
            continue;
        }
        parse_term(term, &mut record).map_err(|mut e| {
            e.at = Some(SyntaxAt {
                term: shorten(term),
                position: text.get(..at).map_or(at, |t| t.chars().count()),
            });
            e
        })?;
    }
    Ok(record)
}

/// Every character a valid term can hold is printable ASCII (RFC 7208
/// 12: `VCHAR`); name the first one that is not, so that a control or bidi
/// character is reported as what it is rather than as an unknown mechanism.
fn unprintable(term: &str) -> Option<String> {
    let c = term.chars().find(|c| !matches!(c, '\u{21}'..='\u{7e}'))?;
    let code = format!("U+{:04X}", u32::from(c));
    Some(if c.is_control() {
        format!("the term holds the control character {code}")
    } else {
        format!("the term holds the character {code}; terms are printable ASCII only")
    })
}

fn parse_term(term: &str, record: &mut SpfRecord) -> Result<(), SpfSyntaxError> {
    if let Some(why) = unprintable(term) {
        return syntax(why);
    }
    let first_special = term.find(['=', ':', '/']);
    if let Some(eq) = first_special.filter(|i| term.as_bytes().get(*i) == Some(&b'='))
        && let (Some(name), Some(value)) = (term.get(..eq), term.get(eq + 1..))
        && is_modifier_name(name)
    {
        return parse_modifier(&name.to_ascii_lowercase(), value, record);
    }
    let (qualifier, rest) = match term.as_bytes().first() {
        Some(b'+') => (Qualifier::Pass, term.get(1..).unwrap_or("")),
        Some(b'-') => (Qualifier::Fail, term.get(1..).unwrap_or("")),
        Some(b'~') => (Qualifier::SoftFail, term.get(1..).unwrap_or("")),
        Some(b'?') => (Qualifier::Neutral, term.get(1..).unwrap_or("")),
        _ => (Qualifier::Pass, term),
    };
    let split = rest.find([':', '/']).unwrap_or(rest.len());
    let (name, args) = (
        rest.get(..split).unwrap_or(""),
        rest.get(split..).unwrap_or(""),
    );
    let mechanism = match name.to_ascii_lowercase().as_str() {
        "all" => {
            if !args.is_empty() {
                return syntax("`all` takes no argument");
            }
            Mechanism::All
        }
        "include" => Mechanism::Include(required_domain(args)?),
        "exists" => Mechanism::Exists(required_domain(args)?),
        "a" => Mechanism::A(domain_and_cidr(args)?),
        "mx" => Mechanism::Mx(domain_and_cidr(args)?),
        "ptr" => Mechanism::Ptr(match args.strip_prefix(':') {
            Some(spec) => Some(domain_spec(spec)?),
            None if args.is_empty() => None,
            None => return syntax("`ptr` takes no CIDR length"),
        }),
        "ip4" => Mechanism::Ip4(network::<Ipv4Addr>(args, 32)?),
        "ip6" => Mechanism::Ip6(network::<Ipv6Addr>(args, 128)?),
        _ => return syntax("unknown mechanism"),
    };
    record.directives.push(Directive {
        qualifier,
        mechanism,
    });
    Ok(())
}

fn parse_modifier(name: &str, value: &str, record: &mut SpfRecord) -> Result<(), SpfSyntaxError> {
    match name {
        "redirect" => {
            if record.redirect.is_some() {
                return syntax("`redirect` appears more than once");
            }
            record.redirect = Some(domain_spec(value)?);
        }
        "exp" => {
            if record.explanation.is_some() {
                return syntax("`exp` appears more than once");
            }
            record.explanation = Some(domain_spec(value)?);
        }
        other => {
            // Unknown modifiers are ignored (RFC 7208 6); their value must
            // still be a macro-string (12).
            if !value.bytes().all(|b| (0x21..=0x7e).contains(&b))
                || macro_error(value, MacroPlace::Explanation).is_some()
            {
                return syntax(format!(
                    "the value of the modifier {} is not a macro-string",
                    shorten(other)
                ));
            }
            if record.unknown_modifiers.len() < 16 {
                record.unknown_modifiers.push(shorten(other));
            }
        }
    }
    Ok(())
}

/// `name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )`.
fn is_modifier_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn required_domain(args: &str) -> Result<String, SpfSyntaxError> {
    match args.strip_prefix(':') {
        Some(spec) => domain_spec(spec),
        None => syntax("a domain is required"),
    }
}

fn domain_and_cidr(args: &str) -> Result<Option<String>, SpfSyntaxError> {
    let (spec, cidr) = match args.find('/') {
        Some(i) => (args.get(..i).unwrap_or(""), args.get(i..).unwrap_or("")),
        None => (args, ""),
    };
    let domain = match spec.strip_prefix(':') {
        Some(spec) => Some(domain_spec(spec)?),
        None if spec.is_empty() => None,
        None => return syntax("malformed"),
    };
    // dual-cidr-length = [ "/" ip4-len ] [ "//" ip6-len ]
    if !cidr.is_empty() {
        let (v4, v6) = if let Some(v6) = cidr.strip_prefix("//") {
            (None, Some(v6))
        } else {
            let body = cidr.get(1..).unwrap_or("");
            match body.split_once("//") {
                Some((v4, v6)) => (Some(v4), Some(v6)),
                None => (Some(body), None),
            }
        };
        if v4.is_some_and(|l| !cidr_ok(l, 32)) || v6.is_some_and(|l| !cidr_ok(l, 128)) {
            return syntax("invalid CIDR length");
        }
    }
    Ok(domain)
}

fn cidr_ok(length: &str, max: u8) -> bool {
    !length.is_empty()
        && length.len() <= 3
        && !(length.len() > 1 && length.starts_with('0'))
        && length.bytes().all(|b| b.is_ascii_digit())
        && length.parse::<u8>().is_ok_and(|n| n <= max)
}

fn network<T: std::str::FromStr>(args: &str, max: u8) -> Result<String, SpfSyntaxError> {
    let Some(network) = args.strip_prefix(':') else {
        return syntax("an address is required");
    };
    let (address, length) = match network.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (network, None),
    };
    if address.parse::<T>().is_err() || length.is_some_and(|l| !cidr_ok(l, max)) {
        return syntax("invalid network");
    }
    Ok(network.to_owned())
}

/// Validates a domain-spec (RFC 7208 7.1): a macro-string that ends in a
/// macro or in `.toplabel`.
fn domain_spec(spec: &str) -> Result<String, SpfSyntaxError> {
    if spec.is_empty() {
        return syntax("the domain is empty");
    }
    if spec.len() > MAX_SPF_LEN {
        return syntax("the domain is too long");
    }
    if !spec.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return syntax("the domain has characters a domain-spec cannot carry");
    }
    if let Some(why) = macro_error(spec, MacroPlace::DomainSpec) {
        return syntax(why);
    }
    // domain-end = ( "." toplabel [ "." ] ) / macro-expand
    if ends_in_macro(spec) {
        return Ok(spec.to_owned());
    }
    let trimmed = spec.strip_suffix('.').unwrap_or(spec);
    let Some((_, toplabel)) = trimmed.rsplit_once('.') else {
        return syntax("the domain needs at least two labels");
    };
    if !is_toplabel(toplabel) {
        return syntax("the top-level label is malformed");
    }
    Ok(spec.to_owned())
}

/// Whether a well-formed macro-string's last token is a macro-expand
/// (`%{…}`, `%%`, `%_`, `%-`) rather than a literal: a literal `}` (as in
/// `example.com}`) is not a macro's end.
fn ends_in_macro(spec: &str) -> bool {
    let bytes = spec.as_bytes();
    let mut i = 0;
    let mut last_macro = false;
    while let Some(&b) = bytes.get(i) {
        if b != b'%' {
            last_macro = false;
            i += 1;
            continue;
        }
        last_macro = true;
        i += match bytes.get(i + 1) {
            Some(b'{') => bytes
                .get(i..)
                .and_then(|rest| rest.iter().position(|c| *c == b'}'))
                .map_or(bytes.len(), |close| close + 1),
            _ => 2,
        };
    }
    last_macro
}

/// `toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )`
fn is_toplabel(label: &str) -> bool {
    let bytes = label.as_bytes();
    if bytes.is_empty()
        || !bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
    {
        return false;
    }
    if bytes.contains(&b'-') {
        bytes.first().is_some_and(u8::is_ascii_alphanumeric)
            && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
    } else {
        bytes.iter().any(u8::is_ascii_alphabetic)
    }
}

/// Where a macro-string is: `c`, `r` and `t` are allowed only in the
/// explanation text (RFC 7208 7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MacroPlace {
    DomainSpec,
    Explanation,
}

/// RFC 7208 7.1: `macro-expand = ( "%{" macro-letter transformers
/// *delimiter "}" ) / "%%" / "%_" / "%-"`, `transformers = *DIGIT [ "r" ]`
/// — digits, then `r`, then delimiters, in that order; a digit count is
/// never zero (7.3).
fn macro_error(spec: &str, place: MacroPlace) -> Option<&'static str> {
    let mut bytes = spec.bytes().peekable();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            continue;
        }
        match bytes.next() {
            Some(b'%' | b'_' | b'-') => {}
            Some(b'{') => {
                let Some(letter) = bytes.next().map(|l| l.to_ascii_lowercase()) else {
                    return Some("a macro is not closed");
                };
                if !b"slodiphcrtv".contains(&letter) {
                    return Some("unknown macro letter");
                }
                if place == MacroPlace::DomainSpec && b"crt".contains(&letter) {
                    return Some("the macro letters c, r and t are allowed only in exp text");
                }
                let mut digits = String::new();
                while let Some(d) = bytes.next_if(u8::is_ascii_digit) {
                    digits.push(char::from(d));
                }
                if !digits.is_empty() && digits.trim_start_matches('0').is_empty() {
                    return Some("a macro's digit transformer is zero");
                }
                let _ = bytes.next_if(|b| matches!(b, b'r' | b'R'));
                while bytes.next_if(|b| b".-+,/_=".contains(b)).is_some() {}
                if bytes.next() != Some(b'}') {
                    return Some(
                        "malformed macro: transformers are digits, then r, then delimiters",
                    );
                }
            }
            _ => return Some("a % must start a macro, or be written %%"),
        }
    }
    None
}

/// Expands what can be expanded without a message: `%{d}` (the current
/// domain) and `%{o}` (the sender's domain, which stays the audited
/// domain inside includes and redirects, RFC 7208 7.3), with transformers,
/// and `%%`, `%_`, `%-`. `None` when the spec needs the sender's local
/// part, address or the HELO (`%{l}`, `%{i}`, `%{s}` …).
#[must_use]
pub fn expand_static(spec: &str, domain: &str, sender_domain: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = spec.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '%' => out.push('%'),
            '_' => out.push(' '),
            '-' => out.push_str("%20"),
            '{' => {
                let body: String = chars.by_ref().take_while(|c| *c != '}').collect();
                let mut body_chars = body.chars();
                let source = match body_chars.next()?.to_ascii_lowercase() {
                    'd' => domain,
                    'o' => sender_domain,
                    _ => return None,
                };
                let rest: String = body_chars.collect();
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                let after = rest.get(digits.len()..).unwrap_or("");
                let reverse = after.starts_with(['r', 'R']);
                let delimiters: Vec<char> = after.chars().skip(usize::from(reverse)).collect();
                let delimiters = if delimiters.is_empty() {
                    vec!['.']
                } else {
                    delimiters
                };
                let mut parts: Vec<&str> = source.split(|c| delimiters.contains(&c)).collect();
                if reverse {
                    parts.reverse();
                }
                if !digits.is_empty() {
                    let keep: usize = digits.parse().ok()?;
                    if keep == 0 {
                        return None;
                    }
                    let skip = parts.len().saturating_sub(keep);
                    parts.drain(..skip);
                }
                out.push_str(&parts.join("."));
            }
            _ => return None,
        }
        if out.len() > MAX_SPF_LEN {
            return None;
        }
    }
    // RFC 7208 7.3: left-hand labels are dropped until the name fits.
    let mut name = out.trim_end_matches('.').to_owned();
    while name.len() > MAX_DOMAIN_LEN {
        name = name.split_once('.')?.1.to_owned();
    }
    Some(name)
}

fn shorten(text: &str) -> String {
    const MAX: usize = 80;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", text.get(..end).unwrap_or(""))
}

/// What the evaluation asks DNS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountedType {
    A,
}

/// The DNS the evaluation needs; implemented over the probe's resolver and,
/// in tests, over a map.
pub trait SpfDns: Sync {
    /// The TXT records at `name`, the strings of each joined without a
    /// separator (RFC 7208 3.3) and decoded lossily.
    fn txt(&self, name: &str) -> impl Future<Output = Result<Vec<String>, LookupFailure>> + Send;
    /// How many records of `kind` `name` has; `Err(NoRecords)` or
    /// `Err(NxDomain)` when none.
    fn count(
        &self,
        name: &str,
        kind: CountedType,
    ) -> impl Future<Output = Result<usize, LookupFailure>> + Send;
    /// The exchange names of the MX records at `name`, lower case without
    /// the final dot (`.` for a null MX); `Err(NoRecords)` or
    /// `Err(NxDomain)` when none.
    fn mx_exchanges(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<String>, LookupFailure>> + Send;
}

/// How a record was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    Top,
    Include,
    Redirect,
}

/// One record the evaluation read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpfVisit {
    pub domain: String,
    pub via: Via,
    /// Include nesting depth, 0 for the domain's own record.
    pub depth: u8,
    /// The record, shortened for evidence.
    pub record: String,
}

/// Why the evaluation is a permerror.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SpfProblem {
    /// The 11th lookup-causing term, `term` in the record of `domain`.
    TooManyLookups { term: String, domain: String },
    /// The third void lookup, caused by `term` in the record of `domain`.
    TooManyVoidLookups { term: String, domain: String },
    /// An `mx` mechanism met more than 10 MX records at `target`.
    TooManyMxRecords {
        term: String,
        target: String,
        count: usize,
    },
    /// `include`/`redirect` came back to a domain already being evaluated.
    Loop { chain: Vec<String> },
    /// The record of `domain`, an `include` or `redirect` target named in
    /// the record of `from`, is not valid SPF. (The domain's own record is
    /// parsed before evaluation: [`crate::probe::dns::SpfFacts`] keeps that
    /// error.)
    Syntax {
        domain: String,
        via: Via,
        from: String,
        detail: String,
        /// The term at fault, when one is.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<SyntaxAt>,
    },
    /// An `include` or `redirect` target, named in the record of `from`,
    /// publishes no SPF record (RFC 7208 5.2, 6.1).
    NoSpfRecord {
        domain: String,
        via: Via,
        from: String,
    },
    /// An `include` or `redirect` target, named in the record of `from`,
    /// publishes more than one (RFC 7208 4.5).
    MultipleRecords {
        domain: String,
        via: Via,
        from: String,
        count: usize,
    },
    /// Includes nested more than [`MAX_DEPTH`] deep, at `domain`; each
    /// include costs a lookup, so the lookup limit stops any evaluation
    /// earlier: a backstop.
    TooDeep { domain: String },
}

/// How the evaluation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SpfResult {
    /// Every term was visited within the limits.
    Completed,
    PermError {
        problem: SpfProblem,
    },
    /// A lookup failed (SERVFAIL, timeout): the rest is unknown.
    TempError {
        domain: String,
        term: String,
        failure: LookupFailure,
    },
}

/// What the domain's policy ends in, after following `redirect`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FinalAll {
    /// An `all` with this qualifier, in the record of `domain`.
    All {
        qualifier: Qualifier,
        domain: String,
    },
    /// No `all` and no `redirect` in the record of `domain`: the result for
    /// everyone else is neutral.
    Missing { domain: String },
    /// The evaluation stopped before it got there.
    Unknown,
}

/// The audit of one domain's SPF policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpfEvaluation {
    /// Lookup-causing terms counted (RFC 7208 4.6.4), up to the 11th.
    pub lookups: u32,
    /// Lookups that found nothing (NXDOMAIN or an empty answer).
    pub void_lookups: u32,
    /// The `a`, `mx` and `exists` terms whose lookups found no address,
    /// each `term (in domain)`.
    #[serde(default)]
    pub void_terms: Vec<String>,
    /// The counted terms in evaluation order, each `term (in domain)`.
    pub lookup_terms: Vec<String>,
    /// Terms counted but not looked up: their macros need the sender.
    pub unexpanded: Vec<String>,
    /// The records read, in order.
    pub records: Vec<SpfVisit>,
    pub result: SpfResult,
    pub final_all: FinalAll,
    /// `include` targets whose own policy ends in `+all`, which makes the
    /// include match every sender.
    pub permissive_includes: Vec<String>,
}

struct Frame {
    domain: String,
    record: SpfRecord,
    next: usize,
    all: Option<Qualifier>,
    /// This record decides the domain's own final result (top or reached
    /// from it by redirect).
    top_chain: bool,
    /// The include (qualifier, target) this frame evaluates, kept across
    /// redirects.
    include: Option<(Qualifier, String)>,
    /// Domains of this frame's redirect chain, for loop detection.
    chain: Vec<String>,
}

/// Control flow of one evaluation step.
enum Step {
    Continue,
    Stop(SpfResult),
}

struct Evaluator<'d, D: SpfDns> {
    dns: &'d D,
    /// The audited domain: the sender's domain, `%{o}`, throughout.
    sender: String,
    eval: SpfEvaluation,
    stack: Vec<Frame>,
}

/// Audits the SPF policy of `domain`, whose one SPF record is `record`
/// (already looked up; that lookup is not counted, as in RFC 7208).
pub async fn evaluate<D: SpfDns>(
    dns: &D,
    domain: &str,
    text: &str,
    record: SpfRecord,
) -> SpfEvaluation {
    let mut ev = Evaluator {
        dns,
        sender: domain.to_owned(),
        eval: SpfEvaluation {
            lookups: 0,
            void_lookups: 0,
            void_terms: Vec::new(),
            lookup_terms: Vec::new(),
            unexpanded: Vec::new(),
            records: Vec::new(),
            result: SpfResult::Completed,
            // Known from the record itself unless a redirect decides it;
            // so a record that breaks a limit still shows how it ends.
            final_all: match (record.all(), &record.redirect) {
                (Some(qualifier), _) => FinalAll::All {
                    qualifier,
                    domain: domain.to_owned(),
                },
                (None, None) => FinalAll::Missing {
                    domain: domain.to_owned(),
                },
                (None, Some(_)) => FinalAll::Unknown,
            },
            permissive_includes: Vec::new(),
        },
        stack: Vec::new(),
    };
    ev.visit(domain, Via::Top, text);
    ev.stack.push(Frame {
        domain: domain.to_owned(),
        record,
        next: 0,
        all: None,
        top_chain: true,
        include: None,
        chain: vec![domain.to_owned()],
    });
    let result = loop {
        match ev.step().await {
            Some(Step::Continue) => {}
            Some(Step::Stop(result)) => break result,
            None => break SpfResult::Completed,
        }
    };
    ev.eval.result = result;
    ev.eval
}

impl<D: SpfDns> Evaluator<'_, D> {
    fn visit(&mut self, domain: &str, via: Via, text: &str) {
        if self.eval.records.len() < MAX_VISITS {
            // Called before an include is pushed and before a redirect
            // replaces the current record.
            let depth = match via {
                Via::Top => 0,
                Via::Include => self.stack.len(),
                Via::Redirect => self.stack.len().saturating_sub(1),
            };
            let depth = u8::try_from(depth).unwrap_or(u8::MAX);
            self.eval.records.push(SpfVisit {
                domain: domain.to_owned(),
                via,
                depth,
                record: shorten_record(text),
            });
        }
    }

    /// Counts one lookup-causing term; `Some` when that breaks the limit.
    fn count(&mut self, term: &str, domain: &str) -> Option<Step> {
        self.eval.lookups = self.eval.lookups.saturating_add(1);
        if self.eval.lookup_terms.len() < MAX_VISITS {
            self.eval.lookup_terms.push(format!("{term} (in {domain})"));
        }
        (self.eval.lookups > LOOKUP_LIMIT).then(|| {
            Step::Stop(SpfResult::PermError {
                problem: SpfProblem::TooManyLookups {
                    term: term.to_owned(),
                    domain: domain.to_owned(),
                },
            })
        })
    }

    /// Counts one void lookup; `Some` when that breaks the limit.
    fn void(&mut self, term: &str, domain: &str) -> Option<Step> {
        self.eval.void_lookups = self.eval.void_lookups.saturating_add(1);
        (self.eval.void_lookups > VOID_LOOKUP_LIMIT).then(|| {
            Step::Stop(SpfResult::PermError {
                problem: SpfProblem::TooManyVoidLookups {
                    term: term.to_owned(),
                    domain: domain.to_owned(),
                },
            })
        })
    }

    fn unexpanded(&mut self, term: &str, domain: &str) {
        if self.eval.unexpanded.len() < MAX_VISITS {
            self.eval.unexpanded.push(format!("{term} (in {domain})"));
        }
    }

    async fn step(&mut self) -> Option<Step> {
        let sender = self.sender.clone();
        let frame = self.stack.last_mut()?;
        let Some(directive) = frame.record.directives.get(frame.next).cloned() else {
            return Some(self.finish_frame().await);
        };
        frame.next += 1;
        let domain = frame.domain.clone();
        let term = directive.to_string();
        let target = |spec: &Option<String>| match spec {
            Some(spec) => expand_static(spec, &domain, &sender),
            None => Some(domain.clone()),
        };
        match &directive.mechanism {
            Mechanism::All => {
                // Evaluation never gets past `all`, and it voids `redirect`.
                frame.all = Some(directive.qualifier);
                frame.next = frame.record.directives.len();
                Some(Step::Continue)
            }
            Mechanism::Ip4(_) | Mechanism::Ip6(_) => Some(Step::Continue),
            Mechanism::Ptr(_) => {
                // Counted; its lookups need the sender's address.
                if let Some(stop) = self.count(&term, &domain) {
                    return Some(stop);
                }
                self.unexpanded(&term, &domain);
                Some(Step::Continue)
            }
            Mechanism::Include(spec) => {
                if let Some(stop) = self.count(&term, &domain) {
                    return Some(stop);
                }
                let Some(target) = expand_static(spec, &domain, &sender) else {
                    self.unexpanded(&term, &domain);
                    return Some(Step::Continue);
                };
                Some(
                    self.enter(
                        &term,
                        &domain,
                        &target,
                        Via::Include,
                        Some(directive.qualifier),
                    )
                    .await,
                )
            }
            Mechanism::A(_) | Mechanism::Mx(_) | Mechanism::Exists(_) => {
                if let Some(stop) = self.count(&term, &domain) {
                    return Some(stop);
                }
                let name = match &directive.mechanism {
                    Mechanism::A(spec) | Mechanism::Mx(spec) => target(spec),
                    Mechanism::Exists(spec) => expand_static(spec, &domain, &sender),
                    _ => None,
                };
                let Some(name) = name else {
                    self.unexpanded(&term, &domain);
                    return Some(Step::Continue);
                };
                Some(
                    self.address_term(&directive.mechanism, &term, &domain, &name)
                        .await,
                )
            }
        }
    }

    /// `a`, `mx` and `exists`, as a receiver whose client connects over
    /// IPv4 evaluates them: `a` and `exists` ask for A records, `mx` for the
    /// MX records and then each exchange's A records (at most 10, RFC 7208
    /// 4.6.4). A term whose queries found no address is void — an `a` whose
    /// name has only AAAA records too, for such a receiver.
    async fn address_term(
        &mut self,
        mechanism: &Mechanism,
        term: &str,
        domain: &str,
        name: &str,
    ) -> Step {
        let temp = |failure: LookupFailure| {
            Step::Stop(SpfResult::TempError {
                domain: domain.to_owned(),
                term: term.to_owned(),
                failure,
            })
        };
        let found = match mechanism {
            Mechanism::Mx(_) => {
                let exchanges = match self.dns.mx_exchanges(name).await {
                    Ok(hosts) if hosts.len() > MX_LIMIT => {
                        return Step::Stop(SpfResult::PermError {
                            problem: SpfProblem::TooManyMxRecords {
                                term: term.to_owned(),
                                target: name.to_owned(),
                                count: hosts.len(),
                            },
                        });
                    }
                    Ok(hosts) => hosts,
                    Err(f) if absent(&f) => Vec::new(),
                    Err(f) => return temp(f),
                };
                let mut addresses = 0;
                // A null MX (RFC 7505, exchange ".") has no address to ask for.
                for host in exchanges.iter().filter(|h| !h.is_empty() && *h != ".") {
                    match self.dns.count(host, CountedType::A).await {
                        Ok(n) => addresses += n,
                        Err(f) if absent(&f) => {}
                        Err(f) => return temp(f),
                    }
                }
                addresses
            }
            _ => match self.dns.count(name, CountedType::A).await {
                Ok(n) => n,
                Err(f) if absent(&f) => 0,
                Err(f) => return temp(f),
            },
        };
        if found == 0 {
            if self.eval.void_terms.len() < MAX_VISITS {
                self.eval.void_terms.push(format!("{term} (in {domain})"));
            }
            if let Some(stop) = self.void(term, domain) {
                return stop;
            }
        }
        Step::Continue
    }

    /// Reads the record of an `include` or `redirect` target and pushes it.
    async fn enter(
        &mut self,
        term: &str,
        domain: &str,
        target: &str,
        via: Via,
        include_qualifier: Option<Qualifier>,
    ) -> Step {
        let perm = |problem| Step::Stop(SpfResult::PermError { problem });
        let target = target.trim_end_matches('.').to_ascii_lowercase();
        if let Some(start) = self
            .stack
            .iter()
            .flat_map(|f| f.chain.iter())
            .position(|d| *d == target)
        {
            let mut chain: Vec<String> = self
                .stack
                .iter()
                .flat_map(|f| f.chain.iter().cloned())
                .skip(start)
                .collect();
            chain.push(target);
            return perm(SpfProblem::Loop { chain });
        }
        if self.stack.len() >= MAX_DEPTH {
            return perm(SpfProblem::TooDeep { domain: target });
        }
        let texts = match self.dns.txt(&target).await {
            Ok(texts) => texts,
            Err(f) if absent(&f) => {
                if let Some(stop) = self.void(term, domain) {
                    return stop;
                }
                return perm(SpfProblem::NoSpfRecord {
                    domain: target,
                    via,
                    from: domain.to_owned(),
                });
            }
            Err(failure) => {
                return Step::Stop(SpfResult::TempError {
                    domain: domain.to_owned(),
                    term: term.to_owned(),
                    failure,
                });
            }
        };
        let spf: Vec<&String> = texts.iter().filter(|t| is_spf_record(t)).collect();
        let text = match spf.as_slice() {
            [] => {
                return perm(SpfProblem::NoSpfRecord {
                    domain: target,
                    via,
                    from: domain.to_owned(),
                });
            }
            [one] => (*one).clone(),
            many => {
                return perm(SpfProblem::MultipleRecords {
                    domain: target,
                    via,
                    from: domain.to_owned(),
                    count: many.len(),
                });
            }
        };
        self.visit(&target, via, &text);
        let record = match parse_spf(&text) {
            Ok(record) => record,
            Err(e) => {
                return perm(SpfProblem::Syntax {
                    domain: target,
                    via,
                    from: domain.to_owned(),
                    detail: e.detail,
                    at: e.at,
                });
            }
        };
        match via {
            Via::Redirect => {
                // The redirect replaces the record being evaluated.
                if let Some(frame) = self.stack.last_mut() {
                    frame.domain.clone_from(&target);
                    frame.chain.push(target);
                    frame.record = record;
                    frame.next = 0;
                    frame.all = None;
                }
            }
            Via::Include | Via::Top => self.stack.push(Frame {
                domain: target.clone(),
                record,
                next: 0,
                all: None,
                top_chain: false,
                include: include_qualifier.map(|q| (q, target.clone())),
                chain: vec![target],
            }),
        }
        Step::Continue
    }

    /// All directives done: follow `redirect` (when there was no `all`), or
    /// settle the record's outcome and pop it.
    async fn finish_frame(&mut self) -> Step {
        let Some(frame) = self.stack.last() else {
            return Step::Stop(SpfResult::Completed);
        };
        if frame.all.is_none()
            && let Some(spec) = frame.record.redirect.clone()
        {
            let domain = frame.domain.clone();
            let term = format!("redirect={spec}");
            if let Some(stop) = self.count(&term, &domain) {
                return stop;
            }
            let Some(target) = expand_static(&spec, &domain, &self.sender) else {
                self.unexpanded(&term, &domain);
                // Where the redirect leads is unknown, and so is the result
                // (`final_all` stays as it was: unknown for a redirect).
                self.stack.pop();
                return Step::Continue;
            };
            // Taken once: `enter` either replaces this record or stops.
            if let Some(frame) = self.stack.last_mut() {
                frame.record.redirect = None;
            }
            return self
                .enter(&term, &domain, &target, Via::Redirect, None)
                .await;
        }
        let Some(frame) = self.stack.pop() else {
            return Step::Stop(SpfResult::Completed);
        };
        if frame.top_chain {
            self.eval.final_all = match frame.all {
                Some(qualifier) => FinalAll::All {
                    qualifier,
                    domain: frame.domain.clone(),
                },
                None => FinalAll::Missing {
                    domain: frame.domain.clone(),
                },
            };
        }
        if let Some((Qualifier::Pass, target)) = &frame.include
            && frame.all == Some(Qualifier::Pass)
            && self.eval.permissive_includes.len() < MAX_VISITS
        {
            self.eval.permissive_includes.push(target.clone());
        }
        if self.stack.is_empty() {
            Step::Stop(SpfResult::Completed)
        } else {
            Step::Continue
        }
    }
}

fn absent(failure: &LookupFailure) -> bool {
    matches!(failure, LookupFailure::NoRecords | LookupFailure::NxDomain)
}

fn shorten_record(text: &str) -> String {
    const MAX: usize = 1024;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", text.get(..end).unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};
    use std::fmt::Write as _;

    use proptest::prelude::*;

    use super::*;

    /// DNS from maps: TXT texts, record counts, and names that SERVFAIL.
    #[derive(Default)]
    struct FakeDns {
        txt: HashMap<String, Vec<String>>,
        counts: HashMap<(String, &'static str), usize>,
        /// MX exchanges by name; without an entry, a count of MX records
        /// stands for that many exchanges `mxN.<name>` with no address.
        exchanges: HashMap<String, Vec<String>>,
        servfail: HashSet<String>,
        queries: std::sync::Mutex<Vec<String>>,
    }

    impl FakeDns {
        fn spf(mut self, name: &str, record: &str) -> Self {
            self.txt
                .entry(name.to_owned())
                .or_default()
                .push(record.to_owned());
            self
        }
        fn with(mut self, name: &str, kind: &'static str, n: usize) -> Self {
            self.counts.insert((name.to_owned(), kind), n);
            self
        }
        fn exchanges(mut self, name: &str, hosts: &[&str]) -> Self {
            self.exchanges.insert(
                name.to_owned(),
                hosts.iter().map(|h| (*h).to_owned()).collect(),
            );
            self
        }
        fn failing(mut self, name: &str) -> Self {
            self.servfail.insert(name.to_owned());
            self
        }
        fn queried(&self) -> Vec<String> {
            self.queries.lock().unwrap().clone()
        }
    }

    fn kind_name(kind: CountedType) -> &'static str {
        match kind {
            CountedType::A => "A",
        }
    }

    impl SpfDns for FakeDns {
        fn txt(
            &self,
            name: &str,
        ) -> impl Future<Output = Result<Vec<String>, LookupFailure>> + Send {
            self.queries.lock().unwrap().push(format!("TXT {name}"));
            let result = if self.servfail.contains(name) {
                Err(LookupFailure::ServFail)
            } else {
                self.txt.get(name).cloned().ok_or(LookupFailure::NxDomain)
            };
            std::future::ready(result)
        }
        fn count(
            &self,
            name: &str,
            kind: CountedType,
        ) -> impl Future<Output = Result<usize, LookupFailure>> + Send {
            self.queries
                .lock()
                .unwrap()
                .push(format!("{} {name}", kind_name(kind)));
            let result = if self.servfail.contains(name) {
                Err(LookupFailure::ServFail)
            } else {
                match self.counts.get(&(name.to_owned(), kind_name(kind))) {
                    Some(n) if *n > 0 => Ok(*n),
                    _ => Err(LookupFailure::NoRecords),
                }
            };
            std::future::ready(result)
        }
        fn mx_exchanges(
            &self,
            name: &str,
        ) -> impl Future<Output = Result<Vec<String>, LookupFailure>> + Send {
            self.queries.lock().unwrap().push(format!("MX {name}"));
            let result = if self.servfail.contains(name) {
                Err(LookupFailure::ServFail)
            } else if let Some(hosts) = self.exchanges.get(name) {
                Ok(hosts.clone())
            } else {
                match self.counts.get(&(name.to_owned(), "MX")) {
                    Some(n) if *n > 0 => Ok((0..*n).map(|i| format!("mx{i}.{name}")).collect()),
                    _ => Err(LookupFailure::NoRecords),
                }
            };
            std::future::ready(result)
        }
    }

    fn run(dns: &FakeDns, domain: &str) -> SpfEvaluation {
        let text = dns
            .txt
            .get(domain)
            .and_then(|t| t.first())
            .cloned()
            .unwrap();
        let record = parse_spf(&text).unwrap();
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(evaluate(dns, domain, &text, record))
    }

    #[test]
    fn parses_every_mechanism_and_qualifier() {
        let r = parse_spf(
            "v=spf1 +a -a:mail.example.com/24 ~mx:example.com//64 ?mx/24//64 ptr ptr:example.com \
             ip4:192.0.2.0/24 ip4:192.0.2.1 ip6:2001:db8::/32 exists:%{i}._spf.%{d} include:_spf.example.com \
             INCLUDE:Upper.Example.com -ALL redirect=_spf.example.net exp=explain.%{d} x-vendor=1",
        )
        .unwrap();
        let shown: Vec<String> = r.directives.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "a",
                "-a:mail.example.com",
                "~mx:example.com",
                "?mx",
                "ptr",
                "ptr:example.com",
                "ip4:192.0.2.0/24",
                "ip4:192.0.2.1",
                "ip6:2001:db8::/32",
                "exists:%{i}._spf.%{d}",
                "include:_spf.example.com",
                "include:Upper.Example.com",
                "-all",
            ]
        );
        assert_eq!(r.all(), Some(Qualifier::Fail));
        assert_eq!(r.redirect.as_deref(), Some("_spf.example.net"));
        assert_eq!(r.explanation.as_deref(), Some("explain.%{d}"));
        assert_eq!(r.unknown_modifiers, ["x-vendor"]);
        assert_eq!(parse_spf("V=SPF1").unwrap(), SpfRecord::default());
        assert_eq!(
            parse_spf("v=spf1   ~all  ").unwrap().all(),
            Some(Qualifier::SoftFail)
        );
    }

    #[test]
    fn refuses_what_rfc_7208_makes_a_permerror() {
        for text in [
            "v=spf1 foo -all",
            "v=spf1 all:example.com",
            "v=spf1 include",
            "v=spf1 include:",
            "v=spf1 include:localhost",
            "v=spf1 include:example.123",
            "v=spf1 ip4:300.1.1.1",
            "v=spf1 ip4:192.0.2.0/33",
            "v=spf1 ip6:2001:db8::/129",
            "v=spf1 ip6:192.0.2.1",
            "v=spf1 a/33",
            "v=spf1 a:example.com/024",
            "v=spf1 mx//129",
            "v=spf1 ptr/24",
            "v=spf1 redirect=a.example.com redirect=b.example.com",
            "v=spf1 exp=a.example.com exp=b.example.com",
            "v=spf1 exists:%{z}.example.com",
            "v=spf1 exists:%{i.example.com",
            "v=spf1 include:exa mple.com",
            "v=spf1 mx\r\n-all",
            "v=spf1\t-all",
            "v=spf1 -all\u{0}",
            "v=spf10 -all",
            "spf1 -all",
            "",
        ] {
            assert!(parse_spf(text).is_err(), "{text:?} should be refused");
        }
        let long = format!("v=spf1 {}-all", "ip4:192.0.2.1 ".repeat(400));
        assert!(
            parse_spf(&long)
                .unwrap_err()
                .to_string()
                .contains("bytes long")
        );
    }

    /// RFC 7208 §12's ABNF, clause by clause: each violation is a
    /// permerror at every receiver; each allowed form parses.
    #[test]
    fn the_whole_abnf_of_rfc_7208_section_12() {
        let refused = [
            // ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT): no leading
            // zero, no empty length, at most 32; ip6 at most 128.
            "v=spf1 ip4:192.0.2.0/",
            "v=spf1 ip4:192.0.2.0/08",
            "v=spf1 ip4:192.0.2.0/-1",
            "v=spf1 ip4:192.0.2.0/24/",
            "v=spf1 ip4:192.0.2.0//24",
            "v=spf1 ip6:2001:db8::/0128",
            "v=spf1 ip6:2001:db8::/64//64",
            "v=spf1 ip6:fe80::1%eth0",
            // qnum: no leading zeros in an ip4-network.
            "v=spf1 ip4:192.0.2.01",
            "v=spf1 ip4:192.0.2",
            // dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]
            "v=spf1 a/24/64",
            "v=spf1 a//",
            "v=spf1 mx/24//",
            "v=spf1 a:example.com/",
            "v=spf1 exists:example.com/24",
            "v=spf1 include:example.com/24",
            // domain-spec = macro-string domain-end;
            // domain-end = ( "." toplabel [ "." ] ) / macro-expand
            "v=spf1 a:example",
            "v=spf1 a:example.",
            "v=spf1 a:example.com..",
            "v=spf1 a:example.42",
            "v=spf1 a:example.-com",
            "v=spf1 a:example.com-",
            "v=spf1 a:example.c_m",
            "v=spf1 a:example.com}",
            "v=spf1 a:example.{com}",
            "v=spf1 redirect=",
            "v=spf1 redirect=example",
            "v=spf1 exp=",
            // macro-expand: letters, transformers, delimiters (§7.1, §7.3)
            "v=spf1 exists:%{}.example.com",
            "v=spf1 exists:%{x}.example.com",
            "v=spf1 exists:%{d0}.example.com",
            "v=spf1 exists:%{d00}.example.com",
            "v=spf1 exists:%{dr2}.example.com",
            "v=spf1 exists:%{d2r2}.example.com",
            "v=spf1 exists:%{d2rr}.example.com",
            "v=spf1 exists:%{d2r!}.example.com",
            "v=spf1 exists:%{d.2}.example.com",
            "v=spf1 exists:%x.example.com",
            "v=spf1 exists:example.com%",
            "v=spf1 exists:%{d",
            // c, r and t are for explanation text only.
            "v=spf1 exists:%{c}.example.com",
            "v=spf1 exists:%{r}.example.com",
            "v=spf1 include:%{t}.example.com",
            "v=spf1 redirect=%{c}.example.com",
            // modifier = redirect / explanation / unknown-modifier, each
            // `name "=" macro-string`; redirect and exp at most once (§6).
            "v=spf1 x-foo=%{z}",
            "v=spf1 x-foo=100%",
            "v=spf1 1x=foo",
            "v=spf1 -redirect=example.com",
            "v=spf1 =example.com",
            "v=spf1 REDIRECT=a.example.com redirect=b.example.com",
            "v=spf1 exp=a.example.com EXP=b.example.com",
            // A syntax error anywhere, even after `all`, voids the record
            // (§4.6): terms after a syntax error do not save it.
            "v=spf1 -all foo",
            "v=spf1 -all ip4:300.0.0.1",
            "v=spf1 include:_spf.example.com ~all a:example.42",
            "v=spf1 a:bad..example.42 -all ip4:192.0.2.1",
        ];
        for text in refused {
            assert!(parse_spf(text).is_err(), "{text:?} should be refused");
        }
        let accepted = [
            "v=spf1 ip4:192.0.2.0/0 ip4:192.0.2.0/9 ip4:192.0.2.0/32 -all",
            "v=spf1 ip6:::1 ip6:::ffff:192.0.2.1 ip6:2001:db8::/0 ip6:2001:db8::/128",
            "v=spf1 a a/24 a//64 a/24//64 a:example.com/24//64 mx:example.com//0",
            "v=spf1 a:example.com. a:ex-ample.co-m a:example.1-2 a:a.b.c.example.com",
            // domain-end may be a macro-expand: %{…}, %%, %_, %-.
            "v=spf1 exists:%{i}.%{l1r-}.%{d}",
            "v=spf1 exists:%{ir}.%{v}._spf.%{d2}",
            "v=spf1 exists:%{d10r.-+,/_=}",
            "v=spf1 exists:%{D}.%{O}.example.com",
            "v=spf1 exists:x.example.%%",
            "v=spf1 exists:x.example.%_",
            "v=spf1 exists:x.example.%-",
            // Unknown modifiers are macro-strings; c, r, t allowed there.
            "v=spf1 x-note=%{c}%{r}%{t} x.y_z-1=anything.%% -all",
            "v=spf1 redirect=_spf.example.com exp=explain.%{o}",
        ];
        for text in accepted {
            assert!(parse_spf(text).is_ok(), "{text:?}: {:?}", parse_spf(text));
        }
    }

    #[test]
    fn a_syntax_error_names_the_term_and_where_it_starts() {
        let at = |text: &str| {
            let e = parse_spf(text).unwrap_err();
            (e.detail.clone(), e.at.map(|a| (a.term, a.position)))
        };
        assert_eq!(
            at("v=spf1 foo:bar -all"),
            (
                "unknown mechanism".to_owned(),
                Some(("foo:bar".to_owned(), 7))
            )
        );
        assert_eq!(
            at("v=spf1  ip4:192.0.2.1   ip4:300.1.1.1 -all"),
            (
                "invalid network".to_owned(),
                Some(("ip4:300.1.1.1".to_owned(), 24))
            )
        );
        // Positions count characters, not bytes.
        assert_eq!(
            at("v=spf1 ip4:192.0.2.1 \u{202e}lla- -all").1,
            Some(("\u{202e}lla-".to_owned(), 21))
        );
        let (detail, _) = at("v=spf1 ip4:192.0.2.1 \u{202e}lla-");
        assert!(detail.contains("U+202E"), "{detail}");
        let (detail, term) = at("v=spf1 ip4:192.0.2.1\0 -all");
        assert!(detail.contains("control character U+0000"), "{detail}");
        assert_eq!(term, Some(("ip4:192.0.2.1\0".to_owned(), 7)));
        assert_eq!(
            at("v=spf1 redirect=a.example.com redirect=b.example.com"),
            (
                "`redirect` appears more than once".to_owned(),
                Some(("redirect=b.example.com".to_owned(), 30))
            )
        );
        // The record as a whole: no term.
        assert_eq!(at("spf1 -all").1, None);
        let e = parse_spf("v=spf1 foo -all").unwrap_err();
        assert_eq!(e.to_string(), "\"foo\" (at character 7): unknown mechanism");
        // A long term is cut for the evidence.
        let long = format!("v=spf1 {}", "x".repeat(300));
        let term = parse_spf(&long).unwrap_err().at.unwrap().term;
        assert!(term.ends_with('…') && term.len() < 100, "{term}");
    }

    #[test]
    fn tells_spf_records_from_others() {
        assert!(is_spf_record("v=spf1"));
        assert!(is_spf_record("V=Spf1 -all"));
        assert!(!is_spf_record("v=spf10"));
        assert!(!is_spf_record("google-site-verification=abc"));
        assert!(!is_spf_record(" v=spf1 -all"));
    }

    #[test]
    fn expands_what_needs_no_message() {
        assert_eq!(
            expand_static("_spf.%{d}", "example.com", "example.com").unwrap(),
            "_spf.example.com"
        );
        assert_eq!(
            expand_static("%{d2}", "a.b.example.com", "a.b.example.com").unwrap(),
            "example.com"
        );
        assert_eq!(
            expand_static("%{dr}", "a.example.com", "a.example.com").unwrap(),
            "com.example.a"
        );
        assert_eq!(
            expand_static("%{o1r}", "a.example.com", "a.example.com").unwrap(),
            "a"
        );
        assert_eq!(
            expand_static("x%%y.%{d}.", "example.com", "example.com").unwrap(),
            "x%y.example.com"
        );
        assert_eq!(
            expand_static("%{i}._spf.%{d}", "example.com", "example.com"),
            None
        );
        assert_eq!(expand_static("%{d0}", "example.com", "example.com"), None);
        let long = format!("{}.%{{d}}", "a".repeat(60));
        let deep = format!("{long}.{long}.{long}.{long}.{long}");
        assert!(
            expand_static(&deep, "example.com", "example.com")
                .unwrap()
                .len()
                <= MAX_DOMAIN_LEN
        );
    }

    /// `v=spf1 include:n1 ... include:nK -all` with empty records at each target.
    fn chain(count: usize) -> FakeDns {
        let includes: Vec<String> = (1..=count)
            .map(|i| format!("include:inc{i}.example.com"))
            .collect();
        let mut dns = FakeDns::default().spf(
            "example.com",
            &format!("v=spf1 {} -all", includes.join(" ")),
        );
        for i in 1..=count {
            dns = dns.spf(&format!("inc{i}.example.com"), "v=spf1 ip4:192.0.2.1 -all");
        }
        dns
    }

    #[test]
    fn ten_lookups_are_fine_and_the_eleventh_is_a_permerror() {
        let ten = run(&chain(10), "example.com");
        assert_eq!(ten.result, SpfResult::Completed);
        assert_eq!(ten.lookups, 10);
        assert_eq!(ten.records.len(), 11);

        let dns = chain(11);
        let eleven = run(&dns, "example.com");
        assert_eq!(eleven.lookups, 11);
        assert_eq!(
            eleven.result,
            SpfResult::PermError {
                problem: SpfProblem::TooManyLookups {
                    term: "include:inc11.example.com".to_owned(),
                    domain: "example.com".to_owned()
                }
            }
        );
        assert!(
            !dns.queried().contains(&"TXT inc11.example.com".to_owned()),
            "evaluation stops before the 11th lookup: {:?}",
            dns.queried()
        );
        assert_eq!(
            eleven.final_all,
            fail_at("example.com"),
            "the record's own all is still known"
        );
    }

    fn fail_at(domain: &str) -> FinalAll {
        FinalAll::All {
            qualifier: Qualifier::Fail,
            domain: domain.to_owned(),
        }
    }

    #[test]
    fn counts_exactly_the_terms_rfc_7208_counts() {
        // include 1 + (a, mx, ptr, exists inside) 4 + a 1 + mx 1 + redirect 1 = 8;
        // ip4, ip6, exp and the initial TXT lookup count nothing.
        let dns = FakeDns::default()
            .spf("example.com", "v=spf1 ip4:192.0.2.1 ip6:2001:db8::1 include:inc.example.com a mx exp=x.example.com redirect=r.example.com")
            .spf("inc.example.com", "v=spf1 a mx:example.com ptr exists:%{d} -all")
            .spf("r.example.com", "v=spf1 ip4:192.0.2.9 ~all")
            .with("example.com", "A", 1)
            .exchanges("example.com", &["mx1.example.com", "mx2.example.com"])
            .with("mx2.example.com", "A", 1)
            .with("inc.example.com", "A", 1);
        let eval = run(&dns, "example.com");
        assert_eq!(eval.result, SpfResult::Completed, "{eval:#?}");
        assert_eq!(eval.lookups, 7 + 1, "{:#?}", eval.lookup_terms);
        assert_eq!(eval.void_lookups, 0);
        assert_eq!(eval.unexpanded, ["ptr (in inc.example.com)"]);
        assert_eq!(
            eval.final_all,
            FinalAll::All {
                qualifier: Qualifier::SoftFail,
                domain: "r.example.com".to_owned()
            }
        );
    }

    #[test]
    fn nothing_after_all_is_evaluated_and_all_voids_redirect() {
        let dns = FakeDns::default()
            .spf(
                "example.com",
                "v=spf1 a -all include:never.example.com redirect=never.example.com",
            )
            .with("example.com", "A", 1);
        let eval = run(&dns, "example.com");
        assert_eq!(eval.lookups, 1);
        assert_eq!(eval.result, SpfResult::Completed);
        assert_eq!(eval.final_all, fail_at("example.com"));
    }

    #[test]
    fn void_lookups_two_are_fine_three_are_a_permerror() {
        let two = FakeDns::default().spf(
            "example.com",
            "v=spf1 a:gone1.example.com mx:gone2.example.com -all",
        );
        let eval = run(&two, "example.com");
        assert_eq!(
            (eval.void_lookups, &eval.result),
            (2, &SpfResult::Completed)
        );

        let three = FakeDns::default().spf(
            "example.com",
            "v=spf1 a:gone1.example.com mx:gone2.example.com exists:gone3.example.com -all",
        );
        let eval = run(&three, "example.com");
        assert_eq!(eval.void_lookups, 3);
        assert_eq!(
            eval.result,
            SpfResult::PermError {
                problem: SpfProblem::TooManyVoidLookups {
                    term: "exists:gone3.example.com".to_owned(),
                    domain: "example.com".to_owned()
                }
            }
        );
        // An `a` with A records is not void.
        let v4 = FakeDns::default()
            .spf("example.com", "v=spf1 a a a -all")
            .with("example.com", "A", 1);
        assert_eq!(run(&v4, "example.com").void_lookups, 0);
    }

    /// RFC 7208 4.6.4 as a receiver whose client connects over IPv4 sees it:
    /// `a` asks for A records only, so a name with only AAAA records is a
    /// void lookup; `mx` asks for each exchange's A records, so an MX whose
    /// exchanges have no address, or a null MX, is one void lookup.
    #[test]
    fn a_and_mx_terms_are_void_when_they_give_no_ipv4_address() {
        let v6_only = FakeDns::default()
            .spf("example.com", "v=spf1 a a a -all")
            .with("example.com", "AAAA", 1);
        let eval = run(&v6_only, "example.com");
        assert_eq!(eval.void_lookups, 3);
        assert!(matches!(
            eval.result,
            SpfResult::PermError {
                problem: SpfProblem::TooManyVoidLookups { .. }
            }
        ));
        assert_eq!(eval.void_terms.len(), 3, "{eval:#?}");

        let dangling_mx = FakeDns::default()
            .spf(
                "example.com",
                "v=spf1 mx mx:null.example.com mx:ok.example.com -all",
            )
            .exchanges("example.com", &["gone.example.com", "gone2.example.com"])
            .exchanges("null.example.com", &["."])
            .exchanges("ok.example.com", &["gone.example.com", "mail.example.com"])
            .with("mail.example.com", "A", 1);
        let eval = run(&dangling_mx, "example.com");
        assert_eq!(eval.result, SpfResult::Completed, "{eval:#?}");
        assert_eq!(eval.void_lookups, 2, "{eval:#?}");
        assert_eq!(
            eval.void_terms,
            [
                "mx (in example.com)",
                "mx:null.example.com (in example.com)"
            ]
        );
        assert!(
            dangling_mx
                .queried()
                .contains(&"A gone2.example.com".to_owned()),
            "every exchange's address is asked for: {:?}",
            dangling_mx.queried()
        );
    }

    /// RFC 7208 7.3: `%{o}` is the sender's domain — the audited domain —
    /// inside an include too, where `%{d}` is the include's.
    #[test]
    fn the_sender_domain_macro_stays_the_audited_domain_inside_includes() {
        let dns = FakeDns::default()
            .spf("example.com", "v=spf1 include:_spf.provider.test -all")
            .spf(
                "_spf.provider.test",
                "v=spf1 exists:%{o}.senders.provider.test exists:%{d}.self.provider.test ~all",
            )
            .with("example.com.senders.provider.test", "A", 1)
            .with("_spf.provider.test.self.provider.test", "A", 1);
        let eval = run(&dns, "example.com");
        assert_eq!(eval.void_lookups, 0, "{eval:#?}");
        let asked = dns.queried();
        assert!(
            asked.contains(&"A example.com.senders.provider.test".to_owned()),
            "{asked:?}"
        );
        assert!(
            asked.contains(&"A _spf.provider.test.self.provider.test".to_owned()),
            "{asked:?}"
        );
        assert_eq!(
            expand_static("%{o}.%{d}", "inc.example.net", "example.com").as_deref(),
            Some("example.com.inc.example.net")
        );
    }

    /// RFC 7208 12's grammar, clause by clause: each of these records is a
    /// permerror at every receiver.
    #[test]
    fn records_outside_the_abnf_are_syntax_errors() {
        let invalid = [
            // 5.6 ip4-cidr-length / ip6-cidr-length: no leading zero, in range.
            ("v=spf1 ip4:192.0.2.0/033 -all", "invalid network"),
            ("v=spf1 ip4:192.0.2.0/33 -all", "invalid network"),
            ("v=spf1 ip4:192.0.2.0/ -all", "invalid network"),
            ("v=spf1 ip6:2001:db8::/129 -all", "invalid network"),
            ("v=spf1 ip4:01.2.3.4 -all", "invalid network"),
            ("v=spf1 ip4:192.0.2.1/24/8 -all", "invalid network"),
            // dual-cidr-length: "/" ip4 then "//" ip6.
            ("v=spf1 a//129 -all", "invalid CIDR length"),
            ("v=spf1 a/24/64 -all", "invalid CIDR length"),
            ("v=spf1 mx/ -all", "invalid CIDR length"),
            ("v=spf1 ptr/24 -all", "`ptr` takes no CIDR length"),
            // 7.1 domain-end: "." toplabel, the top label not numeric nor empty.
            (
                "v=spf1 include:example.123 -all",
                "the top-level label is malformed",
            ),
            (
                "v=spf1 include:example..  -all",
                "the top-level label is malformed",
            ),
            (
                "v=spf1 include:localhost -all",
                "the domain needs at least two labels",
            ),
            (
                "v=spf1 include:example.-com -all",
                "the top-level label is malformed",
            ),
            ("v=spf1 include: -all", "the domain is empty"),
            // 7.1 macro-expand: letter, digits, r, delimiters, in that order.
            ("v=spf1 exists:%{d.2}.example.com -all", "malformed macro"),
            ("v=spf1 exists:%{d0}.example.com -all", "zero"),
            (
                "v=spf1 exists:%{x}.example.com -all",
                "unknown macro letter",
            ),
            ("v=spf1 exists:%{d.example.com -all", "malformed macro"),
            (
                "v=spf1 exists:%d.example.com -all",
                "a % must start a macro",
            ),
            (
                "v=spf1 exists:%{r}.example.com -all",
                "allowed only in exp text",
            ),
            (
                "v=spf1 exp=%{c}.example.com -all",
                "allowed only in exp text",
            ),
            // 6: redirect and exp at most once; unknown modifiers hold macro-strings.
            (
                "v=spf1 redirect=a.example.com redirect=b.example.com",
                "more than once",
            ),
            (
                "v=spf1 exp=a.example.com exp=b.example.com -all",
                "more than once",
            ),
            ("v=spf1 x-vendor=%z -all", "not a macro-string"),
            ("v=spf1 1x=y -all", "unknown mechanism"),
            // 4.6: the whole record is checked, terms after `all` too.
            ("v=spf1 -all foo:bar", "unknown mechanism"),
            ("v=spf1 -all ip4:300.1.1.1", "invalid network"),
        ];
        for (text, why) in invalid {
            let e = parse_spf(text).expect_err(text);
            assert!(e.detail.contains(why), "{text}: {e}");
        }
        let valid = [
            "v=spf1 ip4:192.0.2.0/0 ip6:::/0 a/32//128 mx//64 -all",
            "v=spf1 exists:%{ir}.%{v}._spf.%{d2} -all",
            "v=spf1 exists:%{l1r-}.example.com -all",
            "v=spf1 exists:%{d2r.-}.example.com -all",
            "v=spf1 include:example.com. -all",
            "v=spf1 include:example.co-op -all",
            "v=spf1 x-vendor=%{c}%{t} -all",
            "v=spf1 redirect=%{d}",
            "v=spf1",
        ];
        for text in valid {
            assert!(parse_spf(text).is_ok(), "{text}: {:?}", parse_spf(text));
        }
    }

    #[test]
    fn an_mx_with_more_than_ten_records_is_a_permerror() {
        let ten = FakeDns::default()
            .spf("example.com", "v=spf1 mx -all")
            .with("example.com", "MX", 10);
        assert_eq!(run(&ten, "example.com").result, SpfResult::Completed);
        let eleven = FakeDns::default()
            .spf("example.com", "v=spf1 mx -all")
            .with("example.com", "MX", 11);
        assert!(matches!(
            run(&eleven, "example.com").result,
            SpfResult::PermError {
                problem: SpfProblem::TooManyMxRecords { count: 11, .. }
            }
        ));
    }

    #[test]
    fn include_loops_are_caught() {
        let dns = FakeDns::default()
            .spf("example.com", "v=spf1 include:a.example.com -all")
            .spf("a.example.com", "v=spf1 include:b.example.com -all")
            .spf("b.example.com", "v=spf1 redirect=A.example.com.");
        let eval = run(&dns, "example.com");
        assert_eq!(
            eval.result,
            SpfResult::PermError {
                problem: SpfProblem::Loop {
                    chain: vec![
                        "a.example.com".to_owned(),
                        "b.example.com".to_owned(),
                        "a.example.com".to_owned()
                    ]
                }
            }
        );
        let selfish = FakeDns::default().spf("example.com", "v=spf1 redirect=example.com");
        assert!(matches!(
            run(&selfish, "example.com").result,
            SpfResult::PermError {
                problem: SpfProblem::Loop { .. }
            }
        ));
        // The same include twice, side by side, is no loop.
        let twice = FakeDns::default()
            .spf(
                "example.com",
                "v=spf1 include:a.example.com include:a.example.com -all",
            )
            .spf("a.example.com", "v=spf1 -all");
        assert_eq!(run(&twice, "example.com").result, SpfResult::Completed);
    }

    #[test]
    fn broken_targets_and_failing_lookups() {
        let none = FakeDns::default().spf("example.com", "v=spf1 include:gone.example.com -all");
        assert_eq!(
            run(&none, "example.com").result,
            SpfResult::PermError {
                problem: SpfProblem::NoSpfRecord {
                    domain: "gone.example.com".to_owned(),
                    via: Via::Include,
                    from: "example.com".to_owned(),
                }
            }
        );
        let two = FakeDns::default()
            .spf("example.com", "v=spf1 redirect=two.example.com")
            .spf("two.example.com", "v=spf1 -all")
            .spf("two.example.com", "v=spf1 +all");
        assert!(matches!(
            run(&two, "example.com").result,
            SpfResult::PermError {
                problem: SpfProblem::MultipleRecords {
                    count: 2,
                    via: Via::Redirect,
                    ..
                }
            }
        ));
        let bad = FakeDns::default()
            .spf("example.com", "v=spf1 include:mid.example.com -all")
            .spf("mid.example.com", "v=spf1 include:bad.example.com -all")
            .spf("bad.example.com", "v=spf1 frobnicate");
        assert_eq!(
            run(&bad, "example.com").result,
            SpfResult::PermError {
                problem: SpfProblem::Syntax {
                    domain: "bad.example.com".to_owned(),
                    via: Via::Include,
                    from: "mid.example.com".to_owned(),
                    detail: "unknown mechanism".to_owned(),
                    at: Some(SyntaxAt {
                        term: "frobnicate".to_owned(),
                        position: 7
                    }),
                }
            }
        );
        let none_by_redirect = FakeDns::default()
            .spf("example.com", "v=spf1 redirect=gone.example.com")
            .spf("gone.example.com", "google-site-verification=x");
        assert_eq!(
            run(&none_by_redirect, "example.com").result,
            SpfResult::PermError {
                problem: SpfProblem::NoSpfRecord {
                    domain: "gone.example.com".to_owned(),
                    via: Via::Redirect,
                    from: "example.com".to_owned(),
                }
            }
        );
        let failing = FakeDns::default()
            .spf("example.com", "v=spf1 a:down.example.com -all")
            .failing("down.example.com");
        assert_eq!(
            run(&failing, "example.com").result,
            SpfResult::TempError {
                domain: "example.com".to_owned(),
                term: "a:down.example.com".to_owned(),
                failure: LookupFailure::ServFail
            }
        );
    }

    #[test]
    fn permissive_endings_and_includes() {
        let open = FakeDns::default()
            .spf("example.com", "v=spf1 include:open.example.net -all")
            .spf("open.example.net", "v=spf1 +all");
        let eval = run(&open, "example.com");
        assert_eq!(eval.permissive_includes, ["open.example.net"]);
        assert_eq!(eval.final_all, fail_at("example.com"));
        // `-include:` of an open record does not let anyone pass.
        let negated = FakeDns::default()
            .spf("example.com", "v=spf1 -include:open.example.net -all")
            .spf("open.example.net", "v=spf1 +all");
        assert!(run(&negated, "example.com").permissive_includes.is_empty());
        let missing = FakeDns::default().spf("example.com", "v=spf1 ip4:192.0.2.1");
        assert_eq!(
            run(&missing, "example.com").final_all,
            FinalAll::Missing {
                domain: "example.com".to_owned()
            }
        );
        let macro_redirect =
            FakeDns::default().spf("example.com", "v=spf1 redirect=%{i}.example.com");
        let eval = run(&macro_redirect, "example.com");
        assert_eq!(eval.final_all, FinalAll::Unknown);
        assert_eq!(eval.lookups, 1);
    }

    fn domain_strategy() -> impl Strategy<Value = String> {
        ("[a-z][a-z0-9-]{0,10}[a-z0-9]", "[a-z]{2,6}").prop_map(|(l, t)| format!("{l}.{t}"))
    }

    fn directive_strategy() -> impl Strategy<Value = Directive> {
        let qualifier = prop_oneof![
            Just(Qualifier::Pass),
            Just(Qualifier::Fail),
            Just(Qualifier::SoftFail),
            Just(Qualifier::Neutral)
        ];
        let mechanism = prop_oneof![
            Just(Mechanism::All),
            domain_strategy().prop_map(Mechanism::Include),
            proptest::option::of(domain_strategy()).prop_map(Mechanism::A),
            proptest::option::of(domain_strategy()).prop_map(Mechanism::Mx),
            proptest::option::of(domain_strategy()).prop_map(Mechanism::Ptr),
            (any::<[u8; 4]>(), 0u8..=32)
                .prop_map(|(a, l)| Mechanism::Ip4(format!("{}/{l}", Ipv4Addr::from(a)))),
            any::<u128>().prop_map(|a| Mechanism::Ip6(Ipv6Addr::from(a).to_string())),
            domain_strategy().prop_map(|d| Mechanism::Exists(format!("%{{i}}.{d}"))),
        ];
        (qualifier, mechanism).prop_map(|(qualifier, mechanism)| Directive {
            qualifier,
            mechanism,
        })
    }

    proptest! {
        #[test]
        fn never_panics_on_hostile_text(text in "(?s).{0,600}") {
            let _ = parse_spf(&text);
            let _ = parse_spf(&format!("v=spf1 {text}"));
            let _ = expand_static(&text, "example.com", "example.com");
        }

        #[test]
        fn never_panics_on_hostile_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse_spf(&format!("v=spf1 {text}"));
        }

        #[test]
        fn written_records_parse_back(directives in proptest::collection::vec(directive_strategy(), 0..20), redirect in proptest::option::of(domain_strategy())) {
            let mut text = String::from("v=spf1");
            for d in &directives {
                text.push(' ');
                text.push_str(&d.to_string());
            }
            if let Some(r) = &redirect {
                write!(text, " redirect={r}").unwrap();
            }
            let parsed = parse_spf(&text).unwrap();
            prop_assert_eq!(parsed.directives, directives);
            prop_assert_eq!(parsed.redirect, redirect);
        }

        /// Random include/redirect graphs over a few names: evaluation always
        /// ends, never counts past the 11th lookup, and completes only
        /// within the limits.
        #[test]
        fn evaluation_always_ends_within_the_limits(
            graph in proptest::collection::vec(proptest::collection::vec((0usize..6, 0u8..5), 0..6), 6),
            present in proptest::collection::vec(any::<bool>(), 6),
        ) {
            let name = |i: usize| format!("n{i}.example.com");
            let mut dns = FakeDns::default();
            for (i, terms) in graph.iter().enumerate() {
                let mut text = String::from("v=spf1");
                for (target, kind) in terms {
                    match kind {
                        0 => write!(text, " include:{}", name(*target)),
                        1 => write!(text, " a:{}", name(*target)),
                        2 => write!(text, " mx:{}", name(*target)),
                        3 => write!(text, " ip4:192.0.2.{target}"),
                        _ => write!(text, " redirect={}", name(*target)),
                    }
                    .unwrap();
                }
                // Repeated redirects are a syntax error; keep the first.
                let mut seen = false;
                let text: Vec<&str> = text.split(' ').filter(|t| {
                    if t.starts_with("redirect=") { let keep = !seen; seen = true; keep } else { true }
                }).collect();
                if present[i] || i == 0 {
                    dns = dns.spf(&name(i), &text.join(" "));
                }
                dns = dns.with(&name(i), "A", i % 2);
            }
            let eval = run(&dns, &name(0));
            prop_assert!(eval.lookups <= LOOKUP_LIMIT + 1);
            prop_assert!(eval.void_lookups <= VOID_LOOKUP_LIMIT + 1);
            prop_assert!(eval.records.len() <= MAX_VISITS);
            if eval.result == SpfResult::Completed {
                prop_assert!(eval.lookups <= LOOKUP_LIMIT);
                prop_assert!(eval.void_lookups <= VOID_LOOKUP_LIMIT);
            }
            prop_assert!(dns.queried().len() <= 2 * (LOOKUP_LIMIT as usize + 1));
        }
    }
}
