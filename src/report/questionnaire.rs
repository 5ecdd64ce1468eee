//! The questionnaire table of `questionnaire list` and `supplier show`.

use chrono::NaiveDate;

use super::Table;
use crate::registry::{Questionnaire, ReviewOutcome};

/// The questionnaire table of `questionnaire list` and `supplier show`.
#[must_use]
pub fn questionnaire_table(list: &[Questionnaire], today: NaiveDate) -> String {
    let mut table = Table::new(&[
        "#", "SUPPLIER", "TEMPLATE", "STATE", "SENT", "DUE", "ANSWERED", "REVIEWED", "SCORE",
        "OUTCOME", "DOCUMENT",
    ]);
    let day = |d: Option<NaiveDate>| d.map_or_else(|| "-".to_owned(), |d| d.to_string());
    for q in list {
        let state = if q.is_overdue(today) {
            "overdue".to_owned()
        } else {
            q.state().as_str().to_owned()
        };
        table.row(vec![
            q.id.to_string(),
            q.supplier.clone(),
            q.template.clone(),
            state,
            q.sent_on.to_string(),
            q.due.to_string(),
            day(q.answered_on),
            day(q.reviewed_on),
            q.score.map_or_else(|| "-".to_owned(), |s| s.to_string()),
            q.outcome.map_or("-", ReviewOutcome::as_str).to_owned(),
            q.document
                .as_ref()
                .map_or_else(|| "-".to_owned(), |d| d.name.clone()),
        ]);
    }
    table.render()
}
