//! DNSSEC validation against a signed test world: `test.` signed, its DS
//! the trust anchor (`[probe] trust_anchor`), child zones signed well or
//! broken one way each. Through the library probe, and once through
//! `supplywatch check`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use supplywatch::checks::{self, Finding, Policy};
use supplywatch::config::{ProbeConfig, TrustAnchor, parse_anchor};
use supplywatch::probe::DnsResolver;
use supplywatch::probe::dns::{BogusReason, DomainObservation, Verdict, probe_domain};
use supplywatch::registry::Domain;
use supplywatch_testworld::proto::rr::RecordType;
use supplywatch_testworld::{SignedFault, SignedZone, World, ZoneKey};

use crate::support::{Scratch, diagnostics};

/// An MTA-STS fetcher that never finds a policy (these domains publish none).
struct NoPolicy;

impl supplywatch::probe::dns::MtaStsFetch for NoPolicy {
    fn fetch<'a>(
        &'a self,
        _url: &'a str,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<String, supplywatch::probe::dns::mtasts::PolicyFetchError>,
                > + Send
                + 'a,
        >,
    > {
        Box::pin(async {
            Err(supplywatch::probe::dns::mtasts::PolicyFetchError::Failed {
                detail: "no policy".to_owned(),
            })
        })
    }
}

fn zones() -> Vec<SignedZone> {
    let zone = |name: &str| SignedZone::good(name).unwrap();
    vec![
        zone("good.signed.test"),
        zone("expired.signed.test").fault(SignedFault::ExpiredSignatures),
        zone("wrongds.signed.test").fault(SignedFault::DsMatchesNoKey),
        zone("nods.signed.test").fault(SignedFault::NoDs),
        zone("norrsig.signed.test").fault(SignedFault::MissingRrsig(RecordType::MX)),
        zone("corrupt.signed.test").fault(SignedFault::CorruptSignature(RecordType::SOA)),
        zone("rsa4096.signed.test").key(ZoneKey::Rsa4096),
        // `www.apex.signed.test` is a host in the zone, probed with the
        // apex's NS lookup failing: the apex must be found from the SOA.
        {
            let mut apex = zone("apex.signed.test");
            apex.records.push(supplywatch_testworld::DnsRecord::a(
                "www.apex.signed.test",
                std::net::Ipv4Addr::LOCALHOST,
            ));
            apex
        },
    ]
}

pub(crate) async fn signed_world() -> World {
    World::builder()
        .signed_zones(zones())
        .servfail_type("apex.signed.test", RecordType::NS)
        .start()
        .await
        .unwrap()
}

fn anchor_of(world: &World) -> TrustAnchor {
    let path = world.trust_anchor.as_ref().unwrap();
    parse_anchor(path, &std::fs::read_to_string(path).unwrap()).unwrap()
}

fn resolver_for(dns: SocketAddr, anchor: Option<TrustAnchor>) -> DnsResolver {
    let config = ProbeConfig {
        nameservers: vec![dns],
        extra_roots: Vec::new(),
        timeout: Duration::from_secs(2),
        concurrency: 4,
        per_host_concurrency: 2,
        allow_private_targets: true,
        allow_metadata_targets: false,
        mta_sts_port: 443,
        trust_anchor: anchor,
        smtp: false,
        smtp_port: 25,
        spread: Duration::ZERO,
    };
    DnsResolver::new(&config).unwrap()
}

async fn probe(resolver: &DnsResolver, domain: &str) -> (DomainObservation, Vec<Finding>) {
    let domain: Domain = domain.parse().unwrap();
    let obs = probe_domain(resolver, &domain, &NoPolicy).await;
    let json = serde_json::to_string(&obs).unwrap();
    assert_eq!(
        serde_json::from_str::<DomainObservation>(&json).unwrap(),
        obs
    );
    let findings = checks::dns::check(&obs, chrono::Utc::now(), &Policy::default());
    (obs, findings)
}

fn dnssec_ids(findings: &[Finding]) -> BTreeSet<&'static str> {
    findings
        .iter()
        .map(|f| f.check.as_str())
        .filter(|id| id.starts_with("dns.dnssec"))
        .collect()
}

fn verdict(obs: &DomainObservation) -> &Verdict {
    &obs.dnssec
        .as_ref()
        .unwrap()
        .validation
        .as_ref()
        .unwrap_or_else(|| panic!("no validation in {obs:#?}"))
        .verdict
}

