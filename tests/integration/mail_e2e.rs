//! E-mail end to end over the local test world and the SMTP sink:
//!
//! - hostile content (DNS TXT records, a security.txt, HTTP header values
//!   and certificate names carrying CR/LF header injections, `<script>` and
//!   attribute breakouts) goes through `run --once --digest` to real SMTP
//!   and never becomes a header line, a tag or an attribute;
//! - STARTTLS with a certificate from the world's CA (trusted through
//!   `probe.extra_roots`) and AUTH with the password from
//!   `SUPPLYWATCH_SMTP_PASSWORD` or `password_file`; a wrong password gives
//!   the row up with the server's refusal; an untrusted certificate, or a
//!   server offering no STARTTLS, is a failed delivery, never mail in clear;
//! - implicit TLS (`tls = "tls"`) through a TLS-terminating proxy in front
//!   of the sink (which itself speaks only plain SMTP and STARTTLS).
//!
//! No network: every server is on 127.0.0.1; `smtp_host` is `localhost`
//! where a certificate name is checked, because lettre resolves it with
//! the system resolver, not the world's DNS.

// One story per test, step after step.
#![allow(clippy::too_many_lines)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use supplywatch::checks::Severity;
use supplywatch::store::{FindingFilter, FindingState, OpenMode, OutboxRow, Store};
use supplywatch_testworld::time::{Duration as TimeDuration, OffsetDateTime};
use supplywatch_testworld::tls::{MODERN, server_config};
use supplywatch_testworld::{
    Authority, DnsRecord, LeafSpec, MailDomain, Pki, ReceivedMail, Reply, SinkOptions, SiteSpec,
    SmtpSink, TlsCase, World, WorldBuilder,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::support::{Run, Scratch, run_in};

const CONFIG: &str = "supplywatch.toml";
const DB: &str = "watch.db";
const RISK: &str = "risk@bank.example";
const CISO: &str = "ciso@bank.example";
const FROM: &str = "watch@bank.example";

/// A header injection: a line break and a header of our own.
const BCC: &str = "\r\nBcc: evil@x.test";
const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(1)>";

/// The hostile supplier's domain and hosts.
const DOMAIN: &str = "evil.hostile.test";
const SITE: &str = "www.evil.hostile.test";
const SELF_SIGNED: &str = "selfsigned.evil.hostile.test";
const MISMATCH: &str = "mismatch.evil.hostile.test";

/// The header fields supplywatch (through lettre) writes; anything else in
/// a message's or a part's header section was injected.
const ALLOWED_HEADERS: &[&str] = &[
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "auto-submitted",
    "x-auto-response-suppress",
];

/// Tags the alert and digest HTML may use (tables, text, inline styles).
const ALLOWED_TAGS: &[&str] = &[
    "!doctype", "html", "head", "meta", "title", "body", "p", "table", "tr", "td", "th", "span",
    "br", "code", "strong", "b", "em", "h1", "h2", "h3", "div", "ul", "li", "small",
];

/// `text` as a TOML basic string.
fn toml_str(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Runs the binary with `--config` and `--database` in the scratch folder,
/// off the runtime's threads, with extra environment variables.
async fn sw_env(scratch: &Scratch, args: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = scratch.dir.path().to_path_buf();
    let mut all: Vec<String> = ["--config", CONFIG, "--database", DB]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = all.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_in(&dir, &args, &env)
    })
    .await
    .unwrap()
}

async fn sw(scratch: &Scratch, args: &[&str]) -> Run {
    sw_env(scratch, args, &[]).await
}

/// Every outbox row, read through the library.
async fn outbox_rows(scratch: &Scratch) -> Vec<OutboxRow> {
    let store = Store::open(&scratch.path(DB), OpenMode::Existing)
        .await
        .unwrap();
    let rows = store.outbox().await.unwrap();
    store.close().await;
    rows
}

// ---------------------------------------------------------------------------
// Reading what the sink received.

/// The header section of a message or part: up to the first empty line.
fn head_of(data: &str) -> &str {
    data.split_once("\r\n\r\n").map_or(data, |(head, _)| head)
}

