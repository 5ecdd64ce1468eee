//! `probe.trust_anchor`: the DNSSEC trust anchor file — DS or DNSKEY
//! records of one zone (the root, or a test world's `test.`) in zone-file
//! presentation format (RFC 4034 §2.2 and §5.3), one record a line.
//!
//! Read and checked at load time, record by record, with the line of each
//! problem. Depends on nothing but `files` (the read with its size cap).

use std::path::{Path, PathBuf};

use super::files::{FileError, read_regular};

/// A trust anchor file larger than this is refused.
pub const MAX_ANCHOR_BYTES: u64 = 64 * 1024;

/// The trust anchor of DNSSEC validation: the records a validator trusts
/// without proof (RFC 4033 §3, "trust anchor").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustAnchor {
    /// Where it was read from.
    pub path: PathBuf,
    /// The zone it is the anchor of (absolute, lower-case, `.` for the root).
    pub zone: String,
    pub records: Vec<AnchorRecord>,
}

/// One record of the anchor file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnchorRecord {
    /// A DS record (RFC 4034 §5): a digest of the zone's key.
    Ds {
        key_tag: u16,
        algorithm: u8,
        digest_type: u8,
        digest: Vec<u8>,
    },
    /// A DNSKEY record (RFC 4034 §2): the zone's key itself.
    Dnskey {
        flags: u16,
        protocol: u8,
        algorithm: u8,
        public_key: Vec<u8>,
    },
}

/// Why the anchor file cannot be used; the text names the file and line.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{}: not UTF-8 text", path.display())]
    NotText { path: PathBuf },
    #[error("{}: no DS or DNSKEY record in this trust_anchor file", path.display())]
    Empty { path: PathBuf },
    #[error("{}:{line}: {why}", path.display())]
    Record {
        path: PathBuf,
        line: usize,
        why: RecordError,
    },
    #[error(
        "{}:{line}: the record is for {owner}, the others for {zone}: one file anchors one zone",
        path.display()
    )]
    MixedZones {
        path: PathBuf,
        line: usize,
        owner: String,
        zone: String,
    },
}

/// What is wrong with one record of the anchor file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("an empty record")]
    Empty,
    #[error("the owner {0:?} must be an absolute name ending in a dot (\".\" for the root)")]
    OwnerNotAbsolute(String),
    #[error("the owner {0:?} is not a valid domain name")]
    OwnerInvalid(String),
    #[error("no record type: write DS or DNSKEY")]
    NoType,
    #[error("the {name} is missing")]
    Missing { name: &'static str },
    #[error("the {name} {text:?} is not a number from 0 to {max}")]
    NotANumber {
        name: &'static str,
        text: String,
        max: u32,
    },
    #[error("the digest {0:?} is not hexadecimal with an even number of digits")]
    DigestNotHex(String),
    #[error("the digest is missing")]
    DigestMissing,
    #[error("the protocol is {0}: a DNSKEY's protocol is always 3 (RFC 4034 §2.1.2)")]
    Protocol(u32),
    #[error("the public key is missing or not valid base64")]
    PublicKey,
    #[error("a {0} record: a trust anchor holds DS or DNSKEY records only")]
    OtherType(String),
    #[error("an opening parenthesis is never closed")]
    Unclosed,
}

/// Reads and checks the trust anchor file at `path`.
///
/// # Errors
/// [`AnchorError`] with the line of the first malformed record.
pub fn read_anchor(path: &Path) -> Result<TrustAnchor, AnchorError> {
    let bytes = read_regular(
        path,
        MAX_ANCHOR_BYTES,
        "give the path of a file of DS or DNSKEY records",
    )?
    .bytes;
    let text = String::from_utf8(bytes).map_err(|_| AnchorError::NotText {
        path: path.to_owned(),
    })?;
    parse_anchor(path, &text)
}

