//! Verifying the audit log's hash chain — in the database, or in an export
//! file on its own — and exporting it as JSON Lines. The canonical form the
//! hashes cover is described in `audit.rs`. Verifying only reads.
//!
//! What a walk catches, in id order, stopping at the first broken row:
//! a row whose content no longer hashes to its hash (altered), a row whose
//! `prev_hash` is not its predecessor's hash or whose id skips (rows before
//! it deleted or replaced), a row with no hash or a malformed one (inserted
//! outside supplywatch), and in the database a sequence past the last row
//! (the last rows deleted). A last row deleted together with the sequence
//! repaired, or a chain rewritten from some row on, can only be caught
//! against a head kept elsewhere: `--head`.
//!
//! # Export format
//! JSON Lines: one object per row, id order, with every column
//! (`id, at, source, supplier_id, action, field, old_value, new_value,
//! actor, command, detail, prev_hash, hash`; `detail` as a JSON object),
//! then one last line, the head:
//! `{"head":{"id":…,"hash":"…"},"rows":…,"first_prev_hash":"…","exported_at":"…"}`
//! (`"since":"YYYY-MM-DD"` too when the export starts at a day). An export
//! is a contiguous segment: from the first row written on or after `since`
//! through the head at the time of the export.

use std::fmt;
use std::io::{BufRead as _, BufWriter, Write as _};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::audit::{GENESIS, HEAD, SEQUENCE, StoredRow, UNCHAINED, canonical_json};
use super::{Store, StoreError, timestamp};

/// The last row of a chain (or of a segment): its id and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainHead {
    pub id: i64,
    pub hash: String,
}

/// The first place a chain is broken, with the evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChainBreak {
    /// The row's content does not hash to its stored hash.
    Altered {
        row: i64,
        stored: String,
        computed: String,
    },
    /// Rows `from..=to` are gone: the ids skip them.
    Missing { row: i64, from: i64, to: i64 },
    /// The row's `prev_hash` is not the hash of the row before it
    /// (`previous`; `None` for the first row of the database).
    Unlinked {
        row: i64,
        previous: Option<i64>,
        expected: String,
        found: Option<String>,
    },
    /// The row has no hash, or one that is not a hex SHA-256.
    Inserted { row: i64, hash: Option<String> },
    /// An id at or below the row before it's (export lines reordered or
    /// repeated).
    OutOfOrder { row: i64, previous: i64 },
    /// SQLite's id sequence went past the last row: the last rows were
    /// deleted.
    Truncated { last: Option<i64>, sequence: i64 },
    /// The head an auditor kept is not in the chain.
    KeptHeadMissing { hash: String },
    /// Export file: a line that is neither a row nor the head line.
    Unreadable { line: u64, why: String },
    /// Export file: the head line is missing or does not match the rows.
    HeadLine { why: String },
}

impl ChainBreak {
    /// The row it names, where it names one.
    #[must_use]
    pub fn row(&self) -> Option<i64> {
        match self {
            Self::Altered { row, .. }
            | Self::Missing { row, .. }
            | Self::Unlinked { row, .. }
            | Self::Inserted { row, .. }
            | Self::OutOfOrder { row, .. } => Some(*row),
            Self::Truncated { .. }
            | Self::KeptHeadMissing { .. }
            | Self::Unreadable { .. }
            | Self::HeadLine { .. } => None,
        }
    }
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Altered { row, .. } => write!(
                f,
                "audit log broken at row #{row}: its content does not match its hash (altered after it was written)"
            ),
            Self::Missing { row, from, to } if from == to => write!(
                f,
                "audit log broken at row #{row}: row #{from} before it is missing (deleted)"
            ),
            Self::Missing { row, from, to } => write!(
                f,
                "audit log broken at row #{row}: rows #{from} to #{to} before it are missing (deleted)"
            ),
            Self::Unlinked {
                row,
                previous: Some(previous),
                ..
            } => write!(
                f,
                "audit log broken at row #{row}: its prev_hash is not the hash of row #{previous} \
                 (a row before it was deleted or replaced)"
            ),
            Self::Unlinked { row, .. } => write!(
                f,
                "audit log broken at row #{row}: its prev_hash is not where the chain starts \
                 (rows before it were deleted or replaced)"
            ),
            Self::Inserted { row, hash: None } => write!(
                f,
                "audit log broken at row #{row}: it has no hash (inserted outside supplywatch)"
            ),
            Self::Inserted {
                row,
                hash: Some(hash),
            } => write!(
                f,
                "audit log broken at row #{row}: its hash {hash:?} is not a SHA-256 (inserted outside supplywatch)"
            ),
            Self::OutOfOrder { row, previous } => write!(
                f,
                "audit log broken at row #{row}: it comes after row #{previous} (rows reordered or repeated)"
            ),
            Self::Truncated { last, sequence } => {
                let gone = sequence - last.unwrap_or(0);
                let after = last.map_or_else(String::new, |l| format!(" after row #{l}"));
                let rows = if gone == 1 {
                    "the last row was".to_owned()
                } else {
                    format!("the last {gone} rows were")
                };
                write!(
                    f,
                    "audit log broken{after}: SQLite's id sequence reached #{sequence}, so {rows} deleted"
                )
            }
            Self::KeptHeadMissing { hash } => write!(
                f,
                "audit log does not contain the kept head {hash}: rows up to it were deleted or rewritten"
            ),
            Self::Unreadable { line, why } => {
                write!(f, "audit export broken at line {line}: {why}")
            }
            Self::HeadLine { why } => write!(f, "audit export broken: {why}"),
        }
    }
}

