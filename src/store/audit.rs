//! The append-only audit log: the one way rows are appended
//! ([`Store::append_audit`], called by the operations that cause them, in
//! their `BEGIN IMMEDIATE` transactions), attributed to an [`Actor`] and
//! hash-chained; chaining, once, the rows of a database written before the
//! chain existed; and reading the log back. Verifying and exporting the
//! chain are in `chain.rs`.
//!
//! # The chain and its canonical form
//! Every row holds `prev_hash`, the `hash` of the row before it (for the
//! first row, 64 zeros: [`GENESIS`]), and `hash`, the lowercase hex SHA-256
//! of the UTF-8 bytes of the row's *canonical form*: the compact JSON array
//!
//! ```text
//! [id, at, source, supplier_id, action, field, old_value, new_value, actor, command, detail, prev_hash]
//! ```
//!
//! - `id` is a JSON integer; every other member is a JSON string, or `null`
//!   where the column is NULL; `detail` is the column's text *as a string*
//!   (the text itself is compact JSON with object keys sorted, see
//!   [`canonical_json`]), not a nested object;
//! - compact: no space or newline anywhere; strings escaped as JSON
//!   requires and no more: `\"`, `\\`, `\b \f \n \r \t`, other control
//!   characters as `\u00XX` (lowercase hex), everything else as its UTF-8
//!   bytes (no `\/`, no `\uXXXX` for non-ASCII).
//!
//! That is what Python's `json.dumps(row, ensure_ascii=False,
//! separators=(",", ":"))` writes, so an auditor can recompute any hash
//! without supplywatch (README, "audit").
//!
//! Ids are handed out past the highest one SQLite's sequence ever gave the
//! table, so a deleted last row leaves a gap that the next row shows.

use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::Value;
use sqlx::Row as _;
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

use super::findings::batch;
use super::{Store, StoreError};

/// `prev_hash` of the first row of the chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who is changing the database, and through which command: recorded in
/// every audit row the store appends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// An e-mail address, an OS user name, `uid:N`, `daemon@host`.
    pub who: String,
    /// The command as typed, without its values: `sync`, `check --save`,
    /// `questionnaire review`, `run --once`.
    pub command: String,
}

impl Default for Actor {
    /// What a store opened by library code (tests, examples) records.
    fn default() -> Self {
        Self {
            who: "unknown".to_owned(),
            command: "library".to_owned(),
        }
    }
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub source: String,
    pub supplier: Option<String>,
    pub action: String,
    pub field: Option<String>,
    pub old: Option<String>,
    pub new: Option<String>,
    /// Who caused it; `None` on rows written before attribution existed.
    pub actor: Option<String>,
    pub command: Option<String>,
    /// Further attributes (an acceptance's reason, a review's reviewer).
    pub detail: Option<Value>,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

/// Which audit rows to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub supplier: Option<String>,
    /// Entries on or after this day (UTC).
    pub since: Option<NaiveDate>,
}

/// A row to append; `at`, `source` and the actor are the same for every
/// row of one call.
#[derive(Debug, Clone)]
pub(super) struct NewAudit<'a> {
    pub supplier: Option<&'a str>,
    pub action: &'a str,
    pub field: Option<&'a str>,
    pub old: Option<&'a str>,
    pub new: Option<&'a str>,
    pub detail: Option<Value>,
}

/// The columns of one row that its hash covers, borrowed.
#[derive(Debug, Clone, Copy)]
pub(super) struct Link<'a> {
    pub id: i64,
    pub at: &'a str,
    pub source: &'a str,
    pub supplier: Option<&'a str>,
    pub action: &'a str,
    pub field: Option<&'a str>,
    pub old: Option<&'a str>,
    pub new: Option<&'a str>,
    pub actor: Option<&'a str>,
    pub command: Option<&'a str>,
    /// The stored text, as it is.
    pub detail: Option<&'a str>,
    pub prev_hash: &'a str,
}

impl Link<'_> {
    /// The canonical form (module docs).
    pub fn canonical(&self) -> String {
        let members = (
            self.id,
            self.at,
            self.source,
            self.supplier,
            self.action,
            self.field,
            self.old,
            self.new,
            self.actor,
            self.command,
            self.detail,
            self.prev_hash,
        );
        // Integers, strings and nulls always serialise.
        serde_json::to_string(&members).unwrap_or_default()
    }

    /// Lowercase hex SHA-256 of [`Link::canonical`].
    pub fn hash(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, self.canonical().as_bytes());
        super::runs::hex(digest.as_ref())
    }
}

