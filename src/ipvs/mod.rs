//! IPVS over generic netlink. A leaf module: it imports nothing else of the
//! crate and knows nothing of ldirectord.cf or health checks.
//!
//! # What is here
//!
//! - [`types`]: the model, in three layers: identity ([`ServiceKey`],
//!   [`DestKey`]), configuration ([`Service`], [`Dest`]) and observation
//!   ([`ServiceEntry`], [`DestEntry`], [`Stats`], [`ConnCounts`]). A
//!   reconciler diffs [`Service`]/[`Dest`] and never sees counters.
//! - [`IpvsBackend`] + [`Op`]: what the reconciler uses: dump the table,
//!   apply an ordered list of changes, flush; list, start and stop the
//!   connection-sync daemons.
//! - [`NetlinkIpvs`]: the kernel backend (plus the rest of what ipvsadm can
//!   do: info, zero, timeouts), with batched requests.
//! - [`MemoryIpvs`]: an in-memory backend with the kernel's error semantics,
//!   for tests and dry runs.
//! - [`render`]: `ipvsadm -Ln`, `ipvsadm -Ln --stats` and `ipvsadm -L --daemon`
//!   text.
//! - [`Error`]: typed errors with `is_exists()` / `is_not_found()`.
//!
//! # Normalisation
//!
//! A dump compares equal to what was applied: `IP_VS_SVC_F_HASHED` is
//! masked off, 16-byte addresses are read by family, the netmask is read by
//! family, the persistence timeout is in seconds. One field the *request*
//! changes: for DR and tunnel destinations of non-fwmark services the port
//! is the virtual port (ipvsadm forces it, and so do both backends). Use
//! [`Dest::kernel_key`] / [`Dest::normalized_for`] to know the key a dump
//! will report, and use that key for [`Op::DelDest`].
//!
//! # Sync trait, called from `spawn_blocking`
//!
//! [`IpvsBackend`] is synchronous. Netlink requests to IPVS are short
//! syscalls answered from the kernel's own context; the kernel serialises
//! them under `__ip_vs_mutex` anyway, so there is nothing to gain from
//! interleaving requests on one socket, and a blocking API keeps batching,
//! seq matching and deadlines simple and testable. Every receive is bounded
//! ([`NetlinkIpvs::set_timeout`]), so a call never blocks for long. The daemon
//! owns one backend per netns and calls it from `tokio::task::spawn_blocking`
//! (or a dedicated thread fed by a channel); the backend is `Send`.
//! [`MemoryIpvs`] is the same trait, so reconciler tests need no runtime.
//!
//! # Netns
//!
//! [`NetlinkIpvs::new`] binds its socket in the netns of the calling thread;
//! to manage another netns, create the handle on a thread that has entered
//! it (`setns`/`unshare`), then use it from anywhere.

pub mod consts;
pub mod error;
pub mod memory;
pub mod netlink;
pub mod render;
pub mod types;
pub mod wire;

pub use error::{Errno, Error, Result};
pub use memory::MemoryIpvs;
pub use netlink::NetlinkIpvs;
pub use types::*;

use consts::{IP_VS_IFNAME_MAXLEN, IP_VS_PENAME_MAXLEN, IP_VS_SCHEDNAME_MAXLEN};

/// One change to the IPVS table. Ops are applied in order; a failed op does
/// not stop the ones after it (the kernel behaves the same way within a
/// batch), so order adds parent-first and deletes child-first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `IPVS_CMD_NEW_SERVICE` (ipvsadm `-A`); EEXIST if present.
    AddService(Service),
    /// `IPVS_CMD_SET_SERVICE` (ipvsadm `-E`), replaces every configured
    /// field; ESRCH if absent.
    EditService(Service),
    /// `IPVS_CMD_DEL_SERVICE` (ipvsadm `-D`), takes the dests along; ESRCH
    /// if absent.
    DelService(ServiceKey),
    /// `IPVS_CMD_NEW_DEST` (ipvsadm `-a`); ESRCH without the service,
    /// EEXIST if present.
    AddDest(ServiceKey, Dest),
    /// `IPVS_CMD_SET_DEST` (ipvsadm `-e`), full replace; ENOENT if absent.
    EditDest(ServiceKey, Dest),
    /// `IPVS_CMD_DEL_DEST` (ipvsadm `-d`), by the key the kernel stores;
    /// ENOENT if absent.
    DelDest(ServiceKey, DestKey),
}

