//! The director: owns the IPVS backend and every bit of health state, and
//! turns check results, reloads and timer ticks into IPVS changes through
//! the reconciler. Everything else talks to it with [`Message`]s, so it
//! runs on one thread and needs no locks; it is synchronous, so tests drive
//! it directly on [`crate::ipvs::MemoryIpvs`].
//!
//! What it does, in upstream's terms (reference §f.1–f.5, §f.8, §f.13):
//! - start: adopt the kernel table — a configured real present with a
//!   positive weight starts up, the others start unknown (down) until a
//!   check passes, so nothing is added and removed again (upstream's
//!   start-up flap); missing services are added, unconfigured reals of our
//!   services purged;
//! - a check result feeds the real's health (one cell per probe identity,
//!   shared by every virtual that checks the real the same way); a state
//!   change reconciles the virtual services it touched, against the
//!   director's view of the kernel table (the last full read, kept current
//!   with what was applied since);
//! - a load-monitor answer feeds the load table, and a slow-start step is
//!   due once a second while a real ramps: both reconcile the virtual
//!   services they touched in the same way. The weight itself is the
//!   desired state's ([`reconcile::desired::weigh`]): the director only
//!   gathers its inputs ([`RealInput`]) and keeps the time;
//! - a tick re-reads the kernel table and repairs drift (`ipvsadm -C`, a
//!   deleted destination, a changed weight); so do start, reload and any
//!   pass after a refused change;
//! - a reload swaps the configuration, keeps the health of unchanged
//!   probes, purges services the new configuration no longer names;
//! - stop: with cleanstop, removes our reals and services;
//! - an operator's override (drain, disable, a weight, until enable; the
//!   control socket's [`Message::Control`]) is one more input of the
//!   desired state, kept by pair, written to the state file on every
//!   change and put back in force at start; a reload drops (and logs) the
//!   overrides of pairs it no longer has;
//! - a plan ([`Director::plan_reload_at`], [`Director::plan_start_at`]) runs
//!   the same code as a reload or a start on a copy of the director's
//!   state and of the kernel table, and reports the operations that copy
//!   applied: what the reload or start would do now, changing nothing.
//!   A reload logs the operations it applied in the same notation.
//!   Both live in [`operator`].
//! - the connection-sync daemons of `syncdaemon=` start after adoption,
//!   follow reloads and ticks, and stop with cleanstop
//!   ([`super::sync_daemons`]).
//!
//! It never runs checks and never parses files.
//!
//! Split by meaning: this file has the state, start, the messages and
//! what results do to health; [`pass`] the reconcile passes; [`readout`]
//! what it tells others (weights and why, the snapshot, status lines);
//! [`operator`] overrides and plans; `tests` its unit tests.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::check::health::{HealthTable, State, Transition};
use crate::check::load::{self, LoadQuery, LoadTable};
use crate::check::pool::{JobResult, Member, Plan};
use crate::check::{CheckResult, Target};
use crate::config::{CheckType, Config, Real, Virtual, VirtualKey};
use crate::control::protocol::{Reply, Request};
use crate::control::state::Stored;
use crate::control::{Override, Peer};
use crate::fastmap::{FastMap, FastSet};
use crate::ipvs::{Dest, IpvsBackend, Op, Service, ServiceKey};
use crate::reconcile::desired::{service_key, weigh, RealInput};
use crate::reconcile::{self, ChangeKind};

use super::alert::DaemonStatus;
use super::log::Logger;
use super::observe::{self, Record};
use super::slowstart::SlowStart;
use super::sync_daemons::SyncDaemons;
use super::timeline;
use crate::status::Snapshot;

mod operator;
mod pass;
mod readout;
use operator::outweighed;