/// Compact JSON with object keys sorted (by code point), whatever order the
/// map keeps them in: the text stored in `detail`, and the one an export's
/// `detail` object is hashed as.
#[must_use]
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(key).unwrap_or_default());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&serde_json::to_string(scalar).unwrap_or_default()),
    }
}

/// `[id, source, supplier_id, action, field, old_value, new_value, actor,
/// command, detail, prev_hash, hash]`, one element of the batch (`?2` = at).
type BatchRow<'a> = (
    i64,
    &'a str,
    Option<&'a str>,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    &'a str,
    &'a str,
    Option<String>,
    String,
    String,
);

const INSERT: &str = "INSERT INTO audit_log (id, at, source, supplier_id, action, field, \
     old_value, new_value, actor, command, detail, prev_hash, hash) \
     SELECT value ->> 0, ?2, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
     value ->> 6, value ->> 7, value ->> 8, value ->> 9, value ->> 10, value ->> 11 \
     FROM jsonb_each(?1)";

/// The row with the highest id: where the next row links on.
pub(super) const HEAD: &str = "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1";

/// The highest id SQLite ever gave the table (deleted rows included).
pub(super) const SEQUENCE: &str = "SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'";

/// Whether the database holds rows, none of them chained yet and none
/// attributed: a database written before the chain existed. (Rows that name
/// an actor were written with the chain: if none of them has a hash any
/// more, the hashes were removed, and chaining them again would hide that.)
pub(super) const UNCHAINED: &str = "SELECT EXISTS (SELECT 1 FROM audit_log) \
     AND NOT EXISTS (SELECT 1 FROM audit_log WHERE hash IS NOT NULL) \
     AND NOT EXISTS (SELECT 1 FROM audit_log WHERE actor IS NOT NULL)";

const CHAIN_ROWS: &str = "UPDATE audit_log SET prev_hash = j.value ->> 1, hash = j.value ->> 2 \
     FROM jsonb_each(?1) AS j WHERE audit_log.id = j.value ->> 0";

/// Rows read at a time when the whole log is walked.
pub(super) const PAGE: i64 = 5_000;

impl Store {
    /// Records `actor` in every audit row this store appends from now on.
    #[must_use]
    pub fn with_actor(mut self, actor: Actor) -> Self {
        self.set_actor(actor);
        self
    }

    /// As [`Store::with_actor`], in place.
    pub fn set_actor(&mut self, actor: Actor) {
        self.actor = Arc::new(actor);
    }

