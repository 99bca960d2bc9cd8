//! [`Config`] → canonical ldirectord.cf text (`ldirectord -t`).
//!
//! The output is resolved (host and port names are numbers, ranges are
//! expanded, each virtual shows its effective timeouts and scheduler) and
//! minimal elsewhere (a value is written only where it differs from what
//! the file would inherit), so that parsing the output gives back the same
//! [`Config`]. Pure: no I/O.

use std::fmt::Write;

use super::model::*;

/// Render `config` as ldirectord.cf.
pub fn render(config: &Config) -> String {
    let mut out = String::new();
    let g = &config.global;
    let d = Global::default();
    let _ = writeln!(out, "# Resolved configuration of {}", config.path.display());
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    if let Some(t) = g.checktimeout {
        line(format!("checktimeout={t}"));
    }
    if let Some(t) = g.negotiatetimeout {
        line(format!("negotiatetimeout={t}"));
    }
    if g.checkinterval != d.checkinterval {
        line(format!("checkinterval={}", g.checkinterval));
    }
    if g.checkcount != d.checkcount {
        line(format!("checkcount={}", g.checkcount));
    }
    if g.failurecount != d.failurecount {
        line(format!("failurecount={}", g.failurecount));
    }
    if g.risecount != d.risecount {
        line(format!("risecount={}", g.risecount));
    }
    if let Some(f) = &g.fallback {
        line(format!("fallback={}", fallback(f)));
    }
    if let Some(f) = &g.fallback6 {
        line(format!("fallback6={}", fallback(f)));
    }
    if let Some(c) = &g.fallbackcommand {
        line(format!("fallbackcommand={c}"));
    }
    if g.autoreload {
        line("autoreload=yes".into());
    }
    if let Some(c) = &g.callback {
        line(format!("callback=\"{c}\""));
    }
    if g.logfile != d.logfile {
        match &g.logfile {
            LogTarget::File(p) => line(format!("logfile=\"{}\"", p.display())),
            LogTarget::Syslog(f) => line(format!("logfile=\"{f}\"")),
        }
    }
    for e in &g.execute {
        line(format!("execute={}", q(e)));
    }
    if g.fork {
        line("fork=yes".into());
    }
    if g.supervised {
        line("supervised=yes".into());
    }
    line(format!("quiescent={}", yn(g.quiescent)));
    if g.readdquiescent {
        line("readdquiescent=yes".into());
    }
    if let Some(e) = &g.emailalert {
        line(format!("emailalert={}", q(e)));
    }
    if g.emailalertfreq != 0 {
        line(format!("emailalertfreq={}", g.emailalertfreq));
    }
    if g.emailalertstatus != d.emailalertstatus {
        line(format!(
            "emailalertstatus={}",
            alert_status(g.emailalertstatus)
        ));
    }
    if let Some(f) = &g.emailalertfrom {
        line(format!("emailalertfrom={f}"));
    }
    if let Some(s) = &g.smtp {
        line(format!("smtp={s}"));
    }
    if !g.cleanstop {
        line("cleanstop=no".into());
    }
    if let Some(m) = &g.maintenancedir {
        line(format!("maintenancedir={}", q(&m.display().to_string())));
    }
    // ldirectord-rs extensions.
    if !g.loadmonitor.is_none() {
        line(format!("loadmonitor={}", g.loadmonitor));
    }
    if let Some(n) = g.loadinterval {
        line(format!("loadinterval={n}"));
    }
    if let Some(n) = g.loadtimeout {
        line(format!("loadtimeout={n}"));
    }
    if g.slowstart != 0 {
        line(format!("slowstart={}", g.slowstart));
    }
    if let Some(s) = &g.syncdaemon {
        line(format!("syncdaemon={s}"));
    }
    if let Some(a) = &g.statusaddress {
        line(format!("statusaddress={a}"));
    }
    for v in &config.virtuals {
        out.push('\n');
        virtual_block(&mut out, v, g);
    }
    out
}

/// A value whose reader removes surrounding quotes (first to last quote
/// on the line), written so that it reads back the same: as it is when the
/// grammar sees no comment in it, else in quotes when that helps. `global`:
/// on a global line (where only a `#` after a blank starts a comment).
fn q(v: &str) -> String {
    q_in(v, true)
}

fn q_in(v: &str, global: bool) -> String {
    spell(v, global, |text| {
        text.strip_prefix('"')
            .and_then(|r| r.rfind('"').map(|e| &r[..e]))
            .unwrap_or(text)
    })
}

