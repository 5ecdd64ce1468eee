//! `cargo run --release --example probe_bench [-- N]`: how fast the TLS probe
//! runs, and in how much memory.
//!
//! Stands up the local test world with N host names (default 1,000) that
//! all resolve to one local rustls server, and runs the full TLS probe
//! (resolve, handshake with chain capture, TLS 1.0 and 1.1 hellos) over all
//! of them through the same runner as `supplywatch check`, with the default
//! `probe.concurrency`. Prints endpoints/s and the process's peak RSS (the
//! world's servers run in the same process and are included).

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Instant;

use supplywatch::checks::{self, Policy};
use supplywatch::clock::{Clock, SystemClock};
use supplywatch::config::Config;
use supplywatch::probe::run::{self, Silent};
use supplywatch::probe::{self as probes, Reach};
use supplywatch_testworld::{DnsRecord, TlsCase, World};

const PER_SUPPLIER: usize = 10;

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000);
    probes::install_crypto_provider();
    let names: Vec<String> = (0..n).map(|i| format!("e{i}.bench.test")).collect();
    let world = World::builder()
        .records(
            names
                .iter()
                .map(|name| DnsRecord::a(name.clone(), Ipv4Addr::LOCALHOST)),
        )
        .start()
        .await?;
    let port = world.port(TlsCase::GoodEcdsa);

    let mut config = format!(
        "[probe]\nnameservers = [\"{}\"]\nextra_roots = [\"{}\"]\nallow_private_targets = true\n",
        world.dns,
        world.roots_pem.display()
    );
    for (s, chunk) in names.chunks(PER_SUPPLIER).enumerate() {
        let endpoints: Vec<String> = chunk.iter().map(|h| format!("\"{h}:{port}\"")).collect();
        let _ = write!(
            config,
            "\n[[supplier]]\nid = \"s{s}\"\nname = \"Supplier {s}\"\ncriticality = \"standard\"\nendpoints = [{}]\n",
            endpoints.join(", ")
        );
    }
    let path = world.write("bench.toml", &config)?;
    let config = Config::load(&path)?;

    let started = Instant::now();
    let observations =
        run::probe_suppliers(&config.suppliers, &config.probe, Arc::new(Silent)).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let results = checks::evaluate(&observations, SystemClock.now(), &Policy::default());

    let all: Vec<_> = observations.iter().flat_map(|o| &o.endpoints).collect();
    let handshakes = all
        .iter()
        .filter(|o| matches!(o.reach, Reach::Handshake))
        .count();
    let findings: usize = results.iter().map(|r| r.findings.len()).sum();
    println!("endpoints          {}", all.len());
    println!("completed handshakes {handshakes}");
    println!("findings           {findings}");
    println!("concurrency        {}", config.probe.concurrency);
    println!("elapsed            {elapsed:.2} s");
    #[expect(clippy::cast_precision_loss, reason = "a count far below 2^52")]
    let rate = all.len() as f64 / elapsed;
    println!("endpoints/s        {rate:.0}");
    match peak_rss_mib() {
        Some(mib) => println!("peak RSS           {mib:.1} MiB"),
        None => println!("peak RSS           unknown (no /proc/self/status)"),
    }
    Ok(())
}
