//! A probe run streamed: each supplier is judged as soon as its probes are
//! back, its observations stored in batches (when the run is saved) and
//! then dropped, so that no point of the run holds every supplier's
//! observations. Its findings, errors and scopes go to a temporary file
//! (the run is judged blind, or not, on all of it, so they are recorded at
//! its end); the run is then recorded, previewed and reported a chunk of
//! suppliers at a time, read back from that file. What the process holds
//! grows only by a few dozen bytes per supplier.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};

use crate::checks::{self, Policy, Scope, SupplierResult};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::escalate::RunHealth;
use crate::probe::revocation::CrlCache;
use crate::probe::run::{Ended, Progress, RunError, Streaming, SupplierObservations};
use crate::registry::Supplier;
use crate::store::{CanonicalBlob, RunReport, Store, StoreError, Streamed};

/// Suppliers whose observations are stored in one transaction.
const BATCH_SUPPLIERS: usize = 64;

/// Suppliers recorded, previewed or reported at a time.
pub const CHUNK_SUPPLIERS: usize = 256;

/// Why a streamed run stopped short.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Probe(#[from] RunError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Spill(#[from] SpillError),
    #[error("cannot render the report: {0}")]
    Render(#[from] serde_json::Error),
}

/// The temporary file of a run's judged suppliers could not be written or
/// read back (a full disk, a temp folder that cannot be written).
#[derive(Debug, thiserror::Error)]
#[error("the run's findings could not be kept in a temporary file: {0}")]
pub struct SpillError(#[source] pub std::io::Error);

/// How a streamed run is fed and where its observations go.
pub struct StreamOptions<'a> {
    pub progress: Arc<dyn Progress>,
    /// Where the observations are stored as the run goes (a run to be
    /// saved); the registry is synced into it first. `None`: they are
    /// judged and dropped.
    pub store: Option<&'a Store>,
    /// Who records the run (`check --save`, `daemon` …), for the sync's
    /// audit rows.
    pub source: &'a str,
    /// Turns true to stop the run: the suppliers judged so far are kept.
    pub stop: Option<watch::Receiver<bool>>,
    /// The CRL cache (the process's unless a test gives its own).
    pub crls: Arc<CrlCache>,
    pub clock: Arc<dyn Clock>,
    /// Spreads the suppliers' start over this window instead of
    /// `probe.spread` (the daemon's `probe_jitter_secs`).
    pub spread: Option<std::time::Duration>,
}

impl<'a> StreamOptions<'a> {
    /// A run judged and dropped, with the process's CRL cache and the
    /// system clock.
    #[must_use]
    pub fn new(progress: Arc<dyn Progress>, source: &'a str) -> Self {
        Self {
            progress,
            store: None,
            source,
            stop: None,
            crls: CrlCache::shared(),
            clock: Arc::new(SystemClock),
            spread: None,
        }
    }
}

/// What a streamed run judged, without its observations: per supplier a
/// few numbers in memory, its findings, errors and scopes in a temporary
/// file (removed when the run is dropped).
#[derive(Debug)]
pub struct JudgedRun<'a> {
    pub at: DateTime<Utc>,
    suppliers: &'a [Supplier],
    spill: Spill,
    /// The suppliers judged, worst first once the run is finished.
    entries: Vec<Entry>,
    pub health: RunHealth,
    /// Endpoints and domains probed.
    pub endpoints: usize,
    pub domains: usize,
    /// Observations stored as it went, and whether it was stopped early.
    pub streamed: Streamed,
    /// Findings by severity.
    pub tally: crate::report::SeverityTally,
    /// The table's column widths over every supplier.
    pub widths: crate::report::TableWidths,
    /// Suppliers recorded, previewed and reported at a time.
    chunk: usize,
}

/// One judged supplier: where its part of the spill is, and what orders it.
#[derive(Debug, Clone, Copy)]
struct Entry {
    index: usize,
    worst: Option<crate::checks::Severity>,
    findings: usize,
    offset: u64,
    len: usize,
}

/// A judged supplier's findings, errors and scopes, as spilled.
#[derive(serde::Serialize, serde::Deserialize)]
struct Spilled {
    findings: Vec<crate::checks::Finding>,
    errors: Vec<crate::checks::TargetError>,
    /// (target, family, complete).
    scopes: Vec<(String, String, bool)>,
}

/// One judged supplier, read back.
#[derive(Debug, Clone)]
pub struct Judged {
    pub result: SupplierResult,
    pub scopes: Vec<Scope>,
}

