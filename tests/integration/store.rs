//! The store through the library: migrations old and new, the append-only
//! audit log, and `sync_registry` as one transaction per run.

use std::path::Path;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use supplywatch::clock::{Clock as _, FixedClock};
use supplywatch::store::{
    AuditEntry, AuditFilter, MIGRATOR, OpenMode, Store, StoreError, SyncReport, lock_path,
};

use crate::support::{
    Scratch, config_with, day, finish, spawn_in, supplier, suppliers_of, three_suppliers,
};

/// A plain pool on `path`, outside the store, as another tool would open it.
async fn raw_pool(path: &Path, create: bool) -> SqlitePool {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(create);
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap()
}

async fn all_audit(store: &Store) -> Vec<AuditEntry> {
    store.audit(&AuditFilter::default()).await.unwrap()
}

/// One audit row as (supplier, action, field, old, new).
type Change<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
);

fn changes(entries: &[AuditEntry]) -> Vec<Change<'_>> {
    entries
        .iter()
        .map(|e| {
            (
                e.supplier.as_deref().unwrap_or_default(),
                e.action.as_str(),
                e.field.as_deref(),
                e.old.as_deref(),
                e.new.as_deref(),
            )
        })
        .collect()
}

fn acme(extra: &str) -> String {
    supplier("acme", "Acme Cloud", extra)
}

fn globex(extra: &str) -> String {
    supplier("globex", "Globex Mail", extra)
}

