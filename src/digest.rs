//! The weekly digest: what the risk manager (and the CISO) reads on Monday
//! morning, rendered as plain text and as HTML for one multipart e-mail.
//! Pure: [`DigestInput`] is gathered from the store elsewhere
//! (`pipeline::digest_input`); this module only renders it, the HTML part
//! in `html`.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::Serialize;

use crate::checks::paperwork::Deadline;
use crate::checks::score::Grade;
use crate::mail::text::{header_line, plain};
use crate::registry::Questionnaire;
use crate::store::StoredFinding;

mod html;

/// One supplier's standing for the digest.
#[derive(Debug, Clone, Serialize)]
pub struct DigestSupplier {
    pub id: String,
    pub name: String,
    pub criticality: String,
    /// `None`: never scored.
    pub grade: Option<&'static str>,
    pub score: Option<u8>,
    /// As of the latest run at least a week before.
    pub grade_week_ago: Option<&'static str>,
    pub score_week_ago: Option<u8>,
}

/// An e-mail that could not be delivered and was given up.
#[derive(Debug, Clone, Serialize)]
pub struct Undelivered {
    pub recipient: String,
    pub subject: String,
    pub queued_at: DateTime<Utc>,
    pub attempts: u32,
    pub last_error: String,
}

/// An accepted risk that ends soon: to be renewed with a reason, or let end.
#[derive(Debug, Clone, Serialize)]
pub struct EndingAcceptance {
    pub supplier: String,
    pub check: String,
    /// `None`: every target of the supplier.
    pub target: Option<String>,
    pub until: NaiveDate,
    pub approved_by: String,
    pub reason: String,
}

/// Everything the digest shows.
#[derive(Debug, Clone, Serialize)]
pub struct DigestInput {
    pub generated_at: DateTime<Utc>,
    /// The day it is about (in the daemon's time zone).
    pub today: NaiveDate,
    /// The week covered: `since` to `generated_at`.
    pub since: DateTime<Utc>,
    /// Suppliers in the registry (not exited), worst grade first.
    pub suppliers: Vec<DigestSupplier>,
    /// Findings opened or reopened during the week, worst first.
    pub new_findings: Vec<StoredFinding>,
    /// Findings resolved during the week.
    pub resolved_findings: Vec<StoredFinding>,
    /// Paperwork deadlines in the next 30 days, earliest first.
    pub deadlines: Vec<Deadline>,
    /// Questionnaires past due without an answer.
    pub overdue_questionnaires: Vec<Questionnaire>,
    /// The ten worst open findings (not accepted), worst first.
    pub worst_open: Vec<StoredFinding>,
    /// Open findings in all, by severity: critical, high, medium, low, info.
    pub open_counts: [u32; 5],
    /// E-mails given up since the last digest.
    pub undelivered: Vec<Undelivered>,
    /// Accepted risks ending within 14 days, soonest first.
    pub ending_acceptances: Vec<EndingAcceptance>,
    /// Set while the monitor cannot see: since when.
    pub blind_since: Option<DateTime<Utc>>,
}

/// A rendered digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// One line, without CR/LF.
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// How wide the plain-text part tries to keep its lines.
const TEXT_WIDTH: usize = 100;
/// The HTML part's maximum width, in CSS pixels.
const HTML_WIDTH: u32 = 760;
/// At most this many findings per list of the week (the rest are counted).
const MAX_LISTED: usize = 50;
/// The worst open findings shown.
const WORST_SHOWN: usize = 10;
/// The grades, best first, as the distribution shows them.
const GRADES: [&str; 5] = ["A", "B", "C", "D", "F"];
/// The line that makes a missing digest a warning in itself.
const FOOTER: &str = "This digest is sent every week, also when all is well: \
                      if one does not arrive, check the supplywatch service.";

/// Renders the digest: a one-line subject, a plain-text part and a
/// self-contained HTML part (inline styles, tables, no external resources),
/// with the same sections in the same order.
///
/// Every string from the registry, the store, suppliers or servers goes
/// into the HTML part as `html::Text`, and through [`plain`] or
/// [`header_line`] into the text part and the subject.
#[must_use]
pub fn render(input: &DigestInput) -> Digest {
    let facts = Facts::new(input);
    let subject = header_line(
        &format!(
            "supplywatch weekly digest {}: {} suppliers, {} critical, {} high open",
            input.today,
            input.suppliers.len(),
            facts.critical,
            facts.high
        ),
        200,
    );
    Digest {
        text: render_text(input, &facts, &subject),
        html: html::render_html(input, &facts, &subject),
        subject,
    }
}

// ---------------------------------------------------------------------------
// What both parts share.

/// Figures worked out once for both parts.
struct Facts<'a> {
    critical: u32,
    high: u32,
    /// Suppliers per grade A–F, then "not scored".
    grades: [usize; 6],
    /// Suppliers whose grade differs from a week ago.
    changes: Vec<&'a DigestSupplier>,
    /// Supplier id → display name.
    names: HashMap<&'a str, &'a str>,
}

