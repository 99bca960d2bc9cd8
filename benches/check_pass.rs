//! Check-pool benchmark: one full pass over N HTTP reals on loopback, a
//! tenth of them hung (they accept and never answer), negotiate timeout 5 s.
//! Reports the wall time of the pass, the CPU seconds and the peak RSS of
//! the checking process (the servers run in a child process).
//!
//! usage: cargo bench --bench check_pass -- [N]       (default 10000)
//! Needs a high open-files limit (it raises its soft limit to the hard one).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ldirectord::check::{pool::PoolOptions, probe::Prober, report};
use ldirectord::config::{self, names::Lookup, Options};

#[path = "support/loopback.rs"]
mod loopback;

fn main() {
    let Some(args) = loopback::bench_args() else {
        return;
    };
    match args.first().map(String::as_str) {
        // `cargo test --all-targets` runs bench binaries without arguments.
        None => println!("usage: cargo bench --bench check_pass -- N"),
        Some(n) => run(n.parse().expect("N")),
    }
}

fn run(n: u16) {
    loopback::raise_nofile();
    let mut server = loopback::spawn_servers(n, 10);

    // 100 reals per virtual service, all http on loopback.
    let mut text = String::from("checktimeout=5\nnegotiatetimeout=5\n");
    for v in 0..n.div_ceil(100) {
        text.push_str(&format!(
            "virtual=192.0.2.{}:{}\n\tservice=http\n\trequest=\"/\"\n\treceive=\"OK\"\n",
            v % 250 + 1,
            1000 + v
        ));
        for i in (v * 100)..((v + 1) * 100).min(n) {
            text.push_str(&format!(
                "\treal=127.0.0.1:{} masq\n",
                loopback::BASE_PORT + i
            ));
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
    let cpu0 = loopback::cpu_seconds();
    let t0 = Instant::now();
    let reports = rt.block_on(report::check_once(
        &config,
        Arc::new(Prober::new()),
        &PoolOptions::from_env(),
    ));
    let wall = t0.elapsed().as_secs_f64();
    let cpu = loopback::cpu_seconds() - cpu0;
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
        loopback::peak_rss_mb()
    );
}
