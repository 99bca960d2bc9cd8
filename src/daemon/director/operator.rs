//! The operator's side of the director: overrides set through the control
//! socket (`drain`, `disable`, `weight`, until `enable`), kept in the state
//! file, and plans (what a reload or a start would apply now).
//!
//! Owns: which pairs a request names (and the close matches of a name that
//! is none), the log line of each change, writing the state file, putting
//! the state file's overrides back in force at start and dropping those of
//! pairs a reload no longer has, and running a reload or a start on a copy
//! of the director and of the kernel table to report its operations.
//!
//! Must not: compute a weight or write IPVS itself. An override is one
//! more input of the desired state ([`RealInput::operator`]); a change
//! marks the virtual services touched and lets the director's own pass
//! take the table there.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::check::pool::Member;
use crate::config::{Config, Real, Virtual};
use crate::control::protocol::{self, PairChange, Reply, Request, Target as ControlTarget};
use crate::control::state::{self as state_file, StateFile, Stored};
use crate::control::{Override, Peer};
use crate::ipvs::{IpvsBackend, MemoryIpvs, ServiceEntry};
use crate::reconcile::desired::RealInput;

use super::super::log::Logger;
use super::super::sync_daemons::SyncDaemons;
use super::{member, state, Director, Hooks, Message, NoHooks, Operated, Planned, Record};
use crate::check::health::State;

impl<B: IpvsBackend> Director<B> {
    /// Keep the operator's overrides in `path` (the state file), starting
    /// with `stored` (what it held; pairs the configuration does not have
    /// are dropped at start, with a log line).
    pub fn with_state(mut self, path: Option<PathBuf>, stored: Vec<Stored>) -> Self {
        self.state_file = path;
        self.stored = Some(stored);
        self
    }

    /// A copy of the director's state on `backend`: no state file, no
    /// side effects of its own (its hooks are the caller's), its journal
    /// kept. What a plan runs on.
    fn fork<C: IpvsBackend>(&self, backend: C) -> Director<C> {
        Director {
            config: self.config.clone(),
            backend,
            log: Arc::new(Logger::new(
                super::super::log::Sink::File("/dev/null".into()),
                "plan",
            )),
            next_plan: None,
            next_load_plan: None,
            health: self.health.clone(),
            loads: self.loads.clone(),
            slow: self.slow.clone(),
            now: self.now,
            off_up: self.off_up.clone(),
            last: self.last.clone(),
            owned: self.owned.clone(),
            fallback_active: self.fallback_active.clone(),
            failed_last_pass: self.failed_last_pass,
            view: self.view.clone(),
            dirty: self.dirty.clone(),
            index: self.index.clone(),
            phase: self.phase,
            status: self.status,
            reminders: self.reminders.clone(),
            record: Record::default(),
            born: self.born.clone(),
            overrides: self.overrides.clone(),
            state_file: None,
            stored: self.stored.clone(),
            journal: Vec::new(),
            journaling: true,
            watch_until: None,
            next_counters: self.next_counters,
            sync: SyncDaemons::new(&self.config),
        }
    }

    /// The operator's override of real `r` of `v`, and whether it decides
    /// the weight now (`false`: something stricter wins).
    pub fn operator_of(&self, v: &Virtual, r: &Real) -> Option<(Operated, bool)> {
        let m = member(v, r);
        let o = *self.overrides.get(&m)?;
        let state = state(&self.health, &self.off_up, v, r);
        let input = RealInput {
            up: state == State::Up,
            load: self.loads.load_of(&m),
            ramp: None,
            operator: Some(o.what),
        };
        let in_force = o.what == Override::Disable
            || outweighed(o.what, &input, self.health_reason(&m, state)).is_none();
        Some((o, in_force))
    }

    /// Every override, for a view of the director's state.
    pub fn overrides(&self) -> impl Iterator<Item = (&Member, &Operated)> {
        self.overrides.iter()
    }

    /// Put the overrides of the state file in force (at start): pairs the
    /// configuration does not have are dropped, each with a line.
    pub(super) fn restore_overrides(&mut self) {
        let Some(stored) = self.stored.take() else {
            return;
        };
        let pairs: HashMap<(String, String), Member> = self
            .config
            .virtuals
            .iter()
            .flat_map(|v| {
                v.reals
                    .iter()
                    .map(move |r| ((v.key.id(), r.id()), member(v, r)))
            })
            .collect();
        let mut dropped = false;
        for s in stored {
            let at = from_millis(s.at);
            match pairs.get(&(s.virtual_id.clone(), s.real.clone())) {
                Some(m) => {
                    self.log.log(&format!(
                        "Operator override in force: real server {} ({}) {} (by {})",
                        s.real,
                        s.virtual_id,
                        s.what.state(),
                        s.by
                    ));
                    self.overrides.insert(
                        m.clone(),
                        Operated {
                            what: s.what,
                            by: s.by,
                            at,
                        },
                    );
                }
                None => {
                    dropped = true;
                    self.log.log(&format!(
                        "Dropped operator override: real server {} ({}) {}: not in the configuration",
                        s.real,
                        s.virtual_id,
                        s.what.state()
                    ));
                }
            }
        }
        if dropped {
            self.persist();
        }
    }

