//! one injectable clock per service, so tests move time instead of sleeping.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, Utc};
use tokio::sync::watch;

/// The source of "now" for domain and store code.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;

    /// The clock as a sandbox clock ([`ManualClock::sandbox`]), whose moves wake periodic
    /// jobs ([`Ticker`]); `None` for the wall clock and a plain test clock.
    fn sandbox(&self) -> Option<&ManualClock> {
        None
    }
}

/// Shared handle to a clock.
pub type SharedClock = Arc<dyn Clock>;

/// The wall clock, for production.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Each live ticker's name and the clock time of its last finished run, by ticker id.
type Jobs = BTreeMap<u64, (&'static str, DateTime<Utc>)>;

/// A clock moved by hand. A plain one ([`ManualClock::new`]) is a test's: moving it wakes
/// nothing, so a test runs a job's RPC itself and sees exactly its effect. A sandbox one
/// ([`ManualClock::sandbox`], shared across the suite by `memberhub dev --test-clock`)
/// wakes every [`Ticker`] on it when it moves, and hears back from each run, so a mover can
/// wait until every periodic job has run at the new time ([`ManualClock::caught_up`]).
#[derive(Debug, Clone)]
pub struct ManualClock {
    wakes_jobs: bool,
    now: Arc<watch::Sender<DateTime<Utc>>>,
    jobs: Arc<watch::Sender<Jobs>>,
    next_job: Arc<AtomicU64>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self::with(start, false)
    }

    /// A clock whose moves wake the periodic jobs that tick on it.
    pub fn sandbox(start: DateTime<Utc>) -> Self {
        Self::with(start, true)
    }

    fn with(start: DateTime<Utc>, wakes_jobs: bool) -> Self {
        Self {
            wakes_jobs,
            now: Arc::new(watch::Sender::new(start)),
            jobs: Arc::new(watch::Sender::new(BTreeMap::new())),
            next_job: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn set(&self, to: DateTime<Utc>) {
        self.now.send_replace(to);
    }

    pub fn advance(&self, by: Duration) {
        self.now.send_modify(|now| *now += by);
    }

    /// Moves the clock forward to `to` (a move to the time it shows changes nothing);
    /// `Err` with the current time when `to` is earlier. Atomic against other moves.
    pub fn advance_to(&self, to: DateTime<Utc>) -> Result<(), DateTime<Utc>> {
        let mut earlier = None;
        self.now.send_if_modified(|now| {
            if to < *now {
                earlier = Some(*now);
            }
            let moved = to > *now;
            if moved {
                *now = to;
            }
            moved
        });
        earlier.map_or(Ok(()), Err)
    }

    /// Waits until every periodic job on this clock has finished a run at `at` or later;
    /// answers their names. `Err` with the names still behind when `limit` passes first.
    pub async fn caught_up(
        &self,
        at: DateTime<Utc>,
        limit: std::time::Duration,
    ) -> Result<Vec<&'static str>, Vec<&'static str>> {
        let mut jobs = self.jobs.subscribe();
        let behind = |jobs: &Jobs| -> Vec<&'static str> {
            jobs.values()
                .filter(|(_, ran)| *ran < at)
                .map(|(name, _)| *name)
                .collect()
        };
        let waited = tokio::time::timeout(limit, jobs.wait_for(|j| behind(j).is_empty())).await;
        let current = self.jobs.borrow();
        match waited {
            Ok(Ok(_)) => Ok(current.values().map(|(name, _)| *name).collect()),
            _ => Err(behind(&current)),
        }
    }

    fn register(&self, name: &'static str) -> u64 {
        let id = self.next_job.fetch_add(1, Ordering::Relaxed);
        // A new job has not run yet: it counts as behind any time after its start.
        let before = self.now() - Duration::nanoseconds(1);
        self.jobs.send_modify(|jobs| {
            jobs.insert(id, (name, before));
        });
        id
    }

    fn ran(&self, id: u64, at: DateTime<Utc>) {
        self.jobs.send_modify(|jobs| {
            if let Some(job) = jobs.get_mut(&id) {
                job.1 = job.1.max(at);
            }
        });
    }

    fn unregister(&self, id: u64) {
        self.jobs.send_modify(|jobs| {
            jobs.remove(&id);
        });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn sandbox(&self) -> Option<&ManualClock> {
        self.wakes_jobs.then_some(self)
    }
}

/// The pace of a periodic job judged by a clock: every `every` of real time, and at once
/// whenever a sandbox [`ManualClock`] moves, so sweeps, settlements and phase changes happen as a
/// test or the sandbox moves time. The job calls [`Ticker::tick`] before each run; the
/// call also reports the previous run as finished.
#[derive(Debug)]
pub struct Ticker {
    interval: tokio::time::Interval,
    manual: Option<Manual>,
}

#[derive(Debug)]
struct Manual {
    clock: ManualClock,
    moves: watch::Receiver<DateTime<Utc>>,
    id: u64,
    /// The clock time the run in progress started at.
    running: Option<DateTime<Utc>>,
}

impl Ticker {
    pub fn new(name: &'static str, clock: &SharedClock, every: std::time::Duration) -> Self {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let manual = clock.sandbox().map(|clock| Manual {
            clock: clock.clone(),
            moves: clock.now.subscribe(),
            id: clock.register(name),
            running: None,
        });
        Self { interval, manual }
    }

    /// Waits for the next run: the next interval, or the clock moving.
    pub async fn tick(&mut self) {
        let Some(manual) = &mut self.manual else {
            self.interval.tick().await;
            return;
        };
        if let Some(started) = manual.running.take() {
            manual.clock.ran(manual.id, started);
        }
        tokio::select! {
            _ = self.interval.tick() => {}
            _ = manual.moves.changed() => {}
        }
        manual.moves.borrow_and_update();
        manual.running = Some(manual.clock.now());
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        if let Some(manual) = &self.manual {
            manual.clock.unregister(manual.id);
        }
    }
}

