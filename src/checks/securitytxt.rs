//! A parser for `security.txt` (RFC 9116): pure and total — any text, however
//! hostile, gives a [`SecurityTxt`] listing the fields it holds and the
//! problems found, never a panic. Dates are only parsed here; whether
//! `Expires` has passed or lies too far ahead is the check's judgement,
//! which knows `now`.
//!
//! A PGP cleartext-signed file (RFC 4880 §7) is accepted: the armor is
//! stripped and dash-escaping undone, and the signed text is parsed. The
//! signature is not verified (there is no key to verify it with).
//!
//! Depends on nothing but chrono; callers decode bytes (lossily) first.

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

/// Problems listed at most; the rest are only counted.
pub const MAX_PROBLEMS: usize = 20;
/// Characters of an offending line quoted in a problem.
const QUOTE_CHARS: usize = 60;

const BEGIN_SIGNED: &str = "-----BEGIN PGP SIGNED MESSAGE-----";
const BEGIN_SIGNATURE: &str = "-----BEGIN PGP SIGNATURE-----";
const END_SIGNATURE: &str = "-----END PGP SIGNATURE-----";

/// Fields whose value must be a URI (RFC 9116 §2.5), web ones over https.
const URI_FIELDS: [&str; 7] = [
    "acknowledgments",
    "canonical",
    "contact",
    "encryption",
    "hiring",
    "policy",
    "csaf",
];

/// One `Name: value` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    /// 1-based line number in the file as served.
    pub line: usize,
    /// The name as written.
    pub name: String,
    pub value: String,
}

/// What a security.txt says, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecurityTxt {
    /// The file was a PGP cleartext-signed message.
    pub signed: bool,
    /// Every field, in order.
    pub fields: Vec<Field>,
    /// The single `Expires` value, when present once and well-formed.
    pub expires: Option<DateTime<FixedOffset>>,
    /// The first [`MAX_PROBLEMS`] problems, each naming its line.
    pub problems: Vec<String>,
    /// How many more problems there were.
    pub more_problems: usize,
}

impl SecurityTxt {
    /// Values of the fields called `name` (any case).
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |f| f.name.eq_ignore_ascii_case(name))
            .map(|f| f.value.as_str())
    }

    /// Whether anything at all looked like a security.txt field (tells a
    /// security.txt from an HTML "soft 404" page).
    #[must_use]
    pub fn has_known_fields(&self) -> bool {
        self.fields.iter().any(|f| {
            f.name.eq_ignore_ascii_case("contact") || f.name.eq_ignore_ascii_case("expires")
        })
    }

    fn problem(&mut self, text: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(text);
        } else {
            self.more_problems = self.more_problems.saturating_add(1);
        }
    }
}

/// Parses `text` (already decoded; a leading BOM is ignored).
#[must_use]
pub fn parse(text: &str) -> SecurityTxt {
    let mut out = SecurityTxt {
        signed: false,
        fields: Vec::new(),
        expires: None,
        problems: Vec::new(),
        more_problems: 0,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<(usize, &str)> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i.saturating_add(1), l))
        .collect();
    let first_content = lines.iter().position(|(_, l)| !l.trim().is_empty());
    let body: Vec<(usize, String)> =
        match first_content.and_then(|i| lines.get(i).map(|(_, l)| (i, *l))) {
            Some((start, line)) if line.trim_end() == BEGIN_SIGNED => {
                out.signed = true;
                unarmor(
                    lines.get(start.saturating_add(1)..).unwrap_or_default(),
                    &mut out,
                )
            }
            _ => lines.iter().map(|(n, l)| (*n, (*l).to_owned())).collect(),
        };
    for (number, line) in &body {
        parse_line(*number, line, &mut out);
    }
    judge_fields(&mut out);
    out
}

