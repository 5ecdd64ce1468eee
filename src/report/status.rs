//! One supplier's line of `status`, shared by its table, JSON and CSV.

use std::cmp::Reverse;

use serde::Serialize;

use crate::checks::paperwork::Deadline;
use crate::store::SeverityCounts;

/// One line of `status`.
#[derive(Debug, Serialize)]
pub struct StatusLine<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub criticality: &'a str,
    pub status: &'a str,
    pub grade: Option<&'static str>,
    pub score: Option<u8>,
    /// Score points since the latest run at least a week before.
    pub trend: Option<i16>,
    pub scored_at: Option<String>,
    pub open: SeverityCounts,
    /// Findings held back by flap damping: not scored until they open.
    pub pending: u32,
    /// Findings covered by an accepted risk: not scored.
    pub accepted: u32,
    pub next_deadline: Option<Deadline>,
}

/// The order `status` and the board report list suppliers in, worst first:
/// grade (F first), then score (lowest first), then id; suppliers never
/// scored last. Compare the keys of two suppliers.
#[must_use]
pub fn worst_first<'a>(
    grade: Option<&'static str>,
    score: Option<u8>,
    id: &'a str,
) -> (bool, Reverse<Option<&'static str>>, Option<u8>, &'a str) {
    (grade.is_none(), Reverse(grade), score, id)
}
