//! E-mail delivery and the daemon end to end: `run --once` and `digest`
//! against the in-process SMTP sink (and the file transport), retries with
//! backoff driven through the library with a moved clock, permanent
//! refusals given up and reported, and `supplywatch run` as a child
//! process: a crash between queueing and sending, SIGHUP reloads good and
//! bad, SIGTERM, JSON logs, sd-notify, and the `status` service section.
//!
//! No network: the suppliers have no domains or endpoints, only paperwork
//! that fires a high finding (an ISO 27001 certificate that expired in
//! 2020), which alerts the risk manager.

// Daemon stories read best as one test each, step after step.
#![allow(clippy::too_many_lines)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use supplywatch::config::Config;
use supplywatch::mail::{DeliveryReport, Mailer, deliver_due};
use supplywatch::store::{OpenMode, OutboxRow, Store, backoff};
use supplywatch_testworld::{ReceivedMail, SmtpSink};

use crate::support::{Run, Scratch};

const CONFIG: &str = "supplywatch.toml";
const DB: &str = "watch.db";
const RISK: &str = "risk@bank.example";
const CISO: &str = "ciso@bank.example";
const FROM: &str = "watch@bank.example";
const ALERT_SUBJECT: &str = "[supplywatch] Acme Cloud (acme)";
/// How long any one condition is waited for.
const PATIENCE: Duration = Duration::from_secs(20);

/// Acme: critical, no domains or endpoints, an ISO 27001 certificate that
/// expired in 2020 (`certification.expired`, high: an alert).
const ACME: &str = "[[supplier]]\nid = \"acme\"\nname = \"Acme Cloud\"\ncriticality = \"critical\"\n\
                    certifications = [{ kind = \"ISO 27001\", expires = 2020-01-01 }]\n";
/// Globex: nothing at high or worse.
const GLOBEX: &str =
    "[[supplier]]\nid = \"globex\"\nname = \"Globex Mail\"\ncriticality = \"standard\"\n";

/// `[email]` for the SMTP sink on `port`, plain SMTP.
fn smtp(port: u16) -> String {
    format!("transport = \"smtp\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\ntls = \"none\"\n")
}

/// `[email]` for `.eml` files in `mail/` beside the config.
const FILE_MAIL: &str = "transport = \"file\"\ndirectory = \"mail\"\n";

/// A config: obligations every second, every other job far away (so that
/// no digest or probe fires during a test), `email` lines, the risk
/// managers and CISOs given, and `suppliers`.
fn config(email: &str, risk: &[&str], ciso: &[&str], suppliers: &str) -> String {
    let list = |l: &[&str]| {
        l.iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "[daemon]\ntimezone = \"UTC\"\n\
         probe_schedule = \"0 0 0 1 1 *\"\n\
         obligations_schedule = \"*/1 * * * * *\"\n\
         digest_schedule = \"0 0 0 1 1 *\"\n\
         retention_schedule = \"0 0 0 1 1 *\"\n\
         probe_jitter_secs = 0\n\n\
         [email]\nfrom = \"{FROM}\"\n{email}\n\
         [contacts]\nrisk_manager = [{}]\nciso = [{}]\n\n{suppliers}",
        list(risk),
        list(ciso)
    )
}

/// Runs the binary with `--config` and `--database` in the scratch folder.
async fn sw(scratch: &Scratch, args: &[&str]) -> Run {
    let mut all = vec!["--config", CONFIG, "--database", DB];
    all.extend_from_slice(args);
    scratch.run_async(&all).await
}

/// `status --format json`'s `service.outbox`.
async fn outbox_stats(scratch: &Scratch) -> serde_json::Value {
    let run = sw(scratch, &["status", "--format", "json"]).await;
    run.expect_code(0);
    run.json()["service"]["outbox"].clone()
}

/// Every outbox row, read through the library.
async fn outbox_rows(scratch: &Scratch) -> Vec<OutboxRow> {
    let store = Store::open(&scratch.path(DB), OpenMode::Existing)
        .await
        .unwrap();
    let rows = store.outbox().await.unwrap();
    store.close().await;
    rows
}

/// The scratch config, the mailer it describes and its database.
async fn library(scratch: &Scratch) -> (Config, Mailer, Store) {
    let config = Config::load(&scratch.path(CONFIG)).unwrap();
    let mailer = Mailer::from_config(&config).unwrap();
    let store = Store::open(&scratch.path(DB), OpenMode::Existing)
        .await
        .unwrap();
    (config, mailer, store)
}

/// A sink that is no longer listening: its port is known, connections to
/// it are refused.
async fn stopped_sink() -> (SmtpSink, u16) {
    let sink = SmtpSink::start().await.unwrap();
    let port = sink.port();
    sink.stop().await;
    (sink, port)
}

/// Whether `mail` is the one alert about acme, to `to`.
fn is_alert_to(mail: &ReceivedMail, to: &str) -> bool {
    mail.header("subject").as_deref() == Some(ALERT_SUBJECT) && mail.rcpt_to == [to]
}

