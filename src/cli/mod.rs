//! The command line: global options, one file per subcommand, who is
//! acting (recorded in the audit log), and the mapping of errors to exit
//! codes (0 ok, 1 findings at or above `--fail-on` or a broken audit chain,
//! 2 bad usage or config, 3 runtime failure).
//!
//! Everything printed goes through [`outln!`], [`out!`] and [`errln!`]: a
//! write that fails (a full disk, a closed pipe) is counted, never a panic
//! as `println!` would make it; a command whose output was lost exits 3.

/// A line on stdout; a failed write is recorded, not a panic.
macro_rules! outln {
    () => {
        $crate::cli::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Text on stdout as is (it ends its own lines).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::write_stdout(format_args!($($arg)*))
    };
}

/// A line on stderr; a failed write is ignored (there is nowhere left to
/// say so).
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::write_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod audit;
mod check;
mod concentration;
mod digest;
mod evidence;
mod export;
mod findings;
mod obligations;
mod questionnaire;
mod report;
mod run;
mod status;
mod supplier;
mod suppliers;
mod sync;
mod validate;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use clap::parser::ValueSource;
use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand, ValueEnum};
use supplywatch::config::{Config, ConfigError};
use supplywatch::registry::EmailAddress;
use supplywatch::report::Format;
use supplywatch::store::{Actor, OpenMode, Store};

/// Config files tried, in order, when `--config` is not given.
const CONFIG_CANDIDATES: [&str; 2] = ["supplywatch.toml", "/etc/supplywatch/supplywatch.toml"];

#[derive(Debug, Parser)]
#[command(
    name = "supplywatch",
    version,
    about = "Keeps your ICT third-party suppliers under continuous watch",
    long_about = "Keeps your ICT third-party suppliers under continuous watch (DORA, ISO 27001 \
                  A.5.19-5.23): a registry in a TOML file, onboarded into SQLite with an \
                  append-only audit log; probes of their TLS, DNS, e-mail authentication and \
                  web posture; contracts, questionnaires and certifications tracked; findings \
                  with a lifecycle, scores and grades; escalations and a weekly digest by e-mail.",
    after_help = "Exit codes: 0 ok, 1 findings at or above --fail-on (or, for `audit verify`, a broken audit chain; for `export roi`, a register a supervisor would reject), 2 bad usage or config, 3 runtime failure."
)]
pub struct Cli {
    /// Config file [default: ./supplywatch.toml, then /etc/supplywatch/supplywatch.toml]
    #[arg(long, global = true, env = "SUPPLYWATCH_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// SQLite database file [default: daemon.database from the config, else ./supplywatch.db]
    #[arg(long, global = true, value_name = "FILE")]
    database: Option<PathBuf>,
    /// More log output (-v debug, -vv trace)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    verbose: u8,
    /// Less output: only errors
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    quiet: u8,
    /// Output format; csv for suppliers, findings, status, questionnaire list, obligations, check and concentration
    #[arg(long, global = true, value_enum, default_value_t = FormatArg::Table)]
    format: FormatArg,
    /// Log format on stderr: plain lines, or JSON objects (journald, log shippers)
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Plain)]
    log_format: LogFormat,
    /// Who is acting, recorded in every audit row written [default: the OS user; `run`: daemon@HOST]
    #[arg(long, global = true, env = "SUPPLYWATCH_ACTOR", value_name = "EMAIL")]
    actor: Option<EmailAddress>,
    #[command(subcommand)]
    command: Command,
    /// The command as typed, without its values (see [`invoked`]).
    #[arg(skip)]
    invoked: String,
}

/// Parses the command line (exiting with clap's message and code 2 on bad
/// usage), noting the command as typed for the audit log.
pub fn parse() -> Cli {
    let matches = Cli::command().get_matches();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.format(&mut Cli::command()).exit(),
    };
    cli.invoked = invoked(&matches, &Cli::command());
    cli
}

/// The subcommands as typed and the switches given on the command line —
/// options that take a value, and global ones, left out: `check --save`,
/// `questionnaire review`, `run --once`. What the audit log records as the
/// command.
fn invoked(matches: &clap::ArgMatches, command: &clap::Command) -> String {
    let mut words = Vec::new();
    let (mut matches, mut command) = (matches, command);
    while let Some((name, sub_matches)) = matches.subcommand() {
        let Some(sub) = command.find_subcommand(name) else {
            break;
        };
        words.push(name.to_owned());
        // Unbuilt, a subcommand lists its own arguments only: the global
        // ones (--database …) are not among them.
        for arg in sub.get_arguments() {
            let switch = !arg.get_action().takes_values();
            let given = sub_matches
                .value_source(arg.get_id().as_str())
                .is_some_and(|source| source == ValueSource::CommandLine);
            if let (true, true, Some(long)) = (switch, given, arg.get_long()) {
                words.push(format!("--{long}"));
            }
        }
        (matches, command) = (sub_matches, sub);
    }
    words.join(" ")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Plain,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Table,
    Json,
    Csv,
}

