//! The suppliers' mail servers end to end: SMTP sinks on distinct loopback
//! addresses (127.x.y.1, .2 …) sharing one port stand in for MX hosts, an
//! authoritative DNS of the test's own names them (MX, A, TLSA, DS), and the
//! probes run through the library and through `supplywatch check`.
//!
//! Each case is a domain whose one mail server has one thing wrong, or
//! nothing; the tests assert the exact MX ids, targets (`mx-host:25`),
//! error lines and scopes.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use supplywatch::checks::{self, Policy, Scope, SupplierResult};
use supplywatch::config::Config;
use supplywatch::probe::run::{Silent, SupplierObservations, probe_suppliers};
use supplywatch::probe::smtp::{MAX_MX, SmtpSession};
use supplywatch_testworld::proto::rr::RData;
use supplywatch_testworld::proto::rr::rdata::TLSA;
use supplywatch_testworld::proto::rr::rdata::tlsa::{CertUsage, Matching, Selector};
use supplywatch_testworld::tls::{MODERN, server_config};
use supplywatch_testworld::zone::POLICY_PATH;
use supplywatch_testworld::{
    DnsRecord, Leaf, LeafSpec, MailDomain, Reply, SinkOptions, SiteSpec, SmtpSink, World,
};

use crate::support::Scratch;

/// The ids this module is about.
const MX_IDS: [&str; 4] = [
    "email.starttls_missing",
    "email.mx_tls_invalid",
    "email.dane_mismatch",
    "email.mta_sts_mx_mismatch",
];

/// Names the good mail server's certificate carries: every case whose
/// server has nothing wrong with its certificate shares that server.
const GOOD_NAMES: [&str; 6] = [
    "mx.good.test",
    "mx.stsmiss.test",
    "mx.danematch.test",
    "mx.danemiss.test",
    "mx.daneodd.test",
    "mx.daneunsigned.test",
];

/// How one mail server behaves.
enum Server {
    /// STARTTLS with this leaf.
    Tls(Leaf),
    /// No STARTTLS.
    Plain,
    /// Greets and never answers again.
    Mute,
}

/// Sinks on `127.a.b.1`, `127.a.b.2` … all on one port, for `servers` in
/// order; a random `a.b` per attempt keeps parallel tests apart.
async fn start_servers(servers: &[Server], token: &World) -> (Vec<Ipv4Addr>, u16, Vec<SmtpSink>) {
    'attempt: for _ in 0..8 {
        let (a, b) = (fastrand::u8(100..=250), fastrand::u8(1..=250));
        let ips: Vec<Ipv4Addr> = (1..=u8::try_from(servers.len() + 1).unwrap())
            .map(|i| Ipv4Addr::new(127, a, b, i))
            .collect();
        let mut port = 0;
        let mut sinks = Vec::new();
        for (server, ip) in servers.iter().zip(&ips) {
            let options = SinkOptions::default()
                .ip(*ip)
                .port(port)
                .within(token.shutdown_token());
            let options = match server {
                Server::Tls(leaf) => options
                    .starttls(server_config(leaf, MODERN).unwrap())
                    .greeting(["220-mx ESMTP ready", "220-second line", "220 third line"]),
                Server::Plain => options,
                Server::Mute => options.mute_after_greeting(),
            };
            match SmtpSink::start_with(options).await {
                Ok(sink) => {
                    port = sink.port();
                    sinks.push(sink);
                }
                Err(_) => continue 'attempt,
            }
        }
        // One more address, with nothing listening: a closed port.
        return (ips, port, sinks);
    }
    panic!("no free loopback addresses for the mail servers");
}

fn a(name: &str, ip: Ipv4Addr) -> DnsRecord {
    DnsRecord::a(name.to_owned(), ip)
}

