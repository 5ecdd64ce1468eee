//! Bringing the stored registry in line with the config, with every change
//! in the audit log of the same transaction.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::audit::NewAudit;
use super::{Store, StoreError, timestamp};
use crate::registry::{Certification, Contract, DEFAULT_RENEWAL_MONTHS, Supplier};

/// The columns compared and audited, in display order.
const FIELDS: [&str; 18] = [
    "name",
    "criticality",
    "status",
    "owner",
    "security_contact",
    "services",
    "domains",
    "endpoints",
    "contract_reference",
    "contract_start",
    "contract_end",
    "contract_notice_days",
    "contract_auto_renew",
    "contract_renewal_months",
    "certifications",
    "exit_plan",
    "lei",
    "country",
];

/// A supplier's stored fields as text, in [`FIELDS`] order: the one
/// representation that both the config and the database are compared in.
type FieldValues = [Option<String>; 18];

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

fn values_of(s: &Supplier) -> FieldValues {
    let c = s.contract.as_ref();
    [
        Some(s.name.clone()),
        Some(s.criticality.as_str().to_owned()),
        Some(s.status.as_str().to_owned()),
        s.owner.as_ref().map(ToString::to_string),
        s.security_contact.as_ref().map(ToString::to_string),
        Some(json(&s.services)),
        Some(json(&s.domains)),
        Some(json(&s.endpoints)),
        c.map(|c| c.reference.clone()),
        c.map(|c| c.start.to_string()),
        c.and_then(|c| c.end.map(|d| d.to_string())),
        c.map(|c| c.notice_days.to_string()),
        c.map(|c| c.auto_renew.to_string()),
        c.map(|c| c.renewal_months.to_string()),
        Some(json(&s.certifications)),
        s.exit_plan.clone(),
        s.lei.clone(),
        s.country.clone(),
    ]
}

fn values_from_row(row: &SqliteRow) -> Result<FieldValues, sqlx::Error> {
    let text = |col: &str| row.try_get::<Option<String>, _>(col);
    let int = |col: &str| row.try_get::<Option<i64>, _>(col);
    Ok([
        text("name")?,
        text("criticality")?,
        text("status")?,
        text("owner")?,
        text("security_contact")?,
        text("services")?,
        text("domains")?,
        text("endpoints")?,
        text("contract_reference")?,
        text("contract_start")?,
        text("contract_end")?,
        int("contract_notice_days")?.map(|n| n.to_string()),
        int("contract_auto_renew")?.map(|b| (b != 0).to_string()),
        int("contract_renewal_months")?.map(|n| n.to_string()),
        text("certifications")?,
        text("exit_plan")?,
        text("lei")?,
        text("country")?,
    ])
}

/// What one sync changed.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub onboarded: Vec<String>,
    /// Supplier id → the fields that changed.
    pub updated: BTreeMap<String, Vec<String>>,
    /// Suppliers that left the config and are now marked exited.
    pub exited: Vec<String>,
    /// Suppliers that had left the config and are back.
    pub reentered: Vec<String>,
    pub unchanged: usize,
}

impl SyncReport {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.onboarded.is_empty()
            && self.updated.is_empty()
            && self.exited.is_empty()
            && self.reentered.is_empty()
    }
}

/// A supplier as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredSupplier {
    pub id: String,
    pub name: String,
    pub criticality: String,
    pub status: String,
    pub owner: Option<String>,
    pub security_contact: Option<String>,
    pub services: Vec<String>,
    pub domains: Vec<String>,
    pub endpoints: Vec<String>,
    pub contract_reference: Option<String>,
    pub contract_start: Option<String>,
    pub contract_end: Option<String>,
    pub contract_notice_days: Option<i64>,
    pub contract_auto_renew: Option<bool>,
    pub contract_renewal_months: Option<i64>,
    pub certifications: Vec<Certification>,
    pub exit_plan: Option<String>,
    pub lei: Option<String>,
    pub country: Option<String>,
    /// False once the supplier has left the config.
    pub in_registry: bool,
    pub onboarded_at: String,
    pub updated_at: String,
}

