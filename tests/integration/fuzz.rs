//! Fuzzing of every parser of untrusted bytes, in the normal test suite.
//!
//! `cargo fuzz` needs nightly, which CI does not have; instead each parser
//! gets (1) a committed seed corpus under `tests/fuzz/corpus/<target>/`, run
//! file by file, and (2) proptest mutations of those seeds (bit flips,
//! truncations, insertions of hostile bytes, deletions, repeats, splices)
//! plus fully random inputs. Every input must give a value — `Ok`, `Err` or
//! a report — never a panic, and the parser's invariants must hold.
//!
//! Cases per target: [`DEFAULT_CASES`], or `SUPPLYWATCH_FUZZ_CASES` to run
//! longer locally:
//! `SUPPLYWATCH_FUZZ_CASES=200000 cargo test --test integration fuzz::`.
//!
//! A crash becomes a regression: its input goes into the target's corpus
//! (so every run replays it) and an explicit `#[test]` below names it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{TimeZone as _, Utc};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};

use supplywatch::checks::securitytxt;
use supplywatch::checks::untrusted::is_hidden;
use supplywatch::checks::{self, Policy};
use supplywatch::config::Config;
use supplywatch::probe::dns::{dmarc, mtasts, parse_tlsrpt, spf};
use supplywatch::probe::hello::{FlightParser, ServerFlight};
use supplywatch::probe::http::{Fetch, HttpObservation, HttpResponse, HttpScheme};

/// Cases per target when `SUPPLYWATCH_FUZZ_CASES` is not set: small enough
/// that all targets together add seconds, not minutes, to a debug
/// `cargo test` on two cores.
const DEFAULT_CASES: u32 = 2000;

fn cases() -> u32 {
    std::env::var("SUPPLYWATCH_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/corpus")
        .join(target)
}

/// The seeds of `target`, sorted by name, with their names.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

fn seed(target: &str, name: &str) -> Vec<u8> {
    std::fs::read(corpus_dir(target).join(name)).unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Byte strings that parsers of text and of TLS tend to trip over.
const HOSTILE: &[&[u8]] = &[
    b"\0",
    b"\r\n",
    b"\r",
    b"\n",
    b"\t",
    b" ",
    b";",
    b"=",
    b":",
    b",",
    b"\"",
    b"\\",
    b"%{",
    b"/",
    b"[",
    b"]",
    b"-----BEGIN PGP SIGNATURE-----\n",
    "\u{202e}".as_bytes(),
    "\u{200b}".as_bytes(),
    "\u{feff}".as_bytes(),
    "é".as_bytes(),
    b"\xff",
    b"\xc3",
    b"\x16\x03\x03",
    b"\xff\xff",
    b"\x00\x00\x00",
    b"\xff\xff\xff",
    b"99999999999999999999999",
];

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Truncate(Index),
    Delete(Index, usize),
    Insert(Index, Vec<u8>),
    InsertHostile(Index, Index),
    Repeat(Index, usize, usize),
    Splice(Index, Index, Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(i, h)| Mutation::InsertHostile(i, h)),
        (any::<Index>(), 1usize..32, 2usize..64).prop_map(|(i, n, t)| Mutation::Repeat(i, n, t)),
        (any::<Index>(), any::<Index>(), any::<Index>(), 1usize..256)
            .prop_map(|(s, from, at, n)| Mutation::Splice(s, from, at, n)),
    ]
}

