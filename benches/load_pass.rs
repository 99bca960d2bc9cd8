//! Load-monitor benchmark: what an agent query costs the director beside
//! what a health check costs. N reals on loopback, each with an HTTP
//! server (for the checks) and a HAProxy agent answering `up 75%` (for
//! the load queries), all in child processes so that their CPU is not
//! counted. Each pool runs as the daemon runs it (one current-thread
//! runtime, the default slots) at an interval of 1 s for S seconds, the
//! checks first, then the agent queries: runs done, CPU seconds of this
//! process, CPU per run.
//!
//! usage: cargo bench --bench load_pass -- [N] [S]       (default 10000 20)
//! Needs a high open-files limit (it raises its soft limit to the hard one).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ldirectord::check::load::{self, LoadProber, LoadQuery};
use ldirectord::check::pool::{CheckEvent, Job, Plan, Pool, PoolOptions};
use ldirectord::check::probe::{Probe, Prober};
use ldirectord::config::{self, names::Lookup, Options};

#[path = "support/loopback.rs"]
mod loopback;

fn main() {
    let Some(args) = loopback::bench_args() else {
        return;
    };
    match args.first().map(String::as_str) {
        // `cargo test --all-targets` runs bench binaries without arguments.
        None => println!("usage: cargo bench --bench load_pass -- N [SECONDS]"),
        Some(n) => run(
            n.parse().expect("N"),
            args.get(1).map_or(20, |s| s.parse().expect("SECONDS")),
        ),
    }
}

fn run(n: u16, seconds: u64) {
    loopback::raise_nofile();
    let mut http = loopback::spawn_servers(n, 0);
    let mut agents = loopback::spawn_agents(n);

    // 100 reals per virtual service: http checks of 127.0.0.1:BASE+i,
    // and agents of the reals 127.0.x.y.
    let mut text = String::from("checkinterval=1\nchecktimeout=5\nnegotiatetimeout=5\n");
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
        text.push_str(&format!(
            "virtual=198.51.100.{}:{}\n\tchecktype=off\n\tloadmonitor=agent:{}\n\
             \tloadinterval=1\n\tloadtimeout=5\n",
            v % 250 + 1,
            1000 + v,
            loopback::AGENT_PORT
        ));
        for i in (v * 100)..((v + 1) * 100).min(n) {
            text.push_str(&format!("\treal={}:80 masq 100\n", loopback::agent_addr(i)));
        }
    }
    let opts = Options {
        lookup: Lookup::HostsFile,
        hostname: "bench".into(),
    };
    let config = config::load_str(&text, Path::new("bench.cf"), &opts)
        .expect("config")
        .config;
    let checks = Plan::from_config(&config);
    let loads = load::plan_of(&config);
    assert_eq!(
        (checks.targets.len(), loads.targets.len()),
        (n as usize, n as usize)
    );

    // As the daemon: one thread runs the pools.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let wait = Duration::from_secs(seconds);
    let c = measure(&rt, Arc::new(Prober::new()), &checks, wait);
    let l = measure::<LoadProber, LoadQuery>(&rt, Arc::new(LoadProber), &loads, wait);
    drop(http.stdin.take());
    drop(agents.stdin.take());
    let _ = http.wait();
    let _ = agents.wait();
    println!("| reals | job | interval | seconds | runs | ok | CPU (s) | CPU per run (µs) |");
    println!("|---|---|---|---|---|---|---|---|");
    for (job, m) in [("http check", c), ("agent query", l)] {
        println!(
            "| {n} | {job} | 1 s | {seconds} | {} | {} | {:.2} | {:.0} |",
            m.runs,
            m.ok,
            m.cpu,
            m.cpu * 1e6 / m.runs.max(1) as f64
        );
    }
}

struct Measured {
    runs: usize,
    ok: usize,
    cpu: f64,
}

/// Run `plan` in a pool for `wait` (after one interval of warm-up: the
/// first runs all start at once), counting results and this process's CPU.
fn measure<P: Probe<J>, J: Job>(
    rt: &tokio::runtime::Runtime,
    probe: Arc<P>,
    plan: &Plan<J>,
    wait: Duration,
) -> Measured {
    rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<CheckEvent<J>>(4096);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut pool = Pool::new(probe, PoolOptions::from_env(), tx, stop_rx);
        pool.update(plan);
        let warm = Instant::now() + Duration::from_secs(2);
        while Instant::now() < warm {
            let _ = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await;
        }
        let (cpu0, t0) = (loopback::cpu_seconds(), Instant::now());
        let (mut runs, mut ok) = (0, 0);
        while t0.elapsed() < wait {
            if let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await
            {
                runs += 1;
                ok += usize::from(ev.result.is_ok());
            }
        }
        let cpu = loopback::cpu_seconds() - cpu0;
        let _ = stop_tx.send(true);
        pool.join().await;
        Measured { runs, ok, cpu }
    })
}
