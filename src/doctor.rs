//! `ldirectord [configfile] doctor [--real]`: what a director (or, with
//! `--real`, a real server) needs for the configured virtual services.
//!
//! Owns gathering host facts (IPVS availability, local addresses and
//! interface flags via `getifaddrs`, a few sysctls under `/proc/sys`) into
//! [`Facts`], the pure findings logic over them ([`director`], [`real`])
//! and the per-real setup commands ([`real_setup`]). It must not change
//! anything on the host: it only reads and prints the commands a human may
//! run. It does not run health checks (that is `check`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::config::{Config, Forward, VirtualKey};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Info,
    /// Something the director (or real) needs and does not have: exit 1.
    Problem,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    pub text: String,
}

impl Finding {
    fn ok(text: impl Into<String>) -> Self {
        Finding {
            level: Level::Ok,
            text: text.into(),
        }
    }
    fn info(text: impl Into<String>) -> Self {
        Finding {
            level: Level::Info,
            text: text.into(),
        }
    }
    fn problem(text: impl Into<String>) -> Self {
        Finding {
            level: Level::Problem,
            text: text.into(),
        }
    }
}

/// An address configured on a local interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAddr {
    pub iface: String,
    pub addr: IpAddr,
    pub prefix: u8,
}

/// A network interface of this namespace and the flags doctor looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    /// IFF_UP
    pub up: bool,
    /// IFF_MULTICAST
    pub multicast: bool,
}

/// What doctor knows of the host; gathered by [`Facts::gather`] or built
/// by hand in tests.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// `Ok(())` when the IPVS netlink family opens, else why not.
    pub ipvs: Option<Result<(), String>>,
    pub addrs: Vec<LocalAddr>,
    /// Every interface, with or without an address.
    pub interfaces: Vec<Interface>,
    /// sysctl name (`net.ipv4.ip_forward`) → value; absent when unreadable.
    pub sysctls: BTreeMap<String, String>,
    /// The host has an iptables `nat` table loaded.
    pub nat_rules: bool,
}

impl Facts {
    /// Read the host. `ipvs`: also try to open IPVS (the director side).
    pub fn gather(ipvs: bool) -> Facts {
        let addrs = local_addrs();
        let mut names: BTreeSet<String> = addrs.iter().map(|a| a.iface.clone()).collect();
        names.extend(["all", "lo", "tunl0"].map(String::from));
        let mut keys = vec![
            "net.ipv4.ip_forward".to_string(),
            "net.ipv6.conf.all.forwarding".to_string(),
            "net.ipv4.vs.conntrack".to_string(),
            "net.ipv4.vs.expire_nodest_conn".to_string(),
            "net.ipv4.vs.sloppy_tcp".to_string(),
        ];
        for n in &names {
            for k in ["arp_ignore", "arp_announce", "rp_filter"] {
                keys.push(format!("net.ipv4.conf.{n}.{k}"));
            }
        }
        let sysctls = keys
            .into_iter()
            .filter_map(|k| {
                let path = format!("/proc/sys/{}", k.replace('.', "/"));
                std::fs::read_to_string(path)
                    .ok()
                    .map(|v| (k, v.trim().to_string()))
            })
            .collect();
        let nat_rules = std::fs::read_to_string("/proc/net/ip_tables_names")
            .map(|t| t.lines().any(|l| l.trim() == "nat"))
            .unwrap_or(false);
        Facts {
            ipvs: ipvs.then(|| {
                crate::ipvs::NetlinkIpvs::new()
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }),
            addrs,
            interfaces: interfaces(),
            sysctls,
            nat_rules,
        }
    }

    fn sysctl(&self, key: &str) -> Option<&str> {
        self.sysctls.get(key).map(String::as_str)
    }

    fn sysctl_num(&self, key: &str) -> Option<i64> {
        self.sysctl(key).and_then(|v| v.parse().ok())
    }

    fn has_addr(&self, addr: &IpAddr) -> Option<&LocalAddr> {
        self.addrs.iter().find(|a| a.addr == *addr)
    }

    fn on_iface(&self, iface: &str, addr: &IpAddr) -> bool {
        self.addrs
            .iter()
            .any(|a| a.iface == iface && a.addr == *addr)
    }