/// The signed text of a cleartext-signed message (the lines after the
/// BEGIN line), dash-escaping undone; problems for a malformed armor.
fn unarmor(rest: &[(usize, &str)], out: &mut SecurityTxt) -> Vec<(usize, String)> {
    // Armor headers ("Hash: SHA256") run up to the first empty line.
    let Some(blank) = rest.iter().position(|(_, l)| l.trim().is_empty()) else {
        out.problem("the PGP signed message has no text after its armor headers".to_owned());
        return Vec::new();
    };
    let mut body = Vec::new();
    let mut signature_at = None;
    for (i, (number, line)) in rest.iter().enumerate().skip(blank.saturating_add(1)) {
        if line.trim_end() == BEGIN_SIGNATURE {
            signature_at = Some(i);
            break;
        }
        let unescaped = line.strip_prefix("- ").unwrap_or(line);
        body.push((*number, unescaped.to_owned()));
    }
    match signature_at {
        None => out.problem("the PGP signed message has no signature block".to_owned()),
        Some(at) => {
            let after = rest.get(at.saturating_add(1)..).unwrap_or_default();
            match after
                .iter()
                .position(|(_, l)| l.trim_end() == END_SIGNATURE)
            {
                None => out.problem("the PGP signature block is not closed".to_owned()),
                Some(end) => {
                    if let Some((number, _)) = after
                        .get(end.saturating_add(1)..)
                        .unwrap_or_default()
                        .iter()
                        .find(|(_, l)| !l.trim().is_empty())
                    {
                        out.problem(format!("line {number}: text after the PGP signature"));
                    }
                }
            }
        }
    }
    body
}

fn parse_line(number: usize, line: &str, out: &mut SecurityTxt) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    if trimmed.trim_start_matches([' ', '\t']).is_empty() || trimmed.starts_with('#') {
        return;
    }
    if let Some(bad) = trimmed.chars().find(|c| c.is_control() && *c != '\t') {
        out.problem(format!(
            "line {number}: control character {bad:?} in {}",
            quote(trimmed)
        ));
        return;
    }
    let Some((name, value)) = trimmed.split_once(':') else {
        out.problem(format!(
            "line {number}: neither a field (Name: value) nor a comment: {}",
            quote(trimmed)
        ));
        return;
    };
    // field-name = 1*(%x21-39 / %x3B-7E): printable ASCII, no spaces.
    if name.is_empty() || !name.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        out.problem(format!(
            "line {number}: {} is not a field name",
            quote(name)
        ));
        return;
    }
    let value = value.trim_matches([' ', '\t']);
    if value.is_empty() {
        // Quoted (so cut): a name may be a whole line of junk.
        out.problem(format!("line {number}: {} has no value", quote(name)));
        return;
    }
    out.fields.push(Field {
        line: number,
        name: name.to_owned(),
        value: value.to_owned(),
    });
}

/// The rules of RFC 9116 §2.5 on the fields themselves.
fn judge_fields(out: &mut SecurityTxt) {
    let mut problems = Vec::new();
    let contacts = out.values("contact").count();
    if contacts == 0 {
        problems.push("no Contact field (RFC 9116 requires at least one)".to_owned());
    }
    let expires: Vec<(usize, String)> = out
        .fields
        .iter()
        .filter(|f| f.name.eq_ignore_ascii_case("expires"))
        .map(|f| (f.line, f.value.clone()))
        .collect();
    match expires.as_slice() {
        [] => problems.push("no Expires field (RFC 9116 requires one)".to_owned()),
        [(line, value)] => match DateTime::parse_from_rfc3339(value) {
            Ok(when) => out.expires = Some(when),
            Err(_) => problems.push(format!(
                "line {line}: Expires {} is not an RFC 3339 date-time such as 2027-01-31T23:59:59Z",
                quote(value)
            )),
        },
        [_, (line, _), ..] => problems.push(format!(
            "line {line}: Expires appears {} times; RFC 9116 allows it once",
            expires.len()
        )),
    }
    let languages: Vec<usize> = out
        .fields
        .iter()
        .filter(|f| f.name.eq_ignore_ascii_case("preferred-languages"))
        .map(|f| f.line)
        .collect();
    if let [_, line, ..] = languages.as_slice() {
        problems.push(format!(
            "line {line}: Preferred-Languages appears more than once"
        ));
    }
    for field in &out.fields {
        let lower = field.name.to_ascii_lowercase();
        if !URI_FIELDS.contains(&lower.as_str()) {
            continue;
        }
        match uri_scheme(&field.value) {
            None if lower == "contact" && field.value.contains('@') => problems.push(format!(
                "line {}: Contact {} is not a URI; write mailto:{}",
                field.line,
                quote(&field.value),
                // Escaped like the quote: the value may hide a bidi
                // override, and problems end up in findings.
                shorten(&field.value).escape_debug()
            )),
            None => problems.push(format!(
                "line {}: {} {} is not a URI",
                field.line,
                field.name,
                quote(&field.value)
            )),
            Some(scheme) if scheme.eq_ignore_ascii_case("http") => problems.push(format!(
                "line {}: {} {} uses http://; web URIs must use https://",
                field.line,
                field.name,
                quote(&field.value)
            )),
            Some(_) => {}
        }
    }
    for problem in problems {
        out.problem(problem);
    }
}

