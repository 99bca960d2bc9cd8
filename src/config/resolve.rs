//! [`RawFile`] → [`Config`]: gives every directive upstream's meaning,
//! applies defaults and global → virtual inheritance, resolves names, and
//! collects **every** error and warning of the file (upstream stops at the
//! first).
//!
//! How values are chosen, for each virtual:
//! 1. a directive in the virtual's block;
//! 2. else the global directive (wherever it stands in the file: globals
//!    after a block still apply to it, as upstream);
//! 3. else upstream's default (`set_defaults`, and the per-virtual defaults
//!    of `read_config`).
//!
//! Timeouts follow upstream's mutual fallback (reference §f.7):
//! `checktimeout` = first set of v.checktimeout, v.negotiatetimeout,
//! g.checktimeout, g.negotiatetimeout, 5; `negotiatetimeout` = first set of
//! v.negotiatetimeout, v.checktimeout, g.negotiatetimeout, g.checktimeout, 30.
//!
//! Value syntax follows upstream's regular expressions (digits are the
//! first run of digits, `5s` is 5, …) except where upstream misreads a file;
//! each such place is marked `COMPAT:` and listed in ldirectord(8).

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use regex::Regex;

use super::diag::Diagnostic;
use super::model::*;
use super::names::{self, Lookup};
use super::parser::{BlockLine, Pos, RawBlock, RawDirective, RawFile, RawItem};

/// Knobs of the resolution that come from the environment.
#[derive(Debug, Clone)]
pub struct Options {
    pub lookup: Lookup,
    /// `$HOSTNAME` as upstream uses it for the ftp/sip login defaults.
    pub hostname: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            lookup: Lookup::System,
            hostname: system_hostname(),
        }
    }
}

/// `$ENV{HOSTNAME}` or `uname -n`, as upstream.
pub fn system_hostname() -> String {
    if let Ok(h) = std::env::var("HOSTNAME") {
        if !h.is_empty() {
            return h;
        }
    }
    // SAFETY: uname fills a zeroed struct; nodename is NUL-terminated.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) == 0 {
            return std::ffi::CStr::from_ptr(u.nodename.as_ptr())
                .to_string_lossy()
                .into_owned();
        }
    }
    "localhost".to_string()
}

/// Directives that upstream accepts only in the global section.
pub const GLOBAL_ONLY: &[&str] = &[
    "autoreload",
    "callback",
    "logfile",
    "execute",
    "fork",
    "supervised",
    "readdquiescent",
    "emailalertfrom",
    "maintenancedir",
    // ldirectord-rs extensions.
    "syncdaemon",
    "statusaddress",
];

/// Directives accepted in both places.
pub const SHARED: &[&str] = &[
    "checktimeout",
    "negotiatetimeout",
    "checkinterval",
    "checkcount",
    "failurecount",
    "risecount",
    "fallback",
    "fallback6",
    "fallbackcommand",
    "quiescent",
    "emailalert",
    "emailalertfreq",
    "emailalertstatus",
    "cleanstop",
    "smtp",
    // ldirectord-rs extensions.
    "loadmonitor",
    "loadinterval",
    "loadtimeout",
    "slowstart",
];

/// Directives accepted only inside a virtual block.
pub const BLOCK_ONLY: &[&str] = &[
    "real",
    "real6",
    "request",
    "receive",
    "checktype",
    "checkcommand",
    "checkport",
    "login",
    "passwd",
    "database",
    "secret",
    "load",
    "scheduler",
    "persistent",
    "schedflags",
    "netmask",
    "protocol",
    "ops",
    "service",
    "httpmethod",
    "virtualhost",
    "monitorfile",
    "servicename",
    "comment",
];

/// The directive a misspelled `name` most likely meant: the known one at
/// the smallest edit distance (case ignored), when that distance is small
/// for the name's length (1 up to 7 characters, 2 up to 11, then 3), so
/// that a typo gets a suggestion and an unrelated word does not.
fn closest_directive(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let limit = (lower.chars().count() / 4).clamp(1, 3);
    GLOBAL_ONLY
        .iter()
        .chain(SHARED)
        .chain(BLOCK_ONLY)
        .chain(&["virtual", "virtual6"])
        .map(|&known| (edit_distance(&lower, known), known))
        .filter(|&(d, known)| d <= limit && known != name)
        .min_by_key(|&(d, _)| d)
        .map(|(_, known)| known)
}

/// Levenshtein distance with adjacent transpositions counted as one edit
/// (`chekcinterval` is one edit from `checkinterval`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows of the table: two back (for transpositions), one back, this.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (prev[j] + 1).min(row[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(before[j - 2] + 1);
            }
        }
        before = std::mem::replace(&mut prev, row);
    }
    prev[b.len()]
}

/// Resolve a parsed file. Returns the configuration when there is no
/// error, and every diagnostic (errors and warnings) in line order.
pub fn resolve(raw: &RawFile, path: &Path, opts: &Options) -> (Option<Config>, Vec<Diagnostic>) {
    let mut cx = Cx::new(opts);
    let global = cx.globals(raw);
    let blocks = raw
        .items
        .iter()
        .filter(|i| matches!(i, RawItem::Virtual(_)))
        .count();
    let mut virtuals = Vec::with_capacity(blocks);
    // A BTreeMap: one walk per virtual, no hashing of the key (SipHash
    // cost more than the rest of a small virtual's resolution).
    let mut seen: std::collections::BTreeMap<VirtualKey, usize> = Default::default();
    for item in &raw.items {
        if let RawItem::Virtual(block) = item {
            if let Some(v) = cx.virtual_block(block, &global) {
                match seen.entry(v.key) {
                    std::collections::btree_map::Entry::Occupied(first) => cx.err(
                        block.pos,
                        format!(
                            "duplicate virtual server {} (first defined at line {})",
                            v.key.id(),
                            first.get()
                        ),
                    ),
                    std::collections::btree_map::Entry::Vacant(slot) => {
                        slot.insert(v.line);
                        virtuals.push(v);
                    }
                }
            }
        }
    }
    if !raw.items.iter().any(|i| matches!(i, RawItem::Virtual(_))) {
        // Upstream runs such a file and does nothing; a user who wrote
        // one most likely lost a virtual= line (or is reading an empty file).
        cx.warn(
            Pos { line: 0, col: 0 },
            "no virtual service in this file: ldirectord will manage nothing \
             (a virtual= line starts one)",
        );
    }
    let mut diags = cx.diags;
    diags.sort_by_key(|d| (d.line, d.col));
    if diags.iter().any(Diagnostic::is_error) {
        return (None, diags);
    }
    let config = Config {
        path: path.to_path_buf(),
        global: global.global,
        virtuals,
    };
    (Some(config), diags)
}

/// Quotes an editor or a web page may put where ldirectord.cf needs `"`.
const TYPOGRAPHIC_QUOTES: &[char] = &[
    '\u{201c}', '\u{201d}', '\u{201e}', '\u{201f}', '\u{2033}', '\u{00ab}', '\u{00bb}', '\u{2018}',
    '\u{2019}', '\u{201a}', '\u{201b}', '\u{301d}', '\u{301e}', '\u{ff02}',
];

/// `Unknown command "<text>"` for a line that is no directive, with a
/// byte-order mark made visible (an editor's invisible first character).
fn junk_message(text: &str, pos: Pos) -> String {
    let shown = text.replace('\u{feff}', "<U+FEFF>");
    if pos.line == 1 && pos.col == 1 && text.starts_with('\u{feff}') {
        format!(
            "Unknown command \"{shown}\": the file starts with a byte-order mark (U+FEFF, the \
             bytes EF BB BF), which ldirectord does not read; save the file without it"
        )
    } else {
        format!("Unknown command \"{shown}\"")
    }
}

/// `Unknown command "<text>"` for an indented line that belongs to no
/// block (`block_above`: a virtual block came before it in the file), with
/// the fix its directive needs.
fn stray_message(text: &str, block_above: bool) -> String {
    let line = text.trim_start();
    // Indentation width, a tab counting 4 as in a block.
    let width: usize = text[..text.len() - line.len()]
        .chars()
        .map(|c| if c == '\t' { 4 } else { 1 })
        .sum();
    let name: String = line
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    let name = name.as_str();
    let shallow = width < 4;
    let into_block = "indent it by at least 4 spaces or a tab to put it in the virtual block above";
    let hint = if name == "virtual" || name == "virtual6" {
        format!("{name}= must start in column 0")
    } else if GLOBAL_ONLY.contains(&name) || (SHARED.contains(&name) && !block_above) {
        "a global directive starts in column 0: remove the indentation".to_string()
    } else if SHARED.contains(&name) && shallow {
        format!("{into_block}, or start it in column 0 to make it global")
    } else if BLOCK_ONLY.contains(&name) && shallow && block_above {
        into_block.to_string()
    } else if BLOCK_ONLY.contains(&name) && !block_above {
        format!("{name} belongs inside a virtual block: write it under a virtual= line, indented by at least 4 spaces or a tab")
    } else {
        "an indented line must belong to a virtual= block and be indented by at least 4 \
         spaces or a tab (a line in column 0 ends the block)"
            .to_string()
    };
    format!(
        "Unknown command \"{}\": {hint}",
        line.replace('\u{feff}', "<U+FEFF>")
    )
}

/// The global section of a file, errors or not (errors are dropped: see
/// [`super::salvage_global`]).
pub fn globals_of(raw: &RawFile, opts: &Options) -> Global {
    Cx::new(opts).globals(raw).global
}

