//! The configuration file: raw TOML → a validated [`Config`].
//!
//! Loading reads the file once, parses it into a spanned tree and validates
//! every key, collecting all problems with their `file:line:column` before it
//! gives up. What comes out is valid by construction: parsed cron schedules,
//! durations, hosts, e-mail addresses and secrets. Depends on `registry` only.

mod anchor;
mod diagnostic;
mod files;
mod reader;
mod register;
mod sections;

use std::fmt;
use std::fmt::Write as _;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::registry::{EmailAddress, Supplier};

pub use anchor::{AnchorError, AnchorRecord, MAX_ANCHOR_BYTES, TrustAnchor, parse_anchor};
pub use diagnostic::Diagnostic;
pub use files::{MAX_PASSWORD_BYTES, MAX_ROOTS_BYTES};
pub use reader::MAX_SHOWN_ERRORS;

/// The environment variable that supplies the SMTP password.
pub const PASSWORD_ENV: &str = "SUPPLYWATCH_SMTP_PASSWORD";
/// Config files larger than this are refused before parsing.
pub const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is larger than {max} bytes; is it the right file?", max = MAX_CONFIG_BYTES)]
    TooLarge { path: PathBuf },
    #[error("{}", render_invalid(.path, .diagnostics, *.not_shown))]
    Invalid {
        path: PathBuf,
        /// The first problems in the file, at most [`MAX_SHOWN_ERRORS`].
        diagnostics: Vec<Diagnostic>,
        /// How many more problems were found and are not listed.
        not_shown: usize,
    },
}

fn render_invalid(path: &Path, diagnostics: &[Diagnostic], not_shown: usize) -> String {
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&d.to_string());
        out.push('\n');
    }
    if not_shown > 0 {
        out.push_str(&more_errors(not_shown));
        out.push('\n');
    }
    let n = diagnostics.len() + not_shown;
    let _ = write!(
        out,
        "{} is invalid: {} error{}",
        path.display(),
        thousands(n),
        if n == 1 { "" } else { "s" }
    );
    out
}

/// "… and 499,800 more errors not shown".
#[must_use]
pub fn more_errors(not_shown: usize) -> String {
    format!(
        "… and {} more error{} not shown",
        thousands(not_shown),
        if not_shown == 1 { "" } else { "s" }
    )
}

/// 499800 → "499,800".
#[must_use]
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl ConfigError {
    /// The located problems, when the file was read but is invalid.
    #[must_use]
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            Self::Invalid { diagnostics, .. } => diagnostics,
            _ => &[],
        }
    }

    /// How many located problems were found beyond those listed.
    #[must_use]
    pub fn not_shown(&self) -> usize {
        match self {
            Self::Invalid { not_shown, .. } => *not_shown,
            _ => 0,
        }
    }
}

/// A cron expression (with a seconds field) and its text.
#[derive(Clone)]
pub struct CronSchedule {
    pub text: String,
    pub schedule: cron::Schedule,
}

impl fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CronSchedule({:?})", self.text)
    }
}

/// Why a text is not a [`CronSchedule`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("this schedule never fires again (a year in the past?)")]
    NeverFires,
    /// The classic five-field form, without the seconds field.
    #[error(
        "it has 5 fields, but these schedules have a seconds field first (6 or 7 fields): \"0 {text}\" would run at second 0"
    )]
    NoSeconds { text: String },
    #[error(
        "expected 6 or 7 fields (sec min hour day-of-month month day-of-week [year]), or @hourly, @daily, @weekly, @monthly"
    )]
    Malformed,
}

impl FromStr for CronSchedule {
    type Err = CronError;
    fn from_str(text: &str) -> Result<Self, CronError> {
        if let Ok(schedule) = cron::Schedule::from_str(text) {
            if schedule.upcoming(chrono::Utc).next().is_none() {
                return Err(CronError::NeverFires);
            }
            return Ok(Self {
                text: text.to_owned(),
                schedule,
            });
        }
        // The cron crate's own message repeats the expression over several
        // lines; say what is expected instead.
        if text.split_whitespace().count() == 5 {
            Err(CronError::NoSeconds {
                text: text.to_owned(),
            })
        } else {
            Err(CronError::Malformed)
        }
    }
}

/// A secret that never shows in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    #[must_use]
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    /// The secret itself; call only where it is handed to its consumer.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

/// `[daemon]`
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// `None` means the default, `./supplywatch.db`.
    pub database: Option<PathBuf>,
    pub probe_schedule: CronSchedule,
    pub obligations_schedule: CronSchedule,
    pub digest_schedule: CronSchedule,
    pub retention_schedule: CronSchedule,
    pub timezone: chrono_tz::Tz,
    pub retention_days: u32,
    /// A probe job spreads its suppliers' start over this many seconds
    /// after its tick, at random.
    pub probe_jitter_secs: u32,
}

