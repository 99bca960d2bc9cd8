//! The lines `ldirectord status` prints under "is running": one per
//! virtual service, one per real (and fallback server), one per sync
//! daemon, from a [`Snapshot`]. Ages are counted from `now`, when the
//! command runs.

use super::snapshot::{Role, Snapshot};

/// `tcp:VIP:PORT<TAB>in kernel|missing`, then for each real
/// `  RIP:PORT<TAB>state<TAB>weight W<TAB>effective E|out[ (why, …)]<TAB>kernel K|-<TAB>ok: …|failed: …|not checked yet<TAB>AGEs<TAB>LATms`;
/// last, each sync daemon:
/// `syncdaemon<TAB>master sync daemon (mcast=…)<TAB>running|not running: WHY|running, not configured`.
pub fn lines(s: &Snapshot, now: f64) -> Vec<String> {
    let mut out = Vec::new();
    for v in &s.virtuals {
        out.push(format!(
            "{}\t{}",
            v.id,
            if v.in_kernel { "in kernel" } else { "missing" }
        ));
        for r in &v.reals {
            let kw = r
                .kernel_weight
                .map_or_else(|| "-".to_string(), |w| w.to_string());
            let (res, age, lat) = match (&r.last_check, r.role) {
                (Some(c), _) => (
                    match (c.maintenance, c.ok) {
                        (true, _) => c.result.clone(),
                        (false, true) => format!("ok: {}", c.result),
                        (false, false) => format!("failed: {}", c.result),
                    },
                    format!("{}s", (now - c.at).max(0.0) as u64),
                    format!("{}ms", (c.latency * 1000.0) as u64),
                ),
                (None, Role::Fallback) => ("fallback server".into(), "-".into(), "-".into()),
                (None, Role::Real) => ("not checked yet".into(), "-".into(), "-".into()),
            };
            let effective = r
                .effective_weight
                .map_or_else(|| "out".to_string(), |w| w.to_string());
            let why = if r.weight_reasons.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.weight_reasons.join(", "))
            };
            out.push(format!(
                "  {}\t{}\tweight {}\teffective {effective}{why}\tkernel {kw}\t{res}\t{age}\t{lat}",
                r.real,
                r.state.as_str(),
                r.weight
            ));
        }
    }
    for d in &s.sync_daemons {
        let how = match (d.running, d.configured, &d.error) {
            (true, true, _) => "running".to_string(),
            (true, false, _) => "running, not configured".to_string(),
            (false, _, Some(e)) => format!("not running: {e}"),
            (false, _, None) => "not running: not started yet".to_string(),
        };
        out.push(format!("syncdaemon\t{}\t{how}", d.daemon));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::snapshot::*;

    #[test]
    fn the_status_lines_keep_their_columns() {
        let real = |name: &str, state, kw, last| RealStatus {
            real: name.into(),
            role: Role::Real,
            forward: Forward::Masq,
            state,
            weight: 3,
            effective_weight: kw,
            weight_reasons: if kw.is_some() {
                vec![]
            } else {
                vec!["not checked yet".into()]
            },
            operator: None,
            kernel_weight: kw,
            last_check: last,
            since: None,
            transitions: 0,
            ipvs: None,
        };
        let s = Snapshot {
            virtuals: vec![VirtualStatus {
                id: "tcp:192.0.2.10:80".into(),
                service: "192.0.2.10:80".into(),
                protocol: "tcp".into(),
                scheduler: "wrr".into(),
                in_kernel: true,
                fallback_active: false,
                ipvs: None,
                reals: vec![
                    real(
                        "192.0.2.21:80",
                        State::Up,
                        Some(3),
                        Some(LastCheck {
                            ok: true,
                            result: "HTTP/1.1 200 OK".into(),
                            maintenance: false,
                            latency: 0.0042,
                            at: 100.0,
                        }),
                    ),
                    real("192.0.2.22:80", State::Unknown, None, None),
                ],
            }],
            ..Snapshot::default()
        };
        assert_eq!(
            lines(&s, 107.5),
            [
                "tcp:192.0.2.10:80\tin kernel",
                "  192.0.2.21:80\tup\tweight 3\teffective 3\tkernel 3\tok: HTTP/1.1 200 OK\t7s\t4ms",
                "  192.0.2.22:80\tunknown\tweight 3\teffective out (not checked yet)\tkernel -\t\
                 not checked yet\t-\t-",
            ]
        );
    }

    #[test]
    fn each_sync_daemon_is_a_line() {
        let d =
            |role: &str, daemon: &str, running, configured, error: Option<&str>| SyncDaemonStatus {
                role: role.into(),
                daemon: daemon.into(),
                running,
                configured,
                error: error.map(String::from),
            };
        let s = Snapshot {
            sync_daemons: vec![
                d(
                    "master",
                    "master sync daemon (mcast=eth1, syncid=3)",
                    false,
                    true,
                    Some("start master sync daemon (mcast=eth1, syncid=3): No such device (ENODEV)"),
                ),
                d("backup", "backup sync daemon (mcast=eth0, syncid=0, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)", true, false, None),
            ],
            ..Snapshot::default()
        };
        assert_eq!(
            lines(&s, 0.0),
            [
                "syncdaemon\tmaster sync daemon (mcast=eth1, syncid=3)\tnot running: start master \
                 sync daemon (mcast=eth1, syncid=3): No such device (ENODEV)",
                "syncdaemon\tbackup sync daemon (mcast=eth0, syncid=0, maxlen=1472, \
                 group=224.0.0.81, port=8848, ttl=1)\trunning, not configured",
            ]
        );
    }
}
