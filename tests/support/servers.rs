//! Real Debian servers for the health-check tests, started on loopback by the
//! tests themselves (see `tests/servers/README.md` for the fixed test data).
//!
//! Include it from an integration test with
//!
//! ```ignore
//! #[path = "support/servers.rs"]
//! mod servers;
//! use servers::{Kind, Server};
//!
//! let Some(srv) = Server::start(Kind::Dns) else { return }; // SKIP printed
//! let port = srv.port();
//! ```
//!
//! `Server::start` picks free loopback ports, runs `tests/servers/ctl.sh` with a
//! fresh directory, and stops the server (and removes the directory) on drop.
//! When the server is not installed it prints `SKIP: <reason>` and returns
//! `None`, unless the environment variable `CI` is set (and not `false`/`0`),
//! in which case it panics: in CI a missing server is a failure.
//!
//! Only std is used, so this compiles without extra dev-dependencies.
#![allow(dead_code)]

use std::collections::HashSet;
use std::net::{Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// The fixed test data every server is set up with (see tests/servers/README.md).
pub mod data {
    /// Login for ftp (local user), pop/imap, mysql, pgsql, radius, ldap (uid).
    pub const USER: &str = "ldirectord";
    pub const PASSWORD: &str = "testpass";
    pub const RADIUS_SECRET: &str = "testing123";
    /// mysql / pgsql database and query.
    pub const DATABASE: &str = "ldirectord";
    pub const SQL_QUERY: &str = "SELECT * FROM t";
    /// A table without rows (a SELECT on it returns 0 rows).
    pub const SQL_EMPTY_QUERY: &str = "SELECT * FROM empty";
    /// http(s): `/index.html` contains this; `/health.html` is exactly "OK\n".
    pub const HTTP_INDEX_TEXT: &str = "Test Page";
    pub const HTTP_HEALTH_BODY: &str = "OK\n";
    /// ftp: file in the ftp root (anonymous and the local user see the same tree).
    pub const FTP_FILE: &str = "/welcome.msg";
    pub const FTP_FILE_TEXT: &str = "Welcome to the ldirectord test FTP server\n";
    /// dns
    pub const DNS_NAME: &str = "www.example.test";
    pub const DNS_A: &str = "192.0.2.10";
    pub const DNS_AAAA: &str = "2001:db8::10";
    pub const DNS_PTR_NAME: &str = "10.2.0.192.in-addr.arpa";
    pub const DNS_PTR_TARGET: &str = "www.example.test";
    /// ldap
    pub const LDAP_BASE: &str = "dc=example,dc=test";
    pub const LDAP_ADMIN_DN: &str = "cn=admin,dc=example,dc=test";
    pub const LDAP_USER_DN: &str = "uid=ldirectord,ou=people,dc=example,dc=test";
    /// smtp: the only accepted recipient domain (mail is discarded).
    pub const SMTP_DOMAIN: &str = "example.test";
}

/// Which server to start. The ports a kind takes are, in order:
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// nginx: `[http, https, http_proxy]` (tcp)
    Http,
    /// dnsmasq: `[dns]` (udp and tcp)
    Dns,
    /// vsftpd: `[ftp]`
    Ftp,
    /// exim4: `[smtp, submission]`
    Smtp,
    /// dovecot: `[pop3, imap, pop3s, imaps]`
    Mail,
    /// slapd: `[ldap, ldaps]`
    Ldap,
    /// mariadb: `[mysql]`
    Mysql,
    /// postgresql: `[pgsql]`
    Pgsql,
    /// freeradius: `[radius]` (udp)
    Radius,
    /// kamailio: `[sip]` (udp and tcp)
    Sip,
    /// sn (snntpd under socat): `[nntp]`
    Nntp,
}

impl Kind {
    pub const ALL: [Kind; 11] = [
        Kind::Http,
        Kind::Dns,
        Kind::Ftp,
        Kind::Smtp,
        Kind::Mail,
        Kind::Ldap,
        Kind::Mysql,
        Kind::Pgsql,
        Kind::Radius,
        Kind::Sip,
        Kind::Nntp,
    ];

