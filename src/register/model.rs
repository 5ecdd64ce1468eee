//! What the registry declares for the Register of Information, as read
//! from the config: the reporting entity and its group, the functions, and
//! per supplier its identity, contract details, services and supply chain.
//! Coded values are held as EBA codes (`eba_TA:S19`); the config takes
//! human words for them (see [`super::codes`]).

use std::collections::BTreeMap;

use chrono::NaiveDate;

/// `[register]`, `[entity]`, `[[function]]` and the register keys of each
/// supplier. Empty for users outside DORA.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Register {
    /// `[register] reference_date`: the date the register is reported as of.
    pub reference_date: Option<NaiveDate>,
    /// `[register] definitions`: B_99.01, the entity's own definitions of
    /// the options it uses (column code → text).
    pub definitions: BTreeMap<String, String>,
    /// `[entity]`: the entity maintaining the register.
    pub entity: Option<Entity>,
    /// `[[function]]`: the functions the ICT services support.
    pub functions: Vec<Function>,
    /// Per supplier id, what it declares for the register.
    pub providers: BTreeMap<String, Provider>,
}

impl Register {
    /// Whether the registry takes part in the Register of Information at
    /// all (an `[entity]` or a `[register]` section).
    #[must_use]
    pub fn is_declared(&self) -> bool {
        self.entity.is_some() || self.reference_date.is_some()
    }

    /// Whether `service` supports a critical or important function (the
    /// services `B_07.01` assesses).
    #[must_use]
    pub fn supports_critical(&self, service: &Service) -> bool {
        service
            .functions
            .iter()
            .any(|f| self.functions.iter().any(|x| &x.id == f && x.is_critical()))
    }
}

/// An entity of the group (the reporting one, one in the scope of
/// consolidation, or an intra-group ICT provider).
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    pub lei: String,
    pub name: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// `eba_CT:x12` …
    pub kind: String,
    /// `eba_RP:x53` …
    pub hierarchy: String,
    /// The direct parent's LEI (its own when it has none).
    pub parent_lei: Option<String>,
    /// ISO 4217.
    pub currency: Option<String>,
    /// Total assets, in units of `currency`.
    pub total_assets: Option<Amount>,
    /// When it entered the register (B_01.02 c0080).
    pub integrated: Option<NaiveDate>,
    /// Only on the reporting entity.
    pub competent_authority: Option<String>,
    /// Only on the reporting entity: a consolidated (`.CON`) report.
    pub consolidated: bool,
    /// Only on the reporting entity: the other entities in scope.
    pub members: Vec<Entity>,
    /// Only on the reporting entity: branches of the group's entities.
    pub branches: Vec<Branch>,
}

/// A branch (B_01.03).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branch {
    pub id: String,
    /// The LEI of its head office (an entity in scope).
    pub head_office: String,
    pub name: String,
    pub country: String,
}

/// A function (B_06.01).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    pub id: String,
    pub name: String,
    /// `eba_TA:x162` …
    pub activity: String,
    /// The entity it is a function of (the reporting entity by default).
    pub entity: String,
    /// `eba_BT:x28` yes, `x29` no, `x21` not assessed.
    pub critical: String,
    pub reasons: Option<String>,
    pub assessed: Option<NaiveDate>,
    pub rto_hours: Option<u32>,
    pub rpo_hours: Option<u32>,
    /// `eba_ZZ:x791` …
    pub impact: Option<String>,
}

impl Function {
    /// Critical or important.
    #[must_use]
    pub fn is_critical(&self) -> bool {
        self.critical == super::codes::YES
    }
}

/// An amount as written in the config: an integer or a decimal, kept as
/// its digits so that the export writes exactly what was declared.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Amount {
    /// In hundredths of the unit (the config takes at most two decimals).
    pub cents: i128,
}

impl Amount {
    /// Plain decimal notation, `.` as the separator, no thousands
    /// separator, no trailing zeros in the fraction.
    #[must_use]
    pub fn to_plain(&self) -> String {
        let sign = if self.cents < 0 { "-" } else { "" };
        let abs = self.cents.unsigned_abs();
        let (units, frac) = (abs / 100, abs % 100);
        match frac {
            0 => format!("{sign}{units}"),
            f if f % 10 == 0 => format!("{sign}{units}.{}", f / 10),
            f => format!("{sign}{units}.{f:02}"),
        }
    }
}

