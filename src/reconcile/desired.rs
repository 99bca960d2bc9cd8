//! (configuration, per-real inputs) → [`Desired`]: the services and
//! destinations the kernel table should hold for the virtual services we
//! manage, and the one place where a real's kernel weight is computed
//! ([`weigh`]), so that every pass (a check result, a load answer, a
//! slow-start step, drift repair, reload, adoption) sets the same weight.
//!
//! Policy, as upstream ldirectord (reference §f.3–f.5):
//! - a real that is up is present with its configured weight, thresholds and
//!   forwarding method;
//! - a real that is down is absent, or with `quiescent=yes` present with
//!   weight 0. A quiesced real that is missing from the kernel table (an
//!   operator removed it) is added back with weight 0 only with
//!   `readdquiescent=yes`, so it is [`Presence::IfPresent`] otherwise;
//! - while no real of a virtual is up, its fallback server (weight 1,
//!   thresholds 0) is present; it is never quiesced;
//! - `syncdaemon=` (extension) asks for a connection-sync daemon per role
//!   ([`sync_daemons`]).
//!
//! Extensions (ldirectord-rs), all through [`RealInput`]:
//! - a load monitor scales the weight (`75%`), sets it (`weight:N`,
//!   nanny's formula), drains the real (weight 0, it stays: established
//!   connections and persistence go on), puts it in maintenance or down
//!   (out, exactly as a down real: quiescent and readdquiescent apply), or
//!   sets its upper connection threshold (`maxconn:N`);
//! - slow start takes the weight from 1 to that weight over `slowstart`
//!   seconds, in whole-second steps;
//! - a drained real, or one whose weight is 0 by its monitor, does not
//!   count as up for the fallback server (it takes no new connections);
//! - an operator's override ([`crate::control::Override`], `ldirectord
//!   drain|disable|weight`): `disable` takes the real out of the table
//!   (even with `quiescent=yes`), `drain` sets weight 0 (it stays), `weight
//!   N` replaces the configured weight × its monitor. The stricter wins:
//!   disable > down or in maintenance (an agent's `maint`/`down` too) >
//!   drain (an agent's `drain` too) > weight.
//!
//! Pure: no I/O, no clock (the ramp's elapsed time is an input).

use crate::check::load::{Admin, Load, LoadWeight};
use crate::config::{self, Config, Real, Virtual, VirtualKey};
use crate::control::Override;
use crate::ipvs::{
    self, Dest, DestKey, Netmask, Service, ServiceFlags, ServiceKey, SyncDaemon, SyncState,
};

/// What a destination is to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `virtual.reals[index]`.
    Real(usize),
    Fallback,
}

/// Whether a destination must exist, or is only corrected when it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Required,
    /// Edit it if present, never add it (a quiesced real without
    /// `readdquiescent`).
    IfPresent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredDest {
    /// Normalised to the key the kernel stores (DR/TUN take the VIP port).
    pub dest: Dest,
    pub role: Role,
    pub presence: Presence,
    /// In service (up, perhaps drained), as opposed to quiesced because
    /// down; the fallback is in service while present.
    pub in_service: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredService {
    /// Index in `Config::virtuals`.
    pub virtual_index: usize,
    pub service: Service,
    pub dests: Vec<DesiredDest>,
    /// No real is up: the fallback server (if any) is in use.
    pub fallback_active: bool,
}

/// The table we want for the services the configuration names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Desired {
    pub services: Vec<DesiredService>,
}

/// Everything the desired state needs to know of one real server of one
/// virtual service besides the configuration. The director builds it on
/// every pass from its health table, its load table, its slow-start
/// clocks and the operator's overrides; a new input is a new field here
/// and a new step in [`weigh`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RealInput {
    /// The health check says up (or `checktype=on`, or adopted).
    pub up: bool,
    /// What its load monitor says ([`Load::default`] without one).
    pub load: Load,
    /// Slow start in progress.
    pub ramp: Option<Ramp>,
    /// What an operator said (`ldirectord drain|disable|weight`), until
    /// `enable`.
    pub operator: Option<Override>,
}

