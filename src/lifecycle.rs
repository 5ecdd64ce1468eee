//! The findings lifecycle, pure: given the stored state of some findings
//! (rows), what one run saw (findings and the scopes it covered), the run's
//! time and the rules (flap damping, accepted risks), it decides every
//! transition — open, refresh, resolve, reopen, pending, accept, unaccept —
//! without I/O. `store/` loads the rows and writes back what changed.
//!
//! Rules (README, "Findings that live"): a finding is keyed (supplier,
//! check, target); it opens the first time it fires (or, for a damped
//! check, after [`LifecyclePolicy::damping_runs`] consecutive firing runs,
//! pending until then — unless the failure is the target's own answer,
//! the same every run: [`crate::checks::may_be_damped`]), refreshes while it keeps firing, resolves when a run
//! whose scope for its family on its target was complete no longer shows it
//! (unknown is not healthy), reopens when it comes back, and moves between
//! open and accepted as the acceptances say on the run's day. Depends on
//! `checks` (ids, families, scopes) and `registry` (acceptances) only.

use crate::registry::CheckId;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::Serialize;

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

/// A word that names no [`FindingState`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a finding state; use one of {names}", names = FindingState::NAMES.join(", "))]
pub struct UnknownFindingState(pub String);

impl FromStr for FindingState {
    type Err = UnknownFindingState;
    fn from_str(s: &str) -> Result<Self, UnknownFindingState> {
        match s.to_ascii_lowercase().as_str() {
            "pending" => Ok(Self::Pending),
            "open" => Ok(Self::Open),
            "accepted" => Ok(Self::Accepted),
            "resolved" => Ok(Self::Resolved),
            _ => Err(UnknownFindingState(s.to_owned())),
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
    pub damped: Vec<CheckId>,
}

impl Default for LifecyclePolicy {
    /// Two runs, for the three "could not reach it" checks: one timeout is
    /// weather, two in a row is news.
    fn default() -> Self {
        Self {
            damping_runs: 2,
            damped: [
                CheckId::TlsUnreachable,
                CheckId::HttpUnreachable,
                CheckId::DnsResolutionFailed,
            ]
            .to_vec(),
        }
    }
}

impl LifecyclePolicy {
    /// How many more failing runs a pending finding of `check` that has
    /// fired `streak` runs in a row needs to open (at least 1).
    #[must_use]
    pub fn runs_to_open(&self, check: impl AsRef<str>, streak: u32) -> u32 {
        let left = self.threshold(check.as_ref()) - i64::from(streak);
        u32::try_from(left.max(1)).unwrap_or(1)
    }

    /// Consecutive firing runs `check` needs to open.
    fn threshold(&self, check: &str) -> i64 {
        if self.damped.iter().any(|d| d.as_str() == check) {
            i64::from(self.damping_runs.max(1))
        } else {
            1
        }
    }
}

/// One finding row as a run handles it: lifecycle columns always, summary
/// and evidence only when they are to be written (new or changed), so that
/// a run never reads 100,000 evidence blobs back to compare them.
#[derive(Debug, Clone)]
pub struct Row {
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
    /// Why it resolved, to be written: `None` leaves the stored reason as
    /// it is, `Some(None)` clears it (seen again, or simply no longer seen),
    /// `Some(Some(why))` records a reason ([`Resolution`]).
    pub resolution: Option<Option<&'static str>>,
    /// The time columns this run sets to its own time. The others are
    /// neither read nor written: a run of 100,000 findings need not carry
    /// 300,000 timestamps through memory to leave them as they are.
    pub now: Now,
    pub dirty: Dirty,
}

/// Which time columns of a row become the run's time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Now {
    /// `last_seen`: it fired.
    pub seen: bool,
    /// `opened_at`: it opened or reopened.
    pub opened: bool,
    /// `changed_at`: its state changed.
    pub changed: bool,
}

/// What a stored row needs written, least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dirty {
    Clean,
    /// Fired again, nothing else: `last_seen` moves to the run and `streak`
    /// goes up by one — the common case, written without touching indexes.
    Seen,
    /// Anything else: the row is rewritten.
    Changed,
}

impl Row {
    /// What identifies it across runs.
    #[must_use]
    pub fn key(&self) -> FindingKey {
        FindingKey {
            supplier: self.supplier.clone(),
            check: self.check.clone(),
            target: self.target.clone(),
        }
    }

    /// Raises what needs writing to at least `dirty`.
    pub fn mark(&mut self, dirty: Dirty) {
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
        self.resolution = Some(None);
    }

