//! The HTTP posture probe and its checks against the test world's web
//! sites: headers, security.txt, certificates that must not stop the
//! header checks, body caps, redirect limits, loops and other sites, the
//! address rule (cloud metadata addresses included), stalls, hostile
//! answers, plain HTTP on a "port 80" endpoint, and the MTA-STS policy
//! fetch.
//!
//! Tests whose subject is an address outside 127.0.0.0/8 (10.1.2.3,
//! 169.254.169.254, `fd00:ec2::254`) run inside a network namespace of their
//! own ([`in_netns`]) with those addresses on its `lo` and a canary
//! listening there: a refusal is proved by the canary seeing nothing, and
//! a bug could not send a packet off the machine.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use supplywatch::checks::{Policy, http::check};
use supplywatch::config::{ExtraRoots, ProbeConfig};
use supplywatch::probe::DnsResolver;
use supplywatch::probe::http::{
    FailureKind, HttpObservation, HttpOptions, HttpProber, HttpScheme, MAX_REDIRECTS, PAGE_BODY_CAP,
};
use supplywatch::registry::Endpoint;
use supplywatch_testworld::http::secure_headers;
use supplywatch_testworld::zone::clean_site;
use supplywatch_testworld::{DnsRecord, Reply, SiteCert, SiteSpec, World, WorldBuilder};
use tokio::task::JoinSet;

use crate::support::{Scratch, in_netns, inside_netns};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The world's probe config: its DNS and roots, the given address rule and timeout.
pub(crate) fn config(world: &World, allow_private: bool, timeout: Duration) -> ProbeConfig {
    let certificates = CertificateDer::pem_file_iter(&world.roots_pem)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    ProbeConfig {
        nameservers: vec![world.dns],
        extra_roots: vec![ExtraRoots {
            path: world.roots_pem.clone(),
            certificates,
        }],
        timeout,
        concurrency: 8,
        per_host_concurrency: 2,
        allow_private_targets: allow_private,
        allow_metadata_targets: false,
        mta_sts_port: 443,
        trust_anchor: None,
        smtp: false,
        smtp_port: 25,
        spread: std::time::Duration::ZERO,
    }
}

fn prober_with(config: &ProbeConfig, options: HttpOptions) -> HttpProber {
    let resolver = DnsResolver::new(config).unwrap();
    HttpProber::with_options(config, resolver, options).unwrap()
}

/// A prober that may reach the world (private targets allowed).
fn prober(world: &World) -> HttpProber {
    prober_with(
        &config(world, true, Duration::from_secs(5)),
        HttpOptions::default(),
    )
}

fn endpoint(text: &str) -> Endpoint {
    text.parse().unwrap()
}

