//! The director's unit tests, on the in-memory IPVS backend.

use super::*;
use crate::check::CheckError;
use crate::daemon::log::Sink;
use crate::ipvs::{Dest, DestKey, Forward, MemoryIpvs, Op, Service};

pub(super) fn cfg(text: &str) -> Arc<Config> {
    Arc::new(crate::config::test_config(text))
}

#[derive(Default)]
struct Recorder(Vec<String>);

impl Hooks for Recorder {
    fn fallback_command(&mut self, cmd: &str, action: &str, service: &str, proto: &str) {
        self.0.push(format!("{cmd} {action} {service} {proto}"));
    }

    fn alert(&mut self, v: &Virtual, g: &crate::config::Global, text: &str, s: DaemonStatus) {
        if let Some(a) = crate::daemon::alert::compose(v, g, text, s, "h") {
            self.0.push(format!("mail {}: {}", s.as_str(), a.subject));
        }
    }
}

pub(super) fn director<B: IpvsBackend>(c: Arc<Config>, b: B) -> (Director<B>, Arc<Logger>) {
    let log = Arc::new(Logger::new(Sink::Stderr, "t"));
    (Director::new(c, b, log.clone()), log)
}

pub(super) fn result(c: &Config, vi: usize, ri: usize, ok: bool) -> Message {
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

const CF: &str = "fallback=127.0.0.1:80\nfailurecount=2\n\
        virtual=192.0.2.10:80\n\treal=192.0.2.21:80 masq 3\n\treal=192.0.2.22:80 masq 2\n\
        \tfallbackcommand=\"/bin/echo FB\"\n";

#[test]
fn start_adds_nothing_until_a_check_passes_then_follows_failurecount() {
    let c = cfg(CF);
    let (mut d, log) = director(c.clone(), MemoryIpvs::new());
    let mut h = Recorder::default();
    d.start(&mut h);
    // No real is known yet, and the fallback waits for their first
    // checks: nothing is added, no command runs (C20).
    assert_eq!(weights(d.backend()), []);
    assert!(h.0.is_empty(), "{:?}", h.0);
    d.handle(result(&c, 0, 0, true), &mut h);
    assert_eq!(weights(d.backend()), [("192.0.2.21:80".to_string(), 3)]);
    assert!(h.0.is_empty(), "the fallback never came in: {:?}", h.0);
    // failurecount=2: the first failure is a soft one.
    d.handle(result(&c, 0, 0, false), &mut h);
    assert_eq!(weights(d.backend()).len(), 1);
    assert!(log
        .lines
        .lock()
        .unwrap()
        .iter()
        .any(|l| l == "Soft failure real server: 192.0.2.21:80 (tcp:192.0.2.10:80) failure 1/2"));
    d.handle(result(&c, 0, 0, false), &mut h);
    // .22 has still not been checked: its first check may pass.
    assert_eq!(weights(d.backend()), []);
    d.handle(result(&c, 0, 1, false), &mut h);
    assert_eq!(weights(d.backend()), [("127.0.0.1:80".to_string(), 1)]);
    assert_eq!(h.0, ["/bin/echo FB start 192.0.2.10:80 tcp"]);
    let lines = log.lines.lock().unwrap().clone();
    assert!(lines
        .contains(&"Added fallback server: 127.0.0.1:80 (192.0.2.10:80) (Weight set to 1)".into()));
    assert!(lines.contains(&"Deleted real server: 192.0.2.21:80 (192.0.2.10:80)".into()));
}

/// Every removal has a line that says why, before upstream's own line
/// (unchanged); a real down from the start has one line too; so has
/// a re-add.
#[test]
fn state_changes_are_logged_with_the_checks_reason() {
    let c = cfg(
        "quiescent=yes\nvirtual=192.0.2.10:80\n\treal=192.0.2.21:80 masq\n\
                     \treal=192.0.2.22:80 masq\n",
    );
    let log = Arc::new(Logger::new(Sink::File("/dev/null".into()), "t"));
    let mut d = Director::new(c.clone(), MemoryIpvs::new(), log.clone());
    d.start(&mut NoHooks);
    let res = |ri: usize, r: CheckResult, ms: u64| {
        let v = &c.virtuals[0];
        Message::Result {
            target: Arc::new(Target::new(v, &v.reals[ri])),
            result: r,
            latency: Duration::from_millis(ms),
        }
    };
    d.handle(res(0, Ok("HTTP/1.1 200 OK".into()), 3), &mut NoHooks);
    d.handle(res(1, Err(CheckError::Timeout), 5_004), &mut NoHooks);
    let not_found = Err(CheckError::Status("HTTP/1.1 404 Not Found".into()));
    d.handle(res(0, not_found, 2), &mut NoHooks);
    d.handle(res(0, Err(CheckError::Refused), 1), &mut NoHooks);
    d.handle(res(0, Ok(String::new()), 1), &mut NoHooks);
    let lines = log.lines.lock().unwrap().clone();
    assert_eq!(
        lines,
        [
            "Added virtual server: 192.0.2.10:80",
            "Real server 192.0.2.21:80 (tcp:192.0.2.10:80) is up: HTTP/1.1 200 OK",
            "Added real server: 192.0.2.21:80 (192.0.2.10:80) (Weight set to 1)",
            "Real server 192.0.2.22:80 (tcp:192.0.2.10:80) is down: \
                 Connection timed out after 5 s",
            "Real server 192.0.2.21:80 (tcp:192.0.2.10:80) is down: HTTP/1.1 404 Not Found",
            "Quiescent real server: 192.0.2.21:80 (192.0.2.10:80) (Weight set to 0)",
            "Resetting soft failure count: 192.0.2.21:80 (tcp:192.0.2.10:80)",
            "Real server 192.0.2.21:80 (tcp:192.0.2.10:80) is up: Success",
            "Restored real server: 192.0.2.21:80 (192.0.2.10:80) (Weight set to 1)",
        ]
    );
}

/// -d logs each check result as upstream's debug mode does.
#[test]
fn debug_mode_logs_every_check_result() {
    let c = cfg("virtual=192.0.2.10:80\n\treal=192.0.2.21:80 masq\n");
    let (mut d, log) = director(c.clone(), MemoryIpvs::new());
    d.start(&mut NoHooks);
    d.handle(result(&c, 0, 0, true), &mut NoHooks);
    d.handle(result(&c, 0, 0, true), &mut NoHooks);
    d.handle(result(&c, 0, 0, false), &mut NoHooks);
    let lines = log.lines.lock().unwrap().clone();
    // The start's steps come first, with when each ended.
    let steps: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("DEBUG2: start-up: "))
        .map(|l| l.split(" at ").next().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "director start",
            "adopted",
            "diff",
            "applied",
            "first reconcile"
        ]
    );
    let debug: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("DEBUG") && !l.starts_with("DEBUG2: start-up: "))
        .collect();
    let check = "DEBUG2: Checking negotiate: real server=192.0.2.21:80 \
                     (virtual=tcp:192.0.2.10:80)";
    assert_eq!(
        debug,
        [
            check,
            "DEBUG3: Activated service 192.0.2.21:80",
            check,
            "DEBUG3: Activated service 192.0.2.21:80",
            check,
            "DEBUG3: Deactivated service 192.0.2.21:80: Connection refused",
        ]
    );
    // Without -d there are none.
    let log = Arc::new(Logger::new(Sink::File("/dev/null".into()), "t"));
    let mut d = Director::new(c.clone(), MemoryIpvs::new(), log.clone());
    d.start(&mut NoHooks);
    d.handle(result(&c, 0, 0, true), &mut NoHooks);
    assert!(!log
        .lines
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.starts_with("DEBUG")));
}

