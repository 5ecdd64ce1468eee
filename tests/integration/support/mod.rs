//! Helpers shared by the integration tests: a scratch folder per test,
//! config texts, running the `supplywatch` binary, a fixed clock.

pub mod browser;

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, TimeZone as _, Utc};
use supplywatch::config::{Config, ConfigError, Diagnostic};
use supplywatch::registry::Supplier;
use tempfile::TempDir;

/// A scratch folder owned by one test, removed when dropped.
pub struct Scratch {
    pub dir: TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        Self {
            dir: tempfile::Builder::new()
                .prefix("supplywatch-it-")
                .tempdir()
                .unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `contents` to `name` in the folder and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Runs the binary with the folder as working directory.
    pub fn run(&self, args: &[&str]) -> Run {
        run_in(self.dir.path(), args, &[])
    }

    /// [`Scratch::run`] from an async test, off the runtime's threads, so
    /// that servers the test runs on the runtime (the local world) answer.
    pub async fn run_async(&self, args: &[&str]) -> Run {
        let dir = self.dir.path().to_path_buf();
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_in(&dir, &args, &[])
        })
        .await
        .unwrap()
    }

    /// Like [`Scratch::run`], with extra environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        run_in(self.dir.path(), args, env)
    }
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout, self.stderr
        );
        assert!(
            !self.stderr.contains("panicked"),
            "the binary panicked:\n{}",
            self.stderr
        );
        self
    }

    /// stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// The OS user the binary runs as in tests (`USER`), so that audit rows
/// name someone wherever the tests run; `env` can override it.
pub const TEST_USER: &str = "tester";

/// Runs `supplywatch` in `cwd` with a clean environment for its variables.
pub fn run_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = command_in(cwd, args, env).output().unwrap();
    Run {
        // A signal (a crash) has no code: make it fail any expectation.
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Starts `supplywatch` in `cwd` without waiting for it (processes that
/// must run at the same time); collect it with [`finish`].
pub fn spawn_in(cwd: &Path, args: &[&str]) -> std::process::Child {
    command_in(cwd, args, &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for a process from [`spawn_in`].
pub fn finish(child: std::process::Child) -> Run {
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The binary with a clean environment for its variables.
fn command_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_supplywatch"));
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("SUPPLYWATCH_CONFIG")
        .env_remove("SUPPLYWATCH_SMTP_PASSWORD")
        .env_remove("SUPPLYWATCH_ACTOR")
        .env_remove("LOGNAME")
        .env("USER", TEST_USER)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1");
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd
}

/// One `[[supplier]]` table with the required keys and `extra` lines.
pub fn supplier(id: &str, name: &str, extra: &str) -> String {
    format!("[[supplier]]\nid = \"{id}\"\nname = \"{name}\"\ncriticality = \"critical\"\n{extra}\n")
}

/// A small valid config: `[email]` with the file transport, plus `suppliers`.
pub fn config_with(suppliers: &str) -> String {
    format!(
        "[daemon]\ntimezone = \"UTC\"\n\n[email]\ntransport = \"file\"\nfrom = \"watch@bank.example\"\n\n\
         [contacts]\nrisk_manager = [\"risk@bank.example\"]\n\n{suppliers}"
    )
}

/// Three suppliers: 3 domains and 4 endpoints between them.
pub fn three_suppliers() -> String {
    config_with(&format!(
        "{}{}{}",
        supplier(
            "acme",
            "Acme Cloud",
            "domains = [\"acme.example\"]\nendpoints = [\"portal.acme.example\", \"api.acme.example:8443\"]\n\
             contract = { reference = \"C-1\", start = 2024-01-01, end = 2027-06-30 }"
        ),
        supplier(
            "globex",
            "Globex Mail",
            "status = \"onboarding\"\ndomains = [\"globex.example\", \"mail.globex.example\"]\nendpoints = [\"smtp.globex.example\"]"
        ),
        supplier(
            "initech",
            "Initech Payroll",
            "endpoints = [\"payroll.initech.example\"]"
        ),
    ))
}

/// Parses config text as `bad.toml`, with no SMTP password in the environment.
pub fn parse(source: &str) -> Result<Config, ConfigError> {
    Config::parse(source, Path::new("bad.toml"), None)
}

/// The diagnostics of an invalid config; fails the test on anything else.
#[track_caller]
pub fn diagnostics(source: &str) -> Vec<Diagnostic> {
    match parse(source) {
        Err(ConfigError::Invalid { diagnostics, .. }) => diagnostics,
        Err(other) => {
            panic!("expected ConfigError::Invalid, got {other:?}\n--- config ---\n{source}")
        }
        Ok(_) => panic!("expected the config to be refused:\n{source}"),
    }
}

/// The suppliers of a config text that must be valid.
#[track_caller]
pub fn suppliers_of(source: &str) -> Vec<Supplier> {
    match parse(source) {
        Ok(config) => config.suppliers,
        Err(e) => panic!("config should be valid: {e}\n--- config ---\n{source}"),
    }
}

/// A fixed "now" on 2026-03-`day` at noon UTC.
pub fn day(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, 12, 0, 0).unwrap()
}

/// Makes a path argument for the binary.
pub fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Set for a test that [`in_netns`] runs inside its network namespace.
const NETNS_ENV: &str = "SUPPLYWATCH_TEST_NETNS";

/// Runs the ignored test `test` (its path in this binary, e.g.
/// `http::metadata_inside_a_namespace`) again, alone, in a network
/// namespace of its own (`unshare -rn`) whose `lo` is up and also carries
/// `addrs` — so that whatever the test and the binaries it starts connect
/// to (169.254.169.254, 10.1.2.3 …), no packet leaves the namespace, and a
/// [`supplywatch_testworld::Canary`] there sees every connection.
///
/// Fails loudly when the namespace cannot be made — CI runs as root, where
/// it always can; unprivileged, it needs user namespaces — and when the
/// inner test fails or does not run.
pub fn in_netns(test: &str, addrs: &[&str]) {
    let mut script = String::from("set -e; ip link set lo up; ");
    for addr in addrs {
        let add = if addr.contains(':') {
            format!("ip -6 addr add {addr}/128 dev lo nodad; ")
        } else {
            format!("ip addr add {addr}/32 dev lo; ")
        };
        script.push_str(&add);
    }
    script.push_str(r#"exec "$0" "$@""#);
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args(["-rn", "sh", "-c", &script])
        .arg(&exe)
        .args([
            test,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(NETNS_ENV, "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run unshare (util-linux) for {test}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{test} failed in its network namespace (`unshare -rn` needs root or user namespaces, and `ip`)\n\
         --- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    );
}

/// Whether this (ignored) test runs inside [`in_netns`]'s namespace. Run
/// any other way (`--ignored`), it must not touch the addresses it is
/// about: it says so and does nothing; its outer test is the real one.
pub fn inside_netns(outer: &str) -> bool {
    let inside = std::env::var_os(NETNS_ENV).is_some();
    if !inside {
        eprintln!("skipped: runs only inside the network namespace that {outer} creates");
    }
    inside
}
