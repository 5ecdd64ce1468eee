//! An authoritative DNS server for the zone `test.` on 127.0.0.1, UDP and
//! TCP on one port, built on hickory-server's `InMemoryZoneHandler`.
//!
//! Records are plain [`DnsRecord`]s (name, TTL, any hickory `RData`), so
//! later stages can add MX, TXT, CAA, NS … records for e-mail and DNS cases.
//! Names listed as SERVFAIL names always get SERVFAIL, whatever the query
//! type. Names with no record (such as [`MISSING_HOST`]) get NXDOMAIN.
//! Depends on [`crate::task`] only.

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::{A, AAAA, CAA, CNAME, MX, NS, SOA, TXT};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, MessageResponseBuilder, ZoneType};
use time::OffsetDateTime;
use tokio::net::{TcpListener, UdpSocket};
use tokio_util::sync::CancellationToken;

use crate::signed::{self, SignedFault, SignedZone, ZoneKey, ZoneSigner};
use crate::task::spawn_until;

/// The zone the world's DNS server is authoritative for.
pub const ZONE: &str = "test.";
/// The name server host of the zone (it has an A record, 127.0.0.1).
pub const NS_HOST: &str = "ns.test";
/// A name under `tls.test` that does not exist: NXDOMAIN.
pub const MISSING_HOST: &str = "missing.tls.test";
/// A name that always answers SERVFAIL.
pub const SERVFAIL_HOST: &str = "servfail.dns.test";
/// TTL used by the convenience constructors.
pub const DEFAULT_TTL: u32 = 300;

/// One resource record to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecord {
    /// Owner name, with or without the trailing dot; must be in [`ZONE`].
    pub name: String,
    /// Time to live, seconds.
    pub ttl: u32,
    /// The record data, of any type.
    pub data: RData,
}

/// Parses `name` as an absolute domain name.
///
/// # Errors
/// When `name` is not a valid domain name.
pub fn fqdn(name: &str) -> anyhow::Result<Name> {
    let mut parsed = Name::from_ascii(name).with_context(|| format!("DNS name {name:?}"))?;
    parsed.set_fqdn(true);
    Ok(parsed)
}

impl DnsRecord {
    /// Any record.
    #[must_use]
    pub fn new(name: impl Into<String>, ttl: u32, data: RData) -> Self {
        Self {
            name: name.into(),
            ttl,
            data,
        }
    }

    /// An A record.
    #[must_use]
    pub fn a(name: impl Into<String>, ip: Ipv4Addr) -> Self {
        Self::new(name, DEFAULT_TTL, RData::A(A(ip)))
    }

    /// An AAAA record.
    #[must_use]
    pub fn aaaa(name: impl Into<String>, ip: Ipv6Addr) -> Self {
        Self::new(name, DEFAULT_TTL, RData::AAAA(AAAA(ip)))
    }

    /// A TXT record made of the given character strings.
    #[must_use]
    pub fn txt(
        name: impl Into<String>,
        strings: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        let strings = strings.into_iter().map(Into::into).collect();
        Self::new(name, DEFAULT_TTL, RData::TXT(TXT::new(strings)))
    }

    /// An MX record.
    ///
    /// # Errors
    /// When `exchange` is not a valid domain name.
    pub fn mx(name: impl Into<String>, preference: u16, exchange: &str) -> anyhow::Result<Self> {
        Ok(Self::new(
            name,
            DEFAULT_TTL,
            RData::MX(MX::new(preference, fqdn(exchange)?)),
        ))
    }

    /// An NS record.
    ///
    /// # Errors
    /// When `target` is not a valid domain name.
    pub fn ns(name: impl Into<String>, target: &str) -> anyhow::Result<Self> {
        Ok(Self::new(name, DEFAULT_TTL, RData::NS(NS(fqdn(target)?))))
    }

