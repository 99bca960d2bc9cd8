//! The lines `ldirectord status` prints under "is running": one per
//! virtual service, one per real (and fallback server), from a
//! [`Snapshot`]. Ages are counted from `now`, when the command runs.

use super::snapshot::{Role, Snapshot};

/// `tcp:VIP:PORT<TAB>in kernel|missing`, then for each real
/// `  RIP:PORT<TAB>state<TAB>weight W<TAB>effective E|out[ (why, …)]<TAB>kernel K|-<TAB>ok: …|failed: …|not checked yet<TAB>AGEs<TAB>LATms`.
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
}
