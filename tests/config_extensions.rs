//! The ldirectord-rs extension directives (`loadmonitor=`, `loadinterval=`,
//! `loadtimeout=`, `slowstart=`, `syncdaemon=`, `statusaddress=`): their
//! values, defaults, inheritance, errors, and that `-t` prints them back.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use ldirectord::config::{
    self, canonical, names::Lookup, Config, LoadMonitor, Options, SyncDaemonConf, SyncRole,
};

fn opts() -> Options {
    Options {
        lookup: Lookup::HostsFile,
        hostname: "testhost".into(),
    }
}

fn ok(text: &str) -> Config {
    match config::load_str(text, Path::new("t.cf"), &opts()) {
        Ok(l) => l.config,
        Err(e) => panic!("{e}"),
    }
}

/// The messages of every error.
fn errors(text: &str) -> Vec<String> {
    config::load_str(text, Path::new("t.cf"), &opts())
        .expect_err("should be rejected")
        .errors()
        .map(|d| d.message.clone())
        .collect()
}

/// `-t` output parses back to the same configuration (line numbers aside).
fn round_trips(c: &Config) {
    let text = canonical::render(c);
    let lineless = |c: &Config| {
        let mut v = c.virtuals.clone();
        for v in &mut v {
            v.line = 0;
            v.reals.iter_mut().for_each(|r| r.line = 0);
        }
        v
    };
    let again = ok(&text);
    assert_eq!(again.global, c.global, "{text}");
    assert_eq!(lineless(&again), lineless(c), "{text}");
}

const REAL: &str = "\treal=192.0.2.21:80 gate\n";

#[test]
fn defaults_change_nothing() {
    let c = ok(&format!(
        "checkinterval=7\nvirtual=192.0.2.10:80\n\tchecktimeout=3\n{REAL}"
    ));
    let v = &c.virtuals[0];
    assert_eq!(v.loadmonitor, LoadMonitor::None);
    assert_eq!((v.loadinterval, v.loadtimeout, v.slowstart), (7, 3, 0));
    assert_eq!(c.global.syncdaemon, None);
    assert_eq!(c.global.statusaddress, None);
    let text = canonical::render(&c);
    for name in [
        "loadmonitor",
        "loadinterval",
        "loadtimeout",
        "slowstart",
        "syncdaemon",
        "statusaddress",
    ] {
        assert!(
            !text.contains(name),
            "-t prints no extension that is not set:\n{text}"
        );
    }
}

#[test]
fn load_directives_are_inherited_and_overridden() {
    let c = ok(&format!(
        "loadmonitor=agent:4444\nloadinterval=5\nslowstart=30\n\
         virtual=192.0.2.10:80\n{REAL}\
         virtual=192.0.2.11:80\n\tloadmonitor=command:/usr/local/bin/load\n\tloadtimeout=2\n\
         \tslowstart=0\n{REAL}\
         virtual=192.0.2.12:80\n\tloadmonitor=nanny:rup\n\tloadinterval=20\n{REAL}\
         virtual=192.0.2.13:80\n\tloadmonitor=none\n{REAL}"
    ));
    let v: Vec<_> = c
        .virtuals
        .iter()
        .map(|v| {
            (
                v.loadmonitor.clone(),
                v.loadinterval,
                v.loadtimeout,
                v.slowstart,
            )
        })
        .collect();
    assert_eq!(
        v,
        [
            (LoadMonitor::Agent { port: 4444 }, 5, 5, 30),
            (
                LoadMonitor::Command(PathBuf::from("/usr/local/bin/load")),
                5,
                2,
                0
            ),
            (LoadMonitor::Nanny("rup".into()), 20, 5, 30),
            (LoadMonitor::None, 5, 5, 30),
        ]
    );
    round_trips(&c);
}

#[test]
fn load_interval_and_timeout_follow_each_virtuals_check_settings() {
    let c = ok(&format!(
        "loadmonitor=nanny:/usr/sbin/h2e_get_cluster_load.sh\n\
         virtual=192.0.2.10:80\n\tcheckinterval=3\n\tnegotiatetimeout=9\n{REAL}\
         virtual=192.0.2.11:80\n\tloadinterval=3\n{REAL}"
    ));
    assert_eq!(
        (c.virtuals[0].loadinterval, c.virtuals[0].loadtimeout),
        (3, 9)
    );
    assert_eq!(
        (c.virtuals[1].loadinterval, c.virtuals[1].loadtimeout),
        (3, 5)
    );
    round_trips(&c);
}

