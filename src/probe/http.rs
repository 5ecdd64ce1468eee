//! The HTTP posture probe of one endpoint — `GET /` and
//! `GET /.well-known/security.txt` over HTTPS, or, for a plain-HTTP
//! endpoint, `GET /` over HTTP to see whether it redirects to HTTPS — and
//! the MTA-STS policy fetch (RFC 8461) for the e-mail checks.
//!
//! Everything goes through reqwest over rustls (ring), with
//! - name resolution through our hickory [`DnsResolver`] (never
//!   getaddrinfo), refusing loopback, private and link-local answers unless
//!   `probe.allow_private_targets`, and cloud metadata answers unless
//!   `probe.allow_metadata_targets` as well ([`TargetRule`]); URLs with an
//!   IP literal (in any spelling the URL parser accepts) are held to the
//!   same rule before any request, since reqwest does not resolve them;
//! - no proxy, no connection pool, no cookies, no automatic redirects:
//!   redirects are followed by hand, at most [`MAX_REDIRECTS`], each target
//!   admitted by the same rule and recorded, none asked for twice (a loop
//!   stops the fetch: [`FailureKind::RedirectLoop`]);
//! - a timeout (`probe.timeout`) on every request, body included, and a cap
//!   on every body ([`PAGE_BODY_CAP`], [`SECURITY_TXT_CAP`], [`POLICY_CAP`]).
//!
//! **Other sites.** `GET /` follows redirects within the endpoint's site
//! (its registrable domain: `portal.acme.com` → `www.acme.com`) but stops
//! at one to another site ([`FailureKind::OtherSite`]): that page's
//! headers protect another origin, and judging them would let an endpoint
//! pass on someone else's posture. The security.txt fetch follows redirects
//! to other sites, as RFC 9116 §3 allows (a group's central file): what a
//! researcher is sent to is what is judged, and the evidence names it.
//!
//! Two clients: the posture client accepts any certificate (the TLS probe
//! already reports what is wrong with it, and a bad certificate must not
//! hide the headers); the policy client verifies against the web PKI plus
//! `probe.extra_roots`, as an MTA-STS sender must.
//!
//! **Plain-HTTP rule.** An endpoint is probed as plain HTTP exactly when its
//! port is one of the prober's plain-HTTP ports — by default only 80, i.e.
//! when the registry lists `host:80` explicitly. Its probe asks `http://`
//! for `/` and follows plain-HTTP redirects until one points at an
//! `https://` URL (which is not fetched: the HTTPS side is the business of
//! the host's HTTPS endpoints). No security.txt is fetched over plain HTTP.
//! Tests, which cannot bind port 80, name their own port in
//! [`HttpOptions::plain_http_ports`].
//!
//! Observations are facts only; failures are data. Strings from servers are
//! kept as data (lossily decoded, each header value capped at
//! [`HEADER_VALUE_CAP`]). Depends on `config`, `registry` and
//! [`super::resolve`]; judges nothing.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::HeaderMap;
use reqwest::{Client, Response, Url};
use serde::{Deserialize, Serialize};
use tokio::time::timeout_at;

use super::dns::mtasts::PolicyFetchError;
use super::dns::suffix::registrable_domain;
use super::resolve::{DnsResolver, LookupFailure, Refusal, TargetRule};
use super::tls::{LenientVerifier, RootsError, web_pki_verifier};
use crate::config::ProbeConfig;
use crate::registry::Endpoint;

/// Redirects followed at most; a sixth redirect ends the fetch.
pub const MAX_REDIRECTS: usize = 5;
/// Bytes read at most from a page body.
pub const PAGE_BODY_CAP: usize = 1024 * 1024;
/// Bytes read at most from a security.txt body.
pub const SECURITY_TXT_CAP: usize = 64 * 1024;
/// Bytes an MTA-STS policy may have.
pub const POLICY_CAP: usize = 64 * 1024;
/// Bytes kept of one header value.
pub const HEADER_VALUE_CAP: usize = 8 * 1024;
/// The port whose endpoints are probed as plain HTTP by default.
pub const PLAIN_HTTP_PORT: u16 = 80;
/// Where RFC 9116 puts security.txt.
pub const SECURITY_TXT_PATH: &str = "/.well-known/security.txt";

const USER_AGENT: &str = concat!("supplywatch/", env!("CARGO_PKG_VERSION"));

/// Why the prober could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum HttpSetupError {
    #[error("no usable trusted roots: {0}")]
    Roots(RootsError),
    #[error("cannot set up TLS for HTTP: {0}")]
    Tls(rustls::Error),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Which protocol an endpoint was probed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpScheme {
    Https,
    /// A plain-HTTP endpoint (see the module docs' plain-HTTP rule).
    Http,
}

/// Everything one HTTP probe of an endpoint saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpObservation {
    /// `host:port`, the finding target.
    pub target: String,
    pub host: String,
    pub port: u16,
    pub scheme: HttpScheme,
    /// `GET /`, with its redirects.
    pub page: Fetch,
    /// `GET /.well-known/security.txt`, when the page answered over HTTPS.
    pub security_txt: Option<Fetch>,
    pub elapsed_ms: u64,
}

impl HttpObservation {
    /// The refusal when the endpoint itself may not be probed (it resolves
    /// to, or is, an internal address): no request was made.
    #[must_use]
    pub fn refused(&self) -> Option<&FetchFailure> {
        match &self.page.failure {
            Some(f) if self.page.responses.is_empty() && f.kind == FailureKind::Refused => Some(f),
            _ => None,
        }
    }
}

