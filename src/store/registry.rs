//! Bringing the stored registry in line with the config, with every change
//! in the audit log of the same transaction.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::Row as _;
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

use super::audit::NewAudit;
use super::{RowError, Store, StoreError, timestamp};
use crate::lifecycle::{FindingKey, Resolution, Row};
use crate::registry::{
    Acceptance, Certification, Contract, Criticality, DEFAULT_RENEWAL_MONTHS, Severity, Supplier,
    SupplierStatus,
};

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
    /// Accepted risks added, changed or removed (`add acme tls.no_tls13` …).
    pub acceptances: Vec<String>,
    /// Severity overrides added, changed or removed.
    pub overrides: usize,
    /// Findings resolved because their target left the registry or their
    /// supplier exited.
    pub resolved: Vec<FindingKey>,
    /// Findings now accepted / back to open as the acceptances say.
    pub accepted: Vec<FindingKey>,
    pub unaccepted: Vec<FindingKey>,
}

impl SyncReport {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.onboarded.is_empty()
            && self.updated.is_empty()
            && self.exited.is_empty()
            && self.reentered.is_empty()
            && self.acceptances.is_empty()
            && self.overrides == 0
            && self.resolved.is_empty()
            && self.accepted.is_empty()
            && self.unaccepted.is_empty()
    }
}

/// A supplier as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredSupplier {
    pub id: String,
    pub name: String,
    pub criticality: Criticality,
    pub status: SupplierStatus,
    pub owner: Option<String>,
    pub security_contact: Option<String>,
    pub services: Vec<String>,
    pub domains: Vec<String>,
    pub endpoints: Vec<String>,
    pub contract_reference: Option<String>,
    pub contract_start: Option<NaiveDate>,
    pub contract_end: Option<NaiveDate>,
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
    /// The contract as the registry types hold it; `None` without one.
    #[must_use]
    pub fn contract(&self) -> Option<Contract> {
        Some(Contract {
            reference: self.contract_reference.clone()?,
            start: self.contract_start?,
            end: self.contract_end,
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

    /// Its deadlines as of `today` (notice, contract end or renewal,
    /// certification expiry, questionnaire due dates, the next questionnaire
    /// by cadence), earliest first; past ones included. `questionnaires`
    /// are its own (see [`crate::registry::questionnaires_by_supplier`]).
    #[must_use]
    pub fn deadlines(
        &self,
        questionnaires: &[crate::registry::Questionnaire],
        today: NaiveDate,
        cadence: &crate::config::QuestionnaireConfig,
    ) -> Vec<crate::checks::paperwork::Deadline> {
        let contract = self.contract();
        crate::checks::paperwork::Paperwork {
            supplier: &self.id,
            criticality: self.criticality,
            status: self.status,
            contract: contract.as_ref(),
            certifications: &self.certifications,
            questionnaires,
            missing_fields: &[],
        }
        .deadlines(today, cadence)
    }
}

/// Configuration-driven state [`Store::sync`] brings into the record with
/// the suppliers.
#[derive(Debug, Clone, Copy)]
pub struct RegistryPolicy<'a> {
    /// `[[accept]]`.
    pub acceptances: &'a [Acceptance],
    /// `[findings] severity` (each supplier's own is in its [`Supplier`]).
    pub severity: &'a BTreeMap<crate::registry::CheckId, Severity>,
}

/// An accepted risk as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredAcceptance {
    pub supplier: String,
    pub check: String,
    /// `None`: every target of the supplier.
    pub target: Option<String>,
    /// The last day it holds.
    pub until: NaiveDate,
    pub reason: String,
    pub approved_by: String,
}

impl StoredAcceptance {
    /// Whether it names the finding of `check` on `target` of `supplier`,
    /// whatever the day.
    #[must_use]
    pub fn names(&self, supplier: &str, check: &str, target: &str) -> bool {
        self.supplier == supplier
            && self.check == check
            && self.target.as_deref().is_none_or(|t| t == target)
    }
}

/// The last [`Store::sync`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastSync {
    pub at: DateTime<Utc>,
    pub source: String,
    pub fingerprint: String,
}

/// Whose findings a sync resolves: targets dropped from a supplier's entry,
/// and suppliers that exited.
#[derive(Debug, Default)]
struct Retired {
    targets: BTreeMap<String, BTreeSet<String>>,
    exited: BTreeSet<String>,
}

