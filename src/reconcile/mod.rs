//! The reconciler: configuration + health → the IPVS table we want →
//! the ordered list of changes that gets the kernel there.
//!
//! Pure: [`desired`] and [`diff`] do no I/O and know nothing of netlink;
//! [`apply`] is the only place that writes to IPVS, and only through the
//! [`IpvsBackend`] trait (netlink in the daemon, [`crate::ipvs::MemoryIpvs`]
//! in tests). Checks never call in here; the daemon feeds health in.

pub mod apply;
pub mod desired;
pub mod diff;
pub mod plan;

pub use apply::{apply, by_services, Applied};
pub use desired::{desired, Desired, DesiredDest, DesiredService, Presence, Role};
pub use diff::{diff, Change, ChangeKind};
