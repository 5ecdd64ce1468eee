//! A supplier's score (0–100) and grade (A–F) from its open findings.
//!
//! Pure and small, so that README can show the formula and worked examples:
//! start from 100 and subtract a weight per open finding (critical 40,
//! high 20, medium 8, low 3, info 0), never below 0. The grade follows the
//! score (A ≥ 90, B ≥ 80, C ≥ 70, D ≥ 60, else F), capped in the spirit of
//! SSL Labs by the worst open finding: a critical one caps the grade at F, a
//! high one at C, a medium one at B. Accepted risks are not passed in.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Severity;

/// A letter grade, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Grade {
    A,
    B,
    C,
    D,
    F,
}

impl Grade {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::B => "B",
            Self::C => "C",
            Self::D => "D",
            Self::F => "F",
        }
    }

    /// Parses the stored letter.
    #[must_use]
    pub fn from_letter(letter: &str) -> Option<Self> {
        match letter {
            "A" => Some(Self::A),
            "B" => Some(Self::B),
            "C" => Some(Self::C),
            "D" => Some(Self::D),
            "F" => Some(Self::F),
            _ => None,
        }
    }
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one open finding of a severity costs.
#[must_use]
pub fn weight(severity: Severity) -> u32 {
    match severity {
        Severity::Critical => 40,
        Severity::High => 20,
        Severity::Medium => 8,
        Severity::Low => 3,
        Severity::Info => 0,
    }
}

/// The worst grade a supplier with an open finding of `severity` can have.
#[must_use]
pub fn cap(severity: Severity) -> Grade {
    match severity {
        Severity::Critical => Grade::F,
        Severity::High => Grade::C,
        Severity::Medium => Grade::B,
        Severity::Low | Severity::Info => Grade::A,
    }
}

/// Score and grade from the severities of the open, not accepted, findings.
pub fn score(open: impl IntoIterator<Item = Severity>) -> (u8, Grade) {
    let mut lost: u32 = 0;
    let mut worst: Option<Severity> = None;
    for severity in open {
        lost = lost.saturating_add(weight(severity));
        worst = worst.max(Some(severity));
    }
    let score = 100_u32.saturating_sub(lost);
    let by_score = match score {
        90.. => Grade::A,
        80..=89 => Grade::B,
        70..=79 => Grade::C,
        60..=69 => Grade::D,
        _ => Grade::F,
    };
    let grade = worst.map_or(by_score, |w| by_score.max(cap(w)));
    (u8::try_from(score).unwrap_or(100), grade)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Severity::{Critical, High, Info, Low, Medium};

    /// The worked examples in README.
    #[test]
    fn worked_examples() {
        assert_eq!(score([]), (100, Grade::A));
        assert_eq!(score([Low, Low, Info]), (94, Grade::A));
        assert_eq!(score([Medium]), (92, Grade::B), "a medium caps at B");
        assert_eq!(score([High]), (80, Grade::C), "a high caps at C");
        assert_eq!(score([Medium, Medium, Low, Low]), (78, Grade::C));
        assert_eq!(score([High, High, Medium]), (52, Grade::F));
        assert_eq!(score([Critical]), (60, Grade::F), "a critical caps at F");
        assert_eq!(score([Critical, Critical, High]), (0, Grade::F));
    }
}