/// One URL fetched, redirects followed by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fetch {
    /// The URL first asked for.
    pub url: String,
    /// Every response received, in order; the last one is where it ended.
    pub responses: Vec<HttpResponse>,
    /// Every redirect answer seen, in order. All were followed except,
    /// possibly, the last: not when the fetch failed on it (too many, a
    /// loop, refused, another site, malformed) nor, for plain HTTP, when it
    /// leads to `https://`.
    pub redirects: Vec<Redirect>,
    /// Why the fetch stopped short of a final response, if it did.
    pub failure: Option<FetchFailure>,
}

impl Fetch {
    /// The first response (the one from the URL asked for).
    #[must_use]
    pub fn first(&self) -> Option<&HttpResponse> {
        self.responses.first()
    }

    /// The last response received.
    #[must_use]
    pub fn last(&self) -> Option<&HttpResponse> {
        self.responses.last()
    }
}

/// One HTTP response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResponse {
    pub url: String,
    /// The URL's host (lower case, an IPv6 address without brackets) and
    /// port (the scheme's default when the URL names none), to tell the
    /// endpoint's own responses from another origin's.
    pub host: String,
    pub port: u16,
    pub status: u16,
    /// `HTTP/1.1`, `HTTP/2` …
    pub version: String,
    /// Header names lower-cased, values in order received (lossily decoded,
    /// each capped at [`HEADER_VALUE_CAP`] bytes).
    pub headers: BTreeMap<String, Vec<String>>,
    /// Body bytes received before the fetch stopped reading (redirect
    /// bodies are not read: 0).
    pub body_bytes: u64,
    /// The body went on past the cap and was not read to its end.
    pub truncated: bool,
    /// Reading the body failed or timed out after the headers came.
    pub body_error: Option<String>,
    /// The body as text (lossily decoded, capped), only where a check
    /// reads it (security.txt).
    pub body: Option<String>,
    /// Whether the kept body was valid UTF-8 (true when no body is kept).
    pub body_utf8: bool,
}

impl HttpResponse {
    /// The first value of header `name` (lower case).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|values| values.first())
            .map(String::as_str)
    }

    /// Every value of header `name` (lower case).
    #[must_use]
    pub fn header_values(&self, name: &str) -> &[String] {
        self.headers.get(name).map_or(&[], Vec::as_slice)
    }
}

/// A redirect answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    pub status: u16,
    /// The URL that answered with the redirect.
    pub from: String,
    /// The `Location` header as sent.
    pub location: String,
    /// `location` resolved against `from`; `None` when it is not a URL.
    pub to: Option<String>,
}

/// Why a fetch stopped short.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchFailure {
    /// The URL being fetched when it stopped.
    pub url: String,
    pub kind: FailureKind,
    /// What happened, for people (the whole error chain).
    pub detail: String,
    /// The refused address, for [`FailureKind::Refused`].
    pub address: Option<IpAddr>,
}

/// The kind of a [`FetchFailure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The URL resolves to (or is) an address probes may not touch; no
    /// request was sent.
    Refused,
    /// The name did not resolve.
    Lookup,
    /// No TCP connection.
    Connect,
    /// The TLS handshake failed.
    Tls,
    /// No answer within the timeout.
    Timeout,
    /// An answer that is not HTTP, or broken HTTP.
    Protocol,
    /// More than [`MAX_REDIRECTS`] redirects.
    TooManyRedirects,
    /// A redirect back to a URL this fetch already asked for: not asked
    /// again.
    RedirectLoop,
    /// `GET /` redirected to another site (another registrable domain, or
    /// another IP address): not followed, since that site's page is not
    /// the endpoint's (see the module docs).
    OtherSite,
    /// A `Location` that is not an http(s) URL.
    BadRedirect,
    /// The URL itself is unusable.
    InvalidUrl,
    /// The probe itself failed (a bug in supplywatch): nothing is known.
    Internal,
}

/// Why a revocation source gave no bytes ([`HttpProber::fetch_blob`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobFetchError {
    #[error("{url:?} is not a URL: {reason}")]
    NotUrl { url: String, reason: String },
    #[error("{url} is not an http:// URL; revocation sources are fetched over plain HTTP only")]
    NotHttp { url: String },
    /// The address rule refused the host: nothing was sent.
    #[error("not fetched: {detail}")]
    Refused { detail: String },
    /// No answer: the connection or the time limit failed.
    #[error("{detail}")]
    Failed { detail: String },
    #[error("{url} answered HTTP {status}, not 200")]
    Status { url: String, status: u16 },
    #[error(
        "{url} is larger than the cap of {} MiB{}: cut off, not read",
        cap / 1_048_576,
        announced.map(|n| format!(" (it announces {n} bytes)")).unwrap_or_default()
    )]
    TooLarge {
        url: String,
        cap: usize,
        announced: Option<u64>,
    },
    #[error("reading {url}: {error}")]
    Reading { url: String, error: String },
}

/// Shared, read-only state for HTTP probes. Cheap to clone.
#[derive(Clone)]
pub struct HttpProber {
    inner: Arc<Inner>,
}

struct Inner {
    /// Accepts any certificate: for headers and security.txt.
    posture: Client,
    /// Verifies certificates: for MTA-STS policies.
    verified: Client,
    timeout: Duration,
    rule: AddressRule,
    plain_http_ports: Vec<u16>,
}

/// What to do with a fetch's bodies and redirects.
#[derive(Debug, Clone, Copy)]
struct Mode {
    body_cap: usize,
    keep_body: bool,
    /// Plain HTTP: stop at the first redirect to `https://`.
    stop_at_https: bool,
    /// Stop at a redirect to another site ([`FailureKind::OtherSite`]).
    stay_on_site: bool,
}

