//! DNSSEC for the world: a signed `test.` and signed child zones under it,
//! each healthy or broken in one way ([`SignedFault`]), for the probe's
//! validation. Opt-in per world ([`crate::WorldBuilder::signed_zones`]):
//! without it `test.` stays unsigned.
//!
//! Zones are signed here rather than by hickory-server's `secure_zone`, so
//! that a case can choose its signatures' dates (expired), leave one RRset
//! unsigned, corrupt one, or publish a DS for another key. RRSIGs are made
//! with hickory-proto's `RRSIG::from_rrset` and put beside their RRsets in
//! the in-memory zone, which serves them to queries with the DO bit.
//! Keys: ECDSA P-256 made by ring at world start, or the committed RSA-4096
//! fixture (ring cannot generate RSA keys).

use std::time::Duration;

use anyhow::{Context as _, anyhow};
use hickory_server::proto::dnssec::crypto::{EcdsaSigningKey, RsaSigningKey};
use hickory_server::proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS, RRSIG};
use hickory_server::proto::dnssec::{
    Algorithm, DigestType, DnssecSigner, PublicKey as _, SigningKey, Verifier as _,
};
use hickory_server::proto::rr::rdata::SOA;
use hickory_server::proto::rr::{DNSClass, Name, RData, Record, RecordSet, RecordType};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject as _;
use time::OffsetDateTime;

use crate::dns::{DEFAULT_TTL, DnsRecord, fqdn};

/// The committed RSA-4096 key (PKCS#8), made by `fixtures/generate.sh`.
pub const RSA4096_KEY_PEM: &str = include_str!("../fixtures/dnssec-rsa4096.key.pem");

/// The key a zone is signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneKey {
    /// ECDSA P-256 with SHA-256 (algorithm 13), made at world start.
    EcdsaP256,
    /// RSA-4096 with SHA-256 (algorithm 8), the committed fixture.
    Rsa4096,
}

/// What is wrong with a signed zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedFault {
    /// Nothing: DS at the parent matches the key, every RRset signed.
    None,
    /// Every RRSIG of the zone expired ten days ago.
    ExpiredSignatures,
    /// The parent's DS is the digest of another key.
    DsMatchesNoKey,
    /// No DS at the parent: the zone has its DNSKEY, and is not signed for
    /// any validator.
    NoDs,
    /// The RRset of this type at the apex has no RRSIG.
    MissingRrsig(RecordType),
    /// The RRSIG over the RRset of this type at the apex does not verify.
    CorruptSignature(RecordType),
}

/// A zone delegated from `test.` and signed.
#[derive(Debug, Clone)]
pub struct SignedZone {
    /// The apex, e.g. `good.signed.test`.
    pub name: String,
    pub key: ZoneKey,
    pub fault: SignedFault,
    /// Its records besides SOA and DNSKEY (made here): by default NS, an A
    /// and an MX at the apex.
    pub records: Vec<DnsRecord>,
}

impl SignedZone {
    /// A healthy signed zone.
    ///
    /// # Errors
    /// When `name` is not a valid DNS name.
    pub fn good(name: &str) -> anyhow::Result<Self> {
        Ok(Self {
            name: name.to_owned(),
            key: ZoneKey::EcdsaP256,
            fault: SignedFault::None,
            records: vec![
                DnsRecord::ns(name, "a.ns.alpha-dns.test")?,
                DnsRecord::ns(name, "b.ns.beta-dns.test")?,
                DnsRecord::a(name, std::net::Ipv4Addr::LOCALHOST),
                DnsRecord::mx(name, 10, &format!("mx.{name}"))?,
            ],
        })
    }

    /// The same zone broken by `fault`.
    #[must_use]
    pub fn fault(mut self, fault: SignedFault) -> Self {
        self.fault = fault;
        self
    }

    /// The same zone signed with `key`.
    #[must_use]
    pub fn key(mut self, key: ZoneKey) -> Self {
        self.key = key;
        self
    }
}

/// A zone's signing key with its DNSKEY.
pub(crate) struct ZoneSigner {
    zone: Name,
    key: ZoneKey,
    pkcs8: PrivatePkcs8KeyDer<'static>,
    dnskey: DNSKEY,
}

impl ZoneSigner {
    pub(crate) fn new(zone: &Name, key: ZoneKey) -> anyhow::Result<Self> {
        let pkcs8 = match key {
            ZoneKey::EcdsaP256 => EcdsaSigningKey::generate_pkcs8(Algorithm::ECDSAP256SHA256)
                .map_err(|e| anyhow!("generating an ECDSA key: {e}"))?,
            ZoneKey::Rsa4096 => PrivatePkcs8KeyDer::from_pem_slice(RSA4096_KEY_PEM.as_bytes())
                .context("the RSA-4096 fixture")?,
        };
        let signing = signing_key(key, &pkcs8)?;
        let public = signing
            .to_public_key()
            .map_err(|e| anyhow!("the zone key's public half: {e}"))?;
        // Flags 257: a zone key and a secure entry point (one key signs all).
        let dnskey = DNSKEY::from_key(&public);
        Ok(Self {
            zone: zone.clone(),
            key,
            pkcs8,
            dnskey,
        })
    }

