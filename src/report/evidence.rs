//! The supplier evidence pack: what an auditor asks for under ISO 27001
//! A.5.19–A.5.22 and DORA Art. 28 about one supplier, as a folder —
//! `index.html` (the registry entry and its audit history, the contract and
//! its deadlines, questionnaires with their documents, certifications,
//! every finding with its lifecycle and the e-mails sent about it, accepted
//! risks, the score history), `evidence.json` (the same data), the
//! questionnaires' documents under `documents/`, and `MANIFEST.sha256`
//! (`sha256sum -c` checks it) naming every file with its SHA-256, the audit
//! chain's head among them, so the pack can be verified later.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use maud::{DOCTYPE, Markup, html};
use serde::Serialize;

use crate::checks::paperwork::Deadline;
use crate::registry::Questionnaire;
use crate::report::terminal_text;
use crate::store::{
    AuditEntry, AuditFilter, ChainReport, FindingFilter, ScorePoint, Store, StoreError,
    StoredAcceptance, StoredFinding, StoredSupplier, SupplierNotice, sha256_hex,
};

/// Why a pack could not be written.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path} exists and is not empty; give --force to write into it")]
    NotEmpty { path: PathBuf },
    #[error("{path} exists and is not a folder")]
    NotAFolder { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot render the evidence as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// A questionnaire's document as the pack holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackedDocument {
    pub questionnaire: i64,
    /// Its path in the pack (`documents/sig-lite-2026-2026-03-01.pdf`).
    pub path: Option<String>,
    /// The name it was recorded from.
    pub recorded_name: String,
    pub sha256: String,
    pub size: u64,
    /// Why it is not in the pack, when it is not: missing from the store, or
    /// its content no longer matches the recorded SHA-256.
    pub problem: Option<String>,
}

/// Everything the pack says about one supplier, gathered once.
#[derive(Debug, Clone, Serialize)]
pub struct EvidencePack {
    pub generated_at: DateTime<Utc>,
    pub supplier: StoredSupplier,
    pub deadlines: Vec<Deadline>,
    pub questionnaires: Vec<Questionnaire>,
    pub documents: Vec<PackedDocument>,
    /// Every finding, any state, worst first.
    pub findings: Vec<StoredFinding>,
    pub notices: Vec<SupplierNotice>,
    pub acceptances: Vec<StoredAcceptance>,
    pub scores: Vec<ScorePoint>,
    /// The supplier's audit rows, oldest first.
    pub audit: Vec<AuditEntry>,
    /// The whole audit chain as verified when the pack was made.
    pub chain: ChainReport,
    /// The documents folder of the store, where documents are read from.
    #[serde(skip)]
    documents_folder: PathBuf,
}

/// Gathers the pack of `supplier` as of `now` (`today`, the day deadlines
/// are counted from, in the daemon's time zone); `None` when the store has
/// no such supplier.
///
/// # Errors
/// [`StoreError`] when the store cannot be read.
pub async fn gather(
    store: &Store,
    supplier: &str,
    cadence: &crate::config::QuestionnaireConfig,
    now: DateTime<Utc>,
    today: NaiveDate,
) -> Result<Option<EvidencePack>, StoreError> {
    let Some(stored) = store
        .suppliers()
        .await?
        .into_iter()
        .find(|s| s.id == supplier)
    else {
        return Ok(None);
    };
    let questionnaires = store.questionnaires(Some(supplier)).await?;
    let deadlines = stored.deadlines(&questionnaires, today, cadence);
    let mut findings = store
        .findings(&FindingFilter {
            supplier: Some(supplier.to_owned()),
            ..FindingFilter::default()
        })
        .await?;
    findings.sort_by(|a, b| {
        (b.severity, a.check.as_str(), a.target.as_str()).cmp(&(
            a.severity,
            b.check.as_str(),
            b.target.as_str(),
        ))
    });
    let acceptances = store
        .acceptances()
        .await?
        .into_iter()
        .filter(|a| a.supplier == supplier)
        .collect();
    Ok(Some(EvidencePack {
        generated_at: now,
        deadlines,
        documents: Vec::new(),
        findings,
        notices: store.supplier_notices(supplier).await?,
        acceptances,
        scores: store.score_history(supplier).await?,
        audit: store
            .audit(&AuditFilter {
                supplier: Some(supplier.to_owned()),
                since: None,
            })
            .await?,
        chain: store.verify_audit().await?,
        documents_folder: store.documents_folder(),
        questionnaires,
        supplier: stored,
    }))
}