/// The fallback waits for the first checks at most for their deadline
/// (a check that never reports must not keep it out for ever), and it
/// is never taken out for a new real's first check.
#[test]
fn the_fallback_waits_for_first_checks_at_most_their_deadline() {
    let one = "fallback=127.0.0.1:80\nchecktimeout=1\nnegotiatetimeout=1\n\
                   virtual=192.0.2.10:80\n\treal=192.0.2.21:80 masq\n";
    let c = cfg(one);
    let (mut d, _) = director(c.clone(), MemoryIpvs::new());
    d.start(&mut NoHooks);
    assert_eq!(weights(d.backend()), []);
    // Deadline: 1 s + the probe backstop's grace of 1 s.
    std::thread::sleep(Duration::from_millis(2100));
    d.handle(Message::Tick, &mut NoHooks);
    assert_eq!(weights(d.backend()), [("127.0.0.1:80".to_string(), 1)]);
    // A reload that adds a real keeps the fallback while it is checked.
    let c2 = cfg(&format!("{one}\treal=192.0.2.22:80 masq\n"));
    d.handle(Message::Reload(c2.clone(), None), &mut NoHooks);
    assert_eq!(weights(d.backend()), [("127.0.0.1:80".to_string(), 1)]);
    d.handle(result(&c2, 0, 1, true), &mut NoHooks);
    assert_eq!(weights(d.backend()), [("192.0.2.22:80".to_string(), 1)]);
}

