//! The durable outbox and the notices behind it.
//!
//! A [`Notifier`] looks at what is open, what just resolved, what was told
//! to whom before (the notices), and plans messages; the plan is written —
//! outbox rows and notices — in the same transaction as the finding changes
//! that caused it (see [`Store::record_run_with`]). The delivery loop then
//! reads due rows, sends them, and marks them sent, retried or given up.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::Row as _;
use sqlx::SqliteConnection;

use super::findings::{batch, fetch_json, json_list};
use super::{FindingState, RowError, Store, StoreError, parse_timestamp, timestamp};
use crate::checks::Severity;
use crate::registry::Questionnaire;

/// A message someone was sent about something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// `alert`, `escalation`, `repeat`, `resolved`, `reminder`, `blind`, `sighted`.
    pub kind: String,
    pub at: DateTime<Utc>,
    pub message_id: String,
    pub recipients: Vec<String>,
    pub detail: Option<String>,
}

/// A finding as the notifier sees it, with what was said about it.
#[derive(Debug, Clone, Serialize)]
pub struct AlertFinding {
    pub id: i64,
    pub supplier: String,
    pub check: String,
    pub target: String,
    pub state: FindingState,
    pub severity: Severity,
    pub summary: String,
    pub first_seen: DateTime<Utc>,
    pub opened_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub reopen_count: u32,
    /// Its last change of state (for an open finding: when it opened, or
    /// came back from accepted).
    pub changed_at: DateTime<Utc>,
    /// When it last resolved, kept while it is open again.
    pub last_resolved_at: Option<DateTime<Utc>>,
    /// Why it resolved when not simply no longer seen ("target removed from
    /// the registry", "supplier exited").
    pub resolution: Option<String>,
    /// The stored acceptance that names it, whatever its end date: why it
    /// is accepted, or the acceptance that ended.
    pub acceptance: Option<AcceptanceNote>,
    /// Oldest first.
    pub notices: Vec<Notice>,
}

/// An accepted risk as the messages tell it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct AcceptanceNote {
    pub until: chrono::NaiveDate,
    pub reason: String,
    pub approved_by: String,
}

/// What a notifier plans from.
#[derive(Debug, Clone, Default)]
pub struct AlertSnapshot {
    /// Now.
    pub at: DateTime<Utc>,
    /// Open findings at or above the notifier's minimum severity, findings
    /// resolved or accepted that were told of (with their notices).
    pub findings: Vec<AlertFinding>,
    /// Questionnaires in progress, with their reminders so far.
    pub questionnaires: Vec<(Questionnaire, Vec<Notice>)>,
    /// Notices about the monitor itself (blind / sighted), oldest first.
    pub monitor: Vec<Notice>,
}

/// A notice to record with a planned message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotice {
    pub finding_id: Option<i64>,
    /// `finding:<id>`, `questionnaire:<id>` or `monitor`.
    pub subject: String,
    pub kind: String,
    pub detail: Option<String>,
}

/// One message to queue, to one or more recipients (a row each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Unique for this message: queueing it again is a no-op.
    pub key: String,
    pub kind: String,
    pub supplier: Option<String>,
    pub recipients: Vec<String>,
    /// One line (already free of CR/LF).
    pub subject: String,
    /// `<…@…>`.
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub text: String,
    pub html: Option<String>,
    /// What to remember having said.
    pub notices: Vec<NewNotice>,
}

/// Decides what to send, from a snapshot. Pure: no I/O.
pub trait Notifier: Send + Sync {
    /// Open findings below this severity are not loaded into the snapshot.
    fn min_severity(&self) -> Severity;
    fn plan(&self, snapshot: &AlertSnapshot) -> Vec<Outgoing>;
}

/// A queued (or sent, or failed) message for one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub key: String,
    pub kind: String,
    pub supplier: Option<String>,
    pub recipient: String,
    pub subject: String,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub text: String,
    pub html: Option<String>,
    pub created_at: DateTime<Utc>,
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// The outbox at a glance, for `status` and the digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OutboxStats {
    /// Messages waiting to be sent.
    pub queued: u64,
    /// When the oldest of them was queued.
    pub oldest_queued: Option<DateTime<Utc>>,
    pub sent: u64,
    /// Messages given up.
    pub failed: u64,
}

