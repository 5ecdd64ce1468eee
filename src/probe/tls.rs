//! The TLS probe of one endpoint: resolve, connect, handshake with rustls
//! while capturing the presented chain whatever its state, judge the chain's
//! trust separately, and try SSL 3.0 and TLS 1.0/1.1 with a hand-built
//! ClientHello.
//! Also home to what the HTTP prober shares with it: the trusted roots
//! (`trusted_roots`, `web_pki_verifier`) and the verifier that accepts
//! any certificate but still checks handshake signatures (`LenientVerifier`).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::hello::{self, FlightParser, ServerFlight};
use super::resolve::{DnsResolver, TargetRule};
use super::{ChainSource, EndpointObservation, LegacyProbe, Reach, Stage, TlsFacts, Trust, cert};
use crate::config::ProbeConfig;
use crate::registry::{Endpoint, Host};

/// Addresses of one name tried at most when connecting.
pub const MAX_CONNECT_ADDRESSES: usize = 4;

/// What a probe keeps, besides its observation, for the revocation check.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    /// The certificates presented, leaf first, as sent.
    pub chain: Vec<CertificateDer<'static>>,
    /// The stapled OCSP response (empty when none was sent).
    pub stapled_ocsp: Vec<u8>,
}

/// Why the prober could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("no usable trusted roots: {0}")]
    Roots(RootsError),
}

/// Why the trusted roots (web PKI plus `probe.extra_roots`) give no
/// verifier.
#[derive(Debug, thiserror::Error)]
pub enum RootsError {
    /// A certificate of an `extra_roots` file that rustls will not take as
    /// a root, named by its file.
    #[error("{}: {error}", path.display())]
    Unusable {
        path: std::path::PathBuf,
        error: rustls::Error,
    },
    #[error("{0}")]
    Verifier(rustls::client::VerifierBuilderError),
}

/// Shared, read-only state for TLS probes.
#[derive(Clone)]
pub struct TlsProber {
    provider: Arc<CryptoProvider>,
    verifier: Arc<WebPkiServerVerifier>,
    timeout: Duration,
    rule: TargetRule,
}

