//! The TLS cases: one listener on 127.0.0.1:0 per [`TlsCase`], each serving
//! one kind of certificate or handshake behaviour under the host name
//! `<case-name>.tls.test`.
//!
//! Most cases are a rustls server (via tokio-rustls) that, after the
//! handshake, answers one HTTP/1.1 request like a well-configured site
//! (secure headers, a current security.txt), so HTTP clients can use them
//! too and a case raises only its own TLS finding. `Rsa1024` and the TLS 1.0/1.1 branch of `Legacy` are raw
//! responders built on [`crate::raw`]; `Stall` and `Closed` never speak TLS.
//! Depends on [`crate::pki`], [`crate::raw`] and [`crate::task`].

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use rustls::ServerConfig;
use rustls::version::{TLS12, TLS13};
use rustls::{SupportedProtocolVersion, crypto::ring};
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::pki::{Authority, Leaf, LeafKey, LeafSpec, Pki, fixtures};
use crate::raw;
use crate::task::serve_tcp;

/// The DNS suffix under which every case is named.
pub const TLS_DOMAIN: &str = "tls.test";

/// How long a handshake (or the raw ClientHello) may take before the server
/// gives up on the connection.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long raw responders wait for the client to hang up after their flight.
const RAW_LINGER: Duration = Duration::from_secs(2);
/// How long `Stall` holds each connection open without a byte.
pub const STALL_HOLD: Duration = Duration::from_secs(60);
/// Largest ClientHello the raw responders read or peek at.
const MAX_HELLO: usize = raw::MAX_FRAGMENT + 5;

/// One behaviour of a TLS endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TlsCase {
    /// Valid ECDSA P-256 leaf (issued 10 days ago, 90-day lifetime) plus
    /// intermediate; TLS 1.3 and 1.2.
    GoodEcdsa,
    /// As `GoodEcdsa` with the committed RSA-2048 key.
    GoodRsa,
    /// notAfter three days ago (90-day lifetime).
    Expired,
    /// notAfter in five days (90-day lifetime).
    Expiring,
    /// notBefore in two days.
    NotYetValid,
    /// SAN is only `other.example.test`; served at `wrong-host.tls.test`.
    WrongHost,
    /// A self-signed leaf.
    SelfSigned,
    /// Leaf and intermediate under the untrusted Rogue root.
    UntrustedRoot,
    /// Leaf from the trusted intermediate, sent without the intermediate.
    IncompleteChain,
    /// Leaf with an RSA-1024 key; a raw responder sends ServerHello (TLS 1.2,
    /// 0xC02F), Certificate (leaf + intermediate), a ServerKeyExchange with a
    /// signature nobody can verify, and ServerHelloDone, and never finishes
    /// the handshake.
    Rsa1024,
    /// The committed leaf signed with sha1WithRSAEncryption by the fixture
    /// root (which is trusted); served alone.
    Sha1,
    /// Valid chain whose leaf lives 400 days (issued 10 days ago).
    LongValidity,
    /// Valid chain, TLS 1.2 only.
    Tls12Only,
    /// Valid chain over TLS 1.3/1.2 for modern hellos; a TLS 1.0/1.1 hello
    /// (client_version <= 0x0302, no supported_versions) gets a raw
    /// ServerHello in the client's version plus Certificate and
    /// ServerHelloDone.
    Legacy,
    /// An old server that speaks SSL 3.0 only (RFC 6101) with the suites
    /// `TLS_RSA_WITH_RC4_128_SHA` and `TLS_RSA_WITH_3DES_EDE_CBC_SHA`: any
    /// hello offering one gets an SSL 3.0 ServerHello (the version a server
    /// answers with is the highest it has up to the client's), Certificate
    /// and ServerHelloDone; others a fatal `handshake_failure` alert.
    Ssl3Only,
    /// An old server that speaks TLS 1.0 only with exactly one suite,
    /// `TLS_RSA_WITH_CAMELLIA_128_CBC_SHA`; an SSL 3.0 hello gets a
    /// `protocol_version` alert, one without the suite `handshake_failure`.
    CamelliaOnly,
    /// A leaf (issued 10 days ago, 90-day lifetime) under the test root's
    /// intermediate that expired three days ago; both sent.
    ExpiredIntermediate,
    /// A leaf under the lower of two stacked intermediates, sent with the
    /// lower one only: the upper one, between it and the root, is missing.
    MissingIntermediate,
    /// The committed leaf signed with RSASSA-PSS over SHA-1 (RFC 4055
    /// default parameters) by the fixture PSS root (which is trusted);
    /// served alone.
    PssSha1,
    /// A valid chain whose leaf's only SAN is the dNSName `127.0.0.1`; to
    /// be probed as `127.0.0.1:<port>`, which only an iPAddress SAN matches.
    IpAsDnsName,
    /// Accepts TCP and never sends a byte.
    Stall,
    /// Nothing listens on the port.
    Closed,
}