struct Cx<'o> {
    diags: Vec<Diagnostic>,
    /// How many of `diags` are errors.
    errors: usize,
    opts: &'o Options,
    /// Name lookups of this parse: glibc re-reads /etc/services (and
    /// /etc/hosts) on every call, which dominated files with port names.
    /// Looked up by `&str` (no key is built for a hit).
    hosts: HashMap<String, [Option<Option<IpAddr>>; 2]>,
    ports: HashMap<String, PortLookups>,
}

/// The answers for one port name: (protocol asked for, port).
type PortLookups = Vec<(Option<&'static str>, Option<u16>)>;

/// The global section, plus what is needed to resolve virtuals.
struct Globals {
    global: Global,
}

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("valid regex"))
}

/// Upstream's `/(\d+)/`: the first run of digits anywhere in the value.
fn first_digits(text: &str) -> Option<&str> {
    let start = text.bytes().position(|c| c.is_ascii_digit())?;
    let rest = &text[start..];
    let len = rest
        .bytes()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    Some(&rest[..len])
}

/// `(digits, rest)` when `text` starts with a run of ASCII digits.
fn leading_digits(text: &str) -> Option<(&str, &str)> {
    let len = text
        .bytes()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(text.len());
    (len > 0).then(|| text.split_at(len))
}

/// The length of the run of word characters (`is_alphanumeric` or `_`)
/// that starts `text`; bytes first, characters only past a non-ASCII one.
fn word_len(text: &str) -> usize {
    let ascii = text
        .bytes()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
        .count();
    match text.as_bytes().get(ascii) {
        Some(c) if !c.is_ascii() => text
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(text.len()),
        _ => ascii,
    }
}

/// The common `a.b.c.d[:port] rest…` form of a real= value, without the
/// regex (hot with tens of thousands of reals); `None` for anything else.
/// The port is digits or a name (`[A-Za-z0-9_-]+`), as the regex reads it.
fn simple_real(text: &str) -> Option<(std::net::Ipv4Addr, &str, Option<&str>, &str)> {
    let end = text
        .bytes()
        .position(|c| c.is_ascii_whitespace())
        .unwrap_or(text.len());
    let (head, flags) = text.split_at(end);
    let (host, port) = match head.split_once(':') {
        Some((h, p)) if is_port_word(p) => (h, Some(p)),
        Some(_) => return None,
        None => (head, None),
    };
    // Strictly four decimal octets without leading zeros (std's parser);
    // inet_aton forms such as 010.1.1.1 take the regex path.
    let addr = host.parse::<std::net::Ipv4Addr>().ok()?;
    Some((addr, host, port, flags))
}

/// The first run of bytes `is` accepts, anywhere in `text`.
fn first_run(text: &str, is: impl Fn(u8) -> bool) -> Option<&str> {
    let start = text.bytes().position(&is)?;
    let len = text[start..].bytes().take_while(|&c| is(c)).count();
    Some(&text[start..start + len])
}

/// Upstream's `/(\w+)/`: the first word anywhere in the value (a regex
/// only for text that is not ASCII, where `\w` takes more than
/// `[0-9A-Za-z_]`).
fn first_word(text: &str) -> Option<&str> {
    if text.is_ascii() {
        return first_run(text, |c| c.is_ascii_alphanumeric() || c == b'_');
    }
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, r"\w+").find(text).map(|m| m.as_str())
}

/// `^([0-9A-Za-z._+-]+):([0-9A-Za-z_-]+)` on ASCII text, without the
/// regex: the common `virtual=HOST:PORT` (`None` for anything else).
fn host_port(text: &str) -> Option<(&str, &str)> {
    if !text.is_ascii() {
        return None;
    }
    let host_len = text
        .bytes()
        .take_while(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'+' | b'-'))
        .count();
    let rest = text[host_len..].strip_prefix(':')?;
    let port_len = rest
        .bytes()
        .take_while(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-'))
        .count();
    (host_len > 0 && port_len > 0).then(|| (&text[..host_len], &rest[..port_len]))
}

/// A port as the regexes write it: `\d+|[A-Za-z0-9_-]+` (digits are in
/// the second class).
fn is_port_word(p: &str) -> bool {
    !p.is_empty()
        && p.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

/// Upstream's `^(.*?)(?::(\d+|[A-Za-z0-9_-]+))?$` (fallback): the text
/// before the first `:` that is followed by a port running to the end,
/// and that port.
fn split_port(hostport: &str) -> (&str, Option<&str>) {
    if !hostport.is_ascii() {
        static R: OnceLock<Regex> = OnceLock::new();
        return match re(&R, r"^(.*?)(?::(\d+|[A-Za-z0-9_-]+))?$").captures(hostport) {
            Some(c) => (
                c.get(1).map_or("", |m| m.as_str()),
                c.get(2).map(|m| m.as_str()),
            ),
            None => (hostport, None),
        };
    }
    hostport
        .match_indices(':')
        .map(|(i, _)| (&hostport[..i], &hostport[i + 1..]))
        .find(|(_, p)| is_port_word(p))
        .map_or((hostport, None), |(h, p)| (h, Some(p)))
}

/// Upstream's `[\w-]+` (checktype): the first run of word characters or
/// `-` anywhere in the value.
fn dashed_word(text: &str) -> Option<&str> {
    if text.is_ascii() {
        return first_run(text, |c| {
            c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
        });
    }
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, r"[\w-]+").find(text).map(|m| m.as_str())
}

/// Upstream's `^\d+` (emailalertfreq): the digits that open the value.
fn leading_number(text: &str) -> Option<&str> {
    if text.is_ascii() {
        return leading_digits(text).map(|(digits, _)| digits);
    }
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, r"^\d+").find(text).map(|m| m.as_str())
}

/// `^[A-Za-z0-9_-]+` (scheduler; an ASCII class, so no regex is needed).
fn scheduler_word(text: &str) -> Option<&str> {
    let len = text
        .bytes()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
        .count();
    (len > 0).then(|| &text[..len])
}

/// Upstream's `/^…\s*=\s*"(.*)"/`: the text between the first quote (which
/// must open the value) and the last quote on the line.
fn quoted(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('"')?;
    let end = rest.rfind('"')?;
    Some(&rest[..end])
}

/// `"x"` → `x`; anything else unchanged (upstream's optional quotes).
fn unquote(text: &str) -> &str {
    quoted(text).unwrap_or(text)
}

impl<'o> Cx<'o> {
    fn new(opts: &'o Options) -> Self {
        Cx {
            diags: Vec::new(),
            errors: 0,
            opts,
            hosts: HashMap::new(),
            ports: HashMap::new(),
        }
    }

    fn host(&mut self, name: &str, family: Family) -> Option<IpAddr> {
        // An address literal needs no lookup, so no cache either.
        if let Some(a) = names::literal(name, family) {
            return Some(a);
        }
        let slot = match family {
            Family::V4 => 0,
            Family::V6 => 1,
        };
        if let Some(Some(hit)) = self.hosts.get(name).map(|e| e[slot]) {
            return hit;
        }
        let found = names::host(name, family, self.opts.lookup);
        self.hosts.entry(name.to_string()).or_default()[slot] = Some(found);
        found
    }

