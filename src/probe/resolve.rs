//! Name resolution for the probes, through hickory with the configured
//! nameservers — never the system's getaddrinfo or /etc/hosts — and the
//! rule that keeps probes off internal addresses unless allowed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ProtocolConfig, ResolveHosts, ResolverConfig,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::op::{Edns, Message, Query};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use hickory_resolver::{Resolver, TokioResolver};
use serde::{Deserialize, Serialize};

use crate::config::{ProbeConfig, TrustAnchor};

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
    /// An answer came, but could not be decoded (over UDP and TCP alike):
    /// the name server answers, badly.
    Undecodable {
        detail: String,
    },
    Other {
        detail: String,
    },
}

impl std::fmt::Display for LookupFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NxDomain => f.write_str("the name does not exist (NXDOMAIN)"),
            Self::NoRecords => f.write_str("the name has no address records"),
            Self::ServFail => f.write_str("the nameserver failed to answer (SERVFAIL)"),
            Self::Refused => f.write_str("the nameserver refused the query (REFUSED)"),
            Self::Timeout => f.write_str("the lookup timed out"),
            Self::Undecodable { detail } => {
                write!(f, "the answer cannot be decoded ({detail})")
            }
            Self::Other { detail } => write!(f, "lookup failed: {detail}"),
        }
    }
}

/// A resolver set up from `[probe]`.
#[derive(Clone)]
pub struct DnsResolver {
    inner: TokioResolver,
    /// The same name servers over TCP alone: asked again when an answer
    /// over UDP could not be read (a large record sent in one datagram
    /// without the truncation bit is dropped, or fails to decode).
    tcp: TokioResolver,
    /// `probe.timeout`, for the steps of a domain probe that are not DNS
    /// lookups (the MTA-STS policy fetch).
    probe_timeout: Duration,
    /// The name servers' addresses, for the DNSSEC queries sent by hand
    /// ([`DnsResolver::signed`]): hickory's resolver hands back neither
    /// RRSIGs nor the authority section.
    servers: Vec<SocketAddr>,
    /// The DNSSEC trust anchor (`probe.trust_anchor`), `None` for the IANA root's.
    trust_anchor: Option<TrustAnchor>,
    /// Answers to the DNSSEC queries sent by hand, shared by every domain
    /// of a run (the anchor zone's keys, a shared parent's DS …) for their
    /// TTL; one query in flight per name and type.
    signed_cache: std::sync::Arc<SignedCache>,
}

/// How long a signed answer is kept at most, whatever its TTL.
const SIGNED_CACHE_MAX_TTL: Duration = Duration::from_mins(5);
/// How long an answer without records (NXDOMAIN, no such type) is kept.
const SIGNED_CACHE_NEGATIVE_TTL: Duration = Duration::from_secs(30);
/// Entries kept at most; past it, expired ones are dropped, then all.
const SIGNED_CACHE_ENTRIES: usize = 2_048;

type SignedCell = std::sync::Arc<tokio::sync::OnceCell<Result<SignedAnswer, LookupFailure>>>;

/// Answers of [`DnsResolver::signed`] by (lower-case name, type).
#[derive(Debug, Default)]
struct SignedCache {
    entries: std::sync::Mutex<
        std::collections::HashMap<(Name, RecordType), (std::time::Instant, SignedCell)>,
    >,
}

impl SignedCache {
    /// The cell for `key`: a fresh one when there is none or it expired.
    fn cell(&self, key: &(Name, RecordType)) -> SignedCell {
        let now = std::time::Instant::now();
        let Ok(mut entries) = self.entries.lock() else {
            return SignedCell::default();
        };
        if let Some((expires, cell)) = entries.get(key)
            && *expires > now
        {
            return cell.clone();
        }
        if entries.len() >= SIGNED_CACHE_ENTRIES {
            entries.retain(|_, (expires, _)| *expires > now);
            if entries.len() >= SIGNED_CACHE_ENTRIES {
                entries.clear();
            }
        }
        let cell = SignedCell::default();
        // Until answered, the entry lives for one query's worth of time.
        entries.insert(key.clone(), (now + SIGNED_CACHE_MAX_TTL, cell.clone()));
        cell
    }

