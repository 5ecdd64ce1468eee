//! Due-diligence questionnaires: sent, answered, reviewed.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// What the reviewer concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewOutcome {
    /// The answers are satisfactory.
    Accepted,
    /// Acceptable once the supplier fixes what the review names.
    Remediation,
    /// Not acceptable.
    Rejected,
}

impl ReviewOutcome {
    pub const ALL: [&'static str; 3] = ["accepted", "remediation", "rejected"];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Remediation => "remediation",
            Self::Rejected => "rejected",
        }
    }
}

/// A word that names no [`ReviewOutcome`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown outcome {0:?}; expected one of {names}", names = ReviewOutcome::ALL.join(", "))]
pub struct UnknownReviewOutcome(pub String);

impl FromStr for ReviewOutcome {
    type Err = UnknownReviewOutcome;
    fn from_str(s: &str) -> Result<Self, UnknownReviewOutcome> {
        match s {
            "accepted" => Ok(Self::Accepted),
            "remediation" => Ok(Self::Remediation),
            "rejected" => Ok(Self::Rejected),
            other => Err(UnknownReviewOutcome(other.to_owned())),
        }
    }
}

impl fmt::Display for ReviewOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a questionnaire is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QuestionnaireState {
    /// Sent, waiting for the answers.
    Sent,
    /// Answered, waiting for a review.
    Answered,
    /// Reviewed: done.
    Reviewed,
}

impl QuestionnaireState {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Answered => "answered",
            Self::Reviewed => "reviewed",
        }
    }
}

/// An answered document, kept content-addressed beside the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Document {
    /// SHA-256 of the content, hex: also the stored file's name.
    pub sha256: String,
    /// The file name it was recorded from.
    pub name: String,
    pub size: u64,
}

/// One questionnaire sent to a supplier, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Questionnaire {
    pub id: i64,
    pub supplier: String,
    /// The questionnaire used (e.g. `sig-lite-2026`).
    pub template: String,
    pub sent_on: NaiveDate,
    pub sent_to: Option<String>,
    pub due: NaiveDate,
    pub answered_on: Option<NaiveDate>,
    pub document: Option<Document>,
    pub reviewed_on: Option<NaiveDate>,
    /// 0–100, from the review.
    pub score: Option<u8>,
    pub reviewer: Option<String>,
    pub notes: Option<String>,
    pub outcome: Option<ReviewOutcome>,
}

impl Questionnaire {
    #[must_use]
    pub fn state(&self) -> QuestionnaireState {
        if self.reviewed_on.is_some() {
            QuestionnaireState::Reviewed
        } else if self.answered_on.is_some() {
            QuestionnaireState::Answered
        } else {
            QuestionnaireState::Sent
        }
    }

    /// Sent, past `due` on `today` and still not answered.
    #[must_use]
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        self.state() == QuestionnaireState::Sent && today > self.due
    }
}

/// Questionnaires grouped by supplier id, each group in the order given.
#[must_use]
pub fn by_supplier(list: &[Questionnaire]) -> std::collections::HashMap<&str, Vec<Questionnaire>> {
    let mut out: std::collections::HashMap<&str, Vec<Questionnaire>> =
        std::collections::HashMap::new();
    for q in list {
        out.entry(q.supplier.as_str()).or_default().push(q.clone());
    }
    out
}
