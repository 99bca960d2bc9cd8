//! The health check of a converted virtual: nanny's check (reference
//! §10.4, §10.5) → the ldirectord check that behaves the same, case by
//! case (§13.3), with nanny's escapes translated (`\\ \r \n \t \' \"`) and
//! each difference as a warning.
//!
//! Pure: it decides the directives and, for `send_program`, the text of a
//! small POSIX sh wrapper; naming and writing that file is the caller's.

use regex::bytes::RegexBuilder;

use super::read::{At, Protocol, Quoted, Virtual};

/// What the virtual's reals are checked with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `checktype=connect`.
    Connect,
    /// `checktype=off`: the check never passed under Piranha either.
    Off,
    /// `checktype=negotiate`, `service=simpletcp`, `request=`/`receive=`
    /// (the values as written between the quotes).
    SimpleTcp { request: String, receive: String },
    /// `checktype=external` running a wrapper script of this text.
    External { script: String },
}

/// The check of one virtual.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub kind: Kind,
    /// What nanny did, for a comment above the directives.
    pub explain: Vec<String>,
    /// (lvs.cf line, message).
    pub warnings: Vec<(usize, String)>,
    /// (line, column, message).
    pub errors: Vec<(usize, usize, String)>,
}

/// nanny's default check for a virtual on port 80 (`nanny.c`
/// `http_send_str`/`http_recv_str`).
const HTTP_SEND: &str = "GET / HTTP/1.0\\r\\n\\r\\n";
const HTTP_EXPECT: &str = "HTTP";

/// Choose the check of `v`; `real_ports` are the ports its reals are
/// checked on (for the plain-text-on-443 warning).
pub fn plan(v: &Virtual, real_ports: &[i32]) -> Plan {
    let mut p = Plan {
        kind: Kind::Connect,
        explain: Vec::new(),
        warnings: Vec::new(),
        errors: Vec::new(),
    };
    if let Some(sp) = &v.send_program {
        external(v, sp, &mut p);
        return p;
    }
    let udp = v.protocol() == Protocol::Udp;
    let (send, expect, default_http) = match (&v.send, &v.expect) {
        (None, None) if v.port() == 80 => {
            let at = |t: &str| At {
                value: Quoted {
                    text: t.to_string(),
                    quote: Some('"'),
                },
                line: v.line,
                col: 0,
            };
            (Some(at(HTTP_SEND)), Some(at(HTTP_EXPECT)), true)
        }
        (s, e) => (s.clone(), e.clone(), false),
    };
    if default_http {
        p.warnings.push((
            v.line,
            "no send, expect or send_program on port 80: nanny's default check (\"GET / \
             HTTP/1.0\\r\\n\\r\\n\", reply starting with \"HTTP\") is written out; \
             service=http would be stricter (it wants a 2xx status)"
                .into(),
        ));
    }
    for q in [&send, &expect].into_iter().flatten() {
        if q.value.quote == Some('\'') {
            p.warnings.push((
                q.line,
                format!(
                    "single quotes: lvsd strips only double quotes, so nanny used '{}' with \
                     its quotes; kept (write double quotes if they were not meant)",
                    q.value.text
                ),
            ));
        }
    }
    let send_bytes = send.as_ref().map(|s| unescape(s, "send", &mut p));
    let expect_bytes = expect.as_ref().map(|e| unescape(e, "expect", &mut p));
    match (send_bytes, expect_bytes) {
        (None, None) if !udp => {
            p.explain
                .push("nanny: no send or expect, so a TCP connect is the check".into());
        }
        (None, _) if udp => {
            p.warnings.push((
                v.line,
                "udp without send: nanny sent nothing and waited for a reply, so this check \
                 never passed and Piranha never put these reals in service; converted as \
                 checktype=connect (a ping of each real for udp)"
                    .into(),
            ));
        }
        (Some(_), None) if !udp => {
            let at = send.as_ref().map_or(v.line, |s| s.line);
            p.warnings.push((
                at,
                "send without expect: nanny connected, wrote send and never read the reply; \
                 ldirectord's connect check does not write it"
                    .into(),
            ));
        }
        (send_b, expect_b) => {
            let request = match &send_b {
                Some(b) => request_value(b, send.as_ref().map_or(v.line, |s| s.line), &mut p),
                None => {
                    p.explain.push(
                        "nanny: expect without send, so the banner the server sends first is \
                         read"
                            .into(),
                    );
                    "/".into()
                }
            };
            let receive = match (&expect_b, &expect) {
                (Some(e), Some(at)) => {
                    if v.use_regex() {
                        regex_receive(e, at, &mut p)
                    } else {
                        literal_receive(e, at.line, &mut p)
                    }
                }
                _ => {
                    // udp with send and no expect.
                    p.warnings.push((
                        send.as_ref().map_or(v.line, |s| s.line),
                        "udp send without expect: nanny crashed (SIGSEGV) at the first reply \
                         and with hard_shutdown = 1 lvsd took the director down; converted as \
                         \"any reply\""
                            .into(),
                    ));
                    "^".into()
                }
            };
            if expect_b.is_some() && !v.use_regex() {
                p.explain.push(
                    "nanny: connect, write send once, read the reply once; up when it starts \
                     with expect (simpletcp sends, half-closes, and matches each line of the \
                     reply)"
                        .into(),
                );
            }
            if v.fwmark().is_some() && udp {
                p.warnings.push((
                    v.line,
                    "udp check of a fwmark virtual: ldirectord runs the checks of a fwmark \
                     service over tcp, nanny used udp"
                        .into(),
                ));
            }
            if v.port() == 443 || real_ports.contains(&443) {
                p.warnings.push((
                    expect.as_ref().or(send.as_ref()).map_or(v.line, |q| q.line),
                    "a plain-text check on port 443: against a TLS server this check fails \
                     (it most likely failed under Piranha too, unless its nanny was patched \
                     for TLS); consider service=https"
                        .into(),
                ));
            }
            p.kind = Kind::SimpleTcp { request, receive };
        }
    }
    p
}

