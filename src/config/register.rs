//! `[register]`, `[entity]`, `[[function]]` and the register keys of each
//! `[[supplier]]`: the DORA Register of Information, read into
//! [`crate::register::Register`] with located errors, and cross-checked
//! (functions against services, LEIs against the group, dates against the
//! reference date). Depends on the reader, the suppliers already read and
//! the register's model and code lists; nothing here touches the network or
//! the store.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::diagnostic::did_you_mean;
use super::reader::{Reader, Table, Value};
use crate::register::codes::{self, Code};
use crate::register::codes_iso;
use crate::register::{
    Amount, Branch, ContractRecord, Entity, Function, Party, PartyId, Provider, Register, Service,
    Subcontractor,
};
use crate::registry::{Supplier, SupplierId};

pub(super) const REGISTER_KEYS: &[&str] = &["reference_date", "definitions"];
pub(super) const ENTITY_KEYS: &[&str] = &[
    "lei",
    "name",
    "country",
    "type",
    "competent_authority",
    "currency",
    "total_assets",
    "consolidated",
    "hierarchy",
    "parent_lei",
    "integrated",
    "member",
    "branch",
];
const MEMBER_KEYS: &[&str] = &[
    "lei",
    "name",
    "country",
    "type",
    "hierarchy",
    "parent_lei",
    "currency",
    "total_assets",
    "integrated",
];
const BRANCH_KEYS: &[&str] = &["id", "name", "country", "head_office"];
pub(super) const FUNCTION_KEYS: &[&str] = &[
    "id",
    "name",
    "activity",
    "entity",
    "critical",
    "reasons",
    "assessed",
    "rto_hours",
    "rpo_hours",
    "impact",
];
/// The register keys of a `[[supplier]]` (sections.rs lists them among
/// the supplier's known keys too).
pub(super) const SUPPLIER_KEYS: &[&str] =
    &["euid", "person", "latin_name", "parent", "intra_group"];
/// The register keys of a `[supplier.contract]`.
pub(super) const CONTRACT_KEYS: &[&str] = &[
    "arrangement",
    "overarching",
    "termination",
    "provider_notice_days",
    "governing_law",
    "annual_expense",
    "currency",
    "signed_by",
    "used_by",
    "branches",
    "linked",
    "service",
];
const PARENT_KEYS: &[&str] = &["lei", "euid", "name", "country", "person"];
const SERVICE_KEYS: &[&str] = &[
    "type",
    "functions",
    "country",
    "stores_data",
    "storage",
    "processing",
    "sensitiveness",
    "reliance",
    "substitutability",
    "substitutability_reason",
    "last_audit",
    "exit_plan",
    "reintegration",
    "impact",
    "alternatives",
    "alternative_providers",
    "subcontractor",
];
const SUBCONTRACTOR_KEYS: &[&str] = &["rank", "lei", "euid", "name", "country", "person", "serves"];