/// What verifying a chain found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// Rows verified (before the break, if there is one).
    pub rows: u64,
    /// The last verified row: the head, when the chain is intact.
    pub head: Option<ChainHead>,
    /// The first break; `None` when the chain is intact.
    pub broken: Option<ChainBreak>,
}

impl ChainReport {
    #[must_use]
    pub fn is_intact(&self) -> bool {
        self.broken.is_none()
    }
}

/// Whether `text` is a lowercase hex SHA-256.
fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A walk along rows in id order: each checked against the one before.
struct Walk {
    /// The `prev_hash` the next row must have; `None` until the first row
    /// of an export segment, whose link is checked against its head line.
    expect_prev: Option<String>,
    /// The id the next row must have; `None` likewise.
    expect_id: Option<i64>,
    /// The first row's `prev_hash` (export segments).
    first_prev: Option<String>,
    last: Option<ChainHead>,
    rows: u64,
    kept: Option<String>,
    kept_seen: bool,
    broken: Option<ChainBreak>,
}

impl Walk {
    /// From the first row of the database.
    fn from_genesis(kept: Option<&str>) -> Self {
        Self {
            expect_prev: Some(GENESIS.to_owned()),
            expect_id: Some(1),
            first_prev: None,
            last: None,
            rows: 0,
            kept_seen: kept == Some(GENESIS),
            kept: kept.map(str::to_owned),
            broken: None,
        }
    }

    /// From wherever an export segment starts.
    fn segment(kept: Option<&str>) -> Self {
        Self {
            expect_prev: None,
            expect_id: None,
            kept_seen: false,
            ..Self::from_genesis(kept)
        }
    }

    fn push(&mut self, row: &StoredRow) {
        if self.broken.is_some() {
            return;
        }
        if let Some(broken) = self.check(row) {
            self.broken = Some(broken);
            return;
        }
        let hash = row.hash.clone().unwrap_or_default();
        self.rows += 1;
        if self.kept.as_deref() == Some(hash.as_str()) {
            self.kept_seen = true;
        }
        self.expect_prev = Some(hash.clone());
        self.expect_id = Some(row.id + 1);
        self.last = Some(ChainHead { id: row.id, hash });
    }

    fn check(&mut self, row: &StoredRow) -> Option<ChainBreak> {
        let id = row.id;
        let Some(hash) = row.hash.as_deref().filter(|h| is_sha256(h)) else {
            return Some(ChainBreak::Inserted {
                row: id,
                hash: row.hash.clone(),
            });
        };
        if let Some(last) = &self.last
            && id <= last.id
        {
            return Some(ChainBreak::OutOfOrder {
                row: id,
                previous: last.id,
            });
        }
        if let Some(expected) = self.expect_id
            && id > expected
        {
            return Some(ChainBreak::Missing {
                row: id,
                from: expected,
                to: id - 1,
            });
        }
        let prev = row.prev_hash.as_deref();
        match &self.expect_prev {
            Some(expected) if prev != Some(expected.as_str()) => {
                return Some(ChainBreak::Unlinked {
                    row: id,
                    previous: self.last.as_ref().map(|l| l.id),
                    expected: expected.clone(),
                    found: row.prev_hash.clone(),
                });
            }
            Some(_) => {}
            None => self.first_prev.clone_from(&row.prev_hash),
        }
        let computed = row.link(prev.unwrap_or_default()).hash();
        if computed != hash {
            return Some(ChainBreak::Altered {
                row: id,
                stored: hash.to_owned(),
                computed,
            });
        }
        None
    }