/// Parses anchor records from `text` (`path` only names the file in errors).
///
/// # Errors
/// [`AnchorError`] with the line of the first malformed record.
pub fn parse_anchor(path: &Path, text: &str) -> Result<TrustAnchor, AnchorError> {
    let mut zone: Option<String> = None;
    let mut records = Vec::new();
    let mut pending = String::new();
    let mut start = 0;
    let mut depth = 0_usize;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.split(';').next().unwrap_or_default();
        if depth == 0 {
            start = line;
        }
        for c in content.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        pending.push(' ');
        pending.push_str(&content.replace(['(', ')'], " "));
        if depth > 0 {
            continue;
        }
        let fields: Vec<&str> = pending.split_whitespace().collect();
        if !fields.is_empty() {
            let err = |why: RecordError| AnchorError::Record {
                path: path.to_owned(),
                line: start,
                why,
            };
            let (owner, record) = parse_record(&fields).map_err(err)?;
            match &zone {
                Some(z) if *z != owner => {
                    return Err(AnchorError::MixedZones {
                        path: path.to_owned(),
                        line: start,
                        owner,
                        zone: z.clone(),
                    });
                }
                Some(_) => {}
                None => zone = Some(owner),
            }
            records.push(record);
        }
        pending.clear();
    }
    if depth > 0 {
        return Err(AnchorError::Record {
            path: path.to_owned(),
            line: start,
            why: RecordError::Unclosed,
        });
    }
    match zone {
        Some(zone) => Ok(TrustAnchor {
            path: path.to_owned(),
            zone,
            records,
        }),
        None => Err(AnchorError::Empty {
            path: path.to_owned(),
        }),
    }
}

