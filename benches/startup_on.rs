//! Start-up with no check in the way, on the host: N virtual services × 10
//! reals with `checktype=on` (the configuration of benches/director's
//! `startup_on` row, gen.py's `rs-on-N.cf`), from the text to a complete
//! table in the in-memory IPVS backend, phase by phase as the daemon runs
//! them: parse, plans, the director's start (adopt, first reconcile). The
//! log goes to a file, as in the guest.
//!
//! Wall and CPU times depend on the machine's load; for before/after
//! comparisons on a shared machine count instructions instead:
//!
//! ```text
//! cargo bench --bench startup_on --no-run
//! valgrind --tool=callgrind --callgrind-out-file=cg.out target/release/deps/startup_on-* 1000
//! callgrind_annotate --inclusive=yes cg.out | grep -E 'PROGRAM TOTALS|load_str|start_at|from_config'
//! ```
//!
//! usage: cargo bench --bench startup_on -- [N]   (default 1000)

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ldirectord::config::{self, Options};
use ldirectord::daemon::director::{Director, NoHooks, Plans};
use ldirectord::daemon::log::{Logger, Sink};
use ldirectord::ipvs::{IpvsBackend, MemoryIpvs};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        // `cargo test --all-targets` runs bench binaries without arguments.
        None => println!("usage: cargo bench --bench startup_on -- N"),
        Some(n) => run(n.parse().expect("N")),
    }
}

/// gen.py's addressing: real k is address ADDRS[(k / 50) % 500] on port
/// 8000 + k % 50; virtual v is 198.51.100.100:10000+v.
fn real(k: usize) -> (String, usize) {
    let i = (k / 50) % 500;
    let addr = if i < 250 {
        format!("192.0.2.{}", i + 2)
    } else {
        format!("203.0.113.{}", i - 250 + 2)
    };
    (addr, 8000 + k % 50)
}

fn config_text(n: usize, logfile: &Path) -> String {
    let mut text = format!(
        "checktimeout=3\nnegotiatetimeout=3\ncheckinterval={}\nfailurecount=1\n\
         quiescent=no\nautoreload=no\nlogfile=\"{}\"\n\n",
        (n / 20).max(1),
        logfile.display()
    );
    for v in 0..n {
        text.push_str(&format!("virtual=198.51.100.100:{}\n", 10000 + v));
        for r in 0..10 {
            let (a, p) = real(v * 10 + r);
            text.push_str(&format!("\treal={a}:{p} masq 1\n"));
        }
        text.push_str("\tchecktype=on\n\tscheduler=rr\n\tprotocol=tcp\n\n");
    }
    text
}

/// User + system time of this process.
fn cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the value given.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn phase(name: &str, t: &mut (Instant, Duration)) {
    let (wall, c) = (t.0.elapsed(), cpu() - t.1);
    println!(
        "| {name} | {:.1} | {:.1} |",
        wall.as_secs_f64() * 1e3,
        c.as_secs_f64() * 1e3
    );
    *t = (Instant::now(), cpu());
}

fn run(n: usize) {
    let dir = std::env::temp_dir().join(format!("ldrs-startup-on-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log_path = dir.join("log");
    let cf = dir.join("on.cf");
    std::fs::write(&cf, config_text(n, &log_path)).unwrap();
    println!("{n} virtual services × 10 reals, checktype=on, in-memory IPVS");
    println!("| phase | wall ms | cpu ms |\n|---|---|---|");
    let all = (Instant::now(), cpu());
    let mut t = all;
    let loaded = config::load_file(&cf, &Options::default()).expect("config");
    let config = Arc::new(loaded.config);
    phase("parse", &mut t);
    let plans = Plans::from_config(&config);
    phase("plans", &mut t);
    let log = Arc::new(Logger::new(Sink::File(log_path.clone()), "on"));
    let mut d = Director::new(config.clone(), MemoryIpvs::new(), log)
        .with_plan(plans.checks)
        .with_load_plan(plans.loads);
    d.start(&mut NoHooks);
    phase("director start (adopt, first reconcile)", &mut t);
    phase("total", &mut all.clone());
    let table = d.backend().dump().expect("dump");
    let dests: usize = table.iter().map(|e| e.dests.len()).sum();
    println!("table: {} services, {dests} reals", table.len());
    assert_eq!((table.len(), dests), (n, n * 10), "incomplete table");
    let _ = std::fs::remove_dir_all(&dir);
}
