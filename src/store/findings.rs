//! Findings across runs: loading the rows the lifecycle works on, writing
//! back what it decided, and reading findings for the views.
//!
//! A finding is keyed (supplier, check id, target) and lives in one row that
//! is updated in place. The rules are in [`crate::lifecycle`], pure, so a
//! run's outcome is decided before anything is written; the writes then go
//! out in a few batched statements (`Store::write_rows`, through [`batch`]),
//! which is what keeps a run of 100,000 findings one short transaction.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::Row as _;
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

use super::audit::NewAudit;
use super::{RowError, Store, StoreError, parse_timestamp, timestamp};
use crate::checks::Severity;
use crate::lifecycle::{
    AuditEvent, Dirty, FindingKey, FindingState, Lifecycle, LifecyclePolicy, Now, Outcome,
    Resolution, Row, accept_pass, retire,
};
use crate::registry::Acceptance;

/// A finding as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredFinding {
    pub supplier: String,
    pub check: String,
    pub target: String,
    pub state: FindingState,
    /// As of the last run that saw it fire (config overrides applied).
    pub severity: Severity,
    pub summary: String,
    pub evidence: serde_json::Value,
    /// The first run that saw it fire (pending included).
    pub first_seen: DateTime<Utc>,
    /// The last run that saw it fire.
    pub last_seen: DateTime<Utc>,
    /// Start of the current (or last) open period; `None` if never open.
    pub opened_at: Option<DateTime<Utc>>,
    /// When it resolved, while resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// The last change of state.
    pub changed_at: DateTime<Utc>,
    /// How often it came back after being resolved.
    pub reopen_count: u32,
    /// When it last resolved, kept while it is open again.
    pub last_resolved_at: Option<DateTime<Utc>>,
    /// Why it last resolved when not simply no longer seen ("target
    /// removed from the registry", "supplier exited").
    pub resolution: Option<String>,
    /// Consecutive runs that saw it fire.
    pub streak: u32,
}

impl StoredFinding {
    /// What identifies it across runs.
    #[must_use]
    pub fn key(&self) -> FindingKey {
        FindingKey {
            supplier: self.supplier.clone(),
            check: self.check.clone(),
            target: self.target.clone(),
        }
    }
}

/// Which findings to read; every field narrows, `None` does not.
#[derive(Debug, Clone, Default)]
pub struct FindingFilter {
    pub supplier: Option<String>,
    /// This severity or worse.
    pub min_severity: Option<Severity>,
    /// `None`: every state, pending included.
    pub state: Option<FindingState>,
    /// Seen firing, or changed state, on or after this day (UTC).
    pub since: Option<NaiveDate>,
}

/// A new row, in `INSERT_ROWS` order (its times are all the run's).
type InsertTuple<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'static str,
    &'static str,
    Option<&'a str>,
    Option<&'a str>,
    i64,
    bool,
    i64,
    i64,
);

/// A changed row, in `UPDATE_ROWS` order (`id` first).
type UpdateTuple<'a> = (
    Option<i64>,
    &'static str,
    &'static str,
    i64,
    Option<&'a str>,
    Option<&'a str>,
    bool,
    bool,
    Option<&'a str>,
    bool,
    i64,
    i64,
    bool,
    Option<&'static str>,
);

/// A row as `LOAD_*` read it (one `json_array(...)` of the result).
type LoadTuple<'a> = (
    i64,
    String,
    String,
    String,
    &'a str,
    &'a str,
    i64,
    bool,
    Option<String>,
    i64,
    i64,
);

/// The SQL side of a lifecycle row: its tuples for the batched statements.
impl Row {
    fn insert_tuple(&self) -> InsertTuple<'_> {
        (
            &self.supplier,
            &self.check,
            &self.target,
            self.state.as_str(),
            self.severity.as_str(),
            self.summary.as_deref(),
            self.evidence.as_deref(),
            self.content_hash,
            self.now.opened,
            self.reopen_count,
            self.streak,
        )
    }

    fn update_tuple(&self) -> UpdateTuple<'_> {
        (
            self.id,
            self.state.as_str(),
            self.severity.as_str(),
            self.content_hash,
            self.summary.as_deref(),
            self.evidence.as_deref(),
            self.now.seen,
            self.now.opened,
            self.resolved_at.as_deref(),
            self.now.changed,
            self.reopen_count,
            self.streak,
            self.resolution.is_some(),
            self.resolution.flatten(),
        )
    }

    fn loaded(t: LoadTuple<'_>) -> Result<Self, RowError> {
        let (id, supplier, check, target, state, severity, content_hash) =
            (t.0, t.1, t.2, t.3, t.4, t.5, t.6);
        Ok(Self {
            id: Some(id),
            supplier,
            check,
            target,
            state: state.parse()?,
            severity: severity.parse()?,
            content_hash,
            summary: None,
            evidence: None,
            ever_open: t.7,
            resolved_at: t.8,
            reopen_count: t.9,
            streak: t.10,
            resolution: None,
            now: Now::default(),
            dirty: Dirty::Clean,
        })
    }
}

