//! The sections of the config file and the rules for each key.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use super::diagnostic::did_you_mean;
use super::files::{FileError, MAX_PASSWORD_BYTES, MAX_ROOTS_BYTES, read_regular};
use super::reader::{Reader, Table};
use super::register;
use super::{
    Config, ConfigError, Contacts, CronSchedule, DaemonConfig, EmailConfig, EscalationConfig,
    ExtraRoots, FindingsConfig, ProbeConfig, QuestionnaireConfig, ReportConfig, SecretString,
    SmtpTls, Transport,
};
use crate::registry::{
    Acceptance, Certification, CheckId, Contract, Criticality, DEFAULT_RENEWAL_MONTHS, Domain,
    EmailAddress, Endpoint, Severity, Supplier, SupplierId, SupplierStatus,
};

/// `a` then `b`, joined when the crate is built.
#[expect(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an index out of bounds fails the build"
)]
const fn joined<const N: usize>(a: &[&'static str], b: &[&'static str]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < a.len() {
        out[i] = a[i];
        i += 1;
    }
    let mut j = 0;
    while j < b.len() {
        out[a.len() + j] = b[j];
        j += 1;
    }
    out
}

const TOP_KEYS: &[&str] = &[
    "daemon",
    "probe",
    "email",
    "contacts",
    "findings",
    "questionnaires",
    "escalation",
    "supplier",
    "accept",
    "register",
    "entity",
    "function",
    "report",
];
const REPORT_KEYS: &[&str] = &["asn_table", "concentration_alert"];
const FINDINGS_KEYS: &[&str] = &["damping_runs", "severity", "max_acceptance_days"];
const ACCEPT_KEYS: &[&str] = &[
    "supplier",
    "check",
    "target",
    "until",
    "reason",
    "approved_by",
];
const DAEMON_KEYS: &[&str] = &[
    "database",
    "probe_schedule",
    "obligations_schedule",
    "digest_schedule",
    "retention_schedule",
    "timezone",
    "retention_days",
    "probe_jitter_secs",
];
const PROBE_KEYS: &[&str] = &[
    "nameservers",
    "extra_roots",
    "timeout_secs",
    "concurrency",
    "per_host_concurrency",
    "allow_private_targets",
    "allow_metadata_targets",
    "mta_sts_port",
    "trust_anchor",
];
const EMAIL_KEYS: &[&str] = &[
    "transport",
    "from",
    "smtp_host",
    "smtp_port",
    "tls",
    "username",
    "password_file",
    "password",
    "directory",
    "max_attempts",
    "timeout_secs",
];
const CONTACT_KEYS: &[&str] = &["risk_manager", "ciso", "board", "auditors"];
const BASE_SUPPLIER_KEYS: &[&str] = &[
    "id",
    "name",
    "criticality",
    "owner",
    "security_contact",
    "services",
    "domains",
    "endpoints",
    "contract",
    "certifications",
    "exit_plan",
    "status",
    "lei",
    "country",
    "severity",
];
/// A supplier's keys, its Register of Information ones (read in
/// register.rs) included.
const SUPPLIER_KEYS: &[&str] = &joined::<
    { BASE_SUPPLIER_KEYS.len() + register::SUPPLIER_KEYS.len() },
>(BASE_SUPPLIER_KEYS, register::SUPPLIER_KEYS);
const BASE_CONTRACT_KEYS: &[&str] = &[
    "reference",
    "start",
    "end",
    "notice_days",
    "auto_renew",
    "renewal_months",
];
/// A contract's keys, its Register of Information ones included.
const CONTRACT_KEYS: &[&str] = &joined::<
    { BASE_CONTRACT_KEYS.len() + register::CONTRACT_KEYS.len() },
>(BASE_CONTRACT_KEYS, register::CONTRACT_KEYS);
const QUESTIONNAIRE_KEYS: &[&str] = &["cadence_months", "reminder_days"];
const ESCALATION_KEYS: &[&str] = &[
    "ciso_after_days",
    "ciso_after_days_critical",
    "repeat_critical_days",
    "resolution_notices",
    "digest_to_ciso",
    "blind_percent",
];
const CADENCE_KEYS: &[&str] = &["critical", "important", "standard"];
const CERTIFICATION_KEYS: &[&str] = &["kind", "expires"];

