//! Time as a parameter: the system clock in production, a fixed or a
//! simulated one in tests. The daemon reads "now" and waits for a moment
//! only through a [`Clock`], so its schedules, escalations and retries can
//! be driven through weeks of simulated time in a second.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// A wait handed out by a clock.
pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A source of "now", and of waiting for a later moment.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    /// Returns at `at` on this clock, or earlier: callers look at
    /// [`Clock::now`] again and wait anew when it is not yet time (the system
    /// clock wakes at least every minute, so that a wall clock set forward
    /// or a suspended machine is noticed).
    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep<'_>;
}

/// The longest a system-clock sleep lasts before "now" is looked at again.
const LONGEST_SLEEP: Duration = Duration::from_mins(1);

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place the system's time is read"
    )]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep<'_> {
        let wait = (at - self.now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .min(LONGEST_SLEEP);
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that always says the same time; a sleep until a later moment
/// never ends.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep<'_> {
        if at <= self.0 {
            Box::pin(std::future::ready(()))
        } else {
            Box::pin(std::future::pending())
        }
    }
}

/// Simulated time: it stands still until [`SimulatedClock::advance_to`]
/// moves it, and every sleep whose moment has come then wakes. A test
/// drives the daemon through days of schedules with it, without sleeping.
#[derive(Debug)]
pub struct SimulatedClock {
    now: watch::Sender<DateTime<Utc>>,
    /// Sleeps waiting right now, for tests that wait for the daemon to be
    /// idle before moving time on.
    waiting: Mutex<usize>,
}

impl SimulatedClock {
    #[must_use]
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: watch::Sender::new(start),
            waiting: Mutex::new(0),
        }
    }

    /// Moves time on to `to` (never back) and wakes the sleeps that are due.
    pub fn advance_to(&self, to: DateTime<Utc>) {
        self.now.send_if_modified(|now| {
            if to > *now {
                *now = to;
                true
            } else {
                false
            }
        });
    }

    /// Moves time on by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        self.advance_to(self.now() + by);
    }

    /// How many sleeps are waiting for a later moment.
    #[must_use]
    pub fn sleepers(&self) -> usize {
        self.waiting.lock().map_or(0, |n| *n)
    }
}

/// Counts a sleep as waiting while it lives.
struct Waiting<'a>(&'a Mutex<usize>);

impl<'a> Waiting<'a> {
    fn new(count: &'a Mutex<usize>) -> Self {
        if let Ok(mut n) = count.lock() {
            *n += 1;
        }
        Self(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Ok(mut n) = self.0.lock() {
            *n = n.saturating_sub(1);
        }
    }
}

impl Clock for SimulatedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep<'_> {
        let mut time = self.now.subscribe();
        Box::pin(async move {
            let _waiting = Waiting::new(&self.waiting);
            // The sender lives as long as the clock, which this borrow
            // outlives; an error cannot happen and would end the wait.
            let _ = time.wait_for(|now| *now >= at).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, 0, 0).single().unwrap()
    }

    #[tokio::test]
    async fn a_simulated_sleep_wakes_when_time_is_moved_past_it() {
        let clock = std::sync::Arc::new(SimulatedClock::new(at(8)));
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep_until(at(10)).await })
        };
        while clock.sleepers() == 0 {
            tokio::task::yield_now().await;
        }
        clock.advance_to(at(9));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished(), "woke before its moment");
        clock.advance_to(at(7));
        assert_eq!(clock.now(), at(9), "time never goes back");
        clock.advance(chrono::Duration::hours(1));
        sleeper.await.unwrap();
        assert_eq!(clock.sleepers(), 0);
    }

    #[tokio::test]
    async fn a_sleep_for_a_past_moment_returns_at_once() {
        SimulatedClock::new(at(8)).sleep_until(at(7)).await;
        FixedClock(at(8)).sleep_until(at(8)).await;
    }
}
