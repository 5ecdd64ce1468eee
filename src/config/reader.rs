//! Typed reads from the spanned TOML tree, collecting every problem instead
//! of stopping at the first, so that one `validate` run lists them all.

use std::ops::Range;
use std::path::Path;
use std::str::FromStr;

use chrono::NaiveDate;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostic::{Diagnostic, LineIndex, did_you_mean};

pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

/// How many errors one file reports; the rest are counted, not kept, so
/// that a file of half a million unknown keys is refused in linear time
/// and with a readable answer.
pub const MAX_SHOWN_ERRORS: usize = 200;

/// A problem found but not yet located: locating (line and column) is done
/// once, at the end, for the problems that are shown.
struct Pending {
    offset: usize,
    key: String,
    message: Message,
}

/// A message, or what it is made from when making it costs: the "did you
/// mean" of an unknown key is computed only for the keys that are shown.
enum Message {
    Text(String),
    UnknownKey {
        name: String,
        known: &'static [&'static str],
    },
}

impl Message {
    fn render(self) -> String {
        match self {
            Self::Text(text) => text,
            Self::UnknownKey { name, known } => match did_you_mean(&name, known) {
                Some(s) => format!("unknown key; did you mean `{s}`?"),
                None => format!("unknown key; known keys here: {}", known.join(", ")),
            },
        }
    }
}

/// Where diagnostics go while one file is read.
pub(crate) struct Reader<'s> {
    pub source: &'s str,
    pub file: &'s Path,
    lines: LineIndex,
    /// The errors with the smallest offsets seen so far (at most twice
    /// [`MAX_SHOWN_ERRORS`] between trims).
    errors: Vec<Pending>,
    /// Every error seen, shown or not.
    error_count: usize,
    /// What loads but deserves a look (a secret others can read).
    warnings: Vec<Pending>,
}

/// A table being read, with the dotted path that names it in messages.
#[derive(Clone, Copy)]
pub(crate) struct Table<'t, 'i> {
    pub entries: &'t DeTable<'i>,
    pub start: usize,
    pub path: &'t str,
}

impl<'t, 'i> Table<'t, 'i> {
    pub fn key(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub fn get(&self, key: &str) -> Option<&'t Value<'i>> {
        self.entries.get(key)
    }

    pub fn header_span(&self) -> Range<usize> {
        self.start..self.start
    }
}

fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date/time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

impl<'s> Reader<'s> {
    pub fn new(source: &'s str, file: &'s Path) -> Self {
        Self {
            source,
            file,
            lines: LineIndex::new(source),
            errors: Vec::new(),
            error_count: 0,
            warnings: Vec::new(),
        }
    }

    /// Whether any error was found.
    pub fn has_errors(&self) -> bool {
        self.error_count > 0
    }

    /// The 1-based line of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        self.lines.locate(self.source, offset).0
    }

    /// The errors to show, first in the file first, and how many more
    /// there were.
    pub fn into_errors(mut self) -> (Vec<Diagnostic>, usize) {
        self.errors.sort_by_key(|p| p.offset);
        self.errors.truncate(MAX_SHOWN_ERRORS);
        let not_shown = self.error_count - self.errors.len();
        let errors = std::mem::take(&mut self.errors);
        (self.locate(errors), not_shown)
    }

    /// The warnings, first in the file first.
    pub fn take_warnings(&mut self) -> Vec<Diagnostic> {
        let mut warnings = std::mem::take(&mut self.warnings);
        warnings.sort_by_key(|p| p.offset);
        self.locate(warnings)
    }

    fn locate(&self, pending: Vec<Pending>) -> Vec<Diagnostic> {
        pending
            .into_iter()
            .map(|p| {
                Diagnostic::located(
                    self.source,
                    &self.lines,
                    self.file,
                    p.offset,
                    p.key,
                    p.message.render(),
                )
            })
            .collect()
    }

    pub fn error(&mut self, span: &Range<usize>, key: String, message: impl Into<String>) {
        self.push_error(span.start, key, Message::Text(message.into()));
    }

    fn push_error(&mut self, offset: usize, key: String, message: Message) {
        self.error_count += 1;
        self.errors.push(Pending {
            offset,
            key,
            message,
        });
        // Keep the first errors in the file: trimming to the smallest
        // offsets once the buffer doubles is linear overall.
        if self.errors.len() >= 2 * MAX_SHOWN_ERRORS {
            self.errors
                .select_nth_unstable_by_key(MAX_SHOWN_ERRORS, |p| p.offset);
            self.errors.truncate(MAX_SHOWN_ERRORS);
        }
    }

