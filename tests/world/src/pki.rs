//! The test PKI: a trusted ECDSA P-256 root and intermediate made by rcgen
//! at world start with dates relative to the world's `now`, an untrusted
//! "Rogue" root and intermediate, and the committed openssl fixtures (RSA
//! keys and a SHA-1-signed chain) that rcgen on ring cannot make.
//!
//! Depends on nothing else in the crate. Every certificate made here has an
//! explicit notBefore and notAfter: rcgen's default notAfter is the year
//! 4096.

use anyhow::{Context as _, bail};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, CustomExtension, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, PublicKeyData, RevocationReason,
    SigningKey as _, SubjectPublicKeyInfo,
};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// Common name of the trusted test root.
pub const ROOT_CN: &str = "supplywatch Test Root CA";
/// Common name of the trusted test intermediate.
pub const INTERMEDIATE_CN: &str = "supplywatch Test Intermediate CA";
/// Common name of the untrusted root.
pub const ROGUE_ROOT_CN: &str = "Rogue Root CA";
/// Common name of the intermediate under the untrusted root.
pub const ROGUE_INTERMEDIATE_CN: &str = "Rogue Intermediate CA";
/// Common name of the committed fixture root that signs the SHA-1 leaf.
/// Common name of the test root's intermediate that expired three days ago.
pub const EXPIRED_INTERMEDIATE_CN: &str = "supplywatch Expired Intermediate CA";
/// Common name of the upper of the two stacked intermediates (never sent).
pub const UPPER_INTERMEDIATE_CN: &str = "supplywatch Upper Intermediate CA";
/// Common name of the lower of the two stacked intermediates.
pub const LOWER_INTERMEDIATE_CN: &str = "supplywatch Lower Intermediate CA";
pub const SHA1_ROOT_CN: &str = "supplywatch Fixture SHA-1 Root";
/// Organisation put in every subject the world makes.
pub const ORGANIZATION: &str = "supplywatch tests";

/// The committed fixtures, made once by `fixtures/generate.sh` (openssl).
pub mod fixtures {
    /// RSA-2048 private key, PKCS#8 PEM: the good-RSA leaf's key.
    pub const GOOD_RSA_KEY_PEM: &str = include_str!("../fixtures/good-rsa.key.pem");
    /// RSA-1024 SubjectPublicKeyInfo PEM: the weak-key leaf's public key.
    pub const RSA1024_PUBLIC_KEY_PEM: &str = include_str!("../fixtures/rsa1024.pub.pem");
    /// "supplywatch Fixture SHA-1 Root": RSA-2048, self-signed, valid
    /// 2025-01-01 .. 2094-12-31.
    pub const SHA1_ROOT_PEM: &str = include_str!("../fixtures/sha1-root.crt.pem");
    /// Leaf for `sha1.tls.test`: ECDSA P-256 key, signed by the fixture root
    /// with sha1WithRSAEncryption, valid 2025-01-01 .. 2094-12-31.
    pub const SHA1_LEAF_PEM: &str = include_str!("../fixtures/sha1-leaf.crt.pem");
    /// The SHA-1 leaf's ECDSA P-256 private key, PKCS#8 PEM.
    pub const SHA1_LEAF_KEY_PEM: &str = include_str!("../fixtures/sha1-leaf.key.pem");
    /// "supplywatch Fixture PSS Root" (trusted), made by `generate-pss.sh`.
    pub const PSS_ROOT_PEM: &str = include_str!("../fixtures/pss-sha1-root.crt.pem");
    /// Leaf for `pss-sha1.tls.test`, signed with RSASSA-PSS whose hash is
    /// SHA-1 (the RFC 4055 defaults).
    pub const PSS_LEAF_PEM: &str = include_str!("../fixtures/pss-sha1-leaf.crt.pem");
    /// The PSS leaf's ECDSA P-256 private key, PKCS#8 PEM.
    pub const PSS_LEAF_KEY_PEM: &str = include_str!("../fixtures/pss-sha1-leaf.key.pem");
}

/// Who signs a leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority {
    /// The trusted test intermediate (chain ends at [`ROOT_CN`]).
    TestIntermediate,
    /// The intermediate under the untrusted [`ROGUE_ROOT_CN`]; the chain
    /// sent is leaf, intermediate and that root.
    RogueIntermediate,
    /// The leaf signs itself.
    SelfSigned,
    /// The test root's intermediate that expired three days before `now`
    /// (valid from a year before).
    ExpiredIntermediate,
    /// The lower of two intermediates under the test root (root → upper →
    /// lower → leaf); the upper one is never sent.
    LowerIntermediate,
}