/// The commands that print `--format csv`, as the refusal names them.
const CSV_COMMANDS: &str =
    "suppliers, findings, status, questionnaire list, obligations, check, concentration";

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a config file and print a one-line summary; every error is listed
    Validate,
    /// Create or migrate the database and bring it in line with the config
    Sync,
    /// List the suppliers in the database
    Suppliers,
    /// The audit log: list it, verify its hash chain, export it
    Audit(audit::AuditArgs),
    /// Probe suppliers' endpoints once and report findings (no database needed)
    Check(check::CheckArgs),
    /// Run the service: jobs on their schedules, e-mail delivery, SIGHUP reloads
    Run(run::RunArgs),
    /// Suppliers worst first: grade, score and trend, open findings, next deadline
    Status,
    /// Findings kept by `check --save` and the daemon, with their lifecycle
    Findings(findings::FindingsArgs),
    /// Questionnaire bookkeeping: send, answer (keeping the document), review, list
    Questionnaire(questionnaire::QuestionnaireArgs),
    /// Judge contracts, questionnaires, certifications and onboarding; record the findings
    Obligations(obligations::ObligationsArgs),
    /// One supplier's whole file: registry data, contract and deadlines,
    /// questionnaires, certifications, open findings, lifecycle
    Supplier(supplier::SupplierArgs),
    /// The weekly digest: preview the text, write the HTML, or send it
    Digest(digest::DigestArgs),
    /// Exports: the DORA Register of Information (`export roi`)
    Export(export::ExportArgs),
    /// Reports: the board report as one printable HTML file (`report board`)
    Report(report::ReportArgs),
    /// Providers many suppliers depend on (DNS, mail, CA, network,
    /// subcontractors), from the stored observations, worst first
    Concentration(concentration::ConcentrationArgs),
}

impl Command {
    /// The command as named in messages when it does not print CSV; `None`
    /// when it does.
    fn without_csv(&self) -> Option<&'static str> {
        match self {
            Self::Suppliers
            | Self::Status
            | Self::Findings(_)
            | Self::Obligations(_)
            | Self::Check(_)
            | Self::Concentration(_) => None,
            Self::Questionnaire(args) => args.without_csv(),
            Self::Validate => Some("validate"),
            Self::Sync => Some("sync"),
            Self::Audit(_) => Some("audit"),
            Self::Run(_) => Some("run"),
            Self::Supplier(_) => Some("supplier"),
            Self::Digest(_) => Some("digest"),
            Self::Export(_) => Some("export"),
            Self::Report(_) => Some("report"),
        }
    }
}

/// Global options every command sees, resolved.
pub struct Globals {
    config: Option<PathBuf>,
    database: Option<PathBuf>,
    format: Format,
    quiet: bool,
    /// `--actor` or `SUPPLYWATCH_ACTOR`.
    actor: Option<EmailAddress>,
    /// The command as typed, without values.
    invoked: String,
    /// `run`: the daemon acts, not whoever started it.
    daemon: bool,
    /// The actor, once named, and whether it was named by a name rather
    /// than a uid.
    resolved: OnceLock<(Actor, bool)>,
    /// The no-actor warning was printed.
    warned: AtomicBool,
    /// The config's warnings were printed (a command may load it twice).
    config_warned: AtomicBool,
}

impl Globals {
    /// Who is acting: `--actor`/`SUPPLYWATCH_ACTOR`; else for `run`
    /// `daemon@HOST`; else the OS user (`USER`, `LOGNAME`), else `uid:N`
    /// from `/proc/self/status` — with a warning, once, when the command
    /// is `writing`, that no one could be named.
    fn actor(&self, writing: bool) -> Actor {
        let (actor, named) = self.resolved.get_or_init(|| {
            let (who, named) = match &self.actor {
                Some(email) => (email.to_string(), true),
                None if self.daemon => (format!("daemon@{}", hostname()), true),
                None => match os_user() {
                    Some(user) => (user, true),
                    None => (
                        own_uid().map_or_else(|| "unknown".to_owned(), |uid| format!("uid:{uid}")),
                        false,
                    ),
                },
            };
            let actor = Actor {
                who,
                command: self.invoked.clone(),
            };
            (actor, named)
        });
        if writing && !named && !self.warned.swap(true, Ordering::Relaxed) {
            errln!(
                "warning: no actor could be named (no --actor, SUPPLYWATCH_ACTOR, USER or LOGNAME); the audit log records {}",
                actor.who
            );
        }
        actor.clone()
    }

