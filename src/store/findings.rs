//! Findings across runs: their lifecycle, accepted risks, and reading them
//! back.
//!
//! A finding is keyed (supplier, check id, target) and lives in one row that
//! is updated in place. The rules — open, refresh, resolve, reopen, flap
//! damping, acceptance — are plain functions over rows in memory
//! ([`reconcile`], [`accept_pass`]), so a run's outcome is decided before
//! anything is written; the writes then go out in a few batched statements
//! (`Store::write_rows`, through [`batch`]), which is what keeps a run of
//! 100,000 findings one short transaction. Depends on `checks` (ids, families, scopes) and `registry`
//! (acceptances); never on `probe`, `config` or the CLI.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::Row as _;
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

use super::audit::NewAudit;
use super::{Store, StoreError, parse_timestamp, timestamp};
use crate::checks::{Finding, Scope, Severity, family_of};
use crate::registry::Acceptance;

/// Where a finding is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingState {
    /// Fired, but a damped check that has not yet failed
    /// [`LifecyclePolicy::damping_runs`] runs in a row: stored, not open,
    /// not scored.
    Pending,
    /// Firing and counted in the score.
    Open,
    /// Firing, but covered by an accepted risk: visible, not scored.
    Accepted,
    /// A later complete probe no longer showed it.
    Resolved,
}

impl FindingState {
    /// The states' names, as `--state` takes them.
    pub const NAMES: [&'static str; 4] = ["open", "resolved", "accepted", "pending"];

    /// The name, as stored.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Open => "open",
            Self::Accepted => "accepted",
            Self::Resolved => "resolved",
        }
    }

    /// Open or accepted: firing as far as the store knows.
    #[must_use]
    pub fn is_live(self) -> bool {
        matches!(self, Self::Open | Self::Accepted)
    }
}

impl fmt::Display for FindingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FindingState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "pending" => Ok(Self::Pending),
            "open" => Ok(Self::Open),
            "accepted" => Ok(Self::Accepted),
            "resolved" => Ok(Self::Resolved),
            _ => Err(format!(
                "{s:?} is not a finding state; use one of {}",
                Self::NAMES.join(", ")
            )),
        }
    }
}

/// What identifies a finding across runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FindingKey {
    pub supplier: String,
    pub check: String,
    pub target: String,
}

/// How findings open: flap damping for the checks that fail transiently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecyclePolicy {
    /// A damped check opens (or reopens) only after firing in this many
    /// consecutive runs; until then it is [`FindingState::Pending`]. 0 and 1
    /// both mean "at once".
    pub damping_runs: u32,
    /// The damped check ids.
    pub damped: Vec<String>,
}

impl Default for LifecyclePolicy {
    /// Two runs, for the three "could not reach it" checks: one timeout is
    /// weather, two in a row is news.
    fn default() -> Self {
        Self {
            damping_runs: 2,
            damped: [
                "tls.unreachable",
                "http.unreachable",
                "dns.resolution_failed",
            ]
            .map(str::to_owned)
            .to_vec(),
        }
    }
}

impl LifecyclePolicy {
    /// Consecutive firing runs `check` needs to open.
    fn threshold(&self, check: &str) -> i64 {
        if self.damped.iter().any(|d| d == check) {
            i64::from(self.damping_runs.max(1))
        } else {
            1
        }
    }
}

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

/// One finding row as a run handles it: lifecycle columns always, summary
/// and evidence only when they are to be written (new or changed), so that
/// a run never reads 100,000 evidence blobs back to compare them.
#[derive(Debug, Clone)]
pub(super) struct Row {
    pub id: Option<i64>,
    pub supplier: String,
    pub check: String,
    pub target: String,
    pub state: FindingState,
    pub severity: Severity,
    pub content_hash: i64,
    pub summary: Option<String>,
    pub evidence: Option<String>,
    /// `opened_at` is set: it has been open (or accepted) at some point.
    pub ever_open: bool,
    /// As stored, and written back as it is here.
    pub resolved_at: Option<String>,
    pub reopen_count: i64,
    pub streak: i64,
    /// The time columns this run sets to its own time. The others are
    /// neither read nor written: a run of 100,000 findings need not carry
    /// 300,000 timestamps through memory to leave them as they are.
    pub now: Now,
    pub dirty: Dirty,
}

/// Which time columns of a row become the run's time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Now {
    /// `last_seen`: it fired.
    pub seen: bool,
    /// `opened_at`: it opened or reopened.
    pub opened: bool,
    /// `changed_at`: its state changed.
    pub changed: bool,
}

/// What a stored row needs written, least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Dirty {
    Clean,
    /// Fired again, nothing else: `last_seen` moves to the run and `streak`
    /// goes up by one — the common case, written without touching indexes.
    Seen,
    /// Anything else: the row is rewritten.
    Changed,
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

