//! Whether a leaf certificate is revoked, from the sources it names, in
//! this order:
//! 1. a stapled OCSP response, when the server sent one (nothing to fetch);
//! 2. the CRLs at its CRL distribution points (RFC 5280 §4.2.1.13), over
//!    `http://`, each body capped at [`CRL_CAP`], its signature checked
//!    against the issuer's key (RFC 5280 §6.3.3 (f), (g)), its issuer name
//!    matched, and its thisUpdate/nextUpdate respected (§5.1.2.4–5); a CRL
//!    is kept in a [`CrlCache`] until its nextUpdate, so later runs of the
//!    same process ask for it again only once it is due;
//! 3. the OCSP responders of its authority information access (RFC 6960),
//!    asked with a DER request by `POST`, the response's signature checked
//!    against the issuer's key or a responder certificate the issuer signed
//!    for OCSP signing (RFC 6960 §4.2.2.2).
//!
//! The first source that answers with a verified "good" or "revoked"
//! decides. Anything else — no source named, a fetch that fails or times
//! out, a CRL over the cap, a signature that does not verify, a stale
//! answer, "unknown" — leaves the status undetermined, with every source's
//! outcome in the facts: evidence, never a finding.
//!
//! Network access goes through [`HttpProber::fetch_blob`] (the probes'
//! address rule and timeout). Judges nothing: `checks::tls` does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use der::{Decode as _, Encode as _};
use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer as _;
use x509_parser::revocation_list::CertificateRevocationList;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

use super::http::{BlobFetchError, HttpProber};
use crate::clock::Clock;

/// The largest CRL read; a larger one is cut off and leaves the status
/// undetermined.
pub const CRL_CAP: usize = 10 * 1024 * 1024;
/// The largest OCSP response read.
pub const OCSP_CAP: usize = 64 * 1024;
/// CRL distribution points and OCSP responders asked at most, each.
pub const MAX_SOURCES: usize = 2;
/// How long a CRL that could not be fetched or read is not asked for again.
const FAILURE_TTL: TimeDelta = TimeDelta::minutes(5);
/// Clock skew allowed on thisUpdate.
const SKEW: TimeDelta = TimeDelta::minutes(5);

/// id-kp-OCSPSigning (RFC 6960 §4.2.2.2).
const OCSP_SIGNING: &str = "1.3.6.1.5.5.7.3.9";
/// id-pkix-ocsp-basic (RFC 6960 §4.2.1).
const OCSP_BASIC: &str = "1.3.6.1.5.5.7.48.1.1";
/// id-ad-ocsp (RFC 5280 §4.2.2.1).
const AD_OCSP: &str = "1.3.6.1.5.5.7.48.1";
/// SHA-1 (OIW), the `CertID` hash RFC 5019 §2.1.1 asks for.
const SHA1: &str = "1.3.14.3.2.26";

/// What the probe learned about the leaf's revocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationFacts {
    pub status: RevocationStatus,
    /// Each source consulted, in order, and what came of it.
    pub sources: Vec<SourceOutcome>,
}

/// The verdict of the first source that gave a verified answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RevocationStatus {
    Good {
        source: String,
    },
    Revoked {
        source: String,
        revoked_at: DateTime<Utc>,
        /// The CRL reason code (RFC 5280 §5.3.1), when given.
        reason: Option<String>,
    },
    /// No source gave a verified answer: why, in words.
    Undetermined {
        why: String,
    },
}

/// One source consulted: `stapled OCSP response`, a CRL URL or an OCSP URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceOutcome {
    pub source: String,
    pub outcome: String,
}

impl RevocationFacts {
    /// Whether any source was named or sent (so that an undetermined status
    /// is a failure to learn, not an absence of sources).
    #[must_use]
    pub fn consulted(&self) -> bool {
        !self.sources.is_empty()
    }
}

/// A verified answer about one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Good,
    Revoked {
        at: DateTime<Utc>,
        reason: Option<String>,
    },
}

/// Why a source gave no verified answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Fetch(#[from] BlobFetchError),
    #[error("not a CRL: {0}")]
    NotCrl(String),
    #[error("the CRL is issued by '{crl}', not by the certificate's issuer '{issuer}'")]
    CrlIssuer { crl: String, issuer: String },
    #[error("the signature does not verify with the key of '{signer}': {detail}")]
    Signature { signer: String, detail: String },
    #[error("not valid before {this_update} (thisUpdate)")]
    NotYetValid { this_update: DateTime<Utc> },
    #[error("stale: its nextUpdate {next_update} has passed")]
    Stale { next_update: DateTime<Utc> },
    #[error("not an OCSP response: {0}")]
    NotOcsp(String),
    #[error("the responder answered {0} instead of a response")]
    OcspStatus(String),
    #[error("the response is not about this certificate (serial {serial})")]
    OcspNotAbout { serial: String },
    #[error("the responder does not know the certificate (status unknown)")]
    OcspUnknown,
}

