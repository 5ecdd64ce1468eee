//! `cargo run --release --example probe_bench [-- N]`: how fast the probes
//! run, and in how much memory.
//!
//! Stands up the local test world in this process with N endpoint names
//! (default 1,000) that resolve to one local HTTPS site, and N domains, each
//! a DNSSEC-signed zone delegated from a signed `test.` (the world's trust
//! anchor configured) with SOA, two NS, MX, an SPF record with an include,
//! DMARC, CAA, DNSKEY and TLS-RPT: every domain probe validates its chain. Then runs, through the same runner as `supplywatch
//! check` and with the default `probe.concurrency`:
//! 1. the endpoint probes: TLS (handshake with chain capture, TLS 1.0 and
//!    1.1 hellos), then HTTP (`GET /`) and `GET /.well-known/security.txt`;
//! 2. the domain probes: DNS and e-mail authentication.
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
use supplywatch::probe::dns::Verdict;
use supplywatch::probe::run::{self, Silent, SupplierObservations};
use supplywatch::probe::{self as probes, Reach};
use supplywatch_testworld::{
    DnsRecord, MailDomain, SignedFault, SignedZone, SiteSpec, World, ZoneKey, zone,
};

const PER_SUPPLIER: usize = 10;
const SITE: &str = "bench.site.test";

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// A healthy domain as a signed zone, its SPF through an include. No
/// `_mta-sts` record: there is no policy site, and failed fetches would
/// skew the timing. The zone's SOA and DNSKEY come with the signing.
fn signed_domain(name: &str) -> anyhow::Result<SignedZone> {
    let records = MailDomain::good(name)
        .with(|d| {
            d.mx = vec![(10, "mx.bench.test".to_owned())];
            d.spf = vec!["v=spf1 mx include:_spf.bench.test -all".to_owned()];
            d.sts.clear();
            d.dnskey = false;
            d.ds = false;
        })
        .records()?
        .into_iter()
        .filter(|r| !matches!(r.data, supplywatch_testworld::proto::rr::RData::SOA(_)))
        .collect();
    Ok(SignedZone {
        name: name.to_owned(),
        key: ZoneKey::EcdsaP256,
        fault: SignedFault::None,
        records,
    })
}

fn suppliers_toml(world: &World, targets: &[String], key: &str) -> String {
    let mut config = format!(
        "[probe]\nnameservers = [\"{}\"]\nextra_roots = [\"{}\"]\nallow_private_targets = true\n",
        world.dns,
        world.roots_pem.display()
    );
    if let Some(anchor) = &world.trust_anchor {
        let _ = writeln!(config, "trust_anchor = \"{}\"", anchor.display());
    }
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000);
    probes::install_crypto_provider();
    let hosts: Vec<String> = (0..n).map(|i| format!("e{i}.bench.test")).collect();
    let domains: Vec<String> = (0..n).map(|i| format!("d{i}.bench.test")).collect();
    let mut records: Vec<DnsRecord> = hosts
        .iter()
        .map(|h| DnsRecord::a(h.clone(), Ipv4Addr::LOCALHOST))
        .collect();
    records.push(DnsRecord::txt(
        "_spf.bench.test",
        ["v=spf1 ip4:192.0.2.0/24 -all"],
    ));
    records.push(DnsRecord::a("mx.bench.test", Ipv4Addr::new(192, 0, 2, 25)));
    let signed: Vec<SignedZone> = domains
        .iter()
        .map(|d| signed_domain(d))
        .collect::<anyhow::Result<_>>()?;
    let world = World::builder()
        .records(records)
        .signed_zones(signed)
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
    let validated = observed_domains
        .iter()
        .flat_map(|o| &o.domains)
        .filter(|d| {
            d.dnssec
                .as_ref()
                .and_then(|s| s.validation.as_ref())
                .is_some_and(|v| v.verdict == Verdict::Verified)
        })
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
    println!("domains                {n}: {resolved} resolved, {validated} DNSSEC chains verified");
    println!(
        "domain probes          {domain_secs:.2} s  →  {:.0} domains/s",
        rate(n, domain_secs)
    );
    println!("findings               {findings}");
    match peak_rss_mib() {
        Some(mib) => println!("peak RSS               {mib:.1} MiB"),
        None => println!("peak RSS               unknown (no /proc/self/status)"),
    }
    Ok(())
}
