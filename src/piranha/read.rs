//! lvs.cf tokens → [`LvsCf`]: every directive of piranha 0.8.6's parser
//! (`lvsconfig.c` `parseConfiguration`, `parseVirtualServer`,
//! `parseActualServer`; reference §3–§6) with its value read as Piranha
//! read it, where it was written, and every error of the file (Piranha
//! stopped at the first).
//!
//! What is kept is what was written: a directive that was never set is
//! `None`, and the defaults (§3–§5, the *parser's*, not the GUI's) are
//! applied by the accessors, so that the converter can tell "port 80" from
//! "no port". A later occurrence of a directive replaces an earlier one, as
//! in Piranha. Only the values of the file are checked here; what they mean
//! together (a `timeout` of 0, `service = fos`) is the converter's business.

use std::net::Ipv4Addr;

use super::lex::{inet_aton, strtol, Lexed, Line, Quirk, Token};
use super::Notes;
use crate::config::model::Family;
use crate::config::names::{self, Lookup};

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At<T> {
    pub value: T,
    pub line: usize,
    pub col: usize,
}

/// An address directive: the address, and the host name it was resolved
/// from (Piranha resolved names once, when it read the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub ip: Ipv4Addr,
    pub name: Option<String>,
}

/// A string directive whose value may have been quoted: `send`, `expect`,
/// `send_program`, `start_cmd`, `stop_cmd` (the parser puts the quotes back
/// and lvsd strips only double quotes, §2 rule 5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quoted {
    pub text: String,
    pub quote: Option<char>,
}

impl Quoted {
    /// The string as nanny received it: single quotes stay part of it.
    pub fn as_nanny_sees(&self) -> String {
        match self.quote {
            Some('\'') => format!("'{}'", self.text),
            _ => self.text.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    Nat,
    Direct,
    Tunnel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
}

/// `pmask =`: Piranha stores `255.255.255.255` as "none" and ignores a
/// value inet_aton cannot read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pmask {
    Mask(Ipv4Addr),
    /// Written as 255.255.255.255.
    AllOnes,
    /// Not an address: Piranha kept the previous value.
    Unreadable,
}

/// The global section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Global {
    /// `service = fos` (true) or `lvs`.
    pub service_fos: Option<At<bool>>,
    pub primary: Option<At<Host>>,
    pub primary_private: Option<At<Host>>,
    pub backup: Option<At<Host>>,
    pub backup_private: Option<At<Host>>,
    pub backup_active: Option<At<bool>>,
    pub heartbeat: Option<At<bool>>,
    pub heartbeat_port: Option<At<i32>>,
    pub keepalive: Option<At<i32>>,
    pub deadtime: Option<At<i32>>,
    pub network: Option<At<Network>>,
    pub nat_router: Option<At<(Host, String)>>,
    pub nat_nmask: Option<At<Ipv4Addr>>,
    pub rsh_command: Option<At<String>>,
    pub syncdaemon: Option<At<bool>>,
    pub syncd_iface: Option<At<String>>,
    pub syncd_id: Option<At<i32>>,
    pub tcp_timeout: Option<At<i32>>,
    pub tcpfin_timeout: Option<At<i32>>,
    pub udp_timeout: Option<At<i32>>,
    pub monitor_links: Option<At<i32>>,
    pub hard_shutdown: Option<At<bool>>,
    pub active_cmd: Option<At<String>>,
    pub inactive_cmd: Option<At<String>>,
    pub ipvsadm: Option<At<String>>,
    /// Directives with no effect on the daemons (GUI artefacts, FOS shared
    /// disks): name and line.
    pub no_effect: Vec<At<String>>,
}

