//! [`MemoryIpvs`]: an in-memory IPVS table that answers like the kernel.
//!
//! Owns: a `Vec<ServiceEntry>` and the kernel's validation and error
//! semantics for each op (`ip_vs_ctl.c`, checked in the real-kernel tests
//! with the same cases):
//!
//! | situation | answer |
//! |---|---|
//! | add an existing service / dest | EEXIST |
//! | edit/delete a missing service, or any dest op on one | ESRCH |
//! | edit/delete a missing dest | ENOENT |
//! | unknown scheduler or persistence engine | ENOENT |
//! | v6 netmask outside 1..=128 | EINVAL |
//! | dest family ≠ service family without tunnel forwarding | EINVAL |
//! | dest address multicast, broadcast or unspecified | EINVAL |
//! | GUE tunnel with port 0; upper threshold > i32::MAX | EINVAL |
//! | weight > i32::MAX (negative in the kernel); lower > upper threshold | ERANGE |
//! | a dest of the other family while a sync daemon runs | EINVAL |
//!
//! and of the sync daemons (`ip_vs_ctl.c ip_vs_genl_new_daemon`,
//! `ip_vs_sync.c start_sync_thread`/`stop_sync_thread`), in the kernel's
//! order:
//!
//! | situation | answer |
//! |---|---|
//! | start with a group that is not multicast | EINVAL |
//! | start while a service has a dest of the other family | EINVAL |
//! | start on an interface the namespace lacks | ENODEV |
//! | start a role that runs | EEXIST |
//! | stop a role that does not run | ESRCH ([`Error::NotRunning`]) |
//!
//! A started daemon lists with the kernel's defaults filled in (group
//! 224.0.0.81, port 8848, ttl 1, maxlen from a 1500-byte MTU, clamped as
//! the kernel clamps a given one).
//!
//! It also normalises like [`NetlinkIpvs`](super::NetlinkIpvs) + the
//! kernel: DR/tunnel dests of non-fwmark services get dport = vport (the
//! netlink backend sends them so, as ipvsadm does; a 6.1 kernel would keep
//! any port it is sent, see `tests/kernel_ipvs.rs`), new dests go to the
//! head of the list (dumps are newest first), flags never show HASHED,
//! netmasks read back by family.
//! Services are kept in insertion order (the kernel's order is its hash
//! order; callers must not depend on either).
//!
//! Must not: do I/O. It is used by unit tests and for dry runs.

use std::net::IpAddr;

use super::consts::{IP_VS_SYNC_GROUP, IP_VS_SYNC_PORT, IP_VS_SYNC_TTL};
use super::error::{Error, Result};
use super::types::*;
use super::{validate_daemon, validate_op, IpvsBackend, Op};

/// An in-memory IPVS table.
#[derive(Clone, Debug)]
pub struct MemoryIpvs {
    table: Vec<ServiceEntry>,
    schedulers: Vec<String>,
    pes: Vec<String>,
    /// Running sync daemons, master first.
    daemons: Vec<SyncDaemon>,
    /// The network interfaces of the namespace (for ENODEV).
    interfaces: Vec<String>,
}

impl Default for MemoryIpvs {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryIpvs {
    /// An empty table in a fresh network namespace: it knows Linux's
    /// schedulers ([`KNOWN_SCHEDULERS`], plus "none"), the "sip"
    /// persistence engine, and one interface, `lo`.
    pub fn new() -> Self {
        let mut schedulers: Vec<String> = KNOWN_SCHEDULERS.iter().map(|s| s.to_string()).collect();
        schedulers.push("none".into());
        MemoryIpvs {
            table: Vec::new(),
            schedulers,
            pes: KNOWN_PERSISTENCE_ENGINES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            daemons: Vec::new(),
            interfaces: vec!["lo".into()],
        }
    }

    /// Sets the namespace's interfaces (a sync daemon needs one).
    pub fn with_interfaces(mut self, names: &[&str]) -> Self {
        self.set_interfaces(names);
        self
    }

    /// Replaces the namespace's interfaces (one appearing later, in tests).
    pub fn set_interfaces(&mut self, names: &[&str]) {
        self.interfaces = names.iter().map(|s| s.to_string()).collect();
    }