/// A real that is up, with nothing else to say (no monitor, no ramp).
impl From<bool> for RealInput {
    fn from(up: bool) -> RealInput {
        RealInput {
            up,
            ..RealInput::default()
        }
    }
}

/// Slow start: `elapsed` whole seconds of `over` (> 0) since the real came
/// back into service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ramp {
    pub elapsed: u32,
    pub over: u32,
}

/// One real's weight, as [`weigh`] computes it for the table and for
/// `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weighing {
    /// The kernel weight; `None`: out of service, as a down real (whether
    /// it is then absent or quiesced at 0 is quiescent's business).
    pub weight: Option<u32>,
    /// The weight before slow start: what the ramp climbs to.
    pub target: u32,
    /// Its upper connection threshold (`u:N`, or the agent's maxconn).
    pub upper: u32,
    /// Disabled by an operator: absent from the table, whatever
    /// `quiescent` says.
    pub removed: bool,
}

/// The largest weight a monitor can ask for (that of `real=`).
pub const MAX_WEIGHT: u32 = crate::check::load::agent::MAX_WEIGHT;

/// The kernel weight of real `r` given `input`: configured weight × what
/// the monitor says (or the operator's weight) × slow start, in that
/// order; the stricter of the operator and the rest wins.
///
/// | input                              | weight                          |
/// |------------------------------------|---------------------------------|
/// | operator disable                   | out, absent even if quiescent   |
/// | down, agent down, agent maint      | out                             |
/// | operator drain, agent drain        | 0 (stays in the table)          |
/// | operator weight N                  | N (instead of all below)        |
/// | `N%`                               | ⌊W × N / 100⌋ (HAProxy's), ≤ 65535 |
/// | `weight:N`, nanny's formula        | N                               |
/// | nothing                            | W                               |
/// | slow start, t of S seconds         | 1 + ⌊(target − 1) × t / S⌋      |
pub fn weigh(r: &Real, input: &RealInput) -> Weighing {
    let load = &input.load;
    let upper = load.maxconn.unwrap_or(r.upper);
    let target = match (input.operator, load.weight) {
        (Some(Override::Weight { weight }), _) => weight.min(MAX_WEIGHT),
        (_, None) => r.weight,
        (_, Some(LoadWeight::Absolute(w))) => w.min(MAX_WEIGHT),
        (_, Some(LoadWeight::Percent(p))) => {
            (u64::from(r.weight) * u64::from(p) / 100).min(u64::from(MAX_WEIGHT)) as u32
        }
    };
    let target = if load.admin == Admin::Drain || input.operator == Some(Override::Drain) {
        0
    } else {
        target
    };
    let removed = input.operator == Some(Override::Disable);
    if removed || !input.up || load.down || load.admin == Admin::Maint {
        return Weighing {
            weight: None,
            target,
            upper,
            removed,
        };
    }
    let weight = match input.ramp {
        Some(Ramp { elapsed, over }) if over > 0 && elapsed < over && target > 1 => {
            1 + (u64::from(target - 1) * u64::from(elapsed) / u64::from(over)) as u32
        }
        _ => target,
    };
    Weighing {
        weight: Some(weight),
        target,
        upper,
        removed: false,
    }
}

/// The desired table for `config`, given each real's input (or just
/// whether it is up: `|_, r| true`).
pub fn desired<I: Into<RealInput>>(
    config: &Config,
    mut input: impl FnMut(&Virtual, &Real) -> I,
) -> Desired {
    desired_of(config, |_| true, |_| false, |v, _, r| input(v, r).into())
}

