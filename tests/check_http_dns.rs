//! Probes against real servers on loopback (nginx, dnsmasq; see
//! tests/servers/README.md) and against hostile in-process fakes: every
//! check must answer right, and fail at its deadline (not later) with
//! bounded memory whatever the server does. Traffic goes to 127.0.0.1 and
//! ::1 only.

#[path = "support/servers.rs"]
mod servers;

use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ldirectord::check::probe::{run_with_deadline, ProbeKind, Prober};
use ldirectord::check::{CheckError, CheckResult, Target};
use ldirectord::config::{load_str, Options};
use servers::{data, Kind, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

#[path = "support/tempdir.rs"]
mod tempdir;
use tempdir::TempDir;

/// The target of the first real of the first virtual of `cf`.
fn target(cf: &str) -> Target {
    let loaded = load_str(cf, Path::new("test.cf"), &Options::default())
        .unwrap_or_else(|e| panic!("config:\n{cf}\n{e}"));
    let v = &loaded.config.virtuals[0];
    Target::new(v, &v.reals[0])
}

async fn probe(t: &Target, kind: ProbeKind) -> (CheckResult, Duration) {
    let prober = Prober::new();
    let start = Instant::now();
    let r = run_with_deadline(&prober, t, kind).await;
    (r, start.elapsed())
}

async fn negotiate(cf: &str) -> (CheckResult, Duration) {
    probe(&target(cf), ProbeKind::Negotiate).await
}

fn http_cf(service: &str, port: u16, extra: &str) -> String {
    format!(
        "negotiatetimeout=2\nvirtual=127.0.0.1:80\n\treal=127.0.0.1:{port} gate\n\
         \tservice={service}\n{extra}"
    )
}

fn assert_up(r: &CheckResult, what: &str) {
    assert!(r.is_ok(), "{what}: expected up, got {r:?}");
}

#[tokio::test]
async fn http_https_and_proxy_against_nginx() {
    let Some(srv) = Server::start(Kind::Http) else {
        return;
    };
    let (http, https, proxy) = (srv.port(), srv.https_port(), srv.proxy_port());

    let (r, _) = negotiate(&http_cf(
        "http",
        http,
        "\trequest=\"index.html\"\n\treceive=\"Test Page\"\n",
    ))
    .await;
    assert_eq!(r, Ok("HTTP/1.1 200 OK".to_string()));

    // Empty receive: any 2xx is up.
    let (r, _) = negotiate(&http_cf("http", http, "\trequest=\"health.html\"\n")).await;
    assert_up(&r, "http empty receive");

    // HEAD: no body, empty receive.
    let (r, _) = negotiate(&http_cf(
        "http",
        http,
        "\trequest=\"health.html\"\n\thttpmethod=HEAD\n",
    ))
    .await;
    assert_up(&r, "http HEAD");

    // Wrong answer.
    let (r, _) = negotiate(&http_cf(
        "http",
        http,
        "\trequest=\"index.html\"\n\treceive=\"Not There\"\n",
    ))
    .await;
    assert!(matches!(r, Err(CheckError::Mismatch(_))), "{r:?}");

    // Server error and not found.
    let (r, _) = negotiate(&http_cf("http", http, "\trequest=\"status500\"\n")).await;
    assert_eq!(
        r,
        Err(CheckError::Status(
            "HTTP/1.1 500 Internal Server Error".into()
        ))
    );
    let (r, _) = negotiate(&http_cf("http", http, "\trequest=\"nope.html\"\n")).await;
    assert!(
        matches!(r, Err(CheckError::Status(ref s)) if s.contains("404")),
        "{r:?}"
    );

    // A redirect on the same real is followed.
    let (r, _) = negotiate(&http_cf(
        "http",
        http,
        "\trequest=\"redirect\"\n\treceive=\"Test Page\"\n",
    ))
    .await;
    assert_up(&r, "redirect");

    // A virtualhost (a name nobody resolves: it is pinned to the real).
    let (r, _) = negotiate(&http_cf(
        "http",
        http,
        "\trequest=\"health.html\"\n\treceive=\"^OK\"\n\tvirtualhost=www.example.test\n",
    ))
    .await;
    assert_up(&r, "http virtualhost");

    // https with the self-signed certificate, with and without SNI.
    let (r, _) = negotiate(&http_cf(
        "https",
        https,
        "\trequest=\"index.html\"\n\treceive=\"Test Page\"\n",
    ))
    .await;
    assert_eq!(r, Ok("HTTP/1.1 200 OK".to_string()));
    let (r, _) = negotiate(&http_cf(
        "https",
        https,
        "\trequest=\"health.html\"\n\treceive=\"OK\"\n\tvirtualhost=www.example.test\n",
    ))
    .await;
    assert_up(&r, "https virtualhost");
    // https spoken to the plain port fails, and quickly.
    let (r, t) = negotiate(&http_cf("https", http, "\trequest=\"index.html\"\n")).await;
    assert!(r.is_err() && t < Duration::from_secs(2), "{r:?} {t:?}");

    // http_proxy: the real is the proxy, the request the absolute URL.
    let (r, _) = negotiate(&http_cf(
        "http_proxy",
        proxy,
        &format!("\trequest=\"http://127.0.0.1:{http}/health.html\"\n\treceive=\"OK\"\n"),
    ))
    .await;
    assert_up(&r, "http_proxy");
    let (r, _) = negotiate(&http_cf(
        "http_proxy",
        proxy,
        &format!("\trequest=\"http://127.0.0.1:{http}/index.html\"\n\treceive=\"nope\"\n"),
    ))
    .await;
    assert!(matches!(r, Err(CheckError::Mismatch(_))), "{r:?}");

    // connect checks.
    let cf = format!(
        "checktimeout=2\nvirtual=127.0.0.1:80\n\treal=127.0.0.1:{http} gate\n\tchecktype=connect\n"
    );
    let (r, _) = probe(&target(&cf), ProbeKind::Connect).await;
    assert_up(&r, "connect");

    // Through the `check` report: the CLI path.
    let cf = format!(
        "negotiatetimeout=2\nvirtual=127.0.0.1:80\n\treal=127.0.0.1:{http} gate\n\
         \treal=127.0.0.2:{http} gate\n\tservice=http\n\trequest=\"health.html\"\n\treceive=\"OK\"\n"
    );
    let cfg = load_str(&cf, Path::new("t.cf"), &Options::default())
        .unwrap()
        .config;
    let reports = ldirectord::check::report::check_once(
        &cfg,
        std::sync::Arc::new(Prober::new()),
        &ldirectord::check::pool::PoolOptions::default(),
    )
    .await;
    let text = ldirectord::check::report::render(&reports);
    assert!(text.contains(&format!("127.0.0.1:{http} up ")), "{text}");
    // nginx listens on 127.0.0.1 only.
    assert!(text.contains(&format!("127.0.0.2:{http} down ")), "{text}");
    drop(srv);
}

/// A loopback port nobody listens on (tcp and udp).
fn closed_port() -> u16 {
    servers::free_port(true)
}

#[tokio::test]
async fn http_refused_is_quick() {
    let port = closed_port();
    let (r, t) = negotiate(&http_cf("http", port, "")).await;
    assert_eq!(r, Err(CheckError::Refused));
    assert!(t < Duration::from_secs(1), "{t:?}");
    let cf = format!(
        "checktimeout=2\nvirtual=127.0.0.1:80\n\treal=127.0.0.1:{port} gate\n\tchecktype=connect\n"
    );
    let (r, _) = probe(&target(&cf), ProbeKind::Connect).await;
    assert_eq!(r, Err(CheckError::Refused));
}

/// A tcp server on 127.0.0.1 that runs `serve` for each connection (at
/// most 16, each for at most 30 s).
async fn fake_server<F, Fut>(serve: F) -> u16
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    fake_server_on("127.0.0.1", serve).await
}