    fn port(&mut self, name: &str, protocol: Option<&'static str>) -> Option<u16> {
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
            return names::port(name, protocol);
        }
        if let Some(known) = self.ports.get(name) {
            if let Some(&(_, hit)) = known.iter().find(|(p, _)| *p == protocol) {
                return hit;
            }
        }
        let found = names::port(name, protocol);
        self.ports
            .entry(name.to_string())
            .or_default()
            .push((protocol, found));
        found
    }

    fn err(&mut self, pos: Pos, msg: impl Into<String>) {
        self.errors += 1;
        self.diags.push(Diagnostic::error(pos.line, pos.col, msg));
    }

    fn warn(&mut self, pos: Pos, msg: impl Into<String>) {
        self.diags.push(Diagnostic::warning(pos.line, pos.col, msg));
    }

    /// A positive count or interval (`checkinterval=`, `failurecount=`,
    /// timeouts): upstream's first digit run, which must not be 0.
    fn positive(&mut self, d: &RawDirective, what: &str) -> Option<u32> {
        let Some(digits) = first_digits(d.text()) else {
            self.err(d.value_pos(), what.to_string());
            return None;
        };
        match digits.parse::<u32>() {
            Ok(0) => {
                self.err(d.value_pos(), what.to_string());
                None
            }
            Ok(n) => Some(n),
            Err(_) => {
                self.err(d.value_pos(), format!("{what}: {digits} is too large"));
                None
            }
        }
    }

    fn yes_no(&mut self, d: &RawDirective) -> Option<bool> {
        // COMPAT: trailing blanks, a CR (CRLF files) and, on global lines,
        // a ` # comment` are not part of the value here; upstream rejects
        // `quiescent = yes # c`.
        match d.text() {
            "yes" => Some(true),
            "no" => Some(false),
            _ => {
                let name = &d.name;
                self.err(d.value_pos(), format!("{name} must be 'yes' or 'no'"));
                None
            }
        }
    }

    /// `"…"` required and non-empty (request, receive, login, …).
    fn quoted_nonempty<'t>(&mut self, d: &RawDirective<'t>, empty_msg: &str) -> Option<&'t str> {
        match quoted(d.text()) {
            Some("") => {
                self.err(d.value_pos(), empty_msg.to_string());
                None
            }
            Some(s) => Some(s),
            None => {
                // The suggestion must be a line that reads: typographic
                // quotes (an editor's or a web page's) are taken off too.
                let text = d.text();
                let inner = text.trim_matches(|c| c == '"' || TYPOGRAPHIC_QUOTES.contains(&c));
                let curly = text.chars().find(|c| TYPOGRAPHIC_QUOTES.contains(c));
                let why = curly.map_or(String::new(), |c| {
                    format!(" ({c} is a typographic quote; write a plain \")")
                });
                self.err(
                    d.value_pos(),
                    format!(
                        "{} needs a value in double quotes{why}, e.g. {}=\"{inner}\"",
                        d.name, d.name,
                    ),
                );
                None
            }
        }
    }

    fn nonempty(&mut self, d: &RawDirective, msg: &str) -> Option<String> {
        if d.text().is_empty() {
            self.err(d.value_pos(), msg.to_string());
            None
        } else {
            Some(d.text().to_string())
        }
    }

    fn emailalert(&mut self, d: &RawDirective) -> Option<String> {
        // Upstream strips one pair of enclosing quotes.
        let v = unquote(d.text());
        if v.is_empty() {
            self.err(d.value_pos(), "no email address specified");
            return None;
        }
        Some(v.to_string())
    }

    fn emailalertfreq(&mut self, d: &RawDirective) -> Option<u32> {
        // Upstream: `emailalertfreq\s*=\s*(\d*)`, so digits must open the
        // value; 0 is allowed (never repeat).
        match leading_number(d.text()).map(str::parse::<u32>) {
            Some(Ok(n)) => Some(n),
            _ => {
                self.err(d.value_pos(), "invalid email alert frequency");
                None
            }
        }
    }

    fn emailalertstatus(&mut self, d: &RawDirective) -> Option<AlertStatus> {
        static R: OnceLock<Regex> = OnceLock::new();
        let parts: Vec<&str> = re(&R, r"\s*,\s*").split(d.text()).collect();
        let none = parts.contains(&"none");
        let mut status = 0u8;
        for p in parts.iter().filter(|p| **p != "none") {
            status |= match *p {
                "all" => AlertStatus::ALL.0,
                "starting" => AlertStatus::STARTING.0,
                "running" => AlertStatus::RUNNING.0,
                "stopping" => AlertStatus::STOPPING.0,
                "reloading" => AlertStatus::RELOADING.0,
                other => {
                    self.err(
                        d.value_pos(),
                        format!("invalid email alert status at: \"{other}\""),
                    );
                    return None;
                }
            };
            if none {
                self.err(
                    d.value_pos(),
                    format!("invalid email alert status: \"{p}\" specified with \"none\""),
                );
                return None;
            }
        }
        Some(AlertStatus(status))
    }

    fn smtp(&mut self, d: &RawDirective) -> Option<String> {
        // Upstream keeps the first `[0-9A-Za-z._+-]+` run and drops a
        // `:port`. COMPAT: we keep `host:port` and use that port.
        static R: OnceLock<Regex> = OnceLock::new();
        match re(&R, r"^[0-9A-Za-z._+-]+(:\d{1,5})?").find(d.text()) {
            Some(m) => Some(m.as_str().to_string()),
            None => {
                self.err(d.value_pos(), "invalid SMTP server address");
                None
            }
        }
    }

    // ------------------------------------------------ ldirectord-rs extensions
    //
    // Upstream rejects these names, so no file it accepts has them: their
    // values are read strictly (a number is all digits, not the first digit
    // run of the value).

    /// Whole seconds; 0 only where `zero_ok` (it means "off").
    fn ext_seconds(&mut self, d: &RawDirective, zero_ok: bool) -> Option<u32> {
        let v = d.text();
        let n = if !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit()) {
            v.parse::<u32>().ok().filter(|n| *n <= MAX_EXT_SECONDS)
        } else {
            None
        };
        match n {
            Some(0) if !zero_ok => {}
            Some(n) => return Some(n),
            None => {}
        }
        let range = if zero_ok { "0" } else { "1" };
        self.err(
            d.value_pos(),
            format!(
                "{} must be a whole number of seconds from {range} to {MAX_EXT_SECONDS}, not \"{v}\"",
                d.name
            ),
        );
        None
    }

    /// `none`, `agent:PORT`, `command:/PATH`, `nanny:rup|ruptime|rsh|ssh|/PATH`.
    fn loadmonitor(&mut self, d: &RawDirective) -> Option<LoadMonitor> {
        let v = unquote(d.text());
        let at = d.value_pos();
        let (kind, arg) = v.split_once(':').unwrap_or((v, ""));
        match kind {
            "none" if arg.is_empty() && !v.contains(':') => Some(LoadMonitor::None),
            "agent" => {
                match arg.parse::<u16>() {
                    Ok(port) if port > 0 && arg.bytes().all(|c| c.is_ascii_digit()) => {
                        Some(LoadMonitor::Agent { port })
                    }
                    _ => {
                        self.err(
                        at,
                        format!("loadmonitor=agent:PORT needs a port from 1 to 65535, not \"{arg}\""),
                    );
                        None
                    }
                }
            }
            // Run as root without a shell: an absolute path, so that what
            // runs does not depend on the daemon's PATH.
            "command" if arg.starts_with('/') && !arg.contains(char::is_whitespace) => {
                Some(LoadMonitor::Command(PathBuf::from(arg)))
            }
            "command" => {
                self.err(
                    at,
                    format!(
                        "loadmonitor=command:PATH needs an absolute program path without \
                         blanks (it is run without a shell), not \"{arg}\""
                    ),
                );
                None
            }
            // nanny ran these through execvp (PATH), and anything else as
            // a program path.
            "nanny"
                if matches!(arg, "rup" | "ruptime" | "rsh" | "ssh")
                    || (arg.starts_with('/') && !arg.contains(char::is_whitespace)) =>
            {
                Some(LoadMonitor::Nanny(arg.to_string()))
            }
            "nanny" => {
                self.err(
                    at,
                    format!(
                        "loadmonitor=nanny: takes rup, ruptime, rsh, ssh or an absolute program \
                         path without blanks, not \"{arg}\""
                    ),
                );
                None
            }
            _ => {
                self.err(
                    at,
                    format!(
                        "loadmonitor must be none, agent:PORT, command:PATH or nanny:PROGRAM, \
                         not \"{v}\""
                    ),
                );
                None
            }
        }
    }

    /// `ROLE INTERFACE [syncid=N] [maxlen=N] [port=N] [ttl=N] [group=ADDRESS]`.
    fn syncdaemon(&mut self, d: &RawDirective) -> Option<SyncDaemonConf> {
        let at = d.value_pos();
        let v = d.text();
        let mut words = v.split_whitespace();
        let role = match words.next() {
            Some("master") => SyncRole::Master,
            Some("backup") => SyncRole::Backup,
            Some("both") => SyncRole::Both,
            other => {
                self.err(
                    at,
                    format!(
                        "syncdaemon needs a role first: master, backup or both (not \"{}\"), \
                         e.g. syncdaemon=both eth0 syncid=10",
                        other.unwrap_or("")
                    ),
                );
                return None;
            }
        };
        let interface = match words.next() {
            // The kernel's IFNAMSIZ, less the terminating NUL.
            Some(i) if i.len() <= 15 && !i.contains(['/', '=', ':']) => i.to_string(),
            Some(i) => {
                self.err(
                    at,
                    format!("syncdaemon: \"{i}\" is not an interface name (at most 15 characters, no '/', '=' or ':')"),
                );
                return None;
            }
            None => {
                self.err(
                    at,
                    "syncdaemon needs an interface after the role, e.g. syncdaemon=both eth0",
                );
                return None;
            }
        };
        let mut conf = SyncDaemonConf {
            role,
            interface,
            syncid: None,
            maxlen: None,
            port: None,
            ttl: None,
            group: None,
        };
        let mut ok = true;
        for w in words {
            let (key, value) = w.split_once('=').unwrap_or((w, ""));
            let num = |max: u32, min: u32| -> Option<u32> {
                value.parse::<u32>().ok().filter(|n| {
                    (min..=max).contains(n) && value.bytes().all(|c| c.is_ascii_digit())
                })
            };
            let set = match key {
                "syncid" => num(255, 0).map(|n| conf.syncid = Some(n as u8)),
                "maxlen" => num(65535, 1).map(|n| conf.maxlen = Some(n as u16)),
                "port" => num(65535, 1).map(|n| conf.port = Some(n as u16)),
                "ttl" => num(255, 1).map(|n| conf.ttl = Some(n as u8)),
                "group" => value
                    .parse::<IpAddr>()
                    .ok()
                    .filter(IpAddr::is_multicast)
                    .map(|a| conf.group = Some(a)),
                _ => {
                    self.err(
                        at,
                        format!(
                            "syncdaemon: unknown option \"{w}\" (options: syncid=N, maxlen=N, \
                             port=N, ttl=N, group=ADDRESS)"
                        ),
                    );
                    ok = false;
                    continue;
                }
            };
            if set.is_none() {
                let want = match key {
                    "syncid" => "a number from 0 to 255",
                    "maxlen" | "port" => "a number from 1 to 65535",
                    "ttl" => "a number from 1 to 255",
                    _ => "a multicast address",
                };
                self.err(
                    at,
                    format!("syncdaemon: {key} must be {want}, not \"{value}\""),
                );
                ok = false;
            }
        }
        ok.then_some(conf)
    }

    /// `ADDRESS:PORT`, `[IPV6]:PORT`: a literal address, bound exactly.
    fn statusaddress(&mut self, d: &RawDirective) -> Option<std::net::SocketAddr> {
        let v = unquote(d.text());
        match v.parse::<std::net::SocketAddr>() {
            Ok(a) if a.port() != 0 => Some(a),
            _ => {
                self.err(
                    d.value_pos(),
                    format!(
                        "statusaddress must be ADDRESS:PORT with a literal address, e.g. \
                         127.0.0.1:9100 or [::1]:9100, not \"{v}\""
                    ),
                );
                None
            }
        }
    }

    // ------------------------------------------------------------ globals

    fn globals(&mut self, raw: &RawFile) -> Globals {
        let mut g = Global::default();
        let mut execute_seen = std::collections::HashSet::new();
        let mut block_above = false;
        for item in &raw.items {
            let d = match item {
                RawItem::Global(d) => d,
                RawItem::Junk { text, pos } => {
                    self.err(*pos, junk_message(text, *pos));
                    continue;
                }
                RawItem::Stray { text, pos } => {
                    self.err(*pos, stray_message(text, block_above));
                    continue;
                }
                RawItem::Virtual(_) => {
                    block_above = true;
                    continue;
                }
            };
            let name = d.name;
            if !d.has_eq && name != "supervised" {
                self.unknown(d, false);
                continue;
            }
            match name {
                "checktimeout" => {
                    if let Some(n) = self.positive(d, "invalid check timeout value") {
                        g.checktimeout = Some(n)
                    }
                }
                "negotiatetimeout" => {
                    if let Some(n) = self.positive(d, "invalid negotiate timeout value") {
                        g.negotiatetimeout = Some(n)
                    }
                }
                "connecttimeout" => self.err(
                    d.pos,
                    "connecttimeout directive deprecated in favour of negotiatetimeout",
                ),
                "timeout" => self.err(
                    d.pos,
                    "timeout directive deprecated in favour of checktimeout and negotiatetimeout",
                ),
                "checkinterval" => {
                    if let Some(n) = self.positive(d, "invalid check interval value") {
                        g.checkinterval = n
                    }
                }
                "checkcount" => {
                    if let Some(n) = self.positive(d, "invalid check count value") {
                        g.checkcount = n;
                        self.warn(d.pos, CHECKCOUNT_DEPRECATED);
                    }
                }
                "failurecount" => {
                    if let Some(n) = self.positive(d, "invalid failure count value") {
                        g.failurecount = n
                    }
                }
                "risecount" => {
                    if let Some(n) = self.positive(d, "invalid rise count value") {
                        g.risecount = n
                    }
                }
                "fallback" | "fallback6" => {
                    let family = if name == "fallback" {
                        Family::V4
                    } else {
                        Family::V6
                    };
                    // COMPAT: upstream resolves a port name for tcp and for
                    // udp and fails unless both exist; any protocol will do
                    // here, the port is used for whichever the virtual has.
                    if let Some(f) = self.fallback(d, family, None, None) {
                        match family {
                            Family::V4 => g.fallback = Some(f),
                            Family::V6 => g.fallback6 = Some(f),
                        }
                    }
                }
                "fallbackcommand" => {
                    // Global value: quotes are kept (the shell removes them).
                    if let Some(v) = self.nonempty(d, "invalid fallback command") {
                        g.fallbackcommand = Some(v)
                    }
                }
                "autoreload" => {
                    if let Some(b) = self.yes_no(d) {
                        g.autoreload = b
                    }
                }
                "callback" => {
                    if let Some(v) = self.quoted_nonempty(d, "no callback command specified") {
                        g.callback = Some(v.to_string())
                    }
                }
                "logfile" => {
                    if let Some(v) = self.quoted_nonempty(d, "no logfile specified") {
                        if v.starts_with('/') {
                            g.logfile = LogTarget::File(PathBuf::from(v));
                        } else if SYSLOG_FACILITIES.contains(&v) {
                            g.logfile = LogTarget::Syslog(v.to_string());
                        } else {
                            self.err(
                                d.value_pos(),
                                format!(
                                    "unable to open logfile: {v} (neither an absolute path nor a \
                                     syslog facility: {})",
                                    SYSLOG_FACILITIES.join(", ")
                                ),
                            );
                        }
                    }
                }
                "execute" => {
                    if let Some(v) = self.nonempty(d, "no configuration file specified for execute")
                    {
                        // COMPAT: upstream passes the raw value to the shell,
                        // which removes quotes; we run without a shell.
                        let v = unquote(&v).to_string();
                        if v.is_empty() {
                            self.err(d.value_pos(), "no configuration file specified for execute");
                        } else if execute_seen.insert(v.clone()) {
                            g.execute.push(v);
                        }
                    }
                }
                "fork" => {
                    if let Some(b) = self.yes_no(d) {
                        g.fork = b
                    }
                }
                "supervised" => {
                    if !d.has_eq {
                        g.supervised = true;
                        self.warn(
                            d.pos,
                            "please update your config not to use a bare supervised directive",
                        );
                    } else if let Some(b) = self.yes_no(d) {
                        g.supervised = b
                    }
                }
                "quiescent" => {
                    if let Some(b) = self.yes_no(d) {
                        g.quiescent = b
                    }
                }
                "readdquiescent" => {
                    if let Some(b) = self.yes_no(d) {
                        g.readdquiescent = b
                    }
                }
                "emailalert" => {
                    if let Some(v) = self.emailalert(d) {
                        g.emailalert = Some(v)
                    }
                }
                "emailalertfreq" => {
                    if let Some(n) = self.emailalertfreq(d) {
                        g.emailalertfreq = n
                    }
                }
                "emailalertstatus" => {
                    if let Some(s) = self.emailalertstatus(d) {
                        g.emailalertstatus = s
                    }
                }
                "emailalertfrom" => {
                    if let Some(v) = self.nonempty(d, "no email from address specified") {
                        g.emailalertfrom = Some(v)
                    }
                }
                "cleanstop" => {
                    if let Some(b) = self.yes_no(d) {
                        g.cleanstop = b
                    }
                }
                "smtp" => {
                    if let Some(v) = self.smtp(d) {
                        g.smtp = Some(v)
                    }
                }
                "maintenancedir" => {
                    if let Some(v) = self.nonempty(d, "maintenance directory not specified") {
                        // COMPAT: upstream keeps the quotes and then looks
                        // for a directory whose name has quotes in it.
                        let dir = PathBuf::from(unquote(&v));
                        if dir.as_os_str().is_empty() {
                            self.err(d.value_pos(), "maintenance directory not specified");
                        } else if !dir.is_dir() {
                            self.warn(d.value_pos(), "maintenance directory does not exist");
                        }
                        g.maintenancedir = Some(dir);
                    }
                }
                "loadmonitor" => {
                    if let Some(m) = self.loadmonitor(d) {
                        g.loadmonitor = m
                    }
                }
                "loadinterval" => g.loadinterval = self.ext_seconds(d, false),
                "loadtimeout" => g.loadtimeout = self.ext_seconds(d, false),
                "slowstart" => {
                    if let Some(n) = self.ext_seconds(d, true) {
                        g.slowstart = n
                    }
                }
                "syncdaemon" => g.syncdaemon = self.syncdaemon(d),
                "statusaddress" => g.statusaddress = self.statusaddress(d),
                _ => self.unknown(d, false),
            }
        }
        Globals { global: g }
    }

    fn unknown(&mut self, d: &RawDirective, in_block: bool) {
        let name = d.name;
        let hint = if in_block && GLOBAL_ONLY.contains(&name) {
            format!(
                ": {name} is a global directive; write it in column 0, outside the virtual block"
            )
        } else if !in_block && BLOCK_ONLY.contains(&name) {
            format!(": {name} belongs inside a virtual block (indent it under a virtual= line)")
        } else if !in_block && (name == "virtual" || name == "virtual6") {
            format!(": {name} needs a value, e.g. {name}=192.0.2.10:80")
        } else if in_block && (name == "virtual" || name == "virtual6") {
            format!(": {name}= must start in column 0")
        } else if !d.has_eq
            && (SHARED.contains(&name) || BLOCK_ONLY.contains(&name) || GLOBAL_ONLY.contains(&name))
        {
            format!(": {name} needs a value ({name}=…)")
        } else if let Some(known) = closest_directive(name) {
            format!(": did you mean \"{known}\"?")
        } else {
            String::new()
        };
        self.err(d.pos, format!("Unknown command \"{name}\"{hint}"));
    }

    /// upstream `parse_fallback`: `host[:port] [gate|masq|ipip]`.
    fn fallback(
        &mut self,
        d: &RawDirective,
        family: Family,
        protocol: Option<Protocol>,
        vport: Option<u16>,
    ) -> Option<Fallback> {
        let text = d.text();
        let tokens: Vec<&str> = text.split_whitespace().collect();
        let (hostport, fwd) = match tokens.as_slice() {
            [hp] => (*hp, None),
            [hp, f] => (*hp, Some(*f)),
            _ => {
                self.err(d.value_pos(), format!("invalid fallback server: {text}"));
                return None;
            }
        };
        let forward = match fwd {
            None => Forward::Gate,
            Some(f) => match Forward::from_name(f) {
                Some(f) => f,
                None => {
                    self.err(d.value_pos(), "forward method must be gate, masq or ipip");
                    return None;
                }
            },
        };
        let (server, port_text) = split_port(hostport);
        let ipversion = match family {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        };
        let Some(addr) = self.host(server, family) else {
            self.err(
                d.value_pos(),
                format!(
                    "invalid {ipversion} address or could not resolve for fallback server: {server}"
                ),
            );
            return None;
        };
        let port = match port_text {
            // A firewall-mark virtual has no port to inherit (0).
            None => vport.filter(|p| *p != 0),
            Some(p) => match self.port(p, protocol.map(Protocol::as_str)) {
                Some(0) | None => {
                    self.err(d.value_pos(), "invalid port for fallback server");
                    return None;
                }
                Some(n) => Some(n),
            },
        };
        Some(Fallback {
            addr,
            port,
            forward,
        })
    }

    // ----------------------------------------------------------- virtuals

    fn virtual_block(&mut self, block: &RawBlock, g: &Globals) -> Option<Virtual> {
        let family = if block.v6 { Family::V6 } else { Family::V4 };
        let vtext = block.value.as_ref().map_or("", |v| v.text);
        let vpos = block.value.as_ref().map_or(block.pos, |v| v.pos);
        let addr = self.virtual_address(vtext, vpos, family);

        let opts = self.opts;
        let mut b = Builder::new(&addr, &opts.hostname);
        let mut ok = addr.is_some();
        let mut reals_todo: Vec<&RawDirective> = Vec::new();
        let mut fallback_d: Option<&RawDirective> = None;
        let mut service_pos = block.pos;

        for line in &block.lines {
            let d = match line {
                BlockLine::Directive(d) => d,
                BlockLine::Junk { text, pos } => {
                    self.err(*pos, junk_message(text, *pos));
                    ok = false;
                    continue;
                }
            };
            if !d.has_eq {
                self.unknown(d, true);
                ok = false;
                continue;
            }
            let before = self.error_count();
            self.block_directive(d, &mut b, family, &mut reals_todo, &mut fallback_d);
            if d.name == "service" {
                service_pos = d.value_pos();
            }
            ok &= self.error_count() == before;
        }

        let protocol = b.protocol;

        // Resolve the virtual's address now that the protocol is final.
        let key = match addr {
            None => None,
            Some((_, _, Some(mark))) => Some(VirtualKey::Fwmark { family, mark }),
            Some((host_text, port_text, None)) => {
                let protocol = protocol.unwrap_or(Protocol::Tcp);
                let ip = self.host(host_text, family);
                let port = self.port(port_text, Some(protocol.as_str()));
                match (ip, port) {
                    (Some(addr), Some(port)) => Some(VirtualKey::Addr {
                        protocol,
                        addr,
                        port,
                    }),
                    _ => {
                        self.err(vpos, "invalid address for virtual service");
                        None
                    }
                }
            }
        };
        let Some(key) = key else {
            // The block is lost, but its other lines are still read, so
            // that a bad virtual address does not hide their errors.
            let mut scratch = Vec::new();
            for d in reals_todo {
                self.real(d, family, &mut scratch);
            }
            if let Some(d) = fallback_d {
                self.fallback(d, family, protocol, None);
            }
            return None;
        };
        let vport = key.port();
        let service = b.service.unwrap_or_else(|| match key {
            VirtualKey::Fwmark { .. } => Service::None,
            VirtualKey::Addr { port, .. } => Service::from_port(port),
        });

        let fallback = match fallback_d {
            Some(d) => {
                let proto = protocol.map(Protocol::as_str);
                let f = self.fallback(d, family, protocol, Some(vport));
                ok &= f.is_some();
                let _ = proto;
                f
            }
            None => match family {
                Family::V4 => g.global.fallback.clone(),
                Family::V6 => g.global.fallback6.clone(),
            },
        };

        let mut reals = Vec::new();
        for d in reals_todo {
            let before = self.error_count();
            self.real(d, family, &mut reals);
            ok &= self.error_count() == before;
        }

        if service == Service::Oracle
            && matches!(b.checktype, CheckType::Negotiate | CheckType::Combined(_))
        {
            self.err(
                service_pos,
                "service oracle is not supported: ldirectord-rs has no Oracle client \
                 (one needs Oracle's proprietary client library); use checktype=connect \
                 or checktype=external for this virtual service",
            );
            ok = false;
        }

        if !ok {
            return None;
        }

        let gg = &g.global;
        let checktimeout = b
            .checktimeout
            .or(b.negotiatetimeout)
            .or(gg.checktimeout)
            .or(gg.negotiatetimeout)
            .unwrap_or(DEFAULT_CHECKTIMEOUT);
        let negotiatetimeout = b
            .negotiatetimeout
            .or(b.checktimeout)
            .or(gg.negotiatetimeout)
            .or(gg.checktimeout)
            .unwrap_or(DEFAULT_NEGOTIATETIMEOUT);
        let is_udp = matches!(
            key,
            VirtualKey::Addr {
                protocol: Protocol::Udp,
                ..
            }
        );

        let checkinterval = b.checkinterval.unwrap_or(gg.checkinterval);
        Some(Virtual {
            key,
            line: block.pos.line,
            service,
            checktype: b.checktype,
            checkcommand: b.checkcommand.into_owned(),
            checkport: b.checkport,
            checktimeout,
            negotiatetimeout,
            checkinterval,
            checkcount: b.checkcount.unwrap_or(gg.checkcount),
            failurecount: b.failurecount.unwrap_or(gg.failurecount),
            risecount: b.risecount.unwrap_or(gg.risecount),
            request: b.request.into_owned(),
            receive: b.receive,
            httpmethod: b.httpmethod,
            virtualhost: b.virtualhost,
            login: b.login,
            passwd: b.passwd,
            database: b.database,
            secret: b.secret,
            scheduler: b.scheduler.into_owned(),
            persistent: b.persistent,
            netmask: b.netmask,
            schedflags: b.schedflags,
            // Upstream emits -o only for udp services.
            ops: b.ops && is_udp,
            quiescent: b.quiescent.unwrap_or(gg.quiescent),
            cleanstop: b.cleanstop.unwrap_or(gg.cleanstop),
            fallback,
            fallbackcommand: b.fallbackcommand.or_else(|| gg.fallbackcommand.clone()),
            emailalert: b.emailalert.or_else(|| gg.emailalert.clone()),
            emailalertfreq: b.emailalertfreq.unwrap_or(gg.emailalertfreq),
            emailalertstatus: b.emailalertstatus.unwrap_or(gg.emailalertstatus),
            smtp: b.smtp.or_else(|| gg.smtp.clone()),
            monitorfile: b.monitorfile,
            servicename: b.servicename,
            comment: b.comment,
            load: b.load,
            loadmonitor: b.loadmonitor.unwrap_or_else(|| gg.loadmonitor.clone()),
            loadinterval: b.loadinterval.or(gg.loadinterval).unwrap_or(checkinterval),
            loadtimeout: b.loadtimeout.or(gg.loadtimeout).unwrap_or(checktimeout),
            slowstart: b.slowstart.unwrap_or(gg.slowstart),
            reals,
        })
    }

    fn error_count(&self) -> usize {
        self.errors
    }

    /// The value of `virtual=`/`virtual6=`: (host text, port text, fwmark).
    fn virtual_address<'t>(
        &mut self,
        text: &'t str,
        pos: Pos,
        family: Family,
    ) -> Option<(&'t str, &'t str, Option<u32>)> {
        static V4: OnceLock<Regex> = OnceLock::new();
        static HOST: OnceLock<Regex> = OnceLock::new();
        static V6: OnceLock<Regex> = OnceLock::new();
        static MARK: OnceLock<Regex> = OnceLock::new();
        static BARE_V4: OnceLock<Regex> = OnceLock::new();
        // Compiled when a file first needs them (host_port reads the
        // common form).
        let v4 = || re(&V4, r"^(\d+\.\d+\.\d+\.\d+):([0-9A-Za-z_-]+)");
        let host = || re(&HOST, r"^([0-9A-Za-z._+-]+):([0-9A-Za-z_-]+)");
        let v6 = || re(&V6, r"^\[([0-9A-Fa-f:.]+)\]:([0-9A-Za-z_-]+)");
        let mark = || re(&MARK, r"^(\d+)(\s|$)");
        let bare_v4 = || re(&BARE_V4, r"^\d+\.\d+\.\d+\.\d+(\s|$)");

        let (host_text, port_text, fwmark, end) = if let Some((h, p)) = host_port(text) {
            // The common form, without the regexes: the same match as
            // the first two below on ASCII text.
            (h, p, None, h.len() + 1 + p.len())
        } else if let (Family::V4, Some(c)) = (family, v4().captures(text)) {
            let (h, p) = (c.get(1)?, c.get(2)?);
            (h.as_str(), p.as_str(), None, p.end())
        } else if let Some(c) = host().captures(text) {
            let (h, p) = (c.get(1)?, c.get(2)?);
            (h.as_str(), p.as_str(), None, p.end())
        } else if bare_v4().is_match(text) {
            // COMPAT: upstream reads `virtual=192.0.2.1` as firewall mark 192.
            self.err(
                pos,
                format!(
                    "invalid address for virtual server: \"{}\" has no port; write \
                     virtual={}:PORT, or a bare number for a firewall mark",
                    text.split_whitespace().next().unwrap_or(""),
                    text.split_whitespace().next().unwrap_or("")
                ),
            );
            return None;
        } else if let Some(c) = mark().captures(text) {
            match c[1].parse::<u32>() {
                Ok(m) if m > 0 => ("", "", Some(m), c.get(1)?.end()),
                _ => {
                    self.err(
                        pos,
                        "invalid firewall mark: it must be between 1 and 4294967295",
                    );
                    return None;
                }
            }
        } else if let Some(c) = v6().captures(text) {
            if family == Family::V4 {
                self.err(
                    pos,
                    "cannot specify an IPv6 address here. please use \"virtual6\" instead.",
                );
                return None;
            }
            if c[1].parse::<std::net::Ipv6Addr>().is_err() {
                self.err(pos, "invalid ipv6 address for virtual server");
                return None;
            }
            // `[ADDRESS]`: the text up to the closing bracket.
            let (h, p) = (c.get(1)?, c.get(2)?);
            (&text[..h.end() + 1], p.as_str(), None, p.end())
        } else {
            self.err(pos, "invalid address for virtual server");
            return None;
        };
        let rest = text[end..].trim();
        if !rest.is_empty() {
            self.warn(
                Pos {
                    line: pos.line,
                    col: pos.col + text[..end].chars().count() + 1,
                },
                format!("ignoring \"{rest}\" after the virtual service address (as upstream does)"),
            );
        }
        Some((host_text, port_text, fwmark))
    }

    fn block_directive<'a, 't>(
        &mut self,
        d: &'a RawDirective<'t>,
        b: &mut Builder<'_>,
        family: Family,
        reals: &mut Vec<&'a RawDirective<'t>>,
        fallback: &mut Option<&'a RawDirective<'t>>,
    ) {
        let v = d.text();
        let at = d.value_pos();
        match d.name {
            "real" | "real6" => {
                if self.family_matches(d, family, "real") {
                    reals.push(d);
                }
            }
            "request" => {
                if let Some(s) = self.quoted_nonempty(d, "no request string specified") {
                    b.request = Cow::Owned(slash(s));
                }
            }
            "receive" => {
                if let Some(s) = self.quoted_nonempty(d, "invalid receive string") {
                    b.receive = s.to_string();
                }
            }
            "checktype" => {
                b.checktype = match self.checktype(d) {
                    Some(t) => t,
                    None => return,
                }
            }
            "checkcommand" => {
                let s = unquote(v);
                if s.is_empty() {
                    self.err(at, "invalid check command");
                } else {
                    b.checkcommand = Cow::Owned(s.to_string());
                }
            }
            "checktimeout" => b.checktimeout = self.positive(d, "invalid check timeout"),
            "negotiatetimeout" => {
                b.negotiatetimeout = self.positive(d, "invalid negotiate timeout")
            }
            "connecttimeout" => self.err(
                d.pos,
                "connecttimeout directive deprecated in favour of negotiatetimeout",
            ),
            "checkcount" => {
                b.checkcount = self.positive(d, "invalid check count");
                if b.checkcount.is_some() {
                    self.warn(d.pos, CHECKCOUNT_DEPRECATED);
                }
            }
            "failurecount" => b.failurecount = self.positive(d, "invalid failure count"),
            "risecount" => b.risecount = self.positive(d, "invalid rise count"),
            "checkinterval" => b.checkinterval = self.positive(d, "invalid checkinterval"),
            "checkport" => match first_digits(v).map(str::parse::<u32>) {
                None => self.err(at, "invalid port"),
                Some(Ok(n)) if (1..=65535).contains(&n) => b.checkport = Some(n as u16),
                Some(_) => self.err(at, "checkport must be in range 1..65535"),
            },
            "login" => {
                if let Some(s) = self.quoted_nonempty(d, "invalid login string") {
                    b.login = s.to_string()
                }
            }
            "passwd" => {
                if let Some(s) = self.quoted_nonempty(d, "invalid password") {
                    b.passwd = s.to_string()
                }
            }
            "database" => {
                if let Some(s) = self.quoted_nonempty(d, "invalid database") {
                    b.database = s.to_string()
                }
            }
            "secret" => {
                if let Some(s) = self.quoted_nonempty(d, "invalid secret") {
                    b.secret = s.to_string()
                }
            }
            "load" => {
                if let Some(s) = self.quoted_nonempty(d, "invalid string for load testing") {
                    b.load = Some(s.to_string())
                }
            }
            "scheduler" => {
                match scheduler_word(v) {
                    Some(w) if w.bytes().all(|c| c.is_ascii_lowercase()) && w.len() <= 15 => {
                        b.scheduler = Cow::Owned(w.to_string())
                    }
                    Some(w) if w.bytes().any(|c| c.is_ascii_lowercase()) => {
                        // COMPAT: upstream keeps the first lowercase run,
                        // so `Wlc` silently becomes `lc`.
                        self.err(
                            at,
                            format!(
                                "invalid scheduler \"{w}\": scheduler names are lowercase letters \
                                 (a-z); did you mean \"{}\"?",
                                w.to_ascii_lowercase()
                            ),
                        )
                    }
                    _ => self.err(
                        at,
                        "invalid scheduler, should be only lowercase letters (a-z)",
                    ),
                }
            }
            "persistent" => match first_digits(v).map(str::parse::<u32>) {
                None => self.err(at, "invalid persistent timeout"),
                // ipvsadm refuses 0 and more than 31 days.
                Some(Ok(n)) if (1..=2_678_400).contains(&n) => b.persistent = Some(n),
                Some(_) => self.err(
                    at,
                    "invalid persistent timeout: it must be between 1 and 2678400 seconds",
                ),
            },
            "schedflags" => match v.split_whitespace().next() {
                None => self.err(at, "invalid sched-flags"),
                Some(flags) => {
                    let bad: Vec<&str> = flags
                        .split(',')
                        .filter(|f| !SCHED_FLAGS.contains(f))
                        .collect();
                    if bad.is_empty() {
                        b.schedflags = Some(flags.to_string());
                    } else {
                        self.err(
                            at,
                            format!(
                                "invalid sched-flags \"{}\": known flags are {}",
                                bad.join(","),
                                SCHED_FLAGS.join(", ")
                            ),
                        );
                    }
                }
            },
            "netmask" => match family {
                Family::V6 => match v.parse::<u8>() {
                    Ok(p) if (1..=128).contains(&p) && v.bytes().all(|c| c.is_ascii_digit()) => {
                        b.netmask = Some(Netmask::V6Prefix(p))
                    }
                    _ => self.err(
                        at,
                        "invalid netmask: a prefix length between 1 and 128 is required",
                    ),
                },
                Family::V4 => match v.parse::<std::net::Ipv4Addr>() {
                    Ok(m) => b.netmask = Some(Netmask::V4(m)),
                    Err(_) => self.err(at, "invalid netmask: dotted quad notation is required"),
                },
            },
            "protocol" => match (first_word(v), b.fwmark) {
                (None, _) => self.err(at, "invalid protocol"),
                (Some("fwm"), true) => {}
                (Some(_), true) => self.err(
                    at,
                    "protocol must be fwm if the virtual service is a fwmark (a number)",
                ),
                (Some("tcp"), false) => b.protocol = Some(Protocol::Tcp),
                (Some("udp"), false) => b.protocol = Some(Protocol::Udp),
                (Some(_), false) => self.err(
                    at,
                    "protocol must be tcp or udp if the virtual service is an address and port",
                ),
            },
            "ops" => {
                if let Some(x) = self.yes_no(d) {
                    b.ops = x
                }
            }
            "service" => match first_word(v).and_then(Service::from_name) {
                Some(s) => {
                    b.service = Some(s);
                    let who = || format!("ldirectord@{}", b.hostname);
                    if s == Service::Ftp {
                        if b.login.is_empty() {
                            b.login = "anonymous".into();
                        }
                        if b.passwd.is_empty() {
                            b.passwd = who();
                        }
                    } else if s == Service::Sip && b.login.is_empty() {
                        b.login = who();
                    }
                }
                None => self.err(
                    at,
                    "service must be dns, ftp, http, https, http_proxy, imap, imaps, ldap, \
                         ldaps, mysql, nntp, none, oracle, pop, pops, radius, pgsql, simpletcp, \
                         sip, smtp or submission",
                ),
            },
            "httpmethod" => match first_word(v).map(str::to_ascii_uppercase) {
                Some(m) if m == "GET" => b.httpmethod = HttpMethod::Get,
                Some(m) if m == "HEAD" => b.httpmethod = HttpMethod::Head,
                _ => self.err(at, "httpmethod must be GET or HEAD"),
            },
            "virtualhost" => {
                let h = v.trim_matches('"');
                if h.is_empty() {
                    self.err(at, "invalid virtualhost");
                } else {
                    b.virtualhost = Some(h.to_string());
                }
            }
            "fallback" | "fallback6" => {
                if self.family_matches(d, family, "fallback") {
                    *fallback = Some(d);
                }
            }
            "fallbackcommand" => {
                let s = unquote(v);
                if s.is_empty() {
                    self.err(at, "invalid fallback command");
                } else {
                    b.fallbackcommand = Some(s.to_string());
                }
            }
            "quiescent" => b.quiescent = self.yes_no(d),
            "cleanstop" => b.cleanstop = self.yes_no(d),
            "emailalert" => b.emailalert = self.emailalert(d),
            "emailalertfreq" => b.emailalertfreq = self.emailalertfreq(d),
            "emailalertstatus" => b.emailalertstatus = self.emailalertstatus(d),
            "monitorfile" => {
                let s = unquote(v);
                if s.is_empty() {
                    self.err(at, "unable to open monitorfile: no file name given");
                } else {
                    b.monitorfile = Some(PathBuf::from(s));
                }
            }
            "smtp" => b.smtp = self.smtp(d),
            "servicename" => b.servicename = Some(v.to_string()),
            "comment" => b.comment = Some(v.to_string()),
            "loadmonitor" => b.loadmonitor = self.loadmonitor(d),
            "loadinterval" => b.loadinterval = self.ext_seconds(d, false),
            "loadtimeout" => b.loadtimeout = self.ext_seconds(d, false),
            "slowstart" => b.slowstart = self.ext_seconds(d, true),
            _ => self.unknown(d, true),
        }
    }

    /// `real`/`real6` and `fallback`/`fallback6` must match the block's
    /// family (`base` is the v4 name); upstream's message otherwise.
    fn family_matches(&mut self, d: &RawDirective, family: Family, base: &str) -> bool {
        let matches = match family {
            Family::V4 => d.name == base,
            Family::V6 => d.name.strip_prefix(base) == Some("6"),
        };
        if matches {
            return true;
        }
        let want = match family {
            Family::V4 => base.to_string(),
            Family::V6 => format!("{base}6"),
        };
        self.err(
            d.pos,
            format!(
                "cannot specify \"{}\" here.  please use \"{want}\" instead",
                d.name
            ),
        );
        false
    }

    fn checktype(&mut self, d: &RawDirective) -> Option<CheckType> {
        let v = d.text();
        // Upstream looks for digits anywhere first: `checktype=external2`
        // is a combined check with N=2. We keep that reading (a config that
        // upstream accepts means the same) but say so.
        if let Some(digits) = first_digits(v) {
            let Ok(n) = digits.parse::<u32>() else {
                self.err(d.value_pos(), format!("checktype: {digits} is too large"));
                return None;
            };
            if digits != v {
                self.warn(
                    d.value_pos(),
                    format!(
                        "checktype={v} is read as checktype={n} (a combined check: {n} connect \
                         checks, then one negotiate check), as upstream ldirectord reads it"
                    ),
                );
            }
            return Some(CheckType::Combined(n));
        }
        Some(match dashed_word(v) {
            Some("connect") => CheckType::Connect,
            Some("negotiate") => CheckType::Negotiate,
            Some("ping") => CheckType::Ping,
            Some("off") => CheckType::Off,
            Some("on") => CheckType::On,
            Some("external") => CheckType::External,
            Some("external-perl") => CheckType::ExternalPerl,
            _ => {
                self.err(
                    d.value_pos(),
                    "checktype must be \"connect\", \"negotiate\", \"on\", \"off\", \"ping\", \
                     \"external\", \"external-perl\" or a positive number",
                );
                return None;
            }
        })
    }

    /// One `real=`/`real6=` line → one real, or one per address of a range.
    fn real(&mut self, d: &RawDirective, family: Family, out: &mut Vec<Real>) {
        // Compiled when a line first needs them: simple_real reads the
        // common form.
        static ADDR: OnceLock<Regex> = OnceLock::new();
        static DOUBLE: OnceLock<Regex> = OnceLock::new();
        let addr_re = || {
            re(
                &ADDR,
                r"^(\d+\.\d+\.\d+\.\d+|[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?:->(\d+\.\d+\.\d+\.\d+|[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]))?(?::(\d+|[A-Za-z0-9_-]+))?(\s.*)?$",
            )
        };
        let double_re = || {
            re(
                &DOUBLE,
                r"^(\d+\.\d+\.\d+\.\d+|[A-Za-z0-9.-]+)::(\d+|[A-Za-z0-9_-]+)(\s.*)?$",
            )
        };
        let text = d.text();
        let at = d.value_pos();
        // The address when simple_real read it (what `host` gives for it).
        let mut literal = None;
        let (host1, host2, port_text, flags) = if let Some((a, h, p, f)) = simple_real(text) {
            literal = (family == Family::V4).then_some(IpAddr::V4(a));
            (h, None, p, f)
        } else if let Some(c) = addr_re().captures(text) {
            (
                c.get(1).map_or("", |m| m.as_str()),
                c.get(2).map(|m| m.as_str()),
                c.get(3).map(|m| m.as_str()),
                c.get(4).map_or("", |m| m.as_str()),
            )
        } else if let Some(c) = double_re().captures(text) {
            // COMPAT: upstream reads `ip::port` (its own SIP sample) as host
            // "port" (0.0.19.196 for 5060), port 0.
            let (h, p) = (
                c.get(1).map_or("", |m| m.as_str()),
                c.get(2).map_or("", |m| m.as_str()),
            );
            self.warn(at, format!("read \"{h}::{p}\" as \"{h}:{p}\""));
            (h, None, Some(p), c.get(3).map_or("", |m| m.as_str()))
        } else {
            self.err(at, "invalid address for real server (wrong format)");
            return;
        };
        if flags.trim().is_empty() {
            self.err(at, "invalid address for real server (wrong format): a forwarding method (gate, masq or ipip) must follow the address");
            return;
        }
        let port = match port_text {
            None => 0,
            Some(p) => match self.port(p, None) {
                Some(n) => n,
                None => {
                    self.err(
                        at,
                        format!("invalid port ({p}) for real server (could not resolve port)"),
                    );
                    return;
                }
            },
        };
        let Some(first) = literal.or_else(|| self.host(host1, family)) else {
            self.err(
                at,
                format!("invalid address ({host1}) for real server (could not resolve host)"),
            );
            return;
        };
        let Some(opts) = self.real_options(flags, at) else {
            return;
        };
        let make = |addr: IpAddr| Real {
            addr,
            port,
            forward: opts.forward,
            weight: opts.weight,
            request: opts.request.clone(),
            receive: opts.receive.clone(),
            lower: opts.lower,
            upper: opts.upper,
            line: d.pos.line,
        };
        let Some(host2) = host2 else {
            out.push(make(first));
            return;
        };
        let Some(last) = self.host(host2, family) else {
            self.err(
                at,
                format!("invalid address ({host2}) for real server (could not resolve end host)"),
            );
            return;
        };
        let (IpAddr::V4(a), IpAddr::V4(z)) = (first, last) else {
            self.err(at, "Address range for IPv6 is not supported yet");
            return;
        };
        // COMPAT: upstream compares the bounds as strings, so a range whose
        // bounds have different numbers of digits yields no reals at all.
        let (a, z) = (u32::from(a), u32::from(z));
        if a > z {
            self.err(
                at,
                format!("Invalid Range: {first}->{last}: the first address must not be greater than the last"),
            );
            return;
        }
        if z - a >= MAX_RANGE {
            self.err(
                at,
                format!("Invalid Range: {first}->{last} holds {} addresses; at most {MAX_RANGE} are allowed", u64::from(z - a) + 1),
            );
            return;
        }
        for n in a..=z {
            out.push(make(IpAddr::V4(n.into())));
        }
    }

    /// What follows the address of a `real=` line:
    /// `gate|masq|ipip [weight] ["request", "receive"] [l:N] [u:N]`.
    ///
    /// COMPAT: upstream searches each item anywhere in the rest of the line,
    /// in a fixed order, so it takes the weight from inside a receive string
    /// (`"ok 5"`), loses the strings when the weight follows them, and
    /// loses `u:` when it comes before `l:`. Here the items may come in any
    /// order and each is read where it stands; anything else is an error.
    fn real_options(&mut self, flags: &str, at: Pos) -> Option<RealOptions> {
        static STRINGS: OnceLock<Regex> = OnceLock::new();
        // Upstream's greedy pair: the receive string runs to the last quote.
        // Anchored on a quote: only a item that starts with one is tried.
        let strings_re = || re(&STRINGS, r#"^"(.*)"[, ]\s*"(.*)""#);
        let at_token_end = |s: &str| s.is_empty() || s.starts_with(|c: char| c.is_whitespace());

        let after_ws = flags.trim_start();
        let word_len = word_len(after_ws);
        let forward = match Forward::from_name(&after_ws[..word_len]) {
            Some(f) if after_ws.len() < flags.len() => f,
            _ => {
                self.err(at, "forward method must be gate, masq or ipip");
                return None;
            }
        };
        let mut o = RealOptions {
            forward,
            weight: 1,
            request: None,
            receive: None,
            lower: 0,
            upper: 0,
        };
        let (mut weight_set, mut lower_set, mut upper_set) = (false, false, false);
        let mut rest = &after_ws[word_len..];
        loop {
            let trimmed = rest.trim_start();
            if trimmed.is_empty() {
                break;
            }
            let around = |s: &mut Self, r: &str| {
                s.err(at, format!("Invalid real server line, around \"{r}\""));
            };
            if trimmed.len() == rest.len() {
                around(self, rest);
                return None;
            }
            if let Some(c) = trimmed
                .starts_with('"')
                .then(|| strings_re().captures(trimmed))
                .flatten()
            {
                if o.request.is_some() {
                    around(self, rest);
                    return None;
                }
                o.request = Some(slash(&c[1]));
                o.receive = Some(c[2].to_string());
                rest = &trimmed[c.get(0)?.end()..];
            } else if let Some((which, (digits, after))) = trimmed
                .strip_prefix("l:")
                .map(|t| ('l', t))
                .or_else(|| trimmed.strip_prefix("u:").map(|t| ('u', t)))
                .and_then(|(w, t)| leading_digits(t).map(|d| (w, d)))
                .filter(|(_, (_, after))| at_token_end(after))
            {
                let Ok(n) = digits.parse::<u32>() else {
                    around(self, rest);
                    return None;
                };
                let set = if which == 'l' {
                    &mut lower_set
                } else {
                    &mut upper_set
                };
                if *set {
                    around(self, rest);
                    return None;
                }
                *set = true;
                if which == 'l' {
                    o.lower = n
                } else {
                    o.upper = n
                }
                rest = after;
            } else if let Some((digits, after)) =
                leading_digits(trimmed).filter(|(_, after)| at_token_end(after))
            {
                if weight_set {
                    around(self, rest);
                    return None;
                }
                weight_set = true;
                match digits.parse::<u32>() {
                    Ok(w) if w <= 65535 => o.weight = w,
                    _ => {
                        self.err(
                            at,
                            format!("invalid weight {digits}: it must be between 0 and 65535"),
                        );
                        return None;
                    }
                }
                rest = after;
            } else {
                around(self, rest);
                return None;
            }
        }
        if o.upper > i32::MAX as u32 || o.lower > i32::MAX as u32 {
            self.err(at, "thresholds must not exceed 2147483647");
            return None;
        }
        // The kernel refuses l > u (ERANGE), and u:0 means "no limit"; an
        // l: without a u: can therefore never be installed.
        if o.lower > o.upper {
            self.err(
                at,
                format!(
                    "the lower threshold l:{} is above the upper threshold u:{} (u:0 means no \
                     limit); IPVS refuses that",
                    o.lower, o.upper
                ),
            );
            return None;
        }
        Some(o)
    }
}