    /// A CNAME record.
    ///
    /// # Errors
    /// When `target` is not a valid domain name.
    pub fn cname(name: impl Into<String>, target: &str) -> anyhow::Result<Self> {
        Ok(Self::new(
            name,
            DEFAULT_TTL,
            RData::CNAME(CNAME(fqdn(target)?)),
        ))
    }

    /// A non-critical CAA `issue` record naming one CA domain.
    ///
    /// # Errors
    /// When `ca` is not a valid domain name.
    pub fn caa_issue(name: impl Into<String>, ca: &str) -> anyhow::Result<Self> {
        let mut ca = Name::from_ascii(ca).with_context(|| format!("CA domain {ca:?}"))?;
        // CAA values are written without the trailing dot.
        ca.set_fqdn(false);
        Ok(Self::new(
            name,
            DEFAULT_TTL,
            RData::CAA(CAA::new_issue(false, Some(ca), Vec::new())),
        ))
    }

    fn to_record(&self, zone: &Name) -> anyhow::Result<Record> {
        let name = fqdn(&self.name)?;
        if !zone.zone_of(&name) {
            bail!("{name} is outside the world's zone {zone}");
        }
        Ok(Record::from_rdata(name, self.ttl, self.data.clone()))
    }
}

/// The records every world serves besides its case hosts: SOA and NS at
/// the apex, and the name server's address.
fn apex_records(zone: &Name) -> anyhow::Result<Vec<Record>> {
    let ns = fqdn(NS_HOST)?;
    let soa = SOA::new(
        ns.clone(),
        fqdn("hostmaster.test")?,
        1,
        3600,
        600,
        86_400,
        60,
    );
    Ok(vec![
        Record::from_rdata(zone.clone(), 3600, RData::SOA(soa)),
        Record::from_rdata(zone.clone(), 3600, RData::NS(NS(ns.clone()))),
        Record::from_rdata(ns, 3600, RData::A(A(Ipv4Addr::LOCALHOST))),
    ])
}

/// The request handler: SERVFAIL for the listed names, the catalog for
/// everything else.
struct WorldHandler {
    catalog: Catalog,
    /// In a signed world, the `test.` zone alone: DS queries go to it, as
    /// the parent's servers answer them (RFC 4035 §3.1.4.1), even when a
    /// child zone of the name is served here too.
    parent: Option<Catalog>,
    servfail: HashSet<LowerName>,
    /// Names that answer SERVFAIL for one record type only.
    servfail_types: HashSet<(LowerName, RecordType)>,
}

#[async_trait::async_trait]
impl RequestHandler for WorldHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let is_servfail = request.request_info().is_ok_and(|info| {
            self.servfail.contains(info.query.name())
                || self
                    .servfail_types
                    .contains(&(info.query.name().clone(), info.query.query_type()))
        });
        if !is_servfail {
            let is_ds = request
                .request_info()
                .is_ok_and(|info| info.query.query_type() == RecordType::DS);
            let catalog = match &self.parent {
                Some(parent) if is_ds => parent,
                _ => &self.catalog,
            };
            return catalog
                .handle_request::<R, T>(request, response_handle)
                .await;
        }
        let response = MessageResponseBuilder::new(&request.queries, None)
            .error_msg(&request.metadata, ResponseCode::ServFail);
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(_) => {
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.response_code = ResponseCode::ServFail;
                Header {
                    metadata,
                    counts: HeaderCounts::default(),
                }
                .into()
            }
        }
    }
}

/// Binds a UDP socket on 127.0.0.1:0 and a TCP listener on the same port.
/// The TCP port can be taken by someone else in between, so a few ports are
/// tried.
async fn bind_udp_and_tcp() -> anyhow::Result<(UdpSocket, TcpListener)> {
    let mut last_error = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .context("binding a UDP port for DNS")?;
        let addr = udp.local_addr().context("UDP socket address")?;
        match TcpListener::bind(addr).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last_error = Some(e),
        }
    }
    Err(anyhow::anyhow!(
        "no port free for both UDP and TCP DNS: {last_error:?}"
    ))
}

