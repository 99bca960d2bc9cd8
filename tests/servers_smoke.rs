//! Smoke tests for the real-server fixtures (tests/servers/ctl.sh): every
//! server starts on loopback and answers a plain std client. Servers that are
//! not installed are skipped outside CI (see tests/support/servers.rs).

#[path = "support/servers.rs"]
mod servers;

use servers::{data, Kind, Server};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

const IO_TIMEOUT: Duration = Duration::from_secs(10);

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), IO_TIMEOUT)
        .unwrap_or_else(|e| panic!("connect 127.0.0.1:{port}: {e}"));
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

/// A line-oriented text-protocol session (smtp, pop, imap, ftp, nntp).
struct Lines {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Lines {
    fn new(port: u16) -> Lines {
        let s = connect(port);
        Lines {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        }
    }
    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).expect("read line");
        l
    }
    /// Reads a (possibly multi-line `NNN-`) reply and returns its last line.
    fn reply(&mut self) -> String {
        loop {
            let l = self.line();
            if l.len() < 4 || l.as_bytes()[3] != b'-' {
                return l;
            }
        }
    }
    fn send(&mut self, s: &str) {
        self.w.write_all(s.as_bytes()).unwrap();
        self.w.write_all(b"\r\n").unwrap();
    }
    fn cmd(&mut self, s: &str) -> String {
        self.send(s);
        self.reply()
    }
}

fn http_get(port: u16, request_target: &str, host: &str) -> String {
    let mut s = connect(port);
    write!(
        s,
        "GET {request_target} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: smoke\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    String::from_utf8_lossy(&buf).into_owned()
}

#[test]
fn http_https_proxy() {
    let Some(srv) = Server::start(Kind::Http) else {
        return;
    };
    let p = srv.port();
    let r = http_get(p, "/index.html", "www.example.test");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(r.contains(data::HTTP_INDEX_TEXT), "{r}");
    let r = http_get(p, "/health.html", "127.0.0.1");
    assert!(
        r.starts_with("HTTP/1.1 200") && r.ends_with("\r\n\r\nOK\n"),
        "{r}"
    );
    let r = http_get(p, "/missing.html", "127.0.0.1");
    assert!(r.starts_with("HTTP/1.1 404"), "{r}");

    // https: no TLS in std; the port accepts connections and answers plain
    // HTTP with nginx's "plain HTTP request was sent to HTTPS port" (400).
    let r = http_get(srv.https_port(), "/", "127.0.0.1");
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");

    // forward proxy: absolute URL to the loopback http server
    let url = format!("http://127.0.0.1:{p}/health.html");
    let r = http_get(srv.proxy_port(), &url, &format!("127.0.0.1:{p}"));
    assert!(r.starts_with("HTTP/1.1 200") && r.ends_with("OK\n"), "{r}");
    // ... and it refuses anything but a loopback upstream (nothing is sent out)
    let r = http_get(srv.proxy_port(), "http://192.0.2.1/", "192.0.2.1");
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
}

/// A DNS query for (name, qtype) with id 0x1234, recursion desired.
fn dns_query(name: &str, qtype: u16) -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    q
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn dns_udp_and_tcp() {
    let Some(srv) = Server::start(Kind::Dns) else {
        return;
    };
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    sock.connect(("127.0.0.1", srv.port())).unwrap();
    let mut buf = [0u8; 1500];

    sock.send(&dns_query(data::DNS_NAME, 1)).unwrap();
    let n = sock.recv(&mut buf).unwrap();
    let r = &buf[..n];
    assert_eq!(&r[..2], &[0x12, 0x34]);
    assert_eq!(r[3] & 0x0f, 0, "rcode");
    assert!(u16::from_be_bytes([r[6], r[7]]) >= 1, "no answer");
    assert!(contains(r, &[192, 0, 2, 10]), "no A 192.0.2.10 in {r:?}");

    sock.send(&dns_query(data::DNS_PTR_NAME, 12)).unwrap();
    let n = sock.recv(&mut buf).unwrap();
    let r = &buf[..n];
    assert_eq!(r[3] & 0x0f, 0, "rcode");
    assert!(
        contains(r, b"\x03www\x07example\x04test\x00"),
        "no PTR target in {r:?}"
    );

    sock.send(&dns_query(data::DNS_NAME, 28)).unwrap();
    let n = sock.recv(&mut buf).unwrap();
    let aaaa: [u8; 16] = "2001:db8::10"
        .parse::<std::net::Ipv6Addr>()
        .unwrap()
        .octets();
    assert!(contains(&buf[..n], &aaaa), "no AAAA");

    // tcp: 2-byte length prefix
    let mut s = connect(srv.port());
    let q = dns_query(data::DNS_NAME, 1);
    s.write_all(&(q.len() as u16).to_be_bytes()).unwrap();
    s.write_all(&q).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut r = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut r).unwrap();
    assert!(contains(&r, &[192, 0, 2, 10]), "tcp: no A");
}