/// nanny's `convert_str`: `\\ \r \n \t \' \"`; any other backslash
/// sequence made nanny loop forever at start-up, so it is kept as written
/// and warned about.
fn unescape(q: &At<Quoted>, what: &str, p: &mut Plan) -> String {
    let text = q.value.as_nanny_sees();
    let mut out = String::with_capacity(text.len());
    let mut unknown = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\'') => out.push('\''),
            Some('"') => out.push('"'),
            Some(other) => {
                unknown.push(format!("\\{other}"));
                out.push('\\');
                out.push(other);
            }
            None => {
                unknown.push("\\ at the end".into());
                out.push('\\');
            }
        }
    }
    if !unknown.is_empty() {
        p.warnings.push((
            q.line,
            format!(
                "{} in {what}: nanny knows only \\\\ \\r \\n \\t \\' \\\" and looped forever \
                 on anything else, so under Piranha this virtual's reals were never checked \
                 nor put in service; kept as written",
                unknown.join(" ")
            ),
        ));
    }
    out
}

/// Whether `s` starts like an HTTP request line (`GET / HTTP/1.0`).
fn is_http_request(s: &str) -> bool {
    let mut words = s.split(' ');
    let method = words.next().unwrap_or("");
    !method.is_empty()
        && method.bytes().all(|b| b.is_ascii_uppercase())
        && words.next().is_some()
        && words.next().is_some_and(|w| w.starts_with("HTTP/"))
}

/// The bytes nanny sent → ldirectord's `request="…"`. simpletcp sends the
/// value without its first character (the `/` the parser adds when it is
/// missing) and turns the two characters `\n` into a line feed; nothing
/// else is translated.
fn request_value(bytes: &str, line: usize, p: &mut Plan) -> String {
    let mut out = String::with_capacity(bytes.len() + 1);
    if bytes.is_empty() || bytes.starts_with('/') {
        out.push('/');
    }
    let mut dropped_cr = false;
    let mut prev_backslash = false;
    let mut literal_bs_n = false;
    for c in bytes.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => dropped_cr = true,
            c => {
                if prev_backslash && c == 'n' {
                    literal_bs_n = true;
                }
                out.push(c);
            }
        }
        prev_backslash = c == '\\';
    }
    if dropped_cr {
        let msg = "simpletcp cannot send a carriage return (it translates only \\n), so each \
                   \\r of send is left out";
        if is_http_request(bytes) {
            p.explain
                .push(format!("{msg}: HTTP servers accept bare line feeds"));
        } else {
            p.warnings.push((
                line,
                format!("{msg}; check that the server accepts bare line feeds"),
            ));
        }
    }
    if literal_bs_n {
        p.warnings.push((
            line,
            "send has a backslash followed by n, which simpletcp sends as a line feed".into(),
        ));
    }
    out
}

