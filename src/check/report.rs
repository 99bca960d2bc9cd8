//! `ldirectord [configfile] check`: run every configured check once,
//! concurrently, and report per virtual and real. Owns running the one-shot
//! pass and rendering it. Must not touch IPVS, logs or health state: it is
//! a read-only look at what the checks say right now.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::pool::{Plan, PoolOptions, Slots};
use super::probe::{run_with_deadline, Combined, Probe, ProbeKind};
use super::{CheckResult, Target};
use crate::config::{CheckType, Config, VirtualKey};

/// The outcome of one real's check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The check ran: its kind, result and latency.
    Checked {
        kind: ProbeKind,
        result: CheckResult,
        latency: Duration,
    },
    /// `checktype=off`: never checked.
    NotChecked,
}

/// One real of a virtual in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealReport {
    /// `RIP:RPORT`.
    pub real: String,
    pub outcome: Outcome,
}

impl RealReport {
    pub fn is_down(&self) -> bool {
        matches!(self.outcome, Outcome::Checked { result: Err(_), .. })
    }
}

/// One virtual service in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualReport {
    pub key: VirtualKey,
    pub checktype: CheckType,
    pub service: crate::config::Service,
    pub reals: Vec<RealReport>,
}

/// Run every check of `config` once, with the slots of `options` (as the
/// daemon's pool), each under its deadline; targets shared by several
/// virtuals run once.
pub async fn check_once<P: Probe>(
    config: &Config,
    probe: Arc<P>,
    options: &PoolOptions,
) -> Vec<VirtualReport> {
    let plan = Plan::from_config(config);
    let slots = Slots::new(options);
    let mut set = tokio::task::JoinSet::new();
    let mut done: HashMap<Arc<Target>, Outcome> = HashMap::new();
    let record = |done: &mut HashMap<_, _>, joined: Result<_, tokio::task::JoinError>| {
        if let Ok((target, kind, result, latency)) = joined {
            done.insert(
                target,
                Outcome::Checked {
                    kind,
                    result,
                    latency,
                },
            );
        }
    };
    for p in &plan.targets {
        // Collect what has finished: a finished task keeps its memory (as
        // large as a probe's state) until it is joined.
        while let Some(joined) = set.try_join_next() {
            record(&mut done, joined);
        }
        let target = p.target.clone();
        let probe = probe.clone();
        // Combined checks start with a negotiate check, as upstream's first
        // pass does.
        let Some(kind) = Combined::default().next(target.checktype) else {
            continue;
        };
        // Take the slot before spawning: only the checks in flight hold
        // the (large) state of a probe.
        let permit = slots.acquire(false).await;
        let slots = slots.clone();
        set.spawn(async move {
            let started = Instant::now();
            let result = slots
                .run(permit, run_with_deadline(&*probe, &target, kind))
                .await;
            (target, kind, result, started.elapsed())
        });
    }
    while let Some(joined) = set.join_next().await {
        record(&mut done, joined);
    }
    config
        .virtuals
        .iter()
        .map(|v| VirtualReport {
            key: v.key,
            checktype: v.checktype,
            service: v.service,
            reals: v
                .reals
                .iter()
                .map(|r| RealReport {
                    real: r.id(),
                    outcome: done
                        .get(&Target::new(v, r))
                        .cloned()
                        .unwrap_or(Outcome::NotChecked),
                })
                .collect(),
        })
        .collect()
}

/// Whether any checked real is down.
pub fn any_down(reports: &[VirtualReport]) -> bool {
    reports.iter().flat_map(|v| &v.reals).any(|r| r.is_down())
}

/// The text `ldirectord check` prints:
///
/// ```text
/// tcp:192.0.2.10:80 (checktype=negotiate, service=http)
///     192.0.2.21:80 up 3 ms: HTTP/1.1 200 OK
///     192.0.2.22:80 down 0 ms: Connection refused
/// ```
pub fn render(reports: &[VirtualReport]) -> String {
    let mut out = String::new();
    for v in reports {
        let checktype = match v.checktype {
            CheckType::Combined(n) => n.to_string(),
            c => c.as_str().to_string(),
        };
        let _ = writeln!(
            out,
            "{} (checktype={checktype}, service={})",
            v.key.id(),
            v.service
        );
        if v.reals.is_empty() {
            let _ = writeln!(out, "    no real servers");
        }
        for r in &v.reals {
            match &r.outcome {
                Outcome::NotChecked => {
                    let _ = writeln!(out, "    {} not checked (checktype=off)", r.real);
                }
                Outcome::Checked {
                    kind,
                    result,
                    latency,
                } => {
                    let ms = latency.as_millis();
                    let via = if matches!(v.checktype, CheckType::Combined(_)) {
                        format!(" ({})", kind.as_str())
                    } else {
                        String::new()
                    };
                    let _ = match result {
                        Ok(detail) => writeln!(out, "    {} up {ms} ms{via}: {detail}", r.real),
                        Err(e) => writeln!(out, "    {} down {ms} ms{via}: {e}", r.real),
                    };
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::CheckError;

    struct Fake;

    impl Probe for Fake {
        async fn probe(&self, t: &Target, _: ProbeKind) -> CheckResult {
            if t.real_port == 80 {
                Ok("HTTP/1.1 200 OK".into())
            } else {
                Err(CheckError::Refused)
            }
        }
    }

    #[tokio::test]
    async fn report_per_virtual_and_real() {
        let text = "\
virtual=192.0.2.10:80
\treal=192.0.2.21:80 gate
\treal=192.0.2.22:81 gate
\tservice=http
virtual=192.0.2.11:80
\treal=192.0.2.21:80 gate
\tchecktype=off
";
        let cfg = crate::config::test_config(text);
        let reports = check_once(
            &cfg,
            Arc::new(Fake),
            &PoolOptions {
                max_in_flight: 4,
                ..PoolOptions::default()
            },
        )
        .await;
        assert!(any_down(&reports));
        let text = render(&reports);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "tcp:192.0.2.10:80 (checktype=negotiate, service=http)"
        );
        assert!(lines[1].starts_with("    192.0.2.21:80 up "), "{text}");
        assert!(lines[1].ends_with(": HTTP/1.1 200 OK"), "{text}");
        assert!(lines[2].starts_with("    192.0.2.22:81 down "), "{text}");
        assert!(lines[2].ends_with(": Connection refused"), "{text}");
        assert_eq!(lines[3], "tcp:192.0.2.11:80 (checktype=off, service=http)");
        assert_eq!(lines[4], "    192.0.2.21:80 not checked (checktype=off)");
    }
}