/// The leaf's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeafKey {
    /// A fresh ECDSA P-256 key.
    EcdsaP256,
    /// An existing PKCS#8 private key in PEM (ECDSA P-256/P-384, Ed25519 or
    /// RSA of at least 2048 bits: what ring accepts).
    Pkcs8Pem(String),
    /// Only a public key (SubjectPublicKeyInfo PEM). The certificate can be
    /// issued, but no TLS library can serve a handshake with it: the leaf has
    /// no private key. Not usable with [`Authority::SelfSigned`].
    PublicKeyPem(String),
}

/// What a leaf certificate should look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafSpec {
    /// DNS names for the SAN extension; the first is also the subject CN.
    pub names: Vec<String>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// Who signs it.
    pub authority: Authority,
    /// Its key.
    pub key: LeafKey,
    /// Whether the served chain carries the intermediate after the leaf.
    /// Ignored for [`Authority::SelfSigned`].
    pub send_intermediate: bool,
    /// A subject CN other than the first name (any UTF-8: hostile names).
    pub common_name: Option<String>,
    /// URIs of a CRL distribution point (none by default).
    pub crl_urls: Vec<String>,
    /// An OCSP responder in the authority information access (none by
    /// default).
    pub ocsp_url: Option<String>,
    /// The serial number; rcgen picks a random one when `None`.
    pub serial: Option<u64>,
    /// Every name goes into a dNSName SAN, even one spelling an IP address
    /// (rcgen otherwise makes that an iPAddress SAN).
    pub names_as_dns: bool,
}

impl LeafSpec {
    /// A leaf for one name, signed by the test intermediate with a fresh
    /// ECDSA key, served with its intermediate.
    #[must_use]
    pub fn new(
        name: impl Into<String>,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Self {
        Self {
            names: vec![name.into()],
            not_before,
            not_after,
            authority: Authority::TestIntermediate,
            key: LeafKey::EcdsaP256,
            send_intermediate: true,
            common_name: None,
            crl_urls: Vec::new(),
            ocsp_url: None,
            serial: None,
            names_as_dns: false,
        }
    }

    /// A leaf for one name, issued `issued_days_ago` days before `now` and
    /// valid for `lifetime_days` days.
    #[must_use]
    pub fn issued(
        name: impl Into<String>,
        now: OffsetDateTime,
        issued_days_ago: i64,
        lifetime_days: i64,
    ) -> Self {
        let not_before = now - Duration::days(issued_days_ago);
        Self::new(name, not_before, not_before + Duration::days(lifetime_days))
    }

    /// Replaces the SAN names (the CN stays the first of them).
    #[must_use]
    pub fn names(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Sets who signs the leaf.
    #[must_use]
    pub fn authority(mut self, authority: Authority) -> Self {
        self.authority = authority;
        self
    }

    /// Sets the leaf's key.
    #[must_use]
    pub fn key(mut self, key: LeafKey) -> Self {
        self.key = key;
        self
    }

    /// Sets the subject CN, which SAN names (ASCII only) cannot carry.
    #[must_use]
    pub fn common_name(mut self, cn: impl Into<String>) -> Self {
        self.common_name = Some(cn.into());
        self
    }

    /// Names a CRL distribution point (RFC 5280 §4.2.1.13).
    #[must_use]
    pub fn crl_url(mut self, url: impl Into<String>) -> Self {
        self.crl_urls.push(url.into());
        self
    }

    /// Names an OCSP responder (RFC 5280 §4.2.2.1).
    #[must_use]
    pub fn ocsp_url(mut self, url: impl Into<String>) -> Self {
        self.ocsp_url = Some(url.into());
        self
    }

    /// Sets the serial number.
    #[must_use]
    pub fn serial(mut self, serial: u64) -> Self {
        self.serial = Some(serial);
        self
    }

    /// Sets whether the served chain includes the intermediate.
    /// Puts every name in a dNSName SAN, even one spelling an IP address.
    #[must_use]
    pub fn names_as_dns(mut self) -> Self {
        self.names_as_dns = true;
        self
    }

    #[must_use]
    pub fn send_intermediate(mut self, send: bool) -> Self {
        self.send_intermediate = send;
        self
    }
}

/// An issued leaf: the chain as a server sends it, and its private key
/// when it has one.
#[derive(Debug)]
pub struct Leaf {
    /// Leaf first, then whatever the server sends after it.
    pub chain: Vec<CertificateDer<'static>>,
    /// PKCS#8 private key; `None` for [`LeafKey::PublicKeyPem`] leaves.
    pub key: Option<PrivateKeyDer<'static>>,
}

impl Clone for Leaf {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.as_ref().map(PrivateKeyDer::clone_key),
        }
    }
}