impl<'a> Facts<'a> {
    fn new(input: &'a DigestInput) -> Self {
        let [critical, high, ..] = input.open_counts;
        let mut grades = [0_usize; 6];
        for supplier in &input.suppliers {
            let slot = supplier
                .grade
                .and_then(|g| GRADES.iter().position(|&known| known == g))
                .unwrap_or(GRADES.len());
            if let Some(count) = grades.get_mut(slot) {
                *count += 1;
            }
        }
        let changes = input
            .suppliers
            .iter()
            .filter(|s| s.grade != s.grade_week_ago)
            .collect();
        let names = input
            .suppliers
            .iter()
            .map(|s| (s.id.as_str(), s.name.as_str()))
            .collect();
        Self {
            critical,
            high,
            grades,
            changes,
            names,
        }
    }

    /// Nothing open at high or worse and every e-mail delivered.
    fn all_well(&self, input: &DigestInput) -> bool {
        self.critical == 0 && self.high == 0 && input.undelivered.is_empty()
    }

    /// The one-sentence headline.
    fn headline(&self, input: &DigestInput) -> String {
        if let Some(since) = input.blind_since {
            // The blind period leads: what follows was not seen since then.
            return format!(
                "The monitor cannot see since {}: its probe runs went mostly unanswered (our network or \
                 resolver, not the suppliers). Nothing they saw was recorded; grades are those of the last \
                 run that could see.",
                when(since)
            );
        }
        if self.all_well(input) {
            return "All is well: nothing is open at high or worse, and every e-mail was delivered."
                .to_owned();
        }
        let mut parts = Vec::new();
        if self.critical > 0 || self.high > 0 {
            let total = self.critical.saturating_add(self.high);
            parts.push(format!(
                "{} critical and {} high {} open",
                self.critical,
                self.high,
                if total == 1 { "finding" } else { "findings" }
            ));
        }
        if !input.undelivered.is_empty() {
            let n = input.undelivered.len();
            parts.push(format!(
                "{n} {} could not be delivered",
                if n == 1 { "e-mail" } else { "e-mails" }
            ));
        }
        format!("Needs attention: {}.", parts.join("; "))
    }

    /// The supplier's name, or its id when it is not in the registry.
    fn name<'s>(&self, id: &'s str) -> &'s str
    where
        'a: 's,
    {
        self.names.get(id).copied().unwrap_or(id)
    }
}

/// "Open findings: 1 critical, …" from the counts.
fn open_counts_line(counts: [u32; 5]) -> String {
    let [critical, high, medium, low, info] = counts;
    format!(
        "Open findings: {critical} critical, {high} high, {medium} medium, {low} low, {info} info."
    )
}

