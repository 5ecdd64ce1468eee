//! The domain probe and the `dns.*`/`email.*` checks against the local
//! world's authoritative DNS: one zone per case, each a healthy domain with
//! one thing changed, so every test asserts the exact set of ids.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use supplywatch::checks::{self, Finding, Policy};
use supplywatch::config::ProbeConfig;
use supplywatch::probe::DnsResolver;
use supplywatch::probe::dns::mtasts::PolicyFetchError;
use supplywatch::probe::dns::{
    DomainObservation, MtaStsFetch, PolicyFetch, Resolution, SpfResult, probe_domain,
};
use supplywatch::registry::Domain;
use supplywatch_testworld::proto::rr::RData;
use supplywatch_testworld::proto::rr::rdata::TXT;
use supplywatch_testworld::{DnsRecord, MailDomain, World, WorldBuilder};

use crate::support::day;

const GOOD_POLICY: &str =
    "version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmax_age: 604800\r\n";

/// An MTA-STS fetcher that serves canned bodies by URL (a valid policy for
/// any other URL) and remembers what it was asked for.
#[derive(Default)]
struct FakeFetch {
    replies: HashMap<String, Result<String, PolicyFetchError>>,
    /// URLs that never answer.
    stalls: Vec<String>,
    asked: Mutex<Vec<String>>,
}

impl FakeFetch {
    fn stall(mut self, domain: &str) -> Self {
        self.stalls
            .push(format!("https://mta-sts.{domain}/.well-known/mta-sts.txt"));
        self
    }

    fn reply(mut self, domain: &str, reply: Result<&str, &str>) -> Self {
        self.replies.insert(
            format!("https://mta-sts.{domain}/.well-known/mta-sts.txt"),
            reply
                .map(str::to_owned)
                .map_err(|detail| PolicyFetchError::Failed {
                    detail: detail.to_owned(),
                }),
        );
        self
    }
}

impl MtaStsFetch for FakeFetch {
    fn fetch<'a>(
        &'a self,
        url: &'a str,
    ) -> Pin<Box<dyn std::future::Future<Output = Result<String, PolicyFetchError>> + Send + 'a>>
    {
        self.asked.lock().unwrap().push(url.to_owned());
        if self.stalls.iter().any(|u| u == url) {
            return Box::pin(std::future::pending());
        }
        let reply = self
            .replies
            .get(url)
            .cloned()
            .unwrap_or_else(|| Ok(GOOD_POLICY.to_owned()));
        Box::pin(async move { reply })
    }
}

/// A healthy domain as a zone, its MX the host [`GOOD_POLICY`] names.
fn good(name: &str) -> MailDomain {
    MailDomain::good(name).with(|z| z.mx = vec![(10, "mx.example.test".to_owned())])
}

fn spf(text: &str) -> impl FnOnce(&mut MailDomain) + use<> {
    let text = text.to_owned();
    move |z| z.spf = vec![text]
}

async fn world(zones: &[MailDomain], extra: Vec<DnsRecord>, builder: WorldBuilder) -> World {
    builder
        .records(zones.iter().flat_map(|z| z.records().unwrap()))
        .records(extra)
        .start()
        .await
        .unwrap()
}

fn resolver_for(dns: SocketAddr, timeout_secs: u64) -> DnsResolver {
    let config = ProbeConfig {
        nameservers: vec![dns],
        extra_roots: Vec::new(),
        timeout: Duration::from_secs(timeout_secs),
        concurrency: 4,
        per_host_concurrency: 2,
        allow_private_targets: true,
        allow_metadata_targets: false,
        mta_sts_port: 443,
        trust_anchor: None,
        smtp: false,
        smtp_port: 25,
        spread: std::time::Duration::ZERO,
    };
    DnsResolver::new(&config).unwrap()
}

/// Probes `domain` and applies both check families.
async fn probe(
    resolver: &DnsResolver,
    domain: &str,
    fetch: &FakeFetch,
) -> (DomainObservation, Vec<Finding>) {
    let domain: Domain = domain.parse().unwrap();
    let obs = probe_domain(resolver, &domain, fetch).await;
    // The observation is data: it survives a JSON round trip unchanged.
    let json = serde_json::to_string(&obs).unwrap();
    assert_eq!(
        serde_json::from_str::<DomainObservation>(&json).unwrap(),
        obs
    );
    let mut findings = checks::dns::check(&obs, day(1), &Policy::default());
    findings.extend(checks::email::check(&obs, day(1), &Policy::default()));
    for f in &findings {
        assert_eq!(f.target, domain.as_str(), "targets are the bare domain");
    }
    (obs, findings)
}

fn ids(findings: &[Finding]) -> BTreeSet<&'static str> {
    findings.iter().map(|f| f.check.as_str()).collect()
}

fn find<'a>(findings: &'a [Finding], id: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.check.as_str() == id)
        .unwrap_or_else(|| panic!("no {id} in {findings:#?}"))
}