const PAGE: Mode = Mode {
    body_cap: PAGE_BODY_CAP,
    keep_body: false,
    stop_at_https: false,
    stay_on_site: true,
};
const SECURITY_TXT: Mode = Mode {
    body_cap: SECURITY_TXT_CAP,
    keep_body: true,
    stop_at_https: false,
    stay_on_site: false,
};
const PLAIN: Mode = Mode {
    body_cap: PAGE_BODY_CAP,
    keep_body: false,
    stop_at_https: true,
    stay_on_site: false,
};

/// Knobs beyond `[probe]`, for tests and for callers with special needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// Ports whose endpoints are probed as plain HTTP (the module docs'
    /// rule); default `[80]`. Tests, which cannot bind 80, name their own.
    pub plain_http_ports: Vec<u16>,
    /// Addresses let through although the address rule would refuse them
    /// as private (when `allow_private_targets` is false); never a cloud
    /// metadata address, which only `allow_metadata_targets` opens. Empty
    /// by default; tests allow `127.0.0.1`, where the test world lives, to
    /// show that every other internal address is still refused mid-way.
    pub allowed_addresses: Vec<IpAddr>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            plain_http_ports: vec![PLAIN_HTTP_PORT],
            allowed_addresses: Vec::new(),
        }
    }
}

/// The address rule, shared by the URL check and the resolver: `[probe]`'s
/// [`TargetRule`], with the [`HttpOptions::allowed_addresses`] exceptions.
#[derive(Debug, Clone)]
struct AddressRule {
    rule: TargetRule,
    allowed: Vec<IpAddr>,
}

impl AddressRule {
    /// Why `ip` may not be probed, if it may not.
    fn refuses(&self, ip: IpAddr) -> Option<Refusal> {
        self.rule
            .refuses(ip)
            .filter(|r| r.metadata || !self.allowed.contains(&ip))
    }
}

impl HttpProber {
    /// Builds both clients with the default [`HttpOptions`]: resolution
    /// through `resolver`, the policy client trusting the web PKI roots plus
    /// `probe.extra_roots`.
    ///
    /// # Errors
    /// [`HttpSetupError`] when the roots, the TLS configs or a client cannot
    /// be built.
    pub fn new(config: &ProbeConfig, resolver: DnsResolver) -> Result<Self, HttpSetupError> {
        Self::with_options(config, resolver, HttpOptions::default())
    }