impl Leaf {
    /// The leaf certificate itself.
    #[must_use]
    pub fn cert(&self) -> Option<&CertificateDer<'static>> {
        self.chain.first()
    }

    /// The committed SHA-1 fixture leaf, served alone (its issuer is a root).
    ///
    /// # Errors
    /// When the committed PEM fixtures do not parse.
    pub fn sha1_fixture() -> anyhow::Result<Self> {
        let cert = CertificateDer::from_pem_slice(fixtures::SHA1_LEAF_PEM.as_bytes())
            .context("parsing fixtures/sha1-leaf.crt.pem")?;
        let key = PrivateKeyDer::from_pem_slice(fixtures::SHA1_LEAF_KEY_PEM.as_bytes())
            .context("parsing fixtures/sha1-leaf.key.pem")?;
        Ok(Self {
            chain: vec![cert],
            key: Some(key),
        })
    }

    /// The committed leaf signed with RSASSA-PSS over SHA-1, served alone.
    ///
    /// # Errors
    /// When the committed PEM files do not parse.
    pub fn pss_sha1_fixture() -> anyhow::Result<Self> {
        let cert = CertificateDer::from_pem_slice(fixtures::PSS_LEAF_PEM.as_bytes())
            .context("parsing fixtures/pss-sha1-leaf.crt.pem")?;
        let key = PrivateKeyDer::from_pem_slice(fixtures::PSS_LEAF_KEY_PEM.as_bytes())
            .context("parsing fixtures/pss-sha1-leaf.key.pem")?;
        Ok(Self {
            chain: vec![cert],
            key: Some(key),
        })
    }
}

/// The world's certificate authorities.
#[derive(Debug)]
pub struct Pki {
    now: OffsetDateTime,
    root: CertifiedIssuer<'static, KeyPair>,
    intermediate: CertifiedIssuer<'static, KeyPair>,
    rogue_root: CertifiedIssuer<'static, KeyPair>,
    rogue_intermediate: CertifiedIssuer<'static, KeyPair>,
    expired_intermediate: CertifiedIssuer<'static, KeyPair>,
    lower_intermediate: CertifiedIssuer<'static, KeyPair>,
}

fn ca_params(
    cn: &str,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    path_len: Option<u8>,
) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::OrganizationName, ORGANIZATION);
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.use_authority_key_identifier_extension = true;
    params.not_before = not_before;
    params.not_after = not_after;
    params
}

fn crl_params(
    now: OffsetDateTime,
    revoked: &[(u64, OffsetDateTime, RevocationReason)],
) -> rcgen::CertificateRevocationListParams {
    rcgen::CertificateRevocationListParams {
        this_update: now - Duration::hours(1),
        next_update: now + Duration::days(7),
        crl_number: rcgen::SerialNumber::from(vec![1]),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .map(|(serial, at, reason)| rcgen::RevokedCertParams {
                serial_number: rcgen::SerialNumber::from(serial.to_be_bytes().to_vec()),
                revocation_time: *at,
                reason_code: Some(*reason),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    }
}

/// DER of an AuthorityInfoAccessSyntax with one OCSP responder:
/// SEQUENCE { SEQUENCE { id-ad-ocsp, [6] IA5String url } }.
fn authority_info_access_ocsp(url: &str) -> Vec<u8> {
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(u8::try_from(len).unwrap_or(0));
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            let significant = bytes.get(skip..).unwrap_or_default();
            out.push(0x80 | u8::try_from(significant.len()).unwrap_or(0));
            out.extend_from_slice(significant);
        }
        out.extend_from_slice(content);
        out
    }
    // 1.3.6.1.5.5.7.48.1
    let oid = tlv(0x06, &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01]);
    let location = tlv(0x86, url.as_bytes());
    let description = tlv(0x30, &[oid, location].concat());
    tlv(0x30, &description)
}

