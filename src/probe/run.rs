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
use super::tls::{TlsProber, TlsSetupError};
use super::{EndpointObservation, Reach, Stage};
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
    http: HttpProber,
    policy: PolicyFetcher,
}

impl Probers {
    async fn run(&self, job: &Job) -> Done {
        match job {
            Job::Tls(e) => Done::Tls(Box::new(self.tls.probe(&self.resolver, e).await)),
            Job::Http(e, _) => Done::Http(Box::new(self.http.probe(e).await)),
            Job::Domain(d) => Done::Domain(Box::new(
                probe_domain(&self.resolver, d, &self.policy).await,
            )),
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
        "resolved".to_owned()
    } else {
        format!("{:?}", o.resolution).to_lowercase()
    }
}

/// Probes every endpoint and domain of `suppliers`.
///
/// # Errors
/// [`RunError`] when the resolver, the TLS trust store or the HTTP client
/// cannot be set up.
pub async fn probe_suppliers(
    suppliers: &[Supplier],
    config: &ProbeConfig,
    progress: Arc<dyn Progress>,
) -> Result<Vec<SupplierObservations>, RunError> {
    super::install_crypto_provider();
    let resolver = DnsResolver::new(config)?;
    let http = HttpProber::new(config, resolver.clone())?;
    let probers = Arc::new(Probers {
        tls: TlsProber::new(config)?,
        policy: PolicyFetcher {
            http: http.clone(),
            port: config.mta_sts_port,
        },
        http,
        resolver,
    });
    let global = Arc::new(Semaphore::new(config.concurrency));
    let mut per_host: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let mut tasks = JoinSet::new();
    let mut pending: HashMap<tokio::task::Id, Pending> = HashMap::new();

    let jobs = jobs_for(suppliers, &probers.http);
    progress.start(jobs.len());
    // A random start per supplier within the spread window (none for `check`).
    let spread_ms = u64::try_from(config.spread.as_millis()).unwrap_or(u64::MAX);
    let offsets: Vec<std::time::Duration> = suppliers
        .iter()
        .map(|_| {
            if spread_ms == 0 {
                std::time::Duration::ZERO
            } else {
                std::time::Duration::from_millis(fastrand::u64(0..spread_ms))
            }
        })
        .collect();
    for (order, (index, job)) in jobs.into_iter().enumerate() {
        let host = match &job {
            Job::Tls(e) | Job::Http(e, _) => e.host.to_string(),
            Job::Domain(d) => d.to_string(),
        };
        let host_limit = per_host
            .entry(host)
            .or_insert_with(|| Arc::new(Semaphore::new(config.per_host_concurrency)))
            .clone();
        let (global, probers, progress) = (global.clone(), probers.clone(), progress.clone());
        let supplier_id = suppliers
            .get(index)
            .map(|s| s.id.to_string())
            .unwrap_or_default();
        let record = Pending {
            order,
            index,
            job: job.clone(),
            supplier: supplier_id.clone(),
        };
        let offset = offsets.get(index).copied().unwrap_or_default();
        let handle = tasks.spawn(async move {
            if !offset.is_zero() {
                tokio::time::sleep(offset).await;
            }
            // Semaphores are never closed here; were one, the probe would run unthrottled.
            let _host = host_limit.acquire_owned().await.ok();
            let _slot = global.acquire_owned().await.ok();
            let done = probers.run(&job).await;
            let (kind, target, outcome, elapsed_ms) = match &done {
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
                supplier: &supplier_id,
                kind,
                target,
                outcome,
                elapsed_ms,
            });
            (order, index, done)
        });
        pending.insert(handle.id(), record);
    }
    let results = collect(tasks, pending, progress.as_ref()).await;
    progress.done();
    Ok(gather(suppliers, results))
}

/// A spawned probe, kept by task id so that a task that panics still
/// yields an observation.
struct Pending {
    order: usize,
    index: usize,
    job: Job,
    supplier: String,
}

/// Waits for every probe task. A task that panicked (a bug) becomes an
/// observation of failure for its target — `tls.unreachable`,
/// `http.unreachable` or `dns.resolution_failed` follow — rather than
/// vanishing, which would make the target look probed and healthy.
async fn collect(
    mut tasks: JoinSet<(usize, usize, Done)>,
    mut pending: HashMap<tokio::task::Id, Pending>,
    progress: &dyn Progress,
) -> Vec<(usize, usize, Done)> {
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next_with_id().await {
        match joined {
            Ok((id, result)) => {
                pending.remove(&id);
                results.push(result);
            }
            Err(e) => {
                tracing::error!("a probe task failed: {e}");
                let Some(task) = pending.remove(&e.id()) else {
                    continue;
                };
                let done = internal_failure(&task.job, &format!("internal error: {e}"));
                let (kind, target) = match &task.job {
                    Job::Tls(endpoint) => (ProbeKind::Tls, endpoint.to_string()),
                    Job::Http(endpoint, _) => (ProbeKind::Http, endpoint.to_string()),
                    Job::Domain(domain) => (ProbeKind::Domain, domain.to_string()),
                };
                progress.finished(&ProbeEvent {
                    supplier: &task.supplier,
                    kind,
                    target: &target,
                    outcome: "internal error".to_owned(),
                    elapsed_ms: 0,
                });
                results.push((task.order, task.index, done));
            }
        }
    }
    results
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
        })),
    }
}

/// Every probe to run: TLS (but not for plain-HTTP endpoints) and HTTP per
/// endpoint, DNS per domain, each with the index of its supplier.
fn jobs_for(suppliers: &[Supplier], http: &HttpProber) -> Vec<(usize, Job)> {
    let mut jobs = Vec::new();
    for (index, supplier) in suppliers.iter().enumerate() {
        for endpoint in &supplier.endpoints {
            if !http.is_plain_http(endpoint) {
                jobs.push((index, Job::Tls(endpoint.clone())));
            }
            jobs.push((
                index,
                Job::Http(endpoint.clone(), http.is_plain_http(endpoint)),
            ));
        }
        for domain in &supplier.domains {
            jobs.push((index, Job::Domain(domain.clone())));
        }
    }
    jobs
}

/// Sorts finished probes back to their suppliers, in the config's order.
fn gather(
    suppliers: &[Supplier],
    mut results: Vec<(usize, usize, Done)>,
) -> Vec<SupplierObservations> {
    results.sort_by_key(|(order, _, _)| *order);
    let mut out: Vec<SupplierObservations> = suppliers
        .iter()
        .map(|s| SupplierObservations {
            supplier: s.clone(),
            endpoints: Vec::new(),
            http: Vec::new(),
            domains: Vec::new(),
        })
        .collect();
    for (_, index, done) in results {
        let Some(slot) = out.get_mut(index) else {
            continue;
        };
        match done {
            Done::Tls(o) => slot.endpoints.push(*o),
            Done::Http(o) => slot.http.push(*o),
            Done::Domain(o) => slot.domains.push(*o),
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
        let mut results = collect(tasks, pending, &recorder).await;
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
