//! Facts about one X.509 certificate, read with x509-parser. Facts only:
//! whether a key is "weak" or a date "too close" is for `checks` to say.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509Certificate};
use x509_parser::public_key::PublicKey;
use x509_parser::signature_algorithm::RsaSsaPssParams;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

/// What a certificate says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertFacts {
    pub subject: String,
    pub issuer: String,
    /// The subject's common name, if any.
    pub common_name: Option<String>,
    /// DNS names from the subjectAltName extension (and, in observations
    /// stored before `ip_sans` existed, its IP addresses too).
    pub sans: Vec<String>,
    /// IP addresses from the subjectAltName extension (iPAddress entries);
    /// `None` in observations stored before the two kinds were kept apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_sans: Option<Vec<std::net::IpAddr>>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub key: KeyFacts,
    /// The algorithm the issuer signed this certificate with, e.g. `sha256WithRSAEncryption`.
    pub signature_algorithm: String,
    pub is_ca: bool,
    /// Issuer and subject are the same name (and the key ids agree, when present).
    pub self_issued: bool,
    pub serial: String,
    pub sha256: String,
}

/// The subject public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyFacts {
    /// `RSA`, `EC`, `DSA`, `Ed25519`, `Ed448` or the algorithm OID.
    pub algorithm: String,
    /// Size in bits (RSA modulus, EC field), when known.
    pub bits: Option<u32>,
}

/// Why a certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unparseable certificate: {0}")]
pub struct CertError(String);

/// Reads the facts from one DER certificate.
///
/// # Errors
/// [`CertError`] when the bytes are not a certificate.
pub fn parse(der: &[u8]) -> Result<CertFacts, CertError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| CertError(e.to_string()))?;
    let validity = cert.validity();
    let not_before = timestamp(validity.not_before.timestamp())?;
    let not_after = timestamp(validity.not_after.timestamp())?;
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned);
    let mut sans = Vec::new();
    let mut ip_sans = Vec::new();
    let mut ski = None;
    let mut aki = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for name in &san.general_names {
                    match name {
                        GeneralName::DNSName(d) => sans.push((*d).to_owned()),
                        GeneralName::IPAddress(bytes) => {
                            if let Some(ip) = ip_from_bytes(bytes) {
                                ip_sans.push(ip);
                            }
                        }
                        _ => {}
                    }
                }
            }
            ParsedExtension::SubjectKeyIdentifier(id) => ski = Some(id.0.to_vec()),
            ParsedExtension::AuthorityKeyIdentifier(id) => {
                aki = id.key_identifier.as_ref().map(|k| k.0.to_vec());
            }
            _ => {}
        }
    }
    let subject = cert.subject().to_string();
    let issuer = cert.issuer().to_string();
    let keys_agree = match (&ski, &aki) {
        (Some(s), Some(a)) => s == a,
        _ => true,
    };
    Ok(CertFacts {
        self_issued: cert.subject().as_raw() == cert.issuer().as_raw() && keys_agree,
        subject,
        issuer,
        common_name,
        sans,
        ip_sans: Some(ip_sans),
        not_before,
        not_after,
        key: key_facts(&cert),
        signature_algorithm: signature_name(&cert.signature_algorithm),
        is_ca: cert.is_ca(),
        serial: cert.raw_serial_as_string(),
        sha256: crate::store::sha256_hex(der),
    })
}

/// The digests a DANE TLSA record is matched against (RFC 6698 2.1.2,
/// 2.1.3): of the whole certificate and of its `SubjectPublicKeyInfo`,
/// SHA-256 and SHA-512, in lowercase hex. An exact match (matching type 0)
/// is judged by the SHA-512 of the record's data, so no DER is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaneDigests {
    /// Position in the chain as presented; 0 is the leaf.
    pub position: usize,
    pub cert_sha256: String,
    pub cert_sha512: String,
    pub spki_sha256: String,
    pub spki_sha512: String,
}