fn bogus(findings: &[Finding]) -> &Finding {
    findings
        .iter()
        .find(|f| f.check.as_str() == "dns.dnssec_bogus")
        .unwrap_or_else(|| panic!("no dns.dnssec_bogus in {findings:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_zones_validate_and_each_fault_is_named() {
    let world = signed_world().await;
    let resolver = resolver_for(world.dns, Some(anchor_of(&world)));

    // Good: the chain from the anchor verifies, no DNSSEC finding.
    let (obs, findings) = probe(&resolver, "good.signed.test").await;
    assert_eq!(verdict(&obs), &Verdict::Verified, "{obs:#?}");
    assert!(dnssec_ids(&findings).is_empty(), "{findings:#?}");
    let validation = obs.dnssec.as_ref().unwrap().validation.as_ref().unwrap();
    assert_eq!(validation.anchor, "test.");
    assert_eq!(validation.zone, "good.signed.test.");
    let verified: BTreeSet<(&str, &str)> = validation
        .verified
        .iter()
        .map(|v| (v.name.as_str(), v.record_type.as_str()))
        .collect();
    for wanted in [
        ("test.", "DNSKEY"),
        ("good.signed.test.", "DS"),
        ("good.signed.test.", "DNSKEY"),
        ("good.signed.test.", "SOA"),
        ("good.signed.test.", "MX"),
    ] {
        assert!(verified.contains(&wanted), "{wanted:?} in {verified:?}");
    }

    // Expired signatures: cryptographically fine, dated in the past.
    let (obs, findings) = probe(&resolver, "expired.signed.test").await;
    assert_eq!(verdict(&obs), &Verdict::Verified);
    assert_eq!(dnssec_ids(&findings), BTreeSet::from(["dns.dnssec_bogus"]));
    let f = bogus(&findings);
    assert_eq!(f.evidence["reason"], "signature_expired");
    assert_eq!(f.evidence["rule"], "RFC 4035 §5.3.1");
    assert_eq!(f.evidence["name"], "expired.signed.test.");
    assert!(f.summary.contains("expired at"), "{}", f.summary);

    // The DS at the parent is another key's.
    let (obs, findings) = probe(&resolver, "wrongds.signed.test").await;
    assert!(
        matches!(verdict(&obs), Verdict::Bogus { problem } if problem.reason == BogusReason::DsMatchesNoDnskey)
    );
    let f = bogus(&findings);
    assert_eq!(f.evidence["reason"], "ds_matches_no_dnskey");
    assert_eq!(f.evidence["rule"], "RFC 4035 §5.2");
    assert!(
        f.summary.contains("match none of its DNSKEYs"),
        "{}",
        f.summary
    );

    // A DNSKEY without a DS at the parent is not signed.
    let (obs, findings) = probe(&resolver, "nods.signed.test").await;
    assert!(obs.dnssec.as_ref().unwrap().validation.is_none());
    assert_eq!(
        dnssec_ids(&findings),
        BTreeSet::from(["dns.dnssec_missing"])
    );
    let missing = findings
        .iter()
        .find(|f| f.check.as_str() == "dns.dnssec_missing")
        .unwrap();
    assert!(
        missing.summary.contains("publishes a DNSKEY"),
        "{}",
        missing.summary
    );

    // The MX RRset of a signed zone without its RRSIG.
    let (_, findings) = probe(&resolver, "norrsig.signed.test").await;
    let f = bogus(&findings);
    assert_eq!(f.evidence["reason"], "missing_rrsig");
    assert_eq!(f.evidence["type"], "MX");
    assert_eq!(f.evidence["rule"], "RFC 4035 §2.2 and §5.3");

    // An SOA whose signature does not verify.
    let (_, findings) = probe(&resolver, "corrupt.signed.test").await;
    let f = bogus(&findings);
    assert_eq!(f.evidence["reason"], "signature_invalid");
    assert_eq!(f.evidence["type"], "SOA");
    assert_eq!(f.evidence["rule"], "RFC 4035 §5.3.3");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_4096_bit_rsa_zone_validates_in_bounded_time() {
    let world = signed_world().await;
    let resolver = resolver_for(world.dns, Some(anchor_of(&world)));
    let started = Instant::now();
    let (obs, findings) = probe(&resolver, "rsa4096.signed.test").await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(verdict(&obs), &Verdict::Verified, "{obs:#?}");
    assert!(dnssec_ids(&findings).is_empty(), "{findings:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_apex_is_found_from_the_soa_when_the_ns_lookup_fails() {
    let world = signed_world().await;
    let resolver = resolver_for(world.dns, Some(anchor_of(&world)));
    let (obs, findings) = probe(&resolver, "www.apex.signed.test").await;
    let ns = obs.nameservers.as_ref().unwrap();
    assert!(ns.found().is_none() && ns.failed().is_some(), "{ns:#?}");
    let dnssec = obs.dnssec.as_ref().unwrap();
    let apex = dnssec.apex.as_ref().unwrap();
    assert_eq!(
        (apex.name.as_str(), apex.found_by.as_str()),
        ("apex.signed.test", "soa")
    );
    assert_eq!(verdict(&obs), &Verdict::Verified, "{obs:#?}");
    // The signed zone is not reported unsigned; the failed NS lookup is
    // its own finding.
    assert!(dnssec_ids(&findings).is_empty(), "{findings:#?}");
    assert!(
        findings
            .iter()
            .any(|f| f.check.as_str() == "dns.resolution_failed")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_worlds_anchor_the_chain_is_indeterminate_not_bogus() {
    // The IANA root anchor: the world serves no root zone, so nothing can
    // be said — no finding, the reason in the observation.
    let world = signed_world().await;
    let resolver = resolver_for(world.dns, None);
    let (obs, findings) = probe(&resolver, "good.signed.test").await;
    assert!(
        matches!(verdict(&obs), Verdict::Indeterminate { .. }),
        "{obs:#?}"
    );
    assert!(dnssec_ids(&findings).is_empty(), "{findings:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_anchor_may_be_a_dnskey_and_a_wrong_one_is_the_monitors_blindness() {
    let world = signed_world().await;
    let path = world.trust_anchor_dnskey.as_ref().unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.starts_with("test. 3600 IN DNSKEY 257 3 13 "), "{text}");
    let resolver = resolver_for(world.dns, Some(parse_anchor(path, &text).unwrap()));
    let (obs, _) = probe(&resolver, "good.signed.test").await;
    assert_eq!(verdict(&obs), &Verdict::Verified, "{obs:#?}");

    // Another world's anchor: no key of this `test.` matches it.
    let other = signed_world().await;
    let resolver = resolver_for(world.dns, Some(anchor_of(&other)));
    for domain in ["good.signed.test", "wrongds.signed.test"] {
        let (obs, findings) = probe(&resolver, domain).await;
        let Verdict::Indeterminate { detail } = verdict(&obs) else {
            panic!("{obs:#?}");
        };
        assert!(detail.contains("check probe.trust_anchor"), "{detail}");
        assert!(dnssec_ids(&findings).is_empty(), "{findings:#?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reports_bogus_and_unsigned_zones_through_the_binary() {
    let world = signed_world().await;
    let anchor = world.trust_anchor.as_ref().unwrap();
    let mut config = format!(
        "[probe]\nnameservers = [\"{}\"]\ntrust_anchor = \"{}\"\ntimeout_secs = 2\nallow_private_targets = true\n",
        world.dns,
        anchor.display()
    );
    for (id, domain) in [
        ("good", "good.signed.test"),
        ("expired", "expired.signed.test"),
        ("wrongds", "wrongds.signed.test"),
        ("nods", "nods.signed.test"),
    ] {
        let _ = write!(
            config,
            "\n[[supplier]]\nid = \"{id}\"\nname = \"Case {id}\"\ncriticality = \"important\"\ndomains = [\"{domain}\"]\n"
        );
    }
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", config);
    let run = scratch.run_async(&["check", "--format", "json"]).await;
    run.expect_code(0);
    let report = run.json();
    let ids = |id: &str| -> BTreeSet<String> {
        let supplier = report["suppliers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap();
        supplier["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["check"].as_str())
            .filter(|c| c.starts_with("dns.dnssec"))
            .map(str::to_owned)
            .collect()
    };
    assert!(ids("good").is_empty(), "{}", run.stdout);
    assert_eq!(
        ids("expired"),
        BTreeSet::from(["dns.dnssec_bogus".to_owned()])
    );
    assert_eq!(
        ids("wrongds"),
        BTreeSet::from(["dns.dnssec_bogus".to_owned()])
    );
    assert_eq!(
        ids("nods"),
        BTreeSet::from(["dns.dnssec_missing".to_owned()])
    );
}

#[test]
fn a_malformed_trust_anchor_is_refused_with_its_line() {
    let scratch = Scratch::new();
    let bad = scratch.write("anchor.txt", "; the root\ntest. IN DS 1 13 2 NOTHEX\n");
    let toml = format!("[probe]\ntrust_anchor = \"{}\"\n", bad.display());
    let found = diagnostics(&toml);
    assert_eq!(found.len(), 1, "{found:#?}");
    let d = &found[0];
    assert_eq!(d.key, "probe.trust_anchor");
    assert_eq!(d.line, 2);
    assert!(
        d.message
            .contains(&format!("{}:2: the digest \"NOTHEX\"", bad.display())),
        "{}",
        d.message
    );
    let missing = diagnostics("[probe]\ntrust_anchor = \"/nonexistent/anchor.txt\"\n");
    assert_eq!(missing[0].key, "probe.trust_anchor");
    let device = diagnostics("[probe]\ntrust_anchor = \"/dev/zero\"\n");
    assert!(
        device[0].message.contains("not a regular file"),
        "{}",
        device[0].message
    );
}
