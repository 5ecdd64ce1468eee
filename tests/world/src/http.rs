//! Web "sites": one listener on 127.0.0.1:0 per site, HTTPS (rustls, with a
//! leaf from the world's PKI for the site's host) or plain HTTP, answering
//! each request from a small route table of canned [`Reply`]s — good and
//! bad security headers, `security.txt` bodies with any content type,
//! redirects (to the site itself, to other sites, to `127.0.0.1`), a body
//! larger than any probe reads, a stall before or after the headers, and
//! raw garbage. A site listens on 127.0.0.1 unless its spec names another
//! local address ([`SiteSpec::address`], for tests in a network namespace
//! of their own).
//!
//! A [`Canary`] listens where no probe may go (169.254.169.254:80 inside
//! such a namespace) and records every connection it is offered: the proof
//! that a refusal happened before any connect.
//!
//! The server is a deliberately small HTTP/1.1 responder (one request per
//! connection, `connection: close`, no ALPN) written here rather than taken
//! from a framework, so that it can send what a well-behaved server never
//! would. Every request's path is logged for [`crate::World::site_requests`].
//!
//! Header values may hold placeholders, filled in once every site has its
//! port (so sites can redirect to each other and to themselves):
//! `{origin}` (`https://host:port` or `http://host:port` of this site),
//! `{port}`, `{origin:HOST}` and `{port:HOST}` (those of another site).
//!
//! Depends on [`crate::pki`], [`crate::tls`] (its rustls server config) and
//! [`crate::task`].

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use time::OffsetDateTime;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::pki::{Authority, LeafSpec, Pki};
use crate::task::serve_tcp;
use crate::tls::{MODERN, server_config};

/// How long a site waits for the handshake and the request head.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a stalling reply holds the connection open.
pub const STALL_HOLD: Duration = Duration::from_secs(60);
/// Largest request head a site reads.
const MAX_REQUEST_HEAD: usize = 64 * 1024;
/// Bytes written at a time for large bodies.
const WRITE_CHUNK: usize = 16 * 1024;

/// The certificate an HTTPS site presents, always for its own host name
/// (except where the case is about that).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteCert {
    /// Issued by the trusted test intermediate 10 days ago for 90 days,
    /// served with the intermediate.
    Good,
    /// Self-signed.
    SelfSigned,
    /// notAfter three days ago.
    Expired,
    /// Under the untrusted Rogue root.
    UntrustedRoot,
}