/// The DANE digests of one presented certificate; `None` when it cannot be
/// parsed (its SPKI cannot be found).
#[must_use]
pub fn dane_digests(position: usize, der: &[u8]) -> Option<DaneDigests> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let spki = cert.public_key().raw;
    Some(DaneDigests {
        position,
        cert_sha256: digest_hex(&ring::digest::SHA256, der),
        cert_sha512: digest_hex(&ring::digest::SHA512, der),
        spki_sha256: digest_hex(&ring::digest::SHA256, spki),
        spki_sha512: digest_hex(&ring::digest::SHA512, spki),
    })
}

/// `bytes` digested with `algorithm`, in lowercase hex.
#[must_use]
pub fn digest_hex(algorithm: &'static ring::digest::Algorithm, bytes: &[u8]) -> String {
    crate::store::hex(ring::digest::digest(algorithm, bytes).as_ref())
}

fn timestamp(secs: i64) -> Result<DateTime<Utc>, CertError> {
    DateTime::from_timestamp(secs, 0)
        .ok_or_else(|| CertError(format!("date out of range ({secs})")))
}

fn ip_from_bytes(bytes: &[u8]) -> Option<std::net::IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(std::net::IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(std::net::IpAddr::from),
        _ => None,
    }
}

fn key_facts(cert: &X509Certificate<'_>) -> KeyFacts {
    spki_facts(cert.public_key())
}

fn spki_facts(spki: &SubjectPublicKeyInfo<'_>) -> KeyFacts {
    let oid = spki.algorithm.algorithm.to_id_string();
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => KeyFacts {
            algorithm: "RSA".to_owned(),
            bits: Some(significant_bits(rsa.modulus)),
        },
        Ok(PublicKey::EC(point)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| oid.to_id_string());
            KeyFacts {
                algorithm: "EC".to_owned(),
                bits: ec_bits(curve.as_deref(), point.data()),
            }
        }
        Ok(PublicKey::DSA(_)) => KeyFacts {
            algorithm: "DSA".to_owned(),
            bits: None,
        },
        _ => KeyFacts {
            algorithm: match oid.as_str() {
                "1.3.101.112" => "Ed25519".to_owned(),
                "1.3.101.113" => "Ed448".to_owned(),
                "1.2.840.10040.4.1" => "DSA".to_owned(),
                _ => oid,
            },
            bits: None,
        },
    }
}

/// The size of an EC key: the curve's, from its OID in the algorithm
/// parameters; for a curve not named here, the field size read off the
/// point (uncompressed `04 || X || Y`, compressed `02|03 || X`).
fn ec_bits(curve: Option<&str>, point: &[u8]) -> Option<u32> {
    match curve {
        Some("1.2.840.10045.3.1.7" | "1.3.132.0.10") => Some(256), // P-256, secp256k1
        Some("1.3.132.0.34") => Some(384),                         // P-384
        Some("1.3.132.0.35") => Some(521),                         // P-521
        _ => {
            let coordinates = match point.first() {
                Some(0x02 | 0x03) => point.len().saturating_sub(1),
                Some(0x04) => point.len().saturating_sub(1) / 2,
                _ => return None,
            };
            u32::try_from(coordinates * 8).ok().filter(|bits| *bits > 0)
        }
    }
}

/// Bit length of a big-endian unsigned integer.
fn significant_bits(bytes: &[u8]) -> u32 {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    match trimmed.first() {
        None => 0,
        Some(first) => {
            let len = u32::try_from(trimmed.len()).unwrap_or(u32::MAX / 8);
            (len - 1) * 8 + (8 - first.leading_zeros())
        }
    }
}