    /// Sets how long `key`'s answer is kept: its records' TTL (capped), a
    /// short while for a negative answer, not at all for a failure.
    fn settle(&self, key: &(Name, RecordType), cell: &SignedCell) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let Some((expires, held)) = entries.get_mut(key) else {
            return;
        };
        if !std::sync::Arc::ptr_eq(held, cell) {
            return;
        }
        match cell.get() {
            Some(Ok(answer)) => {
                let ttl = answer
                    .records
                    .iter()
                    .chain(&answer.rrsigs)
                    .map(|r| Duration::from_secs(u64::from(r.ttl)))
                    .min()
                    .unwrap_or(SIGNED_CACHE_NEGATIVE_TTL)
                    .min(SIGNED_CACHE_MAX_TTL);
                *expires = std::time::Instant::now() + ttl;
            }
            Some(Err(_)) | None => {
                entries.remove(key);
            }
        }
    }
}

/// What a hand-sent query with the DO bit returned: the records of the
/// asked type at the name, the RRSIGs over them, and the owner of the SOA
/// in the authority section (the zone apex of a negative answer).
#[derive(Debug, Clone, Default)]
pub struct SignedAnswer {
    pub records: Vec<Record>,
    pub rrsigs: Vec<Record>,
    pub authority_soa: Option<Name>,
    /// Whether the answer was an NXDOMAIN.
    pub nxdomain: bool,
}

