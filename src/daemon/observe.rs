//! What the director records for those who watch it, besides what it needs
//! to direct: when each real last changed state and how often, the last
//! changes (a bounded ring), the kernel's counters of the last full table
//! read, netlink errors and reloads; and [`build`], which freezes all of
//! it with the director's own state into a [`Snapshot`].
//!
//! Owned by the director (a field of it, written on its thread only); it
//! must not do I/O, read the kernel or change anything the director
//! decides with. Costs a map entry per real that changed state and a few
//! counters per destination.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::check::health::{HealthTable, State as Health};
use crate::check::pool::Member;
use crate::check::Target;
use crate::config::{Config, Virtual};
use crate::fastmap::FastMap;
use crate::ipvs::{Dest, DestKey, ServiceEntry, ServiceKey};
use crate::reconcile::desired::{fallback_dest, real_key, service_key};
use crate::status::snapshot::{
    self, unix, Change, LastCheck, OperatorStatus, RealStatus, Reloads, Role, Snapshot, State,
    Traffic, VirtualStatus, RECENT_CHANGES,
};

use super::alert::DaemonStatus;
use super::director::{LastResult, Operated, RealWeight};

/// See the module doc.
#[derive(Debug)]
pub struct Record {
    started: SystemTime,
    /// Per pair: when it last changed state, and how many times it did.
    changed: FastMap<Member, (SystemTime, u64)>,
    /// Newest first, at most [`RECENT_CHANGES`].
    recent: VecDeque<Change>,
    /// The counters of the last full read, by service: the service's and
    /// each destination's.
    traffic: HashMap<ServiceKey, (Traffic, Vec<(DestKey, Traffic)>)>,
    read_at: Option<SystemTime>,
    pub(super) netlink_errors: u64,
    reloads: Reloads,
    generation: u64,
    changes: u64,
}

impl Default for Record {
    fn default() -> Self {
        Record {
            started: SystemTime::now(),
            changed: FastMap::default(),
            recent: VecDeque::new(),
            traffic: HashMap::new(),
            read_at: None,
            netlink_errors: 0,
            reloads: Reloads::default(),
            generation: 0,
            changes: 0,
        }
    }
}

impl Record {
    /// Pair `m` changed to `up` (or down), because of `reason`.
    pub fn state_changed(&mut self, m: &Member, up: bool, reason: String) {
        let now = SystemTime::now();
        self.changes += 1;
        let e = self.changed.entry(m.clone()).or_insert((now, 0));
        *e = (now, e.1 + 1);
        if self.recent.len() == RECENT_CHANGES {
            self.recent.pop_back();
        }
        self.recent.push_front(Change {
            at: unix(now),
            virtual_id: m.virtual_key.id(),
            real: m.real_id(),
            state: if up { State::Up } else { State::Down },
            reason,
        });
    }

    /// Keep the counters of a full read of the table.
    pub fn table_read(&mut self, table: &[ServiceEntry]) {
        self.read_at = Some(SystemTime::now());
        self.traffic = table
            .iter()
            .map(|e| {
                let s = &e.stats;
                let service = Traffic {
                    connections: s.conns,
                    packets_in: s.inpkts,
                    packets_out: s.outpkts,
                    bytes_in: s.inbytes,
                    bytes_out: s.outbytes,
                    active_connections: None,
                    inactive_connections: None,
                };
                let dests = e
                    .dests
                    .iter()
                    .map(|d| {
                        let s = &d.stats;
                        let t = Traffic {
                            connections: s.conns,
                            packets_in: s.inpkts,
                            packets_out: s.outpkts,
                            bytes_in: s.inbytes,
                            bytes_out: s.outbytes,
                            active_connections: Some(d.conns.active),
                            inactive_connections: Some(d.conns.inactive),
                        };
                        (d.dest.key, t)
                    })
                    .collect();
                (e.service.key, (service, dests))
            })
            .collect();
    }

