//! The report of a `check` run: JSON in the documented shape, and a table
//! grouped by supplier, worst first.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::checks::score::Grade;
use crate::checks::{Finding, Severity, SupplierResult, TargetError};
use crate::lifecycle::{FindingKey, Mark};

/// `supplywatch check --format json`.
#[derive(Debug, Serialize)]
pub struct CheckReport<'a> {
    pub generated_at: String,
    pub suppliers: Vec<SupplierReport<'a>>,
}

#[derive(Debug, Serialize)]
pub struct SupplierReport<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub criticality: &'a str,
    /// 0–100; see README for the formula.
    pub score: Option<u8>,
    pub grade: Option<&'static str>,
    pub findings: Vec<FindingReport<'a>>,
    /// Targets not probed (refused by policy), or whose page was not
    /// judged (it is on another site), with why.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub errors: &'a [TargetError],
}

/// A finding with where it stands: `state` (open, pending, accepted), and
/// `opens_after_runs` for a pending one, `until`, `approved_by` and
/// `reason` for an accepted one.
#[derive(Debug, Serialize)]
pub struct FindingReport<'a> {
    #[serde(flatten)]
    pub finding: &'a Finding,
    #[serde(flatten)]
    pub mark: &'a Mark,
}

/// Score and grade by supplier id.
pub type Scores = std::collections::HashMap<String, (u8, Grade)>;

/// Where each finding stands after the run, by key.
pub type Marks = std::collections::HashMap<FindingKey, Mark>;

const OPEN: &Mark = &Mark::Open;

pub(super) fn mark_of<'m>(marks: &'m Marks, supplier: &str, f: &Finding) -> &'m Mark {
    marks
        .get(&FindingKey {
            supplier: supplier.to_owned(),
            check: f.check.as_str().to_owned(),
            target: f.target.clone(),
        })
        .unwrap_or(OPEN)
}

#[must_use]
pub fn check_report<'a>(
    results: &'a [SupplierResult],
    now: DateTime<Utc>,
    scores: &Scores,
    marks: &'a Marks,
) -> CheckReport<'a> {
    CheckReport {
        generated_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        suppliers: results
            .iter()
            .map(|r| SupplierReport {
                id: r.supplier.id.as_str(),
                name: &r.supplier.name,
                criticality: r.supplier.criticality.as_str(),
                score: scores.get(r.supplier.id.as_str()).map(|(s, _)| *s),
                grade: scores.get(r.supplier.id.as_str()).map(|(_, g)| g.as_str()),
                findings: r
                    .findings
                    .iter()
                    .map(|f| FindingReport {
                        finding: f,
                        mark: mark_of(marks, r.supplier.id.as_str(), f),
                    })
                    .collect(),
                errors: &r.errors,
            })
            .collect(),
    }
}