impl Retired {
    /// Notes what changed between a supplier's stored and new fields.
    fn note(&mut self, id: &str, old: &FieldValues, new: &FieldValues) {
        let exited = |v: &FieldValues| v.get(2).and_then(Option::as_deref) == Some("exited");
        if exited(new) && !exited(old) {
            self.exited.insert(id.to_owned());
            return;
        }
        let kept = targets_of(new);
        let dropped: BTreeSet<String> = targets_of(old)
            .into_iter()
            .filter(|t| !kept.contains(t))
            .collect();
        if !dropped.is_empty() {
            self.targets.insert(id.to_owned(), dropped);
        }
    }

    fn of(&self, row: &Row) -> Option<Resolution> {
        if self.exited.contains(&row.supplier) {
            return Some(Resolution::SupplierExited);
        }
        self.targets
            .get(&row.supplier)
            .is_some_and(|t| t.contains(&row.target))
            .then_some(Resolution::TargetRemoved)
    }
}

/// An acceptance as its audit rows show it (old and new values).
fn acceptance_entry(target: Option<&str>, until: &str, reason: &str, approved_by: &str) -> String {
    serde_json::json!({
        "target": target,
        "until": until,
        "reason": reason,
        "approved_by": approved_by,
    })
    .to_string()
}

/// The targets a supplier's fields name: endpoints (`host:port`), domains,
/// the contract reference and certification kinds.
fn targets_of(v: &FieldValues) -> BTreeSet<String> {
    let list = |i: usize| -> Vec<String> {
        v.get(i)
            .and_then(Option::as_deref)
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    };
    let mut out: BTreeSet<String> = list(6).into_iter().chain(list(7)).collect();
    out.extend(v.get(8).cloned().flatten());
    let certs: Vec<Certification> = v
        .get(14)
        .and_then(Option::as_deref)
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default();
    out.extend(certs.into_iter().map(|c| c.kind));
    out
}

