//! The audit log attributed and hash-chained: `audit verify` on a clean
//! log and on one tampered with behind supplywatch's back, a database from
//! before the chain chained once, who is recorded as acting, and `audit
//! export` with `audit verify --file`. Through the binary, but for the
//! store-level cases (concurrent chaining, acceptance details).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use supplywatch::checks::{Finding, Scope, Severity};
use supplywatch::registry::Acceptance;
use supplywatch::store::{
    Actor, AuditFilter, GENESIS, LifecyclePolicy, MIGRATOR, OpenMode, RunInput, Store,
};

use crate::support::{Run, Scratch, TEST_USER, arg, config_with, day, supplier, suppliers_of};

const CONFIG: &str = "watch.toml";

/// acme can be sent questionnaires (it has a security contact); globex not.
fn config(globex_name: &str) -> String {
    config_with(&format!(
        "{}{}",
        supplier(
            "acme",
            "Acme Cloud",
            "owner = \"vendors@bank.example\"\nsecurity_contact = \"security@acme.example\""
        ),
        supplier("globex", globex_name, ""),
    ))
}

/// A config and a database in a `data` folder of a scratch folder.
struct Desk {
    scratch: Scratch,
}

impl Desk {
    /// Nothing synced yet.
    fn blank() -> Self {
        let scratch = Scratch::new();
        std::fs::create_dir(scratch.path("data")).unwrap();
        scratch.write(CONFIG, config("Globex Mail"));
        Self { scratch }
    }

    /// Synced, and a questionnaire sent, answered and reviewed for acme.
    fn with_paperwork() -> Self {
        let desk = Self::blank();
        desk.ok(&["sync"]);
        desk.paperwork(&[]);
        desk
    }

    fn paperwork(&self, env: &[(&str, &str)]) {
        for step in [
            &[
                "questionnaire",
                "send",
                "acme",
                "--template",
                "sig-lite-2026",
                "--due",
                "2026-12-31",
                "--on",
                "2026-01-10",
            ][..],
            &["questionnaire", "answer", "acme", "--on", "2026-01-20"],
            &[
                "questionnaire",
                "review",
                "acme",
                "--score",
                "82",
                "--reviewer",
                "carol@bank.example",
                "--on",
                "2026-01-25",
            ],
        ] {
            self.run_env(step, env).expect_code(0);
        }
    }

    fn db(&self) -> PathBuf {
        self.scratch.path("data/watch.db")
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }

    /// `--config` and `--database` first, then `args`.
    fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let (config, db) = (self.scratch.path(CONFIG), self.db());
        let mut all = vec!["--config", arg(&config), "--database", arg(&db)];
        all.extend_from_slice(args);
        self.scratch.run_env(&all, env)
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        run.expect_code(0);
        run
    }

    /// `audit --format json`: every row.
    fn audit(&self) -> Vec<Value> {
        self.ok(&["audit", "--format", "json"])
            .json()
            .as_array()
            .unwrap()
            .clone()
    }

    /// `audit verify`, which must exit with `code`; its one line.
    #[track_caller]
    fn verify(&self, extra: &[&str], code: i32) -> String {
        let mut args = vec!["audit", "verify"];
        args.extend_from_slice(extra);
        let run = self.run(&args);
        run.expect_code(code);
        assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
        run.stdout.trim_end().to_owned()
    }

    /// The chain head as `audit verify --format json` reports it.
    fn head(&self) -> (i64, String) {
        let report = self.ok(&["audit", "verify", "--format", "json"]).json();
        assert_eq!(report["intact"], true, "{report}");
        (
            report["head"]["id"].as_i64().unwrap(),
            report["head"]["hash"].as_str().unwrap().to_owned(),
        )
    }
}

/// A plain connection to `path`, as a tool other than supplywatch would
/// open it, with the audit log's triggers dropped: what someone with
/// write access to the file can do.
async fn tamperer(path: &Path) -> SqlitePool {
    let pool = raw_pool(path).await;
    for trigger in [
        "DROP TRIGGER audit_log_no_update",
        "DROP TRIGGER audit_log_no_delete",
        "DROP TRIGGER audit_log_chained",
    ] {
        sqlx::query(trigger).execute(&pool).await.unwrap();
    }
    pool
}