impl DnsResolver {
    /// Uses `probe.nameservers`, or the system's resolver configuration when
    /// there are none. `/etc/hosts` is never consulted.
    ///
    /// # Errors
    /// [`ResolverError`] when the system configuration cannot be read.
    pub fn new(config: &ProbeConfig) -> Result<Self, ResolverError> {
        let servers: Vec<NameServerConfig> = if config.nameservers.is_empty() {
            hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| ResolverError(e.to_string()))?
                .0
                .name_servers()
                .to_vec()
        } else {
            config
                .nameservers
                .iter()
                .map(|addr| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
                })
                .collect()
        };
        let tcp_only: Vec<NameServerConfig> = servers
            .iter()
            .cloned()
            .map(|mut server| {
                server
                    .connections
                    .retain(|c| matches!(c.protocol, ProtocolConfig::Tcp));
                server
            })
            .filter(|server| !server.connections.is_empty())
            .collect();
        let build = |servers: Vec<NameServerConfig>, attempts: usize| {
            let mut builder = Resolver::builder_with_config(
                ResolverConfig::from_name_servers(servers),
                TokioRuntimeProvider::default(),
            );
            let options = builder.options_mut();
            options.timeout = config.timeout.min(Duration::from_secs(5));
            options.attempts = attempts;
            options.use_hosts_file = ResolveHosts::Never;
            options.ndots = 0;
            // The answers many suppliers share (SPF includes, parents, name
            // servers) stay; a large registry's own answers do not pile up.
            options.cache_size = 2_048;
            builder.build().map_err(|e| ResolverError(e.to_string()))
        };
        let addresses: Vec<SocketAddr> = servers
            .iter()
            .filter_map(|server| {
                server
                    .connections
                    .first()
                    .map(|c| SocketAddr::new(server.ip, c.port))
            })
            .collect();
        Ok(Self {
            inner: build(servers, 2)?,
            tcp: build(tcp_only, 1)?,
            probe_timeout: config.timeout,
            servers: addresses,
            trust_anchor: config.trust_anchor.clone(),
            signed_cache: std::sync::Arc::default(),
        })
    }

    /// The configured trust anchor (`probe.trust_anchor`), if any.
    #[must_use]
    pub fn trust_anchor(&self) -> Option<&TrustAnchor> {
        self.trust_anchor.as_ref()
    }

    /// The probe timeout (`probe.timeout`) this resolver was set up with.
    #[must_use]
    pub fn probe_timeout(&self) -> Duration {
        self.probe_timeout
    }

    /// The addresses of `host`, IPv4 and IPv6, in the order the server gave.
    /// Bounded like [`DnsResolver::records`]: the resolver's own timeout and
    /// attempts, and the same guard once more.
    ///
    /// # Errors
    /// The [`LookupFailure`], as data for the observation.
    pub async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, LookupFailure> {
        let fqdn = format!("{}.", host.trim_end_matches('.'));
        match tokio::time::timeout(self.guard(), self.inner.lookup_ip(fqdn.as_str())).await {
            Ok(Ok(lookup)) => {
                let ips: Vec<IpAddr> = lookup.iter().collect();
                if ips.is_empty() {
                    Err(LookupFailure::NoRecords)
                } else {
                    Ok(ips)
                }
            }
            Ok(Err(e)) => Err(classify_response(&e)),
            Err(_) => Err(LookupFailure::Timeout),
        }
    }

    /// How long one lookup may take in all: every attempt timing out twice
    /// over (UDP, then TCP), plus a second. A stalled transport cannot hold
    /// a probe past it.
    fn guard(&self) -> Duration {
        let options = self.inner.options();
        options
            .timeout
            .saturating_mul(u32::try_from(options.attempts).unwrap_or(u32::MAX).max(1))
            .saturating_mul(2)
            .saturating_add(Duration::from_secs(1))
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
        let first =
            match tokio::time::timeout(self.guard(), self.inner.lookup(query.clone(), record_type))
                .await
            {
                Ok(Ok(lookup)) => Ok(lookup),
                Ok(Err(e)) => Err(classify_response(&e)),
                Err(_) => Err(LookupFailure::Timeout),
            };
        let lookup = match first {
            Ok(lookup) => lookup,
            // An answer that could not be read over UDP — dropped as
            // undecodable (a timeout) or failing to decode — is asked for
            // again over TCP, once, where a large answer arrives whole.
            Err(first @ (LookupFailure::Timeout | LookupFailure::Undecodable { .. })) => {
                match tokio::time::timeout(self.guard(), self.tcp.lookup(query, record_type)).await
                {
                    Ok(Ok(lookup)) => lookup,
                    // An answer over TCP says more than the UDP failure…
                    Ok(Err(e)) if !matches!(classify_response(&e), LookupFailure::Other { .. }) => {
                        return Err(classify_response(&e));
                    }
                    // …no answer over TCP either (not listening, timed
                    // out) leaves the first failure as it was.
                    _ => return Err(first),
                }
            }
            Err(failure) => return Err(failure),
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

/// Largest answer accepted over UDP or TCP for a DNSSEC query (a 4096-bit
/// key set with its signatures fits in a few kilobytes).
const MAX_SIGNED_ANSWER: usize = 65_535;

impl DnsResolver {
    /// Sends one query for `record_type` at `name` (absolute) with the DO
    /// and CD bits set (RFC 4035 §3.2.1, §3.2.2) to the configured name
    /// servers in turn, over UDP and again over TCP when the answer is
    /// truncated, and returns the records with their RRSIGs. CD asks a
    /// validating recursive resolver for the data even when it finds it
    /// bogus, so that the probe can say why. Each exchange is bounded by
    /// the resolver's timeout.
    ///
    /// # Errors
    /// The [`LookupFailure`] (SERVFAIL, REFUSED, timeout …); NXDOMAIN and
    /// "no records" are answers ([`SignedAnswer::nxdomain`], empty records).
    pub async fn signed(
        &self,
        name: &Name,
        record_type: RecordType,
    ) -> Result<SignedAnswer, LookupFailure> {
        let key = (name.to_lowercase(), record_type);
        let cell = self.signed_cache.cell(&key);
        let answer = cell
            .get_or_init(|| self.signed_uncached(name, record_type))
            .await
            .clone();
        self.signed_cache.settle(&key, &cell);
        answer
    }

    async fn signed_uncached(
        &self,
        name: &Name,
        record_type: RecordType,
    ) -> Result<SignedAnswer, LookupFailure> {
        let mut last = LookupFailure::Other {
            detail: "no name server is configured".to_owned(),
        };
        for server in self.servers.iter().take(3) {
            match self.exchange(*server, name, record_type).await {
                Ok(message) => return read_signed(&message, name, record_type),
                Err(failure) => last = failure,
            }
        }
        Err(last)
    }

    async fn exchange(
        &self,
        server: SocketAddr,
        name: &Name,
        record_type: RecordType,
    ) -> Result<Message, LookupFailure> {
        let mut query = Message::query();
        query.add_query(Query::query(name.clone(), record_type));
        query.metadata.recursion_desired = true;
        query.metadata.checking_disabled = true;
        let mut edns = Edns::new();
        edns.set_dnssec_ok(true);
        edns.set_max_payload(4096);
        query.set_edns(edns);
        let id = query.metadata.id;
        let bytes = query.to_vec().map_err(|e| LookupFailure::Other {
            detail: format!("cannot encode the query: {e}"),
        })?;
        let limit = self.inner.options().timeout;
        // A datagram lost on the way is asked again once, within the limit.
        let first = limit / 2;
        let udp = match tokio::time::timeout(first, udp_exchange(server, &bytes)).await {
            Err(_) => {
                tokio::time::timeout(limit.saturating_sub(first), udp_exchange(server, &bytes))
                    .await
            }
            answered => answered,
        };
        let answer = match udp {
            Ok(Ok(answer)) => decode(&answer, id)?,
            Ok(Err(e)) => {
                return Err(LookupFailure::Other {
                    detail: e.to_string(),
                });
            }
            Err(_) => return Err(LookupFailure::Timeout),
        };
        if !answer.metadata.truncation {
            return Ok(answer);
        }
        match tokio::time::timeout(limit, tcp_exchange(server, &bytes)).await {
            Ok(Ok(answer)) => decode(&answer, id),
            Ok(Err(e)) => Err(LookupFailure::Other {
                detail: e.to_string(),
            }),
            Err(_) => Err(LookupFailure::Timeout),
        }
    }
}

fn decode(bytes: &[u8], id: u16) -> Result<Message, LookupFailure> {
    let message = Message::from_vec(bytes).map_err(|e| LookupFailure::Undecodable {
        detail: e.to_string(),
    })?;
    if message.metadata.id != id {
        return Err(LookupFailure::Undecodable {
            detail: "the answer's id does not match the query".to_owned(),
        });
    }
    Ok(message)
}

fn read_signed(
    message: &Message,
    name: &Name,
    record_type: RecordType,
) -> Result<SignedAnswer, LookupFailure> {
    let mut answer = SignedAnswer::default();
    match message.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => answer.nxdomain = true,
        ResponseCode::ServFail => return Err(LookupFailure::ServFail),
        ResponseCode::Refused => return Err(LookupFailure::Refused),
        other => {
            return Err(LookupFailure::Other {
                detail: format!("the nameserver answered {other}"),
            });
        }
    }
    for record in &message.answers {
        if !record.name.eq_case(name) && record.name != *name {
            continue;
        }
        if record.record_type() == record_type {
            answer.records.push(record.clone());
        } else if let RData::DNSSEC(hickory_resolver::proto::dnssec::rdata::DNSSECRData::RRSIG(sig)) =
            &record.data
            && sig.input().type_covered == record_type
        {
            answer.rrsigs.push(record.clone());
        }
    }
    answer.records.truncate(64);
    answer.rrsigs.truncate(16);
    answer.authority_soa = message
        .authorities
        .iter()
        .find(|r| r.record_type() == RecordType::SOA)
        .map(|r| r.name.clone());
    Ok(answer)
}

async fn udp_exchange(server: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = tokio::net::UdpSocket::bind(local).await?;
    socket.connect(server).await?;
    socket.send(query).await?;
    let mut buf = vec![0_u8; MAX_SIGNED_ANSWER];
    let n = socket.recv(&mut buf).await?;
    buf.truncate(n);
    Ok(buf)
}

async fn tcp_exchange(server: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(server).await?;
    let len = u16::try_from(query.len()).map_err(std::io::Error::other)?;
    stream.write_all(&len.to_be_bytes()).await?;
    stream.write_all(query).await?;
    let mut len = [0_u8; 2];
    stream.read_exact(&mut len).await?;
    let mut answer = vec![0_u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut answer).await?;
    Ok(answer)
}

/// How a lookup failed, read from the error's types alone (never its
/// text): the response code hickory reports as `DnsError::ResponseCode`
/// (how it returns SERVFAIL and REFUSED answers), the code of a "no
/// records" answer (NXDOMAIN, or NOERROR without the type), a timeout.
#[must_use]
pub fn classify_response(error: &NetError) -> LookupFailure {
    match error {
        NetError::Dns(DnsError::ResponseCode(code)) => match *code {
            ResponseCode::ServFail => LookupFailure::ServFail,
            ResponseCode::Refused => LookupFailure::Refused,
            ResponseCode::NXDomain => LookupFailure::NxDomain,
            other => LookupFailure::Other {
                detail: format!("the nameserver answered {other}"),
            },
        },
        NetError::Dns(DnsError::NoRecordsFound(no)) => match no.response_code {
            ResponseCode::ServFail => LookupFailure::ServFail,
            ResponseCode::Refused => LookupFailure::Refused,
            ResponseCode::NXDomain => LookupFailure::NxDomain,
            _ => LookupFailure::NoRecords,
        },
        // hickory turns an I/O error of kind TimedOut into `Timeout` too.
        NetError::Timeout => LookupFailure::Timeout,
        NetError::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => LookupFailure::Timeout,
        // The answer's bytes are not a DNS message hickory can read.
        NetError::Proto(e) => LookupFailure::Undecodable {
            detail: e.to_string(),
        },
        other => LookupFailure::Other {
            detail: other.to_string(),
        },
    }
}

/// Which internal addresses probes may reach: `[probe]
/// allow_private_targets` and `allow_metadata_targets`, shared by the TLS
/// and HTTP probes (and the HTTP probe's resolver guard and redirect
/// check), so that every way to an address meets the same rule.
///
/// Cloud metadata addresses ([`metadata_reason`]) are a class of their
/// own: `allow_private_targets` (internal suppliers) does not open them;
/// only `allow_metadata_targets` does, which the config accepts only
/// together with `allow_private_targets`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TargetRule {
    pub allow_private: bool,
    pub allow_metadata: bool,
}

