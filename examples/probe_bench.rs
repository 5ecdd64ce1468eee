//! `cargo run --release --example probe_bench [-- N]`: how fast the probes
//! run, and in how much memory.
//!
//! Stands up the local test world in this process with N endpoint names
//! (default 1,000) that resolve to one local HTTPS site, and a zone of N
//! domains, each with SOA, two NS, MX, an SPF record with an include, DMARC,
//! CAA, DNSKEY and TLS-RPT. Then runs, through the same runner as `supplywatch
//! check` and with the default `probe.concurrency`:
//! 1. the endpoint probes: TLS (handshake with chain capture, TLS 1.0 and
//!    1.1 hellos), then HTTP (`GET /`) and `GET /.well-known/security.txt`;
//! 2. the domain probes: DNS and e-mail authentication;
//! 3. the endpoint probes again over N names of one server whose leaf
//!    names a CRL distribution point, twice: the first run downloads the
//!    CRL once for all N, the second (same process, the cache of a daemon)
//!    downloads nothing.
//!
//! Prints endpoints/s, domains/s and the process's peak RSS (the world's
//! servers run in the same process and are included).

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Instant;

use supplywatch::checks::{self, Policy};
use supplywatch::clock::{Clock, SystemClock};
use supplywatch::config::Config;
use supplywatch::probe::run::{self, Silent, SupplierObservations};
use supplywatch::probe::{self as probes, Reach, RevocationStatus};
use supplywatch_testworld::{DnsRecord, MailDomain, RevocationCase, SiteSpec, World, zone};

const PER_SUPPLIER: usize = 10;
const SITE: &str = "bench.site.test";

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// A healthy domain's records, its SPF through an include. No `_mta-sts`
/// record: there is no policy site, and failed fetches would skew the timing.
fn domain_records(name: &str) -> anyhow::Result<Vec<DnsRecord>> {
    MailDomain::good(name)
        .with(|d| {
            d.mx = vec![(10, "mx.bench.test".to_owned())];
            d.spf = vec!["v=spf1 mx include:_spf.bench.test -all".to_owned()];
            d.sts.clear();
        })
        .records()
}

fn suppliers_toml(world: &World, targets: &[String], key: &str) -> String {
    let mut config = format!(
        "[probe]\nnameservers = [\"{}\"]\nextra_roots = [\"{}\"]\nallow_private_targets = true\n",
        world.dns,
        world.roots_pem.display()
    );
    for (s, chunk) in targets.chunks(PER_SUPPLIER).enumerate() {
        let list: Vec<String> = chunk.iter().map(|t| format!("\"{t}\"")).collect();
        let _ = write!(
            config,
            "\n[[supplier]]\nid = \"s{s}\"\nname = \"Supplier {s}\"\ncriticality = \"standard\"\n{key} = [{}]\n",
            list.join(", ")
        );
    }
    config
}

async fn timed(
    world: &World,
    name: &str,
    toml: &str,
) -> anyhow::Result<(f64, Vec<SupplierObservations>)> {
    let path = world.write(name, toml)?;
    let config = Config::load(&path)?;
    let started = Instant::now();
    let observations =
        run::probe_suppliers(&config.suppliers, &config.probe, Arc::new(Silent)).await?;
    Ok((started.elapsed().as_secs_f64(), observations))
}

#[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
fn rate(n: usize, secs: f64) -> f64 {
    n as f64 / secs
}

