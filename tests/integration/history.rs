//! `check --save`, `findings` and `status` end to end against the local
//! world: what is saved, how findings live across runs, and what the
//! listings show.

use std::fmt::Write as _;

use supplywatch_testworld::{TlsCase, World};

use crate::support::{Run, Scratch};

/// An acceptance's end: 300 days from today, within the default year.
fn accepted_until() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive() + chrono::Days::new(300)
}

fn config(world: &World, accept_expired: bool) -> String {
    let mut text = format!(
        "[daemon]\ndatabase = \"state.db\"\n\n[probe]\nnameservers = [\"{}\"]\nextra_roots = [\"{}\"]\ntimeout_secs = 2\nallow_private_targets = true\n",
        world.dns,
        world.roots_pem.display()
    );
    for (id, case, criticality) in [
        ("expired", TlsCase::Expired, "critical"),
        ("good", TlsCase::GoodEcdsa, "standard"),
        ("closed", TlsCase::Closed, "important"),
    ] {
        let _ = write!(
            text,
            "\n[[supplier]]\nid = \"{id}\"\nname = \"Case {id}\"\ncriticality = \"{criticality}\"\nendpoints = [\"{}\"]\ncontract = {{ reference = \"C-1\", start = 2024-01-01, end = 2099-06-30, notice_days = 90 }}\n",
            world.endpoint(case)
        );
    }
    if accept_expired {
        let _ = write!(
            text,
            "\n[[accept]]\nsupplier = \"expired\"\ncheck = \"tls.cert_expired\"\nuntil = {}\nreason = \"replacement ordered\"\napproved_by = \"ciso@bank.example\"\n",
            accepted_until()
        );
    }
    text
}

async fn run(scratch: &Scratch, args: &[&str]) -> Run {
    scratch.run_async(args).await
}

