//! SQLite storage: opening and migrating the database, syncing the registry,
//! the append-only audit log (attributed, hash-chained, verified and
//! exported: `audit.rs`, `chain.rs`), and runs: findings with their lifecycle,
//! scores per run, observations kept when they change. The only module that
//! knows SQL; it depends on `checks` and `registry` types, never on `probe`
//! I/O, `config` or the CLI.

mod audit;
mod chain;
mod findings;
mod lock;
mod outbox;
mod paperwork;
mod registry;
mod runs;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use crate::lifecycle::{FindingKey, FindingState, LifecyclePolicy};
pub use audit::{Actor, AuditEntry, AuditFilter, GENESIS, canonical_json};
pub use chain::{AuditExport, ChainBreak, ChainHead, ChainReport, verify_export};
pub use findings::{FindingFilter, StoredFinding};
pub use lock::lock_path;
pub use outbox::{
    AcceptanceNote, AlertFinding, AlertSnapshot, JobRun, NewNotice, Notice, Notifier, OutboxRow,
    OutboxStats, Outgoing, SupplierNotice, backoff,
};
pub use paperwork::{MAX_DOCUMENT_BYTES, NewQuestionnaire, Review};
pub use registry::{
    LastSync, RegistryPolicy, StoredAcceptance, StoredSupplier, SyncReport, fingerprint,
};
pub use runs::{
    CanonicalBlob, ObservationBlob, PruneReport, Recording, RunChunk, RunHead, RunInput, RunReport,
    ScorePoint, ScoreRow, SeverityCounts, StoredObservation, StoredRun, Streamed, SupplierScore,
    VOLATILE_HEADERS, canonical, hex, preview_run, sha256_hex,
};

/// The migrations in `migrations/`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How long a writer waits for another (the daemon, a CLI call) to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "database {path}: the folder {folder} does not exist; create it or point --database elsewhere"
    )]
    MissingFolder { path: PathBuf, folder: PathBuf },
    #[error("database {path} does not exist yet; run `supplywatch sync` to create it")]
    Missing { path: PathBuf },
    #[error("database {path} is not an SQLite database ({why}); it was left untouched")]
    NotADatabase { path: PathBuf, why: String },
    #[error(
        "database {path} belongs to another program (it has tables {tables} but no supplywatch schema); it was left untouched"
    )]
    Foreign { path: PathBuf, tables: String },

    #[error(
        "database {path} is read-only; supplywatch needs to write to it (and to its folder, for the -wal file)"
    )]
    ReadOnly { path: PathBuf },
    #[error(
        "database {path} was migrated by a newer supplywatch (schema version {version}); upgrade supplywatch"
    )]
    NewerSchema { path: PathBuf, version: i64 },
    #[error("database {path}: migration failed: {source}")]
    Migrate {
        path: PathBuf,
        source: sqlx::migrate::MigrateError,
    },
    #[error("database {path}: {source}")]
    Sqlite { path: PathBuf, source: sqlx::Error },
    #[error("database {path}: stored row is unreadable: {why}")]
    Corrupt { path: PathBuf, why: String },
    /// The part of a run kept in a temporary file until it is recorded
    /// could not be read back.
    #[error("the run could not be recorded: {why}")]
    Spill { why: String },
    /// A stored value that does not read back as its type. Worded as
    /// [`StoreError::Corrupt`]; the row error is part of the message, not
    /// a `source`, so that a cause chain does not say it twice.
    #[error("database {path}: stored row is unreadable: {error}")]
    Row { path: PathBuf, error: RowError },
    #[error(
        "database {path}: a run names suppliers that are not in the stored registry ({}); run `supplywatch sync` first",
        .ids.join(", ")
    )]
    UnknownSuppliers { path: PathBuf, ids: Vec<String> },
    /// A bookkeeping step that the stored state does not allow (answering
    /// a questionnaire never sent …): refused, nothing changed.
    #[error("{why}")]
    InvalidStep { path: PathBuf, why: String },
    #[error("document {path}: {why}")]
    Document { path: PathBuf, why: String },
    #[error("audit export {path}: {why}")]
    Export { path: PathBuf, why: String },
    #[error(
        "database {path}: no audit row is chained yet; open it once with a command that writes (`supplywatch sync`) to chain them"
    )]
    Unchained { path: PathBuf },
    #[error(
        "database {path} was written by an older supplywatch (schema version {version}); this command only reads: run `supplywatch sync` once to migrate it"
    )]
    OlderSchema { path: PathBuf, version: i64 },
    /// Another process kept the migration lock for longer than an open
    /// waits.
    #[error(
        "database {path} is being created or migrated by another supplywatch, which holds {lock}; gave up after {} s",
        .waited.as_secs()
    )]
    Locked {
        path: PathBuf,
        lock: PathBuf,
        waited: Duration,
    },
    #[error(
        "database {path}: cannot lock {lock} (it must be creatable beside the database): {source}"
    )]
    Lock {
        path: PathBuf,
        lock: PathBuf,
        source: std::io::Error,
    },
    #[error("database {path}: cannot create the file: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Whether opening may create the database file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Create the file (not its folder) when missing.
    Create,
    /// Fail with [`StoreError::Missing`] when missing.
    Existing,
    /// For the commands that only read: the file must exist and hold the
    /// current schema (nothing is migrated), and every connection is
    /// `query_only`, so that SQLite itself refuses any write.
    ReadOnly,
}

