//! [`Snapshot`]: what the director knows, frozen at one instant — every
//! virtual service and real server with its state, weights, last check,
//! since when, and the kernel's counters; the recent state changes; the
//! daemon's reloads and netlink errors. The director builds one at most
//! every second and soon after a state change, and publishes it behind an
//! `Arc` ([`Publisher`]); the status file, `status [--json]`, `/status.json`,
//! `/metrics` and the status page are all rendered from it, so they
//! agree with each other.
//!
//! It is plain data: serialised as JSON it is the status file and
//! `/status.json` (schema in ldirectord(8), STATUS JSON; the version is
//! [`SCHEMA`]). Times are seconds since the Unix epoch (fractional),
//! durations seconds. Nothing here reads a clock or the kernel.
//!
//! Extending it: a new per-real fact (a load-driven weight and why it
//! differs, an operator's override) is one field of [`RealStatus`], filled
//! in by the director's builder and shown by each renderer; optional
//! fields default on reading, so an older file still parses.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// The version of the JSON document; bumped on an incompatible change.
pub const SCHEMA: u32 = 1;

/// How many state changes [`Snapshot::recent_changes`] keeps (the director's
/// ring, newest first).
pub const RECENT_CHANGES: usize = 50;

/// See the module doc.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub schema: u32,
    /// When the director took it.
    pub taken: f64,
    pub daemon: Daemon,
    /// In configuration order.
    pub virtuals: Vec<VirtualStatus>,
    /// The last state changes of any real, newest first (at most
    /// [`RECENT_CHANGES`]).
    pub recent_changes: Vec<Change>,
    /// The connection-sync daemons of `syncdaemon=`, and any other found
    /// running; empty without the directive.
    #[serde(default)]
    pub sync_daemons: Vec<SyncDaemonStatus>,
    /// Counts the snapshots one daemon published (not in the JSON).
    #[serde(skip)]
    pub generation: u64,
}

/// A connection-sync daemon: one that `syncdaemon=` asks for (running or
/// not), or one found running that it does not name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncDaemonStatus {
    /// `master` or `backup`.
    pub role: String,
    /// As `ipvsadm -L --daemon` prints it: with the kernel's values when it
    /// runs, as asked when it does not.
    pub daemon: String,
    pub running: bool,
    /// `syncdaemon=` names it (false: someone else started it).
    pub configured: bool,
    /// Why it does not run: the kernel's answer to the last start.
    pub error: Option<String>,
}

/// The daemon as a whole.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Daemon {
    pub pid: u32,
    /// The configuration file.
    pub config: String,
    /// `ldirectord-rs x.y.z`.
    pub version: String,
    /// When it started.
    pub started: f64,
    /// `starting`, `running`, `reloading` or `stopping`.
    pub state: String,
    pub reloads: Reloads,
    /// Netlink requests the kernel refused or that failed (table reads
    /// and changes), since start.
    pub netlink_errors: u64,
    /// When the kernel's counters ([`Traffic`]) were read; `None`: not
    /// yet. They are read with the whole table, once per check interval
    /// at most, not on every request.
    pub ipvs_read: Option<f64>,
}

/// Reloads since start (SIGHUP, `reload`, autoreload).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reloads {
    /// The new configuration was put in force.
    pub ok: u64,
    /// It had errors; the running one was kept.
    pub failed: u64,
    /// When the last one happened, and whether it was put in force.
    pub last: Option<f64>,
    pub last_ok: Option<bool>,
}

/// One virtual service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VirtualStatus {
    /// Upstream's id: `tcp:192.0.2.10:80`, `fwm:7`.
    pub id: String,
    /// `192.0.2.10:80`, or the firewall mark.
    pub service: String,
    /// `tcp`, `udp` or `fwm`.
    pub protocol: String,
    pub scheduler: String,
    /// The kernel table has the service.
    pub in_kernel: bool,
    /// No real is up: the fallback server (when there is one) serves.
    pub fallback_active: bool,
    /// The service's counters (no connection counts at this level).
    pub ipvs: Option<Traffic>,
    /// The reals in configuration order, then the fallback server.
    pub reals: Vec<RealStatus>,
}

/// What a destination is to its virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Real,
    Fallback,
}

/// How a real (or the fallback server) stands, as a person would say it.
///
/// | state       | meaning                                                       |
/// |-------------|---------------------------------------------------------------|
/// | `up`        | its checks pass: it is in the table with its weight           |
/// | `down`      | its checks fail: it is not in the table                       |
/// | `quiescent` | its checks fail: it stays in the table with weight 0          |
/// | `unknown`   | not checked yet (and not adopted from the table at start)     |
/// | `fallback`  | the fallback server, serving: no real of the virtual is up    |
/// | `standby`   | the fallback server, not serving                              |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Up,
    Down,
    Quiescent,
    Unknown,
    Fallback,
    Standby,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Up => "up",
            State::Down => "down",
            State::Quiescent => "quiescent",
            State::Unknown => "unknown",
            State::Fallback => "fallback",
            State::Standby => "standby",
        }
    }
}

/// IPVS forwarding method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Forward {
    Gate,
    Masq,
    Ipip,
}

