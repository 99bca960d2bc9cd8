//! ldirectord-rs: a drop-in successor to ldirectord, the Linux Director Daemon.
//!
//! # Layout
//!
//! The data flows one way: config → checks → health → desired state → diff →
//! netlink.
//!
//! - [`config`]: `ldirectord.cf` → pest pairs → a typed, fully resolved
//!   [`config::Config`]. Knows nothing of checks or IPVS.
//! - [`ipvs`]: the IPVS generic-netlink family, a backend trait and an
//!   in-memory backend. A leaf: imports nothing else of this crate.
//! - [`cli`]: the command line (upstream's synopsis plus our verbs).
//! - [`doctor`]: what a director or real server needs; reads the host, changes nothing.
//! - [`status`]: the director's state as one snapshot, and its views: the
//!   status file, `status [--json]`, and the HTTP server of `statusaddress=`
//!   (page, Prometheus metrics, JSON). Reads; never changes anything.
//! - [`control`]: operating a running daemon: overrides (drain, disable,
//!   weight), the control socket's protocol and client, the state file.
//! - [`fastmap`]: the hasher of the maps looked up on every check result.
//! - [`piranha`]: `ldirectord convert`: Red Hat Piranha's lvs.cf → ldirectord.cf text
//!   (and a keepalived/Pacemaker companion for director failover).

pub mod check;
pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod doctor;
pub mod fastmap;
pub mod ipvs;
pub mod piranha;
pub mod reconcile;
pub mod status;
