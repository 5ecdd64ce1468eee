//! The 15 templates of the Register of Information, built from the
//! registry: their column codes, primary and foreign keys, mandatory
//! columns, and the rows as the ITS lays them out (one B_02.01 row per
//! contract, B_02.02 per contract × entity × service × function × location,
//! B_05.01 one row per provider with its expenses summed, B_05.02 the
//! supply chain with ranks, B_06.01 per function, B_07.01 per contract ×
//! service).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::codes::{
    self, BRANCH, COUNTRY_NOT_APPLICABLE, ID_EUID, ID_LEI, NO, NOT_APPLICABLE, NOT_BRANCH, YES,
};
use super::model::{Amount, Entity, Party, PartyId, Provider, Register};
use crate::registry::{Supplier, SupplierStatus};

/// What a cell holds, for the checks that look at values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Lei,
    /// `eba_GA:` + ISO 3166-1 alpha-2.
    Country,
    /// `eba_CU:` + ISO 4217.
    Currency,
    Date,
    Integer,
    Money,
    /// A code of a closed list.
    Code,
    /// The link value `true`.
    Link,
}

/// A template's shape.
#[derive(Debug, PartialEq, Eq)]
pub struct Shape {
    /// `B_01.01`.
    pub id: &'static str,
    pub title: &'static str,
    /// Column codes and what each holds.
    pub columns: &'static [(&'static str, Kind)],
    /// The primary key.
    pub keys: &'static [&'static str],
    /// Columns that must not be empty (a warning, as the FAQ treats them).
    pub mandatory: &'static [&'static str],
}

impl Shape {
    /// The CSV file name: `b_01.01.csv`.
    #[must_use]
    pub fn file(&self) -> String {
        format!("{}.csv", self.id.to_ascii_lowercase())
    }

    /// The position of `column`.
    #[must_use]
    pub fn index(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|(c, _)| *c == column)
    }
}

use Kind::{Code, Country, Currency, Date, Integer, Lei, Link, Money, Text};