impl TlsProber {
    /// Trusts the web PKI roots plus `probe.extra_roots`.
    ///
    /// # Errors
    /// [`TlsSetupError`] when the root store cannot be built.
    pub fn new(config: &ProbeConfig) -> Result<Self, TlsSetupError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = web_pki_verifier(config, provider.clone()).map_err(TlsSetupError::Roots)?;
        Ok(Self {
            provider,
            verifier,
            timeout: config.timeout,
            rule: TargetRule::of(config),
        })
    }

    /// Probes one endpoint. Never fails: what went wrong is in the observation.
    pub async fn probe(&self, resolver: &DnsResolver, endpoint: &Endpoint) -> EndpointObservation {
        self.probe_capturing(resolver, endpoint).await.0
    }

    /// As [`TlsProber::probe`], with the presented certificates and the
    /// stapled OCSP response as sent, for the revocation check.
    pub async fn probe_capturing(
        &self,
        resolver: &DnsResolver,
        endpoint: &Endpoint,
    ) -> (EndpointObservation, Captured) {
        let started = Instant::now();
        let host = endpoint.host.to_string();
        let mut obs = EndpointObservation {
            target: endpoint.to_string(),
            host: host.clone(),
            port: endpoint.port,
            addresses: Vec::new(),
            reach: Reach::Unreachable {
                stage: Stage::Resolve,
                error: String::new(),
                timed_out: false,
            },
            tls: None,
            legacy: Vec::new(),
            elapsed_ms: 0,
        };
        let mut captured = Captured::default();
        self.probe_into(resolver, endpoint, &mut obs, &mut captured)
            .await;
        obs.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        (obs, captured)
    }

    #[expect(
        clippy::too_many_lines,
        reason = "the probe's steps in order, each one short; the sequence is the point"
    )]
    async fn probe_into(
        &self,
        resolver: &DnsResolver,
        endpoint: &Endpoint,
        obs: &mut EndpointObservation,
        captured: &mut Captured,
    ) {
        obs.addresses = match &endpoint.host {
            Host::Ip(ip) => vec![*ip],
            Host::Name(name) => {
                match timeout(self.timeout, resolver.addresses(name.as_str())).await {
                    Ok(Ok(ips)) => ips,
                    Ok(Err(failure)) => {
                        // A lookup that timed out is silence, not an answer.
                        let timed_out = failure == crate::probe::LookupFailure::Timeout;
                        obs.reach = unreachable(Stage::Resolve, failure.to_string(), timed_out);
                        return;
                    }
                    Err(_) => {
                        obs.reach =
                            unreachable(Stage::Resolve, "the lookup timed out".to_owned(), true);
                        return;
                    }
                }
            }
        };
        // Any internal answer refuses the target: a name that resolves to
        // both a public and an internal address must not reach inside.
        if let Some((ip, refusal)) = obs
            .addresses
            .iter()
            .find_map(|ip| self.rule.refuses(*ip).map(|why| (*ip, why)))
        {
            obs.reach = Reach::Refused {
                address: ip,
                reason: format!("resolves to {ip}, {}; {}", refusal.reason, refusal.remedy()),
            };
            return;
        }
        let server_name = match &endpoint.host {
            Host::Ip(ip) => ServerName::IpAddress((*ip).into()),
            Host::Name(name) => match ServerName::try_from(name.as_str().to_owned()) {
                Ok(n) => n,
                Err(e) => {
                    obs.reach = unreachable(Stage::Handshake, e.to_string(), false);
                    return;
                }
            },
        };

        let stream = match self.connect(&obs.addresses, endpoint.port).await {
            Ok((stream, _)) => stream,
            Err((error, timed_out)) => {
                obs.reach = unreachable(Stage::Connect, error, timed_out);
                return;
            }
        };
        let address = stream.peer_addr().ok();
        let capture = Arc::new(LenientVerifier::recording(self.provider.clone()));
        let handshake = self
            .handshake(stream, server_name.clone(), capture.clone())
            .await;
        let mut chain_der = capture.take();
        captured.stapled_ocsp = capture.take_ocsp();
        let mut chain_source = ChainSource::Rustls;
        let mut raw_version = None;
        let (version, cipher_suite, handshake_error) = match handshake {
            Ok((version, suite)) => (Some(version), Some(suite), None),
            Err((error, true)) => {
                // A server that stalls the handshake stalls everything else too.
                obs.reach = unreachable(Stage::Handshake, error, true);
                return;
            }
            Err((error, false)) => (None, None, Some(error)),
        };

        // rustls refuses some servers before it sees their certificate
        // (weak keys, odd suites): read the chain from a TLS 1.2 hello.
        let addr = address.map_or_else(|| obs.addresses.clone(), |a| vec![a.ip()]);
        let name_for_sni = match &endpoint.host {
            Host::Name(n) => Some(n.as_str()),
            Host::Ip(_) => None,
        };
        if chain_der.is_empty()
            && let Ok(flight) = self
                .raw_hello(&addr, endpoint.port, hello::TLS12, name_for_sni)
                .await
        {
            raw_version = flight.version.map(hello::version_name);
            chain_der = flight
                .certificates
                .into_iter()
                .map(CertificateDer::from)
                .collect();
            chain_source = ChainSource::RawTls12;
        }

        obs.legacy = self.legacy(&addr, endpoint.port, name_for_sni).await;

        if chain_der.is_empty() {
            obs.reach = unreachable(
                Stage::Handshake,
                handshake_error.unwrap_or_else(|| "no certificate presented".to_owned()),
                false,
            );
            return;
        }
        obs.reach = match handshake_error {
            None => Reach::Handshake,
            Some(error) => Reach::CertificateOnly { error },
        };
        let (chain, unparseable) = read_chain(&chain_der);
        let trust = self.trust(&chain_der, &chain, &server_name);
        let unneeded = if trust == Trust::Trusted {
            self.unneeded(&chain_der, &chain, &server_name)
        } else {
            Vec::new()
        };
        obs.tls = Some(TlsFacts {
            version,
            cipher_suite,
            chain,
            unparseable,
            chain_source,
            trust,
            revocation: None,
            raw_version,
            unneeded,
        });
        captured.chain = chain_der;
    }

    /// Completes a TLS handshake over a connection another protocol has
    /// set up (SMTP after `STARTTLS`), capturing the chain and judging its
    /// trust as [`TlsProber::probe`] does, with `host` as the name. No
    /// second try with a hand-built hello: that would need the other
    /// protocol's dialogue again. Never fails: a handshake that fails is a
    /// [`Reach`] of its own. The presented certificates come back as well,
    /// for what is matched against them (DANE).
    pub(crate) async fn handshake_over(
        &self,
        stream: TcpStream,
        host: &str,
    ) -> (Reach, Option<TlsFacts>, Vec<CertificateDer<'static>>) {
        let server_name = match ServerName::try_from(host.to_owned()) {
            Ok(n) => n,
            Err(e) => {
                return (
                    unreachable(Stage::Handshake, e.to_string(), false),
                    None,
                    Vec::new(),
                );
            }
        };
        let capture = Arc::new(LenientVerifier::recording(self.provider.clone()));
        let handshake = self
            .handshake(stream, server_name.clone(), capture.clone())
            .await;
        let chain_der = capture.take();
        let (version, cipher_suite, reach) = match handshake {
            Ok((version, suite)) => (Some(version), Some(suite), Reach::Handshake),
            Err((error, true)) => {
                return (unreachable(Stage::Handshake, error, true), None, chain_der);
            }
            Err((error, false)) if chain_der.is_empty() => {
                return (unreachable(Stage::Handshake, error, false), None, chain_der);
            }
            Err((error, false)) => (None, None, Reach::CertificateOnly { error }),
        };
        let (chain, unparseable) = read_chain(&chain_der);
        let trust = self.trust(&chain_der, &chain, &server_name);
        let unneeded = if trust == Trust::Trusted {
            self.unneeded(&chain_der, &chain, &server_name)
        } else {
            Vec::new()
        };
        let facts = TlsFacts {
            version,
            cipher_suite,
            chain,
            unparseable,
            chain_source: ChainSource::Rustls,
            trust,
            revocation: None,
            raw_version: None,
            unneeded,
        };
        (reach, Some(facts), chain_der)
    }

    /// Connects to the first address that answers, trying at most
    /// [`MAX_CONNECT_ADDRESSES`] of them, all within one probe timeout: each
    /// attempt gets an even share of the time left, so a name with many
    /// black-holed addresses costs one timeout, not one per address, and a
    /// quick refusal leaves its share to the next address. A single address
    /// gets the whole timeout.
    pub(crate) async fn connect(
        &self,
        addresses: &[IpAddr],
        port: u16,
    ) -> Result<(TcpStream, SocketAddr), (String, bool)> {
        let deadline = Instant::now() + self.timeout;
        let tried = addresses.len().min(MAX_CONNECT_ADDRESSES);
        let mut last = ("no address to connect to".to_owned(), false);
        for (n, ip) in addresses.iter().take(tried).enumerate() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let share = left / u32::try_from(tried - n).unwrap_or(u32::MAX).max(1);
            let addr = SocketAddr::new(*ip, port);
            match timeout(share, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => return Ok((stream, addr)),
                Ok(Err(e)) => last = (format!("connect to {addr}: {e}"), false),
                Err(_) => {
                    last = (
                        format!(
                            "connect to {addr} timed out after {:.1}s",
                            share.as_secs_f32()
                        ),
                        true,
                    );
                }
            }
        }
        if addresses.len() > tried {
            last.0 = format!(
                "{} (tried the first {tried} of {} addresses)",
                last.0,
                addresses.len()
            );
        }
        Err(last)
    }

    async fn handshake(
        &self,
        stream: TcpStream,
        server_name: ServerName<'static>,
        capture: Arc<LenientVerifier>,
    ) -> Result<(String, String), (String, bool)> {
        let config = rustls::ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| (e.to_string(), false))?
            .dangerous()
            .with_custom_certificate_verifier(capture)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        match timeout(self.timeout, connector.connect(server_name, stream)).await {
            Ok(Ok(mut tls)) => {
                let (_, conn) = tls.get_ref();
                let version = conn
                    .protocol_version()
                    .map_or_else(|| "unknown".to_owned(), protocol_name);
                let suite = conn
                    .negotiated_cipher_suite()
                    .map_or_else(|| "unknown".to_owned(), |s| format!("{:?}", s.suite()));
                let _ = timeout(Duration::from_secs(1), tls.shutdown()).await;
                Ok((version, suite))
            }
            Ok(Err(e)) => Err((format!("TLS handshake failed: {e}"), false)),
            Err(_) => Err((
                format!("TLS handshake timed out after {}s", self.timeout.as_secs()),
                true,
            )),
        }
    }

    /// Sends a hand-built ClientHello and reads the clear-text first flight.
    async fn raw_hello(
        &self,
        addresses: &[IpAddr],
        port: u16,
        version: u16,
        server_name: Option<&str>,
    ) -> Result<ServerFlight, HelloError> {
        let (mut stream, _) = self
            .connect(addresses, port)
            .await
            .map_err(|(error, _)| HelloError::Connect(error))?;
        let random = random_bytes();
        let exchange = async {
            stream
                .write_all(&hello::client_hello(version, server_name, random))
                .await
                .map_err(ExchangeError::Io)?;
            let mut parser = FlightParser::new();
            let mut buf = vec![0_u8; 16 * 1024];
            loop {
                let n = stream.read(&mut buf).await.map_err(ExchangeError::Io)?;
                let Some(chunk) = buf.get(..n) else {
                    return Err(ExchangeError::PastBuffer);
                };
                if n == 0 {
                    return Ok(parser.flight);
                }
                parser.feed(chunk).map_err(ExchangeError::Flight)?;
                if parser.finished() {
                    return Ok(parser.flight);
                }
            }
        };
        match timeout(self.timeout, exchange).await {
            Ok(Ok(flight)) => Ok(flight),
            Ok(Err(e)) => Err(HelloError::Exchange(e)),
            Err(_) => Err(HelloError::TimedOut),
        }
    }

    /// Offers SSL 3.0, TLS 1.0 and TLS 1.1 alone, side by side. A version
    /// is accepted when the ServerHello carries it (RFC 6101 §5.6.1.3,
    /// RFC 5246 appendix E.1: a server answers with the highest version it
    /// supports up to the client's, so a lower one is a refusal).
    async fn legacy(
        &self,
        addresses: &[IpAddr],
        port: u16,
        server_name: Option<&str>,
    ) -> Vec<LegacyProbe> {
        let one = |version: u16| async move {
            let name = hello::version_name(version);
            let probe = |accepted, detail| LegacyProbe {
                version: name.clone(),
                accepted,
                detail,
                cipher_suite: None,
            };
            match self.raw_hello(addresses, port, version, server_name).await {
                Ok(flight) => match (flight.version, flight.alert) {
                    (Some(v), _) if v == version => LegacyProbe {
                        cipher_suite: flight.cipher_suite.map(hello::suite_name),
                        ..probe(
                            Some(true),
                            format!("server answered with {}", hello::version_name(v)),
                        )
                    },
                    (Some(v), _) => probe(
                        Some(false),
                        format!("server answered with {}", hello::version_name(v)),
                    ),
                    (None, Some((_, description))) => {
                        probe(Some(false), format!("refused with alert {description}"))
                    }
                    (None, None) => probe(
                        Some(false),
                        "connection closed without a ServerHello".to_owned(),
                    ),
                },
                // A reset or garbage in answer to a legacy hello is a refusal.
                Err(HelloError::Exchange(e)) => probe(Some(false), e.to_string()),
                // No connection, or no answer: the server said nothing.
                Err(HelloError::Connect(e)) => probe(None, e),
                Err(HelloError::TimedOut) => probe(None, "timed out".to_owned()),
            }
        };
        let (ssl3, v10, v11) =
            tokio::join!(one(hello::SSL30), one(hello::TLS10), one(hello::TLS11));
        vec![ssl3, v10, v11]
    }

    /// Verifies the chain against the roots at a time when every presented
    /// certificate is within its validity, if there is one inside the
    /// leaf's, else in the middle of the leaf's validity ([`judging_time`]):
    /// the path and the signatures are judged here, the dates against
    /// `now` by the checks (RFC 5280 §6.1.3 (a)(2) applies to every
    /// certificate of the path, so an intermediate's dates count as much
    /// as the leaf's). `chain` is the parsed prefix of `chain_der` (see
    /// [`read_chain`]): no leaf facts, no verdict.
    fn trust(
        &self,
        chain_der: &[CertificateDer<'static>],
        chain: &[cert::CertFacts],
        name: &ServerName<'_>,
    ) -> Trust {
        let (Some(end_entity), Some(_)) = (chain_der.first(), chain.first()) else {
            return Trust::NotChecked;
        };
        let intermediates = chain_der.get(1..).unwrap_or_default();
        let midpoint = judging_time(chain);
        self.verdict(end_entity, intermediates, name, midpoint, chain)
    }

    /// Positions of presented certificates the trusted path does without:
    /// the chain still verifies, at the same time, when one is left out.
    fn unneeded(
        &self,
        chain_der: &[CertificateDer<'static>],
        chain: &[cert::CertFacts],
        name: &ServerName<'_>,
    ) -> Vec<usize> {
        let Some(end_entity) = chain_der.first() else {
            return Vec::new();
        };
        let at = judging_time(chain);
        (1..chain_der.len())
            .filter(|skip| {
                let rest: Vec<CertificateDer<'static>> = chain_der
                    .iter()
                    .enumerate()
                    .skip(1)
                    .filter(|(i, _)| i != skip)
                    .map(|(_, der)| der.clone())
                    .collect();
                self.verdict(end_entity, &rest, name, at, chain) == Trust::Trusted
            })
            .collect()
    }

    fn verdict(
        &self,
        end_entity: &CertificateDer<'static>,
        intermediates: &[CertificateDer<'static>],
        name: &ServerName<'_>,
        midpoint: DateTime<Utc>,
        chain: &[cert::CertFacts],
    ) -> Trust {
        let at = UnixTime::since_unix_epoch(Duration::from_secs(
            u64::try_from(midpoint.timestamp()).unwrap_or(0),
        ));
        match self
            .verifier
            .verify_server_cert(end_entity, intermediates, name, &[], at)
        {
            Ok(_) => Trust::Trusted,
            Err(rustls::Error::InvalidCertificate(e)) => match e {
                // The name is checked after the path: the path is fine.
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => Trust::Trusted,
                CertificateError::UnknownIssuer => Trust::UnknownIssuer,
                CertificateError::BadSignature
                | CertificateError::UnsupportedSignatureAlgorithmContext { .. }
                | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
                    Trust::BadSignature {
                        detail: describe(&e),
                    }
                }
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. } => Trust::OutOfDate {
                    detail: out_of_date(chain, midpoint, &e),
                },
                other => Trust::Other {
                    detail: describe(&other),
                },
            },
            Err(other) => Trust::Other {
                detail: other.to_string(),
            },
        }
    }
}

