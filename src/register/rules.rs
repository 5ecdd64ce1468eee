//! The checks applied to the register before it is written: the four rules
//! that make a supervisor reject a submission (805 empty primary key, 806
//! duplicate primary key, 807 reference to a missing row, 808 a filing
//! indicator that disagrees with its table), invalid codes, and the
//! register's own sense (a contract without provider or function, a
//! critical function without RTO and RPO, a supply chain with a gap in its
//! ranks, an end before the start, an ended arrangement still reported as
//! active). Mandatory columns left empty are warnings, as the FAQ treats
//! them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;
use serde::Serialize;

use super::codes::{self, HIGHLY_COMPLEX, NOT_SUBSTITUTABLE, SUBSEQUENT};
use super::codes_iso::{is_country, is_currency, lei_check};
use super::templates::{FOREIGN_KEYS, Kind, SHAPES, Table, Tables, not_applicable};

/// One problem with the register.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Problem {
    /// Blocks the export (a supervisor would reject the package).
    pub blocking: bool,
    /// `B_02.02`.
    pub template: &'static str,
    /// The row's primary key, `/`-joined.
    pub row: String,
    /// `c0010`.
    pub column: &'static str,
    /// `805`, `806`, `807`, `808`, or a name: `code`, `mandatory`,
    /// `no-provider`, `no-function`, `rto-rpo`, `rank-gap`, `dates`,
    /// `ended`, `overarching`, `substitutability`, `currency`.
    pub rule: &'static str,
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} [{}] {} {}: {}",
            if self.blocking { "error" } else { "warning" },
            self.template,
            self.row,
            self.column,
            rule_name(self.rule),
            self.reason
        )
    }
}

/// How a rule is named in messages.
fn rule_name(rule: &str) -> String {
    if rule.bytes().all(|b| b.is_ascii_digit()) {
        format!("(rule {rule})")
    } else {
        format!("({rule})")
    }
}

/// What a filing indicator says for each template: reported when it has
/// rows.
#[must_use]
pub fn filing_indicators(tables: &Tables) -> Vec<(&'static str, bool)> {
    tables
        .tables
        .iter()
        .map(|t| (t.shape.id, !t.rows.is_empty()))
        .collect()
}

/// Every problem of `tables` as of `reference`, blocking ones first, then
/// in template order.
#[must_use]
pub fn check(tables: &Tables, reference: NaiveDate) -> Vec<Problem> {
    let mut out = Vec::new();
    for note in &tables.notes {
        out.push(Problem {
            blocking: note.template != "B_05.01",
            template: note.template,
            row: note.row.clone(),
            column: note.column,
            rule: if note.template == "B_05.01" {
                "currency"
            } else {
                "no-provider"
            },
            reason: note.reason.clone(),
        });
    }
    for table in &tables.tables {
        keys(table, &mut out);
        cells(table, &mut out);
    }
    references(tables, &mut out);
    indicators(tables, &filing_indicators(tables), &mut out);
    sense(tables, reference, &mut out);
    out.sort_by(|a, b| {
        (!a.blocking, order(a.template), &a.row, a.column, a.rule).cmp(&(
            !b.blocking,
            order(b.template),
            &b.row,
            b.column,
            b.rule,
        ))
    });
    out.dedup();
    out
}

fn order(template: &str) -> usize {
    SHAPES
        .iter()
        .position(|s| s.id == template)
        .unwrap_or(usize::MAX)
}

fn problem(
    blocking: bool,
    table: &Table,
    row: &[String],
    column: &'static str,
    rule: &'static str,
    reason: impl Into<String>,
) -> Problem {
    Problem {
        blocking,
        template: table.shape.id,
        row: table.key_of(row),
        column,
        rule,
        reason: reason.into(),
    }
}

/// 805 and 806.
fn keys(table: &Table, out: &mut Vec<Problem>) {
    if table.shape.keys.is_empty() {
        return;
    }
    let mut seen: HashMap<Vec<&str>, usize> = HashMap::new();
    for (n, row) in table.rows.iter().enumerate() {
        for key in table.shape.keys {
            if table.cell(row, key).is_empty() {
                out.push(problem(
                    true,
                    table,
                    row,
                    key,
                    "805",
                    "a primary key column is empty",
                ));
            }
        }
        let key: Vec<&str> = table
            .shape
            .keys
            .iter()
            .map(|k| table.cell(row, k))
            .collect();
        if let Some(first) = seen.insert(key, n) {
            out.push(problem(
                true,
                table,
                row,
                table.shape.keys.first().copied().unwrap_or("c0010"),
                "806",
                format!("rows {} and {} share this primary key", first + 1, n + 1),
            ));
        }
    }
}