/// Every template, in the order of the ITS.
pub const SHAPES: [Shape; 15] = [
    Shape {
        id: "B_01.01",
        title: "Entity maintaining the register of information",
        columns: &[
            ("c0010", Lei),
            ("c0020", Text),
            ("c0030", Country),
            ("c0040", Code),
            ("c0050", Text),
            ("c0060", Date),
        ],
        keys: &["c0010"],
        mandatory: &["c0020", "c0030", "c0040", "c0050", "c0060"],
    },
    Shape {
        id: "B_01.02",
        title: "List of entities within the scope of the register of information",
        columns: &[
            ("c0010", Lei),
            ("c0020", Text),
            ("c0030", Country),
            ("c0040", Code),
            ("c0050", Code),
            ("c0060", Lei),
            ("c0070", Date),
            ("c0080", Date),
            ("c0090", Date),
            ("c0100", Currency),
            ("c0110", Money),
        ],
        keys: &["c0010"],
        mandatory: &[
            "c0020", "c0030", "c0040", "c0050", "c0060", "c0070", "c0080", "c0090",
        ],
    },
    Shape {
        id: "B_01.03",
        title: "List of branches",
        columns: &[
            ("c0010", Text),
            ("c0020", Lei),
            ("c0030", Text),
            ("c0040", Country),
        ],
        keys: &["c0010", "c0020"],
        mandatory: &["c0030", "c0040"],
    },
    Shape {
        id: "B_02.01",
        title: "Contractual arrangements – general information",
        columns: &[
            ("c0010", Text),
            ("c0020", Code),
            ("c0030", Text),
            ("c0040", Currency),
            ("c0050", Money),
        ],
        keys: &["c0010"],
        mandatory: &["c0020", "c0040", "c0050"],
    },
    Shape {
        id: "B_02.02",
        title: "Contractual arrangements – specific information",
        columns: &[
            ("c0010", Text),
            ("c0020", Lei),
            ("c0030", Text),
            ("c0040", Code),
            ("c0050", Text),
            ("c0060", Code),
            ("c0070", Date),
            ("c0080", Date),
            ("c0090", Code),
            ("c0100", Integer),
            ("c0110", Integer),
            ("c0120", Country),
            ("c0130", Country),
            ("c0140", Code),
            ("c0150", Country),
            ("c0160", Country),
            ("c0170", Code),
            ("c0180", Code),
        ],
        keys: &[
            "c0010", "c0020", "c0030", "c0050", "c0060", "c0130", "c0150", "c0160",
        ],
        mandatory: &["c0040", "c0070", "c0080"],
    },
    Shape {
        id: "B_02.03",
        title: "List of intra-group contractual arrangements",
        columns: &[("c0010", Text), ("c0020", Text), ("c0030", Link)],
        keys: &["c0010", "c0020"],
        mandatory: &[],
    },
    Shape {
        id: "B_03.01",
        title: "Entities signing the contractual arrangements for receiving ICT services",
        columns: &[("c0010", Text), ("c0020", Lei), ("c0030", Link)],
        keys: &["c0010", "c0020"],
        mandatory: &[],
    },
    Shape {
        id: "B_03.02",
        title: "ICT third-party service providers signing the contractual arrangements",
        columns: &[("c0010", Text), ("c0020", Text), ("c0030", Code)],
        keys: &["c0010", "c0020", "c0030"],
        mandatory: &[],
    },
    Shape {
        id: "B_03.03",
        title: "Entities signing the contractual arrangements for providing ICT services",
        columns: &[("c0010", Text), ("c0020", Lei), ("c0031", Link)],
        keys: &["c0010", "c0020"],
        mandatory: &[],
    },
    Shape {
        id: "B_04.01",
        title: "Entities making use of the ICT services",
        columns: &[
            ("c0010", Text),
            ("c0020", Lei),
            ("c0030", Code),
            ("c0040", Text),
        ],
        keys: &["c0010", "c0020", "c0030", "c0040"],
        mandatory: &[],
    },
    Shape {
        id: "B_05.01",
        title: "ICT third-party service providers",
        columns: &[
            ("c0010", Text),
            ("c0020", Code),
            ("c0030", Text),
            ("c0040", Code),
            ("c0050", Text),
            ("c0060", Text),
            ("c0070", Code),
            ("c0080", Country),
            ("c0090", Currency),
            ("c0100", Money),
            ("c0110", Text),
            ("c0120", Code),
        ],
        keys: &["c0010", "c0020"],
        mandatory: &["c0050", "c0060", "c0070", "c0080"],
    },
    Shape {
        id: "B_05.02",
        title: "ICT service supply chains",
        columns: &[
            ("c0010", Text),
            ("c0020", Code),
            ("c0030", Text),
            ("c0040", Code),
            ("c0050", Integer),
            ("c0060", Text),
            ("c0070", Code),
        ],
        keys: &[
            "c0010", "c0020", "c0030", "c0040", "c0050", "c0060", "c0070",
        ],
        mandatory: &[],
    },
    Shape {
        id: "B_06.01",
        title: "Functions identification",
        columns: &[
            ("c0010", Text),
            ("c0020", Code),
            ("c0030", Text),
            ("c0040", Lei),
            ("c0050", Code),
            ("c0060", Text),
            ("c0070", Date),
            ("c0080", Integer),
            ("c0090", Integer),
            ("c0100", Code),
        ],
        keys: &["c0010", "c0040"],
        mandatory: &[
            "c0020", "c0030", "c0050", "c0070", "c0080", "c0090", "c0100",
        ],
    },
    Shape {
        id: "B_07.01",
        title: "Assessment of the ICT services",
        columns: &[
            ("c0010", Text),
            ("c0020", Text),
            ("c0030", Code),
            ("c0040", Code),
            ("c0050", Code),
            ("c0060", Code),
            ("c0070", Date),
            ("c0080", Code),
            ("c0090", Code),
            ("c0100", Code),
            ("c0110", Code),
            ("c0120", Text),
        ],
        keys: &["c0010", "c0020", "c0030", "c0040"],
        mandatory: &["c0050", "c0070", "c0080", "c0090", "c0100", "c0110"],
    },
    Shape {
        id: "B_99.01",
        title: "Definitions from entities making use of the ICT services",
        columns: &[
            ("c0010", Text),
            ("c0020", Text),
            ("c0030", Text),
            ("c0040", Text),
            ("c0050", Text),
            ("c0060", Text),
            ("c0070", Text),
            ("c0080", Text),
            ("c0090", Text),
            ("c0100", Text),
            ("c0110", Text),
            ("c0120", Text),
            ("c0130", Text),
            ("c0140", Text),
            ("c0150", Text),
            ("c0160", Text),
            ("c0170", Text),
            ("c0180", Text),
            ("c0190", Text),
        ],
        keys: &[],
        mandatory: &[],
    },
];

