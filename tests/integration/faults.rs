//! Fault injection: `supplywatch run` killed with SIGKILL at random points,
//! again and again, while findings open and resolve and their e-mails are
//! delivered to the SMTP sink; then a clean run, and the books are checked.
//!
//! What must hold (README "The service"): the database is intact; every
//! opening and resolution the store decided was told to each recipient by
//! exactly one message (one Message-ID), none lost; the sink got every
//! queued row, and got one twice only where a kill landed between the
//! server accepting it and the row being marked sent (seen after the kill:
//! a row still queued that the sink already holds).
//!
//! The seed is printed; `SUPPLYWATCH_FAULT_SEED=<n>` replays a run.

// The loop and its books read best as one story, step after step.
#![allow(clippy::too_many_lines)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs::File;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::Connection as _;
use supplywatch_testworld::SmtpSink;

use crate::support::Scratch;

const CONFIG: &str = "supplywatch.toml";
const DB: &str = "watch.db";
const RISK: &str = "risk@bank.example";
/// A second risk manager: every alert and resolution fans out to two rows.
const DEPUTY: &str = "deputy@bank.example";
/// Hears only of escalations, which wait at least a day: nothing here.
const CISO: &str = "ciso@bank.example";
const KILLS: usize = 50;
/// The longest a daemon lives before its kill.
const MAX_LIFE_MS: u64 = 1500;
const SUPPLIERS: usize = 4;
const KINDS: [&str; 2] = ["ISO 27001", "SOC 2"];
/// How long the final clean run may take to settle.
const PATIENCE: Duration = Duration::from_mins(1);

/// A finding as stored: id, supplier, check, target, state, `opened_at`,
/// `reopen_count`.
type StoredFinding = (i64, String, String, String, String, Option<String>, i64);

/// Which certifications have expired: `[supplier][kind]`.
type Paperwork = [[bool; KINDS.len()]; SUPPLIERS];

/// Obligations and probes every second (the suppliers have nothing to
/// probe, but the probe job runs and records), the rest far away.
fn config(port: u16, paperwork: Paperwork) -> String {
    let mut text = format!(
        "[daemon]\ntimezone = \"UTC\"\n\
         probe_schedule = \"*/1 * * * * *\"\n\
         obligations_schedule = \"*/1 * * * * *\"\n\
         digest_schedule = \"0 0 0 1 1 *\"\n\
         retention_schedule = \"0 0 0 1 1 *\"\n\
         probe_jitter_secs = 0\n\n\
         [email]\nfrom = \"watch@bank.example\"\ntransport = \"smtp\"\n\
         smtp_host = \"127.0.0.1\"\nsmtp_port = {port}\ntls = \"none\"\n\n\
         [contacts]\nrisk_manager = [\"{RISK}\", \"{DEPUTY}\"]\nciso = [\"{CISO}\"]\n"
    );
    for (s, certs) in paperwork.iter().enumerate() {
        let certs: Vec<String> = KINDS
            .iter()
            .zip(certs)
            .map(|(kind, expired)| {
                let expires = if *expired { "2020-01-01" } else { "2099-01-01" };
                format!("{{ kind = \"{kind}\", expires = {expires} }}")
            })
            .collect();
        let _ = write!(
            text,
            "\n[[supplier]]\nid = \"s{s}\"\nname = \"Supplier {s}\"\n\
             criticality = \"standard\"\ncertifications = [{}]\n",
            certs.join(", ")
        );
    }
    text
}

/// `p` with one certification, chosen at random, flipped: expired or
/// renewed. One change a life keeps the backlog a short-lived daemon
/// leaves behind (a send takes a few hundred ms here) within reach of
/// the final run.
fn flip_one(rng: &mut fastrand::Rng, mut p: Paperwork) -> Paperwork {
    let s = rng.usize(..SUPPLIERS);
    let k = rng.usize(..KINDS.len());
    p[s][k] = !p[s][k];
    p
}

