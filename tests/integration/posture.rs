//! `supplywatch check` end to end for the domain (DNS, e-mail) and HTTP
//! posture probes: a supplier with nothing wrong has no findings at all
//! (the MTA-STS policy fetched for real over verified HTTPS), a domain or
//! site missing one thing raises exactly that id with the right target, and
//! a private target is refused for HTTP as for TLS, with one error line.
//!
//! The world serves MTA-STS policies on ephemeral ports, so the configs set
//! `probe.mta_sts_port` to the policy site's port.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use supplywatch_testworld::zone::{POLICY_PATH, clean_site};
use supplywatch_testworld::{MailDomain, Reply, SiteCert, SiteSpec, TlsCase, World, WorldBuilder};

use crate::support::{Run, Scratch};

/// The contact domain of the sites' `security.txt`.
const CONTACT: &str = "posture.test";

/// One `[[supplier]]` per entry: id, domains, endpoints.
struct Entry<'a> {
    id: &'a str,
    domains: Vec<String>,
    endpoints: Vec<String>,
}

impl<'a> Entry<'a> {
    fn domain(id: &'a str, domain: &str) -> Self {
        Self {
            id,
            domains: vec![domain.to_owned()],
            endpoints: Vec::new(),
        }
    }

    fn endpoint(id: &'a str, endpoint: String) -> Self {
        Self {
            id,
            domains: Vec::new(),
            endpoints: vec![endpoint],
        }
    }
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("\"{i}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn world_config(world: &World, entries: &[Entry<'_>], allow_private: bool) -> String {
    let mut text = format!(
        // The zones' MX hosts are names only: mail servers are mx.rs's.
        "[probe]\nnameservers = [\"{}\"]\nextra_roots = [\"{}\"]\ntimeout_secs = 3\nallow_private_targets = {allow_private}\nsmtp = false\n",
        world.dns,
        world.roots_pem.display()
    );
    // Policies are served on the world's ephemeral ports, not 443.
    if let Some(site) = world
        .sites()
        .iter()
        .find(|s| s.host.starts_with("mta-sts."))
    {
        let _ = writeln!(text, "mta_sts_port = {}", site.addr.port());
    }
    for entry in entries {
        let _ = write!(
            text,
            "\n[[supplier]]\nid = \"{}\"\nname = \"Case {}\"\ncriticality = \"important\"\ndomains = [{}]\nendpoints = [{}]\n",
            entry.id,
            entry.id,
            quoted(&entry.domains),
            quoted(&entry.endpoints),
        );
    }
    text
}

async fn check(scratch: &Scratch, args: &[&str]) -> Run {
    scratch.run_async(args).await
}

fn supplier<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["suppliers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no supplier {id} in {report}"))
}

fn findings(supplier: &serde_json::Value) -> &[serde_json::Value] {
    supplier["findings"].as_array().unwrap()
}

/// The ids of one supplier's findings that are not `tls.*`.
fn non_tls_ids(supplier: &serde_json::Value) -> BTreeSet<String> {
    findings(supplier)
        .iter()
        .map(|f| f["check"].as_str().unwrap().to_owned())
        .filter(|id| !id.starts_with("tls."))
        .collect()
}

fn finding_of<'a>(supplier: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    findings(supplier)
        .iter()
        .find(|f| f["check"] == id)
        .unwrap_or_else(|| panic!("no {id} in {supplier}"))
}