    /// A reload: put in force (`ok`) or refused for errors.
    pub fn reloaded(&mut self, ok: bool) {
        if ok {
            self.reloads.ok += 1;
        } else {
            self.reloads.failed += 1;
        }
        self.reloads.last = Some(unix(SystemTime::now()));
        self.reloads.last_ok = Some(ok);
        // What the status shows changed (virtuals, reals, the reload's
        // outcome): worth a snapshot soon, as a state change is, now that
        // a costly snapshot is otherwise taken less often than every second.
        self.changes += 1;
    }

    /// An operator changed an override: worth a snapshot soon, as a state
    /// change is.
    pub fn operator_changed(&mut self) {
        self.changes += 1;
    }

    /// State changes (and operator changes and reloads) recorded since
    /// start: the director takes a snapshot soon after each.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Forget pairs the configuration no longer has (after a reload).
    pub fn retain(&mut self, keep: impl Fn(&Member) -> bool) {
        self.changed.retain(|m, _| keep(m));
    }
}

/// What [`build`] reads of the director.
pub struct Parts<'a> {
    pub config: &'a Config,
    pub health: &'a HealthTable,
    pub last: &'a FastMap<Arc<Target>, LastResult>,
    /// The director's view of the kernel table (`None`: unknown).
    pub view: Option<&'a FastMap<ServiceKey, (crate::ipvs::Service, Vec<Dest>)>>,
    pub fallback_active: &'a HashMap<ServiceKey, bool>,
    pub status: DaemonStatus,
    /// The health of a real, as the director decides it.
    pub state: &'a dyn Fn(&Virtual, &crate::config::Real) -> Health,
    /// The weight the director gives a real, and why.
    pub weight: &'a dyn Fn(&Virtual, &crate::config::Real) -> RealWeight,
    /// The operator's override of a real, and whether it is in force.
    pub operator: &'a OperatorOf<'a>,
}

/// The operator's override of a real, and whether it decides the weight.
pub type OperatorOf<'a> = dyn Fn(&Virtual, &crate::config::Real) -> Option<(Operated, bool)> + 'a;

