//! The checker pool: probes every unique [`Target`] at its interval, with a
//! bounded number of probes busy at once, and emits every result as a
//! [`CheckEvent`] on an mpsc channel. Owns scheduling (new targets at once,
//! their second runs spread over one interval, then every interval; one
//! scheduler task keeps the due times and the line of due checks, a task
//! exists per check only while it runs), concurrency (the check [`Slots`]), the
//! combined-check counter of each target, and updating the schedule on
//! reload. Must not keep health or touch IPVS: the receiver of the events
//! does (see [`super::health`]).
//!
//! What it schedules is a [`Job`]: a health check ([`Target`], the default
//! everywhere below) or a load query ([`super::load::LoadQuery`]); the
//! daemon runs one pool of each, so load queries never take a check's slot.
//!
//! Use:
//!
//! ```ignore
//! let plan = Plan::from_config(&config);
//! let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
//! let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
//! let mut pool = Pool::new(Arc::new(Prober::new()), PoolOptions::default(), tx, stop_rx);
//! pool.update(&plan);              // start; call again on reload
//! while let Some(ev) = rx.recv().await { /* health, IPVS */ }
//! stop_tx.send(true); pool.join().await;   // shutdown
//! ```

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::probe::{Probe, BACKSTOP_GRACE};
use super::stats::{CheckStats, InFlight};
use super::{CheckError, Target};
use crate::config::{CheckType, Config, VirtualKey};
use crate::fastmap::FastMap;

/// What a pool schedules: an identity probed at an interval. Equal jobs
/// (by `Eq`) are one schedule, whatever the number of (virtual, real)
/// pairs they serve.
pub trait Job: Eq + std::hash::Hash + Send + Sync + 'static {
    /// What one run does (for a health check: connect or negotiate).
    type Step: Copy + Send + Sync + std::fmt::Debug + PartialEq + 'static;
    /// What a job remembers between its runs (the combined-check counter).
    type Memory: Default + Send + 'static;
    /// What a run that succeeded observed.
    type Detail: Clone + Send + Sync + std::fmt::Debug + PartialEq + 'static;
    /// The step to run next; `None`: nothing to run (`checktype=off`).
    fn next_step(&self, memory: &Self::Memory) -> Option<Self::Step>;
    /// Remember how a run of `step` went.
    fn record(memory: &mut Self::Memory, step: Self::Step, ok: bool);
    /// How long a run of `step` may take; the pool (and
    /// [`super::probe::run_with_deadline`]) adds a backstop past it.
    fn deadline(&self, step: Self::Step) -> Duration;
    /// Whether a run's outcome is known without running it
    /// (`checktype=on`: always up): such a job is never run; the director
    /// takes it as up from the start.
    fn known_without_running(&self) -> bool {
        false
    }
}

/// The result of one run of a job of type `J`.
pub type JobResult<J> = Result<<J as Job>::Detail, CheckError>;

/// One (virtual, real) pair a target's results apply to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Member {
    pub virtual_key: VirtualKey,
    pub real_addr: IpAddr,
    /// The real's own port (0 for fwmark reals).
    pub real_port: u16,
}

impl Member {
    /// `RIP:RPORT` as upstream logs it.
    pub fn real_id(&self) -> String {
        format!(
            "{}:{}",
            crate::config::bracketed(&self.real_addr),
            self.real_port
        )
    }
}

/// A target to probe and what it serves.
#[derive(Debug, Clone)]
pub struct Planned<J = Target> {
    pub target: Arc<J>,
    /// The smallest interval of the virtuals sharing the target
    /// (`checkinterval`, or `loadinterval` for load queries).
    pub interval: Duration,
    /// The pairs whose health follows this target, in config order.
    pub members: Vec<Member>,
}

/// The unique targets of a configuration, in config order.
#[derive(Debug, Clone)]
pub struct Plan<J = Target> {
    pub targets: Vec<Planned<J>>,
}

impl<J> Default for Plan<J> {
    fn default() -> Self {
        Plan {
            targets: Vec::new(),
        }
    }
}

impl<J: Job> Plan<J> {
    /// The planned entry of `target`.
    pub fn get(&self, target: &J) -> Option<&Planned<J>> {
        self.targets.iter().find(|p| *p.target == *target)
    }

    /// A plan of `(job, interval, member)` triples in config order: equal
    /// jobs become one entry at the smallest interval, serving every
    /// member once.
    pub fn grouped(triples: impl IntoIterator<Item = (J, Duration, Member)>) -> Plan<J> {
        Plan::grouped_sized(0, triples)
    }

    /// [`Plan::grouped`] with room for about `n` jobs from the start (no
    /// rehashing while it grows: 30,000 reals rehashed 15 times).
    pub fn grouped_sized(
        n: usize,
        triples: impl IntoIterator<Item = (J, Duration, Member)>,
    ) -> Plan<J> {
        let mut index: HashMap<Arc<J>, usize> = HashMap::with_capacity(n);
        let mut targets: Vec<Planned<J>> = Vec::with_capacity(n);
        for (job, interval, member) in triples {
            match index.get(&job) {
                Some(&i) => {
                    let p = &mut targets[i];
                    p.interval = p.interval.min(interval);
                    if !p.members.contains(&member) {
                        p.members.push(member);
                    }
                }
                None => {
                    let target = Arc::new(job);
                    index.insert(target.clone(), targets.len());
                    targets.push(Planned {
                        target,
                        interval,
                        members: vec![member],
                    });
                }
            }
        }
        Plan { targets }
    }
}