/// The header section's lines are `Name: value` with allowed names, or
/// folded continuations; none longer than RFC 5322's 998, none holding a
/// CR or LF of its own.
#[track_caller]
fn assert_clean_head(head: &str, what: &str) {
    let mut names = Vec::new();
    for line in head.split("\r\n") {
        assert!(
            !line.contains(['\r', '\n']),
            "{what}: a bare CR or LF in the header line {line:?}\n{head}"
        );
        assert!(
            line.len() <= 998,
            "{what}: a header line of {} bytes:\n{head}",
            line.len()
        );
        if line.starts_with([' ', '\t']) {
            assert!(!names.is_empty(), "{what}: starts with a continuation");
            continue;
        }
        let Some((name, _)) = line.split_once(':') else {
            panic!("{what}: not a header line: {line:?}\n{head}");
        };
        let name = name.to_ascii_lowercase();
        assert!(
            ALLOWED_HEADERS.contains(&name.as_str()),
            "{what}: injected or unexpected header {line:?}\n{head}"
        );
        names.push(name);
    }
    for once in ["subject", "from", "to", "bcc", "cc"] {
        assert!(
            names.iter().filter(|n| *n == once).count() <= 1,
            "{what}: {once} more than once\n{head}"
        );
    }
}

/// One MIME part: its header section and its decoded body.
struct Part {
    content_type: String,
    head: String,
    body: String,
}

/// The value of `name` (case-insensitive) in a header section, unfolded.
fn field(head: &str, name: &str) -> Option<String> {
    let mut value: Option<String> = None;
    let mut current = false;
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if current && let Some(v) = value.as_mut() {
                v.push_str(line);
            }
            continue;
        }
        if value.is_some() {
            break;
        }
        current = false;
        if let Some((n, v)) = line.split_once(':')
            && n.trim().eq_ignore_ascii_case(name)
        {
            value = Some(v.trim().to_owned());
            current = true;
        }
    }
    value
}

fn base64_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        acc = ((acc << 6) | u32::from(v)) & 0x00ff_ffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).unwrap_or(0));
        }
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

fn qp_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        match (bytes.get(i + 1), bytes.get(i + 2)) {
            (Some(b'\r'), Some(b'\n')) => i += 3,
            (Some(b'\n'), _) => i += 2,
            (Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push(hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0));
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The parts of a `multipart/*` message (or the message itself as one
/// part), each body decoded from its transfer encoding.
fn parts(mail: &ReceivedMail) -> Vec<Part> {
    let head = head_of(&mail.data);
    let content_type = mail.header("content-type").unwrap_or_default();
    let decode = |head: &str, body: &str| -> String {
        let encoding = field(head, "content-transfer-encoding")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let bytes = match encoding.as_str() {
            "base64" => base64_decode(body),
            "quoted-printable" => qp_decode(body),
            _ => body.as_bytes().to_vec(),
        };
        String::from_utf8(bytes).unwrap()
    };
    let Some(boundary) = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_owned())
    else {
        return vec![Part {
            content_type,
            head: head.to_owned(),
            body: decode(head, mail.body()),
        }];
    };
    let delimiter = format!("--{boundary}");
    let body = mail.body();
    let mut out = Vec::new();
    for chunk in body.split(delimiter.as_str()).skip(1) {
        if chunk.starts_with("--") {
            break;
        }
        let chunk = chunk.strip_prefix("\r\n").unwrap_or(chunk);
        let (part_head, part_body) = chunk.split_once("\r\n\r\n").unwrap_or((chunk, ""));
        let part_body = part_body.strip_suffix("\r\n").unwrap_or(part_body);
        out.push(Part {
            content_type: field(part_head, "content-type").unwrap_or_default(),
            head: part_head.to_owned(),
            body: decode(part_head, part_body),
        });
    }
    out
}

fn part<'a>(parts: &'a [Part], mime: &str) -> &'a Part {
    parts
        .iter()
        .find(|p| p.content_type.starts_with(mime))
        .unwrap_or_else(|| panic!("no {mime} part"))
}