/// One record: `owner [TTL] [IN] DS|DNSKEY rdata…` (TTL and class in
/// either order, as RFC 1035 §5.1 allows).
fn parse_record(fields: &[&str]) -> Result<(String, AnchorRecord), RecordError> {
    let [owner, rest @ ..] = fields else {
        return Err(RecordError::Empty);
    };
    if !owner.ends_with('.') {
        return Err(RecordError::OwnerNotAbsolute((*owner).to_owned()));
    }
    // RFC 1035 §2.3.4: at most 255 octets, labels of at most 63.
    if owner.len() > 254
        || (owner.contains("..") && *owner != ".")
        || owner.split('.').any(|label| label.len() > 63)
    {
        return Err(RecordError::OwnerInvalid((*owner).to_owned()));
    }
    let mut rest = rest;
    // TTL and class, each optional, in either order.
    for _ in 0..2 {
        match rest.split_first() {
            Some((first, tail))
                if first.eq_ignore_ascii_case("IN")
                    || first.bytes().all(|b| b.is_ascii_digit()) =>
            {
                rest = tail;
            }
            _ => {}
        }
    }
    let Some((kind, rdata)) = rest.split_first() else {
        return Err(RecordError::NoType);
    };
    let owner = owner.to_ascii_lowercase();
    let number = |name: &'static str, text: Option<&&str>, max: u32| {
        let text = text.ok_or(RecordError::Missing { name })?;
        text.parse::<u32>()
            .ok()
            .filter(|v| *v <= max)
            .ok_or_else(|| RecordError::NotANumber {
                name,
                text: (*text).to_owned(),
                max,
            })
    };
    if kind.eq_ignore_ascii_case("DS") {
        let key_tag = number("key tag", rdata.first(), 65_535)?;
        let algorithm = number("algorithm", rdata.get(1), 255)?;
        let digest_type = number("digest type", rdata.get(2), 255)?;
        let hex: String = rdata.get(3..).unwrap_or_default().concat();
        let digest = decode_hex(&hex).ok_or_else(|| RecordError::DigestNotHex(hex.clone()))?;
        if digest.is_empty() {
            return Err(RecordError::DigestMissing);
        }
        Ok((
            owner,
            AnchorRecord::Ds {
                key_tag: u16::try_from(key_tag).unwrap_or_default(),
                algorithm: u8::try_from(algorithm).unwrap_or_default(),
                digest_type: u8::try_from(digest_type).unwrap_or_default(),
                digest,
            },
        ))
    } else if kind.eq_ignore_ascii_case("DNSKEY") {
        let flags = number("flags", rdata.first(), 65_535)?;
        let protocol = number("protocol", rdata.get(1), 255)?;
        if protocol != 3 {
            return Err(RecordError::Protocol(protocol));
        }
        let algorithm = number("algorithm", rdata.get(2), 255)?;
        let text: String = rdata.get(3..).unwrap_or_default().concat();
        let public_key = decode_base64(&text)
            .filter(|k| !k.is_empty())
            .ok_or(RecordError::PublicKey)?;
        Ok((
            owner,
            AnchorRecord::Dnskey {
                flags: u16::try_from(flags).unwrap_or_default(),
                protocol: u8::try_from(protocol).unwrap_or_default(),
                algorithm: u8::try_from(algorithm).unwrap_or_default(),
                public_key,
            },
        ))
    } else {
        Err(RecordError::OtherType((*kind).to_owned()))
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

/// Standard base64 with padding (RFC 4648 §4), as DNSKEY records are written.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let trimmed = text.trim_end_matches('=');
    if !text.len().is_multiple_of(4) || text.len() - trimmed.len() > 2 {
        return None;
    }
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    let mut acc = 0_u32;
    let mut bits = 0;
    for c in trimmed.bytes() {
        acc = (acc << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TrustAnchor, AnchorError> {
        parse_anchor(Path::new("anchor.txt"), text)
    }

    #[test]
    fn the_root_anchor_as_iana_publishes_it() {
        let anchor = parse(
            "; root-anchors\n. 172800 IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n",
        )
        .unwrap();
        assert_eq!(anchor.zone, ".");
        let [
            AnchorRecord::Ds {
                key_tag,
                algorithm,
                digest_type,
                digest,
            },
        ] = anchor.records.as_slice()
        else {
            panic!("{anchor:?}");
        };
        assert_eq!((*key_tag, *algorithm, *digest_type), (20326, 8, 2));
        assert_eq!(digest.len(), 32);
    }

    #[test]
    fn dnskey_records_across_parentheses() {
        let anchor = parse("test. IN DNSKEY 257 3 13 (\n  AQID\n  BA== ) ; comment\n").unwrap();
        assert_eq!(anchor.zone, "test.");
        assert_eq!(
            anchor.records,
            [AnchorRecord::Dnskey {
                flags: 257,
                protocol: 3,
                algorithm: 13,
                public_key: vec![1, 2, 3, 4],
            }]
        );
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("test. DS 1 13 2 ABCD\n\ntest. DS 1 13 2 XYZ\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "anchor.txt:3: the digest \"XYZ\" is not hexadecimal with an even number of digits"
        );
        let e = parse("test. A 127.0.0.1\n").unwrap_err();
        assert!(e.to_string().contains("DS or DNSKEY records only"), "{e}");
        let e = parse("test DS 1 13 2 ABCD\n").unwrap_err();
        assert!(e.to_string().contains("absolute name"), "{e}");
        let e = parse("test. DS 1 13 2 ABCD\nexample. DS 1 13 2 ABCD\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("anchor.txt:2: the record is for example."),
            "{e}"
        );
        let e = parse("; nothing\n").unwrap_err();
        assert!(e.to_string().contains("no DS or DNSKEY record"), "{e}");
        let e = parse("test. DNSKEY 257 4 13 AQID\n").unwrap_err();
        assert!(e.to_string().contains("always 3"), "{e}");
        let e = parse("test. DNSKEY 257 3 13 (AQID\n").unwrap_err();
        assert!(e.to_string().contains("never closed"), "{e}");
        let e = parse("test. DS 70000 13 2 AB\n").unwrap_err();
        assert!(e.to_string().contains("key tag"), "{e}");
        let long = format!("{}.test. DS 1 13 2 ABCD\n", "a".repeat(64));
        let e = parse(&long).unwrap_err();
        assert!(e.to_string().contains("not a valid domain name"), "{e}");
    }
}