async fn raw_pool(path: &Path) -> SqlitePool {
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteConnectOptions::new().filename(path))
        .await
        .unwrap()
}

/// Recomputes a row's hash from `audit --format json` as the README tells
/// an auditor to: SHA-256 of the compact JSON array of its columns.
fn recomputed(row: &Value) -> String {
    let detail = match &row["detail"] {
        Value::Null => Value::Null,
        d => Value::String(supplywatch::store::canonical_json(d)),
    };
    let canonical = Value::Array(vec![
        row["id"].clone(),
        row["at"].clone(),
        row["source"].clone(),
        row["supplier"].clone(),
        row["action"].clone(),
        row["field"].clone(),
        row["old"].clone(),
        row["new"].clone(),
        row["actor"].clone(),
        row["command"].clone(),
        detail,
        row["prev_hash"].clone(),
    ]);
    let digest = ring::digest::digest(&ring::digest::SHA256, canonical.to_string().as_bytes());
    digest.as_ref().iter().fold(String::new(), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

/// Every row's hash recomputed from its columns, and linked to the one before.
#[track_caller]
fn assert_chained(rows: &[Value]) {
    let mut prev = GENESIS.to_owned();
    for row in rows {
        assert_eq!(row["prev_hash"], prev.as_str(), "{row}");
        assert_eq!(row["hash"], recomputed(row).as_str(), "{row}");
        row["hash"].as_str().unwrap().clone_into(&mut prev);
    }
}

#[tokio::test]
async fn verify_passes_on_a_clean_log_and_writes_nothing() {
    let desk = Desk::with_paperwork();
    let rows = desk.audit();
    assert_eq!(rows.len(), 5, "2 onboard + 3 questionnaire steps");
    assert_chained(&rows);

    let before = std::fs::read(desk.db()).unwrap();
    let line = desk.verify(&[], 0);
    let head = rows[4]["hash"].as_str().unwrap();
    assert_eq!(line, format!("audit log intact: 5 rows, head #5 {head}"));
    assert_eq!(std::fs::read(desk.db()).unwrap(), before, "verify wrote");

    // A head kept earlier that is still in the chain.
    let kept = rows[2]["hash"].as_str().unwrap();
    let line = desk.verify(&["--head", kept], 0);
    assert!(line.ends_with("; the kept head is in the chain"), "{line}");
    // Not a hash at all: bad usage.
    desk.run(&["audit", "verify", "--head", "3f2a"])
        .expect_code(2);
    // The listing still takes its options; they do not mix with a subcommand.
    desk.ok(&["audit", "--supplier", "acme"]);
    desk.run(&["audit", "--supplier", "acme", "verify"])
        .expect_code(2);
}

#[tokio::test]
async fn verify_names_an_altered_row() {
    let desk = Desk::with_paperwork();
    let pool = tamperer(&desk.db()).await;
    sqlx::query("UPDATE audit_log SET new_value = 'score 100, accepted' WHERE id = 4")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(
        desk.verify(&[], 1),
        "audit log broken at row #4: its content does not match its hash (altered after it was written)"
    );
    let report = desk.run(&["audit", "verify", "--format", "json"]);
    report.expect_code(1);
    let report = report.json();
    assert_eq!(report["intact"], false);
    assert_eq!(report["rows"], 3);
    assert_eq!(report["broken"]["row"], 4);
    assert_eq!(report["broken"]["evidence"]["kind"], "altered");
}

#[tokio::test]
async fn verify_names_the_row_after_a_deleted_one() {
    let desk = Desk::with_paperwork();
    let pool = tamperer(&desk.db()).await;
    sqlx::query("DELETE FROM audit_log WHERE id = 3")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(
        desk.verify(&[], 1),
        "audit log broken at row #4: row #3 before it is missing (deleted)"
    );
}

#[tokio::test]
async fn verify_names_a_forged_row() {
    let desk = Desk::with_paperwork();
    let pool = tamperer(&desk.db()).await;
    // Appended by hand, without a hash.
    sqlx::query(
        "INSERT INTO audit_log (at, source, supplier_id, action, field, old_value, new_value) \
         VALUES ('2026-01-26T09:00:00Z', 'questionnaire review', 'acme', 'questionnaire', \
         'reviewed', 'answered', '#1 reviewed: score 100')",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(
        desk.verify(&[], 1),
        "audit log broken at row #6: it has no hash (inserted outside supplywatch)"
    );
    sqlx::query("DELETE FROM audit_log WHERE id = 6")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE sqlite_sequence SET seq = 5 WHERE name = 'audit_log'")
        .execute(&pool)
        .await
        .unwrap();
    desk.verify(&[], 0);

    // Appended with a link to the head and a made-up hash.
    sqlx::query(
        "INSERT INTO audit_log (at, source, supplier_id, action, field, old_value, new_value, \
         actor, command, prev_hash, hash) \
         SELECT '2026-01-26T09:00:00Z', 'sync', 'acme', 'update', 'name', 'Acme Cloud', 'Acme', \
         'mallory', 'sync', hash, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' \
         FROM audit_log WHERE id = 5",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert_eq!(
        desk.verify(&[], 1),
        "audit log broken at row #6: its content does not match its hash (altered after it was written)"
    );
}

#[tokio::test]
async fn cleared_hashes_are_not_chained_again() {
    let desk = Desk::with_paperwork();
    let pool = tamperer(&desk.db()).await;
    sqlx::query("UPDATE audit_log SET new_value = 'score 100', hash = NULL, prev_hash = NULL")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    // Opening does not launder the log by chaining it afresh …
    desk.ok(&["suppliers"]);
    assert_eq!(
        desk.verify(&[], 1),
        "audit log broken at row #1: it has no hash (inserted outside supplywatch)"
    );
    // … and nothing is appended to a chain whose head has no hash.
    desk.scratch.write(CONFIG, config("Globex Renamed"));
    let run = desk.run(&["sync"]);
    run.expect_code(3);
    assert!(run.stderr.contains("has no hash"), "{}", run.stderr);
}

#[tokio::test]
async fn a_deleted_last_row_is_caught_by_the_sequence_and_by_a_kept_head() {
    let desk = Desk::with_paperwork();
    let (id, kept) = desk.head();
    assert_eq!(id, 5);
    let pool = tamperer(&desk.db()).await;
    sqlx::query("DELETE FROM audit_log WHERE id = 5")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        desk.verify(&[], 1),
        "audit log broken after row #4: SQLite's id sequence reached #5, so the last row was deleted"
    );

    // With SQLite's sequence wound back too, the shortened chain is
    // consistent in itself: only the head the auditor kept tells.
    sqlx::query("UPDATE sqlite_sequence SET seq = 4 WHERE name = 'audit_log'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert!(
        desk.verify(&[], 0)
            .starts_with("audit log intact: 4 rows, head #4 ")
    );
    assert_eq!(
        desk.verify(&["--head", &kept], 1),
        format!(
            "audit log does not contain the kept head {kept}: rows up to it were deleted or rewritten"
        )
    );
    // The next row written links on the shortened chain; the kept head
    // stays missing.
    desk.scratch.write(CONFIG, config("Globex Renamed"));
    desk.ok(&["sync"]);
    desk.verify(&[], 0);
    desk.verify(&["--head", &kept.to_uppercase()], 1);
}

#[tokio::test]
async fn a_database_from_before_the_chain_is_chained_once() {
    let desk = Desk::blank();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::copy(fixtures.join("prechain.db"), desk.db()).unwrap();
    // The config the fixture was made with (make-prechain.sh), before its
    // second sync renamed globex to "Globex Mail Services".
    std::fs::copy(fixtures.join("prechain.toml"), desk.scratch.path(CONFIG)).unwrap();
    let original = std::fs::read(desk.db()).unwrap();

    // verify writes nothing, so it does not migrate either.
    let run = desk.run(&["audit", "verify"]);
    run.expect_code(3);
    assert!(
        run.stderr.contains("older supplywatch (schema version 6)")
            && run.stderr.contains("`supplywatch sync`"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(desk.db()).unwrap(), original);

    // The fixture's globex is "Globex Mail Services"; this config renames it.
    desk.ok(&["sync"]);
    let line = desk.verify(&[], 0);
    assert!(
        line.starts_with("audit log intact: 8 rows, head #8 "),
        "{line}"
    );
    let rows = desk.audit();
    assert_chained(&rows);
    let actions: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap(),
                r["field"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("onboard", ""),
            ("onboard", ""),
            ("update", "name"),
            ("questionnaire", "sent"),
            ("questionnaire", "answered"),
            ("questionnaire", "reviewed"),
            ("audit_chain", ""),
            ("update", "name"),
        ]
    );
    // The old rows keep what they had: no actor, no command, no detail.
    for row in &rows[..6] {
        assert!(row["actor"].is_null() && row["command"].is_null() && row["detail"].is_null());
    }
    let chain = &rows[6];
    assert_eq!(chain["source"], "migration 0007");
    assert_eq!(
        chain["new"],
        "chained 6 rows written before the chain existed"
    );
    assert_eq!(chain["actor"], TEST_USER);
    assert_eq!(chain["command"], "sync");
    assert_eq!(rows[7]["new"], "Globex Mail");

    // Opening again chains nothing more.
    desk.ok(&["sync"]);
    desk.ok(&["suppliers"]);
    let again = desk.audit();
    assert_eq!(again, rows);
}

#[tokio::test]
async fn two_openers_chain_an_old_database_once() {
    let scratch = Scratch::new();
    let path = scratch.path("old.db");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/prechain.db");
    std::fs::copy(&fixture, &path).unwrap();
    // Migrated to the chain's schema but not chained yet: the moment
    // between `MIGRATOR.run` and the chaining of `Store::open`.
    let pool = raw_pool(&path).await;
    MIGRATOR.run(&pool).await.unwrap();
    // The new columns may be set once, on an unchained row, and nothing else with them.
    for refused in [
        "UPDATE audit_log SET hash = 'abc', prev_hash = 'def' WHERE id = 1",
        "UPDATE audit_log SET new_value = 'x', \
         hash = '1111111111111111111111111111111111111111111111111111111111111111', \
         prev_hash = '0000000000000000000000000000000000000000000000000000000000000000' WHERE id = 1",
        "DELETE FROM audit_log WHERE id = 1",
        "INSERT INTO audit_log (at, source, action) VALUES ('2026-01-01T00:00:00Z', 'x', 'y')",
    ] {
        let err = sqlx::query(refused).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("audit_log"), "{refused}: {err}");
    }
    pool.close().await;

    let actor = |who: &str| Actor {
        who: who.to_owned(),
        command: "test".to_owned(),
    };
    let (a, b) = tokio::join!(
        Store::open_as(&path, OpenMode::Existing, actor("a@bank.example")),
        Store::open_as(&path, OpenMode::Existing, actor("b@bank.example")),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let rows = a.audit(&AuditFilter::default()).await.unwrap();
    let chained: Vec<_> = rows.iter().filter(|r| r.action == "audit_chain").collect();
    assert_eq!(chained.len(), 1, "{rows:#?}");
    assert_eq!(rows.len(), 7);
    let report = b.verify_audit().await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.rows, 7);
    a.close().await;
    b.close().await;

    // The one UPDATE allowed was used up: a chained row stays as it is.
    let pool = raw_pool(&path).await;
    let err = sqlx::query("UPDATE audit_log SET hash = prev_hash WHERE id = 1")
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    pool.close().await;
}

#[tokio::test]
async fn who_acted_is_recorded() {
    let desk = Desk::blank();
    desk.ok(&["--actor", "alice@bank.example", "sync"]);
    let bob = [("SUPPLYWATCH_ACTOR", "bob@bank.example")];
    desk.run_env(
        &[
            "questionnaire",
            "send",
            "acme",
            "--template",
            "t",
            "--due",
            "2026-12-31",
            "--on",
            "2026-01-10",
        ],
        &bob,
    )
    .expect_code(0);
    // No --actor: the OS user, from USER, else LOGNAME.
    desk.ok(&["questionnaire", "answer", "acme", "--on", "2026-01-20"]);
    let nobody = [("USER", ""), ("LOGNAME", "")];
    let review = desk.run_env(
        &[
            "questionnaire",
            "review",
            "acme",
            "--score",
            "82",
            "--reviewer",
            "carol@bank.example",
            "--on",
            "2026-01-25",
        ],
        &nobody,
    );
    review.expect_code(0);
    assert_eq!(
        review
            .stderr
            .matches("warning: no actor could be named")
            .count(),
        1,
        "{}",
        review.stderr
    );
    desk.scratch.write(CONFIG, config("Globex Renamed"));
    desk.run_env(&["sync"], &[("USER", ""), ("LOGNAME", "dave")])
        .expect_code(0);
    // The service acts as itself.
    desk.scratch.write(CONFIG, config("Globex Again"));
    desk.run(&["run", "--once"]).expect_code(0);
    // A reading command does not warn.
    let listing = desk.run_env(&["audit"], &nobody);
    listing.expect_code(0);
    assert!(!listing.stderr.contains("warning"), "{}", listing.stderr);
    assert!(listing.stdout.lines().next().unwrap().contains("ACTOR"));

    let rows = desk.audit();
    assert_chained(&rows);
    let who: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap(),
                r["actor"].as_str().unwrap(),
                r["command"].as_str().unwrap(),
            )
        })
        .collect();
    let uid = who[4].1;
    assert!(
        uid.strip_prefix("uid:")
            .is_some_and(|n| n.parse::<u32>().is_ok()),
        "{uid}"
    );
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let daemon = format!("daemon@{}", hostname.trim());
    assert_eq!(
        who,
        [
            ("onboard", "alice@bank.example", "sync"),
            ("onboard", "alice@bank.example", "sync"),
            ("questionnaire", "bob@bank.example", "questionnaire send"),
            ("questionnaire", TEST_USER, "questionnaire answer"),
            ("questionnaire", uid, "questionnaire review"),
            ("update", "dave", "sync"),
            ("update", daemon.as_str(), "run --once"),
        ]
    );
    assert_eq!(rows[4]["detail"]["reviewer"], "carol@bank.example");
    assert_eq!(rows[4]["detail"]["score"], 82);
    assert_eq!(rows[4]["detail"]["outcome"], "accepted");
    for key in ["actor", "command", "detail", "prev_hash", "hash"] {
        assert!(rows[0].get(key).is_some(), "{key} missing: {}", rows[0]);
    }

    // --actor is an e-mail address.
    let run = desk.run(&["--actor", "not an address", "sync"]);
    run.expect_code(2);
}