/// `[probe]`
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// Empty means the system's resolver configuration.
    pub nameservers: Vec<SocketAddr>,
    /// Extra trusted roots: each file and the DER certificates it holds.
    pub extra_roots: Vec<ExtraRoots>,
    pub timeout: Duration,
    pub concurrency: usize,
    pub per_host_concurrency: usize,
    /// Probes may reach loopback, private and other internal addresses
    /// (suppliers on internal networks) — never cloud metadata addresses,
    /// which need `allow_metadata_targets` too.
    pub allow_private_targets: bool,
    /// Probes may reach cloud metadata addresses (169.254.169.254,
    /// `fd00:ec2::254` …); only with `allow_private_targets`. Default false.
    pub allow_metadata_targets: bool,
    /// The port MTA-STS policies are fetched from: 443, as RFC 8461 says;
    /// another only for test setups.
    pub mta_sts_port: u16,
    /// `probe.trust_anchor`: the DNSSEC trust anchor; `None` means the IANA
    /// root trust anchor built into hickory.
    pub trust_anchor: Option<TrustAnchor>,
    /// Not a config key: the daemon sets it from `daemon.probe_jitter_secs`.
    /// Each supplier's probes start at a random moment within this window,
    /// so that a thousand suppliers are not all probed in the same second.
    pub spread: Duration,
}

/// Certificates from one `extra_roots` PEM file.
#[derive(Debug, Clone)]
pub struct ExtraRoots {
    pub path: PathBuf,
    pub certificates: Vec<rustls_pki_types::CertificateDer<'static>>,
}

/// How e-mail leaves the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Smtp,
    File,
}

impl FromStr for Transport {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "smtp" => Ok(Self::Smtp),
            "file" => Ok(Self::File),
            _ => Err(()),
        }
    }
}

/// Transport security towards the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    None,
    StartTls,
    Tls,
}

impl SmtpTls {
    #[must_use]
    pub fn default_port(self) -> u16 {
        match self {
            Self::None => 25,
            Self::StartTls => 587,
            Self::Tls => 465,
        }
    }
}

impl FromStr for SmtpTls {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "none" => Ok(Self::None),
            "starttls" => Ok(Self::StartTls),
            "tls" => Ok(Self::Tls),
            _ => Err(()),
        }
    }
}

/// `[email]`
#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub transport: Transport,
    pub from: EmailAddress,
    pub smtp_host: Option<String>,
    pub smtp_port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// Where the file transport writes `.eml` files.
    pub directory: PathBuf,
    /// Delivery attempts before a message is given up.
    pub max_attempts: u32,
    /// Each SMTP step (connect, greeting, EHLO, STARTTLS, AUTH, each
    /// command, the data) must answer within this; one message's whole
    /// exchange within a few times it.
    pub timeout: std::time::Duration,
}

/// `[contacts]`: who inside the organisation is told what.
#[derive(Debug, Clone, Default)]
pub struct Contacts {
    pub risk_manager: Vec<EmailAddress>,
    pub ciso: Vec<EmailAddress>,
    pub board: Vec<EmailAddress>,
    pub auditors: Vec<EmailAddress>,
}

/// `[findings]`: how findings live.
#[derive(Debug, Clone)]
pub struct FindingsConfig {
    /// `tls.unreachable`, `http.unreachable` and `dns.resolution_failed`
    /// open only after this many consecutive failing runs.
    pub damping_runs: u32,
    /// Severity overrides for every supplier, by check id.
    pub severity: std::collections::BTreeMap<crate::registry::CheckId, crate::registry::Severity>,
    /// An `[[accept]]` may end at most this many days after today.
    pub max_acceptance_days: u32,
}

impl Default for FindingsConfig {
    fn default() -> Self {
        Self {
            damping_runs: 2,
            severity: std::collections::BTreeMap::new(),
            max_acceptance_days: 365,
        }
    }
}

/// `[questionnaires]`: how often each criticality tier is reviewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionnaireConfig {
    /// Months between reviewed questionnaires of a critical supplier.
    pub cadence_critical: u32,
    pub cadence_important: u32,
    pub cadence_standard: u32,
    /// Reminders to the supplier this many days before a questionnaire is
    /// due, largest first.
    pub reminder_days: Vec<u32>,
}

impl QuestionnaireConfig {
    /// The review cadence of a tier, in months.
    #[must_use]
    pub fn cadence_months(&self, tier: crate::registry::Criticality) -> u32 {
        match tier {
            crate::registry::Criticality::Critical => self.cadence_critical,
            crate::registry::Criticality::Important => self.cadence_important,
            crate::registry::Criticality::Standard => self.cadence_standard,
        }
    }
}

impl Default for QuestionnaireConfig {
    fn default() -> Self {
        Self {
            cadence_critical: 12,
            cadence_important: 24,
            cadence_standard: 36,
            reminder_days: vec![7, 3, 1],
        }
    }
}