/// The desired table of the virtual services whose index `include`s (the
/// ones a batch of results touched), given `input(virtual, real index,
/// real)`.
///
/// `hold_fallback(index)`: the virtual service does not take its fallback
/// server yet, although no real is up (the director holds it back while
/// the first checks of its reals are still out).
pub fn desired_of(
    config: &Config,
    include: impl Fn(usize) -> bool,
    hold_fallback: impl Fn(usize) -> bool,
    mut input: impl FnMut(&Virtual, usize, &Real) -> RealInput,
) -> Desired {
    let readd = config.global.readdquiescent;
    let services = config
        .virtuals
        .iter()
        .enumerate()
        .filter(|(i, _)| include(*i))
        .map(|(i, v)| {
            let service = service_of(v);
            let key = service.key;
            let mut dests: Vec<DesiredDest> = Vec::new();
            let mut any_up = false;
            for (ri, r) in v.reals.iter().enumerate() {
                let w = weigh(r, &input(v, ri, r));
                // Upstream counts a real configured at weight 0 as up; a
                // real at 0 by its monitor takes no new connections.
                any_up |= w.weight.is_some_and(|w| w > 0 || r.weight == 0);
                let (weight, presence) = match (w.weight, v.quiescent) {
                    _ if w.removed => continue,
                    (Some(w), _) => (w, Presence::Required),
                    (None, true) if readd => (0, Presence::Required),
                    (None, true) => (0, Presence::IfPresent),
                    (None, false) => continue,
                };
                let dest = dest_of(r.addr, r.port, r.forward, weight, w.upper, r.lower)
                    .normalized_for(&key);
                // Duplicate real lines (upstream accepts them): first wins.
                if dests.iter().all(|d| d.dest.key != dest.key) {
                    dests.push(DesiredDest {
                        dest,
                        role: Role::Real(ri),
                        presence,
                        in_service: w.weight.is_some(),
                    });
                }
            }
            let fallback_active = !any_up && !hold_fallback(i);
            if fallback_active {
                if let Some(dest) = fallback_dest(v) {
                    if dests.iter().all(|d| d.dest.key != dest.key) {
                        dests.push(DesiredDest {
                            dest,
                            role: Role::Fallback,
                            presence: Presence::Required,
                            in_service: true,
                        });
                    }
                }
            }
            DesiredService {
                virtual_index: i,
                service,
                dests,
                fallback_active,
            }
        })
        .collect();
    Desired { services }
}

/// The connection-sync daemons `syncdaemon=` asks for: a master, a backup,
/// or both (the same settings for each), master first. Options left out
/// stay unset: the kernel picks its defaults.
pub fn sync_daemons(config: &Config) -> Vec<SyncDaemon> {
    let Some(c) = &config.global.syncdaemon else {
        return Vec::new();
    };
    let roles: &[SyncState] = match c.role {
        config::SyncRole::Master => &[SyncState::Master],
        config::SyncRole::Backup => &[SyncState::Backup],
        config::SyncRole::Both => &[SyncState::Master, SyncState::Backup],
    };
    roles
        .iter()
        .map(|&state| SyncDaemon {
            sync_maxlen: c.maxlen,
            mcast_group: c.group,
            mcast_port: c.port,
            mcast_ttl: c.ttl,
            ..SyncDaemon::new(state, &c.interface, c.syncid.map_or(0, u32::from))
        })
        .collect()
}

/// The IPVS service key of a virtual service.
pub fn service_key(key: &VirtualKey) -> ServiceKey {
    match *key {
        VirtualKey::Addr {
            protocol,
            addr,
            port,
        } => match protocol {
            config::Protocol::Tcp => ServiceKey::tcp(addr, port),
            config::Protocol::Udp => ServiceKey::udp(addr, port),
        },
        VirtualKey::Fwmark { family, mark } => ServiceKey::fwmark(
            match family {
                config::Family::V4 => ipvs::Family::Inet,
                config::Family::V6 => ipvs::Family::Inet6,
            },
            mark,
        ),
    }
}

/// The IPVS service of a virtual (upstream `ld_setup`'s ipvsadm flags).
pub fn service_of(v: &Virtual) -> Service {
    let key = service_key(&v.key);
    let mut s = Service::new(key, &v.scheduler);
    if let Some(timeout) = v.persistent {
        s = s.persistent(timeout);
        // ipvsadm -M is only given together with -p.
        if let Some(m) = v.netmask {
            s = s.netmask(match m {
                config::Netmask::V4(m) => Netmask::V4(m),
                config::Netmask::V6Prefix(p) => Netmask::V6(u32::from(p)),
            });
        }
    }
    if v.ops {
        s = s.flags(ServiceFlags::ONEPACKET);
    }
    if let Some(flags) = &v.schedflags {
        for f in flags.split(',') {
            s = s.flags(match f {
                "sh-fallback" | "mh-fallback" | "flag-1" => ServiceFlags::SCHED1,
                "sh-port" | "mh-port" | "flag-2" => ServiceFlags::SCHED2,
                "flag-3" => ServiceFlags::SCHED3,
                // The parser rejects anything else.
                _ => ServiceFlags::empty(),
            });
        }
    }
    s
}

