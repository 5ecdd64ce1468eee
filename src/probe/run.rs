//! Runs probes over many suppliers at once: TLS and HTTP for each endpoint,
//! DNS and e-mail for each domain, under a global limit
//! (`probe.concurrency`) and a per-host limit, with a timeout on every
//! network step, so one stalling target never holds the run back beyond it.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::dns::mtasts::PolicyFetchError;
use super::dns::{DomainObservation, MtaStsFetch, Resolution, probe_domain};
use super::http::{
    FailureKind, Fetch, FetchFailure, HttpObservation, HttpProber, HttpScheme, HttpSetupError,
};
use super::resolve::{DnsResolver, LookupFailure, ResolverError};
use super::revocation::{CrlCache, RevocationChecker};
use super::smtp::SmtpProber;
use super::tls::{TlsProber, TlsSetupError};
use super::{EndpointObservation, Reach, Stage};
use crate::clock::{Clock, SystemClock};
use crate::config::ProbeConfig;
use crate::registry::{Domain, Endpoint, Supplier};

/// Why a run could not start at all (per-target failures are observations).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Resolver(#[from] ResolverError),
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    #[error("cannot set up the HTTP client: {0}")]
    Http(#[from] HttpSetupError),
}

/// What kind of probe finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    Tls,
    Http,
    Domain,
}

impl ProbeKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tls => "tls",
            Self::Http => "http",
            Self::Domain => "dns",
        }
    }
}

/// One finished probe, for progress output.
#[derive(Debug, Clone)]
pub struct ProbeEvent<'a> {
    pub supplier: &'a str,
    pub kind: ProbeKind,
    pub target: &'a str,
    /// A few words on how it went.
    pub outcome: String,
    pub elapsed_ms: u64,
}

/// Told about each probe as it finishes (a progress bar, log lines).
pub trait Progress: Send + Sync {
    fn start(&self, total: usize);
    fn finished(&self, event: &ProbeEvent<'_>);
    fn done(&self);
}

/// A progress sink that ignores everything.
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _total: usize) {}
    fn finished(&self, _event: &ProbeEvent<'_>) {}
    fn done(&self) {}
}

/// All observations of one supplier.
#[derive(Debug, Clone)]
pub struct SupplierObservations {
    pub supplier: Supplier,
    /// TLS, one per endpoint (plain-HTTP endpoints have none).
    pub endpoints: Vec<EndpointObservation>,
    /// HTTP posture, one per endpoint.
    pub http: Vec<HttpObservation>,
    /// DNS and e-mail authentication, one per domain.
    pub domains: Vec<DomainObservation>,
}

/// MTA-STS policies are fetched over the HTTPS client, verifying for real,
/// from `probe.mta_sts_port` (443 unless a test setup says otherwise).
struct PolicyFetcher {
    http: HttpProber,
    port: u16,
}

impl MtaStsFetch for PolicyFetcher {
    fn fetch<'a>(
        &'a self,
        url: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<String, PolicyFetchError>> + Send + 'a>> {
        Box::pin(async move {
            let url = match (self.port, url.strip_prefix("https://")) {
                (443, _) | (_, None) => url.to_owned(),
                (port, Some(rest)) => match rest.split_once('/') {
                    Some((host, path)) => format!("https://{host}:{port}/{path}"),
                    None => format!("https://{rest}:{port}"),
                },
            };
            self.http.fetch_policy(&url).await
        })
    }
}

#[derive(Debug, Clone)]
enum Job {
    Tls(Endpoint),
    /// The endpoint, and whether it is probed as plain HTTP.
    Http(Endpoint, bool),
    Domain(Domain),
}

enum Done {
    Tls(Box<EndpointObservation>),
    Http(Box<HttpObservation>),
    Domain(Box<DomainObservation>),
}

