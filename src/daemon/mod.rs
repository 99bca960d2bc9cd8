//! The director daemon and its process edges: logging, the pid file, the
//! lifecycle commands. Wires config → checks → health → reconciler → IPVS.

pub mod alert;
pub mod control;
pub mod director;
pub mod instances;
pub mod lifecycle;
pub mod log;
pub mod maintenance;
pub mod observe;
pub mod operate;
pub mod pidfile;
pub mod run;
pub mod slowstart;
pub mod sync_daemons;
pub mod timeline;