    /// Restricts the schedulers that "load", to mimic a kernel without
    /// some modules (e.g. Debian has no `twos`).
    pub fn with_schedulers(mut self, names: &[&str]) -> Self {
        self.schedulers = names.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Direct access to the table, e.g. to inject counters in tests.
    pub fn table_mut(&mut self) -> &mut Vec<ServiceEntry> {
        &mut self.table
    }

    fn find(&self, key: &ServiceKey) -> Option<usize> {
        self.table.iter().position(|e| e.service.key == *key)
    }

    fn check_service(&self, s: &Service, req: &str) -> Result<Service> {
        let mut s = s.clone();
        // The kernel keeps the netmask's four bytes and reports them by AF.
        s.netmask = Netmask::from_wire(s.key.family(), s.netmask.wire_bytes());
        // ip_vs_add_service / ip_vs_edit_service order: scheduler, PE,
        // then the v6 prefix length.
        if !self.schedulers.contains(&s.scheduler) {
            return Err(Error::from_errno(libc::ENOENT, req));
        }
        if let Some(pe) = &s.pe_name {
            if !self.pes.contains(pe) {
                return Err(Error::from_errno(libc::ENOENT, req));
            }
        }
        if let Netmask::V6(p) = s.netmask {
            if !(1..=128).contains(&p) {
                return Err(Error::from_errno(libc::EINVAL, req));
            }
        }
        Ok(s)
    }

    /// The checks of `ip_vs_genl_set_cmd` + `ip_vs_add_dest`/`edit_dest`
    /// that come before the dest lookup, in the kernel's order.
    fn check_dest(&self, svc: &ServiceKey, d: &Dest, req: &str) -> Result<Dest> {
        let d = d.normalized_for(svc);
        // The sync protocol cannot carry mixed-family connections.
        if d.key.family() != svc.family()
            && (d.forward != Forward::Tunnel || !self.daemons.is_empty())
        {
            return Err(Error::from_errno(libc::EINVAL, req));
        }
        if d.upper_threshold > i32::MAX as u32 {
            return Err(Error::from_errno(libc::EINVAL, req));
        }
        if d.weight > i32::MAX as u32 {
            return Err(Error::from_errno(libc::ERANGE, req));
        }
        if d.lower_threshold > d.upper_threshold {
            return Err(Error::from_errno(libc::ERANGE, req));
        }
        if d.tunnel_type == TunnelType::Gue && d.tunnel_port == 0 {
            return Err(Error::from_errno(libc::EINVAL, req));
        }
        Ok(d)
    }

    fn unicast(addr: &IpAddr) -> bool {
        match addr {
            IpAddr::V4(a) => !(a.is_multicast() || a.is_broadcast() || a.is_unspecified()),
            IpAddr::V6(a) => !(a.is_multicast() || a.is_unspecified()),
        }
    }

    fn apply_op(&mut self, op: &Op) -> Result<()> {
        validate_op(op)?;
        let req = op.describe();
        match op {
            Op::AddService(s) => {
                if self.find(&s.key).is_some() {
                    return Err(Error::from_errno(libc::EEXIST, req));
                }
                let s = self.check_service(s, &req)?;
                self.table.push(ServiceEntry {
                    service: s,
                    stats: Stats::default(),
                    dests: vec![],
                });
            }
            Op::EditService(s) => {
                let i = self
                    .find(&s.key)
                    .ok_or_else(|| Error::from_errno(libc::ESRCH, &req))?;
                let s = self.check_service(s, &req)?;
                self.table[i].service = s;
            }
            Op::DelService(k) => {
                let i = self
                    .find(k)
                    .ok_or_else(|| Error::from_errno(libc::ESRCH, &req))?;
                self.table.remove(i);
            }
            Op::AddDest(k, d) => {
                let i = self
                    .find(k)
                    .ok_or_else(|| Error::from_errno(libc::ESRCH, &req))?;
                let d = self.check_dest(k, d, &req)?;
                let dests = &mut self.table[i].dests;
                if dests.iter().any(|e| e.dest.key == d.key) {
                    return Err(Error::from_errno(libc::EEXIST, req));
                }
                if !Self::unicast(&d.key.addr) {
                    return Err(Error::from_errno(libc::EINVAL, req));
                }
                // list_add_rcu at the head: dumps are newest first.
                dests.insert(
                    0,
                    DestEntry {
                        dest: d,
                        conns: ConnCounts::default(),
                        stats: Stats::default(),
                    },
                );
            }
            Op::EditDest(k, d) => {
                let i = self
                    .find(k)
                    .ok_or_else(|| Error::from_errno(libc::ESRCH, &req))?;
                let d = self.check_dest(k, d, &req)?;
                let e = self.table[i]
                    .dests
                    .iter_mut()
                    .find(|e| e.dest.key == d.key)
                    .ok_or_else(|| Error::from_errno(libc::ENOENT, &req))?;
                e.dest = d;
            }
            Op::DelDest(k, dk) => {
                let i = self
                    .find(k)
                    .ok_or_else(|| Error::from_errno(libc::ESRCH, &req))?;
                let dests = &mut self.table[i].dests;
                let j = dests
                    .iter()
                    .position(|e| e.dest.key == *dk)
                    .ok_or_else(|| Error::from_errno(libc::ENOENT, &req))?;
                dests.remove(j);
            }
        }
        Ok(())
    }
}

impl MemoryIpvs {
    fn mixed_family_dests(&self) -> bool {
        self.table.iter().any(|e| {
            e.dests
                .iter()
                .any(|d| d.dest.key.family() != e.service.key.family())
        })
    }
}

impl IpvsBackend for MemoryIpvs {
    fn dump(&mut self) -> Result<Vec<ServiceEntry>> {
        Ok(self.table.clone())
    }