#[tokio::test]
async fn empty_database_is_created_and_migrated() {
    let scratch = Scratch::new();
    let path = scratch.path("new.db");
    let store = Store::open(&path, OpenMode::Create).await.unwrap();
    assert_eq!(store.path(), path);
    assert!(store.suppliers().await.unwrap().is_empty());
    assert!(all_audit(&store).await.is_empty());
    store.close().await;

    let pool = raw_pool(&path, false).await;
    let versions: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    let expected: Vec<(i64, bool)> = MIGRATOR.iter().map(|m| (m.version, true)).collect();
    assert_eq!(versions, expected);
    assert!(versions.len() >= 2, "{versions:?}");
    let (journal,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(journal, "wal");
    pool.close().await;

    // Opening again is a no-op migration.
    let store = Store::open(&path, OpenMode::Existing).await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn existing_mode_refuses_a_missing_file() {
    let scratch = Scratch::new();
    let path = scratch.path("absent.db");
    match Store::open(&path, OpenMode::Existing).await {
        Err(StoreError::Missing { path: p }) => assert_eq!(p, path),
        other => panic!("expected Missing, got {other:?}"),
    }
    assert!(!path.exists());
}

#[tokio::test]
async fn database_from_an_earlier_version_is_migrated_in_place() {
    let scratch = Scratch::new();
    let path = scratch.path("old.db");
    let pool = raw_pool(&path, true).await;
    MIGRATOR.run_to(1, &pool).await.unwrap();
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        tables.is_empty(),
        "run_to(1) should stop before the audit log"
    );
    sqlx::query(
        "INSERT INTO suppliers (id, name, criticality, status, domains, onboarded_at, updated_at) \
         VALUES ('legacy', 'Legacy Ltd', 'standard', 'active', '[\"legacy.example\"]', \
         '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let store = Store::open(&path, OpenMode::Create).await.unwrap();
    let stored = store.suppliers().await.unwrap();
    assert_eq!(stored.len(), 1);
    let legacy = &stored[0];
    assert_eq!(legacy.id, "legacy");
    assert_eq!(legacy.name, "Legacy Ltd");
    assert_eq!(legacy.domains, ["legacy.example"]);
    assert!(legacy.services.is_empty());
    assert!(legacy.in_registry);
    assert_eq!(legacy.onboarded_at, "2025-01-01T00:00:00Z");
    assert!(all_audit(&store).await.is_empty());

    // A sync over it: legacy is unchanged when the config says the same,
    // acme is onboarded.
    let config = config_with(&format!(
        "{}{}",
        acme(""),
        "[[supplier]]\nid = \"legacy\"\nname = \"Legacy Ltd\"\ncriticality = \"standard\"\ndomains = [\"legacy.example\"]\n"
    ));
    let report = store
        .sync_registry(&suppliers_of(&config), "test", day(1))
        .await
        .unwrap();
    assert_eq!(report.onboarded, ["acme"]);
    assert_eq!(report.unchanged, 1, "{report:?}");
    assert!(report.updated.is_empty(), "{report:?}");

    // And without legacy: it exits, with an audit row.
    let report = store
        .sync_registry(&suppliers_of(&config_with(&acme(""))), "test", day(2))
        .await
        .unwrap();
    assert_eq!(report.exited, ["legacy"]);
    let entries = all_audit(&store).await;
    let rows: Vec<(Option<&str>, &str)> = entries
        .iter()
        .map(|e| (e.supplier.as_deref(), e.action.as_str()))
        .collect();
    assert_eq!(rows, [(Some("acme"), "onboard"), (Some("legacy"), "exit")]);
    assert_eq!(entries[1].old.as_deref(), Some("active"));
    store.close().await;
}

#[tokio::test]
async fn database_migrated_by_a_newer_version_is_refused() {
    let scratch = Scratch::new();
    let path = scratch.path("future.db");
    Store::open(&path, OpenMode::Create)
        .await
        .unwrap()
        .close()
        .await;

    let pool = raw_pool(&path, false).await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
         VALUES (9999, 'from the future', CURRENT_TIMESTAMP, 1, X'00', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    for mode in [OpenMode::Create, OpenMode::Existing] {
        match Store::open(&path, mode).await {
            Err(StoreError::NewerSchema { path: p, version }) => {
                assert_eq!(p, path);
                assert_eq!(version, 9999);
            }
            other => panic!("expected NewerSchema, got {other:?}"),
        }
    }
    let message = Store::open(&path, OpenMode::Existing)
        .await
        .unwrap_err()
        .to_string();
    assert!(message.contains("schema version 9999"), "{message}");
    assert!(message.contains("upgrade supplywatch"), "{message}");
}

#[tokio::test]
async fn audit_log_is_append_only() {
    let scratch = Scratch::new();
    let path = scratch.path("audit.db");
    let store = Store::open(&path, OpenMode::Create).await.unwrap();
    store
        .sync_registry(&suppliers_of(&config_with(&acme(""))), "test", day(1))
        .await
        .unwrap();
    let before = all_audit(&store).await;
    assert_eq!(before.len(), 1);
    store.close().await;

    let pool = raw_pool(&path, false).await;
    for statement in [
        "UPDATE audit_log SET action = 'nothing to see'",
        "UPDATE audit_log SET new_value = NULL WHERE id = 1",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE id = 1",
    ] {
        let err = sqlx::query(statement).execute(&pool).await.unwrap_err();
        assert!(
            err.to_string().contains("audit_log is append-only"),
            "{statement}: {err}"
        );
    }
    pool.close().await;

    let store = Store::open(&path, OpenMode::Existing).await.unwrap();
    assert_eq!(all_audit(&store).await, before);
    store.close().await;
}

#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "one scenario, six syncs in a row, each checked where it happens"
)]
async fn sync_sequence_reports_each_change() {
    let store = Store::open_in_memory().await.unwrap();
    let clock = FixedClock(day(1));

    // 1. Two new suppliers.
    let v1 = config_with(&format!(
        "{}{}",
        acme(
            "domains = [\"acme.example\"]\ncontract = { reference = \"C-1\", start = 2024-01-01, notice_days = 30, auto_renew = true }\n\
              certifications = [{ kind = \"ISO 27001\", expires = 2027-03-01 }]\nlei = \"506700GE1G29325QX363\"\ncountry = \"NL\""
        ),
        globex(
            "status = \"onboarding\"\nowner = \"sam@bank.example\"\nservices = [\"mail relay\"]"
        ),
    ));
    let report = store
        .sync_registry(&suppliers_of(&v1), "v1", clock.now())
        .await
        .unwrap();
    assert_eq!(
        report,
        SyncReport {
            onboarded: vec!["acme".into(), "globex".into()],
            ..SyncReport::default()
        }
    );
    assert_eq!(all_audit(&store).await.len(), 2);

    // 2. The same again: nothing, and no audit rows.
    let report = store
        .sync_registry(&suppliers_of(&v1), "v1", day(2))
        .await
        .unwrap();
    assert!(report.is_empty(), "{report:?}");
    assert_eq!(report.unchanged, 2);
    assert_eq!(all_audit(&store).await.len(), 2);

    // 3. acme renamed and given a second domain and an end date; globex gone.
    let v3 = config_with(&acme(
        "domains = [\"acme.example\", \"acme-cdn.example\"]\ncontract = { reference = \"C-1\", start = 2024-01-01, end = 2027-12-31, notice_days = 30, auto_renew = true }\n\
         certifications = [{ kind = \"ISO 27001\", expires = 2027-03-01 }]\nlei = \"506700GE1G29325QX363\"\ncountry = \"NL\"",
    )
    .replace("Acme Cloud", "Acme Cloud B.V."));
    let report = store
        .sync_registry(&suppliers_of(&v3), "v3", day(3))
        .await
        .unwrap();
    assert!(report.onboarded.is_empty());
    assert_eq!(report.updated.len(), 1);
    assert_eq!(report.updated["acme"], ["name", "domains", "contract_end"]);
    assert_eq!(report.exited, ["globex"]);
    assert!(report.reentered.is_empty());
    assert_eq!(report.unchanged, 0);

    let since_3 = store
        .audit(&AuditFilter {
            supplier: None,
            since: Some(day(3).date_naive()),
        })
        .await
        .unwrap();
    let rows = changes(&since_3);
    assert_eq!(
        rows,
        [
            (
                "acme",
                "update",
                Some("name"),
                Some("Acme Cloud"),
                Some("Acme Cloud B.V.")
            ),
            (
                "acme",
                "update",
                Some("domains"),
                Some("[\"acme.example\"]"),
                Some("[\"acme.example\",\"acme-cdn.example\"]")
            ),
            (
                "acme",
                "update",
                Some("contract_end"),
                None,
                Some("2027-12-31")
            ),
            (
                "globex",
                "exit",
                Some("status"),
                Some("onboarding"),
                Some("exited")
            ),
        ]
    );
    assert!(
        since_3
            .iter()
            .all(|e| e.at == "2026-03-03T12:00:00Z" && e.source == "v3")
    );

    let stored = store.suppliers().await.unwrap();
    let globex_row = stored.iter().find(|s| s.id == "globex").unwrap();
    assert_eq!(globex_row.status.as_str(), "exited");
    assert!(!globex_row.in_registry);
    assert_eq!(globex_row.owner.as_deref(), Some("sam@bank.example"));
    assert_eq!(globex_row.onboarded_at, "2026-03-01T12:00:00Z");
    assert_eq!(globex_row.updated_at, "2026-03-03T12:00:00Z");
    let acme_row = stored.iter().find(|s| s.id == "acme").unwrap();
    assert_eq!(acme_row.contract_notice_days, Some(30));
    assert_eq!(acme_row.contract_auto_renew, Some(true));
    assert_eq!(
        acme_row.contract_end.map(|d| d.to_string()).as_deref(),
        Some("2027-12-31")
    );
    assert_eq!(acme_row.lei.as_deref(), Some("506700GE1G29325QX363"));

    // 4. Still without globex: nothing more.
    let report = store
        .sync_registry(&suppliers_of(&v3), "v3", day(4))
        .await
        .unwrap();
    assert!(report.is_empty(), "{report:?}");
    assert_eq!(report.unchanged, 1);

    // 5. globex back, now offboarding.
    let v5 = format!(
        "{v3}{}",
        globex(
            "status = \"offboarding\"\nowner = \"sam@bank.example\"\nservices = [\"mail relay\"]"
        )
    );
    let report = store
        .sync_registry(&suppliers_of(&v5), "v5", day(5))
        .await
        .unwrap();
    assert_eq!(report.reentered, ["globex"]);
    assert_eq!(report.updated.len(), 1);
    assert_eq!(report.updated["globex"], ["status"]);
    assert_eq!(report.unchanged, 1);
    let globex_audit = store
        .audit(&AuditFilter {
            supplier: Some("globex".into()),
            since: None,
        })
        .await
        .unwrap();
    let actions: Vec<&str> = globex_audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["onboard", "exit", "reenter", "update"]);
    assert_eq!(globex_audit[3].old.as_deref(), Some("exited"));
    assert_eq!(globex_audit[3].new.as_deref(), Some("offboarding"));
    let globex_row = store
        .suppliers()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.id == "globex")
        .unwrap();
    assert_eq!(globex_row.status.as_str(), "offboarding");
    assert!(globex_row.in_registry);

    // 6. Identical again: empty, no rows.
    let count = all_audit(&store).await.len();
    let report = store
        .sync_registry(&suppliers_of(&v5), "v5", day(6))
        .await
        .unwrap();
    assert!(report.is_empty(), "{report:?}");
    assert_eq!(report.unchanged, 2);
    assert_eq!(all_audit(&store).await.len(), count);
    store.close().await;
}

