//! Reading the append-only audit log. Rows are written by the operations
//! that cause them (see `registry.rs`), in their transactions.

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError};

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
}

/// Which audit rows to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub supplier: Option<String>,
    /// Entries on or after this day (UTC).
    pub since: Option<NaiveDate>,
}

impl Store {
    /// Audit entries matching `filter`, oldest first.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let since = filter.since.map(|d| format!("{d}T00:00:00Z"));
        let rows = sqlx::query(
            "SELECT id, at, source, supplier_id, action, field, old_value, new_value FROM audit_log \
             WHERE (?1 IS NULL OR supplier_id = ?1) AND (?2 IS NULL OR at >= ?2) ORDER BY id",
        )
        .bind(filter.supplier.as_deref())
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    id: row.try_get("id")?,
                    at: row.try_get("at")?,
                    source: row.try_get("source")?,
                    supplier: row.try_get("supplier_id")?,
                    action: row.try_get("action")?,
                    field: row.try_get("field")?,
                    old: row.try_get("old_value")?,
                    new: row.try_get("new_value")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| self.err(e))
    }
}
