//! The [`World`]: a test PKI, one TLS endpoint per [`TlsCase`], the web
//! sites a test asks for, and an authoritative DNS server naming them, in a
//! temp dir, all on 127.0.0.1, all stopped when the `World` is dropped.
//!
//! This is the crate's top: it wires [`crate::pki`], [`crate::tls`],
//! [`crate::http`] and [`crate::dns`] together and nothing below depends
//! on it.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use hickory_resolver::TokioResolver;
use rustls_pki_types::CertificateDer;
use tempfile::TempDir;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::dns::{self, DnsRecord};
use crate::http::{self, Canary, SiteEndpoint, SiteSpec};
use crate::pki::Pki;
use crate::signed::SignedZone;
use crate::task::spawn_until;
use crate::tls::{self, CaseEndpoint, TlsCase};
use hickory_server::proto::rr::RecordType;

/// File name, in the world's dir, of the trusted roots PEM.
pub const ROOTS_PEM: &str = "roots.pem";
/// File name, in the world's dir, of the Rogue root PEM.
pub const ROGUE_ROOT_PEM: &str = "rogue-root.pem";
/// The trust anchor file of a world with signed zones.
pub const TRUST_ANCHOR: &str = "trust-anchor.txt";
/// The same anchor as a DNSKEY record.
pub const TRUST_ANCHOR_DNSKEY: &str = "trust-anchor-dnskey.txt";

/// A running test world. Dropping it stops every server it started.
#[derive(Debug)]
pub struct World {
    /// The DNS server, UDP and TCP on the same port.
    pub dns: SocketAddr,
    /// PEM with every root the world trusts: the test root and the fixture
    /// SHA-1 root (not the Rogue root). Point `probe.extra_roots` here.
    pub roots_pem: PathBuf,
    /// PEM with the untrusted Rogue root alone, for tests that want to trust
    /// it on purpose.
    pub rogue_root_pem: PathBuf,
    /// The instant every relative certificate date was computed from.
    pub now: OffsetDateTime,
    /// With signed zones: a file holding the DS record of the signed
    /// `test.`, for `[probe] trust_anchor`.
    pub trust_anchor: Option<PathBuf>,
    /// The same anchor as the DNSKEY record of `test.`.
    pub trust_anchor_dnskey: Option<PathBuf>,
    pki: Pki,
    /// One entry per case, in [`TlsCase::ALL`] order.
    cases: Vec<CaseEndpoint>,
    /// The web sites added with [`WorldBuilder::site`], in that order.
    sites: Vec<SiteEndpoint>,
    dir: TempDir,
    shutdown: CancellationToken,
}

/// Configures a [`World`] before it starts.
#[derive(Debug, Clone, Default)]
pub struct WorldBuilder {
    now: Option<OffsetDateTime>,
    records: Vec<DnsRecord>,
    servfail: Vec<String>,
    servfail_types: Vec<(String, RecordType)>,
    sites: Vec<(String, SiteSpec)>,
    signed: Vec<SignedZone>,
}

impl WorldBuilder {
    /// Computes certificate dates from `now` instead of the system clock.
    #[must_use]
    pub fn now(mut self, now: OffsetDateTime) -> Self {
        self.now = Some(now);
        self
    }

    /// Adds a DNS record (any type) to the zone `test.`.
    #[must_use]
    pub fn record(mut self, record: DnsRecord) -> Self {
        self.records.push(record);
        self
    }

    /// Adds DNS records to the zone `test.`.
    #[must_use]
    pub fn records(mut self, records: impl IntoIterator<Item = DnsRecord>) -> Self {
        self.records.extend(records);
        self
    }

    /// Makes every query for `name` answer SERVFAIL (besides
    /// [`dns::SERVFAIL_HOST`], which always does).
    #[must_use]
    pub fn servfail(mut self, name: impl Into<String>) -> Self {
        self.servfail.push(name.into());
        self
    }

    /// Adds a web site served under `host` (a name in the zone `test.`,
    /// which gets an A record to 127.0.0.1): HTTPS with a certificate for
    /// `host` from the world's PKI, or plain HTTP, as `spec` says. See
    /// [`crate::http`]; find it with [`World::site_endpoint`].
    /// Queries for `name` of `record_type` alone answer SERVFAIL.
    #[must_use]
    pub fn servfail_type(mut self, name: impl Into<String>, record_type: RecordType) -> Self {
        self.servfail_types.push((name.into(), record_type));
        self
    }