struct Probers {
    resolver: DnsResolver,
    tls: TlsProber,
    revocation: RevocationChecker,
    http: HttpProber,
    policy: PolicyFetcher,
    /// MX hosts over SMTP, unless `probe.smtp` is off.
    smtp: Option<SmtpProber>,
}

impl Probers {
    /// Every prober of a run, over one resolver and one HTTP client.
    fn new(
        config: &ProbeConfig,
        crls: Arc<CrlCache>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, RunError> {
        super::install_crypto_provider();
        let resolver = DnsResolver::new(config)?;
        let http = HttpProber::new(config, resolver.clone())?;
        let extra_issuers = config
            .extra_roots
            .iter()
            .flat_map(|file| file.certificates.iter().cloned())
            .collect();
        let tls = TlsProber::new(config)?;
        let smtp = config
            .smtp
            .then(|| SmtpProber::new(config, tls.clone(), resolver.clone()));
        Ok(Self {
            revocation: RevocationChecker::new(
                http.clone(),
                crls,
                clock,
                extra_issuers,
                config.timeout,
            ),
            tls,
            smtp,
            policy: PolicyFetcher {
                http: http.clone(),
                port: config.mta_sts_port,
            },
            http,
            resolver,
        })
    }

    async fn run(&self, job: &Job) -> Done {
        match job {
            Job::Tls(e) => {
                let (mut obs, captured) = self.tls.probe_capturing(&self.resolver, e).await;
                // Every endpoint whose chain was captured, within the
                // probe's concurrency slot.
                if let Some(tls) = obs.tls.as_mut()
                    && !captured.chain.is_empty()
                {
                    tls.revocation = Some(
                        self.revocation
                            .check(&captured.chain, &captured.stapled_ocsp)
                            .await,
                    );
                }
                Done::Tls(Box::new(obs))
            }
            Job::Http(e, _) => Done::Http(Box::new(self.http.probe(e).await)),
            Job::Domain(d) => {
                let mut obs = probe_domain(&self.resolver, d, &self.policy).await;
                if let Some(smtp) = &self.smtp
                    && obs.resolves()
                {
                    obs.mail_servers = smtp.probe_domain(&obs).await;
                }
                Done::Domain(Box::new(obs))
            }
        }
    }
}

fn tls_outcome(o: &EndpointObservation) -> String {
    match &o.reach {
        Reach::Handshake => o
            .tls
            .as_ref()
            .and_then(|t| t.version.clone())
            .unwrap_or_else(|| "handshake".to_owned()),
        Reach::CertificateOnly { .. } => "certificate only".to_owned(),
        Reach::Unreachable { stage, .. } => format!("unreachable ({stage:?})").to_lowercase(),
        Reach::Refused { .. } => "not probed (internal address)".to_owned(),
    }
}

fn http_outcome(o: &HttpObservation) -> String {
    if o.refused().is_some() {
        return "not probed (internal address)".to_owned();
    }
    match o.page.last() {
        Some(response) => format!("HTTP {}", response.status),
        None => "no response".to_owned(),
    }
}

fn domain_outcome(o: &DomainObservation) -> String {
    if o.resolves() {
        match &o.mail_servers {
            Some(m) => {
                let reached = m.probed.iter().filter(|mx| mx.reached()).count();
                format!("resolved; {reached} of {} MX reached", m.probed.len())
            }
            None => "resolved".to_owned(),
        }
    } else {
        format!("{:?}", o.resolution).to_lowercase()
    }
}

/// Probes every endpoint and domain of `suppliers`, with the process-wide
/// CRL cache ([`CrlCache::shared`]) and the system clock.
///
/// # Errors
/// [`RunError`] when the resolver, the TLS trust store or the HTTP client
/// cannot be set up.
pub async fn probe_suppliers(
    suppliers: &[Supplier],
    config: &ProbeConfig,
    progress: Arc<dyn Progress>,
) -> Result<Vec<SupplierObservations>, RunError> {
    probe_suppliers_with(
        suppliers,
        config,
        progress,
        CrlCache::shared(),
        Arc::new(SystemClock),
    )
    .await
}

/// As [`probe_suppliers`], with a given CRL cache and clock (the clock
/// judges the currency of CRLs and OCSP answers): every supplier's
/// observations at once, in the config's order.
///
/// # Errors
/// See [`probe_suppliers`].
pub async fn probe_suppliers_with(
    suppliers: &[Supplier],
    config: &ProbeConfig,
    progress: Arc<dyn Progress>,
    crls: Arc<CrlCache>,
    clock: Arc<dyn Clock>,
) -> Result<Vec<SupplierObservations>, RunError> {
    let (sink, mut received) = tokio::sync::mpsc::channel(64);
    let probing = Streaming {
        suppliers,
        config,
        progress,
        crls,
        clock,
        stop: None,
    }
    .run(sink);
    let gathering = async {
        let mut all = Vec::with_capacity(suppliers.len());
        while let Some(observed) = received.recv().await {
            all.push(observed);
        }
        all
    };
    let (ended, mut all) = tokio::join!(probing, gathering);
    ended?;
    all.sort_by_key(|(index, _)| *index);
    Ok(all.into_iter().map(|(_, o)| o).collect())
}

/// How a streamed run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Every supplier was probed and sent.
    Complete,
    /// Stopped early: the suppliers sent so far were probed in full; the
    /// others were not sent at all.
    Stopped,
}