/// Codes valid for their column, and mandatory columns filled.
fn cells(table: &Table, out: &mut Vec<Problem>) {
    for row in &table.rows {
        let empty: Vec<&'static str> = table
            .shape
            .mandatory
            .iter()
            .copied()
            .filter(|c| table.cell(row, c).is_empty())
            .collect();
        if let Some(first) = empty.first() {
            out.push(problem(
                false,
                table,
                row,
                first,
                "mandatory",
                if empty.len() == 1 {
                    "a mandatory column is empty".to_owned()
                } else {
                    format!("mandatory columns are empty: {}", empty.join(", "))
                },
            ));
        }
        for ((column, kind), cell) in table.shape.columns.iter().zip(row) {
            if cell.is_empty() {
                continue;
            }
            if let Some(reason) = invalid(*kind, cell) {
                out.push(problem(true, table, row, column, "code", reason));
            }
        }
    }
}

/// Why `cell` is not a valid value of `kind`.
fn invalid(kind: Kind, cell: &str) -> Option<String> {
    match kind {
        Kind::Lei => lei_check(cell)
            .err()
            .map(|e| format!("{cell:?} is not a valid LEI: {e}")),
        Kind::Country => {
            if cell == codes::COUNTRY_NOT_APPLICABLE {
                return None;
            }
            match cell.strip_prefix("eba_GA:") {
                Some(c) if is_country(c) => None,
                _ => Some(format!("{cell:?} is not an ISO 3166-1 country (eba_GA:XX)")),
            }
        }
        Kind::Currency => match cell.strip_prefix("eba_CU:") {
            Some(c) if is_currency(c) => None,
            _ => Some(format!("{cell:?} is not an ISO 4217 currency (eba_CU:XXX)")),
        },
        Kind::Date => NaiveDate::parse_from_str(cell, "%Y-%m-%d")
            .is_err()
            .then(|| format!("{cell:?} is not a yyyy-mm-dd date")),
        Kind::Integer => (!cell.bytes().all(|b| b.is_ascii_digit()))
            .then(|| format!("{cell:?} is not a natural number")),
        Kind::Money => {
            let plain = cell.split_once('.').map_or((cell, "0"), |(a, b)| (a, b));
            let ok = !plain.0.is_empty()
                && plain.0.bytes().all(|b| b.is_ascii_digit())
                && !plain.1.is_empty()
                && plain.1.bytes().all(|b| b.is_ascii_digit());
            (!ok).then(|| {
                format!("{cell:?} is not a non-negative amount (digits, '.' for decimals)")
            })
        }
        Kind::Link => (cell != "true").then(|| format!("{cell:?}: a link is written true")),
        Kind::Code => (!cell.contains(':') && cell != codes::NOT_APPLICABLE)
            .then(|| format!("{cell:?} is not a prefixed EBA code")),
        Kind::Text => None,
    }
}

/// 807.
fn references(tables: &Tables, out: &mut Vec<Problem>) {
    for fk in FOREIGN_KEYS {
        let (Some(from), Some(to)) = (tables.get(fk.from), tables.get(fk.to)) else {
            continue;
        };
        let targets: HashSet<Vec<&str>> = to
            .rows
            .iter()
            .map(|r| fk.to_columns.iter().map(|c| to.cell(r, c)).collect())
            .collect();
        for row in &from.rows {
            let key: Vec<&str> = fk.columns.iter().map(|c| from.cell(row, c)).collect();
            if key.iter().any(|c| not_applicable(c)) {
                continue;
            }
            if !targets.contains(&key) {
                out.push(problem(
                    true,
                    from,
                    row,
                    fk.columns.first().copied().unwrap_or("c0010"),
                    "807",
                    format!(
                        "{} refers to {} {}, which has no such row",
                        key.join(" / "),
                        fk.to,
                        fk.to_columns.join(" + ")
                    ),
                ));
            }
        }
    }
}

/// 808: an indicator for every template, `true` exactly when it has rows.
pub fn indicators(tables: &Tables, indicators: &[(&str, bool)], out: &mut Vec<Problem>) {
    for table in &tables.tables {
        let said: Vec<bool> = indicators
            .iter()
            .filter(|(id, _)| *id == table.shape.id)
            .map(|(_, r)| *r)
            .collect();
        let has_rows = !table.rows.is_empty();
        let reason = match said.as_slice() {
            [] => Some("no filing indicator".to_owned()),
            [reported] if *reported != has_rows => Some(format!(
                "the filing indicator says {reported} but the table has {} rows",
                table.rows.len()
            )),
            [_] => None,
            _ => Some("more than one filing indicator".to_owned()),
        };
        if let Some(reason) = reason {
            out.push(Problem {
                blocking: true,
                template: table.shape.id,
                row: "(filing indicator)".to_owned(),
                column: "reported",
                rule: "808",
                reason,
            });
        }
    }
}

