//! What the director tells others: a real's effective weight and why, the
//! health reason of a state, the snapshot every surface reads (status
//! file, `status`, JSON, metrics, the page) and the status lines.
//!
//! Part of [`super::Director`]; read-only but for the counters' refresh
//! the snapshot needs.

use super::*;

impl<B: IpvsBackend> Director<B> {
    /// The weight of real `ri` of virtual `vi` as the last pass set it,
    /// and why it differs from the configured one.
    pub fn real_weight(&self, vi: usize, ri: usize) -> Option<RealWeight> {
        let v = self.config.virtuals.get(vi)?;
        Some(self.weight_of(v, v.reals.get(ri)?))
    }

    pub(super) fn weight_of(&self, v: &Virtual, r: &Real) -> RealWeight {
        let m = member(v, r);
        let state = state(&self.health, &self.off_up, v, r);
        let operator = self.overrides.get(&m).map(|o| o.what);
        let input = RealInput {
            up: state == State::Up,
            load: self.loads.load_of(&m),
            ramp: self.slow.ramp(&m, self.now),
            operator,
        };
        let w = weigh(r, &input);
        let mut reasons = Vec::new();
        let health = self.health_reason(&m, state);
        if operator == Some(Override::Disable) {
            reasons.push("disabled by operator".to_string());
        }
        reasons.extend(health.clone());
        if let Some(o @ (Override::Drain | Override::Weight { .. })) = operator {
            let text = match o {
                Override::Weight { weight } => format!("operator weight {weight}"),
                _ => "drained by operator".to_string(),
            };
            reasons.push(match outweighed(o, &input, health) {
                Some(winner) => format!("{text} ({winner} wins)"),
                None => text,
            });
        }
        reasons.extend(self.loads.reasons(&m));
        if let (Some(now), Some(_)) = (w.weight, input.ramp) {
            if now != w.target {
                reasons.push(format!("slow start {now}/{}", w.target));
            }
        }
        RealWeight {
            configured: r.weight,
            effective: w.weight,
            reasons,
        }
    }

    /// Why a real is not up, as `status` says it: `in maintenance` (a file
    /// in maintenancedir held its last check down), `down`, `not checked
    /// yet`; `None` when it is up.
    pub(super) fn health_reason(&self, m: &Member, state: State) -> Option<String> {
        match state {
            State::Up => None,
            State::Down => {
                let maintenance = self
                    .health
                    .of_member(m)
                    .and_then(|(t, _)| self.last.get(t))
                    .is_some_and(|l| l.maintenance);
                Some(
                    if maintenance {
                        "in maintenance"
                    } else {
                        "down"
                    }
                    .to_string(),
                )
            }
            State::Unknown => Some("not checked yet".to_string()),
        }
    }

    /// Read the whole kernel table (counters kept for the status, a
    /// failure counted).
    pub(super) fn read_table(&mut self) -> crate::ipvs::Result<Table> {
        match self.backend.dump() {
            Ok(entries) => {
                self.record.table_read(&entries);
                Ok(entries
                    .into_iter()
                    .map(|e| (e.service, e.dests.into_iter().map(|d| d.dest).collect()))
                    .collect())
            }
            Err(e) => {
                self.record.netlink_errors += 1;
                Err(e)
            }
        }
    }

    /// State changes of any real since start (a new one is worth a
    /// snapshot soon).
    pub fn state_changes(&self) -> u64 {
        self.record.changes()
    }

    /// Everything the director knows, frozen: each virtual and real with
    /// its state, weights (configured and in the kernel), last check,
    /// since when; the recent changes; reloads and netlink errors. Reads
    /// the table only when the director has no view of it (after a failed
    /// read); its cost is a few allocations per real.
    pub fn snapshot(&mut self) -> Snapshot {
        if self.view.is_none() {
            if let Ok(t) = self.read_table() {
                self.view = Some(view_of(t));
            }
        }
        // The builder reads the director while it updates the record.
        let mut record = std::mem::take(&mut self.record);
        let (health, off_up) = (&self.health, &self.off_up);
        let state = |v: &Virtual, r: &Real| state(health, off_up, v, r);
        let weight = |v: &Virtual, r: &Real| self.weight_of(v, r);
        let operator = |v: &Virtual, r: &Real| self.operator_of(v, r);
        let parts = observe::Parts {
            config: &self.config,
            health,
            last: &self.last,
            view: self.view.as_ref(),
            fallback_active: &self.fallback_active,
            status: self.status,
            state: &state,
            weight: &weight,
            operator: &operator,
        };
        let mut snapshot = observe::build(&parts, &mut record);
        self.record = record;
        snapshot.sync_daemons = self.sync.status();
        snapshot
    }

    /// What `status` prints now: one line per virtual and real (the
    /// text of [`Director::snapshot`]).
    pub fn status_lines(&mut self) -> Vec<String> {
        let now = crate::status::snapshot::unix(std::time::SystemTime::now());
        crate::status::text::lines(&self.snapshot(), now)
    }
}