fn tlsa(host: &str, usage: u8, selector: u8, matching: u8, data: Vec<u8>) -> DnsRecord {
    DnsRecord::new(
        format!("_25._tcp.{host}"),
        300,
        RData::TLSA(TLSA::new(
            CertUsage::from(usage),
            Selector::from(selector),
            Matching::from(matching),
            data,
        )),
    )
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// A domain as a zone with these MX hosts and no MTA-STS record (a policy
/// only where a case asks for one).
fn zone(name: &str, mx: &[&str]) -> MailDomain {
    MailDomain::good(name).with(|z| {
        z.mx = mx
            .iter()
            .enumerate()
            .map(|(i, h)| (u16::try_from(10 * (i + 1)).unwrap(), (*h).to_owned()))
            .collect();
        z.sts = Vec::new();
    })
}

fn config_text(
    dns: SocketAddr,
    world: &World,
    smtp_port: u16,
    domains: &[&str],
    extra: &str,
) -> String {
    let mut text = format!(
        "[probe]\nnameservers = [\"{dns}\"]\nextra_roots = [\"{}\"]\ntimeout_secs = 2\nallow_private_targets = true\nsmtp_port = {smtp_port}\n{extra}\n",
        world.roots_pem.display()
    );
    for domain in domains {
        let id = domain.trim_end_matches(".test");
        let _ = write!(
            text,
            "\n[[supplier]]\nid = \"{id}\"\nname = \"Case {id}\"\ncriticality = \"important\"\ndomains = [\"{domain}\"]\n"
        );
    }
    text
}

/// The cases' world: the servers, the DNS naming them, the config.
pub(crate) struct Cases {
    pub(crate) world: World,
    pub(crate) config: String,
    /// The servers' addresses, in [`start_servers`] order, the last closed.
    ips: Vec<Ipv4Addr>,
    /// The port they share.
    port: u16,
    sinks: Vec<SmtpSink>,
}

const DOMAINS: [&str; 12] = [
    "good.test",
    "plain.test",
    "expired.test",
    "wrongname.test",
    "danematch.test",
    "danemiss.test",
    "daneodd.test",
    "daneunsigned.test",
    "stsmiss.test",
    "mute.test",
    "closed.test",
    "many.test",
];

pub(crate) async fn cases() -> Cases {
    let world = World::builder()
        .site(
            "mta-sts.stsmiss.test",
            SiteSpec::https().route(
                POLICY_PATH,
                Reply::typed(
                    "text/plain; charset=utf-8",
                    "version: STSv1\r\nmode: enforce\r\nmx: *.stsmiss.test\r\nmax_age: 604800\r\n",
                ),
            ),
        )
        .start()
        .await
        .unwrap();
    let pki = world.pki();
    let now = world.now;
    let good = pki
        .issue(&LeafSpec::issued("mx.good.test", now, 10, 90).names(GOOD_NAMES))
        .unwrap();
    let expired = pki
        .issue(&LeafSpec::issued("mx.expired.test", now, 100, 90))
        .unwrap();
    let wrong = pki
        .issue(&LeafSpec::issued("elsewhere.test", now, 10, 90))
        .unwrap();
    let good_leaf =
        supplywatch::probe::cert::dane_digests(0, good.cert().unwrap().as_ref()).unwrap();
    let intermediate =
        supplywatch::probe::cert::dane_digests(1, pki.intermediate().as_ref()).unwrap();
    let (ips, port, sinks) = start_servers(
        &[
            Server::Tls(good),
            Server::Plain,
            Server::Tls(expired),
            Server::Tls(wrong),
            Server::Mute,
        ],
        &world,
    )
    .await;
    let records = records(&ips, &good_leaf.spki_sha256, &intermediate.cert_sha256);
    let dns = supplywatch_testworld::dns::serve(&records, &[], world.shutdown_token())
        .await
        .unwrap();
    let sts_port = world.site_addr("mta-sts.stsmiss.test").port();
    let config = config_text(
        dns,
        &world,
        port,
        &DOMAINS,
        &format!("mta_sts_port = {sts_port}"),
    );
    Cases {
        world,
        config,
        ips,
        port,
        sinks,
    }
}

/// The cases' DNS: addresses of the servers in [`start_servers`] order
/// (the last one closed), the zones, the TLSA records.
fn records(ips: &[Ipv4Addr], leaf_spki_sha256: &str, intermediate_sha256: &str) -> Vec<DnsRecord> {
    let [good_ip, plain_ip, expired_ip, wrong_ip, mute_ip, closed_ip] = ips[..] else {
        panic!("{ips:?}")
    };
    let mut records = Vec::new();
    for name in GOOD_NAMES {
        records.push(a(name, good_ip));
    }
    records.extend([
        a("mx.plain.test", plain_ip),
        a("mx.expired.test", expired_ip),
        a("mx.wrongname.test", wrong_ip),
        a("mx.mute.test", mute_ip),
        a("mx.closed.test", closed_ip),
        a("mta-sts.stsmiss.test", Ipv4Addr::LOCALHOST),
    ]);
    let mut zones = vec![
        zone("good.test", &["mx.good.test"]),
        zone("plain.test", &["mx.plain.test"]),
        zone("expired.test", &["mx.expired.test"]),
        zone("wrongname.test", &["mx.wrongname.test"]),
        zone("danematch.test", &["mx.danematch.test"]).with(|z| z.ds = true),
        zone("danemiss.test", &["mx.danemiss.test"]).with(|z| z.ds = true),
        zone("daneodd.test", &["mx.daneodd.test"]).with(|z| z.ds = true),
        zone("daneunsigned.test", &["mx.daneunsigned.test"]).with(|z| z.ds = false),
        zone("stsmiss.test", &["mx.stsmiss.test", "mx.good.test"])
            .with(|z| z.sts = vec!["v=STSv1; id=20260301T000000".to_owned()]),
        zone("mute.test", &["mx.mute.test"]),
        zone("closed.test", &["mx.closed.test"]),
    ];
    // 50 MX hosts, all the good server under names it does not carry.
    let many: Vec<String> = (0..50).map(|i| format!("mx{i:02}.many.test")).collect();
    let mut many_zone = zone("many.test", &[]);
    many_zone.mx = many
        .iter()
        .enumerate()
        .map(|(i, h)| (u16::try_from(100 - i).unwrap(), h.clone()))
        .collect();
    for host in &many {
        records.push(a(host, good_ip));
    }
    zones.push(many_zone);
    // DANE: the leaf's SPKI (DANE-EE) where it matches, the intermediate
    // (DANE-TA) beside a wrong DANE-EE record, a wrong digest, an
    // unassigned usage, and a wrong digest in an unsigned zone.
    records.extend([
        tlsa("mx.danematch.test", 3, 1, 1, vec![0x11; 32]),
        tlsa("mx.danematch.test", 2, 0, 1, unhex(intermediate_sha256)),
        tlsa("mx.danemiss.test", 3, 1, 1, vec![0x11; 32]),
        tlsa("mx.danemiss.test", 3, 0, 2, vec![0x22; 64]),
        tlsa(
            "mx.daneodd.test",
            4,
            1,
            1,
            unhex(leaf_spki_sha256).iter().map(|b| b ^ 0xff).collect(),
        ),
        tlsa("mx.daneunsigned.test", 3, 1, 1, vec![0x11; 32]),
    ]);
    for z in &zones {
        records.extend(z.records().unwrap());
    }
    records
}

async fn probe(config: &Config) -> (Vec<SupplierObservations>, Vec<SupplierResult>, Vec<Scope>) {
    let observations = probe_suppliers(&config.suppliers, &config.probe, Arc::new(Silent))
        .await
        .unwrap();
    let results = checks::evaluate(&observations, chrono::Utc::now(), &Policy::default());
    let scopes = checks::scopes(&observations, &results);
    (observations, results, scopes)
}

fn result<'a>(results: &'a [SupplierResult], id: &str) -> &'a SupplierResult {
    results
        .iter()
        .find(|r| r.supplier.id.as_str() == id)
        .unwrap_or_else(|| panic!("no supplier {id}"))
}

