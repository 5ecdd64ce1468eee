//! The domain probe: every DNS and e-mail-authentication fact the `dns.*`
//! and `email.*` checks judge, looked up through the configured resolver —
//! whether the name resolves; NS, MX, CAA (climbing to the registrable
//! domain), DS/DNSKEY presence; SPF evaluated with RFC 7208's lookup
//! limits; DMARC with the organisational-domain fallback; MTA-STS (record
//! and policy); TLS-RPT.
//!
//! Failures are data: a SERVFAIL, a timeout or a missing record is recorded
//! as such and the probe goes on; it never returns an error. Everything
//! read from DNS is capped (records per answer, bytes per TXT record).
//! Judging is left to `checks`. The parsers live in the submodules, which
//! must not depend on the network; only this file and `resolve` talk to it.

pub mod dmarc;
pub mod mtasts;
pub mod spf;
pub mod suffix;

use std::time::Instant;

use hickory_resolver::proto::rr::rdata::TXT;
use hickory_resolver::proto::rr::{RData, RecordType};
use serde::{Deserialize, Serialize};

pub use super::dnssec::{
    BogusProblem, BogusReason, SignatureWindow, Validation, Verdict, VerifiedRrset,
};
pub use dmarc::{DmarcPolicy, DmarcRecord};
pub use mtasts::{MtaStsFetch, MtaStsPolicy, StsMode};
pub use spf::{
    FinalAll, Qualifier, SpfEvaluation, SpfProblem, SpfResult, SpfSyntaxError, SyntaxAt,
};

use super::resolve::{DnsResolver, LookupFailure};
use crate::registry::Domain;

/// Records kept from one answer (NS, MX, CAA, DS …); the count is kept too.
pub const MAX_RECORDS: usize = 64;
/// TXT records of the wanted kind kept from one answer.
pub const MAX_TXT_RECORDS: usize = 8;
/// Bytes of one TXT record read; its strings may add up to 64 KiB.
pub const MAX_TXT_BYTES: usize = 4096;
/// Names tried when climbing towards the registrable domain.
const MAX_CLIMB: usize = 10;

/// What one lookup gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Answer<T> {
    /// An answer. For TXT lookups `records` holds only the records of the
    /// kind asked for (SPF, DMARC …) and `ignored` counts the others; it
    /// may be empty.
    Records {
        records: Vec<T>,
        /// Records of the kind, before capping.
        total: usize,
        /// Records of other kinds at the name (TXT lookups only).
        ignored: usize,
    },
    /// No such records: NXDOMAIN, or the name exists without them.
    None { reason: LookupFailure },
    /// No answer: SERVFAIL, REFUSED, a timeout … — unknown, not missing.
    Failed { failure: LookupFailure },
}

impl<T> Answer<T> {
    /// The records (capped), empty unless there was an answer.
    #[must_use]
    pub fn records(&self) -> &[T] {
        match self {
            Self::Records { records, .. } => records,
            Self::None { .. } | Self::Failed { .. } => &[],
        }
    }

    /// How many records of the kind there were, before capping.
    #[must_use]
    pub fn total(&self) -> usize {
        match self {
            Self::Records { total, .. } => *total,
            Self::None { .. } | Self::Failed { .. } => 0,
        }
    }

    /// Why there was no answer, when the lookup failed.
    #[must_use]
    pub fn error(&self) -> Option<&LookupFailure> {
        match self {
            Self::Failed { failure } => Some(failure),
            Self::Records { .. } | Self::None { .. } => None,
        }
    }

    /// The lookup was answered and there are no records of the kind.
    #[must_use]
    pub fn is_missing(&self) -> bool {
        match self {
            Self::Records { total, .. } => *total == 0,
            Self::None { .. } => true,
            Self::Failed { .. } => false,
        }
    }

    fn from_failure(failure: LookupFailure) -> Self {
        match failure {
            LookupFailure::NoRecords | LookupFailure::NxDomain => Self::None { reason: failure },
            other => Self::Failed { failure: other },
        }
    }
}