/// Names for the signature algorithms that matter; the OID otherwise. An
/// RSASSA-PSS signature is named with its hash, read from the RFC 4055
/// parameters, whose default is SHA-1 (`RSASSA-PSS with SHA-1`).
fn signature_name(algorithm: &AlgorithmIdentifier<'_>) -> String {
    let oid = algorithm.algorithm.to_id_string();
    if oid == "1.2.840.113549.1.1.10" {
        return match algorithm.parameters.as_ref().map(RsaSsaPssParams::try_from) {
            Some(Ok(params)) => format!(
                "RSASSA-PSS with {}",
                hash_name(&params.hash_algorithm_oid().to_id_string())
            ),
            // RFC 4055 §3.1: the parameters must be present.
            _ => "RSASSA-PSS without valid parameters".to_owned(),
        };
    }
    oid_signature_name(&oid)
}

fn hash_name(oid: &str) -> String {
    match oid {
        "1.3.14.3.2.26" => "SHA-1",
        "2.16.840.1.101.3.4.2.1" => "SHA-256",
        "2.16.840.1.101.3.4.2.2" => "SHA-384",
        "2.16.840.1.101.3.4.2.3" => "SHA-512",
        "2.16.840.1.101.3.4.2.4" => "SHA-224",
        "1.2.840.113549.2.5" => "MD5",
        other => other,
    }
    .to_owned()
}