/// When to judge a chain's path: the middle of the span in which the leaf
/// and every presented certificate that is not self-issued (a sent root is
/// not part of the path: the trust anchor is the store's) and whose
/// validity overlaps the leaf's (one that does not cannot be on a path
/// that was ever valid) are all within their validity; when there is no
/// such span, the middle of the leaf's validity (and the verdict says
/// which certificate is out of date).
fn judging_time(chain: &[cert::CertFacts]) -> DateTime<Utc> {
    let Some(leaf) = chain.first() else {
        return DateTime::<Utc>::UNIX_EPOCH;
    };
    let leaf_middle = leaf.not_before + (leaf.not_after - leaf.not_before) / 2;
    let (start, end) = chain
        .iter()
        .skip(1)
        .filter(|c| {
            !c.self_issued && c.not_before <= leaf.not_after && c.not_after >= leaf.not_before
        })
        .fold((leaf.not_before, leaf.not_after), |(start, end), c| {
            (start.max(c.not_before), end.min(c.not_after))
        });
    if start <= end {
        start + (end - start) / 2
    } else {
        leaf_middle
    }
}

/// Why the server's certificates could not be read, and how many.
///
/// `chain` holds the parsed certificates up to the first that cannot be
/// parsed, so that an index in it is the certificate's position in what
/// the server sent (index 0 is the leaf, or there is none): a leaf that
/// cannot be parsed leaves `chain` empty, rather than shifting an
/// intermediate into its place. `unparseable` says, by position, what
/// became of each certificate from the first unparseable one on; the two
/// together count every certificate presented.
fn read_chain(chain_der: &[CertificateDer<'_>]) -> (Vec<cert::CertFacts>, Vec<String>) {
    let mut chain = Vec::new();
    let mut unparseable = Vec::new();
    for (position, der) in chain_der.iter().enumerate() {
        let which = if position == 0 {
            "the leaf (position 0)".to_owned()
        } else {
            format!("position {position}")
        };
        match cert::parse(der) {
            Ok(facts) if unparseable.is_empty() => chain.push(facts),
            Ok(facts) => unparseable.push(format!(
                "{which}: '{}' is not judged, it follows a certificate that cannot be parsed",
                facts.subject
            )),
            Err(e) => unparseable.push(format!("{which}: {e}")),
        }
    }
    (chain, unparseable)
}

/// Which presented certificates were outside their validity at `at`, the
/// time the chain was judged at: rustls says only that one was.
fn out_of_date(chain: &[cert::CertFacts], at: DateTime<Utc>, error: &CertificateError) -> String {
    let culprits: Vec<String> = chain
        .iter()
        .enumerate()
        .filter(|(_, c)| at < c.not_before || at > c.not_after)
        .map(|(position, c)| {
            let which = if position == 0 {
                format!("the leaf '{}'", c.subject)
            } else {
                format!("the certificate '{}' at position {position}", c.subject)
            };
            if at > c.not_after {
                format!("{which} expired on {}", c.not_after.to_rfc3339())
            } else {
                format!("{which} is not valid before {}", c.not_before.to_rfc3339())
            }
        })
        .collect();
    let what = if culprits.is_empty() {
        "a certificate of the chain that the server does not send (a root?) is not valid".to_owned()
    } else {
        culprits.join("; ")
    };
    format!(
        "{what}, at {} (when the chain is judged: no time within the leaf's validity has every presented certificate valid); rustls: {}",
        at.to_rfc3339(),
        describe(error)
    )
}

/// Why the verifier refused a chain, in words: no Rust debug text may reach
/// a finding's summary.
fn describe(error: &CertificateError) -> String {
    let text = match error {
        CertificateError::BadEncoding => "a certificate is not valid DER",
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "a certificate has expired"
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "a certificate is not valid yet"
        }
        CertificateError::Revoked => "a certificate is revoked",
        CertificateError::UnhandledCriticalExtension => {
            "a certificate has a critical extension the verifier does not know"
        }
        CertificateError::UnknownIssuer => "the issuer is not known",
        CertificateError::UnknownRevocationStatus => "the revocation status is unknown",
        CertificateError::BadSignature => "a signature does not verify",
        CertificateError::UnsupportedSignatureAlgorithmContext { .. }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "a certificate is signed with an algorithm the verifier does not accept"
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "the certificate is not valid for the name"
        }
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "a certificate is not meant for TLS servers (extended key usage)"
        }
        CertificateError::Other(other) => {
            return match other.0.downcast_ref::<webpki::Error>() {
                Some(e) => describe_webpki(e).to_owned(),
                None => "the verifier refused the chain".to_owned(),
            };
        }
        _ => "the verifier refused the chain",
    };
    text.to_owned()
}

