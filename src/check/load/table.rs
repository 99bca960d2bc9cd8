//! [`LoadTable`]: what the load monitors have said, kept between their
//! answers and across reloads, and what it means for each (virtual, real)
//! pair: the [`Load`] input of the desired state. Pure: no I/O, no clocks,
//! no IPVS; notes to log are returned, one per change of a condition (a
//! monitor starts or stops failing, an agent changes its state).
//!
//! Per query (what the real said, shared by every virtual asking it): an
//! agent's words accumulate, as HAProxy's "parameters which are not
//! advertised by the agent are not changed"; a failed query changes
//! nothing. Per pair: nanny's own weight, which moves by its formula from
//! the pair's configured weight, and the weight found in the kernel at
//! adoption, held until the monitor first answers so that a restarted
//! daemon does not flap the weight back to the configured one.

use std::sync::Arc;

use super::{nanny, Admin, AgentHealth, LoadQuery, LoadWeight, Reading};
use crate::check::pool::{JobResult, Member, Plan};
use crate::config::{Config, LoadMonitor};
use crate::fastmap::FastMap;

/// What the monitor of one (virtual, real) pair asks of the desired state.
/// The default (no monitor, or no answer yet) changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Load {
    /// `None`: the configured weight.
    pub weight: Option<LoadWeight>,
    pub admin: Admin,
    /// An agent said `down`, `fail` or `stopped` (and not `up` since).
    pub down: bool,
    /// An agent's `maxconn:N`: the real's upper connection threshold.
    pub maxconn: Option<u32>,
}

/// What one observation changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// Pairs whose [`Load`] changed.
    pub changed: Vec<Member>,
    /// Lines to log.
    pub notes: Vec<String>,
}

/// An agent's words so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Said {
    weight: Option<LoadWeight>,
    admin: Admin,
    /// The word and description of its last `down`/`fail`/`stopped`.
    down: Option<String>,
    maxconn: Option<u32>,
}

#[derive(Debug, Clone)]
struct Pair {
    member: Member,
    /// The real's configured weight in this virtual (nanny's W).
    configured: u32,
    /// nanny's own weight (its `lastWeight`), from W up to 10×W.
    nanny: u32,
    /// The kernel's weight at adoption, until the monitor first answers.
    held: Option<u32>,
}

#[derive(Debug, Clone, Default)]
struct Cell {
    said: Said,
    /// nanny: the last 1-minute load read.
    load: Option<f32>,
    /// The monitor has answered at least once.
    answered: bool,
    /// Why the monitor fails now, if it does.
    failing: Option<String>,
    pairs: Vec<Pair>,
}

/// The state of every load query of the running configuration.
#[derive(Debug, Default, Clone)]
pub struct LoadTable {
    cells: FastMap<Arc<LoadQuery>, Cell>,
    /// Each pair's query.
    queries: FastMap<Member, Arc<LoadQuery>>,
}

impl LoadTable {
    pub fn new() -> LoadTable {
        LoadTable::default()
    }

    /// Make the table that of `plan` (built from `config`): queries and
    /// pairs that are still planned keep their state (a changed configured
    /// weight restarts nanny's weight from it); the others are forgotten.
    pub fn sync(&mut self, config: &Config, plan: &Plan<LoadQuery>) {
        let configured = |m: &Member| {
            config
                .virtuals
                .iter()
                .find(|v| v.key == m.virtual_key)
                .and_then(|v| {
                    v.reals
                        .iter()
                        .find(|r| r.addr == m.real_addr && r.port == m.real_port)
                })
                .map_or(1, |r| r.weight)
        };
        let mut old = std::mem::take(&mut self.cells);
        self.queries.clear();
        for p in &plan.targets {
            let mut cell = old.remove(&p.target).unwrap_or_default();
            let mut previous = std::mem::take(&mut cell.pairs);
            cell.pairs = p
                .members
                .iter()
                .map(|m| {
                    self.queries.insert(m.clone(), p.target.clone());
                    let w = configured(m);
                    match previous.iter().position(|x| x.member == *m) {
                        Some(i) => {
                            let mut pair = previous.swap_remove(i);
                            if pair.configured != w {
                                pair.configured = w;
                                pair.nanny = w;
                            }
                            pair
                        }
                        None => Pair {
                            member: m.clone(),
                            configured: w,
                            nanny: w,
                            held: None,
                        },
                    }
                })
                .collect();
            self.cells.insert(p.target.clone(), cell);
        }
    }

    /// The table's own copy of `q`, if it is planned.
    pub fn key(&self, q: &LoadQuery) -> Option<&Arc<LoadQuery>> {
        self.cells.get_key_value(q).map(|(k, _)| k)
    }