    /// Opens the database at `path`: for a command that writes, its audit
    /// rows attributed to [`Globals::actor`]; read-only as it is.
    async fn open_store(&self, path: &Path, mode: OpenMode) -> anyhow::Result<Store> {
        if mode == OpenMode::ReadOnly {
            return Ok(Store::open(path, mode).await?);
        }
        Ok(Store::open_as(path, mode, self.actor(true)).await?)
    }

    /// The config file to use: `--config`, else the first candidate that exists.
    fn config_path(&self) -> Result<PathBuf, UsageError> {
        if let Some(path) = &self.config {
            return Ok(path.clone());
        }
        CONFIG_CANDIDATES
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or_else(|| {
                UsageError(format!(
                    "no config file: pass --config FILE (or set SUPPLYWATCH_CONFIG); looked for ./{} and {}",
                    CONFIG_CANDIDATES[0], CONFIG_CANDIDATES[1]
                ))
            })
    }

    /// Loads the config, printing its warnings on stderr the first time.
    fn load_config(&self) -> anyhow::Result<Config> {
        let path = self.config_path()?;
        let config = Config::load(&path)?;
        if !self.config_warned.swap(true, Ordering::Relaxed) {
            print_config_warnings(&config);
        }
        Ok(config)
    }

    /// `--database`, else the config's, else the default. A config is read
    /// only when `--database` is absent.
    fn database_path(&self, config: Option<&Config>) -> anyhow::Result<PathBuf> {
        if let Some(db) = &self.database {
            return Ok(db.clone());
        }
        if let Some(config) = config {
            return Ok(config.database_path());
        }
        match self.config_path() {
            Ok(_) => Ok(self.load_config()?.database_path()),
            Err(_) => Ok(PathBuf::from(supplywatch::config::DEFAULT_DATABASE)),
        }
    }
}

/// Bad usage: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The config's `[report] asn_table`, read; a broken table is bad input.
fn asn_table(
    config: Option<&Config>,
) -> Result<Option<supplywatch::concentration::AsnTable>, UsageError> {
    config
        .and_then(|c| c.report.asn_table.as_deref())
        .map(|path| {
            supplywatch::concentration::AsnTable::load(path).map_err(|e| UsageError(e.to_string()))
        })
        .transpose()
}

/// An id the database has no supplier for, with the ids it has.
fn unknown_supplier<'a>(id: &str, known: impl Iterator<Item = &'a str>) -> UsageError {
    let known: Vec<&str> = known.collect();
    UsageError(format!(
        "no supplier {id:?} in the database; known: {}",
        if known.is_empty() {
            "none (run `supplywatch sync`)".to_owned()
        } else {
            known.join(", ")
        }
    ))
}

/// A command that ran but wants a non-zero exit (findings at `--fail-on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    FindingsAtThreshold,
    /// `audit verify` found the chain broken.
    ChainBroken,
    /// `export roi` found a problem a supervisor would reject.
    RegisterRejected,
    /// Stopped by SIGINT or SIGTERM before the work was done (`check`).
    Interrupted,
}

impl Outcome {
    /// Findings at or above `fail_on` (if given) make the exit code 1.
    fn of(
        results: &[supplywatch::checks::SupplierResult],
        fail_on: Option<supplywatch::checks::Severity>,
    ) -> Self {
        let failing = fail_on.is_some_and(|threshold| {
            results
                .iter()
                .flat_map(|r| &r.findings)
                .any(|f| f.severity >= threshold)
        });
        if failing {
            Self::FindingsAtThreshold
        } else {
            Self::Ok
        }
    }
}

impl From<Outcome> for std::process::ExitCode {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Ok => Self::SUCCESS,
            Outcome::Interrupted => Self::from(130),
            Outcome::FindingsAtThreshold | Outcome::ChainBroken | Outcome::RegisterRejected => {
                Self::from(1)
            }
        }
    }
}

/// The OS user running the command, from `USER`, else `LOGNAME`.
fn os_user() -> Option<String> {
    ["USER", "LOGNAME"]
        .iter()
        .filter_map(std::env::var_os)
        .map(|v| v.to_string_lossy().trim().to_owned())
        .find(|v| !v.is_empty())
}