/// An anonymous temporary file, appended to and read at offsets.
#[derive(Debug)]
struct Spill {
    file: std::fs::File,
    len: u64,
}

impl Spill {
    fn new() -> Result<Self, SpillError> {
        Ok(Self {
            file: tempfile::tempfile().map_err(SpillError)?,
            len: 0,
        })
    }

    /// Appends `bytes`; returns their offset.
    fn append(&mut self, bytes: &[u8]) -> Result<u64, SpillError> {
        use std::os::unix::fs::FileExt as _;
        let offset = self.len;
        self.file.write_all_at(bytes, offset).map_err(SpillError)?;
        self.len += u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        Ok(offset)
    }

    fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>, SpillError> {
        use std::os::unix::fs::FileExt as _;
        let mut bytes = vec![0; len];
        self.file
            .read_exact_at(&mut bytes, offset)
            .map_err(SpillError)?;
        Ok(bytes)
    }
}

/// Probes `suppliers` as [`super::probe_and_check`] does, judging each as
/// it completes; with a store, syncs the registry first and stores the
/// observations in batches of [`BATCH_SUPPLIERS`] suppliers.
///
/// # Errors
/// [`StreamError`] when the probes cannot be set up or the store fails.
pub async fn probe_streamed<'a>(
    config: &Config,
    suppliers: &'a [Supplier],
    options: StreamOptions<'_>,
    now: impl FnOnce() -> DateTime<Utc>,
) -> Result<JudgedRun<'a>, StreamError> {
    let at = now();
    let spill = Spill::new()?;
    if let Some(store) = options.store {
        let audit_source = format!("{} {}", options.source, config.path.display());
        store
            .sync(
                &config.suppliers,
                &super::registry_policy(config),
                &audit_source,
                at,
            )
            .await?;
    }
    let (sink, mut received) = mpsc::channel::<(usize, SupplierObservations)>(32);
    let probe = options.spread.map(|spread| crate::config::ProbeConfig {
        spread,
        ..config.probe.clone()
    });
    let probing = Streaming {
        suppliers,
        config: probe.as_ref().unwrap_or(&config.probe),
        progress: options.progress,
        crls: options.crls,
        clock: options.clock,
        stop: options.stop,
    }
    .run(sink);
    let policy = Policy::from_config(config);
    let store = options.store;
    let judging = async move {
        let mut judged = Judging::new(at, suppliers, spill);
        let mut blobs = Vec::new();
        let mut batched = 0;
        while let Some((index, observed)) = received.recv().await {
            judged.add(index, &observed, &policy)?;
            if store.is_some() {
                blobs.extend(super::blobs_of(&observed).iter().map(CanonicalBlob::of));
                batched += 1;
            }
            drop(observed);
            if let Some(store) = store
                && batched >= BATCH_SUPPLIERS
            {
                judged.stored(store.record_observation_batch(at, &blobs).await)?;
                blobs.clear();
                batched = 0;
            }
        }
        if let Some(store) = store {
            judged.stored(store.record_observation_batch(at, &blobs).await)?;
        }
        Ok::<_, StreamError>(judged)
    };
    let (ended, judged) = tokio::join!(probing, judging);
    let ended = ended?;
    let mut run = judged?.finish();
    run.streamed.interrupted = ended == Ended::Stopped;
    Ok(run)
}

/// A run being judged, supplier by supplier.
struct Judging<'a> {
    run: JudgedRun<'a>,
}

impl<'a> Judging<'a> {
    fn new(at: DateTime<Utc>, suppliers: &'a [Supplier], spill: Spill) -> Self {
        Self {
            run: JudgedRun {
                at,
                suppliers,
                spill,
                entries: Vec::new(),
                health: RunHealth::default(),
                endpoints: 0,
                domains: 0,
                streamed: Streamed::default(),
                tally: crate::report::SeverityTally::default(),
                widths: crate::report::TableWidths::default(),
                chunk: CHUNK_SUPPLIERS,
            },
        }
    }

