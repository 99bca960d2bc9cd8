//! What the status server costs the daemon: CPU and memory of the whole
//! daemon (`daemon::run::serve`, checks, director, status server) at N
//! reals (default 10,000: 1,000 virtual services × 10 HTTP reals on
//! loopback), without and with `/metrics` scraped once a second, in
//! alternating windows.
//!
//! The IPVS backend is the in-memory one, wrapped so that its dump carries
//! non-zero counters for every service and destination (as the kernel's
//! would): the metrics then have every family a kernel gives them. The
//! servers and the scraper are child processes (this executable with
//! `serve …` / `scrape …`): their CPU and memory are not counted.
//!
//! usage: cargo bench --bench status_scrape -- [N] [checkinterval] [seconds] [runs]

#[path = "support/loopback.rs"]
mod loopback;

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ldirectord::config::{self, names::Lookup, Options};
use ldirectord::daemon::lifecycle::Context;
use ldirectord::daemon::log::{Logger, Sink};
use ldirectord::ipvs::{self, IpvsBackend, MemoryIpvs, Op, ServiceEntry};

fn main() {
    let Some(args) = loopback::bench_args() else {
        return;
    };
    match args.first().map(String::as_str) {
        None => {
            println!("usage: cargo bench --bench status_scrape -- N [interval] [seconds] [runs]")
        }
        Some("scrape") => scrape(
            args[1].parse().expect("port"),
            args[2].parse().expect("seconds"),
        ),
        Some(n) => run(
            n.parse().expect("N"),
            args.get(1).map_or(10, |s| s.parse().expect("interval")),
            args.get(2).map_or(30, |s| s.parse().expect("seconds")),
            args.get(3).map_or(3, |s| s.parse().expect("runs")),
        ),
    }
}

/// The in-memory table with counters in every dump (made up, non-zero,
/// growing), as the kernel reports them.
struct WithStats(MemoryIpvs, u64);

impl IpvsBackend for WithStats {
    fn dump(&mut self) -> ipvs::Result<Vec<ServiceEntry>> {
        self.1 += 1;
        let k = self.1;
        let mut t = self.0.dump()?;
        for e in &mut t {
            e.stats.conns = 1_000 * k;
            e.stats.inpkts = 12_345 * k;
            e.stats.outpkts = 23_456 * k;
            e.stats.inbytes = 1_234_567 * k;
            e.stats.outbytes = 9_876_543 * k;
            for d in &mut e.dests {
                d.stats = e.stats;
                d.conns.active = 12;
                d.conns.inactive = 345;
            }
        }
        Ok(t)
    }
    fn apply(&mut self, ops: &[Op]) -> Vec<ipvs::Result<()>> {
        self.0.apply(ops)
    }
    fn flush(&mut self) -> ipvs::Result<()> {
        self.0.flush()
    }
    fn daemons(&mut self) -> ipvs::Result<Vec<ipvs::SyncDaemon>> {
        self.0.daemons()
    }
    fn start_daemon(&mut self, d: &ipvs::SyncDaemon) -> ipvs::Result<()> {
        self.0.start_daemon(d)
    }
    fn stop_daemon(&mut self, s: ipvs::SyncState) -> ipvs::Result<()> {
        self.0.stop_daemon(s)
    }
}

/// The scraper child: GET /metrics once a second for `seconds`; prints
/// `scrapes bytes mean_ms max_ms`.
fn scrape(port: u16, seconds: u64) {
    let start = Instant::now();
    let (mut n, mut bytes, mut total, mut max) = (0u64, 0usize, 0f64, 0f64);
    let mut next = Instant::now();
    while start.elapsed() < Duration::from_secs(seconds) {
        let t = Instant::now();
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
            let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n");
            let mut body = Vec::new();
            let _ = s.read_to_end(&mut body);
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            n += 1;
            bytes += body.len();
            total += ms;
            max = f64::max(max, ms);
        }
        next += Duration::from_secs(1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    println!(
        "{n} {} {:.1} {:.1}",
        bytes / n.max(1) as usize,
        total / n.max(1) as f64,
        max
    );
}

/// One window: CPU seconds of this process and its RSS (mean, max) while
/// `during` runs for `seconds`.
fn window(
    seconds: u64,
    during: impl FnOnce() -> Option<std::process::Child>,
) -> (f64, f64, f64, Option<String>) {
    let cpu0 = loopback::cpu_seconds();
    let t0 = Instant::now();
    let child = during();
    let (mut sum, mut max, mut k) = (0.0, 0f64, 0);
    while t0.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_millis(200));
        let r = loopback::rss_mb();
        sum += r;
        max = max.max(r);
        k += 1;
    }
    let cpu = (loopback::cpu_seconds() - cpu0) / t0.elapsed().as_secs_f64();
    let out = child.map(|c| {
        let o = c.wait_with_output().expect("scraper");
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    });
    (cpu, sum / f64::from(k.max(1)), max, out)
}

