//! Recording a run: one short `BEGIN IMMEDIATE` transaction that adds the
//! run row, keeps observations that changed, reconciles findings (see
//! `findings.rs`), applies acceptances and stores a score per supplier.
//! Also reading scores with their week-on-week trend, observation history,
//! and pruning old runs.
//!
//! # Observations: what "unchanged" means
//! Observation facts are stored content-addressed (`observation_facts`,
//! keyed by a SHA-256) and each (supplier, target, kind) points at the facts
//! it showed (`observations`): a new row only when the hash of its
//! *normalised* facts differs from its current one. The normalisation
//! ([`canonical`]) removes what changes from one probe to the next while
//! the supplier's posture does not:
//! - object keys are sorted, the text compact (the JSON is canonical
//!   whatever the map order);
//! - `elapsed_ms`, anywhere: how long the probe took;
//! - `body_bytes`, anywhere: the size of a page whose body is not kept
//!   (dynamic pages differ on every request); where a body is kept
//!   (security.txt) the body itself is compared;
//! - in any `headers` object, the per-response headers [`VOLATILE_HEADERS`]
//!   (`date`, `age`, `expires`, `set-cookie`, `etag`, `last-modified`,
//!   `content-length`, request and trace ids, cache status), and CSP nonces
//!   (`'nonce-…'` becomes `'nonce-'`);
//! - arrays under `addresses` and `records` are sorted: resolvers rotate
//!   round-robin answers, and DNS record sets have no order. Every other
//!   array (certificate chains, redirects, responses) keeps its order.
//!
//! What is stored is that canonical text, so a stored blob always hashes to
//! its key; `last_seen` of the observation row moves on while the facts stay
//! the same. Facts that come back (A → B → A) are not stored twice.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::Row as _;
use sqlx::SqliteConnection;

use super::findings::{batch, fetch_json, json_list};
use super::{FindingKey, RowError, Store, StoreError, parse_timestamp, timestamp};
use crate::checks::score::{Grade, score};
use crate::checks::{Finding, Scope, Severity};
use crate::lifecycle::{Lifecycle, LifecyclePolicy, Mark, Row, accept_pass, reconcile};
use crate::registry::Acceptance;

/// What one run saw, ready to be reconciled.
#[derive(Debug, Clone)]
pub struct RunInput {
    /// When the run probed (its findings' `last_seen`).
    pub at: DateTime<Utc>,
    /// Who recorded it, for the run row and audit rows: `check --save`,
    /// `daemon` …
    pub source: String,
    /// Suppliers judged by the run besides those its scopes, findings and
    /// observations name (one whose every target was refused by policy):
    /// each gets a score.
    pub suppliers: Vec<String>,
    /// What was probed and whether completely ([`crate::checks::scopes`]):
    /// findings outside these are left as they are.
    pub scopes: Vec<Scope>,
    /// (supplier id, finding), severities already overridden by config.
    pub findings: Vec<(String, Finding)>,
    /// The facts behind the findings, kept when they change.
    pub observations: Vec<ObservationBlob>,
    /// For a probe run, whether the monitor could not see (most probes
    /// unanswered): such a run is recorded as blind, with no findings
    /// (see [`RunInput::blinded`]); `None` for runs that probe nothing.
    pub blind: Option<bool>,
}

impl RunInput {
    /// The run as recorded when the monitor could not see: its failures
    /// are the monitor's, not the suppliers', so no finding fires and no
    /// scope is complete — nothing opens, nothing resolves, no grade moves.
    /// The observations are kept.
    #[must_use]
    pub fn blinded(mut self) -> Self {
        self.findings.clear();
        for scope in &mut self.scopes {
            scope.complete = false;
        }
        self.blind = Some(true);
        self
    }
}

/// The facts one probe gathered about one target of a supplier.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservationBlob {
    pub supplier: String,
    /// `host:port` or a domain.
    pub target: String,
    /// `tls`, `http` or `domain`.
    pub kind: String,
    /// The observation as JSON (e.g. a serialised `EndpointObservation`).
    pub facts: Value,
}

/// What a streamed run stored before it was recorded
/// ([`Store::record_streamed_run`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streamed {
    /// Observation blobs stored (new or changed).
    pub stored: usize,
    /// Observation blobs identical to the stored ones.
    pub unchanged: usize,
    /// Stopped before every supplier was probed.
    pub interrupted: bool,
}

/// Who and when of a run recorded chunk by chunk
/// ([`Store::record_chunked_run`]).
#[derive(Debug, Clone)]
pub struct RunHead {
    pub at: DateTime<Utc>,
    pub source: String,
    /// As [`RunInput::blind`].
    pub blind: Option<bool>,
}

/// Some suppliers' part of a run: their findings and the scopes probed.
#[derive(Debug, Clone, Default)]
pub struct RunChunk {
    /// Every supplier the chunk speaks for (each is scored), those its
    /// findings and scopes name included.
    pub suppliers: Vec<String>,
    /// (supplier id, finding), severities already overridden by config.
    pub findings: Vec<(String, Finding)>,
    pub scopes: Vec<Scope>,
}

/// What else goes into a run's record besides its chunks.
pub struct Recording<'a> {
    /// Observations not stored yet (none for a streamed run).
    pub observations: &'a [ObservationBlob],
    pub streamed: Streamed,
    pub acceptances: &'a [Acceptance],
    pub policy: &'a LifecyclePolicy,
    /// Plans the messages the run's changes cause, queued in its transaction.
    pub notifier: Option<&'a dyn super::Notifier>,
}

/// A supplier's score as of one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SupplierScore {
    pub supplier: String,
    pub score: u8,
    pub grade: Grade,
}