/// The EEA states, whose business registers issue EUIDs.
const EEA: &[&str] = &[
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IS",
    "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// The register: read after the suppliers, whose LEIs and contracts it
/// checks against. Errors go to `r`; what is returned is meaningful only
/// when `r` has none.
pub(super) fn register(
    r: &mut Reader<'_>,
    root: Table<'_, '_>,
    suppliers: &[Supplier],
) -> Register {
    let mut out = Register::default();
    if let Some((entries, start)) = r.table(root, "register") {
        let t = Table {
            entries,
            start,
            path: "register",
        };
        r.refuse_unknown(t, REGISTER_KEYS);
        out.reference_date = r.date(t, "reference_date", false).map(|(d, _)| d);
        out.definitions = definitions(r, t);
    }
    let entity = if let Some((entries, start)) = r.table(root, "entity") {
        entity(
            r,
            Table {
                entries,
                start,
                path: "entity",
            },
        )
    } else {
        None
    };
    let declared = root.get("entity").is_some();
    let group: Vec<String> = entity.as_ref().map_or_else(Vec::new, |e| {
        std::iter::once(e.lei.clone())
            .chain(e.members.iter().map(|m| m.lei.clone()))
            .collect()
    });
    let mut context = Context {
        declared,
        reported_missing: false,
        entity_lei: entity.as_ref().map(|e| e.lei.clone()),
        group,
        branches: entity
            .as_ref()
            .map(|e| e.branches.iter().map(|b| b.id.clone()).collect())
            .unwrap_or_default(),
        function_ids: HashSet::new(),
        used_functions: HashSet::new(),
        reference_date: out.reference_date,
    };
    let functions = functions(r, root, &mut context);
    context.function_ids = functions.iter().map(|(f, _)| f.id.clone()).collect();
    out.providers = providers(r, root, suppliers, &mut context);
    for (function, span) in &functions {
        if !context.used_functions.contains(&function.id) {
            r.error(
                span,
                format!("function[{}].id", function.id),
                format!(
                    "function {} is supported by no contract's service; list it in a service's `functions`",
                    function.id
                ),
            );
        }
    }
    out.functions = functions.into_iter().map(|(f, _)| f).collect();
    out.entity = entity;
    if out.is_declared() {
        duplicate_references(r, root);
    }
    out
}

/// In a register, a contract reference is a key (`B_02.01`): two suppliers'
/// contracts may not share one.
fn duplicate_references(r: &mut Reader<'_>, root: Table<'_, '_>) {
    let Some(DeValue::Array(items)) = root.get("supplier").map(Value::get_ref) else {
        return;
    };
    let mut seen: HashMap<String, (String, usize)> = HashMap::new();
    for item in items {
        let DeValue::Table(table) = item.get_ref() else {
            continue;
        };
        let id = table
            .get("id")
            .and_then(|v| v.get_ref().as_str())
            .unwrap_or_default();
        let Some(DeValue::Table(contract)) = table.get("contract").map(Value::get_ref) else {
            continue;
        };
        let Some(reference) = contract.get("reference") else {
            continue;
        };
        let Some(text) = reference.get_ref().as_str() else {
            continue;
        };
        let text = text.trim().to_owned();
        let span = reference.span();
        if let Some((first, offset)) = seen.get(&text) {
            let line = r.line_of(*offset);
            r.error(
                &span,
                format!("supplier[{id}].contract.reference"),
                format!(
                    "contract reference {text:?} is supplier {first}'s too (line {line}): in the Register of Information each contract has its own reference"
                ),
            );
        } else {
            seen.insert(text, (id.to_owned(), span.start));
        }
    }
}

/// What the parts of the register are checked against.
struct Context {
    /// An `[entity]` section is present (valid or not).
    declared: bool,
    /// "needs an [entity] section" was said once already.
    reported_missing: bool,
    entity_lei: Option<String>,
    /// The reporting entity's LEI and its members'.
    group: Vec<String>,
    branches: HashSet<String>,
    function_ids: HashSet<String>,
    used_functions: HashSet<String>,
    reference_date: Option<chrono::NaiveDate>,
}

impl Context {
    /// Register data without an `[entity]` section: said once, where it
    /// is first used.
    fn need_entity(&mut self, r: &mut Reader<'_>, span: &Range<usize>, key: String) {
        if !self.declared && !self.reported_missing {
            self.reported_missing = true;
            r.error(
                span,
                key,
                "register data needs an [entity] section: the entity maintaining the register",
            );
        }
    }

    /// Checks that `lei` is the reporting entity's or a member's.
    fn in_group(&self, r: &mut Reader<'_>, lei: &str, span: &Range<usize>, key: String) -> bool {
        // Without a valid [entity] the group is unknown: its own error
        // says so, and every LEI is not refused again.
        if self.entity_lei.is_none() || self.group.iter().any(|g| g == lei) {
            return true;
        }
        r.error(
            span,
            key,
            format!("{lei:?} is neither entity.lei nor the LEI of an [[entity.member]]"),
        );
        false
    }
}

// ---------------------------------------------------------------------------
// Typed values.

/// A coded value: its word, bare code or prefixed code; returns the
/// prefixed code.
fn coded(
    r: &mut Reader<'_>,
    t: Table<'_, '_>,
    key: &str,
    list: &'static [Code],
    required: bool,
) -> Option<String> {
    let (text, span) = if required {
        r.required_string(t, key)?
    } else {
        r.string(t, key)?
    };
    if let Some(code) = codes::lookup(list, text) {
        return Some(code.code.to_owned());
    }
    let words = codes::words(list);
    let hint = did_you_mean(text, &words)
        .map(|s| format!("; did you mean \"{s}\"?"))
        .unwrap_or_default();
    r.error(
        &span,
        t.key(key),
        format!("{text:?} is not one of {}{hint}", words.join(" | ")),
    );
    None
}

/// `true`/`false`, or a word of yes / no / not-assessed.
fn yes_no(r: &mut Reader<'_>, t: Table<'_, '_>, key: &str, required: bool) -> Option<String> {
    match t.get(key).map(Value::get_ref) {
        None if required => {
            r.missing(t, key);
            None
        }
        None => None,
        Some(DeValue::Boolean(b)) => Some(if *b { codes::YES } else { codes::NO }.to_owned()),
        Some(_) => coded(r, t, key, codes::YES_NO_NOT_ASSESSED, required),
    }
}

/// The message for an invalid LEI.
/// Why an LEI or a country code is refused.
#[derive(Debug, thiserror::Error)]
pub(super) enum CodeError {
    #[error(
        "malformed LEI {lei:?}: {error} (an ISO 17442 LEI is 20 upper-case letters and digits ending in two check digits)"
    )]
    Lei {
        lei: String,
        error: codes_iso::LeiError,
    },
    #[error("unknown country {0:?}: not an assigned ISO 3166-1 alpha-2 code such as \"NL\"")]
    UnknownCountry(String),
    #[error("malformed country {0:?}: use an ISO 3166-1 alpha-2 code such as \"NL\"")]
    MalformedCountry(String),
}

