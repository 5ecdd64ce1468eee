//! The check catalogue against the test world: every [`CheckId`] is raised
//! by at least one scenario below, and no scenario raises an id outside the
//! catalogue. The scenarios run through the binary (`check --save`,
//! `findings`, `obligations --dry-run`, the questionnaire commands) against
//! real servers on loopback; plain HTTP on "port 80", which the world
//! cannot bind, goes through the library's prober with the plain site's
//! port standing for 80.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use chrono::Utc;
use supplywatch::checks::{CheckId, Policy};
use supplywatch::probe::DnsResolver;
use supplywatch::probe::http::{HttpOptions, HttpProber};
use supplywatch_testworld::zone::{clean_site, security_txt};
use supplywatch_testworld::{MailDomain, Reply, RevocationCase, SiteSpec, TlsCase, WorldBuilder};

use crate::support::{Scratch, arg};

/// Contact domain of the sites' `security.txt`.
const CONTACT: &str = "cat.test";

/// Which scenario first raised each id.
type Raised = BTreeMap<String, String>;

fn note(raised: &mut Raised, id: &str, scenario: &str) {
    raised
        .entry(id.to_owned())
        .or_insert_with(|| scenario.to_owned());
}

/// Every finding's id in a `check`/`findings`/`obligations` JSON document,
/// noted under the supplier it was raised for.
fn note_json(raised: &mut Raised, document: &serde_json::Value, source: &str) {
    let findings: Vec<&serde_json::Value> = match document.get("suppliers") {
        Some(suppliers) => suppliers
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["findings"].as_array().unwrap().iter())
            .collect(),
        None => document
            .get("findings")
            .unwrap_or(document)
            .as_array()
            .unwrap_or_else(|| panic!("no findings in {document}"))
            .iter()
            .collect(),
    };
    for f in findings {
        let id = f["check"].as_str().unwrap();
        let target = f["target"].as_str().unwrap_or("");
        note(raised, id, &format!("{source}: {target}"));
    }
}

/// Domains each missing one or more things.
fn mail_domains() -> Vec<MailDomain> {
    vec![
        // dns.caa_missing, dns.single_nameserver, email.spf_missing,
        // email.dmarc_missing, email.mx_missing, email.mta_sts_missing,
        // email.tlsrpt_missing.
        MailDomain::good("bare.cat.test").with(|z| {
            z.caa = false;
            z.nameservers.truncate(1);
            z.spf.clear();
            z.dmarc.clear();
            z.mx.clear();
            z.sts.clear();
            z.tlsrpt.clear();
        }),
        MailDomain::good("permissive.cat.test").with(|z| {
            z.spf = vec!["v=spf1 ip4:192.0.2.0/24 +all".to_owned()];
            z.dmarc = vec!["v=DMARC1; p=none; rua=mailto:d@permissive.cat.test".to_owned()];
        }),
        MailDomain::good("two-spf.cat.test").with(|z| {
            z.spf = vec!["v=spf1 -all".to_owned(), "v=spf1 mx -all".to_owned()];
            z.dmarc = vec!["v=DMARC1; p=reject".to_owned()];
        }),
        MailDomain::good("bad-spf.cat.test").with(|z| {
            z.spf = vec!["v=spf1 ip4:192.0.2.0/33 -all".to_owned()];
        }),
        // Three lookups that find nothing: a permerror of the limits.
        MailDomain::good("void.cat.test").with(|z| {
            z.spf =
                vec!["v=spf1 a:gone1.cat.test a:gone2.cat.test a:gone3.cat.test -all".to_owned()];
        }),
    ]
}

/// Sites each missing something in their headers or `security.txt`.
pub(crate) fn sites() -> Vec<(&'static str, SiteSpec)> {
    vec![
        (
            "bare-site.cat.test",
            SiteSpec::https().root(Reply::html("<!doctype html><title>bare</title>")),
        ),
        (
            "short-hsts.cat.test",
            clean_site(CONTACT)
                .root(Reply::secure_page().replace("strict-transport-security", "max-age=600")),
        ),
        (
            "versioned.cat.test",
            clean_site(CONTACT).root(Reply::secure_page().replace("server", "Apache/2.4.41")),
        ),
        (
            "txt-expired.cat.test",
            SiteSpec::https()
                .root(Reply::secure_page())
                .security_txt_text(&security_txt(CONTACT, -10)),
        ),
        (
            "txt-far.cat.test",
            SiteSpec::https()
                .root(Reply::secure_page())
                .security_txt_text(&security_txt(CONTACT, 800)),
        ),
    ]
}