/// What recording a run changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    pub run_id: i64,
    /// Findings open for the first time.
    pub opened: Vec<FindingKey>,
    /// Findings back after being resolved.
    pub reopened: Vec<FindingKey>,
    pub resolved: Vec<FindingKey>,
    /// Open findings that became accepted (this run's or any supplier's).
    pub accepted: Vec<FindingKey>,
    /// Accepted findings back to open: acceptance expired or removed.
    pub unaccepted: Vec<FindingKey>,
    /// Findings that fired but are held back by flap damping.
    pub pending: usize,
    /// Findings that fired and already were open or accepted.
    pub refreshed: usize,
    /// Observation blobs stored (new or changed).
    pub observations_stored: usize,
    /// Observations identical to the stored ones (only `last_seen` moved).
    pub observations_unchanged: usize,
    /// One per supplier in the run, by supplier id.
    pub scores: Vec<SupplierScore>,
    /// Outbox rows (messages × recipients) the run queued.
    pub queued: usize,
    /// Where each finding that fired stands after the run: open, pending,
    /// accepted.
    #[serde(skip)]
    pub marks: HashMap<FindingKey, Mark>,
}

/// The suppliers a run names, sorted, and as a JSON array for the queries.
fn suppliers_in(input: &RunInput) -> BTreeSet<&str> {
    input
        .scopes
        .iter()
        .map(|s| s.supplier.as_str())
        .chain(input.findings.iter().map(|(s, _)| s.as_str()))
        .chain(input.observations.iter().map(|o| o.supplier.as_str()))
        .chain(input.suppliers.iter().map(String::as_str))
        .collect()
}

/// Each of `suppliers`' score from its open findings in `rows`
/// ([`crate::lifecycle::scores`]).
fn scores_of<'a>(rows: &[Row], suppliers: impl IntoIterator<Item = &'a str>) -> Vec<SupplierScore> {
    crate::lifecycle::scores(rows, suppliers)
        .into_iter()
        .map(|(supplier, score, grade)| SupplierScore {
            supplier,
            score,
            grade,
        })
        .collect()
}

/// What recording `input` over `rows` (the stored findings of its
/// suppliers; none for a run without history) would decide, without
/// writing anything: the lifecycle, the marks and the scores. What `check`
/// shows without `--save`, so that it tells the same story as `check
/// --save` would.
#[must_use]
pub fn preview_run(
    mut rows: Vec<Row>,
    input: &RunInput,
    acceptances: &[Acceptance],
    policy: &LifecyclePolicy,
) -> RunReport {
    let at = timestamp(input.at);
    let lc = Lifecycle {
        at: &at,
        day: input.at.date_naive(),
        policy,
        acceptances,
    };
    let outcome = reconcile(&mut rows, &input.findings, &input.scopes, &lc);
    let marks = crate::lifecycle::marks(&rows, &input.findings, &lc);
    let scores = scores_of(&rows, suppliers_in(input));
    RunReport::decided(outcome, marks, scores)
}

impl RunReport {
    /// Adds what the preview of another chunk of the same run decided.
    pub fn absorb(&mut self, part: Self) {
        self.opened.extend(part.opened);
        self.reopened.extend(part.reopened);
        self.resolved.extend(part.resolved);
        self.accepted.extend(part.accepted);
        self.unaccepted.extend(part.unaccepted);
        self.pending += part.pending;
        self.refreshed += part.refreshed;
        self.observations_stored += part.observations_stored;
        self.observations_unchanged += part.observations_unchanged;
        self.scores.extend(part.scores);
        self.queued += part.queued;
        self.marks.extend(part.marks);
    }

    /// What the lifecycle decided, before anything was stored (no run id,
    /// no observations, nothing queued).
    fn decided(
        outcome: crate::lifecycle::Outcome,
        marks: HashMap<FindingKey, Mark>,
        scores: Vec<SupplierScore>,
    ) -> Self {
        Self {
            opened: outcome.opened,
            reopened: outcome.reopened,
            resolved: outcome.resolved,
            accepted: outcome.accepted,
            unaccepted: outcome.unaccepted,
            pending: outcome.pending,
            refreshed: outcome.refreshed,
            scores,
            marks,
            ..Self::default()
        }
    }
}

/// One point of a supplier's score history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScorePoint {
    pub at: DateTime<Utc>,
    pub run_id: i64,
    pub score: u8,
    pub grade: Grade,
}

/// Open (not accepted, not pending) findings by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SeverityCounts {
    pub critical: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
    pub info: u32,
}

impl SeverityCounts {
    /// Counts `n` more of `severity`.
    pub fn add(&mut self, severity: Severity, n: u32) {
        let slot = match severity {
            Severity::Critical => &mut self.critical,
            Severity::High => &mut self.high,
            Severity::Medium => &mut self.medium,
            Severity::Low => &mut self.low,
            Severity::Info => &mut self.info,
        };
        *slot = slot.saturating_add(n);
    }

    /// All open findings.
    #[must_use]
    pub fn total(&self) -> u32 {
        self.critical + self.high + self.medium + self.low + self.info
    }

    /// The score and grade these open findings give (README, "Score and
    /// grade").
    #[must_use]
    pub fn score(&self) -> (u8, Grade) {
        let each = |severity: Severity, n: u32| {
            std::iter::repeat_n(severity, usize::try_from(n).unwrap_or(usize::MAX))
        };
        score(
            each(Severity::Critical, self.critical)
                .chain(each(Severity::High, self.high))
                .chain(each(Severity::Medium, self.medium))
                .chain(each(Severity::Low, self.low))
                .chain(each(Severity::Info, self.info)),
        )
    }
}

/// A supplier's standing for `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScoreRow {
    pub supplier: String,
    /// Its score now, from its open findings: what every view shows.
    pub score: u8,
    pub grade: Grade,
    /// The latest run that scored it, as stored then (an acceptance or a
    /// registry change since may have moved the score).
    pub latest: ScorePoint,
    /// The latest run at least 7 days before `latest`, for the trend.
    pub week_ago: Option<ScorePoint>,
    /// Its open findings now.
    pub open: SeverityCounts,
    /// Findings held back by flap damping: not scored until they open.
    pub pending: u32,
    /// Findings covered by an accepted risk: not scored.
    pub accepted: u32,
}