/// A lookup and the name it was made at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedAnswer<T> {
    pub name: String,
    pub answer: Answer<T>,
}

/// Names tried from the domain up towards its registrable domain, until
/// one had records or a lookup failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Climb<T> {
    pub steps: Vec<NamedAnswer<T>>,
}

impl<T> Climb<T> {
    /// The step that had records.
    #[must_use]
    pub fn found(&self) -> Option<&NamedAnswer<T>> {
        self.steps.iter().find(|s| !s.answer.records().is_empty())
    }

    /// The step whose lookup failed, which ended the climb.
    #[must_use]
    pub fn failed(&self) -> Option<&NamedAnswer<T>> {
        self.steps.iter().find(|s| s.answer.error().is_some())
    }
}

/// Whether the domain resolves at all (its SOA lookup: an answer, even an
/// empty one, means the name exists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Resolution {
    Resolves,
    /// NXDOMAIN, SERVFAIL, a timeout …: nothing else was looked up.
    Failed {
        failure: LookupFailure,
    },
}

/// A name server of the domain's zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nameserver {
    pub host: String,
    /// Its registrable domain (Public Suffix List), when it has one.
    pub registrable: Option<String>,
}

/// An MX record; the exchange `.` is the null MX of RFC 7505.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MxRecord {
    pub preference: u16,
    pub exchange: String,
}

/// A CAA record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaaRecord {
    pub critical: bool,
    pub tag: String,
    pub value: String,
}

/// One DNSSEC presence query: DS (served by the parent) or DNSKEY.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnssecQuery {
    pub name: String,
    /// `DS` or `DNSKEY`.
    pub record_type: String,
    /// A short description of each record found.
    pub answer: Answer<String>,
}

/// DS and DNSKEY lookups at the domain and at its zone's apex, and the
/// validation of the zone when its parent has a DS record for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnssecFacts {
    pub queries: Vec<DnssecQuery>,
    /// The zone apex, and how it was found.
    #[serde(default)]
    pub apex: Option<ZoneApex>,
    /// The chain of trust followed from the trust anchor, when the zone
    /// has a DS record at its parent.
    #[serde(default)]
    pub validation: Option<Validation>,
}

/// The domain's zone apex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneApex {
    pub name: String,
    /// `ns` (the NS climb found it) or `soa` (the SOA record at the name,
    /// or in the authority section of its negative answer, RFC 2308 §3).
    pub found_by: String,
}

/// The domain's SPF policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpfFacts {
    /// The `v=spf1` TXT records at the domain.
    pub records: NamedAnswer<String>,
    /// Why the one record is not valid SPF, if it is not (a permerror).
    pub syntax_error: Option<SpfSyntaxError>,
    /// The evaluation, when there is exactly one valid record.
    pub evaluation: Option<SpfEvaluation>,
}

/// The DMARC policy that applies to the domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedDmarc {
    /// Where the record was found: `_dmarc.<domain>` or, in its absence,
    /// `_dmarc.<organisational domain>`.
    pub name: String,
    pub organizational: bool,
    pub text: String,
    pub record: DmarcRecord,
}

/// DMARC policy discovery (RFC 7489 6.6.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmarcFacts {
    /// `_dmarc.<domain>`, then the organisational domain's when the first
    /// had no DMARC record; only `v=DMARC1` records are kept.
    pub lookups: Vec<NamedAnswer<String>>,
    pub applied: Option<AppliedDmarc>,
    /// Why records were found but none applies (several, or invalid).
    pub problem: Option<String>,
}

/// What came of fetching the MTA-STS policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PolicyFetch {
    /// Not fetched: there is no valid `_mta-sts` record, so senders would
    /// not look for the policy either.
    NotFetched,
    Unreachable {
        error: String,
    },
    Invalid {
        error: String,
    },
    Valid {
        policy: MtaStsPolicy,
    },
}