    /// The DS record the parent publishes for this key (SHA-256).
    pub(crate) fn ds(&self) -> anyhow::Result<DS> {
        let digest = self
            .dnskey
            .to_digest(&self.zone, DigestType::SHA256)
            .map_err(|e| anyhow!("DS digest: {e}"))?;
        let tag = self
            .dnskey
            .calculate_key_tag()
            .map_err(|e| anyhow!("key tag: {e}"))?;
        Ok(DS::new(
            tag,
            self.dnskey.algorithm(),
            DigestType::SHA256,
            digest.as_ref().to_vec(),
        ))
    }

    pub(crate) fn dnskey_record(&self) -> Record {
        Record::from_rdata(
            self.zone.clone(),
            DEFAULT_TTL,
            RData::DNSSEC(DNSSECRData::DNSKEY(self.dnskey.clone())),
        )
    }

    /// An RRSIG over `rrset` valid from `inception` for `valid`.
    fn sign(
        &self,
        rrset: &RecordSet,
        inception: OffsetDateTime,
        valid: Duration,
    ) -> anyhow::Result<RRSIG> {
        let signer = DnssecSigner::new(
            self.dnskey.clone(),
            signing_key(self.key, &self.pkcs8)?,
            self.zone.clone(),
            valid,
        );
        RRSIG::from_rrset(rrset, DNSClass::IN, inception, &signer)
            .map_err(|e| anyhow!("signing {} {}: {e}", rrset.name(), rrset.record_type()))
    }

    /// The DNSKEY as zone-file text (`test. 300 IN DNSKEY 257 3 13 …`).
    pub(crate) fn dnskey_text(&self) -> String {
        format!(
            "{} 3600 IN DNSKEY {} 3 {} {}\n",
            self.zone,
            self.dnskey.flags(),
            u8::from(self.dnskey.algorithm()),
            base64(self.dnskey.public_key().public_bytes())
        )
    }

    /// The DS as zone-file text (`test. 3600 IN DS 12345 13 2 ABCD…`).
    pub(crate) fn ds_text(&self) -> anyhow::Result<String> {
        let ds = self.ds()?;
        let hex: String = ds.digest().iter().map(|b| format!("{b:02X}")).collect();
        Ok(format!(
            "{} 3600 IN DS {} {} 2 {hex}\n",
            self.zone,
            ds.key_tag(),
            u8::from(ds.algorithm())
        ))
    }
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let index = usize::try_from((n >> (18 - 6 * i)) & 63).unwrap_or(0);
                out.push(char::from(ALPHABET[index]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn signing_key(
    key: ZoneKey,
    pkcs8: &PrivatePkcs8KeyDer<'_>,
) -> anyhow::Result<Box<dyn SigningKey>> {
    Ok(match key {
        ZoneKey::EcdsaP256 => Box::new(
            EcdsaSigningKey::from_pkcs8(pkcs8, Algorithm::ECDSAP256SHA256)
                .map_err(|e| anyhow!("the ECDSA key: {e}"))?,
        ),
        ZoneKey::Rsa4096 => Box::new(
            RsaSigningKey::from_pkcs8(pkcs8, Algorithm::RSASHA256)
                .map_err(|e| anyhow!("the RSA key: {e}"))?,
        ),
    })
}

/// Signs every RRset in `rrsets` as `fault` says (valid for 30 days from
/// an hour ago, unless expired). `fault` concerns RRsets at `apex` only.
pub(crate) fn sign_rrsets<'a>(
    signer: &ZoneSigner,
    rrsets: impl Iterator<Item = &'a mut RecordSet>,
    fault: SignedFault,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    let day = Duration::from_secs(86_400);
    let (inception, valid) = if fault == SignedFault::ExpiredSignatures {
        (now - day * 40, day * 30)
    } else {
        (now - Duration::from_secs(3600), day * 30)
    };
    for rrset in rrsets {
        let at_apex = *rrset.name() == signer.zone;
        let record_type = rrset.record_type();
        if at_apex && fault == SignedFault::MissingRrsig(record_type) {
            continue;
        }
        let mut rrsig = signer.sign(rrset, inception, valid)?;
        if at_apex && fault == SignedFault::CorruptSignature(record_type) {
            let mut sig = rrsig.sig().to_vec();
            if let Some(last) = sig.last_mut() {
                *last ^= 0x01;
            }
            rrsig = RRSIG::from_sig(rrsig.input().clone(), sig);
        }
        let ttl = rrset.ttl();
        let name = rrset.name().clone();
        rrset.insert_rrsig(Record::from_rdata(
            name,
            ttl,
            RData::DNSSEC(DNSSECRData::RRSIG(rrsig)),
        ));
    }
    Ok(())
}

/// The SOA of a signed child zone.
pub(crate) fn soa_record(zone: &Name) -> anyhow::Result<Record> {
    let soa = SOA::new(
        fqdn("a.ns.alpha-dns.test")?,
        fqdn(&format!("hostmaster.{zone}"))?,
        1,
        3600,
        600,
        86_400,
        60,
    );
    Ok(Record::from_rdata(
        zone.clone(),
        DEFAULT_TTL,
        RData::SOA(soa),
    ))
}