/// `status` of a real drained by maintenancedir says so.
#[test]
fn status_says_a_real_is_in_maintenance() {
    let dir = std::env::temp_dir().join(format!("ldrs-st-maint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = cfg(&format!(
        "maintenancedir={}\nvirtual=192.0.2.10:80\n\treal=192.0.2.21:80 masq\n",
        dir.display()
    ));
    let (mut d, _) = director(c.clone(), MemoryIpvs::new());
    d.start(&mut NoHooks);
    d.handle(result(&c, 0, 0, true), &mut NoHooks);
    assert!(
        d.status_lines()[1].contains("\tup\t"),
        "{:?}",
        d.status_lines()
    );
    std::fs::write(dir.join("192.0.2.21:80"), "").unwrap();
    d.handle(result(&c, 0, 0, true), &mut NoHooks);
    let line = d.status_lines()[1].clone();
    assert!(
        line.contains("\tdown\t")
            && line.contains(&format!("in maintenance: a file in {}", dir.display()))
            && !line.contains("ok:"),
        "{line}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Counts table reads.
struct Counting(MemoryIpvs, usize);

impl crate::ipvs::IpvsBackend for Counting {
    fn dump(&mut self) -> crate::ipvs::Result<Vec<crate::ipvs::ServiceEntry>> {
        self.1 += 1;
        self.0.dump()
    }
    fn apply(&mut self, ops: &[Op]) -> Vec<crate::ipvs::Result<()>> {
        self.0.apply(ops)
    }
    fn flush(&mut self) -> crate::ipvs::Result<()> {
        self.0.flush()
    }
    fn daemons(&mut self) -> crate::ipvs::Result<Vec<crate::ipvs::SyncDaemon>> {
        self.0.daemons()
    }
    fn start_daemon(&mut self, d: &crate::ipvs::SyncDaemon) -> crate::ipvs::Result<()> {
        self.0.start_daemon(d)
    }
    fn stop_daemon(&mut self, s: crate::ipvs::SyncState) -> crate::ipvs::Result<()> {
        self.0.stop_daemon(s)
    }
}

#[test]
fn a_batch_of_results_is_reconciled_once_with_the_same_outcome() {
    let c = cfg(CF);
    let log = Arc::new(Logger::new(Sink::Stderr, "t"));
    let mut d = Director::new(c.clone(), Counting(MemoryIpvs::new(), 0), log.clone());
    let mut h = Recorder::default();
    d.start(&mut h);
    let reads = d.backend().1;
    let batch = vec![
        result(&c, 0, 0, true),
        result(&c, 0, 1, true),
        result(&c, 0, 0, true),
    ];
    assert!(d.handle_batch(batch, &mut h));
    assert_eq!(
        d.backend().1,
        reads,
        "diffed against the view: no table read"
    );
    assert_eq!(
        weights(&mut d.backend().0),
        [
            ("192.0.2.21:80".to_string(), 3),
            ("192.0.2.22:80".to_string(), 2)
        ]
    );
    // The two reals came in once each; the fallback never did.
    let lines = log.lines.lock().unwrap().clone();
    let count = |p: &str| lines.iter().filter(|l| l.starts_with(p)).count();
    assert_eq!(count("Added real server"), 2);
    assert_eq!(count("Added fallback server"), 0);
    assert!(h.0.is_empty(), "{:?}", h.0);
    // A result changing nothing changes nothing; a tick reads the
    // table; Stop ends the batch.
    assert!(d.handle_batch(vec![result(&c, 0, 0, true)], &mut h));
    assert_eq!(d.backend().1, reads);
    assert!(d.handle_batch(vec![Message::Tick], &mut h));
    assert_eq!(d.backend().1, reads + 1);
    assert!(!d.handle_batch(vec![result(&c, 0, 1, false), Message::Stop], &mut h));
}

/// The law of the view: after any sequence of results it is what a
/// fresh read of the kernel table gives (quiescent or not, readd,
/// fallback, a real shared by two virtuals).
#[test]
fn the_view_is_what_a_fresh_read_gives() {
    let c = cfg("fallback=127.0.0.1:80\nreaddquiescent=yes\n\
            virtual=192.0.2.10:80\n\treal=192.0.2.21:80 masq 3\n\treal=192.0.2.22:80 masq 2\n\
            \tquiescent=yes\n\
            virtual=192.0.2.11:80\n\treal=192.0.2.21:80 gate 1\n\treal=192.0.2.23:80 gate 1\n\
            \tquiescent=no\n");
    let (mut d, _) = director(c.clone(), MemoryIpvs::new());
    let mut h = NoHooks;
    d.start(&mut h);
    let mut seed = 7u32;
    for _ in 0..200 {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let (vi, ri, ok) = (
            (seed >> 8) % 2,
            (seed >> 12) % 2,
            !(seed >> 16).is_multiple_of(3),
        );
        d.handle(result(&c, vi as usize, ri as usize, ok), &mut h);
        // Dests in one order on both sides: the view appends.
        let sorted = |mut v: View| {
            for (_, ds) in v.values_mut() {
                ds.sort_by_key(|x| x.key.ipvsadm_order());
            }
            v
        };
        let fresh = sorted(view_of(d.backend().services().unwrap()));
        let view = sorted(d.view.clone().expect("a view after start"));
        assert_eq!(view, fresh);
    }
}

#[test]
fn adopts_the_kernel_table_without_a_flap() {
    let c = cfg(CF);
    let mut b = MemoryIpvs::new();
    let key = crate::ipvs::ServiceKey::tcp("192.0.2.10".parse().unwrap(), 80);
    let dest =
        |a: &str, w| Dest::new(DestKey::new(a.parse().unwrap(), 80), Forward::Masq).weight(w);
    for r in b.apply(&[
        Op::AddService(Service::new(key, "wrr")),
        Op::AddDest(key, dest("192.0.2.21", 3)),
        Op::AddDest(key, dest("192.0.2.99", 1)),
    ]) {
        r.unwrap();
    }
    let (mut d, log) = director(c, b);
    d.start(&mut NoHooks);
    // .21 adopted up; the stranger .99 purged; no fallback, no re-add.
    assert_eq!(weights(d.backend()), [("192.0.2.21:80".to_string(), 3)]);
    let lines: Vec<String> = log
        .lines
        .lock()
        .unwrap()
        .iter()
        .filter(|l| !l.starts_with("DEBUG"))
        .cloned()
        .collect();
    assert_eq!(
        lines,
        ["Purged real server (start): 192.0.2.99:80 (192.0.2.10:80)"]
    );
}

/// Reals whose state is known before any check — `checktype=on`, and
/// checked reals adopted up from the kernel — are in the table after
/// the start's first reconcile, with their services, in one apply: no
/// check result and no tick is needed. Unknown reals wait for a check.
#[test]
fn known_reals_are_in_the_table_after_the_first_reconcile() {
    let c = cfg("quiescent=no\n\
            virtual=192.0.2.10:80\n\treal=192.0.2.21:80 masq 3\n\treal=192.0.2.22:80 masq 2\n\tchecktype=on\n\
            virtual=192.0.2.11:80\n\treal=192.0.2.31:80 masq 1\n\treal=192.0.2.32:80 masq 1\n\tchecktype=connect\n");
    let mut b = MemoryIpvs::new();
    // .31 is up in the kernel already (a restart): adopted.
    let key = crate::ipvs::ServiceKey::tcp("192.0.2.11".parse().unwrap(), 80);
    let dest = Dest::new(
        DestKey::new("192.0.2.31".parse().unwrap(), 80),
        Forward::Masq,
    );
    for r in b.apply(&[
        Op::AddService(Service::new(key, "wrr")),
        Op::AddDest(key, dest.weight(1)),
    ]) {
        r.unwrap();
    }
    let (mut d, log) = director(c, b);
    d.start(&mut NoHooks);
    assert_eq!(
        weights(d.backend()),
        [
            ("192.0.2.21:80".to_string(), 3),
            ("192.0.2.22:80".to_string(), 2),
            ("192.0.2.31:80".to_string(), 1)
        ]
    );
    assert_eq!(d.state_of(0, 0), State::Up);
    assert_eq!(d.state_of(1, 1), State::Unknown);
    let lines = log.lines.lock().unwrap().clone();
    assert!(lines.contains(&"Added virtual server: 192.0.2.10:80".to_string()));
    assert!(lines.contains(
        &"Added real server: 192.0.2.21:80 (192.0.2.10:80) (Weight set to 3)".to_string()
    ));
}

#[test]
fn drift_is_repaired_on_tick_and_stop_cleans_up() {
    let c = cfg(CF);
    let (mut d, _) = director(c.clone(), MemoryIpvs::new());
    d.start(&mut NoHooks);
    d.handle(result(&c, 0, 0, true), &mut NoHooks);
    d.handle(result(&c, 0, 1, true), &mut NoHooks);
    let before = weights(d.backend());
    d.backend().flush().unwrap();
    d.handle(Message::Tick, &mut NoHooks);
    assert_eq!(weights(d.backend()), before);
    assert!(!d.handle(Message::Stop, &mut NoHooks));
    assert!(d.backend().services().unwrap().is_empty());
}

#[test]
fn cleanstop_no_leaves_the_table_alone() {
    let c = cfg(&CF.replace("failurecount=2\n", "cleanstop=no\n"));
    let (mut d, _) = director(c.clone(), MemoryIpvs::new());
    d.start(&mut NoHooks);
    d.handle(result(&c, 0, 0, true), &mut NoHooks);
    d.handle(Message::Stop, &mut NoHooks);
    assert_eq!(weights(d.backend()), [("192.0.2.21:80".to_string(), 3)]);
}

#[test]
fn sync_daemons_follow_start_tick_reload_and_stop() {
    let c = cfg(&format!("syncdaemon=both eth1 syncid=3\n{CF}"));
    let (mut d, log) = director(c.clone(), MemoryIpvs::new());
    d.start(&mut NoHooks);
    // No eth1: the error is logged after the table is set up, and the
    // director balances all the same.
    d.handle(result(&c, 0, 0, true), &mut NoHooks);
    assert_eq!(weights(d.backend()), [("192.0.2.21:80".to_string(), 3)]);
    let lines = log.lines.lock().unwrap().clone();
    let first_error = lines
        .iter()
        .position(|l| l.contains("No such device (ENODEV)"))
        .expect("the ENODEV error is logged");
    assert!(lines[..first_error]
        .iter()
        .any(|l| l.starts_with("Added virtual server")));
    assert!(d
        .status_lines()
        .iter()
        .any(|l| l
            .starts_with("syncdaemon\tmaster sync daemon (mcast=eth1, syncid=3)\tnot running: ")));
    // eth1 comes up: the next tick starts both.
    d.backend().set_interfaces(&["lo", "eth1"]);
    d.handle(Message::Tick, &mut NoHooks);
    assert_eq!(d.backend().daemons().unwrap().len(), 2);
    // A reload to master only stops the backup; stop stops the master.
    let c2 = cfg(&format!("syncdaemon=master eth1 syncid=3\n{CF}"));
    d.handle(Message::Reload(c2, None), &mut NoHooks);
    let running = d.backend().daemons().unwrap();
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].state, crate::ipvs::SyncState::Master);
    d.handle(Message::Stop, &mut NoHooks);
    assert!(d.backend().daemons().unwrap().is_empty());
}