async fn fake_server_on<F, Fut>(ip: &str, serve: F) -> u16
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let l = TcpListener::bind((ip, 0)).await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        for _ in 0..16 {
            let Ok((s, _)) = l.accept().await else { return };
            tokio::spawn(tokio::time::timeout(Duration::from_secs(30), serve(s)));
        }
    });
    port
}

/// Read a request head (bounded).
async fn read_head(s: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let mut seen = Vec::new();
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < 65536 {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    seen
}

fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

const DEADLINE: Duration = Duration::from_secs(2);
const LATE: Duration = Duration::from_secs(1);

#[tokio::test]
async fn http_hostile_servers_fail_at_the_deadline() {
    // Accepts, never answers.
    let hung = fake_server(|s| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(s);
    })
    .await;
    // A 200 with a body that never ends.
    let endless = fake_server(|mut s| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
            .await;
        let chunk = vec![b'x'; 64 * 1024];
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if s.write_all(&chunk).await.is_err() {
                return;
            }
        }
    })
    .await;
    // Garbage instead of HTTP.
    let garbage = fake_server(|mut s| async move {
        read_head(&mut s).await;
        let junk: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
        let _ = s.write_all(&junk).await;
        let _ = s.shutdown().await;
    })
    .await;
    // A valid answer, one byte per second.
    let slowloris = fake_server(|mut s| async move {
        read_head(&mut s).await;
        for b in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK" {
            if s.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
    .await;

    let rss_before = vm_rss_kib();
    for (name, port) in [
        ("hung", hung),
        ("endless body", endless),
        ("slowloris", slowloris),
    ] {
        let (r, t) = negotiate(&http_cf("http", port, "\treceive=\"OK\"\n")).await;
        assert_eq!(r, Err(CheckError::Timeout), "{name}");
        assert!(t >= DEADLINE - Duration::from_millis(100), "{name}: {t:?}");
        assert!(t < DEADLINE + LATE, "{name}: {t:?}");
    }
    let grown = vm_rss_kib().saturating_sub(rss_before);
    // The endless body streamed for 2 s over loopback (gigabytes); at most
    // BODY_LIMIT of it may be kept.
    assert!(grown < 200 * 1024, "RSS grew by {grown} KiB");

    let (r, t) = negotiate(&http_cf("http", garbage, "")).await;
    assert!(matches!(r, Err(CheckError::Protocol(_))), "{r:?}");
    assert!(t < DEADLINE, "{t:?}");
}

/// Answers every request with `head` (a status line and headers).
async fn answer(mut s: tokio::net::TcpStream, head: String) {
    read_head(&mut s).await;
    let _ = s.write_all(head.as_bytes()).await;
    let _ = s.shutdown().await;
}

#[tokio::test]
async fn http_redirects_stay_on_the_real() {
    // Another loopback address plays "another host": following the
    // redirect there would make the check up.
    let elsewhere = fake_server_on("127.0.0.2", |s| {
        answer(s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK".into())
    })
    .await;
    let away = fake_server(move |s| {
        answer(
            s,
            format!(
                "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.2:{elsewhere}/\r\n\
                 Content-Length: 0\r\n\r\n"
            ),
        )
    })
    .await;
    let (r, _) = negotiate(&http_cf("http", away, "")).await;
    assert_eq!(r, Err(CheckError::Status("HTTP/1.1 302 Found".into())));

    // A redirect loop on the real ends after LWP's 7 redirects.
    let looping = fake_server(|s| {
        answer(
            s,
            "HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n".into(),
        )
    })
    .await;
    let (r, _) = negotiate(&http_cf("http", looping, "")).await;
    assert!(
        matches!(&r, Err(CheckError::Protocol(e)) if e.contains("redirect")),
        "{r:?}"
    );
}

/// Plain http goes out on hyper's one-connection client and, on a
/// redirect, starts again on reqwest: both must send the same request.
/// The server redirects the first request (the plain path's), so the
/// second one is reqwest's; their heads are compared line by line.
#[tokio::test]
async fn the_plain_http_request_is_reqwests() {
    let heads = Arc::new(Mutex::new(Vec::<Vec<String>>::new()));
    let seen = heads.clone();
    let port = fake_server(move |mut s| {
        let seen = seen.clone();
        async move {
            let head = read_head(&mut s).await;
            let mut lines: Vec<String> = String::from_utf8_lossy(&head)
                .lines()
                .map(|l| l.to_ascii_lowercase())
                .filter(|l| !l.is_empty())
                .collect();
            lines[1..].sort();
            let n = {
                let mut h = seen.lock().unwrap();
                h.push(lines);
                h.len()
            };
            let answer: &[u8] = if n == 1 {
                b"HTTP/1.1 302 Found\r\nLocation: /health.html\r\nContent-Length: 0\r\n\r\n"
            } else {
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"
            };
            let _ = s.write_all(answer).await;
            let _ = s.shutdown().await;
        }
    })
    .await;
    let (r, _) = negotiate(&http_cf(
        "http",
        port,
        "\trequest=\"health.html\"\n\treceive=\"OK\"\n",
    ))
    .await;
    assert_eq!(r, Ok("HTTP/1.1 200 OK".into()));
    let heads = heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 2, "plain, then reqwest");
    assert_eq!(heads[0], heads[1]);
    assert_eq!(heads[0][0], "get /health.html http/1.1");
    assert!(
        heads[0]
            .iter()
            .any(|l| l == &format!("host: 127.0.0.1:{port}")),
        "{heads:?}"
    );
    // Upstream's LWP asks the server to close (no keep-alive): the
    // server's side then keeps the TIME_WAIT, not the director's.
    assert!(
        heads[0].iter().any(|l| l == "connection: close"),
        "{heads:?}"
    );
}

fn dns_cf(proto: &str, port: u16, request: &str, receive: &str) -> String {
    format!(
        "negotiatetimeout=2\nvirtual=127.0.0.1:53\n\treal=127.0.0.1:{port} gate\n\
         \tservice=dns\n\tprotocol={proto}\n\trequest=\"{request}\"\n\treceive=\"{receive}\"\n"
    )
}

#[tokio::test]
async fn dns_against_dnsmasq_over_udp_and_tcp() {
    let Some(srv) = Server::start(Kind::Dns) else {
        return;
    };
    let port = srv.port();
    for proto in ["udp", "tcp"] {
        let (r, _) = negotiate(&dns_cf(proto, port, data::DNS_NAME, "^192\\.0\\.2\\.10$")).await;
        assert_eq!(
            r,
            Ok("www.example.test. A 192.0.2.10".to_string()),
            "{proto} A"
        );
        let (r, _) = negotiate(&dns_cf(proto, port, data::DNS_NAME, data::DNS_AAAA)).await;
        assert_eq!(
            r,
            Ok("www.example.test. AAAA 2001:db8::10".to_string()),
            "{proto} AAAA"
        );
        let (r, _) = negotiate(&dns_cf(
            proto,
            port,
            data::DNS_PTR_NAME,
            data::DNS_PTR_TARGET,
        ))
        .await;
        assert_up(&r, &format!("{proto} PTR"));
        // An address as request: a PTR query.
        let (r, _) = negotiate(&dns_cf(proto, port, "192.0.2.11", "mail")).await;
        assert_up(&r, &format!("{proto} PTR by address"));
        let (r, _) = negotiate(&dns_cf(proto, port, "2001:db8::10", "www")).await;
        assert_up(&r, &format!("{proto} PTR by v6 address"));
        // Wrong answer.
        let (r, _) = negotiate(&dns_cf(proto, port, data::DNS_NAME, "10.9.9.9")).await;
        assert!(matches!(r, Err(CheckError::Mismatch(_))), "{proto}: {r:?}");
        // Unknown name.
        let (r, _) = negotiate(&dns_cf(proto, port, "nope.example.test", ".")).await;
        assert!(r.is_err(), "{proto}: {r:?}");
        // Empty receive (the config refuses receive="", but a virtual
        // without receive has it empty): down, as upstream.
        let mut t = target(&dns_cf(proto, port, data::DNS_NAME, "x"));
        t.receive.clear();
        let (r, _) = probe(&t, ProbeKind::Negotiate).await;
        assert!(matches!(r, Err(CheckError::Config(_))), "{proto}: {r:?}");
    }
    drop(srv);
}

#[tokio::test]
async fn dns_refused_and_hung_fail_by_the_deadline() {
    // tcp: refused at once.
    let closed = closed_port();
    let (r, t) = negotiate(&dns_cf("tcp", closed, data::DNS_NAME, ".")).await;
    assert_eq!(r, Err(CheckError::Refused));
    assert!(t < LATE, "{t:?}");
    // udp to a closed port: ICMP unreachable or a timeout, never late.
    let (r, t) = negotiate(&dns_cf("udp", closed, data::DNS_NAME, ".")).await;
    assert!(r.is_err(), "{r:?}");
    assert!(t < DEADLINE + LATE, "{t:?}");

    // A udp socket that reads and never answers.
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let udp_port = udp.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            if udp.recv_from(&mut buf).await.is_err() {
                return;
            }
        }
    });
    let (r, t) = negotiate(&dns_cf("udp", udp_port, data::DNS_NAME, ".")).await;
    assert_eq!(r, Err(CheckError::Timeout));
    assert!(
        t >= DEADLINE - Duration::from_millis(100) && t < DEADLINE + LATE,
        "{t:?}"
    );

    // A tcp server that accepts and never answers.
    let hung = fake_server(|s| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(s);
    })
    .await;
    let (r, t) = negotiate(&dns_cf("tcp", hung, data::DNS_NAME, ".")).await;
    assert_eq!(r, Err(CheckError::Timeout));
    assert!(t < DEADLINE + LATE, "{t:?}");
}

