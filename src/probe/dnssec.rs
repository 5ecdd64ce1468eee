//! DNSSEC validation of a domain's zone (RFC 4033, RFC 4035 §5): from the
//! trust anchor down the chain of DS and DNSKEY records to the zone apex,
//! then the zone's own SOA, NS, and the domain's MX and A records.
//!
//! Only this chain is validated, with queries sent by hand with the DO and
//! CD bits ([`DnsResolver::signed`]); every other lookup of the probe stays
//! unvalidated, so an unsigned zone answers as before. Signatures are
//! verified with hickory-proto's DNSSEC code (ring); their validity dates
//! are recorded, not judged: the `dns` check judges them against `now`
//! (RFC 4035 §5.3.1). Every step is bounded: the chain is at most
//! [`MAX_DEPTH`] zones deep, each query has the resolver's timeout.

use std::collections::HashMap;

use hickory_resolver::proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS, RRSIG};
use hickory_resolver::proto::dnssec::{
    Algorithm, DigestType, PublicKey as _, PublicKeyBuf, TrustAnchors, Verifier as _,
};
use hickory_resolver::proto::rr::{DNSClass, Name, RData, Record, RecordType};
use serde::{Deserialize, Serialize};

use super::resolve::{DnsResolver, LookupFailure, SignedAnswer};
use crate::config::{AnchorRecord, TrustAnchor};

/// Zones followed from the trust anchor down to the domain's zone.
pub const MAX_DEPTH: usize = 16;

/// What validation found, with the chain it followed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validation {
    /// The trust anchor's zone (`.` for the IANA root).
    pub anchor: String,
    /// The zone validated (the domain's apex).
    pub zone: String,
    pub verdict: Verdict,
    /// Every record set whose signature verified, with the validity windows of
    /// the signatures that verified.
    pub verified: Vec<VerifiedRrset>,
    /// What each step established, in order, for the evidence.
    pub chain: Vec<String>,
}

/// The outcome, as RFC 4033 §5 names the states (the dates aside).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Verdict {
    /// Every signature on the chain and over the zone's records verified
    /// ("secure", once the check has found their dates current).
    Verified,
    /// The chain ends at a delegation without a DS record (or with DS
    /// records of algorithms or digests not implemented, RFC 4035 §5.2):
    /// the zone is unsigned.
    Insecure { zone: String, why: String },
    /// Validation failed: the record and why.
    Bogus { problem: BogusProblem },
    /// Nothing can be said: a lookup failed, or the resolver does not pass
    /// DNSSEC records on.
    Indeterminate { detail: String },
}

/// Why a signed zone does not validate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BogusProblem {
    pub reason: BogusReason,
    /// Owner name and type of the record set that failed.
    pub name: String,
    pub record_type: String,
    pub detail: String,
}

/// The failures of RFC 4035 §5 the probe tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BogusReason {
    /// An record set of a signed zone without an RRSIG (RFC 4035 §2.2, §5.3).
    MissingRrsig,
    /// An RRSIG whose signature does not verify over the record set with the
    /// key it names (RFC 4035 §5.3.3).
    SignatureInvalid,
    /// An RRSIG that names no key of the zone's DNSKEY set (RFC 4035 §5.3.1:
    /// key tag, algorithm and signer must match a DNSKEY).
    NoMatchingKey,
    /// The parent's DS records match none of the zone's DNSKEYs (RFC 4035 §5.2).
    DsMatchesNoDnskey,
    /// The parent has a DS record, the zone has no DNSKEY (RFC 4035 §5.2).
    NoDnskey,
    /// No DNSKEY of the anchor's zone matches the trust anchor (RFC 4035
    /// §5). Recorded as indeterminate, never raised: it is the monitor's
    /// configuration or path that is wrong, not a supplier's zone.
    AnchorMismatch,
    /// An RRSIG signed by a zone that is not the record set's zone or parent
    /// (RFC 4035 §5.3.1: the signer must be the zone containing the record set).
    WrongSigner,
    /// A signature's validity period has ended (RFC 4035 §5.3.1); judged
    /// by the check from the dates the probe records.
    SignatureExpired,
    /// A signature's validity period has not begun (RFC 4035 §5.3.1).
    SignatureNotYetValid,
}

