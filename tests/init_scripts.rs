//! `init/ldirectord` (the LSB init script) run against the built binary,
//! and `init/ldirectord.service` checked by `systemd-analyze verify` (or,
//! without systemd, for its required keys). Everything lives in a temp
//! directory: the defaults file (`LDIRECTORD_DEFAULTS`), the configuration
//! and the pid files (`LDIRECTORD_RUN_DIR`). No network is touched: the
//! configurations name documentation addresses and `checktype=off`.

use std::path::Path;
use std::process::{Command, Output};

#[path = "support/tempdir.rs"]
mod tempdir;
use tempdir::TempDir;

#[path = "support/fake_daemon.rs"]
mod fake_daemon;
use fake_daemon::FakeDaemon;

/// A test directory with the `run/` subdirectory for pid files.
fn temp_dir(name: &str) -> TempDir {
    let d = TempDir::new(name);
    std::fs::create_dir_all(d.0.join("run")).unwrap();
    d
}

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn good_config(dir: &TempDir) -> String {
    format!(
        "logfile=\"{}\"\n\
         virtual=192.0.2.10:80\n\
         \treal=192.0.2.21:80 masq\n\
         \tchecktype=off\n",
        dir.0.join("ldirectord.log").display()
    )
}

/// Run the init script with `action` and a defaults file naming `config`.
fn init(dir: &TempDir, config: &Path, args: &[&str]) -> Output {
    let defaults = dir.file("default", &format!("CONFIG_FILE={}\n", config.display()));
    Command::new(Path::new(ROOT).join("init/ldirectord"))
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("DAEMON", env!("CARGO_BIN_EXE_ldirectord"))
        .env("LDIRECTORD_DEFAULTS", defaults)
        .env("LDIRECTORD_RUN_DIR", dir.0.join("run"))
        .env("LDIRECTORD_RESOLVE", "hosts")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited by a signal")
}