/// The scheme of a URI (`scheme ":" …`, RFC 3986 §3.1), if it has one.
fn uri_scheme(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(':')?;
    let mut chars = scheme.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    (starts_well && rest_ok && !rest.is_empty()).then_some(scheme)
}

/// `text` in quotes, cut to [`QUOTE_CHARS`] characters.
fn quote(text: &str) -> String {
    format!("{:?}", shorten(text))
}

/// `text` cut to [`QUOTE_CHARS`] characters, with `…` when it was cut.
fn shorten(text: &str) -> String {
    let mut cut: String = text.chars().take(QUOTE_CHARS).collect();
    if text.chars().nth(QUOTE_CHARS).is_some() {
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "# Our security policy\n\
        Contact: mailto:security@acme.test\n\
        Contact: https://acme.test/report\n\
        Expires: 2027-01-31T23:59:59Z\n\
        Preferred-Languages: en, nl\n\
        Canonical: https://acme.test/.well-known/security.txt\n";

    fn signed(body: &str) -> String {
        let escaped: String = body
            .lines()
            .map(|l| {
                if l.starts_with('-') {
                    format!("- {l}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        format!(
            "{BEGIN_SIGNED}\nHash: SHA512\n\n{escaped}{BEGIN_SIGNATURE}\n\niQIzBAEBCgAdFiEE\n=abcd\n{END_SIGNATURE}\n"
        )
    }

    #[test]
    fn a_good_file_has_no_problems() {
        let txt = parse(GOOD);
        assert!(txt.problems.is_empty(), "{:?}", txt.problems);
        assert!(!txt.signed);
        assert_eq!(txt.values("CONTACT").count(), 2);
        assert_eq!(
            txt.expires.unwrap().to_rfc3339(),
            "2027-01-31T23:59:59+00:00"
        );
        assert_eq!(txt.fields[0].line, 2);
        assert!(txt.has_known_fields());
    }

    #[test]
    fn crlf_and_bom_and_blank_lines_are_fine() {
        let crlf = format!("\u{feff}\r\n{}\r\n\r\n", GOOD.replace('\n', "\r\n"));
        let txt = parse(&crlf);
        assert!(txt.problems.is_empty(), "{:?}", txt.problems);
        assert_eq!(txt.fields.len(), parse(GOOD).fields.len());
    }

    #[test]
    fn signed_files_are_unarmored() {
        let body = format!("{GOOD}-Odd: a field starting with a dash\n");
        let txt = parse(&signed(&body));
        assert!(txt.signed);
        assert!(txt.problems.is_empty(), "{:?}", txt.problems);
        assert_eq!(txt.values("-odd").count(), 1);
        assert_eq!(txt.values("contact").count(), 2);
        assert!(
            !txt.values("hash").any(|_| true),
            "armor headers are not fields"
        );
    }

    #[test]
    fn broken_armor_is_a_problem() {
        let no_signature = format!("{BEGIN_SIGNED}\nHash: SHA256\n\n{GOOD}");
        let txt = parse(&no_signature);
        assert!(txt.signed);
        assert!(
            txt.problems
                .iter()
                .any(|p| p.contains("no signature block"))
        );
        assert_eq!(txt.values("contact").count(), 2);

        let unclosed = format!("{BEGIN_SIGNED}\nHash: SHA256\n\n{GOOD}{BEGIN_SIGNATURE}\nabc\n");
        assert!(
            parse(&unclosed)
                .problems
                .iter()
                .any(|p| p.contains("not closed"))
        );
        let trailing = format!("{}Contact: mailto:x@y.test\n", signed(GOOD));
        assert!(
            parse(&trailing)
                .problems
                .iter()
                .any(|p| p.contains("after the PGP signature"))
        );
        let headers_only = format!("{BEGIN_SIGNED}\nHash: SHA256");
        assert!(
            parse(&headers_only)
                .problems
                .iter()
                .any(|p| p.contains("no text"))
        );
    }

    #[test]
    fn required_fields_are_required() {
        let txt = parse("Expires: 2027-01-31T23:59:59Z\n");
        assert_eq!(txt.problems.len(), 1);
        assert!(txt.problems[0].contains("no Contact"));
        let txt = parse("Contact: mailto:a@b.test\n");
        assert!(txt.problems[0].contains("no Expires"));
        assert!(txt.expires.is_none());
    }

    #[test]
    fn a_long_bare_address_is_cut_in_the_advice_too() {
        let address = format!("{}@acme.test", "a".repeat(5_000));
        let txt = parse(&format!(
            "Contact: {address}\nExpires: 2027-01-01T00:00:00Z\n"
        ));
        let problem = txt
            .problems
            .iter()
            .find(|p| p.contains("write mailto:"))
            .unwrap();
        assert!(problem.len() < 300, "{} bytes: {problem}", problem.len());
        assert!(problem.ends_with('…'), "{problem}");
    }

    #[test]
    fn field_rules() {
        for (text, needle) in [
            (
                "Contact: security@acme.test\nExpires: 2027-01-01T00:00:00Z",
                "write mailto:",
            ),
            (
                "Contact: http://acme.test/\nExpires: 2027-01-01T00:00:00Z",
                "https://",
            ),
            (
                "Contact: just words\nExpires: 2027-01-01T00:00:00Z",
                "not a URI",
            ),
            ("Contact: mailto:a@b.test\nExpires: next year", "RFC 3339"),
            ("Contact: mailto:a@b.test\nExpires: 2027-01-01", "RFC 3339"),
            (
                "Contact: mailto:a@b.test\nExpires: 2027-01-01T00:00:00Z\nExpires: 2027-01-01T00:00:00Z",
                "appears 2 times",
            ),
            (
                "Contact: mailto:a@b.test\nExpires: 2027-01-01T00:00:00Z\nPreferred-Languages: en\nPreferred-Languages: de",
                "more than once",
            ),
            (
                "Contact: mailto:a@b.test\nExpires: 2027-01-01T00:00:00Z\nthis is prose",
                "line 3: neither",
            ),
            (
                "Contact: mailto:a@b.test\nExpires: 2027-01-01T00:00:00Z\nBad Name: x",
                "not a field name",
            ),
            (
                "Contact: mailto:a@b.test\nExpires: 2027-01-01T00:00:00Z\nPolicy:",
                "no value",
            ),
            (
                "Contact: mailto:a@b.test\nExpires: 2027-01-01T00:00:00Z\nX: a\u{7}b",
                "control character",
            ),
        ] {
            let txt = parse(text);
            assert!(
                txt.problems.iter().any(|p| p.contains(needle)),
                "{text:?}: {:?}",
                txt.problems
            );
        }
        // Unknown fields and comments are allowed.
        let txt = parse(
            "Contact: tel:+1-201-555-0123\nExpires: 2027-01-01T00:00:00+02:00\nX-Custom: whatever\n   # indented? no: a comment only at column 1\n",
        );
        assert!(
            txt.problems.len() == 1 && txt.problems[0].contains("line 4"),
            "{:?}",
            txt.problems
        );
    }

    #[test]
    fn problems_are_capped_and_counted() {
        let parsed = parse(&"garbage line\n".repeat(1000));
        assert_eq!(parsed.problems.len(), MAX_PROBLEMS);
        // 1000 garbage lines plus the two missing required fields.
        assert_eq!(parsed.problems.len() + parsed.more_problems, 1002);
        assert!(parsed.problems[0].len() < 200);
    }

    #[test]
    fn html_is_not_a_security_txt() {
        let txt = parse("<!doctype html>\n<html><body>Not found</body></html>\n");
        assert!(!txt.has_known_fields());
        assert!(!txt.problems.is_empty());
    }

    /// A small deterministic generator (xorshift), as in `probe::hello`.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap()).unwrap()
        }
    }

    const PIECES: [&str; 18] = [
        "Contact: mailto:a@b.test",
        "Expires: 2027-01-31T23:59:59Z",
        "Expires: 2020-01-01T00:00:00Z",
        "# comment",
        "",
        "\r",
        "-----BEGIN PGP SIGNED MESSAGE-----",
        "-----BEGIN PGP SIGNATURE-----",
        "-----END PGP SIGNATURE-----",
        "- Contact: mailto:x@y.test",
        "Hash: SHA256",
        ":",
        "::::",
        "Policy: https://a.test/p",
        "\u{feff}",
        "\u{fffd}\u{fffd}",
        "Preferred-Languages: en",
        "Contact:",
    ];

    /// Property: any input — random bytes decoded lossily, shuffled valid
    /// and armor lines, CRLF, 64 KiB bodies, huge line counts — parses
    /// without a panic, with bounded problems and fields that all came from
    /// some line of the input.
    #[test]
    fn hostile_input_never_panics() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for round in 0..600 {
            let text = match round % 4 {
                0 => {
                    let len = rng.below(64 * 1024);
                    let bytes: Vec<u8> = (0..len)
                        .map(|_| u8::try_from(rng.next() % 256).unwrap())
                        .collect();
                    String::from_utf8_lossy(&bytes).into_owned()
                }
                1 => {
                    let mut t = String::new();
                    for _ in 0..rng.below(400) {
                        t.push_str(PIECES[rng.below(PIECES.len())]);
                        t.push_str(if rng.next().is_multiple_of(2) {
                            "\n"
                        } else {
                            "\r\n"
                        });
                    }
                    t
                }
                2 => "\n".repeat(rng.below(64 * 1024)),
                _ => {
                    let mut t = signed(GOOD);
                    for _ in 0..rng.below(8) {
                        let at = rng.below(t.len());
                        if t.is_char_boundary(at) {
                            t.insert_str(at, PIECES[rng.below(PIECES.len())]);
                        }
                    }
                    t
                }
            };
            let parsed = parse(&text);
            assert!(parsed.problems.len() <= MAX_PROBLEMS);
            let line_count = text.split('\n').count();
            for field in &parsed.fields {
                assert!(field.line >= 1 && field.line <= line_count);
                assert!(!field.name.is_empty() && !field.value.is_empty());
            }
            assert!(parsed.fields.len() <= line_count);
        }
    }

    /// Property: line endings and a signature wrapping never change the
    /// fields of a file made of valid lines.
    #[test]
    fn endings_and_signing_do_not_change_fields() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..300 {
            let lines: Vec<&str> = (0..rng.below(30)).map(|_| PIECES[rng.below(4)]).collect();
            let lf = lines.join("\n");
            let crlf = lines.join("\r\n");
            let names = |t: &SecurityTxt| -> Vec<(String, String)> {
                t.fields
                    .iter()
                    .map(|f| (f.name.clone(), f.value.clone()))
                    .collect()
            };
            let plain = parse(&lf);
            assert_eq!(names(&plain), names(&parse(&crlf)));
            let wrapped = parse(&signed(&lf));
            assert!(wrapped.signed);
            assert_eq!(names(&plain), names(&wrapped));
        }
    }
}