/// A probe run that hands each supplier's observations on as soon as its
/// last probe finished, so that nothing holds every supplier's at once.
/// At most about twice `probe.concurrency` probes are spawned at a time
/// (the ones waiting for their host's slot or their start count), so the
/// memory of a run does not grow with the registry.
pub struct Streaming<'a> {
    pub suppliers: &'a [Supplier],
    pub config: &'a ProbeConfig,
    pub progress: Arc<dyn Progress>,
    pub crls: Arc<CrlCache>,
    pub clock: Arc<dyn Clock>,
    /// When it turns true, no further probe starts, the running ones are
    /// dropped, and the run ends [`Ended::Stopped`].
    pub stop: Option<tokio::sync::watch::Receiver<bool>>,
}

/// The per-host limits of the probes in flight: a host's semaphore lives
/// as long as a probe of it does.
#[derive(Default)]
struct HostLimits(HashMap<String, std::sync::Weak<Semaphore>>);

impl HostLimits {
    /// The limit of `job`'s host, shared with its probes in flight.
    fn limit(&mut self, job: &Job, per_host: usize, window: usize) -> Arc<Semaphore> {
        let host = match job {
            Job::Tls(e) | Job::Http(e, _) => e.host.to_string(),
            Job::Domain(d) => d.to_string(),
        };
        if let Some(limit) = self.0.get(&host).and_then(std::sync::Weak::upgrade) {
            return limit;
        }
        if self.0.len() > window.saturating_mul(4) {
            self.0.retain(|_, w| w.strong_count() > 0);
        }
        let limit = Arc::new(Semaphore::new(per_host));
        self.0.insert(host, Arc::downgrade(&limit));
        limit
    }
}

/// Adds a finished probe to its supplier's; the supplier's observations
/// once it was the last.
fn complete(
    partial: &mut HashMap<usize, Partial>,
    suppliers: &[Supplier],
    index: usize,
    order: usize,
    done: Done,
) -> Option<SupplierObservations> {
    let entry = partial.get_mut(&index)?;
    entry.done.push((order, done));
    entry.remaining = entry.remaining.saturating_sub(1);
    if entry.remaining > 0 {
        return None;
    }
    let entry = partial.remove(&index)?;
    Some(gather_one(suppliers.get(index)?, entry.done))
}

/// A supplier whose probes are not all back yet.
struct Partial {
    remaining: usize,
    done: Vec<(usize, Done)>,
}

