//! Pure renderers: data in, text out. No I/O, no colours decided here
//! beyond what the caller asks for.

mod check;
mod finding;
mod table;

pub use check::{
    CheckReport, FindingReport, Marks, Scores, SupplierReport, check_report, check_summary,
    check_table,
};
pub use finding::finding_state;
pub use table::Table;

use crate::store::{AuditEntry, StoredSupplier};

/// Output format of the listing commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Table,
    Json,
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