    /// As [`HttpProber::new`], with `options`.
    ///
    /// # Errors
    /// See [`HttpProber::new`].
    pub fn with_options(
        config: &ProbeConfig,
        resolver: DnsResolver,
        options: HttpOptions,
    ) -> Result<Self, HttpSetupError> {
        // reqwest is built with `rustls-no-provider`: it must find one.
        super::install_crypto_provider();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = web_pki_verifier(config, provider.clone()).map_err(HttpSetupError::Roots)?;
        let verified_tls = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(HttpSetupError::Tls)?
            .with_webpki_verifier(verifier)
            .with_no_client_auth();
        let posture_tls = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(HttpSetupError::Tls)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(LenientVerifier::accept_any(provider)))
            .with_no_client_auth();
        let rule = AddressRule {
            rule: TargetRule::of(config),
            allowed: options.allowed_addresses,
        };
        let resolver = Arc::new(GuardedResolver {
            dns: resolver,
            rule: rule.clone(),
        });
        Ok(Self {
            inner: Arc::new(Inner {
                posture: client(posture_tls, resolver.clone(), config.timeout)?,
                verified: client(verified_tls, resolver, config.timeout)?,
                timeout: config.timeout,
                rule,
                plain_http_ports: options.plain_http_ports,
            }),
        })
    }

    /// Whether `endpoint` is probed as plain HTTP (see the module docs).
    #[must_use]
    pub fn is_plain_http(&self, endpoint: &Endpoint) -> bool {
        self.inner.plain_http_ports.contains(&endpoint.port)
    }

    /// Probes one endpoint: over HTTPS `GET /` then, if that answered,
    /// `GET /.well-known/security.txt`; a plain-HTTP endpoint gets `GET /`
    /// over HTTP only. Never fails: what went wrong is in the observation.
    pub async fn probe(&self, endpoint: &Endpoint) -> HttpObservation {
        let started = Instant::now();
        let plain = self.is_plain_http(endpoint);
        let scheme = if plain {
            HttpScheme::Http
        } else {
            HttpScheme::Https
        };
        let origin = format!("{}://{endpoint}", if plain { "http" } else { "https" });
        let site = site_of(&endpoint.host.to_string());
        let page = self
            .fetch_url(
                &self.inner.posture,
                &format!("{origin}/"),
                if plain { PLAIN } else { PAGE },
                &site,
            )
            .await;
        let security_txt = if plain || page.responses.is_empty() {
            None
        } else {
            Some(
                self.fetch_url(
                    &self.inner.posture,
                    &format!("{origin}{SECURITY_TXT_PATH}"),
                    SECURITY_TXT,
                    &site,
                )
                .await,
            )
        };
        HttpObservation {
            target: endpoint.to_string(),
            host: endpoint.host.to_string(),
            port: endpoint.port,
            scheme,
            page,
            security_txt,
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// Fetches an MTA-STS policy (RFC 8461 §3.3): `https://` only, the
    /// certificate verified against the web PKI plus `probe.extra_roots`,
    /// no redirects, status 200, `text/plain`, at most [`POLICY_CAP`]
    /// bytes of UTF-8.
    ///
    /// # Errors
    /// [`PolicyFetchError`]: why there is no policy, in words for the
    /// evidence.
    pub async fn fetch_policy(&self, url: &str) -> Result<String, PolicyFetchError> {
        let parsed = Url::parse(url).map_err(|e| PolicyFetchError::NotUrl {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        if parsed.scheme() != "https" {
            return Err(PolicyFetchError::NotHttps {
                url: url.to_owned(),
            });
        }
        self.admit(&parsed)
            .map_err(|f| PolicyFetchError::Refused { detail: f.detail })?;
        let deadline = tokio::time::Instant::now() + self.inner.timeout;
        let response =
            match timeout_at(deadline, self.inner.verified.get(parsed.clone()).send()).await {
                Ok(Ok(response)) => response,
                Ok(Err(e)) => {
                    let failure = failure_from(&parsed, &e);
                    return Err(if failure.kind == FailureKind::Refused {
                        PolicyFetchError::Refused {
                            detail: failure.detail,
                        }
                    } else {
                        PolicyFetchError::Failed {
                            detail: failure.detail,
                        }
                    });
                }
                Err(_) => {
                    return Err(PolicyFetchError::Failed {
                        detail: self.timed_out(&parsed).detail,
                    });
                }
            };
        let status = response.status().as_u16();
        if status != 200 {
            let location = response
                .headers()
                .get("location")
                .map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned());
            let url = url.to_owned();
            return Err(match location {
                Some(to) if response.status().is_redirection() => {
                    PolicyFetchError::Redirected { url, status, to }
                }
                _ => PolicyFetchError::Status { url, status },
            });
        }
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        if !content_type.as_deref().is_some_and(is_text_plain) {
            return Err(PolicyFetchError::NotTextPlain {
                url: url.to_owned(),
                content_type,
            });
        }
        let too_large = || PolicyFetchError::TooLarge {
            url: url.to_owned(),
            cap: POLICY_CAP,
        };
        if response
            .content_length()
            .is_some_and(|n| n > POLICY_CAP as u64)
        {
            return Err(too_large());
        }
        let body = read_body(response, POLICY_CAP, true, deadline, self.inner.timeout).await;
        if let Some(error) = body.error {
            return Err(PolicyFetchError::Reading {
                url: url.to_owned(),
                error,
            });
        }
        if body.truncated {
            return Err(too_large());
        }
        String::from_utf8(body.kept).map_err(|_| PolicyFetchError::NotUtf8 {
            url: url.to_owned(),
        })
    }

    /// Fetches a revocation source — a CRL (`GET`) or an OCSP answer
    /// (`POST` of `request`, RFC 6960 Appendix A.1) — from an `http://` URL
    /// under the address rule, within `probe.timeout`, without following
    /// redirects, reading at most `cap` bytes.
    ///
    /// # Errors
    /// [`BlobFetchError`]: why there are no bytes, in words for the
    /// evidence.
    pub async fn fetch_blob(
        &self,
        url: &str,
        request: Option<(&'static str, Vec<u8>)>,
        cap: usize,
    ) -> Result<Vec<u8>, BlobFetchError> {
        let parsed = Url::parse(url).map_err(|e| BlobFetchError::NotUrl {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        if parsed.scheme() != "http" {
            return Err(BlobFetchError::NotHttp {
                url: url.to_owned(),
            });
        }
        self.admit(&parsed)
            .map_err(|f| BlobFetchError::Refused { detail: f.detail })?;
        let deadline = tokio::time::Instant::now() + self.inner.timeout;
        let builder = match request {
            Some((content_type, body)) => self
                .inner
                .posture
                .post(parsed.clone())
                .header("content-type", content_type)
                .body(body),
            None => self.inner.posture.get(parsed.clone()),
        };
        let response = match timeout_at(deadline, builder.send()).await {
            Ok(Ok(response)) => response,
            // reqwest's own timeout (the same length) and ours say one thing.
            Ok(Err(e)) if e.is_timeout() => {
                return Err(BlobFetchError::Failed {
                    detail: self.timed_out(&parsed).detail,
                });
            }
            Ok(Err(e)) => {
                let failure = failure_from(&parsed, &e);
                return Err(if failure.kind == FailureKind::Refused {
                    BlobFetchError::Refused {
                        detail: failure.detail,
                    }
                } else {
                    BlobFetchError::Failed {
                        detail: failure.detail,
                    }
                });
            }
            Err(_) => {
                return Err(BlobFetchError::Failed {
                    detail: self.timed_out(&parsed).detail,
                });
            }
        };
        let status = response.status().as_u16();
        if status != 200 {
            return Err(BlobFetchError::Status {
                url: url.to_owned(),
                status,
            });
        }
        let announced = response.content_length();
        let too_large = || BlobFetchError::TooLarge {
            url: url.to_owned(),
            cap,
            announced,
        };
        // A body announced larger than the cap is not read at all.
        if announced.is_some_and(|n| n > cap as u64) {
            return Err(too_large());
        }
        let body = read_body(response, cap, true, deadline, self.inner.timeout).await;
        if body.truncated {
            return Err(too_large());
        }
        if let Some(error) = body.error {
            return Err(BlobFetchError::Reading {
                url: url.to_owned(),
                error,
            });
        }
        Ok(body.kept)
    }

    /// Fetches `url`, following redirects by hand: each target admitted by
    /// the address rule, none asked for twice (a loop), at most
    /// [`MAX_REDIRECTS`], and — where `mode` says so — none to a site other
    /// than `site` (the endpoint's, from [`site_of`]).
    async fn fetch_url(&self, client: &Client, url: &str, mode: Mode, site: &str) -> Fetch {
        let mut fetch = Fetch {
            url: url.to_owned(),
            responses: Vec::new(),
            redirects: Vec::new(),
            failure: None,
        };
        let mut current = match Url::parse(url) {
            Ok(u) => u,
            Err(e) => {
                fetch.failure = Some(FetchFailure {
                    url: url.to_owned(),
                    kind: FailureKind::InvalidUrl,
                    detail: format!("{url:?} is not a URL: {e}"),
                    address: None,
                });
                return fetch;
            }
        };
        loop {
            if let Err(refused) = self.admit(&current) {
                fetch.failure = Some(refused);
                return fetch;
            }
            let (response, location) = match self.request(client, &current, mode).await {
                Ok(pair) => pair,
                Err(failure) => {
                    fetch.failure = Some(failure);
                    return fetch;
                }
            };
            let status = response.status;
            fetch.responses.push(response);
            let Some(location) = location else {
                return fetch;
            };
            let to = current.join(&location).ok();
            fetch.redirects.push(Redirect {
                status,
                from: current.to_string(),
                location: location.clone(),
                to: to.as_ref().map(ToString::to_string),
            });
            let mut next = match to {
                Some(next) if matches!(next.scheme(), "http" | "https") => next,
                _ => {
                    fetch.failure = Some(FetchFailure {
                        url: current.to_string(),
                        kind: FailureKind::BadRedirect,
                        detail: format!(
                            "{current} redirects to {location:?}, which is not an http(s) URL"
                        ),
                        address: None,
                    });
                    return fetch;
                }
            };
            if mode.stop_at_https && next.scheme() == "https" {
                return fetch;
            }
            // A fragment is never sent: `/a#x` and `/a` are one request.
            next.set_fragment(None);
            if let Some(failure) = self.refuse_hop(&fetch, &current, &next, mode, site) {
                fetch.failure = Some(failure);
                return fetch;
            }
            current = next;
        }
    }

    /// Why the redirect from `current` to `next` is not followed, if it is
    /// not: a loop, another site (where `mode` says so), too many. (A
    /// refused address is refused as such at the next request, whichever
    /// site it is on.)
    fn refuse_hop(
        &self,
        fetch: &Fetch,
        current: &Url,
        next: &Url,
        mode: Mode,
        site: &str,
    ) -> Option<FetchFailure> {
        let stop = |kind: FailureKind, detail: String| {
            Some(FetchFailure {
                url: current.to_string(),
                kind,
                detail,
                address: None,
            })
        };
        let hops = fetch.redirects.len();
        if fetch.responses.iter().any(|r| r.url == next.as_str()) {
            return stop(
                FailureKind::RedirectLoop,
                format!(
                    "a redirect loop: {current} redirects to {next}, which was asked for before in this chain (after {hops} redirect{}); not followed",
                    if hops == 1 { "" } else { "s" }
                ),
            );
        }
        if mode.stay_on_site && self.admit(next).is_ok() {
            let other = next.host_str().map(site_of).unwrap_or_default();
            if other != site {
                return stop(
                    FailureKind::OtherSite,
                    format!(
                        "{current} redirects to another site, {next} ({other} is not {site}); not followed: that page is not this endpoint's"
                    ),
                );
            }
        }
        if hops > MAX_REDIRECTS {
            return stop(
                FailureKind::TooManyRedirects,
                format!(
                    "more than {MAX_REDIRECTS} redirects: {current} redirects again, to {next}; not followed"
                ),
            );
        }
        None
    }

    /// Sends one GET and reads its body (not a redirect's) under one
    /// deadline. Returns the response and, for a redirect, its `Location`.
    async fn request(
        &self,
        client: &Client,
        url: &Url,
        mode: Mode,
    ) -> Result<(HttpResponse, Option<String>), FetchFailure> {
        let deadline = tokio::time::Instant::now() + self.inner.timeout;
        let response = match timeout_at(deadline, client.get(url.clone()).send()).await {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => return Err(failure_from(url, &e)),
            Err(_) => return Err(self.timed_out(url)),
        };
        let status = response.status().as_u16();
        let mut observed = HttpResponse {
            url: url.to_string(),
            host: url
                .host_str()
                .unwrap_or_default()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port: url.port_or_known_default().unwrap_or_default(),
            status,
            version: format!("{:?}", response.version()),
            headers: collect_headers(response.headers()),
            body_bytes: 0,
            truncated: false,
            body_error: None,
            body: None,
            body_utf8: true,
        };
        let location = if matches!(status, 301 | 302 | 303 | 307 | 308) {
            observed.header("location").map(str::to_owned)
        } else {
            None
        };
        if location.is_some() {
            // A redirect's body says nothing the checks need; dropping the
            // response closes the connection (there is no pool).
            return Ok((observed, location));
        }
        let body = read_body(
            response,
            mode.body_cap,
            mode.keep_body,
            deadline,
            self.inner.timeout,
        )
        .await;
        observed.body_bytes = body.received;
        observed.truncated = body.truncated;
        observed.body_error = body.error;
        if mode.keep_body {
            observed.body_utf8 = std::str::from_utf8(&body.kept).is_ok();
            observed.body = Some(String::from_utf8_lossy(&body.kept).into_owned());
        }
        Ok((observed, None))
    }

    /// Refuses a URL whose host is an internal IP literal (names are held
    /// to the same rule by the resolver, which reqwest skips for literals).
    fn admit(&self, url: &Url) -> Result<(), FetchFailure> {
        let Some(host) = url.host_str() else {
            return Err(FetchFailure {
                url: url.to_string(),
                kind: FailureKind::InvalidUrl,
                detail: format!("{url} has no host"),
                address: None,
            });
        };
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>()
            && let Some(refusal) = self.inner.rule.refuses(ip)
        {
            return Err(FetchFailure {
                url: url.to_string(),
                kind: FailureKind::Refused,
                detail: refusal_text(host, ip, refusal),
                address: Some(ip),
            });
        }
        Ok(())
    }

    fn timed_out(&self, url: &Url) -> FetchFailure {
        FetchFailure {
            url: url.to_string(),
            kind: FailureKind::Timeout,
            detail: format!(
                "no answer from {url} within {}s",
                self.inner.timeout.as_secs_f32()
            ),
            address: None,
        }
    }
}

fn client(
    tls: rustls::ClientConfig,
    resolver: Arc<GuardedResolver>,
    timeout: Duration,
) -> Result<Client, HttpSetupError> {
    let mut tls = tls;
    // A preconfigured rustls config is used as is: ALPN is ours to set.
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Client::builder()
        .tls_backend_preconfigured(tls)
        .dns_resolver(resolver)
        .redirect(reqwest::redirect::Policy::none())
        // A proxy would connect on our behalf, past the address rule.
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        // One probe, one connection: a run over thousands of endpoints must
        // not keep their sockets open.
        .pool_max_idle_per_host(0)
        .user_agent(USER_AGENT)
        .build()
        .map_err(|e| HttpSetupError::Client(error_chain(&e)))
}

fn refusal_text(host: &str, ip: IpAddr, refusal: Refusal) -> String {
    let reason = refusal.reason;
    let how = if host.trim_start_matches('[').trim_end_matches(']') == ip.to_string() {
        format!("{host} is {reason}")
    } else {
        format!("{host} resolves to {ip}, {reason}")
    };
    format!("{how}; {}", refusal.remedy())
}

/// The site of a URL host or endpoint host, as redirects are judged: its
/// registrable domain (`portal.acme.com` and `www.acme.com` are one site,
/// `login.other.com` another), or the host itself for an IP address or a
/// public suffix. Lower case, IPv6 without brackets.
#[must_use]
pub fn site_of(host: &str) -> String {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if host.parse::<IpAddr>().is_ok() {
        return host;
    }
    registrable_domain(&host).unwrap_or(host)
}

/// Lower-cased names (the `http` crate keeps them so), lossy values, capped.
fn collect_headers(map: &HeaderMap) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in map {
        let bytes = value.as_bytes();
        let kept = bytes.get(..HEADER_VALUE_CAP).unwrap_or(bytes);
        out.entry(name.as_str().to_ascii_lowercase())
            .or_default()
            .push(String::from_utf8_lossy(kept).into_owned());
    }
    out
}

/// Whether a Content-Type is `text/plain` (parameters such as charset
/// allowed).
#[must_use]
pub fn is_text_plain(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("text/plain"))
}

/// What reading a body gave.
struct Body {
    received: u64,
    kept: Vec<u8>,
    truncated: bool,
    error: Option<String>,
}

/// Reads at most `cap` bytes (keeping them if asked) before `deadline`.
async fn read_body(
    mut response: Response,
    cap: usize,
    keep: bool,
    deadline: tokio::time::Instant,
    timeout: Duration,
) -> Body {
    let mut body = Body {
        received: 0,
        kept: Vec::new(),
        truncated: false,
        error: None,
    };
    let mut seen: usize = 0;
    loop {
        match timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                body.received = body.received.saturating_add(chunk.len() as u64);
                let room = cap.saturating_sub(seen);
                if keep {
                    body.kept
                        .extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or_default());
                }
                seen = seen.saturating_add(chunk.len());
                if seen > cap {
                    body.truncated = true;
                    return body;
                }
            }
            Ok(Ok(None)) => return body,
            // reqwest's own timeout (the same length, started at send)
            // and ours say the same thing.
            Ok(Err(e)) if e.is_timeout() => {
                body.error = Some(body_timeout(timeout));
                return body;
            }
            Ok(Err(e)) => {
                body.error = Some(error_chain(&e));
                return body;
            }
            Err(_) => {
                body.error = Some(body_timeout(timeout));
                return body;
            }
        }
    }
}

