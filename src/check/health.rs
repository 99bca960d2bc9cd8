//! The health state machine of one real server: probe results in, state
//! transitions out, and [`HealthTable`], the cells of every checked pair.
//! Pure: no I/O, no clocks, no logging, no IPVS. The caller
//! logs each returned [`Transition`] once (with [`Transition::message`] for
//! upstream's soft-failure texts) and turns `Up`/`Down` into IPVS changes.
//!
//! Upstream (§f.3/f.4): a failure while up increments `failcount`; at
//! `failurecount` the real goes down, before that each failure logs
//! `Soft failure real server: …`. Any success resets the count (logging
//! `Resetting soft failure count: …` when it was non-zero) and brings the
//! real up at once. We add `risecount` (consecutive successes to come back
//! up; 1 = upstream) and an explicit initial state.
//!
//! Where the counting happens: keep one [`Health`] per (virtual, real) pair
//! and feed it each result of the pair's probe exactly once. Upstream shares
//! one counter between every virtual holding the same real and increments
//! it once per virtual, so `failurecount=3` in three virtuals took a real
//! down after a single failed check (§f.4 bug); here each probe result
//! counts once, whatever the number of virtuals.
//!
//! Truth table (`f` = consecutive failures, `s` = consecutive successes):
//!
//! | state   | result  | condition          | new state | transition                  |
//! |---------|---------|--------------------|-----------|-----------------------------|
//! | Unknown | success | s+1 ≥ risecount    | Up        | `Up`                        |
//! | Unknown | success | s+1 < risecount    | Unknown   | `Rising`                    |
//! | Unknown | failure |                    | Down      | `Down`                      |
//! | Up      | success | f > 0              | Up        | `ResetFailures`             |
//! | Up      | success | f = 0              | Up        | `None`                      |
//! | Up      | failure | f+1 < failurecount | Up        | `SoftFailure{f+1}`          |
//! | Up      | failure | f+1 ≥ failurecount | Down      | `Down`                      |
//! | Down    | success | s+1 ≥ risecount    | Up        | `Up{reset_failures: f > 0}` |
//! | Down    | success | s+1 < risecount    | Down      | `Rising`                    |
//! | Down    | failure |                    | Down      | `None` (s = 0)              |
//!
//! A real whose state is not known (not in the kernel table at start) is
//! not served until it has passed a check, and goes down at its first
//! failure: there is nothing to protect with `failurecount` yet (upstream
//! forces such reals down at start, which has the same effect).

use std::collections::HashMap;
use std::sync::Arc;

use super::pool::{Member, Plan};
use super::Target;
use crate::config::{Config, VirtualKey};
use crate::fastmap::FastMap;

/// What the director currently believes about a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Not checked yet and not adopted from the kernel table.
    Unknown,
    Up,
    Down,
}

/// A state change or a counted step, for the caller to act on and log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Nothing to do or log.
    None,
    /// A failure was counted but the real stays up:
    /// `Soft failure real server: RIP:RPORT (VID) failure n/m`.
    SoftFailure { failures: u32, failurecount: u32 },
    /// A success after soft failures, while up:
    /// `Resetting soft failure count: RIP:RPORT (VID)`.
    ResetFailures,
    /// A success was counted but the real is not up yet (risecount > 1).
    Rising { successes: u32, risecount: u32 },
    /// The real came up. `reset_failures`: it had counted failures, so
    /// upstream logs `Resetting soft failure count` first.
    Up { reset_failures: bool },
    /// The real went down. `forced`: by [`Health::force_down`] (maintenance),
    /// not by failed checks.
    Down { forced: bool },
}

impl Transition {
    /// Upstream's log text for the counted steps, for the real `real_id`
    /// (`RIP:RPORT`, as [`crate::config::Real::id`]) in virtual `vid`
    /// ([`crate::config::VirtualKey::id`]). `Up` and `Down` are logged by
    /// whoever changes IPVS (the text depends on what it does: `Added`,
    /// `Restored`, `Deleted`, `Quiescent` …), except the soft-failure reset
    /// that precedes an `Up`, which is returned here.
    pub fn message(&self, real_id: &str, vid: &str) -> Option<String> {
        match *self {
            Transition::SoftFailure {
                failures,
                failurecount,
            } => Some(format!(
                "Soft failure real server: {real_id} ({vid}) failure {failures}/{failurecount}"
            )),
            Transition::ResetFailures
            | Transition::Up {
                reset_failures: true,
            } => Some(format!("Resetting soft failure count: {real_id} ({vid})")),
            _ => None,
        }
    }