#[test]
fn status_when_stopped_is_3() {
    let d = temp_dir("status");
    let cf = d.file("ldirectord.cf", &good_config(&d));
    let o = init(&d, &cf, &["status"]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    assert!(
        text(&o).contains("ldirectord is stopped for"),
        "{}",
        text(&o)
    );
}

#[test]
fn status_with_stale_pid_file_is_1() {
    let d = temp_dir("stale");
    let cf = d.file("ldirectord.cf", &good_config(&d));
    // A pid that cannot be running (above pid_max's upper bound).
    d.file("run/ldirectord.ldirectord.pid", "4194305\n");
    let o = init(&d, &cf, &["status"]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("stale pid file"), "{}", text(&o));
}

#[test]
fn stop_when_stopped_is_0() {
    let d = temp_dir("stop");
    let cf = d.file("ldirectord.cf", &good_config(&d));
    let o = init(&d, &cf, &["stop"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

#[test]
fn try_restart_when_stopped_is_0() {
    let d = temp_dir("tryrestart");
    let cf = d.file("ldirectord.cf", &good_config(&d));
    let o = init(&d, &cf, &["try-restart"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

/// reload and force-reload with no daemon: 1, as ldirectord reports it
/// (LSB would allow 7; the script passes ldirectord's status through).
#[test]
fn reload_when_stopped_is_1() {
    let d = temp_dir("reload");
    let cf = d.file("ldirectord.cf", &good_config(&d));
    for action in ["reload", "force-reload"] {
        let o = init(&d, &cf, &[action]);
        assert_eq!(code(&o), 1, "{action}: {}", text(&o));
    }
}

#[test]
fn invalid_action_is_2_with_usage() {
    let d = temp_dir("invalid");
    let cf = d.file("ldirectord.cf", &good_config(&d));
    for args in [&["bogus"][..], &[][..], &["start", "extra"][..]] {
        let o = init(&d, &cf, args);
        assert_eq!(code(&o), 2, "{args:?}: {}", text(&o));
        assert!(text(&o).contains("Usage:"), "{args:?}: {}", text(&o));
    }
}

#[test]
fn missing_config_file_warns_and_exits_0() {
    let d = temp_dir("missing");
    let cf = d.0.join("absent.cf");
    for action in ["start", "status", "stop", "reload"] {
        let o = init(&d, &cf, &[action]);
        assert_eq!(code(&o), 0, "{action}: {}", text(&o));
        let t = text(&o);
        assert!(t.contains("Warning") && t.contains("absent.cf"), "{t}");
    }
}

#[test]
fn missing_daemon_is_5_for_start_and_4_for_status() {
    let d = temp_dir("nodaemon");
    let cf = d.file("ldirectord.cf", &good_config(&d));
    let defaults = d.file(
        "default",
        &format!(
            "CONFIG_FILE={}\nDAEMON={}\n",
            cf.display(),
            d.0.join("no-such-ldirectord").display()
        ),
    );
    let run = |action: &str| {
        Command::new(Path::new(ROOT).join("init/ldirectord"))
            .arg(action)
            .env_clear()
            .env("LDIRECTORD_DEFAULTS", &defaults)
            .output()
            .unwrap()
    };
    assert_eq!(code(&run("start")), 5);
    assert_eq!(code(&run("status")), 4);
    assert_eq!(code(&run("stop")), 0);
}

/// A configuration error is passed through as 2 by the actions that use
/// the file; stop has nothing to stop (0), status says stopped (3).
#[test]
fn broken_config_passes_exit_2_through() {
    let d = temp_dir("broken");
    let cf = d.file(
        "ldirectord.cf",
        "virtual=192.0.2.10:80\n\treal=192.0.2.21:80 gateway\n",
    );
    for action in ["start", "restart", "reload"] {
        let o = init(&d, &cf, &[action]);
        assert_eq!(code(&o), 2, "{action}: {}", text(&o));
        assert!(text(&o).contains("forward method"), "{}", text(&o));
    }
    assert_eq!(code(&init(&d, &cf, &["stop"])), 0);
    let o = init(&d, &cf, &["status"]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    assert!(text(&o).contains("forward method"), "{}", text(&o));
}

/// A typo saved in the file while the daemon runs: status still reports
/// it running (0), reload is refused (2) and leaves it alone, restart
/// refuses to stop it (2), stop stops it (0).
#[test]
fn a_typo_in_the_file_does_not_disable_status_stop_reload_restart() {
    let d = temp_dir("typo");
    let cf = d.file("ldirectord.cf", &good_config(&d));
    let mut daemon = FakeDaemon::start(
        &d.0,
        &[cf.to_str().unwrap(), "start"],
        &d.0.join("run/ldirectord.ldirectord.pid"),
    );
    assert_eq!(code(&init(&d, &cf, &["status"])), 0);
    std::fs::write(&cf, good_config(&d).replace("masq", "masquerade")).unwrap();
    let o = init(&d, &cf, &["status"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    for action in ["reload", "force-reload", "restart", "try-restart"] {
        let o = init(&d, &cf, &[action]);
        assert_eq!(code(&o), 2, "{action}: {}", text(&o));
        assert!(text(&o).contains("forward method"), "{}", text(&o));
    }
    assert!(daemon.signals(1).is_empty());
    assert_eq!(code(&init(&d, &cf, &["stop"])), 0);
    assert_eq!(daemon.signals(1), ["TERM"]);
    assert!(daemon.exited());
    assert_eq!(code(&init(&d, &cf, &["status"])), 3);
}

/// On a host without IPVS (this build machine) `start` fails with 1 and
/// says why. Skipped where IPVS is or could be loaded: the test must not
/// program a real kernel's table.
#[test]
fn start_without_ipvs_fails_with_1() {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let ipvs_module = Path::new("/lib/modules")
        .join(release.trim())
        .join("kernel/net/netfilter/ipvs");
    if Path::new("/proc/net/ip_vs").exists() || ipvs_module.exists() {
        eprintln!("skipped: IPVS is available on this host");
        return;
    }
    let d = temp_dir("start");
    let cf = d.file("ldirectord.cf", &good_config(&d));
    let o = init(&d, &cf, &["start"]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("ldirectord: ") && t.contains("IPVS"), "{t}");
    assert!(!d.0.join("run/ldirectord.ldirectord.pid").exists());
    let o = init(&d, &cf, &["status"]);
    assert_eq!(code(&o), 3, "{}", text(&o));
}

#[test]
fn init_script_has_lsb_header() {
    let s = std::fs::read_to_string(Path::new(ROOT).join("init/ldirectord")).unwrap();
    assert!(s.starts_with("#!/bin/sh\n"));
    for line in [
        "### BEGIN INIT INFO",
        "# Provides:          ldirectord",
        "# Required-Start:    $network $remote_fs $syslog",
        "# Default-Start:     2 3 4 5",
        "# Short-Description: ",
        "# Description: ",
        "### END INIT INFO",
    ] {
        assert!(s.contains(line), "missing {line:?}");
    }
}

fn unit() -> String {
    std::fs::read_to_string(Path::new(ROOT).join("init/ldirectord.service")).unwrap()
}

#[test]
fn service_unit_has_required_keys() {
    let u = unit();
    let keys: Vec<(String, String)> = u
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let get = |k: &str| {
        keys.iter()
            .find(|(kk, _)| kk == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{k}= missing"))
    };
    for section in ["[Unit]", "[Service]", "[Install]"] {
        assert!(u.contains(section), "{section} missing");
    }
    assert_eq!(get("Type"), "forking");
    assert_eq!(get("PIDFile"), "/run/ldirectord.ldirectord.pid");
    assert_eq!(get("ExecStart"), "/usr/sbin/ldirectord start");
    assert_eq!(get("ExecReload"), "/usr/sbin/ldirectord reload");
    assert_eq!(get("ExecStop"), "/usr/sbin/ldirectord stop");
    assert!(get("After").contains("network-online.target"));
    let stop: u32 = get("TimeoutStopSec").parse().unwrap();
    assert!(stop > 30, "TimeoutStopSec must exceed stop's 30 s bound");
    assert!(!keys.iter().any(|(k, _)| k == "KillMode"));
    assert!(u.contains("AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW"));
    assert_eq!(get("WantedBy"), "multi-user.target");
}

/// `systemd-analyze verify` on the unit, its commands pointed at the built
/// binary (the installed path does not exist here). Skipped without systemd.
#[test]
fn service_unit_verifies() {
    let Ok(probe) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("skipped: no systemd-analyze");
        return;
    };
    if !probe.status.success() {
        eprintln!("skipped: systemd-analyze does not run");
        return;
    }
    let d = temp_dir("unit");
    let path = d.file(
        "ldirectord.service",
        &unit().replace("/usr/sbin/ldirectord", env!("CARGO_BIN_EXE_ldirectord")),
    );
    let o = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    // Other units of the machine may draw warnings; ours must draw none.
    let ours: Vec<String> = text(&o)
        .lines()
        .filter(|l| l.contains("ldirectord"))
        .map(String::from)
        .collect();
    assert!(o.status.success() && ours.is_empty(), "{}", text(&o));
}

/// The init script is POSIX sh and shellcheck-clean (skipped without
/// shellcheck; `tests/vm/install-deps.sh --lint` installs it).
#[test]
fn init_script_is_shellcheck_clean() {
    let Ok(o) = Command::new("shellcheck")
        .args(["-s", "sh", "-x"])
        .arg(Path::new(ROOT).join("init/ldirectord"))
        .output()
    else {
        eprintln!("skipped: no shellcheck");
        return;
    };
    assert!(o.status.success(), "{}", text(&o));
}