#[tokio::test]
async fn an_acceptance_records_its_reason_approver_and_last_day() {
    // Enough findings that the acceptance pass writes a batch of rows.
    const N: usize = 2_000;
    let scratch = Scratch::new();
    let actor = Actor {
        who: "risk@bank.example".to_owned(),
        command: "sync".to_owned(),
    };
    let store = Store::open(&scratch.path("w.db"), OpenMode::Create)
        .await
        .unwrap()
        .with_actor(actor);
    store
        .sync_registry(&suppliers_of(&config("Globex Mail")), "sync", day(1))
        .await
        .unwrap();
    let findings: Vec<(String, Finding)> = (0..N)
        .map(|i| {
            (
                "acme".to_owned(),
                Finding {
                    check: supplywatch::registry::CheckId::HttpHstsMissing,
                    severity: Severity::Medium,
                    target: format!("host{i}.acme.example:443"),
                    summary: "no HSTS".to_owned(),
                    evidence: serde_json::json!({}),
                },
            )
        })
        .collect();
    let input = RunInput {
        suppliers: Vec::new(),
        blind: None,
        at: day(2),
        source: "daemon".to_owned(),
        scopes: vec![Scope {
            supplier: "acme".to_owned(),
            target: Scope::ANY_TARGET.to_owned(),
            family: "http",
            complete: true,
        }],
        findings,
        observations: Vec::new(),
    };
    store
        .record_run(&input, &[], &LifecyclePolicy::default())
        .await
        .unwrap();
    let acceptance = Acceptance {
        supplier: "acme".parse().unwrap(),
        check: supplywatch::registry::CheckId::HttpHstsMissing,
        target: None,
        until: "2026-06-30".parse().unwrap(),
        reason: "legacy portal, replaced in June".to_owned(),
        approved_by: "ciso@bank.example".parse().unwrap(),
    };
    let started = std::time::Instant::now();
    let synced = store
        .sync(
            &suppliers_of(&config("Globex Mail")),
            &supplywatch::store::RegistryPolicy {
                acceptances: &[acceptance],
                severity: &std::collections::BTreeMap::new(),
            },
            "sync",
            day(3),
        )
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(synced.accepted.len(), N);
    eprintln!("{N} acceptances with their audit rows in {took:?}");

    let rows = store.audit(&AuditFilter::default()).await.unwrap();
    let accepted: Vec<_> = rows.iter().filter(|r| r.action == "accept").collect();
    assert_eq!(accepted.len(), N);
    let first = accepted[0];
    assert_eq!(first.actor.as_deref(), Some("risk@bank.example"));
    assert_eq!(first.command.as_deref(), Some("sync"));
    let detail = first.detail.as_ref().unwrap();
    assert_eq!(detail["reason"], "legacy portal, replaced in June");
    assert_eq!(detail["approved_by"], "ciso@bank.example");
    assert_eq!(detail["until"], "2026-06-30");
    assert!(
        detail["target"]
            .as_str()
            .unwrap()
            .ends_with(".acme.example:443")
    );
    let report = store.verify_audit().await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.rows, rows.len() as u64);
    store.close().await;
}