    fn report(self) -> ChainReport {
        let broken = match self.broken {
            None if !self.kept_seen => self.kept.map(|hash| ChainBreak::KeptHeadMissing { hash }),
            broken => broken,
        };
        ChainReport {
            rows: self.rows,
            head: self.last,
            broken,
        }
    }
}

/// One line of an export: a row with every column.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportRow {
    id: i64,
    at: String,
    source: String,
    supplier_id: Option<String>,
    action: String,
    field: Option<String>,
    old_value: Option<String>,
    new_value: Option<String>,
    actor: Option<String>,
    command: Option<String>,
    detail: Option<Value>,
    prev_hash: Option<String>,
    hash: Option<String>,
}

impl ExportRow {
    fn of(row: StoredRow) -> Self {
        Self {
            detail: row.detail_json(),
            id: row.id,
            at: row.at,
            source: row.source,
            supplier_id: row.supplier,
            action: row.action,
            field: row.field,
            old_value: row.old,
            new_value: row.new,
            actor: row.actor,
            command: row.command,
            prev_hash: row.prev_hash,
            hash: row.hash,
        }
    }

    /// Back to the stored columns: `detail` as its canonical text, the
    /// text supplywatch stores.
    fn into_row(self) -> StoredRow {
        StoredRow {
            id: self.id,
            at: self.at,
            source: self.source,
            supplier: self.supplier_id,
            action: self.action,
            field: self.field,
            old: self.old_value,
            new: self.new_value,
            actor: self.actor,
            command: self.command,
            detail: self.detail.as_ref().map(canonical_json),
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }
}

/// The last line of an export.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportHead {
    /// The last row exported; `null` for an empty log.
    head: Option<ChainHead>,
    rows: u64,
    /// `prev_hash` of the first row exported (with no rows: the head's hash).
    first_prev_hash: Option<String>,
    exported_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<NaiveDate>,
}

/// What `audit export` wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditExport {
    pub path: PathBuf,
    pub rows: u64,
    /// The chain's head at the time of the export (its last row).
    pub head: Option<ChainHead>,
    pub first_prev_hash: Option<String>,
}

const SEGMENT_START: &str = "SELECT min(id) FROM audit_log WHERE at >= ?1";

impl Store {
    /// [`Store::verify_audit_against`] with no kept head.
    ///
    /// # Errors
    /// As [`Store::verify_audit_against`].
    pub async fn verify_audit(&self) -> Result<ChainReport, StoreError> {
        self.verify_audit_against(None).await
    }