/// A name made of what is safe in a file name: letters, digits, `.`, `_`
/// and `-` (others become `-`), at most 80 characters, never starting
/// with a dot.
fn safe_name(text: &str) -> String {
    let name: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(80)
        .collect();
    let name = name.trim_start_matches('.').to_owned();
    if name.is_empty() {
        "document".to_owned()
    } else {
        name
    }
}

/// The extension of a recorded file name, when it is a plain one.
fn extension(name: &str) -> Option<String> {
    let ext = Path::new(name).extension()?.to_str()?;
    (!ext.is_empty() && ext.len() <= 10 && ext.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| ext.to_ascii_lowercase())
}

/// What [`write`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Written {
    pub folder: PathBuf,
    /// Every file with its SHA-256, as `MANIFEST.sha256` lists them.
    pub files: Vec<(String, String)>,
}

/// Writes `pack` into `out` (created when missing; an existing folder
/// must be empty unless `force`): the documents, `index.html`,
/// `evidence.json`, `AUDIT-CHAIN-HEAD.txt` and `MANIFEST.sha256`.
///
/// # Errors
/// [`EvidenceError`] when `out` may not or cannot be written.
pub fn write(mut pack: EvidencePack, out: &Path, force: bool) -> Result<Written, EvidenceError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| EvidenceError::Write { path, source }
    };
    match fs::read_dir(out) {
        Ok(mut entries) => {
            if entries.next().is_some() && !force {
                return Err(EvidenceError::NotEmpty {
                    path: out.to_path_buf(),
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(out).map_err(io(out))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(EvidenceError::NotAFolder {
                path: out.to_path_buf(),
            });
        }
        Err(e) => return Err(io(out)(e)),
    }
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut taken = BTreeSet::new();
    for q in &pack.questionnaires {
        let Some(doc) = &q.document else { continue };
        let stem = format!("{}-{}", safe_name(&q.template), q.sent_on);
        let ext = extension(&doc.name).unwrap_or_else(|| "bin".to_owned());
        let mut path = format!("documents/{stem}.{ext}");
        let mut n = 2;
        while !taken.insert(path.clone()) {
            path = format!("documents/{stem}-{n}.{ext}");
            n += 1;
        }
        let stored = pack.documents_folder.join(&doc.sha256);
        let (path, problem) = match fs::read(&stored) {
            Ok(bytes) if sha256_hex(&bytes) == doc.sha256 => {
                files.push((path.clone(), bytes));
                (Some(path), None)
            }
            Ok(_) => (
                None,
                Some("its content in the store no longer matches the recorded SHA-256".to_owned()),
            ),
            Err(e) => (None, Some(format!("not readable in the store: {e}"))),
        };
        pack.documents.push(PackedDocument {
            questionnaire: q.id,
            path,
            recorded_name: doc.name.clone(),
            sha256: doc.sha256.clone(),
            size: doc.size,
            problem,
        });
    }
    let head = match (&pack.chain.head, &pack.chain.broken) {
        (Some(head), None) => format!(
            "audit chain intact: {} rows, head #{} {}\n",
            pack.chain.rows, head.id, head.hash
        ),
        (_, Some(broken)) => format!(
            "audit chain BROKEN after {} intact rows: {}\n",
            pack.chain.rows,
            serde_json::to_string(broken)?
        ),
        (None, None) => "audit log empty\n".to_owned(),
    };
    files.push(("AUDIT-CHAIN-HEAD.txt".to_owned(), head.into_bytes()));
    files.push((
        "evidence.json".to_owned(),
        serde_json::to_vec_pretty(&pack)?,
    ));
    files.push((
        "index.html".to_owned(),
        render(&pack).into_string().into_bytes(),
    ));
    let mut listed = Vec::new();
    for (name, bytes) in &files {
        let path = out.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io(parent))?;
        }
        write_file(&path, bytes).map_err(io(&path))?;
        listed.push((name.clone(), sha256_hex(bytes)));
    }
    listed.sort();
    let manifest = listed.iter().fold(String::new(), |mut out, (name, hash)| {
        use std::fmt::Write as _;
        let _ = writeln!(out, "{hash}  {name}");
        out
    });
    let path = out.join("MANIFEST.sha256");
    write_file(&path, manifest.as_bytes()).map_err(io(&path))?;
    Ok(Written {
        folder: out.to_path_buf(),
        files: listed,
    })
}

/// Writes through a temporary file renamed into place.
fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

const STYLE: &str = "body{font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#111827;max-width:980px;margin:24px auto;padding:0 16px}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;border-bottom:1px solid #d1d5db;padding-bottom:4px;margin-top:28px}\
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #e5e7eb;padding:5px 8px;text-align:left;vertical-align:top}\
th{color:#4b5563;font-size:12px}.muted{color:#6b7280}.mono{font-family:Consolas,Menlo,monospace;font-size:12px;overflow-wrap:anywhere}\
.bad{color:#b91c1c;font-weight:bold}section{break-inside:auto}@media print{h2{break-before:page}body{margin:0}}";

