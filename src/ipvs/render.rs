//! Text of the live table in the layouts of `ipvsadm -Ln` and
//! `ipvsadm -Ln --stats`, and of the sync daemons as `ipvsadm -L --daemon`
//! (ipvsadm 1.31, `ipvsadm.c` `list_all`,
//! `print_title`, `print_service_entry`, `print_largenum`; the formats were
//! read there and re-expressed here).
//!
//! Owns: column widths, the sort order (`libipvs.c` `ipvs_cmp_services` /
//! `ipvs_cmp_dests`: fwmark, AF, protocol, address, port), the K/M/G
//! scaling of `--stats`, and ipvsadm's quirks (trailing blanks after the
//! last column, `pe` printed only for persistent services, a v6 netmask as
//! a bare prefix length). Must not: fetch anything; it renders what it is
//! given.

use std::fmt::Write as _;

use super::types::*;

/// `ipvsadm -Ln`.
pub fn list(info: &Info, table: &[ServiceEntry]) -> String {
    render(info, table, Format::Plain)
}

/// `ipvsadm -Ln --stats`.
pub fn list_stats(info: &Info, table: &[ServiceEntry]) -> String {
    render(info, table, Format::Stats)
}

/// `ipvsadm -L --daemon`: one line per running sync daemon, the master
/// first; nothing when none runs.
pub fn daemons(list: &[SyncDaemon]) -> String {
    let mut sorted: Vec<&SyncDaemon> = list.iter().collect();
    sorted.sort_by_key(|d| d.state.to_wire());
    sorted.iter().map(|d| format!("{d}\n")).collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Plain,
    Stats,
}

fn render(info: &Info, table: &[ServiceEntry], fmt: Format) -> String {
    let mut out = String::new();
    let (maj, min, patch) = info.version_triple();
    let _ = writeln!(
        out,
        "IP Virtual Server version {maj}.{min}.{patch} (size={})",
        info.conn_tab_size
    );
    match fmt {
        Format::Plain => {
            out.push_str("Prot LocalAddress:Port Scheduler Flags\n");
            out.push_str("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
        }
        Format::Stats => {
            let _ = writeln!(
                out,
                "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}",
                "Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
            );
            out.push_str("  -> RemoteAddress:Port\n");
        }
    }
    let mut services: Vec<&ServiceEntry> = table.iter().collect();
    services.sort_by_key(|e| e.service.key.ipvsadm_order());
    for e in services {
        service_block(&mut out, e, fmt);
    }
    out
}

/// `TCP  192.0.2.1:80`, `FWM  7`, `FWM  7 IPv6`: the first column.
fn service_name(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Fwmark {
            family: Family::Inet,
            mark,
        } => format!("FWM  {mark}"),
        ServiceKey::Fwmark {
            family: Family::Inet6,
            mark,
        } => format!("FWM  {mark} IPv6"),
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            let mut s = format!("{:<4} {}", protocol.ipvsadm_name(), HostPort(addr, *port));
            // ipvsadm cuts non-v6 names at 33 characters (never reached).
            if !addr.is_ipv6() {
                s.truncate(33);
            }
            s
        }
    }
}