    fn apply(&mut self, ops: &[Op]) -> Vec<Result<()>> {
        ops.iter().map(|op| self.apply_op(op)).collect()
    }

    fn flush(&mut self) -> Result<()> {
        self.table.clear();
        Ok(())
    }

    fn daemons(&mut self) -> Result<Vec<SyncDaemon>> {
        Ok(self.daemons.clone())
    }

    fn start_daemon(&mut self, d: &SyncDaemon) -> Result<()> {
        validate_daemon(d)?;
        let req = format!("start {d}");
        if d.mcast_group.is_some_and(|g| !g.is_multicast()) || self.mixed_family_dests() {
            return Err(Error::from_errno(libc::EINVAL, req));
        }
        if !self.interfaces.contains(&d.mcast_ifn) {
            return Err(Error::from_errno(libc::ENODEV, req));
        }
        if self.daemons.iter().any(|r| r.state == d.state) {
            return Err(Error::from_errno(libc::EEXIST, req));
        }
        let group = d.mcast_group.unwrap_or(IpAddr::V4(IP_VS_SYNC_GROUP.into()));
        // IP + UDP header; a master sizes for 1500 bytes, a backup for the
        // interface's MTU (1500 here) and takes no less than 1024.
        let hlen = if group.is_ipv4() { 28 } else { 48 };
        let min = match d.state {
            SyncState::Master => 1,
            SyncState::Backup => 1024,
        };
        let maxlen = d
            .sync_maxlen
            .map_or(1500 - hlen, |m| m.clamp(min, 65535 - hlen));
        let running = SyncDaemon {
            sync_maxlen: Some(maxlen),
            mcast_group: Some(group),
            mcast_port: Some(d.mcast_port.filter(|&p| p != 0).unwrap_or(IP_VS_SYNC_PORT)),
            mcast_ttl: Some(d.mcast_ttl.filter(|&t| t != 0).unwrap_or(IP_VS_SYNC_TTL)),
            ..d.clone()
        };
        self.daemons.push(running);
        self.daemons.sort_by_key(|r| r.state.to_wire());
        Ok(())
    }