/// A reference from columns of one template to the key of another: rule
/// 807. A reference whose cells are all "not applicable" is not followed.
#[derive(Debug)]
pub struct ForeignKey {
    pub from: &'static str,
    pub columns: &'static [&'static str],
    pub to: &'static str,
    pub to_columns: &'static [&'static str],
}

const fn fk(
    from: &'static str,
    columns: &'static [&'static str],
    to: &'static str,
    to_columns: &'static [&'static str],
) -> ForeignKey {
    ForeignKey {
        from,
        columns,
        to,
        to_columns,
    }
}

/// Every reference between templates.
pub const FOREIGN_KEYS: &[ForeignKey] = &[
    fk("B_01.03", &["c0020"], "B_01.02", &["c0010"]),
    fk("B_02.02", &["c0010"], "B_02.01", &["c0010"]),
    fk("B_02.02", &["c0020"], "B_01.02", &["c0010"]),
    fk(
        "B_02.02",
        &["c0030", "c0040"],
        "B_05.01",
        &["c0010", "c0020"],
    ),
    fk(
        "B_02.02",
        &["c0050", "c0020"],
        "B_06.01",
        &["c0010", "c0040"],
    ),
    fk("B_02.03", &["c0010"], "B_02.01", &["c0010"]),
    fk("B_02.03", &["c0020"], "B_02.01", &["c0010"]),
    fk("B_03.01", &["c0010"], "B_02.01", &["c0010"]),
    fk("B_03.01", &["c0020"], "B_01.02", &["c0010"]),
    fk("B_03.02", &["c0010"], "B_02.01", &["c0010"]),
    fk(
        "B_03.02",
        &["c0020", "c0030"],
        "B_05.01",
        &["c0010", "c0020"],
    ),
    fk("B_03.03", &["c0010"], "B_02.01", &["c0010"]),
    fk("B_03.03", &["c0020"], "B_01.02", &["c0010"]),
    fk("B_04.01", &["c0010"], "B_02.01", &["c0010"]),
    fk("B_04.01", &["c0020"], "B_01.02", &["c0010"]),
    fk("B_04.01", &["c0040"], "B_01.03", &["c0010"]),
    fk(
        "B_05.01",
        &["c0110", "c0120"],
        "B_05.01",
        &["c0010", "c0020"],
    ),
    fk("B_05.02", &["c0010"], "B_02.01", &["c0010"]),
    fk(
        "B_05.02",
        &["c0030", "c0040"],
        "B_05.01",
        &["c0010", "c0020"],
    ),
    fk(
        "B_05.02",
        &["c0060", "c0070"],
        "B_05.01",
        &["c0010", "c0020"],
    ),
    fk("B_06.01", &["c0040"], "B_01.02", &["c0010"]),
    fk("B_07.01", &["c0010"], "B_02.01", &["c0010"]),
    fk(
        "B_07.01",
        &["c0020", "c0030"],
        "B_05.01",
        &["c0010", "c0020"],
    ),
];

/// A cell that says "nothing here" in a key: never followed as a reference.
#[must_use]
pub fn not_applicable(cell: &str) -> bool {
    cell.is_empty() || cell == NOT_APPLICABLE || cell == COUNTRY_NOT_APPLICABLE
}

