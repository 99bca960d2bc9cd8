//! The `ldirectord` binary as users run it: exit codes, messages, `-t`.

use std::path::Path;
use std::process::{Command, Output};

#[path = "support/tempdir.rs"]
mod tempdir;
use tempdir::TempDir;

#[path = "support/fake_daemon.rs"]
mod fake_daemon;
use fake_daemon::FakeDaemon;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ldirectord"));
    // Never let a test resolve names through DNS, and never pick up the
    // machine's /etc/ha.d.
    c.env("LDIRECTORD_RESOLVE", "hosts")
        .env("LDIRECTORD_CONFIG_DIR", "/nonexistent-ldirectord-test-dir")
        .env("HOSTNAME", "testhost");
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const GOOD: &str = "\
checktimeout=3
checkinterval=5
quiescent=yes
fallback=127.0.0.1:80

virtual=192.0.2.10:http
\treal=192.0.2.21->192.0.2.23:80 masq 2
\treal=192.0.2.30:80 gate \"health.html\", \"OK\" l:1 u:100
\tservice=http
\trequest=\"index.html\"
\treceive=\"Test Page\"
\tvirtualhost=www.example.test
\tscheduler=wlc
\tpersistent=300
\tnetmask=255.255.255.0

virtual=7
\treal=192.0.2.40 gate
\tchecktype=connect
\tcheckport=8080

virtual6=[2001:db8::10]:53
\treal6=[2001:db8::11]:53 gate
\tprotocol=tcp
\trequest=\"www.example.test\"
\treceive=\"192.0.2.\"
";

