//! The resolved configuration: every default applied, every global value
//! inherited, every host name and port name turned into numbers.
//!
//! This is the contract between the parser and the rest of the program:
//! checks, the reconciler and the daemon read these types and never look at
//! the text of the file. Nothing here does I/O.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

/// A whole ldirectord.cf file, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The file this configuration was read from.
    pub path: PathBuf,
    pub global: Global,
    /// Virtual services in file order.
    pub virtuals: Vec<Virtual>,
}

/// Directives that only exist in the global section, plus the raw global
/// values of the directives that virtuals inherit (kept so that `-t` can
/// print the file back as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Global {
    /// `checktimeout=` as written; `None` when absent. Virtuals carry the
    /// resolved value.
    pub checktimeout: Option<u32>,
    pub negotiatetimeout: Option<u32>,
    pub checkinterval: u32,
    pub checkcount: u32,
    pub failurecount: u32,
    /// Optional new directive (ours): consecutive successes needed to bring
    /// a down real back up. Upstream: always 1.
    pub risecount: u32,
    pub fallback: Option<Fallback>,
    pub fallback6: Option<Fallback>,
    pub fallbackcommand: Option<String>,
    pub autoreload: bool,
    pub callback: Option<String>,
    pub logfile: LogTarget,
    /// `execute=` values, as written, in file order, without duplicates.
    pub execute: Vec<String>,
    pub fork: bool,
    pub supervised: bool,
    pub quiescent: bool,
    pub readdquiescent: bool,
    pub emailalert: Option<String>,
    pub emailalertfreq: u32,
    pub emailalertstatus: AlertStatus,
    pub emailalertfrom: Option<String>,
    pub smtp: Option<String>,
    pub cleanstop: bool,
    pub maintenancedir: Option<PathBuf>,
    /// `loadmonitor=` (extension): where reals' weights come from besides
    /// their configured weight. Virtuals carry the resolved value.
    pub loadmonitor: LoadMonitor,
    /// `loadinterval=` as written (extension); `None`: each virtual's
    /// check interval.
    pub loadinterval: Option<u32>,
    /// `loadtimeout=` as written (extension); `None`: each virtual's
    /// check timeout.
    pub loadtimeout: Option<u32>,
    /// `slowstart=` (extension): seconds over which a real that comes up
    /// again ramps from weight 1 to its weight; 0 = off.
    pub slowstart: u32,
    /// `syncdaemon=` (extension): the kernel's connection-sync daemon(s).
    pub syncdaemon: Option<SyncDaemonConf>,
    /// `statusaddress=` (extension): where the read-only status HTTP
    /// server listens; `None` = no listener.
    pub statusaddress: Option<std::net::SocketAddr>,
}

impl Default for Global {
    /// Upstream's `set_defaults()`.
    fn default() -> Self {
        Global {
            checktimeout: None,
            negotiatetimeout: None,
            checkinterval: 10,
            checkcount: 1,
            failurecount: 1,
            risecount: 1,
            fallback: None,
            fallback6: None,
            fallbackcommand: None,
            autoreload: false,
            callback: None,
            logfile: LogTarget::File(PathBuf::from(DEFAULT_LOGFILE)),
            execute: Vec::new(),
            fork: false,
            supervised: false,
            quiescent: false,
            readdquiescent: false,
            emailalert: None,
            emailalertfreq: 0,
            emailalertstatus: AlertStatus::ALL,
            emailalertfrom: None,
            smtp: None,
            cleanstop: true,
            maintenancedir: None,
            loadmonitor: LoadMonitor::None,
            loadinterval: None,
            loadtimeout: None,
            slowstart: 0,
            syncdaemon: None,
            statusaddress: None,
        }
    }
}

/// Upstream's default log file.
pub const DEFAULT_LOGFILE: &str = "/var/log/ldirectord.log";
/// Default timeout of connect/ping/external checks, seconds.
pub const DEFAULT_CHECKTIMEOUT: u32 = 5;
/// Default timeout of negotiate checks, seconds.
pub const DEFAULT_NEGOTIATETIMEOUT: u32 = 30;