/// A Rust regex matching the text `s` literally; control characters as
/// escapes (so the pattern fits on one ldirectord.cf line).
fn regex_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\x{{{:X}}}", c as u32)),
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out
}

/// Plain expect: nanny compared the first strlen(expect) bytes of one
/// read. simpletcp matches each line of the reply (without its line feed).
fn literal_receive(expect: &str, line: usize, p: &mut Plan) -> String {
    if expect == "*" {
        p.explain
            .push("expect = \"*\": nanny took any reply of at least one byte".into());
        return "^".into();
    }
    if expect.is_empty() {
        p.warnings.push((
            line,
            "expect = \"\": nanny passed as soon as the socket was readable, data or a close; \
             ldirectord needs a line of reply"
                .into(),
        ));
        return "^".into();
    }
    match expect.split_once('\n') {
        None => format!("^{}", regex_literal(expect)),
        Some((first, rest)) => {
            if !rest.is_empty() {
                p.warnings.push((
                    line,
                    format!(
                        "expect spans lines: ldirectord matches the reply line by line, so only \
                         its first line ({first:?}) is checked"
                    ),
                ));
            }
            format!("^{}$", regex_literal(first))
        }
    }
}

/// `use_regex = 1`: nanny ran a POSIX extended regex over the first read
/// (≤254 bytes); here it runs over each line of the reply, in Rust regex
/// syntax (the same for the ERE most people write).
fn regex_receive(expect: &str, at: &At<Quoted>, p: &mut Plan) -> String {
    let mut pattern = String::with_capacity(expect.len());
    for c in expect.chars() {
        match c {
            '\r' => pattern.push_str("\\r"),
            '\t' => pattern.push_str("\\t"),
            '\n' => pattern.push_str("\\n"),
            c if c.is_control() => pattern.push_str(&format!("\\x{{{:X}}}", c as u32)),
            c => pattern.push(c),
        }
    }
    if pattern.is_empty() {
        return "^".into();
    }
    if let Err(e) = RegexBuilder::new(&pattern).size_limit(1 << 20).build() {
        let why = e.to_string();
        let why = why.lines().last().unwrap_or("").trim();
        p.errors.push((
            at.line,
            at.col,
            format!(
                "expect with use_regex = 1 is not a regular expression ldirectord can use: {why}"
            ),
        ));
        return "^".into();
    }
    p.warnings.push((
        at.line,
        "use_regex = 1: nanny searched the first read of the reply (at most 254 bytes) with a \
         POSIX extended regex; here the expression is searched in each line of the reply"
            .into(),
    ));
    pattern
}