impl Forward {
    pub fn as_str(self) -> &'static str {
        match self {
            Forward::Gate => "gate",
            Forward::Masq => "masq",
            Forward::Ipip => "ipip",
        }
    }
}

impl From<crate::config::Forward> for Forward {
    fn from(f: crate::config::Forward) -> Self {
        match f {
            crate::config::Forward::Gate => Forward::Gate,
            crate::config::Forward::Masq => Forward::Masq,
            crate::config::Forward::Ipip => Forward::Ipip,
        }
    }
}

/// One real server of a virtual service (or its fallback server).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RealStatus {
    /// `192.0.2.21:80`, `[2001:db8::21]:80`.
    pub real: String,
    pub role: Role,
    pub forward: Forward,
    pub state: State,
    /// The weight of the `real=` line (1 for the fallback server).
    pub weight: u32,
    /// The weight the director gives it now (configured × load monitor ×
    /// slow start); `None`: out of service (down, in maintenance, or its
    /// monitor said so).
    #[serde(default)]
    pub effective_weight: Option<u32>,
    /// Why the effective weight differs from the configured one, most
    /// important first (`down`, `agent 50%`, `slow start 12/40`); empty
    /// when nothing moves it.
    #[serde(default)]
    pub weight_reasons: Vec<String>,
    /// An operator's override (`ldirectord drain|disable|weight`), until
    /// `enable`; absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<OperatorStatus>,
    /// The weight in the kernel table; `None`: not in the table.
    pub kernel_weight: Option<u32>,
    /// The last check's outcome; `None`: not checked yet (and always for
    /// the fallback server and `checktype=on|off` reals).
    pub last_check: Option<LastCheck>,
    /// When its state last changed; `None`: not since the daemon started.
    pub since: Option<f64>,
    /// State changes (up ⇄ down) since the daemon started.
    pub transitions: u64,
    /// Its counters in the kernel; `None`: not in the table when read.
    pub ipvs: Option<Traffic>,
}

/// An operator's override of a real: `{"action":"drain"}`,
/// `{"action":"disable"}`, `{"action":"weight","weight":5}`, who made it
/// and when, and whether it decides the weight now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperatorStatus {
    #[serde(flatten)]
    pub what: crate::control::Override,
    /// The peer credentials of the request.
    pub by: crate::control::Peer,
    pub at: f64,
    /// `false`: something stricter wins for now (the real is down or in
    /// maintenance, or its agent says `maint`, `down` or, over a weight,
    /// `drain`); the reasons say what.
    pub in_force: bool,
}

/// The outcome of a real's last check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastCheck {
    pub ok: bool,
    /// What the server answered (`HTTP/1.1 200 OK`), or why the check
    /// failed (`Connection refused`, `Connection timed out after 5 s`), or
    /// that a maintenance file holds the real down.
    pub result: String,
    /// A file in `maintenancedir` held the real down when it came.
    #[serde(default)]
    pub maintenance: bool,
    /// How long the check took.
    pub latency: f64,
    /// When it finished.
    pub at: f64,
}

/// The kernel's counters of a service or destination (`ipvsadm -Ln
/// --stats`), as of [`Daemon::ipvs_read`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    pub connections: u64,
    pub packets_in: u64,
    pub packets_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Destinations only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_connections: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive_connections: Option<u32>,
}

/// One state change of a real in a virtual service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub at: f64,
    /// The virtual's id.
    #[serde(rename = "virtual")]
    pub virtual_id: String,
    pub real: String,
    /// The new state: `up` or `down` (health; quiescence is the table's
    /// business, see [`RealStatus::state`]).
    pub state: State,
    /// The check result that caused it, or `maintenance`.
    pub reason: String,
}

impl Snapshot {
    /// Every real (not fallback) row with its virtual.
    pub fn reals(&self) -> impl Iterator<Item = (&VirtualStatus, &RealStatus)> {
        self.virtuals.iter().flat_map(|v| {
            v.reals
                .iter()
                .filter(|r| r.role == Role::Real)
                .map(move |r| (v, r))
        })
    }
}

/// Seconds since the Unix epoch of a wall-clock time, to the millisecond.
pub fn unix(t: std::time::SystemTime) -> f64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64 / 1000.0)
}

/// The director's end of the snapshot channel: it replaces the current
/// snapshot; readers ([`Subscriber`]) always see the latest, whole one and
/// never wait for the director (nor it for them).
pub struct Publisher(watch::Sender<Arc<Snapshot>>);

/// A reader's end (cheap to clone).
pub type Subscriber = watch::Receiver<Arc<Snapshot>>;

impl Publisher {
    /// A channel holding an empty snapshot until the first publication.
    pub fn new() -> (Publisher, Subscriber) {
        let (tx, rx) = watch::channel(Arc::new(Snapshot::default()));
        (Publisher(tx), rx)
    }

    /// Make `snapshot` the current one (the previous one is freed when
    /// the last reader lets go of it).
    pub fn publish(&self, snapshot: Arc<Snapshot>) {
        self.0.send_replace(snapshot);
    }
}
