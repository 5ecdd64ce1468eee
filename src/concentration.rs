//! Concentration from observation: which providers many suppliers depend
//! on, read from what the probes saw rather than from what was declared —
//! DNS providers (the registrable domain of the name servers), mail
//! providers (of the MX hosts), certificate authorities (the organisation
//! of the leaf's issuer), hosting networks (the AS of the addresses, with
//! an IP-to-ASN table) — and the subcontractors the Register of
//! Information declares.
//!
//! Suppliers are counted, not targets: a supplier with five endpoints under
//! one CA counts once. Each supplier weighs by its criticality
//! ([`weight`]: critical 3, important 2, standard 1), and a provider's
//! score is the sum over the suppliers that depend on it.
//!
//! A provider more than `[report] concentration_alert` critical or
//! important suppliers depend on becomes a `portfolio.concentration`
//! finding (info) of each of them, target `KIND:KEY` ([`findings`]).
//!
//! Pure: observations (as the store keeps them), suppliers, the register
//! and an optional [`AsnTable`] in, a [`Concentration`] out. Must not
//! depend on the network or on SQL.

pub mod asn;

use crate::registry::CheckId;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::Serialize;
use serde_json::Value;

pub use asn::{AsnError, AsnTable, Network};

use crate::checks::{Finding, Scope, Severity};
use crate::probe::dns::suffix::registrable_domain;
use crate::register::Register;
use crate::registry::Criticality;
use crate::store::ObservationBlob;

/// The check id of a concentration finding.
pub const CHECK: CheckId = CheckId::PortfolioConcentration;
/// Its family: the portfolio as a whole, judged after every probe run.
pub const FAMILY: &str = crate::registry::Family::Portfolio.as_str();
/// `[report] concentration_alert` when not set.
pub const DEFAULT_ALERT: u32 = 3;

/// What a supplier weighs: critical 3, important 2, standard 1.
#[must_use]
pub fn weight(criticality: Criticality) -> u32 {
    match criticality {
        Criticality::Critical => 3,
        Criticality::Important => 2,
        Criticality::Standard => 1,
    }
}

/// What a provider provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Dns,
    Mail,
    Ca,
    Asn,
    Subcontractor,
}

