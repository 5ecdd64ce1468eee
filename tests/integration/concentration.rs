//! `concentration` end to end: a loopback world where three suppliers share
//! a DNS provider, two a CA, a mail host domain and a network; `check
//! --save` through the binary, then the listing in every format, the
//! `portfolio.concentration` finding opening and resolving, and the ASN
//! table's errors.

use std::fmt::Write as _;

use supplywatch_testworld::{MailDomain, TlsCase, World};

use crate::support::{Run, Scratch};

const ASN_TABLE: &str = "# range_start\trange_end\tAS_number\tcountry_code\tAS_description\n\
    1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n\
    127.0.0.0\t127.255.255.255\t64500\tZZ\tLOOPBACK-TEST Example Networks\n\
    ::1\t::1\t64501\tZZ\tLOOPBACK-V6\n";

/// Three suppliers: every domain under the name servers of
/// `shared-dns.test`; alpha's and beta's mail at `mailhost.test` and
/// their endpoints under the test intermediate; gamma's mail at home.
async fn world() -> World {
    let zones = [
        ("alpha.test", "mx1.mailhost.test"),
        ("beta.test", "mx2.mailhost.test"),
        ("gamma.test", "mx.gamma.test"),
    ]
    .map(|(name, mx)| {
        MailDomain::good(name).with(|z| {
            z.nameservers = vec![
                "a.ns.shared-dns.test".to_owned(),
                "b.ns.shared-dns.test".to_owned(),
            ];
            z.mx = vec![(10, mx.to_owned())];
        })
    });
    World::builder()
        .records(zones.iter().flat_map(|z| z.records().unwrap()))
        .start()
        .await
        .unwrap()
}

/// The entity keeping a Register of Information: what lets suppliers
/// declare their subcontractors.
const ENTITY: &str = "[entity]\nlei = \"529900MUSTERBANK0030\"\nname = \"Musterbank AG\"\ncountry = \"DE\"\ntype = \"credit-institution\"\ncompetent_authority = \"BaFin\"\ncurrency = \"EUR\"\n";

const SUBCONTRACTOR: &str = "[supplier.contract]\nreference = \"C-{id}\"\nstart = 2024-01-01\nend = 2099-06-30\nnotice_days = 90\n[[supplier.contract.service]]\ntype = \"cloud-iaas\"\n[[supplier.contract.service.subcontractor]]\nrank = 2\nlei = \"635400DCIRELAND00077\"\nname = \"DC Ireland Colocation Ltd\"\ncountry = \"IE\"\n";

fn config(world: &World, suppliers: &[&str], report: &str) -> String {
    let mut text = format!(
        "[daemon]\ndatabase = \"state.db\"\n\n[probe]\nnameservers = [\"{}\"]\nextra_roots = [\"{}\"]\ntimeout_secs = 2\nallow_private_targets = true\n\n[report]\n{report}\n\n{ENTITY}",
        world.dns,
        world.roots_pem.display()
    );
    for (id, criticality, endpoint) in [
        ("alpha", "critical", Some(TlsCase::GoodEcdsa)),
        ("beta", "important", Some(TlsCase::GoodRsa)),
        ("gamma", "critical", None),
    ] {
        if !suppliers.contains(&id) {
            continue;
        }
        let endpoints = endpoint.map_or_else(String::new, |case| {
            format!("endpoints = [\"{}\"]\n", world.endpoint(case))
        });
        let _ = write!(
            text,
            "\n[[supplier]]\nid = \"{id}\"\nname = \"Supplier {id}\"\ncriticality = \"{criticality}\"\ndomains = [\"{id}.test\"]\n{endpoints}"
        );
        if id != "beta" {
            text.push_str(&SUBCONTRACTOR.replace("{id}", id));
        }
    }
    text
}

fn provider<'a>(doc: &'a serde_json::Value, kind: &str, key: &str) -> &'a serde_json::Value {
    doc["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == kind && p["key"] == key)
        .unwrap_or_else(|| panic!("no {kind} {key} in {doc:#}"))
}

fn ids(p: &serde_json::Value) -> Vec<&str> {
    p["suppliers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect()
}

fn portfolio(findings: &Run) -> Vec<String> {
    let mut out: Vec<String> = findings
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "portfolio.concentration")
        .map(|f| format!("{} {} {}", f["supplier"], f["target"], f["state"]).replace('"', ""))
        .collect();
    out.sort();
    out
}

