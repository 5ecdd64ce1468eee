//! The board report: one self-contained HTML file (inline CSS, inline SVG
//! charts, no script, no external reference) that prints to PDF with a page
//! per section. The data is read from the store once, into a
//! [`BoardReport`], as of a `now` the caller passes (the clock is a
//! parameter); rendering is then pure. Every piece of text from the store
//! goes through maud's escaping: nothing here writes markup by hand but the
//! constant style sheet.
//!
//! Depends on the store (read only), checks and registry types; not on the
//! pipeline, the daemon or the CLI.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{DateTime, Datelike as _, Days, Duration, NaiveDate, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::explain::plain;
use super::{terminal_text, worst_first};
use crate::checks::Severity;
use crate::checks::paperwork::Deadline;
use crate::checks::score::Grade;
use crate::concentration::Concentration;
use crate::config::QuestionnaireConfig;
use crate::registry::Criticality;
use crate::store::{
    FindingFilter, FindingState, JobRun, OutboxRow, OutboxStats, SeverityCounts, Store, StoreError,
    StoredAcceptance, StoredFinding, StoredRun, StoredSupplier,
};

/// How far ahead the deadlines section looks.
pub const DEADLINE_DAYS: u64 = 90;
/// Accepted risks ending within this many days are called out.
pub const ACCEPTANCE_WARNING_DAYS: u64 = 30;
/// How many suppliers the riskiest list shows.
pub const RISKIEST: usize = 10;
/// How many recent runs the health section lists.
const RECENT_RUNS: u32 = 10;
/// How many opened or resolved findings the changes list before "… more".
const CHANGES_SHOWN: usize = 20;
/// How many open findings each riskiest supplier shows.
const WORST_FINDINGS: usize = 3;

/// The tiers, most critical first: the order of the tables and the series.
const TIERS: [Criticality; 3] = [
    Criticality::Critical,
    Criticality::Important,
    Criticality::Standard,
];
const GRADES: [Grade; 5] = [Grade::A, Grade::B, Grade::C, Grade::D, Grade::F];
/// Worst first, as every list here shows them.
const SEVERITIES: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Info,
];

/// What the report is asked for: when it is made, from when changes count,
/// the organisation's day, and the questionnaire cadence (for deadlines).
#[derive(Debug, Clone)]
pub struct BoardPeriod {
    pub now: DateTime<Utc>,
    /// "What changed since": findings opened or resolved and grades moved.
    pub since: DateTime<Utc>,
    /// Today in the organisation's time zone (deadlines are days).
    pub today: NaiveDate,
    pub cadence: QuestionnaireConfig,
}

/// A supplier on the board's lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardSupplier {
    pub id: String,
    pub name: String,
    pub owner: Option<String>,
    pub criticality: Criticality,
    /// `None` while never scored.
    pub grade: Option<Grade>,
    pub score: Option<u8>,
    pub open: SeverityCounts,
}

/// A supplier whose grade moved since the period's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GradeChange {
    pub supplier: String,
    pub name: String,
    pub from: Grade,
    pub from_score: u8,
    pub to: Grade,
    pub to_score: u8,
}

/// The average score of one tier, week by week (the Monday of each week).
#[derive(Debug, Clone, PartialEq)]
pub struct TierSeries {
    pub criticality: Criticality,
    pub points: Vec<(NaiveDate, f64)>,
}

/// Everything the board report shows, read once.
#[derive(Debug, Clone)]
pub struct BoardReport {
    pub period: BoardPeriod,
    /// Suppliers in the registry, worst first (as `status`).
    pub suppliers: Vec<BoardSupplier>,
    /// Open findings (not pending, not accepted), worst first.
    pub open_findings: Vec<StoredFinding>,
    /// Findings whose current open period began since the period's start.
    pub opened: Vec<StoredFinding>,
    /// Findings resolved since the period's start.
    pub resolved: Vec<StoredFinding>,
    pub grade_changes: Vec<GradeChange>,
    /// One per tier that has scores, most critical first.
    pub tiers: Vec<TierSeries>,
    /// Open findings by severity at the end of each week (Monday dates).
    pub findings_over_time: Vec<(NaiveDate, SeverityCounts)>,
    /// From today to [`DEADLINE_DAYS`] ahead, earliest first.
    pub deadlines: Vec<Deadline>,
    /// Every accepted risk still in force, soonest ending first.
    pub acceptances: Vec<StoredAcceptance>,
    /// The latest runs, newest first.
    pub runs: Vec<StoredRun>,
    pub blind_since: Option<DateTime<Utc>>,
    pub jobs: Vec<JobRun>,
    pub outbox: OutboxStats,
    /// E-mails given up on since the period's start.
    pub given_up: Vec<OutboxRow>,
    /// The providers many suppliers depend on, as the probes saw them and
    /// the register declares them.
    pub concentration: Concentration,
}

/// The Monday of the week `day` falls in.
fn week_of(day: NaiveDate) -> NaiveDate {
    day - Days::new(u64::from(day.weekday().num_days_from_monday()))
}

/// Each supplier's scores by tier and week, and the grades that moved.
struct History<'a> {
    weekly: BTreeMap<(Criticality, NaiveDate), BTreeMap<&'a str, u8>>,
    weeks: BTreeSet<NaiveDate>,
    grade_changes: Vec<GradeChange>,
}