/// Domain findings name the bare domain, endpoint findings `host:port`
/// (each entry here has one domain or one endpoint); nothing is refused.
fn assert_targets(report: &serde_json::Value, entries: &[Entry<'_>]) {
    for entry in entries {
        let s = supplier(report, entry.id);
        assert!(s.get("errors").is_none(), "{s}");
        for f in findings(s) {
            let check = f["check"].as_str().unwrap();
            let want = if check.starts_with("dns.") || check.starts_with("email.") {
                entry.domains.first()
            } else {
                entry.endpoints.first()
            };
            assert_eq!(
                Some(&f["target"]),
                want.map(|w| serde_json::json!(w)).as_ref(),
                "{f}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clean_supplier_has_no_findings_at_all() {
    let domain = MailDomain::good("clean.posture.test");
    let (sts_host, sts_site) = domain.policy_site(SiteCert::Good);
    let world = WorldBuilder::default()
        .records(domain.records().unwrap())
        .site(&sts_host, sts_site)
        .site("www.clean.posture.test", clean_site(CONTACT))
        .start()
        .await
        .unwrap();
    let entries = [Entry {
        id: "clean",
        domains: vec![domain.name.clone()],
        endpoints: vec![world.site_endpoint("www.clean.posture.test")],
    }];
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", world_config(&world, &entries, true));

    let run = check(
        &scratch,
        &["check", "--fail-on", "info", "--format", "json"],
    )
    .await;
    let report = run.json();
    let clean = supplier(&report, "clean");
    assert!(
        findings(clean).is_empty(),
        "expected no findings:\n{}",
        serde_json::to_string_pretty(clean).unwrap()
    );
    assert!(clean.get("errors").is_none(), "{clean}");
    run.expect_code(0);
    // The policy was fetched for real from the policy host, and the site
    // was asked for its page and its security.txt.
    assert_eq!(world.site_requests(&sts_host), vec![POLICY_PATH]);
    assert_eq!(
        world.site_requests("www.clean.posture.test"),
        vec!["/", "/.well-known/security.txt"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn domain_and_http_ids_fire_through_check() {
    // Through the binary an MTA-STS policy can only be fetched from port
    // 443, where the world serves nothing (see the ignored tests): these
    // domains publish no `_mta-sts` record, so each raises its one missing
    // thing plus email.mta_sts_missing (no_txt_record), whatever the port.
    let no_sts = |z: &mut MailDomain| z.sts.clear();
    let zones = [
        MailDomain::good("nodmarc.posture.test").with(|z| {
            no_sts(z);
            z.dmarc.clear();
        }),
        MailDomain::good("plusall.posture.test").with(|z| {
            no_sts(z);
            z.spf = vec!["v=spf1 mx +all".to_owned()];
        }),
        MailDomain::good("nosts.posture.test").with(no_sts),
    ];
    let world = WorldBuilder::default()
        .records(zones.iter().flat_map(|z| z.records().unwrap()))
        .site(
            "nohsts.posture.test",
            clean_site(CONTACT).root(Reply::secure_page().without("strict-transport-security")),
        )
        .site(
            "notxt.posture.test",
            SiteSpec::https().root(Reply::secure_page()),
        )
        .start()
        .await
        .unwrap();
    let entries = [
        Entry::domain("nodmarc", "nodmarc.posture.test"),
        Entry::domain("plusall", "plusall.posture.test"),
        Entry::domain("nosts", "nosts.posture.test"),
        Entry::domain("gone", "gone.posture.test"),
        Entry::endpoint("nohsts", world.site_endpoint("nohsts.posture.test")),
        Entry::endpoint("notxt", world.site_endpoint("notxt.posture.test")),
    ];
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", world_config(&world, &entries, true));

    let run = check(&scratch, &["check", "--format", "json"]).await;
    run.expect_code(0);
    let report = run.json();
    assert_eq!(
        report["suppliers"].as_array().unwrap().len(),
        entries.len(),
        "{report}"
    );

    let expected: &[(&str, &[&str])] = &[
        ("nodmarc", &["email.dmarc_missing", "email.mta_sts_missing"]),
        (
            "plusall",
            &["email.mta_sts_missing", "email.spf_permissive"],
        ),
        ("nosts", &["email.mta_sts_missing"]),
        ("gone", &["dns.resolution_failed"]),
        ("nohsts", &["http.hsts_missing"]),
        ("notxt", &["securitytxt.missing"]),
    ];
    let mut wrong = Vec::new();
    for (id, ids) in expected {
        let got = non_tls_ids(supplier(&report, id));
        let want: BTreeSet<String> = ids.iter().map(|s| (*s).to_owned()).collect();
        if got != want {
            wrong.push(format!("{id}: expected {want:?}, got {got:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{}\n\n{}",
        wrong.join("\n"),
        serde_json::to_string_pretty(&report).unwrap()
    );

    assert_targets(&report, &entries);

    let dmarc = finding_of(supplier(&report, "nodmarc"), "email.dmarc_missing");
    assert_eq!(dmarc["severity"], "high");
    assert!(
        dmarc["summary"]
            .as_str()
            .unwrap()
            .contains("_dmarc.nodmarc.posture.test"),
        "{dmarc}"
    );
    let spf = finding_of(supplier(&report, "plusall"), "email.spf_permissive");
    assert_eq!(spf["severity"], "medium");
    assert!(spf["summary"].as_str().unwrap().contains("+all"), "{spf}");
    for id in ["nodmarc", "plusall", "nosts"] {
        let sts = finding_of(supplier(&report, id), "email.mta_sts_missing");
        assert_eq!(sts["evidence"]["reason"], "no_txt_record", "{sts}");
        assert_eq!(sts["severity"], "low");
    }

    // The NXDOMAIN domain: one finding, nothing else looked at.
    let gone = supplier(&report, "gone");
    assert_eq!(findings(gone).len(), 1, "{gone}");
    let nx = finding_of(gone, "dns.resolution_failed");
    assert_eq!(nx["severity"], "high");
    assert_eq!(nx["evidence"]["response"], "NXDOMAIN", "{nx}");

    let hsts = finding_of(supplier(&report, "nohsts"), "http.hsts_missing");
    assert_eq!(hsts["severity"], "medium");
    let txt = finding_of(supplier(&report, "notxt"), "securitytxt.missing");
    assert_eq!(txt["severity"], "medium");
    assert!(txt["summary"].as_str().unwrap().contains("404"), "{txt}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_policy_certificate_leaves_mta_sts_missing() {
    let domain = MailDomain::good("stsrogue.posture.test");
    let (sts_host, sts_site) = domain.policy_site(SiteCert::UntrustedRoot);
    let world = WorldBuilder::default()
        .records(domain.records().unwrap())
        .site(&sts_host, sts_site)
        .start()
        .await
        .unwrap();
    let entries = [Entry::domain("stsrogue", &domain.name)];
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", world_config(&world, &entries, true));

    let run = check(&scratch, &["check", "--format", "json"]).await;
    run.expect_code(0);
    let report = run.json();
    let rogue = supplier(&report, "stsrogue");
    let ids: BTreeSet<String> = non_tls_ids(rogue);
    assert_eq!(
        ids,
        BTreeSet::from(["email.mta_sts_missing".to_owned()]),
        "{rogue}"
    );
    // The policy host presents a certificate under the untrusted Rogue
    // root: a sender would not take the policy, and neither does the fetch,
    // which never gets as far as a request.
    let sts = finding_of(rogue, "email.mta_sts_missing");
    assert_eq!(sts["target"], "stsrogue.posture.test");
    let evidence = &sts["evidence"];
    assert_eq!(evidence["reason"], "policy_unreachable", "{sts}");
    assert_eq!(
        evidence["policy_url"],
        "https://mta-sts.stsrogue.posture.test/.well-known/mta-sts.txt"
    );
    assert_eq!(evidence["id"], "20260301T000000");
    assert_eq!(evidence["policy"]["state"], "unreachable", "{sts}");
    let error = evidence["policy"]["error"].as_str().unwrap();
    assert!(error.contains("UnknownIssuer"), "{error}");
    assert!(world.site_requests(&sts_host).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn private_targets_refuse_http_too() {
    let world = WorldBuilder::default()
        .site("private.posture.test", clean_site(CONTACT))
        .start()
        .await
        .unwrap();
    let site = world.site_endpoint("private.posture.test");
    let tls = world.endpoint(TlsCase::GoodEcdsa);
    let entries = [
        Entry::endpoint("site", site.clone()),
        Entry {
            id: "both",
            domains: Vec::new(),
            endpoints: vec![site.clone(), tls.clone()],
        },
    ];
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", world_config(&world, &entries, false));

    let run = check(
        &scratch,
        &["check", "--fail-on", "info", "--format", "json"],
    )
    .await;
    run.expect_code(0);
    let report = run.json();

    let one = supplier(&report, "site");
    assert!(findings(one).is_empty(), "{one}");
    let errors = one["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "TLS and HTTP refusals are one line: {one}");
    assert_eq!(errors[0]["target"], site.as_str());
    let message = errors[0]["message"].as_str().unwrap();
    assert!(message.starts_with("not probed: "), "{message}");
    assert!(message.contains("127.0.0.1"), "{message}");
    assert!(message.contains("allow_private_targets"), "{message}");

    // One line per target, whichever probes refused it.
    let both = supplier(&report, "both");
    assert!(findings(both).is_empty(), "{both}");
    let targets: Vec<&str> = both["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    let mut sorted = targets.clone();
    sorted.sort_unstable();
    let mut want = vec![site.as_str(), tls.as_str()];
    want.sort_unstable();
    assert_eq!(sorted, want, "{both}");

    // Nothing was asked of the site.
    assert!(world.site_requests("private.posture.test").is_empty());
    assert!(run.stderr.contains("not probed"), "{}", run.stderr);
}