/// Why the [`TargetRule`] refuses an address: what the address is, and
/// the config key that would allow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// "a cloud metadata address", "a private address" …
    pub reason: &'static str,
    /// Whether it is refused as a cloud metadata address.
    pub metadata: bool,
}

impl Refusal {
    /// What to set to probe it anyway, for the evidence.
    #[must_use]
    pub fn remedy(self) -> &'static str {
        if self.metadata {
            "cloud metadata addresses are never probed unless probe.allow_metadata_targets = true (with allow_private_targets)"
        } else {
            "set probe.allow_private_targets = true to probe internal targets"
        }
    }
}

impl TargetRule {
    /// The rule `[probe]` sets.
    #[must_use]
    pub fn of(config: &ProbeConfig) -> Self {
        Self {
            allow_private: config.allow_private_targets,
            allow_metadata: config.allow_metadata_targets,
        }
    }

    /// Why probes may not reach `ip`, if they may not.
    #[must_use]
    pub fn refuses(self, ip: IpAddr) -> Option<Refusal> {
        if let Some(reason) = metadata_reason(ip) {
            return (!self.allow_metadata).then_some(Refusal {
                reason,
                metadata: true,
            });
        }
        if self.allow_private {
            return None;
        }
        private_reason(ip).map(|reason| Refusal {
            reason,
            metadata: false,
        })
    }
}