/// Defaults of a virtual block before inheritance (upstream read_config).
struct Builder<'h> {
    hostname: &'h str,
    fwmark: bool,
    protocol: Option<Protocol>,
    service: Option<Service>,
    checktype: CheckType,
    // Defaults are not allocated unless they are kept.
    checkcommand: Cow<'static, str>,
    checkport: Option<u16>,
    checktimeout: Option<u32>,
    negotiatetimeout: Option<u32>,
    checkinterval: Option<u32>,
    checkcount: Option<u32>,
    failurecount: Option<u32>,
    risecount: Option<u32>,
    request: Cow<'static, str>,
    receive: String,
    httpmethod: HttpMethod,
    virtualhost: Option<String>,
    login: String,
    passwd: String,
    database: String,
    secret: String,
    load: Option<String>,
    scheduler: Cow<'static, str>,
    persistent: Option<u32>,
    netmask: Option<Netmask>,
    schedflags: Option<String>,
    ops: bool,
    quiescent: Option<bool>,
    cleanstop: Option<bool>,
    fallbackcommand: Option<String>,
    emailalert: Option<String>,
    emailalertfreq: Option<u32>,
    emailalertstatus: Option<AlertStatus>,
    smtp: Option<String>,
    monitorfile: Option<PathBuf>,
    servicename: Option<String>,
    comment: Option<String>,
    loadmonitor: Option<LoadMonitor>,
    loadinterval: Option<u32>,
    loadtimeout: Option<u32>,
    slowstart: Option<u32>,
}