/// One template with its rows (cells in the order of its columns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub shape: &'static Shape,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// The cell of `row` in `column` (empty when there is none).
    #[must_use]
    pub fn cell<'a>(&self, row: &'a [String], column: &str) -> &'a str {
        self.shape
            .index(column)
            .and_then(|i| row.get(i))
            .map_or("", String::as_str)
    }

    /// The row's primary key, `/`-joined, for messages.
    #[must_use]
    pub fn key_of(&self, row: &[String]) -> String {
        if self.shape.keys.is_empty() {
            return "(row)".to_owned();
        }
        self.shape
            .keys
            .iter()
            .map(|k| self.cell(row, k))
            .collect::<Vec<_>>()
            .join(" / ")
    }
}

/// The whole register as of a reference date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    pub tables: Vec<Table>,
    /// Problems found while building (a contract whose supplier has no
    /// identifier …), for the checks to report.
    pub notes: Vec<BuildNote>,
}

/// Something the builder could not put in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildNote {
    pub template: &'static str,
    pub row: String,
    pub column: &'static str,
    pub reason: String,
}

impl Tables {
    /// The table of `id`.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.shape.id == id)
    }
}

const OPEN_END: &str = "9999-12-31";

fn country(code: &str) -> String {
    format!("eba_GA:{code}")
}