/// The system clock as a shared handle.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A UTC instant as a protobuf `Timestamp`.
pub fn to_timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

/// A protobuf `Timestamp` as a UTC instant; `None` when out of range.
pub fn from_timestamp(at: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    u32::try_from(at.nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(at.seconds, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000, 0).expect("a valid instant")
    }

    #[test]
    fn x6_a_manual_clock_only_moves_forward_and_a_repeated_move_changes_nothing() {
        let clock = ManualClock::new(start());
        let later = start() + Duration::days(30);
        assert_eq!(clock.advance_to(later), Ok(()));
        assert_eq!(clock.advance_to(later), Ok(()));
        assert_eq!(clock.now(), later);
        assert_eq!(clock.advance_to(start()), Err(later));
        assert_eq!(clock.now(), later);
    }

    #[tokio::test]
    async fn x6_a_ticker_runs_as_soon_as_the_clock_moves_and_the_mover_sees_it_caught_up() {
        let clock = ManualClock::sandbox(start());
        let shared: SharedClock = Arc::new(clock.clone());
        let (runs, mut seen) = tokio::sync::mpsc::unbounded_channel();
        let job = tokio::spawn(async move {
            // An hourly job: without the clock's wake-up it would not run again in this test.
            let mut ticker = Ticker::new("hourly", &shared, std::time::Duration::from_secs(3600));
            loop {
                ticker.tick().await;
                let _ = runs.send(shared.now());
            }
        });
        assert_eq!(seen.recv().await, Some(start()), "the first run is at once");
        let later = start() + Duration::days(30);
        assert_eq!(clock.advance_to(later), Ok(()));
        let caught_up = clock
            .caught_up(later, std::time::Duration::from_secs(10))
            .await;
        assert_eq!(caught_up, Ok(vec!["hourly"]));
        assert_eq!(seen.recv().await, Some(later));
        job.abort();
        let _ = job.await;
        assert_eq!(
            clock
                .caught_up(later + Duration::days(1), std::time::Duration::ZERO)
                .await,
            Ok(vec![]),
            "a stopped job is no longer waited for"
        );
    }
}
