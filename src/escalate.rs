//! The escalation policy: who is told what, and when. A [`Notifier`] the
//! store calls inside a run's transaction (and the daemon on its own), so
//! that every message is queued with the change that causes it.
//!
//! - New (or reopened) critical and high findings go to the risk manager at
//!   once, one e-mail per supplier per run, worst first; medium and below
//!   wait for the digest.
//! - A finding told of and still open after `ciso_after_days` (or
//!   `ciso_after_days_critical` for a critical supplier) goes to the CISO,
//!   with its history.
//! - A still-open critical finding is told again every
//!   `repeat_critical_days`, not every run.
//! - When a finding told of resolves, whoever was told hears so, in the
//!   same thread, with how long it lasted.
//! - Accepted (and pending) findings are never escalated.
//! - Questionnaire reminders go to the supplier `reminder_days` before the
//!   due date; an overdue one is the high finding `questionnaire.overdue`.
//! - Blind, not broken: when most probes of a run fail at once, supplier
//!   alerts from probes are held and one "monitor cannot see" e-mail goes
//!   out; when probes succeed again, one "monitor can see again" e-mail, and
//!   the held alerts follow.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::checks::Severity;
use crate::config::Config;
use crate::mail::text::{header_line, html, plain};
use crate::registry::{Criticality, QuestionnaireState, Supplier};
use crate::store::{AlertFinding, AlertSnapshot, NewNotice, Notice, Notifier, Outgoing};

/// How completely a probe run saw its targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunHealth {
    /// Target × family scopes probed.
    pub probed: usize,
    /// Of those, how many failed for want of an answer (unreachable, a
    /// lookup that timed out): what our own outage looks like. An answer
    /// that says no (NXDOMAIN, SERVFAIL, REFUSED, a refused connection)
    /// proves the network works and is the supplier's finding.
    pub failed: usize,
    /// Suppliers probed; 0 when not counted (then scopes alone decide).
    pub suppliers: usize,
    /// Of those, how many had such a failure.
    pub failed_suppliers: usize,
}

impl RunHealth {
    /// Fewer scopes than this never make the monitor blind: two suppliers
    /// down are two findings, not an outage of our own.
    const MIN_PROBED: usize = 4;

    /// Whether the monitor itself could not see: more than `percent` of the
    /// probed scopes failed without an answer, and — when suppliers are
    /// counted — so did more than `percent` of the suppliers. Failures
    /// concentrated on a few suppliers' domains are their findings, however
    /// many scopes those suppliers have.
    #[must_use]
    pub fn is_blind(&self, percent: u32) -> bool {
        let share = usize::try_from(percent).unwrap_or(100);
        self.probed >= Self::MIN_PROBED
            && self.failed * 100 > self.probed * share
            && (self.suppliers == 0 || self.failed_suppliers * 100 > self.suppliers * share)
    }
}

/// Runs finish a little earlier or later than the one before (probe time,
/// jitter): a delay counted in days is met this much early, rather than a
/// whole run interval late.
const SLACK: Duration = Duration::minutes(30);

/// Findings of these families come from probes (held while blind).
fn from_probes(check: &str) -> bool {
    crate::registry::CheckId::parse(check).is_none_or(|c| c.family().from_probes())
}

/// The escalation policy over one config, at one moment.
pub struct Escalation<'a> {
    config: &'a Config,
    /// Set for probe runs: whether the monitor could see.
    health: Option<RunHealth>,
    /// Today in the daemon's time zone (reminders count days).
    today: NaiveDate,
    /// `@domain` of message ids.
    domain: String,
    /// The config's suppliers by id.
    suppliers: std::collections::HashMap<&'a str, &'a Supplier>,
}