impl BogusReason {
    /// The clause of RFC 4035 the failure breaks.
    #[must_use]
    pub fn clause(self) -> &'static str {
        match self {
            Self::MissingRrsig => "RFC 4035 §2.2 and §5.3",
            Self::SignatureInvalid => "RFC 4035 §5.3.3",
            Self::NoMatchingKey
            | Self::WrongSigner
            | Self::SignatureExpired
            | Self::SignatureNotYetValid => "RFC 4035 §5.3.1",
            Self::DsMatchesNoDnskey | Self::NoDnskey => "RFC 4035 §5.2",
            Self::AnchorMismatch => "RFC 4035 §5 and RFC 4033 §5",
        }
    }

    /// In plain words.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::MissingRrsig => "an RRset of the signed zone has no RRSIG",
            Self::SignatureInvalid => "a signature does not verify",
            Self::NoMatchingKey => "a signature names a key the zone does not publish",
            Self::DsMatchesNoDnskey => "the DS record at the parent matches no DNSKEY of the zone",
            Self::NoDnskey => "the parent has a DS record but the zone publishes no DNSKEY",
            Self::AnchorMismatch => "no DNSKEY matches the trust anchor",
            Self::WrongSigner => "a signature is made by a zone that does not hold the records",
            Self::SignatureExpired => "a signature has expired",
            Self::SignatureNotYetValid => "a signature is not yet valid",
        }
    }
}

/// An record set whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedRrset {
    pub name: String,
    pub record_type: String,
    /// The signatures that verified (one is enough, if its dates are current).
    pub signatures: Vec<SignatureWindow>,
}

/// A verified RRSIG's key and validity period (RFC 4034 §3.1.5: seconds
/// since 1970 modulo 2^32, compared in serial number arithmetic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureWindow {
    pub key_tag: u16,
    pub algorithm: u8,
    pub inception: u32,
    pub expiration: u32,
}

/// Where validation stopped early.
enum Stop {
    Insecure { zone: String, why: String },
    Bogus(BogusProblem),
    Indeterminate(String),
}

fn bogus(reason: BogusReason, name: &Name, record_type: RecordType, detail: String) -> Stop {
    Stop::Bogus(BogusProblem {
        reason,
        name: shown(name),
        record_type: record_type.to_string(),
        detail,
    })
}

fn shown(name: &Name) -> String {
    if name.is_root() {
        ".".to_owned()
    } else {
        name.to_ascii().to_ascii_lowercase()
    }
}

/// The anchor as the validator uses it.
struct Anchor {
    zone: Name,
    ds: Vec<DS>,
    keys: Vec<PublicKeyBuf>,
}

impl Anchor {
    fn of(config: Option<&TrustAnchor>) -> Self {
        let Some(config) = config else {
            let builtin = TrustAnchors::default();
            return Self {
                zone: Name::root(),
                ds: Vec::new(),
                keys: (0..builtin.len())
                    .filter_map(|i| builtin.get(i).cloned())
                    .collect(),
            };
        };
        let mut zone = Name::from_ascii(&config.zone).unwrap_or_else(|_| Name::root());
        zone.set_fqdn(true);
        let mut ds = Vec::new();
        let mut keys = Vec::new();
        for record in &config.records {
            match record {
                AnchorRecord::Ds {
                    key_tag,
                    algorithm,
                    digest_type,
                    digest,
                } => ds.push(DS::new(
                    *key_tag,
                    Algorithm::from_u8(*algorithm),
                    DigestType::from(*digest_type),
                    digest.clone(),
                )),
                AnchorRecord::Dnskey {
                    algorithm,
                    public_key,
                    ..
                } => keys.push(PublicKeyBuf::new(
                    public_key.clone(),
                    Algorithm::from_u8(*algorithm),
                )),
            }
        }
        Self { zone, ds, keys }
    }

    fn trusts(&self, key: &DNSKEY) -> bool {
        self.keys.iter().any(|k| {
            k.public_bytes() == key.public_key().public_bytes()
                && k.algorithm() == key.public_key().algorithm()
        }) || self
            .ds
            .iter()
            .any(|ds| ds.covers(&self.zone, key).unwrap_or(false))
    }
}

/// The validator's state for one domain.
struct Walk<'a> {
    resolver: &'a DnsResolver,
    anchor: Anchor,
    /// Zone keys established so far, by zone.
    keys: HashMap<Name, Vec<DNSKEY>>,
    verified: Vec<VerifiedRrset>,
    chain: Vec<String>,
    queries: usize,
}

/// Queries one validation may send in all.
const MAX_QUERIES: usize = 64;

