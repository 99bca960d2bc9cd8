//! The protocol negotiate checks (ftp, smtp/submission, pop/pops,
//! imap/imaps, ldap/ldaps, mysql, pgsql, radius, sip, simpletcp, nntp)
//! against REAL servers started on loopback (`tests/support/servers.rs`),
//! and against in-process fakes: a closed port (refused), a listener that
//! never answers (hung), and hostile servers (garbage, an endless stream,
//! a byte per second). Every check must fail at its deadline and read a
//! bounded amount whatever the server sends.
//!
//! Traffic goes only to 127.0.0.1. Every fake stops by itself (bounded in
//! time and bytes).

#[path = "support/servers.rs"]
mod servers;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ldirectord::check::service;
use ldirectord::check::{CheckError, CheckResult, Target};
use ldirectord::config::{CheckType, HttpMethod, Protocol, Service};
use servers::{data, Kind, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Deadline of the fake-server cases (hung, hostile).
const SHORT: Duration = Duration::from_secs(2);
/// Deadline against real servers (first connections to some are slowish).
const REAL: Duration = Duration::from_secs(10);
/// Slack allowed past a deadline.
const SLACK: Duration = Duration::from_secs(1);
/// Most bytes a fake may get into the check (and the kernel buffers):
/// the largest read cap (4 MiB) plus loopback socket buffers.
const MAX_ACCEPTED: u64 = 32 << 20;

/// A target for `service` on 127.0.0.1:`port`, as `Target::new` would make
/// it for `virtual=127.0.0.1:port` with `real=127.0.0.1:port`.
fn target(service: Service, port: u16, protocol: Protocol) -> Target {
    Target {
        checktype: CheckType::Negotiate,
        service,
        addr: LOCALHOST,
        real_port: port,
        port: Some(port),
        protocol,
        // Only external checks carry their virtual (see Target::new).
        virtual_key: None,
        request: "/".into(),
        receive: String::new(),
        url: String::new(),
        httpmethod: HttpMethod::Get,
        virtualhost: None,
        login: String::new(),
        passwd: String::new(),
        database: String::new(),
        secret: String::new(),
        checkcommand: String::new(),
        checkcount: 1,
        checktimeout: REAL,
        negotiatetimeout: REAL,
        prepared: Default::default(),
    }
}

fn with_login(mut t: Target, login: &str, passwd: &str) -> Target {
    t.login = login.into();
    t.passwd = passwd.into();
    t
}

fn with_deadline(mut t: Target, d: Duration) -> Target {
    t.checktimeout = d;
    t.negotiatetimeout = d;
    t
}

/// Run the check through the public dispatcher, timing it.
async fn run(t: &Target) -> (CheckResult, Duration) {
    let start = Instant::now();
    let r = service::negotiate(t).await;
    (r, start.elapsed())
}

#[track_caller]
fn assert_up(r: &CheckResult, what: &str) {
    assert!(r.is_ok(), "{what}: expected up, got {r:?}");
}

#[track_caller]
fn assert_down(r: &CheckResult, what: &str) {
    assert!(r.is_err(), "{what}: expected down, got {r:?}");
}

// ---------------------------------------------------------------- fakes --

/// A loopback tcp port nobody listens on.
fn closed_port() -> u16 {
    servers::free_port(true)
}

/// How a fake tcp server behaves once it accepted a connection.
#[derive(Clone, Copy, Debug)]
enum Fake {
    /// Accept and never send a byte (hold the connection).
    Hung,
    /// Send binary junk, then hold the connection.
    Garbage,
    /// Send bytes as fast as the client takes them, for at most 10 s.
    Endless,
    /// Send one byte per second, for at most 10 s.
    Slow,
}

/// Start a fake on 127.0.0.1; returns its port and the number of bytes it
/// got into the client's socket (for the bounded-read assertion).
async fn fake_tcp(kind: Fake) -> (u16, Arc<AtomicU64>) {
    let l = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let port = l.local_addr().unwrap().port();
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        // A handful of connections at most (ftp opens one, the relay one).
        for _ in 0..8 {
            let Ok(Ok((mut s, _))) =
                tokio::time::timeout(Duration::from_secs(15), l.accept()).await
            else {
                return;
            };
            let counter = counter.clone();
            tokio::spawn(async move {
                let until = Instant::now() + Duration::from_secs(10);
                match kind {
                    Fake::Hung => {
                        let mut buf = [0u8; 1024];
                        // Read (and drop) what the client says, never answer.
                        while Instant::now() < until {
                            match tokio::time::timeout_at(until.into(), s.read(&mut buf)).await {
                                Ok(Ok(n)) if n > 0 => {}
                                Ok(Ok(_)) | Ok(Err(_)) => {
                                    // Client half-closed: hold on anyway.
                                    tokio::time::sleep_until(until.into()).await;
                                    return;
                                }
                                Err(_) => return,
                            }
                        }
                    }
                    Fake::Garbage => {
                        let junk: Vec<u8> = (0..4096u32)
                            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                            .collect();
                        if s.write_all(&junk).await.is_ok() {
                            counter.fetch_add(junk.len() as u64, Ordering::Relaxed);
                        }
                        tokio::time::sleep_until(until.into()).await;
                    }
                    Fake::Endless => {
                        // Looks like the start of a reply of each protocol
                        // that never ends: digits, then no line end.
                        let chunk = vec![b'5'; 64 * 1024];
                        while Instant::now() < until {
                            match tokio::time::timeout_at(until.into(), s.write(&chunk)).await {
                                Ok(Ok(n)) if n > 0 => {
                                    counter.fetch_add(n as u64, Ordering::Relaxed);
                                }
                                _ => return,
                            }
                        }
                    }
                    Fake::Slow => {
                        while Instant::now() < until {
                            if s.write_all(b"5").await.is_err() {
                                return;
                            }
                            counter.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
            });
        }
    });
    (port, sent)
}

/// A udp fake: `Hung` never answers, `Garbage` answers each datagram with
/// junk, `Endless` floods the sender with junk datagrams (bounded count).
async fn fake_udp(kind: Fake) -> u16 {
    let s = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    let port = s.local_addr().unwrap().port();
    tokio::spawn(async move {
        let until = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 2048];
        while let Ok(Ok((_, peer))) =
            tokio::time::timeout_at(until.into(), s.recv_from(&mut buf)).await
        {
            match kind {
                Fake::Hung => {}
                Fake::Garbage | Fake::Slow => {
                    let _ = s
                        .send_to(b"\x02\x00garbage that is no reply\r\n", peer)
                        .await;
                }
                Fake::Endless => {
                    for _ in 0..2000 {
                        if s.send_to(&[0x41u8; 1200], peer).await.is_err() {
                            break;
                        }
                    }
                }
            }
        }
    });
    port
}

/// The target a fake case uses for `service` (credentials and request set
/// so every check gets as far as it can).
fn fake_target(service: Service, port: u16, protocol: Protocol) -> Target {
    let mut t = with_deadline(target(service, port, protocol), SHORT);
    t.login = data::USER.into();
    t.passwd = data::PASSWORD.into();
    t.request = match service {
        Service::Ftp => data::FTP_FILE.into(),
        Service::Ldap | Service::Ldaps => format!("/{}", data::LDAP_BASE),
        Service::Mysql | Service::Pgsql => data::SQL_QUERY.into(),
        Service::SimpleTcp => "/HELLO\\n".into(),
        _ => "/".into(),
    };
    t.receive = match service {
        Service::Ftp => "Welcome".into(),
        Service::SimpleTcp => "^OK".into(),
        _ => String::new(),
    };
    t.database = data::DATABASE.into();
    t.secret = data::RADIUS_SECRET.into();
    t
}

/// Refused, hung and the three hostile fakes for one tcp service; every
/// case must fail within the deadline with a bounded read.
async fn fake_cases(service: Service) {
    // refused
    let t = fake_target(service, closed_port(), Protocol::Tcp);
    let (r, took) = run(&t).await;
    assert_down(&r, &format!("{service} refused"));
    assert!(took < SHORT + SLACK, "{service} refused took {took:?}");
    assert_eq!(r, Err(CheckError::Refused), "{service} refused");

    for kind in [Fake::Hung, Fake::Garbage, Fake::Endless, Fake::Slow] {
        let (port, sent) = fake_tcp(kind).await;
        let t = fake_target(service, port, Protocol::Tcp);
        let (r, took) = run(&t).await;
        let what = format!("{service} {kind:?}");
        assert_down(&r, &what);
        assert!(took < SHORT + SLACK, "{what} took {took:?} ({r:?})");
        let n = sent.load(Ordering::Relaxed);
        assert!(n < MAX_ACCEPTED, "{what}: the check accepted {n} bytes");
        eprintln!("{what}: {r:?} after {took:?}, {n} bytes accepted");
    }
}

macro_rules! fake_tests {
    ($($name:ident => $service:expr),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            fake_cases($service).await;
        }
    )*};
}

