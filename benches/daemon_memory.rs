//! Where the daemon's memory goes at N reals (default 10,000: 1,000
//! virtual services × 10 HTTP reals on loopback, all passing), part by
//! part, counted by a global allocator that tracks live heap bytes:
//!
//! - the parsed configuration, the check plan, the director (health,
//!   tables, the in-memory IPVS table with every real up);
//! - the checker pool alone, running for a while (events drained);
//! - the whole daemon (`daemon::run::serve` on the in-memory backend),
//!   running for a while: peak live heap and peak RSS.
//!
//! usage: cargo bench --bench daemon_memory -- [N] [checkinterval] [seconds] [K]
//! (K > 0: every K-th real accepts and never answers)
//! The servers run in a child process; their memory is not counted.

#[path = "support/loopback.rs"]
mod loopback;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ldirectord::check::pool::{Plan, Pool, PoolOptions};
use ldirectord::check::probe::Prober;
use ldirectord::config::{self, names::Lookup, Config, Options};
use ldirectord::daemon::director::{Director, Message, NoHooks};
use ldirectord::daemon::lifecycle::Context;
use ldirectord::daemon::log::{Logger, Sink};
use ldirectord::ipvs::MemoryIpvs;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed to System unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            grow(l.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(l);
        if !p.is_null() {
            grow(l.size());
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = System.realloc(p, l, new);
        if !q.is_null() {
            LIVE.fetch_sub(l.size(), Ordering::Relaxed);
            grow(new);
        }
        q
    }
}

fn grow(n: usize) {
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() {
    let Some(args) = loopback::bench_args() else {
        return;
    };
    match args.first().map(String::as_str) {
        // `cargo test --all-targets` runs bench binaries without arguments.
        None => println!("usage: cargo bench --bench daemon_memory -- N [interval] [seconds] [K]"),
        Some(n) => run(
            n.parse().expect("N"),
            args.get(1).map_or(1, |s| s.parse().expect("interval")),
            args.get(2).map_or(30, |s| s.parse().expect("seconds")),
            args.get(3).map_or(0, |s| s.parse().expect("hung_every")),
        ),
    }
}

fn row(part: &str, bytes: usize, n: u16) {
    println!(
        "| {part} | {:.1} | {:.0} |",
        mb(bytes),
        bytes as f64 / f64::from(n)
    );
}

fn run(n: u16, interval: u32, seconds: u64, hung_every: u16) {
    loopback::raise_nofile();
    let dir = std::env::temp_dir().join(format!("ldrs-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The daemon's status file goes there (read before any thread starts).
    std::env::set_var("LDIRECTORD_RUN_DIR", &dir);
    let cf = dir.join("bench.cf");
    std::fs::write(
        &cf,
        loopback::config_text(n, interval, &dir.join("log"), ""),
    )
    .unwrap();
    let mut server = loopback::spawn_servers(n, hung_every);

    println!("| part ({n} reals) | live heap (MB) | bytes per real |");
    println!("|---|---|---|");
    let base = live();
    let opts = Options {
        lookup: Lookup::HostsFile,
        hostname: "bench".into(),
    };
    let config: Arc<Config> = Arc::new(config::load_file(&cf, &opts).expect("config").config);
    row("configuration", live() - base, n);

    let before = live();
    let plan = Plan::from_config(&config);
    row(
        "check plan (targets, shared by pool and director)",
        live() - before,
        n,
    );

    let log = Arc::new(Logger::new(Sink::File(dir.join("log")), "bench"));
    let before = live();
    {
        let mut d =
            Director::new(config.clone(), MemoryIpvs::new(), log.clone()).with_plan(plan.clone());
        d.start(&mut NoHooks);
        let started = live() - before;
        // Every real up: one passing result each.
        let results: Vec<Message> = plan
            .targets
            .iter()
            .map(|p| Message::Result {
                target: p.target.clone(),
                result: Ok("HTTP/1.1 200 OK".into()),
                latency: Duration::from_millis(1),
            })
            .collect();
        d.handle_batch(results, &mut NoHooks);
        row("director after start (health; no real up)", started, n);
        row(
            "director, every real up (+ last results, memory IPVS)",
            live() - before,
            n,
        );
    }
    drop(plan);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let sample = |what: &str, run_for: Duration, before: usize| {
        let t0 = Instant::now();
        let mut peak = 0;
        let mut sum = 0f64;
        let mut k = 0;
        while t0.elapsed() < run_for {
            std::thread::sleep(Duration::from_millis(100));
            let now = live().saturating_sub(before);
            peak = peak.max(now);
            sum += now as f64;
            k += 1;
        }
        row(
            &format!("{what}: mean"),
            (sum / f64::from(k.max(1))) as usize,
            n,
        );
        row(&format!("{what}: peak"), peak, n);
    };

    // The pool alone, its events thrown away.
    let before = live();
    {
        let _guard = rt.enter();
        let (tx, mut rx) = tokio::sync::mpsc::channel(4096);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut pool = Pool::new(
            Arc::new(Prober::new()),
            PoolOptions::from_env(),
            tx,
            stop_rx,
        );
        pool.update(&Plan::from_config(&config));
        let drain = rt.spawn(async move {
            let mut seen = 0usize;
            while rx.recv().await.is_some() {
                seen += 1;
            }
            seen
        });
        sample("checker pool", Duration::from_secs(seconds), before);
        let _ = stop_tx.send(true);
        rt.block_on(pool.join());
        let seen = rt.block_on(drain).unwrap();
        eprintln!("pool: {seen} results in {seconds} s");
    }

    // The whole daemon on the in-memory backend.
    let before = live();
    let ctx = Context {
        config_path: cf.clone(),
        config_arg: cf.display().to_string(),
        cfgname: "bench".into(),
        debug: false,
        invoked_as: "bench".into(),
    };
    let daemon = rt.spawn(ldirectord::daemon::run::serve(
        ctx,
        config.clone(),
        MemoryIpvs::new(),
        log.clone(),
    ));
    sample("whole daemon", Duration::from_secs(seconds), before);
    // SAFETY: signalling our own process; serve() handles TERM.
    unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
    let code = rt.block_on(daemon).unwrap();
    eprintln!("daemon exit {code}");
    drop(server.stdin.take());
    let _ = server.wait();
    println!(
        "\npeak live heap {:.1} MB, peak RSS {:.1} MB (whole process, all parts in turn)",
        mb(PEAK.load(Ordering::Relaxed)),
        loopback::peak_rss_mb()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