impl<'a> Escalation<'a> {
    #[must_use]
    pub fn new(config: &'a Config, health: Option<RunHealth>, now: DateTime<Utc>) -> Self {
        let from = config.email.from.to_string();
        let domain = from
            .rsplit_once('@')
            .map_or("supplywatch.invalid", |(_, d)| d)
            .to_owned();
        Self {
            config,
            health,
            today: crate::pipeline::local_day(config, now),
            domain,
            suppliers: config
                .suppliers
                .iter()
                .map(|s| (s.id.as_str(), s))
                .collect(),
        }
    }

    fn supplier(&self, id: &str) -> Option<&'a Supplier> {
        self.suppliers.get(id).copied()
    }

    fn supplier_label(&self, id: &str) -> String {
        self.supplier(id)
            .map_or_else(|| id.to_owned(), |s| format!("{} ({id})", s.name))
    }

    /// The subject every message about a supplier carries: stable, so
    /// that mail clients keep one thread per supplier.
    fn subject(&self, supplier: &str) -> String {
        header_line(
            &format!("[supplywatch] {}", self.supplier_label(supplier)),
            200,
        )
    }

    /// The root every supplier thread refers to.
    fn thread_root(&self, supplier: &str) -> String {
        format!("<thread.{}@{}>", supplier, self.domain)
    }

    fn message_id(&self, kind: &str, scope: &str, at: DateTime<Utc>) -> String {
        format!(
            "<{kind}.{scope}.{}@{}>",
            at.format("%Y%m%dT%H%M%SZ"),
            self.domain
        )
    }

    fn addresses(list: &[crate::registry::EmailAddress]) -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    }

    /// Who hears of new findings: the risk manager, or the CISO when there
    /// is none.
    fn alert_recipients(&self) -> Vec<String> {
        match Self::addresses(&self.config.contacts.risk_manager) {
            list if list.is_empty() => Self::addresses(&self.config.contacts.ciso),
            list => list,
        }
    }

    /// Whether the monitor is blind now, from the last monitor notice.
    fn currently_blind(snapshot: &AlertSnapshot) -> bool {
        snapshot.monitor.last().is_some_and(|n| n.kind == "blind")
    }

    /// Whether anyone was sent a `kind` message about `f` in its current
    /// open period.
    fn told(f: &AlertFinding, kind: &str) -> bool {
        Self::period_notices(f).any(|n| n.kind == kind)
    }

    /// The notices of a finding's current open period. An open finding's
    /// period starts when it opened, or when it came back from accepted (an
    /// acceptance that expired or was removed): what was said before the
    /// acceptance is not news of the risk now open again.
    fn period_notices(f: &AlertFinding) -> impl Iterator<Item = &Notice> {
        let opened = f.opened_at.unwrap_or(f.first_seen);
        let since = if f.state == crate::store::FindingState::Open {
            opened.max(f.changed_at)
        } else {
            opened
        };
        f.notices.iter().filter(move |n| n.at >= since)
    }

    fn monitor_messages(&self, snapshot: &AlertSnapshot, out: &mut Vec<Outgoing>) -> bool {
        let was_blind = Self::currently_blind(snapshot);
        let Some(health) = self.health else {
            return was_blind;
        };
        let blind = health.is_blind(self.config.escalation.blind_percent);
        if blind == was_blind {
            return blind;
        }
        let at = snapshot.at;
        let (kind, text) = if blind {
            (
                "blind",
                format!(
                    "supplywatch cannot see: {} of {} probes failed in the run at {}.\n\n\
                     That many failures at once point to our own network, resolver or \
                     firewall rather than to the suppliers. Supplier alerts from probes are \
                     held until probes succeed again; the findings themselves are kept.\n\n\
                     Check the server supplywatch runs on: DNS resolution (probe.nameservers), \
                     outbound connectivity, and the service log (journalctl -u supplywatch).\n",
                    health.failed,
                    health.probed,
                    at.format("%Y-%m-%d %H:%M UTC")
                ),
            )
        } else {
            (
                "sighted",
                format!(
                    "supplywatch can see again: {} of {} probes failed in the run at {}. \
                     Alerts held while it could not see follow in their own messages.\n",
                    health.failed,
                    health.probed,
                    at.format("%Y-%m-%d %H:%M UTC")
                ),
            )
        };
        let recipients = self.alert_recipients();
        if !recipients.is_empty() {
            let message_id = self.message_id(kind, "monitor", at);
            out.push(Outgoing {
                key: format!("{kind}:monitor:{}", at.timestamp()),
                kind: kind.to_owned(),
                supplier: None,
                recipients,
                subject: header_line(
                    if blind {
                        "[supplywatch] monitor cannot see: probes failing"
                    } else {
                        "[supplywatch] monitor can see again"
                    },
                    200,
                ),
                in_reply_to: snapshot.monitor.last().map(|n| n.message_id.clone()),
                references: snapshot
                    .monitor
                    .iter()
                    .rev()
                    .take(5)
                    .map(|n| n.message_id.clone())
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect(),
                message_id,
                html: Some(wrap_html(&format!("<p>{}</p>", html(&text)))),
                text,
                notices: vec![NewNotice {
                    finding_id: None,
                    subject: "monitor".to_owned(),
                    kind: kind.to_owned(),
                    detail: Some(format!("{}/{}", health.failed, health.probed)),
                }],
            });
        }
        blind
    }

    /// One message per supplier for `findings` (worst first) of `kind`.
    #[expect(
        clippy::too_many_arguments,
        reason = "the parts of one grouped message"
    )]
    fn grouped(
        &self,
        kind: &str,
        at: DateTime<Utc>,
        findings: &[&AlertFinding],
        recipients_of: &dyn Fn(&str, &[&AlertFinding]) -> Vec<String>,
        intro: &dyn Fn(&str, &[&AlertFinding]) -> String,
        detail: &dyn Fn(&AlertFinding) -> String,
        out: &mut Vec<Outgoing>,
    ) {
        let mut by_supplier: BTreeMap<&str, Vec<&AlertFinding>> = BTreeMap::new();
        for f in findings {
            by_supplier.entry(f.supplier.as_str()).or_default().push(f);
        }
        for (supplier, mut list) in by_supplier {
            list.sort_by(|a, b| {
                b.severity
                    .cmp(&a.severity)
                    .then_with(|| a.check.cmp(&b.check))
                    .then_with(|| a.target.cmp(&b.target))
            });
            let recipients = recipients_of(supplier, &list);
            if recipients.is_empty() {
                continue;
            }
            let head = intro(supplier, &list);
            let mut text = format!("{}\n\n", plain(&head));
            let mut rows = String::new();
            for f in &list {
                let _ = writeln!(
                    text,
                    "- {} {} on {}: {}",
                    f.severity.as_str().to_uppercase(),
                    f.check,
                    header_line(&f.target, 300),
                    header_line(&f.summary, 1000)
                );
                let meaning = crate::report::explain::plain(&f.check).map(|(m, _)| m);
                if let Some(meaning) = meaning {
                    let _ = writeln!(text, "  What it means: {meaning}");
                }
                let extra = detail(f);
                if !extra.is_empty() {
                    let _ = writeln!(text, "  {}", header_line(&extra, 2000));
                }
                let _ = write!(
                    rows,
                    "<tr><td style=\"padding:4px 8px;font-weight:bold;color:{}\">{}</td>\
                     <td style=\"padding:4px 8px;font-family:monospace\">{}</td>\
                     <td style=\"padding:4px 8px\">{}</td><td style=\"padding:4px 8px\">{}{}{}</td></tr>",
                    severity_colour(f.severity),
                    f.severity.as_str().to_uppercase(),
                    html(&f.check),
                    html(&f.target),
                    html(&f.summary),
                    meaning.map_or_else(String::new, |m| format!(
                        "<br><span style=\"color:#555\">What it means: {}</span>",
                        html(m)
                    )),
                    if extra.is_empty() {
                        String::new()
                    } else {
                        format!("<br><span style=\"color:#555\">{}</span>", html(&extra))
                    }
                );
            }
            let _ = write!(
                text,
                "\nSee `supplywatch supplier show {supplier}` for the whole file.\n"
            );
            let body = format!(
                "<p>{}</p><table style=\"border-collapse:collapse;font-size:14px\">{rows}</table>\
                 <p style=\"color:#555\">See <code>supplywatch supplier show {}</code> for the whole file.</p>",
                html(&head),
                html(supplier)
            );
            let ids: Vec<String> = list.iter().map(|f| f.id.to_string()).collect();
            let tag = short_hash(&ids.join(","));
            let message_id = self.message_id(kind, &format!("{supplier}.{tag}"), at);
            let last = list
                .iter()
                .flat_map(|f| Self::period_notices(f))
                .max_by_key(|n| n.at)
                .map(|n| n.message_id.clone());
            let root = self.thread_root(supplier);
            let mut references = vec![root.clone()];
            references.extend(last.iter().cloned());
            out.push(Outgoing {
                key: format!("{kind}:{supplier}:{}:{tag}", at.timestamp()),
                kind: kind.to_owned(),
                supplier: Some(supplier.to_owned()),
                recipients,
                subject: self.subject(supplier),
                in_reply_to: Some(last.unwrap_or(root)),
                references,
                message_id,
                text,
                html: Some(wrap_html(&body)),
                notices: list
                    .iter()
                    .map(|f| NewNotice {
                        finding_id: Some(f.id),
                        subject: format!("finding:{}", f.id),
                        kind: kind.to_owned(),
                        detail: None,
                    })
                    .collect(),
            });
        }
    }

    fn history(f: &AlertFinding) -> String {
        let mut parts = vec![format!("first seen {}", f.first_seen.format("%Y-%m-%d"))];
        if let Some(o) = f.opened_at {
            parts.push(format!("open since {}", o.format("%Y-%m-%d %H:%M UTC")));
        }
        if f.reopen_count > 0 {
            parts.push(format!("reopened {}×", f.reopen_count));
        }
        for n in Self::period_notices(f) {
            parts.push(format!(
                "{} sent {} to {}",
                n.kind,
                n.at.format("%Y-%m-%d"),
                n.recipients.join(", ")
            ));
        }
        parts.join("; ")
    }

    fn reminders(&self, snapshot: &AlertSnapshot, out: &mut Vec<Outgoing>) {
        let days = &self.config.questionnaires.reminder_days;
        for (q, notices) in &snapshot.questionnaires {
            if q.state() != QuestionnaireState::Sent {
                continue;
            }
            let left = (q.due - self.today).num_days();
            let sent: Vec<&str> = notices
                .iter()
                .filter(|n| n.kind == "reminder")
                .filter_map(|n| n.detail.as_deref())
                .collect();
            // Every reminder day reached and not yet sent; the nearest one
            // speaks (a day missed while the daemon was down is caught up once).
            let due: Vec<u32> = days
                .iter()
                .copied()
                .filter(|d| left >= 0 && left <= i64::from(*d))
                // A mark that passed before it was sent is not a reminder.
                .filter(|d| (q.due - q.sent_on).num_days() > i64::from(*d))
                .filter(|d| !sent.contains(&d.to_string().as_str()))
                .collect();
            let Some(nearest) = due.iter().min().copied() else {
                continue;
            };
            let supplier = self.supplier(&q.supplier);
            let to = q.sent_to.clone().or_else(|| {
                supplier.and_then(|s| s.security_contact.as_ref().map(ToString::to_string))
            });
            let Some(to) = to else {
                continue;
            };
            let when = match left {
                0 => "today".to_owned(),
                1 => "tomorrow".to_owned(),
                n => format!("in {n} days"),
            };
            let text = format!(
                "Hello,\n\nthis is a reminder that the due-diligence questionnaire \"{}\" we sent on {} \
                 is due {when}, on {}.\nPlease send your answers to {} before then.\n\n\
                 Thank you.\n",
                plain(&q.template),
                q.sent_on,
                q.due,
                self.config.email.from
            );
            let at = snapshot.at;
            let scope = format!("q{}", q.id);
            out.push(Outgoing {
                key: format!("reminder:q{}:{nearest}", q.id),
                kind: "reminder".to_owned(),
                supplier: Some(q.supplier.clone()),
                recipients: vec![to],
                subject: header_line(
                    &format!("Reminder: questionnaire {} due {}", q.template, q.due),
                    200,
                ),
                message_id: self.message_id("reminder", &scope, at),
                in_reply_to: None,
                references: Vec::new(),
                html: Some(wrap_html(&format!(
                    "<p>{}</p>",
                    html(&text).replace('\n', "<br>")
                ))),
                text,
                notices: due
                    .iter()
                    .map(|d| NewNotice {
                        finding_id: None,
                        subject: format!("questionnaire:{}", q.id),
                        kind: "reminder".to_owned(),
                        detail: Some(d.to_string()),
                    })
                    .collect(),
            });
        }
    }
}