/// The reasons rustls passes on from webpki as `Other`.
fn describe_webpki(error: &webpki::Error) -> &'static str {
    use webpki::Error as E;
    match error {
        E::MaximumPathDepthExceeded => {
            "chain too long: more intermediates than a verifier follows (at most 6 between leaf and root)"
        }
        E::MaximumSignatureChecksExceeded | E::MaximumPathBuildCallsExceeded => {
            "chain too long or too tangled: the verifier gave up looking for a path to a root"
        }
        E::MaximumNameConstraintComparisonsExceeded => "the name constraints are too many to check",
        E::NameConstraintViolation => "a name is outside an issuer's name constraints",
        E::PathLenConstraintViolated => "an issuer's path length constraint is exceeded",
        E::CaUsedAsEndEntity => "the leaf is a CA certificate",
        E::EndEntityUsedAsCa => "a certificate that is not a CA issues another",
        E::CertDistrusted => "a certificate is distrusted",
        E::InvalidCertValidity => "a certificate's validity period is invalid",
        E::UnsupportedCertVersion => "a certificate is not X.509 version 3",
        E::SignatureAlgorithmMismatch => {
            "a certificate's signature algorithm does not match its issuer's"
        }
        E::MalformedExtensions | E::ExtensionValueInvalid => {
            "a certificate has a malformed extension"
        }
        E::UnsupportedCriticalExtension => {
            "a certificate has a critical extension the verifier does not know"
        }
        _ => "the verifier refused the chain",
    }
}

