//! The outbox delivery loop: sends what is due, woken by the jobs that
//! queue e-mail or every few seconds, until the daemon stops.

use std::sync::Arc;

use super::{DELIVERY_BATCH, DELIVERY_INTERVAL_SECS, Shared};
use crate::mail::deliver_due;

pub(super) async fn delivery_loop(shared: Arc<Shared>) {
    let mut stop = shared.stop.clone();
    loop {
        // Each pass in a task of its own: a panic in one is logged, and the
        // loop goes on.
        let pass = {
            let shared = shared.clone();
            tokio::spawn(async move {
                let mailer = shared.mailer.read().await.clone();
                let max = shared.config.read().await.email.max_attempts;
                let stop = shared.stop.clone();
                deliver_due(
                    &shared.store,
                    &mailer,
                    || shared.clock.now(),
                    max,
                    DELIVERY_BATCH,
                    || !*stop.borrow(),
                )
                .await
            })
        };
        let full = match pass.await {
            Ok(Ok(r)) => {
                if r.sent + r.retried + r.given_up > 0 {
                    tracing::info!(
                        sent = r.sent,
                        retried = r.retried,
                        given_up = r.given_up,
                        "outbox delivery"
                    );
                }
                r.sent + r.given_up >= DELIVERY_BATCH as usize
            }
            Ok(Err(e)) => {
                tracing::error!("outbox: {e}");
                false
            }
            Err(e) => {
                tracing::error!("outbox delivery failed unexpectedly: {e}");
                false
            }
        };
        if *stop.borrow() {
            return;
        }
        if full {
            // A backlog: go on at once.
            continue;
        }
        let next_look = shared.clock.now() + chrono::TimeDelta::seconds(DELIVERY_INTERVAL_SECS);
        tokio::select! {
            () = shared.clock.sleep_until(next_look) => {}
            () = shared.outbox.notified() => {}
            _ = stop.changed() => return,
        }
    }
}
