//! `supplywatch check` end to end against the local test world: every
//! `tls.*` id fires where it must and nowhere else.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use supplywatch_testworld::{TlsCase, World};

use crate::support::{Run, Scratch};

/// One supplier per case, so that findings can be told apart by supplier.
fn world_config(world: &World, cases: &[(String, String)], allow_private: bool) -> String {
    let mut text = format!(
        "[probe]\nnameservers = [\"{}\"]\nextra_roots = [\"{}\"]\ntimeout_secs = 2\nallow_private_targets = {allow_private}\n",
        world.dns,
        world.roots_pem.display()
    );
    for (id, endpoint) in cases {
        let _ = write!(
            text,
            "\n[[supplier]]\nid = \"{id}\"\nname = \"Case {id}\"\ncriticality = \"important\"\nendpoints = [\"{endpoint}\"]\n"
        );
    }
    text
}

async fn check(scratch: &Scratch, args: &[&str]) -> Run {
    scratch.run_async(args).await
}

/// The `tls.*` ids of one supplier (a case whose server cannot answer HTTP
/// — a stall, a closed port — raises `http.unreachable` too; HTTP ids are
/// tested in `http.rs` and `posture.rs`).
fn ids_of(supplier: &serde_json::Value) -> BTreeSet<String> {
    supplier["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap().to_owned())
        .filter(|id| id.starts_with("tls."))
        .collect()
}

fn finding_of<'a>(supplier: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    supplier["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == id)
        .unwrap_or_else(|| panic!("no {id} in {supplier}"))
}

/// The `tls.*` ids each case raises, and no other.
const EXPECTED: &[(TlsCase, &[&str])] = &[
    (TlsCase::GoodEcdsa, &[]),
    (TlsCase::GoodRsa, &[]),
    (TlsCase::Expired, &["tls.cert_expired"]),
    (TlsCase::Expiring, &["tls.cert_expiring"]),
    (TlsCase::NotYetValid, &["tls.cert_not_yet_valid"]),
    (TlsCase::WrongHost, &["tls.hostname_mismatch"]),
    (TlsCase::SelfSigned, &["tls.self_signed"]),
    (TlsCase::UntrustedRoot, &["tls.untrusted_root"]),
    (TlsCase::IncompleteChain, &["tls.incomplete_chain"]),
    (TlsCase::Rsa1024, &["tls.weak_key"]),
    (TlsCase::Sha1, &["tls.long_validity", "tls.weak_signature"]),
    (TlsCase::LongValidity, &["tls.long_validity"]),
    (TlsCase::Tls12Only, &["tls.no_tls13"]),
    (TlsCase::Legacy, &["tls.legacy_protocol"]),
    (TlsCase::Ssl3Only, &["tls.legacy_protocol"]),
    (TlsCase::CamelliaOnly, &["tls.legacy_protocol"]),
    (TlsCase::ExpiredIntermediate, &["tls.cert_expired"]),
    (TlsCase::MissingIntermediate, &["tls.incomplete_chain"]),
    (
        TlsCase::PssSha1,
        &["tls.long_validity", "tls.weak_signature"],
    ),
    // Probed by name here, which its SAN does not match either.
    (TlsCase::IpAsDnsName, &["tls.hostname_mismatch"]),
    (TlsCase::Stall, &["tls.unreachable"]),
    (TlsCase::Closed, &["tls.unreachable"]),
];