impl Op {
    /// A one-line description with every field sent, used in errors (the
    /// kernel gives no extack text for IPVS, so this is all there is).
    pub fn describe(&self) -> String {
        match self {
            Op::AddService(s) => format!("add service {}", describe_service(s)),
            Op::EditService(s) => format!("edit service {}", describe_service(s)),
            Op::DelService(k) => format!("delete service {k}"),
            Op::AddDest(k, d) => format!("add dest {} to {k}", describe_dest(&d.normalized_for(k))),
            Op::EditDest(k, d) => {
                format!("edit dest {} of {k}", describe_dest(&d.normalized_for(k)))
            }
            Op::DelDest(k, d) => format!("delete dest {d} from {k}"),
        }
    }

    /// The service the op concerns.
    pub fn service_key(&self) -> &ServiceKey {
        match self {
            Op::AddService(s) | Op::EditService(s) => &s.key,
            Op::DelService(k) | Op::AddDest(k, _) | Op::EditDest(k, _) | Op::DelDest(k, _) => k,
        }
    }
}

fn describe_service(s: &Service) -> String {
    let mask = match s.netmask {
        Netmask::V4(m) => m.to_string(),
        Netmask::V6(p) => format!("/{p}"),
    };
    format!(
        "{} (scheduler {:?}, flags {:#x}, timeout {}, netmask {}, pe {})",
        s.key,
        s.scheduler,
        s.flags.bits(),
        s.timeout,
        mask,
        s.pe_name.as_deref().unwrap_or("none")
    )
}

fn describe_dest(d: &Dest) -> String {
    format!(
        "{} ({} weight {}, thresholds u={} l={}, tunnel {:?} port {} flags {:#x})",
        d.key,
        d.forward.ipvsadm_name(),
        d.weight,
        d.upper_threshold,
        d.lower_threshold,
        d.tunnel_type,
        d.tunnel_port,
        d.tunnel_flags.0
    )
}

/// Checks what the wire cannot carry, before anything is sent. Shared by
/// both backends so they refuse the same things.
pub(crate) fn validate_op(op: &Op) -> Result<()> {
    let invalid = |reason: &str| Error::Invalid {
        request: op.describe(),
        reason: reason.into(),
    };
    if let ServiceKey::Fwmark { mark: 0, .. } = op.service_key() {
        return Err(invalid("fwmark 0 is not a firewall-mark service"));
    }
    if let Op::AddService(s) | Op::EditService(s) = op {
        // NLA_NUL_STRING with len 15 (IP_VS_SCHEDNAME_MAXLEN - 1).
        if s.scheduler.len() >= IP_VS_SCHEDNAME_MAXLEN || s.scheduler.contains('\0') {
            return Err(invalid("scheduler name must be at most 15 bytes"));
        }
        if let Some(pe) = &s.pe_name {
            if pe.len() >= IP_VS_PENAME_MAXLEN || pe.contains('\0') {
                return Err(invalid("persistence engine name must be at most 15 bytes"));
            }
        }
    }
    Ok(())
}

/// Checks what the wire cannot carry in a `NEW_DAEMON` request. Shared by
/// both backends.
pub(crate) fn validate_daemon(d: &SyncDaemon) -> Result<()> {
    // NLA_NUL_STRING of at most IP_VS_IFNAME_MAXLEN - 1 bytes.
    if d.mcast_ifn.len() >= IP_VS_IFNAME_MAXLEN || d.mcast_ifn.contains('\0') {
        return Err(Error::Invalid {
            request: format!("start {d}"),
            reason: "mcast interface name must be at most 15 bytes".into(),
        });
    }
    Ok(())
}