/// Where log lines go: `logfile="/path"` or `logfile="<syslog facility>"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    File(PathBuf),
    Syslog(String),
}

/// `loadmonitor=` (ldirectord-rs extension): what moves a real's weight
/// besides its health.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LoadMonitor {
    /// The configured weight only (upstream's behaviour).
    None,
    /// HAProxy's agent-check text protocol on this TCP port of the real.
    Agent { port: u16 },
    /// A program (absolute path, run without a shell with the real's
    /// address and port as arguments) answering in the agent protocol.
    Command(PathBuf),
    /// Piranha nanny's load monitor: `rup`, `ruptime`, `rsh`, `ssh` (run
    /// as `rsh RIP uptime`) or a program path, run with the real's
    /// address; its output parsed and its weight formula applied as nanny
    /// did.
    Nanny(String),
}

impl LoadMonitor {
    pub fn is_none(&self) -> bool {
        matches!(self, LoadMonitor::None)
    }
}

impl fmt::Display for LoadMonitor {
    /// As written in ldirectord.cf.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadMonitor::None => f.write_str("none"),
            LoadMonitor::Agent { port } => write!(f, "agent:{port}"),
            LoadMonitor::Command(p) => write!(f, "command:{}", p.display()),
            LoadMonitor::Nanny(p) => write!(f, "nanny:{p}"),
        }
    }
}

/// Which connection-sync daemons run (`syncdaemon=ROLE …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncRole {
    Master,
    Backup,
    /// A master and a backup daemon at once (each director sends its own
    /// connections and receives the other's).
    Both,
}

impl SyncRole {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncRole::Master => "master",
            SyncRole::Backup => "backup",
            SyncRole::Both => "both",
        }
    }
}

/// `syncdaemon=ROLE INTERFACE [syncid=N] [maxlen=N] [port=N] [ttl=N]
/// [group=ADDRESS]` (ldirectord-rs extension). Unset options are left to
/// the kernel's defaults (syncid 0, maxlen from the MTU, group 224.0.0.81,
/// port 8848, ttl 1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SyncDaemonConf {
    pub role: SyncRole,
    /// The multicast interface (at most 15 bytes).
    pub interface: String,
    pub syncid: Option<u8>,
    pub maxlen: Option<u16>,
    pub port: Option<u16>,
    pub ttl: Option<u8>,
    pub group: Option<IpAddr>,
}

impl fmt::Display for SyncDaemonConf {
    /// As written in ldirectord.cf.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.role.as_str(), self.interface)?;
        if let Some(n) = self.syncid {
            write!(f, " syncid={n}")?;
        }
        if let Some(n) = self.maxlen {
            write!(f, " maxlen={n}")?;
        }
        if let Some(n) = self.port {
            write!(f, " port={n}")?;
        }
        if let Some(n) = self.ttl {
            write!(f, " ttl={n}")?;
        }
        if let Some(a) = self.group {
            write!(f, " group={a}")?;
        }
        Ok(())
    }
}

/// The daemon states in which e-mail alerts are sent (upstream bit values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertStatus(pub u8);

impl AlertStatus {
    pub const NONE: AlertStatus = AlertStatus(0);
    pub const STARTING: AlertStatus = AlertStatus(1);
    pub const RUNNING: AlertStatus = AlertStatus(2);
    pub const STOPPING: AlertStatus = AlertStatus(4);
    pub const RELOADING: AlertStatus = AlertStatus(8);
    pub const ALL: AlertStatus = AlertStatus(15);

    pub fn contains(self, other: AlertStatus) -> bool {
        self.0 & other.0 == other.0
    }
}

/// Address family of a virtual service and its reals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

/// Transport protocol of an address virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// What IPVS matches: an address + port + protocol, or a firewall mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VirtualKey {
    Addr {
        protocol: Protocol,
        addr: IpAddr,
        port: u16,
    },
    Fwmark {
        family: Family,
        mark: u32,
    },
}

