//! The TLS rules clause by clause against the test world's servers: legacy
//! protocols (SSL 3.0 per RFC 6101, one uncommon suite), each certificate's
//! dates (RFC 5280 §6.1.3 (a)(2)) and a chain missing its upper
//! intermediate. The probe and the checks run as the library, so the
//! evidence can be read field by field.

use std::time::Duration;

use chrono::Utc;
use supplywatch::checks::{Finding, Policy, tls::check};
use supplywatch::config::ProbeConfig;
use supplywatch::probe::tls::TlsProber;
use supplywatch::probe::{DnsResolver, EndpointObservation};
use supplywatch::registry::Endpoint;
use supplywatch_testworld::pki::{EXPIRED_INTERMEDIATE_CN, UPPER_INTERMEDIATE_CN};
use supplywatch_testworld::{TlsCase, World};

/// The world's probe config: its DNS, its roots, private targets allowed.
fn config(world: &World) -> ProbeConfig {
    crate::http::config(world, true, Duration::from_secs(5))
}

/// Probes each case and checks it, in the order given.
async fn probe(world: &World, cases: &[TlsCase]) -> Vec<(EndpointObservation, Vec<Finding>)> {
    supplywatch::probe::install_crypto_provider();
    let config = config(world);
    let resolver = DnsResolver::new(&config).unwrap();
    let prober = TlsProber::new(&config).unwrap();
    let mut out = Vec::new();
    for case in cases {
        let endpoint: Endpoint = world.endpoint(*case).parse().unwrap();
        let obs = prober.probe(&resolver, &endpoint).await;
        let findings = check(&obs, Utc::now(), &Policy::default());
        out.push((obs, findings));
    }
    out
}

fn ids(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.check.as_str()).collect()
}

/// A server speaking SSL 3.0 only: SSL 3.0 accepted with its suite in the
/// evidence, TLS 1.0/1.1 answered with SSL 3.0 (a refusal of those), and
/// the modern handshake's failure told by the legacy finding alone. A
/// server with exactly one uncommon suite (CAMELLIA on TLS 1.0) is not
/// missed.
#[tokio::test(flavor = "multi_thread")]
async fn legacy_protocols_and_uncommon_suites_are_seen() {
    let world = World::start().await.unwrap();
    let results = probe(&world, &[TlsCase::Ssl3Only, TlsCase::CamelliaOnly]).await;

    let (obs, findings) = &results[0];
    assert_eq!(ids(findings), ["tls.legacy_protocol"], "{findings:#?}");
    let by_version = |obs: &EndpointObservation, v: &str| {
        obs.legacy
            .iter()
            .find(|l| l.version == v)
            .unwrap_or_else(|| panic!("no {v} probe in {:?}", obs.legacy))
            .clone()
    };
    let ssl3 = by_version(obs, "SSLv3");
    assert_eq!(ssl3.accepted, Some(true), "{ssl3:?}");
    assert_eq!(
        ssl3.cipher_suite.as_deref(),
        Some("TLS_RSA_WITH_RC4_128_SHA")
    );
    let tls10 = by_version(obs, "TLSv1.0");
    assert_eq!(tls10.accepted, Some(false));
    assert_eq!(tls10.detail, "server answered with SSLv3");
    let f = &findings[0];
    assert_eq!(
        f.summary,
        "the server accepts SSLv3 (TLS_RSA_WITH_RC4_128_SHA)"
    );
    assert_eq!(f.evidence["accepted"], serde_json::json!(["SSLv3"]));
    assert!(
        f.evidence["handshake_error"].is_string(),
        "the failed modern handshake is explained: {}",
        f.evidence
    );
    let tls = obs.tls.as_ref().unwrap();
    assert_eq!(tls.raw_version.as_deref(), Some("SSLv3"));
    assert_eq!(
        tls.chain.len(),
        2,
        "the chain was read from the SSL 3.0 flight"
    );

    let (obs, findings) = &results[1];
    assert_eq!(ids(findings), ["tls.legacy_protocol"], "{findings:#?}");
    let tls10 = by_version(obs, "TLSv1.0");
    assert_eq!(tls10.accepted, Some(true), "{tls10:?}");
    assert_eq!(
        tls10.cipher_suite.as_deref(),
        Some("TLS_RSA_WITH_CAMELLIA_128_CBC_SHA")
    );
    assert_eq!(by_version(obs, "SSLv3").accepted, Some(false));
    assert_eq!(by_version(obs, "TLSv1.1").accepted, Some(false));
    assert_eq!(
        findings[0].summary,
        "the server accepts TLSv1.0 (TLS_RSA_WITH_CAMELLIA_128_CBC_SHA)"
    );
}

