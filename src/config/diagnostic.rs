//! A config problem located in its file: `file:line:column: key: message`.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// One problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The dotted key the problem is about (`supplier[acme].contract.end`),
    /// empty for a problem with the file as a whole.
    pub key: String,
    pub message: String,
    #[serde(skip)]
    pub offset: usize,
}

impl Diagnostic {
    /// A diagnostic at a byte offset located with a prebuilt [`LineIndex`].
    pub(crate) fn located(
        source: &str,
        lines: &LineIndex,
        file: &Path,
        offset: usize,
        key: String,
        message: String,
    ) -> Self {
        let (line, column) = lines.locate(source, offset);
        Self {
            file: file.to_path_buf(),
            line,
            column,
            key,
            message,
            offset,
        }
    }

    pub(crate) fn at(
        source: &str,
        file: &Path,
        span: &Range<usize>,
        key: String,
        message: String,
    ) -> Self {
        let (line, column) = line_column(source, span.start);
        Self {
            file: file.to_path_buf(),
            line,
            column,
            key,
            message,
            offset: span.start,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

/// 1-based line and character column of a byte offset.
pub(crate) fn line_column(source: &str, offset: usize) -> (usize, usize) {
    LineIndex::new(source).locate(source, offset)
}

/// Where each line of a source starts, computed once so that locating an
/// offset is a binary search rather than a scan from the start of the file
/// (a scan per error made `validate` quadratic in the number of errors).
pub(crate) struct LineIndex {
    /// Byte offset of the first byte of each line; `starts[0]` is 0.
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(source: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(
                source
                    .bytes()
                    .enumerate()
                    .filter(|(_, b)| *b == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect();
        Self { starts }
    }

    /// 1-based line and character column of a byte offset of `source`
    /// (the text this index was built from).
    pub(crate) fn locate(&self, source: &str, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(source.len());
        while !source.is_char_boundary(offset) {
            offset -= 1;
        }
        // The number of line starts at or before `offset` is the line.
        let line = self.starts.partition_point(|start| *start <= offset).max(1);
        let line_start = self.starts.get(line - 1).copied().unwrap_or(0);
        let column = source
            .get(line_start..offset)
            .unwrap_or_default()
            .chars()
            .count()
            + 1;
        (line, column)
    }
}

/// The closest known key, when it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'k>(unknown: &str, known: &[&'k str]) -> Option<&'k str> {
    let unknown = unknown.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&unknown, k), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        let mut row = Vec::with_capacity(b.len() + 1);
        row.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitute =
                previous.get(j).copied().unwrap_or(usize::MAX) + usize::from(ca != *cb);
            let delete = previous.get(j + 1).copied().unwrap_or(usize::MAX) + 1;
            let insert = row.last().copied().unwrap_or(usize::MAX) + 1;
            row.push(substitute.min(delete).min(insert));
        }
        current = row;
        std::mem::swap(&mut previous, &mut current);
    }
    previous.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_in_characters() {
        let src = "a = 1\nbé = 2\n";
        assert_eq!(line_column(src, 0), (1, 1));
        assert_eq!(line_column(src, 6), (2, 1));
        // 'é' is two bytes but one column.
        assert_eq!(line_column(src, 9), (2, 3));
        assert_eq!(line_column(src, 999), (3, 1));
        // In the middle of 'é': the start of the character.
        assert_eq!(line_column(src, 8), (2, 2));
        let index = LineIndex::new(src);
        for offset in 0..src.len() + 2 {
            let mut at = offset.min(src.len());
            while !src.is_char_boundary(at) {
                at -= 1;
            }
            let before = &src[..at];
            let line = before.matches('\n').count() + 1;
            let start = before.rfind('\n').map_or(0, |i| i + 1);
            let column = before[start..].chars().count() + 1;
            assert_eq!(index.locate(src, offset), (line, column), "{offset}");
        }
    }

    #[test]
    fn suggestions() {
        let known = ["criticality", "contract", "country"];
        assert_eq!(did_you_mean("criticallity", &known), Some("criticality"));
        assert_eq!(did_you_mean("Contract", &known), Some("contract"));
        assert_eq!(did_you_mean("zzz", &known), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