    /// Judges the observations of the supplier at `index`, and spills
    /// what the checks made of them.
    fn add(
        &mut self,
        index: usize,
        observed: &SupplierObservations,
        policy: &Policy,
    ) -> Result<(), SpillError> {
        let run = &mut self.run;
        let failed = super::silent_scopes(observed);
        run.health.failed += failed;
        run.health.suppliers += 1;
        run.health.failed_suppliers += usize::from(failed > 0);
        run.endpoints += observed.http.len();
        run.domains += observed.domains.len();
        let observed = std::slice::from_ref(observed);
        // One supplier: one result, and every scope is its.
        let results = checks::evaluate(observed, run.at, policy);
        let scopes = checks::scopes(observed, &results);
        run.health.probed += scopes.len();
        let scopes: Vec<(String, String, bool)> = scopes
            .into_iter()
            .map(|s| (s.target, s.family.to_owned(), s.complete))
            .collect();
        for result in results {
            run.tally.add(&result);
            run.widths.fit(&result);
            let spilled = Spilled {
                scopes: scopes.clone(),
                findings: result.findings,
                errors: result.errors,
            };
            let bytes =
                serde_json::to_vec(&spilled).map_err(|e| SpillError(std::io::Error::other(e)))?;
            let offset = run.spill.append(&bytes)?;
            run.entries.push(Entry {
                index,
                worst: spilled.findings.iter().map(|f| f.severity).max(),
                findings: spilled.findings.len(),
                offset,
                len: bytes.len(),
            });
        }
        Ok(())
    }

    /// Counts a stored batch.
    fn stored(&mut self, batch: Result<(usize, usize), StoreError>) -> Result<(), StoreError> {
        let (stored, unchanged) = batch?;
        self.run.streamed.stored += stored;
        self.run.streamed.unchanged += unchanged;
        Ok(())
    }

    /// The run, its suppliers worst first, then by number of findings,
    /// then by id (as [`checks::sort_results`]).
    fn finish(mut self) -> JudgedRun<'a> {
        let suppliers = self.run.suppliers;
        let id = |e: &Entry| suppliers.get(e.index).map(|s| s.id.as_str());
        self.run.entries.sort_by(|a, b| {
            b.worst
                .cmp(&a.worst)
                .then_with(|| b.findings.cmp(&a.findings))
                .then_with(|| id(a).cmp(&id(b)))
        });
        self.run
    }
}

/// The static name of a scope's family.
fn family(name: &str) -> Option<&'static str> {
    crate::registry::Family::ALL
        .iter()
        .map(|f| f.as_str())
        .find(|f| *f == name)
}