#[test]
fn a_result_for_a_target_no_longer_planned_is_dropped() {
    let c = cfg(CF);
    let (mut d, _) = director(c.clone(), MemoryIpvs::new());
    d.start(&mut NoHooks);
    // A check of a real that a reload removed, finishing late.
    let gone = cfg("virtual=192.0.2.10:80\n\treal=192.0.2.99:80 masq\n");
    let msg = result(&gone, 0, 0, true);
    let Message::Result { target, .. } = &msg else {
        unreachable!()
    };
    let target = target.clone();
    d.handle(msg, &mut NoHooks);
    assert!(d.last_result(&target).is_none());
    assert_eq!(weights(d.backend()), []);
}

#[test]
fn reload_keeps_health_adds_and_purges_virtuals() {
    let c = cfg(CF);
    let (mut d, _) = director(c.clone(), MemoryIpvs::new());
    d.start(&mut NoHooks);
    d.handle(result(&c, 0, 0, true), &mut NoHooks);
    // New config: the same first virtual, plus another one.
    let c2 = cfg(&format!(
        "{CF}virtual=192.0.2.11:80\n\treal=192.0.2.31:80 gate\n"
    ));
    d.handle(Message::Reload(c2.clone(), None), &mut NoHooks);
    assert_eq!(d.state_of(0, 0), State::Up, "health kept across reload");
    assert_eq!(d.backend().services().unwrap().len(), 2);
    // Back to the first config: the second virtual is ours, so purged.
    d.handle(Message::Reload(c, None), &mut NoHooks);
    assert_eq!(d.backend().services().unwrap().len(), 1);
}