/// Checks an LEI value (ISO 17442 with its check digits).
pub(super) fn check_lei(lei: &str) -> Result<(), CodeError> {
    codes_iso::lei_check(lei).map_err(|error| CodeError::Lei {
        lei: lei.to_owned(),
        error,
    })
}

/// Checks an ISO 3166-1 alpha-2 code against the assigned codes.
pub(super) fn check_country(code: &str) -> Result<(), CodeError> {
    if codes_iso::is_country(code) {
        Ok(())
    } else if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Err(CodeError::UnknownCountry(code.to_owned()))
    } else {
        Err(CodeError::MalformedCountry(code.to_owned()))
    }
}

fn lei(r: &mut Reader<'_>, t: Table<'_, '_>, key: &str, required: bool) -> Option<String> {
    let (text, span) = if required {
        r.required_string(t, key)?
    } else {
        r.string(t, key)?
    };
    match check_lei(text) {
        Ok(()) => Some(text.to_owned()),
        Err(message) => {
            r.error(&span, t.key(key), message.to_string());
            None
        }
    }
}

fn country(r: &mut Reader<'_>, t: Table<'_, '_>, key: &str, required: bool) -> Option<String> {
    let (text, span) = if required {
        r.required_string(t, key)?
    } else {
        r.string(t, key)?
    };
    match check_country(text) {
        Ok(()) => Some(text.to_owned()),
        Err(message) => {
            r.error(&span, t.key(key), message.to_string());
            None
        }
    }
}

fn countries(r: &mut Reader<'_>, t: Table<'_, '_>, key: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (text, span, item_key) in r.strings(t, key, false) {
        match check_country(text) {
            Ok(()) => out.push(text.to_owned()),
            Err(message) => r.error(&span, item_key, message.to_string()),
        }
    }
    out
}

fn currency(r: &mut Reader<'_>, t: Table<'_, '_>, key: &str) -> Option<(String, Range<usize>)> {
    let (text, span) = r.string(t, key)?;
    if codes_iso::is_currency(text) {
        Some((text.to_owned(), span))
    } else {
        r.error(
            &span,
            t.key(key),
            format!("unknown currency {text:?}: use an ISO 4217 code such as \"EUR\""),
        );
        None
    }
}

/// Whether `text` has the shape of an EUID: an EEA country, the register's
/// letters and digits, a `.`, the number.
fn is_euid(text: &str) -> bool {
    let Some((register, number)) = text.split_once('.') else {
        return false;
    };
    let (Some(country), Some(rest)) = (register.get(..2), register.get(2..)) else {
        return false;
    };
    EEA.contains(&country)
        && !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn euid(r: &mut Reader<'_>, t: Table<'_, '_>, key: &str) -> Option<String> {
    let (text, span) = r.string(t, key)?;
    if is_euid(text) {
        Some(text.to_owned())
    } else {
        r.error(
            &span,
            t.key(key),
            format!("malformed EUID {text:?}: an EEA country code, the business register's code, a '.', then the number, e.g. \"NLNHR.12345678\""),
        );
        None
    }
}

/// An integer or a decimal with at most two decimals, not negative.
fn amount(r: &mut Reader<'_>, t: Table<'_, '_>, key: &str) -> Option<(Amount, Range<usize>)> {
    let value = t.get(key)?;
    let text = match value.get_ref() {
        DeValue::Integer(i) if i.radix() == 10 => i.as_str(),
        DeValue::Float(f) => f.as_str(),
        _ => {
            r.type_error(value, t.key(key), "an amount such as 1200000.50");
            return None;
        }
    };
    let cents = parse_cents(&text.replace('_', ""));
    if let Some(cents) = cents {
        return Some((Amount { cents }, value.span()));
    }
    r.error(
        &value.span(),
        t.key(key),
        format!("{text} is not an amount: write a number of at least 0 with at most two decimals, e.g. 1200000.50"),
    );
    None
}

/// "1200000.5" → 120000050; `None` for negatives, exponents and more than
/// two decimals.
fn parse_cents(text: &str) -> Option<i128> {
    let text = text.strip_prefix('+').unwrap_or(text);
    let (units, fraction) = text.split_once('.').unwrap_or((text, ""));
    if units.is_empty()
        || !units.bytes().all(|b| b.is_ascii_digit())
        || fraction.len() > 2
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let units: i128 = units.parse().ok()?;
    let fraction: i128 = format!("{fraction:0<2}").parse().ok()?;
    units.checked_mul(100)?.checked_add(fraction)
}

fn small(r: &mut Reader<'_>, t: Table<'_, '_>, key: &str, max: i64) -> Option<u32> {
    r.integer(t, key, 0..=max)
        .and_then(|n| u32::try_from(n).ok())
}

/// An array of tables (`[[function]]`, `[[entity.member]]` …), each with
/// its label for messages.
fn tables<'t, 'i>(
    r: &mut Reader<'_>,
    parent: Table<'t, 'i>,
    key: &str,
) -> Vec<(&'t DeTable<'i>, usize, usize)> {
    let Some(value) = parent.get(key) else {
        return Vec::new();
    };
    let DeValue::Array(items) = value.get_ref() else {
        r.error(
            &value.span(),
            parent.key(key),
            format!(
                "expected [[{}]] tables (an array of tables)",
                parent.key(key)
            ),
        );
        return Vec::new();
    };
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        if let DeValue::Table(table) = item.get_ref() {
            out.push((table, item.span().start, index));
        } else {
            r.type_error(item, format!("{}[{index}]", parent.key(key)), "a table");
        }
    }
    out
}

