//! The director's reconcile passes: the desired state built from health,
//! load, ramps and overrides, diffed against the director's view of the
//! kernel table (or a fresh read), applied through the backend, and what
//! an applied change means for alerts and the fallback server.
//!
//! Part of [`super::Director`]; must not read files or run checks.

use super::*;

impl<B: IpvsBackend> Director<B> {
    /// A full pass: read the kernel table, compute the desired table,
    /// diff, apply (drift repair included).
    pub fn reconcile(&mut self, hooks: &mut dyn Hooks) {
        self.reconcile_from(None, hooks);
    }

    /// A full pass on `table` when the caller has just read it (start and
    /// reload read it to adopt health: at 1,000 services a read is 1,001
    /// netlink dumps), else on a fresh read.
    pub(super) fn reconcile_from(&mut self, table: Option<Table>, hooks: &mut dyn Hooks) {
        let read = match table {
            Some(t) => Ok(t),
            None => self.read_table(),
        };
        let actual = match read {
            Ok(t) => t,
            Err(e) => {
                self.log
                    .log(&format!("Error reading the IPVS table (will retry): {e}"));
                self.failed_last_pass = 1;
                self.view = None;
                return;
            }
        };
        self.dirty.clear();
        self.pass(actual, None, hooks);
    }

    /// A pass over the virtual services whose reals changed state, diffed
    /// against the view of the kernel table; a full pass when there is no
    /// view or the last pass left something undone.
    pub(super) fn reconcile_changed(&mut self, hooks: &mut dyn Hooks) {
        let Some(view) = self.view.as_ref().filter(|_| self.failed_last_pass == 0) else {
            return self.reconcile(hooks);
        };
        let dirty = std::mem::take(&mut self.dirty);
        let actual = dirty
            .iter()
            .filter_map(|&vi| view.get(&service_key(&self.config.virtuals.get(vi)?.key)))
            .cloned()
            .collect();
        self.pass(actual, Some(dirty), hooks);
    }

    /// Take the services of `actual` (all of ours, or those of the virtual
    /// services in `only`) to the desired table and keep the view current.
    pub(super) fn pass(
        &mut self,
        actual: Table,
        only: Option<HashSet<usize>>,
        hooks: &mut dyn Hooks,
    ) {
        let include = |vi: usize| only.as_ref().is_none_or(|d| d.contains(&vi));
        let held: HashSet<usize> = (0..self.config.virtuals.len())
            .filter(|&vi| include(vi) && self.holds_fallback(vi, &actual))
            .collect();
        let hold = |vi: usize| held.contains(&vi);
        let (health, off_up, now) = (&self.health, &self.off_up, self.now);
        let (loads, slow, overrides) = (&mut self.loads, &mut self.slow, &self.overrides);
        let want = reconcile::desired::desired_of(&self.config, include, hold, |v, _, r| {
            let m = member(v, r);
            let state = state(health, off_up, v, r);
            let input = RealInput {
                up: state == State::Up,
                load: loads.load_of(&m),
                ramp: None,
                operator: overrides.get(&m).map(|o| o.what),
            };
            // In service = taking new connections; not known before its
            // first check (start-up never ramps). Watched only where slow
            // start or a monitor needs it (memory at 10,000 reals).
            let watch = v.slowstart > 0 || !v.loadmonitor.is_none();
            let serving = (watch && state != State::Unknown)
                .then(|| weigh(r, &input).weight.is_some_and(|w| w > 0));
            if serving == Some(false) && slow.serving(&m) == Some(true) {
                loads.restart(&m);
            }
            RealInput {
                ramp: slow.observe(&m, serving, v.slowstart, now),
                ..input
            }
        });
        // Services to purge are found by a full pass only.
        let purge: Vec<ServiceKey> = match only {
            Some(_) => Vec::new(),
            None => {
                let configured: HashSet<ServiceKey> =
                    want.services.iter().map(|s| s.service.key).collect();
                self.owned.difference(&configured).copied().collect()
            }
        };
        let changes = reconcile::diff(&self.config, &actual, &want, &purge);
        // A reload's operations are logged in the plan's notation; a
        // plan's copy keeps those of its start too.
        let journal = (self.journaling || self.status == DaemonStatus::Reloading).then(|| {
            let before = reconcile::plan::Before::new(&actual);
            changes
                .iter()
                .map(|c| Planned {
                    op: c.op.clone(),
                    line: before.describe(&c.op),
                })
                .collect::<Vec<_>>()
        });
        if only.is_none() {
            self.view = Some(view_of(actual));
        }
        self.startup_note("diff", || format!("{} changes", changes.len()));
        self.failed_last_pass = 0;
        // A journaled pass (a reload, a plan's copy) is applied in one go:
        // its "Reload:" lines come before the changes' own, as they did.
        let mut journal = journal;
        let chunks = match journal {
            Some(_) => vec![changes],
            None => reconcile::by_services(changes, APPLY_CHUNK),
        };
        for (i, chunk) in chunks.into_iter().enumerate() {
            let (ops, started) = (chunk.len(), Instant::now());
            let applied = reconcile::apply(&mut self.backend, chunk);
            self.startup_note("applied", || {
                format!(
                    "chunk {}: {ops} changes in {:.1} ms",
                    i + 1,
                    started.elapsed().as_secs_f64() * 1e3
                )
            });
            if let Some(ops) = journal.take() {
                let reloading = self.status == DaemonStatus::Reloading;
                if reloading && ops.is_empty() {
                    self.log.log("Reload: no kernel operations");
                }
                for p in ops {
                    if reloading {
                        match applied.failed.iter().find(|(c, _)| c.op == p.op) {
                            Some((_, e)) => {
                                self.log.log(&format!("Reload: {} (failed: {e})", p.line))
                            }
                            None => self.log.log(&format!("Reload: {}", p.line)),
                        }
                    }
                    self.journal.push(p);
                }
            }
            self.took(applied, hooks);
        }
        // fallbackcommand on the edges only.
        let config = self.config.clone();
        for ds in &want.services {
            let v = &config.virtuals[ds.virtual_index];
            let before = self
                .fallback_active
                .insert(ds.service.key, ds.fallback_active);
            if before == Some(ds.fallback_active) {
                continue;
            }
            // At start upstream runs `start` when there is no real up, and
            // nothing otherwise.
            if before.is_none() && !ds.fallback_active {
                continue;
            }
            if let Some(cmd) = &v.fallbackcommand {
                let proto = match v.key {
                    crate::config::VirtualKey::Addr { protocol, .. } => protocol.as_str(),
                    crate::config::VirtualKey::Fwmark { .. } => "fwm",
                };
                let action = if ds.fallback_active { "start" } else { "stop" };
                hooks.fallback_command(cmd, action, &v.key.service(), proto);
            }
        }
        self.phase = "start";
    }