/// What the director is told.
#[derive(Debug)]
pub enum Message {
    /// One probe finished. The target is the pool's: the director keeps
    /// it (last results) without a copy.
    Result {
        target: Arc<Target>,
        result: CheckResult,
        latency: Duration,
    },
    /// One load query finished (the load pool's query, kept without a
    /// copy as checks' targets are).
    Load {
        query: Arc<LoadQuery>,
        result: JobResult<LoadQuery>,
    },
    /// A new configuration that parsed without errors, with its plans
    /// when the sender built them already (the daemon: its pools probe
    /// the same [`Target`]s and [`LoadQuery`]s, so the director shares
    /// them instead of building its own).
    Reload(Arc<Config>, Option<Plans>),
    /// A reload was asked for and the file had errors: the running
    /// configuration stays (only counted, for the status).
    ReloadFailed,
    /// Re-read the kernel table and repair drift.
    Tick,
    /// Stop: clean up (per cleanstop) and return.
    Stop,
    /// An operator's request from the control socket (`drain`, `disable`,
    /// `enable`, `weight`), by `peer`; the reply goes to `reply`.
    Control {
        request: Request,
        peer: Peer,
        reply: tokio::sync::oneshot::Sender<Reply>,
    },
    /// What a reload to this configuration would do now (the reply's
    /// `plan`); changes nothing.
    Plan(Arc<Config>, tokio::sync::oneshot::Sender<Reply>),
    /// Someone waits for a real's connections to drain: read the kernel's
    /// counters every [`COUNTERS_EVERY`] until then.
    Watch(Instant),
}

/// How often the kernel's counters are read while someone waits for a
/// drain (else they come with the full pass of each tick).
pub const COUNTERS_EVERY: Duration = Duration::from_secs(1);

/// An operator's override of one pair, as the director keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operated {
    pub what: Override,
    pub by: Peer,
    pub at: SystemTime,
}

/// One kernel operation of a start or reload, in the plan's notation
/// ([`reconcile::plan`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub op: Op,
    pub line: String,
}

/// The plans of one configuration: its health checks and its load queries.
#[derive(Debug, Clone, Default)]
pub struct Plans {
    pub checks: Plan,
    pub loads: Plan<LoadQuery>,
}

impl Plans {
    pub fn from_config(config: &Config) -> Plans {
        Plans {
            checks: Plan::from_config(config),
            loads: load::plan_of(config),
        }
    }
}

/// A real's weight as the director sets it, and why it is not the
/// configured one: for `status` and any other view of the director's
/// state. Computed by [`reconcile::desired::weigh`] from the inputs of the
/// last pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealWeight {
    /// `real=`'s weight.
    pub configured: u32,
    /// The kernel weight it is given; `None`: out of service (down, in
    /// maintenance), absent or quiesced at 0 by `quiescent`.
    pub effective: Option<u32>,
    /// Why the two differ, most important first: `down`, `agent drain`,
    /// `agent 50%`, `nanny load 0.42`, `slow start 12/40`, `agent
    /// failing: Connection refused` (a failing monitor keeps the last
    /// weight). Empty when nothing moves the weight.
    pub reasons: Vec<String>,
}

/// The last result of a probe, for `status` and `check`.
#[derive(Debug, Clone)]
pub struct LastResult {
    pub result: CheckResult,
    pub latency: Duration,
    pub at: Instant,
    /// A maintenance file held the real down when the result came.
    pub maintenance: bool,
}

/// Side effects the director asks for, besides IPVS changes.
pub trait Hooks {
    /// Run `fallbackcommand start|stop VIP:VPORT proto` (upstream: through
    /// the shell, on the edge only).
    fn fallback_command(&mut self, command: &str, action: &str, service: &str, protocol: &str);
    /// An alert-worthy change of virtual `v` (for e-mail): the log text
    /// and the daemon's state.
    fn alert(&mut self, _v: &Virtual, _g: &crate::config::Global, _text: &str, _s: DaemonStatus) {}
}

/// Hooks that do nothing (tests, dry runs).
pub struct NoHooks;

impl Hooks for NoHooks {
    fn fallback_command(&mut self, _: &str, _: &str, _: &str, _: &str) {}
}