/// A digest of what [`Store::sync`] stores from a config: every supplier
/// field, the severity overrides and the acceptances. Read commands compare
/// it with the stored one to tell that their config is not the one synced.
#[must_use]
pub fn fingerprint(suppliers: &[Supplier], policy: &RegistryPolicy<'_>) -> String {
    let mut sorted: Vec<&Supplier> = suppliers.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let mut acceptances: Vec<serde_json::Value> = policy
        .acceptances
        .iter()
        .map(|a| {
            serde_json::json!([
                a.supplier,
                a.check,
                a.target,
                a.until.to_string(),
                a.reason,
                a.approved_by.to_string()
            ])
        })
        .collect();
    acceptances.sort_by_key(ToString::to_string);
    let doc = serde_json::json!({
        "suppliers": sorted
            .iter()
            .map(|s| serde_json::json!([values_of(s), s.severity]))
            .collect::<Vec<_>>(),
        "severity": policy.severity,
        "acceptances": acceptances,
    });
    let digest = ring::digest::digest(&ring::digest::SHA256, doc.to_string().as_bytes());
    super::runs::hex(digest.as_ref())
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
    /// Brings the stored suppliers in line with `suppliers` (acceptances
    /// and severity overrides stay as stored; [`Store::sync`] brings those
    /// too): onboards new ones, updates changed fields, marks those no
    /// longer listed as exited (never deletes), and resolves the findings of
    /// targets the registry dropped and of suppliers that exited. Each
    /// change and its audit rows share one transaction; a second run with
    /// the same input changes and logs nothing.
    ///
    /// # Errors
    /// [`StoreError`]; on error nothing of this sync is kept.
    pub async fn sync_registry(
        &self,
        suppliers: &[Supplier],
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<SyncReport, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.err(e))?;
        let (mut report, retired) = self
            .sync_suppliers_in(&mut tx, suppliers, source, now)
            .await?;
        let settled = self
            .settle_in(&mut tx, now, source, &|row| retired.of(row), None)
            .await?;
        report.resolved = settled.resolved;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(report)
    }

    /// Brings the whole registry in line with the config: the suppliers
    /// (as [`Store::sync_registry`]), the accepted risks and the severity
    /// overrides (each added, changed or removed entry an audit row with
    /// its reason, approver and end date), the findings those move (open ↔
    /// accepted as the acceptances say today), and the fingerprint read
    /// commands compare their config with. One transaction.
    ///
    /// # Errors
    /// [`StoreError`]; on error nothing of this sync is kept.
    pub async fn sync(
        &self,
        suppliers: &[Supplier],
        policy: &RegistryPolicy<'_>,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<SyncReport, StoreError> {
        let at = timestamp(now);
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.err(e))?;
        let (mut report, retired) = self
            .sync_suppliers_in(&mut tx, suppliers, source, now)
            .await?;
        report.acceptances = self
            .sync_acceptances_in(&mut tx, policy.acceptances, source, &at)
            .await?;
        report.overrides = self
            .sync_overrides_in(&mut tx, suppliers, policy.severity, source, &at)
            .await?;
        let settled = self
            .settle_in(
                &mut tx,
                now,
                source,
                &|row| retired.of(row),
                Some(policy.acceptances),
            )
            .await?;
        report.resolved = settled.resolved;
        report.accepted = settled.accepted;
        report.unaccepted = settled.unaccepted;
        let print = fingerprint(suppliers, policy);
        let stored: Option<String> =
            sqlx::query_scalar("SELECT fingerprint FROM registry_sync WHERE id = 1")
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        if stored.as_deref() != Some(print.as_str()) {
            sqlx::query(
                "INSERT INTO registry_sync (id, at, source, fingerprint) VALUES (1, ?1, ?2, ?3) \
                 ON CONFLICT (id) DO UPDATE SET at = ?1, source = ?2, fingerprint = ?3",
            )
            .bind(&at)
            .bind(source)
            .bind(&print)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(report)
    }

    /// Appends one audit row in the caller's transaction (see
    /// [`Store::append_audit`]: attributed and chained).
    #[expect(clippy::too_many_arguments, reason = "the columns of one audit row")]
    async fn audit_one(
        &self,
        tx: &mut SqliteConnection,
        at: &str,
        source: &str,
        supplier: Option<&str>,
        action: &str,
        field: Option<&str>,
        old: Option<&str>,
        new: Option<&str>,
    ) -> Result<(), StoreError> {
        let row = NewAudit {
            supplier,
            action,
            field,
            old,
            new,
            detail: None,
        };
        self.append_audit(tx, at, source, &[row]).await
    }

    /// When the registry was last synced with [`Store::sync`], from where,
    /// and its fingerprint; `None` before the first.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn last_sync(&self) -> Result<Option<LastSync>, StoreError> {
        let row = sqlx::query("SELECT at, source, fingerprint FROM registry_sync WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        row.map(|r| {
            let at: String = r.try_get("at").map_err(|e| self.err(e))?;
            Ok(LastSync {
                at: super::parse_timestamp(&at).map_err(|why| self.unreadable(why))?,
                source: r.try_get("source").map_err(|e| self.err(e))?,
                fingerprint: r.try_get("fingerprint").map_err(|e| self.err(e))?,
            })
        })
        .transpose()
    }

    /// The suppliers' part of a sync, in the caller's transaction; returns
    /// what it changed and whose findings it retires.
    #[expect(
        clippy::too_many_lines,
        reason = "the steps of one transaction, in order; split up they would pass it around"
    )]
    async fn sync_suppliers_in(
        &self,
        tx: &mut SqliteConnection,
        suppliers: &[Supplier],
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<(SyncReport, Retired), StoreError> {
        let at = timestamp(now);
        let mut retired = Retired::default();
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
                    let snapshot = json(supplier);
                    self.audit_one(
                        &mut *tx,
                        &at,
                        source,
                        Some(id),
                        "onboard",
                        None,
                        None,
                        Some(&snapshot),
                    )
                    .await?;
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
                    retired.note(id, old, &new);
                    bind_values(sqlx::query(UPDATE), &new)
                        .bind(&at)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| self.err(e))?;
                    if !*in_registry {
                        self.audit_one(
                            &mut *tx,
                            &at,
                            source,
                            Some(id),
                            "reenter",
                            None,
                            None,
                            None,
                        )
                        .await?;
                        report.reentered.push(id.to_owned());
                    }
                    let mut names = Vec::new();
                    for i in changed {
                        let (Some(field), Some(o), Some(n)) =
                            (FIELDS.get(i), old.get(i), new.get(i))
                        else {
                            continue;
                        };
                        self.audit_one(
                            &mut *tx,
                            &at,
                            source,
                            Some(id),
                            "update",
                            Some(field),
                            o.as_deref(),
                            n.as_deref(),
                        )
                        .await?;
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
            self.audit_one(
                &mut *tx,
                &at,
                source,
                Some(id),
                "exit",
                Some("status"),
                old_status.as_deref(),
                Some("exited"),
            )
            .await?;
            report.exited.push(id.clone());
            retired.exited.insert(id.clone());
        }
        Ok((report, retired))
    }

    /// The acceptances' part of [`Store::sync`]: each entry added,
    /// changed or removed is written with an audit row (`acceptance_add`,
    /// `acceptance_change`, `acceptance_remove`; field = check id, old/new =
    /// the entry's target, until, reason and approver as JSON).
    #[expect(
        clippy::too_many_lines,
        reason = "load, compare, write each change with its audit row: one pass reads best"
    )]
    async fn sync_acceptances_in(
        &self,
        tx: &mut SqliteConnection,
        acceptances: &[Acceptance],
        source: &str,
        at: &str,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT supplier_id, check_id, target, until, reason, approved_by FROM acceptances",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let mut stored: BTreeMap<(String, String, String), String> = BTreeMap::new();
        for row in &rows {
            let get = |col: &str| row.try_get::<String, _>(col).map_err(|e| self.err(e));
            let key = (get("supplier_id")?, get("check_id")?, get("target")?);
            let target = (!key.2.is_empty()).then(|| key.2.clone());
            let entry = acceptance_entry(
                target.as_deref(),
                &get("until")?,
                &get("reason")?,
                &get("approved_by")?,
            );
            stored.insert(key, entry);
        }
        let mut wanted: BTreeMap<(String, String, String), (&Acceptance, String)> = BTreeMap::new();
        for a in acceptances {
            let key = (
                a.supplier.to_string(),
                a.check.as_str().to_owned(),
                a.target.clone().unwrap_or_default(),
            );
            let entry = acceptance_entry(
                a.target.as_deref(),
                &a.until.to_string(),
                &a.reason,
                &a.approved_by.to_string(),
            );
            // The same risk accepted twice: the later entry counts.
            wanted.insert(key, (a, entry));
        }
        let mut changes = Vec::new();
        for (key, (a, entry)) in &wanted {
            let action = match stored.get(key) {
                Some(old) if old == entry => continue,
                Some(_) => "acceptance_change",
                None => "acceptance_add",
            };
            sqlx::query(
                "INSERT INTO acceptances (supplier_id, check_id, target, until, reason, approved_by, synced_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (supplier_id, check_id, target) \
                 DO UPDATE SET until = ?4, reason = ?5, approved_by = ?6, synced_at = ?7",
            )
            .bind(&key.0)
            .bind(&key.1)
            .bind(&key.2)
            .bind(a.until.to_string())
            .bind(&a.reason)
            .bind(a.approved_by.to_string())
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
            self.audit_one(
                &mut *tx,
                at,
                source,
                Some(&key.0),
                action,
                Some(&key.1),
                stored.get(key).map(String::as_str),
                Some(entry),
            )
            .await?;
            changes.push(format!(
                "{} {} {}",
                action.trim_start_matches("acceptance_"),
                key.0,
                key.1
            ));
        }
        for (key, old) in &stored {
            if wanted.contains_key(key) {
                continue;
            }
            sqlx::query(
                "DELETE FROM acceptances WHERE supplier_id = ?1 AND check_id = ?2 AND target = ?3",
            )
            .bind(&key.0)
            .bind(&key.1)
            .bind(&key.2)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
            self.audit_one(
                &mut *tx,
                at,
                source,
                Some(&key.0),
                "acceptance_remove",
                Some(&key.1),
                Some(old),
                None,
            )
            .await?;
            changes.push(format!("remove {} {}", key.0, key.1));
        }
        Ok(changes)
    }

    /// The severity overrides' part of [`Store::sync`]: `[findings]
    /// severity` (stored under supplier `''`, audited without a supplier)
    /// and each supplier's own; each change an audit row
    /// (`severity_override`; field = check id, old/new = severity).
    async fn sync_overrides_in(
        &self,
        tx: &mut SqliteConnection,
        suppliers: &[Supplier],
        global: &BTreeMap<crate::registry::CheckId, Severity>,
        source: &str,
        at: &str,
    ) -> Result<usize, StoreError> {
        let rows = sqlx::query("SELECT supplier_id, check_id, severity FROM severity_overrides")
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        let mut stored: BTreeMap<(String, String), String> = BTreeMap::new();
        for row in &rows {
            let get = |col: &str| row.try_get::<String, _>(col).map_err(|e| self.err(e));
            stored.insert((get("supplier_id")?, get("check_id")?), get("severity")?);
        }
        let mut wanted: BTreeMap<(String, String), String> = global
            .iter()
            .map(|(check, sev)| {
                (
                    (String::new(), check.as_str().to_owned()),
                    sev.as_str().to_owned(),
                )
            })
            .collect();
        for s in suppliers {
            for (check, sev) in &s.severity {
                wanted.insert(
                    (s.id.to_string(), check.as_str().to_owned()),
                    sev.as_str().to_owned(),
                );
            }
        }
        let mut changed = 0;
        let keys: BTreeSet<&(String, String)> = stored.keys().chain(wanted.keys()).collect();
        for key in keys {
            let (old, new) = (stored.get(key), wanted.get(key));
            if old == new {
                continue;
            }
            let query = match new {
                Some(sev) => sqlx::query(
                    "INSERT INTO severity_overrides (supplier_id, check_id, severity) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (supplier_id, check_id) DO UPDATE SET severity = ?3",
                )
                .bind(&key.0)
                .bind(&key.1)
                .bind(sev),
                None => sqlx::query(
                    "DELETE FROM severity_overrides WHERE supplier_id = ?1 AND check_id = ?2",
                )
                .bind(&key.0)
                .bind(&key.1),
            };
            query.execute(&mut *tx).await.map_err(|e| self.err(e))?;
            self.audit_one(
                &mut *tx,
                at,
                source,
                (!key.0.is_empty()).then_some(key.0.as_str()),
                "severity_override",
                Some(&key.1),
                old.map(String::as_str),
                new.map(String::as_str),
            )
            .await?;
            changed += 1;
        }
        Ok(changed)
    }

    /// The acceptances as last synced, by supplier, check and target.
    ///
    /// # Errors
    /// [`StoreError`] on database failure or an unreadable row.
    pub async fn acceptances(&self) -> Result<Vec<StoredAcceptance>, StoreError> {
        let rows = sqlx::query(
            "SELECT supplier_id, check_id, target, until, reason, approved_by FROM acceptances \
             ORDER BY supplier_id, check_id, target",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|row| {
                let get = |col: &str| row.try_get::<String, _>(col).map_err(|e| self.err(e));
                let until = get("until")?;
                let target = get("target")?;
                Ok(StoredAcceptance {
                    supplier: get("supplier_id")?,
                    check: get("check_id")?,
                    target: (!target.is_empty()).then_some(target),
                    until: until.parse().map_err(|e| StoreError::Corrupt {
                        path: self.path.clone(),
                        why: format!("acceptances.until {until:?}: {e}"),
                    })?,
                    reason: get("reason")?,
                    approved_by: get("approved_by")?,
                })
            })
            .collect()
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
            criticality: parse_column(row, "criticality")
                .map_err(|why| self.unreadable(why.within("suppliers")))?,
            status: parse_column(row, "status")
                .map_err(|why| self.unreadable(why.within("suppliers")))?,
            owner: row.try_get("owner").map_err(get)?,
            security_contact: row.try_get("security_contact").map_err(get)?,
            services: list("services")?,
            domains: list("domains")?,
            endpoints: list("endpoints")?,
            contract_reference: row.try_get("contract_reference").map_err(get)?,
            contract_start: parse_optional(row, "contract_start")
                .map_err(|why| self.unreadable(why.within("suppliers")))?,
            contract_end: parse_optional(row, "contract_end")
                .map_err(|why| self.unreadable(why.within("suppliers")))?,
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

/// A text column parsed into its type: a stored supplier comes back typed,
/// never as strings for callers to parse again.
fn parse_column<T: std::str::FromStr>(row: &SqliteRow, col: &str) -> Result<T, RowError> {
    let text: String = row.try_get(col).map_err(|error| RowError::Column {
        column: col.to_owned(),
        error,
    })?;
    text.parse().map_err(|_| RowError::Unknown {
        column: col.to_owned(),
        text,
    })
}

fn parse_optional<T: std::str::FromStr>(row: &SqliteRow, col: &str) -> Result<Option<T>, RowError> {
    let text: Option<String> = row.try_get(col).map_err(|error| RowError::Column {
        column: col.to_owned(),
        error,
    })?;
    text.map(|t| {
        t.parse().map_err(|_| RowError::Unknown {
            column: col.to_owned(),
            text: t,
        })
    })
    .transpose()
}