    /// After a reload: drop the overrides of pairs the configuration no
    /// longer has, each with a line.
    pub(super) fn drop_unconfigured_overrides(&mut self) {
        let configured: HashSet<Member> = self
            .config
            .virtuals
            .iter()
            .flat_map(|v| v.reals.iter().map(move |r| member(v, r)))
            .collect();
        let gone: Vec<Member> = self
            .overrides
            .keys()
            .filter(|m| !configured.contains(*m))
            .cloned()
            .collect();
        for m in &gone {
            if let Some(o) = self.overrides.remove(m) {
                self.log.log(&format!(
                    "Dropped operator override: real server {} ({}) {}: no longer in the configuration",
                    m.real_id(),
                    m.virtual_key.id(),
                    o.what.state()
                ));
            }
        }
        if !gone.is_empty() {
            self.persist();
        }
    }

    /// Write the overrides to the state file (when there is one); a
    /// failure is logged, the overrides stay in force.
    fn persist(&self) {
        let Some(path) = &self.state_file else {
            return;
        };
        let mut overrides: Vec<Stored> = self
            .overrides
            .iter()
            .map(|(m, o)| Stored {
                virtual_id: m.virtual_key.id(),
                real: m.real_id(),
                what: o.what,
                by: o.by,
                at: to_millis(o.at),
            })
            .collect();
        overrides.sort_by(|a, b| (&a.virtual_id, &a.real).cmp(&(&b.virtual_id, &b.real)));
        let state = StateFile {
            version: state_file::VERSION,
            config: self.config.path.display().to_string(),
            overrides,
        };
        if let Err(e) = state_file::write(path, &state) {
            self.log.log(&format!(
                "Error writing the state file {}: {e} (the overrides hold until the daemon stops)",
                path.display()
            ));
        }
    }

    /// The pairs a request names: the real in every virtual service that
    /// has it, or in the one it names. `Err`: a reply that says why none.
    fn pairs_of(&self, t: &ControlTarget) -> Result<Vec<(usize, usize)>, Box<Reply>> {
        let config = &self.config;
        let wanted = |v: &Virtual| {
            t.virtual_service
                .as_deref()
                .is_none_or(|s| protocol::matches_virtual(&v.key, s))
        };
        let mut pairs = Vec::new();
        let mut seen: HashSet<Member> = HashSet::new();
        let mut elsewhere: Vec<String> = Vec::new();
        for (vi, v) in config.virtuals.iter().enumerate() {
            for (ri, r) in v.reals.iter().enumerate() {
                if r.id() != t.real {
                    continue;
                }
                if !wanted(v) {
                    elsewhere.push(v.key.id());
                } else if seen.insert(member(v, r)) {
                    pairs.push((vi, ri));
                }
            }
        }
        if !pairs.is_empty() {
            return Ok(pairs);
        }
        if let Some(s) = &t.virtual_service {
            if !config
                .virtuals
                .iter()
                .any(|v| protocol::matches_virtual(&v.key, s))
            {
                let ids: Vec<String> = config.virtuals.iter().map(|v| v.key.id()).collect();
                return Err(Box::new(Reply {
                    matches: protocol::close_matches(s, ids.iter().map(String::as_str)),
                    ..Reply::error(format!(
                        "no virtual service {s} in the running configuration"
                    ))
                }));
            }
            if !elsewhere.is_empty() {
                elsewhere.dedup();
                return Err(Box::new(Reply::error(format!(
                    "{} is not a real server of {s} (it is one of {})",
                    t.real,
                    elsewhere.join(", ")
                ))));
            }
        }
        let reals: Vec<String> = config
            .virtuals
            .iter()
            .filter(|v| wanted(v))
            .flat_map(|v| v.reals.iter().map(|r| r.id()))
            .collect();
        Err(Box::new(Reply {
            matches: protocol::close_matches(&t.real, reals.iter().map(String::as_str)),
            ..Reply::error(format!(
                "no real server {} in the running configuration{}",
                t.real,
                t.virtual_service
                    .as_deref()
                    .map_or(String::new(), |s| format!(" of {s}"))
            ))
        }))
    }