impl Global {
    pub fn network(&self) -> Network {
        self.network.as_ref().map_or(Network::Nat, |n| n.value)
    }
    pub fn backup_active(&self) -> bool {
        self.backup_active.as_ref().is_some_and(|b| b.value)
    }
    pub fn keepalive(&self) -> i32 {
        self.keepalive.as_ref().map_or(2, |v| v.value)
    }
    pub fn deadtime(&self) -> i32 {
        self.deadtime.as_ref().map_or(5, |v| v.value)
    }
    pub fn heartbeat_port(&self) -> i32 {
        self.heartbeat_port.as_ref().map_or(539, |v| v.value)
    }
    pub fn rsh_command(&self) -> &str {
        self.rsh_command
            .as_ref()
            .map_or("rsh", |v| v.value.as_str())
    }
    pub fn syncdaemon(&self) -> bool {
        self.syncdaemon.as_ref().is_some_and(|b| b.value)
    }
    pub fn syncd_iface(&self) -> &str {
        self.syncd_iface
            .as_ref()
            .map_or("eth0", |v| v.value.as_str())
    }
    /// `--syncid`: pulse masks it with 0xff.
    pub fn syncd_id(&self) -> u8 {
        self.syncd_id.as_ref().map_or(0, |v| (v.value & 0xff) as u8)
    }
    pub fn monitor_links(&self) -> bool {
        self.monitor_links.as_ref().is_some_and(|v| v.value != 0)
    }
    pub fn hard_shutdown(&self) -> bool {
        self.hard_shutdown.as_ref().is_none_or(|v| v.value)
    }
}

/// A `virtual NAME {` block (or a `failover NAME {` block, which Piranha
/// reads with the same code).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Virtual {
    pub name: String,
    pub line: usize,
    /// The line of its closing `}` (the last line of the file if it never
    /// closes).
    pub end_line: usize,
    pub failover: bool,
    pub active: Option<At<bool>>,
    pub address: Option<At<(Host, String)>>,
    pub vip_nmask: Option<At<Ipv4Addr>>,
    pub port: Option<At<i32>>,
    pub protocol: Option<At<Protocol>>,
    pub fwmark: Option<At<i32>>,
    pub scheduler: Option<At<String>>,
    pub persistent: Option<At<i32>>,
    pub pmask: Option<At<Pmask>>,
    pub sorry_server: Option<At<Ipv4Addr>>,
    pub timeout: Option<At<i32>>,
    pub reentry: Option<At<i32>>,
    pub quiesce_server: Option<At<bool>>,
    pub send: Option<At<Quoted>>,
    pub expect: Option<At<Quoted>>,
    pub use_regex: Option<At<bool>>,
    pub send_program: Option<At<Quoted>>,
    pub load_monitor: Option<At<String>>,
    pub client_monitor: Option<At<String>>,
    /// FOS and legacy directives (start_cmd, stop_cmd, master, dirs):
    /// read, unused for LVS.
    pub unused: Vec<At<String>>,
    pub servers: Vec<Server>,
}

impl Virtual {
    pub fn active(&self) -> bool {
        self.active.as_ref().is_some_and(|a| a.value)
    }
    pub fn port(&self) -> i32 {
        self.port.as_ref().map_or(80, |p| p.value)
    }
    pub fn protocol(&self) -> Protocol {
        self.protocol.as_ref().map_or(Protocol::Tcp, |p| p.value)
    }
    /// The firewall mark when it makes this a fwmark service (non-zero).
    pub fn fwmark(&self) -> Option<u32> {
        self.fwmark
            .as_ref()
            .and_then(|f| u32::try_from(f.value).ok())
            .filter(|m| *m != 0)
    }
    pub fn scheduler(&self) -> &str {
        self.scheduler.as_ref().map_or("wlc", |s| s.value.as_str())
    }
    pub fn persistent(&self) -> i32 {
        self.persistent.as_ref().map_or(0, |p| p.value)
    }
    pub fn timeout(&self) -> i32 {
        self.timeout.as_ref().map_or(10, |t| t.value)
    }
    pub fn reentry(&self) -> i32 {
        self.reentry.as_ref().map_or(180, |t| t.value)
    }
    pub fn quiesce(&self) -> bool {
        self.quiesce_server.as_ref().is_some_and(|q| q.value)
    }
    pub fn use_regex(&self) -> bool {
        self.use_regex.as_ref().is_some_and(|q| q.value)
    }
    pub fn client_monitor(&self) -> &str {
        self.client_monitor
            .as_ref()
            .map_or("/usr/sbin/nanny", |c| c.value.as_str())
    }
}

/// A `server NAME {` block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Server {
    pub name: String,
    pub line: usize,
    pub end_line: usize,
    pub address: Option<At<Host>>,
    pub active: Option<At<bool>>,
    pub weight: Option<At<i32>>,
    pub port: Option<At<i32>>,
    /// The virtual's port when the `server` line was read: the default of
    /// `port` (§2 rule 10).
    pub port_at_open: i32,
}

