//! The service on simulated time: `daemon::run_with` on a
//! [`SimulatedClock`], told to reload and stop through its control channel,
//! is driven through nine days of schedules — daily obligations, the Monday
//! digest, the CISO escalation after its delay, an SMTP outage retried
//! with backoff, a restart that
//! catches up the ticks it missed, and a reload — in a second or two of
//! real time, against the SMTP sink. Nothing sleeps: each step moves the
//! clock and waits for the job's record or the e-mail it leads to.
//!
//! No network but the sink on loopback: the suppliers have paperwork only
//! (an ISO 27001 certificate that expired in 2020: a high finding).

#![allow(clippy::too_many_lines)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use supplywatch::clock::SimulatedClock;
use supplywatch::config::Config;
use supplywatch::daemon::{self, Control, DaemonError};
use supplywatch::store::{OpenMode, OutboxRow, Store};
use supplywatch_testworld::{ReceivedMail, SmtpSink};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::support::Scratch;

const CONFIG: &str = "supplywatch.toml";
const DB: &str = "watch.db";
const RISK: &str = "risk@bank.example";
const CISO: &str = "ciso@bank.example";
/// How long (real time) any one step is waited for.
const PATIENCE: Duration = Duration::from_secs(20);

/// `day` of March 2026 at `hour`:00 UTC. 2 March 2026 is a Monday.
fn march(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0)
        .single()
        .unwrap()
}

fn supplier(id: &str, name: &str) -> String {
    format!(
        "[[supplier]]\nid = \"{id}\"\nname = \"{name}\"\ncriticality = \"critical\"\n\
         certifications = [{{ kind = \"ISO 27001\", expires = 2020-01-01 }}]\n\n"
    )
}

/// Obligations every day at 06:00, the digest on Mondays at 08:00, probes
/// and retention never in these weeks; a critical finding goes to the CISO
/// after two days and is repeated weekly.
fn config(port: u16, suppliers: &str) -> String {
    format!(
        "[daemon]\ntimezone = \"UTC\"\n\
         probe_schedule = \"0 0 0 1 1 *\"\n\
         obligations_schedule = \"0 0 6 * * *\"\n\
         digest_schedule = \"0 0 8 * * Mon\"\n\
         retention_schedule = \"0 0 0 1 1 *\"\n\
         probe_jitter_secs = 0\n\n\
         [email]\nfrom = \"watch@bank.example\"\ntransport = \"smtp\"\n\
         smtp_host = \"127.0.0.1\"\nsmtp_port = {port}\ntls = \"none\"\ntimeout_secs = 5\n\n\
         [contacts]\nrisk_manager = [\"{RISK}\"]\nciso = [\"{CISO}\"]\n\n\
         [escalation]\nciso_after_days_critical = 2\nrepeat_critical_days = 7\n\n{suppliers}"
    )
}

/// A daemon running in this process on simulated time.
struct Service {
    clock: Arc<SimulatedClock>,
    control: mpsc::Sender<Control>,
    handle: JoinHandle<Result<(), DaemonError>>,
    /// A second, read-only handle on the daemon's database.
    reader: Store,
}

impl Service {
    async fn start(scratch: &Scratch, clock: &Arc<SimulatedClock>) -> Self {
        let config = Config::load(&scratch.path(CONFIG)).unwrap();
        let store = Store::open(&scratch.path(DB), OpenMode::Create)
            .await
            .unwrap();
        let (control, told) = mpsc::channel(4);
        let handle = tokio::spawn(daemon::run_with(config, store, clock.clone(), told));
        let reader = Store::open(&scratch.path(DB), OpenMode::ReadOnly)
            .await
            .unwrap();
        let service = Self {
            clock: clock.clone(),
            control,
            handle,
            reader,
        };
        // Started: every job's next tick is recorded, and the scheduler
        // and the delivery loop wait on the clock.
        service
            .until("the service has started", async || {
                let runs = service.reader.job_runs().await.unwrap();
                runs.len() == 4 && runs.iter().all(|r| r.next_at.is_some()) && clock.sleepers() >= 2
            })
            .await;
        service
    }