#[test]
fn a_failure_of_a_shared_real_counts_once() {
    // Upstream divides failurecount by the number of virtuals sharing
    // the real; here each virtual needs its full count.
    let c = cfg("failurecount=2\n\
            virtual=192.0.2.10:80\n\treal=192.0.2.21:80 masq\n\
            virtual=192.0.2.11:80\n\treal=192.0.2.21:80 masq\n");
    let (mut d, _) = director(c.clone(), MemoryIpvs::new());
    d.start(&mut NoHooks);
    d.handle(result(&c, 0, 0, true), &mut NoHooks);
    assert_eq!(weights(d.backend()).len(), 2);
    d.handle(result(&c, 0, 0, false), &mut NoHooks);
    assert_eq!(weights(d.backend()).len(), 2, "one failure of 2 needed");
    d.handle(result(&c, 0, 0, false), &mut NoHooks);
    assert!(weights(d.backend()).is_empty());
}

#[test]
fn alerts_follow_changes_and_remind_while_down() {
    let c = cfg("emailalert=ops@example.test\nemailalertfreq=1\n\
            virtual=192.0.2.10:80\n\treal=192.0.2.21:80 masq\n\treal=192.0.2.22:80 masq\n");
    let (mut d, _) = director(c.clone(), MemoryIpvs::new());
    let mut h = Recorder::default();
    d.start(&mut h);
    d.handle(result(&c, 0, 0, true), &mut h);
    d.handle(result(&c, 0, 1, true), &mut h);
    d.handle(result(&c, 0, 0, false), &mut h);
    assert_eq!(
        h.0,
        [
            "mail running: Added real server: 192.0.2.21:80 (192.0.2.10:80) (Weight set to 1)",
            "mail running: Added real server: 192.0.2.22:80 (192.0.2.10:80) (Weight set to 1)",
            "mail running: Deleted real server: 192.0.2.21:80 (192.0.2.10:80)",
        ]
    );
    std::thread::sleep(Duration::from_millis(1100));
    d.handle(Message::Tick, &mut h);
    assert_eq!(
        h.0.last().unwrap(),
        "mail running: Inaccessible real server: 192.0.2.21:80 (192.0.2.10:80)"
    );
    // Back up: no more reminders; stop mails the purges as "stopping".
    d.handle(result(&c, 0, 0, true), &mut h);
    let n = h.0.len();
    std::thread::sleep(Duration::from_millis(1100));
    d.handle(Message::Tick, &mut h);
    assert_eq!(h.0.len(), n);
    d.handle(Message::Stop, &mut h);
    assert!(h
        .0
        .last()
        .unwrap()
        .starts_with("mail stopping: Purged real server (stop)"));
}

