//! The floor of an HTTP health check: what checking N reals costs a
//! minimal client, for the throughput benchmark to set the daemons
//! against (`benches/director/guest.sh`, README Benchmarks). A tool of the
//! benchmark, not of the product: IPv4 only, no configuration file, no
//! IPVS, no health state.
//!
//! ```text
//! cargo build --release --example check_floor
//! target/release/examples/check_floor TARGETS [INTERVAL_S=1] [SLOTS=64] [TIMEOUT_S=3] [PATH=/health.html]
//! ```
//!
//! TARGETS has one `ADDRESS PORT` per line. Each is checked every
//! INTERVAL_S seconds (the first pass spread over one interval), at most
//! SLOTS at once, each under TIMEOUT_S: the shape of the daemons' checks
//! in the benchmark (`checkinterval=1`, 64 slots, `negotiatetimeout=3`).
//! One check: a non-blocking socket, `connect`, one edge-triggered epoll
//! registration for the connection's life, one `send` of an HTTP/1.0 GET
//! (its error is the connect's when that failed: no `getsockopt`), `recv`
//! until the server closes (the same TCP exchange as the daemons', which
//! read the whole answer), the status line must say 200, `close` (no
//! half-close, no `EPOLL_CTL_DEL`: closing removes the registration).
//! Requests are formatted once per target. On SIGTERM or SIGINT it prints
//! `checks=N ok=N failed=N timeouts=N` to stderr and exits.
//!
//! `CHECK_FLOOR_CLOSE=rst` closes with a reset (`SO_LINGER` 0) once the
//! server has closed: what a graceful close costs beside an abortive one.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::BufRead;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// A check in flight.
struct Conn {
    fd: libc::c_int,
    target: usize,
    started: Instant,
    sent: bool,
    /// The first bytes of the answer (the status line is in them).
    head: [u8; 16],
    got: usize,
}

#[derive(Default)]
struct Counts {
    ok: u64,
    failed: u64,
    timeouts: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 2 {
        eprintln!("usage: check_floor TARGETS [INTERVAL_S=1] [SLOTS=64] [TIMEOUT_S=3] [PATH=/health.html]");
        std::process::exit(2);
    }
    let num = |i: usize, d: f64| -> f64 { args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d) };
    let interval = Duration::from_secs_f64(num(2, 1.0));
    let slots = num(3, 64.0) as usize;
    let timeout = Duration::from_secs_f64(num(4, 3.0));
    let path = args.get(5).map_or("/health.html", |s| s.as_str());
    let rst = std::env::var("CHECK_FLOOR_CLOSE").is_ok_and(|v| v == "rst");

    let file = std::fs::File::open(&args[1]).expect("open TARGETS");
    let mut targets: Vec<(libc::sockaddr_in, Vec<u8>)> = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.expect("read TARGETS");
        let mut it = line.split_whitespace();
        let (Some(a), Some(p)) = (it.next(), it.next()) else {
            continue;
        };
        let addr = SocketAddrV4::new(
            a.parse::<Ipv4Addr>().expect("address"),
            p.parse().expect("port"),
        );
        let request =
            format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: check-floor\r\n\r\n");
        targets.push((sockaddr(addr), request.into_bytes()));
    }
    assert!(!targets.is_empty(), "no targets");

    // SAFETY: plain system calls on values we own; the handler only
    // stores to an atomic.
    let ep = unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::epoll_create1(libc::EPOLL_CLOEXEC)
    };
    assert!(ep >= 0, "epoll_create1");

    let start = Instant::now();
    let n = targets.len() as u32;
    let mut due: BinaryHeap<Reverse<(Instant, usize)>> = (0..targets.len())
        .map(|i| Reverse((start + interval * i as u32 / n, i)))
        .collect();
    let mut conns: Vec<Option<Conn>> = (0..slots).map(|_| None).collect();
    let mut free: Vec<usize> = (0..slots).rev().collect();
    let mut counts = Counts::default();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; slots.max(1)];

    while !STOP.load(Ordering::Relaxed) {
        let now = Instant::now();
        // Start what is due, as far as the slots go.
        while let (Some(&Reverse((at, t))), Some(&slot)) = (due.peek(), free.last()) {
            if at > now {
                break;
            }
            due.pop();
            match connect(&targets[t].0) {
                Some(fd) => {
                    free.pop();
                    let mut ev = libc::epoll_event {
                        events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET)
                            as u32,
                        u64: slot as u64,
                    };
                    // SAFETY: ep and fd are open descriptors, ev lives across the call.
                    unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) };
                    conns[slot] = Some(Conn {
                        fd,
                        target: t,
                        started: now,
                        sent: false,
                        head: [0; 16],
                        got: 0,
                    });
                }
                None => {
                    counts.failed += 1;
                    due.push(Reverse((now + interval, t)));
                }
            }
        }
        // Wait for the sockets, the next due check or the next deadline.
        let mut wake = due.peek().filter(|_| !free.is_empty()).map(|r| r.0 .0);
        for c in conns.iter().flatten() {
            let d = c.started + timeout;
            wake = Some(wake.map_or(d, |w| w.min(d)));
        }
        let ms = wake.map_or(-1, |w| {
            w.saturating_duration_since(now).as_micros().div_ceil(1000) as i32
        });
        // SAFETY: events has room for events.len() entries.
        let k = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, ms) };
        for ev in &events[..k.max(0) as usize] {
            let slot = ev.u64 as usize;
            let Some(c) = conns[slot].as_mut() else {
                continue;
            };
            match step(c, &targets[c.target].1, rst) {
                Step::Wait => continue,
                Step::Done(ok) => {
                    if ok {
                        counts.ok += 1
                    } else {
                        counts.failed += 1
                    }
                }
            }
            let c = conns[slot].take().expect("in flight");
            finish(&mut due, &mut free, slot, c, interval);
        }
        // Deadlines.
        let now = Instant::now();
        for (slot, conn) in conns.iter_mut().enumerate() {
            if let Some(c) = conn.take_if(|c| now >= c.started + timeout) {
                counts.timeouts += 1;
                finish(&mut due, &mut free, slot, c, interval);
            }
        }
    }
    eprintln!(
        "checks={} ok={} failed={} timeouts={}",
        counts.ok + counts.failed + counts.timeouts,
        counts.ok,
        counts.failed,
        counts.timeouts
    );
}