/// A handle on the database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    path: PathBuf,
    /// Recorded in every audit row this handle appends.
    actor: Arc<Actor>,
}

impl Store {
    /// Opens (and migrates) the database at `path`: WAL mode, a busy
    /// timeout and foreign keys on. Checks first what can be checked without
    /// writing, so that a wrong path is reported, never truncated. Unless
    /// read-only, holds the migration lock ([`lock_path`]) while it looks,
    /// creates (mode 0600) and migrates, waiting up to 30 s for another
    /// process's.
    ///
    /// # Errors
    /// [`StoreError`] naming the path and the reason;
    /// [`StoreError::Locked`] when another process held the lock too long.
    pub async fn open(path: &Path, mode: OpenMode) -> Result<Self, StoreError> {
        Self::open_as(path, mode, Actor::default()).await
    }

    /// [`Store::open`], attributing the audit rows this handle appends —
    /// the one that chaining an older database's rows adds on opening
    /// included — to `actor`.
    ///
    /// # Errors
    /// As [`Store::open`].
    pub async fn open_as(path: &Path, mode: OpenMode, actor: Actor) -> Result<Self, StoreError> {
        preflight(path, mode)?;
        // Creating and migrating is one process's at a time (`lock.rs`):
        // one that waited finds the schema current. Held to the end of this
        // function; readers never take it.
        let _migrating = if mode == OpenMode::ReadOnly {
            None
        } else {
            Some(lock::acquire(path, lock::LOCK_WAIT).await?)
        };
        if mode == OpenMode::Create {
            create_private(path)?;
        }
        refuse_foreign(path).await?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(mode == OpenMode::Create)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let options = if mode == OpenMode::ReadOnly {
            // The journal mode is the file's (WAL, set by the writer that
            // created it); asking for it again would be a write.
            options.pragma("query_only", "ON")
        } else {
            options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
        };
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .after_release(|conn, _| Box::pin(async move { Ok(fit_for_reuse(conn).await) }))
            .connect_with(options)
            .await
            .map_err(|e| classify(path, e))?;
        let store = Self {
            pool,
            path: path.to_path_buf(),
            actor: Arc::new(actor),
        };
        if mode == OpenMode::ReadOnly {
            store.check_schema().await?;
        } else {
            narrow_companions(path);
            store.migrate().await?;
        }
        Ok(store)
    }

    /// For read-only opens: the schema must be the one this build writes.
    async fn check_schema(&self) -> Result<(), StoreError> {
        let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        let version: i64 = sqlx::query_scalar(
            "SELECT coalesce(max(version), 0) FROM _sqlx_migrations WHERE success",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        if version > latest {
            return Err(StoreError::NewerSchema {
                path: self.path.clone(),
                version,
            });
        }
        if version < latest {
            return Err(StoreError::OlderSchema {
                path: self.path.clone(),
                version,
            });
        }
        Ok(())
    }

    /// Opens an existing database for reading only ([`OpenMode::ReadOnly`]):
    /// no migration, nothing written, a read-only file accepted (what
    /// `audit verify` needs).
    ///
    /// # Errors
    /// [`StoreError`] naming the path and the reason;
    /// [`StoreError::OlderSchema`] or [`StoreError::NewerSchema`] when the
    /// schema differs.
    pub async fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        Self::open(path, OpenMode::ReadOnly).await
    }