fn external_cf(virtual_line: &str, real: &str, checktype: &str, cmd: &Path) -> String {
    format!(
        "checktimeout=1\n{virtual_line}\n\treal{real} gate\n\tchecktype={checktype}\n\
         \tcheckcommand=\"{}\"\n",
        cmd.display()
    )
}

fn process_alive(pid: i32) -> bool {
    // Zombies are dead for our purpose.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

#[tokio::test]
async fn external_checks_exec_without_a_shell() {
    let dir = TempDir::new("external");
    let args = dir.0.join("args");
    let ok = dir.script(
        "ok.sh",
        &format!(
            "#!/bin/sh\nread line && exit 9\necho \"$@\" > {}\nexit 0\n",
            args.display()
        ),
    );
    let fail = dir.script("fail.sh", "#!/bin/sh\nexit 3\n");
    let pidfile = dir.0.join("pid");
    let hang = dir.script(
        "hang.sh",
        &format!(
            "#!/bin/sh\nsleep 30 &\necho $! > {}\nwait\n",
            pidfile.display()
        ),
    );

    // Arguments: VIP VPORT RIP RPORT; stdin is /dev/null (read fails).
    let (r, _) = probe(
        &target(&external_cf(
            "virtual=127.0.0.1:80",
            "=127.0.0.1:8080",
            "external",
            &ok,
        )),
        ProbeKind::External,
    )
    .await;
    assert_eq!(r, Ok("exit status 0".to_string()));
    assert_eq!(
        std::fs::read_to_string(&args).unwrap(),
        "127.0.0.1 80 127.0.0.1 8080\n"
    );
    // IPv6 in brackets.
    let (r, _) = probe(
        &target(&external_cf(
            "virtual6=[::1]:80",
            "6=[::1]:8080",
            "external",
            &ok,
        )),
        ProbeKind::External,
    )
    .await;
    assert_up(&r, "external v6");
    assert_eq!(
        std::fs::read_to_string(&args).unwrap(),
        "[::1] 80 [::1] 8080\n"
    );
    // fwmark: the mark and port 0.
    let (r, _) = probe(
        &target(&external_cf("virtual=7", "=127.0.0.1", "external", &ok)),
        ProbeKind::External,
    )
    .await;
    assert_up(&r, "external fwmark");
    assert_eq!(std::fs::read_to_string(&args).unwrap(), "7 0 127.0.0.1 0\n");

    let (r, _) = probe(
        &target(&external_cf(
            "virtual=127.0.0.1:80",
            "=127.0.0.1:80",
            "external",
            &fail,
        )),
        ProbeKind::External,
    )
    .await;
    assert_eq!(r, Err(CheckError::Status("exit status 3".into())));

    // A missing command is down with a clear reason.
    let (r, _) = probe(
        &target(&external_cf(
            "virtual=127.0.0.1:80",
            "=127.0.0.1:80",
            "external",
            &dir.0.join("missing"),
        )),
        ProbeKind::External,
    )
    .await;
    assert!(matches!(r, Err(CheckError::Config(_))), "{r:?}");

    // A hung script is killed, with its children, at checktimeout.
    let (r, t) = probe(
        &target(&external_cf(
            "virtual=127.0.0.1:80",
            "=127.0.0.1:80",
            "external",
            &hang,
        )),
        ProbeKind::External,
    )
    .await;
    assert_eq!(r, Err(CheckError::Timeout));
    assert!(
        t >= Duration::from_millis(900) && t < Duration::from_secs(2),
        "{t:?}"
    );
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let gone_by = Instant::now() + Duration::from_secs(2);
    while process_alive(pid) && Instant::now() < gone_by {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!process_alive(pid), "the script's child {pid} survived");

    // external-perl runs the file with perl.
    let pl_ok = dir.script("ok.pl", "exit(0);\n");
    let pl_fail = dir.script("fail.pl", "die \"broken\\n\";\n");
    let (r, _) = probe(
        &target(&external_cf(
            "virtual=127.0.0.1:80",
            "=127.0.0.1:80",
            "external-perl",
            &pl_ok,
        )),
        ProbeKind::ExternalPerl,
    )
    .await;
    assert_up(&r, "external-perl");
    let (r, _) = probe(
        &target(&external_cf(
            "virtual=127.0.0.1:80",
            "=127.0.0.1:80",
            "external-perl",
            &pl_fail,
        )),
        ProbeKind::ExternalPerl,
    )
    .await;
    assert!(r.is_err(), "{r:?}");
}

fn has_ipv6_loopback() -> bool {
    std::net::UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).is_ok()
}

