//! The streamed probe run (what `check` and the daemon run) against the
//! collected one (every observation held, then judged): the same findings,
//! errors, scopes and health on the catalogue's world, and the same
//! records once saved; and a run stopped by SIGTERM mid-stream keeps what
//! it judged, marked interrupted.

use std::collections::BTreeSet;
use std::io::BufRead as _;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use supplywatch::clock::{Clock, SystemClock};
use supplywatch::config::Config;
use supplywatch::pipeline::{self, StreamOptions};
use supplywatch::probe::run::Silent;
use supplywatch::store::{FindingFilter, OpenMode, Store};
use supplywatch_testworld::{DnsRecord, WorldBuilder};

use crate::catalogue::{sites, supplier};
use crate::support::{Scratch, spawn_in};

/// (supplier, check, target, severity, summary) of every finding.
type Fired = BTreeSet<(String, String, String, String, String)>;

fn fired(results: &[supplywatch::checks::SupplierResult]) -> Fired {
    results
        .iter()
        .flat_map(|r| {
            r.findings.iter().map(|f| {
                (
                    r.supplier.id.to_string(),
                    f.check.to_string(),
                    f.target.clone(),
                    f.severity.to_string(),
                    f.summary.clone(),
                )
            })
        })
        .collect()
}

fn errors(results: &[supplywatch::checks::SupplierResult]) -> BTreeSet<(String, String, String)> {
    results
        .iter()
        .flat_map(|r| {
            r.errors.iter().map(|e| {
                (
                    r.supplier.id.to_string(),
                    e.target.clone(),
                    e.message.clone(),
                )
            })
        })
        .collect()
}

/// Scopes in one order.
fn scopes(scopes: &[supplywatch::checks::Scope]) -> Vec<supplywatch::checks::Scope> {
    let mut all = scopes.to_vec();
    all.sort_by(|a, b| {
        (&a.supplier, &a.target, a.family, a.complete).cmp(&(
            &b.supplier,
            &b.target,
            b.family,
            b.complete,
        ))
    });
    all
}

/// Stored findings as (supplier, check, target, state, severity).
async fn stored(store: &Store) -> BTreeSet<(String, String, String, String, String)> {
    store
        .findings(&FindingFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|f| {
            (
                f.supplier,
                f.check.clone(),
                f.target,
                format!("{:?}", f.state),
                f.severity.to_string(),
            )
        })
        .collect()
}

/// The preview (what plain `check` shows) and the report, a chunk at a
/// time, against the collected run's in one go.
async fn same_preview_and_report(
    collected: &pipeline::CheckRun,
    streamed: &pipeline::JudgedRun<'_>,
    config: &Config,
) {
    // The preview (what plain `check` shows) a chunk at a time: the same
    // marks and scores as in one go.
    let whole = pipeline::preview(None, &collected.run_input("test"), config)
        .await
        .unwrap();
    let parts = streamed.preview(None, config, "test").await.unwrap();
    assert_eq!(parts.marks, whole.marks);
    let sorted = |mut s: Vec<supplywatch::store::SupplierScore>| {
        s.sort_by(|a, b| a.supplier.cmp(&b.supplier));
        s
    };
    assert_eq!(sorted(parts.scores.clone()), sorted(whole.scores.clone()));
    // The report written a chunk at a time is the document `check` printed
    // in one go.
    let mut text = String::new();
    streamed
        .write_report(
            &parts,
            supplywatch::report::Format::Json,
            false,
            &mut |t| text.push_str(t),
            &mut |_| {},
        )
        .unwrap();
    let graded = pipeline::scores_of(&whole);
    let one_go = serde_json::to_string_pretty(&supplywatch::report::check_report(
        &collected.results,
        collected.at,
        &graded,
        &whole.marks,
    ))
    .unwrap();
    assert_eq!(text, format!("{one_go}\n"));
}

