//! `cargo run --release --example demo`: supplywatch at work with no
//! suppliers of your own and no internet.
//!
//! Starts the local test world on 127.0.0.1 (a test PKI, a TLS server per
//! certificate case, HTTPS sites, an authoritative DNS server for `.test`
//! with the suppliers' mail domains), writes a config for four suppliers
//! with a realistic mix of good and bad endpoints and domains, and runs the
//! same probe → checks → report path as `supplywatch check`; then the
//! daemon's cycle once: the run saved with its escalations, the paperwork
//! judged, the weekly digest built, and everything delivered with the file
//! transport into `target/supplywatch-demo/mail`, where the `.eml` files
//! stay for you to open.

use std::sync::Arc;

use supplywatch::clock::{Clock, SystemClock};
use supplywatch::config::Config;
use supplywatch::daemon;
use supplywatch::escalate::Escalation;
use supplywatch::mail::{Mailer, deliver_due};
use supplywatch::pipeline;
use supplywatch::probe as probes;
use supplywatch::probe::run::{ProbeEvent, Progress};
use supplywatch::store::{OpenMode, Store};
use supplywatch_testworld::tls::{MODERN, server_config};
use supplywatch_testworld::zone::{clean_site, security_txt};
use supplywatch_testworld::{
    DnsRecord, LeafSpec, MailDomain, Reply, SinkOptions, SiteCert, SiteSpec, SmtpSink, TlsCase,
    World,
};

struct Lines;

impl Progress for Lines {
    fn start(&self, total: usize) {
        println!("running {total} probes …");
    }
    fn finished(&self, e: &ProbeEvent<'_>) {
        println!(
            "  {:<10} {:<4} {:<36} {:>5} ms  {}",
            e.supplier,
            e.kind.as_str(),
            e.target,
            e.elapsed_ms,
            e.outcome
        );
    }
    fn done(&self) {
        println!();
    }
}

/// The mail server every demo domain names as its MX.
const MAIL_HOST: &str = "mx.mailhost.test";

/// The world: TLS cases, three mail domains (acme's in order, the others
/// each missing something) whose MX is one mail server with STARTTLS,
/// acme's MTA-STS policy host and two HTTPS sites. Returns it with the
/// MTA-STS policy host and the mail server.
async fn start_world() -> anyhow::Result<(World, String, SmtpSink)> {
    // Mail domains: acme's is in order; the others each miss something.
    let mx = |d: &mut MailDomain| d.mx = vec![(10, MAIL_HOST.to_owned())];
    let acme = MailDomain::good("acme.test").with(mx);
    let globex = MailDomain::good("globex.test").with(mx).with(|d| {
        d.spf = vec!["v=spf1 mx +all".to_owned()];
        d.dmarc = vec!["v=DMARC1; p=none".to_owned()];
    });
    let initech = MailDomain::good("initech.test").with(mx).with(|d| {
        d.dmarc.clear();
        d.sts.clear();
        d.caa = false;
        d.dnskey = false;
        d.ds = false;
    });
    let (acme_sts_host, acme_sts_site) = acme.policy_site(SiteCert::Good);
    let mut records = acme.records()?;
    records.extend(globex.records()?);
    records.extend(initech.records()?);
    records.push(DnsRecord::a(MAIL_HOST, std::net::Ipv4Addr::LOCALHOST));

    let world = World::builder()
        .records(records)
        .site(&acme_sts_host, acme_sts_site)
        .site("www.acme.test", clean_site("acme.test"))
        .site(
            "portal.globex.test",
            SiteSpec::https()
                .root(
                    Reply::secure_page()
                        .without("strict-transport-security")
                        .replace("server", "nginx/1.18.0"),
                )
                .security_txt_text(&security_txt("globex.test", -10)),
        )
        .start()
        .await?;
    let leaf = world
        .pki()
        .issue(&LeafSpec::issued(MAIL_HOST, world.now, 10, 90))?;
    let sink = SmtpSink::start_with(
        SinkOptions::default()
            .starttls(server_config(&leaf, MODERN)?)
            .within(world.shutdown_token()),
    )
    .await?;
    Ok((world, acme_sts_host, sink))
}