    /// A local address whose network contains `target` (not a /32 or /128).
    fn address_towards(&self, target: &IpAddr) -> Option<&LocalAddr> {
        self.addrs
            .iter()
            .filter(|a| a.iface != "lo" && a.addr != *target)
            .filter(|a| match (a.addr, target) {
                (IpAddr::V4(_), IpAddr::V4(_)) => a.prefix < 32,
                (IpAddr::V6(_), IpAddr::V6(_)) => a.prefix < 128,
                _ => false,
            })
            .find(|a| same_net(&a.addr, target, a.prefix))
    }

    /// The kernel's effective value of a per-device ipv4 conf setting:
    /// the larger of `all` and the device's (reported as "for DEV").
    fn conf_max(&self, dev: &str, key: &str) -> Option<i64> {
        let all = self.sysctl_num(&format!("net.ipv4.conf.all.{key}"));
        let d = self.sysctl_num(&format!("net.ipv4.conf.{dev}.{key}"));
        match (all, d) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}

fn same_net(a: &IpAddr, b: &IpAddr, prefix: u8) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let m = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            u32::from(*a) & m == u32::from(*b) & m
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let m = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            u128::from(*a) & m == u128::from(*b) & m
        }
        _ => false,
    }
}

/// Addresses of local interfaces, from `getifaddrs(3)`.
pub fn local_addrs() -> Vec<LocalAddr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string of the list.
        let iface = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: ifa_addr (and ifa_netmask when set) point to sockaddrs of
        // the family in sa_family; we read the matching struct.
        let (addr, prefix) = unsafe {
            match i32::from((*ifa.ifa_addr).sa_family) {
                libc::AF_INET => {
                    let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    let a = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                    let p = if ifa.ifa_netmask.is_null() {
                        32
                    } else {
                        let m = &*(ifa.ifa_netmask as *const libc::sockaddr_in);
                        u32::from_be(m.sin_addr.s_addr).count_ones() as u8
                    };
                    (IpAddr::V4(a), p)
                }
                libc::AF_INET6 => {
                    let sin6 = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                    let a = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                    let p = if ifa.ifa_netmask.is_null() {
                        128
                    } else {
                        let m = &*(ifa.ifa_netmask as *const libc::sockaddr_in6);
                        m.sin6_addr
                            .s6_addr
                            .iter()
                            .map(|b| b.count_ones() as u8)
                            .sum()
                    };
                    (IpAddr::V6(a), p)
                }
                _ => continue,
            }
        };
        out.push(LocalAddr {
            iface,
            addr,
            prefix,
        });
    }
    // SAFETY: `head` came from getifaddrs.
    unsafe { libc::freeifaddrs(head) };
    out
}

/// The interfaces of this namespace, from `getifaddrs(3)` (its
/// `AF_PACKET` entries list those without an address too).
pub fn interfaces() -> Vec<Interface> {
    let mut out: Vec<Interface> = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string of the list.
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        if out.iter().any(|i| i.name == name) {
            continue;
        }
        let flags = ifa.ifa_flags as libc::c_int;
        out.push(Interface {
            name,
            up: flags & libc::IFF_UP != 0,
            multicast: flags & libc::IFF_MULTICAST != 0,
        });
    }
    // SAFETY: `head` came from getifaddrs.
    unsafe { libc::freeifaddrs(head) };
    out
}

/// The VIPs a real serves (None for a firewall-mark virtual), with the
/// virtuals' ids.
type Vips = BTreeSet<(Option<IpAddr>, String)>;

/// A real server of the configuration with the virtuals it serves.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RealUse {
    addr: IpAddr,
    forward: Forward,
    /// The VIPs (None for a firewall-mark virtual) and the virtual ids.
    vips: Vips,
}

fn real_uses(config: &Config) -> Vec<RealUse> {
    let mut map: BTreeMap<(IpAddr, Forward), Vips> = BTreeMap::new();
    for v in &config.virtuals {
        let vip = match v.key {
            VirtualKey::Addr { addr, .. } => Some(addr),
            VirtualKey::Fwmark { .. } => None,
        };
        let fallback = v.fallback.iter().map(|f| (f.addr, f.forward));
        for (addr, forward) in v.reals.iter().map(|r| (r.addr, r.forward)).chain(fallback) {
            if addr.is_loopback() {
                continue; // a local fallback needs nothing
            }
            map.entry((addr, forward))
                .or_default()
                .insert((vip, v.key.id()));
        }
    }
    map.into_iter()
        .map(|((addr, forward), vips)| RealUse {
            addr,
            forward,
            vips,
        })
        .collect()
}