fake_tests! {
    ftp_fakes => Service::Ftp,
    smtp_fakes => Service::Smtp,
    submission_fakes => Service::Submission,
    pop_fakes => Service::Pop,
    pops_fakes => Service::Pops,
    imap_fakes => Service::Imap,
    imaps_fakes => Service::Imaps,
    ldap_fakes => Service::Ldap,
    ldaps_fakes => Service::Ldaps,
    mysql_fakes => Service::Mysql,
    pgsql_fakes => Service::Pgsql,
    sip_tcp_fakes => Service::Sip,
    simpletcp_fakes => Service::SimpleTcp,
    nntp_fakes => Service::Nntp,
}

/// udp services: refused (ICMP port unreachable), hung, junk, flood.
async fn fake_udp_cases(service: Service) {
    let t = fake_target(service, closed_port(), Protocol::Udp);
    let (r, took) = run(&t).await;
    assert_down(&r, &format!("{service}/udp refused"));
    assert!(took < SHORT + SLACK, "{service}/udp refused took {took:?}");

    for kind in [Fake::Hung, Fake::Garbage, Fake::Endless] {
        let port = fake_udp(kind).await;
        let t = fake_target(service, port, Protocol::Udp);
        let (r, took) = run(&t).await;
        let what = format!("{service}/udp {kind:?}");
        assert_down(&r, &what);
        assert!(took < SHORT + SLACK, "{what} took {took:?} ({r:?})");
        eprintln!("{what}: {r:?} after {took:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn radius_fakes() {
    fake_udp_cases(Service::Radius).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_udp_fakes() {
    fake_udp_cases(Service::Sip).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simpletcp_udp_fakes() {
    fake_udp_cases(Service::SimpleTcp).await;
}

// ------------------------------------------------- in-process positives --

/// simpletcp's request/receive semantics against a tiny line server: the
/// request loses its first character, `\n` becomes LF, the reply is read
/// after our half-close.
#[tokio::test]
async fn simpletcp_semantics() {
    let l = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let port = l.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let mut got = Vec::new();
        for _ in 0..3 {
            let (mut s, _) = l.accept().await.unwrap();
            let mut req = Vec::new();
            // Reads to EOF: only works because the check half-closes.
            s.read_to_end(&mut req).await.unwrap();
            s.write_all(b"hello\nstatus: OK\nbye\n").await.unwrap();
            got.push(req);
        }
        got
    });
    let mut t = with_deadline(target(Service::SimpleTcp, port, Protocol::Tcp), SHORT);
    t.request = "/PING\\nPONG".into();
    t.receive = "^status: (OK|FINE)$".into();
    let (r, _) = run(&t).await;
    assert_eq!(r, Ok("status: OK".into()));
    t.receive = "^nothing like it".into();
    let (r, _) = run(&t).await;
    assert!(matches!(r, Err(CheckError::Mismatch(_))), "{r:?}");
    // COMPAT: empty receive means any answer.
    t.receive = String::new();
    let (r, _) = run(&t).await;
    assert_eq!(r, Ok("hello".into()));
    let got = server.await.unwrap();
    assert_eq!(got[0], b"PING\nPONG");
}

#[tokio::test]
async fn simpletcp_udp_semantics() {
    let s = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    let port = s.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        for _ in 0..2 {
            let Ok((n, peer)) = s.recv_from(&mut buf).await else {
                return;
            };
            assert_eq!(&buf[..n], b"STATUS\n");
            let _ = s.send_to(b"ignored\nUP 1\n", peer).await;
        }
    });
    let mut t = with_deadline(target(Service::SimpleTcp, port, Protocol::Udp), SHORT);
    t.request = "/STATUS\\n".into();
    t.receive = "^UP".into();
    let (r, _) = run(&t).await;
    assert_eq!(r, Ok("UP 1".into()));
}

