//! One supplier's line of `status`, shared by its table, JSON and CSV.

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
