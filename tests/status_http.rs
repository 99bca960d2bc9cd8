//! The status HTTP server of `statusaddress=` in a running daemon (on the
//! in-memory IPVS backend, reals on loopback): the page, `/metrics`
//! (checked by `promtool check metrics` when it is installed, always in CI)
//! and `/status.json` agree with the status file; nothing but GET and HEAD
//! is answered; reloads are counted; and hostile clients (a slow head, a
//! huge head, a flood of idle connections) are cut off while the checks go
//! on at their pace.
//!
//! One test: it signals its own process (HUP, TERM), which the daemon
//! handles.

#[path = "support/wait.rs"]
mod wait;
use wait::wait_for;

#[path = "support/tempdir.rs"]
mod tempdir;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ldirectord::config::{self, names::Lookup, Options};
use ldirectord::daemon::lifecycle::Context;
use ldirectord::daemon::log::{Logger, Sink};
use ldirectord::ipvs::MemoryIpvs;
use ldirectord::status::snapshot::{Snapshot, State};

/// An HTTP server on loopback answering every request `200 OK` / `OK`.
fn web_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK",
                );
            });
        }
    });
    port
}

/// A loopback port nobody listens on.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Reply {
    status: u16,
    head: String,
    body: String,
}

/// One request on a fresh connection (`Connection: close`), read to the end.
fn request(addr: SocketAddr, method: &str, path: &str) -> std::io::Result<Reply> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    // The metrics come chunked: keep the body readable for checks that
    // look for lines (chunk sizes sit on lines of their own).
    Ok(Reply {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_string(),
    })
}

fn get(addr: SocketAddr, path: &str) -> Reply {
    request(addr, "GET", path).expect("GET")
}

/// The body of a chunked reply, de-chunked.
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&tail[..n]);
        rest = &tail[n + 2..];
    }
    out
}

fn metrics(addr: SocketAddr) -> String {
    let r = get(addr, "/metrics");
    assert_eq!(r.status, 200);
    if r.head.contains("transfer-encoding: chunked") {
        dechunk(&r.body)
    } else {
        r.body
    }
}

/// The value of the sample `line_start` (name and labels) in `text`.
fn sample(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn snapshot(addr: SocketAddr) -> Snapshot {
    let r = get(addr, "/status.json");
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str(&r.body).expect("status.json is the snapshot")
}

/// Poll (every 0.2 s, at most `limit`) until `f` holds.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v != "false" && v != "0")
}