    /// A private in-memory database (tests, one-shot runs).
    ///
    /// # Errors
    /// [`StoreError`] when SQLite cannot start or migrate.
    pub async fn open_in_memory() -> Result<Self, StoreError> {
        let path = PathBuf::from(":memory:");
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|e| classify(&path, e))?
            .foreign_keys(true);
        // Each connection to :memory: is its own database: keep exactly one.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| classify(&path, e))?;
        let store = Self {
            pool,
            path,
            actor: Arc::new(Actor::default()),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the migrations; then chains, once, the audit rows of a
    /// database written before the chain existed (`audit.rs`).
    async fn migrate(&self) -> Result<(), StoreError> {
        self.run_migrations().await?;
        // The moment the rows were chained is the moment of opening: no
        // caller's clock reaches this far.
        self.chain_unchained(crate::clock::Clock::now(&crate::clock::SystemClock))
            .await
    }

    async fn run_migrations(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::VersionMissing(version) => StoreError::NewerSchema {
                path: self.path.clone(),
                version,
            },
            sqlx::migrate::MigrateError::Execute(source) => classify(&self.path, source),
            source => StoreError::Migrate {
                path: self.path.clone(),
                source,
            },
        })
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn err(&self, source: sqlx::Error) -> StoreError {
        classify(&self.path, source)
    }
}

/// Whether a connection handed back to the pool may serve again. A
/// transaction SQLite ended on its own — a full disk makes it roll back at
/// the failing statement or at COMMIT — leaves the driver's count of open
/// transactions behind: the rollback queued when the transaction was
/// dropped fails ("no transaction is active"), and every later `BEGIN` on
/// that connection would be refused. Such a connection is closed instead,
/// and the pool opens a fresh one, so that the next job works once space is
/// back. When one looks open, a trivial statement first lets a queued
/// rollback finish.
async fn fit_for_reuse(conn: &mut sqlx::SqliteConnection) -> bool {
    use sqlx::Connection as _;
    if !conn.is_in_transaction() {
        return true;
    }
    // A rollback queued by a dropped transaction may still be on its way.
    if sqlx::query("SELECT 1").execute(&mut *conn).await.is_err() {
        return false;
    }
    !conn.is_in_transaction()
}

