//! Questionnaire bookkeeping (send → answer → review), each step checked
//! against the stored state and written with its audit row in one
//! transaction, and the answered documents, kept content-addressed in a
//! `documents` folder beside the database.

use std::io::{Read as _, Write as _};
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row as _;
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

use super::audit::NewAudit;
use super::{RowError, Store, StoreError, timestamp};
use crate::registry::{Document, Questionnaire, QuestionnaireState, ReviewOutcome};

/// Documents larger than this are refused.
pub const MAX_DOCUMENT_BYTES: u64 = 256 * 1024 * 1024;

/// `questionnaire send`.
#[derive(Debug, Clone)]
pub struct NewQuestionnaire {
    pub supplier: String,
    pub template: String,
    pub sent_on: NaiveDate,
    pub due: NaiveDate,
    pub sent_to: Option<String>,
}

/// `questionnaire review`.
#[derive(Debug, Clone)]
pub struct Review {
    pub reviewed_on: NaiveDate,
    pub score: u8,
    pub reviewer: String,
    pub notes: Option<String>,
    pub outcome: ReviewOutcome,
}

impl Store {
    /// Records that a questionnaire was sent. Refused when the supplier is
    /// unknown or exited, or already has one in progress (not yet reviewed).
    ///
    /// # Errors
    /// [`StoreError::InvalidStep`] for a refused step (nothing changes);
    /// other [`StoreError`]s on database failure.
    pub async fn questionnaire_send(
        &self,
        new: &NewQuestionnaire,
        at: DateTime<Utc>,
        source: &str,
    ) -> Result<Questionnaire, StoreError> {
        if new.due < new.sent_on {
            return Err(self.refuse(format!(
                "the due date {} is before the day it was sent ({})",
                new.due, new.sent_on
            )));
        }
        let mut tx = self.begin_immediate().await?;
        self.require_supplier(&mut tx, &new.supplier).await?;
        if let Some(open) = self.in_progress(&mut tx, &new.supplier).await? {
            return Err(self.refuse(format!(
                "{} already has questionnaire #{} ({}) in progress, {} since {}; review it before sending another",
                new.supplier,
                open.id,
                open.template,
                open.state().as_str(),
                open.answered_on.unwrap_or(open.sent_on)
            )));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO questionnaires (supplier_id, template, sent_on, sent_to, due) \
             VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&new.supplier)
        .bind(&new.template)
        .bind(new.sent_on.to_string())
        .bind(new.sent_to.as_deref())
        .bind(new.due.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let to = new
            .sent_to
            .as_deref()
            .map(|t| format!(" to {t}"))
            .unwrap_or_default();
        let what = format!(
            "#{id} {} sent on {}{to}, due {}",
            new.template, new.sent_on, new.due
        );
        let row = Step {
            supplier: &new.supplier,
            field: "sent",
            old: None,
            new: &what,
            detail: None,
        };
        self.audit_step(&mut tx, at, source, row).await?;
        let q = self.by_id(&mut tx, id).await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(q)
    }

    /// Records the answers to the supplier's questionnaire in progress,
    /// with the document if one was stored (see [`Store::store_document`]).
    ///
    /// # Errors
    /// [`StoreError::InvalidStep`] when nothing was sent, it was answered
    /// already, or `answered_on` is before it was sent; other
    /// [`StoreError`]s on database failure.
    pub async fn questionnaire_answer(
        &self,
        supplier: &str,
        answered_on: NaiveDate,
        document: Option<&Document>,
        at: DateTime<Utc>,
        source: &str,
    ) -> Result<Questionnaire, StoreError> {
        let mut tx = self.begin_immediate().await?;
        let open = self.awaiting_answer(&mut tx, supplier).await?;
        self.answer_date_fits(&open, answered_on)?;
        sqlx::query(
            "UPDATE questionnaires SET answered_on = ?, document_sha256 = ?, document_name = ?, \
             document_size = ? WHERE id = ?",
        )
        .bind(answered_on.to_string())
        .bind(document.map(|d| d.sha256.as_str()))
        .bind(document.map(|d| d.name.as_str()))
        .bind(document.map(|d| i64::try_from(d.size).unwrap_or(i64::MAX)))
        .bind(open.id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let doc = document
            .map(|d| {
                format!(
                    ", document {} ({} bytes, sha256 {})",
                    d.name, d.size, d.sha256
                )
            })
            .unwrap_or_default();
        let what = format!("#{} answered on {answered_on}{doc}", open.id);
        let row = Step {
            supplier,
            field: "answered",
            old: Some("sent"),
            new: &what,
            detail: None,
        };
        self.audit_step(&mut tx, at, source, row).await?;
        let q = self.by_id(&mut tx, open.id).await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(q)
    }

    /// The questionnaire an answer of `supplier` would be recorded on, or
    /// why none would be (the same checks as [`Store::questionnaire_answer`],
    /// writing nothing): lets a caller refuse before copying a document.
    ///
    /// # Errors
    /// As [`Store::questionnaire_answer`].
    pub async fn questionnaire_to_answer(
        &self,
        supplier: &str,
        answered_on: NaiveDate,
    ) -> Result<Questionnaire, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.err(e))?;
        let open = self.awaiting_answer(&mut conn, supplier).await?;
        self.answer_date_fits(&open, answered_on)?;
        Ok(open)
    }