    /// The NAME argument of ctl.sh.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::Dns => "dns",
            Kind::Ftp => "ftp",
            Kind::Smtp => "smtp",
            Kind::Mail => "mail",
            Kind::Ldap => "ldap",
            Kind::Mysql => "mysql",
            Kind::Pgsql => "pgsql",
            Kind::Radius => "radius",
            Kind::Sip => "sip",
            Kind::Nntp => "nntp",
        }
    }

    pub fn port_count(self) -> usize {
        match self {
            Kind::Http => 3,
            Kind::Smtp | Kind::Ldap => 2,
            Kind::Mail => 4,
            _ => 1,
        }
    }

    /// Whether the ports must also be free for UDP.
    fn uses_udp(self) -> bool {
        matches!(self, Kind::Dns | Kind::Radius | Kind::Sip)
    }
}

/// A running throwaway server; stopped (and its directory removed) on drop.
pub struct Server {
    kind: Kind,
    dir: PathBuf,
    ports: Vec<u16>,
    stopped: bool,
}

fn ctl_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/ctl.sh")
}

/// True when running in CI (`CI` set to anything but "", "0" or "false").
pub fn in_ci() -> bool {
    match std::env::var("CI") {
        Ok(v) => !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false")),
        Err(_) => false,
    }
}

/// Skip (print and return true) outside CI; panic in CI.
fn skip_or_fail(reason: &str) -> bool {
    if in_ci() {
        panic!("{reason} (CI is set, so this is a failure, not a skip)");
    }
    eprintln!("SKIP: {reason}");
    true
}

/// Whether the server's binaries are installed (`ctl.sh NAME available`).
pub fn available(kind: Kind) -> bool {
    Command::new("bash")
        .arg(ctl_script())
        .arg(kind.name())
        .arg("available")
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn handed_out() -> &'static Mutex<HashSet<u16>> {
    static PORTS: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    PORTS.get_or_init(|| Mutex::new(HashSet::new()))
}

/// A loopback port that is free now (tcp, and udp when asked, on 127.0.0.1 and
/// ::1 when available) and that this process has not handed out before.
pub fn free_port(udp: bool) -> u16 {
    let mut used = handed_out().lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..200 {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = l.local_addr().expect("local_addr").port();
        if used.contains(&port) {
            continue;
        }
        let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
        let v6_tcp_ok = match TcpListener::bind(v6) {
            Ok(_) => true,
            // no ::1 on this host: fine, the scripts only bind it when present
            Err(e) => e.kind() == std::io::ErrorKind::AddrNotAvailable,
        };
        let udp_ok = !udp
            || (UdpSocket::bind(("127.0.0.1", port)).is_ok()
                && match UdpSocket::bind(v6) {
                    Ok(_) => true,
                    Err(e) => e.kind() == std::io::ErrorKind::AddrNotAvailable,
                });
        drop(l);
        if v6_tcp_ok && udp_ok {
            used.insert(port);
            return port;
        }
    }
    panic!("no free loopback port found");
}

fn new_dir(kind: Kind) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let base = std::env::temp_dir().join("ldirectord-rs-servers");
    std::fs::create_dir_all(&base).expect("create temp base dir");
    set_mode(&base, 0o755);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = base.join(format!(
        "{}-{}-{}-{}",
        kind.name(),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        nanos
    ));
    std::fs::create_dir(&dir).expect("create server dir");
    set_mode(&dir, 0o755);
    dir
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
}

impl Server {
    /// Start `kind` on freshly picked loopback ports. `None` (after printing
    /// `SKIP: …`) when the server is not installed outside CI; panics when it is
    /// installed but does not start (after 3 tries with new ports).
    pub fn start(kind: Kind) -> Option<Server> {
        Self::start_inner(kind, None)
    }