/// The daemon's record of one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobRun {
    pub job: String,
    pub last_started: Option<DateTime<Utc>>,
    pub last_finished: Option<DateTime<Utc>>,
    pub last_outcome: Option<String>,
    pub next_at: Option<DateTime<Utc>>,
}

const LOAD_ALERT_FINDINGS: &str = "SELECT json_group_array(json_array(id, supplier_id, check_id, \
     target, state, severity, summary, first_seen, opened_at, resolved_at, reopen_count, \
     changed_at, last_resolved_at, resolution, \
     json((SELECT json_object('until', a.until, 'reason', a.reason, 'approved_by', a.approved_by) \
           FROM acceptances a WHERE a.supplier_id = findings.supplier_id \
           AND a.check_id = findings.check_id AND a.target IN (findings.target, '') \
           ORDER BY a.target DESC LIMIT 1)))) \
     FROM findings WHERE (state = 'open' AND severity IN (SELECT value FROM json_each(?1))) \
     OR ((state != 'resolved' OR resolved_at >= ?2) \
         AND id IN (SELECT finding_id FROM notices WHERE finding_id IS NOT NULL))";

const LOAD_NOTICES: &str = "SELECT finding_id, subject, kind, at, message_id, recipients, detail \
     FROM notices WHERE finding_id IN (SELECT value FROM json_each(?1)) \
     OR subject = 'monitor' OR (subject >= 'questionnaire:' AND subject < 'questionnaire;') \
     ORDER BY id";

// `WHERE true` keeps SQLite from reading ON CONFLICT as part of a join.
const INSERT_OUTBOX: &str = "INSERT INTO outbox (key, kind, supplier_id, recipient, subject, \
     message_id, in_reply_to, refs, body_text, body_html, created_at, state, next_attempt_at) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
     value ->> 6, value ->> 7, value ->> 8, value ->> 9, ?2, 'queued', ?2 \
     FROM jsonb_each(?1) WHERE true ON CONFLICT (key) DO NOTHING";

/// A supplier's notices: those about its findings and its questionnaires.
const SUPPLIER_NOTICES: &str = "SELECT f.check_id, f.target, n.kind, n.at, n.message_id, \
     n.recipients FROM notices n JOIN findings f ON f.id = n.finding_id \
     WHERE f.supplier_id = ?1 \
     UNION ALL \
     SELECT 'questionnaire', q.template, n.kind, n.at, n.message_id, n.recipients \
     FROM notices n JOIN questionnaires q ON n.subject = 'questionnaire:' || q.id \
     WHERE q.supplier_id = ?1 \
     ORDER BY 4, 3";

const INSERT_NOTICES: &str = "INSERT INTO notices (finding_id, subject, kind, at, message_id, \
     recipients, detail) \
     SELECT value ->> 0, value ->> 1, value ->> 2, ?2, value ->> 3, value ->> 4, value ->> 5 \
     FROM jsonb_each(?1)";

const EXISTING_KEYS: &str = "SELECT json_group_array(key) FROM outbox \
     WHERE key IN (SELECT value FROM json_each(?1))";

/// `SELECT <every outbox column a row needs> FROM outbox <tail>`: one
/// column list for every reader of `outbox_row`.
macro_rules! select_outbox {
    ($tail:literal) => {
        concat!(
            "SELECT id, key, kind, supplier_id, recipient, subject, message_id, in_reply_to, \
             refs, body_text, body_html, created_at, state, attempts, last_error FROM outbox ",
            $tail
        )
    };
}

const OUTBOX_ALL: &str = select_outbox!("ORDER BY id");
const OUTBOX_DUE: &str = select_outbox!(
    "WHERE state = 'queued' AND next_attempt_at <= ?1 \
     AND (claimed_until IS NULL OR claimed_until < ?1 OR claimed_by = ?3) ORDER BY id LIMIT ?2"
);
const OUTBOX_FAILED_SINCE: &str =
    select_outbox!("WHERE state = 'failed' AND next_attempt_at >= ? ORDER BY id");

type AlertTuple = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<AcceptanceNote>,
);

