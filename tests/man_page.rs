//! man/ldirectord.8 documents everything the program accepts: every
//! directive the parser knows and every command of the CLI.

use ldirectord::config::resolve::{BLOCK_ONLY, GLOBAL_ONLY, SHARED};

fn man() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/ldirectord.8")).unwrap()
}

#[test]
fn every_directive_is_documented() {
    let man = man();
    let extra = ["virtual", "virtual6", "connecttimeout", "timeout"];
    let missing: Vec<&str> = GLOBAL_ONLY
        .iter()
        .chain(SHARED)
        .chain(BLOCK_ONLY)
        .chain(extra.iter())
        .copied()
        .filter(|d| !man.contains(&format!("{d}=")))
        .collect();
    assert!(missing.is_empty(), "not in man/ldirectord.8: {missing:?}");
}

#[test]
fn every_command_and_option_is_documented() {
    let man = man();
    for verb in [
        "start",
        "stop",
        "restart",
        "try\\-restart",
        "reload",
        "force\\-reload",
        "status",
        "configtest",
        "check",
        "list",
        "doctor",
        "\\-\\-real",
        "\\-\\-stats",
        "\\-\\-json",
        "\\-t",
        "\\-d",
        "\\-\\-debug",
    ] {
        assert!(man.contains(verb), "{verb} not in man/ldirectord.8");
    }
}

#[test]
fn every_service_and_checktype_is_documented() {
    let man = man();
    for s in ldirectord::config::Service::ALL {
        assert!(man.contains(s.as_str()), "service {s} not documented");
    }
    for t in [
        "connect",
        "negotiate",
        "ping",
        "external",
        "external\\-perl",
        "on",
        "off",
    ] {
        assert!(
            man.contains(&format!(".B {t}\n")),
            "checktype {t} not documented"
        );
    }
}
