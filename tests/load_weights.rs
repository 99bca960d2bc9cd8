//! The director with load monitors and slow start, driven through its
//! public API on the in-memory IPVS backend with a fake clock: agent
//! answers move kernel weights (and never take a real down unless they say
//! so), drain and maint, slow start once a second, and the load-driven
//! weight kept through drift repair, reload and adoption.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ldirectord::check::load::{self, LoadQuery};
use ldirectord::check::{CheckError, Target};
use ldirectord::config::{self, names::Lookup, Config, Options};
use ldirectord::daemon::director::{Director, Message, NoHooks, RealWeight};
use ldirectord::daemon::log::{Logger, Sink};
use ldirectord::ipvs::{IpvsBackend, MemoryIpvs};

fn cfg(text: &str) -> Arc<Config> {
    let opts = Options {
        lookup: Lookup::HostsFile,
        hostname: "t".into(),
    };
    Arc::new(
        config::load_str(text, Path::new("t.cf"), &opts)
            .unwrap_or_else(|e| panic!("{e}"))
            .config,
    )
}

/// A director on memory with its log in a file of its own.
fn director(c: Arc<Config>, b: MemoryIpvs, name: &str) -> (Director<MemoryIpvs>, PathBuf) {
    let dir = std::env::temp_dir().join(format!("ldrs-load-weights-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join(format!("{name}.log"));
    let _ = std::fs::remove_file(&log);
    let logger = Arc::new(Logger::new(Sink::File(log.clone()), "t"));
    (Director::new(c, b, logger), log)
}

fn logged(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        // `[time|cfgname|pid] message`
        .map(|l| l.split_once("] ").map_or(l, |(_, m)| m).to_string())
        .collect()
}

fn result(c: &Config, vi: usize, ri: usize, ok: bool) -> Message {
    let v = &c.virtuals[vi];
    Message::Result {
        target: Arc::new(Target::new(v, &v.reals[ri])),
        result: if ok {
            Ok("up".into())
        } else {
            Err(CheckError::Refused)
        },
        latency: Duration::from_millis(1),
    }
}

fn weights(b: &mut MemoryIpvs) -> Vec<(String, u32)> {
    let mut out: Vec<(String, u32)> = b
        .services()
        .unwrap()
        .into_iter()
        .flat_map(|(_, ds)| ds.into_iter().map(|d| (d.key.to_string(), d.weight)))
        .collect();
    out.sort();
    out
}

const LOADCF: &str = "quiescent=no\nfallback=127.0.0.1:80\n\
    virtual=192.0.2.10:80\n\treal=192.0.2.21:80 masq 10\n\treal=192.0.2.22:80 masq 10\n\
    \tloadmonitor=agent:7000\n\tslowstart=10\n";

fn agent_says(c: &Config, ri: usize, line: &str) -> Message {
    let v = &c.virtuals[0];
    Message::Load {
        query: Arc::new(LoadQuery::new(v, &v.reals[ri]).unwrap()),
        result: load::agent::parse(line).map(load::Reading::Agent),
    }
}

fn weight_of(d: &mut Director<MemoryIpvs>, real: &str) -> Option<u32> {
    weights(d.backend())
        .into_iter()
        .find(|(k, _)| k == real)
        .map(|(_, w)| w)
}

/// Both reals up at start-up (no ramp then).
fn started(c: &Arc<Config>, t0: Instant, name: &str) -> (Director<MemoryIpvs>, PathBuf) {
    let (mut d, log) = director(c.clone(), MemoryIpvs::new(), name);
    d.start_at(t0, &mut NoHooks);
    d.handle_batch_at(
        [result(c, 0, 0, true), result(c, 0, 1, true)],
        t0,
        &mut NoHooks,
    );
    (d, log)
}

#[test]
fn agent_answers_move_kernel_weights_and_never_take_a_real_down() {
    let c = cfg(LOADCF);
    let t0 = Instant::now();
    let (mut d, log) = started(&c, t0, "agent");
    assert_eq!(
        weight_of(&mut d, "192.0.2.21:80"),
        Some(10),
        "no ramp at start-up"
    );
    d.handle_at(agent_says(&c, 0, "50%"), t0, &mut NoHooks);
    assert_eq!(weight_of(&mut d, "192.0.2.21:80"), Some(5));
    d.handle_at(agent_says(&c, 1, "up 250%"), t0, &mut NoHooks);
    assert_eq!(weight_of(&mut d, "192.0.2.22:80"), Some(25));
    assert_eq!(
        d.real_weight(0, 0),
        Some(RealWeight {
            configured: 10,
            effective: Some(5),
            reasons: vec!["agent 50%".into()]
        })
    );
    // A failing or garbled monitor leaves the weight where it was.
    let v = &c.virtuals[0];
    let failed = Message::Load {
        query: Arc::new(LoadQuery::new(v, &v.reals[0]).unwrap()),
        result: Err(CheckError::Timeout),
    };
    d.handle_at(failed, t0, &mut NoHooks);
    d.handle_at(agent_says(&c, 0, "fifty"), t0, &mut NoHooks);
    assert_eq!(weight_of(&mut d, "192.0.2.21:80"), Some(5));
    assert_eq!(
        d.real_weight(0, 0).unwrap().reasons,
        [
            "agent 50%",
            "agent failing: protocol error: agent answered \"fifty\", not an agent-check word"
        ]
    );
    let lines = logged(&log);
    let n = |p: &str| lines.iter().filter(|l| l.starts_with(p)).count();
    assert_eq!(n("Load monitor agent 192.0.2.21:7000 failed"), 1);
    assert_eq!(
        n("Changed real server weight: 192.0.2.21:80 (192.0.2.10:80) (Weight set to 5)"),
        1
    );
    // An agent's down is a failed check with its text as the reason.
    d.handle_at(
        agent_says(&c, 0, "stopped#backup running"),
        t0,
        &mut NoHooks,
    );
    assert_eq!(weight_of(&mut d, "192.0.2.21:80"), None);
    assert!(d.status_lines().iter().any(|l| l.starts_with(
        "  192.0.2.21:80\tup\tweight 10\teffective out (agent stopped (backup running), agent 50%)\tkernel -"
    )), "{:?}", d.status_lines());
    // A passing health check does not bring it back; the agent's up does.
    d.handle_at(result(&c, 0, 0, true), t0, &mut NoHooks);
    assert_eq!(weight_of(&mut d, "192.0.2.21:80"), None);
    d.handle_at(
        agent_says(&c, 0, "up"),
        t0 + Duration::from_secs(60),
        &mut NoHooks,
    );
    assert_eq!(weight_of(&mut d, "192.0.2.21:80"), Some(1), "and ramps");
}

#[test]
fn drain_keeps_the_real_at_zero_and_maint_takes_it_out() {
    let c = cfg(&LOADCF.replace("\tslowstart=10\n", ""));
    let t0 = Instant::now();
    let (mut d, _) = started(&c, t0, "drain");
    d.handle_at(agent_says(&c, 0, "drain"), t0, &mut NoHooks);
    assert_eq!(weight_of(&mut d, "192.0.2.21:80"), Some(0));
    // Both drained: the fallback joins them.
    d.handle_at(agent_says(&c, 1, "drain"), t0, &mut NoHooks);
    assert_eq!(
        weights(d.backend()),
        [
            ("127.0.0.1:80".to_string(), 1),
            ("192.0.2.21:80".to_string(), 0),
            ("192.0.2.22:80".to_string(), 0)
        ]
    );
    d.handle_at(agent_says(&c, 0, "maint"), t0, &mut NoHooks);
    assert_eq!(weight_of(&mut d, "192.0.2.21:80"), None);
    d.handle_at(agent_says(&c, 0, "ready"), t0, &mut NoHooks);
    d.handle_at(agent_says(&c, 1, "ready 20%"), t0, &mut NoHooks);
    assert_eq!(
        weights(d.backend()),
        [
            ("192.0.2.21:80".to_string(), 10),
            ("192.0.2.22:80".to_string(), 2)
        ]
    );
}

/// Drives the fake clock second by second after a real returns and
/// records each kernel weight and the edits made.
#[test]
fn slow_start_ramps_once_a_second_with_a_fake_clock() {
    let c = cfg(&LOADCF.replace(
        "masq 10\n\treal=192.0.2.22:80 masq 10",
        "masq 40\n\treal=192.0.2.22:80 masq 10",
    ));
    let t0 = Instant::now();
    let (mut d, log) = started(&c, t0, "slow");
    assert_eq!(weight_of(&mut d, "192.0.2.21:80"), Some(40));
    d.handle_at(
        result(&c, 0, 0, false),
        t0 + Duration::from_secs(1),
        &mut NoHooks,
    );
    assert_eq!(weight_of(&mut d, "192.0.2.21:80"), None);
    let back = t0 + Duration::from_secs(5);
    d.handle_at(result(&c, 0, 0, true), back, &mut NoHooks);
    assert_eq!(d.next_wake(), Some(back + Duration::from_secs(1)));
    let mut seen = vec![weight_of(&mut d, "192.0.2.21:80").unwrap()];
    // Wake-ups every 250 ms for 12 s: edits only on whole seconds.
    for i in 1..=48u64 {
        d.handle_batch_at([], back + Duration::from_millis(250 * i), &mut NoHooks);
        let w = weight_of(&mut d, "192.0.2.21:80").unwrap();
        if *seen.last().unwrap() != w {
            assert_eq!(i % 4, 0, "a change between whole seconds at {i}");
            seen.push(w);
        }
        if i == 12 {
            assert_eq!(d.real_weight(0, 0).unwrap().reasons, ["slow start 12/40"]);
        }
    }
    assert_eq!(seen, [1, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40]);
    assert_eq!(d.next_wake(), None);
    let lines = logged(&log);
    assert!(lines.contains(
        &"Added real server: 192.0.2.21:80 (192.0.2.10:80) (Weight set to 1)".to_string()
    ));
    // The agent halves it mid-ramp: the ramp climbs to the new target.
    d.handle_at(
        result(&c, 0, 0, false),
        back + Duration::from_secs(20),
        &mut NoHooks,
    );
    let again = back + Duration::from_secs(30);
    d.handle_at(result(&c, 0, 0, true), again, &mut NoHooks);
    d.handle_at(
        agent_says(&c, 0, "50%"),
        again + Duration::from_secs(5),
        &mut NoHooks,
    );
    assert_eq!(weight_of(&mut d, "192.0.2.21:80"), Some(10));
    // A real that fails during its ramp drops as usual.
    d.handle_at(
        result(&c, 0, 0, false),
        again + Duration::from_secs(6),
        &mut NoHooks,
    );
    assert_eq!(weight_of(&mut d, "192.0.2.21:80"), None);
    assert_eq!(d.next_wake(), None);
}

#[test]
fn drift_repair_reload_and_adoption_keep_the_load_driven_weight() {
    let c = cfg(LOADCF);
    let t0 = Instant::now();
    let (mut d, _) = started(&c, t0, "keep");
    d.handle_at(agent_says(&c, 0, "30%"), t0, &mut NoHooks);
    assert_eq!(weight_of(&mut d, "192.0.2.21:80"), Some(3));
    d.backend().flush().unwrap();
    d.handle_at(Message::Tick, t0, &mut NoHooks);
    assert_eq!(weight_of(&mut d, "192.0.2.21:80"), Some(3), "drift repair");
    let c2 = cfg(&format!(
        "{LOADCF}virtual=192.0.2.11:80\n\treal=192.0.2.31:80 gate\n"
    ));
    d.handle_at(Message::Reload(c2, None), t0, &mut NoHooks);
    assert_eq!(weight_of(&mut d, "192.0.2.21:80"), Some(3), "reload");
    // A new daemon adopts the table: the weight is held until the
    // agent answers, with no ramp.
    let table = std::mem::take(d.backend());
    let (mut d2, _) = director(c.clone(), table, "adopted");
    d2.start_at(t0, &mut NoHooks);
    assert_eq!(weight_of(&mut d2, "192.0.2.21:80"), Some(3), "adoption");
    assert_eq!(
        d2.real_weight(0, 0).unwrap().reasons,
        ["kernel weight 3 kept until the agent answers"]
    );
    d2.handle_at(agent_says(&c, 0, "up"), t0, &mut NoHooks);
    assert_eq!(weight_of(&mut d2, "192.0.2.21:80"), Some(10));
    assert_eq!(d2.next_wake(), None);
}