/// `(id, target)` of the supplier's MX findings.
fn mx_findings(r: &SupplierResult) -> BTreeSet<(String, String)> {
    r.findings
        .iter()
        .filter(|f| MX_IDS.contains(&f.check.as_str()))
        .map(|f| (f.check.as_str().to_owned(), f.target.clone()))
        .collect()
}

fn one(id: &str, target: &str) -> BTreeSet<(String, String)> {
    BTreeSet::from([(id.to_owned(), target.to_owned())])
}

fn scope_of<'a>(scopes: &'a [Scope], supplier: &str, target: &str) -> &'a Scope {
    scopes
        .iter()
        .find(|s| s.supplier == supplier && s.target == target && s.family == "email")
        .unwrap_or_else(|| panic!("no email scope for {supplier} {target}: {scopes:?}"))
}

/// No STARTTLS, an expired certificate, one for another name.
fn certificate_cases(results: &[SupplierResult]) {
    let plain = result(results, "plain");
    assert_eq!(
        mx_findings(plain),
        one("email.starttls_missing", "mx.plain.test:25")
    );
    let f = &plain
        .findings
        .iter()
        .find(|f| f.check.as_str() == "email.starttls_missing")
        .unwrap();
    assert_eq!(f.severity, checks::Severity::High);
    assert_eq!(f.evidence["reason"], "not_offered");
    assert!(
        f.evidence["transcript"][0]
            .as_str()
            .unwrap()
            .starts_with("S: 220")
    );

    let expired = result(results, "expired");
    assert_eq!(
        mx_findings(expired),
        one("email.mx_tls_invalid", "mx.expired.test:25")
    );
    let f = expired
        .findings
        .iter()
        .find(|f| f.check.as_str() == "email.mx_tls_invalid")
        .unwrap();
    assert_eq!(f.evidence["tls_check"], "tls.cert_expired");
    assert_eq!(
        f.severity,
        checks::Severity::Critical,
        "the TLS rule's severity"
    );
    assert!(f.summary.contains("mx.expired.test"), "{}", f.summary);
    // No tls.* finding of its own, and no protocol rule for MX hosts.
    assert!(
        expired
            .findings
            .iter()
            .all(|f| !f.check.as_str().starts_with("tls."))
    );
    assert!(
        !f.evidence["tls_checks"]
            .to_string()
            .contains("tls.no_tls13")
    );

    let wrong = result(results, "wrongname");
    assert_eq!(
        mx_findings(wrong),
        one("email.mx_tls_invalid", "mx.wrongname.test:25")
    );
    let f = wrong
        .findings
        .iter()
        .find(|f| f.check.as_str() == "email.mx_tls_invalid")
        .unwrap();
    assert_eq!(f.evidence["tls_check"], "tls.hostname_mismatch");
    assert_eq!(f.severity, checks::Severity::High);
}