impl VirtualKey {
    pub fn family(&self) -> Family {
        match self {
            VirtualKey::Addr { addr, .. } => family_of(addr),
            VirtualKey::Fwmark { family, .. } => *family,
        }
    }

    /// The virtual's port: 0 for firewall marks.
    pub fn port(&self) -> u16 {
        match self {
            VirtualKey::Addr { port, .. } => *port,
            VirtualKey::Fwmark { .. } => 0,
        }
    }

    /// Upstream's id string (`get_virtual_id_str`): `tcp:192.0.2.1:80`,
    /// `udp:[2001:db8::1]:53`, `fwm:7`, `fwm6:7`. Used in log lines.
    pub fn id(&self) -> String {
        match self {
            VirtualKey::Addr { protocol, .. } => {
                format!("{}:{}", protocol.as_str(), self.service())
            }
            VirtualKey::Fwmark { family, mark } => match family {
                Family::V4 => format!("fwm:{mark}"),
                Family::V6 => format!("fwm6:{mark}"),
            },
        }
    }

    /// Upstream's service string (`get_virtual`): `VIP:VPORT` with IPv6 in
    /// brackets, or the bare mark. Used in log lines.
    pub fn service(&self) -> String {
        match self {
            VirtualKey::Addr { addr, port, .. } => {
                format!("{}:{port}", bracketed(addr))
            }
            VirtualKey::Fwmark { mark, .. } => mark.to_string(),
        }
    }
}

impl fmt::Display for VirtualKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id())
    }
}

/// `192.0.2.1` or `[2001:db8::1]`, as upstream writes addresses.
pub fn bracketed(addr: &IpAddr) -> String {
    match addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}

pub fn family_of(addr: &IpAddr) -> Family {
    match addr {
        IpAddr::V4(_) => Family::V4,
        IpAddr::V6(_) => Family::V6,
    }
}

/// The negotiate check to run (`service=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    Dns,
    Ftp,
    Http,
    Https,
    HttpProxy,
    Imap,
    Imaps,
    Ldap,
    Ldaps,
    Mysql,
    Nntp,
    None,
    Oracle,
    Pop,
    Pops,
    Radius,
    Pgsql,
    Sip,
    Smtp,
    Submission,
    SimpleTcp,
}

impl Service {
    /// Every service, in the order of upstream's error message.
    pub const ALL: [Service; 21] = [
        Service::Dns,
        Service::Ftp,
        Service::Http,
        Service::Https,
        Service::HttpProxy,
        Service::Imap,
        Service::Imaps,
        Service::Ldap,
        Service::Ldaps,
        Service::Mysql,
        Service::Nntp,
        Service::None,
        Service::Oracle,
        Service::Pop,
        Service::Pops,
        Service::Radius,
        Service::Pgsql,
        Service::SimpleTcp,
        Service::Sip,
        Service::Smtp,
        Service::Submission,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Service::Dns => "dns",
            Service::Ftp => "ftp",
            Service::Http => "http",
            Service::Https => "https",
            Service::HttpProxy => "http_proxy",
            Service::Imap => "imap",
            Service::Imaps => "imaps",
            Service::Ldap => "ldap",
            Service::Ldaps => "ldaps",
            Service::Mysql => "mysql",
            Service::Nntp => "nntp",
            Service::None => "none",
            Service::Oracle => "oracle",
            Service::Pop => "pop",
            Service::Pops => "pops",
            Service::Radius => "radius",
            Service::Pgsql => "pgsql",
            Service::Sip => "sip",
            Service::Smtp => "smtp",
            Service::Submission => "submission",
            Service::SimpleTcp => "simpletcp",
        }
    }

    pub fn from_name(name: &str) -> Option<Service> {
        Service::ALL.iter().copied().find(|s| s.as_str() == name)
    }

    /// Upstream's `ld_port_to_service`: the service a virtual gets from
    /// its port when `service=` is absent.
    pub fn from_port(port: u16) -> Service {
        Service::ALL
            .iter()
            .copied()
            .find(|s| s.default_port() == Some(port))
            .unwrap_or(Service::None)
    }

    /// Upstream's `ld_service_to_port`: the port checked when neither
    /// `checkport=` nor the real gives one.
    pub fn default_port(self) -> Option<u16> {
        Some(match self {
            Service::Ftp => 21,
            Service::Smtp => 25,
            Service::Dns => 53,
            Service::Http => 80,
            Service::Pop => 110,
            Service::Nntp => 119,
            Service::Imap => 143,
            Service::Ldap => 389,
            Service::Https => 443,
            Service::Submission => 587,
            Service::Ldaps => 636,
            Service::Imaps => 993,
            Service::Pops => 995,
            Service::Oracle => 1521,
            Service::Radius => 1812,
            Service::HttpProxy => 3128,
            Service::Mysql => 3306,
            Service::Sip => 5060,
            Service::Pgsql => 5432,
            Service::None | Service::SimpleTcp => return None,
        })
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `checktype=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckType {
    Connect,
    Negotiate,
    Ping,
    Off,
    On,
    External,
    ExternalPerl,
    /// `checktype=N`: N connect checks, then one negotiate check.
    Combined(u32),
}

impl CheckType {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckType::Connect => "connect",
            CheckType::Negotiate => "negotiate",
            CheckType::Ping => "ping",
            CheckType::Off => "off",
            CheckType::On => "on",
            CheckType::External => "external",
            CheckType::ExternalPerl => "external-perl",
            CheckType::Combined(_) => "combined",
        }
    }
}

/// `httpmethod=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    Get,
    Head,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Head => "HEAD",
        }
    }
}

