//! The digest's HTML part: tables with inline styles and fixed widths, as
//! e-mail clients render them, built with maud so that every value is
//! escaped on its way in. Strings from the registry, the store, suppliers or
//! servers go in as [`Text`]. Uses only the digest's own figures (`super`)
//! and the text functions of `mail::text`.

use std::fmt::Write as _;

use maud::{DOCTYPE, Escaper, Markup, PreEscaped, Render, html};

use super::{
    DigestInput, FOOTER, Facts, GRADES, HTML_WIDTH, MAX_LISTED, WORST_SHOWN, days_late, days_left,
    direction, ending_target, grade_name, open_counts_line, open_since, opened_text, resolved_text,
    score_change, when,
};
use crate::checks::Severity;
use crate::mail::text::{header_line, plain};
use crate::store::StoredFinding;

/// A string shown as text. Control and hidden (bidi, zero-width) characters
/// become spaces; maud escapes `&`, `<`, `>` and `"`, and `=` and `:` are
/// written as character references too, so that no attribute-like
/// (`onerror=`) or URL-like (`https://`) text survives even as inert
/// characters in the source. Every client shows the characters as they were.
pub(super) struct Text(String);

impl Text {
    pub(super) fn new(text: &str) -> Self {
        Self(plain(text))
    }

    /// One line of at most `max` characters (an ellipsis marks a cut).
    fn line(text: &str, max: usize) -> Self {
        Self(header_line(text, max))
    }
}

impl Render for Text {
    fn render_to(&self, buffer: &mut String) {
        for piece in self.0.split_inclusive(['=', ':']) {
            let (body, reference) = if let Some(body) = piece.strip_suffix('=') {
                (body, "&#61;")
            } else if let Some(body) = piece.strip_suffix(':') {
                (body, "&#58;")
            } else {
                (piece, "")
            };
            // Writing to a `String` does not fail.
            let _ = Escaper::new(buffer).write_str(body);
            buffer.push_str(reference);
        }
    }
}

const FONT: &str = "font-family:Arial,Helvetica,sans-serif;";
const MONO: &str = "font-family:Consolas,Menlo,'Courier New',monospace;";
const TD: &str = "padding:6px 8px;border-bottom:1px solid #e5e7eb;vertical-align:top;";
const TH: &str = "padding:6px 8px;border-bottom:2px solid #d1d5db;text-align:left;\
                  font-size:12px;color:#4b5563;font-weight:bold;";
const BADGE: &str = "display:inline-block;padding:2px 6px;border-radius:3px;";
const BADGE_TEXT: &str = "font-size:11px;font-weight:bold;line-height:14px;white-space:nowrap;\
                          text-transform:uppercase;";
const MUTED: &str = "margin:0;color:#6b7280;";
/// Line breaks between rows keep the source's lines short for the transfer
/// encoding and readable when the message source is opened.
const NL: &str = "\n";
const RARR: PreEscaped<&str> = PreEscaped("&rarr;");
const MIDDOT: PreEscaped<&str> = PreEscaped("&middot;");

/// A coloured severity badge.
fn badge(severity: Severity) -> Markup {
    let (background, colour) = match severity {
        Severity::Critical => ("#7f1d1d", "#ffffff"),
        Severity::High => ("#dc2626", "#ffffff"),
        Severity::Medium => ("#f59e0b", "#111827"),
        Severity::Low => ("#607d8b", "#ffffff"),
        Severity::Info => ("#9ca3af", "#111827"),
    };
    html! {
        span style={ (BADGE) "background-color:" (background) ";color:" (colour) ";" (BADGE_TEXT) } {
            (severity.as_str())
        }
    }
}

fn td(content: &impl Render) -> Markup {
    html! { td style={ (TD) "word-break:break-word;" } { (content) } }
}

fn td_nowrap(content: &impl Render) -> Markup {
    html! { td style={ (TD) "white-space:nowrap;" } { (content) } }
}