/// `label[id]` when the table has a string id, else `label[index]`.
fn label(parent: &str, table: &DeTable<'_>, id_key: &str, index: usize) -> String {
    match table.get(id_key).and_then(|v| v.get_ref().as_str()) {
        Some(id) if !id.trim().is_empty() && !id.contains(['[', ']']) => {
            format!("{parent}[{}]", id.trim())
        }
        _ => format!("{parent}[{index}]"),
    }
}

// ---------------------------------------------------------------------------
// Sections.

/// `definitions = { "c0010" = "…" }`: `B_99.01` columns c0010 to c0190.
fn definitions(r: &mut Reader<'_>, t: Table<'_, '_>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some((entries, start)) = r.table(t, "definitions") else {
        return out;
    };
    let path = t.key("definitions");
    let dt = Table {
        entries,
        start,
        path: &path,
    };
    for (key, _) in entries {
        let name: &str = key.get_ref();
        let column = name
            .strip_prefix('c')
            .filter(|d| d.len() == 4 && d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<u32>().ok())
            .filter(|n| (10..=190).contains(n) && n % 10 == 0);
        if column.is_none() {
            r.error(
                &key.span(),
                dt.key(name),
                "not a B_99.01 column: use c0010, c0020 … c0190",
            );
            continue;
        }
        if let Some(text) = r.text(dt, name, false) {
            out.insert(name.to_owned(), text);
        }
    }
    out
}

fn entity(r: &mut Reader<'_>, t: Table<'_, '_>) -> Option<Entity> {
    r.refuse_unknown(t, ENTITY_KEYS);
    let lei = lei(r, t, "lei", true);
    let name = r.text(t, "name", true);
    let country = country(r, t, "country", true);
    let kind = coded(r, t, "type", codes::ENTITY_TYPES, true);
    let competent_authority = r.text(t, "competent_authority", true);
    let (currency, total_assets) = assets(r, t);
    let consolidated = r.boolean(t, "consolidated").unwrap_or(false);
    let hierarchy = if t.get("hierarchy").is_some() {
        coded(r, t, "hierarchy", codes::HIERARCHY, false)
    } else {
        codes::lookup(codes::HIERARCHY, "ultimate-parent").map(|c| c.code.to_owned())
    };
    let parent_lei = self::lei(r, t, "parent_lei", false);
    let integrated = r.date(t, "integrated", false).map(|(d, _)| d);
    let lei = lei?;
    let members = members(r, t, &lei);
    let group: Vec<&str> = std::iter::once(lei.as_str())
        .chain(members.iter().map(|m| m.lei.as_str()))
        .collect();
    let branches = branches(r, t, &lei, &group);
    Some(Entity {
        lei,
        name: name?,
        country: country?,
        kind: kind?,
        hierarchy: hierarchy?,
        parent_lei,
        currency,
        total_assets,
        integrated,
        competent_authority: Some(competent_authority?),
        consolidated,
        members,
        branches,
    })
}

/// `currency` and `total_assets`: a currency is required with an amount.
fn assets(r: &mut Reader<'_>, t: Table<'_, '_>) -> (Option<String>, Option<Amount>) {
    let currency = currency(r, t, "currency");
    let total = amount(r, t, "total_assets");
    if let Some((_, span)) = &total
        && t.get("currency").is_none()
    {
        r.error(
            span,
            t.key("currency"),
            "total_assets needs a currency (ISO 4217, e.g. \"EUR\")",
        );
    }
    (currency.map(|(c, _)| c), total.map(|(a, _)| a))
}

fn members(r: &mut Reader<'_>, t: Table<'_, '_>, entity_lei: &str) -> Vec<Entity> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    seen.insert(entity_lei.to_owned(), t.start);
    let mut out = Vec::new();
    for (table, start, index) in tables(r, t, "member") {
        let path = label(&t.key("member"), table, "lei", index);
        let mt = Table {
            entries: table,
            start,
            path: &path,
        };
        r.refuse_unknown(mt, MEMBER_KEYS);
        let lei = lei(r, mt, "lei", true);
        let name = r.text(mt, "name", true);
        let country = country(r, mt, "country", true);
        let kind = coded(r, mt, "type", codes::ENTITY_TYPES, true);
        let hierarchy = coded(r, mt, "hierarchy", codes::HIERARCHY, true);
        let parent_lei = self::lei(r, mt, "parent_lei", false);
        let (currency, total_assets) = assets(r, mt);
        let integrated = r.date(mt, "integrated", false).map(|(d, _)| d);
        let Some(lei) = lei else { continue };
        if let Some(first) = seen.get(&lei) {
            let line = r.line_of(*first);
            let span = mt.get("lei").map_or(0..0, toml::Spanned::span);
            r.error(
                &span,
                mt.key("lei"),
                format!("LEI {lei:?} is already in the register's scope on line {line}"),
            );
            continue;
        }
        seen.insert(lei.clone(), mt.get("lei").map_or(start, |v| v.span().start));
        let (Some(name), Some(country), Some(kind), Some(hierarchy)) =
            (name, country, kind, hierarchy)
        else {
            continue;
        };
        out.push(Entity {
            lei,
            name,
            country,
            kind,
            hierarchy,
            parent_lei,
            currency,
            total_assets,
            integrated,
            competent_authority: None,
            consolidated: false,
            members: Vec::new(),
            branches: Vec::new(),
        });
    }
    out
}