    /// Walks the whole audit log in id order, in one read transaction (a
    /// consistent snapshot, whatever writes meanwhile), recomputing each
    /// row's hash and checking its link to the row before; then that
    /// SQLite's id sequence has not gone past the last row, and, given
    /// `kept_head` (a lowercase hex hash an auditor kept), that a row with
    /// that hash is still in the chain. Writes nothing. A broken chain is
    /// the report's finding, not an error.
    ///
    /// # Errors
    /// [`StoreError::Unchained`] when no row is chained yet; other
    /// [`StoreError`]s on database failure.
    pub async fn verify_audit_against(
        &self,
        kept_head: Option<&str>,
    ) -> Result<ChainReport, StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        let unchained: bool = sqlx::query_scalar(UNCHAINED)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        if unchained {
            return Err(StoreError::Unchained {
                path: self.path.clone(),
            });
        }
        let mut walk = Walk::from_genesis(kept_head);
        let mut after = i64::MIN;
        while walk.broken.is_none() {
            let rows = self.page(&mut tx, after).await?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            for row in &rows {
                walk.push(row);
            }
        }
        let sequence: Option<i64> = sqlx::query_scalar(SEQUENCE)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        tx.rollback().await.map_err(|e| self.err(e))?;
        if walk.broken.is_none()
            && let Some(sequence) = sequence
        {
            let last = walk.last.as_ref().map(|l| l.id);
            if sequence > last.unwrap_or(0) {
                walk.broken = Some(ChainBreak::Truncated { last, sequence });
            }
        }
        Ok(walk.report())
    }

    /// Writes the audit log — from the first row written on or after
    /// `since` (UTC), else from the first row — through its head to `out`
    /// as JSON Lines (module docs), stamped `now`. Written to a temporary
    /// file in `out`'s folder and renamed into place: `out` is whole or not
    /// there. An existing `out` is left alone unless `replace`.
    ///
    /// # Errors
    /// [`StoreError::Export`] when the file cannot be written or exists;
    /// other [`StoreError`]s on database failure.
    pub async fn export_audit(
        &self,
        since: Option<NaiveDate>,
        out: &Path,
        replace: bool,
        now: DateTime<Utc>,
    ) -> Result<AuditExport, StoreError> {
        let fail = |why: String| StoreError::Export {
            path: out.to_path_buf(),
            why,
        };
        if !replace && out.exists() {
            return Err(fail(
                "it exists already; pass --force to replace it".to_owned(),
            ));
        }
        let folder = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(".audit-export-")
            .tempfile_in(&folder)
            .map_err(|e| fail(format!("cannot create a file in {}: {e}", folder.display())))?;
        let mut writer = BufWriter::new(temp);
        let export = self.write_segment(&mut writer, since, out).await?;
        let line = ExportHead {
            head: export.head.clone(),
            rows: export.rows,
            first_prev_hash: export.first_prev_hash.clone(),
            exported_at: timestamp(now),
            since,
        };
        serde_json::to_writer(&mut writer, &line).map_err(|e| fail(e.to_string()))?;
        writer.write_all(b"\n").map_err(|e| fail(e.to_string()))?;
        persist(writer, out, &folder, replace)?;
        Ok(export)
    }

    /// Writes the rows of the segment `since` asks for to `writer`, in one
    /// read transaction (the head is the head of the rows written), and
    /// says what the head line must say of them.
    async fn write_segment(
        &self,
        writer: &mut impl std::io::Write,
        since: Option<NaiveDate>,
        out: &Path,
    ) -> Result<AuditExport, StoreError> {
        let fail = |why: String| StoreError::Export {
            path: out.to_path_buf(),
            why,
        };
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        let start: Option<i64> = match since {
            Some(day) => sqlx::query_scalar(SEGMENT_START)
                .bind(format!("{day}T00:00:00Z"))
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.err(e))?,
            None => Some(i64::MIN),
        };
        let mut export = AuditExport {
            path: out.to_path_buf(),
            rows: 0,
            head: None,
            first_prev_hash: None,
        };
        let mut after = start.map_or(i64::MAX, |s| s.saturating_sub(1));
        loop {
            let page = self.page(&mut tx, after).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for row in page {
                if export.rows == 0 {
                    export.first_prev_hash.clone_from(&row.prev_hash);
                }
                export.rows += 1;
                export.head = Some(ChainHead {
                    id: row.id,
                    hash: row.hash.clone().unwrap_or_default(),
                });
                serde_json::to_writer(&mut *writer, &ExportRow::of(row))
                    .map_err(|e| fail(e.to_string()))?;
                writer.write_all(b"\n").map_err(|e| fail(e.to_string()))?;
            }
        }
        if export.rows == 0 {
            // Nothing since that day: the segment is empty, and starts and
            // ends at the current head.
            let current: Option<(i64, Option<String>)> = sqlx::query_as(HEAD)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            export.head = current.map(|(id, hash)| ChainHead {
                id,
                hash: hash.unwrap_or_default(),
            });
            export.first_prev_hash = Some(
                export
                    .head
                    .as_ref()
                    .map_or_else(|| GENESIS.to_owned(), |h| h.hash.clone()),
            );
        }
        tx.rollback().await.map_err(|e| self.err(e))?;
        Ok(export)
    }
}