#[test]
fn monitorfile_gets_one_line_per_check() {
    let dir = std::env::temp_dir().join(format!("ldrs-monitor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("m.log");
    let c = cfg(&format!(
        "virtual=192.0.2.10:80\n\treal=192.0.2.21:80 masq\n\tmonitorfile=\"{}\"\n",
        file.display()
    ));
    let (mut d, _) = director(c.clone(), MemoryIpvs::new());
    d.start(&mut NoHooks);
    d.handle(result(&c, 0, 0, true), &mut NoHooks);
    d.handle(result(&c, 0, 0, false), &mut NoHooks);
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].ends_with("192.0.2.21:80 (tcp:192.0.2.10:80) [up] up"),
        "{text}"
    );
    assert!(lines[1].ends_with("[down] Connection refused"), "{text}");
    assert_eq!(escape_monitor("a|b%c\n"), "a%7cb%25c%0a");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn maintenance_file_forces_the_real_down() {
    let dir = std::env::temp_dir().join(format!("ldrs-dir-maint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = cfg(&format!(
        "maintenancedir={}\nvirtual=192.0.2.10:80\n\treal=192.0.2.21:80 masq\n",
        dir.display()
    ));
    let (mut d, _) = director(c.clone(), MemoryIpvs::new());
    d.start(&mut NoHooks);
    d.handle(result(&c, 0, 0, true), &mut NoHooks);
    assert_eq!(weights(d.backend()).len(), 1);
    std::fs::write(dir.join("192.0.2.21:80"), "").unwrap();
    d.handle(result(&c, 0, 0, true), &mut NoHooks);
    assert!(weights(d.backend()).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}