#[tokio::test]
async fn ping_loopback_v4_and_v6() {
    let mut addrs = vec!["127.0.0.1".to_string()];
    if has_ipv6_loopback() {
        addrs.push("[::1]".into());
    } else {
        eprintln!("SKIP: ping ::1 (no IPv6 loopback)");
    }
    for a in addrs {
        let (virt, real) = if a.starts_with('[') {
            ("virtual6=[::1]:80", "real6")
        } else {
            ("virtual=127.0.0.1:80", "real")
        };
        let cf = format!("checktimeout=1\n{virt}\n\t{real}={a}:80 gate\n\tchecktype=ping\n");
        let t = target(&cf);
        assert!(matches!(t.addr, IpAddr::V4(_) | IpAddr::V6(_)));
        let (r, _) = probe(&t, ProbeKind::Ping).await;
        match r {
            Ok(d) => assert!(d.starts_with("echo reply"), "{d}"),
            Err(CheckError::Config(e)) => {
                // No ICMP socket at all (not root, no ping_group_range).
                eprintln!("SKIP: ping {a}: {e}");
            }
            Err(e) => panic!("ping {a}: {e}"),
        }
    }
    // connect on a udp service pings (upstream).
    let cf = "checktimeout=1\nvirtual=127.0.0.1:53\n\treal=127.0.0.1:53 gate\n\
              \tprotocol=udp\n\tchecktype=connect\n";
    let (r, _) = probe(&target(cf), ProbeKind::Connect).await;
    assert!(
        matches!(&r, Ok(d) if d.starts_with("echo reply"))
            || matches!(r, Err(CheckError::Config(_))),
        "{r:?}"
    );
}

/// The checktype=on probe does no I/O.
#[tokio::test]
async fn on_is_always_up() {
    let cf = "virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n\tchecktype=on\n";
    let (r, t) = probe(&target(cf), ProbeKind::On).await;
    assert_up(&r, "on");
    assert!(t < Duration::from_millis(100));
}