/// How a hand-built hello went wrong.
#[derive(Debug)]
enum HelloError {
    /// No TCP connection: the server was not asked.
    Connect(String),
    /// The server answered with something that is not a first flight, or
    /// reset the connection.
    Exchange(ExchangeError),
    /// No complete answer within the timeout.
    TimedOut,
}

/// What went wrong between sending a hand-built hello and reading the
/// server's first flight.
#[derive(Debug, thiserror::Error)]
enum ExchangeError {
    #[error("{0}")]
    Io(std::io::Error),
    #[error("read past buffer")]
    PastBuffer,
    #[error("{0}")]
    Flight(hello::FlightError),
}

fn unreachable(stage: Stage, error: String, timed_out: bool) -> Reach {
    Reach::Unreachable {
        stage,
        error,
        timed_out,
    }
}

fn protocol_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
        other => format!("{other:?}"),
    }
}

fn random_bytes() -> [u8; 32] {
    use ring::rand::SecureRandom as _;
    let mut out = [0_u8; 32];
    // A failed system RNG leaves zeros: the hello's random is not a secret here.
    let _ = ring::rand::SystemRandom::new().fill(&mut out);
    out
}

/// The web PKI roots plus `probe.extra_roots`: what both the TLS probe's
/// trust verdict and the HTTP prober's verifying client trust.
///
/// # Errors
/// A certificate of `probe.extra_roots` that is not a usable root, named
/// by its file.
pub(crate) fn trusted_roots(config: &ProbeConfig) -> Result<RootCertStore, RootsError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for file in &config.extra_roots {
        for der in &file.certificates {
            roots
                .add(der.clone())
                .map_err(|error| RootsError::Unusable {
                    path: file.path.clone(),
                    error,
                })?;
        }
    }
    Ok(roots)
}