#[tokio::test]
async fn the_example_config_round_trips() {
    // Every field of the example survives the store: a second sync finds
    // nothing to change.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/supplywatch.example.toml");
    let config = supplywatch::config::Config::load(&path).unwrap();
    let store = Store::open_in_memory().await.unwrap();
    let first = store
        .sync_registry(&config.suppliers, "example", day(1))
        .await
        .unwrap();
    assert_eq!(first.onboarded, ["acme", "globex-mail", "initech"]);
    let second = store
        .sync_registry(&config.suppliers, "example", day(2))
        .await
        .unwrap();
    assert!(second.is_empty(), "{second:?}");
    assert_eq!(second.unchanged, 3);
    store.close().await;
}

#[tokio::test]
async fn failed_sync_keeps_nothing() {
    let scratch = Scratch::new();
    let path = scratch.path("tx.db");
    Store::open(&path, OpenMode::Create)
        .await
        .unwrap()
        .close()
        .await;
    // Make the second insert of a sync fail.
    let pool = raw_pool(&path, false).await;
    sqlx::query(
        "CREATE TRIGGER no_boom BEFORE INSERT ON suppliers WHEN NEW.id = 'boom' \
         BEGIN SELECT RAISE(ABORT, 'boom refused'); END",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let store = Store::open(&path, OpenMode::Existing).await.unwrap();
    let config = config_with(&format!("{}{}", acme(""), supplier("boom", "Boom", "")));
    let err = store
        .sync_registry(&suppliers_of(&config), "test", day(1))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("boom refused"), "{err}");
    assert!(
        store.suppliers().await.unwrap().is_empty(),
        "acme's insert must be rolled back"
    );
    assert!(
        all_audit(&store).await.is_empty(),
        "acme's audit row must be rolled back"
    );
    store.close().await;
}