/// The real uid, from `/proc/self/status` (no libc call needed).
fn own_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// This machine's name, for `daemon@HOST`.
fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|name| name.trim().to_owned())
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned())
}

pub fn init_tracing(cli: &Cli) {
    let default = match (cli.quiet, cli.verbose) {
        (q, _) if q > 0 => "error",
        (_, 0) => "warn",
        (_, 1) => "supplywatch=debug,info",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let default = if matches!(cli.command, Command::Run(_)) && cli.quiet == 0 && cli.verbose == 0 {
        // The service says what it does: each job and delivery is a line.
        "supplywatch=info,warn"
    } else {
        default
    };
    let filter = if std::env::var_os("RUST_LOG").is_some() {
        filter
    } else {
        tracing_subscriber::EnvFilter::new(default)
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Its own report of a failed write is an `eprintln!`, which panics
        // when stderr is full: a lost log line must not end the process.
        .log_internal_errors(false);
    if cli.log_format == LogFormat::Json {
        builder.json().init();
    } else {
        // journald stamps each line itself; a terminal gets colour.
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let globals = Globals {
        config: cli.config,
        database: cli.database,
        format: match cli.format {
            FormatArg::Table => Format::Table,
            FormatArg::Json => Format::Json,
            FormatArg::Csv => Format::Csv,
        },
        quiet: cli.quiet > 0,
        actor: cli.actor,
        daemon: matches!(cli.command, Command::Run(_)),
        invoked: cli.invoked,
        resolved: OnceLock::new(),
        warned: AtomicBool::new(false),
        config_warned: AtomicBool::new(false),
    };
    // Refused before anything runs: `sync` or `questionnaire send` must not
    // change the database and then fail to print.
    if let (Format::Csv, Some(name)) = (globals.format, cli.command.without_csv()) {
        return Err(UsageError(format!(
            "`{name}` prints table or json; --format csv is for {CSV_COMMANDS}"
        ))
        .into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Validate => validate::run(&globals),
            Command::Sync => sync::run(&globals).await,
            Command::Suppliers => suppliers::run(&globals).await,
            Command::Audit(args) => audit::run(&globals, &args).await,
            Command::Check(args) => check::run(&globals, &args).await,
            Command::Run(args) => Box::pin(run::run(&globals, &args)).await,
            Command::Status => status::run(&globals).await,
            Command::Findings(args) => findings::run(&globals, &args).await,
            Command::Questionnaire(args) => questionnaire::run(&globals, &args).await,
            Command::Obligations(args) => obligations::run(&globals, &args).await,
            Command::Supplier(args) => supplier::run(&globals, &args).await,
            Command::Digest(args) => digest::run(&globals, &args).await,
            Command::Export(args) => export::run(&globals, &args),
            Command::Report(args) => report::run(&globals, &args).await,
            Command::Concentration(args) => concentration::run(&globals, &args).await,
        }
    })
}

/// Opens the database for a command that only reads: it must exist, hold
/// the current schema, and is opened `query_only` — nothing this command
/// does can change it. When a config is at hand (`--config`, or found where
/// configs are looked for) and it is not the one the database was synced
/// from, says so on stderr.
async fn open_existing(globals: &Globals) -> anyhow::Result<Store> {
    let config = match globals.config_path() {
        // With --database the config is only compared: a broken one is
        // said, not fatal.
        Ok(_) if globals.database.is_some() => globals
            .load_config()
            .map_err(|e| errln!("warning: {e:#}; the database is not compared with it"))
            .ok(),
        Ok(_) => Some(globals.load_config()?),
        Err(_) => None,
    };
    let path = globals.database_path(config.as_ref())?;
    let store = Store::open(&path, OpenMode::ReadOnly).await?;
    if let Some(config) = &config {
        warn_if_not_synced(&store, config).await?;
    }
    Ok(store)
}

/// [`open_existing`] for the commands that use the config as well
/// (`status`, `findings`, `supplier show`): the config, when one is found,
/// is returned; it never changes what the database says.
async fn open_for_reading(globals: &Globals) -> anyhow::Result<(Store, Option<Config>)> {
    let config = match globals.config_path() {
        Ok(_) => Some(globals.load_config()?),
        Err(_) => None,
    };
    let path = globals.database_path(config.as_ref())?;
    let store = Store::open(&path, OpenMode::ReadOnly).await?;
    if let Some(config) = &config {
        warn_if_not_synced(&store, config).await?;
    }
    Ok((store, config))
}

/// One line on stderr when `config` is not what the database was last
/// synced from: its suppliers, acceptances or overrides differ.
async fn warn_if_not_synced(store: &Store, config: &Config) -> anyhow::Result<()> {
    let print = supplywatch::store::fingerprint(
        &config.suppliers,
        &supplywatch::pipeline::registry_policy(config),
    );
    match store.last_sync().await? {
        Some(last) if last.fingerprint == print => {}
        Some(last) => errln!(
            "warning: the database was synced from a different config on {} (not {}); run `supplywatch sync`",
            last.at.format("%Y-%m-%d %H:%M UTC"),
            config.path.display()
        ),
        None => errln!(
            "warning: the database has no record of being synced from {}; run `supplywatch sync`",
            config.path.display()
        ),
    }
    Ok(())
}

/// A delivery pass that tried and sent nothing is a runtime failure (exit
/// 3): a cron job or a script must not read it as done. The messages stay
/// queued (or given up, as `status` shows).
fn nothing_delivered(
    report: &supplywatch::mail::DeliveryReport,
    mailer: &supplywatch::mail::Mailer,
) -> anyhow::Result<()> {
    if report.sent == 0 && report.retried + report.given_up > 0 {
        anyhow::bail!(
            "nothing could be delivered via {}: {} to retry, {} given up (see `supplywatch status`)",
            mailer.describe(),
            report.retried,
            report.given_up
        );
    }
    Ok(())
}

/// The config's warnings, one line each on stderr.
fn print_config_warnings(config: &Config) {
    for w in &config.warnings {
        errln!("warning: {w}");
    }
}

/// Set when a write to stdout failed: the command's answer was lost.
static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);

/// Writes to stdout, recording a failure instead of panicking.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if stdout.write_fmt(args).is_err() {
        STDOUT_FAILED.store(true, Ordering::Relaxed);
    }
}

