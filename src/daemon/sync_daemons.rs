//! The kernel's connection-sync daemons that `syncdaemon=` asks for
//! (ldirectord-rs extension), kept running by the director.
//!
//! Owns: which roles (master, backup) are ours, what the last pass read,
//! and the last error of each role. The director calls it from its thread,
//! with its backend (the only writer of IPVS): [`SyncDaemons::pass`] after
//! start-up adoption and on every tick, [`SyncDaemons::reload`] on a
//! reload, [`SyncDaemons::stop`] at stop.
//!
//! Policy:
//! - a daemon of a wanted role that runs as configured is adopted (a
//!   restart with `cleanstop=no` finds its own daemons running); one that
//!   runs with other settings is stopped and started as configured; a
//!   missing one is started, and started again on the next tick after a
//!   failure (an interface that appears later, e.g. a VLAN brought up after
//!   the director);
//! - a reload restarts only the roles whose settings changed, and stops the
//!   roles of ours it no longer names; a role we never started or adopted
//!   (ipvsadm, keepalived's `lvs_sync_daemon`) is left alone;
//! - at stop, ours are stopped with `cleanstop=yes` (the global value) and
//!   left running with `cleanstop=no`, as the table is: connections keep
//!   being synchronised while the director restarts;
//! - a failure is logged once per distinct error, with the errno's meaning,
//!   and shown by `status` (a part of the director's snapshot); the virtual
//!   services never wait for it.
//!
//! Must not: touch services or destinations, or read the configuration
//! beyond `syncdaemon=` and `cleanstop=`.

use std::collections::{HashMap, HashSet};

use crate::config::Config;
use crate::ipvs::{Error, IpvsBackend, SyncDaemon, SyncState};
use crate::reconcile::desired::sync_daemons;
use crate::status::snapshot::SyncDaemonStatus;

use super::log::Logger;

/// The sync daemons of one director.
#[derive(Debug, Default)]
pub struct SyncDaemons {
    /// What the configuration asks for, one per role, master first.
    want: Vec<SyncDaemon>,
    /// `syncdaemon=` as written, for log lines.
    directive: String,
    /// Roles we started or adopted.
    owned: HashSet<SyncState>,
    /// The daemons as the last pass read them.
    running: Vec<SyncDaemon>,
    /// The last failure of each role, until it starts.
    errors: HashMap<SyncState, String>,
    /// The last failure to read the daemons, logged once.
    read_error: Option<String>,
}

impl SyncDaemons {
    pub fn new(config: &Config) -> Self {
        let mut s = SyncDaemons::default();
        s.configure(config);
        s
    }

    fn configure(&mut self, config: &Config) {
        self.want = sync_daemons(config);
        self.directive = config
            .global
            .syncdaemon
            .as_ref()
            .map(|c| format!("syncdaemon={c}"))
            .unwrap_or_default();
        // An error of a role no longer wanted is no longer news.
        let want = &self.want;
        self.errors
            .retain(|role, _| want.iter().any(|w| w.state == *role));
    }

    /// Bring the running daemons in line with the configuration: start the
    /// missing, restart the misconfigured, stop ours that are not wanted.
    pub fn pass<B: IpvsBackend + ?Sized>(&mut self, backend: &mut B, log: &Logger) {
        // Without the directive, and nothing of ours, there is nothing to
        // look at: a configuration without it makes no sync request.
        if self.want.is_empty() && self.owned.is_empty() {
            return;
        }
        let Some(running) = self.read(backend, log) else {
            return;
        };
        let mut changed = false;
        for want in self.want.clone() {
            match running.iter().find(|r| r.state == want.state) {
                Some(r) if want.is_met_by(r) => {
                    self.owned.insert(want.state);
                    self.errors.remove(&want.state);
                }
                Some(r) => {
                    changed = true;
                    if self.stop_one(backend, r.state, log, "to start it as configured") {
                        self.start_one(backend, &want, log);
                    }
                }
                None => {
                    changed = true;
                    self.start_one(backend, &want, log);
                }
            }
        }
        for r in &running {
            let wanted = self.want.iter().any(|w| w.state == r.state);
            if !wanted && self.owned.contains(&r.state) {
                changed = true;
                self.stop_one(backend, r.state, log, "(no longer configured)");
            }
        }
        self.owned
            .retain(|role| self.want.iter().any(|w| w.state == *role));
        if changed {
            // The effective values (the kernel's defaults filled in), for
            // `status`.
            self.read(backend, log);
        }
    }