fn plural(n: i64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// How long something lasted, roughly.
fn duration_text(d: TimeDelta) -> String {
    let minutes = d.num_minutes();
    if minutes < 1 {
        "under a minute".to_owned()
    } else if minutes < 60 {
        plural(minutes, "minute", "minutes")
    } else if minutes < 48 * 60 {
        plural(d.num_hours(), "hour", "hours")
    } else {
        plural(d.num_days(), "day", "days")
    }
}

/// Days from `today` to a date, in words.
fn days_left(today: NaiveDate, date: NaiveDate) -> String {
    match (date - today).num_days() {
        0 => "today".to_owned(),
        1 => "tomorrow".to_owned(),
        -1 => "yesterday".to_owned(),
        n if n > 0 => format!("in {n} days"),
        n => format!("{} days ago", -n),
    }
}

fn days_late(today: NaiveDate, due: NaiveDate) -> String {
    format!("{} late", plural((today - due).num_days(), "day", "days"))
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// When a finding has been open since, and for how long as of `now`.
fn open_since(f: &StoredFinding, now: DateTime<Utc>) -> String {
    let since = f.opened_at.unwrap_or(f.first_seen);
    format!("{} ({})", day(since), duration_text(now - since))
}

/// When a finding of the week opened, and whether it came back.
fn opened_text(f: &StoredFinding) -> String {
    let at = when(f.opened_at.unwrap_or(f.first_seen));
    match f.reopen_count {
        0 => format!("opened {at}"),
        n => format!(
            "reopened {at} (back {})",
            plural(i64::from(n), "time", "times")
        ),
    }
}

/// When a finding resolved, and how long it had been open when known.
fn resolved_text(f: &StoredFinding) -> String {
    match (f.opened_at, f.resolved_at) {
        (Some(opened), Some(resolved)) => format!(
            "resolved {}, lasted {}",
            when(resolved),
            duration_text(resolved - opened)
        ),
        (None, Some(resolved)) => format!("resolved {}", when(resolved)),
        (_, None) => format!("resolved {}", when(f.changed_at)),
    }
}

/// "worse", "better" or "changed" (when either side is not scored).
fn direction(s: &DigestSupplier) -> &'static str {
    let rank = |g: Option<&str>| g.and_then(Grade::from_letter);
    match (rank(s.grade_week_ago), rank(s.grade)) {
        (Some(before), Some(now)) if now > before => "worse",
        (Some(before), Some(now)) if now < before => "better",
        _ => "changed",
    }
}

fn grade_name(g: Option<&str>) -> &str {
    g.unwrap_or("not scored")
}

/// "85 → 62 (-23)" and the like, with `arrow` between.
fn score_change(s: &DigestSupplier, arrow: &str) -> String {
    match (s.score_week_ago, s.score) {
        (Some(before), Some(now)) => format!(
            "{before} {arrow} {now} ({:+})",
            i16::from(now) - i16::from(before)
        ),
        (None, Some(now)) => format!("{now} (newly scored)"),
        (Some(before), None) => format!("{before} {arrow} none"),
        (None, None) => "none".to_owned(),
    }
}

// ---------------------------------------------------------------------------
// Plain text.

/// One untrusted string as one clean line of at most `max` characters.
fn line(text: &str, max: usize) -> String {
    plain(&header_line(text, max))
}

/// Appends `text` word-wrapped to [`TEXT_WIDTH`], the first line starting
/// with `first`, the others with `rest`. `text` is one clean line; a word
/// longer than a line is cut rather than left to overflow.
fn wrap(out: &mut String, text: &str, first: &str, rest: &str) {
    let mut current = first.to_owned();
    // Whether `current` holds a word yet.
    let mut filled = false;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut chars: Vec<char> = word.chars().collect();
        loop {
            let used = current.chars().count();
            if used + usize::from(filled) + chars.len() <= TEXT_WIDTH {
                if filled {
                    current.push(' ');
                }
                current.extend(chars);
                filled = true;
                break;
            }
            if filled {
                push_line(out, &current);
                rest.clone_into(&mut current);
                filled = false;
                continue;
            }
            let room = TEXT_WIDTH.saturating_sub(used).max(20);
            if chars.len() <= room {
                current.extend(chars);
                filled = true;
                break;
            }
            let tail = chars.split_off(room);
            current.extend(chars);
            push_line(out, &current);
            rest.clone_into(&mut current);
            chars = tail;
        }
    }
    if filled {
        push_line(out, &current);
    }
}

fn push_line(out: &mut String, line: &str) {
    out.push_str(line.trim_end());
    out.push('\n');
}

fn text_title(out: &mut String, title: &str) {
    out.push('\n');
    out.push_str(title);
    out.push('\n');
    out.push_str(&"-".repeat(title.chars().count()));
    out.push('\n');
}

fn text_none(out: &mut String) {
    out.push_str("  none\n");
}

/// Pads every cell but the last to its column's width; rows are clean.
fn text_columns(out: &mut String, rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut prefix = String::from(" ");
        let mut cells = row.iter().zip(&widths).peekable();
        let mut last = "";
        while let Some((cell, width)) = cells.next() {
            if cells.peek().is_none() {
                last = cell;
                break;
            }
            prefix.push(' ');
            let _ = write!(prefix, "{cell:<width$}");
            prefix.push(' ');
        }
        let whole = format!("{prefix} {last}");
        let indent = prefix.chars().count() + 1;
        if whole.chars().count() <= TEXT_WIDTH {
            push_line(out, &whole);
        } else if indent + 20 > TEXT_WIDTH {
            // No room left for the last column: one wrapped paragraph.
            wrap(out, &row.join("  "), "  ", "      ");
        } else {
            let rest = " ".repeat(if indent <= 60 { indent } else { 6 });
            wrap(out, last, &format!("{prefix} "), &rest);
        }
    }
}

fn text_finding(out: &mut String, facts: &Facts<'_>, f: &StoredFinding, last: &str) {
    let head = format!(
        "[{}] {}: {} on {}",
        f.severity,
        line(facts.name(&f.supplier), 60),
        line(&f.check, 60),
        line(&f.target, 200)
    );
    wrap(out, &head, "  ", "      ");
    wrap(out, &line(&f.summary, 500), "      ", "      ");
    if let Some((meaning, _)) = crate::report::explain::plain(&f.check) {
        wrap(
            out,
            &format!("What it means: {meaning}"),
            "      ",
            "      ",
        );
    }
    wrap(out, last, "      ", "      ");
}

fn text_more(out: &mut String, total: usize, shown: usize) {
    if total > shown {
        let _ = writeln!(out, "  … and {} more", total - shown);
    }
}