fn body_timeout(timeout: Duration) -> String {
    format!("the body did not arrive within {}s", timeout.as_secs_f32())
}

/// Classifies a reqwest error by what lies at the bottom of its chain.
fn failure_from(url: &Url, error: &reqwest::Error) -> FetchFailure {
    let mut kind = if error.is_timeout() {
        FailureKind::Timeout
    } else if error.is_connect() {
        FailureKind::Connect
    } else {
        FailureKind::Protocol
    };
    let mut address = None;
    let mut detail = None;
    let mut source: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<AddressRefused>() {
            kind = FailureKind::Refused;
            address = Some(refused.address);
            detail = Some(refusal_text(
                &refused.host,
                refused.address,
                refused.refusal,
            ));
            break;
        }
        if let Some(lookup) = e.downcast_ref::<LookupFailed>() {
            kind = if lookup.failure == LookupFailure::Timeout {
                FailureKind::Timeout
            } else {
                FailureKind::Lookup
            };
            break;
        }
        if is_tls_error(e) {
            kind = FailureKind::Tls;
            break;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            kind = FailureKind::Timeout;
        }
        source = e.source();
    }
    FetchFailure {
        url: url.to_string(),
        kind,
        detail: detail.unwrap_or_else(|| error_chain(error)),
        address,
    }
}