fn day(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn opt_day(d: Option<NaiveDate>) -> String {
    d.map_or_else(|| "—".to_owned(), |d| d.to_string())
}

/// A list, comma-separated, or a dash when empty.
fn listed(items: &[String]) -> String {
    if items.is_empty() {
        "—".to_owned()
    } else {
        items.join(", ")
    }
}

fn or_dash(text: Option<&str>) -> &str {
    text.unwrap_or("—")
}

/// The pack's `index.html`.
#[must_use]
#[expect(
    clippy::too_many_lines,
    reason = "one page, its sections in the order an auditor reads them"
)]
pub fn render(pack: &EvidencePack) -> Markup {
    let s = &pack.supplier;
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Evidence pack: " (s.name) " (" (s.id) ")" }
                style { (STYLE) }
            }
            body {
                h1 { "Evidence pack: " (s.name) }
                p.muted { "Supplier " span.mono { (s.id) } " · generated " (day(&pack.generated_at)) " · verify with " span.mono { "sha256sum -c MANIFEST.sha256" } }
                section {
                    h2 { "Registry entry" }
                    table {
                        tr { th { "Criticality" } td { (s.criticality) } }
                        tr { th { "Status" } td { (s.status) (if s.in_registry { "" } else { " (no longer in the registry)" }) } }
                        tr { th { "Owner" } td { (or_dash(s.owner.as_deref())) } }
                        tr { th { "Security contact" } td { (or_dash(s.security_contact.as_deref())) } }
                        tr { th { "Services" } td { (listed(&s.services)) } }
                        tr { th { "Domains" } td.mono { (listed(&s.domains)) } }
                        tr { th { "Endpoints" } td.mono { (listed(&s.endpoints)) } }
                        tr { th { "LEI" } td.mono { (or_dash(s.lei.as_deref())) } }
                        tr { th { "Country" } td { (or_dash(s.country.as_deref())) } }
                        tr { th { "Exit plan" } td { (or_dash(s.exit_plan.as_deref())) } }
                        tr { th { "Onboarded" } td { (s.onboarded_at) } }
                    }
                }
                section {
                    h2 { "Contract and deadlines" }
                    @if let Some(reference) = &s.contract_reference {
                        p { "Contract " span.mono { (reference) } ": from " (opt_day(s.contract_start)) " to " (opt_day(s.contract_end))
                            ", notice " (s.contract_notice_days.unwrap_or(0)) " days"
                            (if s.contract_auto_renew == Some(true) { ", renews automatically" } else { "" }) "." }
                    } @else {
                        p.muted { "No contract recorded." }
                    }
                    @if pack.deadlines.is_empty() {
                        p.muted { "No deadlines." }
                    } @else {
                        table {
                            tr { th { "Date" } th { "What" } th { "About" } }
                            @for d in &pack.deadlines {
                                tr { td { (d.date) } td { (d.what) } td { (d.subject) } }
                            }
                        }
                    }
                }
                section {
                    h2 { "Questionnaires" }
                    @if pack.questionnaires.is_empty() {
                        p.muted { "No questionnaire sent." }
                    } @else {
                        table {
                            tr { th { "#" } th { "Template" } th { "Sent" } th { "Due" } th { "Answered" } th { "Reviewed" } th { "Score" } th { "Reviewer" } th { "Outcome" } th { "Document" } }
                            @for q in &pack.questionnaires {
                                tr {
                                    td { (q.id) } td { (q.template) } td { (q.sent_on) } td { (q.due) }
                                    td { (opt_day(q.answered_on)) } td { (opt_day(q.reviewed_on)) }
                                    td { (q.score.map_or_else(|| "—".to_owned(), |s| s.to_string())) }
                                    td { (or_dash(q.reviewer.as_deref())) }
                                    td { (q.outcome.map_or("—", |o| o.as_str())) }
                                    td {
                                        @match pack.documents.iter().find(|d| d.questionnaire == q.id) {
                                            Some(PackedDocument { path: Some(path), recorded_name, .. }) => {
                                                a href=(path) { (path) } br; span.muted { "recorded as " (recorded_name) }
                                            }
                                            Some(PackedDocument { problem: Some(problem), recorded_name, .. }) => {
                                                span.bad { (recorded_name) ": " (problem) }
                                            }
                                            _ => { "—" }
                                        }
                                    }
                                }
                                @if let Some(notes) = &q.notes {
                                    tr { td {} td colspan="9" { span.muted { "Notes: " } (notes) } }
                                }
                            }
                        }
                    }
                }
                section {
                    h2 { "Certifications" }
                    @if s.certifications.is_empty() {
                        p.muted { "None recorded." }
                    } @else {
                        table {
                            tr { th { "Kind" } th { "Expires" } }
                            @for c in &s.certifications { tr { td { (c.kind) } td { (c.expires) } } }
                        }
                    }
                }
                section {
                    h2 { "Findings and their lifecycle" }
                    @if pack.findings.is_empty() {
                        p.muted { "No findings recorded (no runs yet, or nothing ever fired)." }
                    } @else {
                        table {
                            tr { th { "Severity" } th { "Check" } th { "Target" } th { "State" } th { "First seen" } th { "Opened" } th { "Resolved" } th { "Reopened" } th { "E-mails" } }
                            @for f in &pack.findings {
                                tr {
                                    td { (f.severity) } td.mono { (f.check) } td.mono { (terminal_text(&f.target)) }
                                    td { (f.state.as_str()) (f.resolution.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()) }
                                    td { (day(&f.first_seen)) }
                                    td { (f.opened_at.as_ref().map_or_else(|| "—".to_owned(), day)) }
                                    td { (f.resolved_at.as_ref().or(f.last_resolved_at.as_ref()).map_or_else(|| "—".to_owned(), day)) }
                                    td { (f.reopen_count) "×" }
                                    td {
                                        @for n in pack.notices.iter().filter(|n| n.check == f.check && n.target == f.target) {
                                            (n.kind) " " (day(&n.at)) " → " (n.recipients.join(", ")) br;
                                        }
                                    }
                                }
                                tr { td {} td colspan="8" { (terminal_text(&f.summary)) } }
                            }
                        }
                    }
                    @let reminders: Vec<&SupplierNotice> = pack.notices.iter().filter(|n| n.check == "questionnaire").collect();
                    @if !reminders.is_empty() {
                        p { "Questionnaire e-mails:" }
                        ul { @for n in reminders { li { (n.kind) " about " (terminal_text(&n.target)) ", " (day(&n.at)) " → " (n.recipients.join(", ")) } } }
                    }
                }
                section {
                    h2 { "Accepted risks" }
                    @if pack.acceptances.is_empty() {
                        p.muted { "None." }
                    } @else {
                        table {
                            tr { th { "Check" } th { "Target" } th { "Until" } th { "Approved by" } th { "Reason" } }
                            @for a in &pack.acceptances {
                                tr { td.mono { (a.check) } td.mono { (a.target.as_deref().unwrap_or("every target")) } td { (a.until) } td { (a.approved_by) } td { (a.reason) } }
                            }
                        }
                    }
                }
                section {
                    h2 { "Score history" }
                    @if pack.scores.is_empty() {
                        p.muted { "No runs yet." }
                    } @else {
                        table {
                            tr { th { "Run" } th { "At" } th { "Score" } th { "Grade" } }
                            @for p in &pack.scores { tr { td { (p.run_id) } td { (day(&p.at)) } td { (p.score) } td { (p.grade) } } }
                        }
                    }
                }
                section {
                    h2 { "Audit history" }
                    p.muted {
                        @match (&pack.chain.head, &pack.chain.broken) {
                            (Some(head), None) => { "The audit log's hash chain was intact when this pack was made: " (pack.chain.rows) " rows, head #" (head.id) " " span.mono { (head.hash) } "." }
                            (_, Some(_)) => { span.bad { "The audit log's hash chain is BROKEN (see AUDIT-CHAIN-HEAD.txt)." } }
                            (None, None) => { "The audit log is empty." }
                        }
                    }
                    table {
                        tr { th { "#" } th { "At" } th { "Action" } th { "Field" } th { "Old" } th { "New" } th { "Who" } th { "Command" } }
                        @for e in &pack.audit {
                            tr {
                                td { (e.id) } td { (e.at) } td { (e.action) } td { (or_dash(e.field.as_deref())) }
                                td.mono { (terminal_text(or_dash(e.old.as_deref()))) } td.mono { (terminal_text(or_dash(e.new.as_deref()))) }
                                td { (or_dash(e.actor.as_deref())) } td { (or_dash(e.command.as_deref())) }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe() {
        assert_eq!(safe_name("sig lite/2026"), "sig-lite-2026");
        assert_eq!(safe_name("../../etc"), "-..-etc");
        assert_eq!(safe_name("...."), "document");
        assert_eq!(extension("answers.PDF").as_deref(), Some("pdf"));
        assert_eq!(extension("no-extension"), None);
        assert_eq!(extension("x.p<d>f"), None);
    }
}