/// `supplywatch run` in the scratch folder, stderr to `log`.
fn spawn(scratch: &Scratch, log: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_supplywatch"))
        .args(["--config", CONFIG, "--database", DB, "run"])
        .current_dir(scratch.dir.path())
        .env_remove("SUPPLYWATCH_CONFIG")
        .env_remove("SUPPLYWATCH_SMTP_PASSWORD")
        .env_remove("RUST_LOG")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(scratch.path(log)).unwrap())
        .spawn()
        .unwrap()
}

async fn connect(scratch: &Scratch) -> sqlx::SqliteConnection {
    sqlx::SqliteConnection::connect(&format!("sqlite://{}", scratch.path(DB).display()))
        .await
        .unwrap()
}

/// Every outbox row as (message id, recipient, state, kind); empty while
/// the database or its outbox does not exist yet (killed that early).
async fn outbox(scratch: &Scratch) -> Vec<(String, String, String, String)> {
    if !scratch.path(DB).exists() {
        return Vec::new();
    }
    let mut conn = connect(scratch).await;
    let rows = sqlx::query_as("SELECT message_id, recipient, state, kind FROM outbox ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap_or_default();
    conn.close().await.unwrap();
    rows
}

/// (Message-ID, recipient) → how many copies the sink holds.
fn received(sink: &SmtpSink) -> BTreeMap<(String, String), usize> {
    let mut got = BTreeMap::new();
    for m in sink.messages() {
        assert_eq!(m.rcpt_to.len(), 1, "one recipient a message: {m:#?}");
        let id = m.header("message-id").expect("a Message-ID");
        *got.entry((id, m.rcpt_to[0].clone())).or_insert(0) += 1;
    }
    got
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_random_points_loses_nothing_and_tells_nothing_twice() {
    let seed = std::env::var("SUPPLYWATCH_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("fault loop seed: {seed} (SUPPLYWATCH_FAULT_SEED={seed} replays it)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let started = Instant::now();
    let sink = SmtpSink::start().await.unwrap();
    let scratch = Scratch::new();

    // (Message-ID, recipient) → kills after which the row was still
    // queued though the sink held it: each may be sent once more.
    let mut in_window: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut lives = Vec::with_capacity(KILLS);
    // Everything expired at first: eight findings open.
    let mut paperwork = [[true; KINDS.len()]; SUPPLIERS];
    for kill in 0..KILLS {
        if kill > 0 {
            paperwork = flip_one(&mut rng, paperwork);
        }
        scratch.write(CONFIG, config(sink.port(), paperwork));
        let life = Duration::from_millis(rng.u64(0..=MAX_LIFE_MS));
        lives.push(life);
        let mut child = spawn(&scratch, &format!("kill-{kill}.log"));
        tokio::time::sleep(life).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // A message whose last bytes were on the wire at the kill is
        // stored by the sink a moment later.
        tokio::time::sleep(Duration::from_millis(30)).await;
        let got = received(&sink);
        for (id, to, state, _) in outbox(&scratch).await {
            if state == "queued" && got.contains_key(&(id.clone(), to.clone())) {
                *in_window.entry((id, to)).or_insert(0) += 1;
            }
        }
    }
    let kill_phase = started.elapsed();

    // The final clean run: its config is the truth the findings must show.
    let last = flip_one(&mut rng, paperwork);
    scratch.write(CONFIG, config(sink.port(), last));
    let mut child = spawn(&scratch, "final.log");
    let log = || std::fs::read_to_string(scratch.path("final.log")).unwrap_or_default();
    let deadline = Instant::now() + PATIENCE;
    loop {
        assert!(child.try_wait().unwrap().is_none(), "exited:\n{}", log());
        assert!(Instant::now() < deadline, "never settled:\n{}", log());
        // Two ticks of this config judged, and nothing left to send.
        if log().matches("paperwork judged").count() >= 2
            && outbox(&scratch)
                .await
                .iter()
                .all(|(_, _, state, _)| state != "queued")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "clean exit:\n{}", log());
    tokio::time::sleep(Duration::from_millis(30)).await;
    sink.stop().await;

    // 1. The database is intact.
    let mut conn = connect(&scratch).await;
    let (integrity,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(integrity, "ok");

    // 2. Every row sent, and received; nothing received that was not queued;
    //    a second copy only of a row caught in the send window.
    let rows = outbox(&scratch).await;
    let got = received(&sink);
    let queued: BTreeSet<(String, String)> = rows
        .iter()
        .map(|(id, to, _, _)| (id.clone(), to.clone()))
        .collect();
    for (id, to, state, kind) in &rows {
        assert_eq!(state, "sent", "{kind} {id} to {to}");
        assert!(
            matches!(kind.as_str(), "alert" | "resolved"),
            "only alerts and resolutions in this story: {kind} {id}"
        );
        assert!(
            got.contains_key(&(id.clone(), to.clone())),
            "lost: {kind} {id} to {to}"
        );
    }
    let mut duplicates = 0;
    for (pair, copies) in &got {
        assert!(queued.contains(pair), "received but never queued: {pair:?}");
        let allowed = 1 + in_window.get(pair).copied().unwrap_or(0);
        assert!(
            *copies <= allowed,
            "{pair:?} received {copies} times, {} kill(s) in its send window",
            allowed - 1
        );
        duplicates += copies - 1;
    }
    assert!(
        !got.keys().any(|(_, to)| to == CISO),
        "the CISO hears of nothing within a day"
    );

    // 3. Each finding's notices, per recipient, alternate alert, resolved,
    //    alert, … — each change told once, by one Message-ID — and every
    //    opening and resolution the store decided has its notice.
    let notices: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT finding_id, kind, message_id, recipients FROM notices \
         WHERE finding_id IS NOT NULL ORDER BY at, id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut told: BTreeMap<(i64, String), Vec<(String, String)>> = BTreeMap::new();
    for (finding, kind, id, recipients) in &notices {
        let mut recipients: Vec<String> = serde_json::from_str(recipients).unwrap();
        // A resolution goes to whoever was told, in no particular order.
        recipients.sort();
        assert_eq!(recipients, [DEPUTY, RISK], "{kind} {id}");
        for to in recipients {
            assert!(
                queued.contains(&(id.clone(), to.clone())),
                "no row: {id} {to}"
            );
            told.entry((*finding, to))
                .or_default()
                .push((kind.clone(), id.clone()));
        }
    }
    let findings: Vec<StoredFinding> = sqlx::query_as(
        "SELECT id, supplier_id, check_id, target, state, opened_at, reopen_count \
             FROM findings",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let mut changes = 0;
    for (id, supplier, check, target, state, opened_at, reopens) in &findings {
        // Other paperwork (a questionnaire never sent) is below high: never
        // told, which the last assertion checks.
        if check != "certification.expired" {
            continue;
        }
        let s: usize = supplier.trim_start_matches('s').parse().unwrap();
        let k = KINDS.iter().position(|k| k == target).unwrap();
        let expected = if last[s][k] { "open" } else { "resolved" };
        assert_eq!(state, expected, "{supplier} {target} after the clean run");
        let opened = if opened_at.is_some() { 1 + reopens } else { 0 };
        let resolved = opened - i64::from(state == "open");
        changes += opened + resolved;
        for to in [RISK, DEPUTY] {
            let story = told.remove(&(*id, to.to_owned())).unwrap_or_default();
            let kinds: Vec<&str> = story.iter().map(|(k, _)| k.as_str()).collect();
            let expected: Vec<&str> = (0..opened + resolved)
                .map(|i| if i % 2 == 0 { "alert" } else { "resolved" })
                .collect();
            assert_eq!(
                kinds, expected,
                "{supplier} {target} to {to}: opened {opened}, resolved {resolved} times: {story:#?}"
            );
        }
    }
    assert!(told.is_empty(), "notices of unknown findings: {told:#?}");

    let landed_early = lives.iter().filter(|l| l.as_millis() < 300).count();
    eprintln!(
        "seed {seed}: {KILLS} kills in {kill_phase:?} ({landed_early} within 300 ms of start), \
         {} rows, {changes} finding changes, {} row(s) caught in the send window, \
         {duplicates} duplicate(s) received, total {:?}",
        rows.len(),
        in_window.len(),
        started.elapsed()
    );
    assert!(
        changes > 0,
        "the loop changed no finding: it proves nothing"
    );
}