/// A web PKI verifier over [`trusted_roots`].
///
/// # Errors
/// As [`trusted_roots`], or when rustls cannot build the verifier.
pub(crate) fn web_pki_verifier(
    config: &ProbeConfig,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, RootsError> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(trusted_roots(config)?), provider)
        .build()
        .map_err(RootsError::Verifier)
}

/// A verifier that accepts any certificate and lets the handshake go on,
/// so that what a bad certificate hides is still learned: the TLS probe's
/// protocol and cipher (recording the presented chain), the HTTP probe's
/// headers. Handshake signatures are still checked: the server must hold
/// the key. Safe for both: the TLS probe closes the connection right after
/// the handshake and sends no data; the HTTP posture client sends nothing
/// secret (GETs without credentials or cookies), so a man in the middle
/// learns nothing from us. The judgement on the certificate is made apart
/// (the TLS probe's trust verdict and the checks).
#[derive(Debug)]
pub(crate) struct LenientVerifier {
    provider: Arc<CryptoProvider>,
    /// The last chain presented, when recording.
    recorded: Option<Mutex<Vec<CertificateDer<'static>>>>,
    /// The last stapled OCSP response, when recording.
    ocsp: Mutex<Vec<u8>>,
}

impl LenientVerifier {
    /// Accepts any certificate and keeps nothing.
    pub(crate) fn accept_any(provider: Arc<CryptoProvider>) -> Self {
        Self {
            provider,
            recorded: None,
            ocsp: Mutex::default(),
        }
    }

    /// Accepts any certificate and records the chain, for one handshake.
    fn recording(provider: Arc<CryptoProvider>) -> Self {
        Self {
            provider,
            recorded: Some(Mutex::new(Vec::new())),
            ocsp: Mutex::default(),
        }
    }

    /// The recorded chain, leaf first (empty when none was presented).
    fn take(&self) -> Vec<CertificateDer<'static>> {
        self.recorded
            .as_ref()
            .and_then(|chain| chain.lock().ok().map(|mut c| std::mem::take(&mut *c)))
            .unwrap_or_default()
    }

    /// The recorded stapled OCSP response (empty when none was sent).
    fn take_ocsp(&self) -> Vec<u8> {
        self.ocsp
            .lock()
            .map(|mut o| std::mem::take(&mut *o))
            .unwrap_or_default()
    }
}

