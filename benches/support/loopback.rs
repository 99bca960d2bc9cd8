//! HTTP servers on loopback for the host benchmarks, run in a child
//! process so that their memory and CPU are not the checker's.
// Each benchmark uses its own part of this module.
#![allow(dead_code)]

use std::io::Write;
use std::time::Duration;

/// The first port of the servers; real i listens on `BASE_PORT + i`.
pub const BASE_PORT: u16 = 20000;

/// The benchmark's own arguments, or `None` when this process is the
/// servers' child (started by [`spawn_servers`]), which has then served
/// until its parent let go. Call first thing in `main`.
pub fn bench_args() -> Option<Vec<String>> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some("serve") => serve(args[1].parse().expect("N"), args[2].parse().expect("hung")),
        Some("agents") => serve_agents(args[1].parse().expect("N")),
        _ => return Some(args),
    }
    None
}

/// The port of the load agents of [`spawn_agents`]; agent i listens on
/// [`agent_addr`]`(i)`, so that each real has an agent of its own.
pub const AGENT_PORT: u16 = 7000;

/// The loopback address of real i's agent: 127.0.1.1, 127.0.1.2, …
pub fn agent_addr(i: u16) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::new(127, 0, 1 + (i / 250) as u8, (i % 250 + 1) as u8)
}

/// `n` HAProxy agents on [`agent_addr`]`(i)`:[`AGENT_PORT`], each
/// answering `up 75%` to every connection and closing. Prints `ready`,
/// serves until stdin closes (at most 10 minutes).
fn serve_agents(n: u16) {
    raise_nofile();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        for i in 0..n {
            let l = tokio::net::TcpListener::bind((agent_addr(i), AGENT_PORT))
                .await
                .expect("bind");
            tokio::spawn(async move {
                loop {
                    let Ok((mut s, _)) = l.accept().await else {
                        continue;
                    };
                    tokio::spawn(async move {
                        use tokio::io::AsyncWriteExt;
                        let _ = s.write_all(b"up 75%\n").await;
                    });
                }
            });
        }
        ready_then_wait().await;
    });
}

/// Say `ready` and serve until stdin closes (at most 10 minutes).
async fn ready_then_wait() {
    println!("ready");
    let _ = std::io::stdout().flush();
    let mut stdin = tokio::io::stdin();
    let mut b = [0u8; 1];
    let _ = tokio::time::timeout(
        Duration::from_secs(600),
        tokio::io::AsyncReadExt::read(&mut stdin, &mut b),
    )
    .await;
}

/// Raise the soft open-files limit to the hard one (10,000 listeners).
pub fn raise_nofile() {
    // SAFETY: getrlimit/setrlimit on a local struct.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        r.rlim_cur = r.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &r);
    }
}

/// `n` listeners on 127.0.0.1:[`BASE_PORT`]..; with `hung_every` = k > 0
/// every k-th port accepts and never answers (it closes after a minute).
/// Prints `ready`, serves until stdin closes (at most 10 minutes).
fn serve(n: u16, hung_every: u16) {
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
            let hung = hung_every > 0 && i % hung_every == 0;
            tokio::spawn(async move {
                loop {
                    let Ok((mut s, _)) = l.accept().await else { continue };
                    if hung {
                        // Never answered; closed after a minute, far past
                        // any check's deadline (held for ever, they used up
                        // this process's files within a minute at 10,000).
                        tokio::spawn(async move {
                            tokio::time::sleep(Duration::from_secs(60)).await;
                            drop(s);
                        });
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
        ready_then_wait().await;
    });
}

/// Start the servers in a child (this executable with `serve N
/// HUNG_EVERY`, see [`bench_args`]) and wait until it listens. Close the child's stdin to stop it.
pub fn spawn_servers(n: u16, hung_every: u16) -> std::process::Child {
    spawn_child(&["serve", &n.to_string(), &hung_every.to_string()])
}

/// Start [`serve_agents`] in a child (this executable with `agents N`)
/// and wait until it listens. Close the child's stdin to stop it.
pub fn spawn_agents(n: u16) -> std::process::Child {
    spawn_child(&["agents", &n.to_string()])
}

fn spawn_child(args: &[&str]) -> std::process::Child {
    let mut server = std::process::Command::new(std::env::current_exe().unwrap())
        .args(args)
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
    server
}

/// Peak resident set of this process (VmHWM), MB.
pub fn peak_rss_mb() -> f64 {
    status_mb("VmHWM:")
}

/// Resident set of this process now (VmRSS), MB.
pub fn rss_mb() -> f64 {
    status_mb("VmRSS:")
}

fn status_mb(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// User + system CPU seconds of this process.
pub fn cpu_seconds() -> f64 {
    // SAFETY: getrusage into a local struct.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
        t(u.ru_utime) + t(u.ru_stime)
    }
}

/// The configuration of the daemon benchmarks: N HTTP reals on these
/// servers in virtuals of 10, as the guest's start-up benchmark writes them
/// (benches/director/gen.py); `globals` adds global lines (each ending in a
/// newline).
pub fn config_text(n: u16, interval: u32, logfile: &std::path::Path, globals: &str) -> String {
    config_with_reals(n.into(), interval, logfile, globals, |i| {
        format!("real=127.0.0.1:{} masq 1", BASE_PORT + i as u16)
    })
}

/// The same shape with the `real=` line of real `i` from `real`
/// (benches/check_cost.rs puts its reals elsewhere).
pub fn config_with_reals(
    n: usize,
    interval: u32,
    logfile: &std::path::Path,
    globals: &str,
    real: impl Fn(usize) -> String,
) -> String {
    let mut text = format!(
        "checktimeout=3\nnegotiatetimeout=3\ncheckinterval={interval}\nfailurecount=1\n\
         quiescent=no\nautoreload=no\nlogfile=\"{}\"\n{globals}\n",
        logfile.display()
    );
    for v in 0..n.div_ceil(10) {
        text.push_str(&format!("virtual=198.51.100.100:{}\n", 10000 + v));
        for i in (v * 10)..((v + 1) * 10).min(n) {
            text.push('\t');
            text.push_str(&real(i));
            text.push('\n');
        }
        text.push_str(
            "\tservice=http\n\tchecktype=negotiate\n\trequest=\"health.html\"\n\
             \treceive=\"OK\"\n\tscheduler=rr\n\tprotocol=tcp\n\n",
        );
    }
    text
}