    /// Resolves it now, for `why` (`None`: a complete run no longer saw
    /// it). A pending row that never opened was never a finding: it is
    /// marked for deletion instead (returns false); one pending after being
    /// resolved goes back to resolved with its date unchanged.
    fn resolve(&mut self, at: &str, why: Option<&'static str>, out: &mut Outcome) -> bool {
        match self.state {
            FindingState::Open | FindingState::Accepted => {
                out.resolved.push(self.key());
                self.become_(FindingState::Resolved);
                self.resolved_at = Some(at.to_owned());
                self.resolution = Some(why);
                true
            }
            FindingState::Pending => match self.id {
                Some(_) if self.ever_open => {
                    self.become_(FindingState::Resolved);
                    true
                }
                Some(id) => {
                    out.deleted.push(id);
                    false
                }
                None => false,
            },
            FindingState::Resolved => true,
        }
    }
}

/// Why a finding resolved other than by no longer being seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Its target left the supplier's registry entry.
    TargetRemoved,
    /// Its supplier exited.
    SupplierExited,
}

impl Resolution {
    /// As stored, and told in the resolution e-mail.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TargetRemoved => "target removed from the registry",
            Self::SupplierExited => "supplier exited",
        }
    }
}

/// The time and rules one reconciliation works with.
pub struct Lifecycle<'a> {
    /// The run's time, as stored.
    pub at: &'a str,
    /// The day acceptances are judged on (UTC).
    pub day: NaiveDate,
    pub policy: &'a LifecyclePolicy,
    pub acceptances: &'a [Acceptance],
}

/// A change of a finding's state the audit log records: acceptances, and
/// resolutions the registry caused.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub supplier: String,
    pub check: String,
    pub target: String,
    pub action: &'static str,
    pub old: FindingState,
    pub new: FindingState,
    /// The acceptance's `reason`, `approved_by` and `until`; the
    /// resolution's reason.
    pub detail: Option<serde_json::Value>,
}

/// What reconciling one run decided.
#[derive(Debug, Default)]
pub struct Outcome {
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

impl Outcome {
    /// Adds what another part of the same run decided (its deleted rows
    /// and audit events, already written, are left out).
    pub fn absorb(&mut self, part: Self) {
        self.opened.extend(part.opened);
        self.reopened.extend(part.reopened);
        self.resolved.extend(part.resolved);
        self.accepted.extend(part.accepted);
        self.unaccepted.extend(part.unaccepted);
        self.pending += part.pending;
        self.refreshed += part.refreshed;
        self.fired += part.fired;
    }
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
pub fn reconcile(
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
            .filter(|(s, f)| seen.insert((s.as_str(), f.check.as_str(), f.target.as_str())))
            .map(|(s, f)| {
                let row = stored
                    .get(&(s.as_str(), f.check.as_str(), f.target.as_str()))
                    .copied();
                (s, f, row)
            })
            .collect()
    };
    out.fired = matches.len();
    let mut fired = vec![false; rows.len()];
    for (supplier, finding, row) in matches {
        let threshold = if crate::checks::may_be_damped(finding) {
            lc.policy.threshold(finding.check.as_str())
        } else {
            1
        };
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
        check: finding.check.as_str().to_owned(),
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
        resolution: None,
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
        // Resolved where the run covered it completely — its own target, or
        // the family for any target — and nothing said its target was only
        // partly seen: unknown is not healthy.
        let own = complete.get(&scope).copied();
        if own == Some(false) || (own != Some(true) && complete.get(&any) != Some(&true)) {
            continue;
        }
        if row.streak != 0 {
            row.streak = 0;
            row.mark(Dirty::Changed);
        }
        row.resolve(at, None, out);
    }
    drop_deleted(rows, out);
}

/// Removes the rows marked for deletion from `rows`.
fn drop_deleted(rows: &mut Vec<Row>, out: &Outcome) {
    if !out.deleted.is_empty() {
        let deleted: HashSet<i64> = out.deleted.iter().copied().collect();
        rows.retain(|r| r.id.is_none_or(|id| !deleted.contains(&id)));
    }
}

/// Resolves, for `why`, every live or pending row `retired` picks (the
/// registry no longer holds its target, or its supplier exited), recording
/// each resolution of an open or accepted one for the audit log.
pub fn retire(
    rows: &mut Vec<Row>,
    retired: impl Fn(&Row) -> Option<Resolution>,
    at: &str,
    out: &mut Outcome,
) {
    for row in rows.iter_mut() {
        if row.state == FindingState::Resolved {
            continue;
        }
        let Some(why) = retired(row) else { continue };
        let old = row.state;
        row.streak = 0;
        row.resolve(at, Some(why.as_str()), out);
        if old.is_live() {
            out.audit.push(AuditEvent {
                supplier: row.supplier.clone(),
                check: row.check.clone(),
                target: row.target.clone(),
                action: "resolve",
                old,
                new: FindingState::Resolved,
                detail: Some(serde_json::json!({
                    "target": row.target,
                    "reason": why.as_str(),
                })),
            });
        }
    }
    drop_deleted(rows, out);
}

/// Moves live findings between open and accepted as `lc.acceptances` say
/// on `lc.day`, recording each move for the audit log.
pub fn accept_pass(rows: &mut [Row], lc: &Lifecycle<'_>, out: &mut Outcome) {
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
                let action = if listed.is_some() {
                    "acceptance_expired"
                } else {
                    "unaccept"
                };
                (action, FindingState::Open, listed)
            }
            _ => continue,
        };
        out.audit.push(AuditEvent {
            supplier: row.supplier.clone(),
            check: row.check.clone(),
            target: row.target.clone(),
            action,
            old: row.state,
            new,
            detail: Some(acceptance_detail(&row.target, acceptance)),
        });
        row.become_(new);
    }
}