    /// An adopted real: keep the kernel's `weight` until its monitor first
    /// answers (nanny goes on from it). Nothing once it has answered.
    pub fn hold(&mut self, m: &Member, weight: u32) {
        let Some(cell) = self.queries.get(m).and_then(|q| self.cells.get_mut(q)) else {
            return;
        };
        if cell.answered {
            return;
        }
        if let Some(pair) = cell.pairs.iter_mut().find(|p| p.member == *m) {
            pair.held = Some(weight);
        }
    }

    /// The real of pair `m` left service: nanny starts again from the
    /// configured weight when it returns (as nanny did on every
    /// activation; the slow start is `slowstart=`'s).
    pub fn restart(&mut self, m: &Member) {
        if let Some(pair) = self.pair_mut(m) {
            pair.nanny = pair.configured;
            pair.held = None;
        }
    }

    fn pair_mut(&mut self, m: &Member) -> Option<&mut Pair> {
        let q = self.queries.get(m)?;
        let cell = self.cells.get_mut(q)?;
        cell.pairs.iter_mut().find(|p| p.member == *m)
    }

    /// What the monitor of pair `m` asks for now.
    pub fn load_of(&self, m: &Member) -> Load {
        let Some((q, cell)) = self
            .queries
            .get(m)
            .and_then(|q| Some((q, self.cells.get(q)?)))
        else {
            return Load::default();
        };
        let Some(pair) = cell.pairs.iter().find(|p| p.member == *m) else {
            return Load::default();
        };
        if !cell.answered {
            return Load {
                weight: pair.held.map(LoadWeight::Absolute),
                ..Load::default()
            };
        }
        match q.monitor {
            LoadMonitor::Nanny(_) => Load {
                weight: Some(LoadWeight::Absolute(pair.nanny)),
                ..Load::default()
            },
            _ => Load {
                weight: cell.said.weight,
                admin: cell.said.admin,
                down: cell.said.down.is_some(),
                maxconn: cell.said.maxconn,
            },
        }
    }