    /// Signs `test.` and serves `zones`, delegated from it and signed (each
    /// broken as its fault says); the world's `trust_anchor` is then set.
    #[must_use]
    pub fn signed_zones(mut self, zones: impl IntoIterator<Item = SignedZone>) -> Self {
        self.signed.extend(zones);
        self
    }

    #[must_use]
    pub fn site(mut self, host: impl Into<String>, spec: SiteSpec) -> Self {
        self.sites.push((host.into(), spec));
        self
    }

    /// Generates the PKI, writes the roots, starts every TLS case, every
    /// site and the DNS server.
    ///
    /// # Errors
    /// When a certificate cannot be made, the temp dir or a file cannot be
    /// written, a record is invalid, or a port cannot be bound. Whatever was
    /// already started is stopped again.
    pub async fn start(self) -> anyhow::Result<World> {
        // Idempotent; an Err only means a provider is already installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let now = self.now.unwrap_or_else(OffsetDateTime::now_utc);
        let dir = tempfile::Builder::new()
            .prefix("supplywatch-world-")
            .tempdir()
            .context("creating the world's temp dir")?;
        let pki = Pki::generate(now)?;
        let roots_pem = dir.path().join(ROOTS_PEM);
        std::fs::write(&roots_pem, pki.trusted_roots_pem())
            .with_context(|| format!("writing {}", roots_pem.display()))?;
        let rogue_root_pem = dir.path().join(ROGUE_ROOT_PEM);
        std::fs::write(&rogue_root_pem, pki.rogue_root_pem())
            .with_context(|| format!("writing {}", rogue_root_pem.display()))?;

        let shutdown = CancellationToken::new();
        // Stops what already runs if any later step fails.
        let guard = shutdown.clone().drop_guard();
        let mut cases = Vec::with_capacity(TlsCase::ALL.len());
        for case in TlsCase::ALL {
            cases.push(tls::start_case(case, &pki, &shutdown).await?);
        }

        let mut bound = Vec::with_capacity(self.sites.len());
        for (i, (host, spec)) in self.sites.iter().enumerate() {
            anyhow::ensure!(
                !self.sites.iter().take(i).any(|(h, _)| h == host),
                "the site {host} is added twice"
            );
            bound.push(http::bind(host, spec.clone(), &pki).await?);
        }
        let sites = http::serve_all(bound, &shutdown);

        let mut records: Vec<DnsRecord> = TlsCase::ALL
            .iter()
            .map(|case| dns::localhost_a(case.host()))
            .collect();
        records.extend(sites.iter().map(|site| match site.addr.ip() {
            IpAddr::V4(ip) => DnsRecord::a(site.host.clone(), ip),
            IpAddr::V6(ip) => DnsRecord::aaaa(site.host.clone(), ip),
        }));
        records.extend(self.records);
        let mut servfail = self.servfail;
        servfail.push(dns::SERVFAIL_HOST.to_owned());
        let (dns, anchor) = dns::serve_signed(
            &records,
            &servfail,
            &self.servfail_types,
            &self.signed,
            now,
            &shutdown,
        )
        .await?;
        let mut trust_anchor = None;
        let mut trust_anchor_dnskey = None;
        if let Some((ds, dnskey)) = anchor {
            for (name, text, slot) in [
                (TRUST_ANCHOR, ds, &mut trust_anchor),
                (TRUST_ANCHOR_DNSKEY, dnskey, &mut trust_anchor_dnskey),
            ] {
                let path = dir.path().join(name);
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
                *slot = Some(path);
            }
        }

        drop(guard.disarm());
        Ok(World {
            dns,
            roots_pem,
            rogue_root_pem,
            now,
            trust_anchor,
            trust_anchor_dnskey,
            pki,
            cases,
            sites,
            dir,
            shutdown,
        })
    }
}

impl World {
    /// A world with every [`TlsCase`] and no extra DNS records.
    ///
    /// # Errors
    /// See [`WorldBuilder::start`].
    pub async fn start() -> anyhow::Result<Self> {
        WorldBuilder::default().start().await
    }

    /// Configures a world before starting it.
    #[must_use]
    pub fn builder() -> WorldBuilder {
        WorldBuilder::default()
    }