/// What a site sends back for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    kind: ReplyKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ReplyKind {
    Response {
        status: u16,
        headers: Vec<(String, String)>,
        body: Body,
    },
    /// Read the request, then say nothing until [`STALL_HOLD`].
    Stall,
    /// These bytes, verbatim, then close.
    Raw(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Body {
    Bytes(Vec<u8>),
    /// This many filler bytes, written in chunks.
    Filler(usize),
    /// Promise 1000 bytes in content-length, then send none.
    StallAfterHeaders,
}

pub use crate::tls::secure_headers;

impl Reply {
    /// `status` with no body and no headers beyond the framing ones.
    #[must_use]
    pub fn status(status: u16) -> Self {
        Self {
            kind: ReplyKind::Response {
                status,
                headers: Vec::new(),
                body: Body::Bytes(Vec::new()),
            },
        }
    }

    /// `200` with `text/html` content and [`secure_headers`].
    #[must_use]
    pub fn secure_page() -> Self {
        Self::html("<!doctype html><title>ok</title>").headers(secure_headers())
    }

    /// `200` with an HTML body and no other headers.
    #[must_use]
    pub fn html(body: &str) -> Self {
        Self::status(200)
            .header("content-type", "text/html; charset=utf-8")
            .body(body.as_bytes())
    }

    /// `200` with `body` served as `content_type`.
    #[must_use]
    pub fn typed(content_type: &str, body: impl AsRef<[u8]>) -> Self {
        Self::status(200)
            .header("content-type", content_type)
            .body(body)
    }

    /// A redirect (`status` 301, 302, 303, 307 or 308) to `location`, which
    /// may use the placeholders of the module docs.
    #[must_use]
    pub fn redirect(status: u16, location: &str) -> Self {
        Self::status(status).header("location", location)
    }

    /// `404` with a short HTML body.
    #[must_use]
    pub fn not_found() -> Self {
        Self::status(404)
            .header("content-type", "text/html")
            .body("<h1>not found</h1>")
    }

    /// `200` with `len` filler bytes (`text/plain`).
    #[must_use]
    pub fn huge(len: usize) -> Self {
        let mut reply = Self::status(200).header("content-type", "text/plain");
        if let ReplyKind::Response { body, .. } = &mut reply.kind {
            *body = Body::Filler(len);
        }
        reply
    }

    /// Reads the request and never answers (until [`STALL_HOLD`]).
    #[must_use]
    pub fn stall() -> Self {
        Self {
            kind: ReplyKind::Stall,
        }
    }

    /// Sends `200` and its headers (content-length 1000), then nothing.
    #[must_use]
    pub fn stall_body() -> Self {
        let mut reply = Self::status(200).header("content-type", "text/plain");
        if let ReplyKind::Response { body, .. } = &mut reply.kind {
            *body = Body::StallAfterHeaders;
        }
        reply
    }

    /// Sends `bytes` verbatim (no status line is added) and closes.
    #[must_use]
    pub fn raw(bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            kind: ReplyKind::Raw(bytes.into()),
        }
    }

    /// Adds a header (kept as given, repeated names allowed). No effect on
    /// [`Reply::stall`] and [`Reply::raw`].
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let ReplyKind::Response { headers, .. } = &mut self.kind {
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// Adds headers.
    #[must_use]
    pub fn headers(mut self, more: impl IntoIterator<Item = (String, String)>) -> Self {
        if let ReplyKind::Response { headers, .. } = &mut self.kind {
            headers.extend(more);
        }
        self
    }

    /// Drops every header called `name` (any case).
    #[must_use]
    pub fn without(mut self, name: &str) -> Self {
        if let ReplyKind::Response { headers, .. } = &mut self.kind {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        }
        self
    }

    /// Replaces every header called `name` by one with `value`.
    #[must_use]
    pub fn replace(self, name: &str, value: &str) -> Self {
        self.without(name).header(name, value)
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, bytes: impl AsRef<[u8]>) -> Self {
        if let ReplyKind::Response { body, .. } = &mut self.kind {
            *body = Body::Bytes(bytes.as_ref().to_vec());
        }
        self
    }
}

/// A site: its scheme and certificate, and a reply per path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSpec {
    /// `None` for plain HTTP.
    certificate: Option<SiteCert>,
    routes: BTreeMap<String, Reply>,
    /// Where it listens; 127.0.0.1 when `None`.
    address: Option<IpAddr>,
}

/// Path of the security.txt file (RFC 9116).
pub const SECURITY_TXT_PATH: &str = "/.well-known/security.txt";

impl SiteSpec {
    /// An HTTPS site with a good certificate whose `/` is
    /// [`Reply::secure_page`] and which has no security.txt (404).
    #[must_use]
    pub fn https() -> Self {
        Self {
            certificate: Some(SiteCert::Good),
            routes: BTreeMap::from([("/".to_owned(), Reply::secure_page())]),
            address: None,
        }
    }

    /// A plain-HTTP site whose `/` is a bare `200` page (no redirect).
    #[must_use]
    pub fn plain_http() -> Self {
        Self {
            certificate: None,
            routes: BTreeMap::from([("/".to_owned(), Reply::html("plain"))]),
            address: None,
        }
    }

    /// Sets the certificate (makes the site HTTPS).
    #[must_use]
    pub fn certificate(mut self, cert: SiteCert) -> Self {
        self.certificate = Some(cert);
        self
    }

    /// The reply for `GET /`.
    #[must_use]
    pub fn root(self, reply: Reply) -> Self {
        self.route("/", reply)
    }