fn uses_masq(config: &Config, v6: bool) -> bool {
    config.virtuals.iter().any(|v| {
        (v.key.family() == crate::config::Family::V6) == v6
            && (v.reals.iter().any(|r| r.forward == Forward::Masq)
                || v.fallback.iter().any(|f| f.forward == Forward::Masq))
    })
}

/// Findings on the director.
pub fn director(config: &Config, facts: &Facts) -> Vec<Finding> {
    let mut f = Vec::new();
    match &facts.ipvs {
        Some(Ok(())) => f.push(Finding::ok("IPVS is available")),
        Some(Err(e)) => f.push(Finding::problem(format!(
            "IPVS is not available: {e} (load it: modprobe ip_vs; ldirectord needs root or CAP_NET_ADMIN)"
        ))),
        None => {}
    }
    let mut seen = BTreeSet::new();
    for v in &config.virtuals {
        let VirtualKey::Addr { addr, .. } = v.key else {
            continue; // firewall marks match packets, not an address
        };
        if !seen.insert(addr) {
            continue;
        }
        match facts.has_addr(&addr) {
            Some(a) => f.push(Finding::ok(format!("VIP {addr} is on {}", a.iface))),
            None => {
                let (cmd, len) = match addr {
                    IpAddr::V4(_) => ("ip addr add", 32),
                    IpAddr::V6(_) => ("ip -6 addr add", 128),
                };
                f.push(Finding::problem(format!(
                    "VIP {addr} ({}) is on no local interface; clients' packets for it will not reach IPVS. \
                     Add it (or let your cluster manager do it): {cmd} {addr}/{len} dev <interface>",
                    v.key.id()
                )));
            }
        }
    }
    if uses_masq(config, false) {
        match facts.sysctl("net.ipv4.ip_forward") {
            Some("1") => f.push(Finding::ok("net.ipv4.ip_forward=1 (masq)")),
            v => f.push(Finding::problem(format!(
                "masq reals need forwarding, but net.ipv4.ip_forward={}: sysctl -w net.ipv4.ip_forward=1",
                v.unwrap_or("(unreadable)")
            ))),
        }
    }
    if uses_masq(config, true) {
        match facts.sysctl("net.ipv6.conf.all.forwarding") {
            Some("1") => f.push(Finding::ok("net.ipv6.conf.all.forwarding=1 (masq)")),
            v => f.push(Finding::problem(format!(
                "IPv6 masq reals need forwarding, but net.ipv6.conf.all.forwarding={}: \
                 sysctl -w net.ipv6.conf.all.forwarding=1",
                v.unwrap_or("(unreadable)")
            ))),
        }
    }
    if uses_masq(config, false) || uses_masq(config, true) {
        if let Some(c) = facts.sysctl("net.ipv4.vs.conntrack") {
            if facts.nat_rules && c == "0" {
                f.push(Finding::info(
                    "net.ipv4.vs.conntrack=0 and this host has netfilter NAT rules: IPVS connections \
                     bypass conntrack; set it to 1 if your firewall must see them",
                ));
            } else {
                f.push(Finding::info(format!("net.ipv4.vs.conntrack={c}")));
            }
        }
    }
    f.extend(more_than_one_director(config, facts));
    if let Some(e) = facts.sysctl("net.ipv4.vs.expire_nodest_conn") {
        if e == "0" {
            f.push(Finding::info(
                "net.ipv4.vs.expire_nodest_conn=0: connections to a removed real hang until they \
                 time out; sysctl -w net.ipv4.vs.expire_nodest_conn=1 drops them at once",
            ));
        } else {
            f.push(Finding::info(format!("net.ipv4.vs.expire_nodest_conn={e}")));
        }
    }
    f
}

