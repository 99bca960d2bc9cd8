//! (configuration, health) → [`Desired`]: the services and destinations the
//! kernel table should hold for the virtual services we manage.
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
//! Pure: no I/O.

use crate::config::{self, Config, Real, Virtual, VirtualKey};
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

/// The desired table for `config`, given `is_up(virtual, real)`.
pub fn desired(config: &Config, is_up: impl FnMut(&Virtual, &Real) -> bool) -> Desired {
    desired_of(config, |_| true, |_| false, is_up)
}

/// The desired table of the virtual services whose index `include`s (the
/// ones a batch of check results touched), given `is_up(virtual, real)`.
///
/// `hold_fallback(index)`: the virtual service does not take its fallback
/// server yet, although no real is up (the director holds it back while
/// the first checks of its reals are still out).
pub fn desired_of(
    config: &Config,
    include: impl Fn(usize) -> bool,
    hold_fallback: impl Fn(usize) -> bool,
    mut is_up: impl FnMut(&Virtual, &Real) -> bool,
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
                let up = is_up(v, r);
                any_up |= up;
                let (weight, presence) = match (up, v.quiescent) {
                    (true, _) => (r.weight, Presence::Required),
                    (false, true) if readd => (0, Presence::Required),
                    (false, true) => (0, Presence::IfPresent),
                    (false, false) => continue,
                };
                let dest = dest_of(r.addr, r.port, r.forward, weight, r.upper, r.lower)
                    .normalized_for(&key);
                // Duplicate real lines (upstream accepts them): first wins.
                if dests.iter().all(|d| d.dest.key != dest.key) {
                    dests.push(DesiredDest {
                        dest,
                        role: Role::Real(ri),
                        presence,
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

/// The fallback server of `v` as the kernel holds it (weight 1,
/// thresholds 0).
fn fallback_dest(v: &Virtual) -> Option<Dest> {
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