/// Creates the database file, when missing, readable by its owner only:
/// it holds the registry, findings and the audit log, and SQLite gives its
/// `-wal` and `-shm` files the same mode. An existing file keeps its mode.
fn create_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::Create {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Narrows the `-wal` and `-shm` files to the database file's own mode
/// when they allow more (left by an older version, or another tool). A
/// failure is logged, not fatal: the database itself is still usable.
fn narrow_companions(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let Ok(main) = std::fs::metadata(path) else {
        return;
    };
    let allowed = main.permissions().mode() & 0o777;
    for suffix in ["-wal", "-shm"] {
        let mut companion = path.as_os_str().to_owned();
        companion.push(suffix);
        let companion = PathBuf::from(companion);
        let Ok(meta) = std::fs::metadata(&companion) else {
            continue;
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & !allowed == 0 {
            continue;
        }
        let narrowed = std::fs::Permissions::from_mode(mode & allowed);
        if let Err(e) = std::fs::set_permissions(&companion, narrowed) {
            tracing::warn!(
                "{} allows more than the database file (mode {mode:o}, not {allowed:o}) and cannot be narrowed: {e}",
                companion.display()
            );
        }
    }
}

/// Refuses an SQLite database that holds tables but no migration history:
/// it belongs to another program. Looked at through a read-only connection,
/// before anything (even the journal mode) is changed.
async fn refuse_foreign(path: &Path) -> Result<(), StoreError> {
    if std::fs::metadata(path).map_or(true, |m| m.len() == 0) {
        return Ok(());
    }
    let options = SqliteConnectOptions::new().filename(path).read_only(true);
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&options)
        .await
        .map_err(|e| classify(path, e))?;
    let tables: Result<Vec<String>, _> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(&mut conn)
    .await;
    let _ = sqlx::Connection::close(conn).await;
    let tables = tables.map_err(|e| classify(path, e))?;
    if tables.is_empty() || tables.iter().any(|t| t == "_sqlx_migrations") {
        return Ok(());
    }
    Err(StoreError::Foreign {
        path: path.to_path_buf(),
        tables: tables.join(", "),
    })
}

/// Refuses, before SQLite touches anything, what would otherwise fail late
/// or (for a non-database file) risk being written to. A read-only file is
/// refused only when the caller means to `write`.
fn preflight(path: &Path, mode: OpenMode) -> Result<(), StoreError> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !folder.is_dir() {
        return Err(StoreError::MissingFolder {
            path: path.to_path_buf(),
            folder,
        });
    }
    let not_db = |why: &str| StoreError::NotADatabase {
        path: path.to_path_buf(),
        why: why.to_owned(),
    };
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if mode != OpenMode::Create {
                return Err(StoreError::Missing {
                    path: path.to_path_buf(),
                });
            }
            Ok(())
        }
        Err(e) => Err(not_db(&e.to_string())),
        Ok(meta) if meta.is_dir() => Err(not_db("it is a directory")),
        Ok(meta) => {
            if mode != OpenMode::ReadOnly && meta.permissions().readonly() {
                return Err(StoreError::ReadOnly {
                    path: path.to_path_buf(),
                });
            }
            if meta.len() == 0 {
                // SQLite treats an empty file as an empty database.
                return Ok(());
            }
            let mut header = [0_u8; 16];
            let read = std::fs::File::open(path).and_then(|mut f| {
                use std::io::Read;
                f.read_exact(&mut header)
            });
            match read {
                Ok(()) if &header == SQLITE_HEADER => Ok(()),
                Ok(()) => Err(not_db("its first bytes are not an SQLite header")),
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    Err(not_db("it is too short to be one"))
                }
                Err(e) => Err(not_db(&e.to_string())),
            }
        }
    }
}

/// Maps SQLite's result codes to errors a user can act on.
fn classify(path: &Path, source: sqlx::Error) -> StoreError {
    let code = source
        .as_database_error()
        .and_then(sqlx::error::DatabaseError::code)
        .and_then(|c| c.parse::<i32>().ok());
    // Extended result codes keep the primary code in the low byte.
    match code.map(|c| c & 0xff) {
        Some(8) => StoreError::ReadOnly {
            path: path.to_path_buf(),
        },
        Some(26) => StoreError::NotADatabase {
            path: path.to_path_buf(),
            why: "SQLite says the file is not a database".to_owned(),
        },
        _ => StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        },
    }
}

/// Timestamps are stored as RFC 3339 UTC text, which sorts by time.
fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Why a stored value does not read back as its type.
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    /// The value's table or query, before what is wrong in it.
    #[error("{table}: {error}")]
    In {
        table: &'static str,
        error: Box<RowError>,
    },
    #[error(transparent)]
    Get(#[from] sqlx::Error),
    /// A column that could not be read, named.
    #[error("{column}: {error}")]
    Column { column: String, error: sqlx::Error },
    /// A text column holding a value this version has no word for.
    #[error("{column}: {text:?} is not a value this version knows")]
    Unknown { column: String, text: String },
    #[error("timestamp {text:?}: {error}")]
    Timestamp {
        text: String,
        error: chrono::ParseError,
    },
    #[error(transparent)]
    Severity(#[from] crate::registry::UnknownSeverity),
    #[error(transparent)]
    State(#[from] crate::lifecycle::UnknownFindingState),
    #[error(transparent)]
    Outcome(#[from] crate::registry::UnknownReviewOutcome),
    /// A count that does not fit its type.
    #[error("{column}: {error}")]
    Count {
        column: String,
        error: std::num::TryFromIntError,
    },
    #[error("evidence: {0}")]
    Evidence(serde_json::Error),
}

impl RowError {
    /// This error, said to be in `table`.
    pub(super) fn within(self, table: &'static str) -> Self {
        Self::In {
            table,
            error: Box::new(self),
        }
    }
}

/// Reads back what [`timestamp`] wrote.
fn parse_timestamp(text: &str) -> Result<chrono::DateTime<chrono::Utc>, RowError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|error| RowError::Timestamp {
            text: text.to_owned(),
            error,
        })
}