impl StoredSupplier {
    /// The contract as the registry types hold it; `None` without one (or
    /// with stored dates that no longer parse).
    #[must_use]
    pub fn contract(&self) -> Option<Contract> {
        let date = |d: &Option<String>| d.as_deref().and_then(|d| d.parse().ok());
        Some(Contract {
            reference: self.contract_reference.clone()?,
            start: date(&self.contract_start)?,
            end: date(&self.contract_end),
            notice_days: self
                .contract_notice_days
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0),
            auto_renew: self.contract_auto_renew.unwrap_or(false),
            renewal_months: self
                .contract_renewal_months
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(DEFAULT_RENEWAL_MONTHS),
        })
    }
}

const INSERT: &str = "INSERT INTO suppliers (id, name, criticality, status, owner, security_contact, \
     services, domains, endpoints, contract_reference, contract_start, contract_end, \
     contract_notice_days, contract_auto_renew, contract_renewal_months, certifications, \
     exit_plan, lei, country, in_registry, onboarded_at, updated_at) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)";

const UPDATE: &str = "UPDATE suppliers SET name = ?, criticality = ?, status = ?, owner = ?, \
     security_contact = ?, services = ?, domains = ?, endpoints = ?, contract_reference = ?, \
     contract_start = ?, contract_end = ?, contract_notice_days = ?, contract_auto_renew = ?, \
     contract_renewal_months = ?, certifications = ?, exit_plan = ?, lei = ?, country = ?, in_registry = 1, updated_at = ? \
     WHERE id = ?";

type Query<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

/// Binds the field values in [`FIELDS`] order, typing the integer columns.
fn bind_values<'q>(mut q: Query<'q>, v: &FieldValues) -> Query<'q> {
    for (field, value) in FIELDS.iter().zip(v.iter()) {
        q = match *field {
            "contract_notice_days" | "contract_renewal_months" => {
                q.bind(value.as_ref().and_then(|n| n.parse::<i64>().ok()))
            }
            "contract_auto_renew" => q.bind(value.as_ref().map(|b| i64::from(b == "true"))),
            _ => q.bind(value.clone()),
        };
    }
    q
}