/// A CRL kept until its nextUpdate (or, failed, for [`FAILURE_TTL`]).
#[derive(Debug, Clone)]
struct Cached {
    body: Result<Arc<Vec<u8>>, SourceError>,
    until: DateTime<Utc>,
}

/// CRLs by URL, shared by every probe of a process (the daemon's runs
/// included): one fetch per URL at a time, however many endpoints name it.
#[derive(Debug, Default)]
pub struct CrlCache {
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Cached>>>>>,
}

impl CrlCache {
    /// The process-wide cache.
    #[must_use]
    pub fn shared() -> Arc<Self> {
        static SHARED: OnceLock<Arc<CrlCache>> = OnceLock::new();
        SHARED.get_or_init(|| Arc::new(Self::default())).clone()
    }

    fn slot(&self, url: &str) -> Arc<tokio::sync::Mutex<Option<Cached>>> {
        match self.slots.lock() {
            Ok(mut slots) => slots.entry(url.to_owned()).or_default().clone(),
            // A poisoned map still serves: a fresh slot, not cached.
            Err(_) => Arc::default(),
        }
    }
}

/// Checks a leaf's revocation (see the module docs).
#[derive(Clone)]
pub struct RevocationChecker {
    http: HttpProber,
    cache: Arc<CrlCache>,
    clock: Arc<dyn Clock>,
    /// Issuers looked up when the server does not send them
    /// (`probe.extra_roots`).
    extra_issuers: Arc<Vec<CertificateDer<'static>>>,
    timeout: Duration,
}

impl RevocationChecker {
    #[must_use]
    pub fn new(
        http: HttpProber,
        cache: Arc<CrlCache>,
        clock: Arc<dyn Clock>,
        extra_issuers: Vec<CertificateDer<'static>>,
        timeout: Duration,
    ) -> Self {
        Self {
            http,
            cache,
            clock,
            extra_issuers: Arc::new(extra_issuers),
            timeout,
        }
    }