impl Streaming<'_> {
    /// Runs the probes; sends (index in `suppliers`, observations) of each
    /// supplier once all its probes are back, in the order they complete.
    ///
    /// # Errors
    /// [`RunError`] when the probers cannot be set up (nothing is sent).
    pub async fn run(
        self,
        sink: tokio::sync::mpsc::Sender<(usize, SupplierObservations)>,
    ) -> Result<Ended, RunError> {
        let Self {
            suppliers,
            config,
            progress,
            crls,
            clock,
            mut stop,
        } = self;
        let probers = Arc::new(Probers::new(config, crls, clock)?);
        let global = Arc::new(Semaphore::new(config.concurrency));
        let window = config.concurrency.max(1).saturating_mul(2);
        let mut hosts = HostLimits::default();
        let mut tasks = JoinSet::new();
        let mut pending: HashMap<tokio::task::Id, Pending> = HashMap::new();
        let mut partial: HashMap<usize, Partial> = HashMap::new();

        progress.start(suppliers.iter().map(|s| job_count(s, &probers.http)).sum());
        let began = tokio::time::Instant::now();
        let mut queue = start_order(suppliers.len(), config.spread)
            .into_iter()
            .flat_map(|(offset, index)| queued(suppliers, &probers.http, offset, index));
        let mut sent = 0_usize;
        let stopped = |stop: &Option<tokio::sync::watch::Receiver<bool>>| {
            stop.as_ref().is_some_and(|s| *s.borrow())
        };
        let mut exhausted = false;
        loop {
            // Fill the window.
            while !exhausted && tasks.len() < window && !stopped(&stop) {
                let Some((offset, index, count, job)) = queue.next() else {
                    exhausted = true;
                    break;
                };
                let supplier_id = suppliers
                    .get(index)
                    .map(|s| s.id.to_string())
                    .unwrap_or_default();
                let Some((order, job)) = job else {
                    if let Some(s) = suppliers.get(index) {
                        if sink.send((index, gather_one(s, Vec::new()))).await.is_err() {
                            return Ok(Ended::Stopped);
                        }
                        sent += 1;
                    }
                    continue;
                };
                partial.entry(index).or_insert_with(|| Partial {
                    remaining: count,
                    done: Vec::with_capacity(count),
                });
                let limit = hosts.limit(&job, config.per_host_concurrency, window);
                let (global, probers, progress) =
                    (global.clone(), probers.clone(), progress.clone());
                let record = Pending {
                    order,
                    index,
                    job: job.clone(),
                    supplier: supplier_id.clone(),
                };
                let handle = tasks.spawn(async move {
                    tokio::time::sleep_until(began + offset).await;
                    // Semaphores are never closed here; were one, the probe would run unthrottled.
                    let _host = limit.acquire_owned().await.ok();
                    let _slot = global.acquire_owned().await.ok();
                    let done = probers.run(&job).await;
                    report(progress.as_ref(), &supplier_id, &done);
                    (order, index, done)
                });
                pending.insert(handle.id(), record);
            }
            if tasks.is_empty() && (exhausted || stopped(&stop)) {
                break;
            }
            let joined = match next_finished(&mut tasks, &mut stop).await {
                Next::Finished(joined) => joined,
                Next::Again => continue,
                Next::Stop => break,
            };
            let Some((order, index, done)) = settle(joined, &mut pending, progress.as_ref()) else {
                continue;
            };
            if let Some(observed) = complete(&mut partial, suppliers, index, order, done) {
                if sink.send((index, observed)).await.is_err() {
                    tasks.abort_all();
                    return Ok(Ended::Stopped);
                }
                sent += 1;
            }
        }
        progress.done();
        Ok(if sent == suppliers.len() {
            Ended::Complete
        } else {
            Ended::Stopped
        })
    }
}

