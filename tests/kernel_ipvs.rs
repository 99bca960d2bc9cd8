//! Real-kernel tests of `ldirectord::ipvs` (needs root and an IPVS kernel).
//!
//! Each test runs on its own thread inside a fresh network namespace
//! (`unshare(CLONE_NEWNET)`), so tests never see each other's tables nor
//! the host's. Addresses are from the documentation ranges only, and the
//! only traffic (the stats test) stays inside the test's namespace.
//!
//! This machine's kernel has no IPVS; `tests/vm/kernel-tests.sh` builds the
//! test binaries here and runs them in a qemu guest (part of
//! `tests/run-all.sh`).
#![cfg(feature = "kernel-tests")]

use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use ldirectord::ipvs::render;
use ldirectord::ipvs::*;

/// Loads the scheduler and PE modules once, before any test runs.
///
/// Why: when the kernel autoloads `ip_vs_<sched>` it does so under
/// `__ip_vs_mutex`, and the module's init needs `pernet_ops_rwsem` for
/// writing; a concurrent netns teardown (another test finishing) holds that
/// semaphore for reading and waits for `__ip_vs_mutex` in
/// `ip_vs_service_nets_cleanup`. Seen on 6.1 as a hang of two tests running
/// side by side. Preloading takes the module loads out of the race.
fn preload_modules() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut args = vec!["-a", "ip_vs", "ip_vs_pe_sip"];
        let mods: Vec<String> = SCHEDULERS.iter().map(|s| format!("ip_vs_{s}")).collect();
        args.extend(mods.iter().map(String::as_str));
        if let Err(e) = Command::new("modprobe").args(&args).status() {
            eprintln!("modprobe: {e} (relying on autoload)");
        }
    });
}

