//! What pulse did and ldirectord does not — director failover — as a
//! companion for the tool that does it now (reference §7, §12, §13.5):
//! keepalived VRRP instances (one file per director) or the `pcs`
//! commands of a Pacemaker cluster. The VIPs, the NAT router, the sync
//! daemon's role, IPVS timeouts and the active/inactive commands go here.
//!
//! Pure: texts only.

use std::net::Ipv4Addr;

use super::check::{comment_safe, sh_quote};
use super::emit::netmask_prefix;
use super::read::{LvsCf, Network};
use super::{Companion, Options};

/// An address pulse raised on the active director.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vip {
    pub ip: Ipv4Addr,
    pub prefix: u32,
    /// The prefix is the address class's: pulse gave ifconfig no netmask.
    pub classful: bool,
    /// The device without its `:N` alias.
    pub dev: String,
    /// The alias as written (`eth0:1`), or the device.
    pub label: String,
    /// Where it came from (virtual name or "nat_router") and its line.
    pub from: String,
    pub line: usize,
}

impl Vip {
    pub fn cidr(&self) -> String {
        format!("{}/{}", self.ip, self.prefix)
    }

    /// The alias number of `eth0:1` (`1`), for IPaddr2's `iflabel`.
    pub fn alias(&self) -> Option<&str> {
        self.label.split_once(':').map(|(_, n)| n)
    }
}

/// The prefix ifconfig gives an address without a netmask.
fn classful(ip: Ipv4Addr) -> u32 {
    match ip.octets()[0] {
        0..=127 => 8,
        128..=191 => 16,
        192..=223 => 24,
        _ => 32,
    }
}

fn vip(ip: Ipv4Addr, mask: Option<Ipv4Addr>, label: &str, from: String, line: usize) -> Vip {
    let (prefix, classful) = match mask.filter(|m| !m.is_unspecified()) {
        Some(m) => (
            netmask_prefix(m).unwrap_or(u32::from(m).count_ones()),
            false,
        ),
        None => (classful(ip), true),
    };
    Vip {
        ip,
        prefix,
        classful,
        dev: label.split(':').next().unwrap_or(label).to_string(),
        label: label.to_string(),
        from,
        line,
    }
}

/// Each distinct VIP of an active virtual (the first virtual's device
/// wins, as in pulse), then the NAT router when network = nat.
pub fn vips(cf: &LvsCf) -> Vec<Vip> {
    let mut out: Vec<Vip> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for v in cf.virtuals.iter().filter(|v| !v.failover && v.active()) {
        let Some(a) = &v.address else { continue };
        let (host, label) = &a.value;
        if host.ip.is_unspecified() || !seen.insert(host.ip) {
            continue;
        }
        out.push(vip(
            host.ip,
            v.vip_nmask.as_ref().map(|m| m.value),
            label,
            format!("virtual {}", v.name),
            v.line,
        ));
    }
    if cf.global.network() == Network::Nat {
        if let Some(nr) = &cf.global.nat_router {
            let (host, label) = &nr.value;
            if !seen.contains(&host.ip) {
                out.push(vip(
                    host.ip,
                    cf.global.nat_nmask.as_ref().map(|m| m.value),
                    label,
                    "nat_router".into(),
                    nr.line,
                ));
            }
        }
    }
    out
}

/// VRRP advertisement interval from pulse's deadtime: the backup declares
/// the master dead after about three missed adverts.
fn advert_int(deadtime: i32) -> i32 {
    ((f64::from(deadtime) / 3.0).round() as i32).clamp(1, 255)
}

/// The directors of the pair: (primary, backup if it ever took over).
fn pair(cf: &LvsCf) -> (Option<Ipv4Addr>, Option<Ipv4Addr>) {
    let g = &cf.global;
    let primary = g.primary.as_ref().map(|p| p.value.ip);
    let backup = g
        .backup
        .as_ref()
        .map(|b| b.value.ip)
        .filter(|ip| !ip.is_unspecified() && g.backup_active());
    (primary, backup)
}

