//! What the daemon's checks cost, on the host: the whole daemon
//! (`daemon::run::serve`, one current-thread runtime as `run` builds it,
//! the in-memory IPVS backend) checking N HTTP reals on a server the
//! caller runs (nginx on loopback, e.g. tests/servers), `checktype=negotiate`
//! of `/health.html` for `OK`, as the guest's throughput and idle rows.
//! The reals are one server address with N different request paths
//! (`/health.html?r=K`): N targets, one listening socket.
//!
//! After WARM seconds it measures for WINDOW seconds: the process's CPU
//! time and the voluntary context switches (wake-ups) of each thread, then
//! stops the daemon. Count the checks on the server side (its access log)
//! over the same run; for instructions per check run it under callgrind
//! with two windows and divide the differences:
//!
//! ```text
//! cargo bench --bench check_cost --no-run
//! valgrind --tool=callgrind --callgrind-out-file=cg.out target/release/deps/check_cost-* 127.0.0.1:18080 100 1 2 10
//! ```
//!
//! With a sixth argument `spread` the reals are N different loopback
//! addresses instead (127.0.1.1, 127.0.1.2, …, 250 per /24, on PORT; the
//! server must listen on them), as the guest's reals are: N targets that
//! differ where a target is hashed, not only in the path.
//!
//! usage: cargo bench --bench check_cost -- ADDR:PORT N INTERVAL WARM WINDOW [spread]

#[path = "support/loopback.rs"]
mod loopback;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ldirectord::config::{self, Options};
use ldirectord::daemon::lifecycle::Context;
use ldirectord::daemon::log::{Logger, Sink};
use ldirectord::ipvs::MemoryIpvs;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.len() < 5 {
        // `cargo test --all-targets` runs bench binaries without arguments.
        println!(
            "usage: cargo bench --bench check_cost -- ADDR:PORT N INTERVAL WARM WINDOW [spread]"
        );
        return;
    }
    let server: SocketAddr = args[0].parse().expect("ADDR:PORT");
    let n: usize = args[1].parse().expect("N");
    let interval: u32 = args[2].parse().expect("INTERVAL");
    let warm: u64 = args[3].parse().expect("WARM");
    let window: u64 = args[4].parse().expect("WINDOW");
    let spread = args.get(5).is_some_and(|a| a == "spread");
    run(server, n, interval, warm, window, spread);
}

/// N reals in virtuals of 10 (benches/support/loopback.rs): with
/// `spread` on 127.0.1.1, 127.0.1.2, … at the server's port, else all on
/// the server with their own request path (`receive` as the virtuals').
fn config_text(
    server: SocketAddr,
    n: usize,
    interval: u32,
    spread: bool,
    log: &std::path::Path,
) -> String {
    loopback::config_with_reals(n, interval, log, "", |r| {
        if spread {
            let addr = std::net::Ipv4Addr::new(127, 0, 1 + (r / 250) as u8, 1 + (r % 250) as u8);
            format!("real={addr}:{} masq 1", server.port())
        } else {
            format!("real={server} masq 1 \"/health.html?r={r}\", \"OK\"")
        }
    })
}

/// CPU seconds of this process and each thread's (name, voluntary
/// context switches).
fn sample() -> (f64, Vec<(String, u64)>) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut threads = Vec::new();
    for e in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let status = std::fs::read_to_string(e.path().join("status")).unwrap_or_default();
        let field = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let name = format!("{}:{}", field("Name:"), e.file_name().to_string_lossy());
        threads.push((name, field("voluntary_ctxt_switches:").parse().unwrap_or(0)));
    }
    (ticks / hz, threads)
}

fn run(server: SocketAddr, n: usize, interval: u32, warm: u64, window: u64, spread: bool) {
    // The configuration, the log and the run directory (status file) in
    // directories of their own, as installed: the daemon watches the
    // configuration's directory, and files written beside it would wake it.
    let dir = std::env::temp_dir().join(format!("ldrs-check-cost-{}", std::process::id()));
    let (etc, run_dir, log_dir) = (dir.join("etc"), dir.join("run"), dir.join("log"));
    for d in [&etc, &run_dir, &log_dir] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::env::set_var("LDIRECTORD_RUN_DIR", &run_dir);
    let cf = etc.join("bench.cf");
    let log_file = log_dir.join("ldirectord.log");
    std::fs::write(&cf, config_text(server, n, interval, spread, &log_file)).unwrap();
    let config = Arc::new(
        config::load_file(&cf, &Options::default())
            .expect("config")
            .config,
    );
    let ctx = Context {
        config_path: cf.clone(),
        config_arg: cf.display().to_string(),
        cfgname: "bench".into(),
        debug: false,
        invoked_as: "bench".into(),
    };
    let log = Arc::new(Logger::new(Sink::File(log_file), "bench"));
    let timer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(warm));
        let (c0, t0) = sample();
        std::thread::sleep(Duration::from_secs(window));
        let (c1, t1) = sample();
        let w = window as f64;
        println!(
            "{n} reals, checkinterval={interval}, window {window} s: {:.2} % of a core",
            (c1 - c0) / w * 100.0
        );
        let mut total = 0.0;
        for (name, after) in &t1 {
            let before = t0.iter().find(|(k, _)| k == name).map_or(0, |(_, v)| *v);
            let rate = (after - before) as f64 / w;
            total += rate;
            println!("  {name}: {rate:.1} wake-ups/s");
        }
        println!("  all threads: {total:.1} wake-ups/s");
        // SAFETY: signalling our own process; serve() handles TERM.
        unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let code = rt.block_on(ldirectord::daemon::run::serve(
        ctx,
        config,
        MemoryIpvs::new(),
        log,
    ));
    timer.join().unwrap();
    eprintln!("daemon exit {code}");
    let _ = std::fs::remove_dir_all(&dir);
}