#[test]
fn ftp_login_anonymous_and_user() {
    let Some(srv) = Server::start(Kind::Ftp) else {
        return;
    };
    for (user, pass) in [
        ("anonymous", "ldirectord@localhost"),
        (data::USER, data::PASSWORD),
    ] {
        let mut c = Lines::new(srv.port());
        let g = c.reply();
        assert!(g.starts_with("220"), "{g}");
        let r = c.cmd(&format!("USER {user}"));
        assert!(r.starts_with("331"), "{r}");
        let r = c.cmd(&format!("PASS {pass}"));
        assert!(r.starts_with("230"), "{user}: {r}");
        let r = c.cmd("SIZE /welcome.msg");
        assert_eq!(r.trim_end(), format!("213 {}", data::FTP_FILE_TEXT.len()));
        let r = c.cmd("QUIT");
        assert!(r.starts_with("221"), "{r}");
    }
    let mut c = Lines::new(srv.port());
    c.reply();
    c.cmd(&format!("USER {}", data::USER));
    let r = c.cmd("PASS wrong");
    assert!(r.starts_with("530"), "{r}");
}

#[test]
fn smtp_and_submission() {
    let Some(srv) = Server::start(Kind::Smtp) else {
        return;
    };
    for port in [srv.port(), srv.submission_port()] {
        let mut c = Lines::new(port);
        let g = c.reply();
        assert!(g.starts_with("220"), "{g}");
        let r = c.cmd("EHLO smoke.test");
        assert!(r.starts_with("250 "), "{r}");
        c.cmd("MAIL FROM:<a@smoke.test>");
        let r = c.cmd("RCPT TO:<someone@example.org>");
        assert!(r.starts_with("550"), "relay must be refused: {r}");
        let r = c.cmd("QUIT");
        assert!(r.starts_with("221"), "{r}");
    }
}

#[test]
fn pop_and_imap() {
    let Some(srv) = Server::start(Kind::Mail) else {
        return;
    };
    let mut c = Lines::new(srv.pop_port());
    assert!(c.line().starts_with("+OK"));
    assert!(c.cmd(&format!("USER {}", data::USER)).starts_with("+OK"));
    assert!(c
        .cmd(&format!("PASS {}", data::PASSWORD))
        .starts_with("+OK"));
    assert!(c.cmd("QUIT").starts_with("+OK"));

    let mut c = Lines::new(srv.pop_port());
    c.line();
    c.cmd(&format!("USER {}", data::USER));
    assert!(c.cmd("PASS wrong").starts_with("-ERR"));

    let mut c = Lines::new(srv.imap_port());
    assert!(c.line().starts_with("* OK"));
    c.send(&format!("a LOGIN {} {}", data::USER, data::PASSWORD));
    let r = c.line();
    assert!(r.starts_with("a OK"), "{r}");
    c.send("b LOGOUT");
    assert!(c.line().starts_with("* BYE"));

    // TLS ports accept connections (no TLS client in std)
    connect(srv.pops_port());
    connect(srv.imaps_port());
}

#[test]
fn ldap_anonymous_bind() {
    let Some(srv) = Server::start(Kind::Ldap) else {
        return;
    };
    let mut s = connect(srv.port());
    // BindRequest, messageID 1, version 3, empty name, simple auth ""
    s.write_all(&[
        0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
    ])
    .unwrap();
    let mut r = [0u8; 14];
    s.read_exact(&mut r).unwrap();
    // BindResponse (0x61) with resultCode success (0x0a 0x01 0x00)
    assert_eq!(r[5], 0x61, "{r:?}");
    assert_eq!(&r[7..10], &[0x0a, 0x01, 0x00], "{r:?}");
    connect(srv.ldaps_port());
}

#[test]
fn mysql_greeting() {
    let Some(srv) = Server::start(Kind::Mysql) else {
        return;
    };
    let mut s = connect(srv.port());
    let mut hdr = [0u8; 4];
    s.read_exact(&mut hdr).unwrap();
    let len = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], 0]) as usize;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    assert_eq!(body[0], 10, "protocol version");
    assert!(
        contains(&body, b"MariaDB"),
        "{:?}",
        String::from_utf8_lossy(&body)
    );
}