    fn stop_daemon(&mut self, state: SyncState) -> Result<()> {
        let before = self.daemons.len();
        self.daemons.retain(|r| r.state != state);
        if self.daemons.len() == before {
            let req = format!("stop {} sync daemon", state.as_str());
            return Err(Error::from_errno(libc::ESRCH, req).of_daemon_request());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn svc() -> Service {
        Service::new(ServiceKey::tcp(v4("192.0.2.10"), 80), "wlc")
    }

    fn one(m: &mut MemoryIpvs, op: Op) -> Result<()> {
        m.apply(&[op]).pop().unwrap()
    }

    fn errno(r: Result<()>) -> i32 {
        r.unwrap_err().errno().unwrap()
    }

    #[test]
    fn add_and_dump_roundtrip() {
        let mut m = MemoryIpvs::new();
        let s = svc()
            .persistent(300)
            .netmask(Netmask::V4(Ipv4Addr::new(255, 255, 255, 0)));
        let d1 = Dest::new(DestKey::new(v4("192.0.2.11"), 80), Forward::Masq).weight(3);
        let d2 = Dest::new(DestKey::new(v4("192.0.2.12"), 8080), Forward::Masq);
        let r = m.apply(&[
            Op::AddService(s.clone()),
            Op::AddDest(s.key, d1.clone()),
            Op::AddDest(s.key, d2.clone()),
        ]);
        assert!(r.iter().all(|r| r.is_ok()));
        let t = m.services().unwrap();
        // newest first
        assert_eq!(t, vec![(s, vec![d2, d1])]);
    }

    #[test]
    fn duplicate_service_is_eexist() {
        let mut m = MemoryIpvs::new();
        one(&mut m, Op::AddService(svc())).unwrap();
        let e = one(&mut m, Op::AddService(svc())).unwrap_err();
        assert!(e.is_exists());
        assert_eq!(e.errno(), Some(libc::EEXIST));
    }

    #[test]
    fn missing_service_is_esrch() {
        let mut m = MemoryIpvs::new();
        let k = svc().key;
        let d = Dest::new(DestKey::new(v4("192.0.2.11"), 80), Forward::Masq);
        for op in [
            Op::EditService(svc()),
            Op::DelService(k),
            Op::AddDest(k, d.clone()),
            Op::EditDest(k, d.clone()),
            Op::DelDest(k, d.key),
        ] {
            let e = one(&mut m, op).unwrap_err();
            assert!(matches!(e, Error::NoSuchService { .. }), "{e}");
            assert!(e.is_not_found());
        }
    }

    #[test]
    fn missing_dest_is_enoent_and_duplicate_is_eexist() {
        let mut m = MemoryIpvs::new();
        let s = svc();
        one(&mut m, Op::AddService(s.clone())).unwrap();
        let d = Dest::new(DestKey::new(v4("192.0.2.11"), 80), Forward::Masq);
        assert_eq!(
            errno(one(&mut m, Op::EditDest(s.key, d.clone()))),
            libc::ENOENT
        );
        assert_eq!(errno(one(&mut m, Op::DelDest(s.key, d.key))), libc::ENOENT);
        one(&mut m, Op::AddDest(s.key, d.clone())).unwrap();
        assert_eq!(
            errno(one(&mut m, Op::AddDest(s.key, d.clone()))),
            libc::EEXIST
        );
        one(&mut m, Op::EditDest(s.key, d.clone().weight(0))).unwrap();
        assert_eq!(m.services().unwrap()[0].1[0].weight, 0);
        one(&mut m, Op::DelDest(s.key, d.key)).unwrap();
    }

    #[test]
    fn unknown_scheduler_or_pe_is_enoent() {
        let mut m = MemoryIpvs::new();
        let e = one(&mut m, Op::AddService(Service::new(svc().key, "nope"))).unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }));
        let e = one(&mut m, Op::AddService(svc().pe("nope"))).unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }));
        one(&mut m, Op::AddService(svc().persistent(60).pe("sip"))).unwrap();
        let e = one(&mut m, Op::EditService(Service::new(svc().key, "bogus"))).unwrap_err();
        assert!(e.is_not_found());
        let mut m = MemoryIpvs::new().with_schedulers(&["rr"]);
        assert_eq!(errno(one(&mut m, Op::AddService(svc()))), libc::ENOENT);
    }

    #[test]
    fn v6_netmask_range_is_einval() {
        let mut m = MemoryIpvs::new();
        let k = ServiceKey::tcp("2001:db8::1".parse().unwrap(), 80);
        for bad in [0, 129, u32::MAX] {
            let s = Service::new(k, "rr")
                .persistent(60)
                .netmask(Netmask::V6(bad));
            let e = one(&mut m, Op::AddService(s)).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument { .. }), "{bad}: {e}");
        }
        // A v4-style mask on a v6 service is a (huge) prefix length.
        let s = Service::new(k, "rr").netmask(Netmask::V4(Ipv4Addr::BROADCAST));
        assert_eq!(errno(one(&mut m, Op::AddService(s))), libc::EINVAL);
        let s = Service::new(k, "rr")
            .persistent(60)
            .netmask(Netmask::V6(64));
        one(&mut m, Op::AddService(s.clone())).unwrap();
        assert_eq!(m.services().unwrap()[0].0, s);
    }

    #[test]
    fn dest_range_and_family_checks() {
        let mut m = MemoryIpvs::new();
        let s = svc();
        one(&mut m, Op::AddService(s.clone())).unwrap();
        let base = Dest::new(DestKey::new(v4("192.0.2.11"), 80), Forward::Masq);
        let cases = [
            (base.clone().weight(1 << 31), libc::ERANGE),
            (base.clone().thresholds(10, 20), libc::ERANGE),
            (base.clone().thresholds(0, 1), libc::ERANGE),
            (base.clone().thresholds(1 << 31, 0), libc::EINVAL),
            (
                Dest::new(base.key, Forward::Tunnel).tunnel(TunnelType::Gue, 0, TunnelFlags::CSUM),
                libc::EINVAL,
            ),
            (
                Dest::new(DestKey::new(Ipv6Addr::LOCALHOST.into(), 80), Forward::Route),
                libc::EINVAL,
            ),
            (
                Dest::new(DestKey::new(v4("255.255.255.255"), 80), Forward::Masq),
                libc::EINVAL,
            ),
            (
                Dest::new(DestKey::new(v4("224.0.0.1"), 80), Forward::Masq),
                libc::EINVAL,
            ),
        ];
        for (d, want) in cases {
            assert_eq!(
                errno(one(&mut m, Op::AddDest(s.key, d.clone()))),
                want,
                "{d:?}"
            );
        }
        // A v6 dest in a v4 service is fine with tunnelling.
        let d = Dest::new(
            DestKey::new("2001:db8::5".parse().unwrap(), 80),
            Forward::Tunnel,
        );
        one(&mut m, Op::AddDest(s.key, d)).unwrap();
        // GUE with a port is fine.
        let d = Dest::new(DestKey::new(v4("192.0.2.20"), 80), Forward::Tunnel).tunnel(
            TunnelType::Gue,
            6080,
            TunnelFlags::REMCSUM,
        );
        one(&mut m, Op::AddDest(s.key, d)).unwrap();
        // Edit applies the same range checks before the lookup.
        assert_eq!(
            errno(one(&mut m, Op::EditDest(s.key, base.weight(u32::MAX)))),
            libc::ERANGE
        );
    }

    #[test]
    fn dr_and_tunnel_dport_forced_to_vport() {
        let mut m = MemoryIpvs::new();
        let s = svc();
        let fw = Service::new(ServiceKey::fwmark(Family::Inet, 7), "rr");
        one(&mut m, Op::AddService(s.clone())).unwrap();
        one(&mut m, Op::AddService(fw.clone())).unwrap();
        let dr = Dest::new(DestKey::new(v4("192.0.2.11"), 8080), Forward::Route);
        one(&mut m, Op::AddDest(s.key, dr.clone())).unwrap();
        one(&mut m, Op::AddDest(fw.key, dr.clone())).unwrap();
        let t = m.services().unwrap();
        assert_eq!(t[0].1[0].key, DestKey::new(v4("192.0.2.11"), 80));
        assert_eq!(dr.kernel_key(&s.key), t[0].1[0].key);
        // fwmark services keep the port.
        assert_eq!(t[1].1[0].key.port, 8080);
        // Adding again with the requested port collides with the stored one.
        assert_eq!(
            errno(one(&mut m, Op::AddDest(s.key, dr.clone()))),
            libc::EEXIST
        );
        // Delete needs the stored key.
        assert_eq!(errno(one(&mut m, Op::DelDest(s.key, dr.key))), libc::ENOENT);
        one(&mut m, Op::DelDest(s.key, dr.kernel_key(&s.key))).unwrap();
    }

    #[test]
    fn invalid_values_refused_before_sending() {
        let mut m = MemoryIpvs::new();
        let s = Service::new(svc().key, "a-very-long-scheduler");
        assert!(matches!(
            one(&mut m, Op::AddService(s)).unwrap_err(),
            Error::Invalid { .. }
        ));
        let s = Service::new(ServiceKey::fwmark(Family::Inet, 0), "rr");
        assert!(matches!(
            one(&mut m, Op::AddService(s)).unwrap_err(),
            Error::Invalid { .. }
        ));
    }

    #[test]
    fn sync_daemons_answer_like_the_kernel() {
        let mut m = MemoryIpvs::new().with_interfaces(&["lo", "eth0"]);
        assert!(m.daemons().unwrap().is_empty());
        let master = SyncDaemon::new(SyncState::Master, "eth0", 7);
        m.start_daemon(&master).unwrap();
        // The dump fills in the kernel's defaults.
        assert_eq!(
            m.daemons().unwrap()[0].to_string(),
            "master sync daemon (mcast=eth0, syncid=7, maxlen=1472, group=224.0.0.81, \
             port=8848, ttl=1)"
        );
        assert!(master.is_met_by(&m.daemons().unwrap()[0]));
        let e = m.start_daemon(&master).unwrap_err();
        assert!(e.is_exists(), "{e}");
        // Missing interface: ENODEV, before the role is looked at.
        let e = m
            .start_daemon(&SyncDaemon::new(SyncState::Master, "eth9", 7))
            .unwrap_err();
        assert_eq!(e.errno(), Some(libc::ENODEV), "{e}");
        assert!(e.to_string().contains("No such device (ENODEV)"), "{e}");
        let mut backup = SyncDaemon::new(SyncState::Backup, "eth0", 7);
        backup.mcast_group = Some(v4("192.0.2.1"));
        assert_eq!(errno(m.start_daemon(&backup)), libc::EINVAL);
        backup.mcast_group = None;
        backup.sync_maxlen = Some(100);
        m.start_daemon(&backup).unwrap();
        let listed = m.daemons().unwrap();
        assert_eq!(listed.len(), 2);
        // A backup's maxlen is at least 1024.
        assert_eq!(listed[1].sync_maxlen, Some(1024));
        assert!(!backup.is_met_by(&listed[1]));
        // A dest of the other family is refused while a daemon runs.
        let s = svc();
        one(&mut m, Op::AddService(s.clone())).unwrap();
        let v6 = Dest::new(
            DestKey::new("2001:db8::5".parse().unwrap(), 80),
            Forward::Tunnel,
        );
        assert_eq!(
            errno(one(&mut m, Op::AddDest(s.key, v6.clone()))),
            libc::EINVAL
        );
        m.stop_daemon(SyncState::Master).unwrap();
        m.stop_daemon(SyncState::Backup).unwrap();
        let e = m.stop_daemon(SyncState::Backup).unwrap_err();
        assert!(
            matches!(e, Error::NotRunning { .. }) && e.is_not_found(),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            "stop backup sync daemon: No such process (ESRCH): no sync daemon of that role runs"
        );
        // And no daemon starts while such a dest exists.
        one(&mut m, Op::AddDest(s.key, v6)).unwrap();
        assert_eq!(errno(m.start_daemon(&master)), libc::EINVAL);
    }

    #[test]
    fn batch_continues_after_failure_and_flush_empties() {
        let mut m = MemoryIpvs::new();
        let s = svc();
        let d = Dest::new(DestKey::new(v4("192.0.2.11"), 80), Forward::Masq);
        let r = m.apply(&[
            Op::AddService(s.clone()),
            Op::AddService(s.clone()),
            Op::AddDest(s.key, d.clone()),
        ]);
        assert!(r[0].is_ok() && r[1].as_ref().unwrap_err().is_exists() && r[2].is_ok());
        m.flush().unwrap();
        assert!(m.dump().unwrap().is_empty());
    }
}