#[test]
fn configtest_prints_canonical_config_that_reads_back_the_same() {
    let dir = TempDir::new("good");
    let cf = dir.file("good.cf", GOOD);
    let out = run(&["-t", s(&cf)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(printed.contains("virtual=192.0.2.10:80\n"), "{printed}");
    assert!(
        printed.contains("    real=192.0.2.22:80 masq 2\n"),
        "{printed}"
    );
    assert!(
        printed.contains("    checktimeout=3\n    negotiatetimeout=3\n"),
        "{printed}"
    );
    assert!(printed.contains("virtual6=[2001:db8::10]:53"), "{printed}");

    // Reading the printed text gives the same configuration.
    let again = dir.file("again.cf", &printed);
    let out2 = run(&["-t", s(&again)]);
    assert_eq!(out2.status.code(), Some(0), "{}", text(&out2.stderr));
    let strip = |t: &str| t.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(&printed), strip(&text(&out2.stdout)));

    // The verb form does the same.
    let out3 = run(&[s(&cf), "configtest"]);
    assert_eq!(out3.status.code(), Some(0));
    assert_eq!(out3.stdout, out.stdout);
}

/// `ldirectord -t big.cf | head -1`: the reader goes away and the command
/// ends of SIGPIPE like any filter (and the Perl program), not with a
/// panic of `println!` (exit 101).
#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let dir = TempDir::new("sigpipe");
    // Far more than a pipe holds (64 KiB), so the writes meet the closed end.
    let big: String = (0..3000)
        .map(|i| {
            format!(
                "virtual=192.0.2.{}:{}\n\treal=198.51.100.1:80 gate\n\tchecktype=on\n",
                i % 250 + 1,
                1000 + i
            )
        })
        .collect();
    let cf = dir.file("big.cf", &big);
    let mut child = bin()
        .args(["-t", s(&cf)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "{:?} {stderr}",
        out.status
    );
}

#[test]
fn every_error_is_reported_with_line_and_column() {
    let dir = TempDir::new("bad");
    let cf = dir.file(
        "bad.cf",
        "checktimeout=0\nquiescent=maybe\nvirtual=192.0.2.10:80\n\treal=192.0.2.21:80 gateway\n\tscheduler=WLC\n\tbogus=1\ntimeout=3\n",
    );
    let out = run(&["-t", s(&cf)]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    let p = s(&cf);
    for (line, col, msg) in [
        (1, 14, "invalid check timeout value"),
        (2, 11, "quiescent must be 'yes' or 'no'"),
        (4, 7, "forward method must be gate, masq or ipip"),
        (
            5,
            12,
            "invalid scheduler, should be only lowercase letters (a-z)",
        ),
        (6, 2, "Unknown command \"bogus\""),
        (
            7,
            1,
            "timeout directive deprecated in favour of checktimeout and negotiatetimeout",
        ),
    ] {
        let head = format!("{p}:{line}:{col}: error: {msg}");
        assert!(err.contains(&head), "missing {head:?} in\n{err}");
    }
    // The offending line and a caret under the column.
    assert!(
        err.contains("    quiescent=maybe\n              ^\n"),
        "{err}"
    );
    assert!(err.contains("6 errors in configuration"), "{err}");
}

#[test]
fn warnings_go_to_stderr_and_do_not_fail() {
    let dir = TempDir::new("warn");
    let cf = dir.file(
        "w.cf",
        "checkcount=3\nvirtual=192.0.2.10:80 # web\n\treal=192.0.2.21:80 gate\n",
    );
    let out = run(&["-t", s(&cf)]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains(":1:1: warning: checkcount option is deprecated"));
}

#[test]
fn missing_config_exits_1() {
    let out = run(&["/nonexistent/ldirectord.cf", "status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("Config file /nonexistent/ldirectord.cf not found"));
    // The default name is looked up in /etc/ha.d (here: a test directory).
    let out = run(&["-t"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("Config file ldirectord.cf not found"));
}

#[test]
fn missing_config_lists_the_paths_searched() {
    let dir = TempDir::new("notfound");
    let out = bin()
        .env("LDIRECTORD_CONFIG_DIR", &dir.0)
        .current_dir(&dir.0)
        .args(["site.cf", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let d = s(&dir.0);
    assert_eq!(
        text(&out.stderr),
        format!(
            "Config file site.cf not found; looked for:\n    {d}/site.cf\n    \
             {d}/conf/site.cf\n    site.cf (in {d})\n"
        )
    );
    // An absolute path is looked for once.
    let out = run(&["/nonexistent/x.cf", "check"]);
    assert_eq!(
        text(&out.stderr),
        "Config file /nonexistent/x.cf not found; looked for:\n    /nonexistent/x.cf\n"
    );
}

#[test]
fn a_misspelled_directive_gets_a_suggestion() {
    let dir = TempDir::new("did-you-mean");
    let cf = dir.file(
        "t.cf",
        "checkintervall=5\nvirtual=192.0.2.10:80\n\treal=192.0.2.21:80 gate\n\tsheduler=wlc\n\tbogus=1\n",
    );
    let out = run(&["-t", s(&cf)]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    let p = s(&cf);
    for head in [
        format!(
            "{p}:1:1: error: Unknown command \"checkintervall\": did you mean \"checkinterval\"?\n"
        ),
        format!("{p}:4:2: error: Unknown command \"sheduler\": did you mean \"scheduler\"?\n"),
        // Nothing close: no guess.
        format!("{p}:5:2: error: Unknown command \"bogus\"\n"),
    ] {
        assert!(err.contains(&head), "missing {head:?} in\n{err}");
    }
}

#[test]
fn a_file_without_a_virtual_service_gets_a_warning() {
    let dir = TempDir::new("novirtual");
    let run_dir = dir.0.join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let cf = dir.file(
        "g.cf",
        &format!(
            "checktimeout=3\nlogfile=\"{}\"\n",
            dir.0.join("l.log").display()
        ),
    );
    let warning = format!(
        "{}: warning: no virtual service in this file: ldirectord will manage nothing \
         (a virtual= line starts one)\n",
        s(&cf)
    );
    let mut commands = vec![vec!["-t", s(&cf)], vec![s(&cf), "check"]];
    // `start` on a kernel with IPVS would start a real daemon on the host.
    if !Path::new("/proc/net/ip_vs").exists() {
        commands.push(vec![s(&cf), "start"]);
    }
    for args in commands {
        let out = bin()
            .env("LDIRECTORD_RUN_DIR", &run_dir)
            .args(&args)
            .output()
            .unwrap();
        assert!(
            text(&out.stderr).starts_with(&warning),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // A file with a virtual service has no such warning.
    let cf = dir.file("v.cf", "virtual=192.0.2.10:80\n\treal=192.0.2.21:80 gate\n");
    let out = run(&["-t", s(&cf)]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn config_is_found_in_the_ha_d_directories() {
    let dir = TempDir::new("had");
    std::fs::create_dir_all(dir.0.join("conf")).unwrap();
    dir.file(
        "conf/site.cf",
        "virtual=192.0.2.10:80\n\treal=192.0.2.21:80 gate\n",
    );
    let out = bin()
        .env("LDIRECTORD_CONFIG_DIR", &dir.0)
        .args(["site.cf", "configtest"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// A configuration error ends the commands that would use the file with
/// status 2; with no daemon running, `stop` has nothing to do (0) and
/// `status` says stopped (3), and both say the file has errors.
#[test]
fn config_error_exits_2_for_every_command_that_uses_the_file() {
    let dir = TempDir::new("every");
    let run_dir = dir.0.join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let cf = dir.file("e.cf", "quiescent=perhaps\n");
    let cmd = |verb: &str| {
        bin()
            .env("LDIRECTORD_RUN_DIR", &run_dir)
            .args([s(&cf), verb])
            .output()
            .unwrap()
    };
    for verb in [
        "start",
        "reload",
        "restart",
        "try-restart",
        "check",
        "configtest",
    ] {
        let out = cmd(verb);
        assert_eq!(out.status.code(), Some(2), "{verb}");
        assert!(text(&out.stderr).contains("e.cf:1:"), "{verb}");
    }
    for (verb, code) in [("stop", 0), ("status", 3)] {
        let out = cmd(verb);
        assert_eq!(out.status.code(), Some(code), "{verb}");
        assert!(text(&out.stderr).contains("has an error"), "{verb}");
    }
}

#[test]
fn usage_errors_exit_255_with_the_synopsis_on_stdout() {
    for args in [&[][..], &["frobnicate"][..], &["a", "b", "c"][..]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(255), "{args:?}");
        assert!(text(&out.stdout).contains("Usage:"));
    }
}

#[test]
fn version_and_help() {
    let out = run(&["-v"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("Linux Director v1.186-ha"));
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("start|stop|restart|try-restart|reload|force-reload|status"));
}

/// Lifecycle verbs without a running daemon, with upstream's exit codes.
#[test]
fn lifecycle_verbs_without_a_daemon() {
    let dir = TempDir::new("life");
    let run_dir = dir.0.join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let log = dir.0.join("ld.log");
    let cf = dir.file(
        "web.cf",
        &format!(
            "logfile=\"{}\"\nvirtual=192.0.2.10:80\n\treal=192.0.2.21:80 gate\n",
            log.display()
        ),
    );
    let cmd = |verb: &str| {
        bin()
            .env("LDIRECTORD_RUN_DIR", &run_dir)
            .args([s(&cf), verb])
            .output()
            .unwrap()
    };
    // status: stopped → 3, with upstream's line on stdout.
    let out = cmd("status");
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        text(&out.stdout),
        format!("ldirectord is stopped for {}\n", s(&cf))
    );
    // A stale pid file → 1, and says so.
    std::fs::write(run_dir.join("ldirectord.web.cf.pid"), "999999999\n").unwrap();
    let out = cmd("status");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("ldirectord stale pid file"));
    std::fs::remove_file(run_dir.join("ldirectord.web.cf.pid")).unwrap();
    // stop and try-restart with nothing running: 0; reload: 1.
    assert_eq!(cmd("stop").status.code(), Some(0));
    assert_eq!(cmd("try-restart").status.code(), Some(0));
    assert_eq!(cmd("reload").status.code(), Some(1));
    assert_eq!(cmd("force-reload").status.code(), Some(1));
    // Every invocation is logged as upstream does.
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains(&format!(
            "Invoking ldirectord invoked as: {}",
            env!("CARGO_BIN_EXE_ldirectord")
        )),
        "{logged}"
    );
    assert!(logged.contains(&format!("ldirectord is stopped for {}", s(&cf))));
}

/// This machine's kernel has no IPVS: `start` must fail plainly, in the
/// foreground (-d) and as a daemon, and leave no pid file behind.
#[test]
fn start_without_ipvs_fails_plainly() {
    if std::path::Path::new("/proc/net/ip_vs").exists() {
        return;
    }
    let dir = TempDir::new("start");
    let run_dir = dir.0.join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let cf = dir.file(
        "s.cf",
        &format!(
            "logfile=\"{}\"\nvirtual=192.0.2.10:80\n\treal=192.0.2.21:80 gate\n",
            dir.0.join("l.log").display()
        ),
    );
    for args in [&["-d", s(&cf), "start"][..], &[s(&cf), "start"][..]] {
        let out = bin()
            .env("LDIRECTORD_RUN_DIR", &run_dir)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        // Said once (with -d the log is stderr: it was said twice).
        assert_eq!(
            text(&out.stderr)
                .matches("kernel has no IPVS support")
                .count(),
            1,
            "{}",
            text(&out.stderr)
        );
        assert!(!run_dir.join("ldirectord.s.cf.pid").exists());
    }
    // The daemon's failure is in the configured log too.
    let logged = std::fs::read_to_string(dir.0.join("l.log")).unwrap();
    assert!(
        logged.contains("Exiting with exit_status 1: ") && logged.contains("no IPVS support"),
        "{logged}"
    );
}

/// A pid file that cannot be created fails the start, said once and
/// logged to the configured log (the daemon's stderr is /dev/null).
#[test]
fn a_pid_file_that_cannot_be_created_fails_the_start_visibly() {
    let dir = TempDir::new("nopid");
    let log = dir.0.join("l.log");
    let cf = dir.file(
        "p.cf",
        &format!(
            "logfile=\"{}\"\nvirtual=192.0.2.10:80\n\treal=192.0.2.21:80 gate\n",
            log.display()
        ),
    );
    for args in [&["-d", s(&cf), "start"][..], &[s(&cf), "start"][..]] {
        let out = bin()
            .env("LDIRECTORD_RUN_DIR", dir.0.join("no/such/dir"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert_eq!(err.matches("cannot create pid file").count(), 1, "{err}");
    }
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("Exiting with exit_status 1: cannot create pid file"),
        "{logged}"
    );
}

/// With a syslog facility and no syslog daemon, a command run from a
/// terminal prints no log line there (skipped where /dev/log exists).
#[test]
fn syslog_lines_do_not_spill_onto_the_terminal() {
    if Path::new("/dev/log").exists() {
        eprintln!("skipped: a syslog socket exists");
        return;
    }
    let dir = TempDir::new("syslog");
    std::fs::create_dir_all(dir.0.join("run")).unwrap();
    let cf = dir.file(
        "sl.cf",
        "logfile=\"local0\"\nvirtual=192.0.2.10:80\n\treal=192.0.2.21:80 gate\n",
    );
    for verb in ["status", "reload", "stop"] {
        let out = bin()
            .env("LDIRECTORD_RUN_DIR", dir.0.join("run"))
            .args([s(&cf), verb])
            .output()
            .unwrap();
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!all.contains("Invoking ldirectord"), "{verb}: {all}");
        assert!(!all.contains("ldirectord is stopped for") || verb == "status");
    }
}

/// C24, upgrade from the Perl program: its daemon wrote its pid file under the
/// name of the argument as written (`ldirectord.ldirectord.cf.pid` for
/// `ldirectord /etc/ha.d/ldirectord.cf start`). Every spelling of the same
/// configuration finds it: status reports it, reload and stop signal it,
/// start does not start a second director; a daemon of another file with
/// the same base name is not taken for it.
#[test]
fn a_perl_daemon_of_the_same_file_is_found_under_its_pid_file_name() {
    let dir = TempDir::new("perl-pid");
    let (run_dir, ha_d, other) = (dir.0.join("run"), dir.0.join("ha.d"), dir.0.join("other"));
    for d in [&run_dir, &ha_d, &other] {
        std::fs::create_dir_all(d).unwrap();
    }
    let body = format!(
        "logfile=\"{}\"\nvirtual=192.0.2.10:80\n\treal=192.0.2.21:80 gate\n",
        dir.0.join("l.log").display()
    );
    let cf = ha_d.join("ldirectord.cf");
    std::fs::write(&cf, &body).unwrap();
    std::fs::write(other.join("ldirectord.cf"), &body).unwrap();
    let perl_pid_file = run_dir.join("ldirectord.ldirectord.cf.pid");
    let ours = |args: &[&str]| {
        bin()
            .env("LDIRECTORD_RUN_DIR", &run_dir)
            .env("LDIRECTORD_CONFIG_DIR", &ha_d)
            .env("LDIRECTORD_STOP_TIMEOUT", "5")
            .args(args)
            .output()
            .unwrap()
    };
    // A daemon of another file named ldirectord.cf is not this one.
    let stranger = FakeDaemon::start(
        &other,
        &[s(&other.join("ldirectord.cf")), "start"],
        &perl_pid_file,
    );
    assert_eq!(ours(&[s(&cf), "status"]).status.code(), Some(3));
    drop(stranger);

    let mut perl = FakeDaemon::start(&dir.0, &[s(&cf), "start"], &perl_pid_file);
    let running = format!("is running with pid: {}", perl.pid());
    for args in [
        &[s(&cf), "status"][..],
        &["ldirectord.cf", "status"],
        &["status"],
    ] {
        let out = ours(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(text(&out.stderr).contains(&running), "{args:?}");
    }
    let out = ours(&["start"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("already running") && text(&out.stderr).contains("not starting"),
        "{}",
        text(&out.stderr)
    );
    assert!(!run_dir.join("ldirectord.ldirectord.pid").exists());
    assert_eq!(ours(&[s(&cf), "reload"]).status.code(), Some(0));
    assert_eq!(perl.signals(1), ["HUP"]);
    let out = ours(&["stop"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(perl.signals(2), ["HUP", "TERM"]);
    assert!(perl.exited());
    assert_eq!(ours(&["status"]).status.code(), Some(3));

    // restart stops it before it starts (the start itself fails on a host
    // without IPVS; the guest test runs the whole of it).
    let perl = FakeDaemon::start(&dir.0, &["ldirectord.cf", "start"], &perl_pid_file);
    let _ = ours(&[s(&cf), "restart"]);
    assert_eq!(perl.signals(1), ["TERM"]);
}

/// C31: a typo saved in the file does not disable the commands that need only
/// its name: status reports the daemon (and the errors), stop stops it
/// (also once the file is deleted), reload reports every error and exits
/// 2 without signalling, restart refuses to stop a daemon it could not
/// start again. Refusals are logged to the file's own log.
#[test]
fn a_broken_file_does_not_disable_status_stop_reload_restart() {
    let dir = TempDir::new("typo");
    let run_dir = dir.0.join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let log = dir.0.join("l.log");
    let cf = dir.file(
        "web.cf",
        &format!(
            "logfile=\"{}\"\nquiescent=perhaps\nvirtual=192.0.2.10:80\n\treal=192.0.2.21:80 gateway\n",
            log.display()
        ),
    );
    let ours = |verb: &str| {
        bin()
            .env("LDIRECTORD_RUN_DIR", &run_dir)
            .env("LDIRECTORD_STOP_TIMEOUT", "5")
            .args([s(&cf), verb])
            .output()
            .unwrap()
    };
    let mut d = FakeDaemon::start(
        &dir.0,
        &[s(&cf), "start"],
        &run_dir.join("ldirectord.web.cf.pid"),
    );
    let out = ours("status");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("is running with pid: {}", d.pid())),
        "{err}"
    );
    assert!(
        err.contains("has 2 errors") && err.contains("forward method"),
        "{err}"
    );
    for verb in ["reload", "force-reload", "restart", "try-restart", "start"] {
        let out = ours(verb);
        assert_eq!(out.status.code(), Some(2), "{verb}");
        let err = text(&out.stderr);
        assert!(
            err.contains("web.cf:2:") && err.contains("web.cf:4:"),
            "{verb}: {err}"
        );
    }
    assert!(d.signals(1).is_empty(), "the daemon was signalled");
    assert!(!d.exited());
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("reading file") && logged.contains("at line 4: forward method"));
    assert!(logged.contains("not reloading: the daemon"), "{logged}");
    assert!(logged.contains("Exiting with exit_status 2: config_error: Configuration Error"));

    let out = ours("stop");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(d.signals(1), ["TERM"]);
    assert!(d.exited());

    // Deleted: stop still stops, status still reports it.
    let mut d = FakeDaemon::start(
        &dir.0,
        &[s(&cf), "start"],
        &run_dir.join("ldirectord.web.cf.pid"),
    );
    std::fs::remove_file(&cf).unwrap();
    assert_eq!(ours("status").status.code(), Some(0));
    assert_eq!(ours("stop").status.code(), Some(0));
    assert_eq!(d.signals(1), ["TERM"]);
    assert!(d.exited());
    // With nothing left to stop, a missing file is upstream's error.
    assert_eq!(ours("stop").status.code(), Some(1));
}

#[test]
fn list_without_ipvs_says_so_plainly() {
    // This machine's kernel has no IPVS (the guest tests cover the table).
    if std::path::Path::new("/proc/net/ip_vs").exists() {
        return;
    }
    let out = run(&["list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("kernel has no IPVS support (ip_vs module not available)"),
        "{}",
        text(&out.stderr)
    );
}

/// A minimal HTTP server on 127.0.0.1 answering `200 OK` / body `OK` to
/// at most `max` connections (then the thread ends).
fn tiny_http_server(max: usize) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(max) {
            let Ok(mut s) = stream else { continue };
            let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65536 {
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nOK\n",
            );
        }
    });
    port
}

/// A loopback port nobody listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn check_reports_each_real_and_exits_by_health() {
    let dir = TempDir::new("check");
    let up = tiny_http_server(8);
    let cf = dir.file(
        "up.cf",
        &format!(
            "checktimeout=2\nvirtual=127.0.0.1:80\n\treal=127.0.0.1:{up} gate\n\
             \tservice=http\n\trequest=\"health.html\"\n\treceive=\"OK\"\n"
        ),
    );
    let out = run(&[s(&cf), "check"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("tcp:127.0.0.1:80 (checktype=negotiate, service=http)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("    127.0.0.1:{up} up ")),
        "{stdout}"
    );
    assert!(stdout.contains(": HTTP/1.1 200 OK\n"), "{stdout}");

    let down = closed_port();
    let cf = dir.file(
        "down.cf",
        &format!(
            "checktimeout=2\nvirtual=127.0.0.1:80\n\treal=127.0.0.1:{up} gate\n\
             \treal=127.0.0.1:{down} gate\n\tservice=http\n\trequest=\"health.html\"\n\
             \treceive=\"OK\"\n"
        ),
    );
    let out = run(&[s(&cf), "check"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!("    127.0.0.1:{up} up ")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("    127.0.0.1:{down} down ")),
        "{stdout}"
    );
    assert!(stdout.contains(": Connection refused\n"), "{stdout}");
}