impl Store {
    /// Plans and queues messages with `notifier` in a transaction of its own
    /// (the daemon's periodic pass; runs use [`Store::record_run_with`]).
    /// Returns the number of outbox rows queued.
    ///
    /// # Errors
    /// [`StoreError`]; on error nothing is queued.
    pub async fn notify(
        &self,
        at: DateTime<Utc>,
        notifier: &dyn Notifier,
    ) -> Result<usize, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.err(e))?;
        let queued = self.notify_in(&mut tx, at, notifier).await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(queued)
    }

    /// Queues `outgoing` as it is (the digest), in one transaction.
    ///
    /// # Errors
    /// [`StoreError`]; on error nothing is queued.
    pub async fn enqueue(
        &self,
        outgoing: &[Outgoing],
        at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.err(e))?;
        let queued = self.write_outgoing(&mut tx, outgoing, at).await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(queued)
    }

    /// Snapshot, plan, write: inside the caller's transaction.
    pub(super) async fn notify_in(
        &self,
        conn: &mut SqliteConnection,
        at: DateTime<Utc>,
        notifier: &dyn Notifier,
    ) -> Result<usize, StoreError> {
        let snapshot = self
            .alert_snapshot(conn, at, notifier.min_severity())
            .await?;
        let plan = notifier.plan(&snapshot);
        self.write_outgoing(conn, &plan, at).await
    }

    async fn alert_snapshot(
        &self,
        conn: &mut SqliteConnection,
        at: DateTime<Utc>,
        min: Severity,
    ) -> Result<AlertSnapshot, StoreError> {
        let corrupt = |why: String| StoreError::Corrupt {
            path: self.path.clone(),
            why: format!("notices: {why}"),
        };
        let severities: Vec<&str> = Severity::ALL
            .iter()
            .filter(|s| **s >= min)
            .map(|s| s.as_str())
            .collect();
        let severities = serde_json::to_string(&severities).map_err(|e| corrupt(e.to_string()))?;
        // Resolved findings matter while their resolution is news: a week.
        let text: String = sqlx::query_scalar(LOAD_ALERT_FINDINGS)
            .bind(&severities)
            .bind(timestamp(at - Duration::days(7)))
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| self.err(e))?;
        let tuples: Vec<AlertTuple> =
            serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        let unreadable = |why: RowError| self.unreadable(why.within("notices"));
        let mut findings = tuples
            .into_iter()
            .map(|t| alert_finding(t).map_err(unreadable))
            .collect::<Result<Vec<_>, _>>()?;
        let time = |t: &str| parse_timestamp(t).map_err(unreadable);
        let ids: Vec<i64> = findings.iter().map(|f| f.id).collect();
        let ids = serde_json::to_string(&ids).map_err(|e| corrupt(e.to_string()))?;
        let rows = sqlx::query(LOAD_NOTICES)
            .bind(&ids)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.err(e))?;
        let mut by_finding: HashMap<i64, Vec<Notice>> = HashMap::new();
        let mut by_subject: HashMap<String, Vec<Notice>> = HashMap::new();
        for row in rows {
            let get = |e: sqlx::Error| corrupt(e.to_string());
            let recipients: String = row.try_get("recipients").map_err(get)?;
            let at: String = row.try_get("at").map_err(get)?;
            let notice = Notice {
                kind: row.try_get("kind").map_err(get)?,
                at: time(&at)?,
                message_id: row.try_get("message_id").map_err(get)?,
                recipients: serde_json::from_str(&recipients)
                    .map_err(|e| corrupt(e.to_string()))?,
                detail: row.try_get("detail").map_err(get)?,
            };
            match row.try_get::<Option<i64>, _>("finding_id").map_err(get)? {
                Some(id) => by_finding.entry(id).or_default().push(notice),
                None => by_subject
                    .entry(row.try_get("subject").map_err(get)?)
                    .or_default()
                    .push(notice),
            }
        }
        for f in &mut findings {
            f.notices = by_finding.remove(&f.id).unwrap_or_default();
        }
        let questionnaires = self
            .questionnaires_in(conn)
            .await?
            .into_iter()
            .map(|q| {
                let notices = by_subject
                    .remove(&format!("questionnaire:{}", q.id))
                    .unwrap_or_default();
                (q, notices)
            })
            .collect();
        Ok(AlertSnapshot {
            at,
            findings,
            questionnaires,
            monitor: by_subject.remove("monitor").unwrap_or_default(),
        })
    }

    /// Writes the outbox rows (one per recipient) and the notices of
    /// `plan`, batched. A message whose rows all exist already (the same
    /// key queued before) adds nothing, its notices included. Returns the
    /// rows added.
    async fn write_outgoing(
        &self,
        conn: &mut SqliteConnection,
        plan: &[Outgoing],
        at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        if plan.is_empty() {
            return Ok(0);
        }
        let at = timestamp(at);
        let keys: Vec<String> = plan
            .iter()
            .flat_map(|m| m.recipients.iter().map(move |r| format!("{}:{r}", m.key)))
            .collect();
        let existing: std::collections::HashSet<String> = {
            let text = fetch_json(
                conn,
                EXISTING_KEYS,
                &json_list(&keys).map_err(|e| self.err(e))?,
            )
            .await
            .map_err(|e| self.err(e))?;
            serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
                path: self.path.clone(),
                why: format!("outbox keys: {e}"),
            })?
        };
        let mut rows = Vec::new();
        let mut notices = Vec::new();
        for m in plan {
            let refs = (!m.references.is_empty()).then(|| m.references.join(" "));
            let before = rows.len();
            for recipient in &m.recipients {
                let key = format!("{}:{recipient}", m.key);
                if existing.contains(&key) {
                    continue;
                }
                rows.push((
                    key,
                    &m.kind,
                    m.supplier.as_deref(),
                    recipient,
                    &m.subject,
                    &m.message_id,
                    m.in_reply_to.as_deref(),
                    refs.clone(),
                    &m.text,
                    m.html.as_deref(),
                ));
            }
            if rows.len() == before {
                // Queued before (same key): so were its notices.
                continue;
            }
            let recipients = serde_json::to_string(&m.recipients).unwrap_or_else(|_| "[]".into());
            for n in &m.notices {
                notices.push((
                    n.finding_id,
                    &n.subject,
                    &n.kind,
                    &m.message_id,
                    recipients.clone(),
                    n.detail.as_deref(),
                ));
            }
        }
        let result = async {
            batch(conn, INSERT_OUTBOX, &rows, Some(&at)).await?;
            batch(conn, INSERT_NOTICES, &notices, Some(&at)).await
        };
        result.await.map_err(|e| self.err(e))?;
        Ok(rows.len())
    }

    /// Queued rows whose next attempt is due at `now`, oldest first.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn outbox_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        self.release_dead_claims(now).await?;
        let rows = sqlx::query(OUTBOX_DUE)
            .bind(timestamp(now))
            .bind(i64::from(limit))
            .bind(i64::from(std::process::id()))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        rows.iter().map(|r| self.outbox_row(r)).collect()
    }

    /// Claims a due row for this process before it is sent: `false` when
    /// another process has claimed it (or it is no longer queued). A claim
    /// lasts [`CLAIM_LEASE`], or until its process is found dead.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn outbox_claim(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let me = i64::from(std::process::id());
        let done = sqlx::query(
            "UPDATE outbox SET claimed_by = ?1, claimed_until = ?2 WHERE id = ?3 \
             AND state = 'queued' AND (claimed_until IS NULL OR claimed_until < ?4 OR claimed_by = ?1)",
        )
        .bind(me)
        .bind(timestamp(now + CLAIM_LEASE))
        .bind(id)
        .bind(timestamp(now))
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(done.rows_affected() == 1)
    }

    /// Releases claims held by processes of this machine that no longer run
    /// (killed while sending): their rows are due again at once.
    async fn release_dead_claims(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        let holders: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT claimed_by FROM outbox WHERE state = 'queued' \
             AND claimed_by IS NOT NULL AND claimed_until >= ?",
        )
        .bind(timestamp(now))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let me = i64::from(std::process::id());
        for pid in holders {
            if pid == me || std::path::Path::new(&format!("/proc/{pid}")).exists() {
                continue;
            }
            sqlx::query(
                "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ? \
                 AND state = 'queued'",
            )
            .bind(pid)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Every outbox row, oldest first (tests, `digest`).
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn outbox(&self) -> Result<Vec<OutboxRow>, StoreError> {
        let rows = sqlx::query(OUTBOX_ALL)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        rows.iter().map(|r| self.outbox_row(r)).collect()
    }

    /// Rows given up on since `since`.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn outbox_failed_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let rows = sqlx::query(OUTBOX_FAILED_SINCE)
            .bind(timestamp(since))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        rows.iter().map(|r| self.outbox_row(r)).collect()
    }

    /// Marks a row delivered.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn outbox_sent(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1, \
             last_error = NULL, claimed_by = NULL, claimed_until = NULL WHERE id = ?",
        )
        .bind(timestamp(at))
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records a failed attempt: queued again for `next`, or given up
    /// (`failed`) when `next` is `None`.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn outbox_attempt_failed(
        &self,
        id: i64,
        at: DateTime<Utc>,
        error: &str,
        next: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let error: String = error.chars().take(1000).collect();
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, \
             claimed_by = NULL, claimed_until = NULL, \
             state = CASE WHEN ? IS NULL THEN 'failed' ELSE 'queued' END, \
             next_attempt_at = coalesce(?, ?) WHERE id = ?",
        )
        .bind(error)
        .bind(next.map(timestamp))
        .bind(next.map(timestamp))
        .bind(timestamp(at))
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Counts for `status`.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        let row = sqlx::query(
            "SELECT count(*) FILTER (WHERE state = 'queued') AS queued, \
             min(created_at) FILTER (WHERE state = 'queued') AS oldest, \
             count(*) FILTER (WHERE state = 'sent') AS sent, \
             count(*) FILTER (WHERE state = 'failed') AS failed FROM outbox",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let get = |e| self.err(e);
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let oldest: Option<String> = row.try_get("oldest").map_err(get)?;
        Ok(OutboxStats {
            queued: count(row.try_get("queued").map_err(get)?),
            oldest_queued: oldest
                .as_deref()
                .map(parse_timestamp)
                .transpose()
                .map_err(|why| self.unreadable(why))?,
            sent: count(row.try_get("sent").map_err(get)?),
            failed: count(row.try_get("failed").map_err(get)?),
        })
    }

    /// Records that `job` started (`finished` = false) or finished, with its
    /// outcome and the next time it is scheduled.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn record_job(
        &self,
        job: &str,
        at: DateTime<Utc>,
        outcome: Option<&str>,
        next: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let sql = if outcome.is_some() {
            "INSERT INTO job_runs (job, last_finished, last_outcome, next_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (job) DO UPDATE SET last_finished = ?2, last_outcome = ?3, \
             next_at = coalesce(?4, next_at)"
        } else {
            "INSERT INTO job_runs (job, last_started, next_at) VALUES (?1, ?2, ?4) \
             ON CONFLICT (job) DO UPDATE SET last_started = ?2, next_at = coalesce(?4, next_at), \
             last_outcome = coalesce(?3, last_outcome)"
        };
        sqlx::query(sql)
            .bind(job)
            .bind(timestamp(at))
            .bind(outcome)
            .bind(next.map(timestamp))
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records when `job` is next scheduled, leaving its last run as it was.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn record_job_next(
        &self,
        job: &str,
        next: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO job_runs (job, next_at) VALUES (?1, ?2) \
             ON CONFLICT (job) DO UPDATE SET next_at = ?2",
        )
        .bind(job)
        .bind(next.map(timestamp))
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The daemon's jobs as last recorded.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn job_runs(&self) -> Result<Vec<JobRun>, StoreError> {
        let rows = sqlx::query(
            "SELECT job, last_started, last_finished, last_outcome, next_at FROM job_runs ORDER BY job",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let corrupt = |why: String| StoreError::Corrupt {
            path: self.path.clone(),
            why,
        };
        rows.iter()
            .map(|r| {
                let get = |e: sqlx::Error| corrupt(e.to_string());
                let time = |col: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
                    let t: Option<String> = r.try_get(col).map_err(get)?;
                    t.as_deref()
                        .map(parse_timestamp)
                        .transpose()
                        .map_err(|why| self.unreadable(why))
                };
                Ok(JobRun {
                    job: r.try_get("job").map_err(get)?,
                    last_started: time("last_started")?,
                    last_finished: time("last_finished")?,
                    last_outcome: r.try_get("last_outcome").map_err(get)?,
                    next_at: time("next_at")?,
                })
            })
            .collect()
    }

    fn outbox_row(&self, r: &sqlx::sqlite::SqliteRow) -> Result<OutboxRow, StoreError> {
        let corrupt = |why: String| StoreError::Corrupt {
            path: self.path.clone(),
            why: format!("outbox: {why}"),
        };
        let get = |e: sqlx::Error| corrupt(e.to_string());
        let refs: Option<String> = r.try_get("refs").map_err(get)?;
        let created: String = r.try_get("created_at").map_err(get)?;
        Ok(OutboxRow {
            id: r.try_get("id").map_err(get)?,
            key: r.try_get("key").map_err(get)?,
            kind: r.try_get("kind").map_err(get)?,
            supplier: r.try_get("supplier_id").map_err(get)?,
            recipient: r.try_get("recipient").map_err(get)?,
            subject: r.try_get("subject").map_err(get)?,
            message_id: r.try_get("message_id").map_err(get)?,
            in_reply_to: r.try_get("in_reply_to").map_err(get)?,
            references: refs
                .map(|r| r.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
            text: r.try_get("body_text").map_err(get)?,
            html: r.try_get("body_html").map_err(get)?,
            created_at: parse_timestamp(&created)
                .map_err(|why| self.unreadable(why.within("outbox")))?,
            state: r.try_get("state").map_err(get)?,
            attempts: u32::try_from(r.try_get::<i64, _>("attempts").map_err(get)?).unwrap_or(0),
            last_error: r.try_get("last_error").map_err(get)?,
        })
    }
}