fn header(lines: &mut Vec<String>, name: &str, opts: &Options, what: &str) {
    lines.push(format!(
        "# {name} - {what}, converted from {} by \"ldirectord convert\"",
        comment_safe(&opts.source),
    ));
}

/// keepalived.conf for each director: VRRP holds the addresses only (no
/// `virtual_server`: ldirectord-rs programs IPVS on both directors from
/// the same ldirectord.cf).
pub fn keepalived(cf: &LvsCf, opts: &Options) -> Vec<Companion> {
    // Without an address there is nothing for VRRP to move.
    if vips(cf).is_empty() {
        return Vec::new();
    }
    let (primary, backup) = pair(cf);
    let mut out = vec![keepalived_for(cf, opts, true, primary, backup)];
    if backup.is_some() {
        out.push(keepalived_for(cf, opts, false, backup, primary));
    }
    out
}

fn keepalived_for(
    cf: &LvsCf,
    opts: &Options,
    is_primary: bool,
    me: Option<Ipv4Addr>,
    peer: Option<Ipv4Addr>,
) -> Companion {
    let g = &cf.global;
    let role = if is_primary { "primary" } else { "backup" };
    let path = opts.placement.companion(&format!("keepalived-{role}.conf"));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let vips = vips(cf);
    let mut l = Vec::new();
    header(
        &mut l,
        &name,
        opts,
        "director failover (pulse's part of Piranha)",
    );
    l.push("#".into());
    l.push(format!(
        "# keepalived.conf for the {role} director{}: the VIPs follow the active",
        me.map(|m| format!(" ({m})")).unwrap_or_default()
    ));
    l.push("# director, as with pulse. keepalived holds only the addresses; ldirectord-rs".into());
    l.push(format!(
        "# runs on both directors with {} and programs IPVS.",
        opts.placement.cf_path().display()
    ));
    match (is_primary, peer) {
        (true, Some(p)) => l.push(format!(
            "# The backup director ({p}) gets {}.",
            opts.placement.companion("keepalived-backup.conf").display()
        )),
        (true, None) => l.push(
            "# lvs.cf has no active backup (backup_active = 0 or no backup): one director.".into(),
        ),
        (false, _) => {}
    }
    l.push("# Both are BACKUP with nopreempt: like pulse, a director that comes back does".into());
    l.push("# not take the addresses back. The primary's higher priority decides when both".into());
    l.push("# start together. Choose a virtual_router_id no other VRRP router on this".into());
    l.push("# network uses.".into());
    if vips.iter().any(|v| v.classful) {
        l.push("# A VIP without vip_nmask got its address class's netmask from ifconfig;".into());
        l.push("# that prefix is written here: check it.".into());
    }
    l.push(String::new());

    let mut defs = Vec::new();
    let t = [
        ("tcp", &g.tcp_timeout),
        ("tcpfin", &g.tcpfin_timeout),
        ("udp", &g.udp_timeout),
    ];
    let set: Vec<String> = t
        .iter()
        .filter_map(|(n, v)| {
            v.as_ref()
                .filter(|v| v.value > 0)
                .map(|v| format!("{n} {}", v.value))
        })
        .collect();
    if !set.is_empty() {
        defs.push("    # lvsd ran \"ipvsadm --set\" with these at every start".into());
        defs.push(format!("    lvs_timeouts {}", set.join(" ")));
    }
    if g.syncdaemon() {
        defs.push(
            "    # syncdaemon = 1: master on the active director, backup on the other, as pulse"
                .into(),
        );
        let iface = g.syncd_iface();
        let line = format!("lvs_sync_daemon {iface} LVS id {}", g.syncd_id());
        if !iface.is_empty() && iface.len() <= 15 && !iface.contains(['/', ':']) {
            defs.push(format!("    {line}"));
        } else {
            defs.push(
                "    # syncd_iface is not an interface name: correct it and uncomment".into(),
            );
            defs.push(format!("    # {line}"));
        }
    }
    if !defs.is_empty() {
        l.push("global_defs {".into());
        l.extend(defs);
        l.push("}".into());
        l.push(String::new());
    }

    let iface = vips
        .first()
        .map(|v| v.dev.clone())
        .unwrap_or_else(|| "eth0".into());
    l.push("vrrp_instance LVS {".into());
    l.push("    state BACKUP".into());
    l.push("    nopreempt".into());
    l.push(format!("    interface {iface}"));
    l.push("    virtual_router_id 51".into());
    l.push(format!(
        "    priority {}",
        if is_primary { 150 } else { 100 }
    ));
    l.push(format!(
        "    # pulse: heartbeat every {} s, partner dead after {} s; VRRP: after ~3 adverts",
        g.keepalive(),
        g.deadtime()
    ));
    l.push(format!("    advert_int {}", advert_int(g.deadtime())));
    if let (Some(me), Some(peer)) = (me, peer) {
        l.push(format!("    unicast_src_ip {me}"));
        l.push("    unicast_peer {".into());
        l.push(format!("        {peer}"));
        l.push("    }".into());
    }
    if g.monitor_links() {
        // keepalived tracks the instance's own interface anyway (and says
        // so if it is listed).
        let mut devs: Vec<&str> = vips
            .iter()
            .map(|v| v.dev.as_str())
            .filter(|d| *d != iface)
            .collect();
        devs.sort_unstable();
        devs.dedup();
        l.push(format!(
            "    # monitor_links = 1: a link failure gives the addresses up ({iface} is"
        ));
        l.push("    # tracked as the instance's interface)".into());
        if !devs.is_empty() {
            l.push("    track_interface {".into());
            for d in devs {
                l.push(format!("        {d}"));
            }
            l.push("    }".into());
        }
    }
    l.push("    virtual_ipaddress {".into());
    for v in &vips {
        l.push(format!(
            "        # {} (lvs.cf line {})",
            comment_safe(&v.from),
            v.line
        ));
        let label = if v.label.contains(':') {
            format!(" label {}", v.label)
        } else {
            String::new()
        };
        l.push(format!("        {} dev {}{label}", v.cidr(), v.dev));
    }
    l.push("    }".into());
    for (key, cmd) in [
        ("notify_master", &g.active_cmd),
        ("notify_backup", &g.inactive_cmd),
    ] {
        if let Some(c) = cmd {
            l.push(format!(
                "    # {} (line {}); pulse also re-ran active_cmd whenever it heard the other",
                if key == "notify_master" {
                    "active_cmd"
                } else {
                    "inactive_cmd"
                },
                c.line
            ));
            l.push("    # director claim to be active".into());
            l.push(format!("    {key} \"{}\"", c.value.replace('"', "")));
        }
    }
    l.push("}".into());
    Companion {
        path,
        text: l.join("\n") + "\n",
        mode: 0o644,
        what: "keepalived.conf".into(),
    }
}

