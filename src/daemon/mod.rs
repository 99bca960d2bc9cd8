//! The director daemon and its process edges: logging, the pid file, the
//! lifecycle commands. Wires config → checks → health → reconciler → IPVS.

pub mod log;
pub mod pidfile;
