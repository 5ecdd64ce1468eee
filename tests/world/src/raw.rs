//! Raw TLS bytes: just enough of the record layer and handshake framing to
//! read a ClientHello and to answer with a ServerHello, Certificate,
//! (ServerKeyExchange,) ServerHelloDone flight without any TLS library.
//!
//! The world uses this where rustls cannot or will not serve a case: a leaf
//! with an RSA-1024 key (ring refuses to sign with it) and a TLS 1.0/1.1
//! ServerHello (rustls never speaks those versions). Nothing here does any
//! cryptography, and nothing here depends on the rest of the crate.

use rustls_pki_types::CertificateDer;

/// Record content type `handshake` (22).
pub const CONTENT_HANDSHAKE: u8 = 0x16;
/// Handshake message type `client_hello`.
pub const CLIENT_HELLO: u8 = 1;
/// Handshake message type `server_hello`.
pub const SERVER_HELLO: u8 = 2;
/// Handshake message type `certificate`.
pub const CERTIFICATE: u8 = 11;
/// Handshake message type `server_key_exchange`.
pub const SERVER_KEY_EXCHANGE: u8 = 12;
/// Handshake message type `server_hello_done`.
pub const SERVER_HELLO_DONE: u8 = 14;
/// Extension type `supported_versions` (RFC 8446).
pub const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;
/// Extension type `renegotiation_info` (RFC 5746).
pub const EXT_RENEGOTIATION_INFO: u16 = 0xff01;
/// Cipher suite value TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746).
pub const EMPTY_RENEGOTIATION_INFO_SCSV: u16 = 0x00ff;
/// Named group x25519.
pub const X25519: u16 = 0x001d;
/// Signature scheme `rsa_pkcs1_sha256`.
pub const RSA_PKCS1_SHA256: u16 = 0x0401;

/// Protocol version numbers as they appear on the wire: SSL 3.0.
pub const SSL30: u16 = 0x0300;
/// TLS 1.0.
pub const TLS10: u16 = 0x0301;
/// TLS 1.1.
pub const TLS11: u16 = 0x0302;
/// TLS 1.2.
pub const TLS12: u16 = 0x0303;

/// TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256.
pub const ECDHE_RSA_AES128_GCM_SHA256: u16 = 0xc02f;

/// The largest TLSPlaintext fragment (RFC 8446 §5.1, RFC 5246 §6.2.1).
pub const MAX_FRAGMENT: usize = 16 * 1024;

/// Why bytes could not be read as the expected TLS message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RawTlsError {
    /// More bytes are needed; `have` is what was looked at.
    #[error("incomplete TLS data ({have} bytes so far)")]
    Incomplete {
        /// Bytes available when parsing stopped.
        have: usize,
    },
    /// The first record is not a handshake record.
    #[error("record content type {0:#04x} is not handshake")]
    NotHandshake(u8),
    /// The first handshake message is of another type than expected.
    #[error("handshake message type {got} where {expected} was expected")]
    UnexpectedMessage {
        /// The type expected.
        expected: u8,
        /// The type found.
        got: u8,
    },
    /// A length field points outside its container, or a field is cut short.
    #[error("malformed {0}")]
    Malformed(&'static str),
}

/// What the world needs to know about a client's first flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// The version in the first record header.
    pub record_version: u16,
    /// `legacy_version` / `client_version` of the ClientHello.
    pub client_version: u16,
    /// Offered cipher suites, in the client's order.
    pub cipher_suites: Vec<u16>,
    /// Versions in a `supported_versions` extension, if the client sent one.
    pub supported_versions: Option<Vec<u16>>,
    /// Whether the client signalled secure renegotiation (the SCSV or an
    /// empty `renegotiation_info` extension), so the server must answer it.
    pub secure_renegotiation: bool,
    /// How many bytes (whole records) the ClientHello took on the wire.
    pub wire_len: usize,
}

impl ClientHello {
    /// True for a TLS 1.0 / 1.1 (or older) hello: `client_version` at most
    /// 0x0302 and no `supported_versions` extension.
    #[must_use]
    pub fn is_legacy(&self) -> bool {
        self.client_version <= TLS11 && self.supported_versions.is_none()
    }
}

/// One handshake message with the version of the record that carried its
/// first byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeMessage {
    /// Record-layer version of the record the message started in.
    pub record_version: u16,
    /// Handshake message type.
    pub msg_type: u8,
    /// The message body, without the 4-byte handshake header.
    pub body: Vec<u8>,
}