fn run(n: u16, interval: u32, seconds: u64, runs: usize) {
    loopback::raise_nofile();
    let dir = std::env::temp_dir().join(format!("ldrs-scrape-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::env::set_var("LDIRECTORD_RUN_DIR", &dir);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cf = dir.join("bench.cf");
    std::fs::write(
        &cf,
        loopback::config_text(
            n,
            interval,
            &dir.join("log"),
            &format!("statusaddress=127.0.0.1:{port}\n"),
        ),
    )
    .unwrap();
    let mut servers = loopback::spawn_servers(n, 0);
    let opts = Options {
        lookup: Lookup::HostsFile,
        hostname: "bench".into(),
    };
    let config = Arc::new(config::load_file(&cf, &opts).expect("config").config);
    let ctx = Context {
        config_path: cf.clone(),
        config_arg: cf.display().to_string(),
        cfgname: "bench".into(),
        debug: false,
        invoked_as: "bench".into(),
    };
    let log = Arc::new(Logger::new(Sink::File(dir.join("log")), "bench"));
    let daemon = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(ldirectord::daemon::run::serve(
                ctx,
                config,
                WithStats(MemoryIpvs::new(), 0),
                log,
            ))
    });
    // Warm up: every real up (read from the status file, not the server).
    let status = dir.join("ldirectord.bench.status");
    let t0 = Instant::now();
    loop {
        std::thread::sleep(Duration::from_secs(2));
        let up = ldirectord::status::read_file(&status)
            .map(|s| {
                s.reals()
                    .filter(|(_, r)| r.state == ldirectord::status::snapshot::State::Up)
                    .count()
            })
            .unwrap_or(0);
        if up == usize::from(n) || t0.elapsed() > Duration::from_secs(300) {
            eprintln!(
                "{up} of {n} reals up after {:.0} s",
                t0.elapsed().as_secs_f64()
            );
            break;
        }
    }
    std::thread::sleep(Duration::from_secs(u64::from(interval)));

    println!("| run | window | daemon CPU (share of a core) | RSS mean / max (MB) | scrapes, bytes each, mean / max ms |");
    println!("|---|---|---|---|---|");
    let (mut idle, mut scraped) = (Vec::new(), Vec::new());
    for r in 1..=runs {
        let (cpu, mean, max, _) = window(seconds, || None);
        println!("| {r} | no scrape | {cpu:.3} | {mean:.1} / {max:.1} | – |");
        idle.push((cpu, mean, max));
        let (cpu, mean, max, out) = window(seconds, || {
            Some(
                std::process::Command::new(std::env::current_exe().unwrap())
                    .args(["scrape", &port.to_string(), &seconds.to_string()])
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .expect("scraper"),
            )
        });
        println!(
            "| {r} | /metrics every 1 s | {cpu:.3} | {mean:.1} / {max:.1} | {} |",
            out.unwrap_or_default()
        );
        scraped.push((cpu, mean, max));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let col = |w: &[(f64, f64, f64)], i: usize| -> Vec<f64> {
        w.iter().map(|t| [t.0, t.1, t.2][i]).collect()
    };
    let (ci, cs) = (median(&mut col(&idle, 0)), median(&mut col(&scraped, 0)));
    // Memory: the first window is the only one before any scrape (the
    // allocator keeps what a scrape used for the next one).
    let before = idle[0].1;
    let during = scraped.iter().map(|t| t.2).fold(0.0, f64::max);
    println!(
        "\nmedian of {runs}: CPU {ci:.3} → {cs:.3} of a core ({:+.3}); RSS {before:.1} MB before \
         any scrape, at most {during:.1} MB while scraping ({:+.1} MB)",
        cs - ci,
        during - before
    );
    // SAFETY: signalling our own process; serve() handles TERM.
    unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
    let _ = daemon.join();
    drop(servers.stdin.take());
    let _ = servers.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