/// No tag outside [`ALLOWED_TAGS`], no event-handler attribute, no script
/// or image anywhere, no `javascript:` URL.
#[track_caller]
fn assert_safe_html(html: &str, what: &str) {
    let lower = html.to_ascii_lowercase();
    for bad in [
        "<script",
        "<img",
        "<iframe",
        "<svg",
        "<object",
        "javascript:",
    ] {
        assert!(!lower.contains(bad), "{what}: {bad} in the HTML:\n{html}");
    }
    let mut rest = lower.as_str();
    while let Some(start) = rest.find('<') {
        let after = rest.get(start + 1..).unwrap_or("");
        let end = after.find('>').unwrap_or(after.len());
        let tag = after.get(..end).unwrap_or("");
        let name = tag
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("");
        assert!(
            ALLOWED_TAGS.contains(&name),
            "{what}: unexpected tag <{tag}> in the HTML:\n{html}"
        );
        // Attributes: `name=` after whitespace; none may be an on* handler.
        for word in tag.split_whitespace().skip(1) {
            assert!(
                !word.starts_with("on"),
                "{what}: an event handler in <{tag}>:\n{html}"
            );
        }
        rest = after.get(end..).unwrap_or("");
    }
}

// ---------------------------------------------------------------------------
// Servers of our own: TLS with a chosen certificate, and an implicit-TLS
// proxy in front of the sink.

/// Serves `leaf` on 127.0.0.1 until the world stops, answering any
/// request with a page whose Server header is hostile too; returns the port.
pub(crate) async fn serve_leaf(world: &World, leaf: &supplywatch_testworld::Leaf) -> u16 {
    let acceptor = TlsAcceptor::from(server_config(leaf, MODERN).unwrap());
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let token = world.shutdown_token().clone();
    world.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let token = token.clone();
            tokio::spawn(async move {
                tokio::select! {
                    () = token.cancelled() => {}
                    () = answer_page(acceptor, stream) => {}
                }
            });
        }
    });
    port
}

async fn answer_page(acceptor: TlsAcceptor, stream: TcpStream) {
    let Ok(mut tls) = acceptor.accept(stream).await else {
        return;
    };
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match tls.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(buf.get(..n).unwrap_or_default()),
        }
    }
    let body = format!("<p>{SCRIPT}</p>");
    let reply = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\nserver: Evil/2.0 {SCRIPT}\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tls.write_all(reply.as_bytes()).await;
    let _ = tls.shutdown().await;
}

/// A certificate for `localhost` from `pki`'s test intermediate, as a
/// rustls server config for the sink or the proxy.
fn localhost_tls(pki: &Pki) -> Arc<rustls::ServerConfig> {
    let leaf = pki
        .issue(&LeafSpec::issued("localhost", pki.now(), 1, 30))
        .unwrap();
    server_config(&leaf, MODERN).unwrap()
}

/// An implicit-TLS front for `backend`: TLS with `config`, then the bytes
/// relayed both ways. Returns its port and the count of completed
/// handshakes; it stops with the returned task handle.
async fn tls_proxy(
    config: Arc<rustls::ServerConfig>,
    backend: std::net::SocketAddr,
) -> (u16, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&handshakes);
    let acceptor = TlsAcceptor::from(config);
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let Ok(mut plain) = TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (port, handshakes, task)
}

// ---------------------------------------------------------------------------
// 1. Hostile content end to end.

/// A security.txt full of hostile values, expired a week ago.
fn hostile_security_txt() -> String {
    let expired = (chrono::Utc::now() - chrono::TimeDelta::days(7))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    format!(
        "Contact: {SCRIPT}\nContact: mailto:a@b.test{BCC}\nContact: {IMG}\n\
         Policy: http://x.test/{SCRIPT}\nExpires: {expired}\n"
    )
}