    fn case(&self, case: TlsCase) -> &CaseEndpoint {
        // `cases` holds one entry per case in `TlsCase::ALL` order, which is
        // declaration order (a unit test checks it), and a World exists only
        // once all were started: the index is always in range.
        &self.cases[case as usize]
    }

    /// `<case-name>.tls.test:PORT`, e.g. `expired.tls.test:40123`.
    #[must_use]
    pub fn endpoint(&self, case: TlsCase) -> String {
        format!("{}:{}", case.host(), self.port(case))
    }

    /// The case's socket address on 127.0.0.1.
    #[must_use]
    pub fn addr(&self, case: TlsCase) -> SocketAddr {
        self.case(case).addr
    }

    /// The case's port.
    #[must_use]
    pub fn port(&self, case: TlsCase) -> u16 {
        self.addr(case).port()
    }

    /// The certificates the case's server sends, leaf first (empty for
    /// `Stall` and `Closed`).
    #[must_use]
    pub fn served_chain(&self, case: TlsCase) -> &[CertificateDer<'static>] {
        &self.case(case).chain
    }

    /// The site added as `host`.
    ///
    /// # Panics
    /// When no site was added under `host`: a mistake in the test.
    #[must_use]
    pub fn site(&self, host: &str) -> &SiteEndpoint {
        match self.sites.iter().find(|s| s.host == host) {
            Some(site) => site,
            None => panic!("no site {host} in this world"),
        }
    }

    /// `host:port` of the site added as `host`, the form an endpoint is
    /// written in.
    ///
    /// # Panics
    /// See [`World::site`].
    #[must_use]
    pub fn site_endpoint(&self, host: &str) -> String {
        self.site(host).to_string()
    }

    /// Where the site added as `host` listens.
    ///
    /// # Panics
    /// See [`World::site`].
    #[must_use]
    pub fn site_addr(&self, host: &str) -> SocketAddr {
        self.site(host).addr
    }

    /// `scheme://host:port` + `path` for the site added as `host`.
    ///
    /// # Panics
    /// See [`World::site`].
    #[must_use]
    pub fn site_url(&self, host: &str, path: &str) -> String {
        format!("{}{path}", self.site(host).origin())
    }

    /// The request targets the site added as `host` has received, in order.
    ///
    /// # Panics
    /// See [`World::site`].
    #[must_use]
    pub fn site_requests(&self, host: &str) -> Vec<String> {
        self.site(host).requests()
    }

    /// Every site, in the order added.
    #[must_use]
    pub fn sites(&self) -> &[SiteEndpoint] {
        &self.sites
    }

    /// The world's PKI, to issue more leaves (e.g. for an SMTP server).
    #[must_use]
    pub fn pki(&self) -> &Pki {
        &self.pki
    }

    /// The temp dir for configs and databases; removed with the world.
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `contents` to `name` in [`World::dir`] and returns its path.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> anyhow::Result<PathBuf> {
        let path = self.dir().join(name);
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// The token cancelled when the world is dropped; tie extra servers to it.
    #[must_use]
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Starts a [`Canary`] on `addrs`, stopped with the world.
    ///
    /// # Errors
    /// See [`Canary::listen`].
    pub async fn canary(&self, addrs: &[SocketAddr]) -> anyhow::Result<Canary> {
        Canary::listen(addrs, &self.shutdown).await
    }

    /// Spawns `fut` so that it stops when the world is dropped.
    pub fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        spawn_until(&self.shutdown, fut);
    }

    /// A hickory resolver asking only the world's DNS server.
    ///
    /// # Errors
    /// See [`dns::resolver`].
    pub fn resolver(&self) -> anyhow::Result<TokioResolver> {
        dns::resolver(self.dns)
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_declaration_order() {
        for (i, case) in TlsCase::ALL.into_iter().enumerate() {
            assert_eq!(case as usize, i, "{case}");
        }
    }

    #[test]
    fn names_are_unique_and_round_trip() {
        for case in TlsCase::ALL {
            assert_eq!(TlsCase::from_name(case.name()), Some(case));
        }
        assert_eq!(TlsCase::NotYetValid.name(), "not-yet-valid");
        assert_eq!(TlsCase::WrongHost.host(), "wrong-host.tls.test");
    }
}
