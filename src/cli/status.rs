//! `supplywatch status`: suppliers worst first — grade, score and its trend
//! over the last week, open findings by severity, the next deadline.

use std::fmt::Write as _;

use serde::Serialize;
use supplywatch::clock::{Clock, SystemClock};
use supplywatch::pipeline;
use supplywatch::report::{Format, StatusLine, Table, status_csv, worst_first};
use supplywatch::store::{JobRun, OutboxStats, ScoreRow, SeverityCounts, StoredSupplier};

use super::{Globals, Outcome, open_for_reading, print_json};

/// What the grade leaves out: "3 pending, 1 accepted", or "-".
fn unscored_cell(pending: u32, accepted: u32) -> String {
    let parts: Vec<String> = [(pending, "pending"), (accepted, "accepted")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, name)| format!("{n} {name}"))
        .collect();
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(", ")
    }
}

fn open_cell(o: &SeverityCounts) -> String {
    if o.total() == 0 {
        return "-".to_owned();
    }
    [
        (o.critical, "critical"),
        (o.high, "high"),
        (o.medium, "medium"),
        (o.low, "low"),
        (o.info, "info"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, name)| format!("{n} {name}"))
    .collect::<Vec<_>>()
    .join(", ")
}

#[expect(
    clippy::too_many_lines,
    reason = "one read, then the lines in order; split up they would pass everything around"
)]
pub async fn run(globals: &Globals) -> anyhow::Result<Outcome> {
    let now = SystemClock.now();
    let (store, config) = open_for_reading(globals).await?;
    let questionnaires = store.questionnaires(None).await?;
    let grouped = supplywatch::registry::questionnaires_by_supplier(&questionnaires);
    let jobs = store.job_runs().await?;
    let outbox = store.outbox_stats().await?;
    let scores = store.supplier_scores(now).await?;
    let blind_since = store.blind_since().await?;
    let interrupted_run = store
        .recent_runs(1)
        .await?
        .into_iter()
        .find(|r| r.interrupted);
    let suppliers = store.suppliers().await?;
    store.close().await;
    let today = config
        .as_ref()
        .map_or_else(|| now.date_naive(), |c| pipeline::local_day(c, now));
    let cadence = config.map(|c| c.questionnaires).unwrap_or_default();
    let next_deadline = |s: &StoredSupplier| {
        let own = grouped.get(s.id.as_str()).map_or(&[][..], Vec::as_slice);
        s.deadlines(own, today, &cadence)
            .into_iter()
            .find(|d| d.date >= today)
    };
    let score_of = |id: &str| -> Option<&ScoreRow> { scores.iter().find(|r| r.supplier == id) };
    let mut lines: Vec<StatusLine<'_>> = suppliers
        .iter()
        .filter(|s| s.in_registry)
        .map(|s| {
            let row = score_of(&s.id);
            StatusLine {
                id: &s.id,
                name: &s.name,
                criticality: s.criticality.as_str(),
                status: s.status.as_str(),
                grade: row.map(|r| r.grade.as_str()),
                score: row.map(|r| r.score),
                trend: row.and_then(ScoreRow::trend),
                scored_at: row.map(|r| {
                    r.latest
                        .at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                }),
                open: row.map(|r| r.open).unwrap_or_default(),
                pending: row.map_or(0, |r| r.pending),
                accepted: row.map_or(0, |r| r.accepted),
                next_deadline: next_deadline(s),
            }
        })
        .collect();
    // Worst first: grade, then score; suppliers never scored last.
    lines.sort_by(|a, b| {
        worst_first(a.grade, a.score, a.id).cmp(&worst_first(b.grade, b.score, b.id))
    });
    let service = Service {
        jobs: &jobs,
        outbox: &outbox,
    };
    match globals.format {
        Format::Json => print_json(&StatusReport {
            blind_since,
            interrupted_run: interrupted_run.as_ref(),
            suppliers: &lines,
            service,
        })?,
        // One row per supplier; the service's jobs and outbox are not
        // suppliers and stay in the table and the JSON.
        Format::Csv => {
            if let Some(since) = blind_since {
                errln!("warning: {}", blind_line(since).trim_end());
            }
            if let Some(run) = &interrupted_run {
                errln!("warning: {}", interrupted_line(run).trim_end());
            }
            out!("{}", status_csv(&lines));
        }
        Format::Table => {
            if let Some(since) = blind_since {
                outln!("{}", blind_line(since));
            }
            if let Some(run) = &interrupted_run {
                outln!("{}", interrupted_line(run));
            }
            let mut t = Table::new(&[
                "SUPPLIER",
                "CRITICALITY",
                "GRADE",
                "SCORE",
                "7-DAY TREND",
                "OPEN FINDINGS",
                "NOT SCORED",
                "NEXT DEADLINE",
            ]);
            for l in &lines {
                t.row(vec![
                    l.id.to_owned(),
                    l.criticality.to_owned(),
                    l.grade.unwrap_or("-").to_owned(),
                    l.score
                        .map_or_else(|| "not probed".to_owned(), |s| s.to_string()),
                    l.trend.map_or_else(|| "-".to_owned(), |t| format!("{t:+}")),
                    open_cell(&l.open),
                    unscored_cell(l.pending, l.accepted),
                    l.next_deadline.as_ref().map_or_else(
                        || "-".to_owned(),
                        |d| format!("{} {} ({})", d.what, d.date, d.subject),
                    ),
                ]);
            }
            out!("{}", t.render());
            out!("{}", service_table(&service, now));
        }
    }
    Ok(Outcome::Ok)
}