    /// An operator's change request: set or clear the override of every
    /// pair it names, one log line each (who, what, before -> after), one
    /// pass for the virtual services touched, the state file written.
    pub fn control(&mut self, request: &Request, peer: Peer, hooks: &mut dyn Hooks) -> Reply {
        let Some((target, to)) = request.setting() else {
            return Reply::error("not a change request");
        };
        if let Some(Override::Weight { weight }) = to {
            if weight > Override::MAX_WEIGHT {
                return Reply::error(format!(
                    "weight {weight} is out of range (0 to {})",
                    Override::MAX_WEIGHT
                ));
            }
        }
        let pairs = match self.pairs_of(&target) {
            Ok(p) => p,
            Err(reply) => return *reply,
        };
        let config = self.config.clone();
        let at = SystemTime::now();
        let action = match request {
            Request::Enable(_) => "enable",
            _ => to.map_or("enable", |o| o.action()),
        };
        let mut changes = Vec::new();
        let mut touched = false;
        for &(vi, ri) in &pairs {
            let (v, r) = (&config.virtuals[vi], &config.virtuals[vi].reals[ri]);
            let m = member(v, r);
            let before = self.overrides.get(&m).map(|o| o.what);
            let weight_before = self.weight_of(v, r).effective;
            if before != to {
                touched = true;
                match to {
                    Some(what) => {
                        self.overrides
                            .insert(m.clone(), Operated { what, by: peer, at });
                    }
                    None => {
                        self.overrides.remove(&m);
                    }
                }
                if let Some(vis) = self.index.get(&v.key) {
                    self.dirty.extend(vis);
                }
                self.log.log(&format!(
                    "Operator {action}: real server {} ({}) {} -> {} by {peer}",
                    r.id(),
                    v.key.id(),
                    crate::control::state_text(before),
                    crate::control::state_text(to),
                ));
            }
            changes.push(PairChange {
                virtual_id: v.key.id(),
                real: r.id(),
                before,
                after: to,
                weight_before,
                weight_after: None,
            });
        }
        if touched {
            self.record.operator_changed();
            self.reconcile_changed(hooks);
            self.persist();
        }
        for (c, &(vi, ri)) in changes.iter_mut().zip(&pairs) {
            c.weight_after = self
                .weight_of(&config.virtuals[vi], &config.virtuals[vi].reals[ri])
                .effective;
        }
        Reply {
            ok: true,
            at: Some(crate::status::snapshot::unix(at)),
            changes,
            ..Reply::default()
        }
    }

    /// The kernel operations a reload to `config` at `now` would apply:
    /// the reload itself, run on a copy of the director's state and of the
    /// kernel table (read once). Changes nothing.
    pub fn plan_reload_at(
        &mut self,
        config: Arc<Config>,
        now: Instant,
    ) -> crate::ipvs::Result<Vec<Planned>> {
        let mut copy = MemoryIpvs::new();
        *copy.table_mut() = self.backend.dump()?;
        let mut fork = self.fork(copy);
        // The reload message alone, as the director handles it: not the
        // batch's slow-start steps after it (a reload does not log those).
        fork.now = now;
        fork.handle_one(Message::Reload(config, None), &mut NoHooks);
        Ok(fork.journal)
    }
}

impl Director<MemoryIpvs> {
    /// The kernel operations a start of `config` at `now` would apply to
    /// `table`, with the overrides `stored` (the state file's): a start on
    /// a copy of the table, before any check result (the adoption rules).
    pub fn plan_start_at(
        config: Arc<Config>,
        table: Vec<ServiceEntry>,
        stored: Vec<Stored>,
        now: Instant,
    ) -> Vec<Planned> {
        let mut copy = MemoryIpvs::new();
        *copy.table_mut() = table;
        let log = Arc::new(Logger::new(
            super::super::log::Sink::File("/dev/null".into()),
            "plan",
        ));
        let mut d = Director::new(config, copy, log).with_state(None, stored);
        d.journaling = true;
        d.start_at(now, &mut NoHooks);
        d.journal
    }
}

/// A time as the state file keeps it: seconds since the epoch, to the
/// millisecond (so that a restart writes back what it read).
fn to_millis(t: SystemTime) -> f64 {
    let ms = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    ms as f64 / 1000.0
}

fn from_millis(secs: f64) -> SystemTime {
    let ms = (secs.max(0.0) * 1000.0).round();
    std::time::UNIX_EPOCH + Duration::from_millis(ms as u64)
}