/// `[escalation]`: who is told what, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationConfig {
    /// An alerted finding still open after this many days goes to the CISO.
    pub ciso_after_days: u32,
    /// … after this many for a critical supplier.
    pub ciso_after_days_critical: u32,
    /// A still-open critical finding is told again this often.
    pub repeat_critical_days: u32,
    /// Tell those who were told of a finding when it resolves.
    pub resolution_notices: bool,
    /// The CISO gets the weekly digest too.
    pub digest_to_ciso: bool,
    /// A probe run in which more than this share (percent) of the probed
    /// targets failed means the monitor cannot see: alerts are held.
    pub blind_percent: u32,
}

impl Default for EscalationConfig {
    fn default() -> Self {
        Self {
            ciso_after_days: 7,
            ciso_after_days_critical: 2,
            repeat_critical_days: 7,
            resolution_notices: true,
            digest_to_ciso: true,
            blind_percent: 50,
        }
    }
}

/// `[report]`: what the reports read besides the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportConfig {
    /// `asn_table`: an IP-to-ASN table (iptoasn.com TSV) for hosting
    /// networks; read when a report needs it.
    pub asn_table: Option<PathBuf>,
    /// `concentration_alert`: a provider more than this many critical or
    /// important suppliers depend on is a `portfolio.concentration` finding.
    pub concentration_alert: u32,
}

impl Default for ReportConfig {
    fn default() -> Self {
        Self {
            asn_table: None,
            concentration_alert: crate::concentration::DEFAULT_ALERT,
        }
    }
}

/// A loaded, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from.
    pub path: PathBuf,
    pub daemon: DaemonConfig,
    pub probe: ProbeConfig,
    pub email: EmailConfig,
    pub contacts: Contacts,
    pub findings: FindingsConfig,
    pub questionnaires: QuestionnaireConfig,
    pub escalation: EscalationConfig,
    /// `[report]`.
    pub report: ReportConfig,
    pub suppliers: Vec<Supplier>,
    /// `[[accept]]`: accepted risks.
    pub acceptances: Vec<crate::registry::Acceptance>,
    /// `[register]`, `[entity]`, `[[function]]` and the suppliers' register
    /// keys: the DORA Register of Information (empty when not declared).
    pub register: crate::register::Register,
    /// What loaded but deserves a look, located like errors, in file order
    /// (a `password_file` others can read). Commands show them on stderr.
    pub warnings: Vec<Diagnostic>,
}

impl Config {
    /// Reads and validates a config file. The SMTP password, when not in a
    /// `password_file`, is taken from [`PASSWORD_ENV`].
    ///
    /// # Errors
    /// [`ConfigError`] when the file cannot be read or is invalid; an invalid
    /// file yields every problem found, in file order.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let source = read_source(path)?;
        let env_password = std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty());
        Self::parse(&source, path, env_password)
    }

    /// Validates config text as if it were read from `path` (used for
    /// messages and to resolve relative paths).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] listing every problem.
    pub fn parse(
        source: &str,
        path: &Path,
        env_password: Option<String>,
    ) -> Result<Self, ConfigError> {
        Self::parse_on(
            source,
            path,
            env_password,
            crate::clock::Clock::now(&crate::clock::SystemClock).date_naive(),
        )
    }

    /// [`Config::parse`] as if today were `today` (acceptances may end at
    /// most `[findings] max_acceptance_days` after it).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] listing every problem found.
    pub fn parse_on(
        source: &str,
        path: &Path,
        env_password: Option<String>,
        today: chrono::NaiveDate,
    ) -> Result<Self, ConfigError> {
        sections::parse(source, path, env_password, today)
    }

    /// The database file: `daemon.database`, else `./supplywatch.db`.
    #[must_use]
    pub fn database_path(&self) -> PathBuf {
        self.daemon
            .database
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATABASE))
    }

    /// Number of (domains, endpoints) across all suppliers.
    #[must_use]
    pub fn target_counts(&self) -> (usize, usize) {
        self.suppliers.iter().fold((0, 0), |(d, e), s| {
            (d + s.domains.len(), e + s.endpoints.len())
        })
    }
}

/// The database used when the config names none.
pub const DEFAULT_DATABASE: &str = "supplywatch.db";

/// Reads the file as UTF-8, refusing huge, binary or empty files with a
/// located message rather than a parser error about byte 0.
fn read_source(path: &Path) -> Result<String, ConfigError> {
    let read_err = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(e) => {
            let valid_up_to = e.utf8_error().valid_up_to();
            let prefix =
                String::from_utf8_lossy(e.as_bytes().get(..valid_up_to).unwrap_or_default());
            let diagnostic = Diagnostic::at(
                &prefix,
                path,
                &(valid_up_to..valid_up_to),
                String::new(),
                format!("the file is not UTF-8 text (invalid byte at offset {valid_up_to})"),
            );
            Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                diagnostics: vec![diagnostic],
                not_shown: 0,
            })
        }
    }
}