impl ScoreRow {
    /// Score points gained (positive) or lost since a week before.
    #[must_use]
    pub fn trend(&self) -> Option<i16> {
        self.week_ago
            .as_ref()
            .map(|w| i16::from(self.score) - i16::from(w.score))
    }
}

/// What [`Store::prune`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    pub runs: u64,
    pub scores: u64,
    /// Observation rows superseded before the cutoff.
    pub observations: u64,
    /// Stored facts no observation row refers to any more.
    pub facts: u64,
    /// Sent or given-up e-mails older than the cutoff.
    pub outbox: u64,
}

/// A recorded run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredRun {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub source: String,
    pub suppliers: u32,
    /// Findings that fired.
    pub findings: u32,
    pub opened: u32,
    pub reopened: u32,
    pub resolved: u32,
    /// Observation blobs stored.
    pub observations: u32,
    /// For a probe run, whether the monitor could not see (most probes
    /// unanswered); `None` for runs that probed nothing or predate it.
    pub blind: Option<bool>,
    /// Stopped (a signal) before every supplier was probed: what it
    /// judged is recorded, the suppliers it did not reach are untouched.
    pub interrupted: bool,
}

/// One stored observation blob and the period its facts held.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredObservation {
    pub supplier: String,
    pub target: String,
    pub kind: String,
    /// SHA-256 of the canonical text of `facts`, hex.
    pub hash: String,
    /// The facts as normalised by [`canonical`] (volatile fields dropped).
    pub facts: Value,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// When different facts replaced these; `None` for the current blob.
    pub superseded_at: Option<DateTime<Utc>>,
}

/// Dropped wherever they occur: they measure the probe, not the supplier.
const VOLATILE_KEYS: [&str; 3] = ["elapsed_ms", "body_bytes", "transcript"];

/// Response headers that differ per response while nothing changed.
pub const VOLATILE_HEADERS: [&str; 22] = [
    "age",
    "cf-cache-status",
    "cf-ray",
    "content-length",
    "date",
    "etag",
    "expires",
    "last-modified",
    "request-id",
    "server-timing",
    "set-cookie",
    "x-amz-cf-id",
    "x-amz-cf-pop",
    "x-amz-request-id",
    "x-amzn-requestid",
    "x-amzn-trace-id",
    "x-cache",
    "x-correlation-id",
    "x-request-id",
    "x-runtime",
    "x-served-by",
    "x-timer",
];

/// Arrays whose order carries no meaning.
const UNORDERED_KEYS: [&str; 2] = ["addresses", "records"];

/// The canonical text of observation facts: what is stored, and hashed
/// (SHA-256) to tell whether anything changed. See the module docs for what
/// is dropped and why. Written straight to text
/// rather than through a rebuilt `Value`: a run of 10,000 suppliers hashes
/// 30,000 of these.
#[must_use]
pub fn canonical(facts: &Value) -> String {
    let mut out = Vec::with_capacity(2048);
    write_canonical(facts, None, &mut out);
    // Only JSON text and whole UTF-8 strings were written.
    String::from_utf8(out).unwrap_or_default()
}

fn write_canonical(value: &Value, key: Option<&str>, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let headers = key == Some("headers");
            let mut entries: Vec<(&String, &Value)> = map
                .iter()
                .filter(|(k, _)| !VOLATILE_KEYS.contains(&k.as_str()))
                .filter(|(k, _)| {
                    !headers || !VOLATILE_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(k))
                })
                .collect();
            // serde_json's map is sorted already unless its `preserve_order`
            // feature is on somewhere in the build.
            if !entries.is_sorted_by(|a, b| a.0 <= b.0) {
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            }
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(k, out);
                out.push(b':');
                if headers {
                    write_header_value(v, out);
                } else {
                    write_canonical(v, Some(k), out);
                }
            }
            out.push(b'}');
        }
        Value::Array(items) if key.is_some_and(|k| UNORDERED_KEYS.contains(&k)) => {
            let mut parts: Vec<Vec<u8>> = items
                .iter()
                .map(|v| {
                    let mut part = Vec::new();
                    write_canonical(v, None, &mut part);
                    part
                })
                .collect();
            parts.sort_unstable();
            out.push(b'[');
            out.extend_from_slice(&parts.join(&b',')[..]);
            out.push(b']');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, None, out);
            }
            out.push(b']');
        }
        scalar => write_scalar(scalar, out),
    }
}

/// A header's value (a string or a list of them), CSP nonces blanked.
fn write_header_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::String(s) if s.contains("'nonce-") => write_str(&scrub_nonce_text(s), out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_header_value(v, out);
            }
            out.push(b']');
        }
        other => write_canonical(other, None, out),
    }
}

/// A string, number, bool or null as JSON, escaped by `serde_json`.
fn write_scalar(value: &Value, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail, and a scalar always serialises.
    let _ = serde_json::to_writer(out, value);
}

fn write_str(text: &str, out: &mut Vec<u8>) {
    let _ = serde_json::to_writer(out, text);
}

fn scrub_nonce_text(text: &str) -> String {
    const MARK: &str = "'nonce-";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(MARK) {
        let (before, from) = rest.split_at(start);
        out.push_str(before);
        out.push_str(MARK);
        let after = from.get(MARK.len()..).unwrap_or_default();
        rest = after
            .find('\'')
            .map_or("", |end| after.get(end..).unwrap_or_default());
    }
    out.push_str(rest);
    out
}

/// The SHA-256 of `bytes`, in lower-case hex: documents, certificates,
/// evidence packs.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// `bytes` in lower-case hex.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

const LOAD_CURRENT_OBSERVATIONS: &str = "SELECT json_group_array(json_array(o.id, o.supplier_id, \
     o.target, o.kind, lower(hex(f.hash)))) \
     FROM observations o JOIN observation_facts f ON f.id = o.facts_id \
     WHERE o.superseded_at IS NULL AND o.supplier_id IN (SELECT value FROM json_each(?1))";