/// A `security.txt` whose Expires lies `days` days from now.
fn security_txt(days: i64) -> String {
    format!(
        "# test\nContact: mailto:security@acme.test\nExpires: {}\n",
        (Utc::now() + TimeDelta::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

fn ids(obs: &HttpObservation) -> Vec<&'static str> {
    let mut ids: Vec<&'static str> = check(obs, Utc::now(), &Policy::default())
        .iter()
        .map(|f| f.check.as_str())
        .collect();
    ids.sort_unstable();
    ids
}

/// Probes the sites named `hosts`, side by side.
async fn probe_all(
    prober: &HttpProber,
    world: &World,
    hosts: &[&str],
) -> BTreeMap<String, HttpObservation> {
    let mut tasks = JoinSet::new();
    for host in hosts {
        let (prober, host) = (prober.clone(), (*host).to_owned());
        let target = endpoint(&world.site_endpoint(&host));
        tasks.spawn(async move { (host, prober.probe(&target).await) });
    }
    let mut out = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        let (host, obs) = joined.unwrap();
        out.insert(host, obs);
    }
    out
}

/// Asserts each site's findings, showing the observation when they differ.
#[track_caller]
fn expect(observations: &BTreeMap<String, HttpObservation>, host: &str, expected: &[&str]) {
    let obs = &observations[host];
    assert_eq!(
        ids(obs),
        expected,
        "{host}: {:#?}",
        check(obs, Utc::now(), &Policy::default())
    );
}

fn page(headers: impl IntoIterator<Item = (String, String)>) -> Reply {
    Reply::html("<!doctype html><title>page</title>").headers(headers)
}

#[tokio::test(flavor = "multi_thread")]
#[expect(
    clippy::too_many_lines,
    reason = "one site per case, then one expectation per site: the table is the test"
)]
async fn headers_good_and_each_missing() {
    let good_txt = security_txt(90);
    let site = |root: Reply| SiteSpec::https().root(root).security_txt_text(&good_txt);
    let world = WorldBuilder::default()
        .site("good.site.test", site(Reply::secure_page()))
        .site(
            "no-hsts.site.test",
            site(Reply::secure_page().without("strict-transport-security")),
        )
        .site(
            "short-hsts.site.test",
            site(Reply::secure_page().replace("strict-transport-security", "max-age=86400")),
        )
        .site(
            "no-csp.site.test",
            // X-Frame-Options still protects framing.
            site(Reply::secure_page().without("content-security-policy")),
        )
        .site(
            "no-framing.site.test",
            site(
                Reply::secure_page()
                    .without("x-frame-options")
                    .replace("content-security-policy", "default-src 'self'"),
            ),
        )
        .site(
            "no-nosniff.site.test",
            site(Reply::secure_page().without("x-content-type-options")),
        )
        .site(
            "no-referrer.site.test",
            site(Reply::secure_page().without("referrer-policy")),
        )
        .site(
            "versioned.site.test",
            site(
                Reply::secure_page()
                    .replace("server", "Apache/2.4.41 (Ubuntu)")
                    .header("x-powered-by", "PHP/7.4.3"),
            ),
        )
        .site("bare.site.test", site(page([])))
        .start()
        .await
        .unwrap();
    let hosts = [
        "good.site.test",
        "no-hsts.site.test",
        "short-hsts.site.test",
        "no-csp.site.test",
        "no-framing.site.test",
        "no-nosniff.site.test",
        "no-referrer.site.test",
        "versioned.site.test",
        "bare.site.test",
    ];
    let obs = probe_all(&prober(&world), &world, &hosts).await;

    expect(&obs, "good.site.test", &[]);
    expect(&obs, "no-hsts.site.test", &["http.hsts_missing"]);
    expect(&obs, "short-hsts.site.test", &["http.hsts_short"]);
    expect(&obs, "no-csp.site.test", &["http.csp_missing"]);
    expect(&obs, "no-framing.site.test", &["http.framing_unprotected"]);
    expect(&obs, "no-nosniff.site.test", &["http.nosniff_missing"]);
    expect(
        &obs,
        "no-referrer.site.test",
        &["http.referrer_policy_missing"],
    );
    expect(
        &obs,
        "versioned.site.test",
        &["http.server_version_disclosed"],
    );
    expect(
        &obs,
        "bare.site.test",
        &[
            "http.csp_missing",
            "http.framing_unprotected",
            "http.hsts_missing",
            "http.nosniff_missing",
            "http.referrer_policy_missing",
        ],
    );

    // The observation is facts: lower-cased names, the target, serialisable.
    let good = &obs["good.site.test"];
    assert_eq!(good.target, world.site_endpoint("good.site.test"));
    assert_eq!(good.scheme, HttpScheme::Https);
    let first = good.page.first().unwrap();
    assert_eq!(first.status, 200);
    assert_eq!(first.header("server"), Some("nginx"));
    assert!(first.headers.keys().all(|k| *k == k.to_ascii_lowercase()));
    let json = serde_json::to_string(good).unwrap();
    assert_eq!(
        &serde_json::from_str::<HttpObservation>(&json).unwrap(),
        good
    );
    assert_eq!(
        world.site_requests("good.site.test"),
        vec!["/", "/.well-known/security.txt"]
    );
    // Every finding names the endpoint.
    for (host, o) in &obs {
        for f in check(o, Utc::now(), &Policy::default()) {
            assert_eq!(f.target, world.site_endpoint(host));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
#[expect(
    clippy::too_many_lines,
    reason = "one site per case, then one expectation per site: the table is the test"
)]
async fn security_txt_cases() {
    let good = security_txt(90);
    let signed = format!(
        "-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\n{}-----BEGIN PGP SIGNATURE-----\r\n\r\niHUEARYKAB0WIQ==\r\n=abcd\r\n-----END PGP SIGNATURE-----\r\n",
        good.replace('\n', "\r\n")
    );
    let no_contact = format!(
        "Expires: {}\n",
        (Utc::now() + TimeDelta::days(90)).to_rfc3339()
    );
    let world = WorldBuilder::default()
        .site(
            "txt-good.site.test",
            SiteSpec::https().security_txt_text(&good),
        )
        .site("txt-missing.site.test", SiteSpec::https())
        .site(
            "txt-expired.site.test",
            SiteSpec::https().security_txt_text(&security_txt(-3)),
        )
        .site(
            "txt-far.site.test",
            SiteSpec::https().security_txt_text(&security_txt(400)),
        )
        .site(
            "txt-html.site.test",
            SiteSpec::https().security_txt(Reply::typed("text/html", good.as_bytes())),
        )
        .site(
            "txt-soft404.site.test",
            SiteSpec::https().security_txt(Reply::html("<h1>Welcome</h1>")),
        )
        .site(
            "txt-signed.site.test",
            SiteSpec::https().security_txt(Reply::typed("text/plain", signed.as_bytes())),
        )
        .site(
            "txt-no-contact.site.test",
            SiteSpec::https().security_txt_text(&no_contact),
        )
        .site(
            "txt-redirect.site.test",
            SiteSpec::https()
                .security_txt(Reply::redirect(
                    301,
                    "{origin:txt-good.site.test}/.well-known/security.txt",
                ))
                .root(Reply::secure_page()),
        )
        .start()
        .await
        .unwrap();
    let hosts = [
        "txt-good.site.test",
        "txt-missing.site.test",
        "txt-expired.site.test",
        "txt-far.site.test",
        "txt-html.site.test",
        "txt-soft404.site.test",
        "txt-signed.site.test",
        "txt-no-contact.site.test",
        "txt-redirect.site.test",
    ];
    let obs = probe_all(&prober(&world), &world, &hosts).await;
    expect(&obs, "txt-good.site.test", &[]);
    expect(&obs, "txt-missing.site.test", &["securitytxt.missing"]);
    expect(&obs, "txt-expired.site.test", &["securitytxt.expired"]);
    expect(&obs, "txt-far.site.test", &["securitytxt.invalid"]);
    expect(&obs, "txt-html.site.test", &["securitytxt.invalid"]);
    expect(&obs, "txt-soft404.site.test", &["securitytxt.missing"]);
    expect(&obs, "txt-signed.site.test", &[]);
    expect(&obs, "txt-no-contact.site.test", &["securitytxt.invalid"]);
    expect(&obs, "txt-redirect.site.test", &[]);

    let findings = |host: &str| check(&obs[host], Utc::now(), &Policy::default());
    assert!(
        findings("txt-html.site.test")[0].evidence["problems"]
            .to_string()
            .contains("not text/plain")
    );
    assert!(
        findings("txt-no-contact.site.test")[0].evidence["problems"]
            .to_string()
            .contains("no Contact")
    );
    assert!(
        findings("txt-far.site.test")[0]
            .summary
            .contains("more than a year")
    );
    assert!(findings("txt-missing.site.test")[0].summary.contains("404"));
    // Raw text, content type and status are kept as facts.
    let fetched = obs["txt-good.site.test"].security_txt.as_ref().unwrap();
    let last = fetched.last().unwrap();
    assert_eq!(last.body.as_deref(), Some(good.as_str()));
    assert_eq!(
        last.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let redirected = obs["txt-redirect.site.test"].security_txt.as_ref().unwrap();
    assert_eq!(redirected.redirects.len(), 1);
    assert_eq!(
        redirected.redirects[0].to.as_deref(),
        Some(
            format!(
                "{}/.well-known/security.txt",
                world.site("txt-good.site.test").origin()
            )
            .as_str()
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_certificates_do_not_stop_the_header_checks() {
    let txt = security_txt(30);
    let bad = |cert| {
        SiteSpec::https()
            .certificate(cert)
            .root(Reply::secure_page().without("strict-transport-security"))
            .security_txt_text(&txt)
    };
    let world = WorldBuilder::default()
        .site("self-signed.site.test", bad(SiteCert::SelfSigned))
        .site("expired.site.test", bad(SiteCert::Expired))
        .site("rogue.site.test", bad(SiteCert::UntrustedRoot))
        .start()
        .await
        .unwrap();
    let hosts = [
        "self-signed.site.test",
        "expired.site.test",
        "rogue.site.test",
    ];
    let obs = probe_all(&prober(&world), &world, &hosts).await;
    for host in hosts {
        expect(&obs, host, &["http.hsts_missing"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_body_is_truncated_without_error() {
    let world = WorldBuilder::default()
        .site(
            "huge.site.test",
            SiteSpec::https()
                .root(Reply::huge(3 * PAGE_BODY_CAP).headers(secure_headers()))
                .security_txt(Reply::huge(200 * 1024)),
        )
        .start()
        .await
        .unwrap();
    let obs = probe_all(&prober(&world), &world, &["huge.site.test"]).await;
    let obs = &obs["huge.site.test"];
    let page = obs.page.last().unwrap();
    assert!(page.truncated);
    assert!(page.body_error.is_none());
    assert!(page.body_bytes > PAGE_BODY_CAP as u64);
    assert!(page.body_bytes < 2 * PAGE_BODY_CAP as u64);
    assert!(obs.page.failure.is_none());
    let txt = obs.security_txt.as_ref().unwrap().last().unwrap();
    assert!(txt.truncated);
    assert_eq!(txt.body.as_ref().unwrap().len(), 64 * 1024);
    // The headers are judged as usual; the oversized security.txt is invalid.
    assert_eq!(ids(obs), vec!["securitytxt.invalid"]);
}

/// `/` → `/1` → … → `/n`, which answers with the secure page.
fn chain(hops: usize) -> SiteSpec {
    let mut spec = SiteSpec::https().root(Reply::redirect(302, "/1"));
    for i in 1..hops {
        spec = spec.route(
            &format!("/{i}"),
            Reply::redirect(301, &format!("{{origin}}/{}", i + 1)).headers(secure_headers()),
        );
    }
    spec.route(&format!("/{hops}"), Reply::secure_page())
}

#[tokio::test(flavor = "multi_thread")]
async fn at_most_five_redirects_are_followed() {
    let world = WorldBuilder::default()
        .site("five.site.test", chain(MAX_REDIRECTS))
        .site("six.site.test", chain(MAX_REDIRECTS + 1))
        .start()
        .await
        .unwrap();
    let obs = probe_all(
        &prober(&world),
        &world,
        &["five.site.test", "six.site.test"],
    )
    .await;

    let five = &obs["five.site.test"].page;
    assert!(five.failure.is_none(), "{:?}", five.failure);
    assert_eq!(five.redirects.len(), 5);
    assert_eq!(five.responses.len(), 6);
    assert_eq!(five.last().unwrap().status, 200);
    let origin = world.site("five.site.test").origin();
    assert_eq!(five.redirects[0].location, "/1");
    assert_eq!(
        five.redirects[0].to.as_deref(),
        Some(format!("{origin}/1").as_str())
    );
    assert_eq!(
        five.last().unwrap().url,
        format!("{origin}/5"),
        "the final URL"
    );

    let six = &obs["six.site.test"].page;
    let failure = six.failure.as_ref().unwrap();
    assert_eq!(failure.kind, FailureKind::TooManyRedirects);
    assert!(
        failure.detail.contains("more than 5 redirects"),
        "{}",
        failure.detail
    );
    assert_eq!(six.redirects.len(), 6);
    assert!(
        !world
            .site_requests("six.site.test")
            .contains(&"/6".to_owned()),
        "the sixth redirect must not be followed"
    );
    // No page at the end of the chain: unreachable, saying why (it used
    // to raise nothing, so an endpoint could pass by redirecting too often).
    // (It has no security.txt: 404, missing.)
    assert_eq!(
        ids(&obs["six.site.test"]),
        vec!["http.unreachable", "securitytxt.missing"]
    );
    let finding = &check(&obs["six.site.test"], Utc::now(), &Policy::default())[0];
    assert!(
        finding.summary.contains("redirects more than 5 times"),
        "{}",
        finding.summary
    );
    assert_eq!(finding.evidence["cause"], "too_many_redirects");
    assert_eq!(finding.evidence["redirects"].as_array().unwrap().len(), 6);
    assert!(supplywatch::checks::http::is_answer(finding));
}

/// A redirect chain that breaks on redirects without any security header:
/// the last response is a bare redirect, not the page a visitor sees, so
/// its missing headers are not judged (they used to raise csp, framing,
/// nosniff, referrer and HSTS findings against a page nobody sees) — but
/// the endpoint has no page to see: `http.unreachable` alone.
#[tokio::test(flavor = "multi_thread")]
async fn a_broken_redirect_chain_is_not_judged_as_a_page() {
    let mut spec = SiteSpec::https().root(Reply::redirect(302, "/1"));
    for i in 1..=MAX_REDIRECTS {
        spec = spec.route(
            &format!("/{i}"),
            Reply::redirect(302, &format!("/{}", i + 1)),
        );
    }
    let world = WorldBuilder::default()
        .site("bare-six.site.test", spec)
        .start()
        .await
        .unwrap();
    let obs = probe_all(&prober(&world), &world, &["bare-six.site.test"]).await;
    let bare = &obs["bare-six.site.test"];
    assert_eq!(
        bare.page.failure.as_ref().map(|f| f.kind),
        Some(FailureKind::TooManyRedirects)
    );
    let http_ids: Vec<&str> = ids(bare)
        .into_iter()
        .filter(|id| id.starts_with("http."))
        .collect();
    assert_eq!(http_ids, vec!["http.unreachable"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn internal_addresses_are_refused_without_a_request() {
    let world = WorldBuilder::default()
        .site("private.site.test", SiteSpec::https())
        .start()
        .await
        .unwrap();
    let config = config(&world, false, Duration::from_secs(5));
    let prober = prober_with(&config, HttpOptions::default());

    // By name: the world's DNS says 127.0.0.1.
    let obs = prober
        .probe(&endpoint(&world.site_endpoint("private.site.test")))
        .await;
    let refused = obs.refused().expect("refused");
    assert_eq!(refused.kind, FailureKind::Refused);
    assert_eq!(refused.address, Some(LOOPBACK));
    assert!(
        refused
            .detail
            .contains("resolves to 127.0.0.1, a loopback address"),
        "{}",
        refused.detail
    );
    assert!(refused.detail.contains("allow_private_targets"));
    assert!(obs.security_txt.is_none());
    // By address literal.
    let port = world.site_addr("private.site.test").port();
    let obs = prober.probe(&endpoint(&format!("127.0.0.1:{port}"))).await;
    let refused = obs.refused().expect("refused");
    assert!(
        refused.detail.contains("127.0.0.1 is a loopback address"),
        "{}",
        refused.detail
    );
    // No request reached the site, and no finding is raised (the run
    // reports the refusal as an error line instead).
    assert!(world.site_requests("private.site.test").is_empty());
    assert!(ids(&obs).is_empty());
    // The policy fetch obeys the same rule.
    let url = world.site_url("private.site.test", "/.well-known/mta-sts.txt");
    let error = prober.fetch_policy(&url).await.unwrap_err().to_string();
    assert!(error.contains("loopback"), "{error}");
    assert!(world.site_requests("private.site.test").is_empty());
}

/// The addresses the namespace tests put on their `lo`.
const NAMESPACE_ADDRESSES: [&str; 4] = [
    "169.254.169.254",
    "10.1.2.3",
    "198.51.100.80",
    "fd00:ec2::254",
];

fn sock(text: &str) -> std::net::SocketAddr {
    text.parse().unwrap()
}

#[test]
fn redirects_to_internal_addresses_are_refused() {
    in_netns(
        "http::redirects_to_internal_addresses_inside_a_namespace",
        &NAMESPACE_ADDRESSES,
    );
}

/// Redirects to internal addresses, by literal (any spelling) and by name,
/// with `allow_private_targets` false and true: refused before any
/// connection, as the canary on 169.254.169.254:80, 10.1.2.3:80 and
/// `[fd00:ec2::254]:80` shows — which does see the connections the rules
/// allow (the positive controls at the end).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "runs inside the network namespace of redirects_to_internal_addresses_are_refused"]
#[expect(
    clippy::too_many_lines,
    reason = "one site per case, then the same cases under each rule: the table is the test"
)]
async fn redirects_to_internal_addresses_inside_a_namespace() {
    if !inside_netns("http::redirects_to_internal_addresses_are_refused") {
        return;
    }
    let metadata: IpAddr = "169.254.169.254".parse().unwrap();
    let world = WorldBuilder::default()
        .record(DnsRecord::a(
            "intranet.site.test",
            Ipv4Addr::new(10, 1, 2, 3),
        ))
        .record(DnsRecord::a(
            "imds.site.test",
            Ipv4Addr::new(169, 254, 169, 254),
        ))
        .record(DnsRecord::aaaa(
            "imds6.site.test",
            "::ffff:169.254.169.254".parse().unwrap(),
        ))
        .site(
            "to-name.site.test",
            SiteSpec::https().root(Reply::redirect(302, "http://intranet.site.test/admin")),
        )
        .site(
            "to-metadata.site.test",
            SiteSpec::https().root(Reply::redirect(
                301,
                "http://169.254.169.254/latest/meta-data/",
            )),
        )
        .site(
            "to-metadata-hex.site.test",
            SiteSpec::https().root(Reply::redirect(302, "http://0xa9fea9fe/latest/meta-data/")),
        )
        .site(
            "to-metadata-octal.site.test",
            SiteSpec::https().root(Reply::redirect(
                302,
                "http://0251.0376.0251.0376/latest/meta-data/",
            )),
        )
        .site(
            "to-metadata6.site.test",
            SiteSpec::https().root(Reply::redirect(
                302,
                "http://[fd00:ec2::254]/latest/meta-data/",
            )),
        )
        .site(
            "to-metadata-mapped.site.test",
            SiteSpec::https().root(Reply::redirect(
                302,
                "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
            )),
        )
        .site(
            "to-metadata-name.site.test",
            SiteSpec::https().root(Reply::redirect(
                302,
                "http://imds.site.test/latest/meta-data/",
            )),
        )
        .site(
            "to-metadata-name6.site.test",
            SiteSpec::https().root(Reply::redirect(
                302,
                "http://imds6.site.test/latest/meta-data/",
            )),
        )
        .site(
            "to-loopback.site.test",
            SiteSpec::https().root(Reply::redirect(307, "http://127.0.0.2:{port}/")),
        )
        .site(
            "to-self.site.test",
            SiteSpec::https().root(Reply::redirect(302, "https://127.0.0.1:{port}/home")),
        )
        .start()
        .await
        .unwrap();
    let canary = world
        .canary(&[
            sock("169.254.169.254:80"),
            sock("10.1.2.3:80"),
            sock("[fd00:ec2::254]:80"),
        ])
        .await
        .unwrap();
    let metadata_sites = [
        "to-metadata.site.test",
        "to-metadata-hex.site.test",
        "to-metadata-octal.site.test",
        "to-metadata6.site.test",
        "to-metadata-mapped.site.test",
        "to-metadata-name.site.test",
        "to-metadata-name6.site.test",
    ];
    let mut all: Vec<&str> = metadata_sites.to_vec();
    all.extend([
        "to-name.site.test",
        "to-loopback.site.test",
        "to-self.site.test",
    ]);

    // 1. allow_private_targets = false, with 127.0.0.1 (the world) let
    // through, so that a redirect to any other internal address shows the
    // rule at work mid-way.
    let strict = prober_with(
        &config(&world, false, Duration::from_secs(5)),
        HttpOptions {
            allowed_addresses: vec![LOOPBACK],
            ..HttpOptions::default()
        },
    );
    let obs = probe_all(&strict, &world, &all).await;
    for (host, address, words) in [
        (
            "to-name.site.test",
            "10.1.2.3",
            "intranet.site.test resolves to 10.1.2.3, a private address",
        ),
        (
            "to-metadata.site.test",
            "169.254.169.254",
            "a cloud metadata address",
        ),
        (
            "to-metadata6.site.test",
            "fd00:ec2::254",
            "a cloud metadata address",
        ),
        (
            "to-loopback.site.test",
            "127.0.0.2",
            "127.0.0.2 is a loopback address",
        ),
    ] {
        let page = &obs[host].page;
        assert_eq!(page.responses.len(), 1, "{host}");
        assert_eq!(page.redirects.len(), 1, "{host}");
        let failure = page.failure.as_ref().unwrap();
        assert_eq!(failure.kind, FailureKind::Refused, "{host}: {failure:?}");
        assert_eq!(failure.address, Some(address.parse().unwrap()), "{host}");
        assert!(failure.detail.contains(words), "{host}: {}", failure.detail);
        assert!(
            obs[host].refused().is_none(),
            "the endpoint itself answered"
        );
        // A finding that says so: the endpoint does not pass by sending
        // its visitors where it cannot be looked at. (These sites have no
        // security.txt: missing.)
        assert_eq!(
            ids(&obs[host]),
            vec!["http.unreachable", "securitytxt.missing"],
            "{host}"
        );
        let finding = &check(&obs[host], Utc::now(), &Policy::default())[0];
        assert!(
            finding.summary.contains("which is refused"),
            "{host}: {}",
            finding.summary
        );
        assert_eq!(finding.evidence["cause"], "redirect_refused", "{host}");
    }
    let finding = &check(
        &obs["to-metadata.site.test"],
        Utc::now(),
        &Policy::default(),
    )[0];
    assert!(
        finding.summary.ends_with(
            "redirects to http://169.254.169.254/latest/meta-data/, which is refused (a cloud metadata address); the page and its headers could not be checked"
        ),
        "{}",
        finding.summary
    );
    let finding = &check(&obs["to-name.site.test"], Utc::now(), &Policy::default())[0];
    assert!(
        finding
            .summary
            .contains("which is refused (it resolves to 10.1.2.3, a private address)"),
        "{}",
        finding.summary
    );
    // A redirect from a name to an IP literal is another site, even the
    // endpoint's own address: not followed, nothing asked there.
    let to_self = &obs["to-self.site.test"];
    assert_eq!(
        to_self.page.failure.as_ref().map(|f| f.kind),
        Some(FailureKind::OtherSite)
    );
    assert!(
        supplywatch::checks::http::not_judged(to_self)
            .unwrap()
            .contains("another site"),
    );
    assert_eq!(
        world.site_requests("to-self.site.test"),
        vec!["/", "/.well-known/security.txt"]
    );

    // 2. allow_private_targets = true: private and loopback addresses are
    // open; cloud metadata addresses are not, in any spelling, by literal
    // or by a name that resolves there.
    let open = prober_with(
        &config(&world, true, Duration::from_secs(5)),
        HttpOptions::default(),
    );
    let obs = probe_all(&open, &world, &all).await;
    for host in metadata_sites {
        let page = &obs[host].page;
        let failure = page.failure.as_ref().unwrap();
        assert_eq!(failure.kind, FailureKind::Refused, "{host}: {failure:?}");
        let address = failure.address.unwrap();
        assert!(
            address == metadata
                || address == "fd00:ec2::254".parse::<IpAddr>().unwrap()
                || address == "::ffff:169.254.169.254".parse::<IpAddr>().unwrap(),
            "{host}: {address}"
        );
        assert!(
            failure.detail.contains("allow_metadata_targets"),
            "{host}: {}",
            failure.detail
        );
        assert_eq!(
            ids(&obs[host]),
            vec!["http.unreachable", "securitytxt.missing"],
            "{host}"
        );
    }
    // The page report never judges the metadata service's answer.
    assert!(
        obs.values()
            .flat_map(|o| &o.page.responses)
            .all(|r| !r.url.contains("meta-data")),
    );
    // 10.1.2.3 by a name of the endpoint's site is followed (the positive
    // control: the canary answers, and its bare page is judged).
    let to_name = &obs["to-name.site.test"];
    assert!(to_name.page.failure.is_none(), "{:?}", to_name.page.failure);
    assert_eq!(
        to_name.page.last().unwrap().url,
        "http://intranet.site.test/admin"
    );
    assert_eq!(
        canary.hits(),
        vec![sock("10.1.2.3:80")],
        "only the allowed private address was reached"
    );

    // 3. The one key that opens metadata addresses: the canary there is
    // reached, which shows it would have seen any connection above.
    let mut both = config(&world, true, Duration::from_secs(5));
    both.allow_metadata_targets = true;
    let obs = probe_all(
        &prober_with(&both, HttpOptions::default()),
        &world,
        &["to-metadata-name.site.test"],
    )
    .await;
    let page = &obs["to-metadata-name.site.test"].page;
    assert!(page.failure.is_none(), "{:?}", page.failure);
    assert_eq!(
        canary.hits(),
        vec![sock("10.1.2.3:80"), sock("169.254.169.254:80")]
    );
}

/// A redirect back to a URL already asked for is a loop: caught at once
/// (never asked twice, never run up to the cap), and reported — for the
/// page as `http.unreachable`, for security.txt as `securitytxt.missing`
/// (nobody can fetch it). A loop repeats every run: no flap damping.
#[tokio::test(flavor = "multi_thread")]
async fn redirect_loops_are_caught_and_reported() {
    let world = WorldBuilder::default()
        .site(
            "loop.site.test",
            SiteSpec::https()
                .root(Reply::redirect(302, "/a"))
                .route("/a", Reply::redirect(301, "{origin}/#again"))
                .security_txt(Reply::redirect(302, "/.well-known/security.txt")),
        )
        .site(
            "self-loop.site.test",
            SiteSpec::https()
                .root(Reply::redirect(302, "/").headers(secure_headers()))
                .security_txt_text(&security_txt(90)),
        )
        .start()
        .await
        .unwrap();
    let obs = probe_all(
        &prober(&world),
        &world,
        &["loop.site.test", "self-loop.site.test"],
    )
    .await;

    let looped = &obs["loop.site.test"];
    let failure = looped.page.failure.as_ref().unwrap();
    assert_eq!(failure.kind, FailureKind::RedirectLoop, "{failure:?}");
    assert_eq!(looped.page.redirects.len(), 2);
    // `/` was asked once, `/a` once; security.txt once.
    assert_eq!(
        world.site_requests("loop.site.test"),
        vec!["/", "/a", "/.well-known/security.txt"]
    );
    // Every response a visitor would ever get is in, none with HSTS: that
    // is judged too.
    expect(
        &obs,
        "loop.site.test",
        &[
            "http.hsts_missing",
            "http.unreachable",
            "securitytxt.missing",
        ],
    );
    let findings = check(looped, Utc::now(), &Policy::default());
    let unreachable = findings
        .iter()
        .find(|f| f.check.as_str() == "http.unreachable")
        .unwrap();
    let origin = world.site("loop.site.test").origin();
    assert_eq!(
        unreachable.summary,
        format!(
            "{origin}/ redirects in a loop: {origin}/a sends it back to {origin}/, asked for before; the page and its headers could not be checked"
        )
    );
    assert_eq!(unreachable.evidence["cause"], "redirect_loop");
    assert!(supplywatch::checks::http::is_answer(unreachable));
    let txt = findings
        .iter()
        .find(|f| f.check.as_str() == "securitytxt.missing")
        .unwrap();
    assert!(
        txt.summary.starts_with("no security.txt can be fetched: ")
            && txt.summary.contains("redirects in a loop"),
        "{}",
        txt.summary
    );

    // A page that redirects to itself, with every header but no page.
    let own = &obs["self-loop.site.test"];
    assert_eq!(
        own.page.failure.as_ref().map(|f| f.kind),
        Some(FailureKind::RedirectLoop)
    );
    expect(&obs, "self-loop.site.test", &["http.unreachable"]);
}

/// `GET /` does not follow a redirect to another site (registrable
/// domain): its page is not the endpoint's to be judged by. The endpoint's
/// own responses still answer for HSTS, and the run says the page was not
/// checked. Within the site, redirects are followed; security.txt follows
/// redirects anywhere (RFC 9116 §3).
#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_to_another_site_is_not_followed() {
    let world = WorldBuilder::default()
        .site("www.elsewhere.test", clean_site("elsewhere.test"))
        .site(
            "portal.leaves.test",
            SiteSpec::https()
                .root(Reply::redirect(302, "{origin:www.elsewhere.test}/welcome"))
                .security_txt_text(&security_txt(90)),
        )
        .site(
            "portal.hsts-leaves.test",
            SiteSpec::https()
                .root(
                    Reply::redirect(302, "{origin:www.elsewhere.test}/welcome")
                        .header("strict-transport-security", "max-age=31536000"),
                )
                .security_txt_text(&security_txt(90)),
        )
        .site(
            "portal.stays.test",
            SiteSpec::https()
                .root(Reply::redirect(302, "{origin:www.stays.test}/"))
                .security_txt_text(&security_txt(90)),
        )
        .site("www.stays.test", SiteSpec::https().root(page([])))
        .site(
            "portal.txt-elsewhere.test",
            SiteSpec::https().security_txt(Reply::redirect(
                301,
                "{origin:www.elsewhere.test}/.well-known/security.txt",
            )),
        )
        .start()
        .await
        .unwrap();
    let hosts = [
        "portal.leaves.test",
        "portal.hsts-leaves.test",
        "portal.stays.test",
        "portal.txt-elsewhere.test",
    ];
    let obs = probe_all(&prober(&world), &world, &hosts).await;

    let leaves = &obs["portal.leaves.test"];
    let failure = leaves.page.failure.as_ref().unwrap();
    assert_eq!(failure.kind, FailureKind::OtherSite, "{failure:?}");
    assert!(
        failure.detail.contains("elsewhere.test is not leaves.test"),
        "{}",
        failure.detail
    );
    expect(&obs, "portal.leaves.test", &["http.hsts_missing"]);
    let note = supplywatch::checks::http::not_judged(leaves).unwrap();
    assert!(
        note.starts_with("page headers not checked: ")
            && note.contains("redirects to another site")
            && note.contains(&world.site_url("www.elsewhere.test", "/welcome")),
        "{note}"
    );
    expect(&obs, "portal.hsts-leaves.test", &[]);
    assert!(supplywatch::checks::http::not_judged(&obs["portal.hsts-leaves.test"]).is_some());
    // The other site was asked for nothing but the security.txt it was
    // sent to.
    assert_eq!(
        world.site_requests("www.elsewhere.test"),
        vec!["/.well-known/security.txt"]
    );
    // Within the site: followed and judged, nothing to note.
    expect(
        &obs,
        "portal.stays.test",
        &[
            "http.csp_missing",
            "http.framing_unprotected",
            "http.hsts_missing",
            "http.nosniff_missing",
            "http.referrer_policy_missing",
        ],
    );
    assert!(supplywatch::checks::http::not_judged(&obs["portal.stays.test"]).is_none());
    // security.txt at another site: followed, judged (it is valid).
    expect(&obs, "portal.txt-elsewhere.test", &[]);
    let txt = obs["portal.txt-elsewhere.test"]
        .security_txt
        .as_ref()
        .unwrap();
    assert_eq!(txt.redirects.len(), 1);
    assert!(txt.last().unwrap().url.contains("www.elsewhere.test"));
}

#[test]
fn broken_redirects_through_check() {
    in_netns(
        "http::broken_redirects_through_check_inside_a_namespace",
        &NAMESPACE_ADDRESSES,
    );
}

/// One supplier per way an endpoint can send its visitors where it cannot
/// be looked at, plus a healthy and a bare one, through
/// `supplywatch check --format json` with `allow_private_targets` false
/// and true: each raises its precise finding or error line, none is
/// graded A (except the endpoint refused outright, which is an error
/// line), the healthy one is untouched, and the canaries on the internal
/// addresses see no connection — until `allow_metadata_targets` opens them.
///
/// The sites live on 198.51.100.80 (a documentation address the rule
/// treats as public, on this namespace's `lo`), so that the strict rule
/// probes them.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "runs inside the network namespace of broken_redirects_through_check"]
#[expect(
    clippy::too_many_lines,
    reason = "one supplier per case, then one expectation per case and rule: the table is the test"
)]
async fn broken_redirects_through_check_inside_a_namespace() {
    const CONTACT: &str = "acme.test";
    const METADATA_URL: &str = "http://169.254.169.254/latest/meta-data/";
    if !inside_netns("http::broken_redirects_through_check") {
        return;
    }
    let public: IpAddr = "198.51.100.80".parse().unwrap();
    let redirecting = |location: &str| {
        clean_site(CONTACT)
            .root(Reply::redirect(302, location))
            .address(public)
    };
    let every_path =
        |location: &str| redirecting(location).security_txt(Reply::redirect(302, location));
    let world = WorldBuilder::default()
        .record(DnsRecord::a(
            "imds.metaname.test",
            Ipv4Addr::new(169, 254, 169, 254),
        ))
        .record(DnsRecord::a(
            "imds.meta.test",
            Ipv4Addr::new(169, 254, 169, 254),
        ))
        .site("www.healthy.test", clean_site(CONTACT).address(public))
        .site(
            "www.bare.test",
            SiteSpec::https().root(page([])).address(public),
        )
        .site("www.metadata.test", every_path(METADATA_URL))
        .site(
            "www.metadata6.test",
            every_path("http://[fd00:ec2::254]/latest/meta-data/"),
        )
        .site(
            "www.metaname.test",
            every_path("http://imds.metaname.test/latest/meta-data/"),
        )
        .site("www.private.test", redirecting("http://10.1.2.3/"))
        .site("www.loopback.test", redirecting("http://127.0.0.1/"))
        .site(
            "www.loop.test",
            redirecting("/a").route("/a", Reply::redirect(302, "/")),
        )
        .site(
            "www.six.test",
            chain(MAX_REDIRECTS + 1)
                .security_txt_text(&security_txt(90))
                .address(public),
        )
        .site(
            "www.leaves.test",
            redirecting("{origin:www.elsewhere.test}/"),
        )
        .site("www.elsewhere.test", clean_site(CONTACT).address(public))
        .start()
        .await
        .unwrap();
    let canary = world
        .canary(&[
            sock("169.254.169.254:80"),
            sock("169.254.169.254:443"),
            sock("[fd00:ec2::254]:80"),
            sock("10.1.2.3:80"),
            sock("127.0.0.1:80"),
        ])
        .await
        .unwrap();
    let suppliers: Vec<(&str, String)> = [
        ("healthy", "www.healthy.test"),
        ("bare", "www.bare.test"),
        ("metadata", "www.metadata.test"),
        ("metadata6", "www.metadata6.test"),
        ("metaname", "www.metaname.test"),
        ("private", "www.private.test"),
        ("loopback", "www.loopback.test"),
        ("loop", "www.loop.test"),
        ("six", "www.six.test"),
        ("leaves", "www.leaves.test"),
    ]
    .into_iter()
    .map(|(id, host)| (id, world.site_endpoint(host)))
    .chain([("imds", "imds.meta.test:443".to_owned())])
    .collect();
    let config = |allow_private: bool, allow_metadata: bool| {
        let mut text = format!(
            "[probe]\nnameservers = [\"{}\"]\nextra_roots = [\"{}\"]\ntimeout_secs = 3\n\
             allow_private_targets = {allow_private}\nallow_metadata_targets = {allow_metadata}\n",
            world.dns,
            world.roots_pem.display()
        );
        for (id, endpoint) in &suppliers {
            let _ = write!(
                text,
                "\n[[supplier]]\nid = \"{id}\"\nname = \"Case {id}\"\ncriticality = \"important\"\nendpoints = [\"{endpoint}\"]\n"
            );
        }
        text
    };
    let scratch = Scratch::new();
    let ids_of = |supplier: &serde_json::Value| -> Vec<String> {
        let mut ids: Vec<String> = supplier["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["check"].as_str().unwrap().to_owned())
            .filter(|id| !id.starts_with("tls."))
            .collect();
        ids.sort();
        ids
    };
    let broken = ["http.unreachable", "securitytxt.missing"];
    let bare = [
        "http.csp_missing",
        "http.framing_unprotected",
        "http.hsts_missing",
        "http.nosniff_missing",
        "http.referrer_policy_missing",
        "securitytxt.missing",
    ];

    for allow_private in [false, true] {
        scratch.write("supplywatch.toml", config(allow_private, false));
        let run = scratch.run_async(&["check", "--format", "json"]).await;
        run.expect_code(0);
        let report = run.json();
        let by_id = |id: &str| -> &serde_json::Value {
            report["suppliers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["id"] == id)
                .unwrap_or_else(|| panic!("no supplier {id} in {report}"))
        };
        let errors_of = |id: &str| -> Vec<String> {
            by_id(id)["errors"].as_array().map_or_else(Vec::new, |e| {
                e.iter()
                    .map(|e| e["message"].as_str().unwrap().to_owned())
                    .collect()
            })
        };
        let summary = |id: &str, check: &str| -> String {
            by_id(id)["findings"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["check"] == check)
                .unwrap_or_else(|| panic!("no {check} for {id}: {}", by_id(id)))["summary"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let (private_ids, private_error): (&[&str], bool) = if allow_private {
            // Open, and another site: not followed, the page not judged,
            // the redirect without HSTS judged.
            (&["http.hsts_missing"], true)
        } else {
            (&["http.unreachable"], false)
        };
        let expected: &[(&str, &[&str], bool)] = &[
            ("healthy", &[], false),
            ("bare", &bare, false),
            ("metadata", &broken, false),
            ("metadata6", &broken, false),
            ("metaname", &broken, false),
            ("private", private_ids, private_error),
            ("loopback", private_ids, private_error),
            ("loop", &["http.hsts_missing", "http.unreachable"], false),
            ("six", &["http.unreachable"], false),
            ("leaves", &["http.hsts_missing"], true),
            ("imds", &[], true),
        ];
        let mut wrong = Vec::new();
        for (id, ids, error) in expected {
            let got = ids_of(by_id(id));
            if got != *ids || errors_of(id).is_empty() == *error {
                wrong.push(format!(
                    "{id}: expected {ids:?} and {} error, got {got:?} and {:?}",
                    if *error { "an" } else { "no" },
                    errors_of(id)
                ));
            }
            let grade = by_id(id)["grade"].as_str().unwrap();
            let clean = ids.is_empty();
            if clean != (grade == "A") {
                wrong.push(format!("{id}: graded {grade} with {ids:?}"));
            }
            // Every finding counts now: none is held back as pending.
            for f in by_id(id)["findings"].as_array().unwrap() {
                if f["state"] != "open" {
                    wrong.push(format!("{id}: {f}"));
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "allow_private_targets = {allow_private}:\n{}\n\n{}",
            wrong.join("\n"),
            serde_json::to_string_pretty(&report).unwrap()
        );
        assert_eq!(by_id("healthy")["score"], 100);
        assert_eq!(by_id("bare")["grade"], "C");

        // The summaries say what happened.
        let metadata_origin = world.site("www.metadata.test").origin();
        assert_eq!(
            summary("metadata", "http.unreachable"),
            format!(
                "{metadata_origin}/ redirects to {METADATA_URL}, which is refused (a cloud metadata address); the page and its headers could not be checked"
            )
        );
        assert_eq!(
            summary("metadata", "securitytxt.missing"),
            format!(
                "no security.txt can be fetched: {metadata_origin}/.well-known/security.txt redirects to {METADATA_URL}, which is refused (a cloud metadata address)"
            )
        );
        assert!(
            summary("metadata6", "http.unreachable")
                .contains("to http://[fd00:ec2::254]/latest/meta-data/, which is refused (a cloud metadata address)")
        );
        assert!(summary("metaname", "http.unreachable").contains(
            "which is refused (it resolves to 169.254.169.254, a cloud metadata address)"
        ));
        let evidence = &by_id("metadata")["findings"][0]["evidence"];
        assert!(
            evidence["failure"]["detail"]
                .as_str()
                .unwrap()
                .contains("allow_metadata_targets"),
            "{evidence}"
        );
        assert!(summary("loop", "http.unreachable").contains("redirects in a loop"));
        assert!(summary("six", "http.unreachable").contains("redirects more than 5 times"));
        if allow_private {
            assert!(errors_of("private")[0].contains("another site, http://10.1.2.3/"));
        } else {
            assert!(
                summary("private", "http.unreachable")
                    .contains("http://10.1.2.3/, which is refused (a private address)")
            );
            assert!(
                summary("loopback", "http.unreachable")
                    .contains("http://127.0.0.1/, which is refused (a loopback address)")
            );
        }
        let leaves = &errors_of("leaves")[0];
        assert!(
            leaves.starts_with("page headers not checked: ")
                && leaves.contains(&world.site_url("www.elsewhere.test", "/")),
            "{leaves}"
        );
        let imds = &errors_of("imds")[0];
        assert!(
            imds.starts_with("not probed: ")
                && imds.contains("169.254.169.254, a cloud metadata address")
                && imds.contains("allow_metadata_targets"),
            "{imds}"
        );
        assert!(run.stderr.contains("warning: imds"), "{}", run.stderr);
        assert!(
            canary.hits().is_empty(),
            "allow_private_targets = {allow_private}: a connection reached {:?}",
            canary.hits()
        );
    }

    // The positive control: with allow_metadata_targets the canary is
    // reached — the endpoint on 169.254.169.254:443, and the name of the
    // metadata site that resolves there — so it would have seen any
    // connection above.
    scratch.write("supplywatch.toml", config(true, true));
    let run = scratch.run_async(&["check", "--format", "json"]).await;
    run.expect_code(0);
    let hits = canary.hits();
    assert!(hits.contains(&sock("169.254.169.254:443")), "{hits:?}");
    assert!(hits.contains(&sock("169.254.169.254:80")), "{hits:?}");
    // Still not the other internal addresses: those pages are on another
    // site (security.txt followed the metadata redirects, now allowed).
    assert!(
        hits.iter()
            .all(|h| supplywatch::probe::resolve::metadata_reason(h.ip()).is_some()),
        "{hits:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stalls_time_out() {
    let world = WorldBuilder::default()
        .site("stall.site.test", SiteSpec::https().root(Reply::stall()))
        .site(
            "stall-body.site.test",
            SiteSpec::https()
                .root(Reply::stall_body().headers(secure_headers()))
                .security_txt(Reply::stall()),
        )
        .start()
        .await
        .unwrap();
    let config = config(&world, true, Duration::from_secs(1));
    let prober = prober_with(&config, HttpOptions::default());
    let started = Instant::now();
    let obs = probe_all(
        &prober,
        &world,
        &["stall.site.test", "stall-body.site.test"],
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );

    let stall = &obs["stall.site.test"];
    let failure = stall.page.failure.as_ref().unwrap();
    assert_eq!(failure.kind, FailureKind::Timeout, "{failure:?}");
    assert_eq!(ids(stall), vec!["http.unreachable"]);
    let finding = &check(stall, Utc::now(), &Policy::default())[0];
    assert_eq!(finding.evidence["timed_out"], true);

    // Headers came, then the body stalled: the headers are judged; the
    // security.txt that never answers is unknown, not missing (this test
    // expected securitytxt.missing before; a timeout says nothing either way).
    let body = &obs["stall-body.site.test"];
    let page = body.page.last().unwrap();
    assert!(
        page.body_error.as_ref().unwrap().contains("did not arrive"),
        "{page:?}"
    );
    let txt = body.security_txt.as_ref().unwrap();
    assert_eq!(
        txt.failure.as_ref().map(|f| f.kind),
        Some(FailureKind::Timeout),
        "{txt:?}"
    );
    assert!(ids(body).is_empty(), "{:?}", ids(body));
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_answers_are_data() {
    let many_headers: Vec<(String, String)> = (0..300)
        .map(|i| (format!("x-h{i}"), "v".to_owned()))
        .collect();
    let world = WorldBuilder::default()
        .site(
            "garbage.site.test",
            SiteSpec::https().root(Reply::raw("not http at all\r\n\r\n")),
        )
        .site(
            "binary.site.test",
            SiteSpec::https().root(Reply::raw(vec![0xff_u8; 5000])),
        )
        .site(
            "many-headers.site.test",
            SiteSpec::https().root(Reply::secure_page().headers(many_headers)),
        )
        .site(
            "big-header.site.test",
            SiteSpec::https().root(Reply::secure_page().header("x-big", &"a".repeat(200_000))),
        )
        .site(
            "bad-location.site.test",
            SiteSpec::https().root(Reply::redirect(302, "javascript:alert(1)")),
        )
        .site(
            "odd-bytes.site.test",
            SiteSpec::https().security_txt(Reply::typed(
                "text/plain",
                b"Contact: mailto:s@a.test\r\nExpires: 2020-01-01T00:00:00Z\r\n\xff\xfe\x00junk\n"
                    .as_slice(),
            )),
        )
        .start()
        .await
        .unwrap();
    let hosts = [
        "garbage.site.test",
        "binary.site.test",
        "many-headers.site.test",
        "big-header.site.test",
        "bad-location.site.test",
        "odd-bytes.site.test",
    ];
    let obs = probe_all(&prober(&world), &world, &hosts).await;
    for host in ["garbage.site.test", "binary.site.test"] {
        let failure = obs[host].page.failure.as_ref().unwrap();
        assert_eq!(failure.kind, FailureKind::Protocol, "{host}: {failure:?}");
        expect(&obs, host, &["http.unreachable"]);
    }
    // More header lines than the HTTP stack takes is an unreadable answer;
    // one huge value is read and kept capped.
    let many = obs["many-headers.site.test"].page.failure.as_ref().unwrap();
    assert_eq!(many.kind, FailureKind::Protocol, "{many:?}");
    assert!(many.detail.contains("too large"), "{}", many.detail);
    let big = obs["big-header.site.test"].page.last().unwrap();
    assert_eq!(
        big.header("x-big").unwrap().len(),
        supplywatch::probe::http::HEADER_VALUE_CAP
    );
    expect(&obs, "big-header.site.test", &["securitytxt.missing"]);
    let bad = &obs["bad-location.site.test"].page;
    assert_eq!(bad.failure.as_ref().unwrap().kind, FailureKind::BadRedirect);
    let odd = obs["odd-bytes.site.test"].security_txt.as_ref().unwrap();
    assert!(!odd.last().unwrap().body_utf8);
    let txt_ids = ids(&obs["odd-bytes.site.test"]);
    assert!(txt_ids.contains(&"securitytxt.expired"), "{txt_ids:?}");
    assert!(txt_ids.contains(&"securitytxt.invalid"), "{txt_ids:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_on_a_port_80_endpoint() {
    let world = WorldBuilder::default()
        .site("secure.site.test", SiteSpec::https())
        .site(
            "redirects.site.test",
            SiteSpec::plain_http().root(Reply::redirect(301, "{origin:secure.site.test}/")),
        )
        .site(
            "via-plain.site.test",
            SiteSpec::plain_http().root(Reply::redirect(302, "{origin:redirects.site.test}/")),
        )
        .site("stays-plain.site.test", SiteSpec::plain_http())
        .site(
            "plain-hop.site.test",
            SiteSpec::plain_http().root(Reply::redirect(302, "{origin:stays-plain.site.test}/")),
        )
        .start()
        .await
        .unwrap();
    let plain = [
        "redirects.site.test",
        "via-plain.site.test",
        "stays-plain.site.test",
        "plain-hop.site.test",
    ];
    // The product probes plain HTTP on port 80 only; the world cannot bind
    // it, so this prober treats the plain sites' ports as "port 80".
    let config = config(&world, true, Duration::from_secs(5));
    let prober = prober_with(
        &config,
        HttpOptions {
            plain_http_ports: plain.iter().map(|h| world.site_addr(h).port()).collect(),
            ..HttpOptions::default()
        },
    );
    let obs = probe_all(&prober, &world, &plain).await;
    for host in plain {
        assert_eq!(obs[host].scheme, HttpScheme::Http);
        assert!(obs[host].security_txt.is_none());
    }
    expect(&obs, "redirects.site.test", &[]);
    expect(&obs, "via-plain.site.test", &[]);
    expect(&obs, "stays-plain.site.test", &["http.no_https_redirect"]);
    expect(&obs, "plain-hop.site.test", &["http.no_https_redirect"]);
    // The HTTPS side is not fetched by a plain-HTTP probe.
    assert!(world.site_requests("secure.site.test").is_empty());

    // With the default rule, only port 80 is plain HTTP.
    let default = prober_with(&config, HttpOptions::default());
    assert!(default.is_plain_http(&endpoint("portal.acme.test:80")));
    assert!(!default.is_plain_http(&endpoint("portal.acme.test")));
    assert!(!default.is_plain_http(&endpoint(&world.site_endpoint("stays-plain.site.test"))));
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_fetch_verifies_certificates() {
    const POLICY: &str = "version: STSv1\nmode: enforce\nmx: mail.acme.test\nmax_age: 86400\n";
    const PATH: &str = "/.well-known/mta-sts.txt";
    let policy = |cert| {
        SiteSpec::https()
            .certificate(cert)
            .route(PATH, Reply::typed("text/plain; charset=utf-8", POLICY))
    };
    let world = WorldBuilder::default()
        .site("mta-sts.good.test", policy(SiteCert::Good))
        .site("mta-sts.rogue.test", policy(SiteCert::UntrustedRoot))
        .site("mta-sts.self.test", policy(SiteCert::SelfSigned))
        .site("mta-sts.expired.test", policy(SiteCert::Expired))
        .site(
            "mta-sts.html.test",
            SiteSpec::https().route(PATH, Reply::typed("text/html", POLICY)),
        )
        .site(
            "mta-sts.redirect.test",
            SiteSpec::https().route(
                PATH,
                Reply::redirect(301, &format!("{{origin:mta-sts.good.test}}{PATH}")),
            ),
        )
        .site(
            "mta-sts.huge.test",
            SiteSpec::https().route(PATH, Reply::huge(100 * 1024)),
        )
        .site("mta-sts.none.test", SiteSpec::https())
        .start()
        .await
        .unwrap();
    let prober = prober(&world);
    let url = |host: &str| world.site_url(host, PATH);

    assert_eq!(
        prober
            .fetch_policy(&url("mta-sts.good.test"))
            .await
            .unwrap(),
        POLICY
    );
    for (host, words) in [
        ("mta-sts.rogue.test", "UnknownIssuer"),
        ("mta-sts.self.test", "UnknownIssuer"),
        ("mta-sts.expired.test", "certificate expired"),
        ("mta-sts.html.test", "not text/plain"),
        ("mta-sts.redirect.test", "not fetched through redirects"),
        ("mta-sts.huge.test", "larger than 64 KiB"),
        ("mta-sts.none.test", "HTTP 404"),
    ] {
        let error = prober
            .fetch_policy(&url(host))
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains(words), "{host}: {error}");
    }
    // The certificate failures never got as far as a request.
    assert!(world.site_requests("mta-sts.rogue.test").is_empty());
    let error = prober
        .fetch_policy(
            &world
                .site_url("mta-sts.good.test", PATH)
                .replace("https://", "http://"),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("not an https:// URL"), "{error}");
    assert!(prober.fetch_policy("not a url").await.is_err());

    // Without the world's roots, the good site is untrusted too.
    let mut untrusting = config(&world, true, Duration::from_secs(5));
    untrusting.extra_roots.clear();
    let untrusting = prober_with(&untrusting, HttpOptions::default());
    let error = untrusting
        .fetch_policy(&url("mta-sts.good.test"))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("UnknownIssuer"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_and_unknown_names() {
    let world = World::start().await.unwrap();
    let prober = prober(&world);
    // Nothing listens on the Closed case's port.
    let closed = world.endpoint(supplywatch_testworld::TlsCase::Closed);
    let obs = prober.probe(&endpoint(&closed)).await;
    assert_eq!(
        obs.page.failure.as_ref().unwrap().kind,
        FailureKind::Connect
    );
    assert_eq!(ids(&obs), vec!["http.unreachable"]);
    // NXDOMAIN.
    let obs = prober.probe(&endpoint("missing.tls.test:443")).await;
    let failure = obs.page.failure.as_ref().unwrap();
    assert_eq!(failure.kind, FailureKind::Lookup, "{failure:?}");
    assert!(failure.detail.contains("NXDOMAIN"), "{}", failure.detail);
    assert_eq!(ids(&obs), vec!["http.unreachable"]);
    // The TLS cases answer like a well-configured site: reachable, nothing
    // to find.
    let good = world.endpoint(supplywatch_testworld::TlsCase::GoodEcdsa);
    let obs = prober.probe(&endpoint(&good)).await;
    assert!(ids(&obs).is_empty(), "{obs:?}");
}