/// A script of `pcs` commands (pcs 0.10 or later) for a Pacemaker cluster
/// of both directors: one IPaddr2 per VIP in a group, the ldirectord
/// resource colocated with and ordered after it, resource stickiness for
/// pulse's "no fail back".
pub fn pacemaker(cf: &LvsCf, opts: &Options) -> Vec<Companion> {
    let g = &cf.global;
    let path = opts.placement.companion("pcs.sh");
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut l = vec!["#!/bin/sh".to_string()];
    header(
        &mut l,
        &name,
        opts,
        "director failover (pulse's part of Piranha)",
    );
    l.push("#".into());
    l.push("# The pcs commands (pcs 0.10 or later) that give a Pacemaker cluster of both".into());
    l.push("# directors what pulse did: the VIPs on one director at a time, with".into());
    l.push("# ldirectord-rs beside them. Run it once, on one node of the cluster.".into());
    let (primary, backup) = pair(cf);
    if let Some(p) = primary {
        l.push(format!(
            "# pulse's directors: primary {p}{}.",
            backup.map(|b| format!(", backup {b}")).unwrap_or_default()
        ));
    }
    l.push("set -e".into());
    l.push(String::new());
    let vips = vips(cf);
    for v in &vips {
        l.push(format!(
            "# {} (lvs.cf line {})",
            comment_safe(&v.from),
            v.line
        ));
        if v.classful {
            l.push("# (no vip_nmask: ifconfig used the address class's netmask)".into());
        }
        let mut cmd = format!(
            "pcs resource create lvs-vip-{} ocf:heartbeat:IPaddr2 ip={} cidr_netmask={} nic={}",
            v.ip.to_string().replace('.', "-"),
            v.ip,
            v.prefix,
            sh_quote(&v.dev)
        );
        if let Some(alias) = v.alias() {
            cmd.push_str(&format!(" iflabel={}", sh_quote(alias)));
        }
        cmd.push_str(" op monitor interval=10s --group lvs-vips");
        l.push(cmd);
    }
    l.push(String::new());
    l.push("# ldirectord-rs, through the OCF resource agent of resource-agents".into());
    l.push(format!(
        "pcs resource create lvs-ldirectord ocf:heartbeat:ldirectord configfile={} \
         op monitor interval=20s timeout=10s",
        sh_quote(&opts.placement.cf_path().display().to_string())
    ));
    if !vips.is_empty() {
        l.push("pcs constraint colocation add lvs-ldirectord with lvs-vips INFINITY".into());
        l.push("pcs constraint order lvs-vips then lvs-ldirectord".into());
    }
    l.push("# pulse did not fail back: resources stay where they run".into());
    l.push("pcs resource defaults update resource-stickiness=100".into());
    let t: Vec<String> = [
        ("tcp_timeout", &g.tcp_timeout),
        ("tcpfin_timeout", &g.tcpfin_timeout),
        ("udp_timeout", &g.udp_timeout),
    ]
    .iter()
    .filter_map(|(n, v)| v.as_ref().map(|v| format!("{n} {}", v.value)))
    .collect();
    if !t.is_empty() {
        let v = |x: &Option<super::read::At<i32>>| x.as_ref().map_or(0, |v| v.value);
        l.push(String::new());
        l.push(format!(
            "# {}: lvsd ran this at every start; run it at boot on both directors:",
            t.join(", ")
        ));
        l.push(format!(
            "#   ipvsadm --set {} {} {}",
            v(&g.tcp_timeout),
            v(&g.tcpfin_timeout),
            v(&g.udp_timeout)
        ));
    }
    if g.monitor_links() {
        l.push(String::new());
        l.push("# monitor_links = 1: ocf:heartbeat:ethmonitor can move the VIPs on a link".into());
        l.push("# failure (a location rule on its ethmonitor-DEVICE attribute).".into());
    }
    for (name, cmd) in [
        ("active_cmd", &g.active_cmd),
        ("inactive_cmd", &g.inactive_cmd),
    ] {
        if let Some(c) = cmd {
            l.push(String::new());
            l.push(format!(
                "# {name} = \"{}\" (line {}): no direct equivalent; run it from a Pacemaker",
                comment_safe(&c.value),
                c.line
            ));
            l.push("# alert agent or an ocf:heartbeat:anything resource in the group.".into());
        }
    }
    vec![Companion {
        path,
        text: l.join("\n") + "\n",
        mode: 0o755,
        what: "pcs script".into(),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vrrp_timing_and_prefixes() {
        assert_eq!(advert_int(18), 6);
        assert_eq!(advert_int(5), 2);
        assert_eq!(advert_int(1), 1);
        assert_eq!(advert_int(-3), 1);
        assert_eq!(classful("10.1.2.3".parse().unwrap()), 8);
        assert_eq!(classful("172.16.0.1".parse().unwrap()), 16);
        assert_eq!(classful("192.0.2.1".parse().unwrap()), 24);
        let v = vip(
            "192.0.2.1".parse().unwrap(),
            Some("255.255.240.0".parse().unwrap()),
            "eth0:6",
            "x".into(),
            1,
        );
        assert_eq!(
            (v.cidr().as_str(), v.dev.as_str(), v.alias()),
            ("192.0.2.1/20", "eth0", Some("6"))
        );
    }
}
