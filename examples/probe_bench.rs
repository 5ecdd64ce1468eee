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
//! 2. the domain probes: DNS and e-mail authentication, and each domain's
//!    mail server over SMTP (banner, EHLO, STARTTLS, the certificate, TLSA):
//!    every domain's MX is one local SMTP sink with STARTTLS;
//! 3. endpoints and domains together: N suppliers of one endpoint and one
//!    domain each, through `check --save`'s path (probe, judge, record the
//!    run in a fresh store), with the save timed on its own;
//! 4. the endpoint probes again over N names of one server whose leaf
//!    names a CRL distribution point, twice: the first run downloads the
//!    CRL once for all N, the second (same process, the cache of a daemon)
//!    downloads nothing.
//!
//! Prints endpoints/s, domains/s, suppliers/s, the connections and HTTP
//! requests each endpoint probe cost the server (counted by it), the time
//! to save the run, and the process's peak RSS (the world's servers run in
//! the same process and are included).

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Instant;

use supplywatch::checks::{self, Policy};
use supplywatch::clock::{Clock, SystemClock};
use supplywatch::config::Config;
use supplywatch::pipeline;
use supplywatch::probe::dns::Verdict;
use supplywatch::probe::run::{self, Silent, SupplierObservations};
use supplywatch::probe::{self as probes, Reach, RevocationStatus};
use supplywatch::store::{OpenMode, Store};
use supplywatch_testworld::tls::{MODERN, server_config};
use supplywatch_testworld::{
    DnsRecord, LeafSpec, MailDomain, RevocationCase, SignedFault, SignedZone, SinkOptions,
    SiteSpec, SmtpSink, World, ZoneKey, zone,
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

fn suppliers_toml(world: &World, targets: &[String], key: &str, smtp_port: u16) -> String {
    let mut config = format!(
        "[probe]\nnameservers = [\"{}\"]\nextra_roots = [\"{}\"]\nallow_private_targets = true\nsmtp_port = {smtp_port}\n",
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

/// N suppliers of one endpoint and one domain each.
fn together_toml(
    world: &World,
    endpoints: &[String],
    domains: &[String],
    smtp_port: u16,
) -> String {
    let mut config = suppliers_toml(world, &[], "endpoints", smtp_port);
    for (s, (endpoint, domain)) in endpoints.iter().zip(domains).enumerate() {
        let _ = write!(
            config,
            "\n[[supplier]]\nid = \"t{s}\"\nname = \"Supplier {s}\"\ncriticality = \"standard\"\nendpoints = [\"{endpoint}\"]\ndomains = [\"{domain}\"]\n"
        );
    }
    config
}

/// Endpoints and domains together through `check --save`'s path: probed
/// and judged, then the run recorded in a fresh store.
async fn together(
    world: &World,
    endpoints: &[String],
    domains: &[String],
    smtp_port: u16,
) -> anyhow::Result<()> {
    let n = endpoints.len();
    let path = world.write(
        "together.toml",
        together_toml(world, endpoints, domains, smtp_port),
    )?;
    let config = Config::load(&path)?;
    let started = Instant::now();
    let run = pipeline::probe_and_check(&config, &config.suppliers, Arc::new(Silent), || {
        SystemClock.now()
    })
    .await?;
    let probe_secs = started.elapsed().as_secs_f64();
    let store = Store::open(&world.dir().join("bench.db"), OpenMode::Create).await?;
    let saving = Instant::now();
    run.save(&store, &config, "probe_bench").await?;
    let save_secs = saving.elapsed().as_secs_f64();
    println!(
        "together               {probe_secs:.2} s  →  {:.0} suppliers/s  (1 endpoint + 1 domain each, MX over SMTP)",
        rate(n, probe_secs)
    );
    println!("  --save               {save_secs:.2} s more to record the run in a fresh store");
    Ok(())
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

#[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
fn per(count: usize, n: usize) -> f64 {
    count as f64 / n.max(1) as f64
}

/// The mail server of every domain: STARTTLS with a certificate for
/// `mx.bench.test` from the world's PKI.
async fn mail_sink(world: &World) -> anyhow::Result<SmtpSink> {
    let leaf = world
        .pki()
        .issue(&LeafSpec::issued("mx.bench.test", world.now, 10, 90))?;
    SmtpSink::start_with(
        SinkOptions::default()
            .starttls(server_config(&leaf, MODERN)?)
            .within(world.shutdown_token()),
    )
    .await
}

/// MX hosts whose STARTTLS handshake completed.
fn starttls_handshakes(observed: &[SupplierObservations]) -> usize {
    observed
        .iter()
        .flat_map(|o| &o.domains)
        .flat_map(|d| d.mail_servers.iter().flat_map(|m| &m.probed))
        .filter(|mx| {
            mx.tls
                .as_ref()
                .is_some_and(|t| matches!(t.reach, Reach::Handshake))
        })
        .count()
}

/// The endpoint probes over `hosts`, all one server whose leaf names a CRL,
/// run twice in this process: CRL downloads counted at the world's server.
async fn revocation_runs(world: &World, hosts: &[String], smtp_port: u16) -> anyhow::Result<()> {
    let n = hosts.len();
    let crl_port = world
        .revocation()
        .endpoint_addr(RevocationCase::CrlGood)
        .map_or(0, |a| a.port());
    let crl_endpoints: Vec<String> = hosts.iter().map(|h| format!("{h}:{crl_port}")).collect();
    let crl_toml = suppliers_toml(world, &crl_endpoints, "endpoints", smtp_port);
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

/// The child process of [`scanner`]: `probe_bench scan CONFIG [DB]` runs
/// what `supplywatch check` (with a DB: `check --save`) runs — the
/// streamed probe run, the preview or the save, the JSON report written
/// out (to nowhere) — and prints its wall time, the save's part and its
/// own peak RSS on one line.
async fn scan(config: &str, db: Option<&str>) -> anyhow::Result<()> {
    let config = Config::load(std::path::Path::new(config))?;
    let started = Instant::now();
    let store = match db {
        Some(db) => Some(Store::open(std::path::Path::new(db), OpenMode::Create).await?),
        None => None,
    };
    let mut options = pipeline::StreamOptions::new(Arc::new(Silent), "probe_bench");
    options.store = store.as_ref();
    let run =
        pipeline::probe_streamed(&config, &config.suppliers, options, || SystemClock.now()).await?;
    let saving = Instant::now();
    let report = match &store {
        Some(store) => run.save_with(store, &config, "probe_bench", None).await?,
        None => run.preview(None, &config, "probe_bench").await?,
    };
    let save_secs = saving.elapsed().as_secs_f64();
    // The JSON report, written out as `check` writes it, to nowhere.
    let mut written = 0_usize;
    run.write_report(
        &report,
        supplywatch::report::Format::Json,
        false,
        &mut |text| written += text.len(),
        &mut |_| {},
    )?;
    println!(
        "{:.3} {save_secs:.3} {:.1} {}",
        started.elapsed().as_secs_f64(),
        peak_rss_mib().unwrap_or(0.0),
        run.tally.total()
    );
    Ok(())
}

/// Runs `check`'s path (and with `save`, `check --save`'s, into a fresh
/// database) over `toml` in a process of its own, so that its peak RSS is
/// the scanner's alone, not the world's; prints wall, rate and peak RSS.
async fn scanner(
    world: &World,
    n: usize,
    toml: &str,
    what: &str,
    save: bool,
) -> anyhow::Result<()> {
    let config = world.write("scanner.toml", toml)?;
    let db = world
        .dir()
        .join(format!("scanner-{}.db", fastrand::u64(..)));
    // BENCH_WRAPPER runs the scanner under a profiler (`heaptrack`, …).
    let wrapper = std::env::var("BENCH_WRAPPER").ok();
    let mut command = match wrapper.as_deref() {
        Some(wrapper) => {
            let mut command = tokio::process::Command::new(wrapper);
            command.arg(std::env::current_exe()?);
            command
        }
        None => tokio::process::Command::new(std::env::current_exe()?),
    };
    command.arg("scan").arg(&config);
    if save {
        command.arg(&db);
    }
    let output = command.output().await?;
    anyhow::ensure!(
        output.status.success(),
        "the scanner failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = String::from_utf8_lossy(&output.stdout);
    let fields: Vec<f64> = line
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let [wall, save_secs, rss, findings] = fields[..] else {
        anyhow::bail!("the scanner said {line:?}");
    };
    println!(
        "  {:<20} {wall:.2} s  →  {:.0} {}/s, peak RSS {rss:.1} MiB, {findings} findings{}",
        format!("{what}{}", if save { " --save" } else { "" }),
        rate(n, wall),
        match what {
            "endpoints" | "domains" => what,
            _ => "suppliers",
        },
        if save {
            format!(" (the save {save_secs:.2} s of it)")
        } else {
            String::new()
        }
    );
    Ok(())
}

/// `VmHWM` and `VmRSS` of a running process, in MiB.
fn memory_of(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

/// The daemon itself (`supplywatch run`, the release binary next to this
/// benchmark's folder) over `toml`, its probe job scheduled a few seconds
/// after it starts: its peak RSS through that probe run, and its RSS idle
/// after it, read from /proc while it runs.
async fn daemon(world: &World, n: usize, toml: &str) -> anyhow::Result<()> {
    use tokio::io::AsyncBufReadExt as _;
    let Some(binary) = std::env::current_exe()?
        .parent()
        .and_then(std::path::Path::parent)
        .map(|release| release.join("supplywatch"))
        .filter(|b| b.exists())
    else {
        println!("  daemon               not measured: build it first (cargo build --release)");
        return Ok(());
    };
    let fire = SystemClock.now() + chrono::Duration::seconds(4);
    let schedule = fire.format("%S %M %H * * *").to_string();
    let config = world.write(
        "daemon.toml",
        format!(
            "[daemon]\ndatabase = \"{}\"\nprobe_schedule = \"{schedule}\"\nobligations_schedule = \"0 0 0 1 1 *\"\n\
             digest_schedule = \"0 0 0 1 1 *\"\nretention_schedule = \"0 0 0 1 1 *\"\ntimezone = \"UTC\"\nprobe_jitter_secs = 0\n{toml}",
            world.dir().join(format!("daemon-{}.db", fastrand::u64(..))).display()
        ),
    )?;
    let started = Instant::now();
    // BENCH_WRAPPER (a profiler) wraps the daemon too; the RSS read from
    // /proc is then the wrapper's.
    let mut command = match std::env::var("BENCH_WRAPPER").ok() {
        Some(wrapper) => {
            let mut command = tokio::process::Command::new(wrapper);
            command.arg(binary);
            command
        }
        None => tokio::process::Command::new(binary),
    };
    // The allocator settings of systemd/supplywatch.service.
    let mut child = command
        .env("MALLOC_ARENA_MAX", "2")
        .env("MALLOC_MMAP_THRESHOLD_", "131072")
        .env("MALLOC_TRIM_THRESHOLD_", "131072")
        .args(["--config"])
        .arg(&config)
        .arg("run")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().unwrap_or(0);
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stderr"))?;
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let mut idle_before = None;
    let probe_secs = loop {
        let line = tokio::time::timeout(std::time::Duration::from_mins(10), lines.next_line())
            .await??
            .ok_or_else(|| anyhow::anyhow!("the daemon ended early"))?;
        if idle_before.is_none() && line.contains("supplywatch running") {
            idle_before = memory_of(pid).map(|(_, rss)| rss);
        }
        if line.contains("suppliers probed") {
            break started.elapsed().as_secs_f64() - 4.0;
        }
    };
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let (peak, idle) = memory_of(pid).unwrap_or_default();
    let _ = tokio::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await;
    let _ = child.wait().await;
    println!(
        "  daemon probe run     ~{probe_secs:.1} s  →  ~{:.0} suppliers/s, peak RSS {peak:.1} MiB; idle {:.1} MiB before the run, {idle:.1} MiB after",
        rate(n, probe_secs.max(0.001)),
        idle_before.unwrap_or(0.0)
    );
    Ok(())
}

/// `check` and `check --save` over N suppliers of one endpoint and one
/// domain each, each in a process of its own.
async fn scanner_phase(
    world: &World,
    n: usize,
    endpoints: &[String],
    domains: &[String],
    smtp_port: u16,
) -> anyhow::Result<()> {
    println!("scanner alone          in a process of its own (check's path):");
    let toml = suppliers_toml(world, endpoints, "endpoints", smtp_port);
    scanner(world, n, &toml, "endpoints", false).await?;
    let toml = suppliers_toml(world, domains, "domains", smtp_port);
    scanner(world, n, &toml, "domains", false).await?;
    let toml = together_toml(world, endpoints, domains, smtp_port);
    scanner(world, n, &toml, "together", false).await?;
    scanner(world, n, &toml, "together", true).await?;
    daemon(world, n, &toml).await
}

#[tokio::main]
#[expect(
    clippy::too_many_lines,
    reason = "one phase after another, each printed: the benchmark reads top to bottom"
)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("scan") {
        probes::install_crypto_provider();
        let config = args.get(2).map_or("", String::as_str);
        return scan(config, args.get(3).map(String::as_str)).await;
    }
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let scanner_only = args.iter().any(|a| a == "--scanner-only");
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
    // The mail servers' name, on the world's SMTP sink.
    records.push(DnsRecord::a("mx.bench.test", Ipv4Addr::LOCALHOST));
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
    let sink = mail_sink(&world).await?;
    let endpoints: Vec<String> = hosts.iter().map(|h| format!("{h}:{port}")).collect();
    if scanner_only {
        println!("N                      {n}");
        return scanner_phase(&world, n, &endpoints, &domains, sink.port()).await;
    }

    let (accepted, asked) = (
        world.site(SITE).connections(),
        world.site(SITE).requests().len(),
    );
    let (endpoint_secs, observed) = timed(
        &world,
        "endpoints.toml",
        &suppliers_toml(&world, &endpoints, "endpoints", sink.port()),
    )
    .await?;
    let per_endpoint = |count: usize| per(count, n);
    let connections = per_endpoint(world.site(SITE).connections() - accepted);
    let requests = per_endpoint(world.site(SITE).requests().len() - asked);
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
    let domains_toml = suppliers_toml(&world, &domains, "domains", sink.port());
    // The same domains without the mail servers, for comparison.
    let (dns_only_secs, _) = timed(
        &world,
        "domains-dns-only.toml",
        &domains_toml.replace("smtp_port =", "smtp = false\nsmtp_port ="),
    )
    .await?;
    let (domain_secs, observed_domains) = timed(&world, "domains.toml", &domains_toml).await?;
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
    let starttls = starttls_handshakes(&observed_domains);
    // Why a chain was not verified, first few: a timeout here is what
    // stretches the wall time.
    for (domain, verdict) in observed_domains
        .iter()
        .flat_map(|o| &o.domains)
        .filter_map(|d| {
            let verdict = d.dnssec.as_ref()?.validation.as_ref()?.verdict.clone();
            (verdict != Verdict::Verified).then(|| (d.domain.clone(), verdict))
        })
        .take(3)
    {
        println!("  not verified         {domain}: {verdict:?}");
    }
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
    println!(
        "  per endpoint         {connections:.1} connections, {requests:.1} HTTP requests (counted by the server)"
    );
    println!(
        "domains                {n}: {resolved} resolved, {validated} DNSSEC chains verified, {starttls} MX STARTTLS handshakes"
    );
    println!(
        "domain probes          {dns_only_secs:.2} s  →  {:.0} domains/s  (smtp = false)",
        rate(n, dns_only_secs)
    );
    println!(
        "domain probes          {domain_secs:.2} s  →  {:.0} domains/s  (with each MX over SMTP)",
        rate(n, domain_secs)
    );
    together(&world, &endpoints, &domains, sink.port()).await?;
    scanner_phase(&world, n, &endpoints, &domains, sink.port()).await?;
    revocation_runs(&world, &revocation_hosts, sink.port()).await?;
    println!("findings               {findings}");
    match peak_rss_mib() {
        Some(mib) => println!("peak RSS               {mib:.1} MiB"),
        None => println!("peak RSS               unknown (no /proc/self/status)"),
    }
    Ok(())
}
