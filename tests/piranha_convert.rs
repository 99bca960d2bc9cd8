//! `ldirectord convert`: every synthetic lvs.cf of tests/data/piranha (one
//! per trap of reference §2 and warning of §14) converts — or is refused —
//! as its `# expect` lines say, and whatever converts is an ldirectord.cf
//! our own parser reads without a warning, with each warning of the
//! conversion written into it.
//!
//! Fixture syntax (whole-line lvs.cf comments, so Piranha reads the files
//! unchanged):
//!
//! ```text
//! # expect error LINE:COL TEXT          strict conversion fails with it
//! # expect lenient-error LINE:COL TEXT  --lenient fails with it too
//! # expect lenient-warning LINE TEXT    --lenient converts, with it
//! # expect warning LINE TEXT            converts (strict), with it
//! # expect cf TEXT                      the output has this line (trimmed)
//! ```
//!
//! `crlf.cf` is converted with CR LF line ends. The CLI, the files `-o`
//! writes, and keepalived's own check of the `--ha keepalived` companion
//! are tested at the end.

use std::path::{Path, PathBuf};
use std::process::Command;

use ldirectord::config::{self, names::Lookup, Diagnostic};
use ldirectord::piranha::{self, Ha, Options, Placement};

#[path = "support/tempdir.rs"]
mod tempdir;
use tempdir::TempDir;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/piranha")
}

fn fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(data())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cf"))
        .collect();
    v.sort();
    v
}

fn opts(lenient: bool, ha: Option<Ha>) -> Options {
    Options {
        lenient,
        ha,
        lookup: Lookup::HostsFile,
        placement: Placement::stdout(),
        source: "lvs.cf".into(),
    }
}

fn text_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    if path.file_name().unwrap() == "crlf.cf" {
        text.replace('\n', "\r\n")
    } else {
        text
    }
}

/// `LINE:COL` or `LINE`, then the text.
fn position(spec: &str) -> (usize, Option<usize>, String) {
    let (pos, text) = spec.split_once(' ').unwrap_or((spec, ""));
    let (line, col) = match pos.split_once(':') {
        Some((l, c)) => (l.parse().unwrap(), Some(c.parse().unwrap())),
        None => (pos.parse().unwrap(), None),
    };
    (line, col, text.to_string())
}

fn find(diags: &[Diagnostic], line: usize, col: Option<usize>, text: &str) -> bool {
    diags
        .iter()
        .any(|d| d.line == line && col.is_none_or(|c| d.col == c) && d.message.contains(text))
}

