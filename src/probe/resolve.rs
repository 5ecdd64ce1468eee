//! Name resolution for the probes, through hickory with the configured
//! nameservers — never the system's getaddrinfo or /etc/hosts — and the
//! rule that keeps probes off internal addresses unless allowed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::{Resolver, TokioResolver};
use serde::{Deserialize, Serialize};

use crate::config::ProbeConfig;

/// Why the resolver could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up DNS resolution: {0}")]
pub struct ResolverError(String);

/// How a lookup failed, told apart as the evidence needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LookupFailure {
    NxDomain,
    NoRecords,
    ServFail,
    Refused,
    Timeout,
    Other { detail: String },
}

impl std::fmt::Display for LookupFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NxDomain => f.write_str("the name does not exist (NXDOMAIN)"),
            Self::NoRecords => f.write_str("the name has no address records"),
            Self::ServFail => f.write_str("the nameserver failed to answer (SERVFAIL)"),
            Self::Refused => f.write_str("the nameserver refused the query (REFUSED)"),
            Self::Timeout => f.write_str("the lookup timed out"),
            Self::Other { detail } => write!(f, "lookup failed: {detail}"),
        }
    }
}

/// A resolver set up from `[probe]`.
#[derive(Clone)]
pub struct DnsResolver {
    inner: TokioResolver,
}

impl DnsResolver {
    /// Uses `probe.nameservers`, or the system's resolver configuration when
    /// there are none. `/etc/hosts` is never consulted.
    ///
    /// # Errors
    /// [`ResolverError`] when the system configuration cannot be read.
    pub fn new(config: &ProbeConfig) -> Result<Self, ResolverError> {
        let mut builder = if config.nameservers.is_empty() {
            TokioResolver::builder_tokio().map_err(|e| ResolverError(e.to_string()))?
        } else {
            let servers = config
                .nameservers
                .iter()
                .map(|addr| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
                })
                .collect();
            Resolver::builder_with_config(
                ResolverConfig::from_name_servers(servers),
                TokioRuntimeProvider::default(),
            )
        };
        let options = builder.options_mut();
        options.timeout = config.timeout.min(Duration::from_secs(5));
        options.attempts = 2;
        options.use_hosts_file = ResolveHosts::Never;
        options.ndots = 0;
        let inner = builder.build().map_err(|e| ResolverError(e.to_string()))?;
        Ok(Self { inner })
    }

    /// The addresses of `host`, IPv4 and IPv6, in the order the server gave.
    ///
    /// # Errors
    /// The [`LookupFailure`], as data for the observation.
    pub async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, LookupFailure> {
        let fqdn = format!("{}.", host.trim_end_matches('.'));
        match self.inner.lookup_ip(fqdn.as_str()).await {
            Ok(lookup) => {
                let ips: Vec<IpAddr> = lookup.iter().collect();
                if ips.is_empty() {
                    Err(LookupFailure::NoRecords)
                } else {
                    Ok(ips)
                }
            }
            Err(e) => Err(classify(&e)),
        }
    }
}