#[tokio::test]
async fn an_export_verifies_on_its_own() {
    let desk = Desk::with_paperwork();
    let (id, hash) = desk.head();
    let run = desk.ok(&["audit", "export", "--out", "audit.jsonl"]);
    assert_eq!(
        run.stdout.lines().next().unwrap(),
        "wrote 5 rows (#1 to #5) and the chain head to audit.jsonl"
    );
    assert!(run.stdout.contains(&format!("audit verify --head {hash}")));
    let file = desk.scratch.path("audit.jsonl");
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    let last = &lines[5];
    assert_eq!(last["head"]["id"], id);
    assert_eq!(last["head"]["hash"], hash.as_str());
    assert_eq!(last["rows"], 5);
    assert_eq!(last["first_prev_hash"], GENESIS);
    assert!(last["exported_at"].is_string());
    let keys: Vec<&str> = lines[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "id",
        "at",
        "source",
        "supplier_id",
        "action",
        "field",
        "old_value",
        "new_value",
        "actor",
        "command",
        "detail",
        "prev_hash",
        "hash",
    ] {
        assert!(keys.contains(&key), "{key} missing: {keys:?}");
    }
    assert_eq!(lines[4]["detail"]["reviewer"], "carol@bank.example");

    let check = |extra: &[&str], code: i32| -> String {
        let mut args = vec!["audit", "verify", "--file", "audit.jsonl"];
        args.extend_from_slice(extra);
        // No database needed.
        let run = desk.scratch.run(&args);
        run.expect_code(code);
        run.stdout.trim_end().to_owned()
    };
    assert_eq!(
        check(&[], 0),
        format!("audit export audit.jsonl intact: 5 rows, head #5 {hash}")
    );
    check(&["--head", &hash], 0);
    check(&["--head", GENESIS], 0);
    check(&["--head", &"b".repeat(64)], 1);

    // Not overwritten without --force; replaced whole with it.
    desk.scratch.write("audit.jsonl", "keep me\n");
    let run = desk.run(&["audit", "export", "--out", "audit.jsonl"]);
    run.expect_code(2);
    assert!(run.stderr.contains("exists already"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me\n");
    desk.ok(&["audit", "export", "--out", "audit.jsonl", "--force"]);
    let replaced = std::fs::read_to_string(&file).unwrap();
    let rows_of = |t: &str| t.lines().take(5).collect::<Vec<_>>().join("\n");
    assert_eq!(rows_of(&replaced), rows_of(&text));
    check(&[], 0);
    let leftovers: Vec<_> = std::fs::read_dir(desk.scratch.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".audit-export"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn an_export_from_a_day_on() {
    // Here every row is from today; after a day to come, none — the
    // segment is then the head alone.
    let desk = Desk::with_paperwork();
    desk.scratch.write(CONFIG, config("Globex Renamed"));
    desk.ok(&["sync"]);
    let today = chrono::Utc::now().date_naive().to_string();
    desk.ok(&["audit", "export", "--since", &today, "--out", "today.jsonl"]);
    let today_text = std::fs::read_to_string(desk.scratch.path("today.jsonl")).unwrap();
    assert_eq!(today_text.lines().count(), 7);
    let run = desk
        .scratch
        .run(&["audit", "verify", "--file", "today.jsonl"]);
    run.expect_code(0);
    desk.ok(&[
        "audit",
        "export",
        "--since",
        "2999-01-01",
        "--out",
        "none.jsonl",
    ]);
    let none = std::fs::read_to_string(desk.scratch.path("none.jsonl")).unwrap();
    assert_eq!(none.lines().count(), 1, "{none}");
    let run = desk
        .scratch
        .run(&["audit", "verify", "--file", "none.jsonl"]);
    run.expect_code(0);
    assert!(
        run.stdout
            .starts_with("audit export none.jsonl intact: 0 rows, head #6 "),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn a_tampered_export_fails_verification() {
    let desk = Desk::with_paperwork();
    desk.ok(&["audit", "export", "--out", "audit.jsonl"]);
    let text = std::fs::read_to_string(desk.scratch.path("audit.jsonl")).unwrap();
    let check = |code: i32| -> String {
        let run = desk
            .scratch
            .run(&["audit", "verify", "--file", "audit.jsonl"]);
        run.expect_code(code);
        run.stdout.trim_end().to_owned()
    };
    check(0);

    // One value edited.
    let lines_text: Vec<&str> = text.lines().collect();
    let edited = lines_text[1].replace("Globex Mail", "Globex Mall");
    assert_ne!(edited, lines_text[1]);
    let mut tampered = lines_text.clone();
    tampered[1] = &edited;
    desk.scratch
        .write("audit.jsonl", tampered.join("\n") + "\n");
    assert_eq!(
        check(1),
        "audit log broken at row #2: its content does not match its hash (altered after it was written)"
    );
    // One row left out.
    let mut dropped = lines_text.clone();
    dropped.remove(2);
    desk.scratch.write("audit.jsonl", dropped.join("\n") + "\n");
    assert_eq!(
        check(1),
        "audit log broken at row #4: row #3 before it is missing (deleted)"
    );
    // The last row left out: the head line tells.
    let mut short = lines_text.clone();
    short.remove(4);
    desk.scratch.write("audit.jsonl", short.join("\n") + "\n");
    assert_eq!(
        check(1),
        "audit export broken: the head line counts 5 rows; the file holds 4"
    );
    // Cut short: no head line.
    desk.scratch
        .write("audit.jsonl", lines_text[..5].join("\n") + "\n");
    assert_eq!(
        check(1),
        "audit export broken: no head line: the file ends without its last line (cut short?)"
    );
    // Not JSON.
    desk.scratch.write("audit.jsonl", "{\"id\": 1,\n");
    assert!(check(1).starts_with("audit export broken at line 1: not JSON"));
    // A missing file is a failure to run, not a verdict.
    desk.scratch
        .run(&["audit", "verify", "--file", "nope.jsonl"])
        .expect_code(3);
}