/// The endpoint probes over `hosts`, all one server whose leaf names a CRL,
/// run twice in this process: CRL downloads counted at the world's server.
async fn revocation_runs(world: &World, hosts: &[String]) -> anyhow::Result<()> {
    let n = hosts.len();
    let crl_port = world
        .revocation()
        .endpoint_addr(RevocationCase::CrlGood)
        .map_or(0, |a| a.port());
    let crl_endpoints: Vec<String> = hosts.iter().map(|h| format!("{h}:{crl_port}")).collect();
    let crl_toml = suppliers_toml(world, &crl_endpoints, "endpoints");
    let (crl_first_secs, crl_observed) = timed(world, "crl.toml", &crl_toml).await?;
    let crl_first_downloads = world.revocation().requests("/ca.crl");
    let (crl_second_secs, _) = timed(world, "crl.toml", &crl_toml).await?;
    let crl_second_downloads = world.revocation().requests("/ca.crl") - crl_first_downloads;
    let crl_known = crl_observed
        .iter()
        .flat_map(|o| &o.endpoints)
        .filter(|o| {
            o.tls
                .as_ref()
                .and_then(|t| t.revocation.as_ref())
                .is_some_and(|r| matches!(r.status, RevocationStatus::Good { .. }))
        })
        .count();
    println!("revocation             {n} endpoints naming one CRL: {crl_known} found good");
    println!(
        "  first run            {crl_first_secs:.2} s  →  {:.0} endpoints/s, {crl_first_downloads} CRL download(s)",
        rate(n, crl_first_secs)
    );
    println!(
        "  second run           {crl_second_secs:.2} s  →  {:.0} endpoints/s, {crl_second_downloads} CRL download(s)",
        rate(n, crl_second_secs)
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000);
    probes::install_crypto_provider();
    let hosts: Vec<String> = (0..n).map(|i| format!("e{i}.bench.test")).collect();
    let revocation_hosts: Vec<String> = (0..n).map(|i| format!("r{i}.bench.test")).collect();
    let domains: Vec<String> = (0..n).map(|i| format!("d{i}.bench.test")).collect();
    let mut records: Vec<DnsRecord> = hosts
        .iter()
        .chain(&revocation_hosts)
        .map(|h| DnsRecord::a(h.clone(), Ipv4Addr::LOCALHOST))
        .collect();
    records.push(DnsRecord::txt(
        "_spf.bench.test",
        ["v=spf1 ip4:192.0.2.0/24 -all"],
    ));
    records.push(DnsRecord::a("mx.bench.test", Ipv4Addr::new(192, 0, 2, 25)));
    for d in &domains {
        records.extend(domain_records(d)?);
    }
    let world = World::builder()
        .records(records)
        .site(
            SITE,
            SiteSpec::https().security_txt_text(&zone::security_txt("bench.test", 90)),
        )
        .start()
        .await?;
    let port = world.site(SITE).addr.port();
    let endpoints: Vec<String> = hosts.iter().map(|h| format!("{h}:{port}")).collect();

    let (endpoint_secs, observed) = timed(
        &world,
        "endpoints.toml",
        &suppliers_toml(&world, &endpoints, "endpoints"),
    )
    .await?;
    let handshakes = observed
        .iter()
        .flat_map(|o| &o.endpoints)
        .filter(|o| matches!(o.reach, Reach::Handshake))
        .count();
    let pages = observed
        .iter()
        .flat_map(|o| &o.http)
        .filter(|o| o.page.last().is_some())
        .count();
    let (domain_secs, observed_domains) = timed(
        &world,
        "domains.toml",
        &suppliers_toml(&world, &domains, "domains"),
    )
    .await?;
    let resolved = observed_domains
        .iter()
        .flat_map(|o| &o.domains)
        .filter(|d| d.resolves())
        .count();
    let now = SystemClock.now();
    let findings: usize = checks::evaluate(&observed_domains, now, &Policy::default())
        .iter()
        .chain(checks::evaluate(&observed, now, &Policy::default()).iter())
        .map(|r| r.findings.len())
        .sum();

    println!("N                      {n}");
    println!("concurrency            64 (default)");
    println!("endpoints              {n}: {handshakes} TLS handshakes, {pages} HTTP responses");
    println!(
        "endpoint probes        {endpoint_secs:.2} s  →  {:.0} endpoints/s",
        rate(n, endpoint_secs)
    );
    println!("domains                {n}: {resolved} resolved");
    println!(
        "domain probes          {domain_secs:.2} s  →  {:.0} domains/s",
        rate(n, domain_secs)
    );
    revocation_runs(&world, &revocation_hosts).await?;
    println!("findings               {findings}");
    match peak_rss_mib() {
        Some(mib) => println!("peak RSS               {mib:.1} MiB"),
        None => println!("peak RSS               unknown (no /proc/self/status)"),
    }
    Ok(())
}