impl Server {
    pub fn active(&self) -> bool {
        self.active.as_ref().is_some_and(|a| a.value)
    }
    pub fn weight(&self) -> i32 {
        self.weight.as_ref().map_or(1, |w| w.value)
    }
    pub fn port(&self) -> i32 {
        self.port.as_ref().map_or(self.port_at_open, |p| p.value)
    }
}

/// A whole lvs.cf as Piranha read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LvsCf {
    pub global: Global,
    /// `virtual` and `failover` blocks in file order.
    pub virtuals: Vec<Virtual>,
    /// Blocks still open at the end of the file (Piranha accepts that
    /// silently): the line of each.
    pub unclosed: Vec<usize>,
}

/// How the file is read.
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    /// Read past what Piranha refused but we understand (CRLF, inline
    /// comments, `key=value`, a quoted value followed by blanks), with a
    /// warning each.
    pub lenient: bool,
    pub lookup: Lookup,
}

/// Global directives Piranha 0.8.6 knows.
pub const GLOBAL_DIRECTIVES: &[&str] = &[
    "service",
    "primary",
    "primary_private",
    "primary_shared",
    "backup",
    "backup_active",
    "backup_private",
    "backup_shared",
    "reservation_conflict_action",
    "heartbeat",
    "heartbeat_port",
    "keepalive",
    "deadtime",
    "network",
    "nat_router",
    "nat_nmask",
    "rsh_command",
    "syncdaemon",
    "syncd_iface",
    "syncd_id",
    "tcp_timeout",
    "tcpfin_timeout",
    "udp_timeout",
    "monitor_links",
    "hard_shutdown",
    "active_cmd",
    "inactive_cmd",
    "ipvsadm",
    "debug_level",
    "serial_no",
    "sync",
    "virtual",
    "failover",
];

/// Directives of a `virtual` (and `failover`) block.
pub const VIRTUAL_DIRECTIVES: &[&str] = &[
    "active",
    "address",
    "vip_nmask",
    "port",
    "protocol",
    "fwmark",
    "scheduler",
    "persistent",
    "pmask",
    "sorry_server",
    "timeout",
    "reentry",
    "quiesce_server",
    "send",
    "expect",
    "use_regex",
    "send_program",
    "load_monitor",
    "client_monitor",
    "start_cmd",
    "stop_cmd",
    "master",
    "dirs",
    "server",
];

/// Directives of a `server` block.
pub const SERVER_DIRECTIVES: &[&str] = &["address", "active", "weight", "port"];

/// The 8 schedulers Piranha accepts (`scheduler =`).
pub const SCHEDULERS: &[&str] = &["lc", "rr", "wlc", "wrr", "lblc", "lblcr", "dh", "sh"];

/// Read a tokenized lvs.cf. Errors and warnings go to `notes`.
pub fn read(lexed: &Lexed, opts: ReadOptions, notes: &mut Notes) -> LvsCf {
    let mut r = Reader {
        opts,
        notes,
        cf: LvsCf::default(),
        open_virtual: None,
        open_server: None,
        brace_expected: false,
    };
    r.file_level(lexed);
    for line in &lexed.lines {
        r.line(line);
    }
    let last = lexed.line_count.max(1);
    if let Some(vi) = r.open_virtual {
        if let Some(si) = r.open_server {
            r.cf.virtuals[vi].servers[si].end_line = last;
            r.cf.unclosed.push(r.cf.virtuals[vi].servers[si].line);
        }
        r.cf.virtuals[vi].end_line = last;
        r.cf.unclosed.push(r.cf.virtuals[vi].line);
    }
    r.cf
}

struct Reader<'n> {
    opts: ReadOptions,
    notes: &'n mut Notes,
    cf: LvsCf,
    open_virtual: Option<usize>,
    open_server: Option<usize>,
    /// A block line without its `{` was just reported: a `{` alone on the
    /// next line belongs to it (one error, not two).
    brace_expected: bool,
}

/// A value error: Piranha's message (`lvsStrerror`) and our explanation.
struct Bad {
    piranha: &'static str,
    why: String,
}