fn is_tls_error(e: &(dyn StdError + 'static)) -> bool {
    if e.downcast_ref::<rustls::Error>().is_some() {
        return true;
    }
    // tokio-rustls wraps rustls errors in io::Error, whose source() skips
    // the wrapped error itself.
    e.downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}

/// Every message in an error chain, joined like anyhow's `{:#}`, skipping
/// one that only repeats its predecessor.
fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = source {
        let text = e.to_string();
        if parts.last().is_none_or(|last| !last.contains(&text)) {
            parts.push(text);
        }
        // io::Error hides its wrapped error from source(): show it.
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            let text = inner.to_string();
            if parts.last().is_none_or(|last| !last.contains(&text)) {
                parts.push(text);
            }
        }
        source = e.source();
    }
    parts.join(": ")
}

/// A DNS answer probes may not use.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to {address}, {}", refusal.reason)]
struct AddressRefused {
    host: String,
    address: IpAddr,
    refusal: Refusal,
}

/// A name that did not resolve.
#[derive(Debug, thiserror::Error)]
#[error("looking up {host}: {failure}")]
struct LookupFailed {
    host: String,
    failure: LookupFailure,
}

/// reqwest's resolver: our hickory [`DnsResolver`], with the address rule.
struct GuardedResolver {
    dns: DnsResolver,
    rule: AddressRule,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let dns = self.dns.clone();
        let rule = self.rule.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let ips = dns.addresses(&host).await.map_err(|failure| LookupFailed {
                host: host.clone(),
                failure,
            })?;
            // Any internal answer refuses the name, as for TLS: a name
            // with a public and an internal address must not reach in.
            if let Some((address, refusal)) = ips
                .iter()
                .find_map(|ip| rule.refuses(*ip).map(|why| (*ip, why)))
            {
                return Err(AddressRefused {
                    host,
                    address,
                    refusal,
                }
                .into());
            }
            // Port 0: reqwest puts the URL's port in.
            let addrs: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok::<Addrs, Box<dyn StdError + Send + Sync>>(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::resolve::metadata_reason;

    #[test]
    fn text_plain_allows_parameters_only() {
        assert!(is_text_plain("text/plain"));
        assert!(is_text_plain("Text/Plain; charset=utf-8"));
        assert!(is_text_plain(" text/plain ;charset=UTF-8"));
        assert!(!is_text_plain("text/html"));
        assert!(!is_text_plain("text/plainx"));
        assert!(!is_text_plain(""));
    }

    #[test]
    fn header_values_are_capped_and_lossy() {
        let mut map = HeaderMap::new();
        map.append(
            "Server",
            reqwest::header::HeaderValue::from_bytes(b"nginx/\xff1").unwrap(),
        );
        map.append(
            "x-big",
            reqwest::header::HeaderValue::from_str(&"a".repeat(HEADER_VALUE_CAP * 2)).unwrap(),
        );
        map.append("x-big", reqwest::header::HeaderValue::from_static("second"));
        let headers = collect_headers(&map);
        assert_eq!(headers["server"], vec!["nginx/\u{fffd}1".to_owned()]);
        assert_eq!(headers["x-big"][0].len(), HEADER_VALUE_CAP);
        assert_eq!(headers["x-big"][1], "second");
    }

    #[test]
    fn observation_round_trips_through_json() {
        let obs = HttpObservation {
            target: "a.test:443".into(),
            host: "a.test".into(),
            port: 443,
            scheme: HttpScheme::Https,
            page: Fetch {
                url: "https://a.test/".into(),
                responses: vec![HttpResponse {
                    url: "https://a.test/".into(),
                    host: "a.test".into(),
                    port: 443,
                    status: 200,
                    version: "HTTP/1.1".into(),
                    headers: BTreeMap::from([("server".into(), vec!["nginx".into()])]),
                    body_bytes: 3,
                    truncated: false,
                    body_error: None,
                    body: None,
                    body_utf8: true,
                }],
                redirects: vec![],
                failure: None,
            },
            security_txt: Some(Fetch {
                url: "https://a.test/.well-known/security.txt".into(),
                responses: vec![],
                redirects: vec![],
                failure: Some(FetchFailure {
                    url: "https://a.test/.well-known/security.txt".into(),
                    kind: FailureKind::Refused,
                    detail: "refused".into(),
                    address: Some("10.0.0.1".parse().unwrap()),
                }),
            }),
            elapsed_ms: 5,
        };
        let json = serde_json::to_string(&obs).unwrap();
        let back: HttpObservation = serde_json::from_str(&json).unwrap();
        assert_eq!(back, obs);
        assert!(obs.refused().is_none());
    }

    fn prober(allow_private: bool, allowed: Vec<IpAddr>) -> HttpProber {
        let config = ProbeConfig {
            nameservers: vec!["127.0.0.1:53".parse().unwrap()],
            extra_roots: vec![],
            timeout: Duration::from_secs(1),
            concurrency: 1,
            per_host_concurrency: 1,
            allow_private_targets: allow_private,
            allow_metadata_targets: false,
            mta_sts_port: 443,
            trust_anchor: None,
            smtp: false,
            smtp_port: 25,
            spread: std::time::Duration::ZERO,
        };
        let resolver = DnsResolver::new(&config).unwrap();
        HttpProber::with_options(
            &config,
            resolver,
            HttpOptions {
                allowed_addresses: allowed,
                ..HttpOptions::default()
            },
        )
        .unwrap()
    }

    /// Every spelling of an internal address that a URL parser turns into
    /// one is refused; names are left to the resolver.
    #[tokio::test]
    async fn ip_literals_are_admitted_by_the_rule() {
        let strict = prober(false, vec![]);
        for url in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f.0.0.1/",
            "http://127.1/",
            "https://[::1]:8443/",
            "http://[::ffff:127.0.0.1]/",
            "http://[fd00:ec2::254]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.1.2.3/",
            "http://0.0.0.0/",
        ] {
            let failure = strict.admit(&Url::parse(url).unwrap()).unwrap_err();
            assert_eq!(failure.kind, FailureKind::Refused, "{url}");
            assert!(failure.address.is_some(), "{url}");
            assert!(failure.detail.contains("allow_private_targets"), "{url}");
        }
        for url in [
            "http://93.184.216.34/",
            "https://portal.acme.test/",
            "https://[2606:2800:220:1::]/",
        ] {
            assert!(strict.admit(&Url::parse(url).unwrap()).is_ok(), "{url}");
        }
        let loopback = IpAddr::from([127, 0, 0, 1]);
        let excepted = prober(false, vec![loopback]);
        assert!(
            excepted
                .admit(&Url::parse("http://127.0.0.1/").unwrap())
                .is_ok()
        );
        assert!(
            excepted
                .admit(&Url::parse("http://127.0.0.2/").unwrap())
                .is_err()
        );
        let open = prober(true, vec![]);
        assert!(open.admit(&Url::parse("http://10.1.2.3/").unwrap()).is_ok());
        assert!(
            open.admit(&Url::parse("http://127.0.0.1/").unwrap())
                .is_ok()
        );
        assert!(!open.is_plain_http(&"a.test".parse().unwrap()));
        assert!(open.is_plain_http(&"a.test:80".parse().unwrap()));
    }