    /// Whether the real's state changed (IPVS may need an update).
    pub fn is_change(&self) -> bool {
        matches!(self, Transition::Up { .. } | Transition::Down { .. })
    }
}

/// The health of one real server as seen through one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    state: State,
    /// Consecutive failures (upstream's `failcount`): reset by a success.
    failures: u32,
    /// Consecutive successes while not up: reset by a failure.
    successes: u32,
    failurecount: u32,
    risecount: u32,
}

impl Health {
    /// A health cell starting in `initial` (`Up`/`Down` when adopted from
    /// the kernel table, `Unknown` otherwise). Thresholds below 1 are taken
    /// as 1.
    pub fn new(initial: State, failurecount: u32, risecount: u32) -> Health {
        Health {
            state: initial,
            failures: 0,
            successes: 0,
            failurecount: failurecount.max(1),
            risecount: risecount.max(1),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Consecutive failures counted so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Change the thresholds (on reload) without losing the state. A
    /// counter already at or past a lowered threshold takes effect at the
    /// next result, not now: a reload alone never changes a state.
    pub fn set_thresholds(&mut self, failurecount: u32, risecount: u32) {
        self.failurecount = failurecount.max(1);
        self.risecount = risecount.max(1);
    }

    /// Feed one probe result (`true` = the check passed).
    pub fn observe(&mut self, ok: bool) -> Transition {
        if ok {
            self.observe_success()
        } else {
            self.observe_failure()
        }
    }

    fn observe_success(&mut self) -> Transition {
        match self.state {
            State::Up => {
                // Still up: only a pending failure count is worth a line.
                self.successes = 0;
                if std::mem::take(&mut self.failures) > 0 {
                    Transition::ResetFailures
                } else {
                    Transition::None
                }
            }
            State::Unknown | State::Down => {
                self.successes += 1;
                if self.successes < self.risecount {
                    return Transition::Rising {
                        successes: self.successes,
                        risecount: self.risecount,
                    };
                }
                self.state = State::Up;
                self.successes = 0;
                Transition::Up {
                    reset_failures: std::mem::take(&mut self.failures) > 0,
                }
            }
        }
    }

    fn observe_failure(&mut self) -> Transition {
        self.successes = 0;
        match self.state {
            // Already down: upstream ignores the result (and so does not
            // count it either).
            State::Down => Transition::None,
            State::Unknown => {
                self.failures = self.failures.saturating_add(1);
                self.state = State::Down;
                Transition::Down { forced: false }
            }
            State::Up => {
                self.failures = self.failures.saturating_add(1);
                if self.failures < self.failurecount {
                    Transition::SoftFailure {
                        failures: self.failures,
                        failurecount: self.failurecount,
                    }
                } else {
                    self.state = State::Down;
                    Transition::Down { forced: false }
                }
            }
        }
    }

    /// Take the real down now, bypassing `failurecount` (a maintenance
    /// file appeared). Returns `None` when it is already down. The failure
    /// count is left alone; the rise count restarts.
    pub fn force_down(&mut self) -> Transition {
        self.successes = 0;
        if self.state == State::Down {
            return Transition::None;
        }
        self.state = State::Down;
        Transition::Down { forced: true }
    }
}

/// The health of every checked (virtual, real) pair, keyed by the pair's
/// probe identity: what the daemon keeps between [`super::pool::CheckEvent`]s
/// and across reloads. Pure bookkeeping over [`Health`].
#[derive(Debug, Default, Clone)]
pub struct HealthTable {
    cells: FastMap<Arc<Target>, Vec<(Member, Health)>>,
    /// Each pair's target: the director asks by pair (every real on every
    /// pass), and building the pair's [`Target`] to ask cost more than the
    /// rest of a pass at 10,000 reals.
    targets: FastMap<Member, Arc<Target>>,
}

impl HealthTable {
    pub fn new() -> HealthTable {
        HealthTable::default()
    }

    /// Make the table that of `plan` (built from `config`): pairs whose
    /// target and member are unchanged keep their health (with the
    /// thresholds of their virtual in `config`); new pairs start in
    /// `initial(member)` (e.g. `Up` when the kernel table has the real with
    /// a weight, else `Unknown`); pairs no longer planned are forgotten.
    pub fn sync(&mut self, config: &Config, plan: &Plan, initial: impl Fn(&Member) -> State) {
        // By key, not by a search of the virtuals per pair: that was
        // quadratic (30,000 pairs × 3,000 virtuals at start-up). The first
        // virtual of a key wins, as the search did.
        let mut by_key: HashMap<VirtualKey, (u32, u32)> =
            HashMap::with_capacity(config.virtuals.len());
        for v in &config.virtuals {
            by_key.entry(v.key).or_insert((v.failurecount, v.risecount));
        }
        let thresholds = |m: &Member| by_key.get(&m.virtual_key).copied().unwrap_or((1, 1));
        let mut old = std::mem::take(&mut self.cells);
        self.targets.clear();
        self.cells.reserve(plan.targets.len());
        self.targets
            .reserve(plan.targets.iter().map(|p| p.members.len()).sum());
        for p in &plan.targets {
            for m in &p.members {
                self.targets.insert(m.clone(), p.target.clone());
            }
            let mut previous = old.remove(&p.target).unwrap_or_default();
            let cells = p
                .members
                .iter()
                .map(|m| {
                    let (fail, rise) = thresholds(m);
                    let health = match previous.iter().position(|(pm, _)| pm == m) {
                        Some(i) => {
                            let mut h = previous.swap_remove(i).1;
                            h.set_thresholds(fail, rise);
                            h
                        }
                        None => Health::new(initial(m), fail, rise),
                    };
                    (m.clone(), health)
                })
                .collect();
            self.cells.insert(p.target.clone(), cells);
        }
    }

    /// How many pairs are up.
    pub fn count_up(&self) -> usize {
        self.cells
            .values()
            .flatten()
            .filter(|(_, h)| h.state() == State::Up)
            .count()
    }

    /// Feed one probe result of `target` to every pair it serves; returns
    /// each pair's transition (including `Transition::None`), in plan
    /// order. Unknown targets (a result that raced a reload) give nothing.
    pub fn observe(&mut self, target: &Target, ok: bool) -> Vec<(Member, Transition)> {
        self.cells
            .get_mut(target)
            .map(|cells| {
                cells
                    .iter_mut()
                    .map(|(m, h)| (m.clone(), h.observe(ok)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Take every pair of `target` down at once, bypassing failurecount
    /// (a maintenance file, upstream's forced down).
    pub fn force_down(&mut self, target: &Target) -> Vec<(Member, Transition)> {
        self.cells
            .get_mut(target)
            .map(|cells| {
                cells
                    .iter_mut()
                    .map(|(m, h)| (m.clone(), h.force_down()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The table's own copy of `target`, if it is planned.
    pub fn key(&self, target: &Target) -> Option<&Arc<Target>> {
        self.cells.get_key_value(target).map(|(k, _)| k)
    }

    /// The target of one pair and the pair's health.
    pub fn of_member(&self, member: &Member) -> Option<(&Arc<Target>, &Health)> {
        let (target, cells) = self.cells.get_key_value(self.targets.get(member)?)?;
        let health = cells.iter().find(|(m, _)| m == member).map(|(_, h)| h)?;
        Some((target, health))
    }

    /// Every pair and its health.
    pub fn iter(&self) -> impl Iterator<Item = (&Arc<Target>, &Member, &Health)> {
        self.cells
            .iter()
            .flat_map(|(t, cells)| cells.iter().map(move |(m, h)| (t, m, h)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Transition as T;

    fn run(h: &mut Health, results: &[bool]) -> Vec<Transition> {
        results.iter().map(|&ok| h.observe(ok)).collect()
    }

    #[test]
    fn upstream_defaults_flip_on_every_result() {
        let mut h = Health::new(State::Unknown, 1, 1);
        assert_eq!(
            run(&mut h, &[true, true, false, false, true]),
            [
                T::Up {
                    reset_failures: false
                },
                T::None,
                T::Down { forced: false },
                T::None,
                // Upstream logs the reset before restoring the real.
                T::Up {
                    reset_failures: true
                },
            ]
        );
        assert_eq!(h.state(), State::Up);
    }

    #[test]
    fn failurecount_counts_soft_failures_once_each() {
        let mut h = Health::new(State::Up, 3, 1);
        assert_eq!(
            run(&mut h, &[false, false, true, false, false, false, false]),
            [
                T::SoftFailure {
                    failures: 1,
                    failurecount: 3
                },
                T::SoftFailure {
                    failures: 2,
                    failurecount: 3
                },
                T::ResetFailures,
                T::SoftFailure {
                    failures: 1,
                    failurecount: 3
                },
                T::SoftFailure {
                    failures: 2,
                    failurecount: 3
                },
                T::Down { forced: false },
                T::None,
            ]
        );
        assert_eq!(h.state(), State::Down);
    }

    #[test]
    fn unknown_goes_down_at_the_first_failure() {
        let mut h = Health::new(State::Unknown, 5, 1);
        assert_eq!(h.observe(false), T::Down { forced: false });
        assert_eq!(
            h.observe(true),
            T::Up {
                reset_failures: true
            }
        );
    }

    #[test]
    fn risecount_needs_consecutive_successes() {
        let mut h = Health::new(State::Down, 1, 3);
        assert_eq!(
            run(&mut h, &[true, true, false, true, true, true, true]),
            [
                T::Rising {
                    successes: 1,
                    risecount: 3
                },
                T::Rising {
                    successes: 2,
                    risecount: 3
                },
                T::None,
                T::Rising {
                    successes: 1,
                    risecount: 3
                },
                T::Rising {
                    successes: 2,
                    risecount: 3
                },
                T::Up {
                    reset_failures: false
                },
                T::None,
            ]
        );
    }

    #[test]
    fn force_down_bypasses_failurecount() {
        let mut h = Health::new(State::Up, 10, 1);
        assert_eq!(h.force_down(), T::Down { forced: true });
        assert_eq!(h.force_down(), T::None);
        assert_eq!(h.state(), State::Down);
        assert_eq!(
            h.observe(true),
            T::Up {
                reset_failures: false
            }
        );
    }

    #[test]
    fn reload_keeps_state_and_counters() {
        let mut h = Health::new(State::Up, 3, 1);
        h.observe(false);
        h.set_thresholds(2, 1);
        assert_eq!(h.state(), State::Up);
        assert_eq!(h.observe(false), T::Down { forced: false });
    }

    #[test]
    fn zero_thresholds_mean_one() {
        let mut h = Health::new(State::Up, 0, 0);
        assert_eq!(h.observe(false), T::Down { forced: false });
        assert!(matches!(h.observe(true), T::Up { .. }));
    }

    #[test]
    fn messages_are_upstreams() {
        let soft = T::SoftFailure {
            failures: 1,
            failurecount: 3,
        };
        assert_eq!(
            soft.message("192.0.2.21:80", "tcp:192.0.2.10:80").unwrap(),
            "Soft failure real server: 192.0.2.21:80 (tcp:192.0.2.10:80) failure 1/3"
        );
        assert_eq!(
            T::ResetFailures.message("[2001:db8::1]:53", "udp:[2001:db8::10]:53"),
            Some("Resetting soft failure count: [2001:db8::1]:53 (udp:[2001:db8::10]:53)".into())
        );
        assert_eq!(T::Down { forced: false }.message("a", "b"), None);
        assert!(T::Up {
            reset_failures: false
        }
        .is_change());
    }

    #[test]
    fn table_counts_once_per_pair_and_survives_reload() {
        let text = "\
failurecount=2
virtual=192.0.2.10:80
\treal=192.0.2.21:80 gate
\tchecktype=connect
virtual=192.0.2.11:80
\treal=192.0.2.21:80 gate
\tchecktype=connect
";
        let cfg = crate::config::test_config(text);
        let plan = Plan::from_config(&cfg);
        assert_eq!(plan.targets.len(), 1);
        let target = plan.targets[0].target.clone();
        let mut table = HealthTable::new();
        table.sync(&cfg, &plan, |_| State::Up);
        // One failed probe is one failure for each virtual (upstream: two
        // for the shared real, so it went down at once).
        let t = table.observe(&target, false);
        assert_eq!(t.len(), 2);
        assert!(t.iter().all(|(_, tr)| matches!(
            tr,
            T::SoftFailure {
                failures: 1,
                failurecount: 2
            }
        )));
        // A reload with the same config keeps the count.
        table.sync(&cfg, &plan, |_| State::Unknown);
        let t = table.observe(&target, false);
        assert!(t.iter().all(|(_, tr)| *tr == T::Down { forced: false }));
        let m = &plan.targets[0].members[0];
        let (t, h) = table.of_member(m).unwrap();
        assert_eq!((&**t, h.state()), (&*target, State::Down));
        // A reload without the pairs forgets them.
        table.sync(&cfg, &Plan::default(), |_| State::Up);
        assert_eq!(table.iter().count(), 0);
        assert!(table.observe(&target, true).is_empty());
    }
}