impl Row {
    fn key(&self) -> FindingKey {
        FindingKey {
            supplier: self.supplier.clone(),
            check: self.check.clone(),
            target: self.target.clone(),
        }
    }

    fn mark(&mut self, dirty: Dirty) {
        self.dirty = self.dirty.max(dirty);
    }

    /// Moves to `state`, noting the change.
    fn become_(&mut self, state: FindingState) {
        if self.state != state {
            self.state = state;
            self.now.changed = true;
        }
        self.mark(Dirty::Changed);
    }

    /// Opens (or reopens) it now.
    fn open(&mut self) {
        self.become_(FindingState::Open);
        self.ever_open = true;
        self.now.opened = true;
        self.resolved_at = None;
    }

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
        )
    }

    fn loaded(t: LoadTuple<'_>) -> Result<Self, String> {
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
            now: Now::default(),
            dirty: Dirty::Clean,
        })
    }
}

/// The time and rules one reconciliation works with.
pub(super) struct Lifecycle<'a> {
    /// The run's time, as stored.
    pub at: &'a str,
    /// The day acceptances are judged on (UTC).
    pub day: NaiveDate,
    pub policy: &'a LifecyclePolicy,
    pub acceptances: &'a [Acceptance],
}

/// A change of acceptance, for the audit log.
#[derive(Debug, Clone)]
pub(super) struct AuditEvent {
    pub supplier: String,
    pub check: String,
    pub action: &'static str,
    pub old: FindingState,
    pub new: FindingState,
    /// Further attributes: the finding's target, and the acceptance's
    /// reason, approver and last day where one is involved.
    pub detail: Option<serde_json::Value>,
}

/// What reconciling one run decided.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    pub opened: Vec<FindingKey>,
    pub reopened: Vec<FindingKey>,
    pub resolved: Vec<FindingKey>,
    pub accepted: Vec<FindingKey>,
    pub unaccepted: Vec<FindingKey>,
    /// Fired and held back by damping (new or still).
    pub pending: usize,
    /// Fired and already open or accepted.
    pub refreshed: usize,
    /// Distinct findings that fired.
    pub fired: usize,
    /// Pending rows that never opened and stopped firing: they never were
    /// findings, so they go.
    pub deleted: Vec<i64>,
    pub audit: Vec<AuditEvent>,
}

/// 64 bits of SHA-256 over what a refresh may change.
fn content_hash(severity: Severity, summary: &str, evidence: &str) -> i64 {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [severity.as_str(), summary, evidence] {
        ctx.update(part.as_bytes());
        ctx.update(&[0]);
    }
    let digest = ctx.finish();
    let mut first = [0_u8; 8];
    for (to, from) in first.iter_mut().zip(digest.as_ref()) {
        *to = *from;
    }
    i64::from_be_bytes(first)
}

/// Applies one run to `rows` (every stored finding of the suppliers in the
/// run), adding rows for new findings and removing pending ones that
/// cleared. See the module docs and README for the rules.
pub(super) fn reconcile(
    rows: &mut Vec<Row>,
    findings: &[(String, Finding)],
    scopes: &[Scope],
    lc: &Lifecycle<'_>,
) -> Outcome {
    let mut out = Outcome::default();
    // Matched on borrowed keys first, mutated after: no key is allocated
    // just to look a finding up (100,000 of them in a large run).
    let matches: Vec<(&String, &Finding, Option<usize>)> = {
        let stored: HashMap<(&str, &str, &str), usize> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                (
                    (r.supplier.as_str(), r.check.as_str(), r.target.as_str()),
                    i,
                )
            })
            .collect();
        let mut seen = HashSet::with_capacity(findings.len());
        findings
            .iter()
            // The same finding twice in one run: the first one counts.
            .filter(|(s, f)| seen.insert((s.as_str(), f.check, f.target.as_str())))
            .map(|(s, f)| {
                let row = stored
                    .get(&(s.as_str(), f.check, f.target.as_str()))
                    .copied();
                (s, f, row)
            })
            .collect()
    };
    out.fired = matches.len();
    let mut fired = vec![false; rows.len()];
    for (supplier, finding, row) in matches {
        let threshold = lc.policy.threshold(finding.check);
        match row {
            Some(i) => {
                if let (Some(row), Some(flag)) = (rows.get_mut(i), fired.get_mut(i)) {
                    *flag = true;
                    fire_again(row, finding, threshold, &mut out);
                }
            }
            None => rows.push(fire_first(supplier, finding, threshold, &mut out)),
        }
    }
    clear_unfired(rows, &fired, scopes, lc.at, &mut out);
    accept_pass(rows, lc, &mut out);
    out
}