impl<'a> History<'a> {
    async fn read(
        store: &Store,
        live: &[&'a StoredSupplier],
        scores: &[crate::store::ScoreRow],
        period: &BoardPeriod,
    ) -> Result<Self, StoreError> {
        let now = period.now;
        let mut weekly: BTreeMap<(Criticality, NaiveDate), BTreeMap<&'a str, u8>> = BTreeMap::new();
        let mut weeks: BTreeSet<NaiveDate> = BTreeSet::new();
        let mut grade_changes = Vec::new();
        for s in live {
            let history = store.score_history(&s.id).await?;
            for point in history.iter().filter(|p| p.at <= now) {
                let week = week_of(point.at.date_naive());
                weeks.insert(week);
                weekly
                    .entry((s.criticality, week))
                    .or_default()
                    .insert(s.id.as_str(), point.score);
            }
            let before = history.iter().rev().find(|p| p.at <= period.since);
            let current = scores.iter().find(|r| r.supplier == s.id);
            if let (Some(before), Some(current)) = (before, current)
                && before.grade != current.grade
            {
                grade_changes.push(GradeChange {
                    supplier: s.id.clone(),
                    name: s.name.clone(),
                    from: before.grade,
                    from_score: before.score,
                    to: current.grade,
                    to_score: current.score,
                });
            }
        }
        Ok(Self {
            weekly,
            weeks,
            grade_changes,
        })
    }

    /// The average score of each tier with scores, week by week.
    fn tiers(&self) -> Vec<TierSeries> {
        TIERS
            .iter()
            .filter_map(|&tier| {
                let points: Vec<(NaiveDate, f64)> = self
                    .weekly
                    .iter()
                    .filter(|((c, _), _)| *c == tier)
                    .map(|((_, week), by_supplier)| {
                        let sum: f64 = by_supplier.values().map(|&v| f64::from(v)).sum();
                        #[expect(
                            clippy::cast_precision_loss,
                            reason = "a count of suppliers is far below 2^52"
                        )]
                        let n = by_supplier.len() as f64;
                        (*week, sum / n)
                    })
                    .collect();
                (!points.is_empty()).then_some(TierSeries {
                    criticality: tier,
                    points,
                })
            })
            .collect()
    }

    /// Open findings at the end of each week with scores, from each
    /// finding's current (or last) open period: findings keep no older
    /// history.
    fn findings_over_time(
        &self,
        findings: &[StoredFinding],
        now: DateTime<Utc>,
    ) -> Vec<(NaiveDate, SeverityCounts)> {
        self.weeks
            .iter()
            .map(|&week| {
                let end = week
                    .and_hms_opt(0, 0, 0)
                    .map_or(now, |t| t.and_utc() + Duration::days(7))
                    .min(now);
                let mut counts = SeverityCounts::default();
                for f in findings {
                    let counted = matches!(f.state, FindingState::Open | FindingState::Resolved);
                    let opened = f.opened_at.is_some_and(|o| o <= end);
                    let still = f.resolved_at.is_none_or(|r| r > end);
                    if counted && opened && still {
                        counts.add(f.severity, 1);
                    }
                }
                (week, counts)
            })
            .collect()
    }
}