    /// With `allow_private_targets`, every spelling of a metadata address
    /// in a URL is still refused before any request, and the refusal
    /// names the key that would open it; an explicit exception for the
    /// address does not open it either.
    #[tokio::test]
    async fn metadata_literals_are_refused_with_private_targets_allowed() {
        let metadata = IpAddr::from([169, 254, 169, 254]);
        for prober in [prober(true, vec![]), prober(true, vec![metadata])] {
            for url in [
                "http://169.254.169.254/latest/meta-data/",
                "http://2852039166/",
                "http://0xa9fea9fe/",
                "http://0xA9.0xFE.0xA9.0xFE/",
                "http://0251.0376.0251.0376/",
                "http://169.254.43518/",
                "http://169.16689662/",
                "http://[::ffff:169.254.169.254]/",
                "http://[::ffff:a9fe:a9fe]/",
                "http://[64:ff9b::a9fe:a9fe]/",
                "http://[64:ff9b::169.254.169.254]/",
                "http://[2002:a9fe:a9fe::]/",
                "http://[fd00:ec2::254]/latest/meta-data/",
                "https://[fd00:ec2::254]:8443/",
                "http://169.254.170.2/v2/credentials/x",
                "http://100.100.100.200/latest/meta-data/",
            ] {
                let failure = prober.admit(&Url::parse(url).unwrap()).unwrap_err();
                assert_eq!(failure.kind, FailureKind::Refused, "{url}");
                assert!(
                    failure.detail.contains("allow_metadata_targets"),
                    "{url}: {}",
                    failure.detail
                );
                assert!(
                    failure
                        .address
                        .is_some_and(|a| metadata_reason(a).is_some()),
                    "{url}"
                );
            }
        }
    }