/// A loaded tuple as the notifier sees it (notices filled in later).
fn alert_finding(t: AlertTuple) -> Result<AlertFinding, RowError> {
    let (
        id,
        supplier,
        check,
        target,
        state,
        severity,
        summary,
        first,
        opened,
        resolved,
        n,
        changed,
        last_resolved,
        resolution,
        acceptance,
    ) = t;
    let time = |t: &str| parse_timestamp(t);
    Ok(AlertFinding {
        id,
        supplier,
        check,
        target,
        state: state.parse()?,
        severity: severity.parse()?,
        summary,
        first_seen: time(&first)?,
        opened_at: opened.as_deref().map(time).transpose()?,
        resolved_at: resolved.as_deref().map(time).transpose()?,
        reopen_count: u32::try_from(n).unwrap_or(0),
        changed_at: time(&changed)?,
        last_resolved_at: last_resolved.as_deref().map(time).transpose()?,
        resolution,
        acceptance,
        notices: Vec::new(),
    })
}

/// How long a claim on a row being sent holds (longer than any SMTP
/// exchange with its timeouts).
pub const CLAIM_LEASE: Duration = Duration::minutes(5);

/// The wait before attempt `attempts + 1`: 30 s doubling, at most an hour.
#[must_use]
pub fn backoff(attempts: u32) -> Duration {
    let secs = 30_i64.saturating_mul(1_i64 << attempts.min(10));
    Duration::seconds(secs.min(3600))
}

