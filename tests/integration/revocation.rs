//! Revocation against the test world's CA: CRLs at the leaves'
//! distribution points, an OCSP responder, a stapled response, and the
//! hostile sources (a 50 MB CRL, a CRL signed by the wrong key, a
//! responder that stalls) — `tls.revoked` where a verified source says so,
//! evidence and an error line where nothing can be verified, never a
//! finding; a CRL fetched once per URL and kept until its nextUpdate.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use supplywatch::checks::{self, Policy};
use supplywatch::clock::{Clock, FixedClock, SystemClock};
use supplywatch::config::Config;
use supplywatch::probe::revocation::CrlCache;
use supplywatch::probe::run::{Silent, SupplierObservations, probe_suppliers_with};
use supplywatch::probe::{EndpointObservation, RevocationStatus};
use supplywatch_testworld::{RevocationCase, TlsCase, World};

use crate::support::Scratch;

/// One supplier per endpoint, named after it.
fn config_text(world: &World, endpoints: &[(String, String)]) -> String {
    let mut text = format!(
        "[probe]\nnameservers = [\"{}\"]\nextra_roots = [\"{}\"]\ntimeout_secs = 2\nallow_private_targets = true\n",
        world.dns,
        world.roots_pem.display()
    );
    for (id, endpoint) in endpoints {
        let _ = write!(
            text,
            "\n[[supplier]]\nid = \"{id}\"\nname = \"Case {id}\"\ncriticality = \"important\"\nendpoints = [\"{endpoint}\"]\n"
        );
    }
    text
}

fn cases(world: &World, cases: &[RevocationCase]) -> Vec<(String, String)> {
    cases
        .iter()
        .map(|c| (c.name().to_owned(), world.revocation_endpoint(*c)))
        .collect()
}

async fn probe(
    world: &World,
    endpoints: &[(String, String)],
    cache: &Arc<CrlCache>,
    clock: Arc<dyn Clock>,
) -> (Config, Vec<SupplierObservations>) {
    let config = Config::parse(
        &config_text(world, endpoints),
        Path::new("supplywatch.toml"),
        None,
    )
    .unwrap();
    let observations = probe_suppliers_with(
        &config.suppliers,
        &config.probe,
        Arc::new(Silent),
        cache.clone(),
        clock,
    )
    .await
    .unwrap();
    (config, observations)
}

fn endpoint<'a>(observations: &'a [SupplierObservations], id: &str) -> &'a EndpointObservation {
    let supplier = observations
        .iter()
        .find(|o| o.supplier.id.to_string() == id)
        .unwrap_or_else(|| panic!("no supplier {id}"));
    &supplier.endpoints[0]
}

fn status<'a>(observations: &'a [SupplierObservations], id: &str) -> &'a RevocationStatus {
    let obs = endpoint(observations, id);
    &obs.tls
        .as_ref()
        .unwrap_or_else(|| panic!("{id}: no TLS facts: {obs:?}"))
        .revocation
        .as_ref()
        .unwrap_or_else(|| panic!("{id}: no revocation facts"))
        .status
}