impl TlsCase {
    /// Every case, in declaration order.
    pub const ALL: [Self; 22] = [
        Self::GoodEcdsa,
        Self::GoodRsa,
        Self::Expired,
        Self::Expiring,
        Self::NotYetValid,
        Self::WrongHost,
        Self::SelfSigned,
        Self::UntrustedRoot,
        Self::IncompleteChain,
        Self::Rsa1024,
        Self::Sha1,
        Self::LongValidity,
        Self::Tls12Only,
        Self::Legacy,
        Self::Ssl3Only,
        Self::CamelliaOnly,
        Self::ExpiredIntermediate,
        Self::MissingIntermediate,
        Self::PssSha1,
        Self::IpAsDnsName,
        Self::Stall,
        Self::Closed,
    ];

    /// The kebab-case name, e.g. `not-yet-valid`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::GoodEcdsa => "good-ecdsa",
            Self::GoodRsa => "good-rsa",
            Self::Expired => "expired",
            Self::Expiring => "expiring",
            Self::NotYetValid => "not-yet-valid",
            Self::WrongHost => "wrong-host",
            Self::SelfSigned => "self-signed",
            Self::UntrustedRoot => "untrusted-root",
            Self::IncompleteChain => "incomplete-chain",
            Self::Rsa1024 => "rsa1024",
            Self::Sha1 => "sha1",
            Self::LongValidity => "long-validity",
            Self::Tls12Only => "tls12-only",
            Self::Legacy => "legacy",
            Self::Ssl3Only => "ssl3-only",
            Self::CamelliaOnly => "camellia-only",
            Self::ExpiredIntermediate => "expired-intermediate",
            Self::MissingIntermediate => "missing-intermediate",
            Self::PssSha1 => "pss-sha1",
            Self::IpAsDnsName => "ip-as-dns-name",
            Self::Stall => "stall",
            Self::Closed => "closed",
        }
    }

    /// The host name the case is served under: `<name>.tls.test`.
    #[must_use]
    pub fn host(self) -> String {
        format!("{}.{TLS_DOMAIN}", self.name())
    }

    /// The case with this kebab-case name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for TlsCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// TLS 1.3 and 1.2.
pub const MODERN: &[&SupportedProtocolVersion] = &[&TLS13, &TLS12];
/// TLS 1.2 only.
pub const TLS12_ONLY: &[&SupportedProtocolVersion] = &[&TLS12];