/// Cloud metadata and credential services, by IPv4 address: the instance
/// metadata service of most clouds (169.254.169.254), AWS ECS task
/// credentials (169.254.170.2), EKS Pod Identity (169.254.170.23), Alibaba
/// Cloud (100.100.100.200), Oracle Cloud Classic (192.0.0.192), and the
/// Azure host agent's wire server (168.63.129.16). The rest of
/// 169.254.0.0/16 is treated alike, see [`metadata_reason`].
const METADATA_V4: [Ipv4Addr; 6] = [
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 170, 2),
    Ipv4Addr::new(169, 254, 170, 23),
    Ipv4Addr::new(100, 100, 100, 200),
    Ipv4Addr::new(192, 0, 0, 192),
    Ipv4Addr::new(168, 63, 129, 16),
];

/// Why `ip` is a cloud metadata address, if it is: one of
/// [`METADATA_V4`], any other IPv4 link-local address (169.254.0.0/16,
/// where cloud platforms put their instance services: DNS, time,
/// Tencent's metadata …), AWS's IPv6 services under `fd00:ec2::/64`
/// (metadata `fd00:ec2::254`, EKS Pod Identity `fd00:ec2::23` …), or an
/// IPv6 address that carries one of these IPv4 addresses (IPv4-mapped,
/// IPv4-compatible, NAT64, 6to4). Every spelling a URL parser accepts
/// (`2852039166`, `0xa9fea9fe`, `0251.0376.0251.0376`) is the same
/// address once parsed.
#[must_use]
pub fn metadata_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_metadata(v4),
        IpAddr::V6(v6) => {
            if is_aws_v6_service(v6) {
                return Some("a cloud metadata address");
            }
            embedded_v4(v6).into_iter().find_map(|(v4, via)| {
                v4_metadata(v4).map(|own| match via {
                    Embedding::Same => own,
                    Embedding::Nat64 => "a NAT64 address of a cloud metadata address",
                    Embedding::SixToFour => "a 6to4 address of a cloud metadata address",
                })
            })
        }
    }
}

/// `fd00:ec2::/64`, where AWS serves metadata, DNS, time and EKS Pod
/// Identity over IPv6.
fn is_aws_v6_service(ip: Ipv6Addr) -> bool {
    matches!(ip.segments(), [0xfd00, 0x0ec2, 0, 0, ..])
}