/// A finding never stored before: open, or pending if damped.
fn fire_first(supplier: &str, finding: &Finding, threshold: i64, out: &mut Outcome) -> Row {
    let evidence = finding.evidence.to_string();
    let opens = threshold <= 1;
    let row = Row {
        id: None,
        supplier: supplier.to_owned(),
        check: finding.check.to_owned(),
        target: finding.target.clone(),
        state: if opens {
            FindingState::Open
        } else {
            FindingState::Pending
        },
        severity: finding.severity,
        content_hash: content_hash(finding.severity, &finding.summary, &evidence),
        summary: Some(finding.summary.clone()),
        evidence: Some(evidence),
        ever_open: opens,
        resolved_at: None,
        reopen_count: 0,
        streak: 1,
        now: Now {
            seen: true,
            opened: opens,
            changed: true,
        },
        dirty: Dirty::Changed,
    };
    if opens {
        out.opened.push(row.key());
    } else {
        out.pending += 1;
    }
    row
}

/// A stored finding that fired again: refreshed, and opened, reopened or
/// kept pending as its state and streak say.
fn fire_again(row: &mut Row, finding: &Finding, threshold: i64, out: &mut Outcome) {
    row.mark(Dirty::Seen);
    row.now.seen = true;
    row.streak += 1;
    let evidence = finding.evidence.to_string();
    let hash = content_hash(finding.severity, &finding.summary, &evidence);
    if row.content_hash != hash {
        row.mark(Dirty::Changed);
        row.severity = finding.severity;
        row.content_hash = hash;
        row.summary = Some(finding.summary.clone());
        row.evidence = Some(evidence);
    }
    match row.state {
        FindingState::Open | FindingState::Accepted => out.refreshed += 1,
        FindingState::Resolved | FindingState::Pending => {
            if row.streak < threshold {
                row.become_(FindingState::Pending);
                out.pending += 1;
            } else if row.ever_open {
                // It was open before: this is a comeback.
                row.open();
                row.reopen_count += 1;
                out.reopened.push(row.key());
            } else {
                row.open();
                out.opened.push(row.key());
            }
        }
    }
}

/// What did not fire is resolved only where this run's scope for its
/// family on its target was complete: unknown is not healthy, and what the
/// run did not cover is left alone.
fn clear_unfired(
    rows: &mut Vec<Row>,
    fired: &[bool],
    scopes: &[Scope],
    at: &str,
    out: &mut Outcome,
) {
    let mut complete: HashMap<(&str, &str, &str), bool> = HashMap::new();
    for s in scopes {
        complete
            .entry((s.supplier.as_str(), s.target.as_str(), s.family))
            .and_modify(|c| *c &= s.complete)
            .or_insert(s.complete);
    }
    for (i, row) in rows.iter_mut().enumerate() {
        // Rows past `fired` are this run's new ones: they fired.
        if fired.get(i).is_none_or(|f| *f) {
            continue;
        }
        let scope = (
            row.supplier.as_str(),
            row.target.as_str(),
            family_of(&row.check),
        );
        let any = (scope.0, Scope::ANY_TARGET, scope.2);
        if complete.get(&scope) != Some(&true) && complete.get(&any) != Some(&true) {
            continue;
        }
        if row.streak != 0 {
            row.streak = 0;
            row.mark(Dirty::Changed);
        }
        match row.state {
            FindingState::Open | FindingState::Accepted => {
                out.resolved.push(row.key());
                row.become_(FindingState::Resolved);
                row.resolved_at = Some(at.to_owned());
            }
            FindingState::Pending => match row.id {
                // Pending after having been resolved: back to resolved,
                // its resolution date unchanged.
                Some(_) if row.ever_open => row.become_(FindingState::Resolved),
                // Never open: it never was a finding, so it goes.
                Some(id) => out.deleted.push(id),
                None => {}
            },
            FindingState::Resolved => {}
        }
    }
    if !out.deleted.is_empty() {
        let deleted: HashSet<i64> = out.deleted.iter().copied().collect();
        rows.retain(|r| r.id.is_none_or(|id| !deleted.contains(&id)));
    }
}