fn branches(r: &mut Reader<'_>, t: Table<'_, '_>, entity_lei: &str, group: &[&str]) -> Vec<Branch> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for (table, start, index) in tables(r, t, "branch") {
        let path = label(&t.key("branch"), table, "id", index);
        let bt = Table {
            entries: table,
            start,
            path: &path,
        };
        r.refuse_unknown(bt, BRANCH_KEYS);
        let id = r.text(bt, "id", true);
        let name = r.text(bt, "name", true);
        let country = country(r, bt, "country", true);
        let head_office = match bt.get("head_office") {
            None => Some(entity_lei.to_owned()),
            Some(value) => match lei(r, bt, "head_office", false) {
                Some(l) if group.contains(&l.as_str()) => Some(l),
                Some(l) => {
                    r.error(
                        &value.span(),
                        bt.key("head_office"),
                        format!("{l:?} is neither entity.lei nor the LEI of an [[entity.member]]"),
                    );
                    None
                }
                None => None,
            },
        };
        let Some(id) = id else { continue };
        let id_start = bt.get("id").map_or(start, |v| v.span().start);
        if let Some(first) = seen.get(&id) {
            let line = r.line_of(*first);
            r.error(
                &(id_start..id_start),
                bt.key("id"),
                format!("duplicate branch id {id:?}; it is already used on line {line}"),
            );
            continue;
        }
        seen.insert(id.clone(), id_start);
        if let (Some(name), Some(country), Some(head_office)) = (name, country, head_office) {
            out.push(Branch {
                id,
                head_office,
                name,
                country,
            });
        }
    }
    out
}