impl ServerCertVerifier for LenientVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(Ok(mut chain)) = self.recorded.as_ref().map(Mutex::lock) {
            *chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.clone().into_owned())
                .collect();
            if let Ok(mut ocsp) = self.ocsp.lock() {
                *ocsp = ocsp_response.to_vec();
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
        KeyUsagePurpose, date_time_ymd,
    };

    use super::*;
    use crate::config::{ExtraRoots, ProbeConfig};

    fn config(timeout: Duration, extra_roots: Vec<ExtraRoots>) -> ProbeConfig {
        ProbeConfig {
            nameservers: Vec::new(),
            extra_roots,
            timeout,
            concurrency: 1,
            per_host_concurrency: 1,
            allow_private_targets: true,
            allow_metadata_targets: false,
            mta_sts_port: 443,
            trust_anchor: None,
            smtp: false,
            smtp_port: 25,
            spread: std::time::Duration::ZERO,
        }
    }

    fn prober(timeout: Duration) -> TlsProber {
        super::super::install_crypto_provider();
        TlsProber::new(&config(timeout, Vec::new())).unwrap()
    }

    /// A listener whose accept queue is full: the kernel drops further
    /// SYNs, so a connect to it hangs like one to a black-holed address,
    /// without leaving 127.0.0.1.
    async fn black_hole() -> (tokio::net::TcpListener, Vec<TcpStream>, SocketAddr) {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind((Ipv4Addr::LOCALHOST, 0).into()).unwrap();
        let listener = socket.listen(1).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut held = Vec::new();
        // Fill the queue: connects that complete at once until one hangs.
        for _ in 0..8 {
            match timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => held.push(stream),
                _ => break,
            }
        }
        (listener, held, addr)
    }

    #[tokio::test]
    async fn many_black_holed_addresses_cost_one_timeout() {
        let (_listener, _held, addr) = black_hole().await;
        let prober = prober(Duration::from_millis(800));
        let addresses = vec![addr.ip(); 250];
        let started = Instant::now();
        let (error, timed_out) = prober.connect(&addresses, addr.port()).await.unwrap_err();
        let took = started.elapsed();
        assert!(took < Duration::from_secs(3), "took {took:?}: {error}");
        assert!(timed_out, "{error}");
        assert!(
            error.contains("tried the first 4 of 250 addresses"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_quick_refusal_leaves_its_time_to_the_next_address() {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        // 127.0.0.2 refuses at once (nothing listens there on this port);
        // 127.0.0.1 answers.
        let prober = prober(Duration::from_secs(2));
        let addresses: Vec<IpAddr> = vec![
            Ipv4Addr::new(127, 0, 0, 2).into(),
            Ipv4Addr::LOCALHOST.into(),
        ];
        let (_, addr) = prober.connect(&addresses, port).await.unwrap();
        assert_eq!(addr.ip(), IpAddr::from(Ipv4Addr::LOCALHOST));
    }

    #[tokio::test]
    async fn a_legacy_probe_that_cannot_connect_is_unknown() {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let probes = prober(Duration::from_secs(2))
            .legacy(&[Ipv4Addr::LOCALHOST.into()], port, Some("closed.test"))
            .await;
        assert_eq!(probes.len(), 3);
        for probe in probes {
            assert_eq!(probe.accepted, None, "{probe:?}");
            assert!(probe.detail.contains("connect to"), "{probe:?}");
        }
    }

    fn ca(cn: &str, from: (i32, u8, u8), to: (i32, u8, u8)) -> CertificateParams {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = date_time_ymd(from.0, from.1, from.2);
        params.not_after = date_time_ymd(to.0, to.1, to.2);
        params
    }

    /// A CA named `cn`, valid `from` to `to`: self-signed, or issued by `by`.
    fn issuer(
        cn: &str,
        from: (i32, u8, u8),
        to: (i32, u8, u8),
        by: Option<&CertifiedIssuer<'static, KeyPair>>,
    ) -> CertifiedIssuer<'static, KeyPair> {
        let params = ca(cn, from, to);
        match by {
            None => CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()),
            Some(parent) => {
                CertifiedIssuer::signed_by(params, KeyPair::generate().unwrap(), parent)
            }
        }
        .unwrap()
    }

    /// A leaf for `portal.acme.test` under `by`, valid `from` to `to`.
    fn portal_leaf(
        by: &CertifiedIssuer<'static, KeyPair>,
        from: (i32, u8, u8),
        to: (i32, u8, u8),
    ) -> rcgen::Certificate {
        let mut params = CertificateParams::new(vec!["portal.acme.test".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "portal.acme.test");
        params.not_before = date_time_ymd(from.0, from.1, from.2);
        params.not_after = date_time_ymd(to.0, to.1, to.2);
        params.signed_by(&KeyPair::generate().unwrap(), by).unwrap()
    }

    /// A prober whose only extra root is `root`.
    fn prober_trusting(root: &CertifiedIssuer<'static, KeyPair>) -> TlsProber {
        super::super::install_crypto_provider();
        let roots = ExtraRoots {
            path: "test-root.pem".into(),
            certificates: vec![root.der().clone()],
        };
        TlsProber::new(&config(Duration::from_secs(1), vec![roots])).unwrap()
    }

    /// Root (trusted), 59 intermediates in a line, and a leaf: more than a
    /// verifier follows. The verdict says so in words, not Rust debug text.
    #[test]
    fn a_chain_longer_than_the_verifier_follows_is_too_long() {
        let mut issuers = vec![issuer("Test Root", (2020, 1, 1), (2040, 1, 1), None)];
        for i in 0..59 {
            let next = issuer(
                &format!("Intermediate {i}"),
                (2020, 1, 1),
                (2040, 1, 1),
                issuers.last(),
            );
            issuers.push(next);
        }
        let leaf = portal_leaf(issuers.last().unwrap(), (2025, 1, 1), (2025, 3, 1));
        let prober = prober_trusting(&issuers[0]);
        let mut chain_der = vec![leaf.der().clone()];
        chain_der.extend(issuers[1..].iter().rev().map(|i| i.der().clone()));
        assert_eq!(chain_der.len(), 60);
        let (chain, unparseable) = read_chain(&chain_der);
        assert!(unparseable.is_empty());
        let name = ServerName::try_from("portal.acme.test").unwrap();
        let trust = prober.trust(&chain_der, &chain, &name);
        let Trust::Other { detail } = &trust else {
            panic!("expected another failure: {trust:?}")
        };
        assert!(detail.starts_with("chain too long"), "{detail}");
        assert!(
            !detail.contains("Maximum") && !detail.contains("Other("),
            "{detail}"
        );
    }

    #[test]
    fn certificate_errors_are_described_in_words() {
        for e in [
            CertificateError::BadEncoding,
            CertificateError::Revoked,
            CertificateError::InvalidPurpose,
            CertificateError::UnknownRevocationStatus,
            CertificateError::BadSignature,
            CertificateError::Expired,
            CertificateError::ApplicationVerificationFailure,
        ] {
            let text = describe(&e);
            assert!(!text.contains(&format!("{e:?}")), "{e:?}: {text}");
            assert!(text.chars().next().unwrap().is_lowercase(), "{e:?}: {text}");
        }
    }

    /// Root (trusted), an intermediate that expired in 2024, and a leaf
    /// of 2025 under it: the chain is judged in the middle of the leaf's
    /// validity, when the intermediate had expired.
    #[test]
    fn an_expired_intermediate_is_named() {
        let root = issuer("Test Root", (2020, 1, 1), (2040, 1, 1), None);
        let intermediate = issuer("Old Intermediate", (2020, 1, 1), (2024, 1, 1), Some(&root));
        let leaf = portal_leaf(&intermediate, (2025, 1, 1), (2025, 3, 1));
        let prober = prober_trusting(&root);
        let chain_der = vec![leaf.der().clone(), intermediate.der().clone()];
        let (chain, unparseable) = read_chain(&chain_der);
        assert!(unparseable.is_empty());
        let name = ServerName::try_from("portal.acme.test").unwrap();
        let Trust::OutOfDate { detail } = prober.trust(&chain_der, &chain, &name) else {
            panic!("expected an out-of-date path")
        };
        assert!(
            detail.contains(
                "the certificate 'CN=Old Intermediate' at position 1 expired on 2024-01-01"
            ),
            "{detail}"
        );
        assert!(
            detail.contains("rustls: a certificate has expired"),
            "{detail}"
        );
        assert!(!detail.contains("the leaf '"), "{detail}");

        // The same chain without the intermediate: no path at all.
        assert_eq!(
            prober.trust(&chain_der[..1], &chain[..1], &name),
            Trust::UnknownIssuer
        );
    }

    /// RFC 5280 §6.1.3 (a)(2): every certificate's dates count. An
    /// intermediate that expired after the leaf was issued but before the
    /// middle of its validity: the path is judged when both were valid (the
    /// checks judge the intermediate's date against now), and an expired
    /// cross-certificate the path does without is named as not needed.
    #[test]
    fn the_path_is_judged_when_every_certificate_was_valid() {
        let root = issuer("Test Root", (2020, 1, 1), (2040, 1, 1), None);
        let intermediate = issuer(
            "Short Intermediate",
            (2020, 1, 1),
            (2025, 2, 1),
            Some(&root),
        );
        let old_root = issuer("Old Root", (2000, 1, 1), (2030, 1, 1), None);
        let cross = issuer("Test Root", (2000, 1, 1), (2021, 1, 1), Some(&old_root));
        let leaf = portal_leaf(&intermediate, (2025, 1, 1), (2025, 12, 1));
        let prober = prober_trusting(&root);
        let name = ServerName::try_from("portal.acme.test").unwrap();
        let chain_der = vec![leaf.der().clone(), intermediate.der().clone()];
        let (chain, _) = read_chain(&chain_der);
        assert_eq!(prober.trust(&chain_der, &chain, &name), Trust::Trusted);
        assert!(prober.unneeded(&chain_der, &chain, &name).is_empty());

        // An expired cross-certificate sent along (as servers long sent
        // DST Root CA X3's for ISRG Root X1) is not needed: the trust anchor
        // is the store's "Test Root". It ended before the leaf began, so it
        // does not narrow the span the path is judged in.
        let with_cross = vec![
            leaf.der().clone(),
            intermediate.der().clone(),
            cross.der().clone(),
        ];
        let (chain, _) = read_chain(&with_cross);
        assert_eq!(prober.trust(&with_cross, &chain, &name), Trust::Trusted);
        assert_eq!(prober.unneeded(&with_cross, &chain, &name), vec![2]);
    }

    #[test]
    fn an_unparseable_leaf_leaves_no_leaf_to_judge() {
        let root = CertifiedIssuer::self_signed(
            ca("Test Root", (2020, 1, 1), (2040, 1, 1)),
            KeyPair::generate().unwrap(),
        )
        .unwrap();
        let garbage = CertificateDer::from(b"not a certificate".to_vec());
        let chain_der = vec![garbage, root.der().clone()];
        let (chain, unparseable) = read_chain(&chain_der);
        assert!(chain.is_empty(), "the root must not stand in for the leaf");
        assert_eq!(unparseable.len(), 2);
        assert!(
            unparseable[0].starts_with("the leaf (position 0): "),
            "{unparseable:?}"
        );
        assert!(
            unparseable[1].starts_with("position 1: 'CN=Test Root'"),
            "{unparseable:?}"
        );
        let prober = prober(Duration::from_secs(1));
        let name = ServerName::try_from("portal.acme.test").unwrap();
        assert_eq!(prober.trust(&chain_der, &chain, &name), Trust::NotChecked);

        // A bad intermediate: the leaf keeps its place.
        let (chain, unparseable) = read_chain(&[root.der().clone(), b"junk".to_vec().into()]);
        assert_eq!(chain.len(), 1);
        assert!(
            unparseable[0].starts_with("position 1: "),
            "{unparseable:?}"
        );
    }
}
