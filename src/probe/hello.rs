//! A minimal, hand-built TLS ClientHello and a parser for what comes back.
//!
//! rustls does not speak SSL 3.0 or TLS 1.0/1.1 and refuses some
//! certificates before showing them, so to see whether a server still
//! accepts a legacy protocol, and to read a certificate chain that rustls
//! will not hand over, we speak the first flight of the handshake
//! ourselves. In SSL 3.0 and TLS ≤ 1.2 the ServerHello and Certificate
//! messages travel in the clear.
//!
//! Everything parsed here comes from an untrusted server: every length is
//! checked against what is left and against a cap, nothing is indexed
//! without `get`, and the parser never allocates more than it was given.

/// Protocol versions as they appear on the wire.
pub const SSL30: u16 = 0x0300;
pub const TLS10: u16 = 0x0301;
pub const TLS11: u16 = 0x0302;
pub const TLS12: u16 = 0x0303;

/// The most handshake bytes read from a server before giving up.
pub const MAX_HANDSHAKE_BYTES: usize = 256 * 1024;
/// A TLS record's payload may not exceed 2^14 bytes (plus expansion).
const MAX_RECORD_LEN: usize = 16_384 + 2_048;
const MAX_CERTIFICATES: usize = 16;

const RECORD_ALERT: u8 = 21;
const ALERT_FATAL: u8 = 2;
const RECORD_HANDSHAKE: u8 = 22;
const HS_SERVER_HELLO: u8 = 2;
const HS_CERTIFICATE: u8 = 11;
const HS_SERVER_HELLO_DONE: u8 = 14;

/// `TLS_EMPTY_RENEGOTIATION_INFO_SCSV` (RFC 5746 §3.3): the way an SSL 3.0
/// or TLS client without extensions signals secure renegotiation.
const RENEGOTIATION_SCSV: u16 = 0x00ff;