/// The listing after one saved run, in every format: the groups, their
/// weights and supplier lists, and the filters.
async fn listings(scratch: &Scratch) {
    let json = scratch
        .run_async(&["concentration", "--format", "json"])
        .await;
    json.expect_code(0);
    let doc = json.json();
    assert_eq!(doc["suppliers"], 3);
    assert_eq!(doc["asn"]["state"], "loaded");
    let first = &doc["providers"][0];
    assert_eq!(
        (first["kind"].as_str(), first["key"].as_str()),
        (Some("dns"), Some("shared-dns.test"))
    );
    let dns = provider(&doc, "dns", "shared-dns.test");
    assert_eq!(
        (dns["score"].as_u64(), dns["count"].as_u64()),
        (Some(8), Some(3))
    );
    assert_eq!(ids(dns), ["alpha", "beta", "gamma"]);
    assert_eq!(
        dns["suppliers"][0]["via"],
        serde_json::json!(["a.ns.shared-dns.test", "b.ns.shared-dns.test"])
    );
    assert_eq!(dns["suppliers"][1]["weight"], 2);
    let ca = provider(&doc, "ca", "supplywatch tests");
    assert_eq!(
        (ca["score"].as_u64(), ids(ca)),
        (Some(5), vec!["alpha", "beta"])
    );
    let mail = provider(&doc, "mail", "mailhost.test");
    assert_eq!(
        (mail["score"].as_u64(), ids(mail)),
        (Some(5), vec!["alpha", "beta"])
    );
    assert_eq!(ids(provider(&doc, "mail", "gamma.test")), ["gamma"]);
    let net = provider(&doc, "asn", "AS64500");
    assert_eq!(net["name"], "LOOPBACK-TEST Example Networks");
    assert_eq!(
        (net["score"].as_u64(), ids(net)),
        (Some(5), vec!["alpha", "beta"])
    );
    let sub = provider(&doc, "subcontractor", "635400DCIRELAND00077");
    assert_eq!(sub["name"], "DC Ireland Colocation Ltd");
    assert_eq!(
        (sub["score"].as_u64(), ids(sub)),
        (Some(6), vec!["alpha", "gamma"])
    );

    // Filters.
    let only = scratch
        .run_async(&[
            "concentration",
            "--kind",
            "mail",
            "--min",
            "2",
            "--format",
            "json",
        ])
        .await
        .json();
    let keys: Vec<&str> = only["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["mailhost.test"]);
}

/// The listing as a table and as CSV.
async fn listings_text(scratch: &Scratch) {
    // The table: providers with their suppliers under them.
    let table = scratch.run_async(&["concentration"]).await;
    table.expect_code(0);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(lines[0].starts_with("KIND"), "{}", table.stdout);
    assert!(
        lines[1]
            .split_whitespace()
            .take(5)
            .eq(["dns", "shared-dns.test", "8", "3", "3"]),
        "{}",
        table.stdout
    );
    assert!(lines[1].contains("alpha"), "{}", table.stdout);
    assert!(
        lines[2].trim_start().starts_with("beta"),
        "{}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .contains("AS64500 (LOOPBACK-TEST Example Networks)"),
        "{}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .contains("weights: critical 3, important 2, standard 1")
    );

    // CSV: one row per provider and supplier.
    let csv = scratch
        .run_async(&["concentration", "--format", "csv"])
        .await;
    csv.expect_code(0);
    let rows: Vec<&str> = csv.stdout.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        rows[0],
        "kind,provider,provider_name,score,suppliers,critical_or_important,supplier,supplier_name,criticality,weight,via"
    );
    assert_eq!(
        rows[1],
        "dns,shared-dns.test,shared-dns.test,8,3,3,alpha,Supplier alpha,critical,3,a.ns.shared-dns.test; b.ns.shared-dns.test"
    );
    // 3 dns + 2 ca + 2 mail(host) + 1 mail(gamma) + 2 asn + 2 subcontractor.
    assert_eq!(rows.len(), 1 + 12, "{}", csv.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn providers_from_observations_findings_and_their_resolution() {
    let world = world().await;
    let scratch = Scratch::new();
    scratch.write("asn.tsv", ASN_TABLE);
    let report = "asn_table = \"asn.tsv\"\nconcentration_alert = 2";
    scratch.write(
        "supplywatch.toml",
        config(&world, &["alpha", "beta", "gamma"], report),
    );

    // A database that has seen no run yet.
    scratch.run_async(&["sync"]).await.expect_code(0);
    let empty = scratch.run_async(&["concentration"]).await;
    empty.expect_code(0);
    assert!(empty.stdout.contains("no runs yet"), "{}", empty.stdout);

    scratch.run_async(&["check", "--save"]).await.expect_code(0);

    listings(&scratch).await;
    listings_text(&scratch).await;

    // More than 2 critical or important suppliers on one provider: a
    // finding of each of them.
    let findings = scratch
        .run_async(&["findings", "--all", "--format", "json"])
        .await;
    findings.expect_code(0);
    assert_eq!(
        portfolio(&findings),
        [
            "alpha dns:shared-dns.test open",
            "beta dns:shared-dns.test open",
            "gamma dns:shared-dns.test open"
        ]
    );
    let digest = scratch.run_async(&["digest", "--preview"]).await;
    digest.expect_code(0);
    assert!(
        digest.stdout.contains("dns:shared-dns.test"),
        "{}",
        digest.stdout
    );

    // The ASN table unreadable during a run: the portfolio's judgement is
    // incomplete, so alpha's and beta's findings do not resolve for want
    // of it (gamma's does: gamma left the registry).
    scratch.write("asn.tsv", "not\ta table\n");
    scratch.write(
        "supplywatch.toml",
        config(&world, &["alpha", "beta"], report),
    );
    scratch.run_async(&["check", "--save"]).await.expect_code(0);
    let unread = scratch
        .run_async(&["findings", "--all", "--format", "json"])
        .await;
    assert_eq!(
        portfolio(&unread),
        [
            "alpha dns:shared-dns.test open",
            "beta dns:shared-dns.test open",
            "gamma dns:shared-dns.test resolved"
        ]
    );
    scratch.write("asn.tsv", ASN_TABLE);

    // gamma leaves: two remain, the finding resolves for everyone.
    scratch.write(
        "supplywatch.toml",
        config(&world, &["alpha", "beta"], report),
    );
    scratch.run_async(&["check", "--save"]).await.expect_code(0);
    let after = scratch
        .run_async(&["findings", "--all", "--format", "json"])
        .await;
    assert_eq!(
        portfolio(&after),
        [
            "alpha dns:shared-dns.test resolved",
            "beta dns:shared-dns.test resolved",
            "gamma dns:shared-dns.test resolved"
        ]
    );
    let doc = scratch
        .run_async(&["concentration", "--format", "json"])
        .await
        .json();
    assert_eq!(
        ids(provider(&doc, "dns", "shared-dns.test")),
        ["alpha", "beta"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_asn_table_and_with_a_broken_one() {
    let world = world().await;
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", config(&world, &["alpha", "beta"], ""));
    scratch.run_async(&["check", "--save"]).await.expect_code(0);
    let table = scratch.run_async(&["concentration"]).await;
    table.expect_code(0);
    assert!(
        table.stdout.contains("hosting networks: no ASN data"),
        "{}",
        table.stdout
    );
    let doc = scratch
        .run_async(&["concentration", "--format", "json"])
        .await
        .json();
    assert_eq!(doc["asn"]["state"], "absent");
    assert!(
        !doc["providers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["kind"] == "asn")
    );
    // Below the default alert (3): no finding.
    let findings = scratch
        .run_async(&["findings", "--all", "--format", "json"])
        .await;
    assert!(portfolio(&findings).is_empty());

    // A malformed line is named by file and line.
    for (file, text, said) in [
        (
            "bad.tsv",
            "1.0.0.0\t1.0.0.255\t13335\tUS\tX\n127.0.0.0\t127.0.0.x\t64500\tZZ\tY\n",
            "bad.tsv:2: range_end \"127.0.0.x\" is not an IP address",
        ),
        (
            "short.tsv",
            "127.0.0.0\t127.0.0.255\t64500\n",
            "short.tsv:1: expected 5 tab-separated fields",
        ),
    ] {
        scratch.write(file, text);
        let report = format!("asn_table = \"{file}\"");
        scratch.write(
            "supplywatch.toml",
            config(&world, &["alpha", "beta"], &report),
        );
        let refused = scratch.run_async(&["concentration"]).await;
        refused.expect_code(2);
        assert!(refused.stderr.contains(said), "{}", refused.stderr);
    }

    // Not a file: refused when the config loads, located there.
    std::fs::create_dir(scratch.path("dir.tsv")).unwrap();
    scratch.write(
        "supplywatch.toml",
        config(&world, &["alpha", "beta"], "asn_table = \"dir.tsv\""),
    );
    let dir = scratch.run_async(&["concentration"]).await;
    dir.expect_code(2);
    assert!(dir.stderr.contains("supplywatch.toml:"), "{}", dir.stderr);
    assert!(
        dir.stderr.contains("dir.tsv is not a regular file"),
        "{}",
        dir.stderr
    );
}