/// MTA-STS: the TXT record and the policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MtaStsFacts {
    /// `v=STSv1` records at `_mta-sts.<domain>`.
    pub txt: NamedAnswer<String>,
    /// The record's `id`, when there is exactly one valid record.
    pub id: Option<String>,
    /// Why the records found do not make a valid one.
    pub txt_problem: Option<String>,
    pub policy_url: String,
    pub policy: PolicyFetch,
}

/// TLS-RPT (RFC 8460): the `_smtp._tls` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsRptFacts {
    /// `v=TLSRPTv1` records at `_smtp._tls.<domain>`.
    pub txt: NamedAnswer<String>,
    /// Its `rua` URIs, when there is exactly one valid record.
    pub rua: Vec<String>,
    /// Why the records found do not make a valid one.
    pub problem: Option<String>,
}

/// Everything one probe of a domain saw. Fields other than `resolution`
/// are `None` when the domain did not resolve and they were not looked up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainObservation {
    /// The bare domain, the finding target.
    pub domain: String,
    pub resolution: Resolution,
    /// NS records, climbing to the zone apex.
    pub nameservers: Option<Climb<Nameserver>>,
    pub mx: Option<NamedAnswer<MxRecord>>,
    /// CAA records, climbing as RFC 8659 does (short of the public suffix).
    pub caa: Option<Climb<CaaRecord>>,
    pub dnssec: Option<DnssecFacts>,
    pub spf: Option<SpfFacts>,
    pub dmarc: Option<DmarcFacts>,
    pub mta_sts: Option<MtaStsFacts>,
    pub tlsrpt: Option<TlsRptFacts>,
    pub elapsed_ms: u64,
    /// The MX hosts over SMTP (`probe.smtp`); `None` when not probed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail_servers: Option<super::smtp::MailServers>,
}

impl DomainObservation {
    /// Whether the domain resolved (and the rest was looked up).
    #[must_use]
    pub fn resolves(&self) -> bool {
        self.resolution == Resolution::Resolves
    }
}

/// Probes one domain. Never fails: what went wrong is in the observation.
pub async fn probe_domain(
    resolver: &DnsResolver,
    domain: &Domain,
    mta_sts: &dyn MtaStsFetch,
) -> DomainObservation {
    let started = Instant::now();
    let name = domain.as_str();
    let mut obs = DomainObservation {
        domain: name.to_owned(),
        resolution: existence(resolver, name).await,
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
    };
    if obs.resolves() {
        let zone = async {
            let ns = nameservers(resolver, name).await;
            let apex = ns.found().map(|s| s.name.clone());
            let dnssec = dnssec(resolver, name, apex.as_deref()).await;
            (ns, dnssec)
        };
        let ((ns, dnssec), mx, caa, spf, dmarc, sts, tlsrpt) = tokio::join!(
            zone,
            mx(resolver, name),
            caa(resolver, name),
            spf_facts(resolver, name),
            dmarc_facts(resolver, name),
            mta_sts_facts(resolver, name, mta_sts),
            tlsrpt_facts(resolver, name),
        );
        obs.nameservers = Some(ns);
        obs.dnssec = Some(dnssec);
        obs.mx = Some(mx);
        obs.caa = Some(caa);
        obs.spf = Some(spf);
        obs.dmarc = Some(dmarc);
        obs.mta_sts = Some(sts);
        obs.tlsrpt = Some(tlsrpt);
    }
    obs.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    obs
}

/// The SOA query at the name: any answer, even "no SOA here", means the
/// name exists; NXDOMAIN, SERVFAIL and timeouts mean it does not resolve.
async fn existence(resolver: &DnsResolver, name: &str) -> Resolution {
    match resolver.records(name, RecordType::SOA).await {
        Ok(_) | Err(LookupFailure::NoRecords) => Resolution::Resolves,
        Err(failure) => Resolution::Failed { failure },
    }
}