/// What leads the table while the monitor cannot see.
fn blind_line(since: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "THE MONITOR CANNOT SEE since {}: its probe runs since then went mostly unanswered \
         (our network or resolver, not the suppliers). Nothing they saw was recorded as \
         findings; grades are those of the last run that could see.\n",
        since.format("%Y-%m-%d %H:%M UTC")
    )
}

/// What leads the table when the latest run was stopped by a signal.
fn interrupted_line(run: &supplywatch::store::StoredRun) -> String {
    format!(
        "The latest run ({}, {} at {}) was interrupted: it recorded the {} supplier{} it had judged; \
         the others keep what the run before it saw.\n",
        run.id,
        run.source,
        run.at.format("%Y-%m-%d %H:%M UTC"),
        run.suppliers,
        if run.suppliers == 1 { "" } else { "s" }
    )
}

/// `status --format json`.
#[derive(Debug, Serialize)]
struct StatusReport<'a> {
    /// Set while the monitor cannot see: since when.
    blind_since: Option<chrono::DateTime<chrono::Utc>>,
    /// The latest run, when it was stopped by a signal before it probed
    /// every supplier.
    #[serde(skip_serializing_if = "Option::is_none")]
    interrupted_run: Option<&'a supplywatch::store::StoredRun>,
    suppliers: &'a [StatusLine<'a>],
    service: Service<'a>,
}

/// The daemon's jobs and the outbox.
#[derive(Debug, Serialize)]
struct Service<'a> {
    jobs: &'a [JobRun],
    outbox: &'a OutboxStats,
}

fn service_table(s: &Service<'_>, now: chrono::DateTime<chrono::Utc>) -> String {
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(
            || "-".to_owned(),
            |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
        )
    };
    let mut out = String::from("\nService\n");
    if s.jobs.is_empty() {
        out.push_str(
            "  no job has run against this database yet (`supplywatch run`, or `run --once`)\n",
        );
    } else {
        let mut t = Table::new(&["JOB", "LAST RUN", "OUTCOME", "NEXT RUN"]);
        for j in s.jobs {
            t.row(vec![
                j.job.clone(),
                when(j.last_finished.or(j.last_started)),
                j.last_outcome.clone().unwrap_or_else(|| "-".to_owned()),
                when(j.next_at),
            ]);
        }
        out.push_str(&t.render());
    }
    let o = s.outbox;
    let oldest = o.oldest_queued.map_or_else(String::new, |t| {
        let minutes = (now - t).num_minutes().max(0);
        format!(
            ", oldest queued {minutes} min ago ({})",
            t.format("%Y-%m-%d %H:%M UTC")
        )
    });
    let _ = writeln!(
        out,
        "outbox: {} queued{oldest}, {} sent, {} given up",
        o.queued, o.sent, o.failed
    );
    out
}