/// The register's own sense.
fn sense(tables: &Tables, reference: NaiveDate, out: &mut Vec<Problem>) {
    let (Some(general), Some(specific), Some(functions), Some(chain), Some(assessment)) = (
        tables.get("B_02.01"),
        tables.get("B_02.02"),
        tables.get("B_06.01"),
        tables.get("B_05.02"),
        tables.get("B_07.01"),
    ) else {
        return;
    };
    // A contract without provider or function.
    let mut covered: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
    for row in &specific.rows {
        let entry = covered.entry(specific.cell(row, "c0010")).or_default();
        entry.0 |= !specific.cell(row, "c0030").is_empty();
        entry.1 |= !specific.cell(row, "c0050").is_empty();
    }
    for row in &general.rows {
        let reference_no = general.cell(row, "c0010");
        let (provider, function) = covered.get(reference_no).copied().unwrap_or_default();
        if !provider {
            out.push(problem(
                true,
                general,
                row,
                "c0010",
                "no-provider",
                "the contract names no provider (no ICT service with an identified provider in B_02.02)",
            ));
        }
        if !function {
            out.push(problem(
                true,
                general,
                row,
                "c0010",
                "no-function",
                "the contract supports no function (no ICT service with a function in B_02.02)",
            ));
        }
        if general.cell(row, "c0020") == SUBSEQUENT && general.cell(row, "c0030").is_empty() {
            out.push(problem(
                false,
                general,
                row,
                "c0030",
                "overarching",
                "a subsequent arrangement names its overarching arrangement",
            ));
        }
    }
    // Dates.
    let mut ended: BTreeSet<&str> = BTreeSet::new();
    for row in &specific.rows {
        let start = NaiveDate::parse_from_str(specific.cell(row, "c0070"), "%Y-%m-%d").ok();
        let end = NaiveDate::parse_from_str(specific.cell(row, "c0080"), "%Y-%m-%d").ok();
        if let (Some(start), Some(end)) = (start, end) {
            if end < start {
                out.push(problem(
                    true,
                    specific,
                    row,
                    "c0080",
                    "dates",
                    format!("the arrangement ends ({end}) before it starts ({start})"),
                ));
            }
            if end < reference
                && specific.cell(row, "c0090").is_empty()
                && ended.insert(specific.cell(row, "c0010"))
            {
                out.push(problem(
                    true,
                    specific,
                    row,
                    "c0090",
                    "ended",
                    format!(
                        "the arrangement ended on {end}, before the reference date {reference}, but is reported as active: give its termination reason"
                    ),
                ));
            }
        }
    }
    functions_chains_assessments(functions, chain, assessment, out);
}

/// Critical functions' RTO and RPO, supply-chain ranks, substitutability
/// reasons.
fn functions_chains_assessments(
    functions: &Table,
    chain: &Table,
    assessment: &Table,
    out: &mut Vec<Problem>,
) {
    for row in &functions.rows {
        if functions.cell(row, "c0050") != codes::YES {
            continue;
        }
        for (column, what) in [("c0080", "RTO"), ("c0090", "RPO")] {
            if functions.cell(row, column).is_empty() {
                out.push(problem(
                    true,
                    functions,
                    row,
                    column,
                    "rto-rpo",
                    format!("a critical or important function without its {what}"),
                ));
            }
        }
    }
    // Supply chains: no gap in the ranks.
    let mut ranks: BTreeMap<(&str, &str), BTreeSet<u32>> = BTreeMap::new();
    for row in &chain.rows {
        if let Ok(rank) = chain.cell(row, "c0050").parse::<u32>() {
            ranks
                .entry((chain.cell(row, "c0010"), chain.cell(row, "c0020")))
                .or_default()
                .insert(rank);
        }
    }
    for row in &chain.rows {
        let Ok(rank) = chain.cell(row, "c0050").parse::<u32>() else {
            continue;
        };
        let above = ranks
            .get(&(chain.cell(row, "c0010"), chain.cell(row, "c0020")))
            .is_some_and(|present| present.contains(&(rank - 1)));
        if rank > 1 && !above {
            out.push(problem(
                true,
                chain,
                row,
                "c0050",
                "rank-gap",
                format!(
                    "a subcontractor at rank {rank} with no one at rank {}",
                    rank - 1
                ),
            ));
        }
    }
    // Substitutability that needs its reason.
    for row in &assessment.rows {
        let s = assessment.cell(row, "c0050");
        if (s == NOT_SUBSTITUTABLE || s == HIGHLY_COMPLEX)
            && assessment.cell(row, "c0060").is_empty()
        {
            out.push(problem(
                false,
                assessment,
                row,
                "c0060",
                "substitutability",
                "a provider that is not or hardly substitutable needs the reason",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_codes() {
        assert!(invalid(Kind::Money, "1200000.5").is_none());
        assert!(invalid(Kind::Money, "-1").is_some());
        assert!(invalid(Kind::Money, "1,000").is_some());
        assert!(invalid(Kind::Country, "eba_GA:XX").is_some());
        assert!(invalid(Kind::Country, "eba_GA:DE").is_none());
        assert!(invalid(Kind::Currency, "eba_CU:EUR").is_none());
        assert!(invalid(Kind::Link, "false").is_some());
    }
}
