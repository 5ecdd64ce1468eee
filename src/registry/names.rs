//! Names that come from the registry: supplier ids, DNS names, endpoints and
//! e-mail addresses. Each parses strictly and normalises (lower case,
//! international names turned into punycode) so that equal things compare
//! equal in the store.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a name was refused; the text completes "malformed …: ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NameError(String);

fn refuse<T>(why: impl Into<String>) -> Result<T, NameError> {
    Err(NameError(why.into()))
}

macro_rules! string_newtype_serde {
    ($ty:ident) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_string())
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A supplier's stable id: lower-case ASCII letters, digits, `-` and `_`,
/// starting with a letter or digit, at most 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SupplierId(String);

impl SupplierId {
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SupplierId {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, NameError> {
        let starts_well = s
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if s.is_empty() || s.len() > 64 || !starts_well {
            return refuse(
                "an id is 1 to 64 characters and starts with a lower-case letter or digit",
            );
        }
        if let Some(bad) = s
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
        {
            return refuse(format!(
                "{bad:?} is not allowed: use lower-case letters, digits, '-' and '_'"
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for SupplierId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
string_newtype_serde!(SupplierId);

/// A fully qualified DNS name in its ASCII (punycode) form, lower case,
/// without the trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Domain(String);

impl Domain {
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Domain {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, NameError> {
        if s.is_empty() {
            return refuse("the name is empty");
        }
        if s.contains("://") {
            return refuse("write the bare name, without a scheme such as https://");
        }
        if let Some(bad) = s
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || "/:@?#[]\\".contains(*c))
        {
            return refuse(format!("{bad:?} cannot appear in a DNS name"));
        }
        let trimmed = s.strip_suffix('.').unwrap_or(s);
        if trimmed.parse::<IpAddr>().is_ok() {
            return refuse("an IP address is not a domain name");
        }
        let Ok(ascii) = idna::domain_to_ascii_strict(trimmed) else {
            return refuse("not a valid international domain name");
        };
        if ascii.len() > 253 {
            return refuse("longer than 253 characters");
        }
        let labels: Vec<&str> = ascii.split('.').collect();
        if labels.len() < 2 {
            return refuse("a single label; write the full name, e.g. example.com");
        }
        for label in &labels {
            if label.is_empty() {
                return refuse("an empty label (two dots in a row, or a leading dot)");
            }
            if label.len() > 63 {
                return refuse(format!("the label {label:?} is longer than 63 characters"));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return refuse(format!("the label {label:?} starts or ends with '-'"));
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return refuse(format!(
                    "the label {label:?} has characters DNS names cannot carry"
                ));
            }
        }
        if labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            return refuse("the top-level label is all digits");
        }
        if labels.last().is_some_and(|tld| {
            tld.strip_prefix("0x")
                .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
        }) {
            // URL parsers (WHATWG) read `0xa9.0xfe.0xa9.0xfe` as the IPv4
            // address 169.254.169.254: a name must not smuggle one in.
            return refuse(
                "the top-level label is a hexadecimal number, so URL parsers read the name as an IPv4 address; write an address in dotted decimal",
            );
        }
        Ok(Self(ascii))
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
string_newtype_serde!(Domain);

/// The host part of an endpoint: a DNS name or an IP address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Host {
    Name(Domain),
    Ip(IpAddr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name.as_str()),
            Self::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// A TLS endpoint, `host[:port]`; the port defaults to 443.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    pub host: Host,
    pub port: u16,
}

impl Endpoint {
    pub const DEFAULT_PORT: u16 = 443;
}

impl FromStr for Endpoint {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, NameError> {
        if s.contains("://") {
            return refuse("write host[:port], without a scheme such as https://");
        }
        if s.contains('/') {
            return refuse("write host[:port], without a path");
        }
        let (host_text, port_text) = if let Some(rest) = s.strip_prefix('[') {
            let Some((inside, after)) = rest.split_once(']') else {
                return refuse("an IPv6 address opened with '[' is not closed with ']'");
            };
            let port = match after {
                "" => None,
                p => match p.strip_prefix(':') {
                    Some(p) => Some(p),
                    None => return refuse("expected ':port' after ']'"),
                },
            };
            let Ok(ip) = inside.parse::<Ipv6Addr>() else {
                return refuse(format!("{inside:?} is not an IPv6 address"));
            };
            return Ok(Self {
                host: Host::Ip(IpAddr::V6(ip)),
                port: parse_port(port)?,
            });
        } else if s.bytes().filter(|b| *b == b':').count() > 1 {
            return refuse("an IPv6 address must be written in brackets: [2001:db8::1]:443");
        } else {
            match s.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (s, None),
            }
        };
        let port = parse_port(port_text)?;
        let host = match host_text.parse::<IpAddr>() {
            Ok(ip) => Host::Ip(ip),
            Err(_) => Host::Name(host_text.parse()?),
        };
        Ok(Self { host, port })
    }
}

fn parse_port(text: Option<&str>) -> Result<u16, NameError> {
    match text {
        None => Ok(Endpoint::DEFAULT_PORT),
        Some(p) => match p.parse::<u16>() {
            Ok(port) if port > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Ok(port),
            _ => refuse(format!("{p:?} is not a port (1 to 65535)")),
        },
    }
}

impl fmt::Display for Endpoint {
    /// Always `host:port`, the form findings use as their target.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
            host => write!(f, "{host}:{}", self.port),
        }
    }
}
string_newtype_serde!(Endpoint);

/// An e-mail address `local@domain`, with the domain normalised like
/// [`Domain`]. Deliberately stricter than RFC 5322: no quoted local parts,
/// no comments, nothing that could smuggle a header.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EmailAddress {
    local: String,
    domain: Domain,
}

impl EmailAddress {
    #[must_use]
    pub fn domain(&self) -> &Domain {
        &self.domain
    }
}

/// Characters allowed before the '@' besides letters and digits.
const LOCAL_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~.";

impl FromStr for EmailAddress {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, NameError> {
        let Some((local, domain)) = s.rsplit_once('@') else {
            return refuse("an e-mail address needs an '@'");
        };
        if local.is_empty() || local.len() > 64 {
            return refuse("the part before '@' must be 1 to 64 characters");
        }
        if let Some(bad) = local
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || LOCAL_SPECIALS.contains(*c)))
        {
            return refuse(format!("{bad:?} is not allowed before the '@'"));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return refuse("dots before the '@' cannot lead, trail or repeat");
        }
        let domain: Domain = domain
            .parse()
            .map_err(|e: NameError| NameError(format!("after the '@': {e}")))?;
        Ok(Self {
            local: local.to_owned(),
            domain,
        })
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}
string_newtype_serde!(EmailAddress);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_normalise_to_punycode() {
        let d: Domain = "Bücher.Example.".parse().unwrap();
        assert_eq!(d.as_str(), "xn--bcher-kva.example");
        assert!("exa mple.com".parse::<Domain>().is_err());
        assert!("localhost".parse::<Domain>().is_err());
        assert!("a..b".parse::<Domain>().is_err());
        assert!("-a.b".parse::<Domain>().is_err());
        assert!("10.0.0.1".parse::<Domain>().is_err());
        assert!("https://a.b".parse::<Domain>().is_err());
        assert!(format!("{}.com", "a".repeat(64)).parse::<Domain>().is_err());
    }