pub(super) fn parse(
    source: &str,
    path: &Path,
    env_password: Option<String>,
    today: chrono::NaiveDate,
) -> Result<Config, ConfigError> {
    let mut r = Reader::new(source, path);
    let invalid = |r: Reader<'_>| {
        let (diagnostics, not_shown) = r.into_errors();
        ConfigError::Invalid {
            path: path.to_path_buf(),
            diagnostics,
            not_shown,
        }
    };

    if source.trim().is_empty() {
        r.error(
            &(0..0),
            String::new(),
            "the file is empty; see config/supplywatch.example.toml for a complete example",
        );
        return Err(invalid(r));
    }
    let (doc, syntax_errors) = DeTable::parse_recoverable(source);
    if !syntax_errors.is_empty() {
        report_syntax_errors(&mut r, &syntax_errors);
        return Err(invalid(r));
    }

    let base = path.parent().unwrap_or(Path::new("."));
    let root = Table {
        entries: doc.get_ref(),
        start: 0,
        path: "",
    };
    r.refuse_unknown(root, TOP_KEYS);

    let daemon = section(&mut r, root, "daemon", |r, t| daemon(r, t, base));
    let probe = section(&mut r, root, "probe", |r, t| probe(r, t, base));
    let database_dir = daemon
        .as_ref()
        .and_then(|d| d.database.as_ref())
        .and_then(|db| db.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let email = section(&mut r, root, "email", |r, t| {
        email(r, t, base, &database_dir, env_password)
    });
    let contacts = section(&mut r, root, "contacts", contacts);
    let findings = section(&mut r, root, "findings", findings);
    let questionnaires = section(&mut r, root, "questionnaires", questionnaires);
    let escalation = section(&mut r, root, "escalation", escalation);
    let report = section(&mut r, root, "report", |r, t| report(r, t, base));
    let suppliers = suppliers(&mut r, root);
    let max_days = findings.as_ref().map(|f| f.max_acceptance_days);
    let acceptances = acceptances(&mut r, root, &suppliers, max_days, today);
    let register = register::register(&mut r, root, &suppliers);

    match (
        daemon,
        probe,
        email,
        contacts,
        findings,
        questionnaires,
        escalation,
        report,
    ) {
        (
            Some(daemon),
            Some(probe),
            Some(email),
            Some(contacts),
            Some(findings),
            Some(questionnaires),
            Some(escalation),
            Some(report),
        ) if !r.has_errors() => Ok(Config {
            path: path.to_path_buf(),
            daemon,
            probe,
            email,
            contacts,
            findings,
            questionnaires,
            escalation,
            report,
            suppliers,
            acceptances,
            register,
            warnings: r.take_warnings(),
        }),
        _ => {
            if !r.has_errors() {
                r.error(
                    &(0..0),
                    String::new(),
                    "the configuration could not be read",
                );
            }
            Err(invalid(r))
        }
    }
}

/// Up to 20 TOML syntax errors, and a count of the rest.
fn report_syntax_errors(r: &mut Reader<'_>, syntax_errors: &[toml::de::Error]) {
    const SHOWN: usize = 20;
    for e in syntax_errors.iter().take(SHOWN) {
        let span = e.span().unwrap_or(0..0);
        let message: String = e.message().trim().chars().take(300).collect();
        r.error(
            &span,
            String::new(),
            format!("TOML syntax error: {message}"),
        );
    }
    if syntax_errors.len() > SHOWN {
        let span = syntax_errors
            .get(SHOWN)
            .and_then(toml::de::Error::span)
            .unwrap_or(0..0);
        r.error(
            &span,
            String::new(),
            format!(
                "{} more syntax errors not shown; is this the right file?",
                syntax_errors.len() - SHOWN
            ),
        );
    }
}

/// Reads an optional section; an absent one gets its defaults, read from an
/// empty table.
fn section<T>(
    r: &mut Reader<'_>,
    root: Table<'_, '_>,
    key: &str,
    read: impl FnOnce(&mut Reader<'_>, Table<'_, '_>) -> Option<T>,
) -> Option<T> {
    let empty = DeTable::new();
    let t = if root.get(key).is_none() {
        Table {
            entries: &empty,
            start: 0,
            path: key,
        }
    } else {
        let (entries, start) = r.table(root, key)?;
        let t = Table {
            entries,
            start,
            path: key,
        };
        r.refuse_unknown(t, known_keys(key));
        t
    };
    read(r, t)
}

fn known_keys(section: &str) -> &'static [&'static str] {
    match section {
        "daemon" => DAEMON_KEYS,
        "probe" => PROBE_KEYS,
        "email" => EMAIL_KEYS,
        "contacts" => CONTACT_KEYS,
        "findings" => FINDINGS_KEYS,
        "questionnaires" => QUESTIONNAIRE_KEYS,
        "escalation" => ESCALATION_KEYS,
        "report" => REPORT_KEYS,
        "register" => register::REGISTER_KEYS,
        "entity" => register::ENTITY_KEYS,
        "function" => register::FUNCTION_KEYS,
        _ => &[],
    }
}

