//! Operating a running daemon without editing its file: an operator's
//! overrides of a real server (`ldirectord drain|disable|weight REAL
//! [VIRTUAL]`, until `enable`), the control socket's protocol, the state
//! file that keeps the overrides across reloads and restarts, and the
//! client end of the socket.
//!
//! Owns: the vocabulary ([`Override`], [`Peer`]), the wire format
//! ([`protocol`]), the state file ([`state`]) and the client ([`client`]).
//! The daemon's end of the socket is [`crate::daemon::control`]; the
//! overrides themselves are kept by the director and act only as one more
//! input of the desired state ([`crate::reconcile::desired::RealInput`]):
//! nothing here changes IPVS, and nothing here knows the director.
//!
//! Precedence, the stricter wins: `disable` (out of the table, even with
//! `quiescent=yes`) > a real that is down or in maintenance (upstream's
//! `maintenancedir`, an agent's `maint`/`down`) > `drain` (weight 0, it
//! stays: established connections go on) > `weight N` (instead of the
//! configured weight × its load monitor; an agent's `drain` still wins).

pub mod client;
pub mod protocol;
pub mod state;

use serde::{Deserialize, Serialize};

/// What an operator said of one real server of one virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Override {
    /// Weight 0: no new connections, established ones go on.
    Drain,
    /// Out of the table.
    Disable,
    /// This weight instead of the configured one (and its monitor's).
    Weight { weight: u32 },
}

impl Override {
    /// The largest weight `weight` takes (that of `real=` and of IPVS as
    /// ipvsadm sets it).
    pub const MAX_WEIGHT: u32 = 65535;

    /// `drain`, `disable`, `weight`.
    pub fn action(&self) -> &'static str {
        match self {
            Override::Drain => "drain",
            Override::Disable => "disable",
            Override::Weight { .. } => "weight",
        }
    }

    /// As a state: `drained`, `disabled`, `weight 5`.
    pub fn state(&self) -> String {
        match self {
            Override::Drain => "drained".into(),
            Override::Disable => "disabled".into(),
            Override::Weight { weight } => format!("weight {weight}"),
        }
    }

    /// Its rank in the precedence (higher: stricter).
    pub fn rank(&self) -> u8 {
        match self {
            Override::Disable => 3,
            Override::Drain => 2,
            Override::Weight { .. } => 1,
        }
    }
}

/// An override's state, or `health-driven` without one.
pub fn state_text(o: Option<Override>) -> String {
    o.map_or_else(|| "health-driven".into(), |o| o.state())
}

/// Who asked, from the socket's peer credentials (`SO_PEERCRED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Peer {
    pub uid: u32,
    /// `None` when the kernel gave none.
    #[serde(default)]
    pub pid: Option<u32>,
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pid {
            Some(p) => write!(f, "uid {} pid {p}", self.uid),
            None => write!(f, "uid {}", self.uid),
        }
    }
}

/// The control socket of a configuration: `<run dir>/ldirectord.<cfgname>.sock`.
pub fn socket_path(run_dir: &std::path::Path, cfgname: &str) -> std::path::PathBuf {
    run_dir.join(format!("ldirectord.{cfgname}.sock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_read_and_write_as_json_objects() {
        for (o, json) in [
            (Override::Drain, r#"{"action":"drain"}"#),
            (Override::Disable, r#"{"action":"disable"}"#),
            (
                Override::Weight { weight: 7 },
                r#"{"action":"weight","weight":7}"#,
            ),
        ] {
            assert_eq!(serde_json::to_string(&o).unwrap(), json);
            assert_eq!(serde_json::from_str::<Override>(json).unwrap(), o);
        }
        assert!(Override::Disable.rank() > Override::Drain.rank());
        assert!(Override::Drain.rank() > Override::Weight { weight: 0 }.rank());
        assert_eq!(state_text(None), "health-driven");
        assert_eq!(state_text(Some(Override::Weight { weight: 5 })), "weight 5");
        let p = Peer {
            uid: 0,
            pid: Some(42),
        };
        assert_eq!(p.to_string(), "uid 0 pid 42");
    }
}