#[test]
fn load_monitor_values_are_checked() {
    for (value, needle) in [
        ("agent:0", "port from 1 to 65535"),
        ("agent:http", "port from 1 to 65535"),
        ("agent:70000", "port from 1 to 65535"),
        ("command:load.sh", "absolute program path"),
        ("command:", "absolute program path"),
        ("nanny:uptime", "rup, ruptime, rsh, ssh"),
        ("haproxy", "must be none, agent:PORT"),
        ("none:1", "must be none, agent:PORT"),
    ] {
        let e = errors(&format!(
            "virtual=192.0.2.10:80\n\tloadmonitor={value}\n{REAL}"
        ));
        assert!(
            e.len() == 1 && e[0].contains(needle),
            "{value}: {e:?} should say {needle}"
        );
    }
    for (line, needle) in [
        ("loadinterval=0", "from 1 to 86400"),
        ("loadinterval=5s", "from 1 to 86400"),
        ("loadtimeout=-1", "from 1 to 86400"),
        ("slowstart=ten", "from 0 to 86400"),
        ("slowstart=86401", "from 0 to 86400"),
    ] {
        let e = errors(&format!("{line}\nvirtual=192.0.2.10:80\n{REAL}"));
        assert!(
            e.len() == 1 && e[0].contains(needle),
            "{line}: {e:?} should say {needle}"
        );
    }
}

#[test]
fn sync_daemon_reads_every_option() {
    let c = ok(&format!(
        "syncdaemon=both eth1 syncid=10 maxlen=1400 port=8849 ttl=2 group=239.1.2.3\n\
         virtual=192.0.2.10:80\n{REAL}"
    ));
    assert_eq!(
        c.global.syncdaemon,
        Some(SyncDaemonConf {
            role: SyncRole::Both,
            interface: "eth1".into(),
            syncid: Some(10),
            maxlen: Some(1400),
            port: Some(8849),
            ttl: Some(2),
            group: Some("239.1.2.3".parse::<IpAddr>().unwrap()),
        })
    );
    round_trips(&c);
    let c = ok(&format!(
        "syncdaemon=master eth0\nvirtual=192.0.2.10:80\n{REAL}"
    ));
    let s = c.global.syncdaemon.as_ref().unwrap();
    assert_eq!((s.role, s.syncid, s.group), (SyncRole::Master, None, None));
    round_trips(&c);
    let c = ok(&format!(
        "syncdaemon=backup eth0 group=ff02::1:3\nvirtual=192.0.2.10:80\n{REAL}"
    ));
    round_trips(&c);
}

#[test]
fn sync_daemon_errors_name_the_problem() {
    for (value, needle) in [
        ("", "needs a role first"),
        ("primary eth0", "needs a role first"),
        ("master", "needs an interface"),
        ("master averyveryverylongname0", "not an interface name"),
        (
            "master eth0 syncid=256",
            "syncid must be a number from 0 to 255",
        ),
        ("master eth0 ttl=0", "ttl must be a number from 1 to 255"),
        (
            "master eth0 port=x",
            "port must be a number from 1 to 65535",
        ),
        (
            "master eth0 group=192.0.2.1",
            "group must be a multicast address",
        ),
        ("master eth0 mcast=1", "unknown option \"mcast=1\""),
    ] {
        let e = errors(&format!(
            "syncdaemon={value}\nvirtual=192.0.2.10:80\n{REAL}"
        ));
        assert!(
            e.len() == 1 && e[0].contains(needle),
            "{value}: {e:?} should say {needle}"
        );
    }
    let e = errors(&format!(
        "virtual=192.0.2.10:80\n\tsyncdaemon=master eth0\n{REAL}"
    ));
    assert!(e[0].contains("is a global directive"), "{e:?}");
}

#[test]
fn status_address_is_a_literal_socket_address() {
    let c = ok(&format!(
        "statusaddress=127.0.0.1:9100\nvirtual=192.0.2.10:80\n{REAL}"
    ));
    assert_eq!(
        c.global.statusaddress,
        Some("127.0.0.1:9100".parse::<SocketAddr>().unwrap())
    );
    round_trips(&c);
    let c = ok(&format!(
        "statusaddress=[::1]:9100\nvirtual=192.0.2.10:80\n{REAL}"
    ));
    round_trips(&c);
    for value in ["localhost:9100", "127.0.0.1", "127.0.0.1:0", ":9100"] {
        let e = errors(&format!(
            "statusaddress={value}\nvirtual=192.0.2.10:80\n{REAL}"
        ));
        assert!(
            e.len() == 1 && e[0].contains("statusaddress must be ADDRESS:PORT"),
            "{value}: {e:?}"
        );
    }
}