fn v4_metadata(ip: Ipv4Addr) -> Option<&'static str> {
    if METADATA_V4.contains(&ip) {
        Some("a cloud metadata address")
    } else if ip.is_link_local() {
        Some("a link-local address, where cloud platforms serve instance metadata")
    } else {
        None
    }
}

/// Why an address is off limits to probes by default, if it is. An IPv6
/// address that carries an IPv4 address (IPv4-mapped, IPv4-compatible,
/// NAT64, 6to4) is judged by the IPv4 address too: `64:ff9b::10.0.0.1`
/// reaches 10.0.0.1 through a NAT64 gateway.
#[must_use]
pub fn private_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6).or_else(|| {
            embedded_v4(v6).into_iter().find_map(|(v4, via)| {
                v4_reason(v4).map(|own| match via {
                    Embedding::Same => own,
                    Embedding::Nat64 => "a NAT64 address of an internal IPv4 address",
                    Embedding::SixToFour => "a 6to4 address of an internal IPv4 address",
                })
            })
        }),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if METADATA_V4.contains(&ip) {
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
    } else if a == 198 && (b == 18 || b == 19) {
        Some("a benchmarking address (198.18.0.0/15)")
    } else if a == 192 && b == 0 && c == 0 {
        Some("an IETF protocol assignment address (192.0.0.0/24)")
    } else if a >= 240 {
        Some("a reserved address (240.0.0.0/4)")
    } else {
        None
    }
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments().first().copied().unwrap_or(0);
    if is_aws_v6_service(ip) {
        Some("a cloud metadata address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unspecified() {
        Some("an unspecified address")
    } else if first & 0xfe00 == 0xfc00 {
        Some("a private (unique local) address")
    } else if first & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else if first & 0xffc0 == 0xfec0 {
        Some("a site-local address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else {
        None
    }
}

/// How an IPv6 address carries an IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Embedding {
    /// IPv4-mapped or IPv4-compatible: the IPv4 address itself.
    Same,
    Nat64,
    SixToFour,
}