fn bad(piranha: &'static str, why: impl Into<String>) -> Bad {
    Bad {
        piranha,
        why: why.into(),
    }
}

const INT: &str = "integer expected";
const BOOL: &str = "boolean expected";
const ARG: &str = "invalid argument";
const HOST: &str = "invalid host name or ip address";
const MASK: &str = "Bad subnet mask specified";

impl Reader<'_> {
    fn error(&mut self, line: usize, col: usize, msg: impl Into<String>) {
        self.notes.error(line, col, msg);
    }

    fn file_level(&mut self, lexed: &Lexed) {
        if lexed.empty {
            self.error(
                1,
                1,
                "Empty configuration: the file is empty (Piranha refuses it)",
            );
        }
        if let Some(line) = lexed.nul_at {
            self.notes.warn(
                line,
                1,
                "a NUL byte: Piranha reads the file as a C string and stops here; \
                 nothing after it is converted",
            );
        }
        if let Some(&first) = lexed.crlf.first() {
            let msg = "CRLF (DOS) line endings: Piranha splits lines at the CR and then skips \
                       every line after the first, so it saw line 1 only and pulse found no \
                       active virtual server (\"no active lvs services defined\")";
            if self.opts.lenient {
                self.notes.warn(
                    first,
                    1,
                    format!("{msg}; every line is converted here, which is what the file says"),
                );
            } else {
                self.error(
                    first,
                    1,
                    format!("{msg}; convert it with --lenient to read every line"),
                );
            }
        }
    }

    /// Lexical quirks of a line; false when the line must not be read.
    fn quirks(&mut self, line: &Line) -> bool {
        if let Some(col) = line.bad_quote {
            self.error(
                line.no,
                col,
                "quotation mismatch: the quote that opens this value is never closed",
            );
            return false;
        }
        let mut ok = true;
        for q in &line.quirks {
            let (col, what) = match *q {
                Quirk::QuotedThenBlank { col } => (
                    col,
                    "quotation mismatch: a quoted value without blanks inside, followed by \
                     blanks or more text, makes Piranha look for a second closing quote",
                ),
                Quirk::GluedEquals { col } => (
                    col,
                    "unknown command: Piranha needs blanks around '=' (key = value)",
                ),
            };
            if self.opts.lenient {
                self.notes
                    .warn(line.no, col, format!("{what}; read here as written"));
            } else {
                self.error(
                    line.no,
                    col,
                    format!("{what}; --lenient reads it as written"),
                );
                ok = false;
            }
        }
        ok
    }

    /// Piranha's `CHECK_ARGS(n)`: `name = v1 … vn`, nothing after. With
    /// `--lenient` a trailing `# comment` is dropped with a warning.
    fn args<'t>(&mut self, line: &'t Line, n: usize) -> Option<&'t [Token]> {
        let t = &line.tokens;
        match t.get(1) {
            Some(eq) if eq.text == "=" => {}
            other => {
                let col = other.map_or_else(|| end_col(&t[0]), |t| t.col);
                self.error(
                    line.no,
                    col,
                    format!(
                        "equal (=) expected after command: write \"{} = …\"",
                        t[0].text
                    ),
                );
                return None;
            }
        }
        if t.len() < n + 2 {
            let col = end_col(&t[t.len() - 1]);
            let what = if n == 1 {
                "a value".to_string()
            } else {
                format!("{n} values")
            };
            self.error(
                line.no,
                col,
                format!("missing arguments: {} needs {what}", t[0].text),
            );
            return None;
        }
        if let Some(extra) = t.get(n + 2) {
            if !self.extra_is_comment(line, extra) {
                return None;
            }
        }
        Some(&t[2..n + 2])
    }

    /// Tokens after what a directive takes: an inline comment is read past
    /// with `--lenient`; anything else is "unexpected arguments".
    fn extra_is_comment(&mut self, line: &Line, extra: &Token) -> bool {
        let comment = extra.quote.is_none() && extra.text.starts_with('#');
        if comment && self.opts.lenient {
            self.notes.warn(
                line.no,
                extra.col,
                "inline comment: Piranha reads only whole-line comments and refused this \
                 line (\"unexpected arguments\"); the comment is ignored here",
            );
            return true;
        }
        let why = if comment {
            ": an inline comment; Piranha reads only whole-line comments \
             (--lenient ignores it)"
                .to_string()
        } else if line.tokens.get(1).is_some_and(|t| t.text == "=")
            && !matches!(line.tokens[0].text.as_str(), "address" | "nat_router")
        {
            ": a value with blanks must be quoted".to_string()
        } else {
            String::new()
        };
        self.error(
            line.no,
            extra.col,
            format!("unexpected arguments \"{}\"{why}", extra.text),
        );
        false
    }

    /// `NAME {` after `virtual`, `failover` or `server`.
    fn block_header(&mut self, line: &Line) -> Option<String> {
        let t = &line.tokens;
        if t.len() < 3 {
            self.brace_expected = t.len() == 2;
            self.error(
                line.no,
                end_col(&t[t.len() - 1]),
                format!(
                    "missing arguments: write \"{} NAME {{\" on one line",
                    t[0].text
                ),
            );
            return None;
        }
        if t[2].text != "{" {
            self.error(
                line.no,
                t[2].col,
                format!(
                    "missing arguments: \"{{\" must follow \"{} {}\" on the same line",
                    t[0].text, t[1].text
                ),
            );
            return None;
        }
        if let Some(extra) = t.get(3) {
            if !self.extra_is_comment(line, extra) {
                return None;
            }
        }
        Some(t[1].text.clone())
    }

    fn line(&mut self, line: &Line) {
        if !self.quirks(line) || line.tokens.is_empty() {
            return;
        }
        let first = &line.tokens[0];
        if std::mem::take(&mut self.brace_expected) && first.text == "{" && line.tokens.len() == 1 {
            return;
        }
        if first.text == "}" && first.quote.is_none() {
            // Anything after a closing brace is ignored (the tokens are
            // freed before Piranha looks at them).
            if let (Some(vi), Some(si)) = (self.open_virtual, self.open_server) {
                self.cf.virtuals[vi].servers[si].end_line = line.no;
                self.open_server = None;
            } else if let Some(vi) = self.open_virtual {
                self.cf.virtuals[vi].end_line = line.no;
                self.open_virtual = None;
            } else {
                self.error(
                    line.no,
                    first.col,
                    "unknown command \"}\": no block is open",
                );
            }
            return;
        }
        match (self.open_virtual, self.open_server) {
            (Some(vi), Some(si)) => self.server_line(line, vi, si),
            (Some(vi), None) => self.virtual_line(line, vi),
            _ => self.global_line(line),
        }
    }

    fn unknown(&mut self, line: &Line, here: &str) {
        let name = line.tokens[0].text.as_str();
        let vendor = matches!(
            (here, name),
            ("server", "nmask") | ("virtual", "expect_program" | "deadtime")
        );
        let elsewhere = if vendor {
            " (some piranha-gui versions write it; the 0.8.6 daemons refuse it)".to_string()
        } else if here != "server" && SERVER_DIRECTIVES.contains(&name) && name == "weight" {
            " (weight belongs in a server block)".to_string()
        } else if here != "global" && GLOBAL_DIRECTIVES.contains(&name) {
            format!(" ({name} is a global directive, outside every block)")
        } else if here != "virtual" && VIRTUAL_DIRECTIVES.contains(&name) {
            format!(" ({name} belongs in a virtual block)")
        } else if name.contains('=') {
            " (Piranha needs blanks around '=')".to_string()
        } else {
            String::new()
        };
        self.error(
            line.no,
            line.tokens[0].col,
            format!("unknown command \"{name}\" in {here} section{elsewhere}"),
        );
    }

    // ------------------------------------------------------------ globals

    fn global_line(&mut self, line: &Line) {
        let name = line.tokens[0].text.clone();
        let no = line.no;
        let lookup = self.opts.lookup;
        macro_rules! set {
            ($field:ident, $parse:expr) => {{
                if let Some(v) = self.value(line, $parse) {
                    self.cf.global.$field = Some(v);
                }
            }};
        }
        match name.as_str() {
            "virtual" | "failover" => {
                let Some(block_name) = self.block_header(line) else {
                    // Still open a block, so that its lines are not read as
                    // globals (one error, not one per line).
                    self.open_block(&name, String::new(), no);
                    return;
                };
                self.open_block(&name, block_name, no);
            }
            "service" => set!(service_fos, |t: &Token| match t.text.as_str() {
                "lvs" => Ok(false),
                "fos" => Ok(true),
                _ => Err(bad(ARG, "service is lvs or fos")),
            }),
            "primary" => set!(primary, |t: &Token| node(t, true, lookup)),
            "primary_private" => set!(primary_private, |t: &Token| node(t, true, lookup)),
            "backup" => set!(backup, |t: &Token| node(t, false, lookup)),
            "backup_private" => set!(backup_private, |t: &Token| node(t, true, lookup)),
            "backup_active" => set!(backup_active, boolean),
            "heartbeat" => {
                // Parsed, never read by pulse (§3).
                if let Some(v) = self.value(line, boolean) {
                    self.cf.global.heartbeat = Some(v);
                    self.cf.global.no_effect.push(at_name(line));
                }
            }
            "heartbeat_port" => set!(heartbeat_port, port_or_name),
            "keepalive" => set!(keepalive, integer),
            "deadtime" => set!(deadtime, integer),
            "network" => set!(network, |t: &Token| match t.text.as_str() {
                "nat" => Ok(Network::Nat),
                "direct" => Ok(Network::Direct),
                "tunnel" => Ok(Network::Tunnel),
                _ => Err(bad(ARG, "network is nat, direct or tunnel")),
            }),
            "nat_router" => {
                let Some(a) = self.args(line, 2) else { return };
                match host(&a[0], self.opts.lookup) {
                    Ok(h) => {
                        self.cf.global.nat_router = Some(At {
                            value: (h, a[1].text.clone()),
                            line: no,
                            col: a[0].col,
                        })
                    }
                    Err(b) => self.bad_value(no, &a[0], b),
                }
            }
            "nat_nmask" => set!(nat_nmask, netmask),
            "rsh_command" => set!(rsh_command, word),
            "syncdaemon" => set!(syncdaemon, boolean),
            "syncd_iface" => set!(syncd_iface, word),
            "syncd_id" => set!(syncd_id, integer),
            "tcp_timeout" => set!(tcp_timeout, integer),
            "tcpfin_timeout" => set!(tcpfin_timeout, integer),
            "udp_timeout" => set!(udp_timeout, integer),
            "monitor_links" => set!(monitor_links, integer),
            "hard_shutdown" => set!(hard_shutdown, boolean),
            "active_cmd" => set!(active_cmd, word),
            "inactive_cmd" => set!(inactive_cmd, word),
            "ipvsadm" => set!(ipvsadm, word),
            "reservation_conflict_action" => {
                let ok = self
                    .value(line, |t: &Token| match t.text.as_str() {
                        "nothing" | "preempt" => Ok(()),
                        _ => Err(bad(
                            ARG,
                            "reservation_conflict_action is nothing or preempt",
                        )),
                    })
                    .is_some();
                if ok {
                    self.cf.global.no_effect.push(at_name(line));
                }
            }
            "serial_no" | "sync" => {
                let ok = if name == "sync" {
                    self.value(line, boolean).is_some()
                } else {
                    self.value(line, integer).is_some()
                };
                if ok {
                    self.cf.global.no_effect.push(at_name(line));
                }
            }
            "debug_level" | "primary_shared" | "backup_shared" => {
                if self.value(line, word).is_some() {
                    self.cf.global.no_effect.push(at_name(line));
                }
            }
            _ => self.unknown(line, "global"),
        }
    }

    fn open_block(&mut self, kind: &str, name: String, line: usize) {
        self.cf.virtuals.push(Virtual {
            name,
            line,
            end_line: line,
            failover: kind == "failover",
            ..Virtual::default()
        });
        self.open_virtual = Some(self.cf.virtuals.len() - 1);
        self.open_server = None;
    }

    /// `name = VALUE` read by `parse`; errors reported.
    fn value<T>(
        &mut self,
        line: &Line,
        parse: impl FnOnce(&Token) -> Result<T, Bad>,
    ) -> Option<At<T>> {
        let a = self.args(line, 1)?;
        match parse(&a[0]) {
            Ok(value) => Some(At {
                value,
                line: line.no,
                col: a[0].col,
            }),
            Err(b) => {
                self.bad_value(line.no, &a[0], b);
                None
            }
        }
    }

    fn bad_value(&mut self, line: usize, t: &Token, b: Bad) {
        self.error(
            line,
            t.col,
            format!("{}: \"{}\": {}", b.piranha, t.text, b.why),
        );
    }

    // ----------------------------------------------------------- virtuals

    fn virtual_line(&mut self, line: &Line, vi: usize) {
        let name = line.tokens[0].text.clone();
        let no = line.no;
        let lookup = self.opts.lookup;
        macro_rules! set {
            ($field:ident, $parse:expr) => {{
                if let Some(v) = self.value(line, $parse) {
                    self.cf.virtuals[vi].$field = Some(v);
                }
            }};
        }
        match name.as_str() {
            "server" => {
                let Some(server_name) = self.block_header(line) else {
                    self.open_server(vi, String::new(), no);
                    return;
                };
                self.open_server(vi, server_name, no);
            }
            "active" => set!(active, boolean),
            "address" => {
                let Some(a) = self.args(line, 2) else { return };
                match host(&a[0], lookup) {
                    Ok(h) => {
                        self.cf.virtuals[vi].address = Some(At {
                            value: (h, a[1].text.clone()),
                            line: no,
                            col: a[0].col,
                        })
                    }
                    Err(b) => self.bad_value(no, &a[0], b),
                }
            }
            "sorry_server" => set!(sorry_server, |t: &Token| inet_aton(&t.text)
                .ok_or_else(|| bad(HOST, "sorry_server must be an IPv4 address"))),
            "vip_nmask" => set!(vip_nmask, netmask),
            "fwmark" => set!(fwmark, integer),
            "protocol" => set!(protocol, |t: &Token| match t.text.as_str() {
                "tcp" => Ok(Protocol::Tcp),
                "udp" => Ok(Protocol::Udp),
                _ => Err(bad(ARG, "protocol is tcp or udp (lower case)")),
            }),
            "port" => set!(port, port_or_name),
            "scheduler" => set!(scheduler, |t: &Token| {
                if SCHEDULERS.contains(&t.text.as_str()) {
                    Ok(t.text.clone())
                } else {
                    Err(bad(
                        ARG,
                        format!("Piranha's schedulers are {}", SCHEDULERS.join(", ")),
                    ))
                }
            }),
            "persistent" => set!(persistent, integer),
            "pmask" => {
                // inet_aton failing is silently ignored by Piranha.
                if let Some(a) = self.args(line, 1) {
                    let value = if a[0].text == "255.255.255.255" {
                        Pmask::AllOnes
                    } else {
                        inet_aton(&a[0].text).map_or(Pmask::Unreadable, Pmask::Mask)
                    };
                    self.cf.virtuals[vi].pmask = Some(At {
                        value,
                        line: no,
                        col: a[0].col,
                    });
                }
            }
            "client_monitor" => set!(client_monitor, word),
            "send_program" => set!(send_program, quoted),
            "send" => set!(send, quoted),
            "expect" => set!(expect, quoted),
            "use_regex" => set!(use_regex, boolean),
            "timeout" => set!(timeout, integer),
            "reentry" => set!(reentry, integer),
            "load_monitor" => set!(load_monitor, word),
            "quiesce_server" => set!(quiesce_server, boolean),
            "start_cmd" | "stop_cmd" => {
                if self.value(line, quoted).is_some() {
                    self.cf.virtuals[vi].unused.push(at_name(line));
                }
            }
            "master" => {
                if self.value(line, |t: &Token| host(t, lookup)).is_some() {
                    self.cf.virtuals[vi].unused.push(at_name(line));
                }
            }
            "dirs" => {
                // `dirs = [ a b ]`
                let t = &line.tokens;
                if t.get(1).is_none_or(|e| e.text != "=") {
                    self.error(
                        no,
                        t.get(1).map_or_else(|| end_col(&t[0]), |e| e.col),
                        "equal (=) expected after command: write \"dirs = [ … ]\"",
                    );
                } else if t.get(2).is_none_or(|b| b.text != "[")
                    || !t[2..].iter().any(|x| x.text == "]")
                {
                    self.error(
                        no,
                        t.get(2).map_or_else(|| end_col(&t[1]), |b| b.col),
                        "list expected: write \"dirs = [ DIR … ]\"",
                    );
                } else {
                    self.cf.virtuals[vi].unused.push(at_name(line));
                }
            }
            _ => self.unknown(line, "virtual"),
        }
    }

    fn open_server(&mut self, vi: usize, name: String, line: usize) {
        let v = &mut self.cf.virtuals[vi];
        v.servers.push(Server {
            name,
            line,
            end_line: line,
            port_at_open: v.port(),
            ..Server::default()
        });
        self.open_server = Some(v.servers.len() - 1);
    }

    fn server_line(&mut self, line: &Line, vi: usize, si: usize) {
        let name = line.tokens[0].text.clone();
        let lookup = self.opts.lookup;
        macro_rules! set {
            ($field:ident, $parse:expr) => {{
                if let Some(v) = self.value(line, $parse) {
                    self.cf.virtuals[vi].servers[si].$field = Some(v);
                }
            }};
        }
        match name.as_str() {
            "address" => set!(address, |t: &Token| host(t, lookup)),
            "active" => set!(active, boolean),
            "weight" => set!(weight, integer),
            "port" => set!(port, |t: &Token| integer(t).map_err(|_| {
                bad(
                    INT,
                    "a server's port must be a number (service names work only for \
                     the virtual's port)",
                )
            })),
            _ => self.unknown(line, "server"),
        }
    }
}