    /// Waits (real time) until `done` holds.
    async fn until(&self, what: &str, mut done: impl AsyncFnMut() -> bool) {
        let started = Instant::now();
        while !done().await {
            assert!(
                started.elapsed() < PATIENCE,
                "waited {PATIENCE:?} for: {what}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// When `job` last finished, and how.
    async fn finished(&self, job: &str) -> Option<(DateTime<Utc>, String)> {
        let runs = self.reader.job_runs().await.unwrap();
        let run = runs.into_iter().find(|r| r.job == job)?;
        Some((run.last_finished?, run.last_outcome.unwrap_or_default()))
    }

    /// Moves the clock to `to` and waits for `job` to have run at `to`.
    async fn tick(&self, to: DateTime<Utc>, job: &str) -> String {
        self.clock.advance_to(to);
        self.ran(job, to).await
    }

    /// Waits for `job` to have finished at `at` (simulated), successfully.
    async fn ran(&self, job: &str, at: DateTime<Utc>) -> String {
        let mut outcome = String::new();
        self.until(&format!("{job} to run at {at}"), async || {
            match self.finished(job).await {
                Some((when, text)) if when >= at => {
                    outcome = text;
                    true
                }
                _ => false,
            }
        })
        .await;
        assert_eq!(
            self.finished(job).await.map(|(t, _)| t),
            Some(at),
            "{job} ran at the tick's simulated time"
        );
        assert!(outcome.starts_with("ok: "), "{job}: {outcome}");
        outcome
    }

    /// The outbox rows of `kind` queued at `at`.
    async fn queued(&self, kind: &str, at: DateTime<Utc>) -> Vec<OutboxRow> {
        self.reader
            .outbox()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.kind == kind && r.created_at == at)
            .collect()
    }

    async fn stop(self) {
        self.control.send(Control::Stop).await.unwrap();
        let stopped = tokio::time::timeout(PATIENCE, self.handle).await;
        assert!(
            matches!(stopped, Ok(Ok(Ok(())))),
            "the service stops cleanly when told: {stopped:?}"
        );
        self.reader.close().await;
    }
}

/// The messages the sink holds for `to` whose subject starts with `subject`.
fn mail_to<'a>(mail: &'a [ReceivedMail], to: &str, subject: &str) -> Vec<&'a ReceivedMail> {
    mail.iter()
        .filter(|m| m.rcpt_to == [to])
        .filter(|m| m.header("subject").is_some_and(|s| s.starts_with(subject)))
        .collect()
}

/// Who got what, for assertion messages.
fn subjects(mail: &[ReceivedMail]) -> Vec<(String, String)> {
    mail.iter()
        .map(|m| (m.rcpt_to.join(","), m.header("subject").unwrap_or_default()))
        .collect()
}

/// Waits for the sink to hold `n` messages in all.
async fn delivered(sink: &SmtpSink, n: usize) -> Vec<ReceivedMail> {
    let mail = sink.wait_for(n, PATIENCE).await;
    assert_eq!(mail.len(), n, "messages delivered: {:#?}", subjects(&mail));
    mail
}

