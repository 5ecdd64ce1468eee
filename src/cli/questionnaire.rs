//! `supplywatch questionnaire send|answer|review|list`: due-diligence
//! questionnaire bookkeeping, each step in the audit log.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use supplywatch::clock::{Clock, SystemClock};
use supplywatch::registry::{EmailAddress, Questionnaire, ReviewOutcome};
use supplywatch::report::questionnaire::questionnaire_table;
use supplywatch::report::{Format, questionnaires_csv};
use supplywatch::store::{NewQuestionnaire, OpenMode, Review, Store};

use super::{Globals, Outcome, UsageError, print_json};

#[derive(Debug, Args)]
pub struct QuestionnaireArgs {
    #[command(subcommand)]
    command: QuestionnaireCommand,
}

impl QuestionnaireArgs {
    /// `questionnaire list` prints CSV; the steps name what they recorded.
    pub fn without_csv(&self) -> Option<&'static str> {
        match self.command {
            QuestionnaireCommand::List(_) => None,
            QuestionnaireCommand::Send(_) => Some("questionnaire send"),
            QuestionnaireCommand::Answer(_) => Some("questionnaire answer"),
            QuestionnaireCommand::Review(_) => Some("questionnaire review"),
        }
    }
}

#[derive(Debug, Subcommand)]
enum QuestionnaireCommand {
    /// Record that a questionnaire was sent to a supplier
    Send(SendArgs),
    /// Record the supplier's answers, keeping the answered document
    Answer(AnswerArgs),
    /// Record the review of the answers: score, reviewer, outcome
    Review(ReviewArgs),
    /// List questionnaires, oldest first
    List(ListArgs),
}

#[derive(Debug, Args)]
struct SendArgs {
    /// Supplier id
    supplier: String,
    /// The questionnaire sent (e.g. sig-lite-2026)
    #[arg(long, value_name = "NAME")]
    template: String,
    /// The day the answers are due (YYYY-MM-DD)
    #[arg(long, value_name = "DATE")]
    due: NaiveDate,
    /// Who it went to [default: the supplier's security contact]
    #[arg(long, value_name = "EMAIL")]
    sent_to: Option<EmailAddress>,
    /// The day it was sent, if not today (YYYY-MM-DD)
    #[arg(long, value_name = "DATE")]
    on: Option<NaiveDate>,
}

#[derive(Debug, Args)]
struct AnswerArgs {
    /// Supplier id
    supplier: String,
    /// The answered document; a copy is kept in the documents folder beside the database
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// The day the answers came in, if not today (YYYY-MM-DD)
    #[arg(long, value_name = "DATE")]
    on: Option<NaiveDate>,
}

#[derive(Debug, Args)]
struct ReviewArgs {
    /// Supplier id
    supplier: String,
    /// The reviewer's score of the answers, 0-100
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=100))]
    score: u8,
    /// Who reviewed them
    #[arg(long, value_name = "EMAIL")]
    reviewer: EmailAddress,
    /// Review notes
    #[arg(long, value_name = "TEXT")]
    notes: Option<String>,
    /// accepted, remediation (acceptable once fixed) or rejected
    #[arg(long, default_value = "accepted", value_parser = ["accepted", "remediation", "rejected"])]
    outcome: String,
    /// The day of the review, if not today (YYYY-MM-DD)
    #[arg(long, value_name = "DATE")]
    on: Option<NaiveDate>,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Only this supplier's questionnaires
    supplier: Option<String>,
    /// Only those past their due date without an answer
    #[arg(long)]
    overdue: bool,
}

/// The step's day: `--on`, or today in the config's time zone (UTC
/// without a config). A day after today is refused.
fn step_day(on: Option<NaiveDate>, today: NaiveDate) -> Result<NaiveDate, UsageError> {
    match on {
        Some(day) if day > today => Err(UsageError(format!(
            "--on {day} is in the future (today is {today}); record a step once it has happened"
        ))),
        Some(day) => Ok(day),
        None => Ok(today),
    }
}

pub async fn run(globals: &Globals, args: &QuestionnaireArgs) -> anyhow::Result<Outcome> {
    let now = SystemClock.now();
    let config = match globals.config_path() {
        Ok(_) => Some(globals.load_config()?),
        Err(_) => None,
    };
    let today = config.as_ref().map_or_else(
        || now.date_naive(),
        |c| supplywatch::pipeline::local_day(c, now),
    );
    let path = globals.database_path(config.as_ref())?;
    let changed = !matches!(args.command, QuestionnaireCommand::List(_));
    // `list` only reads.
    let mode = if changed {
        OpenMode::Existing
    } else {
        OpenMode::ReadOnly
    };
    let store = globals.open_store(&path, mode).await?;
    if let (false, Some(config)) = (changed, &config) {
        super::warn_if_not_synced(&store, config).await?;
    }
    let result = step(globals, &store, &args.command, now, today).await;
    let result = match (result, &config) {
        // The step is recorded; bring the paperwork findings in line with it.
        // A failure here must not read as a failed step: the step stays.
        (Ok(outcome), Some(config)) if changed => {
            if let Err(e) = refresh_findings(globals, &store, config, now).await {
                errln!(
                    "warning: the step is recorded, but the paperwork findings were not updated: {e:#}; \
                     `supplywatch obligations` (or the daemon's next run) will"
                );
            }
            Ok(outcome)
        }
        (result, _) => result,
    };
    store.close().await;
    result
}

