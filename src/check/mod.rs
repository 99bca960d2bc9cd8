//! Health checks: one probe of one real server, as upstream ldirectord means
//! each checktype and service, under a hard deadline.
//!
//! Owns: turning config into check [`Target`]s (the identity of a probe,
//! shared by every virtual service that checks the same real the same way),
//! running probes, the pure health state machine, and the pool that
//! schedules probes. Must not touch IPVS: results leave as events for the
//! reconciler.
//!
//! - [`target`]: a probe's identity, from (virtual, real).
//! - [`probe`]: run one probe by checktype under its deadline
//!   ([`probe::Prober`], or any [`probe::Probe`] in tests).
//! - [`service`]: the negotiate checks, one file per service.
//! - [`health`]: the pure up/down state machine and the table of every
//!   pair's health.
//! - [`pool`]: the schedule of every unique target, checks in bounded
//!   slots, events on an mpsc channel.
//! - [`report`]: `ldirectord check`, every check once.
//! - [`load`]: the load monitors (`loadmonitor=`): agent, command and
//!   nanny queries, scheduled by a pool of their own, and the per-real
//!   state their answers build up.
//! - [`stats`]: the pool's counters (results, latency, lateness, checks in
//!   flight), shared atomics the status surface reads.

pub mod error;
pub mod health;
pub mod load;
pub mod pool;
pub mod probe;
pub mod report;
pub mod service;
pub mod stats;
pub mod target;

pub use error::CheckError;
pub use target::Target;

/// What a successful probe observed (e.g. `HTTP/1.1 200 OK`), for logs,
/// `ldirectord check` and the monitorfile.
pub type Detail = String;

/// The result of one probe.
pub type CheckResult = Result<Detail, CheckError>;