pub struct Director<B: IpvsBackend> {
    config: Arc<Config>,
    backend: B,
    log: Arc<Logger>,
    /// The plans of the next [`Director::start`], built by the caller.
    next_plan: Option<Plan>,
    next_load_plan: Option<Plan<LoadQuery>>,
    health: HealthTable,
    /// What the load monitors said.
    loads: LoadTable,
    /// When each real came back into service (slow start).
    slow: SlowStart,
    /// The time of the message being handled (a value passed in, so that
    /// tests drive slow start with a fake clock).
    now: Instant,
    /// `checktype=off` reals found up in the kernel at start: they stay up
    /// (upstream never checks them).
    off_up: FastSet<Member>,
    last: FastMap<Arc<Target>, LastResult>,
    /// Services of ours: named by the current or an earlier configuration
    /// of this daemon.
    owned: HashSet<ServiceKey>,
    fallback_active: HashMap<ServiceKey, bool>,
    /// Changes that the kernel refused on the last pass (retried next).
    pub failed_last_pass: usize,
    /// The kernel table as the last full pass read it, kept current with
    /// every change applied since; `None` until read (or after a failed
    /// read). A pass for a few changed reals diffs against it instead of
    /// reading every service again: at 1,000 services a read is 1,001
    /// netlink dumps, and start-up makes thousands of such passes.
    view: Option<View>,
    /// Virtual services (indexes) with a real that changed state since the
    /// last pass.
    dirty: HashSet<usize>,
    /// The indexes of each virtual service key in the configuration.
    index: FastMap<VirtualKey, Vec<usize>>,
    phase: &'static str,
    status: DaemonStatus,
    /// Reals down with `emailalertfreq` > 0: (virtual index, `RIP:RPORT`)
    /// → when "Inaccessible real server" was last mailed.
    reminders: HashMap<(usize, String), Instant>,
    /// The sync daemons of `syncdaemon=`.
    sync: SyncDaemons,
    /// What is kept for the status only (since when, recent changes,
    /// counters); see [`Director::snapshot`].
    record: Record,
    /// When each virtual service came into the configuration (start, or
    /// the reload that added it): its fallback waits for the first checks
    /// of its reals for at most its check deadline from then.
    born: HashMap<VirtualKey, Instant>,
    /// The operator's overrides, by pair.
    overrides: FastMap<Member, Operated>,
    /// Where the overrides are kept across restarts (`None`: nowhere).
    state_file: Option<PathBuf>,
    /// Overrides read from the state file, put in force by the next start.
    stored: Option<Vec<Stored>>,
    /// The operations of the last start or reload pass, when kept: on a
    /// reload (to log them) and in a plan's copy.
    journal: Vec<Planned>,
    /// Keep the journal of a start too (a plan's copy).
    journaling: bool,
    /// Someone waits for a drain: the counters are read every
    /// [`COUNTERS_EVERY`] until then.
    watch_until: Option<Instant>,
    next_counters: Instant,
}

impl<B: IpvsBackend> Director<B> {
    /// A director for `config`. Call [`Director::start`] next.
    pub fn new(config: Arc<Config>, backend: B, log: Arc<Logger>) -> Self {
        Director {
            index: index_of(&config),
            backend,
            log,
            next_plan: None,
            next_load_plan: None,
            health: HealthTable::new(),
            loads: LoadTable::new(),
            slow: SlowStart::new(),
            now: Instant::now(),
            off_up: FastSet::default(),
            last: FastMap::default(),
            owned: HashSet::new(),
            fallback_active: HashMap::new(),
            failed_last_pass: 0,
            view: None,
            dirty: HashSet::new(),
            phase: "start",
            status: DaemonStatus::Starting,
            reminders: HashMap::new(),
            record: Record::default(),
            born: HashMap::new(),
            overrides: FastMap::default(),
            state_file: None,
            stored: None,
            journal: Vec::new(),
            journaling: false,
            watch_until: None,
            next_counters: Instant::now(),
            sync: SyncDaemons::new(&config),
            config,
        }
    }

    /// Start with `plan` (built from the same configuration, e.g. for the
    /// pool) instead of building one: the two then share their targets.
    pub fn with_plan(mut self, plan: Plan) -> Self {
        self.next_plan = Some(plan);
        self
    }