fn resolve(base: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn schedule(
    r: &mut Reader<'_>,
    t: Table<'_, '_>,
    key: &str,
    default: &str,
) -> Option<CronSchedule> {
    match r.string(t, key) {
        Some((text, span)) => match text.parse::<CronSchedule>() {
            Ok(s) => Some(s),
            Err(e) => {
                r.error(
                    &span,
                    t.key(key),
                    format!("invalid cron expression {text:?}: {e}"),
                );
                None
            }
        },
        None => default.parse().ok(),
    }
}

fn daemon(r: &mut Reader<'_>, t: Table<'_, '_>, base: &Path) -> Option<DaemonConfig> {
    let database = r.text(t, "database", false).map(|p| resolve(base, &p));
    let probe_schedule = schedule(r, t, "probe_schedule", "0 0 */6 * * *");
    let obligations_schedule = schedule(r, t, "obligations_schedule", "0 0 7 * * *");
    let digest_schedule = schedule(r, t, "digest_schedule", "0 0 8 * * Mon");
    let retention_schedule = schedule(r, t, "retention_schedule", "0 30 3 * * *");
    let timezone = match r.string(t, "timezone") {
        None => Some(chrono_tz::UTC),
        Some((name, span)) => {
            let tz = name.parse::<chrono_tz::Tz>().ok();
            if tz.is_none() {
                r.error(
                    &span,
                    t.key("timezone"),
                    format!("unknown time zone {name:?}; use an IANA name such as \"Europe/Amsterdam\" or \"UTC\""),
                );
            }
            tz
        }
    };
    let retention_days = r
        .integer(t, "retention_days", 7..=36_500)
        .map_or(Some(400), |d| u32::try_from(d).ok());
    let probe_jitter_secs = r
        .integer(t, "probe_jitter_secs", 0..=3600)
        .map_or(Some(60), |n| u32::try_from(n).ok());
    Some(DaemonConfig {
        probe_jitter_secs: probe_jitter_secs?,
        database,
        probe_schedule: probe_schedule?,
        obligations_schedule: obligations_schedule?,
        digest_schedule: digest_schedule?,
        retention_schedule: retention_schedule?,
        timezone: timezone?,
        retention_days: retention_days?,
    })
}

fn probe(r: &mut Reader<'_>, t: Table<'_, '_>, base: &Path) -> Option<ProbeConfig> {
    let mut ok = true;
    let mut nameservers = Vec::new();
    for (text, span, key) in r.strings(t, "nameservers", false) {
        if let Some(addr) = parse_nameserver(text) {
            nameservers.push(addr);
        } else {
            ok = false;
            r.error(
                &span,
                key,
                format!("malformed nameserver {text:?}: write an IP address with an optional port, e.g. \"10.0.0.53\" or \"[2001:db8::53]:53\""),
            );
        }
    }
    let mut extra_roots = Vec::new();
    for (text, span, key) in r.strings(t, "extra_roots", false) {
        let path = resolve(base, text);
        match read_roots(&path) {
            Ok(certificates) => extra_roots.push(ExtraRoots { path, certificates }),
            Err(why) => {
                ok = false;
                r.error(&span, key, why.to_string());
            }
        }
    }
    let timeout = r
        .integer(t, "timeout_secs", 1..=300)
        .map_or(Some(10), |v| u64::try_from(v).ok());
    let concurrency = r
        .integer(t, "concurrency", 1..=4096)
        .map_or(Some(64), |v| usize::try_from(v).ok());
    let per_host = r
        .integer(t, "per_host_concurrency", 1..=64)
        .map_or(Some(2), |v| usize::try_from(v).ok());
    let allow_private_targets = r.boolean(t, "allow_private_targets").unwrap_or(false);
    let allow_metadata_targets = r.boolean(t, "allow_metadata_targets").unwrap_or(false);
    if allow_metadata_targets
        && !allow_private_targets
        && let Some(value) = t.get("allow_metadata_targets")
    {
        // Metadata addresses are internal addresses too: opening them
        // alone, with every private range still closed, is a mistake.
        ok = false;
        r.error(
            &value.span(),
            t.key("allow_metadata_targets"),
            "allow_metadata_targets = true needs allow_private_targets = true as well: cloud metadata addresses are internal addresses too",
        );
    }
    let mta_sts_port = r
        .integer(t, "mta_sts_port", 1..=65_535)
        .map_or(Some(443), |v| u16::try_from(v).ok());
    let mut trust_anchor = None;
    if let Some((text, span)) = r.string(t, "trust_anchor") {
        match super::anchor::read_anchor(&resolve(base, text)) {
            Ok(anchor) => trust_anchor = Some(anchor),
            Err(why) => {
                ok = false;
                r.error(&span, t.key("trust_anchor"), why.to_string());
            }
        }
    }
    if !ok {
        return None;
    }
    Some(ProbeConfig {
        nameservers,
        extra_roots,
        timeout: Duration::from_secs(timeout?),
        concurrency: concurrency?,
        per_host_concurrency: per_host?,
        allow_private_targets,
        allow_metadata_targets,
        mta_sts_port: mta_sts_port?,
        trust_anchor,
        spread: Duration::ZERO,
    })
}

fn parse_nameserver(text: &str) -> Option<SocketAddr> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(addr);
    }
    text.parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, 53))
}