/// `syncdaemon=`: its interface exists, is up and carries multicast. A
/// hashing scheduler (`mh`, `sh`) is what directors side by side use: a
/// director that did not see a connection's SYN takes it over only with
/// `sloppy_tcp` (the kernel otherwise hands the packet to the local stack,
/// which resets the connection).
fn more_than_one_director(config: &Config, facts: &Facts) -> Vec<Finding> {
    let mut f = Vec::new();
    if let Some(sd) = &config.global.syncdaemon {
        let name = &sd.interface;
        match facts.interfaces.iter().find(|i| i.name == *name) {
            None => f.push(Finding::problem(format!(
                "syncdaemon interface {name} does not exist here; the kernel refuses the sync \
                 daemon (ENODEV): name an existing interface in syncdaemon= (ip link show)"
            ))),
            Some(i) if !i.up => f.push(Finding::problem(format!(
                "syncdaemon interface {name} is down; no connection is synchronised: \
                 ip link set {name} up"
            ))),
            Some(i) if !i.multicast => f.push(Finding::problem(format!(
                "syncdaemon interface {name} has multicast off; the sync messages are \
                 multicast: ip link set {name} multicast on"
            ))),
            Some(_) => f.push(Finding::ok(format!(
                "syncdaemon interface {name} is up with multicast"
            ))),
        }
    }
    let hashing = config
        .virtuals
        .iter()
        .any(|v| matches!(v.scheduler.as_str(), "mh" | "sh"));
    if hashing {
        match facts.sysctl("net.ipv4.vs.sloppy_tcp") {
            Some("0") => f.push(Finding::info(
                "net.ipv4.vs.sloppy_tcp=0: with mh or sh on directors side by side (ECMP), a \
                 director that did not see a connection's SYN resets it; \
                 sysctl -w net.ipv4.vs.sloppy_tcp=1 lets it take the connection over",
            )),
            Some(v) => f.push(Finding::ok(format!(
                "net.ipv4.vs.sloppy_tcp={v} (mh/sh: a director takes over connections it \
                 did not see start)"
            ))),
            None => {}
        }
    }
    f
}

fn vip_list(u: &RealUse) -> Vec<IpAddr> {
    u.vips.iter().filter_map(|(a, _)| *a).collect()
}