fn apply(input: &mut Vec<u8>, m: &Mutation, seeds: &[Vec<u8>]) {
    // An index into `input` including its end (for insertions).
    let at = |i: &Index, len: usize| i.index(len + 1);
    match m {
        Mutation::FlipBit(i, bit) if !input.is_empty() => {
            let i = i.index(input.len());
            input[i] ^= 1 << bit;
        }
        Mutation::SetByte(i, b) if !input.is_empty() => {
            let i = i.index(input.len());
            input[i] = *b;
        }
        Mutation::Truncate(i) => input.truncate(at(i, input.len())),
        Mutation::Delete(i, n) => {
            let start = at(i, input.len());
            let end = (start + n).min(input.len());
            input.drain(start..end);
        }
        Mutation::Insert(i, bytes) => {
            let p = at(i, input.len());
            input.splice(p..p, bytes.iter().copied());
        }
        Mutation::InsertHostile(i, h) => {
            let p = at(i, input.len());
            input.splice(p..p, HOSTILE[h.index(HOSTILE.len())].iter().copied());
        }
        Mutation::Repeat(i, n, times) => {
            let start = at(i, input.len());
            let end = (start + n).min(input.len());
            let chunk = input[start..end].to_vec();
            for _ in 1..*times {
                input.splice(end..end, chunk.iter().copied());
            }
        }
        Mutation::Splice(s, from, to, n) => {
            let other = &seeds[s.index(seeds.len())];
            let from = at(from, other.len());
            let chunk = &other[from..(from + n).min(other.len())];
            let p = at(to, input.len());
            input.splice(p..p, chunk.iter().copied());
        }
        Mutation::FlipBit(..) | Mutation::SetByte(..) => {}
    }
}

/// A seed of `target` with 1–8 mutations, or (one case in four) random bytes.
fn inputs(target: &str) -> impl Strategy<Value = Vec<u8>> {
    let seeds: Vec<Vec<u8>> = corpus(target).into_iter().map(|(_, b)| b).collect();
    let mutated = (any::<Index>(), proptest::collection::vec(mutation(), 1..8)).prop_map(
        move |(pick, mutations)| {
            let mut input = seeds[pick.index(seeds.len())].clone();
            for m in &mutations {
                apply(&mut input, m, &seeds);
            }
            input
        },
    );
    prop_oneof![
        3 => mutated,
        1 => proptest::collection::vec(any::<u8>(), 0..1024),
    ]
}

/// Runs `check` on every seed of `target`, then on [`cases`] mutations.
fn fuzz(target: &str, check: impl Fn(&[u8]) -> Result<(), TestCaseError>) {
    for (name, bytes) in corpus(target) {
        if let Err(e) = check(&bytes) {
            panic!("{target}/{name}: {e}");
        }
    }
    let mut runner = TestRunner::new(ProptestConfig {
        cases: cases(),
        // Crashes are kept as corpus files, not proptest-regressions files.
        failure_persistence: None,
        max_shrink_iters: 2048,
        ..ProptestConfig::default()
    });
    let result = runner.run(&inputs(target), |bytes| check(&bytes));
    if let Err(e) = result {
        panic!("{target}: {e}");
    }
}

/// One line for people holds no control or hidden character.
fn neutral(line: &str) -> bool {
    !line.chars().any(|c| c.is_control() || is_hidden(c))
}

// --- the legacy ClientHello reply parser ----------------------------------

/// Feeds `bytes` in pieces cut at `cuts`, stopping at the first error.
fn feed_in_pieces(bytes: &[u8], cuts: &[usize]) -> (FlightParser, bool) {
    let mut parser = FlightParser::new();
    let mut start = 0;
    for &cut in cuts.iter().chain([&bytes.len()]) {
        let cut = cut.clamp(start, bytes.len());
        if parser.feed(&bytes[start..cut]).is_err() {
            return (parser, false);
        }
        start = cut;
    }
    (parser, true)
}

