//! Counters of the checker pool: checks by result, their latency, how late
//! they started, how many are in flight or waiting for a slot. Owned by the
//! pool ([`super::pool::Pool::stats`]), which is the only writer; anyone may
//! read them (the status surface renders them as Prometheus metrics).
//!
//! Plain atomics, written with `Relaxed` ordering: each counter is
//! monotonic on its own and a reader only ever needs a recent value, never
//! a consistent set. A check costs a handful of atomic adds; nothing here
//! locks, allocates or knows of any metrics format.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::CheckError;

/// Upper bounds (seconds) of the buckets of [`CheckStats::latency`]: from
/// a loopback answer (a millisecond) to the longest negotiate timeout
/// people write (30 s, upstream's default).
pub const LATENCY_BOUNDS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Upper bounds (seconds) of the buckets of [`CheckStats::lateness`]: on
/// time is within a few milliseconds (the scheduler's timer); a second or
/// more means the slots are full.
pub const LATENESS_BOUNDS: [f64; 10] = [0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The result label of a check: `ok`, or why it failed.
pub const RESULTS: [&str; 9] = [
    "ok", "timeout", "refused", "io", "mismatch", "status", "protocol", "auth", "config",
];

/// The index in [`RESULTS`] of a check result.
pub fn result_index<D>(result: &Result<D, CheckError>) -> usize {
    match result {
        Ok(_) => 0,
        Err(CheckError::Timeout) => 1,
        Err(CheckError::Refused) => 2,
        Err(CheckError::Io(_)) => 3,
        Err(CheckError::Mismatch(_)) => 4,
        Err(CheckError::Status(_)) => 5,
        Err(CheckError::Protocol(_)) => 6,
        Err(CheckError::Auth(_)) => 7,
        Err(CheckError::Config(_)) => 8,
    }
}

/// A histogram of durations: a count per bucket (not cumulative; the
/// reader adds them up), the sum in microseconds and the count.
pub struct Histogram<const N: usize> {
    bounds: &'static [f64; N],
    /// `buckets[i]`: observations ≤ `bounds[i]` and > `bounds[i - 1]`;
    /// `buckets[N]`: above the last bound.
    buckets: [AtomicU64; N],
    above: AtomicU64,
    sum_us: AtomicU64,
    count: AtomicU64,
}

impl<const N: usize> Histogram<N> {
    const fn new(bounds: &'static [f64; N]) -> Self {
        Histogram {
            bounds,
            buckets: [const { AtomicU64::new(0) }; N],
            above: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Count one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        match self.bounds.iter().position(|&b| secs <= b) {
            Some(i) => self.buckets[i].fetch_add(1, Ordering::Relaxed),
            None => self.above.fetch_add(1, Ordering::Relaxed),
        };
        self.sum_us
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The bucket bounds, seconds.
    pub fn bounds(&self) -> &'static [f64; N] {
        self.bounds
    }

    /// The count of each bucket (not cumulative: Prometheus encoders add
    /// them up), the sum in seconds and the count of every observation.
    /// Read while checks run, the parts may be a few observations apart;
    /// the count is made at least the buckets' total so that `+Inf` is
    /// never below a finite bucket.
    pub fn read(&self) -> (Vec<(f64, u64)>, f64, u64) {
        let buckets: Vec<(f64, u64)> = self
            .bounds
            .iter()
            .zip(&self.buckets)
            .map(|(&b, n)| (b, n.load(Ordering::Relaxed)))
            .collect();
        let in_buckets: u64 = buckets.iter().map(|(_, n)| n).sum();
        let total = (in_buckets + self.above.load(Ordering::Relaxed))
            .max(self.count.load(Ordering::Relaxed));
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        (buckets, sum, total)
    }
}

/// What the pool counts. See the module doc.
pub struct CheckStats {
    /// Finished checks by [`RESULTS`] index.
    results: [AtomicU64; RESULTS.len()],
    /// How long each finished check took.
    pub latency: Histogram<{ LATENCY_BOUNDS.len() }>,
    /// How long after it was due each check started (waiting for a slot
    /// included).
    pub lateness: Histogram<{ LATENESS_BOUNDS.len() }>,
    in_flight: AtomicU64,
    waiting: AtomicU64,
}

impl Default for CheckStats {
    fn default() -> Self {
        CheckStats {
            results: [const { AtomicU64::new(0) }; RESULTS.len()],
            latency: Histogram::new(&LATENCY_BOUNDS),
            lateness: Histogram::new(&LATENESS_BOUNDS),
            in_flight: AtomicU64::new(0),
            waiting: AtomicU64::new(0),
        }
    }
}

impl std::fmt::Debug for CheckStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckStats")
            .field("results", &self.results())
            .field("in_flight", &self.in_flight())
            .field("waiting", &self.waiting())
            .finish_non_exhaustive()
    }
}

impl CheckStats {
    /// A check finished with `result` after `latency`.
    pub fn finished<D>(&self, result: &Result<D, CheckError>, latency: Duration) {
        self.results[result_index(result)].fetch_add(1, Ordering::Relaxed);
        self.latency.observe(latency);
    }

    /// Finished checks per [`RESULTS`] entry.
    pub fn results(&self) -> [u64; RESULTS.len()] {
        std::array::from_fn(|i| self.results[i].load(Ordering::Relaxed))
    }

    /// Checks running now (a slot's or past their hold).
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Checks that are due and wait for a slot.
    pub fn waiting(&self) -> u64 {
        self.waiting.load(Ordering::Relaxed)
    }

    pub(crate) fn set_waiting(&self, n: usize) {
        self.waiting.store(n as u64, Ordering::Relaxed);
    }

    /// Count a check in flight until the guard is dropped (it ends, is
    /// aborted by a reload, or the pool shuts down).
    pub(crate) fn in_flight_guard(self: &std::sync::Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }
}

/// See [`CheckStats::in_flight_guard`].
pub(crate) struct InFlight(std::sync::Arc<CheckStats>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn histogram_counts_each_observation_in_its_bucket() {
        let s = CheckStats::default();
        for ms in [0, 1, 3, 40, 40, 2_000, 60_000] {
            s.finished(&Ok::<_, CheckError>(()), Duration::from_millis(ms));
        }
        let (b, sum, count) = s.latency.read();
        assert_eq!(count, 7, "60 s is above every bound and still counted");
        let n: Vec<u64> = b.iter().map(|(_, n)| *n).collect();
        // ≤ 1 ms: 0 and 1; ≤ 5 ms: 3; ≤ 50 ms: 40, 40; ≤ 2.5 s: 2 s.
        assert_eq!(n, [2, 0, 1, 0, 0, 2, 0, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(b[10].0, 2.5);
        assert!((sum - 62.084).abs() < 1e-9, "{sum}");
        assert_eq!(s.results()[0], 7);
    }

    #[test]
    fn results_by_reason_and_in_flight_follow_their_guards() {
        let s = Arc::new(CheckStats::default());
        s.finished(&Err::<(), _>(CheckError::Timeout), Duration::ZERO);
        s.finished(
            &Err::<(), _>(CheckError::Mismatch("x".into())),
            Duration::ZERO,
        );
        let r = s.results();
        assert_eq!((r[1], r[4], r.iter().sum::<u64>()), (1, 1, 2));
        let a = s.in_flight_guard();
        let b = s.in_flight_guard();
        assert_eq!(s.in_flight(), 2);
        drop(a);
        drop(b);
        assert_eq!(s.in_flight(), 0);
    }
}