/// Looks up `record_type` at `name`, keeping up to [`MAX_RECORDS`] records
/// that `convert` understands.
pub(crate) async fn lookup<T>(
    resolver: &DnsResolver,
    name: &str,
    record_type: RecordType,
    convert: impl Fn(&RData) -> Option<T>,
) -> NamedAnswer<T> {
    let answer = match resolver.records(name, record_type).await {
        Ok(rdata) => {
            let converted: Vec<T> = rdata.iter().filter_map(&convert).collect();
            let total = converted.len();
            let mut records = converted;
            records.truncate(MAX_RECORDS);
            Answer::Records {
                records,
                total,
                ignored: 0,
            }
        }
        Err(failure) => Answer::from_failure(failure),
    };
    NamedAnswer {
        name: name.to_owned(),
        answer,
    }
}

/// The character-strings of one TXT record joined without separators (RFC
/// 7208 3.3, and what DMARC, MTA-STS and TLS-RPT expect), decoded lossily.
/// At most [`MAX_TXT_BYTES`] + 1 bytes are read, so that a parser with that
/// limit sees that the record is too long.
#[must_use]
pub fn txt_text(txt: &TXT) -> String {
    let mut bytes: Vec<u8> = Vec::new();
    for string in &txt.txt_data {
        let room = (MAX_TXT_BYTES + 1).saturating_sub(bytes.len());
        if room == 0 {
            break;
        }
        bytes.extend(string.iter().take(room));
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The TXT records at `name`, all of them (capped at [`MAX_RECORDS`]).
async fn all_txt(resolver: &DnsResolver, name: &str) -> Result<Vec<String>, LookupFailure> {
    let rdata = resolver.records(name, RecordType::TXT).await?;
    Ok(rdata
        .iter()
        .filter_map(|r| match r {
            RData::TXT(txt) => Some(txt_text(txt)),
            _ => None,
        })
        .take(MAX_RECORDS)
        .collect())
}

/// The TXT records at `name` that `wanted` accepts: all are counted (one
/// DNS message bounds them), [`MAX_TXT_RECORDS`] are kept.
async fn txt(resolver: &DnsResolver, name: &str, wanted: fn(&str) -> bool) -> NamedAnswer<String> {
    let answer = match resolver.records(name, RecordType::TXT).await {
        Ok(rdata) => {
            let (mut records, mut total, mut ignored) = (Vec::new(), 0, 0);
            for text in rdata.iter().filter_map(|r| match r {
                RData::TXT(txt) => Some(txt_text(txt)),
                _ => None,
            }) {
                if wanted(&text) {
                    total += 1;
                    if records.len() < MAX_TXT_RECORDS {
                        records.push(text);
                    }
                } else {
                    ignored += 1;
                }
            }
            Answer::Records {
                records,
                total,
                ignored,
            }
        }
        Err(failure) => Answer::from_failure(failure),
    };
    NamedAnswer {
        name: name.to_owned(),
        answer,
    }
}

/// Looks up `record_type` at each of `names` in turn until records are
/// found or a lookup fails.
async fn climb<T>(
    resolver: &DnsResolver,
    names: Vec<String>,
    record_type: RecordType,
    convert: impl Fn(&RData) -> Option<T> + Copy,
) -> Climb<T> {
    let mut steps = Vec::new();
    for name in names {
        let step = lookup(resolver, &name, record_type, convert).await;
        let done = !step.answer.records().is_empty() || step.answer.error().is_some();
        steps.push(step);
        if done {
            break;
        }
    }
    Climb { steps }
}

fn host_name(name: &hickory_resolver::proto::rr::Name) -> String {
    if name.is_root() {
        return ".".to_owned();
    }
    name.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

/// NS records from the domain up to its registrable domain, and on to its
/// public suffix when that has several labels: a name under a suffix from
/// the list's private section (`site.github.io`) lives in the suffix's
/// zone. A one-label suffix is a TLD, whose servers are not the domain's.
pub(crate) async fn nameservers(resolver: &DnsResolver, domain: &str) -> Climb<Nameserver> {
    let mut names = suffix::names_below_suffix(domain, MAX_CLIMB);
    if let Some(public) = suffix::public_suffix(domain)
        && public.contains('.')
    {
        names.push(public);
    }
    climb(resolver, names, RecordType::NS, |r| match r {
        RData::NS(ns) => {
            let host = host_name(&ns.0);
            Some(Nameserver {
                registrable: suffix::registrable_domain(&host),
                host,
            })
        }
        _ => None,
    })
    .await
}

async fn mx(resolver: &DnsResolver, domain: &str) -> NamedAnswer<MxRecord> {
    lookup(resolver, domain, RecordType::MX, |r| match r {
        RData::MX(mx) => Some(MxRecord {
            preference: mx.preference,
            exchange: host_name(&mx.exchange),
        }),
        _ => None,
    })
    .await
}

async fn caa(resolver: &DnsResolver, domain: &str) -> Climb<CaaRecord> {
    climb(
        resolver,
        suffix::names_below_suffix(domain, MAX_CLIMB),
        RecordType::CAA,
        |r| match r {
            RData::CAA(caa) => Some(CaaRecord {
                critical: caa.issuer_critical,
                tag: caa.tag.chars().take(64).collect(),
                value: String::from_utf8_lossy(
                    caa.value.get(..caa.value.len().min(512)).unwrap_or(&[]),
                )
                .into_owned(),
            }),
            _ => None,
        },
    )
    .await
}

/// The zone apex of `name` from its SOA: the name itself when it holds
/// one, else the owner of the SOA in the negative answer's authority
/// section (RFC 2308 §3). `None` when the lookup fails.
async fn apex_by_soa(resolver: &DnsResolver, name: &str) -> Option<String> {
    let mut query =
        hickory_resolver::proto::rr::Name::from_ascii(name.trim_end_matches('.')).ok()?;
    query.set_fqdn(true);
    let answer = resolver.signed(&query, RecordType::SOA).await.ok()?;
    if answer.nxdomain {
        return None;
    }
    if answer.records.is_empty() {
        answer.authority_soa.map(|owner| host_name(&owner))
    } else {
        Some(host_name(&query))
    }
}

/// DS and DNSKEY at the domain, and at its zone apex when that differs;
/// the apex from the NS climb, or from the SOA when that found none (a
/// failed or empty NS lookup must not send the DS query to the wrong name
/// and report a signed zone as unsigned). When the apex has a DS record,
/// the zone is validated from the trust anchor.
pub(crate) async fn dnssec(
    resolver: &DnsResolver,
    domain: &str,
    ns_apex: Option<&str>,
) -> DnssecFacts {
    use hickory_resolver::proto::dnssec::rdata::DNSSECRData;
    let apex = match ns_apex {
        Some(apex) => Some(ZoneApex {
            name: apex.to_owned(),
            found_by: "ns".to_owned(),
        }),
        None => apex_by_soa(resolver, domain).await.map(|name| ZoneApex {
            name,
            found_by: "soa".to_owned(),
        }),
    };
    let mut names = vec![domain.to_owned()];
    if let Some(apex) = &apex
        && apex.name != domain
    {
        names.push(apex.name.clone());
    }
    let mut queries = Vec::new();
    for name in names {
        let (ds, dnskey) = tokio::join!(
            lookup(resolver, &name, RecordType::DS, |r| match r {
                RData::DNSSEC(DNSSECRData::DS(ds)) => Some(format!(
                    "key tag {}, algorithm {}, digest type {}",
                    ds.key_tag(),
                    ds.algorithm(),
                    u8::from(ds.digest_type())
                )),
                _ => None,
            }),
            lookup(resolver, &name, RecordType::DNSKEY, |r| match r {
                RData::DNSSEC(DNSSECRData::DNSKEY(key)) => Some(format!(
                    "flags {}, algorithm {}",
                    key.flags(),
                    hickory_resolver::proto::dnssec::PublicKey::algorithm(key.public_key())
                )),
                _ => None,
            }),
        );
        queries.push(DnssecQuery {
            name: ds.name,
            record_type: "DS".to_owned(),
            answer: ds.answer,
        });
        queries.push(DnssecQuery {
            name: dnskey.name,
            record_type: "DNSKEY".to_owned(),
            answer: dnskey.answer,
        });
    }
    let apex_name = apex.as_ref().map_or(domain, |a| a.name.as_str());
    let has_ds = queries
        .iter()
        .any(|q| q.record_type == "DS" && q.name == apex_name && !q.answer.records().is_empty());
    let mut validation = None;
    if has_ds {
        let parse = |n: &str| {
            let mut name =
                hickory_resolver::proto::rr::Name::from_ascii(n.trim_end_matches('.')).ok()?;
            name.set_fqdn(true);
            Some(name)
        };
        if let (Some(domain_name), Some(zone)) = (parse(domain), parse(apex_name)) {
            validation = Some(super::dnssec::validate(resolver, &domain_name, &zone).await);
        }
    }
    DnssecFacts {
        queries,
        apex,
        validation,
    }
}

impl spf::SpfDns for DnsResolver {
    async fn txt(&self, name: &str) -> Result<Vec<String>, LookupFailure> {
        all_txt(self, name).await
    }

    async fn count(&self, name: &str, kind: spf::CountedType) -> Result<usize, LookupFailure> {
        let record_type = match kind {
            spf::CountedType::A => RecordType::A,
        };
        self.records(name, record_type).await.map(|r| r.len())
    }

    async fn mx_exchanges(&self, name: &str) -> Result<Vec<String>, LookupFailure> {
        self.records(name, RecordType::MX).await.map(|records| {
            records
                .iter()
                .filter_map(|r| match r {
                    RData::MX(mx) => Some(host_name(&mx.exchange)),
                    _ => None,
                })
                .collect()
        })
    }
}

async fn spf_facts(resolver: &DnsResolver, domain: &str) -> SpfFacts {
    let records = txt(resolver, domain, spf::is_spf_record).await;
    let mut facts = SpfFacts {
        records,
        syntax_error: None,
        evaluation: None,
    };
    // Zero or several records: nothing to evaluate (several is a permerror
    // before any term is looked at).
    if let [text] = facts.records.answer.records()
        && facts.records.answer.total() == 1
    {
        match spf::parse_spf(text) {
            Ok(record) => {
                facts.evaluation = Some(spf::evaluate(resolver, domain, text, record).await);
            }
            Err(e) => facts.syntax_error = Some(e),
        }
    }
    facts
}

/// RFC 7489 6.6.3: the domain's own `_dmarc` record; when it has no DMARC
/// record, the organisational domain's; exactly one record must remain.
async fn dmarc_facts(resolver: &DnsResolver, domain: &str) -> DmarcFacts {
    let own = txt(
        resolver,
        &format!("_dmarc.{domain}"),
        dmarc::is_dmarc_record,
    )
    .await;
    let mut lookups = vec![own];
    let own_missing = lookups.first().is_some_and(|l| l.answer.is_missing());
    if own_missing
        && let Some(org) = suffix::registrable_domain(domain)
        && org != domain
    {
        lookups.push(txt(resolver, &format!("_dmarc.{org}"), dmarc::is_dmarc_record).await);
    }
    let mut facts = DmarcFacts {
        lookups,
        applied: None,
        problem: None,
    };
    let Some(last) = facts.lookups.last() else {
        return facts;
    };
    let organizational = facts.lookups.len() > 1;
    match (last.answer.records(), last.answer.total()) {
        (_, 0) => {}
        ([text], 1) => match dmarc::parse_dmarc(text) {
            Ok(record) => {
                facts.applied = Some(AppliedDmarc {
                    name: last.name.clone(),
                    organizational,
                    text: text.clone(),
                    record,
                });
            }
            Err(e) => facts.problem = Some(format!("the record at {} is ignored: {e}", last.name)),
        },
        (_, n) => {
            facts.problem = Some(format!(
                "{} publishes {n} DMARC records; receivers apply none of them",
                last.name
            ));
        }
    }
    facts
}

async fn mta_sts_facts(
    resolver: &DnsResolver,
    domain: &str,
    fetcher: &dyn MtaStsFetch,
) -> MtaStsFacts {
    let found = txt(
        resolver,
        &format!("_mta-sts.{domain}"),
        mtasts::is_sts_record,
    )
    .await;
    let mut facts = MtaStsFacts {
        txt: found,
        id: None,
        txt_problem: None,
        policy_url: mtasts::policy_url(domain),
        policy: PolicyFetch::NotFetched,
    };
    match (facts.txt.answer.records(), facts.txt.answer.total()) {
        (_, 0) => return facts,
        ([text], 1) => match mtasts::parse_sts_record(text) {
            Ok(id) => facts.id = Some(id),
            Err(e) => {
                facts.txt_problem = Some(e.to_string());
                return facts;
            }
        },
        (_, n) => {
            facts.txt_problem = Some(format!(
                "{n} v=STSv1 records; senders assume there is no policy"
            ));
            return facts;
        }
    }
    // The probe timeout bounds the policy fetch, whatever the fetcher's own
    // timeouts (the HTTP prober's fetch keeps within it by itself).
    let limit = resolver.probe_timeout();
    facts.policy = match tokio::time::timeout(limit, fetcher.fetch(&facts.policy_url)).await {
        Err(_) => PolicyFetch::Unreachable {
            error: format!("no answer within {} s", limit.as_secs_f32()),
        },
        Ok(Err(error)) => PolicyFetch::Unreachable {
            error: error.to_string().chars().take(512).collect(),
        },
        Ok(Ok(body)) => match mtasts::parse_policy(&body) {
            Ok(policy) => PolicyFetch::Valid { policy },
            Err(error) => PolicyFetch::Invalid {
                error: error.to_string(),
            },
        },
    };
    facts
}

/// Whether a TXT record is a TLS-RPT record: it starts with `v=TLSRPTv1`.
#[must_use]
pub fn is_tlsrpt_record(text: &str) -> bool {
    text.split(';')
        .next()
        .and_then(|f| f.split_once('='))
        .is_some_and(|(k, v)| k.trim() == "v" && v.trim() == "TLSRPTv1")
}

/// Why senders would not send TLS reports, from a `_smtp._tls` TXT record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsRptError {
    #[error("the record is longer than {MAX_TXT_BYTES} bytes")]
    TooLong,
    #[error("the record does not start with v=TLSRPTv1")]
    NotTlsRptV1,
    #[error("the record has no rua")]
    NoRua,
    #[error("the rua names no mailto: or https: URI")]
    NoUri,
}

/// Parses a TLS-RPT record (RFC 8460 3) and returns its `rua` URIs.
///
/// # Errors
/// Why senders would not report: not `v=TLSRPTv1` first, or no `rua`
/// with at least one `mailto:` or `https:` URI.
pub fn parse_tlsrpt(text: &str) -> Result<Vec<String>, TlsRptError> {
    if text.len() > MAX_TXT_BYTES {
        return Err(TlsRptError::TooLong);
    }
    if !is_tlsrpt_record(text) {
        return Err(TlsRptError::NotTlsRptV1);
    }
    let rua = text
        .split(';')
        .skip(1)
        .filter_map(|f| f.split_once('='))
        .find(|(k, _)| k.trim() == "rua")
        .map(|(_, v)| v);
    let Some(rua) = rua else {
        return Err(TlsRptError::NoRua);
    };
    let uris: Vec<String> = rua
        .split(',')
        .map(str::trim)
        .filter(|u| {
            let lower = u.to_ascii_lowercase();
            (lower.starts_with("mailto:") || lower.starts_with("https:"))
                && u.len() > 7
                && u.len() <= 512
        })
        .take(16)
        .map(str::to_owned)
        .collect();
    if uris.is_empty() {
        return Err(TlsRptError::NoUri);
    }
    Ok(uris)
}

async fn tlsrpt_facts(resolver: &DnsResolver, domain: &str) -> TlsRptFacts {
    let found = txt(resolver, &format!("_smtp._tls.{domain}"), is_tlsrpt_record).await;
    let mut facts = TlsRptFacts {
        txt: found,
        rua: Vec::new(),
        problem: None,
    };
    match (facts.txt.answer.records(), facts.txt.answer.total()) {
        (_, 0) => {}
        ([text], 1) => match parse_tlsrpt(text) {
            Ok(rua) => facts.rua = rua,
            Err(e) => facts.problem = Some(e.to_string()),
        },
        (_, n) => {
            facts.problem = Some(format!(
                "{n} v=TLSRPTv1 records; senders assume the domain does not use TLS-RPT"
            ));
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txt_strings_are_joined_without_separators_and_decoded_lossily() {
        let txt = TXT::from_bytes(vec![b"v=spf1 ip4:192.0.2.1 ", b"-all", b"\xff\xfe"]);
        assert_eq!(txt_text(&txt), "v=spf1 ip4:192.0.2.1 -all\u{fffd}\u{fffd}");
    }

    #[test]
    fn huge_txt_records_are_cut_just_past_the_limit() {
        let chunk = vec![b'a'; 255];
        let strings: Vec<&[u8]> = (0..257).map(|_| chunk.as_slice()).collect();
        let text = txt_text(&TXT::from_bytes(strings));
        assert_eq!(text.len(), MAX_TXT_BYTES + 1);
        assert!(spf::parse_spf(&format!("v=spf1 {text}")).is_err());
    }

    #[test]
    fn tlsrpt_records() {
        assert_eq!(
            parse_tlsrpt("v=TLSRPTv1; rua=mailto:tls@example.test,https://r.example.test/x")
                .unwrap(),
            ["mailto:tls@example.test", "https://r.example.test/x"]
        );
        assert_eq!(
            parse_tlsrpt("v=TLSRPTv1;").unwrap_err().to_string(),
            "the record has no rua"
        );
        assert!(parse_tlsrpt("v=TLSRPTv1; rua=ftp://x").is_err());
        assert!(!is_tlsrpt_record("v=TLSRPTv2; rua=mailto:a@b.test"));
        assert!(!is_tlsrpt_record("rua=mailto:a@b.test; v=TLSRPTv1"));
    }

    #[test]
    fn answers_tell_missing_from_unknown() {
        let none: Answer<String> = Answer::from_failure(LookupFailure::NxDomain);
        assert!(none.is_missing());
        assert!(none.error().is_none());
        let failed: Answer<String> = Answer::from_failure(LookupFailure::ServFail);
        assert!(!failed.is_missing());
        assert_eq!(failed.error(), Some(&LookupFailure::ServFail));
        let empty: Answer<String> = Answer::Records {
            records: Vec::new(),
            total: 0,
            ignored: 2,
        };
        assert!(empty.is_missing());
    }

    #[test]
    fn dnssec_facts_stored_before_validation_still_load() {
        let facts: DnssecFacts = serde_json::from_str(
            r#"{"queries":[{"name":"example.test","record_type":"DS","answer":{"outcome":"none","reason":{"kind":"no_records"}}}]}"#,
        )
        .unwrap();
        assert_eq!(facts.queries.len(), 1);
        assert!(facts.apex.is_none() && facts.validation.is_none());
    }

    #[test]
    fn observations_round_trip_through_json() {
        let obs = DomainObservation {
            domain: "example.test".to_owned(),
            resolution: Resolution::Failed {
                failure: LookupFailure::ServFail,
            },
            nameservers: None,
            mx: Some(NamedAnswer {
                name: "example.test".to_owned(),
                answer: Answer::Records {
                    records: vec![MxRecord {
                        preference: 0,
                        exchange: ".".to_owned(),
                    }],
                    total: 1,
                    ignored: 0,
                },
            }),
            caa: None,
            dnssec: None,
            spf: None,
            dmarc: None,
            mta_sts: None,
            tlsrpt: None,
            elapsed_ms: 3,
            mail_servers: None,
        };
        let json = serde_json::to_string(&obs).unwrap();
        let back: DomainObservation = serde_json::from_str(&json).unwrap();
        assert_eq!(back, obs);
    }
}