/// One e-mail told about a supplier: what about, which kind, when, to whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SupplierNotice {
    /// The finding's check id, or `questionnaire`.
    pub check: String,
    /// The finding's target, or the questionnaire's template.
    pub target: String,
    /// `alert`, `escalation`, `repeat`, `resolved`, `accepted`, `reminder` …
    pub kind: String,
    pub at: DateTime<Utc>,
    pub message_id: String,
    pub recipients: Vec<String>,
}

impl Store {
    /// Every notice about `supplier`'s findings and questionnaires, oldest
    /// first: the e-mails an auditor asks to see.
    ///
    /// # Errors
    /// [`StoreError`] on database failure or an unreadable row.
    pub async fn supplier_notices(
        &self,
        supplier: &str,
    ) -> Result<Vec<SupplierNotice>, StoreError> {
        let rows = sqlx::query(SUPPLIER_NOTICES)
            .bind(supplier)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|row| {
                let text = |column: &str| -> Result<String, RowError> {
                    row.try_get::<String, _>(column)
                        .map_err(|error| RowError::Column {
                            column: column.to_owned(),
                            error,
                        })
                };
                let recipients: Vec<String> =
                    serde_json::from_str(&text("recipients")?).map_err(RowError::Evidence)?;
                Ok(SupplierNotice {
                    check: text("check_id")?,
                    target: text("target")?,
                    kind: text("kind")?,
                    at: parse_timestamp(&text("at")?)?,
                    message_id: text("message_id")?,
                    recipients,
                })
            })
            .collect::<Result<_, RowError>>()
            .map_err(|e| self.unreadable(e.within("notices")))
    }
}