#[tokio::test]
async fn nine_days_of_service_run_on_simulated_time() {
    let real = Instant::now();
    let scratch = Scratch::new();
    let sink = SmtpSink::start().await.unwrap();
    scratch.write(CONFIG, config(sink.port(), &supplier("acme", "Acme Cloud")));
    // Sunday 1 March, noon: nothing is due until Monday 06:00.
    let clock = Arc::new(SimulatedClock::new(march(1, 12)));
    let service = Service::start(&scratch, &clock).await;
    assert!(service.finished("obligations").await.is_none());
    let next: Vec<_> = service
        .reader
        .job_runs()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.job, r.next_at))
        .collect();
    assert!(
        next.contains(&("obligations".to_owned(), Some(march(2, 6))))
            && next.contains(&("digest".to_owned(), Some(march(2, 8)))),
        "next ticks on the simulated clock: {next:?}"
    );

    // Monday 06:00: the obligations job finds the expired certificate and
    // the risk manager is alerted at once.
    let outcome = service.tick(march(2, 6), "obligations").await;
    assert!(outcome.contains("1 e-mails queued"), "{outcome}");
    let mail = delivered(&sink, 1).await;
    assert_eq!(mail_to(&mail, RISK, "[supplywatch] Acme Cloud").len(), 1);

    // Monday 08:00: the weekly digest, to the risk manager and the CISO.
    service.tick(march(2, 8), "digest").await;
    let mail = delivered(&sink, 3).await;
    for to in [RISK, CISO] {
        assert_eq!(
            mail_to(&mail, to, "supplywatch weekly digest").len(),
            1,
            "digest to {to}"
        );
    }

    // Tuesday 06:00: one day open, the delay is two: nothing new.
    let outcome = service.tick(march(3, 6), "obligations").await;
    assert!(outcome.contains("0 e-mails queued"), "{outcome}");
    assert!(service.queued("escalation", march(3, 6)).await.is_empty());

    // Wednesday 06:00, with the mail server down: the escalation is queued
    // for the CISO, its delivery fails and is retried with backoff.
    sink.set_down(true);
    service.tick(march(4, 6), "obligations").await;
    let escalation = service.queued("escalation", march(4, 6)).await;
    assert_eq!(escalation.len(), 1, "{escalation:#?}");
    assert_eq!(escalation[0].recipient, CISO);
    let id = escalation[0].id;
    service
        .until("the escalation's first attempt to fail", async || {
            let rows = service.reader.outbox().await.unwrap();
            rows.iter().any(|r| r.id == id && r.attempts == 1)
        })
        .await;
    assert_eq!(sink.messages().len(), 3, "nothing got through while down");
    // The server is back; ten minutes later the retry has gone out — on
    // the simulated clock, with no real wait for the backoff.
    sink.set_down(false);
    // Moved on only once the delivery loop waits again: its next look is
    // counted from the time it reads, so the clock must not move before.
    service
        .until("the scheduler and the delivery loop to wait", async || {
            clock.sleepers() >= 2
        })
        .await;
    clock.advance_to(march(4, 6) + chrono::Duration::minutes(10));
    let mail = delivered(&sink, 4).await;
    let told = mail_to(&mail, CISO, "[supplywatch] Acme Cloud");
    assert_eq!(told.len(), 1, "{:#?}", subjects(&mail));
    assert!(told[0].body().contains("Escalation"), "{}", told[0].body());
    service
        .until(
            "the escalation to be recorded sent at its second attempt",
            async || {
                let rows = service.reader.outbox().await.unwrap();
                rows.iter()
                    .any(|r| r.id == id && r.state == "sent" && r.attempts == 2)
            },
        )
        .await;

    // Stopped on Thursday; started again the next Monday at noon. The
    // digest (08:00) and obligations (06:00) ticks passed while it was
    // down: both run at once, without moving the clock.
    service.tick(march(5, 6), "obligations").await;
    service.stop().await;
    clock.advance_to(march(9, 12));
    let service = Service::start(&scratch, &clock).await;
    service.ran("digest", march(9, 12)).await;
    service.ran("obligations", march(9, 12)).await;
    let mail = delivered(&sink, 6).await;
    for to in [RISK, CISO] {
        assert_eq!(
            mail_to(&mail, to, "supplywatch weekly digest 2026-03-09").len(),
            1,
            "the missed digest to {to}"
        );
    }
    // The next tick is planned from the simulated now.
    let runs = service.reader.job_runs().await.unwrap();
    let digest = runs.iter().find(|r| r.job == "digest").unwrap();
    assert_eq!(digest.next_at, Some(march(16, 8)));

    // A reload brings a second critical supplier under watch; Tuesday's
    // obligations alert it.
    scratch.write(
        CONFIG,
        config(
            sink.port(),
            &(supplier("acme", "Acme Cloud") + &supplier("initech", "Initech Hosting")),
        ),
    );
    service.control.send(Control::Reload).await.unwrap();
    service
        .until("the reload to sync the new supplier", async || {
            service
                .reader
                .suppliers()
                .await
                .is_ok_and(|s| s.iter().any(|s| s.id == "initech"))
        })
        .await;
    let outcome = service.tick(march(10, 6), "obligations").await;
    assert!(outcome.contains("1 e-mails queued"), "{outcome}");
    let mail = delivered(&sink, 7).await;
    assert_eq!(
        mail_to(&mail, RISK, "[supplywatch] Initech Hosting").len(),
        1
    );

    // Nothing the service recorded came from the wall clock: every time is
    // a tick of these simulated days, or the yearly jobs' next tick.
    let new_year = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).single().unwrap();
    for run in service.reader.job_runs().await.unwrap() {
        for t in [run.last_started, run.last_finished].into_iter().flatten() {
            assert!(t >= march(2, 6) && t <= march(10, 6), "{}: {t}", run.job);
        }
        let next = run.next_at.unwrap();
        assert!(
            next <= march(16, 8) || next == new_year,
            "{}: {next}",
            run.job
        );
    }
    for row in service.reader.outbox().await.unwrap() {
        assert!(
            row.created_at >= march(2, 6) && row.created_at <= march(10, 6),
            "{row:#?}"
        );
    }
    service.stop().await;
    // Nine simulated days, and only the mail and the database took time.
    eprintln!("nine simulated days took {:?}", real.elapsed());
}