/// Moves live findings between open and accepted as `lc.acceptances` say
/// on `lc.day`, recording each move for the audit log.
pub(super) fn accept_pass(rows: &mut [Row], lc: &Lifecycle<'_>, out: &mut Outcome) {
    for row in rows.iter_mut().filter(|r| r.state.is_live()) {
        let covering = lc
            .acceptances
            .iter()
            .find(|a| a.covers(&row.supplier, &row.check, &row.target, lc.day));
        let (action, new, acceptance) = match (row.state, covering) {
            (FindingState::Open, Some(a)) => {
                out.accepted.push(row.key());
                ("accept", FindingState::Accepted, Some(a))
            }
            (FindingState::Accepted, None) => {
                // An entry that matches but for its date has expired; none
                // at all means it was taken out of the config.
                let listed = lc
                    .acceptances
                    .iter()
                    .find(|a| a.covers(&row.supplier, &row.check, &row.target, NaiveDate::MIN));
                out.unaccepted.push(row.key());
                match listed {
                    Some(a) => ("acceptance_expired", FindingState::Open, Some(a)),
                    None => ("unaccept", FindingState::Open, None),
                }
            }
            _ => continue,
        };
        let mut detail = serde_json::Map::new();
        detail.insert("target".to_owned(), row.target.clone().into());
        if let Some(a) = acceptance {
            detail.insert("reason".to_owned(), a.reason.clone().into());
            detail.insert("approved_by".to_owned(), a.approved_by.to_string().into());
            detail.insert("until".to_owned(), a.until.to_string().into());
        }
        out.audit.push(AuditEvent {
            supplier: row.supplier.clone(),
            check: row.check.clone(),
            action,
            old: row.state,
            new,
            detail: Some(serde_json::Value::Object(detail)),
        });
        row.become_(new);
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
     reopen_count = j.value ->> 10, streak = j.value ->> 11 \
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
            .map(|t| Row::loaded(t).map_err(corrupt))
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

    /// Applies `acceptances` as of `now` without a run (for `findings` and
    /// `status`, so that an expiry shows the day it happens): accepted
    /// findings whose acceptance expired or left the list return to open,
    /// open ones now covered become accepted. Each change gets an audit row
    /// (`accept`, `acceptance_expired` or `unaccept`; field = check id,
    /// old/new = state) in the same transaction. Acceptances are judged on
    /// `now`'s UTC day.
    ///
    /// # Errors
    /// [`StoreError`]; on error nothing is changed.
    pub async fn apply_acceptances(
        &self,
        now: DateTime<Utc>,
        acceptances: &[Acceptance],
        source: &str,
    ) -> Result<Vec<FindingKey>, StoreError> {
        let at = timestamp(now);
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.err(e))?;
        let mut rows = self.load_live_rows_except(&mut tx, "[]").await?;
        // Not consulted: nothing fires here, only acceptances move.
        let policy = LifecyclePolicy::default();
        let lc = Lifecycle {
            at: &at,
            day: now.date_naive(),
            policy: &policy,
            acceptances,
        };
        let mut out = Outcome::default();
        accept_pass(&mut rows, &lc, &mut out);
        if out.audit.is_empty() {
            // Nothing changed: end the write transaction without writing.
            tx.rollback().await.map_err(|e| self.err(e))?;
            return Ok(Vec::new());
        }
        self.write_rows(&mut tx, &rows, &at, &[]).await?;
        self.write_audit(&mut tx, &at, source, &out.audit).await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        let mut changed = out.accepted;
        changed.extend(out.unaccepted);
        changed.sort();
        Ok(changed)
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
             last_seen, opened_at, resolved_at, changed_at, reopen_count, streak FROM findings \
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
            .map(|r| {
                stored_finding(r).map_err(|why| StoreError::Corrupt {
                    path: self.path.clone(),
                    why: format!("findings: {why}"),
                })
            })
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

fn stored_finding(row: &SqliteRow) -> Result<StoredFinding, String> {
    let text = |col: &str| row.try_get::<String, _>(col).map_err(|e| e.to_string());
    let time = |col: &str| text(col).and_then(|t| parse_timestamp(&t));
    let maybe_time = |col: &str| {
        row.try_get::<Option<String>, _>(col)
            .map_err(|e| e.to_string())?
            .map(|t| parse_timestamp(&t))
            .transpose()
    };
    let count = |col: &str| {
        let n: i64 = row.try_get(col).map_err(|e| e.to_string())?;
        u32::try_from(n).map_err(|e| format!("{col}: {e}"))
    };
    let evidence = text("evidence")?;
    Ok(StoredFinding {
        supplier: text("supplier_id")?,
        check: text("check_id")?,
        target: text("target")?,
        state: text("state")?.parse()?,
        severity: text("severity")?.parse()?,
        summary: text("summary")?,
        evidence: serde_json::from_str(&evidence).map_err(|e| format!("evidence: {e}"))?,
        first_seen: time("first_seen")?,
        last_seen: time("last_seen")?,
        opened_at: maybe_time("opened_at")?,
        resolved_at: maybe_time("resolved_at")?,
        changed_at: time("changed_at")?,
        reopen_count: count("reopen_count")?,
        streak: count("streak")?,
    })
}
