//! `supplywatch concentration` as a table: providers worst first, each
//! followed by the suppliers that depend on it. Pure.

use std::fmt::Write as _;

use crate::concentration::{AsnData, Concentration};

use super::Table;

/// The table, and a line for hosting networks when no ASN data was given
/// (`show_asn_note`: the listing covers hosting networks).
#[must_use]
pub fn concentration_table(c: &Concentration, show_asn_note: bool) -> String {
    let mut out = String::new();
    if c.providers.is_empty() {
        out.push_str("no provider to show\n");
    } else {
        let mut t = Table::new(&[
            "KIND",
            "PROVIDER",
            "SCORE",
            "SUPPLIERS",
            "CRIT/IMP",
            "SUPPLIER",
            "CRITICALITY",
            "VIA",
        ]);
        for p in &c.providers {
            for (i, d) in p.suppliers.iter().enumerate() {
                let head = if i == 0 {
                    let name = if p.name == p.key {
                        p.key.clone()
                    } else {
                        format!("{} ({})", p.key, p.name)
                    };
                    vec![
                        p.kind.as_str().to_owned(),
                        name,
                        p.score.to_string(),
                        p.count.to_string(),
                        p.critical_or_important.to_string(),
                    ]
                } else {
                    vec![String::new(); 5]
                };
                let mut row = head;
                row.extend([
                    d.id.clone(),
                    d.criticality.as_str().to_owned(),
                    d.via.join(", "),
                ]);
                t.row(row);
            }
        }
        out.push_str(&t.render());
    }
    let _ = writeln!(
        out,
        "{} suppliers, {} with observations; weights: critical 3, important 2, standard 1",
        c.suppliers, c.observed
    );
    if show_asn_note && c.asn == AsnData::Absent {
        out.push_str(
            "hosting networks: no ASN data (set [report] asn_table to an IP-to-ASN table)\n",
        );
    }
    out
}