    /// Feed one answer of query `q` (or its failure).
    pub fn observe(&mut self, q: &LoadQuery, result: &JobResult<LoadQuery>) -> Observed {
        let mut out = Observed::default();
        let Some(key) = self.key(q).cloned() else {
            return out;
        };
        let before: Vec<(Member, Load)> = self.cells[&key]
            .pairs
            .iter()
            .map(|p| (p.member.clone(), self.load_of(&p.member)))
            .collect();
        let cell = self.cells.get_mut(&key).expect("looked up above");
        let what = key.describe();
        match result {
            Err(e) => {
                let e = e.to_string();
                if cell.failing.is_none() {
                    out.notes.push(format!(
                        "Load monitor {what} failed: {e} (weights left as they are)"
                    ));
                }
                cell.failing = Some(e);
                return out;
            }
            Ok(reading) => {
                if cell.failing.take().is_some() {
                    out.notes.push(format!("Load monitor {what} answers again"));
                }
                if !cell.answered {
                    for p in &mut cell.pairs {
                        if let Some(w) = p.held.take() {
                            p.nanny = w;
                        }
                    }
                }
                cell.answered = true;
                match reading {
                    Reading::Load(l) => {
                        cell.load = Some(*l);
                        for p in &mut cell.pairs {
                            p.nanny = nanny::adjust(p.nanny, p.configured, Some(*l));
                        }
                    }
                    Reading::Agent(r) => {
                        let was = cell.said.clone();
                        let said = &mut cell.said;
                        said.weight = r.weight.or(said.weight);
                        said.admin = r.admin.unwrap_or(said.admin);
                        said.maxconn = r.maxconn.or(said.maxconn);
                        match &r.health {
                            Some(AgentHealth::Up) => said.down = None,
                            Some(AgentHealth::Down { text }) => said.down = Some(text.clone()),
                            None => {}
                        }
                        if said.admin != was.admin {
                            out.notes.push(format!(
                                "Load monitor {what} says {} (was {})",
                                said.admin.as_str(),
                                was.admin.as_str()
                            ));
                        }
                        match (&was.down, &said.down) {
                            (None, Some(t)) => {
                                out.notes.push(format!("Load monitor {what} says {t}"))
                            }
                            (Some(_), None) => {
                                out.notes.push(format!("Load monitor {what} says up"))
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        for (m, was) in before {
            if self.load_of(&m) != was {
                out.changed.push(m);
            }
        }
        out
    }

    /// Why the monitor of pair `m` moves its weight, for `status`:
    /// `agent 50%`, `agent drain`, `agent down (disk full)`, `nanny load
    /// 0.42`, `agent failing: Connection refused`, … Empty without a
    /// monitor or before it has said anything that matters.
    pub fn reasons(&self, m: &Member) -> Vec<String> {
        let Some((q, cell)) = self
            .queries
            .get(m)
            .and_then(|q| Some((q, self.cells.get(q)?)))
        else {
            return Vec::new();
        };
        let kind = match q.monitor {
            LoadMonitor::None => return Vec::new(),
            LoadMonitor::Agent { .. } => "agent",
            LoadMonitor::Command(_) => "command",
            LoadMonitor::Nanny(_) => "nanny",
        };
        let mut out = Vec::new();
        let pair = cell.pairs.iter().find(|p| p.member == *m);
        if !cell.answered {
            if let Some(w) = pair.and_then(|p| p.held) {
                out.push(format!("kernel weight {w} kept until the {kind} answers"));
            }
        } else if let Some(l) = cell.load {
            out.push(format!("nanny load {l:.2}"));
        } else {
            let s = &cell.said;
            if let Some(t) = &s.down {
                out.push(format!("{kind} {t}"));
            }
            if s.admin != Admin::Ready {
                out.push(format!("{kind} {}", s.admin.as_str()));
            }
            match s.weight {
                Some(LoadWeight::Percent(p)) => out.push(format!("{kind} {p}%")),
                Some(LoadWeight::Absolute(w)) => out.push(format!("{kind} weight:{w}")),
                None => {}
            }
            if let Some(c) = s.maxconn {
                out.push(format!("{kind} maxconn:{c}"));
            }
        }
        if let Some(e) = &cell.failing {
            out.push(format!("{kind} failing: {e}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::load::plan_of;
    use crate::check::CheckError;
    use crate::config::test_config;

    const CF: &str =
        "virtual=192.0.2.10:80\n\treal=192.0.2.21:80 masq 10\n\tloadmonitor=agent:7000\n\
        virtual=192.0.2.10:81\n\treal=192.0.2.21:81 masq 4\n\tloadmonitor=agent:7000\n\
        virtual=192.0.2.11:80\n\treal=192.0.2.31:80 masq 100\n\tloadmonitor=nanny:rsh\n";

    fn table(text: &str) -> (LoadTable, Vec<Arc<LoadQuery>>, Vec<Member>) {
        let c = test_config(text);
        let plan = plan_of(&c);
        let mut t = LoadTable::new();
        t.sync(&c, &plan);
        let qs = plan.targets.iter().map(|p| p.target.clone()).collect();
        let ms = plan
            .targets
            .iter()
            .flat_map(|p| p.members.clone())
            .collect();
        (t, qs, ms)
    }

    fn agent(line: &str) -> JobResult<LoadQuery> {
        crate::check::load::agent::parse(line).map(Reading::Agent)
    }

    #[test]
    fn agent_words_accumulate_and_serve_every_virtual_of_the_real() {
        let (mut t, qs, ms) = table(CF);
        assert_eq!(t.load_of(&ms[0]), Load::default());
        let o = t.observe(&qs[0], &agent("50% drain"));
        assert_eq!(o.changed, [ms[0].clone(), ms[1].clone()]);
        assert_eq!(
            o.notes,
            ["Load monitor agent 192.0.2.21:7000 says drain (was ready)"]
        );
        let l = t.load_of(&ms[1]);
        assert_eq!(
            (l.weight, l.admin),
            (Some(LoadWeight::Percent(50)), Admin::Drain)
        );
        // Not advertised: not changed.
        let o = t.observe(&qs[0], &agent("ready"));
        assert_eq!(o.changed.len(), 2);
        assert_eq!(t.load_of(&ms[0]).weight, Some(LoadWeight::Percent(50)));
        assert_eq!(t.load_of(&ms[0]).admin, Admin::Ready);
        assert_eq!(t.reasons(&ms[0]), ["agent 50%"]);
        // The same answer again changes nothing and says nothing.
        assert_eq!(t.observe(&qs[0], &agent("ready 50%")), Observed::default());
        let o = t.observe(&qs[0], &agent("stopped#backup"));
        assert!(t.load_of(&ms[0]).down);
        assert_eq!(
            o.notes,
            ["Load monitor agent 192.0.2.21:7000 says stopped (backup)"]
        );
        assert_eq!(t.reasons(&ms[0]), ["agent stopped (backup)", "agent 50%"]);
        // Only the agent's own `up` clears its down.
        t.observe(&qs[0], &agent("75%"));
        assert!(t.load_of(&ms[0]).down);
        let o = t.observe(&qs[0], &agent("up"));
        assert!(!t.load_of(&ms[0]).down);
        assert_eq!(o.notes, ["Load monitor agent 192.0.2.21:7000 says up"]);
    }

    #[test]
    fn a_failing_monitor_changes_nothing_and_is_logged_once_per_change() {
        let (mut t, qs, ms) = table(CF);
        t.observe(&qs[0], &agent("30% maxconn:5"));
        let before = t.load_of(&ms[0]);
        let mut notes = Vec::new();
        for r in [
            Err(CheckError::Timeout),
            Err(CheckError::Refused),
            agent("fifty percent"),
            Err(CheckError::Timeout),
        ] {
            let o = t.observe(&qs[0], &r);
            assert!(o.changed.is_empty());
            notes.extend(o.notes);
            assert_eq!(t.load_of(&ms[0]), before);
        }
        assert_eq!(
            notes,
            ["Load monitor agent 192.0.2.21:7000 failed: Connection timed out (weights left as they are)"]
        );
        assert_eq!(
            t.reasons(&ms[0]),
            [
                "agent 30%",
                "agent maxconn:5",
                "agent failing: Connection timed out"
            ]
        );
        let o = t.observe(&qs[0], &agent("30%"));
        assert_eq!(
            o.notes,
            ["Load monitor agent 192.0.2.21:7000 answers again"]
        );
        assert!(o.changed.is_empty());
    }

    #[test]
    fn nanny_moves_each_pairs_weight_by_its_formula_and_restarts_at_w() {
        let (mut t, qs, ms) = table(CF);
        let m = &ms[2];
        // Before any answer: the configured weight.
        assert_eq!(t.load_of(m).weight, None);
        let o = t.observe(&qs[1], &Ok(Reading::Load(0.0)));
        assert_eq!(o.changed, std::slice::from_ref(m));
        assert_eq!(t.load_of(m).weight, Some(LoadWeight::Absolute(150)));
        t.observe(&qs[1], &Ok(Reading::Load(0.0)));
        assert_eq!(t.load_of(m).weight, Some(LoadWeight::Absolute(200)));
        assert_eq!(t.reasons(m), ["nanny load 0.00"]);
        // No load: nothing moves.
        let o = t.observe(
            &qs[1],
            &Err(CheckError::Status("rsh exited with status 1".into())),
        );
        assert!(o.changed.is_empty());
        assert_eq!(t.load_of(m).weight, Some(LoadWeight::Absolute(200)));
        t.restart(m);
        assert_eq!(t.load_of(m).weight, Some(LoadWeight::Absolute(100)));
    }

    #[test]
    fn an_adopted_weight_is_held_until_the_first_answer() {
        let (mut t, qs, ms) = table(CF);
        t.hold(&ms[2], 420);
        t.hold(&ms[0], 7);
        assert_eq!(t.load_of(&ms[2]).weight, Some(LoadWeight::Absolute(420)));
        assert_eq!(
            t.reasons(&ms[0]),
            ["kernel weight 7 kept until the agent answers"]
        );
        // A failure keeps it.
        t.observe(&qs[1], &Err(CheckError::Timeout));
        assert_eq!(t.load_of(&ms[2]).weight, Some(LoadWeight::Absolute(420)));
        // nanny goes on from it.
        t.observe(&qs[1], &Ok(Reading::Load(2.0)));
        assert_eq!(t.load_of(&ms[2]).weight, Some(LoadWeight::Absolute(370)));
        // An agent's first answer replaces it (no weight word: configured).
        t.observe(&qs[0], &agent("up"));
        assert_eq!(t.load_of(&ms[0]).weight, None);
    }

    #[test]
    fn reload_keeps_what_was_said_and_forgets_what_is_gone() {
        let (mut t, qs, ms) = table(CF);
        t.observe(&qs[0], &agent("drain"));
        t.observe(&qs[1], &Ok(Reading::Load(0.0)));
        // The agent's virtuals stay; the nanny real's weight changes.
        let text = CF.replace("masq 100", "masq 10");
        let c = test_config(&text);
        t.sync(&c, &plan_of(&c));
        assert_eq!(t.load_of(&ms[0]).admin, Admin::Drain);
        assert_eq!(t.load_of(&ms[2]).weight, Some(LoadWeight::Absolute(10)));
        // A result for a query that is gone is dropped.
        let c = test_config("virtual=192.0.2.10:80\n\treal=192.0.2.21:80 masq 10\n");
        t.sync(&c, &plan_of(&c));
        assert_eq!(t.observe(&qs[0], &agent("ready")), Observed::default());
        assert_eq!(t.load_of(&ms[0]), Load::default());
    }
}
