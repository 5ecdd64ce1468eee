//! A supplier's mail domain as a set of DNS records: healthy by default
//! (two name servers on two providers, CAA, DS and DNSKEY, MX, SPF, DMARC with
//! reporting, MTA-STS, TLS-RPT), with any field changed to make a case.
//! Shared by the integration tests, the demo and the probe benchmark.

use chrono::{SecondsFormat, TimeDelta, Utc};
use hickory_server::proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS};
use hickory_server::proto::dnssec::{Algorithm, DigestType, PublicKeyBuf};
use hickory_server::proto::rr::RData;
use hickory_server::proto::rr::rdata::SOA;

use crate::dns::{DEFAULT_TTL, DnsRecord, fqdn};
use crate::http::{Reply, SiteCert, SiteSpec};

/// Where RFC 8461 puts the MTA-STS policy.
pub const POLICY_PATH: &str = "/.well-known/mta-sts.txt";

/// A domain as a zone: healthy unless a field is changed.
#[derive(Debug, Clone)]
pub struct MailDomain {
    pub name: String,
    /// NS host names; empty for no SOA/NS at the name (not an apex).
    pub nameservers: Vec<String>,
    pub caa: bool,
    pub dnskey: bool,
    pub ds: bool,
    pub mx: Vec<(u16, String)>,
    pub spf: Vec<String>,
    pub dmarc: Vec<String>,
    pub sts: Vec<String>,
    pub tlsrpt: Vec<String>,
    pub extra: Vec<DnsRecord>,
}

impl MailDomain {
    /// A domain with nothing wrong.
    #[must_use]
    pub fn good(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            nameservers: vec![
                "a.ns.alpha-dns.test".to_owned(),
                "b.ns.beta-dns.test".to_owned(),
            ],
            caa: true,
            dnskey: true,
            // A DS at the parent is what makes a zone signed; this one
            // matches no key (the world's `test.` is unsigned, so no chain
            // reaches it and validation is indeterminate, not bogus).
            ds: true,
            mx: vec![(10, format!("mx.{name}"))],
            spf: vec!["v=spf1 ip4:192.0.2.0/24 -all".to_owned()],
            dmarc: vec![format!("v=DMARC1; p=reject; rua=mailto:dmarc@{name}")],
            sts: vec!["v=STSv1; id=20260301T000000".to_owned()],
            tlsrpt: vec![format!("v=TLSRPTv1; rua=mailto:tls@{name}")],
            extra: Vec::new(),
        }
    }

    /// The same domain with `change` applied.
    #[must_use]
    pub fn with(mut self, change: impl FnOnce(&mut Self)) -> Self {
        change(&mut self);
        self
    }

    /// Its records.
    ///
    /// # Errors
    /// When a name in it is not a valid DNS name.
    pub fn records(&self) -> anyhow::Result<Vec<DnsRecord>> {
        let name = self.name.as_str();
        let mut out = Vec::new();
        // NS with an SOA makes the name an apex in the world's zone, so its
        // other records are still answered (NS alone would be a delegation).
        if let Some(first) = self.nameservers.first() {
            let soa = SOA::new(
                fqdn(first)?,
                fqdn(&format!("hostmaster.{name}"))?,
                1,
                3600,
                600,
                86_400,
                60,
            );
            out.push(DnsRecord::new(name, DEFAULT_TTL, RData::SOA(soa)));
            for ns in &self.nameservers {
                out.push(DnsRecord::ns(name, ns)?);
            }
        }
        if self.caa {
            out.push(DnsRecord::caa_issue(name, "ca.test")?);
        }
        if self.dnskey {
            let key = DNSKEY::new(
                true,
                true,
                false,
                PublicKeyBuf::new(vec![7; 32], Algorithm::ED25519),
            );
            out.push(DnsRecord::new(
                name,
                DEFAULT_TTL,
                RData::DNSSEC(DNSSECRData::DNSKEY(key)),
            ));
        }
        if self.ds {
            let ds = DS::new(4242, Algorithm::ED25519, DigestType::SHA256, vec![9; 32]);
            out.push(DnsRecord::new(
                name,
                DEFAULT_TTL,
                RData::DNSSEC(DNSSECRData::DS(ds)),
            ));
        }
        for (preference, exchange) in &self.mx {
            out.push(DnsRecord::mx(name, *preference, exchange)?);
        }
        for text in &self.spf {
            out.push(DnsRecord::txt(name, [text.as_str()]));
        }
        for text in &self.dmarc {
            out.push(DnsRecord::txt(format!("_dmarc.{name}"), [text.as_str()]));
        }
        for text in &self.sts {
            out.push(DnsRecord::txt(format!("_mta-sts.{name}"), [text.as_str()]));
        }
        for text in &self.tlsrpt {
            out.push(DnsRecord::txt(
                format!("_smtp._tls.{name}"),
                [text.as_str()],
            ));
        }
        out.extend(self.extra.iter().cloned());
        Ok(out)
    }

    /// The host and site that serve its MTA-STS policy (mode enforce, its MX hosts).
    #[must_use]
    pub fn policy_site(&self, cert: SiteCert) -> (String, SiteSpec) {
        let mut policy = "version: STSv1\r\nmode: enforce\r\n".to_owned();
        for (_, mx) in &self.mx {
            policy.push_str(&format!("mx: {mx}\r\n"));
        }
        policy.push_str("max_age: 604800\r\n");
        (
            format!("mta-sts.{}", self.name),
            SiteSpec::https().certificate(cert).route(
                POLICY_PATH,
                Reply::typed("text/plain; charset=utf-8", policy),
            ),
        )
    }
}

/// A `security.txt` with a contact and an `Expires` `days` from now.
#[must_use]
pub fn security_txt(contact_domain: &str, days: i64) -> String {
    let expires = (Utc::now() + TimeDelta::days(days)).to_rfc3339_opts(SecondsFormat::Secs, true);
    format!("Contact: mailto:security@{contact_domain}\nExpires: {expires}\n")
}

/// An HTTPS site with secure headers and a current security.txt.
#[must_use]
pub fn clean_site(contact_domain: &str) -> SiteSpec {
    SiteSpec::https()
        .root(Reply::secure_page())
        .security_txt_text(&security_txt(contact_domain, 90))
}