#[tokio::test]
async fn the_streamed_run_finds_what_the_collected_run_finds() {
    let (world, text) = crate::catalogue::world().await;
    let path = world.write("supplywatch.toml", &text).unwrap();
    let config = Config::load(&path).unwrap();
    let now = SystemClock.now();

    let collected = pipeline::probe_and_check(&config, &config.suppliers, Arc::new(Silent), || now)
        .await
        .unwrap();
    let streamed = pipeline::probe_streamed(
        &config,
        &config.suppliers,
        StreamOptions::new(Arc::new(Silent), "test"),
        || now,
    )
    .await
    .unwrap()
    .in_chunks_of(4);

    assert!(!streamed.streamed.interrupted);
    let results = streamed.results().unwrap();
    assert!(
        fired(&collected.results).len() > 20,
        "the world raises many findings"
    );
    assert_eq!(fired(&results), fired(&collected.results));
    assert_eq!(errors(&results), errors(&collected.results));
    // Worst first, the same order.
    let order = |results: &[supplywatch::checks::SupplierResult]| {
        results
            .iter()
            .map(|r| r.supplier.id.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(order(&results), order(&collected.results));
    let old = collected.run_input("test");
    let new = streamed.run_input("test").unwrap();
    assert_eq!(scopes(&new.scopes), scopes(&old.scopes));
    assert_eq!(streamed.health, collected.health());
    same_preview_and_report(&collected, &streamed, &config).await;
    assert_eq!(
        streamed.endpoints,
        collected
            .observations
            .iter()
            .map(|o| o.http.len())
            .sum::<usize>()
    );

    // Saved: the same records, the portfolio's concentration included.
    let old_store = Store::open(&world.dir().join("collected.db"), OpenMode::Create)
        .await
        .unwrap();
    let old_report = collected
        .save(&old_store, &config, "check --save")
        .await
        .unwrap();
    let new_store = Store::open(&world.dir().join("streamed.db"), OpenMode::Create)
        .await
        .unwrap();
    let mut options = StreamOptions::new(Arc::new(Silent), "check --save");
    options.store = Some(&new_store);
    // Recorded three suppliers at a time: the same records as in one go.
    let again = pipeline::probe_streamed(&config, &config.suppliers, options, || now)
        .await
        .unwrap()
        .in_chunks_of(3);
    let new_report = again
        .save_with(&new_store, &config, "check --save", None)
        .await
        .unwrap();
    let old_rows = stored(&old_store).await;
    assert!(
        old_rows.iter().any(|r| r.1.starts_with("portfolio.")),
        "{old_rows:?}"
    );
    assert_eq!(stored(&new_store).await, old_rows);
    assert_eq!(new_report.opened.len(), old_report.opened.len());
    assert_eq!(new_report.scores, old_report.scores);
    assert_eq!(
        new_report.observations_stored,
        old_report.observations_stored
    );
    a_repeat_stores_nothing_new(
        &config,
        &new_store,
        &old_store,
        now,
        new_report.observations_stored,
    )
    .await;
    let runs = new_store.recent_runs(2).await.unwrap();
    assert!(!runs[0].interrupted);
    let runs = &runs[1..];
    assert_eq!(
        runs[0].observations,
        old_store.recent_runs(2).await.unwrap()[1].observations
    );
}

/// The same world probed and saved again on both paths: no stored fact
/// moves.
async fn a_repeat_stores_nothing_new(
    config: &Config,
    new_store: &Store,
    old_store: &Store,
    now: chrono::DateTime<chrono::Utc>,
    first: usize,
) {
    // The same world again: the stored facts do not grow.
    let mut options = StreamOptions::new(Arc::new(Silent), "check --save");
    options.store = Some(new_store);
    let later = now + chrono::Duration::hours(6);
    let steady = pipeline::probe_streamed(config, &config.suppliers, options, || later)
        .await
        .unwrap()
        .save_with(new_store, config, "check --save", None)
        .await
        .unwrap();
    let old_again =
        pipeline::probe_and_check(config, &config.suppliers, Arc::new(Silent), || later)
            .await
            .unwrap()
            .save(old_store, config, "check --save")
            .await
            .unwrap();
    // Nothing moved: the database stays flat (unless the world's day, in
    // its security.txt, turned between the runs).
    if SystemClock.now().date_naive() == now.date_naive() {
        for (path, again) in [("streamed", &steady), ("collected", &old_again)] {
            assert_eq!(
                (again.observations_stored, again.observations_unchanged),
                (0, first),
                "{path}: what a second identical run stored again, and kept"
            );
        }
    }
}

/// A port that takes connections and never answers: a TLS handshake to it
/// waits out the probe's timeout.
fn black_hole() -> (std::net::TcpListener, u16) {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// Runs `check --save` in `dir`, waits for `wanted` probes to finish, sends
/// SIGTERM; the output and every stderr line.
fn stop_mid_stream(dir: &std::path::Path, wanted: usize) -> (std::process::Output, Vec<String>) {
    let mut child = spawn_in(dir, &["check", "--save", "--format", "json"]);
    // Progress lines on stderr: wait for every quick supplier's two probes.
    let stderr = child.stderr.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while seen.iter().filter(|l: &&String| l.starts_with('[')).count() < wanted {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines_rx.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(e) => panic!("{e}: {seen:#?}"),
        }
    }
    // The quick suppliers are judged; the stalled one waits on its timeout.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(20), "a prompt stop");
    while let Ok(line) = lines_rx.recv_timeout(Duration::from_secs(1)) {
        seen.push(line);
    }
    (out, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_stream_saves_what_was_judged_as_an_interrupted_run() {
    let (_hole, port) = black_hole();
    let mut builder =
        WorldBuilder::default().records([DnsRecord::a("stall.cat.test", Ipv4Addr::LOCALHOST)]);
    for (host, spec) in sites() {
        builder = builder.site(host, spec);
    }
    let world = builder.start().await.unwrap();
    let mut text = format!(
        "[probe]\nnameservers = [\"{}\"]\nextra_roots = [\"{}\"]\ntimeout_secs = 60\nallow_private_targets = true\nsmtp = false\n",
        world.dns,
        world.roots_pem.display()
    );
    let quick: Vec<String> = sites()
        .iter()
        .map(|(host, _)| host.split('.').next().unwrap().to_owned())
        .collect();
    for (host, _) in sites() {
        let id = host.split('.').next().unwrap();
        supplier(&mut text, id, "standard", &[], &[world.site_endpoint(host)]);
    }
    supplier(
        &mut text,
        "stalled",
        "standard",
        &[],
        &[format!("stall.cat.test:{port}")],
    );
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", &text);
    // The waits block: off the world's threads.
    let dir = scratch.dir.path().to_path_buf();
    let wanted = quick.len() * 2;
    let (out, seen) = tokio::task::spawn_blocking(move || stop_mid_stream(&dir, wanted))
        .await
        .unwrap();
    let log = seen.join("\n");
    assert_eq!(out.status.code(), Some(130), "{log}");
    assert!(
        log.contains(&format!(
            "interrupted: {} of {} suppliers probed and judged",
            quick.len(),
            quick.len() + 1
        )),
        "{log}"
    );
    assert!(log.contains("saved run 1"), "{log}");
    // The report on stdout covers what was judged.
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let reported: BTreeSet<&str> = report["suppliers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(reported, quick.iter().map(String::as_str).collect());

    let store = Store::open(&scratch.path("supplywatch.db"), OpenMode::ReadOnly)
        .await
        .unwrap();
    let runs = store.recent_runs(5).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert!(runs[0].interrupted);
    assert_eq!(runs[0].suppliers as usize, quick.len());
    let rows = stored(&store).await;
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r.0 != "stalled"), "{rows:?}");
    let with_findings: BTreeSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert!(with_findings.contains("bare-site"), "{rows:?}");
    // Nothing half-written: the stalled supplier has no observation.
    let observed = store
        .observation_history("stalled", &format!("stall.cat.test:{port}"), "tls")
        .await
        .unwrap();
    assert!(observed.is_empty(), "{observed:?}");
    drop(store);
    // `status` says so.
    let status = scratch.run_async(&["status"]).await;
    status.expect_code(0);
    assert!(
        status.stdout.contains("(1, check --save at")
            && status
                .stdout
                .contains("was interrupted: it recorded the 5 suppliers"),
        "{}",
        status.stdout
    );
}