/// A random start per supplier within the `spread` window (none for
/// `check`), as (offset, supplier index) in the order of their start.
fn start_order(suppliers: usize, spread: std::time::Duration) -> Vec<(std::time::Duration, usize)> {
    let spread_ms = u64::try_from(spread.as_millis()).unwrap_or(u64::MAX);
    let mut order: Vec<(std::time::Duration, usize)> = (0..suppliers)
        .map(|index| {
            let offset = if spread_ms == 0 {
                std::time::Duration::ZERO
            } else {
                std::time::Duration::from_millis(fastrand::u64(0..spread_ms))
            };
            (offset, index)
        })
        .collect();
    order.sort_unstable();
    order
}

type Joined = Result<(tokio::task::Id, (usize, usize, Done)), tokio::task::JoinError>;

enum Next {
    Finished(Joined),
    /// Nothing finished (the stop signal changed, or no task is left).
    Again,
    /// Stopping: the running probes were dropped.
    Stop,
}

/// The next probe to finish, unless the stop signal comes first.
async fn next_finished(
    tasks: &mut JoinSet<(usize, usize, Done)>,
    stop: &mut Option<tokio::sync::watch::Receiver<bool>>,
) -> Next {
    let joined = match stop.as_mut() {
        Some(signal) if !*signal.borrow() => {
            tokio::select! {
                joined = tasks.join_next_with_id() => joined,
                changed = signal.changed() => {
                    if changed.is_err() {
                        // The sender is gone: no stop can come any more.
                        *stop = None;
                    }
                    return Next::Again;
                }
            }
        }
        Some(_) => {
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
            return Next::Stop;
        }
        None => tasks.join_next_with_id().await,
    };
    joined.map_or(Next::Again, Next::Finished)
}

/// The probes of the supplier at `index`, each as (start offset, index,
/// the supplier's number of probes, (its order, the probe)); a supplier
/// with nothing to probe as one entry without a probe, to be sent as it
/// comes up.
fn queued(
    suppliers: &[Supplier],
    http: &HttpProber,
    offset: std::time::Duration,
    index: usize,
) -> impl Iterator<Item = (std::time::Duration, usize, usize, Option<(usize, Job)>)> + use<> {
    let jobs = suppliers
        .get(index)
        .map(|s| jobs_of(s, http))
        .unwrap_or_default();
    let count = jobs.len();
    let empty = (count == 0).then_some((offset, index, 0, None));
    empty.into_iter().chain(
        jobs.into_iter()
            .enumerate()
            .map(move |(order, job)| (offset, index, count, Some((order, job)))),
    )
}

/// Tells `progress` about a finished probe.
fn report(progress: &dyn Progress, supplier: &str, done: &Done) {
    let (kind, target, outcome, elapsed_ms) = match done {
        Done::Tls(o) => (
            ProbeKind::Tls,
            o.target.as_str(),
            tls_outcome(o),
            o.elapsed_ms,
        ),
        Done::Http(o) => (
            ProbeKind::Http,
            o.target.as_str(),
            http_outcome(o),
            o.elapsed_ms,
        ),
        Done::Domain(o) => (
            ProbeKind::Domain,
            o.domain.as_str(),
            domain_outcome(o),
            o.elapsed_ms,
        ),
    };
    progress.finished(&ProbeEvent {
        supplier,
        kind,
        target,
        outcome,
        elapsed_ms,
    });
}

/// A spawned probe, kept by task id so that a task that panics still
/// yields an observation.
struct Pending {
    order: usize,
    index: usize,
    job: Job,
    supplier: String,
}