/// A data table of one row of cells per item.
fn html_table(headers: &[&str], rows: &[Markup]) -> Markup {
    html! {
        table width="100%" cellpadding="0" cellspacing="0" border="0"
            style="width:100%;border-collapse:collapse;font-size:13px;" {
            (NL)
            tr { @for h in headers { th style=(TH) { (h) } } }
            (NL)
            @for row in rows { tr { (row) } (NL) }
        }
    }
}

fn html_none() -> Markup {
    html! { p style=(MUTED) { "none" } }
}

fn html_more(total: usize, shown: usize) -> Markup {
    html! {
        @if total > shown {
            p style="margin:6px 0 0 0;color:#6b7280;font-size:12px;" {
                "… and " (total - shown) " more"
            }
        }
    }
}

fn html_section(title: &str, body: &Markup) -> Markup {
    html! {
        tr {
            td style="padding:18px 24px 0 24px;" {
                (NL)
                h2 style={
                    "margin:0 0 8px 0;" (FONT) "font-size:16px;color:#111827;"
                    "border-bottom:1px solid #e5e7eb;padding-bottom:4px;"
                } { (title) }
                (NL) (body) (NL)
            }
        }
        (NL)
    }
}

/// Supplier (bold), and the check under it in a monospace grey.
fn html_who(facts: &Facts<'_>, f: &StoredFinding) -> Markup {
    html! {
        strong { (Text::line(facts.name(&f.supplier), 120)) }
        br;
        span style={ (MONO) "font-size:12px;color:#4b5563;" } { (Text::line(&f.check, 120)) }
    }
}

fn html_findings(
    facts: &Facts<'_>,
    findings: &[StoredFinding],
    limit: usize,
    last: &str,
    when: impl Fn(&StoredFinding) -> String,
) -> Markup {
    if findings.is_empty() {
        return html_none();
    }
    let rows: Vec<Markup> = findings
        .iter()
        .take(limit)
        .map(|f| {
            let target = html! {
                span style={ (MONO) "font-size:12px;" } { (Text::line(&f.target, 300)) }
            };
            let summary = html! {
                (Text::line(&f.summary, 500))
                @if let Some((meaning, _)) = crate::report::explain::plain(&f.check) {
                    br;
                    span style="color:#555;" { "What it means: " (Text::new(meaning)) }
                }
            };
            html! {
                (td_nowrap(&badge(f.severity)))
                (td(&html_who(facts, f)))
                (td(&target))
                (td(&summary))
                (td(&Text::new(&when(f))))
            }
        })
        .collect();
    html! {
        (html_table(&["Severity", "Supplier / check", "Target", "Summary", last], &rows))
        (html_more(findings.len(), limit))
    }
}

fn html_grades(facts: &Facts<'_>) -> Markup {
    let labels = GRADES.iter().copied().chain(std::iter::once("not scored"));
    html! {
        table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"
            style="width:100%;border-collapse:collapse;" {
            (NL)
            tr {
                @for (label, n) in labels.zip(facts.grades) {
                    td align="center" width="16%" style="padding:8px 4px;border:1px solid #e5e7eb;\
                        text-align:center;background-color:#f9fafb;" {
                        div style={ (FONT) "font-size:22px;font-weight:bold;color:#111827;" } { (n) }
                        div style={ (FONT) "font-size:12px;color:#4b5563;" } { (label) }
                    }
                }
            }
            (NL)
        }
    }
}

fn html_changes(facts: &Facts<'_>) -> Markup {
    if facts.changes.is_empty() {
        return html_none();
    }
    let rows: Vec<Markup> = facts
        .changes
        .iter()
        .map(|s| {
            let colour = match direction(s) {
                "worse" => "#b91c1c",
                "better" => "#15803d",
                _ => "#374151",
            };
            let name = html! { strong { (Text::line(&s.name, 120)) } };
            let grades = html! {
                (Text::line(grade_name(s.grade_week_ago), 12))
                " " (RARR) " "
                strong { (Text::line(grade_name(s.grade), 12)) }
            };
            let verdict = html! {
                span style={ "color:" (colour) ";font-weight:bold;" } { (direction(s)) }
            };
            html! {
                (td(&name))
                (td_nowrap(&grades))
                (td_nowrap(&Text::new(&score_change(s, "\u{2192}"))))
                (td_nowrap(&verdict))
            }
        })
        .collect();
    html_table(&["Supplier", "Grade", "Score", ""], &rows)
}