impl Plan<Target> {
    /// Every checked (virtual, real) pair of `config`, grouped by
    /// [`Target`]. `checktype=off` pairs are left out: they are never
    /// checked.
    pub fn from_config(config: &Config) -> Plan {
        let n = config.virtuals.iter().map(|v| v.reals.len()).sum();
        Plan::grouped_sized(
            n,
            config
                .virtuals
                .iter()
                .filter(|v| v.checktype != CheckType::Off)
                .flat_map(|v| {
                    let interval = Duration::from_secs(u64::from(v.checkinterval.max(1)));
                    v.reals.iter().map(move |r| {
                        let member = Member {
                            virtual_key: v.key,
                            real_addr: r.addr,
                            real_port: r.port,
                        };
                        (Target::new(v, r), interval, member)
                    })
                }),
        )
    }
}

/// One probe result.
#[derive(Debug, Clone)]
pub struct CheckEvent<J: Job = Target> {
    /// The probe's identity; look its members up in the [`Plan`].
    pub target: Arc<J>,
    /// What ran (for combined checks: connect or negotiate).
    pub kind: J::Step,
    pub result: JobResult<J>,
    /// How long the probe took.
    pub latency: Duration,
    /// When it finished (wall clock, for logs and the monitorfile).
    pub at: SystemTime,
}

/// Tunables of the pool.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Probes busy at once; the others wait for a slot (their schedule
    /// slips, it never bursts to catch up, and a probe's deadline starts
    /// when it has its slot).
    pub max_in_flight: usize,
    /// How long a probe holds its slot at most. One still running after
    /// its hold is waiting on its server (a hung or black-holed real),
    /// which costs this host nothing: it gives its slot to the next and
    /// runs on to its own deadline, so hung reals cannot starve the others.
    /// The hold is four times the recent latency of passing probes, at
    /// least [`MIN_SLOT_HOLD`] and at most this (and this until one has
    /// passed): when the servers answer fast a hung one gives way fast;
    /// when they slow down because too much is asked of them, slots are
    /// held longer and fewer checks start.
    pub slot_hold: Duration,
}

/// Default of [`PoolOptions::max_in_flight`].
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;
/// Default of [`PoolOptions::slot_hold`].
pub const DEFAULT_SLOT_HOLD: Duration = Duration::from_millis(500);
/// The shortest hold of a slot.
pub const MIN_SLOT_HOLD: Duration = Duration::from_millis(50);

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            slot_hold: DEFAULT_SLOT_HOLD,
        }
    }
}

impl PoolOptions {
    /// The defaults, with `LDIRECTORD_MAX_CHECKS` (slots) and
    /// `LDIRECTORD_SLOT_HOLD_MS` from the environment when they are
    /// numbers above 0.
    pub fn from_env() -> PoolOptions {
        let num = |name: &str| -> Option<u64> {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|&n| n > 0)
        };
        let d = PoolOptions::default();
        PoolOptions {
            max_in_flight: num("LDIRECTORD_MAX_CHECKS").map_or(d.max_in_flight, |n| n as usize),
            slot_hold: num("LDIRECTORD_SLOT_HOLD_MS").map_or(d.slot_hold, Duration::from_millis),
        }
    }
}

/// The check slots of [`PoolOptions`], shared by every probe of a pool
/// (or of a one-shot pass).
pub struct Slots {
    permits: Arc<Semaphore>,
    /// A few more slots for the first checks of reals added by a reload:
    /// when the checks fall behind, every due check waits in one queue,
    /// and a new real would wait behind all of them before it could enter
    /// the table.
    added: Arc<Semaphore>,
    max_hold: Duration,
    /// Moving average of the latency of passing probes, in µs (0: none
    /// yet).
    passing_us: AtomicU64,
}

impl Slots {
    pub fn new(options: &PoolOptions) -> Arc<Slots> {
        Arc::new(Slots {
            permits: Arc::new(Semaphore::new(options.max_in_flight.max(1))),
            added: Arc::new(Semaphore::new((options.max_in_flight / 8).max(1))),
            max_hold: options.slot_hold.max(MIN_SLOT_HOLD),
            passing_us: AtomicU64::new(0),
        })
    }

    /// Wait for a free slot; with `reserve` (the first check of a real
    /// added by a reload) also for one of the reserve, whichever comes
    /// first.
    pub async fn acquire(&self, reserve: bool) -> OwnedSemaphorePermit {
        let permit = if reserve {
            tokio::select! {
                biased;
                p = self.added.clone().acquire_owned() => p,
                p = self.permits.clone().acquire_owned() => p,
            }
        } else {
            self.permits.clone().acquire_owned().await
        };
        permit.expect("the slots are never closed")
    }

    /// A free slot now, if there is one (with `reserve`, also one of the
    /// reserve), without waiting.
    fn try_acquire(&self, reserve: bool) -> Option<OwnedSemaphorePermit> {
        if reserve {
            if let Ok(p) = self.added.clone().try_acquire_owned() {
                return Some(p);
            }
        }
        self.permits.clone().try_acquire_owned().ok()
    }

    /// How long the next probe may hold its slot.
    pub fn hold(&self) -> Duration {
        match self.passing_us.load(Ordering::Relaxed) {
            0 => self.max_hold,
            us => (Duration::from_micros(us) * 4).clamp(MIN_SLOT_HOLD, self.max_hold),
        }
    }

    fn record_pass(&self, latency: Duration) {
        let x = (latency.as_micros() as u64).max(1);
        // An update lost to a race only drops one sample.
        let avg = match self.passing_us.load(Ordering::Relaxed) {
            0 => x,
            a => a - a / 8 + x / 8,
        };
        self.passing_us.store(avg.max(1), Ordering::Relaxed);
    }