/// The hostile world: a domain whose TXT, SPF, DMARC, MTA-STS and TLS-RPT
/// records carry injections, a site with a hostile security.txt and header
/// values, a self-signed certificate and one for the wrong names, both
/// with hostile names, and the world's expired endpoint. Returns the world
/// and the supplier's endpoints.
async fn hostile_world() -> (World, Vec<String>) {
    let domain = MailDomain::good(DOMAIN).with(|z| {
        z.spf = vec![format!("v=spf1 ip4:192.0.2.0/24 {IMG}{BCC} +all")];
        z.dmarc = vec![format!("v=DMARC1; p={SCRIPT}{BCC}; rua=mailto:{IMG}")];
        z.sts = vec![format!("v=STSv1; id={SCRIPT}{BCC}")];
        z.tlsrpt = vec![format!("v=TLSRPTv1; rua=mailto:{IMG}{BCC}")];
        z.extra = vec![DnsRecord::txt(DOMAIN, [format!("{SCRIPT}{BCC}{IMG}")])];
    });
    let page = Reply::secure_page()
        .replace("server", &format!("Apache/2.4.1 {SCRIPT}"))
        .header("x-powered-by", &format!("PHP/8.1.2 {IMG}"))
        .header("x-note", &format!("a{BCC}"));
    let world = WorldBuilder::default()
        .records(domain.records().unwrap())
        .record(DnsRecord::a(SELF_SIGNED, Ipv4Addr::LOCALHOST))
        .record(DnsRecord::a(MISMATCH, Ipv4Addr::LOCALHOST))
        .site(
            SITE,
            SiteSpec::https()
                .root(page)
                .security_txt_text(&hostile_security_txt()),
        )
        .start()
        .await
        .unwrap();
    let pki = world.pki();
    // rcgen takes any ASCII as a DNS name; the first name is the CN too.
    let self_signed = pki
        .issue(
            &LeafSpec::issued(format!("{SCRIPT}{IMG}"), pki.now(), 10, 90)
                .names([format!("{SCRIPT}{IMG}"), SELF_SIGNED.to_owned()])
                .authority(Authority::SelfSigned),
        )
        .unwrap();
    let mismatch = pki
        .issue(&LeafSpec::issued(SCRIPT, pki.now(), 10, 90).names([
            SCRIPT.to_owned(),
            format!("x{BCC}"),
            IMG.to_owned(),
        ]))
        .unwrap();
    let self_signed_port = serve_leaf(&world, &self_signed).await;
    let mismatch_port = serve_leaf(&world, &mismatch).await;
    let endpoints = vec![
        world.site_endpoint(SITE),
        format!("{SELF_SIGNED}:{self_signed_port}"),
        format!("{MISMATCH}:{mismatch_port}"),
        world.endpoint(TlsCase::Expired),
    ];
    (world, endpoints)
}

/// The supplier's name: markup, but no control characters (the config
/// refuses those in names).
fn hostile_name() -> String {
    format!("Evil {SCRIPT} {IMG} Corp")
}