    /// Like [`Server::start`] on the given ports (`kind.port_count()` of them).
    pub fn start_on(kind: Kind, ports: &[u16]) -> Option<Server> {
        assert_eq!(
            ports.len(),
            kind.port_count(),
            "{} takes {} ports",
            kind.name(),
            kind.port_count()
        );
        Self::start_inner(kind, Some(ports))
    }

    fn start_inner(kind: Kind, fixed: Option<&[u16]>) -> Option<Server> {
        if !ctl_script().exists() {
            skip_or_fail(&format!("{} missing", ctl_script().display()));
            return None;
        }
        if !available(kind) {
            skip_or_fail(&format!(
                "{} server not installed (run tests/servers/install.sh as root)",
                kind.name()
            ));
            return None;
        }
        if !is_root() {
            // Several servers (vsftpd, exim's spool ownership, dovecot's
            // login users, freeradius) are set up the way root runs them.
            skip_or_fail(&format!("{} server tests need root", kind.name()));
            return None;
        }
        let tries = if fixed.is_some() { 1 } else { 3 };
        let mut last_err = String::new();
        for _ in 0..tries {
            let ports: Vec<u16> = match fixed {
                Some(p) => p.to_vec(),
                None => (0..kind.port_count())
                    .map(|_| free_port(kind.uses_udp()))
                    .collect(),
            };
            let dir = new_dir(kind);
            let out = Command::new("bash")
                .arg(ctl_script())
                .arg(kind.name())
                .arg("start")
                .arg(&dir)
                .args(ports.iter().map(|p| p.to_string()))
                .output()
                .expect("run ctl.sh");
            if out.status.success() {
                return Some(Server {
                    kind,
                    dir,
                    ports,
                    stopped: false,
                });
            }
            last_err = format!(
                "ctl.sh {} start {} {:?} exited {}\nstdout:\n{}\nstderr:\n{}",
                kind.name(),
                dir.display(),
                ports,
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            eprintln!("{last_err}");
            let _ = std::fs::remove_dir_all(&dir);
        }
        panic!("could not start the {} server: {last_err}", kind.name());
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The instance directory (config, data, logs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// All ports, in the order documented on [`Kind`].
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// The first (main) port: http, dns, ftp, smtp, pop3, ldap, mysql, pgsql,
    /// radius, sip, nntp.
    pub fn port(&self) -> u16 {
        self.ports[0]
    }

    fn nth(&self, kind: Kind, i: usize, what: &str) -> u16 {
        assert_eq!(
            self.kind,
            kind,
            "{what} port asked of a {} server",
            self.kind.name()
        );
        self.ports[i]
    }

    pub fn https_port(&self) -> u16 {
        self.nth(Kind::Http, 1, "https")
    }
    pub fn proxy_port(&self) -> u16 {
        self.nth(Kind::Http, 2, "http_proxy")
    }
    pub fn submission_port(&self) -> u16 {
        self.nth(Kind::Smtp, 1, "submission")
    }
    pub fn pop_port(&self) -> u16 {
        self.nth(Kind::Mail, 0, "pop")
    }
    pub fn imap_port(&self) -> u16 {
        self.nth(Kind::Mail, 1, "imap")
    }
    pub fn pops_port(&self) -> u16 {
        self.nth(Kind::Mail, 2, "pops")
    }
    pub fn imaps_port(&self) -> u16 {
        self.nth(Kind::Mail, 3, "imaps")
    }
    pub fn ldaps_port(&self) -> u16 {
        self.nth(Kind::Ldap, 1, "ldaps")
    }

    /// Stop now (also done on drop).
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let status = Command::new("bash")
            .arg(ctl_script())
            .arg(self.kind.name())
            .arg("stop")
            .arg(&self.dir)
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!(
                "warning: stopping {} in {} failed: {status:?}",
                self.kind.name(),
                self.dir.display()
            );
        }
        if std::env::var_os("KEEP_SERVER_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_inner();
    }
}