    /// Run `probe` holding `slot` until it ends or for [`Slots::hold`],
    /// whichever comes first.
    pub async fn run<T, F: Future<Output = Result<T, CheckError>>>(
        &self,
        slot: OwnedSemaphorePermit,
        probe: F,
    ) -> Result<T, CheckError> {
        self.run_within(slot, probe, None).await
    }

    /// [`Slots::run`], and with a `limit` the probe ends there (from its
    /// start) with [`CheckError::Timeout`]. One timer does both: it fires
    /// at the hold, gives the slot away, and is moved on to the limit (a
    /// timer per bound was two registrations per check, each of which can
    /// wake the runtime's driver).
    pub async fn run_within<T, F: Future<Output = Result<T, CheckError>>>(
        &self,
        slot: OwnedSemaphorePermit,
        probe: F,
        limit: Option<Duration>,
    ) -> Result<T, CheckError> {
        let started = Instant::now();
        let hold = self.hold();
        let mut slot = Some(slot);
        // The limit first if it comes before the hold ends.
        let first = match limit {
            Some(l) if l <= hold => l,
            _ => hold,
        };
        let timer = tokio::time::sleep_until(started + first);
        tokio::pin!(probe, timer);
        let result = loop {
            tokio::select! {
                r = &mut probe => break r,
                _ = &mut timer => match (slot.take(), limit) {
                    // The hold is over: the slot goes to the next check.
                    (Some(_), Some(l)) if l > hold => timer.as_mut().reset(started + l),
                    (Some(_), None) => break probe.await,
                    _ => break Err(CheckError::Timeout),
                },
            }
        };
        drop(slot);
        if result.is_ok() {
            self.record_pass(started.elapsed());
        }
        result
    }
}

/// What [`Pool::update`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UpdateSummary {
    pub added: usize,
    pub kept: usize,
    pub removed: usize,
}

/// The schedule of one target. Between checks a target is only this (and
/// a place in the queue): no task, no timer, so 10,000 idle targets cost
/// a few hundred kilobytes, not a task each.
struct Entry<J: Job> {
    target: Arc<J>,
    interval: Duration,
    /// The job's memory (the combined-check counter).
    memory: J::Memory,
    /// When its last check started (`None`: never checked).
    last_start: Option<Instant>,
    /// Extra delay of its second run ([`spread`]), taken by the first.
    phase: Option<Duration>,
    /// Added by a reload: its first check may take a reserve slot.
    added: bool,
    /// When its next check is due; `None` while one runs (or never again,
    /// for a checktype with nothing to probe).
    due: Option<Instant>,
    /// The check in flight, aborted when the target is removed.
    running: Option<JoinHandle<()>>,
}

struct Schedule<J: Job> {
    entries: FastMap<u64, Entry<J>>,
    ids: FastMap<Arc<J>, u64>,
    /// Due times, earliest first. An entry whose `due` no longer matches
    /// (rescheduled or removed) is skipped when it comes up.
    queue: BinaryHeap<Reverse<(Instant, u64)>>,
    next_id: u64,
    /// When the scheduler wakes by itself next (`None`: no timer).
    wake: Option<Instant>,
}

impl<J: Job> Default for Schedule<J> {
    fn default() -> Self {
        Schedule {
            entries: FastMap::default(),
            ids: FastMap::default(),
            queue: BinaryHeap::new(),
            next_id: 0,
            wake: None,
        }
    }
}

/// What the scheduler and the checks it starts share.
struct Shared<P: Probe<J>, J: Job> {
    probe: Arc<P>,
    slots: Arc<Slots>,
    events: mpsc::Sender<CheckEvent<J>>,
    shutdown: watch::Receiver<bool>,
    /// What the status surface reads: results, latency, lateness, checks
    /// in flight and waiting.
    stats: Arc<CheckStats>,
    schedule: Mutex<Schedule<J>>,
    /// Wakes the scheduler: a check became due earlier than it planned
    /// to wake, or an update changed the schedule.
    wake: Notify,
}