/// The config for the world's four suppliers.
fn config_text(
    world: &World,
    acme_sts_host: &str,
    smtp_port: u16,
    mail: &std::path::Path,
) -> String {
    let e = |case| world.endpoint(case);
    format!(
        r#"# Written by the supplywatch demo: four suppliers served on 127.0.0.1.
[daemon]
probe_jitter_secs = 0

[email]
transport = "file"                     # .eml files instead of SMTP
from = "supplywatch@bank.example"
directory = "{mail}"

[probe]
nameservers = ["{dns}"]
extra_roots = ["{roots}"]
timeout_secs = 3
allow_private_targets = true   # the demo world lives on loopback
mta_sts_port = {sts_port}             # the world serves MTA-STS policies off port 443
smtp_port = {smtp_port}                # and its mail server off port 25

[contacts]
risk_manager = ["risk@bank.example"]
ciso = ["ciso@bank.example"]

[[supplier]]
id = "acme"
name = "Acme Cloud B.V."
criticality = "critical"
owner = "jane.doe@bank.example"
security_contact = "security@acme.example"
services = ["payments hosting"]
domains = ["acme.test"]
endpoints = ["{www_acme}", "{good_ecdsa}", "{expired}", "{wrong_host}"]
contract = {{ reference = "C-2024-017", start = 2024-01-01, end = 2027-06-30, notice_days = 90 }}
exit_plan = "DOC-EXIT-0042"

[[supplier]]
id = "globex"
name = "Globex Mail Services"
criticality = "important"
domains = ["globex.test"]
endpoints = ["{portal_globex}", "{good_rsa}", "{incomplete}", "{legacy}", "{tls12}"]

[[supplier]]
id = "initech"
name = "Initech Payroll"
criticality = "standard"
domains = ["initech.test"]
endpoints = ["{self_signed}", "{untrusted}", "{rsa1024}", "{sha1}"]

[[supplier]]
id = "umbrella"
name = "Umbrella Analytics"
criticality = "important"
domains = ["umbrella.test"]
endpoints = ["{expiring}", "{not_yet}", "{long}", "{stall}", "{closed}"]
certifications = [{{ kind = "SOC 2 Type II", expires = 2026-10-31 }}]
"#,
        mail = mail.display(),
        dns = world.dns,
        roots = world.roots_pem.display(),
        sts_port = world.site(acme_sts_host).addr.port(),
        smtp_port = smtp_port,
        www_acme = world.site_endpoint("www.acme.test"),
        portal_globex = world.site_endpoint("portal.globex.test"),
        good_ecdsa = e(TlsCase::GoodEcdsa),
        expired = e(TlsCase::Expired),
        wrong_host = e(TlsCase::WrongHost),
        good_rsa = e(TlsCase::GoodRsa),
        incomplete = e(TlsCase::IncompleteChain),
        legacy = e(TlsCase::Legacy),
        tls12 = e(TlsCase::Tls12Only),
        self_signed = e(TlsCase::SelfSigned),
        untrusted = e(TlsCase::UntrustedRoot),
        rsa1024 = e(TlsCase::Rsa1024),
        sha1 = e(TlsCase::Sha1),
        expiring = e(TlsCase::Expiring),
        not_yet = e(TlsCase::NotYetValid),
        long = e(TlsCase::LongValidity),
        stall = e(TlsCase::Stall),
        closed = e(TlsCase::Closed),
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    probes::install_crypto_provider();
    let (world, acme_sts_host, mail_server) = start_world().await?;
    // Kept after the demo exits (the world's own folder is not).
    let mail = std::env::current_dir()?.join("target/supplywatch-demo/mail");
    if mail.exists() {
        std::fs::remove_dir_all(&mail)?;
    }
    std::fs::create_dir_all(&mail)?;
    let config_text = config_text(&world, &acme_sts_host, mail_server.port(), &mail);
    let path = world.write("supplywatch.toml", &config_text)?;
    let config = Config::load(&path)?;
    println!(
        "supplywatch demo: a local world on 127.0.0.1 (DNS {}), config written to {}\n",
        world.dns,
        path.display()
    );

    let started = std::time::Instant::now();
    // Saved as `supplywatch check --save` would: the run streamed, its
    // observations stored as it goes; findings open, scores are kept.
    let db = world.dir().join("supplywatch.db");
    let store = Store::open(&db, OpenMode::Create).await?;
    let mut options = pipeline::StreamOptions::new(Arc::new(Lines), "demo");
    options.store = Some(&store);
    let run =
        pipeline::probe_streamed(&config, &config.suppliers, options, || SystemClock.now()).await?;
    let escalation = Escalation::new(&config, Some(run.health), run.at);
    let saved = run
        .save_with(&store, &config, "demo", Some(&escalation))
        .await?;
    run.write_report(
        &saved,
        supplywatch::report::Format::Table,
        false,
        &mut |text| print!("{text}"),
        &mut |_| {},
    )?;
    println!(
        "{} — probed in {:.1}s",
        run.tally.summary(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "\nSaved to {} (run {}: {} findings opened, {} damped until a second failing run).\nThe same report as JSON: supplywatch check --config {} --format json\n(the config works while this world runs; the world stops when the demo exits)",
        db.display(),
        saved.run_id,
        saved.opened.len(),
        saved.pending,
        path.display()
    );

    // The rest of the daemon's cycle: paperwork, the digest, delivery.
    let now = SystemClock.now();
    let escalation = Escalation::new(&config, None, now);
    let (_, paperwork) =
        pipeline::run_obligations_with(&store, &config, now, "demo", Some(&escalation)).await?;
    daemon::queue_digest(&store, &config, now).await?;
    let mailer = Mailer::from_config(&config)?;
    let delivered =
        deliver_due(&store, &mailer, || SystemClock.now(), 3, u32::MAX, || true).await?;
    store.close().await;
    println!(
        "\nThe daemon's cycle: {} escalation e-mails from the probe run, {} from the paperwork, and the weekly digest;\n{} messages written to {}:",
        saved.queued,
        paperwork.queued,
        delivered.sent,
        mail.display()
    );
    let mut files: Vec<_> = std::fs::read_dir(&mail)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    for f in &files {
        println!("  {}", f.display());
    }
    println!("Open them with any mail client (or a text editor).");
    Ok(())
}