/// `-b` flags as ipvsadm names them for this scheduler.
fn sched_flags(s: &Service) -> String {
    let f = s.flags;
    let names: &[(ServiceFlags, &str)] = match s.scheduler.as_str() {
        "sh" => &[
            (ServiceFlags::SH_FALLBACK, "sh-fallback"),
            (ServiceFlags::SH_PORT, "sh-port"),
        ],
        "mh" => &[
            (ServiceFlags::MH_FALLBACK, "mh-fallback"),
            (ServiceFlags::MH_PORT, "mh-port"),
        ],
        _ => &[
            (ServiceFlags::SCHED1, "flag-1"),
            (ServiceFlags::SCHED2, "flag-2"),
            (ServiceFlags::SCHED3, "flag-3"),
        ],
    };
    names
        .iter()
        .filter(|(b, _)| f.contains(*b))
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

fn service_block(out: &mut String, e: &ServiceEntry, fmt: Format) {
    let s = &e.service;
    let name = service_name(&s.key);
    match fmt {
        Format::Plain => {
            let _ = write!(out, "{name} {}", s.scheduler);
            let any_sched = ServiceFlags::SCHED1 | ServiceFlags::SCHED2 | ServiceFlags::SCHED3;
            if s.flags.bits() & any_sched.bits() != 0 {
                let _ = write!(out, " ({})", sched_flags(s));
            }
            if s.flags.contains(ServiceFlags::PERSISTENT) {
                let _ = write!(out, " persistent {}", s.timeout);
                match (s.key.family(), s.netmask) {
                    (Family::Inet, Netmask::V4(m)) if m.octets() != [255; 4] => {
                        let _ = write!(out, " mask {m}");
                    }
                    (Family::Inet6, Netmask::V6(p)) if p != 128 => {
                        let _ = write!(out, " mask {}", p as i32);
                    }
                    _ => {}
                }
                if let Some(pe) = &s.pe_name {
                    let _ = write!(out, " pe {pe}");
                }
            }
            if s.flags.contains(ServiceFlags::ONEPACKET) {
                out.push_str(" ops");
            }
        }
        Format::Stats => {
            let _ = write!(out, "{name:<33}");
            for v in [
                e.stats.conns,
                e.stats.inpkts,
                e.stats.outpkts,
                e.stats.inbytes,
                e.stats.outbytes,
            ] {
                largenum(out, v);
            }
        }
    }
    out.push('\n');

    let mut dests: Vec<&DestEntry> = e.dests.iter().collect();
    dests.sort_by_key(|d| d.dest.key.ipvsadm_order());
    for d in dests {
        let mut dname = d.dest.key.to_string();
        if !d.dest.key.addr.is_ipv6() {
            dname.truncate(28);
        }
        match fmt {
            Format::Plain => {
                let _ = writeln!(
                    out,
                    "  -> {:<28} {:<7} {:<6} {:<10} {:<10}",
                    dname,
                    d.dest.forward.ipvsadm_name(),
                    d.dest.weight as i32,
                    d.conns.active,
                    d.conns.inactive
                );
            }
            Format::Stats => {
                let _ = write!(out, "  -> {dname:<28}");
                let st = &d.stats;
                for v in [st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes] {
                    largenum(out, v);
                }
                out.push('\n');
            }
        }
    }
}

/// ipvsadm's `print_largenum` without `--exact`: 9 columns, scaled by
/// 1000 with a K/M/G/T suffix once the number stops fitting.
fn largenum(out: &mut String, i: u64) {
    let _ = if i < 100_000_000 {
        write!(out, "{i:>9}")
    } else if i < 1_000_000_000 {
        write!(out, "{:>8}K", i / 1_000)
    } else if i < 100_000_000_000 {
        write!(out, "{:>8}M", i / 1_000_000)
    } else if i < 100_000_000_000_000 {
        write!(out, "{:>8}G", i / 1_000_000_000)
    } else {
        write!(out, "{:>8}T", i / 1_000_000_000_000)
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn dest(addr: &str, port: u16, fwd: Forward, w: u32, a: u32, i: u32) -> DestEntry {
        DestEntry {
            dest: Dest::new(DestKey::new(ip(addr), port), fwd).weight(w),
            conns: ConnCounts {
                active: a,
                inactive: i,
                persistent: 0,
            },
            stats: Stats::default(),
        }
    }

    fn entry(service: Service, dests: Vec<DestEntry>) -> ServiceEntry {
        ServiceEntry {
            service,
            stats: Stats::default(),
            dests,
        }
    }

    const INFO: Info = Info {
        version: 0x010201,
        conn_tab_size: 4096,
    };

    fn sample() -> Vec<ServiceEntry> {
        vec![
            entry(
                Service::new(ServiceKey::udp(ip("2001:db8::1"), 53), "rr")
                    .flags(ServiceFlags::ONEPACKET),
                vec![dest("2001:db8::11", 53, Forward::Masq, 1, 0, 0)],
            ),
            entry(
                Service::new(ServiceKey::fwmark(Family::Inet6, 7), "wrr"),
                vec![],
            ),
            entry(
                Service::new(ServiceKey::tcp(ip("192.0.2.10"), 80), "wlc")
                    .persistent(300)
                    .netmask(Netmask::V4(Ipv4Addr::new(255, 255, 255, 0))),
                // dumped newest first; ipvsadm sorts them
                vec![
                    dest("192.0.2.12", 80, Forward::Route, 0, 0, 0),
                    dest("192.0.2.11", 80, Forward::Route, 5, 12, 345),
                ],
            ),
            entry(
                Service::new(ServiceKey::tcp(ip("192.0.2.10"), 443), "sh")
                    .flags(ServiceFlags::SH_FALLBACK | ServiceFlags::SH_PORT),
                vec![
                    dest("198.51.100.7", 443, Forward::Tunnel, 2, 0, 0),
                    dest("192.0.2.13", 443, Forward::Local, 1, 0, 0),
                ],
            ),
            entry(
                Service::new(ServiceKey::fwmark(Family::Inet, 3), "mh")
                    .flags(ServiceFlags::MH_PORT)
                    .persistent(60)
                    .pe("sip"),
                vec![],
            ),
            entry(
                Service::new(ServiceKey::sctp(ip("2001:db8::2"), 3868), "lc")
                    .persistent(30)
                    .netmask(Netmask::V6(64))
                    .flags(ServiceFlags::SCHED3),
                vec![],
            ),
        ]
    }

    #[test]
    fn ipvsadm_ln_golden() {
        let want = "\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  192.0.2.10:80 wlc persistent 300 mask 255.255.255.0
  -> 192.0.2.11:80                Route   5      12         345       
  -> 192.0.2.12:80                Route   0      0          0         
TCP  192.0.2.10:443 sh (sh-fallback,sh-port)
  -> 192.0.2.13:443               Local   1      0          0         
  -> 198.51.100.7:443             Tunnel  2      0          0         
UDP  [2001:db8::1]:53 rr ops
  -> [2001:db8::11]:53            Masq    1      0          0         
SCTP [2001:db8::2]:3868 lc (flag-3) persistent 30 mask 64
FWM  3 mh (mh-port) persistent 60 pe sip
FWM  7 IPv6 wrr
";
        assert_eq!(list(&INFO, &sample()), want);
    }

    #[test]
    fn ipvsadm_ln_stats_golden() {
        let mut t = sample();
        t.truncate(1);
        t[0].stats = Stats {
            conns: 7,
            inpkts: 123_456_789,
            outpkts: 99_999_999,
            inbytes: 12_345_678_901,
            outbytes: 123_456_789_012_345,
            ..Stats::default()
        };
        t[0].dests[0].stats = Stats {
            conns: 7,
            inpkts: 1_000_000_000,
            ..Stats::default()
        };
        let want = "\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
UDP  [2001:db8::1]:53                    7  123456K 99999999   12345M     123T
  -> [2001:db8::11]:53                   7    1000M        0        0        0
";
        assert_eq!(list_stats(&INFO, &t), want);
    }

    #[test]
    fn largenum_boundaries() {
        let cases = [
            (0u64, "        0"),
            (99_999_999, " 99999999"),
            (100_000_000, "  100000K"),
            (999_999_999, "  999999K"),
            (1_000_000_000, "    1000M"),
            (99_999_999_999, "   99999M"),
            (100_000_000_000, "      100G"),
            (100_000_000_000_000, "      100T"),
        ];
        for (n, want) in cases {
            let mut s = String::new();
            largenum(&mut s, n);
            assert_eq!(s, format!("{:>9}", want.trim_start()), "{n}");
        }
    }

    /// Golden: ipvsadm 1.31 on Linux 6.1 printed exactly these two lines
    /// for `--start-daemon master --mcast-interface s0` and `--start-daemon
    /// backup --mcast-interface s0 --syncid 5 --sync-maxlen 1400
    /// --mcast-port 8850 --mcast-ttl 2`.
    #[test]
    fn ipvsadm_l_daemon_golden() {
        let full = |state, id, maxlen, port, ttl| SyncDaemon {
            sync_maxlen: Some(maxlen),
            mcast_group: Some(ip("224.0.0.81")),
            mcast_port: Some(port),
            mcast_ttl: Some(ttl),
            ..SyncDaemon::new(state, "s0", id)
        };
        let list = [
            full(SyncState::Backup, 5, 1400, 8850, 2),
            full(SyncState::Master, 0, 1472, 8848, 1),
        ];
        assert_eq!(
            daemons(&list),
            "master sync daemon (mcast=s0, syncid=0, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n\
             backup sync daemon (mcast=s0, syncid=5, maxlen=1400, group=224.0.0.81, port=8850, ttl=2)\n"
        );
        assert_eq!(daemons(&[]), "");
    }

    #[test]
    fn empty_table() {
        assert_eq!(
            list(&INFO, &[]),
            "IP Virtual Server version 1.2.1 (size=4096)\n\
             Prot LocalAddress:Port Scheduler Flags\n  \
             -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
        );
    }
}
