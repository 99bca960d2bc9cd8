//! Load monitors (`loadmonitor=`, an ldirectord-rs extension): what each
//! real server says about the weight it should carry, besides its health.
//! An input of the one-way flow, like the health checks: queries run in a
//! pool of their own (the checks' [`super::pool`], scheduled every
//! `loadinterval`), results go to the director as events, and the
//! director turns them into the desired state's inputs through
//! [`LoadTable`].
//!
//! Owns: the identity of a query ([`LoadQuery`]), the plan of every query
//! of a configuration, running one query under its deadline
//! ([`LoadProber`]), the agent protocol ([`agent`]), nanny's parser and
//! formula ([`nanny`]), and the per-real state the answers build up
//! ([`table`]). Must not touch IPVS or health: a monitor that fails leaves
//! the weight alone, and only the director decides what is up.

pub mod agent;
pub mod nanny;
pub mod query;
pub mod table;

use std::net::IpAddr;
use std::time::Duration;

use super::pool::{Job, JobResult, Member, Plan};
use super::probe::Probe;
use crate::config::{bracketed, Config, LoadMonitor, Real, Virtual};

pub use agent::{Admin, AgentHealth, AgentReply, LoadWeight};
pub use table::{Load, LoadTable, Observed};

/// One load query: which monitor asks which real. Equal queries run once
/// for every virtual service that shares them (an agent serves every port
/// of its real, so its query leaves the port out).
///
/// The deadline is not part of the identity: two virtuals that differ in
/// `loadtimeout` only share the query (with the first one's deadline), and
/// a reload that changes it keeps what the monitor said so far.
#[derive(Debug, Clone)]
pub struct LoadQuery {
    /// Never [`LoadMonitor::None`] in a plan.
    pub monitor: LoadMonitor,
    pub addr: IpAddr,
    /// The real's port for `command:` (its second argument); 0 otherwise.
    pub real_port: u16,
    /// `loadtimeout`.
    pub timeout: Duration,
}

impl PartialEq for LoadQuery {
    fn eq(&self, other: &Self) -> bool {
        (&self.monitor, self.addr, self.real_port) == (&other.monitor, other.addr, other.real_port)
    }
}

impl Eq for LoadQuery {}

impl std::hash::Hash for LoadQuery {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.monitor.hash(state);
        self.addr.hash(state);
        self.real_port.hash(state);
    }
}

impl LoadQuery {
    /// The query of real `r` of virtual `v`; `None` without a monitor.
    pub fn new(v: &Virtual, r: &Real) -> Option<LoadQuery> {
        let real_port = match v.loadmonitor {
            LoadMonitor::None => return None,
            LoadMonitor::Command(_) => r.port,
            LoadMonitor::Agent { .. } | LoadMonitor::Nanny(_) => 0,
        };
        Some(LoadQuery {
            monitor: v.loadmonitor.clone(),
            addr: r.addr,
            real_port,
            timeout: Duration::from_secs(u64::from(v.loadtimeout.max(1))),
        })
    }

    /// What is asked of whom, for logs: `agent 192.0.2.1:7000`,
    /// `command /usr/local/bin/load 192.0.2.1 80`, `nanny rsh 192.0.2.1`.
    pub fn describe(&self) -> String {
        match &self.monitor {
            LoadMonitor::None => "no load monitor".into(),
            LoadMonitor::Agent { port } => format!("agent {}:{port}", bracketed(&self.addr)),
            LoadMonitor::Command(p) => {
                format!("command {} {} {}", p.display(), self.addr, self.real_port)
            }
            LoadMonitor::Nanny(p) => format!("nanny {p} {}", self.addr),
        }
    }
}

/// What a query read.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// An agent-protocol line (`agent:` and `command:`).
    Agent(AgentReply),
    /// nanny's 1-minute load (`nanny:`).
    Load(f32),
}

/// A load query is a pool job: one step, nothing remembered between runs.
impl Job for LoadQuery {
    type Step = ();
    type Memory = ();
    type Detail = Reading;

    fn next_step(&self, _: &()) -> Option<()> {
        Some(())
    }

    fn record(_: &mut (), _: (), _: bool) {}

    fn deadline(&self, _: ()) -> Duration {
        self.timeout
    }
}

/// Every load query of `config`, grouped: a real shared by several virtual
/// services with the same monitor is asked once, every smallest
/// `loadinterval` of them.
pub fn plan_of(config: &Config) -> Plan<LoadQuery> {
    Plan::grouped(config.virtuals.iter().flat_map(|v| {
        let interval = Duration::from_secs(u64::from(v.loadinterval.max(1)));
        v.reals.iter().filter_map(move |r| {
            let member = Member {
                virtual_key: v.key,
                real_addr: r.addr,
                real_port: r.port,
            };
            Some((LoadQuery::new(v, r)?, interval, member))
        })
    }))
}

/// Runs load queries for real ([`query::run`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct LoadProber;

impl Probe<LoadQuery> for LoadProber {
    async fn probe(&self, q: &LoadQuery, _: ()) -> JobResult<LoadQuery> {
        query::run(q).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_shared_by_virtuals_with_the_same_monitor_is_asked_once() {
        let c = crate::config::test_config(
            "loadmonitor=agent:7000\nloadinterval=5\n\
             virtual=192.0.2.10:80\n\treal=192.0.2.21:80 masq\n\treal=192.0.2.22:80 masq\n\
             virtual=192.0.2.10:443\n\treal=192.0.2.21:443 masq\n\tloadinterval=3\n\tloadtimeout=9\n\
             virtual=192.0.2.11:80\n\treal=192.0.2.21:80 masq\n\tloadmonitor=command:/bin/true\n\
             virtual=192.0.2.12:80\n\treal=192.0.2.21:80 masq\n\tloadmonitor=command:/bin/true\n\
             virtual=192.0.2.12:81\n\treal=192.0.2.21:81 masq\n\tloadmonitor=command:/bin/true\n\
             virtual=192.0.2.13:80\n\treal=192.0.2.21:80 masq\n\tloadmonitor=none\n",
        );
        let plan = plan_of(&c);
        let seen: Vec<(String, u64, usize)> = plan
            .targets
            .iter()
            .map(|p| (p.target.describe(), p.interval.as_secs(), p.members.len()))
            .collect();
        assert_eq!(
            seen,
            [
                // Both ports of .21 share the agent, at the smaller interval.
                ("agent 192.0.2.21:7000".to_string(), 3, 2),
                ("agent 192.0.2.22:7000".to_string(), 5, 1),
                // A command is told the port: one query per port.
                ("command /bin/true 192.0.2.21 80".to_string(), 5, 2),
                ("command /bin/true 192.0.2.21 81".to_string(), 5, 1),
            ]
        );
        // The first virtual's deadline (the check timeout by default).
        assert_eq!(plan.targets[0].target.timeout, Duration::from_secs(5));
    }
}