/// Asserts that exactly `expected` fire for each domain.
async fn expect(
    resolver: &DnsResolver,
    fetch: &FakeFetch,
    cases: &[(&str, &[&str])],
) -> HashMap<String, (DomainObservation, Vec<Finding>)> {
    let mut out = HashMap::new();
    for (domain, expected) in cases {
        let (obs, findings) = probe(resolver, domain, fetch).await;
        let expected: BTreeSet<&str> = expected.iter().copied().collect();
        assert_eq!(
            ids(&findings),
            expected,
            "{domain}: {findings:#?}\n{obs:#?}"
        );
        out.insert((*domain).to_owned(), (obs, findings));
    }
    out
}

/// Zones for the SPF cases, and the records their policies point at.
fn spf_zones() -> (Vec<MailDomain>, Vec<DnsRecord>) {
    // 10 lookups: a, mx, include (3) → c1: include, a (5) → c2: exists, ptr,
    // redirect (8) → c3: mx, include (10) → c4: none. One more `a` makes 11.
    let chain = |extra: &str| {
        spf(&format!(
            "v=spf1 {extra}a mx include:c1.spf-chain.test -all"
        ))
    };
    let zones = vec![
        good("good.mail.test"),
        // Its MX exchange has an address, so `mx` is not a void lookup.
        good("spf10.mail.test")
            .with(chain(""))
            .with(|z| z.mx = vec![(10, "host.spf-chain.test".to_owned())]),
        good("spf11.mail.test").with(chain("a ")),
        good("void2.mail.test").with(spf("v=spf1 a:gone1.spf-chain.test mx:gone2.spf-chain.test -all")),
        good("void3.mail.test").with(spf(
            "v=spf1 a:gone1.spf-chain.test mx:gone2.spf-chain.test exists:gone3.spf-chain.test -all",
        )),
        good("multi.mail.test").with(|z| {
            z.spf = vec!["v=spf1 -all".to_owned(), "v=spf1 mx -all".to_owned()];
        }),
        good("nospf.mail.test").with(|z| {
            z.spf = vec!["google-site-verification=abc".to_owned()];
        }),
        good("plusall.mail.test").with(spf("v=spf1 mx +all")),
        good("bareall.mail.test").with(spf("v=spf1 mx all")),
        good("neutral.mail.test").with(spf("v=spf1 mx ?all")),
        good("noall.mail.test").with(spf("v=spf1 mx")),
        good("softfail.mail.test").with(spf("v=spf1 mx ~all")),
        good("redirect.mail.test").with(spf("v=spf1 redirect=open.spf-chain.test")),
        good("loop.mail.test").with(spf("v=spf1 include:loop1.spf-chain.test -all")),
        good("mx11.mail.test").with(spf("v=spf1 mx:mx11.spf-chain.test -all")),
    ];
    let mut extra = vec![
        DnsRecord::txt(
            "c1.spf-chain.test",
            ["v=spf1 include:c2.spf-chain.test a:host.spf-chain.test -all"],
        ),
        // Split over two strings: joined without a separator (RFC 7208 3.3).
        DnsRecord::txt(
            "c2.spf-chain.test",
            [
                "v=spf1 exists:host.spf-chain.test ptr red",
                "irect=c3.spf-chain.test",
            ],
        ),
        DnsRecord::txt(
            "c3.spf-chain.test",
            ["v=spf1 mx:mx.spf-chain.test include:c4.spf-chain.test ~all"],
        ),
        DnsRecord::txt("c4.spf-chain.test", ["v=spf1 ip4:192.0.2.0/24 -all"]),
        DnsRecord::a("host.spf-chain.test", Ipv4Addr::new(192, 0, 2, 1)),
        DnsRecord::mx("mx.spf-chain.test", 10, "host.spf-chain.test").unwrap(),
        DnsRecord::a("spf10.mail.test", Ipv4Addr::new(192, 0, 2, 10)),
        DnsRecord::a("spf11.mail.test", Ipv4Addr::new(192, 0, 2, 11)),
        DnsRecord::txt("open.spf-chain.test", ["v=spf1 ?all"]),
        DnsRecord::txt(
            "loop1.spf-chain.test",
            ["v=spf1 include:loop2.spf-chain.test -all"],
        ),
        DnsRecord::txt(
            "loop2.spf-chain.test",
            ["v=spf1 include:loop1.spf-chain.test -all"],
        ),
    ];
    for i in 0..11 {
        extra.push(
            DnsRecord::mx("mx11.spf-chain.test", i, &format!("mx{i}.spf-chain.test")).unwrap(),
        );
    }
    (zones, extra)
}

