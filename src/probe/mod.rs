//! Probes: I/O that returns observations — facts, serialisable, failures
//! included as data. Probes never judge; `checks` does. The only module that
//! talks to the network (hickory, rustls, raw TCP, SMTP).

pub mod cert;
pub mod dns;
pub mod dnssec;
pub mod hello;
pub mod http;
pub mod resolve;
pub mod revocation;
pub mod run;
pub mod smtp;
pub mod tls;

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

pub use cert::{CertFacts, DaneDigests, KeyFacts};
pub use resolve::{DnsResolver, LookupFailure};
pub use revocation::{RevocationFacts, RevocationStatus};

/// Installs the process-wide rustls crypto provider (ring). Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Everything one TLS probe of an endpoint saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointObservation {
    /// `host:port`, the finding target.
    pub target: String,
    pub host: String,
    pub port: u16,
    /// Addresses the configured resolver gave (or the literal address).
    pub addresses: Vec<IpAddr>,
    pub reach: Reach,
    /// Present once a TLS conversation got as far as a certificate.
    pub tls: Option<TlsFacts>,
    /// Legacy protocol versions tried with a hand-built ClientHello.
    pub legacy: Vec<LegacyProbe>,
    pub elapsed_ms: u64,
}

/// Whether and how far the probe got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Reach {
    /// A TLS handshake completed.
    Handshake,
    /// A certificate was seen but no handshake completed.
    CertificateOnly { error: String },
    /// Nothing usable: the stage that failed and why.
    Unreachable {
        stage: Stage,
        error: String,
        timed_out: bool,
    },
    /// Not probed: the target resolves to an address probes may not touch.
    Refused { address: IpAddr, reason: String },
}

/// The step of a probe that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Resolve,
    Connect,
    Handshake,
}

/// What the TLS conversation showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsFacts {
    /// Negotiated protocol, e.g. `TLSv1.3`, when a handshake completed.
    pub version: Option<String>,
    pub cipher_suite: Option<String>,
    /// The certificates the server presented, leaf first.
    pub chain: Vec<CertFacts>,
    /// Certificates in the chain that could not be parsed.
    pub unparseable: Vec<String>,
    /// How the chain was obtained.
    pub chain_source: ChainSource,
    pub trust: Trust,
    /// The leaf's revocation, when it was looked into (absent from
    /// observations stored before it was).
    #[serde(default)]
    pub revocation: Option<RevocationFacts>,
    /// The version the server answered a hand-built TLS 1.2 hello with,
    /// when the chain had to be read that way (`SSLv3` from a server that
    /// speaks nothing newer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_version: Option<String>,
    /// Positions of presented certificates that the path to a trusted
    /// root does not need (sent but unused: an old cross-certificate …);
    /// their dates do not make the chain invalid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unneeded: Vec<usize>,
}

/// Where a chain came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainSource {
    /// Captured during a rustls handshake.
    Rustls,
    /// Read from the clear-text Certificate message of a TLS 1.2 hello.
    RawTls12,
}

/// Whether the chain leads to a trusted root (web PKI plus extra roots),
/// judged at a time within the leaf's validity so that dates, which the
/// checks judge separately, do not mask the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Trust {
    Trusted,
    /// No path to a trusted root from what was presented.
    UnknownIssuer,
    /// A signature in the chain is invalid or uses a refused algorithm.
    BadSignature {
        detail: String,
    },
    Other {
        detail: String,
    },
    /// The path leads to a trusted root, but at no time within the leaf's
    /// validity is every certificate on it valid (an intermediate expired
    /// before the leaf was issued …): the detail names which.
    OutOfDate {
        detail: String,
    },
    /// No certificate to judge.
    NotChecked,
}

/// One legacy protocol version offered alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyProbe {
    pub version: String,
    /// `None` when the probe could not tell (timeout, connection failure).
    pub accepted: Option<bool>,
    pub detail: String,
    /// The cipher suite the server chose when it accepted (IANA name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher_suite: Option<String>,
}