    /// What one apply did: the view kept current, the log lines (written
    /// together), alerts, purged services forgotten, failures counted.
    pub(super) fn took(&mut self, applied: reconcile::Applied, hooks: &mut dyn Hooks) {
        if let Some(view) = &mut self.view {
            for c in &applied.done {
                record(view, &c.op);
            }
        }
        let mut lines: Vec<String> = applied
            .done
            .iter()
            .map(|c| c.log_line(self.phase))
            .collect();
        lines.extend(applied.failed.iter().map(|(c, e)| {
            format!(
                "Failed to apply \"{}\": {e} (will retry)",
                c.log_line(self.phase)
            )
        }));
        self.log.log_all(&lines);
        for c in &applied.done {
            self.alert(c, hooks);
            if c.kind == ChangeKind::PurgeVirtual {
                if let crate::ipvs::Op::DelService(k) = c.op {
                    self.owned.remove(&k);
                }
            }
        }
        self.failed_last_pass += applied.failed.len();
        self.record.netlink_errors += applied.failed.len() as u64;
    }

    /// During the start only: a step of it in the timeline (see
    /// [`timeline`]) and, with `-d`, a debug line saying when it ended
    /// since the command started.
    pub(super) fn startup_note(&self, step: &str, details: impl FnOnce() -> String) {
        if self.status != DaemonStatus::Starting {
            return;
        }
        if !self.log.is_debug() {
            return timeline::mark(step, details);
        }
        let details = details();
        self.log.debug(
            2,
            &format!(
                "start-up: {step} at {:.1} ms: {details}",
                timeline::since_start().as_secs_f64() * 1e3
            ),
        );
        timeline::mark(step, || details);
    }

    /// Whether virtual `vi` waits before its fallback server comes in:
    /// while a real of it has not been checked yet (it may well be up), for
    /// at most the virtual's check deadline since it came into the
    /// configuration, and never when the fallback is in the table already.
    /// So a cold start does not add the fallback only to remove it when the
    /// first checks pass a moment later (upstream's start-up flap, C20).
    pub(super) fn holds_fallback(&self, vi: usize, actual: &Table) -> bool {
        let v = &self.config.virtuals[vi];
        let Some(fallback) = reconcile::desired::fallback_key(v) else {
            // No fallback server: hold back a fallbackcommand the same way.
            return v.fallbackcommand.is_some() && self.unchecked(v);
        };
        let key = service_key(&v.key);
        let present = actual
            .iter()
            .any(|(s, ds)| s.key == key && ds.iter().any(|d| d.key == fallback));
        !present && self.unchecked(v)
    }

    /// A real of `v` is unknown and has no check result yet, and the
    /// deadline of its first check (from when `v` came in) has not passed.
    pub(super) fn unchecked(&self, v: &Virtual) -> bool {
        let deadline = Duration::from_secs(u64::from(v.checktimeout.max(v.negotiatetimeout)))
            + crate::check::probe::BACKSTOP_GRACE;
        if self
            .born
            .get(&v.key)
            .is_none_or(|t| self.now.saturating_duration_since(*t) >= deadline)
        {
            return false;
        }
        v.reals.iter().any(|r| {
            state(&self.health, &self.off_up, v, r) == State::Unknown
                && self
                    .health
                    .of_member(&member(v, r))
                    .is_none_or(|(t, _)| !self.last.contains_key(t))
        })
    }
}