/// Rows per statement in batched writes: large enough that statement
/// overhead vanishes, small enough that one JSON parameter stays a few MB.
const BATCH: usize = 5_000;

/// Runs `sql` once per chunk of `rows`, the chunk bound as `?1` — a JSON
/// array the statement reads with `jsonb_each` — and `at`, if given, as
/// `?2`. One statement per few thousand rows instead of one round trip per
/// row, with the SQL still static text. Rows are JSON arrays rather than
/// objects: positional access is the cheaper lookup, and the text shorter.
pub(super) async fn batch<T: Serialize>(
    conn: &mut SqliteConnection,
    sql: &'static str,
    rows: &[T],
    at: Option<&str>,
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(BATCH) {
        let query = sqlx::query(sql).bind(json_list(chunk)?);
        let query = match at {
            Some(at) => query.bind(at),
            None => query,
        };
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The JSON array of `items`, for `json_each`.
pub(super) fn json_list<T: Serialize>(items: &[T]) -> Result<String, sqlx::Error> {
    serde_json::to_string(items).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// Runs a query whose one result is a JSON array (`json_group_array`): one
/// value through the driver instead of one row per finding, which is what
/// makes loading 100,000 rows cheap. `[]` when nothing matched.
pub(super) async fn fetch_json(
    conn: &mut SqliteConnection,
    sql: &'static str,
    param: &str,
) -> Result<String, sqlx::Error> {
    let text: Option<String> = sqlx::query_scalar(sql)
        .bind(param)
        .fetch_one(&mut *conn)
        .await?;
    Ok(text.unwrap_or_else(|| "[]".to_owned()))
}

const LOAD_OF_SUPPLIERS: &str = "SELECT json_group_array(json_array(id, supplier_id, check_id, \
     target, state, severity, content_hash, json(iif(opened_at IS NULL, 'false', 'true')), \
     resolved_at, reopen_count, streak)) \
     FROM findings WHERE supplier_id IN (SELECT value FROM json_each(?1))";

// Every finding not resolved (`?1` unused, for `rows_of`).
const LOAD_UNRESOLVED: &str = "SELECT json_group_array(json_array(id, supplier_id, check_id, \
     target, state, severity, content_hash, json(iif(opened_at IS NULL, 'false', 'true')), \
     resolved_at, reopen_count, streak)) \
     FROM findings WHERE state != 'resolved' AND ?1 IS NOT NULL";

const LOAD_LIVE_EXCEPT: &str = "SELECT json_group_array(json_array(id, supplier_id, check_id, \
     target, state, severity, content_hash, json(iif(opened_at IS NULL, 'false', 'true')), \
     resolved_at, reopen_count, streak)) \
     FROM findings WHERE state IN ('open', 'accepted') \
     AND supplier_id NOT IN (SELECT value FROM json_each(?1))";

// A new row's times are all the run's (`?2`); `opened_at` unless pending.
const INSERT_ROWS: &str = "INSERT INTO findings (supplier_id, check_id, target, state, severity, \
     summary, evidence, content_hash, first_seen, last_seen, opened_at, changed_at, \
     reopen_count, streak) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
     value ->> 6, value ->> 7, ?2, ?2, iif(value ->> 8, ?2, NULL), ?2, value ->> 9, \
     value ->> 10 FROM jsonb_each(?1)";

// Summary and evidence are null in the batch unless they changed; a time
// column becomes the run's time (`?2`) where its flag says so.
const UPDATE_ROWS: &str = "UPDATE findings SET state = j.value ->> 1, severity = j.value ->> 2, \
     content_hash = j.value ->> 3, summary = coalesce(j.value ->> 4, findings.summary), \
     evidence = coalesce(j.value ->> 5, findings.evidence), \
     last_seen = iif(j.value ->> 6, ?2, findings.last_seen), \
     opened_at = iif(j.value ->> 7, ?2, findings.opened_at), resolved_at = j.value ->> 8, \
     changed_at = iif(j.value ->> 9, ?2, findings.changed_at), \
     reopen_count = j.value ->> 10, streak = j.value ->> 11, \
     resolution = iif(j.value ->> 12, j.value ->> 13, findings.resolution), \
     last_resolved_at = coalesce(j.value ->> 8, findings.last_resolved_at) \
     FROM jsonb_each(?1) AS j WHERE findings.id = j.value ->> 0";

// Within the run's BEGIN IMMEDIATE transaction the stored streak is the one
// loaded, so `streak + 1` is what reconcile computed.
const TOUCH_ROWS: &str = "UPDATE findings SET last_seen = ?2, streak = streak + 1 \
     WHERE id IN (SELECT value FROM jsonb_each(?1))";

const DELETE_ROWS: &str = "DELETE FROM findings WHERE id IN (SELECT value FROM jsonb_each(?1))";

impl Store {
    /// Every stored finding of the suppliers in `suppliers` (a JSON array).
    pub(super) async fn load_rows(
        &self,
        conn: &mut SqliteConnection,
        suppliers: &str,
    ) -> Result<Vec<Row>, StoreError> {
        self.rows_of(conn, LOAD_OF_SUPPLIERS, suppliers).await
    }

    /// The open and accepted findings of every supplier not in `suppliers`.
    pub(super) async fn load_live_rows_except(
        &self,
        conn: &mut SqliteConnection,
        suppliers: &str,
    ) -> Result<Vec<Row>, StoreError> {
        self.rows_of(conn, LOAD_LIVE_EXCEPT, suppliers).await
    }

    async fn rows_of(
        &self,
        conn: &mut SqliteConnection,
        sql: &'static str,
        suppliers: &str,
    ) -> Result<Vec<Row>, StoreError> {
        let corrupt = |why: String| StoreError::Corrupt {
            path: self.path.clone(),
            why: format!("findings: {why}"),
        };
        let text = fetch_json(conn, sql, suppliers)
            .await
            .map_err(|e| self.err(e))?;
        let loaded: Vec<LoadTuple<'_>> =
            serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        loaded
            .into_iter()
            .map(|t| Row::loaded(t).map_err(|why| self.unreadable(why.within("findings"))))
            .collect()
    }

    /// Writes what [`reconcile`] or [`accept_pass`] changed.
    pub(super) async fn write_rows(
        &self,
        conn: &mut SqliteConnection,
        rows: &[Row],
        at: &str,
        deleted: &[i64],
    ) -> Result<(), StoreError> {
        let mut new = Vec::new();
        let mut changed = Vec::new();
        let mut seen = Vec::new();
        for row in rows {
            match (row.id, row.dirty) {
                (_, Dirty::Clean) => {}
                (None, _) => new.push(row.insert_tuple()),
                (Some(_), Dirty::Changed) => changed.push(row.update_tuple()),
                (Some(id), Dirty::Seen) => seen.push(id),
            }
        }
        let result = async {
            batch(conn, INSERT_ROWS, &new, Some(at)).await?;
            batch(conn, UPDATE_ROWS, &changed, Some(at)).await?;
            batch(conn, TOUCH_ROWS, &seen, Some(at)).await?;
            batch(conn, DELETE_ROWS, deleted, None).await
        };
        result.await.map_err(|e| self.err(e))
    }

    /// Appends the acceptance changes to the audit log: field = check id,
    /// old/new = the finding's state, detail as the event has it.
    pub(super) async fn write_audit(
        &self,
        conn: &mut SqliteConnection,
        at: &str,
        source: &str,
        events: &[AuditEvent],
    ) -> Result<(), StoreError> {
        let rows: Vec<NewAudit<'_>> = events
            .iter()
            .map(|e| NewAudit {
                supplier: Some(&e.supplier),
                action: e.action,
                field: Some(&e.check),
                old: Some(e.old.as_str()),
                new: Some(e.new.as_str()),
                detail: e.detail.clone(),
            })
            .collect();
        self.append_audit(conn, at, source, &rows).await
    }

    /// Moves the findings of the registry's suppliers as a sync says, in
    /// the sync's transaction: those on targets the registry dropped (or of
    /// suppliers that exited) resolve with the reason, and — when
    /// `acceptances` are given — live findings move between open and
    /// accepted as they say on `now`'s UTC day. Each change gets an audit
    /// row.
    pub(super) async fn settle_in(
        &self,
        conn: &mut SqliteConnection,
        now: DateTime<Utc>,
        source: &str,
        retired: &(dyn Fn(&Row) -> Option<Resolution> + Sync),
        acceptances: Option<&[Acceptance]>,
    ) -> Result<Outcome, StoreError> {
        let at = timestamp(now);
        let mut rows = self.rows_of(conn, LOAD_UNRESOLVED, "[]").await?;
        let mut out = Outcome::default();
        retire(&mut rows, retired, &at, &mut out);
        if let Some(acceptances) = acceptances {
            // Not consulted: nothing fires here, only acceptances move.
            let policy = LifecyclePolicy::default();
            let lc = Lifecycle {
                at: &at,
                day: now.date_naive(),
                policy: &policy,
                acceptances,
            };
            accept_pass(&mut rows, &lc, &mut out);
        }
        // A pending row retired back to resolved changes without an audit
        // row: what is written is what changed, whatever the log says.
        if out.deleted.is_empty() && rows.iter().all(|r| r.dirty == Dirty::Clean) {
            return Ok(out);
        }
        self.write_rows(conn, &rows, &at, &out.deleted).await?;
        self.write_audit(conn, &at, source, &out.audit).await?;
        Ok(out)
    }

    /// The findings matching `filter`, worst first, then by supplier, check
    /// and target.
    ///
    /// # Errors
    /// [`StoreError`] on database failure or an unreadable row.
    pub async fn findings(&self, filter: &FindingFilter) -> Result<Vec<StoredFinding>, StoreError> {
        let since = filter.since.map(|d| format!("{d}T00:00:00Z"));
        let rows = sqlx::query(
            "SELECT supplier_id, check_id, target, state, severity, summary, evidence, first_seen, \
             last_seen, opened_at, resolved_at, changed_at, reopen_count, streak, last_resolved_at, \
             resolution FROM findings \
             WHERE (?1 IS NULL OR supplier_id = ?1) AND (?2 IS NULL OR state = ?2) \
             AND (?3 IS NULL OR (CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 \
                 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END) >= ?3) \
             AND (?4 IS NULL OR last_seen >= ?4 OR changed_at >= ?4)",
        )
        .bind(filter.supplier.as_deref())
        .bind(filter.state.map(FindingState::as_str))
        .bind(filter.min_severity.map(severity_rank))
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let mut found = rows
            .iter()
            .map(|r| stored_finding(r).map_err(|why| self.unreadable(why.within("findings"))))
            .collect::<Result<Vec<_>, _>>()?;
        found.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.supplier.cmp(&b.supplier))
                .then_with(|| a.check.cmp(&b.check))
                .then_with(|| a.target.cmp(&b.target))
        });
        Ok(found)
    }
}