    /// The revocation facts of `chain`'s leaf. Never fails; bounded by
    /// a few probe timeouts however many sources the leaf names.
    pub async fn check(&self, chain: &[CertificateDer<'_>], stapled: &[u8]) -> RevocationFacts {
        let budget = self.timeout * u32::try_from(2 * MAX_SOURCES + 1).unwrap_or(5);
        if let Ok(facts) = tokio::time::timeout(budget, self.check_unbounded(chain, stapled)).await
        {
            return facts;
        }
        // Out of time: every source the leaf names is told as unanswered.
        let outcome = format!("no answer within {}s", budget.as_secs());
        let sources = chain
            .first()
            .and_then(|d| X509Certificate::from_der(d).ok())
            .map(|(_, leaf)| every_source(stapled, crl_urls(&leaf), ocsp_urls(&leaf), &outcome))
            .unwrap_or_default();
        RevocationFacts {
            status: RevocationStatus::Undetermined {
                why: format!(
                    "the revocation sources did not answer within {}s",
                    budget.as_secs()
                ),
            },
            sources,
        }
    }

    async fn check_unbounded(
        &self,
        chain: &[CertificateDer<'_>],
        stapled: &[u8],
    ) -> RevocationFacts {
        let undetermined = |why: String, sources: Vec<SourceOutcome>| RevocationFacts {
            status: RevocationStatus::Undetermined { why },
            sources,
        };
        let Some(Ok((_, leaf))) = chain.first().map(|d| X509Certificate::from_der(d)) else {
            return undetermined("the leaf cannot be parsed".to_owned(), Vec::new());
        };
        let crl_urls = crl_urls(&leaf);
        let ocsp_urls = ocsp_urls(&leaf);
        if stapled.is_empty() && crl_urls.is_empty() && ocsp_urls.is_empty() {
            return undetermined(
                "the certificate names no CRL distribution point and no OCSP responder, and the server staples no OCSP response".to_owned(),
                Vec::new(),
            );
        }
        let candidates: Vec<X509Certificate<'_>> = chain
            .iter()
            .skip(1)
            .chain(self.extra_issuers.iter())
            .filter_map(|d| X509Certificate::from_der(d).ok().map(|(_, c)| c))
            .collect();
        let Some(issuer) = issuer_of(&leaf, &candidates) else {
            let why = format!(
                "the issuer '{}' is not among the certificates the server sends, so no revocation answer can be verified",
                leaf.issuer()
            );
            let not_used = "not used: the issuer's certificate is not presented";
            return undetermined(why, every_source(stapled, crl_urls, ocsp_urls, not_used));
        };

        let now = self.clock.now();
        let mut sources = Vec::new();
        let mut decide = |source: String, result: Result<Answer, SourceError>| match result {
            Ok(answer) => {
                let outcome = match &answer {
                    Answer::Good => "good".to_owned(),
                    Answer::Revoked { at, .. } => format!("revoked on {}", at.to_rfc3339()),
                };
                sources.push(SourceOutcome {
                    source: source.clone(),
                    outcome,
                });
                Some(match answer {
                    Answer::Good => RevocationStatus::Good { source },
                    Answer::Revoked { at, reason } => RevocationStatus::Revoked {
                        source,
                        revoked_at: at,
                        reason,
                    },
                })
            }
            Err(e) => {
                sources.push(SourceOutcome {
                    source,
                    outcome: e.to_string(),
                });
                None
            }
        };

        if !stapled.is_empty()
            && let Some(status) = decide(
                "stapled OCSP response".to_owned(),
                ocsp_answer(stapled, &leaf, issuer, now),
            )
        {
            return RevocationFacts { status, sources };
        }
        for url in crl_urls.iter().take(MAX_SOURCES) {
            let result = match self.crl(url, now).await {
                Ok(body) => crl_answer(&body, &leaf, issuer, now),
                Err(e) => Err(e),
            };
            if let Some(status) = decide(url.clone(), result) {
                return RevocationFacts { status, sources };
            }
        }
        for url in ocsp_urls.iter().take(MAX_SOURCES) {
            let result = match ocsp_request(&leaf, issuer) {
                Ok(request) => match self
                    .http
                    .fetch_blob(url, Some(("application/ocsp-request", request)), OCSP_CAP)
                    .await
                {
                    Ok(body) => ocsp_answer(&body, &leaf, issuer, now),
                    Err(e) => Err(e.into()),
                },
                Err(e) => Err(e),
            };
            if let Some(status) = decide(url.clone(), result) {
                return RevocationFacts { status, sources };
            }
        }
        let why = sources
            .iter()
            .map(|s| format!("{}: {}", s.source, s.outcome))
            .collect::<Vec<_>>()
            .join("; ");
        undetermined(format!("no source gave a verified answer ({why})"), sources)
    }

    /// The CRL at `url`, from the cache while it is current, else fetched
    /// (one fetch per URL at a time: others wait for it).
    async fn crl(&self, url: &str, now: DateTime<Utc>) -> Result<Arc<Vec<u8>>, SourceError> {
        let slot = self.cache.slot(url);
        let mut slot = slot.lock().await;
        if let Some(cached) = slot.as_ref()
            && now < cached.until
        {
            return cached.body.clone();
        }
        let fetched = self.http.fetch_blob(url, None, CRL_CAP).await;
        let cached = match fetched {
            Ok(body) => match CertificateRevocationList::from_der(&body) {
                Ok((_, crl)) => {
                    let until = crl
                        .next_update()
                        .and_then(|t| DateTime::from_timestamp(t.timestamp(), 0))
                        .filter(|t| *t > now)
                        .unwrap_or(now + FAILURE_TTL);
                    Cached {
                        body: Ok(Arc::new(body)),
                        until,
                    }
                }
                Err(e) => Cached {
                    body: Err(SourceError::NotCrl(e.to_string())),
                    until: now + FAILURE_TTL,
                },
            },
            Err(e) => Cached {
                body: Err(e.into()),
                until: now + FAILURE_TTL,
            },
        };
        let body = cached.body.clone();
        *slot = Some(cached);
        body
    }
}

/// Every source named (or stapled), none used: the issuer's certificate,
/// which verifies their answers, is missing.
/// Every source the leaf names (and a stapled response), each with `outcome`.
fn every_source(
    stapled: &[u8],
    crl_urls: Vec<String>,
    ocsp_urls: Vec<String>,
    outcome: &str,
) -> Vec<SourceOutcome> {
    (!stapled.is_empty())
        .then(|| "stapled OCSP response".to_owned())
        .into_iter()
        .chain(crl_urls)
        .chain(ocsp_urls)
        .map(|source| SourceOutcome {
            source,
            outcome: outcome.to_owned(),
        })
        .collect()
}

/// The certificate among `candidates` that issued `leaf`: its subject is
/// the leaf's issuer and its key verifies the leaf's signature.
fn issuer_of<'c, 'a>(
    leaf: &X509Certificate<'_>,
    candidates: &'c [X509Certificate<'a>],
) -> Option<&'c X509Certificate<'a>> {
    candidates.iter().find(|c| {
        c.subject().as_raw() == leaf.issuer().as_raw()
            && leaf.verify_signature(Some(c.public_key())).is_ok()
    })
}

/// The `http://` URIs of the leaf's CRL distribution points.
fn crl_urls(leaf: &X509Certificate<'_>) -> Vec<String> {
    let mut urls = Vec::new();
    for ext in leaf.extensions() {
        if let ParsedExtension::CRLDistributionPoints(points) = ext.parsed_extension() {
            for point in points.iter() {
                if let Some(DistributionPointName::FullName(names)) = &point.distribution_point {
                    for name in names {
                        if let GeneralName::URI(uri) = name
                            && uri.starts_with("http://")
                        {
                            urls.push((*uri).to_owned());
                        }
                    }
                }
            }
        }
    }
    urls
}

/// The `http://` OCSP responders of the leaf's authority information access.
fn ocsp_urls(leaf: &X509Certificate<'_>) -> Vec<String> {
    let mut urls = Vec::new();
    for ext in leaf.extensions() {
        if let ParsedExtension::AuthorityInfoAccess(aia) = ext.parsed_extension() {
            for access in aia.iter() {
                if access.access_method.to_id_string() == AD_OCSP
                    && let GeneralName::URI(uri) = &access.access_location
                    && uri.starts_with("http://")
                {
                    urls.push((*uri).to_owned());
                }
            }
        }
    }
    urls
}

fn time(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

/// What a CRL says about `leaf` (RFC 5280 §6.3.3): issued by the leaf's
/// issuer, signed with its key, current at `now`.
fn crl_answer(
    body: &[u8],
    leaf: &X509Certificate<'_>,
    issuer: &X509Certificate<'_>,
    now: DateTime<Utc>,
) -> Result<Answer, SourceError> {
    let (_, crl) = CertificateRevocationList::from_der(body)
        .map_err(|e| SourceError::NotCrl(e.to_string()))?;
    if crl.issuer().as_raw() != issuer.subject().as_raw() {
        return Err(SourceError::CrlIssuer {
            crl: crl.issuer().to_string(),
            issuer: issuer.subject().to_string(),
        });
    }
    crl.verify_signature(issuer.public_key())
        .map_err(|e| SourceError::Signature {
            signer: issuer.subject().to_string(),
            detail: e.to_string(),
        })?;
    let this_update = time(crl.last_update().timestamp());
    if this_update > now + SKEW {
        return Err(SourceError::NotYetValid { this_update });
    }
    if let Some(next) = crl.next_update() {
        let next_update = time(next.timestamp());
        if next_update < now {
            return Err(SourceError::Stale { next_update });
        }
    }
    let serial = leaf.raw_serial();
    Ok(
        match crl
            .iter_revoked_certificates()
            .find(|r| trim(r.raw_serial()) == trim(serial))
        {
            Some(revoked) => Answer::Revoked {
                at: time(revoked.revocation_date.timestamp()),
                reason: revoked.reason_code().map(|(_, code)| reason_name(code.0)),
            },
            None => Answer::Good,
        },
    )
}

/// A serial's content octets without the sign-padding zeros.
fn trim(serial: &[u8]) -> &[u8] {
    let first = serial
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(serial.len().saturating_sub(1));
    serial.get(first..).unwrap_or(serial)
}

/// `CRLReason` (RFC 5280 §5.3.1) in words.
fn reason_name(code: u8) -> String {
    match code {
        0 => "unspecified",
        1 => "keyCompromise",
        2 => "cACompromise",
        3 => "affiliationChanged",
        4 => "superseded",
        5 => "cessationOfOperation",
        6 => "certificateHold",
        8 => "removeFromCRL",
        9 => "privilegeWithdrawn",
        10 => "aACompromise",
        _ => return format!("reason code {code}"),
    }
    .to_owned()
}

fn sha1(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data)
        .as_ref()
        .to_vec()
}

/// The `CertID` of `leaf` (RFC 6960 §4.1.1), with SHA-1 as RFC 5019 asks.
fn cert_id(
    leaf: &X509Certificate<'_>,
    issuer: &X509Certificate<'_>,
) -> Result<x509_ocsp::CertId, SourceError> {
    let bad = |e: der::Error| SourceError::NotOcsp(format!("building the request: {e}"));
    Ok(x509_ocsp::CertId {
        hash_algorithm: spki::AlgorithmIdentifierOwned {
            oid: der::oid::ObjectIdentifier::new_unwrap(SHA1),
            parameters: Some(der::asn1::Any::null()),
        },
        issuer_name_hash: der::asn1::OctetString::new(sha1(leaf.issuer().as_raw())).map_err(bad)?,
        issuer_key_hash: der::asn1::OctetString::new(sha1(
            &issuer.public_key().subject_public_key.data,
        ))
        .map_err(bad)?,
        serial_number: x509_cert::serial_number::SerialNumber::new(trim(leaf.raw_serial()))
            .map_err(bad)?,
    })
}

/// A DER OCSP request for `leaf` (RFC 6960 §4.1.1), unsigned, no nonce
/// (RFC 5019 §2.1).
fn ocsp_request(
    leaf: &X509Certificate<'_>,
    issuer: &X509Certificate<'_>,
) -> Result<Vec<u8>, SourceError> {
    let request = x509_ocsp::OcspRequest {
        tbs_request: x509_ocsp::TbsRequest {
            version: x509_ocsp::Version::V1,
            requestor_name: None,
            request_list: vec![x509_ocsp::Request {
                req_cert: cert_id(leaf, issuer)?,
                single_request_extensions: None,
            }],
            request_extensions: None,
        },
        optional_signature: None,
    };
    request
        .to_der()
        .map_err(|e| SourceError::NotOcsp(format!("building the request: {e}")))
}

/// What an OCSP response says about `leaf`: signed by the issuer or by a
/// responder the issuer authorised (RFC 6960 §4.2.2.2), about this
/// certificate, current at `now` (§4.2.2.1).
fn ocsp_answer(
    body: &[u8],
    leaf: &X509Certificate<'_>,
    issuer: &X509Certificate<'_>,
    now: DateTime<Utc>,
) -> Result<Answer, SourceError> {
    let not_ocsp = |e: der::Error| SourceError::NotOcsp(e.to_string());
    let response = x509_ocsp::OcspResponse::from_der(body).map_err(not_ocsp)?;
    if response.response_status != x509_ocsp::OcspResponseStatus::Successful {
        return Err(SourceError::OcspStatus(format!(
            "{:?}",
            response.response_status
        )));
    }
    let Some(bytes) = response.response_bytes else {
        return Err(SourceError::NotOcsp("no response bytes".to_owned()));
    };
    if bytes.response_type.to_string() != OCSP_BASIC {
        return Err(SourceError::NotOcsp(format!(
            "response type {} is not the basic type",
            bytes.response_type
        )));
    }
    let basic =
        x509_ocsp::BasicOcspResponse::from_der(bytes.response.as_bytes()).map_err(not_ocsp)?;
    verify_ocsp_signature(&basic, issuer, now)?;

    let expected = cert_id(leaf, issuer)?;
    let Some(single) = basic.tbs_response_data.responses.iter().find(|r| {
        r.cert_id.hash_algorithm.oid == expected.hash_algorithm.oid
            && r.cert_id.issuer_key_hash == expected.issuer_key_hash
            && r.cert_id.issuer_name_hash == expected.issuer_name_hash
            && trim(r.cert_id.serial_number.as_bytes()) == trim(expected.serial_number.as_bytes())
    }) else {
        return Err(SourceError::OcspNotAbout {
            serial: leaf.raw_serial_as_string(),
        });
    };
    let at = |t: &x509_ocsp::OcspGeneralizedTime| {
        time(i64::try_from(t.0.to_unix_duration().as_secs()).unwrap_or(i64::MAX))
    };
    let this_update = at(&single.this_update);
    if this_update > now + SKEW {
        return Err(SourceError::NotYetValid { this_update });
    }
    if let Some(next) = &single.next_update {
        let next_update = at(next);
        if next_update < now {
            return Err(SourceError::Stale { next_update });
        }
    }
    match &single.cert_status {
        x509_ocsp::CertStatus::Good(_) => Ok(Answer::Good),
        x509_ocsp::CertStatus::Revoked(info) => Ok(Answer::Revoked {
            at: at(&info.revocation_time),
            reason: info
                .revocation_reason
                .map(|r| reason_name(u8::try_from(r as u32).unwrap_or(u8::MAX))),
        }),
        x509_ocsp::CertStatus::Unknown(_) => Err(SourceError::OcspUnknown),
    }
}

/// Checks the response's signature with the issuer's key, else with a
/// certificate in the response that the issuer signed for OCSP signing
/// and that is valid at `now`.
fn verify_ocsp_signature(
    basic: &x509_ocsp::BasicOcspResponse,
    issuer: &X509Certificate<'_>,
    now: DateTime<Utc>,
) -> Result<(), SourceError> {
    let not_ocsp = |e: der::Error| SourceError::NotOcsp(e.to_string());
    // The signed bytes: DER is canonical, so re-encoding the decoded
    // ResponseData gives back what the responder signed.
    let tbs = basic.tbs_response_data.to_der().map_err(not_ocsp)?;
    let algorithm_der = basic.signature_algorithm.to_der().map_err(not_ocsp)?;
    let (_, algorithm) = AlgorithmIdentifier::from_der(&algorithm_der)
        .map_err(|e| SourceError::NotOcsp(e.to_string()))?;
    let Some(signature) = basic.signature.as_bytes() else {
        return Err(SourceError::NotOcsp(
            "the signature is not a whole number of bytes".to_owned(),
        ));
    };
    let signature = x509_parser::der_parser::asn1_rs::BitString::new(0, signature);
    let verify = |key: &SubjectPublicKeyInfo<'_>| {
        x509_parser::verify::verify_signature(key, &algorithm, &signature, &tbs)
    };
    let issuer_error = match verify(issuer.public_key()) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    let mut detail = issuer_error.to_string();
    for cert in basic.certs.iter().flatten() {
        let Ok(der) = cert.to_der() else { continue };
        let Ok((_, responder)) = X509Certificate::from_der(&der) else {
            continue;
        };
        let authorised = responder.issuer().as_raw() == issuer.subject().as_raw()
            && responder
                .verify_signature(Some(issuer.public_key()))
                .is_ok()
            && responder
                .extended_key_usage()
                .ok()
                .flatten()
                .is_some_and(|eku| {
                    eku.value.ocsp_signing
                        || eku
                            .value
                            .other
                            .iter()
                            .any(|o| o.to_id_string() == OCSP_SIGNING)
                });
        let validity = responder.validity();
        let current = time(validity.not_before.timestamp()) <= now
            && now <= time(validity.not_after.timestamp());
        if !authorised || !current {
            detail = format!(
                "{detail}; the responder certificate '{}' is not one the issuer authorised for OCSP signing, valid now",
                responder.subject()
            );
            continue;
        }
        match verify(responder.public_key()) {
            Ok(()) => return Ok(()),
            Err(e) => detail = format!("{detail}; with '{}': {e}", responder.subject()),
        }
    }
    Err(SourceError::Signature {
        signer: issuer.subject().to_string(),
        detail,
    })
}

