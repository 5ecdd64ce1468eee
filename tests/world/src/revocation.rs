//! Revocation in the world: the test intermediate publishes CRLs and runs
//! an OCSP responder on one plain-HTTP server (`crl.test:PORT`), and one
//! rustls server per [`RevocationCase`] presents a leaf that names them —
//! or staples an OCSP response. Hostile sources too: a 50 MB CRL, a CRL
//! signed by the wrong key, a responder that never answers.
//!
//! Paths on the revocation server (every request counted by path, for
//! [`RevocationServer::requests`]):
//! - `GET /ca.crl`: the intermediate's CRL, revoking the `crl-revoked` leaf;
//! - `GET /huge.crl`: 50 MB that start like a CRL, no Content-Length;
//! - `GET /wrong-key.crl`: a CRL in the intermediate's name, signed by
//!   another key;
//! - `POST /ocsp/good`, `POST /ocsp/revoked`: the responder's answer for
//!   the `ocsp-good` and `ocsp-revoked` leaves, signed by the intermediate;
//! - `POST /ocsp/stall`: reads the request and never answers.
//!
//! Depends on [`crate::pki`], [`crate::tls`] and [`crate::task`].

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use der::{Decode as _, Encode as _};
use rcgen::RevocationReason;
use rustls::ServerConfig;
use rustls::crypto::ring;
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use x509_ocsp::{AsResponseBytes as _, CertStatus};

use crate::pki::{LeafSpec, Pki};
use crate::task::serve_tcp;

/// The revocation server's host name.
pub const REVOCATION_HOST: &str = "crl.test";
/// Size of the hostile CRL.
pub const HUGE_CRL_BYTES: usize = 50 * 1024 * 1024;
/// How long the stalling responder holds a connection.
const STALL: Duration = Duration::from_secs(120);

/// One leaf and how its revocation can be learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevocationCase {
    /// CRL distribution point `/ca.crl`; not on it.
    CrlGood,
    /// CRL distribution point `/ca.crl`; revoked (keyCompromise).
    CrlRevoked,
    /// OCSP responder only, which says good.
    OcspGood,
    /// OCSP responder only, which says revoked (keyCompromise).
    OcspRevoked,
    /// No CRL, no responder; the server staples a "revoked" response.
    StapledRevoked,
    /// CRL distribution point `/huge.crl` (50 MB).
    CrlHuge,
    /// CRL distribution point `/wrong-key.crl`.
    CrlWrongKey,
    /// OCSP responder `/ocsp/stall`, which never answers.
    OcspStall,
}

impl RevocationCase {
    /// Every case, in declaration order.
    pub const ALL: [Self; 8] = [
        Self::CrlGood,
        Self::CrlRevoked,
        Self::OcspGood,
        Self::OcspRevoked,
        Self::StapledRevoked,
        Self::CrlHuge,
        Self::CrlWrongKey,
        Self::OcspStall,
    ];

    /// The case's name, e.g. `crl-revoked`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::CrlGood => "crl-good",
            Self::CrlRevoked => "crl-revoked",
            Self::OcspGood => "ocsp-good",
            Self::OcspRevoked => "ocsp-revoked",
            Self::StapledRevoked => "stapled-revoked",
            Self::CrlHuge => "crl-huge",
            Self::CrlWrongKey => "crl-wrong-key",
            Self::OcspStall => "ocsp-stall",
        }
    }

    /// `<name>.rev.test`.
    #[must_use]
    pub fn host(self) -> String {
        format!("{}.rev.test", self.name())
    }

    /// The leaf's serial number: fixed, so that CRLs and responses can
    /// name it.
    #[must_use]
    pub fn serial(self) -> u64 {
        0x5157_0000 + self as u64
    }
}