/// The column just after a token (for "missing" errors).
fn end_col(t: &Token) -> usize {
    t.col + t.text.chars().count() + if t.quote.is_some() { 2 } else { 0 }
}

fn at_name(line: &Line) -> At<String> {
    At {
        value: line.tokens[0].text.clone(),
        line: line.no,
        col: line.tokens[0].col,
    }
}

fn integer(t: &Token) -> Result<i32, Bad> {
    strtol(&t.text).ok_or_else(|| {
        bad(
            INT,
            "a number: decimal, 0x hex or 0 octal (so 08 and 09 are not numbers)",
        )
    })
}

fn boolean(t: &Token) -> Result<bool, Bad> {
    match integer(t) {
        Ok(0) => Ok(false),
        Ok(1) => Ok(true),
        Ok(_) => Err(bad(BOOL, "0 or 1")),
        Err(_) => Err(bad(INT, "0 or 1 (not yes/no)")),
    }
}

fn word(t: &Token) -> Result<String, Bad> {
    Ok(t.text.clone())
}

fn quoted(t: &Token) -> Result<Quoted, Bad> {
    Ok(Quoted {
        text: t.text.clone(),
        quote: t.quote,
    })
}

/// `getPort`: a number, else a tcp service name from /etc/services.
fn port_or_name(t: &Token) -> Result<i32, Bad> {
    if let Some(n) = strtol(&t.text) {
        return Ok(n);
    }
    names::port(&t.text, Some("tcp"))
        .map(i32::from)
        .ok_or_else(|| bad(ARG, "a port number or a tcp service name of /etc/services"))
}