    #[test]
    fn endpoints() {
        let e: Endpoint = "Portal.ACME.test".parse().unwrap();
        assert_eq!(e.to_string(), "portal.acme.test:443");
        let e: Endpoint = "api.acme.test:8443".parse().unwrap();
        assert_eq!(e.port, 8443);
        let e: Endpoint = "[::1]:8443".parse().unwrap();
        assert_eq!(e.to_string(), "[::1]:8443");
        let e: Endpoint = "127.0.0.1".parse().unwrap();
        assert_eq!(e.to_string(), "127.0.0.1:443");
        for bad in [
            "a.test:0",
            "a.test:70000",
            "a.test:x",
            "https://a.test",
            "a.test/path",
            "::1",
            "[::1",
            "",
        ] {
            assert!(bad.parse::<Endpoint>().is_err(), "{bad} should be refused");
        }
    }

    /// Every spelling of a metadata address a URL parser would read as
    /// one is refused as an endpoint host (dotted decimal is an address,
    /// judged by the probes' rule); IPv6 spellings parse to the address.
    #[test]
    fn endpoints_cannot_smuggle_an_ipv4_address_in_a_name() {
        for bad in [
            "2852039166",
            "2852039166:80",
            "0xa9fea9fe",
            "0xA9FEA9FE:443",
            "0251.0376.0251.0376",
            "0xa9.0xfe.0xa9.0xfe",
            "169.254.43518",
            "169.0xfe.0xa9fe",
            "a.0x",
        ] {
            assert!(bad.parse::<Endpoint>().is_err(), "{bad} should be refused");
        }
        for (text, ip) in [
            ("169.254.169.254:80", "169.254.169.254"),
            ("[::ffff:169.254.169.254]", "::ffff:169.254.169.254"),
            ("[::ffff:a9fe:a9fe]", "::ffff:169.254.169.254"),
            ("[64:ff9b::a9fe:a9fe]:80", "64:ff9b::a9fe:a9fe"),
            ("[fd00:ec2::254]", "fd00:ec2::254"),
        ] {
            let e: Endpoint = text.parse().unwrap();
            assert_eq!(e.host, Host::Ip(ip.parse().unwrap()), "{text}");
        }
        // A hex-looking label is fine anywhere but last.
        assert!("0xa9.acme.test".parse::<Endpoint>().is_ok());
        assert!("acme.0xfg".parse::<Endpoint>().is_ok());
    }

    #[test]
    fn email_addresses() {
        let e: EmailAddress = "Jane.Doe@Bank.Example".parse().unwrap();
        assert_eq!(e.to_string(), "Jane.Doe@bank.example");
        for bad in [
            "jane",
            "@bank.example",
            "jane@",
            "jane doe@bank.example",
            "jane@bank",
            "a..b@bank.example",
            "jane@bank.example\r\nBcc: x@y.z",
            "<jane@bank.example>",
        ] {
            assert!(
                bad.parse::<EmailAddress>().is_err(),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn supplier_ids() {
        assert!("acme-cloud_2".parse::<SupplierId>().is_ok());
        assert!("Acme".parse::<SupplierId>().is_err());
        assert!("-acme".parse::<SupplierId>().is_err());
        assert!("".parse::<SupplierId>().is_err());
    }
}