fn hostile_config(world: &World, endpoints: &[String], smtp_port: u16) -> String {
    let list = endpoints
        .iter()
        .map(|e| toml_str(e))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "[daemon]\ntimezone = \"UTC\"\nprobe_jitter_secs = 0\n\n\
         [probe]\nnameservers = [\"{}\"]\nextra_roots = [{}]\ntimeout_secs = 3\nallow_private_targets = true\n\n\
         [email]\nfrom = \"{FROM}\"\ntransport = \"smtp\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {smtp_port}\ntls = \"none\"\n\n\
         [contacts]\nrisk_manager = [\"{RISK}\"]\nciso = [\"{CISO}\"]\n\n\
         [[supplier]]\nid = \"evil\"\nname = {}\ncriticality = \"critical\"\n\
         domains = [\"{DOMAIN}\"]\nendpoints = [{list}]\n",
        world.dns,
        toml_str(&world.roots_pem.display().to_string()),
        toml_str(&hostile_name()),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_content_never_becomes_a_header_a_tag_or_an_attribute() {
    let (world, endpoints) = hostile_world().await;
    let sink = SmtpSink::start_with(SinkOptions::default().within(world.shutdown_token()))
        .await
        .unwrap();
    let scratch = Scratch::new();
    scratch.write(CONFIG, hostile_config(&world, &endpoints, sink.port()));

    let run = sw(&scratch, &["run", "--once", "--digest"]).await;
    run.expect_code(0);
    assert!(
        run.stderr.contains(": 3 sent, 0 to retry, 0 given up"),
        "one alert and two digests:\n{}",
        run.stderr
    );

    // What fired, and that the hostile content is really in it.
    let store = Store::open(&scratch.path(DB), OpenMode::Existing)
        .await
        .unwrap();
    let findings = store
        .findings(&FindingFilter {
            supplier: Some("evil".to_owned()),
            min_severity: None,
            state: Some(FindingState::Open),
            since: None,
        })
        .await
        .unwrap();
    store.close().await;
    let mut summary = String::new();
    for f in &findings {
        let _ = writeln!(
            summary,
            "{} {} {} {:?}",
            f.severity.as_str(),
            f.check,
            f.target,
            f.summary
        );
    }
    let high: BTreeSet<&str> = findings
        .iter()
        .filter(|f| f.severity >= Severity::High)
        .map(|f| f.check.as_str())
        .collect();
    for id in [
        "email.dmarc_missing",
        "tls.self_signed",
        "tls.hostname_mismatch",
        "tls.cert_expired",
    ] {
        assert!(high.contains(id), "{id} is not open at high:\n{summary}");
    }
    assert!(
        findings.iter().any(|f| f.summary.contains(SCRIPT)),
        "no summary carries the script:\n{summary}"
    );
    assert!(
        findings.iter().any(|f| f.summary.contains("onerror=")),
        "no summary carries the attribute breakout:\n{summary}"
    );

    let mail = sink.messages();
    assert_eq!(mail.len(), 3, "{mail:#?}");
    for m in &mail {
        let id = m.header("message-id").unwrap();
        assert_clean_head(head_of(&m.data), &id);
        for p in parts(m) {
            assert_clean_head(&p.head, &format!("{id}, part {}", p.content_type));
        }
        assert_eq!(m.headers("subject").len(), 1, "{id}");
        assert!(m.headers("bcc").is_empty() && m.headers("cc").is_empty());
        assert_eq!(m.rcpt_to.len(), 1, "{id}: {:?}", m.rcpt_to);
        assert!(
            !m.rcpt_to.iter().any(|r| r.contains("evil@x.test")),
            "{id}: {:?}",
            m.rcpt_to
        );
        assert_eq!(
            m.header("auto-submitted").as_deref(),
            Some("auto-generated")
        );
    }

    // The alert: to the risk manager, about every high finding, with a
    // one-line subject naming the supplier as configured.
    let alerts: Vec<&ReceivedMail> = mail
        .iter()
        .filter(|m| m.header("message-id").unwrap().starts_with("<alert.evil."))
        .collect();
    assert_eq!(alerts.len(), 1, "{mail:#?}");
    let alert = alerts[0];
    assert_eq!(alert.rcpt_to, [RISK]);
    assert_eq!(
        alert.header("subject").unwrap(),
        format!("[supplywatch] {} (evil)", hostile_name())
    );
    let alert_parts = parts(alert);
    let text = &part(&alert_parts, "text/plain").body;
    for id in &high {
        assert!(text.contains(id), "the alert does not name {id}:\n{text}");
    }
    assert!(
        !text.replace("\r\n", "\n").contains('\r'),
        "a bare CR in the text part:\n{text:?}"
    );
    let html = &part(&alert_parts, "text/html").body;
    assert_safe_html(html, "alert");
    assert!(html.contains("&lt;script&gt;"), "not escaped:\n{html}");
    for id in &high {
        assert!(html.contains(id), "the alert HTML does not name {id}");
    }

    // The digest: to the risk manager and the CISO, escaped likewise, and
    // (as the digest promises) no `=` or `:` of hostile text left either.
    let digests: Vec<&ReceivedMail> = mail
        .iter()
        .filter(|m| m.header("message-id").unwrap().starts_with("<digest."))
        .collect();
    let mut to: Vec<&str> = digests.iter().map(|m| m.rcpt_to[0].as_str()).collect();
    to.sort_unstable();
    assert_eq!(to, [CISO, RISK]);
    for digest in digests {
        let digest_parts = parts(digest);
        let html = &part(&digest_parts, "text/html").body;
        assert_safe_html(html, "digest");
        assert!(
            !html.contains("onerror="),
            "digest: onerror= survives:\n{html}"
        );
        assert!(html.contains("&lt;script&gt;"), "not escaped:\n{html}");
        let text = &part(&digest_parts, "text/plain").body;
        assert!(
            !text.replace("\r\n", "\n").contains('\r'),
            "a bare CR in the digest text:\n{text:?}"
        );
        assert!(text.contains("tls.self_signed"), "{text}");
        assert!(
            !text.lines().any(|l| l.trim_start().starts_with("Bcc:")),
            "a forged line in the digest text:\n{text}"
        );
    }

    // `digest --html` writes the same escaped HTML.
    let run = sw(&scratch, &["digest", "--html", "digest.html"]).await;
    run.expect_code(0);
    let html = std::fs::read_to_string(scratch.path("digest.html")).unwrap();
    assert_safe_html(&html, "digest --html");
    assert!(!html.contains("onerror="), "digest --html:\n{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
}

/// `run --once` over the hostile world; the one alert it sends.
async fn hostile_alert() -> ReceivedMail {
    let (world, endpoints) = hostile_world().await;
    let sink = SmtpSink::start_with(SinkOptions::default().within(world.shutdown_token()))
        .await
        .unwrap();
    let scratch = Scratch::new();
    scratch.write(CONFIG, hostile_config(&world, &endpoints, sink.port()));
    sw(&scratch, &["run", "--once"]).await.expect_code(0);
    let mail = sink.messages();
    mail.iter()
        .find(|m| m.header("message-id").unwrap().starts_with("<alert.evil."))
        .unwrap_or_else(|| panic!("no alert: {mail:#?}"))
        .clone()
}

/// The digest writes `=` and `:` of untrusted text as character
/// references, "so that no attribute-like (`onerror=`) or URL-like text
/// survives even as inert characters"; the alert's HTML only escapes
/// `<>&"'`, so `onerror=alert(1)` is in its source (inert, inside
/// `&lt;img …&gt;`).
#[tokio::test(flavor = "multi_thread")]
async fn alert_html_keeps_no_attribute_like_text() {
    let alert = hostile_alert().await;
    let alert_parts = parts(&alert);
    let html = &part(&alert_parts, "text/html").body;
    assert_safe_html(html, "alert");
    assert!(
        !html.contains("onerror="),
        "alert: onerror= survives:\n{html}"
    );
}

/// A CR/LF in a certificate name (here the SAN `x\r\nBcc: evil@x.test`)
/// reaches the alert's text part through `mail::text::plain`, which keeps
/// LF: the summary of `tls.hostname_mismatch` spans two lines, the second
/// starting `Bcc: evil@x.test`, so server-controlled text can forge lines
/// (another "- CRITICAL …" finding) in the alert. The digest puts each
/// summary on one line (`header_line`).
#[tokio::test(flavor = "multi_thread")]
async fn alert_text_keeps_each_finding_on_one_line() {
    let alert = hostile_alert().await;
    let alert_parts = parts(&alert);
    let text = part(&alert_parts, "text/plain").body.replace("\r\n", "\n");
    let mut lines = text.lines();
    let intro = lines.next().unwrap();
    assert!(intro.contains("new findings"), "{text}");
    // A finding's plain meaning follows it on a line of its own: one of
    // the catalogue's texts, never server-controlled.
    let meanings: Vec<String> = supplywatch::registry::CheckId::ALL
        .iter()
        .map(|id| format!("  What it means: {}", id.meaning()))
        .collect();
    for line in lines {
        assert!(
            line.is_empty()
                || line.starts_with("- ")
                || line.starts_with("See `supplywatch")
                || meanings.iter().any(|m| m == line),
            "a line no finding starts: {line:?}\n{text}"
        );
    }
    assert!(text.contains("  What it means: "), "{text}");
}

// ---------------------------------------------------------------------------
// 2. STARTTLS and AUTH.

/// Acme: critical, no probe targets, an ISO 27001 certificate that expired
/// in 2020 (`certification.expired`, high: one alert).
const ACME: &str = "[[supplier]]\nid = \"acme\"\nname = \"Acme Cloud\"\ncriticality = \"critical\"\n\
                    certifications = [{ kind = \"ISO 27001\", expires = 2020-01-01 }]\n";

/// A config sending through `localhost:port` with `email` lines (tls,
/// username …), trusting `roots` when given.
fn tls_config(port: u16, email: &str, roots: Option<&Path>) -> String {
    let probe = roots.map_or_else(String::new, |r| {
        format!(
            "[probe]\nextra_roots = [{}]\n\n",
            toml_str(&r.display().to_string())
        )
    });
    format!(
        "[daemon]\ntimezone = \"UTC\"\nprobe_jitter_secs = 0\n\n{probe}\
         [email]\nfrom = \"{FROM}\"\ntransport = \"smtp\"\nsmtp_host = \"localhost\"\nsmtp_port = {port}\n{email}\n\
         [contacts]\nrisk_manager = [\"{RISK}\"]\n\n{ACME}"
    )
}

/// A fresh test PKI, its trusted roots written to the scratch folder.
fn pki_in(scratch: &Scratch) -> (Pki, std::path::PathBuf) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pki = Pki::generate(OffsetDateTime::now_utc() - TimeDuration::minutes(1)).unwrap();
    let roots = scratch.write("roots.pem", pki.trusted_roots_pem());
    (pki, roots)
}

const PASSWORD: &str = "s3cret pass";

#[tokio::test(flavor = "multi_thread")]
async fn starttls_and_auth_deliver_over_tls_with_either_password_source() {
    let scratch = Scratch::new();
    let (pki, roots) = pki_in(&scratch);
    let sink = SmtpSink::start_with(
        SinkOptions::default()
            .starttls(localhost_tls(&pki))
            .auth("alice", PASSWORD),
    )
    .await
    .unwrap();
    let email = "tls = \"starttls\"\nusername = \"alice\"\n";
    scratch.write(CONFIG, tls_config(sink.port(), email, Some(&roots)));

    let run = sw_env(
        &scratch,
        &["run", "--once"],
        &[("SUPPLYWATCH_SMTP_PASSWORD", PASSWORD)],
    )
    .await;
    run.expect_code(0);
    assert!(
        run.stderr.contains(&format!(
            "delivery via SMTP localhost:{}: 1 sent, 0 to retry, 0 given up",
            sink.port()
        )),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(PASSWORD), "{}", run.stderr);
    let mail = sink.messages();
    assert_eq!(mail.len(), 1, "{mail:#?}");
    assert!(mail[0].tls, "not sent over STARTTLS");
    assert_eq!(mail[0].auth_user.as_deref(), Some("alice"));
    assert_eq!(mail[0].rcpt_to, [RISK]);
    assert!(
        mail[0]
            .header("message-id")
            .unwrap()
            .starts_with("<alert.acme.")
    );

    // The same with the password in a file (its trailing newline ignored).
    let file = scratch.write("smtp-password", format!("{PASSWORD}\n"));
    let email = format!(
        "tls = \"starttls\"\nusername = \"alice\"\npassword_file = {}\n",
        toml_str(&file.display().to_string())
    );
    scratch.write(CONFIG, tls_config(sink.port(), &email, Some(&roots)));
    let run = sw(&scratch, &["digest", "--send"]).await;
    run.expect_code(0);
    let mail = sink.messages();
    assert_eq!(mail.len(), 2, "{}\n{mail:#?}", run.stderr);
    assert!(mail[1].tls && mail[1].auth_user.as_deref() == Some("alice"));
    assert!(
        mail[1]
            .header("message-id")
            .unwrap()
            .starts_with("<digest.")
    );
    let rows = outbox_rows(&scratch).await;
    assert!(rows.iter().all(|r| r.state == "sent"), "{rows:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_keeps_the_rows_waiting_naming_the_refusal() {
    let scratch = Scratch::new();
    let (pki, roots) = pki_in(&scratch);
    let sink = SmtpSink::start_with(
        SinkOptions::default()
            .starttls(localhost_tls(&pki))
            .auth("alice", PASSWORD),
    )
    .await
    .unwrap();
    let email = "tls = \"starttls\"\nusername = \"alice\"\n";
    scratch.write(CONFIG, tls_config(sink.port(), email, Some(&roots)));

    let run = sw_env(
        &scratch,
        &["run", "--once"],
        &[("SUPPLYWATCH_SMTP_PASSWORD", "wrong password")],
    )
    .await;
    // Nothing delivered: exit 3, the row stays queued.
    run.expect_code(3);
    assert!(
        run.stderr.contains("nothing could be delivered"),
        "{}",
        run.stderr
    );
    // A refused login is the config's problem, not the message's: the row
    // waits (with backoff) for the password to be fixed.
    assert!(
        run.stderr.contains(": 0 sent, 1 to retry, 0 given up"),
        "a 535 keeps the row:\n{}",
        run.stderr
    );
    assert!(sink.messages().is_empty());
    assert!(sink.connections() >= 1);
    let rows = outbox_rows(&scratch).await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!((rows[0].state.as_str(), rows[0].attempts), ("queued", 1));
    let error = rows[0].last_error.clone().unwrap();
    assert!(
        error.contains("535") && error.contains("authentication"),
        "{error}"
    );
    assert!(!error.contains("wrong password"), "{error}");
    assert!(!run.stderr.contains("wrong password"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_certificate_or_no_starttls_is_a_failure_not_clear_text() {
    // The sink's certificate is from a CA the config does not trust.
    let scratch = Scratch::new();
    let (pki, _roots) = pki_in(&scratch);
    let sink = SmtpSink::start_with(
        SinkOptions::default()
            .starttls(localhost_tls(&pki))
            .auth("alice", PASSWORD),
    )
    .await
    .unwrap();
    let email = "tls = \"starttls\"\nusername = \"alice\"\n";
    scratch.write(CONFIG, tls_config(sink.port(), email, None));
    let run = sw_env(
        &scratch,
        &["run", "--once"],
        &[("SUPPLYWATCH_SMTP_PASSWORD", PASSWORD)],
    )
    .await;
    // Nothing delivered: exit 3, the row stays queued.
    run.expect_code(3);
    assert!(
        run.stderr.contains("nothing could be delivered"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(": 0 sent, 1 to retry, 0 given up"),
        "{}",
        run.stderr
    );
    assert!(sink.messages().is_empty());
    assert!(sink.connections() >= 1, "it never tried");
    let rows = outbox_rows(&scratch).await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!((rows[0].state.as_str(), rows[0].attempts), ("queued", 1));
    let error = rows[0].last_error.clone().unwrap();
    assert!(
        error.contains("invalid peer certificate") && error.contains("UnknownIssuer"),
        "{error}"
    );

    // A server that offers no STARTTLS at all: not even tried in clear.
    let plain = SmtpSink::start().await.unwrap();
    let scratch = Scratch::new();
    let email = "tls = \"starttls\"\n";
    scratch.write(CONFIG, tls_config(plain.port(), email, None));
    let run = sw(&scratch, &["run", "--once"]).await;
    // Nothing delivered: exit 3, the row stays queued.
    run.expect_code(3);
    assert!(
        run.stderr.contains("nothing could be delivered"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(": 0 sent, 1 to retry, 0 given up"),
        "{}",
        run.stderr
    );
    assert!(plain.messages().is_empty(), "sent in clear");
    assert!(plain.connections() >= 1, "it never tried");
    let rows = outbox_rows(&scratch).await;
    assert_eq!((rows[0].state.as_str(), rows[0].attempts), ("queued", 1));
    let error = rows[0].last_error.clone().unwrap();
    assert!(error.contains("STARTTLS is not supported"), "{error}");
}

// ---------------------------------------------------------------------------
// 3. Implicit TLS.

#[tokio::test(flavor = "multi_thread")]
async fn implicit_tls_delivers_through_a_tls_front_and_fails_against_plain_smtp() {
    let scratch = Scratch::new();
    let (pki, roots) = pki_in(&scratch);
    // The sink speaks plain SMTP with AUTH; the proxy wraps it in TLS.
    let sink = SmtpSink::start_with(SinkOptions::default().auth("alice", PASSWORD))
        .await
        .unwrap();
    let (port, handshakes, proxy) = tls_proxy(localhost_tls(&pki), sink.addr()).await;
    let email = "tls = \"tls\"\nusername = \"alice\"\n";
    scratch.write(CONFIG, tls_config(port, email, Some(&roots)));
    let run = sw_env(
        &scratch,
        &["run", "--once"],
        &[("SUPPLYWATCH_SMTP_PASSWORD", PASSWORD)],
    )
    .await;
    run.expect_code(0);
    assert!(
        run.stderr.contains(": 1 sent, 0 to retry, 0 given up"),
        "{}",
        run.stderr
    );
    let mail = sink.messages();
    assert_eq!(mail.len(), 1, "{mail:#?}");
    assert_eq!(mail[0].auth_user.as_deref(), Some("alice"));
    assert!(handshakes.load(Ordering::SeqCst) >= 1);
    proxy.abort();

    // `tls = "tls"` against a server that greets in clear: no mail.
    let scratch = Scratch::new();
    let (_pki, roots) = pki_in(&scratch);
    let plain = SmtpSink::start().await.unwrap();
    scratch.write(
        CONFIG,
        tls_config(plain.port(), "tls = \"tls\"\n", Some(&roots)),
    );
    let run = sw(&scratch, &["run", "--once"]).await;
    // Nothing delivered: exit 3, the row stays queued.
    run.expect_code(3);
    assert!(
        run.stderr.contains("nothing could be delivered"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(": 0 sent, 1 to retry, 0 given up"),
        "{}",
        run.stderr
    );
    assert!(plain.messages().is_empty());
    let rows = outbox_rows(&scratch).await;
    assert_eq!(rows[0].state, "queued");
}