/// Validates the zone `apex` of `domain` from the configured trust anchor.
pub async fn validate(resolver: &DnsResolver, domain: &Name, apex: &Name) -> Validation {
    let mut walk = Walk {
        resolver,
        anchor: Anchor::of(resolver.trust_anchor()),
        keys: HashMap::new(),
        verified: Vec::new(),
        chain: Vec::new(),
        queries: 0,
    };
    let verdict = match walk.run(domain, apex).await {
        Ok(()) => Verdict::Verified,
        Err(Stop::Insecure { zone, why }) => Verdict::Insecure { zone, why },
        Err(Stop::Bogus(problem)) => Verdict::Bogus { problem },
        Err(Stop::Indeterminate(detail)) => Verdict::Indeterminate { detail },
    };
    Validation {
        anchor: shown(&walk.anchor.zone),
        zone: shown(apex),
        verdict,
        verified: walk.verified,
        chain: walk.chain,
    }
}

impl Walk<'_> {
    async fn run(&mut self, domain: &Name, apex: &Name) -> Result<(), Stop> {
        if !self.anchor.zone.zone_of(apex) {
            return Err(Stop::Indeterminate(format!(
                "{} is outside the trust anchor's zone {}",
                shown(apex),
                shown(&self.anchor.zone)
            )));
        }
        // The anchor's keys first: they show whether the resolver passes
        // DNSSEC records on at all.
        // A failure there is the monitor's own blindness (a wrong
        // `trust_anchor`, a resolver in the way), never a supplier's fault.
        let anchor_zone = self.anchor.zone.clone();
        self.zone_keys(&anchor_zone, 0)
            .await
            .map_err(|stop| match stop {
                Stop::Bogus(problem) => Stop::Indeterminate(format!(
                    "the trust anchor's zone {} does not validate ({}: {}); check probe.trust_anchor",
                    shown(&anchor_zone),
                    problem.reason.describe(),
                    problem.detail
                )),
                other => other,
            })?;
        self.zone_keys(apex, 0).await?;
        // The zone's own data: RFC 4035 §2.2 has every authoritative record set signed.
        let mut wanted = vec![
            (apex.clone(), RecordType::SOA),
            (apex.clone(), RecordType::NS),
        ];
        wanted.push((domain.clone(), RecordType::MX));
        wanted.push((domain.clone(), RecordType::A));
        for (name, record_type) in wanted {
            // A failed lookup of the zone's data leaves that record set
            // unjudged (the probe's own lookups report the failure); the
            // chain and the other record sets still stand.
            let answer = match self.fetch(&name, record_type).await {
                Ok(answer) => answer,
                Err(Stop::Indeterminate(detail)) => {
                    self.chain.push(format!("not validated: {detail}"));
                    continue;
                }
                Err(other) => return Err(other),
            };
            if answer.records.is_empty() {
                continue;
            }
            self.verify(&answer, &name, record_type, apex)?;
        }
        Ok(())
    }

    async fn fetch(&mut self, name: &Name, record_type: RecordType) -> Result<SignedAnswer, Stop> {
        self.queries += 1;
        if self.queries > MAX_QUERIES {
            return Err(Stop::Indeterminate(format!(
                "more than {MAX_QUERIES} queries would be needed"
            )));
        }
        self.resolver
            .signed(name, record_type)
            .await
            .map_err(|failure: LookupFailure| {
                Stop::Indeterminate(format!("{} {record_type}: {failure}", shown(name)))
            })
    }

    /// The DNSKEYs of `zone`, each step of its chain verified (RFC 4035 §5.2).
    fn zone_keys<'s>(
        &'s mut self,
        zone: &'s Name,
        depth: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Stop>> + Send + 's>> {
        Box::pin(async move {
            if self.keys.contains_key(zone) {
                return Ok(());
            }
            if depth > MAX_DEPTH {
                return Err(Stop::Indeterminate(format!(
                    "the chain to {} is more than {MAX_DEPTH} zones deep",
                    shown(zone)
                )));
            }
            let is_anchor = *zone == self.anchor.zone;
            // The DS at the parent, unless this is the anchor's zone.
            let ds_set = if is_anchor {
                Vec::new()
            } else {
                self.parent_ds(zone, depth).await?
            };
            let answer = self.fetch(zone, RecordType::DNSKEY).await?;
            let keys: Vec<DNSKEY> = answer
                .records
                .iter()
                .filter_map(|r| match &r.data {
                    RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some(k.clone()),
                    _ => None,
                })
                .collect();
            if keys.is_empty() {
                let reason = if is_anchor {
                    if depth == 0 && answer.rrsigs.is_empty() {
                        return Err(Stop::Indeterminate(format!(
                            "no DNSKEY for the trust anchor's zone {}: the resolver gives no DNSSEC records",
                            shown(zone)
                        )));
                    }
                    BogusReason::AnchorMismatch
                } else {
                    BogusReason::NoDnskey
                };
                return Err(bogus(
                    reason,
                    zone,
                    RecordType::DNSKEY,
                    format!("{} publishes no DNSKEY", shown(zone)),
                ));
            }
            if is_anchor && answer.rrsigs.is_empty() {
                return Err(Stop::Indeterminate(format!(
                    "the DNSKEY set of {} comes without RRSIG: the resolver does not pass DNSSEC records on",
                    shown(zone)
                )));
            }
            // The entry keys: those the anchor or the parent's DS vouch for.
            let entry: Vec<DNSKEY> = keys
                .iter()
                .filter(|k| {
                    if is_anchor {
                        self.anchor.trusts(k)
                    } else {
                        ds_set.iter().any(|d| {
                            d.algorithm() == k.algorithm() && d.covers(zone, k).unwrap_or(false)
                        })
                    }
                })
                .cloned()
                .collect();
            if entry.is_empty() {
                return Err(no_entry_key(zone, is_anchor, &keys, &ds_set));
            }
            // RFC 4035 §5.2: the DNSKEY record set is signed by an entry key.
            self.check_signatures(&answer, zone, RecordType::DNSKEY, zone, &entry)?;
            self.chain.push(format!(
                "DNSKEY set of {} verified by {} ({} keys)",
                shown(zone),
                if is_anchor {
                    "the trust anchor"
                } else {
                    "the DS at its parent"
                },
                keys.len()
            ));
            self.keys.insert(zone.clone(), keys);
            Ok(())
        })
    }

    /// The DS records of `zone` at its parent, their RRSIG verified with
    /// the parent's keys, which are established first (RFC 4035 §5.2).
    async fn parent_ds(&mut self, zone: &Name, depth: usize) -> Result<Vec<DS>, Stop> {
        let ds = self.fetch(zone, RecordType::DS).await?;
        if ds.records.is_empty() {
            return Err(Stop::Insecure {
                zone: shown(zone),
                why: format!("no DS record for {} at its parent", shown(zone)),
            });
        }
        let Some(signer) = first_signer(&ds) else {
            return Err(bogus(
                BogusReason::MissingRrsig,
                zone,
                RecordType::DS,
                format!("the DS RRset of {} has no RRSIG", shown(zone)),
            ));
        };
        if signer == *zone || !signer.zone_of(zone) || !self.anchor.zone.zone_of(&signer) {
            return Err(bogus(
                BogusReason::WrongSigner,
                zone,
                RecordType::DS,
                format!(
                    "the DS RRset of {} is signed by {}, not by a parent zone under the trust anchor",
                    shown(zone),
                    shown(&signer)
                ),
            ));
        }
        self.zone_keys(&signer, depth + 1).await?;
        self.verify(&ds, zone, RecordType::DS, &signer)?;
        let ds_set: Vec<DS> = ds
            .records
            .iter()
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::DS(ds)) => Some(ds.clone()),
                _ => None,
            })
            .collect();
        if !ds_set
            .iter()
            .any(|d| d.digest_type().is_supported() && d.algorithm().is_supported())
        {
            return Err(Stop::Insecure {
                zone: shown(zone),
                why: format!(
                    "the DS records of {} use only algorithms or digests not implemented",
                    shown(zone)
                ),
            });
        }
        self.chain.push(format!(
            "DS of {} at {} verified ({})",
            shown(zone),
            shown(&signer),
            ds_set
                .iter()
                .map(|d| format!("key tag {}", d.key_tag()))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        Ok(ds_set)
    }

    /// Verifies `answer` (records of `record_type` at `name`) with the keys
    /// of `zone`, which must be established.
    fn verify(
        &mut self,
        answer: &SignedAnswer,
        name: &Name,
        record_type: RecordType,
        zone: &Name,
    ) -> Result<(), Stop> {
        let keys = self.keys.get(zone).cloned().unwrap_or_default();
        self.check_signatures(answer, name, record_type, zone, &keys)
    }

    fn check_signatures(
        &mut self,
        answer: &SignedAnswer,
        name: &Name,
        record_type: RecordType,
        zone: &Name,
        keys: &[DNSKEY],
    ) -> Result<(), Stop> {
        let sigs: Vec<&RRSIG> = answer
            .rrsigs
            .iter()
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::RRSIG(sig)) => Some(sig),
                _ => None,
            })
            .collect();
        if sigs.is_empty() {
            return Err(bogus(
                BogusReason::MissingRrsig,
                name,
                record_type,
                format!(
                    "the {record_type} RRset of {} has no RRSIG, though {} is signed",
                    shown(name),
                    shown(zone)
                ),
            ));
        }
        let mut windows = Vec::new();
        let mut failures = Vec::new();
        let mut signer_wrong = None;
        for sig in &sigs {
            let input = sig.input();
            if input.signer_name != *zone {
                signer_wrong = Some(input.signer_name.clone());
                continue;
            }
            let candidates: Vec<&DNSKEY> = keys
                .iter()
                .filter(|k| {
                    k.zone_key()
                        && !k.revoke()
                        && k.algorithm() == input.algorithm
                        && k.calculate_key_tag().is_ok_and(|t| t == input.key_tag)
                })
                .collect();
            if candidates.is_empty() {
                failures.push((
                    BogusReason::NoMatchingKey,
                    format!(
                        "the RRSIG names key tag {} (algorithm {}), which {} does not publish",
                        input.key_tag,
                        u8::from(input.algorithm),
                        shown(zone)
                    ),
                ));
                continue;
            }
            let ok = candidates.iter().any(|key| {
                key.verify_rrsig(name, DNSClass::IN, sig, answer.records.iter())
                    .is_ok()
            });
            if ok {
                windows.push(SignatureWindow {
                    key_tag: input.key_tag,
                    algorithm: u8::from(input.algorithm),
                    inception: input.sig_inception.get(),
                    expiration: input.sig_expiration.get(),
                });
            } else {
                failures.push((
                    BogusReason::SignatureInvalid,
                    format!(
                        "the RRSIG by key tag {} does not verify over the {record_type} RRset of {}",
                        input.key_tag,
                        shown(name)
                    ),
                ));
            }
        }
        if !windows.is_empty() {
            self.verified.push(VerifiedRrset {
                name: shown(name),
                record_type: record_type.to_string(),
                signatures: windows,
            });
            return Ok(());
        }
        if let Some((reason, detail)) = failures.into_iter().next() {
            return Err(bogus(reason, name, record_type, detail));
        }
        let signer = signer_wrong.map_or_else(String::new, |s| shown(&s));
        Err(bogus(
            BogusReason::WrongSigner,
            name,
            record_type,
            format!(
                "the {record_type} RRset of {} is signed by {signer}, not by its zone {}",
                shown(name),
                shown(zone)
            ),
        ))
    }
}

