//! Check-pool benchmark: one full pass over N HTTP reals on loopback, a
//! tenth of them hung (they accept and never answer), negotiate timeout 5 s.
//! Reports the wall time of the pass, the CPU seconds and the peak RSS of
//! the checking process (the servers run in a child process).
//!
//! usage: cargo bench --bench check_pass -- [N]       (default 10000)
//! Needs a high open-files limit (it raises its soft limit to the hard one).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ldirectord::check::{pool::PoolOptions, probe::Prober, report};
use ldirectord::config::{self, names::Lookup, Options};

const BASE_PORT: u16 = 20000;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        // `cargo test --all-targets` runs bench binaries without arguments.
        None => println!("usage: cargo bench --bench check_pass -- N"),
        Some("serve") => serve(args[1].parse().expect("N")),
        Some(n) => run(n.parse().expect("N")),
    }
}

fn raise_nofile() {
    // SAFETY: getrlimit/setrlimit on a local struct.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        r.rlim_cur = r.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &r);
    }
}

/// N listeners on 127.0.0.1:BASE_PORT.. ; every tenth port is hung.
fn serve(n: u16) {
    raise_nofile();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        for i in 0..n {
            let l = tokio::net::TcpListener::bind(("127.0.0.1", BASE_PORT + i))
                .await
                .expect("bind");
            let hung = i % 10 == 0;
            tokio::spawn(async move {
                let mut held = Vec::new();
                loop {
                    let Ok((mut s, _)) = l.accept().await else { continue };
                    if hung {
                        held.push(s); // never answered, never closed
                        continue;
                    }
                    tokio::spawn(async move {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let mut buf = [0u8; 2048];
                        let _ = s.read(&mut buf).await;
                        let _ = s
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK")
                            .await;
                    });
                }
            });
        }
        println!("ready");
        let _ = std::io::stdout().flush();
        // Serve until the parent closes our stdin (bounded: 10 minutes).
        let mut stdin = tokio::io::stdin();
        let mut b = [0u8; 1];
        let _ = tokio::time::timeout(
            Duration::from_secs(600),
            tokio::io::AsyncReadExt::read(&mut stdin, &mut b),
        )
        .await;
    });
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage into a local struct.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
        t(u.ru_utime) + t(u.ru_stime)
    }
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn run(n: u16) {
    raise_nofile();
    let mut server = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["serve", &n.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start servers");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "ready");

    // 100 reals per virtual service, all http on loopback.
    let mut text = String::from("checktimeout=5\nnegotiatetimeout=5\n");
    for v in 0..n.div_ceil(100) {
        text.push_str(&format!(
            "virtual=192.0.2.{}:{}\n\tservice=http\n\trequest=\"/\"\n\treceive=\"OK\"\n",
            v % 250 + 1,
            1000 + v
        ));
        for i in (v * 100)..((v + 1) * 100).min(n) {
            text.push_str(&format!("\treal=127.0.0.1:{} masq\n", BASE_PORT + i));
        }
    }
    let opts = Options {
        lookup: Lookup::HostsFile,
        hostname: "bench".into(),
    };
    let config = config::load_str(&text, Path::new("bench.cf"), &opts)
        .expect("config")
        .config;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let reports = rt.block_on(report::check_once(
        &config,
        Arc::new(Prober::new()),
        &PoolOptions::from_env(),
    ));
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let (mut up, mut down) = (0, 0);
    let mut reasons: std::collections::BTreeMap<String, usize> = Default::default();
    let mut slowest = Duration::ZERO;
    for v in &reports {
        for r in &v.reals {
            if let report::Outcome::Checked {
                result, latency, ..
            } = &r.outcome
            {
                slowest = slowest.max(*latency);
                match result {
                    Ok(_) => up += 1,
                    Err(e) => {
                        down += 1;
                        *reasons.entry(e.to_string()).or_default() += 1;
                    }
                }
            }
        }
    }
    eprintln!("down reasons: {reasons:?}; slowest check {slowest:?}");
    drop(server.stdin.take());
    let _ = server.wait();
    println!("| reals | hung | timeout | pass (s) | CPU (s) | peak RSS (MB) | up | down |");
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {n} | {} | 5 s | {wall:.2} | {cpu:.2} | {:.1} | {up} | {down} |",
        n.div_ceil(10),
        peak_rss_mb()
    );
}