fn currency(code: &str) -> String {
    format!("eba_CU:{code}")
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn yes_no(value: Option<bool>) -> String {
    value
        .map(|v| if v { YES } else { NO }.to_owned())
        .unwrap_or_default()
}

/// How a supplier is identified: its LEI, else its EUID.
fn provider_id(supplier: &Supplier, provider: Option<&Provider>) -> Option<PartyId> {
    if let Some(lei) = &supplier.lei {
        return Some(PartyId {
            code: lei.clone(),
            kind: ID_LEI.to_owned(),
        });
    }
    provider.and_then(|p| p.euid.clone()).map(|euid| PartyId {
        code: euid,
        kind: ID_EUID.to_owned(),
    })
}

/// Whether a supplier's contract belongs in the register as of `reference`:
/// every supplier with a contract, but for one exited with a contract that
/// ended more than a year before.
fn reported(supplier: &Supplier, reference: NaiveDate) -> bool {
    let Some(contract) = &supplier.contract else {
        return false;
    };
    if contract.start > reference {
        return false;
    }
    if supplier.status != SupplierStatus::Exited {
        return true;
    }
    contract
        .end
        .is_none_or(|end| end >= reference - chrono::Days::new(365))
}

/// A row of B_05.01 being gathered.
struct ProviderRow {
    id: PartyId,
    extra: Option<PartyId>,
    name: String,
    latin: String,
    person: String,
    country: String,
    expense: Option<(String, Amount)>,
    parent: Option<PartyId>,
}

/// Builds every template of the register of `suppliers` and `register` as
/// of `reference`, reported on `reported_on`.
#[must_use]
#[expect(
    clippy::too_many_lines,
    reason = "one pass over the registry fills the fifteen templates side by side"
)]
pub fn build(
    suppliers: &[Supplier],
    register: &Register,
    reference: NaiveDate,
    reported_on: NaiveDate,
) -> Tables {
    let mut rows: BTreeMap<&'static str, Vec<Vec<String>>> = BTreeMap::new();
    let mut notes = Vec::new();
    let mut push = |id: &'static str, row: Vec<String>| rows.entry(id).or_default().push(row);

    let entity = register.entity.as_ref();
    let own_lei = entity.map(|e| e.lei.clone()).unwrap_or_default();
    if let Some(e) = entity {
        push(
            "B_01.01",
            vec![
                e.lei.clone(),
                e.name.clone(),
                country(&e.country),
                e.kind.clone(),
                opt(e.competent_authority.as_ref()),
                reported_on.to_string(),
            ],
        );
        for member in std::iter::once(e).chain(&e.members) {
            push("B_01.02", entity_row(member, reference));
        }
        for b in &e.branches {
            push(
                "B_01.03",
                vec![
                    b.id.clone(),
                    b.head_office.clone(),
                    b.name.clone(),
                    country(&b.country),
                ],
            );
        }
    }

    let mut providers: BTreeMap<PartyId, ProviderRow> = BTreeMap::new();
    let add_party = |providers: &mut BTreeMap<PartyId, ProviderRow>, p: &Party| {
        providers
            .entry(p.id.clone())
            .or_insert_with(|| ProviderRow {
                id: p.id.clone(),
                extra: None,
                name: p.name.clone(),
                latin: p.name.clone(),
                person: p.person.clone(),
                country: p.country.clone(),
                expense: None,
                parent: None,
            });
    };

    for supplier in suppliers.iter().filter(|s| reported(s, reference)) {
        let Some(contract) = &supplier.contract else {
            continue;
        };
        let provider = register.providers.get(supplier.id.as_str());
        let record = provider
            .and_then(|p| p.contract.clone())
            .unwrap_or_default();
        let reference_no = contract.reference.clone();
        let id = provider_id(supplier, provider);
        if id.is_none() {
            notes.push(BuildNote {
                template: "B_02.02",
                row: reference_no.clone(),
                column: "c0030",
                reason: format!(
                    "the contract's provider, supplier {}, has neither an LEI nor an EUID",
                    supplier.id
                ),
            });
        }
        let (id_code, id_kind) = id.as_ref().map_or((String::new(), String::new()), |i| {
            (i.code.clone(), i.kind.clone())
        });
        let intra_group = provider.is_some_and(|p| p.intra_group);

        push(
            "B_02.01",
            vec![
                reference_no.clone(),
                opt(record.arrangement.as_ref()),
                opt(record.overarching.as_ref()),
                opt(record.currency.as_deref().map(currency)),
                opt(record.annual_expense.as_ref().map(Amount::to_plain)),
            ],
        );
        let signers = if record.signed_by.is_empty() {
            vec![own_lei.clone()]
        } else {
            record.signed_by.clone()
        };
        for lei in &signers {
            push(
                "B_03.01",
                vec![reference_no.clone(), lei.clone(), "true".to_owned()],
            );
        }
        if intra_group {
            push(
                "B_03.03",
                vec![reference_no.clone(), id_code.clone(), "true".to_owned()],
            );
            for linked in &record.linked {
                push(
                    "B_02.03",
                    vec![reference_no.clone(), linked.clone(), "true".to_owned()],
                );
            }
        } else {
            push(
                "B_03.02",
                vec![reference_no.clone(), id_code.clone(), id_kind.clone()],
            );
        }
        let users = if record.used_by.is_empty() {
            vec![own_lei.clone()]
        } else {
            record.used_by.clone()
        };
        for lei in &users {
            push(
                "B_04.01",
                vec![
                    reference_no.clone(),
                    lei.clone(),
                    NOT_BRANCH.to_owned(),
                    NOT_APPLICABLE.to_owned(),
                ],
            );
        }
        for branch_id in &record.branches {
            let head = entity
                .and_then(|e| e.branches.iter().find(|b| &b.id == branch_id))
                .map_or_else(|| own_lei.clone(), |b| b.head_office.clone());
            push(
                "B_04.01",
                vec![
                    reference_no.clone(),
                    head,
                    BRANCH.to_owned(),
                    branch_id.clone(),
                ],
            );
        }

        if let Some(id) = &id {
            let row = providers.entry(id.clone()).or_insert_with(|| ProviderRow {
                id: id.clone(),
                extra: None,
                name: supplier.name.clone(),
                latin: supplier.name.clone(),
                person: String::new(),
                country: String::new(),
                expense: None,
                parent: None,
            });
            row.name.clone_from(&supplier.name);
            row.latin = provider
                .and_then(|p| p.latin_name.clone())
                .unwrap_or_else(|| supplier.name.clone());
            row.person = provider
                .and_then(|p| p.person.clone())
                .unwrap_or_else(|| codes::PERSON.first().map_or("", |c| c.code).to_owned());
            row.country = opt(supplier.country.as_ref());
            if supplier.lei.is_some() {
                row.extra = provider.and_then(|p| p.euid.clone()).map(|euid| PartyId {
                    code: euid,
                    kind: ID_EUID.to_owned(),
                });
            }
            row.parent = provider
                .and_then(|p| p.parent.as_ref())
                .map(|p| p.id.clone());
            if let (Some(amount), Some(cur)) = (&record.annual_expense, &record.currency) {
                row.expense = Some(match row.expense.take() {
                    Some((c, sum)) if &c == cur => (
                        c,
                        Amount {
                            cents: sum.cents.saturating_add(amount.cents),
                        },
                    ),
                    Some((c, sum)) => {
                        notes.push(BuildNote {
                            template: "B_05.01",
                            row: id.code.clone(),
                            column: "c0090",
                            reason: format!(
                                "the provider's contracts are in more than one currency ({c} and {cur}); only the {c} ones are summed"
                            ),
                        });
                        (c, sum)
                    }
                    None => (cur.clone(), amount.clone()),
                });
            }
        }
        if let Some(parent) = provider.and_then(|p| p.parent.as_ref()) {
            add_party(&mut providers, parent);
        }

        let end = contract
            .end
            .map_or_else(|| OPEN_END.to_owned(), |d| d.to_string());
        let mut assessed: BTreeSet<String> = BTreeSet::new();
        for service in &record.services {
            let storage = if service.storage.is_empty() {
                vec![COUNTRY_NOT_APPLICABLE.to_owned()]
            } else {
                service.storage.iter().map(|c| country(c)).collect()
            };
            let processing = if service.processing.is_empty() {
                vec![COUNTRY_NOT_APPLICABLE.to_owned()]
            } else {
                service.processing.iter().map(|c| country(c)).collect()
            };
            // Each function is supported for the entity it is a function
            // of; a service supporting none is listed for each user, with
            // the function left empty (rule 805 says so).
            let pairs: Vec<(String, String)> = if service.functions.is_empty() {
                users.iter().map(|u| (u.clone(), String::new())).collect()
            } else {
                service
                    .functions
                    .iter()
                    .map(|f| {
                        let of = register
                            .functions
                            .iter()
                            .find(|x| &x.id == f)
                            .map_or_else(|| own_lei.clone(), |x| x.entity.clone());
                        (of, f.clone())
                    })
                    .collect()
            };
            for (lei, function) in &pairs {
                for at_rest in &storage {
                    for processed in &processing {
                        push(
                            "B_02.02",
                            vec![
                                reference_no.clone(),
                                lei.clone(),
                                id_code.clone(),
                                id_kind.clone(),
                                function.clone(),
                                service.kind.clone(),
                                contract.start.to_string(),
                                end.clone(),
                                opt(record.termination.as_ref()),
                                opt(record.entity_notice_days(contract)),
                                opt(record.provider_notice_days),
                                opt(record.governing_law.as_deref().map(country)),
                                service
                                    .country
                                    .as_deref()
                                    .map_or_else(|| COUNTRY_NOT_APPLICABLE.to_owned(), country),
                                yes_no(service.stores_data),
                                at_rest.clone(),
                                processed.clone(),
                                opt(service.sensitiveness.as_ref()),
                                opt(service.reliance.as_ref()),
                            ],
                        );
                    }
                }
            }
            // The supply chain: the provider at rank 1, then its
            // subcontractors, each serving the one above.
            push(
                "B_05.02",
                vec![
                    reference_no.clone(),
                    service.kind.clone(),
                    id_code.clone(),
                    id_kind.clone(),
                    "1".to_owned(),
                    id_code.clone(),
                    id_kind.clone(),
                ],
            );
            for sub in &service.subcontractors {
                add_party(&mut providers, &sub.party);
                let serves = sub.serves.clone().or_else(|| id.clone());
                let (to_code, to_kind) =
                    serves.map_or((String::new(), String::new()), |s| (s.code, s.kind));
                push(
                    "B_05.02",
                    vec![
                        reference_no.clone(),
                        service.kind.clone(),
                        sub.party.id.code.clone(),
                        sub.party.id.kind.clone(),
                        sub.rank.to_string(),
                        to_code,
                        to_kind,
                    ],
                );
            }
            // B_07.01 assesses the services that support a critical or
            // important function (and any whose assessment is given).
            let supports_critical = register.supports_critical(service);
            let assessment_given = service.substitutability.is_some()
                || service.last_audit.is_some()
                || service.exit_plan.is_some()
                || service.reintegration.is_some()
                || service.impact.is_some()
                || service.alternatives.is_some();
            if (supports_critical || assessment_given) && assessed.insert(service.kind.clone()) {
                push(
                    "B_07.01",
                    vec![
                        reference_no.clone(),
                        id_code.clone(),
                        id_kind.clone(),
                        service.kind.clone(),
                        opt(service.substitutability.as_ref()),
                        opt(service.substitutability_reason.as_ref()),
                        opt(service.last_audit),
                        yes_no(service.exit_plan),
                        opt(service.reintegration.as_ref()),
                        opt(service.impact.as_ref()),
                        opt(service.alternatives.as_ref()),
                        opt(service.alternative_providers.as_ref()),
                    ],
                );
            }
        }
    }

    for p in providers.into_values() {
        let (cur, amount) = p.expense.map_or((String::new(), String::new()), |(c, a)| {
            (currency(&c), a.to_plain())
        });
        push(
            "B_05.01",
            vec![
                p.id.code,
                p.id.kind,
                opt(p.extra.as_ref().map(|e| e.code.clone())),
                opt(p.extra.map(|e| e.kind)),
                p.name,
                p.latin,
                p.person,
                if p.country.is_empty() {
                    String::new()
                } else {
                    country(&p.country)
                },
                cur,
                amount,
                opt(p.parent.as_ref().map(|x| x.code.clone())),
                opt(p.parent.map(|x| x.kind)),
            ],
        );
    }

    for f in &register.functions {
        push(
            "B_06.01",
            vec![
                f.id.clone(),
                f.activity.clone(),
                f.name.clone(),
                f.entity.clone(),
                f.critical.clone(),
                opt(f.reasons.as_ref()),
                opt(f.assessed),
                opt(f.rto_hours),
                opt(f.rpo_hours),
                opt(f.impact.as_ref()),
            ],
        );
    }

    if !register.definitions.is_empty() {
        let row = SHAPES
            .iter()
            .find(|s| s.id == "B_99.01")
            .map(|s| {
                s.columns
                    .iter()
                    .map(|(c, _)| register.definitions.get(*c).cloned().unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default();
        push("B_99.01", row);
    }

    let tables = SHAPES
        .iter()
        .map(|shape| Table {
            shape,
            rows: rows.remove(shape.id).unwrap_or_default(),
        })
        .collect();
    Tables { tables, notes }
}

/// A B_01.02 row.
fn entity_row(e: &Entity, reference: NaiveDate) -> Vec<String> {
    vec![
        e.lei.clone(),
        e.name.clone(),
        country(&e.country),
        e.kind.clone(),
        e.hierarchy.clone(),
        e.parent_lei.clone().unwrap_or_else(|| e.lei.clone()),
        reference.to_string(),
        opt(e.integrated),
        OPEN_END.to_owned(),
        opt(e.currency.as_deref().map(currency)),
        opt(e.total_assets.as_ref().map(Amount::to_plain)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_consistent() {
        for shape in &SHAPES {
            for k in shape.keys.iter().chain(shape.mandatory) {
                assert!(shape.index(k).is_some(), "{} {k}", shape.id);
            }
        }
        for fk in FOREIGN_KEYS {
            let from = SHAPES.iter().find(|s| s.id == fk.from).unwrap();
            let to = SHAPES.iter().find(|s| s.id == fk.to).unwrap();
            assert_eq!(fk.columns.len(), fk.to_columns.len());
            for c in fk.columns {
                assert!(from.index(c).is_some(), "{} {c}", fk.from);
            }
            for c in fk.to_columns {
                assert!(to.index(c).is_some(), "{} {c}", fk.to);
            }
        }
    }

    #[test]
    fn amounts_are_plain_decimals() {
        assert_eq!(Amount { cents: 120_000_050 }.to_plain(), "1200000.5");
        assert_eq!(Amount { cents: 120_000_000 }.to_plain(), "1200000");
        assert_eq!(Amount { cents: 5 }.to_plain(), "0.05");
        assert_eq!(Amount { cents: -125 }.to_plain(), "-1.25");
    }
}