/// A byte reader over a slice that fails instead of panicking.
struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self { buf, what }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], RawTlsError> {
        if self.buf.len() < n {
            return Err(RawTlsError::Malformed(self.what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, RawTlsError> {
        Ok(self.take(1)?.first().copied().unwrap_or_default())
    }

    fn u16(&mut self) -> Result<u16, RawTlsError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u24(&mut self) -> Result<usize, RawTlsError> {
        let b = self.take(3)?;
        Ok(usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
    }

    fn vec8(&mut self) -> Result<&'a [u8], RawTlsError> {
        let n = usize::from(self.u8()?);
        self.take(n)
    }

    fn vec16(&mut self) -> Result<&'a [u8], RawTlsError> {
        let n = usize::from(self.u16()?);
        self.take(n)
    }

    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// Splits `buf` into handshake messages, reassembling messages that span
/// records. Stops at the first non-handshake record or at a message cut short
/// by the end of `buf`; returns the messages found and the bytes consumed by
/// complete records holding only complete messages.
///
/// # Errors
/// [`RawTlsError::NotHandshake`] when the first record is not a handshake
/// record, [`RawTlsError::Incomplete`] when not even one whole message is in
/// `buf`.
pub fn handshake_messages(buf: &[u8]) -> Result<(Vec<HandshakeMessage>, usize), RawTlsError> {
    let mut messages = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut pending_version = 0u16;
    let mut pos = 0usize;
    let mut consumed = 0usize;
    while let Some(header) = buf.get(pos..pos + 5) {
        let content_type = header[0];
        let version = u16::from_be_bytes([header[1], header[2]]);
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if content_type != CONTENT_HANDSHAKE {
            if pos == 0 {
                return Err(RawTlsError::NotHandshake(content_type));
            }
            break;
        }
        let Some(fragment) = buf.get(pos + 5..pos + 5 + len) else {
            break;
        };
        pos += 5 + len;
        if pending.is_empty() {
            pending_version = version;
        }
        pending.extend_from_slice(fragment);
        // Take every whole message now buffered.
        while let Some(hdr) = pending.get(..4) {
            let body_len =
                usize::from(hdr[1]) << 16 | usize::from(hdr[2]) << 8 | usize::from(hdr[3]);
            let Some(body) = pending.get(4..4 + body_len) else {
                break;
            };
            messages.push(HandshakeMessage {
                record_version: pending_version,
                msg_type: hdr[0],
                body: body.to_vec(),
            });
            pending.drain(..4 + body_len);
            pending_version = version;
        }
        if pending.is_empty() {
            consumed = pos;
        }
    }
    if messages.is_empty() {
        return Err(RawTlsError::Incomplete { have: buf.len() });
    }
    Ok((messages, consumed))
}

/// Parses the ClientHello at the start of `buf` (one or more handshake
/// records).
///
/// # Errors
/// [`RawTlsError::Incomplete`] while the hello is not all there yet; other
/// variants when the bytes are not a ClientHello.
pub fn parse_client_hello(buf: &[u8]) -> Result<ClientHello, RawTlsError> {
    let record_version = match buf.get(..5) {
        Some(h) if h[0] != CONTENT_HANDSHAKE => return Err(RawTlsError::NotHandshake(h[0])),
        Some(h) => u16::from_be_bytes([h[1], h[2]]),
        None => return Err(RawTlsError::Incomplete { have: buf.len() }),
    };
    let (messages, wire_len) = handshake_messages(buf)?;
    let Some(first) = messages.first() else {
        return Err(RawTlsError::Incomplete { have: buf.len() });
    };
    if first.msg_type != CLIENT_HELLO {
        return Err(RawTlsError::UnexpectedMessage {
            expected: CLIENT_HELLO,
            got: first.msg_type,
        });
    }
    let mut r = Reader::new(&first.body, "ClientHello");
    let client_version = r.u16()?;
    r.take(32)?; // random
    r.vec8()?; // session_id
    let suites = r.vec16()?;
    let cipher_suites = suites
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    r.vec8()?; // compression_methods
    let mut supported_versions = None;
    let mut secure_renegotiation = suites
        .chunks_exact(2)
        .any(|c| u16::from_be_bytes([c[0], c[1]]) == EMPTY_RENEGOTIATION_INFO_SCSV);
    if !r.is_empty() {
        let mut exts = Reader::new(r.vec16()?, "ClientHello extensions");
        while !exts.is_empty() {
            let ext_type = exts.u16()?;
            let data = exts.vec16()?;
            if ext_type == EXT_RENEGOTIATION_INFO {
                secure_renegotiation = true;
            }
            if ext_type == EXT_SUPPORTED_VERSIONS {
                let mut d = Reader::new(data, "supported_versions");
                let list = d.vec8()?;
                supported_versions = Some(
                    list.chunks_exact(2)
                        .map(|c| u16::from_be_bytes([c[0], c[1]]))
                        .collect(),
                );
            }
        }
    }
    Ok(ClientHello {
        record_version,
        client_version,
        cipher_suites,
        supported_versions,
        secure_renegotiation,
        wire_len,
    })
}

fn push_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a 24-bit length. Lengths here are bounded by what the world
/// builds (certificate chains of a few KiB), so truncation cannot happen in
/// practice; it is masked rather than panicking.
fn push_u24(out: &mut Vec<u8>, v: usize) {
    let v = u32::try_from(v).unwrap_or(u32::MAX) & 0x00ff_ffff;
    out.extend_from_slice(&v.to_be_bytes()[1..]);
}

fn handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.push(msg_type);
    push_u24(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

/// Wraps handshake bytes in as many handshake records as needed.
#[must_use]
pub fn records(record_version: u16, handshake_bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(handshake_bytes.len() + 5 * 2);
    for chunk in handshake_bytes.chunks(MAX_FRAGMENT) {
        out.push(CONTENT_HANDSHAKE);
        push_u16(&mut out, record_version);
        push_u16(&mut out, u16::try_from(chunk.len()).unwrap_or(u16::MAX));
        out.extend_from_slice(chunk);
    }
    out
}

/// A ServerHello with no session id and no compression. With
/// `renegotiation_info` it carries the empty `renegotiation_info` extension
/// that RFC 5746 requires when the client signalled it (OpenSSL refuses a
/// hello without it); otherwise it has no extensions at all.
#[must_use]
pub fn server_hello(
    version: u16,
    random: [u8; 32],
    cipher_suite: u16,
    renegotiation_info: bool,
) -> Vec<u8> {
    let mut body = Vec::with_capacity(45);
    push_u16(&mut body, version);
    body.extend_from_slice(&random);
    body.push(0); // session_id: empty
    push_u16(&mut body, cipher_suite);
    body.push(0); // compression: null
    if renegotiation_info {
        push_u16(&mut body, 5); // extensions length
        push_u16(&mut body, EXT_RENEGOTIATION_INFO);
        push_u16(&mut body, 1);
        body.push(0); // renegotiated_connection: empty
    }
    handshake(SERVER_HELLO, &body)
}

/// A fatal alert record (level 2) with `description`, in a record of
/// `version`.
#[must_use]
pub fn fatal_alert(version: u16, description: u8) -> Vec<u8> {
    let mut out = vec![0x15];
    push_u16(&mut out, version);
    push_u16(&mut out, 2);
    out.extend_from_slice(&[2, description]);
    out
}

/// A TLS 1.2-style Certificate message (no request context, no extensions).
#[must_use]
pub fn certificate(chain: &[CertificateDer<'_>]) -> Vec<u8> {
    let mut list = Vec::new();
    for cert in chain {
        push_u24(&mut list, cert.len());
        list.extend_from_slice(cert);
    }
    let mut body = Vec::with_capacity(3 + list.len());
    push_u24(&mut body, list.len());
    body.extend_from_slice(&list);
    handshake(CERTIFICATE, &body)
}

/// A TLS 1.2 ECDHE ServerKeyExchange on x25519 with `public` as the
/// server's share and `signature` (which nobody can check: the world has no
/// private key for it) under `rsa_pkcs1_sha256`.
#[must_use]
pub fn server_key_exchange_x25519(public: [u8; 32], signature: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(40 + signature.len());
    body.push(3); // curve_type: named_curve
    push_u16(&mut body, X25519);
    body.push(32);
    body.extend_from_slice(&public);
    push_u16(&mut body, RSA_PKCS1_SHA256);
    push_u16(
        &mut body,
        u16::try_from(signature.len()).unwrap_or(u16::MAX),
    );
    body.extend_from_slice(signature);
    handshake(SERVER_KEY_EXCHANGE, &body)
}

/// The ServerHelloDone message.
#[must_use]
pub fn server_hello_done() -> Vec<u8> {
    handshake(SERVER_HELLO_DONE, &[])
}

/// ServerHello + Certificate + ServerHelloDone (no extensions), framed as
/// handshake records whose record version is `version`. A client can read
/// the certificates but can never finish the handshake.
#[must_use]
pub fn server_flight(
    version: u16,
    random: [u8; 32],
    cipher_suite: u16,
    chain: &[CertificateDer<'_>],
) -> Vec<u8> {
    let mut hs = server_hello(version, random, cipher_suite, false);
    hs.extend_from_slice(&certificate(chain));
    hs.extend_from_slice(&server_hello_done());
    records(version, &hs)
}

/// A minimal ClientHello record as an old client sends it: the given
/// version in the record header and in `client_version`, the given suites,
/// null compression and no extensions. For tests.
#[must_use]
pub fn legacy_client_hello(version: u16, cipher_suites: &[u16]) -> Vec<u8> {
    let mut body = Vec::new();
    push_u16(&mut body, version);
    body.extend_from_slice(&[0x5a; 32]);
    body.push(0);
    push_u16(
        &mut body,
        u16::try_from(cipher_suites.len() * 2).unwrap_or(u16::MAX),
    );
    for suite in cipher_suites {
        push_u16(&mut body, *suite);
    }
    body.extend_from_slice(&[1, 0]);
    records(version, &handshake(CLIENT_HELLO, &body))
}

/// The certificates in a Certificate message body (TLS 1.2 layout).
///
/// # Errors
/// [`RawTlsError::Malformed`] when the lengths do not add up.
pub fn parse_certificate_body(body: &[u8]) -> Result<Vec<CertificateDer<'static>>, RawTlsError> {
    let mut r = Reader::new(body, "Certificate");
    let len = r.u24()?;
    let mut list = Reader::new(r.take(len)?, "certificate_list");
    let mut chain = Vec::new();
    while !list.is_empty() {
        let n = list.u24()?;
        chain.push(CertificateDer::from(list.take(n)?.to_vec()));
    }
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_hello_round_trips() {
        let bytes = legacy_client_hello(TLS10, &[0xc013, 0x002f]);
        let hello = parse_client_hello(&bytes).unwrap();
        assert_eq!(hello.client_version, TLS10);
        assert_eq!(hello.record_version, TLS10);
        assert_eq!(hello.cipher_suites, vec![0xc013, 0x002f]);
        assert!(hello.is_legacy());
        assert!(!hello.secure_renegotiation);
        let with_scsv = legacy_client_hello(TLS10, &[EMPTY_RENEGOTIATION_INFO_SCSV, 0x002f]);
        assert!(parse_client_hello(&with_scsv).unwrap().secure_renegotiation);
        assert_eq!(hello.wire_len, bytes.len());
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let bytes = legacy_client_hello(TLS11, &[0x002f]);
        for n in 0..bytes.len() {
            assert!(
                matches!(
                    parse_client_hello(&bytes[..n]),
                    Err(RawTlsError::Incomplete { .. })
                ),
                "prefix {n}"
            );
        }
    }

    #[test]
    fn not_handshake_is_refused() {
        assert_eq!(
            parse_client_hello(b"GET / HTTP/1.1\r\n"),
            Err(RawTlsError::NotHandshake(b'G'))
        );
    }

    #[test]
    fn flight_parses_back() {
        let chain = vec![
            CertificateDer::from(vec![1u8; 3000]),
            CertificateDer::from(vec![2u8; 20_000]),
        ];
        let flight = server_flight(TLS12, [7; 32], ECDHE_RSA_AES128_GCM_SHA256, &chain);
        let (messages, consumed) = handshake_messages(&flight).unwrap();
        assert_eq!(consumed, flight.len());
        let types: Vec<u8> = messages.iter().map(|m| m.msg_type).collect();
        assert_eq!(types, vec![SERVER_HELLO, CERTIFICATE, SERVER_HELLO_DONE]);
        assert_eq!(&messages[0].body[..2], &TLS12.to_be_bytes());
        assert_eq!(parse_certificate_body(&messages[1].body).unwrap(), chain);
    }
}