enum Step {
    Wait,
    Done(bool),
}

/// Advance a check on an epoll event: send the request once connected,
/// then read until the server closes.
fn step(c: &mut Conn, request: &[u8], rst: bool) -> Step {
    if !c.sent {
        // SAFETY: request is a live buffer of its length.
        let n = unsafe {
            libc::send(
                c.fd,
                request.as_ptr().cast(),
                request.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            return match errno() {
                // Not connected yet (a spurious wake-up).
                libc::EAGAIN | libc::ENOTCONN => Step::Wait,
                _ => Step::Done(false),
            };
        }
        c.sent = true;
    }
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: buf is a live buffer of its length.
        let n = unsafe { libc::recv(c.fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n > 0 {
            let n = n as usize;
            let take = n.min(c.head.len() - c.got);
            c.head[c.got..c.got + take].copy_from_slice(&buf[..take]);
            c.got += take;
            continue;
        }
        if n == 0 {
            if rst {
                let off = libc::linger {
                    l_onoff: 1,
                    l_linger: 0,
                };
                // SAFETY: off lives across the call.
                unsafe {
                    libc::setsockopt(
                        c.fd,
                        libc::SOL_SOCKET,
                        libc::SO_LINGER,
                        (&off as *const libc::linger).cast(),
                        std::mem::size_of::<libc::linger>() as u32,
                    )
                };
            }
            // "HTTP/1.x 200 "
            let h = &c.head[..c.got];
            return Step::Done(h.len() >= 13 && h.starts_with(b"HTTP/1.") && &h[8..13] == b" 200 ");
        }
        return match errno() {
            libc::EAGAIN => Step::Wait,
            libc::EINTR => continue,
            _ => Step::Done(false),
        };
    }
}

fn finish(
    due: &mut BinaryHeap<Reverse<(Instant, usize)>>,
    free: &mut Vec<usize>,
    slot: usize,
    c: Conn,
    interval: Duration,
) {
    // SAFETY: the descriptor is ours; closing it also removes it from epoll.
    unsafe { libc::close(c.fd) };
    free.push(slot);
    due.push(Reverse((
        (c.started + interval).max(Instant::now()),
        c.target,
    )));
}

fn connect(addr: &libc::sockaddr_in) -> Option<libc::c_int> {
    // SAFETY: plain system calls; addr is a valid sockaddr_in.
    unsafe {
        let fd = libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return None;
        }
        let r = libc::connect(
            fd,
            (addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as u32,
        );
        if r < 0 && errno() != libc::EINPROGRESS {
            libc::close(fd);
            return None;
        }
        Some(fd)
    }
}

fn sockaddr(a: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*a.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}

fn errno() -> libc::c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}