/// A DANE mismatch in a signed zone, an unusable TLSA, an MX the MTA-STS
/// policy leaves out.
fn dane_and_policy_cases(observations: &[SupplierObservations], results: &[SupplierResult]) {
    let miss = result(results, "danemiss");
    assert_eq!(
        mx_findings(miss),
        one("email.dane_mismatch", "mx.danemiss.test:25")
    );
    let f = miss
        .findings
        .iter()
        .find(|f| f.check.as_str() == "email.dane_mismatch")
        .unwrap();
    assert_eq!(f.evidence["usable"].as_array().unwrap().len(), 2);
    assert_eq!(f.evidence["zone_apex"], "danemiss.test");

    // The unassigned usage is evidence in the observation, not a finding.
    let odd = observations
        .iter()
        .find(|o| o.supplier.id.as_str() == "daneodd")
        .unwrap();
    let mx = &odd.domains[0].mail_servers.as_ref().unwrap().probed[0];
    assert_eq!(mx.tlsa.as_ref().unwrap().answer.records()[0].usage, 4);

    let sts = result(results, "stsmiss");
    assert_eq!(
        mx_findings(sts),
        one("email.mta_sts_mx_mismatch", "stsmiss.test")
    );
    let f = sts
        .findings
        .iter()
        .find(|f| f.check.as_str() == "email.mta_sts_mx_mismatch")
        .unwrap();
    assert_eq!(f.evidence["unmatched"], serde_json::json!(["mx.good.test"]));
    assert_eq!(f.severity, checks::Severity::Medium);
}

