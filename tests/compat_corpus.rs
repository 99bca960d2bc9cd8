//! The compatibility corpus as one data-driven test: every file must get
//! upstream ldirectord's verdict (accept/reject, with the same first error
//! line), and accepted files the same virtuals, reals and resolved
//! attributes as upstream's parser printed (`expected/<file>.txt`), except
//! for the documented divergences below, each of which is asserted too.
//!
//! The synthetic cases and the verdicts live in `tests/data/compat`; the
//! real-world files are read from `../shared/compat-corpus` when present
//! (they are copies of third-party files and are not committed here).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ldirectord::config::{
    self, names::Lookup, CheckType, Config, Family, LogTarget, Options, Protocol, Virtual,
    VirtualKey,
};

/// What we do instead of upstream, and why. Mirrored in ldirectord(8),
/// COMPATIBILITY (the ids are the same).
struct Divergence {
    file: &'static str,
    id: &'static str,
    ours: Ours,
}

enum Ours {
    /// We accept it but read it differently; the closure checks our reading.
    AcceptAs(fn(&Config)),
    /// We reject it (upstream accepts it), with a message containing this.
    Reject { line: usize, contains: &'static str },
    /// Both reject; ours reports the first error at another line.
    RejectAt { line: usize, contains: &'static str },
}

const DIVERGENCES: &[Divergence] = &[
    Divergence {
        file: "synthetic-edge-cases/a_g_crlf.cf",
        id: "C1 (CRLF and trailing blanks)",
        ours: Ours::AcceptAs(|c| assert!(c.global.quiescent)),
    },
    Divergence {
        file: "synthetic-edge-cases/a_g_trailing_space.cf",
        id: "C1 (CRLF and trailing blanks)",
        ours: Ours::AcceptAs(|c| assert!(c.global.quiescent)),
    },
    Divergence {
        file: "synthetic-edge-cases/a_v_trailing_space.cf",
        id: "C1 (CRLF and trailing blanks)",
        ours: Ours::AcceptAs(|c| assert!(c.virtuals[0].quiescent)),
    },
    Divergence {
        file: "synthetic-edge-cases/a_g_trailing_comment.cf",
        id: "C2 (comments on global lines)",
        ours: Ours::AcceptAs(|c| assert!(c.global.quiescent)),
    },
    Divergence {
        file: "synthetic-edge-cases/a_v_hash_in_string.cf",
        id: "C3 (# inside double quotes)",
        ours: Ours::AcceptAs(|c| {
            assert_eq!(c.virtuals[0].request, "/index.html#frag");
            assert_eq!(c.virtuals[0].receive, "a#b");
        }),
    },
    Divergence {
        file: "synthetic-edge-cases/a_v_blank_line.cf",
        id: "C4 (blank lines inside a block)",
        ours: Ours::AcceptAs(|c| assert_eq!(c.virtuals[0].reals.len(), 2)),
    },
    Divergence {
        file: "synthetic-edge-cases/a_v_4spaces_line.cf",
        id: "C4 (blank lines inside a block)",
        ours: Ours::AcceptAs(|c| assert_eq!(c.virtuals[0].reals.len(), 2)),
    },
    Divergence {
        file: "synthetic-edge-cases/a_v_spaces_line.cf",
        id: "C4 (blank lines inside a block)",
        ours: Ours::AcceptAs(|c| assert_eq!(c.virtuals[0].reals.len(), 2)),
    },
    Divergence {
        file: "synthetic-edge-cases/a_v_no_reals.cf",
        id: "C5 (virtual= on the last line)",
        ours: Ours::AcceptAs(|c| assert!(c.virtuals[0].reals.is_empty())),
    },
    Divergence {
        file: "synthetic-edge-cases/a_r_doublecolon.cf",
        id: "C7 (ip::port on real=)",
        ours: Ours::AcceptAs(|c| {
            let r = &c.virtuals[0].reals[0];
            assert_eq!((r.addr.to_string().as_str(), r.port), ("192.168.6.2", 5060));
        }),
    },
    Divergence {
        file: "derived/upstream-sample-block-L318-sip-negotiate-192_168_6_240_5060.cf",
        id: "C7 (ip::port on real=)",
        ours: Ours::AcceptAs(|c| {
            let r = &c.virtuals[0].reals[0];
            assert_eq!((r.addr.to_string().as_str(), r.port), ("192.168.6.2", 5060));
        }),
    },
    Divergence {
        file: "synthetic-edge-cases/a_r_u_before_l.cf",
        id: "C9 (items of real= in any order)",
        ours: Ours::AcceptAs(|c| {
            let r = &c.virtuals[0].reals[0];
            assert_eq!((r.weight, r.lower, r.upper), (3, 10, 20));
        }),
    },
    Divergence {
        file: "synthetic-edge-cases/a_r_weight_in_recv.cf",
        id: "C9 (items of real= in any order)",
        ours: Ours::AcceptAs(|c| {
            let r = &c.virtuals[0].reals[0];
            assert_eq!(r.weight, 1);
            assert_eq!(r.receive.as_deref(), Some("ok 5"));
        }),
    },
    Divergence {
        file: "synthetic-edge-cases/a_v_sched_Wlc.cf",
        id: "C10 (scheduler names)",
        ours: Ours::Reject {
            line: 3,
            contains: "did you mean \"wlc\"",
        },
    },
    Divergence {
        file: "synthetic-edge-cases/a_v_duplicate.cf",
        id: "C11 (position of a duplicate virtual)",
        ours: Ours::RejectAt {
            line: 4,
            contains: "duplicate virtual server tcp:127.0.0.1:80 (first defined at line 2)",
        },
    },
    Divergence {
        file: "synthetic-edge-cases/a_v_checkinterval_nofork.cf",
        id: "C12 (per-virtual checkinterval)",
        ours: Ours::AcceptAs(|c| assert_eq!(c.virtuals[0].checkinterval, 3)),
    },
];

/// Upstream's verdict for one file (`expected/<file>.txt`).
#[derive(Debug, Default)]
struct Expected {
    exit: i32,
    stderr: Vec<String>,
    globals: BTreeMap<String, String>,
    global_fallbacks: Vec<String>,
    virtuals: Vec<ExpectedVirtual>,
}

#[derive(Debug, Default)]
struct ExpectedVirtual {
    id: String,
    ipvsadm: String,
    attrs: BTreeMap<String, String>,
    fallback: Option<String>,
    reals: Vec<String>,
}

fn parse_expected(text: &str) -> Expected {
    let mut e = Expected::default();
    let mut in_stderr = false;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("exit_status: ") {
            e.exit = v.trim().parse().unwrap();
        } else if line.starts_with("--- stderr") {
            in_stderr = true;
        } else if line.starts_with("--- parsed") {
            in_stderr = false;
        } else if in_stderr {
            if !line.trim().is_empty() {
                e.stderr.push(line.to_string());
            }
        } else if let Some(g) = line.strip_prefix("GLOBAL: ") {
            for kv in g.split(' ') {
                if let Some((k, v)) = kv.split_once('=') {
                    if k.chars().all(|c| c.is_ascii_uppercase()) {
                        e.globals.insert(k.into(), v.into());
                    } else if let Some(last) = e.globals.keys().last().cloned() {
                        // A value with spaces (EMAILALERT=a@b.c, d@e.f).
                        e.globals
                            .get_mut(&last)
                            .unwrap()
                            .push_str(&format!(" {kv}"));
                    }
                } else if let Some(last) = e.globals.keys().last().cloned() {
                    e.globals
                        .get_mut(&last)
                        .unwrap()
                        .push_str(&format!(" {kv}"));
                }
            }
        } else if line.starts_with("GLOBAL FALLBACK") {
            e.global_fallbacks.push(line.to_string());
        } else if let Some(id) = line.strip_prefix("V ") {
            e.virtuals.push(ExpectedVirtual {
                id: id.into(),
                ..Default::default()
            });
        } else if let Some(s) = line.strip_prefix("  ipvsadm-service: ") {
            e.virtuals.last_mut().unwrap().ipvsadm = s.into();
        } else if let Some(s) = line.strip_prefix("  attrs: ") {
            let v = e.virtuals.last_mut().unwrap();
            for kv in s.split(" | ") {
                let (k, val) = kv.split_once('=').unwrap();
                v.attrs.insert(k.into(), val.into());
            }
        } else if let Some(s) = line.strip_prefix("  fallback: ") {
            e.virtuals.last_mut().unwrap().fallback = Some(s.into());
        } else if let Some(s) = line.strip_prefix("  R ") {
            e.virtuals.last_mut().unwrap().reals.push(s.into());
        }
    }
    e
}

fn yn(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

/// Our reading of the global section, in upstream's variable names.
fn our_globals(c: &Config) -> BTreeMap<String, String> {
    let g = &c.global;
    let mut m = BTreeMap::new();
    let opt = |v: Option<u32>| v.map_or("-1".to_string(), |n| n.to_string());
    m.insert("AUTOCHECK".into(), yn(g.autoreload));
    m.insert("CHECKCOUNT".into(), g.checkcount.to_string());
    m.insert("CHECKINTERVAL".into(), g.checkinterval.to_string());
    m.insert("CHECKTIMEOUT".into(), opt(g.checktimeout));
    m.insert("CLEANSTOP".into(), yn(g.cleanstop));
    m.insert(
        "EMAILALERT".into(),
        g.emailalert.clone().unwrap_or_default(),
    );
    m.insert("EMAILALERTFREQ".into(), g.emailalertfreq.to_string());
    m.insert("EMAILALERTSTATUS".into(), g.emailalertstatus.0.to_string());
    m.insert("FAILURECOUNT".into(), g.failurecount.to_string());
    m.insert("FORKING".into(), yn(g.fork));
    m.insert(
        "LDIRLOG".into(),
        match &g.logfile {
            LogTarget::File(p) => p.display().to_string(),
            LogTarget::Syslog(f) => f.clone(),
        },
    );
    if let Some(d) = &g.maintenancedir {
        m.insert("MAINTDIR".into(), d.display().to_string());
    }
    m.insert("NEGOTIATETIMEOUT".into(), opt(g.negotiatetimeout));
    m.insert("QUIESCENT".into(), yn(g.quiescent));
    m.insert("READDQUIESCENT".into(), yn(g.readdquiescent));
    m.insert("SUPERVISED".into(), yn(g.supervised));
    m
}

fn our_global_fallbacks(c: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for f in [&c.global.fallback, &c.global.fallback6]
        .into_iter()
        .flatten()
    {
        let port = f
            .port
            .map_or("(virtual port)".to_string(), |p| p.to_string());
        let server = config::bracketed(&f.addr);
        for proto in ["tcp", "udp"] {
            out.push(format!(
                "GLOBAL FALLBACK({proto}): server={server} port={port} forward={}",
                f.forward.as_str()
            ));
        }
    }
    out
}

/// upstream `ld_setup`'s `$$v{flags}`.
fn ipvsadm_service(v: &Virtual) -> String {
    let mut s = match v.key {
        VirtualKey::Addr { protocol, .. } => {
            let p = if protocol == Protocol::Tcp {
                "-t"
            } else {
                "-u"
            };
            format!("{p} {} ", v.key.service())
        }
        VirtualKey::Fwmark { family, mark } => {
            let six = if family == Family::V6 { " -6" } else { "" };
            format!("-f {mark}{six} ")
        }
    };
    if v.ops {
        s.push_str("-o ");
    }
    s.push_str(&format!("-s {} ", v.scheduler));
    if let Some(p) = v.persistent {
        s.push_str(&format!("-p {p} "));
        if let Some(m) = v.netmask {
            s.push_str(&format!("-M {m} "));
        }
    }
    if let Some(f) = &v.schedflags {
        s.push_str(&format!("-b {f} "));
    }
    s
}

/// Our value of upstream's per-virtual attribute `key`, or None when we do
/// not model it the same way.
fn our_attr(v: &Virtual, key: &str) -> Option<String> {
    Some(match key {
        "addressfamily" => match v.family() {
            Family::V4 => "2".into(),
            Family::V6 => "10".into(),
        },
        "checkcommand" => v.checkcommand.clone(),
        "checkcount" => v.checkcount.to_string(),
        "checkinterval" => v.checkinterval.to_string(),
        "checkport" => v.checkport?.to_string(),
        "checktimeout" => v.checktimeout.to_string(),
        "checktype" => v.checktype.as_str().into(),
        "cleanstop" => yn(v.cleanstop),
        "comment" => v.comment.clone()?,
        "database" => v.database.clone(),
        "emailalert" => v.emailalert.clone()?,
        "emailalertfreq" => v.emailalertfreq.to_string(),
        "emailalertstatus" => v.emailalertstatus.0.to_string(),
        "failurecount" => v.failurecount.to_string(),
        "fallbackcommand" => v.fallbackcommand.clone()?,
        "fwm" => match v.key {
            VirtualKey::Fwmark { mark, .. } => mark.to_string(),
            _ => return None,
        },
        "httpmethod" => v.httpmethod.as_str().into(),
        "load" => v.load.clone()?,
        "login" => v.login.clone(),
        "monitorfile" => v.monitorfile.as_ref()?.display().to_string(),
        "negotiatetimeout" => v.negotiatetimeout.to_string(),
        "netmask" => v.netmask?.to_string(),
        "num_connects" => match v.checktype {
            CheckType::Combined(n) => n.to_string(),
            _ => "0".into(),
        },
        "ops" => yn(v.ops),
        "passwd" => v.passwd.clone(),
        "persistent" => v.persistent?.to_string(),
        "port" => v.key.port().to_string(),
        "protocol" => match v.key {
            VirtualKey::Addr { protocol, .. } => protocol.as_str().into(),
            VirtualKey::Fwmark { .. } => "fwm".into(),
        },
        "quiescent" => yn(v.quiescent),
        "receive" => v.receive.clone(),
        "request" => v.request.clone(),
        "schedflags" => v.schedflags.clone()?,
        "scheduler" => v.scheduler.clone(),
        "secret" => v.secret.clone(),
        "server" => match v.key {
            VirtualKey::Addr { addr, .. } => config::bracketed(&addr),
            _ => return None,
        },
        "service" => v.service.as_str().into(),
        "servicename" => v.servicename.clone()?,
        "smtp" => v.smtp.clone()?,
        "virtualhost" => v.virtualhost.clone()?,
        _ => return None,
    })
}

fn our_real_line(v: &Virtual, r: &config::Real) -> String {
    let mut s = format!(
        "{} {}({}) weight={}",
        r.id(),
        r.forward.as_str(),
        r.forward.flag(),
        r.weight
    );
    if r.lower != 0 {
        s.push_str(&format!(" l={}", r.lower));
    }
    if r.upper != 0 {
        s.push_str(&format!(" u={}", r.upper));
    }
    s.push_str(&format!(
        " request=[{}] receive=[{}] url=[{}]",
        v.request_for(r),
        v.receive_for(r),
        v.check_url(r)
    ));
    s
}

/// Compare an accepted file with upstream's reading; returns mismatches.
fn compare(c: &Config, e: &Expected) -> Vec<String> {
    let mut bad = Vec::new();
    let ours = our_globals(c);
    for (k, want) in &e.globals {
        if ours.get(k) != Some(want) {
            bad.push(format!(
                "GLOBAL {k}: upstream {want:?}, ours {:?}",
                ours.get(k)
            ));
        }
    }
    if our_global_fallbacks(c) != e.global_fallbacks {
        bad.push(format!(
            "global fallback: upstream {:?}, ours {:?}",
            e.global_fallbacks,
            our_global_fallbacks(c)
        ));
    }
    if c.virtuals.len() != e.virtuals.len() {
        bad.push(format!(
            "{} virtuals upstream, {} ours",
            e.virtuals.len(),
            c.virtuals.len()
        ));
        return bad;
    }
    for (v, ev) in c.virtuals.iter().zip(&e.virtuals) {
        let id = v.key.id();
        if id != ev.id {
            bad.push(format!("virtual id: upstream {}, ours {id}", ev.id));
        }
        if ipvsadm_service(v) != ev.ipvsadm {
            bad.push(format!(
                "{id}: ipvsadm: upstream {:?}, ours {:?}",
                ev.ipvsadm,
                ipvsadm_service(v)
            ));
        }
        for (k, want) in &ev.attrs {
            // ops=yes on tcp: upstream stores it and never uses it (C13).
            if k == "ops"
                && want == "yes"
                && !matches!(
                    v.key,
                    VirtualKey::Addr {
                        protocol: Protocol::Udp,
                        ..
                    }
                )
            {
                continue;
            }
            let got = our_attr(v, k);
            if got.as_ref() != Some(want) {
                bad.push(format!("{id}: {k}: upstream {want:?}, ours {got:?}"));
            }
        }
        let inherited = match v.family() {
            Family::V4 => &c.global.fallback,
            Family::V6 => &c.global.fallback6,
        };
        let own_fallback = v
            .fallback
            .as_ref()
            .filter(|f| Some(*f) != inherited.as_ref())
            .map(|f| {
                let port = f.port.unwrap_or(v.key.port());
                format!(
                    "{}:{port} {}",
                    config::bracketed(&f.addr),
                    f.forward.as_str()
                )
            });
        if own_fallback != ev.fallback {
            bad.push(format!(
                "{id}: fallback: upstream {:?}, ours {own_fallback:?}",
                ev.fallback
            ));
        }
        let reals: Vec<String> = v.reals.iter().map(|r| our_real_line(v, r)).collect();
        if reals != ev.reals {
            bad.push(format!(
                "{id}: reals:\n  upstream {:#?}\n  ours {reals:#?}",
                ev.reals
            ));
        }
    }
    bad
}

/// `Error [PID] reading file … at line N: message` → (N, message).
fn upstream_first_error(e: &Expected) -> Option<(usize, String)> {
    let line = e.stderr.iter().find(|l| l.starts_with("Error"))?;
    let rest = line.split_once(" at line ")?.1;
    let (n, msg) = rest.split_once(": ")?;
    Some((n.parse().ok()?, msg.to_string()))
}

fn upstream_warnings(e: &Expected) -> Vec<(usize, String)> {
    e.stderr
        .iter()
        .filter(|l| l.starts_with("Warning"))
        .filter_map(|l| {
            let rest = l.split_once(" at line ")?.1;
            let (n, msg) = rest.split_once(": ")?;
            Some((n.parse().ok()?, msg.to_string()))
        })
        .collect()
}

fn corpus_dirs() -> (PathBuf, Option<PathBuf>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ours = root.join("tests/data/compat");
    let shared = std::env::var_os("LDIRECTORD_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/compat-corpus"));
    (ours, shared.is_dir().then_some(shared))
}

#[test]
fn compat_corpus() {
    let (ours, shared) = corpus_dirs();
    let summary = std::fs::read_to_string(ours.join("expected/SUMMARY.tsv")).unwrap();
    let opts = Options {
        lookup: Lookup::HostsFile,
        hostname: "testhost".into(),
    };
    let (mut agree, mut diverge, mut skipped) = (0, 0, 0);
    let mut failures = Vec::new();
    for row in summary.lines().skip(1) {
        let file = row.split('\t').next().unwrap();
        let path = if file.starts_with("synthetic-edge-cases/") {
            ours.join(file)
        } else if let Some(shared) = &shared {
            shared.join(file)
        } else {
            skipped += 1;
            continue;
        };
        let expected_name = format!("{}.txt", file.replace('/', "__"));
        let expected = parse_expected(
            &std::fs::read_to_string(ours.join("expected").join(&expected_name)).unwrap(),
        );
        let loaded = config::load_file(&path, &opts);
        let divergence = DIVERGENCES.iter().find(|d| d.file == file);
        let mut problems = Vec::new();
        match (divergence, &loaded) {
            (Some(d), _) => match (&d.ours, &loaded) {
                (Ours::AcceptAs(check), Ok(l)) => {
                    if let Err(p) = std::panic::catch_unwind(|| check(&l.config)) {
                        problems.push(format!("{}: our reading differs: {p:?}", d.id));
                    }
                }
                (Ours::Reject { line, contains }, Err(e))
                | (Ours::RejectAt { line, contains }, Err(e)) => {
                    let first = e.first_error().unwrap();
                    if first.line != *line || !first.message.contains(contains) {
                        problems.push(format!("{}: expected our error at line {line} containing {contains:?}, got {first:?}", d.id));
                    }
                }
                (_, Ok(_)) => {
                    problems.push(format!("{}: we accepted, divergence says reject", d.id))
                }
                (_, Err(e)) => problems.push(format!("{}: we rejected: {e}", d.id)),
            },
            (None, Ok(l)) => {
                if expected.exit != 0 {
                    problems.push(format!(
                        "upstream rejects ({:?}), we accept",
                        upstream_first_error(&expected)
                    ));
                } else {
                    problems.extend(compare(&l.config, &expected));
                    let ours: Vec<(usize, String)> = l
                        .warnings
                        .iter()
                        .map(|w| (w.line, w.message.clone()))
                        .collect();
                    for w in upstream_warnings(&expected) {
                        if !ours.contains(&w) {
                            problems.push(format!("missing warning {w:?}; ours {ours:?}"));
                        }
                    }
                }
            }
            (None, Err(e)) => {
                if expected.exit == 0 {
                    problems.push(format!("upstream accepts, we reject:\n{e}"));
                } else {
                    let (line, msg) = upstream_first_error(&expected).unwrap();
                    let first = e.first_error().unwrap();
                    if first.line != line {
                        problems.push(format!(
                            "first error at line {} ({}), upstream at line {line} ({msg})",
                            first.line, first.message
                        ));
                    }
                    // Upstream's wording is kept, except where it says
                    // only "Unknown command" (ours says what is wrong) or
                    // is wrong itself (port 65536 is not a port).
                    let same_text = first.message.starts_with(msg.trim_end())
                        || msg.starts_with("Unknown command")
                        || msg == "checkport must be in range 1..65536"
                            && first.message == "checkport must be in range 1..65535";
                    if !same_text {
                        problems.push(format!(
                            "message: upstream {msg:?}, ours {:?}",
                            first.message
                        ));
                    }
                }
            }
        }
        if problems.is_empty() {
            if divergence.is_some() {
                diverge += 1;
            } else {
                agree += 1;
            }
        } else {
            failures.push(format!("{file}:\n  {}", problems.join("\n  ")));
        }
    }
    let total = agree + diverge + failures.len();
    println!(
        "compat corpus: {}/{total} agree, {diverge} documented divergences{}",
        agree + diverge,
        if skipped > 0 {
            format!(" ({skipped} third-party files skipped: ../shared/compat-corpus not found)")
        } else {
            String::new()
        }
    );
    assert!(
        failures.is_empty(),
        "{} files disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
    if std::env::var_os("CI").is_some() {
        assert!(shared.is_some(), "CI must have ../shared/compat-corpus");
    }
}

#[test]
fn every_documented_divergence_is_in_the_man_page() {
    let man =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("man/ldirectord.8"))
            .unwrap();
    for d in DIVERGENCES {
        let id = d.id.split(' ').next().unwrap();
        assert!(
            man.contains(&format!("\n.B {id} ")),
            "{id} missing from man/ldirectord.8 COMPATIBILITY"
        );
    }
}

/// `ldirectord -t` law: the canonical text of every accepted corpus file
/// reads back as the same configuration.
#[test]
fn canonical_text_reads_back_as_the_same_config() {
    let (ours, shared) = corpus_dirs();
    let opts = Options {
        lookup: Lookup::HostsFile,
        hostname: "testhost".into(),
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(ours.join("synthetic-edge-cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    if let Some(shared) = &shared {
        for dir in [shared.clone(), shared.join("derived")] {
            files.extend(
                std::fs::read_dir(dir)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .filter(|p| p.extension().is_some_and(|e| e == "cf")),
            );
        }
    }
    let mut checked = 0;
    for path in files {
        let Ok(first) = config::load_file(&path, &opts) else {
            continue;
        };
        let text = config::canonical::render(&first.config);
        let again = config::load_str(&text, &path, &opts).unwrap_or_else(|e| {
            panic!(
                "{}: canonical text does not parse:\n{e}\n{text}",
                path.display()
            )
        });
        assert_eq!(
            without_positions(&first.config),
            without_positions(&again.config),
            "{}:\n{text}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked > 40, "only {checked} files checked");
}

/// Line numbers differ between a file and its canonical text.
fn without_positions(c: &Config) -> Config {
    let mut c = c.clone();
    for v in &mut c.virtuals {
        v.line = 0;
        for r in &mut v.reals {
            r.line = 0;
        }
    }
    c
}