fn html_deadlines(input: &DigestInput, facts: &Facts<'_>) -> Markup {
    if input.deadlines.is_empty() {
        return html_none();
    }
    let rows: Vec<Markup> = input
        .deadlines
        .iter()
        .map(|d| {
            let supplier = html! { strong { (Text::line(facts.name(&d.supplier), 120)) } };
            html! {
                (td_nowrap(&d.date.to_string()))
                (td(&supplier))
                (td(&Text::line(d.what, 60)))
                (td(&Text::line(&d.subject, 200)))
                (td_nowrap(&days_left(input.today, d.date)))
            }
        })
        .collect();
    html_table(&["Date", "Supplier", "What", "Subject", "Days left"], &rows)
}

fn html_overdue(input: &DigestInput, facts: &Facts<'_>) -> Markup {
    if input.overdue_questionnaires.is_empty() {
        return html_none();
    }
    let rows: Vec<Markup> = input
        .overdue_questionnaires
        .iter()
        .map(|q| {
            let supplier = html! { strong { (Text::line(facts.name(&q.supplier), 120)) } };
            let number = html! { "#" (q.id) };
            html! {
                (td(&supplier))
                (td_nowrap(&number))
                (td(&Text::line(&q.template, 120)))
                (td_nowrap(&q.due.to_string()))
                (td_nowrap(&days_late(input.today, q.due)))
            }
        })
        .collect();
    html_table(&["Supplier", "#", "Template", "Due", "Late"], &rows)
}

fn html_ending(input: &DigestInput, facts: &Facts<'_>) -> Markup {
    let rows: Vec<Markup> = input
        .ending_acceptances
        .iter()
        .map(|a| {
            let supplier = html! { strong { (Text::line(facts.name(&a.supplier), 120)) } };
            let risk = html! {
                (Text::line(&a.check, 60)) " on " (Text::line(&ending_target(a), 120))
            };
            let approved = html! {
                (Text::line(&a.approved_by, 120)) ": " (Text::line(&a.reason, 200))
            };
            html! {
                (td_nowrap(&a.until.to_string()))
                (td(&supplier))
                (td(&risk))
                (td(&approved))
            }
        })
        .collect();
    html_table(&["Until", "Supplier", "Risk", "Approved"], &rows)
}

fn html_undelivered(input: &DigestInput) -> Markup {
    let rows: Vec<Markup> = input
        .undelivered
        .iter()
        .map(|u| {
            let attempts = html! {
                (u.attempts)
                br;
                span style="font-size:11px;color:#6b7280;" {
                    "queued " (Text::new(&when(u.queued_at)))
                }
            };
            html! {
                (td(&Text::line(&u.recipient, 200)))
                (td(&Text::line(&u.subject, 200)))
                (td_nowrap(&attempts))
                (td(&Text::line(&u.last_error, 500)))
            }
        })
        .collect();
    html_table(&["Recipient", "Subject", "Attempts", "Last error"], &rows)
}

/// The title and the headline, the first rows of the content table.
fn html_top(input: &DigestInput, facts: &Facts<'_>) -> Markup {
    let (background, border) = if facts.all_well(input) {
        ("#ecfdf5", "#15803d")
    } else {
        ("#fef2f2", "#b91c1c")
    };
    html! {
        tr {
            td style="padding:20px 24px 0 24px;" {
                (NL)
                h1 style={ "margin:0;" (FONT) "font-size:20px;color:#111827;" } {
                    "supplywatch weekly digest"
                }
                (NL)
                p style="margin:4px 0 0 0;font-size:13px;color:#4b5563;" {
                    (input.today) " " (MIDDOT) " " (input.suppliers.len()) " suppliers " (MIDDOT)
                    " covers " (Text::new(&when(input.since)))
                    " to " (Text::new(&when(input.generated_at)))
                }
                (NL)
            }
        }
        (NL)
        tr {
            td style="padding:16px 24px 0 24px;" {
                (NL)
                table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"
                    style="width:100%;border-collapse:collapse;" {
                    tr {
                        td style={
                            "padding:12px 14px;background-color:" (background)
                            ";border-left:4px solid " (border) ";"
                        } {
                            p style="margin:0;font-size:15px;font-weight:bold;" {
                                (Text::new(&facts.headline(input)))
                            }
                            p style="margin:4px 0 0 0;font-size:13px;color:#374151;" {
                                (Text::new(&open_counts_line(input.open_counts)))
                            }
                        }
                    }
                }
                (NL)
            }
        }
        (NL)
    }
}