/// A mute server and a closed port: error lines, incomplete scopes.
fn blind_spots(
    observations: &[SupplierObservations],
    results: &[SupplierResult],
    scopes: &[Scope],
) {
    // A server that greets and never answers EHLO: bounded, an error line,
    // no finding, and its scope incomplete so nothing it had resolves.
    let mute = result(results, "mute");
    assert!(mx_findings(mute).is_empty(), "{:?}", mute.findings);
    assert_eq!(mute.errors.len(), 1, "{:?}", mute.errors);
    assert_eq!(mute.errors[0].target, "mx.mute.test:25");
    assert!(
        mute.errors[0].message.contains("EHLO"),
        "{}",
        mute.errors[0].message
    );
    assert!(!scope_of(scopes, "mute", "mx.mute.test:25").complete);
    let mute_obs = observations
        .iter()
        .find(|o| o.supplier.id.as_str() == "mute")
        .unwrap();
    let mx = &mute_obs.domains[0].mail_servers.as_ref().unwrap().probed[0];
    assert!(
        matches!(
            mx.session,
            SmtpSession::Stopped {
                timed_out: true,
                ..
            }
        ),
        "{:?}",
        mx.session
    );
    assert!(mx.elapsed_ms < 6_000, "{}", mx.elapsed_ms);
    // The DNS-based email checks of the domain stay judged.
    assert!(scope_of(scopes, "mute", "mute.test").complete);

    // A closed port: the monitor's blindness, with the remedy.
    let closed = result(results, "closed");
    assert!(mx_findings(closed).is_empty(), "{:?}", closed.findings);
    assert_eq!(closed.errors.len(), 1, "{:?}", closed.errors);
    assert_eq!(closed.errors[0].target, "mx.closed.test:25");
    assert!(
        closed.errors[0].message.contains("smtp = false"),
        "{}",
        closed.errors[0].message
    );
    assert!(!scope_of(scopes, "closed", "mx.closed.test:25").complete);
    assert!(scope_of(scopes, "closed", "closed.test").complete);
}