fn render_text(input: &DigestInput, facts: &Facts<'_>, subject: &str) -> String {
    let mut out = String::new();
    out.push_str(subject);
    out.push('\n');
    out.push_str(&"=".repeat(subject.chars().count()));
    out.push('\n');
    let _ = writeln!(
        out,
        "Covers {} to {}.\n",
        when(input.since),
        when(input.generated_at)
    );
    wrap(&mut out, &facts.headline(input), "", "");
    out.push_str(&open_counts_line(input.open_counts));
    out.push('\n');

    text_grades(&mut out, facts);
    text_changes(&mut out, facts);
    text_findings(
        &mut out,
        facts,
        &format!("New findings this week ({})", input.new_findings.len()),
        &input.new_findings,
        MAX_LISTED,
        opened_text,
    );
    text_findings(
        &mut out,
        facts,
        &format!("Resolved this week ({})", input.resolved_findings.len()),
        &input.resolved_findings,
        MAX_LISTED,
        resolved_text,
    );
    text_deadlines(&mut out, input, facts);
    text_overdue(&mut out, input, facts);
    text_findings(
        &mut out,
        facts,
        "The ten worst open findings",
        &input.worst_open,
        WORST_SHOWN,
        |f| format!("open since {}", open_since(f, input.generated_at)),
    );
    text_ending(&mut out, input, facts);
    text_undelivered(&mut out, input);

    out.push_str("\n-- \n");
    out.push_str(FOOTER);
    out.push('\n');
    let _ = writeln!(
        out,
        "Generated by supplywatch at {}.",
        when(input.generated_at)
    );
    out
}

fn text_grades(out: &mut String, facts: &Facts<'_>) {
    text_title(out, "Grade distribution");
    let labels = GRADES.iter().copied().chain(std::iter::once("not scored"));
    let rows: Vec<Vec<String>> = labels
        .zip(facts.grades)
        .map(|(label, n)| vec![label.to_owned(), format!("{n:>4}")])
        .collect();
    text_columns(out, &rows);
}

fn text_changes(out: &mut String, facts: &Facts<'_>) {
    text_title(out, "Grade changes since a week ago");
    if facts.changes.is_empty() {
        text_none(out);
        return;
    }
    let rows: Vec<Vec<String>> = facts
        .changes
        .iter()
        .map(|s| {
            vec![
                line(&s.name, 40),
                format!(
                    "{} -> {}",
                    line(grade_name(s.grade_week_ago), 12),
                    line(grade_name(s.grade), 12)
                ),
                format!("score {}", score_change(s, "->")),
                direction(s).to_owned(),
            ]
        })
        .collect();
    text_columns(out, &rows);
}

/// A titled list of findings, at most `limit`, each closed by `last`.
fn text_findings(
    out: &mut String,
    facts: &Facts<'_>,
    title: &str,
    findings: &[StoredFinding],
    limit: usize,
    last: impl Fn(&StoredFinding) -> String,
) {
    text_title(out, title);
    if findings.is_empty() {
        text_none(out);
    }
    for f in findings.iter().take(limit) {
        text_finding(out, facts, f, &last(f));
    }
    text_more(out, findings.len(), limit);
}

fn text_deadlines(out: &mut String, input: &DigestInput, facts: &Facts<'_>) {
    text_title(
        out,
        &format!("Deadlines in the next 30 days ({})", input.deadlines.len()),
    );
    if input.deadlines.is_empty() {
        text_none(out);
        return;
    }
    let rows: Vec<Vec<String>> = input
        .deadlines
        .iter()
        .map(|d| {
            vec![
                d.date.to_string(),
                days_left(input.today, d.date),
                line(facts.name(&d.supplier), 40),
                format!("{}: {}", line(d.what, 40), line(&d.subject, 120)),
            ]
        })
        .collect();
    text_columns(out, &rows);
}

fn text_overdue(out: &mut String, input: &DigestInput, facts: &Facts<'_>) {
    text_title(
        out,
        &format!(
            "Overdue questionnaires ({})",
            input.overdue_questionnaires.len()
        ),
    );
    if input.overdue_questionnaires.is_empty() {
        text_none(out);
        return;
    }
    let rows: Vec<Vec<String>> = input
        .overdue_questionnaires
        .iter()
        .map(|q| {
            vec![
                line(facts.name(&q.supplier), 40),
                format!("#{}", q.id),
                line(&q.template, 40),
                format!("due {}", q.due),
                days_late(input.today, q.due),
            ]
        })
        .collect();
    text_columns(out, &rows);
}

/// The accepted risk's target as a line shows it.
fn ending_target(a: &EndingAcceptance) -> String {
    a.target.clone().unwrap_or_else(|| "all targets".to_owned())
}

