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
        "drain",
        "disable",
        "enable",
        "weight",
        "plan",
        "\\-\\-wait",
        "OPERATOR OVERRIDES",
        "ldirectord_real_override",
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

/// The page renders without a groff warning (skipped without groff;
/// tests/servers/install.sh installs groff-base). A terminal and a printed
/// page are both checked: the long real= synopsis once could not be
/// adjusted on a terminal's line.
#[test]
fn groff_renders_it_without_warnings() {
    let page = concat!(env!("CARGO_MANIFEST_DIR"), "/man/ldirectord.8");
    for device in ["utf8", "ps"] {
        let Ok(out) = std::process::Command::new("groff")
            .args(["-ww", "-man", "-T", device, page])
            .output()
        else {
            eprintln!("skipped: no groff");
            return;
        };
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && warnings.is_empty(),
            "groff -T {device}: {warnings}"
        );
    }
}

/// execute= works: no part of the page may say otherwise.
#[test]
fn execute_is_documented_as_working_everywhere() {
    let man = man();
    assert!(man.contains(".BI execute= configfile\nStart, stop, reload and query"));
    assert!(
        !man.contains("does not act on"),
        "a sentence still says execute is ignored"
    );
}

/// failurecount documents how long a hung real server can keep its
/// connections (the worst case an operator plans for).
#[test]
fn failurecount_documents_the_removal_bound() {
    let man = man();
    let entry = &man[man.find(".BI failurecount= n").unwrap()..];
    let entry = &entry[..entry.find(".BI risecount=").unwrap()];
    for needed in [
        "checkinterval + (failurecount \\- 1) \\(mu max(checkinterval, timeout) + timeout",
        "failurecount \\(mu timeout + checkinterval",
        "failurecount \\(mu checkinterval",
    ] {
        assert!(entry.contains(needed), "missing {needed:?} in {entry}");
    }
}
