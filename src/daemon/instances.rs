//! `execute=`: the other ldirectord instances this one starts at start,
//! stops at stop, reloads (or starts) on reload and asks for their status
//! (upstream's `ld_cmd_children`).
//!
//! Each command is this same executable run as `<exe> <config> <verb>`,
//! without a shell (upstream goes through `system()`; the parser already
//! removed the quotes that the shell would have, C15), with a bounded
//! wait. Nothing here touches IPVS or parses configurations.

use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::log::Logger;

/// What a reload does to the instances: stop the removed, reload (or
/// start) the kept, start the new — each list in file order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub stop: Vec<String>,
    pub reload: Vec<String>,
    pub start: Vec<String>,
}

pub fn changes(old: &[String], new: &[String]) -> Changes {
    Changes {
        stop: old.iter().filter(|o| !new.contains(o)).cloned().collect(),
        reload: new.iter().filter(|n| old.contains(n)).cloned().collect(),
        start: new.iter().filter(|n| !old.contains(n)).cloned().collect(),
    }
}

/// Runs the commands. `own_cfgname` is this instance's name: an
/// `execute=` naming the same instance is skipped, as it would otherwise
/// start itself in the foreground (`-d`) without end.
pub struct Instances {
    exe: PathBuf,
    own_cfgname: String,
    timeout: Duration,
}

impl Instances {
    pub fn new(own_cfgname: &str, timeout: Duration) -> Instances {
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/usr/sbin/ldirectord"));
        Instances {
            exe,
            own_cfgname: own_cfgname.to_string(),
            timeout,
        }
    }

    /// `verb` for each instance; `reload_or_start` is upstream's: reload,
    /// and start when the reload failed (the instance was not running).
    pub fn command(&self, verb: &str, children: &[String], log: &Logger) {
        for arg in children {
            if super::lifecycle::Context::cfgname_for(arg) == self.own_cfgname {
                log.log(&format!(
                    "execute={arg}: this is the running instance itself; skipped"
                ));
                continue;
            }
            if verb == "reload_or_start" {
                if !self.run(arg, "reload", log) {
                    self.run(arg, "start", log);
                }
            } else {
                self.run(arg, verb, log);
            }
        }
    }

    /// One command; true when it exited 0. Failures are logged with
    /// upstream's `system(...) failed:` line.
    fn run(&self, arg: &str, verb: &str, log: &Logger) -> bool {
        let line = format!("{} {arg} {verb}", self.exe.display());
        let child = Command::new(&self.exe)
            .arg(arg)
            .arg(verb)
            .stdin(Stdio::null())
            .spawn();
        let outcome = match child {
            Ok(mut c) => wait_bounded(&mut c, self.timeout),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(s) if s.success() => true,
            Ok(s) => {
                log.log(&format!("system({line}) failed: {s}"));
                false
            }
            Err(e) => {
                log.log(&format!("system({line}) failed: {e}"));
                false
            }
        }
    }
}

/// The daemon's side: one thread runs the commands in the order they were
/// asked for, so that the event loop never waits on another instance.
pub struct Runner {
    tx: Option<mpsc::Sender<(String, Vec<String>)>>,
    thread: Option<JoinHandle<()>>,
}

impl Runner {
    pub fn spawn(instances: Instances, log: Arc<Logger>) -> Runner {
        let (tx, rx) = mpsc::channel::<(String, Vec<String>)>();
        let thread = std::thread::Builder::new()
            .name("execute".into())
            .spawn(move || {
                for (verb, children) in rx {
                    instances.command(&verb, &children, &log);
                }
            })
            .ok();
        Runner {
            tx: Some(tx),
            thread,
        }
    }

    pub fn send(&self, verb: &str, children: &[String]) {
        if let (false, Some(tx)) = (children.is_empty(), &self.tx) {
            let _ = tx.send((verb.to_string(), children.to_vec()));
        }
    }

    /// Run what is queued, then return (blocks).
    pub fn finish(mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Wait for `c`, killing it once `timeout` has passed.
fn wait_bounded(c: &mut std::process::Child, timeout: Duration) -> Result<ExitStatus, String> {
    let end = Instant::now() + timeout;
    loop {
        match c.try_wait() {
            Ok(Some(s)) => return Ok(s),
            Ok(None) if Instant::now() >= end => {
                let _ = c.kill();
                let _ = c.wait();
                return Err(format!("no exit within {} s; killed", timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reload_stops_removed_reloads_kept_starts_new() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let c = changes(&s(&["a", "b", "c"]), &s(&["c", "d", "a"]));
        assert_eq!(
            c,
            Changes {
                stop: s(&["b"]),
                reload: s(&["c", "a"]),
                start: s(&["d"]),
            }
        );
        assert_eq!(changes(&[], &[]), Changes::default());
    }
}