/// The IPVS forwarding method of a config forwarding method.
pub fn forward_of(f: config::Forward) -> ipvs::Forward {
    match f {
        config::Forward::Gate => ipvs::Forward::Route,
        config::Forward::Masq => ipvs::Forward::Masq,
        config::Forward::Ipip => ipvs::Forward::Tunnel,
    }
}

fn dest_of(
    addr: std::net::IpAddr,
    port: u16,
    forward: config::Forward,
    weight: u32,
    upper: u32,
    lower: u32,
) -> Dest {
    Dest::new(DestKey::new(addr, port), forward_of(forward))
        .weight(weight)
        .thresholds(upper, lower)
}

/// The fallback server of `v` as the kernel will hold it (weight 1, no
/// thresholds), if `v` has one.
pub fn fallback_dest(v: &Virtual) -> Option<Dest> {
    let f = v.fallback.as_ref()?;
    let port = f.port.unwrap_or(v.key.port());
    Some(dest_of(f.addr, port, f.forward, 1, 0, 0).normalized_for(&service_key(&v.key)))
}

/// The kernel key of the fallback server of `v`, if it has one.
pub fn fallback_key(v: &Virtual) -> Option<DestKey> {
    fallback_dest(v).map(|d| d.key)
}

/// The kernel key of `real` in virtual `v` (DR/TUN reals take the VIP port).
pub fn real_key(v: &Virtual, r: &Real) -> DestKey {
    dest_of(r.addr, r.port, r.forward, r.weight, r.upper, r.lower)
        .normalized_for(&service_key(&v.key))
        .key
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::check::load::{Admin, Load, LoadWeight};
    use crate::config::test_config as cfg;

    #[test]
    fn up_real_at_weight_down_real_absent_or_quiesced() {
        let c = cfg(
            "virtual=192.0.2.1:80\n\treal=192.0.2.11:80 masq 3\n\treal=192.0.2.12:8080 gate 2\n",
        );
        let d = desired(&c, |_, r| r.weight == 3);
        let s = &d.services[0];
        assert_eq!(s.dests.len(), 1);
        assert_eq!(s.dests[0].dest.weight, 3);
        assert!(!s.fallback_active);

        let c = cfg("quiescent=yes\nvirtual=192.0.2.1:80\n\treal=192.0.2.11:80 masq 3\n\treal=192.0.2.12:8080 gate 2\n");
        let d = desired(&c, |_, r| r.weight == 3);
        let q = &d.services[0].dests[1];
        // DR takes the virtual's port.
        assert_eq!(q.dest.key, DestKey::new("192.0.2.12".parse().unwrap(), 80));
        assert_eq!((q.dest.weight, q.presence), (0, Presence::IfPresent));
    }

    #[test]
    fn fallback_only_while_no_real_is_up() {
        let c =
            cfg("fallback=127.0.0.1:81 masq\nvirtual=192.0.2.1:80\n\treal=192.0.2.11:80 masq\n");
        let d = desired(&c, |_, _| false);
        let s = &d.services[0];
        assert!(s.fallback_active);
        assert_eq!(s.dests[0].role, Role::Fallback);
        assert_eq!(s.dests[0].dest.weight, 1);
        let d = desired(&c, |_, _| true);
        assert!(d.services[0].dests.iter().all(|x| x.role != Role::Fallback));
    }

    fn real(weight: u32) -> Real {
        cfg(&format!(
            "virtual=192.0.2.1:80\n\treal=192.0.2.11:80 masq {weight} u:50\n"
        ))
        .virtuals[0]
            .reals[0]
            .clone()
    }

    fn input(load: Load, ramp: Option<(u32, u32)>) -> RealInput {
        RealInput {
            up: true,
            load,
            ramp: ramp.map(|(elapsed, over)| Ramp { elapsed, over }),
            operator: None,
        }
    }

    fn weight(w: Option<LoadWeight>) -> Load {
        Load {
            weight: w,
            ..Load::default()
        }
    }

    #[test]
    fn the_weight_is_configured_times_monitor_times_ramp() {
        use LoadWeight::*;
        let r = real(10);
        let w = |load: Load, ramp| weigh(&r, &input(load, ramp)).weight;
        assert_eq!(w(Load::default(), None), Some(10));
        assert_eq!(w(weight(Some(Percent(50))), None), Some(5));
        // HAProxy's truncation, over 100 and 0.
        assert_eq!(w(weight(Some(Percent(33))), None), Some(3));
        assert_eq!(w(weight(Some(Percent(250))), None), Some(25));
        assert_eq!(w(weight(Some(Percent(0))), None), Some(0));
        assert_eq!(w(weight(Some(Percent(u32::MAX))), None), Some(MAX_WEIGHT));
        assert_eq!(w(weight(Some(Absolute(7))), None), Some(7));
        assert_eq!(w(weight(Some(Absolute(99_999))), None), Some(MAX_WEIGHT));
        let drain = Load {
            admin: Admin::Drain,
            weight: Some(Percent(50)),
            ..Load::default()
        };
        assert_eq!(w(drain, None), Some(0));
        for out in [
            Load {
                admin: Admin::Maint,
                ..Load::default()
            },
            Load {
                down: true,
                ..Load::default()
            },
        ] {
            assert_eq!(w(out, None), None);
        }
        assert_eq!(weigh(&r, &RealInput::from(false)).weight, None);
        // Slow start over 10 s, to 10, then to 50% of it.
        let ramp: Vec<_> = (0..=11)
            .map(|t| w(Load::default(), Some((t, 10))).unwrap())
            .collect();
        assert_eq!(ramp, [1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10]);
        assert_eq!(w(weight(Some(Percent(50))), Some((5, 10))), Some(3));
        let big = real(40);
        let at = |t| weigh(&big, &input(Load::default(), Some((t, 10)))).weight;
        assert_eq!(
            (at(0), at(3), at(9), at(10)),
            (Some(1), Some(12), Some(36), Some(40))
        );
        // Drained or weight 0 stays 0 during a ramp.
        assert_eq!(w(weight(Some(Percent(0))), Some((3, 10))), Some(0));
        // maxconn is the upper threshold.
        let load = Load {
            maxconn: Some(30),
            ..Load::default()
        };
        assert_eq!(weigh(&r, &input(load, None)).upper, 30);
        assert_eq!(weigh(&r, &input(Load::default(), None)).upper, 50);
    }

    #[test]
    fn drained_reals_stay_but_do_not_count_as_up() {
        let c =
            cfg("fallback=127.0.0.1:81 masq\nvirtual=192.0.2.1:80\n\treal=192.0.2.11:80 masq 3\n");
        let drained = RealInput {
            up: true,
            load: Load {
                admin: Admin::Drain,
                ..Load::default()
            },
            ramp: None,
            operator: None,
        };
        let d = desired(&c, |_, _| drained);
        let s = &d.services[0];
        assert!(s.fallback_active);
        assert_eq!((s.dests[0].dest.weight, s.dests[0].in_service), (0, true));
        assert_eq!(s.dests[1].role, Role::Fallback);
        // Maintenance is out, as down (quiescent=no: absent).
        let maint = RealInput {
            load: Load {
                admin: Admin::Maint,
                ..Load::default()
            },
            ..drained
        };
        let d = desired(&c, |_, _| maint);
        assert!(d.services[0].dests.iter().all(|x| x.role == Role::Fallback));
    }

    /// The operator's overrides, and the stricter wins.
    #[test]
    fn operator_overrides_and_precedence() {
        use Override::*;
        let r = real(10);
        let w = |up: bool, load: Load, op: Option<Override>| {
            let x = weigh(
                &r,
                &RealInput {
                    up,
                    load,
                    ramp: None,
                    operator: op,
                },
            );
            (x.weight, x.removed)
        };
        let agent = |admin| Load {
            admin,
            ..Load::default()
        };
        let none = Load::default();
        assert_eq!(w(true, none, Some(Drain)), (Some(0), false));
        assert_eq!(w(true, none, Some(Disable)), (None, true));
        assert_eq!(w(true, none, Some(Weight { weight: 4 })), (Some(4), false));
        // The operator's weight replaces the monitor's, not its drain.
        assert_eq!(
            w(
                true,
                weight(Some(LoadWeight::Percent(50))),
                Some(Weight { weight: 4 })
            ),
            (Some(4), false)
        );
        assert_eq!(
            w(true, agent(Admin::Drain), Some(Weight { weight: 4 })),
            (Some(0), false)
        );
        // Down or in maintenance wins over drain and weight; disable over all.
        for op in [Some(Drain), Some(Weight { weight: 4 })] {
            assert_eq!(w(false, none, op), (None, false));
            assert_eq!(w(true, agent(Admin::Maint), op), (None, false));
        }
        assert_eq!(w(false, none, Some(Disable)), (None, true));
        // A ramp climbs to the operator's weight.
        let ramped = weigh(
            &r,
            &RealInput {
                up: true,
                load: none,
                ramp: Some(Ramp {
                    elapsed: 5,
                    over: 10,
                }),
                operator: Some(Weight { weight: 21 }),
            },
        );
        assert_eq!((ramped.weight, ramped.target), (Some(11), 21));

        // In the table: disabled is absent even when quiescent; drained
        // stays at 0 and does not count as up for the fallback.
        let c = cfg("quiescent=yes\nreaddquiescent=yes\nfallback=127.0.0.1:81 masq\n\
                     virtual=192.0.2.1:80\n\treal=192.0.2.11:80 masq 3\n\treal=192.0.2.12:80 masq 2\n");
        let d = desired(&c, |_, r: &Real| RealInput {
            up: true,
            operator: Some(if r.weight == 3 { Disable } else { Drain }),
            ..RealInput::default()
        });
        let s = &d.services[0];
        let dests: Vec<(String, u32)> = s
            .dests
            .iter()
            .map(|d| (d.dest.key.to_string(), d.dest.weight))
            .collect();
        assert_eq!(
            dests,
            [
                ("192.0.2.12:80".to_string(), 0),
                ("127.0.0.1:81".to_string(), 1)
            ]
        );
        assert!(s.fallback_active);
    }

    #[test]
    fn service_flags_follow_ipvsadm() {
        let c = cfg("virtual=192.0.2.1:53\n\tprotocol=udp\n\tops=yes\n\tpersistent=300\n\tnetmask=255.255.255.0\n\tscheduler=sh\n\tschedflags=sh-port\n\treal=192.0.2.11:53 gate\n");
        let s = &desired(&c, |_, _| true).services[0].service;
        assert_eq!(s.scheduler, "sh");
        assert_eq!(s.timeout, 300);
        assert!(s
            .flags
            .contains(ServiceFlags::PERSISTENT | ServiceFlags::ONEPACKET | ServiceFlags::SCHED2));
        assert_eq!(s.netmask, Netmask::V4("255.255.255.0".parse().unwrap()));
    }

    #[test]
    fn syncdaemon_asks_for_one_daemon_per_role() {
        assert!(sync_daemons(&cfg("virtual=192.0.2.1:80\n\treal=192.0.2.11:80 gate\n")).is_empty());
        let c = cfg("syncdaemon=both eth0 syncid=10 port=8850\n\
            virtual=192.0.2.1:80\n\treal=192.0.2.11:80 gate\n");
        let d = sync_daemons(&c);
        let text: Vec<String> = d.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            text,
            [
                "master sync daemon (mcast=eth0, syncid=10, port=8850)",
                "backup sync daemon (mcast=eth0, syncid=10, port=8850)"
            ]
        );
        let c = cfg("syncdaemon=backup sync0\nvirtual=192.0.2.1:80\n\treal=192.0.2.11:80 gate\n");
        assert_eq!(
            sync_daemons(&c),
            [SyncDaemon::new(SyncState::Backup, "sync0", 0)]
        );
    }
}