impl<P: Probe<J>, J: Job> Shared<P, J> {
    fn schedule(&self) -> std::sync::MutexGuard<'_, Schedule<J>> {
        // A panic under the lock leaves a consistent schedule (every
        // change is one statement), so a poisoned lock is used as is.
        self.schedule.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Move every check that is due to `ready` (first checks of targets
    /// added by a reload to `ready_added`); returns when the next one is.
    fn take_due(&self, ready: &mut Ready<J>, ready_added: &mut Ready<J>) -> Option<Instant> {
        let now = Instant::now();
        let mut s = self.schedule();
        while let Some(&Reverse((at, id))) = s.queue.peek() {
            if at > now {
                break;
            }
            s.queue.pop();
            let Some(e) = s.entries.get_mut(&id) else {
                continue;
            };
            if e.due != Some(at) {
                continue;
            }
            e.due = None;
            let Some(kind) = e.target.next_step(&e.memory) else {
                continue;
            };
            let queue = if e.added && e.last_start.is_none() {
                &mut *ready_added
            } else {
                &mut *ready
            };
            queue.push_back((id, e.target.clone(), kind, at));
        }
        s.wake = s.queue.peek().map(|r| r.0 .0);
        s.wake
    }

    /// Start the check of entry `id` in `slot`, unless an update removed
    /// the entry while it waited.
    fn start(self: &Arc<Self>, (id, target, kind, due): Due<J>, slot: OwnedSemaphorePermit) {
        let mut s = self.schedule();
        if let Some(e) = s.entries.get_mut(&id) {
            self.stats.lateness.observe(due.elapsed());
            let in_flight = self.stats.in_flight_guard();
            e.running = Some(tokio::spawn(run_check(
                self.clone(),
                id,
                target,
                kind,
                slot,
                in_flight,
            )));
        }
    }

    /// A check of entry `id` ended: record it, schedule the next.
    fn finished(&self, id: u64, kind: J::Step, ok: bool, started: Instant) {
        let mut s = self.schedule();
        // Removed (or replaced) by an update meanwhile: nothing to do.
        let Some(e) = s.entries.get_mut(&id) else {
            return;
        };
        e.running = None;
        J::record(&mut e.memory, kind, ok);
        e.last_start = Some(started);
        // Never catch up in a burst: a late run moves the schedule.
        let at = (started + e.interval + e.phase.take().unwrap_or_default()).max(Instant::now());
        e.due = Some(at);
        s.queue.push(Reverse((at, id)));
        if s.wake.is_none_or(|w| at < w) {
            s.wake = Some(at);
            drop(s);
            self.wake.notify_one();
        }
    }
}

/// The running probes. Dropping the pool aborts its checks; to stop
/// gracefully, send `true` on the shutdown channel and [`Pool::join`].
pub struct Pool<P: Probe<J>, J: Job = Target> {
    shared: Arc<Shared<P, J>>,
    scheduler: Option<JoinHandle<()>>,
    /// An update has run: targets new in later ones were added by a reload.
    updated: bool,
}

impl<P: Probe<J>, J: Job> Pool<P, J> {
    /// An empty pool; [`Pool::update`] starts the probes. `shutdown`: the
    /// pool stops when it becomes `true` (or its sender is dropped).
    /// Must be called inside a tokio runtime.
    pub fn new(
        probe: Arc<P>,
        options: PoolOptions,
        events: mpsc::Sender<CheckEvent<J>>,
        shutdown: watch::Receiver<bool>,
    ) -> Pool<P, J> {
        let shared = Arc::new(Shared {
            probe,
            slots: Slots::new(&options),
            events,
            shutdown,
            stats: Arc::new(CheckStats::default()),
            schedule: Mutex::new(Schedule::default()),
            wake: Notify::new(),
        });
        Pool {
            scheduler: Some(tokio::spawn(run_scheduler(shared.clone()))),
            shared,
            updated: false,
        }
    }

    /// Make the running set of probes that of `plan`: targets already
    /// running keep their schedule and combined counter (their interval is
    /// updated, counted from their last run); new ones run at once (a real
    /// nobody has checked yet carries no traffic, as upstream's full pass
    /// at start), then their second runs are spread over one interval by
    /// their position in the plan, so that later passes do not come in one
    /// burst; the others stop, a check in flight with them.
    pub fn update(&mut self, plan: &Plan<J>) -> UpdateSummary {
        let mut summary = UpdateSummary::default();
        let now = Instant::now();
        let wanted: HashSet<&Arc<J>> = plan.targets.iter().map(|p| &p.target).collect();
        {
            let mut guard = self.shared.schedule();
            let s = &mut *guard;
            let gone: Vec<u64> = s
                .ids
                .iter()
                .filter(|(t, _)| !wanted.contains(t))
                .map(|(_, &id)| id)
                .collect();
            for id in gone {
                if let Some(e) = s.entries.remove(&id) {
                    if let Some(check) = e.running {
                        check.abort();
                    }
                    s.ids.remove(&e.target);
                    summary.removed += 1;
                }
            }
            let n = plan.targets.len() as u32;
            for (i, p) in plan.targets.iter().enumerate() {
                if let Some(e) = s.ids.get(&p.target).and_then(|id| s.entries.get_mut(id)) {
                    // Hold the new plan's copy of the (equal) target: the
                    // director keys its health by that one, so the two
                    // keep sharing one set of targets across reloads.
                    e.target = p.target.clone();
                    if e.interval != p.interval {
                        e.interval = p.interval;
                        // Count the new interval from the last run (a
                        // check in flight schedules its next when it ends).
                        if let (Some(last), Some(_)) = (e.last_start, e.due) {
                            let at = last + p.interval;
                            e.due = Some(at);
                            let id = s.ids[&p.target];
                            s.queue.push(Reverse((at, id)));
                        }
                    }
                    if let Some(id) = s.ids.remove(&p.target) {
                        s.ids.insert(p.target.clone(), id);
                    }
                    summary.kept += 1;
                    continue;
                }
                let id = s.next_id;
                s.next_id += 1;
                // A job whose outcome is known is kept (the director shares
                // the pool's targets) but never run: 10,000 `checktype=on`
                // reals ran 10,000 checks an interval that changed nothing
                // (0.85 CPU s in the 5 s after start-up in the guest, where
                // keepalived, with no checker, spends none).
                let known = p.target.known_without_running();
                let due = (!known).then_some(now);
                let phase = Some(spread(p.interval, i as u32, n));
                s.entries.insert(
                    id,
                    Entry {
                        target: p.target.clone(),
                        interval: p.interval,
                        memory: J::Memory::default(),
                        last_start: None,
                        phase,
                        added: self.updated,
                        due,
                        running: None,
                    },
                );
                s.ids.insert(p.target.clone(), id);
                if let Some(due) = due {
                    s.queue.push(Reverse((due, id)));
                }
                summary.added += 1;
            }
        }
        self.shared.wake.notify_one();
        self.updated = true;
        summary
    }

    /// The targets being probed.
    pub fn targets(&self) -> Vec<Arc<J>> {
        self.shared.schedule().ids.keys().cloned().collect()
    }

    /// The pool's counters (shared: they stay current while the pool runs).
    pub fn stats(&self) -> Arc<CheckStats> {
        self.shared.stats.clone()
    }

