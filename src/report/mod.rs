//! Pure renderers: data in, text out. No I/O, no colours decided here
//! beyond what the caller asks for.

pub mod board;
mod check;
mod concentration;
mod csv;
pub mod evidence;
pub mod explain;
mod finding;
pub mod findings;
pub mod questionnaire;
mod status;
pub mod supplier;
mod table;

pub use check::{
    CheckReport, FindingReport, Marks, Scores, SeverityTally, SupplierReport, TableWidths,
    check_report, check_summary, check_table, check_table_part,
};
pub use concentration::concentration_table;
pub use csv::{
    check_csv, check_csv_part, concentration_csv, csv, defuse, findings_csv, questionnaires_csv,
    status_csv, suppliers_csv,
};
pub use finding::finding_state;
pub use status::{StatusLine, worst_first};
pub use table::Table;

use crate::store::{AuditEntry, StoredSupplier};

/// Text a supplier or a server controls, made safe for a terminal: control
/// characters (escape sequences that move the cursor or recolour) become a
/// space; characters that reorder or hide text (bidi overrides, zero-width)
/// are shown escaped, `\u{202e}`, so that a certificate name cannot make a
/// line read differently from what it says. Every table goes through it.
#[must_use]
pub fn terminal_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if crate::checks::untrusted::is_hidden(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else if c.is_control() {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod terminal_text_tests {
    use super::terminal_text;

    #[test]
    fn bidi_and_zero_width_are_shown_escaped() {
        assert_eq!(terminal_text("evil\u{202e}gpj.exe"), "evil\\u{202e}gpj.exe");
        assert_eq!(
            terminal_text("a\u{200b}b\u{2066}c\u{feff}"),
            "a\\u{200b}b\\u{2066}c\\u{feff}"
        );
        assert_eq!(terminal_text("x\u{1b}[31my\n"), "x [31my ");
        assert_eq!(terminal_text("Acme Ltd — ünïcode"), "Acme Ltd — ünïcode");
    }
}

/// Output format of the listing commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Table,
    Json,
    /// RFC 4180, formula-defused ([`defuse`]); only the listing commands
    /// print it.
    Csv,
}

/// `supplywatch suppliers` as a table.
#[must_use]
pub fn suppliers_table(suppliers: &[StoredSupplier]) -> String {
    let mut t = Table::new(&[
        "ID",
        "NAME",
        "CRITICALITY",
        "STATUS",
        "CONTRACT END",
        "DOMAINS",
        "ENDPOINTS",
    ]);
    for s in suppliers {
        t.row(vec![
            s.id.clone(),
            s.name.clone(),
            s.criticality.as_str().to_owned(),
            s.status.as_str().to_owned(),
            s.contract_end
                .map_or_else(|| "-".to_owned(), |d| d.to_string()),
            join_or_dash(&s.domains),
            join_or_dash(&s.endpoints),
        ]);
    }
    t.render()
}

/// `supplywatch audit` as a table.
#[must_use]
pub fn audit_table(entries: &[AuditEntry]) -> String {
    let mut t = Table::new(&[
        "WHEN",
        "SUPPLIER",
        "ACTION",
        "FIELD",
        "OLD → NEW",
        "ACTOR",
        "SOURCE",
    ]);
    for e in entries {
        let change = match (&e.old, &e.new) {
            (None, None) => String::new(),
            (old, new) => format!(
                "{} → {}",
                old.as_deref().unwrap_or("∅"),
                new.as_deref().unwrap_or("∅")
            ),
        };
        t.row(vec![
            e.at.clone(),
            e.supplier.clone().unwrap_or_default(),
            e.action.clone(),
            e.field.clone().unwrap_or_default(),
            change,
            // Rows from before attribution existed name no one.
            e.actor.clone().unwrap_or_else(|| "-".to_owned()),
            e.source.clone(),
        ]);
    }
    t.render()
}

fn join_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(", ")
    }
}