#[tokio::test(flavor = "multi_thread")]
async fn every_tls_id_fires_where_it_must_and_nowhere_else() {
    let world = World::start().await.unwrap();
    let expected = EXPECTED;
    let mut cases: Vec<(String, String)> = expected
        .iter()
        .map(|(case, _)| (case.name().to_owned(), world.endpoint(*case)))
        .collect();
    cases.push(("missing".to_owned(), "missing.tls.test:443".to_owned()));
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", world_config(&world, &cases, true));

    let run = check(&scratch, &["check", "--format", "json"]).await;
    run.expect_code(0);
    let report = run.json();
    assert!(report["generated_at"].as_str().unwrap().ends_with('Z'));
    let suppliers = report["suppliers"].as_array().unwrap();
    assert_eq!(suppliers.len(), cases.len());
    let by_id = |id: &str| {
        suppliers
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("no supplier {id} in the report"))
    };

    let mut wrong = Vec::new();
    for (case, ids) in expected {
        let got = ids_of(by_id(case.name()));
        let want: BTreeSet<String> = ids.iter().map(|s| (*s).to_owned()).collect();
        if got != want {
            wrong.push(format!("{}: expected {want:?}, got {got:?}", case.name()));
        }
    }
    assert!(wrong.is_empty(), "{}\n\n{}", wrong.join("\n"), run.stdout);

    // The shape of one finding, exactly as DESIGN.md documents it.
    let expired = by_id("expired");
    assert_eq!(expired["name"], "Case expired");
    assert_eq!(expired["criticality"], "important");
    // A critical finding: 100 - 40, and the grade capped at F.
    assert_eq!(expired["score"], 60);
    assert_eq!(expired["grade"], "F");
    let finding = &expired["findings"][0];
    assert_eq!(
        finding["check"], "tls.cert_expired",
        "the worst comes first"
    );
    assert_eq!(finding["severity"], "critical");
    assert_eq!(finding["target"], world.endpoint(TlsCase::Expired));
    let summary = finding["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("certificate expired 3 days ago on "),
        "{summary}"
    );
    assert!(finding["evidence"]["not_after"].is_string());

    // Precise words, not "handshake failed".
    let untrusted = finding_of(by_id("untrusted-root"), "tls.untrusted_root");
    assert!(
        untrusted["summary"]
            .as_str()
            .unwrap()
            .contains("Rogue Root CA', which is not trusted"),
        "{untrusted}"
    );
    let weak = finding_of(by_id("rsa1024"), "tls.weak_key");
    assert!(
        weak["summary"].as_str().unwrap().contains("1024 bits"),
        "{weak}"
    );
    assert_eq!(weak["evidence"]["weak"][0]["key"]["bits"], 1024);
    assert_one_root_cause(by_id("rsa1024"));
    // A server that speaks only SSL 3.0: the legacy protocol, not also
    // unreachable over HTTP; the HTTP checks say why they could not run.
    let ssl3 = by_id("ssl3-only");
    let all_ids: Vec<&str> = ssl3["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    assert_eq!(all_ids, ["tls.legacy_protocol"], "{ssl3}");
    assert!(
        ssl3["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("speaks only a legacy protocol"),
        "{ssl3}"
    );

    // Failures are told apart in the evidence.
    let stall = &finding_of(by_id("stall"), "tls.unreachable")["evidence"];
    assert_eq!(stall["timed_out"], true, "{stall}");
    assert_eq!(stall["stage"], "handshake");
    let closed = &finding_of(by_id("closed"), "tls.unreachable")["evidence"];
    assert_eq!(closed["timed_out"], false);
    assert_eq!(closed["stage"], "connect");
    let missing = finding_of(by_id("missing"), "tls.unreachable");
    assert_eq!(missing["evidence"]["stage"], "resolve");
    assert!(
        missing["summary"].as_str().unwrap().contains("NXDOMAIN"),
        "{missing}"
    );
}

/// One root cause, one finding: the RSA-1024 server answers, its key is
/// weak — not unreachable over TLS or HTTP; the HTTP checks say why they
/// could not run.
#[track_caller]
fn assert_one_root_cause(rsa1024: &serde_json::Value) {
    let ids: Vec<&str> = rsa1024["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["tls.weak_key"], "{rsa1024}");
    assert!(
        rsa1024["findings"][0]["evidence"]["handshake_error"].is_string(),
        "{rsa1024}"
    );
    assert!(
        rsa1024["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["message"]
                .as_str()
                .unwrap()
                .contains("the HTTP checks could not run")),
        "{rsa1024}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn private_targets_are_refused_without_findings() {
    let world = World::start().await.unwrap();
    let cases = vec![("acme".to_owned(), world.endpoint(TlsCase::Expired))];
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", world_config(&world, &cases, false));

    let run = check(&scratch, &["check", "--format", "json"]).await;
    run.expect_code(0);
    let report = run.json();
    let acme = &report["suppliers"][0];
    assert_eq!(acme["findings"].as_array().unwrap().len(), 0, "{acme}");
    let error = acme["errors"][0]["message"].as_str().unwrap();
    assert!(error.contains("127.0.0.1, a loopback address"), "{error}");
    assert!(error.contains("allow_private_targets"), "{error}");
    assert!(run.stderr.contains("not probed"), "{}", run.stderr);

    let run = check(&scratch, &["check"]).await;
    run.expect_code(0);
    assert!(run.stdout.contains("ERROR"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn fail_on_sets_the_exit_code_and_ids_select_suppliers() {
    let world = World::start().await.unwrap();
    let cases = vec![
        ("good".to_owned(), world.endpoint(TlsCase::GoodEcdsa)),
        ("old".to_owned(), world.endpoint(TlsCase::Tls12Only)),
        ("expired".to_owned(), world.endpoint(TlsCase::Expired)),
    ];
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", world_config(&world, &cases, true));

    // Only `old` is probed: its one finding is tls.no_tls13 (low).
    let run = check(
        &scratch,
        &["check", "old", "--fail-on", "medium", "--format", "json"],
    )
    .await;
    run.expect_code(0);
    let report = run.json();
    assert_eq!(report["suppliers"].as_array().unwrap().len(), 1);
    assert_eq!(
        report["suppliers"][0]["findings"].as_array().unwrap().len(),
        1
    );
    check(&scratch, &["check", "old", "--fail-on", "low"])
        .await
        .expect_code(1);
    check(&scratch, &["check", "good", "--fail-on", "info"])
        .await
        .expect_code(0);
    check(&scratch, &["check", "--fail-on", "critical"])
        .await
        .expect_code(1);
    // No --fail-on: findings never fail the run.
    check(&scratch, &["check"]).await.expect_code(0);

    let run = check(&scratch, &["check", "nobody"]).await;
    run.expect_code(2);
    assert!(
        run.stderr.contains("no supplier \"nobody\""),
        "{}",
        run.stderr
    );
    let run = check(&scratch, &["check", "--fail-on", "severe"]).await;
    run.expect_code(2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_table_groups_by_supplier_worst_first() {
    let world = World::start().await.unwrap();
    let cases = vec![
        ("good".to_owned(), world.endpoint(TlsCase::GoodEcdsa)),
        ("old".to_owned(), world.endpoint(TlsCase::Tls12Only)),
        ("expired".to_owned(), world.endpoint(TlsCase::Expired)),
    ];
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", world_config(&world, &cases, true));
    let run = check(&scratch, &["check"]).await;
    run.expect_code(0);
    let out = &run.stdout;
    let pos = |needle: &str| {
        out.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing:\n{out}"))
    };
    assert!(pos("expired — Case expired") < pos("old — Case old"));
    assert!(pos("old — Case old") < pos("good — Case good"));
    assert!(out.contains("CRITICAL  tls.cert_expired"), "{out}");
    assert!(
        out.contains("good — Case good (important): no findings"),
        "{out}"
    );
    assert!(
        !out.contains('\u{1b}'),
        "no colour when stdout is not a terminal"
    );
    // Progress goes to stderr as plain lines when it is not a terminal.
    // (three endpoints: a TLS and an HTTP probe each)
    assert!(run.stderr.contains("[6/6]"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn severity_overrides_apply_globally_and_per_supplier() {
    let world = World::start().await.unwrap();
    let cases = vec![
        ("old".to_owned(), world.endpoint(TlsCase::Tls12Only)),
        ("expired".to_owned(), world.endpoint(TlsCase::Expired)),
    ];
    let scratch = Scratch::new();
    let mut config = world_config(&world, &cases, true);
    config = config.replacen(
        "[probe]",
        "[findings]\nseverity = { \"tls.no_tls13\" = \"high\", \"tls.cert_expired\" = \"low\" }\n\n[probe]",
        1,
    );
    // The supplier's own table wins over the global one.
    config = config.replace(
        "id = \"expired\"\n",
        "id = \"expired\"\nseverity = { \"tls.cert_expired\" = \"medium\" }\n",
    );
    scratch.write("supplywatch.toml", config);
    let run = check(&scratch, &["check", "--format", "json"]).await;
    run.expect_code(0);
    let report = run.json();
    let suppliers = report["suppliers"].as_array().unwrap();
    let of = |id: &str| suppliers.iter().find(|s| s["id"] == id).unwrap();
    assert_eq!(finding_of(of("old"), "tls.no_tls13")["severity"], "high");
    assert_eq!(
        finding_of(of("expired"), "tls.cert_expired")["severity"],
        "medium"
    );
    check(&scratch, &["check", "old", "--fail-on", "high"])
        .await
        .expect_code(1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bidi_override_in_a_certificate_name_never_reaches_the_terminal() {
    use supplywatch_testworld::{Authority, DnsRecord, LeafSpec, WorldBuilder};
    const HOST: &str = "bidi.hostile.test";
    let world = WorldBuilder::default()
        .record(DnsRecord::a(HOST, std::net::Ipv4Addr::LOCALHOST))
        .start()
        .await
        .unwrap();
    let pki = world.pki();
    let leaf = pki
        .issue(
            &LeafSpec::issued(HOST, pki.now(), 10, 90)
                .common_name("evil\u{202e}gpj.exe\u{200b}")
                .authority(Authority::SelfSigned),
        )
        .unwrap();
    let port = crate::mail_e2e::serve_leaf(&world, &leaf).await;
    let cases = [("bidi".to_owned(), format!("{HOST}:{port}"))];
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", world_config(&world, &cases, true));
    let run = check(&scratch, &["check"]).await;
    let out = &run.stdout;
    assert!(out.contains("tls.self_signed"), "{out}");
    assert!(
        !out.contains('\u{202e}') && !out.contains('\u{200b}'),
        "{out}"
    );
    assert!(out.contains("evil\\u{202e}gpj.exe\\u{200b}"), "{out}");
}