/// `send_program` + `expect`: an external check through a wrapper that
/// runs the program as nanny did.
fn external(v: &Virtual, sp: &At<Quoted>, p: &mut Plan) {
    let program = sp.value.as_nanny_sees();
    if sp.value.quote == Some('\'') {
        p.warnings.push((
            sp.line,
            "single quotes around send_program: lvsd strips only double quotes, so nanny ran a \
             program whose name starts with a quote (it cannot have worked); kept"
                .into(),
        ));
    }
    let Some(expect) = &v.expect else {
        p.warnings.push((
            sp.line,
            "send_program without expect: nanny counted every run as a failure, so Piranha \
             never put these reals in service; converted as checktype=off (the same). Add an \
             expect and convert again to check them"
                .into(),
        ));
        p.kind = Kind::Off;
        return;
    };
    if v.send.is_some() {
        p.explain
            .push("send is ignored when send_program is set (as nanny did)".into());
    }
    // nanny: strcpy into char[255], strtok on " ", at most 39 arguments.
    let tokens: Vec<&str> = program.split(' ').filter(|t| !t.is_empty()).collect();
    let mut limits = Vec::new();
    if program.len() > 254 {
        limits.push(format!(
            "it is {} characters long and nanny copied it into 255 bytes (memory corruption)",
            program.len()
        ));
    }
    if tokens.len() > 39 {
        limits.push(format!(
            "it has {} words and nanny took at most 39",
            tokens.len()
        ));
    }
    let partial: Vec<&str> = tokens
        .iter()
        .copied()
        .filter(|t| *t != "%h" && *t != "%p" && (t.contains("%h") || t.contains("%p")))
        .collect();
    if !partial.is_empty() {
        limits.push(format!(
            "{} is passed as written: nanny replaced %h and %p only as whole words",
            partial.join(" ")
        ));
    }
    let mut msg = "send_program: nanny counted a program that exited non-zero or hung as up; \
                   here that is down (ldirectord kills it at checktimeout), and up needs exit 0 \
                   and the exact output"
        .to_string();
    if !limits.is_empty() {
        msg.push_str("; ");
        msg.push_str(&limits.join("; "));
    }
    p.warnings.push((sp.line, msg));
    let mut expect_text = String::new();
    let mut scratch = Plan {
        kind: Kind::Off,
        explain: Vec::new(),
        warnings: Vec::new(),
        errors: Vec::new(),
    };
    expect_text.push_str(&unescape(expect, "expect", &mut scratch));
    p.warnings.extend(scratch.warnings);
    if v.use_regex() {
        p.explain.push(
            "use_regex does not apply to send_program output (nanny compared exactly)".into(),
        );
    }
    let command: Vec<String> = tokens
        .iter()
        .map(|t| match *t {
            "%h" => "\"$3\"".to_string(),
            "%p" => "\"$4\"".to_string(),
            t => sh_quote(t),
        })
        .collect();
    let script = format!(
        "#!/bin/sh\n\
         # The send_program check of lvs.cf's virtual {name:?} (line {line}), written by\n\
         # ldirectord convert for checktype=external:\n\
         #   send_program = {sp}\n\
         #   expect = {ex}\n\
         #\n\
         # ldirectord runs it as: SCRIPT VIP VPORT RIP RPORT; exit 0 means up.\n\
         # As nanny did: the program runs with %h = RIP and %p = RPORT, stdin and\n\
         # stderr on /dev/null, and the real is up when its output less the last\n\
         # byte (the newline) is exactly the expect string.\n\
         # Unlike nanny: a program that exits non-zero is down (nanny took it as\n\
         # up), and ldirectord kills one that outlives checktimeout (nanny waited).\n\
         out=$({cmd} </dev/null 2>/dev/null; s=$?; printf x; exit \"$s\") || exit 1\n\
         out=${{out%x}}\n\
         out=${{out%?}}\n\
         [ \"$out\" = {want} ]\n",
        name = v.name,
        line = v.line,
        sp = comment_safe(&format!("\"{}\"", sp.value.text)),
        ex = comment_safe(&format!("\"{}\"", expect.value.text)),
        cmd = command.join(" "),
        want = sh_quote(&expect_text),
    );
    p.explain.push(
        "nanny ran send_program and compared its output with expect; the wrapper script does \
         the same"
            .into(),
    );
    p.kind = Kind::External { script };
}