impl<'h> Builder<'h> {
    fn new(addr: &Option<(&str, &str, Option<u32>)>, hostname: &'h str) -> Self {
        let fwmark = matches!(addr, Some((_, _, Some(_))));
        // Upstream: udp when the port is written `53` or `domain`.
        let protocol = match addr {
            Some((_, port, None)) if *port == "53" || *port == "domain" => Some(Protocol::Udp),
            Some((_, _, None)) => Some(Protocol::Tcp),
            _ => None,
        };
        Builder {
            hostname,
            fwmark,
            protocol,
            service: None,
            checktype: CheckType::Negotiate,
            checkcommand: Cow::Borrowed("/bin/true"),
            checkport: None,
            checktimeout: None,
            negotiatetimeout: None,
            checkinterval: None,
            checkcount: None,
            failurecount: None,
            risecount: None,
            request: Cow::Borrowed("/"),
            receive: String::new(),
            httpmethod: HttpMethod::Get,
            virtualhost: None,
            login: String::new(),
            passwd: String::new(),
            database: String::new(),
            secret: String::new(),
            load: None,
            scheduler: Cow::Borrowed("wrr"),
            persistent: None,
            netmask: None,
            schedflags: None,
            ops: false,
            quiescent: None,
            cleanstop: None,
            fallbackcommand: None,
            emailalert: None,
            emailalertfreq: None,
            emailalertstatus: None,
            smtp: None,
            monitorfile: None,
            servicename: None,
            comment: None,
            loadmonitor: None,
            loadinterval: None,
            loadtimeout: None,
            slowstart: None,
        }
    }
}