fn states(findings: &serde_json::Value) -> Vec<(String, String, String)> {
    findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["supplier"].as_str().unwrap().to_owned(),
                f["check"].as_str().unwrap().to_owned(),
                f["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn has(list: &[(String, String, String)], supplier: &str, check: &str, state: &str) -> bool {
    list.iter()
        .any(|(s, c, st)| s == supplier && c == check && st == state)
}

#[tokio::test(flavor = "multi_thread")]
async fn saved_runs_open_damp_and_list_findings() {
    let world = World::start().await.unwrap();
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", config(&world, false));

    // Plain `check` leaves the database alone: none is created.
    run(&scratch, &["check", "--format", "json"])
        .await
        .expect_code(0);
    assert!(!scratch.path("state.db").exists());

    let first = run(&scratch, &["check", "--save", "--format", "json"]).await;
    first.expect_code(0);
    assert!(first.stderr.contains("saved run 1"), "{}", first.stderr);
    let report = first.json();
    let expired = report["suppliers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "expired")
        .unwrap();
    assert_eq!(expired["grade"], "F");
    assert_eq!(expired["score"], 60);

    // After one run: the expired certificate is open; the closed port's
    // tls.unreachable is damped (pending) until a second failing run.
    let all = run(&scratch, &["findings", "--all", "--format", "json"]).await;
    all.expect_code(0);
    let list = states(&all.json());
    assert!(
        has(&list, "expired", "tls.cert_expired", "open"),
        "{list:?}"
    );
    assert!(
        has(&list, "closed", "tls.unreachable", "pending"),
        "{list:?}"
    );
    let open = run(&scratch, &["findings", "--format", "json"]).await;
    assert!(!has(
        &states(&open.json()),
        "closed",
        "tls.unreachable",
        "pending"
    ));

    run(&scratch, &["check", "--save"]).await.expect_code(0);
    let list = states(
        &run(&scratch, &["findings", "--format", "json"])
            .await
            .json(),
    );
    assert!(has(&list, "closed", "tls.unreachable", "open"), "{list:?}");

    // Filters.
    let high = run(
        &scratch,
        &["findings", "--severity", "critical", "--format", "json"],
    )
    .await;
    let list = states(&high.json());
    assert_eq!(list.len(), 1, "{list:?}");
    assert!(has(&list, "expired", "tls.cert_expired", "open"));
    let mine = run(
        &scratch,
        &["findings", "--supplier", "good", "--format", "json"],
    )
    .await;
    assert!(mine.json().as_array().unwrap().is_empty());
    let table = run(&scratch, &["findings"]).await;
    table.expect_code(0);
    assert!(table.stdout.contains("CRITICAL  open"), "{}", table.stdout);

    // status: worst first, with grades, open counts and the next deadline.
    let status = run(&scratch, &["status", "--format", "json"]).await;
    status.expect_code(0);
    let report = status.json();
    let lines = &report["suppliers"];
    assert_eq!(report["service"]["outbox"]["queued"], 0);
    let ids: Vec<&str> = lines
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["expired", "closed", "good"], "{lines}");
    assert_eq!(lines[0]["grade"], "F");
    assert_eq!(lines[0]["open"]["critical"], 1);
    assert_eq!(lines[2]["grade"], "A");
    assert_eq!(lines[2]["score"], 100);
    assert_eq!(lines[0]["next_deadline"]["what"], "notice");
    assert_eq!(lines[0]["next_deadline"]["date"], "2099-04-01");
    let table = run(&scratch, &["status"]).await;
    table.expect_code(0);
    assert!(table.stdout.contains("1 critical"), "{}", table.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn accepted_risks_are_kept_visible_and_left_out_of_the_score() {
    let world = World::start().await.unwrap();
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", config(&world, true));

    let saved = run(
        &scratch,
        &["check", "expired", "--save", "--format", "json"],
    )
    .await;
    saved.expect_code(0);
    let report = saved.json();
    assert_eq!(report["suppliers"][0]["score"], 100, "{report}");
    assert_eq!(report["suppliers"][0]["grade"], "A");

    let list = states(
        &run(&scratch, &["findings", "--all", "--format", "json"])
            .await
            .json(),
    );
    assert!(
        has(&list, "expired", "tls.cert_expired", "accepted"),
        "{list:?}"
    );
    // Listed by default only below the table, with how to see it.
    let table = run(&scratch, &["findings"]).await;
    table.expect_code(0);
    assert!(
        table
            .stderr
            .contains("no open findings match (1 accepted not shown (--all))"),
        "{}",
        table.stderr
    );
    let table = run(&scratch, &["findings", "--all"]).await;
    assert!(
        table.stdout.contains(&format!(
            "accepted until {} by ciso@bank.example",
            accepted_until()
        )),
        "{}",
        table.stdout
    );

    // The acceptance leaves the config: a read command says the config is
    // not the one synced and changes nothing; `sync` opens the finding
    // again, and the audit log says so.
    scratch.write("supplywatch.toml", config(&world, false));
    let read = run(&scratch, &["findings", "--all", "--format", "json"]).await;
    assert!(
        read.stderr
            .contains("the database was synced from a different config on")
            && read.stderr.contains("run `supplywatch sync`"),
        "{}",
        read.stderr
    );
    assert!(
        has(
            &states(&read.json()),
            "expired",
            "tls.cert_expired",
            "accepted"
        ),
        "a read command moved the finding"
    );
    let synced = run(&scratch, &["sync"]).await;
    synced.expect_code(0);
    assert!(
        synced
            .stdout
            .contains("reopened   expired tls.cert_expired"),
        "{}",
        synced.stdout
    );
    let list = states(
        &run(&scratch, &["findings", "--format", "json"])
            .await
            .json(),
    );
    assert!(
        has(&list, "expired", "tls.cert_expired", "open"),
        "{list:?}"
    );
    let audit = run(
        &scratch,
        &["audit", "--supplier", "expired", "--format", "json"],
    )
    .await;
    let actions: Vec<String> = audit
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert!(actions.iter().any(|a| a == "accept"), "{actions:?}");
    assert!(actions.iter().any(|a| a == "unaccept"), "{actions:?}");
    assert!(actions.iter().any(|a| a == "acceptance_add"), "{actions:?}");
    assert!(
        actions.iter().any(|a| a == "acceptance_remove"),
        "{actions:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn listings_need_a_database() {
    let world = World::start().await.unwrap();
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", config(&world, false));
    for command in ["status", "findings"] {
        let r = run(&scratch, &[command]).await;
        r.expect_code(3);
        assert!(r.stderr.contains("supplywatch sync"), "{}", r.stderr);
    }
    assert!(!scratch.path("state.db").exists());
}