/// The `.eml` files in `dir`, sorted by name.
fn eml_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    Path::new(n)
                        .extension()
                        .is_some_and(|e| e.eq_ignore_ascii_case("eml"))
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Polls `condition` every 100 ms until it holds or [`PATIENCE`] passes.
async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `supplywatch run` as a child process of the test, in the scratch
/// folder, its stderr in a file there. Killed when dropped.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(scratch: &Scratch, log: &str, extra: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_on(scratch, DB, log, extra, env)
    }

    /// [`Daemon::start`] with the database at `db` (relative to the folder).
    fn start_on(
        scratch: &Scratch,
        db: &str,
        log: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let log = scratch.path(log);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_supplywatch"));
        cmd.args(["--config", CONFIG, "--database", db])
            .args(extra)
            .arg("run")
            .current_dir(scratch.dir.path())
            .env_remove("SUPPLYWATCH_CONFIG")
            .env_remove("SUPPLYWATCH_SMTP_PASSWORD")
            .env_remove("SUPPLYWATCH_ACTOR")
            .env_remove("RUST_LOG")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap());
        for (key, value) in env {
            cmd.env(key, value);
        }
        Self {
            child: cmd.spawn().unwrap(),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How often `what` is in the log so far.
    fn count(&self, what: &str) -> usize {
        self.log().matches(what).count()
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits until `what` is in the log at least `n` times; fails the test
    /// (showing the log) when the daemon exits first or on timeout.
    async fn wait_log(&mut self, what: &str, n: usize) {
        let deadline = Instant::now() + PATIENCE;
        while self.count(what) < n {
            assert!(
                self.alive(),
                "the daemon exited while waiting for {what:?}:\n{}",
                self.log()
            );
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what:?} ×{n} in the log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the scheduler runs (its signal handlers are installed
    /// then): the first obligations job has finished.
    async fn wait_ready(&mut self) {
        self.wait_log("paperwork judged", 1).await;
    }

    /// Sends `signal` (`HUP`, `TERM`, `KILL`) with kill(1).
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits for the exit, at most `timeout`.
    async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not exit within {timeout:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM; asserts a clean exit (0) within 10 s and the last words.
    async fn stop(&mut self) {
        self.signal("TERM");
        let status = self.wait_exit(Duration::from_secs(10)).await;
        let log = self.log();
        assert_eq!(status.code(), Some(0), "exit after SIGTERM:\n{log}");
        assert!(
            log.contains("stopping: waiting for the job in flight") && log.contains("stopped"),
            "the log does not say it stopped:\n{log}"
        );
        assert!(!log.contains("panicked"), "{log}");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A small tmpfs mounted on a folder for one test, unmounted when dropped:
/// a disk that can be filled without filling the machine's.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// `None` where mounting is not allowed (not root): said, and the
    /// caller skips.
    fn mount(at: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(at).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            // As root (CI) the test must run, not pass by skipping.
            let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
                s.lines()
                    .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
            });
            assert!(!root, "cannot mount a tmpfs on {} as root", at.display());
            eprintln!(
                "skipped: cannot mount a tmpfs on {} (needs root)",
                at.display()
            );
        }
        mounted.then(|| Self(at.to_path_buf()))
    }

    /// Fills the disk with `filler` until a write fails.
    fn fill(&self) -> PathBuf {
        use std::io::Write as _;
        let path = self.0.join("filler");
        let mut file = File::create(&path).unwrap();
        let chunk = vec![0_u8; 4096];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.sync_all();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_fails_jobs_and_the_next_ones_work_once_space_is_back() {
    let scratch = Scratch::new();
    let Some(disk) = Tmpfs::mount(&scratch.path("disk"), "4m") else {
        return;
    };
    scratch.write(CONFIG, config(FILE_MAIL, &[RISK], &[CISO], ACME));
    let db = "disk/watch.db";
    scratch
        .run_async(&["--config", CONFIG, "--database", db, "sync"])
        .await
        .expect_code(0);
    let mut daemon = Daemon::start_on(&scratch, db, "daemon.log", &[], &[]);
    daemon.wait_ready().await;

    // The disk fills up: jobs fail, and say why.
    let filler = disk.fill();
    daemon.wait_log("database or disk is full", 2).await;
    // Space is back: the next jobs work — all of them, not just one — in
    // the same process.
    std::fs::remove_file(&filler).unwrap();
    let judged = daemon.count("paperwork judged");
    daemon.wait_log("paperwork judged", judged + 4).await;
    let log = daemon.log();
    assert!(!log.contains("transaction depth"), "{log}");
    daemon.stop().await;
    scratch
        .run_async(&["--config", CONFIG, "--database", db, "status"])
        .await
        .expect_code(0);
}

// ---------------------------------------------------------------------------
// `run --once` and `digest` against the SMTP sink.

#[tokio::test(flavor = "multi_thread")]
async fn run_once_sends_the_alert_once_over_smtp() {
    let sink = SmtpSink::start().await.unwrap();
    let scratch = Scratch::new();
    scratch.write(CONFIG, config(&smtp(sink.port()), &[RISK], &[CISO], ACME));

    let run = sw(&scratch, &["run", "--once"]).await;
    run.expect_code(0);
    assert!(
        run.stderr.contains(&format!(
            "delivery via SMTP 127.0.0.1:{}: 1 sent, 0 to retry, 0 given up",
            sink.port()
        )),
        "{}",
        run.stderr
    );
    // `run --once` has delivered before it exits: no waiting needed.
    let mail = sink.messages();
    assert_eq!(mail.len(), 1, "{mail:#?}");
    let m = &mail[0];
    assert_eq!(m.mail_from, FROM);
    assert_eq!(m.rcpt_to, [RISK]);
    assert_eq!(m.header("to").as_deref(), Some(RISK));
    assert_eq!(m.header("from").as_deref(), Some(FROM));
    assert_eq!(m.header("subject").as_deref(), Some(ALERT_SUBJECT));
    assert_eq!(
        m.header("auto-submitted").as_deref(),
        Some("auto-generated")
    );
    assert_eq!(m.header("x-auto-response-suppress").as_deref(), Some("All"));
    let rows = outbox_rows(&scratch).await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(
        (
            rows[0].kind.as_str(),
            rows[0].state.as_str(),
            rows[0].attempts
        ),
        ("alert", "sent", 1)
    );
    let id = m.header("message-id").unwrap();
    assert_eq!(id, rows[0].message_id);
    assert!(
        id.starts_with("<alert.acme.") && id.ends_with("@bank.example>"),
        "{id}"
    );
    assert_eq!(
        m.header("in-reply-to").as_deref(),
        Some("<thread.acme@bank.example>")
    );
    let content_type = m.header("content-type").unwrap();
    assert!(
        content_type.starts_with("multipart/alternative;"),
        "{content_type}"
    );
    let body = m.body();
    let text = body
        .find("Content-Type: text/plain; charset=utf-8")
        .unwrap();
    let html = body.find("Content-Type: text/html; charset=utf-8").unwrap();
    assert!(text < html, "the text part comes first:\n{body}");
    assert!(body.contains("certification.expired"), "{body}");

    // Again: the alert was told, nothing new is queued or sent.
    let run = sw(&scratch, &["run", "--once"]).await;
    run.expect_code(0);
    assert!(
        run.stderr.contains(
            "obligations: paperwork judged: 0 opened, 0 reopened, 0 resolved, 0 e-mails queued"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(": 0 sent, 0 to retry, 0 given up"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 1);

    let stats = outbox_stats(&scratch).await;
    assert_eq!(
        stats,
        serde_json::json!({ "queued": 0, "oldest_queued": null, "sent": 1, "failed": 0 })
    );
    sink.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_is_down_gets_the_alert_after_the_backoff() {
    let sink = SmtpSink::start().await.unwrap();
    sink.set_down(true);
    let scratch = Scratch::new();
    scratch.write(CONFIG, config(&smtp(sink.port()), &[RISK], &[CISO], ACME));

    let run = sw(&scratch, &["run", "--once"]).await;
    // Nothing delivered: exit 3, the row stays queued.
    run.expect_code(3);
    assert!(
        run.stderr.contains("nothing could be delivered"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(": 0 sent, 1 to retry, 0 given up"),
        "{}",
        run.stderr
    );
    assert!(sink.messages().is_empty());
    let rows = outbox_rows(&scratch).await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(
        (
            rows[0].state.as_str(),
            rows[0].attempts,
            rows[0].recipient.as_str()
        ),
        ("queued", 1, RISK)
    );
    let error = rows[0].last_error.clone().unwrap();
    assert!(error.contains("421"), "{error}");
    let stats = outbox_stats(&scratch).await;
    assert_eq!(stats["queued"], 1);
    assert_eq!(stats["sent"], 0);
    assert_eq!(stats["failed"], 0);
    assert!(stats["oldest_queued"].is_string(), "{stats}");

    sink.set_down(false);
    let (config, mailer, store) = library(&scratch).await;
    let max = config.email.max_attempts;
    // Not due yet: the backoff holds it back even though the server is up.
    let report = deliver_due(&store, &mailer, Utc::now, max, 100, || true)
        .await
        .unwrap();
    assert_eq!(report, DeliveryReport::default());
    assert!(sink.messages().is_empty());
    // Past the backoff after one failed attempt: sent, exactly once.
    let later = || Utc::now() + backoff(0) + chrono::Duration::seconds(1);
    let report = deliver_due(&store, &mailer, later, max, 100, || true)
        .await
        .unwrap();
    assert_eq!(
        report,
        DeliveryReport {
            sent: 1,
            retried: 0,
            given_up: 0
        }
    );
    let report = deliver_due(&store, &mailer, later, max, 100, || true)
        .await
        .unwrap();
    assert_eq!(report, DeliveryReport::default());
    store.close().await;
    let mail = sink.messages();
    assert_eq!(mail.len(), 1, "{mail:#?}");
    assert!(is_alert_to(&mail[0], RISK));
    assert_eq!(
        mail[0].header("message-id").unwrap(),
        rows[0].message_id,
        "the retry carries the queued Message-ID"
    );
    let rows = outbox_rows(&scratch).await;
    assert_eq!((rows[0].state.as_str(), rows[0].attempts), ("sent", 2));
    assert_eq!(rows[0].last_error, None);

    // And `run --once` does not send it again.
    sw(&scratch, &["run", "--once"]).await.expect_code(0);
    assert_eq!(sink.messages().len(), 1);
    let stats = outbox_stats(&scratch).await;
    assert_eq!(
        (&stats["queued"], &stats["sent"], &stats["failed"]),
        (&0.into(), &1.into(), &0.into()),
        "{stats}"
    );
    sink.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_recipient_is_given_up_at_once_and_reported() {
    let sink = SmtpSink::start().await.unwrap();
    let scratch = Scratch::new();
    scratch.write(CONFIG, config(&smtp(sink.port()), &[RISK], &[CISO], ACME));
    sw(&scratch, &["run", "--once"]).await.expect_code(0);
    assert_eq!(sink.messages().len(), 1, "the alert");

    sink.reject(CISO);
    let run = sw(&scratch, &["digest", "--send"]).await;
    run.expect_code(0);
    assert!(
        run.stderr.contains(&format!(
            "digest queued for 2 recipients; delivery via SMTP 127.0.0.1:{}: 1 sent, 0 to retry, 1 given up",
            sink.port()
        )),
        "{}",
        run.stderr
    );
    let mail = sink.messages();
    assert_eq!(mail.len(), 2, "{mail:#?}");
    let digest = &mail[1];
    assert_eq!(digest.rcpt_to, [RISK]);
    assert!(
        digest
            .header("subject")
            .unwrap()
            .starts_with("supplywatch weekly digest "),
        "{digest:#?}"
    );
    assert!(
        mail.iter().all(|m| !m.rcpt_to.iter().any(|r| r == CISO)),
        "{mail:#?}"
    );

    let rows = outbox_rows(&scratch).await;
    let ciso: Vec<&OutboxRow> = rows.iter().filter(|r| r.recipient == CISO).collect();
    assert_eq!(ciso.len(), 1, "{rows:#?}");
    assert_eq!(
        (
            ciso[0].kind.as_str(),
            ciso[0].state.as_str(),
            ciso[0].attempts
        ),
        ("digest", "failed", 1),
        "a 5xx is given up on the first attempt"
    );
    let error = ciso[0].last_error.clone().unwrap();
    assert!(error.contains("550"), "{error}");
    let stats = outbox_stats(&scratch).await;
    assert_eq!(
        stats,
        serde_json::json!({ "queued": 0, "oldest_queued": null, "sent": 2, "failed": 1 })
    );
    let table = sw(&scratch, &["status"]).await;
    table.expect_code(0);
    assert!(
        table
            .stdout
            .contains("outbox: 0 queued, 2 sent, 1 given up\n"),
        "{}",
        table.stdout
    );

    // The next digest says so.
    let preview = sw(&scratch, &["digest", "--preview"]).await;
    preview.expect_code(0);
    let text = &preview.stdout;
    assert!(
        text.contains(
            "Needs attention: 0 critical and 1 high finding open; 1 e-mail could not be delivered."
        ),
        "{text}"
    );
    let section = text
        .split_once("E-mails that could not be delivered (1)")
        .unwrap_or_else(|| panic!("no undelivered section:\n{text}"))
        .1;
    assert!(
        section.contains(&format!("to {CISO}: \"supplywatch weekly digest ")),
        "{section}"
    );
    assert!(section.contains("1 attempt"), "{section}");
    assert!(section.contains("last error:"), "{section}");
    assert!(section.contains("550"), "{section}");
    sink.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn max_attempts_gives_up_after_the_last_retry() {
    let (_sink, port) = stopped_sink().await;
    let scratch = Scratch::new();
    scratch.write(
        CONFIG,
        config(
            &format!("{}max_attempts = 2\n", smtp(port)),
            &[RISK],
            &[],
            ACME,
        ),
    );
    sw(&scratch, &["sync"]).await.expect_code(0);
    let (config, mailer, store) = library(&scratch).await;
    assert_eq!(config.email.max_attempts, 2);
    let queued = supplywatch::daemon::queue_digest(&store, &config, Utc::now())
        .await
        .unwrap();
    assert_eq!(queued, 1);

    // Attempt 1: connection refused, queued again with backoff.
    let report = deliver_due(&store, &mailer, Utc::now, 2, 100, || true)
        .await
        .unwrap();
    assert_eq!(
        report,
        DeliveryReport {
            sent: 0,
            retried: 1,
            given_up: 0
        }
    );
    let row = store.outbox().await.unwrap().remove(0);
    assert_eq!((row.state.as_str(), row.attempts), ("queued", 1));
    // Before the backoff nothing is tried.
    let report = deliver_due(&store, &mailer, Utc::now, 2, 100, || true)
        .await
        .unwrap();
    assert_eq!(report, DeliveryReport::default());
    // Attempt 2, past the backoff: the last one, given up.
    let later = || Utc::now() + backoff(0) + chrono::Duration::seconds(1);
    let report = deliver_due(&store, &mailer, later, 2, 100, || true)
        .await
        .unwrap();
    assert_eq!(
        report,
        DeliveryReport {
            sent: 0,
            retried: 0,
            given_up: 1
        }
    );
    let row = store.outbox().await.unwrap().remove(0);
    assert_eq!((row.state.as_str(), row.attempts), ("failed", 2));
    assert!(row.last_error.is_some());
    // Given up is final.
    let much_later = || Utc::now() + chrono::Duration::days(1);
    let report = deliver_due(&store, &mailer, much_later, 2, 100, || true)
        .await
        .unwrap();
    assert_eq!(report, DeliveryReport::default());
    store.close().await;
    let stats = outbox_stats(&scratch).await;
    assert_eq!(
        stats,
        serde_json::json!({ "queued": 0, "oldest_queued": null, "sent": 0, "failed": 1 })
    );
}

// ---------------------------------------------------------------------------
// The daemon as a child process.

/// A port that accepts connections and never says a word: an SMTP client
/// waits there for the greeting (up to lettre's 30 s timeout).
struct BlackHole {
    port: u16,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl BlackHole {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        });
        Self {
            port,
            accepted,
            task,
        }
    }

    /// Closes the port and every connection.
    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// An SMTP server that answers every command until the message's data is
/// sent, then never answers again: a stall in DATA.
async fn data_staller() -> (u16, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            let _ = write.write_all(b"220 staller ESMTP\r\n").await;
            let mut in_data = false;
            while let Ok(Some(line)) = lines.next_line().await {
                let reply: &[u8] = if in_data {
                    if line == "." {
                        // The message is in: no reply, ever.
                        break;
                    }
                    continue;
                } else if line.starts_with("EHLO") {
                    b"250-staller\r\n250 8BITMIME\r\n"
                } else if line.starts_with("DATA") {
                    in_data = true;
                    b"354 go ahead\r\n"
                } else {
                    b"250 OK\r\n"
                };
                let _ = write.write_all(reply).await;
            }
            held.push((lines, write));
        }
    });
    (port, task)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_or_stalling_smtp_server_is_a_bounded_failed_attempt() {
    let hole = BlackHole::start().await;
    let (staller, task) = data_staller().await;
    for (port, what) in [(hole.port, "never greets"), (staller, "stalls in DATA")] {
        let scratch = Scratch::new();
        scratch.write(
            CONFIG,
            config(
                &format!("{}timeout_secs = 1\n", smtp(port)),
                &[RISK],
                &[],
                ACME,
            ),
        );
        sw(&scratch, &["sync"]).await.expect_code(0);
        let started = Instant::now();
        let run = sw(&scratch, &["digest", "--send"]).await;
        let took = started.elapsed();
        // Each step is bounded by the 1 s timeout, the message by 4 of them.
        assert!(took < Duration::from_secs(15), "{what}: took {took:?}");
        run.expect_code(3);
        assert!(
            run.stderr
                .contains("nothing could be delivered via SMTP 127.0.0.1")
                && run.stderr.contains("1 to retry"),
            "{what}: {}",
            run.stderr
        );
        // Counted as an attempt, with its error, queued for a retry.
        let rows = outbox_rows(&scratch).await;
        assert_eq!(rows.len(), 1, "{what}");
        assert_eq!(
            (rows[0].state.as_str(), rows[0].attempts),
            ("queued", 1),
            "{what}"
        );
        assert!(
            rows[0].last_error.as_deref().is_some_and(|e| !e.is_empty()),
            "{what}: {:?}",
            rows[0].last_error
        );
    }
    hole.stop().await;
    task.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_between_queueing_and_sending_delivers_once_after_restart() {
    let hole = BlackHole::start().await;
    let port = hole.port;
    let second = "risk2@bank.example";
    let scratch = Scratch::new();
    scratch.write(CONFIG, config(&smtp(port), &[RISK, second], &[], ACME));

    // The alert is queued (a row per recipient) and its sending hangs.
    let mut daemon = Daemon::start(&scratch, "first.log", &[], &[]);
    daemon.wait_log("supplywatch running", 1).await;
    eventually("two queued alert rows", || async {
        let rows = outbox_rows(&scratch).await;
        rows.len() == 2
            && rows
                .iter()
                .all(|r| r.kind == "alert" && r.state == "queued")
    })
    .await;
    eventually("the SMTP connection", || async {
        hole.accepted.load(Ordering::SeqCst) > 0
    })
    .await;
    daemon.signal("KILL");
    let status = daemon.wait_exit(Duration::from_secs(5)).await;
    assert_eq!(status.code(), None, "killed by a signal");
    let rows = outbox_rows(&scratch).await;
    assert!(
        rows.iter().all(|r| r.state == "queued" && r.attempts == 0),
        "nothing was recorded of the attempt in flight: {rows:#?}"
    );

    // The server comes (back) on the same port; the daemon starts again.
    hole.stop().await;
    let sink = SmtpSink::start_on(port).await.unwrap();
    let mut daemon = Daemon::start(&scratch, "second.log", &[], &[]);
    let mail = sink.wait_for(2, PATIENCE).await;
    assert_eq!(mail.len(), 2, "{}", daemon.log());
    // Let a few obligations ticks and delivery passes go by.
    daemon.wait_log("paperwork judged", 3).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mail = sink.messages();
    assert_eq!(mail.len(), 2, "no duplicate: {mail:#?}");
    for to in [RISK, second] {
        let to_them: Vec<&ReceivedMail> = mail.iter().filter(|m| is_alert_to(m, to)).collect();
        assert_eq!(to_them.len(), 1, "one alert to {to}: {mail:#?}");
        let row = rows.iter().find(|r| r.recipient == to).unwrap();
        assert_eq!(to_them[0].header("message-id").unwrap(), row.message_id);
    }
    let rows = outbox_rows(&scratch).await;
    assert!(
        rows.len() == 2 && rows.iter().all(|r| r.state == "sent"),
        "{rows:#?}"
    );
    assert!(
        daemon
            .log()
            .contains("paperwork judged: 0 opened, 0 reopened, 0 resolved, 0 e-mails queued"),
        "{}",
        daemon.log()
    );
    daemon.stop().await;
    sink.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_refuses_a_broken_config_and_takes_a_good_one() {
    let scratch = Scratch::new();
    let good = config(FILE_MAIL, &[RISK], &[CISO], ACME);
    scratch.write(CONFIG, &good);
    let mut daemon = Daemon::start(&scratch, "daemon.log", &[], &[]);
    daemon.wait_ready().await;

    // A typo: `criticalty`.
    let broken = good.replacen("criticality = \"critical\"", "criticalty = \"critical\"", 1);
    assert_ne!(broken, good);
    let line = broken
        .lines()
        .position(|l| l.starts_with("criticalty"))
        .unwrap()
        + 1;
    scratch.write(CONFIG, &broken);
    daemon.signal("HUP");
    daemon
        .wait_log("config reload refused, the old config stays", 1)
        .await;
    let log = daemon.log();
    assert!(
        log.contains(&format!(
            "config reload: {CONFIG}:{line}:1: supplier[acme].criticalty: unknown key; did you mean `criticality`?"
        )),
        "{log}"
    );
    assert!(daemon.alive(), "{log}");
    // It goes on working with the old config.
    let ticks = daemon.count("paperwork judged");
    daemon.wait_log("paperwork judged", ticks + 1).await;
    assert!(!daemon.log().contains("config reloaded"));

    // Fixed, with a new supplier.
    scratch.write(CONFIG, format!("{good}\n{GLOBEX}"));
    daemon.signal("HUP");
    daemon.wait_log("config reloaded from", 1).await;
    let log = daemon.log();
    assert!(
        log.contains(&format!(
            "config reloaded from {CONFIG} onboarded=1 updated=0 exited=0"
        )),
        "{log}"
    );
    let suppliers = sw(&scratch, &["suppliers", "--format", "json"]).await;
    suppliers.expect_code(0);
    let ids: Vec<String> = suppliers
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["acme", "globex"]);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_are_one_object_a_line() {
    let scratch = Scratch::new();
    scratch.write(CONFIG, config(FILE_MAIL, &[RISK], &[CISO], ACME));
    let mut daemon = Daemon::start(&scratch, "daemon.log", &["--log-format", "json"], &[]);
    // The alert is sent: a job line, a delivery line and an e-mail line.
    daemon.wait_log("\"outbox delivery\"", 1).await;
    daemon.wait_log("paperwork judged", 2).await;
    daemon.stop().await;
    let log = daemon.log();
    let mut messages = Vec::new();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line}\n--- log ---\n{log}"));
        let level = value["level"].as_str().unwrap_or_else(|| panic!("{line}"));
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level),
            "{line}"
        );
        let message = value["fields"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no fields.message: {line}"));
        assert!(value["target"].is_string(), "{line}");
        assert!(value["timestamp"].is_string(), "{line}");
        messages.push((message.to_owned(), value));
    }
    let find = |m: &str| {
        messages
            .iter()
            .find(|(message, _)| message == m)
            .map_or_else(|| panic!("no {m:?} in the log:\n{log}"), |(_, v)| v.clone())
    };
    let started = find("registry synced; supplywatch running");
    assert_eq!(started["fields"]["onboarded"], 1);
    assert_eq!(started["level"], "INFO");
    let sent = find("e-mail sent");
    assert_eq!(sent["fields"]["to"], RISK);
    assert_eq!(sent["fields"]["kind"], "alert");
    let delivery = find("outbox delivery");
    assert_eq!(delivery["fields"]["sent"], 1);
    find("stopped");
    assert!(
        messages.iter().any(
            |(m, v)| m.starts_with("paperwork judged: ") && v["fields"]["job"] == "obligations"
        ),
        "{log}"
    );
    assert_eq!(
        eml_files(&scratch.path("mail")),
        ["00000001-alert-acme.eml"]
    );
}

/// A notify socket as systemd has one: every datagram read at once.
struct NotifySocket {
    path: PathBuf,
    notes: Arc<std::sync::Mutex<Vec<String>>>,
    reader: tokio::task::JoinHandle<()>,
}

impl NotifySocket {
    fn bind(scratch: &Scratch) -> Self {
        let path = scratch.path("notify.sock");
        let socket = tokio::net::UnixDatagram::bind(&path).unwrap();
        let notes = Arc::new(std::sync::Mutex::new(Vec::new()));
        let into = notes.clone();
        let reader = tokio::spawn(async move {
            let mut buf = [0_u8; 512];
            while let Ok(n) = socket.recv(&mut buf).await {
                let note = String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned();
                into.lock().unwrap().push(note);
            }
        });
        Self {
            path,
            notes,
            reader,
        }
    }

    fn notes(&self) -> Vec<String> {
        self.notes.lock().unwrap().clone()
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_tells_systemd_ready_watchdog_and_stopping() {
    let scratch = Scratch::new();
    scratch.write(CONFIG, config(FILE_MAIL, &[RISK], &[CISO], GLOBEX));
    let socket = NotifySocket::bind(&scratch);
    let mut daemon = Daemon::start(
        &scratch,
        "daemon.log",
        &[],
        &[
            ("NOTIFY_SOCKET", socket.path.to_str().unwrap()),
            // Every 0.2 s: the daemon pings at half that.
            ("WATCHDOG_USEC", "200000"),
        ],
    );
    daemon.wait_ready().await;
    eventually("three watchdog pings", || async {
        socket
            .notes()
            .iter()
            .filter(|n| *n == "WATCHDOG=1\n")
            .count()
            >= 3
    })
    .await;
    daemon.stop().await;
    eventually("STOPPING=1", || async {
        socket.notes().iter().any(|n| n == "STOPPING=1\n")
    })
    .await;
    let notes = socket.notes();
    assert_eq!(
        notes.first().map(String::as_str),
        Some("READY=1\n"),
        "{notes:?}"
    );
    assert_eq!(
        notes.iter().filter(|n| *n == "READY=1\n").count(),
        1,
        "{notes:?}"
    );
    assert_eq!(
        notes.iter().filter(|n| *n == "STOPPING=1\n").count(),
        1,
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .all(|n| ["READY=1\n", "WATCHDOG=1\n", "STOPPING=1\n"].contains(&n.as_str())),
        "{notes:?}"
    );
}

/// systemd reads its notify socket, but not always at once (it may be busy
/// reloading): a full socket must not stop the service.
#[tokio::test(flavor = "multi_thread")]
async fn a_notify_socket_nobody_reads_does_not_hang_the_daemon() {
    let scratch = Scratch::new();
    scratch.write(CONFIG, config(FILE_MAIL, &[RISK], &[CISO], GLOBEX));
    let path = scratch.path("notify.sock");
    // Bound, never read: after net.unix.max_dgram_qlen (10) datagrams a
    // blocking send waits.
    let _socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    let mut daemon = Daemon::start(
        &scratch,
        "daemon.log",
        &[],
        &[
            ("NOTIFY_SOCKET", path.to_str().unwrap()),
            ("WATCHDOG_USEC", "100000"),
        ],
    );
    daemon.wait_ready().await;
    // 20 pings' worth: the queue is full long before.
    let ticks = daemon.count("paperwork judged");
    tokio::time::sleep(Duration::from_secs(1)).await;
    daemon.wait_log("paperwork judged", ticks + 2).await;
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn status_shows_the_service_after_a_daemon_session() {
    let scratch = Scratch::new();
    scratch.write(CONFIG, config(FILE_MAIL, &[RISK], &[CISO], ACME));
    // Before any job: said so.
    sw(&scratch, &["sync"]).await.expect_code(0);
    let status = sw(&scratch, &["status"]).await;
    status.expect_code(0);
    assert!(
        status.stdout.contains(
            "\nService\n  no job has run against this database yet (`supplywatch run`, or `run --once`)\n"
        ),
        "{}",
        status.stdout
    );
    // `run --once` (how cron users run it) records its runs like the service.
    for _ in 0..2 {
        sw(&scratch, &["run", "--once"]).await.expect_code(0);
    }
    let status = sw(&scratch, &["status"]).await;
    status.expect_code(0);
    let service = status
        .stdout
        .split("\nService\n")
        .nth(1)
        .unwrap_or_default();
    for job in ["probe", "obligations"] {
        let line = service
            .lines()
            .find(|l| l.starts_with(job))
            .unwrap_or_else(|| panic!("no {job} line in\n{}", status.stdout));
        assert!(line.contains("ok (run --once)"), "{line}");
    }
    assert!(
        service.contains("outbox: 0 queued, 1 sent, 0 given up"),
        "{service}"
    );

    let mut daemon = Daemon::start(&scratch, "daemon.log", &[], &[]);
    daemon.wait_log("paperwork judged", 2).await;
    daemon.stop().await;
    let status = sw(&scratch, &["status"]).await;
    status.expect_code(0);
    let out = &status.stdout;
    let service = out
        .split_once("\nService\n")
        .unwrap_or_else(|| panic!("no Service section:\n{out}"))
        .1;
    let lines: Vec<&str> = service.lines().collect();
    assert_eq!(lines.len(), 6, "{service}");
    let header: Vec<&str> = lines[0].split("  ").filter(|c| !c.is_empty()).collect();
    assert_eq!(
        header.iter().map(|c| c.trim()).collect::<Vec<_>>(),
        ["JOB", "LAST RUN", "OUTCOME", "NEXT RUN"]
    );
    let jobs: Vec<&str> = lines[1..5]
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(jobs, ["digest", "obligations", "probe", "retention"]);
    assert!(
        lines[2]
            .contains("ok: paperwork judged: 0 opened, 0 reopened, 0 resolved, 0 e-mails queued"),
        "{service}"
    );
    assert!(
        lines[3].trim_end().ends_with("-01-01 00:00 UTC"),
        "the probe's next run is on 1 January:\n{service}"
    );
    assert_eq!(lines[5], "outbox: 0 queued, 1 sent, 0 given up");

    let json = sw(&scratch, &["status", "--format", "json"]).await;
    json.expect_code(0);
    let jobs = json.json()["service"]["jobs"].clone();
    let jobs = jobs.as_array().unwrap();
    assert_eq!(jobs.len(), 4, "{jobs:#?}");
    let obligations = jobs.iter().find(|j| j["job"] == "obligations").unwrap();
    assert!(obligations["last_finished"].is_string());
    assert!(obligations["next_at"].is_string());
    assert!(
        obligations["last_outcome"]
            .as_str()
            .unwrap()
            .starts_with("ok: paperwork judged: ")
    );
}

// ---------------------------------------------------------------------------
// The digest command and the file transport.

#[tokio::test(flavor = "multi_thread")]
async fn digest_previews_writes_html_and_sends_files() {
    let scratch = Scratch::new();
    scratch.write(CONFIG, config(FILE_MAIL, &[RISK], &[CISO], ACME));
    sw(&scratch, &["run", "--once"]).await.expect_code(0);

    let run = sw(&scratch, &["digest"]).await;
    run.expect_code(2);
    assert!(
        run.stderr.contains("--preview") && run.stderr.contains("--html FILE"),
        "{}",
        run.stderr
    );

    let preview = sw(&scratch, &["digest", "--preview"]).await;
    preview.expect_code(0);
    let text = &preview.stdout;
    assert!(
        text.starts_with("Subject: supplywatch weekly digest "),
        "{text}"
    );
    let subject = text.lines().next().unwrap();
    assert!(
        subject.ends_with(": 1 suppliers, 0 critical, 1 high open"),
        "{subject}"
    );
    let mut at = 0;
    for section in [
        "Grade distribution",
        "Grade changes since a week ago",
        "New findings this week (3)",
        "Resolved this week (0)",
        "Deadlines in the next 30 days (0)",
        "Overdue questionnaires (0)",
        "The ten worst open findings",
    ] {
        let found = text[at..]
            .find(section)
            .unwrap_or_else(|| panic!("no {section:?} (in order):\n{text}"));
        at += found + section.len();
    }
    assert!(text.contains("certification.expired"), "{text}");
    assert!(!text.contains("could not be delivered"), "{text}");

    let html_path = scratch.path("digest.html");
    let run = sw(&scratch, &["digest", "--html", "digest.html"]).await;
    run.expect_code(0);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.trim_end().ends_with("</html>"), "{html}");
    assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
    assert!(!html.contains("http"), "{html}");
    assert!(html.contains("Grade distribution"), "{html}");

    let before = eml_files(&scratch.path("mail"));
    assert_eq!(before, ["00000001-alert-acme.eml"]);
    let run = sw(&scratch, &["digest", "--send"]).await;
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("digest queued for 2 recipients; delivery via .eml files in ")
            && run.stderr.contains(": 2 sent, 0 to retry, 0 given up"),
        "{}",
        run.stderr
    );
    let files = eml_files(&scratch.path("mail"));
    assert_eq!(
        files,
        [
            "00000001-alert-acme.eml",
            "00000002-digest-all.eml",
            "00000003-digest-all.eml"
        ]
    );
    let mut recipients = Vec::new();
    for name in &files[1..] {
        let eml = std::fs::read_to_string(scratch.path("mail").join(name)).unwrap();
        let header = |name: &str| {
            eml.lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or_else(|| panic!("no {name} in {eml}"))
                .to_owned()
        };
        recipients.push(header("To: "));
        assert!(header("Subject: ").starts_with("supplywatch weekly digest "));
        assert_eq!(header("Auto-Submitted: "), "auto-generated");
        assert!(header("Content-Type: ").starts_with("multipart/alternative;"));
    }
    recipients.sort();
    assert_eq!(recipients, [CISO, RISK]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_file_transport_writes_each_message_once() {
    let scratch = Scratch::new();
    scratch.write(CONFIG, config(FILE_MAIL, &[RISK], &[CISO], ACME));
    let mail = scratch.path("mail");
    let run = sw(&scratch, &["run", "--once"]).await;
    run.expect_code(0);
    assert!(
        // `directory = "mail"` is relative to the config's folder, and the
        // config was named relative to the working directory.
        run.stderr
            .contains("delivery via .eml files in mail: 1 sent, 0 to retry, 0 given up"),
        "{}",
        run.stderr
    );
    assert_eq!(eml_files(&mail), ["00000001-alert-acme.eml"]);
    let first = std::fs::read(mail.join("00000001-alert-acme.eml")).unwrap();
    let run = sw(&scratch, &["run", "--once"]).await;
    run.expect_code(0);
    assert!(run.stderr.contains(": 0 sent, 0 to retry, 0 given up"));
    assert_eq!(eml_files(&mail), ["00000001-alert-acme.eml"]);
    assert_eq!(
        std::fs::read(mail.join("00000001-alert-acme.eml")).unwrap(),
        first,
        "the file is not rewritten"
    );
    // No temporary files left behind either.
    let all = std::fs::read_dir(&mail).unwrap().count();
    assert_eq!(all, 1);
    let stats = outbox_stats(&scratch).await;
    assert_eq!(stats["sent"], 1);
    assert_eq!(stats["queued"], 0);
}

/// Sets the delivery claim of every outbox row, as another process would.
async fn claim_all(scratch: &Scratch, pid: i64, until: chrono::DateTime<Utc>) {
    use sqlx::Connection as _;
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", scratch.path(DB).display()))
            .await
            .unwrap();
    sqlx::query("UPDATE outbox SET claimed_by = ?, claimed_until = ?")
        .bind(pid)
        .bind(until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_row_claimed_by_a_live_process_is_left_to_it_and_a_dead_ones_claim_is_released() {
    let sink = SmtpSink::start().await.unwrap();
    let scratch = Scratch::new();
    scratch.write(CONFIG, config(&smtp(sink.port()), &[RISK], &[], ACME));
    sw(&scratch, &["sync"]).await.expect_code(0);
    let (config, mailer, store) = library(&scratch).await;
    supplywatch::daemon::queue_digest(&store, &config, Utc::now())
        .await
        .unwrap();
    let lease = Utc::now() + chrono::Duration::minutes(5);

    // Another process (pid 1 is always alive) is sending it: left alone.
    claim_all(&scratch, 1, lease).await;
    let report = deliver_due(&store, &mailer, Utc::now, 10, 100, || true)
        .await
        .unwrap();
    assert_eq!(report, DeliveryReport::default());
    assert!(sink.messages().is_empty());

    // Its claim expired: the row is due again.
    claim_all(&scratch, 1, Utc::now() - chrono::Duration::seconds(1)).await;
    let report = deliver_due(&store, &mailer, Utc::now, 10, 100, || true)
        .await
        .unwrap();
    assert_eq!(report.sent, 1);
    assert_eq!(sink.wait_for(1, PATIENCE).await.len(), 1);

    // A claim by a process that no longer runs is released at once.
    supplywatch::daemon::queue_digest(&store, &config, Utc::now() + chrono::Duration::seconds(2))
        .await
        .unwrap();
    let dead = i64::from(u32::MAX - 7);
    claim_all(&scratch, dead, lease).await;
    let soon = || Utc::now() + chrono::Duration::seconds(5);
    let report = deliver_due(&store, &mailer, soon, 10, 100, || true)
        .await
        .unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    assert_eq!(sink.wait_for(2, PATIENCE).await.len(), 2);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn delivery_stops_between_rows_when_asked() {
    let sink = SmtpSink::start().await.unwrap();
    let scratch = Scratch::new();
    scratch.write(CONFIG, config(&smtp(sink.port()), &[RISK, CISO], &[], ACME));
    sw(&scratch, &["sync"]).await.expect_code(0);
    let (config, mailer, store) = library(&scratch).await;
    supplywatch::daemon::queue_digest(&store, &config, Utc::now())
        .await
        .unwrap();
    let sent = std::sync::atomic::AtomicUsize::new(0);
    let report = deliver_due(&store, &mailer, Utc::now, 10, 100, || {
        sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 1
    })
    .await
    .unwrap();
    assert_eq!(report.sent, 1, "one row, then the stop");
    let rows = store.outbox().await.unwrap();
    assert_eq!(rows.iter().filter(|r| r.state == "queued").count(), 1);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tick_missed_while_down_runs_at_start() {
    let scratch = Scratch::new();
    scratch.write(CONFIG, config(FILE_MAIL, &[RISK], &[CISO], ACME));
    // A first session: the digest job has run (as far as the store knows)
    // the Monday before last.
    let mut daemon = Daemon::start(&scratch, "first.log", &[], &[]);
    daemon.wait_ready().await;
    daemon.stop().await;
    {
        use sqlx::Connection as _;
        let mut conn =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}", scratch.path(DB).display()))
                .await
                .unwrap();
        sqlx::query(
            "INSERT INTO job_runs (job, last_finished, last_outcome) VALUES ('digest', ?, 'ok') \
             ON CONFLICT (job) DO UPDATE SET last_finished = excluded.last_finished",
        )
        .bind(
            (Utc::now() - chrono::Duration::days(9))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
    }
    // Digest on Mondays 08:00: at least one tick passed in nine days.
    let text = std::fs::read_to_string(scratch.path(CONFIG))
        .unwrap()
        .replacen(
            "digest_schedule = \"0 0 0 1 1 *\"",
            "digest_schedule = \"0 0 8 * * Mon\"",
            1,
        );
    scratch.write(CONFIG, text);
    let mut daemon = Daemon::start(&scratch, "second.log", &[], &[]);
    daemon.wait_log("weekly digest queued", 1).await;
    assert!(
        daemon
            .log()
            .contains("its last tick passed while supplywatch was not running"),
        "{}",
        daemon.log()
    );
    daemon.stop().await;
    // A probe job that never ran is not "missed": it waits for its tick.
    assert!(!daemon.log().contains("job=probe"), "{}", daemon.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_prunes_delivered_e_mails_and_keeps_queued_ones() {
    let (_sink, port) = stopped_sink().await;
    let scratch = Scratch::new();
    scratch.write(CONFIG, config(FILE_MAIL, &[RISK], &[CISO], ACME));
    sw(&scratch, &["sync"]).await.expect_code(0);
    let (config, mailer, store) = library(&scratch).await;
    supplywatch::daemon::queue_digest(&store, &config, Utc::now())
        .await
        .unwrap();
    let report = deliver_due(&store, &mailer, Utc::now, 10, 100, || true)
        .await
        .unwrap();
    assert_eq!(report.sent, 2);
    // One more, left queued (its server is down).
    scratch.write(CONFIG, config_text_with_smtp(port));
    let (config, mailer, _) = library(&scratch).await;
    supplywatch::daemon::queue_digest(&store, &config, Utc::now() + chrono::Duration::seconds(1))
        .await
        .unwrap();
    let _ = mailer;
    let later = Utc::now() + chrono::Duration::days(i64::from(config.daemon.retention_days) + 1);
    let pruned = store
        .prune(later, config.daemon.retention_days)
        .await
        .unwrap();
    assert_eq!(pruned.outbox, 2);
    let left = store.outbox().await.unwrap();
    assert_eq!(left.len(), 2, "{left:#?}");
    assert!(left.iter().all(|r| r.state == "queued"));
    store.close().await;
}

fn config_text_with_smtp(port: u16) -> String {
    config(&smtp(port), &[RISK], &[CISO], ACME)
}

/// A digest refused (5xx, given up) can be queued again the same day with
/// `--again`; without it, one digest a day, said and exit 0.
#[tokio::test(flavor = "multi_thread")]
async fn a_digest_given_up_today_is_sent_again_with_again() {
    let refusing = SmtpSink::start_with(supplywatch_testworld::SinkOptions::default().reject(RISK))
        .await
        .unwrap();
    let port = refusing.port();
    let scratch = Scratch::new();
    scratch.write(CONFIG, config(&smtp(port), &[RISK], &[], GLOBEX));
    sw(&scratch, &["sync"]).await.expect_code(0);
    let run = sw(&scratch, &["digest", "--send"]).await;
    run.expect_code(3);
    assert!(run.stderr.contains("1 given up"), "{}", run.stderr);
    refusing.stop().await;

    let sink = SmtpSink::start_on(port).await.unwrap();
    let run = sw(&scratch, &["digest", "--send"]).await;
    run.expect_code(0);
    assert!(
        run.stderr.contains(
            "a digest is already in the outbox today (0 sent, 0 queued, 1 given up); nothing queued"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(outbox_rows(&scratch).await.len(), 1);

    let run = sw(&scratch, &["digest", "--send", "--again"]).await;
    run.expect_code(0);
    assert!(
        run.stderr.contains("1 sent, 0 to retry, 0 given up"),
        "{}",
        run.stderr
    );
    let mail = sink.wait_for(1, PATIENCE).await;
    assert_eq!(mail.len(), 1);
    let rows = outbox_rows(&scratch).await;
    assert_eq!(rows.len(), 2);
    assert_ne!(rows[0].message_id, rows[1].message_id);

    // Sent today: once more without --again says so and queues nothing.
    let run = sw(&scratch, &["digest", "--send"]).await;
    run.expect_code(0);
    assert!(
        run.stderr.contains("(1 sent, 0 queued, 1 given up)"),
        "{}",
        run.stderr
    );
    assert_eq!(outbox_rows(&scratch).await.len(), 2);
    // --again twice in a row: two more copies, each its own message.
    sw(&scratch, &["digest", "--send", "--again"])
        .await
        .expect_code(0);
    sw(&scratch, &["digest", "--send", "--again"])
        .await
        .expect_code(0);
    assert_eq!(sink.wait_for(3, PATIENCE).await.len(), 3);
    sink.stop().await;

    // --again needs --send.
    sw(&scratch, &["digest", "--preview", "--again"])
        .await
        .expect_code(2);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_digest_a_day_with_the_file_transport_unless_again() {
    let scratch = Scratch::new();
    scratch.write(CONFIG, config(FILE_MAIL, &[RISK], &[], GLOBEX));
    sw(&scratch, &["sync"]).await.expect_code(0);
    sw(&scratch, &["digest", "--send"]).await.expect_code(0);
    let run = sw(&scratch, &["digest", "--send"]).await;
    run.expect_code(0);
    assert!(
        run.stderr.contains("already in the outbox today (1 sent"),
        "{}",
        run.stderr
    );
    let files = || std::fs::read_dir(scratch.path("mail")).unwrap().count();
    assert_eq!(files(), 1);
    sw(&scratch, &["digest", "--send", "--again"])
        .await
        .expect_code(0);
    assert_eq!(files(), 2);
    assert_eq!(outbox_rows(&scratch).await.len(), 2);
}