impl JudgedRun<'_> {
    /// Records, previews and reports `size` suppliers at a time instead of
    /// [`CHUNK_SUPPLIERS`] (the same outcome; a test's way to cut a small
    /// run into many chunks).
    #[must_use]
    pub fn in_chunks_of(mut self, size: usize) -> Self {
        self.chunk = size.max(1);
        self
    }

    /// Suppliers judged.
    #[must_use]
    pub fn judged(&self) -> usize {
        self.entries.len()
    }

    /// The judged suppliers, worst first, `size` at a time, read back from
    /// the run's temporary file.
    pub fn chunks(
        &self,
        size: usize,
    ) -> impl Iterator<Item = Result<Vec<Judged>, SpillError>> + Send + '_ {
        self.entries
            .chunks(size.max(1))
            .map(|chunk| chunk.iter().map(|e| self.read(e)).collect())
    }

    fn read(&self, entry: &Entry) -> Result<Judged, SpillError> {
        let bad = |why: String| SpillError(std::io::Error::other(why));
        let bytes = self.spill.read(entry.offset, entry.len)?;
        let spilled: Spilled = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        let supplier = self
            .suppliers
            .get(entry.index)
            .ok_or_else(|| bad(format!("no supplier {}", entry.index)))?;
        let id = supplier.id.to_string();
        let scopes = spilled
            .scopes
            .into_iter()
            .map(|(target, name, complete)| {
                Ok(Scope {
                    supplier: id.clone(),
                    target,
                    family: family(&name).ok_or_else(|| bad(format!("family {name:?}")))?,
                    complete,
                })
            })
            .collect::<Result<_, SpillError>>()?;
        Ok(Judged {
            result: SupplierResult {
                supplier: supplier.clone(),
                findings: spilled.findings,
                errors: spilled.errors,
            },
            scopes,
        })
    }

    /// Every judged supplier's result, worst first: the whole run in
    /// memory, for a small run or a test.
    ///
    /// # Errors
    /// [`SpillError`] when the temporary file cannot be read back.
    pub fn results(&self) -> Result<Vec<SupplierResult>, SpillError> {
        let mut all = Vec::with_capacity(self.entries.len());
        for chunk in self.chunks(self.chunk) {
            all.extend(chunk?.into_iter().map(|j| j.result));
        }
        Ok(all)
    }

    /// A run input of this run with nothing in it yet.
    fn empty_input(&self, source: &str, blind: bool) -> crate::store::RunInput {
        crate::store::RunInput {
            blind: Some(blind),
            at: self.at,
            source: source.to_owned(),
            suppliers: Vec::new(),
            scopes: Vec::new(),
            findings: Vec::new(),
            observations: Vec::new(),
        }
    }

    /// The run as the store records it, all at once (its observations
    /// were stored as it went): for a small run or a test.
    ///
    /// # Errors
    /// [`SpillError`] when the temporary file cannot be read back.
    pub fn run_input(&self, source: &str) -> Result<crate::store::RunInput, SpillError> {
        let mut input = self.empty_input(source, false);
        for chunk in self.chunks(self.chunk) {
            let part = chunk_input(chunk?);
            input.suppliers.extend(part.suppliers);
            input.scopes.extend(part.scopes);
            input.findings.extend(part.findings);
        }
        Ok(input)
    }

    /// Whether the monitor could not see during this run.
    #[must_use]
    pub fn is_blind(&self, config: &Config) -> bool {
        self.health.is_blind(config.escalation.blind_percent)
    }

    /// What recording the run would decide, without recording it: against
    /// the stored findings when a store is given, as a first run otherwise
    /// (see [`super::preview`]); a chunk of suppliers at a time.
    ///
    /// # Errors
    /// [`StreamError`] when the stored findings or the run's temporary
    /// file cannot be read.
    pub async fn preview(
        &self,
        store: Option<&Store>,
        config: &Config,
        source: &str,
    ) -> Result<RunReport, StreamError> {
        let mut report = RunReport::default();
        for chunk in self.chunks(self.chunk) {
            let part = chunk_input(chunk?);
            let input = crate::store::RunInput {
                suppliers: part.suppliers,
                scopes: part.scopes,
                findings: part.findings,
                ..self.empty_input(source, false)
            };
            let decided = super::preview(store, &input, config).await?;
            report.absorb(decided);
        }
        Ok(report)
    }

    /// Reconciles the run's findings into the store it streamed its
    /// observations to (lifecycle, damping, acceptances, scores), queueing
    /// what `notifier` plans in the same transaction, a chunk of suppliers
    /// at a time. A blind run records no finding; a run stopped early
    /// judges no portfolio.
    ///
    /// # Errors
    /// [`StreamError`]; a failed save leaves the findings as they were.
    pub async fn save_with(
        &self,
        store: &Store,
        config: &Config,
        source: &str,
        notifier: Option<&dyn crate::store::Notifier>,
    ) -> Result<RunReport, StreamError> {
        let blind = self.is_blind(config);
        let mut portfolio = self.empty_input(source, blind);
        if !blind && !self.streamed.interrupted {
            super::portfolio(store, config, &mut portfolio).await?;
        }
        // Handed out to the chunks as they are read: shared by the two
        // halves of the chain.
        let by_supplier =
            std::sync::Mutex::new(Portfolio::of(portfolio.findings, portfolio.scopes));
        let head = crate::store::RunHead {
            at: self.at,
            source: source.to_owned(),
            blind: Some(blind),
        };
        let judged = self.chunks(self.chunk).map(|chunk| {
            let mut part =
                chunk_input(chunk.map_err(|e| StoreError::Spill { why: e.to_string() })?);
            if blind {
                part.findings.clear();
                for scope in &mut part.scopes {
                    scope.complete = false;
                }
            }
            by_supplier
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take_into(&mut part);
            Ok(part)
        });
        // The portfolio's word on stored suppliers the run did not judge.
        // A lock poisoned by a panic elsewhere still holds every part:
        // none is dropped.
        let rest = std::iter::from_fn(|| {
            by_supplier
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .next_rest()
        });
        let mut chunks = judged.chain(rest.map(Ok));
        let recording = crate::store::Recording {
            observations: &[],
            streamed: self.streamed,
            acceptances: &config.acceptances,
            policy: &super::lifecycle_policy(config),
            notifier,
        };
        Ok(store
            .record_chunked_run(&head, &mut chunks, recording)
            .await?)
    }
}