#[tokio::test]
async fn sql_without_login_or_request_is_a_config_error() {
    for service in [Service::Mysql, Service::Pgsql] {
        let mut t = fake_target(service, closed_port(), Protocol::Tcp);
        t.login.clear();
        let (r, _) = run(&t).await;
        assert!(
            matches!(&r, Err(CheckError::Config(m)) if m.starts_with("Must specify a login and request string")),
            "{service}: {r:?}"
        );
        let mut t = fake_target(service, closed_port(), Protocol::Tcp);
        t.request.clear();
        let (r, _) = run(&t).await;
        assert!(matches!(&r, Err(CheckError::Config(_))), "{service}: {r:?}");
        // The parser's default request "/" is an empty query too.
        t.request = "/".into();
        let (r, _) = run(&t).await;
        assert!(matches!(&r, Err(CheckError::Config(_))), "{service}: {r:?}");
    }
}

#[tokio::test]
async fn nntp_greeting_rules() {
    for (greeting, up) in [
        (&b"200 news ready\r\n"[..], true),
        (b"201 no posting\r\n", true),
        (b"400 service discontinued\r\n", false),
        (b"", false),
    ] {
        let l = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
        let port = l.local_addr().unwrap().port();
        let g = greeting.to_vec();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let _ = s.write_all(&g).await;
        });
        let t = with_deadline(target(Service::Nntp, port, Protocol::Tcp), SHORT);
        let (r, _) = run(&t).await;
        assert_eq!(r.is_ok(), up, "{greeting:?}: {r:?}");
    }
}