impl Store {
    /// Brings the stored registry in line with `suppliers`: onboards new
    /// ones, updates changed fields, marks those no longer listed as exited
    /// (never deletes). Each change and its audit rows share one transaction;
    /// a second run with the same input changes and logs nothing.
    ///
    /// # Errors
    /// [`StoreError`]; on error nothing of this sync is kept.
    #[expect(
        clippy::too_many_lines,
        reason = "the steps of one transaction, in order; split up they would pass it around"
    )]
    pub async fn sync_registry(
        &self,
        suppliers: &[Supplier],
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<SyncReport, StoreError> {
        let at = timestamp(now);
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.err(e))?;
        let rows = sqlx::query("SELECT * FROM suppliers")
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        let mut stored: BTreeMap<String, (FieldValues, bool)> = BTreeMap::new();
        for row in &rows {
            let id: String = row.try_get("id").map_err(|e| self.err(e))?;
            let in_registry: i64 = row.try_get("in_registry").map_err(|e| self.err(e))?;
            let values = values_from_row(row).map_err(|e| self.err(e))?;
            stored.insert(id, (values, in_registry != 0));
        }

        let mut report = SyncReport::default();
        let mut audit_rows: Vec<Change> = Vec::new();
        let mut listed = BTreeSet::new();
        for supplier in suppliers {
            let id = supplier.id.as_str();
            listed.insert(id.to_owned());
            let new = values_of(supplier);
            match stored.get(id) {
                None => {
                    bind_values(sqlx::query(INSERT).bind(id), &new)
                        .bind(&at)
                        .bind(&at)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| self.err(e))?;
                    audit_rows.push(Change::new(id, "onboard", None, None, Some(json(supplier))));
                    report.onboarded.push(id.to_owned());
                }
                Some((old, in_registry)) => {
                    let changed: Vec<usize> = (0..FIELDS.len())
                        .filter(|i| old.get(*i) != new.get(*i))
                        .collect();
                    if changed.is_empty() && *in_registry {
                        report.unchanged += 1;
                        continue;
                    }
                    bind_values(sqlx::query(UPDATE), &new)
                        .bind(&at)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| self.err(e))?;
                    if !*in_registry {
                        audit_rows.push(Change::new(id, "reenter", None, None, None));
                        report.reentered.push(id.to_owned());
                    }
                    let mut names = Vec::new();
                    for i in changed {
                        let (Some(field), Some(o), Some(n)) =
                            (FIELDS.get(i), old.get(i), new.get(i))
                        else {
                            continue;
                        };
                        audit_rows.push(Change::new(
                            id,
                            "update",
                            Some(*field),
                            o.clone(),
                            n.clone(),
                        ));
                        names.push((*field).to_owned());
                    }
                    if !names.is_empty() {
                        report.updated.insert(id.to_owned(), names);
                    }
                }
            }
        }

        for (id, (old, in_registry)) in &stored {
            if listed.contains(id) || !*in_registry {
                continue;
            }
            sqlx::query(
                "UPDATE suppliers SET status = 'exited', in_registry = 0, updated_at = ? WHERE id = ?",
            )
            .bind(&at)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
            let old_status = old.get(2).cloned().flatten();
            audit_rows.push(Change::new(
                id,
                "exit",
                Some("status"),
                old_status,
                Some("exited".to_owned()),
            ));
            report.exited.push(id.clone());
        }
        let rows: Vec<NewAudit<'_>> = audit_rows.iter().map(Change::row).collect();
        self.append_audit(&mut tx, &at, source, &rows).await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(report)
    }

    /// Every supplier the store knows, including exited ones, by id.
    ///
    /// # Errors
    /// [`StoreError`] on database failure or an unreadable row.
    pub async fn suppliers(&self) -> Result<Vec<StoredSupplier>, StoreError> {
        let rows = sqlx::query("SELECT * FROM suppliers ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        rows.iter().map(|row| self.stored_supplier(row)).collect()
    }

    fn stored_supplier(&self, row: &SqliteRow) -> Result<StoredSupplier, StoreError> {
        let list = |col: &str| -> Result<Vec<String>, StoreError> {
            let text: String = row.try_get(col).map_err(|e| self.err(e))?;
            serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
                path: self.path.clone(),
                why: format!("column {col}: {e}"),
            })
        };
        let get = |e| self.err(e);
        Ok(StoredSupplier {
            id: row.try_get("id").map_err(get)?,
            name: row.try_get("name").map_err(get)?,
            criticality: row.try_get("criticality").map_err(get)?,
            status: row.try_get("status").map_err(get)?,
            owner: row.try_get("owner").map_err(get)?,
            security_contact: row.try_get("security_contact").map_err(get)?,
            services: list("services")?,
            domains: list("domains")?,
            endpoints: list("endpoints")?,
            contract_reference: row.try_get("contract_reference").map_err(get)?,
            contract_start: row.try_get("contract_start").map_err(get)?,
            contract_end: row.try_get("contract_end").map_err(get)?,
            contract_notice_days: row.try_get("contract_notice_days").map_err(get)?,
            contract_auto_renew: row
                .try_get::<Option<i64>, _>("contract_auto_renew")
                .map_err(get)?
                .map(|b| b != 0),
            contract_renewal_months: row.try_get("contract_renewal_months").map_err(get)?,
            certifications: {
                let text: String = row.try_get("certifications").map_err(get)?;
                serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
                    path: self.path.clone(),
                    why: format!("column certifications: {e}"),
                })?
            },
            exit_plan: row.try_get("exit_plan").map_err(get)?,
            lei: row.try_get("lei").map_err(get)?,
            country: row.try_get("country").map_err(get)?,
            in_registry: row.try_get::<i64, _>("in_registry").map_err(get)? != 0,
            onboarded_at: row.try_get("onboarded_at").map_err(get)?,
            updated_at: row.try_get("updated_at").map_err(get)?,
        })
    }
}

/// One audit row of a sync, kept until the sync appends them all.
struct Change {
    supplier: String,
    action: &'static str,
    field: Option<&'static str>,
    old: Option<String>,
    new: Option<String>,
}

impl Change {
    fn new(
        supplier: &str,
        action: &'static str,
        field: Option<&'static str>,
        old: Option<String>,
        new: Option<String>,
    ) -> Self {
        Self {
            supplier: supplier.to_owned(),
            action,
            field,
            old,
            new,
        }
    }

    fn row(&self) -> NewAudit<'_> {
        NewAudit {
            supplier: Some(&self.supplier),
            action: self.action,
            field: self.field,
            old: self.old.as_deref(),
            new: self.new.as_deref(),
            detail: None,
        }
    }
}