impl JudgedRun<'_> {
    /// Writes the run's report, a chunk of suppliers at a time, worst
    /// first, to `out`: the JSON document (the shape of
    /// [`crate::report::check_report`], pretty), the CSV rows or the table,
    /// with the marks and scores of `report`. Targets not probed go to
    /// `warn` (`SUPPLIER TARGET: why`), except in the table, which lists
    /// them.
    ///
    /// # Errors
    /// [`StreamError`] when the run's temporary file cannot be read back.
    pub fn write_report(
        &self,
        report: &RunReport,
        format: crate::report::Format,
        color: bool,
        out: &mut dyn FnMut(&str),
        warn: &mut dyn FnMut(String),
    ) -> Result<(), StreamError> {
        use crate::report::{Format, check_csv_part, check_report, check_table_part};
        let scores = super::scores_of(report);
        let marks = &report.marks;
        if format == Format::Json {
            if self.judged() == 0 {
                let empty =
                    serde_json::to_string_pretty(&check_report(&[], self.at, &scores, marks))?;
                out(&format!("{empty}\n"));
                return Ok(());
            }
            let generated_at = self.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            out(&format!(
                "{{\n  \"generated_at\": {},\n  \"suppliers\": [\n",
                serde_json::to_string(&generated_at)?
            ));
        }
        let mut first = true;
        for chunk in self.chunks(self.chunk) {
            let results: Vec<SupplierResult> = chunk?.into_iter().map(|j| j.result).collect();
            if format != Format::Table {
                for r in &results {
                    for e in &r.errors {
                        warn(format!("{} {}: {}", r.supplier.id, e.target, e.message));
                    }
                }
            }
            match format {
                Format::Json => {
                    for supplier in check_report(&results, self.at, &scores, marks).suppliers {
                        let text = serde_json::to_string_pretty(&supplier)?;
                        let indented: Vec<String> =
                            text.lines().map(|l| format!("    {l}")).collect();
                        out(&format!(
                            "{}{}",
                            if first { "" } else { ",\n" },
                            indented.join("\n")
                        ));
                        first = false;
                    }
                }
                Format::Csv => {
                    out(&check_csv_part(&results, &scores, marks, first));
                    first = false;
                }
                Format::Table => {
                    out(&check_table_part(
                        &results,
                        &scores,
                        marks,
                        color,
                        self.widths,
                    ));
                }
            }
        }
        match format {
            Format::Json => out("\n  ]\n}\n"),
            Format::Csv if first => out(&check_csv_part(&[], &scores, marks, true)),
            _ => {}
        }
        Ok(())
    }
}

/// A chunk of judged suppliers as the store takes it.
fn chunk_input(chunk: Vec<Judged>) -> crate::store::RunChunk {
    let mut part = crate::store::RunChunk::default();
    for judged in chunk {
        let id = judged.result.supplier.id.to_string();
        part.findings
            .extend(judged.result.findings.into_iter().map(|f| (id.clone(), f)));
        part.scopes.extend(judged.scopes);
        part.suppliers.push(id);
    }
    part
}

/// The portfolio's findings and scopes by supplier, handed to the chunk
/// of each supplier, the rest (suppliers the run did not judge) after.
struct Portfolio {
    parts: std::collections::BTreeMap<String, crate::store::RunChunk>,
}

impl Portfolio {
    fn of(findings: Vec<(String, crate::checks::Finding)>, scopes: Vec<Scope>) -> Self {
        let mut parts: std::collections::BTreeMap<String, crate::store::RunChunk> =
            std::collections::BTreeMap::new();
        for scope in scopes {
            parts
                .entry(scope.supplier.clone())
                .or_default()
                .scopes
                .push(scope);
        }
        for (supplier, finding) in findings {
            parts
                .entry(supplier.clone())
                .or_default()
                .findings
                .push((supplier, finding));
        }
        Self { parts }
    }

    /// Moves the portfolio's part of `chunk`'s suppliers into it.
    fn take_into(&mut self, chunk: &mut crate::store::RunChunk) {
        for supplier in &chunk.suppliers {
            if let Some(part) = self.parts.remove(supplier) {
                chunk.findings.extend(part.findings);
                chunk.scopes.extend(part.scopes);
            }
        }
    }

    /// The next chunk of the suppliers left.
    fn next_rest(&mut self) -> Option<crate::store::RunChunk> {
        let mut chunk = crate::store::RunChunk::default();
        while chunk.suppliers.len() < CHUNK_SUPPLIERS {
            let Some((supplier, part)) = self.parts.pop_first() else {
                break;
            };
            chunk.findings.extend(part.findings);
            chunk.scopes.extend(part.scopes);
            chunk.suppliers.push(supplier);
        }
        (!chunk.suppliers.is_empty()).then_some(chunk)
    }
}