/// An identifier of a provider: an LEI, or an EUID where it has none.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartyId {
    pub code: String,
    /// `eba_qCO:qx2000` (LEI) or `eba_qCO:qx2002` (EUID).
    pub kind: String,
}

/// A provider that is not itself a supplier of the registry: an ultimate
/// parent or a subcontractor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub id: PartyId,
    pub name: String,
    pub country: String,
    /// `eba_CT:x212` legal person, `x213` individual.
    pub person: String,
}

/// What a supplier declares for the register (its LEI, name, country and
/// contract dates come from the supplier itself).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Provider {
    /// `euid`: its EUID, used when it has no LEI.
    pub euid: Option<String>,
    /// `person`: `eba_CT:x212` or `x213`.
    pub person: Option<String>,
    /// `latin_name`: its name in the Latin alphabet, when `name` is not.
    pub latin_name: Option<String>,
    /// `parent`: its ultimate parent, when not itself.
    pub parent: Option<Party>,
    /// `intra_group`: an entity of the group (its LEI is a member's).
    pub intra_group: bool,
    /// The register keys of `[supplier.contract]`.
    pub contract: Option<ContractRecord>,
}

/// The register keys of a contract.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContractRecord {
    /// `eba_CO:x1` standalone, `x2` overarching, `x3` subsequent.
    pub arrangement: Option<String>,
    /// The overarching arrangement's reference (for a subsequent one).
    pub overarching: Option<String>,
    /// `eba_CO:x4` …: why it ended or was terminated.
    pub termination: Option<String>,
    /// The entity's notice period, when the contract declares one.
    pub notice_days: Option<u32>,
    pub provider_notice_days: Option<u32>,
    /// ISO 3166-1 alpha-2.
    pub governing_law: Option<String>,
    pub annual_expense: Option<Amount>,
    /// ISO 4217.
    pub currency: Option<String>,
    /// LEIs of the entities that signed it (the reporting entity by
    /// default).
    pub signed_by: Vec<String>,
    /// LEIs of the entities that use it (the reporting entity by default).
    pub used_by: Vec<String>,
    /// Branches that use it.
    pub branches: Vec<String>,
    /// For an intra-group arrangement: the external arrangements it is
    /// linked to (B_02.03).
    pub linked: Vec<String>,
    /// The ICT services it covers.
    pub services: Vec<Service>,
}

impl ContractRecord {
    /// The entity's notice period in the register (B_02.02 c0100): the
    /// declared one, else the contract's own `notice_days` when it has one.
    #[must_use]
    pub fn entity_notice_days(&self, contract: &crate::registry::Contract) -> Option<u32> {
        self.notice_days
            .or((contract.notice_days > 0).then_some(contract.notice_days))
    }
}

/// One ICT service of a contract.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Service {
    /// `eba_TA:S01` … `S19`.
    pub kind: String,
    /// Function ids it supports.
    pub functions: Vec<String>,
    /// Country of provision.
    pub country: Option<String>,
    pub stores_data: Option<bool>,
    /// Locations of the data at rest.
    pub storage: Vec<String>,
    /// Locations where the data is processed.
    pub processing: Vec<String>,
    /// `eba_ZZ:x791` …
    pub sensitiveness: Option<String>,
    /// `eba_ZZ:x794` …
    pub reliance: Option<String>,
    /// `eba_ZZ:x959` …
    pub substitutability: Option<String>,
    /// `eba_ZZ:x963` …
    pub substitutability_reason: Option<String>,
    pub last_audit: Option<NaiveDate>,
    pub exit_plan: Option<bool>,
    /// `eba_ZZ:x798` …
    pub reintegration: Option<String>,
    /// `eba_ZZ:x791` …
    pub impact: Option<String>,
    /// `eba_BT:x28` / `x29` / `x21`.
    pub alternatives: Option<String>,
    pub alternative_providers: Option<String>,
    /// Its supply chain, rank 2 and deeper.
    pub subcontractors: Vec<Subcontractor>,
}

/// A subcontractor in a service's supply chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subcontractor {
    pub party: Party,
    /// 2 for the provider's own subcontractor, 3 for theirs …
    pub rank: u32,
    /// Whom it serves: the provider (rank 2, by default) or a subcontractor
    /// one rank up.
    pub serves: Option<PartyId>,
}
