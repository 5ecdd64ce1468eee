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

use super::dns::{DomainObservation, MtaStsFetch, probe_domain};
use super::http::{HttpObservation, HttpProber, HttpSetupError};
use super::resolve::{DnsResolver, ResolverError};
use super::tls::{TlsProber, TlsSetupError};
use super::{EndpointObservation, Reach};
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
    ) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>> {
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

enum Job {
    Tls(Endpoint),
    Http(Endpoint),
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
            Job::Http(e) => Done::Http(Box::new(self.http.probe(e).await)),
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

    let jobs = jobs_for(suppliers, &probers.http);
    progress.start(jobs.len());
    for (order, (index, job)) in jobs.into_iter().enumerate() {
        let host = match &job {
            Job::Tls(e) | Job::Http(e) => e.host.to_string(),
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
        tasks.spawn(async move {
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
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(result) => results.push(result),
            Err(e) => tracing::error!("a probe task failed: {e}"),
        }
    }
    progress.done();
    Ok(gather(suppliers, results))
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
            jobs.push((index, Job::Http(endpoint.clone())));
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