/// Runs `f` on a new thread inside a new network namespace.
fn in_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    preload_modules();
    std::thread::spawn(move || {
        // SAFETY: plain syscall; it changes only this thread's namespace.
        let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(
            r,
            0,
            "unshare(CLONE_NEWNET): {}",
            std::io::Error::last_os_error()
        );
        // A fresh netns has no local routing table until an interface is
        // up, and then `inet_addr_type` calls every IPv4 address broadcast:
        // IPVS would refuse every dest with EINVAL.
        run("ip", &["link", "set", "lo", "up"]);
        f()
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

fn ipvs() -> NetlinkIpvs {
    NetlinkIpvs::new().expect("IPVS netlink")
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Runs a command in the current thread's netns; panics on failure.
fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn ok_all(results: Vec<Result<()>>) {
    for (i, r) in results.into_iter().enumerate() {
        if let Err(e) = r {
            panic!("op {i}: {e}");
        }
    }
}

/// The dump, configured fields only, sorted for comparison.
fn table(h: &mut NetlinkIpvs) -> Vec<(Service, Vec<Dest>)> {
    let mut t = h.services().unwrap();
    t.sort_by_key(|(s, _)| s.key.ipvsadm_order());
    for (_, d) in &mut t {
        d.sort_by_key(|d| d.key.ipvsadm_order());
    }
    t
}

fn sorted(mut t: Vec<(Service, Vec<Dest>)>) -> Vec<(Service, Vec<Dest>)> {
    t.sort_by_key(|(s, _)| s.key.ipvsadm_order());
    for (_, d) in &mut t {
        d.sort_by_key(|d| d.key.ipvsadm_order());
    }
    t
}

/// Applies `want` (services then dests) and checks the dump equals it
/// after normalising the dest keys as the kernel stores them.
fn install_and_check(h: &mut NetlinkIpvs, want: &[(Service, Vec<Dest>)]) {
    let mut ops = Vec::new();
    for (s, ds) in want {
        ops.push(Op::AddService(s.clone()));
        for d in ds {
            ops.push(Op::AddDest(s.key, d.clone()));
        }
    }
    ok_all(h.apply(&ops));
    let expect: Vec<_> = want
        .iter()
        .map(|(s, ds)| {
            (
                s.clone(),
                ds.iter().map(|d| d.normalized_for(&s.key)).collect(),
            )
        })
        .collect();
    assert_eq!(table(h), sorted(expect));
}

const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
];

#[test]
fn info_and_empty_table() {
    in_netns(|| {
        let mut h = ipvs();
        let info = h.info().unwrap();
        assert_eq!(info.version_triple(), (1, 2, 1));
        assert!(info.conn_tab_size > 0);
        assert!(h.dump().unwrap().is_empty());
    })
}

#[test]
fn scheduler_protocol_forwarding_matrix() {
    for v6 in [false, true] {
        in_netns(move || {
            let mut h = ipvs();
            let mut want = Vec::new();
            let mut port = 1000u16;
            for sched in SCHEDULERS {
                for proto in [Protocol::Tcp, Protocol::Udp, Protocol::Sctp] {
                    for fwd in [Forward::Masq, Forward::Route, Forward::Tunnel] {
                        port += 1;
                        let (vip, rip) = if v6 {
                            (ip("2001:db8::10"), ip("2001:db8::11"))
                        } else {
                            (ip("192.0.2.10"), ip("192.0.2.11"))
                        };
                        let key = ServiceKey::Addr {
                            protocol: proto,
                            addr: vip,
                            port,
                        };
                        let s = Service::new(key, sched);
                        // A different dport: DR/TUN must come back as vport.
                        let d = Dest::new(DestKey::new(rip, 8080), fwd).weight(3);
                        want.push((s, vec![d]));
                    }
                }
            }
            install_and_check(&mut h, &want);
            assert_eq!(want.len(), SCHEDULERS.len() * 9);
            // Every DR/TUN dest reads back with dport = vport.
            for (s, ds) in h.services().unwrap() {
                let d = &ds[0];
                let want_port = if d.forward == Forward::Masq {
                    8080
                } else {
                    s.key.port()
                };
                assert_eq!(d.key.port, want_port, "{}", s.key);
            }
            h.flush().unwrap();
            assert!(h.dump().unwrap().is_empty());
        })
    }
}

#[test]
fn fwmark_services_v4_v6() {
    in_netns(|| {
        let mut h = ipvs();
        let want = vec![
            (
                Service::new(ServiceKey::fwmark(Family::Inet, 7), "wrr"),
                vec![
                    Dest::new(DestKey::new(ip("192.0.2.11"), 8080), Forward::Route),
                    Dest::new(DestKey::new(ip("192.0.2.12"), 0), Forward::Masq).weight(2),
                ],
            ),
            (
                Service::new(ServiceKey::fwmark(Family::Inet6, 7), "rr"),
                vec![Dest::new(
                    DestKey::new(ip("2001:db8::11"), 443),
                    Forward::Tunnel,
                )],
            ),
        ];
        install_and_check(&mut h, &want);
        // fwmark services keep the dport whatever the forwarding.
        let t = table(&mut h);
        assert_eq!(t[0].1[0].key.port, 8080);
    })
}

#[test]
fn persistence_netmask_pe_flags() {
    in_netns(|| {
        let mut h = ipvs();
        let d4 = || vec![Dest::new(DestKey::new(ip("192.0.2.11"), 80), Forward::Masq)];
        let want = vec![
            (
                Service::new(ServiceKey::tcp(ip("192.0.2.10"), 80), "wlc")
                    .persistent(300)
                    .netmask(Netmask::V4(Ipv4Addr::new(255, 255, 255, 0))),
                d4(),
            ),
            (
                Service::new(ServiceKey::tcp(ip("2001:db8::10"), 80), "wlc")
                    .persistent(360)
                    .netmask(Netmask::V6(64)),
                vec![Dest::new(
                    DestKey::new(ip("2001:db8::11"), 80),
                    Forward::Masq,
                )],
            ),
            // persistent, port 0 (all ports)
            (
                Service::new(ServiceKey::tcp(ip("192.0.2.10"), 0), "rr").persistent(60),
                d4(),
            ),
            // SIP persistence engine
            (
                Service::new(ServiceKey::udp(ip("192.0.2.10"), 5060), "rr")
                    .persistent(30)
                    .pe("sip"),
                d4(),
            ),
            // one-packet scheduling
            (
                Service::new(ServiceKey::udp(ip("192.0.2.10"), 53), "rr")
                    .flags(ServiceFlags::ONEPACKET),
                d4(),
            ),
            // scheduler flags
            (
                Service::new(ServiceKey::tcp(ip("192.0.2.10"), 81), "sh")
                    .flags(ServiceFlags::SH_FALLBACK | ServiceFlags::SH_PORT),
                d4(),
            ),
            (
                Service::new(ServiceKey::tcp(ip("192.0.2.10"), 82), "mh")
                    .flags(ServiceFlags::MH_FALLBACK | ServiceFlags::MH_PORT),
                d4(),
            ),
            (
                Service::new(ServiceKey::tcp(ip("192.0.2.10"), 83), "wrr")
                    .flags(ServiceFlags::SCHED3),
                d4(),
            ),
        ];
        install_and_check(&mut h, &want);
        // Edit replaces every field: dropping persistence clears it.
        let plain = Service::new(ServiceKey::tcp(ip("192.0.2.10"), 80), "rr");
        h.edit_service(&plain).unwrap();
        let (got, _) = h.get_service(&plain.key).unwrap();
        assert_eq!(got, plain);
    })
}

#[test]
fn thresholds_and_tunnels() {
    in_netns(|| {
        let mut h = ipvs();
        let key = ServiceKey::tcp(ip("192.0.2.10"), 80);
        let rip = |n: u8| ip(&format!("192.0.2.{n}"));
        let want = vec![(
            Service::new(key, "wlc"),
            vec![
                Dest::new(DestKey::new(rip(11), 80), Forward::Masq).thresholds(100, 50),
                Dest::new(DestKey::new(rip(12), 80), Forward::Masq).thresholds(100, 0),
                Dest::new(DestKey::new(rip(13), 80), Forward::Tunnel).tunnel(
                    TunnelType::Ipip,
                    0,
                    TunnelFlags::NOCSUM,
                ),
                Dest::new(DestKey::new(rip(14), 80), Forward::Tunnel).tunnel(
                    TunnelType::Gue,
                    6080,
                    TunnelFlags::CSUM,
                ),
                Dest::new(DestKey::new(rip(15), 80), Forward::Tunnel).tunnel(
                    TunnelType::Gue,
                    6081,
                    TunnelFlags::REMCSUM,
                ),
                Dest::new(DestKey::new(rip(16), 80), Forward::Tunnel).tunnel(
                    TunnelType::Gre,
                    0,
                    TunnelFlags::CSUM,
                ),
                Dest::new(DestKey::new(rip(17), 80), Forward::Tunnel).tunnel(
                    TunnelType::Gre,
                    0,
                    TunnelFlags::NOCSUM,
                ),
                // a v6 real server behind a v4 service: tunnel only
                Dest::new(DestKey::new(ip("2001:db8::11"), 80), Forward::Tunnel),
                Dest::new(DestKey::new(rip(18), 80), Forward::Local),
            ],
        )];
        install_and_check(&mut h, &want);
        // Edit is a full replace: tunnel fields not sent would become 0; we
        // always send them, so the edit reads back exactly.
        let d = want[0].1[3].clone().weight(0).thresholds(10, 5);
        h.edit_dest(&key, &d).unwrap();
        let got = h.dump_dests(&key).unwrap();
        assert!(got.iter().any(|e| e.dest == d));
        // Dests are dumped newest first.
        assert_eq!(got[0].dest.key, DestKey::new(rip(18), 80));
        // Delete one.
        h.del_dest(&key, &d.key).unwrap();
        assert_eq!(h.dump_dests(&key).unwrap().len(), want[0].1.len() - 1);
    })
}

#[test]
fn error_cases_match_kernel() {
    in_netns(|| {
        let mut h = ipvs();
        let key = ServiceKey::tcp(ip("192.0.2.10"), 80);
        let s = Service::new(key, "rr");
        let d = Dest::new(DestKey::new(ip("192.0.2.11"), 80), Forward::Masq);
        let mut mem = MemoryIpvs::new().with_schedulers(SCHEDULERS);

        // (op, expected errno or 0); the same sequence goes to both backends.
        let v6 = ServiceKey::tcp(ip("2001:db8::10"), 80);
        let steps: Vec<(Op, i32)> = vec![
            (Op::DelService(key), libc::ESRCH),
            (Op::EditService(s.clone()), libc::ESRCH),
            (Op::AddDest(key, d.clone()), libc::ESRCH),
            (
                Op::AddService(Service::new(key, "nosuchsched")),
                libc::ENOENT,
            ),
            (Op::AddService(s.clone().pe("nosuchpe")), libc::ENOENT),
            (
                Op::AddService(Service::new(v6, "rr").netmask(Netmask::V6(0))),
                libc::EINVAL,
            ),
            (
                Op::AddService(Service::new(v6, "rr").netmask(Netmask::V6(129))),
                libc::EINVAL,
            ),
            (
                Op::AddService(Service::new(v6, "rr").netmask(Netmask::V6(u32::MAX))),
                libc::EINVAL,
            ),
            (Op::AddService(s.clone()), 0),
            (Op::AddService(s.clone()), libc::EEXIST),
            (
                Op::EditService(Service::new(key, "nosuchsched")),
                libc::ENOENT,
            ),
            (Op::EditDest(key, d.clone()), libc::ENOENT),
            (Op::DelDest(key, d.key), libc::ENOENT),
            (Op::AddDest(key, d.clone().thresholds(10, 20)), libc::ERANGE),
            (Op::AddDest(key, d.clone().weight(1 << 31)), libc::ERANGE),
            (
                Op::AddDest(key, d.clone().thresholds(1 << 31, 0)),
                libc::EINVAL,
            ),
            (
                Op::AddDest(
                    key,
                    Dest::new(d.key, Forward::Tunnel).tunnel(TunnelType::Gue, 0, TunnelFlags::CSUM),
                ),
                libc::EINVAL,
            ),
            (
                Op::AddDest(
                    key,
                    Dest::new(DestKey::new(ip("2001:db8::11"), 80), Forward::Route),
                ),
                libc::EINVAL,
            ),
            (
                Op::AddDest(
                    key,
                    Dest::new(DestKey::new(ip("255.255.255.255"), 80), Forward::Masq),
                ),
                libc::EINVAL,
            ),
            (Op::AddDest(key, d.clone()), 0),
            (Op::AddDest(key, d.clone()), libc::EEXIST),
            (Op::EditDest(key, d.clone().weight(u32::MAX)), libc::ERANGE),
            (Op::EditDest(key, d.clone().weight(0)), 0),
            (Op::DelDest(key, d.key), 0),
            (Op::DelService(key), 0),
        ];
        let ops: Vec<Op> = steps.iter().map(|(o, _)| o.clone()).collect();
        // One batch to the kernel: results come back per op, in order.
        let kernel = h.apply(&ops);
        let memory = mem.apply(&ops);
        for (i, ((op, want), (k, m))) in steps.iter().zip(kernel.iter().zip(&memory)).enumerate() {
            let ke = k.as_ref().err().and_then(|e| e.errno()).unwrap_or(0);
            let me = m.as_ref().err().and_then(|e| e.errno()).unwrap_or(0);
            assert_eq!(ke, *want, "kernel, step {i}: {}: {k:?}", op.describe());
            assert_eq!(me, *want, "memory, step {i}: {}: {m:?}", op.describe());
        }
        // Typed variants and helpers.
        assert!(matches!(kernel[0], Err(Error::NoSuchService { .. })));
        assert!(kernel[0].as_ref().unwrap_err().is_not_found());
        assert!(matches!(kernel[3], Err(Error::NotFound { .. })));
        assert!(matches!(kernel[5], Err(Error::InvalidArgument { .. })));
        assert!(kernel[9].as_ref().unwrap_err().is_exists());
        assert!(matches!(kernel[11], Err(Error::NotFound { .. })));
        let msg = kernel[0].as_ref().unwrap_err().to_string();
        assert!(msg.contains("No such process (ESRCH)"), "{msg}");
        // GET_DEST of a missing service: empty, not an error.
        assert!(h.dump_dests(&key).unwrap().is_empty());
        // GET_SERVICE doit of a missing service: ESRCH.
        assert!(matches!(
            h.get_service(&key),
            Err(Error::NoSuchService { .. })
        ));
    })
}

#[test]
fn timeouts_get_set() {
    in_netns(|| {
        let mut h = ipvs();
        let t = h.timeouts().unwrap();
        assert_eq!(
            t,
            Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300
            }
        );
        h.set_timeouts(&Timeouts {
            tcp: 1000,
            tcp_fin: 100,
            udp: 200,
        })
        .unwrap();
        assert_eq!(
            h.timeouts().unwrap(),
            Timeouts {
                tcp: 1000,
                tcp_fin: 100,
                udp: 200
            }
        );
        // 0 leaves a value unchanged.
        h.set_timeouts(&Timeouts {
            tcp: 0,
            tcp_fin: 0,
            udp: 250,
        })
        .unwrap();
        assert_eq!(
            h.timeouts().unwrap(),
            Timeouts {
                tcp: 1000,
                tcp_fin: 100,
                udp: 250
            }
        );
    })
}

#[test]
fn sync_daemons_start_list_stop() {
    in_netns(|| {
        run(
            "ip",
            &[
                "link", "add", "sync0", "type", "veth", "peer", "name", "sync1",
            ],
        );
        run("ip", &["addr", "add", "192.0.2.1/24", "dev", "sync0"]);
        run("ip", &["link", "set", "sync0", "up"]);
        run("ip", &["link", "set", "sync1", "up"]);
        let mut h = ipvs();
        assert!(h.daemons().unwrap().is_empty());
        let master = SyncDaemon::new(SyncState::Master, "sync0", 7);
        h.start_daemon(&master).unwrap();
        let mut backup = SyncDaemon::new(SyncState::Backup, "sync0", 9);
        backup.sync_maxlen = Some(1400);
        // The kernel's default group (224.0.0.81), sent explicitly so the
        // attribute's encoding is exercised; no other address is used.
        backup.mcast_group = Some(ip("224.0.0.81"));
        backup.mcast_port = Some(8849);
        backup.mcast_ttl = Some(2);
        h.start_daemon(&backup).unwrap();
        let e = h.start_daemon(&master).unwrap_err();
        assert!(e.is_exists(), "{e}");

        let mut got = h.daemons().unwrap();
        got.sort_by_key(|d| d.state.to_wire());
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(
            (got[0].state, got[0].mcast_ifn.as_str(), got[0].sync_id),
            (SyncState::Master, "sync0", 7)
        );
        let b = &got[1];
        assert_eq!(
            (b.state, b.mcast_ifn.as_str(), b.sync_id),
            (SyncState::Backup, "sync0", 9)
        );
        assert_eq!(b.sync_maxlen, Some(1400));
        assert_eq!(b.mcast_group, Some(ip("224.0.0.81")));
        assert_eq!(b.mcast_port, Some(8849));
        assert_eq!(b.mcast_ttl, Some(2));
        // The dump meets the requests it came from; `list --daemon` prints
        // what ipvsadm prints.
        assert!(master.is_met_by(&got[0]) && backup.is_met_by(b));
        if ipvsadm_available() {
            let theirs = run("/usr/sbin/ipvsadm", &["-L", "--daemon"]);
            compare_lines(&render::daemons(&got), &theirs);
        }

        h.stop_daemon(SyncState::Master).unwrap();
        h.stop_daemon(SyncState::Backup).unwrap();
        let e = h.stop_daemon(SyncState::Master).unwrap_err();
        assert!(matches!(e, Error::NotRunning { .. }), "{e}");
        // ENODEV for an interface the namespace lacks (before EEXIST).
        let e = h
            .start_daemon(&SyncDaemon::new(SyncState::Master, "nosuch0", 7))
            .unwrap_err();
        assert_eq!(e.errno(), Some(libc::ENODEV), "{e}");
        assert!(h.daemons().unwrap().is_empty());
    })
}

/// Sets up lo + a VIP on lo and a listener behind a NAT service; makes a
/// few connections; returns the handle and the service key.
fn with_traffic() -> (NetlinkIpvs, ServiceKey) {
    run("ip", &["addr", "add", "192.0.2.100/32", "dev", "lo"]);
    let listener = TcpListener::bind("192.0.2.100:8080").unwrap();
    let mut h = ipvs();
    let key = ServiceKey::tcp(ip("192.0.2.100"), 80);
    ok_all(h.apply(&[
        Op::AddService(Service::new(key, "rr")),
        Op::AddDest(
            key,
            Dest::new(DestKey::new(ip("192.0.2.100"), 8080), Forward::Masq),
        ),
    ]));
    for _ in 0..3 {
        let c =
            TcpStream::connect_timeout(&"192.0.2.100:80".parse().unwrap(), Duration::from_secs(2));
        if let Ok(mut c) = c {
            let _ = std::io::Write::write_all(&mut c, b"hello");
        }
    }
    drop(listener);
    // The 6.1 estimator folds the per-CPU counters every 2 s.
    std::thread::sleep(Duration::from_millis(2600));
    (h, key)
}

#[test]
fn stats64_and_zero() {
    in_netns(|| {
        let (mut h, key) = with_traffic();
        let t = h.dump().unwrap();
        assert_eq!(t.len(), 1);
        let (svc_stats, dest) = (t[0].stats, &t[0].dests[0]);
        assert!(
            svc_stats.conns >= 1 && svc_stats.inpkts >= 1,
            "{svc_stats:?}"
        );
        assert!(svc_stats.inbytes > 0, "{svc_stats:?}");
        assert!(dest.stats.conns >= 1, "{dest:?}");
        assert_eq!(dest.stats.conns, svc_stats.conns);
        // Zero one service, then all.
        h.zero(Some(&key)).unwrap();
        assert_eq!(h.dump().unwrap()[0].stats.conns, 0);
        h.zero(None).unwrap();
        assert!(matches!(
            h.zero(Some(&ServiceKey::tcp(ip("192.0.2.99"), 1))),
            Err(Error::NoSuchService { .. })
        ));
    })
}

fn ipvsadm_available() -> bool {
    if std::path::Path::new("/usr/sbin/ipvsadm").exists() {
        true
    } else {
        eprintln!("SKIP: /usr/sbin/ipvsadm is not installed");
        false
    }
}

fn compare_lines(ours: &str, theirs: &str) {
    let (o, t): (Vec<_>, Vec<_>) = (ours.lines().collect(), theirs.lines().collect());
    for (i, (a, b)) in o.iter().zip(&t).enumerate() {
        assert_eq!(
            a,
            b,
            "line {} differs\nours:\n{ours}\nipvsadm:\n{theirs}",
            i + 1
        );
    }
    assert_eq!(
        o.len(),
        t.len(),
        "line count\nours:\n{ours}\nipvsadm:\n{theirs}"
    );
    assert_eq!(ours, theirs);
}

#[test]
fn render_matches_ipvsadm_ln() {
    if !ipvsadm_available() {
        return;
    }
    in_netns(|| {
        let mut h = ipvs();
        let rip = |n: u8| ip(&format!("192.0.2.{n}"));
        let want = vec![
            (
                Service::new(ServiceKey::tcp(ip("192.0.2.10"), 80), "wlc")
                    .persistent(300)
                    .netmask(Netmask::V4(Ipv4Addr::new(255, 255, 255, 0))),
                vec![
                    Dest::new(DestKey::new(rip(12), 80), Forward::Route).weight(0),
                    Dest::new(DestKey::new(rip(11), 80), Forward::Route).weight(5),
                    Dest::new(DestKey::new(ip("198.51.100.7"), 80), Forward::Tunnel),
                ],
            ),
            (
                Service::new(ServiceKey::tcp(ip("192.0.2.10"), 443), "sh")
                    .flags(ServiceFlags::SH_FALLBACK | ServiceFlags::SH_PORT),
                vec![Dest::new(DestKey::new(rip(13), 4443), Forward::Masq).weight(65535)],
            ),
            (
                Service::new(ServiceKey::udp(ip("2001:db8::1"), 53), "rr")
                    .flags(ServiceFlags::ONEPACKET),
                vec![
                    Dest::new(DestKey::new(ip("2001:db8::12"), 53), Forward::Masq),
                    Dest::new(DestKey::new(ip("2001:db8::11"), 5353), Forward::Masq),
                ],
            ),
            (
                Service::new(ServiceKey::sctp(ip("2001:db8::2"), 3868), "lc")
                    .persistent(30)
                    .netmask(Netmask::V6(64))
                    .flags(ServiceFlags::SCHED3),
                vec![],
            ),
            (
                Service::new(ServiceKey::fwmark(Family::Inet6, 7), "wrr"),
                vec![],
            ),
            (
                Service::new(ServiceKey::fwmark(Family::Inet, 3), "mh")
                    .flags(ServiceFlags::MH_PORT),
                vec![Dest::new(DestKey::new(rip(20), 0), Forward::Route)],
            ),
            (
                Service::new(ServiceKey::udp(ip("203.0.113.5"), 5060), "rr")
                    .persistent(60)
                    .pe("sip"),
                vec![Dest::new(DestKey::new(ip("203.0.113.6"), 5060), Forward::Masq).weight(2)],
            ),
            (
                Service::new(ServiceKey::tcp(ip("198.51.100.1"), 0), "dh").persistent(10),
                vec![],
            ),
        ];
        install_and_check(&mut h, &want);
        let info = h.info().unwrap();
        let ours = render::list(&info, &h.dump().unwrap());
        let theirs = run("/usr/sbin/ipvsadm", &["-Ln"]);
        compare_lines(&ours, &theirs);
    })
}

#[test]
fn render_stats_matches_ipvsadm() {
    if !ipvsadm_available() {
        return;
    }
    in_netns(|| {
        let (mut h, _key) = with_traffic();
        let info = h.info().unwrap();
        let ours = render::list_stats(&info, &h.dump().unwrap());
        let theirs = run("/usr/sbin/ipvsadm", &["-Ln", "--stats"]);
        compare_lines(&ours, &theirs);
        let ours = render::list(&info, &h.dump().unwrap());
        let theirs = run("/usr/sbin/ipvsadm", &["-Ln"]);
        compare_lines(&ours, &theirs);
    })
}

#[test]
fn big_batch_and_partial_failure() {
    in_netns(|| {
        let mut h = ipvs();
        let mut ops = Vec::new();
        let mut n = 0;
        for s in 0..20u16 {
            let key = ServiceKey::tcp(ip("192.0.2.10"), 1000 + s);
            ops.push(Op::AddService(Service::new(key, "wrr")));
            for d in 0..50u16 {
                let addr = ip(&format!("198.51.100.{}", d + 1));
                ops.push(Op::AddDest(
                    key,
                    Dest::new(DestKey::new(addr, 2000 + d), Forward::Masq),
                ));
                n += 1;
            }
        }
        // A duplicate in the middle fails alone.
        let dup = ops[1].clone();
        ops.insert(500, dup);
        let r = h.apply(&ops);
        assert_eq!(r.len(), ops.len());
        for (i, r) in r.iter().enumerate() {
            if i == 500 {
                assert!(r.as_ref().unwrap_err().is_exists());
            } else {
                r.as_ref().unwrap_or_else(|e| panic!("op {i}: {e}"));
            }
        }
        let t = h.dump().unwrap();
        assert_eq!(t.iter().map(|e| e.dests.len()).sum::<usize>(), n);
        // Tear down child-first in one batch.
        let mut del = Vec::new();
        for e in &t {
            for d in &e.dests {
                del.push(Op::DelDest(e.service.key, d.dest.key));
            }
            del.push(Op::DelService(e.service.key));
        }
        ok_all(h.apply(&del));
        assert!(h.dump().unwrap().is_empty());
    })
}

/// What the kernel itself does with a DR dest whose port differs from the
/// virtual port (both backends never send that; ipvsadm neither). Sent by
/// hand through the public wire API on a second socket.
#[test]
fn kernel_dr_dest_port_as_sent() {
    use ldirectord::ipvs::consts::*;
    use ldirectord::ipvs::wire::{self, MsgWriter};
    use neli::consts::socket::{Msg, NlFamily};
    use neli::socket::NlSocket;
    use neli::utils::Groups;

    in_netns(|| {
        let mut h = ipvs();
        let key = ServiceKey::tcp(ip("192.0.2.10"), 80);
        h.add_service(&Service::new(key, "rr")).unwrap();

        let sock = NlSocket::connect(NlFamily::Generic, None, Groups::empty()).unwrap();
        let mut w = MsgWriter::new();
        w.begin(
            h.family_id(),
            NLM_F_REQUEST | NLM_F_ACK,
            1,
            IPVS_CMD_NEW_DEST,
            1,
        );
        wire::put_service_id(&mut w, &key);
        wire::put_dest_full(
            &mut w,
            &Dest::new(DestKey::new(ip("192.0.2.11"), 8080), Forward::Route),
        );
        w.finish();
        sock.send(w.bytes(), Msg::empty()).unwrap();
        let mut buf = vec![0u8; 8192];
        let (n, _) = sock.recv(&mut buf[..], Msg::empty()).unwrap();
        let m = wire::messages(&buf[..n]).next().unwrap().unwrap();
        assert_eq!(wire::nlmsgerr_errno(m.payload).unwrap(), 0);

        let got = h.dump_dests(&key).unwrap();
        eprintln!("kernel stored DR dest as {}", got[0].dest.key);
        // Recorded fact (6.1): the kernel keeps the port it was sent; the
        // dport = vport rule is userspace's (ipvsadm's and ours).
        assert_eq!(got[0].dest.key.port, 8080);
    })
}