    /// A new configuration: restart the roles of ours whose settings it
    /// changes, then a pass (which also stops the roles it drops).
    pub fn reload<B: IpvsBackend + ?Sized>(
        &mut self,
        config: &Config,
        backend: &mut B,
        log: &Logger,
    ) {
        let old = std::mem::take(&mut self.want);
        self.configure(config);
        for new in self.want.clone() {
            let Some(before) = old.iter().find(|o| o.state == new.state) else {
                continue;
            };
            // A setting the new request leaves to the kernel (maxlen) may
            // still match the running daemon: compare the requests.
            if *before != new && self.owned.contains(&new.state) {
                self.owned.remove(&new.state);
                self.stop_one(backend, new.state, log, "(settings changed)");
            }
        }
        self.pass(backend, log);
    }

    /// At stop: with cleanstop, stop the daemons we started or adopted;
    /// without, leave them running for the next start to adopt.
    pub fn stop<B: IpvsBackend + ?Sized>(
        &mut self,
        backend: &mut B,
        cleanstop: bool,
        log: &Logger,
    ) {
        let mut ours: Vec<SyncState> = self.owned.iter().copied().collect();
        ours.sort_by_key(|s| s.to_wire());
        for role in ours {
            if cleanstop {
                self.stop_one(backend, role, log, "");
            } else {
                log.log(&format!(
                    "Leaving the {} sync daemon running (cleanstop=no)",
                    role.as_str()
                ));
            }
        }
        self.owned.clear();
    }

    /// For `status`: each daemon of a wanted role (as the kernel runs it,
    /// or as asked and why it does not run), then any other found running.
    pub fn status(&self) -> Vec<SyncDaemonStatus> {
        let mut out = Vec::new();
        for w in &self.want {
            let running = self.running.iter().find(|r| w.is_met_by(r));
            out.push(SyncDaemonStatus {
                role: w.state.as_str().into(),
                daemon: running.unwrap_or(w).to_string(),
                running: running.is_some(),
                configured: true,
                error: match running {
                    Some(_) => None,
                    None => self.errors.get(&w.state).cloned(),
                },
            });
        }
        for r in &self.running {
            if !self.want.iter().any(|w| w.is_met_by(r)) {
                out.push(SyncDaemonStatus {
                    role: r.state.as_str().into(),
                    daemon: r.to_string(),
                    running: true,
                    configured: false,
                    error: None,
                });
            }
        }
        out
    }

    fn read<B: IpvsBackend + ?Sized>(
        &mut self,
        backend: &mut B,
        log: &Logger,
    ) -> Option<Vec<SyncDaemon>> {
        match backend.daemons() {
            Ok(r) => {
                self.read_error = None;
                self.running = r.clone();
                Some(r)
            }
            Err(e) => {
                let text = e.to_string();
                if self.read_error.as_deref() != Some(text.as_str()) {
                    log.log(&format!(
                        "Error reading the sync daemons (will retry): {text}"
                    ));
                    self.read_error = Some(text);
                }
                None
            }
        }
    }

    fn start_one<B: IpvsBackend + ?Sized>(
        &mut self,
        backend: &mut B,
        want: &SyncDaemon,
        log: &Logger,
    ) {
        match backend.start_daemon(want) {
            Ok(()) => {
                log.log(&format!("Started {want}"));
                self.owned.insert(want.state);
                self.errors.remove(&want.state);
            }
            Err(e) => {
                let text = format!("{e}{}", hint(&e, want));
                if self.errors.get(&want.state) != Some(&text) {
                    log.log(&format!(
                        "Error: {}: {text} (retried on every check interval)",
                        self.directive
                    ));
                    self.errors.insert(want.state, text);
                }
            }
        }
    }