#[cfg(test)]
mod tests {
    use supplywatch_testworld::pki::{LeafSpec, Pki};
    use supplywatch_testworld::revocation::{ocsp_response, ocsp_response_by};
    use supplywatch_testworld::time::{Duration as Days, OffsetDateTime};
    use x509_ocsp::CertStatus;

    use super::*;

    const SERIAL: u64 = 0x1234;

    struct Fixture {
        pki: Pki,
        chain: Vec<CertificateDer<'static>>,
        now: DateTime<Utc>,
    }

    fn fixture() -> Fixture {
        let world_now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let pki = Pki::generate(world_now).unwrap();
        let leaf = pki
            .issue(&LeafSpec::issued("portal.acme.test", world_now, 10, 90).serial(SERIAL))
            .unwrap();
        Fixture {
            pki,
            chain: leaf.chain,
            now: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        }
    }

    fn parsed(der: &[u8]) -> X509Certificate<'_> {
        X509Certificate::from_der(der).unwrap().1
    }

    #[test]
    fn a_crl_lists_the_leaf_with_its_date_and_reason() {
        let f = fixture();
        let (leaf, issuer) = (parsed(&f.chain[0]), parsed(&f.chain[1]));
        let at = f.pki.now() - Days::days(2);
        let crl = f
            .pki
            .crl(&[(SERIAL, at, rcgen::RevocationReason::KeyCompromise)])
            .unwrap();
        assert_eq!(
            crl_answer(&crl, &leaf, &issuer, f.now),
            Ok(Answer::Revoked {
                at: f.now - TimeDelta::days(2),
                reason: Some("keyCompromise".to_owned()),
            })
        );
        let other = f
            .pki
            .crl(&[(SERIAL + 1, at, rcgen::RevocationReason::Superseded)])
            .unwrap();
        assert_eq!(crl_answer(&other, &leaf, &issuer, f.now), Ok(Answer::Good));
    }

    #[test]
    fn a_crl_must_be_the_issuers_signed_and_current() {
        let f = fixture();
        let (leaf, issuer) = (parsed(&f.chain[0]), parsed(&f.chain[1]));
        let at = f.pki.now() - Days::days(2);
        let revoked = [(SERIAL, at, rcgen::RevocationReason::KeyCompromise)];

        let forged = f.pki.crl_wrong_key(&revoked).unwrap();
        let Err(SourceError::Signature { .. }) = crl_answer(&forged, &leaf, &issuer, f.now) else {
            panic!("a CRL signed by another key must not count")
        };

        let crl = f.pki.crl(&revoked).unwrap();
        // Its nextUpdate is a week after the PKI's now.
        let Err(SourceError::Stale { .. }) =
            crl_answer(&crl, &leaf, &issuer, f.now + TimeDelta::days(8))
        else {
            panic!("a stale CRL must not count")
        };
        let Err(SourceError::NotYetValid { .. }) =
            crl_answer(&crl, &leaf, &issuer, f.now - TimeDelta::days(1))
        else {
            panic!("a CRL from the future must not count")
        };

        // A CRL of another issuer (the leaf's issuer is the intermediate).
        let root = f.pki.root().clone();
        let Err(SourceError::CrlIssuer { .. }) = crl_answer(&crl, &leaf, &parsed(&root), f.now)
        else {
            panic!("a CRL is the issuer's")
        };
        assert!(matches!(
            crl_answer(b"junk", &leaf, &issuer, f.now),
            Err(SourceError::NotCrl(_))
        ));
    }

    #[test]
    fn an_ocsp_answer_is_the_issuers_or_an_authorised_responders() {
        let f = fixture();
        let (leaf, issuer) = (parsed(&f.chain[0]), parsed(&f.chain[1]));
        let good = ocsp_response(&f.pki, &f.chain[0], CertStatus::good()).unwrap();
        assert_eq!(ocsp_answer(&good, &leaf, &issuer, f.now), Ok(Answer::Good));

        let (responder, key) = f.pki.ocsp_responder(true).unwrap();
        let delegated = ocsp_response_by(
            &f.pki,
            &f.chain[0],
            CertStatus::good(),
            Some((&responder, &key)),
        )
        .unwrap();
        assert_eq!(
            ocsp_answer(&delegated, &leaf, &issuer, f.now),
            Ok(Answer::Good)
        );

        // A certificate of the issuer, but not for OCSP signing.
        let (server, key) = f.pki.ocsp_responder(false).unwrap();
        let unauthorised = ocsp_response_by(
            &f.pki,
            &f.chain[0],
            CertStatus::good(),
            Some((&server, &key)),
        )
        .unwrap();
        let Err(SourceError::Signature { detail, .. }) =
            ocsp_answer(&unauthorised, &leaf, &issuer, f.now)
        else {
            panic!("a responder without id-kp-OCSPSigning must not count")
        };
        assert!(detail.contains("not one the issuer authorised"), "{detail}");

        let unknown = ocsp_response(&f.pki, &f.chain[0], CertStatus::unknown()).unwrap();
        assert_eq!(
            ocsp_answer(&unknown, &leaf, &issuer, f.now),
            Err(SourceError::OcspUnknown)
        );
        // An answer about another certificate (the intermediate's key is
        // the same issuer key, the serial differs).
        let other = f
            .pki
            .issue(&LeafSpec::issued("other.acme.test", f.pki.now(), 10, 90).serial(SERIAL + 1))
            .unwrap();
        let about_other = ocsp_response(&f.pki, &other.chain[0], CertStatus::good()).unwrap();
        assert!(matches!(
            ocsp_answer(&about_other, &leaf, &issuer, f.now),
            Err(SourceError::OcspNotAbout { .. })
        ));
        assert!(matches!(
            ocsp_answer(&good, &leaf, &issuer, f.now + TimeDelta::days(8)),
            Err(SourceError::Stale { .. })
        ));
        assert!(matches!(
            ocsp_answer(b"\x30\x03\x0a\x01\x06", &leaf, &issuer, f.now),
            Err(SourceError::OcspStatus(_))
        ));
        assert!(matches!(
            ocsp_answer(b"junk", &leaf, &issuer, f.now),
            Err(SourceError::NotOcsp(_))
        ));
    }

    #[test]
    fn the_request_names_the_leaf_by_issuer_hashes_and_serial() {
        let f = fixture();
        let (leaf, issuer) = (parsed(&f.chain[0]), parsed(&f.chain[1]));
        let der = ocsp_request(&leaf, &issuer).unwrap();
        let request = x509_ocsp::OcspRequest::from_der(&der).unwrap();
        let id = &request.tbs_request.request_list[0].req_cert;
        assert_eq!(id.hash_algorithm.oid.to_string(), SHA1);
        assert_eq!(trim(id.serial_number.as_bytes()), [0x12, 0x34]);
        assert_eq!(
            id.issuer_name_hash.as_bytes(),
            sha1(issuer.subject().as_raw())
        );
    }

    fn checker(now: DateTime<Utc>) -> RevocationChecker {
        crate::probe::install_crypto_provider();
        let config = crate::config::ProbeConfig {
            nameservers: vec!["127.0.0.1:53".parse().unwrap()],
            extra_roots: vec![],
            timeout: Duration::from_secs(1),
            concurrency: 1,
            per_host_concurrency: 1,
            allow_private_targets: false,
            allow_metadata_targets: false,
            mta_sts_port: 443,
            trust_anchor: None,
            smtp: false,
            smtp_port: 25,
            spread: Duration::ZERO,
        };
        let resolver = crate::probe::DnsResolver::new(&config).unwrap();
        RevocationChecker::new(
            HttpProber::new(&config, resolver).unwrap(),
            Arc::new(CrlCache::default()),
            Arc::new(crate::clock::FixedClock(now)),
            Vec::new(),
            config.timeout,
        )
    }

    /// Sources named but no issuer to verify their answers: nothing is
    /// fetched, and the facts say why each source went unused.
    #[tokio::test]
    async fn without_the_issuer_no_source_is_asked() {
        let f = fixture();
        let leaf = f
            .pki
            .issue(
                &LeafSpec::issued("portal.acme.test", f.pki.now(), 10, 90)
                    .crl_url("http://10.1.2.3/ca.crl"),
            )
            .unwrap();
        let facts = checker(f.now).check(&leaf.chain[..1], &[]).await;
        let RevocationStatus::Undetermined { why } = &facts.status else {
            panic!("{facts:?}")
        };
        assert!(why.contains("is not among the certificates"), "{why}");
        assert_eq!(facts.sources.len(), 1);
        assert!(facts.consulted());
        assert!(
            facts.sources[0].outcome.starts_with("not used"),
            "{facts:?}"
        );

        // With the issuer, the CRL is asked for — here refused by the
        // address rule (a private address), which is evidence too.
        let facts = checker(f.now).check(&leaf.chain, &[]).await;
        let RevocationStatus::Undetermined { why } = &facts.status else {
            panic!("{facts:?}")
        };
        assert!(why.contains("not fetched"), "{why}");

        // No source at all: nothing consulted.
        let facts = checker(f.now).check(&f.chain, &[]).await;
        assert!(!facts.consulted(), "{facts:?}");
    }

    /// Observations stored before revocation was probed still load.
    #[test]
    fn tls_facts_without_revocation_still_load() {
        let mut facts = serde_json::to_value(crate::probe::TlsFacts {
            version: Some("TLSv1.3".into()),
            cipher_suite: None,
            chain: Vec::new(),
            unparseable: Vec::new(),
            chain_source: crate::probe::ChainSource::Rustls,
            trust: crate::probe::Trust::NotChecked,
            raw_version: None,
            unneeded: Vec::new(),
            revocation: Some(RevocationFacts {
                status: RevocationStatus::Undetermined { why: "x".into() },
                sources: Vec::new(),
            }),
        })
        .unwrap();
        assert_eq!(facts["revocation"]["status"]["status"], "undetermined");
        facts.as_object_mut().unwrap().remove("revocation");
        let old: crate::probe::TlsFacts = serde_json::from_value(facts).unwrap();
        assert_eq!(old.revocation, None);
    }

    #[test]
    fn serials_compare_without_sign_padding() {
        assert_eq!(trim(&[0, 0x80, 1]), [0x80, 1]);
        assert_eq!(trim(&[0]), [0]);
        assert_eq!(trim(&[]), [0_u8; 0]);
        assert_eq!(reason_name(1), "keyCompromise");
        assert_eq!(reason_name(7), "reason code 7");
    }
}