/// The first spelling of `v` that `read` (how the resolver takes quotes
/// off this directive's value) gives back as `v`, with no comment sign
/// the grammar would cut: as it is, in quotes, or with a closing quote
/// only (that protects a `#` after a quote inside the value).
fn spell(v: &str, global: bool, read: impl Fn(&str) -> &str) -> String {
    let reads_back =
        |text: &str| comment_free(text, global) && text.trim() == text && read(text) == v;
    let candidates = [v.to_string(), format!("\"{v}\""), format!("{v}\"")];
    candidates
        .into_iter()
        .find(|c| reads_back(c))
        // No spelling survives (a value with quotes, blanks and a comment
        // sign in that order): the best effort is the value as it is.
        .unwrap_or_else(|| v.to_string())
}

/// Whether the grammar reads all of `s` as a value: no comment sign
/// outside a double-quoted string (`"` to the next `"`).
fn comment_free(s: &str, global: bool) -> bool {
    let mut prev_blank = false;
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if c == '"' {
            if let Some(end) = rest[1..].find('"') {
                rest = &rest[end + 2..];
                prev_blank = false;
                continue;
            }
        }
        if c == '#' && (!global || prev_blank) {
            return false;
        }
        prev_blank = matches!(c, ' ' | '\t' | '\r');
        rest = &rest[c.len_utf8()..];
    }
    true
}