fn ids(u: &RealUse) -> String {
    u.vips
        .iter()
        .map(|(_, id)| id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

const ARP: &str = "sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2\n    \
                   sysctl -w net.ipv4.conf.lo.arp_ignore=1 net.ipv4.conf.lo.arp_announce=2\n";

/// The commands each real server needs for its forwarding method.
pub fn real_setup(config: &Config, facts: &Facts) -> String {
    let mut out = String::new();
    for u in real_uses(config) {
        let _ = writeln!(
            out,
            "real {} ({}) for {}:",
            u.addr,
            u.forward.as_str(),
            ids(&u)
        );
        let vips = vip_list(&u);
        let fwmark = u.vips.iter().any(|(a, _)| a.is_none());
        match u.forward {
            Forward::Gate | Forward::Ipip => {
                let (dev, pre): (&str, &[&str]) = match (u.forward, u.addr) {
                    (Forward::Gate, _) => ("lo", &[]),
                    (_, IpAddr::V4(_)) => ("tunl0", &["modprobe ipip", "ip link set tunl0 up"]),
                    (_, IpAddr::V6(_)) => (
                        "ip6tnl0",
                        &["modprobe ip6_tunnel", "ip link set ip6tnl0 up"],
                    ),
                };
                for line in pre {
                    let _ = writeln!(out, "    {line}");
                }
                for vip in &vips {
                    match vip {
                        IpAddr::V4(_) => {
                            let _ = writeln!(out, "    ip addr add {vip}/32 dev {dev}");
                        }
                        IpAddr::V6(_) => {
                            let _ = writeln!(out, "    ip -6 addr add {vip}/128 dev {dev} nodad");
                        }
                    }
                }
                if fwmark {
                    let _ = writeln!(
                        out,
                        "    ip addr add <each address your firewall marks>/32 dev {dev}"
                    );
                }
                if u.forward == Forward::Ipip && u.addr.is_ipv4() {
                    out.push_str(
                        "    sysctl -w net.ipv4.conf.tunl0.rp_filter=0 net.ipv4.conf.all.rp_filter=0\n",
                    );
                }
                if u.addr.is_ipv4() {
                    out.push_str("    ");
                    out.push_str(ARP);
                }
            }
            Forward::Masq => {
                let via = facts
                    .address_towards(&u.addr)
                    .map(|a| a.addr.to_string())
                    .unwrap_or_else(|| "<the director's address on this network>".into());
                let ip = if u.addr.is_ipv6() { "ip -6" } else { "ip" };
                let _ = writeln!(out, "    {ip} route add default via {via}");
            }
        }
    }
    out
}

/// Findings on a real server (`doctor --real`): the reals of the
/// configuration that have an address here, or all of them when none has.
pub fn real(config: &Config, facts: &Facts) -> Vec<Finding> {
    let mut f = Vec::new();
    let uses = real_uses(config);
    let here: Vec<&RealUse> = uses
        .iter()
        .filter(|u| facts.has_addr(&u.addr).is_some())
        .collect();
    let chosen: Vec<&RealUse> = if here.is_empty() {
        f.push(Finding::info(
            "no real server of the configuration has an address on this host; checking what every real needs",
        ));
        uses.iter().collect()
    } else {
        here
    };
    let mut checked_arp = BTreeSet::new();
    let mut checked_vip = BTreeSet::new();
    for u in chosen {
        let own_dev = facts
            .has_addr(&u.addr)
            .map(|a| a.iface.clone())
            .unwrap_or_else(|| "all".into());
        match u.forward {
            Forward::Gate | Forward::Ipip => {
                let dev = match (u.forward, u.addr) {
                    (Forward::Gate, _) => "lo",
                    (_, IpAddr::V4(_)) => "tunl0",
                    (_, IpAddr::V6(_)) => "ip6tnl0",
                };
                for vip in vip_list(u) {
                    if !checked_vip.insert((vip, dev)) {
                        continue;
                    }
                    if facts.on_iface(dev, &vip) {
                        f.push(Finding::ok(format!("VIP {vip} is on {dev} ({})", u.forward.as_str())));
                    } else {
                        let (cmd, len) = if vip.is_ipv4() {
                            ("ip addr add", 32)
                        } else {
                            ("ip -6 addr add", 128)
                        };
                        f.push(Finding::problem(format!(
                            "VIP {vip} is not on {dev}; real {} ({}) drops the packets the director \
                             forwards: {cmd} {vip}/{len} dev {dev}",
                            u.addr,
                            u.forward.as_str()
                        )));
                    }
                }
                if u.forward == Forward::Ipip && u.addr.is_ipv4() {
                    match facts.conf_max("tunl0", "rp_filter") {
                        Some(0) => f.push(Finding::ok("rp_filter is 0 for tunl0 (ipip)")),
                        Some(n) => f.push(Finding::problem(format!(
                            "rp_filter is {n} for tunl0; decapsulated packets \
                             are dropped: sysctl -w net.ipv4.conf.tunl0.rp_filter=0 net.ipv4.conf.all.rp_filter=0"
                        ))),
                        None => f.push(Finding::problem(
                            "tunl0 does not exist: modprobe ipip; ip link set tunl0 up",
                        )),
                    }
                }
                if u.addr.is_ipv4() && checked_arp.insert(own_dev.clone()) {
                    match facts.conf_max(&own_dev, "arp_ignore") {
                        Some(1 | 2) => f.push(Finding::ok(format!(
                            "arp_ignore is right for {own_dev} (the real does not answer ARP for the VIP)"
                        ))),
                        v => f.push(Finding::problem(format!(
                            "arp_ignore is {} for {own_dev}; this real answers \
                             ARP for the VIP and steals its traffic: sysctl -w net.ipv4.conf.all.arp_ignore=1",
                            v.map(|n| n.to_string()).unwrap_or_else(|| "unreadable".into())
                        ))),
                    }
                    match facts.conf_max(&own_dev, "arp_announce") {
                        Some(2) => f.push(Finding::ok(format!("arp_announce is 2 for {own_dev}"))),
                        v => f.push(Finding::problem(format!(
                            "arp_announce is {} for {own_dev}; the VIP leaks \
                             into ARP requests: sysctl -w net.ipv4.conf.all.arp_announce=2",
                            v.map(|n| n.to_string()).unwrap_or_else(|| "unreadable".into())
                        ))),
                    }
                }
            }
            Forward::Masq => f.push(Finding::info(format!(
                "real {} (masq): replies must be routed back through the director (its default route)",
                u.addr
            ))),
        }
    }
    f
}

/// Print findings; returns the exit code (1 when there is a problem).
pub fn report(findings: &[Finding]) -> i32 {
    let mut problems = 0;
    for f in findings {
        let tag = match f.level {
            Level::Ok => "ok:     ",
            Level::Info => "info:   ",
            Level::Problem => {
                problems += 1;
                "PROBLEM:"
            }
        };
        println!("{tag} {}", f.text);
    }
    if problems == 0 {
        println!("no problems found");
        0
    } else {
        println!("{problems} problem(s) found");
        1
    }
}

/// `doctor` (director) or `doctor --real`.
pub fn run(config: &Config, real_side: bool) -> i32 {
    let facts = Facts::gather(!real_side);
    if real_side {
        println!(
            "ldirectord doctor --real for {} (run on a real server)",
            config.path.display()
        );
        return report(&real(config, &facts));
    }
    println!(
        "ldirectord doctor for {} (the director)",
        config.path.display()
    );
    let code = report(&director(config, &facts));
    let setup = real_setup(config, &facts);
    if !setup.is_empty() {
        println!();
        println!("What each real server needs (check there with: ldirectord <configfile> doctor --real):");
        print!("{setup}");
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load_str, Options};

    fn config(text: &str) -> Config {
        load_str(
            text,
            std::path::Path::new("doctor-test.cf"),
            &Options::default(),
        )
        .expect("valid")
        .config
    }

    fn addr(iface: &str, a: &str, prefix: u8) -> LocalAddr {
        LocalAddr {
            iface: iface.into(),
            addr: a.parse().unwrap(),
            prefix,
        }
    }

    fn facts(addrs: Vec<LocalAddr>, sysctls: &[(&str, &str)]) -> Facts {
        Facts {
            ipvs: Some(Ok(())),
            addrs,
            sysctls: sysctls
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Facts::default()
        }
    }

    fn problems(f: &[Finding]) -> Vec<String> {
        f.iter()
            .filter(|f| f.level == Level::Problem)
            .map(|f| f.text.clone())
            .collect()
    }

    const GATE: &str = "virtual=192.0.2.10:80\n\treal=192.0.2.21:80 gate\n\tchecktype=off\n";
    const MASQ: &str = "virtual=198.51.100.100:80\n\treal=192.0.2.21:80 masq\n\tchecktype=off\n";
    const IPIP: &str = "virtual=203.0.113.10:80\n\treal=192.0.2.21:80 ipip\n\tchecktype=off\n";

    #[test]
    fn director_missing_vip_is_a_problem_naming_it() {
        let c = config(GATE);
        let f = facts(vec![addr("eth0", "192.0.2.1", 24)], &[]);
        let p = problems(&director(&c, &f));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("VIP 192.0.2.10"), "{}", p[0]);
        let f = facts(
            vec![
                addr("eth0", "192.0.2.1", 24),
                addr("eth0", "192.0.2.10", 32),
            ],
            &[],
        );
        assert!(problems(&director(&c, &f)).is_empty());
    }

    #[test]
    fn director_without_ipvs_is_a_problem() {
        let c = config(GATE);
        let mut f = facts(vec![addr("eth0", "192.0.2.10", 32)], &[]);
        f.ipvs = Some(Err("no IPVS".into()));
        let p = problems(&director(&c, &f));
        assert!(p.len() == 1 && p[0].contains("IPVS"), "{p:?}");
    }

    #[test]
    fn fwmark_virtuals_need_no_vip() {
        let c = config("virtual=1\n\treal=192.0.2.21 gate\n\tchecktype=off\n\tprotocol=fwm\n");
        let f = facts(vec![], &[]);
        assert!(problems(&director(&c, &f)).is_empty());
        assert!(real_setup(&c, &f).contains("<each address your firewall marks>"));
    }

    #[test]
    fn masq_needs_ip_forward() {
        let c = config(MASQ);
        let vip = addr("vcli", "198.51.100.100", 32);
        let f = facts(vec![vip.clone()], &[("net.ipv4.ip_forward", "0")]);
        let p = problems(&director(&c, &f));
        assert!(p.len() == 1 && p[0].contains("ip_forward"), "{p:?}");
        let f = facts(vec![vip.clone()], &[("net.ipv4.ip_forward", "1")]);
        assert!(problems(&director(&c, &f)).is_empty());
        // Gate needs no forwarding.
        let c = config(GATE);
        let f = facts(
            vec![addr("eth0", "192.0.2.10", 32)],
            &[("net.ipv4.ip_forward", "0")],
        );
        assert!(problems(&director(&c, &f)).is_empty());
    }

    #[test]
    fn conntrack_and_expire_are_information_only() {
        let c = config(MASQ);
        let mut f = facts(
            vec![addr("vcli", "198.51.100.100", 32)],
            &[
                ("net.ipv4.ip_forward", "1"),
                ("net.ipv4.vs.conntrack", "0"),
                ("net.ipv4.vs.expire_nodest_conn", "0"),
            ],
        );
        f.nat_rules = true;
        let all = director(&c, &f);
        assert!(problems(&all).is_empty());
        assert!(all
            .iter()
            .any(|x| x.level == Level::Info && x.text.contains("conntrack")));
        assert!(all.iter().any(|x| x.text.contains("expire_nodest_conn=1")));
    }

    #[test]
    fn setup_commands_per_forwarding_method() {
        let f = facts(vec![addr("br-rs", "192.0.2.1", 24)], &[]);
        let gate = real_setup(&config(GATE), &f);
        assert!(gate.contains("ip addr add 192.0.2.10/32 dev lo"), "{gate}");
        assert!(gate.contains("net.ipv4.conf.all.arp_ignore=1"), "{gate}");
        assert!(gate.contains("net.ipv4.conf.all.arp_announce=2"), "{gate}");
        assert!(gate.contains("net.ipv4.conf.lo.arp_ignore=1"), "{gate}");
        let ipip = real_setup(&config(IPIP), &f);
        for want in [
            "modprobe ipip",
            "ip link set tunl0 up",
            "ip addr add 203.0.113.10/32 dev tunl0",
            "rp_filter=0",
            "arp_ignore=1",
        ] {
            assert!(ipip.contains(want), "{want} not in {ipip}");
        }
        let masq = real_setup(&config(MASQ), &f);
        assert!(
            masq.contains("ip route add default via 192.0.2.1"),
            "{masq}"
        );
        let masq = real_setup(&config(MASQ), &facts(vec![], &[]));
        assert!(
            masq.contains("the director's address on this network"),
            "{masq}"
        );
    }

    #[test]
    fn real_side_finds_missing_vip_and_wrong_arp_ignore() {
        let c = config(GATE);
        let own = addr("eth0", "192.0.2.21", 24);
        let good = [
            ("net.ipv4.conf.all.arp_ignore", "1"),
            ("net.ipv4.conf.eth0.arp_ignore", "0"),
            ("net.ipv4.conf.all.arp_announce", "2"),
            ("net.ipv4.conf.eth0.arp_announce", "0"),
        ];
        let f = facts(vec![own.clone(), addr("lo", "192.0.2.10", 32)], &good);
        assert!(problems(&real(&c, &f)).is_empty(), "{:?}", real(&c, &f));
        // VIP missing on lo.
        let f = facts(vec![own.clone()], &good);
        let p = problems(&real(&c, &f));
        assert!(
            p.len() == 1 && p[0].contains("VIP 192.0.2.10 is not on lo"),
            "{p:?}"
        );
        // arp_ignore 0 everywhere.
        let mut bad = good;
        bad[0].1 = "0";
        let f = facts(vec![own.clone(), addr("lo", "192.0.2.10", 32)], &bad);
        let p = problems(&real(&c, &f));
        assert!(p.len() == 1 && p[0].contains("arp_ignore is 0"), "{p:?}");
        // The device's own setting counts too (max of all and device).
        let mut dev = bad;
        dev[1].1 = "1";
        let f = facts(vec![own, addr("lo", "192.0.2.10", 32)], &dev);
        assert!(problems(&real(&c, &f)).is_empty());
    }

    #[test]
    fn real_side_ipip_needs_tunl0_and_rp_filter() {
        let c = config(IPIP);
        let arp = [
            ("net.ipv4.conf.all.arp_ignore", "1"),
            ("net.ipv4.conf.all.arp_announce", "2"),
        ];
        let mut s: Vec<(&str, &str)> = arp.to_vec();
        s.push(("net.ipv4.conf.all.rp_filter", "1"));
        s.push(("net.ipv4.conf.tunl0.rp_filter", "0"));
        let own = addr("eth0", "192.0.2.21", 24);
        let f = facts(vec![own.clone(), addr("tunl0", "203.0.113.10", 32)], &s);
        let p = problems(&real(&c, &f));
        assert!(p.len() == 1 && p[0].contains("rp_filter is 1"), "{p:?}");
        s[2].1 = "0";
        let f = facts(vec![own, addr("tunl0", "203.0.113.10", 32)], &s);
        assert!(problems(&real(&c, &f)).is_empty(), "{:?}", real(&c, &f));
    }

    #[test]
    fn real_side_with_no_local_real_checks_all() {
        let c = config(GATE);
        let f = facts(vec![], &[]);
        let all = real(&c, &f);
        assert!(all[0].level == Level::Info);
        assert!(!problems(&all).is_empty());
    }

    #[test]
    fn syncdaemon_interface_must_exist_be_up_and_multicast() {
        let c = config(&format!("syncdaemon=both eth1 syncid=10\n{GATE}"));
        let mut f = facts(vec![addr("eth0", "192.0.2.10", 32)], &[]);
        let p = problems(&director(&c, &f));
        assert!(
            p.len() == 1 && p[0].contains("eth1 does not exist"),
            "{p:?}"
        );
        let iface = |up, multicast| Interface {
            name: "eth1".into(),
            up,
            multicast,
        };
        f.interfaces = vec![iface(false, true)];
        let p = problems(&director(&c, &f));
        assert!(
            p.len() == 1 && p[0].contains("ip link set eth1 up"),
            "{p:?}"
        );
        f.interfaces = vec![iface(true, false)];
        let p = problems(&director(&c, &f));
        assert!(p.len() == 1 && p[0].contains("multicast on"), "{p:?}");
        f.interfaces = vec![iface(true, true)];
        let all = director(&c, &f);
        assert!(problems(&all).is_empty());
        assert!(all
            .iter()
            .any(|x| x.text == "syncdaemon interface eth1 is up with multicast"));
    }

    #[test]
    fn hashing_schedulers_are_told_about_sloppy_tcp() {
        let c = config(&format!("{GATE}\tscheduler=mh\n"));
        let f = facts(
            vec![addr("eth0", "192.0.2.10", 32)],
            &[("net.ipv4.vs.sloppy_tcp", "0")],
        );
        let all = director(&c, &f);
        assert!(problems(&all).is_empty());
        assert!(all.iter().any(
            |x| x.level == Level::Info && x.text.contains("sysctl -w net.ipv4.vs.sloppy_tcp=1")
        ));
        // Not for other schedulers.
        let all = director(&config(GATE), &f);
        assert!(!all.iter().any(|x| x.text.contains("sloppy_tcp")));
    }

    #[test]
    fn getifaddrs_sees_every_interface() {
        let all = interfaces();
        assert!(
            all.is_empty() || all.iter().any(|i| i.name == "lo" && i.up),
            "{all:?}"
        );
    }

    #[test]
    fn network_membership() {
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(same_net(&a, &"192.0.2.200".parse().unwrap(), 24));
        assert!(!same_net(&a, &"198.51.100.1".parse().unwrap(), 24));
        assert!(same_net(&a, &"198.51.100.1".parse().unwrap(), 0));
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(same_net(&b, &"2001:db8::ff".parse().unwrap(), 64));
        assert!(!same_net(&b, &"2001:db8:1::1".parse().unwrap(), 64));
    }

    #[test]
    fn getifaddrs_sees_loopback() {
        let addrs = local_addrs();
        assert!(
            addrs.is_empty() || addrs.iter().any(|a| a.addr.is_loopback()),
            "{addrs:?}"
        );
    }
}