fn check_hello(bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut whole = FlightParser::new();
    let ok = whole.feed(bytes).is_ok();
    let flight: &ServerFlight = &whole.flight;
    prop_assert!(flight.certificates.len() <= 16);
    let cert_bytes: usize = flight.certificates.iter().map(Vec::len).sum();
    prop_assert!(
        cert_bytes <= bytes.len(),
        "more certificate bytes than input"
    );
    prop_assert!(flight.certificates.iter().all(|c| !c.is_empty()));
    // How TCP cuts the bytes must not change what is read.
    for cuts in [
        (1..bytes.len()).collect::<Vec<_>>(),
        (0..bytes.len()).step_by(7).collect(),
        vec![bytes.len() / 2],
    ] {
        let (pieces, pieces_ok) = feed_in_pieces(bytes, &cuts);
        prop_assert_eq!(pieces_ok, ok, "cut at {:?}", cuts);
        if ok {
            prop_assert_eq!(&pieces.flight, flight, "cut at {:?}", cuts);
            prop_assert_eq!(pieces.finished(), whole.finished());
        }
    }
    Ok(())
}

#[test]
fn hello_parser() {
    fuzz("hello", check_hello);
}

/// Regression: a fatal alert in the same read as the ServerHelloDone was
/// recorded, but not when it came in a later read — what was seen depended
/// on how TCP cut the bytes.
#[test]
fn hello_alert_after_done_does_not_depend_on_the_cut() {
    let bytes = seed("hello", "alert_after_done.bin");
    check_hello(&bytes).unwrap();
}

// --- SPF --------------------------------------------------------------------

fn check_spf(bytes: &[u8]) -> Result<(), TestCaseError> {
    let text = text(bytes);
    for text in [text.clone(), format!("v=spf1 {text}")] {
        match spf::parse_spf(&text) {
            Ok(record) => {
                // parse → display → parse gives the same record.
                let mut written = String::from("v=spf1");
                for d in &record.directives {
                    written.push(' ');
                    written.push_str(&d.to_string());
                }
                if let Some(r) = &record.redirect {
                    write!(written, " redirect={r}").unwrap();
                }
                if let Some(e) = &record.explanation {
                    write!(written, " exp={e}").unwrap();
                }
                let again = spf::parse_spf(&written)
                    .map_err(|e| TestCaseError::fail(format!("{written:?}: {e}")))?;
                prop_assert_eq!(&again.directives, &record.directives);
                prop_assert_eq!(&again.redirect, &record.redirect);
                prop_assert_eq!(&again.explanation, &record.explanation);
            }
            Err(e) => {
                let _ = e.to_string();
                if let Some(at) = &e.at {
                    prop_assert!(at.term.chars().count() <= 81, "{:?}", at.term);
                    prop_assert!(at.position <= text.chars().count());
                }
            }
        }
    }
    Ok(())
}

#[test]
fn spf_parser() {
    fuzz("spf", check_spf);
}

// --- DMARC ------------------------------------------------------------------

fn check_dmarc(bytes: &[u8]) -> Result<(), TestCaseError> {
    let text = text(bytes);
    for text in [text.clone(), format!("v=DMARC1; {text}")] {
        match dmarc::parse_dmarc(&text) {
            Ok(r) => {
                prop_assert!(r.rua.len() <= 16 && r.ruf.len() <= 16);
                prop_assert!(r.rua.iter().chain(&r.ruf).all(|u| u.len() <= 512));
                prop_assert!(r.pct.is_none_or(|p| p <= 100));
                prop_assert!(r.problems.len() <= 16, "{:?}", r.problems);
                for p in &r.problems {
                    prop_assert!(neutral(p), "{:?}", p);
                }
            }
            Err(e) => prop_assert!(neutral(&e.to_string()), "{:?}", e.to_string()),
        }
    }
    Ok(())
}

#[test]
fn dmarc_parser() {
    fuzz("dmarc", check_dmarc);
}

// --- MTA-STS ----------------------------------------------------------------

