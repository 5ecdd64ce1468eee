//! A plain-text table with aligned columns.

/// Rows of cells under a header, rendered with two spaces between columns.
#[derive(Debug, Clone)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// Cells longer than this are cut with an ellipsis so one long value
/// (an audit snapshot) does not stretch every row.
const MAX_CELL: usize = 80;

impl Table {
    #[must_use]
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows
            .push(cells.into_iter().map(|c| clean(&c)).collect());
    }

    #[must_use]
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cell.chars().count());
                }
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                let width = widths.get(i).copied().unwrap_or(0);
                if i + 1 < row.len() {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(width - cell.chars().count() + 2));
                } else {
                    line.push_str(cell);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// One line, control characters replaced, long values shortened.
fn clean(cell: &str) -> String {
    let mut s = super::terminal_text(cell);
    if s.chars().count() > MAX_CELL {
        s = s.chars().take(MAX_CELL - 1).collect();
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns() {
        let mut t = Table::new(&["ID", "NAME"]);
        t.row(vec!["acme".into(), "Acme\nCloud".into()]);
        t.row(vec!["b".into(), "B".into()]);
        assert_eq!(t.render(), "ID    NAME\nacme  Acme Cloud\nb     B\n");
    }
}