// --------------------------------------------------------- real servers --

#[tokio::test]
async fn ftp_real() {
    let Some(srv) = Server::start(Kind::Ftp) else {
        return;
    };
    let base = || {
        let mut t = target(Service::Ftp, srv.port(), Protocol::Tcp);
        t.request = data::FTP_FILE.into();
        t.receive = "Welcome to the ldirectord".into();
        t
    };
    let t = with_login(base(), data::USER, data::PASSWORD);
    let (r, _) = run(&t).await;
    assert_up(&r, "ftp local user");
    // Empty login (service derived from port 21): anonymous.
    let (r, _) = run(&base()).await;
    assert_up(&r, "ftp anonymous");
    // Empty receive: any content.
    let mut t = base();
    t.receive.clear();
    assert_up(&run(&t).await.0, "ftp empty receive");
    // Wrong answer.
    let mut t = base();
    t.receive = "^Goodbye".into();
    let (r, _) = run(&t).await;
    assert!(
        matches!(r, Err(CheckError::Mismatch(_))),
        "ftp mismatch: {r:?}"
    );
    // Wrong password.
    let t = with_login(base(), data::USER, "wrong");
    let (r, _) = run(&t).await;
    assert!(
        matches!(r, Err(CheckError::Auth(_))),
        "ftp wrong password: {r:?}"
    );
    // Missing file.
    let mut t = base();
    t.request = "/no-such-file".into();
    assert_down(&run(&t).await.0, "ftp missing file");
}

#[tokio::test]
async fn smtp_real() {
    let Some(srv) = Server::start(Kind::Smtp) else {
        return;
    };
    let t = target(Service::Smtp, srv.port(), Protocol::Tcp);
    let (r, _) = run(&t).await;
    assert_up(&r, "smtp");
    assert!(r.unwrap().starts_with("220 "), "detail is the greeting");
    let t = target(Service::Submission, srv.submission_port(), Protocol::Tcp);
    assert_up(&run(&t).await.0, "submission");
}