    /// Who this store's audit rows are attributed to.
    #[must_use]
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// Appends `rows` to the audit log over `conn`, which must be inside a
    /// `BEGIN IMMEDIATE` transaction (so the head read here is still the
    /// head when the rows land): each row linked to the one before, hashed
    /// (module docs), attributed to the store's actor. Batched: thousands
    /// of rows cost a few statements.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the last row has no hash to link to
    /// (`audit verify` tells more); other [`StoreError`]s on database failure.
    pub(super) async fn append_audit(
        &self,
        conn: &mut SqliteConnection,
        at: &str,
        source: &str,
        rows: &[NewAudit<'_>],
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let head: Option<(i64, Option<String>)> = sqlx::query_as(HEAD)
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| self.err(e))?;
        let sequence: Option<i64> = sqlx::query_scalar(SEQUENCE)
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| self.err(e))?;
        let (mut last_id, mut prev) = match head {
            None => (0, GENESIS.to_owned()),
            Some((id, Some(hash))) => (id, hash),
            Some((id, None)) => {
                return Err(StoreError::Corrupt {
                    path: self.path.clone(),
                    why: format!(
                        "audit_log row #{id} has no hash, so nothing can be chained after it; \
                         `supplywatch audit verify` tells more"
                    ),
                });
            }
        };
        last_id = last_id.max(sequence.unwrap_or(0));
        let actor = self.actor.as_ref();
        let mut batch_rows: Vec<BatchRow<'_>> = Vec::with_capacity(rows.len());
        for row in rows {
            last_id += 1;
            let detail = row.detail.as_ref().map(canonical_json);
            let hash = Link {
                id: last_id,
                at,
                source,
                supplier: row.supplier,
                action: row.action,
                field: row.field,
                old: row.old,
                new: row.new,
                actor: Some(&actor.who),
                command: Some(&actor.command),
                detail: detail.as_deref(),
                prev_hash: &prev,
            }
            .hash();
            let prev_hash = std::mem::replace(&mut prev, hash.clone());
            batch_rows.push((
                last_id,
                source,
                row.supplier,
                row.action,
                row.field,
                row.old,
                row.new,
                &actor.who,
                &actor.command,
                detail,
                prev_hash,
                hash,
            ));
        }
        batch(conn, INSERT, &batch_rows, Some(at))
            .await
            .map_err(|e| self.err(e))
    }

    /// Chains the rows of a database written before the chain existed, in
    /// id order, and records that it did so in a row of its own — once: in
    /// a `BEGIN IMMEDIATE` transaction that first checks that no row is
    /// chained yet, so a second process opening the database at the same
    /// time finds nothing to do. Rows without a hash after chained ones are
    /// not chained here: they were written outside supplywatch, and
    /// `audit verify` names them.
    pub(super) async fn chain_unchained(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        let pending: bool = sqlx::query_scalar(UNCHAINED)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        if !pending {
            return Ok(());
        }
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.err(e))?;
        let pending: bool = sqlx::query_scalar(UNCHAINED)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        if !pending {
            tx.rollback().await.map_err(|e| self.err(e))?;
            return Ok(());
        }
        let mut prev = GENESIS.to_owned();
        let mut chained: u64 = 0;
        let mut after = i64::MIN;
        loop {
            let rows = self.page(&mut tx, after).await?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            let mut links: Vec<(i64, String, String)> = Vec::with_capacity(rows.len());
            for row in &rows {
                let hash = row.link(&prev).hash();
                links.push((row.id, std::mem::replace(&mut prev, hash.clone()), hash));
            }
            chained += links.len() as u64;
            batch(&mut tx, CHAIN_ROWS, &links, None)
                .await
                .map_err(|e| self.err(e))?;
        }
        let what = format!("chained {chained} rows written before the chain existed");
        let at = super::timestamp(now);
        let row = NewAudit {
            supplier: None,
            action: "audit_chain",
            field: None,
            old: None,
            new: Some(&what),
            detail: None,
        };
        self.append_audit(&mut tx, &at, "migration 0007", &[row])
            .await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        tracing::info!(
            rows = chained,
            "audit log: chained the rows written before the chain existed"
        );
        Ok(())
    }

    /// Up to [`PAGE`] rows with an id above `after`, in id order.
    pub(super) async fn page(
        &self,
        conn: &mut SqliteConnection,
        after: i64,
    ) -> Result<Vec<StoredRow>, StoreError> {
        const PAGE_SQL: &str = concat!(
            "SELECT id, at, source, supplier_id, action, field, old_value, new_value, ",
            "actor, command, detail, prev_hash, hash FROM audit_log WHERE id > ?1 ",
            "ORDER BY id LIMIT ?2"
        );
        let rows = sqlx::query(PAGE_SQL)
            .bind(after)
            .bind(PAGE)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.err(e))?;
        rows.iter()
            .map(StoredRow::read)
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// Audit entries matching `filter`, oldest first.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        const FILTERED: &str = concat!(
            "SELECT id, at, source, supplier_id, action, field, old_value, new_value, ",
            "actor, command, detail, prev_hash, hash FROM audit_log ",
            "WHERE (?1 IS NULL OR supplier_id = ?1) AND (?2 IS NULL OR at >= ?2) ORDER BY id"
        );
        let since = filter.since.map(|d| format!("{d}T00:00:00Z"));
        let rows = sqlx::query(FILTERED)
            .bind(filter.supplier.as_deref())
            .bind(since)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|row| StoredRow::read(row).map(StoredRow::into_entry))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| self.err(e))
    }
}

/// One row as stored, every column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StoredRow {
    pub id: i64,
    pub at: String,
    pub source: String,
    pub supplier: Option<String>,
    pub action: String,
    pub field: Option<String>,
    pub old: Option<String>,
    pub new: Option<String>,
    pub actor: Option<String>,
    pub command: Option<String>,
    pub detail: Option<String>,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

