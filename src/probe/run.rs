//! Runs probes over many suppliers at once: a global limit
//! (`probe.concurrency`), a per-host limit, and a timeout on every network
//! step, so one stalling endpoint never holds the run back beyond it.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::EndpointObservation;
use super::resolve::{DnsResolver, ResolverError};
use super::tls::{TlsProber, TlsSetupError};
use crate::config::ProbeConfig;
use crate::registry::{Endpoint, Supplier};

/// Why a run could not start at all (per-target failures are observations).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Resolver(#[from] ResolverError),
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
}

/// Told about each probe as it finishes (a progress bar, log lines).
pub trait Progress: Send + Sync {
    fn start(&self, total: usize);
    fn finished(&self, supplier: &str, observation: &EndpointObservation);
    fn done(&self);
}

/// A progress sink that ignores everything.
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _total: usize) {}
    fn finished(&self, _supplier: &str, _observation: &EndpointObservation) {}
    fn done(&self) {}
}

/// All observations of one supplier.
#[derive(Debug, Clone)]
pub struct SupplierObservations {
    pub supplier: Supplier,
    pub endpoints: Vec<EndpointObservation>,
}

/// Probes every endpoint of `suppliers`.
///
/// # Errors
/// [`RunError`] when the resolver or the TLS trust store cannot be set up.
pub async fn probe_suppliers(
    suppliers: &[Supplier],
    config: &ProbeConfig,
    progress: Arc<dyn Progress>,
) -> Result<Vec<SupplierObservations>, RunError> {
    super::install_crypto_provider();
    let resolver = DnsResolver::new(config)?;
    let prober = TlsProber::new(config)?;
    let global = Arc::new(Semaphore::new(config.concurrency));
    let mut per_host: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let mut tasks = JoinSet::new();
    let total = suppliers.iter().map(|s| s.endpoints.len()).sum();
    progress.start(total);
    for (s_index, supplier) in suppliers.iter().enumerate() {
        for (e_index, endpoint) in supplier.endpoints.iter().enumerate() {
            let host_limit = per_host
                .entry(endpoint.host.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(config.per_host_concurrency)))
                .clone();
            let (global, resolver, prober, progress) = (
                global.clone(),
                resolver.clone(),
                prober.clone(),
                progress.clone(),
            );
            let endpoint: Endpoint = endpoint.clone();
            let supplier_id = supplier.id.to_string();
            tasks.spawn(async move {
                // Closed semaphores never happen here; proceed unthrottled if one did.
                let _host = host_limit.acquire_owned().await.ok();
                let _slot = global.acquire_owned().await.ok();
                let observation = prober.probe(&resolver, &endpoint).await;
                progress.finished(&supplier_id, &observation);
                (s_index, e_index, observation)
            });
        }
    }
    let mut results: Vec<(usize, usize, EndpointObservation)> = Vec::with_capacity(total);
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(result) => results.push(result),
            Err(e) => tracing::error!("a probe task failed: {e}"),
        }
    }
    progress.done();
    results.sort_by_key(|(s, e, _)| (*s, *e));
    let mut out: Vec<SupplierObservations> = suppliers
        .iter()
        .map(|s| SupplierObservations {
            supplier: s.clone(),
            endpoints: Vec::new(),
        })
        .collect();
    for (s_index, _, observation) in results {
        if let Some(slot) = out.get_mut(s_index) {
            slot.endpoints.push(observation);
        }
    }
    Ok(out)
}