/// The result of a finished probe task. A task that panicked (a bug)
/// becomes an observation of failure for its target — `tls.unreachable`,
/// `http.unreachable` or `dns.resolution_failed` follow — rather than
/// vanishing, which would make the target look probed and healthy.
fn settle(
    joined: Joined,
    pending: &mut HashMap<tokio::task::Id, Pending>,
    progress: &dyn Progress,
) -> Option<(usize, usize, Done)> {
    match joined {
        Ok((id, result)) => {
            pending.remove(&id);
            Some(result)
        }
        Err(e) => {
            tracing::error!("a probe task failed: {e}");
            // Every spawned task is pending until it is settled.
            let Pending {
                order,
                index,
                job,
                supplier,
            } = pending.remove(&e.id())?;
            let done = internal_failure(&job, &format!("internal error: {e}"));
            let (kind, target) = match &job {
                Job::Tls(endpoint) => (ProbeKind::Tls, endpoint.to_string()),
                Job::Http(endpoint, _) => (ProbeKind::Http, endpoint.to_string()),
                Job::Domain(domain) => (ProbeKind::Domain, domain.to_string()),
            };
            progress.finished(&ProbeEvent {
                supplier: &supplier,
                kind,
                target: &target,
                outcome: "internal error".to_owned(),
                elapsed_ms: 0,
            });
            Some((order, index, done))
        }
    }
}

/// The observation of a probe that did not finish, in each kind's own
/// terms for a failure: an unreachable endpoint, a fetch that failed, a
/// domain whose lookup failed.
fn internal_failure(job: &Job, error: &str) -> Done {
    match job {
        Job::Tls(endpoint) => Done::Tls(Box::new(EndpointObservation {
            target: endpoint.to_string(),
            host: endpoint.host.to_string(),
            port: endpoint.port,
            addresses: Vec::new(),
            reach: Reach::Unreachable {
                stage: Stage::Handshake,
                error: error.to_owned(),
                timed_out: false,
            },
            tls: None,
            legacy: Vec::new(),
            elapsed_ms: 0,
        })),
        Job::Http(endpoint, plain) => {
            let (scheme, name) = if *plain {
                (HttpScheme::Http, "http")
            } else {
                (HttpScheme::Https, "https")
            };
            let url = format!("{name}://{endpoint}/");
            Done::Http(Box::new(HttpObservation {
                target: endpoint.to_string(),
                host: endpoint.host.to_string(),
                port: endpoint.port,
                scheme,
                page: Fetch {
                    url: url.clone(),
                    responses: Vec::new(),
                    redirects: Vec::new(),
                    failure: Some(FetchFailure {
                        url,
                        kind: FailureKind::Internal,
                        detail: error.to_owned(),
                        address: None,
                    }),
                },
                security_txt: None,
                elapsed_ms: 0,
            }))
        }
        Job::Domain(domain) => Done::Domain(Box::new(DomainObservation {
            domain: domain.to_string(),
            resolution: Resolution::Failed {
                failure: LookupFailure::Other {
                    detail: error.to_owned(),
                },
            },
            nameservers: None,
            mx: None,
            caa: None,
            dnssec: None,
            spf: None,
            dmarc: None,
            mta_sts: None,
            tlsrpt: None,
            elapsed_ms: 0,
            mail_servers: None,
        })),
    }
}

/// The probes of one supplier: TLS (but not for plain-HTTP endpoints) and
/// HTTP per endpoint, DNS per domain.
fn jobs_of(supplier: &Supplier, http: &HttpProber) -> Vec<Job> {
    let mut jobs = Vec::new();
    for endpoint in &supplier.endpoints {
        if !http.is_plain_http(endpoint) {
            jobs.push(Job::Tls(endpoint.clone()));
        }
        jobs.push(Job::Http(endpoint.clone(), http.is_plain_http(endpoint)));
    }
    for domain in &supplier.domains {
        jobs.push(Job::Domain(domain.clone()));
    }
    jobs
}

/// How many probes [`jobs_of`] gives `supplier`, without building them.
fn job_count(supplier: &Supplier, http: &HttpProber) -> usize {
    let tls = supplier
        .endpoints
        .iter()
        .filter(|e| !http.is_plain_http(e))
        .count();
    tls + supplier.endpoints.len() + supplier.domains.len()
}