    /// Wait until the scheduler and every check have ended (after
    /// shutdown).
    pub async fn join(mut self) {
        if let Some(scheduler) = self.scheduler.take() {
            let _ = scheduler.await;
        }
        let checks: Vec<JoinHandle<()>> = self
            .shared
            .schedule()
            .entries
            .values_mut()
            .filter_map(|e| e.running.take())
            .collect();
        for check in checks {
            let _ = check.await;
        }
    }
}

impl<P: Probe<J>, J: Job> Drop for Pool<P, J> {
    fn drop(&mut self) {
        if let Some(scheduler) = &self.scheduler {
            scheduler.abort();
        }
        for e in self.shared.schedule().entries.values() {
            if let Some(check) = &e.running {
                check.abort();
            }
        }
    }
}

/// Extra delay of the second run of the `i`-th of `n` targets: evenly
/// spread over one interval, so a large configuration does not fire at one
/// instant every interval.
pub fn spread(interval: Duration, i: u32, n: u32) -> Duration {
    if n == 0 {
        return Duration::ZERO;
    }
    interval * i / n
}

/// Resolves when shutdown is asked for, or nobody can ask any more.
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|&stop| stop).await;
}

/// A check that is due: entry, target, what to run, when it was due.
type Due<J> = (u64, Arc<J>, <J as Job>::Step, Instant);
type Ready<J> = VecDeque<Due<J>>;

/// Start checks as they come due and slots free up, until shutdown. Due
/// checks wait here, in order, as a line of a queue: a task is spawned
/// only for a check that has its slot, so when the checks fall behind
/// (10,000 due at start) they cost no memory to speak of.
async fn run_scheduler<P: Probe<J>, J: Job>(shared: Arc<Shared<P, J>>) {
    let mut shutdown = shared.shutdown.clone();
    let (mut ready, mut ready_added) = (Ready::new(), Ready::new());
    // One timer for the next due time, moved when that changes: a new one
    // on every turn of the loop (a check started, a check ended) was one
    // more timer registration per check.
    let timer = tokio::time::sleep_until(Instant::now());
    tokio::pin!(timer);
    let mut armed: Option<Instant> = None;
    loop {
        let next = shared.take_due(&mut ready, &mut ready_added);
        if *shutdown.borrow() {
            return;
        }
        // Start what has a free slot at once; wait below only for the rest.
        while !ready_added.is_empty() {
            let Some(slot) = shared.slots.try_acquire(true) else {
                break;
            };
            shared.start(ready_added.pop_front().expect("not empty"), slot);
        }
        while !ready.is_empty() {
            let Some(slot) = shared.slots.try_acquire(false) else {
                break;
            };
            shared.start(ready.pop_front().expect("not empty"), slot);
        }
        shared.stats.set_waiting(ready.len() + ready_added.len());
        if next != armed {
            if let Some(at) = next {
                timer.as_mut().reset(at);
            }
            armed = next;
        }
        tokio::select! {
            biased;
            _ = stopped(&mut shutdown) => return,
            slot = shared.slots.acquire(true), if !ready_added.is_empty() => {
                shared.start(ready_added.pop_front().expect("not empty"), slot);
            }
            slot = shared.slots.acquire(false), if !ready.is_empty() => {
                shared.start(ready.pop_front().expect("not empty"), slot);
            }
            // A notification sent before we wait here is kept (one permit).
            _ = shared.wake.notified() => {}
            _ = &mut timer, if armed.is_some() => armed = None,
        }
    }
}