fn check_mtasts(bytes: &[u8]) -> Result<(), TestCaseError> {
    let text = text(bytes);
    for record in [text.clone(), format!("v=STSv1; {text}")] {
        if let Ok(id) = mtasts::parse_sts_record(&record) {
            prop_assert!(!id.is_empty() && id.len() <= 32);
            prop_assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
    }
    for body in [
        text.clone(),
        format!("version: STSv1\nmode: enforce\n{text}"),
    ] {
        if let Ok(p) = mtasts::parse_policy(&body) {
            prop_assert!(p.mx.len() <= 64);
            prop_assert!(p.max_age <= mtasts::MAX_AGE_LIMIT);
            // parse → write → parse gives the same policy.
            let mut written = format!("version: STSv1\nmode: {}\n", p.mode.as_str());
            for mx in &p.mx {
                writeln!(written, "mx: {mx}").unwrap();
            }
            writeln!(written, "max_age: {}", p.max_age).unwrap();
            let again = mtasts::parse_policy(&written)
                .map_err(|e| TestCaseError::fail(format!("{written:?}: {e}")))?;
            prop_assert_eq!(again, p);
        }
    }
    Ok(())
}

#[test]
fn mtasts_parsers() {
    fuzz("mtasts", check_mtasts);
}

// --- TLS-RPT ----------------------------------------------------------------

fn check_tlsrpt(bytes: &[u8]) -> Result<(), TestCaseError> {
    let text = text(bytes);
    for text in [text.clone(), format!("v=TLSRPTv1; rua={text}")] {
        if let Ok(uris) = parse_tlsrpt(&text) {
            prop_assert!(!uris.is_empty() && uris.len() <= 16);
            for u in &uris {
                let lower = u.to_ascii_lowercase();
                prop_assert!(lower.starts_with("mailto:") || lower.starts_with("https:"));
                prop_assert!(u.len() > 7 && u.len() <= 512);
                prop_assert_eq!(u.trim(), u.as_str());
            }
            // parse → write → parse gives the same URIs.
            let written = format!("v=TLSRPTv1; rua={}", uris.join(","));
            prop_assert_eq!(parse_tlsrpt(&written), Ok(uris));
        }
    }
    Ok(())
}

#[test]
fn tlsrpt_parser() {
    fuzz("tlsrpt", check_tlsrpt);
}

// --- security.txt -----------------------------------------------------------

fn check_securitytxt(bytes: &[u8]) -> Result<(), TestCaseError> {
    let text = text(bytes);
    let lines = text.split('\n').count();
    let parsed = securitytxt::parse(&text);
    prop_assert!(parsed.problems.len() <= securitytxt::MAX_PROBLEMS);
    prop_assert!(parsed.more_problems == 0 || parsed.problems.len() == securitytxt::MAX_PROBLEMS);
    let mut last_line = 0;
    for f in &parsed.fields {
        prop_assert!(
            f.line >= 1 && f.line <= lines && f.line > last_line,
            "{:?}",
            f
        );
        last_line = f.line;
        prop_assert!(
            f.name
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b':')
        );
        prop_assert!(!f.value.is_empty());
        prop_assert!(!f.value.chars().any(|c| c.is_control() && c != '\t'));
    }
    if parsed.expires.is_some() {
        prop_assert_eq!(parsed.values("expires").count(), 1);
    }
    for p in &parsed.problems {
        // Problems quote at most 60 characters of the file, escaped (up to
        // ten characters each), and show no control or hidden character.
        prop_assert!(p.chars().count() <= 800, "{:?}", p);
        prop_assert!(neutral(p), "{:?}", p);
    }
    Ok(())
}

#[test]
fn securitytxt_parser() {
    fuzz("securitytxt", check_securitytxt);
}

/// Regression: the advice for a bare address ("write mailto:…") repeated
/// the value unescaped, bidi override and all, into the finding's summary.
#[test]
fn securitytxt_advice_escapes_the_value() {
    let bytes = seed("securitytxt", "bidi_bare_contact.txt");
    check_securitytxt(&bytes).unwrap();
    let parsed = securitytxt::parse(&text(&bytes));
    assert!(
        parsed
            .problems
            .iter()
            .any(|p| p.contains("write mailto:\\u{202e}"))
    );
}

