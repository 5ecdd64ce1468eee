//! The TLS probe of one endpoint: resolve, connect, handshake with rustls
//! while capturing the presented chain whatever its state, judge the chain's
//! trust separately, and try TLS 1.0/1.1 with a hand-built ClientHello.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::hello::{self, FlightParser, ServerFlight};
use super::resolve::{DnsResolver, private_reason};
use super::{ChainSource, EndpointObservation, LegacyProbe, Reach, Stage, TlsFacts, Trust, cert};
use crate::config::ProbeConfig;
use crate::registry::{Endpoint, Host};

/// Why the prober could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("no usable trusted roots: {0}")]
    Roots(String),
}

/// Shared, read-only state for TLS probes.
#[derive(Clone)]
pub struct TlsProber {
    provider: Arc<CryptoProvider>,
    verifier: Arc<WebPkiServerVerifier>,
    timeout: Duration,
    allow_private: bool,
}

impl TlsProber {
    /// Trusts the web PKI roots plus `probe.extra_roots`.
    ///
    /// # Errors
    /// [`TlsSetupError`] when the root store cannot be built.
    pub fn new(config: &ProbeConfig) -> Result<Self, TlsSetupError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for file in &config.extra_roots {
            for der in &file.certificates {
                roots
                    .add(der.clone())
                    .map_err(|e| TlsSetupError::Roots(format!("{}: {e}", file.path.display())))?;
            }
        }
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| TlsSetupError::Roots(e.to_string()))?;
        Ok(Self {
            provider,
            verifier,
            timeout: config.timeout,
            allow_private: config.allow_private_targets,
        })
    }

    /// Probes one endpoint. Never fails: what went wrong is in the observation.
    pub async fn probe(&self, resolver: &DnsResolver, endpoint: &Endpoint) -> EndpointObservation {
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
        self.probe_into(resolver, endpoint, &mut obs).await;
        obs.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        obs
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
    ) {
        obs.addresses = match &endpoint.host {
            Host::Ip(ip) => vec![*ip],
            Host::Name(name) => {
                match timeout(self.timeout, resolver.addresses(name.as_str())).await {
                    Ok(Ok(ips)) => ips,
                    Ok(Err(failure)) => {
                        obs.reach = unreachable(Stage::Resolve, failure.to_string(), false);
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
        if !self.allow_private {
            // Any internal answer refuses the target: a name that resolves to
            // both a public and an internal address must not reach inside.
            if let Some((ip, why)) = obs
                .addresses
                .iter()
                .find_map(|ip| private_reason(*ip).map(|why| (*ip, why)))
            {
                obs.reach = Reach::Refused {
                    address: ip,
                    reason: format!(
                        "resolves to {ip}, {why}; set probe.allow_private_targets = true to probe internal targets"
                    ),
                };
                return;
            }
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
        let capture = Arc::new(Capture::new(self.provider.clone()));
        let handshake = self
            .handshake(stream, server_name.clone(), capture.clone())
            .await;
        let mut chain_der = capture.take();
        let mut chain_source = ChainSource::Rustls;
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
        let mut chain = Vec::new();
        let mut unparseable = Vec::new();
        for der in &chain_der {
            match cert::parse(der) {
                Ok(facts) => chain.push(facts),
                Err(e) => unparseable.push(e.to_string()),
            }
        }
        let trust = self.trust(&chain_der, chain.first(), &server_name);
        obs.tls = Some(TlsFacts {
            version,
            cipher_suite,
            chain,
            unparseable,
            chain_source,
            trust,
        });
    }

    /// Connects to the first address that answers, each attempt bounded by the timeout.
    async fn connect(
        &self,
        addresses: &[IpAddr],
        port: u16,
    ) -> Result<(TcpStream, SocketAddr), (String, bool)> {
        let mut last = ("no address to connect to".to_owned(), false);
        for ip in addresses {
            let addr = SocketAddr::new(*ip, port);
            match timeout(self.timeout, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => return Ok((stream, addr)),
                Ok(Err(e)) => last = (format!("connect to {addr}: {e}"), false),
                Err(_) => {
                    last = (
                        format!(
                            "connect to {addr} timed out after {}s",
                            self.timeout.as_secs()
                        ),
                        true,
                    );
                }
            }
        }
        Err(last)
    }

    async fn handshake(
        &self,
        stream: TcpStream,
        server_name: ServerName<'static>,
        capture: Arc<Capture>,
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
    ) -> Result<ServerFlight, (String, bool)> {
        let (mut stream, _) = self.connect(addresses, port).await?;
        let random = random_bytes();
        let exchange = async {
            stream
                .write_all(&hello::client_hello(version, server_name, random))
                .await
                .map_err(|e| e.to_string())?;
            let mut parser = FlightParser::new();
            let mut buf = vec![0_u8; 16 * 1024];
            loop {
                let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
                let Some(chunk) = buf.get(..n) else {
                    return Err("read past buffer".to_owned());
                };
                if n == 0 {
                    return Ok(parser.flight);
                }
                parser.feed(chunk).map_err(|e| e.to_string())?;
                if parser.finished() {
                    return Ok(parser.flight);
                }
            }
        };
        match timeout(self.timeout, exchange).await {
            Ok(Ok(flight)) => Ok(flight),
            Ok(Err(e)) => Err((e, false)),
            Err(_) => Err(("timed out".to_owned(), true)),
        }
    }

    /// Offers TLS 1.0 and TLS 1.1 alone, side by side.
    async fn legacy(
        &self,
        addresses: &[IpAddr],
        port: u16,
        server_name: Option<&str>,
    ) -> Vec<LegacyProbe> {
        let one = |version: u16| async move {
            let name = hello::version_name(version);
            match self.raw_hello(addresses, port, version, server_name).await {
                Ok(flight) => match (flight.version, flight.alert) {
                    (Some(v), _) if v == version => LegacyProbe {
                        version: name,
                        accepted: Some(true),
                        detail: format!("server answered with {}", hello::version_name(v)),
                    },
                    (Some(v), _) => LegacyProbe {
                        version: name,
                        accepted: Some(false),
                        detail: format!("server answered with {}", hello::version_name(v)),
                    },
                    (None, Some((_, description))) => LegacyProbe {
                        version: name,
                        accepted: Some(false),
                        detail: format!("refused with alert {description}"),
                    },
                    (None, None) => LegacyProbe {
                        version: name,
                        accepted: Some(false),
                        detail: "connection closed without a ServerHello".to_owned(),
                    },
                },
                // A reset or garbage in answer to a legacy hello is a refusal.
                Err((e, false)) => LegacyProbe {
                    version: name,
                    accepted: Some(false),
                    detail: e,
                },
                Err((e, true)) => LegacyProbe {
                    version: name,
                    accepted: None,
                    detail: e,
                },
            }
        };
        let (v10, v11) = tokio::join!(one(hello::TLS10), one(hello::TLS11));
        vec![v10, v11]
    }

    /// Verifies the chain against the roots at a time within the leaf's
    /// validity (dates are judged by the checks, on their own).
    fn trust(
        &self,
        chain: &[CertificateDer<'static>],
        leaf: Option<&cert::CertFacts>,
        name: &ServerName<'_>,
    ) -> Trust {
        let (Some(end_entity), Some(leaf)) = (chain.first(), leaf) else {
            return Trust::NotChecked;
        };
        let intermediates = chain.get(1..).unwrap_or_default();
        let midpoint = leaf.not_before + (leaf.not_after - leaf.not_before) / 2;
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
                        detail: format!("{e:?}"),
                    }
                }
                other => Trust::Other {
                    detail: format!("{other:?}"),
                },
            },
            Err(other) => Trust::Other {
                detail: other.to_string(),
            },
        }
    }
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

/// A verifier that records the presented chain and lets the handshake go
/// on, so that protocol and cipher are learned even for a bad certificate.
/// Handshake signatures are still checked: the server must hold the key.
/// Safe because the connection is closed right after; no data is sent.
#[derive(Debug)]
struct Capture {
    chain: Mutex<Vec<CertificateDer<'static>>>,
    provider: Arc<CryptoProvider>,
}

impl Capture {
    fn new(provider: Arc<CryptoProvider>) -> Self {
        Self {
            chain: Mutex::new(Vec::new()),
            provider,
        }
    }

    fn take(&self) -> Vec<CertificateDer<'static>> {
        self.chain
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default()
    }
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut chain) = self.chain.lock() {
            *chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.clone().into_owned())
                .collect();
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