/// IPVS forwarding method of a real or fallback server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Forward {
    /// Direct routing (`-g`).
    Gate,
    /// NAT (`-m`).
    Masq,
    /// IP-in-IP tunnel (`-i`).
    Ipip,
}

impl Forward {
    pub fn as_str(self) -> &'static str {
        match self {
            Forward::Gate => "gate",
            Forward::Masq => "masq",
            Forward::Ipip => "ipip",
        }
    }

    pub fn from_name(name: &str) -> Option<Forward> {
        match name {
            "gate" => Some(Forward::Gate),
            "masq" => Some(Forward::Masq),
            "ipip" => Some(Forward::Ipip),
            _ => None,
        }
    }

    /// The ipvsadm flag (`-g`, `-m`, `-i`).
    pub fn flag(self) -> &'static str {
        match self {
            Forward::Gate => "-g",
            Forward::Masq => "-m",
            Forward::Ipip => "-i",
        }
    }
}

/// Persistence granularity (`netmask=`): a v4 mask or a v6 prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Netmask {
    V4(std::net::Ipv4Addr),
    V6Prefix(u8),
}

impl fmt::Display for Netmask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Netmask::V4(m) => write!(f, "{m}"),
            Netmask::V6Prefix(p) => write!(f, "{p}"),
        }
    }
}

/// A fallback ("sorry") server, inserted while no real of a virtual is up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fallback {
    pub addr: IpAddr,
    /// `None`: the virtual's port is used.
    pub port: Option<u16>,
    pub forward: Forward,
}

/// A real server of a virtual service (one per address of a range).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Real {
    pub addr: IpAddr,
    /// 0 when the `real=` line has no port (fwmark services).
    pub port: u16,
    pub forward: Forward,
    pub weight: u32,
    /// Per-real `"request", "receive"`: overrides the virtual's pair.
    pub request: Option<String>,
    pub receive: Option<String>,
    /// `l:N` (IPVS lower threshold); 0 = none.
    pub lower: u32,
    /// `u:N` (IPVS upper threshold); 0 = none.
    pub upper: u32,
    /// Line of the `real=` directive (1-based).
    pub line: usize,
}

impl Real {
    /// `RIP:RPORT` as upstream logs it.
    pub fn id(&self) -> String {
        format!("{}:{}", bracketed(&self.addr), self.port)
    }
}