    /// A problem that does not stop the file from loading.
    pub fn warn(&mut self, span: &Range<usize>, key: String, message: impl Into<String>) {
        self.warnings.push(Pending {
            offset: span.start,
            key,
            message: Message::Text(message.into()),
        });
    }

    /// Refuses keys that are not in `known`, suggesting the likely one.
    pub fn refuse_unknown(&mut self, table: Table<'_, '_>, known: &'static [&'static str]) {
        for (key, _) in table.entries {
            let name: &str = key.get_ref();
            if known.contains(&name) {
                continue;
            }
            self.push_error(
                key.span().start,
                table.key(name),
                Message::UnknownKey {
                    name: name.to_owned(),
                    known,
                },
            );
        }
    }

    pub fn type_error(&mut self, value: &Value<'_>, key: String, expected: &str) {
        self.error(
            &value.span(),
            key,
            format!("expected {expected}, found {}", type_name(value.get_ref())),
        );
    }

    pub fn missing(&mut self, table: Table<'_, '_>, key: &str) {
        let span = table.header_span();
        self.error(&span, table.key(key), "this required key is missing");
    }

    pub fn string<'v>(&mut self, t: Table<'v, '_>, key: &str) -> Option<(&'v str, Range<usize>)> {
        let value = t.get(key)?;
        if let DeValue::String(s) = value.get_ref() {
            Some((s.as_ref(), value.span()))
        } else {
            self.type_error(value, t.key(key), "a string");
            None
        }
    }

    pub fn required_string<'v>(
        &mut self,
        t: Table<'v, '_>,
        key: &str,
    ) -> Option<(&'v str, Range<usize>)> {
        if t.get(key).is_none() {
            self.missing(t, key);
            return None;
        }
        self.string(t, key)
    }

    /// A non-empty string with no control characters (names, references).
    pub fn text(&mut self, t: Table<'_, '_>, key: &str, required: bool) -> Option<String> {
        let (text, span) = if required {
            self.required_string(t, key)?
        } else {
            self.string(t, key)?
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            self.error(&span, t.key(key), "must not be empty");
            return None;
        }
        if trimmed.chars().any(char::is_control) {
            self.error(
                &span,
                t.key(key),
                "must not contain control characters or line breaks",
            );
            return None;
        }
        Some(trimmed.to_owned())
    }

    /// A string parsed with `FromStr`; `what` completes "malformed …".
    pub fn parsed<T>(
        &mut self,
        t: Table<'_, '_>,
        key: &str,
        required: bool,
        what: &str,
    ) -> Option<T>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        let (text, span) = if required {
            self.required_string(t, key)?
        } else {
            self.string(t, key)?
        };
        self.parse_at(text, &span, t.key(key), what)
    }

    pub fn parse_at<T>(
        &mut self,
        text: &str,
        span: &Range<usize>,
        key: String,
        what: &str,
    ) -> Option<T>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match text.parse::<T>() {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(span, key, format!("malformed {what} {text:?}: {e}"));
                None
            }
        }
    }

    /// One of a fixed set of words.
    pub fn choice<T: FromStr>(
        &mut self,
        t: Table<'_, '_>,
        key: &str,
        required: bool,
        choices: &[&str],
    ) -> Option<T> {
        let (text, span) = if required {
            self.required_string(t, key)?
        } else {
            self.string(t, key)?
        };
        if let Ok(v) = text.parse::<T>() {
            return Some(v);
        }
        let hint = did_you_mean(text, choices)
            .map(|s| format!("; did you mean \"{s}\"?"))
            .unwrap_or_default();
        self.error(
            &span,
            t.key(key),
            format!("{text:?} is not one of {}{hint}", choices.join(" | ")),
        );
        None
    }

    pub fn boolean(&mut self, t: Table<'_, '_>, key: &str) -> Option<bool> {
        let value = t.get(key)?;
        if let DeValue::Boolean(b) = value.get_ref() {
            Some(*b)
        } else {
            self.type_error(value, t.key(key), "true or false");
            None
        }
    }

    /// An integer within `range` (inclusive).
    pub fn integer(
        &mut self,
        t: Table<'_, '_>,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<i64> {
        let value = t.get(key)?;
        let DeValue::Integer(int) = value.get_ref() else {
            self.type_error(value, t.key(key), "an integer");
            return None;
        };
        let digits = int.as_str().replace('_', "");
        match i64::from_str_radix(&digits, int.radix()) {
            Ok(n) if range.contains(&n) => Some(n),
            _ => {
                self.error(
                    &value.span(),
                    t.key(key),
                    format!(
                        "{} is out of range ({} to {})",
                        int.as_str(),
                        range.start(),
                        range.end()
                    ),
                );
                None
            }
        }
    }

    /// An array of integers in `range`; `None` when absent or invalid (an
    /// invalid one is reported).
    pub fn integers(
        &mut self,
        t: Table<'_, '_>,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<Vec<i64>> {
        let value = t.get(key)?;
        let DeValue::Array(items) = value.get_ref() else {
            self.type_error(value, t.key(key), "an array of integers");
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let item_key = format!("{}[{i}]", t.key(key));
            let DeValue::Integer(int) = item.get_ref() else {
                self.type_error(item, item_key, "an integer");
                ok = false;
                continue;
            };
            let digits = int.as_str().replace('_', "");
            match i64::from_str_radix(&digits, int.radix()) {
                Ok(n) if range.contains(&n) => out.push(n),
                _ => {
                    ok = false;
                    self.error(
                        &item.span(),
                        item_key,
                        format!(
                            "{} is out of range ({} to {})",
                            int.as_str(),
                            range.start(),
                            range.end()
                        ),
                    );
                }
            }
        }
        ok.then_some(out)
    }

    /// A calendar date: a TOML local date (`2027-06-30`) or a string in that form.
    pub fn date(
        &mut self,
        t: Table<'_, '_>,
        key: &str,
        required: bool,
    ) -> Option<(NaiveDate, Range<usize>)> {
        let Some(value) = t.get(key) else {
            if required {
                self.missing(t, key);
            }
            return None;
        };
        let span = value.span();
        let parsed = match value.get_ref() {
            DeValue::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => {
                dt.date.and_then(|d| {
                    NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
                })
            }
            DeValue::String(s) if s.len() == 10 => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
            DeValue::String(_) => None,
            DeValue::Datetime(_) => {
                self.error(
                    &span,
                    t.key(key),
                    "expected a date without a time, e.g. 2027-06-30",
                );
                return None;
            }
            _ => {
                self.type_error(value, t.key(key), "a date such as 2027-06-30");
                return None;
            }
        };
        if parsed.is_none() {
            self.error(
                &span,
                t.key(key),
                "not a valid date; write it as YYYY-MM-DD",
            );
        }
        parsed.map(|d| (d, span))
    }

    /// An array of strings, each returned with its span and its own key
    /// (`domains[2]`). A lone string is accepted where `lone_ok`.
    pub fn strings<'v>(
        &mut self,
        t: Table<'v, '_>,
        key: &str,
        lone_ok: bool,
    ) -> Vec<(&'v str, Range<usize>, String)> {
        let Some(value) = t.get(key) else {
            return Vec::new();
        };
        match value.get_ref() {
            DeValue::String(s) if lone_ok => vec![(s.as_ref(), value.span(), t.key(key))],
            DeValue::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let item_key = format!("{}[{i}]", t.key(key));
                    match item.get_ref() {
                        DeValue::String(s) => out.push((s.as_ref(), item.span(), item_key)),
                        _ => self.type_error(item, item_key, "a string"),
                    }
                }
                out
            }
            _ => {
                let expected = if lone_ok {
                    "a string or an array of strings"
                } else {
                    "an array of strings"
                };
                self.type_error(value, t.key(key), expected);
                Vec::new()
            }
        }
    }

    /// A sub-table (`[probe]`, or an inline table).
    pub fn table<'v, 'i>(
        &mut self,
        parent: Table<'v, 'i>,
        key: &str,
    ) -> Option<(&'v DeTable<'i>, usize)> {
        let value = parent.get(key)?;
        if let DeValue::Table(t) = value.get_ref() {
            Some((t, value.span().start))
        } else {
            self.type_error(value, parent.key(key), "a table");
            None
        }
    }
}