/// Why no DNSKEY of `zone` is vouched for: none matches the trust anchor,
/// or none matches the parent's DS records (RFC 4035 §5.2).
fn no_entry_key(zone: &Name, is_anchor: bool, keys: &[DNSKEY], ds_set: &[DS]) -> Stop {
    let tags: Vec<String> = keys
        .iter()
        .map(|k| {
            k.calculate_key_tag()
                .map_or_else(|_| "?".to_owned(), |t| t.to_string())
        })
        .collect();
    if is_anchor {
        bogus(
            BogusReason::AnchorMismatch,
            zone,
            RecordType::DNSKEY,
            format!(
                "none of the DNSKEYs of {} (key tags {}) matches the trust anchor",
                shown(zone),
                tags.join(", ")
            ),
        )
    } else {
        bogus(
            BogusReason::DsMatchesNoDnskey,
            zone,
            RecordType::DS,
            format!(
                "the DS records of {} (key tags {}) match none of its DNSKEYs (key tags {})",
                shown(zone),
                ds_set
                    .iter()
                    .map(|d| d.key_tag().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                tags.join(", ")
            ),
        )
    }
}

fn first_signer(answer: &SignedAnswer) -> Option<Name> {
    answer.rrsigs.iter().find_map(|r: &Record| match &r.data {
        RData::DNSSEC(DNSSECRData::RRSIG(sig)) => Some(sig.input().signer_name.clone()),
        _ => None,
    })
}