    /// The reply for `/.well-known/security.txt`.
    #[must_use]
    pub fn security_txt(self, reply: Reply) -> Self {
        self.route(SECURITY_TXT_PATH, reply)
    }

    /// `text` served as `/.well-known/security.txt` with
    /// `text/plain; charset=utf-8`.
    #[must_use]
    pub fn security_txt_text(self, text: &str) -> Self {
        self.security_txt(Reply::typed("text/plain; charset=utf-8", text))
    }

    /// The reply for `path` (exact match, query ignored); unknown paths get
    /// [`Reply::not_found`].
    #[must_use]
    pub fn route(mut self, path: &str, reply: Reply) -> Self {
        self.routes.insert(path.to_owned(), reply);
        self
    }

    /// Listens on `address` (port 0) instead of 127.0.0.1, and its host
    /// name resolves there (A or AAAA). The address must be local: in a
    /// test's own network namespace, put it on `lo` first.
    #[must_use]
    pub fn address(mut self, address: IpAddr) -> Self {
        self.address = Some(address);
        self
    }

    /// Whether the site speaks TLS.
    #[must_use]
    pub fn is_https(&self) -> bool {
        self.certificate.is_some()
    }
}

/// A site as started: where it listens and which paths it was asked for.
#[derive(Debug, Clone)]
pub struct SiteEndpoint {
    /// The host name it is served under (with an A record to 127.0.0.1).
    pub host: String,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Whether it speaks TLS.
    pub https: bool,
    requests: Arc<Mutex<Vec<String>>>,
    connections: Arc<AtomicUsize>,
}

impl SiteEndpoint {
    /// `https://host:port` or `http://host:port`.
    #[must_use]
    pub fn origin(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}:{}", self.host, self.addr.port())
    }

    /// The request targets received so far, in order.
    #[must_use]
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The TCP connections accepted so far (TLS handshakes, hand-built
    /// hellos and HTTP requests alike).
    #[must_use]
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }
}

impl fmt::Display for SiteEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.addr.port())
    }
}

/// The leaf spec for a site's certificate.
fn leaf_spec(host: &str, cert: SiteCert, now: OffsetDateTime) -> LeafSpec {
    let good = LeafSpec::issued(host, now, 10, 90);
    match cert {
        SiteCert::Good => good,
        SiteCert::SelfSigned => good.authority(Authority::SelfSigned),
        SiteCert::UntrustedRoot => good.authority(Authority::RogueIntermediate),
        SiteCert::Expired => LeafSpec::issued(host, now, 93, 90),
    }
}

/// A bound but not yet serving site.
pub(crate) struct BoundSite {
    spec: SiteSpec,
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    endpoint: SiteEndpoint,
}

/// Issues the site's certificate and binds its port on 127.0.0.1:0.
pub(crate) async fn bind(host: &str, spec: SiteSpec, pki: &Pki) -> anyhow::Result<BoundSite> {
    let acceptor = match spec.certificate {
        None => None,
        Some(cert) => {
            let leaf = pki
                .issue(&leaf_spec(host, cert, pki.now()))
                .with_context(|| format!("issuing the certificate of site {host}"))?;
            Some(TlsAcceptor::from(server_config(&leaf, MODERN)?))
        }
    };
    let ip = spec.address.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let listener = TcpListener::bind((ip, 0))
        .await
        .with_context(|| format!("binding a port on {ip} for site {host}"))?;
    let addr = listener.local_addr().context("listener address")?;
    let endpoint = SiteEndpoint {
        host: host.to_owned(),
        addr,
        https: acceptor.is_some(),
        requests: Arc::new(Mutex::new(Vec::new())),
        connections: Arc::default(),
    };
    Ok(BoundSite {
        spec,
        listener,
        acceptor,
        endpoint,
    })
}