/// Starts the authoritative server for [`ZONE`] with `records` (plus SOA,
/// NS and `ns.test`) until `shutdown` is cancelled. Queries for a name in
/// `servfail` get SERVFAIL. Returns the address, UDP and TCP alike.
///
/// # Errors
/// When a record is malformed or outside the zone, or no port is free.
pub async fn serve(
    records: &[DnsRecord],
    servfail: &[String],
    shutdown: &CancellationToken,
) -> anyhow::Result<SocketAddr> {
    let (addr, _) = serve_signed(
        records,
        servfail,
        &[],
        &[],
        OffsetDateTime::now_utc(),
        shutdown,
    )
    .await?;
    Ok(addr)
}

fn empty_zone(origin: &Name) -> InMemoryZoneHandler<TokioRuntimeProvider> {
    InMemoryZoneHandler::<TokioRuntimeProvider>::empty(
        origin.clone(),
        ZoneType::Primary,
        AxfrPolicy::Deny,
        None,
    )
}

/// [`serve`], and with `signed` zones not empty: `test.` signed with a key
/// made now, a DS in it for each of the `signed` child zones (as its fault
/// says), and the child zones served beside it, signed from `now`.
/// Returns the trust anchor too: the DS and the DNSKEY of `test.` as
/// zone-file text.
/// Queries for a name and type in `servfail_types` get SERVFAIL.
///
/// # Errors
/// When a record is malformed or outside its zone, a zone cannot be
/// signed, or no port is free.
pub async fn serve_signed(
    records: &[DnsRecord],
    servfail: &[String],
    servfail_types: &[(String, RecordType)],
    signed: &[SignedZone],
    now: OffsetDateTime,
    shutdown: &CancellationToken,
) -> anyhow::Result<(SocketAddr, Option<(String, String)>)> {
    let zone = fqdn(ZONE)?;
    let mut handler = empty_zone(&zone);
    let serial = 1;
    for record in apex_records(&zone)? {
        let text = format!("{} {}", record.name, record.record_type());
        anyhow::ensure!(handler.upsert_mut(record, serial), "zone refused {text}");
    }
    for record in records {
        let rr = record.to_record(&zone)?;
        anyhow::ensure!(
            handler.upsert_mut(rr, serial),
            "zone refused {} {:?} (a CNAME cannot share its name)",
            record.name,
            record.data.record_type()
        );
    }
    let mut catalog = Catalog::new();
    let mut parent = None;
    let mut anchor = None;
    if signed.is_empty() {
        catalog.upsert(zone.into(), vec![Arc::new(handler)]);
    } else {
        let root = ZoneSigner::new(&zone, ZoneKey::EcdsaP256)?;
        anyhow::ensure!(
            handler.upsert_mut(root.dnskey_record(), serial),
            "zone refused the DNSKEY of test."
        );
        for child in signed {
            let name = fqdn(&child.name)?;
            anyhow::ensure!(
                zone.zone_of(&name) && name != zone,
                "the signed zone {name} is not under {zone}"
            );
            let signer = ZoneSigner::new(&name, child.key)?;
            let ds = match child.fault {
                SignedFault::NoDs => None,
                SignedFault::DsMatchesNoKey => {
                    Some(ZoneSigner::new(&name, ZoneKey::EcdsaP256)?.ds()?)
                }
                _ => Some(signer.ds()?),
            };
            if let Some(ds) = ds {
                let record = Record::from_rdata(
                    name.clone(),
                    DEFAULT_TTL,
                    RData::DNSSEC(hickory_server::proto::dnssec::rdata::DNSSECRData::DS(ds)),
                );
                anyhow::ensure!(
                    handler.upsert_mut(record, serial),
                    "zone refused the DS of {name}"
                );
            }
            let mut child_handler = empty_zone(&name);
            let mut child_records = vec![signed::soa_record(&name)?, signer.dnskey_record()];
            for record in &child.records {
                child_records.push(record.to_record(&name)?);
            }
            for record in child_records {
                let text = format!("{} {}", record.name, record.record_type());
                anyhow::ensure!(
                    child_handler.upsert_mut(record, serial),
                    "zone {name} refused {text}"
                );
            }
            signed::sign_rrsets(
                &signer,
                child_handler
                    .records_get_mut()
                    .values_mut()
                    .map(Arc::make_mut),
                child.fault,
                now,
            )?;
            catalog.upsert(name.into(), vec![Arc::new(child_handler)]);
        }
        signed::sign_rrsets(
            &root,
            handler.records_get_mut().values_mut().map(Arc::make_mut),
            SignedFault::None,
            now,
        )?;
        anchor = Some((root.ds_text()?, root.dnskey_text()));
        let handler = Arc::new(handler);
        catalog.upsert(zone.clone().into(), vec![handler.clone()]);
        let mut parents = Catalog::new();
        parents.upsert(zone.into(), vec![handler]);
        parent = Some(parents);
    }
    let servfail = servfail
        .iter()
        .map(|n| fqdn(n).map(LowerName::from))
        .collect::<anyhow::Result<_>>()?;
    let servfail_types = servfail_types
        .iter()
        .map(|(n, t)| fqdn(n).map(|n| (LowerName::from(n), *t)))
        .collect::<anyhow::Result<_>>()?;

    let (udp, tcp) = bind_udp_and_tcp().await?;
    let addr = udp.local_addr().context("DNS address")?;
    let mut server = Server::new(WorldHandler {
        catalog,
        parent,
        servfail,
        servfail_types,
    });
    server.register_socket(udp);
    server.register_listener(tcp, Duration::from_secs(5), 64);
    // The server runs in tasks of its own; dropping it aborts them.
    spawn_until(shutdown, async move {
        std::future::pending::<()>().await;
        drop(server);
    });
    Ok((addr, anchor))
}