#[tokio::test]
async fn mail_real() {
    let Some(srv) = Server::start(Kind::Mail) else {
        return;
    };
    for (service, port) in [
        (Service::Pop, srv.pop_port()),
        (Service::Pops, srv.pops_port()),
        (Service::Imap, srv.imap_port()),
        (Service::Imaps, srv.imaps_port()),
    ] {
        let t = target(service, port, Protocol::Tcp);
        let (r, _) = run(&t).await;
        assert_up(&r, &format!("{service} without login"));
        let t = with_login(
            target(service, port, Protocol::Tcp),
            data::USER,
            data::PASSWORD,
        );
        let (r, _) = run(&t).await;
        assert_up(&r, &format!("{service} login"));
        let t = with_login(target(service, port, Protocol::Tcp), data::USER, "wrong");
        let (r, _) = run(&t).await;
        assert!(
            matches!(r, Err(CheckError::Auth(_))),
            "{service} wrong password: {r:?}"
        );
    }
}

#[tokio::test]
async fn ldap_real() {
    let Some(srv) = Server::start(Kind::Ldap) else {
        return;
    };
    for (service, port) in [
        (Service::Ldap, srv.port()),
        (Service::Ldaps, srv.ldaps_port()),
    ] {
        let base = || {
            let mut t = target(service, port, Protocol::Tcp);
            t.request = format!("/{}", data::LDAP_BASE);
            t
        };
        let (r, _) = run(&base()).await;
        assert_eq!(r, Ok(data::LDAP_BASE.into()), "{service} anonymous");
        let mut t = base();
        t.receive = "^dc=example".into();
        assert_up(&run(&t).await.0, &format!("{service} receive"));
        let mut t = with_login(base(), data::LDAP_ADMIN_DN, data::PASSWORD);
        t.request = format!("/{}", data::LDAP_USER_DN);
        assert_up(&run(&t).await.0, &format!("{service} bind"));
        // Wrong base DN: noSuchObject.
        let mut t = base();
        t.request = "/ou=missing,dc=example,dc=test".into();
        assert_down(&run(&t).await.0, &format!("{service} wrong base"));
        // DN does not match receive.
        let mut t = base();
        t.receive = "^ou=".into();
        let (r, _) = run(&t).await;
        assert!(
            matches!(r, Err(CheckError::Mismatch(_))),
            "{service}: {r:?}"
        );
        // Wrong password.
        let t = with_login(base(), data::LDAP_ADMIN_DN, "wrong");
        let (r, _) = run(&t).await;
        assert!(
            matches!(r, Err(CheckError::Auth(_))),
            "{service} wrong password: {r:?}"
        );
    }
}

async fn sql_cases(service: Service, port: u16) {
    let base = || {
        let mut t = with_login(
            target(service, port, Protocol::Tcp),
            data::USER,
            data::PASSWORD,
        );
        t.database = data::DATABASE.into();
        // As the parser stores it: with a leading `/` the check removes.
        t.request = format!("/{}", data::SQL_QUERY);
        t
    };
    let (r, _) = run(&base()).await;
    assert_up(&r, &format!("{service}"));
    let mut t = base();
    t.request = data::SQL_EMPTY_QUERY.into();
    let (r, _) = run(&t).await;
    assert!(
        matches!(r, Err(CheckError::Mismatch(_))),
        "{service} empty: {r:?}"
    );
    let mut t = base();
    t.passwd = "wrong".into();
    let (r, _) = run(&t).await;
    assert!(
        matches!(r, Err(CheckError::Auth(_))),
        "{service} wrong password: {r:?}"
    );
    let mut t = base();
    t.request = "SELECT * FROM no_such_table".into();
    let (r, _) = run(&t).await;
    assert!(
        matches!(r, Err(CheckError::Status(_))),
        "{service} bad query: {r:?}"
    );
}