    fn answer_date_fits(
        &self,
        open: &Questionnaire,
        answered_on: NaiveDate,
    ) -> Result<(), StoreError> {
        if answered_on < open.sent_on {
            return Err(self.refuse(format!(
                "questionnaire #{} was sent on {}; it cannot have been answered on {answered_on}",
                open.id, open.sent_on
            )));
        }
        Ok(())
    }

    async fn awaiting_answer(
        &self,
        conn: &mut SqliteConnection,
        supplier: &str,
    ) -> Result<Questionnaire, StoreError> {
        self.require_supplier(conn, supplier).await?;
        let Some(open) = self.in_progress(conn, supplier).await? else {
            return Err(self.refuse(format!(
                "{supplier} has no questionnaire in progress; record one with `questionnaire send` first"
            )));
        };
        if open.state() != QuestionnaireState::Sent {
            return Err(self.refuse(format!(
                "questionnaire #{} of {supplier} was answered already on {}; review it with `questionnaire review`",
                open.id,
                open.answered_on.unwrap_or(open.sent_on)
            )));
        }
        Ok(open)
    }

    /// Records the review of the supplier's answered questionnaire.
    ///
    /// # Errors
    /// [`StoreError::InvalidStep`] when nothing is in progress, it is not
    /// answered yet, or `reviewed_on` is before the answer; other
    /// [`StoreError`]s on database failure.
    pub async fn questionnaire_review(
        &self,
        supplier: &str,
        review: &Review,
        at: DateTime<Utc>,
        source: &str,
    ) -> Result<Questionnaire, StoreError> {
        if review.score > 100 {
            return Err(self.refuse(format!("score {} is out of range: 0 to 100", review.score)));
        }
        let mut tx = self.begin_immediate().await?;
        self.require_supplier(&mut tx, supplier).await?;
        let Some(open) = self.in_progress(&mut tx, supplier).await? else {
            return Err(self.refuse(format!(
                "{supplier} has no questionnaire in progress; record one with `questionnaire send` first"
            )));
        };
        let Some(answered_on) = open.answered_on else {
            return Err(self.refuse(format!(
                "questionnaire #{} of {supplier} has not been answered yet (sent {}, due {}); record the answers with `questionnaire answer` first",
                open.id, open.sent_on, open.due
            )));
        };
        if review.reviewed_on < answered_on {
            return Err(self.refuse(format!(
                "questionnaire #{} was answered on {answered_on}; it cannot have been reviewed on {}",
                open.id, review.reviewed_on
            )));
        }
        sqlx::query(
            "UPDATE questionnaires SET reviewed_on = ?, score = ?, reviewer = ?, notes = ?, \
             outcome = ? WHERE id = ?",
        )
        .bind(review.reviewed_on.to_string())
        .bind(i64::from(review.score))
        .bind(&review.reviewer)
        .bind(review.notes.as_deref())
        .bind(review.outcome.as_str())
        .bind(open.id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let what = format!(
            "#{} reviewed on {} by {}: score {}, {}",
            open.id, review.reviewed_on, review.reviewer, review.score, review.outcome
        );
        let row = Step {
            supplier,
            field: "reviewed",
            old: Some("answered"),
            new: &what,
            detail: Some(serde_json::json!({
                "reviewer": review.reviewer,
                "score": review.score,
                "outcome": review.outcome.as_str(),
            })),
        };
        self.audit_step(&mut tx, at, source, row).await?;
        let q = self.by_id(&mut tx, open.id).await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(q)
    }

    /// Questionnaires, of one supplier or all, oldest first.
    ///
    /// # Errors
    /// [`StoreError`] on database failure or an unreadable row.
    pub async fn questionnaires(
        &self,
        supplier: Option<&str>,
    ) -> Result<Vec<Questionnaire>, StoreError> {
        let rows = sqlx::query(FILTERED)
            .bind(supplier)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        rows.iter().map(|r| self.questionnaire(r)).collect()
    }

    /// Questionnaires in progress (not yet reviewed), over `conn`.
    pub(super) async fn questionnaires_in(
        &self,
        conn: &mut SqliteConnection,
    ) -> Result<Vec<Questionnaire>, StoreError> {
        let rows = sqlx::query(ALL_IN_PROGRESS)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.err(e))?;
        rows.iter().map(|r| self.questionnaire(r)).collect()
    }