/// `inet_aton`, else "Bad subnet mask specified".
fn netmask(t: &Token) -> Result<Ipv4Addr, Bad> {
    inet_aton(&t.text).ok_or_else(|| bad(MASK, "a netmask such as 255.255.255.0"))
}

/// `getHostname`: inet_aton, else a host-name lookup (IPv4).
fn host(t: &Token, lookup: Lookup) -> Result<Host, Bad> {
    if let Some(ip) = inet_aton(&t.text) {
        return Ok(Host { ip, name: None });
    }
    match names::host(&t.text, Family::V4, lookup) {
        Some(std::net::IpAddr::V4(ip)) => Ok(Host {
            ip,
            name: Some(t.text.clone()),
        }),
        _ => Err(bad(
            ARG,
            "not an IPv4 address, and no such host name (Piranha resolved names when it \
             read the file)",
        )),
    }
}

/// `primary`, `primary_private`, `backup_private` must not be 0.0.0.0;
/// `backup` may (it turns the pair off).
fn node(t: &Token, nonzero: bool, lookup: Lookup) -> Result<Host, Bad> {
    let h = host(t, lookup)?;
    if nonzero && h.ip.is_unspecified() {
        return Err(bad(HOST, "the address must not be 0.0.0.0"));
    }
    Ok(h)
}