/// Writes to stderr, ignoring a failure: there is nowhere to report it.
pub fn write_stderr(args: std::fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// Flushes stdout; whether any of the command's output was lost.
pub fn output_lost() -> bool {
    if std::io::stdout().lock().flush().is_err() {
        STDOUT_FAILED.store(true, Ordering::Relaxed);
    }
    STDOUT_FAILED.load(Ordering::Relaxed)
}

/// Prints the error (with its cause chain) and returns the exit code.
pub fn report_error(error: &anyhow::Error) -> u8 {
    if let Some(ConfigError::Invalid {
        path,
        diagnostics,
        not_shown,
    }) = error.downcast_ref::<ConfigError>()
    {
        for d in diagnostics {
            errln!("error: {d}");
        }
        if *not_shown > 0 {
            errln!("error: {}", supplywatch::config::more_errors(*not_shown));
        }
        let n = diagnostics.len() + not_shown;
        errln!(
            "{}: invalid, {} error{}",
            path.display(),
            supplywatch::config::thousands(n),
            if n == 1 { "" } else { "s" }
        );
        return 2;
    }
    errln!("error: {error:#}");
    exit_code_of(error)
}

fn exit_code_of(error: &anyhow::Error) -> u8 {
    // Store failures and anything unforeseen are runtime failures.
    let refused = matches!(
        error.downcast_ref::<supplywatch::store::StoreError>(),
        Some(supplywatch::store::StoreError::InvalidStep { .. })
    );
    if refused
        || error.downcast_ref::<ConfigError>().is_some()
        || error.downcast_ref::<UsageError>().is_some()
    {
        2
    } else {
        3
    }
}

/// Turns true at the first SIGINT or SIGTERM, so that long work can stop
/// cleanly and keep what it finished; a second signal ends the process at
/// once (exit code 130). Never turns when the signals cannot be listened for.
fn stop_on_signals() -> tokio::sync::watch::Receiver<bool> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = tokio::sync::watch::channel(false);
    let (Ok(mut terminate), Ok(mut interrupt)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return rx;
    };
    tokio::spawn(async move {
        for round in 0..2 {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            if round == 0 {
                errln!("stopping: finishing what was judged (a second signal stops at once)");
                let _ = tx.send(true);
            } else {
                std::process::exit(130);
            }
        }
    });
    rx
}

/// Prints JSON to stdout, pretty.
fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value).context("cannot render JSON")?;
    outln!("{text}");
    Ok(())
}

/// `source` recorded in the audit log for changes made from a config file.
fn audit_source(config: &Path) -> String {
    let shown = std::fs::canonicalize(config).unwrap_or_else(|_| config.to_path_buf());
    format!("sync {}", shown.display())
}