/// The order the `findings` query compares severities in.
fn severity_rank(severity: Severity) -> i64 {
    match severity {
        Severity::Critical => 4,
        Severity::High => 3,
        Severity::Medium => 2,
        Severity::Low => 1,
        Severity::Info => 0,
    }
}

fn stored_finding(row: &SqliteRow) -> Result<StoredFinding, RowError> {
    let text = |col: &str| row.try_get::<String, _>(col).map_err(RowError::from);
    let time = |col: &str| text(col).and_then(|t| parse_timestamp(&t));
    let maybe_time = |col: &str| {
        row.try_get::<Option<String>, _>(col)?
            .map(|t| parse_timestamp(&t))
            .transpose()
    };
    let count = |col: &str| {
        let n: i64 = row.try_get(col)?;
        u32::try_from(n).map_err(|error| RowError::Count {
            column: col.to_owned(),
            error,
        })
    };
    let evidence = text("evidence")?;
    Ok(StoredFinding {
        supplier: text("supplier_id")?,
        check: text("check_id")?,
        target: text("target")?,
        state: text("state")?.parse()?,
        severity: text("severity")?.parse()?,
        summary: text("summary")?,
        evidence: serde_json::from_str(&evidence).map_err(RowError::Evidence)?,
        first_seen: time("first_seen")?,
        last_seen: time("last_seen")?,
        opened_at: maybe_time("opened_at")?,
        resolved_at: maybe_time("resolved_at")?,
        changed_at: time("changed_at")?,
        reopen_count: count("reopen_count")?,
        last_resolved_at: maybe_time("last_resolved_at")?,
        resolution: row.try_get::<Option<String>, _>("resolution")?,
        streak: count("streak")?,
    })
}