/// One virtual service with everything inherited and resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Virtual {
    pub key: VirtualKey,
    /// Line of the `virtual=` directive (1-based).
    pub line: usize,
    pub service: Service,
    pub checktype: CheckType,
    pub checkcommand: String,
    pub checkport: Option<u16>,
    /// Resolved per upstream §f.7, seconds.
    pub checktimeout: u32,
    pub negotiatetimeout: u32,
    /// Seconds between two checks of each real of this virtual. COMPAT:
    /// honoured per virtual even with fork=no (upstream ignores a
    /// per-virtual value then, with a warning).
    pub checkinterval: u32,
    pub checkcount: u32,
    pub failurecount: u32,
    pub risecount: u32,
    pub request: String,
    pub receive: String,
    pub httpmethod: HttpMethod,
    pub virtualhost: Option<String>,
    pub login: String,
    pub passwd: String,
    pub database: String,
    pub secret: String,
    pub scheduler: String,
    pub persistent: Option<u32>,
    pub netmask: Option<Netmask>,
    pub schedflags: Option<String>,
    /// One-packet scheduling; only ever true for udp (upstream ignores it
    /// for tcp and fwmark).
    pub ops: bool,
    pub quiescent: bool,
    pub cleanstop: bool,
    /// The virtual's own fallback, else the global one of its family.
    pub fallback: Option<Fallback>,
    pub fallbackcommand: Option<String>,
    pub emailalert: Option<String>,
    pub emailalertfreq: u32,
    pub emailalertstatus: AlertStatus,
    pub smtp: Option<String>,
    pub monitorfile: Option<PathBuf>,
    pub servicename: Option<String>,
    pub comment: Option<String>,
    /// `load="…"`: accepted and unused, as upstream.
    pub load: Option<String>,
    /// `loadmonitor=` (extension), the virtual's own or the global one.
    pub loadmonitor: LoadMonitor,
    /// Seconds between two load queries of each real (`loadinterval=`,
    /// else the check interval).
    pub loadinterval: u32,
    /// Deadline of one load query, seconds (`loadtimeout=`, else the
    /// check timeout).
    pub loadtimeout: u32,
    /// `slowstart=` (extension), seconds; 0 = off.
    pub slowstart: u32,
    pub reals: Vec<Real>,
}

impl Virtual {
    pub fn family(&self) -> Family {
        self.key.family()
    }

    /// Port the checks of `real` connect to: `checkport`, else the real's
    /// port, else the service's well-known port (upstream `ld_checkport`).
    pub fn check_port(&self, real: &Real) -> Option<u16> {
        self.checkport
            .or(if real.port > 0 { Some(real.port) } else { None })
            .or(self.service.default_port())
    }

    /// The request a check of `real` sends (per-real override first).
    pub fn request_for<'a>(&'a self, real: &'a Real) -> &'a str {
        real.request.as_deref().unwrap_or(&self.request)
    }

    /// The receive pattern of `real` (per-real override first).
    pub fn receive_for<'a>(&'a self, real: &'a Real) -> &'a str {
        real.receive.as_deref().unwrap_or(&self.receive)
    }

    /// The URL an http/https/http_proxy check of `real` fetches (upstream
    /// `ld_setup`): an absolute per-real request is used as is; for
    /// http_proxy the virtual's request is the absolute URL.
    pub fn check_url(&self, real: &Real) -> String {
        let scheme = match self.service {
            Service::HttpProxy => "http",
            s => s.as_str(),
        };
        let port = self
            .check_port(real)
            .map(|p| p.to_string())
            .unwrap_or_default();
        let host = bracketed(&real.addr);
        if let (Some(req), Some(_)) = (&real.request, &real.receive) {
            let uri = req.trim_start_matches('/');
            if req.contains(&format!("{scheme}://")) {
                return uri.to_string();
            }
            return format!("{scheme}://{host}:{port}/{uri}");
        }
        let uri = self.request.trim_start_matches('/');
        if self.service == Service::HttpProxy {
            uri.to_string()
        } else {
            format!("{scheme}://{host}:{port}/{uri}")
        }
    }
}
