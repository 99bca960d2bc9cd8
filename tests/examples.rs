//! Every `examples/*.cf` is a valid configuration: `ldirectord -t` accepts
//! it with exit 0 and no warning, uses only documentation addresses, and
//! starts with a comment header saying what it shows. The one exception,
//! `piranha-lvs.cf`, is a Piranha lvs.cf: `ldirectord convert` turns it
//! into `piranha-ldirectord.cf`, byte for byte.

use std::path::PathBuf;
use std::process::Command;

fn examples() -> Vec<PathBuf> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cf"))
        .filter(|p| !p.ends_with(PIRANHA_LVS))
        .collect();
    v.sort();
    v
}

/// Not an ldirectord.cf: the input of `ldirectord convert`.
const PIRANHA_LVS: &str = "piranha-lvs.cf";

#[test]
fn the_piranha_example_converts_to_its_ldirectord_cf() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let lvs = std::fs::read_to_string(dir.join(PIRANHA_LVS)).unwrap();
    assert!(
        lvs.starts_with(&format!("# {PIRANHA_LVS} - ")),
        "no header comment"
    );
    // What `cd examples; ldirectord convert piranha-lvs.cf -o
    // piranha-ldirectord.cf` writes (no companion: nothing names its path).
    let opts = ldirectord::piranha::Options {
        lenient: false,
        ha: None,
        lookup: ldirectord::config::names::Lookup::HostsFile,
        placement: ldirectord::piranha::Placement {
            dir: dir.clone(),
            cf_name: "piranha-ldirectord.cf".into(),
        },
        source: PIRANHA_LVS.into(),
    };
    let conv = ldirectord::piranha::convert(&lvs, &opts).unwrap();
    assert!(conv.companions.is_empty());
    let want = std::fs::read_to_string(dir.join("piranha-ldirectord.cf")).unwrap();
    assert!(
        conv.cf == want,
        "examples/piranha-ldirectord.cf is not what convert writes; regenerate it:\n{}",
        conv.cf
    );
}

#[test]
fn every_example_passes_configtest_without_warnings() {
    let files = examples();
    assert!(files.len() >= 30, "only {} examples", files.len());
    let mut bad = Vec::new();
    for f in &files {
        let o = Command::new(env!("CARGO_BIN_EXE_ldirectord"))
            .arg("-t")
            .arg(f)
            .env("LDIRECTORD_RESOLVE", "hosts")
            .env("LDIRECTORD_CONFIG_DIR", "/nonexistent-ldirectord-test-dir")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        if !o.status.success() || !stderr.trim().is_empty() {
            bad.push(format!("{}: {:?}\n{stderr}", f.display(), o.status.code()));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn every_service_and_forwarding_method_has_an_example() {
    let names: Vec<String> = examples()
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for s in ldirectord::config::Service::ALL {
        if s.as_str() == "oracle" {
            continue; // refused at load (man page, C18)
        }
        let want = format!("service-{}", s.as_str());
        assert!(names.contains(&want), "no examples/{want}.cf");
    }
    for f in [
        "forward-gate",
        "forward-masq",
        "forward-ipip",
        "ipv6",
        "fwmark",
        "fallback",
        "quiescent",
        "persistence",
        "external",
        "combined",
        "thresholds",
        "multi-vrrp",
        "multi-ecmp",
        "multi-pacemaker",
        "loadmonitor-agent",
        "loadmonitor-command",
        "loadmonitor-nanny",
    ] {
        assert!(names.iter().any(|n| n == f), "no examples/{f}.cf");
    }
}

/// Headers, and addresses only from 192.0.2.0/24, 198.51.100.0/24,
/// 203.0.113.0/24, 2001:db8::/32 (and loopback).
#[test]
fn examples_have_headers_and_documentation_addresses() {
    let v4 = regex::Regex::new(r"\b(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\b").unwrap();
    let v6 = regex::Regex::new(r"\[([0-9a-fA-F:]+)\]").unwrap();
    for f in examples() {
        let text = std::fs::read_to_string(&f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            text.starts_with(&format!("# {name} - ")),
            "{name}: no header comment"
        );
        for c in v4.captures_iter(&text) {
            let a = &c[0];
            let ok = ["192.0.2.", "198.51.100.", "203.0.113.", "127.0.0."]
                .iter()
                .any(|p| a.starts_with(p))
                || a.starts_with("255.");
            assert!(ok, "{name}: {a} is not a documentation address");
        }
        for c in v6.captures_iter(&text) {
            assert!(
                c[1].to_ascii_lowercase().starts_with("2001:db8:"),
                "{name}: [{}] is not a documentation address",
                &c[1]
            );
        }
    }
}

/// The keepalived half of the VRRP example holds the VIP only (no
/// virtual_server: ldirectord-rs owns the IPVS table), uses documentation
/// addresses, and passes keepalived's own configuration test when
/// keepalived is installed.
#[test]
fn the_keepalived_snippet_holds_only_the_vip() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/multi-vrrp-keepalived.conf"
    );
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.starts_with("# multi-vrrp-keepalived.conf - "));
    let config: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    assert!(config.contains("vrrp_instance") && config.contains("virtual_ipaddress"));
    assert!(!config.contains("virtual_server"));
    let cf = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/multi-vrrp.cf"
    ))
    .unwrap();
    assert!(text.contains("192.0.2.100/24") && cf.contains("virtual=192.0.2.100:80"));
    if std::path::Path::new("/usr/sbin/keepalived").exists() {
        let o = Command::new("/usr/sbin/keepalived")
            .args(["--config-test", "-f", path])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "keepalived --config-test: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