fn show(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(|d| format!("  {:?} {}:{}: {}", d.severity, d.line, d.col, d.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A converted text must load in our parser without any warning, and
/// every warning of the conversion must be written into it.
fn check_output(name: &str, conv: &piranha::Conversion) -> Result<(), String> {
    let cfg_opts = config::Options {
        lookup: Lookup::HostsFile,
        hostname: "t".into(),
    };
    let loaded = config::load_str(&conv.cf, Path::new("out.cf"), &cfg_opts)
        .map_err(|e| format!("{name}: the output does not load:\n{e}\n{}", conv.cf))?;
    // An lvs.cf without an active virtual server converts to a file
    // without one, and the parser says so too (the converter's own
    // warning, checked below, is in the file): the only warning allowed.
    let warnings: Vec<_> = loaded
        .warnings
        .iter()
        .filter(|w| {
            !(loaded.config.virtuals.is_empty()
                && w.line == 0
                && w.message.starts_with("no virtual service in this file"))
        })
        .collect();
    if !warnings.is_empty() {
        return Err(format!(
            "{name}: our parser warns about the output: {warnings:?}\n{}",
            conv.cf
        ));
    }
    let flat: String = conv
        .cf
        .lines()
        .map(|l| l.trim_start_matches(['\t', '#', ' ']))
        .collect::<Vec<_>>()
        .join(" ");
    for w in &conv.warnings {
        let head: String = w
            .message
            .split_whitespace()
            .take(6)
            .collect::<Vec<_>>()
            .join(" ");
        if !flat.contains(&head) {
            return Err(format!("{name}: warning not in the output: {}", w.message));
        }
    }
    // The printed form (companions as comments) is a valid file too.
    config::load_str(&conv.printable(), Path::new("out.cf"), &cfg_opts)
        .map_err(|e| format!("{name}: the printed output does not load:\n{e}"))?;
    Ok(())
}

#[test]
fn every_fixture_converts_as_its_expect_lines_say() {
    let files = fixtures();
    assert!(files.len() >= 40, "only {} fixtures", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = text_of(path);
        let mut errors = Vec::new();
        let mut lenient_errors = Vec::new();
        let mut lenient_warnings = Vec::new();
        let mut warnings = Vec::new();
        let mut cf_lines = Vec::new();
        for l in text.lines() {
            let Some(rest) = l.trim_end_matches('\r').strip_prefix("# expect ") else {
                continue;
            };
            let (kind, spec) = rest.split_once(' ').unwrap();
            match kind {
                "error" => errors.push(position(spec)),
                "lenient-error" => lenient_errors.push(position(spec)),
                "lenient-warning" => lenient_warnings.push(position(spec)),
                "warning" => warnings.push(position(spec)),
                "cf" => cf_lines.push(spec.to_string()),
                other => panic!("{name}: unknown expectation {other}"),
            }
        }
        let strict = piranha::convert(&text, &opts(false, None));
        let lenient = piranha::convert(&text, &opts(true, None));
        let mut fail = |msg: String| failures.push(format!("{name}: {msg}"));
        let converted = if errors.is_empty() {
            match strict {
                Ok(c) => {
                    for (line, _, t) in &warnings {
                        if !find(&c.warnings, *line, None, t) {
                            fail(format!(
                                "no warning at line {line} with {t:?}; got:\n{}",
                                show(&c.warnings)
                            ));
                        }
                    }
                    Some(c)
                }
                Err(d) => {
                    fail(format!("did not convert:\n{}", show(&d)));
                    None
                }
            }
        } else {
            match strict {
                Ok(_) => {
                    fail("converted, expected errors".into());
                    None
                }
                Err(d) => {
                    for (line, col, t) in &errors {
                        if !find(&d, *line, *col, t) {
                            fail(format!(
                                "no error at {line}:{col:?} with {t:?}; got:\n{}",
                                show(&d)
                            ));
                        }
                    }
                    let n = d.iter().filter(|d| d.is_error()).count();
                    if n != errors.len() {
                        fail(format!(
                            "{n} errors, expected {}:\n{}",
                            errors.len(),
                            show(&d)
                        ));
                    }
                    None
                }
            }
        };
        let converted = match (
            lenient_warnings.is_empty(),
            lenient_errors.is_empty(),
            lenient,
        ) {
            (false, _, Ok(c)) => {
                for (line, _, t) in &lenient_warnings {
                    if !find(&c.warnings, *line, None, t) {
                        fail(format!(
                            "--lenient: no warning at line {line} with {t:?}; got:\n{}",
                            show(&c.warnings)
                        ));
                    }
                }
                Some(c)
            }
            (false, _, Err(d)) => {
                fail(format!("--lenient did not convert:\n{}", show(&d)));
                None
            }
            (true, false, Ok(_)) => {
                fail("--lenient converted, expected errors".into());
                converted
            }
            (true, false, Err(d)) => {
                for (line, col, t) in &lenient_errors {
                    if !find(&d, *line, *col, t) {
                        fail(format!("--lenient: no error at {line}:{col:?} with {t:?}"));
                    }
                }
                converted
            }
            (true, true, _) => converted,
        };
        let Some(c) = converted else { continue };
        if let Err(e) = check_output(&name, &c) {
            fail(e);
        }
        let out: Vec<&str> = c.cf.lines().map(str::trim).collect();
        for want in &cf_lines {
            if !out.contains(&want.as_str()) {
                fail(format!("no line {want:?} in the output:\n{}", c.cf));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn an_empty_file_is_refused_as_piranha_refused_it() {
    let e = piranha::convert("", &opts(true, None)).unwrap_err();
    assert!(e[0].message.contains("Empty configuration"), "{e:?}");
}

#[test]
fn every_fixture_converts_with_both_companions() {
    for path in fixtures() {
        let text = text_of(&path);
        for ha in [Ha::Keepalived, Ha::Pacemaker] {
            if let Ok(c) = piranha::convert(&text, &opts(true, Some(ha))) {
                check_output(&path.display().to_string(), &c).unwrap();
                // keepalived is left out when no VIP is active.
                let has_vip =
                    c.cf.lines()
                        .any(|l| l.starts_with("#   - VIPs raised by pulse"));
                let what = match ha {
                    Ha::Keepalived => "keepalived.conf",
                    Ha::Pacemaker => "pcs script",
                };
                let n = c.companions.iter().filter(|x| x.what == what).count();
                assert!(
                    n > 0 || (ha == Ha::Keepalived && !has_vip),
                    "{}: no {what}",
                    path.display()
                );
            }
        }
    }
}

/// The director-failover fixture: keepalived text and pcs commands.
#[test]
fn companions_of_the_director_failover_fixture() {
    let text = std::fs::read_to_string(data().join("director-ha.cf")).unwrap();
    let c = piranha::convert(&text, &opts(false, Some(Ha::Keepalived))).unwrap();
    let names: Vec<String> = c
        .companions
        .iter()
        .map(|x| x.path.display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "/etc/ha.d/ldirectord-keepalived-primary.conf",
            "/etc/ha.d/ldirectord-keepalived-backup.conf"
        ]
    );
    let primary = &c.companions[0].text;
    for want in [
        "    state BACKUP",
        "    nopreempt",
        "    interface eth0",
        "    priority 150",
        "    advert_int 2",
        "    unicast_src_ip 192.0.2.1",
        "        192.0.2.2",
        "        203.0.113.10/24 dev eth0 label eth0:1",
        "        203.0.113.11/24 dev eth2 label eth2:3",
        "        192.0.2.254/24 dev eth1 label eth1:9",
        "    track_interface {",
        "        eth2",
        "    notify_master \"/usr/local/sbin/lvs-active --now\"",
        "    notify_backup \"/usr/local/sbin/lvs-inactive\"",
        "    lvs_sync_daemon eth1 LVS id 7",
        "    lvs_timeouts tcp 900 tcpfin 120",
    ] {
        assert!(
            primary.lines().any(|l| l == want),
            "{want:?} not in:\n{primary}"
        );
    }
    let backup = &c.companions[1].text;
    assert!(backup.contains("    priority 100\n"));
    assert!(backup.contains("    unicast_src_ip 192.0.2.2\n"));
    // The ldirectord.cf leaves the sync daemon to keepalived.
    assert!(
        c.cf.contains("\n# syncdaemon=both eth1 syncid=7\n"),
        "{}",
        c.cf
    );

    let c = piranha::convert(&text, &opts(false, Some(Ha::Pacemaker))).unwrap();
    let pcs = &c.companions[0];
    assert_eq!(pcs.path, Path::new("/etc/ha.d/ldirectord-pcs.sh"));
    assert_eq!(pcs.mode, 0o755);
    for want in [
        "pcs resource create lvs-vip-203-0-113-10 ocf:heartbeat:IPaddr2 ip=203.0.113.10 \
         cidr_netmask=24 nic=eth0 iflabel=1 op monitor interval=10s --group lvs-vips",
        "pcs resource create lvs-vip-192-0-2-254 ocf:heartbeat:IPaddr2 ip=192.0.2.254 \
         cidr_netmask=24 nic=eth1 iflabel=9 op monitor interval=10s --group lvs-vips",
        "pcs resource create lvs-ldirectord ocf:heartbeat:ldirectord \
         configfile=/etc/ha.d/ldirectord.cf op monitor interval=20s timeout=10s",
        "pcs constraint colocation add lvs-ldirectord with lvs-vips INFINITY",
        "pcs constraint order lvs-vips then lvs-ldirectord",
        "pcs resource defaults update resource-stickiness=100",
        "#   ipvsadm --set 900 120 0",
    ] {
        assert!(
            pcs.text.lines().any(|l| l == want),
            "{want:?} not in:\n{}",
            pcs.text
        );
    }
    let sh = Command::new("sh")
        .arg("-n")
        .arg("-c")
        .arg(&pcs.text)
        .status()
        .unwrap();
    assert!(sh.success(), "sh -n refuses the pcs script");
}

// ------------------------------------------------------------------ CLI

fn ldirectord() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ldirectord"));
    c.env("LDIRECTORD_RESOLVE", "hosts");
    c
}

#[test]
fn cli_prints_a_valid_file_and_warnings_with_their_lines() {
    let o = ldirectord()
        .arg("convert")
        .arg(data().join("weight-zero.cf"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let stdout = String::from_utf8(o.stdout).unwrap();
    let stderr = String::from_utf8(o.stderr).unwrap();
    assert!(
        stdout.starts_with("# ldirectord.cf - converted from "),
        "{stdout}"
    );
    let path = data().join("weight-zero.cf");
    assert!(
        stderr.contains(&format!("{}:11: warning: weight = 0:", path.display())),
        "{stderr}"
    );
    assert!(stdout.contains("\t# WARNING: weight = 0:"), "{stdout}");
}

#[test]
fn cli_reports_every_error_with_line_and_column_and_exits_2() {
    let path = data().join("invalid-values.cf");
    let o = ldirectord().arg("convert").arg(&path).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    let stderr = String::from_utf8(o.stderr).unwrap();
    let p = path.display();
    for at in ["8:1", "10:12", "16:18", "17:1", "22:18", "23:16"] {
        assert!(
            stderr.contains(&format!("{p}:{at}: error: ")),
            "{at}:\n{stderr}"
        );
    }
    assert!(stderr.contains("6 errors; nothing converted"), "{stderr}");
    let o = ldirectord()
        .args(["convert", "/nonexistent/lvs.cf"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let o = ldirectord().args(["convert"]).output().unwrap();
    assert_eq!(o.status.code(), Some(255));
}

#[test]
fn cli_lenient_reads_crlf() {
    let dir = TempDir::new("piranha-crlf");
    let src = dir.file("lvs.cf", &text_of(&data().join("crlf.cf")));
    let o = ldirectord().arg("convert").arg(&src).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains(":1:1: error: CRLF"));
    let o = ldirectord()
        .args(["convert", "--lenient"])
        .arg(&src)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr).contains(":1: warning: CRLF"));
}

#[test]
fn cli_writes_the_file_and_its_companions_beside_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("piranha-out");
    let out = dir.0.join("lb.cf");
    let o = ldirectord()
        .arg("convert")
        .arg(data().join("send-program.cf"))
        .arg("-o")
        .arg(&out)
        .args(["--ha", "pacemaker"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.stdout.is_empty());
    let dir_abs = dir.0.canonicalize().unwrap();
    let script = dir_abs.join("lb-check-mysql.sh");
    let cf = std::fs::read_to_string(&out).unwrap();
    assert!(cf.starts_with("# lb.cf - converted from "), "{cf}");
    assert!(
        cf.contains(&format!("\tcheckcommand=\"{}\"\n", script.display())),
        "{cf}"
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&out), 0o644);
    assert_eq!(mode(&script), 0o755);
    assert_eq!(mode(&dir_abs.join("lb-pcs.sh")), 0o755);
    // The generated ldirectord.cf passes our own configtest.
    let t = ldirectord().arg("-t").arg(&out).output().unwrap();
    assert_eq!(
        t.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&t.stderr)
    );

    // The wrapper behaves as nanny's compare, without nanny's "failure is up".
    let bin = dir.0.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = |body: &str| {
        let p = bin.join("check_mysql");
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    let text = std::fs::read_to_string(&script).unwrap();
    let local = text.replace(
        "/usr/local/bin/check_mysql",
        &bin.join("check_mysql").display().to_string(),
    );
    std::fs::write(&script, local).unwrap();
    let run = || {
        Command::new(&script)
            .args(["192.0.2.10", "3306", "192.0.2.21", "3306"])
            .status()
            .unwrap()
            .success()
    };
    fake(r#"[ "$1 $2 $3" = "192.0.2.21 3306 --host=%h" ] && echo OK"#);
    assert!(run(), "OK with the substituted arguments is up");
    fake("echo OK; exit 3");
    assert!(!run(), "a non-zero exit is down (nanny: up)");
    fake("printf OK");
    assert!(
        !run(),
        "nanny chopped the last byte: OK without newline is O"
    );
    fake("echo OK; echo more");
    assert!(!run(), "a second line fails the exact compare");
    fake("echo 'OK '");
    assert!(!run());
}

#[test]
fn cli_refuses_a_directory_that_does_not_exist() {
    let o = ldirectord()
        .arg("convert")
        .arg(data().join("default-http.cf"))
        .args(["-o", "/nonexistent-dir/x.cf"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let dir = TempDir::new("piranha-dir");
    let o = ldirectord()
        .arg("convert")
        .arg(data().join("default-http.cf"))
        .arg("-o")
        .arg(&dir.0)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is a directory"));
}

/// Debian's keepalived accepts the `--ha keepalived` companions: checked
/// with `keepalived -t` in a network namespace of our own that has the
/// interfaces the files name (veth pairs), as root.
#[test]
fn keepalived_accepts_the_companions() {
    let have = |cmd: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {cmd}"))
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have("keepalived") || !have("unshare") {
        eprintln!("SKIP: keepalived or unshare not installed (tests/vm/install-deps.sh --peers)");
        return;
    }
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        eprintln!("SKIP: keepalived -t in a network namespace needs root");
        return;
    }
    let dir = TempDir::new("piranha-keepalived");
    let mut checked = 0;
    let mut inputs: Vec<PathBuf> = vec![data().join("director-ha.cf")];
    inputs.extend(fixtures());
    for (i, src) in inputs.iter().enumerate() {
        let text = text_of(src);
        let mut o = opts(true, Some(Ha::Keepalived));
        o.placement = Placement {
            dir: dir.0.clone(),
            cf_name: format!("f{i}.cf"),
        };
        let Ok(c) = piranha::convert(&text, &o) else {
            continue;
        };
        for comp in &c.companions {
            if comp.what != "keepalived.conf" {
                continue;
            }
            std::fs::write(&comp.path, &comp.text).unwrap();
            let out = Command::new("unshare")
                .arg("-n")
                .arg("sh")
                .arg("-c")
                .arg(
                    "for i in eth0 eth1 eth2; do ip link add $i type veth peer name p$i || exit 9; done; \
                     exec keepalived -t -f \"$1\"",
                )
                .arg("sh")
                .arg(&comp.path)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: keepalived -t exit {:?}\n{}{}\n{}",
                src.display(),
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                comp.text
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} keepalived files checked");
}

// --------------------------------------------------------------- corpus

/// The model as the `ipvsadm` commands that program it (lvsd's `-A`, each
/// nanny's `-a`), in the notation of tests/data/piranha/corpus/*.ipvsadm.
fn ipvsadm_lines(c: &config::Config) -> Vec<String> {
    use ldirectord::config::{Netmask, Protocol, VirtualKey};
    let mut out = Vec::new();
    for v in &c.virtuals {
        let key = match v.key {
            VirtualKey::Addr {
                protocol,
                addr,
                port,
            } => format!(
                "{} {addr}:{port}",
                if protocol == Protocol::Tcp {
                    "-t"
                } else {
                    "-u"
                }
            ),
            VirtualKey::Fwmark { mark, .. } => format!("-f {mark}"),
        };
        let mut a = format!("-A {key} -s {}", v.scheduler);
        if let Some(p) = v.persistent {
            a.push_str(&format!(" -p {p}"));
            if let Some(Netmask::V4(m)) = v.netmask {
                a.push_str(&format!(" -M {m}"));
            }
        }
        out.push(a);
        for r in &v.reals {
            out.push(format!(
                "-a {key} -r {}:{} {} -w {}",
                r.addr,
                r.port,
                r.forward.flag(),
                r.weight
            ));
        }
    }
    out
}

fn expected_table(name: &str) -> Option<Vec<String>> {
    let stem = name.strip_suffix(".cf").unwrap_or(name);
    let text =
        std::fs::read_to_string(data().join("corpus").join(format!("{stem}.ipvsadm"))).ok()?;
    Some(
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(str::to_string)
            .collect(),
    )
}

/// Every real-world lvs.cf of ../shared/piranha-corpus converts, our parser
/// reads the result, and the resolved model is the IPVS table lvsd and its
/// nannies programmed (our own table per file, tests/data/piranha/corpus).
#[test]
fn every_corpus_file_programs_the_table_lvsd_programmed() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/piranha-corpus");
    let Ok(entries) = std::fs::read_dir(&corpus) else {
        eprintln!("SKIP: {} is absent", corpus.display());
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cf"))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    let cfg_opts = config::Options {
        lookup: Lookup::HostsFile,
        hostname: "t".into(),
    };
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(want) = expected_table(&name) else {
            failures.push(format!("{name}: no tests/data/piranha/corpus table for it"));
            continue;
        };
        let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
        let conv = match piranha::convert(&text, &opts(false, Some(Ha::Keepalived))) {
            Ok(c) => c,
            Err(d) => {
                failures.push(format!("{name}: refused:\n{}", show(&d)));
                continue;
            }
        };
        if let Err(e) = check_output(&name, &conv) {
            failures.push(e);
            continue;
        }
        let loaded = config::load_str(&conv.cf, Path::new("out.cf"), &cfg_opts).unwrap();
        let got = ipvsadm_lines(&loaded.config);
        if got != want {
            failures.push(format!(
                "{name}: the converted file programs\n  {}\nlvsd programmed\n  {}",
                got.join("\n  "),
                want.join("\n  ")
            ));
        }
    }
    eprintln!(
        "piranha corpus: {}/{} files convert to the table lvsd programmed",
        files.len() - failures.len(),
        files.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// ----------------------------------------------------------------- docs

/// The man page's CONVERTING FROM PIRANHA section says what becomes of
/// every lvs.cf directive, and the command and its options are documented.
#[test]
fn the_man_page_documents_every_lvs_cf_directive() {
    use ldirectord::piranha::read::{GLOBAL_DIRECTIVES, SERVER_DIRECTIVES, VIRTUAL_DIRECTIVES};
    let man =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/ldirectord.8")).unwrap();
    let start = man
        .find(".SH CONVERTING FROM PIRANHA")
        .expect("no CONVERTING FROM PIRANHA");
    let end = start + man[start + 1..].find("\n.SH ").unwrap();
    let section = &man[start..end];
    let words: std::collections::HashSet<&str> = section
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    let missing: Vec<&str> = GLOBAL_DIRECTIVES
        .iter()
        .chain(VIRTUAL_DIRECTIVES)
        .chain(SERVER_DIRECTIVES)
        .copied()
        .filter(|d| !words.contains(d))
        .collect();
    assert!(
        missing.is_empty(),
        "not in CONVERTING FROM PIRANHA: {missing:?}"
    );
    for opt in [
        "convert",
        "\\-\\-lenient",
        "\\-\\-ha keepalived",
        "pacemaker",
        ".BI \\-o ",
    ] {
        assert!(man.contains(opt), "{opt} not in man/ldirectord.8");
    }
}

/// The guest test's fixture (tests/vm/e2e-piranha.sh): the mapped seed file
/// converts to the table its `.ipvsadm` file programs with ipvsadm there.
#[test]
fn the_guest_fixture_converts_to_its_table() {
    let dir = data().join("guest");
    let text = std::fs::read_to_string(dir.join("seed-webs-test-com-mapped.cf")).unwrap();
    let conv = piranha::convert(&text, &opts(false, None)).unwrap();
    check_output("seed-webs-test-com-mapped.cf", &conv).unwrap();
    let cfg_opts = config::Options {
        lookup: Lookup::HostsFile,
        hostname: "t".into(),
    };
    let loaded = config::load_str(&conv.cf, Path::new("out.cf"), &cfg_opts).unwrap();
    let table = std::fs::read_to_string(dir.join("seed-webs-test-com-mapped.ipvsadm")).unwrap();
    let want: Vec<&str> = table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    assert_eq!(ipvsadm_lines(&loaded.config), want);
    // What the guest test relies on: quiescent (nanny -q) and risecount 2.
    let v = &loaded.config.virtuals[0];
    assert!(v.quiescent);
    assert_eq!((v.risecount, v.checkinterval), (2, 6));
}

/// Bytes that are not UTF-8: replaced in comments and block names (labels),
/// an error where they would change a value of the output.
#[test]
fn latin1_bytes_are_an_error_only_where_they_reach_a_value() {
    let mut file = b"# caf\xe9 au lait\nvirtual caf\xe9 {\n    active = 1\n".to_vec();
    file.extend_from_slice(b"    address = 192.0.2.10 eth0:1\n    port = 7\n");
    let ok = file.clone();
    let c = piranha::convert_bytes(&ok, &opts(false, None)).unwrap();
    assert!(
        c.cf.contains("# virtual caf\u{FFFD} (lvs.cf line 2)"),
        "{}",
        c.cf
    );
    file.extend_from_slice(b"    send = \"caf\xe9\"\n    expect = \"ok\"\n}\n");
    let e = piranha::convert_bytes(&file, &opts(false, None)).unwrap_err();
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!((e[0].line, e[0].col), (6, 16));
    assert!(e[0].message.contains("byte 0xE9 is not UTF-8"));
}
