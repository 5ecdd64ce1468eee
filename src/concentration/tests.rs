use std::path::Path;

use serde_json::json;

use super::*;
use crate::register::model::{
    ContractRecord, Party, PartyId, Provider as RegProvider, Service, Subcontractor,
};

/// A supplier whose targets are those `observations` show of it.
fn supplier(id: &str, criticality: Criticality, observations: &[ObservationBlob]) -> SupplierRef {
    SupplierRef {
        id: id.to_owned(),
        name: format!("Supplier {id}"),
        criticality,
        targets: observations
            .iter()
            .filter(|o| o.supplier == id)
            .map(|o| o.target.clone())
            .collect(),
    }
}

fn blob(supplier: &str, target: &str, kind: &str, facts: Value) -> ObservationBlob {
    ObservationBlob {
        supplier: supplier.to_owned(),
        target: target.to_owned(),
        kind: kind.to_owned(),
        facts,
    }
}

fn domain_facts(ns: &[&str], mx: &[&str]) -> Value {
    json!({
        "domain": "x.test",
        "resolution": {"state": "resolves"},
        "nameservers": {"steps": [
            {"name": "www.x.test", "answer": {"outcome": "none", "reason": "no_records"}},
            {"name": "x.test", "answer": {"outcome": "records", "total": ns.len(), "ignored": 0,
                "records": ns.iter().map(|h| json!({"host": h, "registrable": null})).collect::<Vec<_>>()}}
        ]},
        "mx": {"name": "x.test", "answer": {"outcome": "records", "total": mx.len(), "ignored": 0,
            "records": mx.iter().map(|h| json!({"preference": 10, "exchange": h})).collect::<Vec<_>>()}},
    })
}

fn tls_facts(issuer: &str, self_issued: bool, addresses: &[&str]) -> Value {
    json!({
        "target": "h:443", "host": "h", "port": 443, "addresses": addresses,
        "reach": {"state": "handshake"},
        "tls": {"chain": [{"subject": "CN=h", "issuer": issuer, "self_issued": self_issued}]},
    })
}

fn register_with(supplier: &str, code: &str, name: &str) -> Register {
    let mut register = Register::default();
    register.providers.insert(
        supplier.to_owned(),
        RegProvider {
            contract: Some(ContractRecord {
                services: vec![Service {
                    kind: "eba_TA:S06".to_owned(),
                    subcontractors: vec![Subcontractor {
                        party: Party {
                            id: PartyId {
                                code: code.to_owned(),
                                kind: "eba_qCO:qx2000".to_owned(),
                            },
                            name: name.to_owned(),
                            country: "DE".to_owned(),
                            person: "eba_CT:x212".to_owned(),
                        },
                        rank: 2,
                        serves: None,
                    }],
                    ..Service::default()
                }],
                ..ContractRecord::default()
            }),
            ..RegProvider::default()
        },
    );
    register
}

fn find<'a>(c: &'a Concentration, kind: ProviderKind, key: &str) -> &'a Provider {
    c.providers
        .iter()
        .find(|p| p.kind == kind && p.key == key)
        .unwrap_or_else(|| panic!("no {kind} {key} in {:#?}", c.providers))
}

#[test]
fn groups_by_supplier_weighted_worst_first() {
    let observations = [
        blob(
            "a",
            "a.test",
            "domain",
            domain_facts(&["ns1.dnsco.test.", "ns2.dnsco.test"], &["mx.mailco.test"]),
        ),
        blob(
            "b",
            "b.test",
            "domain",
            domain_facts(&["ns1.dnsco.test"], &["mx1.mailco.test"]),
        ),
        blob(
            "c",
            "c.test",
            "domain",
            domain_facts(&["ns.dnsco.test"], &["mail.c.test", "."]),
        ),
        // A second domain of `a` under the same provider counts once.
        blob(
            "a",
            "a2.test",
            "domain",
            domain_facts(&["ns9.dnsco.test"], &[]),
        ),
        blob(
            "a",
            "a.test:443",
            "tls",
            tls_facts("C=US, O=Big CA, Inc., CN=Big CA R3", false, &["127.0.0.1"]),
        ),
        blob(
            "b",
            "b.test:443",
            "tls",
            tls_facts("CN=Only A Name CA", false, &["127.0.0.2"]),
        ),
        blob(
            "c",
            "c.test:443",
            "tls",
            tls_facts("CN=c.test", true, &["::1"]),
        ),
        // Not a supplier in the list: ignored.
        blob(
            "gone",
            "g.test",
            "domain",
            domain_facts(&["ns.dnsco.test"], &[]),
        ),
    ];
    let mut suppliers = [
        supplier("a", Criticality::Critical, &observations),
        supplier("b", Criticality::Important, &observations),
        supplier("c", Criticality::Standard, &observations),
    ];
    let c = concentration(&observations, &suppliers, &Register::default(), None);
    assert_eq!((c.suppliers, c.observed, c.asn), (3, 3, AsnData::Absent));
    // A target removed from the registry: its last observation no longer
    // counts.
    suppliers[2].targets.remove("c.test");
    let without = concentration(&observations, &suppliers, &Register::default(), None);
    assert_eq!(find(&without, ProviderKind::Dns, "dnsco.test").count, 2);
    assert!(!without.providers.iter().any(|p| p.key == "c.test"));

    let dns = find(&c, ProviderKind::Dns, "dnsco.test");
    assert_eq!((dns.score, dns.count, dns.critical_or_important), (6, 3, 2));
    let ids: Vec<&str> = dns.suppliers.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert_eq!(
        dns.suppliers[0].via,
        ["ns1.dnsco.test", "ns2.dnsco.test", "ns9.dnsco.test"]
    );
    assert_eq!(c.providers[0].key, "dnsco.test", "worst first");

    let mail = find(&c, ProviderKind::Mail, "mailco.test");
    assert_eq!((mail.score, mail.count), (5, 2));
    assert_eq!(find(&c, ProviderKind::Mail, "c.test").count, 1);
    assert_eq!(find(&c, ProviderKind::Ca, "Big CA, Inc.").score, 3);
    assert_eq!(find(&c, ProviderKind::Ca, "Only A Name CA").score, 2);
    assert!(
        !c.providers
            .iter()
            .any(|p| p.key == "c.test" && p.kind == ProviderKind::Ca)
    );
    assert!(!c.providers.iter().any(|p| p.kind == ProviderKind::Asn));
}