fn paint(text: &str, severity: Severity, color: bool) -> String {
    if !color {
        return text.to_owned();
    }
    let code = match severity {
        Severity::Critical => "1;31",
        Severity::High => "31",
        Severity::Medium => "33",
        Severity::Low => "36",
        Severity::Info => "2",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// Neutralises anything a server could use to move the cursor, recolour a
/// terminal or reorder a line.
fn safe(text: &str) -> String {
    super::terminal_text(text)
}

/// The table: one block per supplier, worst first, findings worst first.
#[must_use]
pub fn check_table(
    results: &[SupplierResult],
    scores: &Scores,
    marks: &Marks,
    color: bool,
) -> String {
    check_table_part(results, scores, marks, color, table_widths(results))
}

/// The widths of the check and target columns of [`check_table`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableWidths {
    pub check: usize,
    pub target: usize,
}

impl TableWidths {
    /// Widens to fit `result`'s findings and errors.
    pub fn fit(&mut self, result: &SupplierResult) {
        for f in &result.findings {
            self.check = self.check.max(f.check.as_str().len());
            self.target = self.target.max(f.target.chars().count());
        }
        for e in &result.errors {
            self.target = self.target.max(e.target.chars().count());
        }
    }
}

fn table_widths(results: &[SupplierResult]) -> TableWidths {
    let mut widths = TableWidths::default();
    for r in results {
        widths.fit(r);
    }
    widths
}

/// [`check_table`] of some of a run's suppliers, with the columns' widths
/// of the whole run (a table written a part at a time).
#[must_use]
pub fn check_table_part(
    results: &[SupplierResult],
    scores: &Scores,
    marks: &Marks,
    color: bool,
    widths: TableWidths,
) -> String {
    let mut out = String::new();
    let TableWidths {
        check: check_w,
        target: target_w,
    } = widths;
    for r in results {
        let s = &r.supplier;
        let headline = match r.worst() {
            None => "no findings".to_owned(),
            Some(worst) => format!(
                "{} finding{}, worst {}",
                r.findings.len(),
                if r.findings.len() == 1 { "" } else { "s" },
                paint(worst.as_str(), worst, color)
            ),
        };
        let id = s.id.as_str();
        let (mut pending, mut accepted) = (0, 0);
        for f in &r.findings {
            match mark_of(marks, id, f) {
                Mark::Pending { .. } => pending += 1,
                Mark::Accepted { .. } => accepted += 1,
                Mark::Open => {}
            }
        }
        let unscored: Vec<String> = [(pending, "pending"), (accepted, "accepted")]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, name)| format!("{n} {name}"))
            .collect();
        let graded = scores
            .get(id)
            .map(|(score, grade)| {
                let note = if unscored.is_empty() {
                    String::new()
                } else if pending + accepted == r.findings.len() {
                    format!(" — all {} not scored", unscored.join(", "))
                } else {
                    format!(" — not scored: {}", unscored.join(", "))
                };
                format!(", grade {grade} ({score}){note}")
            })
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{} — {} ({}): {headline}{graded}",
            s.id,
            safe(&s.name),
            s.criticality
        );
        for f in &r.findings {
            let label = format!("{:<8}", f.severity.as_str().to_uppercase());
            let note = mark_of(marks, id, f).note();
            let _ = writeln!(
                out,
                "  {}  {:<check_w$}  {:<target_w$}  {}{}",
                paint(&label, f.severity, color),
                f.check,
                safe(&f.target),
                safe(&f.summary),
                if note.is_empty() {
                    String::new()
                } else {
                    format!("  [{note}]")
                }
            );
        }
        for e in &r.errors {
            let _ = writeln!(
                out,
                "  {:<8}  {:<check_w$}  {:<target_w$}  {}",
                "ERROR",
                "",
                safe(&e.target),
                safe(&e.message)
            );
        }
        out.push('\n');
    }
    out
}

/// One line: counts by severity.
#[must_use]
pub fn check_summary(results: &[SupplierResult]) -> String {
    let mut counts = SeverityTally::default();
    for r in results {
        counts.add(r);
    }
    counts.summary()
}

/// Findings by severity over a run's suppliers, and how many suppliers:
/// [`check_summary`] tallied a supplier at a time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeverityTally {
    counts: [usize; 5],
    suppliers: usize,
}

impl SeverityTally {
    pub fn add(&mut self, result: &SupplierResult) {
        self.suppliers += 1;
        for f in &result.findings {
            if let Some(c) = self.counts.get_mut(f.severity as usize) {
                *c += 1;
            }
        }
    }

    /// Whether a finding is at or above `threshold`.
    #[must_use]
    pub fn any_at_least(&self, threshold: Severity) -> bool {
        Severity::ALL
            .iter()
            .filter(|s| **s >= threshold)
            .any(|s| self.counts.get(*s as usize).is_some_and(|n| *n > 0))
    }

    /// Findings in all.
    #[must_use]
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }

    /// One line: counts by severity.
    #[must_use]
    pub fn summary(&self) -> String {
        let counts = self.counts;
        let suppliers = self.suppliers;
        let total: usize = counts.iter().sum();
        let parts: Vec<String> = [
            Severity::Critical,
            Severity::High,
            Severity::Medium,
            Severity::Low,
            Severity::Info,
        ]
        .iter()
        .filter_map(|s| {
            let n = counts.get(*s as usize).copied().unwrap_or(0);
            (n > 0).then(|| format!("{n} {s}"))
        })
        .collect();
        format!(
            "{total} finding{} across {suppliers} supplier{}{}",
            if total == 1 { "" } else { "s" },
            if suppliers == 1 { "" } else { "s" },
            if parts.is_empty() {
                String::new()
            } else {
                format!(" ({})", parts.join(", "))
            }
        )
    }
}
