//! `supplywatch digest`: the weekly digest, previewed, written or queued.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use supplywatch::mail::{Mailer, deliver_due};
use supplywatch::pipeline;
use supplywatch::store::OpenMode;

use super::{Globals, Outcome, UsageError};

#[derive(Debug, Args)]
pub struct DigestArgs {
    /// Print the text part
    #[arg(long)]
    preview: bool,
    /// Write the HTML part to FILE
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Queue it for the risk manager (and the CISO) and deliver it now
    #[arg(long)]
    send: bool,
    /// With --send: queue a fresh copy even when a digest was already
    /// queued, sent or given up today
    #[arg(long, requires = "send")]
    again: bool,
}

pub async fn run(globals: &Globals, args: &DigestArgs) -> anyhow::Result<Outcome> {
    if !args.preview && args.html.is_none() && !args.send {
        return Err(UsageError(
            "say what to do with the digest: --preview (print the text), --html FILE, --send"
                .into(),
        )
        .into());
    }
    let config = globals.load_config()?;
    let db = globals.database_path(Some(&config))?;
    // Only --send writes (the message into the outbox); a preview only reads.
    let mode = if args.send {
        OpenMode::Existing
    } else {
        OpenMode::ReadOnly
    };
    let store = globals.open_store(&db, mode).await?;
    if !args.send {
        super::warn_if_not_synced(&store, &config).await?;
    }
    let now = supplywatch::clock::Clock::now(&supplywatch::clock::SystemClock);
    let result = async {
        let input = pipeline::digest_input(&store, &config, now).await?;
        let digest = supplywatch::digest::render(&input);
        if args.preview {
            outln!("Subject: {}\n", digest.subject);
            out!("{}", digest.text);
        }
        if let Some(path) = &args.html {
            std::fs::write(path, &digest.html)
                .with_context(|| format!("cannot write {}", path.display()))?;
            if !globals.quiet {
                errln!("HTML part written to {}", path.display());
            }
        }
        if args.send {
            // Today's digests, by state: without --again one a day.
            let prefix = pipeline::digest_day_prefix(&config, now);
            let today: Vec<_> = store
                .outbox()
                .await?
                .into_iter()
                .filter(|row| row.kind == "digest" && row.key.starts_with(&prefix))
                .collect();
            if !args.again && !today.is_empty() {
                let count = |state: &str| today.iter().filter(|r| r.state == state).count();
                if !globals.quiet {
                    errln!(
                        "a digest is already in the outbox today ({} sent, {} queued, {} given up); nothing queued — `digest --send --again` queues a fresh copy",
                        count("sent"),
                        count("queued"),
                        count("failed")
                    );
                }
                return anyhow::Ok(());
            }
            let copy = if args.again {
                today
                    .iter()
                    .map(|r| r.message_id.as_str())
                    .collect::<std::collections::BTreeSet<_>>()
                    .len()
                    .max(1)
            } else {
                0
            };
            let Some(message) = pipeline::digest_copy(&config, &digest, now, copy) else {
                return Err(UsageError(
                    "no recipient: set [contacts] risk_manager (and ciso) in the config".into(),
                )
                .into());
            };
            let queued = store.enqueue(&[message], now).await?;
            let mailer = Mailer::from_config(&config)?;
            let report =
                deliver_due(&store, &mailer, || supplywatch::clock::Clock::now(&supplywatch::clock::SystemClock), config.email.max_attempts, u32::MAX, || true).await?;
            if !globals.quiet {
                errln!(
                    "digest queued for {queued} recipient{}; delivery via {}: {} sent, {} to retry, {} given up",
                    if queued == 1 { "" } else { "s" },
                    mailer.describe(),
                    report.sent,
                    report.retried,
                    report.given_up
                );
            }
            super::nothing_delivered(&report, &mailer)?;
        }
        anyhow::Ok(())
    }
    .await;
    store.close().await;
    result?;
    Ok(Outcome::Ok)
}
