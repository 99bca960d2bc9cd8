//! Installs and deletes an IPVS table of SERVICES × DESTS over netlink and
//! prints the timings. Needs root and an IPVS kernel; it runs in a network
//! namespace of its own, so it never touches the caller's table.
//!
//! ```text
//! cargo build --release --example ipvs_bench
//! target/release/examples/ipvs_bench [services=1000] [dests=10]
//! ```
//!
//! The table is the one `benches/ipvs-bench.sh` feeds to `ipvsadm -R`:
//! TCP 192.0.2.10:(10000+i) wlc, each with dests 198.51.100.(1..=dests):80
//! masq weight 1. Output lines are `name=seconds` for the script to parse.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use ldirectord::ipvs::*;

fn table(services: u16, dests: u8) -> (Vec<Op>, Vec<Op>) {
    let mut add = Vec::new();
    let mut del = Vec::new();
    for i in 0..services {
        let key = ServiceKey::tcp(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)), 10000 + i);
        add.push(Op::AddService(Service::new(key, "wlc")));
        for d in 1..=dests {
            let rip = IpAddr::V4(Ipv4Addr::new(198, 51, 100, d));
            add.push(Op::AddDest(
                key,
                Dest::new(DestKey::new(rip, 80), Forward::Masq),
            ));
        }
        // Deleting a service takes its dests along.
        del.push(Op::DelService(key));
    }
    (add, del)
}

fn run(h: &mut NetlinkIpvs, name: &str, ops: &[Op]) -> f64 {
    let t = Instant::now();
    let r = h.apply(ops);
    let secs = t.elapsed().as_secs_f64();
    let failed = r.iter().filter(|r| r.is_err()).count();
    if let Some(Err(e)) = r.iter().find(|r| r.is_err()) {
        eprintln!("{name}: {failed} of {} ops failed, first: {e}", ops.len());
        std::process::exit(1);
    }
    println!("{name}={secs:.4}");
    secs
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let services: u16 = args.get(1).map_or(1000, |s| s.parse().expect("services"));
    let dests: u8 = args.get(2).map_or(10, |s| s.parse().expect("dests"));

    // A private netns (this process is single-threaded here, so the whole
    // process moves); bring lo up so the netns has a local routing table,
    // without which IPVS refuses every IPv4 dest.
    // SAFETY: plain syscall.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        eprintln!(
            "unshare(CLONE_NEWNET): {} (needs root)",
            std::io::Error::last_os_error()
        );
        std::process::exit(2);
    }
    let st = std::process::Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status();
    if !matches!(st, Ok(s) if s.success()) {
        eprintln!("ip link set lo up failed: {st:?}");
        std::process::exit(2);
    }

    let mut h = match NetlinkIpvs::new() {
        Ok(h) => h,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let (add, del) = table(services, dests);
    println!(
        "services={services} dests_per_service={dests} ops={}",
        add.len()
    );

    // Batched (the default, 256 requests per datagram).
    run(&mut h, "netlink_batched_install", &add);
    let t = Instant::now();
    let dumped = h.dump().expect("dump");
    println!("netlink_dump={:.4}", t.elapsed().as_secs_f64());
    assert_eq!(
        dumped.iter().map(|e| e.dests.len()).sum::<usize>(),
        add.len() - del.len()
    );
    run(&mut h, "netlink_batched_delete", &del);

    // One request per round trip, for comparison.
    h.set_batch(1);
    run(&mut h, "netlink_unbatched_install", &add);
    run(&mut h, "netlink_unbatched_delete", &del);
    assert!(h.dump().expect("dump").is_empty());
}