/// RFC 5280 §6.1.3 (a)(2): an intermediate that expired while the leaf is
/// still valid makes the chain invalid — one `tls.cert_expired` naming it,
/// not a trusted chain and not also `tls.untrusted_root`. A leaf sent with
/// its issuing intermediate but not the intermediate above it is an
/// incomplete chain, not an untrusted root.
#[tokio::test(flavor = "multi_thread")]
async fn each_certificate_is_judged_and_a_missing_upper_intermediate_is_named() {
    let world = World::start().await.unwrap();
    let results = probe(
        &world,
        &[TlsCase::ExpiredIntermediate, TlsCase::MissingIntermediate],
    )
    .await;

    let (obs, findings) = &results[0];
    assert_eq!(ids(findings), ["tls.cert_expired"], "{findings:#?}");
    let f = &findings[0];
    assert!(
        f.summary.starts_with("the intermediate '")
            && f.summary.contains(EXPIRED_INTERMEDIATE_CN)
            && f.summary.contains("' (position 1) expired 3 days ago on ")
            && f.summary.ends_with(": the chain is no longer valid"),
        "{}",
        f.summary
    );
    assert_eq!(f.evidence["intermediates"][0]["position"], 1);
    let tls = obs.tls.as_ref().unwrap();
    assert_eq!(
        tls.trust,
        supplywatch::probe::Trust::Trusted,
        "the path is judged when both were valid"
    );

    let (_, findings) = &results[1];
    assert_eq!(ids(findings), ["tls.incomplete_chain"], "{findings:#?}");
    let missing = findings[0].evidence["missing_issuer"].as_str().unwrap();
    assert!(missing.contains(UPPER_INTERMEDIATE_CN), "{missing}");
}

/// RFC 4055: RSASSA-PSS whose hash is SHA-1 (the parameters' default) is a
/// SHA-1 signature — `tls.weak_signature`, and the verifier's refusal of it
/// is not also an untrusted chain. RFC 9525 §6.5 / RFC 5280 §4.2.1.6: a
/// dNSName that spells an IP address does not match that address as a host.
#[tokio::test(flavor = "multi_thread")]
async fn pss_with_sha1_is_weak_and_an_ip_host_needs_an_ip_san() {
    let world = World::start().await.unwrap();
    let results = probe(&world, &[TlsCase::PssSha1]).await;
    let (obs, findings) = &results[0];
    assert_eq!(
        ids(findings),
        ["tls.weak_signature", "tls.long_validity"],
        "{findings:#?}"
    );
    let weak = &findings[0];
    assert_eq!(
        weak.evidence["weak"][0]["signature_algorithm"],
        "RSASSA-PSS with SHA-1"
    );
    assert!(matches!(
        obs.tls.as_ref().unwrap().trust,
        supplywatch::probe::Trust::BadSignature { .. }
    ));

    supplywatch::probe::install_crypto_provider();
    let config = config(&world);
    let resolver = DnsResolver::new(&config).unwrap();
    let prober = TlsProber::new(&config).unwrap();
    let endpoint: Endpoint = format!("127.0.0.1:{}", world.port(TlsCase::IpAsDnsName))
        .parse()
        .unwrap();
    let obs = prober.probe(&resolver, &endpoint).await;
    let leaf = &obs.tls.as_ref().unwrap().chain[0];
    assert_eq!(leaf.sans, ["127.0.0.1"], "a dNSName");
    assert_eq!(leaf.ip_sans, Some(vec![]));
    let findings = check(&obs, Utc::now(), &Policy::default());
    assert_eq!(ids(&findings), ["tls.hostname_mismatch"], "{findings:#?}");
}