// `WHERE true` keeps SQLite from reading ON CONFLICT as part of a join.
const INSERT_FACTS: &str = "INSERT INTO observation_facts (hash, facts) \
     SELECT unhex(value ->> 0), value ->> 1 FROM jsonb_each(?1) WHERE true \
     ON CONFLICT (hash) DO NOTHING";

const INSERT_OBSERVATIONS: &str = "INSERT INTO observations (supplier_id, target, kind, \
     facts_id, first_seen, last_seen) \
     SELECT value ->> 0, value ->> 1, value ->> 2, \
     (SELECT id FROM observation_facts WHERE hash = unhex(value ->> 3)), ?2, ?2 \
     FROM jsonb_each(?1)";

const TOUCH_OBSERVATIONS: &str = "UPDATE observations SET last_seen = ?2 \
     WHERE id IN (SELECT value FROM jsonb_each(?1))";

const SUPERSEDE_OBSERVATIONS: &str = "UPDATE observations SET superseded_at = ?2 \
     WHERE id IN (SELECT value FROM jsonb_each(?1))";

const INSERT_SCORES: &str = "INSERT INTO scores (supplier_id, run_id, score, grade) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM jsonb_each(?1)";

/// The columns of a [`StoredObservation`], before a `WHERE`: a macro so
/// that each query stays one literal.
macro_rules! observations_select {
    () => {
        "SELECT o.supplier_id, o.target, o.kind, f.hash, f.facts, o.first_seen, o.last_seen, \
         o.superseded_at FROM observations o JOIN observation_facts f ON f.id = o.facts_id "
    };
}

/// An observation blob in canonical form, with its hash: what the store
/// keeps of it, far smaller than its facts as a JSON value.
#[derive(Debug, Clone)]
pub struct CanonicalBlob {
    pub supplier: String,
    pub target: String,
    pub kind: String,
    canonical: String,
    /// SHA-256 of `canonical`, hex.
    hash: String,
}

impl CanonicalBlob {
    #[must_use]
    pub fn of(blob: &ObservationBlob) -> Self {
        let canonical = canonical(&blob.facts);
        let digest = ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes());
        Self {
            supplier: blob.supplier.clone(),
            target: blob.target.clone(),
            kind: blob.kind.clone(),
            hash: hex(digest.as_ref()),
            canonical,
        }
    }
}

/// Blobs hashed between two yields to the runtime.
const HASH_SLICE: usize = 512;

/// Canonicalises and hashes each (supplier, target, kind) once (a repeat in
/// one run is ignored: the first one counts). Yields to the runtime every
/// [`HASH_SLICE`] blobs: joined with a database future, this lets the
/// connection's worker thread execute statement after statement meanwhile,
/// so that hashing 30,000 blobs adds little wall time of its own.
async fn hash_blobs(blobs: &[ObservationBlob]) -> Vec<CanonicalBlob> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(blobs.len());
    for slice in blobs.chunks(HASH_SLICE) {
        for blob in slice {
            if !seen.insert((&blob.supplier, &blob.target, &blob.kind)) {
                continue;
            }
            out.push(CanonicalBlob::of(blob));
        }
        tokio::task::yield_now().await;
    }
    out
}

impl Store {
    /// Records one run in one short transaction: the run row; observations
    /// whose normalised facts changed; the lifecycle of every finding of the
    /// suppliers in the run (open, refresh, resolve where the run's scope was
    /// complete, reopen, flap damping); acceptances applied and expired —
    /// for every supplier, each change with its audit row; and a score per
    /// supplier in the run from its open, not accepted findings. Acceptances
    /// are judged on the run's UTC day.
    ///
    /// Every supplier the run names must be in the stored registry.
    ///
    /// # Errors
    /// [`StoreError::UnknownSuppliers`] when the run names suppliers not
    /// synced; other [`StoreError`]s on database failure. On error nothing
    /// of the run is kept.
    pub async fn record_run(
        &self,
        input: &RunInput,
        acceptances: &[Acceptance],
        policy: &LifecyclePolicy,
    ) -> Result<RunReport, StoreError> {
        self.record_run_with(input, acceptances, policy, None).await
    }

    /// [`Store::record_run`], and with a `notifier`, the messages the run's
    /// changes cause queued in the outbox in the same transaction (see
    /// `outbox.rs`): a crash either keeps both or neither.
    ///
    /// # Errors
    /// As [`Store::record_run`].
    pub async fn record_run_with(
        &self,
        input: &RunInput,
        acceptances: &[Acceptance],
        policy: &LifecyclePolicy,
        notifier: Option<&dyn super::Notifier>,
    ) -> Result<RunReport, StoreError> {
        self.record_streamed_run(input, Streamed::default(), acceptances, policy, notifier)
            .await
    }

