//! The report of a `check` run: JSON in the documented shape, and a table
//! grouped by supplier, worst first.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::checks::score::Grade;
use crate::checks::{Finding, Severity, SupplierResult, TargetError};

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
    pub findings: &'a [Finding],
    /// Targets not probed (refused by policy), with why.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub errors: &'a [TargetError],
}

/// Score and grade by supplier id.
pub type Scores = std::collections::HashMap<String, (u8, Grade)>;

#[must_use]
pub fn check_report<'a>(
    results: &'a [SupplierResult],
    now: DateTime<Utc>,
    scores: &Scores,
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
                findings: &r.findings,
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

/// Strips anything a server could use to move the cursor or recolour a terminal.
fn safe(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The table: one block per supplier, worst first, findings worst first.
#[must_use]
pub fn check_table(results: &[SupplierResult], scores: &Scores, color: bool) -> String {
    let mut out = String::new();
    let check_w = results
        .iter()
        .flat_map(|r| r.findings.iter().map(|f| f.check.len()))
        .max()
        .unwrap_or(0);
    let target_w = results
        .iter()
        .flat_map(|r| r.findings.iter().map(|f| f.target.chars().count()))
        .chain(
            results
                .iter()
                .flat_map(|r| r.errors.iter().map(|e| e.target.chars().count())),
        )
        .max()
        .unwrap_or(0);
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
        let graded = scores
            .get(s.id.as_str())
            .map(|(score, grade)| format!(", grade {grade} ({score})"))
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
            let _ = writeln!(
                out,
                "  {}  {:<check_w$}  {:<target_w$}  {}",
                paint(&label, f.severity, color),
                f.check,
                f.target,
                safe(&f.summary)
            );
        }
        for e in &r.errors {
            let _ = writeln!(
                out,
                "  {:<8}  {:<check_w$}  {:<target_w$}  {}",
                "ERROR",
                "",
                e.target,
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
    let mut counts = [0_usize; 5];
    for f in results.iter().flat_map(|r| &r.findings) {
        if let Some(c) = counts.get_mut(f.severity as usize) {
            *c += 1;
        }
    }
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
        "{total} finding{} across {} supplier{}{}",
        if total == 1 { "" } else { "s" },
        results.len(),
        if results.len() == 1 { "" } else { "s" },
        if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join(", "))
        }
    )
}