#[test]
fn pgsql_startup_asks_for_password() {
    let Some(srv) = Server::start(Kind::Pgsql) else {
        return;
    };
    let mut s = connect(srv.port());
    let mut msg = Vec::new();
    msg.extend_from_slice(&196608u32.to_be_bytes()); // protocol 3.0
    for kv in ["user", data::USER, "database", data::DATABASE, ""] {
        msg.extend_from_slice(kv.as_bytes());
        msg.push(0);
    }
    s.write_all(&((msg.len() + 4) as u32).to_be_bytes())
        .unwrap();
    s.write_all(&msg).unwrap();
    let mut r = [0u8; 9];
    s.read_exact(&mut r).unwrap();
    assert_eq!(r[0], b'R', "{r:?}");
    // AuthenticationSASL (10): scram-sha-256 password auth over tcp
    assert_eq!(u32::from_be_bytes([r[5], r[6], r[7], r[8]]), 10, "{r:?}");
}

#[test]
fn radius_answers() {
    let Some(srv) = Server::start(Kind::Radius) else {
        return;
    };
    // Access-Request with a User-Password not encrypted with the secret:
    // the server decrypts garbage and must answer Access-Reject (3).
    let mut p = vec![1u8, 0x42, 0, 0];
    p.extend_from_slice(&[7u8; 16]); // request authenticator
    p.extend_from_slice(&[1, 2 + data::USER.len() as u8]);
    p.extend_from_slice(data::USER.as_bytes());
    p.extend_from_slice(&[2, 18]);
    p.extend_from_slice(&[0x55u8; 16]);
    let len = p.len() as u16;
    p[2..4].copy_from_slice(&len.to_be_bytes());
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    sock.connect(("127.0.0.1", srv.port())).unwrap();
    sock.send(&p).unwrap();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).unwrap();
    assert!(n >= 20);
    assert_eq!(
        (buf[0], buf[1]),
        (3, 0x42),
        "want Access-Reject for id 0x42"
    );

    // the real thing with Debian's radclient, when it is installed
    if let Ok(mut child) = std::process::Command::new("radclient")
        .args([
            "-r",
            "1",
            "-t",
            "3",
            &format!("127.0.0.1:{}", srv.port()),
            "auth",
            data::RADIUS_SECRET,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    {
        writeln!(
            child.stdin.take().unwrap(),
            "User-Name = \"{}\", User-Password = \"{}\"",
            data::USER,
            data::PASSWORD
        )
        .unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("Access-Accept"),
            "{text}"
        );
    }
}

fn sip_options(transport: &str, port: u16) -> String {
    format!(
        "OPTIONS sip:{u}@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/{transport} 127.0.0.1:{port};branch=z9hG4bK-smoke\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:{u}@127.0.0.1>\r\n\
         From: <sip:{u}@127.0.0.1>;tag=smoke\r\n\
         Call-ID: smoke-{transport}@127.0.0.1\r\n\
         CSeq: 63104 OPTIONS\r\n\
         Contact: <sip:{u}@127.0.0.1>\r\n\
         Accept: application/sdp\r\n\
         Content-Length: 0\r\n\r\n",
        u = data::USER
    )
}

#[test]
fn sip_options_udp_and_tcp() {
    let Some(srv) = Server::start(Kind::Sip) else {
        return;
    };
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    sock.connect(("127.0.0.1", srv.port())).unwrap();
    let local = sock.local_addr().unwrap().port();
    sock.send(sip_options("UDP", local).as_bytes()).unwrap();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).unwrap();
    let r = String::from_utf8_lossy(&buf[..n]);
    assert!(r.starts_with("SIP/2.0 200 OK\r\n"), "{r}");

    let mut c = Lines::new(srv.port());
    let local = c.w.local_addr().unwrap().port();
    c.w.write_all(sip_options("TCP", local).as_bytes()).unwrap();
    let r = c.line();
    assert_eq!(r, "SIP/2.0 200 OK\r\n");
}

#[test]
fn nntp_greeting() {
    let Some(srv) = Server::start(Kind::Nntp) else {
        return;
    };
    let mut c = Lines::new(srv.port());
    let g = c.line();
    assert!(g.starts_with('2'), "{g}");
    assert!(c.cmd("QUIT").starts_with("205"));
}

/// Two instances of the same kind in different dirs on different ports.
#[test]
fn two_instances_are_isolated() {
    let Some(a) = Server::start(Kind::Dns) else {
        return;
    };
    let Some(b) = Server::start(Kind::Dns) else {
        return;
    };
    assert_ne!(a.port(), b.port());
    assert_ne!(a.dir(), b.dir());
    for port in [a.port(), b.port()] {
        let mut s = connect(port);
        let q = dns_query(data::DNS_NAME, 1);
        s.write_all(&(q.len() as u16).to_be_bytes()).unwrap();
        s.write_all(&q).unwrap();
        let mut len = [0u8; 2];
        s.read_exact(&mut len).unwrap();
    }
    let pa = a.port();
    a.stop();
    assert!(
        TcpStream::connect(("127.0.0.1", pa)).is_err(),
        "stopped server still listening"
    );
    connect(b.port());
}