/// What the audit log keeps of a finding's move in or out of acceptance:
/// its target, and the acceptance's reason, approver and last day when one
/// is involved.
#[must_use]
pub fn acceptance_detail(target: &str, a: Option<&Acceptance>) -> serde_json::Value {
    let mut detail = serde_json::Map::new();
    detail.insert("target".to_owned(), target.into());
    if let Some(a) = a {
        detail.insert("reason".to_owned(), a.reason.clone().into());
        detail.insert("approved_by".to_owned(), a.approved_by.to_string().into());
        detail.insert("until".to_owned(), a.until.to_string().into());
    }
    serde_json::Value::Object(detail)
}

/// Where a finding that fired in a run stands after it: what every view
/// shows beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Mark {
    /// Open, and counted in the score.
    Open,
    /// Held back by flap damping: opens after this many more failing runs.
    Pending { opens_after_runs: u32 },
    /// Covered by an accepted risk, not scored.
    Accepted {
        until: NaiveDate,
        approved_by: String,
        reason: String,
    },
}

impl Mark {
    /// The words a table shows after the finding; empty for an open one.
    #[must_use]
    pub fn note(&self) -> String {
        match self {
            Self::Open => String::new(),
            Self::Pending { opens_after_runs } => format!(
                "pending: opens after {opens_after_runs} more failing run{}",
                if *opens_after_runs == 1 { "" } else { "s" }
            ),
            Self::Accepted {
                until, approved_by, ..
            } => format!("accepted until {until} by {approved_by}"),
        }
    }
}

/// The mark of each finding of `findings` after `rows` were reconciled with
/// them (see [`reconcile`]): open, pending (and for how many more runs), or
/// accepted (until when, by whom).
#[must_use]
pub fn marks(
    rows: &[Row],
    findings: &[(String, Finding)],
    lc: &Lifecycle<'_>,
) -> HashMap<FindingKey, Mark> {
    let by_key: HashMap<(&str, &str, &str), &Row> = rows
        .iter()
        .map(|r| {
            (
                (r.supplier.as_str(), r.check.as_str(), r.target.as_str()),
                r,
            )
        })
        .collect();
    let mut out = HashMap::with_capacity(findings.len());
    for (supplier, f) in findings {
        let Some(row) = by_key.get(&(supplier.as_str(), f.check.as_str(), f.target.as_str()))
        else {
            continue;
        };
        let mark = match row.state {
            FindingState::Pending => Mark::Pending {
                opens_after_runs: lc
                    .policy
                    .runs_to_open(&row.check, u32::try_from(row.streak).unwrap_or(0)),
            },
            FindingState::Accepted => {
                match lc
                    .acceptances
                    .iter()
                    .find(|a| a.covers(supplier, f.check.as_str(), &f.target, lc.day))
                {
                    Some(a) => Mark::Accepted {
                        until: a.until,
                        approved_by: a.approved_by.to_string(),
                        reason: a.reason.clone(),
                    },
                    None => Mark::Open,
                }
            }
            FindingState::Open | FindingState::Resolved => Mark::Open,
        };
        out.insert(row.key(), mark);
    }
    out
}

/// Each of `suppliers`' score and grade from its open findings in `rows`
/// (pending and accepted ones left out): the one definition every view
/// uses (README, "Score and grade").
#[must_use]
pub fn scores<'a>(
    rows: &[Row],
    suppliers: impl IntoIterator<Item = &'a str>,
) -> Vec<(String, u8, crate::checks::score::Grade)> {
    let mut open: std::collections::BTreeMap<&str, Vec<Severity>> =
        suppliers.into_iter().map(|s| (s, Vec::new())).collect();
    for row in rows.iter().filter(|r| r.state == FindingState::Open) {
        if let Some(list) = open.get_mut(row.supplier.as_str()) {
            list.push(row.severity);
        }
    }
    open.into_iter()
        .map(|(supplier, severities)| {
            let (score, grade) = crate::checks::score::score(severities);
            (supplier.to_owned(), score, grade)
        })
        .collect()
}

#[cfg(test)]
mod tests;