fn functions(
    r: &mut Reader<'_>,
    root: Table<'_, '_>,
    cx: &mut Context,
) -> Vec<(Function, Range<usize>)> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for (table, start, index) in tables(r, root, "function") {
        let path = label("function", table, "id", index);
        let ft = Table {
            entries: table,
            start,
            path: &path,
        };
        cx.need_entity(r, &(start..start), "entity".to_owned());
        r.refuse_unknown(ft, FUNCTION_KEYS);
        let id = r.text(ft, "id", true);
        let name = r.text(ft, "name", true);
        let activity = coded(r, ft, "activity", codes::ACTIVITIES, true);
        let entity = match ft.get("entity") {
            None => cx.entity_lei.clone(),
            Some(value) => lei(r, ft, "entity", false)
                .filter(|l| cx.in_group(r, l, &value.span(), ft.key("entity"))),
        };
        let critical = yes_no(r, ft, "critical", true);
        let reasons = r.text(ft, "reasons", false);
        if let (Some(text), Some(value)) = (&reasons, ft.get("reasons"))
            && text.chars().count() > 300
        {
            r.error(
                &value.span(),
                ft.key("reasons"),
                format!("at most 300 characters, this has {}", text.chars().count()),
            );
        }
        let assessed = r.date(ft, "assessed", false).map(|(d, _)| d);
        let recovery_time = small(r, ft, "rto_hours", 87_600);
        let recovery_point = small(r, ft, "rpo_hours", 87_600);
        let impact = coded(r, ft, "impact", codes::IMPACT, false);
        let Some(id) = id else { continue };
        let span = ft.get("id").map_or(start..start, toml::Spanned::span);
        if let Some(first) = seen.get(&id) {
            let line = r.line_of(*first);
            r.error(
                &span,
                ft.key("id"),
                format!("duplicate function id {id:?}; it is already used on line {line}"),
            );
            continue;
        }
        seen.insert(id.clone(), span.start);
        if let (Some(name), Some(activity), Some(entity), Some(critical)) =
            (name, activity, entity, critical)
        {
            out.push((
                Function {
                    id,
                    name,
                    activity,
                    entity,
                    critical,
                    reasons,
                    assessed,
                    rto_hours: recovery_time,
                    rpo_hours: recovery_point,
                    impact,
                },
                span,
            ));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Suppliers.

fn providers(
    r: &mut Reader<'_>,
    root: Table<'_, '_>,
    suppliers: &[Supplier],
    cx: &mut Context,
) -> BTreeMap<String, Provider> {
    let mut out = BTreeMap::new();
    let Some(DeValue::Array(items)) = root.get("supplier").map(Value::get_ref) else {
        return out;
    };
    for item in items {
        let DeValue::Table(table) = item.get_ref() else {
            continue;
        };
        // Only the suppliers that were read (a valid id, seen first).
        let Some(id) = table
            .get("id")
            .and_then(|v| v.get_ref().as_str())
            .filter(|id| id.parse::<SupplierId>().is_ok())
        else {
            continue;
        };
        // A supplier refused for another reason is still read here, so
        // that its services count for the functions they support.
        let supplier = suppliers.iter().find(|s| s.id.as_str() == id);
        if out.contains_key(id) {
            continue;
        }
        let path = format!("supplier[{id}]");
        let t = Table {
            entries: table,
            start: item.span().start,
            path: &path,
        };
        if let Some(provider) = provider(r, t, supplier, suppliers, cx) {
            out.insert(id.to_owned(), provider);
        }
    }
    out
}

/// The offset and dotted name of the first of `keys` in `t`.
fn first_key(t: Table<'_, '_>, keys: &[&str]) -> Option<(usize, String)> {
    t.entries
        .iter()
        .filter(|(k, _)| keys.contains(&k.get_ref().as_ref()))
        .map(|(k, _)| (k.span().start, t.key(k.get_ref())))
        .min()
}

fn provider(
    r: &mut Reader<'_>,
    t: Table<'_, '_>,
    supplier: Option<&Supplier>,
    all: &[Supplier],
    cx: &mut Context,
) -> Option<Provider> {
    let contract_table = match t.get("contract").map(Value::get_ref) {
        Some(DeValue::Table(c)) => Some((c, t.get("contract").map_or(0, |v| v.span().start))),
        _ => None,
    };
    let contract_path = t.key("contract");
    let ct = contract_table.map(|(entries, start)| Table {
        entries,
        start,
        path: &contract_path,
    });
    let contract_first = ct.and_then(|c| first_key(c, CONTRACT_KEYS));
    let first = match (first_key(t, SUPPLIER_KEYS), contract_first.clone()) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    cx.need_entity(r, &(first.0..first.0), first.1);

    let euid = euid(r, t, "euid");
    let person = coded(r, t, "person", codes::PERSON, false);
    let latin_name = r.text(t, "latin_name", false);
    let parent = match r.table(t, "parent") {
        Some((entries, start)) => {
            let path = t.key("parent");
            party(
                r,
                Table {
                    entries,
                    start,
                    path: &path,
                },
                PARENT_KEYS,
            )
        }
        None => None,
    };
    let intra_group = r.boolean(t, "intra_group").unwrap_or(false);
    if intra_group {
        check_intra_group(r, t, supplier, cx);
    }
    let provider_id = supplier
        .and_then(|s| s.lei.clone())
        .map(|code| PartyId {
            code,
            kind: codes::ID_LEI.to_owned(),
        })
        .or_else(|| {
            euid.clone().map(|code| PartyId {
                code,
                kind: codes::ID_EUID.to_owned(),
            })
        });
    let contract = match ct {
        Some(ct) if contract_first.is_some() => Some(contract(
            r,
            ct,
            supplier,
            all,
            intra_group,
            provider_id.as_ref(),
            cx,
        )),
        _ => None,
    };
    if let (Some(ct), Some(reference), Some(c)) = (
        ct,
        cx.reference_date,
        supplier.and_then(|s| s.contract.as_ref()),
    ) && c.start > reference
        && let Some(value) = ct.get("start")
    {
        r.error(
            &value.span(),
            ct.key("start"),
            format!(
                "the contract starts ({}) after the register's reference date ({reference})",
                c.start
            ),
        );
    }
    Some(Provider {
        euid,
        person,
        latin_name,
        parent,
        intra_group,
        contract,
    })
}

/// An intra-group provider is an entity of the group: its LEI is the
/// reporting entity's or a member's.
fn check_intra_group(
    r: &mut Reader<'_>,
    t: Table<'_, '_>,
    supplier: Option<&Supplier>,
    cx: &Context,
) {
    if let Some(value) = t.get("intra_group")
        && let Some(supplier) = supplier
    {
        match &supplier.lei {
            Some(lei) => {
                if cx.entity_lei.is_some() && !cx.group.iter().any(|g| g == lei) {
                    let span = t.get("lei").map_or(value.span(), toml::Spanned::span);
                    r.error(
                        &span,
                        t.key("lei"),
                        format!("an intra-group provider's LEI must be entity.lei or an [[entity.member]]'s; {lei:?} is neither"),
                    );
                }
            }
            None => r.error(
                &value.span(),
                t.key("lei"),
                "an intra-group provider needs its `lei`: entity.lei or an [[entity.member]]'s",
            ),
        }
    }
}

/// An ultimate parent or a subcontractor: `lei` or `euid`, `name`,
/// `country`, `person` (legal by default).
fn party(r: &mut Reader<'_>, t: Table<'_, '_>, known: &'static [&'static str]) -> Option<Party> {
    r.refuse_unknown(t, known);
    let lei = lei(r, t, "lei", false);
    let euid = euid(r, t, "euid");
    if t.get("lei").is_none() && t.get("euid").is_none() {
        r.error(
            &t.header_span(),
            t.key("lei"),
            "this required key is missing: give `lei`, or `euid` when it has no LEI",
        );
    }
    let name = r.text(t, "name", true);
    let country = country(r, t, "country", true);
    let person = if t.get("person").is_some() {
        coded(r, t, "person", codes::PERSON, false)
    } else {
        codes::lookup(codes::PERSON, "legal").map(|c| c.code.to_owned())
    };
    let id = lei
        .map(|code| PartyId {
            code,
            kind: codes::ID_LEI.to_owned(),
        })
        .or_else(|| {
            euid.map(|code| PartyId {
                code,
                kind: codes::ID_EUID.to_owned(),
            })
        });
    Some(Party {
        id: id?,
        name: name?,
        country: country?,
        person: person?,
    })
}

/// LEIs of the group, `entity.lei` when absent.
fn group_leis(r: &mut Reader<'_>, t: Table<'_, '_>, key: &str, cx: &Context) -> Vec<String> {
    if t.get(key).is_none() {
        return cx.entity_lei.iter().cloned().collect();
    }
    let mut out = Vec::new();
    for (text, span, item_key) in r.strings(t, key, false) {
        if let Err(message) = check_lei(text) {
            r.error(&span, item_key, message.to_string());
        } else if cx.in_group(r, text, &span, item_key) {
            out.push(text.to_owned());
        }
    }
    out
}

fn contract(
    r: &mut Reader<'_>,
    t: Table<'_, '_>,
    supplier: Option<&Supplier>,
    all: &[Supplier],
    intra_group: bool,
    provider: Option<&PartyId>,
    cx: &mut Context,
) -> ContractRecord {
    let arrangement = coded(r, t, "arrangement", codes::ARRANGEMENTS, false);
    let overarching = r.text(t, "overarching", false);
    if arrangement.as_deref() == Some(codes::SUBSEQUENT)
        && t.get("overarching").is_none()
        && let Some(value) = t.get("arrangement")
    {
        r.error(
            &value.span(),
            t.key("overarching"),
            "a subsequent arrangement needs `overarching`: the reference of its overarching arrangement",
        );
    }
    let termination = coded(r, t, "termination", codes::TERMINATIONS, false);
    let provider_notice_days = small(r, t, "provider_notice_days", 3650);
    let governing_law = country(r, t, "governing_law", false);
    let annual_expense = amount(r, t, "annual_expense");
    let currency = currency(r, t, "currency");
    match (&annual_expense, t.get("currency")) {
        (Some((_, span)), None) => r.error(
            span,
            t.key("annual_expense"),
            "an amount without a currency: add `currency` (ISO 4217, e.g. \"EUR\")",
        ),
        (None, Some(value)) if t.get("annual_expense").is_none() => r.error(
            &value.span(),
            t.key("currency"),
            "a currency without an amount: add `annual_expense` or remove `currency`",
        ),
        _ => {}
    }
    let signed_by = group_leis(r, t, "signed_by", cx);
    let used_by = group_leis(r, t, "used_by", cx);
    let mut branches = Vec::new();
    for (text, span, item_key) in r.strings(t, "branches", false) {
        if cx.branches.contains(text) {
            branches.push(text.to_owned());
        } else {
            r.error(
                &span,
                item_key,
                format!("unknown branch {text:?}: no [[entity.branch]] has this id"),
            );
        }
    }
    let linked = linked(r, t, supplier, all, intra_group);
    let mut services = Vec::new();
    for (table, start, index) in tables(r, t, "service") {
        let path = format!("{}[{index}]", t.key("service"));
        let st = Table {
            entries: table,
            start,
            path: &path,
        };
        if let Some(service) = service(r, st, provider, cx) {
            services.push(service);
        }
    }
    ContractRecord {
        arrangement,
        overarching,
        termination,
        // As declared: a missing `notice_days` (0 for the deadlines) is not
        // reported as a notice period of 0 days.
        notice_days: t
            .get("notice_days")
            .and_then(|_| supplier.and_then(|s| s.contract.as_ref()))
            .map(|c| c.notice_days),
        provider_notice_days,
        governing_law,
        annual_expense: annual_expense.map(|(a, _)| a),
        currency: currency.map(|(c, _)| c),
        signed_by,
        used_by,
        branches,
        linked,
        services,
    }
}

/// `linked`: the external contracts an intra-group contract is linked to
/// (`B_02.03`), each another supplier's contract reference.
fn linked(
    r: &mut Reader<'_>,
    t: Table<'_, '_>,
    supplier: Option<&Supplier>,
    all: &[Supplier],
    intra_group: bool,
) -> Vec<String> {
    let mut linked = Vec::new();
    let linked_items = r.strings(t, "linked", false);
    if !intra_group && let Some(value) = t.get("linked") {
        r.error(
            &value.span(),
            t.key("linked"),
            "only an intra-group provider's contract (intra_group = true) is linked to other arrangements",
        );
    } else {
        for (text, span, item_key) in linked_items {
            let known = all.iter().any(|s| {
                supplier.is_none_or(|this| s.id != this.id)
                    && s.contract.as_ref().is_some_and(|c| c.reference == text)
            });
            if known {
                linked.push(text.to_owned());
            } else {
                r.error(
                    &span,
                    item_key,
                    format!(
                        "unknown contract {text:?}: no other supplier's contract has this reference"
                    ),
                );
            }
        }
    }
    linked
}

fn service(
    r: &mut Reader<'_>,
    t: Table<'_, '_>,
    provider: Option<&PartyId>,
    cx: &mut Context,
) -> Option<Service> {
    r.refuse_unknown(t, SERVICE_KEYS);
    let kind = coded(r, t, "type", codes::SERVICE_TYPES, true);
    let mut functions = Vec::new();
    for (text, span, item_key) in r.strings(t, "functions", false) {
        if cx.function_ids.contains(text) {
            cx.used_functions.insert(text.to_owned());
            functions.push(text.to_owned());
        } else {
            r.error(
                &span,
                item_key,
                format!("unknown function {text:?}: no [[function]] has this id"),
            );
        }
    }
    let country = country(r, t, "country", false);
    let stores_data = r.boolean(t, "stores_data");
    let storage = countries(r, t, "storage");
    let processing = countries(r, t, "processing");
    let sensitiveness = coded(r, t, "sensitiveness", codes::SENSITIVENESS, false);
    let reliance = coded(r, t, "reliance", codes::RELIANCE, false);
    let substitutability = coded(r, t, "substitutability", codes::SUBSTITUTABILITY, false);
    let substitutability_reason = coded(
        r,
        t,
        "substitutability_reason",
        codes::SUBSTITUTABILITY_REASONS,
        false,
    );
    let last_audit = r.date(t, "last_audit", false).map(|(d, _)| d);
    let exit_plan = r.boolean(t, "exit_plan");
    let reintegration = coded(r, t, "reintegration", codes::REINTEGRATION, false);
    let impact = coded(r, t, "impact", codes::IMPACT, false);
    let alternatives = yes_no(r, t, "alternatives", false);
    let alternative_providers = r.text(t, "alternative_providers", false);
    let mut subcontractors = Vec::new();
    for (table, start, index) in tables(r, t, "subcontractor") {
        let path = format!("{}[{index}]", t.key("subcontractor"));
        let st = Table {
            entries: table,
            start,
            path: &path,
        };
        if let Some(s) = subcontractor(r, st, provider) {
            subcontractors.push(s);
        }
    }
    Some(Service {
        kind: kind?,
        functions,
        country,
        stores_data,
        storage,
        processing,
        sensitiveness,
        reliance,
        substitutability,
        substitutability_reason,
        last_audit,
        exit_plan,
        reintegration,
        impact,
        alternatives,
        alternative_providers,
        subcontractors,
    })
}

fn subcontractor(
    r: &mut Reader<'_>,
    t: Table<'_, '_>,
    provider: Option<&PartyId>,
) -> Option<Subcontractor> {
    let rank = if t.get("rank").is_some() {
        r.integer(t, "rank", 2..=20)
            .and_then(|n| u32::try_from(n).ok())
    } else {
        r.missing(t, "rank");
        None
    };
    let party = party(r, t, SUBCONTRACTOR_KEYS);
    let serves = match r.string(t, "serves") {
        Some((text, _)) if check_lei(text).is_ok() => Some(PartyId {
            code: text.to_owned(),
            kind: codes::ID_LEI.to_owned(),
        }),
        Some((text, _)) if is_euid(text) => Some(PartyId {
            code: text.to_owned(),
            kind: codes::ID_EUID.to_owned(),
        }),
        Some((text, span)) => {
            r.error(
                &span,
                t.key("serves"),
                format!("{text:?} is neither a valid LEI nor an EUID: name the provider or subcontractor it serves"),
            );
            None
        }
        None if rank == Some(2) => provider.cloned(),
        None => None,
    };
    Some(Subcontractor {
        party: party?,
        rank: rank?,
        serves,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_take_at_most_two_decimals() {
        assert_eq!(parse_cents("1200000.50"), Some(120_000_050));
        assert_eq!(parse_cents("12"), Some(1200));
        assert_eq!(parse_cents("0.5"), Some(50));
        assert_eq!(parse_cents("1.234"), None);
        assert_eq!(parse_cents("-1"), None);
        assert_eq!(parse_cents("1e6"), None);
    }

    #[test]
    fn euids_have_a_country_a_register_and_a_number() {
        assert!(is_euid("NLNHR.12345678"));
        assert!(is_euid("DEK1101R.HRB116737"));
        assert!(!is_euid("USXX.1"));
        assert!(!is_euid("NL.123"));
        assert!(!is_euid("NLNHR12345678"));
    }
}