/// Fills the placeholders of the module docs in `value`.
fn fill(value: &str, own: &SiteEndpoint, all: &[SiteEndpoint]) -> String {
    let mut out = value
        .replace("{origin}", &own.origin())
        .replace("{port}", &own.addr.port().to_string());
    for other in all {
        out = out
            .replace(&format!("{{origin:{}}}", other.host), &other.origin())
            .replace(
                &format!("{{port:{}}}", other.host),
                &other.addr.port().to_string(),
            );
    }
    out
}

/// Starts serving every bound site until `shutdown`, with placeholders
/// filled now that every port is known.
pub(crate) fn serve_all(sites: Vec<BoundSite>, shutdown: &CancellationToken) -> Vec<SiteEndpoint> {
    let endpoints: Vec<SiteEndpoint> = sites.iter().map(|s| s.endpoint.clone()).collect();
    for site in sites {
        let routes: BTreeMap<String, Reply> = site
            .spec
            .routes
            .into_iter()
            .map(|(path, mut reply)| {
                if let ReplyKind::Response { headers, .. } = &mut reply.kind {
                    for (_, value) in headers.iter_mut() {
                        *value = fill(value, &site.endpoint, &endpoints);
                    }
                }
                (path, reply)
            })
            .collect();
        let routes = Arc::new(routes);
        let log = Arc::clone(&site.endpoint.requests);
        let accepted = Arc::clone(&site.endpoint.connections);
        let acceptor = site.acceptor;
        serve_tcp(site.listener, shutdown, move |stream| {
            accepted.fetch_add(1, Ordering::Relaxed);
            serve_connection(
                acceptor.clone(),
                stream,
                Arc::clone(&routes),
                Arc::clone(&log),
            )
        });
    }
    endpoints
}

/// A listener that must never be reached: it records the local address of
/// every connection it accepts (and answers a bare `200`, so that a
/// positive control sees a page).
#[derive(Debug, Clone)]
pub struct Canary {
    /// Where it listens.
    pub addrs: Vec<SocketAddr>,
    hits: Arc<Mutex<Vec<SocketAddr>>>,
}