fn oid_signature_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.2" => "md2WithRSAEncryption",
        "1.2.840.113549.1.1.3" => "md4WithRSAEncryption",
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.14" => "sha224WithRSAEncryption",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.2.840.10040.4.3" => "dsa-with-SHA1",
        // The OIW Security SIG arc (1.3.14.3.2), older names for SHA-1,
        // SHA-0 and MD5 signatures that some toolkits still write.
        "1.3.14.3.2.3" => "md5WithRSA (OIW 1.3.14.3.2.3)",
        "1.3.14.3.2.13" => "dsaWithSHA (SHA-0, OIW 1.3.14.3.2.13)",
        "1.3.14.3.2.15" => "shaWithRSASignature (SHA-0, OIW 1.3.14.3.2.15)",
        "1.3.14.3.2.26" => "sha1 (OIW 1.3.14.3.2.26, a hash named as a signature)",
        "1.3.14.3.2.27" => "dsaWithSHA1 (OIW 1.3.14.3.2.27)",
        "1.3.14.3.2.29" => "sha1WithRSASignature (OIW 1.3.14.3.2.29)",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        other => other,
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_lengths() {
        assert_eq!(significant_bits(&[0x00, 0x80, 0, 0]), 24);
        assert_eq!(significant_bits(&[0x01, 0xff]), 9);
        assert_eq!(significant_bits(&[0; 4]), 0);
        let mut modulus = vec![0x00];
        modulus.extend(std::iter::repeat_n(0xff, 128));
        assert_eq!(significant_bits(&modulus), 1024);
    }

    /// A DER `SubjectPublicKeyInfo` for an EC key on the curve whose OID
    /// content bytes are `curve_oid`, with the point `point`.
    fn ec_spki(curve_oid: &[u8], point: &[u8]) -> Vec<u8> {
        fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
            let len = u8::try_from(body.len()).unwrap();
            let mut out = if len < 0x80 {
                vec![tag, len]
            } else {
                vec![tag, 0x81, len]
            };
            out.extend_from_slice(body);
            out
        }
        // id-ecPublicKey 1.2.840.10045.2.1
        let mut algorithm = tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]);
        algorithm.extend(tlv(0x06, curve_oid));
        let mut key = vec![0];
        key.extend_from_slice(point);
        let mut body = tlv(0x30, &algorithm);
        body.extend(tlv(0x03, &key));
        tlv(0x30, &body)
    }

    fn ec_facts(curve_oid: &[u8], point: &[u8]) -> KeyFacts {
        let der = ec_spki(curve_oid, point);
        let (_, spki) = SubjectPublicKeyInfo::from_der(&der).unwrap();
        spki_facts(&spki)
    }

    const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
    const P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
    const SECP256K1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x0a];
    /// brainpoolP256r1 1.3.36.3.3.2.8.1.1.7: not in the table.
    const BRAINPOOL_P256: &[u8] = &[0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07];

    fn point(prefix: u8, len: usize) -> Vec<u8> {
        let mut p = vec![prefix];
        p.extend(std::iter::repeat_n(0x11, len - 1));
        p
    }

    #[test]
    fn ec_key_sizes_come_from_the_curve() {
        let facts = ec_facts(P256, &point(0x02, 33));
        assert_eq!(facts.algorithm, "EC");
        assert_eq!(
            facts.bits,
            Some(256),
            "a compressed P-256 point is 256 bits"
        );
        assert_eq!(ec_facts(P256, &point(0x04, 65)).bits, Some(256));
        assert_eq!(ec_facts(P384, &point(0x03, 49)).bits, Some(384));
        assert_eq!(ec_facts(P521, &point(0x04, 133)).bits, Some(521));
        assert_eq!(ec_facts(SECP256K1, &point(0x02, 33)).bits, Some(256));
        // Unknown curves: the point's field size, compressed or not.
        assert_eq!(ec_facts(BRAINPOOL_P256, &point(0x04, 65)).bits, Some(256));
        assert_eq!(ec_facts(BRAINPOOL_P256, &point(0x03, 33)).bits, Some(256));
        assert_eq!(ec_bits(None, &point(0x02, 25)), Some(192));
        assert_eq!(ec_bits(None, &[]), None);
        assert_eq!(ec_bits(None, &[0x04]), None);
    }

    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag, u8::try_from(body.len()).unwrap()];
        out.extend_from_slice(body);
        out
    }

    /// The name given to the DER `AlgorithmIdentifier` `SEQUENCE { oid, rest }`.
    fn name_of(oid: &[u8], rest: &[u8]) -> String {
        let mut body = tlv(0x06, oid);
        body.extend_from_slice(rest);
        let der = tlv(0x30, &body);
        let (_, algorithm) = AlgorithmIdentifier::from_der(&der).unwrap();
        signature_name(&algorithm)
    }

    const PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
    const SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
    const SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];

    /// RFC 4055 §3.1: RSASSA-PSS-params whose hashAlgorithm defaults to
    /// SHA-1; the hash is what the signature is judged by.
    #[test]
    fn pss_signatures_are_named_with_their_hash() {
        // Empty parameters: every default, SHA-1.
        assert_eq!(name_of(PSS, &tlv(0x30, &[])), "RSASSA-PSS with SHA-1");
        // hashAlgorithm [0] { sha1 } explicitly.
        let sha1 = tlv(0xa0, &tlv(0x30, &tlv(0x06, SHA1)));
        assert_eq!(name_of(PSS, &tlv(0x30, &sha1)), "RSASSA-PSS with SHA-1");
        let mut sha256_id = tlv(0x06, SHA256);
        sha256_id.extend([0x05, 0x00]);
        let sha256 = tlv(0xa0, &tlv(0x30, &sha256_id));
        assert_eq!(name_of(PSS, &tlv(0x30, &sha256)), "RSASSA-PSS with SHA-256");
        assert_eq!(name_of(PSS, &[]), "RSASSA-PSS without valid parameters");
    }

    /// The OIW Security SIG names of SHA-1 and MD5 signatures.
    #[test]
    fn oiw_signature_oids_are_named() {
        assert_eq!(
            name_of(&[0x2b, 0x0e, 0x03, 0x02, 0x1d], &[0x05, 0x00]),
            "sha1WithRSASignature (OIW 1.3.14.3.2.29)"
        );
        assert!(name_of(SHA1, &[]).starts_with("sha1 (OIW 1.3.14.3.2.26"));
        assert_eq!(
            name_of(
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05],
                &[0x05, 0x00]
            ),
            "sha1WithRSAEncryption"
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse(b"not a certificate").is_err());
        assert!(parse(&[]).is_err());
        assert!(parse(&[0x30, 0x82, 0xff, 0xff]).is_err());
    }
}