impl Notifier for Escalation<'_> {
    fn min_severity(&self) -> Severity {
        Severity::High
    }

    fn plan(&self, snapshot: &AlertSnapshot) -> Vec<Outgoing> {
        let mut out = Vec::new();
        let at = snapshot.at;
        let blind = self.monitor_messages(snapshot, &mut out);
        let esc = &self.config.escalation;
        let ciso = Self::addresses(&self.config.contacts.ciso);
        let risk = self.alert_recipients();
        let held = |f: &AlertFinding| blind && from_probes(&f.check);
        let open: Vec<&AlertFinding> = snapshot
            .findings
            .iter()
            .filter(|f| f.state == crate::store::FindingState::Open)
            .filter(|f| f.severity >= Severity::High)
            .filter(|f| !held(f))
            .collect();
        let told = Self::told;

        // 1. New findings → the risk manager at once: new, reopened, or
        //    back from an acceptance that ended, each said as it is.
        let new: Vec<&AlertFinding> = open.iter().copied().filter(|f| !told(f, "alert")).collect();
        self.grouped(
            "alert",
            at,
            &new,
            &|_, _| risk.clone(),
            &|s, list| {
                let all_new = list.iter().all(|f| Self::why_alerted(f).is_empty());
                format!(
                    "{} {}finding{} at high or critical for {}:",
                    list.len(),
                    if all_new { "new " } else { "" },
                    if list.len() == 1 { "" } else { "s" },
                    self.supplier_label(s)
                )
            },
            &Self::why_alerted,
            &mut out,
        );

        // 2. Still open after the delay → the CISO, with the history.
        let overdue: Vec<&AlertFinding> = open
            .iter()
            .copied()
            .filter(|f| told(f, "alert") && !told(f, "escalation"))
            .filter(|f| {
                let critical = self
                    .supplier(&f.supplier)
                    .is_some_and(|s| s.criticality == Criticality::Critical);
                let days = if critical {
                    esc.ciso_after_days_critical
                } else {
                    esc.ciso_after_days
                };
                // Counted from when the risk manager was first told in this
                // open period (a finding held while blind, or accepted for a
                // while, gets its full delay), less a run's slack.
                Self::period_notices(f)
                    .filter(|n| n.kind == "alert")
                    .map(|n| n.at)
                    .min()
                    .is_some_and(|told| at - told >= Duration::days(i64::from(days)) - SLACK)
            })
            .collect();
        self.grouped(
            "escalation",
            at,
            &overdue,
            &|_, _| ciso.clone(),
            &|s, list| {
                format!(
                    "Escalation: {} finding{} of {} {} still open past the escalation delay:",
                    list.len(),
                    if list.len() == 1 { "" } else { "s" },
                    self.supplier_label(s),
                    if list.len() == 1 { "is" } else { "are" }
                )
            },
            &Self::history,
            &mut out,
        );

        // Without a CISO nothing is escalated: those findings repeat instead.
        let escalated: &[&AlertFinding] = if ciso.is_empty() { &[] } else { &overdue };
        self.repeats(at, &open, escalated, &risk, &ciso, &mut out);

        // 4. Resolved → whoever was told, in the same thread; accepted →
        //    whoever was told, with who accepted it, why and until when.
        if esc.resolution_notices {
            self.resolutions(snapshot, &mut out);
        }
        self.acceptances(snapshot, &mut out);

        // 5. Questionnaire reminders to the supplier.
        self.reminders(snapshot, &mut out);
        out
    }
}