/// A word for sh: bare when it is plainly safe, else in single quotes.
pub fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'/' | b'.' | b'_' | b'-' | b'+' | b':' | b',' | b'=' | b'@' | b'%'
                )
        })
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Text for a `#` comment line: no line breaks.
pub fn comment_safe(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::piranha::read::{At, Quoted, Virtual};

    fn q(text: &str) -> Option<At<Quoted>> {
        Some(At {
            value: Quoted {
                text: text.into(),
                quote: Some('"'),
            },
            line: 5,
            col: 12,
        })
    }

    fn virt(port: i32, send: Option<&str>, expect: Option<&str>) -> Virtual {
        Virtual {
            name: "v".into(),
            line: 2,
            port: Some(At {
                value: port,
                line: 3,
                col: 1,
            }),
            send: send.and_then(q),
            expect: expect.and_then(q),
            ..Virtual::default()
        }
    }

    fn simple(p: &Plan) -> (&str, &str) {
        match &p.kind {
            Kind::SimpleTcp { request, receive } => (request, receive),
            k => panic!("{k:?}"),
        }
    }

    #[test]
    fn gui_default_http_check() {
        let p = plan(
            &virt(80, Some("GET / HTTP/1.0\\r\\n\\r\\n"), Some("HTTP")),
            &[80],
        );
        assert_eq!(simple(&p), ("GET / HTTP/1.0\\n\\n", "^HTTP"));
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    }

    #[test]
    fn port_80_default_is_made_explicit() {
        let p = plan(&virt(80, None, None), &[80]);
        assert_eq!(simple(&p), ("GET / HTTP/1.0\\n\\n", "^HTTP"));
        assert!(p.warnings[0].1.contains("default check"));
        assert_eq!(plan(&virt(3306, None, None), &[3306]).kind, Kind::Connect);
    }

    #[test]
    fn send_only_is_a_connect_and_expect_only_reads_the_banner() {
        let p = plan(&virt(25, Some("QUIT\\r\\n"), None), &[25]);
        assert_eq!(p.kind, Kind::Connect);
        assert!(p.warnings[0].1.contains("send without expect"));
        let p = plan(&virt(21, None, Some("220")), &[21]);
        assert_eq!(simple(&p), ("/", "^220"));
    }

    #[test]
    fn expect_special_values_and_regex_metacharacters() {
        assert_eq!(simple(&plan(&virt(7, Some("x"), Some("*")), &[7])).1, "^");
        let p = plan(&virt(7, Some("x"), Some("")), &[7]);
        assert_eq!(simple(&p).1, "^");
        assert!(p.warnings[0].1.contains("readable"));
        let p = plan(&virt(7, Some("x"), Some("+OK (ready)\\r\\n")), &[7]);
        assert_eq!(simple(&p).1, "^\\+OK \\(ready\\)\\r$");
        let p = plan(&virt(7, Some("x"), Some("a\\nb")), &[7]);
        assert_eq!(simple(&p).1, "^a$");
        assert!(p.warnings[0].1.contains("spans lines"));
    }

    #[test]
    fn unknown_escapes_are_kept_and_warned() {
        let p = plan(&virt(7, Some("a\\d"), Some("b\\.c")), &[7]);
        assert_eq!(simple(&p), ("a\\d", "^b\\\\\\.c"));
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
        assert!(p.warnings[0].1.contains("looped forever"));
    }

    #[test]
    fn non_http_carriage_returns_warn() {
        let p = plan(&virt(7, Some("PING\\r\\n"), Some("PONG")), &[7]);
        assert_eq!(simple(&p).0, "PING\\n");
        assert!(p.warnings[0].1.contains("carriage return"));
        let p = plan(&virt(7, Some("/x"), Some("y")), &[7]);
        assert_eq!(simple(&p).0, "//x");
        let p = plan(&virt(7, Some(""), Some("y")), &[7]);
        assert_eq!(simple(&p).0, "/");
    }

    #[test]
    fn use_regex() {
        let mut v = virt(7, Some("x"), Some("200 (OK|Found)"));
        v.use_regex = Some(At {
            value: true,
            line: 6,
            col: 1,
        });
        let p = plan(&v, &[7]);
        assert_eq!(simple(&p).1, "200 (OK|Found)");
        v.expect = q("a(");
        assert_eq!(plan(&v, &[7]).errors.len(), 1);
    }

    #[test]
    fn send_program_wrapper() {
        let mut v = virt(3306, Some("\\n"), Some("OK"));
        v.send_program = q("/usr/local/bin/check_tcp_port.sh %h 3306 --p=%p");
        let p = plan(&v, &[3306]);
        let Kind::External { script } = &p.kind else {
            panic!("{:?}", p.kind)
        };
        assert!(script.contains(
            "out=$(/usr/local/bin/check_tcp_port.sh \"$3\" 3306 --p=%p </dev/null 2>/dev/null;"
        ));
        assert!(script.ends_with("[ \"$out\" = OK ]\n"));
        assert!(p.warnings[0].1.contains("whole words"));
        v.expect = None;
        assert_eq!(plan(&v, &[3306]).kind, Kind::Off);
    }

    #[test]
    fn quoting_for_sh() {
        assert_eq!(sh_quote("/bin/x"), "/bin/x");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), "'it'\\''s'");
        assert_eq!(sh_quote(""), "''");
    }
}