/// A rustls server config (ring provider, no client auth, no ALPN) serving
/// `leaf`'s chain.
///
/// # Errors
/// When the leaf has no private key, or rustls refuses the key or chain.
pub fn server_config(
    leaf: &Leaf,
    versions: &[&'static SupportedProtocolVersion],
) -> anyhow::Result<Arc<ServerConfig>> {
    let key = leaf
        .key
        .as_ref()
        .context("a leaf without a private key cannot be served by rustls")?
        .clone_key();
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_protocol_versions(versions)
        .context("protocol versions")?
        .with_no_client_auth()
        .with_single_cert(leaf.chain.clone(), key)
        .context("rustls refused the leaf's chain or key")?;
    Ok(Arc::new(config))
}

/// How a case is served.
enum Serving {
    Rustls(Arc<ServerConfig>),
    Raw(Arc<Vec<CertificateDer<'static>>>),
    Legacy(Arc<ServerConfig>, Arc<Vec<CertificateDer<'static>>>),
    Old(OldServer, Arc<Vec<CertificateDer<'static>>>),
    Stall,
    Closed,
}

/// What the world needs to know about a started case.
#[derive(Debug, Clone)]
pub struct CaseEndpoint {
    /// Where it listens (for `Closed`, where nothing does).
    pub addr: SocketAddr,
    /// The chain the server sends (empty for `Stall` and `Closed`).
    pub chain: Vec<CertificateDer<'static>>,
}

/// The leaf spec for a case issued by the world's PKI.
fn spec_for(case: TlsCase, now: OffsetDateTime) -> LeafSpec {
    let host = case.host();
    let good = LeafSpec::issued(host.clone(), now, 10, 90);
    match case {
        TlsCase::GoodRsa => good.key(LeafKey::Pkcs8Pem(fixtures::GOOD_RSA_KEY_PEM.to_owned())),
        TlsCase::Expired => {
            let not_after = now - time::Duration::days(3);
            LeafSpec::new(host, not_after - time::Duration::days(90), not_after)
        }
        TlsCase::Expiring => {
            let not_after = now + time::Duration::days(5);
            LeafSpec::new(host, not_after - time::Duration::days(90), not_after)
        }
        TlsCase::NotYetValid => {
            let not_before = now + time::Duration::days(2);
            LeafSpec::new(host, not_before, not_before + time::Duration::days(90))
        }
        TlsCase::WrongHost => good.names(["other.example.test"]),
        TlsCase::SelfSigned => good.authority(Authority::SelfSigned),
        TlsCase::UntrustedRoot => good.authority(Authority::RogueIntermediate),
        TlsCase::IncompleteChain => good.send_intermediate(false),
        TlsCase::Rsa1024 => good.key(LeafKey::PublicKeyPem(
            fixtures::RSA1024_PUBLIC_KEY_PEM.to_owned(),
        )),
        TlsCase::LongValidity => LeafSpec::issued(host, now, 10, 400),
        TlsCase::ExpiredIntermediate => good.authority(Authority::ExpiredIntermediate),
        TlsCase::MissingIntermediate => good.authority(Authority::LowerIntermediate),
        TlsCase::IpAsDnsName => good.names(["127.0.0.1"]).names_as_dns(),
        TlsCase::GoodEcdsa
        | TlsCase::Sha1
        | TlsCase::Tls12Only
        | TlsCase::Legacy
        | TlsCase::PssSha1
        | TlsCase::Ssl3Only
        | TlsCase::CamelliaOnly
        | TlsCase::Stall
        | TlsCase::Closed => good,
    }
}

fn plan(case: TlsCase, pki: &Pki) -> anyhow::Result<(Serving, Vec<CertificateDer<'static>>)> {
    let issue = || {
        pki.issue(&spec_for(case, pki.now()))
            .with_context(|| format!("issuing the {case} leaf"))
    };
    Ok(match case {
        TlsCase::Stall => (Serving::Stall, Vec::new()),
        TlsCase::Closed => (Serving::Closed, Vec::new()),
        TlsCase::Rsa1024 => {
            let leaf = issue()?;
            (Serving::Raw(Arc::new(leaf.chain.clone())), leaf.chain)
        }
        TlsCase::PssSha1 => {
            let leaf = Leaf::pss_sha1_fixture()?;
            (Serving::Rustls(server_config(&leaf, MODERN)?), leaf.chain)
        }
        TlsCase::Sha1 => {
            let leaf = Leaf::sha1_fixture()?;
            (Serving::Rustls(server_config(&leaf, MODERN)?), leaf.chain)
        }
        TlsCase::Legacy => {
            let leaf = issue()?;
            let config = server_config(&leaf, MODERN)?;
            (
                Serving::Legacy(config, Arc::new(leaf.chain.clone())),
                leaf.chain,
            )
        }
        TlsCase::Ssl3Only | TlsCase::CamelliaOnly => {
            let leaf = issue()?;
            let old = if case == TlsCase::Ssl3Only {
                SSL3_ONLY
            } else {
                CAMELLIA_ONLY
            };
            (Serving::Old(old, Arc::new(leaf.chain.clone())), leaf.chain)
        }
        TlsCase::Tls12Only => {
            let leaf = issue()?;
            (
                Serving::Rustls(server_config(&leaf, TLS12_ONLY)?),
                leaf.chain,
            )
        }
        _ => {
            let leaf = issue()?;
            (Serving::Rustls(server_config(&leaf, MODERN)?), leaf.chain)
        }
    })
}

/// Issues the case's certificates and starts serving it on 127.0.0.1:0
/// until `shutdown` is cancelled.
///
/// # Errors
/// When issuing fails or no port can be bound.
pub async fn start_case(
    case: TlsCase,
    pki: &Pki,
    shutdown: &CancellationToken,
) -> anyhow::Result<CaseEndpoint> {
    let (serving, chain) = plan(case, pki)?;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .with_context(|| format!("binding a port for {case}"))?;
    let addr = listener.local_addr().context("listener address")?;
    match serving {
        Serving::Closed => drop(listener),
        Serving::Stall => serve_tcp(listener, shutdown, stall),
        Serving::Rustls(config) => {
            let acceptor = TlsAcceptor::from(config);
            serve_tcp(listener, shutdown, move |stream| {
                serve_rustls(acceptor.clone(), stream)
            });
        }
        Serving::Raw(chain) => serve_tcp(listener, shutdown, move |stream| {
            serve_raw(Arc::clone(&chain), stream)
        }),
        Serving::Old(old, chain) => serve_tcp(listener, shutdown, move |stream| {
            serve_old(old, Arc::clone(&chain), stream)
        }),
        Serving::Legacy(config, chain) => {
            let acceptor = TlsAcceptor::from(config);
            serve_tcp(listener, shutdown, move |stream| {
                serve_legacy(acceptor.clone(), Arc::clone(&chain), stream)
            });
        }
    }
    Ok(CaseEndpoint { addr, chain })
}

async fn stall(stream: TcpStream) {
    tokio::time::sleep(STALL_HOLD).await;
    drop(stream);
}

/// Completes a rustls handshake, then answers one HTTP/1.1 request, if the
/// client sends one, like a well-configured site. Failures are the point of most cases,
/// so they are simply the end of the connection.
async fn serve_rustls(acceptor: TlsAcceptor, stream: TcpStream) {
    let _ = rustls_session(acceptor, stream).await;
}

async fn rustls_session(acceptor: TlsAcceptor, stream: TcpStream) -> anyhow::Result<()> {
    let mut tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
        .await
        .context("handshake timed out")??;
    let mut request = Vec::new();
    let mut buf = [0u8; 2048];
    let read_request = async {
        while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 64 * 1024 {
            let n = tls.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            request.extend_from_slice(buf.get(..n).unwrap_or_default());
        }
        anyhow::Ok(())
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, read_request)
        .await
        .context("request timed out")??;
    if !request.is_empty() {
        tls.write_all(&case_http_response(&request)).await?;
    }
    tls.shutdown().await?;
    Ok(())
}

/// The headers a well-configured site sends: HSTS for a year (with
/// subdomains), a CSP with `frame-ancestors`, `X-Frame-Options`,
/// `nosniff`, a Referrer-Policy, and a `Server` without a version.
#[must_use]
pub fn secure_headers() -> Vec<(String, String)> {
    [
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
        ("referrer-policy", "strict-origin-when-cross-origin"),
        ("server", "nginx"),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_owned(), v.to_owned()))
    .collect()
}

/// What a TLS case answers over HTTP: everything else about it is in
/// order (secure headers on `/`, a current security.txt), so that a case
/// raises only its own TLS finding.
fn case_http_response(request: &[u8]) -> Vec<u8> {
    let path = request
        .split(|b| *b == b' ')
        .nth(1)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap_or_default();
    let (content_type, body) = if path == "/.well-known/security.txt" {
        // The day only: the same body on every request of a day, as a real
        // server's file is.
        let expires = (chrono::Utc::now() + chrono::TimeDelta::days(90))
            .format("%Y-%m-%dT00:00:00Z")
            .to_string();
        (
            "text/plain; charset=utf-8",
            format!("Contact: mailto:security@tls.test\nExpires: {expires}\n"),
        )
    } else {
        (
            "text/html; charset=utf-8",
            "<!doctype html><title>ok</title>\n".to_owned(),
        )
    };
    let mut head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in secure_headers() {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

fn server_random() -> [u8; 32] {
    let mut random = [0u8; 32];
    // A test server's random need not be secret; if the provider's RNG
    // fails, the fixed pattern still makes a well-formed ServerHello.
    if ring::default_provider()
        .secure_random
        .fill(&mut random)
        .is_err()
    {
        random = [0x42; 32];
    }
    random
}

/// Reads the ClientHello record(s), at most [`MAX_HELLO`] bytes.
async fn read_client_hello(stream: &mut TcpStream) -> anyhow::Result<raw::ClientHello> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        match raw::parse_client_hello(&buf) {
            Ok(hello) => return Ok(hello),
            Err(raw::RawTlsError::Incomplete { .. }) if buf.len() < MAX_HELLO => {}
            Err(e) => return Err(e.into()),
        }
        let room = (MAX_HELLO - buf.len()).min(chunk.len());
        let n = stream
            .read(chunk.get_mut(..room).unwrap_or_default())
            .await?;
        anyhow::ensure!(n > 0, "client closed before a full ClientHello");
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

/// Peeks at the ClientHello without consuming it, so the connection can
/// still be handed to rustls.
async fn peek_client_hello(stream: &TcpStream) -> anyhow::Result<raw::ClientHello> {
    let mut buf = vec![0u8; MAX_HELLO];
    loop {
        let n = stream.peek(&mut buf).await?;
        anyhow::ensure!(n > 0, "client closed before a ClientHello");
        match raw::parse_client_hello(buf.get(..n).unwrap_or_default()) {
            Ok(hello) => return Ok(hello),
            // peek returns at once while any data is queued, so wait a
            // little for the rest of the hello rather than spin.
            Err(raw::RawTlsError::Incomplete { .. }) if n < MAX_HELLO => {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Waits up to [`RAW_LINGER`] for the client to hang up, discarding what it
/// sends (an alert, usually), then closes.
async fn linger(mut stream: TcpStream) {
    let mut sink = [0u8; 1024];
    let _ = tokio::time::timeout(RAW_LINGER, async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// Length of an RSA-1024 signature, the bogus one in the ServerKeyExchange.
const RSA1024_SIGNATURE_LEN: usize = 128;

async fn serve_raw(chain: Arc<Vec<CertificateDer<'static>>>, mut stream: TcpStream) {
    let hello = match tokio::time::timeout(HANDSHAKE_TIMEOUT, read_client_hello(&mut stream)).await
    {
        Ok(Ok(hello)) => hello,
        _ => return,
    };
    // The ServerKeyExchange goes beyond "ServerHello, Certificate,
    // ServerHelloDone" on purpose: a rustls client hands the chain to its
    // certificate verifier only once it has a ServerKeyExchange and the
    // ServerHelloDone, and checks the (here meaningless) signature after
    // that. Without it a rustls-based probe fails before it ever sees the
    // RSA-1024 leaf; with it, it sees the chain, then fails on the signature.
    let mut hs = raw::server_hello(
        raw::TLS12,
        server_random(),
        raw::ECDHE_RSA_AES128_GCM_SHA256,
        hello.secure_renegotiation,
    );
    hs.extend_from_slice(&raw::certificate(&chain));
    hs.extend_from_slice(&raw::server_key_exchange_x25519(
        server_random(),
        &[0x5a; RSA1024_SIGNATURE_LEN],
    ));
    hs.extend_from_slice(&raw::server_hello_done());
    if stream
        .write_all(&raw::records(raw::TLS12, &hs))
        .await
        .is_ok()
    {
        linger(stream).await;
    }
}

/// A cipher suite for the legacy ServerHello: the first one the client
/// offered that is a real suite (not a signalling value), else
/// TLS_RSA_WITH_AES_128_CBC_SHA.
fn legacy_cipher(offered: &[u16]) -> u16 {
    const EMPTY_RENEGOTIATION_INFO_SCSV: u16 = 0x00ff;
    const FALLBACK_SCSV: u16 = 0x5600;
    offered
        .iter()
        .copied()
        .find(|s| {
            *s != EMPTY_RENEGOTIATION_INFO_SCSV && *s != FALLBACK_SCSV && (s & 0x0f0f) != 0x0a0a
        })
        .unwrap_or(0x002f)
}

async fn serve_legacy(
    acceptor: TlsAcceptor,
    chain: Arc<Vec<CertificateDer<'static>>>,
    mut stream: TcpStream,
) {
    let hello = match tokio::time::timeout(HANDSHAKE_TIMEOUT, peek_client_hello(&stream)).await {
        Ok(Ok(hello)) => hello,
        // Not a parseable hello: let rustls give the client a proper alert.
        _ => return serve_rustls(acceptor, stream).await,
    };
    if !hello.is_legacy() {
        return serve_rustls(acceptor, stream).await;
    }
    // Consume the peeked hello so closing later is a clean FIN, not a reset
    // over unread data that could destroy our flight in the client's buffer.
    let mut consumed = vec![0u8; hello.wire_len];
    if stream.read_exact(&mut consumed).await.is_err() {
        return;
    }
    let mut hs = raw::server_hello(
        hello.client_version,
        server_random(),
        legacy_cipher(&hello.cipher_suites),
        hello.secure_renegotiation,
    );
    hs.extend_from_slice(&raw::certificate(&chain));
    hs.extend_from_slice(&raw::server_hello_done());
    if stream
        .write_all(&raw::records(hello.client_version, &hs))
        .await
        .is_ok()
    {
        linger(stream).await;
    }
}

/// What an old server speaks: one range of versions and, in its order of
/// preference, the suites it has.
#[derive(Debug, Clone, Copy)]
struct OldServer {
    min_version: u16,
    max_version: u16,
    suites: &'static [u16],
}

const SSL3_ONLY: OldServer = OldServer {
    min_version: raw::SSL30,
    max_version: raw::SSL30,
    suites: &[0x0005, 0x000a],
};

const CAMELLIA_ONLY: OldServer = OldServer {
    min_version: raw::TLS10,
    max_version: raw::TLS10,
    suites: &[0x0041],
};

/// Alert descriptions (RFC 5246 §7.2).
const ALERT_HANDSHAKE_FAILURE: u8 = 40;
const ALERT_PROTOCOL_VERSION: u8 = 70;

/// Answers a hello as a server of another age would: the highest version
/// it has up to the client's (RFC 6101 §5.6.1.3, RFC 5246 appendix E.1),
/// the first of its suites the client offers, then Certificate and
/// ServerHelloDone; a fatal alert when there is no common version or suite.
async fn serve_old(
    old: OldServer,
    chain: Arc<Vec<CertificateDer<'static>>>,
    mut stream: TcpStream,
) {
    let hello = match tokio::time::timeout(HANDSHAKE_TIMEOUT, read_client_hello(&mut stream)).await
    {
        Ok(Ok(hello)) => hello,
        _ => return,
    };
    let version = hello.client_version.min(old.max_version);
    let suite = old
        .suites
        .iter()
        .copied()
        .find(|s| hello.cipher_suites.contains(s));
    let bytes = match suite {
        _ if version < old.min_version => raw::fatal_alert(old.min_version, ALERT_PROTOCOL_VERSION),
        None => raw::fatal_alert(version, ALERT_HANDSHAKE_FAILURE),
        Some(suite) => {
            // An SSL 3.0 server answers without extensions.
            let renegotiation_info = hello.secure_renegotiation && version > raw::SSL30;
            let mut hs = raw::server_hello(version, server_random(), suite, renegotiation_info);
            hs.extend_from_slice(&raw::certificate(&chain));
            hs.extend_from_slice(&raw::server_hello_done());
            raw::records(version, &hs)
        }
    };
    if stream.write_all(&bytes).await.is_ok() {
        linger(stream).await;
    }
}