/// Why an `extra_roots` file gave no certificates; the text is the whole
/// message, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum RootsFileError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{}: no PEM CERTIFICATE block in this extra_roots file", path.display())]
    NoCertificate { path: PathBuf },
    #[error("{}: not a valid PEM certificate file: {error}", path.display())]
    NotPem {
        path: PathBuf,
        error: rustls_pki_types::pem::Error,
    },
}

/// The certificates of one `extra_roots` file.
fn read_roots(
    path: &Path,
) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, RootsFileError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let bytes = read_regular(path, MAX_ROOTS_BYTES, "give the path of a PEM file")?.bytes;
    let certificates: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&bytes).collect();
    match certificates {
        Ok(c) if c.is_empty() => Err(RootsFileError::NoCertificate {
            path: path.to_owned(),
        }),
        Ok(c) => Ok(c),
        Err(error) => Err(RootsFileError::NotPem {
            path: path.to_owned(),
            error,
        }),
    }
}

/// The SMTP password in `file` (trailing newlines dropped), with a warning
/// when others than its owner may read it.
fn read_password(r: &mut Reader<'_>, t: Table<'_, '_>, file: &Path) -> Option<SecretString> {
    let span = t.get("password_file").map_or(0..0, toml::Spanned::span);
    let key = t.key("password_file");
    let shown = file.display();
    let contents = match read_regular(
        file,
        MAX_PASSWORD_BYTES,
        "give the path of a file holding only the password",
    ) {
        Ok(contents) => contents,
        Err(why) => {
            r.error(&span, key, why.to_string());
            return None;
        }
    };
    let Ok(secret) = String::from_utf8(contents.bytes) else {
        r.error(
            &span,
            key,
            format!("cannot read {shown}: it is not UTF-8 text"),
        );
        return None;
    };
    if secret.trim().is_empty() {
        r.error(&span, key, format!("{shown} is empty"));
        return None;
    }
    if contents.mode & 0o077 != 0 {
        r.warn(
            &span,
            key,
            format!(
                "{shown} holds a secret but its group or others have access (mode {:04o}); run `chmod 600 {shown}`",
                contents.mode
            ),
        );
    }
    Some(SecretString::new(
        secret.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

fn email(
    r: &mut Reader<'_>,
    t: Table<'_, '_>,
    base: &Path,
    database_dir: &Path,
    env_password: Option<String>,
) -> Option<EmailConfig> {
    let mut ok = true;
    if let Some(value) = t.get("password") {
        ok = false;
        r.error(
            &value.span(),
            t.key("password"),
            format!(
                "secrets do not belong in the config file, which is often world-readable and kept in version control; \
                 put the password in a file of its own (mode 0600) named by `password_file`, or in the {} environment variable",
                super::PASSWORD_ENV
            ),
        );
    }
    let smtp_host = r.text(t, "smtp_host", false);
    let transport = match t.get("transport") {
        Some(_) => r.choice::<Transport>(t, "transport", false, &["smtp", "file"]),
        None if smtp_host.is_some() => Some(Transport::Smtp),
        None => Some(Transport::File),
    };
    if transport == Some(Transport::Smtp) && smtp_host.is_none() && t.get("smtp_host").is_none() {
        ok = false;
        r.error(
            &t.get("transport")
                .map_or(t.header_span(), toml::Spanned::span),
            t.key("smtp_host"),
            "transport = \"smtp\" needs smtp_host",
        );
    }
    let from = match t.get("from") {
        Some(_) => r.parsed::<EmailAddress>(t, "from", false, "e-mail address"),
        None => "supplywatch@localhost.localdomain".parse().ok(),
    };
    let tls = match t.get("tls") {
        Some(_) => r.choice::<SmtpTls>(t, "tls", false, &["none", "starttls", "tls"]),
        None => Some(SmtpTls::StartTls),
    };
    let port = r.integer(t, "smtp_port", 1..=65_535).map(u16::try_from);
    let username = r.text(t, "username", false);
    let password = match r.text(t, "password_file", false) {
        Some(file) => {
            let password = read_password(r, t, &resolve(base, &file));
            ok &= password.is_some();
            password
        }
        None => env_password.map(SecretString::new),
    };
    let directory = r
        .text(t, "directory", false)
        .map_or_else(|| database_dir.join("mail"), |d| resolve(base, &d));
    if !ok {
        return None;
    }
    let tls = tls?;
    let smtp_port = match port {
        None => tls.default_port(),
        Some(p) => p.ok()?,
    };
    let max_attempts = r
        .integer(t, "max_attempts", 1..=1000)
        .map_or(Some(10), |n| u32::try_from(n).ok());
    let timeout_secs = r
        .integer(t, "timeout_secs", 1..=600)
        .map_or(Some(30), |n| u64::try_from(n).ok());
    Some(EmailConfig {
        max_attempts: max_attempts?,
        timeout: std::time::Duration::from_secs(timeout_secs?),
        transport: transport?,
        from: from?,
        smtp_host,
        smtp_port,
        tls,
        username,
        password,
        directory,
    })
}

fn addresses(r: &mut Reader<'_>, t: Table<'_, '_>, key: &str) -> Option<Vec<EmailAddress>> {
    let mut ok = true;
    let mut out: Vec<EmailAddress> = Vec::new();
    for (text, span, item_key) in r.strings(t, key, true) {
        match r.parse_at::<EmailAddress>(text, &span, item_key, "e-mail address") {
            Some(a) if !out.contains(&a) => out.push(a),
            Some(_) => {}
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn contacts(r: &mut Reader<'_>, t: Table<'_, '_>) -> Option<Contacts> {
    let risk_manager = addresses(r, t, "risk_manager");
    let ciso = addresses(r, t, "ciso");
    let board = addresses(r, t, "board");
    let auditors = addresses(r, t, "auditors");
    Some(Contacts {
        risk_manager: risk_manager?,
        ciso: ciso?,
        board: board?,
        auditors: auditors?,
    })
}

fn suppliers(r: &mut Reader<'_>, root: Table<'_, '_>) -> Vec<Supplier> {
    let Some(value) = root.get("supplier") else {
        return Vec::new();
    };
    let DeValue::Array(items) = value.get_ref() else {
        r.error(
            &value.span(),
            "supplier".to_owned(),
            "expected [[supplier]] tables (an array of tables), one per supplier",
        );
        return Vec::new();
    };
    let mut seen: HashMap<String, Range<usize>> = HashMap::new();
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let DeValue::Table(table) = item.get_ref() else {
            r.type_error(item, format!("supplier[{index}]"), "a table");
            continue;
        };
        // Name the supplier by its id in messages when it has a usable one.
        let label = match table.get("id").and_then(|v| v.get_ref().as_str()) {
            Some(id) if id.parse::<SupplierId>().is_ok() => format!("supplier[{id}]"),
            _ => format!("supplier[{index}]"),
        };
        let t = Table {
            entries: table,
            start: item.span().start,
            path: &label,
        };
        r.refuse_unknown(t, SUPPLIER_KEYS);
        let duplicate = match (
            table.get("id"),
            table.get("id").and_then(|v| v.get_ref().as_str()),
        ) {
            (Some(value), Some(id)) => {
                if let Some(first) = seen.get(id) {
                    let line = r.line_of(first.start);
                    r.error(
                        &value.span(),
                        t.key("id"),
                        format!("duplicate supplier id {id:?}; it is already used on line {line}"),
                    );
                    true
                } else {
                    seen.insert(id.to_owned(), value.span());
                    false
                }
            }
            _ => false,
        };
        if let Some(supplier) = supplier(r, t)
            && !duplicate
        {
            out.push(supplier);
        }
    }
    out
}

/// Parses each string of a list, refusing duplicates after normalisation.
fn unique_list<T>(r: &mut Reader<'_>, t: Table<'_, '_>, key: &str, what: &str) -> Option<Vec<T>>
where
    T: std::str::FromStr + PartialEq + std::fmt::Display,
    T::Err: std::fmt::Display,
{
    let mut ok = true;
    let mut out: Vec<T> = Vec::new();
    for (text, span, item_key) in r.strings(t, key, false) {
        match r.parse_at::<T>(text, &span, item_key.clone(), what) {
            Some(v) if out.contains(&v) => {
                ok = false;
                r.error(&span, item_key, format!("{v} is listed twice"));
            }
            Some(v) => out.push(v),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// `{ "check.id" = "severity", … }`: ids from the catalogue, severities by name.
fn severity_map(
    r: &mut Reader<'_>,
    t: Table<'_, '_>,
    key: &str,
) -> Option<BTreeMap<CheckId, Severity>> {
    let mut out = BTreeMap::new();
    if t.get(key).is_none() {
        return Some(out);
    }
    let (table, _) = r.table(t, key)?;
    let mut ok = true;
    for (id, value) in table {
        let id_text: &str = id.get_ref();
        let item_key = format!("{}.{id_text}", t.key(key));
        let Some(check) = CheckId::parse(id_text) else {
            ok = false;
            let hint = did_you_mean(id_text, CheckId::NAMES)
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            r.error(&id.span(), item_key, format!("unknown check id{hint}"));
            continue;
        };
        if let DeValue::String(name) = value.get_ref() {
            match name.parse::<Severity>() {
                Ok(severity) => {
                    out.insert(check, severity);
                }
                Err(e) => {
                    ok = false;
                    r.error(&value.span(), item_key, e.to_string());
                }
            }
        } else {
            ok = false;
            r.type_error(value, item_key, "a severity name such as \"low\"");
        }
    }
    ok.then_some(out)
}

fn findings(r: &mut Reader<'_>, t: Table<'_, '_>) -> Option<FindingsConfig> {
    let damping_runs = r
        .integer(t, "damping_runs", 1..=100)
        .map_or(Some(2), |n| u32::try_from(n).ok());
    let severity = severity_map(r, t, "severity");
    let max_acceptance_days = r
        .integer(t, "max_acceptance_days", 1..=3650)
        .map_or(Some(365), |n| u32::try_from(n).ok());
    Some(FindingsConfig {
        damping_runs: damping_runs?,
        severity: severity?,
        max_acceptance_days: max_acceptance_days?,
    })
}

fn questionnaires(r: &mut Reader<'_>, t: Table<'_, '_>) -> Option<QuestionnaireConfig> {
    let mut defaults = QuestionnaireConfig::default();
    if t.get("reminder_days").is_some() {
        let mut days: Vec<u32> = r
            .integers(t, "reminder_days", 0..=365)?
            .into_iter()
            .filter_map(|n| u32::try_from(n).ok())
            .collect();
        days.sort_unstable_by(|a, b| b.cmp(a));
        days.dedup();
        defaults.reminder_days = days;
    }
    let Some((entries, start)) = r.table(t, "cadence_months") else {
        return t.get("cadence_months").is_none().then_some(defaults);
    };
    let path = t.key("cadence_months");
    let ct = Table {
        entries,
        start,
        path: &path,
    };
    r.refuse_unknown(ct, CADENCE_KEYS);
    let mut months = |key: &str, default: u32| {
        r.integer(ct, key, 1..=120)
            .map_or(Some(default), |n| u32::try_from(n).ok())
    };
    let critical = months("critical", defaults.cadence_critical);
    let important = months("important", defaults.cadence_important);
    let standard = months("standard", defaults.cadence_standard);
    Some(QuestionnaireConfig {
        cadence_critical: critical?,
        cadence_important: important?,
        cadence_standard: standard?,
        reminder_days: defaults.reminder_days,
    })
}

fn escalation(r: &mut Reader<'_>, t: Table<'_, '_>) -> Option<EscalationConfig> {
    let d = EscalationConfig::default();
    let mut days = |key: &str, default: u32| {
        r.integer(t, key, 1..=365)
            .map_or(Some(default), |n| u32::try_from(n).ok())
    };
    let ciso_after_days = days("ciso_after_days", d.ciso_after_days);
    let ciso_after_days_critical = days("ciso_after_days_critical", d.ciso_after_days_critical);
    let repeat_critical_days = days("repeat_critical_days", d.repeat_critical_days);
    let resolution_notices = r
        .boolean(t, "resolution_notices")
        .unwrap_or(d.resolution_notices);
    let digest_to_ciso = r.boolean(t, "digest_to_ciso").unwrap_or(d.digest_to_ciso);
    let blind_percent = r
        .integer(t, "blind_percent", 1..=100)
        .map_or(Some(d.blind_percent), |n| u32::try_from(n).ok());
    Some(EscalationConfig {
        ciso_after_days: ciso_after_days?,
        ciso_after_days_critical: ciso_after_days_critical?,
        repeat_critical_days: repeat_critical_days?,
        resolution_notices,
        digest_to_ciso,
        blind_percent: blind_percent?,
    })
}

/// `[report]`: the ASN table must be a regular file (its lines are read,
/// and checked, by the commands that use it).
fn report(r: &mut Reader<'_>, t: Table<'_, '_>, base: &Path) -> Option<ReportConfig> {
    let mut ok = true;
    let asn_table = r.string(t, "asn_table").and_then(|(text, span)| {
        let path = resolve(base, text);
        if path.is_file() {
            Some(path)
        } else {
            ok = false;
            r.error(
                &span,
                t.key("asn_table"),
                format!(
                    "{} is not a regular file: give an IP-to-ASN table (iptoasn.com TSV)",
                    path.display()
                ),
            );
            None
        }
    });
    let alert = r
        .integer(t, "concentration_alert", 1..=100_000)
        .map_or(Some(crate::concentration::DEFAULT_ALERT), |n| {
            u32::try_from(n).ok()
        });
    Some(ReportConfig {
        asn_table,
        concentration_alert: alert?,
    })
    .filter(|_| ok)
}

/// `[[accept]]` entries, checked against the suppliers they name.
fn acceptances(
    r: &mut Reader<'_>,
    root: Table<'_, '_>,
    suppliers: &[Supplier],
    max_days: Option<u32>,
    today: chrono::NaiveDate,
) -> Vec<Acceptance> {
    let Some(value) = root.get("accept") else {
        return Vec::new();
    };
    let DeValue::Array(items) = value.get_ref() else {
        r.error(
            &value.span(),
            "accept".to_owned(),
            "expected [[accept]] tables, one per accepted risk",
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let label = format!("accept[{index}]");
        let DeValue::Table(table) = item.get_ref() else {
            r.type_error(item, label, "a table");
            continue;
        };
        let t = Table {
            entries: table,
            start: item.span().start,
            path: &label,
        };
        r.refuse_unknown(t, ACCEPT_KEYS);
        if let Some(acceptance) = acceptance(r, t, suppliers, max_days, today) {
            out.push(acceptance);
        }
    }
    out
}

fn acceptance(
    r: &mut Reader<'_>,
    t: Table<'_, '_>,
    suppliers: &[Supplier],
    max_days: Option<u32>,
    today: chrono::NaiveDate,
) -> Option<Acceptance> {
    let supplier_id = r.parsed::<SupplierId>(t, "supplier", true, "supplier id");
    let supplier = supplier_id.as_ref().and_then(|id| {
        let found = suppliers.iter().find(|s| &s.id == id);
        if found.is_none() {
            let span = t.get("supplier").map_or(0..0, toml::Spanned::span);
            r.error(
                &span,
                t.key("supplier"),
                format!("no [[supplier]] has id {:?}", id.as_str()),
            );
        }
        found
    });
    let check = r.required_string(t, "check").and_then(|(id, span)| {
        let check = CheckId::parse(id);
        if check.is_none() {
            let hint = did_you_mean(id, CheckId::NAMES)
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            r.error(
                &span,
                t.key("check"),
                format!("unknown check id {id:?}{hint}"),
            );
        }
        check
    });
    let target = match r.string(t, "target") {
        None => Some(None),
        Some((text, span)) => supplier.and_then(|s| {
            let normalised = target_of(s, text);
            if normalised.is_none() {
                r.error(
                    &span,
                    t.key("target"),
                    format!(
                        "{text:?} is not one of {}'s targets (its endpoints as host:port, its domains, its contract reference, a certification kind, or its id)",
                        s.id
                    ),
                );
            }
            normalised.map(Some)
        }),
    };
    let until = r.date(t, "until", true);
    // A risk is accepted for a stated time, then looked at again.
    let until = match (until, max_days) {
        (Some((day, span)), Some(max)) if day > today + chrono::Days::new(u64::from(max)) => {
            r.error(
                &span,
                t.key("until"),
                format!(
                    "{day} is more than {max} days ahead (at most {}); accept the risk for a shorter time, or raise [findings] max_acceptance_days",
                    today + chrono::Days::new(u64::from(max))
                ),
            );
            None
        }
        (until, _) => until,
    };
    let reason = r.text(t, "reason", true);
    let approved_by = r.parsed::<EmailAddress>(t, "approved_by", true, "e-mail address");
    Some(Acceptance {
        supplier: supplier?.id.clone(),
        check: check?,
        target: target?,
        until: until?.0,
        reason: reason?,
        approved_by: approved_by?,
    })
}

/// A target of `supplier` in the form findings use, if `text` names one:
/// its id, one of its domains, or one of its endpoints (`host` alone means
/// port 443 unless it is one of its domains).
fn target_of(supplier: &Supplier, text: &str) -> Option<String> {
    let paperwork = supplier
        .contract
        .iter()
        .map(|c| c.reference.as_str())
        .chain(supplier.certifications.iter().map(|c| c.kind.as_str()));
    if text == supplier.id.as_str() || paperwork.into_iter().any(|t| t == text) {
        return Some(text.to_owned());
    }
    if let Ok(domain) = text.parse::<Domain>()
        && supplier.domains.contains(&domain)
    {
        return Some(domain.to_string());
    }
    text.parse::<Endpoint>()
        .ok()
        .filter(|e| supplier.endpoints.contains(e))
        .map(|e| e.to_string())
}

fn supplier(r: &mut Reader<'_>, t: Table<'_, '_>) -> Option<Supplier> {
    let id = r.parsed::<SupplierId>(t, "id", true, "supplier id");
    let name = r.text(t, "name", true);
    let criticality = r.choice::<Criticality>(t, "criticality", true, &Criticality::ALL);
    let status = match t.get("status") {
        Some(_) => r.choice::<SupplierStatus>(t, "status", false, &SupplierStatus::ALL),
        None => Some(SupplierStatus::Active),
    };
    let owner = optional(r, t, "owner", "e-mail address");
    let security_contact = optional(r, t, "security_contact", "e-mail address");
    let mut services_ok = true;
    let mut services = Vec::new();
    for (text, span, key) in r.strings(t, "services", false) {
        let text = text.trim();
        if text.is_empty() || text.chars().any(char::is_control) {
            services_ok = false;
            r.error(&span, key, "a service is a non-empty line of text");
        } else {
            services.push(text.to_owned());
        }
    }
    let domains = unique_list::<Domain>(r, t, "domains", "domain");
    let endpoints = unique_list::<Endpoint>(r, t, "endpoints", "endpoint");
    let contract = match r.table(t, "contract") {
        None if t.get("contract").is_some() => None,
        None => Some(None),
        Some((table, start)) => {
            let path = t.key("contract");
            contract(
                r,
                Table {
                    entries: table,
                    start,
                    path: &path,
                },
            )
            .map(Some)
        }
    };
    let certifications = certifications(r, t);
    let exit_plan = optional_text(r, t, "exit_plan");
    let lei = match r.string(t, "lei") {
        None => Some(None),
        Some((lei, span)) => match register::check_lei(lei.trim()) {
            Ok(()) => Some(Some(lei.trim().to_owned())),
            Err(message) => {
                r.error(&span, t.key("lei"), message.to_string());
                None
            }
        },
    };
    let severity = severity_map(r, t, "severity");
    let country = match r.string(t, "country") {
        None => Some(None),
        Some((c, span)) => match register::check_country(c) {
            Ok(()) => Some(Some(c.to_owned())),
            Err(message) => {
                r.error(&span, t.key("country"), message.to_string());
                None
            }
        },
    };
    Some(Supplier {
        id: id?,
        name: name?,
        criticality: criticality?,
        status: status?,
        owner: owner?,
        security_contact: security_contact?,
        services: if services_ok { services } else { return None },
        domains: domains?,
        endpoints: endpoints?,
        contract: contract?,
        certifications: certifications?,
        exit_plan: exit_plan?,
        lei: lei?,
        country: country?,
        severity: severity?,
    })
}

/// `Some(None)` when absent, `None` when present but invalid.
#[expect(
    clippy::option_option,
    reason = "absent and invalid are different outcomes here"
)]
fn optional<T>(r: &mut Reader<'_>, t: Table<'_, '_>, key: &str, what: &str) -> Option<Option<T>>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    if t.get(key).is_none() {
        return Some(None);
    }
    r.parsed::<T>(t, key, false, what).map(Some)
}

#[expect(
    clippy::option_option,
    reason = "absent and invalid are different outcomes here"
)]
fn optional_text(r: &mut Reader<'_>, t: Table<'_, '_>, key: &str) -> Option<Option<String>> {
    if t.get(key).is_none() {
        return Some(None);
    }
    r.text(t, key, false).map(Some)
}

fn contract(r: &mut Reader<'_>, t: Table<'_, '_>) -> Option<Contract> {
    r.refuse_unknown(t, CONTRACT_KEYS);
    let reference = r.text(t, "reference", true);
    let start = r.date(t, "start", true);
    let end = r.date(t, "end", false);
    let notice_days = r
        .integer(t, "notice_days", 0..=3650)
        .map_or(Some(0), |n| u32::try_from(n).ok());
    let auto_renew = r.boolean(t, "auto_renew").unwrap_or(false);
    let renewal_months = r
        .integer(t, "renewal_months", 1..=120)
        .map_or(Some(DEFAULT_RENEWAL_MONTHS), |n| u32::try_from(n).ok());
    if let (Some((start, _)), Some((end, end_span))) = (&start, &end)
        && end < start
    {
        r.error(
            end_span,
            t.key("end"),
            format!("the contract ends ({end}) before it starts ({start})"),
        );
        return None;
    }
    if t.get("end").is_some() && end.is_none() {
        return None;
    }
    Some(Contract {
        reference: reference?,
        start: start?.0,
        end: end.map(|(d, _)| d),
        notice_days: notice_days?,
        auto_renew,
        renewal_months: renewal_months?,
    })
}

fn certifications(r: &mut Reader<'_>, t: Table<'_, '_>) -> Option<Vec<Certification>> {
    let Some(value) = t.get("certifications") else {
        return Some(Vec::new());
    };
    let DeValue::Array(items) = value.get_ref() else {
        r.type_error(
            value,
            t.key("certifications"),
            "an array of { kind, expires } tables",
        );
        return None;
    };
    let mut ok = true;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let key = format!("{}[{i}]", t.key("certifications"));
        let DeValue::Table(table) = item.get_ref() else {
            ok = false;
            r.type_error(item, key, "a { kind, expires } table");
            continue;
        };
        let ct = Table {
            entries: table,
            start: item.span().start,
            path: &key,
        };
        r.refuse_unknown(ct, CERTIFICATION_KEYS);
        let kind = r.text(ct, "kind", true);
        let expires = r.date(ct, "expires", true);
        match (kind, expires) {
            (Some(kind), Some((expires, _))) => out.push(Certification { kind, expires }),
            _ => ok = false,
        }
    }
    ok.then_some(out)
}