/// `program args` with `input` on its standard input, and what it printed.
/// A program that is not installed skips the check (`skip`: why, printed),
/// except in CI, which must have it.
fn fed(program: &str, args: &[&str], input: &str, skip: &str) -> Option<std::process::Output> {
    let child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if !in_ci() => {
            eprintln!("SKIP {skip}: {e}");
            return None;
        }
        Err(e) => panic!("{program}: {e}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    Some(child.wait_with_output().unwrap())
}

fn promtool(text: &str) {
    let Some(out) = fed(
        "promtool",
        &["check", "metrics"],
        text,
        "promtool check metrics (tests/vm/install-deps.sh installs it)",
    ) else {
        return;
    };
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Validate `json` against man/status.schema.json with Debian's
/// python3-jsonschema (skipped when it is missing, except in CI).
fn json_schema(json: &str) {
    let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/man/status.schema.json");
    let script = "import json, sys, jsonschema\n\
        jsonschema.validate(json.load(sys.stdin), json.load(open(sys.argv[1])))\n";
    let Some(out) = fed(
        "/usr/bin/python3",
        &["-c", script, schema],
        json,
        "JSON schema",
    ) else {
        return;
    };
    let err = String::from_utf8_lossy(&out.stderr);
    if !in_ci() && err.contains("No module named 'jsonschema'") {
        eprintln!("SKIP JSON schema: python3-jsonschema is not installed");
        return;
    }
    assert!(
        out.status.success(),
        "status.json against the schema: {err}"
    );
}

fn checks_total(text: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with("ldirectord_checks_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn the_status_server_reads_agrees_and_stays_bounded() {
    let dir = tempdir::TempDir::new("status-http");
    // Read by the daemon for its status file (before any of its threads).
    std::env::set_var("LDIRECTORD_RUN_DIR", &dir.0);
    let (up, down, fb_real) = (web_server(), free_port(), free_port());
    let status_port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{status_port}").parse().unwrap();
    let text = format!(
        "checkinterval=1\nchecktimeout=2\nnegotiatetimeout=2\nautoreload=no\n\
         logfile=\"{}\"\nstatusaddress={addr}\nsyncdaemon=both nosuch0\n\
         virtual=192.0.2.10:80\n\treal=127.0.0.1:{up} masq 3\n\treal=127.0.0.1:{down} masq 2\n\
         \tservice=http\n\tchecktype=negotiate\n\trequest=\"/\"\n\treceive=\"OK\"\n\
         virtual=192.0.2.11:80\n\treal=127.0.0.1:{fb_real} masq\n\tchecktype=connect\n\
         \tfallback=127.0.0.1:{up} masq\n",
        dir.0.join("log").display()
    );
    let cf = dir.file("status.cf", &text);
    let opts = Options {
        lookup: Lookup::HostsFile,
        hostname: "test".into(),
    };
    let config = Arc::new(config::load_file(&cf, &opts).expect("config").config);
    let ctx = Context {
        config_path: cf.clone(),
        config_arg: cf.display().to_string(),
        cfgname: "status.cf".into(),
        debug: false,
        invoked_as: "test".into(),
    };
    let status_file = ctx.status_path();
    let log = Arc::new(Logger::new(Sink::File(dir.0.join("log")), "status.cf"));
    let daemon = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(ldirectord::daemon::run::serve(
                ctx,
                config,
                MemoryIpvs::new(),
                log,
            ))
    });

    // The reals settle: one up, one down, the fallback serving the other
    // virtual.
    let real = |p: u16| format!("127.0.0.1:{p}");
    let settled = wait_for(Duration::from_secs(20), || {
        let Ok(r) = request(addr, "GET", "/status.json") else {
            return false;
        };
        let Ok(s) = serde_json::from_str::<Snapshot>(&r.body) else {
            return false;
        };
        let st: Vec<State> = s
            .virtuals
            .iter()
            .flat_map(|v| &v.reals)
            .map(|r| r.state)
            .collect();
        st == [State::Up, State::Down, State::Down, State::Fallback]
    });
    assert!(
        settled,
        "states never settled: {}",
        get(addr, "/status.json").body
    );
    // syncdaemon= on an interface the (in-memory) kernel lacks: both roles
    // listed, not running, with the kernel's answer.
    let sync = snapshot(addr).sync_daemons;
    assert_eq!(sync.len(), 2, "{sync:?}");
    assert!(
        sync.iter().all(|d| d.configured
            && !d.running
            && d.error.as_deref().is_some_and(|e| e.contains("(ENODEV)"))),
        "{sync:?}"
    );

    // /metrics: the families, the values, promtool's verdict. The
    // kernel's counters come with the next full read of the table (once
    // per check interval), not with every scrape.
    let mut m = String::new();
    assert!(wait_for(Duration::from_secs(10), || {
        m = metrics(addr);
        m.contains("ldirectord_ipvs_real_connections_total{")
    }));
    let v10 = "virtual=\"tcp:192.0.2.10:80\"";
    assert_eq!(
        sample(
            &m,
            &format!("ldirectord_real_up{{{v10},real=\"{}\"}}", real(up))
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &m,
            &format!("ldirectord_real_up{{{v10},real=\"{}\"}}", real(down))
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &m,
            &format!("ldirectord_real_weight{{{v10},real=\"{}\"}}", real(up))
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &m,
            &format!(
                "ldirectord_real_configured_weight{{{v10},real=\"{}\"}}",
                real(down)
            )
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &m,
            "ldirectord_virtual_fallback_active{virtual=\"tcp:192.0.2.11:80\"}"
        ),
        Some(1.0)
    );
    assert!(sample(&m, "ldirectord_checks_total{result=\"ok\"}").unwrap() >= 1.0);
    assert!(sample(&m, "ldirectord_checks_total{result=\"refused\"}").unwrap() >= 1.0);
    for family in [
        "ldirectord_check_latency_seconds_bucket{le=\"0.005\"}",
        "ldirectord_check_lateness_seconds_count",
        "ldirectord_checks_in_flight",
        "ldirectord_real_transitions_total{",
        "ldirectord_real_since_last_change_seconds{",
        "ldirectord_real_check_duration_seconds{",
        "ldirectord_ipvs_real_connections_total{",
        "ldirectord_ipvs_real_packets_total{",
        "ldirectord_ipvs_real_active_connections{",
        "ldirectord_ipvs_service_bytes_total{",
        "ldirectord_reloads_total{outcome=\"ok\"} 0",
        "ldirectord_netlink_errors_total 0",
        "ldirectord_build_info{version=",
    ] {
        assert!(m.contains(family), "{family} missing from\n{m}");
    }
    promtool(&m);

    // /status.json is the status file's document.
    let s = snapshot(addr);
    assert!(wait_for(Duration::from_secs(5), || status_file.exists()));
    let file: Snapshot = serde_json::from_slice(&std::fs::read(&status_file).unwrap()).unwrap();
    let shape = |s: &Snapshot| -> Vec<(String, String, State)> {
        s.virtuals
            .iter()
            .flat_map(|v| {
                v.reals
                    .iter()
                    .map(move |r| (v.id.clone(), r.real.clone(), r.state))
            })
            .collect()
    };
    assert_eq!(shape(&file), shape(&s));
    json_schema(&get(addr, "/status.json").body);
    json_schema(&std::fs::read_to_string(&status_file).unwrap());
    assert_eq!(s.daemon.pid, std::process::id());

    // The page: every real with its state, nothing external.
    let page = get(addr, "/");
    assert_eq!(page.status, 200);
    assert!(page.head.contains("content-type: text/html"));
    assert!(page
        .head
        .contains("content-security-policy: default-src 'none'"));
    for (r, state) in [
        (up, "up"),
        (down, "down"),
        (fb_real, "down"),
        (up, "fallback"),
    ] {
        let row = format!("data-real=\"{}\" data-state=\"{state}\"", real(r));
        assert!(page.body.contains(&row), "{row} not on the page");
    }
    assert!(!page.body.contains("<script") && !page.body.contains("src=\"http"));

    // Read-only: other methods are refused, unknown paths are 404.
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let r = request(addr, method, "/metrics").unwrap();
        assert_eq!(r.status, 405, "{method}");
        assert!(r.head.contains("allow: get, head"));
    }
    assert_eq!(get(addr, "/reload").status, 404);
    let head = request(addr, "HEAD", "/metrics").unwrap();
    assert_eq!((head.status, head.body.as_str()), (200, ""));

    // Reloads by outcome: a broken file is refused and counted, a good
    // one is put in force.
    std::fs::write(&cf, "virtual=nonsense\n").unwrap();
    // SAFETY: signalling our own process; the daemon handles HUP.
    unsafe { libc::kill(libc::getpid(), libc::SIGHUP) };
    assert!(wait_for(Duration::from_secs(10), || {
        sample(
            &metrics(addr),
            "ldirectord_reloads_total{outcome=\"failed\"}",
        ) == Some(1.0)
    }));
    std::fs::write(&cf, &text).unwrap();
    // SAFETY: as above.
    unsafe { libc::kill(libc::getpid(), libc::SIGHUP) };
    assert!(wait_for(Duration::from_secs(10), || {
        let m = metrics(addr);
        sample(&m, "ldirectord_reloads_total{outcome=\"ok\"}") == Some(1.0)
            && sample(&m, "ldirectord_last_reload_success") == Some(1.0)
    }));

    // Hostile clients: a head sent a byte a second (slowloris) and a huge
    // head, then a flood of idle connections.
    let before = checks_total(&metrics(addr));
    let attack = Instant::now();
    let slow = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        let started = Instant::now();
        let _ = s.write_all(b"GET / HTTP/1.1\r\n");
        // At most 30 s: cut off long before, or the test fails.
        for _ in 0..30 {
            std::thread::sleep(Duration::from_secs(1));
            if s.write_all(b"X").is_err() {
                break;
            }
        }
        started.elapsed()
    });
    let huge = std::thread::spawn(move || -> Option<u16> {
        let mut s = TcpStream::connect(addr).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
        let head = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "a".repeat(64 * 1024)
        );
        let _ = s.write_all(head.as_bytes());
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        String::from_utf8_lossy(&raw)
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
    });
    let huge_status = huge.join().unwrap();
    eprintln!("64 KiB head: answered {huge_status:?}");
    assert_eq!(huge_status, Some(431), "a 64 KiB head");
    let cut_after = slow.join().unwrap();
    eprintln!("slow head: cut off after {cut_after:?}");
    // Limits::header_timeout is 5 s; a write fails a second after the
    // close at most.
    assert!(
        cut_after >= Duration::from_secs(4) && cut_after < Duration::from_secs(12),
        "a slow head was held {cut_after:?}"
    );
    // Of 40 idle connections only Limits::max_connections (16) are held;
    // the rest are closed at once.
    let flood: Vec<TcpStream> = (0..40)
        .filter_map(|_| TcpStream::connect(addr).ok())
        .collect();
    let closed_at_once = flood
        .iter()
        .filter(|s| {
            let mut s = *s;
            s.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            match s.read(&mut [0u8; 1]) {
                // Closed (0 bytes); the server never sends unasked.
                Ok(n) => n == 0,
                // Still open: the read timed out.
                Err(e) => !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
            }
        })
        .count();
    eprintln!("flood: {closed_at_once} of 40 idle connections closed at once");
    assert!(
        closed_at_once >= 20,
        "{closed_at_once} of 40 closed at once"
    );
    // Idle connections are dropped after the read timeout: the server
    // answers again, and the checks went on meanwhile (3 targets a second).
    assert!(wait_for(Duration::from_secs(15), || request(
        addr, "GET", "/metrics"
    )
    .is_ok_and(|r| r.status == 200)));
    drop(flood);
    let after = checks_total(&metrics(addr));
    let secs = attack.elapsed().as_secs_f64();
    eprintln!("checks during {secs:.1} s of attack: {}", after - before);
    assert!(
        after - before >= secs * 3.0 * 0.5,
        "{} checks in {secs:.1} s of attack",
        after - before
    );

    // SAFETY: as above; the daemon stops on TERM.
    unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
    assert_eq!(daemon.join().unwrap(), 0);
    assert!(!status_file.exists(), "the status file is removed at stop");
}