/// One check of entry `id` in its `slot`: probe, send the result, hand
/// the target back to the schedule.
async fn run_check<P: Probe<J>, J: Job>(
    shared: Arc<Shared<P, J>>,
    id: u64,
    target: Arc<J>,
    kind: J::Step,
    slot: OwnedSemaphorePermit,
    _in_flight: InFlight,
) {
    let mut shutdown = shared.shutdown.clone();
    let started = Instant::now();
    let wall_started = SystemTime::now();
    let result = tokio::select! {
        // The probe on the heap: its future is as large as the largest
        // kind's (an external command's), and the check's task, copied
        // several times on its way to the runtime, stays small.
        r = shared.slots.run_within(
            slot,
            Box::pin(shared.probe.probe(&target, kind)),
            Some(target.deadline(kind) + BACKSTOP_GRACE),
        ) => r,
        _ = stopped(&mut shutdown) => return,
    };
    let latency = started.elapsed();
    let ok = result.is_ok();
    shared.stats.finished(&result, latency);
    let event = CheckEvent {
        target,
        kind,
        result,
        latency,
        at: wall_started + latency,
    };
    tokio::select! {
        r = shared.events.send(event) => if r.is_err() { return },
        _ = stopped(&mut shutdown) => return,
    }
    shared.finished(id, kind, ok, started);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::probe::ProbeKind;
    use crate::check::{CheckError, CheckResult};
    use crate::config::{HttpMethod, Protocol, Service};
    use std::net::Ipv4Addr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// A pool of `probe` with its result channel and its shutdown switch:
    /// what every test here starts from.
    fn started<P: Probe<Target>>(
        probe: Arc<P>,
        options: PoolOptions,
    ) -> (
        Pool<P, Target>,
        mpsc::Receiver<CheckEvent<Target>>,
        watch::Sender<bool>,
    ) {
        let (tx, rx) = mpsc::channel(1000);
        let (stop_tx, stop_rx) = watch::channel(false);
        (Pool::new(probe, options, tx, stop_rx), rx, stop_tx)
    }

    fn target(last: u8, checktype: CheckType) -> Arc<Target> {
        let addr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, last));
        Arc::new(Target {
            checktype,
            service: Service::Http,
            addr,
            real_port: 80,
            port: Some(80),
            protocol: Protocol::Tcp,
            virtual_key: None,
            request: String::new(),
            receive: String::new(),
            url: String::new(),
            httpmethod: HttpMethod::Get,
            virtualhost: None,
            login: String::new(),
            passwd: String::new(),
            database: String::new(),
            secret: String::new(),
            checkcommand: String::new(),
            checkcount: 1,
            checktimeout: Duration::from_secs(2),
            negotiatetimeout: Duration::from_secs(2),
            prepared: Default::default(),
        })
    }

    fn plan(targets: &[(Arc<Target>, u64)]) -> Plan {
        Plan {
            targets: targets
                .iter()
                .map(|(t, secs)| Planned {
                    target: t.clone(),
                    interval: Duration::from_secs(*secs),
                    members: vec![],
                })
                .collect(),
        }
    }

    /// Records (target last octet, kind, time since start) and answers
    /// after `delay` with `ok`.
    struct Fake {
        start: Instant,
        delay: Duration,
        ok: bool,
        calls: Mutex<Vec<(u8, ProbeKind, Duration)>>,
        in_flight: AtomicUsize,
        max_in_flight: AtomicUsize,
    }

    impl Fake {
        fn new(delay: Duration, ok: bool) -> Arc<Fake> {
            Arc::new(Fake {
                start: Instant::now(),
                delay,
                ok,
                calls: Mutex::new(Vec::new()),
                in_flight: AtomicUsize::new(0),
                max_in_flight: AtomicUsize::new(0),
            })
        }
        fn calls(&self) -> Vec<(u8, ProbeKind, Duration)> {
            self.calls.lock().unwrap().clone()
        }
    }

    impl Probe for Fake {
        async fn probe(&self, t: &Target, kind: ProbeKind) -> CheckResult {
            let IpAddr::V4(a) = t.addr else { panic!() };
            self.calls
                .lock()
                .unwrap()
                .push((a.octets()[3], kind, self.start.elapsed()));
            let n = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(n, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            if self.ok {
                Ok("fine".into())
            } else {
                Err(CheckError::Refused)
            }
        }
    }

    fn secs(d: Duration) -> f64 {
        (d.as_secs_f64() * 10.0).round() / 10.0
    }

    #[tokio::test(start_paused = true)]
    async fn first_runs_at_once_then_spread_then_every_interval() {
        let fake = Fake::new(Duration::ZERO, true);
        let (mut pool, mut rx, stop_tx) = started(fake.clone(), PoolOptions::default());
        let ts: Vec<_> = (1..=4)
            .map(|i| (target(i, CheckType::Connect), 10))
            .collect();
        assert_eq!(
            pool.update(&plan(&ts)),
            UpdateSummary {
                added: 4,
                kept: 0,
                removed: 0
            }
        );
        tokio::time::sleep(Duration::from_millis(25_100)).await;
        let mut times: Vec<(u8, f64)> = fake
            .calls()
            .iter()
            .map(|(t, _, d)| (*t, secs(*d)))
            .collect();
        times.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap());
        assert_eq!(
            times,
            [
                (1, 0.0),
                (2, 0.0),
                (3, 0.0),
                (4, 0.0),
                (1, 10.0),
                (2, 12.5),
                (3, 15.0),
                (4, 17.5),
                (1, 20.0),
                (2, 22.5),
                (3, 25.0)
            ]
        );
        let ev = rx.recv().await.unwrap();
        assert_eq!(ev.result, Ok("fine".to_string()));
        stop_tx.send(true).unwrap();
        pool.join().await;
    }

    /// `checktype=on` is up without a run: it is never run; the others
    /// keep their places in the spread.
    #[tokio::test(start_paused = true)]
    async fn a_job_known_without_running_never_runs() {
        let fake = Fake::new(Duration::ZERO, true);
        let (mut pool, _rx, stop_tx) = started(fake.clone(), PoolOptions::default());
        let ts: Vec<_> = (1..=4)
            .map(|i| {
                (
                    target(
                        i,
                        if i % 2 == 0 {
                            CheckType::On
                        } else {
                            CheckType::Connect
                        },
                    ),
                    10,
                )
            })
            .collect();
        pool.update(&plan(&ts));
        tokio::time::sleep(Duration::from_millis(12_600)).await;
        let mut times: Vec<(u8, f64)> = fake
            .calls()
            .iter()
            .map(|(t, _, d)| (*t, secs(*d)))
            .collect();
        times.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap());
        // 1 and 3 at once, then at 10 and 15 s; 2 and 4 (on) never.
        assert_eq!(times, [(1, 0.0), (3, 0.0), (1, 10.0)]);
        assert_eq!(pool.targets().len(), 4, "kept, for the director");
        stop_tx.send(true).unwrap();
        pool.join().await;
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_stops_sleeping_and_running_probes() {
        // Probes that take far longer than the test.
        let fake = Fake::new(Duration::from_secs(1000), true);
        let (mut pool, _rx, stop_tx) = started(fake.clone(), PoolOptions::default());
        pool.update(&plan(&[
            (target(1, CheckType::Connect), 10),
            (target(2, CheckType::Connect), 10),
        ]));
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Both targets are in their first probe.
        let t0 = Instant::now();
        stop_tx.send(true).unwrap();
        pool.join().await;
        assert_eq!(t0.elapsed(), Duration::ZERO);
        assert_eq!(fake.calls().len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_is_bounded() {
        let fake = Fake::new(Duration::from_secs(1), true);
        let (mut pool, mut rx, _stop_tx) = started(
            fake.clone(),
            PoolOptions {
                max_in_flight: 3,
                slot_hold: Duration::from_secs(10),
            },
        );
        // 10 targets all due within 0.1 s.
        let ts: Vec<_> = (1..=10)
            .map(|i| (target(i, CheckType::Connect), 1))
            .collect();
        pool.update(&plan(&ts));
        for _ in 0..10 {
            rx.recv().await.unwrap();
        }
        assert_eq!(fake.max_in_flight.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn the_hold_follows_the_latency_of_passing_probes() {
        let slots = Slots::new(&PoolOptions {
            max_in_flight: 4,
            slot_hold: Duration::from_millis(500),
        });
        // Nothing has passed yet: the longest hold.
        assert_eq!(slots.hold(), Duration::from_millis(500));
        let pass_after = |ms: u64| {
            let slots = slots.clone();
            async move {
                let slot = slots.acquire(false).await;
                slots
                    .run(slot, async move {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        Ok("fine".to_string())
                    })
                    .await
            }
        };
        // Fast servers: a hung one would give way after the shortest hold.
        pass_after(2).await.unwrap();
        assert_eq!(slots.hold(), MIN_SLOT_HOLD);
        // Servers slowing down (overloaded): holds grow, up to the bound.
        for _ in 0..40 {
            pass_after(300).await.unwrap();
        }
        assert_eq!(slots.hold(), Duration::from_millis(500));
        // Failures do not count.
        let slot = slots.acquire(false).await;
        let r = slots
            .run(slot, async {
                Err::<String, _>(crate::check::CheckError::Refused)
            })
            .await;
        assert!(r.is_err());
        assert_eq!(slots.hold(), Duration::from_millis(500));
    }

    #[tokio::test(start_paused = true)]
    async fn a_real_added_by_a_reload_does_not_queue_behind_the_backlog() {
        let fake = Fake::new(Duration::from_millis(100), true);
        let options = PoolOptions {
            max_in_flight: 8,
            slot_hold: Duration::from_secs(10),
        };
        let (mut pool, _rx, _stop_tx) = started(fake.clone(), options);
        // 80 targets at start: ten rounds of eight, one second of backlog.
        let mut ts: Vec<_> = (1..=80)
            .map(|i| (target(i, CheckType::Connect), 10))
            .collect();
        pool.update(&plan(&ts));
        tokio::time::sleep(Duration::from_millis(120)).await;
        ts.push((target(200, CheckType::Connect), 10));
        pool.update(&plan(&ts));
        tokio::time::sleep(Duration::from_secs(2)).await;
        let calls = fake.calls();
        let at = |n: u8| calls.iter().find(|c| c.0 == n).map(|c| secs(c.2));
        // The added real ran at once, not after the 0.9 s still queued.
        assert_eq!(at(200), Some(0.1));
        assert_eq!(at(80), Some(0.9));
        // At most the slots plus the reserve (8 / 8 = 1) at once.
        assert_eq!(fake.max_in_flight.load(Ordering::SeqCst), 9);
    }

    /// Targets 192.0.2.1 and .2 never answer; the others at once.
    struct TwoHung {
        start: Instant,
        calls: Mutex<Vec<(u8, Duration)>>,
    }

    impl Probe for TwoHung {
        async fn probe(&self, t: &Target, _kind: ProbeKind) -> CheckResult {
            let IpAddr::V4(a) = t.addr else { panic!() };
            let last = a.octets()[3];
            self.calls
                .lock()
                .unwrap()
                .push((last, self.start.elapsed()));
            if last <= 2 {
                tokio::time::sleep(Duration::from_secs(1000)).await;
            }
            Ok("fine".into())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn hung_probes_give_their_slot_back_after_the_hold() {
        let fake = Arc::new(TwoHung {
            start: Instant::now(),
            calls: Mutex::new(Vec::new()),
        });
        let options = PoolOptions {
            max_in_flight: 2,
            slot_hold: Duration::from_secs(1),
        };
        let (mut pool, mut rx, _stop_tx) = started(fake.clone(), options);
        let ts: Vec<_> = (1..=4)
            .map(|i| (target(i, CheckType::Connect), 10))
            .collect();
        pool.update(&plan(&ts));
        let mut results = Vec::new();
        for _ in 0..4 {
            let ev = rx.recv().await.unwrap();
            let IpAddr::V4(a) = ev.target.addr else {
                panic!()
            };
            results.push((a.octets()[3], ev.result.is_ok(), secs(ev.latency)));
        }
        results.sort_by_key(|r| r.0);
        // The hung two took both slots; the other two started when the
        // hold ended (1 s), not when the hung ones timed out (3 s), and
        // the hung ones still ran to their own deadline.
        let started: Vec<(u8, f64)> = fake
            .calls
            .lock()
            .unwrap()
            .iter()
            .map(|(t, d)| (*t, secs(*d)))
            .collect();
        assert_eq!(started, [(1, 0.0), (2, 0.0), (3, 1.0), (4, 1.0)]);
        assert_eq!(
            results,
            [
                (1, false, 3.0),
                (2, false, 3.0),
                (3, true, 0.0),
                (4, true, 0.0)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn reload_keeps_unchanged_targets_and_their_schedule() {
        let fake = Fake::new(Duration::ZERO, true);
        let (mut pool, _rx, _stop_tx) = started(fake.clone(), PoolOptions::default());
        let a = target(1, CheckType::Connect);
        let b = target(2, CheckType::Connect);
        let c = target(3, CheckType::Connect);
        pool.update(&plan(&[(a.clone(), 10), (b.clone(), 10)]));
        tokio::time::sleep(Duration::from_secs(12)).await;
        // a ran at 0 and 10, b at 0 (its second run is due at 15).
        // Reload: a kept (interval now 4 s), b removed, c added.
        let s = pool.update(&plan(&[(a.clone(), 4), (c.clone(), 10)]));
        assert_eq!(
            s,
            UpdateSummary {
                added: 1,
                kept: 1,
                removed: 1
            }
        );
        tokio::time::sleep(Duration::from_millis(10_100)).await;
        let calls: Vec<(u8, f64)> = fake
            .calls()
            .iter()
            .map(|(t, _, d)| (*t, secs(*d)))
            .collect();
        // a: 0, 10, then 14, 18, 22 (from its last run); b: 0 only;
        // c: at once on the reload (12 s), its second run not before 27 s.
        let of = |n: u8| -> Vec<f64> { calls.iter().filter(|c| c.0 == n).map(|c| c.1).collect() };
        assert_eq!(of(1), [0.0, 10.0, 14.0, 18.0, 22.0]);
        assert_eq!(of(2), [0.0]);
        assert_eq!(of(3), [12.0]);
        let mut running = pool.targets();
        running.sort_by_key(|t| t.addr);
        assert_eq!(running, [a, c]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_kept_target_is_held_as_the_new_plans_copy() {
        let fake = Fake::new(Duration::ZERO, true);
        let (mut pool, _rx, _stop_tx) = started(fake, PoolOptions::default());
        let old = target(1, CheckType::Connect);
        pool.update(&plan(&[(old.clone(), 10)]));
        // A reload builds a new, equal target: the director keys its
        // health by that copy, so the pool must hold it too.
        let new = Arc::new((*old).clone());
        pool.update(&plan(&[(new.clone(), 10)]));
        let held = pool.targets();
        assert_eq!(held.len(), 1);
        assert!(Arc::ptr_eq(&held[0], &new));
    }

    #[tokio::test(start_paused = true)]
    async fn a_removed_target_stops_mid_check() {
        let fake = Fake::new(Duration::from_secs(1), true);
        let (mut pool, mut rx, _stop_tx) = started(fake.clone(), PoolOptions::default());
        let a = target(1, CheckType::Connect);
        let b = target(2, CheckType::Connect);
        pool.update(&plan(&[(a.clone(), 10), (b.clone(), 10)]));
        tokio::time::sleep(Duration::from_millis(500)).await;
        // Both are in their first check; a is removed.
        pool.update(&plan(&[(b.clone(), 10)]));
        tokio::time::sleep(Duration::from_secs(17)).await;
        let mut results = Vec::new();
        while let Ok(ev) = rx.try_recv() {
            results.push(ev.target.addr);
        }
        // b at 1 s and 16 s (its second run spread by 5 s); a's check
        // was cut and never ran again.
        assert_eq!(results, [b.addr, b.addr]);
        let of_a = fake.calls().iter().filter(|c| c.0 == 1).count();
        assert_eq!(of_a, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn combined_counter_lives_in_the_schedule() {
        let fake = Fake::new(Duration::ZERO, true);
        let (mut pool, _rx, _stop_tx) = started(fake.clone(), PoolOptions::default());
        pool.update(&plan(&[(target(1, CheckType::Combined(2)), 1)]));
        tokio::time::sleep(Duration::from_millis(5_500)).await;
        let kinds: Vec<ProbeKind> = fake.calls().iter().map(|c| c.1).collect();
        use ProbeKind::*;
        assert_eq!(
            kinds,
            [Negotiate, Connect, Connect, Negotiate, Connect, Connect]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_probe_is_cut_by_the_backstop() {
        let fake = Fake::new(Duration::from_secs(1000), false);
        let (mut pool, mut rx, _stop_tx) = started(fake.clone(), PoolOptions::default());
        pool.update(&plan(&[(target(1, CheckType::Connect), 10)]));
        let ev = rx.recv().await.unwrap();
        assert_eq!(ev.result, Err(CheckError::Timeout));
        // checktimeout 2 s + backstop grace.
        assert_eq!(ev.latency, Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_backstop_before_the_hold_ends_cuts_the_probe() {
        // A hold longer than the backstop: the one timer fires at the
        // backstop, not at the hold.
        let fake = Fake::new(Duration::from_secs(1000), false);
        let options = PoolOptions {
            max_in_flight: 1,
            slot_hold: Duration::from_secs(60),
        };
        let (mut pool, mut rx, _stop_tx) = started(fake.clone(), options);
        pool.update(&plan(&[(target(1, CheckType::Connect), 10)]));
        let ev = rx.recv().await.unwrap();
        assert_eq!(ev.result, Err(CheckError::Timeout));
        assert_eq!(ev.latency, Duration::from_secs(3));
    }

    #[test]
    fn plan_groups_pairs_by_target() {
        let text = "\
checkinterval=10
virtual=192.0.2.10:80
\treal=192.0.2.21:80 gate
\treal=192.0.2.22:80 gate
\tservice=http
\tchecktype=connect
virtual=192.0.2.11:80
\treal=192.0.2.21:80 masq
\tservice=http
\tchecktype=connect
\tcheckinterval=3
virtual=192.0.2.12:80
\treal=192.0.2.21:80 gate
\tchecktype=off
";
        let cfg = crate::config::load_str(
            text,
            std::path::Path::new("t.cf"),
            &crate::config::Options::default(),
        )
        .expect("config")
        .config;
        let plan = Plan::from_config(&cfg);
        // 192.0.2.21 is shared by the first two virtuals; the off one is left out.
        assert_eq!(plan.targets.len(), 2, "{plan:#?}");
        let first = &plan.targets[0];
        assert_eq!(first.members.len(), 2);
        assert_eq!(first.interval, Duration::from_secs(3));
        assert_eq!(first.members[1].real_id(), "192.0.2.21:80");
    }
}