impl Escalation<'_> {
    /// Critical findings still open: told again every `repeat_critical_days`.
    fn repeats(
        &self,
        at: DateTime<Utc>,
        open: &[&AlertFinding],
        overdue: &[&AlertFinding],
        risk: &[String],
        ciso: &[String],
        out: &mut Vec<Outgoing>,
    ) {
        let esc = &self.config.escalation;
        let told = Self::told;
        // 3. Critical and still open → repeated every `repeat_critical_days`.
        let repeat_after = Duration::days(i64::from(esc.repeat_critical_days));
        let repeat: Vec<&AlertFinding> = open
            .iter()
            .copied()
            .filter(|f| f.severity == Severity::Critical && told(f, "alert"))
            .filter(|f| {
                Self::period_notices(f)
                    .filter(|n| matches!(n.kind.as_str(), "alert" | "escalation" | "repeat"))
                    .map(|n| n.at)
                    .max()
                    .is_some_and(|last| at - last >= repeat_after - SLACK)
            })
            .filter(|f| !overdue.iter().any(|o| o.id == f.id))
            .collect();
        self.grouped(
            "repeat",
            at,
            &repeat,
            &|_, list| {
                let mut to = risk.to_vec();
                if list.iter().any(|f| told(f, "escalation")) {
                    to.extend(ciso.iter().cloned());
                }
                to.dedup();
                to
            },
            &|s, list| {
                format!(
                    "Still open: {} critical finding{} of {}:",
                    list.len(),
                    if list.len() == 1 { "" } else { "s" },
                    self.supplier_label(s)
                )
            },
            &Self::history,
            out,
        );
    }

    fn resolutions(&self, snapshot: &AlertSnapshot, out: &mut Vec<Outgoing>) {
        let at = snapshot.at;
        let told = Self::told;
        {
            let resolved: Vec<&AlertFinding> = snapshot
                .findings
                .iter()
                // Resolved since it was told of, by this run or one without
                // a notifier (`check --save`): the store loads the last week's.
                .filter(|f| f.state == crate::store::FindingState::Resolved)
                .filter(|f| {
                    Self::period_notices(f)
                        .any(|n| matches!(n.kind.as_str(), "alert" | "escalation" | "repeat"))
                })
                .filter(|f| !told(f, "resolved"))
                .collect();
            self.grouped(
                "resolved",
                at,
                &resolved,
                &|_, list| Self::told_in_period(list, |kind| kind != "resolved"),
                &|s, list| {
                    format!(
                        "Resolved: {} finding{} of {} no longer fire{}:",
                        list.len(),
                        if list.len() == 1 { "" } else { "s" },
                        self.supplier_label(s),
                        if list.len() == 1 { "s" } else { "" }
                    )
                },
                &|f| {
                    let lasted = match (f.opened_at, f.resolved_at) {
                        (Some(o), Some(r)) => format!("lasted {}", lasted(r - o)),
                        _ => String::new(),
                    };
                    match (&f.resolution, lasted.is_empty()) {
                        (Some(why), true) => format!("resolved: {why}"),
                        (Some(why), false) => format!("resolved: {why}; {lasted}"),
                        (None, _) => lasted,
                    }
                },
                out,
            );
        }
    }

    /// Everyone told of `list` in their current periods by a notice whose
    /// kind `counts`, sorted, once each.
    fn told_in_period(list: &[&AlertFinding], counts: impl Fn(&str) -> bool) -> Vec<String> {
        let mut to: Vec<String> = list
            .iter()
            .flat_map(|f| Self::period_notices(f))
            .filter(|n| counts(&n.kind))
            .flat_map(|n| n.recipients.iter().cloned())
            .collect();
        to.sort();
        to.dedup();
        to
    }

    /// Why an open finding is alerted when it is not new: reopened (and
    /// when it had resolved), or back from an acceptance that ended or was
    /// withdrawn. Empty for a new one.
    fn why_alerted(f: &AlertFinding) -> String {
        let back_from_acceptance = f.opened_at.is_some_and(|o| f.changed_at > o);
        if back_from_acceptance {
            return match &f.acceptance {
                Some(a) if a.until < f.changed_at.date_naive() => format!(
                    "acceptance of {} on {} ended on {} (approved by {})",
                    f.check, f.target, a.until, a.approved_by
                ),
                _ => format!(
                    "acceptance of {} on {} was withdrawn on {}",
                    f.check,
                    f.target,
                    f.changed_at.date_naive()
                ),
            };
        }
        match (f.reopen_count, f.last_resolved_at) {
            (0, _) => String::new(),
            (_, Some(r)) => format!("reopened (was resolved on {})", r.date_naive()),
            (_, None) => "reopened".to_owned(),
        }
    }

    /// A finding told of that became accepted: a short notice to whoever
    /// was told, in its thread — who accepted it, why, until when — instead
    /// of going quiet.
    fn acceptances(&self, snapshot: &AlertSnapshot, out: &mut Vec<Outgoing>) {
        let accepted: Vec<&AlertFinding> = snapshot
            .findings
            .iter()
            .filter(|f| f.state == crate::store::FindingState::Accepted)
            .filter(|f| {
                Self::period_notices(f)
                    .any(|n| matches!(n.kind.as_str(), "alert" | "escalation" | "repeat"))
            })
            // Not yet told of this acceptance (it began at `changed_at`).
            .filter(|f| {
                !f.notices
                    .iter()
                    .any(|n| n.kind == "accepted" && n.at >= f.changed_at)
            })
            .collect();
        self.grouped(
            "accepted",
            snapshot.at,
            &accepted,
            &|_, list| {
                Self::told_in_period(list, |kind| {
                    matches!(kind, "alert" | "escalation" | "repeat")
                })
            },
            &|s, list| {
                format!(
                    "Risk accepted: {} finding{} of {} {} now accepted and no longer escalated:",
                    list.len(),
                    if list.len() == 1 { "" } else { "s" },
                    self.supplier_label(s),
                    if list.len() == 1 { "is" } else { "are" }
                )
            },
            &|f| match &f.acceptance {
                Some(a) => format!(
                    "accepted by {} until {}: {}",
                    a.approved_by, a.until, a.reason
                ),
                None => String::new(),
            },
            out,
        );
    }
}

/// "3 days 4 hours", "2 hours", "15 minutes".
#[must_use]
pub fn lasted(d: Duration) -> String {
    let days = d.num_days();
    let hours = d.num_hours() - days * 24;
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if days > 0 {
        if hours > 0 {
            format!("{} {}", plural(days, "day"), plural(hours, "hour"))
        } else {
            plural(days, "day")
        }
    } else if hours > 0 {
        plural(hours, "hour")
    } else {
        plural(d.num_minutes().max(0), "minute")
    }
}

/// Eight hex digits of SHA-256: tells messages of one moment apart.
fn short_hash(text: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    digest
        .as_ref()
        .iter()
        .take(4)
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn severity_colour(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "#8b0000",
        Severity::High => "#c62828",
        Severity::Medium => "#b26a00",
        Severity::Low => "#546e7a",
        Severity::Info => "#757575",
    }
}

/// A whole HTML document around `body`: inline styles, nothing remote.
fn wrap_html(body: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>supplywatch</title></head>\
         <body style=\"font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222\">{body}\
         <p style=\"color:#777;font-size:12px\">Sent by supplywatch (auto-generated).</p></body></html>"
    )
}