/// Cipher suites defined for SSL 3.0 and TLS 1.0/1.1 (RFC 6101 appendix A.6,
/// RFC 2246 A.5, RFC 4346, and the AES, CAMELLIA, SEED and ECC suites of
/// RFC 3268, 4132/5932, 4162 and 4492), strongest first: everything an old
/// server may still be configured with, export grade and anonymous suites
/// included, so that a server offering only one uncommon suite still
/// answers. 69 suites keep an SSL 3.0 hello, which has no extensions and so
/// no padding, under 256 bytes (old F5 devices hang on 256–511-byte hellos;
/// RFC 7685 §1).
pub const LEGACY_SUITES: [(u16, &str); 69] = [
    (0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"),
    (0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
    (0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"),
    (0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
    (0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"),
    (0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"),
    (0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"),
    (0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"),
    (0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    (0x0087, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA"),
    (0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    (0x0044, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA"),
    (0x009a, "TLS_DHE_RSA_WITH_SEED_CBC_SHA"),
    (0x0099, "TLS_DHE_DSS_WITH_SEED_CBC_SHA"),
    (0xc005, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA"),
    (0xc00f, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA"),
    (0xc004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA"),
    (0xc00e, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA"),
    (0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"),
    (0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA"),
    (0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    (0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    (0x0096, "TLS_RSA_WITH_SEED_CBC_SHA"),
    (0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA"),
    (0x0037, "TLS_DH_RSA_WITH_AES_256_CBC_SHA"),
    (0x0036, "TLS_DH_DSS_WITH_AES_256_CBC_SHA"),
    (0x0031, "TLS_DH_RSA_WITH_AES_128_CBC_SHA"),
    (0x0030, "TLS_DH_DSS_WITH_AES_128_CBC_SHA"),
    (0xc008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"),
    (0xc012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA"),
    (0xc003, "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA"),
    (0xc00d, "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0x0010, "TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0x000d, "TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA"),
    (0x000a, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0xc007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"),
    (0xc011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"),
    (0xc002, "TLS_ECDH_ECDSA_WITH_RC4_128_SHA"),
    (0xc00c, "TLS_ECDH_RSA_WITH_RC4_128_SHA"),
    (0x0066, "TLS_DHE_DSS_WITH_RC4_128_SHA"),
    (0x0005, "TLS_RSA_WITH_RC4_128_SHA"),
    (0x0004, "TLS_RSA_WITH_RC4_128_MD5"),
    (0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA"),
    (0x0012, "TLS_DHE_DSS_WITH_DES_CBC_SHA"),
    (0x0009, "TLS_RSA_WITH_DES_CBC_SHA"),
    (0x0064, "TLS_RSA_EXPORT1024_WITH_RC4_56_SHA"),
    (0x0062, "TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA"),
    (0x0065, "TLS_DHE_DSS_EXPORT1024_WITH_RC4_56_SHA"),
    (0x0063, "TLS_DHE_DSS_EXPORT1024_WITH_DES_CBC_SHA"),
    (0x0014, "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA"),
    (0x0011, "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA"),
    (0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA"),
    (0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5"),
    (0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5"),
    (0xc019, "TLS_ECDH_anon_WITH_AES_256_CBC_SHA"),
    (0xc018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA"),
    (0x003a, "TLS_DH_anon_WITH_AES_256_CBC_SHA"),
    (0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA"),
    (0x0089, "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA"),
    (0x0046, "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA"),
    (0x001b, "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA"),
    (0x0018, "TLS_DH_anon_WITH_RC4_128_MD5"),
    (0x001a, "TLS_DH_anon_WITH_DES_CBC_SHA"),
    (0x0019, "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA"),
    (0x0017, "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5"),
    (0x0002, "TLS_RSA_WITH_NULL_SHA"),
    (0x0001, "TLS_RSA_WITH_NULL_MD5"),
];

/// Suites that exist only from TLS 1.2 on (AEAD, SHA-256/384 MACs: RFC
/// 5246, 5288, 5289, 7905, 6367), offered in addition in a TLS 1.2 hello.
pub const TLS12_SUITES: [(u16, &str); 24] = [
    (0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
    (0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
    (0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
    (0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    (0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"),
    (0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"),
    (0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0xc024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"),
    (0xc028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"),
    (0xc023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"),
    (0xc027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"),
    (0x006b, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"),
    (0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"),
    (0x006a, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256"),
    (0x0040, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256"),
    (0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384"),
    (0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256"),
    (0x003d, "TLS_RSA_WITH_AES_256_CBC_SHA256"),
    (0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256"),
    (0x00c0, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256"),
    (0x00ba, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256"),
    (0xc077, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384"),
];

/// The suites a hello for `version` offers: the TLS 1.2 suites first in a
/// TLS 1.2 hello, then every legacy suite, then the renegotiation SCSV.
fn suites_for(version: u16) -> impl Iterator<Item = u16> {
    let modern: &[(u16, &str)] = if version >= TLS12 { &TLS12_SUITES } else { &[] };
    modern
        .iter()
        .chain(LEGACY_SUITES.iter())
        .map(|(code, _)| *code)
        .chain(std::iter::once(RENEGOTIATION_SCSV))
}

/// The IANA name of a suite this module offers, or its number.
#[must_use]
pub fn suite_name(code: u16) -> String {
    TLS12_SUITES
        .iter()
        .chain(LEGACY_SUITES.iter())
        .find(|(c, _)| *c == code)
        .map_or_else(|| format!("0x{code:04x}"), |(_, name)| (*name).to_owned())
}

/// Builds a ClientHello record offering exactly `version` (no
/// `supported_versions` extension, so a TLS 1.3 server answers ≤ 1.2).
///
/// An SSL 3.0 hello follows RFC 6101 §5.6.1.2: record and client version
/// 3.0, and no extensions at all (SSL 3.0 has none, and servers of its age
/// may choke on them), so no server name either; secure renegotiation is
/// signalled by the SCSV, which every hello carries (RFC 5746 §3.3). A
/// TLS hello whose handshake message would be 256–511 bytes long is
/// padded to 512 (RFC 7685).
#[must_use]
pub fn client_hello(version: u16, server_name: Option<&str>, random: [u8; 32]) -> Vec<u8> {
    let suites: Vec<u16> = suites_for(version).collect();
    let mut body = Vec::with_capacity(512);
    body.extend_from_slice(&version.to_be_bytes());
    body.extend_from_slice(&random);
    body.push(0); // no session id
    push_u16(&mut body, u16_len(suites.len() * 2));
    for suite in suites {
        body.extend_from_slice(&suite.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // compression: null only

    if version > SSL30 {
        let mut ext = extensions(version, server_name);
        // 4 bytes of handshake header, 2 of extensions length.
        let unpadded = 4 + body.len() + 2 + ext.len();
        if (256..512).contains(&unpadded) {
            let fill = (512 - unpadded).saturating_sub(4);
            push_u16(&mut ext, 0x0015);
            push_u16(&mut ext, u16_len(fill));
            ext.resize(ext.len() + fill, 0);
        }
        push_u16(&mut body, u16_len(ext.len()));
        body.extend_from_slice(&ext);
    }

    let mut handshake = Vec::with_capacity(body.len() + 4);
    handshake.push(1); // client_hello
    push_u24(&mut handshake, body.len());
    handshake.extend_from_slice(&body);

    let mut record = Vec::with_capacity(handshake.len() + 5);
    record.push(RECORD_HANDSHAKE);
    // Record-layer version: TLS 1.0 for compatibility, as browsers did;
    // 3.0 for an SSL 3.0 hello, which an SSL-only server may insist on.
    record.extend_from_slice(&version.min(TLS10).to_be_bytes());
    push_u16(&mut record, u16_len(handshake.len()));
    record.extend_from_slice(&handshake);
    record
}

/// The extensions of a TLS (not SSL 3.0) hello.
fn extensions(version: u16, server_name: Option<&str>) -> Vec<u8> {
    let mut ext = Vec::with_capacity(128);
    if let Some(name) = server_name.filter(|n| n.len() < 256) {
        // server_name: list of one host_name entry
        let n = name.as_bytes();
        push_u16(&mut ext, 0x0000);
        push_u16(&mut ext, u16_len(n.len() + 5));
        push_u16(&mut ext, u16_len(n.len() + 3));
        ext.push(0);
        push_u16(&mut ext, u16_len(n.len()));
        ext.extend_from_slice(n);
    }
    // supported_groups: x25519, secp256r1, secp384r1
    ext.extend_from_slice(&[
        0x00, 0x0a, 0x00, 0x08, 0x00, 0x06, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18,
    ]);
    // ec_point_formats: uncompressed
    ext.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
    if version >= TLS12 {
        // signature_algorithms
        let algs: [u16; 9] = [
            0x0403, 0x0503, 0x0804, 0x0805, 0x0401, 0x0501, 0x0201, 0x0203, 0x0806,
        ];
        push_u16(&mut ext, 0x000d);
        push_u16(&mut ext, u16_len(algs.len() * 2 + 2));
        push_u16(&mut ext, u16_len(algs.len() * 2));
        for a in algs {
            ext.extend_from_slice(&a.to_be_bytes());
        }
    }
    ext
}

fn u16_len(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

fn push_u16(buf: &mut Vec<u8>, v: u16) {
    buf.extend_from_slice(&v.to_be_bytes());
}

fn push_u24(buf: &mut Vec<u8>, n: usize) {
    let n = u32::try_from(n).unwrap_or(u32::MAX).min(0x00ff_ffff);
    buf.extend_from_slice(n.to_be_bytes().get(1..).unwrap_or_default());
}

/// What the server's first flight said, as far as it was read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerFlight {
    /// The version in the ServerHello.
    pub version: Option<u16>,
    pub cipher_suite: Option<u16>,
    /// DER certificates from the Certificate message, leaf first.
    pub certificates: Vec<Vec<u8>>,
    /// The last alert (level, description) the server sent. A warning
    /// (level 1, e.g. Apache's `unrecognized_name` before a ServerHello)
    /// does not end the flight; a fatal alert (level 2) does.
    pub alert: Option<(u8, u8)>,
    /// The ServerHelloDone was seen: nothing more to wait for.
    pub done: bool,
}

/// Why the bytes could not be read as a server's first flight.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlightError {
    #[error("not a TLS record (content type {0})")]
    NotTls(u8),
    #[error("record of {0} bytes exceeds the TLS maximum")]
    RecordTooLong(usize),
    #[error("handshake message of {0} bytes exceeds the {max} byte cap", max = MAX_HANDSHAKE_BYTES)]
    MessageTooLong(usize),
    #[error("malformed {0}")]
    Malformed(&'static str),
}

/// Incremental parser over the bytes a server sends: feed it what was read,
/// ask whether more is needed.
#[derive(Debug, Default)]
pub struct FlightParser {
    input: Vec<u8>,
    handshake: Vec<u8>,
    pub flight: ServerFlight,
}

impl FlightParser {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes and parses what is complete.
    ///
    /// # Errors
    /// [`FlightError`] when the bytes are not a sane TLS first flight.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), FlightError> {
        if self.input.len() + self.handshake.len() + bytes.len() > MAX_HANDSHAKE_BYTES {
            return Err(FlightError::MessageTooLong(
                self.input.len() + self.handshake.len() + bytes.len(),
            ));
        }
        self.input.extend_from_slice(bytes);
        self.parse_records()
    }

    /// True once the flight is complete or the server gave up (a fatal
    /// alert; after a warning the server goes on).
    #[must_use]
    pub fn finished(&self) -> bool {
        self.flight.done
            || self
                .flight
                .alert
                .is_some_and(|(level, _)| level == ALERT_FATAL)
    }

    fn parse_records(&mut self) -> Result<(), FlightError> {
        loop {
            let Some(&[content_type, major, _minor, hi, lo]) = self.input.get(..5) else {
                return Ok(());
            };
            let len = usize::from(u16::from_be_bytes([hi, lo]));
            if major != 3 {
                return Err(FlightError::NotTls(content_type));
            }
            if len > MAX_RECORD_LEN {
                return Err(FlightError::RecordTooLong(len));
            }
            let Some(payload) = self.input.get(5..5 + len) else {
                return Ok(());
            };
            match content_type {
                RECORD_HANDSHAKE => self.handshake.extend_from_slice(payload),
                RECORD_ALERT => {
                    if let [level, description, ..] = payload {
                        // After a fatal alert nothing more is read.
                        if !self.finished() {
                            self.flight.alert = Some((*level, *description));
                        }
                    } else {
                        return Err(FlightError::Malformed("alert"));
                    }
                }
                // ChangeCipherSpec and anything later: the clear part is over.
                20..=23 => self.flight.done = true,
                other => return Err(FlightError::NotTls(other)),
            }
            self.input.drain(..5 + len);
            // Handshake messages are read record by record, in the order
            // they came: whether a later alert counts depends on whether a
            // ServerHelloDone came before it, not on how TCP cut the bytes.
            if content_type == RECORD_HANDSHAKE {
                self.parse_handshakes()?;
            }
        }
    }

    fn parse_handshakes(&mut self) -> Result<(), FlightError> {
        loop {
            let Some(&[kind, a, b, c]) = self.handshake.get(..4) else {
                return Ok(());
            };
            let len = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
            if len > MAX_HANDSHAKE_BYTES {
                return Err(FlightError::MessageTooLong(len));
            }
            let Some(body) = self.handshake.get(4..4 + len) else {
                return Ok(());
            };
            match kind {
                HS_SERVER_HELLO => {
                    let (version, suite) = parse_server_hello(body)?;
                    self.flight.version = Some(version);
                    self.flight.cipher_suite = Some(suite);
                }
                HS_CERTIFICATE => self.flight.certificates = parse_certificates(body)?,
                HS_SERVER_HELLO_DONE => self.flight.done = true,
                _ => {}
            }
            self.handshake.drain(..4 + len);
        }
    }
}

fn parse_server_hello(body: &[u8]) -> Result<(u16, u16), FlightError> {
    let err = FlightError::Malformed("ServerHello");
    let Some(&[v0, v1]) = body.get(..2) else {
        return Err(err);
    };
    let session_len = usize::from(*body.get(34).ok_or(err.clone())?);
    if session_len > 32 {
        return Err(err);
    }
    let Some(&[s0, s1]) = body.get(35 + session_len..37 + session_len) else {
        return Err(err);
    };
    Ok((u16::from_be_bytes([v0, v1]), u16::from_be_bytes([s0, s1])))
}

fn parse_certificates(body: &[u8]) -> Result<Vec<Vec<u8>>, FlightError> {
    let err = || FlightError::Malformed("Certificate message");
    let total = read_u24(body, 0).ok_or_else(err)?;
    let mut list = body.get(3..3 + total).ok_or_else(err)?;
    let mut certs = Vec::new();
    while !list.is_empty() {
        if certs.len() == MAX_CERTIFICATES {
            break;
        }
        let len = read_u24(list, 0).ok_or_else(err)?;
        let der = list.get(3..3 + len).ok_or_else(err)?;
        if der.is_empty() {
            return Err(err());
        }
        certs.push(der.to_vec());
        list = list.get(3 + len..).unwrap_or_default();
    }
    Ok(certs)
}

fn read_u24(bytes: &[u8], at: usize) -> Option<usize> {
    let &[a, b, c] = bytes.get(at..at + 3)? else {
        return None;
    };
    Some(usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c))
}

/// A protocol version for people: `TLSv1.0` …
#[must_use]
pub fn version_name(version: u16) -> String {
    match version {
        SSL30 => "SSLv3".to_owned(),
        TLS10 => "TLSv1.0".to_owned(),
        TLS11 => "TLSv1.1".to_owned(),
        TLS12 => "TLSv1.2".to_owned(),
        0x0304 => "TLSv1.3".to_owned(),
        other => format!("0x{other:04x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut r = vec![kind, 3, 3];
        r.extend_from_slice(&u16::try_from(payload.len()).unwrap().to_be_bytes());
        r.extend_from_slice(payload);
        r
    }

    fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut h = vec![kind];
        push_u24(&mut h, body.len());
        h.extend_from_slice(body);
        h
    }

    fn server_hello(version: u16) -> Vec<u8> {
        let mut b = version.to_be_bytes().to_vec();
        b.extend_from_slice(&[7; 32]);
        b.push(0);
        b.extend_from_slice(&[0xc0, 0x2f, 0]);
        handshake(HS_SERVER_HELLO, &b)
    }

    fn certificate(certs: &[&[u8]]) -> Vec<u8> {
        let mut list = Vec::new();
        for c in certs {
            push_u24(&mut list, c.len());
            list.extend_from_slice(c);
        }
        let mut body = Vec::new();
        push_u24(&mut body, list.len());
        body.extend_from_slice(&list);
        handshake(HS_CERTIFICATE, &body)
    }

    /// A well-formed first flight, split at every possible point.
    #[test]
    fn parses_a_flight_in_any_fragmentation() {
        let mut hs = server_hello(TLS10);
        hs.extend(certificate(&[b"leaf-der", b"intermediate-der"]));
        hs.extend(handshake(HS_SERVER_HELLO_DONE, &[]));
        let (first, second) = hs.split_at(20);
        let mut bytes = record(RECORD_HANDSHAKE, first);
        bytes.extend(record(RECORD_HANDSHAKE, second));
        for cut in 0..bytes.len() {
            let mut p = FlightParser::new();
            p.feed(&bytes[..cut]).unwrap();
            p.feed(&bytes[cut..]).unwrap();
            assert!(p.finished());
            assert_eq!(p.flight.version, Some(TLS10));
            assert_eq!(p.flight.cipher_suite, Some(0xc02f));
            assert_eq!(
                p.flight.certificates,
                vec![b"leaf-der".to_vec(), b"intermediate-der".to_vec()]
            );
        }
    }

    #[test]
    fn alerts_and_garbage() {
        let mut p = FlightParser::new();
        p.feed(&record(RECORD_ALERT, &[2, 70])).unwrap();
        assert_eq!(p.flight.alert, Some((2, 70)));
        assert!(p.finished());

        let mut p = FlightParser::new();
        assert!(p.feed(b"HTTP/1.1 400 Bad Request\r\n\r\n").is_err());

        let mut p = FlightParser::new();
        assert_eq!(
            p.feed(&[22, 3, 3, 0xff, 0xff]),
            Err(FlightError::RecordTooLong(0xffff))
        );

        // A certificate list that claims more than it holds.
        let mut body = Vec::new();
        push_u24(&mut body, 100);
        push_u24(&mut body, 50);
        let mut p = FlightParser::new();
        assert!(
            p.feed(&record(RECORD_HANDSHAKE, &handshake(HS_CERTIFICATE, &body)))
                .is_err()
        );
    }

    /// Apache sends a warning `unrecognized_name` before its ServerHello
    /// when the SNI name is not one of its virtual hosts: the flight goes on.
    #[test]
    fn a_warning_alert_does_not_end_the_flight() {
        let mut p = FlightParser::new();
        p.feed(&[0x15, 0x03, 0x01, 0x00, 0x02, 0x01, 0x70]).unwrap();
        assert_eq!(p.flight.alert, Some((1, 112)));
        assert!(!p.finished(), "a warning is not the end");
        let mut hs = server_hello(TLS10);
        hs.extend(certificate(&[b"leaf-der"]));
        hs.extend(handshake(HS_SERVER_HELLO_DONE, &[]));
        p.feed(&record(RECORD_HANDSHAKE, &hs)).unwrap();
        assert!(p.finished());
        assert_eq!(p.flight.version, Some(TLS10));
        assert_eq!(p.flight.certificates, vec![b"leaf-der".to_vec()]);

        // Both in one read.
        let mut bytes = vec![0x15, 0x03, 0x01, 0x00, 0x02, 0x01, 0x70];
        bytes.extend(record(RECORD_HANDSHAKE, &server_hello(TLS10)));
        let mut p = FlightParser::new();
        p.feed(&bytes).unwrap();
        assert_eq!(p.flight.version, Some(TLS10));

        // A fatal alert after a warning ends it, and is the one kept.
        let mut p = FlightParser::new();
        p.feed(&record(RECORD_ALERT, &[1, 112])).unwrap();
        p.feed(&record(RECORD_ALERT, &[2, 70])).unwrap();
        assert!(p.finished());
        assert_eq!(p.flight.alert, Some((2, 70)));
    }

    #[test]
    fn hello_is_well_formed() {
        let hello = client_hello(TLS10, Some("portal.acme.test"), [1; 32]);
        assert_eq!(hello[0], RECORD_HANDSHAKE);
        let len = usize::from(u16::from_be_bytes([hello[3], hello[4]]));
        assert_eq!(len + 5, hello.len());
        assert_eq!(hello[5], 1);
        assert_eq!(u16::from_be_bytes([hello[9], hello[10]]), TLS10);
        assert!(hello.windows(16).any(|w| w == b"portal.acme.test"));
    }

    /// The offered suites of a hello built by [`client_hello`], and what
    /// follows the compression methods.
    fn offered(hello: &[u8]) -> (Vec<u16>, &[u8]) {
        let body = &hello[9..];
        let suites_len = usize::from(u16::from_be_bytes([body[35], body[36]]));
        let suites = body[37..37 + suites_len]
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        let after = 37 + suites_len;
        assert_eq!(&body[after..after + 2], &[1, 0], "null compression only");
        (suites, &body[after + 2..])
    }

    /// RFC 6101 §5.6.1.2: an SSL 3.0 hello has version 3.0 in record and
    /// hello, and nothing after the compression methods.
    #[test]
    fn an_ssl3_hello_has_no_extensions() {
        let hello = client_hello(SSL30, Some("portal.acme.test"), [1; 32]);
        assert_eq!(&hello[..3], &[RECORD_HANDSHAKE, 3, 0]);
        assert_eq!(u16::from_be_bytes([hello[9], hello[10]]), SSL30);
        let (suites, rest) = offered(&hello);
        assert!(rest.is_empty(), "no extensions: {rest:?}");
        assert!(!hello.windows(16).any(|w| w == b"portal.acme.test"));
        assert!(suites.contains(&RENEGOTIATION_SCSV));
        // The uncommon suites an old server may offer alone.
        for uncommon in [0x0041, 0x0096, 0x0007, 0x0003, 0x0018] {
            assert!(suites.contains(&uncommon), "0x{uncommon:04x}");
        }
        assert!(!suites.contains(&0xc02f), "no TLS 1.2 suite in SSL 3.0");
        assert!(hello.len() - 5 < 256, "under the F5 hello-size bug");
    }

    #[test]
    fn tls12_suites_are_offered_in_tls12_only() {
        let (v10, _) = offered(&client_hello(TLS10, None, [1; 32]));
        let (v12, _) = offered(&client_hello(TLS12, None, [1; 32]));
        assert_eq!(v10.len(), LEGACY_SUITES.len() + 1);
        assert_eq!(v12.len(), LEGACY_SUITES.len() + TLS12_SUITES.len() + 1);
        assert!(!v10.contains(&0xc02f) && v12.contains(&0xc02f));
        let mut unique = v12.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), v12.len(), "no suite twice");
        assert_eq!(suite_name(0x0041), "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA");
        assert_eq!(suite_name(0x1301), "0x1301");
    }

    /// RFC 7685: a hello of 256–511 bytes is padded to 512.
    #[test]
    fn mid_sized_hellos_are_padded() {
        for version in [TLS10, TLS11, TLS12] {
            for name in [
                None,
                Some("a.test"),
                Some("a-much-longer-name.portal.acme.test"),
            ] {
                let hello = client_hello(version, name, [1; 32]);
                let handshake = hello.len() - 5;
                assert!(
                    !(256..512).contains(&handshake),
                    "{version:04x} {name:?}: {handshake}"
                );
                let len = usize::from(u16::from_be_bytes([hello[3], hello[4]]));
                assert_eq!(len + 5, hello.len());
            }
        }
    }

    /// Property: no input makes the parser panic, loop or hold more than the cap.
    #[test]
    fn hostile_input_never_panics() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut valid = record(RECORD_HANDSHAKE, &server_hello(TLS12));
        valid.extend(record(RECORD_HANDSHAKE, &certificate(&[&[0x30; 300]])));
        for _ in 0..20_000 {
            let mut bytes = if next() % 2 == 0 {
                valid.clone()
            } else {
                (0..(next() % 600))
                    .map(|_| u8::try_from(next() % 256).unwrap())
                    .collect()
            };
            let flips = next() % 8;
            for _ in 0..flips {
                if bytes.is_empty() {
                    break;
                }
                let i = usize::try_from(next()).unwrap() % bytes.len();
                bytes[i] = u8::try_from(next() % 256).unwrap();
            }
            let mut p = FlightParser::new();
            let cut = if bytes.is_empty() {
                0
            } else {
                usize::try_from(next()).unwrap() % bytes.len()
            };
            let _ = p.feed(&bytes[..cut]).and_then(|()| p.feed(&bytes[cut..]));
            assert!(p.flight.certificates.len() <= MAX_CERTIFICATES);
        }
    }
}