pub(crate) fn supplier(
    text: &mut String,
    id: &str,
    criticality: &str,
    domains: &[&str],
    endpoints: &[String],
) {
    let quoted = |items: &mut dyn Iterator<Item = &str>| {
        items
            .map(|i| format!("\"{i}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = write!(
        text,
        "\n[[supplier]]\nid = \"{id}\"\nname = \"Case {id}\"\ncriticality = \"{criticality}\"\n\
         domains = [{}]\nendpoints = [{}]\n",
        quoted(&mut domains.iter().copied()),
        quoted(&mut endpoints.iter().map(String::as_str)),
    );
}

/// The world of [`probes`]: every TLS case, the mail domains, a revoked
/// endpoint and the posture sites, one supplier each; and its config.
pub(crate) async fn world() -> (supplywatch_testworld::World, String) {
    let domains = mail_domains();
    let mut builder =
        WorldBuilder::default().records(domains.iter().flat_map(|z| z.records().unwrap()));
    for (host, spec) in sites() {
        builder = builder.site(host, spec);
    }
    let world = builder.start().await.unwrap();
    let mut text = format!(
        "[probe]\nnameservers = [\"{}\"]\nextra_roots = [\"{}\"]\ntimeout_secs = 3\nallow_private_targets = true\nsmtp = false\n\
         [report]\nconcentration_alert = 1\n",
        world.dns,
        world.roots_pem.display()
    );
    for case in TlsCase::ALL {
        let id = format!("tls-{}", format!("{case:?}").to_ascii_lowercase());
        supplier(&mut text, &id, "standard", &[], &[world.endpoint(case)]);
    }
    for zone in &domains {
        let id = zone.name.split('.').next().unwrap().to_owned();
        supplier(&mut text, &id, "important", &[zone.name.as_str()], &[]);
    }
    supplier(&mut text, "gone", "standard", &["gone.cat.test"], &[]);
    supplier(
        &mut text,
        "revoked",
        "standard",
        &[],
        &[world.revocation_endpoint(RevocationCase::CrlRevoked)],
    );
    for (host, _) in sites() {
        let id = host.split('.').next().unwrap().to_owned();
        supplier(
            &mut text,
            &id,
            "standard",
            &[],
            &[world.site_endpoint(host)],
        );
    }
    (world, text)
}

/// Every TLS case, the domains and the sites through `check --save`, then
/// the stored findings (the portfolio's concentration is judged as the run
/// is saved: the domains share one DNS provider).
async fn probes(raised: &mut Raised) {
    let (_world, text) = world().await;
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", text);
    let run = scratch
        .run_async(&["check", "--save", "--format", "json"])
        .await;
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    note_json(raised, &run.json(), "check");
    let stored = scratch
        .run_async(&["findings", "--all", "--format", "json"])
        .await;
    stored.expect_code(0);
    note_json(raised, &stored.json(), "findings");
}

/// `check` in the signed world (its trust anchor configured): a zone with
/// expired signatures and one with a DNSKEY but no DS at its parent.
async fn dnssec(raised: &mut Raised) {
    let world = crate::dnssec::signed_world().await;
    let mut text = format!(
        "[probe]\nnameservers = [\"{}\"]\ntrust_anchor = \"{}\"\ntimeout_secs = 3\nallow_private_targets = true\nsmtp = false\n",
        world.dns,
        world.trust_anchor.as_ref().unwrap().display()
    );
    supplier(
        &mut text,
        "expired",
        "standard",
        &["expired.signed.test"],
        &[],
    );
    supplier(&mut text, "nods", "standard", &["nods.signed.test"], &[]);
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", text);
    let run = scratch.run_async(&["check", "--format", "json"]).await;
    run.expect_code(0);
    note_json(raised, &run.json(), "check (signed zones)");
}

/// `check` over the mail-server cases: MX hosts without STARTTLS, with bad
/// certificates, TLSA that matches nothing in a signed zone, outside the
/// MTA-STS policy.
async fn mail_servers(raised: &mut Raised) {
    let cases = crate::mx::cases().await;
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", &cases.config);
    let run = scratch.run_async(&["check", "--format", "json"]).await;
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    note_json(raised, &run.json(), "check (mail servers)");
    drop(cases.world);
}

/// A plain-HTTP site on "port 80" that never sends its visitors to HTTPS.
async fn plain_http(raised: &mut Raised) {
    let world = WorldBuilder::default()
        .site("plain.cat.test", SiteSpec::plain_http())
        .start()
        .await
        .unwrap();
    let config = crate::http::config(&world, true, Duration::from_secs(5));
    let prober = HttpProber::with_options(
        &config,
        DnsResolver::new(&config).unwrap(),
        HttpOptions {
            plain_http_ports: vec![world.site_addr("plain.cat.test").port()],
            ..HttpOptions::default()
        },
    )
    .unwrap();
    let target = world.site_endpoint("plain.cat.test").parse().unwrap();
    let obs = prober.probe(&target).await;
    for f in supplywatch::checks::http::check(&obs, Utc::now(), &Policy::default()) {
        note(raised, f.check.as_str(), "plain http: plain.cat.test");
    }
}

/// Contracts, certifications, onboarding, questionnaires and the Register
/// of Information, judged by `obligations --dry-run` with dates around today.
#[expect(
    clippy::too_many_lines,
    reason = "the config is the scenario: one supplier per paperwork id"
)]
fn paperwork(raised: &mut Raised) {
    let today = Utc::now().date_naive();
    let at = |offset: i64| {
        if offset >= 0 {
            today + chrono::Days::new(offset.unsigned_abs())
        } else {
            today - chrono::Days::new(offset.unsigned_abs())
        }
        .to_string()
    };
    let scratch = Scratch::new();
    std::fs::create_dir(scratch.path("data")).unwrap();
    let complete = "owner = \"vendors@bank.example\"\nsecurity_contact = \"security@x.example\"\nexit_plan = \"exit.md\"\n";
    let config = format!(
        r#"[register]
reference_date = {reference}

[entity]
lei = "724500EXAMPLEBNK0089"
name = "Example Bank N.V."
country = "NL"
type = "credit-institution"
competent_authority = "De Nederlandsche Bank"
currency = "EUR"
total_assets = 48000000000
consolidated = false
integrated = 2025-01-17

[[function]]
id = "F1"
name = "Payment processing"
activity = "payment-services"
critical = true
reasons = "Payments stop for every customer"
assessed = 2026-06-30
rto_hours = 4
rpo_hours = 1
impact = "high"

[[supplier]]
id = "lapsed"
name = "Lapsed Ltd"
criticality = "standard"
certifications = [{{ kind = "ISO 27001", expires = {cert_expired} }}]
{complete}
[supplier.contract]
reference = "C-1"
start = 2024-01-01
end = {lapsed_end}
notice_days = 30

[[supplier]]
id = "ending"
name = "Ending Ltd"
criticality = "standard"
certifications = [{{ kind = "SOC 2 Type II", expires = {cert_expiring} }}]
{complete}
[supplier.contract]
reference = "C-2"
start = 2024-01-01
end = {ending_end}
notice_days = 60

[[supplier]]
id = "sketchy"
name = "Sketchy Ltd"
criticality = "critical"

[supplier.contract]
reference = "C-3"
start = 2024-01-01
end = 2029-01-01
notice_days = 30

[[supplier.contract.service]]
type = "cloud-iaas"
functions = ["F1"]

[[supplier]]
id = "late"
name = "Late Ltd"
criticality = "standard"
{complete}
[[supplier]]
id = "answered"
name = "Answered Ltd"
criticality = "standard"
{complete}"#,
        reference = at(30),
        lapsed_end = at(-30),
        cert_expired = at(-10),
        ending_end = at(75),
        cert_expiring = at(30),
    );
    scratch.write("paperwork.toml", config);
    let (config, db) = (
        scratch.path("paperwork.toml"),
        scratch.path("data/watch.db"),
    );
    let run = |args: &[&str]| {
        let mut all = vec!["--config", arg(&config), "--database", arg(&db)];
        all.extend_from_slice(args);
        let run = scratch.run(&all);
        run.expect_code(0);
        run
    };
    run(&["sync"]);
    let (sent, due, answered) = (at(-60), at(-30), at(-20));
    for supplier in ["late", "answered"] {
        run(&[
            "questionnaire",
            "send",
            supplier,
            "--template",
            "sig-lite",
            "--due",
            &due,
            "--on",
            &sent,
        ]);
    }
    run(&["questionnaire", "answer", "answered", "--on", &answered]);
    let judged = run(&["obligations", "--dry-run", "--format", "json"]);
    note_json(raised, &judged.json(), "obligations");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_catalogue_id_is_raised_by_a_scenario_and_none_outside_it() {
    let mut raised = Raised::new();
    probes(&mut raised).await;
    dnssec(&mut raised).await;
    mail_servers(&mut raised).await;
    plain_http(&mut raised).await;
    paperwork(&mut raised);

    let outside: Vec<&String> = raised
        .keys()
        .filter(|id| CheckId::parse(id).is_none())
        .collect();
    assert!(outside.is_empty(), "ids outside the catalogue: {outside:?}");
    let never: Vec<&str> = CheckId::NAMES
        .iter()
        .copied()
        .filter(|id| !raised.contains_key(*id))
        .collect();
    let seen: BTreeSet<&String> = raised.keys().collect();
    assert!(
        never.is_empty(),
        "catalogue ids no scenario raised: {never:?}\nraised: {raised:#?}\n({} of {})",
        seen.len(),
        CheckId::ALL.len()
    );
}