impl Canary {
    /// Listens on every address in `addrs` until `shutdown`.
    ///
    /// # Errors
    /// When an address cannot be bound (it is not local: no namespace set
    /// it up, or the port is taken) — never silently.
    pub async fn listen(
        addrs: &[SocketAddr],
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Self> {
        let hits: Arc<Mutex<Vec<SocketAddr>>> = Arc::default();
        for addr in addrs {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding the canary on {addr}"))?;
            let hits = Arc::clone(&hits);
            serve_tcp(listener, shutdown, move |mut stream: TcpStream| {
                if let (Ok(local), Ok(mut hits)) = (stream.local_addr(), hits.lock()) {
                    hits.push(local);
                }
                async move {
                    let _ = tokio::time::timeout(REQUEST_TIMEOUT, async {
                        let mut buf = [0_u8; 1024];
                        let _ = stream.read(&mut buf).await;
                        let _ = stream
                            .write_all(
                                b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 6\r\nconnection: close\r\n\r\ncanary",
                            )
                            .await;
                        let _ = stream.shutdown().await;
                    })
                    .await;
                }
            });
        }
        Ok(Self {
            addrs: addrs.to_vec(),
            hits,
        })
    }

    /// The local addresses of the connections accepted so far, in order.
    #[must_use]
    pub fn hits(&self) -> Vec<SocketAddr> {
        self.hits.lock().map(|h| h.clone()).unwrap_or_default()
    }
}

async fn serve_connection(
    acceptor: Option<TlsAcceptor>,
    stream: TcpStream,
    routes: Arc<BTreeMap<String, Reply>>,
    log: Arc<Mutex<Vec<String>>>,
) {
    // Failures end the connection: a probe that hangs up early (a capped
    // body, a refused certificate) is part of what the sites are for.
    let _ = match acceptor {
        None => serve_http(stream, &routes, &log).await,
        Some(acceptor) => {
            match tokio::time::timeout(REQUEST_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => serve_http(tls, &routes, &log).await,
                _ => Ok(()),
            }
        }
    };
}

/// Reads one request head and writes the route's reply.
async fn serve_http<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    routes: &BTreeMap<String, Reply>,
    log: &Mutex<Vec<String>>,
) -> anyhow::Result<()> {
    let head = tokio::time::timeout(REQUEST_TIMEOUT, read_head(&mut stream))
        .await
        .context("request timed out")??;
    let line = head.lines().next().unwrap_or_default();
    let target = line.split(' ').nth(1).unwrap_or("/").to_owned();
    if let Ok(mut log) = log.lock() {
        log.push(target.clone());
    }
    let path = target.split('?').next().unwrap_or("/");
    let not_found = Reply::not_found();
    let reply = routes.get(path).unwrap_or(&not_found);
    match &reply.kind {
        ReplyKind::Stall => {
            tokio::time::sleep(STALL_HOLD).await;
            return Ok(());
        }
        ReplyKind::Raw(bytes) => stream.write_all(bytes).await?,
        ReplyKind::Response {
            status,
            headers,
            body,
        } => {
            let length = match body {
                Body::Bytes(b) => b.len(),
                Body::Filler(n) => *n,
                Body::StallAfterHeaders => 1000,
            };
            let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(*status));
            for (name, value) in headers {
                out.push_str(name);
                out.push_str(": ");
                out.push_str(value);
                out.push_str("\r\n");
            }
            out.push_str(&format!(
                "content-length: {length}\r\nconnection: close\r\n\r\n"
            ));
            stream.write_all(out.as_bytes()).await?;
            match body {
                Body::Bytes(b) => stream.write_all(b).await?,
                Body::Filler(n) => {
                    let chunk = vec![b'x'; WRITE_CHUNK];
                    let mut left = *n;
                    while left > 0 {
                        let take = left.min(WRITE_CHUNK);
                        stream
                            .write_all(chunk.get(..take).unwrap_or_default())
                            .await?;
                        left -= take;
                    }
                }
                Body::StallAfterHeaders => {
                    stream.flush().await?;
                    tokio::time::sleep(STALL_HOLD).await;
                    return Ok(());
                }
            }
        }
    }
    stream.flush().await?;
    stream.shutdown().await?;
    Ok(())
}