/// Regression: "… has no value" named the field in full, so a 20 kB
/// name made a 20 kB problem (and finding summary).
#[test]
fn securitytxt_problem_for_a_long_empty_field_is_cut() {
    let bytes = seed("securitytxt", "long_name_no_value.txt");
    check_securitytxt(&bytes).unwrap();
}

// --- HSTS, CSP and X-Frame-Options, through the HTTP checks -----------------

fn page_with_headers(value: &str) -> HttpObservation {
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in [
        "strict-transport-security",
        "content-security-policy",
        "x-frame-options",
        "x-content-type-options",
        "server",
    ] {
        headers.insert(name.to_owned(), vec![value.to_owned()]);
    }
    let response = HttpResponse {
        url: "https://portal.acme.test/".to_owned(),
        host: "portal.acme.test".to_owned(),
        port: 443,
        status: 200,
        version: "HTTP/1.1".to_owned(),
        headers,
        body_bytes: 0,
        truncated: false,
        body_error: None,
        body: None,
        body_utf8: true,
    };
    HttpObservation {
        target: "portal.acme.test:443".to_owned(),
        host: "portal.acme.test".to_owned(),
        port: 443,
        scheme: HttpScheme::Https,
        page: Fetch {
            url: "https://portal.acme.test/".to_owned(),
            responses: vec![response],
            redirects: vec![],
            failure: None,
        },
        security_txt: None,
        elapsed_ms: 1,
    }
}

fn check_headers(bytes: &[u8]) -> Result<(), TestCaseError> {
    let value = text(bytes);
    let now = Utc.with_ymd_and_hms(2026, 11, 28, 9, 0, 0).unwrap();
    let findings = checks::http::check(&page_with_headers(&value), now, &Policy::default());
    let hsts = findings
        .iter()
        .filter(|f| f.check.as_str().starts_with("http.hsts_"))
        .count();
    prop_assert!(hsts <= 1, "{:#?}", findings);
    for f in &findings {
        prop_assert!(neutral(&f.summary), "{}: {:?}", f.check, f.summary);
    }
    Ok(())
}

#[test]
fn hsts_and_csp_headers() {
    fuzz("headers", check_headers);
}

// --- the config file --------------------------------------------------------

fn check_config(bytes: &[u8]) -> Result<(), TestCaseError> {
    let source = text(bytes);
    // A folder that does not exist: relative paths in a mangled config name
    // nothing.
    let path = Path::new("/nonexistent/supplywatch-fuzz/supplywatch.toml");
    match Config::parse(&source, path, None) {
        Ok(config) => {
            let _ = config.target_counts();
        }
        Err(e) => {
            let shown = format!("{e:#}");
            prop_assert!(!shown.is_empty());
        }
    }
    Ok(())
}

#[test]
fn config_loading() {
    fuzz("config", check_config);
}

#[test]
fn the_valid_seeds_are_valid() {
    let path = Path::new("/nonexistent/supplywatch-fuzz/supplywatch.toml");
    for name in ["prechain.toml", "minimal.toml", "example.toml"] {
        let source = text(&seed("config", name));
        if let Err(e) = Config::parse(&source, path, None) {
            panic!("config/{name}: {e:#}");
        }
    }
    assert!(spf::parse_spf(&text(&seed("spf", "full.txt"))).is_ok());
    assert!(dmarc::parse_dmarc(&text(&seed("dmarc", "reject.txt"))).is_ok());
    assert!(mtasts::parse_policy(&text(&seed("mtasts", "policy_enforce.txt"))).is_ok());
    assert!(parse_tlsrpt(&text(&seed("tlsrpt", "valid.txt"))).is_ok());
    assert!(
        securitytxt::parse(&text(&seed("securitytxt", "valid.txt")))
            .problems
            .is_empty()
    );
    let mut parser = FlightParser::new();
    parser
        .feed(&seed("hello", "tls12_full_flight.bin"))
        .unwrap();
    assert!(parser.finished());
    assert_eq!(parser.flight.certificates.len(), 2);
}