impl StoredRow {
    fn read(row: &SqliteRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            at: row.try_get("at")?,
            source: row.try_get("source")?,
            supplier: row.try_get("supplier_id")?,
            action: row.try_get("action")?,
            field: row.try_get("field")?,
            old: row.try_get("old_value")?,
            new: row.try_get("new_value")?,
            actor: row.try_get("actor")?,
            command: row.try_get("command")?,
            detail: row.try_get("detail")?,
            prev_hash: row.try_get("prev_hash")?,
            hash: row.try_get("hash")?,
        })
    }

    /// The columns the hash covers, linked to `prev_hash`.
    pub fn link<'a>(&'a self, prev_hash: &'a str) -> Link<'a> {
        Link {
            id: self.id,
            at: &self.at,
            source: &self.source,
            supplier: self.supplier.as_deref(),
            action: &self.action,
            field: self.field.as_deref(),
            old: self.old.as_deref(),
            new: self.new.as_deref(),
            actor: self.actor.as_deref(),
            command: self.command.as_deref(),
            detail: self.detail.as_deref(),
            prev_hash,
        }
    }

    /// `detail` as JSON; text that is not JSON (written by hand) as a string.
    pub fn detail_json(&self) -> Option<Value> {
        self.detail.as_deref().map(|text| {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
        })
    }

    fn into_entry(self) -> AuditEntry {
        let detail = self.detail_json();
        AuditEntry {
            id: self.id,
            at: self.at,
            source: self.source,
            supplier: self.supplier,
            action: self.action,
            field: self.field,
            old: self.old,
            new: self.new,
            actor: self.actor,
            command: self.command,
            detail,
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sample<'a>(detail: Option<&'a str>, prev_hash: &'a str) -> Link<'a> {
        Link {
            id: 7,
            at: "2026-03-02T12:00:00Z",
            source: "sync /etc/supplywatch/supplywatch.toml",
            supplier: Some("acme"),
            action: "update",
            field: Some("name"),
            old: Some("Acme \"Cloud\"\n"),
            new: Some("Äcme/Cloud"),
            actor: Some("alice@bank.example"),
            command: Some("sync"),
            detail,
            prev_hash,
        }
    }

    /// The canonical form and hash of a known row: if either changes,
    /// every chain already written stops verifying. Recomputed outside
    /// supplywatch with Python's `json.dumps(row, ensure_ascii=False,
    /// separators=(",", ":"))` and `hashlib.sha256`, as the README tells
    /// auditors to.
    #[test]
    fn canonical_form_and_hash_of_a_known_row() {
        let detail = canonical_json(&json!({"until": "2026-12-31", "reason": "tab\there"}));
        assert_eq!(detail, r#"{"reason":"tab\there","until":"2026-12-31"}"#);
        let link = sample(Some(&detail), GENESIS);
        assert_eq!(
            link.canonical(),
            concat!(
                r#"[7,"2026-03-02T12:00:00Z","sync /etc/supplywatch/supplywatch.toml","acme","#,
                r#""update","name","Acme \"Cloud\"\n","Äcme/Cloud","alice@bank.example","sync","#,
                r#""{\"reason\":\"tab\\there\",\"until\":\"2026-12-31\"}","#,
                r#""0000000000000000000000000000000000000000000000000000000000000000"]"#
            )
        );
        assert_eq!(link.hash(), EXPECTED_HASH);

        let bare = Link {
            supplier: None,
            field: None,
            old: None,
            actor: None,
            command: None,
            ..sample(None, EXPECTED_HASH)
        };
        assert_eq!(
            bare.canonical(),
            format!(
                r#"[7,"2026-03-02T12:00:00Z","sync /etc/supplywatch/supplywatch.toml",null,"update",null,null,"Äcme/Cloud",null,null,null,"{EXPECTED_HASH}"]"#
            )
        );
        assert_eq!(bare.hash(), EXPECTED_BARE_HASH);
    }

    const EXPECTED_HASH: &str = "97e67e86efa88d8a4ce1abd8ccd2a0f0adcef55801a3c7d76739220884b08b4e";
    const EXPECTED_BARE_HASH: &str =
        "6394f288cd9942b6877033d57a159cf75e9a6e448cd802ca047e2359fc9ef2d4";

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let value = json!({"b": [{"z": 1, "a": null}], "a": {"y": true, "x": "\u{1}"}});
        assert_eq!(
            canonical_json(&value),
            r#"{"a":{"x":"\u0001","y":true},"b":[{"a":null,"z":1}]}"#
        );
    }
}