    /// Stores the observations of a batch of suppliers of a run being
    /// streamed, in a transaction of their own, as [`Store::record_run`]
    /// does with a run's: changed facts stored, the others' `last_seen`
    /// moved. Returns (stored, unchanged). The run itself is recorded at
    /// its end by [`Store::record_streamed_run`].
    ///
    /// # Errors
    /// [`StoreError`]; a failed batch keeps nothing of itself.
    pub async fn record_observation_batch(
        &self,
        at: DateTime<Utc>,
        hashed: &[CanonicalBlob],
    ) -> Result<(usize, usize), StoreError> {
        if hashed.is_empty() {
            return Ok((0, 0));
        }
        let at = timestamp(at);
        let suppliers: BTreeSet<&str> = hashed.iter().map(|b| b.supplier.as_str()).collect();
        let list: Vec<&str> = suppliers.into_iter().collect();
        let json = json_list(&list).map_err(|e| self.err(e))?;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.err(e))?;
        let counts = self
            .record_observations(&mut tx, &at, &json, hashed)
            .await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(counts)
    }

    /// [`Store::record_run_with`] for a run whose observations were
    /// stored as it went ([`Store::record_observation_batch`]): `streamed`
    /// counts them into the run row, and says whether the run was stopped
    /// before it probed every supplier (recorded as interrupted).
    ///
    /// # Errors
    /// As [`Store::record_run`].
    pub async fn record_streamed_run(
        &self,
        input: &RunInput,
        streamed: Streamed,
        acceptances: &[Acceptance],
        policy: &LifecyclePolicy,
        notifier: Option<&dyn super::Notifier>,
    ) -> Result<RunReport, StoreError> {
        let head = RunHead {
            at: input.at,
            source: input.source.clone(),
            blind: input.blind,
        };
        let chunk = RunChunk {
            suppliers: suppliers_in(input).into_iter().map(str::to_owned).collect(),
            findings: input.findings.clone(),
            scopes: input.scopes.clone(),
        };
        let mut chunks = std::iter::once(Ok(chunk));
        let recording = Recording {
            observations: &input.observations,
            streamed,
            acceptances,
            policy,
            notifier,
        };
        self.record_chunked_run(&head, &mut chunks, recording).await
    }

    /// Records one run, given a few suppliers at a time, in one
    /// transaction: per chunk, its suppliers' findings reconciled (as
    /// [`Store::record_run`] does), written with their audit rows and
    /// scored, so that a run over a large registry never holds every
    /// supplier's findings at once; then the acceptances of the suppliers
    /// outside the run, the run's own observations, the run row, the
    /// scores and what `notifier` plans. A supplier must be in one chunk
    /// only.
    ///
    /// # Errors
    /// As [`Store::record_run`], and the first error `chunks` gives. On
    /// error nothing of the run is kept.
    pub async fn record_chunked_run(
        &self,
        head: &RunHead,
        chunks: &mut (dyn Iterator<Item = Result<RunChunk, StoreError>> + Send),
        recording: Recording<'_>,
    ) -> Result<RunReport, StoreError> {
        let at = timestamp(head.at);
        let lc = Lifecycle {
            at: &at,
            day: head.at.date_naive(),
            policy: recording.policy,
            acceptances: recording.acceptances,
        };
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.err(e))?;
        let mut in_run: BTreeSet<String> = BTreeSet::new();
        let mut outcome = crate::lifecycle::Outcome::default();
        let mut marks = HashMap::new();
        let mut scores = Vec::new();
        for chunk in chunks {
            let chunk = chunk?;
            let ids: Vec<&str> = chunk.suppliers.iter().map(String::as_str).collect();
            let json = json_list(&ids).map_err(|e| self.err(e))?;
            let unknown: Vec<String> = sqlx::query_scalar(
                "SELECT value FROM json_each(?1) WHERE value NOT IN (SELECT id FROM suppliers)",
            )
            .bind(&json)
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
            if !unknown.is_empty() {
                return Err(StoreError::UnknownSuppliers {
                    path: self.path.clone(),
                    ids: unknown,
                });
            }
            let mut rows = self.load_rows(&mut tx, &json).await?;
            let part = reconcile(&mut rows, &chunk.findings, &chunk.scopes, &lc);
            marks.extend(crate::lifecycle::marks(&rows, &chunk.findings, &lc));
            self.write_rows(&mut tx, &rows, &at, &part.deleted).await?;
            self.write_audit(&mut tx, &at, &head.source, &part.audit)
                .await?;
            scores.extend(scores_of(&rows, ids.iter().copied()));
            outcome.absorb(part);
            in_run.extend(chunk.suppliers);
        }
        let in_run_list: Vec<&str> = in_run.iter().map(String::as_str).collect();
        let in_run_json = json_list(&in_run_list).map_err(|e| self.err(e))?;
        // Suppliers outside the run still see their acceptances expire.
        let mut others = self.load_live_rows_except(&mut tx, &in_run_json).await?;
        let mut passed = crate::lifecycle::Outcome::default();
        accept_pass(&mut others, &lc, &mut passed);
        self.write_rows(&mut tx, &others, &at, &[]).await?;
        self.write_audit(&mut tx, &at, &head.source, &passed.audit)
            .await?;
        outcome.absorb(passed);
        let blobs = hash_blobs(recording.observations).await;
        let (stored, unchanged) = self
            .record_observations(&mut tx, &at, &in_run_json, &blobs)
            .await?;
        let (stored, unchanged) = (
            stored + recording.streamed.stored,
            unchanged + recording.streamed.unchanged,
        );

        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        let run_id: i64 = sqlx::query_scalar(
            "INSERT INTO runs (at, source, suppliers, findings, opened, reopened, resolved, observations, blind, interrupted) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&at)
        .bind(&head.source)
        .bind(count(in_run.len()))
        .bind(count(outcome.fired))
        .bind(count(outcome.opened.len()))
        .bind(count(outcome.reopened.len()))
        .bind(count(outcome.resolved.len()))
        .bind(count(stored))
        .bind(head.blind)
        .bind(recording.streamed.interrupted)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;

        scores.sort_by(|a, b| a.supplier.cmp(&b.supplier));
        self.store_scores(&mut tx, run_id, &scores).await?;
        let queued = match recording.notifier {
            Some(n) => self.notify_in(&mut tx, head.at, n).await?,
            None => 0,
        };
        tx.commit().await.map_err(|e| self.err(e))?;

        Ok(RunReport {
            run_id,
            observations_stored: stored,
            observations_unchanged: unchanged,
            queued,
            ..RunReport::decided(outcome, marks, scores)
        })
    }

    /// [`preview_run`] over the stored findings: what recording `input`
    /// would decide, read in one read transaction, nothing written. Works
    /// on a store opened [`super::OpenMode::ReadOnly`].
    ///
    /// # Errors
    /// [`StoreError`] on database failure or an unreadable row.
    pub async fn preview_run(
        &self,
        input: &RunInput,
        acceptances: &[Acceptance],
        policy: &LifecyclePolicy,
    ) -> Result<RunReport, StoreError> {
        let list: Vec<&str> = suppliers_in(input).into_iter().collect();
        let json = json_list(&list).map_err(|e| self.err(e))?;
        let mut conn = self.pool.acquire().await.map_err(|e| self.err(e))?;
        let rows = self.load_rows(&mut conn, &json).await?;
        Ok(preview_run(rows, input, acceptances, policy))
    }

    /// Stores the scores of a run.
    async fn store_scores(
        &self,
        conn: &mut SqliteConnection,
        run_id: i64,
        scores: &[SupplierScore],
    ) -> Result<(), StoreError> {
        let inserts: Vec<_> = scores
            .iter()
            .map(|s| (&s.supplier, run_id, s.score, s.grade.as_str()))
            .collect();
        batch(conn, INSERT_SCORES, &inserts, None)
            .await
            .map_err(|e| self.err(e))
    }

    /// Stores the blobs whose normalised hash differs from the current one
    /// of their key, superseding it (facts already stored under that hash,
    /// for any target, are reused); moves `last_seen` of the others.
    /// Returns (stored, unchanged).
    async fn record_observations(
        &self,
        conn: &mut SqliteConnection,
        at: &str,
        suppliers: &str,
        blobs: &[CanonicalBlob],
    ) -> Result<(usize, usize), StoreError> {
        if blobs.is_empty() {
            return Ok((0, 0));
        }
        let text = fetch_json(conn, LOAD_CURRENT_OBSERVATIONS, suppliers)
            .await
            .map_err(|e| self.err(e))?;
        let loaded: Vec<(i64, &str, &str, &str, &str)> =
            serde_json::from_str(&text).map_err(|e| self.corrupt(format!("observations: {e}")))?;
        let current: HashMap<(&str, &str, &str), (i64, &str)> = loaded
            .iter()
            .map(|(id, s, t, k, h)| ((*s, *t, *k), (*id, *h)))
            .collect();
        let mut touch = Vec::new();
        let mut supersede = Vec::new();
        let mut facts = Vec::new();
        let mut insert = Vec::new();
        for blob in blobs {
            let CanonicalBlob {
                canonical, hash, ..
            } = blob;
            let key = (
                blob.supplier.as_str(),
                blob.target.as_str(),
                blob.kind.as_str(),
            );
            match current.get(&key) {
                Some((id, old)) if old == hash => touch.push(*id),
                found => {
                    if let Some((id, _)) = found {
                        supersede.push(*id);
                    }
                    facts.push((hash.as_str(), canonical.as_str()));
                    insert.push((key.0, key.1, key.2, hash.as_str()));
                }
            }
        }
        let result = async {
            // Supersede first: only one current row per key may exist.
            batch(conn, SUPERSEDE_OBSERVATIONS, &supersede, Some(at)).await?;
            batch(conn, TOUCH_OBSERVATIONS, &touch, Some(at)).await?;
            batch(conn, INSERT_FACTS, &facts, None).await?;
            batch(conn, INSERT_OBSERVATIONS, &insert, Some(at)).await
        };
        result.await.map_err(|e| self.err(e))?;
        Ok((insert.len(), touch.len()))
    }

    /// Per supplier scored at or before `now`: its score and grade now
    /// (not as of `now`: findings keep no history of their states),
    /// from its open findings (pending and accepted ones left out, the one
    /// definition in README), the latest run that scored it, the score of
    /// its latest run at least 7 days before that (the trend), and its open,
    /// pending and accepted findings. Worst first: lowest score, then worst
    /// grade, then by id.
    ///
    /// # Errors
    /// [`StoreError`] on database failure or an unreadable row.
    pub async fn supplier_scores(&self, now: DateTime<Utc>) -> Result<Vec<ScoreRow>, StoreError> {
        // One read transaction, so that scores and counts agree.
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        let suppliers: Vec<String> = sqlx::query_scalar("SELECT id FROM suppliers ORDER BY id")
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        let counts = sqlx::query(
            "SELECT supplier_id, state, severity, count(*) AS n FROM findings \
             WHERE state IN ('open', 'pending', 'accepted') GROUP BY supplier_id, state, severity",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let mut open: HashMap<String, (SeverityCounts, u32, u32)> = HashMap::new();
        for row in &counts {
            let supplier: String = row.try_get("supplier_id").map_err(|e| self.err(e))?;
            let state: String = row.try_get("state").map_err(|e| self.err(e))?;
            let severity: String = row.try_get("severity").map_err(|e| self.err(e))?;
            let n: i64 = row.try_get("n").map_err(|e| self.err(e))?;
            let n = u32::try_from(n).unwrap_or(u32::MAX);
            let severity: Severity = severity.parse().map_err(|why| self.unreadable(why))?;
            let entry = open.entry(supplier).or_default();
            match state.as_str() {
                "open" => entry.0.add(severity, n),
                "pending" => entry.1 = entry.1.saturating_add(n),
                _ => entry.2 = entry.2.saturating_add(n),
            }
        }
        let mut out = Vec::new();
        for supplier in suppliers {
            let Some(latest) = self.score_at_or_before(&mut tx, &supplier, now).await? else {
                continue;
            };
            let week_ago = self
                .score_at_or_before(&mut tx, &supplier, latest.at - Duration::days(7))
                .await?;
            let (counts, pending, accepted) = open.get(&supplier).copied().unwrap_or_default();
            let (score, grade) = counts.score();
            out.push(ScoreRow {
                score,
                grade,
                open: counts,
                pending,
                accepted,
                supplier,
                latest,
                week_ago,
            });
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        out.sort_by(|a, b| {
            a.score
                .cmp(&b.score)
                .then_with(|| b.grade.cmp(&a.grade))
                .then_with(|| a.supplier.cmp(&b.supplier))
        });
        Ok(out)
    }

    async fn score_at_or_before(
        &self,
        conn: &mut SqliteConnection,
        supplier: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<ScorePoint>, StoreError> {
        let row = sqlx::query(
            "SELECT r.at, s.run_id, s.score, s.grade FROM scores s JOIN runs r ON r.id = s.run_id \
             WHERE s.supplier_id = ?1 AND r.at <= ?2 ORDER BY s.run_id DESC LIMIT 1",
        )
        .bind(supplier)
        .bind(timestamp(at))
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| self.err(e))?;
        row.map(|r| self.score_point(&r)).transpose()
    }

    fn score_point(&self, row: &sqlx::sqlite::SqliteRow) -> Result<ScorePoint, StoreError> {
        let at: String = row.try_get("at").map_err(|e| self.err(e))?;
        let score: i64 = row.try_get("score").map_err(|e| self.err(e))?;
        let grade: String = row.try_get("grade").map_err(|e| self.err(e))?;
        Ok(ScorePoint {
            at: parse_timestamp(&at).map_err(|why| self.unreadable(why))?,
            run_id: row.try_get("run_id").map_err(|e| self.err(e))?,
            score: u8::try_from(score).map_err(|e| self.corrupt(format!("score {score}: {e}")))?,
            grade: Grade::from_letter(&grade)
                .ok_or_else(|| self.corrupt(format!("grade {grade:?}")))?,
        })
    }

    /// Every score of `supplier`, oldest first.
    ///
    /// # Errors
    /// [`StoreError`] on database failure or an unreadable row.
    pub async fn score_history(&self, supplier: &str) -> Result<Vec<ScorePoint>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.at, s.run_id, s.score, s.grade FROM scores s JOIN runs r ON r.id = s.run_id \
             WHERE s.supplier_id = ?1 ORDER BY s.run_id",
        )
        .bind(supplier)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter().map(|r| self.score_point(r)).collect()
    }

    /// When the monitor went blind, if its probe runs since the last one
    /// that could see were all blind (see [`RunInput::blinded`]): the time
    /// of the first of them. `None` while the monitor can see.
    ///
    /// # Errors
    /// [`StoreError`] on database failure or an unreadable row.
    pub async fn blind_since(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let at: Option<String> = sqlx::query_scalar(
            "SELECT min(at) FROM runs WHERE blind = 1 \
             AND id > coalesce((SELECT max(id) FROM runs WHERE blind = 0), 0)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        at.map(|t| parse_timestamp(&t).map_err(|why| self.unreadable(why)))
            .transpose()
    }

    /// The last `limit` runs, newest first.
    ///
    /// # Errors
    /// [`StoreError`] on database failure or an unreadable row.
    pub async fn recent_runs(&self, limit: u32) -> Result<Vec<StoredRun>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, source, suppliers, findings, opened, reopened, resolved, observations, \
             blind, interrupted FROM runs ORDER BY at DESC, id DESC LIMIT ?1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| {
                let get = |e| self.err(e);
                let n = |col: &str| -> Result<u32, StoreError> {
                    let v: i64 = r.try_get(col).map_err(get)?;
                    u32::try_from(v).map_err(|e| self.corrupt(format!("runs.{col}: {e}")))
                };
                let at: String = r.try_get("at").map_err(get)?;
                Ok(StoredRun {
                    id: r.try_get("id").map_err(get)?,
                    at: parse_timestamp(&at).map_err(|why| self.unreadable(why))?,
                    source: r.try_get("source").map_err(get)?,
                    suppliers: n("suppliers")?,
                    findings: n("findings")?,
                    opened: n("opened")?,
                    reopened: n("reopened")?,
                    resolved: n("resolved")?,
                    observations: n("observations")?,
                    blind: r
                        .try_get::<Option<i64>, _>("blind")
                        .map_err(get)?
                        .map(|b| b != 0),
                    interrupted: r.try_get::<i64, _>("interrupted").map_err(get)? != 0,
                })
            })
            .collect()
    }

    /// The stored blobs of one (supplier, target, kind), oldest first.
    ///
    /// # Errors
    /// [`StoreError`] on database failure or an unreadable row.
    pub async fn observation_history(
        &self,
        supplier: &str,
        target: &str,
        kind: &str,
    ) -> Result<Vec<StoredObservation>, StoreError> {
        self.stored_observations(
            concat!(
                observations_select!(),
                "WHERE o.supplier_id = ?1 AND o.target = ?2 AND o.kind = ?3 \
                 ORDER BY o.first_seen, o.id"
            ),
            &[supplier, target, kind],
        )
        .await
    }

    /// The observation rows `sql` (an [`observations_select!`] with its
    /// `WHERE` and order; its parameters `binds`) selects, with their facts.
    async fn stored_observations(
        &self,
        sql: &'static str,
        binds: &[&str],
    ) -> Result<Vec<StoredObservation>, StoreError> {
        let mut query = sqlx::query(sql);
        for value in binds {
            query = query.bind(*value);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| {
                let get = |e| self.err(e);
                let time = |col: &str| -> Result<DateTime<Utc>, StoreError> {
                    let t: String = r.try_get(col).map_err(get)?;
                    parse_timestamp(&t).map_err(|why| self.unreadable(why))
                };
                let facts: String = r.try_get("facts").map_err(get)?;
                let hash: Vec<u8> = r.try_get("hash").map_err(get)?;
                let superseded: Option<String> = r.try_get("superseded_at").map_err(get)?;
                Ok(StoredObservation {
                    supplier: r.try_get("supplier_id").map_err(get)?,
                    target: r.try_get("target").map_err(get)?,
                    kind: r.try_get("kind").map_err(get)?,
                    hash: hex(&hash),
                    facts: serde_json::from_str(&facts)
                        .map_err(|e| self.corrupt(format!("observation facts: {e}")))?,
                    first_seen: time("first_seen")?,
                    last_seen: time("last_seen")?,
                    superseded_at: superseded
                        .map(|t| parse_timestamp(&t))
                        .transpose()
                        .map_err(|why| self.unreadable(why))?,
                })
            })
            .collect()
    }

    /// Hands each current observation of the given kinds to `each`, read
    /// a page of rows at a time (by row id), so that the observations of a
    /// large registry are never all held at once. What concentration is
    /// judged from.
    ///
    /// # Errors
    /// [`StoreError`] on database failure or an unreadable row.
    pub async fn each_current_observation(
        &self,
        kinds: &[&str],
        mut each: impl FnMut(ObservationBlob),
    ) -> Result<(), StoreError> {
        // A page of TLS observations (certificate chains) is a few MB at most.
        const PAGE: i64 = 32;
        let kinds = json_list(kinds).map_err(|e| self.err(e))?;
        let mut after = 0_i64;
        loop {
            let rows = sqlx::query(
                "SELECT o.id, o.supplier_id, o.target, o.kind, f.facts \
                 FROM observations o JOIN observation_facts f ON f.id = o.facts_id \
                 WHERE o.superseded_at IS NULL AND o.id > ?1 \
                 AND o.kind IN (SELECT value FROM json_each(?2)) ORDER BY o.id LIMIT ?3",
            )
            .bind(after)
            .bind(&kinds)
            .bind(PAGE)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
            let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= PAGE;
            for r in &rows {
                let get = |e| self.err(e);
                after = r.try_get("id").map_err(get)?;
                let facts: String = r.try_get("facts").map_err(get)?;
                each(ObservationBlob {
                    supplier: r.try_get("supplier_id").map_err(get)?,
                    target: r.try_get("target").map_err(get)?,
                    kind: r.try_get("kind").map_err(get)?,
                    facts: serde_json::from_str(&facts)
                        .map_err(|e| self.corrupt(format!("observation facts: {e}")))?,
                });
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// Deletes runs older than `retention_days` before `now`, their score
    /// rows, observation rows superseded before then (the current one of
    /// every target is kept, however old) and the facts no row refers to
    /// any more. Findings — open or not — and
    /// the audit log are never pruned.
    ///
    /// # Errors
    /// [`StoreError`]; on error nothing is deleted.
    pub async fn prune(
        &self,
        now: DateTime<Utc>,
        retention_days: u32,
    ) -> Result<PruneReport, StoreError> {
        let cutoff = timestamp(now - Duration::days(i64::from(retention_days)));
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.err(e))?;
        let scores =
            sqlx::query("DELETE FROM scores WHERE run_id IN (SELECT id FROM runs WHERE at < ?1)")
                .bind(&cutoff)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?
                .rows_affected();
        let runs = sqlx::query("DELETE FROM runs WHERE at < ?1")
            .bind(&cutoff)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected();
        let observations = sqlx::query(
            "DELETE FROM observations WHERE superseded_at IS NOT NULL AND superseded_at < ?1",
        )
        .bind(&cutoff)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected();
        let facts = sqlx::query(
            "DELETE FROM observation_facts WHERE id NOT IN (SELECT facts_id FROM observations)",
        )
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected();
        // Delivered and given-up e-mails (their bodies); the notices stay,
        // they are the findings' history.
        let outbox = sqlx::query("DELETE FROM outbox WHERE state != 'queued' AND created_at < ?1")
            .bind(&cutoff)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected();
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(PruneReport {
            runs,
            scores,
            observations,
            facts,
            outbox,
        })
    }

    pub(super) fn corrupt(&self, why: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            why: why.into(),
        }
    }

    pub(super) fn unreadable(&self, error: impl Into<RowError>) -> StoreError {
        StoreError::Row {
            path: self.path.clone(),
            error: error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn volatile_fields_do_not_change_the_hash() {
        let a = json!({
            "target": "a.test:443", "elapsed_ms": 12, "addresses": ["192.0.2.2", "192.0.2.1"],
            "page": {"responses": [{"status": 200, "body_bytes": 5120, "headers": {
                "date": ["Mon, 02 Mar 2026 12:00:00 GMT"], "server": ["nginx"],
                "content-security-policy": ["script-src 'nonce-abc123' 'self'"]}}]}
        });
        let b = json!({
            "page": {"responses": [{"body_bytes": 6001, "status": 200, "headers": {
                "server": ["nginx"], "date": ["Tue, 03 Mar 2026 18:00:00 GMT"],
                "content-security-policy": ["script-src 'nonce-zzz999' 'self'"]}}]},
            "addresses": ["192.0.2.1", "192.0.2.2"], "elapsed_ms": 480, "target": "a.test:443"
        });
        assert_eq!(canonical(&a), canonical(&b));
        let c = json!({
            "page": {"responses": [{"status": 200, "headers": {"server": ["nginx/1.18.0"],
                "content-security-policy": ["script-src 'nonce-abc123' 'self'"]}}]},
            "addresses": ["192.0.2.1", "192.0.2.2"], "target": "a.test:443"
        });
        assert_ne!(canonical(&a), canonical(&c));
    }

    #[test]
    fn ordered_arrays_keep_their_order() {
        let a = json!({"chain": [{"subject": "leaf"}, {"subject": "ca"}]});
        let b = json!({"chain": [{"subject": "ca"}, {"subject": "leaf"}]});
        assert_ne!(canonical(&a), canonical(&b));
    }

    #[test]
    fn canonical_text_is_sorted_and_compact() {
        let facts = json!({"b": [1, {"z": null, "a": "x\"y"}], "a": true, "records": [3, 1, 2]});
        assert_eq!(
            canonical(&facts),
            r#"{"a":true,"b":[1,{"a":"x\"y","z":null}],"records":[1,2,3]}"#
        );
    }

    #[test]
    fn nonces_are_blanked() {
        assert_eq!(
            scrub_nonce_text("default-src 'self'; script-src 'nonce-r4nd0m' 'nonce-x'"),
            "default-src 'self'; script-src 'nonce-' 'nonce-'"
        );
        assert_eq!(scrub_nonce_text("'nonce-unterminated"), "'nonce-");
    }
}
