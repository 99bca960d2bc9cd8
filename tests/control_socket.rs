//! The control socket of a running daemon (on the in-memory IPVS backend,
//! a real on loopback): its mode, the operator's verbs through the client,
//! the bounds on what a client sends, `plan` through the socket after an
//! edit, the state file, and a restart that keeps the overrides.
//!
//! One test: it signals its own process (TERM), which the daemon handles.

#[path = "support/wait.rs"]
mod wait;
use wait::wait_for;

#[path = "support/tempdir.rs"]
mod tempdir;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use ldirectord::config::{self, names::Lookup, Options};
use ldirectord::control::protocol::{Reply, Request, Target, WeightTarget};
use ldirectord::control::{client, state, Override};
use ldirectord::daemon::lifecycle::Context;
use ldirectord::daemon::log::{Logger, Sink};
use ldirectord::ipvs::MemoryIpvs;
use ldirectord::status::snapshot::Snapshot;

/// A TCP listener on loopback that accepts and closes (a connect check's
/// real server).
fn server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || for _ in l.incoming() {});
    port
}

fn text(log: &Path, a: u16, b: u16, scheduler: &str) -> String {
    format!(
        "checkinterval=1\nchecktimeout=2\nautoreload=no\nlogfile=\"{}\"\n\
         virtual=192.0.2.10:80\n\treal=127.0.0.1:{a} masq 3\n\treal=127.0.0.1:{b} masq 2\n\
         \tchecktype=connect\n\tscheduler={scheduler}\n",
        log.display()
    )
}

fn daemon(cf: &Path, log: &Path) -> JoinHandle<i32> {
    let opts = Options {
        lookup: Lookup::HostsFile,
        hostname: "test".into(),
    };
    let config = Arc::new(config::load_file(cf, &opts).expect("config").config);
    let ctx = context(cf);
    let log = Arc::new(Logger::new(Sink::File(log.to_path_buf()), "oc.cf"));
    std::thread::spawn(move || {
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
    })
}

fn context(cf: &Path) -> Context {
    Context {
        config_path: cf.to_path_buf(),
        config_arg: cf.display().to_string(),
        cfgname: "oc.cf".into(),
        debug: false,
        invoked_as: "test".into(),
    }
}

fn call(sock: &Path, r: &Request) -> Reply {
    client::call(sock, std::process::id(), r, Duration::from_secs(60)).expect("a reply")
}

/// What the daemon answers to `bytes` sent raw.
fn raw(sock: &Path, bytes: &[u8]) -> Reply {
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // The daemon may answer (and close) before it read everything.
    let _ = s.write_all(bytes);
    // When the daemon closes with our bytes still unread, Linux reports
    // ECONNRESET after its reply has been read (not EOF): keep the reply.
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if !bytes.is_empty() && e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading the reply: {e}"),
        }
    }
    let line = String::from_utf8_lossy(&bytes);
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
}

fn snapshot(ctx: &Context) -> Option<Snapshot> {
    serde_json::from_slice(&std::fs::read(ctx.status_path()).ok()?).ok()
}

/// (real, kernel weight, operator) of each real, from the status file.
fn reals(ctx: &Context) -> Vec<(String, Option<u32>, Option<Override>)> {
    snapshot(ctx).map_or_else(Vec::new, |s| {
        s.virtuals[0]
            .reals
            .iter()
            .map(|r| {
                (
                    r.real.clone(),
                    r.kernel_weight,
                    r.operator.as_ref().map(|o| o.what),
                )
            })
            .collect()
    })
}

