//! How a stored finding's state reads in every table: the same words in
//! `findings`, `supplier show` and the digest.

use crate::lifecycle::{FindingState, LifecyclePolicy, Mark};
use crate::store::{StoredAcceptance, StoredFinding};

/// The state as a reader needs it: pending with the runs it still needs,
/// accepted with until when and by whom, reopened with when it last
/// resolved, resolved with why when the registry resolved it.
#[must_use]
pub fn finding_state(
    f: &StoredFinding,
    acceptances: &[StoredAcceptance],
    policy: &LifecyclePolicy,
) -> String {
    // Pending and accepted read as `check` marks them ([`Mark::note`]).
    match f.state {
        FindingState::Pending => Mark::Pending {
            opens_after_runs: policy.runs_to_open(&f.check, f.streak),
        }
        .note(),
        FindingState::Accepted => acceptances
            .iter()
            .find(|a| a.names(&f.supplier, &f.check, &f.target))
            .map_or_else(
                || "accepted".to_owned(),
                |a| {
                    Mark::Accepted {
                        until: a.until,
                        approved_by: a.approved_by.clone(),
                        reason: a.reason.clone(),
                    }
                    .note()
                },
            ),
        FindingState::Open => match (f.reopen_count, f.last_resolved_at) {
            (0, _) => "open".to_owned(),
            (n, Some(r)) => format!("open (reopened {n}×, was resolved on {})", r.date_naive()),
            (n, None) => format!("open (reopened {n}×)"),
        },
        FindingState::Resolved => match &f.resolution {
            Some(why) => format!("resolved ({why})"),
            None => "resolved".to_owned(),
        },
    }
}