#[tokio::test(flavor = "multi_thread")]
async fn spf_lookup_limits_and_endings() {
    let (zones, extra) = spf_zones();
    let world = world(&zones, extra, World::builder()).await;
    let resolver = resolver_for(world.dns, 2);
    let fetch = FakeFetch::default();
    let seen = expect(
        &resolver,
        &fetch,
        &[
            ("good.mail.test", &[]),
            ("spf10.mail.test", &[]),
            ("spf11.mail.test", &["email.spf_too_many_lookups"]),
            ("void2.mail.test", &[]),
            ("void3.mail.test", &["email.spf_too_many_lookups"]),
            ("multi.mail.test", &["email.spf_multiple"]),
            ("nospf.mail.test", &["email.spf_missing"]),
            ("plusall.mail.test", &["email.spf_permissive"]),
            ("bareall.mail.test", &["email.spf_permissive"]),
            ("neutral.mail.test", &["email.spf_permissive"]),
            ("noall.mail.test", &["email.spf_permissive"]),
            ("softfail.mail.test", &[]),
            ("redirect.mail.test", &["email.spf_permissive"]),
            ("loop.mail.test", &["email.spf_too_many_lookups"]),
            ("mx11.mail.test", &["email.spf_too_many_lookups"]),
        ],
    )
    .await;

    let ten = seen["spf10.mail.test"]
        .0
        .spf
        .as_ref()
        .unwrap()
        .evaluation
        .clone()
        .unwrap();
    assert_eq!(ten.result, SpfResult::Completed, "{ten:#?}");
    assert_eq!(
        (ten.lookups, ten.void_lookups),
        (10, 0),
        "{:#?}",
        (&ten.lookup_terms, &ten.void_terms)
    );

    let eleven = &seen["spf11.mail.test"].1;
    let f = find(eleven, "email.spf_too_many_lookups");
    assert!(
        f.summary
            .contains("the 11th is a:host.spf-chain.test in c1.spf-chain.test"),
        "{}",
        f.summary
    );
    assert_eq!(f.evidence["lookups"], 11);
    assert_eq!(f.evidence["problem"]["kind"], "too_many_lookups");

    let void = find(&seen["void3.mail.test"].1, "email.spf_too_many_lookups");
    assert_eq!(void.evidence["problem"]["kind"], "too_many_void_lookups");
    assert_eq!(void.evidence["void_lookups"], 3);
    let void2 = seen["void2.mail.test"]
        .0
        .spf
        .as_ref()
        .unwrap()
        .evaluation
        .clone()
        .unwrap();
    assert_eq!(void2.void_lookups, 2);

    assert_eq!(
        find(&seen["loop.mail.test"].1, "email.spf_too_many_lookups").evidence["problem"]["kind"],
        "loop"
    );
    assert_eq!(
        find(&seen["mx11.mail.test"].1, "email.spf_too_many_lookups").evidence["problem"]["count"],
        11
    );
    assert!(
        find(&seen["bareall.mail.test"].1, "email.spf_permissive")
            .summary
            .contains("all (which means +all)")
    );
    assert!(
        find(&seen["redirect.mail.test"].1, "email.spf_permissive")
            .summary
            .contains("ends in ?all (through redirect to open.spf-chain.test)")
    );
    assert!(
        find(&seen["noall.mail.test"].1, "email.spf_permissive")
            .summary
            .contains("no all and no redirect")
    );
    assert_eq!(
        find(&seen["nospf.mail.test"].1, "email.spf_missing").evidence["answer"]["ignored"],
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dmarc_policies_reporting_and_the_organisational_fallback() {
    let dmarc = |text: &str| {
        let text = text.to_owned();
        move |z: &mut MailDomain| {
            z.dmarc = if text.is_empty() {
                Vec::new()
            } else {
                vec![text]
            }
        }
    };
    let zones = [
        good("dmarc-none.mail.test").with(dmarc("v=DMARC1; p=none; rua=mailto:d@mail.test")),
        good("dmarc-spnone.mail.test")
            .with(dmarc("v=DMARC1; p=reject; sp=none; rua=mailto:d@mail.test")),
        good("dmarc-norua.mail.test").with(dmarc("v=DMARC1; p=quarantine")),
        good("dmarc-missing.mail.test").with(dmarc("")),
        good("dmarc-two.mail.test").with(|z| {
            z.dmarc = vec![
                "v=DMARC1; p=reject".to_owned(),
                "v=DMARC1; p=none".to_owned(),
            ];
        }),
        // Subdomains without a record: the organisational domain's applies.
        good("sub.dmarc-org.test").with(dmarc("")),
        good("sub.dmarc-org-strict.test").with(dmarc("")),
    ];
    let extra = vec![
        DnsRecord::txt(
            "_dmarc.dmarc-org.test",
            ["v=DMARC1; p=reject; sp=none; rua=mailto:d@dmarc-org.test"],
        ),
        DnsRecord::txt(
            "_dmarc.dmarc-org-strict.test",
            ["v=DMARC1; p=none; sp=reject; rua=mailto:d@dmarc-org-strict.test"],
        ),
    ];
    let world = world(&zones, extra, World::builder()).await;
    let resolver = resolver_for(world.dns, 2);
    let fetch = FakeFetch::default();
    let seen = expect(
        &resolver,
        &fetch,
        &[
            ("dmarc-none.mail.test", &["email.dmarc_policy_none"]),
            ("dmarc-spnone.mail.test", &["email.dmarc_policy_none"]),
            ("dmarc-norua.mail.test", &["email.dmarc_no_reporting"]),
            ("dmarc-missing.mail.test", &["email.dmarc_missing"]),
            ("dmarc-two.mail.test", &["email.dmarc_missing"]),
            ("sub.dmarc-org.test", &["email.dmarc_policy_none"]),
            ("sub.dmarc-org-strict.test", &[]),
        ],
    )
    .await;
    let missing = find(&seen["dmarc-missing.mail.test"].1, "email.dmarc_missing");
    assert!(
        missing
            .summary
            .contains("_dmarc.dmarc-missing.mail.test nor at _dmarc.mail.test"),
        "{}",
        missing.summary
    );
    assert!(
        find(&seen["dmarc-two.mail.test"].1, "email.dmarc_missing")
            .summary
            .contains("2 DMARC records")
    );
    assert!(
        find(&seen["dmarc-spnone.mail.test"].1, "email.dmarc_policy_none")
            .summary
            .contains("sp=none")
    );
    let org = find(&seen["sub.dmarc-org.test"].1, "email.dmarc_policy_none");
    assert_eq!(org.evidence["organizational"], true);
    assert_eq!(org.evidence["name"], "_dmarc.dmarc-org.test");
    let strict = seen["sub.dmarc-org-strict.test"].0.dmarc.as_ref().unwrap();
    assert_eq!(strict.lookups.len(), 2);
    assert!(strict.applied.as_ref().unwrap().organizational);
}

#[tokio::test(flavor = "multi_thread")]
async fn dns_infrastructure_mx_caa_ns_and_dnssec() {
    let zones = [
        good("nullmx.mail.test").with(|z| z.mx = vec![(0, ".".to_owned())]),
        good("nomx.mail.test").with(|z| z.mx = Vec::new()),
        good("www.caa-parent.test").with(|z| z.caa = false),
        good("www.nocaa.test").with(|z| z.caa = false),
        good("one-provider.dns.test").with(|z| {
            z.nameservers = vec![
                "a.ns.alpha-dns.test".to_owned(),
                "b.ns.alpha-dns.test".to_owned(),
            ];
        }),
        good("single-ns.dns.test").with(|z| z.nameservers = vec!["a.ns.alpha-dns.test".to_owned()]),
        good("unsigned.dns.test").with(|z| {
            z.dnskey = false;
            z.ds = false;
        }),
        good("ds-only.dns.test").with(|z| {
            z.dnskey = false;
            z.ds = true;
        }),
    ];
    let extra = vec![DnsRecord::caa_issue("caa-parent.test", "ca.test").unwrap()];
    let world = world(&zones, extra, World::builder()).await;
    let resolver = resolver_for(world.dns, 2);
    let fetch = FakeFetch::default();
    let seen = expect(
        &resolver,
        &fetch,
        &[
            ("nullmx.mail.test", &[]),
            ("nomx.mail.test", &["email.mx_missing"]),
            ("www.caa-parent.test", &[]),
            ("www.nocaa.test", &["dns.caa_missing"]),
            ("one-provider.dns.test", &["dns.single_nameserver"]),
            ("single-ns.dns.test", &["dns.single_nameserver"]),
            ("unsigned.dns.test", &["dns.dnssec_missing"]),
            ("ds-only.dns.test", &[]),
        ],
    )
    .await;
    let caa = seen["www.caa-parent.test"].0.caa.as_ref().unwrap();
    assert_eq!(caa.found().unwrap().name, "caa-parent.test");
    let missing = find(&seen["www.nocaa.test"].1, "dns.caa_missing");
    assert!(
        missing.summary.contains("www.nocaa.test or nocaa.test"),
        "{}",
        missing.summary
    );
    assert!(
        find(&seen["one-provider.dns.test"].1, "dns.single_nameserver")
            .summary
            .contains(
                "all 2 name servers of the zone one-provider.dns.test are under alpha-dns.test"
            )
    );
    assert!(
        find(&seen["single-ns.dns.test"].1, "dns.single_nameserver")
            .summary
            .contains("single name server")
    );
    let mx = seen["nullmx.mail.test"].0.mx.as_ref().unwrap();
    assert_eq!(mx.answer.records()[0].exchange, ".");
    assert!(
        find(&seen["unsigned.dns.test"].1, "dns.dnssec_missing")
            .summary
            .contains("no DS record")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mta_sts_and_tls_rpt() {
    let zones = [
        good("sts.mail.test"),
        good("nosts.mail.test").with(|z| z.sts = Vec::new()),
        good("stsdown.mail.test"),
        good("stsbad.mail.test"),
        good("stsnoid.mail.test").with(|z| z.sts = vec!["v=STSv1;".to_owned()]),
        good("notlsrpt.mail.test").with(|z| z.tlsrpt = Vec::new()),
        good("tlsrpt-norua.mail.test").with(|z| z.tlsrpt = vec!["v=TLSRPTv1;".to_owned()]),
    ];
    let world = world(&zones, Vec::new(), World::builder()).await;
    let resolver = resolver_for(world.dns, 2);
    let fetch = FakeFetch::default()
        .reply("stsdown.mail.test", Err("connection refused"))
        .reply("stsbad.mail.test", Ok("<html>Not Found</html>"));
    let seen = expect(
        &resolver,
        &fetch,
        &[
            ("sts.mail.test", &[]),
            ("nosts.mail.test", &["email.mta_sts_missing"]),
            ("stsdown.mail.test", &["email.mta_sts_missing"]),
            ("stsbad.mail.test", &["email.mta_sts_missing"]),
            ("stsnoid.mail.test", &["email.mta_sts_missing"]),
            ("notlsrpt.mail.test", &["email.tlsrpt_missing"]),
            ("tlsrpt-norua.mail.test", &["email.tlsrpt_missing"]),
        ],
    )
    .await;
    for (domain, reason) in [
        ("nosts.mail.test", "no_txt_record"),
        ("stsdown.mail.test", "policy_unreachable"),
        ("stsbad.mail.test", "policy_invalid"),
        ("stsnoid.mail.test", "invalid_txt_record"),
    ] {
        let f = find(&seen[domain].1, "email.mta_sts_missing");
        assert_eq!(f.evidence["reason"], reason, "{domain}: {}", f.summary);
    }
    let sts = seen["sts.mail.test"].0.mta_sts.as_ref().unwrap();
    assert_eq!(sts.id.as_deref(), Some("20260301T000000"));
    assert!(matches!(&sts.policy, PolicyFetch::Valid { policy } if policy.max_age == 604_800));
    let asked = fetch.asked.lock().unwrap().clone();
    assert!(asked.contains(&"https://mta-sts.sts.mail.test/.well-known/mta-sts.txt".to_owned()));
    assert!(
        !asked
            .iter()
            .any(|u| u.contains("nosts") || u.contains("stsnoid")),
        "no policy is fetched without a valid record: {asked:?}"
    );
}

/// The policy fetch is bounded by the configured probe timeout, not by a
/// fixed 30 seconds.
#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_policy_fetch_ends_at_the_probe_timeout() {
    let zones = [good("stsstall.mail.test")];
    let world = world(&zones, Vec::new(), World::builder()).await;
    let resolver = resolver_for(world.dns, 1);
    let fetch = FakeFetch::default().stall("stsstall.mail.test");
    let started = std::time::Instant::now();
    let (obs, findings) = probe(&resolver, "stsstall.mail.test", &fetch).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let sts = obs.mta_sts.as_ref().unwrap();
    match &sts.policy {
        PolicyFetch::Unreachable { error } => {
            assert_eq!(error, "no answer within 1 s");
        }
        other => panic!("expected an unreachable policy, got {other:?}"),
    }
    assert_eq!(
        find(&findings, "email.mta_sts_missing").evidence["reason"],
        "policy_unreachable"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn servfail_nxdomain_and_partial_failures_are_told_apart() {
    let zones = [
        good("broken.dns.test"),
        good("partial.dns.test").with(|z| z.dmarc = Vec::new()),
    ];
    let world = world(
        &zones,
        Vec::new(),
        World::builder()
            .servfail("broken.dns.test")
            .servfail("_dmarc.partial.dns.test"),
    )
    .await;
    let resolver = resolver_for(world.dns, 2);
    let fetch = FakeFetch::default();
    let seen = expect(
        &resolver,
        &fetch,
        &[
            ("broken.dns.test", &["dns.resolution_failed"]),
            ("nxdomain.dns.test", &["dns.resolution_failed"]),
            // The failed _dmarc lookup is unknown, not a missing record.
            ("partial.dns.test", &["dns.resolution_failed"]),
        ],
    )
    .await;
    let servfail = find(&seen["broken.dns.test"].1, "dns.resolution_failed");
    assert_eq!(servfail.evidence["response"], "SERVFAIL", "{servfail:#?}");
    assert_eq!(servfail.evidence["failure"]["kind"], "serv_fail");
    assert!(
        servfail.summary.contains("(SERVFAIL)"),
        "{}",
        servfail.summary
    );
    let nx = find(&seen["nxdomain.dns.test"].1, "dns.resolution_failed");
    assert_eq!(nx.evidence["response"], "NXDOMAIN");
    assert!(nx.summary.contains("does not exist"), "{}", nx.summary);
    assert!(
        seen["nxdomain.dns.test"].0.spf.is_none(),
        "nothing else is looked up"
    );
    let partial = find(&seen["partial.dns.test"].1, "dns.resolution_failed");
    assert_eq!(
        partial.evidence["failed_queries"][0]["name"],
        "_dmarc.partial.dns.test"
    );
    assert_eq!(
        partial.evidence["failed_queries"][0]["response"],
        "SERVFAIL"
    );
}

/// Address lookups (the TLS and HTTP probes' resolution) tell SERVFAIL,
/// NXDOMAIN and a timeout apart by the error's type, as record lookups do.
#[tokio::test(flavor = "multi_thread")]
async fn address_lookups_classify_failures_like_record_lookups() {
    use supplywatch::probe::LookupFailure;
    use supplywatch_testworld::dns::{MISSING_HOST, SERVFAIL_HOST};
    let world = world(&[], Vec::new(), World::builder()).await;
    let resolver = resolver_for(world.dns, 1);
    assert_eq!(
        resolver.addresses(SERVFAIL_HOST).await,
        Err(LookupFailure::ServFail)
    );
    assert_eq!(
        resolver.addresses(MISSING_HOST).await,
        Err(LookupFailure::NxDomain)
    );

    let udp = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let addr = udp.local_addr().unwrap();
    let _tcp = tokio::net::TcpListener::bind(addr).await.ok();
    let silent = resolver_for(addr, 1);
    let started = std::time::Instant::now();
    assert_eq!(
        silent.addresses("silent.dns.test").await,
        Err(LookupFailure::Timeout)
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    drop(udp);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_nameserver_is_a_timeout() {
    // A UDP socket nobody reads and a TCP listener nobody accepts on: every
    // query goes unanswered.
    let udp = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let addr = udp.local_addr().unwrap();
    let _tcp = tokio::net::TcpListener::bind(addr).await.ok();
    let resolver = resolver_for(addr, 1);
    let started = std::time::Instant::now();
    let (obs, findings) = probe(&resolver, "silent.dns.test", &FakeFetch::default()).await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        ids(&findings),
        BTreeSet::from(["dns.resolution_failed"]),
        "{obs:#?}"
    );
    let f = find(&findings, "dns.resolution_failed");
    assert_eq!(f.evidence["response"], "timeout", "{f:#?}");
    assert!(matches!(obs.resolution, Resolution::Failed { .. }));
    drop(udp);
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_records_are_capped_and_never_panic() {
    let big: Vec<String> = (0..60).map(|i| format!("{i:0>255}")).collect();
    let mut spf_strings = vec!["v=spf1 ".to_owned()];
    spf_strings.extend(big.iter().cloned());
    let mut extra = vec![
        // A 15 KiB SPF-looking record, a non-UTF-8 one with CRLF, and a
        // flood of DMARC records.
        DnsRecord::txt("hostile.mail.test", spf_strings),
        DnsRecord::new(
            "_mta-sts.hostile.mail.test",
            300,
            RData::TXT(TXT::from_bytes(vec![b"v=STSv1; id=\xff\xfe\r\n", b"abc"])),
        ),
    ];
    for i in 0..200 {
        extra.push(DnsRecord::txt(
            "_dmarc.hostile.mail.test",
            [format!("v=DMARC1; p=none; rua=mailto:{i}@x.test")],
        ));
        extra.push(DnsRecord::txt(
            "_smtp._tls.hostile.mail.test",
            [format!("v=TLSRPTv1; rua=mailto:{i}@x.test")],
        ));
    }
    let zones = [good("hostile.mail.test").with(|z| {
        z.spf = Vec::new();
        z.dmarc = Vec::new();
        z.sts = Vec::new();
        z.tlsrpt = Vec::new();
    })];
    let world = world(&zones, extra, World::builder()).await;
    let resolver = resolver_for(world.dns, 2);
    let fetch = FakeFetch::default();
    let (obs, findings) = probe(&resolver, "hostile.mail.test", &fetch).await;
    let spf = obs.spf.as_ref().unwrap();
    assert_eq!(spf.records.answer.total(), 1);
    assert!(spf.records.answer.records()[0].len() <= 4097);
    assert!(
        spf.syntax_error
            .as_ref()
            .unwrap()
            .detail
            .contains("bytes long"),
        "{spf:#?}"
    );
    let dmarc = obs.dmarc.as_ref().unwrap();
    assert_eq!(dmarc.lookups[0].answer.total(), 200);
    assert_eq!(dmarc.lookups[0].answer.records().len(), 8);
    let sts = obs.mta_sts.as_ref().unwrap();
    assert!(sts.txt_problem.is_some(), "{sts:#?}");
    assert_eq!(
        ids(&findings),
        BTreeSet::from([
            "email.dmarc_missing",
            "email.mta_sts_missing",
            "email.spf_invalid",
            "email.tlsrpt_missing"
        ]),
        "{findings:#?}"
    );
    assert!(
        find(&findings, "email.dmarc_missing")
            .summary
            .contains("200 DMARC records")
    );
}

/// A 4 KB SPF record sent over UDP in one datagram without the truncation
/// bit: hickory cannot decode the answer. It is asked again over TCP and
/// read whole; a name server whose answers cannot be read over TCP either
/// is `dns.resolution_failed` naming the query — never silence.
#[tokio::test]
async fn an_undecodable_answer_is_asked_again_over_tcp_and_else_reported() {
    let long = format!("v=spf1 {} -all", "ip4:192.0.2.1 ".repeat(290));
    assert!(long.len() > 4000);
    // Character-strings of at most 255 bytes, joined by the reader.
    let chunks: Vec<String> = long
        .as_bytes()
        .chunks(255)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    let no_spf = |z: &mut MailDomain| z.spf = Vec::new();
    let zones = [
        good("udp-only.test").with(no_spf),
        good("broken.test").with(no_spf),
        good("healthy.test"),
    ];
    let extra = vec![
        DnsRecord::txt("udp-only.test", chunks.clone()),
        DnsRecord::txt("broken.test", chunks),
    ];
    let world = world(&zones, extra, World::builder()).await;
    let (front, _guard) = supplywatch_testworld::dns::mangling_front(
        world.dns,
        &["udp-only.test", "broken.test"],
        &["broken.test"],
    )
    .await
    .unwrap();
    let fetch = FakeFetch::default();
    let resolver = resolver_for(front, 2);
    let seen = expect(
        &resolver,
        &fetch,
        &[
            ("udp-only.test", &[]),
            ("broken.test", &["dns.resolution_failed"]),
            ("healthy.test", &[]),
        ],
    )
    .await;
    // Read whole over TCP: the record is the 4 KB one.
    let (obs, _) = &seen["udp-only.test"];
    let json = serde_json::to_string(obs).unwrap();
    assert!(json.contains("ip4:192.0.2.1 ip4:192.0.2.1"), "{json}");
    let (_, findings) = &seen["broken.test"];
    let failed = find(findings, "dns.resolution_failed");
    // hickory drops an answer it cannot decode and waits on: over both
    // transports that reads as a timeout of that one query.
    assert!(
        failed.summary.contains("broken.test TXT"),
        "{}",
        failed.summary
    );
}

/// The `email.spf_invalid` cases: supplier id, the domain's SPF record,
/// the ids expected besides `email.mta_sts_missing`.
const SPF_INVALID_CASES: &[(&str, &str, &[&str])] = &[
    ("good", "v=spf1 ip4:192.0.2.0/24 -all", &[]),
    ("goodinc", "v=spf1 include:fine.spf-target.test -all", &[]),
    ("unknown", "v=spf1 foo:bar -all", &["email.spf_invalid"]),
    ("nul", "v=spf1 ip4:192.0.2.1\0 -all", &["email.spf_invalid"]),
    (
        "bidi",
        "v=spf1 ip4:192.0.2.0/24 \u{202e}lla- -all",
        &["email.spf_invalid"],
    ),
    (
        "incbroken",
        "v=spf1 include:broken.spf-target.test -all",
        &["email.spf_invalid"],
    ),
    (
        "incnospf",
        "v=spf1 include:nospf.spf-target.test -all",
        &["email.spf_invalid"],
    ),
    (
        "incgone",
        "v=spf1 include:gone.spf-target.test -all",
        &["email.spf_invalid"],
    ),
    // RFC 7208 section 12, one clause each: a c/r/t macro outside
    // explanation text (7.1), a zero digit transformer (7.3), an ip4 CIDR
    // length with a leading zero, a numeric top label, a literal `}` where
    // the domain must end, an unknown modifier whose value is no
    // macro-string, a second exp (6), and a syntax error after `all` (4.6).
    (
        "macroc",
        "v=spf1 exists:%{c}.x.test -all",
        &["email.spf_invalid"],
    ),
    (
        "digit0",
        "v=spf1 exists:%{d0}.x.test -all",
        &["email.spf_invalid"],
    ),
    (
        "cidr0",
        "v=spf1 ip4:192.0.2.0/024 -all",
        &["email.spf_invalid"],
    ),
    (
        "numtop",
        "v=spf1 a:mail.example.42 -all",
        &["email.spf_invalid"],
    ),
    (
        "brace",
        "v=spf1 a:mail.example.test} -all",
        &["email.spf_invalid"],
    ),
    (
        "modval",
        "v=spf1 x-vendor=%{z} -all",
        &["email.spf_invalid"],
    ),
    (
        "twoexp",
        "v=spf1 -all exp=a.x.test exp=b.x.test",
        &["email.spf_invalid"],
    ),
    (
        "afterall",
        "v=spf1 -all ip4:300.0.0.1",
        &["email.spf_invalid"],
    ),
    (
        "goodmacro",
        "v=spf1 ip4:192.0.2.0/24 exists:%{i}.%{d2}.x.test x-note=%% -all",
        &[],
    ),
];

fn spfbad(id: &str) -> String {
    format!("{id}.spfbad.test")
}

/// Runs `supplywatch check --format json` over one supplier per case, each
/// with its one domain, and returns the suppliers by id.
async fn check_spf_cases(world: &World) -> HashMap<String, serde_json::Value> {
    let scratch = crate::support::Scratch::new();
    let mut config = format!(
        // The zones' MX hosts are names only: mail servers are mx.rs's.
        "[probe]\nnameservers = [\"{}\"]\ntimeout_secs = 3\nallow_private_targets = true\nsmtp = false\n",
        world.dns
    );
    for (id, _, _) in SPF_INVALID_CASES {
        let _ = write!(
            config,
            "\n[[supplier]]\nid = \"{id}\"\nname = \"Case {id}\"\ncriticality = \"important\"\ndomains = [\"{}\"]\n",
            spfbad(id)
        );
        // The new id is one the config accepts in overrides.
        if *id == "nul" {
            config.push_str("severity = { \"email.spf_invalid\" = \"high\" }\n");
        }
    }
    scratch.write("supplywatch.toml", config);
    let run = scratch.run_async(&["check", "--format", "json"]).await;
    run.expect_code(0);
    run.json()["suppliers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_owned(), s.clone()))
        .collect()
}

/// The one `email.spf_invalid` of supplier `id`: medium (high where the
/// config overrides it), on its domain, with nothing in it that hides or
/// reorders text.
fn spf_invalid_of(suppliers: &HashMap<String, serde_json::Value>, id: &str) -> serde_json::Value {
    let f = suppliers[id]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "email.spf_invalid")
        .unwrap_or_else(|| panic!("no email.spf_invalid for {id}"))
        .clone();
    let severity = if id == "nul" { "high" } else { "medium" };
    assert_eq!(f["severity"], severity, "{f}");
    assert_eq!(f["target"], spfbad(id), "{f}");
    let text = f.to_string();
    assert!(
        !text.contains('\u{202e}') && !text.contains("\\u0000"),
        "{text}"
    );
    f
}

/// The cases of `email.spf_invalid`, probed through `supplywatch check
/// --format json`: the domain's own record broken three ways, includes of
/// a broken record, of a name without SPF and of a name that does not
/// exist, beside healthy domains. No domain publishes MTA-STS (through the
/// binary a policy is only fetched from port 443), so each also raises
/// `email.mta_sts_missing`, and nothing else.
#[tokio::test(flavor = "multi_thread")]
async fn spf_invalid_through_check() {
    let zones: Vec<MailDomain> = SPF_INVALID_CASES
        .iter()
        .map(|(id, spf, _)| {
            good(&spfbad(id)).with(|z| {
                z.sts.clear();
                z.spf = vec![(*spf).to_owned()];
            })
        })
        .collect();
    let extra = vec![
        DnsRecord::txt("fine.spf-target.test", ["v=spf1 ip4:198.51.100.0/24 -all"]),
        DnsRecord::txt("broken.spf-target.test", ["v=spf1 frobnicate \u{202e}-all"]),
        DnsRecord::txt("nospf.spf-target.test", ["google-site-verification=abc"]),
    ];
    let world = world(&zones, extra, World::builder()).await;
    let suppliers = check_spf_cases(&world).await;

    let mut wrong = Vec::new();
    for (id, _, want) in SPF_INVALID_CASES {
        let s = &suppliers[*id];
        assert!(s.get("errors").is_none(), "{s}");
        let got: BTreeSet<&str> = s["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["check"].as_str().unwrap())
            .collect();
        let mut want: BTreeSet<&str> = want.iter().copied().collect();
        want.insert("email.mta_sts_missing");
        if got != want {
            wrong.push(format!("{id}: expected {want:?}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}\n\n{suppliers:#?}", wrong.join("\n"));

    let f = spf_invalid_of(&suppliers, "unknown");
    assert_eq!(
        f["summary"],
        "the SPF record of unknown.spfbad.test cannot be parsed at \"foo:bar\" (character 7): unknown mechanism; receivers return permerror, so SPF fails for all its mail"
    );
    assert_eq!(f["evidence"]["record"], "v=spf1 foo:bar -all");
    assert_eq!(f["evidence"]["term"], "foo:bar");
    assert_eq!(f["evidence"]["position"], 7);

    let f = spf_invalid_of(&suppliers, "nul");
    let summary = f["summary"].as_str().unwrap();
    assert!(
        summary.contains(
            "at \"ip4:192.0.2.1\\u{0}\" (character 7): the term holds the control character U+0000"
        ),
        "{summary}"
    );
    assert_eq!(f["evidence"]["record"], "v=spf1 ip4:192.0.2.1\\u{0} -all");

    let f = spf_invalid_of(&suppliers, "bidi");
    let summary = f["summary"].as_str().unwrap();
    assert!(
        summary.contains("at \"\\u{202e}lla-\" (character 24)") && summary.contains("U+202E"),
        "{summary}"
    );
    assert_eq!(
        f["evidence"]["record"],
        "v=spf1 ip4:192.0.2.0/24 \\u{202e}lla- -all"
    );

    let f = spf_invalid_of(&suppliers, "incbroken");
    assert_eq!(
        f["summary"],
        "the SPF policy of incbroken.spfbad.test includes broken.spf-target.test, whose SPF record cannot be parsed at \"frobnicate\" (character 7): unknown mechanism; receivers return permerror"
    );
    assert_eq!(f["evidence"]["reason"], "syntax");
    assert_eq!(f["evidence"]["domain"], "broken.spf-target.test");
    assert_eq!(f["evidence"]["via"], "include");
    assert_eq!(f["evidence"]["record"], "v=spf1 frobnicate \\u{202e}-all");

    for (id, target) in [("incnospf", "nospf"), ("incgone", "gone")] {
        let f = spf_invalid_of(&suppliers, id);
        assert_eq!(
            f["summary"],
            format!(
                "the SPF policy of {id}.spfbad.test includes {target}.spf-target.test, which publishes no SPF record; receivers return permerror (RFC 7208 5.2)"
            )
        );
        assert_eq!(f["evidence"]["reason"], "no_spf_record");
    }
}