#[track_caller]
fn undetermined_because(observations: &[SupplierObservations], id: &str, words: &str) {
    match status(observations, id) {
        RevocationStatus::Undetermined { why } => assert!(why.contains(words), "{id}: {why}"),
        other => panic!("{id}: expected undetermined ({words}), got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_source_decides_and_hostile_ones_leave_it_undetermined() {
    let world = World::start().await.unwrap();
    let mut endpoints = cases(&world, &RevocationCase::ALL);
    endpoints.push(("plain".to_owned(), world.endpoint(TlsCase::GoodEcdsa)));
    let cache = Arc::new(CrlCache::default());
    let started = Instant::now();
    let (config, observations) = probe(&world, &endpoints, &cache, Arc::new(SystemClock)).await;
    let took = started.elapsed();
    // The stalling responder costs one probe timeout (2 s), the 50 MB CRL
    // is cut off at 10 MB: the run stays short.
    assert!(took < Duration::from_secs(20), "took {took:?}");

    let crl_url = format!("http://crl.test:{}/ca.crl", world.revocation().addr.port());
    assert_eq!(
        status(&observations, "crl-good"),
        &RevocationStatus::Good {
            source: crl_url.clone()
        }
    );
    let revoked_at =
        chrono::DateTime::from_timestamp(world.revocation().revoked_at.unix_timestamp(), 0)
            .unwrap();
    assert_eq!(
        status(&observations, "crl-revoked"),
        &RevocationStatus::Revoked {
            source: crl_url,
            revoked_at,
            reason: Some("keyCompromise".to_owned()),
        }
    );
    // Two endpoints name the one CRL: fetched once.
    assert_eq!(world.revocation().requests("/ca.crl"), 1);
    assert!(matches!(
        status(&observations, "ocsp-good"),
        RevocationStatus::Good { source } if source.ends_with("/ocsp/good")
    ));
    assert!(matches!(
        status(&observations, "ocsp-revoked"),
        RevocationStatus::Revoked { source, reason: Some(reason), .. }
            if source.ends_with("/ocsp/revoked") && reason == "keyCompromise"
    ));
    assert!(matches!(
        status(&observations, "stapled-revoked"),
        RevocationStatus::Revoked { source, .. } if source == "stapled OCSP response"
    ));
    undetermined_because(&observations, "crl-huge", "larger than the cap of 10 MiB");
    undetermined_because(&observations, "crl-wrong-key", "signature does not verify");
    undetermined_because(&observations, "ocsp-stall", "within 2s");
    undetermined_because(
        &observations,
        "plain",
        "names no CRL distribution point and no OCSP responder",
    );

    // The checks: tls.revoked (critical) for the three revoked leaves,
    // nothing for the rest; the undetermined ones with a source say so
    // in an error line.
    let results = checks::evaluate(
        &observations,
        SystemClock.now(),
        &Policy::from_config(&config),
    );
    for result in &results {
        let id = result.supplier.id.to_string();
        let tls: Vec<&str> = result
            .findings
            .iter()
            .map(|f| f.check.as_str())
            .filter(|c| c.starts_with("tls."))
            .collect();
        let revoked = ["crl-revoked", "ocsp-revoked", "stapled-revoked"].contains(&id.as_str());
        if revoked {
            assert_eq!(tls, ["tls.revoked"], "{id}: {:?}", result.findings);
            let finding = &result.findings[0];
            assert_eq!(finding.severity, checks::Severity::Critical);
            assert!(
                finding.summary.contains("was revoked on"),
                "{}",
                finding.summary
            );
            assert!(
                finding.evidence["source"].is_string(),
                "{}",
                finding.evidence
            );
        } else {
            assert!(tls.is_empty(), "{id}: {:?}", result.findings);
        }
        let revocation_errors: Vec<&str> = result
            .errors
            .iter()
            .map(|e| e.message.as_str())
            .filter(|m| m.starts_with("revocation not determined"))
            .collect();
        let expect_error = ["crl-huge", "crl-wrong-key", "ocsp-stall"].contains(&id.as_str());
        assert_eq!(
            revocation_errors.len(),
            usize::from(expect_error),
            "{id}: {revocation_errors:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_costs_no_crl_download() {
    let world = World::start().await.unwrap();
    let endpoints = cases(
        &world,
        &[RevocationCase::CrlGood, RevocationCase::CrlRevoked],
    );
    let cache = Arc::new(CrlCache::default());
    let (_, first) = probe(&world, &endpoints, &cache, Arc::new(SystemClock)).await;
    assert_eq!(world.revocation().requests("/ca.crl"), 1);
    let (_, second) = probe(&world, &endpoints, &cache, Arc::new(SystemClock)).await;
    assert_eq!(
        world.revocation().requests("/ca.crl"),
        1,
        "the CRL is current until its nextUpdate: no second download"
    );
    for id in ["crl-good", "crl-revoked"] {
        assert_eq!(status(&first, id), status(&second, id), "{id}");
    }
    assert!(matches!(
        status(&second, "crl-revoked"),
        RevocationStatus::Revoked { .. }
    ));

    // Past its nextUpdate (a week on) the CRL is asked for again, and the
    // one served is stale then: undetermined, not "good".
    let later = SystemClock.now() + chrono::TimeDelta::days(8);
    let (_, stale) = probe(&world, &endpoints, &cache, Arc::new(FixedClock(later))).await;
    assert_eq!(world.revocation().requests("/ca.crl"), 2);
    undetermined_because(&stale, "crl-good", "stale");
}

/// Through the binary: `check --format json` reports the revoked leaf as
/// `tls.revoked` and the 50 MB CRL as an error line, not a finding.
#[tokio::test(flavor = "multi_thread")]
async fn check_reports_a_revoked_certificate() {
    let world = World::start().await.unwrap();
    let endpoints = cases(
        &world,
        &[RevocationCase::CrlRevoked, RevocationCase::CrlHuge],
    );
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", config_text(&world, &endpoints));
    let run = scratch.run_async(&["check", "--format", "json"]).await;
    run.expect_code(0);
    let report = run.json();
    let by_id = |id: &str| {
        report["suppliers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("no {id} in {report}"))
            .clone()
    };
    let revoked = by_id("crl-revoked");
    let finding = &revoked["findings"][0];
    assert_eq!(finding["check"], "tls.revoked", "{revoked}");
    assert_eq!(finding["severity"], "critical");
    assert_eq!(finding["evidence"]["reason"], "keyCompromise");
    assert!(
        finding["evidence"]["source"]
            .as_str()
            .unwrap()
            .ends_with("/ca.crl"),
        "{finding}"
    );

    let huge = by_id("crl-huge");
    assert!(
        huge["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["check"] != "tls.revoked"),
        "{huge}"
    );
    assert!(
        huge["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["message"]
                .as_str()
                .unwrap()
                .contains("larger than the cap of 10 MiB")),
        "{huge}"
    );
}