/// A hickory resolver that asks only the server at `addr` (UDP, then TCP),
/// ignores the hosts file, does not cache and gives up after two seconds.
///
/// # Errors
/// When hickory cannot build the resolver.
pub fn resolver(addr: SocketAddr) -> anyhow::Result<TokioResolver> {
    let mut server = NameServerConfig::udp_and_tcp(addr.ip());
    for connection in &mut server.connections {
        connection.port = addr.port();
    }
    let config = ResolverConfig::from_name_servers(vec![server]);
    let mut builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
    let options = builder.options_mut();
    options.use_hosts_file = ResolveHosts::Never;
    options.cache_size = 0;
    options.timeout = Duration::from_secs(2);
    options.attempts = 1;
    builder.build().context("building the hickory resolver")
}

/// The A record every case host gets.
pub(crate) fn localhost_a(name: String) -> DnsRecord {
    DnsRecord::a(name, Ipv4Addr::LOCALHOST)
}

/// A front for the DNS server at `upstream` that answers the TXT queries
/// for `udp_mangled` names over UDP with the whole answer cut short and the
/// truncation bit clear — what a server sending a 4 KB TXT record in one
/// datagram without setting TC looks like to a client: an answer it cannot
/// decode. `tcp_mangled` names get the same cut answer over TCP too (a
/// server whose answers cannot be decoded at all). Everything else is
/// relayed. UDP and TCP on one port, like the server itself.
///
/// The front stops when the returned guard is dropped.
///
/// # Errors
/// When no port is free.
pub async fn mangling_front(
    upstream: SocketAddr,
    udp_mangled: &[&str],
    tcp_mangled: &[&str],
) -> anyhow::Result<(SocketAddr, FrontGuard)> {
    let guard = FrontGuard(CancellationToken::new());
    let shutdown = &guard.0;
    let names = |list: &[&str]| -> Arc<HashSet<String>> {
        Arc::new(
            list.iter()
                .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
                .collect(),
        )
    };
    let (udp_names, tcp_names) = (names(udp_mangled), names(tcp_mangled));
    let (udp, tcp) = bind_udp_and_tcp().await?;
    let addr = udp.local_addr().context("front address")?;
    let udp = Arc::new(udp);
    spawn_until(shutdown, async move {
        let mut buf = vec![0_u8; 65_535];
        while let Ok((n, from)) = udp.recv_from(&mut buf).await {
            let Some(query) = buf.get(..n).map(<[u8]>::to_vec) else {
                continue;
            };
            let (udp, udp_names) = (udp.clone(), udp_names.clone());
            tokio::spawn(async move {
                let answer = if query_name(&query).is_some_and(|q| udp_names.contains(&q)) {
                    over_tcp(upstream, &query).await.map(cut_short)
                } else {
                    over_udp(upstream, &query).await
                };
                if let Some(answer) = answer {
                    let _ = udp.send_to(&answer, from).await;
                }
            });
        }
    });
    spawn_until(shutdown, async move {
        while let Ok((mut stream, _)) = tcp.accept().await {
            let tcp_names = tcp_names.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
                let mut len = [0_u8; 2];
                while stream.read_exact(&mut len).await.is_ok() {
                    let mut query = vec![0_u8; usize::from(u16::from_be_bytes(len))];
                    if stream.read_exact(&mut query).await.is_err() {
                        return;
                    }
                    let mut answer = over_tcp(upstream, &query).await;
                    if query_name(&query).is_some_and(|q| tcp_names.contains(&q)) {
                        answer = answer.map(cut_short);
                    }
                    let Some(answer) = answer else { return };
                    let Ok(n) = u16::try_from(answer.len()) else {
                        return;
                    };
                    if stream.write_all(&n.to_be_bytes()).await.is_err()
                        || stream.write_all(&answer).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    Ok((addr, guard))
}

/// Stops a [`mangling_front`] when dropped.
pub struct FrontGuard(CancellationToken);

impl Drop for FrontGuard {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// The first question's name, lower-case, without the final dot, when it
/// asks for TXT records (the only ones mangled).
fn query_name(message: &[u8]) -> Option<String> {
    let message = hickory_server::proto::op::Message::from_vec(message).ok()?;
    let query = message.queries.first()?;
    if query.query_type() != hickory_server::proto::rr::RecordType::TXT {
        return None;
    }
    let name = query.name().to_ascii();
    Some(name.trim_end_matches('.').to_ascii_lowercase())
}

/// The answer cut in its last record, with TC clear: undecodable.
fn cut_short(mut answer: Vec<u8>) -> Vec<u8> {
    if let Some(flags) = answer.get_mut(2) {
        *flags &= !0x02;
    }
    let keep = answer.len().saturating_sub(answer.len() / 4).max(12);
    answer.truncate(keep);
    answer
}

async fn over_udp(upstream: SocketAddr, query: &[u8]) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.ok()?;
    socket.send_to(query, upstream).await.ok()?;
    let mut buf = vec![0_u8; 65_535];
    let n = tokio::time::timeout(Duration::from_secs(2), socket.recv(&mut buf))
        .await
        .ok()?
        .ok()?;
    buf.truncate(n);
    Some(buf)
}

async fn over_tcp(upstream: SocketAddr, query: &[u8]) -> Option<Vec<u8>> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(upstream).await.ok()?;
        let len = u16::try_from(query.len()).ok()?;
        stream.write_all(&len.to_be_bytes()).await.ok()?;
        stream.write_all(query).await.ok()?;
        let mut len = [0_u8; 2];
        stream.read_exact(&mut len).await.ok()?;
        let mut answer = vec![0_u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut answer).await.ok()?;
        Some(answer)
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .ok()
        .flatten()
}
