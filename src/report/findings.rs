//! The findings table of `findings`, and the line that counts the
//! findings it leaves out.

use super::{Table, finding_state};
use crate::lifecycle::LifecyclePolicy;
use crate::store::{StoredAcceptance, StoredFinding};

/// The `findings` table: severity, state (pending, accepted …), check,
/// supplier, target, since, last seen, summary.
#[must_use]
pub fn findings_table(
    findings: &[StoredFinding],
    acceptances: &[StoredAcceptance],
    policy: &LifecyclePolicy,
) -> String {
    let mut t = Table::new(&[
        "SEVERITY",
        "STATE",
        "CHECK",
        "SUPPLIER",
        "TARGET",
        "SINCE",
        "LAST SEEN",
        "SUMMARY",
    ]);
    for f in findings {
        let since = f.opened_at.unwrap_or(f.first_seen);
        t.row(vec![
            f.severity.as_str().to_uppercase(),
            finding_state(f, acceptances, policy),
            f.check.clone(),
            f.supplier.clone(),
            f.target.clone(),
            since.date_naive().to_string(),
            f.last_seen.date_naive().to_string(),
            f.summary.clone(),
        ]);
    }
    t.render()
}

/// "3 pending, 1 accepted, 12 resolved not shown (--all)", or `None`.
#[must_use]
pub fn hidden_line(hidden: [usize; 3]) -> Option<String> {
    let parts: Vec<String> = hidden
        .iter()
        .zip(["pending", "accepted", "resolved"])
        .filter(|(n, _)| **n > 0)
        .map(|(n, name)| format!("{n} {name}"))
        .collect();
    (!parts.is_empty()).then(|| format!("{} not shown (--all)", parts.join(", ")))
}