/// The running revocation server and the cases' TLS servers.
#[derive(Debug)]
pub struct RevocationServer {
    /// The revocation server (CRLs, OCSP).
    pub addr: SocketAddr,
    endpoints: HashMap<RevocationCase, SocketAddr>,
    requests: Arc<Mutex<HashMap<String, usize>>>,
    /// When each case's leaf is revoked (the revoked cases only).
    pub revoked_at: OffsetDateTime,
}

impl RevocationServer {
    /// Where a case's TLS server listens.
    #[must_use]
    pub fn endpoint_addr(&self, case: RevocationCase) -> Option<SocketAddr> {
        self.endpoints.get(&case).copied()
    }

    /// How many requests `path` has had.
    #[must_use]
    pub fn requests(&self, path: &str) -> usize {
        self.requests
            .lock()
            .map(|r| r.get(path).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

/// What the revocation server answers on one path.
#[derive(Debug, Clone)]
enum Answer {
    Bytes(&'static str, Arc<Vec<u8>>),
    Huge,
    Stall,
}

/// Starts the revocation server and every case's TLS server.
///
/// # Errors
/// When a certificate, CRL or response cannot be made, or a port bound.
pub async fn start(pki: &Pki, shutdown: &CancellationToken) -> anyhow::Result<RevocationServer> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .context("binding the revocation server")?;
    let addr = listener.local_addr().context("revocation server address")?;
    let base = format!("http://{REVOCATION_HOST}:{}", addr.port());
    let now = pki.now();
    let revoked_at = now - time::Duration::days(2);

    let mut leaves = HashMap::new();
    let mut endpoints = HashMap::new();
    for case in RevocationCase::ALL {
        let spec = LeafSpec::issued(case.host(), now, 10, 90).serial(case.serial());
        let spec = match case {
            RevocationCase::CrlGood | RevocationCase::CrlRevoked => {
                spec.crl_url(format!("{base}/ca.crl"))
            }
            RevocationCase::CrlHuge => spec.crl_url(format!("{base}/huge.crl")),
            RevocationCase::CrlWrongKey => spec.crl_url(format!("{base}/wrong-key.crl")),
            RevocationCase::OcspGood => spec.ocsp_url(format!("{base}/ocsp/good")),
            RevocationCase::OcspRevoked => spec.ocsp_url(format!("{base}/ocsp/revoked")),
            RevocationCase::OcspStall => spec.ocsp_url(format!("{base}/ocsp/stall")),
            RevocationCase::StapledRevoked => spec,
        };
        let leaf = pki
            .issue(&spec)
            .with_context(|| format!("issuing the {} leaf", case.name()))?;
        let stapled = if case == RevocationCase::StapledRevoked {
            let cert = leaf.cert().context("the stapled leaf")?;
            ocsp_response(pki, cert, CertStatus::revoked(revoked_info(revoked_at)?))?
        } else {
            Vec::new()
        };
        let key = leaf
            .key
            .as_ref()
            .context("a revocation leaf has a key")?
            .clone_key();
        let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .context("protocol versions")?
            .with_no_client_auth()
            .with_single_cert_with_ocsp(leaf.chain.clone(), key, stapled)
            .context("rustls refused a revocation leaf")?;
        let tls = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .with_context(|| format!("binding a port for {}", case.name()))?;
        endpoints.insert(case, tls.local_addr().context("case address")?);
        let acceptor = TlsAcceptor::from(Arc::new(config));
        serve_tcp(tls, shutdown, move |stream| {
            let acceptor = acceptor.clone();
            async move {
                if let Ok(Ok(mut tls)) =
                    tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await
                {
                    let _ = tls.shutdown().await;
                }
            }
        });
        leaves.insert(case, leaf);
    }

    let revoked = [(
        RevocationCase::CrlRevoked.serial(),
        revoked_at,
        RevocationReason::KeyCompromise,
    )];
    let leaf_cert = |case: RevocationCase| {
        leaves
            .get(&case)
            .and_then(|l| l.cert())
            .with_context(|| format!("the {} leaf", case.name()))
    };
    let crl_type = "application/pkix-crl";
    let ocsp_type = "application/ocsp-response";
    let routes: HashMap<String, Answer> = HashMap::from([
        (
            "/ca.crl".to_owned(),
            Answer::Bytes(crl_type, Arc::new(pki.crl(&revoked)?)),
        ),
        (
            "/wrong-key.crl".to_owned(),
            Answer::Bytes(crl_type, Arc::new(pki.crl_wrong_key(&revoked)?)),
        ),
        ("/huge.crl".to_owned(), Answer::Huge),
        (
            "/ocsp/good".to_owned(),
            Answer::Bytes(
                ocsp_type,
                Arc::new(ocsp_response(
                    pki,
                    leaf_cert(RevocationCase::OcspGood)?,
                    CertStatus::good(),
                )?),
            ),
        ),
        (
            "/ocsp/revoked".to_owned(),
            Answer::Bytes(
                ocsp_type,
                Arc::new(ocsp_response(
                    pki,
                    leaf_cert(RevocationCase::OcspRevoked)?,
                    CertStatus::revoked(revoked_info(revoked_at)?),
                )?),
            ),
        ),
        ("/ocsp/stall".to_owned(), Answer::Stall),
    ]);
    let routes = Arc::new(routes);
    let requests: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let log = Arc::clone(&requests);
    serve_tcp(listener, shutdown, move |stream| {
        serve_http(Arc::clone(&routes), Arc::clone(&log), stream)
    });
    Ok(RevocationServer {
        addr,
        endpoints,
        requests,
        revoked_at,
    })
}

fn revoked_info(at: OffsetDateTime) -> anyhow::Result<x509_ocsp::RevokedInfo> {
    Ok(x509_ocsp::RevokedInfo {
        revocation_time: generalized(at)?,
        revocation_reason: Some(x509_cert::ext::pkix::CrlReason::KeyCompromise),
    })
}

fn generalized(at: OffsetDateTime) -> anyhow::Result<x509_ocsp::OcspGeneralizedTime> {
    let seconds = u64::try_from(at.unix_timestamp()).context("a date before 1970")?;
    Ok(x509_ocsp::OcspGeneralizedTime(
        der::asn1::GeneralizedTime::from_unix_duration(Duration::from_secs(seconds))
            .context("an OCSP time")?,
    ))
}

fn sha1(data: &[u8]) -> Vec<u8> {
    ::ring::digest::digest(&::ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data)
        .as_ref()
        .to_vec()
}

/// A DER OCSP response (RFC 6960 §4.2.1) about `leaf`, signed by the test
/// intermediate, current from an hour ago for a week.
///
/// # Errors
/// When a certificate does not parse or encoding or signing fails.
pub fn ocsp_response(
    pki: &Pki,
    leaf: &CertificateDer<'_>,
    status: CertStatus,
) -> anyhow::Result<Vec<u8>> {
    ocsp_response_by(pki, leaf, status, None)
}

/// As [`ocsp_response`], signed by `responder` (a certificate, sent in the
/// response, and its key) instead of the intermediate when given.
///
/// # Errors
/// See [`ocsp_response`].
pub fn ocsp_response_by(
    pki: &Pki,
    leaf: &CertificateDer<'_>,
    status: CertStatus,
    responder: Option<(&CertificateDer<'_>, &rcgen::KeyPair)>,
) -> anyhow::Result<Vec<u8>> {
    let leaf = x509_cert::Certificate::from_der(leaf).context("parsing the leaf")?;
    let issuer =
        x509_cert::Certificate::from_der(pki.intermediate()).context("parsing the issuer")?;
    let cert_id = x509_ocsp::CertId {
        hash_algorithm: spki::AlgorithmIdentifierOwned {
            oid: der::oid::ObjectIdentifier::new_unwrap("1.3.14.3.2.26"),
            parameters: Some(der::asn1::Any::null()),
        },
        issuer_name_hash: der::asn1::OctetString::new(sha1(
            &leaf.tbs_certificate.issuer.to_der()?,
        ))?,
        issuer_key_hash: der::asn1::OctetString::new(sha1(
            issuer
                .tbs_certificate
                .subject_public_key_info
                .subject_public_key
                .raw_bytes(),
        ))?,
        serial_number: leaf.tbs_certificate.serial_number.clone(),
    };
    let now = pki.now();
    let tbs = x509_ocsp::ResponseData {
        version: x509_ocsp::Version::V1,
        responder_id: x509_ocsp::ResponderId::ByName(issuer.tbs_certificate.subject.clone()),
        produced_at: generalized(now)?,
        responses: vec![x509_ocsp::SingleResponse {
            cert_id,
            cert_status: status,
            this_update: generalized(now - time::Duration::hours(1))?,
            next_update: Some(generalized(now + time::Duration::days(7))?),
            single_extensions: None,
        }],
        response_extensions: None,
    };
    let tbs_der = tbs.to_der()?;
    let (signature, certs) = match responder {
        Some((cert, key)) => (
            rcgen::SigningKey::sign(key, &tbs_der).context("signing as the responder")?,
            Some(vec![
                x509_cert::Certificate::from_der(cert).context("parsing the responder")?,
            ]),
        ),
        None => (pki.sign_as_intermediate(&tbs_der)?, None),
    };
    let basic = x509_ocsp::BasicOcspResponse {
        tbs_response_data: tbs,
        signature_algorithm: spki::AlgorithmIdentifierOwned {
            // ecdsa-with-SHA256
            oid: der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
            parameters: None,
        },
        signature: der::asn1::BitString::from_bytes(&signature)?,
        certs,
    };
    let response = x509_ocsp::OcspResponse {
        response_status: x509_ocsp::OcspResponseStatus::Successful,
        response_bytes: Some(basic.to_response_bytes()?),
    };
    Ok(response.to_der()?)
}

/// One HTTP/1.1 exchange: the head, a body up to its Content-Length (an
/// OCSP request), then the path's answer.
async fn serve_http(
    routes: Arc<HashMap<String, Answer>>,
    log: Arc<Mutex<HashMap<String, usize>>>,
    mut stream: TcpStream,
) {
    let mut request = Vec::new();
    let mut buf = [0_u8; 4096];
    let head_end = loop {
        if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if request.len() > 64 * 1024 {
            return;
        }
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => request.extend_from_slice(buf.get(..n).unwrap_or_default()),
            _ => return,
        }
    };
    let head = String::from_utf8_lossy(request.get(..head_end).unwrap_or_default()).into_owned();
    let path = head
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/")
        .to_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0)
        .min(64 * 1024);
    let mut have = request.len() - head_end;
    while have < length {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => have += n,
            _ => return,
        }
    }
    if let Ok(mut log) = log.lock() {
        *log.entry(path.clone()).or_default() += 1;
    }
    match routes.get(&path) {
        Some(Answer::Bytes(content_type, body)) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body).await;
        }
        Some(Answer::Huge) => {
            // A SEQUENCE announcing 50 MB, then zeros, with no
            // Content-Length: only a reader's own cap stops it.
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\nConnection: close\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let mut start = vec![0x30, 0x84];
            start.extend_from_slice(&u32::try_from(HUGE_CRL_BYTES - 6).unwrap_or(0).to_be_bytes());
            if stream.write_all(&start).await.is_err() {
                return;
            }
            let chunk = vec![0_u8; 64 * 1024];
            let mut sent = start.len();
            while sent < HUGE_CRL_BYTES {
                if stream.write_all(&chunk).await.is_err() {
                    return;
                }
                sent += chunk.len();
            }
        }
        Some(Answer::Stall) => tokio::time::sleep(STALL).await,
        None => {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
        }
    }
    let _ = stream.shutdown().await;
}