struct RealOptions {
    forward: Forward,
    weight: u32,
    request: Option<String>,
    receive: Option<String>,
    lower: u32,
    upper: u32,
}

/// A `/` is prepended to requests that have none (upstream).
fn slash(s: &str) -> String {
    if s.starts_with('/') {
        s.to_string()
    } else {
        let mut r = String::with_capacity(s.len() + 1);
        r.push('/');
        r.push_str(s);
        r
    }
}

/// The largest value of the extensions' seconds (one day is plenty for an
/// interval; the bound keeps durations far from overflow).
pub const MAX_EXT_SECONDS: u32 = 86_400;

/// The largest IPv4 range one `real=a->b` may expand to.
pub const MAX_RANGE: u32 = 65536;

const CHECKCOUNT_DEPRECATED: &str =
    "checkcount option is deprecated and slated for removal.  please see 'failurecount'";

/// ipvsadm's `-b` flag names.
pub const SCHED_FLAGS: &[&str] = &[
    "sh-fallback",
    "sh-port",
    "mh-fallback",
    "mh-port",
    "flag-1",
    "flag-2",
    "flag-3",
];

/// Facility names Sys::Syslog (and syslog(3)) know.
pub const SYSLOG_FACILITIES: &[&str] = &[
    "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog", "user",
    "uucp", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written readers of the common forms give exactly what the
    /// regexes they replace give (the regexes are upstream's; `\d`, `\w`
    /// and `\s` are Unicode there), on random short texts built from the
    /// pieces that matter: digits, letters, separators, blanks, non-ASCII
    /// letters, digits and blanks.
    #[test]
    fn hand_matchers_read_as_the_regexes() {
        let v4 = Regex::new(r"^(\d+\.\d+\.\d+\.\d+):([0-9A-Za-z_-]+)").unwrap();
        let host = Regex::new(r"^([0-9A-Za-z._+-]+):([0-9A-Za-z_-]+)").unwrap();
        let addr = Regex::new(
            r"^(\d+\.\d+\.\d+\.\d+|[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?:->(\d+\.\d+\.\d+\.\d+|[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]))?(?::(\d+|[A-Za-z0-9_-]+))?(\s.*)?$",
        )
        .unwrap();
        let fallback = Regex::new(r"^(.*?)(?::(\d+|[A-Za-z0-9_-]+))?$").unwrap();
        let word = Regex::new(r"\w+").unwrap();
        let dashed = Regex::new(r"[\w-]+").unwrap();
        let number = Regex::new(r"^\d+").unwrap();
        let scheduler = Regex::new(r"^[A-Za-z0-9_-]+").unwrap();
        let pieces = [
            "192.0.2.1",
            "10.0.0.255",
            "1.2.3",
            "01.2.3.4",
            "256.1.1.1",
            "0",
            "7",
            "80",
            "www",
            "do-main",
            "x_y",
            "a",
            "Z",
            ".",
            ":",
            "::",
            "->",
            "[::1]",
            "[",
            "]",
            "+",
            "-",
            "_",
            " ",
            "\t",
            "\x0b",
            "gate",
            "masq 3",
            "\u{e9}",
            "\u{663}",
            "\u{a0}",
            "#",
            "\"",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut rand = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        fn group<'t>(c: &regex::Captures<'t>, i: usize) -> Option<&'t str> {
            c.get(i).map(|m| m.as_str())
        }
        /// `first_digits` as it was written, with `char` searches.
        fn digits(t: &str) -> Option<&str> {
            let start = t.find(|c: char| c.is_ascii_digit())?;
            let rest = &t[start..];
            Some(
                &rest[..rest
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len())],
            )
        }
        for _ in 0..100_000 {
            let text: String = (0..rand(7)).map(|_| pieces[rand(pieces.len())]).collect();
            let t = text.as_str();

            let by_re = v4.captures(t).or_else(|| host.captures(t));
            let by_re = by_re.map(|c| (group(&c, 1).unwrap(), group(&c, 2).unwrap()));
            match host_port(t) {
                Some(hp) => assert_eq!(Some(hp), by_re, "host_port {t:?}"),
                None => assert!(by_re.is_none() || !t.is_ascii(), "host_port {t:?}"),
            }

            if let Some((a, h, p, f)) = simple_real(t) {
                let c = addr
                    .captures(t)
                    .expect("simple_real took what the regex refuses");
                let flags = group(&c, 4).unwrap_or("");
                assert_eq!(
                    (Some(h), group(&c, 2), group(&c, 3), flags),
                    (Some(h), None, p, f),
                    "simple_real {t:?}"
                );
                assert_eq!(group(&c, 1), Some(h), "simple_real {t:?}");
                assert_eq!(Some(IpAddr::V4(a)), names::literal(h, Family::V4));
            }

            let hostport = t.split_whitespace().next().unwrap_or("");
            let c = fallback.captures(hostport).unwrap();
            assert_eq!(
                split_port(hostport),
                (group(&c, 1).unwrap(), group(&c, 2)),
                "split_port {hostport:?}"
            );

            assert_eq!(
                first_word(t),
                word.find(t).map(|m| m.as_str()),
                "first_word {t:?}"
            );
            assert_eq!(
                dashed_word(t),
                dashed.find(t).map(|m| m.as_str()),
                "dashed_word {t:?}"
            );
            assert_eq!(
                leading_number(t),
                number.find(t).map(|m| m.as_str()),
                "leading_number {t:?}"
            );
            assert_eq!(
                scheduler_word(t),
                scheduler.find(t).map(|m| m.as_str()),
                "scheduler_word {t:?}"
            );
            assert_eq!(
                word_len(t),
                t.find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(t.len()),
                "word_len {t:?}"
            );
            assert_eq!(first_digits(t), digits(t), "first_digits {t:?}");
        }
    }

    #[test]
    fn edit_distance_counts_insertions_deletions_substitutions_and_swaps() {
        assert_eq!(edit_distance("checkinterval", "checkinterval"), 0);
        assert_eq!(edit_distance("checkintervall", "checkinterval"), 1);
        assert_eq!(edit_distance("chekcinterval", "checkinterval"), 1);
        assert_eq!(edit_distance("checkintreval", "checkinterval"), 1);
        assert_eq!(edit_distance("sheduler", "scheduler"), 1);
        assert_eq!(edit_distance("", "ops"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn a_typo_gets_the_directive_it_meant_and_a_stranger_gets_none() {
        for (typo, meant) in [
            ("checkintervall", "checkinterval"),
            ("CheckInterval", "checkinterval"),
            ("negotiatetimout", "negotiatetimeout"),
            ("quiesent", "quiescent"),
            ("virutal", "virtual"),
            ("reciever", "receive"),
            ("servise", "service"),
        ] {
            assert_eq!(closest_directive(typo), Some(meant), "{typo}");
        }
        for stranger in ["bogus", "foo", "timeouts_are_fun", "x"] {
            assert_eq!(closest_directive(stranger), None, "{stranger}");
        }
    }
}