    /// Stop one role; true when it is stopped (or was not running).
    fn stop_one<B: IpvsBackend + ?Sized>(
        &mut self,
        backend: &mut B,
        role: SyncState,
        log: &Logger,
        why: &str,
    ) -> bool {
        let what = self.running.iter().find(|r| r.state == role).map_or_else(
            || format!("{} sync daemon", role.as_str()),
            |r| r.to_string(),
        );
        let sep = if why.is_empty() { "" } else { " " };
        match backend.stop_daemon(role) {
            Ok(()) => {
                log.log(&format!("Stopped {what}{sep}{why}"));
                self.owned.remove(&role);
                true
            }
            Err(e) if e.is_not_found() => {
                self.owned.remove(&role);
                true
            }
            Err(e) => {
                log.log(&format!("Error: {}: {e} (will retry)", self.directive));
                false
            }
        }
    }
}

/// What an errno means for this directive, beyond its name.
fn hint(e: &Error, d: &SyncDaemon) -> String {
    match e.errno() {
        Some(libc::ENODEV) => format!(": no interface {} in this network namespace", d.mcast_ifn),
        Some(libc::EINVAL) => ": the kernel starts no sync daemon while a virtual service has \
            real servers of the other address family"
            .into(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::log::Sink;
    use crate::ipvs::MemoryIpvs;

    fn cfg(text: &str) -> Config {
        crate::config::test_config(text)
    }

    const VS: &str = "virtual=192.0.2.10:80\n\treal=192.0.2.21:80 gate\n";

    fn logger() -> Logger {
        Logger::new(Sink::Stderr, "t")
    }

    fn lines(log: &Logger) -> Vec<String> {
        std::mem::take(&mut *log.lines.lock().unwrap())
    }

    fn roles(b: &mut MemoryIpvs) -> Vec<String> {
        b.daemons().unwrap().iter().map(|d| d.to_string()).collect()
    }

    #[test]
    fn no_directive_no_request() {
        let mut b = MemoryIpvs::new();
        let log = logger();
        let mut s = SyncDaemons::new(&cfg(VS));
        s.pass(&mut b, &log);
        s.stop(&mut b, true, &log);
        assert!(lines(&log).is_empty());
        assert!(s.status().is_empty());
    }

    #[test]
    fn start_adopt_restart_and_stop() {
        let mut b = MemoryIpvs::new().with_interfaces(&["lo", "eth0"]);
        let log = logger();
        let c = cfg(&format!("syncdaemon=both eth0 syncid=10\n{VS}"));
        let mut s = SyncDaemons::new(&c);
        s.pass(&mut b, &log);
        assert_eq!(
            lines(&log),
            [
                "Started master sync daemon (mcast=eth0, syncid=10)",
                "Started backup sync daemon (mcast=eth0, syncid=10)"
            ]
        );
        let shown: Vec<(String, bool, bool)> = s
            .status()
            .into_iter()
            .map(|d| (d.daemon, d.running, d.configured))
            .collect();
        let full = |role| {
            format!(
                "{role} sync daemon (mcast=eth0, syncid=10, maxlen=1472, group=224.0.0.81, \
                 port=8848, ttl=1)"
            )
        };
        assert_eq!(
            shown,
            [(full("master"), true, true), (full("backup"), true, true)]
        );
        // A tick with nothing to do does nothing.
        s.pass(&mut b, &log);
        assert!(lines(&log).is_empty());
        // Stopped behind our back (ipvsadm --stop-daemon): started again.
        b.stop_daemon(SyncState::Backup).unwrap();
        s.pass(&mut b, &log);
        assert_eq!(
            lines(&log),
            ["Started backup sync daemon (mcast=eth0, syncid=10)"]
        );
        // Restarted by someone with another sync id: put back as configured.
        b.stop_daemon(SyncState::Master).unwrap();
        b.start_daemon(&SyncDaemon::new(SyncState::Master, "eth0", 3))
            .unwrap();
        s.pass(&mut b, &log);
        assert_eq!(
            lines(&log),
            [
                "Stopped master sync daemon (mcast=eth0, syncid=3, maxlen=1472, \
                 group=224.0.0.81, port=8848, ttl=1) to start it as configured",
                "Started master sync daemon (mcast=eth0, syncid=10)"
            ]
        );
        s.stop(&mut b, true, &log);
        assert!(b.daemons().unwrap().is_empty());
        assert_eq!(lines(&log).len(), 2);
    }

    #[test]
    fn a_missing_interface_is_logged_once_and_retried() {
        let mut b = MemoryIpvs::new();
        let log = logger();
        let c = cfg(&format!("syncdaemon=master eth1\n{VS}"));
        let mut s = SyncDaemons::new(&c);
        s.pass(&mut b, &log);
        s.pass(&mut b, &log);
        let want = "Error: syncdaemon=master eth1: start master sync daemon (mcast=eth1, \
                    syncid=0): No such device (ENODEV): no interface eth1 in this network \
                    namespace (retried on every check interval)";
        assert_eq!(lines(&log), [want]);
        let shown = &s.status()[0];
        assert_eq!(
            (shown.daemon.as_str(), shown.running, shown.error.as_deref()),
            (
                "master sync daemon (mcast=eth1, syncid=0)",
                false,
                Some(
                    "start master sync daemon (mcast=eth1, syncid=0): No such device (ENODEV): \
                     no interface eth1 in this network namespace"
                )
            )
        );
        // The interface appears: the next tick starts the daemon.
        b.set_interfaces(&["lo", "eth1"]);
        s.pass(&mut b, &log);
        assert_eq!(
            lines(&log),
            ["Started master sync daemon (mcast=eth1, syncid=0)"]
        );
        assert!(s.status()[0].running && s.status()[0].error.is_none());
    }

    #[test]
    fn reload_restarts_only_what_changed_and_leaves_others_alone() {
        let mut b = MemoryIpvs::new().with_interfaces(&["lo", "eth0", "eth1"]);
        let log = logger();
        let mut s = SyncDaemons::new(&cfg(&format!("syncdaemon=both eth0 maxlen=1200\n{VS}")));
        s.pass(&mut b, &log);
        lines(&log);
        // The same settings: nothing happens.
        s.reload(
            &cfg(&format!("syncdaemon=both eth0 maxlen=1200\n{VS}")),
            &mut b,
            &log,
        );
        assert!(lines(&log).is_empty());
        // maxlen left to the kernel again: both restart, though a running
        // daemon with maxlen 1200 would meet the new request.
        s.reload(&cfg(&format!("syncdaemon=both eth0\n{VS}")), &mut b, &log);
        assert_eq!(lines(&log).len(), 4);
        // Down to the master on another interface: the backup stops, the
        // master restarts.
        s.reload(&cfg(&format!("syncdaemon=master eth1\n{VS}")), &mut b, &log);
        let l = lines(&log);
        assert_eq!(l.len(), 3, "{l:?}");
        assert!(
            l[2].starts_with("Stopped backup sync daemon")
                && l[2].ends_with("(no longer configured)")
        );
        assert_eq!(roles(&mut b).len(), 1);
        // A backup started by someone else is not ours: a reload without
        // the directive stops our master only, and stop leaves the backup.
        b.start_daemon(&SyncDaemon::new(SyncState::Backup, "eth0", 0))
            .unwrap();
        s.reload(&cfg(VS), &mut b, &log);
        s.stop(&mut b, true, &log);
        assert_eq!(
            roles(&mut b),
            ["backup sync daemon (mcast=eth0, syncid=0, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)"]
        );
    }

    #[test]
    fn cleanstop_no_leaves_them_running_for_the_next_start() {
        let mut b = MemoryIpvs::new().with_interfaces(&["lo", "eth0"]);
        let log = logger();
        let c = cfg(&format!("cleanstop=no\nsyncdaemon=master eth0\n{VS}"));
        let mut s = SyncDaemons::new(&c);
        s.pass(&mut b, &log);
        s.stop(&mut b, c.global.cleanstop, &log);
        assert_eq!(
            lines(&log),
            [
                "Started master sync daemon (mcast=eth0, syncid=0)",
                "Leaving the master sync daemon running (cleanstop=no)"
            ]
        );
        assert_eq!(roles(&mut b).len(), 1);
        // The next daemon adopts it: no restart.
        let mut s = SyncDaemons::new(&c);
        s.pass(&mut b, &log);
        assert!(lines(&log).is_empty());
        assert!(s.status()[0].running && s.status()[0].error.is_none());
    }
}