/// One supplier's finished probes as its observations, in the config's
/// order of its targets.
fn gather_one(supplier: &Supplier, mut done: Vec<(usize, Done)>) -> SupplierObservations {
    done.sort_by_key(|(order, _)| *order);
    let mut out = SupplierObservations {
        supplier: supplier.clone(),
        endpoints: Vec::new(),
        http: Vec::new(),
        domains: Vec::new(),
    };
    for (_, done) in done {
        match done {
            Done::Tls(o) => out.endpoints.push(*o),
            Done::Http(o) => out.http.push(*o),
            Done::Domain(o) => out.domains.push(*o),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::checks::{self, Policy};

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Progress for Recorder {
        fn start(&self, _total: usize) {}
        fn finished(&self, event: &ProbeEvent<'_>) {
            self.0.lock().unwrap().push(format!(
                "{} {} {}",
                event.supplier, event.target, event.outcome
            ));
        }
        fn done(&self) {}
    }

    /// A probe task that panics leaves an observation of failure, and the
    /// checks turn it into the kind's failure finding.
    #[tokio::test]
    async fn a_panicking_probe_is_a_failure_not_a_silence() {
        let endpoint: Endpoint = "portal.acme.test".parse().unwrap();
        let domain: Domain = "acme.test".parse().unwrap();
        let jobs = [
            Job::Tls(endpoint.clone()),
            Job::Http(endpoint.clone(), false),
            Job::Http("portal.acme.test:80".parse().unwrap(), true),
            Job::Domain(domain),
        ];
        let mut tasks: JoinSet<(usize, usize, Done)> = JoinSet::new();
        let mut pending = HashMap::new();
        for (order, job) in jobs.iter().enumerate() {
            let handle = tasks.spawn(async move { panic!("probe {order} broke") });
            pending.insert(
                handle.id(),
                Pending {
                    order,
                    index: 0,
                    job: job.clone(),
                    supplier: "acme".to_owned(),
                },
            );
        }
        let recorder = Recorder::default();
        let mut results = Vec::new();
        while let Some(joined) = tasks.join_next_with_id().await {
            results.extend(settle(joined, &mut pending, &recorder));
        }
        results.sort_by_key(|(order, _, _)| *order);
        assert_eq!(results.len(), 4);
        assert_eq!(recorder.0.lock().unwrap().len(), 4);
        assert!(
            recorder
                .0
                .lock()
                .unwrap()
                .iter()
                .all(|line| line.ends_with("internal error")),
            "{:?}",
            recorder.0.lock().unwrap()
        );

        let now = crate::clock::Clock::now(&crate::clock::SystemClock);
        let policy = Policy::default();
        let mut ids = Vec::new();
        for (_, _, done) in &results {
            let findings = match done {
                Done::Tls(o) => {
                    let Reach::Unreachable { stage, error, .. } = &o.reach else {
                        panic!("{o:?}")
                    };
                    assert_eq!(*stage, Stage::Handshake);
                    assert!(error.starts_with("internal error: "), "{error}");
                    assert!(error.contains("probe 0 broke"), "{error}");
                    checks::tls::check(o, now, &policy)
                }
                Done::Http(o) => {
                    let failure = o.page.failure.as_ref().unwrap();
                    assert_eq!(failure.kind, FailureKind::Internal);
                    assert!(o.refused().is_none());
                    checks::http::check(o, now, &policy)
                }
                Done::Domain(o) => {
                    assert!(!o.resolves());
                    checks::dns::check(o, now, &policy)
                }
            };
            ids.push(findings.iter().map(|f| f.check).collect::<Vec<_>>());
        }
        assert_eq!(
            ids,
            [
                vec![crate::registry::CheckId::TlsUnreachable],
                vec![crate::registry::CheckId::HttpUnreachable],
                vec![crate::registry::CheckId::HttpUnreachable],
                vec![crate::registry::CheckId::DnsResolutionFailed],
            ]
        );
    }
}