/// The IPVS table as the reconciler sees it.
///
/// Implementations: [`NetlinkIpvs`] (the kernel) and [`MemoryIpvs`] (tests,
/// dry runs). Both report the same error kinds for the same situations.
pub trait IpvsBackend {
    /// The whole table with observations, services and dests in the
    /// kernel's order.
    fn dump(&mut self) -> Result<Vec<ServiceEntry>>;

    /// Applies `ops` in order; one result per op, in the same order. A
    /// failure does not stop later ops. Callers that want idempotence treat
    /// `is_exists()` on adds and `is_not_found()` on deletes as done (after
    /// re-reading if another manager may be racing).
    fn apply(&mut self, ops: &[Op]) -> Vec<Result<()>>;

    /// Deletes every service and dest (`ipvsadm -C`).
    fn flush(&mut self) -> Result<()>;

    /// The connection-sync daemons that run (`ipvsadm -L --daemon`): none,
    /// a master, a backup or both, each with every option filled in.
    fn daemons(&mut self) -> Result<Vec<SyncDaemon>>;

    /// Starts a sync daemon (`ipvsadm --start-daemon`). The kernel answers
    /// ENODEV when the interface does not exist, EEXIST when a daemon of
    /// that role runs, EINVAL for a group that is not multicast or while a
    /// service has destinations of the other address family.
    fn start_daemon(&mut self, d: &SyncDaemon) -> Result<()>;

    /// Stops the sync daemon of a role (`ipvsadm --stop-daemon`);
    /// [`Error::NotRunning`] when none runs.
    fn stop_daemon(&mut self, state: SyncState) -> Result<()>;

    /// The configured part of the table only: what a reconciler diffs.
    fn services(&mut self) -> Result<Vec<(Service, Vec<Dest>)>> {
        Ok(self
            .dump()?
            .into_iter()
            .map(|e| (e.service, e.dests.into_iter().map(|d| d.dest).collect()))
            .collect())
    }
}

impl<B: IpvsBackend + ?Sized> IpvsBackend for Box<B> {
    fn dump(&mut self) -> Result<Vec<ServiceEntry>> {
        (**self).dump()
    }
    fn apply(&mut self, ops: &[Op]) -> Vec<Result<()>> {
        (**self).apply(ops)
    }
    fn flush(&mut self) -> Result<()> {
        (**self).flush()
    }
    fn daemons(&mut self) -> Result<Vec<SyncDaemon>> {
        (**self).daemons()
    }
    fn start_daemon(&mut self, d: &SyncDaemon) -> Result<()> {
        (**self).start_daemon(d)
    }
    fn stop_daemon(&mut self, state: SyncState) -> Result<()> {
        (**self).stop_daemon(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The daemon moves backends into `spawn_blocking` / worker threads.
    #[test]
    fn backends_are_send() {
        fn send<T: Send + 'static>() {}
        send::<NetlinkIpvs>();
        send::<MemoryIpvs>();
        send::<Box<dyn IpvsBackend + Send>>();
    }

    #[test]
    fn describe_carries_every_field() {
        let k = ServiceKey::tcp("192.0.2.1".parse().unwrap(), 80);
        let s = Service::new(k, "wlc").persistent(300).pe("sip");
        assert_eq!(
            Op::AddService(s).describe(),
            "add service TCP 192.0.2.1:80 (scheduler \"wlc\", flags 0x1, timeout 300, \
             netmask 255.255.255.255, pe sip)"
        );
        let d = Dest::new(
            DestKey::new("192.0.2.11".parse().unwrap(), 8080),
            Forward::Route,
        );
        // The port shown is the one sent: DR uses the virtual port.
        assert_eq!(
            Op::AddDest(k, d).describe(),
            "add dest 192.0.2.11:80 (Route weight 1, thresholds u=0 l=0, tunnel Ipip port 0 \
             flags 0x0) to TCP 192.0.2.1:80"
        );
    }
}