/// What wins over an operator's `drain` or `weight` (given the real's
/// other inputs and why its health is not up), if anything: the stricter
/// wins.
pub(super) fn outweighed(o: Override, input: &RealInput, health: Option<String>) -> Option<String> {
    use crate::check::load::Admin;
    if let Some(h) = health {
        return Some(h);
    }
    if input.load.down {
        return Some("agent down".into());
    }
    match (input.load.admin, o) {
        (Admin::Maint, _) => Some("agent maint".into()),
        (Admin::Drain, Override::Weight { .. }) => Some("agent drain".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::{Dest, DestKey, Forward, Op, Service, ServiceKey};

    // The director's own test helpers: a configuration, a director on a
    // backend, a check result.
    use crate::daemon::director::tests::{cfg, director, result};

    /// `service real weight` of every destination, sorted.
    fn table<B: IpvsBackend>(b: &mut B) -> Vec<String> {
        let mut out: Vec<String> = b
            .services()
            .unwrap()
            .into_iter()
            .flat_map(|(s, ds)| {
                ds.into_iter().map(move |d| {
                    format!(
                        "{} {} {}",
                        crate::reconcile::plan::service_id(&s.key),
                        d.key,
                        d.weight
                    )
                })
            })
            .collect();
        out.sort();
        out
    }

    const PEER: Peer = Peer {
        uid: 0,
        pid: Some(7),
    };

    fn target(real: &str, virtual_service: Option<&str>) -> ControlTarget {
        ControlTarget {
            real: real.into(),
            virtual_service: virtual_service.map(Into::into),
        }
    }

    fn lines(log: &Logger) -> Vec<String> {
        log.lines.lock().unwrap().clone()
    }

    /// .21 is a real of both virtual services, .22 of the first only.
    const TWO: &str =
        "virtual=192.0.2.10:80\n\treal=192.0.2.21:80 masq 3\n\treal=192.0.2.22:80 masq 2\n\
        virtual=192.0.2.11:80\n\treal=192.0.2.21:80 gate 4\n";

    fn started(text: &str) -> (Director<MemoryIpvs>, Arc<Logger>, Arc<Config>) {
        let c = cfg(text);
        let (mut d, log) = director(c.clone(), MemoryIpvs::new());
        d.start(&mut NoHooks);
        for (vi, v) in c.virtuals.iter().enumerate() {
            for ri in 0..v.reals.len() {
                d.handle(result(&c, vi, ri, true), &mut NoHooks);
            }
        }
        (d, log, c)
    }

    #[test]
    fn drain_disable_weight_enable_follow_the_table_and_are_logged() {
        let (mut d, log, _) = started(TWO);
        let all = [
            "tcp:192.0.2.10:80 192.0.2.21:80 3",
            "tcp:192.0.2.10:80 192.0.2.22:80 2",
            "tcp:192.0.2.11:80 192.0.2.21:80 4",
        ];
        assert_eq!(table(d.backend()), all);

        // drain without a virtual: every virtual service that has the real.
        let r = d.control(
            &Request::Drain(target("192.0.2.21:80", None)),
            PEER,
            &mut NoHooks,
        );
        assert!(r.ok, "{r:?}");
        assert_eq!(r.changes.len(), 2);
        assert_eq!(
            (r.changes[0].weight_before, r.changes[0].weight_after),
            (Some(3), Some(0))
        );
        assert_eq!(
            table(d.backend()),
            [
                "tcp:192.0.2.10:80 192.0.2.21:80 0",
                "tcp:192.0.2.10:80 192.0.2.22:80 2",
                "tcp:192.0.2.11:80 192.0.2.21:80 0",
            ]
        );
        assert!(lines(&log).contains(
            &"Operator drain: real server 192.0.2.21:80 (tcp:192.0.2.10:80) health-driven -> \
              drained by uid 0 pid 7"
                .to_string()
        ));
        // disable narrowed to one virtual (in any of its forms).
        let r = d.control(
            &Request::Disable(target("192.0.2.21:80", Some("192.0.2.11:80"))),
            PEER,
            &mut NoHooks,
        );
        assert!(r.ok && r.changes.len() == 1, "{r:?}");
        assert_eq!(
            table(d.backend()),
            [
                "tcp:192.0.2.10:80 192.0.2.21:80 0",
                "tcp:192.0.2.10:80 192.0.2.22:80 2"
            ]
        );
        // A weight replaces the drain; enable gives it back to its health.
        let w = Request::Weight(protocol::WeightTarget {
            real: "192.0.2.21:80".into(),
            virtual_service: Some("tcp:192.0.2.10:80".into()),
            weight: 9,
        });
        assert!(d.control(&w, PEER, &mut NoHooks).ok);
        assert_eq!(table(d.backend())[0], "tcp:192.0.2.10:80 192.0.2.21:80 9");
        let status = d.status_lines().join("\n");
        assert!(
            status.contains(
                "  192.0.2.21:80\tup\tweight 3\teffective 9 (operator weight 9)\tkernel 9"
            ),
            "{status}"
        );
        assert!(
            status.contains(
                "  192.0.2.21:80\tup\tweight 4\teffective out (disabled by operator)\tkernel -"
            ),
            "{status}"
        );
        let snap = d.snapshot();
        let op = snap.virtuals[1].reals[0].operator.as_ref().unwrap();
        assert_eq!(
            (op.what, op.by, op.in_force),
            (Override::Disable, PEER, true)
        );
        // The same again: nothing changes, nothing is logged.
        let before = lines(&log).len();
        let r = d.control(&w, PEER, &mut NoHooks);
        assert!(r.ok && r.changes[0].before == r.changes[0].after);
        assert_eq!(lines(&log).len(), before);
        let r = d.control(
            &Request::Enable(target("192.0.2.21:80", None)),
            PEER,
            &mut NoHooks,
        );
        assert!(r.ok && r.changes.len() == 2, "{r:?}");
        assert_eq!(table(d.backend()), all);
        assert!(lines(&log).contains(
            &"Operator enable: real server 192.0.2.21:80 (tcp:192.0.2.11:80) disabled -> \
              health-driven by uid 0 pid 7"
                .to_string()
        ));
        assert!(d.snapshot().virtuals[0].reals[0].operator.is_none());
    }

    #[test]
    fn bad_requests_change_nothing_and_say_why() {
        let (mut d, _, _) = started(TWO);
        let before = table(d.backend());
        let r = d.control(
            &Request::Drain(target("192.0.2.12:80", None)),
            PEER,
            &mut NoHooks,
        );
        assert!(!r.ok);
        assert_eq!(
            r.error.as_deref(),
            Some("no real server 192.0.2.12:80 in the running configuration")
        );
        assert_eq!(r.matches, ["192.0.2.22:80", "192.0.2.21:80"]);
        let r = d.control(
            &Request::Drain(target("192.0.2.22:80", Some("192.0.2.11:80"))),
            PEER,
            &mut NoHooks,
        );
        assert_eq!(
            r.error.as_deref(),
            Some("192.0.2.22:80 is not a real server of 192.0.2.11:80 (it is one of tcp:192.0.2.10:80)")
        );
        let r = d.control(
            &Request::Drain(target("192.0.2.22:80", Some("192.0.2.19:80"))),
            PEER,
            &mut NoHooks,
        );
        assert!(r
            .error
            .unwrap()
            .contains("no virtual service 192.0.2.19:80"));
        let r = d.control(
            &Request::Weight(protocol::WeightTarget {
                real: "192.0.2.22:80".into(),
                virtual_service: None,
                weight: 65536,
            }),
            PEER,
            &mut NoHooks,
        );
        assert_eq!(
            r.error.as_deref(),
            Some("weight 65536 is out of range (0 to 65535)")
        );
        assert_eq!(table(d.backend()), before);
        assert_eq!(d.overrides().count(), 0);
    }

    #[test]
    fn overrides_survive_a_restart_and_a_reload_drops_those_of_gone_reals() {
        let dir = std::env::temp_dir().join(format!("ldrs-op-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("t.cf.state");
        let c = cfg(&format!("cleanstop=no\n{TWO}"));
        let (d, _) = director(c.clone(), MemoryIpvs::new());
        let mut d = d.with_state(Some(path.clone()), Vec::new());
        d.start(&mut NoHooks);
        for (vi, ri) in [(0, 0), (0, 1), (1, 0)] {
            d.handle(result(&c, vi, ri, true), &mut NoHooks);
        }
        let drain = Request::Drain(target("192.0.2.22:80", None));
        assert!(d.control(&drain, PEER, &mut NoHooks).ok);
        let off = Request::Disable(target("192.0.2.21:80", Some("tcp:192.0.2.11:80")));
        assert!(d.control(&off, PEER, &mut NoHooks).ok);
        let stored = match state_file::read(&path) {
            state_file::Read::Found(s) => s.overrides,
            other => panic!("{other:?}"),
        };
        assert_eq!(stored.len(), 2);
        assert_eq!(
            (stored[0].virtual_id.as_str(), stored[0].real.as_str()),
            ("tcp:192.0.2.10:80", "192.0.2.22:80")
        );
        d.handle(Message::Stop, &mut NoHooks);
        let kernel = std::mem::take(d.backend());
        let left = table(&mut kernel.clone());

        // A restart (cleanstop=no left the table): the overrides are back
        // before any check, the drained real stays at 0 and nothing flaps.
        let mut ghost = stored.clone();
        ghost.push(Stored {
            virtual_id: "tcp:192.0.2.99:80".into(),
            real: "192.0.2.21:80".into(),
            what: Override::Drain,
            by: PEER,
            at: 1.0,
        });
        let (d2, log2) = director(c.clone(), kernel);
        let mut d2 = d2.with_state(Some(path.clone()), ghost);
        d2.start(&mut NoHooks);
        assert_eq!(table(d2.backend()), left);
        assert_eq!(
            left,
            [
                "tcp:192.0.2.10:80 192.0.2.21:80 3",
                "tcp:192.0.2.10:80 192.0.2.22:80 0"
            ]
        );
        assert_eq!(d2.overrides().count(), 2);
        let l = lines(&log2);
        assert!(l.contains(&"Operator override in force: real server 192.0.2.22:80 (tcp:192.0.2.10:80) drained (by uid 0 pid 7)".to_string()), "{l:?}");
        assert!(l.contains(&"Dropped operator override: real server 192.0.2.21:80 (tcp:192.0.2.99:80) drained: not in the configuration".to_string()), "{l:?}");
        match state_file::read(&path) {
            state_file::Read::Found(s) => assert_eq!(s.overrides, stored),
            other => panic!("{other:?}"),
        }
        for (vi, ri) in [(0, 0), (0, 1), (1, 0)] {
            d2.handle(result(&c, vi, ri, true), &mut NoHooks);
        }
        assert_eq!(
            table(d2.backend()),
            [
                "tcp:192.0.2.10:80 192.0.2.21:80 3",
                "tcp:192.0.2.10:80 192.0.2.22:80 0"
            ]
        );

        // A reload without .22: its override goes, with a line, and the
        // file follows; the reload logs its operations.
        let c3 = cfg(
            "cleanstop=no\nvirtual=192.0.2.10:80\n\treal=192.0.2.21:80 masq 3\n\
             virtual=192.0.2.11:80\n\treal=192.0.2.21:80 gate 4\n",
        );
        d2.handle(Message::Reload(c3, None), &mut NoHooks);
        let l = lines(&log2);
        assert!(l.contains(&"Dropped operator override: real server 192.0.2.22:80 (tcp:192.0.2.10:80) drained: no longer in the configuration".to_string()), "{l:?}");
        assert!(
            l.contains(&"Reload: delete real 192.0.2.22:80 from tcp:192.0.2.10:80".to_string()),
            "{l:?}"
        );
        match state_file::read(&path) {
            state_file::Read::Found(s) => assert_eq!(s.overrides, stored[1..]),
            other => panic!("{other:?}"),
        }
        d2.handle(Message::Reload(d2.config.clone(), None), &mut NoHooks);
        assert_eq!(lines(&log2).last().unwrap(), "Reload: no kernel operations");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// maintenancedir and an override: the stricter wins, status says which.
    #[test]
    fn maintenance_and_overrides_the_stricter_wins() {
        let dir = std::env::temp_dir().join(format!("ldrs-op-maint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = format!(
            "maintenancedir={}\nvirtual=192.0.2.10:80\n\treal=192.0.2.21:80 masq 3\n",
            dir.display()
        );
        let (mut d, _, c) = started(&text);
        assert!(
            d.control(
                &Request::Drain(target("192.0.2.21:80", None)),
                PEER,
                &mut NoHooks
            )
            .ok
        );
        std::fs::write(dir.join("192.0.2.21:80"), "").unwrap();
        d.handle(result(&c, 0, 0, true), &mut NoHooks);
        assert!(table(d.backend()).is_empty(), "maintenance wins over drain");
        let s = d.status_lines().join("\n");
        assert!(
            s.contains("effective out (in maintenance, drained by operator (in maintenance wins))"),
            "{s}"
        );
        let snap = d.snapshot();
        assert!(
            !snap.virtuals[0].reals[0]
                .operator
                .as_ref()
                .unwrap()
                .in_force
        );
        // The file goes: the drain is in force again.
        std::fs::remove_file(dir.join("192.0.2.21:80")).unwrap();
        d.handle(result(&c, 0, 0, true), &mut NoHooks);
        assert_eq!(table(d.backend()), ["tcp:192.0.2.10:80 192.0.2.21:80 0"]);
        // disable wins over maintenance: in force, and says so first.
        std::fs::write(dir.join("192.0.2.21:80"), "").unwrap();
        assert!(
            d.control(
                &Request::Disable(target("192.0.2.21:80", None)),
                PEER,
                &mut NoHooks
            )
            .ok
        );
        d.handle(result(&c, 0, 0, true), &mut NoHooks);
        let s = d.status_lines().join("\n");
        assert!(
            s.contains("effective out (disabled by operator, in maintenance)"),
            "{s}"
        );
        assert!(
            d.snapshot().virtuals[0].reals[0]
                .operator
                .as_ref()
                .unwrap()
                .in_force
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A backend that records the operations applied to it.
    #[derive(Default)]
    struct Recording {
        inner: MemoryIpvs,
        ops: Vec<Op>,
    }

    impl IpvsBackend for Recording {
        fn dump(&mut self) -> crate::ipvs::Result<Vec<ServiceEntry>> {
            self.inner.dump()
        }
        fn apply(&mut self, ops: &[Op]) -> Vec<crate::ipvs::Result<()>> {
            self.ops.extend_from_slice(ops);
            self.inner.apply(ops)
        }
        fn flush(&mut self) -> crate::ipvs::Result<()> {
            self.inner.flush()
        }
        fn daemons(&mut self) -> crate::ipvs::Result<Vec<crate::ipvs::SyncDaemon>> {
            self.inner.daemons()
        }
        fn start_daemon(&mut self, d: &crate::ipvs::SyncDaemon) -> crate::ipvs::Result<()> {
            self.inner.start_daemon(d)
        }
        fn stop_daemon(&mut self, s: crate::ipvs::SyncState) -> crate::ipvs::Result<()> {
            self.inner.stop_daemon(s)
        }
    }

    /// xorshift64: the same cases on every run.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
        fn chance(&mut self, percent: usize) -> bool {
            self.below(100) < percent
        }
        fn pick<'a>(&mut self, of: &[&'a str]) -> &'a str {
            of[self.below(of.len())]
        }
    }

    /// A random configuration over a small pool of addresses (so that two
    /// of them overlap): virtual services by address and by mark, reals
    /// shared between them, quiescent or not, a fallback sometimes.
    fn random_config(g: &mut Rng) -> String {
        let mut text = String::new();
        if g.chance(30) {
            text.push_str("fallback=127.0.0.1:80 masq\n");
        }
        text.push_str(&format!("quiescent={}\n", g.pick(&["yes", "no"])));
        let mut vips = vec!["192.0.2.10:80", "192.0.2.11:80", "192.0.2.12:443", "7"];
        for _ in 0..1 + g.below(3) {
            let vip = vips.remove(g.below(vips.len()));
            text.push_str(&format!("virtual={vip}\n"));
            let mut reals = vec![
                "192.0.2.21:80",
                "192.0.2.22:80",
                "192.0.2.23:80",
                "192.0.2.21:8080",
            ];
            for _ in 0..1 + g.below(3) {
                let r = reals.remove(g.below(reals.len()));
                let fwd = g.pick(&["masq", "gate", "ipip"]);
                text.push_str(&format!("\treal={r} {fwd} {}\n", g.below(5)));
            }
            text.push_str(&format!("\tscheduler={}\n", g.pick(&["rr", "wrr", "wlc"])));
            if g.chance(30) {
                text.push_str("\tpersistent=300\n");
            }
            if g.chance(30) {
                text.push_str(&format!("\tquiescent={}\n", g.pick(&["yes", "no"])));
            }
        }
        text
    }

    /// The law: the operations a plan reports are the operations the
    /// reload then applies, over random configurations, health, operator
    /// overrides and kernel tables (drifted, with services not ours); and
    /// the plan leaves the kernel table as it was.
    #[test]
    fn a_plan_is_what_the_reload_then_applies() {
        let seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut g = Rng(seed);
        let mut nonempty = 0;
        for case in 0..300 {
            let (t1, t2) = (random_config(&mut g), random_config(&mut g));
            let c1 = cfg(&t1);
            let mut kernel = Recording::default();
            // Sometimes a service not ours (ipvsadm's), sometimes one of
            // the second configuration's already there.
            if g.chance(30) {
                let k = ServiceKey::tcp("203.0.113.5".parse().unwrap(), 25);
                kernel.inner.apply(&[Op::AddService(Service::new(k, "rr"))]);
            }
            if g.chance(30) {
                let k = ServiceKey::tcp("192.0.2.12".parse().unwrap(), 443);
                let d = Dest::new(
                    DestKey::new("192.0.2.22".parse().unwrap(), 80),
                    Forward::Route,
                )
                .weight(7);
                kernel
                    .inner
                    .apply(&[Op::AddService(Service::new(k, "wlc")), Op::AddDest(k, d)]);
            }
            let (mut d, _) = director(c1.clone(), kernel);
            d.start(&mut NoHooks);
            for (vi, v) in c1.virtuals.iter().enumerate() {
                for ri in 0..v.reals.len() {
                    if g.chance(80) {
                        d.handle(result(&c1, vi, ri, g.chance(70)), &mut NoHooks);
                    }
                }
            }
            for v in &c1.virtuals {
                for r in &v.reals {
                    let t = target(&r.id(), g.chance(50).then(|| v.key.id()).as_deref());
                    let req = match g.below(6) {
                        0 => Request::Drain(t),
                        1 => Request::Disable(t),
                        2 => Request::Weight(protocol::WeightTarget {
                            real: t.real,
                            virtual_service: t.virtual_service,
                            weight: g.below(4) as u32,
                        }),
                        _ => continue,
                    };
                    assert!(d.control(&req, PEER, &mut NoHooks).ok);
                }
            }
            // Drift: someone changed a weight or took a real out.
            if g.chance(30) {
                let entries = d.backend().inner.dump().unwrap();
                if let Some(e) = entries.iter().find(|e| !e.dests.is_empty()) {
                    let dest = e.dests[0].dest.clone();
                    let op = if g.chance(50) {
                        Op::DelDest(e.service.key, dest.key)
                    } else {
                        Op::EditDest(e.service.key, dest.clone().weight(dest.weight + 5))
                    };
                    d.backend().inner.apply(&[op]);
                }
            }
            let c2 = cfg(&t2);
            let now = d.now + Duration::from_secs(1);
            let before = d.backend().inner.dump().unwrap();
            d.backend().ops.clear();
            let plan = d.plan_reload_at(c2.clone(), now).unwrap();
            assert_eq!(d.backend().inner.dump().unwrap(), before, "case {case}");
            assert!(d.backend().ops.is_empty(), "a plan applied something");
            d.handle_batch_at(
                std::iter::once(Message::Reload(c2, None)),
                now,
                &mut NoHooks,
            );
            let planned: Vec<Op> = plan.iter().map(|p| p.op.clone()).collect();
            assert_eq!(
                planned,
                d.backend().ops,
                "case {case} (seed {seed:#x}):\n{t1}\n--- reloaded to ---\n{t2}\nplan: {:#?}",
                plan.iter().map(|p| &p.line).collect::<Vec<_>>()
            );
            nonempty += usize::from(!planned.is_empty());
        }
        // The law is not checked on empty plans only.
        assert!(nonempty > 100, "{nonempty} of 300 plans had operations");
    }

    #[test]
    fn a_start_plan_reads_the_state_file_and_adopts() {
        let c = cfg(
            "virtual=192.0.2.10:80\n\treal=192.0.2.21:80 masq 3\n\treal=192.0.2.22:80 masq 2\n",
        );
        let ops = |table, stored| -> Vec<String> {
            Director::plan_start_at(c.clone(), table, stored, Instant::now())
                .into_iter()
                .map(|p| p.line)
                .collect()
        };
        // An empty table: the service, no real before its first check.
        assert_eq!(
            ops(Vec::new(), Vec::new()),
            ["add service tcp:192.0.2.10:80 scheduler wrr"]
        );
        // A table left by a daemon that drained .21 (weight 0): kept as
        // it is with the state file's drain, a drift without it.
        let mut m = MemoryIpvs::new();
        let k = ServiceKey::tcp("192.0.2.10".parse().unwrap(), 80);
        let dest =
            |a: &str, w| Dest::new(DestKey::new(a.parse().unwrap(), 80), Forward::Masq).weight(w);
        m.apply(&[
            Op::AddService(Service::new(k, "wrr")),
            Op::AddDest(k, dest("192.0.2.21", 0)),
            Op::AddDest(k, dest("192.0.2.22", 2)),
        ]);
        let table = m.dump().unwrap();
        let drained = Stored {
            virtual_id: "tcp:192.0.2.10:80".into(),
            real: "192.0.2.21:80".into(),
            what: Override::Drain,
            by: PEER,
            at: 1.0,
        };
        assert_eq!(ops(table.clone(), vec![drained]), Vec::<String>::new());
        assert_eq!(
            ops(table, Vec::new()),
            ["delete real 192.0.2.21:80 from tcp:192.0.2.10:80"]
        );
    }
}