/// Flushes and syncs the temporary file, renames it to `out` (refusing an
/// existing `out` unless `replace`) and syncs the folder, so that the
/// rename survives a power cut.
fn persist(
    writer: BufWriter<tempfile::NamedTempFile>,
    out: &Path,
    folder: &Path,
    replace: bool,
) -> Result<(), StoreError> {
    let fail = |why: String| StoreError::Export {
        path: out.to_path_buf(),
        why,
    };
    let temp = writer
        .into_inner()
        .map_err(|e| fail(e.error().to_string()))?;
    temp.as_file().sync_all().map_err(|e| fail(e.to_string()))?;
    let persisted = if replace {
        temp.persist(out)
    } else {
        temp.persist_noclobber(out)
    };
    persisted.map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            fail("it exists already; pass --force to replace it".to_owned())
        } else {
            fail(e.error.to_string())
        }
    })?;
    std::fs::File::open(folder)
        .and_then(|f| f.sync_all())
        .map_err(|e| fail(format!("{}: {e}", folder.display())))
}

/// Verifies an export file on its own, without a database: every row's
/// hash and link, the ids contiguous, and the head line (the last line)
/// against the rows — their count, the last row, the first row's
/// `prev_hash`. Given `kept_head`, that it is one of the rows' hashes or
/// the segment's `first_prev_hash`. A broken file is the report's
/// finding, not an error.
///
/// # Errors
/// [`StoreError::Export`] when the file cannot be read.
pub fn verify_export(path: &Path, kept_head: Option<&str>) -> Result<ChainReport, StoreError> {
    let fail = |e: std::io::Error| StoreError::Export {
        path: path.to_path_buf(),
        why: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(fail)?;
    let mut walk = Walk::segment(kept_head);
    let mut head: Option<(u64, ExportHead)> = None;
    let mut number: u64 = 0;
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(fail)?;
        number += 1;
        if line.trim().is_empty() {
            continue;
        }
        if let Some((at, _)) = head {
            walk.broken = Some(ChainBreak::Unreadable {
                line: number,
                why: format!("it follows the head line (line {at}), which must be the last"),
            });
            break;
        }
        let unreadable = |why: String| ChainBreak::Unreadable { line: number, why };
        let value: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                walk.broken = Some(unreadable(format!("not JSON: {e}")));
                break;
            }
        };
        if value.get("head").is_some() {
            match serde_json::from_value::<ExportHead>(value) {
                Ok(h) => head = Some((number, h)),
                Err(e) => {
                    walk.broken = Some(unreadable(format!("not a head line: {e}")));
                    break;
                }
            }
            continue;
        }
        match serde_json::from_value::<ExportRow>(value) {
            Ok(row) => walk.push(&row.into_row()),
            Err(e) => {
                walk.broken = Some(unreadable(format!("not an audit row: {e}")));
                break;
            }
        }
        if walk.broken.is_some() {
            break;
        }
    }
    if walk.broken.is_none() {
        walk.broken = head_mismatch(&walk, head.as_ref().map(|(_, h)| h));
    }
    if walk.broken.is_none() && walk.rows == 0 {
        // An empty segment: it ends where it starts, at the head it names.
        walk.last = head.as_ref().and_then(|(_, h)| h.head.clone());
    }
    if walk.broken.is_none()
        && !walk.kept_seen
        && let (Some(kept), Some((_, h))) = (&walk.kept, &head)
        && h.first_prev_hash.as_deref() == Some(kept.as_str())
    {
        walk.kept_seen = true;
    }
    Ok(walk.report())
}

/// Why the head line does not describe the rows walked, if it does not.
fn head_mismatch(walk: &Walk, head: Option<&ExportHead>) -> Option<ChainBreak> {
    let why = |why: String| Some(ChainBreak::HeadLine { why });
    let Some(head) = head else {
        return why("no head line: the file ends without its last line (cut short?)".to_owned());
    };
    if head.rows != walk.rows {
        return why(format!(
            "the head line counts {} rows; the file holds {}",
            head.rows, walk.rows
        ));
    }
    if walk.rows == 0 {
        let start = head.head.as_ref().map_or(GENESIS, |h| h.hash.as_str());
        if head.first_prev_hash.as_deref() != Some(start) {
            return why("an empty export whose first_prev_hash is not its head".to_owned());
        }
        return None;
    }
    if head.head != walk.last {
        return why(format!(
            "the head line names {}; the last row is {}",
            describe(head.head.as_ref()),
            describe(walk.last.as_ref())
        ));
    }
    if walk.first_prev != head.first_prev_hash {
        return why("the first row's prev_hash is not the head line's first_prev_hash".to_owned());
    }
    None
}

fn describe(head: Option<&ChainHead>) -> String {
    head.map_or_else(
        || "no row".to_owned(),
        |h| format!("row #{} {}", h.id, h.hash),
    )
}