fn spki_of(key: &KeyPair) -> anyhow::Result<SubjectPublicKeyInfo> {
    SubjectPublicKeyInfo::from_der(&key.subject_public_key_info())
        .context("re-reading a generated public key")
}

impl Pki {
    /// Makes the test and rogue hierarchies. Roots are valid from a year
    /// before `now` for ten years after it, intermediates for five, so every
    /// leaf case (including not-yet-valid and long-validity ones) sits inside
    /// its issuers' validity.
    ///
    /// # Errors
    /// When rcgen fails to generate a key or sign.
    pub fn generate(now: OffsetDateTime) -> anyhow::Result<Self> {
        let start = now - Duration::days(365);
        let root = CertifiedIssuer::self_signed(
            ca_params(ROOT_CN, start, now + Duration::days(3650), None),
            KeyPair::generate().context("root key")?,
        )
        .context("self-signing the test root")?;
        let intermediate = CertifiedIssuer::signed_by(
            ca_params(INTERMEDIATE_CN, start, now + Duration::days(1825), Some(0)),
            KeyPair::generate().context("intermediate key")?,
            &root,
        )
        .context("signing the test intermediate")?;
        let rogue_root = CertifiedIssuer::self_signed(
            ca_params(ROGUE_ROOT_CN, start, now + Duration::days(3650), None),
            KeyPair::generate().context("rogue root key")?,
        )
        .context("self-signing the rogue root")?;
        let rogue_intermediate = CertifiedIssuer::signed_by(
            ca_params(
                ROGUE_INTERMEDIATE_CN,
                start,
                now + Duration::days(1825),
                Some(0),
            ),
            KeyPair::generate().context("rogue intermediate key")?,
            &rogue_root,
        )
        .context("signing the rogue intermediate")?;
        let expired_intermediate = CertifiedIssuer::signed_by(
            ca_params(
                EXPIRED_INTERMEDIATE_CN,
                start,
                now - Duration::days(3),
                Some(0),
            ),
            KeyPair::generate().context("expired intermediate key")?,
            &root,
        )
        .context("signing the expired intermediate")?;
        let upper_intermediate = CertifiedIssuer::signed_by(
            ca_params(
                UPPER_INTERMEDIATE_CN,
                start,
                now + Duration::days(1825),
                Some(1),
            ),
            KeyPair::generate().context("upper intermediate key")?,
            &root,
        )
        .context("signing the upper intermediate")?;
        let lower_intermediate = CertifiedIssuer::signed_by(
            ca_params(
                LOWER_INTERMEDIATE_CN,
                start,
                now + Duration::days(1825),
                Some(0),
            ),
            KeyPair::generate().context("lower intermediate key")?,
            &upper_intermediate,
        )
        .context("signing the lower intermediate")?;
        Ok(Self {
            now,
            root,
            intermediate,
            rogue_root,
            rogue_intermediate,
            expired_intermediate,
            lower_intermediate,
        })
    }

    /// The instant all relative dates were computed from.
    #[must_use]
    pub fn now(&self) -> OffsetDateTime {
        self.now
    }