impl ProviderKind {
    pub const NAMES: [&'static str; 5] = ["dns", "mail", "ca", "asn", "subcontractor"];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dns => "dns",
            Self::Mail => "mail",
            Self::Ca => "ca",
            Self::Asn => "asn",
            Self::Subcontractor => "subcontractor",
        }
    }

    /// How people call it, in summaries.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Dns => "DNS provider",
            Self::Mail => "mail provider",
            Self::Ca => "certificate authority",
            Self::Asn => "hosting network",
            Self::Subcontractor => "subcontractor",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that names no [`ProviderKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a provider kind; use one of {names}", names = ProviderKind::NAMES.join(", "))]
pub struct UnknownKind(pub String);

impl FromStr for ProviderKind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, UnknownKind> {
        match s.to_ascii_lowercase().as_str() {
            "dns" => Ok(Self::Dns),
            "mail" => Ok(Self::Mail),
            "ca" => Ok(Self::Ca),
            "asn" => Ok(Self::Asn),
            "subcontractor" => Ok(Self::Subcontractor),
            _ => Err(UnknownKind(s.to_owned())),
        }
    }
}

/// A supplier as concentration needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupplierRef {
    pub id: String,
    pub name: String,
    pub criticality: Criticality,
    /// Its endpoints (`host:port`) and domains now: the store keeps the
    /// last observation of a target removed from the registry as current,
    /// and that one must not count.
    pub targets: BTreeSet<String>,
}

impl From<&crate::registry::Supplier> for SupplierRef {
    fn from(s: &crate::registry::Supplier) -> Self {
        Self {
            id: s.id.to_string(),
            name: s.name.clone(),
            criticality: s.criticality,
            targets: s
                .endpoints
                .iter()
                .map(ToString::to_string)
                .chain(s.domains.iter().map(ToString::to_string))
                .collect(),
        }
    }
}

impl From<&crate::store::StoredSupplier> for SupplierRef {
    fn from(s: &crate::store::StoredSupplier) -> Self {
        Self {
            id: s.id.clone(),
            name: s.name.clone(),
            criticality: s.criticality,
            targets: s.endpoints.iter().chain(&s.domains).cloned().collect(),
        }
    }
}

/// One supplier that depends on a provider, and what showed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependent {
    pub id: String,
    pub name: String,
    pub criticality: Criticality,
    pub weight: u32,
    /// The evidence: name servers, MX hosts, endpoints, addresses, or the
    /// register's services.
    pub via: Vec<String>,
}

/// A provider and the suppliers that depend on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provider {
    pub kind: ProviderKind,
    /// Registrable domain, CA organisation, `AS64500`, or LEI/EUID.
    pub key: String,
    /// For people: the key, the AS description, the subcontractor's name.
    pub name: String,
    /// The sum of the dependents' weights.
    pub score: u32,
    /// How many suppliers depend on it.
    pub count: usize,
    /// How many of them are critical or important.
    pub critical_or_important: usize,
    /// By id.
    pub suppliers: Vec<Dependent>,
}

impl Provider {
    /// The finding target: `KIND:KEY`.
    #[must_use]
    pub fn target(&self) -> String {
        format!("{}:{}", self.kind, self.key)
    }
}

/// Whether hosting networks could be judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AsnData {
    /// No `[report] asn_table`: the section is empty for want of data.
    Absent,
    Loaded {
        ranges: usize,
    },
}

/// The kinds of observation concentration reads.
pub const CONCENTRATION_KINDS: [&str; 2] = ["domain", "tls"];

/// [`concentration`] of the suppliers in the registry (not exited), from
/// the observations `store` holds now.
///
/// # Errors
/// [`crate::store::StoreError`] on database failure or an unreadable row.
pub async fn from_store(
    store: &crate::store::Store,
    register: &Register,
    asn: Option<&AsnTable>,
) -> Result<Concentration, crate::store::StoreError> {
    let suppliers = store.suppliers().await?;
    of_suppliers(store, &suppliers, register, asn).await
}

/// [`from_store`] for the stored `suppliers` already read.
///
/// # Errors
/// [`crate::store::StoreError`] on database failure or an unreadable row.
pub async fn of_suppliers(
    store: &crate::store::Store,
    suppliers: &[crate::store::StoredSupplier],
    register: &Register,
    asn: Option<&AsnTable>,
) -> Result<Concentration, crate::store::StoreError> {
    let suppliers: Vec<SupplierRef> = suppliers
        .iter()
        .filter(|s| s.in_registry && s.status != crate::registry::SupplierStatus::Exited)
        .map(SupplierRef::from)
        .collect();
    let mut judging = Concentrator::new(&suppliers, asn);
    store
        .each_current_observation(&CONCENTRATION_KINDS, |o| judging.add(&o))
        .await?;
    Ok(judging.finish(register))
}

/// Every provider, worst first (score, then count).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Concentration {
    /// Suppliers considered.
    pub suppliers: usize,
    /// Of them, those with at least one observation.
    pub observed: usize,
    pub asn: AsnData,
    pub providers: Vec<Provider>,
}

impl Concentration {
    /// Keeps the providers of `kind` (all when `None`) that at least `min`
    /// suppliers depend on.
    pub fn retain(&mut self, kind: Option<ProviderKind>, min: usize) {
        self.providers
            .retain(|p| kind.is_none_or(|k| p.kind == k) && p.count >= min);
    }
}

/// (kind, key) → (name, supplier id → evidence).
type Groups = BTreeMap<(ProviderKind, String), (String, BTreeMap<String, BTreeSet<String>>)>;

fn add(groups: &mut Groups, kind: ProviderKind, key: &str, name: &str, supplier: &str, via: &str) {
    let entry = groups
        .entry((kind, key.to_owned()))
        .or_insert_with(|| (name.to_owned(), BTreeMap::new()));
    entry
        .1
        .entry(supplier.to_owned())
        .or_default()
        .insert(via.to_owned());
}

/// Groups what `observations` showed of `suppliers` (observations of any
/// other supplier, or of a target a supplier no longer has, are ignored), with the subcontractors `register`
/// declares for them and, given a table, the hosting networks.
#[must_use]
pub fn concentration(
    observations: &[ObservationBlob],
    suppliers: &[SupplierRef],
    register: &Register,
    asn: Option<&AsnTable>,
) -> Concentration {
    let mut judging = Concentrator::new(suppliers, asn);
    for o in observations {
        judging.add(o);
    }
    judging.finish(register)
}

/// [`concentration`] fed one observation at a time, so that the
/// observations of a large registry need not all be held at once.
pub struct Concentrator<'a> {
    suppliers: &'a [SupplierRef],
    known: BTreeMap<&'a str, &'a SupplierRef>,
    asn: Option<&'a AsnTable>,
    groups: Groups,
    observed: BTreeSet<String>,
}

impl<'a> Concentrator<'a> {
    #[must_use]
    pub fn new(suppliers: &'a [SupplierRef], asn: Option<&'a AsnTable>) -> Self {
        Self {
            suppliers,
            known: suppliers.iter().map(|s| (s.id.as_str(), s)).collect(),
            asn,
            groups: Groups::new(),
            observed: BTreeSet::new(),
        }
    }

    /// Takes in one observation (of any supplier or kind: the others are
    /// ignored).
    pub fn add(&mut self, o: &ObservationBlob) {
        let current = self
            .known
            .get(o.supplier.as_str())
            .is_some_and(|s| s.targets.contains(&o.target));
        if !current {
            return;
        }
        if !self.observed.contains(&o.supplier) {
            self.observed.insert(o.supplier.clone());
        }
        match o.kind.as_str() {
            "domain" => domain(&mut self.groups, &o.supplier, &o.facts),
            "tls" => endpoint(&mut self.groups, &o.supplier, &o.target, &o.facts, self.asn),
            _ => {}
        }
    }

    /// The providers, with the subcontractors `register` declares.
    #[must_use]
    pub fn finish(self, register: &Register) -> Concentration {
        let Self {
            suppliers,
            known,
            asn,
            mut groups,
            observed,
        } = self;
        for s in suppliers {
            subcontractors(&mut groups, &s.id, register);
        }

        let mut providers: Vec<Provider> = groups
            .into_iter()
            .map(|((kind, key), (name, by_supplier))| {
                let dependents: Vec<Dependent> = by_supplier
                    .into_iter()
                    .filter_map(|(id, via)| {
                        let s = known.get(id.as_str())?;
                        Some(Dependent {
                            id,
                            name: s.name.clone(),
                            criticality: s.criticality,
                            weight: weight(s.criticality),
                            via: via.into_iter().collect(),
                        })
                    })
                    .collect();
                Provider {
                    kind,
                    key,
                    name,
                    score: dependents.iter().map(|d| d.weight).sum(),
                    count: dependents.len(),
                    critical_or_important: dependents
                        .iter()
                        .filter(|d| d.criticality != Criticality::Standard)
                        .count(),
                    suppliers: dependents,
                }
            })
            .collect();
        providers.sort_by(|a, b| {
            b.score
                .cmp(&a.score)
                .then_with(|| b.count.cmp(&a.count))
                .then_with(|| a.kind.cmp(&b.kind))
                .then_with(|| a.key.cmp(&b.key))
        });
        Concentration {
            suppliers: suppliers.len(),
            observed: observed.len(),
            asn: asn.map_or(AsnData::Absent, |t| AsnData::Loaded { ranges: t.len() }),
            providers,
        }
    }
}

/// The records of a lookup answer (`{"outcome": "records", "records": […]}`).
fn records(answer: Option<&Value>) -> &[Value] {
    answer
        .filter(|a| a.get("outcome").and_then(Value::as_str) == Some("records"))
        .and_then(|a| a.get("records"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Name servers and MX hosts of a `DomainObservation`.
fn domain(groups: &mut Groups, supplier: &str, facts: &Value) {
    let steps = facts
        .pointer("/nameservers/steps")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    // The step of the climb that had records: the zone's name servers.
    if let Some(found) = steps
        .iter()
        .map(|s| records(s.get("answer")))
        .find(|r| !r.is_empty())
    {
        for ns in found {
            let Some(host) = ns.get("host").and_then(Value::as_str) else {
                continue;
            };
            let registrable = ns
                .get("registrable")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| registrable_domain(host));
            if let Some(key) = registrable {
                add(
                    groups,
                    ProviderKind::Dns,
                    &key,
                    &key,
                    supplier,
                    host.trim_end_matches('.'),
                );
            }
        }
    }
    for mx in records(facts.pointer("/mx/answer")) {
        let Some(exchange) = mx.get("exchange").and_then(Value::as_str) else {
            continue;
        };
        // The null MX (`.`) says the domain takes no mail.
        if let Some(key) = registrable_domain(exchange) {
            add(
                groups,
                ProviderKind::Mail,
                &key,
                &key,
                supplier,
                exchange.trim_end_matches('.'),
            );
        }
    }
}

/// The CA and the hosting networks of an `EndpointObservation`.
fn endpoint(
    groups: &mut Groups,
    supplier: &str,
    target: &str,
    facts: &Value,
    asn: Option<&AsnTable>,
) {
    if let Some(leaf) = facts.pointer("/tls/chain/0") {
        // A self-issued leaf names no authority but itself.
        let self_issued = leaf.get("self_issued").and_then(Value::as_bool) == Some(true);
        if let (false, Some(issuer)) = (self_issued, leaf.get("issuer").and_then(Value::as_str))
            && let Some(ca) = issuer_organisation(issuer)
        {
            add(groups, ProviderKind::Ca, &ca, &ca, supplier, target);
        }
    }
    let Some(table) = asn else {
        return;
    };
    let addresses = facts
        .get("addresses")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for ip in addresses
        .iter()
        .filter_map(Value::as_str)
        .filter_map(|a| a.parse::<IpAddr>().ok())
    {
        if let Some(network) = table.lookup(ip) {
            let key = format!("AS{}", network.asn);
            let name = if network.description.is_empty() {
                key.clone()
            } else {
                network.description.clone()
            };
            add(
                groups,
                ProviderKind::Asn,
                &key,
                &name,
                supplier,
                &format!("{target} ({ip})"),
            );
        }
    }
}

/// The subcontractors the register declares for `supplier`'s services.
fn subcontractors(groups: &mut Groups, supplier: &str, register: &Register) {
    let Some(contract) = register
        .providers
        .get(supplier)
        .and_then(|p| p.contract.as_ref())
    else {
        return;
    };
    for service in &contract.services {
        for sub in &service.subcontractors {
            let via = format!("{} (rank {})", service.kind, sub.rank);
            add(
                groups,
                ProviderKind::Subcontractor,
                &sub.party.id.code,
                &sub.party.name,
                supplier,
                &via,
            );
        }
    }
}

/// The attributes of a distinguished name as x509-parser writes it
/// (`C=DE, O=Acme, Inc., CN=Acme CA`): a part that does not start with
/// `KEY=` continues the value before it.
fn attributes(dn: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for part in dn.split(", ").flat_map(|p| p.split(" + ")) {
        let attribute = part.split_once('=').filter(|(key, _)| {
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
        });
        match (attribute, out.last_mut()) {
            (Some((key, value)), _) => out.push((key.to_owned(), value.to_owned())),
            (None, Some((_, value))) => {
                value.push_str(", ");
                value.push_str(part);
            }
            (None, None) => {}
        }
    }
    out
}

/// The issuing CA's organisation (`O=`), else its common name (`CN=`).
#[must_use]
pub fn issuer_organisation(issuer: &str) -> Option<String> {
    let attrs = attributes(issuer);
    let find = |wanted: &str| {
        attrs
            .iter()
            .find(|(k, v)| k.eq_ignore_ascii_case(wanted) && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_owned())
    };
    find("O").or_else(|| find("CN"))
}

/// Dependents a `portfolio.concentration` finding names in its evidence.
pub const EVIDENCE_SUPPLIERS: usize = 25;

/// The `portfolio.concentration` findings: for every provider that more
/// than `alert` critical or important suppliers depend on, one finding
/// (info) for each supplier that depends on it, target `KIND:KEY`. The
/// evidence names the first [`EVIDENCE_SUPPLIERS`] dependents (worst
/// first) and counts the others (`more_suppliers`).
#[must_use]
pub fn findings(concentration: &Concentration, alert: u32) -> Vec<(String, Finding)> {
    let alert = usize::try_from(alert).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    for p in concentration
        .providers
        .iter()
        .filter(|p| p.critical_or_important > alert)
    {
        // The first few dependents by name: a provider thousands of
        // suppliers depend on must not repeat all of them in each one's
        // finding.
        let ids: Vec<&str> = p
            .suppliers
            .iter()
            .take(EVIDENCE_SUPPLIERS)
            .map(|d| d.id.as_str())
            .collect();
        let more = p.suppliers.len().saturating_sub(ids.len());
        for d in &p.suppliers {
            out.push((
                d.id.clone(),
                Finding {
                    check: CHECK,
                    severity: Severity::Info,
                    target: p.target(),
                    summary: format!(
                        "{} of your suppliers ({} critical or important, score {}) depend on the {} {}",
                        p.count,
                        p.critical_or_important,
                        p.score,
                        p.kind.label(),
                        p.name
                    ),
                    evidence: serde_json::json!({
                        "kind": p.kind,
                        "provider": p.key,
                        "name": p.name,
                        "score": p.score,
                        "critical_or_important": p.critical_or_important,
                        "alert_above": alert,
                        "suppliers": ids,
                        "more_suppliers": more,
                        "via": d.via,
                    }),
                },
            ));
        }
    }
    out
}

/// The scopes of a concentration judgement: the portfolio family of every
/// supplier named; complete (a finding that no longer fires resolves)
/// unless part of the judgement could not be made.
#[must_use]
pub fn scopes<'a>(suppliers: impl IntoIterator<Item = &'a str>, complete: bool) -> Vec<Scope> {
    suppliers
        .into_iter()
        .map(|s| Scope {
            supplier: s.to_owned(),
            target: Scope::ANY_TARGET.to_owned(),
            family: FAMILY,
            complete,
        })
        .collect()
}

#[cfg(test)]
mod tests;