impl DnsResolver {
    /// The records of `record_type` at `name` (absolute; a trailing dot is
    /// optional), in the order the server gave them. CNAMEs on the way are
    /// followed by the resolver and left out of the answer. The lookup is
    /// bounded by the resolver's own timeout and attempts, and guarded once
    /// more here so that a stalled transport cannot hold a probe.
    ///
    /// # Errors
    /// The [`LookupFailure`], with the response code told apart: NXDOMAIN,
    /// SERVFAIL, REFUSED, "the name exists but has no such records", timeout.
    pub async fn records(
        &self,
        name: &str,
        record_type: RecordType,
    ) -> Result<Vec<RData>, LookupFailure> {
        // from_ascii, not from_utf8: labels such as `_dmarc` or `_mta-sts`
        // are not valid IDNA and would be refused by the UTF-8 parser.
        let mut query =
            Name::from_ascii(name.trim_end_matches('.')).map_err(|e| LookupFailure::Other {
                detail: format!("{name:?} is not a valid DNS name: {e}"),
            })?;
        query.set_fqdn(true);
        let options = self.inner.options();
        let guard = options
            .timeout
            .saturating_mul(u32::try_from(options.attempts).unwrap_or(u32::MAX).max(1))
            .saturating_mul(2)
            .saturating_add(Duration::from_secs(1));
        let lookup = match tokio::time::timeout(guard, self.inner.lookup(query, record_type)).await
        {
            Ok(Ok(lookup)) => lookup,
            Ok(Err(e)) => return Err(classify_response(&e)),
            Err(_) => return Err(LookupFailure::Timeout),
        };
        let records: Vec<RData> = lookup
            .answers()
            .iter()
            .filter(|r| r.record_type() == record_type)
            .map(|r| r.data.clone())
            .collect();
        if records.is_empty() {
            Err(LookupFailure::NoRecords)
        } else {
            Ok(records)
        }
    }
}

/// Like [`classify`], and also reads the response code hickory reports as
/// `DnsError::ResponseCode` (how it returns SERVFAIL and REFUSED answers).
#[must_use]
pub fn classify_response(error: &NetError) -> LookupFailure {
    if let NetError::Dns(DnsError::ResponseCode(code)) = error {
        return match code {
            ResponseCode::ServFail => LookupFailure::ServFail,
            ResponseCode::Refused => LookupFailure::Refused,
            ResponseCode::NXDomain => LookupFailure::NxDomain,
            other => LookupFailure::Other {
                detail: format!("the nameserver answered {other}"),
            },
        };
    }
    classify(error)
}

/// hickory reports SERVFAIL much like "no records": read the response code.
#[must_use]
pub fn classify(error: &NetError) -> LookupFailure {
    if error.is_nx_domain() {
        return LookupFailure::NxDomain;
    }
    if let NetError::Dns(DnsError::NoRecordsFound(no)) = error {
        return match no.response_code {
            ResponseCode::ServFail => LookupFailure::ServFail,
            ResponseCode::Refused => LookupFailure::Refused,
            ResponseCode::NXDomain => LookupFailure::NxDomain,
            _ => LookupFailure::NoRecords,
        };
    }
    let text = error.to_string();
    if matches!(error, NetError::Timeout) || text.contains("timed out") {
        LookupFailure::Timeout
    } else if text.contains("ServFail") || text.contains("SERVFAIL") {
        LookupFailure::ServFail
    } else {
        LookupFailure::Other { detail: text }
    }
}

/// Why an address is off limits to probes by default, if it is.
#[must_use]
pub fn private_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4_reason(v4);
            }
            v6_reason(v6)
        }
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(100, 100, 100, 200) {
        Some("a cloud metadata address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a shared (carrier-grade NAT) address")
    } else if ip.is_unspecified() || a == 0 {
        Some("an unspecified address")
    } else if ip.is_multicast() || ip.is_broadcast() {
        Some("a multicast or broadcast address")
    } else {
        None
    }
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments().first().copied().unwrap_or(0);
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        Some("a cloud metadata address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unspecified() {
        Some("an unspecified address")
    } else if first & 0xfe00 == 0xfc00 {
        Some("a private (unique local) address")
    } else if first & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses() {
        for (ip, private) in [
            ("127.0.0.1", true),
            ("10.1.2.3", true),
            ("172.16.0.1", true),
            ("192.168.1.1", true),
            ("169.254.169.254", true),
            ("169.254.1.1", true),
            ("100.64.0.1", true),
            ("0.0.0.0", true),
            ("::1", true),
            ("fd00:ec2::254", true),
            ("fe80::1", true),
            ("::ffff:127.0.0.1", true),
            ("93.184.216.34", false),
            ("2606:2800:220:1::", false),
            ("100.128.0.1", false),
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(private_reason(ip).is_some(), private, "{ip}");
        }
    }
}