    /// The trusted test root.
    #[must_use]
    pub fn root(&self) -> &CertificateDer<'static> {
        self.root.der()
    }

    /// The trusted test intermediate.
    #[must_use]
    pub fn intermediate(&self) -> &CertificateDer<'static> {
        self.intermediate.der()
    }

    /// The untrusted Rogue root.
    #[must_use]
    pub fn rogue_root(&self) -> &CertificateDer<'static> {
        self.rogue_root.der()
    }

    /// The committed fixture root that signs the SHA-1 leaf.
    ///
    /// # Errors
    /// When the committed PEM does not parse.
    pub fn sha1_root() -> anyhow::Result<CertificateDer<'static>> {
        CertificateDer::from_pem_slice(fixtures::SHA1_ROOT_PEM.as_bytes())
            .context("parsing fixtures/sha1-root.crt.pem")
    }

    /// PEM of every root the world trusts: the test root and the fixture
    /// SHA-1 and PSS roots. The Rogue root is not in it.
    #[must_use]
    pub fn trusted_roots_pem(&self) -> String {
        let mut pem = self.root.pem();
        if !pem.ends_with('\n') {
            pem.push('\n');
        }
        pem.push_str(fixtures::SHA1_ROOT_PEM);
        pem.push_str(fixtures::PSS_ROOT_PEM);
        pem
    }

    /// PEM of the Rogue root alone.
    #[must_use]
    pub fn rogue_root_pem(&self) -> String {
        self.rogue_root.pem()
    }

    /// A CRL of the test intermediate listing `revoked` (serial, when,
    /// reason), current from an hour ago for a week.
    ///
    /// # Errors
    /// When rcgen fails to sign.
    pub fn crl(
        &self,
        revoked: &[(u64, OffsetDateTime, RevocationReason)],
    ) -> anyhow::Result<Vec<u8>> {
        crl_params(self.now, revoked)
            .signed_by(&self.intermediate)
            .map(|crl| crl.der().to_vec())
            .context("signing the CRL")
    }

    /// A CRL in the test intermediate's name but signed with another key.
    ///
    /// # Errors
    /// When a key cannot be made or rcgen fails to sign.
    pub fn crl_wrong_key(
        &self,
        revoked: &[(u64, OffsetDateTime, RevocationReason)],
    ) -> anyhow::Result<Vec<u8>> {
        let impostor = rcgen::Issuer::from_ca_cert_der(
            self.intermediate.der(),
            KeyPair::generate().context("impostor key")?,
        )
        .context("reading the intermediate as an issuer")?;
        crl_params(self.now, revoked)
            .signed_by(&impostor)
            .map(|crl| crl.der().to_vec())
            .context("signing the impostor CRL")
    }

    /// A delegated OCSP responder's certificate, issued by the test
    /// intermediate (with the `id-kp-OCSPSigning` usage when `for_ocsp`),
    /// and its key.
    ///
    /// # Errors
    /// When a key cannot be made or rcgen fails to sign.
    pub fn ocsp_responder(
        &self,
        for_ocsp: bool,
    ) -> anyhow::Result<(CertificateDer<'static>, KeyPair)> {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "supplywatch Test OCSP Responder");
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = if for_ocsp {
            vec![ExtendedKeyUsagePurpose::OcspSigning]
        } else {
            vec![ExtendedKeyUsagePurpose::ServerAuth]
        };
        params.not_before = self.now - Duration::days(1);
        params.not_after = self.now + Duration::days(30);
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().context("responder key")?;
        let cert = params
            .signed_by(&key, &self.intermediate)
            .context("signing the responder")?;
        Ok((cert.der().clone(), key))
    }

    /// Signs `data` with the test intermediate's key (ECDSA P-256 with
    /// SHA-256, DER signature).
    ///
    /// # Errors
    /// When signing fails.
    pub fn sign_as_intermediate(&self, data: &[u8]) -> anyhow::Result<Vec<u8>> {
        self.intermediate
            .key()
            .sign(data)
            .context("signing with the intermediate's key")
    }

    /// Issues a leaf as `spec` says.
    ///
    /// # Errors
    /// When a name is not a valid DNS name, a given key does not parse, a
    /// public-key-only leaf is asked to sign itself, or rcgen fails to sign.
    pub fn issue(&self, spec: &LeafSpec) -> anyhow::Result<Leaf> {
        let Some(cn) = spec.names.first() else {
            bail!("a leaf needs at least one name");
        };
        let mut params = CertificateParams::new(spec.names.clone())
            .with_context(|| format!("SAN names {:?}", spec.names))?;
        if spec.names_as_dns {
            params.subject_alt_names = spec
                .names
                .iter()
                .map(|n| {
                    rcgen::string::Ia5String::try_from(n.as_str())
                        .map(rcgen::SanType::DnsName)
                        .with_context(|| format!("dNSName {n}"))
                })
                .collect::<anyhow::Result<_>>()?;
        }
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, ORGANIZATION);
        params.distinguished_name.push(
            DnType::CommonName,
            spec.common_name.as_deref().unwrap_or(cn),
        );
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = spec.not_before;
        params.not_after = spec.not_after;
        if !spec.crl_urls.is_empty() {
            params.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
                uris: spec.crl_urls.clone(),
            }];
        }
        if let Some(url) = &spec.ocsp_url {
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    &[1, 3, 6, 1, 5, 5, 7, 1, 1],
                    authority_info_access_ocsp(url),
                ));
        }
        if let Some(serial) = spec.serial {
            params.serial_number = Some(rcgen::SerialNumber::from(serial.to_be_bytes().to_vec()));
        }

        // The public half as a plain SubjectPublicKeyInfo, whatever the key:
        // that is all the issuer needs, and it is all we have for RSA-1024.
        let (public, private) = match &spec.key {
            LeafKey::EcdsaP256 => {
                let key = KeyPair::generate().context("leaf key")?;
                (spki_of(&key)?, Some(key))
            }
            LeafKey::Pkcs8Pem(pem) => {
                let key = KeyPair::from_pem(pem).context("parsing the leaf's PKCS#8 key")?;
                (spki_of(&key)?, Some(key))
            }
            LeafKey::PublicKeyPem(pem) => (
                SubjectPublicKeyInfo::from_pem(pem).context("parsing the leaf's public key")?,
                None,
            ),
        };

        let mut chain = Vec::with_capacity(2);
        match spec.authority {
            Authority::SelfSigned => {
                let Some(key) = &private else {
                    bail!("a public-key-only leaf cannot sign itself");
                };
                params.use_authority_key_identifier_extension = false;
                chain.push(
                    params
                        .self_signed(key)
                        .context("self-signing the leaf")?
                        .der()
                        .clone(),
                );
            }
            Authority::TestIntermediate
            | Authority::RogueIntermediate
            | Authority::ExpiredIntermediate
            | Authority::LowerIntermediate => {
                let issuer = match spec.authority {
                    Authority::RogueIntermediate => &self.rogue_intermediate,
                    Authority::ExpiredIntermediate => &self.expired_intermediate,
                    Authority::LowerIntermediate => &self.lower_intermediate,
                    _ => &self.intermediate,
                };
                params.use_authority_key_identifier_extension = true;
                let cert = params
                    .signed_by(&public, issuer)
                    .with_context(|| format!("signing the leaf for {cn}"))?;
                chain.push(cert.der().clone());
                if spec.send_intermediate {
                    chain.push(issuer.der().clone());
                    // A private PKI's server that sends its root, so that
                    // an untrusted root is seen, not a missing issuer.
                    if spec.authority == Authority::RogueIntermediate {
                        chain.push(self.rogue_root.der().clone());
                    }
                }
            }
        }
        let key = private.map(|k| PrivateKeyDer::from(PrivatePkcs8KeyDer::from(k.serialize_der())));
        Ok(Leaf { chain, key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::{FromDer as _, X509Certificate};

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[test]
    fn rcgen_on_ring_signs_with_the_committed_rsa_key() {
        let pki = Pki::generate(now()).unwrap();
        let spec = LeafSpec::issued("rsa.tls.test", now(), 1, 30)
            .key(LeafKey::Pkcs8Pem(fixtures::GOOD_RSA_KEY_PEM.to_owned()))
            .authority(Authority::SelfSigned);
        let leaf = pki.issue(&spec).unwrap();
        let (_, cert) = X509Certificate::from_der(&leaf.chain[0]).unwrap();
        assert_eq!(
            cert.signature_algorithm.algorithm,
            x509_parser::oid_registry::OID_PKCS1_SHA256WITHRSA
        );
        assert!(cert.verify_signature(None).is_ok());
    }

    #[test]
    fn public_key_only_leaves_cannot_sign_themselves() {
        let pki = Pki::generate(now()).unwrap();
        let spec = LeafSpec::issued("weak.tls.test", now(), 1, 30)
            .key(LeafKey::PublicKeyPem(
                fixtures::RSA1024_PUBLIC_KEY_PEM.to_owned(),
            ))
            .authority(Authority::SelfSigned);
        assert!(pki.issue(&spec).is_err());
        let leaf = pki
            .issue(&spec.authority(Authority::TestIntermediate))
            .unwrap();
        assert!(leaf.key.is_none());
        assert_eq!(leaf.chain.len(), 2);
    }

    #[test]
    fn intermediates_chain_to_their_roots() {
        let pki = Pki::generate(now()).unwrap();
        let (_, root) = X509Certificate::from_der(pki.root()).unwrap();
        let (_, intermediate) = X509Certificate::from_der(pki.intermediate()).unwrap();
        assert!(
            intermediate
                .verify_signature(Some(root.public_key()))
                .is_ok()
        );
        assert_eq!(
            root.validity().not_after.timestamp(),
            (now() + Duration::days(3650)).unix_timestamp()
        );
        let sha1_root = Pki::sha1_root().unwrap();
        let (_, sha1_root) = X509Certificate::from_der(&sha1_root).unwrap();
        assert_eq!(
            sha1_root.subject().to_string(),
            format!("CN={SHA1_ROOT_CN}, O={ORGANIZATION}")
        );
    }
}