#[test]
fn hosting_networks_and_subcontractors() {
    let table = AsnTable::parse(
        "127.0.0.0\t127.255.255.255\t64500\tZZ\tLOOP-NET\n",
        Path::new("asn.tsv"),
    )
    .unwrap();
    let observations = [
        blob(
            "a",
            "a.test:443",
            "tls",
            tls_facts("O=CA", false, &["127.0.0.1", "10.0.0.1"]),
        ),
        blob(
            "b",
            "b.test:443",
            "tls",
            tls_facts("O=CA", false, &["127.0.0.9"]),
        ),
    ];
    let register = register_with("b", "529900T8BM49AURSDO55", "Sub GmbH");
    let suppliers = [
        supplier("a", Criticality::Critical, &observations),
        supplier("b", Criticality::Standard, &observations),
    ];
    let c = concentration(&observations, &suppliers, &register, Some(&table));
    assert_eq!(c.asn, AsnData::Loaded { ranges: 1 });
    let net = find(&c, ProviderKind::Asn, "AS64500");
    assert_eq!(
        (net.name.as_str(), net.score, net.count),
        ("LOOP-NET", 4, 2)
    );
    assert_eq!(net.suppliers[0].via, ["a.test:443 (127.0.0.1)"]);
    let sub = find(&c, ProviderKind::Subcontractor, "529900T8BM49AURSDO55");
    assert_eq!((sub.name.as_str(), sub.score), ("Sub GmbH", 1));
    assert_eq!(sub.suppliers[0].via, ["eba_TA:S06 (rank 2)"]);

    let mut only = c.clone();
    only.retain(Some(ProviderKind::Asn), 2);
    assert_eq!(only.providers.len(), 1);
    only.retain(None, 3);
    assert!(only.providers.is_empty());
}

#[test]
fn findings_above_the_alert_for_every_dependent() {
    let observations: Vec<ObservationBlob> = ["a", "b", "c"]
        .iter()
        .map(|s| blob(s, "x.test", "domain", domain_facts(&["ns.dnsco.test"], &[])))
        .collect();
    let suppliers = [
        supplier("a", Criticality::Critical, &observations),
        supplier("b", Criticality::Important, &observations),
        supplier("c", Criticality::Standard, &observations),
    ];
    let c = concentration(&observations, &suppliers, &Register::default(), None);
    // Two critical or important: not more than 2.
    assert!(findings(&c, 2).is_empty());
    let raised = findings(&c, 1);
    assert_eq!(raised.len(), 3);
    let (who, f) = &raised[2];
    assert_eq!(
        (who.as_str(), f.check, f.severity),
        ("c", CHECK, Severity::Info)
    );
    assert_eq!(f.target, "dns:dnsco.test");
    assert_eq!(f.evidence["suppliers"], json!(["a", "b", "c"]));
    assert!(
        f.summary
            .contains("3 of your suppliers (2 critical or important"),
        "{}",
        f.summary
    );
    let s = scopes(["a", "b"], true);
    assert_eq!(s.len(), 2);
    assert!(s.iter().all(|s| s.complete && s.family == FAMILY));
}

#[test]
fn issuer_organisation_prefers_o_then_cn() {
    assert_eq!(
        issuer_organisation("C=US, O=Let's Encrypt, CN=R11").as_deref(),
        Some("Let's Encrypt")
    );
    assert_eq!(
        issuer_organisation("CN=Acme CA, O=Acme, Inc., C=DE").as_deref(),
        Some("Acme, Inc.")
    );
    assert_eq!(
        issuer_organisation("CN=Lonely CA").as_deref(),
        Some("Lonely CA")
    );
    assert_eq!(issuer_organisation("C=DE"), None);
    assert_eq!(issuer_organisation(""), None);
}

#[test]
fn kinds_parse_and_name() {
    for name in ProviderKind::NAMES {
        assert_eq!(name.parse::<ProviderKind>().unwrap().as_str(), name);
    }
    assert!("cdn".parse::<ProviderKind>().is_err());
}