/// An obligations run after a recorded step, so that `status` and
/// `findings` reflect it at once rather than after the daemon's next run.
async fn refresh_findings(
    globals: &Globals,
    store: &Store,
    config: &supplywatch::config::Config,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let (_, report) =
        supplywatch::pipeline::run_obligations(store, config, now, "questionnaire").await?;
    if !globals.quiet {
        errln!(
            "paperwork findings updated: {} opened, {} reopened, {} resolved",
            report.opened.len(),
            report.reopened.len(),
            report.resolved.len()
        );
    }
    Ok(())
}

async fn step(
    globals: &Globals,
    store: &Store,
    command: &QuestionnaireCommand,
    now: chrono::DateTime<chrono::Utc>,
    today: NaiveDate,
) -> anyhow::Result<Outcome> {
    let (q, verb) = match command {
        QuestionnaireCommand::Send(a) => {
            let sent_to = match &a.sent_to {
                Some(to) => Some(to.to_string()),
                None => store
                    .suppliers()
                    .await?
                    .into_iter()
                    .find(|s| s.id == a.supplier)
                    .and_then(|s| s.security_contact),
            };
            let new = NewQuestionnaire {
                supplier: a.supplier.clone(),
                template: a.template.trim().to_owned(),
                sent_on: step_day(a.on, today)?,
                due: a.due,
                sent_to,
            };
            if new.template.is_empty() || new.template.chars().any(char::is_control) {
                return Err(UsageError("--template is a non-empty name on one line".into()).into());
            }
            let source = "questionnaire send";
            (store.questionnaire_send(&new, now, source).await?, "sent")
        }
        QuestionnaireCommand::Answer(a) => {
            let day = step_day(a.on, today)?;
            // Checked before the document is copied: a refused step stores nothing.
            store.questionnaire_to_answer(&a.supplier, day).await?;
            let document = a
                .file
                .as_deref()
                .map(|f| store.store_document(f))
                .transpose()?;
            let source = "questionnaire answer";
            let q = store
                .questionnaire_answer(&a.supplier, day, document.as_ref(), now, source)
                .await?;
            (q, "answered")
        }
        QuestionnaireCommand::Review(a) => {
            let review = Review {
                reviewed_on: step_day(a.on, today)?,
                score: a.score,
                reviewer: a.reviewer.to_string(),
                notes: a.notes.clone().filter(|n| !n.trim().is_empty()),
                outcome: a
                    .outcome
                    .parse::<ReviewOutcome>()
                    .map_err(|e| UsageError(e.to_string()))?,
            };
            let source = "questionnaire review";
            let q = store
                .questionnaire_review(&a.supplier, &review, now, source)
                .await?;
            (q, "reviewed")
        }
        QuestionnaireCommand::List(a) => {
            let mut list = store.questionnaires(a.supplier.as_deref()).await?;
            if a.overdue {
                list.retain(|q| q.is_overdue(today));
            }
            match globals.format {
                Format::Json => print_json(&list)?,
                Format::Csv => out!("{}", questionnaires_csv(&list, today)),
                Format::Table if list.is_empty() => outln!("no questionnaires"),
                Format::Table => out!("{}", questionnaire_table(&list, today)),
            }
            return Ok(Outcome::Ok);
        }
    };
    match globals.format {
        Format::Json => print_json(&q)?,
        // CSV is refused before a step runs (`without_csv`).
        Format::Table | Format::Csv => outln!("{}", describe(&q, verb)),
    }
    Ok(Outcome::Ok)
}

fn describe(q: &Questionnaire, verb: &str) -> String {
    match verb {
        "sent" => format!(
            "questionnaire #{} ({}) sent to {} on {}{}, due {}",
            q.id,
            q.template,
            q.supplier,
            q.sent_on,
            q.sent_to
                .as_deref()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default(),
            q.due
        ),
        "answered" => format!(
            "questionnaire #{} ({}) of {} answered on {}{}",
            q.id,
            q.template,
            q.supplier,
            q.answered_on.map(|d| d.to_string()).unwrap_or_default(),
            q.document
                .as_ref()
                .map(|d| format!(
                    "; document {} ({} bytes) kept as documents/{}",
                    d.name, d.size, d.sha256
                ))
                .unwrap_or_default()
        ),
        _ => format!(
            "questionnaire #{} ({}) of {} reviewed on {} by {}: score {}, {}",
            q.id,
            q.template,
            q.supplier,
            q.reviewed_on.map(|d| d.to_string()).unwrap_or_default(),
            q.reviewer.as_deref().unwrap_or_default(),
            q.score.map(|s| s.to_string()).unwrap_or_default(),
            q.outcome.map(ReviewOutcome::as_str).unwrap_or_default()
        ),
    }
}