/// 50 MX hosts: 10 probed.
fn bounded_list(observations: &[SupplierObservations], results: &[SupplierResult]) {
    // 50 MX hosts: the 10 of lowest preference probed, 40 named as skipped.
    let many = observations
        .iter()
        .find(|o| o.supplier.id.as_str() == "many")
        .unwrap();
    let servers = many.domains[0].mail_servers.as_ref().unwrap();
    assert_eq!(servers.probed.len(), MAX_MX);
    assert_eq!(servers.skipped_total, 40);
    assert_eq!(servers.probed[0].host, "mx49.many.test");
    assert_eq!(servers.probed[0].preference, 51);
    let many_result = result(results, "many");
    assert!(
        many_result
            .errors
            .iter()
            .any(|e| e.target == "many.test" && e.message.contains("40 MX hosts")),
        "{:?}",
        many_result.errors
    );
    // Each probed host's certificate does not name it.
    assert_eq!(
        many_result
            .findings
            .iter()
            .filter(|f| f.check.as_str() == "email.mx_tls_invalid")
            .count(),
        MAX_MX
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_mail_server_case_raises_exactly_its_finding() {
    let cases = cases().await;
    let config = Config::parse(&cases.config, &cases.world.dir().join("mx.toml"), None).unwrap();
    let started = Instant::now();
    let (observations, results, scopes) = probe(&config).await;
    // The mute server and the 50 MX hosts are bounded: the run takes a few
    // timeouts (2 s each), not one per host.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );

    // Nothing wrong: no MX finding, no error line, the scope complete.
    for id in ["good", "danematch", "daneodd", "daneunsigned"] {
        let r = result(&results, id);
        assert!(mx_findings(r).is_empty(), "{id}: {:?}", r.findings);
        assert!(r.errors.is_empty(), "{id}: {:?}", r.errors);
        let target = format!("mx.{id}.test:25");
        assert!(scope_of(&scopes, id, &target).complete, "{id}");
    }

    certificate_cases(&results);

    dane_and_policy_cases(&observations, &results);

    blind_spots(&observations, &results, &scopes);

    bounded_list(&observations, &results);

    // Observations are data: they survive a JSON round trip.
    for o in &observations {
        for d in &o.domains {
            let json = serde_json::to_string(d).unwrap();
            let back: supplywatch::probe::dns::DomainObservation =
                serde_json::from_str(&json).unwrap();
            assert_eq!(&back, d);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_mail_servers_and_smtp_false_turns_them_off() {
    let cases = cases().await;
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", &cases.config);
    let run = scratch
        .run_async(&["check", "--format", "json", "plain", "closed"])
        .await;
    run.expect_code(0);
    let report = run.json();
    let suppliers = report["suppliers"].as_array().unwrap();
    let plain = suppliers.iter().find(|s| s["id"] == "plain").unwrap();
    let f = plain["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "email.starttls_missing")
        .unwrap_or_else(|| panic!("{plain}"));
    assert_eq!(f["target"], "mx.plain.test:25");
    let closed = suppliers.iter().find(|s| s["id"] == "closed").unwrap();
    assert!(
        closed["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| !MX_IDS.contains(&f["check"].as_str().unwrap())),
        "{closed}"
    );
    assert!(run.stderr.contains("mx.closed.test:25"), "{}", run.stderr);
    assert!(run.stderr.contains("smtp = false"), "{}", run.stderr);

    let off = scratch.write(
        "off.toml",
        cases
            .config
            .replace("smtp_port =", "smtp = false\nsmtp_port ="),
    );
    let run = scratch
        .run_async(&[
            "--config",
            off.to_str().unwrap(),
            "check",
            "--format",
            "json",
            "plain",
            "closed",
        ])
        .await;
    run.expect_code(0);
    let report = run.json();
    for s in report["suppliers"].as_array().unwrap() {
        assert!(
            s["findings"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| !MX_IDS.contains(&f["check"].as_str().unwrap())),
            "{s}"
        );
        assert!(s.get("errors").is_none(), "{s}");
    }
    assert!(!run.stderr.contains("mx.closed.test"), "{}", run.stderr);
}

/// A finding of a mail server survives a run that could not reach it, and
/// resolves once the server is reached and fixed: `check --save` three
/// times over one supplier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_mail_server_resolves_nothing() {
    let cases = cases().await;
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", &cases.config);
    let save = || scratch.run_async(&["check", "--save", "--format", "json", "plain"]);

    let first = save().await;
    first.expect_code(0);
    assert!(first.stderr.contains("0 resolved"), "{}", first.stderr);
    let plain_target = "mx.plain.test:25";
    assert!(first.stdout.contains(plain_target), "{}", first.stdout);

    // Port closed: an error line, and the finding neither resolves nor fires.
    cases.sinks[1].stop().await;
    let second = save().await;
    second.expect_code(0);
    assert!(
        second.stderr.contains("0 opened, 0 reopened, 0 resolved"),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains("could not be reached"),
        "{}",
        second.stderr
    );

    // Back, now with STARTTLS and a certificate naming it: resolved.
    let leaf = cases
        .world
        .pki()
        .issue(&LeafSpec::issued("mx.plain.test", cases.world.now, 10, 90))
        .unwrap();
    let _fixed = SmtpSink::start_with(
        SinkOptions::default()
            .ip(cases.ips[1])
            .port(cases.port)
            .starttls(server_config(&leaf, MODERN).unwrap())
            .within(cases.world.shutdown_token()),
    )
    .await
    .unwrap();
    let third = save().await;
    third.expect_code(0);
    assert!(
        third.stderr.contains("0 opened, 0 reopened, 1 resolved"),
        "{}",
        third.stderr
    );
    assert!(!third.stdout.contains(plain_target), "{}", third.stdout);
}

/// What a hand-scripted mail server does with each connection.
#[derive(Debug, Clone, Copy)]
enum Script {
    /// Answers EHLO with `250-` lines for ever, one every few milliseconds.
    EndlessReply,
    /// Greets with a line of a megabyte and no end.
    LongLine,
    /// Offers STARTTLS and answers it `454`.
    RefuseStartTls,
    /// Says `220` to STARTTLS, then sends garbage instead of TLS.
    GarbageTls,
    /// Greets with `554`: this client is not served.
    Banner554,
    /// Says `220` to STARTTLS and sends bytes with it, before any hello.
    DataAfterStartTls,
}

async fn scripted(script: Script, mut stream: tokio::net::TcpStream) -> std::io::Result<()> {
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
    if let Script::LongLine = script {
        let chunk = vec![b'2'; 64 * 1024];
        for _ in 0..16 {
            stream.write_all(&chunk).await?;
        }
        return Ok(());
    }
    if let Script::Banner554 = script {
        stream
            .write_all(b"554 5.7.1 no service for you\r\n")
            .await?;
        return Ok(());
    }
    stream.write_all(b"220 raw ESMTP\r\n").await?;
    let (read, mut write) = stream.split();
    let mut lines = BufReader::new(read).lines();
    while let Some(line) = lines.next_line().await? {
        let command = line.to_ascii_uppercase();
        if command.starts_with("EHLO") {
            if let Script::EndlessReply = script {
                loop {
                    write.write_all(b"250-more and more\r\n").await?;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            write.write_all(b"250-raw\r\n250 STARTTLS\r\n").await?;
        } else if command == "STARTTLS" {
            if let Script::RefuseStartTls = script {
                write.write_all(b"454 4.7.0 TLS not available\r\n").await?;
            } else {
                if let Script::DataAfterStartTls = script {
                    // One write, so that the client reads both at once.
                    write.write_all(b"220 go ahead\r\n250 injected\r\n").await?;
                    return Ok(());
                }
                write.write_all(b"220 go ahead\r\n").await?;
                // The ClientHello first, then garbage in answer to it.
                let mut hello = [0_u8; 512];
                let _ = tokio::io::AsyncReadExt::read(lines.get_mut(), &mut hello).await?;
                write.write_all(&[0x42; 512]).await?;
                return Ok(());
            }
        } else if command == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        }
    }
    Ok(())
}

/// Hostile and broken mail servers: every one ends within a few timeouts,
/// with a precise finding or an error line, never both, never a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_mail_servers_are_bounded_and_told_precisely() {
    use supplywatch::probe::DnsResolver;
    use supplywatch::probe::smtp::{SmtpProber, SmtpStage};
    use supplywatch::probe::tls::TlsProber;

    let world = World::builder()
        .record(a("raw.test", Ipv4Addr::LOCALHOST))
        .start()
        .await
        .unwrap();
    let cases = [
        (Script::EndlessReply, None, Some("more than 64 lines")),
        (Script::LongLine, None, Some("longer than 1024 bytes")),
        (
            Script::RefuseStartTls,
            Some(("refused", "454 4.7.0 TLS not available")),
            None,
        ),
        (Script::GarbageTls, Some(("handshake_failed", "")), None),
        (Script::Banner554, None, Some("554 5.7.1 no service")),
        (
            Script::DataAfterStartTls,
            None,
            Some("sent data after its 220 to STARTTLS"),
        ),
    ];
    for (script, finding, error) in cases {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        world.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(scripted(script, stream));
            }
        });
        let text = format!(
            "[probe]\nnameservers = [\"{}\"]\ntimeout_secs = 2\nallow_private_targets = true\nsmtp_port = {port}\n",
            world.dns
        );
        let config = Config::parse(&text, &world.dir().join("raw.toml"), None).unwrap();
        let prober = SmtpProber::new(
            &config.probe,
            TlsProber::new(&config.probe).unwrap(),
            DnsResolver::new(&config.probe).unwrap(),
        );
        let started = Instant::now();
        let mx = prober.probe_mx("raw.test", 10).await;
        assert!(started.elapsed() < Duration::from_secs(8), "{script:?}");
        assert!(mx.transcript.len() <= supplywatch::probe::smtp::MAX_TRANSCRIPT);
        let findings = checks::mx::check_server(&mx, chrono::Utc::now(), &Policy::default());
        let line = checks::mx::server_not_judged(&mx, port);
        match (finding, error) {
            (Some((reason, reply)), None) => {
                assert!(line.is_none(), "{script:?}: {line:?}");
                assert_eq!(findings.len(), 1, "{script:?}: {findings:?}");
                let f = &findings[0];
                assert_eq!(f.check.as_str(), "email.starttls_missing");
                assert_eq!(f.target, "raw.test:25");
                assert_eq!(f.evidence["reason"], reason, "{script:?}");
                assert!(f.summary.contains(reply), "{}", f.summary);
            }
            (None, Some(text)) => {
                assert!(findings.is_empty(), "{script:?}: {findings:?}");
                let line = line.unwrap_or_else(|| panic!("{script:?}: no error line"));
                assert!(line.contains(text), "{script:?}: {line}");
                assert!(
                    matches!(mx.session, SmtpSession::Stopped { stage, .. } if stage != SmtpStage::Handshake),
                    "{:?}",
                    mx.session
                );
            }
            _ => unreachable!(),
        }
    }
}