fn yn(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn fallback(f: &Fallback) -> String {
    match f.port {
        Some(p) => format!("{}:{p} {}", bracketed(&f.addr), f.forward.as_str()),
        None => format!("{} {}", bracketed(&f.addr), f.forward.as_str()),
    }
}

fn alert_status(s: AlertStatus) -> String {
    if s == AlertStatus::NONE {
        return "none".into();
    }
    if s == AlertStatus::ALL {
        return "all".into();
    }
    [
        (AlertStatus::STARTING, "starting"),
        (AlertStatus::RUNNING, "running"),
        (AlertStatus::STOPPING, "stopping"),
        (AlertStatus::RELOADING, "reloading"),
    ]
    .iter()
    .filter(|(bit, _)| s.contains(*bit))
    .map(|(_, n)| *n)
    .collect::<Vec<_>>()
    .join(",")
}

fn virtual_block(out: &mut String, v: &Virtual, g: &Global) {
    let six = if v.family() == Family::V6 { "6" } else { "" };
    let _ = writeln!(out, "virtual{six}={}", v.key.service());
    let mut line = |s: String| {
        out.push_str("    ");
        out.push_str(&s);
        out.push('\n');
    };
    for r in &v.reals {
        let mut s = format!("real{six}={}", bracketed(&r.addr));
        if r.port != 0 {
            let _ = write!(s, ":{}", r.port);
        }
        let _ = write!(s, " {} {}", r.forward.as_str(), r.weight);
        if let (Some(req), Some(recv)) = (&r.request, &r.receive) {
            let _ = write!(s, " \"{req}\", \"{recv}\"");
        }
        if r.lower != 0 {
            let _ = write!(s, " l:{}", r.lower);
        }
        if r.upper != 0 {
            let _ = write!(s, " u:{}", r.upper);
        }
        line(s);
    }
    match v.key {
        VirtualKey::Addr { protocol, .. } => line(format!("protocol={}", protocol.as_str())),
        VirtualKey::Fwmark { .. } => line("protocol=fwm".into()),
    }
    let default_service = match v.key {
        VirtualKey::Fwmark { .. } => Service::None,
        VirtualKey::Addr { port, .. } => Service::from_port(port),
    };
    // An ftp/sip service derived from the port has an empty login, which
    // `service=ftp|sip` would fill in on re-reading: leave those implicit.
    if v.service != default_service || !matches!(v.service, Service::Ftp | Service::Sip) {
        line(format!("service={}", v.service));
    }
    match v.checktype {
        CheckType::Combined(n) => line(format!("checktype={n}")),
        t => line(format!("checktype={}", t.as_str())),
    }
    if v.checkcommand != "/bin/true" {
        line(format!("checkcommand=\"{}\"", v.checkcommand));
    }
    if let Some(p) = v.checkport {
        line(format!("checkport={p}"));
    }
    line(format!("checktimeout={}", v.checktimeout));
    line(format!("negotiatetimeout={}", v.negotiatetimeout));
    if v.checkinterval != g.checkinterval {
        line(format!("checkinterval={}", v.checkinterval));
    }
    if v.checkcount != g.checkcount {
        line(format!("checkcount={}", v.checkcount));
    }
    if v.failurecount != g.failurecount {
        line(format!("failurecount={}", v.failurecount));
    }
    if v.risecount != g.risecount {
        line(format!("risecount={}", v.risecount));
    }
    if v.request != "/" {
        line(format!("request=\"{}\"", v.request));
    }
    if !v.receive.is_empty() {
        line(format!("receive=\"{}\"", v.receive));
    }
    if v.httpmethod != HttpMethod::Get {
        line(format!("httpmethod={}", v.httpmethod.as_str()));
    }
    if let Some(h) = &v.virtualhost {
        // The resolver takes every quote off both ends of a virtualhost.
        line(format!(
            "virtualhost={}",
            spell(h, false, |t| t.trim_matches('"'))
        ));
    }
    for (name, value) in [
        ("login", &v.login),
        ("passwd", &v.passwd),
        ("database", &v.database),
        ("secret", &v.secret),
    ] {
        if !value.is_empty() {
            line(format!("{name}=\"{value}\""));
        }
    }
    if let Some(l) = &v.load {
        line(format!("load=\"{l}\""));
    }
    line(format!("scheduler={}", v.scheduler));
    if let Some(p) = v.persistent {
        line(format!("persistent={p}"));
    }
    if let Some(m) = v.netmask {
        line(format!("netmask={m}"));
    }
    if let Some(f) = &v.schedflags {
        line(format!("schedflags={f}"));
    }
    if v.ops {
        line("ops=yes".into());
    }
    if v.quiescent != g.quiescent {
        line(format!("quiescent={}", yn(v.quiescent)));
    }
    if v.cleanstop != g.cleanstop {
        line(format!("cleanstop={}", yn(v.cleanstop)));
    }
    let inherited = match v.family() {
        Family::V4 => &g.fallback,
        Family::V6 => &g.fallback6,
    };
    if v.fallback != *inherited {
        if let Some(f) = &v.fallback {
            line(format!("fallback{six}={}", fallback(f)));
        }
    }
    if v.fallbackcommand != g.fallbackcommand {
        if let Some(c) = &v.fallbackcommand {
            line(format!("fallbackcommand=\"{c}\""));
        }
    }
    if v.emailalert != g.emailalert {
        if let Some(e) = &v.emailalert {
            line(format!("emailalert={}", q_in(e, false)));
        }
    }
    if v.emailalertfreq != g.emailalertfreq {
        line(format!("emailalertfreq={}", v.emailalertfreq));
    }
    if v.emailalertstatus != g.emailalertstatus {
        line(format!(
            "emailalertstatus={}",
            alert_status(v.emailalertstatus)
        ));
    }
    if v.smtp != g.smtp {
        if let Some(s) = &v.smtp {
            line(format!("smtp={s}"));
        }
    }
    if let Some(m) = &v.monitorfile {
        line(format!("monitorfile=\"{}\"", m.display()));
    }
    if let Some(s) = &v.servicename {
        line(format!("servicename={s}"));
    }
    if let Some(c) = &v.comment {
        line(format!("comment={c}"));
    }
    // ldirectord-rs extensions: written where they differ from what the
    // block would inherit (the load interval and timeout default to the
    // virtual's own check interval and timeout).
    if v.loadmonitor != g.loadmonitor {
        line(format!("loadmonitor={}", v.loadmonitor));
    }
    if v.loadinterval != g.loadinterval.unwrap_or(v.checkinterval) {
        line(format!("loadinterval={}", v.loadinterval));
    }
    if v.loadtimeout != g.loadtimeout.unwrap_or(v.checktimeout) {
        line(format!("loadtimeout={}", v.loadtimeout));
    }
    if v.slowstart != g.slowstart {
        line(format!("slowstart={}", v.slowstart));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load_str, names::Lookup, Options};

    /// Found by the fuzzer: a virtualhost with a quote inside and a `#`
    /// after it was written so that the `#` started a comment.
    #[test]
    fn a_virtualhost_with_a_quote_and_a_comment_sign_reads_back() {
        let opts = Options {
            lookup: Lookup::HostsFile,
            hostname: "h".into(),
        };
        let path = std::path::Path::new("t.cf");
        let text = "virtual=127.0.0.1:80\n\tvirtualhost=x\"www.example.#om\"\n\
                    \treal=127.0.0.2:80 gate\n";
        let first = load_str(text, path, &opts).unwrap().config;
        assert_eq!(
            first.virtuals[0].virtualhost.as_deref(),
            Some("x\"www.example.#om")
        );
        let again = load_str(&render(&first), path, &opts).unwrap().config;
        assert_eq!(again.virtuals[0].virtualhost, first.virtuals[0].virtualhost);
    }
}