#[tokio::test]
async fn mysql_real() {
    let Some(srv) = Server::start(Kind::Mysql) else {
        return;
    };
    sql_cases(Service::Mysql, srv.port()).await;
    // The same check from a configuration file, through Target::new.
    let port = srv.port();
    let text = format!(
        "negotiatetimeout=10\n\
         virtual=127.0.0.1:{port}\n\
         \treal=127.0.0.1:{port} masq\n\
         \tservice=mysql\n\
         \tchecktype=negotiate\n\
         \tlogin=\"{}\"\n\
         \tpasswd=\"{}\"\n\
         \tdatabase=\"{}\"\n\
         \trequest=\"{}\"\n",
        data::USER,
        data::PASSWORD,
        data::DATABASE,
        data::SQL_QUERY
    );
    let loaded = ldirectord::config::load_str(
        &text,
        std::path::Path::new("check_services.cf"),
        &ldirectord::config::Options::default(),
    )
    .expect("config loads");
    let v = &loaded.config.virtuals[0];
    let t = Target::new(v, &v.reals[0]);
    assert_eq!(t.request, format!("/{}", data::SQL_QUERY));
    assert_up(&run(&t).await.0, "mysql from a config file");
}

#[tokio::test]
async fn pgsql_real() {
    let Some(srv) = Server::start(Kind::Pgsql) else {
        return;
    };
    sql_cases(Service::Pgsql, srv.port()).await;
}

#[tokio::test]
async fn radius_real() {
    let Some(srv) = Server::start(Kind::Radius) else {
        return;
    };
    let base = || {
        let mut t = with_login(
            target(Service::Radius, srv.port(), Protocol::Udp),
            data::USER,
            data::PASSWORD,
        );
        t.secret = data::RADIUS_SECRET.into();
        t
    };
    let (r, _) = run(&base()).await;
    assert_eq!(r, Ok("Access-Accept (Hello, ldirectord)".into()));
    let mut t = base();
    t.passwd = "wrong".into();
    let (r, _) = run(&t).await;
    assert!(
        matches!(r, Err(CheckError::Auth(ref m)) if m.starts_with("Access-Reject")),
        "{r:?}"
    );
    let mut t = base();
    t.secret = "not-the-secret".into();
    let (r, _) = run(&t).await;
    assert!(matches!(r, Err(CheckError::Auth(_))), "wrong secret: {r:?}");
}

#[tokio::test]
async fn sip_real() {
    let Some(srv) = Server::start(Kind::Sip) else {
        return;
    };
    for protocol in [Protocol::Udp, Protocol::Tcp] {
        let t = with_login(
            target(Service::Sip, srv.port(), protocol),
            "ldirectord@example.test",
            "",
        );
        let (r, _) = run(&t).await;
        assert_eq!(r, Ok("SIP/2.0 200 OK".into()), "sip over {protocol:?}");
        // Empty login: the ldirectord@<hostname> default.
        let t = target(Service::Sip, srv.port(), protocol);
        assert_up(&run(&t).await.0, &format!("sip {protocol:?} default login"));
        if has_ipv6_loopback() {
            let mut t = target(Service::Sip, srv.port(), protocol);
            t.addr = IpAddr::V6(Ipv6Addr::LOCALHOST);
            assert_up(&run(&t).await.0, &format!("sip {protocol:?} over ::1"));
        }
    }
}

#[tokio::test]
async fn nntp_real() {
    let Some(srv) = Server::start(Kind::Nntp) else {
        return;
    };
    let t = target(Service::Nntp, srv.port(), Protocol::Tcp);
    let (r, _) = run(&t).await;
    assert_up(&r, "nntp");
    assert!(r.unwrap().starts_with("201"));
    // simpletcp against the same server: the greeting line matches.
    let mut t = target(Service::SimpleTcp, srv.port(), Protocol::Tcp);
    t.request = "/QUIT\\n".into();
    t.receive = "^201 ".into();
    assert_up(&run(&t).await.0, "simpletcp vs nntp");
    t.receive = "^500 ".into();
    assert_down(&run(&t).await.0, "simpletcp vs nntp, wrong receive");
    // IPv6 real (the servers also listen on ::1 when the host has it).
    if has_ipv6_loopback() {
        let mut t = target(Service::Nntp, srv.port(), Protocol::Tcp);
        t.addr = IpAddr::V6(Ipv6Addr::LOCALHOST);
        assert_up(&run(&t).await.0, "nntp over ::1");
    }
}

fn has_ipv6_loopback() -> bool {
    std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok()
}