impl BoardReport {
    /// Reads what the report shows from `store` (reads only); `register`
    /// and `asn` complete the concentration section (subcontractors,
    /// hosting networks).
    ///
    /// # Errors
    /// [`StoreError`] on database failure or an unreadable row.
    pub async fn gather(
        store: &Store,
        period: BoardPeriod,
        register: &crate::register::Register,
        asn: Option<&crate::concentration::AsnTable>,
    ) -> Result<Self, StoreError> {
        let now = period.now;
        let all_suppliers = store.suppliers().await?;
        let live: Vec<&StoredSupplier> = all_suppliers.iter().filter(|s| s.in_registry).collect();
        let scores = store.supplier_scores(now).await?;
        let findings = store.findings(&FindingFilter::default()).await?;
        let questionnaires = store.questionnaires(None).await?;
        let acceptances = store.acceptances().await?;
        let runs = store.recent_runs(RECENT_RUNS).await?;
        let blind_since = store.blind_since().await?;
        let jobs = store.job_runs().await?;
        let outbox = store.outbox_stats().await?;
        let given_up = store.outbox_failed_since(period.since).await?;

        let mut suppliers: Vec<BoardSupplier> = live
            .iter()
            .map(|s| {
                let row = scores.iter().find(|r| r.supplier == s.id);
                BoardSupplier {
                    id: s.id.clone(),
                    name: s.name.clone(),
                    owner: s.owner.clone(),
                    criticality: s.criticality,
                    grade: row.map(|r| r.grade),
                    score: row.map(|r| r.score),
                    open: row.map(|r| r.open).unwrap_or_default(),
                }
            })
            .collect();
        suppliers.sort_by(|a, b| {
            worst_first(a.grade.map(Grade::as_str), a.score, &a.id).cmp(&worst_first(
                b.grade.map(Grade::as_str),
                b.score,
                &b.id,
            ))
        });

        let history = History::read(store, &live, &scores, &period).await?;
        let findings_over_time = history.findings_over_time(&findings, now);
        let (tiers, grade_changes) = (history.tiers(), history.grade_changes);

        let mut open_findings: Vec<StoredFinding> = findings
            .iter()
            .filter(|f| f.state == FindingState::Open)
            .cloned()
            .collect();
        open_findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.opened_at.cmp(&b.opened_at))
                .then_with(|| a.supplier.cmp(&b.supplier))
                .then_with(|| a.check.cmp(&b.check))
                .then_with(|| a.target.cmp(&b.target))
        });
        let opened = changed_within(
            &findings,
            &period,
            |f| matches!(f.state, FindingState::Open | FindingState::Accepted),
            |f| f.opened_at,
        );
        let resolved = changed_within(
            &findings,
            &period,
            |f| f.state == FindingState::Resolved,
            |f| f.resolved_at,
        );

        let deadlines = deadlines_within(&live, &questionnaires, &period);
        let mut acceptances: Vec<StoredAcceptance> = acceptances
            .into_iter()
            .filter(|a| a.until >= period.today)
            .collect();
        acceptances.sort_by(|a, b| {
            (a.until, &a.supplier, &a.check).cmp(&(b.until, &b.supplier, &b.check))
        });

        let concentration =
            crate::concentration::of_suppliers(store, &all_suppliers, register, asn).await?;
        Ok(Self {
            period,
            suppliers,
            open_findings,
            opened,
            resolved,
            grade_changes,
            tiers,
            findings_over_time,
            deadlines,
            acceptances,
            runs,
            blind_since,
            jobs,
            outbox,
            given_up,
            concentration,
        })
    }

    /// Whether any run was ever recorded.
    #[must_use]
    pub fn probed(&self) -> bool {
        !self.runs.is_empty()
    }

    /// The supplier's name, or its id when it left the registry.
    fn name_of<'a>(&'a self, id: &'a str) -> &'a str {
        self.suppliers
            .iter()
            .find(|s| s.id == id)
            .map_or(id, |s| s.name.as_str())
    }

    /// The whole report as HTML.
    #[must_use]
    pub fn render(&self) -> Markup {
        let now = self.period.now;
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { "Supplier risk — board report " (self.period.today) }
                    // A constant of this file, not data.
                    style { (PreEscaped(CSS)) }
                }
                body {
                    header {
                        h1 { "ICT supplier risk — board report" }
                        p.meta {
                            "As of " (time(now)) ". Changes since " (time(self.period.since)) "."
                        }
                    }
                    (self.glance())
                    (self.trends())
                    (self.riskiest())
                    (self.deadlines_section())
                    (self.acceptances_section())
                    (concentration_section(self))
                    (self.health())
                    (self.glossary())
                }
            }
        }
    }

    /// The report as the text of an HTML file.
    #[must_use]
    pub fn to_html(&self) -> String {
        self.render().into_string()
    }

    fn glance(&self) -> Markup {
        let open = self
            .open_findings
            .iter()
            .fold(SeverityCounts::default(), |mut c, f| {
                c.add(f.severity, 1);
                c
            });
        html! {
            section #glance {
                h2 { "1. The portfolio at a glance" }
                @if !self.probed() {
                    p.none { "No runs yet: no supplier has been probed, so there are no grades or findings." }
                }
                h3 { "Suppliers by criticality and grade" }
                @if self.suppliers.is_empty() {
                    p.none { "No suppliers in the register yet." }
                } @else {
                    table.matrix {
                        thead { tr {
                            th { "Criticality" }
                            @for g in GRADES { th.num { (g.as_str()) } }
                            th.num { "Not graded" }
                            th.num { "Total" }
                        } }
                        tbody {
                            @for tier in TIERS {
                                @let of_tier: Vec<&BoardSupplier> = self.suppliers.iter().filter(|s| s.criticality == tier).collect();
                                tr {
                                    th { (tier.as_str()) }
                                    @for g in GRADES {
                                        td.num { (of_tier.iter().filter(|s| s.grade == Some(g)).count()) }
                                    }
                                    td.num { (of_tier.iter().filter(|s| s.grade.is_none()).count()) }
                                    td.num { (of_tier.len()) }
                                }
                            }
                        }
                    }
                    p.note { "Scores start at 100 and lose points for each open finding; grades run from A (90 or more) to F (below 60, or any open critical finding)." }
                }
                h3 { "Open findings by severity" }
                @if !self.probed() {
                    p.none { "No runs yet." }
                } @else {
                    table {
                        thead { tr { @for s in SEVERITIES { th.num { (s.as_str()) } } th.num { "Total" } } }
                        tbody { tr { @for s in SEVERITIES { td.num { (count_of(&open, s)) } } td.num { (open.total()) } } }
                    }
                }
                h3 { "What changed since " (day(self.period.since.date_naive())) }
                @if !self.probed() {
                    p.none { "No runs yet." }
                } @else {
                    p {
                        (self.opened.len()) " finding" (plural(self.opened.len())) " opened, "
                        (self.resolved.len()) " resolved, "
                        (self.grade_changes.len()) " grade change" (plural(self.grade_changes.len())) "."
                    }
                    @if !self.grade_changes.is_empty() {
                        table {
                            thead { tr { th { "Supplier" } th { "Grade then" } th { "Grade now" } } }
                            tbody {
                                @for c in &self.grade_changes {
                                    tr.grade-change {
                                        td { (text(&c.name)) }
                                        td { (c.from.as_str()) " (" (c.from_score) ")" }
                                        td { (c.to.as_str()) " (" (c.to_score) ")" }
                                    }
                                }
                            }
                        }
                    }
                    (self.finding_changes("Opened", &self.opened, |f| f.opened_at))
                    (self.finding_changes("Resolved", &self.resolved, |f| f.resolved_at))
                }
            }
        }
    }

    fn finding_changes(
        &self,
        title: &str,
        list: &[StoredFinding],
        when: impl Fn(&StoredFinding) -> Option<DateTime<Utc>>,
    ) -> Markup {
        html! {
            @if !list.is_empty() {
                h4 { (title) }
                table {
                    thead { tr { th { "Severity" } th { "Supplier" } th { "What" } th { "When" } } }
                    tbody {
                        @for f in list.iter().take(CHANGES_SHOWN) {
                            tr {
                                td { (severity_badge(f.severity)) }
                                td { (text(self.name_of(&f.supplier))) }
                                td { (finding_what(f)) }
                                td.nowrap { (when(f).map(|t| day(t.date_naive())).unwrap_or_default()) }
                            }
                        }
                    }
                }
                @if list.len() > CHANGES_SHOWN {
                    p.note { "… and " (list.len() - CHANGES_SHOWN) " more." }
                }
            }
        }
    }

    fn trends(&self) -> Markup {
        html! {
            section #trends {
                h2 { "2. Grades and findings over time" }
                @if !self.probed() || self.tiers.is_empty() {
                    p.none { "No runs yet: the charts fill in as the monitor probes, week by week." }
                } @else {
                    h3 { "Average score per criticality tier, by week" }
                    (grade_chart(&self.tiers))
                    p.note { "Scores run from 0 to 100 (higher is better); each line is one tier, told apart by its dash pattern." }
                    h3 { "Open findings by severity, by week" }
                    (findings_chart(&self.findings_over_time))
                    p.note { "Counted at the end of each week from each finding's latest open period." }
                }
            }
        }
    }

    fn riskiest(&self) -> Markup {
        let now = self.period.now;
        html! {
            section #riskiest {
                h2 { "3. The ten riskiest suppliers" }
                @if !self.probed() {
                    p.none { "No runs yet: no supplier has a grade." }
                } @else if self.suppliers.is_empty() {
                    p.none { "No suppliers in the register." }
                } @else {
                    table.riskiest {
                        thead { tr {
                            th.num { "#" } th { "Supplier" } th { "Criticality" } th { "Owner" }
                            th { "Grade" } th { "Worst open findings" }
                        } }
                        tbody {
                            @for (i, s) in self.suppliers.iter().take(RISKIEST).enumerate() {
                                tr.supplier data-supplier=(s.id) {
                                    td.num { (i + 1) }
                                    td { strong { (text(&s.name)) } br; span.id { (text(&s.id)) } }
                                    td { (s.criticality.as_str()) }
                                    td { (s.owner.as_deref().map_or_else(|| "—".to_owned(), text)) }
                                    td.grade { @match (s.grade, s.score) {
                                        (Some(g), Some(n)) => { (g.as_str()) " (" (n) ")" }
                                        _ => { "not probed" }
                                    } }
                                    td {
                                        @let worst: Vec<&StoredFinding> = self.open_findings.iter().filter(|f| f.supplier == s.id).take(WORST_FINDINGS).collect();
                                        @if worst.is_empty() {
                                            "None open."
                                        } @else {
                                            ul.findings {
                                                @for f in worst {
                                                    li {
                                                        (severity_badge(f.severity)) " " (finding_what(f))
                                                        span.age { " — open " (open_for(f, now)) }
                                                    }
                                                }
                                            }
                                            @let more = s.open.total() as usize;
                                            @if more > WORST_FINDINGS {
                                                span.note { "… " (more - WORST_FINDINGS) " more open." }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn deadlines_section(&self) -> Markup {
        html! {
            section #deadlines {
                h2 { "4. Deadlines in the next " (DEADLINE_DAYS) " days" }
                @if self.deadlines.is_empty() {
                    p.none { "No deadlines in the next " (DEADLINE_DAYS) " days." }
                } @else {
                    table {
                        thead { tr { th { "Date" } th { "In" } th { "Supplier" } th { "What" } th { "Concerning" } } }
                        tbody {
                            @for d in &self.deadlines {
                                tr.deadline {
                                    td.nowrap { (d.date) }
                                    td.nowrap { (days_from(self.period.today, d.date)) }
                                    td { (text(self.name_of(&d.supplier))) }
                                    td { (d.what) }
                                    td { (text(&d.subject)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn acceptances_section(&self) -> Markup {
        let soon = self.period.today + Days::new(ACCEPTANCE_WARNING_DAYS);
        let ending: Vec<&StoredAcceptance> = self
            .acceptances
            .iter()
            .filter(|a| a.until <= soon)
            .collect();
        html! {
            section #accepted {
                h2 { "5. Accepted risks" }
                @if self.acceptances.is_empty() {
                    p.none { "No accepted risks in force." }
                } @else {
                    p {
                        (self.acceptances.len()) " accepted risk" (plural(self.acceptances.len())) " in force; "
                        strong { (ending.len()) " ending within " (ACCEPTANCE_WARNING_DAYS) " days" } "."
                    }
                    table {
                        thead { tr { th { "Supplier" } th { "Risk" } th { "Applies to" } th { "Why accepted" } th { "Approved by" } th { "Ends" } } }
                        tbody {
                            @for a in &self.acceptances {
                                tr.acceptance.ending[a.until <= soon] {
                                    td { (text(self.name_of(&a.supplier))) }
                                    td { code { (text(&a.check)) } @if let Some((meaning, _)) = plain(&a.check) { br; (meaning) } }
                                    td { (a.target.as_deref().map_or_else(|| "all targets".to_owned(), text)) }
                                    td { (text(&a.reason)) }
                                    td { (text(&a.approved_by)) }
                                    td.nowrap {
                                        (a.until)
                                        @if a.until <= soon { br; strong { "ends in " (days_from(self.period.today, a.until)) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn health(&self) -> Markup {
        let o = &self.outbox;
        html! {
            section #health {
                h2 { "7. The monitor's own health" }
                @if let Some(since) = self.blind_since {
                    p.alert {
                        strong { "The monitor cannot see since " (time(since)) "." }
                        " Its probe runs since then went mostly unanswered (our network or resolver, not the suppliers); grades are those of the last run that could see."
                    }
                }
                h3 { "Recent runs" }
                @if !self.probed() {
                    p.none { "No runs yet: run `supplywatch run` (the service) or `supplywatch check --save`." }
                } @else {
                    table {
                        thead { tr { th { "When" } th { "Source" } th.num { "Suppliers" } th.num { "Findings seen" } th.num { "Opened" } th.num { "Resolved" } th { "Could see" } } }
                        tbody {
                            @for r in &self.runs {
                                tr.run {
                                    td.nowrap { (time(r.at)) }
                                    td {
                                        (text(&r.source))
                                        @if r.interrupted { " " strong { "(interrupted)" } }
                                    }
                                    td.num { (r.suppliers) }
                                    td.num { (r.findings) }
                                    td.num { (r.opened + r.reopened) }
                                    td.num { (r.resolved) }
                                    td { @match r.blind {
                                        Some(true) => strong { "no — blind" },
                                        Some(false) => "yes",
                                        None => "—",
                                    } }
                                }
                            }
                        }
                    }
                    @let blind = self.runs.iter().filter(|r| r.blind == Some(true)).count();
                    @if blind > 0 {
                        p { (blind) " of the latest " (self.runs.len()) " runs were blind: what the suppliers showed then was not judged." }
                    }
                    @if self.blind_since.is_none() {
                        p { "The monitor can see: its latest probe runs were answered." }
                    }
                    @let interrupted = self.runs.iter().filter(|r| r.interrupted).count();
                    @if interrupted > 0 {
                        p { (interrupted) " of the latest " (self.runs.len()) " runs were interrupted (stopped by a signal): they recorded the suppliers they had judged and left the others as they were." }
                    }
                }
                h3 { "Scheduled jobs" }
                @if self.jobs.is_empty() {
                    p.none { "No job has run against this database yet." }
                } @else {
                    table {
                        thead { tr { th { "Job" } th { "Last run" } th { "Outcome" } th { "Next run" } } }
                        tbody {
                            @for j in &self.jobs {
                                tr {
                                    td { (text(&j.job)) }
                                    td.nowrap { (j.last_finished.or(j.last_started).map_or_else(|| "—".to_owned(), time)) }
                                    td { (j.last_outcome.as_deref().map_or_else(|| "—".to_owned(), text)) }
                                    td.nowrap { (j.next_at.map_or_else(|| "—".to_owned(), time)) }
                                }
                            }
                        }
                    }
                }
                h3 { "E-mail" }
                p {
                    (o.queued) " queued"
                    @if let Some(t) = o.oldest_queued { " (oldest since " (time(t)) ")" }
                    ", " (o.sent) " sent, " (o.failed) " undeliverable (given up)."
                }
                @if !self.given_up.is_empty() {
                    h4 { "Given up since " (day(self.period.since.date_naive())) }
                    table {
                        thead { tr { th { "Queued" } th { "To" } th { "Subject" } th { "Last error" } } }
                        tbody {
                            @for m in &self.given_up {
                                tr {
                                    td.nowrap { (time(m.created_at)) }
                                    td { (text(&m.recipient)) }
                                    td { (text(&m.subject)) }
                                    td { (m.last_error.as_deref().map_or_else(String::new, text)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Every check id the report names, in plain words.
    fn glossary(&self) -> Markup {
        let ids: BTreeSet<&str> = self
            .open_findings
            .iter()
            .chain(&self.opened)
            .chain(&self.resolved)
            .map(|f| f.check.as_str())
            .chain(self.acceptances.iter().map(|a| a.check.as_str()))
            .collect();
        html! {
            section #glossary {
                h2 { "What the checks mean, and what to ask the supplier" }
                @if ids.is_empty() {
                    p.none { "No findings to explain." }
                } @else {
                    table {
                        thead { tr { th { "Check" } th { "What it means" } th { "What to ask the supplier" } } }
                        tbody {
                            @for id in ids {
                                tr {
                                    td { code { (text(id)) } }
                                    @if let Some((meaning, ask)) = plain(id) {
                                        td { (meaning) } td { (ask) }
                                    } @else {
                                        td { "—" } td { "—" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The findings `keep` picks whose `when` falls within the period, worst
/// first, then earliest.
fn changed_within(
    findings: &[StoredFinding],
    period: &BoardPeriod,
    keep: impl Fn(&StoredFinding) -> bool,
    when: impl Fn(&StoredFinding) -> Option<DateTime<Utc>>,
) -> Vec<StoredFinding> {
    let mut out: Vec<StoredFinding> = findings
        .iter()
        .filter(|f| keep(f))
        .filter(|f| when(f).is_some_and(|t| t >= period.since && t <= period.now))
        .cloned()
        .collect();
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then(when(a).cmp(&when(b))));
    out
}

/// The deadlines of `live` suppliers from today to [`DEADLINE_DAYS`] ahead,
/// earliest first.
fn deadlines_within(
    live: &[&StoredSupplier],
    questionnaires: &[crate::registry::Questionnaire],
    period: &BoardPeriod,
) -> Vec<Deadline> {
    let grouped = crate::registry::questionnaires_by_supplier(questionnaires);
    let horizon = period.today + Days::new(DEADLINE_DAYS);
    let mut deadlines: Vec<Deadline> = live
        .iter()
        .flat_map(|s| {
            let own = grouped.get(s.id.as_str()).map_or(&[][..], Vec::as_slice);
            s.deadlines(own, period.today, &period.cadence)
        })
        .filter(|d| d.date >= period.today && d.date <= horizon)
        .collect();
    deadlines.sort_by(|a, b| {
        (a.date, &a.supplier, a.what, &a.subject).cmp(&(b.date, &b.supplier, b.what, &b.subject))
    });
    deadlines
}

/// The concentration section: today a pointer to `supplywatch
/// concentration`, which measures it from observation.
#[must_use]
pub fn concentration_section(report: &BoardReport) -> Markup {
    let c = &report.concentration;
    // Providers more than one supplier depends on, worst first.
    let shared: Vec<&crate::concentration::Provider> = c
        .providers
        .iter()
        .filter(|p| p.count >= 2)
        .take(CONCENTRATION_ROWS)
        .collect();
    let top = shared.first().map_or(1, |p| p.score.max(1));
    html! {
        section #concentration {
            h2 { "6. Concentration" }
            p.note {
                "Providers that several suppliers depend on, from what the probes saw (name servers, mail servers, certificate authorities"
                @if matches!(c.asn, crate::concentration::AsnData::Loaded { .. }) { ", hosting networks" }
                ") and the subcontractors declared in the register. Weight: critical 3, important 2, standard 1."
                @if matches!(c.asn, crate::concentration::AsnData::Absent) { " Hosting networks: no IP-to-ASN table configured ([report] asn_table)." }
            }
            @if !report.probed() {
                p { "No runs yet." }
            } @else if shared.is_empty() {
                p { "No provider is shared by two or more of the " (c.observed) " suppliers observed." }
            } @else {
                svg.chart role="img" aria-label="Weighted dependence per shared provider" width="640" height=(shared.len() * 22 + 10) viewBox=(format!("0 0 640 {}", shared.len() * 22 + 10)) {
                    @for (i, p) in shared.iter().enumerate() {
                        @let y = i * 22 + 5;
                        @let width = u64::from(p.score) * 300 / u64::from(top);
                        text x="0" y=(y + 14) font-size="11" { (p.kind.as_str()) }
                        text x="90" y=(y + 14) font-size="11" { (shorten(&text(&p.name), 34)) }
                        rect x="320" y=(y + 3) width=(width.max(2)) height="14" fill="#4b5563" {}
                        text x=(326 + width) y=(y + 14) font-size="11" { (p.score) }
                    }
                }
                table {
                    tr { th { "Kind" } th { "Provider" } th { "Weight" } th { "Suppliers" } th { "Critical or important" } th { "Who depends on it" } }
                    @for p in &shared {
                        tr {
                            td { (p.kind.as_str()) }
                            td { (text(&p.name)) }
                            td { (p.score) }
                            td { (p.count) }
                            td { (p.critical_or_important) }
                            td { (p.suppliers.iter().map(|d| text(&d.name)).collect::<Vec<_>>().join(", ")) }
                        }
                    }
                }
            }
        }
    }
}

/// Shared providers shown in the concentration section.
const CONCENTRATION_ROWS: usize = 12;

/// At most `max` characters, with an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

fn count_of(c: &SeverityCounts, s: Severity) -> u32 {
    match s {
        Severity::Critical => c.critical,
        Severity::High => c.high,
        Severity::Medium => c.medium,
        Severity::Low => c.low,
        Severity::Info => c.info,
    }
}

/// Text from the store, with characters that hide or reorder text shown
/// escaped (see [`terminal_text`]); maud escapes the markup.
fn text(s: &str) -> String {
    terminal_text(s)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn days_from(today: NaiveDate, date: NaiveDate) -> String {
    match (date - today).num_days() {
        0 => "today".to_owned(),
        1 => "1 day".to_owned(),
        n => format!("{n} days"),
    }
}

/// How long a finding has been open, in days.
fn open_for(f: &StoredFinding, now: DateTime<Utc>) -> String {
    let Some(opened) = f.opened_at else {
        return "—".to_owned();
    };
    match (now - opened).num_days() {
        n if n < 1 => "less than a day".to_owned(),
        1 => "1 day".to_owned(),
        n => format!("{n} days"),
    }
}

fn severity_badge(s: Severity) -> Markup {
    html! { span class={ "sev sev-" (s.as_str()) } { (s.as_str().to_uppercase()) } }
}

/// A finding in words: the plain meaning, the check id and the summary.
fn finding_what(f: &StoredFinding) -> Markup {
    html! {
        @if let Some((meaning, _)) = plain(&f.check) { (meaning) " " }
        span.check { "(" code { (text(&f.check)) } " on " (text(&f.target)) ": " (text(&f.summary)) ")" }
    }
}

/// The drawing area of a chart, in SVG user units.
struct Frame {
    width: f64,
    height: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

const FRAME: Frame = Frame {
    width: 640.0,
    height: 240.0,
    left: 44.0,
    right: 96.0,
    top: 12.0,
    bottom: 34.0,
};

impl Frame {
    fn plot_width(&self) -> f64 {
        self.width - self.left - self.right
    }

    fn plot_height(&self) -> f64 {
        self.height - self.top - self.bottom
    }

    /// The x of point `i` of `n`; a single point sits in the middle.
    fn x(&self, i: usize, n: usize) -> f64 {
        if n <= 1 {
            return self.left + self.plot_width() / 2.0;
        }
        #[expect(
            clippy::cast_precision_loss,
            reason = "a count of weeks is far below 2^52"
        )]
        let (i, last) = (i as f64, (n - 1) as f64);
        self.left + self.plot_width() * i / last
    }

    fn y(&self, value: f64, max: f64) -> f64 {
        self.top + self.plot_height() * (1.0 - value / max)
    }

    fn bottom_y(&self) -> f64 {
        self.height - self.bottom
    }
}

/// The axes, horizontal grid lines at `ticks` and week labels under the
/// first, middle and last points.
fn axes(weeks: &[NaiveDate], ticks: &[f64], max: f64, y_title: &str) -> Markup {
    let f = &FRAME;
    let n = weeks.len();
    let mut labelled: Vec<usize> = vec![0, n / 2, n.saturating_sub(1)];
    labelled.dedup();
    html! {
        g.axes {
            @for t in ticks {
                line.grid x1=(num(f.left)) x2=(num(f.width - f.right)) y1=(num(f.y(*t, max))) y2=(num(f.y(*t, max))) {}
                text x=(num(f.left - 4.0)) y=(num(f.y(*t, max) + 3.0)) text-anchor="end" { (num(*t)) }
            }
            line.axis x1=(num(f.left)) x2=(num(f.left)) y1=(num(f.top)) y2=(num(f.bottom_y())) {}
            line.axis x1=(num(f.left)) x2=(num(f.width - f.right)) y1=(num(f.bottom_y())) y2=(num(f.bottom_y())) {}
            @for i in labelled {
                @if let Some(w) = weeks.get(i) {
                    text x=(num(f.x(i, n))) y=(num(f.bottom_y() + 14.0)) text-anchor="middle" { (day(*w)) }
                }
            }
            text x=(num(f.left + f.plot_width() / 2.0)) y=(num(f.height - 4.0)) text-anchor="middle" { "week starting" }
            text x="10" y=(num(f.top + f.plot_height() / 2.0)) text-anchor="middle"
                transform={ "rotate(-90 10 " (num(f.top + f.plot_height() / 2.0)) ")" } { (y_title) }
        }
    }
}

/// A number for SVG: one decimal, never an exponent.
fn num(v: f64) -> String {
    let mut s = String::new();
    let _ = write!(s, "{v:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// Dash pattern, grey and marker size of each tier: told apart in greyscale.
fn tier_style(c: Criticality) -> (&'static str, &'static str) {
    match c {
        Criticality::Critical => ("none", "#000"),
        Criticality::Important => ("8 4", "#444"),
        Criticality::Standard => ("2 3", "#777"),
    }
}

fn grade_chart(tiers: &[TierSeries]) -> Markup {
    let f = &FRAME;
    let weeks: Vec<NaiveDate> = tiers
        .iter()
        .flat_map(|t| t.points.iter().map(|(w, _)| *w))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let n = weeks.len();
    let x_of = |w: &NaiveDate| f.x(weeks.iter().position(|x| x == w).unwrap_or(0), n);
    html! {
        svg.chart #grade-chart viewBox={ "0 0 " (num(f.width)) " " (num(f.height)) } role="img"
            aria-label="Average score per criticality tier by week" {
            title { "Average score per criticality tier by week" }
            (axes(&weeks, &[0.0, 25.0, 50.0, 75.0, 100.0], 100.0, "average score"))
            @for (k, t) in tiers.iter().enumerate() {
                @let (dash, grey) = tier_style(t.criticality);
                @let points: Vec<String> = t.points.iter().map(|(w, v)| format!("{},{}", num(x_of(w)), num(f.y(*v, 100.0)))).collect();
                g.series data-series=(t.criticality.as_str()) {
                    polyline points=(points.join(" ")) fill="none" stroke=(grey) stroke-width="2" stroke-dasharray=(dash) {}
                    @for (w, v) in &t.points {
                        circle cx=(num(x_of(w))) cy=(num(f.y(*v, 100.0))) r="2.5" fill=(grey) {}
                    }
                    @let label_y = f.top + 12.0 + 16.0 * f64::from(u8::try_from(k).unwrap_or(0));
                    line x1=(num(f.width - f.right + 8.0)) x2=(num(f.width - f.right + 30.0)) y1=(num(label_y - 3.0)) y2=(num(label_y - 3.0))
                        stroke=(grey) stroke-width="2" stroke-dasharray=(dash) {}
                    text x=(num(f.width - f.right + 34.0)) y=(num(label_y)) { (t.criticality.as_str()) }
                }
            }
        }
    }
}

/// Fill of each severity's band, darkest for the worst: greyscale-safe.
fn severity_fill(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "#222",
        Severity::High => "#555",
        Severity::Medium => "#888",
        Severity::Low => "#bbb",
        Severity::Info => "#e6e6e6",
    }
}

fn findings_chart(points: &[(NaiveDate, SeverityCounts)]) -> Markup {
    let f = &FRAME;
    let weeks: Vec<NaiveDate> = points.iter().map(|(w, _)| *w).collect();
    let n = weeks.len();
    let peak = points
        .iter()
        .map(|(_, c)| c.total())
        .max()
        .unwrap_or(0)
        .max(1);
    // A round top: the next multiple of 4 (ticks at quarters are whole).
    let max = f64::from(peak.div_ceil(4) * 4);
    let ticks: Vec<f64> = (0..=4).map(|i| max * f64::from(i) / 4.0).collect();
    // One point alone is drawn as a band across the whole width.
    let xs: Vec<f64> = if n == 1 {
        vec![f.left, f.width - f.right]
    } else {
        (0..n).map(|i| f.x(i, n)).collect()
    };
    let counts: Vec<SeverityCounts> = if n == 1 {
        points.iter().chain(points).map(|(_, c)| *c).collect()
    } else {
        points.iter().map(|(_, c)| *c).collect()
    };
    // Stacked bottom-up, worst at the bottom.
    let mut below = vec![0.0_f64; counts.len()];
    let mut bands = Vec::new();
    for s in SEVERITIES {
        let above: Vec<f64> = counts
            .iter()
            .zip(&below)
            .map(|(c, b)| b + f64::from(count_of(c, s)))
            .collect();
        let upper = xs
            .iter()
            .zip(&above)
            .map(|(x, v)| format!("{},{}", num(*x), num(f.y(*v, max))));
        let lower = xs
            .iter()
            .zip(&below)
            .rev()
            .map(|(x, v)| format!("{},{}", num(*x), num(f.y(*v, max))));
        bands.push((s, upper.chain(lower).collect::<Vec<_>>().join(" ")));
        below = above;
    }
    html! {
        svg.chart #findings-chart viewBox={ "0 0 " (num(f.width)) " " (num(f.height)) } role="img"
            aria-label="Open findings by severity by week" {
            title { "Open findings by severity by week" }
            @for (k, (s, poly)) in bands.iter().enumerate() {
                @let label_y = f.top + 12.0 + 16.0 * f64::from(u8::try_from(k).unwrap_or(0));
                g.series data-series=(s.as_str()) {
                    polygon points=(poly) fill=(severity_fill(*s)) stroke="#000" stroke-width="0.5" {}
                    rect x=(num(f.width - f.right + 8.0)) y=(num(label_y - 9.0)) width="12" height="10"
                        fill=(severity_fill(*s)) stroke="#000" stroke-width="0.5" {}
                    text x=(num(f.width - f.right + 24.0)) y=(num(label_y)) { (s.as_str()) }
                }
            }
            (axes(&weeks, &ticks, max, "open findings"))
        }
    }
}

/// The style sheet: screen and print, no external font or image.
const CSS: &str = "
@page { size: A4; margin: 15mm; }
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif; color: #111;
  max-width: 60rem; margin: 0 auto; padding: 1rem; font-size: 11pt; line-height: 1.35; }
h1 { font-size: 20pt; margin-bottom: 0.2rem; }
h2 { font-size: 15pt; border-bottom: 2px solid #111; padding-bottom: 0.2rem; margin-top: 2rem; }
h3 { font-size: 12pt; margin: 1.2rem 0 0.4rem; }
h4 { font-size: 11pt; margin: 1rem 0 0.3rem; }
.meta, .note { color: #444; font-size: 9.5pt; }
.none { font-style: italic; color: #333; }
.alert { border: 2px solid #000; padding: 0.5rem; }
table { border-collapse: collapse; width: 100%; margin: 0.3rem 0 0.8rem; font-size: 9.5pt; }
th, td { border: 1px solid #999; padding: 3px 6px; text-align: left; vertical-align: top; }
thead th { background: #eee; }
.num { text-align: right; }
.nowrap { white-space: nowrap; }
.id, .check, .age { color: #444; font-size: 8.5pt; }
ul.findings { margin: 0; padding-left: 1rem; }
.sev { font-weight: bold; font-size: 8pt; letter-spacing: 0.03em; }
.sev-critical, .sev-high { text-decoration: underline; }
tr.ending td { background: #f2f2f2; }
svg.chart { width: 100%; max-width: 40rem; height: auto; display: block; }
svg.chart text { font-size: 10px; font-family: inherit; fill: #111; }
svg.chart .grid { stroke: #ddd; stroke-width: 1; }
svg.chart .axis { stroke: #000; stroke-width: 1; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  section { break-before: page; }
  section#glance { break-before: auto; }
  tr, svg.chart, li { break-inside: avoid; }
  thead { display: table-header-group; }
}
";

#[cfg(test)]
mod tests {
    use super::{num, week_of};
    use chrono::NaiveDate;

    #[test]
    fn weeks_start_on_monday() {
        let wednesday = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap_or_default();
        assert_eq!(
            week_of(wednesday),
            NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default()
        );
        assert_eq!(week_of(week_of(wednesday)), week_of(wednesday));
    }

    #[test]
    fn numbers_are_short_and_plain() {
        assert_eq!(num(12.0), "12");
        assert_eq!(num(12.25), "12.2");
        assert_eq!(num(-0.5), "-0.5");
    }
}