    /// Start with the load pool's `plan` (see [`Director::with_plan`]).
    pub fn with_load_plan(mut self, plan: Plan<LoadQuery>) -> Self {
        self.next_load_plan = Some(plan);
        self
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    pub fn backend(&mut self) -> &mut B {
        &mut self.backend
    }

    /// The health state of real `ri` of virtual `vi`.
    pub fn state_of(&self, vi: usize, ri: usize) -> State {
        let v = &self.config.virtuals[vi];
        state(&self.health, &self.off_up, v, &v.reals[ri])
    }

    pub fn last_result(&self, target: &Target) -> Option<&LastResult> {
        self.last.get(target)
    }

    /// Adopt the kernel table and bring it in line with the configuration.
    pub fn start(&mut self, hooks: &mut dyn Hooks) {
        self.start_at(Instant::now(), hooks)
    }

    /// [`Director::start`] at time `now`.
    pub fn start_at(&mut self, now: Instant, hooks: &mut dyn Hooks) {
        self.now = now;
        self.phase = "start";
        self.status = DaemonStatus::Starting;
        self.born = self.config.virtuals.iter().map(|v| (v.key, now)).collect();
        self.startup_note("director start", String::new);
        self.journal.clear();
        self.restore_overrides();
        let table = self.adopt();
        self.startup_note("adopted", || {
            let dests: usize = table.iter().flatten().map(|(_, d)| d.len()).sum();
            let known = self.health.count_up();
            let services = table.as_ref().map_or(0, Vec::len);
            format!("read {services} services, {dests} dests; {known} reals known up")
        });
        self.reconcile_from(table, hooks);
        self.startup_note("first reconcile", || {
            format!("{} failed", self.failed_last_pass)
        });
        // After the table: a missing sync interface holds up no service.
        self.sync.pass(&mut self.backend, &self.log);
        self.status = DaemonStatus::Running;
    }

    /// Handle one message; returns false after [`Message::Stop`].
    pub fn handle(&mut self, msg: Message, hooks: &mut dyn Hooks) -> bool {
        self.handle_batch(std::iter::once(msg), hooks)
    }

    /// [`Director::handle`] at time `now`.
    pub fn handle_at(&mut self, msg: Message, now: Instant, hooks: &mut dyn Hooks) -> bool {
        self.handle_batch_at(std::iter::once(msg), now, hooks)
    }

    /// One message, the batch's clock already set.
    fn handle_one(&mut self, msg: Message, hooks: &mut dyn Hooks) -> bool {
        match msg {
            Message::Result {
                target,
                result,
                latency,
            } => {
                if self.observe(target, result, latency) {
                    self.reconcile_changed(hooks);
                }
            }
            Message::ReloadFailed => self.record.reloaded(false),
            Message::Load { query, result } => {
                if self.observe_load(&query, &result) {
                    self.reconcile_changed(hooks);
                }
            }
            Message::Reload(config, plans) => {
                self.record.reloaded(true);
                self.status = DaemonStatus::Reloading;
                let (checks, loads) = plans.map(|p| (p.checks, p.loads)).unzip();
                self.next_plan = checks;
                self.next_load_plan = loads;
                self.reload(config, hooks);
                self.status = DaemonStatus::Running;
            }
            Message::Tick => {
                self.reconcile(hooks);
                self.sync.pass(&mut self.backend, &self.log);
                self.remind(hooks);
            }
            Message::Stop => {
                self.status = DaemonStatus::Stopping;
                self.stop(hooks);
                return false;
            }
            Message::Control {
                request,
                peer,
                reply,
            } => {
                let answer = self.control(&request, peer, hooks);
                let _ = reply.send(answer);
            }
            Message::Plan(config, reply) => {
                let now = self.now;
                let answer = match self.plan_reload_at(config, now) {
                    Ok(ops) => Reply {
                        ok: true,
                        plan: Some(ops.into_iter().map(|p| p.line).collect()),
                        ..Reply::default()
                    },
                    Err(e) => Reply::error(format!("cannot read the IPVS table: {e}")),
                };
                let _ = reply.send(answer);
            }
            Message::Watch(until) => {
                if self.watch_until.is_none_or(|u| u < until) {
                    self.watch_until = Some(until);
                }
            }
        }
        true
    }

    /// Handle the messages that queued up while the last one was handled:
    /// every check result is observed first, and the table is read and
    /// reconciled once for all of them (once per result would be one table
    /// dump each: at start-up, with every real changing at once, the
    /// director fell ever further behind its checks). Other messages keep
    /// their place in the order. Slow-start steps that came due are
    /// taken with the batch (an empty batch takes only them). Returns
    /// false after [`Message::Stop`].
    pub fn handle_batch(
        &mut self,
        msgs: impl IntoIterator<Item = Message>,
        hooks: &mut dyn Hooks,
    ) -> bool {
        self.handle_batch_at(msgs, Instant::now(), hooks)
    }

    /// [`Director::handle_batch`] at time `now`.
    pub fn handle_batch_at(
        &mut self,
        msgs: impl IntoIterator<Item = Message>,
        now: Instant,
        hooks: &mut dyn Hooks,
    ) -> bool {
        self.now = now;
        let mut changed = false;
        for msg in msgs {
            match msg {
                Message::Result {
                    target,
                    result,
                    latency,
                } => changed |= self.observe(target, result, latency),
                Message::Load { query, result } => changed |= self.observe_load(&query, &result),
                other => {
                    if std::mem::take(&mut changed) {
                        self.reconcile_changed(hooks);
                    }
                    if !self.handle_one(other, hooks) {
                        return false;
                    }
                }
            }
        }
        changed |= self.ramp_steps();
        if changed {
            self.reconcile_changed(hooks);
        }
        self.read_counters_if_watched();
        true
    }

    /// When the director must look at the table again without a message
    /// (the next slow-start step, the next read of the counters while
    /// someone waits for a drain), if ever.
    pub fn next_wake(&self) -> Option<Instant> {
        let counters = self
            .watch_until
            .filter(|u| self.now < *u)
            .map(|_| self.next_counters);
        match (self.slow.next_step(), counters) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// While someone waits for a drain, read the kernel's counters (for
    /// the snapshot) every [`COUNTERS_EVERY`]: one table read, whatever
    /// the number of clients asking.
    fn read_counters_if_watched(&mut self) {
        let Some(until) = self.watch_until else {
            return;
        };
        if self.now >= until {
            self.watch_until = None;
        } else if self.now >= self.next_counters {
            let _ = self.read_table();
            self.next_counters = self.now + COUNTERS_EVERY;
        }
    }

    /// Mark the virtual services whose reals reached a new slow-start
    /// second; true when there are any.
    fn ramp_steps(&mut self) -> bool {
        let due = self.slow.due(self.now);
        for m in &due {
            if let Some(vis) = self.index.get(&m.virtual_key) {
                self.dirty.extend(vis);
            }
        }
        !due.is_empty()
    }

    /// Feed one load answer; true when a real's weight inputs changed.
    fn observe_load(&mut self, query: &LoadQuery, result: &JobResult<LoadQuery>) -> bool {
        let observed = self.loads.observe(query, result);
        for note in &observed.notes {
            self.log.log(note);
        }
        for m in &observed.changed {
            if let Some(vis) = self.index.get(&m.virtual_key) {
                self.dirty.extend(vis);
            }
        }
        !observed.changed.is_empty()
    }

    /// Initial health from the kernel table: a configured real present with
    /// weight > 0 is up (adopted), anything else unknown. `checktype=on`
    /// reals are always up; `off` keeps what was found. Returns the table
    /// it read, for the full pass that follows (`None`: the read failed).
    fn adopt(&mut self) -> Option<Table> {
        let read = match self.read_table() {
            Ok(t) => Some(t),
            Err(e) => {
                self.log.log(&format!("Error reading the IPVS table: {e}"));
                None
            }
        };
        let dests_of: HashMap<ServiceKey, &Vec<Dest>> =
            read.iter().flatten().map(|(s, d)| (s.key, d)).collect();
        let config = self.config.clone();
        let load_plan = self
            .next_load_plan
            .take()
            .unwrap_or_else(|| load::plan_of(&config));
        self.loads.sync(&config, &load_plan);
        let mut adopted: HashSet<Member> = HashSet::new();
        for v in &config.virtuals {
            let key = service_key(&v.key);
            self.owned.insert(key);
            let Some(dests) = dests_of.get(&key) else {
                continue;
            };
            for r in &v.reals {
                let rk = reconcile::desired::real_key(v, r);
                let m = member(v, r);
                // A real the operator drained is in the table at weight 0:
                // up all the same (a restart must not take it out while
                // its connections drain).
                let zero = matches!(
                    self.overrides.get(&m).map(|o| o.what),
                    Some(Override::Drain | Override::Weight { weight: 0 })
                );
                if let Some(d) = dests.iter().find(|d| d.key == rk && (d.weight > 0 || zero)) {
                    // A load-driven weight survives a restart until the
                    // monitor answers again.
                    self.loads.hold(&m, d.weight);
                    adopted.insert(m);
                }
            }
        }
        // Nothing ramps at a first start: no set of every real to build.
        if !self.slow.is_empty() {
            let configured: HashSet<Member> = config
                .virtuals
                .iter()
                .flat_map(|v| v.reals.iter().map(move |r| member(v, r)))
                .collect();
            self.slow.retain(|m| configured.contains(m));
        }
        self.off_up = config
            .virtuals
            .iter()
            .filter(|v| v.checktype == CheckType::Off)
            .flat_map(|v| v.reals.iter().map(move |r| member(v, r)))
            .filter(|m| adopted.contains(m) || self.off_up.contains(m))
            .collect();
        let plan = self
            .next_plan
            .take()
            .unwrap_or_else(|| Plan::from_config(&config));
        let on_virtuals = || {
            config
                .virtuals
                .iter()
                .filter(|v| v.checktype == CheckType::On)
        };
        let mut on: HashSet<Member> =
            HashSet::with_capacity(on_virtuals().map(|v| v.reals.len()).sum());
        on.extend(on_virtuals().flat_map(|v| v.reals.iter().map(move |r| member(v, r))));
        self.health.sync(&config, &plan, |m| {
            if on.contains(m) || adopted.contains(m) {
                State::Up
            } else {
                State::Unknown
            }
        });
        read
    }

    /// Feed one probe result; true when a real changed state.
    fn observe(&mut self, target: Arc<Target>, result: CheckResult, latency: Duration) -> bool {
        // A result for a probe the current configuration no longer has (a
        // reload raced the check) changes nothing. The last result is kept
        // under the health table's copy of the target, shared with the
        // pool's plan.
        let Some(target) = self.health.key(&target).cloned() else {
            return false;
        };
        let ok = result.is_ok();
        let maintenance = self
            .config
            .global
            .maintenancedir
            .as_deref()
            .is_some_and(|dir| {
                super::maintenance::in_maintenance(dir, &target.addr, target.real_port)
            });
        let transitions = if maintenance {
            self.health.force_down(&target)
        } else {
            self.health.observe(&target, ok)
        };
        // Most results change nothing: nothing to say unless -d asks for
        // every result (formatting the reason and the pair's names for
        // each was a tenth of a check's instructions).
        let debug = self.log.is_debug();
        let says = |t: &Transition| debug || *t != Transition::None;
        // Why the real is up or down, for the line that goes with a state
        // change (upstream's lines say what changed, not why).
        let why = match &result {
            _ if !transitions.iter().any(|(_, t)| says(t)) => String::new(),
            Ok(d) if d.is_empty() => "Success".to_string(),
            Ok(d) => d.clone(),
            Err(e) => e.reason(latency),
        };
        self.last.insert(
            target.clone(),
            LastResult {
                result,
                latency,
                at: Instant::now(),
                maintenance,
            },
        );
        self.monitor(&transitions, &target, maintenance);
        let mut changed = false;
        for (m, t) in transitions {
            if !says(&t) {
                continue;
            }
            let (real, vid) = (m.real_id(), m.virtual_key.id());
            // -d: each result as upstream's debug mode shows it.
            self.log.debug(
                2,
                &format!(
                    "Checking {}: real server={real} (virtual={vid})",
                    target.checktype.as_str()
                ),
            );
            self.log.debug(
                3,
                &match (ok && !maintenance, maintenance) {
                    (true, _) => format!("Activated service {real}"),
                    (false, true) => format!("Deactivated service {real}: Server in maintenance"),
                    (false, false) => format!("Deactivated service {real}: {why}"),
                },
            );
            if let Some(msg) = t.message(&real, &vid) {
                self.log.log(&msg);
            }
            match t {
                Transition::Up { .. } => self
                    .log
                    .log(&format!("Real server {real} ({vid}) is up: {why}")),
                Transition::Down { forced: false } => self
                    .log
                    .log(&format!("Real server {real} ({vid}) is down: {why}")),
                _ => {}
            }
            if t.is_change() {
                changed = true;
                if let Some(vis) = self.index.get(&m.virtual_key) {
                    self.dirty.extend(vis);
                }
                let reason = if maintenance {
                    "in maintenance".to_string()
                } else {
                    why.clone()
                };
                let up = matches!(t, Transition::Up { .. });
                self.record.state_changed(&m, up, reason);
            }
            if let Transition::Down { forced: true } = t {
                self.log.log(&format!(
                    "Server in maintenance: {} ({})",
                    m.real_id(),
                    m.virtual_key.id()
                ));
            }
        }
        changed
    }

    /// Append the check result to the monitorfile of every virtual that
    /// holds the real (upstream §f.10; format in ldirectord(8), C28).
    fn monitor(&self, pairs: &[(Member, Transition)], target: &Target, maintenance: bool) {
        let Some(last) = self.last.get(target) else {
            return;
        };
        for (m, _) in pairs {
            // The first virtual of the key, by index: a search of the
            // virtuals for every result grew with the configuration.
            let Some(path) = self
                .index
                .get(&m.virtual_key)
                .and_then(|vis| vis.first())
                .and_then(|&vi| self.config.virtuals[vi].monitorfile.as_deref())
            else {
                continue;
            };
            let (state, message) = match (&last.result, maintenance) {
                (_, true) => ("down", "Server in maintenance".to_string()),
                (Ok(d), _) => (
                    "up",
                    if d.is_empty() {
                        "Success".into()
                    } else {
                        d.clone()
                    },
                ),
                (Err(e), _) => ("down", e.to_string()),
            };
            let line = format!(
                "[{}] [{}] {} ({}) [{state}] {}\n",
                super::log::localtime(),
                std::process::id(),
                m.real_id(),
                m.virtual_key.id(),
                escape_monitor(&message)
            );
            if let Err(e) = super::log::append(path, &line) {
                self.log.log(&format!(
                    "unable to open monitorfile {}: {e}",
                    path.display()
                ));
            }
        }
    }

    /// Mail about a change (and keep the reminder list of upstream's
    /// `emailalertfreq`).
    fn alert(&mut self, c: &reconcile::Change, hooks: &mut dyn Hooks) {
        if !c.alerts() {
            return;
        }
        let Some(vi) = c.virtual_index else {
            return;
        };
        let config = self.config.clone();
        let v = &config.virtuals[vi];
        hooks.alert(v, &config.global, &c.log_line(self.phase), self.status);
        let key = (vi, c.dest.clone().unwrap_or_default());
        match c.kind {
            ChangeKind::DeleteReal | ChangeKind::QuiesceReal if v.emailalertfreq > 0 => {
                self.reminders.insert(key, Instant::now());
            }
            ChangeKind::AddReal
            | ChangeKind::RestoreReal
            | ChangeKind::ReaddQuiescentReal
            | ChangeKind::PurgeReal => {
                self.reminders.remove(&key);
            }
            _ => {}
        }
    }

    /// Re-send "Inaccessible real server" every `emailalertfreq` seconds.
    fn remind(&mut self, hooks: &mut dyn Hooks) {
        let config = self.config.clone();
        for ((vi, real), last) in self.reminders.iter_mut() {
            let Some(v) = config.virtuals.get(*vi) else {
                continue;
            };
            if v.emailalertfreq > 0
                && last.elapsed() >= Duration::from_secs(u64::from(v.emailalertfreq))
            {
                *last = Instant::now();
                let text = format!("Inaccessible real server: {real} ({})", v.key.service());
                hooks.alert(v, &config.global, &text, self.status);
            }
        }
    }

    /// Swap in a new configuration, keeping the health of pairs whose
    /// probe did not change (identity = [`Target`] equality).
    fn reload(&mut self, config: Arc<Config>, hooks: &mut dyn Hooks) {
        let now = self.now;
        let born = std::mem::take(&mut self.born);
        self.born = config
            .virtuals
            .iter()
            .map(|v| (v.key, born.get(&v.key).copied().unwrap_or(now)))
            .collect();
        self.index = index_of(&config);
        self.config = config;
        self.fallback_active.clear();
        // Indexes of the old configuration mean nothing in the new one.
        self.reminders.clear();
        self.journal.clear();
        self.drop_unconfigured_overrides();
        let table = self.adopt();
        let health = &self.health;
        self.record.retain(|m| health.of_member(m).is_some());
        // Keep the last results of planned targets, keyed by the plan's
        // copy (the one the pool now holds too).
        self.last = std::mem::take(&mut self.last)
            .into_iter()
            .filter_map(|(t, r)| Some((health.key(&t)?.clone(), r)))
            .collect();
        self.reconcile_from(table, hooks);
        self.sync.reload(&self.config, &mut self.backend, &self.log);
    }

    /// upstream `ld_stop`: for each virtual with cleanstop, remove its reals
    /// and the service; leave the table alone with cleanstop=no.
    fn stop(&mut self, hooks: &mut dyn Hooks) {
        self.phase = "stop";
        let actual = self.backend.services().unwrap_or_default();
        let config = self.config.clone();
        let mut changes = Vec::new();
        for (vi, v) in config
            .virtuals
            .iter()
            .enumerate()
            .filter(|(_, v)| v.cleanstop)
        {
            let key = service_key(&v.key);
            let Some((_, dests)) = actual.iter().find(|(s, _)| s.key == key) else {
                continue;
            };
            let vtext = reconcile::diff::service_text(&key);
            for (ri, r) in v.reals.iter().enumerate() {
                let rk = reconcile::desired::real_key(v, r);
                if dests.iter().any(|d| d.key == rk) {
                    changes.push(reconcile::Change {
                        op: crate::ipvs::Op::DelDest(key, rk),
                        kind: ChangeKind::PurgeReal,
                        virtual_service: vtext.clone(),
                        dest: Some(format!(
                            "{}:{}",
                            crate::config::bracketed(&rk.addr),
                            rk.port
                        )),
                        weight: 0,
                        virtual_index: Some(vi),
                        real_index: Some(ri),
                    });
                }
            }
            changes.push(reconcile::Change {
                op: crate::ipvs::Op::DelService(key),
                kind: ChangeKind::PurgeVirtual,
                virtual_service: vtext,
                dest: None,
                weight: 0,
                virtual_index: None,
                real_index: None,
            });
        }
        let applied = reconcile::apply(&mut self.backend, changes);
        for c in &applied.done {
            self.log.log(&c.log_line("stop"));
            self.alert(c, hooks);
        }
        self.record.netlink_errors += applied.failed.len() as u64;
        for (c, e) in &applied.failed {
            self.log
                .log(&format!("Failed to apply \"{}\": {e}", c.log_line("stop")));
        }
        self.sync
            .stop(&mut self.backend, config.global.cleanstop, &self.log);
    }
}

/// `%`, `|`, CR and LF as `%xx`, as upstream writes monitor lines.
fn escape_monitor(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' | '|' | '\r' | '\n' => out.push_str(&format!("%{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn member(v: &Virtual, r: &Real) -> Member {
    Member {
        virtual_key: v.key,
        real_addr: r.addr,
        real_port: r.port,
    }
}

/// The state of real `r` of virtual `v`.
fn state(health: &HealthTable, off_up: &FastSet<Member>, v: &Virtual, r: &Real) -> State {
    let m = member(v, r);
    match v.checktype {
        CheckType::Off if off_up.contains(&m) => State::Up,
        CheckType::Off => State::Down,
        _ => health
            .of_member(&m)
            .map_or(State::Unknown, |(_, h)| h.state()),
    }
}

/// Changes applied (and logged) together at most, whole services at a time
/// ([`reconcile::by_services`]): at start the first services have their
/// reals in the kernel after the first few netlink batches, not after
/// every service of the configuration (netlink sends 256 per datagram).
const APPLY_CHUNK: usize = 1024;

/// The IPVS table as the backend reads it: services and their dests.
type Table = Vec<(Service, Vec<Dest>)>;

/// The table by service key (see `Director::view`).
type View = FastMap<ServiceKey, (Service, Vec<Dest>)>;

fn view_of(table: Table) -> View {
    table.into_iter().map(|(s, d)| (s.key, (s, d))).collect()
}

/// Where each virtual service key is in the configuration.
fn index_of(config: &Config) -> FastMap<VirtualKey, Vec<usize>> {
    let mut index: FastMap<VirtualKey, Vec<usize>> = FastMap::default();
    for (i, v) in config.virtuals.iter().enumerate() {
        index.entry(v.key).or_default().push(i);
    }
    index
}

/// Keep the view of the kernel table in step with an applied change.
fn record(view: &mut View, op: &Op) {
    match op {
        Op::AddService(s) | Op::EditService(s) => {
            view.entry(s.key)
                .and_modify(|(old, _)| *old = s.clone())
                .or_insert_with(|| (s.clone(), Vec::new()));
        }
        Op::DelService(k) => {
            view.remove(k);
        }
        Op::AddDest(k, d) | Op::EditDest(k, d) => {
            if let Some((_, dests)) = view.get_mut(k) {
                match dests.iter_mut().find(|x| x.key == d.key) {
                    Some(x) => *x = d.clone(),
                    None => dests.push(d.clone()),
                }
            }
        }
        Op::DelDest(k, key) => {
            if let Some((_, dests)) = view.get_mut(k) {
                dests.retain(|x| x.key != *key);
            }
        }
    }
}

#[cfg(test)]
mod tests;
