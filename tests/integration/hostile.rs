//! The hostile world at once: one `check` over suppliers whose servers
//! misbehave in every way the probes bound (a 1 GiB body, a stall before
//! the headers and one in the body, 100,000 headers, a 10 MiB header, a
//! redirect loop, a handshake that never ends, a closed port, an expired
//! certificate) beside a healthy supplier. Bounded wall time, bounded peak
//! memory, a precise finding or error for every case, no panic, and the
//! healthy supplier judged exactly as when probed alone.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use supplywatch_testworld::{Reply, SiteSpec, TlsCase, World, WorldBuilder};

use crate::support::Scratch;

/// The probe timeout of the run: every stall is bounded by it.
const TIMEOUT_SECS: u64 = 3;

fn security_txt() -> String {
    let expires = (chrono::Utc::now() + chrono::Duration::days(90))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    format!("Contact: mailto:security@hostile.test\nExpires: {expires}\n")
}

fn healthy() -> SiteSpec {
    SiteSpec::https()
        .root(Reply::secure_page())
        .security_txt_text(&security_txt())
}

async fn world() -> World {
    let many: Vec<(String, String)> = (0..100_000)
        .map(|i| (format!("x-h{i}"), "v".to_owned()))
        .collect();
    WorldBuilder::default()
        .site("www.healthy.test", healthy())
        .site(
            "www.huge.test",
            SiteSpec::https().root(Reply::huge(1 << 30)),
        )
        .site("www.stall.test", SiteSpec::https().root(Reply::stall()))
        .site(
            "www.stallbody.test",
            SiteSpec::https().root(Reply::stall_body()),
        )
        .site(
            "www.manyheaders.test",
            SiteSpec::https().root(Reply::secure_page().headers(many)),
        )
        .site(
            "www.bigheader.test",
            SiteSpec::https().root(Reply::secure_page().header("x-big", &"a".repeat(10 << 20))),
        )
        .site(
            "www.loop.test",
            SiteSpec::https()
                .root(Reply::redirect(302, "/a"))
                .route("/a", Reply::redirect(302, "/")),
        )
        .start()
        .await
        .unwrap()
}

fn config(world: &World, suppliers: &[(&str, String)]) -> String {
    let mut text = format!(
        "[probe]\nnameservers = [\"{}\"]\nextra_roots = [\"{}\"]\ntimeout_secs = {TIMEOUT_SECS}\n\
         allow_private_targets = true\n",
        world.dns,
        world.roots_pem.display()
    );
    for (id, endpoint) in suppliers {
        let _ = write!(
            text,
            "\n[[supplier]]\nid = \"{id}\"\nname = \"Case {id}\"\ncriticality = \"important\"\nendpoints = [\"{endpoint}\"]\n"
        );
    }
    text
}

/// Runs `check --format json` in `scratch` off the runtime's threads,
/// watching the child's peak resident memory (`VmHWM`) while it runs.
async fn check(scratch: &Scratch) -> (serde_json::Value, String, Duration, u64) {
    let dir = scratch.dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_supplywatch"))
            .args(["--config", "supplywatch.toml", "check", "--format", "json"])
            .current_dir(&dir)
            .env_remove("SUPPLYWATCH_CONFIG")
            .env("USER", "tester")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = format!("/proc/{}/status", child.id());
        let mut peak_kib = 0_u64;
        let (out, err) = {
            use std::io::Read as _;
            let mut stdout = child.stdout.take().unwrap();
            let mut stderr = child.stderr.take().unwrap();
            let reader = std::thread::spawn(move || {
                let mut s = String::new();
                stderr.read_to_string(&mut s).unwrap();
                s
            });
            let watcher = std::thread::spawn(move || {
                let mut peak = 0_u64;
                while let Ok(text) = std::fs::read_to_string(&status) {
                    if let Some(kib) = text
                        .lines()
                        .find_map(|l| l.strip_prefix("VmHWM:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                    {
                        peak = peak.max(kib);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                peak
            });
            let mut s = String::new();
            stdout.read_to_string(&mut s).unwrap();
            let code = child.wait().unwrap();
            peak_kib = peak_kib.max(watcher.join().unwrap());
            let err = reader.join().unwrap();
            assert_eq!(code.code(), Some(0), "stdout:\n{s}\nstderr:\n{err}");
            (s, err)
        };
        let took = started.elapsed();
        (serde_json::from_str(&out).unwrap(), err, took, peak_kib)
    })
    .await
    .unwrap()
}

fn ids(report: &serde_json::Value, supplier: &str) -> BTreeSet<String> {
    report["suppliers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == supplier)
        .unwrap_or_else(|| panic!("no {supplier} in {report}"))["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap().to_owned())
        .collect()
}

fn errors(report: &serde_json::Value, supplier: &str) -> usize {
    report["suppliers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == supplier)
        .and_then(|s| s["errors"].as_array())
        .map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread")]
async fn one_check_over_the_hostile_world_is_bounded_precise_and_spares_the_healthy() {
    let world = world().await;
    let suppliers: Vec<(&str, String)> = vec![
        ("healthy", world.site_endpoint("www.healthy.test")),
        ("huge", world.site_endpoint("www.huge.test")),
        ("stall", world.site_endpoint("www.stall.test")),
        ("stallbody", world.site_endpoint("www.stallbody.test")),
        ("manyheaders", world.site_endpoint("www.manyheaders.test")),
        ("bigheader", world.site_endpoint("www.bigheader.test")),
        ("loop", world.site_endpoint("www.loop.test")),
        ("tlsstall", world.endpoint(TlsCase::Stall)),
        ("closed", world.endpoint(TlsCase::Closed)),
        ("expired", world.endpoint(TlsCase::Expired)),
    ];

    // The healthy supplier alone: the reference.
    let alone = Scratch::new();
    alone.write("supplywatch.toml", config(&world, &suppliers[..1]));
    let (reference, _, _, _) = check(&alone).await;

    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", config(&world, &suppliers));
    let (report, stderr, took, peak_kib) = check(&scratch).await;
    eprintln!(
        "hostile world: {} suppliers checked in {took:.1?}, peak RSS {} MiB",
        suppliers.len(),
        peak_kib / 1024
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Every stall is cut at the probe timeout; probes run side by side.
    assert!(
        took < Duration::from_secs(TIMEOUT_SECS * 8),
        "took {took:?}:\n{stderr}"
    );
    // A 1 GiB body, 100,000 headers and a 10 MiB header are read capped.
    assert!(peak_kib > 0, "the peak was never read");
    assert!(peak_kib < 300 * 1024, "peak RSS {peak_kib} KiB");
    assert_eq!(ids(&report, "healthy"), ids(&reference, "healthy"));
    for (id, _) in &suppliers[1..] {
        assert!(
            !ids(&report, id).is_empty() || errors(&report, id) > 0,
            "{id}: nothing said:\n{report:#}"
        );
    }
    let has = |id: &str, check: &str| ids(&report, id).contains(check);
    assert!(has("stall", "http.unreachable"));
    assert!(has("loop", "http.unreachable"));
    assert!(has("tlsstall", "tls.unreachable"));
    assert!(has("closed", "tls.unreachable"));
    assert!(has("expired", "tls.cert_expired"));
}