/// The IPv4 addresses an IPv6 address may lead to: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`, deprecated), the
/// well-known NAT64 prefix `64:ff9b::/96`, the local-use NAT64 prefix
/// `64:ff9b:1::/48` (RFC 8215; under it a network may use any RFC 6052
/// layout, so /48, /56, /64 and /96 are all read) and 6to4
/// (`2002:a.b.c.d::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Vec<(Ipv4Addr, Embedding)> {
    let [
        o0,
        o1,
        o2,
        o3,
        o4,
        o5,
        o6,
        o7,
        o8,
        o9,
        o10,
        o11,
        o12,
        o13,
        o14,
        o15,
    ] = ip.octets();
    let tail = Ipv4Addr::new(o12, o13, o14, o15);
    match (o0, o1, o2, o3, o4, o5) {
        (0, 0, 0, 0, 0, 0)
            if [o6, o7, o8, o9] == [0; 4] && matches!([o10, o11], [0, 0] | [0xff, 0xff]) =>
        {
            vec![(tail, Embedding::Same)]
        }
        (0, 0x64, 0xff, 0x9b, 0, 0) if [o6, o7, o8, o9, o10, o11] == [0; 6] => {
            vec![(tail, Embedding::Nat64)]
        }
        // RFC 6052 §2.2: bits 64..72 are always zero; the IPv4 address
        // follows the prefix, skipping them.
        (0, 0x64, 0xff, 0x9b, 0, 1) => vec![
            (Ipv4Addr::new(o6, o7, o9, o10), Embedding::Nat64), // /48
            (Ipv4Addr::new(o7, o9, o10, o11), Embedding::Nat64), // /56
            (Ipv4Addr::new(o9, o10, o11, o12), Embedding::Nat64), // /64
            (tail, Embedding::Nat64),                           // /96
        ],
        (0x20, 0x02, ..) => vec![(Ipv4Addr::new(o2, o3, o4, o5), Embedding::SixToFour)],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DNS server on loopback that answers every query with one A record
    /// (TTL 60), or NXDOMAIN for names starting `gone`, counts the
    /// datagrams it receives, and drops the first `drop_first` of them.
    async fn counting_server(
        drop_first: usize,
    ) -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::Ordering;
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = seen.clone();
        tokio::spawn(async move {
            let mut buf = vec![0_u8; 4096];
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                if count.fetch_add(1, Ordering::SeqCst) < drop_first {
                    continue;
                }
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
                let Some(q) = query.queries.first().cloned() else {
                    continue;
                };
                if q.name().to_string().starts_with("gone") {
                    reply.metadata.response_code = ResponseCode::NXDomain;
                } else {
                    reply.add_answer(Record::from_rdata(
                        q.name().clone(),
                        60,
                        RData::A(Ipv4Addr::new(192, 0, 2, 1).into()),
                    ));
                }
                reply.add_query(q);
                let _ = socket.send_to(&reply.to_vec().unwrap(), from).await;
            }
        });
        (addr, seen)
    }

    fn resolver_at(addr: SocketAddr) -> DnsResolver {
        DnsResolver::new(&ProbeConfig {
            nameservers: vec![addr],
            extra_roots: Vec::new(),
            timeout: Duration::from_secs(2),
            concurrency: 4,
            per_host_concurrency: 2,
            allow_private_targets: true,
            allow_metadata_targets: false,
            mta_sts_port: 443,
            trust_anchor: None,
            smtp: false,
            smtp_port: 25,
            spread: Duration::ZERO,
        })
        .unwrap()
    }

    /// The domains of a run share the DNSSEC answers they have in common:
    /// asked at once or one after another, a name and type goes out once;
    /// a negative answer is kept too.
    #[tokio::test]
    async fn signed_answers_are_asked_once_per_run() {
        use std::sync::atomic::Ordering;
        let (addr, seen) = counting_server(0).await;
        let resolver = resolver_at(addr);
        let name = Name::from_ascii("test.").unwrap();
        let at_once = futures_join_all(&resolver, &name, 20).await;
        assert!(
            at_once
                .iter()
                .all(|a| a.as_ref().is_ok_and(|a| a.records.len() == 1))
        );
        for _ in 0..5 {
            let again = resolver.signed(&name, RecordType::A).await.unwrap();
            assert_eq!(again.records.len(), 1);
        }
        assert_eq!(seen.load(Ordering::SeqCst), 1, "one query for 25 asks");
        let upper = Name::from_ascii("TEST.").unwrap();
        resolver.signed(&upper, RecordType::A).await.unwrap();
        assert_eq!(seen.load(Ordering::SeqCst), 1, "names compare without case");
        let other = Name::from_ascii("d1.test.").unwrap();
        resolver.signed(&other, RecordType::A).await.unwrap();
        resolver.signed(&name, RecordType::AAAA).await.unwrap();
        assert_eq!(seen.load(Ordering::SeqCst), 3, "another name, another type");
        let gone = Name::from_ascii("gone.test.").unwrap();
        assert!(
            resolver
                .signed(&gone, RecordType::A)
                .await
                .unwrap()
                .nxdomain
        );
        assert!(
            resolver
                .signed(&gone, RecordType::A)
                .await
                .unwrap()
                .nxdomain
        );
        assert_eq!(seen.load(Ordering::SeqCst), 4, "NXDOMAIN kept a while");
        // Another run (another resolver) asks again.
        resolver_at(addr)
            .signed(&name, RecordType::A)
            .await
            .unwrap();
        assert_eq!(seen.load(Ordering::SeqCst), 5);
    }

    async fn futures_join_all(
        resolver: &DnsResolver,
        name: &Name,
        n: usize,
    ) -> Vec<Result<SignedAnswer, LookupFailure>> {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            let (resolver, name) = (resolver.clone(), name.clone());
            set.spawn(async move { resolver.signed(&name, RecordType::A).await });
        }
        let mut out = Vec::new();
        while let Some(done) = set.join_next().await {
            out.push(done.unwrap());
        }
        out
    }

    /// A lost datagram is asked again within the timeout; a failure is
    /// not kept.
    #[tokio::test]
    async fn a_lost_datagram_is_asked_again_and_failures_are_not_kept() {
        use std::sync::atomic::Ordering;
        let (addr, seen) = counting_server(1).await;
        let resolver = resolver_at(addr);
        let name = Name::from_ascii("test.").unwrap();
        let answer = resolver.signed(&name, RecordType::A).await.unwrap();
        assert_eq!(answer.records.len(), 1);
        assert_eq!(
            seen.load(Ordering::SeqCst),
            2,
            "the first datagram was dropped"
        );

        let (addr, seen) = counting_server(usize::MAX).await;
        let resolver = resolver_at(addr);
        let started = std::time::Instant::now();
        assert_eq!(
            resolver.signed(&name, RecordType::A).await.unwrap_err(),
            LookupFailure::Timeout
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "within the timeout"
        );
        let _ = resolver.signed(&name, RecordType::A).await;
        assert_eq!(
            seen.load(Ordering::SeqCst),
            4,
            "a timeout is asked again next time"
        );
    }

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
            // IPv4 carried in IPv6: judged by the IPv4 address.
            ("64:ff9b::10.0.0.1", true),
            ("64:ff9b::169.254.169.254", true),
            ("64:ff9b::93.184.216.34", false),
            ("64:ff9b:1::a00:1", true),
            ("64:ff9b:1:a00:1::", true),
            ("64:ff9b:1:0:a:1::", true),
            ("64:ff9b:1::127.0.0.1", true),
            ("2002:c0a8:101::1", true),
            ("2002:0a00:0001:1::", true),
            ("2002:5db8:d822::1", false),
            ("::10.1.2.3", true),
            ("::127.0.0.1", true),
            ("::93.184.216.34", false),
            ("::ffff:10.1.2.3", true),
            // Site-local (deprecated, still routed inside some networks).
            ("fec0::1", true),
            ("feff::1", true),
            // IPv4 special-purpose ranges.
            ("198.18.0.1", true),
            ("198.19.255.255", true),
            ("198.20.0.1", false),
            ("192.0.0.8", true),
            ("192.0.1.1", false),
            ("240.0.0.1", true),
            ("255.255.255.254", true),
            ("239.255.255.255", true),
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(private_reason(ip).is_some(), private, "{ip}");
        }
    }

    /// Cloud metadata addresses, in every form an address can take, are a
    /// class of their own: `allow_private_targets` does not open them.
    #[test]
    fn metadata_addresses_stay_refused_with_private_targets_allowed() {
        let open = TargetRule {
            allow_private: true,
            allow_metadata: false,
        };
        for ip in [
            "169.254.169.254",
            "169.254.170.2",
            "169.254.170.23",
            "169.254.0.23",
            "169.254.1.1",
            "100.100.100.200",
            "192.0.0.192",
            "168.63.129.16",
            "fd00:ec2::254",
            "fd00:ec2::23",
            "::ffff:169.254.169.254",
            "::ffff:a9fe:a9fe",
            "::169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::169.254.169.254",
            "64:ff9b:1:a9fe:a9:fe00::",
            "2002:a9fe:a9fe::1",
            "::ffff:100.100.100.200",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            let refusal = open
                .refuses(ip)
                .unwrap_or_else(|| panic!("{ip} let through"));
            assert!(refusal.metadata, "{ip}");
            assert!(refusal.remedy().contains("allow_metadata_targets"), "{ip}");
            assert!(metadata_reason(ip).is_some(), "{ip}");
            // Refused by default too, and as metadata, so that the advice
            // never says "allow_private_targets" alone.
            let refusal = TargetRule::default().refuses(ip).unwrap();
            assert!(refusal.metadata, "{ip}");
        }
        // Other internal addresses are opened by allow_private_targets.
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "::1",
            "fd00::1",
            "fd00:ec3::254",
            "fe80::1",
            "64:ff9b::10.0.0.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(open.refuses(ip).is_none(), "{ip}");
            assert!(metadata_reason(ip).is_none(), "{ip}");
            let refusal = TargetRule::default().refuses(ip).unwrap();
            assert!(!refusal.metadata, "{ip}");
            assert!(refusal.remedy().contains("allow_private_targets"), "{ip}");
        }
        // Only the explicit key opens metadata addresses.
        let all = TargetRule {
            allow_private: true,
            allow_metadata: true,
        };
        assert!(all.refuses("169.254.169.254".parse().unwrap()).is_none());
        assert!(all.refuses("fd00:ec2::254".parse().unwrap()).is_none());
        // Public addresses pass every rule.
        for rule in [TargetRule::default(), open, all] {
            assert!(rule.refuses("93.184.216.34".parse().unwrap()).is_none());
        }
    }

    #[test]
    fn embedded_addresses_say_how_they_are_carried() {
        let reason = |s: &str| private_reason(s.parse().unwrap()).unwrap();
        assert_eq!(reason("::ffff:127.0.0.1"), "a loopback address");
        assert_eq!(
            reason("64:ff9b::10.0.0.1"),
            "a NAT64 address of an internal IPv4 address"
        );
        assert_eq!(
            reason("2002:c0a8:101::1"),
            "a 6to4 address of an internal IPv4 address"
        );
    }
}