#[test]
fn the_control_socket_serves_the_operator_and_keeps_its_bounds() {
    let dir = tempdir::TempDir::new("control-socket");
    // Read by the daemon and the client (before any of their threads).
    std::env::set_var("LDIRECTORD_RUN_DIR", &dir.0);
    std::env::set_var("LDIRECTORD_STATE_DIR", dir.0.join("state"));
    let (a, b) = (server(), server());
    let (ra, rb) = (format!("127.0.0.1:{a}"), format!("127.0.0.1:{b}"));
    let log = dir.0.join("log");
    let cf = dir.file("oc.cf", &text(&log, a, b, "wrr"));
    let ctx = context(&cf);
    let sock: PathBuf = ctx.control_path();
    let d = daemon(&cf, &log);

    assert!(
        wait_for(Duration::from_secs(20), || reals(&ctx)
            == [(ra.clone(), Some(3), None), (rb.clone(), Some(2), None)]),
        "{:?}",
        reals(&ctx)
    );
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // drain, weight: the reply says what changed; the status follows.
    let r = call(
        &sock,
        &Request::Drain(Target {
            real: ra.clone(),
            virtual_service: None,
        }),
    );
    assert!(r.ok, "{r:?}");
    assert_eq!(
        (r.changes[0].weight_before, r.changes[0].weight_after),
        (Some(3), Some(0))
    );
    let r = call(
        &sock,
        &Request::Weight(WeightTarget {
            real: rb.clone(),
            virtual_service: Some("tcp:192.0.2.10:80".into()),
            weight: 7,
        }),
    );
    assert!(r.ok, "{r:?}");
    let want = [
        (ra.clone(), Some(0), Some(Override::Drain)),
        (rb.clone(), Some(7), Some(Override::Weight { weight: 7 })),
    ];
    assert!(
        wait_for(Duration::from_secs(10), || reals(&ctx) == want),
        "{:?}",
        reals(&ctx)
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains(&format!(
            "Operator drain: real server {ra} (tcp:192.0.2.10:80) health-driven -> drained by uid {} pid {}",
            unsafe { libc::geteuid() },
            std::process::id()
        )),
        "{logged}"
    );
    match state::read(&ctx.state_path()) {
        state::Read::Found(s) => assert_eq!(s.overrides.len(), 2),
        other => panic!("{other:?}"),
    }

    // connections: the kernel's counts of the pair.
    let r = call(
        &sock,
        &Request::Connections(Target {
            real: ra.clone(),
            virtual_service: None,
        }),
    );
    assert!(r.ok && r.connections.len() == 1, "{r:?}");
    // An unknown real: the close matches.
    let r = call(
        &sock,
        &Request::Disable(Target {
            real: "127.0.0.1:1".into(),
            virtual_service: None,
        }),
    );
    assert!(!r.ok && r.matches.len() == 2, "{r:?}");

    // Bounds: an oversized request, garbage, an unknown op.
    let r = raw(&sock, &[b'x'; 5000]);
    assert_eq!(r.error.as_deref(), Some("a request is at most 4096 bytes"));
    let r = raw(&sock, b"{not json\n");
    assert!(r.error.unwrap().starts_with("not a request"));
    let r = raw(&sock, b"{\"op\":\"reboot\"}\n");
    assert!(r.error.unwrap().starts_with("not a request"));

    // plan through the socket: the edit's operations, the table unchanged.
    std::fs::write(&cf, text(&log, a, b, "rr")).unwrap();
    let r = call(&sock, &Request::Plan);
    assert_eq!(
        r.plan.as_deref(),
        Some(&["edit service tcp:192.0.2.10:80: scheduler wrr -> rr".to_string()][..]),
        "{r:?}"
    );
    std::fs::write(&cf, "checkintervall=5\n").unwrap();
    let r = call(&sock, &Request::Plan);
    assert!(
        r.error
            .as_deref()
            .is_some_and(|e| e.starts_with("the configuration has errors")),
        "a plan of a broken file is refused: {r:?}"
    );
    std::fs::write(&cf, text(&log, a, b, "wrr")).unwrap();

    // A restart keeps the overrides: in force from the first pass.
    unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
    assert_eq!(d.join().unwrap(), 0);
    assert!(!sock.exists(), "the socket is removed at stop");
    let d = daemon(&cf, &log);
    assert!(
        wait_for(Duration::from_secs(20), || reals(&ctx) == want),
        "{:?}",
        reals(&ctx)
    );
    let r = call(
        &sock,
        &Request::Enable(Target {
            real: ra.clone(),
            virtual_service: None,
        }),
    );
    assert!(r.ok, "{r:?}");
    assert!(
        wait_for(Duration::from_secs(10), || reals(&ctx)[0]
            == (ra.clone(), Some(3), None)),
        "{:?}",
        reals(&ctx)
    );
    unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
    assert_eq!(d.join().unwrap(), 0);
}