    /// Revocation sources go through the same rule: a CRL or responder on
    /// a metadata address is never asked, a private one only when private
    /// targets are allowed; only `http://` URLs are fetched.
    #[tokio::test]
    async fn revocation_sources_are_held_to_the_address_rule() {
        let open = prober(true, vec![]);
        for url in [
            "http://169.254.169.254/ca.crl",
            "http://[fd00:ec2::254]/ca.crl",
        ] {
            let Err(BlobFetchError::Refused { detail }) = open.fetch_blob(url, None, 1024).await
            else {
                panic!("{url} must be refused")
            };
            assert!(detail.contains("allow_metadata_targets"), "{detail}");
        }
        let strict = prober(false, vec![]);
        let Err(BlobFetchError::Refused { detail }) = strict
            .fetch_blob(
                "http://10.1.2.3/ocsp",
                Some(("application/ocsp-request", vec![0x30, 0])),
                1024,
            )
            .await
        else {
            panic!("a private responder must be refused")
        };
        assert!(detail.contains("private"), "{detail}");
        for url in [
            "https://crl.acme.test/ca.crl",
            "ldap://crl.acme.test/ca.crl",
        ] {
            assert!(
                matches!(
                    open.fetch_blob(url, None, 1024).await,
                    Err(BlobFetchError::NotHttp { .. })
                ),
                "{url}"
            );
        }
    }

    /// The resolver guard refuses a name whose answers include a metadata
    /// address before reqwest connects anywhere: with
    /// `allow_private_targets`, a name on 127.0.0.1 passes and one on
    /// 169.254.169.254 (or an IPv4-mapped spelling of it) does not.
    #[test]
    fn the_resolver_guard_refuses_metadata_answers() {
        let guard = AddressRule {
            rule: TargetRule {
                allow_private: true,
                allow_metadata: false,
            },
            allowed: vec![],
        };
        for answers in [
            vec!["169.254.169.254"],
            vec!["93.184.216.34", "169.254.169.254"],
            vec!["::ffff:169.254.169.254"],
            vec!["fd00:ec2::254"],
        ] {
            let ips: Vec<IpAddr> = answers.iter().map(|a| a.parse().unwrap()).collect();
            let refused = ips.iter().find_map(|ip| guard.refuses(*ip));
            assert!(refused.is_some_and(|r| r.metadata), "{answers:?}");
        }
        assert!(guard.refuses(IpAddr::from([127, 0, 0, 1])).is_none());
        assert!(guard.refuses(IpAddr::from([10, 0, 0, 1])).is_none());
    }

    #[test]
    fn sites_are_registrable_domains() {
        assert_eq!(site_of("portal.acme.test"), "acme.test");
        assert_eq!(site_of("WWW.Acme.Test."), "acme.test");
        assert_eq!(site_of("login.other.test"), "other.test");
        assert_eq!(site_of("a.b.example.co.uk"), "example.co.uk");
        assert_eq!(site_of("127.0.0.1"), "127.0.0.1");
        assert_eq!(site_of("[::1]"), "::1");
    }

    #[test]
    fn error_chain_skips_repeats() {
        let inner = std::io::Error::other("boom");
        assert_eq!(error_chain(&inner), "boom");
    }
}