/// The sections, in the order of the text part.
fn html_sections(input: &DigestInput, facts: &Facts<'_>) -> Markup {
    html! {
        (html_section("Grade distribution", &html_grades(facts)))
        (html_section("Grade changes since a week ago", &html_changes(facts)))
        (html_section(
            &format!("New findings this week ({})", input.new_findings.len()),
            &html_findings(facts, &input.new_findings, MAX_LISTED, "Opened", opened_text),
        ))
        (html_section(
            &format!("Resolved this week ({})", input.resolved_findings.len()),
            &html_findings(facts, &input.resolved_findings, MAX_LISTED, "Resolved", resolved_text),
        ))
        (html_section(
            &format!("Deadlines in the next 30 days ({})", input.deadlines.len()),
            &html_deadlines(input, facts),
        ))
        (html_section(
            &format!("Overdue questionnaires ({})", input.overdue_questionnaires.len()),
            &html_overdue(input, facts),
        ))
        (html_section(
            "The ten worst open findings",
            &html_findings(facts, &input.worst_open, WORST_SHOWN, "Open since", |f| {
                open_since(f, input.generated_at)
            }),
        ))
        @if !input.ending_acceptances.is_empty() {
            (html_section(
                &format!("Accepted risks ending within 14 days ({})", input.ending_acceptances.len()),
                &html_ending(input, facts),
            ))
        }
        @if !input.undelivered.is_empty() {
            (html_section(
                &format!("E-mails that could not be delivered ({})", input.undelivered.len()),
                &html_undelivered(input),
            ))
        }
    }
}

/// The whole HTML part: one self-contained document, no external resources.
pub(super) fn render_html(input: &DigestInput, facts: &Facts<'_>, subject: &str) -> String {
    let page = html! {
        (DOCTYPE) (NL)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (Text::new(subject)) }
            }
            (NL)
            body style={ "margin:0;padding:0;background-color:#f3f4f6;" (FONT) "color:#111827;" } {
                (NL)
                table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"
                    style="width:100%;background-color:#f3f4f6;" {
                    tr {
                        td align="center" style="padding:16px 8px;" {
                            (NL)
                            table role="presentation" width=(HTML_WIDTH) cellpadding="0"
                                cellspacing="0" border="0"
                                style={
                                    "width:100%;max-width:" (HTML_WIDTH) "px;background-color:#ffffff;"
                                    "border:1px solid #d1d5db;" (FONT)
                                    "font-size:14px;line-height:1.4;color:#111827;text-align:left;"
                                } {
                                (NL)
                                (html_top(input, facts))
                                (html_sections(input, facts))
                                tr {
                                    td style="padding:24px 24px 20px 24px;" {
                                        (NL)
                                        p style="margin:0;padding-top:10px;border-top:1px solid #e5e7eb;\
                                            font-size:12px;color:#6b7280;" { (Text::new(FOOTER)) }
                                        (NL)
                                        p style="margin:4px 0 0 0;font-size:12px;color:#6b7280;" {
                                            "Generated by supplywatch at "
                                            (Text::new(&when(input.generated_at))) "."
                                        }
                                        (NL)
                                    }
                                }
                                (NL)
                            }
                            (NL)
                        }
                    }
                }
                (NL)
            }
        }
        (NL)
    };
    page.into_string()
}