    /// Copies the file at `source` into the `documents` folder beside the
    /// database, named by the SHA-256 of its content (a second copy of the
    /// same content is not stored again). Written to a temporary file first
    /// and renamed, so a full disk leaves no half document behind.
    ///
    /// # Errors
    /// [`StoreError::Document`] when the file cannot be read, is larger than
    /// [`MAX_DOCUMENT_BYTES`], or cannot be written.
    pub fn store_document(&self, source: &Path) -> Result<Document, StoreError> {
        let fail = |path: &Path, why: String| StoreError::Document {
            path: path.to_path_buf(),
            why,
        };
        let meta = std::fs::metadata(source).map_err(|e| fail(source, e.to_string()))?;
        if !meta.is_file() {
            return Err(fail(source, "not a regular file".to_owned()));
        }
        if meta.len() > MAX_DOCUMENT_BYTES {
            return Err(fail(
                source,
                format!(
                    "{} bytes is more than the {} MiB a document may have",
                    meta.len(),
                    MAX_DOCUMENT_BYTES / (1024 * 1024)
                ),
            ));
        }
        // Shown in tables and the audit log: one line, no escapes.
        let name = source.file_name().map_or_else(
            || "document".to_owned(),
            |n| {
                n.to_string_lossy()
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .take(255)
                    .collect()
            },
        );
        let folder = self.documents_folder();
        // Owner only, whatever the umask: the documents are the suppliers'
        // answers (each written 0600 by `tempfile`).
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&folder)
            .map_err(|e| fail(&folder, e.to_string()))?;
        let mut input = std::fs::File::open(source).map_err(|e| fail(source, e.to_string()))?;
        let mut temp =
            tempfile::NamedTempFile::new_in(&folder).map_err(|e| fail(&folder, e.to_string()))?;
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        let mut size: u64 = 0;
        let mut buffer = vec![0_u8; 64 * 1024];
        loop {
            let n = input
                .read(&mut buffer)
                .map_err(|e| fail(source, e.to_string()))?;
            if n == 0 {
                break;
            }
            let chunk = buffer.get(..n).unwrap_or_default();
            size += n as u64;
            if size > MAX_DOCUMENT_BYTES {
                return Err(fail(
                    source,
                    "it grew past the size limit while being read".to_owned(),
                ));
            }
            context.update(chunk);
            temp.write_all(chunk)
                .map_err(|e| fail(temp.path(), e.to_string()))?;
        }
        temp.as_file()
            .sync_all()
            .map_err(|e| fail(temp.path(), e.to_string()))?;
        let sha256 = super::runs::hex(context.finish().as_ref());
        let target = folder.join(&sha256);
        if target.is_file() {
            // Same content stored before; the temporary copy goes.
            drop(temp);
        } else {
            temp.persist(&target)
                .map_err(|e| fail(&target, e.error.to_string()))?;
            // The rename survives a power cut once the folder is synced.
            std::fs::File::open(&folder)
                .and_then(|f| f.sync_all())
                .map_err(|e| fail(&folder, e.to_string()))?;
        }
        Ok(Document { sha256, name, size })
    }

    /// Where [`Store::store_document`] keeps documents.
    #[must_use]
    pub fn documents_folder(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.join("documents"),
            _ => PathBuf::from("documents"),
        }
    }

    async fn begin_immediate(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.err(e))
    }

    fn refuse(&self, why: String) -> StoreError {
        StoreError::InvalidStep {
            path: self.path.clone(),
            why,
        }
    }

    /// The supplier must be stored and not exited.
    async fn require_supplier(
        &self,
        conn: &mut SqliteConnection,
        supplier: &str,
    ) -> Result<(), StoreError> {
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM suppliers WHERE id = ?")
                .bind(supplier)
                .fetch_optional(&mut *conn)
                .await
                .map_err(|e| self.err(e))?;
        match status.as_deref() {
            None => Err(self.refuse(format!(
                "no supplier {supplier:?} in the database; check the id (`supplywatch suppliers`) or run `supplywatch sync`"
            ))),
            Some("exited") => Err(self.refuse(format!(
                "{supplier} has exited; questionnaires are kept for suppliers the organisation still works with"
            ))),
            Some(_) => Ok(()),
        }
    }

    async fn in_progress(
        &self,
        conn: &mut SqliteConnection,
        supplier: &str,
    ) -> Result<Option<Questionnaire>, StoreError> {
        let row = sqlx::query(IN_PROGRESS)
            .bind(supplier)
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| self.err(e))?;
        row.map(|r| self.questionnaire(&r)).transpose()
    }

    async fn by_id(
        &self,
        conn: &mut SqliteConnection,
        id: i64,
    ) -> Result<Questionnaire, StoreError> {
        let row = sqlx::query(BY_ID)
            .bind(id)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| self.err(e))?;
        self.questionnaire(&row)
    }

    /// The step's audit row: action `questionnaire`, field = the step.
    async fn audit_step(
        &self,
        conn: &mut SqliteConnection,
        at: DateTime<Utc>,
        source: &str,
        step: Step<'_>,
    ) -> Result<(), StoreError> {
        let row = NewAudit {
            supplier: Some(step.supplier),
            action: "questionnaire",
            field: Some(step.field),
            old: step.old,
            new: Some(step.new),
            detail: step.detail,
        };
        self.append_audit(conn, &timestamp(at), source, &[row])
            .await
    }

    fn questionnaire(&self, row: &SqliteRow) -> Result<Questionnaire, StoreError> {
        let corrupt = |why: String| StoreError::Corrupt {
            path: self.path.clone(),
            why: format!("questionnaires: {why}"),
        };
        let get_err = |e: sqlx::Error| corrupt(e.to_string());
        let date = |col: &str| -> Result<Option<NaiveDate>, StoreError> {
            let text: Option<String> = row.try_get(col).map_err(get_err)?;
            text.map(|t| {
                t.parse::<NaiveDate>()
                    .map_err(|e| corrupt(format!("{col} {t:?}: {e}")))
            })
            .transpose()
        };
        let required = |col: &str| -> Result<NaiveDate, StoreError> {
            date(col)?.ok_or_else(|| corrupt(format!("{col} is empty")))
        };
        let sha256: Option<String> = row.try_get("document_sha256").map_err(get_err)?;
        let name: Option<String> = row.try_get("document_name").map_err(get_err)?;
        let size: Option<i64> = row.try_get("document_size").map_err(get_err)?;
        let document = match (sha256, name, size) {
            (Some(sha256), Some(name), Some(size)) => Some(Document {
                sha256,
                name,
                size: u64::try_from(size).unwrap_or(0),
            }),
            _ => None,
        };
        let outcome: Option<String> = row.try_get("outcome").map_err(get_err)?;
        let score: Option<i64> = row.try_get("score").map_err(get_err)?;
        Ok(Questionnaire {
            id: row.try_get("id").map_err(get_err)?,
            supplier: row.try_get("supplier_id").map_err(get_err)?,
            template: row.try_get("template").map_err(get_err)?,
            sent_on: required("sent_on")?,
            sent_to: row.try_get("sent_to").map_err(get_err)?,
            due: required("due")?,
            answered_on: date("answered_on")?,
            document,
            reviewed_on: date("reviewed_on")?,
            score: score.and_then(|s| u8::try_from(s).ok()),
            reviewer: row.try_get("reviewer").map_err(get_err)?,
            notes: row.try_get("notes").map_err(get_err)?,
            outcome: outcome
                .map(|o| {
                    o.parse::<ReviewOutcome>().map_err(|why| {
                        self.unreadable(RowError::from(why).within("questionnaires"))
                    })
                })
                .transpose()?,
        })
    }
}

/// One questionnaire step, as its audit row records it.
struct Step<'a> {
    supplier: &'a str,
    field: &'a str,
    old: Option<&'a str>,
    new: &'a str,
    detail: Option<serde_json::Value>,
}

/// `SELECT <every questionnaire column> FROM questionnaires <tail>`: one
/// column list for every reader of [`Store::questionnaire`].
macro_rules! select_questionnaires {
    ($tail:literal) => {
        concat!(
            "SELECT id, supplier_id, template, sent_on, sent_to, due, answered_on, \
             document_sha256, document_name, document_size, reviewed_on, score, reviewer, \
             notes, outcome FROM questionnaires ",
            $tail
        )
    };
}

const IN_PROGRESS: &str = select_questionnaires!("WHERE supplier_id = ? AND reviewed_on IS NULL");
const ALL_IN_PROGRESS: &str = select_questionnaires!("WHERE reviewed_on IS NULL ORDER BY id");
const BY_ID: &str = select_questionnaires!("WHERE id = ?");
const FILTERED: &str =
    select_questionnaires!("WHERE (?1 IS NULL OR supplier_id = ?1) ORDER BY sent_on, id");