/// Only when an acceptance ends within 14 days.
fn text_ending(out: &mut String, input: &DigestInput, facts: &Facts<'_>) {
    if input.ending_acceptances.is_empty() {
        return;
    }
    text_title(
        out,
        &format!(
            "Accepted risks ending within 14 days ({})",
            input.ending_acceptances.len()
        ),
    );
    let rows: Vec<Vec<String>> = input
        .ending_acceptances
        .iter()
        .map(|a| {
            vec![
                format!("until {}", a.until),
                line(facts.name(&a.supplier), 40),
                format!("{} on {}", line(&a.check, 60), line(&ending_target(a), 120)),
                format!(
                    "approved by {}: {}",
                    line(&a.approved_by, 120),
                    line(&a.reason, 200)
                ),
            ]
        })
        .collect();
    text_columns(out, &rows);
}

/// Only when any e-mail was given up.
fn text_undelivered(out: &mut String, input: &DigestInput) {
    if input.undelivered.is_empty() {
        return;
    }
    text_title(
        out,
        &format!(
            "E-mails that could not be delivered ({})",
            input.undelivered.len()
        ),
    );
    for u in &input.undelivered {
        let head = format!(
            "to {}: \"{}\"",
            line(&u.recipient, 120),
            line(&u.subject, 200)
        );
        wrap(out, &head, "  ", "      ");
        let tries = format!(
            "queued {}, {}",
            when(u.queued_at),
            plural(i64::from(u.attempts), "attempt", "attempts")
        );
        wrap(out, &tries, "      ", "      ");
        let error = format!("last error: {}", line(&u.last_error, 500));
        wrap(out, &error, "      ", "      ");
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::checks::Severity;
    use crate::store::FindingState;

    const HOSTILE: &str = "<script>alert(1)</script>\"><img src=x onerror=alert(1)>\r\nBcc: x@y";

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
    }

    fn date(month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, month, day).unwrap()
    }

    fn supplier(
        id: &str,
        name: &str,
        now: Option<(&'static str, u8)>,
        week_ago: Option<(&'static str, u8)>,
    ) -> DigestSupplier {
        DigestSupplier {
            id: id.to_owned(),
            name: name.to_owned(),
            criticality: "critical".to_owned(),
            grade: now.map(|(g, _)| g),
            score: now.map(|(_, s)| s),
            grade_week_ago: week_ago.map(|(g, _)| g),
            score_week_ago: week_ago.map(|(_, s)| s),
        }
    }

    fn finding(
        supplier: &str,
        check: crate::registry::CheckId,
        target: &str,
        severity: Severity,
        summary: &str,
        opened: DateTime<Utc>,
    ) -> StoredFinding {
        StoredFinding {
            supplier: supplier.to_owned(),
            check: check.as_str().to_owned(),
            target: target.to_owned(),
            state: FindingState::Open,
            severity,
            summary: summary.to_owned(),
            evidence: json!({}),
            first_seen: opened,
            last_seen: at(16, 8),
            opened_at: Some(opened),
            resolved_at: None,
            changed_at: opened,
            reopen_count: 0,
            last_resolved_at: None,
            resolution: None,
            streak: 3,
        }
    }

    fn questionnaire(id: i64, supplier: &str, template: &str, due: NaiveDate) -> Questionnaire {
        Questionnaire {
            id,
            supplier: supplier.to_owned(),
            template: template.to_owned(),
            sent_on: date(1, 15),
            sent_to: Some("security@acme.example".to_owned()),
            due,
            answered_on: None,
            document: None,
            reviewed_on: None,
            score: None,
            reviewer: None,
            notes: None,
            outcome: None,
        }
    }

    fn empty() -> DigestInput {
        DigestInput {
            generated_at: at(16, 8),
            today: date(3, 16),
            since: at(9, 8),
            suppliers: Vec::new(),
            new_findings: Vec::new(),
            resolved_findings: Vec::new(),
            deadlines: Vec::new(),
            overdue_questionnaires: Vec::new(),
            worst_open: Vec::new(),
            open_counts: [0; 5],
            undelivered: Vec::new(),
            ending_acceptances: Vec::new(),
            blind_since: None,
        }
    }

    fn full() -> DigestInput {
        let expired = finding(
            "acme",
            crate::registry::CheckId::TlsCertExpired,
            "api.acme.example:443",
            Severity::Critical,
            "certificate expired on 2026-03-10",
            at(11, 2),
        );
        let hsts = finding(
            "globex",
            crate::registry::CheckId::HttpHstsMissing,
            "www.globex.example",
            Severity::High,
            "no Strict-Transport-Security header",
            at(12, 2),
        );
        let mut resolved = finding(
            "initech",
            crate::registry::CheckId::EmailDmarcMissing,
            "initech.example",
            Severity::Medium,
            "no DMARC record",
            at(2, 8),
        );
        resolved.state = FindingState::Resolved;
        resolved.resolved_at = Some(at(13, 8));
        resolved.changed_at = at(13, 8);
        let mut reopened = hsts.clone();
        reopened.reopen_count = 2;
        DigestInput {
            suppliers: vec![
                supplier("acme", "Acme Corp", Some(("F", 60)), Some(("B", 85))),
                supplier("globex", "Globex", Some(("C", 80)), Some(("C", 80))),
                supplier("initech", "Initech", Some(("A", 100)), Some(("B", 92))),
                supplier("umbrella", "Umbrella", Some(("A", 97)), Some(("A", 97))),
                supplier("hooli", "Hooli", None, None),
            ],
            new_findings: vec![expired.clone(), reopened],
            resolved_findings: vec![resolved],
            deadlines: vec![Deadline {
                supplier: "globex".to_owned(),
                what: "notice",
                subject: "contract GX-2024-07".to_owned(),
                date: date(3, 20),
            }],
            overdue_questionnaires: vec![questionnaire(7, "initech", "sig-lite-2026", date(3, 1))],
            worst_open: vec![expired, hsts],
            open_counts: [1, 1, 0, 2, 3],
            undelivered: vec![Undelivered {
                recipient: "ciso@example.org".to_owned(),
                subject: "supplywatch: acme critical".to_owned(),
                queued_at: at(14, 9),
                attempts: 5,
                last_error: "550 5.1.1 mailbox unavailable".to_owned(),
            }],
            ..empty()
        }
    }

    /// The positions of `needles` in `haystack`, which must be increasing.
    fn assert_in_order(haystack: &str, needles: &[&str]) {
        let mut from = 0;
        for needle in needles {
            let Some(found) = haystack[from..].find(needle) else {
                panic!("{needle:?} missing (or out of order) in:\n{haystack}");
            };
            from += found + needle.len();
        }
    }

    const TITLES: [&str; 8] = [
        "Grade distribution",
        "Grade changes since a week ago",
        "New findings this week (2)",
        "Resolved this week (1)",
        "Deadlines in the next 30 days (1)",
        "Overdue questionnaires (1)",
        "The ten worst open findings",
        "E-mails that could not be delivered (1)",
    ];

    #[test]
    fn acceptances_ending_within_two_weeks_are_listed() {
        let mut input = empty();
        assert!(!render(&input).text.contains("Accepted risks ending"));
        input.ending_acceptances = vec![EndingAcceptance {
            supplier: "acme".to_owned(),
            check: crate::registry::CheckId::TlsNoTls13.as_str().to_owned(),
            target: Some("portal.acme.test:443".to_owned()),
            until: date(3, 20),
            approved_by: "ciso@bank.example".to_owned(),
            reason: "<b>upgrade</b> in Q2".to_owned(),
        }];
        let digest = render(&input);
        assert!(
            digest
                .text
                .contains("Accepted risks ending within 14 days (1)"),
            "{}",
            digest.text
        );
        assert!(digest.text.contains("tls.no_tls13 on portal.acme.test:443"));
        assert!(digest.text.contains("approved by ciso@bank.example"));
        assert!(digest.text.contains("in Q2"));
        assert!(
            digest
                .html
                .contains("Accepted risks ending within 14 days (1)")
        );
        assert!(!digest.html.contains("<b>upgrade"), "escaped in HTML");
    }

    #[test]
    fn every_section_with_its_numbers() {
        let digest = render(&full());
        assert_eq!(
            digest.subject,
            "supplywatch weekly digest 2026-03-16: 5 suppliers, 1 critical, 1 high open"
        );
        let text = &digest.text;
        assert_in_order(
            text,
            &[
                &digest.subject,
                "Needs attention: 1 critical and 1 high findings open; 1 e-mail could not be delivered.",
                "Open findings: 1 critical, 1 high, 0 medium, 2 low, 3 info.",
            ],
        );
        assert_in_order(text, &TITLES);
        assert_in_order(text, &[TITLES[7], FOOTER]);
        // Grades: A 2, B 0, C 1, D 0, F 1, not scored 1.
        assert_in_order(
            text,
            &[
                "  A              2\n",
                "  B              0\n",
                "  C              1\n",
                "  D              0\n",
                "  F              1\n",
                "  not scored     1\n",
            ],
        );
        assert_in_order(
            text,
            &[
                "[critical] Acme Corp: tls.cert_expired on api.acme.example:443",
                "certificate expired on 2026-03-10",
                "opened 2026-03-11 02:00 UTC",
                "[high] Globex: http.hsts_missing on www.globex.example",
                "reopened 2026-03-12 02:00 UTC (back 2 times)",
                "[medium] Initech: email.dmarc_missing on initech.example",
                "resolved 2026-03-13 08:00 UTC, lasted 11 days",
                "2026-03-20  in 4 days  Globex  notice: contract GX-2024-07",
                "Initech  #7  sig-lite-2026  due 2026-03-01  15 days late",
                "[critical] Acme Corp",
                "open since 2026-03-11 (5 days)",
                "[high] Globex",
                "open since 2026-03-12 (4 days)",
                "to ciso@example.org: \"supplywatch: acme critical\"",
                "queued 2026-03-14 09:00 UTC, 5 attempts",
                "last error: 550 5.1.1 mailbox unavailable",
            ],
        );
        assert!(!text.contains("none\n"), "{text}");

        let page = &digest.html;
        assert_in_order(page, &TITLES);
        assert!(page.contains("background-color:#7f1d1d;color:#ffffff;"));
        assert!(page.contains(">critical</span>"));
        assert!(page.contains(">medium</span>"));
        assert!(page.contains("15 days late"));
        assert!(page.contains("in 4 days"));
        assert!(page.contains("lasted 11 days"));
        assert!(page.contains("550 5.1.1 mailbox unavailable"));
        assert!(page.contains(&html_escape(FOOTER)));
    }

    #[test]
    fn findings_say_what_they_mean_in_plain_words() {
        let digest = render(&full());
        // The text part is wrapped: compare its words.
        let words = digest.text.split_whitespace().collect::<Vec<_>>().join(" ");
        for f in &full().new_findings {
            let (meaning, _) = crate::report::explain::plain(&f.check).unwrap_or_default();
            assert!(!meaning.is_empty(), "{}", f.check);
            assert!(
                words.contains(&format!("What it means: {meaning}")),
                "{}",
                digest.text
            );
            assert!(
                digest
                    .html
                    .contains(&format!("What it means: {}", html_escape(meaning))),
                "{}",
                digest.html
            );
        }
    }

    /// The escaping the HTML part applies to catalogue text.
    fn html_escape(text: &str) -> String {
        maud::Render::render(&html::Text::new(text)).into_string()
    }

    #[test]
    fn grade_changes_show_before_and_after() {
        let digest = render(&full());
        let text = &digest.text;
        assert_in_order(
            text,
            &[
                "Grade changes since a week ago",
                "Acme Corp  B -> F  score 85 -> 60 (-25)  worse",
                "Initech    B -> A  score 92 -> 100 (+8)  better",
                "New findings",
            ],
        );
        // Unchanged suppliers are not listed as changes.
        let changes = text
            .split("Grade changes since a week ago")
            .nth(1)
            .and_then(|rest| rest.split("New findings").next())
            .unwrap();
        assert!(!changes.contains("Globex") && !changes.contains("Umbrella"));
        assert!(!changes.contains("Hooli"));
        assert!(digest.html.contains("B &rarr; <strong>F</strong>"));
        assert!(digest.html.contains("85 \u{2192} 60 (-25)"));

        let mut input = empty();
        input.suppliers = vec![supplier("new", "Newco", Some(("A", 95)), None)];
        let text = render(&input).text;
        assert!(
            text.contains("Newco  not scored -> A  score 95 (newly scored)  changed"),
            "{text}"
        );
    }

    #[test]
    fn an_empty_week_says_all_is_well_and_keeps_the_footer() {
        let digest = render(&empty());
        assert_eq!(
            digest.subject,
            "supplywatch weekly digest 2026-03-16: 0 suppliers, 0 critical, 0 high open"
        );
        let all_well =
            "All is well: nothing is open at high or worse, and every e-mail was delivered.";
        assert!(digest.text.contains(all_well));
        assert!(digest.html.contains(&html_escape(all_well)));
        assert!(digest.text.contains(FOOTER));
        assert!(digest.html.contains(&html_escape(FOOTER)));
        // Sections 4 to 8 say "none"; there is no undelivered section.
        assert_eq!(
            digest.text.matches("\n  none\n").count(),
            6,
            "{}",
            digest.text
        );
        assert_eq!(digest.html.matches(">none</p>").count(), 6);
        assert!(!digest.text.contains("could not be delivered"));
        assert!(!digest.html.contains("could not be delivered"));
        assert_in_order(
            &digest.text,
            &[
                "Grade distribution",
                "Grade changes since a week ago",
                "New findings this week (0)",
                "Resolved this week (0)",
                "Deadlines in the next 30 days (0)",
                "Overdue questionnaires (0)",
                "The ten worst open findings",
                FOOTER,
            ],
        );
        assert!(digest.text.contains("  not scored     0\n"));

        // Medium findings and overdue paperwork do not spoil "all is well".
        let mut input = empty();
        input.open_counts = [0, 0, 4, 1, 0];
        input.overdue_questionnaires = vec![questionnaire(1, "a", "t", date(3, 1))];
        assert!(render(&input).text.contains(all_well));
        input.open_counts = [0, 1, 4, 1, 0];
        assert!(
            render(&input)
                .text
                .contains("Needs attention: 0 critical and 1 high finding open.")
        );
    }

    #[test]
    fn hostile_strings_are_escaped_everywhere() {
        let mut input = full();
        for s in &mut input.suppliers {
            s.name = format!("{HOSTILE} {}", s.name);
        }
        for f in input
            .new_findings
            .iter_mut()
            .chain(&mut input.resolved_findings)
            .chain(&mut input.worst_open)
        {
            f.summary = HOSTILE.to_owned();
            f.target = format!("https://evil.example/{HOSTILE}");
            f.check = HOSTILE.to_owned();
            f.supplier = HOSTILE.to_owned();
        }
        for q in &mut input.overdue_questionnaires {
            q.template = HOSTILE.to_owned();
            q.supplier = HOSTILE.to_owned();
        }
        for d in &mut input.deadlines {
            d.subject = HOSTILE.to_owned();
            d.supplier = HOSTILE.to_owned();
        }
        for u in &mut input.undelivered {
            u.recipient = HOSTILE.to_owned();
            u.subject = HOSTILE.to_owned();
            u.last_error = format!("{HOSTILE} http://evil.example/");
        }
        let digest = render(&input);
        let lower = digest.html.to_ascii_lowercase();
        for bad in [
            "<script", "onerror=", "<img", "<style", "<link", "http://", "https://", "\r",
            "<iframe", "<a ", "href", "src=", "url(",
        ] {
            assert!(!lower.contains(bad), "{bad:?} in the HTML");
        }
        assert!(
            digest
                .html
                .contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img")
        );
        assert!(!digest.subject.contains('\r') && !digest.subject.contains('\n'));
        assert!(!digest.text.contains('\r'));
        // The text part keeps each hostile value on its own lines, no CR.
        assert!(
            digest
                .text
                .contains("<script>alert(1)</script>\"><img src=x onerror=alert(1)> Bcc: x@y")
        );
        for line in digest.text.lines() {
            assert!(
                line == FOOTER || line.chars().count() <= TEXT_WIDTH,
                "too long: {line:?}"
            );
        }
    }

    #[test]
    fn the_html_is_one_self_contained_document() {
        for input in [empty(), full()] {
            let page = render(&input).html;
            assert!(
                page.starts_with(
                    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                )
            );
            assert!(page.contains("<title>supplywatch weekly digest 2026-03-16&#58;"));
            assert!(page.contains("<body style=\""));
            assert!(page.contains("max-width:760px"));
            assert!(page.trim_end().ends_with("</body></html>"));
            let lower = page.to_ascii_lowercase();
            for bad in [
                "http://",
                "https://",
                "<style",
                "<link",
                "<img",
                "<script",
                "class=",
                " onload",
                " onclick",
                "display:flex",
                "display:grid",
                "\r",
            ] {
                assert!(!lower.contains(bad), "{bad:?} in the HTML");
            }
            assert_eq!(
                page.matches("<table").count(),
                page.matches("</table>").count()
            );
            assert_eq!(
                page.matches("<tr>").count() + page.matches("<tr ").count(),
                page.matches("</tr>").count()
            );
        }
    }

    #[test]
    fn the_text_part_stays_narrow_and_lf_only() {
        let mut input = full();
        input.new_findings[0].summary = "word ".repeat(60) + &"x".repeat(250);
        input.new_findings[0].target = "t".repeat(150);
        let text = render(&input).text;
        assert!(!text.contains('\r'));
        for line in text.lines() {
            assert!(
                line == FOOTER || line.chars().count() <= TEXT_WIDTH,
                "too long: {line:?}"
            );
        }
        assert!(text.contains(&"x".repeat(94)));
    }

    #[test]
    fn long_lists_are_cut() {
        let mut input = full();
        let one = input.worst_open[0].clone();
        input.worst_open = vec![one.clone(); 12];
        input.new_findings = vec![one; MAX_LISTED + 3];
        let digest = render(&input);
        let worst = digest
            .text
            .split("The ten worst open findings")
            .nth(1)
            .unwrap();
        assert_eq!(worst.matches("[critical]").count(), 10);
        assert!(digest.text.contains("… and 3 more"));
        assert!(digest.html.contains("… and 3 more"));
    }

    #[test]
    fn durations_and_days_read_naturally() {
        assert_eq!(duration_text(TimeDelta::seconds(30)), "under a minute");
        assert_eq!(duration_text(TimeDelta::minutes(1)), "1 minute");
        assert_eq!(duration_text(TimeDelta::minutes(90)), "1 hour");
        assert_eq!(duration_text(TimeDelta::hours(47)), "47 hours");
        assert_eq!(duration_text(TimeDelta::days(3)), "3 days");
        assert_eq!(days_left(date(3, 16), date(3, 16)), "today");
        assert_eq!(days_left(date(3, 16), date(3, 17)), "tomorrow");
        assert_eq!(days_left(date(3, 16), date(4, 15)), "in 30 days");
        assert_eq!(days_late(date(3, 16), date(3, 15)), "1 day late");
    }
}