/// Reads up to the end of the request head (`\r\n\r\n`).
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> anyhow::Result<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        anyhow::ensure!(head.len() < MAX_REQUEST_HEAD, "request head too large");
        let n = stream.read(&mut buf).await?;
        anyhow::ensure!(n > 0, "client closed before a full request");
        head.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use rustls::RootCertStore;
    use rustls_pki_types::ServerName;
    use tokio_rustls::TlsConnector;

    use super::*;
    use crate::World;

    async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, path: &str) -> String {
        let request = format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    }

    async fn https_get(world: &World, host: &str, path: &str) -> String {
        let mut roots = RootCertStore::empty();
        roots.add(world.pki().root().clone()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let tcp = TcpStream::connect(world.site_addr(host)).await.unwrap();
        let tls = TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from(host.to_owned()).unwrap(), tcp)
            .await
            .unwrap();
        exchange(tls, path).await
    }

    #[tokio::test]
    async fn sites_answer_by_path_and_log_requests() {
        let world = World::builder()
            .site(
                "plain.site.test",
                SiteSpec::plain_http().root(Reply::redirect(301, "{origin:tls.site.test}/")),
            )
            .site(
                "tls.site.test",
                SiteSpec::https().security_txt_text("Contact: mailto:a@b.test\n"),
            )
            .start()
            .await
            .unwrap();
        let tls_origin = world.site("tls.site.test").origin();
        assert!(tls_origin.starts_with("https://tls.site.test:"));
        assert_eq!(
            world.site_endpoint("tls.site.test"),
            format!("tls.site.test:{}", world.site_addr("tls.site.test").port())
        );

        let tcp = TcpStream::connect(world.site_addr("plain.site.test"))
            .await
            .unwrap();
        let answer = exchange(tcp, "/").await;
        assert!(answer.starts_with("HTTP/1.1 301 "), "{answer}");
        assert!(
            answer.contains(&format!("location: {tls_origin}/\r\n")),
            "{answer}"
        );

        let answer = https_get(&world, "tls.site.test", SECURITY_TXT_PATH).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("content-type: text/plain; charset=utf-8\r\n"));
        assert!(
            answer.ends_with("\r\n\r\nContact: mailto:a@b.test\n"),
            "{answer}"
        );
        let answer = https_get(&world, "tls.site.test", "/").await;
        assert!(answer.contains("strict-transport-security: max-age=31536000"));
        let answer = https_get(&world, "tls.site.test", "/nope?x=1").await;
        assert!(answer.starts_with("HTTP/1.1 404 "), "{answer}");

        assert_eq!(world.site_requests("plain.site.test"), vec!["/"]);
        assert_eq!(
            world.site_requests("tls.site.test"),
            vec![SECURITY_TXT_PATH, "/", "/nope?x=1"]
        );

        let resolver = world.resolver().unwrap();
        let ips: Vec<_> = resolver
            .lookup_ip("plain.site.test.")
            .await
            .unwrap()
            .iter()
            .collect();
        assert_eq!(ips, vec![std::net::IpAddr::V4(Ipv4Addr::LOCALHOST)]);
    }

    #[tokio::test]
    async fn huge_bodies_arrive_whole_and_sites_are_unique() {
        let world = World::builder()
            .site(
                "big.site.test",
                SiteSpec::plain_http().root(Reply::huge(3 * WRITE_CHUNK + 5)),
            )
            .start()
            .await
            .unwrap();
        let tcp = TcpStream::connect(world.site_addr("big.site.test"))
            .await
            .unwrap();
        let answer = exchange(tcp, "/").await;
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}", 3 * WRITE_CHUNK + 5)));
        assert_eq!(body.len(), 3 * WRITE_CHUNK + 5);

        let twice = World::builder()
            .site("a.site.test", SiteSpec::https())
            .site("a.site.test", SiteSpec::plain_http())
            .start()
            .await;
        assert!(twice.unwrap_err().to_string().contains("twice"));
        let outside = World::builder()
            .site("a.example.com", SiteSpec::https())
            .start()
            .await;
        assert!(outside.is_err());
    }

    fn endpoint(host: &str, port: u16, https: bool) -> SiteEndpoint {
        SiteEndpoint {
            host: host.to_owned(),
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            https,
            requests: Arc::default(),
            connections: Arc::default(),
        }
    }

    #[test]
    fn placeholders_are_filled() {
        let own = endpoint("a.site.test", 1000, false);
        let other = endpoint("b.site.test", 2000, true);
        let all = vec![own.clone(), other];
        assert_eq!(fill("{origin}/x", &own, &all), "http://a.site.test:1000/x");
        assert_eq!(
            fill("http://127.0.0.1:{port}/", &own, &all),
            "http://127.0.0.1:1000/"
        );
        assert_eq!(
            fill("{origin:b.site.test}/y", &own, &all),
            "https://b.site.test:2000/y"
        );
        assert_eq!(fill("{port:b.site.test}", &own, &all), "2000");
        assert_eq!(fill("{origin:nope}", &own, &all), "{origin:nope}");
    }

    #[test]
    fn reply_builders_shape_headers() {
        let reply = Reply::secure_page()
            .without("Strict-Transport-Security")
            .replace("server", "nginx/1.18.0");
        let ReplyKind::Response { headers, .. } = reply.kind else {
            panic!("a response");
        };
        assert!(
            !headers
                .iter()
                .any(|(n, _)| n == "strict-transport-security")
        );
        assert!(headers.contains(&("server".to_owned(), "nginx/1.18.0".to_owned())));
        assert_eq!(Reply::stall().header("a", "b"), Reply::stall());
    }
}