#[tokio::test]
async fn concurrent_syncs_onboard_once() {
    let scratch = Scratch::new();
    let path = scratch.path("shared.db");
    let a = Store::open(&path, OpenMode::Create).await.unwrap();
    let b = Store::open(&path, OpenMode::Existing).await.unwrap();
    let suppliers = suppliers_of(&config_with(&format!("{}{}", acme(""), globex(""))));
    let (ra, rb) = tokio::join!(
        a.sync_registry(&suppliers, "a", day(1)),
        b.sync_registry(&suppliers, "b", day(1)),
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let onboarded = ra.onboarded.len() + rb.onboarded.len();
    assert_eq!(onboarded, 2, "{ra:?} {rb:?}");
    assert!(ra.is_empty() || rb.is_empty(), "{ra:?} {rb:?}");
    assert_eq!(all_audit(&a).await.len(), 2);
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn opening_a_non_database_leaves_it_untouched() {
    let scratch = Scratch::new();
    let text = "PRAGMA not really; this is a text file about suppliers\n".repeat(100);
    let path = scratch.write("notes.db", &text);
    match Store::open(&path, OpenMode::Create).await {
        Err(StoreError::NotADatabase { path: p, why }) => {
            assert_eq!(p, path);
            assert!(why.contains("SQLite header"), "{why}");
        }
        other => panic!("expected NotADatabase, got {other:?}"),
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);

    // An empty file is an empty database to SQLite: it is migrated.
    let empty = scratch.write("empty.db", "");
    let store = Store::open(&empty, OpenMode::Existing).await.unwrap();
    assert!(store.suppliers().await.unwrap().is_empty());
    store.close().await;
}

/// Pointing the store at another program's SQLite database must not change
/// that database. Today it does: `Store::open` only checks the SQLite header,
/// then runs the migrations, adding supplywatch's tables to the foreign file
/// (even with `OpenMode::Existing`, as `supplywatch suppliers --database`
/// uses). Ignored until `src/store/mod.rs` refuses a non-empty database that
/// has tables but no `_sqlx_migrations`.
#[tokio::test]
async fn another_programs_database_is_left_untouched() {
    let scratch = Scratch::new();
    let path = scratch.path("places.sqlite");
    let pool = raw_pool(&path, true).await;
    sqlx::query("CREATE TABLE bookmarks (url TEXT)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let opened = Store::open(&path, OpenMode::Existing).await;
    if let Ok(store) = &opened {
        store.close().await;
    }
    let pool = raw_pool(&path, false).await;
    let tables: Vec<(String,)> =
        sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    assert_eq!(
        tables,
        [("bookmarks".to_owned(),)],
        "the foreign database was changed"
    );
    assert!(
        matches!(opened, Err(StoreError::Foreign { .. })),
        "expected a refusal, got {opened:?}"
    );
}

/// `PRAGMA integrity_check` and the applied migrations of a database, read
/// outside the store.
async fn integrity_and_migrations(path: &Path) -> (String, Vec<i64>) {
    let pool = raw_pool(path, false).await;
    let (integrity,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .unwrap();
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    (integrity, versions)
}

/// Two `sync`s (two daemons, a daemon and a cron job …) started together on
/// a database that does not exist yet: one creates and migrates it, the
/// other waits and finds the schema current. Eight pairs, no failure.
#[tokio::test]
async fn processes_creating_one_database_together_both_succeed() {
    let expected: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
    let mut failures = Vec::new();
    let mut runs = 0;
    for round in 0..8 {
        let scratch = Scratch::new();
        scratch.write("supplywatch.toml", three_suppliers());
        let args = [
            "--config",
            "supplywatch.toml",
            "--database",
            "watch.db",
            "sync",
        ];
        let dir = scratch.dir.path().to_path_buf();
        let pair = tokio::task::spawn_blocking(move || {
            let children = [spawn_in(&dir, &args), spawn_in(&dir, &args)];
            children.map(finish)
        })
        .await
        .unwrap();
        for run in pair {
            runs += 1;
            if run.code != 0 {
                failures.push(format!(
                    "round {round}: exit {}: {}",
                    run.code,
                    run.stderr.trim()
                ));
            }
        }
        let (integrity, versions) = integrity_and_migrations(&scratch.path("watch.db")).await;
        assert_eq!(integrity, "ok", "round {round}");
        assert_eq!(versions, expected, "round {round}");
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} processes failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The same within one process: two opens of a new file at once, eight
/// times.
#[tokio::test]
async fn opens_creating_one_database_together_both_succeed() {
    let scratch = Scratch::new();
    for round in 0..8 {
        let path = scratch.path(&format!("watch-{round}.db"));
        let (a, b) = tokio::join!(
            Store::open(&path, OpenMode::Create),
            Store::open(&path, OpenMode::Create),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(a.suppliers().await.unwrap().is_empty());
        assert!(b.suppliers().await.unwrap().is_empty());
        a.close().await;
        b.close().await;
        let (integrity, versions) = integrity_and_migrations(&path).await;
        assert_eq!(integrity, "ok", "round {round}");
        assert_eq!(
            versions,
            MIGRATOR.iter().map(|m| m.version).collect::<Vec<_>>(),
            "round {round}"
        );
    }
}

/// Readers never wait for the migration lock: a read-only open goes ahead
/// while another process holds it.
#[tokio::test]
async fn read_only_opens_do_not_take_the_migration_lock() {
    let scratch = Scratch::new();
    let path = scratch.path("watch.db");
    Store::open(&path, OpenMode::Create)
        .await
        .unwrap()
        .close()
        .await;
    let lock = std::fs::File::open(lock_path(&path)).unwrap();
    lock.lock().unwrap();
    let reader = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        Store::open(&path, OpenMode::ReadOnly),
    )
    .await
    .expect("a read-only open waited for the migration lock")
    .unwrap();
    assert!(reader.suppliers().await.unwrap().is_empty());
    reader.close().await;
    lock.unlock().unwrap();
}

/// A new database, and the `-wal` and `-shm` files SQLite makes beside it
/// while it is open, are readable by their owner only, whatever the umask.
#[tokio::test]
async fn a_new_database_and_its_wal_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let scratch = Scratch::new();
    let path = scratch.path("watch.db");
    let store = Store::open(&path, OpenMode::Create).await.unwrap();
    let suppliers = suppliers_of(&config_with(&acme("")));
    store
        .sync_registry(&suppliers, "test", day(1))
        .await
        .unwrap();
    let mode = |name: &str| {
        std::fs::metadata(scratch.path(name))
            .map(|m| m.permissions().mode() & 0o777)
            .ok()
    };
    assert_eq!(mode("watch.db"), Some(0o600));
    // Both exist while the store is open in WAL mode.
    assert_eq!(mode("watch.db-wal"), Some(0o600));
    assert_eq!(mode("watch.db-shm"), Some(0o600));
    assert_eq!(mode("watch.db.lock"), Some(0o600));
    store.close().await;

    // `-wal`/`-shm` left broader (by another tool) are narrowed on opening.
    let store = Store::open(&path, OpenMode::Existing).await.unwrap();
    for name in ["watch.db-wal", "watch.db-shm"] {
        std::fs::set_permissions(scratch.path(name), std::fs::Permissions::from_mode(0o644))
            .unwrap();
    }
    let again = Store::open(&path, OpenMode::Existing).await.unwrap();
    assert_eq!(mode("watch.db-wal"), Some(0o600));
    assert_eq!(mode("watch.db-shm"), Some(0o600));
    again.close().await;
    store.close().await;
}