/// Freeze the director's state and `record` into a snapshot.
pub fn build(p: &Parts, record: &mut Record) -> Snapshot {
    record.generation += 1;
    let (now, now_wall) = (Instant::now(), SystemTime::now());
    // A monotonic instant as wall-clock seconds.
    let wall = |at: Instant| {
        let t = unix(now_wall) - now.saturating_duration_since(at).as_secs_f64();
        (t * 1000.0).round() / 1000.0
    };
    let virtuals = p
        .config
        .virtuals
        .iter()
        .map(|v| {
            let key = service_key(&v.key);
            let dests = p.view.and_then(|t| t.get(&key)).map(|(_, d)| d);
            let traffic = record.traffic.get(&key);
            let weight_of =
                |k: &DestKey| dests.and_then(|d| d.iter().find(|d| d.key == *k).map(|d| d.weight));
            let traffic_of = |k: &DestKey| {
                traffic.and_then(|(_, d)| d.iter().find(|(dk, _)| dk == k).map(|(_, t)| *t))
            };
            let fallback_active = p.fallback_active.get(&key).copied().unwrap_or(false);
            let mut reals: Vec<RealStatus> = v
                .reals
                .iter()
                .map(|r| {
                    let m = Member {
                        virtual_key: v.key,
                        real_addr: r.addr,
                        real_port: r.port,
                    };
                    let rk = real_key(v, r);
                    let kernel_weight = weight_of(&rk);
                    let state = match ((p.state)(v, r), kernel_weight) {
                        (Health::Up, _) => State::Up,
                        (_, Some(0)) => State::Quiescent,
                        (Health::Down, _) => State::Down,
                        (Health::Unknown, _) => State::Unknown,
                    };
                    let last_check =
                        p.health
                            .of_member(&m)
                            .and_then(|(t, _)| p.last.get(t))
                            .map(|l| LastCheck {
                                ok: l.result.is_ok() && !l.maintenance,
                                result: match (&l.result, &p.config.global.maintenancedir) {
                                    (_, Some(dir)) if l.maintenance => {
                                        format!("in maintenance: a file in {}", dir.display())
                                    }
                                    (Ok(d), _) if d.is_empty() => "ok".into(),
                                    (Ok(d), _) => d.clone(),
                                    (Err(e), _) => e.reason(l.latency),
                                },
                                maintenance: l.maintenance,
                                latency: l.latency.as_secs_f64(),
                                at: wall(l.at),
                            });
                    let (since, transitions) = record
                        .changed
                        .get(&m)
                        .map_or((None, 0), |&(t, n)| (Some(unix(t)), n));
                    let w = (p.weight)(v, r);
                    let operator = (p.operator)(v, r).map(|(o, in_force)| OperatorStatus {
                        what: o.what,
                        by: o.by,
                        at: unix(o.at),
                        in_force,
                    });
                    RealStatus {
                        real: r.id(),
                        role: Role::Real,
                        forward: r.forward.into(),
                        state,
                        weight: r.weight,
                        effective_weight: w.effective,
                        weight_reasons: w.reasons,
                        operator,
                        kernel_weight,
                        last_check,
                        since,
                        transitions,
                        ipvs: traffic_of(&rk),
                    }
                })
                .collect();
            if let (Some(f), Some(dest)) = (&v.fallback, fallback_dest(v)) {
                reals.push(RealStatus {
                    real: format!("{}:{}", crate::config::bracketed(&f.addr), dest.key.port),
                    role: Role::Fallback,
                    forward: f.forward.into(),
                    state: if fallback_active {
                        State::Fallback
                    } else {
                        State::Standby
                    },
                    weight: 1,
                    effective_weight: fallback_active.then_some(1),
                    weight_reasons: Vec::new(),
                    operator: None,
                    kernel_weight: weight_of(&dest.key),
                    last_check: None,
                    since: None,
                    transitions: 0,
                    ipvs: traffic_of(&dest.key),
                });
            }
            VirtualStatus {
                id: v.key.id(),
                service: v.key.service(),
                protocol: match v.key {
                    crate::config::VirtualKey::Addr { protocol, .. } => protocol.as_str().into(),
                    crate::config::VirtualKey::Fwmark { .. } => "fwm".into(),
                },
                scheduler: v.scheduler.clone(),
                in_kernel: dests.is_some(),
                fallback_active,
                ipvs: traffic.map(|(t, _)| *t),
                reals,
            }
        })
        .collect();
    Snapshot {
        schema: snapshot::SCHEMA,
        taken: unix(now_wall),
        daemon: snapshot::Daemon {
            pid: std::process::id(),
            config: p.config.path.display().to_string(),
            version: concat!("ldirectord-rs ", env!("CARGO_PKG_VERSION")).into(),
            started: unix(record.started),
            state: p.status.as_str().into(),
            reloads: record.reloads.clone(),
            netlink_errors: record.netlink_errors,
            ipvs_read: record.read_at.map(unix),
        },
        virtuals,
        // The director's sync daemons are its own part (see
        // Director::snapshot).
        sync_daemons: Vec::new(),
        recent_changes: record.recent.iter().cloned().collect(),
        generation: record.generation,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::check::CheckError;
    use crate::daemon::director::{Director, Message, NoHooks};
    use crate::daemon::log::{Logger, Sink};
    use crate::ipvs::MemoryIpvs;

    fn result(c: &Config, vi: usize, ri: usize, ok: bool) -> Message {
        let v = &c.virtuals[vi];
        Message::Result {
            target: Arc::new(Target::new(v, &v.reals[ri])),
            result: if ok {
                Ok("HTTP/1.1 200 OK".into())
            } else {
                Err(CheckError::Refused)
            },
            latency: Duration::from_millis(3),
        }
    }

    #[test]
    fn the_snapshot_shows_every_state_weight_and_change() {
        let c = Arc::new(crate::config::test_config(
            "fallback=127.0.0.1:80\n\
             virtual=192.0.2.10:80\n\treal=192.0.2.21:80 masq 3\n\treal=192.0.2.22:80 masq 2\n\
             \tquiescent=yes\n\
             virtual=192.0.2.11:80\n\treal=192.0.2.31:80 masq\n",
        ));
        let log = Arc::new(Logger::new(Sink::Stderr, "t"));
        let mut d = Director::new(c.clone(), MemoryIpvs::new(), log);
        d.start(&mut NoHooks);
        for m in [
            result(&c, 1, 0, false),
            result(&c, 0, 0, true),
            result(&c, 0, 1, true),
            result(&c, 0, 1, false),
            Message::ReloadFailed,
        ] {
            d.handle(m, &mut NoHooks);
        }
        let s = d.snapshot();
        assert_eq!(s.schema, snapshot::SCHEMA);
        let states: Vec<(&str, State, Option<u32>)> = s
            .virtuals
            .iter()
            .flat_map(|v| &v.reals)
            .map(|r| (r.real.as_str(), r.state, r.kernel_weight))
            .collect();
        assert_eq!(
            states,
            [
                ("192.0.2.21:80", State::Up, Some(3)),
                ("192.0.2.22:80", State::Quiescent, Some(0)),
                ("127.0.0.1:80", State::Standby, None),
                ("192.0.2.31:80", State::Down, None),
                ("127.0.0.1:80", State::Fallback, Some(1)),
            ]
        );
        let v = &s.virtuals[0];
        assert!(v.in_kernel && !v.fallback_active && s.virtuals[1].fallback_active);
        let q = &v.reals[1];
        assert_eq!(q.transitions, 2);
        assert!(q.since.is_some());
        let last = q.last_check.as_ref().unwrap();
        assert_eq!(
            (last.ok, last.result.as_str()),
            (false, "Connection refused")
        );
        assert!((last.latency - 0.003).abs() < 1e-9);
        assert_eq!(s.virtuals[1].reals[1].since, None, "the fallback's");
        // Newest first.
        let changes: Vec<(&str, State, &str)> = s
            .recent_changes
            .iter()
            .map(|c| (c.real.as_str(), c.state, c.reason.as_str()))
            .collect();
        assert_eq!(
            changes,
            [
                ("192.0.2.22:80", State::Down, "Connection refused"),
                ("192.0.2.22:80", State::Up, "HTTP/1.1 200 OK"),
                ("192.0.2.21:80", State::Up, "HTTP/1.1 200 OK"),
                ("192.0.2.31:80", State::Down, "Connection refused"),
            ]
        );
        assert_eq!(s.recent_changes[0].virtual_id, "tcp:192.0.2.10:80");
        assert_eq!((s.daemon.reloads.failed, s.daemon.reloads.ok), (1, 0));
        assert_eq!(s.daemon.reloads.last_ok, Some(false));
        assert_eq!(s.daemon.netlink_errors, 0);
        assert!(s.daemon.ipvs_read.is_some());
        // The JSON reads back as the same snapshot (but its generation).
        let json = serde_json::to_string(&s).unwrap();
        let back: Snapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(
            back,
            Snapshot {
                generation: 0,
                ..s.clone()
            }
        );
        assert_eq!(d.snapshot().generation, s.generation + 1);
    }

    #[test]
    fn the_ring_of_changes_is_bounded() {
        let mut r = Record::default();
        let m = Member {
            virtual_key: crate::config::VirtualKey::Fwmark {
                family: crate::config::Family::V4,
                mark: 1,
            },
            real_addr: "192.0.2.1".parse().unwrap(),
            real_port: 0,
        };
        for i in 0..(RECENT_CHANGES + 10) {
            r.state_changed(&m, i % 2 == 0, format!("{i}"));
        }
        assert_eq!(r.recent.len(), RECENT_CHANGES);
        assert_eq!(r.recent[0].reason, format!("{}", RECENT_CHANGES + 9));
        assert_eq!(r.changes(), (RECENT_CHANGES + 10) as u64);
        assert_eq!(r.changed[&m].1, (RECENT_CHANGES + 10) as u64);
    }
}
